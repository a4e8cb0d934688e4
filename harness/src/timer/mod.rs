//! The cycle timer every figure is measured with.
//!
//! `Tsc` (`tsc.rs`) is the fenced time-stamp counter: `lfence; rdtsc;
//! lfence` to start (earlier work finished, later work not begun),
//! `rdtscp; lfence` to stop (rdtscp waits for earlier instructions; the
//! lfence keeps later ones from starting before the read). `Pmc`
//! (`pmc.rs`) reads the core-cycle counter of a perf event with `rdpmc`
//! under the same fences; it is used only when perf grants user-space
//! rdpmc on a hardware cycles event (most VMs have no PMU, so they get
//! `Tsc`). `calibrate.rs` measures what each run needs to know about the
//! clock.
//!
//! `Timer` is one run's choice: the TSC alone, or the TSC with core cycles
//! beside it (a `workloads::Paired` clock: time always comes from the TSC,
//! core cycles are kept as their own figure and never converted with the
//! TSC rate); the overheads (median of empty regions, measured each run
//! and subtracted from every sample of their counter), the TSC step
//! (smallest positive difference of back-to-back reads) and the TSC
//! frequency for ns figures (CPUID/hypervisor leaf when the detection
//! found it and it agrees within 0.5% with a 150 ms measurement against
//! CLOCK_MONOTONIC_RAW, else the measurement).
//!
//! Criterion and other callers use `Tsc::start()`/`Tsc::stop()` directly
//! (they return raw u64 counts) and `Timer::tsc_hz` or `tsc_hz_live()`.

mod calibrate;
mod pmc;
pub mod skew;
mod tsc;

pub use calibrate::{measure_overhead, measure_tsc_hz, step, tsc_frequency, tsc_hz_live};
pub use pmc::Pmc;
pub use tsc::{check_tsc, Tsc};

use crate::schema::{Environment, TimerInfo, TimerKind};

/// Why the timer cannot be set up (or a clock cannot be used).
#[derive(Debug, thiserror::Error)]
pub enum TimerError {
    #[error("this CPU has no RDTSCP (CPUID.80000001H:EDX[27]); the timer needs it to end a timed region")]
    NoRdtscp,
    #[error("{}; rerun with --force to measure anyway", Self::VARIANT_TSC)]
    VariantTsc,
    #[error("clock_gettime(CLOCK_MONOTONIC_RAW): {0}")]
    MonotonicRaw(std::io::Error),
    #[error("measured TSC frequency {0:.0} Hz is implausible")]
    ImplausibleFrequency(f64),
    #[error(
        "perf_event_open(cycles) failed: {0} (no PMU in this VM, or perf_event_paranoid too high)"
    )]
    PerfOpen(std::io::Error),
    #[error("mmap of the perf event page failed: {0}")]
    PerfMmap(std::io::Error),
    #[error("perf does not allow rdpmc of the cycles event from user space")]
    NoUserRdpmc,
}

impl TimerError {
    /// Why a TSC without the invariant bit is refused (also the warning
    /// recorded when it is forced).
    pub const VARIANT_TSC: &'static str =
        "this CPU does not report an invariant TSC (CPUID.80000007H:EDX[8]): \
         the TSC may change rate with P-states or stop in C-states, so cycle and ns figures could be wrong";
}

/// Which counters the timed loops read.
#[derive(Debug)]
pub enum ClockChoice {
    /// The TSC alone.
    Tsc,
    /// The TSC for time, and perf rdpmc core cycles beside it.
    Pmc(Pmc),
}

/// Runs `$body` with `$c` bound to the run's clock, so the hot loop is
/// compiled once per clock with no branch inside it: the TSC alone, or,
/// where perf allows rdpmc, a `workloads::Paired` of the TSC and the core
/// counter whose per-region core cycles go to `$log` (a
/// `workloads::CoreLog`). Either way the loop's samples are TSC cycles:
/// time always comes from the TSC, and core cycles are a figure of their
/// own. This is the one place the run's clock choice is matched.
#[macro_export]
macro_rules! with_clock {
    ($timer:expr, $log:expr, $c:ident => $body:expr) => {
        match &$timer.clock {
            $crate::timer::ClockChoice::Tsc => {
                let $c = &$crate::timer::Tsc;
                $body
            }
            $crate::timer::ClockChoice::Pmc(p) => {
                let $c = &workloads::Paired::new(&$crate::timer::Tsc, p, $log);
                $body
            }
        }
    };
}

/// The single clock a criterion bench reads (criterion keeps one value
/// per region): the TSC, or core cycles alone with `ENTRYBENCH_CLOCK=rdpmc`
/// (recorded as timer kind `rdpmc`, so the import marks them as core
/// cycles and no report converts them to ns).
#[macro_export]
macro_rules! with_bench_clock {
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

/// One run's timer: clock, overheads and frequency.
#[derive(Debug)]
pub struct Timer {
    pub clock: ClockChoice,
    /// Median TSC cycles of an empty region of the run's clock
    /// (`with_clock!`); subtracted from every time sample.
    pub overhead_cycles: f64,
    /// Median TSC cycles of an empty region of the bare TSC (ipi.* reads
    /// the TSC alone: a gap on one CPU is matched with a call on another).
    pub tsc_overhead_cycles: f64,
    /// With rdpmc: median core cycles of an empty region of the run's
    /// clock, subtracted from every core-cycle sample.
    pub core_overhead_cycles: Option<f64>,
    /// Median empty-region cost of the bench clock (`with_bench_clock!`):
    /// the TSC's, or core cycles of rdpmc alone.
    pub bench_overhead_cycles: f64,
    /// Smallest positive difference of two back-to-back TSC reads, cycles
    /// (1 = it counts every cycle). Some TSCs advance in steps (~24.5
    /// cycles on some Zen guests): a region shorter than ~50 steps is
    /// quantized by more than 2%, which is why entry.* time batches.
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
    /// Chooses the clock and measures its overheads and the TSC frequency.
    /// Call it on the CPU the measurements will run on (after pinning).
    pub fn setup(env: &Environment, opts: TimerOptions) -> Result<Timer, TimerError> {
        let mut notes = Vec::new();
        if let Some(w) = check_tsc(env, opts.force)? {
            notes.push(w);
        }
        let (tsc_hz, tsc_hz_source) = tsc_frequency(&env.cpu, &mut notes)?;
        let clock = if opts.try_rdpmc {
            match Pmc::open() {
                Ok(p) => ClockChoice::Pmc(p),
                Err(why) => {
                    notes.push(format!("timer: TSC, no core cycles: {why}"));
                    ClockChoice::Tsc
                }
            }
        } else {
            ClockChoice::Tsc
        };
        let (tsc_overhead_cycles, resolution_cycles) = measure_overhead(&Tsc);
        let (overhead_cycles, core_overhead_cycles, bench_overhead_cycles) = match &clock {
            ClockChoice::Tsc => (tsc_overhead_cycles, None, tsc_overhead_cycles),
            ClockChoice::Pmc(p) => {
                let log = workloads::CoreLog::with_capacity(calibrate::OVERHEAD_SAMPLES);
                let (tsc, _) = measure_overhead(&workloads::Paired::new(&Tsc, p, &log));
                let mut core = log.take();
                core.sort_unstable();
                let core = report::model::stats::median_sorted(&core);
                (tsc, Some(core), measure_overhead(p).0)
            }
        };
        let mut t = Timer {
            clock,
            overhead_cycles,
            tsc_overhead_cycles,
            core_overhead_cycles,
            bench_overhead_cycles,
            resolution_cycles,
            tsc_hz,
            tsc_hz_source,
            notes,
        };
        if t.resolution_cycles > 1 {
            let note = format!(
                "timer: two back-to-back reads differ by at least {} cycles ({:.1} ns), the \
                 timer's resolution: a single call per timed region is quantized to it",
                t.resolution_cycles,
                t.resolution_ns()
            );
            t.notes.push(note);
        }
        Ok(t)
    }

    /// What `entrybench run` records: the TSC, or the TSC with core
    /// cycles beside it.
    pub fn kind(&self) -> TimerKind {
        match self.clock {
            ClockChoice::Tsc => TimerKind::Tsc,
            ClockChoice::Pmc(_) => TimerKind::TscAndRdpmc,
        }
    }

    /// The TimerInfo of a run's result file.
    pub fn info(&self) -> TimerInfo {
        TimerInfo {
            kind: self.kind(),
            overhead_cycles: self.overhead_cycles,
            core_overhead_cycles: self.core_overhead_cycles,
            tsc_hz: self.tsc_hz,
            tsc_hz_source: self.tsc_hz_source.clone(),
            resolution_cycles: self.resolution_cycles,
            resolution_ns: self.resolution_ns(),
        }
    }

    /// The TimerInfo of a criterion bench session: its samples count the
    /// bench clock (core cycles alone with rdpmc).
    pub fn bench_info(&self) -> TimerInfo {
        let kind = match self.clock {
            ClockChoice::Tsc => TimerKind::Tsc,
            ClockChoice::Pmc(_) => TimerKind::Rdpmc,
        };
        TimerInfo {
            kind,
            overhead_cycles: self.bench_overhead_cycles,
            core_overhead_cycles: None,
            ..self.info()
        }
    }

    /// The TSC step in ns.
    pub fn resolution_ns(&self) -> f64 {
        self.tsc_ns(self.resolution_cycles as f64)
    }

    /// Removes the timer's own cost from raw time (TSC) samples.
    pub fn subtract_overhead(&self, samples: &mut [i64]) {
        let o = self.overhead_cycles.round() as i64;
        samples.iter_mut().for_each(|s| *s -= o);
    }

    /// A log with room for `regions` core-cycle deltas: empty and never
    /// filled without rdpmc.
    pub fn core_log(&self, regions: usize) -> workloads::CoreLog {
        match self.clock {
            ClockChoice::Tsc => workloads::CoreLog::default(),
            ClockChoice::Pmc(_) => workloads::CoreLog::with_capacity(regions),
        }
    }

    /// The core cycles `log` holds, the core-cycle overhead of an empty
    /// region removed; None without rdpmc.
    pub fn core_samples(&self, log: &workloads::CoreLog) -> Option<Vec<i64>> {
        let o = self.core_overhead_cycles?.round() as i64;
        let mut v = log.take();
        v.iter_mut().for_each(|s| *s -= o);
        Some(v)
    }

    /// TSC cycles to nanoseconds (NaN when the frequency is unknown).
    pub fn tsc_ns(&self, cycles: f64) -> f64 {
        report::model::units::cycles_to_ns(report::model::units::TscCycles(cycles), self.tsc_hz)
            .unwrap_or(f64::NAN)
    }
}

#[cfg(test)]
mod tests {
    use super::calibrate::TSC_MEASURE;
    use super::*;
    use crate::schema::CpuFeatures;

    fn env(invariant: bool, rdtscp: bool) -> Environment {
        crate::fixtures::environment(CpuFeatures {
            invariant_tsc: invariant,
            rdtscp,
            ..Default::default()
        })
    }

    #[test]
    fn refuses_variant_tsc_unless_forced() {
        let e = check_tsc(&env(false, true), false).unwrap_err();
        assert!(matches!(e, TimerError::VariantTsc));
        let e = e.to_string();
        assert!(e.contains("invariant TSC") && e.contains("--force"), "{e}");
        let w = check_tsc(&env(false, true), true).unwrap().unwrap();
        assert!(w.starts_with("forced"));
        assert_eq!(check_tsc(&env(true, true), false).unwrap(), None);
        let e = check_tsc(&env(true, false), true).unwrap_err();
        assert!(matches!(e, TimerError::NoRdtscp) && e.to_string().contains("RDTSCP"));
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
    fn overhead_is_subtracted_from_every_sample() {
        let t = Timer {
            clock: ClockChoice::Tsc,
            overhead_cycles: 30.4,
            tsc_overhead_cycles: 30.4,
            core_overhead_cycles: None,
            bench_overhead_cycles: 30.4,
            resolution_cycles: 25,
            tsc_hz: 2e9,
            tsc_hz_source: "measured".into(),
            notes: vec![],
        };
        let mut s = vec![100, 30, 10];
        t.subtract_overhead(&mut s);
        assert_eq!(s, vec![70, 0, -20]);
        assert_eq!(t.tsc_ns(2000.0), 1000.0);
        let i = t.info();
        assert_eq!(i.kind, TimerKind::Tsc);
        assert_eq!((i.resolution_cycles, i.resolution_ns), (25, 12.5));
    }
}
