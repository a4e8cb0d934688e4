//! The pinned hot loops entrybench measures.
//!
//! This crate holds only the loops and the memory they walk: no pinning,
//! no statistics, no output. The clock is a parameter (`Clock`) so the
//! harness's fenced TSC, a perf rdpmc counter or a test clock plug in, and
//! criterion benches can call the same loops.
//!
//! Modules: `sys` (raw `syscall` instruction), `entry` (kernel-entry
//! loops), `pages` (locked, pre-faulted 4 KiB page buffers), `walk`
//! (working-set walker and the TLB-refill loop), `ipi` (interruption victim
//! and the user-space IPI triggers), `scenario` (the head-to-head victim:
//! one system call plus a walk per iteration, every iteration timed).

pub mod deferred;
pub mod entry;
pub mod ipi;
pub mod pages;
pub mod scenario;
pub mod sys;
pub mod walk;

/// A cycle counter read at the two ends of a timed region.
///
/// `start` must not let later instructions begin before it reads the
/// counter, `stop` must not read it before earlier instructions finished;
/// both return the raw counter value. Implementations are expected to be
/// `#[inline(always)]` so the loops here compile to the bare sequence.
pub trait Clock {
    fn start(&self) -> u64;
    fn stop(&self) -> u64;
}

/// Core-cycle deltas of timed regions, in the order the regions ended:
/// what `Paired` records beside the time it returns. The buffer is
/// allocated before the loop (`with_capacity`), so recording one delta is
/// a store, outside the timed region.
#[derive(Debug, Default)]
pub struct CoreLog(std::cell::RefCell<Vec<i64>>);

impl CoreLog {
    /// A log with room for `regions` deltas.
    pub fn with_capacity(regions: usize) -> CoreLog {
        CoreLog(std::cell::RefCell::new(Vec::with_capacity(regions)))
    }

    #[inline(always)]
    fn push(&self, delta: i64) {
        self.0.borrow_mut().push(delta);
    }

    /// The deltas recorded so far, emptying the log.
    pub fn take(&self) -> Vec<i64> {
        std::mem::take(&mut *self.0.borrow_mut())
    }

    pub fn len(&self) -> usize {
        self.0.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Two counters around every timed region, as `perf stat` keeps
/// task-clock and cycles side by side: the loops get the `time` clock's
/// readings (the TSC: ns come from it), and each region's `core` delta
/// (rdpmc core cycles) goes to `log`. The core counter is read outside
/// the time counter (first at the start, last at the stop), so the time
/// window is the same as with the time clock alone.
pub struct Paired<'a, T: Clock, C: Clock> {
    time: &'a T,
    core: &'a C,
    begin: std::cell::Cell<u64>,
    log: &'a CoreLog,
}

impl<'a, T: Clock, C: Clock> Paired<'a, T, C> {
    pub fn new(time: &'a T, core: &'a C, log: &'a CoreLog) -> Self {
        Paired {
            time,
            core,
            begin: std::cell::Cell::new(0),
            log,
        }
    }
}

impl<T: Clock, C: Clock> Clock for Paired<'_, T, C> {
    #[inline(always)]
    fn start(&self) -> u64 {
        self.begin.set(self.core.start());
        self.time.start()
    }
    #[inline(always)]
    fn stop(&self) -> u64 {
        let t = self.time.stop();
        let c = self.core.stop();
        self.log.push(c.wrapping_sub(self.begin.get()) as i64);
        t
    }
}

/// Page size the walkers and triggers assume (x86-64 base pages).
pub const PAGE_SIZE: usize = 4096;

/// A `Clock` for tests: every read advances by a fixed step, so loops can
/// be checked for structure (sample counts, gap detection) without timing.
#[derive(Debug, Default)]
pub struct StepClock {
    now: std::cell::Cell<u64>,
    step: u64,
}

impl StepClock {
    pub fn new(step: u64) -> StepClock {
        StepClock {
            now: std::cell::Cell::new(0),
            step,
        }
    }
}

impl Clock for StepClock {
    fn start(&self) -> u64 {
        self.now.set(self.now.get() + self.step);
        self.now.get()
    }
    fn stop(&self) -> u64 {
        self.start()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_returns_time_and_logs_core_deltas() {
        // A core clock at 1.5x the time clock: the loop sees time, the log
        // holds core cycles, one delta per region in order.
        let (tsc, core) = (StepClock::new(2), StepClock::new(3));
        let log = CoreLog::with_capacity(4);
        let c = Paired::new(&tsc, &core, &log);
        let mut out = vec![0i64; 4];
        entry::sample_with(&c, 0, &mut out, || {});
        assert_eq!(out, [2, 2, 2, 2]);
        assert_eq!(log.take(), [3, 3, 3, 3]);
        assert!(log.is_empty());
    }
}
