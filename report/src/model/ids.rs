//! What an experiment id means. Ids are stable (docs/design.md): every
//! producer builds its id as an [`ExperimentId`] and every table, plot and
//! sizing rule finds its figures through one, so the naming rules (the
//! spelling, the parse and the one-line description) live in this module
//! alone. The JSON keeps the id as the string it always was.
//!
//! Flush-on-entry with a working-set walk: the id is
//! `entry.flush.<variant>.w<N>` (N pages walked after the flush), the id
//! without the suffix is the bare flush. A file that only carries the
//! walk in `params.pages` is read the same way ([`kind`]), so both
//! spellings work.
//!
//! Two timings of the emulated flush-on-entry ([`EntryTiming`]):
//! `entry.flush.<variant>[.wN]` times the flushing ioctl itself (the flush
//! at ioctl dispatch, on an entry path that ran warm);
//! `entry.flush.<variant>.next_entry[.wN]` times the flushing ioctl, the
//! next system call (getppid) and the walk together, so every refill the
//! flush causes up to and through a real entry is counted. The series row
//! and the sizing use the next-entry figure where a file has it.

mod describe;
mod parts;
#[cfg(test)]
mod tests;

pub use parts::{
    Contention, EntryCall, EntryTiming, FlushVariant, Ipi, KernelIpi, KmodIpi, Trigger, UserIpi,
    VdsoCall,
};

use crate::model::schema::Experiment;
use std::fmt;
use std::str::FromStr;

/// One experiment id (docs/design.md). `Display` gives the id as written
/// in files, `FromStr` reads any string back (never fails: an id this
/// build does not know is `Unknown`, shown as read), and the two round-trip
/// exactly: ids that could be spelled two ways (`refill.w064`) are
/// `Unknown`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ExperimentId {
    /// `timer.overhead`
    TimerOverhead,
    /// `entry.null`, `entry.getppid.inline`, `entry.return_after_sysret`, ...
    Entry(EntryCall),
    /// `vdso.clock_gettime`: control with no kernel entry.
    Vdso(VdsoCall),
    /// `refill.wN`: N pages walked.
    Refill(u64),
    /// `ipi.<backend>.<method>`
    Ipi(Ipi),
    /// `flush.kernel.<variant>`
    FlushKernel(FlushVariant),
    /// `entry.flush.<variant>[.next_entry][.wN]` (pages 0: no walk)
    EntryFlush {
        variant: FlushVariant,
        pages: u64,
        timing: EntryTiming,
    },
    /// `deferred.check.<contention>`: the userspace check of Andy
    /// Lutomirski's proposal (review text, not posted code:
    /// beb46a02-b902-438b-8b6d-b5f0d7ad0ae6@app.fastmail.com): the
    /// per-entry atomic exchange of the CPU's own state word, alone and
    /// with a remote CPU setting a "flush pending" bit at a set rate.
    /// `summary.median` is TSC cycles per check. The posted series has no
    /// such atomic (v5-v7 ride on the context-tracking update entry
    /// already does).
    DeferredCheck(Contention),
    /// `scenario.<trigger>`
    Scenario(Trigger),
    /// `initiator.user.<method>` (criterion import): the initiator's call
    /// alone, which no `ipi.*` figure is.
    Initiator(UserIpi),
    /// `criterion.<bench>` (criterion import): a bench no rule maps; the
    /// bench id with '/' read as '.'.
    Criterion(String),
    /// Any other id, kept as read (a file from another version).
    Unknown(String),
}

const TIMER_OVERHEAD: &str = "timer.overhead";
const ENTRY_FLUSH: &str = "entry.flush.";
const ENTRY: &str = "entry.";
const VDSO: &str = "vdso.";
const REFILL: &str = "refill.w";
const IPI: &str = "ipi.";
const FLUSH_KERNEL: &str = "flush.kernel.";
const DEFERRED_CHECK: &str = "deferred.check.";
const SCENARIO: &str = "scenario.";
const INITIATOR: &str = "initiator.user.";
const CRITERION: &str = "criterion.";
const PAGES: &str = ".w";

impl ExperimentId {
    /// `entry.flush.<variant>[.next_entry][.wN]`
    pub fn entry_flush(variant: FlushVariant, pages: u64, timing: EntryTiming) -> ExperimentId {
        ExperimentId::EntryFlush {
            variant,
            pages,
            timing,
        }
    }

    /// The ids whose delta stands for what flush-on-entry of `variant`
    /// costs per entry (no walk), best first: the next-entry timing, which
    /// counts the refills of a real entry, then the dispatch timing (older
    /// files).
    pub fn entry_flush_cost(variant: &FlushVariant) -> [ExperimentId; 2] {
        [EntryTiming::NextEntry, EntryTiming::Dispatch]
            .map(|t| ExperimentId::entry_flush(variant.clone(), 0, t))
    }

    /// The criterion bench `bench` ("refill/x/3") no rule maps.
    pub fn criterion(bench: &str) -> ExperimentId {
        ExperimentId::Criterion(bench.replace('/', "."))
    }

    /// The IPI of an `ipi.*` id.
    pub fn ipi(&self) -> Option<Ipi> {
        match self {
            ExperimentId::Ipi(i) => Some(*i),
            _ => None,
        }
    }

    /// The trigger of a `scenario.*` id.
    pub fn trigger(&self) -> Option<&Trigger> {
        match self {
            ExperimentId::Scenario(t) => Some(t),
            _ => None,
        }
    }

    /// Whether the id is one this build produces or reads (not
    /// `Unknown`).
    pub fn is_known(&self) -> bool {
        !matches!(self, ExperimentId::Unknown(_))
    }

    /// Parses an id this build knows; None for any other string.
    fn parse_known(s: &str) -> Option<ExperimentId> {
        use ExperimentId as Id;
        if s == TIMER_OVERHEAD {
            return Some(Id::TimerOverhead);
        }
        if let Some(rest) = s.strip_prefix(ENTRY_FLUSH) {
            let (variant, pages) = split_pages(rest);
            let (variant, timing) = match variant.strip_suffix(EntryTiming::NextEntry.suffix()) {
                Some(v) => (v, EntryTiming::NextEntry),
                None => (variant, EntryTiming::Dispatch),
            };
            let variant = FlushVariant::from_name(variant)?;
            return Some(Id::entry_flush(variant, pages, timing));
        }
        if let Some(rest) = s.strip_prefix(ENTRY) {
            return EntryCall::from_name(rest).map(Id::Entry);
        }
        if let Some(rest) = s.strip_prefix(VDSO) {
            return VdsoCall::from_name(rest).map(Id::Vdso);
        }
        if let Some(n) = s.strip_prefix(REFILL) {
            return canonical_u64(n).map(Id::Refill);
        }
        if let Some(rest) = s.strip_prefix(IPI) {
            return Ipi::from_name(rest).map(Id::Ipi);
        }
        if let Some(v) = s.strip_prefix(FLUSH_KERNEL) {
            return FlushVariant::from_name(v).map(Id::FlushKernel);
        }
        if let Some(c) = s.strip_prefix(DEFERRED_CHECK) {
            return Contention::from_name(c).map(Id::DeferredCheck);
        }
        if let Some(t) = s.strip_prefix(SCENARIO) {
            return Trigger::from_name(t).map(Id::Scenario);
        }
        if let Some(m) = s.strip_prefix(INITIATOR) {
            return UserIpi::from_name(m).map(Id::Initiator);
        }
        if let Some(b) = s.strip_prefix(CRITERION) {
            return (!b.is_empty()).then(|| Id::Criterion(b.to_string()));
        }
        None
    }
}

/// "cr3_flush.w64" -> ("cr3_flush", 64); "cr3_flush" -> ("cr3_flush", 0).
/// Only a canonical page count (no leading zero, not 0) is one, so the id
/// reads back as written.
fn split_pages(rest: &str) -> (&str, u64) {
    if let Some((v, w)) = rest.rsplit_once(PAGES) {
        if let Some(n) = canonical_u64(w).filter(|n| *n > 0) {
            return (v, n);
        }
    }
    (rest, 0)
}

/// A number written the way `Display` writes it ("0", "64"; not "064",
/// "+64").
fn canonical_u64(s: &str) -> Option<u64> {
    let n: u64 = s.parse().ok()?;
    (n.to_string() == s).then_some(n)
}

impl fmt::Display for ExperimentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ExperimentId as Id;
        match self {
            Id::TimerOverhead => f.write_str(TIMER_OVERHEAD),
            Id::Entry(c) => write!(f, "{ENTRY}{c}"),
            Id::Vdso(c) => write!(f, "{VDSO}{c}"),
            Id::Refill(n) => write!(f, "{REFILL}{n}"),
            Id::Ipi(i) => write!(f, "{IPI}{i}"),
            Id::FlushKernel(v) => write!(f, "{FLUSH_KERNEL}{v}"),
            Id::EntryFlush {
                variant,
                pages,
                timing,
            } => {
                write!(f, "{ENTRY_FLUSH}{variant}{}", timing.suffix())?;
                if *pages > 0 {
                    write!(f, "{PAGES}{pages}")?;
                }
                Ok(())
            }
            Id::DeferredCheck(c) => write!(f, "{DEFERRED_CHECK}{c}"),
            Id::Scenario(t) => write!(f, "{SCENARIO}{t}"),
            Id::Initiator(m) => write!(f, "{INITIATOR}{m}"),
            Id::Criterion(b) => write!(f, "{CRITERION}{b}"),
            Id::Unknown(s) => f.write_str(s),
        }
    }
}

impl FromStr for ExperimentId {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<ExperimentId, Self::Err> {
        Ok(ExperimentId::from(s))
    }
}

impl From<&str> for ExperimentId {
    fn from(s: &str) -> ExperimentId {
        ExperimentId::parse_known(s).unwrap_or_else(|| ExperimentId::Unknown(s.to_string()))
    }
}

/// Ids sort as their strings do, so every list sorted by id keeps the
/// order it had when ids were strings.
impl Ord for ExperimentId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.to_string().cmp(&other.to_string())
    }
}

impl PartialOrd for ExperimentId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// In files a name: written as it displays, read with `From<&str>`,
/// which takes any name (one it cannot read is kept as written).
macro_rules! serde_as_name {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$t, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Ok(<$t>::from(&*s))
            }
        }
    };
}

// In files the id is its string (schema 1-3 alike).
serde_as_name!(ExperimentId);

/// A scenario result's `trigger` field: in files its name, as written when
/// it was a string ("user.mprotect"). Like an id, a name this build cannot
/// read loads as written (`Unknown`), is shown and written back unchanged,
/// ranks after every kind `Trigger::rank` gives and is read as an IPI of
/// its name (`output::scenario::Strategy::of_trigger`). `Trigger` itself
/// has no unknown case: a `scenario.*` id whose trigger it cannot read is
/// an `ExperimentId::Unknown`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ScenarioTrigger {
    Known(Trigger),
    /// A name `Trigger::from_name` does not read, as written.
    Unknown(String),
}

impl ScenarioTrigger {
    /// The table rank of a name this build cannot read: after every kind.
    pub const UNKNOWN_RANK: usize = Trigger::RANKS;

    /// The trigger, where this build can read it.
    pub fn known(&self) -> Option<&Trigger> {
        match self {
            ScenarioTrigger::Known(t) => Some(t),
            ScenarioTrigger::Unknown(_) => None,
        }
    }

    /// Table order of the kinds (`Trigger::rank`; unknown last).
    pub fn rank(&self) -> usize {
        self.known().map_or(Self::UNKNOWN_RANK, Trigger::rank)
    }
}

impl From<Trigger> for ScenarioTrigger {
    fn from(t: Trigger) -> ScenarioTrigger {
        ScenarioTrigger::Known(t)
    }
}

impl From<&str> for ScenarioTrigger {
    fn from(s: &str) -> ScenarioTrigger {
        Trigger::from_name(s).map_or_else(|| ScenarioTrigger::Unknown(s.into()), Into::into)
    }
}

impl fmt::Display for ScenarioTrigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScenarioTrigger::Known(t) => t.fmt(f),
            ScenarioTrigger::Unknown(s) => f.write_str(s),
        }
    }
}

serde_as_name!(ScenarioTrigger);

/// The id of an experiment as the report reads it: an `entry.flush.*` id
/// without a `.wN` suffix takes its walk from `params.pages` (files that
/// carry it only there).
pub fn kind(e: &Experiment) -> ExperimentId {
    if let ExperimentId::EntryFlush {
        variant,
        pages: 0,
        timing,
    } = &e.id
    {
        if let Some(p) = e.params.get("pages").and_then(|v| v.as_u64()) {
            return ExperimentId::entry_flush(variant.clone(), p, *timing);
        }
    }
    e.id.clone()
}
