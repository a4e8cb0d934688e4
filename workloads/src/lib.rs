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
