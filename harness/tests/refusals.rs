//! What entrybench refuses, from the outside: every case exits 2 with one
//! stderr line naming the file, and leaves every file as it was (README,
//! "What entrybench refuses").

mod common;

use common::{fails_naming, root, stdout_of};
use serde_json::Value;
use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// What a directory holds, to show a refusal changed nothing: each
/// entry's type, device number and content.
fn snapshot(dir: &Path) -> BTreeMap<String, (String, u64, Vec<u8>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = std::fs::symlink_metadata(e.path()).unwrap();
            let t = m.file_type();
            let (kind, content) = if t.is_symlink() {
                let to = std::fs::read_link(e.path()).unwrap();
                ("link", to.to_string_lossy().into_owned().into_bytes())
            } else if t.is_file() {
                ("file", std::fs::read(e.path()).unwrap())
            } else if t.is_dir() {
                ("dir", Vec::new())
            } else if t.is_char_device() {
                ("char device", Vec::new())
            } else if t.is_fifo() {
                ("fifo", Vec::new())
            } else {
                ("other", Vec::new())
            };
            (
                e.file_name().to_string_lossy().into_owned(),
                (kind.to_string(), m.rdev(), content),
            )
        })
        .collect()
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `run --out OUT` (nothing is measured before the refusal): one line
/// naming `name`, and `dir` exactly as it was.
fn run_refused(dir: &Path, out: &Path, name: &str) -> String {
    let before = snapshot(dir);
    let line = fails_naming(
        &["run", "--quick", "--only", "entry.null", "--out", &s(out)],
        name,
    );
    assert_eq!(snapshot(dir), before, "{line}");
    line
}

#[test]
fn run_refuses_outputs_it_must_not_replace() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // A character device like /dev/null (major 1, minor 3): made here with
    // mknod as root; otherwise /dev/null itself, which a user cannot
    // replace anyway but must be refused all the same.
    let dev = dir.join("null");
    let made = nix::sys::stat::mknod(
        &dev,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    )
    .is_ok();
    let dev = if made {
        dev
    } else {
        PathBuf::from("/dev/null")
    };
    let before = std::fs::symlink_metadata(&dev).unwrap();
    let line = run_refused(dir, &dev, &s(&dev));
    assert!(line.contains("character device"), "{line}");
    let after = std::fs::symlink_metadata(&dev).unwrap();
    assert!(after.file_type().is_char_device());
    assert_eq!((after.rdev(), after.ino()), (before.rdev(), before.ino()));
    assert!(!dev.with_extension("txt").exists(), "no .txt beside it");

    // A link (to a file that must stay as it is), the link as the .txt,
    // a directory, a FIFO as the .txt, the report path itself, a missing
    // directory, a file where a directory should be.
    std::fs::write(dir.join("mine.json"), "mine").unwrap();
    std::os::unix::fs::symlink(dir.join("mine.json"), dir.join("link.json")).unwrap();
    std::os::unix::fs::symlink(dir.join("mine.json"), dir.join("l2.txt")).unwrap();
    std::fs::create_dir(dir.join("d.json")).unwrap();
    nix::unistd::mkfifo(&dir.join("f.txt"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    for (out, name, why) in [
        ("link.json", "link.json", "symbolic link"),
        ("l2.json", "l2.txt", "symbolic link"),
        ("d.json", "d.json", "a directory"),
        ("f.json", "f.txt", "a FIFO"),
        ("rep.txt", "rep.txt", "would replace the result"),
        ("no/such/r.json", "no/such/r.json", "no directory"),
        ("mine.json/r.json", "mine.json/r.json", "ot a directory"),
    ] {
        let line = run_refused(dir, &dir.join(out), name);
        assert!(line.contains(why), "{out}: {line}");
    }
}

/// An existing result file, or its .txt report, is the user's: `run`
/// refuses it before measuring (one line naming it, exit 2, the file as
/// it was) unless `--overwrite` says to replace it.
#[test]
fn run_refuses_an_existing_result_or_report_unless_overwrite() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let out = dir.join("r.json");
    std::fs::write(&out, "my earlier result").unwrap();
    let line = run_refused(dir, &out, "r.json");
    assert!(
        line.contains("will not replace") && line.contains("--overwrite"),
        "{line}"
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "my earlier result");
    // The report path alone existing is refused the same way.
    std::fs::write(dir.join("t.txt"), "my notes").unwrap();
    let line = run_refused(dir, &dir.join("t.json"), "t.txt");
    assert!(line.contains("it exists"), "{line}");
    assert!(!dir.join("t.json").exists());
    // With --overwrite the run replaces both (its own writes of the same
    // run always do).
    let text = stdout_of(&[
        "run",
        "--quick",
        "--only",
        "timer.overhead",
        "--overwrite",
        "--out",
        &s(&out),
    ]);
    assert!(text.contains("wrote"), "{text}");
    let file = report::model::load::read_result(&out).unwrap();
    assert_eq!(file.experiments.len(), 1);
    assert!(dir.join("r.txt").exists());
}

/// A write that fails half-way (here: the file size limit) names the
/// file, leaves the earlier file as it was and no temporary file.
#[test]
fn a_failed_write_names_the_file_and_leaves_no_temporary() {
    use std::os::unix::process::CommandExt;
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("r.json");
    std::fs::write(&out, "the earlier result").unwrap();
    let before = snapshot(d.path());
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("entrybench"));
    cmd.args([
        "run",
        "--quick",
        "--only",
        "timer.overhead",
        "--overwrite",
        "--out",
    ])
    .arg(&out);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            // Past 2 KiB a write fails with EFBIG instead of killing.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: 2048,
                rlim_max: 2048,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let last = err.lines().last().unwrap_or("");
    assert!(
        last.starts_with("entrybench: error: cannot write ") && last.contains(&s(&out)),
        "{err}"
    );
    assert!(last.contains("too large"), "{last}");
    assert_eq!(snapshot(d.path()), before);
}

/// A fixture result file as JSON, changed by `edit`, written to `dir`.
fn edited(dir: &Path, name: &str, edit: impl FnOnce(&mut Value)) -> String {
    let text = std::fs::read_to_string(root().join("testdata/results/synthetic-tcg-partial.json"))
        .unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    edit(&mut v);
    let p = dir.join(name);
    std::fs::write(&p, v.to_string()).unwrap();
    s(&p)
}

#[test]
fn impossible_figures_are_refused_on_load() {
    let d = tempfile::tempdir().unwrap();
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "huge.json",
            Box::new(|v| v["experiments"][0]["summary"]["max"] = 1e308.into()),
            // In exponent form, not 309 digits.
            "max is 1e308, beyond any possible measurement",
        ),
        (
            "negative.json",
            Box::new(|v| {
                let s = &mut v["experiments"][0]["summary"];
                s["min"] = (-2e6).into();
                s["median"] = (-1e6).into();
            }),
            "below what a measurement can be",
        ),
        (
            "n0.json",
            Box::new(|v| v["experiments"][0]["summary"]["n"] = 0.into()),
            "n is 0 but the histogram holds",
        ),
        (
            "overflow.json",
            Box::new(|v| {
                let c = &mut v["experiments"][0]["samples"]["counts"];
                c[0] = u64::MAX.into();
                c[1] = 1.into();
            }),
            "counts overflow",
        ),
        (
            "dup.json",
            Box::new(|v| {
                let first = v["experiments"][0].clone();
                v["experiments"].as_array_mut().unwrap().push(first);
            }),
            "appears twice",
        ),
        (
            "order.json",
            Box::new(|v| {
                let s = &mut v["experiments"][0]["summary"];
                s["min"] = (s["median"].as_f64().unwrap() + 1.0).into();
            }),
            "is above its median",
        ),
        (
            "ci.json",
            Box::new(|v| {
                let s = &mut v["experiments"][0]["summary"];
                let m = s["median"].as_f64().unwrap();
                s["median_ci95"] = serde_json::json!([m + 5.0, m + 10.0]);
            }),
            "outside its own 95% CI",
        ),
    ];
    for (name, edit, want) in cases {
        let p = edited(d.path(), name, |v| edit(v));
        let before = snapshot(d.path());
        let line = fails_naming(&["report", &p], name);
        assert!(line.contains(want), "{name}: {line}");
        fails_naming(&["compare", &p, &p], name);
        assert_eq!(snapshot(d.path()), before);
    }
}

#[test]
fn hidden_characters_html_and_formulas_do_not_pass_through() {
    let d = tempfile::tempdir().unwrap();
    let p = edited(d.path(), "evil.json", |v| {
        v["host"] = "box\u{1b}]0;pwned\u{7}\u{1b}[2J".into();
        v["environment"]["cpu"]["brand"] =
            "=HYPERLINK(\"http://x\") <img src=x onerror=alert(1)>\u{1b}[31m".into();
        v["experiments"][0]["notes"] = serde_json::json!(["<script>alert(1)</script>\u{9b}"]);
        v["experiments"][0]["id"] = "@SUM(1+1)*cmd|' /C calc'!A0".into();
        // A whole escape sequence inside an id: nothing of it may show.
        let id = v["experiments"][1]["id"].as_str().unwrap().to_string();
        let (family, rest) = id.split_once('.').unwrap();
        v["experiments"][1]["id"] = format!("{family}.\u{1b}[2J{rest}").into();
    });
    for fmt in ["--markdown", "--csv", "--machines-only"] {
        let out = stdout_of(&["report", fmt, &p]);
        assert!(
            !out.contains(['\u{1b}', '\u{7}', '\u{9b}']),
            "{fmt}: control characters printed: {out:?}"
        );
    }
    let text = stdout_of(&["report", &p]);
    assert!(
        text.contains("=HYPERLINK") && !text.contains('\u{1b}'),
        "{text}"
    );
    for fmt in ["--markdown", "--csv"] {
        let out = text.clone() + &stdout_of(&["report", fmt, &p]);
        assert!(
            !out.contains("[2J") && !out.contains("pwned") && !out.contains("[31m"),
            "{fmt}: escape remnants shown: {out}"
        );
    }
    let md = stdout_of(&["report", "--markdown", &p]);
    assert!(md.contains("&lt;img"), "{md}");
    assert!(!md.contains("<img") && !md.contains("<script"), "{md}");
    let csv = stdout_of(&["report", "--csv", &p]);
    assert!(csv.contains(",'@SUM(1+1)"), "{csv}");
    for cell in csv.lines().flat_map(|l| l.split(',')) {
        let cell = cell.trim_start_matches('"');
        assert!(
            !cell.starts_with(['=', '@'])
                && (!cell.starts_with(['+', '-']) || cell.parse::<f64>().is_ok()),
            "a formula cell: {cell}\n{csv}"
        );
    }
}

#[test]
fn only_regular_files_of_bounded_size_are_read() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("r.json");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    // Sparse: 65 MiB long, nothing written.
    let big = d.path().join("big.json");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(65 << 20)
        .unwrap();
    let profile = s(&root().join("testdata/profiles/feed-handler.toml"));
    let result = s(&root().join("testdata/results/synthetic-tcg-partial.json"));
    let before = snapshot(d.path());
    for (args, name, why) in [
        (vec!["report", "/dev/zero"], "/dev/zero", "character device"),
        (vec!["report", &s(&fifo)], "r.json", "a FIFO"),
        (vec!["report", &s(&big)], "big.json", "more than the 64 MiB"),
        (
            vec!["compare", &result, "/dev/zero"],
            "/dev/zero",
            "character device",
        ),
        (
            vec!["size", "--profile", "/dev/zero", &result],
            "/dev/zero",
            "character device",
        ),
        (
            vec![
                "size",
                "--profile",
                &profile,
                &result,
                "--cpuid-dump",
                "/dev/zero",
            ],
            "/dev/zero",
            "character device",
        ),
        (
            vec!["detect", "--cpuid-dump", &s(&big)],
            "big.json",
            "more than the 64 MiB",
        ),
    ] {
        let line = fails_naming(&args, name);
        assert!(line.contains(why), "{args:?}: {line}");
    }
    assert_eq!(snapshot(d.path()), before);
}

/// Criterion output is read from the directory `cargo bench` writes it
/// into, never found by searching a directory the user named.
#[test]
fn criterion_output_is_not_searched_for() {
    let d = tempfile::tempdir().unwrap();
    let deep = d.path().join("a/b/c/target/criterion");
    let fixture = root().join("testdata/criterion");
    for sub in ["entry/null/new", "entry/getpid/new"] {
        std::fs::create_dir_all(deep.join(sub)).unwrap();
        for f in ["benchmark.json", "sample.json"] {
            std::fs::copy(fixture.join(sub).join(f), deep.join(sub).join(f)).unwrap();
        }
    }
    let line = fails_naming(&["report", &s(d.path())], &s(d.path()));
    assert!(
        line.contains("neither a result file nor criterion output"),
        "{line}"
    );
    fails_naming(&["report", &s(&deep.join("entry"))], "entry");
    let text = stdout_of(&["report", &s(&deep)]);
    assert!(text.contains("entry.null"), "{text}");
}

/// A dump cut off after leaf 6 (leaf 0 says 0x20): the missing leaf is
/// named, not decoded as "no INVPCID, no RDTSCP".
#[test]
fn a_truncated_cpuid_dump_is_refused() {
    let text = std::fs::read_to_string(
        root().join("testdata/cpuid-dumps/GenuineIntel00806F8_SapphireRapids_05_CPUID.txt"),
    )
    .unwrap();
    let cut: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("CPUID 00000007"))
        .collect();
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("cut.txt");
    std::fs::write(&p, cut.join("\n")).unwrap();
    let line = fails_naming(&["detect", "--cpuid-dump", &s(&p)], "cut.txt");
    assert!(line.contains("leaf 0x00000007 is missing"), "{line}");
    let profile = s(&root().join("testdata/profiles/feed-handler.toml"));
    let result = s(&root().join("testdata/results/synthetic-tcg-partial.json"));
    let line = fails_naming(
        &[
            "size",
            "--profile",
            &profile,
            &result,
            "--cpuid-dump",
            &s(&p),
        ],
        "cut.txt",
    );
    assert!(line.contains("leaf 0x00000007"), "{line}");
}

/// Every committed dump is complete by the same rule.
#[test]
fn every_committed_dump_is_complete() {
    let mut n = 0;
    for dir in ["cpuid-dumps", "cpuid-masked", "cpuid-r"] {
        for e in std::fs::read_dir(root().join("testdata").join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "txt") {
                harness::cpu::read_dump(&p).unwrap_or_else(|e| panic!("{e:#}"));
                n += 1;
            }
        }
    }
    assert!(n >= 23, "{n} dumps");
}

#[test]
fn run_arguments_say_what_is_wrong() {
    let line = common::fails_with_one_line(&["run", "--rate", "-5"]);
    assert!(line.contains("--rate -5: must be above 0"), "{line}");
    let line = common::fails_with_one_line(&["run", "--duration", "-1"]);
    assert!(line.contains("--duration -1"), "{line}");
    if !Path::new("/dev/entrybench").exists() {
        let line = common::fails_with_one_line(&["run", "--only", "flush.kernel.*"]);
        assert!(
            line.contains("module is not loaded") && line.contains("entrybench kmod load"),
            "{line}"
        );
    }
}
