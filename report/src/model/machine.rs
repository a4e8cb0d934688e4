//! Grouping result files per machine: one CPU model on one kernel in one
//! kind of host. Tables, plots and sizing all work per machine, so several
//! runs of the same box read as one block and different boxes never mix.

use crate::model::ids::{self, EntryTiming, ExperimentId, FlushVariant};
use crate::model::schema::{CpuFacts, Experiment, ResultFile};
use std::collections::BTreeMap;

/// One CPU model + kernel + host kind, with the experiments of every file
/// that belongs to it.
#[derive(Debug, Clone)]
pub struct Machine<'a> {
    /// "Zen 4 (EPYC 9654 96-Core)": uarch and shortened brand.
    pub cpu_label: String,
    /// Kernel release, or "kernel unknown".
    pub kernel: String,
    /// "bare metal", "KVM guest", "TCG guest" ...
    pub host: String,
    /// Files of this machine, oldest first.
    pub files: Vec<&'a ResultFile>,
    /// Experiment id -> experiment; the newest file wins when several files
    /// measured the same id (a re-run replaces, it does not pool: pooling
    /// runs with different placements would blur the distribution).
    pub experiments: BTreeMap<String, &'a Experiment>,
}

impl<'a> Machine<'a> {
    /// The newest file: its environment, placement and timer describe the
    /// machine.
    pub fn latest(&self) -> &'a ResultFile {
        self.files.last().expect("a machine has at least one file")
    }

    pub fn cpu(&self) -> &'a CpuFacts {
        &self.latest().environment.cpu
    }

    /// TSC frequency for ns figures (newest file's timer).
    pub fn tsc_hz(&self) -> f64 {
        self.latest().timer.tsc_hz
    }

    /// One-line title: "Zen 4 (EPYC 9654) | Linux 6.15.0 | KVM guest".
    pub fn title(&self) -> String {
        format!("{} | {} | {}", self.cpu_label, self.kernel, self.host)
    }

    /// Whether the figures come from a guest (any host but bare metal):
    /// every plot and table that shows them says so.
    pub fn is_guest(&self) -> bool {
        self.host != BARE_METAL
    }

    pub fn get(&self, id: &ExperimentId) -> Option<&'a Experiment> {
        self.experiments.get(&id.to_string()).copied()
    }

    /// The row whose delta is what flush-on-entry of `variant` costs per
    /// entry (no walk): the next-entry timing where measured, else the
    /// dispatch timing (files from before it existed). The one place the
    /// table, the sizing and the plots choose it.
    pub fn entry_flush_cost(&self, variant: &FlushVariant) -> Option<&'a Experiment> {
        ExperimentId::entry_flush_cost(variant)
            .iter()
            .find_map(|id| self.get(id))
            .or_else(|| {
                // Files that carry the walk only in params.pages.
                [EntryTiming::NextEntry, EntryTiming::Dispatch]
                    .into_iter()
                    .find_map(|want| {
                        self.experiments.values().copied().find(|e| {
                            matches!(ids::kind(e), ExperimentId::EntryFlush { variant: ref v, pages: 0, timing }
                                if v == variant && timing == want)
                        })
                    })
            })
    }

    /// PTI state: Some(on/off) from the platform, else None.
    pub fn pti(&self) -> Option<bool> {
        self.latest().environment.platform.as_ref().map(|p| p.pti)
    }
}

/// Groups files per machine in a stable order (CPU label, kernel, host).
pub fn group(files: &[ResultFile]) -> Vec<Machine<'_>> {
    let mut by_key: BTreeMap<(String, String, String), Vec<&ResultFile>> = BTreeMap::new();
    for f in files {
        by_key
            .entry((
                cpu_label(&f.environment.cpu),
                kernel(f),
                host(&f.environment.cpu),
            ))
            .or_default()
            .push(f);
    }
    by_key
        .into_iter()
        .map(|((cpu_label, kernel, host), mut fs)| {
            // RFC 3339 UTC strings sort by time; the stable sort keeps
            // command-line order for equal stamps.
            fs.sort_by(|a, b| a.created.cmp(&b.created));
            let mut experiments = BTreeMap::new();
            for f in &fs {
                for e in &f.experiments {
                    experiments.insert(e.id.to_string(), e);
                }
            }
            Machine {
                cpu_label,
                kernel,
                host,
                files: fs,
                experiments,
            }
        })
        .collect()
}

fn kernel(f: &ResultFile) -> String {
    match &f.environment.platform {
        Some(p) if !p.kernel_release.is_empty() => format!("Linux {}", p.kernel_release),
        _ => "kernel unknown".into(),
    }
}

/// The host label of figures measured with no hypervisor.
pub const BARE_METAL: &str = "bare metal";

/// `BARE_METAL` or "<hypervisor> guest".
pub fn host(cpu: &CpuFacts) -> String {
    match &cpu.hypervisor {
        Some(h) if !h.is_empty() => format!("{h} guest"),
        _ => BARE_METAL.into(),
    }
}

/// "Cascade Lake (Xeon Gold 6248)": microarchitecture plus the brand
/// without vendor marks and clock, which is what people call the part.
pub fn cpu_label(cpu: &CpuFacts) -> String {
    let brand = short_brand(&cpu.brand);
    let uarch = if cpu.uarch.is_empty() || cpu.uarch == "unknown" {
        format!(
            "{} {:#x}/{:#x}",
            short_vendor(&cpu.vendor),
            cpu.family,
            cpu.model
        )
    } else {
        cpu.uarch.clone()
    };
    if brand.is_empty() {
        uarch
    } else {
        format!("{uarch} ({brand})")
    }
}

/// `cpu_label` without the masked-model explanation, for narrow places
/// (the mailing-list table, plot legends): "Sapphire Rapids-class (Xeon)".
pub fn short_cpu_label(cpu: &CpuFacts) -> String {
    let label = cpu_label(cpu);
    match (label.find("-class ("), label.find(") (")) {
        (Some(a), Some(b)) if b > a => format!("{}-class{}", &label[..a], &label[b + 1..]),
        _ => label,
    }
}

fn short_vendor(v: &str) -> &str {
    match v {
        "GenuineIntel" => "Intel",
        "AuthenticAMD" => "AMD",
        "HygonGenuine" => "Hygon",
        other => other,
    }
}

/// "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz" -> "Xeon Gold 6248";
/// "AMD EPYC 9654 96-Core Processor" -> "EPYC 9654 96-Core".
pub fn short_brand(brand: &str) -> String {
    let mut s = brand.to_string();
    for mark in ["(R)", "(r)", "(TM)", "(tm)"] {
        s = s.replace(mark, "");
    }
    if let Some(i) = s.find(" @ ") {
        s.truncate(i);
    }
    let drop = [
        "Intel",
        "INTEL",
        "AMD",
        "Hygon",
        "CPU",
        "Processor",
        "processor",
    ];
    let words: Vec<&str> = s.split_whitespace().filter(|w| !drop.contains(w)).collect();
    let mut out = words.join(" ");
    // Keep labels short enough for a 72-column title line.
    if out.len() > 28 {
        out = out
            .chars()
            .take(28)
            .collect::<String>()
            .trim_end()
            .to_string();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brands() {
        assert_eq!(
            short_brand("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz"),
            "Xeon Gold 6248"
        );
        assert_eq!(
            short_brand("AMD EPYC 9654 96-Core Processor"),
            "EPYC 9654 96-Core"
        );
        assert_eq!(
            short_brand("QEMU Virtual CPU version 2.5+"),
            "QEMU Virtual version 2.5+"
        );
        assert_eq!(short_brand(""), "");
    }

    #[test]
    fn masked_model_labels_shorten() {
        let mut cpu = crate::model::synth::fixtures()[0].1.environment.cpu.clone();
        cpu.uarch = "Sapphire Rapids-class (model 0xa7 masked by hypervisor)".into();
        cpu.brand = "Intel(R) Xeon(R) Processor".into();
        assert_eq!(short_cpu_label(&cpu), "Sapphire Rapids-class (Xeon)");
        cpu.uarch = "Zen 5".into();
        cpu.brand = "AMD EPYC 9R45".into();
        assert_eq!(short_cpu_label(&cpu), "Zen 5 (EPYC 9R45)");
    }
}
