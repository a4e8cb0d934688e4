//! The synthetic fixtures in testdata/results are what `report::model::synth`
//! generates; this keeps them in step (UPDATE_GOLDEN=1 rewrites them).

mod common;

#[test]
fn fixtures_match_generator() {
    for (name, file) in report::model::synth::fixtures() {
        assert!(
            name.starts_with("synthetic-"),
            "fixtures must be labelled synthetic: {name}"
        );
        let mut text = serde_json::to_string(&file).unwrap();
        text.push('\n');
        let path = common::fixture_path(name);
        if common::updating() {
            std::fs::write(&path, &text).unwrap();
        }
        let on_disk =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(on_disk, text, "{name} is stale: rerun with UPDATE_GOLDEN=1");
        // And the loader accepts it and reads back the same value.
        assert_eq!(report::model::load::parse_result(&on_disk).unwrap(), file);
    }
}
