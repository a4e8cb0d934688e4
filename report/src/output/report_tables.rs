//! What the report says about each machine, as `Table`s: entry cost,
//! in-kernel flush primitives, flush-on-entry deltas, refill, IPIs. The
//! numbers are chosen here; `export` decides text, Markdown or CSV.

use crate::model::ids::{self, EntryCall, ExperimentId};
use crate::model::machine::{self, Machine};
use crate::model::schema::{ClockKind, Experiment, ResultFile};
use crate::model::units::{ci_ns, count, ns, num};
use crate::output::caveats;
use crate::output::size::cost;
use crate::output::text_table::Table;

/// The report block of one machine.
#[derive(Debug, Clone)]
pub struct MachineReport {
    pub title: String,
    /// Short facts under the title (PTI, victim, files).
    pub facts: Vec<String>,
    pub tables: Vec<Table>,
    pub caveats: Vec<String>,
}

/// Builds the report blocks of every machine in `files`.
pub fn build(files: &[ResultFile]) -> Vec<MachineReport> {
    machine::group(files).iter().map(machine_report).collect()
}

fn machine_report(m: &Machine) -> MachineReport {
    let mut tables = CostTables::new(m).fill(m);
    tables.extend(crate::output::burst::burst_table(m));
    tables.extend(crate::output::burst::class_table(m));
    tables.extend(crate::output::scenario::tables(m));
    let mut caveats = caveats::for_machine(m);
    caveats.extend(crate::output::burst::class_note(m));
    caveats.extend(crate::output::scenario::notes(m));
    MachineReport {
        title: m.title(),
        facts: facts(m),
        tables,
        caveats,
    }
}

/// The lines under a machine's title: PTI, the victim CPU, the files, the
/// latest run and its drift reference.
fn facts(m: &Machine) -> Vec<String> {
    let latest = m.latest();
    let pti = match m.pti() {
        Some(true) => "PTI on",
        Some(false) => "PTI off",
        None => "PTI unknown",
    };
    let victim = format!(
        "victim CPU {} {}",
        latest.placement.victim_cpu,
        if latest.placement.victim_isolated {
            "isolated"
        } else {
            "NOT isolated"
        }
    );
    let files = match m.files.len() {
        1 => "1 result file".to_string(),
        n => format!("{n} result files"),
    };
    let mut facts = vec![
        format!("{pti}; {victim}; {files}"),
        format!("run {} on {}", latest.created, latest.host),
    ];
    facts.extend(crate::output::drift_text::run_text(latest));
    facts
}

/// The machine's cost tables, filled experiment by experiment: what was
/// measured, then its median and spread. "cycles" are TSC cycles (ns come
/// from them); where the run read core cycles too (rdpmc), they get a
/// column of their own (`core`).
struct CostTables {
    hz: f64,
    core: bool,
    quiet: QuietRows,
    entry: Table,
    kernel: Table,
    on_entry: Table,
    next_entry: Table,
    refill: Table,
    ipi: Table,
}

impl CostTables {
    fn new(m: &Machine) -> CostTables {
        let core = m
            .experiments
            .values()
            .any(|e| e.headline_core_cycles().is_some());
        let with_core = |mut cols: Vec<&'static str>| {
            if core {
                cols.insert(2, "core cyc");
            }
            cols
        };
        let entry_cols = ["experiment", "cycles", "ns", "CI95 ns", "mean", "p99", "n"];
        let kernel_cols = ["variant", "cycles", "ns", "CI95 ns", "p99 ns", "n"];
        let on_entry_columns = ["variant", "pages", "delta cyc", "delta ns", "CI95 ns", "n"];
        let quiet = QuietRows::of(m);
        CostTables {
            hz: m.tsc_hz(),
            core,
            entry: Table::new(&entry_title(quiet, core), &with_core(entry_cols.to_vec())),
            quiet,
            kernel: Table::new(
                "Flush primitive, in-kernel loop",
                &with_core(kernel_cols.to_vec()),
            ),
            on_entry: Table::new(
                "Flush on entry: delta vs nop ioctl (pages = working set walked after)",
                &on_entry_columns,
            ),
            next_entry: Table::new(
                "Flush before the next entry: flush ioctl + getppid (+ walk), delta vs the same after the nop ioctl",
                &on_entry_columns,
            ),
            refill: Table::new(
                "TLB refill after a full flush vs working set",
                &["pages", "cycles", "ns", "CI95 ns", "cyc/page", "n"],
            ),
            ipi: Table::new(
                "IPI: victim interruption and initiator cost per IPI",
                &[
                    "method", "med cyc", "med ns", "p99 ns", "max ns", "init ns", "n",
                ],
            ),
        }
    }

    /// Every experiment of `m` in table order, then the tables that got
    /// rows.
    fn fill(mut self, m: &Machine) -> Vec<Table> {
        let mut rows: Vec<(ExperimentId, &Experiment)> =
            m.experiments.values().map(|e| (ids::kind(e), *e)).collect();
        rows.sort_by_key(|r| sort_key(&r.0));
        for (k, e) in rows {
            self.push(&k, e);
        }
        [
            self.entry,
            self.kernel,
            self.on_entry,
            self.next_entry,
            self.refill,
            self.ipi,
        ]
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect()
    }

    fn push(&mut self, k: &ExperimentId, e: &Experiment) {
        let (s, hz) = (&e.summary, self.hz);
        let t = |c: f64| e.tsc(c);
        match k {
            ExperimentId::TimerOverhead | ExperimentId::Entry(_) | ExperimentId::Vdso(_) => self
                .entry
                .push(entry_row(e, hz, self.core, self.quiet == QuietRows::Some)),
            ExperimentId::FlushKernel(v) => {
                let mut row = vec![
                    v.to_string(),
                    tsc_num(e, s.median),
                    ns(t(s.median), hz),
                    ci_ns(e.tsc_ci(s.median_ci95), hz),
                    ns(t(s.p99), hz),
                    count(s.n),
                ];
                if self.core {
                    row.insert(2, e.headline_core_cycles().map_or("-".into(), num));
                }
                self.kernel.push(row)
            }
            ExperimentId::EntryFlush {
                variant,
                pages,
                timing,
            } => {
                let (d, ci) = e.headline();
                let table = match timing {
                    ids::EntryTiming::Dispatch => &mut self.on_entry,
                    ids::EntryTiming::NextEntry => &mut self.next_entry,
                };
                table.push(vec![
                    variant.to_string(),
                    pages.to_string(),
                    num(d),
                    ns(t(d), hz),
                    ci_ns(e.tsc_ci(ci), hz),
                    count(s.n),
                ]);
            }
            ExperimentId::Refill(p) => {
                let (d, ci) = e.headline();
                let per = if *p > 0 { d / *p as f64 } else { f64::NAN };
                self.refill.push(vec![
                    p.to_string(),
                    num(d),
                    ns(t(d), hz),
                    ci_ns(e.tsc_ci(ci), hz),
                    num(per),
                    count(s.n),
                ]);
            }
            // Burst experiments have their own per-event table.
            ExperimentId::Ipi(..) if e.ipi.as_ref().is_some_and(|i| i.burst.is_some()) => {}
            ExperimentId::Ipi(i) => {
                let init = e
                    .ipi
                    .as_ref()
                    .map(|i| i.initiator.median)
                    .unwrap_or(f64::NAN);
                self.ipi.push(vec![
                    i.to_string(),
                    tsc_num(e, s.median),
                    ns(t(s.median), hz),
                    ns(t(s.p99), hz),
                    ns(t(s.max), hz),
                    ns(t(init), hz),
                    count(s.n),
                ]);
            }
            _ => {}
        }
    }
}

/// Which of the entry table's headlines are quiet-block medians.
#[derive(Debug, Clone, Copy, PartialEq)]
enum QuietRows {
    None,
    All,
    /// Some: those are marked (`QUIET_MARK`).
    Some,
}

impl QuietRows {
    /// The entry table's rows of `m` that have a median (not a delta).
    fn of(m: &Machine) -> QuietRows {
        let medians: Vec<&&Experiment> = m
            .experiments
            .values()
            .filter(|e| {
                e.baseline.is_none()
                    && matches!(
                        ids::kind(e),
                        ExperimentId::TimerOverhead
                            | ExperimentId::Entry(_)
                            | ExperimentId::Vdso(_)
                    )
            })
            .collect();
        let quiet = medians.iter().filter(|e| e.quiet().is_some()).count();
        match quiet {
            0 => QuietRows::None,
            q if q == medians.len() => QuietRows::All,
            _ => QuietRows::Some,
        }
    }
}

/// The entry table names both figures a reader may compare: the median
/// (entrybench's robust figure, over the blocks taken while the host was
/// quiet where the run had a drift reference, `model::quiet`) and the
/// mean over every call of the run (what `perf bench syscall basic`
/// prints, noise included). The p99 and a core-cycle column are over
/// every call too.
fn entry_title(quiet: QuietRows, core: bool) -> String {
    let median = match quiet {
        QuietRows::None => "",
        QuietRows::All => ", over the blocks taken while the host was quiet (see the drift line)",
        QuietRows::Some => {
            "; rows marked q: over the blocks taken while the host was quiet (see the drift line)"
        }
    };
    let core = if core {
        "; core cyc: median over all calls"
    } else {
        ""
    };
    format!(
        "Kernel entry cost (ns, CI95: median per call, entrybench's figure{median}; mean: ns per \
         call over all calls of the run, noise included, what perf bench syscall basic reports; \
         p99 in ns, over all calls{core})"
    )
}

/// A row of the entry table. entry.return_after_sysret is a difference:
/// its delta, and the difference of the two means.
/// ns come from TSC cycles only; with `core`, the core-cycle figure
/// (rdpmc) gets a column of its own, never converted.
fn entry_row(e: &Experiment, hz: f64, core: bool, mark_quiet: bool) -> Vec<String> {
    let s = &e.summary;
    let (h, ci) = e.headline();
    let mean = match &e.baseline {
        Some(b) => s.mean - b.summary.mean,
        None => s.mean,
    };
    let t = |c: f64| e.tsc(c);
    let mark = if mark_quiet { quiet_mark(e) } else { "" };
    let mut row = vec![
        format!("{}{mark}", e.id),
        tsc_num(e, h),
        ns(t(h), hz),
        ci_ns(e.tsc_ci(ci), hz),
        ns(t(mean), hz),
        ns(t(s.p99), hz),
        count(s.n),
    ];
    if core {
        row.insert(2, e.headline_core_cycles().map_or("-".into(), num));
    }
    row
}

/// The "cycles" cell of the entry and flush tables: TSC cycles, "-" for
/// an older rdpmc file's core cycles (they have their own column).
fn tsc_num(e: &Experiment, cycles: f64) -> String {
    e.tsc(cycles).map_or("-".into(), |c| num(c.0))
}

/// Row order inside each table: docs/design.md order, not alphabetical.
fn sort_key(k: &ExperimentId) -> (usize, usize, u64, String) {
    match k {
        ExperimentId::TimerOverhead => (0, 0, 0, String::new()),
        ExperimentId::Entry(n) => (1, n.rank(), 0, n.to_string()),
        ExperimentId::Vdso(n) => (2, 0, 0, n.to_string()),
        ExperimentId::FlushKernel(v) => (3, v.rank(), 0, v.to_string()),
        ExperimentId::EntryFlush { variant, pages, .. } => {
            (4, variant.rank(), *pages, variant.to_string())
        }
        ExperimentId::Refill(p) => (5, 0, *p, String::new()),
        ExperimentId::Ipi(i) => {
            let kernel_side = !matches!(i, ids::Ipi::User(_));
            (6, usize::from(kernel_side), 0, i.method().into())
        }
        ExperimentId::Scenario(t) => (7, 0, 0, t.to_string()),
        _ => (8, 0, 0, String::new()),
    }
}

/// What the mailing-list table's marks and columns mean, printed under
/// it; the version-1 mark is explained only where a file has it.
pub fn fleet_note(files: &[ResultFile]) -> String {
    // The same test as the row mark: the machine's newest file.
    let old = if machine::group(files).iter().any(old_method_row) {
        OLD_MARK_NOTE
    } else {
        ""
    };
    let quiet = machine::group(files).iter().any(|m| {
        m.get(&ExperimentId::Entry(EntryCall::Getpid))
            .is_some_and(|e| e.quiet().is_some())
    });
    let quiet = if quiet { QUIET_NOTE } else { "" };
    format!("*: measured in a guest (see its block). {old}{quiet}{FLEET_NOTE}")
}

/// After a figure that is a median over the blocks taken while the host
/// was quiet, where a table also holds figures that are not.
const QUIET_MARK: &str = " q";

/// `QUIET_MARK` for an experiment whose headline is its quiet figure.
fn quiet_mark(e: &Experiment) -> &'static str {
    if e.quiet().is_some() {
        QUIET_MARK
    } else {
        ""
    }
}

const QUIET_NOTE: &str = "q: the median over the blocks taken while the host was quiet (the run's \
drift reference within 5% of its low; see the machine's block). ";

/// A machine row whose figures come from a version-1 file (marked "^").
fn old_method_row(m: &Machine) -> bool {
    m.latest().old_method().is_some()
}

const OLD_MARK_NOTE: &str =
    "^: a version-1 result file (getpid is the inline instruction, one call per region). ";

/// The columns of the mailing-list table.
const FLEET_NOTE: &str = "getpid ns: entry.getpid median. +flush ns: what the series' \
flush on every entry (v6/v7) adds per entry, emulated (entry.flush.series, else the variant the series picks on \
this CPU, delta vs the nop ioctl; \"-\" = no module result); no-run = PTI off: v6/v7 flush and defer \
TLB flushes only with PTI on. IPI us: victim interruption per IPI, median (ipi.kmod.kernel_range, \
else flush_all, else a user shootdown).";

/// "6.18.44-fc-v669" -> "6.18": the table has no room for more (each
/// machine's block below names the full release).
fn short_kernel(m: &Machine) -> String {
    m.latest()
        .environment
        .platform
        .as_ref()
        .map(|p| {
            p.kernel_release
                .split(|c: char| !c.is_ascii_digit())
                .take(2)
                .collect::<Vec<_>>()
                .join(".")
        })
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| "?".into())
}

/// One row per machine, like the thread's before/after table: CPU model,
/// kernel, PTI, getpid, what flush-on-entry adds (or "no-run" where PTI
/// is off), IPI victim cost. `published` appends the v7 cover letter's
/// rows, labelled, never mixed into the measured ones.
pub fn fleet_table(files: &[ResultFile], published: bool) -> Table {
    let mut t = Table::new(
        "",
        &[
            "CPU model",
            "kernel",
            "PTI",
            "getpid ns",
            "+flush ns",
            "IPI us",
        ],
    );
    for m in machine::group(files) {
        let hz = m.tsc_hz();
        let getpid = m
            .get(&ExperimentId::Entry(EntryCall::Getpid))
            .map(|e| ns(e.headline_tsc(), hz) + quiet_mark(e))
            .unwrap_or_else(|| "-".into());
        // The cost model's own picks: the series' flush E and the IPI I.
        let flush = match m.pti() {
            Some(false) => "no-run".to_string(),
            _ => cost::measured_flush(&m, m.cpu().features.invpcid)
                .map(|f| format!("+{}", num(f.ns)))
                .unwrap_or_else(|| "-".into()),
        };
        let ipi = cost::measured_ipi(&m)
            .map(|f| num(f.ns / 1000.0))
            .unwrap_or_else(|| "-".into());
        let pti = match m.pti() {
            Some(true) => "on",
            Some(false) => "off",
            None => "?",
        };
        // Cut before marking, so no mark is ever the part cut.
        let old = old_method_row(&m);
        let guest = m.is_guest();
        let mut label = machine::short_cpu_label(m.cpu());
        if guest || old {
            let width = 29 - usize::from(guest) - usize::from(old);
            label = crate::output::text_table::fit(&label, width);
        }
        if guest {
            label += "*";
        }
        if old {
            label += "^";
        }
        t.push(vec![
            label,
            short_kernel(&m),
            pti.into(),
            getpid,
            flush,
            ipi,
        ]);
    }
    if published {
        for row in published_rows() {
            t.push(row);
        }
    }
    t
}

/// The published before/after rows (v7 cover letter), labelled. The
/// cover states no PTI state: "on?" because the flush it timed runs only
/// with PTI on (`published_note`).
fn published_rows() -> Vec<Vec<String>> {
    let all = crate::model::priors::all();
    let mut cpus: Vec<&str> = Vec::new();
    for p in all
        .iter()
        .filter(|p| p.operation == crate::model::priors::op::GETPID)
    {
        if !cpus.contains(&p.cpu.as_str()) {
            cpus.push(&p.cpu);
        }
    }
    cpus.iter()
        .map(|cpu| {
            let get = |op: &str| all.iter().find(|p| p.cpu == *cpu && p.operation == op);
            let getpid = get(crate::model::priors::op::GETPID);
            let flush = get(crate::model::priors::op::FLUSH_ON_ENTRY);
            let name = cpu.split(" (").next().unwrap_or(cpu);
            vec![
                format!("{name} [published]"),
                "-".into(),
                "on?".into(),
                getpid.map(|p| num(p.value)).unwrap_or_else(|| "-".into()),
                flush
                    .map(|f| format!("+{}", num(f.value)))
                    .unwrap_or_else(|| "-".into()),
                "-".into(),
            ]
        })
        .collect()
}

/// The source line under published rows. The cover's own words for the
/// Gold 6248: "base avg 270ns, patched avg 273ns (.1% increase) I don't
/// get that last one, I did spend a ridiculous amount of time making sure
/// the flush was being executed, and AFAICT yes, it was."
pub fn published_note() -> String {
    "[published]: v7 cover letter of the IPI-deferral series, lore Message-ID \
     20251114150133.1056710-1-vschneid@redhat.com (average of 10M getpid on nohz_full CPUs \
     without/with the series, rteval load on the housekeeping CPUs; +flush derived as the \
     difference of the two averages, not the flush alone). Gold 6248: the cover says \
     \".1% increase\" (its figures give +1.1%), and that the author made sure the flush was \
     executed. on?: the cover states no PTI state; the flush runs only with PTI on (v7 31/31, \
     v6 26/29), so PTI was on, on the Gold 6248 presumably forced with pti=on (an inference)."
        .to_string()
}

/// The CSV columns. `clock` is the clock of the experiment's samples:
/// `tsc`, or `core` for core cycles (a schema-1 or -2 rdpmc run). The
/// `*_cycles` columns and `headline_ns` hold TSC cycles (and time) only,
/// empty for a `core` row; the `core_*` columns hold core cycles only: a
/// schema-3 run's core cycles recorded beside the TSC, or a `core` row's
/// own. One column never holds both clocks. `quiet_blocks` ("k/n"): the
/// headline is the median of the k of n blocks taken while the host was
/// quiet (`model::quiet`); empty where it is not.
pub const CSV_COLUMNS: [&str; 21] = [
    "cpu",
    "kernel",
    "host",
    "pti",
    "experiment",
    "pages",
    "clock",
    "n",
    "median_cycles",
    "p99_cycles",
    "max_cycles",
    "headline_cycles",
    "headline_ci95_lo",
    "headline_ci95_hi",
    "headline_ns",
    "tsc_hz",
    "mean_cycles",
    "core_median_cycles",
    "core_p99_cycles",
    "core_headline_cycles",
    "quiet_blocks",
];

/// Long-format rows for CSV: one line per machine and experiment
/// (`CSV_COLUMNS`).
pub fn csv_rows(files: &[ResultFile]) -> Vec<Vec<String>> {
    let mut out = vec![CSV_COLUMNS.iter().map(|s| s.to_string()).collect()];
    let f = |v: f64| {
        if v.is_finite() {
            format!("{v}")
        } else {
            String::new()
        }
    };
    for m in machine::group(files) {
        let hz = m.tsc_hz();
        let pti = m
            .pti()
            .map(|p| p.to_string())
            .unwrap_or_else(|| "unknown".into());
        for e in m.experiments.values() {
            let pages = match ids::kind(e) {
                ExperimentId::Refill(p) | ExperimentId::EntryFlush { pages: p, .. } => {
                    p.to_string()
                }
                _ => String::new(),
            };
            let (h, ci) = e.headline();
            // TSC cells: the figure when the samples are TSC cycles.
            let tsc = |v: f64| e.tsc(v).map(|c| f(c.0)).unwrap_or_default();
            // Core cells: recorded beside the TSC, or the samples' own.
            let (core_median, core_p99) = match (&e.core_cycles, e.clock) {
                (Some(c), _) => (f(c.summary.median), f(c.summary.p99)),
                (None, ClockKind::CoreCycles) => (f(e.summary.median), f(e.summary.p99)),
                (None, ClockKind::Tsc) => (String::new(), String::new()),
            };
            out.push(vec![
                m.cpu_label.clone(),
                m.kernel.clone(),
                m.host.clone(),
                pti.clone(),
                e.id.to_string(),
                pages,
                match e.clock {
                    ClockKind::Tsc => "tsc",
                    ClockKind::CoreCycles => "core",
                }
                .into(),
                e.summary.n.to_string(),
                tsc(e.summary.median),
                tsc(e.summary.p99),
                tsc(e.summary.max),
                tsc(h),
                tsc(ci[0]),
                tsc(ci[1]),
                e.headline_tsc()
                    .and_then(|h| crate::model::units::cycles_to_ns(h, hz))
                    .map(f)
                    .unwrap_or_default(),
                f(hz),
                tsc(e.summary.mean),
                core_median,
                core_p99,
                e.headline_core_cycles().map(f).unwrap_or_default(),
                // "k/n": the headline is the median of k quiet blocks of n.
                e.quiet()
                    .map(|q| {
                        let (k, n) = crate::model::quiet::counted(q);
                        format!("{k}/{n}")
                    })
                    .unwrap_or_default(),
            ]);
        }
    }
    out
}
