//! Shared helpers for the golden tests: fixture paths and the
//! compare-or-update rule (`UPDATE_GOLDEN=1` rewrites the expected files).

#![allow(dead_code)]

use report::model::schema::ResultFile;
use std::path::PathBuf;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn fixture_path(name: &str) -> PathBuf {
    root().join("testdata/results").join(name)
}

pub fn load(name: &str) -> ResultFile {
    report::model::load::read_result(&fixture_path(name))
        .unwrap_or_else(|e| panic!("{name}: {e:#}"))
}

/// The three-machine fleet most golden tests use: a KVM Genoa, a
/// PTI-off Cascade Lake and a PTI Skylake.
pub fn three_machines() -> Vec<ResultFile> {
    [
        "synthetic-genoa-kvm.json",
        "synthetic-cascadelake-baremetal-pti-off.json",
        "synthetic-skylake-pti.json",
    ]
    .iter()
    .map(|n| load(n))
    .collect()
}

pub fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v != "0")
}

/// Compares `actual` with testdata/golden/`name`, or writes it when
/// UPDATE_GOLDEN is set.
pub fn golden(name: &str, actual: &str) {
    let path = root().join("testdata/golden").join(name);
    if updating() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b);
        panic!(
            "{name} differs from golden (first differing line {:?}); rerun with UPDATE_GOLDEN=1 if intended\n--- actual ---\n{actual}",
            first.map(|i| i + 1)
        );
    }
}

pub fn assert_width(name: &str, text: &str) {
    for (i, l) in text.lines().enumerate() {
        assert!(
            l.chars().count() <= 72,
            "{name}:{}: {} columns: {l}",
            i + 1,
            l.chars().count()
        );
    }
}
