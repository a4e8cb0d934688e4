//! Working-set walker and the TLB-refill loop behind `refill.wN`.
//!
//! What the "flushing entry" is, exactly: `mprotect(PROT_READ)` of an
//! unrelated, populated, writable range of `FLUSH_PAGES` (64) pages. Removing
//! write permission from present PTEs needs a TLB flush, and 64 pages is
//! above the kernel's `tlb_single_page_flush_ceiling` (33 by default), so
//! `flush_tlb_mm_range()` turns the range flush into a full flush of this
//! mm on the local CPU (CR3 reload without NOFLUSH, or INVPCID single
//! context). That drops every *non-global* (user) TLB entry of this
//! process. Kernel mappings are global when PTI is off and survive; with
//! PTI on the kernel half of this mm's PCID pair is flushed too. So this is
//! the user-space-reachable lower bound of what flush-on-entry
//! (COALESCE_TLBI, INVPCID type 2 incl. global) costs in refills.
//!
//! The "plain entry" it is compared with is `mprotect(PROT_READ)` of the
//! same range when it is already read-only: same system call, VMA lookup,
//! no PTE change, no flush. Each flushed sample is followed by a plain one,
//! so drift hits both alike.

use crate::pages::Pages;
use crate::sys;
use crate::{Clock, PAGE_SIZE};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

/// Pages in the flush range: above tlb_single_page_flush_ceiling (33).
pub const FLUSH_PAGES: usize = 64;

/// Cache line size the probe offsets step by.
pub const LINE: usize = 64;

/// Where in page `i` the walker reads: a different cache line of each of
/// 64 consecutive pages, so the probes spread over every cache set a page
/// maps to instead of all landing in set 0 (byte 0 of every page would
/// thrash one set and measure cache conflicts, not TLB refills).
#[inline(always)]
pub fn probe_offset(i: usize) -> usize {
    i * PAGE_SIZE + (i % (PAGE_SIZE / LINE)) * LINE
}

/// Reads one byte per page (at `probe_offset`), in address order; returns
/// the xor of the bytes so the compiler keeps every load.
///
/// # Safety
/// `base` must point to readable memory of at least `pages` pages.
#[inline(never)]
pub unsafe fn walk(base: *const u8, pages: usize) -> u8 {
    let mut acc = 0u8;
    for i in 0..pages {
        acc ^= base.add(probe_offset(i)).read_volatile();
    }
    acc
}

/// The range whose protection change makes the flushing entry.
#[derive(Debug)]
pub struct FlushRange {
    pages: Pages,
}

impl FlushRange {
    pub fn new() -> io::Result<FlushRange> {
        Ok(FlushRange {
            pages: Pages::new(FLUSH_PAGES)?,
        })
    }

    fn mprotect(&self, prot: i32) -> i64 {
        // SAFETY: changing protection of our own mapping; nothing else
        // holds references into it.
        unsafe {
            sys::syscall3(
                libc::SYS_mprotect,
                self.pages.as_ptr() as usize,
                self.pages.len_bytes(),
                prot as usize,
            )
        }
    }

    /// Makes the range writable and writes every page, so the next
    /// `flushing_entry` changes present writable PTEs.
    pub fn arm(&self) -> io::Result<()> {
        sys::check(self.mprotect(libc::PROT_READ | libc::PROT_WRITE))?;
        self.pages.write_all(2);
        Ok(())
    }

    /// The flushing entry (see module doc). Returns the raw return value so
    /// the caller checks it outside its timed region.
    #[inline(always)]
    pub fn flushing_entry(&self) -> i64 {
        self.mprotect(libc::PROT_READ)
    }

    /// The same call on an already read-only range: no flush.
    #[inline(always)]
    pub fn plain_entry(&self) -> i64 {
        self.mprotect(libc::PROT_READ)
    }
}

/// Fills `flushed[i]` and `plain[i]` with the cycles of a walk over `ws`
/// right after a flushing resp. plain entry (both after an untimed warm
/// walk). Stops early when `cancel` is set; returns the number of pairs
/// completed.
pub fn refill_pairs<C: Clock>(
    clock: &C,
    ws: &Pages,
    range: &FlushRange,
    flushed: &mut [i64],
    plain: &mut [i64],
    cancel: &AtomicBool,
) -> io::Result<usize> {
    let n = flushed.len().min(plain.len());
    let (base, pages) = (ws.as_ptr() as *const u8, ws.pages());
    // SAFETY (every walk below): `ws` is a live mapping of `pages` pages.
    for i in 0..n {
        if cancel.load(Ordering::Relaxed) {
            return Ok(i);
        }
        range.arm()?;
        unsafe { walk(base, pages) };
        let r = range.flushing_entry();
        let t0 = clock.start();
        unsafe { walk(base, pages) };
        let t1 = clock.stop();
        sys::check(r)?;
        flushed[i] = t1.wrapping_sub(t0) as i64;

        unsafe { walk(base, pages) };
        let r = range.plain_entry();
        let t0 = clock.start();
        unsafe { walk(base, pages) };
        let t1 = clock.stop();
        sys::check(r)?;
        plain[i] = t1.wrapping_sub(t0) as i64;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StepClock;

    #[test]
    fn walk_reads_every_page() {
        let p = Pages::new(5).unwrap();
        for i in 0..5 {
            // SAFETY: inside the mapping.
            unsafe { p.as_ptr().add(probe_offset(i)).write_volatile(1 << i) };
        }
        // SAFETY: p has 5 pages.
        assert_eq!(unsafe { walk(p.as_ptr(), 5) }, 0b11111);
        assert_eq!(unsafe { walk(p.as_ptr(), 3) }, 0b111);
    }

    #[test]
    fn probes_spread_over_cache_lines() {
        let lines: std::collections::BTreeSet<usize> = (0..64)
            .map(|i| probe_offset(i) % PAGE_SIZE / LINE)
            .collect();
        assert_eq!(lines.len(), 64);
        assert_eq!(probe_offset(65), 65 * PAGE_SIZE + LINE);
    }

    #[test]
    fn flush_range_leaves_memory_read_only_after_entry() {
        let r = FlushRange::new().unwrap();
        r.arm().unwrap();
        assert_eq!(r.flushing_entry(), 0);
        assert_eq!(r.plain_entry(), 0);
        // Read-only now: the page is readable, and arm makes it writable.
        assert_eq!(r.pages.read_all(), 0);
        r.arm().unwrap();
    }

    #[test]
    fn pairs_fill_both_buffers_and_honour_cancel() {
        let clock = StepClock::new(3);
        let ws = Pages::new(4).unwrap();
        let range = FlushRange::new().unwrap();
        let (mut a, mut b) = (vec![0i64; 6], vec![0i64; 6]);
        let done =
            refill_pairs(&clock, &ws, &range, &mut a, &mut b, &AtomicBool::new(false)).unwrap();
        assert_eq!(done, 6);
        assert!(a.iter().chain(&b).all(|&v| v == 3));
        let done =
            refill_pairs(&clock, &ws, &range, &mut a, &mut b, &AtomicBool::new(true)).unwrap();
        assert_eq!(done, 0);
    }
}
