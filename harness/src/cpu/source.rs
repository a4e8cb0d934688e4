//! Where CPUID values come from: the CPU we run on, or a dump of another
//! machine. Decoding only ever sees this trait, so a dump decodes exactly
//! like the live CPU it was taken from.

use raw_cpuid::{CpuIdReader, CpuIdResult};

/// One CPUID (and optionally MSR) value provider.
pub trait CpuidSource {
    /// Registers (eax, ebx, ecx, edx) of `leaf`/`subleaf`; None when the
    /// leaf is absent (beyond the maximum leaf of its range, or not in the
    /// dump).
    fn cpuid(&self, leaf: u32, subleaf: u32) -> Option<[u32; 4]>;

    /// An MSR value when the source knows it (MSR lines of a dump, or a
    /// readable /dev/cpu/0/msr). Only asked for MSRs CPUID enumerates.
    fn msr(&self, _addr: u32) -> Option<u64> {
        None
    }
}

/// The CPU this process runs on.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveCpuid;

const HYPERVISOR_BASE: u32 = 0x4000_0000;
const EXTENDED_BASE: u32 = 0x8000_0000;

impl CpuidSource for LiveCpuid {
    fn cpuid(&self, leaf: u32, subleaf: u32) -> Option<[u32; 4]> {
        // Out-of-range leaves return another leaf's data on Intel rather
        // than zeros, so the range maximum decides presence.
        let max = match leaf {
            0..HYPERVISOR_BASE => raw(0, 0)[0],
            HYPERVISOR_BASE..=0x4000_FFFF => {
                // The hypervisor range is only meaningful with CPUID.1:ECX[31];
                // on bare metal it mirrors the highest basic leaf.
                if raw(1, 0)[2] & (1 << 31) == 0 {
                    return None;
                }
                let max = raw(HYPERVISOR_BASE, 0)[0];
                // KVM may report 0 here, meaning 0x40000001.
                if max < HYPERVISOR_BASE {
                    HYPERVISOR_BASE + 1
                } else {
                    max
                }
            }
            EXTENDED_BASE..=0x8000_FFFF => {
                let max = raw(EXTENDED_BASE, 0)[0];
                if max < EXTENDED_BASE {
                    return None;
                }
                max
            }
            _ => return None,
        };
        (leaf <= max).then(|| raw(leaf, subleaf))
    }

    fn msr(&self, addr: u32) -> Option<u64> {
        crate::platform::read_msr(0, addr).ok()
    }
}

#[cfg(target_arch = "x86_64")]
fn raw(leaf: u32, subleaf: u32) -> [u32; 4] {
    let r = raw_cpuid::native_cpuid::cpuid_count(leaf, subleaf);
    [r.eax, r.ebx, r.ecx, r.edx]
}

#[cfg(not(target_arch = "x86_64"))]
fn raw(_leaf: u32, _subleaf: u32) -> [u32; 4] {
    [0; 4]
}

/// Lets raw-cpuid's typed accessors read any `CpuidSource`; an absent
/// leaf reads as zeros, which raw-cpuid treats as "feature not present".
#[derive(Clone, Copy)]
pub(crate) struct SourceReader<'a>(pub &'a dyn CpuidSource);

impl CpuIdReader for SourceReader<'_> {
    fn cpuid2(&self, eax: u32, ecx: u32) -> CpuIdResult {
        let [eax, ebx, ecx, edx] = self.0.cpuid(eax, ecx).unwrap_or([0; 4]);
        CpuIdResult { eax, ebx, ecx, edx }
    }
}
