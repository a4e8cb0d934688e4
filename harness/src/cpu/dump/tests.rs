//! Parsing and completeness of CPUID dumps.

use super::*;

const AIDA: &str = "------[ Versions ]------\r\n\
    CPUID Manufacturer: GenuineIntel\r\n\
    ------[ CPUID Registers / Logical CPU #0 ]------\r\n\
    CPUID 00000000: 0000000D-756E6547-6C65746E-49656E69 [GenuineIntel]\r\n\
    CPUID 00000001\t000206D6-00200800-1FBEE3BF-BFEBFBFF\r\n\
    CPUID 00000004: 3C004121-01C0003F-0000003F-00000000\r\n\
    CPUID 00000004: 3C004122-01C0003F-0000003F-00000000\r\n\
    CPUID 0000000D: 00000007-00000340-00000340-00000000 [SL 00] [x87]\r\n\
    CPUID 0000000D: 00000100-00000240-00000000-00000000 [SL 02] [AVX]\r\n\
    ------[ CPUID Registers / Logical CPU #1 ]------\r\n\
    CPUID 00000000: 0000000D-756E6547-6C65746E-49656E69\r\n\
    CPUID 00000001: 000206D6-01200800-1FBEE3BF-BFEBFBFF\r\n\
    ------[ MSR Registers / Logical CPU #0 ]------\r\n\
    MSR 0000010A: 0000-0000-0000-0001\r\n\
    MSR 00000049: < FAILED >\r\n\
    ------[ MSR Registers / Logical CPU #1 ]------\r\n\
    MSR 0000010A: 0000-0000-0000-0000\r\n\
    MSR 000000CF: 00000000-00000002\r\n";

#[test]
fn aida_layout_first_cpu_sub_leaves_and_msrs() {
    let d = DumpCpuid::parse(AIDA).unwrap();
    assert_eq!(
        d.cpuid(1, 0),
        Some([0x206D6, 0x200800, 0x1FBEE3BF, 0xBFEBFBFF])
    );
    // Untagged repeats are successive sub-leaves; tags are honoured.
    assert_eq!(d.cpuid(4, 1).map(|r| r[0]), Some(0x3C004122));
    assert_eq!(d.cpuid(0xD, 2).map(|r| r[0]), Some(0x100));
    assert_eq!(d.cpuid(0xD, 1), None);
    assert_eq!(d.msr(0x10A), Some(1), "CPU #0's MSR, not CPU #1's");
    assert_eq!(d.msr(0x49), None, "FAILED reads carry no value");
    assert_eq!(d.msr(0xCF), None, "CPU #1's MSRs are not ours");
    assert_eq!(d.len(), 6);
}

#[test]
fn msr_value_forms() {
    let head = "CPUID 00000000: 0000000D-756E6547-6C65746E-49656E69\n\
                CPUID 00000001: 000206D6-00200800-1FBEE3BF-BFEBFBFF\n";
    for (line, want) in [
        ("MSR 0000010A: 00000000-0000006B", Some(0x6B)),
        (
            "MSR 0000010A: 0000-0000-0C28-FDEB [comment]",
            Some(0x0C28_FDEB),
        ),
        ("MSR 0000010A\t0001-0000-0000-0000", Some(1 << 48)),
        ("MSR 0000010A: < FAILED >", None),
    ] {
        let d = DumpCpuid::parse(&format!("{head}{line}\n")).unwrap();
        assert_eq!(d.msr(0x10A), want, "{line}");
    }
    // The first value of an MSR wins (AIDA repeats some).
    let d = DumpCpuid::parse(&format!(
        "{head}MSR 000000E7: 0000-0000-0000-0001\nMSR 000000E7: 0000-0000-0000-0002\n"
    ))
    .unwrap();
    assert_eq!(d.msr(0xE7), Some(1));
}

#[test]
fn headerless_blocks_split_at_repeated_leaf0() {
    let text = "CPUID 00000000: 0000001B-756E6547-6C65746E-49656E69\n\
        CPUID 00000001: 000606A6-00400800-7FFEFBFF-BFEBFBFF\n\n\
        CPUID 00000000: 0000001B-756E6547-6C65746E-49656E69\n\
        CPUID 00000001: 000606A6-02400800-7FFEFBFF-BFEBFBFF\n";
    let d = DumpCpuid::parse(text).unwrap();
    assert_eq!(d.cpuid(1, 0).map(|r| r[1]), Some(0x00400800));
    assert_eq!(d.cpuid(1, 1), None, "second CPU is not a sub-leaf");
}

#[test]
fn instlatx64_cpu_hash_blocks() {
    let text = "CPU#000 AffMask: 0x0000000000000001 \n\
        CPUID 00000000: 00000016-756E6547-6C65746E-49656E69 [GenuineIntel]\n\
        CPUID 00000001: 00050654-00400800-7FFEFBFF-BFEBFBFF \n\
        CPU#001 AffMask: 0x0000000000000002 \n\
        CPUID 00000000: 00000016-756E6547-6C65746E-49656E69 [GenuineIntel]\n\
        CPUID 00000001: 00050654-01400800-7FFEFBFF-BFEBFBFF \n";
    let d = DumpCpuid::parse(text).unwrap();
    assert_eq!(d.cpuid(1, 0).map(|r| r[1]), Some(0x00400800));
}

#[test]
fn cpuid_tool_layout() {
    let text = "CPU 0:\n   0x00000000 0x00: eax=0x00000016 ebx=0x756e6547 ecx=0x6c65746e edx=0x49656e69\n   \
        0x00000001 0x00: eax=0x00050656 ebx=0x00200800 ecx=0x7ffefbff edx=0xbfebfbff\n   \
        0x00000007 0x01: eax=0x00000001 ebx=0x00000000 ecx=0x00000000 edx=0x00000000\n\
        CPU 1:\n   0x00000000 0x00: eax=0x00000017 ebx=0x756e6547 ecx=0x6c65746e edx=0x49656e69\n";
    let d = DumpCpuid::parse(text).unwrap();
    assert_eq!(d.cpuid(0, 0).map(|r| r[0]), Some(0x16));
    assert_eq!(d.cpuid(7, 1), Some([1, 0, 0, 0]));
    assert_eq!(d.cpuid(1, 0).map(|r| r[3]), Some(0xbfebfbff));
}

#[test]
fn errors_name_the_line() {
    let text = "CPUID 00000000: 0000000D-756E6547-6C65746E-49656E69\nhello\nCPUID 00000001: 000206D6-0020\n";
    let e = DumpCpuid::parse(text).unwrap_err().to_string();
    assert!(e.starts_with("line 3: expected 4 hex registers"), "{e}");
    assert!(e.contains("CPUID 00000001: 000206D6-0020"), "{e}");

    let tool = "CPU 0:\n   0x00000000 0x00: eax=0x00000016 ebx=0x756e\n";
    let e = DumpCpuid::parse(tool).unwrap_err().to_string();
    assert!(e.starts_with("line 2: "), "{e}");

    let msr = "CPUID 00000000: 0000000D-756E6547-6C65746E-49656E69\nMSR 0000010A: 0000-00\n";
    let e = DumpCpuid::parse(msr).unwrap_err().to_string();
    assert!(
        e.starts_with("line 2: expected a 64-bit hex MSR value"),
        "{e}"
    );
}

#[test]
fn empty_or_incomplete_dumps_are_errors() {
    for (text, want) in [
        ("", "no CPUID register lines"),
        (
            "CPUID Manufacturer: GenuineIntel\n",
            "no CPUID register lines",
        ),
        (
            "CPUID 00000001: 000206D6-00200800-1FBEE3BF-BFEBFBFF\n",
            "no CPUID leaf 0",
        ),
        (
            "CPUID 00000000: 0000000D-756E6547-6C65746E-49656E69\n",
            "no CPUID leaf 1",
        ),
    ] {
        let e = DumpCpuid::parse(text).unwrap_err().to_string();
        assert!(e.contains(want), "{text:?}: {e}");
    }
}

/// A dump of `vendor` with leaves 0..=`max` (leaf 1's EAX `sig`, leaf
/// 7's EDX `edx7`) and 0x80000000..=0x80000008, less `drop`.
fn dump_without(vendor: &str, sig: u32, max: u32, edx7: u32, drop: &[u32]) -> String {
    let v: Vec<u32> = vendor
        .as_bytes()
        .chunks(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let regs = |l: u32| match l {
        0 => [max, v[0], v[2], v[1]],
        1 => [sig, 0, 0, 0],
        7 => [0, 0, 0, edx7],
        0x8000_0000 => [0x8000_0008, 0, 0, 0],
        _ => [0; 4],
    };
    (0..=max)
        .chain(0x8000_0000..=0x8000_0008)
        .filter(|l| !drop.contains(l))
        .map(|l| {
            let r = regs(l);
            format!(
                "CPUID {l:08X}: {:08X}-{:08X}-{:08X}-{:08X}\n",
                r[0], r[1], r[2], r[3]
            )
        })
        .collect()
}

fn complete(text: &str) -> Result<()> {
    DumpCpuid::parse(text).unwrap().check_complete()
}

#[test]
fn complete_dumps_hold_every_leaf_up_to_each_maximum() {
    let intel = |drop: &[u32]| dump_without("GenuineIntel", 0x906EA, 0x1B, 0, drop);
    complete(&intel(&[])).unwrap();
    // An all-zero leaf is printed all the same: missing means cut.
    for (drop, want) in [
        (3, "leaf 0x00000003 is missing"),
        (4, "leaf 0x00000004 is missing"),
        (7, "leaf 0x00000007 is missing"),
        (0x1A, "leaf 0x0000001a is missing"),
        (0x8000_0000, "leaf 0x80000000 (the extended"),
        (0x8000_0005, "leaf 0x80000005 is missing"),
        (0x8000_0008, "leaf 0x80000008 is missing"),
    ] {
        let e = complete(&intel(&[drop])).unwrap_err().to_string();
        assert!(e.contains(want), "{drop:#x}: {e}");
    }
    // PCONFIG information: absent without PCONFIG, required with it.
    complete(&intel(&[0x1B])).unwrap();
    let pconfig = dump_without("GenuineIntel", 0x606A6, 0x1B, 1 << 18, &[0x1B]);
    assert!(complete(&pconfig)
        .unwrap_err()
        .to_string()
        .contains("0x0000001b"));
    // AMD reserves leaf 4, and leaf 0xB before Zen 2 (family 0x17
    // model 0x30): a Zen 1 may lack both, a Zen 3 only leaf 4.
    let zen1 = dump_without("AuthenticAMD", 0x800F12, 0xD, 0, &[4, 0xB]);
    complete(&zen1).unwrap();
    let zen3 = |drop: &[u32]| dump_without("AuthenticAMD", 0xA00F11, 0x10, 0, drop);
    complete(&zen3(&[4])).unwrap();
    for drop in [0xB, 5] {
        let e = complete(&zen3(&[drop])).unwrap_err().to_string();
        assert!(e.contains(&format!("leaf {drop:#010x} is missing")), "{e}");
    }
    let hygon = dump_without("HygonGenuine", 0x900F11, 0xD, 0, &[4, 0xB]);
    complete(&hygon).unwrap();
}

#[test]
fn summary_lines_are_not_headers_or_registers() {
    assert_eq!(
        parse_line("CPU   0: APICID    0 / Package 0"),
        Ok(Line::Other)
    );
    assert_eq!(parse_line("CPU Type          : HexaCore"), Ok(Line::Other));
    assert_eq!(parse_line("CPUID Revision    : 000206D6h"), Ok(Line::Other));
    assert_eq!(parse_line("CPU 3:"), Ok(Line::Header(Some(3))));
    assert_eq!(
        parse_line("------[ All CPUs ]------"),
        Ok(Line::Header(None))
    );
}
