//! What `entrybench detect` shows: CPU facts + platform facts + verdict
//! (`Environment`), and its aligned text (at most 72 columns, like every
//! text output, for pasting into mail).

use crate::cpu;
use crate::platform;
use crate::schema::{CpuFacts, Environment, IrqRow, Platform};
use crate::verdict::verdict;
use anyhow::Result;

/// The full environment of this machine (CPU, platform, verdict).
pub fn detect_live() -> Result<Environment> {
    let cpu = cpu::live_facts();
    let platform = platform::read_platform()?;
    let verdict = verdict(&cpu, Some(&platform));
    Ok(Environment {
        cpu,
        platform: Some(platform),
        verdict,
    })
}

/// CPU facts and verdict of a dump; no platform.
pub fn dump_environment(path: &std::path::Path) -> Result<Environment> {
    let cpu = cpu::read_dump(path)?;
    let verdict = verdict(&cpu, None);
    Ok(Environment {
        cpu,
        platform: None,
        verdict,
    })
}

/// Total width of the text output: the project's one text width, so a
/// verdict pasted into a mail next to a report or size table fits the
/// same 72 columns.
use report::output::text_table::WIDTH;
/// Column where values start.
const VALUE_COL: usize = 19;

/// Human-readable report, every line at most `WIDTH` (72) columns.
pub fn render_text(env: &Environment) -> String {
    let mut out = Text::default();
    render_cpu(&mut out, &env.cpu);
    if let Some(p) = &env.platform {
        render_platform(&mut out, p);
    }
    out.heading("Verdict");
    // Indented by two; a citation's URL too long for that gets a line of
    // its own without the indent rather than lose characters.
    for line in report::output::text_table::wrap_with(&env.verdict.text, WIDTH, "  ", "  ") {
        out.line(&line);
    }
    out.0
}

fn render_cpu(out: &mut Text, c: &CpuFacts) {
    out.heading(&format!("CPU ({})", c.source));
    out.kv("vendor", &c.vendor);
    out.kv(
        "family/model",
        &format!("{:#x} / {:#x}, stepping {}", c.family, c.model, c.stepping),
    );
    out.kv("brand", or_dash(&c.brand));
    out.kv("uarch", &c.uarch);
    if c.uarch.contains("-class (model") {
        let named = cpu::uarch(&c.vendor, c.family, c.model, c.stepping);
        let by = if c.hypervisor.is_some() {
            "The hypervisor-reported"
        } else {
            "The reported"
        };
        out.kv(
            "",
            &format!(
                "{by} model {:#x} ({named}) conflicts with the features: \
                 AMX (with AVX512-FP16, TSXLDTRK, SERIALIZE) means an AMX-capable \
                 Xeon, Sapphire Rapids or later; the kernel rules use that.",
                c.model
            ),
        );
    }
    out.kv("hypervisor", c.hypervisor.as_deref().unwrap_or("none"));
    let f = &c.features;
    let flags = [
        ("PGE", f.pge),
        ("PCID", f.pcid),
        ("INVPCID", f.invpcid),
        ("INVLPGB", f.invlpgb),
        ("RDTSCP", f.rdtscp),
        ("invariant-TSC", f.invariant_tsc),
        ("ARCH_CAPABILITIES", f.arch_capabilities),
        ("CORE_CAPABILITIES", f.core_capabilities),
    ];
    let names = |want: bool| -> String {
        let v: Vec<&str> = flags
            .iter()
            .filter(|(_, on)| *on == want)
            .map(|(n, _)| *n)
            .collect();
        if v.is_empty() {
            "-".into()
        } else {
            v.join(" ")
        }
    };
    out.kv("features", &names(true));
    out.kv("absent", &names(false));
    if f.invlpgb {
        out.kv("INVLPGB pages", &f.invlpgb_max_pages.to_string());
    }
    out.kv("RDCL_NO", &tri(f.rdcl_no));
    out.kv(
        "TSC",
        &if c.tsc_hz == 0 {
            "unknown (CPUID does not say)".to_string()
        } else {
            format!("{:.3} GHz", c.tsc_hz as f64 / 1e9)
        },
    );
    if c.tlb.is_empty() {
        out.kv("TLBs", "not described by CPUID");
    }
    for (i, t) in c.tlb.iter().enumerate() {
        let label = if i == 0 { "TLBs" } else { "" };
        out.kv(
            label,
            &format!(
                "{:<13} {:<12} {:>5} entries, {}",
                t.name, t.page_sizes, t.entries, t.associativity
            ),
        );
    }
}

fn render_platform(out: &mut Text, p: &Platform) {
    out.heading("Platform");
    out.kv("kernel", &p.kernel_release);
    out.kv("cmdline", or_dash(&p.kernel_cmdline));
    out.kv("meltdown", &p.meltdown);
    out.kv("PTI", on_off(p.pti));
    out.kv("online CPUs", &cpus(&p.online_cpus));
    out.kv("isolated CPUs", &cpus(&p.isolated_cpus));
    out.kv("nohz_full CPUs", &cpus(&p.nohz_full_cpus));
    out.kv("perf cycles", yes_no(p.perf_cycles));
    out.kv("user rdpmc", yes_no(p.user_rdpmc));
    out.kv("RAR", &tri(p.rar));
    out.kv(
        "/dev/entrybench",
        if p.kmod_device { "present" } else { "absent" },
    );
    let mut first = true;
    // TLB and CAL are the rows the experiments read (`IrqRow`); LOC
    // (ticks) and RES (reschedules) are shown for the reader only.
    for row in [IrqRow::Tlb.name(), IrqRow::Cal.name(), "LOC", "RES"] {
        let Some(counts) = p.interrupts.get(row) else {
            continue;
        };
        let per_cpu: Vec<String> = p
            .online_cpus
            .iter()
            .zip(counts)
            .map(|(cpu, n)| format!("cpu{cpu} {n}"))
            .collect();
        let label = if first { "interrupts" } else { "" };
        first = false;
        out.kv(label, &format!("{row}  {}", per_cpu.join(", ")));
    }
    let mut first = true;
    for (name, text) in &p.mitigations {
        let label = if first { "vulnerabilities" } else { "" };
        first = false;
        out.kv(label, &format!("{name}: {text}"));
    }
}

/// Output under construction.
#[derive(Default)]
struct Text(String);

impl Text {
    fn line(&mut self, s: &str) {
        self.0.push_str(s.trim_end());
        self.0.push('\n');
    }

    fn heading(&mut self, s: &str) {
        if !self.0.is_empty() {
            self.0.push('\n');
        }
        self.line(&truncate(s, WIDTH));
    }

    /// `  label            value`, the value wrapped under itself.
    fn kv(&mut self, label: &str, value: &str) {
        let lines = wrap(value, WIDTH - VALUE_COL);
        for (i, v) in lines.iter().enumerate() {
            let label = if i == 0 { label } else { "" };
            self.line(&format!("  {label:<w$}{v}", w = VALUE_COL - 2));
        }
    }
}

/// Word wrap without continuation indent (the one wrap lives with the
/// text tables).
fn wrap(text: &str, width: usize) -> Vec<String> {
    report::output::text_table::wrap(text, width, "")
}

fn truncate(s: &str, width: usize) -> String {
    s.chars().take(width).collect()
}

/// A CPU list in the kernel's compact form ("0-3,6,8-9"), sorted and
/// without repeats; "none" when empty. The one home of this format
/// (`placement` prints its lists the same way).
pub fn cpu_list(cpus: &[u32]) -> String {
    let mut v = cpus.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        parts.push(if j == i {
            v[i].to_string()
        } else {
            format!("{}-{}", v[i], v[j])
        });
        i = j + 1;
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(",")
    }
}

/// `cpu_list` with the count, for the detect text ("0-3,5 (5 CPUs)").
fn cpus(list: &[u32]) -> String {
    if list.is_empty() {
        return "none".into();
    }
    format!("{} ({} CPUs)", cpu_list(list), list.len())
}

fn tri(v: Option<bool>) -> String {
    match v {
        Some(true) => "yes".into(),
        Some(false) => "no".into(),
        None => "unknown".into(),
    }
}

fn yes_no(v: bool) -> &'static str {
    if v {
        "yes"
    } else {
        "no"
    }
}

fn on_off(v: bool) -> &'static str {
    if v {
        "on"
    } else {
        "off"
    }
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() {
        "-"
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_respects_width() {
        let text = "a ".repeat(100) + &"x".repeat(130);
        for line in wrap(&text, 40) {
            assert!(line.chars().count() <= 40, "{line}");
        }
        assert_eq!(wrap("", 10), [""]);
        assert_eq!(wrap("one two three", 8), ["one two", "three"]);
    }

    #[test]
    fn cpu_lists_compact() {
        assert_eq!(cpus(&[0, 1, 2, 3, 5, 7, 8]), "0-3,5,7-8 (7 CPUs)");
        assert_eq!(cpus(&[]), "none");
        assert_eq!(cpu_list(&[3, 0, 1, 2, 6, 8, 9, 9]), "0-3,6,8-9");
    }

    #[test]
    fn dump_text_fits_72_columns() {
        let dir = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../testdata/cpuid-dumps"
        ));
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.extension().is_none_or(|x| x != "txt") {
                continue;
            }
            let text = render_text(&dump_environment(&path).unwrap());
            assert!(text.contains("Verdict"), "{text}");
            for line in text.lines() {
                assert!(line.chars().count() <= 72, "too wide: {line}");
                // A citation too long for the indent keeps every character.
                assert!(!line.ends_with('~'), "cut: {line}");
            }
            n += 1;
        }
        assert!(n >= 20, "{n} dumps");
    }
}
