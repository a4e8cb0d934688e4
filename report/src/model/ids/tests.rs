use super::*;
use crate::model::schema::Experiment;

fn id(s: &str) -> ExperimentId {
    s.parse().unwrap()
}

/// Every id family, as the tool writes it today.
const EVERY_FAMILY: &[&str] = &[
    "timer.overhead",
    "entry.null",
    "entry.getpid",
    "entry.getppid",
    "entry.null.inline",
    "entry.getpid.inline",
    "entry.getppid.inline",
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
        "refill.w064",
        "entry.flush..next_entry",
        "ipi.user.fork",
        "scenario.",
    ] {
        assert_eq!(id(s), ExperimentId::Unknown(s.to_string()));
    }
}

#[test]
fn the_parts_read_as_typed() {
    use ExperimentId as Id;
    assert_eq!(id("timer.overhead"), Id::TimerOverhead);
    assert_eq!(id("entry.getpid"), Id::Entry(EntryCall::Getpid));
    assert_eq!(
        id("entry.getppid.inline"),
        Id::Entry(EntryCall::GetppidInline)
    );
    assert_eq!(id("refill.w512"), Id::Refill(512));
    assert_eq!(
        id("ipi.kmod.kernel_range"),
        Id::Ipi(Ipi::Kmod(KmodIpi::KernelRange))
    );
    assert_eq!(
        id("entry.flush.cr3_flush.w64"),
        Id::entry_flush(FlushVariant::Cr3Flush, 64, EntryTiming::Dispatch)
    );
    assert_eq!(
        id("entry.flush.invpcid2"),
        Id::entry_flush(FlushVariant::Invpcid2, 0, EntryTiming::Dispatch)
    );
    assert_eq!(
        id("entry.flush.series.next_entry.w64"),
        Id::entry_flush(FlushVariant::Series, 64, EntryTiming::NextEntry)
    );
    assert_eq!(
        id("entry.flush.deferred_marked.next_entry"),
        Id::entry_flush(FlushVariant::DeferredMarked, 0, EntryTiming::NextEntry)
    );
    assert_eq!(
        id("entry.flush.future.next_entry.w8"),
        Id::entry_flush(
            FlushVariant::Other("future".into()),
            8,
            EntryTiming::NextEntry
        )
    );
    assert_eq!(
        id("flush.kernel.cr4_pge"),
        Id::FlushKernel(FlushVariant::Cr4Pge)
    );
    assert_eq!(id("vdso.clock_gettime"), Id::Vdso(VdsoCall::ClockGettime));
    assert_eq!(id("scenario.none"), Id::Scenario(Trigger::None));
    assert_eq!(
        id("scenario.kernel.text_poke"),
        Id::Scenario(Trigger::Ipi(Ipi::Kernel(KernelIpi::TextPoke)))
    );
    assert_eq!(
        id("scenario.kmod.on_entry.series"),
        Id::Scenario(Trigger::OnEntry(FlushVariant::Series))
    );
    assert_eq!(
        id("scenario.kmod.deferred"),
        Id::Scenario(Trigger::Deferred)
    );
    assert_eq!(
        id("deferred.check.contended"),
        Id::DeferredCheck(Contention::Contended)
    );
    assert_eq!(id("initiator.user.munmap"), Id::Initiator(UserIpi::Munmap));
    assert_eq!(
        ExperimentId::criterion("refill/flushed/256"),
        id("criterion.refill.flushed.256")
    );
    assert_eq!(
        ExperimentId::entry_flush_cost(&FlushVariant::Series).map(|i| i.to_string()),
        ["entry.flush.series.next_entry", "entry.flush.series"]
    );
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
