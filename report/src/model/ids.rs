//! What an experiment id means. Ids are stable (docs/design.md); every table,
//! plot and sizing rule finds its figures through `Kind`, so the naming
//! rules live in one place.
//!
//! Flush-on-entry with a working-set walk: the id is
//! `entry.flush.<variant>.w<N>` (N pages walked after the flush), the id
//! without the suffix is the bare flush. A file that only carries the
//! walk in `params.pages` is read the same way, so both spellings work.
//!
//! Two timings of the emulated flush-on-entry (`EntryTiming`):
//! `entry.flush.<variant>[.wN]` times the flushing ioctl itself (the flush
//! at ioctl dispatch, on an entry path that ran warm);
//! `entry.flush.<variant>.next_entry[.wN]` times the flushing ioctl, the
//! next system call (getppid) and the walk together, so every refill the
//! flush causes up to and through a real entry is counted. The series row
//! and the sizing use the next-entry figure where a file has it.

use crate::model::schema::Experiment;

/// The experiment families of docs/design.md.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    TimerOverhead,
    /// entry.null, entry.getpid, entry.getppid (the name after "entry.").
    Entry(String),
    /// vdso.clock_gettime: control with no kernel entry.
    Vdso(String),
    /// refill.wN: pages walked.
    Refill(u64),
    /// ipi.user.<method> / ipi.kmod.<method>: ("user"|"kmod", method).
    Ipi(String, String),
    /// flush.kernel.<variant>
    FlushKernel(String),
    /// entry.flush.<variant>[.next_entry][.wN]
    EntryFlush {
        variant: String,
        pages: u64,
        timing: EntryTiming,
    },
    /// scenario.<trigger>: the trigger ("none", "user.mprotect",
    /// "kernel.text_poke", "kmod.flush_all", ...).
    Scenario(String),
    Other,
}

/// What an `entry.flush.*` row times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntryTiming {
    /// The flushing ioctl alone (minus the nop ioctl): the flush runs at
    /// ioctl dispatch, after the entry code ran on a warm TLB.
    Dispatch,
    /// The flushing ioctl, then the next system call (getppid) and the
    /// walk, timed together (minus the same after the nop ioctl): the
    /// flush and every refill it causes through the next real entry.
    NextEntry,
}

impl EntryTiming {
    /// The id suffix (`.next_entry`), empty for dispatch.
    pub fn suffix(self) -> &'static str {
        match self {
            EntryTiming::Dispatch => "",
            EntryTiming::NextEntry => ".next_entry",
        }
    }
}

/// Reads the kind of an experiment from its id (and `params.pages` for
/// entry.flush ids without a `.wN` suffix).
pub fn kind(e: &Experiment) -> Kind {
    let k = kind_of_id(&e.id);
    if let Kind::EntryFlush {
        variant,
        pages: 0,
        timing,
    } = &k
    {
        if let Some(p) = e.params.get("pages").and_then(|v| v.as_u64()) {
            return Kind::EntryFlush {
                variant: variant.clone(),
                pages: p,
                timing: *timing,
            };
        }
    }
    k
}

/// Reads the kind from an id alone.
pub fn kind_of_id(id: &str) -> Kind {
    if id == "timer.overhead" {
        return Kind::TimerOverhead;
    }
    if let Some(rest) = id.strip_prefix("entry.flush.") {
        let (variant, pages) = split_pages(rest);
        let (variant, timing) = match variant.strip_suffix(EntryTiming::NextEntry.suffix()) {
            Some(v) => (v, EntryTiming::NextEntry),
            None => (variant, EntryTiming::Dispatch),
        };
        if variant.is_empty() {
            return Kind::Other;
        }
        return Kind::EntryFlush {
            variant: variant.to_string(),
            pages,
            timing,
        };
    }
    if let Some(rest) = id.strip_prefix("entry.") {
        return Kind::Entry(rest.to_string());
    }
    if let Some(rest) = id.strip_prefix("vdso.") {
        return Kind::Vdso(rest.to_string());
    }
    if let Some(n) = id.strip_prefix("refill.w") {
        return n.parse().map(Kind::Refill).unwrap_or(Kind::Other);
    }
    if let Some(rest) = id.strip_prefix("ipi.") {
        if let Some((backend, method)) = rest.split_once('.') {
            return Kind::Ipi(backend.to_string(), method.to_string());
        }
    }
    if let Some(v) = id.strip_prefix("flush.kernel.") {
        return Kind::FlushKernel(v.to_string());
    }
    if let Some(t) = id.strip_prefix(SCENARIO_PREFIX) {
        if !t.is_empty() {
            return Kind::Scenario(t.to_string());
        }
    }
    Kind::Other
}

/// Id of an IPI experiment: `ipi.<backend>.<method>` (backend "user",
/// "kernel" or "kmod").
pub fn ipi_id(backend: &str, method: &str) -> String {
    format!("ipi.{backend}.{method}")
}

const SCENARIO_PREFIX: &str = "scenario.";
/// The scenario trigger that fires nothing (the baseline).
pub const SCENARIO_NONE: &str = "none";

/// A scenario's trigger name from the IPI experiment it shares an
/// initiator with: ("user", "mprotect") -> "user.mprotect".
pub fn scenario_trigger(backend: &str, method: &str) -> String {
    format!("{backend}.{method}")
}

/// Id of a scenario experiment: `scenario.<trigger>`.
pub fn scenario_id(trigger: &str) -> String {
    format!("{SCENARIO_PREFIX}{trigger}")
}

/// The backend of the module's scenario triggers.
pub const SCENARIO_KMOD: &str = "kmod";
const ON_ENTRY: &str = "on_entry";
/// The method of `scenario.kmod.deferred`: the pending bit instead of an
/// IPI, flushed at the victim's next entry (Lutomirski's proposal).
pub const SCENARIO_DEFERRED: &str = "deferred";

/// The method of `scenario.kmod.on_entry.<variant>`: "on_entry.series".
pub fn scenario_on_entry_method(variant: &str) -> String {
    format!("{ON_ENTRY}.{variant}")
}

/// The flush variant of an on-entry trigger ("kmod.on_entry.series" ->
/// "series"); None for any other trigger.
pub fn scenario_on_entry_variant(trigger: &str) -> Option<&str> {
    trigger
        .strip_prefix(SCENARIO_KMOD)?
        .strip_prefix('.')?
        .strip_prefix(ON_ENTRY)?
        .strip_prefix('.')
        .filter(|v| !v.is_empty())
}

/// Whether a trigger is the deferred one ("kmod.deferred").
pub fn scenario_is_deferred(trigger: &str) -> bool {
    trigger == scenario_trigger(SCENARIO_KMOD, SCENARIO_DEFERRED)
}

/// The scenario trigger that fires what the IPI experiment `ipi_id` fires
/// ("ipi.kmod.kernel_range" -> "kmod.kernel_range"); None for another id.
pub fn scenario_trigger_of_ipi(ipi_id: &str) -> Option<String> {
    match kind_of_id(ipi_id) {
        Kind::Ipi(backend, method) => Some(scenario_trigger(&backend, &method)),
        _ => None,
    }
}

/// "cr3_flush.w64" -> ("cr3_flush", 64); "cr3_flush" -> ("cr3_flush", 0).
fn split_pages(rest: &str) -> (&str, u64) {
    if let Some((v, w)) = rest.rsplit_once(".w") {
        if let Ok(n) = w.parse() {
            return (v, n);
        }
    }
    (rest, 0)
}

/// Id of a flush-on-entry experiment with an N-page walk (0 = none),
/// timed at dispatch.
pub fn entry_flush_id(variant: &str, pages: u64) -> String {
    entry_flush_timed_id(variant, pages, EntryTiming::Dispatch)
}

/// Id of a flush-on-entry experiment of either timing.
pub fn entry_flush_timed_id(variant: &str, pages: u64, timing: EntryTiming) -> String {
    let t = timing.suffix();
    if pages == 0 {
        format!("entry.flush.{variant}{t}")
    } else {
        format!("entry.flush.{variant}{t}.w{pages}")
    }
}

/// The ids whose delta stands for what flush-on-entry of `variant` costs
/// per entry (no walk), best first: the next-entry timing, which counts
/// the refills of a real entry, then the dispatch timing (older files).
pub fn entry_flush_cost_ids(variant: &str) -> [String; 2] {
    [
        entry_flush_timed_id(variant, 0, EntryTiming::NextEntry),
        entry_flush_id(variant, 0),
    ]
}

/// Table order of the flush variants (docs/design.md order), unknown last.
pub fn variant_rank(v: &str) -> usize {
    const ORDER: [&str; 13] = [
        "series",
        "deferred",
        "deferred_marked",
        "nop",
        "cr3_noflush",
        "cr3_flush",
        "invpcid0",
        "invpcid1",
        "invpcid2",
        "invpcid3",
        "cr4_pge",
        "invlpg",
        "invlpgb",
    ];
    ORDER.iter().position(|o| *o == v).unwrap_or(ORDER.len())
}

/// Ids of the userspace check of Andy Lutomirski's proposal
/// (`deferred.check.*`; review text, not posted code:
/// beb46a02-b902-438b-8b6d-b5f0d7ad0ae6@app.fastmail.com): the per-entry
/// atomic exchange of the CPU's own state word, alone and with a remote
/// CPU setting a "flush pending" bit at a set rate. `summary.median` is
/// TSC cycles per check. The posted series has no such atomic (v5-v7 ride
/// on the context-tracking update entry already does).
pub const DEFERRED_CHECK_UNCONTENDED: &str = "deferred.check.uncontended";
pub const DEFERRED_CHECK_CONTENDED: &str = "deferred.check.contended";

/// The flush variant the series itself runs (v7 29/31,
/// 20251114151428.1064524-9-vschneid@redhat.com: "ALTERNATIVE "jmp
/// .Lcr4_\@", "", X86_FEATURE_INVPCID" then INVPCID_TYPE_ALL_INCL_GLOBAL,
/// else CR4.PGE toggled twice), right after the switch to the kernel CR3
/// on nohz_full CPUs with PTI: the one place that choice is made.
pub fn series_variant(has_invpcid: bool) -> &'static str {
    if has_invpcid {
        "invpcid2"
    } else {
        "cr4_pge"
    }
}

/// What a flush variant of `flush.kernel.*` / `entry.flush.*` means
/// relative to the series: "series" rows are what it does, the others are
/// named alternatives with a different reach.
pub fn flush_semantics(variant: &str) -> &'static str {
    match variant {
        "series" => "the series' flush: INVPCID type 2 if the CPU has INVPCID, else CR4.PGE twice",
        "invpcid2" | "cr4_pge" => {
            "the series' flush on CPUs with (invpcid2) / without (cr4_pge) INVPCID: drops every translation, global ones included"
        }
        "deferred" | "deferred_marked" => {
            "Lutomirski's proposal (not posted code): an atomic read-modify-write of the CPU's state word on every entry, the series' flush only when a remote CPU set the pending bit"
        }
        "cr3_flush" => {
            "alternative: a CR3 reload drops the current PCID's non-global entries only; without PTI the kernel's global entries stay; under PTI it acts on the kernel PCID only"
        }
        "invpcid0" | "invpcid1" => {
            "alternative: never drops global translations; under PTI it acts on the kernel PCID only (invpcid0: one address, invpcid1: the whole PCID)"
        }
        "invpcid3" => "alternative: every PCID, global translations kept",
        "cr3_noflush" => "control: CR3 written with the no-flush bit, nothing dropped",
        "invlpg" => "alternative: one address, in the current PCID plus any global translation of it",
        "nop" => "control: the ioctl (or loop) with no flush",
        _ => "unknown variant",
    }
}

/// Table order of entry experiments: the headline calls, their inline
/// decomposition, the return after sysret, then others.
pub fn entry_rank(name: &str) -> usize {
    const ORDER: [&str; 7] = [
        "null",
        "getppid",
        "getpid",
        "null.inline",
        "getppid.inline",
        "getpid.inline",
        "return_after_sysret",
    ];
    ORDER.iter().position(|o| *o == name).unwrap_or(ORDER.len())
}

/// What an id of the entry family measures, in one line (None for ids
/// this table does not describe).
pub fn describe(id: &str) -> Option<&'static str> {
    Some(match id {
        "timer.overhead" => "an empty timed region: the timer's own cost",
        "entry.null" => "system call -1 (ENOSYS) made as a program makes it (glibc syscall()): entry, exit, return after sysret",
        "entry.getpid" => "getpid made as a program makes it (glibc syscall())",
        "entry.getppid" => "getppid made as a program makes it (glibc syscall()), what perf bench syscall basic times",
        "entry.null.inline" => "the syscall instruction inline, -1 (ENOSYS): entry and exit alone, no call/return",
        "entry.getpid.inline" => "the syscall instruction inline, getpid",
        "entry.getppid.inline" => "the syscall instruction inline, getppid",
        "entry.return_after_sysret" => "entry.getppid minus entry.getppid.inline, block by block: the call and the ret after sysret, which mispredicts under RSB filling / SRSO safe RET",
        "entry.flush.series" => "the series' flush in an ioctl, timed alone, minus the nop ioctl: the flush at ioctl dispatch, its entry path already warm",
        "entry.flush.series.next_entry" => "the series' flush in an ioctl, then getppid, timed together, minus the same after the nop ioctl: the flush and the refills of a real entry (the series row)",
        "vdso.clock_gettime" => "clock_gettime through the vDSO: the no-entry control",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse() {
        assert_eq!(kind_of_id("timer.overhead"), Kind::TimerOverhead);
        assert_eq!(kind_of_id("entry.getpid"), Kind::Entry("getpid".into()));
        assert_eq!(kind_of_id("refill.w512"), Kind::Refill(512));
        assert_eq!(kind_of_id("refill.wx"), Kind::Other);
        assert_eq!(
            kind_of_id("ipi.kmod.kernel_range"),
            Kind::Ipi("kmod".into(), "kernel_range".into())
        );
        assert_eq!(
            kind_of_id("entry.flush.cr3_flush.w64"),
            Kind::EntryFlush {
                variant: "cr3_flush".into(),
                pages: 64,
                timing: EntryTiming::Dispatch,
            }
        );
        assert_eq!(
            kind_of_id("entry.flush.invpcid2"),
            Kind::EntryFlush {
                variant: "invpcid2".into(),
                pages: 0,
                timing: EntryTiming::Dispatch,
            }
        );
        assert_eq!(
            kind_of_id("entry.flush.series.next_entry.w64"),
            Kind::EntryFlush {
                variant: "series".into(),
                pages: 64,
                timing: EntryTiming::NextEntry,
            }
        );
        assert_eq!(
            kind_of_id("entry.flush.deferred_marked.next_entry"),
            Kind::EntryFlush {
                variant: "deferred_marked".into(),
                pages: 0,
                timing: EntryTiming::NextEntry,
            }
        );
        assert_eq!(kind_of_id("entry.flush..next_entry"), Kind::Other);
        assert_eq!(
            kind_of_id("flush.kernel.cr4_pge"),
            Kind::FlushKernel("cr4_pge".into())
        );
        assert_eq!(
            kind_of_id("vdso.clock_gettime"),
            Kind::Vdso("clock_gettime".into())
        );
        assert_eq!(kind_of_id("bogus"), Kind::Other);
        assert_eq!(
            kind_of_id("entry.getppid.inline"),
            Kind::Entry("getppid.inline".into())
        );
        assert!(entry_rank("getpid") < entry_rank("null.inline"));
        assert!(entry_rank("getpid.inline") < entry_rank("return_after_sysret"));
        assert!(describe("entry.return_after_sysret")
            .unwrap()
            .contains("ret after sysret"));
        assert_eq!(describe("bogus"), None);
        assert_eq!(entry_flush_id("cr4_pge", 0), "entry.flush.cr4_pge");
        assert_eq!(entry_flush_id("cr4_pge", 8), "entry.flush.cr4_pge.w8");
        assert_eq!(kind_of_id("scenario.none"), Kind::Scenario("none".into()));
        assert_eq!(
            kind_of_id(&scenario_id(&scenario_trigger("kernel", "text_poke"))),
            Kind::Scenario("kernel.text_poke".into())
        );
        assert_eq!(kind_of_id("scenario."), Kind::Other);
        assert_eq!(
            kind_of_id(&ipi_id("kernel", "text_poke")),
            Kind::Ipi("kernel".into(), "text_poke".into())
        );
        for timing in [EntryTiming::Dispatch, EntryTiming::NextEntry] {
            for pages in [0, 64] {
                let id = entry_flush_timed_id("invpcid2", pages, timing);
                assert_eq!(
                    kind_of_id(&id),
                    Kind::EntryFlush {
                        variant: "invpcid2".into(),
                        pages,
                        timing
                    },
                    "{id}"
                );
            }
        }
        let on_entry = scenario_trigger(SCENARIO_KMOD, &scenario_on_entry_method("series"));
        assert_eq!(scenario_id(&on_entry), "scenario.kmod.on_entry.series");
        assert_eq!(scenario_on_entry_variant(&on_entry), Some("series"));
        assert_eq!(scenario_on_entry_variant("kmod.on_entry."), None);
        assert_eq!(scenario_on_entry_variant("user.on_entry.series"), None);
        assert_eq!(scenario_on_entry_variant("kmod.deferred"), None);
        assert!(scenario_is_deferred(&scenario_trigger(
            SCENARIO_KMOD,
            SCENARIO_DEFERRED
        )));
        assert!(!scenario_is_deferred("kmod.flush_all"));
        assert_eq!(
            scenario_trigger_of_ipi("ipi.kmod.kernel_range").as_deref(),
            Some("kmod.kernel_range")
        );
        assert_eq!(scenario_trigger_of_ipi("entry.null"), None);
        assert_eq!(
            entry_flush_cost_ids("series"),
            ["entry.flush.series.next_entry", "entry.flush.series"]
        );
    }
}
