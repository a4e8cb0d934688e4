//! What an `ipi.*` result records beside its samples: the raw figures
//! and rules (`params`) and what a reader must know (`notes`). The
//! measuring and matching stay in `ipi`; this only words them.

use super::ipi::{IrqRow, Matched, Phase, JITTER, PREEMPTION_S, THRESHOLD_FACTOR, THRESHOLD_FLOOR};
use super::ipi_control_fit;
use super::ipi_fit;
use super::ipi_match;
use super::ipi_outcome;
use super::record::{self, finite};
use super::Ctx;
use crate::schema::ClockKind;

/// The raw figures behind an ipi.* result.
pub(crate) fn params(
    ctx: &Ctx,
    icpu: u32,
    describe: &str,
    row: IrqRow,
    phase: &Phase,
    m: &Matched,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    let (before, after) = (phase.before, phase.after);
    let d = |a: u64, b: u64| b.saturating_sub(a);
    let n = phase.fired.windows.len();
    let noise = &m.noise;
    let mut p = record::params([
        ("method", describe.into()),
        ("row", row.into()),
        ("victim_cpu", ctx.placement.victim_cpu.into()),
        ("initiator_cpu", icpu.into()),
        ("calls", n.into()),
        (
            "achieved_rate_hz",
            finite(n as f64 / phase.fired.elapsed.as_secs_f64()).into(),
        ),
        (
            "schedule",
            format!(
                "each interval between calls uniform in [{}, {}) periods of 1/rate: no fixed \
                 phase against the tick or the host's periodic work",
                JITTER.0,
                JITTER.0 + JITTER.1
            )
            .into(),
        ),
        ("gaps_total", phase.gaps.len().into()),
        ("gaps_unmatched", m.miss.len().into()),
        ("unmatched_gaps_per_s", finite(noise.per_s).into()),
        ("unmatched_time_share", finite(noise.time_share).into()),
        ("matched_preemptions", m.seen.preempted.len().into()),
        ("matched_switched", m.seen.switched.len().into()),
        ("switched_time_share", finite(m.switched_share).into()),
        ("matched_stalls", m.seen.stalled.len().into()),
        ("matched_merged", m.seen.merged.len().into()),
        (
            "merged_rule",
            "a matched gap that began before its call (widened by the skew): the IPI arrived \
             while the victim was off its loop and was handled at that gap's end; counted as \
             seen, not in the victim cost"
                .into(),
        ),
        (
            "preemption_rule",
            format!(
                "a matched gap over {} ms that began before its call and ended within the \
                 tolerance of its return, in which the victim thread was switched out, is a \
                 preemption, not an IPI: another task held the victim CPU when the call began, and \
                 the victim came back as it returned",
                PREEMPTION_S * 1e3
            )
            .into(),
        ),
        (
            "switched_rule",
            format!(
                "a matched gap over {} ms that began inside its call, in which the victim thread \
                 was switched out: the IPI interrupted the loop and another task ran before it \
                 resumed; and {}. Both counted as seen, not priced (matched_switched; \
                 trace_check.timing_switched_picks_labelled: how many of the check's held the \
                 IPI's event)",
                PREEMPTION_S * 1e3,
                ipi_match::off_cpu_rule()
            )
            .into(),
        ),
        (
            "stall_rule",
            format!(
                "a matched gap over {} ms in which the victim thread was not switched out (its \
                 context-switch count, getrusage RUSAGE_THREAD, read after each such gap, did not \
                 rise since the last one: most likely the host held the vCPU, though a long \
                 interrupt in the guest looks the same) is a stall: the IPI was handled at the \
                 gap's end; counted as seen, not priced (matched_stalls; \
                 trace_check.timing_stall_picks_labelled: how many of the check's held the IPI's \
                 event)",
                PREEMPTION_S * 1e3
            )
            .into(),
        ),
        ("gaps_dropped", phase.spin.dropped.into()),
        ("loc_delta", d(before.loc, after.loc).into()),
        ("res_delta", d(before.res, after.res).into()),
        (
            "quiet_median_cycles",
            report::model::stats::median_sorted(&phase.quiet).into(),
        ),
        (
            "quiet_p999_cycles",
            report::model::stats::percentile_sorted(&phase.quiet, 99.9).into(),
        ),
        (
            "threshold_rule",
            format!(
                "max(quiet p99.9 x {THRESHOLD_FACTOR}, {THRESHOLD_FLOOR}), from each block's own \
                 quiet loop; the highest block's is recorded (quiet_* pool every block's samples)"
            )
            .into(),
        ),
        (
            "victim_cost",
            "matched gap minus one quiet loop iteration (median)".into(),
        ),
        ("clock", ClockKind::Tsc.into()),
    ]);
    p.extend(match_params(phase, m));
    p
}

/// How the calls were matched to the victim's gaps: the rule, the
/// tolerance and where it came from, the skew.
fn match_params(
    phase: &Phase,
    m: &Matched,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    record::params([
        (
            "matching",
            "each fire's TSC window claims the longest unclaimed victim gap overlapping it that \
             ends within the tolerance of the fire's return, one ending in the core band and \
             as long as match_core_min_gap_cycles (trace_check.core_*, when the labels gave \
             one) before any other (one that began \
             before the window: merged, seen, not priced)"
                .into(),
        ),
        ("match_tolerance_before_cycles", m.fit.tol.before.into()),
        ("match_tolerance_after_cycles", m.fit.tol.after.into()),
        ("match_usual_call_cycles", m.fit.tol.usual_call.into()),
        ("match_min_call_cycles", m.fit.tol.min_call.into()),
        ("match_min_call_rule", ipi_match::min_call_rule().into()),
        (
            "match_core_cycles",
            m.fit.tol.core.map(|c| vec![c.band.0, c.band.1]).into(),
        ),
        (
            "match_core_min_gap_cycles",
            m.fit.tol.core.map(|c| c.min_gap).into(),
        ),
        (
            "match_tolerance_rule",
            if m.fit_to_trace {
                ipi_fit::fit_rule()
            } else {
                ipi_control_fit::control_fit_rule()
            }
            .into(),
        ),
        ("match_fit_calls_within", finite(m.fit.calls_within).into()),
        (
            "match_fit_controls_within",
            finite(m.fit.controls_within).into(),
        ),
        (
            "return_minus_gap_end_cycles",
            offset_quantiles(&m.fit.offsets),
        ),
        ("match_skew_cycles", m.skew.into()),
        // The initiator CPU's TSC minus the victim's (the ping-pong's B
        // minus A), if the fastest transfers are alike both ways.
        ("tsc_offset_cycles", phase.skew.offset().into()),
        (
            "match_skew_rule",
            "measured before the phase: 2000 TSC ping-pongs between the CPUs; the larger of \
             the two minimum one-way differences (fastest transfer plus offset), which no \
             offset can exceed"
                .into(),
        ),
    ])
}

/// Quantiles of the calls' offsets nearest zero (sorted), for the record.
fn offset_quantiles(sorted: &[i64]) -> serde_json::Value {
    let q = |p: f64| report::model::stats::percentile_sorted(sorted, p);
    serde_json::json!({
        "n": sorted.len(),
        "p1": finite(q(1.0)),
        "p10": finite(q(10.0)),
        "p50": finite(q(50.0)),
        "p90": finite(q(90.0)),
        "p99": finite(q(99.0)),
    })
}

/// The IPIs the kernel counted beyond the calls that can have sent one
/// (`Outcome::long_calls` against `fire_ipis`): their params, and a note when there are
/// any.
pub(crate) struct Beyond {
    pub params: std::collections::BTreeMap<String, serde_json::Value>,
    pub note: Option<String>,
}

/// One way TLB IPIs the run did not send reach the victim, from the
/// kernel's source (arch/x86/mm/tlb.c) and a trace on Linux 6.18
/// (`results/checks/ipi-wrong-cpu-20261130T2154.txt`: with sixteen
/// processes visiting the victim CPU the seen ratio fell to 96.8-97.9% in
/// 8 of 8 quick runs). Not the only way: the kernel's own flushes count
/// too.
const TLB_STRANGERS: &str = "on Linux 6.13 and later a process that ran on the victim CPU \
     leaves it in its mm's CPU mask (commit 209954cbc7d0, \"x86/mm/tlb: Update mm_cpumask \
     lazily\"); at most once a second per mm (6db2526c1d69, \"x86/mm/tlb: Only trim the \
     mm_cpumask once a second\"), and on each flush that frees page tables, its flush goes to the \
     CPUs in that mask, and the victim takes the interrupt and counts it before it finds that mm \
     is not the one loaded there, then flushes nothing (flush_tlb_func(), TLB_REMOTE_WRONG_CPU); \
     a cpuset partition for the victim CPU keeps other tasks, and these IPIs, off it (isolcpus \
     alone does not stop a task that sets its own affinity)";

/// `Beyond` for a phase whose fires sent `fire_ipis` of the row's IPIs
/// (the delta less pool resets), of which `long_calls` calls were long
/// enough to have sent one and `seen` were seen.
pub(crate) fn beyond_calls(row: IrqRow, long_calls: u64, fire_ipis: u64, seen: u64) -> Beyond {
    let beyond = fire_ipis.saturating_sub(long_calls);
    let of_run = ipi_outcome::seen_ratio_of_run_ipis(seen, long_calls, fire_ipis);
    let params = record::params([
        ("calls_long_enough", long_calls.into()),
        ("ipis_beyond_calls", beyond.into()),
        (
            "ipis_beyond_calls_rule",
            "the row's IPIs on the victim (less pool resets) minus the calls long enough to \
             have waited for an acknowledgement (match_min_call_cycles): IPIs this run did not \
             send, counted by the kernel all the same; seen_ratio divides by them too, \
             seen_ratio_of_run_ipis does not"
                .into(),
        ),
        ("seen_ratio_of_run_ipis", of_run.into()),
        (
            "seen_ratio_of_run_ipis_rule",
            ipi_outcome::OF_RUN_RULE.into(),
        ),
    ]);
    let note = (beyond > 0).then(|| {
        let whence = match row {
            IrqRow::Tlb => {
                format!("another process's or the kernel's own flushes; for one, {TLB_STRANGERS}")
            }
            IrqRow::Cal => "another process's or the kernel's own function-call IPIs".into(),
        };
        let of_run = match of_run {
            Some(r) => format!(
                "of the IPIs the run can have sent it saw {:.2}% (seen_ratio_of_run_ipis)",
                r * 100.0
            ),
            None => "no call was long enough to have sent one".into(),
        };
        format!(
            "the kernel counted {beyond} more {} IPIs on the victim than calls long enough to \
             have sent one ({long_calls}): IPIs this run did not send ({whence}); the seen ratio \
             divides by them too, so it could reach at most {:.2}%; {of_run}",
            row.name(),
            ipi_match::share(long_calls as usize, fire_ipis as usize) * 100.0,
        )
    });
    Beyond { params, note }
}

/// What a reader must know about an ipi.* figure.
pub(crate) fn notes(
    ctx: &Ctx,
    row: IrqRow,
    row_delta: u64,
    phase: &Phase,
    m: &Matched,
    control_rate: f64,
) -> Vec<String> {
    let mut notes = Vec::new();
    if row_delta == 0 {
        notes.push(format!(
            "the victim's {} count did not change: no IPIs were counted (lazy-TLB skip, broadcast flush, or paravirt flush)",
            row.name()
        ));
    }
    if row == IrqRow::Tlb {
        notes.push("a TLB shootdown is a function-call IPI: it also counts in CAL".into());
    }
    if phase.fired.reset_ipis > 0 {
        notes.push(format!(
            "{} pool resets sent an IPI of their own: taken out of the {} delta the seen ratio divides by",
            phase.fired.reset_ipis,
            row.name()
        ));
    }
    let noise = &m.noise;
    notes.push(format!(
        "attribution by timing. Control, interleaved with the real calls: {:.1}% of no-IPI windows as long as the real ones matched a victim gap by the same rule (control_match_rate): the chance a call whose IPI never came is matched. \
         The victim's unmatched gaps, {:.0}/s taking {:.1}% of its time, set that chance",
        control_rate * 100.0,
        noise.per_s,
        noise.time_share * 100.0
    ));
    if let Some(hv) = &ctx.env.cpu.hypervisor {
        notes.push(format!(
            "{hv} guest: with paravirt TLB flush a preempted victim vCPU gets no IPI (the host flushes on re-entry), \
             and host preemption shows as unmatched gaps"
        ));
    }
    if !ctx.placement.victim_isolated {
        notes.push(
            "victim CPU not isolated: ticks and housekeeping interrupts add unmatched gaps".into(),
        );
    }
    if !m.seen.merged.is_empty() {
        notes.push(format!(
            "{} IPIs were handled at the end of a gap that began before their call (the victim already off its loop): counted as seen, not priced",
            m.seen.merged.len()
        ));
    }
    if !m.seen.preempted.is_empty() {
        notes.push(format!(
            "{} calls matched a victim preemption (gap over {} ms that began before the call and ended near its return, the thread switched out): not counted as IPIs seen",
            m.seen.preempted.len(),
            PREEMPTION_S * 1e3
        ));
    }
    if !m.seen.switched.is_empty() {
        notes.push(format!(
            "{} calls counted as seen, not priced, whose IPI came while the victim thread was switched out or just before it was (a gap over {} ms with a switch that began inside the call, or held its return with the call long enough to have waited for an acknowledgement): it interrupted another task. The trace check judges these picks (trace_check.timing_switched_picks_labelled: how many of its own held the IPI's event)",
            m.seen.switched.len(),
            PREEMPTION_S * 1e3
        ));
    }
    if m.switched_share > 0.0 {
        notes.push(format!(
            "the victim thread was switched out for {:.2}% of the phase (switched_time_share): another task held the victim CPU, and a call made then sends it no IPI or one the loop cannot see",
            m.switched_share * 100.0
        ));
    }
    if !m.seen.stalled.is_empty() {
        notes.push(format!(
            "{} IPIs were handled at the end of a stall (gap over {} ms, the thread not switched out: most likely the host held the vCPU): counted as seen, not priced",
            m.seen.stalled.len(),
            PREEMPTION_S * 1e3
        ));
    }
    if phase.spin.dropped > 0 {
        notes.push(format!(
            "{} gaps did not fit the buffer and were dropped",
            phase.spin.dropped
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipis_beyond_the_calls_are_counted_and_bound_the_seen_ratio() {
        // 920 TLB IPIs (less pool resets) against 889 calls long enough
        // to have sent one: 31 this run did not send.
        // 880 seen: 95.65% of the kernel's count, 98.99% of the 889 the
        // run can have sent.
        let b = beyond_calls(IrqRow::Tlb, 889, 920, 880);
        assert_eq!(b.params["calls_long_enough"], 889);
        assert_eq!(b.params["ipis_beyond_calls"], 31);
        assert_eq!(b.params["seen_ratio_of_run_ipis"], 880.0 / 889.0);
        let note = b.note.unwrap();
        assert!(
            note.contains("31 more TLB IPIs")
                && note.contains("at most 96.63%")
                && note.contains("saw 98.99%")
                && note.contains("TLB_REMOTE_WRONG_CPU"),
            "{note}"
        );
        // As many calls as IPIs, or more (a paravirt skip): nothing to
        // say, and the ratio is over the kernel's count.
        let b = beyond_calls(IrqRow::Tlb, 1003, 1003, 1000);
        assert_eq!(b.note, None);
        assert_eq!(b.params["seen_ratio_of_run_ipis"], 1000.0 / 1003.0);
        let b = beyond_calls(IrqRow::Cal, 1010, 1003, 1003);
        assert_eq!(
            (b.params["ipis_beyond_calls"].as_u64(), b.note),
            (Some(0), None)
        );
        // Membarrier's IPIs are not TLB flushes: no word of cpumasks.
        let note = beyond_calls(IrqRow::Cal, 990, 1003, 990).note.unwrap();
        assert!(
            note.contains("13 more CAL IPIs") && !note.contains("TLB_REMOTE"),
            "{note}"
        );
        // No IPI at all: no ratio rather than a division by zero.
        let b = beyond_calls(IrqRow::Tlb, 0, 0, 0);
        assert!(b.params["seen_ratio_of_run_ipis"].is_null());
        // IPIs but no call long enough: no ratio, and the note says why.
        let b = beyond_calls(IrqRow::Tlb, 0, 5, 0);
        assert!(b.params["seen_ratio_of_run_ipis"].is_null());
        let note = b.note.unwrap();
        assert!(
            note.contains("5 more TLB IPIs") && note.contains("no call was long enough"),
            "{note}"
        );
    }
}
