//! The scenario runner end to end without the module: a victim call of
//! its own on each side, no initiator, an initiator that sends nothing,
//! the trail, and a failing call. Functional checks only (no timing
//! target): what each path records.

use super::*;
use crate::experiments::SuiteConfig;
use crate::schema::{CpuFeatures, Environment, Placement};
use crate::timer::{ClockChoice, Timer};

fn env() -> Environment {
    crate::fixtures::environment(CpuFeatures::default())
}

fn timer() -> Timer {
    Timer {
        clock: ClockChoice::Tsc,
        overhead_cycles: 0.0,
        tsc_overhead_cycles: 0.0,
        core_overhead_cycles: None,
        bench_overhead_cycles: 0.0,
        resolution_cycles: 1,
        tsc_hz: 1e9,
        tsc_hz_source: "test".into(),
        notes: vec![],
    }
}

/// `f` with a context whose victim and initiator are CPU 0, which every
/// machine has (the victim thread is not pinned).
fn with_ctx<T>(cfg: &SuiteConfig, cancel: &AtomicBool, f: impl FnOnce(&mut Ctx) -> T) -> T {
    let (env, timer) = (env(), timer());
    let placement = Placement {
        victim_cpu: 0,
        initiator_cpu: Some(0),
        victim_isolated: false,
        note: String::new(),
    };
    let mut ctx = Ctx {
        env: &env,
        timer: &timer,
        placement: &placement,
        cfg,
        cancel,
    };
    f(&mut ctx)
}

/// Runs `e` briefly (`with_ctx`).
fn run(e: &mut ScenarioExperiment) -> Result<schema::Experiment> {
    let mut cfg = SuiteConfig::quick();
    cfg.scenario_duration = Duration::from_millis(40);
    cfg.scenario_pages = 2;
    with_ctx(&cfg, &AtomicBool::new(false), |ctx| e.run(ctx))
}

/// A call that "flushes" every `every`-th time, or fails.
struct Fake {
    name: &'static str,
    every: u64,
    fail: bool,
    counts: CallCounts,
}

impl EntryCall for Fake {
    fn describe(&self) -> String {
        self.name.into()
    }
    fn call(&mut self) {
        self.counts.calls += 1;
        if self.fail {
            self.counts.failed += 1;
        } else if self.counts.calls.is_multiple_of(self.every) {
            self.counts.flushed += 1;
        }
    }
    fn counts(&self) -> CallCounts {
        self.counts
    }
}

fn fake(name: &'static str, every: u64, fail: bool) -> VictimCall {
    VictimCall::Custom(Box::new(move || {
        Ok(Box::new(Fake {
            name,
            every,
            fail,
            counts: CallCounts::default(),
        }) as Box<dyn EntryCall>)
    }))
}

/// A trigger no suite runs (a flush variant of no module): no IPI class,
/// no note about one.
fn test_trigger(name: &str) -> ids::Trigger {
    ids::Trigger::OnEntry(ids::FlushVariant::Other(name.into()))
}

/// An initiator that sends nothing.
struct Quiet;

impl Initiator for Quiet {
    fn method(&self) -> String {
        "quiet".into()
    }
    fn row(&self) -> ipi::IrqRow {
        ipi::IrqRow::Cal
    }
    fn describe(&self) -> String {
        "nothing".into()
    }
    fn fire(&mut self) -> Result<()> {
        Ok(())
    }
}

#[test]
fn a_victim_only_strategy_runs_each_side_with_its_own_call() {
    let mut e = ScenarioExperiment::triggered(Trigger::victim_only(test_trigger("fake")))
        .with_call(fake("flushing call", 1, false))
        .with_baseline_call(fake("plain call", u64::MAX, false))
        .with_finish(Box::new(|_, e| {
            e.notes.push("finished".into());
            Ok(())
        }));
    assert_eq!(e.id().to_string(), "scenario.kmod.on_entry.fake");
    let r = run(&mut e).unwrap();
    let s = r.scenario.as_ref().unwrap();
    assert!(s.iteration.starts_with("flushing call + walk of 2 pages"));
    assert_eq!((s.events, s.lost_per_event_cycles), (0, None));
    let b = s.baseline.as_ref().unwrap();
    assert!(s.run.iterations > 0 && b.iterations > 0);
    let calls = &r.params["victim_calls"];
    // Every triggered call flushed, no baseline call did; one call per
    // iteration.
    assert_eq!(calls["triggered"]["calls"], s.run.iterations);
    assert_eq!(calls["triggered"]["flushed"], s.run.iterations);
    assert_eq!(calls["baseline"]["flushed"], 0);
    assert_eq!(calls["baseline"]["calls"], b.iterations);
    assert!(r.params["initiator_cpu"].is_null());
    assert!(r.params["initiator_ready_ms"].is_null());
    assert!(r.params["baseline_iteration"]
        .as_str()
        .unwrap()
        .starts_with("plain call"));
    assert!(r.notes.iter().any(|n| n.starts_with("no initiator")));
    assert_eq!(r.notes.last().map(String::as_str), Some("finished"));
    assert!(r.baseline.is_some());
}

#[test]
fn an_initiator_with_a_trail_counts_the_next_iterations() {
    let quiet = |trail| {
        let make: Factory = Box::new(|| Ok(Box::new(Quiet) as Box<dyn Initiator>));
        ScenarioExperiment::triggered(Trigger::new(test_trigger("quiet"), make))
            .with_call(fake("checking call", 2, false))
            .with_trail(trail)
    };
    let r = run(&mut quiet(1)).unwrap();
    let s = r.scenario.as_ref().unwrap();
    assert!(s.events > 0 && s.overlapped >= s.events, "{s:?}");
    assert_eq!(r.params["overlap_trail_iterations"], 1);
    // The chunks waited for the initiator: its wait is recorded.
    assert!(r.params["initiator_ready_ms"].as_f64().unwrap() >= 0.0);
    assert!(r.params["baseline_iteration"].is_null());
    assert!(r.notes.iter().any(|n| n.contains("also count")));
    // Without counts (a host without /proc/interrupts) the excess is null.
    let ex = &r.params["cal_excess_per_event"];
    assert!(ex.is_null() || ex.is_number(), "{ex}");
    // The trail reaches the victim's recorder (its exact rule is
    // workloads::scenario's test): a trail longer than any chunk counts
    // every iteration after a chunk's first event, and the initiator
    // fires as soon as a chunk is armed.
    let r = run(&mut quiet(1 << 40)).unwrap();
    let s = r.scenario.as_ref().unwrap();
    assert!(s.overlapped >= s.run.iterations / 4, "{s:?}");
}

#[test]
fn failed_victim_calls_fail_the_run() {
    let mut e = ScenarioExperiment::triggered(Trigger::victim_only(test_trigger("broken")))
        .with_call(fake("failing call", 1, true))
        .with_baseline_call(fake("plain call", 1, false));
    let err = run(&mut e).unwrap_err().to_string();
    assert!(
        err.contains("victim calls of the triggered chunks failed"),
        "{err}"
    );
}

#[test]
fn the_chunks_wait_for_the_initiator_or_its_end() {
    let cancel = AtomicBool::new(false);
    with_ctx(&SuiteConfig::quick(), &cancel, |ctx| {
        let (ready, finished) = (AtomicBool::new(false), AtomicBool::new(false));
        // Ready late: the wait lasts until then (compared by the moment
        // each side saw, not by a length: this thread may be preempted
        // between the spawn and the wait's own clock).
        let (set_at, back_at) = std::thread::scope(|s| {
            let setter = s.spawn(|| {
                std::thread::sleep(Duration::from_millis(30));
                let at = Instant::now();
                ready.store(true, Ordering::Release);
                at
            });
            wait_ready(ctx, &ready, &finished, 3).unwrap();
            let back_at = Instant::now();
            (setter.join().unwrap(), back_at)
        });
        assert!(back_at >= set_at, "returned before the initiator was ready");
        // Gone before ready: an error at once, not the whole time-out.
        ready.store(false, Ordering::Release);
        finished.store(true, Ordering::Release);
        let t0 = Instant::now();
        let e = wait_ready(ctx, &ready, &finished, 3).unwrap_err();
        assert!(e.to_string().contains("stopped before it was ready"), "{e}");
        assert!(t0.elapsed() < INITIATOR_START_MAX / 2);
        // Cancelled: the run says interrupted, at once.
        finished.store(false, Ordering::Release);
        cancel.store(true, Ordering::Relaxed);
        let t0 = Instant::now();
        let e = wait_ready(ctx, &ready, &finished, 3).unwrap_err();
        assert!(
            matches!(e.downcast_ref::<Stop>(), Some(Stop::Cancelled)),
            "{e}"
        );
        assert!(t0.elapsed() < INITIATOR_START_MAX / 2);
    });
}

#[test]
fn a_trigger_that_never_fired_is_no_result() {
    let plan = Plan::new(Duration::from_millis(300), 1e9);
    let none = Fired::default();
    let e = fired_any(&none, 300.0, &plan, 5).unwrap_err().to_string();
    assert!(
        e.contains("CPU 5 fired no event") && e.contains("300 planned"),
        "{e}"
    );
    // At a rate so low that no event was due, none fired is no error.
    fired_any(&none, 1.0, &plan, 5).unwrap();
    let one = Fired {
        windows: vec![(1, 2)],
        ..Fired::default()
    };
    fired_any(&one, 300.0, &plan, 5).unwrap();
}
