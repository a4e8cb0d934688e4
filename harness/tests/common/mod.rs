//! Helpers shared by the CLI integration tests: the binary, the repo root,
//! and the one error contract every subcommand keeps (exit status 2, one
//! stderr line `entrybench: error: ...`, nothing on stdout, no panic).

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

pub fn entrybench() -> Command {
    Command::cargo_bin("entrybench").expect("entrybench binary built")
}

/// `entrybench ARGS OUT` in the background: stdout dropped, stderr piped
/// (`stderr_of` reads it once the child has exited).
pub fn spawn(args: &[&str], out: &Path) -> Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("entrybench"))
        .args(args)
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("entrybench starts")
}

/// Sends SIGINT to `child` and waits for it to exit; after 30 s it is
/// killed and the test fails, naming `what`.
pub fn interrupt(child: &mut Child, what: &str) -> ExitStatus {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let t = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if t.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("{what}: did not stop within 30 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What an exited `spawn`ed child wrote to stderr.
pub fn stderr_of(child: &mut Child) -> String {
    let mut s = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().expect("piped"), &mut s).unwrap();
    s
}

/// The repository root (testdata/ lives there).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Checks the error contract on a finished run; returns the error line.
pub fn assert_one_line_error(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "status {:?}, stderr: {err}",
        out.status
    );
    assert!(
        out.stdout.is_empty(),
        "stdout not empty: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "not one line: {err:?}");
    assert!(lines[0].starts_with("entrybench: error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    lines[0].to_string()
}

/// The error contract, and the error line names `needle`.
pub fn assert_error_names(out: &Output, needle: &str) -> String {
    let line = assert_one_line_error(out);
    assert!(line.contains(needle), "stderr lacks {needle:?}: {line}");
    line
}

/// Runs `entrybench ARGS`: the error contract, and the line names `want`.
pub fn fails_naming(args: &[&str], want: &str) -> String {
    let out = entrybench().args(args).output().expect("entrybench runs");
    assert_error_names(&out, want)
}

/// Runs `entrybench ARGS` and checks the error contract; returns the line.
pub fn fails_with_one_line(args: &[&str]) -> String {
    let out = entrybench().args(args).output().expect("entrybench runs");
    assert_one_line_error(&out)
}

/// Runs `entrybench ARGS`, which must succeed; returns its stdout.
pub fn stdout_of<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let out = entrybench().args(args).output().expect("entrybench runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// `size` of the feed-handler profile for `dump` (a file of
/// testdata/cpuid-dumps) against `results`, plus `extra` arguments:
/// (stdout, stdout with its white space folded, as the text wraps at 72
/// columns).
pub fn size_of_dump(dump: &str, results: &[String], extra: &[&str]) -> (String, String) {
    let dump = root().join("testdata/cpuid-dumps").join(dump);
    let profile = root().join("testdata/profiles/feed-handler.toml");
    let mut args = vec![
        "size".to_string(),
        "--profile".into(),
        profile.to_string_lossy().into_owned(),
        "--cpuid-dump".into(),
        dump.to_string_lossy().into_owned(),
    ];
    args.extend(results.iter().cloned());
    args.extend(extra.iter().map(|s| s.to_string()));
    let text = stdout_of(&args);
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (text, flat)
}

/// The committed result files, relative to the repository root: the ones
/// results/README.md lists (its table's first column, a backquoted name
/// without `.json`), never whatever else is in results/ (a user's own
/// `scripts/run.sh` writes there too).
pub fn committed_names() -> Vec<String> {
    let table = std::fs::read_to_string(root().join("results/README.md")).unwrap();
    let mut v: Vec<String> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(|stem| format!("results/{stem}.json"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "results/README.md lists no result file");
    for f in &v {
        assert!(
            root().join(f).is_file(),
            "results/README.md lists {f}, which is missing"
        );
    }
    v
}

/// `committed_names` as full paths.
pub fn committed_results() -> Vec<String> {
    committed_names()
        .iter()
        .map(|f| root().join(f).to_string_lossy().into_owned())
        .collect()
}

/// The process id in one of entrybench's tracing instance names,
/// `entrybench-<pid ns>-<pid>-<n>`; None for any other name.
pub fn instance_pid(name: &str) -> Option<u32> {
    match name
        .strip_prefix("entrybench-")?
        .split('-')
        .collect::<Vec<_>>()[..]
    {
        [_, pid, _] => pid.parse().ok(),
        _ => None,
    }
}
