//! `entrybench size`: which CPU and which strategy for a workload profile
//! (`report::output::size`), optionally for a CPU known only from its CPUID dump.

use super::read_all;
use anyhow::Result;
use std::path::{Path, PathBuf};

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

pub fn cmd(a: SizeArgs) -> Result<i32> {
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
