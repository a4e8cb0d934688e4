//! Which of the victim's gaps are the initiator's IPIs.
//!
//! A shootdown (or membarrier) is synchronous: the initiator's call
//! returns only after the victim's handler has run and acknowledged. So
//! the victim's gap ends just before the call returns (or just after:
//! the victim's way out of the handler races the initiator's way out of
//! the call), wherever in a long call the IPI was sent. A gap is the
//! call's IPI when it starts inside the call's window and ends within a
//! tolerance of the call's return; a 29 us mprotect then no longer claims
//! an unrelated tick that happened to start inside it.
//!
//! The tolerance is measured on the run's own data: each call's
//! candidate under the loose rule (the longest gap starting inside the
//! window) gives an offset, call return minus gap end. True IPIs pile up
//! near zero (a few hundred cycles); coincidences (a tick inside a long
//! call, a preemption of either side) spread far out on both sides. The
//! tolerance covers the pile (`Tolerance::measure`), and the no-IPI
//! control is matched with the same tolerance.

use workloads::ipi::Gap;

/// The tolerance is at least this many cycles each side of the call's
/// return besides the TSC skew: the victim's exit from the handler and
/// the initiator's exit from the call, about a microsecond on any x86.
pub const FLOOR_S: f64 = 1e-6;
/// The pile of true offsets is taken between these quantiles of all the
/// loose candidates' offsets (percent): coincidences are a few percent of
/// the candidates on either side, so both quantiles still lie in the
/// pile.
const PILE_QUANTILES: (f64, f64) = (10.0, 90.0);
/// How far the tolerance reaches past each quantile, as a multiple of it
/// (the pile's tails beyond the quantiles).
const SPREAD: f64 = 2.0;

/// How close to the call's return a gap must end, cycles: gap end in
/// `[return - before, return + after]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tolerance {
    pub before: u64,
    pub after: u64,
}

/// Offsets of loose candidates: for each call, the longest gap starting
/// inside its window (widened by `skew`), as call return minus gap end
/// (positive: the gap ended before the call returned).
pub fn end_offsets(gaps: &[Gap], windows: &[(u64, u64)], skew: u64) -> Vec<i64> {
    let mut out = Vec::with_capacity(windows.len());
    let mut first = 0;
    for &(ws, we) in windows {
        let (lo, hi) = (ws.saturating_sub(skew), we.saturating_add(skew));
        while first < gaps.len() && gaps[first].start < lo {
            first += 1;
        }
        let best = gaps[first..]
            .iter()
            .take_while(|g| g.start <= hi)
            .max_by_key(|g| g.cycles);
        if let Some(g) = best {
            out.push(we.wrapping_sub(g.end()) as i64);
        }
    }
    out
}

impl Tolerance {
    /// From the loose candidates' offsets (sorted): before the return,
    /// `SPREAD` times the upper pile quantile; after it, `SPREAD` times
    /// the lower one (when negative); each at least `floor`, plus the
    /// skew. With no offsets, the floor and the skew.
    pub fn measure(sorted: &[i64], skew: u64, floor: u64) -> Tolerance {
        let (lo, hi) = PILE_QUANTILES;
        let q = |p: f64| report::stats::percentile_sorted(sorted, p);
        let side = |v: f64| {
            if v.is_finite() && v > 0.0 {
                ((v * SPREAD) as u64).max(floor) + skew
            } else {
                floor + skew
            }
        };
        Tolerance {
            before: side(q(hi)),
            after: side(-q(lo)),
        }
    }

    /// Whether a gap ending at `end` ends close enough to a call
    /// returning at `ret`.
    fn near(&self, end: u64, ret: u64) -> bool {
        end >= ret.saturating_sub(self.before) && end <= ret.saturating_add(self.after)
    }
}

/// Splits gaps into ours and others: each call window claims the longest
/// unclaimed gap that starts inside it (widened by `skew` for the TSC
/// offset between the CPUs: an IPI cannot arrive before the call sends
/// it, so a gap already running when the call began, such as a
/// preemption, is not ours) and ends within `tol` of the call's return.
/// One call, at most one gap, so a tick in the same window does not
/// count twice. Gaps come from one loop, so they are disjoint and in time
/// order; windows are in time order.
pub fn attribute(
    gaps: &[Gap],
    windows: &[(u64, u64)],
    skew: u64,
    tol: Tolerance,
) -> (Vec<Gap>, Vec<Gap>) {
    let mut claimed = vec![false; gaps.len()];
    let mut first = 0;
    for &(ws, we) in windows {
        let (lo, hi) = (ws.saturating_sub(skew), we.saturating_add(skew));
        while first < gaps.len() && gaps[first].start < lo {
            first += 1;
        }
        let best = (first..gaps.len())
            .take_while(|&i| gaps[i].start <= hi)
            .filter(|&i| !claimed[i] && tol.near(gaps[i].end(), we))
            .fold(None, |best: Option<usize>, i| match best {
                Some(b) if gaps[b].cycles >= gaps[i].cycles => Some(b),
                _ => Some(i),
            });
        if let Some(i) = best {
            claimed[i] = true;
        }
    }
    let (mut hit, mut miss) = (Vec::new(), Vec::new());
    for (g, c) in gaps.iter().zip(claimed) {
        if c {
            hit.push(*g);
        } else {
            miss.push(*g);
        }
    }
    (hit, miss)
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
    };

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
        let tol = Tolerance {
            before: 50,
            after: 10,
        };
        let (hit, miss) = attribute(&gaps, &windows, 0, tol);
        assert_eq!(hit, vec![g(900, 90), g(5020, 35)]);
        assert_eq!(miss, vec![g(150, 200), g(3000, 100)]);
        // The loose rule (any gap starting inside) takes the longer tick.
        let (hit, _) = attribute(&gaps, &windows, 0, WIDE);
        assert_eq!(hit, vec![g(150, 200), g(5020, 35)]);
        // Ending later than `after` past the return: not ours.
        let late = Tolerance {
            before: 50,
            after: 4,
        };
        assert_eq!(attribute(&gaps, &windows, 0, late).0, vec![g(900, 90)]);
    }

    #[test]
    fn a_gap_running_before_the_call_is_not_ours() {
        // Ends right at the return, but began before the call: a
        // preemption, not the call's IPI.
        let (hit, miss) = attribute(&[g(50, 145)], &[(100, 200)], 10, WIDE);
        assert!(hit.is_empty());
        assert_eq!(miss, vec![g(50, 145)]);
        // Within the skew it may be ours.
        let (hit, _) = attribute(&[g(95, 100)], &[(100, 200)], 10, WIDE);
        assert_eq!(hit, vec![g(95, 100)]);
    }

    #[test]
    fn one_gap_per_call_and_no_calls_no_matches() {
        let (hit, miss) = attribute(&[g(10, 5), g(20, 8)], &[(0, 30)], 0, WIDE);
        assert_eq!((hit, miss), (vec![g(20, 8)], vec![g(10, 5)]));
        let (hit, miss) = attribute(&[g(1, 2)], &[], 100, WIDE);
        assert!(hit.is_empty() && miss.len() == 1);
    }

    #[test]
    fn tolerance_covers_the_pile_not_the_coincidences() {
        // 90 IPIs ending -20..70 cycles from the return, 5 ticks spread
        // over a 10000-cycle window, 5 long gaps ending far after it.
        let mut d: Vec<i64> = (-20..70).collect();
        d.extend([2000, 4000, 6000, 8000, 9900]);
        d.extend([-90_000, -50_000, -30_000, -20_000, -10_000]);
        d.sort_unstable();
        let t = Tolerance::measure(&d, 10, 20);
        // p90 is 64 (the pile): 2 x 64 + skew; p10 is -16: 2 x 16 is
        // 32, + skew.
        assert_eq!((t.before, t.after), (128 + 10, 32 + 10));
        // A pile entirely before the return: the floor after it.
        let t = Tolerance::measure(&[5, 6, 7, 8, 9, 10, 11, 12, 13, 14], 10, 20);
        assert_eq!((t.before, t.after), (26 + 10, 20 + 10));
        assert_eq!(
            Tolerance::measure(&[], 10, 20),
            Tolerance {
                before: 30,
                after: 30
            }
        );
        let offs = end_offsets(&[g(150, 200), g(900, 90)], &[(100, 1000)], 0);
        assert_eq!(offs, vec![1000 - 350]);
    }
}
