//! Which of the victim's gaps are the initiator's IPIs, by the kernel's
//! own record instead of by timing.
//!
//! Matching by timing (`ipi_match`) can be wrong in two ways: a call
//! claims an unrelated gap (a tick, a host preemption) instead of its
//! IPI's, or misses its IPI. The interleaved control measures how often
//! a window with no IPI at all holds a gap in tolerance, which is not how
//! often a real call, whose IPI gap is there to be picked, picks wrong.
//! The kernel knows which gap was the IPI: the `csd:csd_function_entry`
//! tracepoint (kernel/smp.c, since Linux 6.5) fires on the CPU that runs
//! a function-call IPI's function, naming it. Recorded on the victim CPU
//! only, in a tracing instance of our own with the `x86-tsc` trace clock
//! (the TSC the victim's loop reads), each event's timestamp falls inside
//! the victim gap that ran it. A gap is the call's IPI when it holds an
//! event of the call's function (`flush_tlb_func`, `ipi_mb`) timed within
//! the call.
//!
//! The event is written inside the handler, so a labelled gap carries a
//! trace event: in ten alternating pairs of quick runs on the Emerald
//! Rapids guest, the median gap priced while traced was -0.01 to 0.76 us
//! above the untraced one (median of the ten differences 0.50 us;
//! `results/checks/trace-event-ab-20261130T0815.txt`). So the labels are
//! used in check blocks (`ipi_check`), to fit the timing rule
//! (`ipi_fit`), and the priced blocks run untraced.

use super::ipi_match::Claimed;
use crate::tracefs::{Instance, Tracefs, Unavailable};
use std::fs;
use std::path::Path;
use workloads::ipi::Gap;

/// The tracepoint (system, event).
pub const EVENT: (&str, &str) = ("csd", "csd_function_entry");
/// The trace clock: the raw TSC, the victim loop's own clock.
pub const CLOCK: &str = "x86-tsc";
/// Ring-buffer bytes to allow per expected event (an entry is 32 bytes
/// with its header; twice that for the other functions and slack).
const BYTES_PER_EVENT: u64 = 64;
/// Smallest victim buffer, KiB.
const MIN_BUFFER_KB: u64 = 1024;

/// Records the tracepoint on one CPU while alive; `finish` reads it.
/// Field order is drop order: the instance goes before the mount.
pub struct Recorder {
    inst: Instance,
    _fs: Tracefs,
    cpu: u32,
}

/// The kernel's record of a phase: when the victim ran the function
/// (TSC, sorted) and how many other functions it ran by IPI.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Labels {
    pub func: String,
    pub times: Vec<u64>,
    pub other: usize,
}

fn write(path: &Path, what: &str) -> Result<(), Unavailable> {
    fs::write(path, what)
        .map_err(|e| Unavailable(format!("cannot write {what:?} to {}: {e}", path.display())))
}

/// `tracing_cpumask` text for one CPU: hex, in comma-separated 32-bit
/// groups (kernel `bitmap_parse`), most significant first.
pub fn cpumask(cpu: u32) -> String {
    let groups = cpu / 32 + 1;
    (0..groups)
        .rev()
        .map(|g| {
            let bits: u32 = if g == cpu / 32 { 1 << (cpu % 32) } else { 0 };
            if g == groups - 1 {
                format!("{bits:x}")
            } else {
                format!("{bits:08x}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

impl Recorder {
    /// Starts recording `csd_function_entry` on `cpu`, with room for
    /// `expected` events. Enabling the event patches kernel text (one
    /// sync-core IPI to every CPU): call it before the phase's counts.
    pub fn start(cpu: u32, expected: usize) -> Result<Recorder, Unavailable> {
        let fs = Tracefs::open(false)?;
        fs.remove_stale_instances();
        let inst = Instance::create(&fs)?;
        let d = inst.dir().to_path_buf();
        let enable = inst.enable_file(EVENT.0, EVENT.1);
        if !enable.exists() {
            return Err(Unavailable(format!(
                "this kernel has no {}:{} tracepoint (Linux 6.5 added it)",
                EVENT.0, EVENT.1
            )));
        }
        let clocks = fs::read_to_string(d.join("trace_clock")).unwrap_or_default();
        if !clocks
            .split_whitespace()
            .any(|c| c.trim_matches(['[', ']']) == CLOCK)
        {
            return Err(Unavailable(format!(
                "this kernel's tracing has no {CLOCK} clock"
            )));
        }
        // A new instance takes the top level's output options: the ones
        // that change the text `parse` reads are set back to the default.
        for (opt, v) in [
            ("raw", "0"),
            ("hex", "0"),
            ("bin", "0"),
            ("latency-format", "0"),
            ("context-info", "1"),
        ] {
            let f = d.join("options").join(opt);
            if f.exists() {
                write(&f, v)?;
            }
        }
        write(&d.join("trace_clock"), CLOCK)?;
        write(&d.join("tracing_cpumask"), &cpumask(cpu))?;
        // Only the victim's buffer needs room: the others are shrunk to
        // the minimum (an instance starts with ~1.4 MB on every CPU).
        write(&d.join("buffer_size_kb"), "4")?;
        let kb = (expected as u64 * BYTES_PER_EVENT / 1024).max(MIN_BUFFER_KB);
        write(
            &d.join(format!("per_cpu/cpu{cpu}/buffer_size_kb")),
            &kb.to_string(),
        )?;
        write(&enable, "1")?;
        Ok(Recorder { inst, _fs: fs, cpu })
    }

    /// Stops recording and reads what the victim ran: an error if the
    /// buffer overflowed (a lost event would read as a missed IPI).
    pub fn finish(self, func: &str) -> Result<Labels, Unavailable> {
        let d = self.inst.dir();
        write(&d.join("tracing_on"), "0")?;
        // Off now, not only when the instance goes: its removal can fail
        // (a reader holds a file), and the priced phase must run without
        // the probe.
        write(&self.inst.enable_file(EVENT.0, EVENT.1), "0")?;
        let stats = fs::read_to_string(d.join(format!("per_cpu/cpu{}/stats", self.cpu)))
            .map_err(|e| Unavailable(format!("cannot read the trace's stats: {e}")))?;
        let lost = lost_events(&stats);
        if lost > 0 {
            return Err(Unavailable(format!("the trace buffer lost {lost} events")));
        }
        let text = fs::read_to_string(d.join("trace"))
            .map_err(|e| Unavailable(format!("cannot read the trace: {e}")))?;
        let labels = parse(&text, func);
        let entries = stat(&stats, "entries");
        if entries > 0 && labels.times.is_empty() && labels.other == 0 {
            return Err(Unavailable(format!(
                "the trace held {entries} events but none could be read as {}:{}",
                EVENT.0, EVENT.1
            )));
        }
        Ok(labels)
    }
}

/// A count from a per-CPU `stats` file (0 when absent).
fn stat(stats: &str, key: &str) -> u64 {
    stats
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim() == key)
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Overrun plus dropped events from a per-CPU `stats` file.
pub fn lost_events(stats: &str) -> u64 {
    stat(stats, "overrun") + stat(stats, "dropped events")
}

/// The `trace` text's `csd_function_entry` lines: timestamps (the token
/// before the event name, `12345:` with the x86-tsc clock) of `func`,
/// sorted, and the count of other functions.
pub fn parse(text: &str, func: &str) -> Labels {
    let marker = format!(" {}: func=", EVENT.1);
    let mut out = Labels {
        func: func.to_string(),
        ..Labels::default()
    };
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((head, rest)) = line.split_once(&marker) else {
            continue;
        };
        let Some(ts) = head
            .split_whitespace()
            .last()
            .and_then(|t| t.strip_suffix(':'))
            .and_then(|t| t.parse::<u64>().ok())
        else {
            continue;
        };
        let name = rest.split([',', ' ', '+']).next().unwrap_or("");
        if name == func {
            out.times.push(ts);
        } else {
            out.other += 1;
        }
    }
    out.times.sort_unstable();
    out
}

/// The gap holding TSC time `t`, by index (gaps disjoint, in order).
pub(crate) fn holding(gaps: &[Gap], t: u64) -> Option<usize> {
    let i = gaps.partition_point(|g| g.start <= t).checked_sub(1)?;
    (t <= gaps[i].end()).then_some(i)
}

/// What the labels say of a set of windows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labelled {
    pub claimed: Claimed,
    /// Windows holding an event that fell in no gap (the victim was not
    /// in its loop, or the IPI took less than the threshold).
    pub without_gap: usize,
}

/// Splits gaps into ours and others by the labels: each window (widened
/// by `skew`) claims the gap holding an event of the function timed
/// within it. A claimed gap that began before the window is `merged`
/// (the IPI arrived while the victim was off its loop), as with the
/// timing rule. Gaps disjoint and in time order; windows in time order.
pub fn attribute(gaps: &[Gap], windows: &[(u64, u64)], skew: u64, times: &[u64]) -> Labelled {
    let mut claimed = vec![None; gaps.len()];
    let mut without_gap = 0;
    for &w in windows {
        let lo = w.0.saturating_sub(skew);
        let inside = in_window(times, w, skew);
        let free = inside
            .iter()
            .find_map(|&t| holding(gaps, t).filter(|&i| claimed[i].is_none()));
        match free {
            Some(i) => claimed[i] = Some(lo),
            None if !inside.is_empty() => without_gap += 1,
            None => {}
        }
    }
    Labelled {
        claimed: Claimed::split(gaps, claimed),
        without_gap,
    }
}

/// How the timing rule's picks compare with the labels': of the gaps it
/// claimed, how many hold no event of the function (chance matches),
/// and how many labelled gaps it left.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimingCheck {
    pub claimed: usize,
    pub unlabelled: usize,
    pub missed: usize,
}

pub fn check_timing(timing: &[Gap], labelled: &[Gap], times: &[u64]) -> TimingCheck {
    let starts: std::collections::HashSet<u64> = timing.iter().map(|g| g.start).collect();
    TimingCheck {
        claimed: timing.len(),
        unlabelled: timing.iter().filter(|g| !holds(times, g)).count(),
        missed: labelled
            .iter()
            .filter(|g| !starts.contains(&g.start))
            .count(),
    }
}

/// The (sorted) event times in `[lo, hi]`.
pub fn between(times: &[u64], lo: u64, hi: u64) -> &[u64] {
    let first = times.partition_point(|&t| t < lo);
    let end = first + times[first..].partition_point(|&t| t <= hi);
    &times[first..end]
}

/// The (sorted) event times of call window `w`: within it, widened by
/// `skew` each side (an event is the call's where the two CPUs' clocks
/// may put it).
pub fn in_window(times: &[u64], (ws, we): (u64, u64), skew: u64) -> &[u64] {
    between(times, ws.saturating_sub(skew), we.saturating_add(skew))
}

/// Whether gap `g` holds one of the (sorted) event times.
pub fn holds(times: &[u64], g: &Gap) -> bool {
    !between(times, g.start, g.end()).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(start: u64, cycles: u64) -> Gap {
        Gap { start, cycles }
    }

    #[test]
    fn cpumask_groups() {
        assert_eq!(cpumask(0), "1");
        assert_eq!(cpumask(1), "2");
        assert_eq!(cpumask(31), "80000000");
        assert_eq!(cpumask(32), "1,00000000");
        assert_eq!(cpumask(65), "2,00000000,00000000");
    }

    #[test]
    fn parses_the_trace_text() {
        // As Linux 6.18 wrote it with trace_clock x86-tsc.
        let text = "\
# tracer: nop
#
# entries-in-buffer/entries-written: 4/4   #P:2
#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
          <idle>-0       [001] d.h1. 78215585363304: csd_function_entry: func=do_sync_core, csd=00000000ff54ec65
   entrybench-912        [001] d.h.. 78215600000200: csd_function_entry: func=flush_tlb_func, csd=000000001a2b3c4d
   entrybench-912        [001] d.h.. 78215600000100: csd_function_entry: func=flush_tlb_func, csd=000000001a2b3c4d
   entrybench-912        [001] d.h.. 78215600000300: call_function_single_entry: vector=251
   entrybench-912        [001] d.h.. garbage: csd_function_entry: func=flush_tlb_func, csd=0
";
        let l = parse(text, "flush_tlb_func");
        assert_eq!(l.times, vec![78215600000100, 78215600000200]);
        assert_eq!(l.other, 1);
        assert_eq!(parse(text, "ipi_mb").times, Vec::<u64>::new());
    }

    #[test]
    fn lost_events_from_stats() {
        let s = "entries: 12\noverrun: 3\ncommit overrun: 0\nbytes: 480\n\
                 oldest event ts: 123.4\ndropped events: 2\nread events: 0\n";
        assert_eq!(lost_events(s), 5);
        assert_eq!(stat(s, "entries"), 12);
        assert_eq!(stat(s, "commit overrun"), 0);
        assert_eq!(lost_events("entries: 1\noverrun: 0\n"), 0);
    }

    #[test]
    fn a_gap_is_ours_when_it_holds_the_calls_event() {
        // Call 1 (100, 1000): a tick at 150-350 (no event) and its IPI
        // at 900-990 (event at 950). Call 2 (5000, 5050): its IPI began
        // before the call (merged): 4990-5055, event at 5040. A control
        // window (3000, 3100) holds an unrelated gap and no event.
        let gaps = [g(150, 200), g(900, 90), g(3000, 100), g(4990, 65)];
        let times = [950, 5040];
        let l = attribute(&gaps, &[(100, 1000), (5000, 5050)], 5, &times);
        assert_eq!(l.claimed.hit, vec![g(900, 90)]);
        assert_eq!(l.claimed.merged, vec![g(4990, 65)]);
        assert_eq!(l.claimed.miss, vec![g(150, 200), g(3000, 100)]);
        assert_eq!(l.without_gap, 0);
        let c = attribute(&l.claimed.miss, &[(3000, 3100)], 5, &times);
        assert!(c.claimed.hit.is_empty() && c.without_gap == 0);
        // An event in a window but in no gap.
        let l = attribute(&gaps, &[(1200, 1300)], 5, &[1250]);
        assert_eq!((l.claimed.hit.len(), l.without_gap), (0, 1));
        // Outside the window widened by the skew: not this call's.
        let l = attribute(&gaps, &[(100, 940)], 5, &[950]);
        assert!(l.claimed.hit.is_empty());
        let l = attribute(&gaps, &[(100, 945)], 5, &[950]);
        assert_eq!(l.claimed.hit, vec![g(900, 90)]);
    }

    #[test]
    fn the_timing_rule_checked_against_the_labels() {
        let labelled = [g(900, 90), g(4990, 65)];
        let times = [950, 5040];
        // Timing took the tick instead of call 1's IPI, and call 2's.
        let c = check_timing(&[g(150, 200), g(4990, 65)], &labelled, &times);
        assert_eq!(
            c,
            TimingCheck {
                claimed: 2,
                unlabelled: 1,
                missed: 1
            }
        );
        assert_eq!(
            check_timing(&labelled, &labelled, &times),
            TimingCheck {
                claimed: 2,
                unlabelled: 0,
                missed: 0
            }
        );
    }
}
