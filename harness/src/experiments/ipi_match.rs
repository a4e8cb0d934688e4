//! Which of the victim's gaps are the initiator's IPIs.
//!
//! A shootdown (or membarrier) is synchronous: the initiator's call
//! returns only after the victim's handler has run and acknowledged. So
//! the victim's gap ends just before the call returns (or just after:
//! the victim's way out of the handler races the initiator's way out of
//! the call), wherever in a long call the IPI was sent. A gap is the
//! call's IPI when it overlaps the call's window and ends within a
//! tolerance of the call's return; a 29 us mprotect then no longer claims
//! an unrelated tick that happened to start inside it. (One that began
//! before the call is an IPI handled at the end of another interruption:
//! seen, not priced.)
//!
//! The initiator may be held up after the acknowledgement (preempted,
//! interrupted) before its call returns: that moves the return away from
//! the gap's end by the delay, and makes the call longer than usual by
//! as much. So the tolerance before the return is widened by how much
//! longer than usual (the median call) the call took.
//!
//! Where the kernel can be traced, the tolerance is fitted to its
//! labels of the IPIs' gaps instead (`ipi_fit::fit_tolerance`, in the
//! check phase of `ipi_check`); what follows is the fit without them.
//!
//! The tolerance is fitted on the run's own data against the control
//! (no-IPI windows of the same lengths, interleaved with the calls): each
//! gap overlapping a window gives an offset, return minus gap end,
//! less the delay. True IPIs pile up near zero;
//! a victim held up after its handler (a guest's exit path, a
//! preemption) spreads them out after the return, and chance gaps spread
//! everywhere, in the control's windows as in the calls'. The tolerance
//! is the pair (before, after) that maximises the share of calls with a
//! gap within it less the share of control windows with one
//! (`Tolerance::fit`): it widens for as long as it takes in more calls
//! than chance explains. It was a fixed rule (twice the pile's 10th and
//! 90th percentiles, at least 1 us, plus a guessed 2 us of TSC skew);
//! on a noisy KVM guest the fitted one saw at least 99% of the TLB
//! count, with at most 2% of held-out control windows matched, in 7 of
//! 10 quick runs against 2 of 10.

use workloads::ipi::Gap;

/// The tolerance grid, each side: `GRID_STEPS` geometric steps from the
/// TSC skew plus `GRID_MIN_S` to `GRID_MAX_S`. The low end is below any
/// IPI's exit path; at the high end a gap ends as long after the return
/// as an IPI takes on a slow guest, and past it a match says nothing.
pub const GRID_MIN_S: f64 = 0.1e-6;
pub const GRID_MAX_S: f64 = 20e-6;
pub const GRID_STEPS: usize = 40;

/// How close to the call's return a gap must end, cycles: gap end in
/// `[return - before - delay, return + after]`, the delay being how much
/// longer than usual the call took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tolerance {
    pub before: u64,
    pub after: u64,
    /// The usual call length (`USUAL` percentile), cycles: only the
    /// excess over it counts as a delay.
    pub usual_call: u64,
    /// Where the trace's labels put most IPIs' gap ends
    /// (`ipi_fit::core_band`): a gap ending in it, and as long as an IPI's,
    /// is preferred to a longer one ending elsewhere in the tolerance.
    /// None without labels: the longest gap wins.
    pub core: Option<Core>,
    /// Calls shorter than this claim no gap, cycles (`min_call`): too
    /// short to have waited for an IPI's acknowledgement.
    pub min_call: u64,
}

/// The core band (`Tolerance::core`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Core {
    /// Cycles before and after the return (raw: no delay taken off).
    pub band: (u64, u64),
    /// Shorter gaps get no preference, cycles: half the shortest
    /// labelled gap. A flush's IPI gap is often followed by a gap of
    /// 0.2-0.4 us (on the PVM guest, after IPI gaps of 8-10 us) that ends
    /// nearer the return; in the band, it beat the IPI's gap ending just
    /// outside, and one quick run's check counted 11 such wrong picks
    /// (2.17%, over the bar; `results/checks/core-min-gap-20261130T2250.txt`).
    pub min_gap: u64,
}

/// Percentile taken as "usual": the median call. A delay after the
/// acknowledgement stretches any call, fast ones too: measured against
/// the 90th percentile, a fast call held up by a few microseconds stayed
/// "usual" and its IPI was missed (seen 97.6-98.5% of the TLB count on a
/// noisy Emerald Rapids guest; with the median 99.5-100% in 4 of 5 runs,
/// the no-IPI control matching 0.2-1.9%).
const USUAL: f64 = 50.0;

/// The usual call is this many times the shortest that may claim a gap.
pub const MIN_CALL_DIVISOR: u64 = 3;

/// The shortest call that may claim a gap (`Tolerance::min_call`), cycles:
/// a third of the usual call of the same windows.
///
/// A flush waits for the victim's acknowledgement, so a call that sent an
/// IPI lasts at least its round trip. On the PVM guest some calls sent
/// none and returned at once while the victim was off its loop; they
/// picked the long gap it was in, and those wrong picks narrowed the
/// label fit until one run saw 94.6% of the IPIs. Calls with an IPI were
/// never under 0.61 of the median (`results/checks/min-call-20261130T1700.txt`).
/// Relative to the usual call, it needs no trace and follows each phase;
/// `trace_check.min_call_labelled` counts the held-out IPIs it drops.
fn min_call(usual_call: u64) -> u64 {
    usual_call / MIN_CALL_DIVISOR
}

/// `min_call`'s rule in words, for the result file.
pub fn min_call_rule() -> String {
    format!(
        "calls shorter than 1/{MIN_CALL_DIVISOR} of the usual call claim no gap: a flush waits \
         for the victim's acknowledgement, so a call that short sent no IPI (on a guest, most \
         likely because the paravirtual flush skipped a preempted victim vCPU)"
    )
}

/// `USUAL` percentile of values (0 for none).
pub(crate) fn usual(v: impl Iterator<Item = u64>) -> u64 {
    let mut v: Vec<i64> = v.map(|x| x.min(i64::MAX as u64) as i64).collect();
    v.sort_unstable();
    let p = report::model::stats::percentile_sorted(&v, USUAL);
    if p.is_finite() {
        p as u64
    } else {
        0
    }
}

/// The gaps overlapping each window (widened by `skew`), in order, as
/// (window, index range into `gaps`): those starting inside it and one
/// already running when it began. Gaps come from one loop, so they are
/// disjoint and their ends in order too; windows are in time order.
pub(crate) fn overlapping<'a>(
    gaps: &'a [Gap],
    windows: &'a [(u64, u64)],
    skew: u64,
) -> impl Iterator<Item = ((u64, u64), std::ops::Range<usize>)> + 'a {
    let mut first = 0;
    windows.iter().map(move |&(ws, we)| {
        let (lo, hi) = (ws.saturating_sub(skew), we.saturating_add(skew));
        while first < gaps.len() && gaps[first].end() < lo {
            first += 1;
        }
        let end = first + gaps[first..].iter().take_while(|g| g.start <= hi).count();
        ((ws, we), first..end)
    })
}

/// n of `of` as a share (0 of none).
pub(crate) fn share(n: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        n as f64 / of as f64
    }
}

/// `steps` geometric steps from `lo` to `hi` (at least `lo`, cycles).
pub(crate) fn grid(lo: u64, hi: u64, steps: usize) -> Vec<u64> {
    let (lo, hi) = (lo.max(1) as f64, hi.max(lo.max(1)) as f64);
    let r = (hi / lo).powf(1.0 / (steps.max(2) - 1) as f64);
    let mut v: Vec<u64> = (0..steps.max(2))
        .map(|i| (lo * r.powi(i as i32)).round() as u64)
        .collect();
    v.dedup();
    v
}

impl Tolerance {
    /// The (before, after) tolerance of windows whose usual call is
    /// `usual_call`, with the core band `core`; the shortest call that
    /// may claim a gap follows from the usual one (`min_call`).
    pub fn new((before, after): (u64, u64), usual_call: u64, core: Option<Core>) -> Tolerance {
        Tolerance {
            before,
            after,
            usual_call,
            core,
            min_call: min_call(usual_call),
        }
    }

    /// Call return minus gap end, less the call's delay when the gap
    /// ended early (never past zero).
    pub fn offset(&self, (ws, we): (u64, u64), g: Gap) -> i64 {
        let d = raw_offset((ws, we), g);
        if d > 0 {
            let delay = (we.saturating_sub(ws)).saturating_sub(self.usual_call) as i64;
            (d - delay).max(0)
        } else {
            d
        }
    }

    /// Whether call `w` lasted long enough to have sent an IPI
    /// (`min_call`).
    pub(crate) fn may_claim(&self, w: (u64, u64)) -> bool {
        w.1.saturating_sub(w.0) >= self.min_call
    }

    /// Whether gap `g` ends close enough to the return of call `w`, a
    /// call that may claim one.
    fn near(&self, w: (u64, u64), g: Gap) -> bool {
        self.may_claim(w) && in_band(self.offset(w, g), (self.before, self.after))
    }

    /// Whether gap `g` ends in the core band around the return of call
    /// `w`, by the raw distance (a gap that ended early in a delayed call
    /// is near by `offset`, not here).
    fn in_core(&self, w: (u64, u64), g: Gap) -> bool {
        self.core
            .is_some_and(|c| g.cycles >= c.min_gap && in_band(raw_offset(w, g), c.band))
    }
}

/// How far before the return of call `w` gap `g` ends, cycles (negative:
/// after it), no delay taken off: `Tolerance::offset` before its delay,
/// the core band's measure.
pub fn raw_offset((_, we): (u64, u64), g: Gap) -> i64 {
    we.wrapping_sub(g.end()) as i64
}

/// Whether a return-minus-gap-end distance `d` lies from `after` after
/// the return to `before` before it.
fn in_band(d: i64, (before, after): (u64, u64)) -> bool {
    d <= before as i64 && -d <= after as i64
}

/// The gaps a set of windows claimed, and the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claimed {
    /// Gaps that began inside the window that claimed them: the IPI's
    /// own interruption, priced.
    pub hit: Vec<Gap>,
    /// Gaps already running when the window began (widened by the skew)
    /// that ended at its return: the IPI arrived while the victim was
    /// off its loop (a host preemption, a tick) and was handled at the
    /// end of that gap. Seen, not priced: the gap is mostly the other
    /// interruption.
    pub merged: Vec<Gap>,
    /// Gaps in which the victim thread was switched out that held the
    /// return of a call which claimed no gap near it (`OffCpu`): the IPI
    /// interrupted the task that held the victim CPU. Seen, not priced.
    pub off_cpu: Vec<Gap>,
    pub miss: Vec<Gap>,
}

/// Where a call that returned while the victim thread was switched out
/// finds its IPI (`attribute_off`): the long gaps with a switch.
///
/// While another task holds the victim CPU the victim's mm stays in the
/// CPU's mask, and a flush can still send it an IPI, which interrupts
/// that task: the victim's loop sees nothing, its gap (the whole time
/// it was out) ends a millisecond or more after the return, past any
/// tolerance. In the check blocks of 60 quick `ipi.user.mprotect` runs
/// on the Zen 4 guest with a task pinned to the victim CPU (busy 1 ms in
/// 5, or 10 in 60), 8,545 calls returned inside such a gap: the 8,157
/// shorter than 0.6 of the usual call held no event of the IPI's
/// function (they sent no IPI: the kernel skips a CPU that has another
/// mm loaded), 334 of the 388 at or over it held one
/// (`results/checks/off-cpu-calls-20261202T0115.txt`).
#[derive(Debug, Clone, Copy)]
pub struct OffCpu<'a> {
    /// Gaps over this (`ipi::preemption_cycles`) only.
    pub long: u64,
    /// Their starts where the thread was switched out
    /// (`Phase::switched`), sorted.
    pub switched: &'a [u64],
}

/// The shortest call, as a share of the usual one, that claims the
/// switched gap its return lies in (`OffCpu`).
pub const OFF_CPU_MIN_CALL: f64 = 0.6;

impl OffCpu<'_> {
    /// Whether the thread was switched out in gap `g` (over `long`).
    pub fn is_switched(&self, g: &Gap) -> bool {
        g.cycles > self.long && self.switched.binary_search(&g.start).is_ok()
    }

    /// The gap of `gaps` (not `taken`) that call `w` of `tol` returned
    /// in (widened by `skew`), if this rule claims it.
    fn pick(
        &self,
        gaps: &[Gap],
        taken: &[bool],
        w: (u64, u64),
        tol: &Tolerance,
        skew: u64,
    ) -> Option<usize> {
        let call = w.1.saturating_sub(w.0) as f64;
        if call < OFF_CPU_MIN_CALL * tol.usual_call as f64 {
            return None;
        }
        let i = gaps
            .partition_point(|g| g.start <= w.1.saturating_add(skew))
            .checked_sub(1)?;
        let g = gaps[i];
        (!taken[i] && g.end().saturating_add(skew) > w.1 && self.is_switched(&g)).then_some(i)
    }
}

/// `OffCpu`'s rule in words, for the result file.
pub fn off_cpu_rule() -> String {
    format!(
        "a call that claimed no gap near its return and returned inside a gap over the \
         preemption length in which the victim thread was switched out claims that gap if it \
         lasted at least {OFF_CPU_MIN_CALL} of the usual call (it waited for an \
         acknowledgement): its IPI interrupted the task that held the victim CPU (not in the \
         control: a control window copies a call's length, not its wait)"
    )
}

/// What a window claimed: the gap's index, and whether by the off-CPU
/// rule (`OffCpu`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pick {
    pub gap: usize,
    pub off_cpu: bool,
}

/// Splits gaps into ours and others: each call window claims the longest
/// unclaimed gap overlapping it (widened by `skew` for the TSC offset
/// between the CPUs) that ends within `tol` of the call's return. One
/// call, at most one gap, so a tick in the same window does not count
/// twice. A claimed gap that began before the window is `merged`: an IPI
/// cannot arrive before the call sends it, so it landed in a gap already
/// running. (Preferring the gap ending nearest the return instead of the
/// longest took sub-microsecond gaps that followed the IPI's on a guest
/// where no IPI costs under 7 us.) Gaps come from one loop, so they are
/// disjoint and in time order; windows are in time order.
///
/// With a core band (`Tolerance::core`, from the trace's labels), a gap
/// ending in it goes before longer ones ending elsewhere: on a PVM guest
/// a long call often held an unlabelled gap of 25-35 us near its start
/// that the delay allowance brought within the tolerance, and the
/// longest-gap rule took it over the IPI's 11 us gap at the return.
pub fn attribute(gaps: &[Gap], windows: &[(u64, u64)], skew: u64, tol: Tolerance) -> Claimed {
    attribute_with(gaps, windows, skew, tol, None)
}

/// `attribute`, and then each call that claimed no gap near its return
/// claims the switched gap it returned in (`OffCpu`), in a second pass:
/// a near claim never loses its gap to another call's off-CPU one. The
/// rule the priced phase, the check and the label fit count by.
pub fn attribute_off(
    gaps: &[Gap],
    windows: &[(u64, u64)],
    skew: u64,
    tol: Tolerance,
    off: OffCpu,
) -> Claimed {
    attribute_with(gaps, windows, skew, tol, Some(off))
}

fn attribute_with(
    gaps: &[Gap],
    windows: &[(u64, u64)],
    skew: u64,
    tol: Tolerance,
    off: Option<OffCpu>,
) -> Claimed {
    let mut claimed = vec![None; gaps.len()];
    let mut off_cpu = Vec::new();
    for (&w, pick) in windows.iter().zip(claims(gaps, windows, skew, tol, off)) {
        match pick {
            Some(Pick { gap, off_cpu: true }) => off_cpu.push(gap),
            Some(Pick { gap, .. }) => claimed[gap] = Some(w.0.saturating_sub(skew)),
            None => {}
        }
    }
    let mut c = Claimed::split(gaps, claimed);
    off_cpu.sort_unstable();
    // The off-CPU gaps were left unclaimed in the split: move them.
    c.miss.retain(|g| {
        off_cpu
            .binary_search_by_key(&g.start, |&i| gaps[i].start)
            .is_err()
    });
    c.off_cpu = off_cpu.into_iter().map(|i| gaps[i]).collect();
    c
}

/// `attribute`'s rule, call by call (with `off`, `attribute_off`'s): the
/// gap each window claimed, None where it claimed none
/// (`ipi_dump::misses` lists those).
pub(crate) fn claims(
    gaps: &[Gap],
    windows: &[(u64, u64)],
    skew: u64,
    tol: Tolerance,
    off: Option<OffCpu>,
) -> Vec<Option<Pick>> {
    let mut taken = vec![false; gaps.len()];
    let mut picks: Vec<Option<Pick>> = overlapping(gaps, windows, skew)
        .map(|(w, range)| {
            let key = |i: usize| (tol.in_core(w, gaps[i]), gaps[i].cycles);
            let best = range.filter(|&i| !taken[i] && tol.near(w, gaps[i])).fold(
                None,
                |best: Option<usize>, i| match best {
                    Some(b) if key(b) >= key(i) => Some(b),
                    _ => Some(i),
                },
            );
            if let Some(i) = best {
                taken[i] = true;
            }
            best.map(|gap| Pick {
                gap,
                off_cpu: false,
            })
        })
        .collect();
    if let Some(o) = off {
        for (pick, &w) in picks.iter_mut().zip(windows) {
            if pick.is_none() {
                *pick = o.pick(gaps, &taken, w, &tol, skew).map(|gap| {
                    taken[gap] = true;
                    Pick { gap, off_cpu: true }
                });
            }
        }
    }
    picks
}

impl Claimed {
    /// Sorts gaps by what claimed them: `claimed[i]` is where the window
    /// that claimed gap i began (widened by the skew), None for none. A
    /// gap that began before its window is merged.
    pub fn split(gaps: &[Gap], claimed: Vec<Option<u64>>) -> Claimed {
        let mut out = Claimed::default();
        for (g, c) in gaps.iter().zip(claimed) {
            match c {
                Some(from) if g.start >= from => out.hit.push(*g),
                Some(_) => out.merged.push(*g),
                None => out.miss.push(*g),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(start: u64, cycles: u64) -> Gap {
        Gap { start, cycles }
    }

    const WIDE: Tolerance = Tolerance {
        before: u64::MAX / 4,
        after: u64::MAX / 4,
        usual_call: 0,
        core: None,
        min_call: 0,
    };

    /// Before/after tolerances with usual lengths that never widen.
    fn tol(before: u64, after: u64) -> Tolerance {
        Tolerance {
            before,
            after,
            usual_call: u64::MAX / 4,
            core: None,
            min_call: 0,
        }
    }

    #[test]
    fn a_gap_is_ours_when_it_ends_at_the_calls_return() {
        // Call 1 (100, 1000) is long: an unrelated tick starts early in it
        // and ends long before it returns; its IPI ends at 990.
        let windows = [(100, 1000), (5000, 5050)];
        let gaps = [
            g(150, 200),  // tick inside call 1, ends at 350: not ours
            g(900, 90),   // IPI of call 1: ends at 990, 10 before return
            g(3000, 100), // between calls
            g(5020, 35),  // IPI of call 2: ends at 5055, 5 after return
        ];
        let Claimed { hit, miss, .. } = attribute(&gaps, &windows, 0, tol(50, 10));
        assert_eq!(hit, vec![g(900, 90), g(5020, 35)]);
        assert_eq!(miss, vec![g(150, 200), g(3000, 100)]);
        // The loose rule (any gap in the window) takes the longer tick.
        let Claimed { hit, .. } = attribute(&gaps, &windows, 0, WIDE);
        assert_eq!(hit, vec![g(150, 200), g(5020, 35)]);
        // Ending later than `after` past the return: not ours.
        assert_eq!(
            attribute(&gaps, &windows, 0, tol(50, 4)).hit,
            vec![g(900, 90)]
        );
    }

    /// A call shorter than `min_call` claims nothing, even a gap ending
    /// at its return; one as long claims it. `Tolerance::given` sets it
    /// to a third of the windows' usual call.
    #[test]
    fn a_call_too_short_to_have_waited_claims_no_gap() {
        let windows = [(100, 130), (1000, 1100), (2000, 2100), (3000, 3100)];
        let gaps = [g(90, 45), g(1050, 55), g(2050, 55), g(3050, 55)];
        let t = Tolerance {
            min_call: 31,
            ..tol(50, 10)
        };
        let c = attribute(&gaps, &windows, 0, t);
        assert_eq!(c.merged, vec![]);
        assert_eq!(c.hit.len(), 3);
        assert_eq!(c.miss, vec![g(90, 45)]);
        let t = Tolerance { min_call: 30, ..t };
        assert_eq!(attribute(&gaps, &windows, 0, t).merged, vec![g(90, 45)]);
        let fit = Tolerance::given(&gaps, &windows, &[], 0, (50, 10), None);
        assert_eq!((fit.tol.usual_call, fit.tol.min_call), (100, 33));
    }

    #[test]
    fn an_initiator_held_up_after_the_acknowledgement_is_allowed_for() {
        // Usual call 100 cycles. Call (0, 400) was held up 300 cycles
        // after the victim acknowledged: its IPI ended at 90, 310 before
        // the return, within 20 + 300.
        let t = Tolerance {
            before: 20,
            after: 20,
            usual_call: 100,
            core: None,
            min_call: 0,
        };
        assert_eq!(t.offset((0, 400), g(50, 40)), 10);
        assert_eq!(attribute(&[g(50, 40)], &[(0, 400)], 0, t).hit.len(), 1);
        // A call of usual length with the same early gap: 310 before,
        // not ours.
        assert_eq!(attribute(&[g(50, 40)], &[(300, 400)], 0, t).hit.len(), 0);
        // A long gap ending far after the return (the victim held up, or
        // a preemption that began in the call) is not widened for.
        assert_eq!(t.offset((0, 100), g(50, 240)), -190);
        assert_eq!(attribute(&[g(50, 240)], &[(0, 100)], 0, t).hit.len(), 0);
    }

    #[test]
    fn a_gap_ending_in_the_core_band_goes_before_a_longer_one() {
        // A delayed call (40,000 cycles, usual 20,000): a 26,000-cycle gap
        // near its start ends 13,000 before the return, 0 once the delay
        // is taken off; the IPI's 11,000-cycle gap ends 1,000 before the
        // return; a 300-cycle gap follows it, ending 500 before.
        let (early, ipi, after) = (g(1_000, 26_000), g(28_000, 11_000), g(39_200, 300));
        let gaps = [early, ipi, after];
        let w = [(0, 40_000)];
        let mut t = Tolerance {
            before: 2_000,
            after: 2_000,
            usual_call: 20_000,
            core: None,
            min_call: 0,
        };
        // Without a band, the longest within the tolerance.
        assert_eq!(attribute(&gaps, &w, 0, t).hit, vec![early]);
        // With a band reaching 1,500 before the return and 100 after:
        // of the two gaps ending in it, the longer (not the nearer).
        let core = |band| Some(Core { band, min_gap: 0 });
        t.core = core((1_500, 100));
        assert_eq!(attribute(&gaps, &w, 0, t).hit, vec![ipi]);
        // The band is before the return, not after it: mirrored, it
        // holds neither, and the longest wins again.
        t.core = core((100, 1_500));
        assert_eq!(attribute(&gaps, &w, 0, t).hit, vec![early]);
        // The band is raw: the early gap, at 0 after the delay, is not in
        // it, so it loses to a short gap that is; alone, the tolerance
        // still takes it.
        t.core = core((1_500, 100));
        assert_eq!(attribute(&[early, after], &w, 0, t).hit, vec![after]);
        assert_eq!(attribute(&[early], &w, 0, t).hit, vec![early]);
    }

    #[test]
    fn a_gap_shorter_than_an_ipi_gets_no_preference_from_the_band() {
        // The IPI's 9,000-cycle gap ends 700 before the return, just
        // outside a band reaching 600 before it; a 400-cycle gap follows
        // it and ends 100 before the return, inside the band.
        let (ipi, trailing) = (g(30_000, 9_000), g(39_200, 400));
        let w = [(0, 39_700)];
        let with = |min_gap| Tolerance {
            before: 2_000,
            after: 2_000,
            usual_call: 40_000,
            core: Some(Core {
                band: (600, 100),
                min_gap,
            }),
            min_call: 0,
        };
        // With no floor, the band takes the short gap.
        assert_eq!(
            attribute(&[ipi, trailing], &w, 0, with(0)).hit,
            vec![trailing]
        );
        // With the floor (half the shortest labelled gap, say 4,000
        // cycles), the short gap is only the shorter of two in the
        // tolerance, and the IPI's gap wins.
        assert_eq!(
            attribute(&[ipi, trailing], &w, 0, with(4_000)).hit,
            vec![ipi]
        );
        // A gap in the band as long as the floor keeps its preference
        // over a longer one outside it.
        let (outside, in_band) = (g(29_000, 9_500), g(38_600, 1_100));
        assert_eq!(
            attribute(&[outside, in_band], &w, 0, with(1_000)).hit,
            vec![in_band]
        );
    }

    #[test]
    fn a_gap_running_before_the_call_is_merged_not_priced() {
        // Ends right at the return, but began before the call: the IPI
        // landed in a gap already running (a preemption) and was handled
        // at its end. Seen, not priced.
        let c = attribute(&[g(50, 145)], &[(100, 200)], 10, WIDE);
        assert_eq!(
            (c.hit, c.merged, c.miss),
            (vec![], vec![g(50, 145)], vec![])
        );
        // Ending far from the return, it is not the call's.
        let c = attribute(&[g(50, 60)], &[(100, 200)], 10, tol(20, 20));
        assert_eq!((c.merged, c.miss), (vec![], vec![g(50, 60)]));
        // Within the skew it may be ours.
        let Claimed { hit, .. } = attribute(&[g(95, 100)], &[(100, 200)], 10, WIDE);
        assert_eq!(hit, vec![g(95, 100)]);
    }

    #[test]
    fn one_gap_per_call_and_no_calls_no_matches() {
        let Claimed { hit, miss, .. } = attribute(&[g(10, 5), g(20, 8)], &[(0, 30)], 0, WIDE);
        assert_eq!((hit, miss), (vec![g(20, 8)], vec![g(10, 5)]));
        let Claimed { hit, miss, .. } = attribute(&[g(1, 2)], &[], 100, WIDE);
        assert!(hit.is_empty() && miss.len() == 1);
    }

    /// A call that claimed nothing near its return claims the switched
    /// long gap it returned in, if it lasted 0.6 of the usual call; a
    /// stall (no switch) or a short gap is never claimed this way, and
    /// one gap serves one call.
    #[test]
    fn a_call_returning_while_switched_out_claims_that_gap() {
        let t = Tolerance {
            usual_call: 100,
            ..tol(10, 10)
        };
        let (a, out, b) = (g(100, 20), g(1_000, 5_000), g(7_000, 20));
        let off = OffCpu {
            long: 2_000,
            switched: &[1_000],
        };
        // 60 cycles, 0.6 of the usual: claims it, the others stay unclaimed;
        // 59 does not.
        let c = attribute_off(&[a, out, b], &[(1_500, 1_560)], 0, t, off);
        assert_eq!((c.off_cpu, c.hit, c.merged), (vec![out], vec![], vec![]));
        assert_eq!(c.miss, vec![a, b]);
        let c = attribute_off(&[a, out, b], &[(1_500, 1_559)], 0, t, off);
        assert_eq!(c.miss, vec![a, out, b]);
        // Without the rule, as before.
        assert_eq!(attribute(&[out], &[(1_500, 1_580)], 0, t).miss, vec![out]);
        // Two calls in it: the first claims, the second finds it taken.
        let picks = claims(&[out], &[(1_500, 1_580), (2_500, 2_580)], 0, t, Some(off));
        assert_eq!(
            picks,
            [
                Some(Pick {
                    gap: 0,
                    off_cpu: true
                }),
                None
            ]
        );
        // Not switched out (a stall), or not long: not claimed.
        let stall = OffCpu {
            long: 2_000,
            switched: &[],
        };
        assert_eq!(
            attribute_off(&[out], &[(1_500, 1_580)], 0, t, stall).off_cpu,
            vec![]
        );
        let short = OffCpu { long: 6_000, ..off };
        assert_eq!(
            attribute_off(&[out], &[(1_500, 1_580)], 0, t, short).off_cpu,
            vec![]
        );
    }

    /// The off-CPU rule runs after every near claim: a later call whose
    /// return the switched gap ends at keeps it, though an earlier call
    /// returned inside that gap; and the return is widened by the skew.
    #[test]
    fn near_claims_go_before_off_cpu_ones_and_the_skew_counts() {
        let t = Tolerance {
            usual_call: 100,
            ..tol(10, 10)
        };
        let out = g(1_000, 5_000);
        let off = OffCpu {
            long: 2_000,
            switched: &[1_000],
        };
        // Call 1 returns inside the gap; call 2 returns as it ends.
        let w = [(1_500, 1_580), (5_920, 6_000)];
        let picks = claims(&[out], &w, 0, t, Some(off));
        assert_eq!(
            picks,
            [
                None,
                Some(Pick {
                    gap: 0,
                    off_cpu: false
                })
            ]
        );
        // A gap that begins 30 cycles after the return: only a skew of
        // 30 or more puts the return inside it.
        let late = g(1_610, 5_000);
        let off = OffCpu {
            long: 2_000,
            switched: &[1_610],
        };
        assert_eq!(
            attribute_off(&[late], &[(1_500, 1_580)], 20, t, off).off_cpu,
            vec![]
        );
        assert_eq!(
            attribute_off(&[late], &[(1_500, 1_580)], 30, t, off).off_cpu,
            vec![late]
        );
    }
}
