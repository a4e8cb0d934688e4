//! `entrybench kmod ...` on a machine where the module is not loaded (CI,
//! this container): clear one-line errors and exit status 2, never a panic.
//! The loaded-module paths run in the QEMU guest (scripts/vm-test.sh).

mod common;

use common::entrybench;
use predicates::prelude::*;
use std::path::Path;

fn module_loaded() -> bool {
    Path::new("/dev/entrybench").exists()
}

/// One line on stderr, the CLI's error prefix, exit status 2.
fn assert_one_line_error(out: &std::process::Output, needle: &str) {
    let line = common::assert_one_line_error(out);
    assert!(line.contains(needle), "stderr lacks {needle:?}: {line}");
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
        assert_one_line_error(&out, "/dev/entrybench");
    }
}

#[test]
fn load_of_a_missing_file_fails_cleanly() {
    let out = entrybench()
        .args(["kmod", "load", "--ko", "/nonexistent/entrybench.ko"])
        .output()
        .expect("run");
    // Either this kernel cannot load modules at all, or the file is missing.
    assert_one_line_error(&out, "");
    let err = String::from_utf8_lossy(&out.stderr);
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
    assert_one_line_error(&out, "not a kernel build tree");
}

#[test]
fn selftest_rejects_unknown_variant_names() {
    if !module_loaded() {
        // Opening the device fails first; covered above.
        return;
    }
    let out = entrybench()
        .args(["kmod", "selftest", "--expect-unsupported", "bogus"])
        .output()
        .expect("run");
    assert_one_line_error(&out, "unknown variant");
}
