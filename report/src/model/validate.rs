//! What a result file must satisfy beyond its JSON shape before any figure
//! of it is printed: a shared file with a median of 1e308 cycles, a
//! negative median, n = 0 beside 2000 counted samples, counts that
//! overflow, min above the median, a median outside its own 95% CI or two
//! experiments with one id would otherwise be reported as measured.
//!
//! The rules cover the fields named here; a field added to the schema
//! later passes until a rule is written for it. Timings are cycles with
//! the timer's own cost subtracted, so a sample may sit just below zero
//! (a region faster than the median empty one) but never below minus
//! that cost; differences (deltas, their CIs and block medians of
//! differential experiments) may be negative.

use crate::model::schema::{Blocks, Experiment, Histogram, IpiStats, ResultFile, Summary};
use std::collections::BTreeSet;

/// The largest magnitude a cycle count may have: about four days at
/// 3 GHz, far beyond any experiment (an ipi.* run lasts at most 600 s).
pub const MAX_CYCLES: f64 = 1e15;

/// `a <= b`, allowing for the rounding of figures computed in f64.
fn le(a: f64, b: f64) -> bool {
    a <= b + 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// `x` for an error line: exponent form when huge, so 1e308 does not
/// print as 309 digits.
fn shown(x: f64) -> String {
    if x.abs() >= 1e12 {
        format!("{x:e}")
    } else {
        x.to_string()
    }
}

fn finite(what: &str, x: f64) -> Result<(), String> {
    if !x.is_finite() {
        return Err(format!("{what} is {x}, not a finite number"));
    }
    if x.abs() > MAX_CYCLES {
        return Err(format!(
            "{what} is {}, beyond any possible measurement",
            shown(x)
        ));
    }
    Ok(())
}

fn fraction(what: &str, x: f64) -> Result<(), String> {
    if !(0.0..=1.0).contains(&x) {
        return Err(format!("{what} is {x}, not a fraction between 0 and 1"));
    }
    Ok(())
}

fn non_negative(what: &str, x: f64) -> Result<(), String> {
    finite(what, x)?;
    if x < 0.0 {
        return Err(format!("{what} is {x}, below zero"));
    }
    Ok(())
}

fn interval(what: &str, ci: [f64; 2]) -> Result<(), String> {
    finite(&format!("{what} low end"), ci[0])?;
    finite(&format!("{what} high end"), ci[1])?;
    if !le(ci[0], ci[1]) {
        return Err(format!("{what} [{}, {}] is reversed", ci[0], ci[1]));
    }
    Ok(())
}

/// Finite, not below `floor`, ordered min <= median <= p90 <= p99 <=
/// p999 <= max, the mean between min and max, an ordered CI.
pub fn summary(what: &str, s: &Summary, floor: f64) -> Result<(), String> {
    let order = [
        ("min", s.min),
        ("median", s.median),
        ("p90", s.p90),
        ("p99", s.p99),
        ("p999", s.p999),
        ("max", s.max),
    ];
    for (name, x) in order.iter().chain([("mean", s.mean)].iter()) {
        finite(&format!("{what} {name}"), *x)?;
        if *x < floor {
            return Err(format!(
                "{what} {name} is {x}, below what a measurement can be ({floor})"
            ));
        }
    }
    for w in order.windows(2) {
        let ((a, x), (b, y)) = (w[0], w[1]);
        if !le(x, y) {
            return Err(format!("{what} {a} {x} is above its {b} {y}"));
        }
    }
    if !(le(s.min, s.mean) && le(s.mean, s.max)) {
        return Err(format!(
            "{what} mean {} is outside min {} .. max {}",
            s.mean, s.min, s.max
        ));
    }
    interval(&format!("{what} median CI"), s.median_ci95)?;
    inside(&format!("{what} median"), s.median, s.median_ci95)
}

/// `x` within its own 95% CI, with `le`'s rounding allowance: a CI that
/// leaves out the figure it is the CI of was not computed from it.
fn inside(what: &str, x: f64, ci: [f64; 2]) -> Result<(), String> {
    if le(ci[0], x) && le(x, ci[1]) {
        Ok(())
    } else {
        Err(format!(
            "{what} {x} is outside its own 95% CI [{}, {}]",
            ci[0], ci[1]
        ))
    }
}

/// The histogram's structure, values not below `floor`, and its sample
/// count (summed without overflow) equal to the summary's n.
pub fn histogram(what: &str, h: &Histogram, n: u64, floor: f64) -> Result<(), String> {
    h.validate().map_err(|m| format!("{what}: {m}"))?;
    let mut total: u64 = 0;
    for &c in &h.counts {
        total = total
            .checked_add(c)
            .ok_or_else(|| format!("{what}: the sample counts overflow"))?;
    }
    if total != n {
        return Err(format!(
            "{what}: n is {n} but the histogram holds {total} samples"
        ));
    }
    if let (Some(&lo), Some(&hi)) = (h.values.first(), h.values.last()) {
        finite(&format!("{what} value"), hi as f64)?;
        if (lo as f64) < floor {
            return Err(format!(
                "{what}: a sample of {lo} is below what a measurement can be ({floor})"
            ));
        }
    }
    Ok(())
}

fn ipi(i: &IpiStats, floor: f64) -> Result<(), String> {
    non_negative("IPI rate", i.rate_hz)?;
    non_negative("IPI duration", i.duration_s)?;
    non_negative("seen ratio", i.seen_ratio)?;
    if let Some(f) = i.false_match_rate {
        fraction("false-match rate", f)?;
    }
    summary("initiator", &i.initiator, floor)
}

fn blocks(b: &Blocks) -> Result<(), String> {
    for &m in &b.medians {
        finite("a block median", m)?;
    }
    interval("block CI", b.ci95)?;
    fraction("outlier fraction", b.outlier_fraction)?;
    let Some(d) = &b.drift else {
        return Ok(());
    };
    let n = b.medians.len();
    if d.times_s.len() != n || d.reference.len() != n || d.off.len() != n {
        return Err(format!(
            "the drift of {n} blocks has {} times, {} levels and {} marks",
            d.times_s.len(),
            d.reference.len(),
            d.off.len()
        ));
    }
    if let Some(q) = &d.quiet {
        if q.blocks.len() != n || !q.blocks.contains(&true) {
            return Err("the quiet blocks do not match the blocks".into());
        }
        finite("the quiet median", q.median)?;
        interval("quiet CI", q.ci95)?;
        inside("quiet median", q.median, q.ci95)?;
        non_negative("quiet tolerance", q.tolerance)?;
        non_negative("the reference's low", q.reference_low)?;
    }
    Ok(())
}

fn experiment(e: &Experiment, floor: f64, core_floor: f64) -> Result<(), String> {
    summary("summary", &e.summary, floor)?;
    if let Some(c) = &e.core_cycles {
        summary("core-cycle summary", &c.summary, core_floor)?;
        if let Some(d) = c.delta_median {
            finite("core-cycle delta median", d)?;
        }
    }
    histogram("samples", &e.samples, e.summary.n, floor)?;
    if let Some(b) = &e.baseline {
        summary("baseline summary", &b.summary, floor)?;
        histogram("baseline samples", &b.samples, b.summary.n, floor)?;
        finite("delta median", b.delta_median)?;
        interval("delta CI", b.delta_ci95)?;
        inside("delta median", b.delta_median, b.delta_ci95)?;
    }
    if let Some(i) = &e.ipi {
        ipi(i, floor)?;
    }
    if let Some(b) = &e.blocks {
        blocks(b)?;
    }
    Ok(())
}

/// The lowest a timing may be: minus the timer cost that was subtracted
/// (rounded as it was), less one cycle.
fn floor(overhead_cycles: f64) -> f64 {
    -(overhead_cycles.round() + 1.0)
}

/// Every rule above over one file; Err says which experiment and figure.
pub fn result_file(f: &ResultFile) -> Result<(), String> {
    let t = &f.timer;
    non_negative("timer overhead", t.overhead_cycles)?;
    if !(t.tsc_hz.is_finite() && t.tsc_hz >= 0.0 && t.tsc_hz < 1e12) {
        return Err(format!(
            "TSC frequency {} Hz is impossible",
            shown(t.tsc_hz)
        ));
    }
    non_negative("timer resolution (ns)", t.resolution_ns)?;
    let mut ids = BTreeSet::new();
    for e in &f.experiments {
        if e.id.to_string().is_empty() {
            return Err("an experiment has an empty id".into());
        }
        if !ids.insert(&e.id) {
            return Err(format!("experiment {} appears twice", e.id));
        }
        let core = t.core_overhead_cycles.unwrap_or(t.overhead_cycles);
        experiment(e, floor(t.overhead_cycles), floor(core))
            .map_err(|m| format!("experiment {}: {m}", e.id))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::schema::BlockDrift;

    /// The fixtures pass; a median or delta moved outside its own CI is
    /// refused, naming it; a CI that holds it up to f64 rounding is not.
    #[test]
    fn a_median_outside_its_own_ci_is_refused() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../testdata/results/synthetic-skylake-pti.json"
        );
        // read_result validates: the fixture passes.
        let f = &crate::model::load::read_result(std::path::Path::new(path)).unwrap();
        let i = f
            .experiments
            .iter()
            .position(|e| e.baseline.is_some())
            .unwrap();

        let mut bad = f.clone();
        let s = &mut bad.experiments[i].summary;
        s.median_ci95 = [s.median + 1.0, s.median + 2.0];
        let e = result_file(&bad).unwrap_err();
        assert!(
            e.contains("summary median") && e.contains("outside its own 95% CI"),
            "{e}"
        );

        let mut bad = f.clone();
        let b = bad.experiments[i].baseline.as_mut().unwrap();
        b.delta_ci95 = [b.delta_median - 3.0, b.delta_median - 1.0];
        let e = result_file(&bad).unwrap_err();
        assert!(
            e.contains("delta median") && e.contains("outside its own 95% CI"),
            "{e}"
        );

        // Rounding of figures computed in f64 is allowed, as for order.
        let mut close = f.clone();
        let s = &mut close.experiments[i].summary;
        s.median_ci95 = [s.median * (1.0 + 1e-12), s.median * (1.0 + 2e-12)];
        result_file(&close).unwrap();
    }

    /// A quiet figure that does not fit its blocks, or drift that does
    /// not pair up with them, is refused, naming what.
    #[test]
    fn a_quiet_figure_must_fit_its_blocks() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../testdata/results/synthetic-skylake-pti.json"
        );
        let mut f = crate::model::load::read_result(std::path::Path::new(path)).unwrap();
        let r = crate::model::drift::test_reference(&[100.0; 4], &[0.0, 1.0, 2.0, 3.0]);
        let d = crate::model::drift::block_drift(&r, vec![0.5, 1.5, 2.5]);
        let medians = vec![200.0, 201.0, 202.0];
        let q = crate::model::quiet::quiet(&r, &d, &medians).unwrap();
        f.experiments[0].blocks = Some(Blocks {
            medians,
            ci95: [200.0, 202.0],
            drift: Some(BlockDrift {
                quiet: Some(q),
                ..d
            }),
            ..Default::default()
        });
        result_file(&f).unwrap();
        let refused = |change: &dyn Fn(&mut BlockDrift), what: &str| {
            let mut bad = f.clone();
            let b = bad.experiments[0].blocks.as_mut().unwrap();
            change(b.drift.as_mut().unwrap());
            let e = result_file(&bad).unwrap_err();
            assert!(e.contains(what), "{what}: {e}");
        };
        refused(
            &|d| d.quiet.as_mut().unwrap().median = 250.0,
            "quiet median 250 is outside",
        );
        refused(
            &|d| d.quiet.as_mut().unwrap().blocks = vec![false; 3],
            "quiet blocks do not match",
        );
        refused(
            &|d| d.quiet.as_mut().unwrap().reference_low = f64::NAN,
            "the reference's low",
        );
        refused(
            &|d| {
                d.times_s.pop();
            },
            "2 times",
        );
    }
}
