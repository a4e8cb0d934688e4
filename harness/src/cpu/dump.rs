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
    /// lacks: the maximum of each range (leaf 0's EAX, leaf 0x80000000's
    /// EAX), and at or below it every leaf the flush verdict reads. A dump
    /// cut off before them would otherwise decode to "no INVPCID, no
    /// RDTSCP". Other leaves may be absent: the dump tools leave out
    /// leaves that read as zeros (leaves 4 and 0xB on older AMD, 0x1B on
    /// Meteor Lake), so their absence proves nothing.
    pub fn check_complete(&self) -> Result<()> {
        const EXT: u32 = 0x8000_0000;
        let missing = |leaf: u32, range_max: u32| -> Result<()> {
            if self.leaves.contains_key(&(leaf, 0)) {
                return Ok(());
            }
            bail!(
                "leaf {leaf:#010x} is missing, though the dump says leaves up to {range_max:#010x} exist: a truncated dump?"
            )
        };
        let max = self.leaves.get(&(0, 0)).map_or(0, |r| r[0]);
        for leaf in [1, 7, max].into_iter().filter(|&l| l <= max) {
            missing(leaf, max)?;
        }
        let Some(ext) = self.leaves.get(&(EXT, 0)).map(|r| r[0]) else {
            bail!("leaf 0x80000000 (the extended leaves' maximum) is missing: a truncated dump?");
        };
        for leaf in [EXT + 1, EXT + 2, EXT + 3, EXT + 4, EXT + 7, EXT + 8, ext] {
            if leaf <= ext {
                missing(leaf, ext)?;
            }
        }
        Ok(())
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
    let bytes = report::files::read_regular(path, report::files::DUMP_CAP)?;
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
mod tests {
    use super::*;

    const AIDA: &str = "------[ Versions ]------\r\n\
        CPUID Manufacturer: GenuineIntel\r\n\
        ------[ CPUID Registers / Logical CPU #0 ]------\r\n\
        CPUID 00000000: 0000000D-756E6547-6C65746E-49656E69 [GenuineIntel]\r\n\
        CPUID 00000001\t000206D6-00200800-1FBEE3BF-BFEBFBFF\r\n\
        CPUID 00000004: 3C004121-01C0003F-0000003F-00000000\r\n\
        CPUID 00000004: 3C004122-01C0003F-0000003F-00000000\r\n\
        CPUID 0000000D: 00000007-00000340-00000340-00000000 [SL 00] [x87]\r\n\
        CPUID 0000000D: 00000100-00000240-00000000-00000000 [SL 02] [AVX]\r\n\
        ------[ CPUID Registers / Logical CPU #1 ]------\r\n\
        CPUID 00000000: 0000000D-756E6547-6C65746E-49656E69\r\n\
        CPUID 00000001: 000206D6-01200800-1FBEE3BF-BFEBFBFF\r\n\
        ------[ MSR Registers / Logical CPU #0 ]------\r\n\
        MSR 0000010A: 0000-0000-0000-0001\r\n\
        MSR 00000049: < FAILED >\r\n\
        ------[ MSR Registers / Logical CPU #1 ]------\r\n\
        MSR 0000010A: 0000-0000-0000-0000\r\n\
        MSR 000000CF: 00000000-00000002\r\n";

    #[test]
    fn aida_layout_first_cpu_sub_leaves_and_msrs() {
        let d = DumpCpuid::parse(AIDA).unwrap();
        assert_eq!(
            d.cpuid(1, 0),
            Some([0x206D6, 0x200800, 0x1FBEE3BF, 0xBFEBFBFF])
        );
        // Untagged repeats are successive sub-leaves; tags are honoured.
        assert_eq!(d.cpuid(4, 1).map(|r| r[0]), Some(0x3C004122));
        assert_eq!(d.cpuid(0xD, 2).map(|r| r[0]), Some(0x100));
        assert_eq!(d.cpuid(0xD, 1), None);
        assert_eq!(d.msr(0x10A), Some(1), "CPU #0's MSR, not CPU #1's");
        assert_eq!(d.msr(0x49), None, "FAILED reads carry no value");
        assert_eq!(d.msr(0xCF), None, "CPU #1's MSRs are not ours");
        assert_eq!(d.len(), 6);
    }

    #[test]
    fn msr_value_forms() {
        let head = "CPUID 00000000: 0000000D-756E6547-6C65746E-49656E69\n\
                    CPUID 00000001: 000206D6-00200800-1FBEE3BF-BFEBFBFF\n";
        for (line, want) in [
            ("MSR 0000010A: 00000000-0000006B", Some(0x6B)),
            (
                "MSR 0000010A: 0000-0000-0C28-FDEB [comment]",
                Some(0x0C28_FDEB),
            ),
            ("MSR 0000010A\t0001-0000-0000-0000", Some(1 << 48)),
            ("MSR 0000010A: < FAILED >", None),
        ] {
            let d = DumpCpuid::parse(&format!("{head}{line}\n")).unwrap();
            assert_eq!(d.msr(0x10A), want, "{line}");
        }
        // The first value of an MSR wins (AIDA repeats some).
        let d = DumpCpuid::parse(&format!(
            "{head}MSR 000000E7: 0000-0000-0000-0001\nMSR 000000E7: 0000-0000-0000-0002\n"
        ))
        .unwrap();
        assert_eq!(d.msr(0xE7), Some(1));
    }

    #[test]
    fn headerless_blocks_split_at_repeated_leaf0() {
        let text = "CPUID 00000000: 0000001B-756E6547-6C65746E-49656E69\n\
            CPUID 00000001: 000606A6-00400800-7FFEFBFF-BFEBFBFF\n\n\
            CPUID 00000000: 0000001B-756E6547-6C65746E-49656E69\n\
            CPUID 00000001: 000606A6-02400800-7FFEFBFF-BFEBFBFF\n";
        let d = DumpCpuid::parse(text).unwrap();
        assert_eq!(d.cpuid(1, 0).map(|r| r[1]), Some(0x00400800));
        assert_eq!(d.cpuid(1, 1), None, "second CPU is not a sub-leaf");
    }

    #[test]
    fn instlatx64_cpu_hash_blocks() {
        let text = "CPU#000 AffMask: 0x0000000000000001 \n\
            CPUID 00000000: 00000016-756E6547-6C65746E-49656E69 [GenuineIntel]\n\
            CPUID 00000001: 00050654-00400800-7FFEFBFF-BFEBFBFF \n\
            CPU#001 AffMask: 0x0000000000000002 \n\
            CPUID 00000000: 00000016-756E6547-6C65746E-49656E69 [GenuineIntel]\n\
            CPUID 00000001: 00050654-01400800-7FFEFBFF-BFEBFBFF \n";
        let d = DumpCpuid::parse(text).unwrap();
        assert_eq!(d.cpuid(1, 0).map(|r| r[1]), Some(0x00400800));
    }

    #[test]
    fn cpuid_tool_layout() {
        let text = "CPU 0:\n   0x00000000 0x00: eax=0x00000016 ebx=0x756e6547 ecx=0x6c65746e edx=0x49656e69\n   \
            0x00000001 0x00: eax=0x00050656 ebx=0x00200800 ecx=0x7ffefbff edx=0xbfebfbff\n   \
            0x00000007 0x01: eax=0x00000001 ebx=0x00000000 ecx=0x00000000 edx=0x00000000\n\
            CPU 1:\n   0x00000000 0x00: eax=0x00000017 ebx=0x756e6547 ecx=0x6c65746e edx=0x49656e69\n";
        let d = DumpCpuid::parse(text).unwrap();
        assert_eq!(d.cpuid(0, 0).map(|r| r[0]), Some(0x16));
        assert_eq!(d.cpuid(7, 1), Some([1, 0, 0, 0]));
        assert_eq!(d.cpuid(1, 0).map(|r| r[3]), Some(0xbfebfbff));
    }

    #[test]
    fn errors_name_the_line() {
        let text = "CPUID 00000000: 0000000D-756E6547-6C65746E-49656E69\nhello\nCPUID 00000001: 000206D6-0020\n";
        let e = DumpCpuid::parse(text).unwrap_err().to_string();
        assert!(e.starts_with("line 3: expected 4 hex registers"), "{e}");
        assert!(e.contains("CPUID 00000001: 000206D6-0020"), "{e}");

        let tool = "CPU 0:\n   0x00000000 0x00: eax=0x00000016 ebx=0x756e\n";
        let e = DumpCpuid::parse(tool).unwrap_err().to_string();
        assert!(e.starts_with("line 2: "), "{e}");

        let msr = "CPUID 00000000: 0000000D-756E6547-6C65746E-49656E69\nMSR 0000010A: 0000-00\n";
        let e = DumpCpuid::parse(msr).unwrap_err().to_string();
        assert!(
            e.starts_with("line 2: expected a 64-bit hex MSR value"),
            "{e}"
        );
    }

    #[test]
    fn empty_or_incomplete_dumps_are_errors() {
        for (text, want) in [
            ("", "no CPUID register lines"),
            (
                "CPUID Manufacturer: GenuineIntel\n",
                "no CPUID register lines",
            ),
            (
                "CPUID 00000001: 000206D6-00200800-1FBEE3BF-BFEBFBFF\n",
                "no CPUID leaf 0",
            ),
            (
                "CPUID 00000000: 0000000D-756E6547-6C65746E-49656E69\n",
                "no CPUID leaf 1",
            ),
        ] {
            let e = DumpCpuid::parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn complete_dumps_hold_every_leaf_the_verdict_reads() {
        let leaf =
            |l: u32, eax: u32| format!("CPUID {l:08X}: {eax:08X}-00000000-00000000-00000000\n");
        let whole: String = [(0, 7), (1, 0x206D6), (7, 0)]
            .into_iter()
            .chain(
                (0x8000_0000..=0x8000_0008)
                    .map(|l| (l, if l == 0x8000_0000 { 0x8000_0008 } else { 0 })),
            )
            .map(|(l, eax)| leaf(l, eax))
            .collect();
        // Leaves 2 to 6 are absent: the tools leave out leaves that read
        // as zeros, so only those the verdict reads are required.
        DumpCpuid::parse(&whole).unwrap().check_complete().unwrap();
        for (drop, want) in [
            ("CPUID 00000007", "leaf 0x00000007 is missing"),
            ("CPUID 80000000", "leaf 0x80000000 (the extended"),
            ("CPUID 80000008", "leaf 0x80000008 is missing"),
            ("CPUID 80000002", "leaf 0x80000002 is missing"),
        ] {
            let cut: String = whole
                .lines()
                .filter(|l| !l.starts_with(drop))
                .map(|l| format!("{l}\n"))
                .collect();
            let e = DumpCpuid::parse(&cut)
                .unwrap()
                .check_complete()
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{drop}: {e}");
        }
    }

    #[test]
    fn summary_lines_are_not_headers_or_registers() {
        assert_eq!(
            parse_line("CPU   0: APICID    0 / Package 0"),
            Ok(Line::Other)
        );
        assert_eq!(parse_line("CPU Type          : HexaCore"), Ok(Line::Other));
        assert_eq!(parse_line("CPUID Revision    : 000206D6h"), Ok(Line::Other));
        assert_eq!(parse_line("CPU 3:"), Ok(Line::Header(Some(3))));
        assert_eq!(
            parse_line("------[ All CPUs ]------"),
            Ok(Line::Header(None))
        );
    }
}
