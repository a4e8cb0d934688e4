//! Values the unit tests share (test builds only).

use crate::schema::{CpuFacts, CpuFeatures, Environment, Verdict};

/// A Skylake-SP-like machine with `features`, no platform, an empty verdict.
pub(crate) fn environment(features: CpuFeatures) -> Environment {
    Environment {
        cpu: CpuFacts {
            source: "test".into(),
            vendor: "GenuineIntel".into(),
            family: 6,
            model: 85,
            stepping: 7,
            brand: "test".into(),
            uarch: "unknown".into(),
            hypervisor: None,
            features,
            tsc_hz: 0,
            tlb: vec![],
        },
        platform: None,
        verdict: Verdict {
            entry_flush_variants: vec![],
            pti_needed: None,
            flush_on_entry_runs: None,
            broadcast: vec![],
            text: String::new(),
        },
    }
}
