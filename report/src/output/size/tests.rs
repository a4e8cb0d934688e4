use super::*;
use crate::output::size::cost::tests::fixture;

fn profile() -> Profile {
    Profile::parse(
        "syscalls_per_sec = 1000\nflush_events_per_sec = 1\nworking_set_pages = 64\nlatency_budget_us = 5\n",
    )
    .unwrap()
}

/// Sizes `profile()` for a dump of `cpu` (with the Cascade Lake
/// verdict) against `files`; returns the dump's block (the first).
fn size_dump_of(cpu: &CpuFacts, files: &[ResultFile]) -> Block {
    let env = fixture("cascadelake").environment;
    let dump = DumpTarget {
        file_name: "dump.txt".into(),
        cpu,
        verdict: &env.verdict,
    };
    let s = size(&profile(), files, Some(dump));
    assert!(s.blocks[0].dump, "the asked-for CPU comes first");
    s.blocks[0].clone()
}

#[test]
fn unmeasured_dump_still_says_what_runs() {
    // No results at all: published figures for the core, and the CPU's
    // own facts still decide that the series defers nothing with PTI off.
    let m = size_dump_of(&fixture("cascadelake").environment.cpu, &[]);
    assert_eq!(m.basis, Basis::Published);
    let all = m.answer.join(" ");
    assert!(all.contains("defers no TLB-flush IPI"), "{all}");
    assert!(
        m.detail
            .iter()
            .any(|n| n.contains("`entrybench run` (with")),
        "{:?}",
        m.detail
    );
    // The Gold 6248 figure is the published E, labelled as such.
    let e = m.costs.ingredients.flush.as_ref().unwrap();
    assert!(e.source.label().starts_with("published (v7 cover"), "{e:?}");
    assert!(e.note.as_ref().unwrap().contains("not the flush alone"));
}

#[test]
fn same_model_results_are_used_as_measured() {
    let files = [fixture("cascadelake")];
    let cpu = files[0].environment.cpu.clone();
    let m = size_dump_of(&cpu, &files);
    assert_eq!(m.basis, Basis::Measured);
    let mut other = cpu;
    other.model += 1;
    let m = size_dump_of(&other, &files);
    assert!(matches!(m.basis, Basis::LikeModel(_)), "{:?}", m.basis);
    assert!(m
        .costs
        .ingredients
        .ipi
        .as_ref()
        .unwrap()
        .source
        .label()
        .starts_with("measured (like model: "));
    // A like model is not a measurement of this CPU: no pick from it.
    assert!(!m.bare_metal_measurement());
}

/// A Gold 5218 dump against a Gold 6248 measured on bare metal (same
/// family, model and core): the figures are the 6248's, so the block says
/// "measured (like model: ... Gold 6248)", and neither it nor the
/// recommendation names the 5218 for them.
#[test]
fn another_part_of_the_same_model_is_named_as_the_like_model() {
    let files = [fixture("cascadelake")];
    let mut cpu = files[0].environment.cpu.clone();
    cpu.brand = "Intel(R) Xeon(R) Gold 5218 CPU @ 2.30GHz".into();
    let env = fixture("cascadelake").environment;
    let dump = DumpTarget {
        file_name: "dump.txt".into(),
        cpu: &cpu,
        verdict: &env.verdict,
    };
    let s = size(&profile(), &files, Some(dump));
    let d = &s.blocks[0];
    assert_eq!(
        d.basis,
        Basis::LikeModel("Cascade Lake (Xeon Gold 6248)".into())
    );
    let text = render_text(&s, false);
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("Figures: measured (like model: Cascade Lake (Xeon Gold 6248))"),
        "{text}"
    );
    assert!(
        s.recommendation
            .starts_with("Cascade Lake (Xeon Gold 6248),"),
        "{}",
        s.recommendation
    );
    assert!(!s.recommendation.contains("5218"), "{}", s.recommendation);
    let i = d.costs.ingredients.ipi.as_ref().unwrap();
    assert!(
        i.source
            .label()
            .starts_with("measured (like model: Cascade Lake (Xeon Gold 6248))"),
        "{i:?}"
    );
}

#[test]
fn a_guest_is_never_a_hardware_pick() {
    let s = size(&profile(), &[fixture("genoa")], None);
    assert!(
        s.recommendation.starts_with("no hardware pick"),
        "{}",
        s.recommendation
    );
    let s = size(
        &profile(),
        &[fixture("genoa"), fixture("cascadelake")],
        None,
    );
    assert!(
        s.recommendation.starts_with("Cascade Lake"),
        "{}",
        s.recommendation
    );
}

#[test]
fn lines_fit_and_explain_adds_the_sources() {
    let s = size(&profile(), &[fixture("skylake-pti.json")], None);
    let short = render_text(&s, false);
    let long = render_text(&s, true);
    for l in short.lines().chain(long.lines()) {
        assert!(l.chars().count() <= WIDTH, "{l}");
    }
    assert!(!short.contains("20251114151428.1064524-9"));
    assert!(long.contains("20251114151428.1064524-9"), "{long}");
    assert!(long.contains("Sizing equations"));
}

#[test]
fn the_table_answer_check_catches_a_contradiction() {
    // The contradictions issue 15 found: a figure the answer computes on
    // its own, a budget word the table does not give, and an answer that
    // picks a row over the budget.
    let mut t = Table::new(
        "",
        &[
            "strategy", "ns/event", "%CPU", "worst us", "budget", "runs", "from",
        ],
    );
    t.push(
        [
            "IPI (status quo)",
            "4381",
            "4.4e-4%",
            "6.45",
            "OVER",
            "yes",
            "meas",
        ]
        .map(String::from)
        .to_vec(),
    );
    let table = t.render_text();
    let block = |answer: &str| format!("x\n\n== CPU\n{answer}\n{table}");
    let good = "Today: IPI (status quo): 4.4e-4% of a CPU, worst 6.45 us, over budget.";
    assert_eq!(check_table_against_answer(&block(good)), Ok(1));
    let pick =
        "Answer: IPI (status quo) is the cheapest that runs today within the 5.00 us budget.";
    for bad in [
        "Today: IPI (status quo): 1.1e-4% of a CPU, worst 6.45 us, over budget.",
        "Today: IPI (status quo): 4.4e-4% of a CPU, worst 6.45 us, within budget.",
        &format!("{good} {pick}"),
        "Answer: nothing fits.",
    ] {
        assert!(check_table_against_answer(&block(bad)).is_err(), "{bad}");
    }
}

#[test]
fn with_pti_off_only_the_pti_on_row_prices_v6_v7() {
    let header = [
        "strategy", "ns/event", "%CPU", "worst us", "budget", "runs", "from",
    ];
    let ipi = [
        "IPI (status quo)",
        "3216",
        "3.2e-4%",
        "3.25",
        "ok",
        "yes",
        "meas",
    ];
    let pti = [
        "pti=on + v6/v7",
        "2085",
        "4.2%",
        ">=2.09",
        "?",
        "pti=on",
        "mix",
    ];
    let answer = "Today: IPI (status quo): 3.2e-4% of a CPU, worst 3.25 us, within budget.";
    let render = |v7: Option<[&str; 7]>| {
        let mut t = Table::new("", &header);
        t.push(ipi.map(String::from).to_vec());
        match v7 {
            Some(row) => t.push(row.map(String::from).to_vec()),
            None => t.push_spanning(
                [
                    "series v6/v7",
                    "see pti=on + v6/v7",
                    "",
                    "",
                    "",
                    "pti=on",
                    "-",
                ]
                .map(String::from)
                .to_vec(),
                1,
                4,
            ),
        }
        t.push(pti.map(String::from).to_vec());
        format!("x\n\n== CPU\n{answer}\n{}", t.render_text())
    };
    let honest = render(None);
    assert!(
        honest.contains("series v6/v7      see pti=on + v6/v7"),
        "{honest}"
    );
    assert_eq!(check_table_against_answer(&honest), Ok(1));
    // The row as it was: a price for v6/v7 without PTI's own cost.
    let priced = render(Some([
        "series v6/v7",
        "1944",
        "3.9%",
        "1.95",
        "ok",
        "pti=on",
        "meas",
    ]));
    let e = check_table_against_answer(&priced).unwrap_err();
    assert!(e.contains("runs here only as pti=on + v6/v7"), "{e}");
}
