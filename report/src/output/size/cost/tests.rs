use super::*;
use crate::model::ids::{Ipi, KmodIpi, Trigger};
use crate::model::schema::ResultFile;

fn profile(s: f64, f: f64, w: u64) -> Profile {
    Profile::parse(&format!(
        "syscalls_per_sec = {s}\nflush_events_per_sec = {f}\nworking_set_pages = {w}\nlatency_budget_us = 5\n"
    ))
    .unwrap()
}

/// A synthetic fixture of testdata/results (generating them all with
/// `synth::fixtures` is slow in a debug build).
pub(crate) fn fixture(name: &str) -> ResultFile {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/results");
    let path = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains(name))
        .unwrap_or_else(|| panic!("no fixture {name}"));
    crate::model::load::read_result(&path).unwrap()
}

fn costs_of(p: &Profile, f: &ResultFile) -> Costs {
    let ms = crate::model::machine::group(std::slice::from_ref(f));
    crate::output::size::machine_costs(p, &ms[0])
}

fn figures<'a>(c: &'a Costs, label: &str) -> &'a Figures {
    c.costs
        .iter()
        .find(|c| c.strategy.label() == label)
        .and_then(|c| c.figures())
        .unwrap_or_else(|| panic!("{label}: {:?}", c.costs))
}

#[test]
fn arithmetic_follows_the_equations() {
    let f = fixture("skylake-pti.json");
    let p = profile(20000.0, 2.0, 64);
    let c = costs_of(&p, &f);
    let hz = f.timer.tsc_hz;
    let ns = |cyc: f64| cyc * 1e9 / hz;
    let get = |id: &str| {
        f.experiments
            .iter()
            .find(|e| e.id.to_string() == id)
            .unwrap()
    };
    let r = ns(get("refill.w64").headline_cycles());
    let ipi = &get("ipi.kmod.kernel_range").summary;
    let close = |a: f64, b: f64| (a - b).abs() <= b.abs() * 1e-9 + 1e-12;

    // IPI: F x (I + R), worst I_p99 + R.
    let i = figures(&c, "IPI (status quo)");
    assert!(close(i.pct_cpu, 2.0 * (ns(ipi.median) + r) / 1e7), "{i:?}");
    assert!(close(i.worst_us, (ns(ipi.p99) + r) / 1e3));
    // v5 defers no TLB flush: the same as the IPIs.
    assert_eq!(figures(&c, "series v5").pct_cpu, i.pct_cpu);
    // v6/v7: S x (E + R) with E the variant the series picks.
    let e = get("entry.flush.invpcid2");
    let b = e.baseline.as_ref().unwrap();
    let v7 = figures(&c, "series v6/v7");
    assert!(close(v7.pct_cpu, 20000.0 * (ns(b.delta_median) + r) / 1e7));
    let e99 = ns((e.summary.p99 - b.summary.median).max(b.delta_median));
    assert!(close(v7.worst_us, (e99 + r) / 1e3));
    // Proposal: S x C + min(F, S) x (E + R), C assumed at the TSC rate.
    let cc = ns(p.deferred_check_cycles);
    let pr = figures(&c, "proposal (Luto)");
    let want = (20000.0 * cc + 2.0 * (ns(b.delta_median) + r)) / 1e7;
    assert!(close(pr.pct_cpu, want), "{} vs {want}", pr.pct_cpu);
    assert!(close(pr.worst_us, (cc + e99 + r) / 1e3));
    assert_eq!(pr.from(), "mix");
}

#[test]
fn nothing_runs_where_its_rule_says_it_does_not() {
    let p = profile(20000.0, 1.0, 128);
    // PTI off (Cascade Lake): the series defers no TLB flush today or
    // once applied; it needs pti=on.
    let c = costs_of(&p, &fixture("cascadelake"));
    for cost in &c.costs {
        if let Strategy::Series(posting) = &cost.strategy {
            if posting.work == EntryWork::FlushEveryEntry {
                assert!(matches!(cost.runs, Runs::IfPtiOn(_)), "{cost:?}");
            }
            assert!(!cost.runs.today());
        }
    }
    assert!(c.get(&Strategy::Invlpgb).is_none(), "no INVLPGB on the CPU");
    assert!(c
        .costs
        .iter()
        .any(|x| matches!(x.strategy, Strategy::PtiOnSeries(_))));
    // Only the pti=on row carries v6/v7's price there: without PTI's own
    // cost it would price something that cannot run.
    let flushing = crate::model::kernel_rules::flushing_posting();
    let v7 = c.get(&Strategy::Series(flushing)).unwrap();
    assert_eq!(
        v7.outcome,
        Outcome::PricedAs(Strategy::PtiOnSeries(flushing))
    );
    assert!(v7.figures().is_none() && v7.budget_cell(5.0) == "-");
    assert!(figures(&c, "pti=on + v6/v7")
        .parts
        .iter()
        .any(|f| f.symbol == "P"));
    // PTI on (Skylake): no pti=on row, the series would run once applied
    // and is priced as such.
    let c = costs_of(&p, &fixture("skylake-pti.json"));
    assert!(c
        .get(&Strategy::Series(flushing))
        .unwrap()
        .figures()
        .is_some());
    assert!(!c
        .costs
        .iter()
        .any(|x| matches!(x.strategy, Strategy::PtiOnSeries(_))));
    // INVLPGB: today only with Linux >= 6.15 and PTI off.
    let mut g = fixture("genoa");
    assert!(costs_of(&p, &g)
        .get(&Strategy::Invlpgb)
        .unwrap()
        .runs
        .today());
    g.environment.platform.as_mut().unwrap().kernel_release = "6.14.0".into();
    assert!(!costs_of(&p, &g)
        .get(&Strategy::Invlpgb)
        .unwrap()
        .runs
        .today());
    g.environment.platform.as_mut().unwrap().kernel_release = "6.15.0".into();
    g.environment.platform.as_mut().unwrap().pti = true;
    assert!(!costs_of(&p, &g)
        .get(&Strategy::Invlpgb)
        .unwrap()
        .runs
        .today());
}

#[test]
fn the_flush_figure_comes_from_the_first_candidate() {
    let f = fixture("skylake-pti.json");
    let ms = crate::model::machine::group(std::slice::from_ref(&f));
    let m = &ms[0];
    let e = flush_on_entry_figure(
        m,
        &["entry.flush.cr4_pge".into(), "entry.flush.invpcid2".into()],
    )
    .unwrap();
    assert_eq!(
        e.source,
        Source::Measured {
            id: "entry.flush.cr4_pge".into(),
            like: None,
            emulated: true
        }
    );
    assert!(flush_on_entry_figure(m, &["entry.flush.nope".into()]).is_none());
    assert_eq!(
        flush_candidates(true)
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>(),
        [
            "entry.flush.series.next_entry",
            "entry.flush.series",
            "entry.flush.invpcid2.next_entry",
            "entry.flush.invpcid2"
        ]
    );
    assert_eq!(
        flush_candidates(false)[3].to_string(),
        "entry.flush.cr4_pge"
    );
    assert!(measured_flush(m, true)
        .unwrap()
        .source
        .label()
        .starts_with("measured, emulated, entry.flush.invpcid2"));
}

#[test]
fn missing_refill_is_said_and_makes_the_worst_a_bound() {
    // The TCG fixture has no refill or module results; priors for its
    // core (none) leave the series unpriced, the IPI priced or missing,
    // never silently complete.
    let p = profile(1000.0, 1.0, 64);
    let c = costs_of(&p, &fixture("tcg"));
    for cost in &c.costs {
        match &cost.outcome {
            Outcome::Figures(f) => {
                assert!(!f.left_out.is_empty() || c.ingredients.refill.is_some());
                if !f.left_out.is_empty() {
                    assert_ne!(cost.budget_cell(5.0), "ok", "{cost:?}");
                }
            }
            Outcome::Missing(why) => assert!(!why.is_empty()),
            // The row it points at is in the table.
            Outcome::PricedAs(other) => assert!(c.get(other).is_some(), "{cost:?}"),
        }
    }
}

#[test]
fn scenario_figures_replace_the_sums_they_measured() {
    use crate::output::scenario::tests::push_scenario;
    let mut f = fixture("skylake-pti.json");
    let hz = f.timer.tsc_hz;
    let ns = |cyc: f64| cyc * 1e9 / hz;
    let close = |a: f64, b: f64| (a - b).abs() <= b.abs() * 1e-9 + 1e-12;
    let get = |f: &ResultFile, id: &str| {
        f.experiments
            .iter()
            .find(|e| e.id.to_string() == id)
            .cloned()
    };
    let r = ns(get(&f, "refill.w64").unwrap().headline_cycles());
    let ipi99 = ns(get(&f, "ipi.kmod.kernel_range").unwrap().summary.p99);
    let kr = Trigger::Ipi(Ipi::Kmod(KmodIpi::KernelRange)).to_string();
    let on_entry = on_entry_triggers(true)[0].to_string();
    let deferred = Trigger::Deferred.to_string();
    push_scenario(&mut f, &kr, 26_000, 0, 64);
    for (t, x, shift) in [(&on_entry, 0, 900), (&deferred, 5_000, 30)] {
        push_scenario(&mut f, t, x, shift, 64);
        let e = f.experiments.last_mut().unwrap();
        e.params.insert("pti".into(), true.into());
    }
    let p = profile(20000.0, 2.0, 64);
    let c = costs_of(&p, &f);
    let scen = |f: &Figures| {
        f.parts
            .iter()
            .all(|x| matches!(x.source, Source::Scenario { .. }))
    };
    // IPI: the lost time per event stands for I + R(W); the worst case
    // stays the ingredients' I_p99 + R(W).
    let i = figures(&c, "IPI (status quo)");
    assert!(scen(i) && i.parts.len() == 1, "{i:?}");
    assert!(close(i.per_event_ns, ns(26_000.0)), "{i:?}");
    assert!(close(i.worst_us, (ipi99 + r) / 1e3), "{i:?}");
    let label = i.parts[0].source.label();
    assert_eq!(
        label,
        format!(
            "{}, scenario.kmod.kernel_range",
            crate::output::scenario::LABEL
        )
    );
    assert_eq!(i.from(), "scen");
    // v6/v7: the per-iteration change of every entry flushing, E + R(W).
    let v7 = figures(&c, "series v6/v7");
    assert!(scen(v7) && close(v7.per_event_ns, ns(900.0)), "{v7:?}");
    assert!(v7.parts[0].source.label().contains("emulated"));
    // Proposal: S x C + min(F, S) x (E + R(W)), both from the deferred
    // scenario.
    let pr = figures(&c, "proposal (Luto)");
    assert!(scen(pr) && pr.parts.len() == 2, "{pr:?}");
    let want = 20000.0 * ns(30.0) + 2.0 * ns(5_000.0);
    assert!(close(pr.pct_cpu, want / 1e7), "{} vs {want}", pr.pct_cpu);
    assert!(crate::output::size::answer::ingredients(&c)
        .iter()
        .any(|l| l.starts_with("E+R(64) = ") && l.contains("measured (scenario)")));

    // Another working set than the scenarios walked: the ingredients.
    let c = costs_of(&profile(20000.0, 2.0, 128), &f);
    for s in ["IPI (status quo)", "series v6/v7", "proposal (Luto)"] {
        let x = figures(&c, s);
        assert!(x
            .parts
            .iter()
            .all(|p| !matches!(p.source, Source::Scenario { .. })));
    }
    // An entry row measured with PTI off is not the series' cost.
    for e in f
        .experiments
        .iter_mut()
        .filter(|e| matches!(e.id.trigger(), Some(Trigger::OnEntry(_))))
    {
        e.params.insert("pti".into(), false.into());
    }
    let c = costs_of(&p, &f);
    assert!(!scen(figures(&c, "series v6/v7")));
    assert!(scen(figures(&c, "IPI (status quo)")));
}
