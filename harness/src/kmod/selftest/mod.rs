//! `entrybench kmod selftest` (hidden; run by scripts/vm-test.sh in the
//! guest): every ioctl with valid arguments and its results checked, then
//! the negative cases. Those are tables of (name, mutation of a valid
//! argument, errno), as the kernel's lib/test_bpf.c keeps its `tests[]`:
//! adding a case is adding a row.

use super::abi::{self, FlushTimed, Generator, GlobalFlush, Method, Variant};
use super::device::{self, Device, DeviceInfo, GeneratorSpec};
use super::KERNEL_ADDR;
use crate::experiments::record::median;
use crate::schema::IrqRow;
use anyhow::{bail, ensure, Context, Result};
use nix::errno::Errno;
use std::time::Duration;

mod figures;
mod guards;

/// Counts what the self-test did, printed as one line the VM test greps.
#[derive(Debug, Default)]
struct Tally {
    ioctls: u64,
    checks: u64,
    generators: u64,
}

impl Tally {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) -> Result<()> {
        self.checks += 1;
        ensure!(ok, "selftest: {}", what());
        Ok(())
    }
    fn expect_errno<T>(&mut self, r: Result<T>, want: Errno, what: &str) -> Result<()> {
        self.ioctls += 1;
        match r {
            Ok(_) => bail!("selftest: {what}: succeeded, expected {want}"),
            Err(e) => {
                let got = device::errno_of(&e);
                self.check(got == Some(want), || {
                    format!("{what}: got {got:?}, expected {want}")
                })
            }
        }
    }
}

/// What the mutations may refer to.
struct Env {
    online: Vec<u32>,
    /// The online CPUs booted isolated or nohz_full.
    quiet: Vec<u32>,
    /// A CPU number that is not online (nr_cpu_ids, capped to the ABI).
    offline: u32,
    /// Generators target it: the CPU a run would make its victim
    /// (`CpuLists::default_victim`), if the module counts it online;
    /// else the last online one.
    victim: u32,
}

/// One negative case: a valid `T`, changed by `mutate`, must fail with `errno`.
struct Case<T> {
    name: &'static str,
    mutate: fn(&mut T, &Env),
    errno: Errno,
}

/// A [`Case`] as one table row.
const fn case<T>(name: &'static str, errno: Errno, mutate: fn(&mut T, &Env)) -> Case<T> {
    Case {
        name,
        mutate,
        errno,
    }
}

const FLUSH_TIMED_CASES: &[Case<FlushTimed>] = &[
    case("FLUSH_TIMED bad variant", Errno::EINVAL, |a, _| {
        a.variant = abi::VARIANT_COUNT
    }),
    case("FLUSH_TIMED 0 iterations", Errno::EINVAL, |a, _| {
        a.iterations = 0
    }),
    case("FLUSH_TIMED too many", Errno::EINVAL, |a, _| {
        a.iterations = abi::MAX_ITERATIONS + 1
    }),
    case("FLUSH_TIMED null buffer", Errno::EINVAL, |a, _| {
        a.cycles_ptr = 0
    }),
    case("FLUSH_TIMED kernel buffer", Errno::EFAULT, |a, _| {
        a.cycles_ptr = KERNEL_ADDR
    }),
];

const GLOBAL_FLUSH_CASES: &[Case<GlobalFlush>] = &[
    case("GLOBAL_FLUSH bad method", Errno::EINVAL, |a, _| {
        a.method = abi::METHOD_COUNT
    }),
    case("GLOBAL_FLUSH nonzero pad", Errno::EINVAL, |a, _| a.pad = 1),
    case("GLOBAL_FLUSH empty mask", Errno::EINVAL, |a, _| {
        a.cpumask = [0; abi::MASK_WORDS]
    }),
    case("GLOBAL_FLUSH offline CPU", Errno::EINVAL, |a, e| {
        a.cpumask = abi::cpumask(&[e.offline]).expect("capped to the ABI")
    }),
    case("GLOBAL_FLUSH count 0", Errno::EINVAL, |a, _| a.count = 0),
    case("GLOBAL_FLUSH count too large", Errno::EINVAL, |a, _| {
        a.count = abi::MAX_GLOBAL_COUNT + 1
    }),
    case("GLOBAL_FLUSH too many pages", Errno::EINVAL, |a, _| {
        a.method = Method::KernelRange as u32;
        a.pages = abi::MAX_PAGES + 1
    }),
    case("GLOBAL_FLUSH kernel buffer", Errno::EFAULT, |a, _| {
        a.cycles_ptr = KERNEL_ADDR
    }),
];

/// Generator cases; the base is a valid start aimed at the victim (so
/// these need two online CPUs).
const GENERATOR_CASES: &[Case<Generator>] = &[
    case("GENERATOR_START rate 0", Errno::EINVAL, |a, _| {
        a.rate_hz = 0
    }),
    case("GENERATOR_START rate too high", Errno::EINVAL, |a, _| {
        a.rate_hz = abi::MAX_RATE_HZ + 1
    }),
    case(
        "GENERATOR_START duration too long",
        Errno::EINVAL,
        |a, _| a.duration_ms = abi::MAX_DURATION_MS + 1,
    ),
    case("GENERATOR_START unknown flag", Errno::EINVAL, |a, _| {
        a.flags = 1 << 7
    }),
    case("GENERATOR_START nonzero pad", Errno::EINVAL, |a, _| {
        a.pad = 1
    }),
    case(
        "GENERATOR_START no housekeeping CPU",
        Errno::EINVAL,
        |a, e| a.cpumask = abi::cpumask(&e.online).expect("online CPUs fit"),
    ),
    case(
        "GENERATOR_START initiator = victim",
        Errno::EINVAL,
        |a, e| a.initiator_cpu = e.victim as i32,
    ),
    case(
        "GENERATOR_START offline initiator",
        Errno::EINVAL,
        |a, e| a.initiator_cpu = e.offline as i32,
    ),
    case(
        "GENERATOR_START initiator -2 (only -1 means any)",
        Errno::EINVAL,
        |a, _| a.initiator_cpu = -2,
    ),
    case(
        "GENERATOR_START detached without a duration",
        Errno::EINVAL,
        |a, _| {
            a.flags = abi::GEN_DETACH;
            a.duration_ms = 0
        },
    ),
];

/// Calls that are not a struct mutation: (name, call, errno).
type RawCase = (&'static str, fn(&Device) -> Result<()>, Errno);

const RAW_CASES: &[RawCase] = &[
    (
        "FLUSH_TIMED null arg",
        |d| raw_ioctl(d, abi::nr::FLUSH_TIMED, std::ptr::null_mut::<FlushTimed>()),
        Errno::EFAULT,
    ),
    (
        "GENERATOR_STOP id 0",
        |d| raw_ioctl(d, abi::nr::GENERATOR_STOP, &mut Generator::default()),
        Errno::EINVAL,
    ),
    (
        "ENTRY_FLUSH variant count",
        |d| {
            d.entry_flush_raw(abi::VARIANT_COUNT as i32)
                .map(drop)
                .map_err(Into::into)
        },
        Errno::EINVAL,
    ),
    (
        "ENTRY_FLUSH 1000",
        |d| d.entry_flush_raw(1000).map(drop).map_err(Into::into),
        Errno::EINVAL,
    ),
    (
        "ENTRY_FLUSH -1",
        |d| d.entry_flush_raw(-1).map(drop).map_err(Into::into),
        Errno::EINVAL,
    ),
    (
        "unknown ioctl",
        |d| {
            raw_ioctl(
                d,
                nix::request_code_none!(abi::IOC_MAGIC, 42),
                std::ptr::null_mut::<u8>(),
            )
        },
        Errno::ENOTTY,
    ),
];

/// Raw ioctl with a pointer argument, for the negative cases.
fn raw_ioctl<T>(dev: &Device, nr: u64, arg: *mut T) -> Result<()> {
    // SAFETY: callers pass either a valid, correctly sized struct or an
    // address the kernel must refuse; the kernel never writes elsewhere.
    let rc = unsafe { libc::ioctl(dev.raw_fd(), nr as libc::c_ulong, arg) };
    if rc < 0 {
        return Err(anyhow::Error::new(Errno::last()));
    }
    Ok(())
}

fn run_cases<T: Copy>(
    t: &mut Tally,
    dev: &Device,
    nr: u64,
    base: T,
    env: &Env,
    cases: &[Case<T>],
) -> Result<()> {
    for c in cases {
        let mut a = base;
        (c.mutate)(&mut a, env);
        t.expect_errno(raw_ioctl(dev, nr, &mut a), c.errno, c.name)?;
    }
    Ok(())
}

/// Names of kthreads of running generators (comm `entrybench-gen<id>`).
pub(crate) fn generator_threads() -> Vec<String> {
    generator_tasks().into_iter().map(|(_, c)| c).collect()
}

/// The module's generator threads running now: (pid, name).
pub(crate) fn generator_tasks() -> Vec<(u32, String)> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.filter_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let c = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        c.starts_with("entrybench-gen")
            .then(|| (pid, c.trim().to_string()))
    })
    .collect()
}

/// What the VM test asks of the self-test beyond the default checks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras {
    /// Leave a detached generator running (to test unload while it runs).
    pub leave_generator: bool,
    /// Offline and online a CPU while a generator runs from it.
    pub hotplug: bool,
    /// Samples per side of the printed dispatch / next-entry figures (0: none).
    pub entry_samples: usize,
}

pub fn run(expect_unsupported: &[String], extras: Extras) -> Result<i32> {
    // Bad arguments fail before anything is printed (one-line error).
    let mut expect_off = Vec::new();
    for n in expect_unsupported.iter().filter(|n| !n.is_empty()) {
        expect_off.push(Variant::from_name(n).with_context(|| format!("unknown variant {n:?}"))?);
    }
    let mut t = Tally::default();
    let dev = Device::open()?;
    let info = dev.info()?;
    t.ioctls += 1;
    print!("{}", info.describe());
    t.check(info.raw.abi_version == abi::ABI_VERSION, || {
        "abi version".into()
    })?;
    let online = info.online_cpus();
    t.check(!online.is_empty(), || "no online CPU in INFO".into())?;
    let cpus = crate::placement::CpuLists::live()?;
    let quiet: Vec<u32> = online.iter().copied().filter(|&c| cpus.quiet(c)).collect();
    let env = Env {
        offline: info.raw.nr_cpu_ids.min((abi::MASK_WORDS * 64) as u32 - 1),
        victim: cpus
            .default_victim()
            .filter(|v| online.contains(v))
            .or(online.last().copied())
            .expect("checked non-empty"),
        online,
        quiet,
    };
    variants(&mut t, &dev, &info, &expect_off)?;
    figures::entry_timings(&mut t, &dev, &info, extras.entry_samples)?;
    flush_timed_cases(&mut t, &dev, &env)?;
    global_flushes(&mut t, &dev, &env)?;
    guards::deferred_reports_its_flush(&mut t, &dev, env.online[0])?;
    guards::rights_checked_per_call(&mut t, &dev)?;
    guards::budget_bounds_the_rate(&mut t, &dev, env.online[0])?;
    guards::signal_stops_a_long_call(&mut t, &env)?;
    if env.online.len() >= 2 {
        generators(&mut t, &dev, &env)?;
        start_copy_out_fault(&mut t, &dev, &env)?;
        if extras.hotplug {
            guards::initiator_offline(&mut t, &dev, &env)?;
        }
        limits_and_close(&mut t, dev, &env, extras.leave_generator)?;
    } else {
        println!("selftest: one online CPU: generators skipped");
    }
    println!(
        "kmod selftest: PASS ioctls={} checks={} generators={}",
        t.ioctls, t.checks, t.generators
    );
    Ok(0)
}

/// FLUSH_TIMED and ENTRY_FLUSH for every variant: timed where INFO says
/// it is supported, EOPNOTSUPP where not.
fn variants(t: &mut Tally, dev: &Device, info: &DeviceInfo, expect_off: &[Variant]) -> Result<()> {
    for v in Variant::ALL {
        let sup = info.supports(v);
        if expect_off.contains(&v) {
            t.check(!sup, || {
                format!("INFO says {} is supported, expected not", v.name())
            })?;
        }
        if !sup {
            t.expect_errno(
                dev.flush_timed(v, 10),
                Errno::EOPNOTSUPP,
                &format!("FLUSH_TIMED {}", v.name()),
            )?;
            t.expect_errno(
                dev.entry_flush(v).map_err(anyhow::Error::new),
                Errno::EOPNOTSUPP,
                &format!("ENTRY_FLUSH {}", v.name()),
            )?;
            println!(
                "selftest: flush_timed {:<12} EOPNOTSUPP (as INFO says)",
                v.name()
            );
            continue;
        }
        let r = dev.flush_timed(v, 2000)?;
        t.ioctls += 1;
        t.check(r.cycles.len() == 2000 && r.chunks >= 1, || {
            format!("{}: chunks", v.name())
        })?;
        let max = r.cycles.iter().copied().max().unwrap_or(0);
        t.check(max > 0, || format!("{}: all samples zero", v.name()))?;
        let mut reported = 0;
        for _ in 0..1000 {
            let flushed = dev
                .entry_flush(v)
                .with_context(|| format!("ENTRY_FLUSH {}", v.name()))?;
            reported += usize::from(flushed);
            t.ioctls += 1;
        }
        // Only `deferred` flushes on a condition; the others never report
        // one (`guards::deferred_reports_its_flush` checks that report).
        t.check(reported == 0 || v == Variant::Deferred, || {
            format!(
                "ENTRY_FLUSH {}: reported {reported} deferred flushes",
                v.name()
            )
        })?;
        println!(
            "selftest: flush_timed {:<12} median {:>7.0} cycles  min {:>7}  chunks {}  overhead {}",
            v.name(),
            median(r.cycles.iter().map(|&c| c as i64)),
            r.cycles.iter().min().copied().unwrap_or(0),
            r.chunks,
            r.overhead
        );
    }
    Ok(())
}

fn flush_timed_cases(t: &mut Tally, dev: &Device, env: &Env) -> Result<()> {
    let mut buf = vec![0u64; 16];
    let mut ft = FlushTimed {
        variant: 0,
        iterations: 16,
        cycles_ptr: buf.as_mut_ptr() as u64,
        ..Default::default()
    };
    run_cases(t, dev, abi::nr::FLUSH_TIMED, ft, env, FLUSH_TIMED_CASES)?;
    for (name, call, errno) in RAW_CASES {
        t.expect_errno(call(dev), *errno, name)?;
    }
    // The valid base itself succeeds, so each case fails for its mutation.
    raw_ioctl(dev, abi::nr::FLUSH_TIMED, &mut ft)?;
    t.ioctls += 1;
    t.check(ft.chunks >= 1, || "FLUSH_TIMED nop wrote nothing".into())
}

/// GLOBAL_FLUSH: every method to all online CPUs, then the negative cases.
fn global_flushes(t: &mut Tally, dev: &Device, env: &Env) -> Result<()> {
    for m in Method::ALL {
        let n = if m == Method::KernelRange { 20 } else { 100 };
        let r = dev.global_flush(m, &env.online, n, 4)?;
        t.ioctls += 1;
        // The totals the module returns are of the calls it wrote out:
        // a call missing from them, or counted twice, shows here.
        let sum: u64 = r.cycles.iter().sum();
        let max = r.cycles.iter().copied().max().unwrap_or(0);
        t.check(
            r.cycles.iter().all(|&c| c > 0) && r.total_cycles == sum && r.max_cycles == max,
            || {
                format!(
                    "GLOBAL_FLUSH {}: cycles (total {} max {}, calls sum to {sum} max {max})",
                    m.name(),
                    r.total_cycles,
                    r.max_cycles
                )
            },
        )?;
        println!(
            "selftest: global_flush {:<12} median {:>7.0} cycles  max {}",
            m.name(),
            median(r.cycles.iter().map(|&c| c as i64)),
            r.max_cycles
        );
    }
    let base = GlobalFlush {
        method: Method::FlushAll as u32,
        count: 1,
        cpumask: abi::cpumask(&env.online)?,
        ..Default::default()
    };
    let mut ok = base;
    raw_ioctl(dev, abi::nr::GLOBAL_FLUSH, &mut ok)?;
    t.ioctls += 1;
    run_cases(t, dev, abi::nr::GLOBAL_FLUSH, base, env, GLOBAL_FLUSH_CASES)
}

fn generator_base(env: &Env) -> Result<Generator> {
    Ok(Generator {
        method: Method::FlushAll as u32,
        rate_hz: 100,
        initiator_cpu: -1,
        cpumask: abi::cpumask(&[env.victim])?,
        ..Default::default()
    })
}

/// Each method from a housekeeping CPU to the victim, its IPIs counted in
/// the victim's CAL row; then the negative cases.
fn generators(t: &mut Tally, dev: &Device, env: &Env) -> Result<()> {
    // The victim runs a user loop meanwhile, as in a measurement: an idle
    // CPU that polls (MWAIT idle, e.g. under Bochs) is woken without an
    // IPI, and its CAL row would not count the calls.
    let _busy = BusyCpu::start(env.victim)?;
    for m in Method::ALL {
        let spec = GeneratorSpec {
            method: m,
            rate_hz: 500,
            duration_ms: 0,
            pages: 1,
            initiator_cpu: None,
            targets: vec![env.victim],
            detach: false,
        };
        let cal0 = crate::platform::interrupt_count(IrqRow::Cal, env.victim)?;
        let h = dev.generator_start(&spec)?;
        t.ioctls += 1;
        t.check(h.initiator_cpu != env.victim, || {
            "generator runs on its victim".into()
        })?;
        std::thread::sleep(Duration::from_millis(300));
        let st = dev.generator_stop(h)?;
        let cal = crate::platform::interrupt_count(IrqRow::Cal, env.victim)?.saturating_sub(cal0);
        t.ioctls += 1;
        t.generators += 1;
        t.check(st.issued > 0, || {
            format!("generator {} issued nothing", m.name())
        })?;
        // Every flush of an IPI method is a function-call IPI to the
        // victim: its CAL row must have grown about that much. Not
        // exactly: a call queued while the victim's queue still holds
        // another sender's (a TLB shootdown's, say) rides on the IPI
        // already sent (kernel/smp.c sends one only to an empty queue),
        // which an emulated victim on a busy host makes likelier (QEMU
        // TCG, 6.12: CAL +85 for 89 flushes once).
        if m.sends_ipi() {
            t.check(cal * 10 >= st.issued * 9, || {
                format!(
                    "generator {}: {} flushes but victim CAL grew by {cal}",
                    m.name(),
                    st.issued
                )
            })?;
        }
        println!(
            "selftest: generator {:<12} issued {:>5} in 300 ms from CPU {}, victim CAL +{} (mean {} cycles)",
            m.name(),
            st.issued,
            h.initiator_cpu,
            cal,
            st.total_cycles / st.issued.max(1)
        );
        t.expect_errno(dev.generator_stop(h), Errno::EINVAL, "GENERATOR_STOP twice")?;
    }
    let base = generator_base(env)?;
    run_cases(t, dev, abi::nr::GENERATOR_START, base, env, GENERATOR_CASES)
}

/// A thread spinning in user space on one CPU until dropped.
struct BusyCpu {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BusyCpu {
    fn start(cpu: u32) -> Result<BusyCpu> {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let pinned = crate::placement::pin_current_thread(cpu);
            let ok = pinned.is_ok();
            let _ = tx.send(pinned.map(drop).map_err(|e| format!("{e:#}")));
            while ok && !flag.load(Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        });
        rx.recv()
            .context("the spinning thread ended")?
            .map_err(|e| anyhow::anyhow!("pinning a spinning thread to CPU {cpu}: {e}"))?;
        Ok(BusyCpu {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for BusyCpu {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A GENERATOR_START whose result cannot be copied out (argument on a
/// read-only page) fails with EFAULT and must not leave a generator
/// running, detached or not.
fn start_copy_out_fault(t: &mut Tally, dev: &Device, env: &Env) -> Result<()> {
    let page = workloads::pages::Pages::new(1).context("mapping a page")?;
    let arg = page.as_ptr().cast::<Generator>();
    let a = Generator {
        flags: abi::GEN_DETACH,
        duration_ms: 60_000,
        ..generator_base(env)?
    };
    // SAFETY: the page is ours, writable, page-aligned and larger than `a`.
    unsafe { std::ptr::write(arg, a) };
    // SAFETY: changes the protection of our own mapping only; nothing
    // here writes it afterwards (munmap on drop ignores protection).
    let rc = unsafe { libc::mprotect(page.as_ptr().cast(), page.len_bytes(), libc::PROT_READ) };
    let r = if rc == 0 {
        raw_ioctl(dev, abi::nr::GENERATOR_START, arg)
    } else {
        Err(anyhow::anyhow!("mprotect: {}", Errno::last()))
    };
    t.expect_errno(r, Errno::EFAULT, "GENERATOR_START read-only argument")?;
    std::thread::sleep(Duration::from_millis(50));
    let left = generator_threads();
    t.check(left.is_empty(), || {
        format!("a failed GENERATOR_START left generators running: {left:?}")
    })
}

/// The generator limit (a detached generator whose duration has passed
/// no longer counts), close() stopping an fd's generators, and (for the
/// unload test) a detached generator left running.
fn limits_and_close(t: &mut Tally, dev: Device, env: &Env, leave_generator: bool) -> Result<()> {
    let ok = GeneratorSpec {
        method: Method::FlushAll,
        rate_hz: 10,
        duration_ms: 0,
        pages: 1,
        initiator_cpu: None,
        targets: vec![env.victim],
        detach: false,
    };
    // Detached, 100 ms, its fd closed: finished long before the loop
    // below, which must then reach the limit without EBUSY.
    let other = Device::open()?;
    other.generator_start(&GeneratorSpec {
        detach: true,
        duration_ms: 100,
        ..ok.clone()
    })?;
    drop(other);
    std::thread::sleep(Duration::from_millis(400));
    t.ioctls += 1;
    for _ in 0..abi::MAX_GENERATORS {
        dev.generator_start(&ok)?;
        t.ioctls += 1;
    }
    t.expect_errno(
        dev.generator_start(&ok),
        Errno::EBUSY,
        "GENERATOR_START beyond the limit",
    )?;
    let running = generator_threads().len();
    t.check(running == abi::MAX_GENERATORS as usize, || {
        format!("{running} generator threads at the limit (a finished detached one not reaped?)")
    })?;
    drop(dev);
    std::thread::sleep(Duration::from_millis(100));
    let left = generator_threads();
    t.check(left.is_empty(), || {
        format!("generators survived close(): {left:?}")
    })?;
    t.generators += u64::from(abi::MAX_GENERATORS);
    if leave_generator {
        let dev = Device::open()?;
        // Detached needs a duration: longer than the test runs.
        let spec = GeneratorSpec {
            rate_hz: 1000,
            detach: true,
            duration_ms: 600_000,
            ..ok
        };
        dev.generator_start(&spec)?;
        t.ioctls += 1;
        drop(dev);
        std::thread::sleep(Duration::from_millis(100));
        let left = generator_threads();
        t.check(left.len() == 1, || {
            format!("detached generator not running after close: {left:?}")
        })?;
        println!("selftest: detached generator left running: {}", left[0]);
    }
    Ok(())
}
