//! `entrybench report` and `compare` on a criterion directory (the
//! trimmed `cargo bench` output in testdata/criterion): the import is
//! reached from the command line and gives the usual tables.

mod common;

use common::entrybench;
use std::path::PathBuf;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/criterion")
}

#[test]
fn report_reads_a_criterion_directory() {
    let out = entrybench().arg("report").arg(fixture()).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "Kernel entry cost",
        "entry.null",
        "TLB refill after a full flush",
        "Flush on entry",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    assert!(text.lines().all(|l| l.chars().count() <= 72), "{text}");
}

#[test]
fn compare_takes_a_criterion_directory_on_either_side() {
    let run = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/criterion/entry")
        .join("..");
    let out = entrybench()
        .arg("compare")
        .arg(&run)
        .arg(fixture())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("entry.null") && text.contains("refill.w16"),
        "{text}"
    );
}

#[test]
fn a_directory_without_benches_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = entrybench().arg("report").arg(dir.path()).output().unwrap();
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}
