//! The comparison's rows, tests and the drift reference's netting.

use super::*;

#[test]
fn identical_files_show_no_change() {
    let f = crate::model::load::parse_result(include_str!(
        "../../../../testdata/results/synthetic-cascadelake-baremetal-pti-off.json"
    ))
    .unwrap();
    let c = compare(&f, &f);
    assert_eq!(c.rows.len(), f.experiments.len());
    assert!(c.only_a.is_empty() && c.only_b.is_empty() && c.warnings.is_empty());
    for r in &c.rows {
        assert_eq!(r.delta(), 0.0, "{}", r.id);
        assert_ne!(r.test.significant(), Some(true), "{} {:?}", r.id, r.test);
    }
}

fn with_blocks(f: &ResultFile, id: &str, medians: Vec<f64>) -> ResultFile {
    let mut f = f.clone();
    f.timer.resolution_cycles = 24;
    let e = f
        .experiments
        .iter_mut()
        .find(|e| e.id.to_string() == id)
        .unwrap();
    e.params.insert("ops_per_sample".into(), 16.into());
    let m = crate::model::stats::median_f64(&medians);
    e.summary.median = m;
    e.baseline = None;
    e.blocks = Some(crate::model::stats::blocks(1000, medians));
    f
}

#[test]
fn blocks_flag_real_shifts_not_drift_or_steps() {
    let f = crate::model::load::parse_result(include_str!(
        "../../../../testdata/results/synthetic-cascadelake-baremetal-pti-off.json"
    ))
    .unwrap();
    let base: Vec<f64> = (0..20).map(|i| 390.0 + (i % 5) as f64 * 0.5).collect();
    let a = with_blocks(&f, "entry.getpid", base.clone());
    let row = |b: &ResultFile| {
        compare(&a, b)
            .rows
            .into_iter()
            .find(|r| r.id == "entry.getpid")
            .unwrap()
    };
    // A/A with a 1-cycle drift: every block moved, but by 0.3%.
    let drift = with_blocks(&f, "entry.getpid", base.iter().map(|x| x + 1.0).collect());
    let r = row(&drift);
    assert!(
        matches!(r.test, Test::Blocks { p, .. } if p < ALPHA),
        "{r:?}"
    );
    assert_eq!(r.test.significant(), Some(false));
    // A 10% slowdown is found.
    let slow = with_blocks(&f, "entry.getpid", base.iter().map(|x| x * 1.1).collect());
    assert_eq!(row(&slow).test.significant(), Some(true));
    let text = render_text(&compare(&a, &slow));
    assert!(text.contains("independent blocks"), "{text}");
}

/// `with_blocks` interleaved with a drift reference at `level`.
fn interleaved(f: &ResultFile, medians: Vec<f64>, level: f64) -> ResultFile {
    with_reference(f, medians, vec![200.0 * level; 21])
}

/// entry.getpid's 20 blocks (`with_blocks`) beside a drift reference of
/// 21 blocks (`reference` medians): reference block i at i s, the id's
/// block j at j s, so each block reads the reference block taken with it.
fn with_reference(f: &ResultFile, medians: Vec<f64>, reference: Vec<f64>) -> ResultFile {
    let mut f = with_blocks(f, "entry.getpid", medians);
    let r = crate::model::schema::DriftReference {
        operation: "glibc syscall(), getppid".into(),
        medians: reference,
        times_s: (0..21).map(f64::from).collect(),
        off_threshold: drift::OFF_THRESHOLD,
        ..Default::default()
    };
    let e = f
        .experiments
        .iter_mut()
        .find(|e| e.id.to_string() == "entry.getpid")
        .unwrap();
    let b = e.blocks.as_mut().unwrap();
    b.drift = Some(drift::block_drift(&r, (0..20).map(f64::from).collect()));
    f.drift_reference = Some(r);
    f
}

#[test]
fn a_host_that_moved_as_a_whole_is_netted_out() {
    let f = crate::model::load::parse_result(include_str!(
        "../../../../testdata/results/synthetic-cascadelake-baremetal-pti-off.json"
    ))
    .unwrap();
    let base: Vec<f64> = (0..20).map(|i| 390.0 + (i % 5) as f64 * 0.5).collect();
    let a = interleaved(&f, base.clone(), 1.0);
    // B's host ran everything 8% slower, the reference too.
    let b = interleaved(&f, base.iter().map(|x| x * 1.08).collect(), 1.08);
    let row = |c: &Comparison| c.rows.iter().find(|r| r.id == "entry.getpid").cloned();
    let c = compare(&a, &b);
    let r = row(&c).unwrap();
    assert!(matches!(c.reference, drift::Change::Net { .. }));
    assert_eq!(r.test.significant(), Some(false), "{r:?}");
    assert!(r.net_change_pct().unwrap().abs() < 1e-9);
    // Rows not interleaved in both runs are judged raw.
    assert!(c
        .rows
        .iter()
        .filter(|r| r.id != "entry.getpid")
        .all(|r| r.net.is_none()));
    let text = render_text(&c);
    assert!(
        text.contains("judged net of it") && text.contains("+8.0%"),
        "{text}"
    );
    assert!(text.lines().all(|l| l.chars().count() <= WIDTH), "{text}");
    // A real 8% slowdown with a steady reference is found.
    let slow = interleaved(&f, base.iter().map(|x| x * 1.08).collect(), 1.0);
    assert_eq!(
        row(&compare(&a, &slow)).unwrap().test.significant(),
        Some(true)
    );
    // --raw, or another kernel: the reference is not the host's drift.
    let raw = compare_with(
        &a,
        &b,
        Options {
            net_of_reference: false,
        },
    );
    assert_eq!(row(&raw).unwrap().test.significant(), Some(true));
    assert!(render_text(&raw).contains("not netted (--raw"));
    let mut other = b.clone();
    if let Some(p) = other.environment.platform.as_mut() {
        p.kernel_release.push_str("-patched");
    }
    let c = compare(&a, &other);
    assert!(matches!(c.reference, drift::Change::NotNetted { .. }));
    assert_eq!(row(&c).unwrap().test.significant(), Some(true));
    assert!(render_text(&c)
        .replace("\n  ", " ")
        .contains("the kernels differ"));
}

/// entry.getpid's row of `c`.
fn getpid_row(c: &Comparison) -> Row {
    c.rows
        .iter()
        .find(|r| r.id == "entry.getpid")
        .cloned()
        .unwrap()
}

/// entry.getpid's experiment in `f`.
fn getpid(f: &ResultFile) -> &Experiment {
    f.experiments
        .iter()
        .find(|e| e.id.to_string() == "entry.getpid")
        .unwrap()
}

/// entry.getpid interleaved on a host that ran it and the reference 25%
/// slower from block `slow_from` of 20 on, with the quiet figures a
/// saved run records.
fn phased(f: &ResultFile, slow_from: usize) -> ResultFile {
    phased_by(f, slow_from, 1.25, 1.25, 1.0)
}

/// `phased` with the slow phase moving the id by `id_slow` and the
/// reference by `ref_slow`, and every block of the id `scale`d (a real
/// change).
fn phased_by(
    f: &ResultFile,
    slow_from: usize,
    id_slow: f64,
    ref_slow: f64,
    scale: f64,
) -> ResultFile {
    let slow = |i: usize, x: f64, by: f64| if i >= slow_from { x * by } else { x };
    let medians = (0..20)
        .map(|i| slow(i, 390.0 + (i % 5) as f64 * 0.5, id_slow) * scale)
        .collect();
    let reference = (0..21).map(|i| slow(i, 200.0, ref_slow)).collect();
    let mut f = with_reference(f, medians, reference);
    crate::model::quiet::fill(&mut f);
    f
}

#[test]
fn netted_rows_are_judged_on_their_quiet_blocks() {
    let f = crate::model::load::parse_result(include_str!(
        "../../../../testdata/results/synthetic-cascadelake-baremetal-pti-off.json"
    ))
    .unwrap();
    // The slow phase moves the id 25% and the reference 10%: netting
    // cannot undo it (the sensitivity is clamped at 1.5), so over all
    // blocks the netted median follows how much of each run was slow,
    // here 12 of A's 20 blocks and 6 of B's.
    let (a, b) = (
        phased_by(&f, 8, 1.25, 1.10, 1.0),
        phased_by(&f, 14, 1.25, 1.10, 1.0),
    );
    let reference = |f: &ResultFile| drift::median(f.drift_reference.as_ref().unwrap());
    let n = drift::net_blocks(getpid(&a), reference(&a), getpid(&b), reference(&b)).unwrap();
    let over_all = median_f64(&n.b) / median_f64(&n.a) - 1.0;
    assert!(over_all.abs() > MIN_EFFECT, "{over_all}");
    let r = getpid_row(&compare(&a, &b));
    assert!(r.quiet && r.net.is_some(), "{r:?}");
    assert!(r.net_change_pct().unwrap().abs() < 0.5, "{r:?}");
    assert_eq!(r.test.significant(), Some(false), "{r:?}");
    // A real 8% slowdown under the same phases is still found.
    let slower = phased_by(&f, 14, 1.25, 1.10, 1.08);
    let r = getpid_row(&compare(&a, &slower));
    assert!((r.net_change_pct().unwrap() - 8.0).abs() < 0.5, "{r:?}");
    assert_eq!(r.test.significant(), Some(true), "{r:?}");
}

#[test]
fn quiet_figures_are_set_against_quiet_ones_only() {
    let f = crate::model::load::parse_result(include_str!(
        "../../../../testdata/results/synthetic-cascadelake-baremetal-pti-off.json"
    ))
    .unwrap();
    // A's slow phase covered 12 of its 20 blocks, B's 6: the medians over
    // all blocks differ by a quarter, the quiet ones not at all.
    let (a, b) = (phased(&f, 8), phased(&f, 14));
    let raw = Options {
        net_of_reference: false,
    };
    let c = compare_with(&a, &b, raw);
    let r = getpid_row(&c);
    assert!(r.quiet, "{r:?}");
    assert!((r.a_cycles - r.b_cycles).abs() < 1.0, "{r:?}");
    assert_eq!(r.test.significant(), Some(false), "{r:?}");
    let text = render_text(&c);
    assert!(
        text.contains(" q ") && text.contains("Rows marked q"),
        "{text}"
    );
    assert!(text.lines().all(|l| l.chars().count() <= WIDTH), "{text}");
    // Against a file without quiet figures (written before them), both
    // sides show their median over all samples.
    let mut old = b.clone();
    for e in &mut old.experiments {
        if let Some(d) = e.blocks.as_mut().and_then(|b| b.drift.as_mut()) {
            d.quiet = None;
        }
    }
    let r = getpid_row(&compare_with(&a, &old, raw));
    assert!(!r.quiet);
    let all = |f: &ResultFile| getpid(f).summary.median;
    assert_eq!((r.a_cycles, r.b_cycles), (all(&a), all(&old)));
    assert!(r.a_cycles > r.b_cycles * 1.2, "{r:?}");
}

#[test]
fn a_quiet_low_that_moved_is_said() {
    let f = crate::model::load::parse_result(include_str!(
        "../../../../testdata/results/synthetic-cascadelake-baremetal-pti-off.json"
    ))
    .unwrap();
    let said = |c: &Comparison| c.warnings.iter().any(|w| w.contains("quiet low moved"));
    let a = phased(&f, 14);
    // Phases of other lengths move no low.
    assert!(!said(&compare(&a, &phased(&f, 8))));
    // Every entry of B, the reference's too, 4% dearer for the whole run.
    let medians = (0..20).map(|i| 406.0 + (i % 5) as f64 * 0.5).collect();
    let mut b = with_reference(&f, medians, vec![208.0; 21]);
    crate::model::quiet::fill(&mut b);
    let c = compare(&a, &b);
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains("moved 200 -> 208 cycles (+4.0%)")),
        "{:?}",
        c.warnings
    );
    // Not netted, nothing to say it against.
    let raw = Options {
        net_of_reference: false,
    };
    assert!(!said(&compare_with(&a, &b, raw)));
}
