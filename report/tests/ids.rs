//! Experiment ids are typed (`ExperimentId`) but stay the strings they
//! were in the files: every shipped result file, of every schema, loads
//! with the ids it holds and writes them back unchanged. The schema 1 and
//! 2 files are the committed runs of results/ (by name: a file a user
//! adds there plays no part).

mod common;

use report::model::schema::{ExperimentId, IrqRow, ResultFile};
use serde_json::Value;

const FILES: &[&str] = &[
    "results/vm-amd-epyc-20261124T211556Z.json",
    "results/vm-intel-xeon-processor-20261124T233638Z.json",
    "results/vm-intel-xeon-processor-20261124T233733Z.json",
    "testdata/results/synthetic-cascadelake-baremetal-pti-off.json",
    "testdata/results/synthetic-genoa-kvm.json",
    "testdata/results/synthetic-skylake-pti-coalesce.json",
    "testdata/results/synthetic-skylake-pti.json",
    "testdata/results/synthetic-tcg-partial.json",
];

fn raw_ids(v: &Value) -> Vec<String> {
    v["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_shipped_file_keeps_its_ids() {
    let mut schemas = Vec::new();
    for name in FILES {
        let path = common::root().join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let raw: Value = serde_json::from_str(&text).unwrap();
        schemas.push(raw["schema_version"].as_u64().unwrap());
        let want = raw_ids(&raw);
        assert!(!want.is_empty(), "{name}");
        let f: ResultFile =
            report::model::load::parse_result(&text).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let got: Vec<String> = f.experiments.iter().map(|e| e.id.to_string()).collect();
        assert_eq!(got, want, "{name}: loaded");
        // Every id the tool wrote is one this version reads typed.
        for e in &f.experiments {
            assert!(e.id.is_known(), "{name}: {} read as unknown", e.id);
        }
        let again: Value = serde_json::to_value(&f).unwrap();
        assert_eq!(raw_ids(&again), want, "{name}: written back");
        // The IPI rows read typed where the file has them.
        for e in f.experiments.iter().filter(|e| e.ipi.is_some()) {
            let row = e.params.get("row").and_then(Value::as_str);
            assert_eq!(e.irq_row().map(IrqRow::name), row, "{name}: {}", e.id);
        }
    }
    schemas.sort();
    schemas.dedup();
    assert_eq!(schemas, [1, 2, 3], "a file of every schema");
}

#[test]
fn an_unknown_id_loads_as_written_and_is_not_tabled() {
    let path = common::fixture_path("synthetic-skylake-pti.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let odd = "ipi.future.method\u{e9}";
    v["experiments"][1]["id"] = odd.into();
    let f = report::model::load::parse_result(&v.to_string()).unwrap();
    assert_eq!(f.experiments[1].id, ExperimentId::Unknown(odd.into()));
    assert_eq!(f.experiments[1].id.to_string(), odd);
    let again = serde_json::to_value(&f).unwrap();
    assert_eq!(again["experiments"][1]["id"], odd);
    // The report runs and leaves it out of every typed table.
    let text = report::render_text(std::slice::from_ref(&f));
    assert!(!text.contains("future"), "{text}");
}

#[test]
fn the_row_is_its_proc_interrupts_label() {
    for (row, name) in [(IrqRow::Tlb, "TLB"), (IrqRow::Cal, "CAL")] {
        assert_eq!(row.name(), name);
        assert_eq!(serde_json::to_value(row).unwrap(), name);
        assert_eq!(Value::from(row), name);
        assert_eq!(serde_json::from_value::<IrqRow>(name.into()).unwrap(), row);
    }
    assert!(serde_json::from_value::<IrqRow>("LOC".into()).is_err());
}

#[test]
fn a_clock_in_params_is_its_serde_name() {
    use report::model::schema::ClockKind;
    for c in [ClockKind::Tsc, ClockKind::CoreCycles] {
        let v = Value::from(c);
        assert_eq!(v, serde_json::to_value(c).unwrap());
        assert_eq!(serde_json::from_value::<ClockKind>(v).unwrap(), c);
    }
    assert_eq!(Value::from(ClockKind::Tsc), "tsc");
}

/// A scenario's trigger is typed (`ids::ScenarioTrigger`) but stays the
/// string it was: a fragment reads typed and writes back byte for byte,
/// the committed scenario runs (by name) keep theirs, and a trigger this
/// version cannot read loads as written (like an id), is written back
/// unchanged, ranks last and reads as an IPI of its name.
#[test]
fn a_scenario_trigger_is_its_string() {
    use report::model::ids::{Ipi, ScenarioTrigger, Trigger, UserIpi};
    use report::output::scenario::Strategy;
    let mprotect = ScenarioTrigger::Known(Trigger::Ipi(Ipi::User(UserIpi::Mprotect)));
    use report::model::schema::ScenarioStats;
    const FRAGMENT: &str = r#"{"trigger":"user.mprotect","iteration":"getppid + walk of 64 pages","pages":64,"rate_hz":1000.5,"events":2982,"overlapped":263195,"run":{"duration_s":3.5,"iterations":16328765,"iter_per_s":5442916.5,"preempted":0,"busy_cycles":6900006284.5},"lost_per_event_cycles":32188.5}"#;
    let s: ScenarioStats = serde_json::from_str(FRAGMENT).unwrap();
    assert_eq!(s.trigger, mprotect);
    assert_eq!(serde_json::to_string(&s).unwrap(), FRAGMENT);

    // In a whole file, through the loader.
    let path = common::fixture_path("synthetic-skylake-pti.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["experiments"][1]["id"] = "scenario.user.mprotect".into();
    v["experiments"][1]["scenario"] = serde_json::from_str(FRAGMENT).unwrap();
    let f = report::model::load::parse_result(&v.to_string()).unwrap();
    let s = f.experiments[1].scenario.as_ref().unwrap();
    assert_eq!(s.trigger, mprotect);
    let again = serde_json::to_value(&f).unwrap();
    assert_eq!(
        again["experiments"][1]["scenario"]["trigger"],
        "user.mprotect"
    );

    let unknown = "user.frobnicate";
    v["experiments"][1]["scenario"]["trigger"] = unknown.into();
    let f = report::model::load::parse_result(&v.to_string()).unwrap_or_else(|e| panic!("{e:#}"));
    let s = f.experiments[1].scenario.as_ref().unwrap();
    assert_eq!(s.trigger, ScenarioTrigger::Unknown(unknown.into()));
    assert_eq!(s.trigger.to_string(), unknown);
    let again = serde_json::to_value(&f).unwrap();
    assert_eq!(again["experiments"][1]["scenario"]["trigger"], unknown);
    let fragment = FRAGMENT.replace("user.mprotect", unknown);
    let s: ScenarioStats = serde_json::from_str(&fragment).unwrap();
    assert_eq!(serde_json::to_string(&s).unwrap(), fragment);
    // As before the trigger was typed: after every kind this version
    // knows in the tables, and an IPI of its name.
    assert!(ScenarioTrigger::from("kmod.deferred").rank() < s.trigger.rank());
    assert_eq!(
        Strategy::of_trigger(&s.trigger),
        Strategy::Ipi("user".into(), "frobnicate".into())
    );
    assert!(serde_json::from_str::<ScenarioTrigger>("3").is_err());

    // The committed runs with scenarios: every trigger written back as read.
    let triggers = |v: &Value| -> Vec<String> {
        v["experiments"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["scenario"]["trigger"].as_str().map(String::from))
            .collect()
    };
    for name in [
        "results/vm-intel-xeon-processor-20261130T031124Z.json",
        "results/vm-intel-xeon-processor-20261130T113114Z.json",
    ] {
        let text = std::fs::read_to_string(common::root().join(name)).unwrap();
        let raw: Value = serde_json::from_str(&text).unwrap();
        let want = triggers(&raw);
        assert!(want.len() >= 6, "{name}: {want:?}");
        let f =
            report::model::load::parse_result(&text).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert_eq!(triggers(&serde_json::to_value(&f).unwrap()), want, "{name}");
    }
}
