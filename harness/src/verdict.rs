//! The one-paragraph judgement for a machine (or a dump): which
//! flush-on-entry variants the CPU can run, whether the kernel runs PTI,
//! what each posting of the IPI-deferral series would do here, and
//! whether broadcast invalidation (INVLPGB, RAR) could make the IPIs go
//! away. Every sentence about the kernel is built from a
//! `report::model::kernel_rules` predicate, which carries its source.

use crate::schema::{CpuFacts, Platform, Verdict};
use report::model::ids::FlushVariant;
use report::model::kernel_rules::{self, KernelFacts, Meltdown};

pub fn verdict(cpu: &CpuFacts, platform: Option<&Platform>) -> Verdict {
    let f = &cpu.features;
    let mut variants = vec![FlushVariant::Cr3Flush];
    if f.invpcid {
        variants.push(FlushVariant::Invpcid2);
    }
    if f.pge {
        variants.push(FlushVariant::Cr4Pge);
    }
    let variants = variants.iter().map(|v| v.name().to_string()).collect();

    let rule = kernel_rules::meltdown(cpu);
    let from_sysfs = platform.and_then(|p| kernel_rules::meltdown_from_sysfs(&p.meltdown));
    let pti_needed = from_sysfs.or(Some(rule.affected));
    let pti = match platform {
        Some(p) => Some(p.pti),
        // A kernel turns PTI on exactly when the CPU needs it (by default).
        None => pti_needed,
    };
    let facts = KernelFacts::of(cpu, platform, pti);

    let mut broadcast = Vec::new();
    if f.invlpgb {
        broadcast.push("INVLPGB".to_string());
    }
    if platform.is_some_and(|p| p.rar == Some(true)) {
        broadcast.push("RAR".to_string());
    }

    let mut text = Vec::new();
    text.push(variants_sentence(f.invpcid, f.pge));
    text.push(pti_sentence(&rule, platform, pti_needed));
    text.extend(kernel_rules::series_sentences(&facts));
    text.push(invlpgb_sentence(&facts, f.invlpgb_max_pages));
    if let Some(r) = kernel_rules::rar(&facts) {
        text.push(kernel_rules::sentence("RAR", &r));
    }
    if let Some(hv) = &cpu.hypervisor {
        text.push(format!(
            "This is a {hv} guest: with paravirtual TLB flush the host skips \
             preempted vCPUs and flushes them on re-entry, so IPI counts and \
             costs differ from bare metal; say so next to any figure."
        ));
    }
    Verdict {
        entry_flush_variants: variants,
        pti_needed,
        flush_on_entry_runs: pti,
        broadcast,
        text: text.join(" "),
    }
}

fn variants_sentence(invpcid: bool, pge: bool) -> String {
    let mut can = vec!["CR3 reload (cr3_flush)"];
    let mut cannot = Vec::new();
    if invpcid {
        can.push("INVPCID type 2 (invpcid2)");
    } else {
        cannot.push("INVPCID type 2 (no INVPCID)");
    }
    if pge {
        can.push("the CR4.PGE toggle (cr4_pge)");
    } else {
        cannot.push("the CR4.PGE toggle (no PGE)");
    }
    let mut s = format!(
        "The module can emulate a flush on entry as {}.",
        join_and(&can)
    );
    if !cannot.is_empty() {
        s.push_str(&format!(" Not available: {}.", join_and(&cannot)));
    }
    s
}

/// Meltdown and PTI: the kernel's decision for this CPU, and what the
/// running kernel does.
fn pti_sentence(rule: &Meltdown, platform: Option<&Platform>, needed: Option<bool>) -> String {
    let mut s = match (platform, needed) {
        (Some(p), _) => format!(
            "PTI is {} on this kernel (sysfs meltdown: \"{}\").",
            if p.pti { "on" } else { "off" },
            p.meltdown
        ),
        (None, Some(true)) => format!(
            "Meltdown-affected: {}, so a default kernel runs PTI ({}).",
            rule.why,
            kernel_rules::src::MELTDOWN_WHITELIST
        ),
        (None, _) => format!(
            "Not affected by Meltdown: {}, so a default kernel runs without PTI ({}).",
            rule.why,
            kernel_rules::src::MELTDOWN_WHITELIST
        ),
    };
    if let Some(p) = platform {
        if p.nohz_full_cpus.is_empty() {
            s.push_str(" No CPU is nohz_full: the series acts on nohz_full CPUs only.");
        }
    }
    s
}

/// INVLPGB, with the pages one instruction covers where present (named
/// with it, so the source stays last in the sentence).
fn invlpgb_sentence(k: &KernelFacts, max_pages: u32) -> String {
    let r = kernel_rules::invlpgb(k);
    if k.invlpgb {
        let what = format!("INVLPGB (up to {max_pages} pages per instruction)");
        kernel_rules::sentence(&what, &r)
    } else {
        kernel_rules::sentence("INVLPGB", &r)
    }
}

fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::CpuFeatures;

    fn cpu(vendor: &str, uarch: &str, features: CpuFeatures) -> CpuFacts {
        CpuFacts {
            source: "t".into(),
            vendor: vendor.into(),
            family: 6,
            model: 0x55,
            stepping: 6,
            brand: String::new(),
            uarch: uarch.into(),
            hypervisor: None,
            features,
            tsc_hz: 0,
            tlb: Vec::new(),
        }
    }

    fn platform(meltdown: &str, kernel: &str) -> Platform {
        Platform {
            kernel_release: kernel.into(),
            kernel_cmdline: String::new(),
            meltdown: meltdown.into(),
            pti: meltdown.contains("Mitigation: PTI"),
            mitigations: Default::default(),
            online_cpus: vec![0, 1],
            isolated_cpus: vec![],
            nohz_full_cpus: vec![1],
            perf_cycles: false,
            user_rdpmc: false,
            rar: None,
            interrupts: Default::default(),
            kmod_device: false,
        }
    }

    #[test]
    fn variants_follow_features() {
        let none = verdict(&cpu("GenuineIntel", "x", CpuFeatures::default()), None);
        assert_eq!(none.entry_flush_variants, ["cr3_flush"]);
        let all = CpuFeatures {
            invpcid: true,
            pge: true,
            ..Default::default()
        };
        let v = verdict(&cpu("GenuineIntel", "x", all), None);
        assert_eq!(v.entry_flush_variants, ["cr3_flush", "invpcid2", "cr4_pge"]);
    }

    #[test]
    fn pti_from_dump_facts() {
        let rdcl = CpuFeatures {
            rdcl_no: Some(true),
            ..Default::default()
        };
        let v = verdict(&cpu("GenuineIntel", "Sapphire Rapids", rdcl), None);
        assert_eq!(
            (v.pti_needed, v.flush_on_entry_runs),
            (Some(false), Some(false))
        );
        let v = verdict(&cpu("AuthenticAMD", "Zen 4", CpuFeatures::default()), None);
        assert_eq!(v.pti_needed, Some(false));
        let msr = CpuFeatures {
            arch_capabilities: true,
            ..Default::default()
        };
        let v = verdict(&cpu("GenuineIntel", "Cascade Lake", msr), None);
        assert_eq!(
            (v.pti_needed, v.flush_on_entry_runs),
            (Some(false), Some(false))
        );
        assert!(
            v.text
                .contains("Cascade Lake parts report RDCL_NO (InstLatx64 GenuineIntel0050657"),
            "{}",
            v.text
        );
        // An Intel core outside the lists is affected, as the kernel
        // decides it: PTI on by default.
        let v = verdict(
            &cpu("GenuineIntel", "Skylake", CpuFeatures::default()),
            None,
        );
        assert_eq!(v.pti_needed, Some(true));
        assert!(v.text.contains("Meltdown-affected"), "{}", v.text);
        let affected = CpuFeatures {
            rdcl_no: Some(false),
            ..Default::default()
        };
        let v = verdict(&cpu("GenuineIntel", "Skylake", affected), None);
        assert_eq!(v.pti_needed, Some(true));
    }

    #[test]
    fn live_pti_and_broadcast() {
        let f = CpuFeatures {
            invlpgb: true,
            invlpgb_max_pages: 8,
            ..Default::default()
        };
        let mut c = cpu("AuthenticAMD", "Zen 3", f);
        c.hypervisor = Some("KVM".into());
        let v = verdict(&c, Some(&platform("Not affected", "6.18.4")));
        assert_eq!(v.pti_needed, Some(false));
        assert_eq!(v.flush_on_entry_runs, Some(false));
        assert_eq!(v.broadcast, ["INVLPGB"]);
        assert!(
            v.text.contains(
                "INVLPGB (up to 8 pages per instruction): runs: Linux >= 6.15 with PTI off"
            ),
            "{}",
            v.text
        );
        assert!(v.text.contains("KVM guest"), "{}", v.text);
        // PTI off: the posted series defers no TLB flush here.
        assert!(
            v.text.contains("Series v6/v7: would run only with pti=on"),
            "{}",
            v.text
        );
        let v = verdict(&c, Some(&platform("Not affected", "6.6.1")));
        assert!(v.text.contains("older than 6.15"), "{}", v.text);

        let intel = cpu("GenuineIntel", "Skylake", CpuFeatures::default());
        let v = verdict(&intel, Some(&platform("Mitigation: PTI", "6.1.0")));
        assert_eq!(
            (v.pti_needed, v.flush_on_entry_runs),
            (Some(true), Some(true))
        );
        assert!(v.broadcast.is_empty());
        assert!(
            v.text
                .contains("Series v6/v7: would run with the series applied"),
            "{}",
            v.text
        );
        // No sentence about the series without its source.
        for s in v.text.split("Series ").skip(1) {
            assert!(
                s.contains("vschneid@redhat.com")
                    || s.contains("not re-read")
                    || s.contains("2603.3/00632")
                    || s.contains("2606.0/00925"),
                "{s}"
            );
        }
        assert!(!v.text.contains("270 -> 273"), "{}", v.text);
    }
}
