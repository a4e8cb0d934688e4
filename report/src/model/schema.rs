//! The result file format: what `entrybench run` writes and every report
//! reads. This is the one definition of it; the harness fills these types in.
//!
//! Every experiment says which clock its samples count (`Experiment::clock`):
//! TSC cycles, from which ns are derived with `TimerInfo::tsc_hz` at report
//! time, or (schema 1 and 2 files timed with rdpmc only) core cycles, which
//! have no ns. From schema 3 on, time always comes from the TSC; where the
//! run had user-space rdpmc, the core cycles of the same timed regions are
//! kept beside them (`Experiment::core_cycles`), as `perf stat` reports
//! task-clock and cycles side by side. The two are never converted into
//! each other nor added.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use crate::model::ids::ExperimentId;

mod scenario;
pub use scenario::{BurstStats, ScenarioStats, Throughput};

/// Bump on any incompatible change. Version 3 (this one): every
/// experiment records its `clock`; time is always TSC cycles, and core
/// cycles (rdpmc) are a figure of their own (`core_cycles`,
/// `TimerInfo::core_overhead_cycles`, timer kind `tsc+rdpmc`). Version 2:
/// entry.* is the system call made through a function call, timed in
/// batches; CIs come from independent blocks (`Experiment::blocks`);
/// refill deltas are paired; ipi.* carry a `false_match_rate`. Version 1
/// and 2 files still load (`ResultFile::upgrade`): an rdpmc run's samples
/// are marked as core cycles, and version-1 figures are labelled as
/// measured with the old method (`ResultFile::old_method`).
pub const SCHEMA_VERSION: u32 = 3;
/// The oldest version readers accept.
pub const OLDEST_SCHEMA_VERSION: u32 = 1;

/// One run of `entrybench run` (or one import of criterion samples).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultFile {
    pub schema_version: u32,
    /// "entrybench 0.1.0"
    pub tool: String,
    /// RFC 3339 UTC time the run started.
    pub created: String,
    pub host: String,
    /// True when the run was interrupted: `experiments` holds only those
    /// that completed.
    pub partial: bool,
    /// The command line options that shaped the run (`--quick`, `--only` ...).
    pub options: BTreeMap<String, String>,
    pub environment: Environment,
    pub placement: Placement,
    pub timer: TimerInfo,
    pub experiments: Vec<Experiment>,
    /// The run's drift reference (see `DriftReference`); None in files
    /// written before it existed and in imports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_reference: Option<DriftReference>,
}

/// A fixed loop timed in short blocks between the experiments' blocks
/// all through a run: how far the host itself moved while the run
/// measured. Reports state the drift in its terms, blocks taken while it
/// was off are marked (`BlockDrift`), and `compare` judges changes net of
/// it when both runs carry one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DriftReference {
    /// What a reference block times ("syscall instruction inline, getppid";
    /// "glibc syscall(), getppid" in files written before 2026-12-01).
    pub operation: String,
    /// Calls per timed region, and timed regions per block.
    pub ops_per_sample: u64,
    pub regions_per_block: u64,
    /// Each reference block's median, cycles per call, in run order.
    pub medians: Vec<f64>,
    /// When each reference block was taken: seconds since the run's
    /// first block (the block's middle).
    pub times_s: Vec<f64>,
    /// An experiment block is marked (`BlockDrift::off`) when the
    /// reference around it is further than this fraction from the
    /// reference's median over the run.
    pub off_threshold: f64,
}

/// What `entrybench detect` reports: the machine a figure was measured on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub cpu: CpuFacts,
    /// None when the facts come from a CPUID dump of another machine.
    pub platform: Option<Platform>,
    pub verdict: Verdict,
}

/// Facts decoded from CPUID alone (live or from a dump).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuFacts {
    /// "live" or the dump file name.
    pub source: String,
    /// "GenuineIntel", "AuthenticAMD", "HygonGenuine", ...
    pub vendor: String,
    /// Display family/model (SDM rules: extended fields folded in).
    pub family: u32,
    pub model: u32,
    pub stepping: u32,
    pub brand: String,
    /// Microarchitecture, e.g. "Cascade Lake", "Zen 4"; "unknown" when the
    /// table has no entry.
    pub uarch: String,
    /// Hypervisor vendor from leaf 0x40000000 when CPUID.1:ECX[31] is set:
    /// "KVM", "TCG", "Microsoft Hv", "VMware", ... None on bare metal.
    pub hypervisor: Option<String>,
    pub features: CpuFeatures,
    /// TSC frequency in Hz from leaf 0x15/0x16 or the hypervisor leaf;
    /// 0 means unknown.
    pub tsc_hz: u64,
    pub tlb: Vec<TlbLevel>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuFeatures {
    /// CPUID.1:EDX[13]
    pub pge: bool,
    /// CPUID.1:ECX[17]
    pub pcid: bool,
    /// CPUID.7.0:EBX[10]
    pub invpcid: bool,
    /// CPUID.0x80000008:EBX[3]
    pub invlpgb: bool,
    /// CPUID.0x80000008:EDX[15:0] + 1 when INVLPGB is present, else 0.
    pub invlpgb_max_pages: u32,
    /// CPUID.0x80000001:EDX[27]
    pub rdtscp: bool,
    /// CPUID.0x80000007:EDX[8]
    pub invariant_tsc: bool,
    /// CPUID.7.0:EDX[29]: IA32_ARCH_CAPABILITIES MSR enumerated.
    pub arch_capabilities: bool,
    /// CPUID.7.0:EDX[30]: IA32_CORE_CAPABILITIES MSR enumerated (RAR lives
    /// there, bit 1).
    pub core_capabilities: bool,
    /// IA32_ARCH_CAPABILITIES (0x10A) bit 0, when a value was available
    /// (MSR lines of a dump); None = not known.
    pub rdcl_no: Option<bool>,
}

/// One TLB as CPUID describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TlbLevel {
    /// "L1 dTLB", "L1 iTLB", "L2 TLB", "STLB", ...
    pub name: String,
    /// "4K", "2M/4M", "1G", ...
    pub page_sizes: String,
    pub entries: u32,
    /// "full", "4-way", ...
    pub associativity: String,
}

/// Facts about the running kernel and machine (live only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Platform {
    pub kernel_release: String,
    pub kernel_cmdline: String,
    /// Content of /sys/devices/system/cpu/vulnerabilities/meltdown.
    pub meltdown: String,
    /// Page-table isolation active ("Mitigation: PTI").
    pub pti: bool,
    /// Every file of /sys/devices/system/cpu/vulnerabilities: name -> text.
    pub mitigations: BTreeMap<String, String>,
    pub online_cpus: Vec<u32>,
    pub isolated_cpus: Vec<u32>,
    pub nohz_full_cpus: Vec<u32>,
    /// perf_event_open of PERF_COUNT_HW_CPU_CYCLES succeeds.
    pub perf_cycles: bool,
    /// The cycles event can be read from user space with rdpmc.
    pub user_rdpmc: bool,
    /// IA32_CORE_CAPABILITIES bit 1 (RAR) read via /dev/cpu/N/msr;
    /// None = could not be read ("unknown").
    pub rar: Option<bool>,
    /// /proc/interrupts rows of interest ("TLB", "CAL", "LOC", "RES", ...):
    /// row name -> count per online CPU, in online_cpus order.
    pub interrupts: BTreeMap<String, Vec<u64>>,
    /// /dev/entrybench exists.
    pub kmod_device: bool,
}

/// The plain-language judgement for one machine (or one dump).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Flush-on-entry variants this CPU can run: "cr3_flush", "invpcid2",
    /// "cr4_pge".
    pub entry_flush_variants: Vec<String>,
    /// Some(true/false) when known (live, or dump with RDCL_NO); None when
    /// not known.
    pub pti_needed: Option<bool>,
    /// Whether the series' flush in SWITCH_TO_KERNEL_CR3 (v6/v7) would run
    /// at all: PTI on (`kernel_rules::series`).
    pub flush_on_entry_runs: Option<bool>,
    /// "INVLPGB", "RAR" or empty.
    pub broadcast: Vec<String>,
    /// The one-paragraph text.
    pub text: String,
}

/// Which CPUs ran what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    pub victim_cpu: u32,
    pub initiator_cpu: Option<u32>,
    /// The victim CPU is isolated (isolcpus or nohz_full).
    pub victim_isolated: bool,
    /// Why this placement (e.g. "no isolated CPUs: victim not isolated").
    pub note: String,
}

/// The clock a figure counts. The two never mix: ns come from TSC cycles
/// only, and core cycles are shown as cycles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    /// TSC cycles: a constant-rate clock, so ns = cycles / `tsc_hz`.
    #[default]
    Tsc,
    /// Core cycles (rdpmc): they follow the core's clock (turbo, P-states),
    /// so no TSC rate turns them into time.
    CoreCycles,
}

impl ClockKind {
    /// "TSC cycles" / "core cycles", for notes and headers.
    pub fn name(self) -> &'static str {
        match self {
            ClockKind::Tsc => "TSC cycles",
            ClockKind::CoreCycles => "core cycles",
        }
    }
}

/// A clock in `params` (`params.clock` of the figures that are TSC time
/// by construction): its serde name.
impl From<ClockKind> for serde_json::Value {
    fn from(c: ClockKind) -> serde_json::Value {
        serde_json::to_value(c).expect("a unit variant serializes")
    }
}

/// Which counters a run read around its timed regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimerKind {
    /// The fenced TSC alone (lfence;rdtsc;lfence / rdtscp;lfence).
    #[serde(rename = "tsc")]
    Tsc,
    /// Schema 1 and 2 only: the run's loops read core cycles with rdpmc
    /// instead of the TSC (ipi.* and flush.kernel.* stayed on the TSC).
    #[serde(rename = "rdpmc")]
    Rdpmc,
    /// Schema 3: the TSC for time, and core cycles (rdpmc) of the same
    /// regions beside it.
    #[serde(rename = "tsc+rdpmc")]
    TscAndRdpmc,
}

impl TimerKind {
    pub fn name(self) -> &'static str {
        match self {
            TimerKind::Tsc => "tsc",
            TimerKind::Rdpmc => "rdpmc",
            TimerKind::TscAndRdpmc => "tsc+rdpmc",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimerInfo {
    pub kind: TimerKind,
    /// Median cost of an empty timed region, in cycles of the clock the
    /// samples count (TSC from schema 3 on); already subtracted from
    /// every sample.
    pub overhead_cycles: f64,
    /// Median core cycles of an empty timed region, subtracted from every
    /// `core_cycles` figure; None without rdpmc (and before schema 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub core_overhead_cycles: Option<f64>,
    /// TSC frequency used for ns figures.
    pub tsc_hz: f64,
    /// "cpuid", "hypervisor" or "measured".
    pub tsc_hz_source: String,
    /// Smallest positive difference of back-to-back clock reads, cycles
    /// and ns; 0 in version-1 files, which did not record it.
    #[serde(default)]
    pub resolution_cycles: u64,
    #[serde(default)]
    pub resolution_ns: f64,
}

/// One experiment id (see docs/design.md) and what it measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    /// Stable id: "entry.null", "refill.w64", "ipi.user.mprotect", ...
    /// (in the file, the id's string).
    pub id: ExperimentId,
    /// "user", "kmod" or "criterion".
    pub backend: String,
    /// Experiment parameters (pages, rate_hz, iterations, variant, ...).
    pub params: BTreeMap<String, serde_json::Value>,
    /// Distribution of the measured samples, cycles, timer overhead removed.
    pub summary: Summary,
    /// Every sample, losslessly.
    pub samples: Histogram,
    /// For differential experiments (refill.wN, entry.flush.*): the
    /// reference run ("no flush", "nop") the figure is relative to.
    pub baseline: Option<Baseline>,
    /// For ipi.* experiments: interruption and initiator figures.
    pub ipi: Option<IpiStats>,
    /// Anything an experiment wants a reader to know ("emulated", ...).
    pub notes: Vec<String>,
    /// The headline figure per independent block of the run, and the CI
    /// built from them (version 2; None in version-1 files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocks: Option<Blocks>,
    /// The clock of `summary`, `samples`, `baseline` and `blocks`. Absent
    /// before schema 3: `ResultFile::upgrade` sets it from the run's timer.
    #[serde(default)]
    pub clock: ClockKind,
    /// Core cycles (rdpmc) of the same timed regions, where the run could
    /// read them (schema 3): a figure of its own, never turned into ns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub core_cycles: Option<CoreCycles>,
    /// For scenario.* experiments: what the victim got done and lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<ScenarioStats>,
}

/// Core cycles of an experiment's timed regions, per operation, the
/// core-cycle overhead of an empty region removed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CoreCycles {
    pub summary: Summary,
    /// For differential experiments: median core cycles of (measured -
    /// baseline), paired where the TSC delta is paired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta_median: Option<f64>,
}

/// Independent blocks of one experiment: consecutive stretches of its
/// samples (or sample pairs), each reduced to its median. Confidence and
/// significance come from these, not from millions of autocorrelated,
/// quantized samples.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Blocks {
    /// Samples (or pairs) per block.
    pub size: u64,
    /// Each block's median headline figure, cycles, in run order.
    pub medians: Vec<f64>,
    /// 95% block-bootstrap CI of the headline median.
    pub ci95: [f64; 2],
    /// Fraction of blocks whose median is further than
    /// `stats::UNSTABLE_DEVIATION` from the median of block medians.
    pub outlier_fraction: f64,
    /// The blocks disagree (see `stats::UNSTABLE_FRACTION`): the host was
    /// not quiet while this ran.
    pub unstable: bool,
    /// When each block was taken and where the run's drift reference
    /// stood then; None for experiments run in one stretch and in older
    /// files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<BlockDrift>,
}

/// Each block of an interleaved experiment against the run's
/// `DriftReference`, in the order of `Blocks::medians`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BlockDrift {
    /// Seconds since the run's first block, at the block's middle.
    pub times_s: Vec<f64>,
    /// The reference's level around the block relative to its median
    /// over the run (1.10: the host ran the reference 10% slower then).
    pub reference: Vec<f64>,
    /// The block was taken while the reference was further than
    /// `DriftReference::off_threshold` from its median.
    pub off: Vec<bool>,
    /// The experiment's figure over the blocks taken while the host was
    /// at its quietest in the run (`model::quiet`); None for
    /// differences (their headline is the paired delta) and in files
    /// written before it, which get it on load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet: Option<Quiet>,
}

/// The median over an interleaved experiment's quiet blocks: those taken
/// while the drift reference stood within `tolerance` of its low over
/// the run. The headline of such an experiment (`Experiment::headline`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Quiet {
    /// Which blocks count, in the order of `Blocks::medians`.
    pub blocks: Vec<bool>,
    /// The median of their block medians, cycles, and its 95%
    /// block-bootstrap CI.
    pub median: f64,
    pub ci95: [f64; 2],
    /// The reference's low over the run (a low quantile of its block
    /// medians), cycles per call, and how far above it (a fraction) the
    /// reference may have stood around a quiet block.
    pub reference_low: f64,
    pub tolerance: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub label: String,
    pub summary: Summary,
    pub samples: Histogram,
    /// Median of (samples - baseline) with its 95% bootstrap CI: the
    /// headline figure of a differential experiment.
    pub delta_median: f64,
    pub delta_ci95: [f64; 2],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IpiStats {
    pub method: String,
    pub rate_hz: f64,
    pub duration_s: f64,
    /// Victim quiet-loop threshold above which a gap counts as an
    /// interruption, cycles.
    pub threshold_cycles: u64,
    pub interruptions_seen: u64,
    /// Deltas of the victim CPU's /proc/interrupts rows over the run.
    pub tlb_delta: u64,
    pub cal_delta: u64,
    /// interruptions_seen / (the row the method produces: TLB or CAL).
    pub seen_ratio: f64,
    /// Initiator's own cost per call, cycles.
    pub initiator: Summary,
    /// How often the attribution's match is not the IPI. Where the run
    /// could trace the kernel (`params.trace_check`,
    /// `Experiment::false_matches_traced`): the share of the gaps the
    /// timing rule claimed, in the traced check phase's held-out calls,
    /// that held no event of the IPI's function. Otherwise the fraction
    /// of control calls (same length, no IPI sent) the attribution
    /// matched with a victim gap (`params.control_match_rate`, recorded
    /// either way). None in version-1 files (no control was run).
    #[serde(default)]
    pub false_match_rate: Option<f64>,
    /// Per-event figures when one call sends a burst of IPIs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<BurstStats>,
}

/// The row of the victim CPU's /proc/interrupts an IPI is counted in.
/// Recorded as `params.row` ("TLB" / "CAL", the row's own label), which
/// `Experiment::irq_row` reads typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IrqRow {
    /// TLB shootdowns.
    #[serde(rename = "TLB")]
    Tlb,
    /// Function-call interrupts (smp_call_function and friends).
    #[serde(rename = "CAL")]
    Cal,
}

impl IrqRow {
    /// The row's label in /proc/interrupts.
    pub fn name(self) -> &'static str {
        match self {
            IrqRow::Tlb => "TLB",
            IrqRow::Cal => "CAL",
        }
    }
}

impl std::fmt::Display for IrqRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `params.row`: the row as its serde name.
impl From<IrqRow> for serde_json::Value {
    fn from(row: IrqRow) -> serde_json::Value {
        serde_json::to_value(row).expect("a unit variant serializes")
    }
}

impl IpiStats {
    /// The least `seen_ratio` at which the figures cover the IPIs the
    /// kernel counted (the bar of issue 19); under it a report says so.
    pub const SEEN_MIN: f64 = 0.99;
    /// Over this `seen_ratio` the victim matched more than the IPIs.
    pub const SEEN_MAX: f64 = 1.1;

    /// The victim's /proc/interrupts delta of `row` over the run.
    pub fn row_delta(&self, row: IrqRow) -> u64 {
        match row {
            IrqRow::Tlb => self.tlb_delta,
            IrqRow::Cal => self.cal_delta,
        }
    }
}

/// Order statistics of a sample set. All values in cycles.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub n: u64,
    pub min: f64,
    pub median: f64,
    pub mean: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    /// 95% confidence interval of the median: the block-bootstrap CI of
    /// `Experiment::blocks` when the experiment has blocks (version 2),
    /// else the order-statistic interval over all samples.
    pub median_ci95: [f64; 2],
}

/// A lossless sample store: sorted distinct values and their counts.
/// Timings cluster, so this is far smaller than the raw list and keeps
/// every sample for plots and tests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub values: Vec<i64>,
    pub counts: Vec<u64>,
}

impl ResultFile {
    /// Marks what a timer of kind `rdpmc` counted as core cycles, which
    /// no report turns into ns. In schema 1 and 2, an rdpmc run timed its
    /// loops in core cycles, except ipi.* (matched across CPUs, so always
    /// the TSC) and flush.kernel.* (the module's rdtsc_ordered); a
    /// criterion bench with ENTRYBENCH_CLOCK=rdpmc (any schema) kept core
    /// cycles alone for every bench. A run of schema 3 is never `rdpmc`.
    pub fn upgrade(&mut self) {
        if self.timer.kind != TimerKind::Rdpmc {
            return;
        }
        let old = self.schema_version < 3;
        for e in &mut self.experiments {
            let tsc = old && matches!(e.id, ExperimentId::Ipi(_) | ExperimentId::FlushKernel(_));
            e.clock = if tsc {
                ClockKind::Tsc
            } else {
                ClockKind::CoreCycles
            };
        }
    }

    /// Set for files measured before the version-2 method: why their
    /// figures mean something else, to print beside them.
    pub fn old_method(&self) -> Option<&'static str> {
        (self.schema_version < 2).then_some(
            "measured with the version-1 method: entry.* is the inline syscall instruction \
             timed one call per region (no call/return after sysret, quantized by the timer \
             step), CIs from all samples rather than independent blocks, no IPI control",
        )
    }
}

impl Experiment {
    /// An experiment of plain samples (no baseline, IPI figures, notes or
    /// blocks) in TSC cycles.
    pub fn plain(
        id: ExperimentId,
        backend: &str,
        params: BTreeMap<String, serde_json::Value>,
        summary: Summary,
        samples: Histogram,
    ) -> Experiment {
        Experiment {
            id,
            backend: backend.to_string(),
            params,
            summary,
            samples,
            baseline: None,
            ipi: None,
            notes: Vec::new(),
            blocks: None,
            clock: ClockKind::Tsc,
            core_cycles: None,
            scenario: None,
        }
    }

    /// The /proc/interrupts row its IPIs count in (`params.row`); None
    /// where the file has none or one this version does not know.
    pub fn irq_row(&self) -> Option<IrqRow> {
        serde_json::from_value(self.params.get("row")?.clone()).ok()
    }

    /// Whether an ipi.* false_match_rate was counted against the
    /// kernel's trace in a check phase (`params.trace_check` recorded
    /// and not skipped), rather than estimated from the control.
    pub fn false_matches_traced(&self) -> bool {
        self.params
            .get("trace_check")
            .and_then(|v| v.as_object())
            .is_some_and(|o| o.contains_key("timing_claimed"))
    }

    /// The figure a table shows for this experiment: for interleaved ones
    /// the median over the blocks taken while the host was quiet
    /// (`quiet`), of their paired deltas for a differential one; else the
    /// delta median for differential experiments, the plain median for
    /// the rest. In the experiment's own clock (`clock`).
    pub fn headline_cycles(&self) -> f64 {
        self.headline().0
    }

    /// The headline (see `headline_cycles`) and its 95% CI.
    pub fn headline(&self) -> (f64, [f64; 2]) {
        match (self.quiet(), &self.baseline) {
            (Some(q), _) => (q.median, q.ci95),
            (None, Some(b)) => (b.delta_median, b.delta_ci95),
            (None, None) => (self.summary.median, self.summary.median_ci95),
        }
    }

    /// The quiet-block figure of an interleaved experiment: its headline.
    /// A differential one's blocks hold paired deltas (the measured
    /// loop and its baseline in the same block), so its figure is a
    /// delta too: the return after sysret read 134 cycles in fast rounds
    /// and 151-174 in slow ones on the Zen 3 guest, over all blocks.
    pub fn quiet(&self) -> Option<&Quiet> {
        self.blocks.as_ref()?.drift.as_ref()?.quiet.as_ref()
    }

    /// `cycles` (a figure of this experiment's samples) as TSC cycles, the
    /// only cycles that convert to ns; None when the samples are core
    /// cycles. Every ns figure of a report goes through here.
    pub fn tsc(&self, cycles: f64) -> Option<crate::model::units::TscCycles> {
        (self.clock == ClockKind::Tsc).then_some(crate::model::units::TscCycles(cycles))
    }

    /// A CI of this experiment's samples as TSC cycles (see `tsc`).
    pub fn tsc_ci(&self, ci: [f64; 2]) -> Option<[crate::model::units::TscCycles; 2]> {
        Some([self.tsc(ci[0])?, self.tsc(ci[1])?])
    }

    /// The headline as TSC cycles (see `tsc`).
    pub fn headline_tsc(&self) -> Option<crate::model::units::TscCycles> {
        self.tsc(self.headline_cycles())
    }

    /// The headline in core cycles: the core-cycle figure recorded beside
    /// the TSC (schema 3), or the samples themselves when they are core
    /// cycles (an rdpmc run of schema 1 or 2).
    pub fn headline_core_cycles(&self) -> Option<f64> {
        match (&self.core_cycles, self.clock) {
            (Some(c), _) => Some(c.delta_median.unwrap_or(c.summary.median)),
            (None, ClockKind::CoreCycles) => Some(self.headline_cycles()),
            (None, ClockKind::Tsc) => None,
        }
    }
}
