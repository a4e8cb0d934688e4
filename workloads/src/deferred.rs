//! The per-entry check of Andy Lutomirski's proposal (a review reply to
//! the v7 cover, beb46a02-b902-438b-8b6d-b5f0d7ad0ae6@app.fastmail.com;
//! never posted as code): instead of an IPI, a remote CPU sets a "flush
//! pending" bit in the target CPU's state word, and on every entry from
//! user mode the target does "atomic exchange the entire state to {
//! .work = 0, .status = KERNEL }" and flushes only if the old work says
//! so ("a plain 64-bit lock xchg",
//! 1a911310-4ca5-45a4-b9bf-5f37c6ab238e@app.fastmail.com). These loops
//! time that exchange and the remote writer's side.
//!
//! This is not what the series posted: v5 to v7 put their work bits in
//! the context-tracking state word that entry already updates, with no
//! extra atomic (v7 cover, changelog RFCv1 -> RFCv2: "Dropped the extra
//! context_tracking atomic"); v6/v7 flush unconditionally on every
//! nohz_full entry (COALESCE_TLBI); RFC v8 runs a catch-up sequence
//! unconditionally at entry.

use crate::Clock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The bit a remote CPU sets to ask for a flush on the next entry (the
/// proposal's `work`).
pub const FLUSH_PENDING: u64 = 1;
/// The proposal's `status = KERNEL`, written by the exchange on entry.
pub const STATUS_KERNEL: u64 = 1 << 32;

/// A CPU's state word on a cache line of its own, so only the remote
/// writer (never a neighbouring variable) moves the line.
#[repr(C, align(128))]
#[derive(Debug, Default)]
pub struct StateWord(pub AtomicU64);

/// The entry-side check: one `xchg` of the whole word to { work: 0,
/// status: KERNEL }. Returns whether a flush was asked for.
#[inline(always)]
pub fn check(state: &StateWord) -> bool {
    state.0.swap(STATUS_KERNEL, Ordering::AcqRel) & FLUSH_PENDING != 0
}

/// Fills `out` with the cycles of `batch` back-to-back checks per slot
/// (after `warmup` untimed checks); returns how many checks found the bit.
/// The timed loop is `entry::sample_with_batched`, the one every batched
/// experiment uses.
#[inline(always)]
pub fn sample_checks<C: Clock>(
    clock: &C,
    state: &StateWord,
    warmup: usize,
    batch: usize,
    out: &mut [i64],
) -> u64 {
    let mut seen = 0u64;
    crate::entry::sample_with_batched(clock, warmup, batch, out, || {
        seen += u64::from(check(state));
    });
    seen
}

/// The remote side: sets the pending bit every `period` until `stop`;
/// returns how many times it set it. Spins between marks (a sleep would
/// put the timer's own wakeup IPI on this CPU, not the victim's).
pub fn mark_at(state: &StateWord, period: Duration, stop: &AtomicBool) -> u64 {
    let mut marks = 0u64;
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= next {
            state.0.fetch_or(FLUSH_PENDING, Ordering::Release);
            marks += 1;
            next += period;
            if next < now {
                next = now + period; // fell behind: no burst to catch up
            }
        }
        std::hint::spin_loop();
    }
    marks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StepClock;

    #[test]
    fn check_consumes_the_pending_bit_once() {
        let s = StateWord::default();
        assert!(!check(&s));
        s.0.fetch_or(FLUSH_PENDING | 4, Ordering::Relaxed);
        assert!(check(&s));
        assert!(!check(&s), "the bit must be cleared by the first check");
        assert_eq!(
            s.0.load(Ordering::Relaxed),
            STATUS_KERNEL,
            "the exchange leaves {{ work: 0, status: KERNEL }}"
        );
    }

    #[test]
    fn one_slot_per_sample_and_seen_counts_marks() {
        let s = StateWord::default();
        s.0.store(FLUSH_PENDING, Ordering::Relaxed);
        let clock = StepClock::new(10);
        let mut out = vec![0i64; 5];
        let seen = sample_checks(&clock, &s, 0, 4, &mut out);
        assert_eq!(seen, 1);
        assert!(out.iter().all(|&c| c == 10), "{out:?}");
    }

    #[test]
    fn marker_stops_when_told_and_counts() {
        let s = StateWord::default();
        let stop = AtomicBool::new(true);
        assert_eq!(mark_at(&s, Duration::from_millis(1), &stop), 0);
        assert_eq!(s.0.load(Ordering::Relaxed), 0);
    }
}
