//! The interruption victim and the user-space IPI triggers behind
//! `ipi.user.*`.
//!
//! The victim spins reading the clock; any gap between two reads above a
//! threshold is an interruption (IPI, timer tick, host preemption ...).
//! The threshold comes from the same loop run quietly first. The triggers
//! are system calls that make the kernel send an IPI to every other CPU
//! running this process: the victim thread of the same process is one.

use crate::{sys, Clock, PAGE_SIZE};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

/// One interruption seen by the victim: the last clock value before it and
/// the length of the gap in cycles (one loop iteration included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Gap {
    pub start: u64,
    pub cycles: u64,
}

impl Gap {
    pub fn end(&self) -> u64 {
        self.start.wrapping_add(self.cycles)
    }
}

/// What a spin recorded besides the gaps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SpinStats {
    pub iterations: u64,
    /// Gaps above the threshold that did not fit the pre-allocated buffer.
    pub dropped: u64,
}

/// The victim's loop body run `out.len()` times with every gap recorded:
/// the quiet distribution the threshold is calibrated from.
#[inline(never)]
pub fn quiet_loop<C: Clock>(clock: &C, out: &mut [i64]) {
    let mut prev = clock.stop();
    for slot in out.iter_mut() {
        let now = clock.stop();
        *slot = now.wrapping_sub(prev) as i64;
        prev = now;
    }
}

/// The gaps over `over` cycles, and whether the thread was switched out
/// in each: a stall of the whole (v)CPU, as when a host preempts a vCPU,
/// shows no switch, where the guest's own scheduler running another task
/// does. `switches` reads the thread's context-switch count (None when it
/// cannot: taken as a switch); it is read when made (`new`) and after
/// each such gap only, so the loop is the same between them. The read is a system call of about
/// a microsecond the loop does not watch: an interruption inside it is
/// not recorded.
pub struct LongGaps<S: FnMut() -> Option<u64>> {
    pub over: u64,
    pub switches: S,
    /// Starts of the gaps over `over` across which the count rose (or
    /// could not be read), in time order. A switch in a shorter gap since
    /// the last long one counts for the next: the error is on the side
    /// of a switch.
    pub switched: Vec<u64>,
    /// The count at the last read.
    last: Option<u64>,
}

impl<S: FnMut() -> Option<u64>> LongGaps<S> {
    /// Reads the count now, so the loop's first read is after a long
    /// gap, not at its start (where the phase it times has begun).
    /// `room`: the starts `switched` holds before it grows.
    pub fn new(over: u64, mut switches: S, room: usize) -> LongGaps<S> {
        let last = switches();
        LongGaps {
            over,
            switches,
            switched: Vec::with_capacity(room),
            last,
        }
    }
}

/// Spins until `stop` is set, recording each gap above `threshold` into
/// `gaps` without growing it (its capacity is the limit; overflow is
/// counted in `dropped`, never allocated), and noting in `long` which
/// gaps over its length had the thread switched out.
#[inline(never)]
pub fn spin<C: Clock, S: FnMut() -> Option<u64>>(
    clock: &C,
    stop: &AtomicBool,
    threshold: u64,
    gaps: &mut Vec<Gap>,
    long: &mut LongGaps<S>,
) -> SpinStats {
    let mut st = SpinStats::default();
    let mut prev = clock.stop();
    while !stop.load(Ordering::Relaxed) {
        let now = clock.stop();
        let d = now.wrapping_sub(prev);
        st.iterations += 1;
        if d > threshold {
            if gaps.len() < gaps.capacity() {
                gaps.push(Gap {
                    start: prev,
                    cycles: d,
                });
            } else {
                st.dropped += 1;
            }
            if d > long.over {
                let n = (long.switches)();
                if n.is_none() || n != long.last {
                    long.switched.push(prev);
                }
                long.last = n;
                // The read is the loop's, not an interruption: go on
                // from after it.
                prev = clock.stop();
                continue;
            }
        }
        prev = now;
    }
    st
}

/// This thread's context switches so far, voluntary and involuntary
/// (getrusage RUSAGE_THREAD); None if it cannot be read.
pub fn thread_switches() -> Option<u64> {
    // SAFETY: an all-zero rusage is a valid value of the plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage for the call to fill.
    let r = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    (r == 0).then(|| (ru.ru_nvcsw as u64).wrapping_add(ru.ru_nivcsw as u64))
}

/// `LongGaps` that never trips, and never reads the count: for loops
/// that do not ask.
pub fn no_long_gaps() -> LongGaps<fn() -> Option<u64>> {
    LongGaps::new(u64::MAX, || Some(0), 0)
}

/// Interruption threshold from a sorted quiet-loop distribution:
/// `factor` x its p99.9, and never below `floor` cycles. A quiet loop is a
/// few dozen cycles; the slowest interrupt path is thousands, so a
/// generous factor costs nothing and keeps cache-miss hiccups out.
pub fn threshold(sorted_quiet: &[i64], factor: u64, floor: u64) -> u64 {
    if sorted_quiet.is_empty() {
        return floor;
    }
    let idx =
        ((sorted_quiet.len() as f64 * 0.999).ceil() as usize).clamp(1, sorted_quiet.len()) - 1;
    let p999 = sorted_quiet[idx].max(0) as u64;
    p999.saturating_mul(factor).max(floor)
}

/// The user-space ways to make the kernel IPI the victim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserMethod {
    /// mprotect(PROT_READ) of a written page: TLB shootdown.
    Mprotect,
    /// munmap of a written page (re-mapped between calls): TLB shootdown.
    Munmap,
    /// madvise(MADV_DONTNEED) of a written page: TLB shootdown.
    Madvise,
    /// membarrier(PRIVATE_EXPEDITED): an IPI (function call) to every CPU
    /// running this process, no flush.
    Membarrier,
}

pub const ALL_USER_METHODS: [UserMethod; 4] = [
    UserMethod::Mprotect,
    UserMethod::Munmap,
    UserMethod::Madvise,
    UserMethod::Membarrier,
];

const MEMBARRIER_CMD_QUERY: usize = 0;
const MEMBARRIER_CMD_PRIVATE_EXPEDITED: usize = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: usize = 1 << 4;

impl UserMethod {
    pub fn name(self) -> &'static str {
        match self {
            UserMethod::Mprotect => "mprotect",
            UserMethod::Munmap => "munmap",
            UserMethod::Madvise => "madvise",
            UserMethod::Membarrier => "membarrier",
        }
    }

    /// The system call as the result file describes it.
    pub fn describe(self) -> &'static str {
        match self {
            UserMethod::Mprotect => {
                "mprotect(PROT_READ) of the next written page of a 1024-page pool; \
                 untimed reset once per pass: mprotect(RW) of the pool + writes"
            }
            UserMethod::Munmap => {
                "munmap of one written page; untimed reset: mmap at the same address + write"
            }
            UserMethod::Madvise => {
                "madvise(MADV_DONTNEED) of one written page; untimed reset: write (fault in)"
            }
            UserMethod::Membarrier => {
                "membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) after registering"
            }
        }
    }
}

/// Pages the mprotect trigger cycles through. Each fire write-protects the
/// next page of the pool, so no reset between fires sends an IPI of its own
/// (mprotect(RW) flushes too on recent kernels, and its IPIs would count
/// in TLB without a fire to match them). One batch reset per pass.
pub const MPROTECT_POOL_PAGES: usize = 1024;

/// The memory and the system call that make an IPI out of it.
#[derive(Debug)]
pub struct UserTrigger {
    method: UserMethod,
    addr: *mut u8,
    /// Pages mapped at `addr`.
    pages: usize,
    mapped: bool,
    /// Mprotect: the pool page the next fire write-protects.
    next: usize,
}

// SAFETY: the memory is owned by the trigger; the victim thread only reads
// it before the trigger starts firing (see `region`).
unsafe impl Send for UserTrigger {}

impl UserTrigger {
    /// Maps and writes the memory; for membarrier, registers the process.
    pub fn new(method: UserMethod) -> io::Result<UserTrigger> {
        let pages = match method {
            UserMethod::Mprotect => MPROTECT_POOL_PAGES,
            _ => 1,
        };
        let mut t = UserTrigger {
            method,
            addr: std::ptr::null_mut(),
            pages,
            mapped: false,
            next: 0,
        };
        t.map(std::ptr::null_mut())?;
        if method == UserMethod::Membarrier {
            // SAFETY: membarrier query/register take no pointers.
            let mask = sys::check(unsafe {
                sys::syscall3(libc::SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0)
            })?;
            if mask as usize & MEMBARRIER_CMD_PRIVATE_EXPEDITED == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "membarrier PRIVATE_EXPEDITED is not supported by this kernel",
                ));
            }
            // SAFETY: as above.
            sys::check(unsafe {
                sys::syscall3(
                    libc::SYS_membarrier,
                    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
                    0,
                    0,
                )
            })?;
        }
        Ok(t)
    }

    fn len(&self) -> usize {
        self.pages * PAGE_SIZE
    }

    fn map(&mut self, hint: *mut u8) -> io::Result<()> {
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        let anon = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
        let fixed = if hint.is_null() {
            0
        } else {
            libc::MAP_FIXED_NOREPLACE
        };
        // SAFETY: anonymous mapping; MAP_FIXED_NOREPLACE never replaces an
        // existing mapping.
        let mut p = unsafe { libc::mmap(hint.cast(), self.len(), prot, anon | fixed, -1, 0) };
        if p == libc::MAP_FAILED && !hint.is_null() {
            // Someone took the address meanwhile: any address will do.
            // SAFETY: as above, no fixed address.
            p = unsafe { libc::mmap(std::ptr::null_mut(), self.len(), prot, anon, -1, 0) };
        }
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        self.addr = p.cast();
        self.mapped = true;
        // Under mlockall(MCL_FUTURE) the pages are VM_LOCKED, and
        // madvise(MADV_DONTNEED) refuses locked pages (EINVAL): unlock
        // them. Harmless when nothing is locked.
        // SAFETY: our own mapping.
        unsafe { libc::munlock(p, self.len()) };
        self.write_all();
        Ok(())
    }

    /// Writes every page: present, writable, dirty PTEs to flush.
    fn write_all(&self) {
        for i in 0..self.pages {
            // SAFETY: inside the mapping, which is writable here.
            unsafe { self.addr.add(i * PAGE_SIZE).write_volatile(1) };
        }
    }

    pub fn method(&self) -> UserMethod {
        self.method
    }

    /// The memory the victim should read once before firing starts, so
    /// its CPU has touched what is being flushed: (address, length).
    pub fn region(&self) -> (usize, usize) {
        (self.addr as usize, self.len())
    }

    /// One trigger; returns the raw system call result (checked by the
    /// caller outside its timed region).
    #[inline(always)]
    pub fn fire(&mut self) -> i64 {
        let a = self.addr as usize;
        // SAFETY: each call acts on the trigger's own memory; after munmap
        // `mapped` is cleared so Drop and reset know.
        unsafe {
            match self.method {
                UserMethod::Mprotect => {
                    let page = a + self.next * PAGE_SIZE;
                    self.next += 1;
                    sys::syscall3(
                        libc::SYS_mprotect,
                        page,
                        PAGE_SIZE,
                        libc::PROT_READ as usize,
                    )
                }
                UserMethod::Munmap => {
                    self.mapped = false;
                    sys::syscall3(libc::SYS_munmap, a, PAGE_SIZE, 0)
                }
                UserMethod::Madvise => sys::syscall3(
                    libc::SYS_madvise,
                    a,
                    PAGE_SIZE,
                    libc::MADV_DONTNEED as usize,
                ),
                UserMethod::Membarrier => {
                    sys::syscall3(libc::SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0)
                }
            }
        }
    }

    /// Whether the next `reset` sends a flush IPI itself: the mprotect
    /// pool's batch reset (mprotect(RW) of the whole pool) once per pass.
    pub fn reset_flushes(&self) -> bool {
        self.method == UserMethod::Mprotect && self.next == self.pages
    }

    /// Untimed work so the next `fire` has something to flush again. Sends
    /// no IPI, except the mprotect pool's one batch reset per pass.
    pub fn reset(&mut self) -> io::Result<()> {
        match self.method {
            UserMethod::Mprotect if self.next == self.pages => {
                // SAFETY: our own mapping.
                sys::check(unsafe {
                    sys::syscall3(
                        libc::SYS_mprotect,
                        self.addr as usize,
                        self.len(),
                        (libc::PROT_READ | libc::PROT_WRITE) as usize,
                    )
                })?;
                self.write_all();
                self.next = 0;
            }
            UserMethod::Mprotect => {}
            UserMethod::Munmap => {
                if !self.mapped {
                    self.map(self.addr)?;
                }
            }
            // SAFETY: the page is still mapped; the write faults in a
            // fresh zero page.
            UserMethod::Madvise => unsafe { self.addr.write_volatile(1) },
            UserMethod::Membarrier => {}
        }
        Ok(())
    }
}

impl Drop for UserTrigger {
    fn drop(&mut self) {
        if self.mapped {
            // SAFETY: our own mapping.
            unsafe { libc::munmap(self.addr.cast(), self.len()) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StepClock;

    #[test]
    fn threshold_uses_p999_and_floor() {
        let mut q: Vec<i64> = vec![30; 10_000];
        q[9_995] = 100;
        q.sort();
        // p99.9 of 10000 samples is the 9990th value: still 30.
        assert_eq!(threshold(&q, 4, 0), 120);
        assert_eq!(threshold(&q, 4, 500), 500);
        assert_eq!(threshold(&[], 4, 500), 500);
    }

    #[test]
    fn spin_records_nothing_below_threshold_and_stops() {
        let clock = StepClock::new(5);
        let stop = AtomicBool::new(true);
        let mut gaps = Vec::with_capacity(4);
        let st = spin(&clock, &stop, 1, &mut gaps, &mut no_long_gaps());
        assert_eq!(st.iterations, 0);
        assert!(gaps.is_empty());
    }

    /// Reads advance by 10; read 50 jumps by 1000 (an "interruption"),
    /// reads 70 and 90 too; the clock raises `stop` at read 100.
    struct ScriptClock<'a> {
        reads: std::cell::Cell<u64>,
        stop: &'a AtomicBool,
    }
    impl Clock for ScriptClock<'_> {
        fn start(&self) -> u64 {
            self.stop()
        }
        fn stop(&self) -> u64 {
            let i = self.reads.get() + 1;
            self.reads.set(i);
            if i >= 100 {
                self.stop.store(true, Ordering::Relaxed);
            }
            let jumps = [50, 70, 90].iter().filter(|&&j| i >= j).count() as u64;
            i * 10 + jumps * 1000
        }
    }

    impl<'a> ScriptClock<'a> {
        fn new(stop: &'a AtomicBool) -> ScriptClock<'a> {
            ScriptClock {
                reads: std::cell::Cell::new(0),
                stop,
            }
        }
    }

    #[test]
    fn spin_records_each_jump_and_never_grows_the_buffer() {
        let stop = AtomicBool::new(false);
        let clock = ScriptClock::new(&stop);
        let mut gaps = Vec::with_capacity(2);
        let st = spin(&clock, &stop, 100, &mut gaps, &mut no_long_gaps());
        assert_eq!(gaps.capacity(), 2);
        assert_eq!(
            gaps,
            vec![
                Gap {
                    start: 490,
                    cycles: 1010
                },
                Gap {
                    start: 1690,
                    cycles: 1010
                }
            ]
        );
        assert_eq!(st.dropped, 1);
        assert_eq!(st.iterations, 99);
    }

    /// Of the gaps over the long mark (reads 50, 70 and 90 jump by 1000),
    /// those across which the switch count rose, or could not be read,
    /// are noted; the count is read when `LongGaps` is made and once per
    /// long gap, and that read is not a gap.
    #[test]
    fn long_gaps_note_a_switch_or_an_unreadable_count() {
        let stop = AtomicBool::new(false);
        let clock = ScriptClock::new(&stop);
        let mut gaps = Vec::with_capacity(8);
        // Start 3; after gap 1: 3 (a stall); after gap 2: 4 (a switch);
        // after gap 3: unreadable.
        let mut counts = [Some(3), Some(3), Some(4), None].into_iter();
        let mut long = LongGaps::new(500, move || counts.next().flatten(), 0);
        spin(&clock, &stop, 100, &mut gaps, &mut long);
        assert_eq!(gaps.len(), 3, "{gaps:?}");
        assert_eq!(long.switched, vec![gaps[1].start, gaps[2].start]);
        // The read after a long gap is not recorded as a gap: each gap is
        // the one jump, 1000 plus one step.
        assert!(gaps.iter().all(|g| g.cycles == 1010), "{gaps:?}");
    }

    #[test]
    fn thread_switches_reads_a_count_that_a_sleep_raises() {
        let a = thread_switches().expect("getrusage(RUSAGE_THREAD)");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = thread_switches().unwrap();
        assert!(b > a, "{a} -> {b}");
    }

    #[test]
    fn quiet_loop_fills_every_slot() {
        let clock = StepClock::new(7);
        let mut out = vec![0i64; 9];
        quiet_loop(&clock, &mut out);
        assert!(out.iter().all(|&v| v == 7));
    }

    #[test]
    fn mprotect_pool_wraps_with_one_batch_reset() {
        let mut t = UserTrigger::new(UserMethod::Mprotect).unwrap();
        let mut flushing_resets = 0;
        for _ in 0..MPROTECT_POOL_PAGES * 2 + 3 {
            assert_eq!(sys::check(t.fire()).unwrap(), 0);
            flushing_resets += usize::from(t.reset_flushes());
            t.reset().unwrap();
        }
        assert_eq!(t.next, 3);
        assert_eq!(flushing_resets, 2);
        // The pages not yet protected on this pass are writable again.
        // SAFETY: inside the pool, page 3 onward are RW after the reset.
        unsafe { t.addr.add(5 * PAGE_SIZE).write_volatile(9) };
    }

    #[test]
    fn every_trigger_fires_and_resets() {
        for m in ALL_USER_METHODS {
            let mut t = match UserTrigger::new(m) {
                Ok(t) => t,
                Err(e) if m == UserMethod::Membarrier && e.kind() == io::ErrorKind::Unsupported => {
                    continue
                }
                Err(e) => panic!("{m:?}: {e}"),
            };
            assert!(!m.describe().is_empty());
            for _ in 0..3 {
                assert_eq!(
                    sys::check(t.fire()).map_err(|e| format!("{m:?}: {e}")),
                    Ok(0)
                );
                t.reset().unwrap();
            }
            let (addr, len) = t.region();
            assert!(addr != 0 && len >= PAGE_SIZE);
        }
    }
}
