//! SVG plots (plotters, SVG backend, no font dependencies: text is SVG
//! `<text>` the viewer lays out). Each plot is built as a string so tests
//! can parse it; `write_all` puts them in a directory.

use crate::model::ids::{self, ExperimentId, Ipi, KmodIpi, UserIpi};
use crate::model::machine::{self, Machine};
use crate::model::profile::Profile;
use crate::model::schema::{ClockKind, Experiment, ResultFile};
use crate::model::units;
use crate::output::size;
use anyhow::{anyhow, Context, Result};
use plotters::chart::MeshStyle;
use plotters::coord::combinators::{LogCoord, WithKeyPoints};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use std::path::{Path, PathBuf};

const SIZE: (u32, u32) = (960, 600);
const FONT: &str = "sans-serif";
/// Distinct, colour-blind-friendly (Okabe-Ito) series colours.
const COLORS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
    RGBColor(0, 0, 0),
];
/// Legends past this many series stop being readable.
const MAX_SERIES: usize = 12;

fn color(i: usize) -> RGBColor {
    COLORS[i % COLORS.len()]
}

/// The line (or marker) style of series `i`.
fn series_style(i: usize, filled: bool) -> ShapeStyle {
    ShapeStyle {
        color: color(i).to_rgba(),
        filled,
        stroke_width: 2,
    }
}

/// What the break-even plot assumes (the report has no profile).
#[derive(Debug, Clone, Copy)]
pub struct PlotOptions {
    pub flush_rate_hz: f64,
    pub working_set_pages: u64,
}

impl Default for PlotOptions {
    fn default() -> Self {
        PlotOptions {
            flush_rate_hz: 1.0,
            working_set_pages: 64,
        }
    }
}

fn perr<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("plotting failed: {e:?}")
}

/// Writes every plot that has data into `dir`; returns the paths written.
pub fn write_all(files: &[ResultFile], dir: &Path, opts: &PlotOptions) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut out = Vec::new();
    for (name, svg) in render_all(files, opts)? {
        let p = dir.join(name);
        crate::model::files::write_atomic(&p, svg.as_bytes())?;
        out.push(p);
    }
    Ok(out)
}

/// Every plot as (file name, SVG text); plots without data are skipped.
pub fn render_all(files: &[ResultFile], opts: &PlotOptions) -> Result<Vec<(String, String)>> {
    let machines = machine::group(files);
    let mut out = Vec::new();
    for (name, svg) in [
        ("entry-cost.svg", entry_cost(&machines)?),
        ("ipi-cdf.svg", ipi_cdf(&machines)?),
        ("refill.svg", refill(&machines)?),
        ("scenario-cdf.svg", scenario_cdf::scenario_cdf(&machines)?),
    ] {
        if let Some(svg) = svg {
            out.push((name.to_string(), svg));
        }
    }
    if let Some(svg) = break_even(&machines, opts)? {
        out.push(("break-even.svg".to_string(), svg));
    }
    let mut k = 0;
    for m in &machines {
        if let Some(svg) = overhead_vs_rate(m, opts)? {
            k += 1;
            let name = if k == 1 {
                "overhead-vs-rate.svg".to_string()
            } else {
                format!("overhead-vs-rate-{k}.svg")
            };
            out.push((name, svg));
        }
    }
    Ok(out)
}

/// Legend name of a machine: CPU, kernel and host, so two kernels on one
/// CPU (before/after a patch) stay apart.
fn series_name(m: &Machine) -> String {
    // A version-1 file's entry figures are the inline instruction, one
    // call per region: the legend says so beside its bars.
    let old = if m.latest().old_method().is_some() {
        ", version-1 method (inline)"
    } else {
        ""
    };
    format!(
        "{}, {}, {}{old}",
        m.cpu_label,
        m.kernel.trim_start_matches("Linux "),
        m.host
    )
}

/// Compact tick text: 1, 20, 500, 1k, 20k, 1M, 0.001.
fn tick(v: f64) -> String {
    let trim = |x: f64| format!("{}", (x * 1e6).round() / 1e6);
    if v.abs() >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if v.abs() >= 1e3 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

/// Tick positions for a log axis from `lo` to `hi`: powers of ten on a
/// long axis, 1, 2 and 5 times them on a medium one, every multiple on a
/// short one. plotters' own log ticks leave whole decades unlabelled.
fn log_keys(lo: f64, hi: f64) -> Vec<f64> {
    let keys = |mults: &[f64]| -> Vec<f64> {
        let (e0, e1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
        (e0..=e1)
            .flat_map(|e| mults.iter().map(move |m| m * 10f64.powi(e)))
            .filter(|v| *v >= lo && *v <= hi)
            .collect()
    };
    if hi / lo > 1e4 {
        return keys(&[1.0]);
    }
    let coarse = keys(&[1.0, 2.0, 5.0]);
    if coarse.len() >= 4 {
        coarse
    } else {
        keys(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    }
}

/// A log axis with `log_keys` ticks.
macro_rules! log_axis {
    ($lo:expr, $hi:expr) => {{
        let (lo, hi): (f64, f64) = ($lo, $hi);
        (lo..hi).log_scale().with_key_points(log_keys(lo, hi))
    }};
}
mod scenario_cdf;

/// Whether every machine's figures can be drawn in ns (all know their TSC
/// rate and hold TSC cycles only: core cycles have no ns), and the axis
/// unit name that goes with that choice.
fn ns_unit(machines: &[&Machine]) -> (bool, &'static str) {
    let ns = machines.iter().all(|m| {
        units::rate_known(m.tsc_hz()) && m.experiments.values().all(|e| e.clock == ClockKind::Tsc)
    });
    (ns, if ns { "ns" } else { "cycles" })
}

/// A figure of `e` in the plot's unit: ns from TSC cycles, else cycles.
fn to_unit(cycles: f64, e: &Experiment, m: &Machine, ns: bool) -> f64 {
    match e.tsc(cycles) {
        Some(c) if ns => units::cycles_to_ns(c, m.tsc_hz()).unwrap_or(f64::NAN),
        _ => cycles,
    }
}

/// Log-axis bounds around positive values, padded a little.
fn log_bounds(vals: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = vals
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(l, h), v| (l.min(v), h.max(v)));
    (hi > 0.0).then(|| (lo / 1.5, hi * 1.5))
}

const ENTRY_X_DESC: &str =
    "experiment (getpid, ...: entry cost; +variant: flush-on-entry delta vs nop)";

/// Entry cost per experiment (grouped bars, one colour per machine).
pub fn entry_cost(machines: &[Machine]) -> Result<Option<String>> {
    // Categories: entry and vdso medians, then flush-on-entry deltas.
    let mut cats: Vec<(ExperimentId, String)> = Vec::new();
    for m in machines {
        for e in m.experiments.values() {
            let k = ids::kind(e);
            let label = match &k {
                // Shortened so neighbouring labels do not run together.
                ExperimentId::Entry(n) => n.name().replace("return_after_sysret", "sysret ret"),
                ExperimentId::Vdso(n) => format!("vdso {}", n.name().replace("clock_", "")),
                ExperimentId::EntryFlush {
                    variant,
                    pages: 0,
                    timing,
                } => match timing {
                    ids::EntryTiming::Dispatch => format!("+{variant}"),
                    ids::EntryTiming::NextEntry => format!("+{variant} next"),
                },
                _ => continue,
            };
            if !cats.iter().any(|c| c.1 == label) {
                cats.push((k, label));
            }
        }
    }
    cats.sort_by_key(|(k, _)| match k {
        ExperimentId::Entry(n) => (0, n.rank()),
        ExperimentId::Vdso(_) => (1, 0),
        ExperimentId::EntryFlush {
            variant, timing, ..
        } => (2, 2 * variant.rank() + *timing as usize),
        _ => (3, 0),
    });
    let ms: Vec<&Machine> = machines
        .iter()
        .filter(|m| cats.iter().any(|c| value_of(m, &c.0).is_some()))
        .take(MAX_SERIES)
        .collect();
    if cats.is_empty() || ms.is_empty() {
        return Ok(None);
    }
    let (ns, unit) = ns_unit(&ms);
    let vals: Vec<Vec<Option<f64>>> = ms
        .iter()
        .map(|m| {
            cats.iter()
                .map(|c| value_of(m, &c.0).map(|(v, e)| to_unit(v, e, m, ns)))
                .collect()
        })
        .collect();
    let Some((lo, hi)) = log_bounds(vals.iter().flatten().flatten().copied()) else {
        return Ok(None);
    };
    let n = cats.len() as f64;
    // Headroom above the tallest bar keeps the legend off the bars.
    // Say so where a bar is a quiet-block median (`model::quiet`).
    let quiet = ms.iter().any(|m| {
        cats.iter()
            .any(|c| value_of(m, &c.0).is_some_and(|(_, e)| e.quiet().is_some()))
    });
    let what = if quiet {
        "median; quiet blocks where recorded"
    } else {
        "median"
    };
    let caption = format!("Kernel entry cost per variant and CPU model ({unit}, {what})");
    let svg = svg_chart(
        &caption,
        22,
        80,
        -0.5f64..n - 0.5,
        log_axis!(lo, hi * 12.0),
        |chart| {
            let names: Vec<String> = cats.iter().map(|c| c.1.clone()).collect();
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(cats.len() + 1)
                .x_label_formatter(&|x| {
                    let i = x.round();
                    if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
                        names[i as usize].clone()
                    } else {
                        String::new()
                    }
                })
                .y_label_formatter(&|v| tick(*v))
                .x_desc(ENTRY_X_DESC)
                .y_desc(format!("median cost per call, {unit} (log scale)"))
                .label_style((FONT, 15))
                .axis_desc_style((FONT, 16))
                .draw()
                .map_err(perr)?;
            let width = 0.8 / ms.len() as f64;
            for (j, (m, row)) in ms.iter().zip(&vals).enumerate() {
                let c = color(j);
                let bars = row.iter().enumerate().filter_map(|(i, v)| {
                    let v = (*v)?;
                    let x0 = i as f64 - 0.4 + j as f64 * width;
                    Some(Rectangle::new(
                        [(x0, lo), (x0 + width * 0.9, v.max(lo))],
                        c.filled(),
                    ))
                });
                chart
                    .draw_series(bars)
                    .map_err(perr)?
                    .label(series_name(m))
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled())
                    });
            }
            legend(chart, SeriesLabelPosition::UpperLeft)?;
            Ok(())
        },
    )?;
    Ok(Some(svg))
}

fn value_of<'a>(m: &Machine<'a>, k: &ExperimentId) -> Option<(f64, &'a Experiment)> {
    m.experiments
        .values()
        .find(|e| ids::kind(e) == *k)
        .map(|e| (e.headline_cycles(), *e))
        .filter(|v| v.0.is_finite())
}

fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    pos: SeriesLabelPosition,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(pos)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, 14))
        .draw()
        .map_err(perr)
}

/// One solid line per named CDF, coloured in order, and the legend where
/// a CDF leaves room (lower right). Both CDF plots draw their curves so.
fn cdf_lines<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    curves: impl Iterator<Item = (String, Vec<(f64, f64)>)>,
) -> Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (i, (name, pts)) in curves.enumerate() {
        let style = series_style(i, false);
        chart
            .draw_series(LineSeries::new(pts, style))
            .map_err(perr)?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    legend(chart, SeriesLabelPosition::LowerRight)
}

/// A CDF series' legend: what it shows, after the machine's short name
/// when several machines share the plot, and with the host kind when
/// the figures come from a guest (a guest figure is never shown bare).
pub(super) fn cdf_series_name(
    machines: &[Machine],
    m: &Machine,
    what: &dyn std::fmt::Display,
) -> String {
    let cpu = m.cpu_label.split(" (").next().unwrap_or("");
    match (machines.len() > 1, m.is_guest()) {
        (true, true) => format!("{cpu} {what} ({})", m.host),
        (true, false) => format!("{cpu} {what}"),
        (false, true) => format!("{what} ({})", m.host),
        (false, false) => what.to_string(),
    }
}

/// Victim interruption CDF per IPI method (and machine).
pub fn ipi_cdf(machines: &[Machine]) -> Result<Option<String>> {
    let mut series: Vec<(String, &Machine, &crate::model::schema::Experiment)> = Vec::new();
    for m in machines {
        for e in m.experiments.values() {
            let Some(ipi) = ids::kind(e).ipi() else {
                continue;
            };
            if !e.samples.is_empty() {
                series.push((cdf_series_name(machines, m, &ipi), m, e));
            }
        }
    }
    let mut note = "";
    if series.len() > MAX_SERIES {
        // Too many to read: keep the method sizing uses, one per machine.
        let keep: Vec<String> = machines
            .iter()
            .filter_map(|m| {
                [
                    Ipi::Kmod(KmodIpi::KernelRange),
                    Ipi::Kmod(KmodIpi::FlushAll),
                    Ipi::User(UserIpi::Mprotect),
                ]
                .map(ExperimentId::Ipi)
                .iter()
                .find_map(|id| m.get(id))
                .map(|e| format!("{}{}", m.title(), e.id))
            })
            .collect();
        series.retain(|(_, m, e)| keep.contains(&format!("{}{}", m.title(), e.id)));
        series.truncate(MAX_SERIES);
        note = ", one method per machine";
    }
    if series.is_empty() {
        return Ok(None);
    }
    let ms: Vec<&Machine> = series.iter().map(|s| s.1).collect();
    let (ns, unit) = ns_unit(&ms);
    let curves: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|(_, m, e)| cdf_points(e, m, ns))
        .collect();
    let Some((lo, hi)) = log_bounds(curves.iter().flatten().map(|p| p.0)) else {
        return Ok(None);
    };
    let caption = format!("Victim interruption per IPI: CDF by method{note}");
    let svg = svg_chart(&caption, 22, 70, log_axis!(lo, hi), 0f64..1.0, |chart| {
        let mut mesh = chart.configure_mesh();
        mesh.x_label_formatter(&|v| tick(*v))
            .x_desc(format!(
                "interruption seen by the isolated CPU, {unit} (log scale)"
            ))
            .y_desc("fraction of interruptions <= x");
        draw_mesh(&mut mesh)?;
        let names = series.iter().map(|(name, _, _)| name.clone());
        cdf_lines(chart, names.zip(curves))
    })?;
    Ok(Some(svg))
}

/// Step CDF from a histogram, thinned to at most ~400 points.
fn cdf_points(e: &crate::model::schema::Experiment, m: &Machine, ns: bool) -> Vec<(f64, f64)> {
    let total = e.samples.len() as f64;
    let step = (e.samples.values.len() / 400).max(1);
    let mut cum = 0u64;
    let mut out = Vec::new();
    let last = e.samples.values.len() - 1;
    for (i, (&v, &c)) in e.samples.values.iter().zip(&e.samples.counts).enumerate() {
        cum += c;
        if i % step == 0 || i == last {
            let x = to_unit(v as f64, e, m, ns);
            if x > 0.0 {
                out.push((x, cum as f64 / total));
            }
        }
    }
    out
}

/// Refill cost vs working-set pages, log-log, one line per machine.
pub fn refill(machines: &[Machine]) -> Result<Option<String>> {
    let curves: Vec<(&Machine, crate::model::refill::Curve)> = machines
        .iter()
        .map(|m| (m, crate::model::refill::Curve::of(m)))
        .filter(|(_, c)| !c.is_empty())
        .take(MAX_SERIES)
        .collect();
    if curves.is_empty() {
        return Ok(None);
    }
    let ms: Vec<&Machine> = curves.iter().map(|d| d.0).collect();
    let (ns, unit) = ns_unit(&ms);
    // ns_unit checked every machine's clock: ns means TSC curves.
    let pts: Vec<Vec<(f64, f64)>> = curves
        .iter()
        .map(|(m, c)| {
            c.points
                .iter()
                .filter_map(|&(x, y)| {
                    let y = if ns {
                        c.at_tsc(x)
                            .and_then(|(t, _)| units::cycles_to_ns(t, m.tsc_hz()))?
                    } else {
                        y
                    };
                    Some((x as f64, y))
                })
                .filter(|p| p.1 > 0.0)
                .collect()
        })
        .collect();
    // A delta <= 0 has no place on a log axis; say which were left out
    // rather than let a reader think they were never measured.
    let dropped = not_drawn(&ms);
    let x_desc = if dropped.is_empty() {
        "working set, 4 KiB pages walked (log scale)".to_string()
    } else {
        format!(
            "working set, 4 KiB pages walked (log scale); not drawn, delta <= 0 (see table): {}",
            dropped.join(", ")
        )
    };
    let (Some((xlo, xhi)), Some((ylo, yhi))) = (
        log_bounds(pts.iter().flatten().map(|p| p.0)),
        log_bounds(pts.iter().flatten().map(|p| p.1)),
    ) else {
        return Ok(None);
    };
    let caption = "TLB refill after a full flush vs working set";
    let svg = svg_chart(
        caption,
        22,
        80,
        log_axis!(xlo, xhi),
        log_axis!(ylo, yhi * 8.0),
        |chart| {
            log_log_mesh(chart, &x_desc, &format!("refill cost, {unit} (log scale)"))?;
            for (i, (m, p)) in ms.iter().zip(pts).enumerate() {
                let style = series_style(i, true);
                chart
                    .draw_series(p.iter().map(|&xy| Circle::new(xy, 4, style)))
                    .map_err(perr)?;
                chart
                    .draw_series(LineSeries::new(p, style))
                    .map_err(perr)?
                    .label(series_name(m))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
            }
            legend(chart, SeriesLabelPosition::UpperLeft)?;
            Ok(())
        },
    )?;
    Ok(Some(svg))
}

// The strategy plots (break-even, overhead vs rate) read the cost model;
// declared after `log_axis!`, which they use.
mod strategies;
pub use strategies::{break_even, overhead_vs_rate};

/// The working-set sizes whose refill delta is <= 0 on some machine
/// (`refill::excluded`: the curve leaves them out), each once, in the
/// order first met (per machine ascending, machine after machine):
/// several machines may leave out the same size.
fn not_drawn(machines: &[&Machine]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in machines {
        let mut pages: Vec<u64> = m
            .experiments
            .values()
            .filter(|e| crate::model::refill::excluded(e) == Some("not positive"))
            .filter_map(|e| match ids::kind(e) {
                ExperimentId::Refill(p) if p > 0 => Some(p),
                _ => None,
            })
            .collect();
        pages.sort_unstable();
        for p in pages.iter().map(u64::to_string) {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// A log-log chart's coordinates (both axes `log_axis!`).
type LogLog = Cartesian2d<WithKeyPoints<LogCoord<f64>>, WithKeyPoints<LogCoord<f64>>>;

/// The mesh of a log-log chart: compact ticks and the shared fonts.
fn log_log_mesh<'a>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, LogLog>,
    x_desc: &str,
    y_desc: &str,
) -> Result<()> {
    let mut mesh = chart.configure_mesh();
    mesh.x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .x_desc(x_desc)
        .y_desc(y_desc);
    draw_mesh(&mut mesh)
}

/// Draws a configured mesh in the fonts every plot shares.
fn draw_mesh<X, Y>(mesh: &mut MeshStyle<'_, '_, X, Y, SVGBackend<'_>>) -> Result<()>
where
    X: Ranged + ValueFormatter<X::ValueType>,
    Y: Ranged + ValueFormatter<Y::ValueType>,
{
    mesh.label_style((FONT, 15))
        .axis_desc_style((FONT, 16))
        .draw()
        .map_err(perr)
}

/// One chart as an SVG string: the background, caption, margins and
/// label areas every plot shares; `draw` fills in the mesh and series.
fn svg_chart<X: AsRangedCoord, Y: AsRangedCoord>(
    caption: &str,
    caption_size: u32,
    y_label_area: u32,
    x: X,
    y: Y,
    draw: impl for<'b> FnOnce(
        &mut ChartContext<'b, SVGBackend<'b>, Cartesian2d<X::CoordDescType, Y::CoordDescType>>,
    ) -> Result<()>,
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(perr)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, (FONT, caption_size))
            .margin(16)
            .margin_right(40)
            .x_label_area_size(56)
            .y_label_area_size(y_label_area)
            .build_cartesian_2d(x, y)
            .map_err(perr)?;
        draw(&mut chart)?;
        root.present().map_err(perr)?;
    }
    Ok(svg)
}
