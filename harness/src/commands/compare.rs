//! `entrybench compare`: the before/after comparison of two result files
//! (`report::output::compare`).

use super::read_one;
use anyhow::Result;
use std::path::PathBuf;

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

pub fn cmd(a: CompareArgs) -> Result<i32> {
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
