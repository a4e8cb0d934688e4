//! From raw CPUID values to `CpuFacts`. Feature bits go through
//! raw-cpuid's typed accessors; what raw-cpuid lacks (CPUID.7.0:EDX[29]/[30],
//! the hypervisor names we print, overflow-safe family arithmetic) is read
//! from the raw leaves.

use super::source::{CpuidSource, SourceReader};
use super::{tlb, uarch};
use crate::schema::{CpuFacts, CpuFeatures};

const HV_BASE: u32 = 0x4000_0000;
const EXT_BASE: u32 = 0x8000_0000;
/// IA32_ARCH_CAPABILITIES; bit 0 is RDCL_NO (not affected by Meltdown).
const MSR_ARCH_CAPABILITIES: u32 = 0x10A;

/// Decodes every fact `CpuFacts` holds; `source` is "live" or a file name.
/// Never fails: what the source lacks reads as absent/false/0.
pub fn decode(src: &dyn CpuidSource, source: &str) -> CpuFacts {
    let src = Guarded::new(src);
    let leaf0 = src.cpuid(0, 0).unwrap_or([0; 4]);
    let vendor = ascii(&[leaf0[1], leaf0[3], leaf0[2]]);
    let leaf1 = src.cpuid(1, 0).unwrap_or([0; 4]);
    let (family, model, stepping) = display_family_model(&vendor, leaf1[0]);

    let cpuid = raw_cpuid::CpuId::with_cpuid_reader(SourceReader(&src));
    let fi = cpuid.get_feature_info();
    let capacity = cpuid.get_processor_capacity_feature_info();
    let invlpgb = capacity.as_ref().is_some_and(|c| c.has_invlpgb());
    let leaf7_edx = src.cpuid(7, 0).map_or(0, |r| r[3]);
    let arch_capabilities = leaf7_edx & (1 << 29) != 0;
    let features = CpuFeatures {
        pge: fi.as_ref().is_some_and(|f| f.has_pge()),
        pcid: fi.as_ref().is_some_and(|f| f.has_pcid()),
        invpcid: cpuid
            .get_extended_feature_info()
            .is_some_and(|e| e.has_invpcid()),
        invlpgb,
        invlpgb_max_pages: match &capacity {
            Some(c) if invlpgb => u32::from(c.invlpgb_max_pages()) + 1,
            _ => 0,
        },
        rdtscp: cpuid
            .get_extended_processor_and_feature_identifiers()
            .is_some_and(|e| e.has_rdtscp()),
        invariant_tsc: cpuid
            .get_advanced_power_mgmt_info()
            .is_some_and(|a| a.has_invariant_tsc()),
        arch_capabilities,
        core_capabilities: leaf7_edx & (1 << 30) != 0,
        // The MSR only exists when CPUID enumerates it.
        rdcl_no: if arch_capabilities {
            src.msr(MSR_ARCH_CAPABILITIES).map(|v| v & 1 == 1)
        } else {
            None
        },
    };

    let table_uarch = uarch::uarch(&vendor, family, model, stepping);
    // A hypervisor may report a model the features contradict: trust the
    // features for the uarch the rules key on (see `feature_check`).
    let uarch = uarch::feature_check(&vendor, table_uarch, model, leaf7_edx, src.hypervisor)
        .map_or_else(|| table_uarch.to_string(), |(u, _)| u);
    CpuFacts {
        source: source.to_string(),
        uarch,
        brand: brand(&src),
        hypervisor: src.hypervisor.then(|| hypervisor_name(&src)),
        tsc_hz: tsc_hz(&src, &vendor, family, model),
        tlb: tlb::tlbs(&src, &vendor, src.max_basic),
        vendor,
        family,
        model,
        stepping,
        features,
    }
}

/// Display family, model and stepping from CPUID.1:EAX (Intel SDM Vol. 2A
/// "CPUID—Feature Information"; AMD APM: the extended model counts only
/// when the base family is 0xF).
pub fn display_family_model(vendor: &str, eax: u32) -> (u32, u32, u32) {
    let stepping = eax & 0xF;
    let base_model = (eax >> 4) & 0xF;
    let base_family = (eax >> 8) & 0xF;
    let ext_model = (eax >> 16) & 0xF;
    let ext_family = (eax >> 20) & 0xFF;
    let family = if base_family == 0xF {
        base_family + ext_family
    } else {
        base_family
    };
    let amd_like = matches!(vendor, "AuthenticAMD" | "HygonGenuine");
    let use_ext_model = if amd_like {
        base_family == 0xF
    } else {
        base_family == 0x6 || base_family == 0xF
    };
    let model = if use_ext_model {
        (ext_model << 4) + base_model
    } else {
        base_model
    };
    (family, model, stepping)
}

/// Hides leaves beyond their range's maximum, so a dump that lists stale
/// or foreign leaves decodes like the CPU would answer, and the hypervisor
/// range counts only with CPUID.1:ECX[31].
struct Guarded<'a> {
    src: &'a dyn CpuidSource,
    max_basic: u32,
    max_ext: u32,
    hypervisor: bool,
    max_hv: u32,
}

impl<'a> Guarded<'a> {
    fn new(src: &'a dyn CpuidSource) -> Self {
        let max_basic = src.cpuid(0, 0).map_or(0, |r| r[0]);
        let max_ext = src.cpuid(EXT_BASE, 0).map_or(0, |r| r[0]).max(EXT_BASE);
        let hypervisor = max_basic >= 1 && src.cpuid(1, 0).is_some_and(|r| r[2] & (1 << 31) != 0);
        // KVM may report 0 as its maximum, meaning 0x40000001.
        let max_hv = src.cpuid(HV_BASE, 0).map_or(0, |r| r[0]).max(HV_BASE + 1);
        Guarded {
            src,
            max_basic,
            max_ext,
            hypervisor,
            max_hv,
        }
    }
}

impl CpuidSource for Guarded<'_> {
    fn cpuid(&self, leaf: u32, subleaf: u32) -> Option<[u32; 4]> {
        let present = match leaf {
            0..HV_BASE => leaf <= self.max_basic,
            HV_BASE..=0x4000_FFFF => self.hypervisor && leaf <= self.max_hv,
            EXT_BASE..=0x8000_FFFF => leaf <= self.max_ext,
            _ => false,
        };
        if present {
            self.src.cpuid(leaf, subleaf)
        } else {
            None
        }
    }

    fn msr(&self, addr: u32) -> Option<u64> {
        self.src.msr(addr)
    }
}

/// Registers as little-endian ASCII, cut at the first NUL, without
/// control characters (a dump is someone else's file: an ESC in its brand
/// string must not reach the terminal).
fn ascii(regs: &[u32]) -> String {
    let bytes: Vec<u8> = regs.iter().flat_map(|r| r.to_le_bytes()).collect();
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    report::model::untrusted::printable(&String::from_utf8_lossy(&bytes[..end])).into_owned()
}

fn brand(src: &Guarded) -> String {
    let mut regs = Vec::with_capacity(12);
    for leaf in EXT_BASE + 2..=EXT_BASE + 4 {
        match src.cpuid(leaf, 0) {
            Some(r) => regs.extend(r),
            None => return String::new(),
        }
    }
    ascii(&regs).trim().to_string()
}

/// Leaf 0x40000000 signature, named as people know the hypervisors.
fn hypervisor_name(src: &Guarded) -> String {
    let Some([_, ebx, ecx, edx]) = src.cpuid(HV_BASE, 0) else {
        return "unknown".into();
    };
    let sig: Vec<u8> = [ebx, ecx, edx]
        .iter()
        .flat_map(|r| r.to_le_bytes())
        .collect();
    match &sig[..] {
        b"KVMKVMKVM\0\0\0" => "KVM".into(),
        b"TCGTCGTCGTCG" => "TCG".into(),
        b"Microsoft Hv" => "Microsoft Hv".into(),
        b"VMwareVMware" => "VMware".into(),
        b"XenVMMXenVMM" => "Xen".into(),
        _ => {
            let name = ascii(&[ebx, ecx, edx]);
            if name.trim().is_empty() {
                "unknown".into()
            } else {
                name.trim().to_string()
            }
        }
    }
}

/// TSC frequency: the hypervisor's leaf 0x40000010 (guest TSC, after any
/// scaling) first, then leaf 0x15 with the crystal from ECX, leaf 0x16 or
/// the kernel's per-model constants. 0 when nothing says.
fn tsc_hz(src: &Guarded, vendor: &str, family: u32, model: u32) -> u64 {
    if let Some([khz, ..]) = src.cpuid(HV_BASE + 0x10, 0) {
        if khz != 0 {
            return u64::from(khz) * 1000;
        }
    }
    let Some([den, num, crystal, _]) = src.cpuid(0x15, 0) else {
        return 0;
    };
    if den == 0 || num == 0 {
        return 0;
    }
    if crystal != 0 {
        return u64::from(crystal) * u64::from(num) / u64::from(den);
    }
    // No crystal: leaf 0x16's base frequency is the TSC frequency (what
    // native_calibrate_tsc() concludes from the same leaves).
    if let Some([base_mhz, ..]) = src.cpuid(0x16, 0) {
        if base_mhz != 0 {
            return u64::from(base_mhz) * 1_000_000;
        }
    }
    let crystal: u64 = match (vendor, family, model) {
        // Denverton reports neither crystal nor leaf 0x16: 25 MHz.
        ("GenuineIntel", 6, 0x5F) => 25_000_000,
        ("GenuineIntel", 6, 0x5C) => 19_200_000,
        _ => return 0,
    };
    crystal * u64::from(num) / u64::from(den)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::DumpCpuid;

    #[test]
    fn sdm_family_model_rules() {
        // Intel family 6: extended model folds in.
        assert_eq!(
            display_family_model("GenuineIntel", 0x0005_0656),
            (6, 0x55, 6)
        );
        // Intel family 0xF: extended family adds, extended model folds in.
        assert_eq!(
            display_family_model("GenuineIntel", 0x00F2_0F41),
            (0xF + 0xF, 0x24, 1)
        );
        // Intel family 5 (Pentium): no extended fields.
        assert_eq!(display_family_model("GenuineIntel", 0x0001_0543), (5, 4, 3));
        // AMD family 0x19 (0xF + 0xA), model 0x11.
        assert_eq!(
            display_family_model("AuthenticAMD", 0x00A1_0F11),
            (0x19, 0x11, 1)
        );
        // AMD base family < 0xF: extended model ignored.
        assert_eq!(display_family_model("AuthenticAMD", 0x0001_0671), (6, 7, 1));
        // Hygon follows AMD: 0xF + 9 = 0x18.
        assert_eq!(
            display_family_model("HygonGenuine", 0x0090_0F11),
            (0x18, 1, 1)
        );
        // Largest possible extended family: no overflow.
        assert_eq!(
            display_family_model("GenuineIntel", 0x0FF0_0F00).0,
            0xF + 0xFF
        );
    }

    fn facts(extra: &str, leaf1: &str, max: &str) -> CpuFacts {
        let text = format!(
            "CPUID 00000000: {max}-756E6547-6C65746E-49656E69\n\
             CPUID 00000001: {leaf1}\n{extra}"
        );
        decode(&DumpCpuid::parse(&text).unwrap(), "t")
    }

    #[test]
    fn hypervisor_signatures_need_the_cpuid1_bit() {
        let kvm = "CPUID 40000000: 40000001-4B4D564B-564B4D56-0000004D\n";
        let with_bit = facts(kvm, "00050654-00400800-FFFEFBFF-BFEBFBFF", "00000016");
        assert_eq!(with_bit.hypervisor.as_deref(), Some("KVM"));
        let bare = facts(kvm, "00050654-00400800-7FFEFBFF-BFEBFBFF", "00000016");
        assert_eq!(bare.hypervisor, None);
        let tcg = "CPUID 40000000: 40000001-54474354-43544743-47435447\n";
        let f = facts(tcg, "00050654-00400800-FFFEFBFF-BFEBFBFF", "00000016");
        assert_eq!(f.hypervisor.as_deref(), Some("TCG"));
        let odd = "CPUID 40000000: 40000001-656B6F4A-6F4A2072-0072656B\n";
        let f = facts(odd, "00050654-00400800-FFFEFBFF-BFEBFBFF", "00000016");
        assert_eq!(f.hypervisor.as_deref(), Some("Joker Joker"));
    }

    #[test]
    fn tsc_from_crystal_leaf16_or_hypervisor() {
        let l1 = "00050654-00400800-7FFEFBFF-BFEBFBFF";
        let kvm_l1 = "00050654-00400800-FFFEFBFF-BFEBFBFF";
        // (why, extra leaves, leaf 1, max leaf, TSC Hz)
        let cases = [
            (
                "0xD8/2 * 24 MHz crystal",
                "CPUID 00000015: 00000002-000000D8-016E3600-00000000\n",
                l1,
                "00000016",
                2_592_000_000,
            ),
            (
                "no crystal: leaf 0x16 base MHz",
                "CPUID 00000015: 00000002-000000F0-00000000-00000000\n\
                 CPUID 00000016: 00000BB8-00000E74-00000064-00000000\n",
                l1,
                "00000016",
                3_000_000_000,
            ),
            (
                "leaf 0x15 beyond the maximum leaf is ignored",
                "CPUID 00000015: 00000002-000000D8-016E3600-00000000\n",
                l1,
                "00000014",
                0,
            ),
            (
                "hypervisor leaf in kHz",
                "CPUID 40000000: 40000010-4B4D564B-564B4D56-0000004D\n\
                 CPUID 40000010: 0027AC40-000F4240-00000000-00000000\n",
                kvm_l1,
                "00000016",
                2_600_000_000,
            ),
        ];
        for (why, extra, leaf1, max, hz) in cases {
            assert_eq!(facts(extra, leaf1, max).tsc_hz, hz, "{why}");
        }
    }

    #[test]
    fn rdcl_no_only_when_arch_capabilities_enumerated() {
        let l1 = "00050656-00200800-7FFEFBFF-BFEBFBFF";
        let msr = "MSR 0000010A: 0000-0000-0000-006B\n";
        let with = facts(
            &format!("CPUID 00000007: 00000000-D39FFFFB-00000808-BC000400 [SL 00]\n{msr}"),
            l1,
            "00000016",
        );
        assert!(with.features.arch_capabilities);
        assert_eq!(with.features.rdcl_no, Some(true));
        let without = facts(
            &format!("CPUID 00000007: 00000000-D39FFFFB-00000808-00000000 [SL 00]\n{msr}"),
            l1,
            "00000016",
        );
        assert_eq!(without.features.rdcl_no, None);
    }
}
