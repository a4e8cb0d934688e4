//! Kernel-entry loops: one timed operation per sample.

use crate::sys::{self, NoArgCall};
use crate::Clock;

/// How a system call is made (see `sys`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallPath {
    /// The instruction inline: the entry/exit alone.
    Inline,
    /// Our own non-inlined wrapper: entry/exit plus call and return.
    Call,
    /// glibc's `syscall()`: the call plus the wrapper's work.
    Libc,
}

impl CallPath {
    /// "inline", "call", "libc".
    pub fn name(self) -> &'static str {
        match self {
            CallPath::Inline => "inline",
            CallPath::Call => "call",
            CallPath::Libc => "libc",
        }
    }
}

/// The operation inside one timed region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryOp {
    /// Nothing: the timer's own cost (`timer.overhead`).
    Empty,
    /// An argument-less system call made one of the `CallPath` ways.
    Syscall(NoArgCall, CallPath),
    /// clock_gettime(CLOCK_MONOTONIC) through glibc, which uses the vDSO
    /// when the clocksource allows it: the no-entry control.
    VdsoClockGettime,
}

impl EntryOp {
    /// Performs the operation once.
    #[inline(always)]
    pub fn once(self) {
        match self {
            EntryOp::Empty => {}
            EntryOp::Syscall(c, CallPath::Inline) => {
                sys::syscall0(c);
            }
            EntryOp::Syscall(c, CallPath::Call) => {
                sys::syscall0_call(c);
            }
            EntryOp::Syscall(c, CallPath::Libc) => {
                sys::syscall0_libc(c);
            }
            EntryOp::VdsoClockGettime => {
                let mut ts = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                // SAFETY: ts is a valid timespec on the stack.
                unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
                std::hint::black_box(ts);
            }
        }
    }

    /// What the operation is, for result-file notes.
    pub fn describe(self) -> String {
        match self {
            EntryOp::Empty => "empty timed region".into(),
            EntryOp::Syscall(c, CallPath::Inline) => {
                format!("syscall instruction inline, {}", c.name())
            }
            EntryOp::Syscall(c, CallPath::Call) => format!(
                "syscall instruction in a called (non-inlined) function, {}",
                c.name()
            ),
            EntryOp::Syscall(c, CallPath::Libc) => format!("glibc syscall(), {}", c.name()),
            EntryOp::VdsoClockGettime => {
                "glibc clock_gettime(CLOCK_MONOTONIC) (vDSO when the clocksource allows)".into()
            }
        }
    }
}

/// Times `op` once per element of `out` after `warmup` untimed runs.
/// Writes raw cycles (stop - start) into the caller's pre-allocated buffer:
/// no allocation and no other system call happen inside the loop.
#[inline(never)]
pub fn sample<C: Clock>(clock: &C, op: EntryOp, warmup: usize, out: &mut [i64]) {
    sample_batched(clock, op, warmup, 1, out)
}

/// Like `sample`, with `batch` back-to-back operations per timed region:
/// each slot gets the raw cycles of the whole batch. Batches spread the
/// timer's own cost and its step over `batch` operations, and time the
/// calls back to back as a program makes them. The match on `op` is
/// outside the loops.
#[inline(never)]
pub fn sample_batched<C: Clock>(
    clock: &C,
    op: EntryOp,
    warmup: usize,
    batch: usize,
    out: &mut [i64],
) {
    match op {
        EntryOp::Empty => sample_with_batched(clock, warmup, batch, out, || {}),
        EntryOp::Syscall(c, CallPath::Inline) => {
            sample_with_batched(clock, warmup, batch, out, || {
                sys::syscall0(c);
            })
        }
        EntryOp::Syscall(c, CallPath::Call) => {
            sample_with_batched(clock, warmup, batch, out, || {
                sys::syscall0_call(c);
            })
        }
        EntryOp::Syscall(c, CallPath::Libc) => {
            sample_with_batched(clock, warmup, batch, out, || {
                sys::syscall0_libc(c);
            })
        }
        EntryOp::VdsoClockGettime => sample_with_batched(clock, warmup, batch, out, || {
            EntryOp::VdsoClockGettime.once()
        }),
    }
}

/// The loop behind `sample`, for any operation (criterion benches and
/// backends with their own operation use this directly).
#[inline(always)]
pub fn sample_with<C: Clock, F: FnMut()>(clock: &C, warmup: usize, out: &mut [i64], f: F) {
    sample_with_batched(clock, warmup, 1, out, f)
}

/// The loop behind `sample_batched`: `batch` calls of `f` per slot
/// (`batch` 0 is taken as 1).
#[inline(always)]
pub fn sample_with_batched<C: Clock, F: FnMut()>(
    clock: &C,
    warmup: usize,
    batch: usize,
    out: &mut [i64],
    mut f: F,
) {
    for _ in 0..warmup {
        f();
    }
    let batch = batch.max(1);
    for slot in out.iter_mut() {
        let t0 = clock.start();
        for _ in 0..batch {
            f();
        }
        let t1 = clock.stop();
        *slot = t1.wrapping_sub(t0) as i64;
    }
}

/// Two operations timed back to back per slot, with one timer read
/// between them: `whole` gets the raw cycles of `first` and `second`
/// together, `second_only` those of `second` alone (same slot index).
/// Used where an operation changes what the next one costs (a TLB flush,
/// then the next kernel entry): both parts come from the same iteration.
#[inline(always)]
pub fn sample_pair_with<C: Clock, F: FnMut(), G: FnMut()>(
    clock: &C,
    warmup: usize,
    whole: &mut [i64],
    second_only: &mut [i64],
    mut first: F,
    mut second: G,
) {
    for _ in 0..warmup {
        first();
        second();
    }
    for (w, s) in whole.iter_mut().zip(second_only.iter_mut()) {
        let t0 = clock.start();
        first();
        let t1 = clock.stop();
        second();
        let t2 = clock.stop();
        *w = t2.wrapping_sub(t0) as i64;
        *s = t2.wrapping_sub(t1) as i64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StepClock;

    #[test]
    fn pairs_time_both_parts_of_one_iteration() {
        let clock = StepClock::new(10);
        let (mut a, mut b) = (0, 0);
        let mut whole = vec![0i64; 4];
        let mut second = vec![0i64; 4];
        sample_pair_with(&clock, 2, &mut whole, &mut second, || a += 1, || b += 1);
        assert_eq!((a, b), (6, 6));
        // Three consecutive reads of the step clock per slot.
        assert!(whole.iter().all(|&v| v == 20), "{whole:?}");
        assert!(second.iter().all(|&v| v == 10), "{second:?}");
    }

    #[test]
    fn one_sample_per_slot_and_warmup_not_recorded() {
        let clock = StepClock::new(10);
        let mut calls = 0;
        let mut out = vec![0i64; 7];
        sample_with(&clock, 3, &mut out, || calls += 1);
        assert_eq!(calls, 10);
        // start and stop are consecutive reads of the step clock.
        assert!(out.iter().all(|&v| v == 10), "{out:?}");
    }

    #[test]
    fn batches_call_the_op_batch_times_per_slot() {
        let clock = StepClock::new(10);
        let mut calls = 0;
        let mut out = vec![0i64; 5];
        sample_with_batched(&clock, 2, 4, &mut out, || calls += 1);
        assert_eq!(calls, 2 + 5 * 4);
        let mut calls = 0;
        sample_with_batched(&clock, 0, 0, &mut out, || calls += 1);
        assert_eq!(calls, 5);
    }

    #[test]
    fn every_op_runs() {
        let clock = StepClock::new(1);
        let mut ops = vec![EntryOp::Empty, EntryOp::VdsoClockGettime];
        for c in [NoArgCall::Invalid, NoArgCall::Getpid, NoArgCall::Getppid] {
            for p in [CallPath::Inline, CallPath::Call, CallPath::Libc] {
                ops.push(EntryOp::Syscall(c, p));
            }
        }
        for op in ops {
            let mut out = vec![-5i64; 4];
            sample(&clock, op, 1, &mut out);
            assert!(out.iter().all(|&v| v == 1), "{op:?}: {out:?}");
            assert!(!op.describe().is_empty());
        }
    }
}
