//! `entrybench size --cpuid-dump` on the server CPUs a customer names, with
//! the committed results/: every CPU gets an answer (measured, like model,
//! published or an explicit "no data" with the command to run), and the
//! kernel's rules come out right per CPU.

mod common;

use common::committed_results;

/// `size` for one dump of testdata/cpuid-dumps, output joined to one line
/// (the text wraps at 72 columns).
fn size_for(dump: &str) -> String {
    let (text, flat) = common::size_of_dump(dump, &committed_results(), &[]);
    for line in text.lines() {
        assert!(line.chars().count() <= 72, "too wide: {line}");
    }
    assert!(!text.contains("nothing to estimate from"), "{text}");
    flat
}

/// The block of the dump's CPU (after the measured machines).
fn dump_block(text: &str) -> &str {
    let at = text.find("(CPUID dump").expect("a block for the dump");
    &text[at..]
}

#[test]
fn haswell_ep_is_affected_with_a_published_flush_figure() {
    let text = size_for("GenuineIntel00306F2_HaswellEP_00_CPUID.txt");
    let b = dump_block(&text);
    assert!(b.contains("Meltdown-affected"), "{b}");
    assert!(b.contains("a default kernel runs PTI"), "{b}");
    assert!(!b.contains("PTI state unknown"), "{b}");
    // The series' flush: a published figure with its source.
    assert!(
        b.contains("Series flush-on-entry (v7): runs on every entry of a nohz_full CPU: 570 ns"),
        "{b}"
    );
    assert!(
        b.contains("published (v7 cover, 20251114150133.1056710-1-vschneid@redhat.com)"),
        "{b}"
    );
}

#[test]
fn cascade_lake_series_flush_does_not_run() {
    let b = size_for("GenuineIntel0050656_CascadeLakeSP_CPUID.txt");
    let b = dump_block(&b);
    assert!(
        b.contains("the series' flush does not run (PTI off)"),
        "{b}"
    );
    assert!(b.contains("the v7 flush never runs"), "{b}");
    assert!(
        b.contains("real choice is deferral or hardware broadcast"),
        "{b}"
    );
}

#[test]
fn milan_names_invlpgb() {
    let text = size_for("AuthenticAMD0A00F11_K19_Milan_02_CPUID.txt");
    let b = dump_block(&text);
    assert!(
        b.contains("INVLPGB broadcast invalidation is present"),
        "{b}"
    );
    assert!(b.contains("Linux >= 6.15"), "{b}");
    assert!(b.contains("published (commit 4afeb0ed1753"), "{b}");
    assert!(b.contains("take the broadcast"), "{b}");
}

#[test]
fn sapphire_rapids_gets_an_answer() {
    let text = size_for("GenuineIntel00806F8_SapphireRapids_05_CPUID.txt");
    let b = dump_block(&text);
    assert!(b.contains("Not affected by Meltdown"), "{b}");
    assert!(b.contains("RAR"), "{b}");
    // Measured like model (this project's masked-model Intel host), or
    // no data with the command to run there: never silence.
    assert!(
        b.contains("Figures: measured") || b.contains("entrybench run --out results/"),
        "{b}"
    );
}
