//! The one-line description of every id (docs/design.md says the same at
//! length). The entry family's lines are recorded in result files
//! (`params.measures`), so they stay as they were written.

use super::{Contention, EntryCall, EntryTiming, ExperimentId, FlushVariant, Ipi, Trigger};

impl ExperimentId {
    /// What the id measures, in one line.
    pub fn describe(&self) -> String {
        use ExperimentId as Id;
        match self {
            Id::TimerOverhead => "an empty timed region: the timer's own cost".into(),
            Id::Entry(c) => entry(*c).into(),
            Id::Vdso(_) => "clock_gettime through the vDSO: the no-entry control".into(),
            Id::Refill(n) => format!(
                "the extra cycles to walk {n} pages after an entry that flushed the TLB, \
                 minus the same walk after one that did not"
            ),
            Id::Ipi(i) => format!("{}: the victim's interruptions, per IPI", ipi(*i)),
            Id::FlushKernel(v) => format!(
                "the module's in-kernel timed loop of the {v} flush, interrupts off: {}",
                v.semantics()
            ),
            Id::EntryFlush {
                variant,
                pages,
                timing,
            } => entry_flush(variant, *pages, *timing),
            Id::DeferredCheck(c) => match c {
                Contention::Uncontended => {
                    "the proposal's per-entry atomic exchange of the CPU's own state word, alone"
                }
                Contention::Contended => {
                    "the proposal's per-entry atomic exchange, a remote CPU setting the pending bit at a set rate"
                }
            }
            .into(),
            Id::Scenario(t) => scenario(t),
            Id::Initiator(m) => format!("the initiator's {m} call alone (criterion bench)"),
            Id::Criterion(b) => format!("criterion bench {b}, no entrybench id maps it"),
            Id::Unknown(_) => "an id this version does not know".into(),
        }
    }
}

fn entry(c: EntryCall) -> &'static str {
    match c {
        EntryCall::Null => "system call -1 (ENOSYS) made as a program makes it (glibc syscall()): entry, exit, return after sysret",
        EntryCall::Getpid => "getpid made as a program makes it (glibc syscall())",
        EntryCall::Getppid => "getppid made as a program makes it (glibc syscall()), what perf bench syscall basic times",
        EntryCall::NullInline => "the syscall instruction inline, -1 (ENOSYS): entry and exit alone, no call/return",
        EntryCall::GetpidInline => "the syscall instruction inline, getpid",
        EntryCall::GetppidInline => "the syscall instruction inline, getppid",
        EntryCall::ReturnAfterSysret => "entry.getppid minus entry.getppid.inline, block by block: the call and the ret after sysret, which mispredicts under RSB filling / SRSO safe RET",
    }
}

fn ipi(i: Ipi) -> &'static str {
    use super::{KernelIpi, KmodIpi, UserIpi};
    match i {
        Ipi::User(UserIpi::Membarrier) => "membarrier expedited IPIs (CAL) from a housekeeping CPU",
        Ipi::User(_) => "user TLB shootdowns (flush_tlb_mm_range) from a housekeeping CPU",
        Ipi::Kernel(KernelIpi::TextPoke) => {
            "text-patching sync_core IPIs (CAL) of a tracepoint toggle, per patch event"
        }
        Ipi::Kmod(KmodIpi::KernelRange) => {
            "the module's kernel-range flush (vfree + vm_unmap_aliases)"
        }
        Ipi::Kmod(KmodIpi::FlushAll) => "the module's full TLB flush (on_each_cpu_mask)",
        Ipi::Kmod(KmodIpi::SyncCore) => "the module's on_each_cpu_mask(sync_core)",
    }
}

fn entry_flush(v: &FlushVariant, pages: u64, timing: EntryTiming) -> String {
    let what = match (v, timing) {
        (FlushVariant::Series, EntryTiming::Dispatch) => "the series' flush in an ioctl, timed alone, minus the nop ioctl: the flush at ioctl dispatch, its entry path already warm".to_string(),
        (FlushVariant::Series, EntryTiming::NextEntry) => "the series' flush in an ioctl, then getppid, timed together, minus the same after the nop ioctl: the flush and the refills of a real entry (the series row)".to_string(),
        (v, EntryTiming::Dispatch) => format!("the {v} flush in an ioctl, timed alone, minus the nop ioctl: the flush at ioctl dispatch"),
        (v, EntryTiming::NextEntry) => format!("the {v} flush in an ioctl, then getppid, timed together, minus the same after the nop ioctl"),
    };
    match pages {
        0 => what,
        n => format!("{what}; then a walk of {n} pages"),
    }
}

fn scenario(t: &Trigger) -> String {
    let what = match t {
        Trigger::None => "nothing fires: the loop's own distribution".to_string(),
        Trigger::Ipi(i) => format!("{} at a set rate", ipi(*i)),
        Trigger::OnEntry(v) => format!("every entry flushes ({v}), no IPI"),
        Trigger::Deferred => {
            "Lutomirski's proposal: the pending bit set at a set rate, flushed at the next entry"
                .to_string()
        }
    };
    format!("an isolated task's loop (a system call and a working-set walk); {what}")
}
