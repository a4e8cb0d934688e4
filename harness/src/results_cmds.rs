//! CLI glue into the `report` crate: `report`, `compare` and `size` read
//! result files, call the crate's builders and print. No figures are
//! computed here.

use anyhow::{bail, Context, Result};
use report::model::schema::ResultFile;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Result files (JSON written by `entrybench run`)
    #[arg(required = true, value_name = "RESULT")]
    pub results: Vec<PathBuf>,
    /// Markdown tables instead of plain text
    #[arg(long, conflicts_with = "csv")]
    pub markdown: bool,
    /// CSV, one row per machine and experiment
    #[arg(long)]
    pub csv: bool,
    /// Also write SVG plots into this directory
    #[arg(long, value_name = "DIR")]
    pub plots: Option<PathBuf>,
    /// Flush events per second assumed by the break-even plot
    #[arg(
        long,
        value_name = "HZ",
        default_value_t = 1.0,
        allow_negative_numbers = true
    )]
    pub flush_rate: f64,
    /// Working set (4 KiB pages) assumed by the break-even plot
    #[arg(long, value_name = "PAGES", default_value_t = 64)]
    pub working_set: u64,
    /// Add the published before/after rows (labelled) to the machine table
    #[arg(long)]
    pub published: bool,
    /// Only the one-row-per-machine table and its notes (for an email)
    #[arg(long, conflicts_with = "csv")]
    pub machines_only: bool,
}

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The "before" result file
    #[arg(value_name = "A")]
    pub a: PathBuf,
    /// The "after" result file
    #[arg(value_name = "B")]
    pub b: PathBuf,
    /// Judge every row on its raw figures, never net of the runs' drift
    /// reference (which is a kernel entry itself: a patch that slows
    /// every entry moves it too)
    #[arg(long)]
    pub raw: bool,
}

#[derive(Debug, clap::Args)]
pub struct SizeArgs {
    /// Workload profile (TOML: syscalls_per_sec, flush_events_per_sec,
    /// working_set_pages, latency_budget_us[, deferred_check_cycles])
    #[arg(long, value_name = "FILE")]
    pub profile: PathBuf,
    /// Result files with measured costs
    #[arg(required = true, value_name = "RESULT")]
    pub results: Vec<PathBuf>,
    /// Also size a CPU without results from its CPUID dump: measured
    /// results of the same model, else of a like model (same core), else
    /// published figures for its core, else "no data" and what to run
    #[arg(long, value_name = "FILE")]
    pub cpuid_dump: Option<PathBuf>,
    /// Also print the kernel rules with their sources, every figure's
    /// ingredients and labels, and the equations
    #[arg(long)]
    pub explain: bool,
}

/// Reads every result file; any bad file stops the command with its name.
fn read_all(paths: &[PathBuf]) -> Result<Vec<ResultFile>> {
    paths.iter().map(|p| read_one(p)).collect()
}

/// A result file, or the directory `cargo bench` writes criterion output
/// into (e.g. target/criterion) imported as one. Any other directory is
/// refused, not searched: what it holds somewhere below is not what the
/// user named.
fn read_one(p: &Path) -> Result<ResultFile> {
    if report::input::criterion::is_criterion_dir(p) {
        return crate::bench_measurement::import_criterion(p);
    }
    if p.is_dir() {
        bail!(
            "{} is a directory, neither a result file nor criterion output (the directory `cargo bench` writes, e.g. target/criterion)",
            p.display()
        );
    }
    report::model::load::read_result(p)
}

pub fn report_cmd(a: ReportArgs) -> Result<i32> {
    if !a.flush_rate.is_finite() || a.flush_rate < 0.0 {
        bail!(
            "--flush-rate must be a finite number >= 0, got {}",
            a.flush_rate
        );
    }
    let files = read_all(&a.results)?;
    let opts = report::RenderOptions {
        published: a.published,
        machines_only: a.machines_only,
    };
    let text = if a.csv {
        report::render_csv(&files)
    } else if a.markdown {
        report::render_markdown_with(&files, &opts)
    } else {
        report::render_text_with(&files, &opts)
    };
    print!("{text}");
    if let Some(dir) = &a.plots {
        let opts = report::output::plot::PlotOptions {
            flush_rate_hz: a.flush_rate,
            working_set_pages: a.working_set,
        };
        let written = report::output::plot::write_all(&files, dir, &opts)
            .with_context(|| format!("cannot write plots into {}", dir.display()))?;
        for p in written {
            eprintln!("entrybench: wrote {}", p.display());
        }
    }
    Ok(0)
}

pub fn compare_cmd(a: CompareArgs) -> Result<i32> {
    let fa = read_one(&a.a)?;
    let fb = read_one(&a.b)?;
    let o = report::output::compare::Options {
        net_of_reference: !a.raw,
    };
    print!(
        "{}",
        report::output::compare::render_text(&report::output::compare::compare_with(&fa, &fb, o))
    );
    Ok(0)
}

pub fn size_cmd(a: SizeArgs) -> Result<i32> {
    let profile = report::model::profile::Profile::read(&a.profile)?;
    let files = read_all(&a.results)?;
    let dump = match &a.cpuid_dump {
        // read_dump's errors name the file already.
        Some(p) => Some(crate::cpu::read_dump(p)?),
        None => None,
    };
    let verdict = dump.as_ref().map(|cpu| crate::verdict::verdict(cpu, None));
    let target = dump.as_ref().zip(verdict.as_ref()).map(|(cpu, verdict)| {
        report::output::size::DumpTarget {
            file_name: file_name(a.cpuid_dump.as_deref()),
            cpu,
            verdict,
        }
    });
    let sizing = report::output::size::size(&profile, &files, target);
    print!("{}", report::output::size::render_text(&sizing, a.explain));
    Ok(0)
}

fn file_name(p: Option<&Path>) -> String {
    p.and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
