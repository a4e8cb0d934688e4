//! `entrybench report|compare|size` from the command line: output shape on
//! the synthetic fixtures and the one-line error / exit 2 on bad input.

mod common;

use common::{entrybench as eb, fails_naming, fails_with_one_line, root, stdout_of};

fn fixture(name: &str) -> String {
    root()
        .join("testdata/results")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn profile(name: &str) -> String {
    root()
        .join("testdata/profiles")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn report_text_fits_72_columns() {
    let out = eb()
        .args([
            "report",
            &fixture("synthetic-genoa-kvm.json"),
            &fixture("synthetic-skylake-pti.json"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().all(|l| l.chars().count() <= 72));
    assert_eq!(text.matches("\n== ").count(), 2);
    assert!(text.contains("entry.getpid"));
}

/// Several machines: the report starts with the mailing-list table, one
/// row per machine; `--published` adds the v7 cover's rows, labelled.
#[test]
fn report_starts_with_one_row_per_machine() {
    let files = [
        fixture("synthetic-genoa-kvm.json"),
        fixture("synthetic-skylake-pti.json"),
        fixture("synthetic-cascadelake-baremetal-pti-off.json"),
    ];
    let mut args = vec!["report".to_string()];
    args.extend(files.iter().cloned());
    let text = stdout_of(&args);
    assert!(text.lines().all(|l| l.chars().count() <= 72), "{text}");
    let table: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("CPU model"))
        .take_while(|l| !l.is_empty() && !l.starts_with('*'))
        .collect();
    assert!(
        table[0].contains("kernel")
            && table[0].contains("PTI")
            && table[0].contains("getpid ns")
            && table[0].contains("+flush ns")
            && table[0].contains("IPI us"),
        "{text}"
    );
    // Header, rule, one row per machine; before the first machine block.
    assert_eq!(table.len(), 2 + 3, "{table:?}");
    assert!(text.find("CPU model").unwrap() < text.find("\n== ").unwrap());
    let cascade = table.iter().find(|l| l.contains("Cascade Lake")).unwrap();
    assert!(cascade.contains("no-run"), "{cascade}");
    let skylake = table.iter().find(|l| l.contains("Skylake")).unwrap();
    assert!(
        skylake.contains(" on ") && skylake.contains('+'),
        "{skylake}"
    );
    assert!(!text.contains("[published]"), "{text}");

    args.push("--published".into());
    let text = stdout_of(&args);
    assert!(text.lines().all(|l| l.chars().count() <= 72), "{text}");
    let e5 = text
        .lines()
        .find(|l| l.starts_with("Xeon E5-2699 [published]"))
        .expect("published row");
    assert!(e5.contains("770") && e5.contains("+570"), "{e5}");
    assert!(text.contains("20251114150133.1056710-1-vschneid@redhat.com"));
}

/// The committed results: the report stays within 72 columns and writes
/// its plots. No break-even plot: no machine there has a flush figure,
/// measured or published for its core (a figure of another core is not
/// used in its place), so nothing to cross the IPI line.
#[test]
fn report_over_committed_results() {
    let results = common::committed_results();
    let dir = tempfile::tempdir().unwrap();
    let plots = dir.path().join("plots");
    let mut args = vec!["report".to_string(), "--published".into()];
    args.extend(results);
    args.extend(["--plots".to_string(), plots.to_string_lossy().into_owned()]);
    let text = stdout_of(&args);
    for l in text.lines() {
        assert!(l.chars().count() <= 72, "too wide: {l}");
    }
    let kinds: std::collections::BTreeSet<String> = std::fs::read_dir(&plots)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .map(|n| {
            n.trim_end_matches(".svg")
                .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-')
                .to_string()
        })
        .collect();
    assert!(kinds.len() >= 3, "{kinds:?}");
    assert!(
        !kinds.contains("break-even") && !kinds.contains("overhead-vs-rate"),
        "{kinds:?}"
    );
}

#[test]
fn report_markdown_csv_and_plots() {
    let f = fixture("synthetic-skylake-pti.json");
    let md = eb().args(["report", "--markdown", &f]).output().unwrap();
    assert!(md.status.success());
    assert!(String::from_utf8_lossy(&md.stdout).contains("| experiment | cycles |"));
    let csv = eb().args(["report", "--csv", &f]).output().unwrap();
    assert!(csv.status.success());
    assert!(String::from_utf8_lossy(&csv.stdout).starts_with("cpu,kernel,host,pti,experiment,"));
    let dir = tempfile::tempdir().unwrap();
    let plots = dir.path().join("plots");
    let out = eb()
        .args(["report", &f, "--plots", plots.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in [
        "entry-cost.svg",
        "ipi-cdf.svg",
        "refill.svg",
        "break-even.svg",
    ] {
        let svg = std::fs::read_to_string(plots.join(name)).unwrap();
        assert!(svg.contains("<svg") && svg.contains("<text"), "{name}");
    }
}

/// `size` of the feed-handler profile for a committed CPUID dump against
/// the Genoa fixture: (stdout, stdout with white space folded).
fn size_with_dump(dump: &str, extra: &[&str]) -> (String, String) {
    common::size_of_dump(dump, &[fixture("synthetic-genoa-kvm.json")], extra)
}

#[test]
fn compare_and_size_run() {
    let out = eb()
        .args([
            "compare",
            &fixture("synthetic-skylake-pti.json"),
            &fixture("synthetic-skylake-pti-coalesce.json"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("entry.getpid") && l.contains(" -> ")),
        "{text}"
    );

    // A real Cascade Lake dump (no MSR lines) against results of another
    // vendor: only published figures (the v7 cover's Gold 6248 row), and
    // the rules still say the posted series defers nothing with PTI off
    // (Cascade Lake parts report RDCL_NO, so no PTI by default).
    let (_, flat) = size_with_dump(
        "GenuineIntel0050656_CascadeLakeSP_CPUID.txt",
        &["--explain"],
    );
    assert!(!flat.contains("nothing to estimate from"), "{flat}");
    assert!(flat.contains("Nothing measured on this model"), "{flat}");
    assert!(flat.contains("published (v7 cover"), "{flat}");
    assert!(
        flat.contains("making sure the flush was executed")
            || flat.contains("the author made sure the flush was executed"),
        "{flat}"
    );
    assert!(
        flat.contains("With PTI off the posted series defers no TLB-flush IPI"),
        "{flat}"
    );

    let (text, flat) = size_with_dump("AuthenticAMD0A00F11_K19_Milan_02_CPUID.txt", &["--explain"]);
    assert!(text.lines().all(|l| l.chars().count() <= 72));
    // Zen 3 is not Zen 4: no like model, so the published Milan figures
    // and the kernel's rules answer.
    assert!(flat.contains("Nothing measured on this model"), "{text}");
    assert!(
        flat.contains("INVLPGB: not known here: runs with Linux >= 6.15 and PTI off"),
        "{text}"
    );
    assert!(flat.contains("published (commit 4afeb0ed1753"), "{text}");
    assert!(
        flat.contains("Zen 3 (EPYC 7763 64-Core) (CPUID dump"),
        "{text}"
    );
    assert!(text.contains("Sizing equations"));
}

#[test]
fn non_result_json_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "package.json",
        r#"{"name": "left-pad", "version": "1.0.0"}"#,
    );
    fails_naming(&["report", &p], "not an entrybench result file");
    let t = write(&dir, "trunc.json", r#"{"schema_version": 1, "tool": "entr"#);
    fails_naming(&["report", &t], "truncated JSON");
    fails_naming(
        &["compare", &p, &fixture("synthetic-genoa-kvm.json")],
        "package.json",
    );
    fails_naming(
        &["report", "/nonexistent/result.json"],
        "cannot read /nonexistent/result.json",
    );
}

#[test]
fn other_schema_versions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let v3 = std::fs::read_to_string(fixture("synthetic-tcg-partial.json")).unwrap();
    let v4 = write(
        &dir,
        "v4.json",
        &v3.replacen("\"schema_version\":3", "\"schema_version\":4", 1),
    );
    fails_naming(
        &["report", &fixture("synthetic-tcg-partial.json"), &v4],
        "schema version 4 is not supported",
    );
    fails_naming(
        &["compare", &fixture("synthetic-tcg-partial.json"), &v4],
        "v4.json",
    );
    fails_naming(
        &["size", "--profile", &profile("feed-handler.toml"), &v4],
        "schema version 4",
    );
}

#[test]
fn version_1_files_load_and_are_labelled_old_method() {
    let dir = tempfile::tempdir().unwrap();
    let v3 = std::fs::read_to_string(fixture("synthetic-tcg-partial.json")).unwrap();
    let v1 = write(
        &dir,
        "v1.json",
        &v3.replacen("\"schema_version\":3", "\"schema_version\":1", 1),
    );
    let out = eb().args(["report", &v1]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("version-1 method"), "{text}");
    // Beside a version-2 machine, the fleet row of the old file is marked.
    let skylake = fixture("synthetic-skylake-pti.json");
    let text = stdout_of(&["report", v1.as_str(), skylake.as_str()]);
    let row = text
        .lines()
        .find(|l| l.starts_with("AMD 0x6/0x6"))
        .unwrap_or_else(|| panic!("no fleet row of the TCG file: {text}"));
    assert!(row.contains("*^"), "{row}");
    assert!(!text
        .lines()
        .any(|l| l.contains("Skylake") && l.contains("^")));
    let out = eb().args(["compare", &v1, &v1]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("version-1 file"));
}

#[test]
fn bad_profiles_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(profile("feed-handler.toml")).unwrap();
    let r = fixture("synthetic-skylake-pti.json");
    // (file name, the good line, what replaces it, the one-line error)
    let cases = [
        (
            "neg.toml",
            "flush_events_per_sec = 1.0",
            "flush_events_per_sec = -3",
            "`flush_events_per_sec` must not be negative",
        ),
        (
            "missing.toml",
            "syscalls_per_sec = 20000",
            "",
            "`syscalls_per_sec` is missing",
        ),
        (
            "nan.toml",
            "latency_budget_us = 5",
            "latency_budget_us = nan",
            "`latency_budget_us` must be a finite number",
        ),
        (
            "pages.toml",
            "working_set_pages = 128",
            "working_set_pages = 1e12",
            "`working_set_pages` is 1e12, more than 2^35",
        ),
        (
            "rate.toml",
            "syscalls_per_sec = 20000",
            "syscalls_per_sec = 1e9",
            "`syscalls_per_sec` is 1e9, more than 1e8",
        ),
    ];
    for (name, line, replacement, error) in cases {
        assert!(good.contains(line), "{line:?} not in the profile");
        let bad = write(&dir, name, &good.replace(line, replacement));
        let said = fails_naming(&["size", "--profile", &bad, &r], error);
        assert!(said.contains(name), "{said}");
    }
    let garbage = write(&dir, "garbage.toml", "syscalls_per_sec = = 3\n[[");
    fails_naming(&["size", "--profile", &garbage, &r], "invalid TOML");
}

#[test]
fn machines_only_prints_the_table_and_no_blocks() {
    let a = fixture("synthetic-skylake-pti.json");
    let b = fixture("synthetic-genoa-kvm.json");
    let text = stdout_of(&["report", "--machines-only", a.as_str(), b.as_str()]);
    assert!(text.contains("CPU model"), "{text}");
    assert!(text.contains("Skylake"), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("== ")), "{text}");
    assert!(!text.contains("Kernel entry cost"), "{text}");
    let md = stdout_of(&["report", "--machines-only", "--markdown", a.as_str()]);
    assert!(md.contains("| CPU model"), "{md}");
    assert!(!md.contains("\n## "), "{md}");
    fails_with_one_line(&["report", "--machines-only", "--csv", a.as_str()]);
}
