//! Allocation failures injected into the module (`kmod fuzz
//! --alloc-faults`, the debug kernel's VM test): the kernel's fault
//! injection (failslab, fail_page_alloc) with its task filter fails
//! allocations only of tasks marked `make-it-fail`. The fuzzing thread
//! is marked for the length of each module ioctl alone (its own mmap,
//! malloc and page faults must not fail: the process would abort, not
//! the module misbehave; the fuzzer's buffers are touched before), and
//! each generator thread the fuzzer starts for its whole life. The
//! failure rates are set in debugfs by the caller (scripts/vm/init).

use anyhow::{bail, Context, Result};
use std::cell::Cell;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, RawFd};

thread_local! {
    /// This thread's open `make-it-fail`, while its `Marking` lives.
    static OWN: Cell<RawFd> = const { Cell::new(-1) };
    /// A write to it failed: the thread may have stayed marked.
    static FAILED: Cell<bool> = const { Cell::new(false) };
}

/// Writes `on` to an open `make-it-fail`; false if the write failed.
fn set(fd: RawFd, on: bool) -> bool {
    let b: &[u8] = if on { b"1" } else { b"0" };
    // SAFETY: `fd` is an open file of this thread's `Marking`; a one-byte
    // buffer of ours. pwrite at 0: procfs ignores the offset.
    unsafe { libc::pwrite(fd, b.as_ptr().cast(), 1, 0) == 1 }
}

/// The flag's first byte, read into a buffer of ours (no allocation: it
/// is read while marked).
fn get(fd: RawFd) -> Option<u8> {
    let mut b = [0u8; 4];
    // SAFETY: reading into a stack buffer of its length.
    let n = unsafe { libc::pread(fd, b.as_mut_ptr().cast(), b.len(), 0) };
    (n > 0).then_some(b[0])
}

/// Marks this thread around each `around` call while it lives. Not
/// `Send`: the flag belongs to the thread that opened it.
pub struct Marking {
    file: File,
    _thread: PhantomData<*const ()>,
}

impl Marking {
    /// Needs a kernel with CONFIG_FAULT_INJECTION (the file exists).
    /// Checks that `around` marks the thread and that it is unmarked
    /// after, by reading the flag back.
    pub fn start() -> Result<Marking> {
        let path = "/proc/thread-self/make-it-fail";
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .with_context(|| {
                format!(
                    "cannot open {path}: this kernel has no fault injection \
                     (CONFIG_FAULT_INJECTION)"
                )
            })?;
        let fd = file.as_raw_fd();
        OWN.with(|c| c.set(fd));
        FAILED.with(|c| c.set(false));
        let m = Marking {
            file,
            _thread: PhantomData,
        };
        let inside = around(|| get(fd));
        let after = get(fd);
        if inside != Some(b'1') || after != Some(b'0') || failed() {
            bail!("{path} did not follow the marking: {inside:?} inside, {after:?} after");
        }
        Ok(m)
    }
}

impl Drop for Marking {
    fn drop(&mut self) {
        OWN.with(|c| c.set(-1));
        set(self.file.as_raw_fd(), false);
    }
}

/// Runs `f` (one module ioctl, reading its errno before returning) with
/// this thread marked when a `Marking` of it lives; plain otherwise. A
/// failed write is recorded for `failed`.
pub fn around<T>(f: impl FnOnce() -> T) -> T {
    let fd = OWN.with(Cell::get);
    if fd < 0 {
        return f();
    }
    let marked = set(fd, true);
    let r = f();
    if !(set(fd, false) && marked) {
        FAILED.with(|c| c.set(true));
    }
    r
}

/// A write of this thread's flag failed since its `Marking` began: the
/// outcomes since may not be the module's.
pub fn failed() -> bool {
    FAILED.with(Cell::get)
}

/// Marks generator `id`'s thread (`entrybench-gen<id>`) for good: its
/// flushes' allocations may fail from now on. False if it has no thread
/// (anymore).
pub fn mark_generator(id: u32) -> Result<bool> {
    let name = format!("entrybench-gen{id}");
    let Some((pid, _)) = crate::kmod::selftest::generator_tasks()
        .into_iter()
        .find(|(_, c)| *c == name)
    else {
        return Ok(false);
    };
    let path = format!("/proc/{pid}/make-it-fail");
    let gone = |e: &std::io::Error| {
        e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH)
    };
    match OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|mut f| f.write_all(b"1"))
    {
        Ok(()) => Ok(true),
        Err(e) if gone(&e) => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot mark {name} ({path})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn around_runs_its_call_whether_or_not_the_thread_can_be_marked() {
        // Without a Marking nothing is written. The marking itself is
        // checked where the kernel has fault injection (Marking::start,
        // run by the debug kernel's VM test): this host's has none.
        assert_eq!(around(|| 7), 7);
        if let Ok(m) = Marking::start() {
            assert_eq!(around(|| 8), 8);
            assert!(!failed());
            drop(m);
        } else {
            assert!(!std::path::Path::new("/proc/thread-self/make-it-fail").exists());
        }
        assert_eq!(around(|| 9), 9);
    }

    #[test]
    fn a_generator_without_a_thread_is_not_marked() {
        assert!(!mark_generator(u32::MAX).unwrap());
    }
}
