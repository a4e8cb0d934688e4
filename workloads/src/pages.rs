//! Anonymous 4 KiB page buffers, pre-faulted so no page fault lands in a
//! timed region.

use crate::PAGE_SIZE;
use std::io;

/// A private anonymous mapping of `pages` base pages, each written once.
/// Transparent huge pages are refused for it (MADV_NOHUGEPAGE): a walker
/// must cost one TLB entry per page, not one per 2 MiB. The order matters:
/// mmap, MADV_NOHUGEPAGE, then lock and touch; a lock or touch before the
/// madvise could fault the range in as huge pages.
#[derive(Debug)]
pub struct Pages {
    ptr: *mut u8,
    pages: usize,
}

// SAFETY: the mapping is plain memory owned by this value; threads that
// share it only read or write bytes through volatile accesses.
unsafe impl Send for Pages {}
unsafe impl Sync for Pages {}

impl Pages {
    /// Maps and pre-faults `pages` pages (at least one).
    pub fn new(pages: usize) -> io::Result<Pages> {
        if pages == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a page buffer needs at least one page",
            ));
        }
        let len = pages
            .checked_mul(PAGE_SIZE)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "page count overflows"))?;
        // SAFETY: anonymous private mapping, no fixed address.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // Best effort: without THP support the call fails and pages are
        // 4 KiB anyway.
        // SAFETY: the range is the mapping just created.
        unsafe { libc::madvise(ptr, len, libc::MADV_NOHUGEPAGE) };
        // Best effort too (RLIMIT_MEMLOCK): the caller's mlockall, if any,
        // covers the range from its first touch on anyway.
        // SAFETY: as above.
        unsafe { libc::mlock(ptr, len) };
        let p = Pages {
            ptr: ptr.cast(),
            pages,
        };
        p.write_all(1);
        Ok(p)
    }

    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    pub fn pages(&self) -> usize {
        self.pages
    }

    pub fn len_bytes(&self) -> usize {
        self.pages * PAGE_SIZE
    }

    /// Writes one byte in every page, the byte the walker reads (faults
    /// them in, sets dirty/writable PTE bits).
    pub fn write_all(&self, value: u8) {
        for i in 0..self.pages {
            // SAFETY: i < pages and probe_offset(i) is inside page i.
            unsafe {
                self.ptr
                    .add(crate::walk::probe_offset(i))
                    .write_volatile(value)
            };
        }
    }

    /// Reads one byte in every page; returns their xor so the reads stay.
    pub fn read_all(&self) -> u8 {
        // SAFETY: the mapping has `pages` pages.
        unsafe { crate::walk::walk(self.ptr, self.pages) }
    }
}

impl Drop for Pages {
    fn drop(&mut self) {
        // SAFETY: unmapping the mapping this value owns.
        unsafe { libc::munmap(self.ptr.cast(), self.len_bytes()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_pages_is_an_error() {
        assert_eq!(
            Pages::new(0).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn pages_are_written_and_readable() {
        let p = Pages::new(3).unwrap();
        assert_eq!(p.len_bytes(), 3 * PAGE_SIZE);
        // 1 ^ 1 ^ 1
        assert_eq!(p.read_all(), 1);
        p.write_all(7);
        assert_eq!(p.read_all(), 7);
    }
}
