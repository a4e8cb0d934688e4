//! Microarchitecture names from vendor and display family/model/stepping.
//!
//! Intel models follow the kernel's arch/x86/include/asm/intel-family.h;
//! AMD ranges follow arch/x86/kernel/cpu/amd.c (the X86_FEATURE_ZENn
//! assignment). Names are the core generation a kernel developer would say
//! ("Cascade Lake", "Zen 4"), Atom parts by core name ("Goldmont").

/// The name for this CPU, or "unknown" when the table has no entry.
pub fn uarch(vendor: &str, family: u32, model: u32, stepping: u32) -> &'static str {
    match vendor {
        "GenuineIntel" => intel(family, model, stepping),
        "AuthenticAMD" => amd(family, model),
        "HygonGenuine" if family == 0x18 => Some("Dhyana"),
        _ => None,
    }
    .unwrap_or("unknown")
}

/// CPUID.7.0:EDX feature bits only AMX-capable Xeons (Sapphire Rapids and
/// later) have: SERIALIZE (14), TSXLDTRK (16), AMX-BF16 (22),
/// AVX512-FP16 (23), AMX-TILE (24), AMX-INT8 (25).
const AMX_XEON_EDX: [(u32, &str); 6] = [
    (24, "AMX-TILE"),
    (25, "AMX-INT8"),
    (22, "AMX-BF16"),
    (23, "AVX512-FP16"),
    (16, "TSXLDTRK"),
    (14, "SERIALIZE"),
];

/// Cores that have AMX.
const AMX_CORES: [&str; 4] = [
    "Sapphire Rapids",
    "Emerald Rapids",
    "Granite Rapids",
    "Diamond Rapids",
];

/// The uarch to use when the model number conflicts with the features: a
/// hypervisor may report another model (this project's KVM host says
/// model 0xA7, a Rocket Lake id, on a CPU with AMX). AMX-TILE is the
/// deciding bit: no client core and no pre-Sapphire-Rapids Xeon has it.
/// Returns (uarch to use, the conflict in words), None when consistent.
pub fn feature_check(
    vendor: &str,
    table_uarch: &str,
    model: u32,
    leaf7_edx: u32,
    hypervisor: bool,
) -> Option<(String, String)> {
    let has = |bit: u32| leaf7_edx & (1 << bit) != 0;
    if vendor != "GenuineIntel" || !has(24) || AMX_CORES.contains(&table_uarch) {
        return None;
    }
    let present: Vec<&str> = AMX_XEON_EDX
        .iter()
        .filter(|(b, _)| has(*b))
        .map(|(_, n)| *n)
        .collect();
    let by = if hypervisor {
        "masked by hypervisor"
    } else {
        "conflicts with features"
    };
    let uarch = format!("Sapphire Rapids-class (model {model:#x} {by})");
    let why = format!(
        "CPUID model {model:#x} names {table_uarch}, but the CPU has {}: only AMX-capable \
         Xeons (Sapphire Rapids or later) have these, so the {} model conflicts with \
         the features; the uarch rules use Sapphire Rapids.",
        present.join(", "),
        if hypervisor {
            "hypervisor-reported"
        } else {
            "reported"
        }
    );
    Some((uarch, why))
}

fn intel(family: u32, model: u32, stepping: u32) -> Option<&'static str> {
    match family {
        6 => intel_family6(model, stepping),
        // Family 18/19 cores (display family = 0xF + extended family).
        0x12 => match model {
            0x01 | 0x03 => Some("Nova Lake"),
            _ => None,
        },
        0x13 => match model {
            0x01 => Some("Diamond Rapids"),
            _ => None,
        },
        _ => None,
    }
}

fn intel_family6(model: u32, stepping: u32) -> Option<&'static str> {
    Some(match model {
        // Big cores, client and server.
        0x1A | 0x1E | 0x1F | 0x2E => "Nehalem",
        0x25 | 0x2C | 0x2F => "Westmere",
        0x2A | 0x2D => "Sandy Bridge",
        0x3A | 0x3E => "Ivy Bridge",
        0x3C | 0x3F | 0x45 | 0x46 => "Haswell",
        0x3D | 0x47 | 0x4F | 0x56 => "Broadwell",
        0x4E | 0x5E => "Skylake",
        // Skylake-SP, Cascade Lake and Cooper Lake share model 0x55.
        0x55 => match stepping {
            0..=4 => "Skylake",
            5..=7 => "Cascade Lake",
            10 | 11 => "Cooper Lake",
            _ => return None,
        },
        0x8E => match stepping {
            0..=9 => "Kaby Lake",
            10 => "Coffee Lake",
            11 => "Whiskey Lake",
            _ => "Comet Lake",
        },
        0x9E => match stepping {
            0..=9 => "Kaby Lake",
            _ => "Coffee Lake",
        },
        0xA5 | 0xA6 => "Comet Lake",
        0x66 => "Cannon Lake",
        0x6A | 0x6C | 0x7D | 0x7E | 0x9D => "Ice Lake",
        0xA7 => "Rocket Lake",
        0x8C | 0x8D => "Tiger Lake",
        0x8A => "Lakefield",
        0x97 | 0x9A => "Alder Lake",
        0xB7 | 0xBA | 0xBF => "Raptor Lake",
        0xAA | 0xAC => "Meteor Lake",
        0xC5 | 0xC6 | 0xB5 => "Arrow Lake",
        0xBD => "Lunar Lake",
        0xCC => "Panther Lake",
        0xD5 => "Wildcat Lake",
        0x8F => "Sapphire Rapids",
        0xCF => "Emerald Rapids",
        0xAD | 0xAE => "Granite Rapids",
        0x57 => "Knights Landing",
        0x85 => "Knights Mill",
        // Atom cores.
        0x1C | 0x26 => "Bonnell",
        0x27 | 0x35 | 0x36 => "Saltwell",
        0x37 | 0x4A | 0x4D | 0x5A | 0x5D => "Silvermont",
        0x4C | 0x75 => "Airmont",
        0x5C | 0x5F => "Goldmont",
        0x7A => "Goldmont Plus",
        0x86 | 0x96 | 0x9C => "Tremont",
        0xBE => "Gracemont",
        0xAF | 0xB6 => "Crestmont",
        0xDD => "Darkmont",
        _ => return None,
    })
}

fn amd(family: u32, model: u32) -> Option<&'static str> {
    Some(match family {
        0x10 => "K10",
        0x12 => "K10 (Llano)",
        0x14 => "Bobcat",
        0x16 => match model {
            0x00..=0x2F => "Jaguar",
            _ => "Puma",
        },
        0x15 => match model {
            0x00 | 0x01 => "Bulldozer",
            0x02 | 0x10..=0x1F => "Piledriver",
            0x30..=0x3F => "Steamroller",
            0x60..=0x7F => "Excavator",
            _ => return None,
        },
        0x17 => match model {
            0x08 | 0x18 => "Zen+",
            0x00..=0x2F => "Zen",
            0x30..=0xAF => "Zen 2",
            _ => return None,
        },
        0x19 => match model {
            0x00..=0x0F | 0x20..=0x5F => "Zen 3",
            0x10..=0x1F | 0x60..=0xAF => "Zen 4",
            _ => return None,
        },
        0x1A => match model {
            0x00..=0x2F | 0x40..=0x4F | 0x60..=0x7F => "Zen 5",
            0x50..=0x5F | 0x80..=0xAF | 0xC0..=0xCF => "Zen 6",
            _ => return None,
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::uarch;

    const INTEL: &str = "GenuineIntel";
    const AMD: &str = "AuthenticAMD";

    /// (vendor, family, model, stepping, what the kernel-facing name is)
    const CASES: &[(&str, u32, u32, u32, &str)] = &[
        (INTEL, 6, 0x55, 4, "Skylake"),
        (INTEL, 6, 0x55, 7, "Cascade Lake"),
        (INTEL, 6, 0x55, 11, "Cooper Lake"),
        (INTEL, 6, 0x55, 8, "unknown"),
        (INTEL, 6, 0x9E, 9, "Kaby Lake"),
        (INTEL, 6, 0x9E, 10, "Coffee Lake"),
        (INTEL, 6, 0xBD, 1, "Lunar Lake"),
        (INTEL, 6, 0xCF, 2, "Emerald Rapids"),
        (INTEL, 6, 0x5F, 1, "Goldmont"),
        (INTEL, 6, 0x7A, 1, "Goldmont Plus"),
        (INTEL, 6, 0xAF, 3, "Crestmont"),
        (INTEL, 0x13, 0x01, 0, "Diamond Rapids"),
        (AMD, 0x15, 0x02, 0, "Piledriver"),
        (AMD, 0x15, 0x60, 1, "Excavator"),
        (AMD, 0x17, 0x08, 2, "Zen+"),
        (AMD, 0x17, 0x71, 0, "Zen 2"),
        (AMD, 0x19, 0x01, 1, "Zen 3"),
        (AMD, 0x19, 0x74, 1, "Zen 4"),
        (AMD, 0x1A, 0x02, 1, "Zen 5"),
        ("HygonGenuine", 0x18, 0x01, 1, "Dhyana"),
        (INTEL, 6, 0x01, 0, "unknown"),
        (AMD, 0x19, 0xF0, 0, "unknown"),
        (AMD, 0x18, 0x01, 0, "unknown"),
        ("CentaurHauls", 6, 0x0F, 0, "unknown"),
    ];

    #[test]
    fn models_steppings_and_vendors() {
        for &(vendor, family, model, stepping, want) in CASES {
            assert_eq!(
                uarch(vendor, family, model, stepping),
                want,
                "{vendor} {family:#x}/{model:#x} stepping {stepping}"
            );
        }
    }

    #[test]
    fn amx_on_a_client_model_is_called_out() {
        let edx = (1 << 24) | (1 << 23) | (1 << 22) | (1 << 16) | (1 << 14);
        let (u, why) = super::feature_check(INTEL, "Rocket Lake", 0xA7, edx, true).unwrap();
        assert_eq!(u, "Sapphire Rapids-class (model 0xa7 masked by hypervisor)");
        assert!(why.contains("names Rocket Lake"), "{why}");
        assert!(why.contains("AVX512-FP16"), "{why}");
        assert!(super::feature_check(INTEL, "Sapphire Rapids", 0x8F, edx, false).is_none());
        assert!(super::feature_check(INTEL, "Rocket Lake", 0xA7, 1 << 23, true).is_none());
        assert!(super::feature_check(AMD, "Zen 4", 0x11, edx, false).is_none());
    }
}
