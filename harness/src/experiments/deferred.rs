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
use super::{Blocked, Ctx, Experiment, Stop};
use crate::placement::pin_current_thread;
use crate::schema;
use anyhow::{Context, Result};
use report::model::ids::{Contention, ExperimentId};
use report::model::stats;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use workloads::deferred::{self, StateWord};

/// Checks per timed region: one RMW is shorter than the timer's own
/// overhead, so a sample is the mean of a batch.
const BATCH: usize = 16;
/// Samples per chunk between cancel checks.
const CHUNK: usize = 20_000;

pub struct DeferredCheck {
    contended: bool,
    state: Option<Prepared>,
}

/// Both ids.
pub fn all() -> Vec<DeferredCheck> {
    vec![
        DeferredCheck {
            contended: false,
            state: None,
        },
        DeferredCheck {
            contended: true,
            state: None,
        },
    ]
}

/// What `prepare` sets up: the state word, the samples, and for the
/// contended id the marker thread.
struct Prepared {
    shared: Arc<Shared>,
    /// Blocks of this run (`entry::blocks_for`); block `i` fills
    /// `stats::block_bounds(samples.len(), blocks, i)`.
    blocks: usize,
    samples: Vec<i64>,
    /// Core cycles of the same regions, block after block (rdpmc only).
    core: Option<Vec<i64>>,
    seen: u64,
    done: usize,
    marker: Option<Marker>,
}

/// The state word and the marker's switches, shared with its thread.
#[derive(Default)]
struct Shared {
    state: StateWord,
    /// True between blocks: the marker waits (parked) instead of marking,
    /// so it sets no bit while other ids' blocks run.
    idle: AtomicBool,
    /// Set by the marker while it marks: the victim starts a block only
    /// once the remote writer is running.
    marking: AtomicBool,
    quit: AtomicBool,
}

/// The thread on the initiator CPU that sets the pending bit at the
/// suite's rate during the contended id's blocks. Stopped and joined when
/// dropped (finish, failure or cancel alike).
struct Marker {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<Result<u64>>>,
}

impl Marker {
    fn start(shared: Arc<Shared>, cpu: u32, period: Duration) -> Marker {
        shared.idle.store(true, Ordering::Relaxed);
        let s = Arc::clone(&shared);
        let thread = std::thread::spawn(move || -> Result<u64> {
            let _pin = pin_current_thread(cpu)?;
            let mut marks = 0;
            while !s.quit.load(Ordering::Acquire) {
                if s.idle.load(Ordering::Acquire) {
                    s.marking.store(false, Ordering::Release);
                    std::thread::park_timeout(Duration::from_millis(20));
                    continue;
                }
                s.marking.store(true, Ordering::Release);
                marks += deferred::mark_at(&s.state, period, &s.idle);
            }
            Ok(marks)
        });
        Marker {
            shared,
            thread: Some(thread),
        }
    }

    /// Lets the marker mark and waits until it does.
    fn resume(&self, ctx: &Ctx) -> Result<()> {
        self.shared.idle.store(false, Ordering::Release);
        if let Some(t) = &self.thread {
            t.thread().unpark();
        }
        while !self.shared.marking.load(Ordering::Acquire) {
            ctx.check_cancel()?;
            if self.thread.as_ref().is_none_or(|t| t.is_finished()) {
                anyhow::bail!("the marker thread stopped");
            }
            std::hint::spin_loop();
        }
        Ok(())
    }

    fn pause(&self) {
        self.shared.idle.store(true, Ordering::Release);
    }

    /// Stops the thread; the marks it set.
    fn stop(&mut self) -> Result<u64> {
        self.shared.quit.store(true, Ordering::Release);
        self.shared.idle.store(true, Ordering::Release);
        let t = self.thread.take().context("marker already stopped")?;
        t.thread().unpark();
        t.join()
            .map_err(|_| anyhow::anyhow!("marker thread panicked"))?
            .context("marker thread")
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.stop();
        }
    }
}

impl Experiment for DeferredCheck {
    fn id(&self) -> ExperimentId {
        ExperimentId::DeferredCheck(if self.contended {
            Contention::Contended
        } else {
            Contention::Uncontended
        })
    }

    super::run_as_blocks!();
}

impl Blocked for DeferredCheck {
    fn prepare(&mut self, ctx: &mut Ctx) -> Result<usize> {
        let shared = Arc::new(Shared::default());
        let marker = if self.contended {
            let Some(cpu) = ctx.placement.initiator_cpu else {
                return Err(Stop::Skipped("one CPU: no remote CPU to set the bit".into()).into());
            };
            let period = Duration::from_secs_f64(1.0 / ctx.cfg.ipi_rate_hz.max(1.0));
            Some(Marker::start(Arc::clone(&shared), cpu, period))
        } else {
            None
        };
        // Blocks as entry.* has them for the same sample count.
        let blocks = super::entry::blocks_for(ctx.cfg.entry_samples);
        let mut samples = vec![0i64; ctx.cfg.entry_samples.max(blocks)];
        crate::placement::prefault(&mut samples);
        self.state = Some(Prepared {
            shared,
            blocks,
            samples,
            core: None,
            seen: 0,
            done: 0,
            marker,
        });
        Ok(blocks)
    }

    fn run_block(&mut self, ctx: &mut Ctx) -> Result<()> {
        let s = self.state.as_mut().context("block before prepare")?;
        let warmup = super::entry::block_warmup(ctx, s.blocks);
        let r = stats::block_bounds(s.samples.len(), s.blocks, s.done);
        if let Some(m) = &s.marker {
            m.resume(ctx)?;
        }
        let log = ctx.timer.core_log(r.len());
        let mut w = warmup;
        let mut result = Ok(());
        for chunk in s.samples[r].chunks_mut(CHUNK) {
            if let Err(e) = ctx.check_cancel() {
                result = Err(e);
                break;
            }
            s.seen += crate::with_clock!(ctx.timer, &log, c =>
                deferred::sample_checks(c, &s.shared.state, w, BATCH, chunk));
            w = 0;
        }
        if let Some(m) = &s.marker {
            m.pause();
        }
        result?;
        if let Some(c) = ctx.timer.core_samples(&log) {
            s.core.get_or_insert_with(Vec::new).extend(c);
        }
        s.done += 1;
        Ok(())
    }

    fn finish(&mut self, ctx: &mut Ctx) -> Result<schema::Experiment> {
        let mut s = self.state.take().context("finish before prepare")?;
        let marks = s.marker.as_mut().map(Marker::stop).transpose()?;
        if s.done == 0 {
            return Err(Stop::Cancelled.into());
        }
        let end = stats::block_bounds(s.samples.len(), s.blocks, s.done - 1).end;
        let mut samples = s.samples[..end].to_vec();
        drop(s.samples);
        ctx.timer.subtract_overhead(&mut samples);
        samples.iter_mut().for_each(|v| *v /= BATCH as i64);
        let (size, medians) = stats::block_medians(&samples, s.done, 1.0);
        let p = self.params(ctx, samples.len(), s.seen, marks);
        let e = record::measured(self.id(), "userspace", p, &mut samples);
        let mut e = record::with_blocks(e, stats::blocks(size, medians));
        let core = s.core.map(|mut c| {
            c.iter_mut().for_each(|v| *v /= BATCH as i64);
            c
        });
        e = record::with_core_cycles(e, core, None);
        e.notes.push(format!(
            "a sample is the mean of {BATCH} back-to-back checks; a cache-line transfer \
             shows in the mean and the tail more than in the median"
        ));
        Ok(e)
    }
}

impl DeferredCheck {
    fn params(
        &self,
        ctx: &Ctx,
        n: usize,
        seen: u64,
        marks: Option<u64>,
    ) -> std::collections::BTreeMap<String, serde_json::Value> {
        let mut p = params([
            (
                "operation",
                "xchg of the CPU's own state word to { work: 0, status: KERNEL }: the per-entry \
                 check of Lutomirski's proposal (review text, not posted code)"
                    .into(),
            ),
            ("checks_per_sample", BATCH.into()),
            ("samples", n.into()),
            ("timer", ctx.timer.kind().name().into()),
            ("checks_that_found_the_bit", seen.into()),
        ]);
        if let Some(m) = marks {
            p.insert("mark_rate_hz".into(), ctx.cfg.ipi_rate_hz.into());
            p.insert("marks_set".into(), m.into());
            p.insert(
                "remote".into(),
                "a thread on the initiator CPU sets the pending bit (fetch_or), spinning between \
                 marks, during this id's blocks only"
                    .into(),
            );
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_ones_size_reads() {
        let ids: Vec<String> = all().iter().map(|e| e.id().to_string()).collect();
        assert_eq!(
            ids,
            ["deferred.check.uncontended", "deferred.check.contended"]
        );
    }
}
