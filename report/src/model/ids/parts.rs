//! The typed parts of an experiment id: the closed sets (system calls,
//! IPI methods, timings) as plain enums, the flush variant open (a file
//! from a newer tool may name one this build does not know).

use std::fmt;

/// A closed set of names: the enum, its table order (`ALL`, `rank`), the
/// name in ids and the way back. One macro so every part spells its
/// names in exactly one place.
macro_rules! named {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($(#[$vm])* $v),+
        }

        impl $name {
            /// Every value, in table order.
            pub const ALL: &'static [$name] = &[$($name::$v),+];

            /// The name in experiment ids.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$v => $s),+
                }
            }

            pub fn from_name(s: &str) -> Option<$name> {
                match s {
                    $($s => Some($name::$v),)+
                    _ => None,
                }
            }

            /// Table order (the position in `ALL`).
            pub fn rank(self) -> usize {
                self as usize
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

named! {
    /// `entry.<call>`, in table order: the headline calls, their inline
    /// decomposition, then the return after sysret.
    EntryCall {
        Null = "null",
        Getppid = "getppid",
        Getpid = "getpid",
        NullInline = "null.inline",
        GetppidInline = "getppid.inline",
        GetpidInline = "getpid.inline",
        ReturnAfterSysret = "return_after_sysret",
    }
}

named! {
    /// `vdso.<call>`: controls with no kernel entry.
    VdsoCall {
        ClockGettime = "clock_gettime",
    }
}

named! {
    /// `ipi.user.<method>`: the system calls that make the kernel send
    /// the victim an IPI.
    UserIpi {
        Mprotect = "mprotect",
        Munmap = "munmap",
        Madvise = "madvise",
        Membarrier = "membarrier",
    }
}

named! {
    /// `ipi.kmod.<method>`: the module's kernel-side flushes that send
    /// one (the module's DEFER_MARK sends none: `Trigger::Deferred`).
    KmodIpi {
        KernelRange = "kernel_range",
        FlushAll = "flush_all",
        SyncCore = "sync_core",
    }
}

named! {
    /// `ipi.kernel.<method>`: IPIs the kernel sends without the module.
    KernelIpi {
        TextPoke = "text_poke",
    }
}

named! {
    /// `deferred.check.<contention>`.
    Contention {
        Uncontended = "uncontended",
        Contended = "contended",
    }
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

/// An IPI an `ipi.*` experiment (and the scenario of the same trigger)
/// makes the kernel send: `<backend>.<method>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ipi {
    User(UserIpi),
    Kernel(KernelIpi),
    Kmod(KmodIpi),
}

impl Ipi {
    /// "user", "kernel" or "kmod".
    pub fn backend(self) -> &'static str {
        match self {
            Ipi::User(_) => "user",
            Ipi::Kernel(_) => "kernel",
            Ipi::Kmod(_) => "kmod",
        }
    }

    /// "mprotect", "text_poke", "kernel_range", ...
    pub fn method(self) -> &'static str {
        match self {
            Ipi::User(m) => m.name(),
            Ipi::Kernel(m) => m.name(),
            Ipi::Kmod(m) => m.name(),
        }
    }

    /// From "user.mprotect" (the part after "ipi." or "scenario.").
    pub fn from_name(s: &str) -> Option<Ipi> {
        let (backend, method) = s.split_once('.')?;
        match backend {
            "user" => UserIpi::from_name(method).map(Ipi::User),
            "kernel" => KernelIpi::from_name(method).map(Ipi::Kernel),
            "kmod" => KmodIpi::from_name(method).map(Ipi::Kmod),
            _ => None,
        }
    }
}

impl fmt::Display for Ipi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.backend(), self.method())
    }
}

/// A flush variant of `flush.kernel.*`, `entry.flush.*` and
/// `scenario.kmod.on_entry.*`, in table order (docs/design.md); `Other`
/// keeps a name this build does not know, which sorts last.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FlushVariant {
    Series,
    Deferred,
    DeferredMarked,
    Nop,
    Cr3Noflush,
    Cr3Flush,
    Invpcid0,
    Invpcid1,
    Invpcid2,
    Invpcid3,
    Cr4Pge,
    Invlpg,
    Other(String),
}

impl FlushVariant {
    /// Every known variant, in table order.
    pub const KNOWN: [FlushVariant; 12] = [
        FlushVariant::Series,
        FlushVariant::Deferred,
        FlushVariant::DeferredMarked,
        FlushVariant::Nop,
        FlushVariant::Cr3Noflush,
        FlushVariant::Cr3Flush,
        FlushVariant::Invpcid0,
        FlushVariant::Invpcid1,
        FlushVariant::Invpcid2,
        FlushVariant::Invpcid3,
        FlushVariant::Cr4Pge,
        FlushVariant::Invlpg,
    ];

    /// The name in ids.
    pub fn name(&self) -> &str {
        match self {
            FlushVariant::Series => "series",
            FlushVariant::Deferred => "deferred",
            FlushVariant::DeferredMarked => "deferred_marked",
            FlushVariant::Nop => "nop",
            FlushVariant::Cr3Noflush => "cr3_noflush",
            FlushVariant::Cr3Flush => "cr3_flush",
            FlushVariant::Invpcid0 => "invpcid0",
            FlushVariant::Invpcid1 => "invpcid1",
            FlushVariant::Invpcid2 => "invpcid2",
            FlushVariant::Invpcid3 => "invpcid3",
            FlushVariant::Cr4Pge => "cr4_pge",
            FlushVariant::Invlpg => "invlpg",
            FlushVariant::Other(s) => s,
        }
    }

    /// A known variant by name, else `Other`; None for an empty name.
    pub fn from_name(s: &str) -> Option<FlushVariant> {
        if s.is_empty() {
            return None;
        }
        Some(
            FlushVariant::KNOWN
                .into_iter()
                .find(|v| v.name() == s)
                .unwrap_or_else(|| FlushVariant::Other(s.to_string())),
        )
    }

    /// Table order (docs/design.md order), unknown variants last.
    pub fn rank(&self) -> usize {
        FlushVariant::KNOWN
            .iter()
            .position(|k| k == self)
            .unwrap_or(FlushVariant::KNOWN.len())
    }

    /// The variant the series itself runs (v7 29/31,
    /// 20251114151428.1064524-9-vschneid@redhat.com: "ALTERNATIVE "jmp
    /// .Lcr4_\@", "", X86_FEATURE_INVPCID" then INVPCID_TYPE_ALL_INCL_GLOBAL,
    /// else CR4.PGE toggled twice), right after the switch to the kernel
    /// CR3 on nohz_full CPUs with PTI: the one place that choice is made.
    pub fn of_series(has_invpcid: bool) -> FlushVariant {
        if has_invpcid {
            FlushVariant::Invpcid2
        } else {
            FlushVariant::Cr4Pge
        }
    }

    /// What the variant means relative to the series: "series" rows are
    /// what it does, the others are named alternatives with a different
    /// reach.
    pub fn semantics(&self) -> &'static str {
        match self {
            FlushVariant::Series => "the series' flush: INVPCID type 2 if the CPU has INVPCID, else CR4.PGE twice",
            FlushVariant::Invpcid2 | FlushVariant::Cr4Pge => {
                "the series' flush on CPUs with (invpcid2) / without (cr4_pge) INVPCID: drops every translation, global ones included"
            }
            FlushVariant::Deferred | FlushVariant::DeferredMarked => {
                "Lutomirski's proposal (not posted code): an atomic read-modify-write of the CPU's state word on every entry, the series' flush only when a remote CPU set the pending bit"
            }
            FlushVariant::Cr3Flush => {
                "alternative: a CR3 reload drops the current PCID's non-global entries only; without PTI the kernel's global entries stay; under PTI it acts on the kernel PCID only"
            }
            FlushVariant::Invpcid0 | FlushVariant::Invpcid1 => {
                "alternative: never drops global translations; under PTI it acts on the kernel PCID only (invpcid0: one address, invpcid1: the whole PCID)"
            }
            FlushVariant::Invpcid3 => "alternative: every PCID, global translations kept",
            FlushVariant::Cr3Noflush => "control: CR3 written with the no-flush bit, nothing dropped",
            FlushVariant::Invlpg => "alternative: one address, in the current PCID plus any global translation of it",
            FlushVariant::Nop => "control: the ioctl (or loop) with no flush",
            FlushVariant::Other(_) => "unknown variant",
        }
    }
}

impl fmt::Display for FlushVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What fires the flush events of a `scenario.<trigger>` experiment.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Trigger {
    /// "none": nothing fires (the baseline).
    None,
    /// "user.mprotect", "kernel.text_poke", "kmod.kernel_range", ...: the
    /// initiator of the `ipi.*` experiment of the same name.
    Ipi(Ipi),
    /// "kmod.on_entry.<variant>": every entry flushes, no IPI.
    OnEntry(FlushVariant),
    /// "kmod.deferred": the pending bit instead of an IPI, flushed at the
    /// victim's next entry (Lutomirski's proposal).
    Deferred,
}

const NONE: &str = "none";
/// "kmod.": the prefix of the module's triggers without an `ipi.*` twin.
const KMOD: &str = "kmod.";
const ON_ENTRY: &str = "kmod.on_entry.";
const DEFERRED: &str = "kmod.deferred";

impl Trigger {
    /// The backend that runs it ("user", "kernel", "kmod"): the
    /// experiment's `backend`. Nothing firing needs no backend but user
    /// space.
    pub fn backend(&self) -> &'static str {
        match self {
            Trigger::None => "user",
            Trigger::Ipi(i) => i.backend(),
            Trigger::OnEntry(_) | Trigger::Deferred => "kmod",
        }
    }

    /// The trigger's name within its backend ("mprotect",
    /// "on_entry.series", "deferred"; "none").
    pub fn method(&self) -> String {
        match self {
            Trigger::None => NONE.into(),
            Trigger::Ipi(i) => i.method().into(),
            Trigger::OnEntry(v) => format!("{}{v}", &ON_ENTRY[KMOD.len()..]),
            Trigger::Deferred => DEFERRED[KMOD.len()..].into(),
        }
    }

    /// How many ranks `rank` gives (0 to RANKS - 1): RANKS sorts after
    /// every kind.
    pub const RANKS: usize = 4;

    /// Table order of the kinds: nothing firing, then as the suite runs
    /// them: user space's, the kernel's, the module's.
    pub fn rank(&self) -> usize {
        match self {
            Trigger::None => 0,
            Trigger::Ipi(Ipi::User(_)) => 1,
            Trigger::Ipi(Ipi::Kernel(_)) => 2,
            Trigger::Ipi(Ipi::Kmod(_)) | Trigger::OnEntry(_) | Trigger::Deferred => 3,
        }
    }

    /// The IPI it sends (None: nothing fires, or no IPI).
    pub fn ipi(&self) -> Option<Ipi> {
        match self {
            Trigger::Ipi(i) => Some(*i),
            _ => None,
        }
    }

    pub fn from_name(s: &str) -> Option<Trigger> {
        if s == NONE {
            return Some(Trigger::None);
        }
        if s == DEFERRED {
            return Some(Trigger::Deferred);
        }
        if let Some(v) = s.strip_prefix(ON_ENTRY) {
            return FlushVariant::from_name(v).map(Trigger::OnEntry);
        }
        Ipi::from_name(s).map(Trigger::Ipi)
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::None => f.write_str(NONE),
            Trigger::Ipi(i) => i.fmt(f),
            Trigger::OnEntry(v) => write!(f, "{ON_ENTRY}{v}"),
            Trigger::Deferred => f.write_str(DEFERRED),
        }
    }
}
