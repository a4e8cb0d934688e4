//! `entry.flush.<variant>[.next_entry][.w<N>]`: the emulated
//! flush-on-entry, timed from user space against the same ioctl doing
//! `nop` (`report::model::ids::EntryTiming` says what each timing holds):
//!
//! - dispatch (`entry.flush.<variant>[.wN]`): the flushing ioctl alone,
//!   then the N-page walk. The flush runs at ioctl dispatch, after the
//!   entry code ran on a warm TLB, so the refills a real entry needs after
//!   the series' flush (entry code, handler, exit) are mostly missed.
//! - next entry (`entry.flush.<variant>.next_entry[.wN]`): the flushing
//!   ioctl returns, then the next system call the program makes (getppid,
//!   through glibc as `entry.getppid`) and the walk; the three are timed
//!   as one region, with a timer read between the ioctl and getppid so the
//!   row also records what the entry after the flush paid alone. This is
//!   the row the series and the sizing use.

use super::{common_notes, describe, open_for, series_context, CHUNK};
use crate::experiments::record::{self, median, params};
use crate::experiments::{Ctx, Experiment, Stop};
use crate::kmod::abi::{Method, Variant};
use crate::kmod::device::{self, Device};
use crate::schema;
use anyhow::{Context, Result};
use report::model::ids::{EntryTiming, ExperimentId, FlushVariant};
use workloads::entry::{CallPath, EntryOp};
use workloads::pages::Pages;
use workloads::sys::NoArgCall;

/// The system call the next-entry timing makes after the ioctl.
const NEXT_ENTRY: EntryOp = EntryOp::Syscall(NoArgCall::Getppid, CallPath::Libc);

/// `entry.flush.<variant>[.next_entry][.wN]`
pub struct EntryFlush {
    pub variant: Variant,
    pub pages: usize,
    pub samples: usize,
    pub warmup: usize,
    /// Deferred only: a generator marks the victim this often meanwhile.
    pub mark_hz: Option<u32>,
    pub timing: EntryTiming,
}

/// One side's samples: the whole timed region, and (next-entry timing)
/// the part after the ioctl alone.
struct Side {
    whole: Vec<i64>,
    after: Vec<i64>,
    /// Core cycles (rdpmc) of the timer's stops, in order: one per sample
    /// (dispatch), two per sample (next entry: the ioctl, then the whole).
    core: workloads::CoreLog,
}

impl Side {
    fn new(n: usize, timer: &crate::timer::Timer, timing: EntryTiming) -> Side {
        Side {
            whole: vec![0; n],
            after: vec![0; n],
            core: timer.core_log(n * stops_per_sample(timing)),
        }
    }

    /// Core cycles of the whole regions, where the run reads them.
    fn core_whole(&self, timer: &crate::timer::Timer, timing: EntryTiming) -> Option<Vec<i64>> {
        let all = timer.core_samples(&self.core)?;
        let k = stops_per_sample(timing);
        // The last stop of a sample spans the whole region (the core
        // counter's start is read once per sample).
        Some(all.into_iter().skip(k - 1).step_by(k).collect())
    }
}

/// Timer stops per sample: the next-entry timing reads the timer after the
/// ioctl too (`workloads::entry::sample_pair_with`).
fn stops_per_sample(timing: EntryTiming) -> usize {
    match timing {
        EntryTiming::Dispatch => 1,
        EntryTiming::NextEntry => 2,
    }
}

/// The working set walked after each entry (none for 0 pages).
struct Walk {
    _pages: Option<Pages>,
    base: *const u8,
    n: usize,
}

impl Walk {
    fn new(n: usize) -> Result<Walk> {
        let pages = if n > 0 {
            Some(Pages::new(n).with_context(|| format!("cannot map {n} pages"))?)
        } else {
            None
        };
        let base = pages
            .as_ref()
            .map_or(std::ptr::null(), |p| p.as_ptr() as *const u8);
        Ok(Walk {
            _pages: pages,
            base,
            n,
        })
    }

    #[inline(always)]
    fn run(&self) {
        if self.n > 0 {
            // SAFETY: `base` maps `n` pages, owned by `_pages` (lives as long as self).
            std::hint::black_box(unsafe { workloads::walk::walk(self.base, self.n) });
        }
    }
}

impl EntryFlush {
    /// The variant as the id names it: the marked deferred row is a
    /// variant of its own.
    fn id_variant(&self) -> FlushVariant {
        match self.mark_hz {
            Some(_) => FlushVariant::DeferredMarked,
            None => super::flush_variant(self.variant),
        }
    }

    /// With `mark_hz`, starts the DEFER_MARK generator aimed at the victim
    /// (this thread's CPU); it stops when the returned device is dropped.
    fn start_marks(&self, ctx: &Ctx) -> Result<Option<(Device, device::GeneratorHandle)>> {
        let Some(hz) = self.mark_hz else {
            return Ok(None);
        };
        let Some(initiator) = ctx.placement.initiator_cpu else {
            return Err(Stop::Skipped("one CPU: nobody to set the pending bit".into()).into());
        };
        let dev = Device::open()?;
        let h = dev.generator_start(&device::GeneratorSpec {
            method: Method::DeferMark,
            rate_hz: hz,
            duration_ms: 0,
            pages: 1,
            initiator_cpu: Some(initiator),
            targets: vec![ctx.placement.victim_cpu],
            detach: false,
        })?;
        Ok(Some((dev, h)))
    }

    /// One chunk of one side: `v`'s ioctl (then the next entry) and the walk.
    fn chunk(
        &self,
        ctx: &Ctx,
        dev: &Device,
        v: Variant,
        walk: &Walk,
        warmup: usize,
        out: (&mut [i64], &mut [i64], &workloads::CoreLog),
    ) {
        let (whole, after, log) = out;
        match self.timing {
            EntryTiming::Dispatch => {
                crate::with_clock!(ctx.timer, log, c => workloads::entry::sample_with(c, warmup, whole, || {
                    let _ = dev.entry_flush(v);
                    walk.run();
                }))
            }
            EntryTiming::NextEntry => {
                crate::with_clock!(ctx.timer, log, c => workloads::entry::sample_pair_with(
                    c,
                    warmup,
                    whole,
                    after,
                    || {
                        let _ = dev.entry_flush(v);
                    },
                    || {
                        NEXT_ENTRY.once();
                        walk.run();
                    },
                ))
            }
        }
    }

    /// The timed loops: flushing and nop chunks alternate so drift hits
    /// both alike. Returns (flushed, nop).
    fn measure(&self, ctx: &Ctx, dev: &Device, walk: &Walk) -> Result<(Side, Side)> {
        let side = || Side::new(self.samples, ctx.timer, self.timing);
        let (mut flushed, mut plain) = (side(), side());
        let chunks = flushed
            .whole
            .chunks_mut(CHUNK)
            .zip(flushed.after.chunks_mut(CHUNK))
            .zip(
                plain
                    .whole
                    .chunks_mut(CHUNK)
                    .zip(plain.after.chunks_mut(CHUNK)),
            );
        for (i, (f, p)) in chunks.enumerate() {
            ctx.check_cancel()?;
            let w = if i == 0 { self.warmup } else { 0 };
            self.chunk(ctx, dev, self.variant, walk, w, (f.0, f.1, &flushed.core));
            self.chunk(ctx, dev, Variant::Nop, walk, w, (p.0, p.1, &plain.core));
        }
        Ok((flushed, plain))
    }
}

impl Experiment for EntryFlush {
    fn id(&self) -> ExperimentId {
        ExperimentId::entry_flush(self.id_variant(), self.pages as u64, self.timing)
    }

    fn run(&mut self, ctx: &mut Ctx) -> Result<schema::Experiment> {
        if self.samples == 0 {
            return Err(Stop::Skipped("no samples requested".into()).into());
        }
        let v = self.variant;
        let dev = open_for(v)?;
        dev.entry_flush(v).context("first ENTRY_FLUSH")?;
        dev.entry_flush(Variant::Nop)
            .context("first ENTRY_FLUSH nop")?;
        let walk = Walk::new(self.pages)?;
        let marks = self.start_marks(ctx)?;
        let (mut flushed, mut plain) = self.measure(ctx, &dev, &walk)?;
        // The loop ignores errors to stay tight; make sure there were none.
        dev.entry_flush(v)
            .context("ENTRY_FLUSH after the timed loop")?;
        let marked = match marks {
            Some((gdev, h)) => Some(gdev.generator_stop(h)?.issued),
            None => None,
        };
        let after_delta =
            median(flushed.after.iter().copied()) - median(plain.after.iter().copied());
        ctx.timer.subtract_overhead(&mut flushed.whole);
        ctx.timer.subtract_overhead(&mut plain.whole);
        let mut e = record::measured(self.id(), "kmod", self.params(ctx), &mut flushed.whole);
        e = record::with_baseline(e, self.baseline_label(), &mut plain.whole);
        let core_base = plain
            .core_whole(ctx.timer, self.timing)
            .map(record::CoreBase::Unpaired);
        e = record::with_core_cycles(e, flushed.core_whole(ctx.timer, self.timing), core_base);
        self.notes(&mut e, after_delta);
        if let (Some(hz), Some(n)) = (self.mark_hz, marked) {
            e.params.insert("mark_rate_hz".into(), hz.into());
            e.params.insert("marks_issued".into(), n.into());
        }
        series_context(&dev.info()?, v, &mut e);
        common_notes(ctx, &mut e);
        Ok(e)
    }
}

impl EntryFlush {
    fn baseline_label(&self) -> &'static str {
        match self.timing {
            EntryTiming::Dispatch => "nop ioctl",
            EntryTiming::NextEntry => "nop ioctl, then getppid",
        }
    }

    fn params(&self, ctx: &Ctx) -> std::collections::BTreeMap<String, serde_json::Value> {
        let v = self.variant;
        let (timing, emulates) = match self.timing {
            EntryTiming::Dispatch => (
                "dispatch",
                "flush-on-entry: an ioctl that flushes once with IRQs off and returns, \
                 minus the same ioctl doing nothing",
            ),
            EntryTiming::NextEntry => (
                "next_entry",
                "flush-on-entry placed before a real entry: the flushing ioctl, then the \
                 next system call (getppid) and the walk, timed together, minus the same \
                 after the ioctl doing nothing",
            ),
        };
        params([
            ("variant", v.name().into()),
            ("operation", describe(v).into()),
            ("timing", timing.into()),
            ("pages", self.pages.into()),
            ("stride_bytes", workloads::PAGE_SIZE.into()),
            ("samples", self.samples.into()),
            ("warmup", self.warmup.into()),
            ("timer", ctx.timer.kind().name().into()),
            ("emulates", emulates.into()),
        ])
    }

    fn notes(&self, e: &mut schema::Experiment, after_delta: f64) {
        match self.timing {
            EntryTiming::Dispatch => e.notes.push(
                "emulated: the flush runs at ioctl dispatch, after the entry code ran on a \
                 warm TLB, not right after the CR3 switch of the entry as in the series: \
                 the refills of a real entry are mostly missed (see the .next_entry row)"
                    .into(),
            ),
            EntryTiming::NextEntry => {
                e.params
                    .insert("next_entry_delta_median".into(), after_delta.into());
                e.notes.push(format!(
                    "emulated: the flush ends an ioctl and the next entry is getppid; the \
                     series flushes right after the CR3 switch of the entry itself. Of the \
                     delta, {after_delta:.0} cycles (medians) were paid after the ioctl \
                     returned: getppid{} on the flushed TLB",
                    if self.pages > 0 { " and the walk" } else { "" }
                ));
            }
        }
        if self.pages > 0 {
            e.notes.push(format!(
                "{} pages read (one byte each, 4 KiB stride) after each entry, both sides",
                self.pages
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_the_timing_and_the_deferred_rows() {
        let row = |variant, mark_hz, timing, pages| EntryFlush {
            variant,
            pages,
            samples: 1,
            warmup: 0,
            mark_hz,
            timing,
        };
        assert_eq!(
            row(Variant::Series, None, EntryTiming::Dispatch, 0)
                .id()
                .to_string(),
            "entry.flush.series"
        );
        assert_eq!(
            row(Variant::Series, None, EntryTiming::NextEntry, 0)
                .id()
                .to_string(),
            "entry.flush.series.next_entry"
        );
        assert_eq!(
            row(Variant::Invpcid2, None, EntryTiming::NextEntry, 64)
                .id()
                .to_string(),
            "entry.flush.invpcid2.next_entry.w64"
        );
        assert_eq!(
            row(Variant::Deferred, None, EntryTiming::Dispatch, 0)
                .id()
                .to_string(),
            "entry.flush.deferred"
        );
        assert_eq!(
            row(Variant::Deferred, Some(1000), EntryTiming::NextEntry, 0)
                .id()
                .to_string(),
            "entry.flush.deferred_marked.next_entry"
        );
    }
}
