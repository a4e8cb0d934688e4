//! `entrybench run`: choose placement and timer, run the selected
//! experiments on the pinned victim thread (in the order `schedule`
//! decides), print a short summary and write one result file (as results
//! come, so an interrupted or killed run keeps what it finished).

use crate::experiments::{self, suite, Ctx, SuiteConfig};
use crate::placement::{self, CpuLists, Request};
use crate::run::{default_path, summary_text};
use crate::schema::{Environment, ResultFile, SCHEMA_VERSION};
use crate::timer::{Timer, TimerOptions};
use anyhow::{bail, Context, Result};
use report::model::host::{hostname, rfc3339};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Fewer samples and shorter IPI and scenario runs (about 20 s instead of about 2 min)
    #[arg(long)]
    pub quick: bool,
    /// Only ids matching: a glob ("entry.*") or a substring; comma-separated
    #[arg(long, value_name = "PATTERN")]
    pub only: Option<String>,
    /// Result file (default: results/<host>-<cpu>-<UTC time>.json); the
    /// text report goes beside it as .txt
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace an existing result file and its .txt report (without it,
    /// an existing one is refused before anything is measured)
    #[arg(long)]
    pub overwrite: bool,
    /// CPU that runs the timed loops and receives the IPIs
    #[arg(long, value_name = "N")]
    pub victim_cpu: Option<u32>,
    /// CPU that sends the IPIs in ipi.* and scenario.* experiments
    #[arg(long, value_name = "N")]
    pub initiator_cpu: Option<u32>,
    /// Measure even without an invariant TSC
    #[arg(long)]
    pub force: bool,
    /// IPIs per second in ipi.* experiments, flush events per second in
    /// scenario.* experiments (text patching runs slower: it pauses 50 ms
    /// after each disable)
    // allow_negative_numbers: `--rate -5` gets the range message, not
    // clap's "unexpected argument".
    #[arg(long, value_name = "HZ", allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// Working-set sizes of refill.wN, pages (e.g. 1,64,4096)
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub pages: Option<Vec<usize>>,
    /// Seconds each ipi.* experiment fires for, and the triggered time of
    /// each scenario.* experiment (its interleaved baseline runs as long
    /// again); long runs show the tails
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    pub duration: Option<f64>,
    /// ipi.* skip the traced check phase that, where the kernel has the
    /// csd:csd_function_entry tracepoint and we are root, fits the timing
    /// rule's tolerance to the kernel's own record of the IPIs and counts
    /// its false matches against it; the tolerance is then fitted against
    /// the no-IPI control, which also gives the false_match_rate
    #[arg(long)]
    pub no_trace_check: bool,
    /// Write what each ipi.* row was matched from (victim gaps, call
    /// windows, the trace's labels, interrupt counts) into DIR as
    /// <id>.json, never over a file there; `entrybench rematch` runs the
    /// matching on it again
    #[arg(long, value_name = "DIR")]
    pub dump_ipi: Option<PathBuf>,
    /// Samples (timed regions) per entry.*, vdso.* and timer.overhead
    /// experiment; at least 3200 are taken (100 per block)
    #[arg(long, value_name = "N")]
    pub samples: Option<usize>,
    /// Operations per timed region in entry.* and vdso.* (samples are per
    /// operation means of a batch; default: enough that the timer step is
    /// under 2% of a region, at least 16; 1 times single calls for tails)
    #[arg(long, value_name = "K")]
    pub batch: Option<usize>,
    /// How the headline entry.* make the system call: glibc's syscall()
    /// as programs and `perf bench syscall basic` do (default), a called
    /// function, or the bare instruction inline
    #[arg(long, value_enum, value_name = "PATH")]
    pub syscall: Option<experiments::suite::SyscallPath>,
    /// List the experiment ids (after --only) and exit
    #[arg(long)]
    pub list: bool,
    #[command(flatten)]
    pub scenario: experiments::scenario_args::ScenarioArgs,
}

/// Exit status of an interrupted run (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: i32 = 130;
/// Exit status when some experiment failed (others were written).
pub const EXIT_FAILED: i32 = 1;

/// Set by SIGINT/SIGTERM; polled by experiments between chunks.
static CANCEL: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    CANCEL.store(true, Ordering::Relaxed);
}

/// First SIGINT/SIGTERM asks the run to stop and write what it has;
/// SA_RESETHAND makes a second one kill as usual.
fn install_signal_handlers() -> Result<()> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let act = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESETHAND,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic (async-signal-safe).
        unsafe { sigaction(sig, &act) }
            .with_context(|| format!("cannot install a {sig} handler"))?;
    }
    Ok(())
}

/// The suite configuration from the arguments; Err for out-of-range values.
pub fn suite_config(a: &RunArgs) -> Result<SuiteConfig> {
    let mut cfg = if a.quick {
        SuiteConfig::quick()
    } else {
        SuiteConfig::full()
    };
    if let Some(r) = a.rate {
        if !(r.is_finite() && r > 0.0 && r <= 100_000.0) {
            bail!("--rate {r}: must be above 0 and at most 100000 IPIs per second");
        }
        cfg.ipi_rate_hz = r;
    }
    if let Some(p) = &a.pages {
        if let Some(bad) = p.iter().find(|&&n| n == 0 || n > 262_144) {
            bail!("--pages: {bad} is out of range (1 to 262144 pages)");
        }
        // Ascending and without repeats: the curve is read in page order,
        // and dedup only drops adjacent repeats.
        cfg.refill_pages = p.clone();
        cfg.refill_pages.sort_unstable();
        cfg.refill_pages.dedup();
    }
    if let Some(d) = a.duration {
        if !(d.is_finite() && d > 0.0 && d <= 600.0) {
            bail!("--duration {d}: must be above 0 and at most 600 seconds");
        }
        cfg.ipi_duration = Duration::from_secs_f64(d);
        cfg.scenario_duration = cfg.ipi_duration;
    }
    cfg.no_trace_check = a.no_trace_check;
    cfg.dump_ipi = a.dump_ipi.clone();
    if let Some(n) = a.samples {
        if !(100..=50_000_000).contains(&n) {
            bail!("--samples {n}: must be between 100 and 50000000");
        }
        cfg.entry_samples = n;
    }
    if let Some(p) = a.syscall {
        cfg.syscall = p;
    }
    if let Some(k) = a.batch {
        if !(1..=10_000).contains(&k) {
            bail!("--batch {k}: must be between 1 and 10000");
        }
        cfg.entry_batch = Some(k);
    }
    a.scenario.apply(&mut cfg)?;
    Ok(cfg)
}

/// The options recorded in the result file.
fn recorded_options(a: &RunArgs, cfg: &SuiteConfig) -> BTreeMap<String, String> {
    let mut o = BTreeMap::new();
    o.insert("quick".into(), a.quick.to_string());
    if let Some(p) = &a.only {
        o.insert("only".into(), p.clone());
    }
    if a.force {
        o.insert("force".into(), "true".into());
    }
    o.insert("rate_hz".into(), cfg.ipi_rate_hz.to_string());
    o.insert(
        "ipi_duration_s".into(),
        cfg.ipi_duration.as_secs_f64().to_string(),
    );
    o.insert("entry_samples".into(), cfg.entry_samples.to_string());
    if cfg.no_trace_check {
        o.insert("no_trace_check".into(), "true".into());
    }
    if cfg.dump_ipi.is_some() {
        // Not the path: result files are shared, a local path is not.
        o.insert("dump_ipi".into(), "true".into());
    }
    o.insert("refill_pairs".into(), cfg.refill_pairs.to_string());
    o.insert(
        "entry_batch".into(),
        cfg.entry_batch
            .map_or("auto".to_string(), |k| k.to_string()),
    );
    o.insert("syscall".into(), cfg.syscall.call_path().name().into());
    let pages: Vec<String> = cfg.refill_pages.iter().map(|p| p.to_string()).collect();
    o.insert("pages".into(), pages.join(","));
    for (k, v) in experiments::scenario_args::ScenarioArgs::recorded(cfg) {
        o.insert(k.into(), v);
    }
    o
}

pub fn cmd(args: RunArgs) -> Result<i32> {
    let cfg = suite_config(&args)?;
    let mut list = suite::all(&cfg);
    if let Some(pat) = &args.only {
        list = suite::filter(list, pat);
        if list.is_empty() {
            no_match(pat, &cfg)?;
        }
    }
    if args.list {
        for id in suite::ids(&list) {
            println!("{id}");
        }
        return Ok(0);
    }
    // A killed run (a second Ctrl-C, SIGKILL) leaves its tracing
    // instance with its event on, and its private tracefs mount: gone
    // before anything is measured.
    let stale = crate::tracefs::remove_stale_mounted();
    if !stale.is_empty() {
        eprintln!(
            "entrybench: removed what a killed entrybench left in tracefs: {}",
            stale.join(", ")
        );
    }
    let cpus = CpuLists::live()?;
    let placement = placement::choose(
        &cpus,
        Request {
            victim: args.victim_cpu,
            initiator: args.initiator_cpu,
        },
    )?;
    let env = environment()?;
    let started = SystemTime::now();
    let out = match &args.out {
        Some(p) => p.clone(),
        None => default_path(&env, started),
    };
    let report_path = out.with_extension("txt");
    check_outputs(&out, &report_path, args.out.is_none(), args.overwrite)?;
    if let Some(d) = &cfg.dump_ipi {
        // Made and written to now, so a bad path stops the run before
        // anything is measured.
        std::fs::create_dir_all(d)
            .and_then(|()| probe_writable(d))
            .with_context(|| format!("--dump-ipi {}: cannot write there", d.display()))?;
    }
    if !placement.victim_isolated {
        eprintln!("entrybench: warning: {}", placement.note);
    }
    install_signal_handlers()?;

    // Everything from here runs on the victim CPU; the guard unpins at
    // the end (also on error).
    let _pin = placement::pin_current_thread(placement.victim_cpu)?;
    let mut run_notes = Vec::new();
    if let Some(w) = placement::lock_memory() {
        eprintln!("entrybench: warning: {w}");
        run_notes.push(w);
    }
    let timer = Timer::setup(
        &env,
        TimerOptions {
            force: args.force,
            try_rdpmc: true,
        },
    )?;
    run_notes.extend(timer.notes.iter().cloned());

    let mut file = ResultFile {
        schema_version: SCHEMA_VERSION,
        tool: format!("entrybench {}", env!("CARGO_PKG_VERSION")),
        created: rfc3339(started),
        host: hostname(),
        partial: true,
        options: recorded_options(&args, &cfg),
        environment: env.clone(),
        placement: placement.clone(),
        timer: timer.info(),
        experiments: Vec::new(),
        drift_reference: None,
    };
    let tally = crate::schedule::run_list(
        &mut list,
        &mut file,
        &out,
        &run_notes,
        &mut Ctx {
            env: &env,
            timer: &timer,
            placement: &placement,
            cfg: &cfg,
            cancel: &CANCEL,
        },
    );
    placement::unlock_memory();
    finish(file, tally?, &out, &report_path, timer.tsc_hz)
}

/// Writes the finished result file and its report, prints the summary,
/// and says how the run ended (its exit status).
fn finish(
    mut file: ResultFile,
    tally: crate::schedule::RunTally,
    out: &Path,
    report_path: &Path,
    tsc_hz: f64,
) -> Result<i32> {
    file.partial = tally.interrupted;
    report::model::load::write_result(out, &file)?;
    // The email-ready tables beside the JSON, so one run leaves both the
    // data and what a reader pastes (`entrybench report` redraws it later).
    let text = report::render_text(std::slice::from_ref(&file));
    report::model::files::write_atomic(report_path, text.as_bytes())?;

    print!("{}", summary_text(&file, tsc_hz));
    println!("wrote {}", out.display());
    println!("wrote {}", report_path.display());
    if tally.interrupted {
        eprintln!(
            "entrybench: interrupted: {} experiments written, marked partial",
            file.experiments.len()
        );
        return Ok(EXIT_INTERRUPTED);
    }
    if tally.failed > 0 {
        eprintln!(
            "entrybench: {} experiments failed (see warnings above)",
            tally.failed
        );
        return Ok(EXIT_FAILED);
    }
    Ok(0)
}

/// The error for an `--only` that selects nothing: which ids there are,
/// or that the ids it names need the kernel module, which is not loaded.
fn no_match(pat: &str, cfg: &SuiteConfig) -> Result<()> {
    if !crate::kmod::device::available() {
        let kmod = suite::filter(experiments::kmod::suite_when_loaded(cfg), pat);
        if !kmod.is_empty() {
            bail!(
                "--only {pat:?} selects kernel-module experiments ({}), but the entrybench module is not loaded (no /dev/entrybench): run `entrybench kmod load` first",
                suite::ids(&kmod).join(", ")
            );
        }
    }
    bail!(
        "--only {pat:?} matches no experiment (ids: {})",
        suite::ids(&suite::all(cfg)).join(", ")
    )
}

/// Refuses, before anything is measured, a result or report path the run
/// could not write or must not replace (`report::model::files::check_output`),
/// a result path its own text report would overwrite (`--out r.txt`), and
/// an existing file (the user's, not this run's) unless `overwrite`. Once
/// checked, the paths are the run's: its partial writes replace them.
/// The default directory, results/, is made if missing.
fn check_outputs(out: &Path, report_path: &Path, default: bool, overwrite: bool) -> Result<()> {
    if out == report_path {
        bail!(
            "--out {}: the text report is written beside the result with the extension .txt, so it would replace the result; name the result file *.json",
            out.display()
        );
    }
    if default {
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
    }
    report::model::files::check_output(out)?;
    report::model::files::check_output(report_path)?;
    if !overwrite {
        for p in [out, report_path] {
            // check_output let only a regular file (or nothing) through.
            if std::fs::symlink_metadata(p).is_ok() {
                bail!(
                    "will not replace {}: it exists (pass --overwrite to replace it)",
                    p.display()
                );
            }
        }
    }
    Ok(())
}

/// Creates and removes a file in `dir`: a directory that exists but
/// cannot be written fails here, not after the run.
fn probe_writable(dir: &Path) -> std::io::Result<()> {
    let p = dir.join(format!(".entrybench-probe-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&p)?;
    std::fs::remove_file(&p)
}

/// The machine description recorded with the results.
fn environment() -> Result<Environment> {
    crate::detect::detect_live().context("cannot describe this machine")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> RunArgs {
        RunArgs {
            quick: true,
            only: None,
            out: None,
            overwrite: false,
            victim_cpu: None,
            initiator_cpu: None,
            force: false,
            rate: None,
            pages: None,
            duration: None,
            no_trace_check: false,
            dump_ipi: None,
            samples: None,
            batch: None,
            syscall: None,
            list: false,
            scenario: Default::default(),
        }
    }

    #[test]
    fn config_overrides_and_range_checks() {
        let mut a = args();
        a.rate = Some(250.0);
        a.pages = Some(vec![8, 2, 8]);
        a.duration = Some(0.5);
        a.samples = Some(1000);
        let c = suite_config(&a).unwrap();
        assert_eq!(
            (c.ipi_rate_hz, c.refill_pages.clone(), c.entry_samples),
            (250.0, vec![2, 8], 1000)
        );
        assert_eq!(c.ipi_duration, Duration::from_millis(500));
        assert!(!c.no_trace_check);
        a.no_trace_check = true;
        assert!(suite_config(&a).unwrap().no_trace_check);
        for bad in [
            RunArgs {
                rate: Some(0.0),
                ..args()
            },
            RunArgs {
                rate: Some(f64::NAN),
                ..args()
            },
            RunArgs {
                pages: Some(vec![0]),
                ..args()
            },
            RunArgs {
                duration: Some(-1.0),
                ..args()
            },
            RunArgs {
                samples: Some(5),
                ..args()
            },
        ] {
            assert!(suite_config(&bad).is_err(), "{bad:?}");
        }
    }
}
