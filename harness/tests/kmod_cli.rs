//! `entrybench kmod ...`: clear one-line errors and exit status 2, never a
//! panic. Tests that need /dev/entrybench are `#[ignore]`d: scripts/vm-test.sh
//! runs this binary with `--ignored` inside the guest, where the module is
//! loaded (and the whole selftest/fuzz runs there too).

mod common;

use common::entrybench;
use predicates::prelude::*;
use std::path::Path;

fn module_loaded() -> bool {
    Path::new("/dev/entrybench").exists()
}

#[test]
fn status_without_module_says_not_loaded() {
    if module_loaded() {
        return;
    }
    entrybench()
        .args(["kmod", "status"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "device           /dev/entrybench absent",
        ));
}

#[test]
fn selftest_and_fuzz_without_device_fail_cleanly() {
    if module_loaded() {
        return;
    }
    for args in [
        &["kmod", "selftest"][..],
        &["kmod", "fuzz", "--count", "5"][..],
    ] {
        let out = entrybench().args(args).output().expect("run");
        common::assert_error_names(&out, "/dev/entrybench");
    }
}

#[test]
fn load_of_a_missing_file_fails_cleanly() {
    let out = entrybench()
        .args(["kmod", "load", "--ko", "/nonexistent/entrybench.ko"])
        .output()
        .expect("run");
    // Either this kernel cannot load modules at all, or the file is missing.
    let err = common::assert_one_line_error(&out);
    assert!(
        err.contains("cannot load modules") || err.contains("/nonexistent/entrybench.ko"),
        "stderr: {err}"
    );
}

#[test]
fn build_with_a_bogus_kernel_tree_fails_before_make() {
    let out = entrybench()
        .args(["kmod", "build", "--kdir", "/nonexistent/kernel/build"])
        .output()
        .expect("run");
    common::assert_error_names(&out, "not a kernel build tree");
}

#[test]
#[ignore = "needs /dev/entrybench"]
fn selftest_rejects_unknown_variant_names() {
    assert!(module_loaded(), "/dev/entrybench is absent");
    let out = entrybench()
        .args(["kmod", "selftest", "--expect-unsupported", "bogus"])
        .output()
        .expect("run");
    common::assert_error_names(&out, "unknown variant");
}

#[test]
#[ignore = "needs /dev/entrybench"]
fn status_with_module_reports_the_device() {
    assert!(module_loaded(), "/dev/entrybench is absent");
    entrybench()
        .args(["kmod", "status"])
        .assert()
        .success()
        .stdout(predicate::str::contains("module           loaded"))
        .stdout(predicate::str::contains(format!(
            "abi version      {}",
            harness::kmod::abi::ABI_VERSION
        )))
        .stdout(predicate::str::contains("variants         nop"));
}

#[test]
#[ignore = "needs /dev/entrybench"]
fn fuzz_with_module_runs_and_counts() {
    assert!(module_loaded(), "/dev/entrybench is absent");
    entrybench()
        .args(["kmod", "fuzz", "--count", "200", "--seed", "3"])
        .assert()
        .success()
        .stdout(
            predicate::str::is_match(r"kmod fuzz: 2[0-9][0-9] ioctls, outcomes .*ok=")
                .expect("regex"),
        );
}

#[test]
#[ignore = "needs /dev/entrybench"]
fn unload_while_open_is_refused_cleanly() {
    assert!(module_loaded(), "/dev/entrybench is absent");
    let _held = std::fs::File::open("/dev/entrybench").expect("open the device");
    let out = entrybench().args(["kmod", "unload"]).output().expect("run");
    common::assert_error_names(&out, "in use");
}
