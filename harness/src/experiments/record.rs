//! Turning sample buffers into `schema::Experiment` values.

use crate::schema::{self, Baseline, BlockDrift, Blocks, CoreCycles, ExperimentId, Histogram};
use report::model::stats;
use report::output::drift_text;
use serde_json::Value;
use std::collections::BTreeMap;

/// Parameters from (name, value) pairs.
pub fn params<const N: usize>(pairs: [(&str, Value); N]) -> BTreeMap<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Median of samples in any order (sorts a copy): for figures that are
/// printed or compared, not stored as a distribution.
pub fn median(samples: impl IntoIterator<Item = i64>) -> f64 {
    let mut s: Vec<i64> = samples.into_iter().collect();
    s.sort_unstable();
    stats::median_sorted(&s)
}

/// An experiment from its samples (cycles, overhead already removed).
/// Sorts `samples`.
pub fn measured(
    id: ExperimentId,
    backend: &str,
    params: BTreeMap<String, Value>,
    samples: &mut [i64],
) -> schema::Experiment {
    let summary = stats::summarize(samples);
    schema::Experiment::plain(
        id,
        backend,
        params,
        summary,
        Histogram::from_samples(samples),
    )
}

/// The reference run's core cycles of a differential experiment.
pub enum CoreBase {
    /// Region i of the baseline ran right after region i of the
    /// experiment (refill pairs): the delta is the median of the pairs.
    Paired(Vec<i64>),
    /// Separate runs (entry.flush.* against nop): the median shift.
    Unpaired(Vec<i64>),
}

/// Attaches the core cycles (rdpmc) of the same timed regions, overhead
/// already removed: a figure of its own beside the TSC time, never
/// converted to ns. `core` None (no rdpmc) leaves the experiment as is.
pub fn with_core_cycles(
    mut e: schema::Experiment,
    core: Option<Vec<i64>>,
    base: Option<CoreBase>,
) -> schema::Experiment {
    let Some(mut core) = core.filter(|c| !c.is_empty()) else {
        return e;
    };
    let delta_median = base.map(|b| match b {
        CoreBase::Paired(b) => {
            let mut d: Vec<i64> = core.iter().zip(&b).map(|(a, b)| a - b).collect();
            d.sort_unstable();
            finite(stats::median_sorted(&d))
        }
        CoreBase::Unpaired(mut b) => {
            core.sort_unstable();
            b.sort_unstable();
            finite(stats::delta_median_ci95(&core, &b).0)
        }
    });
    e.core_cycles = Some(CoreCycles {
        summary: stats::summarize(&mut core),
        delta_median,
    });
    e
}

/// An experiment from a histogram of its samples (cycles): for runs too
/// long to keep as a flat list (`scenario.*`).
pub fn measured_histogram(
    id: ExperimentId,
    backend: &str,
    params: BTreeMap<String, Value>,
    samples: Histogram,
) -> schema::Experiment {
    let mut e = measured(id, backend, params, &mut []);
    e.summary = stats::summarize_histogram(&samples);
    e.samples = samples;
    e
}

/// `with_block_delta` for a reference run held as a histogram: the
/// headline is the median of the blocks' deltas with their CI.
pub fn with_block_delta_histogram(
    mut e: schema::Experiment,
    label: &str,
    base: Histogram,
    blocks: Blocks,
) -> schema::Experiment {
    e.baseline = Some(Baseline {
        label: label.to_string(),
        summary: stats::summarize_histogram(&base),
        samples: base,
        delta_median: finite(stats::median_f64(&blocks.medians)),
        delta_ci95: [finite(blocks.ci95[0]), finite(blocks.ci95[1])],
    });
    attach_blocks(&mut e, blocks);
    e
}

/// Adds the reference run of a differential experiment and its delta
/// median with a bootstrap CI. Sorts `base`.
pub fn with_baseline(
    mut e: schema::Experiment,
    label: &str,
    base: &mut [i64],
) -> schema::Experiment {
    base.sort_unstable();
    let measured = e.samples.to_sorted_samples();
    let (delta, ci) = stats::delta_median_ci95(&measured, base);
    e.baseline = Some(baseline(label, base, delta, ci));
    e
}

/// The reference run (sorted samples) with the delta and its CI.
fn baseline(label: &str, sorted_base: &[i64], delta: f64, ci: [f64; 2]) -> Baseline {
    Baseline {
        label: label.to_string(),
        summary: stats::summarize(&mut sorted_base.to_vec()),
        samples: Histogram::from_samples(sorted_base),
        delta_median: finite(delta),
        delta_ci95: [finite(ci[0]), finite(ci[1])],
    }
}

/// Attaches the experiment's blocks: the median's CI becomes the block
/// bootstrap CI, and blocks that disagree add the unstable-host warning.
pub fn with_blocks(mut e: schema::Experiment, blocks: Blocks) -> schema::Experiment {
    e.summary.median_ci95 = holding(blocks.ci95, e.summary.median);
    attach_blocks(&mut e, blocks);
    e
}

/// Stores the blocks, with the unstable-host warning when they disagree.
fn attach_blocks(e: &mut schema::Experiment, blocks: Blocks) {
    if let Some(w) = drift_text::unstable_warning(&blocks) {
        e.notes.push(w);
    }
    e.blocks = Some(blocks);
}

/// Adds the reference run of a differential experiment whose delta was
/// taken block by block (paired in time): the headline is the median of
/// the blocks' deltas with their block-bootstrap CI. Sorts `base`.
pub fn with_block_delta(
    e: schema::Experiment,
    label: &str,
    base: &mut [i64],
    blocks: Blocks,
) -> schema::Experiment {
    let mut e = e;
    base.sort_unstable();
    let delta = stats::median_f64(&blocks.medians);
    e.baseline = Some(baseline(label, base, delta, holding(blocks.ci95, delta)));
    attach_blocks(&mut e, blocks);
    e
}

/// Places an interleaved experiment's blocks against the run's drift
/// reference (one entry per block, in block order); the unstable-host
/// warning, if any, then says how far the reference moved. Left as is
/// when the counts differ.
pub fn with_drift(mut e: schema::Experiment, drift: BlockDrift) -> schema::Experiment {
    let Some(b) = e.blocks.as_mut() else {
        return e;
    };
    if b.medians.len() != drift.times_s.len() {
        return e;
    }
    let old = drift_text::unstable_warning(b);
    b.drift = Some(drift);
    if let (Some(old), Some(new)) = (old, drift_text::unstable_warning(b)) {
        for n in e.notes.iter_mut().filter(|n| **n == old) {
            *n = new.clone();
        }
    }
    e
}

/// A block-bootstrap CI widened, where needed, to hold the figure printed
/// beside it. The CI is of the median of block medians; the summary's
/// median is of all samples, and with quantized samples the two can
/// differ by half a step (blocks all at 190.5, the pooled median 190). A
/// CI that leaves out its own figure is refused on load
/// (`report::model::validate`), so it only ever widens.
fn holding(ci: [f64; 2], x: f64) -> [f64; 2] {
    let x = finite(x);
    [finite(ci[0]).min(x), finite(ci[1]).max(x)]
}

/// JSON has no NaN (serde_json writes null, which does not read back as a
/// number): empty inputs become 0.
pub fn finite(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measured_keeps_every_sample() {
        let mut s = vec![5, 3, 3, 9];
        let e = measured(
            "entry.null".into(),
            "user",
            params([("samples", 4.into())]),
            &mut s,
        );
        assert_eq!(e.summary.n, 4);
        assert_eq!(e.samples.to_sorted_samples(), vec![3, 3, 5, 9]);
        assert_eq!(e.params["samples"], 4);
        assert!(e.baseline.is_none() && e.ipi.is_none());
    }

    #[test]
    fn baseline_delta_is_the_median_shift() {
        let mut a: Vec<i64> = (0..101).map(|i| 200 + i % 7).collect();
        let mut b: Vec<i64> = (0..101).map(|i| 150 + i % 7).collect();
        let e = with_baseline(
            measured("refill.w1".into(), "user", BTreeMap::new(), &mut a),
            "plain",
            &mut b,
        );
        let bl = e.baseline.as_ref().unwrap();
        assert_eq!(bl.delta_median, 50.0);
        assert!(bl.delta_ci95[0] <= 50.0 && bl.delta_ci95[1] >= 50.0);
        assert_eq!(e.headline_cycles(), 50.0);
    }

    #[test]
    fn block_delta_is_the_median_of_block_deltas() {
        let mut a: Vec<i64> = vec![500; 40];
        let mut b: Vec<i64> = vec![380; 40];
        let blocks = stats::blocks(2, vec![118.0, 120.0, 122.0, 500.0, 119.0]);
        let e = with_block_delta(
            measured(
                "entry.return_after_sysret".into(),
                "user",
                BTreeMap::new(),
                &mut a,
            ),
            "inline",
            &mut b,
            blocks,
        );
        let bl = e.baseline.as_ref().unwrap();
        assert_eq!(bl.delta_median, 120.0);
        assert!(bl.delta_ci95[0] <= 120.0 && bl.delta_ci95[1] >= 120.0);
        // One block in five far off: the host was not quiet.
        assert!(
            e.notes.iter().any(|n| n.contains("unstable host")),
            "{:?}",
            e.notes
        );
        assert_eq!(e.blocks.unwrap().medians.len(), 5);
    }

    #[test]
    fn blocks_replace_the_sample_ci() {
        let mut s: Vec<i64> = (0..100).collect();
        let e = with_blocks(
            measured("entry.null".into(), "user", BTreeMap::new(), &mut s),
            stats::blocks(50, vec![24.0, 74.0]),
        );
        assert_eq!(e.summary.median_ci95, e.blocks.as_ref().unwrap().ci95);
    }

    #[test]
    fn a_block_ci_always_holds_the_median_beside_it() {
        // Every block's median is 190.5 (even blocks of 190 and 191), the
        // pooled median 190: the CI widens to hold it.
        let mut s: Vec<i64> = [190; 51].into_iter().chain([191; 49]).collect();
        let e = with_blocks(
            measured("entry.null".into(), "user", BTreeMap::new(), &mut s),
            stats::blocks(25, vec![190.5; 4]),
        );
        assert_eq!(e.summary.median, 190.0);
        assert_eq!(e.summary.median_ci95, [190.0, 190.5]);
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../testdata/results/synthetic-tcg-partial.json"
        );
        let mut file = report::model::load::read_result(std::path::Path::new(path)).unwrap();
        file.experiments = vec![e];
        report::model::validate::result_file(&file).unwrap();
    }

    #[test]
    fn core_cycles_are_their_own_figure() {
        // Core clock at 1.5x the TSC: the TSC samples stay the headline,
        // the core figure sits beside them, unconverted.
        let mut tsc = vec![200i64; 9];
        let e = measured("entry.null".into(), "user", BTreeMap::new(), &mut tsc);
        let e = with_core_cycles(e, Some(vec![300; 9]), None);
        assert_eq!(e.summary.median, 200.0);
        assert_eq!(e.core_cycles.as_ref().unwrap().summary.median, 300.0);
        assert_eq!(e.headline_core_cycles(), Some(300.0));
        let paired = with_core_cycles(
            e.clone(),
            Some(vec![300, 310, 320]),
            Some(CoreBase::Paired(vec![100, 100, 100])),
        );
        assert_eq!(paired.core_cycles.unwrap().delta_median, Some(210.0));
        assert!(with_core_cycles(e, None, None).core_cycles.is_some());
        let plain = measured("x".into(), "user", BTreeMap::new(), &mut [1]);
        assert!(with_core_cycles(plain, None, None).core_cycles.is_none());
    }

    #[test]
    fn drift_marks_the_blocks_and_speaks_in_the_warning() {
        let mut s: Vec<i64> = (0..100).collect();
        let mut m = vec![400.0; 20];
        m[2] = 600.0;
        m[3] = 600.0;
        m[4] = 600.0;
        let e = with_blocks(
            measured("entry.null".into(), "user", BTreeMap::new(), &mut s),
            stats::blocks(5, m),
        );
        assert!(e.notes.iter().any(|n| n.contains("unstable host")));
        let reference = schema::DriftReference {
            medians: vec![100.0, 100.0, 130.0, 100.0, 100.0],
            times_s: vec![0.0, 1.0, 3.0, 5.0, 20.0],
            off_threshold: 0.05,
            ..Default::default()
        };
        let times: Vec<f64> = (0..20).map(|i| i as f64).collect();
        let d = report::model::drift::block_drift(&reference, times);
        let e = with_drift(e, d);
        let drift = e.blocks.as_ref().unwrap().drift.as_ref().unwrap();
        assert_eq!(drift.off[..6], [false, false, true, true, true, false]);
        let w: Vec<&String> = e.notes.iter().filter(|n| n.contains("unstable")).collect();
        assert_eq!(w.len(), 1, "{:?}", e.notes);
        assert!(
            w[0].contains("moved 30.0%") && w[0].contains("3 of 20"),
            "{w:?}"
        );
        // A count that does not match the blocks is not attached.
        let mut plain = e;
        plain.blocks.as_mut().unwrap().drift = None;
        let short = report::model::drift::block_drift(&reference, vec![1.0]);
        assert!(with_drift(plain, short).blocks.unwrap().drift.is_none());
    }

    #[test]
    fn histogram_experiments_match_sample_ones() {
        let mut s: Vec<i64> = (0..500).map(|i| 100 + i % 13).collect();
        let h = Histogram::from_samples(&s);
        let a = measured_histogram("scenario.none".into(), "user", BTreeMap::new(), h.clone());
        let b = measured("scenario.none".into(), "user", BTreeMap::new(), &mut s);
        assert_eq!(a, b);
        let base = Histogram::from_samples(&[90, 91, 92]);
        let d = with_block_delta_histogram(a, "none", base, stats::blocks(25, vec![10.0; 20]));
        let bl = d.baseline.as_ref().unwrap();
        assert_eq!((bl.delta_median, bl.summary.median), (10.0, 91.0));
        assert_eq!(d.headline_cycles(), 10.0);
        assert!(d.blocks.is_some());
    }

    #[test]
    fn empty_baseline_has_no_nan() {
        let e = with_baseline(
            measured("x".into(), "user", BTreeMap::new(), &mut []),
            "b",
            &mut [],
        );
        let bl = e.baseline.unwrap();
        assert!(bl.delta_median.is_finite() && bl.delta_ci95.iter().all(|v| v.is_finite()));
    }
}
