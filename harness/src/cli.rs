//! Command line: one subcommand per job, each with its arguments defined
//! beside the code that runs it.

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "entrybench",
    version,
    about = "Measure what a kernel entry and a TLB flush cost on x86"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Describe this CPU and kernel (or a CPUID dump): flush features, PTI, isolation, verdict
    Detect(crate::commands::detect::DetectArgs),
    /// Run the measurement suite and write a result file and a report
    Run(crate::commands::run::RunArgs),
    /// Text tables (and SVG plots) from result files
    Report(crate::commands::report::ReportArgs),
    /// Before/after comparison of two result files
    Compare(crate::commands::compare::CompareArgs),
    /// Which CPU and which strategy for a workload profile
    Size(crate::commands::size::SizeArgs),
    /// Build, load, unload or inspect the entrybench kernel module
    Kmod(crate::commands::kmod::KmodArgs),
    /// Run an ipi.* row's matching again on a `run --dump-ipi` file
    Rematch(crate::commands::rematch::RematchArgs),
}

/// Exit status for bad input or a failed command (clap uses 2 for usage
/// errors too, so scripts see one code for "you asked for something wrong").
pub const EXIT_ERROR: i32 = 2;

/// Parses arguments, runs the command, and turns every error into one line
/// on stderr and exit status 2: no panics, no backtraces.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version go to stdout as clap renders them; a bare
        // `entrybench` shows the help; every other usage error is one line.
        Err(e)
            if !e.use_stderr()
                || e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            let _ = e.print();
            return if e.use_stderr() { EXIT_ERROR } else { 0 };
        }
        Err(e) => {
            eprintln!("entrybench: error: {}", clap_one_line(&e));
            return EXIT_ERROR;
        }
    };
    let result = match cli.command {
        Command::Detect(a) => crate::commands::detect::cmd(a),
        Command::Run(a) => crate::commands::run::cmd(a),
        Command::Report(a) => crate::commands::report::cmd(a),
        Command::Compare(a) => crate::commands::compare::cmd(a),
        Command::Size(a) => crate::commands::size::cmd(a),
        Command::Kmod(a) => crate::commands::kmod::cmd(a),
        Command::Rematch(a) => crate::commands::rematch::cmd(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("entrybench: error: {}", one_line(&e));
            EXIT_ERROR
        }
    }
}

/// clap's message without its "error: " prefix, on one line, plus where
/// to look next (clap's own usage block is several lines). The message
/// is its first paragraph: a missing argument's name is on the line
/// after "were not provided:".
fn clap_one_line(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let message: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty())
        .collect();
    let message = message.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    let message = if message.is_empty() {
        "invalid arguments"
    } else {
        message
    };
    format!("{message} (see 'entrybench --help')")
}

/// The whole context chain on one line.
pub(crate) fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}
