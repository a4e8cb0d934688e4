use super::*;
use crate::model::schema::CpuFeatures;

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

fn facts(vendor: &str, core: &str, pti: Option<bool>, kernel: Option<&str>) -> KernelFacts {
    KernelFacts {
        vendor: vendor.into(),
        core: core.into(),
        pti,
        kernel: kernel.map(String::from),
        guest: false,
        invlpgb: false,
        core_capabilities: false,
        rar_msr: None,
    }
}

#[test]
fn meltdown_as_the_kernel_decides() {
    // Haswell-EP: no ARCH_CAPABILITIES at all -> affected.
    let m = meltdown(&cpu("GenuineIntel", "Haswell", CpuFeatures::default()));
    assert!(m.affected, "{m:?}");
    assert!(m.why.contains("cpu_vuln_whitelist"), "{m:?}");
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
fn centaur_and_zhaoxin_follow_the_whitelist() {
    // Family 7 has no NO_MELTDOWN: affected unless RDCL_NO.
    for vendor in ["CentaurHauls", "  Shanghai  "] {
        let mut c = cpu(vendor, "unknown", CpuFeatures::default());
        c.family = 7;
        let m = meltdown(&c);
        assert!(m.affected, "{vendor}: {m:?}");
        assert!(m.why.contains("without NO_MELTDOWN"), "{m:?}");
        c.features.rdcl_no = Some(true);
        assert!(!meltdown(&c).affected, "{vendor} with RDCL_NO");
    }
    // Centaur family 5 is NO_SPECULATION.
    let mut c = cpu("CentaurHauls", "unknown", CpuFeatures::default());
    c.family = 5;
    assert!(!meltdown(&c).affected);
}

#[test]
fn series_per_posting_and_pti() {
    let [v5, v7, v8, v9] = POSTINGS;
    let on = facts("GenuineIntel", "Haswell", Some(true), Some("6.12.0"));
    let off = facts("GenuineIntel", "Cascade Lake", Some(false), Some("6.12.0"));
    // v6/v7 defer TLB flushes only with PTI on.
    assert!(matches!(series(&v7, &on), Runs::IfApplied(_)));
    let r = series(&v7, &off);
    assert!(matches!(r, Runs::IfPtiOn(_)), "{r:?}");
    assert!(r.reason().text.contains("defers no TLB-flush IPI"), "{r:?}");
    assert!(r.reason().source.contains("20251114151428.1064524-11"));
    // v5 runs either way, and leaves TLB-flush IPIs as they are.
    for k in [&on, &off] {
        let r = series(&v5, k);
        assert!(matches!(r, Runs::IfApplied(_)), "{r:?}");
        assert!(r.reason().text.contains("TLB-flush IPIs stay"), "{r:?}");
    }
    assert_eq!(v5.work, EntryWork::TlbIpisStay);
    assert_eq!(v7.work, EntryWork::FlushEveryEntry);
    // v8 and v9 are covered: tied to PTI (they run once applied where
    // PTI is on), their cost not known.
    for p in [v8, v9] {
        assert_eq!(p.work, EntryWork::CatchUpNeedsPti);
        assert!(matches!(series(&p, &on), Runs::IfApplied(_)));
        let r = series(&p, &off);
        assert!(matches!(r, Runs::IfPtiOn(_)), "{r:?}");
        assert!(r.reason().text.contains("defers nothing here"), "{r:?}");
    }
    assert!(v8.what.contains("catch-up sequence unconditionally"));
    // The claims read in RFC v8 08/10 and 09/10 cite those parts, each by
    // its own URL, wherever they are printed; the cover cites the rest.
    for k in [&on, &off] {
        let line = sentence("Series RFC v8", &series(&v8, k));
        for part in [src::V8_08, src::V8_09] {
            assert!(line.contains(part), "{part}: {line}");
        }
        assert!(line.contains(src::V8_COVER), "{line}");
    }
    let line = sentence("Series v9", &series(&v9, &off));
    assert!(
        line.contains(src::V8_08) && line.contains(src::V8_09),
        "{line}"
    );
    assert!(src::V8_08.ends_with("2603.3/00651.html"));
    assert!(src::V8_09.ends_with("2603.3/00653.html"));
    assert!(v9.versions.contains(&Series::V9));
    // Nothing of the series runs today.
    for p in POSTINGS {
        assert!(!series(&p, &on).today() && !series(&p, &off).today());
    }
    assert!(matches!(proposal(&on), Runs::Proposal(_)));
    assert!(pti_on_option(&on).is_none());
    assert!(matches!(pti_on_option(&off), Some(Runs::IfPtiOn(_))));
}

#[test]
fn invlpgb_needs_the_cpu_6_15_and_pti_off() {
    let mut k = facts("AuthenticAMD", "Zen 3", Some(false), Some("6.18.1"));
    assert!(matches!(invlpgb(&k), Runs::No(_)), "no INVLPGB enumerated");
    k.invlpgb = true;
    let r = invlpgb(&k);
    assert!(r.today(), "{r:?}");
    assert!(r.reason().text.contains("4 or more CPUs"), "{r:?}");
    assert!(r.reason().text.contains("sync_core() IPIs stay"), "{r:?}");
    k.kernel = Some("6.14.9".into());
    assert!(matches!(invlpgb(&k), Runs::No(_)), "before 6.15");
    k.kernel = Some("6.15.0".into());
    k.pti = Some(true);
    let r = invlpgb(&k);
    assert!(matches!(r, Runs::No(_)), "{r:?}");
    assert_eq!(r.reason().source, src::INVLPGB_PTI);
    k.pti = Some(false);
    k.kernel = None;
    assert!(matches!(invlpgb(&k), Runs::Unknown(_)), "a dump: no kernel");
    // A Zen 5 guest that does not see it: the host may have it.
    let mut g = facts("AuthenticAMD", "Zen 5", Some(false), Some("6.18.1"));
    g.guest = true;
    assert!(invlpgb(&g)
        .reason()
        .text
        .contains("this guest does not see it"));
}

#[test]
fn rar_is_what_cpuid_and_the_msr_show() {
    let mut k = facts("GenuineIntel", "Sapphire Rapids", Some(false), None);
    let r = rar(&k).unwrap();
    assert!(matches!(r, Runs::No(_)));
    assert!(
        r.reason().text.contains("CPUID.7.0:EDX[30] is clear"),
        "{r:?}"
    );
    k.core_capabilities = true;
    let r = rar(&k).unwrap();
    assert!(matches!(r, Runs::NotMerged(_)), "{r:?}");
    assert!(r.reason().text.contains("was not read"), "{r:?}");
    k.rar_msr = Some(false);
    assert!(matches!(rar(&k).unwrap(), Runs::No(_)));
    k.rar_msr = Some(true);
    assert!(rar(&k).unwrap().reason().text.contains("is set"));
    assert!(rar(&facts("AuthenticAMD", "Zen 4", None, None)).is_none());
}

#[test]
fn sentences_carry_their_source() {
    let k = facts("GenuineIntel", "Cascade Lake", Some(false), Some("6.12.0"));
    for s in series_sentences(&k) {
        assert!(s.ends_with(").") && s.contains(" ("), "{s}");
    }
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

/// Each RDCL_NO_CORES entry cites an MSR 0x10A value with RDCL_NO (bit 0)
/// set, or says what it is derived from; a cited testdata dump holds that
/// very value.
#[test]
fn rdcl_no_cores_are_sourced() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/cpuid-dumps");
    for (core, source) in RDCL_NO_CORES {
        if let Some(rest) = source.strip_prefix("derived from ") {
            let from = rest.split([' ', ',']).collect::<Vec<_>>()[..2].join(" ");
            assert!(
                RDCL_NO_CORES
                    .iter()
                    .any(|(c, s)| *c == from && !s.starts_with("derived")),
                "{core}: derived from {from}, which must be sourced itself"
            );
            continue;
        }
        let (dump, value) = source.rsplit_once(": 0x").expect(source);
        let v = u64::from_str_radix(value, 16).expect(source);
        assert_eq!(v & 1, 1, "{core}: {source} lacks RDCL_NO");
        if let Some(name) = dump.strip_prefix("testdata ") {
            let text = std::fs::read_to_string(format!("{dir}/{name}_CPUID.txt")).unwrap();
            let line = text
                .lines()
                .find(|l| l.starts_with("MSR 0000010A"))
                .expect(name);
            let hex: String = line[14..].chars().filter(char::is_ascii_hexdigit).collect();
            assert_eq!(u64::from_str_radix(&hex, 16).unwrap(), v, "{core}: {line}");
        } else {
            assert!(dump.starts_with("InstLatx64 GenuineIntel"), "{source}");
        }
    }
}
