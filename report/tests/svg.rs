//! Every SVG parses as XML and carries its title, axis labels and series.

mod common;

use common::*;

fn texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not XML: {e}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(|t| t.trim().to_string())
        .collect()
}

fn has(texts: &[String], want: &str) -> bool {
    texts.iter().any(|t| t.contains(want))
}

#[test]
fn all_plots_parse_and_are_labelled() {
    let files = three_machines();
    let plots =
        report::output::plot::render_all(&files, &report::output::plot::PlotOptions::default())
            .unwrap();
    let names: Vec<&str> = plots.iter().map(|p| p.0.as_str()).collect();
    for want in [
        "entry-cost.svg",
        "ipi-cdf.svg",
        "refill.svg",
        "break-even.svg",
        "overhead-vs-rate.svg",
    ] {
        assert!(names.contains(&want), "{names:?}");
    }
    for (name, svg) in &plots {
        let t = texts(svg);
        match name.as_str() {
            "entry-cost.svg" => {
                assert!(has(&t, "Kernel entry cost per variant and CPU model"));
                assert!(has(&t, "median cost per call, ns"));
                assert!(has(&t, "experiment ("));
                for s in [
                    "Zen 4 (EPYC 9654 96-Core)",
                    "Cascade Lake (Xeon Gold 6248)",
                    "Skylake (Xeon Platinum 8160)",
                ] {
                    assert!(has(&t, s), "{name}: series {s} missing");
                }
                for cat in ["getpid", "getppid", "null", "+cr3_flush", "+invpcid2"] {
                    assert!(t.iter().any(|x| x == cat), "{name}: category {cat}");
                }
            }
            "ipi-cdf.svg" => {
                assert!(has(&t, "CDF"));
                assert!(has(&t, "interruption seen by the isolated CPU, ns"));
                assert!(has(&t, "fraction of interruptions"));
                assert!(has(&t, "kmod.kernel_range"));
                // A guest's series says so; a bare-metal one does not.
                let legend = |cpu: &str| -> Vec<&String> {
                    t.iter().filter(|x| x.starts_with(cpu)).collect()
                };
                let zen4 = legend("Zen 4");
                assert!(
                    !zen4.is_empty() && zen4.iter().all(|x| x.ends_with("guest)")),
                    "{t:?}"
                );
                assert!(
                    legend("Skylake").iter().all(|x| !x.contains("guest")),
                    "{t:?}"
                );
            }
            "refill.svg" => {
                assert!(has(&t, "TLB refill"));
                assert!(has(&t, "4 KiB pages"));
                assert!(has(&t, "refill cost, ns"));
            }
            "break-even.svg" => {
                assert!(has(
                    &t,
                    "Break-even: IPIs vs the series' flush on every entry"
                ));
                assert!(has(&t, "flush events per second"));
                assert!(has(&t, "kernel entries (syscalls) per second"));
                assert!(has(&t, "above a line: IPIs cost more"));
                // Each line says where its figures come from.
                assert!(has(&t, "IPI") && has(&t, "flush") && has(&t, "meas"));
                // PTI off (Cascade Lake, the Zen 4 guest): the flush runs
                // only with pti=on, and its line adds PTI's own cost.
                let cl = t.iter().find(|x| x.starts_with("Cascade Lake")).unwrap();
                assert!(
                    cl.contains("+ PTI") && cl.contains("would need pti=on"),
                    "{cl}"
                );
                let sk = t.iter().find(|x| x.starts_with("Skylake")).unwrap();
                assert!(!sk.contains("dashed") && !sk.contains("+ PTI"), "{sk}");
                // The Zen 4 guest's flush rows were measured with PTI off,
                // so they are not the series' cost: no line for it.
                assert!(!t.iter().any(|x| x.starts_with("Zen 4")), "{t:?}");
                assert!(has(&t, "dashed: PTI is off there"));
            }
            n if n.starts_with("overhead-vs-rate") => {
                assert!(has(&t, "Break-even"));
                assert!(has(&t, "% of one CPU"));
                assert!(has(&t, "per second"));
                assert!(has(&t, "IPI (status quo)"));
                // "series v6/v7", or with PTI off "pti=on + v6/v7" only.
                assert!(has(&t, "v6/v7"));
                assert!(has(&t, "proposal (Luto)"));
            }
            other => panic!("unexpected plot {other}"),
        }
    }
    // Cascade Lake has PTI off: its flush-on-entry lines are marked.
    let cl = plots
        .iter()
        .filter(|p| p.0.starts_with("overhead-vs-rate"))
        .find(|p| p.1.contains("Cascade Lake"))
        .unwrap();
    assert!(has(&texts(&cl.1), "would not run here"));
    // With PTI off, v6/v7 is drawn only as pti=on + v6/v7 (with PTI's own
    // cost), never as if it ran without it.
    assert!(has(&texts(&cl.1), "pti=on + v6/v7"));
    assert!(!has(&texts(&cl.1), "series v6/v7"));
    // The Zen 4 guest's flush rows were measured with PTI off: not the
    // series' cost, and no published figure stands in for its core, so
    // only the IPI is priced there and it has no overhead-vs-rate plot.
    assert!(!plots
        .iter()
        .filter(|p| p.0.starts_with("overhead-vs-rate"))
        .any(|p| p.1.contains("Zen 4")));
    assert!(!has(&texts(&cl.1), "guest"));
    assert!(!has(&texts(&cl.1), "INVLPGB"));
}

/// Sizes two machines leave out of the refill plot (delta <= 0) are
/// named once each, in the order first met.
#[test]
fn refill_names_each_size_left_out_once() {
    let mut files = three_machines();
    let set = |f: &mut report::model::schema::ResultFile, pages: u64| {
        let id = report::model::ids::ExperimentId::Refill(pages);
        let e = f.experiments.iter_mut().find(|e| e.id == id).unwrap();
        e.baseline.as_mut().unwrap().delta_median = -5.0;
    };
    set(&mut files[0], 256);
    set(&mut files[0], 8);
    set(&mut files[1], 8);
    set(&mut files[1], 64);
    let plots =
        report::output::plot::render_all(&files, &report::output::plot::PlotOptions::default())
            .unwrap();
    let svg = &plots.iter().find(|p| p.0 == "refill.svg").unwrap().1;
    let t = texts(svg);
    let desc = t
        .iter()
        .find(|x| x.contains("not drawn"))
        .unwrap_or_else(|| panic!("no sizes left out named: {t:?}"));
    let (_, list) = desc.rsplit_once(": ").unwrap();
    let mut sizes: Vec<&str> = list.split(", ").collect();
    let first_seen = sizes.clone();
    sizes.sort_unstable();
    sizes.dedup();
    assert_eq!(first_seen.len(), 3, "{desc}");
    assert_eq!(sizes, ["256", "64", "8"], "{desc}");
}

#[test]
fn write_all_writes_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plots");
    let files = vec![load("synthetic-tcg-partial.json")];
    let written = report::output::plot::write_all(&files, &dir, &Default::default()).unwrap();
    // The partial TCG run has entry costs only: one plot, no empty ones.
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["entry-cost.svg"]);
    texts(&std::fs::read_to_string(&written[0]).unwrap());
}
