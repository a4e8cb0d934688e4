//! `scenario.<trigger>`: the head-to-head. The victim on the isolated CPU
//! runs an isolated task's loop, one system call plus a walk over a
//! W-page working set per iteration, every iteration timed
//! (`workloads::scenario`), for a fixed time, while an initiator on a
//! housekeeping CPU triggers flush events at the suite's rate. The victim
//! code is the same for every trigger; only the initiator differs (and,
//! for the module's entry strategies, the victim's call).
//!
//! A trigger is any [`Initiator`] (the `ipi.*` triggers are reused as
//! they are): one `fire` is one flush event. `scenario.none` fires
//! nothing. Every triggered scenario runs its own baseline: chunks with
//! the trigger disarmed, interleaved with the triggered chunks in ABBA
//! order, so both see the same host drift; its deltas against none come
//! from those chunk pairs. The numbers are reduced in `scenario_figures`.
//!
//! # Adding a trigger (e.g. the kernel module's, `experiments::kmod::scenario`)
//! - An IPI-sending or pending-bit-setting initiator: implement
//!   [`Initiator`] and add a [`Trigger`] with a factory for it
//!   (`Trigger::new(ids::Trigger::Ipi(..), factory)`).
//! - A victim whose system call is something else (the module's
//!   flush-on-entry ioctl): give the experiment a [`VictimCall`] other
//!   than the default (`ScenarioExperiment::with_call`), and, when the
//!   baseline chunks must make another call (the nop ioctl), that one
//!   too (`with_baseline_call`). A strategy with nothing to fire (every
//!   entry flushes) uses `Trigger::victim_only`.

use super::ipi::{self, DoneOnDrop, Factory, Fired, Initiator};
use super::scenario_figures::{self as figures, Plan, Side};
use super::{Ctx, Experiment, Stop};
use crate::placement::pin_current_thread;
use crate::schema::{self, ExperimentId};
use crate::timer::Tsc;
use anyhow::{anyhow, bail, Context, Result};
use report::model::ids;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use workloads::entry::EntryOp;
use workloads::pages::Pages;
use workloads::scenario::{self as ws, EventGate, Recorder, WorkingSet};

/// What makes the flush events of one scenario.
pub struct Trigger {
    /// Its name in the id (`scenario.<trigger>`).
    pub trigger: ids::Trigger,
    /// The initiator; None when nothing fires (the triggered chunks then
    /// differ from the baseline chunks by the victim's call alone).
    pub make: Option<Factory>,
}

impl Trigger {
    pub fn new(trigger: ids::Trigger, make: Factory) -> Trigger {
        Trigger {
            trigger,
            make: Some(make),
        }
    }

    /// A strategy with no initiator: only the victim's call differs in
    /// the triggered chunks (`ScenarioExperiment::with_baseline_call`).
    pub fn victim_only(trigger: ids::Trigger) -> Trigger {
        Trigger {
            trigger,
            make: None,
        }
    }
}

/// What a victim's [`EntryCall`] did over one side's chunks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallCounts {
    pub calls: u64,
    /// Calls that flushed (the module's ENTRY_FLUSH says so).
    pub flushed: u64,
    /// Calls that failed (counted, not returned: the loop stays tight).
    pub failed: u64,
}

/// A victim entry other than the suite's system call: one of the
/// module's ioctls. Built on the victim thread before the loop starts.
pub trait EntryCall {
    /// What one call does, for the result.
    fn describe(&self) -> String;
    /// One call, in the timed loop.
    fn call(&mut self);
    fn counts(&self) -> CallCounts;
}

/// Builds a fresh [`EntryCall`] for each side of each run.
pub type CallFactory = Box<dyn FnMut() -> Result<Box<dyn EntryCall>>>;

/// The system call of the victim's loop: the suite's (getppid by
/// default), or a backend's own entry.
pub enum VictimCall {
    Suite,
    Custom(CallFactory),
}

/// Work on the finished result: a backend's params and notes.
pub type Finish = Box<dyn FnMut(&Ctx, &mut schema::Experiment) -> Result<()>>;

/// One `scenario.*` id.
pub struct ScenarioExperiment {
    trigger: Option<Trigger>,
    call: VictimCall,
    /// The baseline chunks' call when it is not `call`.
    baseline_call: Option<VictimCall>,
    /// Iterations after an event still counted as overlapping it.
    trail: u64,
    finish: Option<Finish>,
}

impl ScenarioExperiment {
    pub fn none() -> ScenarioExperiment {
        ScenarioExperiment {
            trigger: None,
            call: VictimCall::Suite,
            baseline_call: None,
            trail: 0,
            finish: None,
        }
    }

    pub fn triggered(t: Trigger) -> ScenarioExperiment {
        ScenarioExperiment {
            trigger: Some(t),
            ..ScenarioExperiment::none()
        }
    }

    /// The same scenario with the victim making `call` instead of the
    /// suite's system call.
    pub fn with_call(mut self, call: VictimCall) -> ScenarioExperiment {
        self.call = call;
        self
    }

    /// The baseline chunks make `call` instead of the triggered chunks'
    /// (the nop ioctl against the flushing one).
    pub fn with_baseline_call(mut self, call: VictimCall) -> ScenarioExperiment {
        self.baseline_call = Some(call);
        self
    }

    /// `n` iterations after each event still count as overlapping it
    /// (`workloads::scenario::Recorder::with_trail`).
    pub fn with_trail(mut self, n: u64) -> ScenarioExperiment {
        self.trail = n;
        self
    }

    /// `f` runs on the result before it is returned.
    pub fn with_finish(mut self, f: Finish) -> ScenarioExperiment {
        self.finish = Some(f);
        self
    }
}

/// The scenarios that need no module, in suite order: none, the user
/// triggers of `ipi.user.*`, text patching.
pub fn userspace_all() -> Vec<ScenarioExperiment> {
    let mut v = vec![ScenarioExperiment::none()];
    for m in workloads::ipi::ALL_USER_METHODS {
        let make: Factory = Box::new(move || {
            Ok(Box::new(workloads::ipi::UserTrigger::new(m)?) as Box<dyn Initiator>)
        });
        let ipi = ids::Ipi::User(ipi::user_ipi(m));
        v.push(ScenarioExperiment::triggered(Trigger::new(
            ids::Trigger::Ipi(ipi),
            make,
        )));
    }
    let make: Factory =
        Box::new(|| Ok(Box::new(super::text_poke::TextPoke::new(false)?) as Box<dyn Initiator>));
    let text_poke = ids::Ipi::Kernel(ids::KernelIpi::TextPoke);
    v.push(ScenarioExperiment::triggered(Trigger::new(
        ids::Trigger::Ipi(text_poke),
        make,
    )));
    v
}

/// One side's call, built for a run.
pub(super) enum Caller {
    Op(EntryOp),
    Entry(Box<dyn EntryCall>),
}

impl Caller {
    fn new(c: &mut VictimCall, cfg: &super::SuiteConfig) -> Result<Caller> {
        Ok(match c {
            VictimCall::Suite => Caller::Op(EntryOp::Syscall(
                cfg.scenario_call.call(),
                cfg.syscall.call_path(),
            )),
            VictimCall::Custom(make) => Caller::Entry(make()?),
        })
    }

    fn describe(&self) -> String {
        match self {
            Caller::Op(op) => op.describe(),
            Caller::Entry(c) => c.describe(),
        }
    }

    fn counts(&self) -> Option<CallCounts> {
        match self {
            Caller::Op(_) => None,
            Caller::Entry(c) => Some(c.counts()),
        }
    }
}

impl Experiment for ScenarioExperiment {
    fn id(&self) -> ExperimentId {
        ExperimentId::Scenario(
            self.trigger
                .as_ref()
                .map_or(ids::Trigger::None, |t| t.trigger.clone()),
        )
    }

    fn run(&mut self, ctx: &mut Ctx) -> Result<schema::Experiment> {
        let cfg = ctx.cfg;
        let pages = Pages::new(cfg.scenario_pages)
            .with_context(|| format!("cannot map {} pages", cfg.scenario_pages))?;
        let set = WorkingSet {
            base: pages.as_ptr(),
            pages: pages.pages(),
        };
        let plan = Plan::new(cfg.scenario_duration, ctx.timer.tsc_hz);
        let id = self.id();
        let walk = |c: &Caller| {
            format!(
                "{} + walk of {} pages (one byte per page)",
                c.describe(),
                set.pages
            )
        };
        let gate = EventGate::default();
        let mut victim = Victim::new(ctx, &gate, set, &plan, self.trail);
        let mut e = match &mut self.trigger {
            None => {
                let mut call = Caller::new(&mut self.call, cfg)?;
                let side = run_none(ctx, &plan, &mut victim, &mut call)?;
                figures::none_experiment(ctx, id, &walk(&call), &plan, side)
            }
            Some(t) => {
                let init = match &mut t.make {
                    Some(make) => {
                        let Some(icpu) = ctx.placement.initiator_cpu else {
                            return Err(Stop::Skipped(
                                "no initiator CPU (only one CPU online)".into(),
                            )
                            .into());
                        };
                        let i = make()
                            .with_context(|| format!("cannot set up the {} trigger", t.trigger))?;
                        Some((i, icpu))
                    }
                    None => None,
                };
                let mut trig = Caller::new(&mut self.call, cfg)?;
                let mut base =
                    Caller::new(self.baseline_call.as_mut().unwrap_or(&mut self.call), cfg)?;
                let about = figures::TriggerInfo {
                    trigger: t.trigger.clone(),
                    describe: init.as_ref().map_or(
                        "nothing fires: the triggered chunks differ from the baseline chunks by \
                         the victim's call alone"
                            .to_string(),
                        |(i, _)| i.describe(),
                    ),
                    initiator_cpu: init.as_ref().map(|(_, c)| *c),
                    trail: self.trail,
                    baseline_call: (self.baseline_call.is_some()).then(|| walk(&base)),
                    initiator_ready_after: None,
                };
                if let Some((addr, len)) = init.as_ref().and_then(|(i, _)| i.victim_touch()) {
                    // SAFETY: the trigger owns this mapping and keeps it
                    // mapped until it fires, which has not started yet.
                    unsafe {
                        workloads::walk::walk(addr as *const u8, len.div_ceil(workloads::PAGE_SIZE))
                    };
                }
                let (mut sides, fired, ready_after) =
                    run_triggered(ctx, &plan, &mut victim, [&mut trig, &mut base], init)?;
                let about = figures::TriggerInfo {
                    initiator_ready_after: ready_after,
                    ..about
                };
                sides[0].calls = trig.counts();
                sides[1].calls = base.counts();
                check_calls(&sides)?;
                figures::triggered_experiment(ctx, id, &walk(&trig), &plan, &about, sides, &fired)
            }
        };
        if let Some(f) = &mut self.finish {
            f(ctx, &mut e)?;
        }
        Ok(e)
    }
}

/// The loop ignores the victim call's errors to stay tight: a run where
/// any failed is not a result.
fn check_calls(sides: &[Side; 2]) -> Result<()> {
    for (s, name) in sides.iter().zip(["triggered", "baseline"]) {
        if let Some(c) = s.calls.filter(|c| c.failed > 0) {
            bail!(
                "{} of {} victim calls of the {name} chunks failed",
                c.failed,
                c.calls
            );
        }
    }
    Ok(())
}

/// The victim's state across chunks: the working set, the gate, the
/// chunk recorder, the clock deadline of the chunk being run.
pub(super) struct Victim<'a> {
    set: WorkingSet,
    gate: &'a EventGate,
    rec: Recorder,
    end: u64,
    cancel: &'a AtomicBool,
    vcpu: u32,
}

impl<'a> Victim<'a> {
    fn new(
        ctx: &Ctx<'a>,
        gate: &'a EventGate,
        set: WorkingSet,
        plan: &Plan,
        trail: u64,
    ) -> Victim<'a> {
        Victim {
            set,
            gate,
            rec: Recorder::new(plan.outlier_capacity(), plan.long_cycles).with_trail(trail),
            end: 0,
            cancel: ctx.cancel,
            vcpu: ctx.placement.victim_cpu,
        }
    }

    /// One chunk of the loop with `call`.
    fn chunk(&mut self, call: &mut Caller) -> ws::Chunk {
        let env = ws::ChunkEnv {
            clock: &Tsc,
            gate: self.gate,
            ws: self.set,
            end: self.end,
            stop: self.cancel,
        };
        // SAFETY: `set` points into the live `Pages` of `run`.
        unsafe {
            match call {
                Caller::Op(op) => ws::run_chunk_op(&env, &mut self.rec, *op),
                Caller::Entry(c) => ws::run_chunk(&env, &mut self.rec, || c.call()),
            }
        }
    }

    /// Runs one chunk of `plan.chunk_cycles` and folds it into `side`;
    /// with `armed` (the initiator's finished flag), the gate is armed
    /// for exactly the chunk.
    fn run_into(
        &mut self,
        plan: &Plan,
        side: &mut Side,
        call: &mut Caller,
        armed: Option<&AtomicBool>,
    ) {
        self.rec.clear();
        // The victim CPU's interrupt counts around the chunk (read
        // outside it): what /proc/interrupts saw, beside what the victim
        // saw. A failed read leaves the side without counts. The gate
        // opens after the first read and closes before the second, so
        // an event the counts see is one the chunk saw begin (a read of
        // /proc/interrupts is slow, under emulation most of all).
        let before = ipi::counts(self.vcpu).ok();
        if armed.is_some() {
            self.gate.arm();
        }
        self.end = Tsc::start().wrapping_add(plan.chunk_cycles);
        let c = self.chunk(call);
        if let Some(finished) = armed {
            self.gate.disarm(finished);
        }
        let after = ipi::counts(self.vcpu).ok();
        side.fold(&self.rec, &c, plan.long_cycles);
        side.add_counts(before.zip(after));
    }
}

/// `scenario.none`: every chunk untriggered.
fn run_none(ctx: &Ctx, plan: &Plan, v: &mut Victim, call: &mut Caller) -> Result<Side> {
    let mut side = Side::new();
    for _ in 0..plan.pairs {
        v.run_into(plan, &mut side, call, None);
        ctx.check_cancel()?;
    }
    Ok(side)
}

/// The triggered and the baseline chunks, ABBA, each side with its call,
/// with the initiator (if any) on its CPU firing only while a triggered
/// chunk runs. The chunks begin once the initiator is on its CPU
/// (returned: how long that took).
fn run_triggered(
    ctx: &Ctx,
    plan: &Plan,
    v: &mut Victim,
    calls: [&mut Caller; 2],
    init: Option<(Box<dyn Initiator>, u32)>,
) -> Result<([Side; 2], Fired, Option<Duration>)> {
    let stop = AtomicBool::new(false);
    let finished = AtomicBool::new(false);
    let ready = AtomicBool::new(false);
    let rate = ctx.cfg.ipi_rate_hz;
    // Events at the rate over the triggered chunks.
    let planned = rate * plan.total().as_secs_f64();
    let cap = (planned * 1.1) as usize + 16;
    let mut sides = [Side::new(), Side::new()];
    let Some((init, icpu)) = init else {
        let t0 = Instant::now();
        pairs(ctx, plan, v, calls, &mut sides, &finished)?;
        let fired = Fired {
            elapsed: t0.elapsed(),
            ..Fired::default()
        };
        return Ok((sides, fired, None));
    };
    let (res, fired) = std::thread::scope(|s| {
        let (gate, stop_r, fin, ready_r, cancel) = (v.gate, &stop, &finished, &ready, ctx.cancel);
        let h = s.spawn(move || {
            let _done = DoneOnDrop(fin);
            let mut init = init;
            let g = Gated {
                cpu: icpu,
                rate_hz: rate,
                cap,
                gate,
                stop: stop_r,
                cancel,
            };
            initiate_gated(init.as_mut(), &g, ready_r)
        });
        let res = wait_ready(ctx, &ready, &finished, icpu)
            .and_then(|after| pairs(ctx, plan, v, calls, &mut sides, &finished).map(|()| after));
        stop.store(true, Ordering::Release);
        v.gate.disarm(&finished);
        let fired = h.join().map_err(|_| anyhow!("initiator thread panicked"));
        (res, fired)
    });
    // The initiator's own error says more than "stopped early".
    let fired = fired??;
    let ready_after = res?;
    fired_any(&fired, planned, plan, icpu)?;
    Ok((sides, fired, Some(ready_after)))
}

/// A row of a trigger that never fired would price nothing and read as
/// "no cost": an error when `planned` (events at the rate over the
/// triggered chunks) was at least 2.
fn fired_any(fired: &Fired, planned: f64, plan: &Plan, cpu: u32) -> Result<()> {
    if fired.windows.is_empty() && planned >= 2.0 {
        bail!(
            "the initiator on CPU {cpu} fired no event in {} triggered chunks of {:.0} ms \
             ({planned:.0} planned): its thread did not fire while they ran",
            plan.pairs,
            plan.chunk.as_secs_f64() * 1e3
        );
    }
    Ok(())
}

/// How long the chunks wait at most for the initiator thread to be on
/// its CPU. Before they waited, under Bochs right after the module's
/// selftest, a first scenario twice ran 3 s longer than the next ones
/// and its initiator fired nothing; waiting, it was ready after 0.7 ms
/// to 2.0 s there (four runs, each after a selftest).
const INITIATOR_START_MAX: Duration = Duration::from_secs(30);

/// Waits until the initiator thread is pinned and its buffer faulted in
/// (`ready`), or has ended (`finished`: its own error says why).
fn wait_ready(ctx: &Ctx, ready: &AtomicBool, finished: &AtomicBool, cpu: u32) -> Result<Duration> {
    let t0 = Instant::now();
    while !ready.load(Ordering::Acquire) {
        ctx.check_cancel()?;
        if finished.load(Ordering::Acquire) {
            bail!("the initiator stopped before it was ready");
        }
        if t0.elapsed() > INITIATOR_START_MAX {
            bail!(
                "the initiator thread had not reported ready on CPU {cpu} after {} s",
                INITIATOR_START_MAX.as_secs()
            );
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    Ok(t0.elapsed())
}

/// The chunk pairs: side 0 (triggered, gate armed) and side 1 (baseline),
/// baseline first in even pairs. `finished`: the initiator has stopped.
fn pairs(
    ctx: &Ctx,
    plan: &Plan,
    v: &mut Victim,
    calls: [&mut Caller; 2],
    sides: &mut [Side; 2],
    finished: &AtomicBool,
) -> Result<()> {
    let [trig, base] = calls;
    for k in 0..plan.pairs {
        let order = if k % 2 == 0 { [1, 0] } else { [0, 1] };
        for i in order {
            if finished.load(Ordering::Acquire) {
                // A cancel ends the initiator too: say interrupted.
                ctx.check_cancel()?;
                bail!("the initiator stopped early");
            }
            if i == 0 {
                v.run_into(plan, &mut sides[0], trig, Some(finished));
            } else {
                v.run_into(plan, &mut sides[1], base, None);
            }
            ctx.check_cancel()?;
        }
    }
    Ok(())
}

/// Ends the event begun by `try_begin` however the fire ends (error,
/// panic), so the victim never waits for it forever.
struct EndOnDrop<'a>(&'a EventGate);
impl Drop for EndOnDrop<'_> {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// How long the initiator sleeps while disarmed before looking again.
const DISARMED_POLL: Duration = Duration::from_micros(200);
/// Waits shorter than this are spun, not slept (a sleep overshoots by
/// tens of microseconds).
const SPIN_BELOW: Duration = Duration::from_micros(300);

/// Where and how the gated initiator fires.
struct Gated<'a> {
    cpu: u32,
    rate_hz: f64,
    /// Most call windows recorded (the buffer is never grown: a
    /// reallocation could unmap memory and send the victim a shootdown
    /// of its own).
    cap: usize,
    gate: &'a EventGate,
    stop: &'a AtomicBool,
    cancel: &'a AtomicBool,
}

/// The initiator thread: pins to its CPU, says `ready`, then fires at
/// the rate while the gate is armed, until `stop` or `cancel`.
fn initiate_gated(init: &mut dyn Initiator, g: &Gated, ready: &AtomicBool) -> Result<Fired> {
    let Gated {
        cpu,
        rate_hz,
        cap,
        gate,
        stop,
        cancel,
    } = *g;
    let _pin = pin_current_thread(cpu)?;
    let mut windows = Vec::with_capacity(cap);
    crate::placement::prefault_capacity(&mut windows);
    ready.store(true, Ordering::Release);
    let period = Duration::from_secs_f64(1.0 / rate_hz);
    let quit = || stop.load(Ordering::Acquire) || cancel.load(Ordering::Relaxed);
    let (start, mut next, mut reset_ipis) = (Instant::now(), Instant::now(), 0);
    while !quit() {
        if !gate.armed() {
            std::thread::sleep(DISARMED_POLL);
            next = Instant::now();
            continue;
        }
        let now = Instant::now();
        if next > now {
            // Sleep most of a long wait (in steps, to notice a disarm),
            // spin the rest: the rate stays close to the one asked for.
            let wait = next - now;
            if wait > SPIN_BELOW {
                std::thread::sleep((wait - SPIN_BELOW / 2).min(DISARMED_POLL));
            } else {
                std::hint::spin_loop();
            }
            continue;
        }
        if !gate.try_begin() {
            continue;
        }
        let sends = init.reset_sends_ipi();
        let (t0, r, t1) = {
            let _end = EndOnDrop(gate);
            let t0 = Tsc::start();
            let r = init.fire();
            let t1 = Tsc::stop();
            // A reset that sends an IPI of its own is part of the event:
            // it must not land in a baseline chunk.
            let r = r.and_then(|()| if sends { init.reset() } else { Ok(()) });
            (t0, r, t1)
        };
        r.with_context(|| format!("{} failed", init.method()))?;
        if !sends {
            init.reset()?;
        }
        reset_ipis += u64::from(sends);
        if windows.len() < windows.capacity() {
            windows.push((t0, t1));
        }
        next = (next + period).max(Instant::now());
    }
    Ok(Fired {
        windows,
        elapsed: start.elapsed(),
        reset_ipis,
        ..Fired::default()
    })
}

#[cfg(test)]
mod run_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::Experiment;

    #[test]
    fn a_skip_from_a_trigger_factory_stays_a_skip() {
        // The factory's error gets context on its way out of `run`; the
        // run must still see a skip, not a failure.
        let e = anyhow::Error::from(Stop::Skipped("needs root".into()));
        let e = Err::<(), _>(e).context("cannot set up").unwrap_err();
        assert!(matches!(e.downcast_ref::<Stop>(), Some(Stop::Skipped(_))));
    }

    #[test]
    fn ids_in_suite_order() {
        let ids: Vec<String> = userspace_all().iter().map(|e| e.id().to_string()).collect();
        assert_eq!(
            ids,
            [
                "scenario.none",
                "scenario.user.mprotect",
                "scenario.user.munmap",
                "scenario.user.madvise",
                "scenario.user.membarrier",
                "scenario.kernel.text_poke",
            ]
        );
    }
}
