//! `cargo bench` results as a result file: reads criterion's saved samples
//! (`<dir>/<group>/<bench>[/<param>]/new/{benchmark,sample}.json`) and
//! turns the entrybench benches among them into `Experiment`s, so
//! `entrybench report target/criterion` and `entrybench compare
//! target/criterion results/X.json` work like on a `run` file.
//!
//! What is imported: criterion stores, per sample, `iters` iterations and
//! their total `times`. The benches (`harness/benches/cycles.rs`) measure
//! in cycles of the entrybench timer with its own cost removed, so one
//! sample's per-iteration figure is `times / iters` cycles, rounded to
//! the cycle. Each such sample is a *mean over many operations*: medians
//! compare with `entrybench run`, tails and spread do not (they are much
//! narrower here).
//!
//! Which criterion id becomes which entrybench id is `RULES`, the one
//! table of it. Benches no rule names (other crates' benches share the
//! directory) are listed in `options["criterion_skipped"]`, not read.
//!
//! The bench session also writes `SESSION_FILE` beside the samples: the
//! environment, placement and timer it measured with (the clock may have
//! been rdpmc core cycles). Without it, the caller's live facts are used
//! and the placement is marked unknown.

use crate::schema::{
    Baseline, Environment, Experiment, Histogram, Placement, ResultFile, TimerInfo, SCHEMA_VERSION,
};
use crate::stats;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `Experiment::backend` of imported experiments.
pub const BACKEND: &str = "criterion";
/// Written by the bench session into the criterion directory.
pub const SESSION_FILE: &str = "entrybench-session.json";
/// How deep below the given directory benchmark directories are looked
/// for: `target/` -> criterion -> group -> function -> param -> new.
const MAX_DEPTH: usize = 6;

/// What one criterion benchmark contributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The experiment's own samples.
    Measured,
    /// The experiment's own samples, whose figure is a delta against a
    /// `Baseline`/`SharedBaseline` bench.
    Delta,
    /// The reference run of the experiment with the same id (a delta).
    Baseline(&'static str),
    /// The reference run of every measured experiment whose id starts
    /// with the rule's `id` (the nop ioctl of all entry.flush variants).
    SharedBaseline(&'static str),
}

/// One row of the mapping. In `bench` and `id`, `*` stands for one path
/// segment of the criterion id and is copied into the entrybench id.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub bench: &'static str,
    pub id: &'static str,
    pub role: Role,
    /// Name of the parameter `*` is (recorded in `params`), if any.
    pub param: Option<&'static str>,
    /// How the bench measures, for `params["criterion_bench"]`.
    pub what: &'static str,
}

/// criterion id -> entrybench id. First match wins.
pub const RULES: &[Rule] = &[
    Rule {
        bench: "entry/null",
        id: "entry.null",
        role: Role::Measured,
        param: None,
        what: "raw syscall(-1) back to back, one timed region per criterion sample",
    },
    Rule {
        bench: "entry/getpid",
        id: "entry.getpid",
        role: Role::Measured,
        param: None,
        what: "raw getpid back to back, one timed region per criterion sample",
    },
    Rule {
        bench: "entry/getppid",
        id: "entry.getppid",
        role: Role::Measured,
        param: None,
        what: "raw getppid back to back, one timed region per criterion sample",
    },
    Rule {
        bench: "entry/vdso_clock_gettime",
        id: "vdso.clock_gettime",
        role: Role::Measured,
        param: None,
        what: "clock_gettime(CLOCK_MONOTONIC) back to back, one timed region per criterion sample",
    },
    Rule {
        bench: "refill/flushed/*",
        id: "refill.w*",
        role: Role::Delta,
        param: Some("pages"),
        what: "walk of N pages right after a flushing mprotect, one timed region per walk \
               (workloads::walk::refill_pairs, as entrybench run)",
    },
    Rule {
        bench: "refill/plain/*",
        id: "refill.w*",
        role: Role::Baseline("walk after a kernel entry without flush"),
        param: Some("pages"),
        what: "walk of N pages right after a non-flushing mprotect, one timed region per walk",
    },
    Rule {
        bench: "entry_flush/nop",
        id: "entry.flush.",
        role: Role::SharedBaseline("the same ENTRY_FLUSH ioctl doing nop"),
        param: None,
        what: "ENTRY_FLUSH ioctl with nop back to back, one timed region per criterion sample",
    },
    Rule {
        bench: "entry_flush/*",
        id: "entry.flush.*",
        role: Role::Delta,
        param: Some("variant"),
        what:
            "ENTRY_FLUSH ioctl of the variant back to back, one timed region per criterion sample",
    },
    Rule {
        bench: "ipi_initiator/*",
        // Not ipi.user.*: those ids' figure is the victim's interruption,
        // which criterion does not see; this is the initiator's call.
        id: "initiator.user.*",
        role: Role::Measured,
        param: Some("method"),
        what:
            "one shootdown-causing call (initiator side, victim thread spinning on another CPU), \
               one timed region per call",
    },
];

/// The rule for a criterion id, the entrybench id it gives (for a shared
/// baseline: the id prefix it applies to) and the `*` segment, if any.
pub fn map_id(bench_id: &str) -> Option<(&'static Rule, String, Option<String>)> {
    RULES.iter().find_map(|r| {
        let cap = capture(r.bench, bench_id)?;
        let id = match &cap {
            Some(c) => r.id.replacen('*', c, 1),
            None => r.id.to_string(),
        };
        Some((r, id, cap))
    })
}

/// Matches `pattern` against `id` segment by segment ('/'); a `*` segment
/// matches one non-empty segment. Some(captured segment) on a match.
fn capture(pattern: &str, id: &str) -> Option<Option<String>> {
    let (p, s): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), id.split('/').collect());
    if p.len() != s.len() {
        return None;
    }
    let mut cap = None;
    for (a, b) in p.iter().zip(&s) {
        if *a == "*" {
            if b.is_empty() {
                return None;
            }
            cap = Some(b.to_string());
        } else if a != b {
            return None;
        }
    }
    Some(cap)
}

/// What the bench session measured with (see module doc).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub tool: String,
    /// RFC 3339 UTC start of the bench session.
    pub created: String,
    pub host: String,
    pub environment: Environment,
    pub placement: Placement,
    pub timer: TimerInfo,
    /// Timer and placement caveats (`options["session_notes"]`).
    pub notes: Vec<String>,
}

/// Writes `SESSION_FILE` into `dir` (created if missing), atomically.
pub fn write_session(dir: &Path, s: &Session) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(SESSION_FILE);
    let tmp = dir.join(format!(".{SESSION_FILE}.tmp{}", std::process::id()));
    std::fs::write(&tmp, serde_json::to_vec_pretty(s)?)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Reads `SESSION_FILE` from `dir`; None when there is none.
pub fn read_session(dir: &Path) -> Result<Option<Session>> {
    let path = dir.join(SESSION_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let s = serde_json::from_str(&text)
        .with_context(|| format!("{} is not an entrybench bench session", path.display()))?;
    Ok(Some(s))
}

/// True when `path` is a directory holding criterion output (the bench
/// session file, or any `new/benchmark.json` below it).
pub fn is_criterion_dir(path: &Path) -> bool {
    path.is_dir() && (path.join(SESSION_FILE).is_file() || !benchmark_dirs(path).is_empty())
}

/// Every `new/` directory with a `benchmark.json`, sorted.
fn benchmark_dirs(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            // file_type does not follow symlinks: no loops.
            let Ok(t) = e.file_type() else { continue };
            if !t.is_dir() {
                continue;
            }
            let p = e.path();
            if e.file_name() == "new" && p.join("benchmark.json").is_file() {
                out.push(p);
            } else if depth + 1 < MAX_DEPTH {
                walk(&p, depth + 1, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, 0, &mut out);
    out.sort();
    out
}

/// One criterion benchmark's saved samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Saved {
    /// "entry/null", "refill/flushed/16"
    pub full_id: String,
    pub sampling_mode: String,
    pub iters: Vec<f64>,
    pub times: Vec<f64>,
}

impl Saved {
    /// Per-iteration cycles of each sample, rounded to the cycle.
    pub fn per_iteration(&self) -> Vec<i64> {
        self.iters
            .iter()
            .zip(&self.times)
            .map(|(i, t)| (t / i).round() as i64)
            .collect()
    }
}

/// Reads `new/benchmark.json` (for the id) and `new/sample.json`; Err
/// names the file and what is wrong with it.
pub fn read_saved(new_dir: &Path) -> Result<Saved> {
    let bpath = new_dir.join("benchmark.json");
    let b: Value = read_json(&bpath)?;
    let Some(full_id) = b.get("full_id").and_then(Value::as_str) else {
        bail!(
            "{}: no full_id: not a criterion benchmark.json",
            bpath.display()
        );
    };
    let spath = new_dir.join("sample.json");
    parse_sample(full_id, &read_json(&spath)?)
        .with_context(|| format!("{} ({full_id}) is not usable", spath.display()))
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

/// Checks criterion's sample.json content: equal-length, non-empty,
/// finite arrays, iterations > 0 and times >= 0.
pub fn parse_sample(full_id: &str, v: &Value) -> Result<Saved> {
    let nums = |key: &str| -> Result<Vec<f64>> {
        let Some(a) = v.get(key).and_then(Value::as_array) else {
            bail!("no {key:?} array");
        };
        a.iter()
            .map(|x| {
                x.as_f64()
                    .filter(|f| f.is_finite())
                    .with_context(|| format!("{key:?} holds {x}, not a finite number"))
            })
            .collect()
    };
    let (iters, times) = (nums("iters")?, nums("times")?);
    if iters.len() != times.len() {
        bail!("{} iteration counts but {} times", iters.len(), times.len());
    }
    if iters.is_empty() {
        bail!("no samples");
    }
    if let Some(i) = iters.iter().find(|&&i| i < 1.0) {
        bail!("an iteration count of {i}");
    }
    if let Some(t) = times.iter().find(|&&t| t < 0.0) {
        bail!("a negative time {t}");
    }
    Ok(Saved {
        full_id: full_id.to_string(),
        sampling_mode: v
            .get("sampling_mode")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string(),
        iters,
        times,
    })
}

/// The result file of a criterion directory. `env` and `timer` stand in
/// for what `SESSION_FILE` would have recorded. Err when nothing in `dir`
/// is an entrybench bench, or a mapped bench's files are broken.
pub fn read_dir(dir: &Path, env: Environment, timer: TimerInfo) -> Result<ResultFile> {
    let session = read_session(dir)?;
    let mut saved = Vec::new();
    let mut skipped = Vec::new();
    for d in benchmark_dirs(dir) {
        let id = read_json(&d.join("benchmark.json"))?
            .get("full_id")
            .and_then(Value::as_str)
            .map(str::to_string);
        match id {
            Some(id) if map_id(&id).is_some() => saved.push(read_saved(&d)?),
            Some(id) => skipped.push(id),
            None => skipped.push(d.display().to_string()),
        }
    }
    if saved.is_empty() {
        bail!(
            "{}: no entrybench benchmark samples here (run `cargo bench --bench cycles` first{})",
            dir.display(),
            if skipped.is_empty() {
                String::new()
            } else {
                format!("; found only {}", skipped.join(", "))
            }
        );
    }
    let (experiments, unpaired) = build(&saved);
    skipped.extend(unpaired);

    let mut options = BTreeMap::new();
    options.insert("source".into(), "criterion".into());
    options.insert("criterion_dir".into(), dir.display().to_string());
    if !skipped.is_empty() {
        options.insert("criterion_skipped".into(), skipped.join(", "));
    }
    let file = match session {
        Some(s) => {
            options.insert("session".into(), "recorded by the bench".into());
            if !s.notes.is_empty() {
                options.insert("session_notes".into(), s.notes.join("; "));
            }
            ResultFile {
                schema_version: SCHEMA_VERSION,
                tool: s.tool,
                created: s.created,
                host: s.host,
                partial: false,
                options,
                environment: s.environment,
                placement: s.placement,
                timer: s.timer,
                experiments,
            }
        }
        None => {
            options.insert(
                "session".into(),
                format!("no {SESSION_FILE}: environment and timer are this machine's now"),
            );
            ResultFile {
                schema_version: SCHEMA_VERSION,
                tool: format!(
                    "entrybench {} (criterion import)",
                    env!("CARGO_PKG_VERSION")
                ),
                created: String::new(),
                host: crate::host::hostname(),
                partial: false,
                options,
                environment: env,
                placement: Placement {
                    victim_cpu: 0,
                    initiator_cpu: None,
                    victim_isolated: false,
                    note: format!("unknown: the criterion directory has no {SESSION_FILE}"),
                },
                timer,
                experiments,
            }
        }
    };
    Ok(file)
}

/// Experiments from saved benches (all mapped), sorted by id; also the
/// baselines that had nothing to attach to.
fn build(saved: &[Saved]) -> (Vec<Experiment>, Vec<String>) {
    let mut measured: BTreeMap<String, Experiment> = BTreeMap::new();
    let mut baselines: Vec<(&Saved, &Rule, String)> = Vec::new();
    for s in saved {
        let Some((rule, id, cap)) = map_id(&s.full_id) else {
            continue;
        };
        match rule.role {
            Role::Measured | Role::Delta => {
                let e = experiment(s, rule, &id, cap.as_deref());
                measured.insert(id, e);
            }
            Role::Baseline(_) | Role::SharedBaseline(_) => baselines.push((s, rule, id)),
        }
    }
    let mut unused = Vec::new();
    for (s, rule, id) in &baselines {
        let mut used = false;
        for (mid, e) in measured.iter_mut() {
            let applies = match rule.role {
                Role::Baseline(_) => mid == id,
                Role::SharedBaseline(_) => mid.starts_with(id.as_str()),
                Role::Measured | Role::Delta => false,
            };
            let label = match rule.role {
                Role::Baseline(l) | Role::SharedBaseline(l) => l,
                Role::Measured | Role::Delta => "",
            };
            if applies && e.baseline.is_none() {
                attach(e, s, label);
                used = true;
            }
        }
        if !used {
            unused.push(format!("{} (baseline without a measured bench)", s.full_id));
        }
    }
    // A differential id without its baseline would show a raw figure
    // where every table expects a delta: file it under a neutral id.
    let mut out = Vec::new();
    for (id, mut e) in measured {
        let bench = e
            .params
            .get("criterion_id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let delta = map_id(&bench).is_some_and(|(r, _, _)| r.role == Role::Delta);
        if delta && e.baseline.is_none() {
            e.id = format!("criterion.{}", bench.replace('/', "."));
            e.notes.push(format!(
                "its baseline bench was not found: this is the raw figure, not the {id} delta"
            ));
        }
        out.push(e);
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    (out, unused)
}

fn experiment(s: &Saved, rule: &Rule, id: &str, cap: Option<&str>) -> Experiment {
    let mut samples = s.per_iteration();
    let summary = stats::summarize(&mut samples);
    let mut params: BTreeMap<String, Value> = BTreeMap::new();
    params.insert("criterion_id".into(), s.full_id.clone().into());
    params.insert("criterion_bench".into(), rule.what.into());
    params.insert("sampling_mode".into(), s.sampling_mode.clone().into());
    params.insert("criterion_samples".into(), s.iters.len().into());
    params.insert(
        "iterations".into(),
        (s.iters.iter().sum::<f64>() as u64).into(),
    );
    params.insert(
        "per_sample".into(),
        "cycles per iteration of one criterion sample (times / iters), timer cost removed: \
         a mean over many iterations, so medians compare with entrybench run, tails and spread do not"
            .into(),
    );
    if let (Some(name), Some(c)) = (rule.param, cap) {
        let v: Value = c.parse::<u64>().map(Value::from).unwrap_or(c.into());
        params.insert(name.into(), v);
    }
    Experiment {
        id: id.to_string(),
        backend: BACKEND.to_string(),
        params,
        summary,
        samples: Histogram::from_samples(&samples),
        baseline: None,
        ipi: None,
        notes: Vec::new(),
        blocks: None,
        scenario: None,
    }
}

fn attach(e: &mut Experiment, base: &Saved, label: &str) {
    let mut b = base.per_iteration();
    let summary = stats::summarize(&mut b);
    let m = e.samples.to_sorted_samples();
    let (delta, ci) = stats::delta_median_ci95(&m, &b);
    let fin = |x: f64| if x.is_finite() { x } else { 0.0 };
    e.params
        .insert("criterion_baseline_id".into(), base.full_id.clone().into());
    e.baseline = Some(Baseline {
        label: label.to_string(),
        summary,
        samples: Histogram::from_samples(&b),
        delta_median: fin(delta),
        delta_ci95: [fin(ci[0]), fin(ci[1])],
    });
}

#[cfg(test)]
mod tests {
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
            .find(|e| e.id == id)
            .unwrap_or_else(|| panic!("{id} missing from {:?}", ids(f)))
    }

    fn ids(f: &ResultFile) -> Vec<&str> {
        f.experiments.iter().map(|e| e.id.as_str()).collect()
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
        let m = |id: &str| map_id(id).map(|(r, e, _)| (e, r.role));
        assert_eq!(m("entry/null"), Some(("entry.null".into(), Role::Measured)));
        assert_eq!(
            m("entry/vdso_clock_gettime").unwrap().0,
            "vdso.clock_gettime"
        );
        assert_eq!(
            m("refill/flushed/64"),
            Some(("refill.w64".into(), Role::Delta))
        );
        assert!(
            matches!(m("refill/plain/64"), Some((id, Role::Baseline(_))) if id == "refill.w64")
        );
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
            "report_1000_files/plots",
            "",
        ] {
            assert!(m(other).is_none(), "{other}");
        }
        // Imported ids mean what the report thinks they mean.
        use crate::ids::{kind_of_id, Kind};
        assert_eq!(kind_of_id("refill.w64"), Kind::Refill(64));
        assert!(matches!(kind_of_id("initiator.user.munmap"), Kind::Other));
        assert!(matches!(
            kind_of_id("criterion.refill.flushed.256"),
            Kind::Other
        ));
    }

    #[test]
    fn fixture_dir_is_recognised() {
        assert!(is_criterion_dir(&fixture()));
        assert!(is_criterion_dir(&fixture().join("refill")));
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
        assert_eq!(f.timer.kind, "tsc");
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
        crate::load::parse_result(&text).unwrap();
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
                "not a finite number",
            ),
            ("missing", r#"{"iters":[1]}"#, "no \"times\" array"),
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
}
