//! The kernel's rules that decide which way of keeping an isolated CPU's
//! TLB coherent runs on a CPU and kernel, in one place. Each rule is a
//! predicate returning `Runs`: whether the mechanism runs, and why, with
//! the source it was read from (lore Message-ID, commit or file). `detect`
//! (harness::verdict), `size` and `report` build their sentences from
//! these; the cost model (`size::cost`) prices what they allow.
//!
//! The texts behind the rules are quoted in `kernel_rules/sources.rs`.

mod sources;

pub use sources::src;

use crate::model::schema::{CpuFacts, Platform};

/// Why a rule decided as it did, and where that was read.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    pub text: String,
    /// Lore Message-ID, commit id or kernel file: to re-read it.
    pub source: &'static str,
}

impl Reason {
    fn new(text: impl Into<String>, source: &'static str) -> Reason {
        Reason {
            text: text.into(),
            source,
        }
    }
}

/// Whether a mechanism runs on a CPU and kernel.
#[derive(Debug, Clone, PartialEq)]
pub enum Runs {
    /// Merged code that runs on this kernel and CPU today.
    Today(Reason),
    /// Posted, not merged: runs here once the series is applied.
    IfApplied(Reason),
    /// Posted, not merged, and PTI is off: runs only with the series
    /// applied and the kernel booted with `pti=on`.
    IfPtiOn(Reason),
    /// Does not run here, whatever is applied.
    No(Reason),
    /// A design from the review, never posted as code.
    Proposal(Reason),
    /// The hardware has it; Linux does not use it.
    NotMerged(Reason),
    /// Not enough is known (PTI state, kernel release).
    Unknown(Reason),
}

impl Runs {
    pub fn reason(&self) -> &Reason {
        match self {
            Runs::Today(r)
            | Runs::IfApplied(r)
            | Runs::IfPtiOn(r)
            | Runs::No(r)
            | Runs::Proposal(r)
            | Runs::NotMerged(r)
            | Runs::Unknown(r) => r,
        }
    }

    /// The table's "runs" cell.
    pub fn short(&self) -> &'static str {
        match self {
            Runs::Today(_) => "yes",
            Runs::IfApplied(_) => "patch",
            Runs::IfPtiOn(_) => "pti=on",
            Runs::No(_) => "no",
            Runs::Proposal(_) => "idea",
            Runs::NotMerged(_) => "n/a",
            Runs::Unknown(_) => "?",
        }
    }

    /// Runs on today's kernel, nothing to apply or boot differently.
    pub fn today(&self) -> bool {
        matches!(self, Runs::Today(_))
    }

    /// Runs on this kernel as configured, once posted code is applied
    /// (no pti=on needed, not a proposal).
    pub fn as_configured(&self) -> bool {
        matches!(self, Runs::Today(_) | Runs::IfApplied(_))
    }

    /// Would run with posted code (applied, perhaps with pti=on).
    pub fn would_run(&self) -> bool {
        matches!(self, Runs::Today(_) | Runs::IfApplied(_) | Runs::IfPtiOn(_))
    }
}

/// What the rules need to know about a CPU and its kernel.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelFacts {
    pub vendor: String,
    /// Core name (`core_name`).
    pub core: String,
    /// PTI on (measured) or needed by default (a dump); None = unknown.
    pub pti: Option<bool>,
    /// Kernel release of a measured machine; None for a dump.
    pub kernel: Option<String>,
    /// The facts come from a guest.
    pub guest: bool,
    /// INVLPGB enumerated to this OS (CPUID.0x80000008:EBX[3]).
    pub invlpgb: bool,
    /// CPUID.7.0:EDX[30]: IA32_CORE_CAPABILITIES enumerated.
    pub core_capabilities: bool,
    /// IA32_CORE_CAPABILITIES bit 1 (RAR) as read from MSR 0xCF; None =
    /// not read (a dump, or no msr access).
    pub rar_msr: Option<bool>,
}

impl KernelFacts {
    /// The facts of a CPU, with its running kernel where known (`platform`
    /// None for a dump). `pti`: the measured state, else what a default
    /// kernel does on this CPU (`meltdown`).
    pub fn of(cpu: &CpuFacts, platform: Option<&Platform>, pti: Option<bool>) -> KernelFacts {
        KernelFacts {
            vendor: cpu.vendor.clone(),
            core: core_name(&cpu.uarch).to_string(),
            pti,
            kernel: platform.map(|p| p.kernel_release.clone()),
            guest: cpu.hypervisor.is_some(),
            invlpgb: cpu.features.invlpgb,
            core_capabilities: cpu.features.core_capabilities,
            rar_msr: platform.and_then(|p| p.rar),
        }
    }
}

/// The posted versions of "context_tracking,x86: Defer some IPIs until a
/// user->kernel transition" (Valentin Schneider).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    V5,
    V6,
    V7,
    RfcV8,
    V9,
}

/// What a way of deferring does on a kernel entry of a nohz_full CPU,
/// which is what the cost model prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryWork {
    /// TLB-flush IPIs are not deferred: they cost what they cost today.
    TlbIpisStay,
    /// A full TLB flush (INVPCID type 2, else CR4.PGE twice) on every
    /// entry, whether a flush was deferred or not.
    FlushEveryEntry,
    /// An atomic exchange of the CPU's state word on every entry, and the
    /// flush only on an entry after a remote CPU deferred one.
    FlushWhenPending,
    /// A catch-up sequence at entry, tied to the kPTI CR3 switch (so it
    /// needs PTI), whose contents could not be re-read: not priced.
    CatchUpNeedsPti,
}

/// One posting (or postings that do the same thing at entry).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Posting {
    pub versions: &'static [Series],
    /// Row label: "v6/v7".
    pub label: &'static str,
    pub work: EntryWork,
    /// What it does, as its text says (`sources`).
    pub what: &'static str,
    pub source: &'static str,
}

/// The postings, oldest first, as posted (see `sources` for the text).
pub const POSTINGS: [Posting; 4] = [
    Posting {
        versions: &[Series::V5],
        label: "v5",
        work: EntryWork::TlbIpisStay,
        what: sources::V5_WHAT,
        source: src::V5_COVER,
    },
    Posting {
        versions: &[Series::V6, Series::V7],
        label: "v6/v7",
        work: EntryWork::FlushEveryEntry,
        what: sources::V7_WHAT,
        source: src::V7_ENTRY_FLUSH,
    },
    Posting {
        versions: &[Series::RfcV8],
        label: "RFC v8",
        work: EntryWork::CatchUpNeedsPti,
        what: sources::V8_WHAT,
        source: src::V8_COVER,
    },
    Posting {
        versions: &[Series::V9],
        label: "v9",
        work: EntryWork::CatchUpNeedsPti,
        what: sources::V9_WHAT,
        source: src::V9,
    },
];

/// The posting that flushes on every entry (v6/v7): what `pti=on` plus
/// the series would run.
pub fn flushing_posting() -> Posting {
    POSTINGS[1]
}

/// Whether a posting runs here, as posted. v5 defers no TLB flush at all
/// (it runs, and TLB-flush IPIs stay); v6/v7 defer kernel TLB flushes only
/// with PTI on; RFC v8 and v9 tie their catch-up to the kPTI CR3 switch,
/// so they too do nothing with PTI off and run once applied with PTI on;
/// what they cost then could not be re-read (the cost model says so).
pub fn series(p: &Posting, k: &KernelFacts) -> Runs {
    match p.work {
        EntryWork::TlbIpisStay => Runs::IfApplied(Reason::new(p.what, p.source)),
        EntryWork::CatchUpNeedsPti => match k.pti {
            Some(false) => Runs::IfPtiOn(Reason::new(
                format!(
                    "PTI is off, so {} defers nothing here: {}",
                    p.label,
                    sources::V8_V9_NEED_PTI
                ),
                p.source,
            )),
            Some(true) => Runs::IfApplied(Reason::new(format!("PTI is on: {}", p.what), p.source)),
            None => Runs::Unknown(Reason::new(
                format!("PTI state unknown: {}", p.what),
                p.source,
            )),
        },
        EntryWork::FlushEveryEntry | EntryWork::FlushWhenPending => match k.pti {
            Some(true) => Runs::IfApplied(Reason::new(
                format!("PTI is on, so once applied {} would {}", p.label, p.what),
                p.source,
            )),
            Some(false) => Runs::IfPtiOn(Reason::new(
                format!(
                    "PTI is off, so {} defers no TLB-flush IPI here: {}",
                    p.label,
                    sources::V7_NEEDS_PTI
                ),
                src::PTI_OFF_SOURCES,
            )),
            None => Runs::Unknown(Reason::new(
                format!(
                    "PTI state unknown: {} defers TLB flushes only with PTI on",
                    p.label
                ),
                src::PTI_OFF_SOURCES,
            )),
        },
    }
}

/// Andy Lutomirski's proposal (review text, never posted as code).
pub fn proposal(_k: &KernelFacts) -> Runs {
    Runs::Proposal(Reason::new(sources::PROPOSAL_WHAT, src::LUTO_PROPOSAL))
}

/// INVLPGB broadcast invalidation: Linux >= 6.15 flushes with it instead
/// of TLB-flush IPIs, never while PTI is on, and for user address spaces
/// only of processes that got a broadcast ASID; text-patching (sync_core)
/// IPIs stay.
pub fn invlpgb(k: &KernelFacts) -> Runs {
    let s = src::INVLPGB_MERGED;
    if !k.invlpgb {
        return if k.guest && core_has_invlpgb(&k.vendor, &k.core) {
            Runs::No(Reason::new(
                format!(
                    "{} parts can have INVLPGB, but this guest does not see it",
                    k.core
                ),
                s,
            ))
        } else {
            Runs::No(Reason::new(
                "this CPU has no INVLPGB",
                "CPUID.0x80000008:EBX[3]",
            ))
        };
    }
    if k.pti == Some(true) {
        return Runs::No(Reason::new(sources::INVLPGB_OFF_WITH_PTI, src::INVLPGB_PTI));
    }
    let scope = sources::INVLPGB_SCOPE;
    match k
        .kernel
        .as_deref()
        .map(|r| kernel_at_least(r, INVLPGB_LINUX))
    {
        Some(false) => Runs::No(Reason::new(
            "this kernel is older than 6.15, which has no INVLPGB flushing",
            s,
        )),
        Some(true) if k.pti == Some(false) => Runs::Today(Reason::new(
            format!("Linux >= 6.15 with PTI off flushes with INVLPGB: {scope}"),
            s,
        )),
        _ => Runs::Unknown(Reason::new(
            format!("runs with Linux >= 6.15 and PTI off: {scope}"),
            s,
        )),
    }
}

/// First Linux release that flushes with INVLPGB.
pub const INVLPGB_LINUX: (u32, u32) = (6, 15);

/// Intel RAR (remote action request): enumerated per part in
/// IA32_CORE_CAPABILITIES bit 1, which exists when CPUID.7.0:EDX[30] is
/// set; not used by Linux. None for other vendors.
pub fn rar(k: &KernelFacts) -> Option<Runs> {
    if k.vendor != "GenuineIntel" {
        return None;
    }
    let s = src::RAR;
    if !k.core_capabilities {
        return Some(Runs::No(Reason::new(
            "CPUID.7.0:EDX[30] is clear: no IA32_CORE_CAPABILITIES MSR, whose bit 1 enumerates RAR",
            s,
        )));
    }
    let cpuid = "CPUID.7.0:EDX[30] enumerates IA32_CORE_CAPABILITIES (MSR 0xCF)";
    let bit = match k.rar_msr {
        Some(false) => {
            return Some(Runs::No(Reason::new(
                format!("{cpuid}, and its bit 1 (RAR) is clear"),
                s,
            )))
        }
        Some(true) => "its bit 1 (RAR) is set",
        None => "its bit 1 (RAR) was not read",
    };
    Some(Runs::NotMerged(Reason::new(
        format!("{cpuid}; {bit}; {}", sources::RAR_LINUX),
        s,
    )))
}

/// Booting a PTI-off machine with `pti=on` to run v6/v7: the series' cost
/// plus PTI's own. None where PTI is on (the series row is that case) or
/// unknown.
pub fn pti_on_option(k: &KernelFacts) -> Option<Runs> {
    (k.pti == Some(false)).then(|| {
        Runs::IfPtiOn(Reason::new(
            format!(
                "{}; PTI's own cost is priced from the KAISER cover",
                sources::PTI_ON_WHAT
            ),
            src::KAISER_COVER,
        ))
    })
}

/// In-order Atoms whose NO_SPECULATION whitelist entry returns before the
/// Meltdown check.
const NO_MELTDOWN_INTEL: &[&str] = &["Bonnell", "Saltwell"];

/// Intel cores whose parts report RDCL_NO (IA32_ARCH_CAPABILITIES, MSR
/// 0x10A, bit 0), used only when a dump enumerates the MSR but holds no
/// value to read the bit from (the kernel itself has no per-model list:
/// it reads the MSR, `src::MELTDOWN_WHITELIST`). Each entry names the
/// dump whose MSR 0x10A line shows the bit set: testdata/cpuid-dumps, or
/// the InstLatx64 collection those come from (file name given). Two
/// entries have no such dump and say what they are derived from.
const RDCL_NO_CORES: &[(&str, &str)] = &[
    (
        "Cascade Lake",
        "InstLatx64 GenuineIntel0050657_CascadeLakeW: 0x2B",
    ),
    // No Cooper Lake dump with an MSR 0x10A line was found: derived from
    // Cascade Lake, of which it is a refresh (model 0x55, stepping 10-11).
    (
        "Cooper Lake",
        "derived from Cascade Lake (same core, model 0x55)",
    ),
    // A client part; Ice Lake-SP (model 0x6A) shares its Sunny Cove core.
    ("Ice Lake", "InstLatx64 GenuineIntel00706E5_IceLakeY: 0x2B"),
    (
        "Tiger Lake",
        "InstLatx64 GenuineIntel00806C1_TigerLake_01: 0x6B",
    ),
    (
        "Rocket Lake",
        "InstLatx64 GenuineIntel00A0671_RocketLake_01: 0x23C6B",
    ),
    (
        "Alder Lake",
        "testdata GenuineIntel0090672_AlderLake_02: 0xD6B",
    ),
    (
        "Raptor Lake",
        "InstLatx64 GenuineIntel00B0671_RaptorLake_01: 0x88FD6B",
    ),
    (
        "Sapphire Rapids",
        "testdata GenuineIntel00806F8_SapphireRapids_05: 0x28FDEB",
    ),
    (
        "Emerald Rapids",
        "testdata GenuineIntel00C06F2_EmeraldRapids_01: 0xC28FDEB",
    ),
    (
        "Granite Rapids",
        "testdata GenuineIntel00A06D1_GraniteRapids_03: 0x2DA9FDEB",
    ),
    (
        "Meteor Lake",
        "testdata GenuineIntel00A06A4_MeteorLake_07: 0xD89FD6B",
    ),
    (
        "Arrow Lake",
        "InstLatx64 GenuineIntel00C0662_ArrowLake_07: 0xDF9FD6B",
    ),
    (
        "Lunar Lake",
        "InstLatx64 GenuineIntel00B06D1_LunarLake_04: 0xDF9FD6B",
    ),
    (
        "Goldmont Plus",
        "InstLatx64 GenuineIntel00706A8_GoldmontPlus: 0x6B",
    ),
    // Jasper Lake (model 0x9C) is a Tremont part.
    (
        "Tremont",
        "InstLatx64 GenuineIntel00906C0_JasperLake_01: 0xC6B",
    ),
    // Alder Lake-N (model 0xBE) is all Gracemont.
    (
        "Gracemont",
        "InstLatx64 GenuineIntel00B06E0_AlderLakeN_02: 0x180FD6B",
    ),
    // No Sierra Forest or Grand Ridge dump with an MSR 0x10A line was
    // found: derived from Meteor Lake, whose E-cores are Crestmont (its
    // dump's MSR line is the first CPU's, which may be a P-core).
    (
        "Crestmont",
        "derived from Meteor Lake, whose E-cores are Crestmont",
    ),
];

/// Where `RDCL_NO_CORES` says `core` reports RDCL_NO, if it does.
fn rdcl_no_source(core: &str) -> Option<&'static str> {
    RDCL_NO_CORES
        .iter()
        .find(|(c, _)| *c == core)
        .map(|(_, src)| *src)
}

/// "Sapphire Rapids-class (model masked by hypervisor)" -> "Sapphire
/// Rapids": the core name the rules and priors are keyed by.
pub fn core_name(uarch: &str) -> &str {
    let end = uarch
        .find("-class")
        .or_else(|| uarch.find(" ("))
        .unwrap_or(uarch.len());
    &uarch[..end]
}

/// The kernel's Meltdown decision for a CPU known from CPUID (and the
/// MSR value when a dump has one), with the reason in words: whitelisted
/// NO_MELTDOWN (AMD, Hygon) or NO_SPECULATION (Centaur family 5, the
/// in-order Atoms) is not affected; everyone else is, unless
/// IA32_ARCH_CAPABILITIES reports RDCL_NO (`src::MELTDOWN_WHITELIST`).
#[derive(Debug, Clone, PartialEq)]
pub struct Meltdown {
    pub affected: bool,
    pub why: String,
}

pub fn meltdown(cpu: &CpuFacts) -> Meltdown {
    let f = &cpu.features;
    let core = core_name(&cpu.uarch);
    let (affected, why) = match cpu.vendor.as_str() {
        "AuthenticAMD" | "HygonGenuine" => (false, sources::MELTDOWN_AMD.to_string()),
        "CentaurHauls" if cpu.family == 5 => (false, sources::MELTDOWN_CENTAUR_5.to_string()),
        // Centaur/Zhaoxin family 7 (and any other family) have no
        // NO_MELTDOWN: affected unless RDCL_NO.
        "CentaurHauls" | "  Shanghai  " => match f.rdcl_no {
            Some(true) => (false, "IA32_ARCH_CAPABILITIES reports RDCL_NO".to_string()),
            _ => (
                true,
                format!(
                    "{}, and {}",
                    sources::MELTDOWN_CENTAUR_7,
                    if f.rdcl_no == Some(false) {
                        "IA32_ARCH_CAPABILITIES lacks RDCL_NO"
                    } else {
                        "no RDCL_NO is known"
                    }
                ),
            ),
        },
        "GenuineIntel" if cpu.family == 5 => (
            false,
            "Intel family 5 is NO_SPECULATION on the kernel's cpu_vuln_whitelist".to_string(),
        ),
        "GenuineIntel" if NO_MELTDOWN_INTEL.contains(&core) => (
            false,
            format!(
                "{core} is an in-order Atom, NO_SPECULATION on the kernel's cpu_vuln_whitelist"
            ),
        ),
        "GenuineIntel" => match f.rdcl_no {
            Some(true) => (false, "IA32_ARCH_CAPABILITIES reports RDCL_NO".to_string()),
            Some(false) => (true, "IA32_ARCH_CAPABILITIES lacks RDCL_NO".to_string()),
            None if !f.arch_capabilities => (
                true,
                "no Intel family 6 core is NO_MELTDOWN on the kernel's cpu_vuln_whitelist, \
                 and this one has no IA32_ARCH_CAPABILITIES MSR to report RDCL_NO"
                    .to_string(),
            ),
            None => match rdcl_no_source(core) {
                Some(seen) => (
                    false,
                    format!(
                        "{core} parts report RDCL_NO ({seen}; this dump has no MSR 0x10A value to confirm it)"
                    ),
                ),
                None => (
                    true,
                    format!(
                        "no Intel family 6 core is NO_MELTDOWN on the kernel's \
                         cpu_vuln_whitelist, and {} cores do not report RDCL_NO",
                        if core == "unknown" { "unlisted" } else { core }
                    ),
                ),
            },
        },
        other => (
            true,
            format!("vendor {other} is not NO_MELTDOWN on the kernel's cpu_vuln_whitelist"),
        ),
    };
    Meltdown { affected, why }
}

/// sysfs `vulnerabilities/meltdown` text -> affected?
pub fn meltdown_from_sysfs(text: &str) -> Option<bool> {
    if text.starts_with("Not affected") {
        Some(false)
    } else if text.starts_with("Mitigation") || text.starts_with("Vulnerable") {
        Some(true)
    } else {
        None
    }
}

/// Kernel release "6.18.44-fc" >= (major, minor)?
pub fn kernel_at_least(release: &str, want: (u32, u32)) -> bool {
    let mut nums = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let major = nums.next().unwrap_or(0);
    let minor = nums.next().unwrap_or(0);
    (major, minor) >= want
}

/// AMD cores of which parts enumerate INVLPGB (Zen 3 and later; not
/// every part: the Raphael dump in testdata, a Zen 4, lacks it): in a
/// guest that does not see it, the host may have it.
pub fn core_has_invlpgb(vendor: &str, core: &str) -> bool {
    vendor == "AuthenticAMD" && matches!(core, "Zen 3" | "Zen 4" | "Zen 5" | "Zen 6")
}

/// One sentence per rule, "<what>: <reason> (<source>)": what detect and
/// the sizing notes print.
pub fn sentence(what: &str, r: &Runs) -> String {
    let reason = r.reason();
    let state = match r {
        Runs::Today(_) => "runs",
        Runs::IfApplied(_) => "would run with the series applied",
        Runs::IfPtiOn(_) => "would run only with pti=on and the series applied",
        Runs::No(_) => "does not run",
        Runs::Proposal(_) => "a proposal, not posted code",
        Runs::NotMerged(_) => "not used by Linux",
        Runs::Unknown(_) => "not known here",
    };
    format!("{what}: {state}: {} ({}).", reason.text, reason.source)
}

/// The series, every posting, one sentence each, for detect and size.
pub fn series_sentences(k: &KernelFacts) -> Vec<String> {
    POSTINGS
        .iter()
        .map(|p| sentence(&format!("Series {}", p.label), &series(p, k)))
        .collect()
}

#[cfg(test)]
mod tests;
