//! What the report says about each machine, as `Table`s: entry cost,
//! in-kernel flush primitives, flush-on-entry deltas, refill, IPIs. The
//! numbers are chosen here; `render` decides text, Markdown or CSV.

use crate::caveats;
use crate::ids::{self, Kind};
use crate::machine::{self, Machine};
use crate::schema::{Experiment, ResultFile};
use crate::text_table::Table;
use crate::units::{ci_ns, count, ns, num};

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
    let latest = m.latest();
    let hz = m.tsc_hz();
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
    let facts = vec![
        format!("{pti}; {victim}; {files}"),
        format!("run {} on {}", latest.created, latest.host),
    ];

    // Both cost tables: what was measured, then its median and spread.
    let cost_table = |title: &str, first: &str| {
        Table::new(title, &[first, "cycles", "ns", "CI95 ns", "p99 ns", "n"])
    };
    let mut entry = cost_table("Kernel entry cost", "experiment");
    let mut kernel = cost_table("Flush primitive, in-kernel loop", "variant");
    let on_entry_columns = ["variant", "pages", "delta cyc", "delta ns", "CI95 ns", "n"];
    let mut on_entry = Table::new(
        "Flush on entry: delta vs nop ioctl (pages = working set walked after)",
        &on_entry_columns,
    );
    let mut next_entry = Table::new(
        "Flush before the next entry: flush ioctl + getppid (+ walk), delta vs the same after the nop ioctl",
        &on_entry_columns,
    );
    let mut refill = Table::new(
        "TLB refill after a full flush vs working set",
        &["pages", "cycles", "ns", "CI95 ns", "cyc/page", "n"],
    );
    let mut ipi = Table::new(
        "IPI: victim interruption and initiator cost per IPI",
        &[
            "method", "med cyc", "med ns", "p99 ns", "max ns", "init ns", "n",
        ],
    );

    let mut rows: Vec<(Kind, &Experiment)> =
        m.experiments.values().map(|e| (ids::kind(e), *e)).collect();
    rows.sort_by_key(|r| sort_key(&r.0));
    for (k, e) in rows {
        let s = &e.summary;
        match &k {
            Kind::TimerOverhead | Kind::Entry(_) | Kind::Vdso(_) => {
                // entry.return_after_sysret is a difference: its delta.
                let (h, ci) = match &e.baseline {
                    Some(b) => (b.delta_median, b.delta_ci95),
                    None => (s.median, s.median_ci95),
                };
                entry.push(vec![
                    e.id.clone(),
                    num(h),
                    ns(h, hz),
                    ci_ns(ci, hz),
                    ns(s.p99, hz),
                    count(s.n),
                ])
            }
            Kind::FlushKernel(v) => kernel.push(vec![
                v.clone(),
                num(s.median),
                ns(s.median, hz),
                ci_ns(s.median_ci95, hz),
                ns(s.p99, hz),
                count(s.n),
            ]),
            Kind::EntryFlush {
                variant,
                pages,
                timing,
            } => {
                let (d, ci) = delta_and_ci(e);
                let table = match timing {
                    ids::EntryTiming::Dispatch => &mut on_entry,
                    ids::EntryTiming::NextEntry => &mut next_entry,
                };
                table.push(vec![
                    variant.clone(),
                    pages.to_string(),
                    num(d),
                    ns(d, hz),
                    ci_ns(ci, hz),
                    count(s.n),
                ]);
            }
            Kind::Refill(p) => {
                let (d, ci) = delta_and_ci(e);
                let per = if *p > 0 { d / *p as f64 } else { f64::NAN };
                refill.push(vec![
                    p.to_string(),
                    num(d),
                    ns(d, hz),
                    ci_ns(ci, hz),
                    num(per),
                    count(s.n),
                ]);
            }
            Kind::Ipi(backend, method) => {
                let init = e
                    .ipi
                    .as_ref()
                    .map(|i| i.initiator.median)
                    .unwrap_or(f64::NAN);
                ipi.push(vec![
                    format!("{backend}.{method}"),
                    num(s.median),
                    ns(s.median, hz),
                    ns(s.p99, hz),
                    ns(s.max, hz),
                    ns(init, hz),
                    count(s.n),
                ]);
            }
            Kind::Other => {}
        }
    }
    let tables = [entry, kernel, on_entry, next_entry, refill, ipi]
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect();
    MachineReport {
        title: m.title(),
        facts,
        tables,
        caveats: caveats::for_machine(m),
    }
}

/// Row order inside each table: docs/design.md order, not alphabetical.
fn sort_key(k: &Kind) -> (usize, usize, u64, String) {
    match k {
        Kind::TimerOverhead => (0, 0, 0, String::new()),
        Kind::Entry(n) => (1, ids::entry_rank(n), 0, n.clone()),
        Kind::Vdso(n) => (2, 0, 0, n.clone()),
        Kind::FlushKernel(v) => (3, ids::variant_rank(v), 0, v.clone()),
        Kind::EntryFlush { variant, pages, .. } => {
            (4, ids::variant_rank(variant), *pages, variant.clone())
        }
        Kind::Refill(p) => (5, 0, *p, String::new()),
        Kind::Ipi(b, m) => (6, usize::from(b != "user"), 0, m.clone()),
        Kind::Other => (7, 0, 0, String::new()),
    }
}

/// A differential experiment's headline (the delta median) and its CI.
fn delta_and_ci(e: &Experiment) -> (f64, [f64; 2]) {
    let ci = e
        .baseline
        .as_ref()
        .map(|b| b.delta_ci95)
        .unwrap_or([f64::NAN; 2]);
    (e.headline_cycles(), ci)
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
    format!("*: measured in a guest (see its block). {old}{FLEET_NOTE}")
}

/// A machine row whose figures come from a version-1 file (marked "^").
fn old_method_row(m: &Machine) -> bool {
    m.latest().old_method().is_some()
}

const OLD_MARK_NOTE: &str =
    "^: a version-1 result file (getpid is the inline instruction, one call per region). ";

/// The columns of the mailing-list table.
const FLEET_NOTE: &str = "getpid ns: entry.getpid median. +flush ns: what the series' \
flush-on-entry adds per entry (entry.flush.series, else invpcid2, else cr4_pge, delta vs the nop ioctl; \
\"-\" = no module result), no-run = PTI off, so the series' flush does not run. IPI us: \
victim interruption per IPI, median (ipi.kmod.kernel_range, else a user shootdown).";

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
            .get("entry.getpid")
            .map(|e| ns(e.summary.median, hz))
            .unwrap_or_else(|| "-".into());
        let flush = match m.pti() {
            Some(false) => "no-run".to_string(),
            _ => ["series", "invpcid2", "cr4_pge"]
                .iter()
                .find_map(|v| m.entry_flush_cost(v))
                .and_then(|e| crate::units::cycles_to_ns(e.headline_cycles(), hz))
                .map(|n| format!("+{}", num(n)))
                .unwrap_or_else(|| "-".into()),
        };
        let ipi = crate::size::IPI_ORDER
            .iter()
            .find_map(|id| m.get(id))
            .and_then(|e| crate::units::cycles_to_ns(e.summary.median, hz))
            .map(|n| num(n / 1000.0))
            .unwrap_or_else(|| "-".into());
        let pti = match m.pti() {
            Some(true) => "on",
            Some(false) => "off",
            None => "?",
        };
        // Cut before marking, so no mark is ever the part cut.
        let old = old_method_row(&m);
        let guest = m.host != "bare metal";
        let mut label = machine::short_cpu_label(m.cpu());
        if guest || old {
            let width = 29 - usize::from(guest) - usize::from(old);
            label = crate::text_table::fit(&label, width);
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

/// The published before/after rows (v7 cover letter), labelled.
fn published_rows() -> Vec<Vec<String>> {
    let all = crate::priors::all();
    let mut cpus: Vec<&str> = Vec::new();
    for p in all
        .iter()
        .filter(|p| p.operation == crate::priors::op::GETPID)
    {
        if !cpus.contains(&p.cpu.as_str()) {
            cpus.push(&p.cpu);
        }
    }
    cpus.iter()
        .map(|cpu| {
            let get = |op: &str| all.iter().find(|p| p.cpu == *cpu && p.operation == op);
            let getpid = get(crate::priors::op::GETPID);
            let flush = get(crate::priors::op::FLUSH_ON_ENTRY);
            let pti_off = get("getpid.series_delta_pti_off").is_some();
            let name = cpu.split(" (").next().unwrap_or(cpu);
            vec![
                format!("{name} [published]"),
                "-".into(),
                if pti_off { "off" } else { "on" }.into(),
                getpid.map(|p| num(p.value)).unwrap_or_else(|| "-".into()),
                match (pti_off, flush) {
                    (true, _) => "no-run".into(),
                    (false, Some(f)) => format!("+{}", num(f.value)),
                    _ => "-".into(),
                },
                "-".into(),
            ]
        })
        .collect()
}

/// The source line under published rows.
pub fn published_note() -> String {
    "[published]: v7 cover letter of the IPI-deferral series, lore Message-ID \
     20251114150133.1056710-1-vschneid@redhat.com (getpid with/without the series, \
     nohz_full CPUs, rteval load; +flush derived as the difference)."
        .to_string()
}

/// Long-format rows for CSV: one line per machine and experiment.
pub fn csv_rows(files: &[ResultFile]) -> Vec<Vec<String>> {
    let mut out = vec![[
        "cpu",
        "kernel",
        "host",
        "pti",
        "experiment",
        "pages",
        "n",
        "median_cycles",
        "p99_cycles",
        "max_cycles",
        "headline_cycles",
        "headline_ci95_lo",
        "headline_ci95_hi",
        "headline_ns",
        "tsc_hz",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()];
    for m in machine::group(files) {
        let hz = m.tsc_hz();
        let pti = m
            .pti()
            .map(|p| p.to_string())
            .unwrap_or_else(|| "unknown".into());
        for e in m.experiments.values() {
            let pages = match ids::kind(e) {
                Kind::Refill(p) | Kind::EntryFlush { pages: p, .. } => p.to_string(),
                _ => String::new(),
            };
            let h = e.headline_cycles();
            let ci = e
                .baseline
                .as_ref()
                .map(|b| b.delta_ci95)
                .unwrap_or(e.summary.median_ci95);
            let f = |v: f64| {
                if v.is_finite() {
                    format!("{v}")
                } else {
                    String::new()
                }
            };
            out.push(vec![
                m.cpu_label.clone(),
                m.kernel.clone(),
                m.host.clone(),
                pti.clone(),
                e.id.clone(),
                pages,
                e.summary.n.to_string(),
                f(e.summary.median),
                f(e.summary.p99),
                f(e.summary.max),
                f(h),
                f(ci[0]),
                f(ci[1]),
                crate::units::cycles_to_ns(h, hz).map(f).unwrap_or_default(),
                f(hz),
            ]);
        }
    }
    out
}
