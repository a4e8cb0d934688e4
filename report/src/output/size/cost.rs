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

use crate::model::kernel_rules::{self, EntryWork, KernelFacts, Posting, Runs, POSTINGS};
use crate::model::machine::Machine;
use crate::model::profile::Profile;
use crate::model::schema::CpuFacts;
use crate::model::units;

mod ingredients;
mod scenario;
use ingredients::ingredients;
pub use ingredients::{
    flush_candidates, flush_on_entry_figure, measured_flush, measured_ipi, IPI_ORDER,
};
pub use scenario::{on_entry_triggers, ScenarioFigures};

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
measured (scenario): where a scenario.* result walked W pages, its
  figures replace the sums they measured on one loop (the module's
  entry rows are emulated; those measured with PTI off are not used):
  IPI:      I + R(W) = lost per event of scenario.kmod.kernel_range,
            else flush_all, user.mprotect/munmap/madvise
  v6/v7:    E + R(W) = median change per iteration of
            scenario.kmod.on_entry.series (else the series' variant)
  proposal: C = median change per iteration of scenario.kmod.deferred,
            E + R(W) = its lost per event
  per-event worst case: the ingredients' p99 sum where known
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
    /// Measured as a whole by a `scenario.*` experiment (a sum of
    /// ingredients on one loop), as `Measured` otherwise.
    Scenario {
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
            Source::Scenario { id, like, emulated } => {
                let how = if *emulated { "emulated, " } else { "" };
                let like = like
                    .as_ref()
                    .map_or(String::new(), |m| format!("like model: {m}, "));
                format!("{}, {like}{how}{id}", crate::output::scenario::LABEL)
            }
            Source::Published { cite } => format!("published ({cite})"),
            Source::Assumed { what } => format!("assumed: {what}"),
        }
    }

    /// The table's "from" cell.
    pub fn short(&self) -> &'static str {
        match self {
            Source::Measured { like: None, .. } => "meas",
            Source::Scenario { like: None, .. } => "scen",
            Source::Measured { like: Some(_), .. } | Source::Scenario { like: Some(_), .. } => {
                "like"
            }
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
    /// Figures measured as a whole by `scenario.*` (with the profile's
    /// working set), used before the ingredient sums they stand for.
    pub scenario: ScenarioFigures,
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

/// Whether a cost adds the refill R(W) or a part already holds it.
#[derive(Clone, Copy)]
enum Refill<'a> {
    /// R(W) with the flush; None: not known (left out, and said so).
    Add(Option<&'a Figure>),
    /// A `measured (scenario)` part that includes the refill.
    Included,
}

/// The status quo: every flush event interrupts the CPU, then it refills.
fn price_ipi(p: &Profile, ing: &Ingredients) -> Outcome {
    let f = p.flush_events_per_sec;
    if let Some(x) = &ing.scenario.ipi_event {
        return figures(f, &[x], &[], 0.0, Refill::Included);
    }
    let Some(i) = &ing.ipi else {
        return Outcome::Missing(
            "no ipi.* result and no published IPI figure for this core (measure it: `entrybench run`)"
                .into(),
        );
    };
    figures(f, &[i], &[], 0.0, Refill::Add(ing.refill.as_ref()))
}

/// A broadcast flush: no interruption, the refill remains.
fn price_invlpgb(p: &Profile, ing: &Ingredients) -> Outcome {
    match &ing.refill {
        Some(r) => figures(p.flush_events_per_sec, &[], &[], 0.0, Refill::Add(Some(r))),
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
    let sc = &ing.scenario;
    let refill = Refill::Add(ing.refill.as_ref());
    match work {
        // TLB-flush IPIs stay: priced as the status quo.
        EntryWork::TlbIpisStay => price_ipi(p, ing),
        EntryWork::CatchUpNeedsPti => Outcome::Missing(
            "what its catch-up at entry costs could not be re-read: not priced".into(),
        ),
        EntryWork::FlushEveryEntry => {
            if let Some(x) = &sc.on_entry {
                always.push(x);
                return figures(s, &always, &[], 0.0, Refill::Included);
            }
            let e = match flush() {
                Ok(e) => e,
                Err(o) => return o,
            };
            always.push(e);
            figures(s, &always, &[], 0.0, refill)
        }
        EntryWork::FlushWhenPending => {
            // The flush (and refill) only on entries that follow a
            // deferred flush: at most one per flush event.
            let share = if s > 0.0 {
                p.flush_events_per_sec.min(s) / s
            } else {
                0.0
            };
            if let (Some(c), Some(x)) = (&sc.deferred_check, &sc.deferred_event) {
                always.push(c);
                return figures(s, &always, &[x], share, Refill::Included);
            }
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
            figures(s, &always, &[e], share, refill)
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
    refill: Refill,
) -> Outcome {
    let mut parts: Vec<Figure> = always.iter().map(|f| (*f).clone()).collect();
    let mut later: Vec<Figure> = pending.iter().map(|f| (*f).clone()).collect();
    let mut left_out = Vec::new();
    match refill {
        Refill::Included => {}
        Refill::Add(Some(r)) if pending.is_empty() => parts.push(r.clone()),
        Refill::Add(Some(r)) => later.push(r.clone()),
        Refill::Add(None) => left_out.push("R(W): no refill.wN result".to_string()),
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

#[cfg(test)]
pub(crate) mod tests;
