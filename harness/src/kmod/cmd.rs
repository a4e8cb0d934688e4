//! `entrybench kmod build|load|unload|status` (+ hidden `selftest`, `fuzz`
//! used by scripts/vm-test.sh inside the QEMU guest).

use super::abi::{self, Method, Variant};
use super::device::{self, Device, GeneratorSpec};
use super::fuzz;
use anyhow::{bail, ensure, Context, Result};
use nix::errno::Errno;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct KmodArgs {
    #[command(subcommand)]
    pub action: KmodAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum KmodAction {
    /// Build entrybench.ko (make -C kmod-helper)
    Build {
        /// Kernel build tree (default: /lib/modules/$(uname -r)/build)
        #[arg(long)]
        kdir: Option<PathBuf>,
        /// The kmod-helper directory (default: found from here or the binary)
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Extra warnings (make W=1)
        #[arg(long)]
        w1: bool,
    },
    /// Load entrybench.ko into the running kernel
    Load {
        /// Path of the module (default: <kmod-helper>/entrybench.ko)
        #[arg(long)]
        ko: Option<PathBuf>,
    },
    /// Unload entrybench (fails while /dev/entrybench is open)
    Unload,
    /// Show whether the module is loaded and what it reports
    Status,
    /// Exercise every ioctl and assert the results (used by the VM test)
    #[command(hide = true)]
    Selftest {
        /// Variants that must be refused with EOPNOTSUPP (comma-separated names)
        #[arg(long, value_delimiter = ',')]
        expect_unsupported: Vec<String>,
        /// Leave a detached generator running (to test unload while it runs)
        #[arg(long)]
        leave_generator: bool,
    },
    /// Random ioctls with a checked outcome (used by the VM test)
    #[command(hide = true)]
    Fuzz {
        #[arg(long, default_value_t = 10_000)]
        count: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Other fuzzers run at the same time (accept their EBUSY)
        #[arg(long)]
        shared: bool,
    },
}

pub fn cmd(args: KmodArgs) -> Result<i32> {
    match args.action {
        KmodAction::Build { kdir, dir, w1 } => build(kdir, dir, w1),
        KmodAction::Load { ko } => load(ko),
        KmodAction::Unload => unload(),
        KmodAction::Status => status(),
        KmodAction::Selftest {
            expect_unsupported,
            leave_generator,
        } => selftest(&expect_unsupported, leave_generator),
        KmodAction::Fuzz {
            count,
            seed,
            shared,
        } => {
            let dev = Device::open()?;
            let r = fuzz::run(&dev, count, seed, shared)?;
            println!(
                "kmod fuzz: {} ioctls, outcomes {}",
                r.calls,
                r.outcomes_line()
            );
            Ok(0)
        }
    }
}

/// The kmod-helper directory: next to the current directory or above the binary.
fn helper_dir(explicit: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(d) = explicit {
        ensure!(
            d.join("Makefile").is_file(),
            "{}: no Makefile there",
            d.display()
        );
        return Ok(d);
    }
    let mut starts = vec![std::env::current_dir().context("current directory")?];
    if let Ok(exe) = std::env::current_exe() {
        starts.push(exe);
    }
    for start in starts {
        for dir in start.ancestors() {
            let cand = dir.join("kmod-helper");
            if cand.join("entrybench_uapi.h").is_file() {
                return Ok(cand);
            }
        }
    }
    bail!("cannot find the kmod-helper directory; pass --dir")
}

fn build(kdir: Option<PathBuf>, dir: Option<PathBuf>, w1: bool) -> Result<i32> {
    let dir = helper_dir(dir)?;
    let mut make = Command::new("make");
    make.arg("-C").arg(&dir);
    if let Some(k) = &kdir {
        ensure!(
            k.join("Makefile").is_file(),
            "{}: not a kernel build tree (no Makefile)",
            k.display()
        );
        make.arg(format!("KDIR={}", k.display()));
    } else {
        let rel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .context("reading the kernel release")?;
        let k = Path::new("/lib/modules").join(rel.trim()).join("build");
        ensure!(
            k.join("Makefile").is_file(),
            "{}: no headers for the running kernel; install them or pass --kdir",
            k.display()
        );
    }
    if w1 {
        make.arg("W=1");
    }
    let st = make.status().context("running make (is it installed?)")?;
    ensure!(st.success(), "make -C {} failed ({st})", dir.display());
    println!("built {}", dir.join("entrybench.ko").display());
    Ok(0)
}

fn load(ko: Option<PathBuf>) -> Result<i32> {
    if !Path::new("/proc/modules").exists() {
        bail!("this kernel cannot load modules (no /proc/modules: built without CONFIG_MODULES)");
    }
    let ko = match ko {
        Some(k) => k,
        None => helper_dir(None)?.join("entrybench.ko"),
    };
    let file = std::fs::File::open(&ko).with_context(|| {
        format!(
            "opening {} (run `entrybench kmod build` first)",
            ko.display()
        )
    })?;
    let params = CString::new("").expect("no NUL in an empty string");
    // SAFETY: finit_module reads the fd and a NUL-terminated parameter string.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_finit_module,
            std::os::fd::AsRawFd::as_raw_fd(&file),
            params.as_ptr(),
            0,
        )
    };
    if rc != 0 {
        let e = Errno::last();
        let why = match e {
            Errno::EEXIST => "already loaded".to_string(),
            Errno::EPERM => "not permitted: need root (CAP_SYS_MODULE), or module loading is disabled \
                             (nomodule, modules_disabled or lockdown)"
                .to_string(),
            Errno::ENOSYS => "this kernel cannot load modules".to_string(),
            Errno::ENOEXEC | Errno::EINVAL => {
                "the kernel refused it: built for another kernel? rebuild with `entrybench kmod build`".to_string()
            }
            _ => e.desc().to_string(),
        };
        bail!("loading {}: {why} ({e})", ko.display());
    }
    println!("loaded {}", ko.display());
    Ok(0)
}

fn unload() -> Result<i32> {
    if !Path::new("/proc/modules").exists() {
        bail!("this kernel cannot load or unload modules (no /proc/modules: built without CONFIG_MODULES)");
    }
    let name = CString::new("entrybench").expect("no NUL");
    // SAFETY: delete_module takes a NUL-terminated name and flags.
    let rc = unsafe { libc::syscall(libc::SYS_delete_module, name.as_ptr(), libc::O_NONBLOCK) };
    if rc != 0 {
        let e = Errno::last();
        let why = match e {
            Errno::ENOENT => "not loaded",
            Errno::EWOULDBLOCK => "in use: /dev/entrybench is open",
            Errno::EPERM => "not permitted (need root)",
            Errno::ENOSYS => "this kernel cannot unload modules",
            _ => e.desc(),
        };
        bail!("unloading entrybench: {why} ({e})");
    }
    println!("unloaded entrybench");
    Ok(0)
}

fn status() -> Result<i32> {
    let loaded = std::fs::read_to_string("/proc/modules")
        .map(|s| s.lines().any(|l| l.starts_with("entrybench ")))
        .unwrap_or(false);
    println!(
        "module           {}",
        if loaded { "loaded" } else { "not loaded" }
    );
    if !device::available() {
        println!("device           {} absent", abi::DEVICE_PATH);
        return Ok(if loaded { 1 } else { 0 });
    }
    let dev = Device::open()?;
    print!("{}", dev.info()?.describe());
    Ok(0)
}

/// Counts what the self-test did, printed as one line the VM test greps.
#[derive(Debug, Default)]
struct Tally {
    ioctls: u64,
    checks: u64,
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

/// Names of kthreads of running generators (comm `entrybench-gen<id>`).
fn generator_threads() -> Vec<String> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            if let Ok(c) = std::fs::read_to_string(e.path().join("comm")) {
                if c.starts_with("entrybench-gen") {
                    v.push(c.trim().to_string());
                }
            }
        }
    }
    v
}

/// The victim's count in a /proc/interrupts row ("CAL", "TLB").
fn irq_count(row: &str, cpu: u32) -> Result<u64> {
    let text = std::fs::read_to_string("/proc/interrupts").context("reading /proc/interrupts")?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .context("empty /proc/interrupts")?
        .split_whitespace()
        .collect();
    let col = header
        .iter()
        .position(|h| *h == format!("CPU{cpu}"))
        .with_context(|| format!("no CPU{cpu} column in /proc/interrupts"))?;
    let line = lines
        .find(|l| l.trim_start().starts_with(&format!("{row}:")))
        .with_context(|| format!("no {row} row in /proc/interrupts"))?;
    line.split_whitespace()
        .nth(col + 1)
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("bad {row} row in /proc/interrupts"))
}

/// Raw ioctl with a pointer argument, for the negative cases.
fn raw_ioctl<T>(dev: &Device, nr: u64, arg: *mut T) -> Result<i32> {
    // SAFETY: callers pass either a valid, correctly sized struct or an
    // address the kernel must refuse; the kernel never writes elsewhere.
    let rc = unsafe { libc::ioctl(dev.raw_fd(), nr as libc::c_ulong, arg) };
    if rc < 0 {
        return Err(anyhow::Error::new(Errno::last()));
    }
    Ok(rc)
}

fn selftest(expect_unsupported: &[String], leave_generator: bool) -> Result<i32> {
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
    let mut expect_off = Vec::new();
    for n in expect_unsupported.iter().filter(|n| !n.is_empty()) {
        expect_off.push(Variant::from_name(n).with_context(|| format!("unknown variant {n:?}"))?);
    }

    // FLUSH_TIMED and ENTRY_FLUSH for every variant.
    for v in Variant::ALL {
        let sup = info.supports(v);
        if expect_off.contains(&v) {
            t.check(!sup, || {
                format!("INFO says {} is supported, expected not", v.name())
            })?;
        }
        if sup {
            let r = dev.flush_timed(v, 2000)?;
            t.ioctls += 1;
            t.check(r.cycles.len() == 2000 && r.chunks >= 1, || {
                format!("{}: chunks", v.name())
            })?;
            let max = r.cycles.iter().copied().max().unwrap_or(0);
            t.check(max > 0, || format!("{}: all samples zero", v.name()))?;
            for _ in 0..1000 {
                dev.entry_flush(v)
                    .with_context(|| format!("ENTRY_FLUSH {}", v.name()))?;
                t.ioctls += 1;
            }
            let mut s = r.cycles.clone();
            s.sort_unstable();
            println!(
                "selftest: flush_timed {:<12} median {:>7} cycles  min {:>7}  chunks {}  overhead {}",
                v.name(),
                s[s.len() / 2],
                s[0],
                r.chunks,
                r.overhead
            );
        } else {
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
        }
    }

    // Argument validation of FLUSH_TIMED / ENTRY_FLUSH.
    let mut buf = vec![0u64; 16];
    let mut ft = abi::FlushTimed {
        variant: 0,
        iterations: 16,
        cycles_ptr: buf.as_mut_ptr() as u64,
        ..Default::default()
    };
    let mut bad = ft;
    bad.variant = abi::VARIANT_COUNT;
    t.expect_errno(
        raw_ioctl(&dev, abi::nr::FLUSH_TIMED, &mut bad),
        Errno::EINVAL,
        "FLUSH_TIMED bad variant",
    )?;
    let mut bad = ft;
    bad.iterations = 0;
    t.expect_errno(
        raw_ioctl(&dev, abi::nr::FLUSH_TIMED, &mut bad),
        Errno::EINVAL,
        "FLUSH_TIMED 0 iterations",
    )?;
    let mut bad = ft;
    bad.iterations = abi::MAX_ITERATIONS + 1;
    t.expect_errno(
        raw_ioctl(&dev, abi::nr::FLUSH_TIMED, &mut bad),
        Errno::EINVAL,
        "FLUSH_TIMED too many",
    )?;
    let mut bad = ft;
    bad.cycles_ptr = 0;
    t.expect_errno(
        raw_ioctl(&dev, abi::nr::FLUSH_TIMED, &mut bad),
        Errno::EINVAL,
        "FLUSH_TIMED null buffer",
    )?;
    let mut bad = ft;
    bad.cycles_ptr = 0xffff_8880_0000_0000;
    t.expect_errno(
        raw_ioctl(&dev, abi::nr::FLUSH_TIMED, &mut bad),
        Errno::EFAULT,
        "FLUSH_TIMED kernel buffer",
    )?;
    t.expect_errno(
        raw_ioctl(
            &dev,
            abi::nr::FLUSH_TIMED,
            std::ptr::null_mut::<abi::FlushTimed>(),
        ),
        Errno::EFAULT,
        "FLUSH_TIMED null arg",
    )?;
    raw_ioctl(&dev, abi::nr::FLUSH_TIMED, &mut ft)?;
    t.ioctls += 1;
    t.check(ft.chunks >= 1, || "FLUSH_TIMED nop wrote nothing".into())?;
    for arg in [abi::VARIANT_COUNT as i32, 1000, -1] {
        t.expect_errno(
            dev.entry_flush_raw(arg).map_err(anyhow::Error::new),
            Errno::EINVAL,
            &format!("ENTRY_FLUSH {arg}"),
        )?;
    }
    t.expect_errno(
        raw_ioctl(
            &dev,
            nix::request_code_none!(abi::IOC_MAGIC, 42),
            std::ptr::null_mut::<u8>(),
        ),
        Errno::ENOTTY,
        "unknown ioctl",
    )?;

    // GLOBAL_FLUSH: every method to all online CPUs; validation.
    for m in Method::ALL {
        let n = if m == Method::KernelRange { 20 } else { 100 };
        let r = dev.global_flush(m, &online, n, 4)?;
        t.ioctls += 1;
        t.check(
            r.cycles.iter().all(|&c| c > 0) && r.total_cycles >= r.max_cycles,
            || format!("GLOBAL_FLUSH {}: cycles", m.name()),
        )?;
        let mut s = r.cycles.clone();
        s.sort_unstable();
        println!(
            "selftest: global_flush {:<12} median {:>7} cycles  max {}",
            m.name(),
            s[s.len() / 2],
            r.max_cycles
        );
    }
    let offline = info.raw.nr_cpu_ids.min((abi::MASK_WORDS * 64) as u32 - 1);
    t.expect_errno(
        dev.global_flush(Method::FlushAll, &[], 1, 0),
        Errno::EINVAL,
        "GLOBAL_FLUSH empty mask",
    )?;
    t.expect_errno(
        dev.global_flush(Method::FlushAll, &[offline], 1, 0),
        Errno::EINVAL,
        "GLOBAL_FLUSH offline CPU",
    )?;
    t.expect_errno(
        dev.global_flush(Method::FlushAll, &online, 0, 0),
        Errno::EINVAL,
        "GLOBAL_FLUSH count 0",
    )?;
    t.expect_errno(
        dev.global_flush(Method::KernelRange, &online, 1, abi::MAX_PAGES + 1),
        Errno::EINVAL,
        "GLOBAL_FLUSH too many pages",
    )?;
    let mut gf = abi::GlobalFlush {
        method: abi::METHOD_COUNT,
        count: 1,
        cpumask: abi::cpumask(&online)?,
        ..Default::default()
    };
    t.expect_errno(
        raw_ioctl(&dev, abi::nr::GLOBAL_FLUSH, &mut gf),
        Errno::EINVAL,
        "GLOBAL_FLUSH bad method",
    )?;
    gf.method = 0;
    gf.pad = 1;
    t.expect_errno(
        raw_ioctl(&dev, abi::nr::GLOBAL_FLUSH, &mut gf),
        Errno::EINVAL,
        "GLOBAL_FLUSH nonzero pad",
    )?;

    // Generators: each method from a housekeeping CPU to the last CPU.
    let victim = *online.last().expect("checked non-empty");
    let mut gens = 0u64;
    if online.len() >= 2 {
        for m in Method::ALL {
            let spec = GeneratorSpec {
                method: m,
                rate_hz: 500,
                duration_ms: 0,
                pages: 1,
                initiator_cpu: None,
                targets: vec![victim],
                detach: false,
            };
            let cal0 = irq_count("CAL", victim)?;
            let h = dev.generator_start(&spec)?;
            t.ioctls += 1;
            t.check(h.initiator_cpu != victim, || {
                "generator runs on its victim".into()
            })?;
            std::thread::sleep(Duration::from_millis(300));
            let st = dev.generator_stop(h)?;
            let cal = irq_count("CAL", victim)?.saturating_sub(cal0);
            t.ioctls += 1;
            gens += 1;
            t.check(st.issued > 0, || {
                format!("generator {} issued nothing", m.name())
            })?;
            // Every flush is a function-call IPI to the victim: the victim's
            // CAL row must have grown at least that much.
            t.check(cal >= st.issued, || {
                format!(
                    "generator {}: {} flushes but victim CAL grew by {cal}",
                    m.name(),
                    st.issued
                )
            })?;
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
        let spec = GeneratorSpec {
            method: Method::FlushAll,
            rate_hz: 0,
            duration_ms: 0,
            pages: 1,
            initiator_cpu: None,
            targets: vec![victim],
            detach: false,
        };
        t.expect_errno(
            dev.generator_start(&spec),
            Errno::EINVAL,
            "GENERATOR_START rate 0",
        )?;
        let all = GeneratorSpec {
            rate_hz: 100,
            targets: online.clone(),
            ..spec.clone()
        };
        t.expect_errno(
            dev.generator_start(&all),
            Errno::EINVAL,
            "GENERATOR_START no housekeeping CPU",
        )?;
        let on_victim = GeneratorSpec {
            rate_hz: 100,
            initiator_cpu: Some(victim),
            ..spec.clone()
        };
        t.expect_errno(
            dev.generator_start(&on_victim),
            Errno::EINVAL,
            "GENERATOR_START initiator = victim",
        )?;
        let mut full = Vec::new();
        let ok = GeneratorSpec {
            rate_hz: 10,
            ..spec.clone()
        };
        for _ in 0..abi::MAX_GENERATORS {
            full.push(dev.generator_start(&ok)?);
            t.ioctls += 1;
        }
        t.expect_errno(
            dev.generator_start(&ok),
            Errno::EBUSY,
            "GENERATOR_START beyond the limit",
        )?;
        // close() must stop every generator of the fd.
        drop(dev);
        std::thread::sleep(Duration::from_millis(100));
        let left = generator_threads();
        t.check(left.is_empty(), || {
            format!("generators survived close(): {left:?}")
        })?;
        gens += full.len() as u64;

        if leave_generator {
            let dev = Device::open()?;
            let spec = GeneratorSpec {
                method: Method::FlushAll,
                rate_hz: 1000,
                detach: true,
                ..spec
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
    } else {
        println!("selftest: one online CPU: generators skipped");
    }
    println!(
        "kmod selftest: PASS ioctls={} checks={} generators={}",
        t.ioctls, t.checks, gens
    );
    Ok(0)
}
