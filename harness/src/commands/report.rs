//! `entrybench report`: text, Markdown or CSV tables (and SVG plots)
//! from result files, built by the `report` crate. No figures are
//! computed here.

use super::read_all;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;

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

pub fn cmd(a: ReportArgs) -> Result<i32> {
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
