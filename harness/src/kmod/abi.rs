//! Rust mirror of `kmod-helper/entrybench_uapi.h` (ABI version 2).
//!
//! Every struct is `#[repr(C)]` with the same fixed-width fields and explicit
//! padding as the header; `harness/tests/kmod_abi.rs` compiles the header
//! with `cc` and compares sizes, offsets and ioctl numbers with these.

use std::mem::size_of;

pub const ABI_VERSION: u32 = 2;
pub const DEVICE_PATH: &str = "/dev/entrybench";

pub const MAX_ITERATIONS: u32 = 1 << 20;
pub const MAX_GLOBAL_COUNT: u32 = 100_000;
pub const MAX_PAGES: u32 = 1024;
pub const MAX_RATE_HZ: u32 = 100_000;
pub const MAX_DURATION_MS: u32 = 3_600_000;
pub const MAX_GENERATORS: u32 = 8;
/// Flush IPIs per second any one CPU receives from the module in all
/// (generators and GLOBAL_FLUSH callers together); senders past it wait.
pub const MAX_TARGET_RATE_HZ: u32 = 100_000;
pub const MASK_WORDS: usize = 16;

pub const F_PCID: u64 = 1 << 0;
pub const F_INVPCID: u64 = 1 << 1;
pub const F_PGE: u64 = 1 << 2;
pub const F_PTI: u64 = 1 << 3;
pub const F_INVLPGB: u64 = 1 << 4;
pub const F_INVLPGB_CPUID: u64 = 1 << 5;
pub const F_CR4_PCIDE: u64 = 1 << 6;
pub const F_CR4_PGE: u64 = 1 << 7;
pub const F_HYPERVISOR: u64 = 1 << 8;

/// Outlive close() of the fd; needs a duration (the module stops it then).
pub const GEN_DETACH: u32 = 1 << 0;

/// `enum entrybench_variant`: the flush primitives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum Variant {
    Nop = 0,
    Cr3Noflush = 1,
    Cr3Flush = 2,
    Invpcid0 = 3,
    Invpcid1 = 4,
    Invpcid2 = 5,
    Invpcid3 = 6,
    Cr4Pge = 7,
    Invlpg = 8,
    /// What the series (v6/v7) runs on every nohz_full entry: INVPCID type
    /// 2 if the CPU has INVPCID, else CR4.PGE twice (the module chooses).
    Series = 9,
    /// Lutomirski's proposal (review text, not posted code): an atomic
    /// check of the CPU's state word, the series' flush only when a remote
    /// CPU marked it (`Method::DeferMark`).
    Deferred = 10,
}

pub const VARIANT_COUNT: u32 = 11;

impl Variant {
    pub const ALL: [Variant; 11] = [
        Variant::Nop,
        Variant::Cr3Noflush,
        Variant::Cr3Flush,
        Variant::Invpcid0,
        Variant::Invpcid1,
        Variant::Invpcid2,
        Variant::Invpcid3,
        Variant::Cr4Pge,
        Variant::Invlpg,
        Variant::Series,
        Variant::Deferred,
    ];

    /// The name used in experiment ids (`flush.kernel.<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Variant::Nop => "nop",
            Variant::Cr3Noflush => "cr3_noflush",
            Variant::Cr3Flush => "cr3_flush",
            Variant::Invpcid0 => "invpcid0",
            Variant::Invpcid1 => "invpcid1",
            Variant::Invpcid2 => "invpcid2",
            Variant::Invpcid3 => "invpcid3",
            Variant::Cr4Pge => "cr4_pge",
            Variant::Invlpg => "invlpg",
            Variant::Series => "series",
            Variant::Deferred => "deferred",
        }
    }

    pub fn from_name(s: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.name() == s)
    }

    /// Variants that need PCID or INVPCID, which a CPU (or QEMU TCG) may lack.
    pub fn needs_pcid_or_invpcid(self) -> bool {
        matches!(
            self,
            Variant::Cr3Noflush
                | Variant::Invpcid0
                | Variant::Invpcid1
                | Variant::Invpcid2
                | Variant::Invpcid3
        )
    }
}

/// `enum entrybench_method`: the kernel-side global flushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum Method {
    FlushAll = 0,
    KernelRange = 1,
    SyncCore = 2,
    /// No IPI: sets the targets' flush-pending bit (`Variant::Deferred`).
    DeferMark = 3,
}

pub const METHOD_COUNT: u32 = 4;

impl Method {
    pub const ALL: [Method; 4] = [
        Method::FlushAll,
        Method::KernelRange,
        Method::SyncCore,
        Method::DeferMark,
    ];

    /// The name used in experiment ids (`ipi.kmod.<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Method::FlushAll => "flush_all",
            Method::KernelRange => "kernel_range",
            Method::SyncCore => "sync_core",
            Method::DeferMark => "defer_mark",
        }
    }

    /// Whether each flush interrupts the targets (all but `DeferMark`).
    pub fn sends_ipi(self) -> bool {
        self != Method::DeferMark
    }

    pub fn from_name(s: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.name() == s)
    }
}

/// `struct entrybench_info`
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Info {
    pub abi_version: u32,
    pub nr_cpu_ids: u32,
    pub flags: u64,
    pub cr4: u64,
    pub tsc_khz: u64,
    pub variants_supported: u32,
    pub methods_supported: u32,
    pub online_mask: [u64; MASK_WORDS],
}

/// `struct entrybench_flush_timed`
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct FlushTimed {
    pub variant: u32,
    pub iterations: u32,
    pub cycles_ptr: u64,
    pub cpu: u32,
    pub chunks: u32,
    pub overhead: u64,
}

/// `struct entrybench_global_flush`
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct GlobalFlush {
    pub method: u32,
    pub count: u32,
    pub pages: u32,
    pub pad: u32,
    pub cycles_ptr: u64,
    pub total_cycles: u64,
    pub max_cycles: u64,
    /// Flushes that waited for the per-target budget.
    pub throttled: u64,
    pub cpumask: [u64; MASK_WORDS],
}

/// `struct entrybench_generator`
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Generator {
    pub method: u32,
    pub rate_hz: u32,
    pub duration_ms: u32,
    pub pages: u32,
    pub initiator_cpu: i32,
    pub flags: u32,
    pub id: u32,
    pub pad: u32,
    /// Out (STOP). Six u64s after eight u32s: the same offsets as the C
    /// struct's flat fields (tests/kmod_abi.rs checks each).
    pub stats: GeneratorStats,
    pub cpumask: [u64; MASK_WORDS],
}

/// What a generator did: the out fields of `struct entrybench_generator`
/// that GENERATOR_STOP fills.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct GeneratorStats {
    pub issued: u64,
    pub total_cycles: u64,
    pub max_cycles: u64,
    /// kernel_range areas the module could not allocate (not issued).
    pub alloc_failures: u64,
    /// Flushes that waited for the per-target IPI budget.
    pub throttled: u64,
    /// Flushes issued from another CPU (the initiator went offline).
    pub off_initiator: u64,
}

pub const IOC_MAGIC: u8 = 0xEB;

/// ioctl request numbers, computed the way the header's `_IO*` macros do.
pub mod nr {
    use super::*;
    pub const INFO: u64 = nix::request_code_read!(IOC_MAGIC, 0, size_of::<Info>()) as u64;
    pub const FLUSH_TIMED: u64 =
        nix::request_code_readwrite!(IOC_MAGIC, 1, size_of::<FlushTimed>()) as u64;
    pub const ENTRY_FLUSH: u64 = nix::request_code_none!(IOC_MAGIC, 2);
    pub const GLOBAL_FLUSH: u64 =
        nix::request_code_readwrite!(IOC_MAGIC, 3, size_of::<GlobalFlush>()) as u64;
    pub const GENERATOR_START: u64 =
        nix::request_code_readwrite!(IOC_MAGIC, 4, size_of::<Generator>()) as u64;
    pub const GENERATOR_STOP: u64 =
        nix::request_code_readwrite!(IOC_MAGIC, 5, size_of::<Generator>()) as u64;
}

nix::ioctl_read!(ioc_info, IOC_MAGIC, 0, Info);
nix::ioctl_readwrite!(ioc_flush_timed, IOC_MAGIC, 1, FlushTimed);
// ENTRY_FLUSH passes the variant by value: see `Device::entry_flush`.
nix::ioctl_readwrite!(ioc_global_flush, IOC_MAGIC, 3, GlobalFlush);
nix::ioctl_readwrite!(ioc_generator_start, IOC_MAGIC, 4, Generator);
nix::ioctl_readwrite!(ioc_generator_stop, IOC_MAGIC, 5, Generator);

/// A CPU bitmap in the ABI's layout from a list of CPU numbers.
pub fn cpumask(cpus: &[u32]) -> anyhow::Result<[u64; MASK_WORDS]> {
    let mut m = [0u64; MASK_WORDS];
    for &c in cpus {
        let c = c as usize;
        anyhow::ensure!(
            c < MASK_WORDS * 64,
            "CPU {c} is beyond the ABI's {} CPUs",
            MASK_WORDS * 64
        );
        m[c / 64] |= 1u64 << (c % 64);
    }
    Ok(m)
}

/// CPU numbers set in an ABI bitmap.
pub fn cpus_of(mask: &[u64; MASK_WORDS]) -> Vec<u32> {
    (0..MASK_WORDS * 64)
        .filter(|&c| mask[c / 64] & (1u64 << (c % 64)) != 0)
        .map(|c| c as u32)
        .collect()
}
