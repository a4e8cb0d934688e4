//! `scenario-cdf.svg`: the per-iteration time of the scenario victim, one
//! CDF per strategy (and machine), log x. The y axis is in "nines"
//! (90%, 99%, 99.9% equally spaced, -log10 of the fraction above x), so
//! the tail the strategies differ in is as visible as the body.

use super::MAX_SERIES;
use super::{cdf_lines, draw_mesh, log_keys, ns_unit, svg_chart, tick, to_unit};
use crate::model::ids::{self, ExperimentId};
use crate::model::machine::Machine;
use crate::model::schema::Experiment;
use anyhow::Result;
use plotters::prelude::*;

/// (x, nines) points of a histogram's CDF, thinned to what a 960-pixel
/// plot shows, the last point of each value kept.
fn points(e: &Experiment, m: &Machine, ns: bool) -> Vec<(f64, f64)> {
    let n = e.samples.len() as f64;
    let mut cum = 0u64;
    let mut out: Vec<(f64, f64)> = Vec::new();
    let last = e.samples.values.len().saturating_sub(1);
    for (i, (&v, &c)) in e.samples.values.iter().zip(&e.samples.counts).enumerate() {
        cum += c;
        // The fraction above x, floored at one sample (the last point).
        let above = ((n - cum as f64) / n).max(1.0 / n);
        let p = (to_unit(v as f64, e, m, ns), -above.log10());
        if p.0 <= 0.0 {
            continue;
        }
        let keep = match out.last() {
            None => true,
            Some(&(x, y)) => p.0 > x * 1.02 || p.1 > y + 0.02 || i == last,
        };
        if keep {
            out.push(p);
        }
    }
    out
}

/// "99.9" for 3 nines (written out, so 7 nines do not round to 100).
fn percent(nines: f64) -> String {
    let k = nines.round();
    if (nines - k).abs() < 1e-9 && k >= 0.0 {
        return match k as usize {
            0 => "0".into(),
            1 => "90".into(),
            k => format!("99.{}", "9".repeat(k - 2))
                .trim_end_matches('.')
                .to_string(),
        };
    }
    format!("{:.2}", 100.0 * (1.0 - 10f64.powf(-nines)))
}

/// The scenario CDF plot, when some machine has scenario results.
pub fn scenario_cdf(machines: &[Machine]) -> Result<Option<String>> {
    let mut series: Vec<(String, &Machine, &Experiment)> = Vec::new();
    for m in machines {
        for e in m.experiments.values() {
            let ExperimentId::Scenario(t) = ids::kind(e) else {
                continue;
            };
            if e.samples.is_empty() {
                continue;
            }
            series.push((super::cdf_series_name(machines, m, &t), m, e));
        }
    }
    series.truncate(MAX_SERIES);
    if series.is_empty() {
        return Ok(None);
    }
    let ms: Vec<&Machine> = series.iter().map(|s| s.1).collect();
    let (ns, unit) = ns_unit(&ms);
    let curves: Vec<Vec<(f64, f64)>> = series.iter().map(|(_, m, e)| points(e, m, ns)).collect();
    let Some((lo, hi)) = super::log_bounds(curves.iter().flatten().map(|p| p.0)) else {
        return Ok(None);
    };
    let top = curves
        .iter()
        .flatten()
        .map(|p| p.1)
        .fold(1.0f64, f64::max)
        .ceil();
    let caption = "Scenario: time per iteration (system call + working-set walk), CDF by strategy";
    let svg = svg_chart(caption, 20, 70, log_axis!(lo, hi), 0f64..top, |chart| {
        let mut mesh = chart.configure_mesh();
        mesh.x_label_formatter(&|v| tick(*v))
            .y_labels(top as usize + 1)
            .y_label_formatter(&|v| percent(*v))
            .x_desc(format!("time of one iteration, {unit} (log scale)"))
            .y_desc("% of iterations <= x (nines scale)");
        draw_mesh(&mut mesh)?;
        let names = series.iter().map(|(name, _, _)| name.clone());
        cdf_lines(chart, names.zip(curves))
    })?;
    Ok(Some(svg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nines_read_as_percentiles() {
        assert_eq!(percent(0.0), "0");
        assert_eq!(percent(1.0), "90");
        assert_eq!(percent(3.0), "99.9");
        assert_eq!(percent(4.0), "99.99");
        assert_eq!(percent(2.0), "99");
        assert_eq!(percent(7.0), "99.99999");
        assert_eq!(percent(0.5), "68.38");
    }

    #[test]
    fn one_curve_per_strategy() {
        let f = crate::output::scenario::tests::with_scenarios(26_000);
        let ms = crate::model::machine::group(std::slice::from_ref(&f));
        let svg = scenario_cdf(&ms).unwrap().expect("a plot");
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let text: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
        for name in ["none", "user.mprotect", "kernel.text_poke", "99.9"] {
            assert!(
                text.iter().any(|t| t.contains(name)),
                "{name} missing: {text:?}"
            );
        }
        // The tail reaches the slowest iteration (400 + 6 + 78000 cycles).
        let e = f
            .experiments
            .iter()
            .find(|e| e.id.to_string() == "scenario.kernel.text_poke")
            .unwrap();
        let p = points(e, &ms[0], false);
        assert_eq!(p.last().unwrap().0, 78_406.0);
        assert_eq!(p.last().unwrap().1, 4.0);
        // No scenario results, no plot.
        let mut g = f.clone();
        g.experiments.retain(|e| e.scenario.is_none());
        let plain = crate::model::machine::group(std::slice::from_ref(&g));
        assert!(scenario_cdf(&plain).unwrap().is_none());
    }
}
