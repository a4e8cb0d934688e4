//! scripts/measure-*.sh check a result file against their bars
//! (`--from FILE`, no measuring): a missed bar exits 1 with one stderr
//! line naming the check and the file; a met one exits 0.

mod common;

use common::root;
use serde_json::Value;
use std::path::Path;

/// The Cascade Lake fixture with what a real run records for these
/// scripts (pages, reach, the IPI control), then `edit`, written to `dir`.
fn result(dir: &Path, name: &str, edit: impl FnOnce(&mut Value)) -> String {
    let text = std::fs::read_to_string(
        root().join("testdata/results/synthetic-cascadelake-baremetal-pti-off.json"),
    )
    .unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    for e in v["experiments"].as_array_mut().unwrap() {
        let id = e["id"].as_str().unwrap().to_string();
        if let Some(pages) = id.strip_prefix("refill.w") {
            e["params"]["pages"] = pages.parse::<u64>().unwrap().into();
            e["params"]["past_tlb_reach"] = false.into();
        }
        if e["ipi"].is_object() {
            e["ipi"]["false_match_rate"] = 0.001.into();
            for (k, x) in [
                ("calls", 1000.0),
                ("achieved_rate_hz", 200.0),
                ("control_calls", 1000.0),
                ("gaps_unmatched", 0.0),
                ("loc_delta", 0.0),
                ("res_delta", 0.0),
            ] {
                e["params"][k] = x.into();
            }
            e["params"]["row"] = "TLB".into();
        }
    }
    edit(&mut v);
    let p = dir.join(name);
    std::fs::write(&p, v.to_string()).unwrap();
    p.to_string_lossy().into_owned()
}

fn experiment<'a>(v: &'a mut Value, id: &str) -> &'a mut Value {
    v["experiments"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["id"] == id)
        .unwrap()
}

/// Runs `scripts/SCRIPT ARGS`; returns (exit code, stderr).
/// Runs a script: its exit code, stdout and stderr.
fn run(name: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = assert_cmd::Command::new("bash")
        .arg(root().join("scripts").join(name))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn script(name: &str, args: &[&str]) -> (Option<i32>, String) {
    let (code, _, err) = run(name, args);
    (code, err)
}

fn fails(name: &str, args: &[&str], file: &str, why: &str) {
    let (code, err) = script(name, args);
    assert_eq!(code, Some(1), "{name} {args:?}: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("check failed") && lines[0].contains(file) && lines[0].contains(why),
        "{err}"
    );
}

fn passes(name: &str, args: &[&str]) {
    let (code, err) = script(name, args);
    assert_eq!(code, Some(0), "{name} {args:?}: {err}");
}

#[test]
fn measure_ipi_exits_1_on_a_missed_bar() {
    let d = tempfile::tempdir().unwrap();
    let good = result(d.path(), "good.json", |_| {});
    passes("measure-ipi.sh", &["--from", &good]);
    let low = result(d.path(), "low.json", |v| {
        experiment(v, "ipi.user.mprotect")["ipi"]["seen_ratio"] = 0.5.into();
    });
    fails("measure-ipi.sh", &["--from", &low], &low, "seen >= 99%");
    let noisy = result(d.path(), "noisy.json", |v| {
        experiment(v, "ipi.user.mprotect")["ipi"]["false_match_rate"] = 0.2.into();
    });
    fails(
        "measure-ipi.sh",
        &["--from", &noisy],
        &noisy,
        "false_match_rate",
    );
    fails(
        "measure-ipi.sh",
        &["--from", &good, "ipi.user.nothing"],
        &good,
        "did not run",
    );
}

#[test]
fn measure_refill_exits_1_on_a_missed_bar() {
    let d = tempfile::tempdir().unwrap();
    let good = result(d.path(), "good.json", |_| {});
    passes("measure-refill.sh", &["--from", &good]);
    let bad = result(d.path(), "bad.json", |v| {
        experiment(v, "refill.w64")["baseline"]["delta_median"] = (-5.0).into();
    });
    fails(
        "measure-refill.sh",
        &["--from", &bad],
        &bad,
        "bar is missed",
    );
}

#[test]
fn measure_spread_exits_1_above_one_percent() {
    let d = tempfile::tempdir().unwrap();
    let a = result(d.path(), "a.json", |_| {});
    passes("measure-spread.sh", &["--from", &a, &a]);
    let b = result(d.path(), "b.json", |v| {
        let s = &mut experiment(v, "entry.null")["summary"];
        s["median"] = (s["median"].as_f64().unwrap() * 1.05).into();
    });
    fails("measure-spread.sh", &["--from", &a, &b], &b, "above 1%");
}

#[test]
fn measure_ipi_names_the_ipis_beyond_the_calls() {
    let d = tempfile::tempdir().unwrap();
    // What the script prints of a file that meets the bars.
    let stdout = |file: &str| {
        let (code, text, err) = run("measure-ipi.sh", &["--from", file]);
        assert_eq!(code, Some(0), "{text}{err}");
        assert!(
            text.contains("  seen ") && text.contains(" delta "),
            "{text}"
        );
        text
    };
    let beyond = result(d.path(), "beyond.json", |v| {
        let p = &mut experiment(v, "ipi.user.mprotect")["params"];
        p["ipis_beyond_calls"] = 31.into();
        p["calls_long_enough"] = 1006.into();
        p["seen_ratio_of_run_ipis"] = 0.9985.into();
    });
    let text = stdout(&beyond);
    assert!(
        text.contains(
            "31 of them beyond the 1006 calls long enough to have sent one: not the run's; \
             seen 99.8% of the rest"
        ),
        "{text}"
    );
    // None beyond, or a file from before the count: no such line.
    let none = result(d.path(), "none.json", |v| {
        experiment(v, "ipi.user.mprotect")["params"]["ipis_beyond_calls"] = 0.into();
    });
    let old = result(d.path(), "old.json", |v| {
        let p = experiment(v, "ipi.user.mprotect")["params"]
            .as_object_mut()
            .unwrap();
        p.remove("ipis_beyond_calls");
        p.remove("seen_ratio_of_run_ipis");
    });
    for f in [none, old] {
        let text = stdout(&f);
        assert!(!text.contains("beyond the"), "{text}");
    }
}

/// The C loop compare-perf-bench.sh measures against builds warning-free
/// and prints its four figures; its quiet median (blocks chosen by its
/// inline reference) is a figure of the same calls, and 0 without a
/// whole block.
#[test]
fn the_c_loop_builds_and_prints_its_figures() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("loop");
    let out = std::process::Command::new("cc")
        .args(["-O2", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&bin)
        .arg(root().join("scripts/c/syscall-loop.c"))
        .output()
        .expect("running cc (a C compiler is needed for this test)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let figures = |args: &[&str]| -> Vec<f64> {
        let out = std::process::Command::new(&bin)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(|x| x.parse().unwrap())
            .collect()
    };
    // 1,000 regions of 10 calls: four blocks of 250.
    let v = figures(&["1000", "10"]);
    assert_eq!(v.len(), 4, "{v:?}");
    let (median, mean, step, quiet) = (v[0], v[1], v[2], v[3]);
    assert!(median > 0.0 && mean > 0.0 && step > 0.0, "{v:?}");
    assert!(quiet > median / 2.0 && quiet < median * 2.0, "{v:?}");
    // No whole block: no quiet figure.
    assert_eq!(figures(&["100", "10"])[3], 0.0);
    let bad = std::process::Command::new(&bin).arg("0").output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
