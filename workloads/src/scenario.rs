//! The scenario victim behind `scenario.*`: an isolated task's loop of one
//! system call plus a walk over its working set, every iteration timed,
//! while another CPU fires flush events. The same loop runs for every
//! trigger (and for none), so the scenarios differ only in what the
//! initiator does.
//!
//! Iterations are timed back to back (one clock read per iteration, the
//! previous read is the next start), so no time falls between two timed
//! regions: an interrupt always lands inside some iteration. Times go
//! into a fixed histogram (`Recorder`: one counter per cycle up to
//! `BINS`, a pre-allocated list above), so a run of any length keeps
//! every iteration and never allocates.
//!
//! Which iterations overlapped a flush event: the initiator publishes an
//! event sequence number ([`EventGate`], odd while an event is in
//! progress); the victim reads it at each clock read, and an iteration
//! overlapped an event when the number was odd at its start or changed
//! during it (or, with `Recorder::with_trail`, was one of the next few
//! iterations after such a one). Reading a line the other CPU writes twice per event costs
//! a cache miss per event, nothing in between.

use crate::entry::{CallPath, EntryOp};
use crate::ipi::Gap;
use crate::sys;
use crate::walk::walk;
use crate::Clock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Iteration times (cycles) below this are counted per cycle; longer ones
/// go to the outlier list with their start time.
pub const BINS: usize = 1 << 16;

/// The flush-event handshake between the initiator and the victim. The
/// victim arms it for a triggered chunk and disarms it for a baseline
/// chunk; the initiator fires only between `try_begin` and `end`, and
/// `try_begin` fails once disarmed, so no event starts in a baseline
/// chunk (see `disarm`).
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct EventGate {
    seq: AtomicU64,
    armed: AtomicBool,
}

impl EventGate {
    /// The sequence number: odd while an event is in progress.
    #[inline(always)]
    pub fn seq(&self) -> u64 {
        self.seq.load(Ordering::Relaxed)
    }

    pub fn armed(&self) -> bool {
        self.armed.load(Ordering::Relaxed)
    }

    /// Victim: events may start from now on.
    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Victim: no event starts after this returns, and none is in
    /// progress (or `give_up` was set: the initiator is gone). With the
    /// initiator's re-check in `try_begin` (both sequentially consistent),
    /// either the initiator saw the store and backs out, or its event
    /// began before the victim's read of `seq` and is waited for.
    pub fn disarm(&self, give_up: &AtomicBool) {
        self.armed.store(false, Ordering::SeqCst);
        while self.seq.load(Ordering::SeqCst) & 1 == 1 && !give_up.load(Ordering::Relaxed) {
            std::hint::spin_loop();
        }
    }

    /// Initiator: marks an event as begun, unless disarmed. A refused
    /// attempt moves `seq` by two while the victim waits in `disarm`, so
    /// the victim's chunks never see it.
    pub fn try_begin(&self) -> bool {
        if !self.armed.load(Ordering::SeqCst) {
            return false;
        }
        self.seq.fetch_add(1, Ordering::SeqCst);
        if self.armed.load(Ordering::SeqCst) {
            true
        } else {
            self.seq.fetch_add(1, Ordering::SeqCst);
            false
        }
    }

    /// Initiator: the event begun by `try_begin` is over.
    pub fn end(&self) {
        self.seq.fetch_add(1, Ordering::SeqCst);
    }
}

/// Events begun between two sequence numbers read by the victim.
pub fn events_between(start: u64, end: u64) -> u64 {
    (end.wrapping_sub(start) + (end & 1)) / 2
}

/// The iteration times of one chunk: a counter per cycle below `BINS`,
/// the longer ones listed with their start. Allocated and touched once;
/// `record` never allocates (a full list counts in `dropped`).
#[derive(Debug)]
pub struct Recorder {
    counts: Vec<u64>,
    outliers: Vec<Gap>,
    dropped: u64,
    /// Overlapped iterations longer than this (a preemption, not an
    /// event's cost) are left out of `Chunk::overlapped_short*`.
    long: u64,
    /// Iterations after an event that still count as overlapping it
    /// (`with_trail`).
    trail: u64,
}

/// Outlier entries that a chunk of `cycles` can never overflow: each
/// outlier took at least `BINS` cycles of the chunk (plus the last
/// iteration, which may run past the end).
pub fn outlier_bound(cycles: u64) -> usize {
    (cycles / BINS as u64) as usize + 2
}

impl Recorder {
    /// A recorder whose outlier list holds `outlier_capacity` entries;
    /// `long` as in `Chunk::overlapped_short`.
    pub fn new(outlier_capacity: usize, long: u64) -> Recorder {
        let mut r = Recorder {
            counts: vec![0; BINS],
            outliers: vec![Gap::default(); outlier_capacity.max(1)],
            dropped: 0,
            long,
            trail: 0,
        };
        // Fault every page in now (a zeroed vec is untouched memory).
        for c in r.counts.iter_mut().step_by(512) {
            // SAFETY: a valid &mut u64.
            unsafe { std::ptr::write_volatile(c, 0) };
        }
        for g in r.outliers.iter_mut().step_by(256) {
            // SAFETY: a valid &mut Gap.
            unsafe { std::ptr::write_volatile(g, Gap::default()) };
        }
        r.outliers.clear();
        r
    }

    /// The same recorder counting `n` more iterations after each event as
    /// overlapping it: for a trigger whose cost lands on the victim's
    /// next entry after the event, not during it (a deferred flush runs
    /// at the first entry after the mark, which may begin after the
    /// event's window closed).
    pub fn with_trail(mut self, n: u64) -> Recorder {
        self.trail = n;
        self
    }

    /// Iterations counted as overlapping after each event.
    pub fn trail(&self) -> u64 {
        self.trail
    }

    #[inline(always)]
    fn record(&mut self, start: u64, cycles: u64) {
        if (cycles as usize) < BINS {
            self.counts[cycles as usize] += 1;
        } else if self.outliers.len() < self.outliers.capacity() {
            self.outliers.push(Gap { start, cycles });
        } else {
            self.dropped += 1;
        }
    }

    /// Per-cycle counts (index = cycles).
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Iterations of `BINS` cycles or more, in time order.
    pub fn outliers(&self) -> &[Gap] {
        &self.outliers
    }

    /// Long iterations that did not fit the outlier list.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Empties the recorder for the next chunk (keeps its memory).
    pub fn clear(&mut self) {
        self.counts.iter_mut().for_each(|c| *c = 0);
        self.outliers.clear();
        self.dropped = 0;
    }
}

/// What one chunk did besides the iteration times.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Chunk {
    pub iterations: u64,
    /// Clock at the start of the first and the end of the last iteration.
    pub start: u64,
    pub end: u64,
    /// Iterations that overlapped a flush event.
    pub overlapped: u64,
    /// Of those, the ones no longer than the recorder's `long` cut-off,
    /// and their cycles summed.
    pub overlapped_short: u64,
    pub overlapped_short_cycles: u64,
    /// The event sequence number at the start and the end.
    pub seq_start: u64,
    pub seq_end: u64,
    /// Iterations at whose end at least one event had begun since the
    /// previous iteration's end: the events the victim could tell apart.
    /// A deferred mark that lands while the last one is still pending
    /// adds nothing, so the victim's deferred flushes follow these
    /// groups, not the events.
    pub event_groups: u64,
}

impl Chunk {
    /// Flush events begun during the chunk.
    pub fn events(&self) -> u64 {
        events_between(self.seq_start, self.seq_end)
    }
}

/// Where the victim walks: `pages` pages from `base` (see `walk::walk`).
#[derive(Debug, Clone, Copy)]
pub struct WorkingSet {
    pub base: *const u8,
    pub pages: usize,
}

/// What a chunk runs against: its clock, the initiator's event gate,
/// the working set it walks, the clock reading it ends at and the flag
/// that stops it early.
pub struct ChunkEnv<'a, C> {
    pub clock: &'a C,
    pub gate: &'a EventGate,
    pub ws: WorkingSet,
    pub end: u64,
    pub stop: &'a AtomicBool,
}

/// Runs iterations of `call` plus a walk over `env.ws` until the clock
/// passes `env.end` or `env.stop` is set (checked every iteration: a
/// Relaxed load of a line nobody writes until then), recording each
/// iteration's time into `rec`.
///
/// # Safety
/// `env.ws.base` must point to readable memory of at least
/// `env.ws.pages` pages.
#[inline(never)]
pub unsafe fn run_chunk<C: Clock, F: FnMut()>(
    env: &ChunkEnv<C>,
    rec: &mut Recorder,
    mut call: F,
) -> Chunk {
    let ChunkEnv {
        clock,
        gate,
        ws,
        end,
        stop,
    } = *env;
    let seq_start = gate.seq();
    let start = clock.stop();
    let (mut prev, mut s_prev) = (start, seq_start);
    let (mut iterations, mut overlapped, mut acc) = (0u64, 0u64, 0u8);
    let (mut short, mut short_cycles, mut left, mut groups) = (0u64, 0u64, 0u64, 0u64);
    loop {
        call();
        acc ^= walk(ws.base, ws.pages);
        let now = clock.stop();
        let s = gate.seq();
        let d = now.wrapping_sub(prev);
        rec.record(prev, d);
        if (s_prev & 1) | u64::from(s != s_prev) != 0 {
            // This iteration and `trail` more.
            left = rec.trail + 1;
            groups += u64::from(events_between(s_prev, s) != 0);
        }
        if left > 0 {
            left -= 1;
            overlapped += 1;
            if d <= rec.long {
                short += 1;
                short_cycles += d;
            }
        }
        (prev, s_prev) = (now, s);
        iterations += 1;
        if now >= end || stop.load(Ordering::Relaxed) {
            break;
        }
    }
    std::hint::black_box(acc);
    Chunk {
        iterations,
        start,
        end: prev,
        overlapped,
        overlapped_short: short,
        overlapped_short_cycles: short_cycles,
        seq_start,
        seq_end: s_prev,
        event_groups: groups,
    }
}

/// `run_chunk` with an `EntryOp` as the call, the match on it outside the
/// loop (as `entry::sample_batched` does), so every op runs the same loop.
///
/// # Safety
/// As `run_chunk`.
pub unsafe fn run_chunk_op<C: Clock>(env: &ChunkEnv<C>, rec: &mut Recorder, op: EntryOp) -> Chunk {
    match op {
        EntryOp::Syscall(c, CallPath::Inline) => run_chunk(env, rec, || {
            sys::syscall0(c);
        }),
        EntryOp::Syscall(c, CallPath::Call) => run_chunk(env, rec, || {
            sys::syscall0_call(c);
        }),
        EntryOp::Syscall(c, CallPath::Libc) => run_chunk(env, rec, || {
            sys::syscall0_libc(c);
        }),
        other => run_chunk(env, rec, || other.once()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::Pages;
    use crate::StepClock;

    #[test]
    fn chunk_times_every_iteration_back_to_back() {
        let ws = Pages::new(3).unwrap();
        let ws = WorkingSet {
            base: ws.as_ptr(),
            pages: 3,
        };
        let clock = StepClock::new(7);
        let gate = EventGate::default();
        let (go, halt) = (AtomicBool::new(false), AtomicBool::new(true));
        let mut env = ChunkEnv {
            clock: &clock,
            gate: &gate,
            ws,
            end: 70,
            stop: &go,
        };
        let mut rec = Recorder::new(4, u64::MAX);
        let mut calls = 0;
        // SAFETY: ws is 3 live pages.
        let c = unsafe { run_chunk(&env, &mut rec, || calls += 1) };
        // Reads at 7, 14, ..., 70: nine iterations of 7 cycles each.
        assert_eq!((c.iterations, calls), (9, 9));
        assert_eq!((c.start, c.end), (7, 70));
        assert_eq!(rec.counts()[7], 9);
        assert_eq!((c.overlapped, c.events()), (0, 0));
        // A stop flag ends the chunk after one iteration.
        rec.clear();
        (env.end, env.stop) = (u64::MAX, &halt);
        // SAFETY: as above.
        let c = unsafe { run_chunk(&env, &mut rec, || {}) };
        assert_eq!(c.iterations, 1);
        assert_eq!(rec.counts().iter().sum::<u64>(), 1);
    }

    #[test]
    fn long_iterations_go_to_the_outliers_without_growing_them() {
        let mut r = Recorder::new(2, u64::MAX);
        let cap = r.outliers.capacity();
        r.record(0, 5);
        for i in 0..(cap as u64 + 3) {
            r.record(i, BINS as u64 + i);
        }
        assert_eq!(r.counts()[5], 1);
        assert_eq!(r.outliers().len(), cap);
        assert_eq!(outlier_bound(10 * BINS as u64), 12);
        assert_eq!(r.outliers.capacity(), cap);
        assert_eq!(r.dropped(), 3);
        r.clear();
        assert_eq!((r.outliers().len(), r.dropped(), r.counts()[5]), (0, 0, 0));
    }

    #[test]
    fn the_gate_refuses_events_once_disarmed() {
        let g = EventGate::default();
        let give_up = AtomicBool::new(false);
        assert!(!g.try_begin());
        assert_eq!(g.seq(), 0);
        g.arm();
        assert!(g.try_begin());
        assert_eq!(g.seq() & 1, 1);
        g.end();
        assert_eq!(g.seq(), 2);
        g.disarm(&give_up);
        assert!(!g.try_begin());
        assert_eq!(g.seq(), 2);
        assert_eq!(events_between(0, 2), 1);
        // An event still in progress at the end of a chunk counts.
        assert_eq!(events_between(2, 5), 2);
        // A disarm with an event in progress returns when told to give up.
        g.arm();
        assert!(g.try_begin());
        give_up.store(true, Ordering::Relaxed);
        g.disarm(&give_up);
        assert!(!g.armed());
    }

    /// A clock read 10 cycles after the last that raises the gate's
    /// sequence number by `n` at read `i` for each `(i, n)` of `bumps`.
    struct EventClock<'a> {
        reads: std::cell::Cell<u64>,
        gate: &'a EventGate,
        bumps: &'a [(u64, u64)],
    }
    impl Clock for EventClock<'_> {
        fn start(&self) -> u64 {
            self.stop()
        }
        fn stop(&self) -> u64 {
            let i = self.reads.get() + 1;
            self.reads.set(i);
            for &(at, n) in self.bumps {
                if at == i {
                    self.gate.seq.fetch_add(n, Ordering::SeqCst);
                }
            }
            i * 10
        }
    }

    /// Iterations of a no-op call over one page until an `EventClock`
    /// with `bumps` reads 80.
    fn run_events(bumps: &[(u64, u64)], rec: &mut Recorder) -> Chunk {
        let gate = EventGate::default();
        let clock = EventClock {
            reads: std::cell::Cell::new(0),
            gate: &gate,
            bumps,
        };
        let p = Pages::new(1).unwrap();
        let ws = WorkingSet {
            base: p.as_ptr(),
            pages: 1,
        };
        let env = ChunkEnv {
            clock: &clock,
            gate: &gate,
            ws,
            end: 80,
            stop: &AtomicBool::new(false),
        };
        // SAFETY: one live page, alive until the chunk returns.
        unsafe { run_chunk(&env, rec, || {}) }
    }

    #[test]
    fn event_groups_are_events_begun_between_iterations() {
        // Two whole events before read 3 (one group), one begun by read 5
        // and ended by read 6 (one more group: its end adds none).
        let c = run_events(&[(3, 4), (5, 1), (6, 1)], &mut Recorder::new(1, 15));
        assert_eq!((c.events(), c.event_groups), (3, 2));
    }

    #[test]
    fn overlap_counts_iterations_that_saw_an_event() {
        // The clock raises the sequence number between reads 3 and 5:
        // iterations ending at reads 3 (begin seen), 4 (odd at start) and
        // 5 (end seen) overlapped.
        let bumps = [(3, 1), (5, 1)];
        let c = run_events(&bumps, &mut Recorder::new(1, 15));
        assert_eq!(c.iterations, 7);
        assert_eq!(c.overlapped, 3);
        // Each iteration took 10 cycles, under the cut-off of 15.
        assert_eq!((c.overlapped_short, c.overlapped_short_cycles), (3, 30));
        assert_eq!(c.events(), 1);
        assert_eq!(c.event_groups, 1);
        // With a trail of one, the iteration after the event counts too
        // (the one ending at read 6), and no other.
        let mut rec = Recorder::new(1, 15).with_trail(1);
        assert_eq!(rec.trail(), 1);
        let c = run_events(&bumps, &mut rec);
        assert_eq!((c.iterations, c.overlapped, c.overlapped_short), (7, 4, 4));
        assert_eq!(c.events(), 1);
    }
}
