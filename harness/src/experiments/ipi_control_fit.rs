//! The timing rule's tolerance fitted against the control, where the
//! kernel cannot be traced (`ipi_match`'s module text says why; with the
//! trace's labels, `ipi_fit` fits it instead): how far each window must
//! reach to take in a gap (`Reach`), and the (before, after) pair that
//! takes in the most calls beyond what the control's windows take in by
//! chance (`Tolerance::fit`).

use super::ipi_match::{
    grid, overlapping, share, usual, Core, Tolerance, GRID_MAX_S, GRID_MIN_S, GRID_STEPS,
};
use workloads::ipi::Gap;

/// How far a window's tolerance must reach to take in one of the gaps
/// overlapping it: its nearest offset at or after zero (`before`,
/// gap ending before the return) and its nearest below zero (`after`, as
/// a distance); `u64::MAX` where there is none. A tolerance
/// `[-after, before]` takes in a gap of the window exactly when it
/// reaches one of the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reach {
    pub before: u64,
    pub after: u64,
}

impl Reach {
    const NONE: Reach = Reach {
        before: u64::MAX,
        after: u64::MAX,
    };

    fn covered(&self, before: u64, after: u64) -> bool {
        self.before <= before || self.after <= after
    }

    /// Takes in one more offset.
    fn with(self, o: i64) -> Reach {
        if o >= 0 {
            Reach {
                before: self.before.min(o as u64),
                ..self
            }
        } else {
            Reach {
                after: self.after.min(o.unsigned_abs()),
                ..self
            }
        }
    }

    /// The offset nearest zero, for the record.
    fn nearest(&self) -> i64 {
        if self.before <= self.after {
            self.before.min(i64::MAX as u64) as i64
        } else {
            -(self.after.min(i64::MAX as u64) as i64)
        }
    }
}

/// The reach of each window with a gap overlapping it
/// (`Tolerance::offset` with `usual_call`).
pub fn reaches(gaps: &[Gap], windows: &[(u64, u64)], skew: u64, usual_call: u64) -> Vec<Reach> {
    let t = Tolerance::new((0, 0), usual_call, None);
    // A window too short to claim a gap reaches none (`Tolerance::near`).
    overlapping(gaps, windows, skew)
        .filter(|&(w, ref r)| !r.is_empty() && t.may_claim(w))
        .map(|(w, r)| {
            gaps[r]
                .iter()
                .fold(Reach::NONE, |acc, &g| acc.with(t.offset(w, g)))
        })
        .collect()
}

/// What the fit chose and saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub tol: Tolerance,
    /// Share of the calls with a gap within the tolerance.
    pub calls_within: f64,
    /// Share of the fitting control windows with one.
    pub controls_within: f64,
    /// Each call's offset nearest zero, sorted (for the record).
    pub offsets: Vec<i64>,
}

/// How many of the reaches a tolerance `[-after, before]` covers.
fn within(reaches: &[Reach], before: u64, after: u64) -> usize {
    reaches.iter().filter(|r| r.covered(before, after)).count()
}

/// `Tolerance::fit`'s rule in words, for the result file.
pub fn control_fit_rule() -> String {
    format!(
        "fitted: per gap overlapping a window, return minus gap end, less the call's excess \
         over the usual call (the median) when the gap ended early (the initiator held up \
         after the acknowledgement); the (before, after) pair, on {GRID_STEPS} geometric steps \
         from the measured skew + {:.1} us to {} us, that maximises the share of calls with a \
         gap within it less the share of the control's odd windows with one; the even windows \
         give the control_match_rate",
        GRID_MIN_S * 1e6,
        GRID_MAX_S * 1e6
    )
}

/// The usual call of `windows`, and the reaches of the calls and of the
/// fitting control windows.
fn reach_sets(
    gaps: &[Gap],
    windows: &[(u64, u64)],
    fit_controls: &[(u64, u64)],
    skew: u64,
) -> (u64, Vec<Reach>, Vec<Reach>) {
    let usual_call = usual(windows.iter().map(|(a, b)| b.saturating_sub(*a)));
    let calls = reaches(gaps, windows, skew, usual_call);
    let control = reaches(gaps, fit_controls, skew, usual_call);
    (usual_call, calls, control)
}

impl Tolerance {
    /// Fits the tolerance to the calls' windows against the control
    /// windows `fit_controls` (same lengths, no IPI), over the gaps:
    /// the (before, after) pair on a geometric grid from `lo` to `hi`
    /// cycles that maximises calls within less control windows within,
    /// as shares; on a tie the one with the smaller before + after. With
    /// no control windows, the narrowest.
    pub fn fit(
        gaps: &[Gap],
        windows: &[(u64, u64)],
        fit_controls: &[(u64, u64)],
        skew: u64,
        (lo, hi): (u64, u64),
    ) -> Fit {
        let (usual_call, calls, control) = reach_sets(gaps, windows, fit_controls, skew);
        let mut best = (f64::NEG_INFINITY, lo, lo);
        let steps = grid(lo, hi, GRID_STEPS);
        if !fit_controls.is_empty() {
            for &before in &steps {
                for &after in &steps {
                    let r = share(within(&calls, before, after), windows.len());
                    let c = share(within(&control, before, after), fit_controls.len());
                    // On a tie (within rounding) the narrower pair.
                    let better = r - c > best.0 + 1e-12
                        || (r - c > best.0 - 1e-12 && before + after < best.1 + best.2);
                    if better {
                        best = (r - c, before, after);
                    }
                }
            }
        }
        Tolerance::with_reaches(
            windows,
            fit_controls,
            (usual_call, calls, control),
            (best.1, best.2),
            None,
        )
    }

    /// The fit's figures for a tolerance and core band chosen elsewhere
    /// (from the trace's labels, `ipi_fit::fit_tolerance`): the usual
    /// call from these windows, the shares within it, the offsets.
    pub fn given(
        gaps: &[Gap],
        windows: &[(u64, u64)],
        fit_controls: &[(u64, u64)],
        skew: u64,
        (before, after): (u64, u64),
        core: Option<Core>,
    ) -> Fit {
        let sets = reach_sets(gaps, windows, fit_controls, skew);
        Tolerance::with_reaches(windows, fit_controls, sets, (before, after), core)
    }

    /// The `Fit` of a pair and core band from the reach sets
    /// (`reach_sets`).
    fn with_reaches(
        windows: &[(u64, u64)],
        fit_controls: &[(u64, u64)],
        (usual_call, calls, control): (u64, Vec<Reach>, Vec<Reach>),
        (before, after): (u64, u64),
        core: Option<Core>,
    ) -> Fit {
        let mut offsets: Vec<i64> = calls.iter().map(Reach::nearest).collect();
        offsets.sort_unstable();
        Fit {
            tol: Tolerance::new((before, after), usual_call, core),
            calls_within: share(within(&calls, before, after), windows.len()),
            controls_within: share(within(&control, before, after), fit_controls.len()),
            offsets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::ipi_match::{attribute, Claimed};

    fn g(start: u64, cycles: u64) -> Gap {
        Gap { start, cycles }
    }

    #[test]
    fn the_fit_covers_the_calls_beyond_chance_and_no_further() {
        // 100 calls of 1000 cycles, one every 20000: 90 IPIs ending 300
        // cycles after to 56 before the return (the late ones: a victim held up
        // after its handler), and 10 calls whose only gap is a chance one
        // ending 5000 to 9500 after the return... of which the control
        // has as many: 10 of 100 control windows hold a gap ending 3000
        // to 9000 after theirs.
        let call = |i: u64| (i * 20_000 + 100_000, i * 20_000 + 101_000);
        let windows: Vec<(u64, u64)> = (0..100).map(call).collect();
        let controls: Vec<(u64, u64)> = (0..100)
            .map(|i| (call(i).0 + 10_000, call(i).1 + 10_000))
            .collect();
        let mut gaps = Vec::new();
        for i in 0..100u64 {
            let we = windows[i as usize].1;
            let end = if i < 90 {
                we + 300 - i * 4
            } else {
                we + 5000 + (i - 90) * 500
            };
            gaps.push(g(we - 500, end - (we - 500)));
            if i < 10 {
                let ce = controls[i as usize].1;
                gaps.push(g(ce - 500, 3500 + i * 600));
            }
        }
        gaps.sort_by_key(|g| g.start);
        let f = Tolerance::fit(&gaps, &windows, &controls, 0, (10, 20_000));
        assert_eq!(f.tol.usual_call, 1000);
        assert_eq!(f.offsets.len(), 100);
        // All 90 IPIs within, no chance gap: -300..=60 covered, and the
        // after side short of 3000 (where the control's gaps begin).
        assert!(f.tol.after >= 300 && f.tol.after < 3000, "{:?}", f.tol);
        assert!(f.tol.before >= 56 && f.tol.before < 3000, "{:?}", f.tol);
        assert_eq!((f.calls_within, f.controls_within), (0.9, 0.0));
        // Of the pairs that cover the pile, all tied, the narrowest.
        let steps = grid(10, 20_000, 40);
        let first_at_least = |v: u64| *steps.iter().find(|&&s| s >= v).unwrap();
        assert_eq!(
            (f.tol.before, f.tol.after),
            (first_at_least(56), first_at_least(300))
        );
        let Claimed { hit, .. } = attribute(&gaps, &windows, 0, f.tol);
        assert_eq!(hit.len(), 90);
        // A call reached either by a gap ending 56 before its return or
        // by one ending 5000 after it: the tie goes to the narrow pair.
        let (w, far) = ([(1000, 2000)], g(1950, 5050));
        let f = Tolerance::fit(&[g(1100, 844), far], &w, &[(9000, 9100)], 0, (10, 20_000));
        assert_eq!(f.calls_within, 1.0);
        assert!(f.tol.before < 100 && f.tol.after < 100, "{:?}", f.tol);
        // Without a control, the narrowest.
        let f = Tolerance::fit(&gaps, &windows, &[], 0, (10, 20_000));
        assert_eq!((f.tol.before, f.tol.after), (10, 10));
        assert_eq!(grid(10, 20_000, 40).len(), 40);
        // A usual call longer than this one (no delay taken off), and
        // under three times it (the call may claim a gap).
        let r = reaches(
            &[g(150, 200), g(900, 90), g(992, 23)],
            &[(100, 1000)],
            0,
            2_000,
        );
        assert_eq!(
            r,
            vec![Reach {
                before: 10,
                after: 15
            }]
        );
        assert_eq!(r[0].nearest(), 10);
        assert!(r[0].covered(10, 0) && r[0].covered(0, 15) && !r[0].covered(9, 14));
        // Too short for that usual call: it reaches no gap.
        assert_eq!(reaches(&[g(900, 90)], &[(100, 1000)], 0, 3_000), vec![]);
    }
}
