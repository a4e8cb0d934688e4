//! `entrybench detect`: CPU facts + platform facts + verdict. (stub: issue 2)

use crate::schema::Environment;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct DetectArgs {
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
    /// Decode a CPUID dump of another machine instead of this CPU
    #[arg(long, value_name = "FILE")]
    pub cpuid_dump: Option<PathBuf>,
}

pub fn cmd(_args: DetectArgs) -> anyhow::Result<i32> {
    anyhow::bail!("detect: not implemented yet")
}

/// The full environment of this machine (CPU, platform, verdict).
pub fn detect_live() -> anyhow::Result<Environment> {
    anyhow::bail!("detect: not implemented yet")
}
