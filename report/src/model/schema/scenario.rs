//! Result-file types of `scenario.*` (the head-to-head) and of the burst
//! IPI experiment `ipi.kernel.text_poke`. Both are optional fields of the
//! version-2 schema: files without them load as before.

use crate::model::ids::ScenarioTrigger;
use serde::{Deserialize, Serialize};

/// How long one side of a scenario ran and how much the victim got done.
/// Times are victim TSC time; iterations longer than the preemption
/// cut-off (the victim thread was descheduled, not interrupted) are
/// counted in `preempted` and left out of `busy_cycles`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    pub duration_s: f64,
    pub iterations: u64,
    /// iterations / duration_s.
    pub iter_per_s: f64,
    /// Iterations longer than the preemption cut-off.
    pub preempted: u64,
    /// TSC cycles of the other iterations, summed.
    pub busy_cycles: f64,
}

/// A `scenario.<trigger>` result: the victim's loop (one system call plus
/// a walk over a working set, every iteration timed) while an initiator
/// triggers flush events at a set rate. The experiment's `summary` and
/// `samples` are the per-iteration times (TSC cycles) of the triggered
/// chunks; `baseline` holds the no-trigger chunks interleaved with them,
/// with the delta of the medians taken chunk pair by chunk pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioStats {
    /// What fired; in the file its name ("none", "user.mprotect",
    /// "kernel.text_poke", "kmod.on_entry.series", ...), one this build
    /// cannot read kept as written.
    pub trigger: ScenarioTrigger,
    /// What one iteration does ("getppid (glibc syscall()) + walk of 64
    /// pages").
    pub iteration: String,
    pub pages: u64,
    /// Requested trigger rate (0 for none).
    pub rate_hz: f64,
    /// Flush events fired during the triggered chunks.
    pub events: u64,
    /// Iterations during which a flush event was in progress or started.
    pub overlapped: u64,
    /// The triggered chunks (for `scenario.none`, every chunk).
    pub run: Throughput,
    /// The interleaved no-trigger chunks (None for `scenario.none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Throughput>,
    /// Victim time lost per flush event, TSC cycles: the iterations that
    /// overlapped an event (preemptions left out) minus as many at the
    /// paired baseline chunk's mean, summed over chunk pairs and divided
    /// by the events. Attributed to events, so little background noise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_per_event_cycles: Option<f64>,
    /// 95% bootstrap CI of it, chunk pairs resampled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_per_event_ci95: Option<[f64; 2]>,
    /// The same from whole chunks: each triggered chunk's busy time minus
    /// its iterations at the paired baseline chunk's mean. Includes costs
    /// after an event's window (a late refill, a deferred flush) and all
    /// the noise of the chunks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_lost_per_event_cycles: Option<f64>,
}

/// Per-event figures of an IPI experiment whose one call sends a burst
/// of IPIs (`ipi.kernel.text_poke`: one tracepoint toggle patches kernel
/// text and syncs every CPU several times). IPIs of one burst can merge
/// into one victim gap, so gaps per event is a lower bound of IPIs per
/// event; the CAL delta counts them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BurstStats {
    /// Calls made (patch events).
    pub events: u64,
    /// Events whose window overlapped a victim preemption (gap over the
    /// cut-off): the victim was not running, so it could not see them.
    pub events_victim_off: u64,
    /// Events (victim running) with at least one victim gap in the window.
    pub events_matched: u64,
    /// events_matched / (events - events_victim_off).
    pub match_ratio: f64,
    /// Victim gaps in event windows per event (victim running).
    pub gaps_per_event: f64,
    /// Victim CPU's CAL delta / events.
    pub cal_per_event: f64,
    /// Victim time lost per event (gaps minus one quiet iteration each),
    /// TSC cycles.
    pub lost_per_event_cycles: f64,
    /// Total lost / CAL delta, TSC cycles.
    pub lost_per_ipi_cycles: f64,
    /// The same figures in the control: windows of the same lengths at the
    /// same rate, no toggle (the background of ticks and other noise).
    pub control_gaps_per_event: f64,
    pub control_lost_per_event_cycles: f64,
    pub control_cal_per_event: f64,
}
