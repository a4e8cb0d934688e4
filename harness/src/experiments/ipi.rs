//! `ipi.<backend>.<method>`: an initiator thread on a housekeeping CPU
//! makes the kernel send IPIs at a set rate; the victim (the pinned
//! calling thread) spins reading the TSC and records every gap above a
//! threshold calibrated from its own quiet loop.
//!
//! Attribution: the victim also sees timer ticks (LOC), reschedule IPIs
//! and, in a VM, host preemption. A gap counts as one of *our* IPIs only if
//! it overlaps the TSC window of an initiator call (the IPI is sent and
//! waited for inside the call). Counted that way, `interruptions_seen` /
//! delta of the row the method produces (TLB or CAL) on the victim CPU is
//! the `seen_ratio`. All gaps, the unmatched ones and the LOC delta are
//! kept in params so the raw figures stay visible. The TSC is used even
//! when the run's timer is rdpmc: gaps on one CPU are matched with calls
//! on another, which needs one clock for both.
//!
//! The initiator is pluggable ([`Initiator`]): `ipi.user.*` wrap
//! `workloads::ipi::UserTrigger`; a kernel-module backend adds
//! `ipi.kmod.*` with an initiator whose `fire` asks the module for one
//! kernel-side flush IPI to the victim.

use super::record::{self, finite, params};
use super::{Ctx, Experiment, Stop};
use crate::placement::pin_current_thread;
use crate::schema::{self, IpiStats};
use crate::timer::Tsc;
use anyhow::{bail, Context, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use workloads::ipi::{self as wipi, Gap, UserMethod, UserTrigger};

/// Quiet-loop iterations for the threshold (~10 ms: a tick or two at
/// most, far below the p99.9 rank).
const QUIET_SAMPLES: usize = 200_000;
/// Threshold = max(quiet p99.9 x FACTOR, FLOOR cycles).
const THRESHOLD_FACTOR: u64 = 4;
const THRESHOLD_FLOOR: u64 = 500;
/// Allowed TSC skew between the two CPUs when matching, seconds.
pub(crate) const SKEW_S: f64 = 2e-6;
/// A matched gap longer than this is taken for a preemption of the victim
/// (host or guest scheduler) that happened to overlap a call, not an IPI:
/// an IPI costs microseconds, and while the victim is preempted it gets
/// none (another task holds its CPU, or the hypervisor's paravirt flush
/// skips the preempted vCPU), so counting the gap would inflate the ratio.
pub(crate) const PREEMPTION_S: f64 = 1e-3;

/// The /proc/interrupts row an initiator's IPIs are counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    Tlb,
    Cal,
}

impl Row {
    pub fn name(self) -> &'static str {
        match self {
            Row::Tlb => "TLB",
            Row::Cal => "CAL",
        }
    }
}

/// Something that makes the kernel interrupt the victim CPU, once per
/// `fire`. Runs on the initiator thread (pinned to the initiator CPU);
/// built on the victim thread, then moved.
pub trait Initiator: Send {
    /// "mprotect", "flush_all", ...: the last part of the id.
    fn method(&self) -> String;
    /// The row of the victim's /proc/interrupts the IPIs count in.
    fn row(&self) -> Row;
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
}

impl Initiator for UserTrigger {
    fn method(&self) -> String {
        self.method().name().to_string()
    }
    fn row(&self) -> Row {
        match self.method().row() {
            "CAL" => Row::Cal,
            _ => Row::Tlb,
        }
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

/// The attribution control: a call as long as the real one that sends no
/// IPI (a TSC spin on the initiator CPU). Whatever the matching claims
/// for it is coincidence.
struct Control {
    cycles: u64,
}

impl Initiator for Control {
    fn method(&self) -> String {
        "control".into()
    }
    fn row(&self) -> Row {
        Row::Tlb
    }
    fn describe(&self) -> String {
        format!("spin of {} TSC cycles, no system call", self.cycles)
    }
    fn fire(&mut self) -> Result<()> {
        let end = Tsc::start().wrapping_add(self.cycles);
        while Tsc::start() < end {
            std::hint::spin_loop();
        }
        Ok(())
    }
}

/// Builds a fresh initiator for each run of the experiment.
pub type Factory = Box<dyn FnMut() -> Result<Box<dyn Initiator>>>;

/// The shared victim/initiator experiment.
pub struct IpiExperiment {
    id: String,
    backend: String,
    make: Factory,
}

impl IpiExperiment {
    /// `id` is the full id ("ipi.kmod.flush_all"); `backend` "user"/"kmod".
    pub fn new(id: impl Into<String>, backend: impl Into<String>, make: Factory) -> IpiExperiment {
        IpiExperiment {
            id: id.into(),
            backend: backend.into(),
            make,
        }
    }

    /// `ipi.user.<method>`.
    pub fn user(method: UserMethod) -> IpiExperiment {
        IpiExperiment::new(
            report::ids::ipi_id("user", method.name()),
            "user",
            Box::new(move || Ok(Box::new(UserTrigger::new(method)?) as Box<dyn Initiator>)),
        )
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
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counts {
    pub tlb: u64,
    pub cal: u64,
    pub loc: u64,
    pub res: u64,
}

/// One read of /proc/interrupts (a single file read keeps the victim's
/// own disturbance at both ends small).
pub(crate) fn counts(cpu: u32) -> Result<Counts> {
    let t = crate::platform::read_interrupts_table()?;
    Ok(Counts {
        tlb: t.count("TLB", cpu)?,
        cal: t.count("CAL", cpu)?,
        loc: t.count("LOC", cpu).unwrap_or(0),
        res: t.count("RES", cpu).unwrap_or(0),
    })
}

/// What the initiator thread brings back.
pub(crate) struct Fired {
    /// TSC at start and end of each fire, in time order.
    pub windows: Vec<(u64, u64)>,
    pub elapsed: Duration,
    /// Resets that sent an IPI of their own (`Initiator::reset_sends_ipi`).
    pub reset_ipis: u64,
}

/// Sets `done` when dropped, so the victim stops spinning however the
/// initiator thread ends (error, cancel, panic).
pub(crate) struct DoneOnDrop<'a>(pub &'a AtomicBool);
impl Drop for DoneOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// The initiator thread's body: pin, wait for `go`, fire at `rate_hz`
/// for `duration` (or until cancelled), recording call windows.
fn initiate(
    init: &mut dyn Initiator,
    cpu: u32,
    rate_hz: f64,
    duration: Duration,
    go: &AtomicBool,
    done: &AtomicBool,
    cancel: &AtomicBool,
) -> Result<Fired> {
    let _done = DoneOnDrop(done);
    let _pin = pin_current_thread(cpu)?;
    let max = (rate_hz * duration.as_secs_f64() * 1.1) as usize + 16;
    let mut windows = Vec::with_capacity(max);
    let mut reset_ipis = 0;
    crate::placement::prefault_capacity(&mut windows);
    while !go.load(Ordering::Acquire) {
        if cancel.load(Ordering::Relaxed) {
            bail!("interrupted");
        }
        std::hint::spin_loop();
    }
    let period = Duration::from_secs_f64(1.0 / rate_hz);
    let start = Instant::now();
    let mut next = start;
    while windows.len() < max && !cancel.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now.duration_since(start) >= duration {
            break;
        }
        if next > now {
            let wait = next - now;
            // Sleep most of a long wait, spin the rest: the rate stays
            // close without burning the housekeeping CPU at low rates.
            if wait > Duration::from_micros(300) {
                std::thread::sleep(wait - Duration::from_micros(150));
            }
            while Instant::now() < next {
                std::hint::spin_loop();
            }
        }
        let t0 = Tsc::start();
        let r = init.fire();
        let t1 = Tsc::stop();
        r?;
        windows.push((t0, t1));
        reset_ipis += u64::from(init.reset_sends_ipi());
        init.reset()?;
        // No catch-up bursts after a late call.
        next = (next + period).max(Instant::now());
    }
    Ok(Fired {
        windows,
        elapsed: start.elapsed(),
        reset_ipis,
    })
}

/// Splits gaps into ours and others: each call window (widened by `skew`
/// cycles each side for cross-CPU TSC offset) claims the longest
/// unclaimed gap that starts inside it (an IPI cannot arrive before the
/// call sends it, so a gap already running when the call began, such as
/// a preemption, is not ours). One window, at most one gap, so a host
/// hiccup or tick in the same window does not count twice, and the IPI
/// (thousands of cycles) wins over a short hiccup. Gaps come from one
/// loop, so they are disjoint and in time order; windows are in time
/// order.
pub fn attribute(gaps: &[Gap], windows: &[(u64, u64)], skew: u64) -> (Vec<Gap>, Vec<Gap>) {
    let mut claimed = vec![false; gaps.len()];
    let mut first = 0;
    for &(ws, we) in windows {
        let (ws, we) = (ws.saturating_sub(skew), we.saturating_add(skew));
        while first < gaps.len() && gaps[first].end() < ws {
            first += 1;
        }
        let best = (first..gaps.len())
            .take_while(|&i| gaps[i].start <= we)
            .filter(|&i| !claimed[i] && gaps[i].start >= ws)
            .fold(None, |best: Option<usize>, i| match best {
                Some(b) if gaps[b].cycles >= gaps[i].cycles => Some(b),
                _ => Some(i),
            });
        if let Some(i) = best {
            claimed[i] = true;
        }
    }
    let (mut hit, mut miss) = (Vec::new(), Vec::new());
    for (g, c) in gaps.iter().zip(claimed) {
        if c {
            hit.push(*g);
        } else {
            miss.push(*g);
        }
    }
    (hit, miss)
}

/// One firing phase: the victim's gaps, its interrupt counts around the
/// phase, and the initiator's call windows.
pub(crate) struct Phase {
    pub threshold: u64,
    /// Quiet-loop gaps, sorted.
    pub quiet: Vec<i64>,
    pub before: Counts,
    pub after: Counts,
    pub spin: wipi::SpinStats,
    pub gaps: Vec<Gap>,
    pub fired: Fired,
}

/// How long the attribution control fires at most: enough calls for a
/// rate of 1% to show as ~10-20 matches at the default rate.
pub(crate) const CONTROL_MAX: Duration = Duration::from_secs(2);

/// Runs `init` on the initiator CPU at `rate_hz` for `duration` while the
/// calling (victim) thread spins and records gaps.
pub(crate) fn run_phase(
    ctx: &Ctx,
    init: Box<dyn Initiator>,
    icpu: u32,
    rate_hz: f64,
    duration: Duration,
) -> Result<Phase> {
    let vcpu = ctx.placement.victim_cpu;
    let go = AtomicBool::new(false);
    let done = AtomicBool::new(false);
    let expected = (rate_hz * duration.as_secs_f64()) as usize;
    let mut gaps: Vec<Gap> =
        Vec::with_capacity(expected * 2 + (duration.as_secs_f64() * 5000.0) as usize + 4096);
    let mut quiet = vec![0i64; QUIET_SAMPLES];
    crate::placement::prefault_capacity(&mut gaps);
    crate::placement::prefault(&mut quiet);
    let phase = std::thread::scope(|s| -> Result<_> {
        let cancel = ctx.cancel;
        let (go, done) = (&go, &done);
        let handle = s.spawn(move || {
            let mut init = init;
            initiate(init.as_mut(), icpu, rate_hz, duration, go, done, cancel)
        });
        // Calibrate after the thread exists: its creation (stack
        // mapping) has IPI'd us already, not during the quiet loop.
        wipi::quiet_loop(&Tsc, &mut quiet);
        quiet.sort_unstable();
        let threshold = wipi::threshold(&quiet, THRESHOLD_FACTOR, THRESHOLD_FLOOR);
        let before = counts(vcpu);
        go.store(true, Ordering::Release);
        let spin = wipi::spin(&Tsc, done, threshold, &mut gaps);
        let after = counts(vcpu);
        let fired = handle
            .join()
            .map_err(|_| anyhow::anyhow!("initiator thread panicked"))?;
        Ok((threshold, before, after, spin, fired))
    });
    let (threshold, before, after, spin, fired) = phase?;
    ctx.check_cancel()?;
    Ok(Phase {
        threshold,
        quiet,
        before: before?,
        after: after?,
        spin,
        gaps,
        fired: fired?,
    })
}

/// Matched gaps of a phase split into IPIs and preemptions, and the
/// unmatched ones.
struct Matched {
    hit: Vec<Gap>,
    preempted: Vec<Gap>,
    miss: Vec<Gap>,
    skew: u64,
}

fn matched(ctx: &Ctx, p: &Phase) -> Matched {
    let skew = (SKEW_S * ctx.timer.tsc_hz) as u64;
    let (m, miss) = attribute(&p.gaps, &p.fired.windows, skew);
    let long = (PREEMPTION_S * ctx.timer.tsc_hz) as u64;
    let (hit, preempted) = m.into_iter().partition(|g| g.cycles <= long);
    Matched {
        hit,
        preempted,
        miss,
        skew,
    }
}

/// The attribution control: the same victim and matching while the
/// initiator spins as long as a median real call, sending no IPI.
/// Returns the fraction of control calls matched, and the calls made.
fn control(ctx: &Ctx, icpu: u32, call_cycles: u64) -> Result<(f64, usize)> {
    let duration = ctx.cfg.ipi_duration.min(CONTROL_MAX);
    let init = Box::new(Control {
        cycles: call_cycles.max(1),
    });
    let p = run_phase(ctx, init, icpu, ctx.cfg.ipi_rate_hz, duration)?;
    let m = matched(ctx, &p);
    let calls = p.fired.windows.len();
    let rate = if calls == 0 {
        0.0
    } else {
        // Only what would have counted as seen: matched preemptions are
        // not counted as IPIs in the real phase either.
        m.hit.len() as f64 / calls as f64
    };
    Ok((rate, calls))
}

impl Experiment for IpiExperiment {
    fn id(&self) -> String {
        self.id.clone()
    }

    fn run(&mut self, ctx: &mut Ctx) -> Result<schema::Experiment> {
        let Some(icpu) = ctx.placement.initiator_cpu else {
            return Err(Stop::Skipped("no initiator CPU (only one CPU online)".into()).into());
        };
        let init =
            (self.make)().with_context(|| format!("cannot set up the {} initiator", self.id))?;
        let (method, row, describe) = (init.method(), init.row(), init.describe());
        // The victim reads the initiator's memory once: its CPU has then
        // used these translations, as a real isolated task would.
        if let Some((addr, len)) = init.victim_touch() {
            // SAFETY: the initiator owns this mapping and keeps it mapped
            // until it starts firing, which has not happened yet.
            unsafe { workloads::walk::walk(addr as *const u8, len.div_ceil(workloads::PAGE_SIZE)) };
        }
        let phase = run_phase(ctx, init, icpu, ctx.cfg.ipi_rate_hz, ctx.cfg.ipi_duration)?;
        let m = matched(ctx, &phase);
        let quiet_median = report::stats::median_sorted(&phase.quiet);
        let mut victim: Vec<i64> = m
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
        let initiator = report::stats::summarize(&mut calls);
        let (false_rate, control_calls) = control(ctx, icpu, initiator.median.max(0.0) as u64)?;

        let d = |a: u64, b: u64| b.saturating_sub(a);
        let (before, after) = (phase.before, phase.after);
        let (tlb, cal) = (d(before.tlb, after.tlb), d(before.cal, after.cal));
        let row_delta = match row {
            Row::Tlb => tlb,
            Row::Cal => cal,
        };
        // Pool resets send at most one IPI each to the victim: they are
        // counted and taken out of the row delta the fires are compared with.
        let fire_ipis = row_delta.saturating_sub(phase.fired.reset_ipis);
        let seen = m.hit.len() as u64;
        let secs = phase.fired.elapsed.as_secs_f64();
        let mut p = ipi_params(ctx, icpu, &describe, row, &phase, &m);
        p.insert("pool_reset_ipis".into(), phase.fired.reset_ipis.into());
        p.insert("control_calls".into(), control_calls.into());
        p.insert(
            "control".into(),
            "the same victim and matching while the initiator spins for the median call length, sending no IPI"
                .into(),
        );
        let mut e = record::measured(&self.id, &self.backend, p, &mut victim);
        e.ipi = Some(IpiStats {
            method,
            rate_hz: ctx.cfg.ipi_rate_hz,
            duration_s: secs,
            threshold_cycles: phase.threshold,
            interruptions_seen: seen,
            tlb_delta: tlb,
            cal_delta: cal,
            seen_ratio: if fire_ipis == 0 {
                0.0
            } else {
                seen as f64 / fire_ipis as f64
            },
            initiator,
            false_match_rate: Some(finite(false_rate)),
            burst: None,
        });
        e.notes = ipi_notes(ctx, row, row_delta, &phase, &m, false_rate);
        Ok(e)
    }
}

/// The raw figures behind an ipi.* result.
fn ipi_params(
    ctx: &Ctx,
    icpu: u32,
    describe: &str,
    row: Row,
    phase: &Phase,
    m: &Matched,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    let (before, after) = (phase.before, phase.after);
    let d = |a: u64, b: u64| b.saturating_sub(a);
    let n = phase.fired.windows.len();
    params([
        ("method", describe.into()),
        ("row", row.name().into()),
        ("victim_cpu", ctx.placement.victim_cpu.into()),
        ("initiator_cpu", icpu.into()),
        ("calls", n.into()),
        (
            "achieved_rate_hz",
            finite(n as f64 / phase.fired.elapsed.as_secs_f64()).into(),
        ),
        (
            "matching",
            "each fire's TSC window claims the longest unclaimed victim gap that starts inside it"
                .into(),
        ),
        ("gaps_total", phase.gaps.len().into()),
        ("gaps_unmatched", m.miss.len().into()),
        ("matched_preemptions", m.preempted.len().into()),
        (
            "preemption_rule",
            format!(
                "a matched gap over {} ms is a preemption, not an IPI",
                PREEMPTION_S * 1e3
            )
            .into(),
        ),
        ("gaps_dropped", phase.spin.dropped.into()),
        ("loc_delta", d(before.loc, after.loc).into()),
        ("res_delta", d(before.res, after.res).into()),
        (
            "quiet_median_cycles",
            report::stats::median_sorted(&phase.quiet).into(),
        ),
        (
            "quiet_p999_cycles",
            report::stats::percentile_sorted(&phase.quiet, 99.9).into(),
        ),
        (
            "threshold_rule",
            format!("max(quiet p99.9 x {THRESHOLD_FACTOR}, {THRESHOLD_FLOOR})").into(),
        ),
        ("match_skew_cycles", m.skew.into()),
        (
            "victim_cost",
            "matched gap minus one quiet loop iteration (median)".into(),
        ),
        ("clock", "tsc".into()),
    ])
}

/// What a reader must know about an ipi.* figure.
fn ipi_notes(
    ctx: &Ctx,
    row: Row,
    row_delta: u64,
    phase: &Phase,
    m: &Matched,
    false_rate: f64,
) -> Vec<String> {
    let mut notes = Vec::new();
    if row_delta == 0 {
        notes.push(format!(
            "the victim's {} count did not change: no IPIs were counted (lazy-TLB skip, broadcast flush, or paravirt flush)",
            row.name()
        ));
    }
    if row == Row::Tlb {
        notes.push("a TLB shootdown is a function-call IPI: it also counts in CAL".into());
    }
    if phase.fired.reset_ipis > 0 {
        notes.push(format!(
            "{} pool resets sent an IPI of their own: taken out of the {} delta the seen ratio divides by",
            phase.fired.reset_ipis,
            row.name()
        ));
    }
    notes.push(format!(
        "attribution control: {:.1}% of no-IPI calls of the same length matched a victim gap (false_match_rate); a seen ratio is only meaningful well above it",
        false_rate * 100.0
    ));
    if let Some(hv) = &ctx.env.cpu.hypervisor {
        notes.push(format!(
            "{hv} guest: with paravirt TLB flush a preempted victim vCPU gets no IPI (the host flushes on re-entry), \
             and host preemption shows as unmatched gaps"
        ));
    }
    if !ctx.placement.victim_isolated {
        notes.push(
            "victim CPU not isolated: ticks and housekeeping interrupts add unmatched gaps".into(),
        );
    }
    if !m.preempted.is_empty() {
        notes.push(format!(
            "{} calls overlapped a victim preemption (gap over {} ms): not counted as IPIs seen",
            m.preempted.len(),
            PREEMPTION_S * 1e3
        ));
    }
    if phase.spin.dropped > 0 {
        notes.push(format!(
            "{} gaps did not fit the buffer and were dropped",
            phase.spin.dropped
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(start: u64, cycles: u64) -> Gap {
        Gap { start, cycles }
    }

    #[test]
    fn gaps_inside_or_overlapping_a_call_are_ours() {
        let windows = [(100, 200), (1000, 1100), (5000, 5050)];
        let gaps = [
            g(50, 10),    // before any call, ends at 60: not ours
            g(90, 20),    // began before call 1: not its IPI
            g(150, 500),  // inside call 1 and longest: the IPI
            g(1090, 300), // starts inside call 2
            g(3000, 100), // between calls: a tick
            g(5055, 10),  // just after call 3, within skew 10
        ];
        let (hit, miss) = attribute(&gaps, &windows, 10);
        assert_eq!(hit, vec![g(150, 500), g(1090, 300), g(5055, 10)]);
        assert_eq!(miss, vec![g(50, 10), g(90, 20), g(3000, 100)]);
        let (hit, _) = attribute(&gaps, &windows, 0);
        assert!(!hit.contains(&g(5055, 10)));
    }

    #[test]
    fn a_gap_running_before_the_call_is_not_ours() {
        // A long gap from 50 to 550 overlaps the call (100, 200) but began
        // before it: a preemption, not the call's IPI.
        let (hit, miss) = attribute(&[g(50, 500), g(120, 40)], &[(100, 200)], 10);
        assert_eq!(hit, vec![g(120, 40)]);
        assert_eq!(miss, vec![g(50, 500)]);
    }

    #[test]
    fn no_calls_means_no_matches() {
        let (hit, miss) = attribute(&[g(1, 2)], &[], 100);
        assert!(hit.is_empty());
        assert_eq!(miss.len(), 1);
    }

    #[test]
    fn user_ids_and_rows() {
        let ids: Vec<String> = user_all().iter().map(|e| e.id()).collect();
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
        assert_eq!(Initiator::row(&t), Row::Tlb);
        assert_eq!(Initiator::method(&t), "mprotect");
    }
}
