//! The straight answer for one CPU: which of IPI / the series'
//! flush-on-entry / deferral / hardware broadcast would run there, what
//! each costs for the profile, and what to do. Every cost carries its
//! label: `measured`, `measured (like model: X)` or `published (source)`.

use super::{deferred_check, entry_flush, IPI_ORDER};
use crate::kernel_rules;
use crate::machine::Machine;
use crate::priors::{self, op, Prior};
use crate::profile::Profile;
use crate::refill::Curve;
use crate::schema::CpuFacts;
use crate::units;

/// What the rules need to know about the CPU and its kernel.
pub struct Context<'a> {
    pub vendor: &'a str,
    /// Core name (`kernel_rules::core_name`).
    pub core: &'a str,
    pub pti: Option<bool>,
    /// The Meltdown reason for a dump (a measured machine's kernel says).
    pub meltdown_why: Option<String>,
    pub invlpgb: bool,
    /// Kernel release of a measured machine; None for a dump.
    pub kernel: Option<&'a str>,
    pub guest: bool,
}

/// One cost in ns and where it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Cost {
    pub ns: f64,
    pub label: String,
}

/// The per-event costs the answer compares.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Costs {
    /// Victim interruption per flush IPI.
    pub ipi: Option<Cost>,
    /// The series' flush per kernel entry.
    pub entry: Option<Cost>,
    /// Refill of the working set after a flush, ns (measured only).
    pub refill_ns: Option<f64>,
    /// Deferral's per-entry state check.
    pub check: Option<Cost>,
    /// Published figures for the core, as printed lines.
    pub lines: Vec<String>,
}

impl Costs {
    /// From a measured machine; `label` is "measured" or "measured (like
    /// model: X)". What was not measured falls back to published priors
    /// for the machine's core.
    pub fn measured(p: &Profile, m: &Machine, variants: &[String], label: &str) -> Costs {
        let hz = m.tsc_hz();
        let ns = |c: f64| units::cycles_to_ns(c, hz);
        let cost = |c: f64, what: &str| {
            ns(c).map(|ns| Cost {
                ns,
                label: format!("{label}, {what}"),
            })
        };
        let ipi = IPI_ORDER
            .iter()
            .find_map(|id| m.get(id))
            .and_then(|e| cost(e.summary.median, &e.id));
        let v = if variants.iter().any(|v| v == "invpcid2") {
            "invpcid2"
        } else {
            "cr4_pge"
        };
        let core = kernel_rules::core_name(&m.cpu().uarch).to_string();
        let published = Costs::published(p, m.cpu(), &core);
        let entry = entry_flush(m, v)
            .and_then(|(e, _)| cost(e, &format!("entry.flush.{v}")))
            .or(published.entry.clone());
        let (check_cycles, check_note) = deferred_check(p, m);
        let check_label = if check_note.contains("measured (") {
            label.to_string()
        } else {
            "assumed: profile deferred_check_cycles".to_string()
        };
        Costs {
            ipi: ipi.or(published.ipi.clone()),
            entry,
            refill_ns: Curve::of(m)
                .at(p.working_set_pages)
                .and_then(|(r, _)| ns(r)),
            check: ns(check_cycles).map(|ns| Cost {
                ns,
                label: check_label,
            }),
            lines: published.lines,
        }
    }

    /// From published priors for `core` alone (a dump with no measured
    /// model or core).
    pub fn published(p: &Profile, cpu: &CpuFacts, core: &str) -> Costs {
        let rows = priors::for_core(core);
        let pick = |operation: &str| -> Option<(Prior, Cost)> {
            let r = rows.iter().find(|r| r.operation == operation)?;
            let ns = r.ns()?;
            Some((
                r.clone(),
                Cost {
                    ns,
                    label: r.label(),
                },
            ))
        };
        let entry = pick(op::FLUSH_ON_ENTRY);
        let ipi = pick(op::IPI_VICTIM);
        let lines = rows
            .iter()
            .map(|r| prior_line(p, r))
            .collect::<Vec<String>>();
        let check = clock_hz(cpu).map(|(hz, how)| Cost {
            ns: p.deferred_check_cycles * 1e9 / hz,
            label: format!("assumed: profile deferred_check_cycles at {how}"),
        });
        Costs {
            ipi: ipi.map(|x| x.1),
            entry: entry.map(|x| x.1),
            refill_ns: None,
            check,
            lines,
        }
    }
}

/// One published figure as printed, with its cost for the profile when
/// it is a per-entry or per-IPI cost.
fn prior_line(p: &Profile, r: &Prior) -> String {
    let per = match (r.operation.as_str(), r.ns()) {
        (op::FLUSH_ON_ENTRY, Some(ns)) => format!(
            " For this profile: {} ns x {} entries/s = {} of a CPU.",
            units::num(ns),
            units::num(p.syscalls_per_sec),
            units::pct(p.syscalls_per_sec * ns / 1e7)
        ),
        (op::IPI_VICTIM, Some(ns)) => format!(
            " For this profile: {} ns x {} IPIs/s = {} of a CPU.",
            units::num(ns),
            units::num(p.flush_events_per_sec),
            units::pct(p.flush_events_per_sec * ns / 1e7)
        ),
        _ => String::new(),
    };
    format!(
        "{}: {} {} on {} ({}; {}), {}.{per}",
        r.operation,
        units::num(r.value),
        r.unit,
        r.cpu,
        r.conditions,
        r.kind,
        r.label()
    )
}

/// The clock to turn the check's cycles into ns: the TSC rate the dump
/// states, else the nominal clock in the brand string ("@ 2.40GHz").
fn clock_hz(cpu: &CpuFacts) -> Option<(f64, String)> {
    if cpu.tsc_hz > 0 {
        return Some((cpu.tsc_hz as f64, "the CPUID TSC rate".into()));
    }
    let at = cpu.brand.find("@ ")?;
    let ghz: f64 = cpu.brand[at + 2..]
        .trim()
        .trim_end_matches("GHz")
        .parse()
        .ok()?;
    (ghz > 0.0).then(|| (ghz * 1e9, format!("the brand's nominal {ghz} GHz")))
}

/// % of one CPU for `per_sec` events of `ns` each.
fn pct(per_sec: f64, ns: f64) -> f64 {
    per_sec * ns / 1e7
}

fn cost_text(per_sec: f64, c: &Option<Cost>, what: &str) -> String {
    match c {
        Some(c) => format!(
            "{} ns x {}/s = {} of a CPU ({})",
            units::num(c.ns),
            units::num(per_sec),
            units::pct(pct(per_sec, c.ns)),
            c.label
        ),
        None => format!("no data for {what}"),
    }
}

/// The answer's lines: the kernel's rules, what would run at what cost,
/// and the recommendation.
pub fn straight_answer(p: &Profile, ctx: &Context, c: &Costs) -> Vec<String> {
    let (s, f) = (p.syscalls_per_sec, p.flush_events_per_sec);
    let mut out = Vec::new();
    match (&ctx.meltdown_why, ctx.pti) {
        (Some(why), Some(true)) => out.push(format!(
            "Meltdown-affected: {why}; a default kernel runs PTI."
        )),
        (Some(why), _) => out.push(format!(
            "Not affected by Meltdown: {why}; a default kernel runs without PTI."
        )),
        (None, Some(on)) => out.push(format!(
            "PTI is {} on the measured kernel.",
            if on { "on" } else { "off" }
        )),
        (None, None) => out.push("PTI state unknown.".into()),
    }
    out.push(kernel_rules::series_sentence(ctx.pti));
    out.push(if hidden_invlpgb(ctx) {
        format!(
            "INVLPGB: every {} has it, but the hypervisor does not show it to \
             this guest, so the guest's remote flushes are IPIs; on bare metal \
             Linux >= 6.15 flushes with it and sends no IPI.",
            ctx.core
        )
    } else {
        kernel_rules::invlpgb_sentence(ctx.invlpgb, ctx.kernel, ctx.guest, ctx.pti)
    });
    out.extend(kernel_rules::rar_sentence(ctx.vendor));
    let refill = c
        .refill_ns
        .map(|r| format!(" plus refill {} ns per flush", units::num(r)))
        .unwrap_or_else(|| " (refill of the working set not included: no data)".into());
    out.push(format!(
        "IPI (status quo): runs; {}{refill}.",
        cost_text(f, &c.ipi, "the IPI cost on this core")
    ));
    let runs = match ctx.pti {
        Some(true) => "runs on every entry of a nohz_full CPU",
        Some(false) => "does not run (PTI off); if it did",
        None => "runs only with PTI on",
    };
    out.push(format!(
        "Series flush-on-entry (v7): {runs}: {}.",
        cost_text(s, &c.entry, "the series' flush on this core")
    ));
    let deferral = match (&c.check, &c.entry) {
        (Some(_), None) => "no figure for the flush it issues on this core (measure \
                            it with the module: `entrybench kmod load`, then \
                            `entrybench run`)"
            .to_string(),
        (Some(k), Some(e)) => format!(
            "{} ns check x {}/s + {} flushes/s x {} ns = {} of a CPU (check {}; flush {})",
            units::num(k.ns),
            units::num(s),
            units::num(f.min(s)),
            units::num(e.ns),
            units::pct(pct(s, k.ns) + pct(f.min(s), e.ns)),
            k.label,
            e.label
        ),
        _ => "no data for the flush or the check on this core (no clock rate \
              to turn the check's cycles into ns)"
            .into(),
    };
    out.push(format!("Deferral (not merged): {deferral}."));
    let broadcast = if ctx.invlpgb || hidden_invlpgb(ctx) {
        "INVLPGB, no IPI, no per-entry cost (Linux >= 6.15, bare metal, PTI off)"
    } else if ctx.vendor == "GenuineIntel" {
        "RAR on Sapphire Rapids and later once Linux support is merged; none today"
    } else {
        "none on this core (INVLPGB arrived with Zen 3)"
    };
    out.push(format!("Hardware broadcast: {broadcast}."));
    out.push(recommendation(ctx, c, s, f));
    out
}

/// A Zen 3+ core whose INVLPGB the hypervisor hides from the guest.
fn hidden_invlpgb(ctx: &Context) -> bool {
    !ctx.invlpgb && ctx.guest && kernel_rules::core_has_invlpgb(ctx.vendor, ctx.core)
}

fn recommendation(ctx: &Context, c: &Costs, s: f64, f: f64) -> String {
    match ctx.pti {
        Some(false) => {
            let tail = if hidden_invlpgb(ctx) {
                "This core has INVLPGB (Zen 3 and later), hidden from this guest: on \
                 bare metal with Linux >= 6.15 the kernel flushes without IPIs, so take \
                 the broadcast there; in this guest, deferral (not merged) or the IPIs \
                 (their cost above, where known)."
            } else if ctx.invlpgb {
                "INVLPGB is here (Zen 3 and later): on Linux >= 6.15 on bare metal \
                 the kernel flushes without IPIs, so take the broadcast; deferral \
                 only matters in guests without INVLPGB or on older kernels."
            } else if ctx.vendor == "GenuineIntel" {
                "On Intel the broadcast is RAR (Sapphire Rapids and later), not \
                 merged: until it is, deferral (not merged either) or the IPIs (their \
                 cost above, where known)."
            } else {
                "This core has no INVLPGB (it arrived with Zen 3): deferral (not \
                 merged) or the IPIs (their cost above, where known)."
            };
            format!(
                "Answer: PTI is off on this CPU, so the v7 flush never runs: the real \
                 choice is deferral or hardware broadcast. {tail}"
            )
        }
        Some(true) => {
            let entry = c.entry.as_ref().map(|e| pct(s, e.ns));
            let ipi = c.ipi.as_ref().map(|i| pct(f, i.ns));
            let defer = c
                .check
                .as_ref()
                .zip(c.entry.as_ref())
                .map(|(k, e)| pct(s, k.ns) + pct(f.min(s), e.ns));
            let cmp = match (entry, ipi, defer) {
                (Some(e), Some(i), d) => format!(
                    "flush-on-entry costs {} of a CPU against {} for the IPIs{}; {} is cheaper here.",
                    units::pct(e),
                    units::pct(i),
                    d.map(|d| format!(" and {} for deferral", units::pct(d)))
                        .unwrap_or_default(),
                    if e < i { "flush-on-entry" } else { "the IPI status quo" }
                ),
                (Some(e), None, d) => format!(
                    "flush-on-entry costs {} of a CPU{}; the IPI cost on this core is \
                     not known (run `entrybench run` there to measure it).",
                    units::pct(e),
                    d.map(|d| format!(" and deferral {}", units::pct(d)))
                        .unwrap_or_default()
                ),
                _ => "no figure for the series' flush on this core: measure it with \
                      the module (`entrybench kmod load`, then `entrybench run`)."
                    .to_string(),
            };
            format!(
                "Answer: PTI is on, so the v7 flush runs on every kernel entry of a \
                 nohz_full CPU: {cmp} Deferral pays the flush only after a flush event, \
                 so it wins when entries far outnumber flush events."
            )
        }
        None => {
            "Answer: PTI state unknown: run `entrybench detect` on that machine first.".to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        Profile::parse(
            "syscalls_per_sec = 10000\nflush_events_per_sec = 1\nworking_set_pages = 64\nlatency_budget_us = 5\n",
        )
        .unwrap()
    }

    fn ctx<'a>(
        vendor: &'a str,
        core: &'a str,
        pti: bool,
        invlpgb: bool,
        guest: bool,
    ) -> Context<'a> {
        Context {
            vendor,
            core,
            pti: Some(pti),
            meltdown_why: None,
            invlpgb,
            kernel: Some("6.18.1"),
            guest,
        }
    }

    fn joined(lines: &[String]) -> String {
        lines.join(" ")
    }

    #[test]
    fn pti_off_means_deferral_or_broadcast() {
        let c = Costs::default();
        let amd = joined(&straight_answer(
            &profile(),
            &ctx("AuthenticAMD", "Zen 3", false, true, false),
            &c,
        ));
        assert!(amd.contains("the v7 flush never runs"), "{amd}");
        assert!(amd.contains("take the broadcast"), "{amd}");
        let intel = joined(&straight_answer(
            &profile(),
            &ctx("GenuineIntel", "Sapphire Rapids", false, false, false),
            &c,
        ));
        assert!(
            intel.contains("RAR (Sapphire Rapids and later), not merged"),
            "{intel}"
        );
        // A Zen 5 guest that does not see INVLPGB: the core has it.
        let guest = joined(&straight_answer(
            &profile(),
            &ctx("AuthenticAMD", "Zen 5", false, false, true),
            &c,
        ));
        assert!(guest.contains("hidden from this guest"), "{guest}");
        let zen2 = joined(&straight_answer(
            &profile(),
            &ctx("AuthenticAMD", "Zen 2", false, false, false),
            &c,
        ));
        assert!(
            zen2.contains("no INVLPGB (it arrived with Zen 3)"),
            "{zen2}"
        );
    }

    #[test]
    fn pti_on_compares_the_costs_with_their_labels() {
        let c = Costs {
            ipi: Some(Cost {
                ns: 2000.0,
                label: "measured".into(),
            }),
            entry: Some(Cost {
                ns: 570.0,
                label: "published (x)".into(),
            }),
            refill_ns: None,
            check: Some(Cost {
                ns: 10.0,
                label: "assumed".into(),
            }),
            lines: vec![],
        };
        let a = joined(&straight_answer(
            &profile(),
            &ctx("GenuineIntel", "Haswell", true, false, false),
            &c,
        ));
        // 10000/s x 570 ns = 0.57% of a CPU; 1/s x 2 us = 2e-4%.
        assert!(
            a.contains("570 ns x 10000/s = 0.57% of a CPU (published (x))"),
            "{a}"
        );
        assert!(a.contains("the IPI status quo is cheaper here"), "{a}");
        assert!(a.contains("runs on every entry of a nohz_full CPU"), "{a}");
    }
}
