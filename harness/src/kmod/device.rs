//! Safe, typed wrapper over /dev/entrybench.
//!
//! Each method validates what it can before the ioctl (so user errors get a
//! clear message) but the module validates everything again: the fuzzer
//! calls the raw ioctls to prove that.

use super::abi::{self, FlushTimed, GlobalFlush, Info, Method, Variant};
use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::Path;

/// An open /dev/entrybench. Generators started through it stop when it is
/// dropped (unless detached).
#[derive(Debug)]
pub struct Device {
    file: File,
}

/// Decoded `INFO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub raw: Info,
}

impl DeviceInfo {
    pub fn has(&self, flag: u64) -> bool {
        self.raw.flags & flag != 0
    }
    pub fn supports(&self, v: Variant) -> bool {
        self.raw.variants_supported & (1 << v as u32) != 0
    }
    pub fn online_cpus(&self) -> Vec<u32> {
        abi::cpus_of(&self.raw.online_mask)
    }
    /// One line per fact, for `entrybench kmod status`.
    pub fn describe(&self) -> String {
        let yn = |f| if self.has(f) { "yes" } else { "no" };
        let supported: Vec<&str> = Variant::ALL
            .iter()
            .filter(|v| self.supports(**v))
            .map(|v| v.name())
            .collect();
        let unsupported: Vec<&str> = Variant::ALL
            .iter()
            .filter(|v| !self.supports(**v))
            .map(|v| v.name())
            .collect();
        format!(
            "abi version      {}\n\
             pcid             {}\n\
             invpcid          {}\n\
             pge              {}\n\
             pti              {}\n\
             invlpgb (kernel) {}\n\
             invlpgb (cpuid)  {}\n\
             cr4.pcide        {}\n\
             cr4.pge          {}\n\
             hypervisor       {}\n\
             cr4              {:#x}\n\
             tsc_khz          {}\n\
             online cpus      {:?}\n\
             variants         {}\n\
             unsupported      {}\n",
            self.raw.abi_version,
            yn(abi::F_PCID),
            yn(abi::F_INVPCID),
            yn(abi::F_PGE),
            yn(abi::F_PTI),
            yn(abi::F_INVLPGB),
            yn(abi::F_INVLPGB_CPUID),
            yn(abi::F_CR4_PCIDE),
            yn(abi::F_CR4_PGE),
            yn(abi::F_HYPERVISOR),
            self.raw.cr4,
            self.raw.tsc_khz,
            self.online_cpus(),
            supported.join(" "),
            if unsupported.is_empty() {
                "-".to_string()
            } else {
                unsupported.join(" ")
            },
        )
    }
}

/// Result of `FLUSH_TIMED`.
#[derive(Debug, Clone)]
pub struct TimedFlush {
    pub cycles: Vec<u64>,
    /// CPU that ran the loop; `None` if it migrated between chunks.
    pub cpu: Option<u32>,
    pub chunks: u32,
    /// Minimum cycles of an empty in-kernel timed region.
    pub overhead: u64,
}

/// Result of `GLOBAL_FLUSH`.
#[derive(Debug, Clone)]
pub struct GlobalFlushResult {
    pub cycles: Vec<u64>,
    pub total_cycles: u64,
    pub max_cycles: u64,
    /// Calls that waited for the module's per-target IPI budget.
    pub throttled: u64,
}

/// What a running generator was asked to do.
#[derive(Debug, Clone)]
pub struct GeneratorSpec {
    pub method: Method,
    pub rate_hz: u32,
    /// 0 = until stopped (the module refuses that with `detach`).
    pub duration_ms: u32,
    pub pages: u32,
    /// `None`: the module picks the first online CPU not targeted.
    pub initiator_cpu: Option<u32>,
    pub targets: Vec<u32>,
    /// Keep running after this fd is closed (until the duration ends,
    /// STOP or unload).
    pub detach: bool,
}

/// Handle of a started generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeneratorHandle {
    pub id: u32,
    pub initiator_cpu: u32,
}

/// What a generator did, returned by STOP.
pub use abi::GeneratorStats;

/// True when the module's device node exists.
pub fn available() -> bool {
    Path::new(abi::DEVICE_PATH).exists()
}

impl Device {
    /// Opens /dev/entrybench and checks the ABI version.
    pub fn open() -> Result<Device> {
        Self::open_path(Path::new(abi::DEVICE_PATH))
    }

    pub fn open_path(path: &Path) -> Result<Device> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .with_context(|| {
                format!(
                    "opening {} (is entrybench.ko loaded? are you root?)",
                    path.display()
                )
            })?;
        let dev = Device { file };
        let info = dev.info()?;
        if info.raw.abi_version != abi::ABI_VERSION {
            bail!(
                "{}: module ABI version {} but this harness speaks {}; rebuild one of them",
                path.display(),
                info.raw.abi_version,
                abi::ABI_VERSION
            );
        }
        Ok(dev)
    }

    pub fn raw_fd(&self) -> i32 {
        self.file.as_raw_fd()
    }

    pub fn info(&self) -> Result<DeviceInfo> {
        let mut raw = Info::default();
        // SAFETY: `raw` is a valid, writable `Info`, the size the ioctl number encodes.
        unsafe { abi::ioc_info(self.raw_fd(), &mut raw) }.context("ENTRYBENCH_IOC_INFO")?;
        Ok(DeviceInfo { raw })
    }

    /// In-kernel timed loop of `iterations` flushes of `v`.
    pub fn flush_timed(&self, v: Variant, iterations: u32) -> Result<TimedFlush> {
        let mut cycles = vec![0u64; iterations as usize];
        let mut a = FlushTimed {
            variant: v as u32,
            iterations,
            cycles_ptr: cycles.as_mut_ptr() as u64,
            ..Default::default()
        };
        // SAFETY: `cycles` holds `iterations` u64s and outlives the call.
        unsafe { abi::ioc_flush_timed(self.raw_fd(), &mut a) }
            .map_err(|e| errno_context(e, &format!("FLUSH_TIMED {} x{iterations}", v.name())))?;
        Ok(TimedFlush {
            cycles,
            cpu: (a.cpu != u32::MAX).then_some(a.cpu),
            chunks: a.chunks,
            overhead: a.overhead,
        })
    }

    /// One kernel entry that flushes with `v` and returns: the emulated
    /// flush-on-entry. Returns the raw errno so hot loops stay cheap; `Ok`
    /// holds whether it flushed (`deferred`: the pending bit was set;
    /// every other variant: false).
    #[inline]
    pub fn entry_flush(&self, v: Variant) -> std::result::Result<bool, Errno> {
        self.entry_flush_arg(v as u32 as libc::c_ulong)
    }

    /// ENTRY_FLUSH with an arbitrary argument (negative tests, fuzzing).
    pub fn entry_flush_raw(&self, arg: i32) -> std::result::Result<bool, Errno> {
        // Sign-extended, as a C caller passing a long would.
        self.entry_flush_arg(arg as i64 as libc::c_ulong)
    }

    /// The argument goes as a full unsigned long: an int through varargs
    /// would leave the register's upper half undefined.
    #[inline]
    fn entry_flush_arg(&self, arg: libc::c_ulong) -> std::result::Result<bool, Errno> {
        // SAFETY: ENTRY_FLUSH takes its argument by value; no memory is passed.
        let rc = unsafe { libc::ioctl(self.raw_fd(), abi::nr::ENTRY_FLUSH as libc::c_ulong, arg) };
        if rc < 0 {
            Err(Errno::last())
        } else {
            Ok(rc == 1)
        }
    }

    /// `count` kernel-side global flushes to `targets`; initiator cycles per call.
    pub fn global_flush(
        &self,
        method: Method,
        targets: &[u32],
        count: u32,
        pages: u32,
    ) -> Result<GlobalFlushResult> {
        let mut cycles = vec![0u64; count as usize];
        let mut a = GlobalFlush {
            method: method as u32,
            count,
            pages,
            cycles_ptr: cycles.as_mut_ptr() as u64,
            cpumask: abi::cpumask(targets)?,
            ..Default::default()
        };
        // SAFETY: `cycles` holds `count` u64s and outlives the call.
        unsafe { abi::ioc_global_flush(self.raw_fd(), &mut a) }.map_err(|e| {
            errno_context(
                e,
                &format!("GLOBAL_FLUSH {} x{count} to {targets:?}", method.name()),
            )
        })?;
        Ok(GlobalFlushResult {
            cycles,
            total_cycles: a.total_cycles,
            max_cycles: a.max_cycles,
            throttled: a.throttled,
        })
    }

    pub fn generator_start(&self, spec: &GeneratorSpec) -> Result<GeneratorHandle> {
        let mut a = abi::Generator {
            method: spec.method as u32,
            rate_hz: spec.rate_hz,
            duration_ms: spec.duration_ms,
            pages: spec.pages,
            initiator_cpu: match spec.initiator_cpu {
                Some(c) => i32::try_from(c).context("initiator CPU out of range")?,
                None => -1,
            },
            flags: if spec.detach { abi::GEN_DETACH } else { 0 },
            cpumask: abi::cpumask(&spec.targets)?,
            ..Default::default()
        };
        // SAFETY: `a` is a valid, writable `Generator`.
        unsafe { abi::ioc_generator_start(self.raw_fd(), &mut a) }.map_err(|e| {
            errno_context(
                e,
                &format!(
                    "GENERATOR_START {} at {} Hz to {:?}",
                    spec.method.name(),
                    spec.rate_hz,
                    spec.targets
                ),
            )
        })?;
        Ok(GeneratorHandle {
            id: a.id,
            initiator_cpu: a.initiator_cpu as u32,
        })
    }

    pub fn generator_stop(&self, h: GeneratorHandle) -> Result<GeneratorStats> {
        let mut a = abi::Generator {
            id: h.id,
            ..Default::default()
        };
        // SAFETY: `a` is a valid, writable `Generator`.
        unsafe { abi::ioc_generator_stop(self.raw_fd(), &mut a) }
            .map_err(|e| errno_context(e, &format!("GENERATOR_STOP id {}", h.id)))?;
        Ok(a.stats)
    }
}

/// An errno as an anyhow error that keeps the `Errno` findable by downcast.
/// EINTR (a signal stopped a long ioctl) says so in words.
fn errno_context(e: Errno, what: &str) -> anyhow::Error {
    if e == Errno::EINTR {
        return anyhow::Error::new(e).context(format!(
            "{what}: interrupted by a signal; the module stopped the call"
        ));
    }
    anyhow::Error::new(e).context(format!("{what}: {}", e.desc()))
}

/// The errno behind an error from this module, if there is one.
pub fn errno_of(e: &anyhow::Error) -> Option<Errno> {
    e.chain().find_map(|c| c.downcast_ref::<Errno>().copied())
}
