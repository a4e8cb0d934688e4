//! `deferred.check.uncontended` / `deferred.check.contended`: the cost the
//! deferred strategy puts on every kernel entry, measured instead of
//! assumed. The victim times the atomic fetch-and-clear of its own state
//! word (`workloads::deferred::check`); in the contended id a thread on
//! the initiator CPU sets the "flush pending" bit at the suite's IPI rate,
//! so some checks pay the cache-line transfer. `summary.median` is cycles
//! per check.

use super::record::{self, params};
use super::{Ctx, Experiment, Stop};
use crate::placement::pin_current_thread;
use crate::schema;
use anyhow::{Context, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use workloads::deferred::{self, StateWord};

/// Checks per timed region: one RMW is shorter than the timer's own
/// overhead, so a sample is the mean of a batch.
const BATCH: usize = 16;
/// Samples per chunk between cancel checks.
const CHUNK: usize = 20_000;

pub struct DeferredCheck {
    contended: bool,
}

/// Both ids.
pub fn all() -> Vec<DeferredCheck> {
    vec![
        DeferredCheck { contended: false },
        DeferredCheck { contended: true },
    ]
}

impl DeferredCheck {
    /// Times the checks in chunks; returns samples (cycles per check, timer
    /// overhead removed) and how many checks found the bit.
    fn sample(&self, ctx: &Ctx, state: &StateWord) -> Result<(Vec<i64>, u64)> {
        let n = ctx.cfg.entry_samples.max(1);
        let mut out = vec![0i64; n];
        crate::placement::prefault(&mut out);
        let mut seen = 0;
        let mut warmup = ctx.cfg.entry_warmup;
        for chunk in out.chunks_mut(CHUNK) {
            ctx.check_cancel()?;
            seen += crate::with_clock!(ctx.timer, c =>
                deferred::sample_checks(c, state, warmup, BATCH, chunk));
            warmup = 0;
        }
        ctx.timer.subtract_overhead(&mut out);
        out.iter_mut().for_each(|s| *s /= BATCH as i64);
        Ok((out, seen))
    }
}

impl Experiment for DeferredCheck {
    fn id(&self) -> String {
        if self.contended {
            report::ids::DEFERRED_CHECK_CONTENDED.to_string()
        } else {
            report::ids::DEFERRED_CHECK_UNCONTENDED.to_string()
        }
    }

    fn run(&mut self, ctx: &mut Ctx) -> Result<schema::Experiment> {
        let state = StateWord::default();
        let rate = ctx.cfg.ipi_rate_hz;
        let (mut samples, seen, marks) = if self.contended {
            let Some(cpu) = ctx.placement.initiator_cpu else {
                return Err(Stop::Skipped("one CPU: no remote CPU to set the bit".into()).into());
            };
            let period = Duration::from_secs_f64(1.0 / rate.max(1.0));
            let stop = AtomicBool::new(false);
            std::thread::scope(|s| -> Result<_> {
                let marker = s.spawn(|| -> Result<u64> {
                    let _pin = pin_current_thread(cpu)?;
                    Ok(deferred::mark_at(&state, period, &stop))
                });
                let r = self.sample(ctx, &state);
                stop.store(true, Ordering::Relaxed);
                let marks = marker
                    .join()
                    .map_err(|_| anyhow::anyhow!("marker thread panicked"))?
                    .context("marker thread")?;
                let (samples, seen) = r?;
                Ok((samples, seen, Some(marks)))
            })?
        } else {
            let (samples, seen) = self.sample(ctx, &state)?;
            (samples, seen, None)
        };
        let mut p = params([
            (
                "operation",
                "lock-prefixed fetch-and-clear of the CPU's own state word (the deferred \
                 strategy's check on every kernel entry)"
                    .into(),
            ),
            ("checks_per_sample", BATCH.into()),
            ("samples", samples.len().into()),
            ("timer", ctx.timer.kind().into()),
            ("checks_that_found_the_bit", seen.into()),
        ]);
        if let Some(m) = marks {
            p.insert("mark_rate_hz".into(), rate.into());
            p.insert("marks_set".into(), m.into());
            p.insert(
                "remote".into(),
                "a thread on the initiator CPU sets the pending bit (fetch_or), spinning between marks"
                    .into(),
            );
        }
        let mut e = record::measured(&self.id(), "userspace", p, &mut samples);
        e.notes.push(format!(
            "a sample is the mean of {BATCH} back-to-back checks; a cache-line transfer \
             shows in the mean and the tail more than in the median"
        ));
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_ones_size_reads() {
        let ids: Vec<String> = all().iter().map(|e| e.id()).collect();
        assert_eq!(
            ids,
            ["deferred.check.uncontended", "deferred.check.contended"]
        );
    }
}
