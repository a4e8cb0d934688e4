//! `ipi.kernel.text_poke`: kernel text patching IPIs, without the module.
//!
//! Enabling or disabling a tracepoint flips its static key; on x86 that
//! ends in `smp_text_poke_batch_finish()`, which syncs every online CPU
//! with `on_each_cpu(do_sync_core)` up to three times per batch
//! (arch/x86/kernel/alternative.c): IPIs to isolated CPUs too, even in
//! user space. These are the IPIs the series defers (v7 25/31,
//! `report::model::ipi_class`). The initiator toggles a tracepoint's enable file
//! in a tracing instance of its own (`crate::tracefs`); the victim, the
//! /proc/interrupts check and the control are the shared ones of
//! `ipi.rs`.
//!
//! One call (a toggle) is one patch event and sends a burst of IPIs, so
//! the figures are per event: every victim gap that starts in the call's
//! window counts (not just the longest, as for single IPIs), and a burst's
//! IPIs can merge into one gap. The control replays the real calls'
//! lengths and spacing without toggling: the background (ticks, other
//! load) that falls into windows that long.

use super::ipi::{self, Initiator, IrqRow, Phase};
use super::record::{self, finite, params};
use super::{Ctx, Experiment, Stop};
use crate::schema::{self, BurstStats, ClockKind, IpiStats};
use crate::tracefs::{Instance, Tracefs, Unavailable};
use anyhow::{Context, Result};
use report::model::ids::{ExperimentId, Ipi, KernelIpi};
use std::os::unix::fs::FileExt;
use std::time::Duration;
use workloads::ipi::Gap;

/// After a disable, the next enable waits this long. An enable within one
/// RCU grace period of the previous disable waits for that grace period
/// inside the write (`tp_rcu_cond_sync()` in kernel/tracepoint.c), which
/// makes its window milliseconds long; measured on a 2-vCPU guest: 12 ms
/// at 5 ms spacing, 0.5 ms from 40 ms on.
pub const REENABLE_GAP: Duration = Duration::from_millis(50);

/// The trigger: toggles one tracepoint of a private tracing instance.
/// Dropping it disables the event, removes the instance and unmounts
/// tracefs if it mounted it (also on error, cancel and panic unwinding:
/// the initiator thread owns it).
pub struct TextPoke {
    file: std::fs::File,
    on: bool,
    /// "sched/sched_process_fork"
    tracepoint: String,
    /// What was done to the system to run, for the result's notes.
    setup: Vec<String>,
    // Dropped after `file` is closed, in this order.
    instance: Instance,
    fs: Tracefs,
}

impl TextPoke {
    /// Sets up tracefs, the instance and the tracepoint. `private` mounts
    /// tracefs privately even when it is mounted (tests use it).
    pub fn new(private: bool) -> Result<TextPoke> {
        let skip = |u: Unavailable| anyhow::Error::from(Stop::Skipped(u.0));
        let fs = Tracefs::open(private).map_err(skip)?;
        let mut setup = Vec::new();
        if fs.mounted_by_us() {
            setup.push(format!(
                "tracefs was not mounted: mounted at {} for the run, unmounted after",
                fs.root().display()
            ));
        }
        let stale = fs.remove_stale_instances();
        if !stale.is_empty() {
            setup.push(format!(
                "removed tracing instances a killed entrybench left: {}",
                stale.join(", ")
            ));
        }
        let (sys, ev) = fs.pick_tracepoint().map_err(skip)?;
        let instance = Instance::create(&fs).map_err(skip)?;
        let path = instance.enable_file(sys, ev);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        Ok(TextPoke {
            file,
            on: false,
            tracepoint: format!("{sys}/{ev}"),
            setup,
            instance,
            fs,
        })
    }

    pub fn tracepoint(&self) -> &str {
        &self.tracepoint
    }

    /// What was done to the system to run (private mount, stale
    /// instances removed).
    pub fn setup_notes(&self) -> &[String] {
        &self.setup
    }

    /// The instance directory (tests check it is gone after drop).
    pub fn instance_dir(&self) -> &std::path::Path {
        self.instance.dir()
    }

    /// The tracefs mount used (tests check a private one is unmounted).
    pub fn tracefs_root(&self) -> &std::path::Path {
        self.fs.root()
    }
}

impl Drop for TextPoke {
    fn drop(&mut self) {
        if self.on {
            // Removing the instance disables it anyway; this is the polite
            // order (and keeps the instance removable at once).
            let _ = self.file.write_at(b"0", 0);
        }
    }
}

impl Initiator for TextPoke {
    /// No: the victim's long gaps are counted by length here
    /// (`victim_off`), and a system call after each would be a kernel
    /// entry in the middle of what this experiment prices.
    fn reads_switches(&self) -> bool {
        false
    }
    fn method(&self) -> String {
        TEXT_POKE.method().into()
    }
    fn row(&self) -> IrqRow {
        IrqRow::Cal
    }
    fn describe(&self) -> String {
        format!(
            "toggle of events/{}/enable in a private tracefs instance (write 1, then 0): \
             each write flips the tracepoint's static key, patching kernel text \
             (sync_core IPIs to every CPU); {} ms after each disable before the next enable",
            self.tracepoint,
            REENABLE_GAP.as_millis()
        )
    }
    fn fire(&mut self) -> Result<()> {
        let v: &[u8] = if self.on { b"0" } else { b"1" };
        self.file
            .write_at(v, 0)
            .with_context(|| format!("cannot toggle {}", self.tracepoint))?;
        self.on = !self.on;
        Ok(())
    }
    fn reset(&mut self) -> Result<()> {
        if !self.on {
            std::thread::sleep(REENABLE_GAP);
        }
        Ok(())
    }
}

/// The control: calls of the real calls' lengths, spaced as they were,
/// sending nothing.
struct Replay {
    /// (length in TSC cycles, idle time after it).
    calls: Vec<(u64, Duration)>,
    next: usize,
}

impl Replay {
    fn of(windows: &[(u64, u64)], tsc_hz: f64) -> Replay {
        let calls = windows
            .iter()
            .enumerate()
            .map(|(i, &(s, e))| {
                let idle = windows
                    .get(i + 1)
                    .map_or(0, |&(next, _)| next.saturating_sub(e));
                (
                    e.saturating_sub(s),
                    Duration::from_secs_f64(idle as f64 / tsc_hz),
                )
            })
            .collect();
        Replay { calls, next: 0 }
    }
}

impl Initiator for Replay {
    /// No, as `TextPoke`: its control must be timed alike.
    fn reads_switches(&self) -> bool {
        false
    }
    fn method(&self) -> String {
        "control".into()
    }
    fn row(&self) -> IrqRow {
        IrqRow::Cal
    }
    fn describe(&self) -> String {
        "TSC spins replaying the real calls' lengths and spacing, no toggle".into()
    }
    fn fire(&mut self) -> Result<()> {
        ipi::spin_window(self.calls.get(self.next).map_or(0, |c| c.0));
        Ok(())
    }
    fn reset(&mut self) -> Result<()> {
        if let Some(&(_, idle)) = self.calls.get(self.next) {
            // The run's own rate spacing comes on top; only the longer
            // part (the re-enable gap) matters.
            std::thread::sleep(idle.saturating_sub(Duration::from_millis(1)));
        }
        self.next = (self.next + 1) % self.calls.len().max(1);
        Ok(())
    }
}

/// What the victim saw during one event's window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventGaps {
    /// Gaps that start in the window (preemptions excluded).
    pub gaps: u32,
    /// Their cycles minus one quiet iteration each.
    pub lost: u64,
    /// A gap over the preemption cut-off overlapped the window: the victim
    /// was not running and could not see the burst.
    pub victim_off: bool,
}

/// Every event window (widened by `skew` each side) claims every gap that
/// starts inside it; a gap longer than `long` that overlaps it marks the
/// victim as off the CPU instead. Gaps are disjoint and in time order;
/// windows in time order.
pub fn bursts(
    gaps: &[Gap],
    windows: &[(u64, u64)],
    skew: u64,
    long: u64,
    quiet: u64,
) -> Vec<EventGaps> {
    let mut first = 0;
    windows
        .iter()
        .map(|&(ws, we)| {
            let (ws, we) = (ws.saturating_sub(skew), we.saturating_add(skew));
            while first < gaps.len() && gaps[first].end() < ws {
                first += 1;
            }
            let mut ev = EventGaps::default();
            for g in gaps[first..].iter().take_while(|g| g.start <= we) {
                if g.cycles > long {
                    ev.victim_off = true;
                } else if g.start >= ws {
                    ev.gaps += 1;
                    ev.lost += g.cycles.saturating_sub(quiet);
                }
            }
            ev
        })
        .collect()
}

/// Per-event totals over the events the victim was running for.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Totals {
    events: u64,
    off: u64,
    matched: u64,
    gaps: u64,
    lost: u64,
}

impl Totals {
    fn of(ev: &[EventGaps]) -> Totals {
        let mut t = Totals {
            events: ev.len() as u64,
            ..Totals::default()
        };
        for e in ev {
            if e.victim_off {
                t.off += 1;
            } else {
                t.matched += u64::from(e.gaps > 0);
                t.gaps += u64::from(e.gaps);
                t.lost += e.lost;
            }
        }
        t
    }
    fn on(&self) -> u64 {
        self.events - self.off
    }
    fn per_on(&self, x: u64) -> f64 {
        finite(x as f64 / self.on() as f64)
    }
}

/// `ipi.kernel.text_poke`.
pub struct TextPokeExperiment;

const TEXT_POKE: Ipi = Ipi::Kernel(KernelIpi::TextPoke);

impl Experiment for TextPokeExperiment {
    fn id(&self) -> ExperimentId {
        ExperimentId::Ipi(TEXT_POKE)
    }

    fn run(&mut self, ctx: &mut Ctx) -> Result<schema::Experiment> {
        let Some(icpu) = ctx.placement.initiator_cpu else {
            return Err(Stop::Skipped("no initiator CPU (only one CPU online)".into()).into());
        };
        let init = TextPoke::new(false)?;
        let (describe, tracepoint) = (init.describe(), init.tracepoint().to_string());
        let setup = init.setup_notes().to_vec();
        // The initiator thread owns (and drops, restoring tracefs) it.
        let rate = ctx.cfg.ipi_rate_hz;
        let pace = |duration| ipi::Pace {
            rate_hz: rate,
            duration,
            control: ipi::Control::None,
        };
        let phase = ipi::run_phase(ctx, Box::new(init), icpu, pace(ctx.cfg.ipi_duration), None)?;
        let replay = Replay::of(&phase.fired.windows, ctx.timer.tsc_hz);
        let cdur = ctx.cfg.ipi_duration.min(ipi::CONTROL_MAX);
        let control = ipi::run_phase(ctx, Box::new(replay), icpu, pace(cdur), None)?;
        let m = Measured::of(ctx, &phase);
        let c = Measured::of(ctx, &control);
        let mut e = record::measured(
            self.id(),
            TEXT_POKE.backend(),
            Default::default(),
            &mut m.lost_samples(),
        );
        let burst = burst_stats(&m, &c);
        e.params = burst_params(ctx, icpu, &describe, &tracepoint, &m, &c);
        e.ipi = Some(IpiStats {
            method: TEXT_POKE.method().into(),
            rate_hz: rate,
            duration_s: phase.fired.elapsed.as_secs_f64(),
            threshold_cycles: phase.threshold,
            interruptions_seen: m.t.gaps,
            tlb_delta: m.counts.0,
            cal_delta: m.counts.1,
            seen_ratio: finite(m.t.gaps as f64 / m.counts.1 as f64),
            initiator: report::model::stats::summarize(&mut m.call_cycles(ctx)),
            false_match_rate: Some(finite(c.t.matched as f64 / c.t.on() as f64)),
            burst: Some(burst.clone()),
        });
        e.notes = burst_notes(ctx, &tracepoint, &burst, &m, setup);
        Ok(e)
    }
}

/// One phase reduced to what the result needs.
struct Measured<'a> {
    phase: &'a Phase,
    events: Vec<EventGaps>,
    t: Totals,
    /// (TLB, CAL) deltas on the victim CPU.
    counts: (u64, u64),
}

impl<'a> Measured<'a> {
    fn of(ctx: &Ctx, phase: &'a Phase) -> Measured<'a> {
        let hz = ctx.timer.tsc_hz;
        let quiet = report::model::stats::median_sorted(&phase.quiet).max(0.0) as u64;
        let events = bursts(
            &phase.gaps,
            &phase.fired.windows,
            phase.skew.allowance(),
            ipi::preemption_cycles(hz),
            quiet,
        );
        let d = |a: u64, b: u64| b.saturating_sub(a);
        Measured {
            t: Totals::of(&events),
            events,
            counts: (
                d(phase.before.tlb, phase.after.tlb),
                d(phase.before.cal, phase.after.cal),
            ),
            phase,
        }
    }

    /// Lost cycles per event, for the events the victim was running for.
    fn lost_samples(&self) -> Vec<i64> {
        self.events
            .iter()
            .filter(|e| !e.victim_off)
            .map(|e| e.lost as i64)
            .collect()
    }

    fn call_cycles(&self, ctx: &Ctx) -> Vec<i64> {
        let o = ctx.timer.tsc_overhead_cycles.round() as i64;
        self.phase
            .fired
            .windows
            .iter()
            .map(|&(a, b)| b.wrapping_sub(a) as i64 - o)
            .collect()
    }

    fn cal_per_event(&self) -> f64 {
        finite(self.counts.1 as f64 / self.t.events as f64)
    }
}

fn burst_stats(m: &Measured, c: &Measured) -> BurstStats {
    let lost_per_event = m.t.per_on(m.t.lost);
    BurstStats {
        events: m.t.events,
        events_victim_off: m.t.off,
        events_matched: m.t.matched,
        match_ratio: m.t.per_on(m.t.matched),
        gaps_per_event: m.t.per_on(m.t.gaps),
        cal_per_event: m.cal_per_event(),
        lost_per_event_cycles: lost_per_event,
        lost_per_ipi_cycles: finite(lost_per_event / m.cal_per_event()),
        control_gaps_per_event: c.t.per_on(c.t.gaps),
        control_lost_per_event_cycles: c.t.per_on(c.t.lost),
        control_cal_per_event: c.cal_per_event(),
    }
}

/// The raw figures behind the result.
fn burst_params(
    ctx: &Ctx,
    icpu: u32,
    describe: &str,
    tracepoint: &str,
    m: &Measured,
    c: &Measured,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    let p = m.phase;
    let in_windows: u64 = m.t.gaps + m.events.iter().filter(|e| e.victim_off).count() as u64;
    params([
        ("method", describe.into()),
        ("tracepoint", tracepoint.into()),
        ("row", IrqRow::Cal.into()),
        ("victim_cpu", ctx.placement.victim_cpu.into()),
        ("initiator_cpu", icpu.into()),
        ("calls", p.fired.windows.len().into()),
        (
            "achieved_rate_hz",
            finite(p.fired.windows.len() as f64 / p.fired.elapsed.as_secs_f64()).into(),
        ),
        ("reenable_gap_ms", (REENABLE_GAP.as_millis() as u64).into()),
        (
            "matching",
            "each toggle's TSC window claims every victim gap that starts inside it".into(),
        ),
        ("gaps_total", p.gaps.len().into()),
        ("gaps_outside_windows", (p.gaps.len() as u64).saturating_sub(in_windows).into()),
        (
            "preemption_rule",
            format!(
                "a gap over {} ms overlapping a window: the victim was off the CPU for that event",
                ipi::PREEMPTION_S * 1e3
            )
            .into(),
        ),
        ("loc_delta", p.after.loc.saturating_sub(p.before.loc).into()),
        ("res_delta", p.after.res.saturating_sub(p.before.res).into()),
        ("quiet_median_cycles", report::model::stats::median_sorted(&p.quiet).into()),
        ("match_skew_cycles", p.skew.allowance().into()),
        ("control_calls", c.phase.fired.windows.len().into()),
        ("control_cal_delta", c.counts.1.into()),
        (
            "control",
            "the same victim and matching while the initiator replays the calls' lengths and spacing with TSC spins"
                .into(),
        ),
        (
            "victim_cost",
            "per event: the gaps in its window, each minus one quiet loop iteration (median)".into(),
        ),
        ("clock", ClockKind::Tsc.into()),
    ])
}

/// What a reader must know about the per-event figures.
fn burst_notes(
    ctx: &Ctx,
    tracepoint: &str,
    b: &BurstStats,
    m: &Measured,
    setup: Vec<String>,
) -> Vec<String> {
    let mut notes = vec![format!(
        "one event = one toggle of {tracepoint} (enable or disable): a burst of {:.1} CAL IPIs \
         on the victim CPU (CAL delta / events); IPIs of a burst can merge into one victim gap, \
         so gaps per event ({:.1}) undercounts the IPIs taken",
        b.cal_per_event, b.gaps_per_event
    )];
    let c = report::model::ipi_class::class(TEXT_POKE);
    notes.push(format!(
        "IPI class: {} ({}); the series defers it: {} ({})",
        c.name,
        c.path,
        report::model::ipi_class::deferred_word(&c),
        c.cite.join(", ")
    ));
    if b.events_victim_off > 0 {
        notes.push(format!(
            "{} of {} events overlapped a victim preemption (gap over {} ms): the victim was not \
             running, so they are left out of the match ratio and the per-event figures",
            b.events_victim_off,
            b.events,
            ipi::PREEMPTION_S * 1e3
        ));
    }
    notes.push(format!(
        "control (same window lengths and spacing, no toggle): {:.2} gaps and {:.0} cycles lost \
         per window, {:.2} CAL per window: the background inside windows this long",
        b.control_gaps_per_event, b.control_lost_per_event_cycles, b.control_cal_per_event
    ));
    if m.counts.1 == 0 {
        notes.push(
            "the victim's CAL count did not change: the toggles patched nothing (the tracepoint \
             may be in use by perf or BPF)"
                .into(),
        );
    }
    if let Some(hv) = &ctx.env.cpu.hypervisor {
        notes.push(format!(
            "{hv} guest: host preemption shows as victim gaps; figures are not bare metal"
        ));
    }
    if !ctx.placement.victim_isolated {
        notes.push(
            "victim CPU not isolated: ticks and other tasks add gaps to the windows (see the control)"
                .into(),
        );
    }
    notes.extend(setup);
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(start: u64, cycles: u64) -> Gap {
        Gap { start, cycles }
    }

    #[test]
    fn a_window_claims_every_gap_that_starts_in_it() {
        let windows = [(100, 200), (1000, 1100), (5000, 5050)];
        let gaps = [
            g(50, 10),      // before any window
            g(110, 20),     // window 1
            g(150, 30),     // window 1
            g(205, 20),     // within skew after window 1
            g(900, 50_000), // long gap over window 2: victim off
            g(60_000, 5),   // after everything
        ];
        let ev = bursts(&gaps, &windows, 10, 10_000, 5);
        assert_eq!(
            ev[0],
            EventGaps {
                gaps: 3,
                lost: 15 + 25 + 15,
                victim_off: false
            }
        );
        assert!(ev[1].victim_off && ev[1].gaps == 0);
        // Window 3 lies inside the long gap too.
        assert!(ev[2].victim_off);
        let t = Totals::of(&ev);
        assert_eq!(
            (t.events, t.off, t.matched, t.gaps, t.lost),
            (3, 2, 1, 3, 55)
        );
        assert_eq!(t.per_on(t.gaps), 3.0);
    }

    #[test]
    fn no_windows_or_no_gaps() {
        assert!(bursts(&[g(1, 2)], &[], 0, 100, 0).is_empty());
        let ev = bursts(&[], &[(1, 2)], 0, 100, 0);
        assert_eq!(ev, vec![EventGaps::default()]);
        let t = Totals::of(&[]);
        assert_eq!(t.per_on(0), 0.0);
    }

    #[test]
    fn replay_keeps_lengths_and_spacing() {
        let r = Replay::of(&[(0, 100), (1100, 1150)], 1000.0);
        assert_eq!(r.calls[0], (100, Duration::from_secs(1)));
        assert_eq!(r.calls[1], (50, Duration::ZERO));
    }
}
