//! Golden tests of compare and size on the synthetic fixtures.

mod common;

use common::*;
use report::profile::Profile;

#[test]
fn compare_before_after_patch() {
    let a = load("synthetic-skylake-pti.json");
    let b = load("synthetic-skylake-pti-coalesce.json");
    let c = report::compare::compare(&a, &b);
    let text = report::compare::render_text(&c);
    assert_width("compare", &text);
    golden("compare-skylake.txt", &text);
    // The thread's row: getpid 770 -> 1340 ns, significant.
    let row = c.rows.iter().find(|r| r.id == "entry.getpid").unwrap();
    assert!((row.a_ns.unwrap() - 770.0).abs() < 5.0, "{row:?}");
    assert!((row.b_ns.unwrap() - 1340.0).abs() < 5.0, "{row:?}");
    assert_eq!(row.test.significant(), Some(true));
    // Same machine, no hardware caveat; kmod rows only in A.
    assert!(!text.contains("different machines"));
    assert!(c.only_a.iter().any(|id| id == "entry.flush.invpcid2"));
    assert!(c.only_b.is_empty());
    // Unchanged experiments are not flagged.
    let vdso = c
        .rows
        .iter()
        .find(|r| r.id == "vdso.clock_gettime")
        .unwrap();
    assert_eq!(vdso.test.significant(), Some(false), "{vdso:?}");
    assert!(text.contains("Mann-Whitney U"));
}

#[test]
fn compare_different_machines_warns() {
    let a = load("synthetic-cascadelake-baremetal-pti-off.json");
    let b = load("synthetic-genoa-kvm.json");
    let text = report::compare::render_text(&report::compare::compare(&a, &b));
    assert_width("compare", &text);
    assert!(text.contains("different machines"), "{text}");
    assert!(text.contains("KVM guest"), "{text}");
}

fn profile(name: &str) -> Profile {
    Profile::read(&root().join("testdata/profiles").join(name)).unwrap()
}

#[test]
fn size_feed_handler() {
    let files = three_machines();
    let s = report::size::size(&profile("feed-handler.toml"), &files, None);
    let text = report::size::render_text(&s, true);
    assert_width("size", &text);
    golden("size-feed-handler.txt", &text);
    // Cascade Lake: PTI off, flush-on-entry would not run.
    let cl = s
        .machines
        .iter()
        .find(|m| m.cpu_label.starts_with("Cascade Lake"))
        .unwrap();
    assert!(
        cl.notes.iter().any(|n| n.contains("would not run at all")),
        "{:?}",
        cl.notes
    );
    assert!(cl.rows.iter().any(|r| matches!(
        r.outcome,
        report::size::Outcome::Figures { runs: false, .. }
    )));
    // Broadcast only where the CPU has it.
    let has_bcast = |m: &report::size::MachineSizing| {
        m.rows
            .iter()
            .any(|r| matches!(r.strategy, report::size::Strategy::Broadcast { .. }))
    };
    assert!(s
        .machines
        .iter()
        .filter(|m| has_bcast(m))
        .all(|m| m.cpu_label.starts_with("Zen 4")));
    assert!(s.machines.iter().any(has_bcast));
    // The unmeasured input is labelled as an assumption; equations shown.
    assert!(text.contains("is an assumption"));
    assert!(text.contains("cycles/s = S x C + min(F, S) x (E_v + R(W))"));
    assert!(text.starts_with("entrybench size"));
    assert!(text.contains("Recommendation: "));
}

#[test]
fn size_arithmetic_matches_equations() {
    let f = load("synthetic-skylake-pti.json");
    let mut p = profile("rare-syscalls.toml");
    p.working_set_pages = 64; // a measured refill size: no interpolation
    let s = report::size::size(&p, std::slice::from_ref(&f), None);
    let hz = f.timer.tsc_hz;
    let get = |id: &str| f.experiments.iter().find(|e| e.id == id).unwrap();
    let r = get("refill.w64").headline_cycles();
    let ipi = &get("ipi.kmod.kernel_range").summary;
    let m = &s.machines[0];
    let fig = |label: &str| {
        m.rows
            .iter()
            .find(|r| r.strategy.label() == label)
            .map(|r| match r.outcome {
                report::size::Outcome::Figures {
                    pct_cpu, worst_us, ..
                } => (pct_cpu, worst_us),
                ref o => panic!("{label}: {o:?}"),
            })
            .unwrap()
    };
    let (pct, worst) = fig("IPI (status quo)");
    let want = p.flush_events_per_sec * (ipi.median + r) / hz * 100.0;
    assert!((pct - want).abs() < want * 1e-9, "{pct} vs {want}");
    // The worst case is the p99 for every strategy.
    assert!((worst - (ipi.p99 + r) / hz * 1e6).abs() < 1e-9);
    let e = get("entry.flush.cr3_flush").headline_cycles();
    let (pct, _) = fig("on-entry cr3_flush");
    let want = p.syscalls_per_sec * (e + r) / hz * 100.0;
    assert!((pct - want).abs() < want * 1e-9, "{pct} vs {want}");
    let e2 = get("entry.flush.invpcid2").headline_cycles();
    let (pct, _) = fig("deferred invpcid2");
    let flushes = p.flush_events_per_sec.min(p.syscalls_per_sec);
    let want = (p.syscalls_per_sec * p.deferred_check_cycles + flushes * (e2 + r)) / hz * 100.0;
    assert!((pct - want).abs() < want * 1e-9, "{pct} vs {want}");
}

#[test]
fn size_dump_uses_closest_model() {
    let files = vec![
        load("synthetic-skylake-pti.json"),
        load("synthetic-genoa-kvm.json"),
    ];
    // A Cascade Lake dump: same vendor/family/model as the Skylake.
    let mut cpu = files[0].environment.cpu.clone();
    cpu.uarch = "Cascade Lake".into();
    cpu.brand = "Intel(R) Xeon(R) Gold 5218 CPU @ 2.30GHz".into();
    cpu.stepping = 7;
    cpu.features.rdcl_no = None;
    // What harness::verdict decides for a Cascade Lake dump without an MSR
    // value (tested there): every Cascade Lake reports RDCL_NO, so no PTI.
    let verdict = report::schema::Verdict {
        entry_flush_variants: vec!["cr3_flush".into(), "invpcid2".into(), "cr4_pge".into()],
        pti_needed: Some(false),
        flush_on_entry_runs: Some(false),
        broadcast: vec![],
        text: String::new(),
    };
    let target = report::size::DumpTarget {
        file_name: "cl.txt".into(),
        cpu: &cpu,
        verdict: &verdict,
    };
    let s = report::size::size(&profile("feed-handler.toml"), &files, Some(target));
    let text = report::size::render_text(&s, false);
    assert_width("size", &text);
    let d = s.machines.last().unwrap();
    assert!(d.title.contains("CPUID dump cl.txt"), "{}", d.title);
    // Same model number, another core (Skylake-SP vs Cascade Lake): not
    // a like model, so the published Cascade Lake figures answer.
    assert!(d.rows.is_empty(), "{:?}", d.rows);
    assert!(
        d.published
            .iter()
            .any(|n| n.starts_with("getpid: 270 ns") && n.contains("published (v7 cover")),
        "{:?}",
        d.published
    );
    // PTI inferred off for Cascade Lake: the series' flush does not run.
    assert!(
        d.answer
            .iter()
            .any(|n| n.contains("does not run (PTI off)")),
        "{:?}",
        d.answer
    );
    // A Zen 5 (family 0x1a) has no measured relative: says so, no numbers.
    let mut zen5 = files[1].environment.cpu.clone();
    zen5.family = 0x1a;
    zen5.uarch = "Zen 5".into();
    let s = report::size::size(
        &profile("feed-handler.toml"),
        &files,
        Some(report::size::DumpTarget {
            file_name: "z5.txt".into(),
            cpu: &zen5,
            verdict: &files[1].environment.verdict,
        }),
    );
    let d = s.machines.last().unwrap();
    assert!(d.rows.is_empty());
    assert!(d.notes[0].contains("No measured results"), "{:?}", d.notes);
    assert!(
        d.notes
            .iter()
            .any(|n| n.contains("entrybench run --out results/")),
        "{:?}",
        d.notes
    );
}

#[test]
fn size_missing_measurements_say_not_measured() {
    let f = load("synthetic-tcg-partial.json");
    let s = report::size::size(&profile("feed-handler.toml"), &[f], None);
    let text = report::size::render_text(&s, false);
    assert!(text.contains("not measured"));
    assert!(s.machines[0]
        .rows
        .iter()
        .all(|r| !matches!(r.outcome, report::size::Outcome::Figures { .. })));
    assert!(
        text.contains("No measured figures: nothing to recommend."),
        "{text}"
    );
}
