//! Hardware sizing: a workload profile against measured costs, per CPU
//! model and strategy. Every figure is built from a measured experiment or
//! says "not measured"; the one unmeasured input (the deferred state
//! check) is a profile field printed as an assumption.
//!
//! Equations (all per isolated CPU; cycles/s divided by the TSC frequency
//! gives the fraction of one CPU). S = syscalls_per_sec, F =
//! flush_events_per_sec, W = working_set_pages, R(W) = refill.wN curve read
//! at W, I = victim interruption per IPI, E_v = entry.flush.<v> delta,
//! C = deferred_check_cycles: see `EQUATIONS`.

use crate::ids::{self, Kind};
use crate::machine::{self, Machine};
use crate::profile::Profile;
use crate::refill::{Curve, Read};
use crate::schema::{CpuFacts, Experiment, ResultFile, Verdict};
use crate::table::{wrap, Table, WIDTH};
use crate::units;

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
  C    = deferred_check_cycles (not measured: an assumption)
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
    let mut out: Vec<MachineSizing> = machines
        .iter()
        .map(|m| size_machine(profile, m, &Facts::of_machine(m), None))
        .collect();
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

fn size_dump(profile: &Profile, machines: &[Machine], d: &DumpTarget) -> MachineSizing {
    let label = machine::cpu_label(d.cpu);
    let title = format!("{label} (CPUID dump {})", d.file_name);
    let proxy = machines
        .iter()
        .filter(|m| m.cpu().vendor == d.cpu.vendor && m.cpu().family == d.cpu.family)
        .min_by_key(|m| (m.cpu().model as i64 - d.cpu.model as i64).abs());
    let mut facts = Facts::of_dump(d.cpu, d.verdict);
    if d.cpu.features.core_capabilities {
        // RAR sits in IA32_CORE_CAPABILITIES, which a dump cannot read.
        facts.rar = false;
    }
    match proxy {
        Some(m) => {
            let note = format!(
                "No results for this CPU: costs are those of the closest measured model, {} (same vendor and family, model {:#x} vs {:#x}); features and PTI from the dump.",
                m.title(),
                m.cpu().model,
                d.cpu.model
            );
            let mut s = size_machine(profile, m, &facts, Some(note));
            s.title = title;
            s.cpu_label = format!("{label} (est.)");
            if d.cpu.features.core_capabilities {
                s.notes.push("IA32_CORE_CAPABILITIES enumerated: RAR may be present (MSR 0xCF bit 1 is not in a CPUID dump); Linux RAR support is not merged.".into());
            }
            s
        }
        None => MachineSizing {
            title,
            cpu_label: label,
            host: String::new(),
            rows: vec![],
            notes: std::iter::once(format!(
                "No measured CPU of the same vendor and family ({} family {:#x}): not measured, nothing to estimate from.",
                d.cpu.vendor, d.cpu.family
            ))
            .chain(on_entry_note(&facts))
            .collect(),
        },
    }
}

/// Whether flush-on-entry would run on this CPU/kernel, when that is in
/// doubt: a fact of the CPU, stated even where nothing was measured.
fn on_entry_note(facts: &Facts) -> Option<String> {
    match facts.on_entry_runs {
        Some(false) => Some(format!(
            "Flush-on-entry would not run at all here: PTI {} and the series flushes only in SWITCH_TO_KERNEL_CR3 with PTI (COALESCE_TLBI); its rows show the cost if it did, IPIs stay the status quo.",
            if facts.pti == Some(false) { "off" } else { "not in use" }
        )),
        None => Some("PTI state unknown: flush-on-entry runs only with PTI on.".into()),
        Some(true) => None,
    }
}

/// Victim IPI experiment used for the status quo, in preference order:
/// the kernel-range flushes the series defers, then user shootdowns.
const IPI_ORDER: [&str; 5] = [
    "ipi.kmod.kernel_range",
    "ipi.kmod.flush_all",
    "ipi.user.mprotect",
    "ipi.user.munmap",
    "ipi.user.madvise",
];

fn size_machine(
    p: &Profile,
    m: &Machine,
    facts: &Facts,
    proxy_note: Option<String>,
) -> MachineSizing {
    let hz = m.tsc_hz();
    let mut notes: Vec<String> = proxy_note.into_iter().collect();
    let curve = Curve::of(m);
    let refill = curve.at(p.working_set_pages);
    match refill {
        Some((_, Read::Extrapolated)) => notes.push(format!(
            "R({}) extrapolated past the largest measured refill.wN.",
            p.working_set_pages
        )),
        Some((_, Read::Interpolated)) => notes.push(format!(
            "R({}) interpolated on the refill.wN curve.",
            p.working_set_pages
        )),
        _ => {}
    }
    if let Some((r, _)) = refill {
        notes.push(format!(
            "R({}) = {} cycles ({} us).",
            p.working_set_pages,
            units::num(r),
            us(r, hz).map(units::num).unwrap_or_else(|| "-".into())
        ));
    }
    let r = refill.map(|x| x.0);
    let budget = p.latency_budget_us;
    let figures = |events: f64, per_event: f64, worst_cycles: f64, runs: bool| -> Outcome {
        match (units::cycles_to_ns(1.0, hz), us(worst_cycles, hz)) {
            (Some(_), Some(worst_us)) => {
                let pct = events * per_event / hz * 100.0;
                Outcome::Figures {
                    events_per_sec: events,
                    cycles_per_event: per_event,
                    pct_cpu: pct,
                    worst_us,
                    runs,
                    ok: worst_us <= budget && pct < 100.0,
                }
            }
            _ => Outcome::NotMeasured("TSC frequency unknown".into()),
        }
    };
    let no_refill = || {
        Outcome::NotMeasured(format!(
            "no refill.wN result for {} pages",
            p.working_set_pages
        ))
    };
    let mut rows = Vec::new();

    // IPI (status quo).
    let ipi = IPI_ORDER.iter().find_map(|id| m.get(id));
    let outcome = match (ipi, r) {
        (None, _) => Outcome::NotMeasured("no ipi.* result".into()),
        (Some(_), None) => no_refill(),
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
            figures(
                p.flush_events_per_sec,
                e.summary.median + r,
                e.summary.p99 + r,
                true,
            )
        }
    };
    let method = ipi.map(|e| e.id.clone()).unwrap_or_default();
    rows.push(Row {
        strategy: Strategy::Ipi { method },
        outcome,
    });

    // Flush on entry, each variant the CPU can run.
    let runs = facts.on_entry_runs != Some(false);
    for v in &facts.variants {
        let outcome = match (entry_flush(m, v), r) {
            (None, _) => Outcome::NotMeasured(format!("no entry.flush.{v} result")),
            (Some(_), None) => no_refill(),
            (Some((e, e99)), Some(r)) => figures(p.syscalls_per_sec, e + r, e99 + r, runs),
        };
        rows.push(Row {
            strategy: Strategy::OnEntry { variant: v.clone() },
            outcome,
        });
    }
    notes.extend(on_entry_note(facts));

    // Deferred: the flush the series would issue on the next entry.
    let dv = if facts.variants.iter().any(|v| v == "invpcid2") {
        "invpcid2"
    } else {
        "cr4_pge"
    };
    let outcome = match (entry_flush(m, dv), r) {
        (None, _) => Outcome::NotMeasured(format!("no entry.flush.{dv} result")),
        (Some(_), None) => no_refill(),
        (Some((e, e99)), Some(r)) => {
            let s = p.syscalls_per_sec;
            let flushes = p.flush_events_per_sec.min(s);
            let per_sec = s * p.deferred_check_cycles + flushes * (e + r);
            let per_event = if s > 0.0 { per_sec / s } else { 0.0 };
            figures(s, per_event, p.deferred_check_cycles + e99 + r, true)
        }
    };
    rows.push(Row {
        strategy: Strategy::Deferred { variant: dv.into() },
        outcome,
    });
    notes.push(format!(
        "Deferred state check: {} cycles per entry is {}; no experiment measures it.",
        units::num(p.deferred_check_cycles),
        if p.deferred_check_assumed {
            "an assumption (default; set deferred_check_cycles)"
        } else {
            "from the profile"
        }
    ));

    // Broadcast hardware, only where the CPU has it.
    if facts.invlpgb {
        let outcome = match r {
            None => no_refill(),
            Some(r) if facts.pti == Some(true) => {
                notes.push("INVLPGB is not used by Linux while PTI is on.".into());
                figures(p.flush_events_per_sec, r, r, false)
            }
            Some(r) => figures(p.flush_events_per_sec, r, r, true),
        };
        rows.push(Row {
            strategy: Strategy::Broadcast {
                kind: "INVLPGB".into(),
            },
            outcome,
        });
        notes.push("INVLPGB broadcast flush needs Linux >= 6.15.".into());
    }
    if facts.rar {
        rows.push(Row {
            strategy: Strategy::Broadcast { kind: "RAR".into() },
            outcome: Outcome::NotAvailable("Linux RAR support not merged".into()),
        });
    }
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
    MachineSizing {
        title: m.title(),
        cpu_label: m.cpu_label.clone(),
        host: m.host.clone(),
        rows,
        notes,
    }
}

/// (delta median, delta p99) of entry.flush.<v> without a walk.
fn entry_flush(m: &Machine, v: &str) -> Option<(f64, f64)> {
    let e: &Experiment = m.get(&ids::entry_flush_id(v, 0)).or_else(|| {
        m.experiments.values().copied().find(
            |e| matches!(ids::kind(e), Kind::EntryFlush { ref variant, pages: 0 } if variant == v),
        )
    })?;
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
                    vec![
                        label,
                        "-".into(),
                        "-".into(),
                        "-".into(),
                        "-".into(),
                        "not measured".into(),
                    ]
                }
                Outcome::NotAvailable(why) => {
                    reasons.push(format!("{label}: {why}."));
                    vec![
                        label,
                        "-".into(),
                        "-".into(),
                        "-".into(),
                        "-".into(),
                        "n/a".into(),
                    ]
                }
            };
            t.push(row);
        }
        if !t.is_empty() {
            out.push_str(&t.render_text());
        }
        for n in m.notes.iter().chain(&reasons) {
            para(&mut out, &format!("- {n}"), "  ");
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

    #[test]
    fn unmeasured_dump_still_says_whether_flush_on_entry_runs() {
        let profile = Profile::parse(
            "syscalls_per_sec = 1000\nflush_events_per_sec = 1\nworking_set_pages = 64\nlatency_budget_us = 5\n",
        )
        .unwrap();
        let cascade = crate::synth::fixtures()
            .into_iter()
            .find(|(name, _)| name.contains("cascadelake"))
            .expect("Cascade Lake fixture")
            .1;
        let env = cascade.environment.clone();
        let dump = DumpTarget {
            file_name: "cascade.txt".into(),
            cpu: &env.cpu,
            verdict: &env.verdict,
        };
        // No results at all: nothing to estimate costs from, but the CPU's
        // own facts still decide that the series' entry flush never runs.
        let s = size(&profile, &[], Some(dump));
        let notes = &s.machines[0].notes;
        assert!(notes[0].contains("nothing to estimate from"), "{notes:?}");
        assert!(
            notes.iter().any(|n| n.contains("would not run at all")),
            "{notes:?}"
        );
    }
}
