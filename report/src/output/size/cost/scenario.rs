//! Measured (scenario) figures for the cost model: a `scenario.*` result
//! that walked the profile's working set measured a whole sum of
//! ingredients at once (the interruption or flush and the refill it
//! causes, on the same loop), so where one exists it stands for that sum,
//! labelled `measured (scenario)` (`crate::output::scenario::LABEL`). This is the
//! one place that picks them; `cost::price_*` use them before any
//! ingredient arithmetic.
//!
//! A scenario gives the mean cost of a flush event, not its tail: the
//! worst case of an event figure is the ingredients' p99 sum where those
//! are all known (said in the figure's note), else it is left unknown (a
//! lower bound).

use super::ingredients::{measured_with_pti_off, IPI_ORDER};
use super::{Figure, Ingredients, Source};
use crate::model::ids::{ExperimentId, FlushVariant, Trigger};
use crate::model::machine::Machine;
use crate::model::units::{self, TscCycles};
use crate::output::scenario::{measured_cost, MeasuredCost};

/// The scenario figures of one CPU, each replacing a sum of `EQUATIONS`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScenarioFigures {
    /// I + R(W): victim time lost per IPI flush event.
    pub ipi_event: Option<Figure>,
    /// E + R(W): what every entry pays when every entry flushes.
    pub on_entry: Option<Figure>,
    /// C: the proposal's check, per entry.
    pub deferred_check: Option<Figure>,
    /// E + R(W) of the proposal: what one deferred flush costs.
    pub deferred_event: Option<Figure>,
}

impl ScenarioFigures {
    /// Every figure, for `--explain`.
    pub fn all(&self) -> impl Iterator<Item = &Figure> {
        [
            &self.ipi_event,
            &self.on_entry,
            &self.deferred_check,
            &self.deferred_event,
        ]
        .into_iter()
        .flatten()
    }
}

/// The scenario triggers of the series' flush on every entry, best first:
/// the `series` variant (the module picks what the series picks), then
/// the variant the series uses on this CPU.
pub fn on_entry_triggers(has_invpcid: bool) -> [Trigger; 2] {
    [FlushVariant::Series, FlushVariant::of_series(has_invpcid)].map(Trigger::OnEntry)
}

/// The scenario figures of `m` for a working set of `w` pages; the
/// ingredients `ing` give the worst cases of the event figures.
pub fn pick(m: &Machine, w: u64, has_invpcid: bool, ing: &Ingredients) -> ScenarioFigures {
    let hz = m.tsc_hz();
    // A row of this working set, of a clock that converts to time; rows
    // of the entry strategies measured with PTI off are not the series'
    // cost (`measured_with_pti_off`).
    let cost = |trigger: Trigger| -> Option<MeasuredCost> {
        let e = m.get(&ExperimentId::Scenario(trigger))?;
        let c = measured_cost(e, hz)?;
        (c.pages == w && !(c.emulated && measured_with_pti_off(m, e))).then_some(c)
    };
    let ns = |c: f64| units::cycles_to_ns(TscCycles(c), hz);
    let refill_p99 = ing.refill.as_ref().and_then(|r| r.p99_ns);
    let tail = |p99: Option<f64>, what: &str| -> (Option<f64>, String) {
        match p99.zip(refill_p99) {
            Some((a, r)) => (Some(a + r), format!("p99 from the ingredients: {what}")),
            None => (None, "no p99: a scenario gives a mean per event".into()),
        }
    };
    let mut out = ScenarioFigures::default();
    let ipi = IPI_ORDER
        .iter()
        .find_map(|i| cost(Trigger::Ipi(*i)).filter(|c| c.per_event_cycles.is_some()));
    if let Some(c) = ipi {
        let (p99, how) = tail(ing.ipi.as_ref().and_then(|i| i.p99_ns), "I_p99 + R(W)");
        out.ipi_event = figure(
            &format!("I+R({w})"),
            ns(c.per_event_cycles.unwrap_or(0.0)),
            p99,
            &c,
            &format!("victim time lost per flush event, walking {w} pages; {how}"),
        );
    }
    if let Some(c) = on_entry_triggers(has_invpcid).into_iter().find_map(cost) {
        out.on_entry = figure(
            &format!("E+R({w})"),
            ns(c.per_iteration_cycles),
            ns(c.tail_cycles),
            &c,
            &format!(
                "median change per iteration (an entry that flushes, then a walk of {w} pages); \
                 p99: the p99 iteration minus the baseline median"
            ),
        );
    }
    if let Some(c) = cost(Trigger::Deferred).filter(|c| c.per_event_cycles.is_some()) {
        out.deferred_check = figure(
            "C",
            ns(c.per_iteration_cycles),
            ns(c.tail_cycles),
            &c,
            "median change per iteration: the check on every entry, in the module's ioctl",
        );
        let (p99, how) = tail(ing.flush.as_ref().and_then(|e| e.p99_ns), "E_p99 + R(W)");
        out.deferred_event = figure(
            &format!("E+R({w})"),
            ns(c.per_event_cycles.unwrap_or(0.0)),
            p99,
            &c,
            &format!("victim time lost per deferred flush, walking {w} pages; {how}"),
        );
    }
    out
}

fn figure(
    symbol: &str,
    ns: Option<f64>,
    p99_ns: Option<f64>,
    c: &MeasuredCost,
    note: &str,
) -> Option<Figure> {
    Some(Figure {
        symbol: symbol.into(),
        ns: ns?,
        p99_ns,
        source: Source::Scenario {
            id: c.id.to_string(),
            like: None,
            emulated: c.emulated,
        },
        note: Some(note.into()),
    })
}
