//! The drift reference and block stability in words: the run's drift
//! for the run summary and the report, and the unstable-host warning.
//! (The figures come from `model::drift` and `model::stats`.)

use crate::model::drift::{marked_blocks, max_over_min, median, OFF_THRESHOLD};
use crate::model::quiet;
use crate::model::schema::{BlockDrift, Blocks, ResultFile};
use crate::model::stats::{median_f64, UNSTABLE_DEVIATION};
use crate::model::units::{self, num};

/// The hyperfine-style warning for blocks that disagree, if they do; for
/// interleaved blocks it says how far the host moved in the drift
/// reference's terms while they were taken.
pub fn unstable_warning(b: &Blocks) -> Option<String> {
    b.unstable.then(|| {
        let mut w = format!(
            "unstable host: {:.0}% of {} blocks have a median more than {:.0}% away from the \
             others",
            b.outlier_fraction * 100.0,
            b.medians.len(),
            UNSTABLE_DEVIATION * 100.0
        );
        if let Some(d) = &b.drift {
            w += &moved_text(d);
        }
        w + "; another load or frequency changes disturbed the run, rerun on a quiet machine"
    })
}

/// For the unstable-host warning: how far the reference moved while an
/// experiment's blocks were taken, and how many were taken off it.
pub fn moved_text(d: &BlockDrift) -> String {
    let marked = d.off.iter().filter(|&&o| o).count();
    match max_over_min(&d.reference) {
        Some(r) => format!(
            "; while they were taken the drift reference (a getppid loop) moved {:.1}% \
             (max/min {r:.3}), and {marked} of {} were taken while it was more than {:.0}% off",
            (r - 1.0) * 100.0,
            d.off.len(),
            OFF_THRESHOLD * 100.0
        ),
        None => String::new(),
    }
}

/// The run's drift in one sentence, for the run summary and the report;
/// None when the file has no reference.
pub fn run_text(f: &ResultFile) -> Option<String> {
    let r = f.drift_reference.as_ref()?;
    let m = median(r);
    // The reference is timed with the TSC whatever the run's clock.
    let ns = units::cycles_to_ns(units::TscCycles(m), f.timer.tsc_hz)
        .map(|v| format!(" ({} ns)", num(v)))
        .unwrap_or_default();
    let mut s = format!(
        "Drift reference ({}, {} blocks between the experiments' blocks): median {} cycles{ns}",
        r.operation,
        r.medians.len(),
        num(m)
    );
    if let Some(x) = max_over_min(&r.medians) {
        s += &format!(
            "; max/min {x:.3}: the host moved {:.1}% during the run",
            (x - 1.0) * 100.0
        );
    }
    let (marked, n) = marked_blocks(f);
    if n > 0 {
        s += &format!(
            "; {marked} of {n} experiment blocks were taken while it was more than {:.0}% off",
            r.off_threshold * 100.0
        );
    }
    Some(s + "." + &quiet_text(f))
}

/// A figure whose quiet median is further than this from its median over
/// all blocks is named in `quiet_text`.
const QUIET_NAMED: f64 = 0.01;

/// What the quiet-block headlines took, for `run_text`: the blocks
/// counted per id and the ids where the choice moved the figure.
fn quiet_text(f: &ResultFile) -> String {
    let with: Vec<_> = f
        .experiments
        .iter()
        .filter_map(|e| Some((e, e.quiet()?, e.blocks.as_ref()?)))
        .collect();
    let Some((_, first, _)) = with.first() else {
        return String::new();
    };
    let range = |v: Vec<usize>| {
        let (lo, hi) = (v.iter().min().unwrap_or(&0), v.iter().max().unwrap_or(&0));
        if lo == hi {
            lo.to_string()
        } else {
            format!("{lo}-{hi}")
        }
    };
    let counted = range(with.iter().map(|(_, q, _)| quiet::counted(q).0).collect());
    let of = range(with.iter().map(|(_, q, _)| quiet::counted(q).1).collect());
    let mut s = format!(
        " Headlines of interleaved ids (not refill.*, memory walks; a difference's over its \
         paired deltas) are medians over the blocks taken while the reference stood within {:.0}% of its low ({} cycles): {counted} of {of} \
         blocks per id",
        first.tolerance * 100.0,
        num(first.reference_low),
    );
    let moved: Vec<String> = with
        .iter()
        .filter_map(|(e, q, b)| {
            let all = median_f64(&b.medians);
            ((q.median / all - 1.0).abs() > QUIET_NAMED)
                .then(|| format!("{} {} (all blocks {})", e.id, num(q.median), num(all)))
        })
        .collect();
    if moved.is_empty() {
        s += &format!(
            "; each within {:.0}% of its median over all blocks.",
            QUIET_NAMED * 100.0
        );
    } else {
        s += &format!(
            "; more than {:.0}% from it, cycles: {}.",
            QUIET_NAMED * 100.0,
            moved.join(", ")
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::drift::block_drift;
    use crate::model::drift::test_reference as reference;

    #[test]
    fn the_run_states_its_drift_and_the_marked_blocks() {
        let mut f = crate::model::load::parse_result(include_str!(
            "../../../testdata/results/synthetic-genoa-kvm.json"
        ))
        .unwrap();
        // Files without a reference (older ones, imports) say nothing.
        assert_eq!(run_text(&f), None);
        let r = reference(&[240.0, 240.0, 264.0], &[0.0, 1.0, 2.0]);
        let d = block_drift(&r, vec![0.5, 1.75, 2.0]);
        f.experiments[0].blocks = Some(crate::model::schema::Blocks {
            medians: vec![1.0; 3],
            drift: Some(d),
            ..Default::default()
        });
        f.drift_reference = Some(r);
        assert_eq!(marked_blocks(&f), (2, 3));
        let text = run_text(&f).unwrap();
        assert!(text.contains("median 240 cycles"), "{text}");
        assert!(
            text.contains("max/min 1.100: the host moved 10.0%"),
            "{text}"
        );
        assert!(text.contains("2 of 3 experiment blocks"), "{text}");
    }

    #[test]
    fn the_run_says_what_the_quiet_headlines_took() {
        let mut f = crate::model::load::parse_result(include_str!(
            "../../../testdata/results/synthetic-genoa-kvm.json"
        ))
        .unwrap();
        // A fast reference for two seconds, slow for the last three; the
        // first id reads 30% higher in the slow phase, the second does
        // not move.
        let r = reference(
            &[100.0, 100.0, 100.0, 130.0, 130.0, 130.0],
            &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
        );
        let times = vec![0.25, 0.5, 1.5, 3.5, 4.5, 5.0];
        let slowed = vec![200.0, 200.0, 202.0, 260.0, 260.0, 261.0];
        for (e, medians) in f.experiments.iter_mut().zip([slowed, vec![50.0; 6]]) {
            e.baseline = None;
            e.blocks = Some(crate::model::schema::Blocks {
                medians,
                drift: Some(block_drift(&r, times.clone())),
                ..Default::default()
            });
        }
        f.drift_reference = Some(r);
        // As the loader does for a file written before the figure.
        quiet::fill(&mut f);
        let text = run_text(&f).unwrap();
        assert!(text.contains("3 of 6 blocks per id"), "{text}");
        let first = f.experiments[0].id.to_string();
        assert!(
            text.contains(&format!("{first} 200 (all blocks 231)")),
            "{text}"
        );
        let second = f.experiments[1].id.to_string();
        assert!(!text.contains(&format!("{second} 50")), "{text}");
        assert_eq!(f.experiments[0].headline_cycles(), 200.0);
    }

    #[test]
    fn the_moved_text_says_how_far_and_how_many() {
        let r = reference(&[100.0, 100.0, 120.0, 100.0], &[0.0, 1.0, 2.0, 3.0]);
        let d = block_drift(&r, vec![0.5, 1.4, 1.6, 2.5]);
        let text = moved_text(&d);
        assert!(
            text.contains("moved 12.0%") && text.contains("3 of 4"),
            "{text}"
        );
    }

    #[test]
    fn the_warning_names_the_share_and_the_drift() {
        let b = Blocks {
            medians: vec![100.0; 10],
            outlier_fraction: 0.3,
            unstable: true,
            ..Default::default()
        };
        let w = unstable_warning(&b).unwrap();
        assert!(w.starts_with("unstable host: 30% of 10 blocks"), "{w}");
        assert!(!w.contains("drift reference"), "{w}");
        let stable = Blocks {
            unstable: false,
            ..b
        };
        assert_eq!(unstable_warning(&stable), None);
    }
}
