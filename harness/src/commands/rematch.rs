//! `entrybench rematch`: an `ipi.*` row's matching run again on what
//! `run --dump-ipi` kept of it (`experiments::ipi_dump`), beside the
//! figures the run recorded.

use crate::experiments::ipi_dump::{self, Figures};
use anyhow::Result;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct RematchArgs {
    /// IPI dumps written by `entrybench run --dump-ipi DIR`
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// Exit status when a dump's figures come out other than recorded.
pub const EXIT_DIFFERS: i32 = 1;

pub fn cmd(a: RematchArgs) -> Result<i32> {
    let mut differs = false;
    for f in &a.files {
        let d = ipi_dump::read(f)?;
        let now = ipi_dump::rematch(&d);
        println!("{}: {}", d.id, f.display());
        println!("  taken on {}", d.taken_on);
        println!(
            "  {:<10} {:<17} {:>6} {:>8}  tolerance, fitted to",
            "", "seen", "false", "control"
        );
        println!("  {:<10} {}", "recorded", row(&d.figures));
        println!("  {:<10} {}", "rematched", row(&now));
        if now != d.figures {
            differs = true;
            println!("  differs: the matching rules are not the ones the run had");
        }
    }
    Ok(if differs { EXIT_DIFFERS } else { 0 })
}

/// One row's figures under `cmd`'s header: seen of the fires' IPIs, the
/// false-match and control rates, the (before, after) tolerance in TSC
/// cycles and what it was fitted to.
fn row(f: &Figures) -> String {
    format!(
        "{:<17} {:>5.2}% {:>7.2}%  {}/{} {}",
        format!("{}/{} {:.2}%", f.seen, f.fire_ipis, f.seen_ratio * 100.0),
        f.false_match_rate * 100.0,
        f.control_match_rate * 100.0,
        f.tolerance.0,
        f.tolerance.1,
        if f.fit_to_trace { "trace" } else { "control" }
    )
}
