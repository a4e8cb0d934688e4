use super::*;
use crate::model::schema::Experiment;

fn id(s: &str) -> ExperimentId {
    s.parse().unwrap()
}

/// Every id family, as the tool writes it today.
const EVERY_FAMILY: &[&str] = &[
    "timer.overhead",
    "entry.null",
    "entry.getppid",
    "entry.getpid",
    "entry.null.inline",
    "entry.getppid.inline",
    "entry.getpid.inline",
    "entry.return_after_sysret",
    "vdso.clock_gettime",
    "refill.w1",
    "refill.w4096",
    "refill.w0",
    "ipi.user.mprotect",
    "ipi.user.munmap",
    "ipi.user.madvise",
    "ipi.user.membarrier",
    "ipi.kmod.kernel_range",
    "ipi.kmod.flush_all",
    "ipi.kmod.sync_core",
    "ipi.kernel.text_poke",
    "flush.kernel.nop",
    "flush.kernel.cr4_pge",
    "flush.kernel.series",
    "flush.kernel.deferred",
    "entry.flush.series",
    "entry.flush.series.next_entry",
    "entry.flush.invpcid2.w64",
    "entry.flush.invpcid2.next_entry.w64",
    "entry.flush.deferred_marked.next_entry",
    "entry.flush.cr3_flush.w64",
    "deferred.check.uncontended",
    "deferred.check.contended",
    "scenario.none",
    "scenario.user.mprotect",
    "scenario.user.membarrier",
    "scenario.kernel.text_poke",
    "scenario.kmod.kernel_range",
    "scenario.kmod.flush_all",
    "scenario.kmod.on_entry.series",
    "scenario.kmod.on_entry.cr3_flush",
    "scenario.kmod.deferred",
    "initiator.user.munmap",
    "criterion.refill.flushed.256",
];

/// Ids no producer writes: kept as read, or read as the family with an
/// unknown variant.
const ODD: &[&str] = &[
    "bogus",
    "",
    "refill.wx",
    "refill.w064",
    "refill.w+1",
    "entry.flush..next_entry",
    "entry.flush.series.w0",
    "entry.flush.series.w064",
    "entry.flush.future.next_entry.w8",
    "entry.flush.x.w5.next_entry",
    "flush.kernel.",
    "flush.kernel.invlpgb",
    "ipi.user.fork",
    "ipi.kmod",
    "scenario.",
    "scenario.kmod.on_entry.",
    "scenario.kmod.on_entry.future",
    "entry.future",
    "criterion.",
    "entry.\u{1b}[2Jnull",
];

#[test]
fn every_id_round_trips() {
    for s in EVERY_FAMILY {
        let i = id(s);
        assert!(i.is_known(), "{s} is known");
        assert_eq!(i.to_string(), *s);
        assert!(!i.describe().is_empty(), "{s}");
    }
    for s in ODD {
        assert_eq!(id(s).to_string(), *s);
    }
    for s in [
        "bogus",
        "refill.wx",
        "refill.w064",
        "entry.flush..next_entry",
        "ipi.user.fork",
        "scenario.",
        "scenario.kmod.on_entry.",
        "entry.future",
    ] {
        assert_eq!(id(s), ExperimentId::Unknown(s.to_string()));
    }
}

#[test]
fn the_parts_read_as_typed() {
    use EntryTiming::{Dispatch, NextEntry};
    use ExperimentId as Id;
    let flush = Id::entry_flush;
    let typed: Vec<(&str, ExperimentId)> = vec![
        ("timer.overhead", Id::TimerOverhead),
        ("entry.getpid", Id::Entry(EntryCall::Getpid)),
        ("entry.getppid.inline", Id::Entry(EntryCall::GetppidInline)),
        ("refill.w512", Id::Refill(512)),
        (
            "ipi.kmod.kernel_range",
            Id::Ipi(Ipi::Kmod(KmodIpi::KernelRange)),
        ),
        (
            "entry.flush.cr3_flush.w64",
            flush(FlushVariant::Cr3Flush, 64, Dispatch),
        ),
        (
            "entry.flush.invpcid2",
            flush(FlushVariant::Invpcid2, 0, Dispatch),
        ),
        (
            "entry.flush.series.next_entry.w64",
            flush(FlushVariant::Series, 64, NextEntry),
        ),
        (
            "entry.flush.deferred_marked.next_entry",
            flush(FlushVariant::DeferredMarked, 0, NextEntry),
        ),
        (
            "entry.flush.future.next_entry.w8",
            flush(FlushVariant::Other("future".into()), 8, NextEntry),
        ),
        (
            "entry.flush.cr4_pge.w8",
            flush(FlushVariant::Cr4Pge, 8, Dispatch),
        ),
        (
            "flush.kernel.cr4_pge",
            Id::FlushKernel(FlushVariant::Cr4Pge),
        ),
        ("vdso.clock_gettime", Id::Vdso(VdsoCall::ClockGettime)),
        ("scenario.none", Id::Scenario(Trigger::None)),
        (
            "scenario.kernel.text_poke",
            Id::Scenario(Trigger::Ipi(Ipi::Kernel(KernelIpi::TextPoke))),
        ),
        (
            "scenario.kmod.on_entry.series",
            Id::Scenario(Trigger::OnEntry(FlushVariant::Series)),
        ),
        ("scenario.kmod.deferred", Id::Scenario(Trigger::Deferred)),
        (
            "deferred.check.contended",
            Id::DeferredCheck(Contention::Contended),
        ),
        ("initiator.user.munmap", Id::Initiator(UserIpi::Munmap)),
        (
            "criterion.refill.flushed.256",
            Id::criterion("refill/flushed/256"),
        ),
    ];
    for (s, want) in typed {
        assert_eq!(id(s), want, "{s} read");
        assert_eq!(want.to_string(), s, "{s} written");
    }
    assert_eq!(
        ExperimentId::entry_flush_cost(&FlushVariant::Series).map(|i| i.to_string()),
        ["entry.flush.series.next_entry", "entry.flush.series"]
    );
    // Only an IPI id has an IPI; only a scenario has a trigger.
    assert_eq!(id("entry.null").ipi(), None);
    assert_eq!(id("scenario.user.mprotect").ipi(), None);
    assert_eq!(
        id("scenario.user.mprotect").trigger(),
        Some(&Trigger::Ipi(Ipi::User(UserIpi::Mprotect)))
    );
    assert_eq!(id("ipi.user.mprotect").trigger(), None);
}

#[test]
fn ranks_and_descriptions() {
    assert!(EntryCall::Getpid.rank() < EntryCall::NullInline.rank());
    assert!(EntryCall::GetpidInline.rank() < EntryCall::ReturnAfterSysret.rank());
    assert!(FlushVariant::Series.rank() < FlushVariant::Nop.rank());
    assert!(FlushVariant::Invlpg.rank() < FlushVariant::Other("invlpgb".into()).rank());
    assert!(id("entry.return_after_sysret")
        .describe()
        .contains("ret after sysret"));
    assert!(id("entry.flush.series.next_entry")
        .describe()
        .contains("(the series row)"));
    assert_eq!(id("bogus").describe(), "an id this version does not know");
    assert_eq!(FlushVariant::of_series(true), FlushVariant::Invpcid2);
    assert_eq!(FlushVariant::of_series(false), FlushVariant::Cr4Pge);
    assert_eq!(
        FlushVariant::Other("x".into()).semantics(),
        "unknown variant"
    );
    for v in FlushVariant::KNOWN {
        assert_ne!(v.semantics(), "unknown variant", "{v}");
        assert_eq!(FlushVariant::from_name(v.name()), Some(v.clone()));
    }
}

#[test]
fn ids_sort_as_their_strings() {
    let mut typed: Vec<ExperimentId> = EVERY_FAMILY.iter().chain(ODD).map(|s| id(s)).collect();
    typed.sort();
    let mut strings: Vec<&str> = EVERY_FAMILY.iter().chain(ODD).copied().collect();
    strings.sort();
    assert_eq!(
        typed.iter().map(|i| i.to_string()).collect::<Vec<_>>(),
        strings
    );
}

#[test]
fn serde_keeps_the_string() {
    for s in EVERY_FAMILY.iter().chain(ODD) {
        let json = serde_json::to_string(&id(s)).unwrap();
        assert_eq!(json, serde_json::to_string(s).unwrap());
        let back: ExperimentId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id(s));
    }
    // A file with an id that is not a string does not load.
    assert!(serde_json::from_str::<ExperimentId>("3").is_err());
}

#[test]
fn the_walk_comes_from_params_where_the_id_has_none() {
    let mut e = Experiment::plain(
        id("entry.flush.cr4_pge"),
        "kmod",
        Default::default(),
        Default::default(),
        Default::default(),
    );
    assert_eq!(kind(&e), id("entry.flush.cr4_pge"));
    e.params.insert("pages".into(), 64.into());
    assert_eq!(kind(&e), id("entry.flush.cr4_pge.w64"));
    e.id = id("entry.flush.cr4_pge.w8");
    assert_eq!(kind(&e), id("entry.flush.cr4_pge.w8"));
}

#[test]
fn a_trigger_names_its_backend_and_method() {
    let t = |s: &str| Trigger::from_name(s).unwrap();
    for (name, backend, method) in [
        ("none", "user", "none"),
        ("user.mprotect", "user", "mprotect"),
        ("kernel.text_poke", "kernel", "text_poke"),
        ("kmod.kernel_range", "kmod", "kernel_range"),
        ("kmod.on_entry.series", "kmod", "on_entry.series"),
        ("kmod.deferred", "kmod", "deferred"),
    ] {
        assert_eq!(t(name).to_string(), name);
        assert_eq!(
            (t(name).backend(), t(name).method().as_str()),
            (backend, method)
        );
        assert_eq!(
            format!("{}.{}", t(name).backend(), t(name).method()),
            if name == "none" { "user.none" } else { name }
        );
    }
    assert_eq!(
        t("kmod.kernel_range").ipi(),
        Some(Ipi::Kmod(KmodIpi::KernelRange))
    );
    assert_eq!(t("kmod.deferred").ipi(), None);
    assert_eq!(Trigger::from_name("user.on_entry.series"), None);
    assert_eq!(Trigger::from_name("kmod.defer_mark"), None);
}
