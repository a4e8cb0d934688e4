//! `entrybench run` from the outside: the result file round-trips, broken
//! files are refused, bad arguments exit 2 with one line, and an
//! interrupted run leaves a valid partial file.

mod common;

use common::{entrybench, fails_with_one_line, interrupt, spawn, stderr_of};
use report::model::load::{parse_result, read_result};
use std::path::Path;
use std::time::{Duration, Instant};

fn online_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `run --quick --only ONLY --samples N --out OUT`, which must succeed;
/// its stdout.
fn quick_run(only: &str, samples: &str, out: &Path) -> String {
    let run = entrybench()
        .args([
            "run",
            "--quick",
            "--only",
            only,
            "--samples",
            samples,
            "--out",
        ])
        .arg(out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    String::from_utf8(run.stdout).unwrap()
}

#[test]
fn quick_result_round_trips_and_broken_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let stdout = quick_run("entry.null", "20000", &out);
    assert!(
        stdout.contains("entry.null") && stdout.contains("wrote"),
        "{stdout}"
    );

    let file = read_result(&out).unwrap();
    assert!(!file.partial);
    assert_eq!(file.experiments.len(), 1);
    let e = &file.experiments[0];
    assert_eq!(
        (e.id.to_string().as_str(), e.backend.as_str()),
        ("entry.null", "user")
    );
    assert_eq!(e.summary.n, 20_000);
    // Block statistics and the batch the run chose are recorded.
    let blocks = e.blocks.as_ref().expect("version-2 blocks");
    assert!(blocks.medians.len() >= 20, "{blocks:?}");
    assert!(e.params["ops_per_sample"].as_u64().unwrap() >= 16);
    assert_eq!(file.options["entry_batch"], "auto");
    assert!(file.timer.resolution_cycles >= 1 && file.timer.resolution_ns > 0.0);
    assert_eq!(e.samples.len(), 20_000);
    assert!(e.summary.min <= e.summary.median && e.summary.median <= e.summary.max);
    assert!(file.timer.tsc_hz > 0.0 && ["tsc", "tsc+rdpmc"].contains(&file.timer.kind.name()));
    // Time is TSC cycles in every experiment (core cycles, if any, beside).
    assert!(file
        .experiments
        .iter()
        .all(|e| e.clock == report::model::schema::ClockKind::Tsc));
    assert_eq!(file.schema_version, report::model::schema::SCHEMA_VERSION);
    assert_eq!(
        file.options.get("only").map(String::as_str),
        Some("entry.null")
    );
    let platform = file
        .environment
        .platform
        .as_ref()
        .expect("live run records the platform");
    assert!(platform.online_cpus.contains(&file.placement.victim_cpu));

    // Serialize and parse again: nothing is lost.
    let text = serde_json::to_string(&file).unwrap();
    assert_eq!(parse_result(&text).unwrap(), file);

    // A file cut short is refused as truncated, naming the file.
    let full = std::fs::read_to_string(&out).unwrap();
    let cut = dir.path().join("cut.json");
    std::fs::write(&cut, &full[..full.len() / 2]).unwrap();
    let err = format!("{:#}", read_result(&cut).unwrap_err());
    assert!(
        err.contains("truncated") && err.contains("cut.json"),
        "{err}"
    );

    // Another schema version is refused with both versions named.
    let other = full.replacen("\"schema_version\":3", "\"schema_version\":999", 1);
    assert_ne!(other, full, "schema_version not found in the file");
    let err = format!("{:#}", parse_result(&other).unwrap_err());
    assert!(
        err.contains("999") && err.contains("versions 1 to 3"),
        "{err}"
    );
}

#[test]
fn interleaved_blocks_sample_the_whole_run_beside_a_drift_reference() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let stdout = quick_run("entry.null,entry.getpid", "3200", &out);
    assert!(stdout.contains("Drift reference"), "{stdout}");
    let file = read_result(&out).unwrap();
    assert!(file.options["interleave"].contains("2 ids, 32 rounds"));
    let times = |id: &str| {
        let e = file
            .experiments
            .iter()
            .find(|e| e.id.to_string() == id)
            .unwrap();
        let b = e.blocks.as_ref().unwrap();
        let d = b.drift.as_ref().expect("interleaved blocks carry drift");
        assert_eq!(d.times_s.len(), b.medians.len());
        assert_eq!(d.off.len(), b.medians.len());
        assert!(d.times_s.windows(2).all(|w| w[0] < w[1]));
        d.times_s.clone()
    };
    let (a, b) = (times("entry.null"), times("entry.getpid"));
    assert_eq!((a.len(), b.len()), (32, 32));
    // Interleaved, not one after the other: round r holds block r of
    // each id (in either order), so in time order the blocks pair up.
    let mut all: Vec<f64> = a.iter().chain(&b).copied().collect();
    all.sort_by(f64::total_cmp);
    for (r, pair) in all.chunks(2).enumerate() {
        let mut want = [a[r], b[r]];
        want.sort_by(f64::total_cmp);
        assert_eq!(pair, want, "round {r}: {a:?} {b:?}");
    }
    // A reference block before each experiment block and one after the
    // last, on the same clock.
    let r = file.drift_reference.as_ref().expect("drift reference");
    assert_eq!(r.medians.len(), 65);
    assert_eq!(r.times_s.len(), 65);
    assert!(r.times_s[0] < a[0].min(b[0]) && r.times_s[64] > a[31].max(b[31]));
    assert!(r.medians.iter().all(|m| *m > 0.0));
    // The run records each id's quiet-block headline itself (the loader
    // only fills it in for older files): one flag per block, at least
    // MIN_BLOCKS of them set, and the summary says what it took.
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    for e in raw["experiments"].as_array().unwrap() {
        let flags = e["blocks"]["drift"]["quiet"]["blocks"].as_array().unwrap();
        assert_eq!(flags.len(), 32, "{}", e["id"]);
        let kept = flags.iter().filter(|f| f.as_bool() == Some(true)).count();
        assert!(kept >= report::model::quiet::MIN_BLOCKS, "{}", e["id"]);
    }
    for e in &file.experiments {
        assert_eq!(e.headline_cycles(), e.quiet().unwrap().median, "{}", e.id);
    }
    assert!(stdout.contains("Headlines of interleaved ids"), "{stdout}");
}

#[test]
fn bad_arguments_exit_2_with_one_line() {
    let line = fails_with_one_line(&["run", "--victim-cpu", "999", "--out", "/nonexistent/x.json"]);
    assert!(
        line.contains("999") && line.contains("not online"),
        "{line}"
    );
    let line = fails_with_one_line(&["run", "--bogus"]);
    assert!(line.contains("--bogus"), "{line}");
    let line = fails_with_one_line(&["run", "--only", "no.such.experiment"]);
    assert!(line.contains("matches no experiment"), "{line}");
    let line = fails_with_one_line(&["run", "--rate", "0"]);
    assert!(line.contains("--rate"), "{line}");
    let line = fails_with_one_line(&["run", "--pages", "1,x"]);
    assert!(line.contains("--pages"), "{line}");
    let line = fails_with_one_line(&["run", "--batch", "0"]);
    assert!(line.contains("--batch 0"), "{line}");
    let line = fails_with_one_line(&["run", "--syscall", "raw"]);
    assert!(
        line.contains("'raw'") && line.contains("--syscall"),
        "{line}"
    );
    if online_cpus() >= 2 {
        let line = fails_with_one_line(&["run", "--victim-cpu", "1", "--initiator-cpu", "1"]);
        assert!(line.contains("another CPU"), "{line}");
    }
}

#[test]
fn list_shows_selected_ids() {
    let out = entrybench()
        .args(["run", "--list", "--only", "refill.*", "--pages", "2,8"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "refill.w2\nrefill.w8\n"
    );
}

fn wait_for(path: &Path, limit: Duration) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn interrupted_run_leaves_a_valid_partial_file() {
    if online_cpus() < 2 {
        eprintln!("one CPU: ipi.* experiments cannot run, so nothing long to interrupt; skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("partial.json");
    // timer.overhead finishes at once and writes the file; each ipi.*
    // experiment then fires for 60 s, far longer than this test waits.
    let mut child = spawn(
        &[
            "run",
            "--quick",
            "--only",
            "timer.overhead,ipi.user.*",
            "--duration",
            "60",
            "--out",
        ],
        &out,
    );
    let pid = child.id();
    let appeared = wait_for(&out, Duration::from_secs(60));
    if !appeared {
        let _ = child.kill();
        panic!("no result file after 60 s");
    }
    std::thread::sleep(Duration::from_millis(300));
    let status = interrupt(&mut child, "run");
    let stderr = stderr_of(&mut child);
    assert_eq!(status.code(), Some(130), "stderr: {stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let file = read_result(&out).unwrap();
    assert!(file.partial);
    assert!(!file.experiments.is_empty());
    assert_eq!(file.experiments[0].id.to_string(), "timer.overhead");
    assert!(
        file.experiments
            .iter()
            .all(|e| e.id.to_string() == "timer.overhead"
                || e.id.to_string().starts_with("ipi.user."))
    );
    // Only the result and its text report, which says the run is partial;
    // no temporary file is left beside them.
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["partial.json", "partial.txt"]);
    let text = std::fs::read_to_string(dir.path().join("partial.txt")).unwrap();
    assert!(text.contains("Partial run"), "{text}");
    // The IPI trace check's instance, if any, went with the interrupt.
    assert_eq!(our_instances(pid), Vec::<String>::new());
}

#[test]
fn interrupted_rotation_keeps_the_blocks_taken() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("partial.json");
    // MAX_BLOCKS (256) blocks of 8,000 regions of 16 calls per id, about
    // 15 ms each in a release build and 45 ms in a debug one: the signal
    // lands inside the rotation after a few rounds either way.
    let blocks = harness::experiments::entry::MAX_BLOCKS;
    let samples = (blocks * 8_000).to_string();
    let mut child = spawn(
        &[
            "run",
            "--only",
            "entry.null,entry.getpid",
            "--samples",
            samples.as_str(),
            "--out",
        ],
        &out,
    );
    std::thread::sleep(Duration::from_millis(3500));
    let status = interrupt(&mut child, "rotation");
    let stderr = stderr_of(&mut child);
    assert_eq!(status.code(), Some(130), "stderr: {stderr}");
    let file = read_result(&out).unwrap();
    assert!(file.partial);
    assert!(file.drift_reference.is_some());
    // Some rounds were taken: both ids are kept.
    assert_eq!(file.experiments.len(), 2, "stderr: {stderr}");
    for e in &file.experiments {
        let n = e.blocks.as_ref().unwrap().medians.len();
        assert!((2..blocks).contains(&n), "{}: {n} blocks", e.id);
        let note = format!("interrupted: {n} of {blocks} blocks taken");
        assert!(e.notes.iter().any(|s| s.contains(&note)), "{:?}", e.notes);
        assert_eq!(e.summary.n, n as u64 * 8_000);
    }
}

/// A user without CAP_IPC_LOCK under a finite RLIMIT_MEMLOCK: the run
/// goes unlocked and says so, instead of locking future allocations and
/// aborting in malloc past the limit (it did: "memory allocation of
/// 1600000 bytes failed" and a backtrace). Runs as root through setpriv
/// to the nobody user, with an 8 MiB limit; says why when it cannot.
#[test]
fn a_user_without_ipc_lock_runs_unlocked() {
    let bin = assert_cmd::cargo::cargo_bin("entrybench");
    let as_nobody = |args: &[&str]| {
        std::process::Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
            ])
            .arg("prlimit")
            .arg("--memlock=8388608")
            .args(args)
            .output()
    };
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: not root (the test switches to the nobody user)");
        return;
    }
    match as_nobody(&["test", "-x", bin.to_str().unwrap()]) {
        Ok(o) if o.status.success() => {}
        Ok(_) => {
            eprintln!("skipped: the nobody user cannot run {}", bin.display());
            return;
        }
        Err(e) => {
            eprintln!("skipped: setpriv: {e}");
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let out = dir.path().join("r.json");
    let run = as_nobody(&[
        bin.to_str().unwrap(),
        "run",
        "--quick",
        "--only",
        "ipi.user.mprotect",
        "--duration",
        "0.2",
        "--out",
        out.to_str().unwrap(),
    ])
    .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{run:?}");
    assert!(err.contains("RLIMIT_MEMLOCK"), "{err}");
    assert!(!err.contains("memory allocation"), "{err}");
    read_result(&out).unwrap();
}

/// Whether this machine can trace the IPIs' functions: root, and a
/// kernel with the csd:csd_function_entry tracepoint (6.5 on) in a
/// tracefs mounted at a usual place. (Where none is mounted, entrybench
/// mounts one privately; this says false there, and the test then only
/// checks a trace that ran.)
fn csd_traceable() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    root && TRACEFS
        .iter()
        .any(|t| Path::new(t).join("events/csd/csd_function_entry").exists())
}

const TRACEFS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// The tracing instances entrybench process `pid` has in a tracefs
/// mounted at a usual place (`common::instance_pid`).
fn our_instances(pid: u32) -> Vec<String> {
    TRACEFS
        .iter()
        .filter_map(|t| std::fs::read_dir(Path::new(t).join("instances")).ok())
        .flat_map(|rd| rd.flatten())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| common::instance_pid(n) == Some(pid))
        .collect()
}

/// `entrybench ARGS --out OUT`, which must succeed; its process id.
fn run_ok(args: &[&str], out: &Path) -> u32 {
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("entrybench"))
        .args(args)
        .arg("--out")
        .arg(out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let run = child.wait_with_output().unwrap();
    assert!(run.status.success(), "{run:?}");
    pid
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_trace_check_labels_both_ipi_functions_and_leaves_nothing() {
    if online_cpus() < 2 {
        eprintln!("one CPU: no ipi.* experiment runs; skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let dumps = dir.path().join("dumps");
    let pid = run_ok(
        &[
            "run",
            "--quick",
            "--only",
            "ipi.user.mprotect,ipi.user.membarrier",
            "--duration",
            "1",
            "--dump-ipi",
            dumps.to_str().unwrap(),
        ],
        &out,
    );
    let v = json(&out);
    let exps = v["experiments"].as_array().unwrap();
    assert_eq!(exps.len(), 2, "{v}");
    let mut traced = 0;
    for e in exps {
        let (p, id) = (&e["params"], e["id"].as_str().unwrap());
        let c = &p["trace_check"];
        let f = e["ipi"]["false_match_rate"].as_f64().unwrap();
        let Some(claimed) = c["timing_claimed"].as_u64() else {
            // Where the kernel can be traced, only a check too thin to
            // stand on (a starved initiator on a loaded CI machine) may
            // fall back.
            let because = c["skipped_because"].as_str().unwrap_or("");
            assert!(
                !csd_traceable() || because == "too little to stand on",
                "{id}: no check where the kernel can trace: {c}"
            );
            assert!(c["skipped"].is_string(), "{id}: {c}");
            assert_eq!(Some(f), p["control_match_rate"].as_f64(), "{id}");
            continue;
        };
        traced += 1;
        // Both functions' names are the kernel's: a wrong one labels
        // nothing (and the check falls back, failing the line above).
        let (labelled, ipis) = (c["labelled"].as_u64().unwrap(), c["ipis"].as_u64().unwrap());
        assert!(ipis > 50 && labelled * 2 >= ipis, "{id}: {c}");
        let wrong = c["timing_claimed_without_event"].as_u64().unwrap();
        assert!(claimed > 0, "{id}: {c}");
        assert!(
            (f - wrong as f64 / claimed as f64).abs() < 1e-12,
            "{id}: {f} {c}"
        );
        // The priced phase used the check's tolerance.
        assert_eq!(
            p["match_tolerance_after_cycles"], c["tolerance_after_cycles"],
            "{id}"
        );
    }
    // Each row's dump gives its figures again (`rematch` exits 1 where
    // they differ), and holds what the row recorded.
    for e in exps {
        let id = e["id"].as_str().unwrap();
        let f = dumps.join(format!("{id}.json"));
        let d = json(&f);
        assert_eq!(d["figures"]["seen_ratio"], e["ipi"]["seen_ratio"], "{id}");
        assert_eq!(
            d["figures"]["false_match_rate"], e["ipi"]["false_match_rate"],
            "{id}"
        );
        let again = entrybench().arg("rematch").arg(&f).output().unwrap();
        let stdout = String::from_utf8_lossy(&again.stdout);
        assert!(again.status.success(), "{id}: {again:?}");
        assert!(
            stdout.contains("rematched") && !stdout.contains("differs"),
            "{stdout}"
        );
    }
    let text = std::fs::read_to_string(dir.path().join("r.txt")).unwrap();
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(
        flat.matches("in a check phase traced by the kernel")
            .count(),
        traced,
        "{text}"
    );
    assert_eq!(our_instances(pid), Vec::<String>::new());

    // Asked not to, it does not trace.
    let out2 = dir.path().join("r2.json");
    run_ok(
        &[
            "run",
            "--quick",
            "--only",
            "ipi.user.mprotect",
            "--duration",
            "0.2",
            "--no-trace-check",
        ],
        &out2,
    );
    let v = json(&out2);
    let e = &v["experiments"][0];
    let skipped = e["params"]["trace_check"]["skipped"].as_str().unwrap();
    assert!(skipped.contains("--no-trace-check"), "{skipped}");
    assert_eq!(
        e["ipi"]["false_match_rate"].as_f64(),
        e["params"]["control_match_rate"].as_f64()
    );
    assert_eq!(v["options"]["no_trace_check"], "true");
}

#[test]
fn interrupted_in_the_trace_check_leaves_no_tracing_instance() {
    if online_cpus() < 2 || !csd_traceable() {
        eprintln!("no second CPU or no csd tracepoint to trace as root here; skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    // The check phase fires for 3 s of the 60: interrupted while its
    // instance exists.
    let mut child = spawn(
        &[
            "run",
            "--quick",
            "--only",
            "ipi.user.mprotect",
            "--duration",
            "60",
            "--out",
        ],
        &out,
    );
    let pid = child.id();
    let t = Instant::now();
    while our_instances(pid).is_empty() {
        if t.elapsed() > Duration::from_secs(60) || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("the check phase's tracing instance never appeared");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = interrupt(&mut child, "run");
    assert_eq!(status.code(), Some(130), "{}", stderr_of(&mut child));
    assert_eq!(our_instances(pid), Vec::<String>::new());
}

/// A quick run of an id that traces nothing: what it cleans up first is
/// all it does to tracefs.
fn untraced_run() -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    entrybench()
        .args(["run", "--quick", "--only", "timer.overhead", "--out"])
        .arg(dir.path().join("r.json"))
        .output()
        .unwrap()
}

/// Our PID namespace as entrybench names it (the inode number), and a
/// process id no process has in it (the kernel's pid_max is at most
/// 2^22): the owner of what a killed run left.
fn dead_owner() -> (String, u32) {
    let ns = std::fs::read_link("/proc/self/ns/pid").unwrap();
    let ns = ns.to_string_lossy();
    let ns = ns
        .trim_start_matches("pid:[")
        .trim_end_matches(']')
        .to_string();
    let dead = (4_000_000..4_194_304)
        .find(|p| !Path::new(&format!("/proc/{p}")).exists())
        .unwrap();
    (ns, dead)
}

#[test]
fn a_run_unmounts_the_private_tracefs_a_killed_run_left() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root; skipped");
        return;
    }
    let (ns, dead) = dead_owner();
    let mnt = std::env::temp_dir().join(format!("entrybench-tracefs-{ns}-{dead}-Tst0Ab"));
    std::fs::create_dir(&mnt).unwrap();
    let status = std::process::Command::new("mount")
        .args(["-t", "tracefs", "tracefs"])
        .arg(&mnt)
        .status();
    if !status.is_ok_and(|s| s.success()) {
        let _ = std::fs::remove_dir(&mnt);
        eprintln!("cannot mount tracefs here; skipped");
        return;
    }
    let mounted = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains(&format!(" {} ", mnt.display()))
    };
    assert!(mounted());
    let run = untraced_run();
    let (still, left) = (mounted(), mnt.exists());
    if still {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&mnt)
            .status();
    }
    let _ = std::fs::remove_dir(&mnt);
    assert!(run.status.success(), "{run:?}");
    assert!(
        !still && !left,
        "{} still mounted: {still}, there: {left}",
        mnt.display()
    );
}

#[test]
fn a_run_removes_the_tracing_instance_a_killed_run_left() {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let Some(t) = TRACEFS
        .iter()
        .map(Path::new)
        .find(|t| t.join("instances").is_dir())
    else {
        eprintln!("no tracefs mounted at a usual place; skipped");
        return;
    };
    if !root {
        eprintln!("not root; skipped");
        return;
    }
    // Named as entrybench names them now, and in the old form.
    let (ns, dead) = dead_owner();
    let stale = [
        t.join("instances")
            .join(format!("entrybench-{ns}-{dead}-0")),
        t.join("instances").join(format!("entrybench-{dead}-0")),
    ];
    for s in &stale {
        std::fs::create_dir(s).unwrap();
    }
    let run = untraced_run();
    let left: Vec<_> = stale.iter().filter(|s| s.exists()).collect();
    for s in &stale {
        let _ = std::fs::remove_dir(s);
    }
    assert!(run.status.success(), "{run:?}");
    // Not asserted on stderr: another test's run, starting in the same
    // moment, may be the one that removed them (and says so).
    assert!(left.is_empty(), "{left:?} left");
}
