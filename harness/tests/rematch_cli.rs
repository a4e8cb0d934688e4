//! `entrybench rematch` from the outside: the stored dumps of real runs
//! match as recorded, a dump whose figures were changed is reported with
//! exit 1, and files that are not dumps exit 2 with one line.

mod common;

use common::{entrybench, fails_naming, root, stdout_of};
use std::path::PathBuf;

fn dump(name: &str) -> PathBuf {
    root().join("testdata/ipi-dumps").join(name)
}

const MPROTECT: &str = "emerald-rapids-kvm-20261130T1640-ipi.user.mprotect.json";
const MUNMAP: &str = "emerald-rapids-kvm-20261130T1640-ipi.user.munmap-no-trace-check.json";

#[test]
fn stored_dumps_rematch_as_recorded() {
    let out = stdout_of(&[
        "rematch".as_ref(),
        dump(MPROTECT).as_os_str(),
        dump(MUNMAP).as_os_str(),
    ]);
    for (id, fit) in [
        ("ipi.user.mprotect", " trace"),
        ("ipi.user.munmap", " control"),
    ] {
        let at = out
            .find(id)
            .unwrap_or_else(|| panic!("{id} missing: {out}"));
        let block: String = out[at..].lines().take(5).collect::<Vec<_>>().join("\n");
        assert!(block.contains("taken on Intel(R) Xeon(R)"), "{block}");
        let [rec, again] = [3, 4].map(|i| block.lines().nth(i).unwrap().trim().to_string());
        assert!(
            rec.starts_with("recorded") && again.starts_with("rematched"),
            "{block}"
        );
        assert_eq!(
            rec.trim_start_matches("recorded").trim(),
            again.trim_start_matches("rematched").trim()
        );
        assert!(rec.contains(fit), "{block}");
    }
    assert!(!out.contains("differs"), "{out}");
    assert!(!out.contains("claimed no gap"), "{out}");
}

/// The one call of the stored mprotect run that claimed no gap: 8.2 us,
/// while the victim was in a 901 us gap that the next call claimed.
#[test]
fn misses_lists_the_calls_that_claimed_no_gap_and_the_gaps_around_them() {
    let out = stdout_of(&[
        "rematch".as_ref(),
        "--misses".as_ref(),
        dump(MPROTECT).as_os_str(),
    ]);
    assert!(
        out.contains("1 calls long enough to send an IPI claimed no gap (tolerance 50.0 us before")
            && out.contains("call of 8.2 us: 1 gaps")
            && out.contains("ends    +836.8 us, lasts    901.0 us, claimed by another call"),
        "{out}"
    );
}

#[test]
fn a_dump_whose_figures_differ_exits_1_and_says_so() {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dump(MUNMAP)).unwrap()).unwrap();
    v["figures"]["seen"] = 1.into();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("changed.json");
    std::fs::write(&f, v.to_string()).unwrap();
    let out = entrybench().arg("rematch").arg(&f).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stdout.contains("recorded   1/486 "), "{stdout}");
    assert!(stdout.contains("rematched  483/486 99.38%"), "{stdout}");
    assert!(stdout.contains("differs"), "{stdout}");
}

/// A file that is not a dump is said on stderr and skipped: the others
/// are still checked, and the exit status is the error's.
#[test]
fn a_bad_file_does_not_stop_the_others() {
    let result = root().join("testdata/results/synthetic-genoa-kvm.json");
    let out = entrybench()
        .arg("rematch")
        .arg(&result)
        .arg(dump(MUNMAP))
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr.contains("is not an IPI dump"), "{stderr}");
    assert!(stdout.contains("rematched  483/486"), "{stdout}");
}

#[test]
fn files_that_are_not_dumps_are_refused() {
    let result = root().join("testdata/results/synthetic-genoa-kvm.json");
    fails_naming(&["rematch", result.to_str().unwrap()], "is not an IPI dump");
    fails_naming(
        &["rematch", "/nonexistent/d.json"],
        "cannot read /nonexistent/d.json",
    );
    fails_naming(&["rematch"], "<FILE>");
}
