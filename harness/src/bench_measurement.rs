//! Criterion in cycles: the `Measurement` behind `cargo bench`
//! (`harness/benches/cycles.rs`), its formatter, and the glue that turns a
//! criterion output directory into a result file for `entrybench report`.
//!
//! The measurement is the run's `Timer` (fenced TSC, or perf rdpmc core
//! cycles when `ENTRYBENCH_CLOCK=rdpmc` and the PMU allows it): criterion
//! stores and analyses cycles, not nanoseconds, so its samples are the same
//! unit as `entrybench run`'s and can be imported without conversion. The
//! timer's own cost is removed from every timed region (`region`), as
//! `run` does, so a sample of one operation is the operation alone.

use crate::schema::{Environment, ResultFile};
use crate::timer::{ClockChoice, Timer, TimerOptions};
use anyhow::{Context, Result};
use criterion::measurement::{Measurement, ValueFormatter};
use criterion::Throughput;
use std::path::Path;
use std::rc::Rc;
use workloads::Clock;

/// Environment variable choosing the clock: "tsc" (default) or "rdpmc".
pub const CLOCK_ENV: &str = "ENTRYBENCH_CLOCK";

/// The clock asked for in `CLOCK_ENV`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockRequest {
    Tsc,
    Rdpmc,
}

/// Parses the value of `CLOCK_ENV` (unset or empty = tsc). Err is the
/// message to print; the caller falls back to the TSC.
pub fn clock_request(value: Option<&str>) -> std::result::Result<ClockRequest, String> {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("tsc") => Ok(ClockRequest::Tsc),
        Some("rdpmc") | Some("pmc") | Some("cycles") => Ok(ClockRequest::Rdpmc),
        Some(other) => Err(format!(
            "{CLOCK_ENV}={other:?} is not a clock (use tsc or rdpmc): using tsc"
        )),
    }
}

/// Criterion `Measurement` in cycles of the run's timer. Cheap to clone
/// (the timer is shared), so a bench keeps one copy for `iter_custom`
/// loops while criterion owns the other.
#[derive(Debug, Clone)]
pub struct Cycles {
    timer: Rc<Timer>,
    formatter: CyclesFormatter,
}

impl Cycles {
    pub fn new(timer: Timer) -> Cycles {
        let formatter = CyclesFormatter {
            // ns only mean something for TSC cycles: core cycles run at
            // the core's current frequency, which is not known here.
            tsc_hz: match timer.clock {
                ClockChoice::Tsc => Some(timer.tsc_hz),
                ClockChoice::Pmc(_) => None,
            },
        };
        Cycles {
            timer: Rc::new(timer),
            formatter,
        }
    }

    /// Sets up the timer on the calling (already pinned) thread with the
    /// clock `CLOCK_ENV` asks for. A TSC that is not invariant is used
    /// anyway, with the warning in `notes()`: a benchmark should report,
    /// not refuse.
    pub fn from_env(env: &Environment) -> Result<Cycles> {
        let mut pre = Vec::new();
        let req = clock_request(std::env::var(CLOCK_ENV).ok().as_deref()).unwrap_or_else(|why| {
            pre.push(why);
            ClockRequest::Tsc
        });
        let mut timer = Timer::setup(
            env,
            TimerOptions {
                force: true,
                try_rdpmc: req == ClockRequest::Rdpmc,
            },
        )
        .context("cannot set up the cycle timer")?;
        pre.append(&mut timer.notes);
        timer.notes = pre;
        Ok(Cycles::new(timer))
    }

    pub fn timer(&self) -> &Timer {
        &self.timer
    }

    /// Why the timer is what it is (fallbacks, quantization), to print.
    pub fn notes(&self) -> &[String] {
        &self.timer.notes
    }

    /// Cycles of a timed region from its two raw readings, minus the
    /// timer's own cost (never below 0).
    #[inline(always)]
    pub fn region(&self, t0: u64, t1: u64) -> u64 {
        (t1.wrapping_sub(t0) as f64 - self.timer.bench_overhead_cycles).max(0.0) as u64
    }

    /// `n` regions' worth of raw cycles minus `n` timer costs (for loops
    /// that sum raw readings themselves, e.g. `workloads` sample buffers).
    pub fn minus_overhead(&self, raw_sum: i64, n: u64) -> u64 {
        (raw_sum as f64 - self.timer.bench_overhead_cycles * n as f64).max(0.0) as u64
    }
}

impl Measurement for Cycles {
    type Intermediate = u64;
    type Value = u64;

    #[inline(always)]
    fn start(&self) -> u64 {
        crate::with_bench_clock!(self.timer, c => c.start())
    }
    #[inline(always)]
    fn end(&self, t0: u64) -> u64 {
        let t1 = crate::with_bench_clock!(self.timer, c => c.stop());
        self.region(t0, t1)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a.saturating_add(*b)
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &self.formatter
    }
}

/// Prints cycles, and ns at the TSC frequency when the clock is the TSC.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CyclesFormatter {
    pub tsc_hz: Option<f64>,
}

/// Zero instead of NaN or infinity: criterion requires finite output.
fn finite(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

impl ValueFormatter for CyclesFormatter {
    /// "130.4 cyc (50.2 ns)": criterion's own lines use this, so the
    /// terminal shows both units; plots and CSV use `scale_*`.
    fn format_value(&self, cycles: f64) -> String {
        match self.tsc_hz {
            Some(hz) => match report::model::units::cycles_to_ns(
                report::model::units::TscCycles(cycles),
                hz,
            ) {
                Some(ns) => format!("{:.1} cyc ({})", cycles, ns_text(ns)),
                None => format!("{cycles:.1} cyc"),
            },
            None => format!("{cycles:.1} cyc"),
        }
    }

    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (div, unit) = if typical < 1e4 {
            (1.0, "cycles")
        } else if typical < 1e7 {
            (1e3, "Kcycles")
        } else {
            (1e6, "Mcycles")
        };
        values.iter_mut().for_each(|v| *v = finite(*v / div));
        unit
    }

    fn scale_throughputs(
        &self,
        _typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        // Work per 1000 cycles keeps typical figures (bytes or elements
        // per operation of hundreds of cycles) above 1.
        let (n, unit) = match *throughput {
            Throughput::Bytes(b) | Throughput::BytesDecimal(b) => (b as f64, "B/Kcycle"),
            Throughput::Elements(e) => (e as f64, "elem/Kcycle"),
        };
        values
            .iter_mut()
            .for_each(|v| *v = if *v > 0.0 { finite(n * 1e3 / *v) } else { 0.0 });
        unit
    }

    fn scale_for_machines(&self, values: &mut [f64]) -> &'static str {
        values.iter_mut().for_each(|v| *v = finite(*v));
        "cycles"
    }
}

/// "50.2 ns", "12.34 us", "1.234 ms".
fn ns_text(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} us", ns / 1e3)
    } else {
        format!("{:.3} ms", ns / 1e6)
    }
}

/// Where criterion writes its samples, decided the way criterion decides
/// it (CRITERION_HOME, else $CARGO_TARGET_DIR/criterion, else the
/// workspace's target/criterion); the benches pass it to criterion
/// explicitly so both agree by construction.
pub fn criterion_dir() -> std::path::PathBuf {
    if let Some(h) = std::env::var_os("CRITERION_HOME") {
        return h.into();
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        return Path::new(&t).join("criterion");
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("criterion")
}

/// `entrybench report`/`compare` on a criterion directory: imports its
/// samples. This machine's facts stand in for a missing bench session
/// file; they are only gathered then (detection and timer set-up take a
/// few hundred ms).
pub fn import_criterion(dir: &Path) -> Result<ResultFile> {
    use report::input::criterion as ci;
    let (env, timer) = match ci::read_session(dir)? {
        Some(s) => (s.environment, s.timer),
        None => {
            let env = crate::detect::detect_live().context("cannot describe this machine")?;
            let timer = Timer::setup(
                &env,
                TimerOptions {
                    force: true,
                    try_rdpmc: false,
                },
            )?;
            let info = timer.bench_info();
            (env, info)
        }
    };
    let mut f = ci::read_dir(dir, env, timer)?;
    if f.created.is_empty() {
        f.created = report::model::host::rfc3339(std::time::SystemTime::now());
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_request_parses_and_falls_back() {
        assert_eq!(clock_request(None), Ok(ClockRequest::Tsc));
        assert_eq!(clock_request(Some(" TSC ")), Ok(ClockRequest::Tsc));
        assert_eq!(clock_request(Some("")), Ok(ClockRequest::Tsc));
        assert_eq!(clock_request(Some("rdpmc")), Ok(ClockRequest::Rdpmc));
        let e = clock_request(Some("hpet")).unwrap_err();
        assert!(e.contains("hpet") && e.contains("using tsc"), "{e}");
    }

    #[test]
    fn formatter_prints_cycles_and_ns() {
        let f = CyclesFormatter { tsc_hz: Some(2e9) };
        assert_eq!(f.format_value(130.0), "130.0 cyc (65.0 ns)");
        assert_eq!(f.format_value(4e6), "4000000.0 cyc (2.000 ms)");
        let core = CyclesFormatter { tsc_hz: None };
        assert_eq!(core.format_value(12.34), "12.3 cyc");
    }

    #[test]
    fn scaling_keeps_units_consistent_and_finite() {
        let f = CyclesFormatter { tsc_hz: Some(2e9) };
        let mut v = [100.0, 250.0];
        assert_eq!(f.scale_values(200.0, &mut v), "cycles");
        assert_eq!(v, [100.0, 250.0]);
        let mut v = [2e5, 3e5];
        assert_eq!(f.scale_values(2e5, &mut v), "Kcycles");
        assert_eq!(v, [200.0, 300.0]);
        let mut v = [5e7];
        assert_eq!(f.scale_values(5e7, &mut v), "Mcycles");
        assert_eq!(v, [50.0]);
        let mut v = [500.0, 0.0];
        assert_eq!(
            f.scale_throughputs(500.0, &Throughput::Bytes(4096), &mut v),
            "B/Kcycle"
        );
        assert_eq!(v, [8192.0, 0.0]);
        let mut v = [1000.0];
        assert_eq!(
            f.scale_throughputs(1000.0, &Throughput::Elements(1), &mut v),
            "elem/Kcycle"
        );
        assert_eq!(v, [1.0]);
        let mut v = [1.5, f64::INFINITY];
        assert_eq!(f.scale_for_machines(&mut v), "cycles");
        assert_eq!(v, [1.5, 0.0]);
    }

    fn test_timer(overhead: f64) -> Timer {
        Timer {
            clock: ClockChoice::Tsc,
            overhead_cycles: overhead,
            tsc_overhead_cycles: overhead,
            core_overhead_cycles: None,
            bench_overhead_cycles: overhead,
            resolution_cycles: 1,
            tsc_hz: 2e9,
            tsc_hz_source: "measured".into(),
            notes: vec![],
        }
    }

    #[test]
    fn regions_lose_the_timer_cost_and_never_go_negative() {
        let c = Cycles::new(test_timer(30.0));
        assert_eq!(c.region(1000, 1130), 100);
        assert_eq!(c.region(1000, 1010), 0);
        assert_eq!(c.minus_overhead(1000, 10), 700);
        assert_eq!(c.minus_overhead(100, 10), 0);
        assert_eq!(c.add(&u64::MAX, &1), u64::MAX);
        assert_eq!(c.to_f64(&c.zero()), 0.0);
    }

    #[test]
    fn measurement_reads_the_clock() {
        let c = Cycles::new(test_timer(0.0));
        let t0 = Measurement::start(&c);
        let t1 = Measurement::start(&c);
        // The readings are the TSC's: they advance, and match a direct read
        // taken after them in order (no timing bound is asserted).
        assert!(t1 > t0, "{t0} {t1}");
        let direct = crate::timer::Tsc::start();
        assert!(direct >= t1);
        // end() is the region from t0 to a later read: positive, and no
        // more than up to a read after it.
        let region = c.end(t0);
        let after = crate::timer::Tsc::stop();
        assert!(region > 0 && region <= after - t0, "{region}");
    }
}
