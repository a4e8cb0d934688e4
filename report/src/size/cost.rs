//! The cost model: for one CPU and a workload profile, every strategy's
//! cost computed once: cost per event (a kernel entry or a flush event),
//! events per second, % of one CPU, worst-case added latency, whether it
//! runs (`kernel_rules`), and each ingredient with the label of where it
//! came from. The size table, the answer, the recommendation, the
//! break-even plots and the machine table read from here; no output
//! computes a cost of its own.
//!
//! All figures are ns of time: measured ones from TSC cycles
//! (`Experiment::tsc`, never core cycles), published ones as published.
//! Equations (S = syscalls/s, F = flush events/s, W = working set): see
//! `EQUATIONS`.

use crate::ids;
use crate::kernel_rules::{self, EntryWork, KernelFacts, Posting, Runs, POSTINGS};
use crate::machine::Machine;
use crate::priors::{self, op, Prior};
use crate::profile::Profile;
use crate::refill::{Curve, Read};
use crate::schema::{CpuFacts, Experiment};
use crate::units::{self, TscCycles};

/// What `--explain` prints (and the README quotes).
pub const EQUATIONS: &str = "\
Sizing equations (per isolated CPU; %CPU = ns/s / 1e9 x 100)
  S = syscalls_per_sec, F = flush_events_per_sec, W = working_set_pages
  I    = victim interruption per IPI (ipi.kmod.kernel_range, else
         flush_all, else ipi.user.mprotect/munmap/madvise): median and
         p99 (TSC time)
  R(W) = refill of W pages after a full flush: refill.wN delta medians,
         linear between measured N (0 at 0 pages), extrapolated past
         the largest N with the last segment's slope (marked)
  E    = the series' flush per entry: entry.flush.series, else
         entry.flush.<invpcid2|cr4_pge> (the variant the series picks),
         .next_entry first (the flush ioctl and the next getppid),
         delta median vs the same with the nop ioctl (emulated; rows
         measured with PTI off are not used); E_p99 its p99 - the nop
         median
  C    = the proposal's atomic exchange per entry:
         deferred.check.uncontended median (measured), else
         deferred_check_cycles TSC cycles (assumed)
  P    = PTI's cost per entry (published, KAISER cover, lseek1)
IPI (status quo), and series v5 (it defers no TLB flush):
                         ns/s = F x (I + R(W));  worst = I_p99 + R(W)
series v6/v7 (a flush on every nohz_full entry, with PTI):
                         ns/s = S x (E + R(W));  worst = E_p99 + R(W)
series RFC v8, v9: need PTI; not priced (their catch-up was not re-read)
proposal (an exchange on every entry, the flush after a deferral):
                         ns/s = S x C + min(F, S) x (E + R(W))
                         worst = C + E_p99 + R(W)
pti=on + v6/v7:          ns/s = S x (P + E + R(W))
                         worst = P + E_p99 + R(W)
INVLPGB (no IPI):        ns/s = F x R(W);  worst = R(W)
worst case: the p99 where measured; where only a median is known, the
  median, marked as a lower bound (>=); victim gaps longer than the IPI
  preemption cut-off (1 ms: a preempted vCPU) are not IPIs
budget: ok when worst <= latency_budget_us and %CPU < 100";

/// Where a figure comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// Measured on the machine sized, or on a like model (`like`, named);
    /// `emulated`: by the module's ioctl, not the kernel's own path.
    Measured {
        id: String,
        like: Option<String>,
        emulated: bool,
    },
    /// Someone else's figure, with the cite it is printed with.
    Published { cite: String },
    /// A profile value nothing measured.
    Assumed { what: String },
}

impl Source {
    /// The label printed next to the figure.
    pub fn label(&self) -> String {
        match self {
            Source::Measured { id, like, emulated } => {
                let how = if *emulated { "emulated, " } else { "" };
                match like {
                    None => format!("measured, {how}{id}"),
                    Some(m) => format!("measured (like model: {m}), {how}{id}"),
                }
            }
            Source::Published { cite } => format!("published ({cite})"),
            Source::Assumed { what } => format!("assumed: {what}"),
        }
    }

    /// The table's "from" cell.
    pub fn short(&self) -> &'static str {
        match self {
            Source::Measured { like: None, .. } => "meas",
            Source::Measured { like: Some(_), .. } => "like",
            Source::Published { .. } => "pub",
            Source::Assumed { .. } => "asm",
        }
    }
}

/// One ingredient of a cost, in ns of time.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// Its symbol in `EQUATIONS`: "I", "R(128)", "E", "C", "P".
    pub symbol: String,
    pub ns: f64,
    /// The p99, where measured.
    pub p99_ns: Option<f64>,
    pub source: Source,
    /// How it was read or what it stands for, where that matters.
    pub note: Option<String>,
}

impl Figure {
    /// "I = 1423 ns (measured, ipi.kmod.kernel_range)".
    pub fn describe(&self) -> String {
        let p99 = self
            .p99_ns
            .map(|p| format!(", p99 {} ns", units::num(p)))
            .unwrap_or_default();
        let note = self
            .note
            .as_ref()
            .map(|n| format!("; {n}"))
            .unwrap_or_default();
        format!(
            "{} = {} ns{p99} ({}{note})",
            self.symbol,
            units::num(self.ns),
            self.source.label()
        )
    }
}

/// The ingredients of every cost of one CPU.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ingredients {
    pub ipi: Option<Figure>,
    pub refill: Option<Figure>,
    pub flush: Option<Figure>,
    pub check: Option<Figure>,
    pub pti: Option<Figure>,
}

/// A way of keeping the isolated CPU's TLB coherent.
#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    Ipi,
    /// The series as posted (versions grouped by what entry does).
    Series(Posting),
    /// Lutomirski's proposal: xchg on entry, flush when a bit says so.
    Proposal,
    /// Boot a PTI-off machine with pti=on and apply the latest posting.
    PtiOnSeries(Posting),
    Invlpgb,
    Rar,
}

impl Strategy {
    /// Row label (at most 16 columns).
    pub fn label(&self) -> String {
        match self {
            Strategy::Ipi => "IPI (status quo)".into(),
            Strategy::Series(p) => format!("series {}", p.label),
            Strategy::Proposal => "proposal (Luto)".into(),
            Strategy::PtiOnSeries(p) => format!("pti=on + {}", p.label),
            Strategy::Invlpgb => "INVLPGB".into(),
            Strategy::Rar => "RAR".into(),
        }
    }

    /// What one event of this strategy is.
    pub fn per(&self) -> &'static str {
        match self {
            Strategy::Ipi | Strategy::Invlpgb | Strategy::Rar => "flush event",
            Strategy::Series(p) if p.work == EntryWork::TlbIpisStay => "flush event",
            _ => "kernel entry",
        }
    }
}

/// The figures of one strategy.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub events_per_sec: f64,
    /// ns per event (per kernel entry or per flush event: `Strategy::per`).
    pub per_event_ns: f64,
    pub pct_cpu: f64,
    pub worst_us: f64,
    /// The worst case is a median, not a p99: the real tail is larger.
    pub worst_is_lower_bound: bool,
    /// The ingredients, with their sources.
    pub parts: Vec<Figure>,
    /// What was left out for want of data ("R(128): no refill.wN result").
    pub left_out: Vec<String>,
}

impl Figures {
    /// Within the budget: Some(true) ok, Some(false) over, None when the
    /// worst case is only a lower bound under the budget.
    pub fn fits(&self, budget_us: f64) -> Option<bool> {
        let over = self.worst_us > budget_us || self.pct_cpu >= 100.0;
        if over {
            Some(false)
        } else if self.worst_is_lower_bound || !self.left_out.is_empty() {
            None
        } else {
            Some(true)
        }
    }

    /// The table's "from" cell: one source kind, or "mix".
    pub fn from(&self) -> &'static str {
        let mut kinds = self.parts.iter().map(|f| f.source.short());
        let first = kinds.next().unwrap_or("-");
        if kinds.all(|k| k == first) {
            first
        } else {
            "mix"
        }
    }
}

/// A strategy's cost, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Figures(Figures),
    /// Nothing to price it with: what is missing and how to measure it.
    Missing(String),
    /// It runs here only as another row, which carries the price: v6/v7
    /// with PTI off runs only with pti=on, whose own cost that row adds.
    PricedAs(Strategy),
}

/// One strategy on one CPU.
#[derive(Debug, Clone, PartialEq)]
pub struct Cost {
    pub strategy: Strategy,
    pub runs: Runs,
    pub outcome: Outcome,
}

impl Cost {
    pub fn figures(&self) -> Option<&Figures> {
        match &self.outcome {
            Outcome::Figures(f) => Some(f),
            Outcome::Missing(_) | Outcome::PricedAs(_) => None,
        }
    }

    /// The table's "budget" cell.
    pub fn budget_cell(&self, budget_us: f64) -> &'static str {
        match self.figures().map(|f| f.fits(budget_us)) {
            Some(Some(true)) => "ok",
            Some(Some(false)) => "OVER",
            Some(None) => "?",
            None => "-",
        }
    }
}

/// The CPU whose costs are modelled, and what was measured on it (or on
/// a like model).
pub struct Input<'a> {
    pub profile: &'a Profile,
    /// The CPU sized: the machine's, or a dump's.
    pub cpu: &'a CpuFacts,
    pub facts: KernelFacts,
    pub measured: Option<Measured<'a>>,
}

/// Measured results to price with.
pub struct Measured<'a> {
    pub machine: &'a Machine<'a>,
    /// The measured machine's label when it is a like model, not the CPU.
    pub like: Option<String>,
}

/// Every strategy's cost on one CPU.
#[derive(Debug, Clone, PartialEq)]
pub struct Costs {
    pub ingredients: Ingredients,
    pub costs: Vec<Cost>,
}

impl Costs {
    pub fn get(&self, s: &Strategy) -> Option<&Cost> {
        self.costs.iter().find(|c| c.strategy == *s)
    }
}

/// The model: ingredients once, then each strategy priced from them.
pub fn model(input: &Input) -> Costs {
    let ing = ingredients(input);
    let p = input.profile;
    let k = &input.facts;
    let flushing = kernel_rules::flushing_posting();
    let mut costs = vec![Cost {
        strategy: Strategy::Ipi,
        runs: Runs::Today(kernel_rules::Reason {
            text: "the kernel sends TLB-flush IPIs to isolated CPUs today".into(),
            source: kernel_rules::src::V7_COVER,
        }),
        outcome: price_ipi(p, &ing),
    }];
    let pti_on = kernel_rules::pti_on_option(k);
    for posting in POSTINGS {
        let runs = kernel_rules::series(&posting, k);
        // With PTI off, v6/v7 runs only with pti=on: that row prices it
        // with PTI's own cost; a price here without it would be the cost
        // of something that cannot run.
        let only_with_pti =
            matches!(runs, Runs::IfPtiOn(_)) && posting == flushing && pti_on.is_some();
        costs.push(Cost {
            strategy: Strategy::Series(posting),
            runs,
            outcome: if only_with_pti {
                Outcome::PricedAs(Strategy::PtiOnSeries(flushing))
            } else {
                price_entry(p, &ing, posting.work, None)
            },
        });
    }
    costs.push(Cost {
        strategy: Strategy::Proposal,
        runs: kernel_rules::proposal(k),
        outcome: price_entry(p, &ing, EntryWork::FlushWhenPending, None),
    });
    if let Some(runs) = pti_on {
        costs.push(Cost {
            strategy: Strategy::PtiOnSeries(flushing),
            runs,
            outcome: match &ing.pti {
                Some(pti) => price_entry(p, &ing, flushing.work, Some(pti)),
                None => Outcome::Missing("no figure for PTI's own cost".into()),
            },
        });
    }
    // Broadcast rows only where the core has the hardware (hidden from a
    // guest or not): a CPU without it has nothing to price.
    if k.invlpgb || kernel_rules::core_has_invlpgb(&k.vendor, &k.core) {
        costs.push(Cost {
            strategy: Strategy::Invlpgb,
            runs: kernel_rules::invlpgb(k),
            outcome: price_invlpgb(p, &ing),
        });
    }
    if let Some(runs) = kernel_rules::rar(k).filter(|r| !matches!(r, Runs::No(_))) {
        costs.push(Cost {
            strategy: Strategy::Rar,
            runs,
            outcome: Outcome::Missing("Linux does not use RAR: nothing to price".into()),
        });
    }
    Costs {
        ingredients: ing,
        costs,
    }
}

/// The status quo: every flush event interrupts the CPU, then it refills.
fn price_ipi(p: &Profile, ing: &Ingredients) -> Outcome {
    let Some(i) = &ing.ipi else {
        return Outcome::Missing(
            "no ipi.* result and no published IPI figure for this core (measure it: `entrybench run`)"
                .into(),
        );
    };
    figures(p.flush_events_per_sec, &[i], &[], 0.0, ing)
}

/// A broadcast flush: no interruption, the refill remains.
fn price_invlpgb(p: &Profile, ing: &Ingredients) -> Outcome {
    match &ing.refill {
        Some(_) => figures(p.flush_events_per_sec, &[], &[], 0.0, ing),
        None => Outcome::Missing(
            "no refill.wN result: the broadcast still empties the TLB, and its refill is the cost"
                .into(),
        ),
    }
}

/// A strategy as posted (or proposed): `work` on every kernel entry,
/// plus PTI's own cost on every entry when `pti` is given.
fn price_entry(p: &Profile, ing: &Ingredients, work: EntryWork, pti: Option<&Figure>) -> Outcome {
    let s = p.syscalls_per_sec;
    let flush = || {
        ing.flush.as_ref().ok_or_else(|| {
            Outcome::Missing(
                "no figure for the series' flush on this core (measure it with the module: \
                 `entrybench kmod load`, then `entrybench run`)"
                    .into(),
            )
        })
    };
    let mut always: Vec<&Figure> = pti.into_iter().collect();
    match work {
        // TLB-flush IPIs stay: priced as the status quo.
        EntryWork::TlbIpisStay => price_ipi(p, ing),
        EntryWork::CatchUpNeedsPti => Outcome::Missing(
            "what its catch-up at entry costs could not be re-read: not priced".into(),
        ),
        EntryWork::FlushEveryEntry => {
            let e = match flush() {
                Ok(e) => e,
                Err(o) => return o,
            };
            always.push(e);
            figures(s, &always, &[], 0.0, ing)
        }
        EntryWork::FlushWhenPending => {
            let e = match flush() {
                Ok(e) => e,
                Err(o) => return o,
            };
            let Some(c) = &ing.check else {
                return Outcome::Missing(
                    "no clock rate to turn the assumed check cycles into ns".into(),
                );
            };
            always.push(c);
            // The flush (and refill) only on entries that follow a
            // deferred flush: at most one per flush event.
            let share = if s > 0.0 {
                p.flush_events_per_sec.min(s) / s
            } else {
                0.0
            };
            figures(s, &always, &[e], share, ing)
        }
    }
}

/// Figures for `events` per second. Each event costs the `always` parts,
/// plus the `pending` parts on a `share` of events; the refill R(W) goes
/// with the flush (with `pending` when there is one, else with `always`),
/// and is left out, and said so, when not known. The worst case sums the
/// p99s of every part (a median where no p99 is known: a lower bound).
fn figures(
    events: f64,
    always: &[&Figure],
    pending: &[&Figure],
    share: f64,
    ing: &Ingredients,
) -> Outcome {
    let mut parts: Vec<Figure> = always.iter().map(|f| (*f).clone()).collect();
    let mut later: Vec<Figure> = pending.iter().map(|f| (*f).clone()).collect();
    let mut left_out = Vec::new();
    match &ing.refill {
        Some(r) if pending.is_empty() => parts.push(r.clone()),
        Some(r) => later.push(r.clone()),
        None => left_out.push("R(W): no refill.wN result".to_string()),
    }
    let sum = |v: &[Figure]| v.iter().map(|f| f.ns).sum::<f64>();
    let per_event = sum(&parts) + share * sum(&later);
    parts.extend(later);
    let lower = parts.iter().any(|f| f.p99_ns.is_none());
    let worst_ns: f64 = parts.iter().map(|f| f.p99_ns.unwrap_or(f.ns)).sum();
    Outcome::Figures(Figures {
        events_per_sec: events,
        per_event_ns: per_event,
        pct_cpu: pct(events, per_event),
        worst_us: worst_ns / 1000.0,
        worst_is_lower_bound: lower,
        parts,
        left_out,
    })
}

/// % of one CPU for `per_sec` events of `ns` each.
pub fn pct(per_sec: f64, ns: f64) -> f64 {
    per_sec * ns / 1e7
}

/// The ingredients: measured where the machine (or its like model) has
/// them, else published for the CPU's core, else assumed (the check).
fn ingredients(input: &Input) -> Ingredients {
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
            if let Source::Measured { like: l, .. } = &mut f.source {
                *l = like.clone();
            }
            f
        })
    };
    let has_invpcid = input.cpu.features.invpcid;
    let flush = measured(m.and_then(|m| measured_flush(m.machine, has_invpcid)))
        .or_else(|| published(op::FLUSH_ON_ENTRY, "E"))
        .or_else(|| {
            let v = ids::series_variant(has_invpcid);
            published(&format!("flush.{v}"), "E")
        });
    Ingredients {
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
    }
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
pub const IPI_ORDER: [&str; 5] = [
    "ipi.kmod.kernel_range",
    "ipi.kmod.flush_all",
    "ipi.user.mprotect",
    "ipi.user.munmap",
    "ipi.user.madvise",
];

/// The measured IPI victim cost (median, p99), TSC time.
pub fn measured_ipi(m: &Machine) -> Option<Figure> {
    let e = IPI_ORDER.iter().find_map(|id| m.get(id))?;
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
pub fn flush_candidates(has_invpcid: bool) -> Vec<String> {
    ["series", ids::series_variant(has_invpcid)]
        .iter()
        .flat_map(|v| ids::entry_flush_cost_ids(v))
        .collect()
}

/// The first of `candidates` the machine measured in TSC time, as the
/// flush figure E (delta median vs the nop ioctl; p99 minus the nop
/// median): the one place that picks the flush-on-entry figure.
pub fn flush_on_entry_figure(m: &Machine, candidates: &[String]) -> Option<Figure> {
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
fn flush_note(e: &crate::schema::Experiment) -> &'static str {
    match ids::kind(e) {
        ids::Kind::EntryFlush {
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
fn measured_with_pti_off(m: &Machine, e: &crate::schema::Experiment) -> bool {
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
    let e = m.get(ids::DEFERRED_CHECK_UNCONTENDED)?;
    let hz = m.tsc_hz();
    let ns = |c: f64| e.tsc(c).and_then(|c| units::cycles_to_ns(c, hz));
    Some(Figure {
        symbol: "C".into(),
        ns: ns(e.summary.median)?,
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
        id: e.id.clone(),
        like: None,
        emulated,
    }
}

#[cfg(test)]
pub(crate) mod tests;
