//! `entrybench rematch`: an `ipi.*` row's matching run again on what
//! `run --dump-ipi` kept of it (`experiments::ipi_dump`), beside the
//! figures the run recorded.

use crate::experiments::ipi_dump::{self, Dump, Figures, Miss};
use crate::experiments::ipi_outcome::Outcome;
use anyhow::Result;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct RematchArgs {
    /// IPI dumps written by `entrybench run --dump-ipi DIR`
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Also list the calls that claimed no gap, with the victim's gaps
    /// around each call's return
    #[arg(long)]
    pub misses: bool,
}

/// Exit status when a dump's figures come out other than recorded (a
/// file that cannot be read gives `cli::EXIT_ERROR`, which wins).
pub const EXIT_DIFFERS: i32 = 1;

pub fn cmd(a: RematchArgs) -> Result<i32> {
    let mut status = 0;
    for f in &a.files {
        // A bad file is said and skipped: the others are still checked.
        let text = match ipi_dump::read(f) {
            Ok(d) => {
                // Matched once: the check's fit and the attribution are
                // the slow part, and --misses reads the same outcome.
                let out = ipi_dump::outcome(&d);
                let (mut text, same) = compared(f, &d, &Figures::of(&out));
                if !same {
                    status = status.max(EXIT_DIFFERS);
                }
                if a.misses {
                    text += &missed(&d, &out);
                }
                text
            }
            Err(e) => {
                eprintln!("entrybench: error: {}", crate::cli::one_line(&e));
                status = crate::cli::EXIT_ERROR;
                continue;
            }
        };
        if !super::print_out(&text)? {
            return Ok(status);
        }
    }
    Ok(status)
}

/// A dump's recorded figures and what matching gives now (`now`), and
/// whether they are the same.
fn compared(f: &Path, d: &Dump, now: &Figures) -> (String, bool) {
    let mut s = format!("{}: {}\n  taken on {}\n", d.id, f.display(), d.taken_on);
    s += &format!(
        "  {:<10} {:<17} {:>6} {:>8}  tolerance, fitted to\n",
        "", "seen", "false", "control"
    );
    s += &format!("  {:<10} {}\n", "recorded", row(&d.figures));
    s += &format!("  {:<10} {}\n", "rematched", row(now));
    let same = *now == d.figures;
    if !same {
        s += "  differs from the recorded figures: the matching rules changed since the run, \
              or the file was edited\n";
    }
    (s, same)
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

/// The calls of `d` that claimed no gap under `out`, its matching
/// (`ipi_dump::misses`), one line
/// each, then a line per gap around it: where it ends against the call's
/// return (+ after it) and how long it lasted, in microseconds.
fn missed(d: &Dump, out: &Outcome) -> String {
    let tol = out.m.fit.tol;
    let misses = ipi_dump::misses(d, out);
    let us = |cycles: f64| cycles / d.tsc_hz * 1e6;
    let mut s = format!(
        "  {} calls long enough to send an IPI claimed no gap (tolerance {:.1} us before, \
         {:.1} us after the return; gaps listed to {:.0} us either side)\n",
        misses.len(),
        us(tol.before as f64),
        us(tol.after as f64),
        ipi_dump::MISS_SPAN_S * 1e6
    );
    for Miss { window, near } in &misses {
        let (ws, we) = *window;
        s += &format!(
            "    call of {:.1} us: {} gaps\n",
            us(we.saturating_sub(ws) as f64),
            near.len()
        );
        for (g, taken) in near {
            s += &format!(
                "      ends {:+9.1} us, lasts {:8.1} us{}\n",
                us(g.end() as f64 - we as f64),
                us(g.cycles as f64),
                if *taken {
                    ", claimed by another call"
                } else {
                    ""
                }
            );
        }
    }
    s
}
