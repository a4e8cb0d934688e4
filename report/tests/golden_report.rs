//! Golden tests of the report tables on the synthetic fixtures.

mod common;

use common::*;

const ALL: [&str; 5] = [
    "synthetic-genoa-kvm.json",
    "synthetic-cascadelake-baremetal-pti-off.json",
    "synthetic-skylake-pti.json",
    "synthetic-skylake-pti-coalesce.json",
    "synthetic-tcg-partial.json",
];

fn all() -> Vec<report::model::schema::ResultFile> {
    ALL.iter().map(|n| load(n)).collect()
}

#[test]
fn text_report_all_fixtures() {
    let text = report::render_text(&all());
    assert_width("report-all.txt", &text);
    golden("report-all.txt", &text);
}

#[test]
fn text_report_per_fixture() {
    for name in ALL {
        let text = report::render_text(&[load(name)]);
        assert_width(name, &text);
        golden(&name.replace(".json", ".report.txt"), &text);
    }
}

#[test]
fn markdown_and_csv() {
    let files = all();
    golden("report-all.md", &report::render_markdown(&files));
    let csv = report::render_csv(&files);
    let lines: Vec<&str> = csv.lines().collect();
    let cols = lines[0].split(',').count();
    assert!(
        lines.iter().all(|l| l.split(',').count() == cols),
        "ragged csv"
    );
    let total: usize = files.iter().map(|f| f.experiments.len()).sum();
    assert_eq!(
        lines.len() - 1,
        total,
        "one row per experiment (all fixtures are distinct machines)"
    );
    golden("report-all.csv", &csv);
}

#[test]
fn report_content() {
    let text = report::render_text(&all());
    // Grouped per machine, one block each.
    assert_eq!(text.matches("\n== ").count(), 5, "{text}");
    // Caveats that matter.
    assert!(text.contains("KVM guest: paravirt TLB flush may skip preempted"));
    assert!(text.contains("QEMU TCG emulation: not hardware timing"));
    assert!(text.contains("PTI off: the series (v6/v7) defers no TLB-flush IPI"));
    assert!(text.contains("Victim CPU 3 not isolated"));
    assert!(text.contains("Partial run"));
    assert!(text.contains("Timer: tsc, overhead 24.0 cycles"));
    // The Skylake getpid sits at the thread's 770 ns.
    let sky = report::render_text(&[load("synthetic-skylake-pti.json")]);
    let row = sky.lines().find(|l| l.starts_with("entry.getpid")).unwrap();
    assert!(
        row.split_whitespace()
            .nth(2)
            .unwrap()
            .parse::<f64>()
            .unwrap()
            > 760.0,
        "{row}"
    );
}

#[test]
fn same_machine_files_are_merged() {
    let a = load("synthetic-genoa-kvm.json");
    let mut b = a.clone();
    b.created = "2026-12-01T00:00:00Z".into();
    b.experiments.retain(|e| e.id.to_string() == "entry.getpid");
    b.experiments[0].summary.median = 99999.0;
    let text = report::render_text(&[a, b]);
    assert_eq!(text.matches("\n== ").count(), 1);
    assert!(text.contains("2 result files"));
    let row = text
        .lines()
        .find(|l| l.starts_with("entry.getpid"))
        .unwrap();
    assert!(row.contains("99999"), "newest file wins: {row}");
}
