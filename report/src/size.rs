//! Hardware sizing: a workload profile against measured costs, per CPU
//! model and strategy. The table is built from measured experiments only
//! (of the CPU itself, or of a like model for a CPUID dump, labelled so);
//! published figures (`priors`) are listed apart, each labelled
//! `published (source)`; the deferred state check is measured where a
//! result has `deferred.check.*`, else the profile field, printed as an
//! assumption. `answer` gives the straight answer per CPU from the
//! kernel's rules (`kernel_rules`).
//!
//! Equations (all per isolated CPU; cycles/s divided by the TSC frequency
//! gives the fraction of one CPU). S = syscalls_per_sec, F =
//! flush_events_per_sec, W = working_set_pages, R(W) = refill.wN curve read
//! at W, I = victim interruption per IPI, E_v = entry.flush.<v> delta,
//! C = deferred_check_cycles: see `EQUATIONS`.

use crate::ids;
use crate::kernel_rules;
use crate::machine::{self, Machine};
use crate::profile::Profile;
use crate::refill::{Curve, Read};
use crate::schema::{CpuFacts, Experiment, ResultFile, Verdict};
use crate::text_table::{wrap, Table, WIDTH};
use crate::units;

mod answer;

/// What `--explain` prints (and the README quotes).
pub const EQUATIONS: &str = "\
Sizing equations (per isolated CPU; %CPU = cycles/s / TSC Hz x 100)
  S = syscalls_per_sec, F = flush_events_per_sec, W = working_set_pages
  R(W) = refill cost of W pages: refill.wN delta medians, linear
         between measured N (0 at 0 pages), extrapolated past the
         largest N with the last segment's slope (marked)
  I    = victim interruption per IPI (ipi.kmod.kernel_range, else
         flush_all, else ipi.user.mprotect/munmap/madvise): median,
         p99 and max
  E_v  = entry.flush.<v> delta median (flush ioctl - nop ioctl);
         E_v,p99 = its p99 - the nop median
  C    = deferred.check.uncontended median where a result has it
         (measured), else deferred_check_cycles (an assumption)
IPI (status quo):  cycles/s = F x (I_med + R(W))
                   worst    = I_p99 + R(W)
flush-on-entry v:  cycles/s = S x (E_v + R(W))
                   worst    = E_v,p99 + R(W) on every entry
deferred (v = invpcid2 if the CPU has INVPCID, else cr4_pge):
                   cycles/s = S x C + min(F, S) x (E_v + R(W))
                   worst    = C + E_v,p99 + R(W)
broadcast (INVLPGB/RAR, no IPI):
                   cycles/s = F x R(W)
                   worst    = R(W)
worst case: one rule for every strategy, the p99 of the measured cost
  (I_p99, E_v,p99); victim gaps longer than the IPI preemption cut-off
  (1 ms: the vCPU was preempted, not interrupted) are not IPIs
verdict: ok when worst <= latency_budget_us and %CPU < 100";

/// Strategy of one sizing row.
#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    Ipi { method: String },
    OnEntry { variant: String },
    Deferred { variant: String },
    Broadcast { kind: String },
}

impl Strategy {
    pub fn label(&self) -> String {
        match self {
            Strategy::Ipi { .. } => "IPI (status quo)".into(),
            Strategy::OnEntry { variant } => format!("on-entry {variant}"),
            Strategy::Deferred { variant } => format!("deferred {variant}"),
            Strategy::Broadcast { kind } => format!("broadcast {kind}"),
        }
    }
}

/// The figures of one strategy, or why there are none.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Figures {
        events_per_sec: f64,
        cycles_per_event: f64,
        pct_cpu: f64,
        worst_us: f64,
        /// False when the mechanism would not run on this kernel/CPU (the
        /// figures say what it would cost if it did).
        runs: bool,
        ok: bool,
    },
    NotMeasured(String),
    NotAvailable(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub strategy: Strategy,
    pub outcome: Outcome,
}

/// The sizing of one CPU model.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineSizing {
    pub title: String,
    /// The short CPU label, used by the recommendation.
    pub cpu_label: String,
    /// "bare metal", "KVM guest", ...: a guest figure is flagged.
    pub host: String,
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
    /// Where the table's figures come from: "measured" or "measured
    /// (like model: X)"; empty when there is no table.
    pub source: String,
    /// Published figures for this CPU's core, each labelled `published
    /// (source)`: kept apart from the measured rows.
    pub published: Vec<String>,
    /// The straight answer: which mechanism would run and what to do.
    pub answer: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sizing {
    pub profile: Profile,
    pub machines: Vec<MachineSizing>,
    pub recommendation: String,
}

/// A CPU without results (from a CPUID dump) to size by proxy.
pub struct DumpTarget<'a> {
    pub file_name: String,
    pub cpu: &'a CpuFacts,
    /// `harness::verdict` for that CPU (platform unknown).
    pub verdict: &'a Verdict,
}

/// Sizes `profile` on every machine in `files`, plus `dump` by its closest
/// measured model when given.
pub fn size(profile: &Profile, files: &[ResultFile], dump: Option<DumpTarget>) -> Sizing {
    let machines = machine::group(files);
    let mut out: Vec<MachineSizing> = machines.iter().map(|m| size_measured(profile, m)).collect();
    if let Some(d) = dump {
        out.push(size_dump(profile, &machines, &d));
    }
    let recommendation = recommend(profile, &out);
    Sizing {
        profile: profile.clone(),
        machines: out,
        recommendation,
    }
}

/// A measured machine: its table plus the straight answer.
fn size_measured(profile: &Profile, m: &Machine) -> MachineSizing {
    let facts = Facts::of_machine(m);
    let mut s = size_machine(profile, m, &facts, None);
    let kernel = m
        .latest()
        .environment
        .platform
        .as_ref()
        .map(|p| p.kernel_release.as_str());
    let core = kernel_rules::core_name(&m.cpu().uarch).to_string();
    let ctx = answer::Context {
        vendor: &m.cpu().vendor,
        core: &core,
        pti: facts.pti,
        meltdown_why: None,
        invlpgb: facts.invlpgb,
        kernel,
        guest: m.cpu().hypervisor.is_some(),
    };
    let costs = answer::Costs::measured(profile, m, &facts.variants, "measured");
    s.published = costs.lines.clone();
    s.answer = answer::straight_answer(profile, &ctx, &costs);
    s
}

/// Sizes `profile` on one machine (the break-even plot sweeps this).
pub fn size_one(profile: &Profile, m: &Machine) -> MachineSizing {
    size_machine(profile, m, &Facts::of_machine(m), None)
}

/// The CPU and kernel facts that decide which strategies exist.
struct Facts {
    variants: Vec<String>,
    /// Would flush-on-entry run (PTI on)? None = unknown.
    on_entry_runs: Option<bool>,
    pti: Option<bool>,
    invlpgb: bool,
    rar: bool,
}

impl Facts {
    fn of_machine(m: &Machine) -> Facts {
        let env = &m.latest().environment;
        let pti = m.pti().or(env.verdict.pti_needed);
        Facts {
            variants: env.verdict.entry_flush_variants.clone(),
            on_entry_runs: env.verdict.flush_on_entry_runs.or(pti),
            pti,
            invlpgb: env.cpu.features.invlpgb
                || env.verdict.broadcast.iter().any(|b| b == "INVLPGB"),
            rar: env.verdict.broadcast.iter().any(|b| b == "RAR")
                || env.platform.as_ref().and_then(|p| p.rar).unwrap_or(false),
        }
    }

    /// A CPU known only from a dump: the harness's verdict for it says
    /// which variants it has and whether a default kernel runs PTI.
    fn of_dump(cpu: &CpuFacts, v: &Verdict) -> Facts {
        Facts {
            variants: v.entry_flush_variants.clone(),
            on_entry_runs: v.flush_on_entry_runs.or(v.pti_needed),
            pti: v.pti_needed,
            invlpgb: cpu.features.invlpgb,
            rar: false,
        }
    }
}

/// Sizes a CPU known only from a dump, with the first source that
/// applies: measured results of the same model, of a like model (same
/// core), published priors for the core, else "no data" and the command
/// to run there.
fn size_dump(profile: &Profile, machines: &[Machine], d: &DumpTarget) -> MachineSizing {
    let label = machine::cpu_label(d.cpu);
    let title = format!("{label} (CPUID dump {})", d.file_name);
    let core = kernel_rules::core_name(&d.cpu.uarch).to_string();
    let same = machines.iter().find(|m| same_model(m.cpu(), d.cpu));
    let like = machines.iter().find(|m| {
        core != "unknown"
            && m.cpu().vendor == d.cpu.vendor
            && kernel_rules::core_name(&m.cpu().uarch) == core
    });
    // RAR sits in IA32_CORE_CAPABILITIES, which a dump cannot read:
    // `of_dump` leaves it false.
    let facts = Facts::of_dump(d.cpu, d.verdict);
    let mut s = match same.or(like) {
        Some(m) => {
            let source = if same.is_some() {
                "measured".to_string()
            } else {
                format!("measured (like model: {})", m.cpu_label)
            };
            let rule = format!(
                "Figures {source}: same {}; cycles taken as measured, not scaled (per-core costs in cycles; ns at the measured machine's TSC). Features and PTI from the dump.",
                if same.is_some() { "model" } else { "core, another model" }
            );
            let mut s = size_machine(profile, m, &facts, Some(rule));
            s.source = source;
            s.cpu_label = format!("{label} (est.)");
            s
        }
        None => MachineSizing {
            title: String::new(),
            cpu_label: label.clone(),
            host: String::new(),
            rows: vec![],
            notes: vec![format!(
                "No measured results of this model or of its core ({core})."
            )],
            source: String::new(),
            published: vec![],
            answer: vec![],
        },
    };
    s.title = title;
    let costs = answer::Costs::published(profile, d.cpu, &core);
    s.published = costs.lines.clone();
    if s.rows.is_empty() && s.published.is_empty() {
        s.notes.push(format!(
            "No data for {core}: nothing measured on this model or core and no published figure. To measure it, run on that machine: `entrybench run --out results/` (with the module for flush-on-entry: `entrybench kmod load` first), then `entrybench size --profile P results/*.json`."
        ));
    }
    if d.cpu.features.core_capabilities {
        s.notes.push("IA32_CORE_CAPABILITIES enumerated: RAR may be present (MSR 0xCF bit 1 is not in a CPUID dump); Linux RAR support is not merged.".into());
    }
    let ctx = answer::Context {
        vendor: &d.cpu.vendor,
        core: &core,
        pti: facts.pti,
        meltdown_why: Some(kernel_rules::meltdown(d.cpu).why),
        invlpgb: facts.invlpgb,
        kernel: None,
        guest: d.cpu.hypervisor.is_some(),
    };
    let measured = same
        .or(like)
        .map(|m| answer::Costs::measured(profile, m, &facts.variants, &s.source));
    s.answer = answer::straight_answer(profile, &ctx, measured.as_ref().unwrap_or(&costs));
    s
}

/// Same CPU model: vendor, family, model and core (model 0x55 alone is
/// Skylake-SP, Cascade Lake or Cooper Lake).
fn same_model(a: &CpuFacts, b: &CpuFacts) -> bool {
    a.vendor == b.vendor && a.family == b.family && a.model == b.model && a.uarch == b.uarch
}

/// Whether flush-on-entry would run on this CPU/kernel: a fact of the
/// CPU, stated even where nothing was measured.
fn on_entry_note(facts: &Facts) -> Option<String> {
    match facts.on_entry_runs {
        Some(false) => Some(format!(
            "Flush-on-entry would not run at all here: PTI {}, so the series' flush does not run (it flushes only in SWITCH_TO_KERNEL_CR3 with PTI, COALESCE_TLBI); its rows show the cost if it did, IPIs stay the status quo.",
            if facts.pti == Some(false) { "off" } else { "not in use" }
        )),
        None => Some("PTI state unknown: flush-on-entry runs only with PTI on.".into()),
        Some(true) => None,
    }
}

/// Victim IPI experiment used for the status quo, in preference order:
/// the kernel-range flushes the series defers, then user shootdowns.
pub const IPI_ORDER: [&str; 5] = [
    "ipi.kmod.kernel_range",
    "ipi.kmod.flush_all",
    "ipi.user.mprotect",
    "ipi.user.munmap",
    "ipi.user.madvise",
];

/// Measured deferred-check ids (cycles per per-entry atomic check,
/// summary.median), preferred over the profile's assumption.
const DEFERRED_CHECK_IDS: [&str; 2] = [
    ids::DEFERRED_CHECK_UNCONTENDED,
    ids::DEFERRED_CHECK_CONTENDED,
];

/// The per-entry state-check cost of deferral, in cycles, and where it
/// comes from: a measured result when the machine has one, else the
/// profile field (an assumption unless the user set it).
fn deferred_check(p: &Profile, m: &Machine) -> (f64, String) {
    match DEFERRED_CHECK_IDS.iter().find_map(|id| m.get(id)) {
        Some(e) if e.summary.median.is_finite() => (
            e.summary.median,
            format!(
                "Deferred state check: {} cycles per entry, measured ({}).",
                units::num(e.summary.median),
                e.id
            ),
        ),
        _ => (
            p.deferred_check_cycles,
            format!(
                "Deferred state check: {} cycles per entry is {}; no deferred.check result measures it here.",
                units::num(p.deferred_check_cycles),
                if p.deferred_check_assumed {
                    "an assumption (profile default; set deferred_check_cycles)"
                } else {
                    "the profile's deferred_check_cycles (an assumption)"
                }
            ),
        ),
    }
}

/// What every row of one machine shares: the profile, the TSC rate and
/// the refill cost of the working set.
struct RowCtx<'a> {
    p: &'a Profile,
    hz: f64,
    r: Option<f64>,
}

impl RowCtx<'_> {
    fn figures(&self, events: f64, per_event: f64, worst_cycles: f64, runs: bool) -> Outcome {
        let hz = self.hz;
        match (units::cycles_to_ns(1.0, hz), us(worst_cycles, hz)) {
            (Some(_), Some(worst_us)) => {
                let pct = events * per_event / hz * 100.0;
                Outcome::Figures {
                    events_per_sec: events,
                    cycles_per_event: per_event,
                    pct_cpu: pct,
                    worst_us,
                    runs,
                    ok: worst_us <= self.p.latency_budget_us && pct < 100.0,
                }
            }
            _ => Outcome::NotMeasured("TSC frequency unknown".into()),
        }
    }

    fn no_refill(&self) -> Outcome {
        Outcome::NotMeasured(format!(
            "no refill.wN result for {} pages",
            self.p.working_set_pages
        ))
    }
}

/// R(W) in cycles from the refill curve, with notes on how it was read.
fn refill_cost(p: &Profile, m: &Machine, notes: &mut Vec<String>) -> Option<f64> {
    let w = p.working_set_pages;
    let refill = Curve::of(m).at(w);
    match refill {
        Some((_, Read::Extrapolated)) => notes.push(format!(
            "R({w}) extrapolated past the largest measured refill.wN."
        )),
        Some((_, Read::Interpolated)) => {
            notes.push(format!("R({w}) interpolated on the refill.wN curve."))
        }
        _ => {}
    }
    if let Some((r, _)) = refill {
        notes.push(format!(
            "R({w}) = {} cycles ({} us).",
            units::num(r),
            us(r, m.tsc_hz())
                .map(units::num)
                .unwrap_or_else(|| "-".into())
        ));
    }
    refill.map(|x| x.0)
}

fn ipi_row(c: &RowCtx, m: &Machine, notes: &mut Vec<String>) -> Row {
    let ipi = IPI_ORDER.iter().find_map(|id| m.get(id));
    let outcome = match (ipi, c.r) {
        (None, _) => Outcome::NotMeasured("no ipi.* result".into()),
        (Some(_), None) => c.no_refill(),
        (Some(e), Some(r)) => {
            notes.push(format!(
                "IPI cost from {}: median {}, p99 {}, max {} cycles.",
                e.id,
                units::num(e.summary.median),
                units::num(e.summary.p99),
                units::num(e.summary.max)
            ));
            if let Some(cut) = e.params.get("preemption_rule").and_then(|v| v.as_str()) {
                notes.push(format!("IPI preemption cut-off: {cut}."));
            }
            // Worst case at p99, the rule every strategy uses.
            c.figures(
                c.p.flush_events_per_sec,
                e.summary.median + r,
                e.summary.p99 + r,
                true,
            )
        }
    };
    Row {
        strategy: Strategy::Ipi {
            method: ipi.map(|e| e.id.clone()).unwrap_or_default(),
        },
        outcome,
    }
}

/// The flush the series issues: INVPCID type 2 where the CPU has it.
fn deferred_variant(facts: &Facts) -> &'static str {
    if facts.variants.iter().any(|v| v == "invpcid2") {
        "invpcid2"
    } else {
        "cr4_pge"
    }
}

/// Deferred: a state check on every entry, the flush only on the next
/// entry after a flush event.
fn deferred_row(c: &RowCtx, m: &Machine, facts: &Facts, check: f64) -> Row {
    let dv = deferred_variant(facts);
    let p = c.p;
    let outcome = match (entry_flush(m, dv), c.r) {
        (None, _) => Outcome::NotMeasured(format!("no entry.flush.{dv} result")),
        (Some(_), None) => c.no_refill(),
        (Some((e, e99)), Some(r)) => {
            let s = p.syscalls_per_sec;
            let flushes = p.flush_events_per_sec.min(s);
            let per_sec = s * check + flushes * (e + r);
            let per_event = if s > 0.0 { per_sec / s } else { 0.0 };
            c.figures(s, per_event, check + e99 + r, true)
        }
    };
    Row {
        strategy: Strategy::Deferred { variant: dv.into() },
        outcome,
    }
}

/// Broadcast hardware rows, only where the CPU has it.
fn broadcast_rows(c: &RowCtx, facts: &Facts, notes: &mut Vec<String>) -> Vec<Row> {
    let mut rows = Vec::new();
    if facts.invlpgb {
        let f = c.p.flush_events_per_sec;
        let outcome = match c.r {
            None => c.no_refill(),
            Some(r) if facts.pti == Some(true) => {
                notes.push("INVLPGB is not used by Linux while PTI is on.".into());
                c.figures(f, r, r, false)
            }
            Some(r) => c.figures(f, r, r, true),
        };
        rows.push(Row {
            strategy: Strategy::Broadcast {
                kind: "INVLPGB".into(),
            },
            outcome,
        });
        notes.push("INVLPGB broadcast flush needs Linux >= 6.15 (bare metal).".into());
    }
    if facts.rar {
        rows.push(Row {
            strategy: Strategy::Broadcast { kind: "RAR".into() },
            outcome: Outcome::NotAvailable("Linux RAR support not merged".into()),
        });
    }
    rows
}

/// Caveats of how the machine was measured.
fn host_notes(m: &Machine) -> Vec<String> {
    let mut notes = Vec::new();
    if m.files.iter().any(|f| !f.placement.victim_isolated) {
        notes.push(
            "Victim CPU was not isolated: IPI figures include scheduler and timer noise.".into(),
        );
    }
    if let Some(h) = m.cpu().hypervisor.as_deref() {
        notes.push(if h == "TCG" {
            "Measured under QEMU TCG emulation: not hardware timing.".to_string()
        } else {
            format!("Measured in a {h} guest: paravirt TLB flush may skip preempted vCPUs.")
        });
    }
    notes
}

fn size_machine(
    p: &Profile,
    m: &Machine,
    facts: &Facts,
    proxy_note: Option<String>,
) -> MachineSizing {
    let mut notes: Vec<String> = proxy_note.into_iter().collect();
    let c = RowCtx {
        p,
        hz: m.tsc_hz(),
        r: refill_cost(p, m, &mut notes),
    };
    let mut rows = vec![ipi_row(&c, m, &mut notes)];
    // Flush on entry, each variant the CPU can run.
    let runs = facts.on_entry_runs != Some(false);
    for v in &facts.variants {
        let outcome = match (entry_flush(m, v), c.r) {
            (None, _) => Outcome::NotMeasured(format!("no entry.flush.{v} result")),
            (Some(_), None) => c.no_refill(),
            (Some((e, e99)), Some(r)) => c.figures(p.syscalls_per_sec, e + r, e99 + r, runs),
        };
        rows.push(Row {
            strategy: Strategy::OnEntry { variant: v.clone() },
            outcome,
        });
    }
    notes.extend(on_entry_note(facts));
    let (check, check_note) = deferred_check(p, m);
    rows.push(deferred_row(&c, m, facts, check));
    notes.push(check_note);
    rows.extend(broadcast_rows(&c, facts, &mut notes));
    notes.extend(host_notes(m));
    MachineSizing {
        title: m.title(),
        cpu_label: m.cpu_label.clone(),
        host: m.host.clone(),
        rows,
        notes,
        source: "measured".into(),
        published: vec![],
        answer: vec![],
    }
}

/// (delta median, delta p99) of entry.flush.<v> without a walk (the
/// next-entry timing where measured: `Machine::entry_flush_cost`).
fn entry_flush(m: &Machine, v: &str) -> Option<(f64, f64)> {
    let e: &Experiment = m.entry_flush_cost(v)?;
    let b = e.baseline.as_ref()?;
    let d = b.delta_median;
    let p99 = (e.summary.p99 - b.summary.median).max(d);
    (d.is_finite() && p99.is_finite()).then_some((d, p99))
}

fn us(cycles: f64, hz: f64) -> Option<f64> {
    units::cycles_to_ns(cycles, hz).map(|n| n / 1000.0)
}

/// The cheapest strategy that meets the budget and would actually run,
/// across every CPU model sized.
fn recommend(p: &Profile, machines: &[MachineSizing]) -> String {
    let mut best: Option<(&MachineSizing, &Row, f64, f64)> = None;
    let mut least_bad: Option<(&MachineSizing, &Row, f64, f64)> = None;
    for m in machines {
        for r in &m.rows {
            if let Outcome::Figures {
                pct_cpu,
                worst_us,
                runs: true,
                ok,
                ..
            } = r.outcome
            {
                let cand = (m, r, pct_cpu, worst_us);
                if ok && !matches!(best, Some(b) if b.2 <= pct_cpu) {
                    best = Some(cand);
                }
                if !matches!(least_bad, Some(b) if b.3 <= worst_us) {
                    least_bad = Some(cand);
                }
            }
        }
    }
    let budget = units::num(p.latency_budget_us);
    match (best, least_bad) {
        (Some((m, r, pct, w)), _) => format!(
            "{}, {}: {} of a CPU, worst {} us within the {budget} us budget{}.",
            m.cpu_label,
            r.strategy.label(),
            units::pct(pct),
            units::num(w),
            caveat(m, r)
        ),
        (None, Some((m, r, _, w))) => format!(
            "Nothing measured meets the {budget} us budget; least added latency: {}, {} (worst {} us){}.",
            m.cpu_label,
            r.strategy.label(),
            units::num(w),
            caveat(m, r)
        ),
        (None, None) => "No measured figures: nothing to recommend.".into(),
    }
}

fn caveat(m: &MachineSizing, r: &Row) -> String {
    let mut s = match r.strategy {
        Strategy::Deferred { .. } => {
            " (assumes the state-check cost; the series is not merged)".to_string()
        }
        Strategy::OnEntry { .. } => " (flush-on-entry is a proposal, not merged)".to_string(),
        _ => String::new(),
    };
    if !m.host.is_empty() && m.host != "bare metal" {
        s.push_str(&format!("; measured in a {}", m.host));
    }
    s
}

/// The strategy table of one CPU, and why rows have no figures.
fn strategy_table(m: &MachineSizing) -> (Table, Vec<String>) {
    let mut t = Table::new(
        "",
        &[
            "strategy",
            "events/s",
            "cyc/event",
            "%CPU",
            "worst us",
            "verdict",
        ],
    );
    let mut reasons = Vec::new();
    let dashes = |label: String, verdict: &str| {
        let mut row = vec![label];
        row.extend(std::iter::repeat_n("-".to_string(), 4));
        row.push(verdict.into());
        row
    };
    for r in &m.rows {
        let label = r.strategy.label();
        let row = match &r.outcome {
            Outcome::Figures {
                events_per_sec,
                cycles_per_event,
                pct_cpu,
                worst_us,
                runs,
                ok,
            } => vec![
                label,
                units::num(*events_per_sec),
                units::num(*cycles_per_event),
                units::pct(*pct_cpu),
                units::num(*worst_us),
                match (runs, ok) {
                    (false, _) => "no-run".into(),
                    (true, true) => "ok".into(),
                    (true, false) => "OVER".into(),
                },
            ],
            Outcome::NotMeasured(why) => {
                reasons.push(format!("{label}: not measured ({why})."));
                dashes(label, "not measured")
            }
            Outcome::NotAvailable(why) => {
                reasons.push(format!("{label}: {why}."));
                dashes(label, "n/a")
            }
        };
        t.push(row);
    }
    (t, reasons)
}

/// Text answer, 72 columns.
pub fn render_text(s: &Sizing, explain: bool) -> String {
    let p = &s.profile;
    let mut out = String::new();
    // `indent` also starts the first line when the text itself is
    // indented (split_whitespace would drop leading blanks).
    let para = |out: &mut String, text: &str, indent: &str| {
        let lead = &text[..text.len() - text.trim_start().len()];
        for (i, l) in wrap(text.trim_start(), WIDTH - lead.len(), indent)
            .into_iter()
            .enumerate()
        {
            if i == 0 {
                out.push_str(lead);
            }
            out.push_str(&l);
            out.push('\n');
        }
    };
    let name = if p.name.is_empty() {
        String::new()
    } else {
        format!(" \"{}\"", p.name)
    };
    para(&mut out, &format!("entrybench size: workload{name}"), "  ");
    para(
        &mut out,
        &format!(
            "  {} syscalls/s and {} flush events/s per isolated CPU, working set {} pages, latency budget {} us, deferred check {} cycles{}.",
            units::num(p.syscalls_per_sec),
            units::num(p.flush_events_per_sec),
            p.working_set_pages,
            units::num(p.latency_budget_us),
            units::num(p.deferred_check_cycles),
            if p.deferred_check_assumed { " (assumed)" } else { "" }
        ),
        "  ",
    );
    for m in &s.machines {
        out.push('\n');
        para(&mut out, &format!("== {}", m.title), "   ");
        let (t, reasons) = strategy_table(m);
        if !t.is_empty() {
            if !m.source.is_empty() {
                para(&mut out, &format!("Figures: {}", m.source), "  ");
            }
            out.push_str(&t.render_text());
        }
        for n in m.notes.iter().chain(&reasons) {
            para(&mut out, &format!("- {n}"), "  ");
        }
        if !m.published.is_empty() {
            para(
                &mut out,
                "Published figures for this core (not measured here):",
                "  ",
            );
            for n in &m.published {
                para(&mut out, &format!("- {n}"), "  ");
            }
        }
        if !m.answer.is_empty() {
            para(&mut out, "What would run here, and the answer:", "  ");
            for n in &m.answer {
                para(&mut out, &format!("- {n}"), "  ");
            }
        }
    }
    out.push('\n');
    para(
        &mut out,
        &format!("Recommendation: {}", s.recommendation),
        "  ",
    );
    para(
        &mut out,
        "verdict: ok = worst added latency within budget and under 100% of a CPU; no-run = the mechanism would not run on this CPU/kernel (figures show its cost if it did). Kernel status: flush-on-entry and deferral are proposals (IPI-deferral series v5-v7), INVLPGB flushing is in Linux >= 6.15, RAR is not merged.",
        "  ",
    );
    if explain {
        out.push('\n');
        out.push_str(EQUATIONS);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        Profile::parse(
            "syscalls_per_sec = 1000\nflush_events_per_sec = 1\nworking_set_pages = 64\nlatency_budget_us = 5\n",
        )
        .unwrap()
    }

    /// The synthetic Cascade Lake result file.
    fn cascade() -> ResultFile {
        crate::synth::fixtures()
            .into_iter()
            .find(|(name, _)| name.contains("cascadelake"))
            .expect("Cascade Lake fixture")
            .1
    }

    /// Sizes `profile()` for a dump of `cpu` (with the Cascade Lake
    /// verdict) against `files`; returns the dump's block.
    fn size_dump_of(cpu: &CpuFacts, files: &[ResultFile]) -> MachineSizing {
        let env = cascade().environment;
        let dump = DumpTarget {
            file_name: "dump.txt".into(),
            cpu,
            verdict: &env.verdict,
        };
        size(&profile(), files, Some(dump))
            .machines
            .pop()
            .expect("a block for the dump")
    }

    #[test]
    fn unmeasured_dump_still_says_whether_flush_on_entry_runs() {
        // No results at all: published figures for the core, and the
        // CPU's own facts still decide that the series' flush never runs.
        let m = size_dump_of(&cascade().environment.cpu, &[]);
        assert!(m.notes[0].contains("No measured results"), "{:?}", m.notes);
        assert!(
            m.published.iter().all(|l| l.contains("published (")),
            "{:?}",
            m.published
        );
        assert!(
            m.answer
                .iter()
                .any(|n| n.contains("does not run (PTI off)")),
            "{:?}",
            m.answer
        );
    }

    #[test]
    fn same_model_results_are_used_as_measured() {
        let files = [cascade()];
        let cpu = files[0].environment.cpu.clone();
        let m = size_dump_of(&cpu, &files);
        assert_eq!(m.source, "measured");
        assert!(!m.rows.is_empty());
        let mut other = cpu;
        other.model += 1;
        let m = size_dump_of(&other, &files);
        assert!(
            m.source.starts_with("measured (like model: "),
            "{}",
            m.source
        );
    }
}
