//! `scenario.<trigger>`: the head-to-head. The victim on the isolated CPU
//! runs an isolated task's loop, one system call plus a walk over a
//! W-page working set per iteration, every iteration timed
//! (`workloads::scenario`), for a fixed time, while an initiator on a
//! housekeeping CPU triggers flush events at the suite's rate. The victim
//! code is the same for every trigger; only the initiator differs.
//!
//! A trigger is any [`Initiator`] (the `ipi.*` triggers are reused as
//! they are): one `fire` is one flush event. `scenario.none` fires
//! nothing. Every triggered scenario runs its own baseline: chunks with
//! the trigger disarmed, interleaved with the triggered chunks in ABBA
//! order, so both see the same host drift; its deltas against none come
//! from those chunk pairs. The numbers are reduced in `scenario_figures`.
//!
//! # Adding a trigger (e.g. the kernel module's)
//! - An IPI-sending or pending-bit-setting initiator: implement
//!   [`Initiator`] and add a [`Trigger`] with a factory for it
//!   (`Trigger::new("kmod", "flush_all", factory)`).
//! - A victim whose system call is something else (the module's
//!   flush-on-entry ioctl): give the experiment a [`VictimCall`] other
//!   than the default (`ScenarioExperiment::with_call`).

use super::ipi::{self, DoneOnDrop, Factory, Fired, Initiator};
use super::scenario_figures::{self as figures, Plan, Side};
use super::{Ctx, Experiment, Stop};
use crate::placement::pin_current_thread;
use crate::schema;
use crate::timer::Tsc;
use anyhow::{anyhow, bail, Context, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use workloads::entry::EntryOp;
use workloads::pages::Pages;
use workloads::scenario::{self as ws, EventGate, Recorder, WorkingSet};

/// What makes the flush events of one scenario.
pub struct Trigger {
    /// "user", "kernel", "kmod".
    pub backend: String,
    /// "mprotect", "text_poke", ...
    pub method: String,
    pub make: Factory,
}

impl Trigger {
    pub fn new(backend: &str, method: &str, make: Factory) -> Trigger {
        Trigger {
            backend: backend.into(),
            method: method.into(),
            make,
        }
    }

    /// "user.mprotect"
    pub fn name(&self) -> String {
        report::ids::scenario_trigger(&self.backend, &self.method)
    }
}

/// The system call of the victim's loop: the suite's (getppid by
/// default), or a backend's own entry (a function the loop calls).
pub enum VictimCall {
    Suite,
    Custom {
        describe: String,
        call: Box<dyn FnMut()>,
    },
}

/// One `scenario.*` id.
pub struct ScenarioExperiment {
    trigger: Option<Trigger>,
    call: VictimCall,
}

impl ScenarioExperiment {
    pub fn none() -> ScenarioExperiment {
        ScenarioExperiment {
            trigger: None,
            call: VictimCall::Suite,
        }
    }

    pub fn triggered(t: Trigger) -> ScenarioExperiment {
        ScenarioExperiment {
            trigger: Some(t),
            call: VictimCall::Suite,
        }
    }

    /// The same scenario with the victim making `call` instead of the
    /// suite's system call.
    pub fn with_call(mut self, call: VictimCall) -> ScenarioExperiment {
        self.call = call;
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
        v.push(ScenarioExperiment::triggered(Trigger::new(
            "user",
            m.name(),
            make,
        )));
    }
    let make: Factory =
        Box::new(|| Ok(Box::new(super::text_poke::TextPoke::new(false)?) as Box<dyn Initiator>));
    v.push(ScenarioExperiment::triggered(Trigger::new(
        "kernel",
        "text_poke",
        make,
    )));
    v
}

impl Experiment for ScenarioExperiment {
    fn id(&self) -> String {
        report::ids::scenario_id(
            &self
                .trigger
                .as_ref()
                .map_or(report::ids::SCENARIO_NONE.to_string(), Trigger::name),
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
        let (describe_call, mut call): (String, ChunkFn<'_>) = match &mut self.call {
            VictimCall::Suite => {
                let op = EntryOp::Syscall(cfg.scenario_call.call(), cfg.syscall.call_path());
                (
                    op.describe(),
                    Box::new(move |v: &mut Victim| v.chunk_op(op)),
                )
            }
            VictimCall::Custom { describe, call } => (
                describe.clone(),
                Box::new(move |v: &mut Victim| v.chunk_with(&mut *call)),
            ),
        };
        let iteration = format!(
            "{describe_call} + walk of {} pages (one byte per page)",
            set.pages
        );
        let gate = EventGate::default();
        let mut victim = Victim::new(ctx, &gate, set, &plan);
        match &mut self.trigger {
            None => {
                let sides = run_none(ctx, &plan, &mut victim, &mut *call)?;
                Ok(figures::none_experiment(ctx, &id, &iteration, &plan, sides))
            }
            Some(t) => {
                let Some(icpu) = ctx.placement.initiator_cpu else {
                    return Err(
                        Stop::Skipped("no initiator CPU (only one CPU online)".into()).into(),
                    );
                };
                let init = (t.make)()
                    .with_context(|| format!("cannot set up the {} trigger", t.name()))?;
                let about = figures::TriggerInfo {
                    name: t.name(),
                    backend: t.backend.clone(),
                    method: t.method.clone(),
                    describe: init.describe(),
                    initiator_cpu: icpu,
                };
                if let Some((addr, len)) = init.victim_touch() {
                    // SAFETY: the trigger owns this mapping and keeps it
                    // mapped until it fires, which has not started yet.
                    unsafe {
                        workloads::walk::walk(addr as *const u8, len.div_ceil(workloads::PAGE_SIZE))
                    };
                }
                let (sides, fired) =
                    run_triggered(ctx, &plan, &mut victim, &mut *call, init, icpu)?;
                Ok(figures::triggered_experiment(
                    ctx, &id, &iteration, &plan, &about, sides, &fired,
                ))
            }
        }
    }
}

/// Runs one chunk of the victim's loop with its call.
type ChunkFn<'c> = Box<dyn FnMut(&mut Victim) -> ws::Chunk + 'c>;

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
    fn new(ctx: &Ctx<'a>, gate: &'a EventGate, set: WorkingSet, plan: &Plan) -> Victim<'a> {
        Victim {
            set,
            gate,
            rec: Recorder::new(plan.outlier_capacity(), plan.long_cycles),
            end: 0,
            cancel: ctx.cancel,
            vcpu: ctx.placement.victim_cpu,
        }
    }

    fn chunk_op(&mut self, op: EntryOp) -> ws::Chunk {
        // SAFETY: `set` points into the live `Pages` of `run`.
        unsafe {
            ws::run_chunk_op(
                &Tsc,
                self.gate,
                self.set,
                self.end,
                self.cancel,
                &mut self.rec,
                op,
            )
        }
    }

    fn chunk_with(&mut self, call: &mut dyn FnMut()) -> ws::Chunk {
        // SAFETY: as in `chunk_op`.
        unsafe {
            ws::run_chunk(
                &Tsc,
                self.gate,
                self.set,
                self.end,
                self.cancel,
                &mut self.rec,
                call,
            )
        }
    }

    /// Runs one chunk of `plan.chunk_cycles` and folds it into `side`.
    fn run_into(
        &mut self,
        plan: &Plan,
        side: &mut Side,
        call: &mut dyn FnMut(&mut Victim) -> ws::Chunk,
    ) {
        self.rec.clear();
        // The victim CPU's interrupt counts around the chunk (read
        // outside it): what /proc/interrupts saw, beside what the victim
        // saw. A failed read leaves the side without counts.
        let before = ipi::counts(self.vcpu).ok();
        self.end = Tsc::start().wrapping_add(plan.chunk_cycles);
        let c = call(self);
        let after = ipi::counts(self.vcpu).ok();
        side.fold(&self.rec, &c, plan.long_cycles);
        side.add_counts(before.zip(after));
    }
}

/// `scenario.none`: every chunk untriggered.
fn run_none(
    ctx: &Ctx,
    plan: &Plan,
    v: &mut Victim,
    call: &mut dyn FnMut(&mut Victim) -> ws::Chunk,
) -> Result<Side> {
    let mut side = Side::new();
    for _ in 0..plan.pairs {
        v.run_into(plan, &mut side, call);
        ctx.check_cancel()?;
    }
    Ok(side)
}

/// The triggered and the baseline chunks, ABBA, with the initiator on
/// `icpu` firing only while a triggered chunk runs.
fn run_triggered(
    ctx: &Ctx,
    plan: &Plan,
    v: &mut Victim,
    call: &mut dyn FnMut(&mut Victim) -> ws::Chunk,
    init: Box<dyn Initiator>,
    icpu: u32,
) -> Result<([Side; 2], Fired)> {
    let stop = AtomicBool::new(false);
    let finished = AtomicBool::new(false);
    let rate = ctx.cfg.ipi_rate_hz;
    let cap = (rate * plan.total().as_secs_f64() * 1.1) as usize + 16;
    let mut sides = [Side::new(), Side::new()];
    let (res, fired) = std::thread::scope(|s| {
        let (gate, stop_r, fin, cancel) = (v.gate, &stop, &finished, ctx.cancel);
        let h = s.spawn(move || {
            let _done = DoneOnDrop(fin);
            let mut init = init;
            initiate_gated(init.as_mut(), icpu, rate, cap, gate, stop_r, cancel)
        });
        let res = (|| -> Result<()> {
            for k in 0..plan.pairs {
                // ABBA: pair k runs baseline first when k is even.
                let order = if k % 2 == 0 { [1, 0] } else { [0, 1] };
                for i in order {
                    if finished.load(Ordering::Acquire) {
                        // A cancel ends the initiator too: say interrupted.
                        ctx.check_cancel()?;
                        bail!("the initiator stopped early");
                    }
                    if i == 0 {
                        v.gate.arm();
                    }
                    v.run_into(plan, &mut sides[i], call);
                    if i == 0 {
                        v.gate.disarm(&finished);
                    }
                    ctx.check_cancel()?;
                }
            }
            Ok(())
        })();
        stop.store(true, Ordering::Release);
        v.gate.disarm(&finished);
        let fired = h.join().map_err(|_| anyhow!("initiator thread panicked"));
        (res, fired)
    });
    // The initiator's own error says more than "stopped early".
    let fired = fired??;
    res?;
    Ok((sides, fired))
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

/// The initiator thread: fires at `rate_hz` while the gate is armed,
/// until `stop` or `cancel`, recording at most `cap` call windows (the
/// buffer is never grown: a reallocation could unmap memory and send the
/// victim a shootdown of its own).
fn initiate_gated(
    init: &mut dyn Initiator,
    cpu: u32,
    rate_hz: f64,
    cap: usize,
    gate: &EventGate,
    stop: &AtomicBool,
    cancel: &AtomicBool,
) -> Result<Fired> {
    let _pin = pin_current_thread(cpu)?;
    let mut windows = Vec::with_capacity(cap);
    crate::placement::prefault_capacity(&mut windows);
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
    })
}

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
        let ids: Vec<String> = userspace_all().iter().map(|e| e.id()).collect();
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
