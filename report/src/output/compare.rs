//! Before/after comparison of two result files (a kernel with and without
//! a patch): per experiment both headline figures, the delta, % change and
//! whether the difference is significant. The thread's hand-made table
//! ("getpid 770 -> 1340 ns") is what this reproduces.

use crate::model::drift;
use crate::model::ids::{self, ExperimentId};
use crate::model::machine;
use crate::model::schema::{ClockKind, Experiment, ResultFile};
use crate::model::stats::{mann_whitney, mann_whitney_blocks, median_f64};
use crate::model::units::{self, num};
use crate::output::export::{Exporter, Text};
use crate::output::text_table::{wrap, Table, WIDTH};

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
    /// The change net of the drift reference, when the row is judged
    /// so (`drift::net_blocks`); None: judged on the raw figures.
    pub net: Option<Net>,
    /// Both figures are medians over the blocks taken while the host was
    /// quiet (`model::quiet`): both runs carry them (`figures`).
    pub quiet: bool,
}

/// A row's change net of the drift reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Net {
    /// Percent: the median of B's netted block medians over A's (the
    /// blocks of `judged_blocks`).
    pub change_pct: f64,
    /// How much the id moves with the reference (`NetBlocks`).
    pub sensitivity: f64,
}

/// After the figures of a row in cycles in a table otherwise in ns (the
/// figures' cell, not the id's, which may be cut to fit).
const CORE_MARK: &str = "cyc";
/// After the figures of a row whose figures are both quiet-block medians.
const QUIET_MARK: &str = "q";

impl Row {
    /// The row's figures are ns (TSC cycles with a known rate).
    pub fn in_ns(&self) -> bool {
        self.a_ns.is_some() && self.b_ns.is_some()
    }

    /// B minus A in the unit shown (ns when known, else cycles).
    pub fn delta(&self) -> f64 {
        let cycles = self.b_cycles - self.a_cycles;
        match (self.a_ns, self.b_ns, self.shared_hz) {
            // a_ns and b_ns exist only for TSC cycles (`compare`).
            (Some(_), Some(_), Some(hz)) => {
                units::cycles_to_ns(units::TscCycles(cycles), hz).unwrap_or(f64::NAN)
            }
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

    /// The change net of the drift reference, percent. None for rows
    /// judged raw.
    pub fn net_change_pct(&self) -> Option<f64> {
        self.net.map(|n| n.change_pct)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub a_title: String,
    pub b_title: String,
    pub a_created: String,
    pub b_created: String,
    /// Every row is in ns (both files know their TSC frequency and every
    /// row is TSC cycles); else rows without ns are in cycles, marked.
    pub in_ns: bool,
    pub rows: Vec<Row>,
    pub only_a: Vec<String>,
    pub only_b: Vec<String>,
    /// Warnings: different CPU models, partial runs, guests.
    pub warnings: Vec<String>,
    /// How the runs' drift reference moved, and whether rows are netted.
    pub reference: drift::Change,
    /// The scenarios both files ran (`scenario::compare_table`).
    pub scenario: Option<Table>,
}

/// How to compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Judge interleaved rows net of the drift reference's change when
    /// both runs carry it and ran the same kernel on the same machine.
    pub net_of_reference: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            net_of_reference: true,
        }
    }
}

/// Compares every experiment present in both files (default options).
pub fn compare(a: &ResultFile, b: &ResultFile) -> Comparison {
    compare_with(a, b, Options::default())
}

/// Compares every experiment present in both files.
pub fn compare_with(a: &ResultFile, b: &ResultFile, o: Options) -> Comparison {
    let reference = drift::change(a, b, o.net_of_reference);
    let ma = &machine::group(std::slice::from_ref(a))[0];
    let mb = &machine::group(std::slice::from_ref(b))[0];
    let (ha, hb) = (a.timer.tsc_hz, b.timer.tsc_hz);
    // ns row by row: from TSC cycles only, when both files know their
    // TSC rate. Core cycles (an older rdpmc run's entry.* rows) have no
    // ns and stay cycles, marked; the TSC rows of the same file keep ns.
    let rates = units::rate_known(ha) && units::rate_known(hb);
    let mut clock_mismatch = Vec::new();
    let mut ids_a: Vec<&Experiment> = a.experiments.iter().collect();
    ids_a.sort_by_key(|e| order(e));
    let mut rows = Vec::new();
    for ea in ids_a {
        let Some(eb) = b.experiments.iter().find(|e| e.id == ea.id) else {
            continue;
        };
        if ea.clock != eb.clock {
            clock_mismatch.push(ea.id.to_string());
            continue;
        }
        let (ca, cb, quiet) = figures(ea, eb);
        let netted = match reference {
            drift::Change::Net { a: ma, b: mb } => drift::net_blocks(ea, ma, eb, mb),
            _ => None,
        }
        .map(|n| judged_blocks(n, ea, eb, quiet));
        let test = block_test((a, ea), (b, eb), (ca, cb, quiet), netted.as_ref())
            .unwrap_or_else(|| sample_test(ea, eb));
        let net = netted.map(|n| Net {
            change_pct: (median_f64(&n.b) / median_f64(&n.a) - 1.0) * 100.0,
            sensitivity: n.sensitivity,
        });
        // ns only from TSC cycles: a core-cycle row stays in cycles.
        let row_ns = rates && ea.clock == ClockKind::Tsc;
        let conv = |c: f64, hz: f64| {
            if row_ns {
                ea.tsc(c).and_then(|c| units::cycles_to_ns(c, hz))
            } else {
                None
            }
        };
        rows.push(Row {
            id: ea.id.to_string(),
            a_cycles: ca,
            b_cycles: cb,
            a_ns: conv(ca, ha),
            b_ns: conv(cb, hb),
            shared_hz: (row_ns && ((ha - hb) / hb).abs() < SAME_CLOCK).then_some(hb),
            test,
            net,
            quiet,
        });
    }
    let in_ns = rates && rows.iter().all(Row::in_ns);
    let cycles_rows = rows.iter().filter(|r| !r.in_ns()).count();
    let mut c = finish(a, b, ma, mb, in_ns, rows);
    if !clock_mismatch.is_empty() {
        c.warnings.push(format!(
            "Not compared, measured with different clocks (TSC cycles vs core cycles): {}.",
            clock_mismatch.join(", ")
        ));
    }
    if rates && cycles_rows > 0 {
        c.warnings.push(if cycles_rows == c.rows.len() {
            "Figures in cycles: a file holds core cycles (rdpmc), which have no ns.".into()
        } else {
            format!(
                "Rows marked {CORE_MARK} are core cycles (an rdpmc run), which have no ns; the other rows are ns from the TSC."
            )
        });
    }
    if let Some(w) = low_moved(a, b, &reference) {
        c.warnings.push(w);
    }
    c.reference = reference;
    c.scenario = crate::output::scenario::compare_table(a, b);
    c
}

/// How far the reference's quiet low (`model::quiet`) may move between
/// two runs netted against each other before `compare` says so: the
/// lows of 60 runs on the Zen 3 guest read 317-320 cycles but for one at
/// 331 (`results/checks/measure-ipi-compare-watch-20261201T0532.txt`).
const LOW_MOVED: f64 = 0.02;

/// A warning when A and B are netted but the reference's quiet low moved
/// by `LOW_MOVED` or more: the reference read higher even at its fastest,
/// so something other than a slow phase moved it. On the Zen 3 guest one
/// run's every kernel entry, the inline reference's too, cost 12 cycles
/// more for the whole run (a mode of that process): netting by a ratio
/// does not undo a shift of so many cycles, and rows moved by it are
/// flagged.
fn low_moved(a: &ResultFile, b: &ResultFile, reference: &drift::Change) -> Option<String> {
    if !matches!(reference, drift::Change::Net { .. }) {
        return None;
    }
    let low = |f: &ResultFile| {
        f.experiments
            .iter()
            .find_map(|e| Some(e.quiet()?.reference_low))
    };
    let (la, lb) = (low(a)?, low(b)?);
    ((lb / la - 1.0).abs() >= LOW_MOVED).then(|| {
        format!(
            "The drift reference's quiet low moved {} -> {} cycles ({}): it read that much more or less even where its host was quiet, which a slow phase does not do. A run whose every kernel entry cost the same few cycles more (seen on a KVM guest, for one process's whole run) looks like this; rows that moved by about as many cycles may be that, not the kernel.",
            num(la),
            num(lb),
            signed_pct((lb - la) / la * 100.0)
        )
    })
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

/// The figures a row shows, A and B: each run's headline when both are
/// of one kind; when only one run carries quiet-block figures (an older
/// file), both runs' medians over all samples, so a row never sets a
/// quiet figure against an all-sample one. `true`: both are quiet.
fn figures(ea: &Experiment, eb: &Experiment) -> (f64, f64, bool) {
    match (ea.quiet(), eb.quiet()) {
        (Some(qa), Some(qb)) => (qa.median, qb.median, true),
        (None, None) => (ea.headline_cycles(), eb.headline_cycles(), false),
        _ => (ea.summary.median, eb.summary.median, false),
    }
}

/// The block medians a raw block test reads: the quiet ones when the
/// row shows quiet figures, else all.
fn tested_blocks(e: &Experiment, quiet: bool) -> Option<Vec<f64>> {
    let b = e.blocks.as_ref()?;
    Some(match e.quiet().filter(|_| quiet) {
        Some(q) => crate::model::quiet::kept(&b.medians, &q.blocks),
        None => b.medians.clone(),
    })
}

/// The netted blocks a row is judged on: the quiet ones when its figures
/// are quiet, as a raw row's. Why: netting divides by the reference's
/// level, but an id does not move with the host's slow phase exactly as
/// the reference does, so over all blocks the netted median still
/// followed the share of a run spent slow: on the Zen 3 guest netted
/// getppid rows moved 3.7% between rounds whose quiet figures were equal
/// (results/checks/compare-perf-bench-20261201T0338.txt). Quiet blocks
/// sit near each run's low; netting them leaves the change between the
/// lows, a host that ran slower throughout.
fn judged_blocks(
    n: drift::NetBlocks,
    ea: &Experiment,
    eb: &Experiment,
    quiet: bool,
) -> drift::NetBlocks {
    match (ea.quiet(), eb.quiet()) {
        (Some(qa), Some(qb)) if quiet => drift::NetBlocks {
            a: crate::model::quiet::kept(&n.a, &qa.blocks),
            b: crate::model::quiet::kept(&n.b, &qb.blocks),
            sensitivity: n.sensitivity,
        },
        _ => n,
    }
}

/// The block test when both experiments carry blocks: on their block
/// medians net of the drift reference when `net` is given (the blocks of
/// `judged_blocks`, the change the medians of those), else on the blocks
/// the row's figures `(ca, cb, quiet)` come from. A change within one timer
/// step per operation is never significant: the clock cannot tell it
/// from quantization.
fn block_test(
    (a, ea): (&ResultFile, &Experiment),
    (b, eb): (&ResultFile, &Experiment),
    (ca, cb, quiet): (f64, f64, bool),
    net: Option<&drift::NetBlocks>,
) -> Option<Test> {
    let raw;
    let (ma, mb, ca, cb): (&[f64], &[f64], f64, f64) = match net {
        Some(n) => (&n.a, &n.b, median_f64(&n.a), median_f64(&n.b)),
        None => {
            raw = (tested_blocks(ea, quiet)?, tested_blocks(eb, quiet)?);
            (&raw.0, &raw.1, ca, cb)
        }
    };
    let r = mann_whitney_blocks(ma, mb)?;
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
    let has = |f: &ResultFile, id: &ExperimentId| f.experiments.iter().any(|e| e.id == *id);
    let only_a = a
        .experiments
        .iter()
        .filter(|e| !has(b, &e.id))
        .map(|e| e.id.to_string())
        .collect();
    let only_b = b
        .experiments
        .iter()
        .filter(|e| !has(a, &e.id))
        .map(|e| e.id.to_string())
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
        reference: drift::Change::Absent,
        scenario: None,
    }
}

fn order(e: &Experiment) -> (usize, String) {
    let k = ids::kind(e);
    let rank = match k {
        ExperimentId::TimerOverhead => 0,
        ExperimentId::Entry(_) => 1,
        ExperimentId::Vdso(_) => 2,
        ExperimentId::FlushKernel(_) => 3,
        ExperimentId::EntryFlush { .. } => 4,
        ExperimentId::Refill(_) => 5,
        ExperimentId::Ipi(..) => 6,
        ExperimentId::Scenario(_) => 7,
        ExperimentId::DeferredCheck(_)
        | ExperimentId::Initiator(_)
        | ExperimentId::Criterion(_)
        | ExperimentId::Unknown(_) => 8,
    };
    // Natural order inside a family (refill.w8 before refill.w64).
    let key = match ids::kind(e) {
        ExperimentId::Refill(p) => format!("{p:012}"),
        ExperimentId::Entry(n) => format!("{}{n}", n.rank()),
        ExperimentId::EntryFlush {
            variant,
            pages,
            timing,
        } => {
            format!("{:02}{pages:012}{}", variant.rank(), timing.suffix())
        }
        ExperimentId::FlushKernel(v) => format!("{:02}", v.rank()),
        _ => e.id.to_string(),
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
    out.push_str(&Text.table(&table(c)));
    if let Some(s) = &c.scenario {
        out.push('\n');
        out.push_str(&Text.table(s));
    }
    out.push('\n');
    for n in notes(c) {
        for l in wrap(&format!("- {n}"), WIDTH, "  ") {
            out.push_str(&l);
            out.push('\n');
        }
    }
    out
}

/// The rows as a table. With the drift reference netted, the "net"
/// column (the change net of the reference's) replaces the delta, so the
/// table keeps to 72 columns.
fn table(c: &Comparison) -> Table {
    let some_ns = c.rows.iter().any(Row::in_ns);
    // A row in cycles among rows in ns is marked after its figures.
    let mark = |r: &Row| {
        let mut m = String::new();
        if some_ns && !r.in_ns() {
            m += &format!(" {CORE_MARK}");
        }
        if r.quiet {
            m += &format!(" {QUIET_MARK}");
        }
        m
    };
    let unit = if some_ns { "ns" } else { "cycles" };
    let marked = if some_ns && !c.in_ns {
        format!("; rows marked {CORE_MARK}: core cycles")
    } else {
        String::new()
    };
    let marked = if c.rows.iter().any(|r| r.quiet) {
        format!("{marked}; {QUIET_MARK}: over the quiet blocks")
    } else {
        marked
    };
    let netted = matches!(c.reference, drift::Change::Net { .. });
    let ab = format!("A -> B {unit}");
    let (third, fourth) = if netted {
        ("change", "net")
    } else {
        ("delta", "change")
    };
    let mut t = Table::new(
        &format!("Medians (differential rows: delta medians), {unit}{marked}"),
        &["experiment", &ab, third, fourth, "p", "sig"],
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
        let change = signed_pct(r.change_pct());
        let (third, fourth) = if netted {
            let net = r.net_change_pct().map_or_else(|| "-".into(), signed_pct);
            (change, net)
        } else {
            (units::signed(r.delta()), change)
        };
        t.push(vec![
            r.id.clone(),
            format!("{} -> {}{}", num(a), num(b), mark(r)),
            third,
            fourth,
            p,
            sig.to_string(),
        ]);
    }
    t
}

/// The footer: the tests used, the drift reference, what is in one file
/// only, and the warnings.
fn notes(c: &Comparison) -> Vec<String> {
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
    if c.rows.iter().any(|r| r.quiet) {
        notes.push(format!(
            "Rows marked {QUIET_MARK}: both figures are medians over the blocks taken while the host was quiet in that run (its drift reference within {:.0}% of its low over the run), and the row is tested on those blocks, each net of the reference when the row has a net figure; a differential row's blocks hold its paired deltas.",
            crate::model::quiet::TOLERANCE * 100.0
        ));
    }
    if let Some(n) = reference_note(c) {
        notes.push(n);
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
    notes
}

/// ": here 0.64 to 0.95" for the netted rows' sensitivities.
fn sensitivities(c: &Comparison) -> String {
    let k: Vec<f64> = c
        .rows
        .iter()
        .filter_map(|r| r.net.map(|n| n.sensitivity))
        .collect();
    let (lo, hi) = k
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    match k.len() {
        0 => String::new(),
        _ if hi - lo < 0.005 => format!(": here {lo:.2}"),
        _ => format!(": here {lo:.2} to {hi:.2}"),
    }
}

/// What the drift reference did between the runs and how the rows use it.
fn reference_note(c: &Comparison) -> Option<String> {
    let moved = |a: f64, b: f64| {
        format!(
            "Drift reference (a getppid loop timed between the blocks of each run): {} -> {} cycles per call ({})",
            num(a),
            num(b),
            signed_pct((b - a) / a * 100.0)
        )
    };
    match &c.reference {
        drift::Change::Net { a, b } => Some(format!(
            "{}. Rows with a net figure were interleaved with it in both runs; they are judged net of it: each block median is divided by the reference's level when the block was taken, to the power of the id's sensitivity to it (the slope of its block medians against the reference's levels within the runs{}), so neither a slow phase of the host nor a host that ran slower as a whole is called a change. It stands for the host because A and B ran the same kernel on the same machine; a patch that slows every kernel entry moves it too and is netted out: judge such a patch with compare --raw.",
            moved(*a, *b),
            sensitivities(c)
        )),
        drift::Change::NotNetted { a, b, why } => Some(format!(
            "{}; not netted ({why}): rows are judged on raw figures.",
            moved(*a, *b)
        )),
        drift::Change::Absent => None,
    }
}

#[cfg(test)]
mod tests;
