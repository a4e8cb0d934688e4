//! `entrybench kmod build|load|unload|status` (+ hidden `selftest` and
//! `fuzz`, in their own modules, used by scripts/vm-test.sh in the guest).

use crate::kmod::abi;
use crate::kmod::device::{self, Device};
use crate::kmod::fuzz;
use anyhow::{bail, ensure, Context, Result};
use nix::errno::Errno;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::Command;

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
        /// Offline and online a CPU (not CPU 0, a housekeeping one first)
        /// while a generator runs from it; on a real machine this moves
        /// interrupt affinities, so it is for test machines and guests
        #[arg(long)]
        hotplug: bool,
        /// Samples per side of the printed dispatch and next-entry figures
        #[arg(long, default_value_t = 2000)]
        entry_samples: usize,
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
        /// The kernel's fault injection is set up (failslab,
        /// fail_page_alloc, task-filter): mark this thread around each
        /// ioctl and each generator thread it starts, and accept ENOMEM
        /// where the call allocates
        #[arg(long)]
        alloc_faults: bool,
    },
    /// What users do at once: threads on one fd, guessed ids, signals,
    /// dup, fork, close during a call, every generator at the maximum rate
    /// (used by the VM test)
    #[command(hide = true)]
    Race {
        /// Fuzzed calls in all on the shared fd
        #[arg(long, default_value_t = 10_000)]
        count: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Threads fuzzing the shared fd (at least 2)
        #[arg(long, default_value_t = 4)]
        threads: usize,
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
            hotplug,
            entry_samples,
        } => crate::kmod::selftest::run(
            &expect_unsupported,
            crate::kmod::selftest::Extras {
                leave_generator,
                hotplug,
                entry_samples,
            },
        ),
        KmodAction::Fuzz {
            count,
            seed,
            shared,
            alloc_faults,
        } => {
            let dev = Device::open()?;
            let r = fuzz::run(&dev, count, seed, shared, alloc_faults)?;
            println!(
                "kmod fuzz: {} ioctls, outcomes {}",
                r.calls,
                r.outcomes_line()
            );
            if alloc_faults {
                println!(
                    "kmod fuzz: allocation failures injected: {} generator threads marked, \
                     {} generator flushes could not allocate",
                    r.gens_marked, r.gen_alloc_failures
                );
            }
            Ok(0)
        }
        KmodAction::Race {
            count,
            seed,
            threads,
        } => {
            let r = fuzz::race::run(count, seed, threads)?;
            println!(
                "kmod race: {} ioctls, outcomes {}",
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
