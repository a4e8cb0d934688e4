//! Kernel-entry loops: one timed operation per sample.

use crate::sys;
use crate::Clock;

/// The operation inside one timed region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryOp {
    /// Nothing: the timer's own cost (`timer.overhead`).
    Empty,
    /// `syscall(-1)`: entry, ENOSYS, exit (`entry.null`).
    Null,
    /// Raw getpid (`entry.getpid`).
    Getpid,
    /// Raw getppid (`entry.getppid`; what `perf bench syscall basic` calls).
    Getppid,
    /// clock_gettime(CLOCK_MONOTONIC) through glibc, which uses the vDSO
    /// when the clocksource allows it: the no-entry control.
    VdsoClockGettime,
    /// glibc's `syscall(nr)`: the same entry plus the wrapper (argument
    /// shuffle, PLT call, errno store on failure). `perf bench syscall
    /// basic` calls getppid this way; measured here so the two compare.
    LibcSyscall(i64),
}

impl EntryOp {
    /// Performs the operation once.
    #[inline(always)]
    pub fn once(self) {
        match self {
            EntryOp::Empty => {}
            EntryOp::Null => {
                sys::syscall0(sys::NR_INVALID);
            }
            EntryOp::Getpid => {
                sys::syscall0(sys::NR_GETPID);
            }
            EntryOp::Getppid => {
                sys::syscall0(sys::NR_GETPPID);
            }
            EntryOp::LibcSyscall(nr) => {
                // SAFETY: used with argument-less numbers (getpid,
                // getppid, -1) that touch no user memory.
                unsafe { libc::syscall(nr) };
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
    pub fn describe(self) -> &'static str {
        match self {
            EntryOp::Empty => "empty timed region",
            EntryOp::Null => "raw syscall instruction, nr -1 (ENOSYS)",
            EntryOp::Getpid => "raw syscall instruction, getpid",
            EntryOp::Getppid => "raw syscall instruction, getppid",
            EntryOp::VdsoClockGettime => {
                "glibc clock_gettime(CLOCK_MONOTONIC) (vDSO when the clocksource allows)"
            }
            EntryOp::LibcSyscall(n) if n == sys::NR_INVALID => "glibc syscall(-1) (ENOSYS)",
            EntryOp::LibcSyscall(n) if n == sys::NR_GETPID => "glibc syscall(SYS_getpid)",
            EntryOp::LibcSyscall(n) if n == sys::NR_GETPPID => "glibc syscall(SYS_getppid)",
            EntryOp::LibcSyscall(_) => "glibc syscall(nr)",
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
/// timer's own cost and its resolution (26-cycle steps on AMD Zen TSCs)
/// over `batch` operations. The match on `op` is outside the loops.
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
        EntryOp::Null => sample_with_batched(clock, warmup, batch, out, || {
            sys::syscall0(sys::NR_INVALID);
        }),
        EntryOp::Getpid => sample_with_batched(clock, warmup, batch, out, || {
            sys::syscall0(sys::NR_GETPID);
        }),
        EntryOp::Getppid => sample_with_batched(clock, warmup, batch, out, || {
            sys::syscall0(sys::NR_GETPPID);
        }),
        EntryOp::VdsoClockGettime => sample_with_batched(clock, warmup, batch, out, || {
            EntryOp::VdsoClockGettime.once()
        }),
        EntryOp::LibcSyscall(nr) => sample_with_batched(clock, warmup, batch, out, || {
            EntryOp::LibcSyscall(nr).once()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StepClock;

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
        for op in [
            EntryOp::Empty,
            EntryOp::Null,
            EntryOp::Getpid,
            EntryOp::Getppid,
            EntryOp::VdsoClockGettime,
            EntryOp::LibcSyscall(sys::NR_GETPPID),
        ] {
            let mut out = vec![-5i64; 4];
            sample(&clock, op, 1, &mut out);
            assert!(out.iter().all(|&v| v == 1), "{op:?}: {out:?}");
            assert!(!op.describe().is_empty());
        }
    }
}
