//! Tests of the criterion import (kept apart: the module is long enough).

use super::*;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/criterion")
}

/// A fallback environment and timer, told apart from the session's.
fn live() -> (Environment, TimerInfo) {
    let s = read_session(&fixture()).unwrap().unwrap();
    let mut timer = s.timer;
    timer.tsc_hz_source = "fallback".into();
    (s.environment, timer)
}

fn find<'a>(f: &'a ResultFile, id: &str) -> &'a Experiment {
    f.experiments
        .iter()
        .find(|e| e.id.to_string() == id)
        .unwrap_or_else(|| panic!("{id} missing from {:?}", ids(f)))
}

fn ids(f: &ResultFile) -> Vec<String> {
    f.experiments.iter().map(|e| e.id.to_string()).collect()
}

/// A scratch directory with a unique name (tests of one process run
/// as threads, so a name keyed by pid alone would be shared), removed
/// on drop.
struct Scratch(PathBuf, #[allow(dead_code)] tempfile::TempDir);
impl Scratch {
    fn new(name: &str) -> Scratch {
        let d = tempfile::Builder::new()
            .prefix(&format!("entrybench-crit-{name}-"))
            .tempdir()
            .unwrap();
        Scratch(d.path().to_path_buf(), d)
    }
    fn bench(&self, full_id: &str, sample: &str) {
        let d = self.0.join(full_id).join("new");
        std::fs::create_dir_all(&d).unwrap();
        let b = serde_json::json!({ "full_id": full_id, "group_id": "x" });
        std::fs::write(d.join("benchmark.json"), b.to_string()).unwrap();
        std::fs::write(d.join("sample.json"), sample).unwrap();
    }
}

#[test]
fn mapping_table() {
    // The id as written ("" for a shared baseline, which has none).
    let m =
        |id: &str| map_id(id).map(|(r, e, _)| (e.map_or(String::new(), |e| e.to_string()), r.role));
    assert_eq!(m("entry/null"), Some(("entry.null".into(), Role::Measured)));
    assert_eq!(
        m("entry/vdso_clock_gettime").unwrap().0,
        "vdso.clock_gettime"
    );
    assert_eq!(
        m("refill/flushed/64"),
        Some(("refill.w64".into(), Role::Delta))
    );
    assert!(matches!(m("refill/plain/64"), Some((id, Role::Baseline(_))) if id == "refill.w64"));
    assert!(matches!(
        m("entry_flush/nop"),
        Some((_, Role::SharedBaseline(_)))
    ));
    assert_eq!(m("entry_flush/invpcid2").unwrap().0, "entry.flush.invpcid2");
    assert_eq!(
        m("ipi_initiator/munmap").unwrap().0,
        "initiator.user.munmap"
    );
    // Unknown benches, extra or empty segments: not ours.
    for other in [
        "entry/nope",
        "refill/flushed",
        "refill/flushed/",
        "entry/null/x",
        "refill/flushed/x64",
        "refill/flushed/064",
        "ipi_initiator/fork",
        "report_1000_files/plots",
        "",
    ] {
        assert!(m(other).is_none(), "{other}");
    }
    // Imported ids mean what the report thinks they mean.
    use crate::model::ids::{ExperimentId, UserIpi};
    let id = |s: &str| s.parse::<ExperimentId>().unwrap();
    assert_eq!(id("refill.w64"), ExperimentId::Refill(64));
    // The initiator's call is not an IPI figure, a bench no rule maps is
    // no family the tables read.
    assert_eq!(
        id("initiator.user.munmap"),
        ExperimentId::Initiator(UserIpi::Munmap)
    );
    assert_eq!(id("initiator.user.munmap").ipi(), None);
    assert_eq!(
        id("criterion.refill.flushed.256"),
        ExperimentId::Criterion("refill.flushed.256".into())
    );
}

#[test]
fn fixture_dir_is_recognised() {
    assert!(is_criterion_dir(&fixture()));
    // Below or above criterion's own directory is not criterion output:
    // only the layout criterion writes is read, nothing is searched for.
    assert!(!is_criterion_dir(&fixture().join("refill")));
    let s = Scratch::new("deep");
    let deep = s.0.join("a/b/target/criterion/entry/getpid/new");
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::copy(
        fixture().join("entry/getpid/new/benchmark.json"),
        deep.join("benchmark.json"),
    )
    .unwrap();
    assert!(!is_criterion_dir(&s.0));
    assert!(!is_criterion_dir(&s.0.join("a/b")));
    assert!(is_criterion_dir(&s.0.join("a/b/target/criterion")));
    assert!(!is_criterion_dir(
        &fixture().join("entry/null/new/sample.json")
    ));
    assert!(!is_criterion_dir(Path::new("/nonexistent/criterion")));
    let s = Scratch::new("empty");
    assert!(!is_criterion_dir(&s.0));
}

#[test]
fn fixture_imports_as_a_result_file() {
    let (env, timer) = live();
    let f = read_dir(&fixture(), env, timer).unwrap();
    assert_eq!(
        ids(&f),
        [
            "criterion.refill.flushed.256",
            "entry.flush.cr3_flush",
            "entry.flush.invpcid2",
            "entry.getpid",
            "entry.null",
            "initiator.user.membarrier",
            "refill.w16",
        ]
    );
    // The session's facts, not the fallback's.
    assert_eq!(f.options["session"], "recorded by the bench");
    assert_eq!(f.timer.kind, crate::model::schema::TimerKind::Tsc);
    assert_eq!(f.timer.tsc_hz_source, "measured");
    assert_eq!(f.placement.victim_cpu, 1);
    assert!(f.environment.cpu.hypervisor.is_some());
    assert!(f.options["criterion_skipped"].contains("report_1000_files/read+text"));
    assert!(f.experiments.iter().all(|e| e.backend == BACKEND));

    // Per-iteration cycles, one per criterion sample; base/ ignored.
    let null = find(&f, "entry.null");
    assert_eq!(null.summary.n, 12);
    assert!(null.summary.max < 10_000.0, "{:?}", null.summary);
    let saved = read_saved(&fixture().join("entry/null/new")).unwrap();
    let mut want = saved.per_iteration();
    want.sort_unstable();
    assert_eq!(null.samples.to_sorted_samples(), want);
    assert_eq!(null.params["criterion_id"], "entry/null");

    // refill: flushed with plain as baseline, the delta is the headline.
    let r = find(&f, "refill.w16");
    let b = r.baseline.as_ref().expect("plain baseline");
    assert_eq!(r.params["pages"], 16);
    assert_eq!(b.delta_median, r.summary.median - b.summary.median);
    assert_eq!(r.headline_cycles(), b.delta_median);
    // Without its plain bench, 256 is kept under a neutral id.
    let lone = find(&f, "criterion.refill.flushed.256");
    assert!(lone.baseline.is_none());
    assert!(lone
        .notes
        .iter()
        .any(|n| n.contains("not the refill.w256 delta")));

    // entry_flush: every variant against the one nop bench.
    for (v, delta) in [("cr3_flush", 500.0), ("invpcid2", 800.0)] {
        let e = find(&f, &format!("entry.flush.{v}"));
        assert_eq!(e.params["variant"], v);
        assert_eq!(e.headline_cycles(), delta, "{v}");
        assert_eq!(e.params["criterion_baseline_id"], "entry_flush/nop");
    }
    // The result survives the file format's own checks.
    let text = serde_json::to_string(&f).unwrap();
    crate::model::load::parse_result(&text).unwrap();
}

#[test]
fn without_a_session_the_fallback_facts_are_used() {
    let s = Scratch::new("nosession");
    s.bench(
        "entry/getppid",
        r#"{"sampling_mode":"Flat","iters":[10,10,20],"times":[2600,2610,5300]}"#,
    );
    let (env, timer) = live();
    let f = read_dir(&s.0, env.clone(), timer.clone()).unwrap();
    assert_eq!((&f.environment, &f.timer), (&env, &timer));
    assert!(f.placement.note.contains("unknown"));
    assert!(f.options["session"].contains(SESSION_FILE));
    let e = find(&f, "entry.getppid");
    assert_eq!(e.samples.to_sorted_samples(), vec![260, 261, 265]);
    assert_eq!(e.params["sampling_mode"], "Flat");
    assert_eq!(e.params["iterations"], 40);
}

#[test]
fn session_round_trips() {
    let s = Scratch::new("session");
    assert_eq!(read_session(&s.0).unwrap(), None);
    let want = read_session(&fixture()).unwrap().unwrap();
    write_session(&s.0.join("sub"), &want).unwrap();
    assert_eq!(read_session(&s.0.join("sub")).unwrap(), Some(want));
    std::fs::write(s.0.join(SESSION_FILE), "{").unwrap();
    let e = format!("{:#}", read_session(&s.0).unwrap_err());
    assert!(e.contains(SESSION_FILE), "{e}");
}

#[test]
fn bad_input_is_an_error_naming_the_file() {
    let (env, timer) = live();
    for (name, sample, want) in [
        (
            "len",
            r#"{"iters":[1,2],"times":[5]}"#,
            "2 iteration counts but 1 times",
        ),
        ("empty", r#"{"iters":[],"times":[]}"#, "no samples"),
        (
            "zero",
            r#"{"iters":[0],"times":[5]}"#,
            "iteration count of 0",
        ),
        ("neg", r#"{"iters":[1],"times":[-5]}"#, "negative time"),
        (
            "str",
            r#"{"iters":["a"],"times":[5]}"#,
            "invalid type: string \"a\", expected f64",
        ),
        ("huge", r#"{"iters":[1],"times":[1e400]}"#, "out of range"),
        ("missing", r#"{"iters":[1]}"#, "missing field `times`"),
        ("json", r#"{"iters":[1],"#, "not valid JSON"),
    ] {
        let s = Scratch::new(name);
        s.bench("entry/null", sample);
        let e = format!(
            "{:#}",
            read_dir(&s.0, env.clone(), timer.clone()).unwrap_err()
        );
        assert!(e.contains(want) && e.contains("sample.json"), "{name}: {e}");
    }
    // Parsable but absurd: the result file rules, naming the directory.
    let s = Scratch::new("absurd");
    s.bench("entry/null", r#"{"iters":[1],"times":[1e300]}"#);
    let e = format!(
        "{:#}",
        read_dir(&s.0, env.clone(), timer.clone()).unwrap_err()
    );
    assert!(
        e.contains("beyond any possible measurement") && e.contains(&*s.0.to_string_lossy()),
        "{e}"
    );
    // Nothing of ours: a clear error, not an empty report.
    let s = Scratch::new("foreign");
    s.bench("other/bench", r#"{"iters":[1],"times":[5]}"#);
    let e = read_dir(&s.0, env.clone(), timer.clone())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no entrybench benchmark") && e.contains("other/bench"),
        "{e}"
    );
    // A benchmark.json without an id is someone else's: listed, skipped.
    s.bench("entry/getpid", r#"{"iters":[1],"times":[200]}"#);
    let d = s.0.join("broken/new");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("benchmark.json"), "{}").unwrap();
    let f = read_dir(&s.0, env, timer).unwrap();
    assert_eq!(ids(&f), ["entry.getpid"]);
    assert!(f.options["criterion_skipped"].contains("broken"));
}
