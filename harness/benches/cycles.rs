//! `cargo bench --bench cycles`: the entrybench experiments as criterion
//! benches, measured in cycles of the entrybench timer
//! (`harness::bench_measurement::Cycles`; `ENTRYBENCH_CLOCK=rdpmc` for
//! core cycles where the PMU allows).
//!
//! Groups (criterion ids; `report::input::criterion::RULES` maps them to
//! entrybench ids):
//! - `entry/{null,getpid,getppid,vdso_clock_gettime}`: the operation back
//!   to back, one timed region per criterion sample (the same loop as
//!   `entrybench run --batch`).
//! - `refill/{flushed,plain}/N`: a walk of N pages after a flushing resp.
//!   plain kernel entry, `workloads::walk::refill_pairs` as in `run`; the
//!   import reports flushed minus plain, as `refill.wN` is.
//! - `entry_flush/<variant>`: the ENTRY_FLUSH ioctl of /dev/entrybench;
//!   skipped with one line when the device or the variant is missing.
//! - `ipi_initiator/<method>`: the initiator's cost of one
//!   shootdown-causing call, with a victim thread of this process pinned
//!   on the victim CPU (as `run` places them).
//!
//! Timed loops run pinned to the victim CPU `run` would choose, memory
//! locked. A real run (not `--test`/`--list`) also writes the session
//! facts beside criterion's samples for `entrybench report target/criterion`.

use criterion::measurement::Measurement;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion};
use harness::bench_measurement::{self, Cycles};
use harness::kmod::abi::Variant;
use harness::placement::{self, CpuLists, PinGuard, Request};
use harness::schema::{Environment, Placement};
use harness::timer::Tsc;
use report::input::criterion::{self as criterion_import, Session};
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use workloads::entry::{CallPath, EntryOp};
use workloads::ipi::{self as wipi, UserTrigger, ALL_USER_METHODS};
use workloads::pages::Pages;
use workloads::sys::NoArgCall;
use workloads::walk::{refill_pairs, FlushRange};

/// Working sets of the refill group, pages: within L1 dTLB reach, within
/// the STLB, and beyond it on most CPUs.
const REFILL_PAGES: [usize; 3] = [16, 256, 1024];

/// Per-bench time budget: at most 23 benches (14 without the module) of
/// warm-up + measurement plus criterion's analysis keep `cargo bench`
/// well under its 5 minutes (about 65 s here without the module).
const WARM_UP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(3);

/// Never set: refill_pairs takes a cancel flag; criterion has its own ^C.
static NO_CANCEL: AtomicBool = AtomicBool::new(false);

/// What every group needs: where to run and the clock.
struct Bench {
    placement: Placement,
    cycles: Cycles,
    /// Keeps the main thread on the victim CPU until the end.
    _pin: PinGuard,
}

fn setup() -> anyhow::Result<(Bench, Environment, Vec<String>)> {
    let env = harness::detect::detect_live()?;
    let placement = placement::choose(&CpuLists::live()?, Request::default())?;
    let pin = placement::pin_current_thread(placement.victim_cpu)?;
    let mut notes = Vec::new();
    if !placement.victim_isolated {
        notes.push(placement.note.clone());
    }
    if let Some(w) = placement::lock_memory() {
        notes.push(w);
    }
    // After pinning: the timer's overhead is measured on the victim CPU.
    let cycles = Cycles::from_env(&env)?;
    notes.extend(cycles.notes().iter().cloned());
    Ok((
        Bench {
            placement,
            cycles,
            _pin: pin,
        },
        env,
        notes,
    ))
}

fn main() {
    let (bench, env, notes) = match setup() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("entrybench bench: cannot set up: {e:#}");
            std::process::exit(1);
        }
    };
    for n in &notes {
        eprintln!("entrybench bench: note: {n}");
    }
    let dir = bench_measurement::criterion_dir();
    let mut c = Criterion::default()
        .with_measurement(bench.cycles.clone())
        .output_directory(&dir)
        .without_plots()
        .configure_from_args();
    // Only a real run saves samples; --test and --list must not replace
    // the facts of the last real run.
    let real =
        !std::env::args().any(|a| matches!(a.as_str(), "--test" | "--list" | "--profile-time"));
    if real {
        let s = Session {
            tool: format!("entrybench {} (cargo bench)", env!("CARGO_PKG_VERSION")),
            created: report::model::host::rfc3339(std::time::SystemTime::now()),
            host: report::model::host::hostname(),
            environment: env,
            placement: bench.placement.clone(),
            timer: bench.cycles.timer().bench_info(),
            notes,
        };
        if let Err(e) = criterion_import::write_session(&dir, &s) {
            eprintln!("entrybench bench: warning: {e:#}");
        }
    }
    entry(&mut c, &bench);
    refill(&mut c, &bench);
    entry_flush(&mut c, &bench);
    ipi_initiator(&mut c, &bench);
    placement::unlock_memory();
    c.final_summary();
}

fn group<'a>(c: &'a mut Criterion<Cycles>, name: &str) -> BenchmarkGroup<'a, Cycles> {
    let mut g = c.benchmark_group(name);
    g.warm_up_time(WARM_UP).measurement_time(MEASURE);
    g
}

fn entry(c: &mut Criterion<Cycles>, b: &Bench) {
    let mut g = group(c, "entry");
    for (name, op) in [
        // The same calls as `entrybench run`'s headline rows: glibc's
        // syscall(), return after sysret included.
        ("null", EntryOp::Syscall(NoArgCall::Invalid, CallPath::Libc)),
        (
            "getpid",
            EntryOp::Syscall(NoArgCall::Getpid, CallPath::Libc),
        ),
        (
            "getppid",
            EntryOp::Syscall(NoArgCall::Getppid, CallPath::Libc),
        ),
        ("vdso_clock_gettime", EntryOp::VdsoClockGettime),
    ] {
        let cy = &b.cycles;
        g.bench_function(name, |bn| {
            bn.iter_custom(|iters| {
                // One region of `iters` back-to-back operations: the same
                // loop as `entrybench run --batch <iters>`.
                let mut slot = [0i64; 1];
                harness::with_bench_clock!(cy.timer(), clk =>
                    workloads::entry::sample_batched(clk, op, 0, iters as usize, &mut slot));
                cy.minus_overhead(slot[0], 1)
            })
        });
    }
    g.finish();
}

fn refill(c: &mut Criterion<Cycles>, b: &Bench) {
    let mut g = group(c, "refill");
    g.sample_size(50);
    let cy = &b.cycles;
    for pages in REFILL_PAGES {
        let (ws, range) = match (Pages::new(pages), FlushRange::new()) {
            (Ok(w), Ok(r)) => (w, r),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("entrybench bench: refill/*/{pages} skipped: cannot map memory: {e}");
                continue;
            }
        };
        // One pair untimed first: a failing mprotect skips the size here
        // rather than leaving bad samples.
        let (mut f, mut p) = ([0i64; 1], [0i64; 1]);
        if let Err(e) = refill_pairs(&Tsc, &ws, &range, &mut f, &mut p, &NO_CANCEL) {
            eprintln!("entrybench bench: refill/*/{pages} skipped: {e}");
            continue;
        }
        let failed = RefCell::new(None);
        for flushed in [true, false] {
            let name = if flushed { "flushed" } else { "plain" };
            g.bench_with_input(BenchmarkId::new(name, pages), &pages, |bn, _| {
                bn.iter_custom(|iters| {
                    // Both walks of every pair run, as in `run`, so drift
                    // and cache state are the same for both benches; each
                    // bench keeps its half.
                    let n = iters as usize;
                    let (mut f, mut p) = (vec![0i64; n], vec![0i64; n]);
                    let done = harness::with_bench_clock!(cy.timer(), clk =>
                        refill_pairs(clk, &ws, &range, &mut f, &mut p, &NO_CANCEL))
                    .unwrap_or_else(|e| {
                        failed.borrow_mut().get_or_insert(e.to_string());
                        0
                    });
                    let v = if flushed { &f } else { &p };
                    cy.minus_overhead(v[..done].iter().sum(), done as u64)
                })
            });
        }
        if let Some(e) = failed.into_inner() {
            eprintln!(
                "entrybench bench: warning: refill/*/{pages}: {e}: its figures are not valid"
            );
        }
    }
    g.finish();
}

fn entry_flush(c: &mut Criterion<Cycles>, b: &Bench) {
    use harness::kmod::{available, Device};
    if !available() {
        eprintln!(
            "entrybench bench: entry_flush skipped: {} not found (load kmod-helper/entrybench.ko)",
            harness::kmod::abi::DEVICE_PATH
        );
        return;
    }
    let (dev, info) = match Device::open().and_then(|d| d.info().map(|i| (d, i))) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("entrybench bench: entry_flush skipped: {e:#}");
            return;
        }
    };
    let mut g = group(c, "entry_flush");
    let cy = &b.cycles;
    for v in Variant::ALL {
        if !info.supports(v) {
            eprintln!(
                "entrybench bench: entry_flush/{} skipped: this CPU or module lacks it",
                v.name()
            );
            continue;
        }
        if let Err(e) = dev.entry_flush(v) {
            eprintln!(
                "entrybench bench: entry_flush/{} skipped: ENTRY_FLUSH failed: {}",
                v.name(),
                e.desc()
            );
            continue;
        }
        g.bench_function(v.name(), |bn| {
            bn.iter_custom(|iters| {
                let t0 = cy.start();
                for _ in 0..iters {
                    // Checked once above; the errno is not read in the loop.
                    let _ = std::hint::black_box(dev.entry_flush(v));
                }
                cy.end(t0)
            })
        });
    }
    g.finish();
}

/// The victim thread: pinned on the victim CPU, reads the initiator's
/// memory once (its CPU then holds those translations, as in `run`) and
/// spins in this process until `stop`, so shootdowns must IPI it.
fn victim(cpu: u32, touch: (usize, usize), ready: &AtomicBool, stop: &AtomicBool) {
    let pin = placement::pin_current_thread(cpu);
    if let Err(e) = &pin {
        eprintln!("entrybench bench: warning: victim thread not pinned: {e:#}");
    }
    // SAFETY: the trigger keeps its mapping until firing starts, which
    // waits for `ready`.
    unsafe { workloads::walk::walk(touch.0 as *const u8, touch.1.div_ceil(workloads::PAGE_SIZE)) };
    ready.store(true, Ordering::Release);
    // Threshold u64::MAX with no buffer: the loop of `run`'s victim,
    // recording nothing.
    wipi::spin(
        &Tsc,
        stop,
        u64::MAX,
        &mut Vec::new(),
        &mut wipi::no_long_gaps(),
    );
}

fn ipi_initiator(c: &mut Criterion<Cycles>, b: &Bench) {
    let Some(icpu) = b.placement.initiator_cpu else {
        eprintln!("entrybench bench: ipi_initiator skipped: only one CPU online, no initiator CPU");
        return;
    };
    let vcpu = b.placement.victim_cpu;
    let mut g = group(c, "ipi_initiator");
    g.sample_size(50);
    let cy = &b.cycles;
    for method in ALL_USER_METHODS {
        let mut trig = match UserTrigger::new(method) {
            Ok(t) => t,
            Err(e) => {
                eprintln!(
                    "entrybench bench: ipi_initiator/{} skipped: {e}",
                    method.name()
                );
                continue;
            }
        };
        let (ready, stop) = (AtomicBool::new(false), AtomicBool::new(false));
        let failed = RefCell::new(None);
        std::thread::scope(|s| {
            let touch = trig.region();
            let (ready, stop) = (&ready, &stop);
            s.spawn(move || victim(vcpu, touch, ready, stop));
            while !ready.load(Ordering::Acquire) {
                std::hint::spin_loop();
            }
            // The initiator runs on the initiator CPU; the guard puts this
            // thread back on the victim CPU.
            let _pin = placement::pin_current_thread(icpu)
                .map_err(|e| eprintln!("entrybench bench: warning: initiator not pinned: {e:#}"));
            g.bench_function(method.name(), |bn| {
                bn.iter_custom(|iters| {
                    let mut total = 0u64;
                    for _ in 0..iters {
                        let t0 = cy.start();
                        let r = trig.fire();
                        total += cy.end(t0);
                        let ok = workloads::sys::check(r).and_then(|_| trig.reset());
                        if let Err(e) = ok {
                            failed.borrow_mut().get_or_insert(e.to_string());
                            break;
                        }
                    }
                    total
                })
            });
            stop.store(true, Ordering::Release);
        });
        if let Some(e) = failed.into_inner() {
            eprintln!(
                "entrybench bench: warning: ipi_initiator/{}: {e}: its figures are not valid",
                method.name()
            );
        }
    }
    g.finish();
}
