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

/// The block of the dump's CPU (the first, before the measured
/// machines), up to the next block or the recommendation.
fn dump_block(text: &str) -> &str {
    let at = text.find("(CPUID dump").expect("a block for the dump");
    let rest = &text[at..];
    let end = [rest.find(" == "), rest.find("Recommendation:")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn haswell_ep_is_affected_with_a_published_flush_figure() {
    let text = size_for("GenuineIntel00306F2_HaswellEP_00_CPUID.txt");
    let b = dump_block(&text);
    assert!(b.contains("Meltdown-affected"), "{b}");
    assert!(b.contains("a default kernel runs PTI"), "{b}");
    assert!(!b.contains("PTI state unknown"), "{b}");
    // The series' flush: a published figure, labelled, with what it is.
    assert!(
        b.contains("series v6/v7 570 1.1%"),
        "the table prices v6/v7 at the cover's 570 ns: {b}"
    );
    let (_, explained) = common::size_of_dump(
        "GenuineIntel00306F2_HaswellEP_00_CPUID.txt",
        &committed_results(),
        &["--explain"],
    );
    assert!(
        explained.contains(
            "E = 570 ns (published (v7 cover, 20251114150133.1056710-1-vschneid@redhat.com)"
        ),
        "{explained}"
    );
    assert!(explained.contains("not the flush alone"), "{explained}");
}

#[test]
fn cascade_lake_series_flush_does_not_run() {
    let b = size_for("GenuineIntel0050656_CascadeLakeSP_CPUID.txt");
    let b = dump_block(&b);
    assert!(
        b.contains("With PTI off the posted series defers no TLB-flush IPI"),
        "{b}"
    );
    assert!(b.contains("the IPIs as today"), "{b}");
    assert!(b.contains("pti=on + v6/v7: "), "{b}");
    // v6/v7 runs there only with pti=on: its row carries no figures of
    // its own and points at the row that adds PTI's cost.
    assert!(
        b.contains("series v6/v7 see pti=on + v6/v7 pti=on -"),
        "{b}"
    );
    assert!(b.contains("unposted design"), "{b}");
    assert!(!b.contains("real choice is deferral"), "{b}");
}

#[test]
fn milan_names_invlpgb() {
    let text = size_for("AuthenticAMD0A00F11_K19_Milan_02_CPUID.txt");
    let b = dump_block(&text);
    // The committed results hold a Zen 3 guest run, so the dump is priced
    // like it: the INVLPGB row gets that run's figures (the refill its
    // flush leaves), still "?" to run (a dump: depends on the kernel).
    assert!(
        b.contains("Figures: measured (like model: Zen 3 (EPYC))"),
        "{b}"
    );
    let row: Vec<&str> = b
        .split("INVLPGB ")
        .map(|r| r.split(' ').take(6).collect::<Vec<_>>())
        .find(|r| r.len() == 6 && r[0].parse::<f64>().is_ok())
        .unwrap_or_else(|| panic!("no priced INVLPGB row: {b}"));
    assert_eq!(row[4..], ["?", "like"], "{b}");
    let (_, explained) = common::size_of_dump(
        "AuthenticAMD0A00F11_K19_Milan_02_CPUID.txt",
        &committed_results(),
        &["--explain"],
    );
    assert!(
        explained.contains("runs with Linux >= 6.15 and PTI off"),
        "{explained}"
    );
    assert!(explained.contains("4 or more CPUs"), "{explained}");
    assert!(
        explained.contains("published (commit 4afeb0ed1753"),
        "{explained}"
    );
}

/// The committed results hold a Zen 4 guest run (2026-12-02), so the
/// Genoa dump (Zen 4) is priced like it, not like the Zen 3 or Zen 5 rows.
#[test]
fn genoa_is_priced_like_the_zen4_run() {
    let text = size_for("AuthenticAMD0A10F11_K19_Genoa_01_CPUID.txt");
    let b = dump_block(&text);
    assert!(
        b.contains("Figures: measured (like model: Zen 4 (EPYC))"),
        "{b}"
    );
}

#[test]
fn sapphire_rapids_gets_an_answer() {
    let text = size_for("GenuineIntel00806F8_SapphireRapids_05_CPUID.txt");
    let b = dump_block(&text);
    assert!(b.contains("Not affected by Meltdown"), "{b}");
    // CPUID.7.0:EDX[30] is set in this dump: RAR is possible, unused.
    assert!(b.contains("RAR - - - - n/a -"), "{b}");
    // Measured like model (this project's masked-model Intel host, a
    // guest), never a hardware pick.
    assert!(b.contains("Figures: measured (like model: "), "{b}");
    assert!(text.contains("no hardware pick"), "{text}");
}

/// Every CPUID dump under testdata, for every profile under
/// testdata/profiles, against the committed results and the synthetic
/// fixtures: each figure the answer quotes equals the table's.
#[test]
fn every_dump_and_profile_table_equals_answer() {
    let root = common::root();
    let mut dumps = Vec::new();
    for dir in [
        "testdata/cpuid-dumps",
        "testdata/cpuid-masked",
        "testdata/cpuid-r",
    ] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "txt") {
                dumps.push(p);
            }
        }
    }
    dumps.sort();
    assert!(dumps.len() >= 20, "{dumps:?}");
    let mut profiles: Vec<_> = std::fs::read_dir(root.join("testdata/profiles"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    profiles.sort();
    let load = |paths: Vec<std::path::PathBuf>| -> Vec<report::model::schema::ResultFile> {
        paths
            .iter()
            .map(|p| report::model::load::read_result(p).unwrap())
            .collect()
    };
    let mut fixtures: Vec<_> = std::fs::read_dir(root.join("testdata/results"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    fixtures.sort();
    // The committed results only: a user's own run in results/ must not
    // change what this test sees.
    let committed = committed_results().into_iter().map(Into::into).collect();
    let result_sets = [load(committed), load(fixtures)];
    let mut checked = 0;
    for dump in &dumps {
        let cpu = harness::cpu::read_dump(dump).unwrap();
        let verdict = harness::verdict::verdict(&cpu, None);
        for profile in &profiles {
            let p = report::model::profile::Profile::read(profile).unwrap();
            for files in &result_sets {
                let target = report::output::size::DumpTarget {
                    file_name: dump.file_name().unwrap().to_string_lossy().into_owned(),
                    cpu: &cpu,
                    verdict: &verdict,
                };
                let s = report::output::size::size(&p, files, Some(target));
                let text = report::output::size::render_text(&s, false);
                checked +=
                    report::output::size::check_table_against_answer(&text).unwrap_or_else(|e| {
                        panic!("{} with {}: {e}\n{text}", dump.display(), profile.display())
                    });
            }
        }
    }
    assert!(checked > dumps.len() * profiles.len(), "{checked}");
}
