use super::*;
use crate::output::size::cost::tests::fixture;

fn profile(budget: f64) -> Profile {
    Profile::parse(&format!(
        "syscalls_per_sec = 20000\nflush_events_per_sec = 1\nworking_set_pages = 128\nlatency_budget_us = {budget}\n"
    ))
    .unwrap()
}

fn block(name: &str, budget: f64) -> (Costs, Vec<String>) {
    let f = fixture(name);
    let ms = crate::model::machine::group(std::slice::from_ref(&f));
    let p = profile(budget);
    let costs = crate::output::size::machine_costs(&p, &ms[0]);
    let k = crate::output::size::machine_facts(&ms[0]);
    let lines = lines(&p, &k, &costs, &ms[0].host, None);
    (costs, lines)
}

#[test]
fn an_over_budget_strategy_is_never_the_answer() {
    // Skylake, PTI on: the IPIs' worst case is over 5 us, so they are
    // not called the cheapest, whatever their %CPU.
    let (costs, lines) = block("skylake-pti.json", 5.0);
    let ipi = costs.get(&Strategy::Ipi).unwrap();
    assert_eq!(ipi.budget_cell(5.0), "OVER");
    let answer = lines.iter().find(|l| l.starts_with("Answer:")).unwrap();
    assert!(answer.contains("nothing that runs here today"), "{answer}");
    assert!(answer.contains("series v6/v7"), "{answer}");
    // With a budget the IPIs meet, they are the answer today.
    let (_, lines) = block("skylake-pti.json", 50.0);
    let answer = lines.iter().find(|l| l.starts_with("Answer:")).unwrap();
    assert!(
        answer.starts_with("Answer: IPI (status quo) is the cheapest"),
        "{answer}"
    );
}

#[test]
fn pti_off_lists_the_honest_options() {
    let (_, lines) = block("cascadelake", 5.0);
    let all = lines.join(" ");
    assert!(
        all.contains("posted series defers no TLB-flush IPI"),
        "{all}"
    );
    assert!(all.contains("the IPIs as today"), "{all}");
    assert!(all.contains("pti=on + v6/v7: "), "{all}");
    assert!(all.contains("INVLPGB, which this CPU lacks"), "{all}");
    assert!(all.contains("unposted design"), "{all}");
    // A guest says its figures are no hardware pick.
    let (_, lines) = block("genoa", 5.0);
    assert!(lines.iter().any(|l| l.contains("not a hardware pick")));
}

#[test]
fn phrases_are_the_table_figures() {
    let (costs, _) = block("skylake-pti.json", 5.0);
    let c = costs.get(&Strategy::Ipi).unwrap();
    let f = c.figures().unwrap();
    let p = phrase(c, 5.0);
    assert!(
        p.starts_with(&format!(
            "IPI (status quo): {} of a CPU",
            units::pct(f.pct_cpu)
        )),
        "{p}"
    );
}
