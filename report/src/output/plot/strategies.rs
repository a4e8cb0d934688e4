//! The plots that read the cost model (`size::cost`): overhead vs
//! syscall rate per machine, and the break-even lines between the IPI
//! status quo and the series' flush on every entry.

use super::*;
use crate::model::kernel_rules::{self, Runs};
use crate::output::size::{Cost, Strategy};

/// Overhead (% of one CPU) vs syscall rate for every strategy of one
/// machine, at a fixed flush rate and working set: where the lines cross
/// is where one strategy starts to beat another. One line per strategy
/// (its label, whether it would run, its points); each point is the cost
/// model (`size::cost`) at that rate; dashed lines do not run here.
pub fn overhead_vs_rate(m: &Machine, opts: &PlotOptions) -> Result<Option<String>> {
    type Line = (String, bool, Vec<(f64, f64)>);
    const RATES: (f64, f64) = (1.0, 1e6);
    let xs: Vec<f64> = (0..=60)
        .map(|i| RATES.0 * (RATES.1 / RATES.0).powf(i as f64 / 60.0))
        .collect();
    let base = Profile {
        name: String::new(),
        syscalls_per_sec: 1.0,
        flush_events_per_sec: opts.flush_rate_hz,
        working_set_pages: opts.working_set_pages,
        latency_budget_us: 1.0,
        deferred_check_cycles: crate::model::profile::DEFAULT_DEFERRED_CHECK_CYCLES,
        deferred_check_assumed: true,
    };
    // One model per rate; collect each strategy's % CPU.
    let mut lines: Vec<Line> = Vec::new();
    let mut per_entry = false;
    for &x in &xs {
        let costs = size::machine_costs(
            &Profile {
                syscalls_per_sec: x,
                ..base.clone()
            },
            m,
        );
        for c in costs.costs {
            // v5 defers no TLB flush: its line would be the IPI line again.
            if matches!(&c.strategy, size::Strategy::Series(p) if p.work == crate::model::kernel_rules::EntryWork::TlbIpisStay)
            {
                continue;
            }
            let Some(f) = c.figures() else { continue };
            per_entry |= c.strategy.per() == "kernel entry";
            // Zero overhead (no flushes) has no place on a log axis.
            if !(f.pct_cpu.is_finite() && f.pct_cpu > 0.0) {
                continue;
            }
            let label = c.strategy.label();
            match lines.iter_mut().find(|l| l.0 == label) {
                Some(l) => l.2.push((x, f.pct_cpu)),
                None => lines.push((label, c.runs.as_configured(), vec![(x, f.pct_cpu)])),
            }
        }
    }
    // A break-even needs a per-entry strategy to cross a per-event one.
    if lines.len() < 2 || !per_entry {
        return Ok(None);
    }
    let Some((ylo, yhi)) = log_bounds(lines.iter().flat_map(|l| l.2.iter().map(|p| p.1))) else {
        return Ok(None);
    };
    // A guest's figures price that guest only: the caption says which.
    let guest = if !m.is_guest() {
        String::new()
    } else {
        format!(" ({})", m.host)
    };
    let caption = format!(
        "Break-even, {}{guest}: {} flushes/s, {} pages",
        m.cpu_label,
        units::num(opts.flush_rate_hz),
        opts.working_set_pages
    );
    let svg = svg_chart(
        &caption,
        20,
        80,
        log_axis!(RATES.0, RATES.1),
        log_axis!(ylo, yhi * 30.0),
        |chart| {
            log_log_mesh(
                chart,
                "kernel entries (syscalls) per second on the isolated CPU (log scale)",
                "overhead, % of one CPU (log scale)",
            )?;
            for (i, (label, runs, pts)) in lines.into_iter().enumerate() {
                let style = series_style(i, false);
                // Dashed: the rule says it would not run on this kernel as
                // configured (needs pti=on, a proposal, no INVLPGB ...).
                let drawn = if runs {
                    chart
                        .draw_series(LineSeries::new(pts, style))
                        .map_err(perr)?
                } else {
                    chart
                        .draw_series(DashedLineSeries::new(pts, 10, 6, style))
                        .map_err(perr)?
                };
                let label = if runs {
                    label
                } else {
                    format!("{label} (dashed: would not run here)")
                };
                drawn
                    .label(label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
            }
            legend(chart, SeriesLabelPosition::UpperLeft)?;
            Ok(())
        },
    )?;
    Ok(Some(svg))
}

/// One machine's break-even line: its legend text, the F/S ratio on it,
/// whether it is drawn dashed (does not run as the machine is
/// configured), and the published figures it rests on.
struct EvenLine {
    label: String,
    ratio: f64,
    dashed: bool,
    published: Vec<String>,
}

/// The flush on every entry as it can run on `m`: v6/v7 where PTI is on
/// (or not known), else pti=on + v6/v7, which adds PTI's own cost per
/// entry (the cost model prices v6/v7 without PTI nowhere).
fn flushing_cost(costs: &size::Costs) -> Option<(&Cost, &size::cost::Figures)> {
    let flushing = kernel_rules::flushing_posting();
    [Strategy::Series(flushing), Strategy::PtiOnSeries(flushing)]
        .iter()
        .filter_map(|s| costs.get(s))
        .find_map(|c| c.figures().map(|f| (c, f)))
}

/// The line of `m`: F x (IPI per event) = S x (flush per entry), the
/// per-event figures of the cost model's IPI and flushing rows.
fn even_line(m: &Machine, profile: &Profile) -> Option<EvenLine> {
    let costs = size::machine_costs(profile, m);
    let ipi = costs.get(&Strategy::Ipi)?.figures()?;
    let (flush, f) = flushing_cost(&costs)?;
    let ing = &costs.ingredients;
    let (i, e) = (ing.ipi.as_ref()?, ing.flush.as_ref()?);
    let pti = match (&flush.strategy, &ing.pti) {
        (Strategy::PtiOnSeries(_), Some(p)) => {
            format!(" + PTI {} ns {}", units::num(p.ns), p.source.short())
        }
        _ => String::new(),
    };
    let guest = if !m.is_guest() {
        String::new()
    } else {
        format!(", {}", m.host)
    };
    let why = match &flush.runs {
        Runs::IfPtiOn(_) => " (would need pti=on)",
        Runs::Unknown(_) => " (PTI state unknown)",
        r if !r.as_configured() => " (would not run here)",
        _ => "",
    };
    let published = ipi
        .parts
        .iter()
        .chain(&f.parts)
        .filter_map(|p| match &p.source {
            size::cost::Source::Published { cite } => {
                Some(format!("published {}: {cite}", p.symbol))
            }
            _ => None,
        })
        .collect();
    // The line's slope came from a scenario's whole-loop figures, not
    // from the I and E the label names.
    let scenario = ipi
        .parts
        .iter()
        .chain(&f.parts)
        .any(|p| matches!(p.source, size::cost::Source::Scenario { .. }));
    let scenario = if scenario {
        format!("; ratio {}", crate::output::scenario::LABEL)
    } else {
        String::new()
    };
    Some(EvenLine {
        label: format!(
            "{}{guest}: IPI {} ns {}, flush {} ns {}{pti}{why}{scenario}",
            machine::short_cpu_label(m.cpu()),
            units::num(i.ns),
            i.source.short(),
            units::num(e.ns),
            e.source.short()
        ),
        ratio: f.per_event_ns / ipi.per_event_ns,
        dashed: !flush.runs.as_configured(),
        published,
    })
}

/// Lines of equal cost between the IPI status quo and the series' flush
/// on every entry over (syscalls/s, flush events/s), one per machine, for
/// the working set of `opts`: F x (I + R) = S x (E + R), so F = S x (E +
/// R) / (I + R); where PTI is off the flush runs only with pti=on, and
/// its line adds PTI's own cost: S x (P + E + R). Above a line the IPIs
/// cost more than flushing on every entry; below it they cost less. The
/// figures are the cost model's (measured, else published: the legend
/// says which, and marks guests); a dashed line would need pti=on.
pub fn break_even(machines: &[Machine], opts: &PlotOptions) -> Result<Option<String>> {
    const S: (f64, f64) = (1.0, 1e6);
    let w = opts.working_set_pages;
    let profile = Profile {
        name: String::new(),
        syscalls_per_sec: 1.0,
        flush_events_per_sec: opts.flush_rate_hz,
        working_set_pages: w,
        latency_budget_us: 1.0,
        deferred_check_cycles: crate::model::profile::DEFAULT_DEFERRED_CHECK_CYCLES,
        deferred_check_assumed: true,
    };
    let lines: Vec<EvenLine> = machines
        .iter()
        .take(MAX_SERIES)
        .filter_map(|m| even_line(m, &profile))
        .filter(|l| l.ratio.is_finite() && l.ratio > 0.0)
        .collect();
    if lines.is_empty() {
        return Ok(None);
    }
    let mut sources: Vec<String> = Vec::new();
    for s in lines.iter().flat_map(|l| &l.published) {
        if !sources.contains(s) {
            sources.push(s.clone());
        }
    }
    let mut notes = vec![
        "above a line: IPIs cost more; below: the flush on every entry costs more (meas = measured, pub = published)".to_string(),
    ];
    if lines.iter().any(|l| l.dashed) {
        notes.push("dashed: PTI is off there, so the flush runs only with pti=on; its line adds PTI's own cost".into());
    }
    if machines.iter().any(|m| m.is_guest()) {
        notes.push(
            "a guest's figures price that guest only (its IPIs go through the hypervisor)".into(),
        );
    }
    notes.extend(sources);
    let (flo, fhi) = (1e-3, 1e6);
    let caption = format!("Break-even: IPIs vs the series' flush on every entry, {w} pages");
    let svg = svg_chart(
        &caption,
        20,
        80,
        log_axis!(S.0, S.1),
        log_axis!(flo, fhi),
        |chart| {
            log_log_mesh(
                chart,
                "kernel entries (syscalls) per second on the isolated CPU (log scale)",
                "flush events per second reaching it (log scale)",
            )?;
            for (i, l) in lines.iter().enumerate() {
                let style = series_style(i, false);
                let pts: Vec<(f64, f64)> = (0..=60)
                    .map(|k| S.0 * (S.1 / S.0).powf(k as f64 / 60.0))
                    .map(|x| (x, x * l.ratio))
                    .filter(|p| p.1 >= flo && p.1 <= fhi)
                    .collect();
                let drawn = if l.dashed {
                    chart
                        .draw_series(DashedLineSeries::new(pts, 10, 6, style))
                        .map_err(perr)?
                } else {
                    chart
                        .draw_series(LineSeries::new(pts, style))
                        .map_err(perr)?
                };
                drawn
                    .label(l.label.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
            }
            legend(chart, SeriesLabelPosition::UpperLeft)?;
            for (k, note) in notes.iter().enumerate() {
                chart
                    .draw_series(std::iter::once(Text::new(
                        note.clone(),
                        (S.0 * 1.5, fhi / 1e4 / 3f64.powi(k as i32)),
                        (FONT, 13),
                    )))
                    .map_err(perr)?;
            }
            Ok(())
        },
    )?;
    Ok(Some(svg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::size::cost::tests::fixture;

    fn line_of(name: &str) -> EvenLine {
        let f = fixture(name);
        let ms = machine::group(std::slice::from_ref(&f));
        let p = Profile {
            name: String::new(),
            syscalls_per_sec: 1.0,
            flush_events_per_sec: 1.0,
            working_set_pages: 64,
            latency_budget_us: 1.0,
            deferred_check_cycles: crate::model::profile::DEFAULT_DEFERRED_CHECK_CYCLES,
            deferred_check_assumed: true,
        };
        even_line(&ms[0], &p).unwrap()
    }

    /// PTI off: the line is the pti=on one, PTI's own cost included, and
    /// dashed; PTI on: the series as it would run, solid. Guests say so.
    #[test]
    fn pti_off_lines_need_pti_on_and_price_it() {
        let f = fixture("cascadelake");
        let ms = machine::group(std::slice::from_ref(&f));
        let p = Profile::parse(
            "syscalls_per_sec = 1\nflush_events_per_sec = 1\nworking_set_pages = 64\nlatency_budget_us = 1\n",
        )
        .unwrap();
        let ing = size::machine_costs(&p, &ms[0]).ingredients;
        let (i, e, r, pti) = (
            ing.ipi.unwrap().ns,
            ing.flush.unwrap().ns,
            ing.refill.unwrap().ns,
            ing.pti.unwrap().ns,
        );
        let l = line_of("cascadelake");
        let want = (pti + e + r) / (i + r);
        assert!(
            (l.ratio - want).abs() < want * 1e-9,
            "{} vs {want}",
            l.ratio
        );
        assert!(l.dashed, "{}", l.label);
        assert!(l.label.contains("would need pti=on") && l.label.contains("+ PTI"));
        assert!(l.published.iter().any(|s| s.starts_with("published P:")));

        let l = line_of("skylake-pti.json");
        assert!(!l.dashed && !l.label.contains("dashed") && !l.label.contains("PTI "));
        assert!(!l.label.contains("guest"), "{}", l.label);
        assert!(!l.label.contains("scenario"), "{}", l.label);

        // A scenario of the profile's working set prices the IPI row: the
        // label says where the ratio came from.
        let mut f = fixture("skylake-pti.json");
        use crate::model::ids::{Ipi, KmodIpi, Trigger};
        let kr = Trigger::Ipi(Ipi::Kmod(KmodIpi::KernelRange)).to_string();
        crate::output::scenario::tests::push_scenario(&mut f, &kr, 26_000, 0, 64);
        let ms = machine::group(std::slice::from_ref(&f));
        let l = even_line(&ms[0], &p).unwrap();
        assert!(
            l.label.ends_with("; ratio measured (scenario)"),
            "{}",
            l.label
        );

        // The Zen 4 guest's module rows were measured with PTI off: not
        // the series' cost, and no published flush figure for its core,
        // so it has no line.
        let f = fixture("genoa");
        let ms = machine::group(std::slice::from_ref(&f));
        let p = Profile::parse(
            "syscalls_per_sec = 1\nflush_events_per_sec = 1\nworking_set_pages = 64\nlatency_budget_us = 1\n",
        )
        .unwrap();
        assert!(even_line(&ms[0], &p).is_none());
    }
}
