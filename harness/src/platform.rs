//! The running kernel's view: /proc, /sys, perf and the msr driver.
//!
//! Files every Linux has (/proc/cmdline, the online CPU list,
//! /proc/interrupts) are errors when unreadable; optional ones (isolated,
//! nohz_full, vulnerabilities, /dev/cpu/N/msr, a PMU) read as "none" or
//! "unknown", because most machines we run on lack some of them.

use crate::cpu::{CpuidSource, LiveCpuid};
use crate::schema::Platform;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::Path;

const CPU_SYSFS: &str = "/sys/devices/system/cpu";
const VULN_DIR: &str = "/sys/devices/system/cpu/vulnerabilities";
const PROC_INTERRUPTS: &str = "/proc/interrupts";
const KMOD_DEVICE: &str = "/dev/entrybench";
/// IA32_CORE_CAPABILITIES; bit 1 = RAR (remote action request).
const MSR_CORE_CAPABILITIES: u32 = 0xCF;
/// CPU lists larger than this are nonsense (kernel NR_CPUS max is 8192).
const MAX_CPUS: u32 = 1 << 16;

/// Everything `Platform` holds, read now.
pub fn read_platform() -> Result<Platform> {
    let kernel_release = read_trimmed("/proc/sys/kernel/osrelease")?;
    let kernel_cmdline = read_trimmed("/proc/cmdline")?;
    let mitigations = read_vulnerabilities();
    let (meltdown, pti) = match mitigations.get("meltdown") {
        Some(text) => (text.clone(), text.contains("Mitigation: PTI")),
        // Kernels before 4.15 have no vulnerabilities directory; the "pti"
        // cpuinfo flag still says whether PTI runs.
        None => {
            let pti = cpuinfo_has_flag("pti");
            let text = if pti {
                "unknown (no sysfs file; cpuinfo flag pti set)"
            } else {
                "unknown (no sysfs file)"
            };
            (text.to_string(), pti)
        }
    };
    let online_cpus = online_cpus()?;
    let (perf_cycles, user_rdpmc) = perf::probe_cycles();
    let first_cpu = online_cpus.first().copied().unwrap_or(0);
    Ok(Platform {
        kernel_release,
        kernel_cmdline,
        meltdown,
        pti,
        mitigations,
        isolated_cpus: isolated_cpus()?,
        nohz_full_cpus: nohz_full_cpus()?,
        perf_cycles,
        user_rdpmc,
        rar: read_rar(first_cpu),
        interrupts: read_interrupts()?,
        kmod_device: Path::new(KMOD_DEVICE).exists(),
        online_cpus,
    })
}

/// /sys/devices/system/cpu/online.
pub fn online_cpus() -> Result<Vec<u32>> {
    let path = format!("{CPU_SYSFS}/online");
    parse_cpulist(&read_trimmed(&path)?).with_context(|| path.clone())
}

/// isolcpus= CPUs (/sys/devices/system/cpu/isolated); none when absent.
pub fn isolated_cpus() -> Result<Vec<u32>> {
    optional_cpulist(&format!("{CPU_SYSFS}/isolated"))
}

/// nohz_full= CPUs; none when the kernel lacks NO_HZ_FULL.
pub fn nohz_full_cpus() -> Result<Vec<u32>> {
    optional_cpulist(&format!("{CPU_SYSFS}/nohz_full"))
}

fn optional_cpulist(path: &str) -> Result<Vec<u32>> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_cpulist(&text).with_context(|| path.to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("reading {path}")),
    }
}

/// The kernel's cpulist format ("0-3,5,8-9"), sorted and deduplicated.
/// Empty text and "(null)" (nohz_full without the boot option) are none.
pub fn parse_cpulist(text: &str) -> Result<Vec<u32>> {
    let text = text.trim();
    if text.is_empty() || text == "(null)" {
        return Ok(Vec::new());
    }
    let cpu = |s: &str| -> Result<u32> {
        let n: u32 = s
            .trim()
            .parse()
            .with_context(|| format!("bad CPU number `{s}` in CPU list `{text}`"))?;
        if n >= MAX_CPUS {
            bail!("CPU number {n} out of range in CPU list `{text}`");
        }
        Ok(n)
    };
    let mut out = Vec::new();
    for part in text.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (cpu(a)?, cpu(b)?);
                if a > b {
                    bail!("descending range `{part}` in CPU list `{text}`");
                }
                out.extend(a..=b);
            }
            None => out.push(cpu(part)?),
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Per-CPU counters of /proc/interrupts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Interrupts {
    /// CPU numbers of the header columns, in column order.
    pub cpus: Vec<u32>,
    /// Named rows (TLB, CAL, LOC, RES, ...) -> count per column. Numbered
    /// device IRQ rows and totals (ERR, MIS) are left out.
    pub rows: BTreeMap<String, Vec<u64>>,
}

impl Interrupts {
    /// The count of `row` on `cpu`.
    pub fn count(&self, row: &str, cpu: u32) -> Result<u64> {
        let col = self
            .cpus
            .iter()
            .position(|&c| c == cpu)
            .with_context(|| format!("CPU {cpu} is not a column of /proc/interrupts"))?;
        let counts = self
            .rows
            .get(row)
            .with_context(|| format!("/proc/interrupts has no row {row}"))?;
        counts
            .get(col)
            .copied()
            .with_context(|| format!("/proc/interrupts row {row} has no CPU {cpu} column"))
    }
}

/// Parses the text of /proc/interrupts.
pub fn parse_interrupts(text: &str) -> Result<Interrupts> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().context("/proc/interrupts is empty")?;
    let cpus = header
        .split_whitespace()
        .map(|w| {
            w.strip_prefix("CPU")
                .and_then(|n| n.parse::<u32>().ok())
                .with_context(|| format!("/proc/interrupts header: `{w}` is not CPUn"))
        })
        .collect::<Result<Vec<u32>>>()?;
    if cpus.is_empty() {
        bail!("/proc/interrupts header names no CPUs");
    }
    let mut rows = BTreeMap::new();
    for line in lines {
        let Some((label, rest)) = line.split_once(':') else {
            continue;
        };
        let label = label.trim();
        if label.is_empty() || label.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let counts: Vec<u64> = rest
            .split_whitespace()
            .take(cpus.len())
            .map_while(|w| w.parse().ok())
            .collect();
        if counts.len() == cpus.len() {
            rows.insert(label.to_string(), counts);
        }
    }
    Ok(Interrupts { cpus, rows })
}

/// Named per-CPU rows of /proc/interrupts, counts in header column order.
pub fn read_interrupts() -> Result<BTreeMap<String, Vec<u64>>> {
    Ok(read_interrupts_table()?.rows)
}

/// The whole /proc/interrupts table with its CPU columns.
pub fn read_interrupts_table() -> Result<Interrupts> {
    let text = std::fs::read_to_string(PROC_INTERRUPTS)
        .with_context(|| format!("reading {PROC_INTERRUPTS}"))?;
    parse_interrupts(&text)
}

/// One IPI row's counter now, e.g. (TLB, victim CPU) before and after a run.
pub fn interrupt_count(row: crate::schema::IrqRow, cpu: u32) -> Result<u64> {
    read_interrupts_table()?.count(row.name(), cpu)
}

/// Reads an MSR through the msr driver (root and `modprobe msr` needed).
pub fn read_msr(cpu: u32, addr: u32) -> Result<u64> {
    use std::os::unix::fs::FileExt;
    let path = format!("/dev/cpu/{cpu}/msr");
    let file = std::fs::File::open(&path).with_context(|| format!("opening {path}"))?;
    let mut buf = [0u8; 8];
    file.read_exact_at(&mut buf, u64::from(addr))
        .with_context(|| format!("reading MSR {addr:#x} from {path}"))?;
    Ok(u64::from_le_bytes(buf))
}

/// RAR from IA32_CORE_CAPABILITIES bit 1: Some(false) when CPUID does not
/// enumerate the MSR, None when it does but the MSR cannot be read.
fn read_rar(cpu: u32) -> Option<bool> {
    let core_caps = LiveCpuid.cpuid(7, 0).is_some_and(|r| r[3] & (1 << 30) != 0);
    if !core_caps {
        return Some(false);
    }
    read_msr(cpu, MSR_CORE_CAPABILITIES)
        .ok()
        .map(|v| v & (1 << 1) != 0)
}

/// Every file of the vulnerabilities directory: name -> text.
fn read_vulnerabilities() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir(VULN_DIR) else {
        return out;
    };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Ok(text) = std::fs::read_to_string(entry.path()) {
            out.insert(name, text.trim().to_string());
        }
    }
    out
}

fn cpuinfo_has_flag(flag: &str) -> bool {
    std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|text| {
        text.lines()
            .find(|l| l.starts_with("flags"))
            .and_then(|l| l.split_once(':'))
            .is_some_and(|(_, flags)| flags.split_whitespace().any(|f| f == flag))
    })
}

fn read_trimmed(path: &str) -> Result<String> {
    Ok(std::fs::read_to_string(path)
        .with_context(|| format!("reading {path}"))?
        .trim()
        .to_string())
}

/// Whether the PMU's cycle counter works, and from user space via rdpmc:
/// the same event and checks the timer uses (see `crate::perf`).
mod perf {
    /// (cycles counter opens, user rdpmc allowed). Any failure is "no":
    /// VMs without a virtual PMU, perf_event_paranoid, seccomp.
    pub fn probe_cycles() -> (bool, bool) {
        let cycles = crate::perf::open_cycles().is_ok();
        (cycles, cycles && crate::timer::Pmc::open().is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpulists() {
        assert_eq!(parse_cpulist("0-3,5\n").unwrap(), [0, 1, 2, 3, 5]);
        assert_eq!(parse_cpulist("7").unwrap(), [7]);
        assert_eq!(parse_cpulist("8-9,2,2").unwrap(), [2, 8, 9]);
        assert!(parse_cpulist("\n").unwrap().is_empty());
        assert!(parse_cpulist("(null)\n").unwrap().is_empty());
        for bad in ["3-1", "a", "1,,2", "0-99999999", "1-"] {
            assert!(parse_cpulist(bad).is_err(), "{bad}");
        }
    }

    const INTERRUPTS: &str = "           CPU0       CPU2       \n \
         24:          1          0  IO-APIC   5-edge      ACPI:Ged\n\
        NMI:          0          0   Non-maskable interrupts\n\
        LOC:      37672      31406   Local timer interrupts\n\
        RES:      10662       7340   Rescheduling interrupts\n\
        CAL:      47265      32335   Function call interrupts\n\
        TLB:       4490       3589   TLB shootdowns\n\
        ERR:          0\n\
        MIS:          0\n";

    #[test]
    fn interrupts_rows_by_cpu_column() {
        let t = parse_interrupts(INTERRUPTS).unwrap();
        assert_eq!(t.cpus, [0, 2]);
        assert_eq!(t.rows["TLB"], [4490, 3589]);
        assert_eq!(t.rows["CAL"], [47265, 32335]);
        assert_eq!(t.count("LOC", 2).unwrap(), 31406);
        assert!(!t.rows.contains_key("24"), "device IRQs are left out");
        assert!(!t.rows.contains_key("ERR"), "totals are not per-CPU");
        assert!(t.count("TLB", 1).is_err(), "CPU 1 is offline here");
        assert!(t.count("XYZ", 0).is_err());
        assert!(parse_interrupts("").is_err());
        assert!(parse_interrupts("  foo bar\n").is_err());
    }
}
