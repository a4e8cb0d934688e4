//! The traced check and the untraced priced phase of `ipi.user.*` run
//! as interleaved blocks, then each is merged into one phase.
//!
//! The check's tolerance is only as good as the priced phase is like
//! the check. Run one after the other, a host phase could cover one and
//! not the other: on the noisy Emerald Rapids guest one quick run's
//! check fitted a before side of 1.4 us and its priced phase then saw
//! 89.5% of the IPIs (`results/checks/label-fit-variants-20261130T0925.txt`),
//! and 3 of 40 others saw 98.7-98.9% (that file and
//! `measure-ipi-mprotect-20261130T0934.txt`). In blocks, a quarter of a
//! quick run's priced phase or a tenth of a full one's each, alternating
//! check-first and priced-first (`schedule`), both sample the same
//! stretch of the host's time. Measured against the code before in
//! alternating quick runs, this alone did not move the seen bar (28
//! against 30 of 40, `measure-ipi-blocks-core-20261130T1047.txt`): the
//! misses came from how gaps were picked (`ipi_fit::core_band`).
//!
//! Each block is a whole `ipi::run_phase` (its own skew, quiet loop and
//! /proc/interrupts reads), and the trace is switched on and off outside
//! the counts of every check block. Blocks follow each other, so their
//! gaps, windows and event times concatenate in time order.

use super::ipi::{self, Control, IpiExperiment, IrqRow, Pace, Phase};
use super::ipi_check::{self, Check, NoCheck};
use super::ipi_label::Labels;
use super::Ctx;
use anyhow::Result;
use std::time::Duration;

/// The shortest block the duration is cut into: at 1 kHz, ~250 calls.
pub(crate) const BLOCK_MIN: Duration = Duration::from_millis(250);
/// The most blocks: each block of the priced phase keeps its own quiet
/// loop (`ipi::QUIET_SAMPLES`, ~1.6 MB), and each check block switches
/// the trace on and off (patching kernel text twice).
pub(crate) const MAX_BLOCKS: u32 = 10;

/// How many blocks a phase of `duration` is cut into: an even number
/// where there are two or more, so the alternation (`schedule`) puts the
/// check as often first as second and a steady drift lands on both alike.
pub(crate) fn count(duration: Duration) -> u32 {
    let n =
        ((duration.as_secs_f64() / BLOCK_MIN.as_secs_f64()).floor() as u32).clamp(1, MAX_BLOCKS);
    if n > 1 {
        n & !1
    } else {
        n
    }
}

/// One turn of the interleaving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    Check,
    Priced,
}

/// The order of `n` rounds of a check and a priced block: the check
/// first in the 1st, 3rd, ... rounds, second in the 2nd, 4th, ...
pub(crate) fn schedule(n: u32) -> Vec<Turn> {
    (0..n)
        .flat_map(|k| {
            if k % 2 == 0 {
                [Turn::Check, Turn::Priced]
            } else {
                [Turn::Priced, Turn::Check]
            }
        })
        .collect()
}

/// `schedule`'s rule in words, for the result file, with `n` blocks.
pub(crate) fn rule(n: u32) -> String {
    format!(
        "the priced phase ran as {n} blocks of duration/{n}, each a whole phase (its own skew, \
         quiet loop and interrupt counts), merged; with a trace check its traced blocks \
         (min(duration, {} s)/{n} each) alternate with them, check first in odd rounds and \
         priced first in even ones",
        ipi_check::CHECK_MAX.as_secs()
    )
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
    /// The traced blocks as run, kept only for a dump (`ipi_dump`).
    pub traced: Option<Vec<Phase>>,
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
    // What the initiator is, from one made for that: each block makes
    // its own just before it fires (the victim reads its memory then).
    let (method, row, describe) = {
        let i = exp.initiator()?;
        (i.method(), i.row(), i.describe())
    };
    let mut traced: std::result::Result<Vec<Phase>, NoCheck> = Ok(Vec::new());
    let mut priced = Vec::with_capacity(n as usize);
    for turn in schedule(n) {
        match turn {
            Turn::Check => {
                if let Ok(done) = &mut traced {
                    match ipi_check::block(ctx, exp, icpu, check_pace)? {
                        Ok(p) => done.push(p),
                        Err(no) => traced = Err(no),
                    }
                }
            }
            Turn::Priced => {
                let init = exp.initiator()?;
                priced.push(ipi::run_phase(ctx, init, icpu, priced_pace, None)?);
            }
        }
    }
    let kept = match (&ctx.cfg.dump_ipi, &traced) {
        (Some(_), Ok(b)) => Some(b.iter().map(super::ipi_dump::matching_input).collect()),
        _ => None,
    };
    let check = traced.and_then(|blocks| ipi_check::judge(ctx.timer.tsc_hz, blocks, row));
    Ok(Blocks {
        check,
        priced: merge(priced),
        method,
        row,
        describe,
        count: n,
        traced: kept,
    })
}

/// Blocks merged into one phase: gaps, windows, controls, quiet samples
/// and event times concatenated; counts, fires' time and resets summed
/// (`before` is then zero and `after` the blocks' summed deltas); the
/// highest threshold and the widest skew allowance kept.
pub(crate) fn merge(blocks: Vec<Phase>) -> Phase {
    let mut out = Phase::default();
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
        out.switched.extend(b.switched);
        out.fired.extend(b.fired);
        // A block without labels among labelled ones would read as calls
        // that picked wrong: the merge has none then.
        out.labels = match (i, out.labels, b.labels) {
            (0, _, l) => l,
            (_, Some(Err(e)), _) | (_, _, Some(Err(e))) => Some(Err(e)),
            (_, None, None) => None,
            (_, Some(Ok(a)), Some(Ok(b))) => Some(Ok(a.plus(b))),
            (_, Some(Ok(_)), None) | (_, None, Some(Ok(_))) => {
                Some(Err("a block was not traced".into()))
            }
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
    use crate::experiments::ipi::{Counts, Fired};
    use crate::timer::skew::Skew;
    use workloads::ipi::{Gap, SpinStats};

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
            switched: vec![t0 + 5],
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

    /// The switched-out share is the switched gaps' time over the firing
    /// time: merged blocks keep each gap's switch mark.
    #[test]
    fn switched_share_counts_the_switched_gaps_only() {
        let mut a = block(1000, (0, 0), 0, None);
        a.gaps.push(Gap {
            start: 1100,
            cycles: 40,
        });
        let m = merge(vec![a, block(5000, (0, 0), 0, None)]);
        // Switched: 3 cycles at 1005 and 3 at 5005, not the 40 at 1100;
        // 500 ms of firing at 1 kHz is 500 cycles.
        assert!((m.switched_share(1_000.0) - 6.0 / 500.0).abs() < 1e-12);
    }

    #[test]
    fn blocks_cut_the_duration_a_quarter_second_at_least_ten_at_most_even() {
        assert_eq!(count(Duration::from_millis(100)), 1);
        assert_eq!(count(Duration::from_millis(750)), 2);
        assert_eq!(count(Duration::from_secs(1)), 4);
        assert_eq!(count(Duration::from_secs(2)), 8);
        assert_eq!(count(Duration::from_secs(10)), MAX_BLOCKS);
    }

    #[test]
    fn the_check_goes_first_in_odd_rounds_and_second_in_even_ones() {
        use Turn::{Check as C, Priced as P};
        assert_eq!(schedule(1), vec![C, P]);
        assert_eq!(schedule(4), vec![C, P, P, C, C, P, P, C]);
        // As often first as second, in any even count.
        for n in (2..=MAX_BLOCKS).step_by(2) {
            let s = schedule(n);
            let firsts = s.chunks(2).filter(|r| r[0] == C).count();
            assert_eq!((s.len(), firsts), (2 * n as usize, n as usize / 2));
        }
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
        assert_eq!(m.switched, vec![1005, 5005]);
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
        // Untraced beside traced: no labels to stand on, whichever first.
        for pair in [(None, Some(vec![5006])), (Some(vec![1006]), None)] {
            let m = merge(vec![
                block(1000, (0, 1), 1, pair.0),
                block(5000, (0, 1), 1, pair.1),
            ]);
            assert_eq!(m.labels.unwrap().unwrap_err(), "a block was not traced");
        }
    }
}
