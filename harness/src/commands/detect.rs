//! `entrybench detect`: this machine (or a CPUID dump) as text or JSON.

use crate::detect::{detect_live, dump_environment, render_text};
use anyhow::Result;
use std::io::Write;
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
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
    {
        // `entrybench detect | head` is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        other => other.map(|_| 0).map_err(Into::into),
    }
}
