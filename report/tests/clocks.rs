//! Core cycles and TSC time are different clocks: ns come from TSC cycles
//! only, and a core-cycle figure is shown as cycles. A synthetic rdpmc
//! run whose core clock runs at 1.5x the TSC (a core at 3.75 GHz against
//! a 2.5 GHz TSC) must read exactly as the TSC says.

mod common;

use common::load;
use report::model::schema::{ClockKind, CoreCycles, ExperimentId, ResultFile, TimerKind};

/// The Skylake fixture as a schema-3 rdpmc run: every experiment timed
/// with the run's clock gets core cycles at 1.5x its TSC cycles beside
/// them (ipi.* and flush.kernel.* stay TSC-only, as in a real run).
fn rdpmc_run() -> ResultFile {
    let mut f = load("synthetic-skylake-pti.json");
    f.timer.kind = TimerKind::TscAndRdpmc;
    f.timer.core_overhead_cycles = Some(36.0);
    for e in &mut f.experiments {
        if matches!(e.id, ExperimentId::Ipi(_) | ExperimentId::FlushKernel(_)) {
            continue;
        }
        let mut s = e.summary.clone();
        for v in [
            &mut s.min,
            &mut s.median,
            &mut s.mean,
            &mut s.p90,
            &mut s.p99,
            &mut s.p999,
            &mut s.max,
        ] {
            *v *= 1.5;
        }
        s.median_ci95 = s.median_ci95.map(|c| c * 1.5);
        e.core_cycles = Some(CoreCycles {
            summary: s,
            delta_median: e.baseline.as_ref().map(|b| b.delta_median * 1.5),
        });
    }
    f
}

fn ns_of(f: &ResultFile, cycles: f64) -> f64 {
    cycles * 1e9 / f.timer.tsc_hz
}

#[test]
fn ns_come_from_the_tsc_and_core_cycles_stay_cycles() {
    let f = rdpmc_run();
    // The file round-trips through the loader with its clocks.
    let text = serde_json::to_string(&f).unwrap();
    let back = report::model::load::parse_result(&text).unwrap();
    assert_eq!(back, f);
    let getpid = f
        .experiments
        .iter()
        .find(|e| e.id.to_string() == "entry.getpid")
        .unwrap();
    assert_eq!(getpid.clock, ClockKind::Tsc);
    let tsc_ns = report::model::units::num(ns_of(&f, getpid.summary.median));
    let core_ns = report::model::units::num(ns_of(&f, getpid.summary.median * 1.5));
    let core_cycles = report::model::units::num(getpid.summary.median * 1.5);

    let report = report::render_text(std::slice::from_ref(&f));
    let row = report
        .lines()
        .find(|l| l.starts_with("entry.getpid "))
        .expect("an entry.getpid row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    // experiment, cycles, core cyc, ns, CI95 ns, p99 ns, n
    assert_eq!(
        cells[1],
        report::model::units::num(getpid.summary.median),
        "{row}"
    );
    assert_eq!(cells[2], core_cycles, "core cycles shown as cycles: {row}");
    assert_eq!(cells[3], tsc_ns, "ns from the TSC figure: {row}");
    assert_ne!(tsc_ns, core_ns);
    assert!(report.contains("core cyc"), "{report}");
    assert!(report.contains("never converted to ns"), "{report}");

    // The cost model prices the series' flush from the TSC delta.
    let machines = report::model::machine::group(std::slice::from_ref(&f));
    let e = report::output::size::cost::measured_flush(&machines[0], true).unwrap();
    let flush = f
        .experiments
        .iter()
        .find(|e| e.id.to_string() == "entry.flush.invpcid2")
        .unwrap();
    let want = ns_of(&f, flush.baseline.as_ref().unwrap().delta_median);
    assert!((e.ns - want).abs() < 1e-9, "{} vs {want}", e.ns);
}

#[test]
fn an_older_rdpmc_file_has_no_ns_for_its_core_cycles() {
    // Schema 2, timer rdpmc: entry.*, refill.* and entry.flush.* were
    // core cycles; ipi.* TSC.
    let mut f = load("synthetic-skylake-pti.json");
    f.schema_version = 2;
    f.timer.kind = TimerKind::Rdpmc;
    for e in &mut f.experiments {
        e.clock = ClockKind::Tsc;
    }
    let text = serde_json::to_string(&f)
        .unwrap()
        .replace(",\"clock\":\"tsc\"", "");
    assert!(!text.contains("\"clock\""));
    let f = report::model::load::parse_result(&text).unwrap();
    let clock = |id: &str| {
        f.experiments
            .iter()
            .find(|e| e.id.to_string() == id)
            .unwrap()
            .clock
    };
    assert_eq!(clock("entry.getpid"), ClockKind::CoreCycles);
    assert_eq!(clock("refill.w64"), ClockKind::CoreCycles);
    assert_eq!(clock("entry.flush.invpcid2"), ClockKind::CoreCycles);
    assert_eq!(clock("ipi.kmod.kernel_range"), ClockKind::Tsc);

    let report = report::render_text(std::slice::from_ref(&f));
    let row = report
        .lines()
        .find(|l| l.starts_with("entry.getpid "))
        .unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    // experiment, cycles, core cyc, ns ...: core cycles only in their
    // own column; the TSC cycles and ns cells are "-".
    assert_eq!(cells[1], "-", "{row}");
    let median = load("synthetic-skylake-pti.json")
        .experiments
        .iter()
        .find(|e| e.id.to_string() == "entry.getpid")
        .unwrap()
        .summary
        .median;
    assert_eq!(cells[2], report::model::units::num(median), "{row}");
    assert_eq!(cells[3], "-", "{row}");
    // Sizing: the flush and refill have no time, so nothing is priced
    // from them; the IPI (TSC) still is.
    let machines = report::model::machine::group(std::slice::from_ref(&f));
    let p = report::model::profile::Profile::parse(
        "syscalls_per_sec = 1000\nflush_events_per_sec = 1\nworking_set_pages = 64\nlatency_budget_us = 5\n",
    )
    .unwrap();
    let costs = report::output::size::machine_costs(&p, &machines[0]);
    assert!(costs.ingredients.ipi.is_some());
    assert!(costs.ingredients.refill.is_none());
    assert!(
        costs.ingredients.flush.as_ref().is_none_or(|e| matches!(
            e.source,
            report::output::size::cost::Source::Published { .. }
        )),
        "{:?}",
        costs.ingredients.flush
    );
}

/// The CSV row of `id`, as column name -> cell.
fn csv_row(f: &ResultFile, id: &str) -> std::collections::BTreeMap<String, String> {
    let csv = report::render_csv(std::slice::from_ref(f));
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header, report::output::report_tables::CSV_COLUMNS);
    let row = lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|cells| cells[4] == id)
        .unwrap_or_else(|| panic!("no {id} row:\n{csv}"));
    header
        .iter()
        .zip(row)
        .map(|(h, c)| (h.to_string(), c.to_string()))
        .collect()
}

#[test]
fn csv_keeps_tsc_and_core_cycles_in_their_own_columns() {
    // Schema 3 with rdpmc: TSC in the *_cycles columns, core cycles beside.
    let f = rdpmc_run();
    let getpid = f
        .experiments
        .iter()
        .find(|e| e.id.to_string() == "entry.getpid")
        .unwrap();
    let r = csv_row(&f, "entry.getpid");
    assert_eq!(r["clock"], "tsc");
    assert_eq!(r["median_cycles"], format!("{}", getpid.summary.median));
    assert_eq!(
        r["core_median_cycles"],
        format!("{}", getpid.summary.median * 1.5)
    );
    assert_eq!(
        r["core_headline_cycles"],
        format!("{}", getpid.summary.median * 1.5)
    );
    let ns: f64 = r["headline_ns"].parse().unwrap();
    assert!((ns - ns_of(&f, getpid.summary.median)).abs() < 1e-9);
    // ipi.* has no core cycles: those cells are empty.
    let r = csv_row(&f, "ipi.kmod.kernel_range");
    assert_eq!(
        (r["clock"].as_str(), r["core_median_cycles"].as_str()),
        ("tsc", "")
    );

    // An older rdpmc file: entry.* samples are core cycles; they go to
    // the core columns only, and the TSC and ns cells stay empty.
    let mut old = load("synthetic-skylake-pti.json");
    old.schema_version = 2;
    old.timer.kind = TimerKind::Rdpmc;
    old.upgrade();
    let median = getpid.summary.median;
    let r = csv_row(&old, "entry.getpid");
    assert_eq!(r["clock"], "core");
    for col in [
        "median_cycles",
        "p99_cycles",
        "headline_cycles",
        "headline_ns",
        "mean_cycles",
    ] {
        assert_eq!(r[col], "", "{col}: {r:?}");
    }
    assert_eq!(r["core_median_cycles"], format!("{median}"));
    assert_eq!(r["core_headline_cycles"], format!("{median}"));
    let r = csv_row(&old, "ipi.kmod.kernel_range");
    assert_eq!(r["clock"], "tsc");
    assert!(!r["median_cycles"].is_empty() && !r["headline_ns"].is_empty());
}

/// `compare` of two older rdpmc files: the core-cycle rows (entry.*,
/// refill.*, entry.flush.*) stay cycles, marked; the TSC rows of the same
/// files (ipi.*, flush.kernel.*) keep ns.
#[test]
fn compare_loses_ns_only_on_core_cycle_rows() {
    let old = || {
        let mut f = load("synthetic-skylake-pti.json");
        f.schema_version = 2;
        f.timer.kind = TimerKind::Rdpmc;
        f.upgrade();
        f
    };
    let (a, mut b) = (old(), old());
    b.created = "2026-12-01T00:00:00Z".into();
    let c = report::output::compare::compare(&a, &b);
    assert!(!c.in_ns);
    let row = |id: &str| c.rows.iter().find(|r| r.id == id).unwrap();
    let ipi = row("ipi.kmod.kernel_range");
    assert!(ipi.in_ns(), "{ipi:?}");
    let e = a
        .experiments
        .iter()
        .find(|e| e.id.to_string() == "ipi.kmod.kernel_range")
        .unwrap();
    assert!((ipi.a_ns.unwrap() - ns_of(&a, e.summary.median)).abs() < 1e-9);
    for id in ["entry.getpid", "refill.w64", "entry.flush.invpcid2"] {
        assert!(!row(id).in_ns(), "{id}");
    }
    let text = report::output::compare::render_text(&c);
    let line = |id: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("{id}:\n{text}"))
            .to_string()
    };
    assert!(line("entry.getpid").contains(" cyc "), "{text}");
    assert!(line("entry.flush.cr4_pge.w64").contains(" cyc "), "{text}");
    assert!(!line("ipi.kmod.kernel_range").contains("cyc"), "{text}");
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("ns; rows marked cyc: core cycles"), "{text}");
    assert!(flat.contains("Rows marked cyc are core cycles"), "{text}");
    assert!(text.lines().all(|l| l.chars().count() <= 72), "{text}");
    // Both files all TSC: every row in ns, nothing marked.
    let s = load("synthetic-skylake-pti.json");
    let c = report::output::compare::compare(&s, &s);
    assert!(c.in_ns && c.rows.iter().all(|r| r.in_ns()));
    assert!(!report::output::compare::render_text(&c).contains(" cyc "));
}
