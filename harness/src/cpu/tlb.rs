//! TLB geometry from CPUID: Intel leaf 0x18 (deterministic address
//! translation) or the leaf 2 descriptor bytes; AMD/Hygon leaves
//! 0x80000005 (L1), 0x80000006 (L2) and 0x80000019 (1G pages).
//!
//! The refill cost after a flush scales with how much the TLBs held, so the
//! report shows their sizes next to the flush figures.

use super::source::CpuidSource;
use crate::schema::TlbLevel;

/// Leaf 0x18 sub-leaves we walk at most (real CPUs have < 16); bounds the
/// loop when a dump carries a nonsense maximum.
const MAX_LEAF18_SUBLEAVES: u32 = 64;

/// The TLBs of this CPU, in CPUID order.
pub fn tlbs(src: &dyn CpuidSource, vendor: &str, max_leaf: u32) -> Vec<TlbLevel> {
    if matches!(vendor, "AuthenticAMD" | "HygonGenuine") {
        return amd(src);
    }
    let (from_leaf2, defer_to_leaf18) = if max_leaf >= 2 {
        leaf2(src)
    } else {
        (Vec::new(), false)
    };
    if (defer_to_leaf18 || from_leaf2.is_empty()) && max_leaf >= 0x18 {
        let from_leaf18 = leaf18(src);
        if !from_leaf18.is_empty() {
            return from_leaf18;
        }
    }
    from_leaf2
}

fn level(name: &str, page_sizes: &str, entries: u32, associativity: String) -> TlbLevel {
    TlbLevel {
        name: name.to_string(),
        page_sizes: page_sizes.to_string(),
        entries,
        associativity,
    }
}

fn ways(n: u32) -> String {
    format!("{n}-way")
}

/// Leaf 2 descriptors; the bool says descriptor 0xFE ("use leaf 0x18")
/// was present.
fn leaf2(src: &dyn CpuidSource) -> (Vec<TlbLevel>, bool) {
    let Some(regs) = src.cpuid(2, 0) else {
        return (Vec::new(), false);
    };
    let mut out = Vec::new();
    let mut defer = false;
    for (i, reg) in regs.iter().enumerate() {
        // Bit 31 set: the register holds no descriptors.
        if reg & (1 << 31) != 0 {
            continue;
        }
        for (byte_idx, byte) in reg.to_le_bytes().into_iter().enumerate() {
            // EAX[7:0] is the iteration count, not a descriptor.
            if i == 0 && byte_idx == 0 {
                continue;
            }
            if byte == 0xFE {
                defer = true;
            }
            out.extend(descriptor(byte));
        }
    }
    (out, defer)
}

/// The TLB descriptors of SDM Vol. 2A Table 3-12 (caches and prefetch
/// descriptors are not ours).
fn descriptor(d: u8) -> Vec<TlbLevel> {
    let full = || "full".to_string();
    let one = |name, pages, entries, assoc: String| vec![level(name, pages, entries, assoc)];
    match d {
        0x01 => one("L1 iTLB", "4K", 32, ways(4)),
        0x02 => one("L1 iTLB", "4M", 2, full()),
        0x03 => one("L1 dTLB", "4K", 64, ways(4)),
        0x04 => one("L1 dTLB", "4M", 8, ways(4)),
        0x05 => one("L1 dTLB", "4M", 32, ways(4)),
        0x0B => one("L1 iTLB", "4M", 4, ways(4)),
        0x4F => one("L1 iTLB", "4K", 32, "unknown".into()),
        0x50 => one("L1 iTLB", "4K/2M/4M", 64, "unknown".into()),
        0x51 => one("L1 iTLB", "4K/2M/4M", 128, "unknown".into()),
        0x52 => one("L1 iTLB", "4K/2M/4M", 256, "unknown".into()),
        0x55 => one("L1 iTLB", "2M/4M", 7, full()),
        0x56 => one("L0 dTLB", "4M", 16, ways(4)),
        0x57 => one("L0 dTLB", "4K", 16, ways(4)),
        0x59 => one("L0 dTLB", "4K", 16, full()),
        0x5A => one("L0 dTLB", "2M/4M", 32, ways(4)),
        0x5B => one("L1 dTLB", "4K/4M", 64, "unknown".into()),
        0x5C => one("L1 dTLB", "4K/4M", 128, "unknown".into()),
        0x5D => one("L1 dTLB", "4K/4M", 256, "unknown".into()),
        0x61 => one("L1 iTLB", "4K", 48, full()),
        0x63 => vec![
            level("L1 dTLB", "2M/4M", 32, ways(4)),
            level("L1 dTLB", "1G", 4, ways(4)),
        ],
        0x64 => one("L1 dTLB", "4K", 512, ways(4)),
        0x6A => one("L0 dTLB", "4K", 64, ways(8)),
        0x6B => one("L1 dTLB", "4K", 256, ways(8)),
        0x6C => one("L1 dTLB", "2M/4M", 128, ways(8)),
        0x6D => one("L1 dTLB", "1G", 16, full()),
        0x76 => one("L1 iTLB", "2M/4M", 8, full()),
        0xA0 => one("L1 dTLB", "4K", 32, full()),
        0xB0 => one("L1 iTLB", "4K", 128, ways(4)),
        0xB1 => one("L1 iTLB", "2M/4M", 8, ways(4)),
        0xB2 => one("L1 iTLB", "4K", 64, ways(4)),
        0xB3 => one("L1 dTLB", "4K", 128, ways(4)),
        0xB4 => one("L1 dTLB", "4K", 256, ways(4)),
        0xB5 => one("L1 iTLB", "4K", 64, ways(8)),
        0xB6 => one("L1 iTLB", "4K", 128, ways(8)),
        0xBA => one("L1 dTLB", "4K", 64, ways(4)),
        0xC0 => one("L1 dTLB", "4K/4M", 8, ways(4)),
        0xC1 => one("L2 TLB", "4K/2M", 1024, ways(8)),
        0xC2 => one("L1 dTLB", "4K/2M", 16, ways(4)),
        0xC3 => vec![
            level("L2 TLB", "4K/2M", 1536, ways(6)),
            level("L2 TLB", "1G", 16, ways(4)),
        ],
        0xC4 => one("L1 dTLB", "2M/4M", 32, ways(4)),
        0xCA => one("L2 TLB", "4K", 512, ways(4)),
        _ => Vec::new(),
    }
}

/// Leaf 0x18: one TLB per valid sub-leaf.
fn leaf18(src: &dyn CpuidSource) -> Vec<TlbLevel> {
    let Some(first) = src.cpuid(0x18, 0) else {
        return Vec::new();
    };
    let max = first[0].min(MAX_LEAF18_SUBLEAVES);
    let mut out = Vec::new();
    for sub in 0..=max {
        let Some([_, ebx, ecx, edx]) = src.cpuid(0x18, sub) else {
            continue;
        };
        let kind = match edx & 0x1F {
            1 => "dTLB",
            2 => "iTLB",
            3 => "TLB",
            4 => "load TLB",
            5 => "store TLB",
            _ => continue,
        };
        let lvl = (edx >> 5) & 0x7;
        let sizes: Vec<&str> = [(0, "4K"), (1, "2M"), (2, "4M"), (3, "1G")]
            .into_iter()
            .filter(|(bit, _)| ebx & (1 << bit) != 0)
            .map(|(_, s)| s)
            .collect();
        let n_ways = ebx >> 16;
        let entries = n_ways.saturating_mul(ecx);
        let assoc = if edx & (1 << 8) != 0 {
            "full".to_string()
        } else {
            ways(n_ways)
        };
        out.push(level(
            &format!("L{lvl} {kind}"),
            &sizes.join("/"),
            entries,
            assoc,
        ));
    }
    out
}

/// AMD L1 associativity byte (0x80000005): 0xFF full, 1 direct, else n-way.
fn amd_l1_assoc(a: u32) -> String {
    match a {
        0xFF => "full".into(),
        1 => "direct".into(),
        n => ways(n),
    }
}

/// AMD L2/L3 associativity nibble (0x80000006, 0x80000019).
fn amd_l2_assoc(a: u32) -> String {
    match a {
        1 => "direct".into(),
        2 => ways(2),
        3 => ways(3),
        4 => ways(4),
        5 => ways(6),
        6 => ways(8),
        8 => ways(16),
        0xA => ways(32),
        0xB => ways(48),
        0xC => ways(64),
        0xD => ways(96),
        0xE => ways(128),
        0xF => "full".into(),
        _ => "unknown".into(),
    }
}

fn amd(src: &dyn CpuidSource) -> Vec<TlbLevel> {
    let mut out = Vec::new();
    let mut push = |name: &str, pages: &str, entries: u32, assoc: String| {
        if entries != 0 {
            out.push(level(name, pages, entries, assoc));
        }
    };
    if let Some([eax, ebx, _, _]) = src.cpuid(0x8000_0005, 0) {
        for (reg, pages) in [(ebx, "4K"), (eax, "2M/4M")] {
            push(
                "L1 dTLB",
                pages,
                (reg >> 16) & 0xFF,
                amd_l1_assoc(reg >> 24),
            );
            push(
                "L1 iTLB",
                pages,
                reg & 0xFF,
                amd_l1_assoc((reg >> 8) & 0xFF),
            );
        }
    }
    // 0x80000006 and 0x80000019 share one layout: [31:28] d-assoc,
    // [27:16] d-entries, [15:12] i-assoc, [11:0] i-entries; an assoc of 0
    // means that TLB is absent.
    let l2_layout =
        |push: &mut dyn FnMut(&str, &str, u32, String), reg: u32, lvl: &str, pages: &str| {
            if reg >> 28 != 0 {
                push(
                    &format!("{lvl} dTLB"),
                    pages,
                    (reg >> 16) & 0xFFF,
                    amd_l2_assoc(reg >> 28),
                );
            }
            if (reg >> 12) & 0xF != 0 {
                push(
                    &format!("{lvl} iTLB"),
                    pages,
                    reg & 0xFFF,
                    amd_l2_assoc((reg >> 12) & 0xF),
                );
            }
        };
    if let Some([eax, ebx, _, _]) = src.cpuid(0x8000_0006, 0) {
        l2_layout(&mut push, ebx, "L2", "4K");
        l2_layout(&mut push, eax, "L2", "2M/4M");
    }
    if let Some([eax, ebx, _, _]) = src.cpuid(0x8000_0019, 0) {
        l2_layout(&mut push, eax, "L1", "1G");
        l2_layout(&mut push, ebx, "L2", "1G");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::DumpCpuid;

    fn dump(lines: &str) -> DumpCpuid {
        let text = format!(
            "CPUID 00000000: 00000016-756E6547-6C65746E-49656E69\n\
             CPUID 00000001: 00050654-00400800-7FFEFBFF-BFEBFBFF\n{lines}"
        );
        DumpCpuid::parse(&text).unwrap()
    }

    /// "name page-sizes entries associativity", one string per TLB.
    fn describe(t: &[TlbLevel]) -> Vec<String> {
        t.iter()
            .map(|l| {
                format!(
                    "{} {} {} {}",
                    l.name, l.page_sizes, l.entries, l.associativity
                )
            })
            .collect()
    }

    #[test]
    fn intel_leaf2_descriptors() {
        // Skylake-SP; bytes low to high: 0x63 0x03 0x76 | 0xFF 0xB5 0xF0 | 0xC3
        let d = dump("CPUID 00000002: 76036301-00F0B5FF-00000000-00C30000\n");
        let t = tlbs(&d, "GenuineIntel", 0x16);
        let names = describe(&t);
        assert_eq!(
            names,
            [
                "L1 dTLB 2M/4M 32 4-way",
                "L1 dTLB 1G 4 4-way",
                "L1 dTLB 4K 64 4-way",
                "L1 iTLB 2M/4M 8 full",
                "L1 iTLB 4K 64 8-way",
                "L2 TLB 4K/2M 1536 6-way",
                "L2 TLB 1G 16 4-way",
            ]
        );
    }

    #[test]
    fn intel_leaf18_when_leaf2_defers() {
        let d = dump(
            "CPUID 00000002: 00FEFF01-000000F0-00000000-00000000\n\
             CPUID 00000018: 00000002-00000000-00000000-00000000 [SL 00]\n\
             CPUID 00000018: 00000000-00080007-00000001-00004122 [SL 01]\n\
             CPUID 00000018: 00000000-0010000F-00000001-00004125 [SL 02]\n",
        );
        let t = tlbs(&d, "GenuineIntel", 0x20);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].name, "L1 iTLB");
        assert_eq!(t[0].page_sizes, "4K/2M/4M");
        assert_eq!(t[0].entries, 8);
        assert_eq!(t[0].associativity, "full", "EDX[8]: fully associative");
        assert_eq!(t[1].name, "L1 store TLB");
        assert_eq!(t[1].page_sizes, "4K/2M/4M/1G");
        assert_eq!(t[1].entries, 16);
    }

    #[test]
    fn amd_extended_leaves() {
        // Zen 1 (EPYC 7551P) values.
        let d = dump(
            "CPUID 80000000: 8000001F-68747541-444D4163-69746E65\n\
             CPUID 80000005: FF40FF40-FF40FF40-20080140-40040140\n\
             CPUID 80000006: 36006400-56006400-02006140-0200C140\n\
             CPUID 80000019: F040F040-00000000-00000000-00000000\n",
        );
        let t = tlbs(&d, "AuthenticAMD", 0xD);
        let got = describe(&t);
        assert_eq!(
            got,
            [
                "L1 dTLB 4K 64 full",
                "L1 iTLB 4K 64 full",
                "L1 dTLB 2M/4M 64 full",
                "L1 iTLB 2M/4M 64 full",
                "L2 dTLB 4K 1536 6-way",
                "L2 iTLB 4K 1024 8-way",
                "L2 dTLB 2M/4M 1536 3-way",
                "L2 iTLB 2M/4M 1024 8-way",
                "L1 dTLB 1G 64 full",
                "L1 iTLB 1G 64 full",
            ]
        );
    }
}
