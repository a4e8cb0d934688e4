//! The numbers of a `scenario.*` run: chunk plan, per-side histograms,
//! chunk figures, and the result (`schema::ScenarioStats` plus the
//! experiment's summary, baseline and blocks).

use super::ipi::{preemption_cycles, Counts, Fired, PREEMPTION_S};
use super::record::{self, finite, params};
use super::scenario::CallCounts;
use super::Ctx;
use crate::schema::{self, ClockKind, ExperimentId, Histogram, IrqRow, ScenarioStats, Throughput};
use report::model::stats;
use std::time::Duration;
use workloads::scenario::{outlier_bound, Chunk, Recorder, BINS};

/// Chunks last about this long (at least `stats::MIN_BLOCKS` pairs): short
/// enough that a cancel or an initiator error stops a run quickly, long
/// enough for many events per chunk.
const CHUNK_TARGET: Duration = Duration::from_millis(500);

/// How a scenario's time is cut into chunks.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Plan {
    /// Triggered/baseline chunk pairs (`scenario.none`: chunks).
    pub pairs: usize,
    pub chunk: Duration,
    pub chunk_cycles: u64,
    /// Iterations longer than this (TSC cycles) were preemptions.
    pub long_cycles: u64,
    pub tsc_hz: f64,
}

impl Plan {
    pub fn new(duration: Duration, tsc_hz: f64) -> Plan {
        let by_time = (duration.as_secs_f64() / CHUNK_TARGET.as_secs_f64()).ceil() as usize;
        let pairs = by_time.max(stats::MIN_BLOCKS);
        let chunk = duration / pairs as u32;
        Plan {
            pairs,
            chunk,
            chunk_cycles: (chunk.as_secs_f64() * tsc_hz) as u64,
            long_cycles: preemption_cycles(tsc_hz),
            tsc_hz,
        }
    }

    /// Time of one side (all triggered chunks, or all baseline chunks).
    pub fn total(&self) -> Duration {
        self.chunk * self.pairs as u32
    }

    /// Enough for every iteration of a chunk to be long (a big working
    /// set): the recorder never drops one.
    pub fn outlier_capacity(&self) -> usize {
        outlier_bound(self.chunk_cycles) + 16
    }
}

/// One chunk's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct ChunkFig {
    pub iterations: u64,
    /// Victim TSC time of the chunk (the iterations back to back).
    pub cycles: u64,
    pub preempted: u64,
    pub preempted_cycles: u64,
    pub overlapped: u64,
    /// Overlapped iterations that were not preemptions, and their cycles.
    pub overlapped_short: u64,
    pub overlapped_short_cycles: u64,
    pub events: u64,
    /// `workloads::scenario::Chunk::event_groups`.
    pub event_groups: u64,
    /// Median iteration time, cycles.
    pub median: f64,
}

impl ChunkFig {
    fn busy(&self) -> (f64, u64) {
        (
            self.cycles.saturating_sub(self.preempted_cycles) as f64,
            self.iterations.saturating_sub(self.preempted),
        )
    }
}

/// All chunks of one side: a per-cycle histogram, the long iterations,
/// and each chunk's figures in run order.
pub(super) struct Side {
    counts: Vec<u64>,
    long: Vec<u64>,
    pub dropped: u64,
    pub chunks: Vec<ChunkFig>,
    /// The victim CPU's (TLB, CAL) deltas over the side's chunks; None
    /// once a read of /proc/interrupts failed.
    pub interrupts: Option<(u64, u64)>,
    /// What the victim's own entry call did (a backend's call only).
    pub calls: Option<CallCounts>,
}

impl Side {
    pub fn new() -> Side {
        Side {
            counts: vec![0; BINS],
            long: Vec::new(),
            dropped: 0,
            chunks: Vec::new(),
            interrupts: Some((0, 0)),
            calls: None,
        }
    }

    /// Adds the interrupt counts read around one chunk.
    pub fn add_counts(&mut self, c: Option<(Counts, Counts)>) {
        self.interrupts = match (self.interrupts, c) {
            (Some((t, k)), Some((a, b))) => Some((
                t + b.tlb.saturating_sub(a.tlb),
                k + b.cal.saturating_sub(a.cal),
            )),
            _ => None,
        };
    }

    /// Adds a chunk's recorder to the side (outside any timed region).
    pub fn fold(&mut self, rec: &Recorder, c: &Chunk, long_cycles: u64) {
        let mut long: Vec<u64> = rec.outliers().iter().map(|g| g.cycles).collect();
        long.sort_unstable();
        let n: u64 = rec.counts().iter().sum::<u64>() + long.len() as u64;
        let (lo, hi) = (n.saturating_sub(1) / 2, n / 2);
        let (mut vlo, mut vhi, mut cum) = (None, None, 0u64);
        for (i, (&k, total)) in rec.counts().iter().zip(self.counts.iter_mut()).enumerate() {
            if k == 0 {
                continue;
            }
            *total += k;
            cum += k;
            if vlo.is_none() && cum > lo {
                vlo = Some(i as f64);
            }
            if vhi.is_none() && cum > hi {
                vhi = Some(i as f64);
            }
        }
        let in_long = |r: u64| long.get((r - cum) as usize).map(|&v| v as f64);
        let vlo = vlo.or_else(|| in_long(lo));
        let vhi = vhi.or_else(|| in_long(hi));
        let pre: Vec<u64> = long.iter().copied().filter(|&v| v > long_cycles).collect();
        self.chunks.push(ChunkFig {
            iterations: c.iterations,
            cycles: c.end.wrapping_sub(c.start),
            preempted: pre.len() as u64,
            preempted_cycles: pre.iter().sum(),
            overlapped: c.overlapped,
            overlapped_short: c.overlapped_short,
            overlapped_short_cycles: c.overlapped_short_cycles,
            events: c.events(),
            event_groups: c.event_groups,
            median: match (vlo, vhi) {
                (Some(a), Some(b)) => (a + b) / 2.0,
                _ => f64::NAN,
            },
        });
        self.long.extend(long);
        self.dropped += rec.dropped();
    }

    /// Every recorded iteration time.
    pub fn histogram(&self) -> Histogram {
        let mut h = Histogram::default();
        for (i, &k) in self.counts.iter().enumerate() {
            if k > 0 {
                h.values.push(i as i64);
                h.counts.push(k);
            }
        }
        let mut long = self.long.clone();
        long.sort_unstable();
        for v in long {
            if h.values.last() == Some(&(v as i64)) {
                *h.counts.last_mut().expect("parallel") += 1;
            } else {
                h.values.push(v as i64);
                h.counts.push(1);
            }
        }
        h
    }

    pub fn throughput(&self, tsc_hz: f64) -> Throughput {
        let cycles: u64 = self.chunks.iter().map(|c| c.cycles).sum();
        let iterations: u64 = self.chunks.iter().map(|c| c.iterations).sum();
        let duration_s = cycles as f64 / tsc_hz;
        Throughput {
            duration_s: finite(duration_s),
            iterations,
            iter_per_s: finite(iterations as f64 / duration_s),
            preempted: self.chunks.iter().map(|c| c.preempted).sum(),
            busy_cycles: self.chunks.iter().map(|c| c.busy().0).sum(),
        }
    }

    fn mean_iterations(&self) -> u64 {
        let n = self.chunks.len().max(1) as u64;
        self.chunks.iter().map(|c| c.iterations).sum::<u64>() / n
    }
}

/// Which iterations of a triggered chunk the lost time is taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LostFrom {
    /// Those that overlapped an event (`ScenarioStats::lost_per_event_cycles`).
    Overlapped,
    /// All of them (`ScenarioStats::chunk_lost_per_event_cycles`).
    Chunk,
}

/// Victim time lost per event, pair by pair: the triggered chunk's busy
/// time (of the iterations `from` says) minus as many iterations at the
/// paired baseline chunk's mean. Returns the pooled lost time per event
/// and its 95% CI (pairs resampled).
pub(super) fn lost_per_event(trig: &Side, base: &Side, from: LostFrom) -> (f64, [f64; 2]) {
    let (mut lost, mut events) = (Vec::new(), Vec::new());
    for (t, b) in trig.chunks.iter().zip(&base.chunks) {
        let (tc, tn) = match from {
            LostFrom::Chunk => t.busy(),
            LostFrom::Overlapped => (t.overlapped_short_cycles as f64, t.overlapped_short),
        };
        let (bc, bn) = b.busy();
        if bn == 0 {
            continue;
        }
        lost.push(tc - tn as f64 * (bc / bn as f64));
        events.push(t.events as f64);
    }
    let pooled = lost.iter().sum::<f64>() / events.iter().sum::<f64>();
    (pooled, stats::ratio_ci95(&lost, &events))
}

/// What fired the events, for the result.
pub(super) struct TriggerInfo {
    pub trigger: report::model::ids::Trigger,
    pub describe: String,
    /// None: no initiator (the victim's call is the strategy).
    pub initiator_cpu: Option<u32>,
    /// Iterations after an event still counted as overlapping it.
    pub trail: u64,
    /// The baseline chunks' iteration, when it is not the triggered one.
    pub baseline_call: Option<String>,
    /// How long the initiator took to be on its CPU (the chunks waited).
    pub initiator_ready_after: Option<Duration>,
}

const OVERLAP_RULE: &str = "an iteration overlapped an event when the initiator's event \
                            sequence number was odd at its start or changed during it";
const ORDER: &str = "chunk pairs in ABBA order (baseline first in even pairs), trigger armed \
                     only in triggered chunks";

/// `scenario.none`.
pub(super) fn none_experiment(
    ctx: &Ctx,
    id: ExperimentId,
    iteration: &str,
    plan: &Plan,
    side: Side,
) -> schema::Experiment {
    let medians: Vec<f64> = side.chunks.iter().map(|c| c.median).collect();
    let blocks = stats::blocks(side.mean_iterations(), medians);
    let mut p = common_params(ctx, iteration, plan, &side);
    p.insert("interrupts".into(), interrupts(&side));
    let e = record::measured_histogram(id, "user", p, side.histogram());
    let mut e = record::with_blocks(e, blocks);
    e.scenario = Some(ScenarioStats {
        trigger: report::model::ids::Trigger::None.into(),
        iteration: iteration.into(),
        pages: ctx.cfg.scenario_pages as u64,
        rate_hz: 0.0,
        events: 0,
        overlapped: 0,
        run: side.throughput(plan.tsc_hz),
        baseline: None,
        lost_per_event_cycles: None,
        lost_per_event_ci95: None,
        chunk_lost_per_event_cycles: None,
    });
    e.notes = notes(ctx, &side, None);
    e
}

/// A triggered scenario with its interleaved baseline.
pub(super) fn triggered_experiment(
    ctx: &Ctx,
    id: ExperimentId,
    iteration: &str,
    plan: &Plan,
    about: &TriggerInfo,
    sides: [Side; 2],
    fired: &Fired,
) -> schema::Experiment {
    let [trig, base] = sides;
    let hist = trig.histogram();
    let level = stats::summarize_histogram(&hist).median;
    let deltas: Vec<f64> = trig
        .chunks
        .iter()
        .zip(&base.chunks)
        .map(|(t, b)| t.median - b.median)
        .collect();
    let blocks = stats::blocks_relative_to(trig.mean_iterations(), deltas, level);
    let (lost, lost_ci) = lost_per_event(&trig, &base, LostFrom::Overlapped);
    let (chunk_lost, _) = lost_per_event(&trig, &base, LostFrom::Chunk);
    let mut p = common_params(ctx, iteration, plan, &trig);
    trigger_params(&mut p, plan, about, &trig, &base, fired);
    let e = record::measured_histogram(id, about.trigger.backend(), p, hist);
    let mut e = record::with_block_delta_histogram(
        e,
        "no trigger: the interleaved baseline chunks",
        base.histogram(),
        blocks,
    );
    let events: u64 = trig.chunks.iter().map(|c| c.events).sum();
    e.scenario = Some(ScenarioStats {
        trigger: about.trigger.clone().into(),
        iteration: iteration.into(),
        pages: ctx.cfg.scenario_pages as u64,
        rate_hz: ctx.cfg.ipi_rate_hz,
        events,
        overlapped: trig.chunks.iter().map(|c| c.overlapped).sum(),
        run: trig.throughput(plan.tsc_hz),
        baseline: Some(base.throughput(plan.tsc_hz)),
        lost_per_event_cycles: (events > 0).then_some(finite(lost)),
        lost_per_event_ci95: (events > 0).then_some([finite(lost_ci[0]), finite(lost_ci[1])]),
        chunk_lost_per_event_cycles: (events > 0).then_some(finite(chunk_lost)),
    });
    let mut n = notes(ctx, &trig, Some(about));
    if base.chunks.iter().any(|c| c.events > 0) {
        n.push(
            "some baseline chunks saw an event begin: the gate leaked (see baseline_events)".into(),
        );
    }
    e.notes.extend(n);
    e
}

fn common_params(
    ctx: &Ctx,
    iteration: &str,
    plan: &Plan,
    side: &Side,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    params([
        ("iteration", iteration.into()),
        ("pages", ctx.cfg.scenario_pages.into()),
        ("victim_cpu", ctx.placement.victim_cpu.into()),
        ("chunks_per_side", plan.pairs.into()),
        ("chunk_ms", (plan.chunk.as_secs_f64() * 1e3).into()),
        (
            "timing",
            "iterations timed back to back, one fenced TSC read each (included in the time)".into(),
        ),
        (
            "preemption_rule",
            format!(
                "an iteration over {} ms is a preemption of the victim: counted, and left out of the lost time",
                PREEMPTION_S * 1e3
            )
            .into(),
        ),
        ("outliers_dropped", side.dropped.into()),
        ("clock", ClockKind::Tsc.into()),
    ])
}

fn trigger_params(
    p: &mut std::collections::BTreeMap<String, serde_json::Value>,
    plan: &Plan,
    about: &TriggerInfo,
    trig: &Side,
    base: &Side,
    fired: &Fired,
) {
    let o = fired.windows.iter().map(|&(a, b)| b.wrapping_sub(a) as i64);
    let mut calls: Vec<i64> = o.collect();
    let secs = plan.total().as_secs_f64();
    let sum = |s: &Side, f: fn(&ChunkFig) -> u64| -> u64 { s.chunks.iter().map(f).sum() };
    for (k, v) in [
        ("trigger", about.describe.clone().into()),
        ("initiator_cpu", about.initiator_cpu.into()),
        (
            "initiator_ready_ms",
            about
                .initiator_ready_after
                .map(|d| d.as_secs_f64() * 1e3)
                .into(),
        ),
        ("order", ORDER.into()),
        ("overlap_rule", OVERLAP_RULE.into()),
        (
            "lost_per_event_rule",
            "per chunk pair: the overlapped iterations' time - as many iterations at the baseline chunk's mean, summed, / events (chunk_lost_per_event: the same over whole chunks)".into(),
        ),
        ("events_fired", fired.windows.len().into()),
        ("events_seen_by_victim", sum(trig, |c| c.events).into()),
        ("baseline_events", sum(base, |c| c.events).into()),
        ("baseline_overlapped", sum(base, |c| c.overlapped).into()),
        ("achieved_rate_hz", finite(fired.windows.len() as f64 / secs).into()),
        ("pool_reset_ipis", fired.reset_ipis.into()),
        ("interrupts_triggered", interrupts(trig)),
        ("interrupts_baseline", interrupts(base)),
        (
            "initiator_median_cycles",
            finite(stats::summarize(&mut calls).median).into(),
        ),
        ("method", about.trigger.method().into()),
        ("overlap_trail_iterations", about.trail.into()),
        ("baseline_iteration", about.baseline_call.clone().into()),
        (
            "victim_calls",
            serde_json::json!({"triggered": call_counts(trig), "baseline": call_counts(base)}),
        ),
        (
            "cal_excess",
            cal_excess(trig, base).map_or(serde_json::Value::Null, Into::into),
        ),
        (
            "cal_excess_per_event",
            cal_excess(trig, base)
                .filter(|_| sum(trig, |c| c.events) > 0)
                .map_or(serde_json::Value::Null, |x| {
                    finite(x as f64 / sum(trig, |c| c.events) as f64).into()
                }),
        ),
        (
            "cal_excess_rule",
            "CAL IPIs on the victim CPU in the triggered chunks minus those in the baseline \
             chunks (as long): the IPIs the trigger sent it, as /proc/interrupts counts them"
                .into(),
        ),
    ] {
        p.insert(k.to_string(), v);
    }
    if let Some(c) = about.trigger.ipi().map(report::model::ipi_class::class) {
        p.insert("ipi_class".into(), c.name.into());
        p.insert(
            "series_defers".into(),
            report::model::ipi_class::deferred_word(&c).into(),
        );
    }
}

/// CAL interrupts of the triggered side minus the baseline side's (the
/// sides are equally long), None without counts.
pub(super) fn cal_excess(trig: &Side, base: &Side) -> Option<i64> {
    let (t, b) = (trig.interrupts?, base.interrupts?);
    Some(t.1 as i64 - b.1 as i64)
}

/// A side's victim call counts, for params, with the event groups its
/// chunks saw (what a deferred flush count follows).
fn call_counts(s: &Side) -> serde_json::Value {
    let groups: u64 = s.chunks.iter().map(|c| c.event_groups).sum();
    s.calls.map_or(serde_json::Value::Null, |c| {
        serde_json::json!({"calls": c.calls, "flushed": c.flushed, "failed": c.failed,
            "event_groups": groups})
    })
}

/// A side's /proc/interrupts deltas on the victim CPU, for params.
fn interrupts(s: &Side) -> serde_json::Value {
    s.interrupts.map_or(
        serde_json::Value::Null,
        |(tlb, cal)| serde_json::json!({IrqRow::Tlb.name(): tlb, IrqRow::Cal.name(): cal}),
    )
}

/// What a reader must know about a scenario figure.
fn notes(ctx: &Ctx, side: &Side, about: Option<&TriggerInfo>) -> Vec<String> {
    let mut n = Vec::new();
    if let Some(a) = about.filter(|a| a.initiator_cpu.is_none()) {
        n.push(format!(
            "no initiator: nothing fires; the triggered chunks differ from the baseline chunks \
             by the victim's call ({})",
            a.baseline_call.as_deref().unwrap_or("the same in both")
        ));
    }
    if let Some(a) = about.filter(|a| a.trail > 0) {
        n.push(format!(
            "the {} iteration(s) after an event also count as overlapping it: the trigger's \
             cost lands on the victim's next entry",
            a.trail
        ));
    }
    if let Some(c) = about
        .and_then(|a| a.trigger.ipi())
        .map(report::model::ipi_class::class)
    {
        n.push(format!(
            "trigger IPIs: {} ({}); the series defers them: {}",
            c.name,
            c.path,
            report::model::ipi_class::deferred_word(&c)
        ));
    }
    let pre: u64 = side.chunks.iter().map(|c| c.preempted).sum();
    if pre > 0 {
        n.push(format!(
            "{pre} iterations over {} ms (the victim was preempted): in the percentiles and max, \
             left out of the lost time per event",
            PREEMPTION_S * 1e3
        ));
    }
    if side.dropped > 0 {
        n.push(format!(
            "{} long iterations did not fit the outlier list: missing from the percentiles",
            side.dropped
        ));
    }
    if let Some(hv) = &ctx.env.cpu.hypervisor {
        n.push(format!(
            "{hv} guest: host preemption shows in the tail; not bare metal"
        ));
    }
    if !ctx.placement.victim_isolated {
        n.push("victim CPU not isolated: ticks and other tasks add to the tail".into());
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use workloads::ipi::Gap;

    fn chunk(n: u64, cycles: u64, events: u64) -> Chunk {
        Chunk {
            iterations: n,
            start: 0,
            end: cycles,
            overlapped: events,
            seq_start: 0,
            seq_end: 2 * events,
            ..Default::default()
        }
    }

    #[test]
    fn plan_has_at_least_min_blocks_pairs() {
        let p = Plan::new(Duration::from_secs(1), 1e9);
        assert_eq!(p.pairs, stats::MIN_BLOCKS);
        assert_eq!(p.chunk, Duration::from_millis(50));
        assert_eq!(p.long_cycles, 1_000_000);
        let p = Plan::new(Duration::from_secs(60), 1e9);
        assert_eq!((p.pairs, p.chunk), (120, Duration::from_millis(500)));
        assert_eq!(p.total(), Duration::from_secs(60));
    }

    #[test]
    fn fold_keeps_every_iteration_and_the_chunk_median() {
        let mut rec = Recorder::new(8, u64::MAX);
        let mut side = Side::new();
        // 5 iterations: 100, 100, 200 cycles, one long (70000), one
        // preemption (2_000_000).
        rec_push(&mut rec, &[100, 100, 200, 70_000, 2_000_000]);
        side.fold(&rec, &chunk(5, 2_070_400, 0), 1_000_000);
        let c = side.chunks[0];
        assert_eq!(
            (c.median, c.preempted, c.preempted_cycles),
            (200.0, 1, 2_000_000)
        );
        assert_eq!(c.busy(), (70_400.0, 4));
        let h = side.histogram();
        assert_eq!(h.values, vec![100, 200, 70_000, 2_000_000]);
        assert_eq!(h.counts, vec![2, 1, 1, 1]);
        let t = side.throughput(1e6);
        assert_eq!((t.iterations, t.preempted, t.busy_cycles), (5, 1, 70_400.0));
        // Even counts: the mean of the middle two.
        let mut rec = Recorder::new(8, u64::MAX);
        rec_push(&mut rec, &[10, 20, 30, 40]);
        side.fold(&rec, &chunk(4, 100, 0), 1_000_000);
        assert_eq!(side.chunks[1].median, 25.0);
    }

    /// Fills a recorder as `run_chunk` would (through its public loop is
    /// not possible without a clock, so via a scripted chunk).
    fn rec_push(rec: &mut Recorder, times: &[u64]) {
        use std::sync::atomic::AtomicBool;
        use workloads::scenario::{run_chunk, ChunkEnv, EventGate, WorkingSet};
        struct Script<'a>(std::cell::Cell<usize>, &'a [u64], std::cell::Cell<u64>);
        impl workloads::Clock for Script<'_> {
            fn start(&self) -> u64 {
                self.stop()
            }
            fn stop(&self) -> u64 {
                let i = self.0.get();
                self.0.set(i + 1);
                if i > 0 {
                    self.2.set(self.2.get() + self.1[i - 1]);
                }
                self.2.get()
            }
        }
        let p = workloads::pages::Pages::new(1).unwrap();
        let clock = Script(Default::default(), times, Default::default());
        let end: u64 = times.iter().sum();
        let ws = WorkingSet {
            base: p.as_ptr(),
            pages: 1,
        };
        // SAFETY: one live page.
        let c = unsafe {
            run_chunk(
                &ChunkEnv {
                    clock: &clock,
                    gate: &EventGate::default(),
                    ws,
                    end,
                    stop: &AtomicBool::new(false),
                },
                rec,
                || {},
            )
        };
        assert_eq!(c.iterations, times.len() as u64);
        let _ = Gap::default();
    }

    #[test]
    fn interrupt_counts_add_up_and_a_failed_read_drops_them() {
        let c = |tlb, cal| Counts {
            tlb,
            cal,
            ..Default::default()
        };
        let mut s = Side::new();
        s.add_counts(Some((c(1, 10), c(3, 50))));
        s.add_counts(Some((c(5, 60), c(5, 61))));
        assert_eq!(s.interrupts, Some((2, 41)));
        assert_eq!(interrupts(&s)["CAL"], 41);
        s.add_counts(None);
        assert_eq!(s.interrupts, None);
        assert!(interrupts(&s).is_null());
    }

    #[test]
    fn lost_time_is_paired_and_per_event() {
        let mut t = Side::new();
        let mut b = Side::new();
        let fig = |n, cycles, events| ChunkFig {
            iterations: n,
            cycles,
            events,
            ..Default::default()
        };
        // Pair 1: baseline 100 cycles per iteration; triggered 90
        // iterations in 10_000 cycles with 2 events: 1000 lost, 500 each.
        b.chunks.push(fig(100, 10_000, 0));
        t.chunks.push(fig(90, 10_000, 2));
        // Pair 2: the host got slower for both: nothing lost.
        b.chunks.push(fig(50, 10_000, 0));
        t.chunks.push(fig(50, 10_000, 0));
        let (lost, ci) = lost_per_event(&t, &b, LostFrom::Chunk);
        assert_eq!(lost, 500.0);
        assert!(ci[0] <= 500.0 && ci[1] >= 500.0, "{ci:?}");
        // Overlapped: 20 iterations overlapped the two events and took
        // 2600 cycles, 600 more than 20 at the baseline's 100.
        t.chunks[0].overlapped_short = 20;
        t.chunks[0].overlapped_short_cycles = 2600;
        let (lost, _) = lost_per_event(&t, &b, LostFrom::Overlapped);
        assert_eq!(lost, 300.0);
    }
}
