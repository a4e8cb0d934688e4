//! What is measured about the clock each run: the TSC frequency, the
//! cost of an empty timed region and the step the readings advance by.

use super::{TimerError, Tsc};
use crate::schema::CpuFacts;
use workloads::entry::EntryOp;
use workloads::Clock;

/// Largest relative difference between the CPUID TSC frequency and the
/// measured one before the measured one is used instead.
pub const MAX_TSC_DISAGREEMENT: f64 = 0.005;
/// Empty regions timed to find the timer's own cost.
pub(super) const OVERHEAD_SAMPLES: usize = 200_000;
/// Back-to-back reads the step is found from: enough that every phase
/// of a coarse counter's step against the read cost shows up.
const STEP_READS: usize = 100_000;
/// How long the TSC is compared with CLOCK_MONOTONIC_RAW when its
/// frequency is not known from CPUID: 150 ms gives < 10 ppm of error from
/// the two clock reads at each end.
pub const TSC_MEASURE: std::time::Duration = std::time::Duration::from_millis(150);

/// The TSC frequency and where it came from ("cpuid", "hypervisor",
/// "measured"). Always measured as well: that cross-checks the CPUID
/// figure, which leaf 0x16 (base frequency) or a hypervisor may get
/// slightly wrong; a disagreement is noted and the measurement used.
pub fn tsc_frequency(cpu: &CpuFacts, notes: &mut Vec<String>) -> Result<(f64, String), TimerError> {
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
pub fn tsc_hz_live() -> Result<f64, TimerError> {
    Ok(tsc_frequency(&crate::cpu::live_facts(), &mut Vec::new())?.0)
}

/// Median cost of an empty timed region of `clock` (cycles) and the
/// clock's step (see `Timer::resolution_cycles`).
pub fn measure_overhead<C: Clock>(clock: &C) -> (f64, u64) {
    let mut v = vec![0i64; OVERHEAD_SAMPLES];
    workloads::entry::sample(clock, EntryOp::Empty, 10_000, &mut v);
    v.sort_unstable();
    let mut reads = vec![0u64; STEP_READS];
    back_to_back(clock, &mut reads);
    (report::model::stats::median_sorted(&v), step(&reads))
}

/// Fills `out` with back-to-back readings of `clock`.
#[inline(never)]
fn back_to_back<C: Clock>(clock: &C, out: &mut [u64]) {
    for r in out.iter_mut() {
        *r = clock.start();
    }
}

/// The smallest positive difference between consecutive readings: the
/// finest step the counter shows (1 when it counts every cycle). Not a
/// GCD of differences: a TSC that advances 24.5 cycles a step gives
/// differences of 24 and 25, whose GCD 1 would hide the step.
pub fn step(readings: &[u64]) -> u64 {
    readings
        .windows(2)
        .map(|w| w[1].wrapping_sub(w[0]) as i64)
        .filter(|&d| d > 0)
        .min()
        .map_or(1, |d| d as u64)
}

fn monotonic_raw_ns() -> Result<u128, TimerError> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_RAW, &mut ts) };
    if r != 0 {
        return Err(TimerError::MonotonicRaw(std::io::Error::last_os_error()));
    }
    Ok(ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128)
}

/// One (ns, tsc) pair with the TSC read between two clock reads; the
/// tightest of a few tries bounds the error of the pairing.
fn paired_read() -> Result<(f64, u64), TimerError> {
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
pub fn measure_tsc_hz(span: std::time::Duration) -> Result<f64, TimerError> {
    let (ns0, t0) = paired_read()?;
    std::thread::sleep(span);
    let (ns1, t1) = paired_read()?;
    let hz = t1.wrapping_sub(t0) as f64 * 1e9 / (ns1 - ns0);
    if !(1e8..1e11).contains(&hz) {
        return Err(TimerError::ImplausibleFrequency(hz));
    }
    Ok(hz)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_is_the_smallest_positive_difference() {
        // A 24.5-cycle TSC read every ~30 cycles: 24/25/49 apart.
        assert_eq!(step(&[0, 49, 73, 98, 122, 171]), 24);
        assert_eq!(step(&[30, 31, 33]), 1);
        assert_eq!(step(&[5, 5, 5]), 1);
        assert_eq!(step(&[]), 1);
    }

    #[test]
    fn measured_frequency_is_plausible() {
        let hz = measure_tsc_hz(std::time::Duration::from_millis(20)).unwrap();
        assert!((1e8..1e11).contains(&hz), "{hz}");
    }
}
