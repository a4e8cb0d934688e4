//! What the kernel rules rest on: one constant per source (printed next
//! to the fact), and the clauses the rules print, each above the passage
//! it was read from. Re-read for entrybench in Nov 2026 (lore, the
//! linux-arch and tip-commits archives, torvalds/linux); a lore link for a
//! Message-ID is https://lore.kernel.org/all/<Message-ID>/.

// The RFC v8 parts the rules quote, each with its own URL. Macros so the
// clauses below can embed them with concat! (a const cannot be
// concatenated), while each URL is written once.
macro_rules! v8_08 {
    () => {
        "RFC v8 08/10, https://lkml.iu.edu/2603.3/00651.html"
    };
}
macro_rules! v8_09 {
    () => {
        "RFC v8 09/10, https://lkml.iu.edu/2603.3/00653.html"
    };
}

/// Where each fact was read.
pub mod src {
    /// [PATCH v5 00/25], 29 Apr 2025.
    pub const V5_COVER: &str = "v5 cover, 20250429113242.998312-1-vschneid@redhat.com";
    /// [PATCH v6 00/29], 10 Oct 2025 (same text as v7 but the changelog).
    pub const V6_COVER: &str = "v6 cover, 20251010153839.151763-1-vschneid@redhat.com";
    /// [PATCH v7 00/31], 14 Nov 2025.
    pub const V7_COVER: &str = "v7 cover, 20251114150133.1056710-1-vschneid@redhat.com";
    /// v7 29/31 "x86/mm/pti: Implement a TLB flush immediately after a
    /// switch to kernel CR3".
    pub const V7_ENTRY_FLUSH: &str = "v7 29/31, 20251114151428.1064524-9-vschneid@redhat.com";
    /// v7 30/31 "x86/mm, mm/vmalloc: Defer kernel TLB flush IPIs under
    /// CONFIG_COALESCE_TLBI=y".
    pub const V7_TLB_DEFER: &str = "v7 30/31, 20251114151428.1064524-10-vschneid@redhat.com";
    /// v7 31/31: the COALESCE_TLBI Kconfig entry.
    pub const V7_KCONFIG: &str = "v7 31/31, 20251114151428.1064524-11-vschneid@redhat.com";
    /// [RFC PATCH v8 00/10], 24 Mar 2026 (Message-ID not seen): the
    /// catch-up sequence at entry.
    pub const V8_COVER: &str = "RFC v8 cover, https://lkml.rescloud.iu.edu/2603.3/00632.html";
    /// RFC v8 08/10 "x86/mm/pti: Introduce a kernel/user CR3 software
    /// signal": the TRACK_CR3 Kconfig entry (depends on PTI).
    pub const V8_08: &str = v8_08!();
    /// RFC v8 09/10: sync_core() IPIs deferred through the kPTI CR3 RMW.
    pub const V8_09: &str = v8_09!();
    /// [PATCH v9 08/10], 5 May 2026, as quoted in Juri Lelli's reply of
    /// 1 Jun 2026; no other part of v9 was found to re-read.
    pub const V9: &str =
        "v9 08/10 as quoted by Lelli, https://lkml.rescloud.iu.edu/hypermail/linux/kernel/2606.0/00925.html";
    /// Andy Lutomirski, 14 Nov 2025, reply to the v7 cover.
    pub const LUTO_PROPOSAL: &str =
        "Lutomirski, beb46a02-b902-438b-8b6d-b5f0d7ad0ae6@app.fastmail.com";
    /// "x86/mm: Enable broadcast TLB invalidation for multi-threaded
    /// processes" (arch/x86/mm/tlb.c), and 82378c6c2f43 "x86/mm: Use
    /// INVLPGB for kernel TLB flushes"; both in 6.15.
    pub const INVLPGB_MERGED: &str = "commits 4afeb0ed1753, 82378c6c2f43 (Linux 6.15)";
    /// "x86/mm: Disable INVLPGB when PTI is enabled".
    pub const INVLPGB_PTI: &str = "commit 94a17f2dc90b";
    /// RAR RFC v4 (Rik van Riel), 19 Jun 2025, and its 3/8.
    pub const RAR: &str = "RAR RFC v4, 20250619200442.1694583-1-riel@surriel.com and -4-";
    /// Dave Hansen, [PATCH 00/23] KAISER, 31 Oct 2017.
    pub const KAISER_COVER: &str = "KAISER cover, 20171031223146.6B47C861@viggo.jf.intel.com";
    /// cpu_vuln_whitelist and cpu_set_bug_bits() at d5cb9574391c.
    pub const MELTDOWN_WHITELIST: &str = "arch/x86/kernel/cpu/common.c @ d5cb9574391c";
    /// The texts that tie the v6/v7 TLB deferral to PTI.
    pub const PTI_OFF_SOURCES: &str =
        "v7 31/31, 20251114151428.1064524-11-vschneid@redhat.com; v6 26/29, 20251010153839.151763-27-vschneid@redhat.com";
}

// v5 cover: "TL;DR: Text patching IPI deferral LGTM so here it is for
// now, I'm still working on the TLB flush thing." and, in its changelog,
// "o Ditched the vmap TLB flush deferral (for now)". v7 cover, "RFCv1 ->
// RFCv2": "o Dropped the extra context_tracking atomic, squashed the new
// bits in the existing .state field (Peter, Frederic)"; v7 24/31
// (20251114151428.1064524-4-vschneid@redhat.com): "We cram up to three
// different things within the same atomic variable".
pub const V5_WHAT: &str = "defers text-patching sync_core() IPIs only, through work bits in the context-tracking state word that entry already updates; its TLB-flush deferral was dropped, so TLB-flush IPIs stay as today";

// v7 29/31: "issue an unconditional flush upon switching to the kernel
// CR3" ... "restrict the mechanism to NOHZ_FULL CPUs."; its calling.h:
// "ALTERNATIVE "jmp .Lcr4_\@", "", X86_FEATURE_INVPCID" /
// "movq $(INVPCID_TYPE_ALL_INCL_GLOBAL), \scratch_reg" and "xorq
// $(X86_CR4_PGE), \scratch_reg" (twice). v7 31/31: "Note that this flush
// is unconditionnal, even if no remote flush was issued during the
// previous userspace execution window." v7 30/31 makes
// flush_tlb_kernel_range_deferrable() for mm/vmalloc.c callers only;
// flush_tlb_kernel_range() and user-mm shootdowns are not deferred.
pub const V7_WHAT: &str = "flush the TLB unconditionally on every kernel entry of a nohz_full CPU, right after the switch to the kernel CR3 (INVPCID type 2, else CR4.PGE twice), and defer kernel-range TLB flushes from vmalloc/vunmap paths (not flush_tlb_all, not user-mm shootdowns) and text-patching IPIs";

// v7 31/31: "config COALESCE_TLBI ... depends on X86_64 &&
// MITIGATION_PAGE_TABLE_ISOLATION && NO_HZ_FULL"; v6 26/29 diff context:
// ".macro SWITCH_TO_KERNEL_CR3 scratch_reg:req / ALTERNATIVE "jmp
// .Lend_\@", "", X86_FEATURE_PTI", so with PTI off the entry flush and
// the kernel_cr3_loaded updates never run, and (kernel_cr3_loaded
// defaults to true: "DEFINE_PER_CPU(bool, kernel_cr3_loaded) = true;")
// no TLB-flush IPI is deferred.
pub const V7_NEEDS_PTI: &str = "COALESCE_TLBI depends on MITIGATION_PAGE_TABLE_ISOLATION and NO_HZ_FULL, and the flush and its deferral signal sit behind the X86_FEATURE_PTI alternative of SWITCH_TO_KERNEL_CR3";

// RFC v8 cover: "This version now gets rid of all that, and instead goes
// with an "unconditionnally run a catch-up sequence at kernel entry"
// approach - as was suggested at LPC 2025". 09/10 (lkml.iu.edu
// 2603.3/00653): "The deferred instruction sync is the CR3 RMW done as
// part of kPTI when switching to the kernel page table" ... "Leverage the
// new kernel_cr3_loaded signal and the kPTI CR3 RMW to defer sync_core()
// IPIs targeting NOHZ_FULL CPUs." 08/10 (2603.3/00651): "+config
// TRACK_CR3 ... depends on X86_64 && MITIGATION_PAGE_TABLE_ISOL[ATION]".
// Which flush instruction the sequence uses was not found (the cover's
// sentence "a CR4 may not be warranted for a kernel TLB flus[h]" is cut
// off in every copy found).
pub const V8_WHAT: &str = concat!(
    "runs a catch-up sequence unconditionally at kernel entry instead of per-IPI callbacks, tied to the kPTI CR3 switch (",
    v8_09!(),
    "; its TRACK_CR3 option depends on MITIGATION_PAGE_TABLE_ISOLATION: ",
    v8_08!(),
    "); what the sequence costs could not be re-read, so entrybench does not price it"
);

// v9 08/10 "x86/mm/pti: Introduce a kernel/user CR3 software signal", 5
// May 2026, as Juri Lelli quotes it (2606.0/00925, 1 Jun 2026):
// ".macro SWITCH_TO_KERNEL_CR3 scratch_reg:req / ALTERNATIVE "jmp
// .Lend_\@", "", X86_FEATURE_PTI / NOTE_CR3_SWITCH \scratch_reg 1": the
// signal sits behind the PTI alternative, so without PTI it never runs.
pub const V9_WHAT: &str = "posted 5 May 2026; its 08/10 writes the kernel-CR3 signal inside SWITCH_TO_KERNEL_CR3, behind the X86_FEATURE_PTI alternative, as RFC v8 does; the rest of v9 could not be re-read, so entrybench does not price it";

// The two lines above: RFC v8's TRACK_CR3 depends on PTI at build time,
// and v9's signal (same 08/10 text) runs only with X86_FEATURE_PTI.
pub const V8_V9_NEED_PTI: &str = concat!(
    "its deferral rides on the kPTI CR3 switch (",
    v8_09!(),
    "), built only with MITIGATION_PAGE_TABLE_ISOLATION (",
    v8_08!(),
    ") and run only behind the X86_FEATURE_PTI alternative (v9 08/10)"
);

// Lutomirski (beb46a02-...): "I think that x86 can do this all with a
// single atomic (in the common case) per usermode round trip." ...
// "atomic exchange the entire state to { .work = 0, .status = KERNEL }"
// ... "if (PTI) { switch to kernel CR3 *and flush if this_entry_work says
// to flush* } else { flush if this_entry_work says to flush; }"; and
// (1a911310-4ca5-45a4-b9bf-5f37c6ab238e@app.fastmail.com): "On x86 this
// would be a plain 64-bit lock xchg".
pub const PROPOSAL_WHAT: &str = "one atomic exchange of the CPU's state word per entry from user mode, then a flush only if the work read says so, with PTI or without";

// 4afeb0ed1753 (arch/x86/mm/tlb.c): "global ASIDs are handed out to
// processes that have frequent TLB flushes and are active on 4 or more
// CPUs simultaneously" ("if (mm_active_cpus_exceeds(mm, 3))"); 82378c6c2f43
// makes flush_tlb_all() and the kernel range flush use INVLPGB ("Remove
// the need to send IPIs for kernel TLB flushes."). Text patching stays
// on IPIs: arch/x86/kernel/alternative.c "void
// smp_text_poke_sync_each_cpu(void) { on_each_cpu(do_sync_core, NULL, 1); }".
pub const INVLPGB_SCOPE: &str = "it removes kernel TLB-flush IPIs, and user-space ones only for processes given a broadcast ASID (active on 4 or more CPUs at once); text-patching sync_core() IPIs stay";

// 94a17f2dc90b: "Disable INVLPGB if PTI is enabled. Avoid overrunning
// the small bitmap."
pub const INVLPGB_OFF_WITH_PTI: &str = "Linux turns INVLPGB off when PTI is on";

// RAR RFC v4 3/8: "if (cpu_has(c, X86_FEATURE_CORE_CAPABILITIES)) { ...
// rdmsrl(MSR_IA32_CORE_CAPS, msr); if (msr & MSR_IA32_CORE_CAPS_RAR)
// setup_force_cpu_cap(X86_FEATURE_RAR);"; 1/8: "#define
// MSR_IA32_CORE_CAPS_RAR_BIT 1". Mainline cpufeatures.h @ 7baadd463e14
// has no RAR bit; tip-commits to 2026-03-09 have no RAR commit.
pub const RAR_LINUX: &str = "Linux does not use RAR (RFC v4, not merged)";

// common.c: "VULNWL_AMD(X86_FAMILY_ANY, NO_MELTDOWN | ..." and
// "VULNWL_HYGON(X86_FAMILY_ANY, NO_MELTDOWN | ...".
pub const MELTDOWN_AMD: &str =
    "the kernel's cpu_vuln_whitelist gives every AMD and Hygon family NO_MELTDOWN";

// common.c: "VULNWL(CENTAUR, 5, X86_MODEL_ANY, NO_SPECULATION)" and
// "/* Zhaoxin Family 7 */ VULNWL(CENTAUR, 7, X86_MODEL_ANY,
// NO_SPECTRE_V2 | NO_SWAPGS | NO_MMIO | NO_BHI), VULNWL(ZHAOXIN, 7, ...)"
// (no NO_MELTDOWN); then "if (x86_arch_cap_msr & ARCH_CAP_RDCL_NO)
// return; setup_force_cpu_bug(X86_BUG_CPU_MELTDOWN);".
pub const MELTDOWN_CENTAUR_5: &str =
    "Centaur family 5 is NO_SPECULATION on the kernel's cpu_vuln_whitelist";
pub const MELTDOWN_CENTAUR_7: &str =
    "Centaur and Zhaoxin family 7 are on the kernel's cpu_vuln_whitelist without NO_MELTDOWN";

// KAISER cover: "The units here are lseeks/second: no kaiser: 5.2M /
// kaiser+ pcid: 3.0M / kaiser+nopcid: 2.2M" (single-threaded lseek1, CPU
// not stated).
pub const PTI_ON_WHAT: &str = "boot with pti=on and apply v6/v7: every entry then pays PTI's CR3 switches as well as the series' flush";
