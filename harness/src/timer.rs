//! The cycle timer every figure is measured with.
//!
//! `Tsc` is the fenced time-stamp counter: `lfence; rdtsc; lfence` to start
//! (earlier work finished, later work not begun), `rdtscp; lfence` to stop
//! (rdtscp waits for earlier instructions; the lfence keeps later ones
//! from starting before the read). `Pmc` reads the core-cycle counter of a
//! perf event with `rdpmc` under the same fences; it is used only when
//! perf grants user-space rdpmc on a hardware cycles event (most VMs have
//! no PMU, so they get `Tsc`).
//!
//! `Timer` is one run's choice: which clock, its overhead (median of empty
//! regions, measured each run and subtracted from every sample), and the
//! TSC frequency for ns figures (CPUID/hypervisor leaf when the detection
//! found it and it agrees within 0.5% with a 150 ms measurement against
//! CLOCK_MONOTONIC_RAW, else the measurement).
//!
//! Criterion and other callers use `Tsc::start()`/`Tsc::stop()` directly
//! (they return raw u64 counts) and `Timer::tsc_hz` or `tsc_hz_live()`.

use crate::schema::{CpuFacts, Environment, TimerInfo};
use anyhow::{bail, Context, Result};
use std::arch::asm;
use workloads::entry::EntryOp;
use workloads::Clock;

/// Largest relative difference between the CPUID TSC frequency and the
/// measured one before the measured one is used instead.
const MAX_TSC_DISAGREEMENT: f64 = 0.005;
/// Empty regions timed to find the timer's own cost.
const OVERHEAD_SAMPLES: usize = 200_000;
/// How long the TSC is compared with CLOCK_MONOTONIC_RAW when its
/// frequency is not known from CPUID: 150 ms gives < 10 ppm of error from
/// the two clock reads at each end.
const TSC_MEASURE: std::time::Duration = std::time::Duration::from_millis(150);

/// The fenced TSC (see module doc). Zero-sized: pass it by value.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tsc;

impl Tsc {
    /// Reads the TSC at the start of a timed region.
    #[inline(always)]
    pub fn start() -> u64 {
        let (lo, hi): (u32, u32);
        // SAFETY: rdtsc/lfence have no memory operands; user-space RDTSC
        // is allowed unless CR4.TSD is set, which Linux does not do for
        // ordinary processes. No `nomem`: a compiler barrier is intended.
        unsafe {
            asm!("lfence", "rdtsc", "lfence", out("eax") lo, out("edx") hi, options(nostack, preserves_flags));
        }
        ((hi as u64) << 32) | lo as u64
    }

    /// Reads the TSC at the end of a timed region.
    #[inline(always)]
    pub fn stop() -> u64 {
        let (lo, hi): (u32, u32);
        // SAFETY: as in `start`; rdtscp also writes ecx (TSC_AUX).
        unsafe {
            asm!("rdtscp", "lfence", out("eax") lo, out("edx") hi, out("ecx") _, options(nostack, preserves_flags));
        }
        ((hi as u64) << 32) | lo as u64
    }
}

impl Clock for Tsc {
    #[inline(always)]
    fn start(&self) -> u64 {
        Tsc::start()
    }
    #[inline(always)]
    fn stop(&self) -> u64 {
        Tsc::stop()
    }
}

/// Core cycles through `rdpmc` of an open perf event (see `Pmc::open`).
#[derive(Debug)]
pub struct Pmc {
    /// rdpmc counter number (perf's `index - 1`).
    counter: u32,
    /// Kept open for the counter's lifetime: closing it frees the counter.
    _fd: std::os::fd::OwnedFd,
    page: *mut libc::c_void,
}

impl Pmc {
    #[inline(always)]
    fn read(&self) -> u64 {
        let (lo, hi): (u32, u32);
        // SAFETY: perf reported cap_user_rdpmc for this event, so CR4.PCE
        // allows rdpmc of this counter on the CPU the thread is pinned to.
        unsafe {
            asm!("lfence", "rdpmc", "lfence", in("ecx") self.counter, out("eax") lo, out("edx") hi,
                 options(nostack, preserves_flags));
        }
        ((hi as u64) << 32) | lo as u64
    }
}

impl Clock for Pmc {
    #[inline(always)]
    fn start(&self) -> u64 {
        self.read()
    }
    #[inline(always)]
    fn stop(&self) -> u64 {
        self.read()
    }
}

impl Drop for Pmc {
    fn drop(&mut self) {
        // SAFETY: the page was mapped by `Pmc::open` with this length.
        unsafe { libc::munmap(self.page, page_size()) };
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

impl Pmc {
    /// Opens a cycles event for this thread and checks that it can be read
    /// with rdpmc. Err says why not, in words for the result file.
    pub fn open() -> std::result::Result<Pmc, String> {
        let fd = crate::perf::open_cycles().map_err(|e| {
            format!(
                "perf_event_open(cycles) failed: {e} (no PMU in this VM, or perf_event_paranoid too high)"
            )
        })?;
        // SAFETY: mapping the event's first (metadata) page read-only.
        let page = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                page_size(),
                libc::PROT_READ,
                libc::MAP_SHARED,
                std::os::fd::AsRawFd::as_raw_fd(&fd),
                0,
            )
        };
        if page == libc::MAP_FAILED {
            return Err(format!(
                "mmap of the perf event page failed: {}",
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: the kernel keeps the page valid while mapped; volatile
        // reads because the kernel updates it.
        let (caps, index) = unsafe {
            let p = page as *const crate::perf::PerfMmapPage;
            (
                std::ptr::addr_of!((*p).capabilities).read_volatile(),
                std::ptr::addr_of!((*p).index).read_volatile(),
            )
        };
        let pmc = Pmc {
            counter: index.wrapping_sub(1),
            _fd: fd,
            page,
        };
        if caps & crate::perf::CAP_USER_RDPMC == 0 || index == 0 {
            return Err("perf does not allow rdpmc of the cycles event from user space".into());
        }
        Ok(pmc)
    }
}

/// Which clock the timed loops use.
#[derive(Debug)]
pub enum ClockChoice {
    Tsc,
    Pmc(Pmc),
}

/// Runs `$body` with `$c` bound to the run's clock (`&Tsc` or `&Pmc`), so
/// the hot loop is compiled once per clock with no branch inside it.
#[macro_export]
macro_rules! with_clock {
    ($timer:expr, $c:ident => $body:expr) => {
        match &$timer.clock {
            $crate::timer::ClockChoice::Tsc => {
                let $c = &$crate::timer::Tsc;
                $body
            }
            $crate::timer::ClockChoice::Pmc(p) => {
                let $c = p;
                $body
            }
        }
    };
}

/// One run's timer: clock, overhead and frequency.
#[derive(Debug)]
pub struct Timer {
    pub clock: ClockChoice,
    /// Median empty-region cost of `clock`, cycles.
    pub overhead_cycles: f64,
    /// Median empty-region cost of the TSC (ipi.* always uses the TSC: a
    /// gap on one CPU is matched with a call on another).
    pub tsc_overhead_cycles: f64,
    /// Smallest step the clock's readings advance by, cycles (1 = every
    /// cycle). AMD Zen TSCs step by P0 MHz / 100 MHz (26 at 2.6 GHz):
    /// single samples are then quantized to that step, and a median can
    /// only move in such steps, while a mean is dithered and finer.
    pub resolution_cycles: u64,
    pub tsc_hz: f64,
    /// "cpuid", "hypervisor" or "measured".
    pub tsc_hz_source: String,
    /// Why the timer is what it is (e.g. why not rdpmc), for the results.
    pub notes: Vec<String>,
}

/// What the caller allows.
#[derive(Debug, Clone, Copy, Default)]
pub struct TimerOptions {
    /// Run without an invariant TSC.
    pub force: bool,
    /// Try perf rdpmc core cycles first.
    pub try_rdpmc: bool,
}

impl Timer {
    /// Chooses the clock and measures its overhead and the TSC frequency.
    /// Call it on the CPU the measurements will run on (after pinning).
    pub fn setup(env: &Environment, opts: TimerOptions) -> Result<Timer> {
        let mut notes = Vec::new();
        if let Some(w) = check_tsc(env, opts.force)? {
            notes.push(w);
        }
        let (tsc_hz, tsc_hz_source) = tsc_frequency(&env.cpu, &mut notes)?;
        let clock = if opts.try_rdpmc {
            match Pmc::open() {
                Ok(p) => ClockChoice::Pmc(p),
                Err(why) => {
                    notes.push(format!("timer: TSC, not core cycles: {why}"));
                    ClockChoice::Tsc
                }
            }
        } else {
            ClockChoice::Tsc
        };
        let (tsc_overhead_cycles, tsc_step) = measure_overhead(&Tsc);
        let (overhead_cycles, resolution_cycles) = match &clock {
            ClockChoice::Tsc => (tsc_overhead_cycles, tsc_step),
            ClockChoice::Pmc(p) => measure_overhead(p),
        };
        if resolution_cycles > 1 {
            notes.push(format!(
                "timer: readings advance in steps of {resolution_cycles} cycles: single samples and medians \
                 are quantized to that step; means are finer"
            ));
        }
        Ok(Timer {
            clock,
            overhead_cycles,
            tsc_overhead_cycles,
            resolution_cycles,
            tsc_hz,
            tsc_hz_source,
            notes,
        })
    }

    /// "tsc" or "rdpmc".
    pub fn kind(&self) -> &'static str {
        match self.clock {
            ClockChoice::Tsc => "tsc",
            ClockChoice::Pmc(_) => "rdpmc",
        }
    }

    /// The TimerInfo of the result file.
    pub fn info(&self) -> TimerInfo {
        TimerInfo {
            kind: self.kind().to_string(),
            overhead_cycles: self.overhead_cycles,
            tsc_hz: self.tsc_hz,
            tsc_hz_source: self.tsc_hz_source.clone(),
        }
    }

    /// Removes the timer's own cost from raw samples of `clock`.
    pub fn subtract_overhead(&self, samples: &mut [i64]) {
        let o = self.overhead_cycles.round() as i64;
        samples.iter_mut().for_each(|s| *s -= o);
    }

    /// TSC cycles to nanoseconds.
    pub fn tsc_ns(&self, cycles: f64) -> f64 {
        cycles * 1e9 / self.tsc_hz
    }
}

/// The TSC frequency and where it came from ("cpuid", "hypervisor",
/// "measured"). Always measured as well: that cross-checks the CPUID
/// figure, which leaf 0x16 (base frequency) or a hypervisor may get
/// slightly wrong; a disagreement is noted and the measurement used.
pub fn tsc_frequency(cpu: &CpuFacts, notes: &mut Vec<String>) -> Result<(f64, String)> {
    let measured = measure_tsc_hz(TSC_MEASURE)?;
    Ok(match cpu.tsc_hz as f64 {
        0.0 => (measured, "measured".to_string()),
        cpuid if ((cpuid - measured) / measured).abs() > MAX_TSC_DISAGREEMENT => {
            notes.push(format!(
                "timer: CPUID says the TSC runs at {:.6} GHz but it measured {:.6} GHz; \
                 using the measured frequency",
                cpuid / 1e9,
                measured / 1e9
            ));
            (measured, "measured".to_string())
        }
        // The decoder tries the hypervisor leaf first in a guest.
        cpuid if cpu.hypervisor.is_some() => (cpuid, "hypervisor".to_string()),
        cpuid => (cpuid, "cpuid".to_string()),
    })
}

/// TSC frequency of this machine for callers without a run, such as a
/// criterion `Measurement` built on `Tsc` (about 150 ms).
pub fn tsc_hz_live() -> Result<f64> {
    Ok(tsc_frequency(&crate::cpu::live_facts(), &mut Vec::new())?.0)
}

/// Refuses a TSC that cannot be trusted as a constant-rate clock, unless
/// forced; returns a warning to record when forced.
pub fn check_tsc(env: &Environment, force: bool) -> Result<Option<String>> {
    let f = &env.cpu.features;
    if !f.rdtscp {
        bail!("this CPU has no RDTSCP (CPUID.80000001H:EDX[27]); the timer needs it to end a timed region");
    }
    if f.invariant_tsc {
        return Ok(None);
    }
    let why = "this CPU does not report an invariant TSC (CPUID.80000007H:EDX[8]): \
               the TSC may change rate with P-states or stop in C-states, so cycle and ns figures could be wrong";
    if force {
        Ok(Some(format!("forced: {why}")))
    } else {
        bail!("{why}; rerun with --force to measure anyway")
    }
}

/// Median cost of an empty timed region of `clock` and the clock's step
/// (see `Timer::resolution_cycles`), cycles.
pub fn measure_overhead<C: Clock>(clock: &C) -> (f64, u64) {
    let mut v = vec![0i64; OVERHEAD_SAMPLES];
    workloads::entry::sample(clock, EntryOp::Empty, 10_000, &mut v);
    v.sort_unstable();
    (report::stats::median_sorted(&v), step(&v))
}

/// Greatest common divisor of the positive values: the step a quantized
/// counter advances by (1 when it counts every cycle).
pub fn step(samples: &[i64]) -> u64 {
    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    let g = samples
        .iter()
        .filter(|&&v| v > 0)
        .fold(0u64, |g, &v| gcd(g, v as u64));
    g.max(1)
}

fn monotonic_raw_ns() -> Result<u128> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_RAW, &mut ts) };
    if r != 0 {
        return Err(std::io::Error::last_os_error()).context("clock_gettime(CLOCK_MONOTONIC_RAW)");
    }
    Ok(ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128)
}

/// One (ns, tsc) pair with the TSC read between two clock reads; the
/// tightest of a few tries bounds the error of the pairing.
fn paired_read() -> Result<(f64, u64)> {
    let mut best: Option<(u128, f64, u64)> = None;
    for _ in 0..16 {
        let a = monotonic_raw_ns()?;
        let t = Tsc::stop();
        let b = monotonic_raw_ns()?;
        let width = b - a;
        if best.is_none_or(|(w, _, _)| width < w) {
            best = Some((width, (a + b) as f64 / 2.0, t));
        }
    }
    let (_, ns, t) = best.expect("16 tries");
    Ok((ns, t))
}

/// TSC frequency measured against CLOCK_MONOTONIC_RAW over `span`.
pub fn measure_tsc_hz(span: std::time::Duration) -> Result<f64> {
    let (ns0, t0) = paired_read()?;
    std::thread::sleep(span);
    let (ns1, t1) = paired_read()?;
    let hz = t1.wrapping_sub(t0) as f64 * 1e9 / (ns1 - ns0);
    if !(1e8..1e11).contains(&hz) {
        bail!("measured TSC frequency {hz:.0} Hz is implausible");
    }
    Ok(hz)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{CpuFacts, CpuFeatures, Verdict};

    fn env(invariant: bool, rdtscp: bool) -> Environment {
        Environment {
            cpu: CpuFacts {
                source: "test".into(),
                vendor: "GenuineIntel".into(),
                family: 6,
                model: 85,
                stepping: 7,
                brand: "test".into(),
                uarch: "unknown".into(),
                hypervisor: None,
                features: CpuFeatures {
                    invariant_tsc: invariant,
                    rdtscp,
                    ..Default::default()
                },
                tsc_hz: 0,
                tlb: vec![],
            },
            platform: None,
            verdict: Verdict {
                entry_flush_variants: vec![],
                pti_needed: None,
                flush_on_entry_runs: None,
                broadcast: vec![],
                text: String::new(),
            },
        }
    }

    #[test]
    fn refuses_variant_tsc_unless_forced() {
        let e = check_tsc(&env(false, true), false).unwrap_err().to_string();
        assert!(e.contains("invariant TSC") && e.contains("--force"), "{e}");
        let w = check_tsc(&env(false, true), true).unwrap().unwrap();
        assert!(w.starts_with("forced"));
        assert_eq!(check_tsc(&env(true, true), false).unwrap(), None);
        assert!(check_tsc(&env(true, false), true)
            .unwrap_err()
            .to_string()
            .contains("RDTSCP"));
    }

    #[test]
    fn tsc_is_monotonic_on_one_cpu() {
        let a = Tsc::start();
        let b = Tsc::stop();
        let c = Tsc::start();
        assert!(a < b && b < c, "{a} {b} {c}");
    }

    #[test]
    fn cpuid_frequency_is_used_only_when_it_agrees() {
        let measured = measure_tsc_hz(TSC_MEASURE).unwrap();
        let mut cpu = env(true, true).cpu;
        let mut notes = Vec::new();
        cpu.tsc_hz = 0;
        assert_eq!(tsc_frequency(&cpu, &mut notes).unwrap().1, "measured");
        cpu.tsc_hz = (measured * 1.0005) as u64;
        assert_eq!(
            tsc_frequency(&cpu, &mut notes).unwrap(),
            (cpu.tsc_hz as f64, "cpuid".into())
        );
        assert!(notes.is_empty());
        cpu.tsc_hz = (measured * 1.2) as u64;
        assert_eq!(tsc_frequency(&cpu, &mut notes).unwrap().1, "measured");
        assert_eq!(notes.len(), 1, "{notes:?}");
    }

    #[test]
    fn step_is_the_common_divisor() {
        assert_eq!(step(&[26, 52, 52, 78, 0, -26]), 26);
        assert_eq!(step(&[30, 31]), 1);
        assert_eq!(step(&[0, 0]), 1);
    }

    #[test]
    fn measured_frequency_is_plausible() {
        let hz = measure_tsc_hz(std::time::Duration::from_millis(20)).unwrap();
        assert!((1e8..1e11).contains(&hz), "{hz}");
    }

    #[test]
    fn overhead_is_subtracted_from_every_sample() {
        let t = Timer {
            clock: ClockChoice::Tsc,
            overhead_cycles: 30.4,
            tsc_overhead_cycles: 30.4,
            resolution_cycles: 1,
            tsc_hz: 2e9,
            tsc_hz_source: "measured".into(),
            notes: vec![],
        };
        let mut s = vec![100, 30, 10];
        t.subtract_overhead(&mut s);
        assert_eq!(s, vec![70, 0, -20]);
        assert_eq!(t.tsc_ns(2000.0), 1000.0);
        assert_eq!(t.info().kind, "tsc");
    }
}
