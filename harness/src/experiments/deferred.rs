//! `deferred.check.uncontended` / `deferred.check.contended`: the cost
//! Andy Lutomirski's proposal (review text, not posted code:
//! beb46a02-b902-438b-8b6d-b5f0d7ad0ae6@app.fastmail.com) would put on
//! every kernel entry: an atomic exchange of the CPU's own state word
//! (`workloads::deferred::check`). Not what the series posted: v5-v7 add
//! no atomic (their work bits ride on the context-tracking update entry
//! already does). In the contended id a thread on the initiator CPU sets
//! the "flush pending" bit at the suite's IPI rate, so some checks pay the
//! cache-line transfer. `summary.median` is TSC cycles per check.

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

/// TSC samples, core-cycle samples (with rdpmc), checks that found the bit.
type Sampled = (Vec<i64>, Option<Vec<i64>>, u64);

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
    /// Times the checks in chunks; returns samples (TSC cycles per check,
    /// timer overhead removed), the core cycles per check where the run
    /// reads them, and how many checks found the bit.
    fn sample(&self, ctx: &Ctx, state: &StateWord) -> Result<Sampled> {
        let n = ctx.cfg.entry_samples.max(1);
        let mut out = vec![0i64; n];
        crate::placement::prefault(&mut out);
        let log = ctx.timer.core_log(n);
        let mut seen = 0;
        let mut warmup = ctx.cfg.entry_warmup;
        for chunk in out.chunks_mut(CHUNK) {
            ctx.check_cancel()?;
            seen += crate::with_clock!(ctx.timer, &log, c =>
                deferred::sample_checks(c, state, warmup, BATCH, chunk));
            warmup = 0;
        }
        ctx.timer.subtract_overhead(&mut out);
        out.iter_mut().for_each(|s| *s /= BATCH as i64);
        let mut core = ctx.timer.core_samples(&log);
        if let Some(c) = core.as_mut() {
            c.iter_mut().for_each(|s| *s /= BATCH as i64);
        }
        Ok((out, core, seen))
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
        let (mut samples, core, seen, marks) = if self.contended {
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
                let (samples, core, seen) = r?;
                Ok((samples, core, seen, Some(marks)))
            })?
        } else {
            let (samples, core, seen) = self.sample(ctx, &state)?;
            (samples, core, seen, None)
        };
        let mut p = params([
            (
                "operation",
                "xchg of the CPU's own state word to { work: 0, status: KERNEL }: the per-entry \
                 check of Lutomirski's proposal (review text, not posted code)"
                    .into(),
            ),
            ("checks_per_sample", BATCH.into()),
            ("samples", samples.len().into()),
            ("timer", ctx.timer.kind().name().into()),
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
        let e = record::measured(&self.id(), "userspace", p, &mut samples);
        let mut e = record::with_core_cycles(e, core, None);
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
