//! The ingredients of the cost model: each figure picked once per CPU,
//! measured where the machine (or its like model) has it, else published
//! for the CPU's core, else assumed; and the `measured (scenario)`
//! figures that stand for whole sums of them (`scenario`).

use super::scenario;
use super::{Figure, Ingredients, Input, ScenarioFigures, Source};
use crate::model::ids::{self, Contention, ExperimentId, FlushVariant, Ipi, KmodIpi, UserIpi};
use crate::model::kernel_rules;
use crate::model::machine::Machine;
use crate::model::priors::{self, op, Prior};
use crate::model::profile::Profile;
use crate::model::refill::{Curve, Read};
use crate::model::schema::{CpuFacts, Experiment};
use crate::model::units::{self, TscCycles};

/// The ingredients: measured where the machine (or its like model) has
/// them, else published for the CPU's core, else assumed (the check).
pub(super) fn ingredients(input: &Input) -> Ingredients {
    let core = kernel_rules::core_name(&input.cpu.uarch);
    let pub_rows = priors::for_core(core);
    let published = |operation: &str, symbol: &str| -> Option<Figure> {
        let r = pub_rows.iter().find(|r| r.operation == operation)?;
        prior_figure(r, symbol)
    };
    let m = input.measured.as_ref();
    let like = m.and_then(|m| m.like.clone());
    let measured = |f: Option<Figure>| {
        f.map(|mut f| {
            if let Source::Measured { like: l, .. } | Source::Scenario { like: l, .. } =
                &mut f.source
            {
                *l = like.clone();
            }
            f
        })
    };
    let has_invpcid = input.cpu.features.invpcid;
    let flush = measured(m.and_then(|m| measured_flush(m.machine, has_invpcid)))
        .or_else(|| published(op::FLUSH_ON_ENTRY, "E"))
        .or_else(|| {
            let prior = match FlushVariant::of_series(has_invpcid) {
                FlushVariant::Invpcid2 => op::FLUSH_INVPCID2,
                _ => op::FLUSH_CR4_PGE,
            };
            published(prior, "E")
        });
    let mut ing = Ingredients {
        ipi: measured(m.and_then(|m| measured_ipi(m.machine)))
            .or_else(|| published(op::IPI_VICTIM, "I")),
        refill: measured(m.and_then(|m| measured_refill(m.machine, input.profile))),
        flush,
        check: measured(m.and_then(|m| measured_check(m.machine)))
            .or_else(|| assumed_check(input.profile, m.map(|m| m.machine.tsc_hz()), input.cpu)),
        pti: priors::all()
            .iter()
            .find(|r| r.operation == op::PTI_PER_ENTRY)
            .and_then(|r| prior_figure(r, "P")),
        scenario: ScenarioFigures::default(),
    };
    if let Some(m) = m {
        let w = input.profile.working_set_pages;
        let mut sc = scenario::pick(m.machine, w, has_invpcid, &ing);
        for f in [
            &mut sc.ipi_event,
            &mut sc.on_entry,
            &mut sc.deferred_check,
            &mut sc.deferred_event,
        ] {
            *f = measured(f.take());
        }
        ing.scenario = sc;
    }
    ing
}

fn prior_figure(r: &Prior, symbol: &str) -> Option<Figure> {
    Some(Figure {
        symbol: symbol.into(),
        ns: r.ns()?,
        p99_ns: None,
        source: Source::Published {
            cite: r.cite.clone(),
        },
        note: Some(format!("{}: {}", r.cpu, r.conditions)),
    })
}

/// Victim IPI experiment used for the status quo, in preference order:
/// the kernel-range flushes the series defers, then user shootdowns.
pub const IPI_ORDER: [Ipi; 5] = [
    Ipi::Kmod(KmodIpi::KernelRange),
    Ipi::Kmod(KmodIpi::FlushAll),
    Ipi::User(UserIpi::Mprotect),
    Ipi::User(UserIpi::Munmap),
    Ipi::User(UserIpi::Madvise),
];

/// The measured IPI victim cost (median, p99), TSC time.
pub fn measured_ipi(m: &Machine) -> Option<Figure> {
    let e = IPI_ORDER
        .iter()
        .find_map(|i| m.get(&ExperimentId::Ipi(*i)))?;
    let hz = m.tsc_hz();
    let ns = |c: f64| e.tsc(c).and_then(|c| units::cycles_to_ns(c, hz));
    let note = e
        .params
        .get("preemption_rule")
        .and_then(|v| v.as_str())
        .map(|r| format!("preemption cut-off: {r}"));
    Some(Figure {
        symbol: "I".into(),
        ns: ns(e.summary.median)?,
        p99_ns: ns(e.summary.p99),
        source: measured_source(e, false),
        note,
    })
}

/// The ids the series' flush-on-entry figure is read from, first found
/// wins: the `series` row (the module picks what the series picks), then
/// the variant the series uses on this CPU. A figure timed at the next
/// entry, where one exists, goes first in this list.
pub fn flush_candidates(has_invpcid: bool) -> Vec<ExperimentId> {
    [FlushVariant::Series, FlushVariant::of_series(has_invpcid)]
        .iter()
        .flat_map(ExperimentId::entry_flush_cost)
        .collect()
}

/// The first of `candidates` the machine measured in TSC time, as the
/// flush figure E (delta median vs the nop ioctl; p99 minus the nop
/// median): the one place that picks the flush-on-entry figure.
pub fn flush_on_entry_figure(m: &Machine, candidates: &[ExperimentId]) -> Option<Figure> {
    let hz = m.tsc_hz();
    candidates.iter().find_map(|id| {
        let e = m.get(id).filter(|e| !measured_with_pti_off(m, e))?;
        let b = e.baseline.as_ref()?;
        let d = b.delta_median;
        let p99 = (e.summary.p99 - b.summary.median).max(d);
        let ns = |c: f64| e.tsc(c).and_then(|c| units::cycles_to_ns(c, hz));
        Some(Figure {
            symbol: "E".into(),
            ns: ns(d)?,
            p99_ns: ns(p99),
            source: measured_source(e, true),
            note: Some(flush_note(e).into()),
        })
    })
}

/// What a flush row times (`ids::EntryTiming`).
fn flush_note(e: &crate::model::schema::Experiment) -> &'static str {
    match ids::kind(e) {
        ExperimentId::EntryFlush {
            timing: ids::EntryTiming::NextEntry,
            ..
        } => "an ioctl that flushes, then the next getppid, minus the same after one that does not",
        _ => "an ioctl that flushes, minus one that does not (timed at dispatch: reads low)",
    }
}

/// A flush row measured with PTI off is not the series' cost: the series
/// flushes on the PTI entry path only, and without PTI the kernel maps
/// itself with global pages, so INVPCID type 2 and the CR4.PGE toggle
/// drop (and the next entry refills) far more than under PTI, where few
/// pages are global. The row says its PTI state (`params.pti`); older
/// rows take the run's.
pub(super) fn measured_with_pti_off(m: &Machine, e: &crate::model::schema::Experiment) -> bool {
    match e.params.get("pti").and_then(|v| v.as_bool()) {
        Some(pti) => !pti,
        None => m.pti() == Some(false),
    }
}

/// E of a measured machine (`flush_on_entry_figure` on `flush_candidates`).
pub fn measured_flush(m: &Machine, has_invpcid: bool) -> Option<Figure> {
    flush_on_entry_figure(m, &flush_candidates(has_invpcid))
}

/// R(W): the refill curve read at the working set, TSC time.
fn measured_refill(m: &Machine, p: &Profile) -> Option<Figure> {
    let w = p.working_set_pages;
    let (c, read) = Curve::of(m).at_tsc(w)?;
    let ns = units::cycles_to_ns(c, m.tsc_hz())?;
    let how = match read {
        Read::Measured => "measured at this size",
        Read::Interpolated => "interpolated on the refill.wN curve",
        Read::Extrapolated => "extrapolated past the largest refill.wN",
    };
    Some(Figure {
        symbol: format!("R({w})"),
        ns,
        p99_ns: Some(ns),
        source: Source::Measured {
            id: "refill.wN".into(),
            like: None,
            emulated: false,
        },
        note: Some(how.into()),
    })
}

/// C measured: the proposal's atomic per entry.
fn measured_check(m: &Machine) -> Option<Figure> {
    let e = m.get(&ExperimentId::DeferredCheck(Contention::Uncontended))?;
    let hz = m.tsc_hz();
    let ns = |c: f64| e.tsc(c).and_then(|c| units::cycles_to_ns(c, hz));
    Some(Figure {
        symbol: "C".into(),
        ns: ns(e.headline_cycles())?,
        p99_ns: ns(e.summary.p99),
        source: measured_source(e, false),
        note: Some(
            "an atomic read-modify-write of the CPU's own state word: the proposal's exchange"
                .into(),
        ),
    })
}

/// C assumed: the profile's TSC cycles at the machine's TSC rate, else
/// the dump's CPUID TSC rate, else the brand's nominal clock.
fn assumed_check(p: &Profile, hz: Option<f64>, cpu: &CpuFacts) -> Option<Figure> {
    let (hz, how) = match hz.filter(|h| units::rate_known(*h)) {
        Some(h) => (h, "the machine's TSC rate".to_string()),
        None => dump_clock_hz(cpu)?,
    };
    let ns = units::cycles_to_ns(TscCycles(p.deferred_check_cycles), hz)?;
    Some(Figure {
        symbol: "C".into(),
        ns,
        p99_ns: Some(ns),
        source: Source::Assumed {
            what: format!(
                "deferred_check_cycles = {} TSC cycles{} at {how}",
                units::num(p.deferred_check_cycles),
                if p.deferred_check_assumed {
                    " (profile default)"
                } else {
                    ""
                }
            ),
        },
        note: None,
    })
}

/// The TSC rate a dump states, else the nominal clock in the brand string
/// ("@ 2.40GHz"): invariant TSCs tick at about the nominal clock.
fn dump_clock_hz(cpu: &CpuFacts) -> Option<(f64, String)> {
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

fn measured_source(e: &Experiment, emulated: bool) -> Source {
    Source::Measured {
        id: e.id.to_string(),
        like: None,
        emulated,
    }
}
