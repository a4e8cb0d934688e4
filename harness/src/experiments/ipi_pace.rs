//! How the initiator thread paces its fires in an `ipi.*` phase: when
//! each call goes (a jittered schedule), where the no-IPI control windows
//! sit between them, and what the thread brings back (`Fired`).

use super::ipi::Initiator;
use super::ipi_fit;
use super::ipi_match;
use crate::placement::pin_current_thread;
use crate::timer::Tsc;
use anyhow::{bail, Result};
use rand::rngs::SmallRng;
use rand::{Rng as _, SeedableRng};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What the initiator thread brings back.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Fired {
    /// TSC at start and end of each fire, in time order.
    pub windows: Vec<(u64, u64)>,
    /// With `Control::Interleaved`: TSC at start and end of each control
    /// spin (as long as the fire before it, at a random moment before the
    /// next fire, no IPI), in time order.
    pub controls: Vec<(u64, u64)>,
    /// Control windows left out for want of room between two fires.
    pub skipped_controls: u64,
    pub elapsed: Duration,
    /// Resets that sent an IPI of their own (`Initiator::reset_sends_ipi`).
    pub reset_ipis: u64,
}

impl Fired {
    /// Appends a later phase's fires.
    pub fn extend(&mut self, b: Fired) {
        self.windows.extend(b.windows);
        self.controls.extend(b.controls);
        self.skipped_controls += b.skipped_controls;
        self.elapsed += b.elapsed;
        self.reset_ipis += b.reset_ipis;
    }
}

/// Sets `done` when dropped, so the victim stops spinning however the
/// initiator thread ends (error, cancel, panic).
pub(crate) struct DoneOnDrop<'a>(pub &'a AtomicBool);
impl Drop for DoneOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// The interval between fires is `JITTER.0 + u * JITTER.1` periods, `u`
/// uniform in [0, 1): the mean rate is the one asked for, but no fire
/// keeps a fixed phase. At exactly 1 kHz every fourth call met the
/// victim's 250 Hz tick at the same point, and the victim's other gaps
/// (a noisy guest's host work) bunched at a few points of the 1 ms
/// cycle, so a control sitting at one of them matched 10% of its
/// windows and one sitting elsewhere 0.5%.
pub(crate) const JITTER: (f64, f64) = (0.5, 1.0);

/// The interval to the next fire for `u` uniform in [0, 1).
fn interval(period: Duration, u: f64) -> Duration {
    period.mul_f64(JITTER.0 + u * JITTER.1)
}

/// How far a control window stays from the fires either side of it:
/// twice the widest tolerance either fit can reach (the label fit's,
/// `ipi_fit::GRID_MAX_S`, or the control fit's, `ipi_match::GRID_MAX_S`),
/// so no real call's IPI gap ends within a control window's tolerance.
pub(crate) const CONTROL_CLEARANCE: Duration = Duration::from_nanos(
    (2.0 * if ipi_fit::GRID_MAX_S > ipi_match::GRID_MAX_S {
        ipi_fit::GRID_MAX_S
    } else {
        ipi_match::GRID_MAX_S
    } * 1e9) as u64,
);

/// When a control window as long as the last fire (`took`) starts, for
/// `u` uniform in [0, 1): anywhere from `CONTROL_CLEARANCE` after `now`
/// to where it ends that long before the next fire (`following`); None
/// where there is no room.
fn control_slot(now: Instant, following: Instant, took: Duration, u: f64) -> Option<Instant> {
    let earliest = now + CONTROL_CLEARANCE;
    let latest = following
        .checked_sub(took + CONTROL_CLEARANCE)
        .filter(|&l| l >= earliest)?;
    Some(earliest + (latest - earliest).mul_f64(u))
}

/// Whether a phase interleaves the attribution control with its fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Control {
    /// At a random moment between fires, the initiator spins as long as
    /// the fire before took, sending no IPI: the control's windows then
    /// see the same host phases as the real ones (a noisy host's gap
    /// rate moved 2x between a phase and a control run after it).
    Interleaved,
    /// Fires only (the caller runs its own control).
    None,
}

/// How the initiator paces its fires.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    pub rate_hz: f64,
    pub duration: Duration,
    pub control: Control,
}

/// Waits until `t`, spinning: the initiator's CPU never idles during a
/// phase. Sleeping through waits over 300 us idled the initiator's vCPU
/// between calls on a noisy KVM guest, and the victim saw fewer of the
/// IPIs by the end-of-call rule (ipi.user.mprotect --quick, 13 runs each,
/// alternating: seen >= 99% of the TLB count in 5 spinning, 1 sleeping;
/// median 98.8% against 98.5%). A phase lasts seconds, so the
/// housekeeping CPU it burns is bounded.
fn wait_until(t: Instant) {
    while Instant::now() < t {
        std::hint::spin_loop();
    }
}

/// Spins on the TSC for `cycles`; returns the TSC window it took.
pub(crate) fn spin_window(cycles: u64) -> (u64, u64) {
    let start = Tsc::start();
    let end = start.wrapping_add(cycles);
    while Tsc::start() < end {
        std::hint::spin_loop();
    }
    (start, Tsc::stop())
}

/// The initiator thread's body: pin, wait for `go`, fire at the pace's
/// rate for its duration (or until cancelled), recording call windows
/// and, if interleaved, control windows.
pub(crate) fn initiate(
    init: &mut dyn Initiator,
    cpu: u32,
    pace: Pace,
    go: &AtomicBool,
    done: &AtomicBool,
    cancel: &AtomicBool,
) -> Result<Fired> {
    let _done = DoneOnDrop(done);
    let _pin = pin_current_thread(cpu)?;
    let Pace {
        rate_hz, duration, ..
    } = pace;
    let max = (rate_hz * duration.as_secs_f64() * 1.1) as usize + 16;
    let mut windows = Vec::with_capacity(max);
    let interleave = pace.control == Control::Interleaved;
    let mut controls = Vec::with_capacity(if interleave { max } else { 0 });
    let (mut reset_ipis, mut skipped_controls) = (0, 0);
    crate::placement::prefault_capacity(&mut windows);
    crate::placement::prefault_capacity(&mut controls);
    while !go.load(Ordering::Acquire) {
        if cancel.load(Ordering::Relaxed) {
            bail!("interrupted");
        }
        std::hint::spin_loop();
    }
    let period = Duration::from_secs_f64(1.0 / rate_hz);
    let mut rng = SmallRng::seed_from_u64(Tsc::start());
    let start = Instant::now();
    let mut next = start;
    while windows.len() < max && !cancel.load(Ordering::Relaxed) {
        if Instant::now().duration_since(start) >= duration {
            break;
        }
        wait_until(next);
        let began = Instant::now();
        let t0 = Tsc::start();
        let r = init.fire();
        let t1 = Tsc::stop();
        let took = began.elapsed();
        r?;
        windows.push((t0, t1));
        reset_ipis += u64::from(init.reset_sends_ipi());
        init.reset()?;
        let following = next + interval(period, rng.random::<f64>());
        if interleave {
            // Anywhere between this fire and the next, clear of both by
            // `CONTROL_CLEARANCE` (an IPI's gap may end that long after
            // its call returns; the next call's must not start in it).
            // Where there is no room, none: a control must not delay the
            // next call.
            match control_slot(Instant::now(), following, took, rng.random::<f64>()) {
                Some(at) => {
                    wait_until(at);
                    controls.push(spin_window(t1.wrapping_sub(t0)));
                }
                None => skipped_controls += 1,
            }
        }
        // No catch-up bursts after a late call.
        next = following.max(Instant::now());
    }
    Ok(Fired {
        windows,
        controls,
        skipped_controls,
        elapsed: start.elapsed(),
        reset_ipis,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::IrqRow;

    /// Fires that take a set, varying number of TSC cycles.
    struct Spinner(u64);
    impl Initiator for Spinner {
        fn method(&self) -> String {
            "spin".into()
        }
        fn row(&self) -> IrqRow {
            IrqRow::Tlb
        }
        fn describe(&self) -> String {
            "spins".into()
        }
        fn fire(&mut self) -> Result<()> {
            self.0 += 1;
            spin_window(20_000 + (self.0 % 3) * 10_000);
            Ok(())
        }
    }

    fn fired(control: Control) -> Fired {
        let (go, done, cancel) = (
            AtomicBool::new(true),
            AtomicBool::new(false),
            AtomicBool::new(false),
        );
        let pace = Pace {
            rate_hz: 1000.0,
            duration: Duration::from_millis(30),
            control,
        };
        // Any CPU this test may run on.
        let cpu = core_affinity::get_core_ids().unwrap()[0].id as u32;
        initiate(&mut Spinner(0), cpu, pace, &go, &done, &cancel).unwrap()
    }

    #[test]
    fn interleaved_control_sits_between_fires_as_long_as_the_one_before() {
        let f = fired(Control::Interleaved);
        assert!(f.windows.len() >= 5, "{} fires", f.windows.len());
        // A fire delayed by a loaded machine may leave no room for its
        // control; most have it at 1 kHz and 10 to 20 us fires.
        assert_eq!(
            f.controls.len() as u64 + f.skipped_controls,
            f.windows.len() as u64
        );
        assert!(
            f.controls.len() * 2 >= f.windows.len(),
            "{} controls",
            f.controls.len()
        );
        let mut fires = f.windows.iter().peekable();
        for &(cs, ce) in &f.controls {
            // The control follows the last fire that ended before it.
            let mut before = None;
            while let Some(&&w) = fires.peek() {
                if w.1 > cs {
                    break;
                }
                before = fires.next();
            }
            let &(ws, we) = before.expect("a control before any fire");
            assert!(ce - cs >= we - ws, "control shorter than its fire");
        }
        assert!(fired(Control::None).controls.is_empty());
    }

    #[test]
    fn intervals_and_control_slots() {
        let p = Duration::from_millis(1);
        assert_eq!(interval(p, 0.0), p / 2);
        assert_eq!(interval(p, 0.5), p);
        assert!(interval(p, 0.999_999) < p * 3 / 2);
        let now = Instant::now();
        let took = Duration::from_micros(20);
        // Room: between now + clearance and next - took - clearance.
        let next = now + p;
        let lo = control_slot(now, next, took, 0.0).unwrap();
        let hi = control_slot(now, next, took, 0.999_999).unwrap();
        assert_eq!(lo, now + CONTROL_CLEARANCE);
        assert!(hi <= next - took - CONTROL_CLEARANCE && hi > lo);
        // No room: no control, rather than a late next fire.
        let tight = now + took + CONTROL_CLEARANCE * 2 - Duration::from_nanos(1);
        assert_eq!(control_slot(now, tight, took, 0.5), None);
        assert_eq!(control_slot(now, now, took, 0.5), None);
    }
}
