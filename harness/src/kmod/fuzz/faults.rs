//! Allocation failures injected into the module (`kmod fuzz
//! --alloc-faults`, the debug kernel's VM test): the kernel's fault
//! injection (failslab, fail_page_alloc) with its task filter fails
//! allocations only of tasks marked `make-it-fail`. The fuzzing thread
//! is marked for the length of each module ioctl alone (its own mmap,
//! malloc and page faults must not fail: the process would abort, not
//! the module misbehave), and the module's generator threads for their
//! whole life. The failure rates are set in debugfs by the caller
//! (scripts/vm/init).

use anyhow::{Context, Result};
use std::cell::Cell;
use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};

thread_local! {
    /// This thread's open `make-it-fail`, while `Marking` lives.
    static OWN: Cell<RawFd> = const { Cell::new(-1) };
}

/// Writes `on` to an open `make-it-fail`. A failed write is reported by
/// the caller's outcome check, not here: this runs inside `around`.
fn set(fd: RawFd, on: bool) -> bool {
    let b: &[u8] = if on { b"1" } else { b"0" };
    // SAFETY: `fd` is an open file of this thread's `Marking`; a one-byte
    // buffer of ours. pwrite at 0: procfs ignores the offset.
    unsafe { libc::pwrite(fd, b.as_ptr().cast(), 1, 0) == 1 }
}

/// Marks this thread around each `around` call while it lives.
pub struct Marking {
    file: File,
}

impl Marking {
    /// Needs a kernel with CONFIG_FAULT_INJECTION (the file exists).
    pub fn start() -> Result<Marking> {
        let path = "/proc/thread-self/make-it-fail";
        let file = OpenOptions::new().write(true).open(path).with_context(|| {
            format!(
                "cannot open {path}: this kernel has no fault injection (CONFIG_FAULT_INJECTION)"
            )
        })?;
        OWN.with(|c| c.set(file.as_raw_fd()));
        Ok(Marking { file })
    }
}

impl Drop for Marking {
    fn drop(&mut self) {
        OWN.with(|c| c.set(-1));
        set(self.file.as_raw_fd(), false);
    }
}

/// Runs `f` (one module ioctl, reading its errno before returning) with
/// this thread marked when a `Marking` of it lives; plain otherwise.
pub fn around<T>(f: impl FnOnce() -> T) -> T {
    let fd = OWN.with(Cell::get);
    if fd < 0 {
        return f();
    }
    set(fd, true);
    let r = f();
    set(fd, false);
    r
}

/// Marks every generator thread not in `marked` for good (its flushes'
/// allocations may fail from now on); returns how many it marked. A
/// thread gone meanwhile is skipped.
pub fn mark_generators(marked: &mut BTreeSet<u32>) -> Result<u64> {
    let mut n = 0;
    for (pid, comm) in crate::kmod::selftest::generator_tasks() {
        if marked.contains(&pid) {
            continue;
        }
        let path = format!("/proc/{pid}/make-it-fail");
        match OpenOptions::new().write(true).open(&path) {
            Ok(mut f) => {
                f.write_all(b"1")
                    .with_context(|| format!("cannot mark {comm} ({path})"))?;
                marked.insert(pid);
                n += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot open {path}")),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own_flag() -> Option<String> {
        std::fs::read_to_string("/proc/thread-self/make-it-fail")
            .ok()
            .map(|s| s.trim().to_string())
    }

    #[test]
    fn the_thread_is_marked_only_inside_around() {
        // Without a Marking nothing is written.
        assert_eq!(around(|| 7), 7);
        let Ok(m) = Marking::start() else {
            // No fault injection in this kernel: nothing to mark.
            assert!(own_flag().is_none());
            return;
        };
        assert_eq!(own_flag().as_deref(), Some("0"));
        assert_eq!(around(own_flag).as_deref(), Some("1"));
        assert_eq!(own_flag().as_deref(), Some("0"));
        drop(m);
        assert_eq!(around(own_flag).as_deref(), Some("0"));
    }
}
