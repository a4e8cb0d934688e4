//! The quiet-host figure of an interleaved experiment: the median over
//! the blocks taken while the run's drift reference stood near its low.
//!
//! Why: on a shared host the machine runs in phases. On the Emerald
//! Rapids KVM guest the reference's blocks read a median 106-107 ns in
//! one and 124-135 ns in the other, the slow stretches lasting from tens
//! of milliseconds to 5.8 s (results/checks/quiet-blocks-rescore-*.txt).
//! Interleaving spreads a phase over every id, but when the slow phase
//! covers most of a run each id's median over all samples lands in it:
//! a round of `compare-perf-bench.sh` then read up to 22% high, and the
//! spread over rounds followed the host, not the kernel. Choosing blocks by the *reference* around them, never
//! by their own figure, keeps the choice blind to what is measured: in a
//! steady run it takes a share of blocks at random and the figure is the
//! all-block median; in a run with a slow phase it takes the blocks of
//! the fast one. When the host was slow for the whole run, the low is
//! slow too and so is the figure: no estimator can undo that.
//!
//! The rules and the one computation live here; the harness records the
//! result (`schema::Quiet`) and `load` fills it in for older files.

use crate::model::drift;
use crate::model::schema::{BlockDrift, DriftReference, Quiet, ResultFile};
use crate::model::stats::{median_ci95_f64, median_f64};

/// The reference's low over a run: this quantile of its block medians
/// (not the minimum: one lucky block would set it; 46 of a default run's
/// 2,305 reference blocks). Low, because a host's fast phase may be rare:
/// on the Zen 3 guest 4-5% of a run's reference blocks sat in it in 2 of
/// 80 rounds, and at the 10th percentile those runs' headlines read the
/// slow phase, 30% high; the fast level is a floor (the lowest block
/// 314-317 cycles, the 2nd percentile 319-322 in all 80), so the 2nd
/// percentile finds it where it exists
/// (`results/checks/low-quantile-20261201T0512.txt`).
pub const LOW_QUANTILE: f64 = 0.02;
/// A block is quiet when the reference around it stood within this
/// fraction above the low: the fast phase's own reference blocks read
/// 102-107 ns, the slow phase's 16-26% above them (the check above).
pub const TOLERANCE: f64 = 0.05;
/// At least this many blocks count: when fewer stood within the
/// tolerance, the ones with the lowest reference around them.
pub const MIN_BLOCKS: usize = 3;

/// The quiet figure of blocks with `medians` (run order) taken at
/// `d.times_s` beside the reference `r`; None without usable reference
/// blocks or block medians, or when they do not pair up.
pub fn quiet(r: &DriftReference, d: &BlockDrift, medians: &[f64]) -> Option<Quiet> {
    if medians.is_empty() || medians.len() != d.times_s.len() {
        return None;
    }
    // Read from the reference itself, not from `d.reference`: those
    // levels are relative to the reference's median when the blocks were
    // placed, and a file's final reference also holds the blocks taken
    // around the long experiments after them.
    let around: Vec<f64> = d
        .times_s
        .iter()
        .map(|&t| drift::reference_at(r, t))
        .collect();
    let low = low(during(r, &d.times_s))?;
    let ceiling = low * (1.0 + TOLERANCE);
    let mut blocks: Vec<bool> = around.iter().map(|&a| a <= ceiling).collect();
    if blocks.iter().filter(|&&q| q).count() < MIN_BLOCKS {
        let mut order: Vec<usize> = (0..around.len())
            .filter(|&i| around[i].is_finite())
            .collect();
        order.sort_by(|&i, &j| around[i].total_cmp(&around[j]));
        for &i in order.iter().take(MIN_BLOCKS) {
            blocks[i] = true;
        }
    }
    let chosen = kept(medians, &blocks);
    if chosen.is_empty() {
        return None;
    }
    Some(Quiet {
        blocks,
        median: median_f64(&chosen),
        ci95: median_ci95_f64(&chosen),
        reference_low: low,
        tolerance: TOLERANCE,
    })
}

/// The finite block `medians` whose flag in `blocks` is set: the ones a
/// quiet figure is the median of.
pub fn kept(medians: &[f64], blocks: &[bool]) -> Vec<f64> {
    medians
        .iter()
        .zip(blocks)
        .filter(|(m, &q)| q && m.is_finite())
        .map(|(m, _)| *m)
        .collect()
}

/// The reference blocks taken while blocks at `times` were: all up to
/// the first one after the last of them (the low of a run is the low of
/// the stretch its blocks sampled).
fn during<'a>(r: &'a DriftReference, times: &[f64]) -> &'a [f64] {
    let last = times
        .iter()
        .copied()
        .filter(|t| t.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    let end = r.times_s.partition_point(|&t| t <= last) + 1;
    &r.medians[..end.min(r.medians.len())]
}

/// The reference's low: the `LOW_QUANTILE` quantile (lower rank) of its
/// finite, positive block medians; None for none.
fn low(medians: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = medians
        .iter()
        .copied()
        .filter(|m| m.is_finite() && *m > 0.0)
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[((v.len() - 1) as f64 * LOW_QUANTILE) as usize])
}

/// Gives every interleaved experiment of `f` that lacks it its quiet
/// figure, from the file's own reference: when a run is saved, and on
/// load for files written before the figure existed; only where the
/// reference speaks for the blocks (`drift::follows_reference`). A
/// difference's block medians are paired deltas: its figure is the
/// median of the quiet ones.
pub fn fill(f: &mut ResultFile) {
    let Some(r) = &f.drift_reference else {
        return;
    };
    for e in f
        .experiments
        .iter_mut()
        .filter(|e| drift::follows_reference(e))
    {
        let Some(b) = e.blocks.as_mut() else {
            continue;
        };
        if let Some(d) = b.drift.as_mut().filter(|d| d.quiet.is_none()) {
            d.quiet = quiet(r, d, &b.medians);
        }
    }
}

/// How many blocks counted, of how many.
pub fn counted(q: &Quiet) -> (usize, usize) {
    (q.blocks.iter().filter(|&&b| b).count(), q.blocks.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::drift::{block_drift, test_reference};

    /// Ten reference blocks a second apart: fast (100) for the first
    /// three seconds, slow (125) after.
    fn phased() -> DriftReference {
        let m: Vec<f64> = (0..10).map(|i| if i < 3 { 100.0 } else { 125.0 }).collect();
        let t: Vec<f64> = (0..10).map(f64::from).collect();
        test_reference(&m, &t)
    }

    #[test]
    fn blocks_of_the_fast_phase_make_the_figure() {
        let r = phased();
        // Blocks at 0.5 s and 1.5 s fall in the fast phase, 2.5 s between
        // a fast and a slow reference block, the rest in the slow phase,
        // where the id reads 25% higher too.
        let times = vec![0.5, 1.5, 2.5, 4.5, 5.5, 6.5, 7.5, 8.5];
        let medians = vec![200.0, 202.0, 230.0, 250.0, 251.0, 249.0, 250.0, 252.0];
        let d = block_drift(&r, times);
        let q = quiet(&r, &d, &medians).unwrap();
        assert_eq!(q.reference_low, 100.0);
        // Two blocks within 5% of the low; the third with the lowest
        // reference around it (2.5 s, between 100 and 125) tops up to
        // MIN_BLOCKS.
        assert_eq!(
            q.blocks,
            [true, true, true, false, false, false, false, false]
        );
        assert_eq!(q.median, 202.0);
        assert_eq!(counted(&q), (3, 8));
        // The all-block median is the slow phase's.
        assert!(median_f64(&medians) > 249.0);
        assert!(q.ci95[0] <= q.median && q.median <= q.ci95[1]);
    }

    #[test]
    fn the_choice_reads_the_reference_not_the_block() {
        // A steady reference: every block counts, even one whose own
        // figure is far off (the choice is blind to it).
        let r = test_reference(&[100.0; 5], &[0.0, 1.0, 2.0, 3.0, 4.0]);
        let d = block_drift(&r, vec![0.5, 1.5, 2.5, 3.5]);
        let q = quiet(&r, &d, &[200.0, 300.0, 200.0, 201.0]).unwrap();
        assert_eq!(q.blocks, [true; 4]);
        assert_eq!(q.median, 200.5);
    }

    /// scripts/c/syscall-loop.c, the C loop compare-perf-bench.sh checks
    /// the headline against, applies this rule to its own blocks: its
    /// constants must be these.
    #[test]
    fn the_c_loop_follows_this_rule() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/c/syscall-loop.c");
        let c = std::fs::read_to_string(path).unwrap();
        let define = |name: &str| -> f64 {
            let line = c
                .lines()
                .find(|l| l.starts_with(&format!("#define {name} ")))
                .unwrap_or_else(|| panic!("no #define {name} in {path}"));
            line.split_whitespace().nth(2).unwrap().parse().unwrap()
        };
        assert_eq!(define("LOW_QUANTILE"), LOW_QUANTILE);
        assert_eq!(define("TOLERANCE"), TOLERANCE);
        assert_eq!(define("MIN_BLOCKS"), MIN_BLOCKS as f64);
    }

    #[test]
    fn a_run_slow_throughout_stays_slow() {
        let r = test_reference(&[125.0; 4], &[0.0, 1.0, 2.0, 3.0]);
        let d = block_drift(&r, vec![0.5, 1.5, 2.5]);
        let q = quiet(&r, &d, &[250.0, 251.0, 249.0]).unwrap();
        assert_eq!(q.median, 250.0);
    }

    #[test]
    fn nothing_to_choose_from_gives_none() {
        let r = phased();
        let d = block_drift(&r, vec![0.5, 1.5]);
        // Counts that do not pair up, no blocks, no reference.
        assert_eq!(quiet(&r, &d, &[1.0]), None);
        assert_eq!(quiet(&r, &block_drift(&r, vec![]), &[]), None);
        let none = test_reference(&[], &[]);
        assert_eq!(quiet(&none, &block_drift(&none, vec![0.5]), &[1.0]), None);
    }

    #[test]
    fn reference_blocks_after_the_interleaved_ones_change_nothing() {
        // A file's final reference also holds the blocks taken around the
        // long experiments after the interleaved ones: here fast ones
        // that would lower the low and move the reference's median.
        let r = phased();
        let times = vec![0.5, 1.5, 4.5, 5.5, 6.5, 7.5];
        let medians = vec![200.0, 201.0, 250.0, 251.0, 249.0, 250.0];
        let before = quiet(&r, &block_drift(&r, times.clone()), &medians).unwrap();
        let mut longer = r.clone();
        for i in 0..30 {
            longer.medians.push(80.0);
            longer.times_s.push(20.0 + f64::from(i));
        }
        // Placed against the longer reference, as the loader would see it.
        let d = block_drift(&longer, times);
        assert_eq!(quiet(&longer, &d, &medians), Some(before));
    }

    #[test]
    fn old_files_get_the_figure_on_load_differences_of_their_deltas_walks_none() {
        let mut f = crate::model::load::parse_result(include_str!(
            "../../../testdata/results/synthetic-genoa-kvm.json"
        ))
        .unwrap();
        let r = phased();
        let times = vec![0.5, 1.5, 4.5, 5.5];
        // Row 0 plain, row 1 a difference whose blocks hold paired
        // deltas (40 in the fast phase, 55 in the slow one).
        for (e, medians) in f.experiments.iter_mut().zip([
            vec![200.0, 200.0, 250.0, 250.0],
            vec![40.0, 40.0, 55.0, 55.0],
        ]) {
            e.blocks = Some(crate::model::schema::Blocks {
                medians,
                drift: Some(block_drift(&r, times.clone())),
                ..Default::default()
            });
        }
        // refill.w1, a memory walk interleaved too: the reference does
        // not speak for it.
        let walk = f.experiments[0].blocks.clone();
        let refill = f
            .experiments
            .iter_mut()
            .find(|e| e.id.to_string() == "refill.w1")
            .expect("the file has refill.w1");
        refill.blocks = walk;
        f.experiments[1].baseline = f.experiments.iter().find_map(|e| e.baseline.clone());
        assert!(
            f.experiments[1].baseline.is_some(),
            "the file has a baseline row"
        );
        f.drift_reference = Some(r);
        // Written without the figure, as files before it were.
        let text = serde_json::to_string(&f).unwrap();
        assert!(!text.contains("\"quiet\""));
        let loaded = crate::model::load::parse_result(&text).unwrap();
        let q = loaded.experiments[0].quiet().expect("filled in on load");
        assert_eq!(q.median, 200.0);
        assert_eq!(loaded.experiments[0].headline_cycles(), 200.0);
        let d = &loaded.experiments[1];
        assert_eq!(d.quiet().expect("a difference's too").median, 40.0);
        // Its headline is the quiet delta, not the delta over all blocks.
        assert_eq!(d.headline_cycles(), 40.0);
        assert_ne!(d.baseline.as_ref().unwrap().delta_median, 40.0);
        let w = loaded
            .experiments
            .iter()
            .find(|e| e.id.to_string() == "refill.w1")
            .unwrap();
        assert!(w.blocks.as_ref().unwrap().drift.is_some());
        assert_eq!(w.quiet(), None);
        assert_eq!(
            w.headline_cycles(),
            w.baseline.as_ref().unwrap().delta_median
        );
    }

    #[test]
    fn the_low_is_a_low_quantile_not_the_minimum() {
        // One lucky block at 50 does not set the low of 101 blocks, nor
        // two that of 200; the third lowest of 101 does.
        let mut v = vec![100.0; 100];
        v.push(50.0);
        assert_eq!(low(&v), Some(100.0));
        v.extend([100.0; 98]);
        v.push(50.0);
        assert_eq!(low(&v), Some(100.0));
        let mut w = vec![100.0; 98];
        w.extend([50.0, 60.0, 70.0]);
        assert_eq!(low(&w), Some(70.0));
        assert_eq!(low(&[f64::NAN, -1.0]), None);
        assert_eq!(low(&[7.0]), Some(7.0));
    }
}
