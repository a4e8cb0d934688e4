//! `entrybench detect`: this machine (or a CPUID dump) as text or JSON.

use crate::detect::{detect_live, dump_environment, render_text};
use anyhow::Result;
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

pub fn cmd(args: DetectArgs) -> Result<i32> {
    let env = match &args.cpuid_dump {
        Some(path) => dump_environment(path)?,
        None => detect_live()?,
    };
    let out = if args.json {
        serde_json::to_string_pretty(&env)? + "\n"
    } else {
        render_text(&env)
    };
    super::print_out(&out)?;
    Ok(0)
}
