//! The subcommand handlers, one file each: the arguments of a command
//! beside the code that runs it. Measurement, detection and output live
//! elsewhere (`detect`, `schedule`, `experiments`, the `report` crate);
//! a handler reads its arguments, calls them and prints.

pub mod compare;
pub mod detect;
pub mod kmod;
pub mod rematch;
pub mod report;
pub mod run;
pub mod size;

use ::report::model::schema::ResultFile;
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// Writes `text` to stdout; false when the reader has gone (`entrybench
/// detect | head` is not an error: the command stops there).
pub(crate) fn print_out(text: &str) -> std::io::Result<bool> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        other => other.map(|()| true),
    }
}

/// Reads every result file; any bad file stops the command with its name.
pub(crate) fn read_all(paths: &[PathBuf]) -> Result<Vec<ResultFile>> {
    paths.iter().map(|p| read_one(p)).collect()
}

/// A result file, or the directory `cargo bench` writes criterion output
/// into (e.g. target/criterion) imported as one. Any other directory is
/// refused, not searched: what it holds somewhere below is not what the
/// user named.
pub(crate) fn read_one(p: &Path) -> Result<ResultFile> {
    if ::report::input::criterion::is_criterion_dir(p) {
        return crate::bench_measurement::import_criterion(p);
    }
    if p.is_dir() {
        bail!(
            "{} is a directory, neither a result file nor criterion output (the directory `cargo bench` writes, e.g. target/criterion)",
            p.display()
        );
    }
    ::report::model::load::read_result(p)
}
