//! perf_event_open of the core-cycles counter: one definition for the
//! timer's rdpmc clock and for platform detection ("do cycles work
//! here?"), so the probe tests exactly what the timer will use. libc has
//! no perf_event_attr, hence the declarations below.

use std::os::fd::{FromRawFd, OwnedFd};

/// The leading part of `struct perf_event_attr` (PERF_ATTR_SIZE_VER5 and
/// later fields left zero): all entrybench sets.
#[repr(C)]
#[derive(Default)]
struct PerfEventAttr {
    type_: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
    config2: u64,
    branch_sample_type: u64,
    sample_regs_user: u64,
    sample_stack_user: u32,
    clockid: i32,
    sample_regs_intr: u64,
    aux_watermark: u32,
    sample_max_stack: u16,
    reserved2: u16,
}

/// The start of `struct perf_event_mmap_page` up to `pmc_width`.
#[repr(C)]
pub struct PerfMmapPage {
    pub version: u32,
    pub compat_version: u32,
    pub lock: u32,
    pub index: u32,
    offset: i64,
    time_enabled: u64,
    time_running: u64,
    pub capabilities: u64,
    pub pmc_width: u16,
}

const PERF_TYPE_HARDWARE: u32 = 0;
const PERF_COUNT_HW_CPU_CYCLES: u64 = 0;
/// perf_event_attr.flags bit: exclude_hv (kernel and user are counted:
/// the kernel entry is what is being measured).
const ATTR_EXCLUDE_HV: u64 = 1 << 6;
/// perf_event_open flag: close the counter on exec.
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;
/// perf_event_mmap_page.capabilities bit: cap_user_rdpmc.
pub const CAP_USER_RDPMC: u64 = 1 << 2;

/// Opens a core-cycles event for this thread on any CPU, counting user
/// and kernel (a kernel entry is what is measured).
pub fn open_cycles() -> std::io::Result<OwnedFd> {
    let attr = PerfEventAttr {
        type_: PERF_TYPE_HARDWARE,
        size: std::mem::size_of::<PerfEventAttr>() as u32,
        config: PERF_COUNT_HW_CPU_CYCLES,
        flags: ATTR_EXCLUDE_HV,
        ..Default::default()
    };
    // SAFETY: attr is a valid, zero-padded perf_event_attr that outlives
    // the call; pid 0 and cpu -1 mean "this thread, any CPU", no group.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            &attr as *const PerfEventAttr,
            0,
            -1,
            -1,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd was just returned by the kernel and is owned here.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}
