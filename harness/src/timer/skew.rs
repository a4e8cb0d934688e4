//! How far apart two CPUs' TSCs may read, measured by ping-pong.
//!
//! Gaps on the victim CPU are matched with calls timed on the initiator
//! CPU, so the matching must allow for the offset between their TSCs.
//! A guessed allowance (it was 2 us) widens every match window, and on a
//! noisy host each window's width is a chance of a false match.
//!
//! Each side in turn stores its TSC in a shared word; the other reads
//! its own TSC on seeing it. A one-way difference is the transfer time
//! plus the offset of the receiver's TSC over the sender's; its minimum
//! over many rounds is the fastest transfer plus the offset, delays only
//! add. With `ab` and `ba` the two minima, the offset is `(ab - ba) / 2`
//! if the fastest transfers are alike both ways, and whatever the
//! transfers, no event can appear shifted by more than `max(ab, ba)`:
//! that is the allowance.

use super::Tsc;
use crate::placement::pin_current_thread;
use anyhow::{anyhow, bail, Result};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Round trips per measurement: a few milliseconds, enough for the
/// minimum to reach the fastest transfer on a noisy host.
const ROUNDS: usize = 2000;
/// A side that has seen nothing from the other for this long gives up:
/// the other thread failed, or is not running.
const PATIENCE: Duration = Duration::from_secs(1);

/// The result of a ping-pong between the calling thread's CPU (A) and
/// another (B), TSC cycles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Skew {
    /// Minimum of B's TSC on receipt minus A's TSC on sending.
    pub a_to_b: i64,
    /// Minimum of A's TSC on receipt minus B's TSC on sending.
    pub b_to_a: i64,
}

impl Skew {
    /// The most a cross-CPU event can appear shifted: `max(ab, ba)`,
    /// at least 0.
    pub fn allowance(&self) -> u64 {
        self.a_to_b.max(self.b_to_a).max(0) as u64
    }

    /// B's TSC minus A's, if the fastest transfers are alike both ways.
    pub fn offset(&self) -> i64 {
        (self.a_to_b - self.b_to_a) / 2
    }
}

/// A word that carries a TSC reading (0 = none yet).
fn send(slot: &AtomicU64) {
    slot.store(Tsc::start().max(1), Ordering::Release);
}

/// Waits for `slot` to hold a new reading; returns receipt TSC minus it.
/// Fails when `gone` is set (the other side ended) or after `PATIENCE`.
fn receive(slot: &AtomicU64, last: &mut u64, gone: &AtomicBool) -> Result<i64> {
    let since = Instant::now();
    let sent = loop {
        let v = slot.load(Ordering::Acquire);
        if v != *last {
            break v;
        }
        if gone.load(Ordering::Acquire) {
            bail!("the other side of the TSC ping-pong stopped");
        }
        if since.elapsed() > PATIENCE {
            bail!("no reply in the TSC ping-pong for {PATIENCE:?}");
        }
        std::hint::spin_loop();
    };
    *last = sent;
    Ok(Tsc::stop().wrapping_sub(sent) as i64)
}

/// Sets its flag when dropped: the other side stops waiting however
/// this one ends.
struct Gone<'a>(&'a AtomicBool);
impl Drop for Gone<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// One side: `ROUNDS` times, send first (`leads`) or reply, keeping the
/// smallest one-way difference received.
fn side(leads: bool, out: &AtomicU64, inbox: &AtomicU64, gone: &AtomicBool) -> Result<i64> {
    let (mut last, mut best) = (0, i64::MAX);
    for _ in 0..ROUNDS {
        if leads {
            send(out);
        }
        best = best.min(receive(inbox, &mut last, gone)?);
        if !leads {
            send(out);
        }
    }
    Ok(best)
}

/// Ping-pong between the calling thread (already pinned to its CPU) and
/// a thread pinned to `other`, which must be another CPU.
pub fn measure(other: u32) -> Result<Skew> {
    // SAFETY: sched_getcpu has no preconditions.
    let here = unsafe { libc::sched_getcpu() };
    if u32::try_from(here).ok() == Some(other) {
        bail!("TSC skew: CPU {other} against itself");
    }
    let (ping, pong) = (AtomicU64::new(0), AtomicU64::new(0));
    let (a_gone, b_gone) = (AtomicBool::new(false), AtomicBool::new(false));
    std::thread::scope(|s| {
        let b = s.spawn(|| -> Result<i64> {
            let _gone = Gone(&b_gone);
            let _pin = pin_current_thread(other)?;
            side(false, &pong, &ping, &a_gone)
        });
        let b_to_a = {
            let _gone = Gone(&a_gone);
            side(true, &ping, &pong, &b_gone)
        };
        let a_to_b = b.join().map_err(|_| anyhow!("TSC skew thread panicked"))?;
        Ok(Skew {
            a_to_b: a_to_b?,
            b_to_a: b_to_a?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowance_covers_the_offset_either_way() {
        // B reads 300 ahead of A, fastest transfer 100 each way.
        let s = Skew {
            a_to_b: 400,
            b_to_a: -200,
        };
        assert_eq!(s.offset(), 300);
        assert_eq!(s.allowance(), 400);
        let s = Skew {
            a_to_b: -50,
            b_to_a: -60,
        };
        assert_eq!(s.allowance(), 0);
    }

    #[test]
    fn a_silent_or_gone_other_side_ends_the_wait() {
        let (slot, gone) = (AtomicU64::new(0), AtomicBool::new(true));
        assert!(receive(&slot, &mut 0, &gone).is_err());
        // No CPU has this number: the other side fails to pin, and this
        // side returns instead of waiting for it.
        assert!(measure(u32::MAX - 1).is_err());
    }

    #[test]
    fn ping_pong_between_two_cpus_is_bounded() {
        let ids = core_affinity::get_core_ids().unwrap_or_default();
        if ids.len() < 2 {
            eprintln!("skipped: one CPU");
            return;
        }
        let _pin = pin_current_thread(ids[0].id as u32).unwrap();
        let s = measure(ids[1].id as u32).unwrap();
        // A transfer takes time in both directions, so the two minima
        // cannot both be negative, and their sum (two fastest transfers)
        // is positive whatever the offset.
        assert!(s.a_to_b + s.b_to_a > 0, "{s:?}");
        assert!(s.allowance() > 0, "{s:?}");
    }
}
