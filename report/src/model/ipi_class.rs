//! Which IPI each `ipi.*` / `scenario.*` trigger sends, and whether the
//! series defers that class. One table, cited from the series' own text
//! (lore Message-IDs; `https://lore.kernel.org/all/<Message-ID>/`), so the
//! report, the docs and any headline say the same.

use crate::model::ids::{Ipi, KernelIpi, KmodIpi, UserIpi};

/// v7 25/31 "context_tracking,x86: Defer kernel text patching IPIs".
pub const V7_TEXT_PATCHING: &str = "20251114151428.1064524-5-vschneid@redhat.com";
/// v7 30/31 "x86/mm, mm/vmalloc: Defer kernel TLB flush IPIs under
/// CONFIG_COALESCE_TLBI=y".
pub const V7_KERNEL_RANGE: &str = "20251114151428.1064524-10-vschneid@redhat.com";
/// v5 cover: "Text patching IPI deferral LGTM so here it is".
pub const V5_COVER: &str = "20250429113242.998312-1-vschneid@redhat.com";

/// One class of IPI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpiClass {
    /// What the IPI is, short ("user TLB shootdown").
    pub name: &'static str,
    /// The kernel path that sends it.
    pub path: &'static str,
    /// Whether the series (v5-v7) defers it on a nohz_full CPU in user
    /// space.
    pub deferred: bool,
    /// Why, in one line.
    pub why: &'static str,
    /// The lore Message-IDs it rests on (empty: nothing in the series'
    /// text names this class).
    pub cite: &'static [&'static str],
}

const USER_SHOOTDOWN: IpiClass = IpiClass {
    name: "user TLB shootdown",
    path: "flush_tlb_mm_range -> flush_tlb_func (TLB, counts in CAL too)",
    deferred: false,
    why: "v7 defers only kernel-range flushes from mm/vmalloc.c; flush_tlb_mm_range is not changed",
    cite: &[V7_KERNEL_RANGE],
};

/// The class of the IPIs an `ipi.<backend>.<method>` (or the scenario
/// with the same trigger) sends.
pub fn class(ipi: Ipi) -> IpiClass {
    match ipi {
        Ipi::User(UserIpi::Mprotect | UserIpi::Munmap | UserIpi::Madvise) => USER_SHOOTDOWN,
        Ipi::User(UserIpi::Membarrier) => IpiClass {
            name: "membarrier",
            path: "membarrier(PRIVATE_EXPEDITED) -> smp_call_function_many (CAL)",
            deferred: false,
            why: "no series message (v5-v7) mentions membarrier",
            cite: &[],
        },
        Ipi::Kernel(KernelIpi::TextPoke) => IpiClass {
            name: "text patching",
            path: "static key flip -> smp_text_poke_batch_finish -> on_each_cpu(do_sync_core) (CAL)",
            deferred: true,
            why: "deferred since v5 (v7 25/31), except when a patched site is in .noinstr",
            cite: &[V5_COVER, V7_TEXT_PATCHING],
        },
        Ipi::Kmod(KmodIpi::KernelRange) => IpiClass {
            name: "kernel-range flush",
            path: "vfree + vm_unmap_aliases -> flush_tlb_kernel_range (CAL)",
            deferred: true,
            why: "v6/v7 defer vmalloc's kernel-range flushes (_vm_unmap_aliases, \
                  __purge_vmap_area_lazy) under CONFIG_COALESCE_TLBI",
            cite: &[V7_KERNEL_RANGE],
        },
        Ipi::Kmod(KmodIpi::FlushAll) => IpiClass {
            name: "full TLB flush",
            path: "on_each_cpu_mask, a flush_tlb_all-like handler (CAL)",
            deferred: false,
            why: "the v5 noise test still counts do_flush_tlb_all IPIs with the patches; \
                  v7 does not change flush_tlb_all",
            cite: &[V5_COVER, V7_KERNEL_RANGE],
        },
        Ipi::Kmod(KmodIpi::SyncCore) => IpiClass {
            name: "sync_core (module)",
            path: "on_each_cpu_mask(sync_core) from the module (CAL)",
            deferred: false,
            why: "the series defers the text-patching callers of the sync, not other on_each_cpu users",
            cite: &[V7_TEXT_PATCHING],
        },
    }
}

/// "yes" / "no" for tables.
pub fn deferred_word(c: &IpiClass) -> &'static str {
    if c.deferred {
        "yes"
    } else {
        "no"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deferred_classes_are_text_patching_and_kernel_range() {
        let i = |s: &str| Ipi::from_name(s).unwrap();
        let yes: Vec<String> = [
            "user.mprotect",
            "user.munmap",
            "user.madvise",
            "user.membarrier",
            "kernel.text_poke",
            "kmod.kernel_range",
            "kmod.flush_all",
            "kmod.sync_core",
        ]
        .into_iter()
        .filter(|s| class(i(s)).deferred)
        .map(String::from)
        .collect();
        assert_eq!(yes, ["kernel.text_poke", "kmod.kernel_range"]);
        // A method this version does not know has no IPI (and no class).
        assert!(Ipi::from_name("user.nothing").is_none());
        // Every class but membarrier cites the series' text.
        for s in ["user.mprotect", "kernel.text_poke", "kmod.flush_all"] {
            assert!(class(i(s)).cite.iter().all(|c| c.ends_with("@redhat.com")));
            assert!(!class(i(s)).cite.is_empty());
        }
        assert!(class(i("user.membarrier")).cite.is_empty());
    }
}
