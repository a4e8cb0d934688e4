//! What matching a priced phase gives an `ipi.*` row (`Outcome`): the
//! timing rule's tolerance (fitted to the trace check's labels, or else
//! against the control), the IPIs seen, the control's rate and the
//! false-match rate. One computation, run by the experiment and on a
//! dump (`ipi_dump::rematch`).

use super::ipi::{fire_ipis, halves, row_delta, tol_grid, IrqRow, Matched, Noise, Phase, Seen};
use super::ipi_check;
use super::ipi_match::{self, share, Tolerance};

/// Matches a phase by timing: with the (before, after) tolerance and
/// core band the trace check fitted to its labels (`given`), or else one fitted to the
/// phase's own calls against half of its control windows.
pub(crate) fn matched(hz: f64, p: &Phase, given: Option<&ipi_check::Check>) -> Matched {
    let skew = p.skew.allowance();
    let [fit_half, _] = halves(&p.fired.controls);
    let fit = match given {
        Some(c) => Tolerance::given(
            &p.gaps,
            &p.fired.windows,
            &fit_half,
            skew,
            c.tolerance,
            c.core,
        ),
        None => Tolerance::fit(
            &p.gaps,
            &p.fired.windows,
            &fit_half,
            skew,
            tol_grid(hz, skew, ipi_match::GRID_MAX_S),
        ),
    };
    let (seen, miss) = Seen::matching(&p.gaps, &p.fired.windows, skew, fit.tol, p.off_cpu(hz));
    let noise = Noise::of(hz, p.fired.elapsed, &miss);
    Matched {
        seen,
        miss,
        skew,
        fit,
        fit_to_trace: given.is_some(),
        noise,
        switched_share: p.switched_share(hz),
    }
}

/// The attribution control: the interleaved control windows (no IPI,
/// each as long as the real call before it) matched by the same timing
/// rule and tolerance against the victim gaps no real call claimed.
/// Returns the fraction of control windows matched, and their number.
///
/// Without the off-CPU rule (`ipi_match::OffCpu`): that rule reads a
/// call's length as its wait for an acknowledgement, and a control
/// window only copies the length, so every one ending while the victim
/// was switched out would match (the rate then tracks the switched-out
/// share: 2.95-22.2% against 1.2-13.4% under a task pinned to the
/// victim CPU, `results/checks/off-cpu-calls-20261202T0115.txt`). The
/// trace check's labels judge that rule's picks instead.
fn control(hz: f64, p: &Phase, m: &Matched) -> (f64, usize) {
    let [_, held_out] = halves(&p.fired.controls);
    let calls = held_out.len();
    let c = ipi_match::attribute(&m.miss, &held_out, m.skew, m.fit.tol);
    // What would have counted as seen in the real windows, by the same rule.
    let n = Seen::of(c, p.off_cpu(hz)).count();
    (share(n, calls), calls)
}

/// What a priced phase's matching counts: the one computation behind an
/// `ipi.*` row's seen, false-match and control figures, also run on a
/// dump (`ipi_dump::rematch`).
pub(crate) struct Outcome {
    pub m: Matched,
    pub control_rate: f64,
    pub control_calls: usize,
    /// With a check, the timing rule's false matches as counted against
    /// the kernel's trace; without, the control's estimate.
    pub false_rate: f64,
    pub tlb: u64,
    pub cal: u64,
    /// The delta of the method's row.
    pub delta: u64,
    /// The row delta less the pool resets' IPIs: what the fires sent.
    pub fire_ipis: u64,
    pub seen: u64,
    /// Calls long enough to have waited for an acknowledgement
    /// (`Tolerance::may_claim`): the most IPIs the calls can have sent
    /// (`ipi_record::beyond_calls` words the rest).
    pub long_calls: u64,
}

impl Outcome {
    pub fn of(hz: f64, row: IrqRow, phase: &Phase, check: Option<&ipi_check::Check>) -> Outcome {
        let m = matched(hz, phase, check);
        let (control_rate, control_calls) = control(hz, phase, &m);
        let false_rate = check.map_or(control_rate, ipi_check::Check::false_rate);
        let delta = row_delta(row, phase);
        let fire_ipis = fire_ipis(row, phase);
        let seen = m.seen.count() as u64;
        let long_calls = phase
            .fired
            .windows
            .iter()
            .filter(|&&w| m.fit.tol.may_claim(w))
            .count() as u64;
        Outcome {
            control_rate,
            control_calls,
            false_rate,
            tlb: row_delta(IrqRow::Tlb, phase),
            cal: row_delta(IrqRow::Cal, phase),
            delta,
            fire_ipis,
            seen,
            long_calls,
            m,
        }
    }

    pub fn seen_ratio(&self) -> f64 {
        share(self.seen as usize, self.fire_ipis as usize)
    }
}

/// `seen_ratio_of_run_ipis` in words, for the result file.
pub(crate) const OF_RUN_RULE: &str = "IPIs seen over the smaller of the row's IPIs on the victim \
    (less pool resets) and the calls long enough to have sent one: over the most IPIs the run \
    can have sent (each such call sends at most one), so false picks can take it over 1; null \
    when that is 0. Beside seen_ratio, which divides by the kernel's whole count";

/// The share of the IPIs the run can have sent that were seen
/// (`OF_RUN_RULE`); None when it can have sent none.
pub(crate) fn seen_ratio_of_run_ipis(seen: u64, long_calls: u64, fire_ipis: u64) -> Option<f64> {
    let most = fire_ipis.min(long_calls);
    (most > 0).then(|| share(seen as usize, most as usize))
}
