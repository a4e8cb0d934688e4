//! What users do at once, each scenario checked (`entrybench kmod race`,
//! hidden; run by the VM tests): threads fuzzing one shared fd while a
//! thread stops generators by guessed ids and signals interrupt the long
//! calls; dup; fork with the fd open; close during a long call; every
//! generator at the maximum rate against the per-target budget.

use super::calls::{ioctl_ptr, Others};
use super::rng::Rng;
use super::FuzzReport;
use crate::kmod::abi::{self, Method};
use crate::kmod::device::{self, Device, GeneratorHandle, GeneratorSpec};
use crate::kmod::selftest::generator_threads;
use anyhow::{bail, ensure, Context, Result};
use nix::errno::Errno;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use std::os::unix::thread::JoinHandleExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

extern "C" fn on_usr1(_: libc::c_int) {}

/// Makes SIGUSR1 interrupt system calls (a no-op handler without
/// SA_RESTART), as a user's Ctrl-C handler would; returns the old action.
pub(crate) fn interrupting_usr1() -> Result<SigAction> {
    let act = SigAction::new(
        SigHandler::Handler(on_usr1),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler does nothing (async-signal-safe).
    unsafe { sigaction(Signal::SIGUSR1, &act) }.context("sigaction SIGUSR1")
}

/// Every scenario; `count` oracle calls in all on the shared fd.
pub fn run(count: u64, seed: u64, threads: usize) -> Result<FuzzReport> {
    let old = interrupting_usr1()?;
    let r = scenarios(count, seed, threads.max(2));
    // SAFETY: puts the previous disposition back.
    unsafe { sigaction(Signal::SIGUSR1, &old) }.context("restoring SIGUSR1")?;
    r
}

fn scenarios(count: u64, seed: u64, threads: usize) -> Result<FuzzReport> {
    let mut rep = shared_fd(count, seed, threads)?;
    rep.calls += dup_shares_the_file()?;
    rep.calls += fork_inherits_the_fd()?;
    rep.calls += close_during_a_long_call()?;
    rep.calls += every_generator_at_max_rate()?;
    Ok(rep)
}

/// `threads` fuzzers on one fd, a thread starting generators and stopping
/// guessed ids on it, and one sending signals to the fuzzers.
fn shared_fd(count: u64, seed: u64, threads: usize) -> Result<FuzzReport> {
    let dev = Arc::new(Device::open()?);
    let others = Others {
        start_generators: true,
        stop_guessed_ids: true,
        signals: true,
        alloc_failures: false,
    };
    let done = Arc::new(AtomicBool::new(false));
    let guessed = Arc::new(AtomicU64::new(0));
    let guesser = {
        let (dev, done, guessed) = (dev.clone(), done.clone(), guessed.clone());
        std::thread::spawn(move || guess_ids(&dev, seed, &done, &guessed))
    };
    let per = count.div_ceil(threads as u64);
    let fuzzers: Vec<_> = (0..threads)
        .map(|i| {
            let dev = dev.clone();
            std::thread::spawn(move || super::run_with(&dev, per, seed + 1 + i as u64, others))
        })
        .collect();
    let targets: Vec<libc::pthread_t> = fuzzers.iter().map(|h| h.as_pthread_t()).collect();
    let signals = send_signals(&targets, &fuzzers, seed);
    let mut rep = FuzzReport::default();
    let mut first_err = None;
    for h in fuzzers {
        match h.join() {
            Ok(Ok(r)) => rep.merge(&r),
            Ok(Err(e)) => first_err = first_err.or(Some(e)),
            Err(_) => first_err = first_err.or(Some(anyhow::anyhow!("a fuzz thread panicked"))),
        }
    }
    done.store(true, Ordering::Relaxed);
    let started = guesser
        .join()
        .map_err(|_| anyhow::anyhow!("the guessing thread panicked"))??;
    if let Some(e) = first_err {
        return Err(e.context("shared-fd fuzz"));
    }
    rep.calls += guessed.load(Ordering::Relaxed);
    println!(
        "kmod race: shared fd: {threads} threads, {} calls, {signals} signals, \
         {started} generators started and {} guessed STOPs by another thread",
        rep.calls,
        guessed.load(Ordering::Relaxed)
    );
    Ok(rep)
}

/// Signals the fuzz threads at random short intervals until all finished.
fn send_signals<T>(
    targets: &[libc::pthread_t],
    handles: &[std::thread::JoinHandle<T>],
    seed: u64,
) -> u64 {
    let mut rng = Rng::new(seed ^ 0x5157);
    let mut sent = 0;
    while handles.iter().any(|h| !h.is_finished()) {
        std::thread::sleep(Duration::from_micros(500 + rng.below(5000)));
        let t = targets[rng.below(targets.len() as u64) as usize];
        // SAFETY: every thread is joinable (not joined yet): its id is valid
        // even after it ended.
        if unsafe { libc::pthread_kill(t, libc::SIGUSR1) } == 0 {
            sent += 1;
        }
    }
    sent
}

/// Starts generators on the shared fd and stops ids near the last one
/// (ids are sequential), as a careless or hostile user would.
fn guess_ids(dev: &Device, seed: u64, done: &AtomicBool, calls: &AtomicU64) -> Result<u64> {
    let info = dev.info()?;
    let online = info.online_cpus();
    let Some(&victim) = online.last().filter(|_| online.len() >= 2) else {
        return Ok(0);
    };
    let mut rng = Rng::new(seed ^ 0x6e55);
    let (mut last, mut started) = (0u32, 0u64);
    while !done.load(Ordering::Relaxed) {
        let spec = GeneratorSpec {
            method: Method::ALL[rng.below(4) as usize],
            rate_hz: 1 + rng.below(2000) as u32,
            duration_ms: rng.below(3) as u32 * 200,
            pages: 1,
            initiator_cpu: None,
            targets: vec![victim],
            detach: rng.chance(30),
        };
        let spec = GeneratorSpec {
            duration_ms: if spec.detach { 50 } else { spec.duration_ms },
            ..spec
        };
        match dev.generator_start(&spec) {
            Ok(h) => {
                last = h.id;
                started += 1;
            }
            Err(e) => {
                let errno = device::errno_of(&e);
                ensure!(errno == Some(Errno::EBUSY), "guesser START: {e:#}");
            }
        }
        for _ in 0..1 + rng.below(4) {
            let id = last.saturating_sub(4).wrapping_add(rng.below(8) as u32);
            let r = dev.generator_stop(GeneratorHandle {
                id,
                initiator_cpu: 0,
            });
            if let Err(e) = r {
                let errno = device::errno_of(&e);
                ensure!(errno == Some(Errno::EINVAL), "guesser STOP {id}: {e:#}");
            }
            calls.fetch_add(1, Ordering::Relaxed);
        }
        calls.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(rng.below(5)));
    }
    Ok(started)
}

/// The comm of generator `id`'s kthread, and whether it runs.
fn generator_running(id: u32) -> bool {
    let name = format!("entrybench-gen{id}");
    generator_threads().contains(&name)
}

/// A generator a test starts and then looks for, at a low rate.
fn quiet_generator(targets: Vec<u32>) -> GeneratorSpec {
    GeneratorSpec {
        method: Method::FlushAll,
        rate_hz: 100,
        duration_ms: 0,
        pages: 1,
        initiator_cpu: None,
        targets,
        detach: false,
    }
}

/// The victim of the generator scenarios: the last online CPU, if there
/// is another one to send from.
fn victim(dev: &Device) -> Result<Option<u32>> {
    let online = dev.info()?.online_cpus();
    Ok(online.last().copied().filter(|_| online.len() >= 2))
}

/// A dup of the fd is the same open file: a generator started through the
/// dup survives the dup's close and stops with the last one.
fn dup_shares_the_file() -> Result<u64> {
    let dev = Device::open()?;
    let Some(v) = victim(&dev)? else {
        return Ok(0);
    };
    // SAFETY: duplicates an fd we own; the copy is closed below.
    let dup = unsafe { libc::dup(dev.raw_fd()) };
    ensure!(dup >= 0, "dup: {}", Errno::last());
    let mut a = slow_generator(Method::FlushAll, v)?;
    let r = raw_on(dup, abi::nr::GENERATOR_START, &mut a);
    // SAFETY: closes the duplicate made above, nothing else uses it.
    unsafe { libc::close(dup) };
    r.context("GENERATOR_START through a dup")?;
    std::thread::sleep(Duration::from_millis(50));
    ensure!(
        generator_running(a.id),
        "generator {} stopped when a dup of its fd was closed",
        a.id
    );
    dev.generator_stop(GeneratorHandle {
        id: a.id,
        initiator_cpu: 0,
    })
    .context("STOP through the original fd")?;
    println!("kmod race: dup: a generator started through a dup outlived the dup's close");
    Ok(3)
}

/// A GENERATOR_START argument: `method` at 100 Hz to CPU `v`, from any
/// housekeeping CPU, until stopped.
fn slow_generator(method: Method, v: u32) -> Result<abi::Generator> {
    Ok(abi::Generator {
        method: method as u32,
        rate_hz: 100,
        initiator_cpu: -1,
        cpumask: abi::cpumask(&[v])?,
        ..Default::default()
    })
}

/// A raw ioctl on a raw fd (the scenarios that close fds behind a Device's back).
fn raw_on<T>(fd: i32, nr: u64, arg: &mut T) -> Result<(), Errno> {
    // SAFETY: `arg` is a valid, writable struct of the size `nr` encodes.
    let rc = unsafe { libc::ioctl(fd, nr as libc::c_ulong, arg as *mut T) };
    if rc < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// A forked child uses the inherited fd and starts a generator, then
/// exits: the generator belongs to the open file, which the parent still
/// holds, so it runs on until the parent stops it.
fn fork_inherits_the_fd() -> Result<u64> {
    let dev = Device::open()?;
    let Some(v) = victim(&dev)? else {
        return Ok(0);
    };
    let mut a = slow_generator(Method::SyncCore, v)?;
    let mut fds = [0i32; 2];
    // SAFETY: a pipe for the child's answer; both ends closed below.
    ensure!(
        unsafe { libc::pipe(fds.as_mut_ptr()) } == 0,
        "pipe: {}",
        Errno::last()
    );
    let fd = dev.raw_fd();
    // SAFETY: the child makes system calls only and leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let ok = raw_on(fd, abi::nr::GENERATOR_START, &mut a).is_ok()
            && ioctl_ptr(
                &dev,
                abi::nr::INFO,
                &mut abi::Info::default() as *mut _ as u64,
            )
            .is_ok();
        let id = if ok { a.id } else { 0 };
        // SAFETY: writes 4 bytes of a local to the pipe, then ends the child.
        unsafe {
            libc::write(fds[1], (&id as *const u32).cast(), 4);
            libc::_exit(0)
        }
    }
    let mut id = 0u32;
    // SAFETY: reads 4 bytes into a local, closes our pipe ends, waits for the child.
    let (n, waited) = unsafe {
        libc::close(fds[1]);
        let n = libc::read(fds[0], (&mut id as *mut u32).cast(), 4);
        libc::close(fds[0]);
        (n, libc::waitpid(pid, std::ptr::null_mut(), 0))
    };
    ensure!(pid > 0 && waited == pid, "fork/waitpid failed");
    ensure!(
        n == 4 && id != 0,
        "the child could not use the inherited fd"
    );
    std::thread::sleep(Duration::from_millis(50));
    ensure!(
        generator_running(id),
        "the child's generator {id} stopped when the child exited (the parent holds the file)"
    );
    dev.generator_stop(GeneratorHandle {
        id,
        initiator_cpu: 0,
    })
    .context("the parent stops the child's generator")?;
    println!("kmod race: fork: the child's generator ran on after it exited, until the parent stopped it");
    Ok(3)
}

/// close() of the fd while another thread is inside a long GLOBAL_FLUSH
/// on it: the call keeps the file alive; a signal ends the call, and only
/// then does release stop the fd's generators.
fn close_during_a_long_call() -> Result<u64> {
    let path = std::ffi::CString::new(abi::DEVICE_PATH).expect("no NUL");
    // SAFETY: opens the device; the fd is closed below.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR) };
    ensure!(fd >= 0, "open {}: {}", abi::DEVICE_PATH, Errno::last());
    let mut info = abi::Info::default();
    raw_on(fd, abi::nr::INFO, &mut info).context("INFO")?;
    let online = abi::cpus_of(&info.online_mask);
    let mut gen_id = None;
    if let (Some(&v), true) = (online.last(), online.len() >= 2) {
        let mut a = slow_generator(Method::FlushAll, v)?;
        raw_on(fd, abi::nr::GENERATOR_START, &mut a).context("GENERATOR_START")?;
        gen_id = Some(a.id);
    }
    let mask = abi::cpumask(&online[..1])?;
    let worker = std::thread::spawn(move || {
        let mut a = abi::GlobalFlush {
            method: Method::KernelRange as u32,
            count: abi::MAX_GLOBAL_COUNT,
            pages: abi::MAX_PAGES,
            cpumask: mask,
            ..Default::default()
        };
        raw_on(fd, abi::nr::GLOBAL_FLUSH, &mut a)
    });
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: closes our fd while the worker's ioctl holds the file.
    let closed = unsafe { libc::close(fd) };
    std::thread::sleep(Duration::from_millis(100));
    let alive_during = gen_id.map(generator_running);
    let sent = Instant::now();
    // SAFETY: the worker is joinable until joined below.
    unsafe { libc::pthread_kill(worker.as_pthread_t(), libc::SIGUSR1) };
    let r = worker
        .join()
        .map_err(|_| anyhow::anyhow!("the GLOBAL_FLUSH thread panicked"))?;
    let waited = sent.elapsed();
    ensure!(closed == 0, "close during the call: {}", Errno::last());
    ensure!(
        r == Err(Errno::EINTR),
        "GLOBAL_FLUSH after close and a signal: {r:?}, expected EINTR"
    );
    if let Some(id) = gen_id {
        ensure!(
            alive_during == Some(true),
            "generator {id} stopped while a call still held the closed fd's file"
        );
        std::thread::sleep(Duration::from_millis(100));
        ensure!(
            !generator_running(id),
            "generator {id} still runs after the last user of its file returned"
        );
    }
    println!(
        "kmod race: close during a long call: the call held the file, EINTR {waited:?} after the signal, then release stopped the fd's generator"
    );
    Ok(4)
}

/// Every generator the module allows, at the maximum rate, at one victim:
/// the flush IPIs it receives stay within the module's per-target budget.
/// Then the same number of defer_mark generators (no IPI, no budget).
fn every_generator_at_max_rate() -> Result<u64> {
    let dev = Device::open()?;
    let Some(v) = victim(&dev)? else {
        return Ok(0);
    };
    let mut calls = 0;
    for method in [Method::FlushAll, Method::DeferMark] {
        let spec = GeneratorSpec {
            method,
            rate_hz: abi::MAX_RATE_HZ,
            ..quiet_generator(vec![v])
        };
        let t0 = Instant::now();
        let mut hs = Vec::new();
        for _ in 0..abi::MAX_GENERATORS {
            hs.push(dev.generator_start(&spec)?);
        }
        std::thread::sleep(Duration::from_millis(500));
        let mut issued = 0;
        let mut throttled = 0;
        for h in hs {
            let st = dev.generator_stop(h)?;
            issued += st.issued;
            throttled += st.throttled;
        }
        let secs = t0.elapsed().as_secs_f64();
        calls += 2 * u64::from(abi::MAX_GENERATORS);
        let cap = f64::from(abi::MAX_TARGET_RATE_HZ) * secs + f64::from(abi::MAX_GENERATORS);
        if method.sends_ipi() && issued as f64 > cap {
            bail!(
                "{} generators at {} Hz sent {issued} flush IPIs to CPU {v} in {secs:.2} s: \
                 over the budget of {} per second",
                abi::MAX_GENERATORS,
                abi::MAX_RATE_HZ,
                abi::MAX_TARGET_RATE_HZ
            );
        }
        ensure!(
            issued > 0,
            "{} generators at max rate issued nothing",
            method.name()
        );
        println!(
            "kmod race: {} x {} at {} Hz to CPU {v}: {issued} flushes in {secs:.2} s, {throttled} waited for the budget",
            abi::MAX_GENERATORS,
            method.name(),
            abi::MAX_RATE_HZ
        );
    }
    Ok(calls)
}
