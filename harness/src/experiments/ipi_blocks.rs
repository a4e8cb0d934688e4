//! The traced check and the untraced priced phase of `ipi.user.*` run
//! as interleaved blocks, then each is merged into one phase.
//!
//! The check's tolerance is only as good as the priced phase is like
//! the check. Run one after the other, a host phase could cover one and
//! not the other: on the noisy Emerald Rapids guest one quick run's
//! check fitted a before side of 1.4 us and its priced phase then saw
//! 89.5% of the IPIs, and 3 of 40 others saw 98.7-98.9%
//! (`results/checks/label-fit-variants-20261130T0925.txt`). In blocks,
//! each a quarter of a quick run or a tenth of a full one, alternating
//! check-first and priced-first (so a steady drift lands on both alike),
//! both sample the same stretch of the host's time.
//!
//! Each block is a whole `ipi::run_phase` (its own skew, quiet loop and
//! /proc/interrupts reads), and the trace is switched on and off outside
//! the counts of every check block. Blocks follow each other, so their
//! gaps, windows and event times concatenate in time order.

use super::ipi::{self, Control, Counts, Fired, IpiExperiment, IrqRow, Pace, Phase};
use super::ipi_check::{self, Check, NoCheck};
use super::ipi_label::Labels;
use super::Ctx;
use anyhow::Result;
use std::time::Duration;
use workloads::ipi::SpinStats;

/// The shortest block the duration is cut into: at 1 kHz, ~250 calls.
pub(crate) const BLOCK_MIN: Duration = Duration::from_millis(250);
/// The most blocks: each block of the priced phase keeps its own quiet
/// loop (`ipi::QUIET_SAMPLES`, ~1.6 MB), and each check block switches
/// the trace on and off (patching kernel text twice).
pub(crate) const MAX_BLOCKS: u32 = 10;

/// How many blocks a phase of `duration` is cut into.
pub(crate) fn count(duration: Duration) -> u32 {
    let n = (duration.as_secs_f64() / BLOCK_MIN.as_secs_f64()).floor();
    (n as u32).clamp(1, MAX_BLOCKS)
}

/// What the interleaved blocks gave.
pub(crate) struct Blocks {
    pub check: std::result::Result<Check, NoCheck>,
    pub priced: Phase,
    /// The initiator's method, row and description.
    pub method: String,
    pub row: IrqRow,
    pub describe: String,
    pub count: u32,
}

/// Runs `exp`'s check and priced blocks, alternating which goes first.
/// Once a check block cannot trace, the rest run priced blocks only.
pub(crate) fn run(ctx: &Ctx, exp: &mut IpiExperiment, icpu: u32) -> Result<Blocks> {
    let n = count(ctx.cfg.ipi_duration);
    let pace = |total: Duration| Pace {
        rate_hz: ctx.cfg.ipi_rate_hz,
        duration: total / n,
        control: Control::Interleaved,
    };
    let (priced_pace, check_pace) = (
        pace(ctx.cfg.ipi_duration),
        pace(ctx.cfg.ipi_duration.min(ipi_check::CHECK_MAX)),
    );
    let first = exp.initiator()?;
    let (method, row, describe) = (first.method(), first.row(), first.describe());
    let mut spare = Some(first);
    let mut traced: std::result::Result<Vec<Phase>, NoCheck> = Ok(Vec::new());
    let mut priced = Vec::with_capacity(n as usize);
    for k in 0..n {
        for check_turn in [k % 2 == 0, k % 2 == 1] {
            if check_turn {
                if let Ok(done) = &mut traced {
                    match ipi_check::block(ctx, exp, icpu, check_pace)? {
                        Ok(p) => done.push(p),
                        Err(no) => traced = Err(no),
                    }
                }
            } else {
                let init = match spare.take() {
                    Some(i) => i,
                    None => exp.initiator()?,
                };
                priced.push(ipi::run_phase(ctx, init, icpu, priced_pace, None)?);
            }
        }
    }
    let check = traced.and_then(|blocks| ipi_check::judge(ctx, &merge(blocks), row));
    Ok(Blocks {
        check,
        priced: merge(priced),
        method,
        row,
        describe,
        count: n,
    })
}

/// Blocks merged into one phase: gaps, windows, controls, quiet samples
/// and event times concatenated; counts, fires' time and resets summed
/// (`before` is then zero and `after` the blocks' summed deltas); the
/// highest threshold and the widest skew allowance kept.
pub(crate) fn merge(blocks: Vec<Phase>) -> Phase {
    let mut out = Phase {
        threshold: 0,
        skew: Default::default(),
        quiet: Vec::new(),
        before: Counts::default(),
        after: Counts::default(),
        spin: SpinStats::default(),
        gaps: Vec::new(),
        fired: Fired::default(),
        labels: None,
    };
    for (i, b) in blocks.into_iter().enumerate() {
        out.threshold = out.threshold.max(b.threshold);
        if i == 0 || b.skew.allowance() > out.skew.allowance() {
            out.skew = b.skew;
        }
        out.quiet.extend(b.quiet);
        out.after = out.after.plus(b.after.minus(b.before));
        out.spin.iterations += b.spin.iterations;
        out.spin.dropped += b.spin.dropped;
        out.gaps.extend(b.gaps);
        out.fired.extend(b.fired);
        out.labels = match (out.labels, b.labels) {
            (Some(Err(e)), _) | (_, Some(Err(e))) => Some(Err(e)),
            (None, l) => l,
            (l, None) => l,
            (Some(Ok(a)), Some(Ok(b))) => Some(Ok(a.plus(b))),
        };
    }
    out.quiet.sort_unstable();
    if let Some(Ok(l)) = &mut out.labels {
        l.times.sort_unstable();
    }
    out
}

impl Labels {
    /// Two blocks' labels of one function as one.
    fn plus(mut self, b: Labels) -> Labels {
        self.times.extend(b.times);
        self.other += b.other;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timer::skew::Skew;
    use workloads::ipi::Gap;

    fn block(t0: u64, tlb: (u64, u64), skew: i64, labels: Option<Vec<u64>>) -> Phase {
        Phase {
            threshold: 500 + t0 / 1000,
            skew: Skew {
                a_to_b: skew,
                b_to_a: 1,
            },
            quiet: vec![3, 1, 2],
            before: Counts {
                tlb: tlb.0,
                ..Counts::default()
            },
            after: Counts {
                tlb: tlb.1,
                ..Counts::default()
            },
            spin: SpinStats {
                iterations: 10,
                dropped: 1,
            },
            gaps: vec![Gap {
                start: t0 + 5,
                cycles: 3,
            }],
            fired: Fired {
                windows: vec![(t0, t0 + 10)],
                controls: vec![(t0 + 20, t0 + 30)],
                skipped_controls: 2,
                elapsed: Duration::from_millis(250),
                reset_ipis: 1,
            },
            labels: labels.map(|times| {
                Ok(Labels {
                    func: "flush_tlb_func".into(),
                    times,
                    other: 1,
                })
            }),
        }
    }

    #[test]
    fn blocks_cut_the_duration_a_quarter_second_at_least_and_ten_at_most() {
        assert_eq!(count(Duration::from_millis(100)), 1);
        assert_eq!(count(Duration::from_secs(1)), 4);
        assert_eq!(count(Duration::from_secs(2)), 8);
        assert_eq!(count(Duration::from_secs(10)), MAX_BLOCKS);
    }

    #[test]
    fn merged_blocks_sum_deltas_and_concatenate_in_time_order() {
        let m = merge(vec![
            block(1000, (100, 110), 7, Some(vec![1006])),
            block(5000, (500, 530), 40, Some(vec![5006, 5002])),
        ]);
        // Deltas, not the last block's counts nor the span's: the trace
        // switched on and off between blocks sends IPIs of its own.
        assert_eq!(ipi::row_delta(IrqRow::Tlb, &m), 40);
        assert_eq!(m.fired.reset_ipis, 2);
        assert_eq!(m.fired.skipped_controls, 4);
        assert_eq!(m.fired.elapsed, Duration::from_millis(500));
        assert_eq!(m.fired.windows, vec![(1000, 1010), (5000, 5010)]);
        assert_eq!(m.fired.controls, vec![(1020, 1030), (5020, 5030)]);
        assert_eq!(m.gaps.len(), 2);
        assert_eq!(m.quiet, vec![1, 1, 2, 2, 3, 3]);
        assert_eq!((m.spin.iterations, m.spin.dropped), (20, 2));
        assert_eq!(m.threshold, 505);
        assert_eq!(m.skew.allowance(), 40);
        let l = m.labels.unwrap().unwrap();
        assert_eq!((l.times, l.other), (vec![1006, 5002, 5006], 2));
    }

    #[test]
    fn one_unreadable_block_trace_makes_the_merged_labels_unreadable() {
        let mut bad = block(5000, (0, 1), 1, None);
        bad.labels = Some(Err("the trace buffer lost 3 events".into()));
        let m = merge(vec![block(1000, (0, 1), 1, Some(vec![1006])), bad]);
        assert_eq!(
            m.labels.unwrap().unwrap_err(),
            "the trace buffer lost 3 events"
        );
        let untraced = merge(vec![block(1000, (0, 1), 1, None)]);
        assert!(untraced.labels.is_none());
    }
}
