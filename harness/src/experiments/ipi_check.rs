//! The traced check of `ipi.user.*`: in blocks interleaved with the
//! priced phase's (`ipi_blocks`), the same calls and control run while
//! the kernel's trace labels the victim's IPI gaps (`ipi_label`). Half
//! the calls fit the timing rule's tolerance to the labels; on the other
//! half the rule's picks are counted against them: the gaps it claimed
//! that held no event of the IPI's function are the `false_match_rate`.
//! The priced blocks run untraced, with that tolerance, so no trace event
//! is in their prices.
//!
//! Where the kernel cannot be traced (not root, a kernel before 6.5, an
//! initiator whose function is not known, `--no-trace-check`) or the
//! check gives too little to go on, the priced phase fits its tolerance
//! against its own control and the false_match_rate is the control's.

use super::ipi::{self, IpiExperiment, IrqRow, Noise, Pace, Phase, Seen};
use super::ipi_blocks;
use super::ipi_fit;
use super::ipi_label::{self, Labels};
use super::ipi_match::{self, share};
use super::Ctx;
use anyhow::Result;
use std::time::Duration;

/// How long the check phase fires at most.
pub(crate) const CHECK_MAX: Duration = Duration::from_secs(3);

/// Fewest held-out calls a check counts on: at 1% a rate shows as a
/// single pick.
const MIN_HELD_OUT: usize = 100;

/// Why there is no check: the kernel or the run cannot trace, or the
/// check phase gave too little to stand on.
pub(crate) enum NoCheck {
    Unavailable(String),
    Thin(String),
}

impl std::fmt::Display for NoCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoCheck::Unavailable(why) | NoCheck::Thin(why) => f.write_str(why),
        }
    }
}

/// What the check found.
pub(crate) struct Check {
    /// The IPI's function, as the trace names it.
    pub func: String,
    /// The /proc/interrupts row its IPIs count in.
    pub row: IrqRow,
    /// Calls fired in the check phase (both halves).
    pub calls: usize,
    /// The calls the timing rule's picks were counted on (`timing`).
    pub held_out: usize,
    /// The timing rule's (before, after) tolerance, cycles, fitted to the
    /// labels of the other half: the priced phase uses it.
    pub tolerance: (u64, u64),
    /// The core band (`ipi_match::Tolerance::core`) drawn from the same
    /// half's labels: the priced phase uses it too.
    pub core: Option<ipi_match::Core>,
    /// The fit grid's upper end, cycles: a side there was not bounded by
    /// the labels.
    pub grid_hi: u64,
    /// Calls whose window held a labelled gap (priced, merged or a
    /// preemption: the kernel ran the function in it).
    pub labelled: usize,
    /// The phase's row delta less pool resets: what `labelled` is out of.
    pub ipis: u64,
    /// Control windows holding a labelled gap.
    pub control_labelled: usize,
    /// Control windows in the check phase.
    pub controls: usize,
    /// Events of the function from each block's first call to its last.
    pub events: usize,
    /// Calls whose window held an event in no gap, or only in a gap
    /// another window had claimed.
    pub without_gap: usize,
    /// Events of other functions on the victim during the trace: other
    /// IPIs, and local runs (the sync-core calls of enabling the event
    /// among them).
    pub other: usize,
    /// Events of the IPI's function in the blocks' spans that fell in no
    /// call and no control window: IPIs this run did not send.
    pub outside: usize,
    pub timing: ipi_label::TimingCheck,
    /// Of the held-out calls' picks over the preemption length that
    /// began before their call and ended near its return, in which the
    /// victim thread was switched out (preemptions, which the timing rule counts neither as seen
    /// nor priced): how many, and how many held an event (the IPI ran in
    /// that long gap).
    pub preempted_picks: (usize, usize),
    /// Its picks over the preemption length in which the thread was
    /// switched out that began inside their call or that the off-CPU
    /// rule claimed (`Seen::switched`, counted as seen, not priced): how
    /// many, and how many held an event.
    pub switched_picks: (usize, usize),
    /// Its picks over the preemption length the victim was not switched
    /// out in (stalls, counted as seen): how many, and how many held an
    /// event. The second is what says a stall ends at the IPI.
    pub stalled_picks: (usize, usize),
    /// Held-out calls shorter than the shortest that may claim a gap
    /// (`ipi_match::min_call`) whose window held an event of the IPI's
    /// function: real IPIs that rule drops.
    pub min_call_labelled: usize,
    /// The victim's unlabelled gaps a second: the check's noise, to set
    /// against the priced phase's.
    pub noise_per_s: f64,
    /// Median victim cost of the labelled, priced gaps, cycles; None with
    /// none. Not a price: each such gap holds a trace event.
    pub labelled_median: Option<f64>,
}

impl Check {
    /// The timing rule's false matches: claimed gaps holding no event.
    pub fn false_rate(&self) -> f64 {
        share(self.timing.unlabelled, self.timing.claimed)
    }
}

/// Runs one traced block of the check for `exp`, or says why it cannot
/// trace.
pub(crate) fn block(
    ctx: &Ctx,
    exp: &mut IpiExperiment,
    icpu: u32,
    pace: Pace,
) -> Result<std::result::Result<Phase, NoCheck>> {
    let expected = (pace.rate_hz * pace.duration.as_secs_f64()) as usize * 2 + 1024;
    // Before the block's counts: enabling the event patches kernel text,
    // which IPIs every CPU.
    let trace = match start_trace(ctx, exp.handler(), expected) {
        Ok(t) => t,
        Err(why) => return Ok(Err(NoCheck::Unavailable(why))),
    };
    let init = exp.initiator()?;
    let p = ipi::run_phase(ctx, init, icpu, pace, Some(trace))?;
    if let Err(no) = labels(&p) {
        return Ok(Err(no));
    }
    Ok(Ok(p))
}

/// A phase's labels, or why it has none.
fn labels(p: &Phase) -> std::result::Result<&Labels, NoCheck> {
    match &p.labels {
        Some(Ok(l)) => Ok(l),
        Some(Err(why)) => Err(NoCheck::Unavailable(why.clone())),
        None => Err(NoCheck::Unavailable("the phase was not traced".into())),
    }
}

/// The check from its blocks (`block`), merged (`ipi_blocks::merge`), or
/// why it is too thin to stand on.
pub(crate) fn judge(
    hz: f64,
    blocks: Vec<Phase>,
    row: IrqRow,
) -> std::result::Result<Check, NoCheck> {
    // Per block: the merged span would also take in the events of the
    // trace's set-up and teardown between blocks.
    let span = blocks
        .iter()
        .map(|b| {
            let times = labels(b).map_or(&[][..], |l| &l.times[..]);
            span_events(b, times)
        })
        .fold((0, 0), |(e, o), (be, bo)| (e + be, o + bo));
    let p = ipi_blocks::merge(blocks);
    let l = labels(&p)?;
    checked(hz, &p, l, row, span).map_err(NoCheck::Thin)
}

/// Starts the trace of the IPI's function on the victim, or says why not.
fn start_trace(
    ctx: &Ctx,
    handler: Option<&'static str>,
    expected: usize,
) -> std::result::Result<(ipi_label::Recorder, &'static str), String> {
    if ctx.cfg.no_trace_check {
        return Err("skipped (--no-trace-check)".into());
    }
    let Some(func) = handler else {
        return Err("this initiator's IPI function is not known".into());
    };
    if !nix::unistd::geteuid().is_root() {
        return Err("tracing the kernel needs root".into());
    }
    ipi_label::Recorder::start(ctx.placement.victim_cpu, expected)
        .map(|r| (r, func))
        .map_err(|e| e.to_string())
}

/// The check's figures from a traced phase, or why they are too thin to
/// stand on (then the priced phase falls back to the control). `events,
/// outside`: its blocks' events in their spans, and of them the ones in
/// no window (`span_events`).
fn checked(
    hz: f64,
    p: &Phase,
    l: &Labels,
    row: IrqRow,
    (events, outside): (usize, usize),
) -> std::result::Result<Check, String> {
    let skew = p.skew.allowance();
    let [fit_calls, held_out] = ipi::halves(&p.fired.windows);
    if l.times.is_empty() {
        return Err(format!("the trace held no event of {}", l.func));
    }
    if held_out.len() < MIN_HELD_OUT {
        return Err(format!(
            "too few calls to check ({} held out, at least {MIN_HELD_OUT})",
            held_out.len()
        ));
    }
    let grid = ipi::tol_grid(hz, skew, ipi_fit::GRID_MAX_S);
    let core = ipi_fit::core_band(&p.gaps, &fit_calls, skew, &l.times);
    let tol = ipi_fit::fit_tolerance(
        &p.gaps,
        &fit_calls,
        skew,
        grid,
        &l.times,
        p.off_cpu(hz),
        core,
    );
    let (by_timing, _) = Seen::matching(&p.gaps, &held_out, skew, tol, p.off_cpu(hz));
    let held_labels = ipi_label::attribute(&p.gaps, &held_out, skew, &l.times);
    let mut lab = ipi_label::attribute(&p.gaps, &p.fired.windows, skew, &l.times);
    let noise = Noise::of(hz, p.fired.elapsed, &std::mem::take(&mut lab.claimed.miss));
    let without_gap = lab.without_gap;
    let labelled = Seen::of(lab.claimed, p.off_cpu(hz));
    let ctl = ipi_label::attribute(&p.gaps, &p.fired.controls, skew, &l.times);
    let quiet = report::model::stats::median_sorted(&p.quiet);
    let mut cost: Vec<i64> = labelled.hit.iter().map(|g| g.cycles as i64).collect();
    cost.sort_unstable();
    let ipis = ipi::fire_ipis(row, p);
    let c = Check {
        func: l.func.clone(),
        row,
        calls: p.fired.windows.len(),
        held_out: held_out.len(),
        tolerance: (tol.before, tol.after),
        core: tol.core,
        grid_hi: grid.1,
        labelled: labelled.count() + labelled.preempted.len(),
        ipis,
        control_labelled: ctl.claimed.hit.len() + ctl.claimed.merged.len(),
        controls: p.fired.controls.len(),
        without_gap,
        other: l.other,
        outside,
        timing: ipi_label::check_timing(
            &by_timing.all(),
            &Seen::of(held_labels.claimed, p.off_cpu(hz)).all(),
            &l.times,
        ),
        events,
        noise_per_s: noise.per_s,
        preempted_picks: labelled_of(&by_timing.preempted, &l.times),
        switched_picks: labelled_of(&by_timing.switched, &l.times),
        stalled_picks: labelled_of(&by_timing.stalled, &l.times),
        min_call_labelled: held_out
            .iter()
            .filter(|&&w| !tol.may_claim(w) && !ipi_label::in_window(&l.times, w, skew).is_empty())
            .count(),
        labelled_median: (!cost.is_empty())
            .then(|| report::model::stats::median_sorted(&cost) - quiet),
    };
    if (c.labelled as u64) * 2 < c.ipis {
        return Err(format!(
            "the trace labelled only {} of the {} IPIs counted ({} events of {} in the blocks' spans of calls, {} calls with an event in no gap)",
            c.labelled, c.ipis, c.events, c.func, c.without_gap
        ));
    }
    if c.timing.claimed == 0 {
        return Err("the timing rule claimed no gap in the held-out calls".into());
    }
    Ok(c)
}

/// How many `picks`, and how many of them hold an event.
fn labelled_of(picks: &[workloads::ipi::Gap], times: &[u64]) -> (usize, usize) {
    let held = picks.iter().filter(|g| ipi_label::holds(times, g)).count();
    (picks.len(), held)
}

/// A traced block's events from its first call's start to its last
/// call's end (widened by the skew), and how many of them fell in none
/// of its call or control windows.
fn span_events(b: &Phase, times: &[u64]) -> (usize, usize) {
    let (windows, skew) = (&b.fired.windows, b.skew.allowance());
    let (Some(&(lo, _)), Some(&(_, hi))) = (windows.first(), windows.last()) else {
        return (0, 0);
    };
    let span = ipi_label::in_window(times, (lo, hi), skew);
    let inside = |list: &[(u64, u64)], t: u64| {
        // Windows come in firing order: starts ascend, none overlap.
        let i = list.partition_point(|&(s, _)| s.saturating_sub(skew) <= t);
        i > 0 && t <= list[i - 1].1.saturating_add(skew)
    };
    let outside = span
        .iter()
        .filter(|&&t| !inside(windows, t) && !inside(&b.fired.controls, t))
        .count();
    (span.len(), outside)
}

/// The check's figures for the record.
pub(crate) fn params(check: &std::result::Result<Check, NoCheck>) -> serde_json::Value {
    match check {
        Ok(c) => serde_json::json!({
            "event": format!(
                "{}:{} with func={} on the victim CPU only, in a tracing instance of our own, \
                 trace clock {}",
                ipi_label::EVENT.0, ipi_label::EVENT.1, c.func, ipi_label::CLOCK
            ),
            "phase": format!(
                "the same calls and control, traced, for min(duration, {} s) in all, in blocks \
                 interleaved with the priced phase's (which run untraced; see blocks_rule): the \
                 odd calls fit the timing rule's tolerance to the labels (the priced phase uses \
                 it), the even ones count its picks",
                CHECK_MAX.as_secs()
            ),
            "calls": c.calls,
            "held_out_calls": c.held_out,
            "tolerance_before_cycles": c.tolerance.0,
            "tolerance_after_cycles": c.tolerance.1,
            "core_before_cycles": c.core.map(|c| c.band.0),
            "core_after_cycles": c.core.map(|c| c.band.1),
            "core_min_gap_cycles": c.core.map(|c| c.min_gap),
            "core_rule": ipi_fit::core_rule(),
            "fit_wrong_share_max": ipi_fit::FIT_WRONG_SHARE,
            "ipis": c.ipis,
            "labelled": c.labelled,
            "labelled_ratio": share(c.labelled, c.ipis as usize),
            "controls": c.controls,
            "controls_labelled": c.control_labelled,
            "events_in_span": c.events,
            "calls_with_event_in_no_gap": c.without_gap,
            "other_function_events": c.other,
            "events_outside_windows": c.outside,
            "timing_claimed": c.timing.claimed,
            "timing_claimed_without_event": c.timing.unlabelled,
            "timing_missed_labelled": c.timing.missed,
            "timing_preemption_picks": c.preempted_picks.0,
            "timing_preemption_picks_labelled": c.preempted_picks.1,
            "timing_switched_picks": c.switched_picks.0,
            "timing_switched_picks_labelled": c.switched_picks.1,
            "timing_stall_picks": c.stalled_picks.0,
            "timing_stall_picks_labelled": c.stalled_picks.1,
            "min_call_labelled": c.min_call_labelled,
            "unlabelled_gaps_per_s": c.noise_per_s,
            "labelled_median_cycles": c.labelled_median,
        }),
        Err(no) => serde_json::json!({
            "skipped": no.to_string(),
            "skipped_because": match no {
                NoCheck::Unavailable(_) => "cannot trace",
                NoCheck::Thin(_) => "too little to stand on",
            },
        }),
    }
}

/// What a reader must know of the check, with the priced phase's
/// unmatched gaps a second (its noise).
pub(crate) fn notes(
    check: &std::result::Result<Check, NoCheck>,
    priced_noise_per_s: f64,
) -> Vec<String> {
    let c = match check {
        Ok(c) => c,
        Err(no) => {
            return vec![format!(
                "no trace check ({no}): the tolerance is fitted against the control, and the false_match_rate is the control's"
            )]
        }
    };
    let mut notes = vec![format!(
        "checked against the kernel's trace ({}:{} of {} on the victim CPU) in traced blocks of {} calls in all, interleaved with this phase's: the timing rule's tolerance was fitted to the labels of half of them; on the other {} it claimed {} gaps, of which {} ({:.2}%, the false_match_rate) held no event of {}, and it left {} labelled ones. The trace labelled {} of the {} IPIs counted in {} there, and {} of {} control windows",
        ipi_label::EVENT.0,
        ipi_label::EVENT.1,
        c.func,
        c.calls,
        c.held_out,
        c.timing.claimed,
        c.timing.unlabelled,
        c.false_rate() * 100.0,
        c.func,
        c.timing.missed,
        c.labelled,
        c.ipis,
        c.row.name(),
        c.control_labelled,
        c.controls
    )];
    if c.outside > 0 {
        notes.push(format!(
            "{} events of {} on the victim in the check fell in no call and no control window: IPIs this run did not send, counted by the kernel all the same",
            c.outside, c.func
        ));
    }
    for (side, v) in [("before", c.tolerance.0), ("after", c.tolerance.1)] {
        if v >= c.grid_hi {
            notes.push(format!(
                "the tolerance's {side} side sits at the fit grid's end ({} us): the labels did not bound it there, the grid did",
                ipi_fit::GRID_MAX_S * 1e6
            ));
        }
    }
    // The check counts false matches against the noise of its own
    // seconds; the priced ones may be noisier.
    if priced_noise_per_s > 2.0 * c.noise_per_s + 500.0 {
        notes.push(format!(
            "the priced phase was noisier than the check ({:.0} unrelated victim gaps/s against {:.0}): its false matches may exceed the check's count",
            priced_noise_per_s, c.noise_per_s
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::ipi::{Counts, Fired};
    use crate::timer::skew::Skew;
    use workloads::ipi::SpinStats;

    #[test]
    fn events_in_no_window_are_the_ones_this_run_did_not_send() {
        let b = Phase {
            threshold: 500,
            skew: Skew {
                a_to_b: 2,
                b_to_a: 1,
            },
            quiet: vec![1],
            before: Counts::default(),
            after: Counts::default(),
            spin: SpinStats {
                iterations: 1,
                dropped: 0,
            },
            gaps: vec![],
            switched: vec![],
            fired: Fired {
                windows: vec![(100, 200), (1000, 1100)],
                controls: vec![(500, 600)],
                skipped_controls: 0,
                elapsed: Duration::from_millis(1),
                reset_ipis: 0,
            },
            labels: None,
        };
        // Before the first call (out of the span), in a call, just past
        // one within the skew, between windows, in the control, between
        // again, in the last call, after it (out of the span).
        let times = [50, 150, 201, 300, 550, 800, 1050, 1200];
        assert_eq!(span_events(&b, &times), (6, 2));
        assert_eq!(span_events(&b, &[]), (0, 0));
    }
}
