//! CPUID dumps of other machines, in the two layouts people send:
//!
//! - AIDA64 / InstLatx64: `CPUID 00000001: 00050656-00200800-7FFEFBFF-BFEBFBFF`
//!   (colon or tab after the leaf, optional `[SL 01]` sub-leaf tag and other
//!   bracketed comments), `MSR 0000010A: 0000-0000-0000-0001` lines, one
//!   block per logical CPU (`------[ Logical CPU #0 ]------`, `CPU#000`, or
//!   just a repeated leaf 0), headers and trailers of any kind.
//! - `cpuid -r`: `CPU 0:` then
//!   `   0x00000000 0x00: eax=0x00000016 ebx=0x756e6547 ecx=0x6c65746e edx=0x49656e69`.
//!
//! Only the first logical CPU's CPUID values are kept (all CPUs of a dump
//! are the same model). Lines that look like register lines but do not
//! parse are errors naming the line: a silently half-read dump would
//! decode to wrong facts.

use super::source::CpuidSource;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;

/// A parsed dump: the first logical CPU's CPUID leaves and the MSRs the
/// dump recorded for it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DumpCpuid {
    leaves: BTreeMap<(u32, u32), [u32; 4]>,
    msrs: BTreeMap<u32, u64>,
}

/// Which part of the file a line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    /// Before any header, or a section that names no CPU.
    Section(u32),
    /// A block that names its logical CPU.
    Cpu(u32),
    /// A headerless block, started by a repeated leaf 0.
    Implicit(u32),
}

/// How long a quoted line may be in an error message.
const QUOTE_MAX: usize = 60;

/// A leaf at or below its range's maximum that a complete dump may lack.
struct Omitted {
    vendors: &'static [&'static str],
    leaf: u32,
    /// The CPU is one on which the leaf has nothing to print.
    absent_when: fn(&DumpCpuid) -> bool,
}

const AMD: &[&str] = &["AuthenticAMD", "HygonGenuine"];

/// The one list of leaves a complete dump may lack. The InstLatx64 tool
/// (and AIDA64) print every leaf up to each maximum, all-zero ones too
/// (leaves 3, 8, 9, 0xC and 0xE in the Intel dumps here), except leaves
/// they walk sub-leaf by sub-leaf until one whose type field reads zero:
/// where sub-leaf 0 already reads zero, no line is printed. Found by
/// checking every dump in testdata/cpuid-dumps, cpuid-masked and cpuid-r;
/// any other missing leaf means the dump was cut.
const OMITTED: &[Omitted] = &[
    // Leaf 4, deterministic cache parameters: an Intel leaf AMD reserves
    // (AMD describes its caches in 0x8000001D), so sub-leaf 0 reads zero.
    // Every AMD dump here and the Hygon one lack it.
    Omitted {
        vendors: AMD,
        leaf: 4,
        absent_when: |_| true,
    },
    // Leaf 0xB, extended topology: reserved on AMD before Zen 2 and on
    // Hygon (a Zen 1 design): the Interlagos, Zen 1 and Hygon dumps lack
    // it; Rome (Zen 2) and later print it.
    Omitted {
        vendors: AMD,
        leaf: 0xB,
        absent_when: |d| {
            let (family, model) = d.family_model();
            family < 0x17 || (family == 0x17 && model < 0x30) || d.vendor() == "HygonGenuine"
        },
    },
    // Leaf 0x1B, PCONFIG information: walked until an invalid sub-leaf,
    // and all zero without PCONFIG (CPUID.7.0:EDX[18] clear), as on the
    // Meteor Lake dump; parts with PCONFIG (Ice Lake-SP on) print it.
    Omitted {
        vendors: &["GenuineIntel"],
        leaf: 0x1B,
        absent_when: |d| d.cpuid(7, 0).is_none_or(|r| r[3] & (1 << 18) == 0),
    },
];

impl DumpCpuid {
    /// Parses either layout; see the module comment.
    pub fn parse(text: &str) -> Result<DumpCpuid> {
        let mut block = Block::Section(0);
        let mut sections = 0u32;
        let mut implicit = 0u32;
        // The block whose CPUID lines we keep: the first that has any.
        let mut chosen: Option<Block> = None;
        // Leaves seen in the current block, to spot a headerless new CPU.
        let mut seen_leaf0 = false;
        let mut leaves: BTreeMap<(u32, u32), [u32; 4]> = BTreeMap::new();
        // Untagged repeats of a leaf are its successive sub-leaves.
        let mut untagged: BTreeMap<u32, u32> = BTreeMap::new();
        let mut msrs: Vec<(Block, u32, u64)> = Vec::new();

        for (idx, raw_line) in text.lines().enumerate() {
            let lineno = idx + 1;
            let line = raw_line.trim_end_matches(['\r', '\n']).trim();
            let parsed = match parse_line(line) {
                Ok(p) => p,
                Err(msg) => bail!("line {lineno}: {msg}: `{}`", quote(line)),
            };
            match parsed {
                Line::Other => {}
                Line::Header(next) => {
                    block = match next {
                        Some(cpu) => Block::Cpu(cpu),
                        None => {
                            sections += 1;
                            Block::Section(sections)
                        }
                    };
                    seen_leaf0 = false;
                }
                Line::Cpuid {
                    leaf,
                    subleaf,
                    regs,
                } => {
                    if leaf == 0 && subleaf.unwrap_or(0) == 0 {
                        if seen_leaf0 {
                            implicit += 1;
                            block = Block::Implicit(implicit);
                        }
                        seen_leaf0 = true;
                    }
                    let chosen = *chosen.get_or_insert(block);
                    if block != chosen {
                        continue;
                    }
                    let next = untagged.entry(leaf).or_insert(0);
                    let subleaf = subleaf.unwrap_or(*next);
                    *next += 1;
                    // A repeated (leaf, sub-leaf) keeps its first value.
                    leaves.entry((leaf, subleaf)).or_insert(regs);
                }
                Line::Msr { addr, value } => {
                    if let Some(value) = value {
                        msrs.push((block, addr, value));
                    }
                }
            }
        }

        if leaves.is_empty() {
            bail!(
                "no CPUID register lines found (expected an AIDA64/InstLatx64 or `cpuid -r` dump)"
            );
        }
        if !leaves.contains_key(&(0, 0)) {
            bail!("the dump has no CPUID leaf 0 (vendor and maximum leaf)");
        }
        if !leaves.contains_key(&(1, 0)) {
            bail!("the dump has no CPUID leaf 1 (family/model/stepping): truncated?");
        }
        // MSRs of the chosen CPU, or of sections that name no CPU (AIDA's
        // plain "MSR Registers" section is the CPU it ran on).
        let mut msr_map = BTreeMap::new();
        for (b, addr, value) in msrs {
            let ours = b == chosen.unwrap_or(b) || matches!(b, Block::Section(_));
            if ours {
                msr_map.entry(addr).or_insert(value);
            }
        }
        Ok(DumpCpuid {
            leaves,
            msrs: msr_map,
        })
    }

    /// Err naming the first leaf a complete dump would hold and this one
    /// lacks: every leaf from 0 to the basic maximum (leaf 0's EAX) and
    /// from 0x80000000 to the extended maximum (leaf 0x80000000's EAX),
    /// except the few in `OMITTED`, which the dump tools print no line for
    /// when the CPU has nothing there. A dump cut off part-way would
    /// otherwise decode to wrong facts ("no INVPCID, no RDTSCP").
    pub fn check_complete(&self) -> Result<()> {
        const EXT: u32 = 0x8000_0000;
        let range = |first: u32, max: u32| -> Result<()> {
            // A maximum below the range's first leaf names no leaf in it.
            for leaf in first..=max.max(first) {
                if !self.leaves.contains_key(&(leaf, 0)) && !self.may_lack(leaf) {
                    bail!(
                        "leaf {leaf:#010x} is missing, though the dump says leaves up to {max:#010x} exist: a truncated dump?"
                    )
                }
            }
            Ok(())
        };
        range(0, self.leaves.get(&(0, 0)).map_or(0, |r| r[0]))?;
        let Some(ext) = self.leaves.get(&(EXT, 0)).map(|r| r[0]) else {
            bail!("leaf 0x80000000 (the extended leaves' maximum) is missing: a truncated dump?");
        };
        range(EXT, ext)
    }

    /// `leaf` is one a complete dump of this CPU may lack (`OMITTED`).
    fn may_lack(&self, leaf: u32) -> bool {
        let vendor = self.vendor();
        OMITTED.iter().any(|o| {
            o.leaf == leaf && o.vendors.contains(&vendor.as_str()) && (o.absent_when)(self)
        })
    }

    /// The vendor string of leaf 0 (EBX, EDX, ECX).
    fn vendor(&self) -> String {
        let r = self.leaves.get(&(0, 0)).copied().unwrap_or_default();
        [r[1], r[3], r[2]]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .map(char::from)
            .collect()
    }

    /// Display family and model from leaf 1 (0 when absent).
    fn family_model(&self) -> (u32, u32) {
        let eax = self.leaves.get(&(1, 0)).map_or(0, |r| r[0]);
        let (family, model, _) = super::display_family_model(&self.vendor(), eax);
        (family, model)
    }

    /// An MSR value recorded in the dump for the first CPU.
    pub fn msr(&self, addr: u32) -> Option<u64> {
        self.msrs.get(&addr).copied()
    }

    /// Number of (leaf, sub-leaf) entries kept.
    pub fn len(&self) -> usize {
        self.leaves.len()
    }

    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }
}

impl CpuidSource for DumpCpuid {
    fn cpuid(&self, leaf: u32, subleaf: u32) -> Option<[u32; 4]> {
        self.leaves.get(&(leaf, subleaf)).copied()
    }

    fn msr(&self, addr: u32) -> Option<u64> {
        DumpCpuid::msr(self, addr)
    }
}

/// Reads a dump file and decodes it; `CpuFacts::source` is the file name.
/// Every error names the file once (callers add no context of their own).
pub fn read_dump(path: impl AsRef<std::path::Path>) -> Result<crate::schema::CpuFacts> {
    let path = path.as_ref();
    let bytes = report::model::files::read_regular(path, report::model::files::DUMP_CAP)?;
    // Dumps come from Windows tools: tolerate stray non-UTF-8 bytes in
    // headers instead of refusing the whole file.
    let text = String::from_utf8_lossy(&bytes);
    let dump = DumpCpuid::parse(&text)
        .and_then(|d| d.check_complete().map(|()| d))
        .with_context(|| format!("cannot decode CPUID dump {}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    Ok(super::decode(&dump, &name))
}

#[derive(Debug, PartialEq)]
enum Line {
    /// Anything that is not a register line or a block header.
    Other,
    /// Start of a block; Some(n) when it names logical CPU n.
    Header(Option<u32>),
    Cpuid {
        leaf: u32,
        /// None when the line has no sub-leaf tag.
        subleaf: Option<u32>,
        regs: [u32; 4],
    },
    /// None when the dump could not read it (`< FAILED >`).
    Msr { addr: u32, value: Option<u64> },
}

fn parse_line(line: &str) -> Result<Line, String> {
    if let Some(rest) = line.strip_prefix("CPUID") {
        return parse_aida_cpuid(rest);
    }
    if let Some(rest) = line.strip_prefix("MSR") {
        return parse_aida_msr(rest);
    }
    if line.starts_with("------[") {
        return Ok(Line::Header(logical_cpu_number(line)));
    }
    if let Some(rest) = line.strip_prefix("CPU#") {
        // InstLatx64's own tool: `CPU#000 AffMask: 0x...`
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(n) = digits.parse() {
            return Ok(Line::Header(Some(n)));
        }
        return Ok(Line::Other);
    }
    if let Some(n) = cpuid_tool_header(line) {
        return Ok(Line::Header(Some(n)));
    }
    if line.starts_with("0x") {
        return parse_cpuid_tool(line);
    }
    Ok(Line::Other)
}

/// `------[ CPUID Registers / Logical CPU #3 ]------` -> Some(3).
fn logical_cpu_number(line: &str) -> Option<u32> {
    let (_, rest) = line.split_once("Logical CPU #")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// `cpuid -r` block header: `CPU 0:` (nothing after the colon; AIDA's
/// `CPU   0: APICID ...` summary lines are not headers). `cpuid -1 -r`
/// prints a bare `CPU:`.
fn cpuid_tool_header(line: &str) -> Option<u32> {
    let inner = line.strip_prefix("CPU")?.strip_suffix(':')?.trim();
    if inner.is_empty() {
        return Some(0);
    }
    inner.parse().ok()
}

/// The part after `CPUID`: ` 00000001: 00050656-00200800-7FFEFBFF-BFEBFBFF [SL 00]`.
fn parse_aida_cpuid(rest: &str) -> Result<Line, String> {
    let Some((leaf, regs_part)) = split_address(rest) else {
        // "CPUID Manufacturer: ..." and other AIDA summary lines.
        return Ok(Line::Other);
    };
    let (values, comments) = split_comments(regs_part);
    let regs: Vec<&str> = values
        .split(|c: char| c == '-' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .collect();
    let parsed: Option<Vec<u32>> = regs.iter().map(|r| hex_exact(r, 8)).collect();
    let regs = match parsed {
        Some(v) if v.len() == 4 => [v[0], v[1], v[2], v[3]],
        _ => return Err("expected 4 hex registers".into()),
    };
    let subleaf = match sub_leaf_tag(comments) {
        Some(Ok(s)) => Some(s),
        Some(Err(())) => return Err("bad [SL nn] sub-leaf tag".into()),
        None => None,
    };
    Ok(Line::Cpuid {
        leaf,
        subleaf,
        regs,
    })
}

/// The part after `MSR`: ` 0000010A: 0000-0000-0000-0001 [comment]`.
fn parse_aida_msr(rest: &str) -> Result<Line, String> {
    let Some((addr, value_part)) = split_address(rest) else {
        return Ok(Line::Other);
    };
    let (values, _) = split_comments(value_part);
    let values = values.trim();
    if values.starts_with('<') {
        return Ok(Line::Msr { addr, value: None });
    }
    // 4 groups of 16 bits (AIDA) or 2 of 32 bits; either way 16 digits.
    let groups: Vec<&str> = values.split('-').map(str::trim).collect();
    let well_formed = matches!(groups.len(), 2 | 4)
        && groups.iter().all(|g| g.len() == 16 / groups.len())
        && groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()));
    if !well_formed {
        return Err("expected a 64-bit hex MSR value".into());
    }
    let value = u64::from_str_radix(&groups.concat(), 16)
        .map_err(|_| "expected a 64-bit hex MSR value".to_string())?;
    Ok(Line::Msr {
        addr,
        value: Some(value),
    })
}

/// ` 00000001: rest` or ` 00000001\trest` -> (0x1, "rest"); None when the
/// word after the keyword is not an 8-digit hex address.
fn split_address(rest: &str) -> Option<(u32, &str)> {
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let rest = rest.trim_start();
    let end = rest
        .find(|c: char| c == ':' || c.is_whitespace())
        .unwrap_or(rest.len());
    let addr = hex_exact(&rest[..end], 8)?;
    let after = rest[end..].trim_start();
    let after = after.strip_prefix(':').unwrap_or(after);
    Some((addr, after))
}

/// Splits `values [comment] [comment]` at the first `[`.
fn split_comments(s: &str) -> (&str, &str) {
    match s.find('[') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

/// The `[SL nn]` tag among the comments, hex.
fn sub_leaf_tag(comments: &str) -> Option<Result<u32, ()>> {
    comments.split('[').skip(1).find_map(|c| {
        let inner = c.split(']').next().unwrap_or("").trim();
        let hex = inner.strip_prefix("SL ")?;
        Some(u32::from_str_radix(hex.trim(), 16).map_err(|_| ()))
    })
}

/// `   0x00000001 0x00: eax=0x00050656 ebx=0x00200800 ecx=0x7ffefbff edx=0xbfebfbff`
fn parse_cpuid_tool(line: &str) -> Result<Line, String> {
    let bad = || "expected `0xLEAF 0xSUB: eax=0x.. ebx=0x.. ecx=0x.. edx=0x..`".to_string();
    let (addr, regs_part) = line.split_once(':').ok_or_else(bad)?;
    let mut words = addr.split_whitespace();
    let leaf = words.next().and_then(hex_prefixed).ok_or_else(bad)?;
    let subleaf = words.next().and_then(hex_prefixed).ok_or_else(bad)?;
    if words.next().is_some() {
        return Err(bad());
    }
    let mut regs = [0u32; 4];
    let mut words = regs_part.split_whitespace();
    for (slot, name) in regs.iter_mut().zip(["eax=", "ebx=", "ecx=", "edx="]) {
        let word = words.next().ok_or_else(bad)?;
        let value = word.strip_prefix(name).ok_or_else(bad)?;
        // The tool prints 8 digits; fewer means a cut-off line.
        let digits = value.strip_prefix("0x").ok_or_else(bad)?;
        *slot = hex_exact(digits, 8).ok_or_else(bad)?;
    }
    if words.next().is_some() {
        return Err(bad());
    }
    Ok(Line::Cpuid {
        leaf,
        subleaf: Some(subleaf),
        regs,
    })
}

fn hex_prefixed(s: &str) -> Option<u32> {
    let digits = s.strip_prefix("0x")?;
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    u32::from_str_radix(digits, 16).ok()
}

/// Exactly `len` hex digits.
fn hex_exact(s: &str, len: usize) -> Option<u32> {
    if s.len() != len || !s.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

fn quote(line: &str) -> String {
    if line.chars().count() <= QUOTE_MAX {
        line.to_string()
    } else {
        let cut: String = line.chars().take(QUOTE_MAX).collect();
        format!("{cut}...")
    }
}

#[cfg(test)]
mod tests;
