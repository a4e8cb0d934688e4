//! Raw system calls through the `syscall` instruction.
//!
//! Two ways to make an argument-less call, because they cost different
//! amounts on a mitigated CPU: [`syscall0`] is the instruction inline in
//! the caller (the kernel entry/exit alone), [`syscall0_call`] is the same
//! instruction inside a function that is called and returns, as glibc's
//! `syscall()` and every libc wrapper make it. Under RSB filling or SRSO
//! "safe RET" the `ret` right after `sysret` mispredicts; only the second
//! way pays that, and real programs do.
//!
//! The asm blocks do not carry `nomem`: they act as compiler memory
//! barriers, so loads/stores of the walker are not moved across an entry.

use std::arch::asm;

pub const NR_GETPID: i64 = libc::SYS_getpid;
pub const NR_GETPPID: i64 = libc::SYS_getppid;
/// No such system call: the kernel returns -ENOSYS right after entry.
pub const NR_INVALID: i64 = -1;

/// The system calls [`syscall0`] may make: none takes an argument or
/// touches user memory, which is what makes that function safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoArgCall {
    /// Number -1: entry, -ENOSYS, exit.
    Invalid,
    Getpid,
    Getppid,
}

impl NoArgCall {
    pub fn nr(self) -> i64 {
        match self {
            NoArgCall::Invalid => NR_INVALID,
            NoArgCall::Getpid => NR_GETPID,
            NoArgCall::Getppid => NR_GETPPID,
        }
    }

    /// "-1 (ENOSYS)", "getpid", "getppid".
    pub fn name(self) -> &'static str {
        match self {
            NoArgCall::Invalid => "-1 (ENOSYS)",
            NoArgCall::Getpid => "getpid",
            NoArgCall::Getppid => "getppid",
        }
    }
}

/// `syscall` inline, with no arguments; returns the raw kernel return
/// value (negative errno on failure).
#[inline(always)]
pub fn syscall0(call: NoArgCall) -> i64 {
    let ret: i64;
    // SAFETY: every NoArgCall takes no arguments and touches no user
    // memory; rcx and r11 are clobbered by the instruction itself.
    unsafe {
        asm!("syscall",
             inlateout("rax") call.nr() => ret,
             lateout("rcx") _, lateout("r11") _,
             options(nostack, preserves_flags));
    }
    ret
}

/// [`syscall0`] behind a real call and return, as a libc wrapper makes it
/// (never inlined, so the `ret` after `sysret` is in every sample).
#[inline(never)]
pub fn syscall0_call(call: NoArgCall) -> i64 {
    syscall0(call)
}

/// glibc's `syscall(nr)` (what `perf bench syscall basic` calls): the
/// call plus the wrapper's argument shuffle and, on failure, its errno
/// store.
#[inline(always)]
pub fn syscall0_libc(call: NoArgCall) -> i64 {
    // SAFETY: as in `syscall0`: no arguments, no user memory.
    unsafe { libc::syscall(call.nr()) }
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
        assert_eq!(syscall0(NoArgCall::Invalid), -(libc::ENOSYS as i64));
        assert_eq!(syscall0_call(NoArgCall::Invalid), -(libc::ENOSYS as i64));
        assert_eq!(syscall0_libc(NoArgCall::Invalid), -1);
    }

    #[test]
    fn raw_getpid_matches_libc() {
        let pid = std::process::id() as i64;
        // SAFETY: getppid has no preconditions.
        let ppid = unsafe { libc::getppid() } as i64;
        for f in [syscall0, syscall0_call, syscall0_libc] {
            assert_eq!(f(NoArgCall::Getpid), pid);
            assert_eq!(f(NoArgCall::Getppid), ppid);
        }
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
