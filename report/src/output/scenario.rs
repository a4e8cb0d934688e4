//! The head-to-head (`scenario.*`) as the report, compare and size read
//! it: the per-machine tables, the A/B table, the measured cost of each
//! strategy per flush event (what `size` uses where it exists, labelled
//! [`LABEL`]), and the lines `run` prints.
//!
//! "vs base" is always against the baseline chunks of the same experiment
//! (no trigger, interleaved with the triggered chunks), not against the
//! separate `scenario.none` row, so host drift hits both alike.

use crate::model::ids::{self, ExperimentId, ScenarioTrigger, Trigger};
use crate::model::machine::Machine;
use crate::model::schema::{Experiment, ResultFile, ScenarioStats};
use crate::model::units::{self, count, ns, num, signed};
use crate::output::text_table::Table;

/// How `size` labels a figure taken from a scenario.
pub const LABEL: &str = "measured (scenario)";

/// Which strategy of keeping the TLB coherent a scenario trigger is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// scenario.none
    Baseline,
    /// An IPI per flush event: `user.*`, `kernel.text_poke`, `kmod.*`
    /// IPI methods. (backend, method)
    Ipi(String, String),
    /// `kmod.on_entry.<variant>`: every entry flushes, no IPI.
    OnEntry(String),
    /// `kmod.deferred`: a pending bit, flushed at the next entry.
    Deferred,
}

impl Strategy {
    /// The strategy of a trigger (user.mprotect: an IPI,
    /// kmod.on_entry.invpcid2: flush on entry).
    pub fn of_trigger(t: &ScenarioTrigger) -> Strategy {
        match t {
            ScenarioTrigger::Known(Trigger::None) => Strategy::Baseline,
            ScenarioTrigger::Known(Trigger::OnEntry(v)) => Strategy::OnEntry(v.to_string()),
            ScenarioTrigger::Known(Trigger::Deferred) => Strategy::Deferred,
            ScenarioTrigger::Known(Trigger::Ipi(i)) => {
                Strategy::Ipi(i.backend().into(), i.method().into())
            }
            // A trigger this version does not know: an IPI of its name.
            ScenarioTrigger::Unknown(t) => {
                let (b, m) = t.split_once('.').unwrap_or(("", t));
                Strategy::Ipi(b.to_string(), m.to_string())
            }
        }
    }
}

/// The scenario results of a machine, in table order: none first, then
/// the triggers as the suite runs them.
fn rows<'a>(m: &Machine<'a>) -> Vec<(&'a Experiment, &'a ScenarioStats)> {
    let mut v: Vec<(&Experiment, &ScenarioStats)> = m
        .experiments
        .values()
        .filter(|e| matches!(ids::kind(e), ExperimentId::Scenario(_)))
        .filter_map(|e| e.scenario.as_ref().map(|s| (*e, s)))
        .collect();
    v.sort_by_key(|(_, s)| rank(&s.trigger));
    v
}

/// Table order: the trigger's kind (`ScenarioTrigger::rank`; a trigger
/// this version does not know last), then its name.
fn rank(trigger: &ScenarioTrigger) -> (usize, String) {
    (trigger.rank(), trigger.to_string())
}

/// Iterations per second as a short figure ("3.41M").
fn rate(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// Relative change in percent, signed.
fn change(new: f64, old: f64) -> String {
    if old == 0.0 || !old.is_finite() || !new.is_finite() {
        return "-".into();
    }
    let v = (new - old) / old * 100.0;
    if v > 0.0 {
        format!("+{}", units::pct(v))
    } else {
        units::pct(v)
    }
}

/// µs with the table's number format, from TSC cycles only (`e.tsc`).
fn us(cycles: Option<units::TscCycles>, hz: f64) -> String {
    cycles
        .and_then(|c| units::cycles_to_ns(c, hz))
        .map(|n| num(n / 1000.0))
        .unwrap_or_else(|| "-".into())
}

/// The report's scenario tables for one machine (none when it has no
/// scenario results): the figures, their change against none, and the
/// cost per flush event.
pub fn tables(m: &Machine) -> Vec<Table> {
    let rows = rows(m);
    if rows.is_empty() {
        return Vec::new();
    }
    let hz = m.tsc_hz();
    let iteration = rows[0].1.iteration.clone();
    let mut t = Table::new(
        &format!(
            "Scenario: per iteration ({iteration}) while flush events fire; vs base: iter/s \
             against the row's own no-trigger chunks, interleaved with its triggered ones (the \
             none row is a separate run of the same loop, not the base)"
        ),
        &[
            "strategy", "iter/s", "p50 ns", "p99 ns", "p99.9 ns", "max us", "vs base",
        ],
    );
    let mut d = Table::new(
        "Scenario: change against each row's base (its own no-trigger chunks)",
        &[
            "strategy", "iter/s", "p50 ns", "p99 ns", "p99.9 ns", "max us",
        ],
    );
    let mut ev = Table::new(
        "Scenario: victim time lost per flush event (iterations that overlapped one)",
        &[
            "strategy",
            "events",
            "per s",
            "overlap/ev",
            "lost us",
            "CI95 us",
        ],
    );
    for (e, s) in &rows {
        let sm = &e.summary;
        let vs = s
            .baseline
            .as_ref()
            .map_or("-".into(), |b| change(s.run.iter_per_s, b.iter_per_s));
        t.push(vec![
            s.trigger.to_string(),
            rate(s.run.iter_per_s),
            ns(e.tsc(sm.median), hz),
            ns(e.tsc(sm.p99), hz),
            ns(e.tsc(sm.p999), hz),
            us(e.tsc(sm.max), hz),
            vs,
        ]);
        let (Some(b), Some(bt)) = (&e.baseline, &s.baseline) else {
            continue;
        };
        let bs = &b.summary;
        let dn = |a: f64, b: f64| {
            e.tsc(a - b)
                .and_then(|c| units::cycles_to_ns(c, hz))
                .map_or("-".into(), signed)
        };
        d.push(vec![
            s.trigger.to_string(),
            signed_rate(s.run.iter_per_s - bt.iter_per_s),
            dn(sm.median, bs.median),
            dn(sm.p99, bs.p99),
            dn(sm.p999, bs.p999),
            e.tsc(sm.max - bs.max)
                .and_then(|c| units::cycles_to_ns(c, hz))
                .map_or("-".into(), |n| signed(n / 1000.0)),
        ]);
        if s.events == 0 {
            // Nothing fired (every entry flushes): no per-event figure.
            continue;
        }
        let ci = s.lost_per_event_ci95.map_or("-".into(), |c| {
            format!("{}..{}", us(e.tsc(c[0]), hz), us(e.tsc(c[1]), hz))
        });
        ev.push(vec![
            s.trigger.to_string(),
            count(s.events),
            num(s.events as f64 / s.run.duration_s),
            num(s.overlapped as f64 / s.events as f64),
            s.lost_per_event_cycles
                .map_or("-".into(), |c| us(e.tsc(c), hz)),
            ci,
        ]);
    }
    std::iter::once(t)
        .chain([d, ev].into_iter().filter(|x| !x.is_empty()))
        .collect()
}

/// A signed change of iterations per second ("-12.3k").
fn signed_rate(v: f64) -> String {
    if v > 0.0 {
        format!("+{}", rate(v))
    } else if v < 0.0 {
        format!("-{}", rate(-v))
    } else {
        rate(v)
    }
}

/// Notes under the scenario tables.
pub fn notes(m: &Machine) -> Vec<String> {
    let rows = rows(m);
    let Some((_, first)) = rows.first() else {
        return Vec::new();
    };
    let own: Vec<String> = rows
        .iter()
        .filter(|(_, s)| s.iteration != first.iteration)
        .map(|(e, s)| {
            let base = e
                .params
                .get("baseline_iteration")
                .and_then(|v| v.as_str())
                .map_or(String::new(), |b| format!("; baseline chunks: {b}"));
            format!("{}: {}{base}", s.trigger, s.iteration)
        })
        .collect();
    let mut out = Vec::new();
    if !own.is_empty() {
        out.push(format!(
            "Scenario: these rows' victim iteration differs from the title's: {}.",
            own.join("; ")
        ));
    }
    if rows.iter().any(|(_, s)| {
        matches!(
            Strategy::of_trigger(&s.trigger),
            Strategy::OnEntry(_) | Strategy::Deferred
        )
    }) {
        out.push(
            "Scenario: kmod.on_entry.* and kmod.deferred are the module's emulation (an ioctl \
             as the victim's entry, flushing at dispatch); what every entry pays is their p50 \
             change against their base, what a deferred flush costs their lost us per event."
                .to_string(),
        );
    }
    out.extend([
        "Scenario: lost us is, per flush event, the time of the iterations that overlapped \
         one minus as many at the baseline chunks' mean (preemptions over 1 ms left out of \
         both); CI95: bootstrap over the chunk pairs. On a loaded or non-isolated CPU the CI is wide and \
         can include 0. chunk_lost_per_event in the file counts whole chunks instead (later \
         effects too, more noise). max and the tail include preemptions of the victim."
            .to_string(),
    ]);
    out
}

/// One strategy's measured cost, from one scenario result.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasuredCost {
    pub id: ExperimentId,
    pub strategy: Strategy,
    /// Working set the victim walked, pages.
    pub pages: u64,
    /// What one iteration was ("getppid ... + walk of 64 pages").
    pub iteration: String,
    /// Victim time lost per flush event, TSC cycles, with its CI (None
    /// without events: none, on_entry).
    pub per_event_cycles: Option<f64>,
    pub per_event_ci95: Option<[f64; 2]>,
    /// Per-iteration median change against none (cycles): what every
    /// kernel entry pays (the headline of on_entry and deferred).
    pub per_iteration_cycles: f64,
    /// p99 change against none, cycles.
    pub p99_delta_cycles: f64,
    /// The p99 iteration minus the baseline's median, at least the median
    /// change (cycles): a tail of what one iteration adds (the rule of
    /// the flush-on-entry figure's p99).
    pub tail_cycles: f64,
    /// Flush events per second that were fired.
    pub events_per_s: f64,
    /// The result's TSC rate, for ns.
    pub tsc_hz: f64,
    /// By the module's ioctl standing in for the kernel's entry path
    /// (on_entry, deferred), not the kernel's own path.
    pub emulated: bool,
    /// The PTI state the row was measured in (`params.pti`), where known.
    pub pti: Option<bool>,
}

/// The measured cost of every strategy a result file ran a scenario for
/// (`scenario.none` left out). `size` reads these where they exist, before
/// any ingredient arithmetic, and labels them [`LABEL`]: an IPI strategy's
/// `per_event_cycles` replaces I + R(W) when `pages` is the profile's W;
/// on-entry and deferred use `per_iteration_cycles` per entry.
pub fn measured_costs(f: &ResultFile) -> Vec<MeasuredCost> {
    f.experiments
        .iter()
        .filter_map(|e| measured_cost(e, f.timer.tsc_hz))
        .collect()
}

/// One scenario result's cost (None: not a triggered scenario, or core
/// cycles only).
pub fn measured_cost(e: &Experiment, tsc_hz: f64) -> Option<MeasuredCost> {
    let s = e.scenario.as_ref()?;
    let b = e.baseline.as_ref()?;
    // Every figure below is TSC time; a row that is not has none.
    e.tsc(0.0)?;
    let strategy = Strategy::of_trigger(&s.trigger);
    Some(MeasuredCost {
        id: e.id.clone(),
        emulated: matches!(strategy, Strategy::OnEntry(_) | Strategy::Deferred),
        strategy,
        pages: s.pages,
        iteration: s.iteration.clone(),
        per_event_cycles: s.lost_per_event_cycles,
        per_event_ci95: s.lost_per_event_ci95,
        per_iteration_cycles: b.delta_median,
        p99_delta_cycles: e.summary.p99 - b.summary.p99,
        tail_cycles: (e.summary.p99 - b.summary.median).max(b.delta_median),
        events_per_s: s.events as f64 / s.run.duration_s,
        tsc_hz,
        pti: e.params.get("pti").and_then(|v| v.as_bool()),
    })
}

/// What /proc/interrupts and the victim's own calls counted (the
/// harness's `cal_excess` and `victim_calls` params), where recorded.
fn count_lines(e: &Experiment, s: &ScenarioStats) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(x) = e.params.get("cal_excess").and_then(|v| v.as_i64()) {
        let per = if s.events > 0 {
            format!(" ({:.2} per event)", x as f64 / s.events as f64)
        } else {
            String::new()
        };
        out.push(format!(
            "  victim CAL IPIs {x:+} vs the baseline chunks{per}"
        ));
    }
    let t = e
        .params
        .get("victim_calls")
        .and_then(|v| v.get("triggered"));
    let n = |k: &str| t.and_then(|t| t.get(k)).and_then(|v| v.as_u64());
    if let (Some(f), Some(c)) = (n("flushed"), n("calls")) {
        out.push(format!("  victim entries that flushed: {f} of {c}"));
    }
    out
}

/// The A/B table of the scenarios both files ran.
pub fn compare_table(a: &ResultFile, b: &ResultFile) -> Option<Table> {
    let mut t = Table::new(
        "Scenario, A -> B (p99.9 ns; lost per flush event, us)",
        &[
            "strategy",
            "iter/s A -> B",
            "p99.9 A -> B",
            "lost/ev A -> B",
        ],
    );
    let (ha, hb) = (a.timer.tsc_hz, b.timer.tsc_hz);
    let mut ea: Vec<(&Experiment, &ScenarioStats)> = a
        .experiments
        .iter()
        .filter_map(|e| e.scenario.as_ref().map(|s| (e, s)))
        .collect();
    ea.sort_by_key(|(_, s)| rank(&s.trigger));
    for (x, sx) in ea {
        let Some(y) = b.experiments.iter().find(|e| e.id == x.id) else {
            continue;
        };
        let Some(sy) = &y.scenario else {
            continue;
        };
        let lost = |e: &Experiment, s: &ScenarioStats, hz| {
            s.lost_per_event_cycles
                .map_or("-".into(), |c| us(e.tsc(c), hz))
        };
        t.push(vec![
            sx.trigger.to_string(),
            format!("{} -> {}", rate(sx.run.iter_per_s), rate(sy.run.iter_per_s)),
            format!(
                "{} -> {}",
                ns(x.tsc(x.summary.p999), ha),
                ns(y.tsc(y.summary.p999), hb)
            ),
            format!("{} -> {}", lost(x, sx, ha), lost(y, sy, hb)),
        ]);
    }
    (!t.is_empty()).then_some(t)
}

/// Extra lines `run` prints under a scenario or burst experiment's row.
pub fn summary_lines(e: &Experiment, tsc_hz: f64) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(s) = &e.scenario {
        let vs = s.baseline.as_ref().map_or(String::new(), |b| {
            format!(" ({} vs base)", change(s.run.iter_per_s, b.iter_per_s))
        });
        out.push(format!(
            "  {} iter/s{vs}, p99.9 {} ns, max {} us",
            rate(s.run.iter_per_s),
            ns(e.tsc(e.summary.p999), tsc_hz),
            us(e.tsc(e.summary.max), tsc_hz)
        ));
        if let Some(b) = &e.baseline {
            let d = e
                .tsc(b.delta_median)
                .and_then(|c| units::cycles_to_ns(c, tsc_hz))
                .map_or("-".into(), signed);
            out.push(format!("  per iteration {d} ns vs none (median)"));
        }
        if let Some(l) = s.lost_per_event_cycles {
            out.push(format!(
                "  {} events, lost {} us per event",
                s.events,
                us(e.tsc(l), tsc_hz)
            ));
        }
        out.extend(count_lines(e, s));
    }
    if let Some(b) = e.ipi.as_ref().and_then(|i| i.burst.as_ref()) {
        out.push(format!(
            "  per event: {:.1} CAL, {:.1} gaps, lost {} us ({} ns per IPI)",
            b.cal_per_event,
            b.gaps_per_event,
            us(e.tsc(b.lost_per_event_cycles), tsc_hz),
            ns(e.tsc(b.lost_per_ipi_cycles), tsc_hz)
        ));
        out.push(format!(
            "  matched {}/{} events ({} with the victim off CPU)",
            b.events_matched,
            b.events - b.events_victim_off,
            b.events_victim_off
        ));
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::output::export::{Exporter, Text};

    #[test]
    fn strategies_from_triggers() {
        let t = |s: &str| ScenarioTrigger::Known(Trigger::from_name(s).unwrap());
        assert_eq!(Strategy::of_trigger(&t("none")), Strategy::Baseline);
        assert_eq!(
            Strategy::of_trigger(&t("kernel.text_poke")),
            Strategy::Ipi("kernel".into(), "text_poke".into())
        );
        assert_eq!(
            Strategy::of_trigger(&t("kmod.on_entry.invpcid2")),
            Strategy::OnEntry("invpcid2".into())
        );
        assert_eq!(
            Strategy::of_trigger(&t("kmod.deferred")),
            Strategy::Deferred
        );
        assert!(rank(&t("none")) < rank(&t("user.madvise")));
        assert!(rank(&t("user.munmap")) < rank(&t("kernel.text_poke")));
        assert!(rank(&t("kernel.text_poke")) < rank(&t("kmod.flush_all")));
        // Names this version cannot read: IPIs of their name, ranked last.
        let unknown = |s: &str| ScenarioTrigger::Unknown(s.into());
        assert_eq!(
            Strategy::of_trigger(&unknown("kmod.frobnicate")),
            Strategy::Ipi("kmod".into(), "frobnicate".into())
        );
        assert_eq!(
            Strategy::of_trigger(&unknown("frobnicate")),
            Strategy::Ipi(String::new(), "frobnicate".into())
        );
        assert!(rank(&t("kmod.deferred")) < rank(&unknown("aaa.frobnicate")));
    }

    use crate::model::schema::{Histogram, Throughput};

    /// A fixture file with scenario results added: none, and triggers
    /// whose iterations are `base` cycles plus `extra` on every 100th.
    pub(crate) fn with_scenarios(extra: i64) -> ResultFile {
        let mut f = crate::model::load::parse_result(include_str!(
            "../../../testdata/results/synthetic-cascadelake-baremetal-pti-off.json"
        ))
        .unwrap();
        for (t, x) in [
            ("none", 0),
            ("user.mprotect", extra),
            ("kernel.text_poke", 3 * extra),
        ] {
            push_scenario(&mut f, t, x, 0, 64);
        }
        f
    }

    /// Adds `scenario.<t>` to `f`: 10 000 iterations of about 400 cycles
    /// plus `shift` on each (0 for "none") and `x` more on every 100th
    /// (100 events of `x` lost each; on_entry: no events), beside a
    /// baseline of 400 cycles, the victim walking `pages` pages.
    pub(crate) fn push_scenario(f: &mut ResultFile, t: &str, x: i64, shift: i64, pages: u64) {
        let samples = |x: i64, shift: i64| -> Vec<i64> {
            (0..10_000)
                .map(|i| 400 + shift + i % 7 + if i % 100 == 0 { x } else { 0 })
                .collect()
        };
        let mut v = samples(x, shift);
        let mut e = f.experiments[0].clone();
        let trigger = Trigger::from_name(t).expect("a trigger this version knows");
        let triggered = trigger != Trigger::None;
        let events = matches!(
            Strategy::of_trigger(&trigger.clone().into()),
            Strategy::Ipi(..) | Strategy::Deferred
        );
        e.id = ExperimentId::Scenario(trigger.clone());
        e.params.clear();
        e.summary = crate::model::stats::summarize(&mut v);
        e.samples = Histogram::from_samples(&v);
        e.blocks = None;
        let run = Throughput {
            duration_s: 1.0,
            iterations: 10_000,
            iter_per_s: 10_000.0 - x as f64,
            ..Default::default()
        };
        if triggered {
            let mut b = samples(0, 0);
            let bh = Histogram::from_samples(&b);
            e.baseline = Some(crate::model::schema::Baseline {
                label: "no trigger".into(),
                summary: crate::model::stats::summarize(&mut b),
                samples: bh,
                delta_median: shift as f64,
                delta_ci95: [shift as f64, shift as f64],
            });
        }
        e.scenario = Some(ScenarioStats {
            trigger: trigger.into(),
            iteration: "getppid + walk of 64 pages".into(),
            pages,
            rate_hz: 1000.0,
            events: if events { 100 } else { 0 },
            overlapped: 0,
            baseline: triggered.then(|| Throughput {
                iter_per_s: 10_000.0,
                ..run.clone()
            }),
            run,
            lost_per_event_cycles: events.then_some(x as f64),
            lost_per_event_ci95: events.then_some([x as f64 * 0.9, x as f64 * 1.1]),
            chunk_lost_per_event_cycles: None,
        });
        f.experiments.push(e);
    }

    #[test]
    fn entry_strategies_have_no_event_row_and_say_what_they_call() {
        let mut f = with_scenarios(26_000);
        let on_entry = Trigger::OnEntry(ids::FlushVariant::Series).to_string();
        push_scenario(&mut f, &on_entry, 0, 900, 64);
        let e = f.experiments.last_mut().unwrap();
        let s = e.scenario.as_mut().unwrap();
        s.iteration = "ENTRY_FLUSH(series) ioctl + walk of 64 pages".into();
        e.params.insert(
            "baseline_iteration".into(),
            "ENTRY_FLUSH(nop) ioctl + walk of 64 pages".into(),
        );
        let m = &crate::model::machine::group(std::slice::from_ref(&f))[0];
        let t = tables(m);
        let rows = |i: usize| -> Vec<String> { t[i].rows.iter().map(|r| r[0].clone()).collect() };
        assert!(rows(0).contains(&on_entry) && rows(1).contains(&on_entry));
        assert!(!rows(2).contains(&on_entry), "no events: no per-event row");
        let n = notes(m).join("\n");
        assert!(
            n.contains("kmod.on_entry.series: ENTRY_FLUSH(series) ioctl"),
            "{n}"
        );
        assert!(n.contains("baseline chunks: ENTRY_FLUSH(nop)"), "{n}");
        assert!(n.contains("emulation"), "{n}");
        let e = f.experiments.last().unwrap();
        let c = measured_cost(e, f.timer.tsc_hz).unwrap();
        assert_eq!(c.strategy, Strategy::OnEntry("series".into()));
        assert!(c.emulated && c.per_event_cycles.is_none());
        assert_eq!(c.per_iteration_cycles, 900.0);
        assert!(c.tail_cycles >= 900.0);
        let lines = summary_lines(e, f.timer.tsc_hz);
        assert_eq!(lines.len(), 2, "{lines:?}");
        // With the harness's counts: one line each.
        let mut e = e.clone();
        e.params.insert("cal_excess".into(), (-2).into());
        e.params.insert(
            "victim_calls".into(),
            serde_json::json!({"triggered": {"calls": 10, "flushed": 10, "failed": 0}}),
        );
        let lines = summary_lines(&e, f.timer.tsc_hz);
        assert_eq!(lines[2], "  victim CAL IPIs -2 vs the baseline chunks");
        assert_eq!(lines[3], "  victim entries that flushed: 10 of 10");
        e.scenario.as_mut().unwrap().events = 4;
        let lines = summary_lines(&e, f.timer.tsc_hz);
        assert!(lines[2].ends_with("(-0.50 per event)"), "{lines:?}");
    }

    #[test]
    fn tables_fit_and_order() {
        let f = with_scenarios(26_000);
        let m = &crate::model::machine::group(std::slice::from_ref(&f))[0];
        let t = tables(m);
        assert_eq!(t.len(), 3);
        for table in &t {
            let text = Text.table(table);
            for l in text.lines() {
                assert!(l.chars().count() <= 72, "{l:?}");
            }
        }
        let first = Text.table(&t[0]);
        let none = first.find("\nnone").unwrap();
        assert!(none < first.find("user.mprotect").unwrap());
        assert!(first.find("user.mprotect").unwrap() < first.find("kernel.text_poke").unwrap());
        // lost per event in us at the fixture's TSC rate.
        let lost = t[2].rows.iter().find(|r| r[0] == "user.mprotect").unwrap();
        let hz = f.timer.tsc_hz;
        assert_eq!(lost[4], us(Some(units::TscCycles(26_000.0)), hz));
        assert!(!notes(m).is_empty());
    }

    #[test]
    fn costs_and_compare() {
        let (a, b) = (with_scenarios(26_000), with_scenarios(13_000));
        let c = measured_costs(&a);
        assert_eq!(c.len(), 2, "scenario.none has no cost");
        let mp = c
            .iter()
            .find(|c| c.id.to_string() == "scenario.user.mprotect")
            .unwrap();
        assert_eq!(mp.strategy, Strategy::Ipi("user".into(), "mprotect".into()));
        assert_eq!((mp.per_event_cycles, mp.pages), (Some(26_000.0), 64));
        assert_eq!(mp.events_per_s, 100.0);
        let t = compare_table(&a, &b).unwrap();
        assert_eq!(t.rows.len(), 3);
        assert!(Text.table(&t).lines().all(|l| l.chars().count() <= 72));
        let text = crate::output::compare::render_text(&crate::output::compare::compare(&a, &b));
        assert!(text.contains("Scenario, A -> B"), "{text}");
        let e = a
            .experiments
            .iter()
            .find(|e| e.id.to_string() == "scenario.user.mprotect")
            .unwrap();
        let lines = summary_lines(e, a.timer.tsc_hz);
        assert!(lines[1].contains("per iteration"), "{lines:?}");
        assert!(lines[2].contains("100 events"), "{lines:?}");
    }

    #[test]
    fn formats() {
        assert_eq!(rate(3_412_000.0), "3.41M");
        assert_eq!(rate(12_300.0), "12.3k");
        assert_eq!(change(90.0, 100.0), "-10.0%");
        assert_eq!(change(1.0, 0.0), "-");
        assert_eq!(us(Some(units::TscCycles(2400.0)), 2.4e9), "1.00");
        assert_eq!(signed_rate(-12_300.0), "-12.3k");
        assert_eq!(signed_rate(2e6), "+2.00M");
    }
}
