//! The kernel's rules that decide which flush mechanism runs on a CPU, in
//! one place: `harness::verdict` (detect) and `size` both read them.
//!
//! - Meltdown: arch/x86/kernel/cpu/common.c sets X86_BUG_MELTDOWN on every
//!   CPU unless its `cpu_vuln_whitelist` entry has NO_MELTDOWN (AMD, Hygon,
//!   Centaur, Zhaoxin and the in-order Atoms Bonnell and Saltwell) or
//!   IA32_ARCH_CAPABILITIES reports RDCL_NO. PTI is on by default exactly
//!   when the bug is set.
//! - The IPI-deferral series (Valentin Schneider, not merged): v7 flushes
//!   in SWITCH_TO_KERNEL_CR3, built only with COALESCE_TLBI, which depends
//!   on MITIGATION_PAGE_TABLE_ISOLATION and NO_HZ_FULL; so it needs PTI on
//!   and runs on nohz_full CPUs only. RFC v8 (24 Mar 2026) replaces the
//!   per-IPI callbacks with a catch-up sequence run unconditionally at
//!   kernel entry, and its cover asks whether a CR4 flush is warranted
//!   under kPTI (lkml.iu.edu 2603.3/00632). Its deferral is still keyed to
//!   the kPTI CR3 switch: patch 09/10 "Defer kernel text patching IPIs
//!   when tracking CR3 switches" uses kernel_cr3_loaded and "the kPTI CR3
//!   RMW" (lkml.iu.edu 2603.3/00653), so v8 too needs PTI.
//! - INVLPGB (AMD Zen 3 and later): Linux >= 6.15 flushes with it instead
//!   of IPIs, on bare metal (guests do not see it enumerated unless the
//!   hypervisor passes it through) and not while PTI is on.
//! - RAR (Intel, Sapphire Rapids and later): Linux support not merged.

use crate::schema::CpuFacts;

/// First Linux release that flushes with INVLPGB.
pub const INVLPGB_LINUX: (u32, u32) = (6, 15);

/// Intel cores on the kernel's NO_MELTDOWN list (NO_SPECULATION entries).
const NO_MELTDOWN_INTEL: &[&str] = &["Bonnell", "Saltwell"];

/// Intel cores that all report RDCL_NO: used only when a dump enumerates
/// IA32_ARCH_CAPABILITIES but holds no MSR value to read the bit from.
const RDCL_NO_CORES: &[&str] = &[
    "Cascade Lake",
    "Cooper Lake",
    "Ice Lake",
    "Tiger Lake",
    "Rocket Lake",
    "Alder Lake",
    "Raptor Lake",
    "Sapphire Rapids",
    "Emerald Rapids",
    "Granite Rapids",
    "Meteor Lake",
    "Arrow Lake",
    "Lunar Lake",
    "Goldmont Plus",
    "Tremont",
    "Gracemont",
    "Crestmont",
];

/// "Sapphire Rapids-class (model masked by hypervisor)" -> "Sapphire
/// Rapids": the core name the rules and priors are keyed by.
pub fn core_name(uarch: &str) -> &str {
    let end = uarch
        .find("-class")
        .or_else(|| uarch.find(" ("))
        .unwrap_or(uarch.len());
    &uarch[..end]
}

/// The kernel's Meltdown decision for a CPU known from CPUID (and the
/// MSR value when a dump has one), with the reason in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Meltdown {
    pub affected: bool,
    pub why: String,
}

pub fn meltdown(cpu: &CpuFacts) -> Meltdown {
    let f = &cpu.features;
    let core = core_name(&cpu.uarch);
    let (affected, why) = match cpu.vendor.as_str() {
        "AuthenticAMD" | "HygonGenuine" | "CentaurHauls" | "  Shanghai  " => (
            false,
            "the kernel lists every AMD/Hygon/Centaur/Zhaoxin CPU as NO_MELTDOWN".to_string(),
        ),
        "GenuineIntel" if NO_MELTDOWN_INTEL.contains(&core) => (
            false,
            format!("{core} is an in-order Atom on the kernel's NO_MELTDOWN list"),
        ),
        "GenuineIntel" => match f.rdcl_no {
            Some(true) => (false, "IA32_ARCH_CAPABILITIES reports RDCL_NO".to_string()),
            Some(false) => (true, "IA32_ARCH_CAPABILITIES lacks RDCL_NO".to_string()),
            None if !f.arch_capabilities => (
                true,
                "an Intel core not on the kernel's NO_MELTDOWN list, and it has no \
                 IA32_ARCH_CAPABILITIES MSR to report RDCL_NO"
                    .to_string(),
            ),
            None if RDCL_NO_CORES.contains(&core) => (
                false,
                format!(
                    "every {core} reports RDCL_NO (the dump has no MSR 0x10A value to confirm it)"
                ),
            ),
            None => (
                true,
                format!(
                    "an Intel core not on the kernel's NO_MELTDOWN list, and {} \
                     cores do not report RDCL_NO",
                    if core == "unknown" { "unlisted" } else { core }
                ),
            ),
        },
        other => (
            true,
            format!("vendor {other} is not on the kernel's NO_MELTDOWN list"),
        ),
    };
    Meltdown { affected, why }
}

/// sysfs `vulnerabilities/meltdown` text -> affected?
pub fn meltdown_from_sysfs(text: &str) -> Option<bool> {
    if text.starts_with("Not affected") {
        Some(false)
    } else if text.starts_with("Mitigation") || text.starts_with("Vulnerable") {
        Some(true)
    } else {
        None
    }
}

/// One sentence: when the series' flush runs, per series version.
pub fn series_sentence(pti: Option<bool>) -> String {
    let v7 = match pti {
        Some(true) => {
            "PTI is on, so the series' v7 flush (INVPCID type 2, else CR4.PGE \
                       twice, in SWITCH_TO_KERNEL_CR3) runs on every kernel entry of a \
                       nohz_full CPU (it needs PTI and NO_HZ_FULL)"
        }
        Some(false) => {
            "PTI is off, so the series' flush does not run (PTI off): v7 \
                        flushes only in SWITCH_TO_KERNEL_CR3, built with COALESCE_TLBI, \
                        which needs PTI and NO_HZ_FULL; IPIs stay the status quo"
        }
        None => {
            "PTI state unknown: the series' v7 flush runs only with PTI on and \
                 NO_HZ_FULL"
        }
    };
    format!(
        "{v7}. RFC v8 runs one catch-up sequence unconditionally at kernel entry \
         instead of per-IPI callbacks, but still keys its deferral to the kPTI \
         CR3 switch (kernel_cr3_loaded, patch 9/10), so as posted it too needs \
         PTI; its cover asks whether a CR4 flush is warranted under kPTI at all."
    )
}

/// Kernel release "6.18.44-fc" >= (major, minor)?
pub fn kernel_at_least(release: &str, want: (u32, u32)) -> bool {
    let mut nums = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let major = nums.next().unwrap_or(0);
    let minor = nums.next().unwrap_or(0);
    (major, minor) >= want
}

/// Where INVLPGB removes the IPI, in one sentence. `kernel` None = a dump
/// (no kernel known); `guest` = the CPU facts came from a guest.
pub fn invlpgb_sentence(has: bool, kernel: Option<&str>, guest: bool, pti: Option<bool>) -> String {
    if !has {
        return "No INVLPGB: every remote flush is an IPI.".into();
    }
    let state = match (kernel.map(|k| kernel_at_least(k, INVLPGB_LINUX)), pti) {
        (_, Some(true)) => "but Linux does not use it while PTI is on".to_string(),
        (Some(false), _) => "but this kernel is older than 6.15 and does not use it".into(),
        (Some(true), _) if guest => {
            "this kernel (>= 6.15) uses it where the hypervisor passes it through".into()
        }
        (Some(true), _) => "this kernel (>= 6.15, PTI off) flushes with it and sends no IPI".into(),
        (None, _) => "Linux >= 6.15 on bare metal flushes with it: no IPI at all".into(),
    };
    format!("INVLPGB broadcast invalidation is present: {state}.")
}

/// AMD cores with INVLPGB (Zen 3 and later), whether or not a guest sees it.
pub fn core_has_invlpgb(vendor: &str, core: &str) -> bool {
    vendor == "AuthenticAMD" && matches!(core, "Zen 3" | "Zen 4" | "Zen 5" | "Zen 6")
}

/// RAR's status, one sentence.
pub fn rar_sentence(vendor: &str) -> Option<String> {
    (vendor == "GenuineIntel").then(|| {
        "RAR (Intel remote action request, Sapphire Rapids and later): Linux \
         support is not merged (RFC v1-v4, Rik van Riel, 2025)."
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::CpuFeatures;

    fn cpu(vendor: &str, uarch: &str, f: CpuFeatures) -> CpuFacts {
        CpuFacts {
            source: "t".into(),
            vendor: vendor.into(),
            family: 6,
            model: 0x3f,
            stepping: 2,
            brand: String::new(),
            uarch: uarch.into(),
            hypervisor: None,
            features: f,
            tsc_hz: 0,
            tlb: Vec::new(),
        }
    }

    #[test]
    fn meltdown_as_the_kernel_decides() {
        // Haswell-EP: no ARCH_CAPABILITIES at all -> affected.
        let m = meltdown(&cpu("GenuineIntel", "Haswell", CpuFeatures::default()));
        assert!(m.affected, "{m:?}");
        assert!(m.why.contains("NO_MELTDOWN"), "{m:?}");
        let with_msr = CpuFeatures {
            arch_capabilities: true,
            ..Default::default()
        };
        assert!(!meltdown(&cpu("GenuineIntel", "Cascade Lake", with_msr.clone())).affected);
        assert!(meltdown(&cpu("GenuineIntel", "Skylake", with_msr.clone())).affected);
        assert!(
            !meltdown(&cpu(
                "GenuineIntel",
                "Sapphire Rapids-class (model masked by hypervisor)",
                with_msr
            ))
            .affected
        );
        assert!(!meltdown(&cpu("GenuineIntel", "Saltwell", CpuFeatures::default())).affected);
        assert!(!meltdown(&cpu("AuthenticAMD", "Zen 3", CpuFeatures::default())).affected);
        assert!(!meltdown(&cpu("HygonGenuine", "Dhyana", CpuFeatures::default())).affected);
    }

    #[test]
    fn series_and_broadcast_sentences() {
        assert!(series_sentence(Some(false)).contains("does not run (PTI off)"));
        assert!(series_sentence(Some(true)).contains("runs on every kernel entry"));
        assert!(invlpgb_sentence(true, None, false, Some(false)).contains("Linux >= 6.15"));
        assert!(invlpgb_sentence(true, Some("6.6.1"), false, Some(false)).contains("older"));
        assert!(invlpgb_sentence(true, Some("6.18.1"), false, Some(true)).contains("PTI is on"));
        assert_eq!(core_name("Sapphire Rapids-class (x)"), "Sapphire Rapids");
        assert_eq!(core_name("Zen 5"), "Zen 5");
        assert!(core_has_invlpgb("AuthenticAMD", "Zen 5"));
        assert!(!core_has_invlpgb("AuthenticAMD", "Zen 2"));
        assert!(!core_has_invlpgb("HygonGenuine", "Dhyana"));
    }

    #[test]
    fn kernel_versions() {
        assert!(kernel_at_least("6.15.0", (6, 15)));
        assert!(kernel_at_least("6.18.44-fc-v657", (6, 15)));
        assert!(!kernel_at_least("6.9.1", (6, 15)));
        assert!(!kernel_at_least("garbage", (6, 15)));
    }
}
