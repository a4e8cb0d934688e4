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

use crate::model::ids::{EntryCall, EntryTiming, FlushVariant, UserIpi, VdsoCall};
use crate::model::schema::{
    Baseline, Environment, Experiment, ExperimentId, Histogram, Placement, ResultFile, TimerInfo,
    SCHEMA_VERSION,
};
use crate::model::stats;
use crate::model::{files, untrusted};
use anyhow::{anyhow, bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `Experiment::backend` of imported experiments.
pub const BACKEND: &str = "criterion";
/// Written by the bench session into the criterion directory.
pub const SESSION_FILE: &str = "entrybench-session.json";

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

/// The entrybench id a rule gives: a fixed one, or the family whose id
/// the bench's `*` segment completes.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Id(ExperimentId),
    /// `refill.w<pages>`
    Refill,
    /// `entry.flush.<variant>` (dispatch timing, no walk)
    EntryFlush,
    /// Every `entry.flush.*` id: a shared baseline.
    EveryEntryFlush,
    /// `initiator.user.<method>`
    Initiator,
}

impl Target {
    /// The id for the bench's `*` segment `cap`; None when the segment
    /// names no id of the family (and for a shared baseline, which has
    /// none of its own).
    pub fn id(&self, cap: Option<&str>) -> Option<ExperimentId> {
        let family = |f: fn(&str) -> Option<ExperimentId>| cap.and_then(f);
        match self {
            Target::Id(id) => Some(id.clone()),
            // Written as the id writes it ("64", not "064").
            Target::Refill => family(|c| {
                let n: u64 = c.parse().ok()?;
                (n.to_string() == c).then_some(ExperimentId::Refill(n))
            }),
            Target::EntryFlush => family(|c| {
                let v = FlushVariant::from_name(c)?;
                Some(ExperimentId::entry_flush(v, 0, EntryTiming::Dispatch))
            }),
            Target::Initiator => family(|c| UserIpi::from_name(c).map(ExperimentId::Initiator)),
            Target::EveryEntryFlush => None,
        }
    }

    /// Whether a baseline of this target (its segment `cap`) is the
    /// reference of the measured experiment `id`.
    pub fn covers(&self, cap: Option<&str>, id: &ExperimentId) -> bool {
        match self {
            Target::EveryEntryFlush => matches!(id, ExperimentId::EntryFlush { .. }),
            t => t.id(cap).as_ref() == Some(id),
        }
    }
}

/// One row of the mapping. In `bench`, `*` stands for one path segment
/// of the criterion id, which completes the `target` id.
#[derive(Debug, Clone)]
pub struct Rule {
    pub bench: &'static str,
    pub target: Target,
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
        target: Target::Id(ExperimentId::Entry(EntryCall::Null)),
        role: Role::Measured,
        param: None,
        what: "glibc syscall(-1) back to back, one timed region per criterion sample",
    },
    Rule {
        bench: "entry/getpid",
        target: Target::Id(ExperimentId::Entry(EntryCall::Getpid)),
        role: Role::Measured,
        param: None,
        what: "glibc syscall(SYS_getpid) back to back, one timed region per criterion sample",
    },
    Rule {
        bench: "entry/getppid",
        target: Target::Id(ExperimentId::Entry(EntryCall::Getppid)),
        role: Role::Measured,
        param: None,
        what: "glibc syscall(SYS_getppid) back to back, one timed region per criterion sample",
    },
    Rule {
        bench: "entry/vdso_clock_gettime",
        target: Target::Id(ExperimentId::Vdso(VdsoCall::ClockGettime)),
        role: Role::Measured,
        param: None,
        what: "clock_gettime(CLOCK_MONOTONIC) back to back, one timed region per criterion sample",
    },
    Rule {
        bench: "refill/flushed/*",
        target: Target::Refill,
        role: Role::Delta,
        param: Some("pages"),
        what: "walk of N pages right after a flushing mprotect, one timed region per walk \
               (workloads::walk::refill_pairs, as entrybench run)",
    },
    Rule {
        bench: "refill/plain/*",
        target: Target::Refill,
        role: Role::Baseline("walk after a kernel entry without flush"),
        param: Some("pages"),
        what: "walk of N pages right after a non-flushing mprotect, one timed region per walk",
    },
    Rule {
        bench: "entry_flush/nop",
        target: Target::EveryEntryFlush,
        role: Role::SharedBaseline("the same ENTRY_FLUSH ioctl doing nop"),
        param: None,
        what: "ENTRY_FLUSH ioctl with nop back to back, one timed region per criterion sample",
    },
    Rule {
        bench: "entry_flush/*",
        target: Target::EntryFlush,
        role: Role::Delta,
        param: Some("variant"),
        what:
            "ENTRY_FLUSH ioctl of the variant back to back, one timed region per criterion sample",
    },
    Rule {
        bench: "ipi_initiator/*",
        // Not ipi.user.*: those ids' figure is the victim's interruption,
        // which criterion does not see; this is the initiator's call.
        target: Target::Initiator,
        role: Role::Measured,
        param: Some("method"),
        what:
            "one shootdown-causing call (initiator side, victim thread spinning on another CPU), \
               one timed region per call",
    },
];

/// The rule for a criterion id, the entrybench id it gives (None for a
/// shared baseline, which applies to a family) and the `*` segment, if
/// any. A segment that names no id of the rule's family is no match.
pub fn map_id(bench_id: &str) -> Option<(&'static Rule, Option<ExperimentId>, Option<String>)> {
    RULES.iter().find_map(|r| {
        let cap = capture(r.bench, bench_id)?;
        let id = r.target.id(cap.as_deref());
        if id.is_none() && r.target != Target::EveryEntryFlush {
            return None;
        }
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
    files::write_atomic(&dir.join(SESSION_FILE), &serde_json::to_vec_pretty(s)?)
}

/// Reads `SESSION_FILE` from `dir`; None when there is none.
pub fn read_session(dir: &Path) -> Result<Option<Session>> {
    let path = dir.join(SESSION_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text = files::read_text(&path, files::RESULT_CAP)?;
    let mut v: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    // The session is ours but may come from another machine: every
    // string in it (host, CPU brand, notes) made printable.
    untrusted::clean_json(&mut v);
    let s = serde_json::from_value(v)
        .with_context(|| format!("{} is not an entrybench bench session", path.display()))?;
    Ok(Some(s))
}

/// True when `path` is a directory criterion writes its output into (the
/// bench session file, or a benchmark in criterion's own layout).
pub fn is_criterion_dir(path: &Path) -> bool {
    path.is_dir()
        && (path.join(SESSION_FILE).is_file()
            || benchmark_dirs(path)
                .iter()
                .any(|(d, rel)| matches!(bench_id(d, rel), Ok(Some(_)))))
}

/// Levels of a benchmark's directory name at most: group, function, value.
const MAX_LEVELS: usize = 3;

/// Every `<root>/<name>/new/` with a `benchmark.json`, where `<name>` has
/// 1 to `MAX_LEVELS` levels, sorted, with `<name>`. Only criterion's own
/// layout is read, nothing deeper: a directory that merely holds criterion
/// output somewhere below it is not criterion output.
fn benchmark_dirs(root: &Path) -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, rel: &str, depth: usize, out: &mut Vec<(PathBuf, String)>) {
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
            let name = e.file_name().to_string_lossy().into_owned();
            if name == "new" && !rel.is_empty() && p.join("benchmark.json").is_file() {
                out.push((p, rel.to_string()));
            } else if depth < MAX_LEVELS {
                let sub = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                walk(&p, &sub, depth + 1, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, "", 0, &mut out);
    out.sort();
    out
}

/// The fields of criterion's `new/benchmark.json` the import reads
/// (criterion writes more: group, function, value, throughput, title).
#[derive(Debug, Deserialize)]
struct BenchmarkJson {
    /// "entry/null", "refill/flushed/16"
    full_id: Option<String>,
    /// Where criterion put it below its directory; `full_id` when absent.
    directory_name: Option<String>,
}

/// criterion's `new/sample.json`: per sample, its iteration count and the
/// total measured over them.
#[derive(Debug, Deserialize)]
struct SampleJson {
    /// "Linear" or "Flat" (criterion's `SamplingMode`).
    sampling_mode: Option<String>,
    iters: Vec<f64>,
    times: Vec<f64>,
}

/// Text from criterion's files as the report may show it (their ids are
/// names other people chose: `untrusted::printable`).
fn printable(s: &str) -> String {
    untrusted::printable(s).into_owned()
}

/// The criterion id of the benchmark in `new_dir`, found at `rel` below
/// the directory given: Some when its `directory_name` (or, without one,
/// its `full_id`) is `rel`, None when it is not where criterion puts it,
/// or its benchmark.json is JSON of another shape (someone else's file).
fn bench_id(new_dir: &Path, rel: &str) -> Result<Option<String>> {
    let b: BenchmarkJson = match read_json(&new_dir.join("benchmark.json"))? {
        Ok(b) => b,
        Err(_) => return Ok(None),
    };
    let Some(full_id) = b.full_id.as_deref().map(printable) else {
        return Ok(None);
    };
    let dir_name = b
        .directory_name
        .as_deref()
        .map_or(full_id.clone(), printable);
    Ok((dir_name == rel).then_some(full_id))
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
    let Some(full_id) = read_json::<BenchmarkJson>(&bpath)?
        .map_err(|e| anyhow!("{}: not a criterion benchmark.json: {e}", bpath.display()))?
        .full_id
        .as_deref()
        .map(printable)
    else {
        bail!(
            "{}: no full_id: not a criterion benchmark.json",
            bpath.display()
        );
    };
    let spath = new_dir.join("sample.json");
    read_json::<SampleJson>(&spath)?
        .map_err(anyhow::Error::from)
        .and_then(|s| check_sample(&full_id, s))
        .with_context(|| format!("{} ({full_id}) is not usable", spath.display()))
}

/// A criterion JSON file (a regular file under `files::RESULT_CAP`): Err
/// when it cannot be read or is not JSON at all, Ok(Err) when it is JSON
/// of another shape than `T` (the caller decides whether that is someone
/// else's file or a broken one of ours). serde_json refuses a number
/// beyond f64's range, so every figure read is finite.
fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Result<T, serde_json::Error>> {
    let text = files::read_text(path, files::RESULT_CAP)?;
    match serde_json::from_str(&text) {
        Err(e) if !e.is_data() => {
            Err(e).with_context(|| format!("{} is not valid JSON", path.display()))
        }
        r => Ok(r),
    }
}

/// Checks criterion's sample.json content: equal-length, non-empty
/// arrays, iterations > 0 and times >= 0.
fn check_sample(full_id: &str, s: SampleJson) -> Result<Saved> {
    let SampleJson {
        sampling_mode,
        iters,
        times,
    } = s;
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
        sampling_mode: sampling_mode.as_deref().map_or("unknown".into(), printable),
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
    for (d, rel) in benchmark_dirs(dir) {
        match bench_id(&d, &rel)? {
            Some(id) if map_id(&id).is_some() => saved.push(read_saved(&d)?),
            Some(id) => skipped.push(id),
            None => skipped.push(format!(
                "{rel} (its benchmark.json names another benchmark)"
            )),
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
    let mut file = match session {
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
                drift_reference: None,
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
                host: crate::model::host::hostname(),
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
                drift_reference: None,
            }
        }
    };
    file.upgrade();
    // The same rules as a result file read from disk (absurd times).
    crate::model::validate::result_file(&file)
        .map_err(|m| anyhow::anyhow!("{}: {m}", dir.display()))?;
    Ok(file)
}

/// Experiments from saved benches (all mapped), sorted by id; also the
/// baselines that had nothing to attach to.
fn build(saved: &[Saved]) -> (Vec<Experiment>, Vec<String>) {
    let mut measured: BTreeMap<ExperimentId, Experiment> = BTreeMap::new();
    let mut baselines: Vec<(&Saved, &Rule, Option<String>)> = Vec::new();
    for s in saved {
        let Some((rule, id, cap)) = map_id(&s.full_id) else {
            continue;
        };
        match (rule.role, id) {
            (Role::Measured | Role::Delta, Some(id)) => {
                let e = experiment(s, rule, id.clone(), cap.as_deref());
                measured.insert(id, e);
            }
            (Role::Measured | Role::Delta, None) => {}
            (Role::Baseline(_) | Role::SharedBaseline(_), _) => baselines.push((s, rule, cap)),
        }
    }
    let mut unused = Vec::new();
    for (s, rule, cap) in &baselines {
        let mut used = false;
        for (mid, e) in measured.iter_mut() {
            let applies = match rule.role {
                Role::Baseline(_) | Role::SharedBaseline(_) => {
                    rule.target.covers(cap.as_deref(), mid)
                }
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
            e.id = ExperimentId::criterion(&bench);
            e.notes.push(format!(
                "its baseline bench was not found: this is the raw figure, not the {id} delta"
            ));
        }
        out.push(e);
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    (out, unused)
}

fn experiment(s: &Saved, rule: &Rule, id: ExperimentId, cap: Option<&str>) -> Experiment {
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
    let samples = Histogram::from_samples(&samples);
    Experiment::plain(id, BACKEND, params, summary, samples)
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
mod tests;
