//! `entrybench run --dump-ipi DIR`: what an `ipi.*` row was matched
//! from (its traced check blocks and its merged priced phase: the
//! victim's gaps, the call and control windows, the kernel's labels, the
//! interrupt counts and the TSC skew), written as JSON with the figures
//! the run took from it; `entrybench rematch FILE` runs the same
//! matching (`ipi_check::judge`, `ipi_outcome::Outcome`) on it again.
//!
//! Why: the matching rules were tuned on data dumped by hooks that were
//! not kept, and the runs that missed the seen bar (a host taking 10 to
//! 45% of the victim's time) could not be looked at again. A dump keeps
//! such a stretch for a rule to be tried on offline, and the tests pin
//! the matching on dumps of real runs (`testdata/ipi-dumps/`): the same
//! input must give the figures the run recorded.
//!
//! A dump does not hold the quiet loop (200,000 samples a block, read
//! only for the threshold, which it keeps), so it gives no victim costs.

use super::ipi::Phase;
use super::ipi_check;
use super::ipi_match;
use super::ipi_outcome::Outcome;
use super::Ctx;
use crate::schema::IrqRow;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use workloads::ipi::Gap;

/// Bumped when a dump's layout or meaning changes: `rematch` refuses
/// other formats. 2: phases note the long gaps the victim was switched
/// out in (format 1 had no such note, and its long gaps were all
/// preemptions).
pub const FORMAT: u32 = 2;

/// One `ipi.*` row's matching input and the figures the run took from it.
#[derive(Serialize, Deserialize)]
pub struct Dump {
    pub format: u32,
    pub id: String,
    /// Where it was taken, for a reader: the CPU's brand and uarch, the
    /// hypervisor, the kernel, the UTC time.
    pub taken_on: String,
    pub tsc_hz: f64,
    pub row: IrqRow,
    /// The traced check blocks as run, before merging; None without
    /// them (`--no-trace-check`, or a block could not trace: the row then
    /// fitted against the control).
    pub(crate) check_blocks: Option<Vec<Phase>>,
    pub(crate) priced: Phase,
    /// As the run recorded them.
    pub figures: Figures,
}

/// What matching gives a row, as recorded and as `rematch` finds it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub seen: u64,
    pub fire_ipis: u64,
    pub seen_ratio: f64,
    pub false_match_rate: f64,
    pub control_match_rate: f64,
    /// The timing rule's (before, after) tolerance, TSC cycles.
    pub tolerance: (u64, u64),
    /// Whether it was fitted to the trace check's labels.
    pub fit_to_trace: bool,
}

impl Figures {
    pub(crate) fn of(out: &Outcome) -> Figures {
        Figures {
            seen: out.seen,
            fire_ipis: out.fire_ipis,
            seen_ratio: out.seen_ratio(),
            false_match_rate: out.false_rate,
            control_match_rate: out.control_rate,
            tolerance: (out.m.fit.tol.before, out.m.fit.tol.after),
            fit_to_trace: out.m.fit_to_trace,
        }
    }
}

/// The matching of `d`, run again.
pub fn rematch(d: &Dump) -> Figures {
    Figures::of(&outcome(d))
}

/// What matching `d` again gives (`rematch`'s figures come from it, and
/// `misses` reads it).
pub(crate) fn outcome(d: &Dump) -> Outcome {
    let check = d
        .check_blocks
        .clone()
        .and_then(|b| ipi_check::judge(d.tsc_hz, b, d.row).ok());
    Outcome::of(d.tsc_hz, d.row, &d.priced, check.as_ref())
}

/// How far either side of a missed call's return `misses` lists gaps.
pub const MISS_SPAN_S: f64 = 200e-6;

/// A priced call long enough to have sent an IPI (`Tolerance::may_claim`)
/// that claimed no gap, and the victim's gaps around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Miss {
    /// TSC at the call's start and return.
    pub window: (u64, u64),
    /// The gaps overlapping the call or ending within `MISS_SPAN_S` of its
    /// return, in time order, and whether another call claimed each.
    pub near: Vec<(Gap, bool)>,
}

/// Why a run saw fewer IPIs than it sent, for a reader of a dump
/// (`rematch --misses`): the calls that claimed no gap under the
/// tolerance `out` (`outcome` of `d`) matched with. Not every such call
/// sent an IPI (a guest's flush skips a preempted vCPU), so there can be
/// more of them than IPIs missed.
pub(crate) fn misses(d: &Dump, out: &Outcome) -> Vec<Miss> {
    let (tol, skew) = (out.m.fit.tol, out.m.skew);
    let (gaps, windows) = (&d.priced.gaps, &d.priced.fired.windows);
    let picks = ipi_match::claims(gaps, windows, skew, tol, Some(d.priced.off_cpu(d.tsc_hz)));
    let taken: std::collections::HashSet<usize> = picks.iter().flatten().map(|p| p.gap).collect();
    let span = (MISS_SPAN_S * d.tsc_hz) as u64;
    windows
        .iter()
        .zip(&picks)
        .filter(|&(&w, pick)| pick.is_none() && tol.may_claim(w))
        .map(|(&(ws, we), _)| {
            let (lo, hi) = (ws.min(we.saturating_sub(span)), we.saturating_add(span));
            // Gaps are disjoint and in time order: their ends are too.
            let first = gaps.partition_point(|g| g.end() < lo);
            let near = (first..gaps.len())
                .take_while(|&i| gaps[i].start <= hi)
                .map(|i| (gaps[i], taken.contains(&i)))
                .collect();
            Miss {
                window: (ws, we),
                near,
            }
        })
        .collect()
}

/// Writes an `ipi.*` row's matching input into `dir`, and says where on
/// stderr, or why not: a dump that cannot be written costs the row
/// nothing.
pub(crate) fn write_row(
    ctx: &Ctx,
    dir: &Path,
    id: String,
    row: IrqRow,
    check_blocks: Option<Vec<Phase>>,
    priced: &Phase,
    figures: Figures,
) {
    let cpu = &ctx.env.cpu;
    let d = Dump {
        format: FORMAT,
        taken_on: format!(
            "{} ({}, {}), {}, {}",
            cpu.brand,
            cpu.uarch,
            cpu.hypervisor.as_deref().unwrap_or("no hypervisor"),
            ctx.env
                .platform
                .as_ref()
                .map_or("kernel unknown", |p| p.kernel_release.as_str()),
            report::model::host::rfc3339(std::time::SystemTime::now())
        ),
        tsc_hz: ctx.timer.tsc_hz,
        row,
        check_blocks,
        priced: matching_input(priced),
        figures,
        id,
    };
    // On stderr, not in the row's notes: the report is pasted into
    // mail, and a local path means nothing there.
    match write(dir, &d) {
        Ok(p) => eprintln!(
            "entrybench: {}: matching input dumped to {}",
            d.id,
            p.display()
        ),
        Err(e) => eprintln!("entrybench: {}: no dump: {e:#}", d.id),
    }
}

/// A phase as matching reads it: all but the quiet loop, which a dump
/// does not keep (copying it would cost 1.6 MB a block for nothing).
pub(crate) fn matching_input(p: &Phase) -> Phase {
    Phase {
        threshold: p.threshold,
        skew: p.skew,
        quiet: Vec::new(),
        before: p.before,
        after: p.after,
        spin: p.spin,
        gaps: p.gaps.clone(),
        switched: p.switched.clone(),
        fired: p.fired.clone(),
        labels: p.labels.clone(),
    }
}

/// Reads a dump, refusing another format.
pub fn read(path: &Path) -> Result<Dump> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    // The format first, so an old or foreign file gets that message and
    // not a missing-field one.
    #[derive(Deserialize)]
    struct Head {
        format: Option<u32>,
    }
    let head: Head =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    match head.format {
        Some(FORMAT) => {}
        Some(f) => bail!(
            "{} is an IPI dump of format {f}; this build reads format {FORMAT}",
            path.display()
        ),
        None => bail!(
            "{} is not an IPI dump (no \"format\"; `entrybench run --dump-ipi DIR` writes them)",
            path.display()
        ),
    }
    let d: Dump = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a whole IPI dump", path.display()))?;
    plausible(&d)
        .with_context(|| format!("{} is not an IPI dump entrybench wrote", path.display()))?;
    Ok(d)
}

/// What matching takes for granted of a dump entrybench wrote: a TSC
/// rate, a skew under a second, a phase shorter than a day, and gaps,
/// switched gaps, windows and label times in time order (matching
/// searches them).
/// Anything else was edited or is not a dump: refused rather than matched
/// into figures that mean nothing (or an overflow).
fn plausible(d: &Dump) -> Result<()> {
    if !(d.tsc_hz.is_finite() && (1e6..1e12).contains(&d.tsc_hz)) {
        bail!("its TSC rate {} Hz is not one a CPU has", d.tsc_hz);
    }
    let in_order = |v: &[(u64, u64)]| v.windows(2).all(|w| w[0].0 <= w[1].0);
    for p in d.check_blocks.iter().flatten().chain([&d.priced]) {
        let labels_in_order = match &p.labels {
            Some(Ok(l)) => l.times.windows(2).all(|w| w[0] <= w[1]),
            _ => true,
        };
        if !(p.gaps.windows(2).all(|w| w[0].start <= w[1].start)
            && p.switched.windows(2).all(|w| w[0] <= w[1])
            && in_order(&p.fired.windows)
            && in_order(&p.fired.controls)
            && labels_in_order)
        {
            bail!("its gaps, switched gaps, windows or label times are not in time order");
        }
        let skew = p
            .skew
            .a_to_b
            .unsigned_abs()
            .max(p.skew.b_to_a.unsigned_abs());
        if skew as f64 > d.tsc_hz {
            bail!("its TSC skew is over a second");
        }
        if p.fired.elapsed.as_secs() > 86_400 {
            bail!("a phase of it lasted over a day");
        }
    }
    Ok(())
}

/// Writes `d` into `dir` as `<id>.json`, or `<id>-2.json` and so on
/// when that exists: never over a file already there.
pub fn write(dir: &Path, d: &Dump) -> Result<PathBuf> {
    let text = serde_json::to_string(d).context("cannot serialise the IPI dump")?;
    for k in 1..1000 {
        let name = if k == 1 {
            format!("{}.json", d.id)
        } else {
            format!("{}-{k}.json", d.id)
        };
        let path = dir.join(name);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                f.write_all(text.as_bytes())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
        }
    }
    bail!("{} holds 999 dumps of {} already", dir.display(), d.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stored dumps by name: a trace-fitted one with two stalls, and
    /// one fitted against the control.
    const TRACED: &str = "emerald-rapids-kvm-20261130T1640-ipi.user.mprotect.json";
    const CONTROL: &str = "emerald-rapids-kvm-20261130T1640-ipi.user.munmap-no-trace-check.json";

    fn stored_one(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/ipi-dumps")
            .join(name)
    }

    fn stored() -> Vec<PathBuf> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/ipi-dumps");
        let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        v.sort();
        v
    }

    /// The dumps of real runs match as they did in the run: the check's
    /// fit and the control's alike (one dump of each).
    #[test]
    fn stored_dumps_give_their_recorded_figures() {
        let files = stored();
        let dumps: Vec<Dump> = files.iter().map(|f| read(f).unwrap()).collect();
        assert!(dumps.iter().any(|d| d.figures.fit_to_trace));
        assert!(dumps.iter().any(|d| !d.figures.fit_to_trace));
        for (f, d) in files.iter().zip(&dumps) {
            assert_eq!(rematch(d), d.figures, "{}", f.display());
            assert!(d.figures.fire_ipis > 400, "{}", f.display());
        }
    }

    /// Matching reads the dump: with the calls' windows gone, nothing is
    /// seen, so the comparison `rematch` makes can fail.
    #[test]
    fn a_changed_dump_gives_other_figures() {
        let mut d = read(&stored_one(TRACED)).unwrap();
        d.priced.fired.windows.clear();
        let now = rematch(&d);
        assert_eq!(now.seen, 0);
        assert_ne!(now, d.figures);
    }

    /// A second dump of an id goes beside the first, never over it, and
    /// reads back whole.
    #[test]
    fn dumps_are_never_overwritten_and_read_back() {
        let d = read(&stored_one(TRACED)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), &d).unwrap();
        let b = write(dir.path(), &d).unwrap();
        assert_eq!(a.file_name().unwrap(), format!("{}.json", d.id).as_str());
        assert_eq!(b.file_name().unwrap(), format!("{}-2.json", d.id).as_str());
        let back = read(&b).unwrap();
        assert_eq!((back.figures, back.id), (d.figures, d.id));
    }

    /// The stored trace dump's two stalls count as seen; noted as
    /// switched out, they would be preemptions, not seen (both began
    /// before their call: the victim was off its loop when it began).
    #[test]
    fn stalls_are_seen_and_switched_long_gaps_are_not() {
        let mut d = read(&stored_one(TRACED)).unwrap();
        let long = super::super::ipi::preemption_cycles(d.tsc_hz);
        let before = rematch(&d);
        assert_eq!(before, d.figures);
        d.priced.switched = d
            .priced
            .gaps
            .iter()
            .filter(|g| g.cycles > long)
            .map(|g| g.start)
            .collect();
        let after = rematch(&d);
        assert_eq!(before.seen - after.seen, 2, "{before:?} {after:?}");
        let o = outcome(&d);
        assert_eq!((o.m.seen.preempted.len(), o.m.seen.switched.len()), (2, 0));
    }

    /// A check too thin to stand on gives the control's fit, in the run
    /// and in `rematch` alike.
    #[test]
    fn a_thin_check_falls_back_to_the_control() {
        let mut d = read(&stored_one(TRACED)).unwrap();
        assert!(d.figures.fit_to_trace);
        for b in d.check_blocks.iter_mut().flatten() {
            b.fired.windows.truncate(20);
        }
        let now = rematch(&d);
        assert!(!now.fit_to_trace);
        assert_eq!(
            now,
            Figures::of(&Outcome::of(d.tsc_hz, d.row, &d.priced, None))
        );
    }

    /// What matching takes for granted is checked on reading.
    #[test]
    fn implausible_dumps_are_refused() {
        let text = std::fs::read_to_string(stored_one(CONTROL)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.json");
        type Change = fn(&mut serde_json::Value);
        let cases: [(&str, Change); 3] = [
            ("TSC rate", |v| v["tsc_hz"] = 0.0.into()),
            ("time order", |v| {
                v["priced"]["gaps"].as_array_mut().unwrap().reverse();
            }),
            ("over a second", |v| {
                v["priced"]["skew"]["a_to_b"] = i64::MAX.into()
            }),
        ];
        for (want, change) in cases {
            let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
            change(&mut v);
            std::fs::write(&p, v.to_string()).unwrap();
            let e = format!("{:#}", read(&p).err().unwrap());
            assert!(
                e.contains("not an IPI dump entrybench wrote") && e.contains(want),
                "{e}"
            );
        }
    }

    #[test]
    fn other_files_are_refused_with_what_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("not JSON", "{", "is not JSON"),
            (
                "a result file",
                r#"{"schema_version":3}"#,
                "is not an IPI dump",
            ),
            (
                "a later format",
                r#"{"format":99}"#,
                "format 99; this build reads format 2",
            ),
            (
                "a cut dump",
                r#"{"format":2,"id":"ipi.user.mprotect"}"#,
                "is not a whole IPI dump",
            ),
        ];
        for (what, text, want) in cases {
            let p = dir.path().join("x.json");
            std::fs::write(&p, text).unwrap();
            let e = format!("{:#}", read(&p).err().unwrap());
            assert!(e.contains(want), "{what}: {e}");
        }
        let e = format!("{:#}", read(&dir.path().join("none.json")).err().unwrap());
        assert!(e.contains("cannot read"), "{e}");
    }
}
