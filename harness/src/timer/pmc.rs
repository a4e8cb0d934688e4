//! Core cycles through `rdpmc` of a perf event, when perf allows it.

use super::TimerError;
use std::arch::asm;
use workloads::Clock;

/// Core cycles through `rdpmc` of an open perf event (see `Pmc::open`).
#[derive(Debug)]
pub struct Pmc {
    /// rdpmc counter number (perf's `index - 1`).
    counter: u32,
    /// Kept open for the counter's lifetime: closing it frees the counter.
    _fd: std::os::fd::OwnedFd,
    page: *mut libc::c_void,
}

impl Pmc {
    #[inline(always)]
    fn read(&self) -> u64 {
        let (lo, hi): (u32, u32);
        // SAFETY: perf reported cap_user_rdpmc for this event, so CR4.PCE
        // allows rdpmc of this counter on the CPU the thread is pinned to.
        unsafe {
            asm!("lfence", "rdpmc", "lfence", in("ecx") self.counter, out("eax") lo, out("edx") hi,
                 options(nostack, preserves_flags));
        }
        ((hi as u64) << 32) | lo as u64
    }

    /// Opens a cycles event for this thread and checks that it can be read
    /// with rdpmc. The error says why not, in words for the result file.
    pub fn open() -> Result<Pmc, TimerError> {
        let fd = crate::perf::open_cycles().map_err(TimerError::PerfOpen)?;
        // SAFETY: mapping the event's first (metadata) page read-only.
        let page = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                page_size(),
                libc::PROT_READ,
                libc::MAP_SHARED,
                std::os::fd::AsRawFd::as_raw_fd(&fd),
                0,
            )
        };
        if page == libc::MAP_FAILED {
            return Err(TimerError::PerfMmap(std::io::Error::last_os_error()));
        }
        // SAFETY: the kernel keeps the page valid while mapped; volatile
        // reads because the kernel updates it.
        let (caps, index) = unsafe {
            let p = page as *const crate::perf::PerfMmapPage;
            (
                std::ptr::addr_of!((*p).capabilities).read_volatile(),
                std::ptr::addr_of!((*p).index).read_volatile(),
            )
        };
        let pmc = Pmc {
            counter: index.wrapping_sub(1),
            _fd: fd,
            page,
        };
        if caps & crate::perf::CAP_USER_RDPMC == 0 || index == 0 {
            return Err(TimerError::NoUserRdpmc);
        }
        Ok(pmc)
    }
}

// SAFETY: `page` is read only in `open`, before the `Pmc` exists for
// anyone else, and unmapped in `drop` (which has it alone); nothing reads
// or writes through it in between, from any thread. What rdpmc reads is
// per thread, though: the counter of the thread that opened the event, so
// a run that times with it keeps its measuring on that thread
// (`schedule::round_thread`).
unsafe impl Send for Pmc {}
unsafe impl Sync for Pmc {}

impl Clock for Pmc {
    #[inline(always)]
    fn start(&self) -> u64 {
        self.read()
    }
    #[inline(always)]
    fn stop(&self) -> u64 {
        self.read()
    }
}

impl Drop for Pmc {
    fn drop(&mut self) {
        // SAFETY: the page was mapped by `Pmc::open` with this length.
        unsafe { libc::munmap(self.page, page_size()) };
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}
