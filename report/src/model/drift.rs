//! The run's drift reference: one fixed loop (glibc `syscall(SYS_getppid)`,
//! as `perf bench syscall basic` calls it) timed in short blocks between
//! the experiments' blocks all through a run. Its block medians say how
//! far the host itself moved while the run measured: the run summary and
//! the report state that drift, blocks taken while it was off are marked,
//! the unstable-host warning speaks in its terms, and `compare` judges
//! changes net of it. The rules for all of that live here.

use crate::model::schema::{BlockDrift, DriftReference, Experiment, ResultFile};
use crate::model::stats::median_f64;

/// A block is marked as taken off the reference when the reference
/// around it is further than this from its median over the run: as far
/// as a block may stray before the unstable-host test counts it.
pub const OFF_THRESHOLD: f64 = crate::model::stats::UNSTABLE_DEVIATION;

/// The reference's median over the run, cycles per call (NaN for none).
pub fn median(r: &DriftReference) -> f64 {
    median_f64(&r.medians)
}

/// Largest over smallest block median: how far the host moved during the
/// run (1.0: not at all). None with fewer than two usable blocks.
pub fn max_over_min(medians: &[f64]) -> Option<f64> {
    let v: Vec<f64> = medians
        .iter()
        .copied()
        .filter(|m| m.is_finite() && *m > 0.0)
        .collect();
    if v.len() < 2 {
        return None;
    }
    let (lo, hi) = v.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &m| {
        (lo.min(m), hi.max(m))
    });
    Some(hi / lo)
}

/// The reference's level at `t` seconds relative to its run median
/// (`reference_at` over `median`). NaN without reference blocks.
pub fn level_at(r: &DriftReference, t: f64) -> f64 {
    let m = median(r);
    if m.is_nan() || m <= 0.0 {
        return f64::NAN;
    }
    reference_at(r, t) / m
}

/// The reference at `t` seconds, cycles per call: linear between the
/// reference blocks taken just before and just after `t`, the nearest
/// one outside them. NaN without reference blocks.
pub fn reference_at(r: &DriftReference, t: f64) -> f64 {
    let pts: Vec<(f64, f64)> = r
        .times_s
        .iter()
        .zip(&r.medians)
        .filter(|(t, v)| t.is_finite() && v.is_finite())
        .map(|(&t, &v)| (t, v))
        .collect();
    if pts.is_empty() {
        return f64::NAN;
    }
    // Reference blocks are in run order, so times ascend.
    let after = pts.partition_point(|&(ti, _)| ti < t);
    if after == 0 {
        pts[0].1
    } else if after == pts.len() {
        pts[pts.len() - 1].1
    } else {
        let ((t0, v0), (t1, v1)) = (pts[after - 1], pts[after]);
        let w = if t1 > t0 { (t - t0) / (t1 - t0) } else { 0.5 };
        v0 + (v1 - v0) * w
    }
}

/// Where the reference stood while each block was taken (`times`:
/// seconds since the run's first block, each block's middle).
pub fn block_drift(r: &DriftReference, times: Vec<f64>) -> BlockDrift {
    let reference: Vec<f64> = times.iter().map(|&t| level_at(r, t)).collect();
    let off = reference
        .iter()
        .map(|l| (l - 1.0).abs() > r.off_threshold)
        .collect();
    BlockDrift {
        times_s: times,
        reference,
        off,
        quiet: None,
    }
}

/// Experiment blocks of a file taken while the reference was off, and
/// all its blocks that were checked against the reference.
pub fn marked_blocks(f: &ResultFile) -> (usize, usize) {
    f.experiments
        .iter()
        .filter_map(|e| e.blocks.as_ref()?.drift.as_ref())
        .fold((0, 0), |(m, n), d| {
            (m + d.off.iter().filter(|&&o| o).count(), n + d.off.len())
        })
}

/// How the reference moved from run A to run B, and whether it stands for
/// the host's drift between them.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Both runs carry it and ran the same kernel on the same machine:
    /// it stands for the host's drift, and interleaved rows are judged
    /// net of it (`net_blocks`). `a`, `b`: its medians, cycles per call.
    Net { a: f64, b: f64 },
    /// Both carry it, but it cannot stand for drift (why).
    NotNetted { a: f64, b: f64, why: String },
    /// At most one run carries it.
    Absent,
}

/// The reference must move at least this much within the runs (standard
/// deviation of the log of its levels at the blocks) for an id's
/// sensitivity to it to be measured; below, the id is taken as moving
/// with it in full.
const MIN_LEVEL_SPREAD: f64 = 0.01;
/// Sensitivities are clamped to this range: an id is not taken to move
/// against the host, nor much more than the reference itself.
const SENSITIVITY: (f64, f64) = (0.0, 1.5);

/// Two experiments' block medians net of the drift reference.
#[derive(Debug, Clone, PartialEq)]
pub struct NetBlocks {
    /// A's and B's block medians, each divided by the reference's level
    /// when it was taken (relative to A's reference median) raised to
    /// `sensitivity`: what each block would have read at A's typical
    /// host.
    pub a: Vec<f64>,
    pub b: Vec<f64>,
    /// How much the id moves with the reference: the slope of the log of
    /// its block medians against the log of the reference's levels,
    /// within each run (so a change between the runs cannot pass for
    /// one), or 1 when the reference hardly moved within them.
    pub sensitivity: f64,
}

/// Blocks of `ea` (run A, reference median `ma`) and `eb` (B, `mb`) net
/// of the reference, when both were interleaved with it and their
/// medians are positive (not differences).
pub fn net_blocks(ea: &Experiment, ma: f64, eb: &Experiment, mb: f64) -> Option<NetBlocks> {
    if !(nettable(ea) && nettable(eb)) || ma.is_nan() || mb.is_nan() || ma <= 0.0 || mb <= 0.0 {
        return None;
    }
    let (ba, bb) = (ea.blocks.as_ref()?, eb.blocks.as_ref()?);
    let (da, db) = (ba.drift.as_ref()?, bb.drift.as_ref()?);
    // Levels relative to A's reference median.
    let la: Vec<f64> = da.reference.clone();
    let lb: Vec<f64> = db.reference.iter().map(|l| l * mb / ma).collect();
    let ok = |v: &[f64]| v.iter().all(|x| x.is_finite() && *x > 0.0);
    if !(ok(&ba.medians) && ok(&bb.medians) && ok(&la) && ok(&lb))
        || ba.medians.len() != la.len()
        || bb.medians.len() != lb.len()
    {
        return None;
    }
    let k = sensitivity(&[(&ba.medians, &la), (&bb.medians, &lb)]);
    let net = |m: &[f64], l: &[f64]| m.iter().zip(l).map(|(m, l)| m / l.powf(k)).collect();
    Some(NetBlocks {
        a: net(&ba.medians, &la),
        b: net(&bb.medians, &lb),
        sensitivity: k,
    })
}

/// The within-run slope of log(median) on log(level), pooled over the
/// runs (each run centred on its own means); 1 when the levels hardly
/// vary within the runs.
fn sensitivity(runs: &[(&Vec<f64>, &Vec<f64>)]) -> f64 {
    let (mut sxy, mut sxx, mut n) = (0.0, 0.0, 0usize);
    for (m, l) in runs {
        let y: Vec<f64> = m.iter().map(|v| v.ln()).collect();
        let x: Vec<f64> = l.iter().map(|v| v.ln()).collect();
        let (my, mx) = (mean(&y), mean(&x));
        sxy += x
            .iter()
            .zip(&y)
            .map(|(x, y)| (x - mx) * (y - my))
            .sum::<f64>();
        sxx += x.iter().map(|x| (x - mx).powi(2)).sum::<f64>();
        n += x.len();
    }
    if n < 2 || (sxx / n as f64).sqrt() < MIN_LEVEL_SPREAD {
        return 1.0;
    }
    (sxy / sxx).clamp(SENSITIVITY.0, SENSITIVITY.1)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// The reference's change from A to B. It is itself a kernel entry, so it
/// stands for the host's drift only when A and B ran the same kernel
/// (release, command line, mitigations) on the same machine: a patch that
/// slows every entry moves it too. `net` false: never netted (`compare
/// --raw`).
pub fn change(a: &ResultFile, b: &ResultFile, net: bool) -> Change {
    let (Some(ra), Some(rb)) = (&a.drift_reference, &b.drift_reference) else {
        return Change::Absent;
    };
    let (ma, mb) = (median(ra), median(rb));
    if ma.is_nan() || mb.is_nan() || ma <= 0.0 || mb <= 0.0 {
        return Change::Absent;
    }
    let why = if !net {
        Some("--raw asked for raw changes".to_string())
    } else if ra.operation != rb.operation {
        Some("the two references time different loops".into())
    } else {
        different_system(a, b)
    };
    match why {
        None => Change::Net { a: ma, b: mb },
        Some(why) => Change::NotNetted { a: ma, b: mb, why },
    }
}

/// Why A and B are not the same kernel on the same machine, if they are
/// not.
fn different_system(a: &ResultFile, b: &ResultFile) -> Option<String> {
    let (ca, cb) = (&a.environment.cpu, &b.environment.cpu);
    if a.host != b.host || ca.brand != cb.brand || ca.model != cb.model {
        return Some("A and B ran on different machines".into());
    }
    let k = |f: &ResultFile| {
        f.environment.platform.as_ref().map(|p| {
            (
                p.kernel_release.clone(),
                p.kernel_cmdline.clone(),
                p.mitigations.clone(),
            )
        })
    };
    if k(a) != k(b) {
        return Some(
            "the kernels differ (release, command line or mitigations), and the reference is \
             a kernel entry itself"
                .into(),
        );
    }
    None
}

/// Whether the reference speaks for this experiment's blocks: it was
/// interleaved with it (its blocks carry drift) and is a loop of the kind
/// the reference is. A refill walk is memory, not a kernel entry: on the
/// Emerald Rapids guest the blocks taken at the reference's low read
/// 0.5-1.7x the refill rows' median over all blocks, either way
/// (`results/checks/compare-quiet-net-20261201T0442.txt`), so neither
/// the quiet choice nor netting applies to it.
pub fn follows_reference(e: &Experiment) -> bool {
    let interleaved = e.blocks.as_ref().is_some_and(|b| b.drift.is_some());
    interleaved
        && !matches!(
            crate::model::ids::kind(e),
            crate::model::ids::ExperimentId::Refill(_)
        )
}

/// Whether `compare` nets this experiment's change: the reference speaks
/// for it (`follows_reference`) and its figure is a cost, not a
/// difference of two (entry.return_after_sysret), which is judged raw on
/// its quiet blocks.
pub fn nettable(e: &Experiment) -> bool {
    follows_reference(e) && e.baseline.is_none()
}

/// A reference of these block medians at these times, for tests.
#[cfg(test)]
pub(crate) fn test_reference(medians: &[f64], times: &[f64]) -> DriftReference {
    DriftReference {
        operation: "glibc syscall(), getppid".into(),
        ops_per_sample: 16,
        regions_per_block: 256,
        medians: medians.to_vec(),
        times_s: times.to_vec(),
        off_threshold: OFF_THRESHOLD,
    }
}

#[cfg(test)]
mod tests {
    use super::test_reference as reference;
    use super::*;

    #[test]
    fn levels_interpolate_between_the_blocks_around() {
        let r = reference(&[100.0, 100.0, 120.0, 100.0], &[0.0, 1.0, 2.0, 3.0]);
        assert_eq!(median(&r), 100.0);
        assert_eq!(level_at(&r, 0.5), 1.0);
        assert!((level_at(&r, 1.5) - 1.1).abs() < 1e-12);
        assert_eq!(level_at(&r, 2.0), 1.2);
        // Outside the reference blocks: the nearest one.
        assert_eq!(level_at(&r, -1.0), 1.0);
        assert_eq!(level_at(&r, 9.0), 1.0);
        assert!(level_at(&reference(&[], &[]), 1.0).is_nan());
        let d = block_drift(&r, vec![0.5, 1.4, 1.6, 2.5]);
        assert_eq!(d.off, [false, true, true, true]);
        assert!((d.reference[1] - 1.08).abs() < 1e-12);
    }

    fn interleaved(medians: Vec<f64>, levels: Vec<f64>) -> Experiment {
        let times = (0..medians.len()).map(|i| i as f64).collect();
        let mut e = Experiment::plain(
            "entry.getppid".into(),
            "user",
            Default::default(),
            Default::default(),
            Default::default(),
        );
        e.blocks = Some(crate::model::schema::Blocks {
            medians,
            drift: Some(BlockDrift {
                times_s: times,
                off: vec![false; levels.len()],
                reference: levels,
                quiet: None,
            }),
            ..Default::default()
        });
        e
    }

    #[test]
    fn blocks_are_netted_with_the_ids_own_sensitivity() {
        // Half the blocks of each run were taken while the host ran the
        // reference 20% slower; this id moves half as much (10%). B has
        // more slow blocks and a higher reference median.
        let run = |slow: usize, n: usize| {
            let l: Vec<f64> = (0..n).map(|i| if i < slow { 1.2 } else { 1.0 }).collect();
            let m: Vec<f64> = l.iter().map(|l| 100.0 * l.powf(0.5)).collect();
            (m, l)
        };
        let (ma, la) = run(10, 32);
        let (mb, lb) = run(20, 32);
        let a = interleaved(ma, la);
        let b = interleaved(mb.clone(), lb.iter().map(|l| l / 1.1).collect());
        let n = net_blocks(&a, 200.0, &b, 220.0).unwrap();
        assert!((n.sensitivity - 0.5).abs() < 1e-9, "{n:?}");
        assert!(
            n.a.iter().chain(&n.b).all(|v| (v - 100.0).abs() < 1e-9),
            "{n:?}"
        );
        // A reference that did not move within the runs: sensitivity 1.
        let flat = interleaved(vec![100.0; 32], vec![1.0; 32]);
        let n = net_blocks(&flat, 200.0, &flat, 220.0).unwrap();
        assert_eq!(n.sensitivity, 1.0);
        assert!((n.b[0] - 100.0 / 1.1).abs() < 1e-9);
        // Differences and non-interleaved ids are not netted.
        let mut delta = a.clone();
        delta.baseline = Some(crate::model::schema::Baseline {
            label: String::new(),
            summary: Default::default(),
            samples: Default::default(),
            delta_median: 3.0,
            delta_ci95: [2.0, 4.0],
        });
        assert!(net_blocks(&delta, 200.0, &b, 220.0).is_none());
        let mut plain = a.clone();
        plain.blocks.as_mut().unwrap().drift = None;
        assert!(net_blocks(&plain, 200.0, &b, 220.0).is_none());
    }

    #[test]
    fn drift_is_max_over_min() {
        assert_eq!(max_over_min(&[100.0, 110.0, 105.0]), Some(1.1));
        assert_eq!(max_over_min(&[100.0]), None);
        assert_eq!(max_over_min(&[100.0, f64::NAN, 0.0]), None);
    }
}
