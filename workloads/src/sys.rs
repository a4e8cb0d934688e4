//! Raw system calls through the `syscall` instruction.
//!
//! Why inline asm rather than `libc::syscall`: glibc's `syscall()` is a
//! variadic out-of-line function that shuffles six arguments and, on an
//! error return such as ENOSYS, stores `errno` through TLS. That is a few
//! ns of user-space work on top of the entry being measured. The asm below
//! is the instruction plus the register moves the ABI needs, so a sample is
//! the kernel entry/exit itself. (`perf bench syscall basic` uses glibc's
//! `syscall(SYS_getppid)`; the comparison script notes the difference.)
//! glibc's `getpid()` is not cached any more, but a raw call also rules
//! out any wrapper caching on other libcs.
//!
//! The asm blocks do not carry `nomem`: they act as compiler memory
//! barriers, so loads/stores of the walker are not moved across an entry.

use std::arch::asm;

pub const NR_GETPID: i64 = libc::SYS_getpid;
pub const NR_GETPPID: i64 = libc::SYS_getppid;
/// No such system call: the kernel returns -ENOSYS right after entry.
pub const NR_INVALID: i64 = -1;

/// `syscall` with no arguments; returns the raw kernel return value
/// (negative errno on failure).
#[inline(always)]
pub fn syscall0(nr: i64) -> i64 {
    let ret: i64;
    // SAFETY: the numbers used here (getpid, getppid, -1) take no
    // arguments and touch no user memory; rcx and r11 are clobbered by the
    // instruction itself.
    unsafe {
        asm!("syscall",
             inlateout("rax") nr => ret,
             lateout("rcx") _, lateout("r11") _,
             options(nostack, preserves_flags));
    }
    ret
}

/// `syscall` with three arguments (mprotect, madvise, membarrier ...).
///
/// # Safety
/// The caller guarantees the call is valid for these arguments (e.g. it
/// does not unmap memory still in use).
#[inline(always)]
pub unsafe fn syscall3(nr: i64, a1: usize, a2: usize, a3: usize) -> i64 {
    let ret: i64;
    asm!("syscall",
         inlateout("rax") nr => ret,
         in("rdi") a1, in("rsi") a2, in("rdx") a3,
         lateout("rcx") _, lateout("r11") _,
         options(nostack, preserves_flags));
    ret
}

/// Turns a raw return value into io::Result.
pub fn check(ret: i64) -> std::io::Result<i64> {
    if ret < 0 && ret > -4096 {
        Err(std::io::Error::from_raw_os_error((-ret) as i32))
    } else {
        Ok(ret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_number_is_enosys() {
        assert_eq!(syscall0(NR_INVALID), -(libc::ENOSYS as i64));
    }

    #[test]
    fn raw_getpid_matches_libc() {
        assert_eq!(syscall0(NR_GETPID), std::process::id() as i64);
        // SAFETY: getppid has no preconditions.
        assert_eq!(syscall0(NR_GETPPID), unsafe { libc::getppid() } as i64);
    }

    #[test]
    fn check_maps_errors() {
        assert_eq!(
            check(-(libc::ENOSYS as i64)).unwrap_err().raw_os_error(),
            Some(libc::ENOSYS)
        );
        assert_eq!(check(5).unwrap(), 5);
    }
}
