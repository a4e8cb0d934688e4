//! The text-patching trigger (`ipi.kernel.text_poke`, and the scenario
//! that shares it) leaves tracefs as it found it: the enabled events of
//! every tracing instance, the instances themselves and the tracefs
//! mounts are the same before and after, when the trigger is dropped with
//! its event on, when it panics, and when a run is interrupted with
//! SIGINT. It needs root and a kernel with tracefs; elsewhere it prints
//! why it did not run and passes (there is nothing to restore there).
//!
//! One test function: the steps must not run concurrently with each
//! other (they would see each other's instance).

mod common;

use harness::experiments::ipi::Initiator;
use harness::experiments::text_poke::TextPoke;
use harness::tracefs::Tracefs;
use std::path::Path;
use std::time::{Duration, Instant};

/// Why this machine cannot run the test, if it cannot.
fn unavailable() -> Option<&'static str> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not root");
    }
    let fs = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    if !fs.contains("tracefs") {
        return Some("no tracefs in this kernel");
    }
    None
}

/// An instance another entrybench process made: a concurrent run's, or
/// one a killed run left (which the trigger removes by design). Not
/// compared; the children this test starts are checked by pid.
fn someone_elses(name: &str) -> bool {
    let pid = name
        .strip_prefix("entrybench-")
        .and_then(|r| r.split('-').next())
        .and_then(|p| p.parse::<u32>().ok());
    matches!(pid, Some(p) if p != std::process::id())
}

/// Tracefs mount points, other than the private ones of concurrent runs.
fn tracefs_mounts() -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut v: Vec<String> = info
        .lines()
        .filter(|l| l.contains(" - tracefs "))
        .filter_map(|l| l.split_whitespace().nth(4).map(String::from))
        .filter(|m| !m.contains("entrybench-tracefs-"))
        .collect();
    v.sort();
    v
}

type State = (Vec<(String, Vec<String>)>, Vec<String>);

/// What must be the same before and after.
fn state() -> State {
    let mounts = tracefs_mounts();
    let fs = Tracefs::open(false).expect("tracefs");
    let events = fs
        .enabled_events()
        .unwrap()
        .into_iter()
        .filter(|(name, _)| !someone_elses(name))
        .collect();
    (events, mounts)
}

fn cal_total() -> u64 {
    let t = std::fs::read_to_string("/proc/interrupts").unwrap();
    t.lines()
        .find(|l| l.trim_start().starts_with("CAL:"))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .map_while(|w| w.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0)
}

fn mounted(p: &Path) -> bool {
    tracefs_mounts_all().iter().any(|m| Path::new(m) == p)
}

fn tracefs_mounts_all() -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .filter(|l| l.contains(" - tracefs "))
        .filter_map(|l| l.split_whitespace().nth(4).map(String::from))
        .collect()
}

/// Toggles with a private mount, leaves the event on, drops: everything
/// undone. Then the same with a panic while on.
fn drop_and_panic_restore(before: &State) {
    let mut t = TextPoke::new(true).expect("text_poke set-up");
    let (root, inst) = (
        t.tracefs_root().to_path_buf(),
        t.instance_dir().to_path_buf(),
    );
    assert!(mounted(&root), "{} not mounted", root.display());
    let cal = cal_total();
    // An idle CPU may get none of the sync_core IPIs (few of them reach
    // an idle CPU): keep the others busy while toggling, as a victim is.
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        });
        for _ in 0..5 {
            t.fire().unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let tp = t.tracepoint().to_string();
    let enable = inst.join("events").join(&tp).join("enable");
    assert_eq!(std::fs::read_to_string(&enable).unwrap().trim(), "1");
    if std::thread::available_parallelism().map_or(1, |n| n.get()) > 1 {
        assert!(cal_total() > cal, "five toggles of {tp} sent no CAL IPI");
    }
    drop(t);
    assert!(!inst.exists(), "{} left behind", inst.display());
    assert!(!mounted(&root) && !root.exists(), "{} left", root.display());
    assert_eq!(&state(), before, "after drop with the event on");

    // The panic is on purpose: keep its message out of the test output.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = std::panic::catch_unwind(|| {
        let mut t = TextPoke::new(false).expect("text_poke set-up");
        t.fire().unwrap();
        panic!("on purpose, with the event on");
    });
    std::panic::set_hook(hook);
    assert!(r.is_err());
    assert_eq!(&state(), before, "after a panic with the event on");
}

/// Our instance names of a child process (seen through any mount), in
/// the child's (our) PID namespace.
fn child_instances(pid: u32) -> Vec<String> {
    let fs = Tracefs::open(false).expect("tracefs");
    fs.enabled_events()
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| common::instance_pid(n) == Some(pid))
        .collect()
}

/// `entrybench run --only <id>` interrupted while toggling: exit 130 and
/// tracefs as before.
fn sigint_restores(id: &str, before: &State) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = common::spawn(
        &["run", "--quick", "--only", id, "--duration", "60", "--out"],
        &dir.path().join("r.json"),
    );
    let t = Instant::now();
    while child_instances(child.id()).is_empty() {
        if t.elapsed() > Duration::from_secs(60) || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{id}: no tracing instance appeared: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    let status = common::interrupt(&mut child, id);
    assert_eq!(status.code(), Some(130), "{id}");
    assert!(
        child_instances(child.id()).is_empty(),
        "{id}: instance left"
    );
    assert_eq!(&state(), before, "{id}: after SIGINT");
    eprintln!("text_poke_tracefs: {id} interrupted while toggling: tracefs restored");
}

#[test]
fn text_poke_leaves_tracefs_as_it_found_it() {
    if let Some(why) = unavailable() {
        eprintln!("text_poke_tracefs: skipped: {why}");
        return;
    }
    let before = state();
    drop_and_panic_restore(&before);
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        eprintln!(
            "text_poke_tracefs: one CPU: the run needs an initiator CPU; SIGINT part skipped"
        );
        return;
    }
    for id in ["ipi.kernel.text_poke", "scenario.kernel.text_poke"] {
        sigint_restores(id, &before);
    }
}
