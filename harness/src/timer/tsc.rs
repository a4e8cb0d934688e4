//! The fenced time-stamp counter and the check that it can be trusted.

use super::TimerError;
use crate::schema::Environment;
use std::arch::asm;
use workloads::Clock;

/// The fenced TSC (see the module doc of `timer`). Zero-sized: pass it by
/// value.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tsc;

impl Tsc {
    /// Reads the TSC at the start of a timed region.
    #[inline(always)]
    pub fn start() -> u64 {
        let (lo, hi): (u32, u32);
        // SAFETY: rdtsc/lfence have no memory operands; user-space RDTSC
        // is allowed unless CR4.TSD is set, which Linux does not do for
        // ordinary processes. No `nomem`: a compiler barrier is intended.
        unsafe {
            asm!("lfence", "rdtsc", "lfence", out("eax") lo, out("edx") hi, options(nostack, preserves_flags));
        }
        ((hi as u64) << 32) | lo as u64
    }

    /// Reads the TSC at the end of a timed region.
    #[inline(always)]
    pub fn stop() -> u64 {
        let (lo, hi): (u32, u32);
        // SAFETY: as in `start`; rdtscp also writes ecx (TSC_AUX).
        unsafe {
            asm!("rdtscp", "lfence", out("eax") lo, out("edx") hi, out("ecx") _, options(nostack, preserves_flags));
        }
        ((hi as u64) << 32) | lo as u64
    }
}

impl Clock for Tsc {
    #[inline(always)]
    fn start(&self) -> u64 {
        Tsc::start()
    }
    #[inline(always)]
    fn stop(&self) -> u64 {
        Tsc::stop()
    }
}

/// Refuses a TSC that cannot be trusted as a constant-rate clock, unless
/// forced; returns a warning to record when forced.
pub fn check_tsc(env: &Environment, force: bool) -> Result<Option<String>, TimerError> {
    let f = &env.cpu.features;
    if !f.rdtscp {
        return Err(TimerError::NoRdtscp);
    }
    if f.invariant_tsc {
        return Ok(None);
    }
    if force {
        Ok(Some(format!("forced: {}", TimerError::VARIANT_TSC)))
    } else {
        Err(TimerError::VariantTsc)
    }
}
