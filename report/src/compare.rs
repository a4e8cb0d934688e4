//! Before/after comparison of two result files (a kernel with and without
//! a patch): per experiment both headline figures, the delta, % change and
//! whether the difference is significant. The thread's hand-made table
//! ("getpid 770 -> 1340 ns") is what this reproduces.

use crate::ids::{self, Kind};
use crate::machine;
use crate::schema::{Experiment, ResultFile};
use crate::stats::{mann_whitney, mann_whitney_blocks};
use crate::text_table::{wrap, Table, WIDTH};
use crate::units::{self, num};

/// Significance level of the plain rows.
pub const ALPHA: f64 = 0.01;

/// Two TSC frequencies closer than this are the same clock measured
/// twice: the delta is then taken in cycles, as measured, so equal medians
/// show no change instead of the noise of two frequency measurements.
const SAME_CLOCK: f64 = 0.005;

/// Smallest relative change a row is called significant for: back-to-back
/// runs on a quiet VM guest drift by up to a few percent (perf bench too),
/// and the block test alone would call that drift real.
pub const MIN_EFFECT: f64 = 0.03;

/// How a row's significance was decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Test {
    /// Both files have independent blocks (version 2): Mann-Whitney U on
    /// the block medians, and whether the change is larger than
    /// `MIN_EFFECT` and than one timer step per operation.
    Blocks { p: f64, large_enough: bool },
    /// Mann-Whitney U on the two sample histograms: p-value, and whether
    /// the medians' 95% CIs are apart. With millions of samples U finds
    /// any change of shape; a row is significant only when the median (the
    /// figure shown) moved too.
    MannWhitney { p: f64, medians_apart: bool },
    /// Differential experiments: whether the two deltas' stored 95%
    /// bootstrap CIs overlap (no raw paired data exists to test the
    /// difference of two deltas directly).
    CiOverlap { overlap: bool },
    /// Too few samples or degenerate data.
    None,
}

impl Test {
    pub fn significant(&self) -> Option<bool> {
        match *self {
            Test::Blocks { p, large_enough } => Some(p < ALPHA && large_enough),
            Test::MannWhitney { p, medians_apart } => Some(p < ALPHA && medians_apart),
            Test::CiOverlap { overlap } => Some(!overlap),
            Test::None => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub id: String,
    /// Headline figures in cycles (delta for differential experiments).
    pub a_cycles: f64,
    pub b_cycles: f64,
    /// The same in ns when both files know their TSC frequency.
    pub a_ns: Option<f64>,
    pub b_ns: Option<f64>,
    /// TSC Hz when A and B share a clock (see `SAME_CLOCK`).
    pub shared_hz: Option<f64>,
    pub test: Test,
}

impl Row {
    /// B minus A in the unit shown (ns when known, else cycles).
    pub fn delta(&self) -> f64 {
        let cycles = self.b_cycles - self.a_cycles;
        match (self.a_ns, self.b_ns, self.shared_hz) {
            (Some(_), Some(_), Some(hz)) => units::cycles_to_ns(cycles, hz).unwrap_or(f64::NAN),
            (Some(a), Some(b), None) => b - a,
            _ => cycles,
        }
    }

    /// Relative change in percent (NaN when A is zero).
    pub fn change_pct(&self) -> f64 {
        let (a, b) = match (self.a_ns, self.b_ns, self.shared_hz) {
            (Some(a), Some(b), None) => (a, b),
            _ => (self.a_cycles, self.b_cycles),
        };
        if a == 0.0 {
            f64::NAN
        } else {
            (b - a) / a.abs() * 100.0
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub a_title: String,
    pub b_title: String,
    pub a_created: String,
    pub b_created: String,
    /// Figures are ns when both files have a TSC frequency, else cycles.
    pub in_ns: bool,
    pub rows: Vec<Row>,
    pub only_a: Vec<String>,
    pub only_b: Vec<String>,
    /// Warnings: different CPU models, partial runs, guests.
    pub warnings: Vec<String>,
}

/// Compares every experiment present in both files.
pub fn compare(a: &ResultFile, b: &ResultFile) -> Comparison {
    let ma = &machine::group(std::slice::from_ref(a))[0];
    let mb = &machine::group(std::slice::from_ref(b))[0];
    let (ha, hb) = (a.timer.tsc_hz, b.timer.tsc_hz);
    let in_ns = units::cycles_to_ns(1.0, ha).is_some() && units::cycles_to_ns(1.0, hb).is_some();
    let mut ids_a: Vec<&Experiment> = a.experiments.iter().collect();
    ids_a.sort_by_key(|e| order(e));
    let mut rows = Vec::new();
    for ea in ids_a {
        let Some(eb) = b.experiments.iter().find(|e| e.id == ea.id) else {
            continue;
        };
        let (ca, cb) = (ea.headline_cycles(), eb.headline_cycles());
        let test = block_test((a, ea), (b, eb)).unwrap_or_else(|| sample_test(ea, eb));
        let conv = |c: f64, hz: f64| {
            if in_ns {
                units::cycles_to_ns(c, hz)
            } else {
                None
            }
        };
        rows.push(Row {
            id: ea.id.clone(),
            a_cycles: ca,
            b_cycles: cb,
            a_ns: conv(ca, ha),
            b_ns: conv(cb, hb),
            shared_hz: (in_ns && ((ha - hb) / hb).abs() < SAME_CLOCK).then_some(hb),
            test,
        });
    }
    finish(a, b, ma, mb, in_ns, rows)
}

/// One timer step per operation of `e`, cycles (0 when not recorded).
fn step_per_op(f: &ResultFile, e: &Experiment) -> f64 {
    let ops = e
        .params
        .get("ops_per_sample")
        .and_then(|v| v.as_f64())
        .unwrap_or(1.0)
        .max(1.0);
    f.timer.resolution_cycles as f64 / ops
}

/// The block test when both experiments carry blocks. A change within
/// one timer step per operation is never significant: the clock cannot
/// tell it from quantization.
fn block_test(
    (a, ea): (&ResultFile, &Experiment),
    (b, eb): (&ResultFile, &Experiment),
) -> Option<Test> {
    let (ba, bb) = (ea.blocks.as_ref()?, eb.blocks.as_ref()?);
    let r = mann_whitney_blocks(&ba.medians, &bb.medians)?;
    let (ca, cb) = (ea.headline_cycles(), eb.headline_cycles());
    let rel = if ca == 0.0 {
        f64::INFINITY
    } else {
        ((cb - ca) / ca).abs()
    };
    let step = step_per_op(a, ea).max(step_per_op(b, eb));
    Some(Test::Blocks {
        p: r.p,
        large_enough: rel >= MIN_EFFECT && (cb - ca).abs() > step,
    })
}

/// The version-1 tests on all samples (or stored delta CIs).
fn sample_test(ea: &Experiment, eb: &Experiment) -> Test {
    match (&ea.baseline, &eb.baseline) {
        (Some(ba), Some(bb)) => {
            let ok = ba
                .delta_ci95
                .iter()
                .chain(&bb.delta_ci95)
                .all(|v| v.is_finite());
            if ok {
                Test::CiOverlap {
                    overlap: ba.delta_ci95[0] <= bb.delta_ci95[1]
                        && bb.delta_ci95[0] <= ba.delta_ci95[1],
                }
            } else {
                Test::None
            }
        }
        _ => {
            let (ia, ib) = (ea.summary.median_ci95, eb.summary.median_ci95);
            let medians_apart = ia[1] < ib[0] || ib[1] < ia[0];
            mann_whitney(&ea.samples, &eb.samples)
                .map(|r| Test::MannWhitney {
                    p: r.p,
                    medians_apart,
                })
                .unwrap_or(Test::None)
        }
    }
}

/// The rest of a comparison once the rows are known.
fn finish(
    a: &ResultFile,
    b: &ResultFile,
    ma: &machine::Machine,
    mb: &machine::Machine,
    in_ns: bool,
    rows: Vec<Row>,
) -> Comparison {
    let has = |f: &ResultFile, id: &str| f.experiments.iter().any(|e| e.id == id);
    let only_a = a
        .experiments
        .iter()
        .filter(|e| !has(b, &e.id))
        .map(|e| e.id.clone())
        .collect();
    let only_b = b
        .experiments
        .iter()
        .filter(|e| !has(a, &e.id))
        .map(|e| e.id.clone())
        .collect();
    let mut warnings = Vec::new();
    if ma.cpu_label != mb.cpu_label || ma.host != mb.host {
        warnings.push(format!(
            "A and B ran on different machines ({} vs {}): differences mix hardware and software.",
            ma.cpu_label, mb.cpu_label
        ));
    }
    for (name, f) in [("A", a), ("B", b)] {
        if let Some(why) = f.old_method() {
            warnings.push(format!("{name} is a version-1 file, {why}."));
        }
        if f.partial {
            warnings.push(format!("{name} is a partial run."));
        }
        if let Some(h) = &f.environment.cpu.hypervisor {
            if h == "TCG" {
                warnings.push(format!("{name}: QEMU TCG emulation: not hardware timing."));
            } else {
                warnings.push(format!(
                    "{name}: {h} guest: paravirt TLB flush may skip preempted vCPUs."
                ));
            }
        }
        if !f.placement.victim_isolated {
            warnings.push(format!("{name}: victim CPU not isolated."));
        }
    }
    let pti = |f: &ResultFile| f.environment.platform.as_ref().map(|p| p.pti);
    if pti(a) != pti(b) {
        warnings.push(format!("PTI differs: A {:?}, B {:?}.", pti(a), pti(b)));
    }
    Comparison {
        a_title: ma.title(),
        b_title: mb.title(),
        a_created: a.created.clone(),
        b_created: b.created.clone(),
        in_ns,
        rows,
        only_a,
        only_b,
        warnings,
    }
}

fn order(e: &Experiment) -> (usize, String) {
    let k = ids::kind(e);
    let rank = match k {
        Kind::TimerOverhead => 0,
        Kind::Entry(_) => 1,
        Kind::Vdso(_) => 2,
        Kind::FlushKernel(_) => 3,
        Kind::EntryFlush { .. } => 4,
        Kind::Refill(_) => 5,
        Kind::Ipi(..) => 6,
        Kind::Other => 7,
    };
    // Natural order inside a family (refill.w8 before refill.w64).
    let key = match ids::kind(e) {
        Kind::Refill(p) => format!("{p:012}"),
        Kind::Entry(n) => format!("{}{n}", ids::entry_rank(&n)),
        Kind::EntryFlush {
            variant,
            pages,
            timing,
        } => {
            format!(
                "{:02}{pages:012}{}",
                ids::variant_rank(&variant),
                timing.suffix()
            )
        }
        Kind::FlushKernel(v) => format!("{:02}", ids::variant_rank(&v)),
        _ => e.id.clone(),
    };
    (rank, key)
}

fn signed_pct(v: f64) -> String {
    if v.is_finite() && v > 0.0 {
        format!("+{}", units::pct(v))
    } else {
        units::pct(v)
    }
}

/// The comparison as a 72-column table with a header and a footer that
/// names the tests.
pub fn render_text(c: &Comparison) -> String {
    let unit = if c.in_ns { "ns" } else { "cycles" };
    let mut out = String::new();
    for l in wrap(&format!("A: {} ({})", c.a_title, c.a_created), WIDTH, "   ") {
        out.push_str(&l);
        out.push('\n');
    }
    for l in wrap(&format!("B: {} ({})", c.b_title, c.b_created), WIDTH, "   ") {
        out.push_str(&l);
        out.push('\n');
    }
    out.push('\n');
    let mut t = Table::new(
        &format!("Medians (differential rows: delta medians), {unit}"),
        &[
            "experiment",
            &format!("A -> B {unit}"),
            "delta",
            "change",
            "p",
            "sig",
        ],
    );
    for r in &c.rows {
        let (a, b) = match (r.a_ns, r.b_ns) {
            (Some(a), Some(b)) => (a, b),
            _ => (r.a_cycles, r.b_cycles),
        };
        let (p, sig) = match r.test {
            Test::MannWhitney { p, .. } | Test::Blocks { p, .. } => (
                if p < 0.001 {
                    "<0.001".to_string()
                } else {
                    format!("{p:.3}")
                },
                r.test.significant(),
            ),
            Test::CiOverlap { .. } => ("CI".to_string(), r.test.significant()),
            Test::None => ("-".to_string(), None),
        };
        let sig = match sig {
            Some(true) => "yes",
            Some(false) => "no",
            None => "-",
        };
        t.push(vec![
            r.id.clone(),
            format!("{} -> {}", num(a), num(b)),
            units::signed(r.delta()),
            signed_pct(r.change_pct()),
            p,
            sig.to_string(),
        ]);
    }
    out.push_str(&t.render_text());
    let blocks = c
        .rows
        .iter()
        .filter(|r| matches!(r.test, Test::Blocks { .. }))
        .count();
    let mut notes = Vec::new();
    if blocks > 0 {
        notes.push(format!(
            "Significance: a two-sided Mann-Whitney U test on the medians of each run's independent blocks, significant at p < {ALPHA} when the change is also at least {:.0}% and more than one timer step per operation (smaller changes are within the drift of back-to-back runs).",
            MIN_EFFECT * 100.0
        ));
    }
    if blocks < c.rows.len() {
        notes.push(format!(
            "Significance{}: plain rows use a two-sided Mann-Whitney U test on all samples (normal approximation, tie-corrected), significant at p < {ALPHA} when the medians' 95% CIs are also apart; differential rows (refill, entry.flush; p = CI) are significant when the two deltas' 95% bootstrap CIs do not overlap.",
            if blocks > 0 { " of rows without blocks (version-1 files)" } else { "" }
        ));
    }
    notes
        .push("Changes are in cycles when A and B share a TSC clock, in ns otherwise.".to_string());
    if !c.only_a.is_empty() {
        notes.push(format!("Only in A: {}.", c.only_a.join(", ")));
    }
    if !c.only_b.is_empty() {
        notes.push(format!("Only in B: {}.", c.only_b.join(", ")));
    }
    notes.extend(c.warnings.iter().cloned());
    out.push('\n');
    for n in notes {
        for l in wrap(&format!("- {n}"), WIDTH, "  ") {
            out.push_str(&l);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_files_show_no_change() {
        let f = crate::load::parse_result(include_str!(
            "../../testdata/results/synthetic-cascadelake-baremetal-pti-off.json"
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
        let e = f.experiments.iter_mut().find(|e| e.id == id).unwrap();
        e.params.insert("ops_per_sample".into(), 16.into());
        let m = crate::stats::median_f64(&medians);
        e.summary.median = m;
        e.baseline = None;
        e.blocks = Some(crate::stats::blocks(1000, medians));
        f
    }

    #[test]
    fn blocks_flag_real_shifts_not_drift_or_steps() {
        let f = crate::load::parse_result(include_str!(
            "../../testdata/results/synthetic-cascadelake-baremetal-pti-off.json"
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
}
