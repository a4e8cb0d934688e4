//! `ipi.<backend>.<method>`: an initiator thread on a housekeeping CPU
//! makes the kernel send IPIs at a set rate; the victim (the pinned
//! calling thread) spins reading the TSC and records every gap above a
//! threshold calibrated from its own quiet loop.
//!
//! Attribution: the victim also sees timer ticks (LOC), reschedule IPIs
//! and, in a VM, host preemption. A gap counts as one of *our* IPIs only if
//! it overlaps the TSC window of an initiator call and ends within a
//! tolerance of the call's return (the call waits for the victim's
//! acknowledgement; see `ipi_match`); one that began before the call is
//! counted, not priced. Counted that way, `interruptions_seen` / delta of
//! the row the method produces (TLB or CAL) on the victim CPU is the
//! `seen_ratio`. Where the kernel has the `csd:csd_function_entry`
//! tracepoint (6.5 on) and we are root, a traced check, in blocks
//! interleaved with the priced phase's (`ipi_blocks`, `ipi_check`), fits
//! that tolerance to the kernel's own
//! labels of the IPIs' gaps and counts the rule's wrong picks (the
//! `false_match_rate`); otherwise the tolerance is fitted against an
//! interleaved no-IPI control and the control's share is the rate. The
//! priced phase itself is never traced. All gaps, the unmatched
//! ones and the LOC delta are kept in params so the raw figures stay
//! visible. The TSC is used even when the run's timer is rdpmc: gaps on
//! one CPU are matched with calls on another, which needs one clock for
//! both.
//!
//! The initiator is pluggable ([`Initiator`]): `ipi.user.*` wrap
//! `workloads::ipi::UserTrigger`; a kernel-module backend adds
//! `ipi.kmod.*` with an initiator whose `fire` asks the module for one
//! kernel-side flush IPI to the victim.

use super::ipi_blocks;
use super::ipi_check;
use super::ipi_control_fit;
use super::ipi_dump;
use super::ipi_label;
use super::ipi_match;
use super::ipi_outcome::Outcome;
use super::ipi_pace::{initiate, CONTROL_CLEARANCE};
pub(crate) use super::ipi_pace::{spin_window, Control, DoneOnDrop, Fired, Pace, JITTER};
use super::ipi_record;
use super::record::{self, finite};
use super::{Ctx, Experiment, Stop};
pub use crate::schema::IrqRow;
use crate::schema::{self, ExperimentId, IpiStats};
use crate::timer::skew::{self, Skew};
use crate::timer::Tsc;
use anyhow::{Context, Result};
use report::model::ids::{Ipi, UserIpi};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use workloads::ipi::{self as wipi, Gap, UserMethod, UserTrigger};

/// Quiet-loop iterations for the threshold (~10 ms: a tick or two at
/// most, far below the p99.9 rank).
const QUIET_SAMPLES: usize = 200_000;
/// Threshold = max(quiet p99.9 x FACTOR, FLOOR cycles).
pub(crate) const THRESHOLD_FACTOR: u64 = 4;
pub(crate) const THRESHOLD_FLOOR: u64 = 500;
/// Room in the gap buffer for the victim's other gaps, a second, and for
/// at least a second of them however short the phase: the loop cannot
/// grow the buffer, and a gap that does not fit is lost. Room for
/// 5,000/s overflowed in a 1 s block of `ipi.user.munmap` on the noisy
/// Emerald Rapids guest (3,074 gaps dropped, IPIs among them: seen 97.8%
/// of the TLB count; `results/checks/gap-buffer-overflow-20261130T1112.txt`),
/// where the full runs in `results/` average 780 to 3,300 a second: a
/// noisy second holds many times the average. 16 bytes a gap.
const OTHER_GAPS_PER_S: f64 = 40_000.0;
/// A matched gap longer than this is taken for a preemption of the victim
/// (host or guest scheduler) that happened to match a call, not an IPI:
/// an IPI costs microseconds, and while the victim is preempted it gets
/// none (another task holds its CPU, or the hypervisor's paravirt flush
/// skips the preempted vCPU), so counting the gap would inflate the ratio.
pub(crate) const PREEMPTION_S: f64 = 1e-3;

/// Something that makes the kernel interrupt the victim CPU, once per
/// `fire`. Runs on the initiator thread (pinned to the initiator CPU);
/// built on the victim thread, then moved.
pub trait Initiator: Send {
    /// "mprotect", "flush_all", ...: the last part of the id.
    fn method(&self) -> String;
    /// The row of the victim's /proc/interrupts the IPIs count in.
    fn row(&self) -> IrqRow;
    /// What one fire does, for the result file.
    fn describe(&self) -> String;
    /// Memory the victim should read once before firing starts (so its
    /// CPU has touched what is being flushed): (address, length).
    fn victim_touch(&self) -> Option<(usize, usize)> {
        None
    }
    /// One IPI-producing call. The caller times it with the TSC, so it
    /// should do nothing else.
    fn fire(&mut self) -> Result<()>;
    /// Untimed work between fires so the next one has something to do.
    /// It must not send IPIs itself (they would count in the row delta
    /// with no fire to match them), or only rarely.
    fn reset(&mut self) -> Result<()> {
        Ok(())
    }
    /// Whether the next `reset` sends an IPI of its own (at most one to
    /// the victim): such resets are counted and taken out of the
    /// /proc/interrupts comparison.
    fn reset_sends_ipi(&self) -> bool {
        false
    }
    /// Whether the victim reads its context-switch count after each gap
    /// over `PREEMPTION_S` (`wipi::LongGaps`), for `Seen` to tell a stall
    /// from a preemption. The read is a system call: a kernel entry the
    /// victim makes, which an experiment that prices what entry runs
    /// (deferred work under the series) would rather not add.
    fn reads_switches(&self) -> bool {
        true
    }
}

impl Initiator for UserTrigger {
    fn method(&self) -> String {
        self.method().name().to_string()
    }
    fn row(&self) -> IrqRow {
        user_row(self.method())
    }
    fn describe(&self) -> String {
        self.method().describe().to_string()
    }
    fn victim_touch(&self) -> Option<(usize, usize)> {
        Some(self.region())
    }
    #[inline(always)]
    fn fire(&mut self) -> Result<()> {
        let r = UserTrigger::fire(self);
        workloads::sys::check(r).with_context(|| format!("{} failed", self.method().name()))?;
        Ok(())
    }
    fn reset(&mut self) -> Result<()> {
        UserTrigger::reset(self).with_context(|| format!("{} reset failed", self.method().name()))
    }
    fn reset_sends_ipi(&self) -> bool {
        UserTrigger::reset_flushes(self)
    }
}

/// Builds a fresh initiator for each run of the experiment.
pub type Factory = Box<dyn FnMut() -> Result<Box<dyn Initiator>>>;

/// The /proc/interrupts row a user method's IPIs are counted in on the
/// victim. (A TLB shootdown arrives as a function-call IPI, so it also
/// bumps CAL; membarrier bumps CAL only.)
pub fn user_row(m: UserMethod) -> IrqRow {
    match m {
        UserMethod::Membarrier => IrqRow::Cal,
        UserMethod::Mprotect | UserMethod::Munmap | UserMethod::Madvise => IrqRow::Tlb,
    }
}

/// The function a user method's IPI runs on the victim (arch/x86/mm/tlb.c,
/// kernel/sched/membarrier.c).
pub fn user_handler(m: UserMethod) -> &'static str {
    match m {
        UserMethod::Membarrier => "ipi_mb",
        UserMethod::Mprotect | UserMethod::Munmap | UserMethod::Madvise => "flush_tlb_func",
    }
}

/// The IPI a user method sends, as its id names it.
pub fn user_ipi(m: UserMethod) -> UserIpi {
    match m {
        UserMethod::Mprotect => UserIpi::Mprotect,
        UserMethod::Munmap => UserIpi::Munmap,
        UserMethod::Madvise => UserIpi::Madvise,
        UserMethod::Membarrier => UserIpi::Membarrier,
    }
}

/// The shared victim/initiator experiment.
pub struct IpiExperiment {
    ipi: Ipi,
    make: Factory,
    /// The kernel function the victim runs for each IPI, as the
    /// `csd:csd_function_entry` tracepoint names it: with it the IPIs
    /// can be labelled from the kernel's trace (`ipi_check`).
    handler: Option<&'static str>,
}

impl IpiExperiment {
    /// `ipi.<backend>.<method>` of `ipi`, its initiator made by `make`.
    pub fn new(ipi: Ipi, make: Factory) -> IpiExperiment {
        IpiExperiment {
            ipi,
            make,
            handler: None,
        }
    }

    /// `ipi.user.<method>`.
    pub fn user(method: UserMethod) -> IpiExperiment {
        IpiExperiment {
            handler: Some(user_handler(method)),
            ..IpiExperiment::new(
                Ipi::User(user_ipi(method)),
                Box::new(move || Ok(Box::new(UserTrigger::new(method)?) as Box<dyn Initiator>)),
            )
        }
    }

    pub(crate) fn handler(&self) -> Option<&'static str> {
        self.handler
    }

    /// A fresh initiator, with the victim having read its memory once
    /// (its CPU has then used these translations, as a real isolated
    /// task would).
    pub(crate) fn initiator(&mut self) -> Result<Box<dyn Initiator>> {
        let init =
            (self.make)().with_context(|| format!("cannot set up the {} initiator", self.id()))?;
        if let Some((addr, len)) = init.victim_touch() {
            // SAFETY: the initiator owns this mapping and keeps it mapped
            // until it starts firing, which has not happened yet.
            unsafe { workloads::walk::walk(addr as *const u8, len.div_ceil(workloads::PAGE_SIZE)) };
        }
        Ok(init)
    }
}

/// The ids `ipi.user.*`, in suite order.
pub fn user_all() -> Vec<IpiExperiment> {
    wipi::ALL_USER_METHODS
        .iter()
        .map(|&m| IpiExperiment::user(m))
        .collect()
}

/// Victim CPU interrupt counts of the rows that matter here.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Counts {
    pub tlb: u64,
    pub cal: u64,
    pub loc: u64,
    pub res: u64,
}

impl Counts {
    /// Each count less `b`'s (0 where a counter went back).
    pub fn minus(self, b: Counts) -> Counts {
        Counts {
            tlb: self.tlb.saturating_sub(b.tlb),
            cal: self.cal.saturating_sub(b.cal),
            loc: self.loc.saturating_sub(b.loc),
            res: self.res.saturating_sub(b.res),
        }
    }

    pub fn plus(self, b: Counts) -> Counts {
        Counts {
            tlb: self.tlb + b.tlb,
            cal: self.cal + b.cal,
            loc: self.loc + b.loc,
            res: self.res + b.res,
        }
    }
}

/// One read of /proc/interrupts (a single file read keeps the victim's
/// own disturbance at both ends small).
pub(crate) fn counts(cpu: u32) -> Result<Counts> {
    let t = crate::platform::read_interrupts_table()?;
    Ok(Counts {
        tlb: t.count(IrqRow::Tlb.name(), cpu)?,
        cal: t.count(IrqRow::Cal.name(), cpu)?,
        loc: t.count("LOC", cpu).unwrap_or(0),
        res: t.count("RES", cpu).unwrap_or(0),
    })
}

/// One firing phase: the victim's gaps, its interrupt counts around the
/// phase, and the initiator's call windows. (The default is the empty
/// phase blocks are merged into, `ipi_blocks::merge`.)
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Phase {
    pub threshold: u64,
    /// The two CPUs' TSC skew, measured before the phase
    /// (`timer::skew`); matching allows for its `allowance()`.
    pub skew: Skew,
    /// Quiet-loop gaps, sorted. Not in a dump (`ipi_dump`): 200,000 a
    /// block, and matching reads only the threshold taken from them.
    #[serde(skip)]
    pub quiet: Vec<i64>,
    pub before: Counts,
    pub after: Counts,
    pub spin: wipi::SpinStats,
    pub gaps: Vec<Gap>,
    /// Starts of the gaps over `PREEMPTION_S` in which the victim thread
    /// was switched out (`wipi::LongGaps`), in time order.
    pub switched: Vec<u64>,
    pub fired: Fired,
    /// The kernel trace's labels, when the phase was traced (or why they
    /// could not be read); None when it was not.
    pub labels: Option<std::result::Result<ipi_label::Labels, String>>,
}

impl Phase {
    /// The off-CPU rule's view of the phase (`ipi_match::OffCpu`).
    pub fn off_cpu(&self, tsc_hz: f64) -> ipi_match::OffCpu<'_> {
        ipi_match::OffCpu {
            long: preemption_cycles(tsc_hz),
            switched: &self.switched,
        }
    }

    /// The share of the phase's firing time the victim thread was
    /// switched out: its gaps over `PREEMPTION_S` with a switch, against
    /// the time the calls fired. While another task holds the victim CPU
    /// the calls send it few IPIs, and those that come are handled
    /// outside the victim's loop: a reader of `seen` needs it.
    pub fn switched_share(&self, tsc_hz: f64) -> f64 {
        let off = self.off_cpu(tsc_hz);
        let out: u64 = self
            .gaps
            .iter()
            .filter(|g| off.is_switched(g))
            .map(|g| g.cycles)
            .sum();
        out as f64 / (self.fired.elapsed.as_secs_f64() * tsc_hz)
    }
}

/// How long the attribution control fires at most: enough calls for a
/// rate of 1% to show as ~10-20 matches at the default rate.
pub(crate) const CONTROL_MAX: Duration = Duration::from_secs(2);

/// Runs `init` on the initiator CPU at the pace's rate for its duration
/// while the calling (victim) thread spins and records gaps.
/// With `trace`, the recorder is already on (started before the phase:
/// enabling its event patches kernel text, which IPIs every CPU, and
/// that must not count); it is read and removed after.
pub(crate) fn run_phase(
    ctx: &Ctx,
    init: Box<dyn Initiator>,
    icpu: u32,
    pace: Pace,
    trace: Option<(ipi_label::Recorder, &'static str)>,
) -> Result<Phase> {
    let Pace {
        rate_hz, duration, ..
    } = pace;
    let vcpu = ctx.placement.victim_cpu;
    let skew = skew::measure(icpu).context("cannot measure the TSC skew between the CPUs")?;
    let go = AtomicBool::new(false);
    let done = AtomicBool::new(false);
    let expected = (rate_hz * duration.as_secs_f64()) as usize;
    let room = duration.max(Duration::from_secs(1)).as_secs_f64() * OTHER_GAPS_PER_S;
    let mut gaps: Vec<Gap> = Vec::with_capacity(expected * 2 + room as usize + 4096);
    let mut quiet = vec![0i64; QUIET_SAMPLES];
    // A gap over the preemption length lasts at least that: about as
    // many as the phase holds such lengths. More (a phase that ran over)
    // grow the list right after such a gap, outside any timed gap.
    let most_long = (duration.as_secs_f64() / PREEMPTION_S) as usize + 16;
    let mut long = if init.reads_switches() {
        wipi::LongGaps::new(
            preemption_cycles(ctx.timer.tsc_hz),
            wipi::thread_switches as fn() -> Option<u64>,
            most_long,
        )
    } else {
        wipi::no_long_gaps()
    };
    crate::placement::prefault_capacity(&mut gaps);
    crate::placement::prefault_capacity(&mut long.switched);
    crate::placement::prefault(&mut quiet);
    let phase = std::thread::scope(|s| -> Result<_> {
        let cancel = ctx.cancel;
        let (go, done) = (&go, &done);
        let handle = s.spawn(move || {
            let mut init = init;
            initiate(init.as_mut(), icpu, pace, go, done, cancel)
        });
        // Calibrate after the thread exists: its creation (stack
        // mapping) has IPI'd us already, not during the quiet loop.
        wipi::quiet_loop(&Tsc, &mut quiet);
        quiet.sort_unstable();
        let threshold = wipi::threshold(&quiet, THRESHOLD_FACTOR, THRESHOLD_FLOOR);
        let before = counts(vcpu);
        go.store(true, Ordering::Release);
        let spin = wipi::spin(&Tsc, done, threshold, &mut gaps, &mut long);
        let after = counts(vcpu);
        let fired = handle
            .join()
            .map_err(|_| anyhow::anyhow!("initiator thread panicked"))?;
        Ok((threshold, before, after, spin, fired))
    });
    let (threshold, before, after, spin, fired) = phase?;
    ctx.check_cancel()?;
    let labels = trace.map(|(r, func)| r.finish(func).map_err(|e| e.to_string()));
    Ok(Phase {
        threshold,
        skew,
        quiet,
        switched: long.switched,
        before: before?,
        after: after?,
        spin,
        gaps,
        fired: fired?,
        labels,
    })
}

/// Matched gaps of a phase split into IPIs and preemptions, and the
/// unmatched ones.
pub(crate) struct Matched {
    /// The claimed gaps, by how they count (`Seen`).
    pub seen: Seen,
    pub miss: Vec<Gap>,
    pub skew: u64,
    /// The fit the tolerance (`fit.tol`) came from, with the calls'
    /// offsets (return minus the end of the gap ending closest to it,
    /// less the delays).
    pub fit: ipi_control_fit::Fit,
    /// Whether the tolerance came from the trace check's labels.
    pub fit_to_trace: bool,
    pub noise: Noise,
    /// `Phase::switched_share`: the params and the notes both read it.
    pub switched_share: f64,
}

/// The victim's gaps no real call claimed: how many a second, and the
/// share of the phase's time they took. They set how often a window
/// meets a gap by chance, which the control measures.
pub(crate) struct Noise {
    pub per_s: f64,
    pub time_share: f64,
}

impl Noise {
    pub fn of(tsc_hz: f64, elapsed: Duration, miss: &[Gap]) -> Noise {
        let secs = elapsed.as_secs_f64();
        let lost: u64 = miss.iter().map(|g| g.cycles).sum();
        Noise {
            per_s: miss.len() as f64 / secs,
            time_share: lost as f64 / (secs * tsc_hz),
        }
    }
}

/// A matched gap longer than `PREEMPTION_S`, in TSC cycles.
pub(crate) fn preemption_cycles(tsc_hz: f64) -> u64 {
    (PREEMPTION_S * tsc_hz) as u64
}

/// Claimed gaps a matching counts as IPIs seen: priced (`hit`), merged,
/// the stalls (matched, over `PREEMPTION_S`, the victim thread not
/// switched out: most likely the host held the vCPU, and the IPI was
/// handled at the gap's end, seen but not priced) and the switched ones
/// (over it, the thread switched out, begun inside their call or
/// claimed by the off-CPU rule: seen, not priced); the preemptions (over
/// it, the thread switched out, begun before their call and ending near
/// its return) are none of them. The real windows, the control (which
/// has no off-CPU claims: `ipi_outcome`) and the check's labels are
/// counted by this one rule.
pub(crate) struct Seen {
    /// Gaps that began inside their call: the IPI's own interruption,
    /// priced.
    pub hit: Vec<Gap>,
    /// IPIs handled at the end of a gap that began before the call:
    /// seen, not priced.
    pub merged: Vec<Gap>,
    /// Over `PREEMPTION_S`, the thread not switched out: seen, not
    /// priced.
    pub stalled: Vec<Gap>,
    /// Over it, the thread switched out, and either begun inside the
    /// call (the IPI interrupted the loop and another task ran before
    /// it resumed: in the check blocks of the Zen 3 guest's dumps of
    /// 2026-12-01, 57 of the 63 such gaps held the call's event,
    /// `results/checks/seen-misses-20261201T0841.txt`) or holding the
    /// return of a call that claimed nothing near it (`Claimed::off_cpu`:
    /// the IPI interrupted the task that held the CPU; 54 of the 388
    /// such calls in the check file of `ipi_match::OffCpu` held no
    /// event). Seen, not priced: the gap is mostly the other task's.
    pub switched: Vec<Gap>,
    /// Over it, the thread switched out, begun before the call and
    /// ending within the tolerance of its return (the near rule): the
    /// victim came back as the call returned; another task held its CPU
    /// when the call began. Not seen.
    pub preempted: Vec<Gap>,
}

impl Seen {
    /// `off`: the phase's long gaps and switches (`Phase::off_cpu`).
    pub fn of(c: ipi_match::Claimed, off: ipi_match::OffCpu) -> Seen {
        let long = off.long;
        let (hit, hit_long): (Vec<Gap>, Vec<Gap>) =
            c.hit.into_iter().partition(|g| g.cycles <= long);
        let (merged, merged_long): (Vec<Gap>, Vec<Gap>) =
            c.merged.into_iter().partition(|g| g.cycles <= long);
        let (mut switched_in_call, mut stalled): (Vec<Gap>, Vec<Gap>) =
            hit_long.into_iter().partition(|g| off.is_switched(g));
        let (preempted, merged_stalled): (Vec<Gap>, Vec<Gap>) =
            merged_long.into_iter().partition(|g| off.is_switched(g));
        stalled.extend(merged_stalled);
        switched_in_call.extend(c.off_cpu);
        switched_in_call.sort_unstable_by_key(|g| g.start);
        Seen {
            hit,
            merged,
            stalled,
            switched: switched_in_call,
            preempted,
        }
    }

    /// `ipi_match::attribute_off` counted by `of`, and the gaps no call
    /// claimed: the one matching the priced phase, the check's timing
    /// picks and the label fit share.
    pub fn matching(
        gaps: &[Gap],
        windows: &[(u64, u64)],
        skew: u64,
        tol: ipi_match::Tolerance,
        off: ipi_match::OffCpu,
    ) -> (Seen, Vec<Gap>) {
        let mut c = ipi_match::attribute_off(gaps, windows, skew, tol, off);
        let miss = std::mem::take(&mut c.miss);
        (Seen::of(c, off), miss)
    }

    /// The seen gaps, in no particular order.
    pub fn picks(&self) -> impl Iterator<Item = &Gap> {
        self.hit
            .iter()
            .chain(&self.merged)
            .chain(&self.stalled)
            .chain(&self.switched)
    }

    pub fn count(&self) -> usize {
        self.picks().count()
    }

    /// The seen gaps, in time order.
    pub fn all(&self) -> Vec<Gap> {
        let mut v: Vec<Gap> = self.picks().copied().collect();
        v.sort_unstable_by_key(|g| g.start);
        v
    }
}

/// The tolerance grid's ends, cycles: the skew plus `GRID_MIN_S`, and
/// `max_s` (the control fit's `ipi_match::GRID_MAX_S`, or the label
/// fit's `ipi_fit::GRID_MAX_S`).
pub(crate) fn tol_grid(hz: f64, skew: u64, max_s: f64) -> (u64, u64) {
    (
        skew + (ipi_match::GRID_MIN_S * hz) as u64,
        (max_s * hz) as u64,
    )
}

/// Windows split in two, alternately: a tolerance is fitted on the
/// first and its rate read on the second (the control's here; the trace
/// check's calls in `ipi_check`), so the rate is not the one the fit was
/// chosen for.
pub(crate) fn halves(windows: &[(u64, u64)]) -> [Vec<(u64, u64)>; 2] {
    let half = |k: usize| windows.iter().skip(k).step_by(2).copied().collect();
    [half(1), half(0)]
}

/// A phase's delta of `row` on the victim.
pub(crate) fn row_delta(row: IrqRow, p: &Phase) -> u64 {
    match row {
        IrqRow::Tlb => p.after.tlb.saturating_sub(p.before.tlb),
        IrqRow::Cal => p.after.cal.saturating_sub(p.before.cal),
    }
}

/// What a phase's fires sent the victim: the row's delta less the IPIs
/// of the pool resets (at most one each), which are counted apart.
pub(crate) fn fire_ipis(row: IrqRow, p: &Phase) -> u64 {
    row_delta(row, p).saturating_sub(p.fired.reset_ipis)
}

impl Experiment for IpiExperiment {
    fn id(&self) -> ExperimentId {
        ExperimentId::Ipi(self.ipi)
    }

    fn run(&mut self, ctx: &mut Ctx) -> Result<schema::Experiment> {
        let Some(icpu) = ctx.placement.initiator_cpu else {
            return Err(Stop::Skipped("no initiator CPU (only one CPU online)".into()).into());
        };
        let rate_hz = ctx.cfg.ipi_rate_hz;
        let ipi_blocks::Blocks {
            check,
            priced: phase,
            method,
            row,
            describe,
            count: blocks,
            traced,
        } = ipi_blocks::run(ctx, self, icpu)?;
        let out = Outcome::of(ctx.timer.tsc_hz, row, &phase, check.as_ref().ok());
        let seen_ratio = out.seen_ratio();
        let beyond = ipi_record::beyond_calls(row, out.long_calls, out.fire_ipis, out.seen);
        if let Some(dir) = ctx.cfg.dump_ipi.as_deref() {
            let figures = ipi_dump::Figures::of(&out);
            ipi_dump::write_row(
                ctx,
                dir,
                self.id().to_string(),
                row,
                traced,
                &phase,
                figures,
            );
        }
        let Outcome {
            m,
            control_rate,
            control_calls,
            false_rate,
            tlb,
            cal,
            delta,
            fire_ipis: _,
            seen,
            long_calls: _,
        } = out;
        let quiet_median = report::model::stats::median_sorted(&phase.quiet);
        let mut victim: Vec<i64> = m
            .seen
            .hit
            .iter()
            .map(|g| g.cycles as i64 - quiet_median.round() as i64)
            .collect();
        let o = ctx.timer.tsc_overhead_cycles.round() as i64;
        let mut calls: Vec<i64> = phase
            .fired
            .windows
            .iter()
            .map(|&(a, b)| b.wrapping_sub(a) as i64 - o)
            .collect();
        let initiator = report::model::stats::summarize(&mut calls);
        let secs = phase.fired.elapsed.as_secs_f64();
        let mut p = ipi_record::params(ctx, icpu, &describe, row, &phase, &m);
        p.insert("pool_reset_ipis".into(), phase.fired.reset_ipis.into());
        p.insert("control_calls".into(), control_calls.into());
        p.insert("control_match_rate".into(), finite(control_rate).into());
        p.insert(
            "control_skipped".into(),
            phase.fired.skipped_controls.into(),
        );
        p.insert(
            "control".into(),
            format!(
                "interleaved with the real calls: at a random moment between two calls, at \
                 least {} us from each, the initiator spins as long as the call before took, \
                 sending no IPI (none where there is no room: control_skipped); matched by the \
                 same rule and tolerance against the victim gaps no real call claimed \
                 (control_match_rate: the share of the held-out half matched)",
                CONTROL_CLEARANCE.as_micros()
            )
            .into(),
        );
        p.insert("blocks".into(), blocks.into());
        p.insert("blocks_rule".into(), ipi_blocks::rule(blocks).into());
        p.insert("trace_check".into(), ipi_check::params(&check));
        p.insert(
            "false_match_rule".into(),
            match &check {
                Ok(_) => {
                    "trace_check: of the victim gaps the timing rule claimed in the traced \
                          check blocks, the share that held no event of the IPI's function"
                }
                Err(_) => {
                    "control_match_rate (no trace check): the share of no-IPI windows the \
                           rule matched, an estimate for calls whose IPI never came"
                }
            }
            .into(),
        );
        let mut e = record::measured(self.id(), self.ipi.backend(), p, &mut victim);
        e.ipi = Some(IpiStats {
            method,
            rate_hz,
            duration_s: secs,
            threshold_cycles: phase.threshold,
            interruptions_seen: seen,
            tlb_delta: tlb,
            cal_delta: cal,
            seen_ratio,
            initiator,
            false_match_rate: Some(finite(false_rate)),
            burst: None,
        });
        e.params.extend(beyond.params);
        e.notes = ipi_record::notes(ctx, row, delta, &phase, &m, control_rate);
        e.notes.extend(beyond.note);
        e.notes.extend(ipi_check::notes(&check, m.noise.per_s));
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_and_rows() {
        let ids: Vec<String> = user_all().iter().map(|e| e.id().to_string()).collect();
        assert_eq!(
            ids,
            [
                "ipi.user.mprotect",
                "ipi.user.munmap",
                "ipi.user.madvise",
                "ipi.user.membarrier"
            ]
        );
        let t = UserTrigger::new(UserMethod::Mprotect).unwrap();
        assert_eq!(Initiator::row(&t), IrqRow::Tlb);
        assert_eq!(Initiator::method(&t), "mprotect");
        // Every method counts in one of the two rows; membarrier's IPIs
        // are function calls only.
        for m in wipi::ALL_USER_METHODS {
            let want = if m == UserMethod::Membarrier {
                IrqRow::Cal
            } else {
                IrqRow::Tlb
            };
            assert_eq!(user_row(m), want, "{m:?}");
            assert_eq!(user_ipi(m).name(), m.name());
        }
    }

    /// Long matched gaps split by whether the thread was switched out in
    /// them and where they began: a stall is seen (not priced), so is a
    /// switched gap that began inside its call; one that began before it
    /// (a preemption) is not.
    #[test]
    fn seen_counts_stalls_and_switched_calls_and_not_preemptions() {
        let g = |start, cycles| Gap { start, cycles };
        let c = ipi_match::Claimed {
            hit: vec![g(10, 50), g(100, 5_000), g(200, 7_000)],
            merged: vec![g(5, 60), g(300, 9_000), g(400, 8_000)],
            off_cpu: vec![g(500, 6_000)],
            miss: vec![],
        };
        // Long is 1000 cycles; the thread was switched out in the gaps at
        // 200 (inside its call), 400 (before its call) and 500 (claimed
        // by the off-CPU rule: the call returned in it).
        let off = ipi_match::OffCpu {
            long: 1_000,
            switched: &[200, 400],
        };
        let s = Seen::of(c, off);
        assert_eq!(s.hit, vec![g(10, 50)]);
        assert_eq!(s.merged, vec![g(5, 60)]);
        assert_eq!(s.stalled, vec![g(100, 5_000), g(300, 9_000)]);
        assert_eq!(s.switched, vec![g(200, 7_000), g(500, 6_000)]);
        assert_eq!(s.preempted, vec![g(400, 8_000)]);
        assert_eq!(s.count(), 6);
        let starts: Vec<u64> = s.all().iter().map(|g| g.start).collect();
        assert_eq!(starts, [5, 10, 100, 200, 300, 500]);
    }
}
