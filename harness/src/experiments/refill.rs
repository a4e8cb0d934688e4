//! `refill.wN`: walk N pages right after a kernel entry that flushed this
//! process's TLB entries, minus the same walk after one that did not.
//! What the flushing entry is, exactly, is documented in
//! `workloads::walk`; the result's params and notes repeat it.

use super::record::{self, params};
use super::{Blocked, Ctx, Experiment, Stop};
use crate::schema::{self, ExperimentId};
use anyhow::{Context, Result};
use report::model::stats;
use workloads::pages::Pages;
use workloads::walk::{FlushRange, FLUSH_PAGES};

/// Pairs per chunk between cancel checks.
const CHUNK: usize = 50;

pub struct RefillExperiment {
    pages: usize,
    state: Option<Prepared>,
}

impl RefillExperiment {
    pub fn new(pages: usize) -> RefillExperiment {
        RefillExperiment { pages, state: None }
    }
}

/// The working set, the flush range and the pairs, filled block by block
/// (block `i` fills `stats::block_bounds(pairs, BLOCKS, i)`).
struct Prepared {
    ws: Pages,
    range: FlushRange,
    flushed: Vec<i64>,
    plain: Vec<i64>,
    /// Core cycles of the timed walks in run order (flushed, plain, ...),
    /// block after block (rdpmc only).
    core: Option<Vec<i64>>,
    done: usize,
}

impl Experiment for RefillExperiment {
    fn id(&self) -> ExperimentId {
        ExperimentId::Refill(self.pages as u64)
    }

    super::run_as_blocks!();
}

impl Blocked for RefillExperiment {
    fn prepare(&mut self, ctx: &mut Ctx) -> Result<usize> {
        let n = ctx.cfg.refill_pairs;
        if n == 0 {
            return Err(Stop::Skipped("no refill pairs requested".into()).into());
        }
        let ws =
            Pages::new(self.pages).with_context(|| format!("cannot map {} pages", self.pages))?;
        let range = FlushRange::new().context("cannot map the flush range")?;
        let (mut flushed, mut plain) = (vec![0i64; n], vec![0i64; n]);
        crate::placement::prefault(&mut flushed);
        crate::placement::prefault(&mut plain);
        self.state = Some(Prepared {
            ws,
            range,
            flushed,
            plain,
            core: None,
            done: 0,
        });
        Ok(BLOCKS.min(n))
    }

    fn run_block(&mut self, ctx: &mut Ctx) -> Result<()> {
        let s = self.state.as_mut().context("block before prepare")?;
        let blocks = BLOCKS.min(s.flushed.len());
        let r = stats::block_bounds(s.flushed.len(), blocks, s.done);
        // Each pair walks the set untimed before each timed walk, so a
        // block needs no other warm-up after another id's block.
        // Two timed walks per pair, flushed then plain: the core-cycle log
        // alternates the same way.
        let log = ctx.timer.core_log(2 * r.len());
        let mut done = r.start;
        while done < r.end {
            ctx.check_cancel()?;
            let end = (done + CHUNK).min(r.end);
            let got = crate::with_clock!(ctx.timer, &log, c => workloads::walk::refill_pairs(
                c, &s.ws, &s.range, &mut s.flushed[done..end], &mut s.plain[done..end], ctx.cancel))
            .context("refill loop")?;
            if got < end - done {
                // refill_pairs stops early only when cancelled.
                return Err(Stop::Cancelled.into());
            }
            done = end;
        }
        if let Some(c) = ctx.timer.core_samples(&log) {
            s.core.get_or_insert_with(Vec::new).extend(c);
        }
        s.done += 1;
        Ok(())
    }

    fn finish(&mut self, ctx: &mut Ctx) -> Result<schema::Experiment> {
        let s = super::taken(&mut self.state, |s| s.done)?;
        let blocks = BLOCKS.min(s.flushed.len());
        let end = stats::block_bounds(s.flushed.len(), blocks, s.done - 1).end;
        let (mut flushed, mut plain) = (s.flushed[..end].to_vec(), s.plain[..end].to_vec());
        let taken = s.done;
        ctx.timer.subtract_overhead(&mut flushed);
        ctx.timer.subtract_overhead(&mut plain);
        // The core-cycle log alternates flushed, plain, as the walks ran.
        let core = s.core.map(|c| {
            let c = &c[..(2 * end).min(c.len())];
            let flushed: Vec<i64> = c.iter().step_by(2).copied().collect();
            let plain: Vec<i64> = c.iter().skip(1).step_by(2).copied().collect();
            (flushed, plain)
        });
        let n = flushed.len();
        // Paired differences, in run order: each flushed walk minus the
        // plain walk right after it.
        let diffs: Vec<i64> = flushed.iter().zip(&plain).map(|(f, p)| f - p).collect();
        let (size, medians) = stats::block_medians(&diffs, taken, 1.0);
        // The walks' medians come from their summaries (one sort each);
        // the parameters that depend on them are set once both are known.
        let e = record::measured(self.id(), "user", Default::default(), &mut flushed);
        let flushed_median = e.summary.median;
        let mut e = record::with_block_delta(
            e,
            "walk after a kernel entry without flush",
            &mut plain,
            stats::blocks_relative_to(size, medians, flushed_median),
        );
        let (core, core_base) = match core {
            Some((f, p)) => (Some(f), Some(record::CoreBase::Paired(p))),
            None => (None, None),
        };
        e = record::with_core_cycles(e, core, core_base);
        let plain_median = e.baseline.as_ref().map_or(f64::NAN, |b| b.summary.median);
        let reach = Reach::judge(
            self.pages,
            dtlb_4k_entries(ctx.env),
            plain_median,
            flushed_median,
        );
        e.params = self.params(ctx, n, &reach);
        e.notes
            .push(pti_note(ctx.env.platform.as_ref().map(|p| p.pti)));
        if let Some(why) = &reach.past {
            e.notes.push(format!(
                "past the TLB's reach ({why}): the plain walk misses too, so this delta is not a refill cost; the curve stops before it"
            ));
        }
        Ok(e)
    }
}

/// Blocks of pairs per refill experiment.
const BLOCKS: usize = report::model::stats::MIN_BLOCKS;
/// Smallest walk judged by its own per-page costs: below it the fixed
/// cost of the loop and the fences dominates both walks.
const REACH_MIN_PAGES: usize = 64;
/// The plain walk costing this fraction of the flushed one per page means
/// it misses the TLB as well.
const REACH_RATIO: f64 = 0.5;

/// Whether a working set is past the TLB's reach, and why.
#[derive(Debug, Clone, PartialEq)]
struct Reach {
    plain_per_page: f64,
    flushed_per_page: f64,
    hint: Option<u64>,
    past: Option<String>,
}

impl Reach {
    /// Past the reach when the plain walk's per-page cost has caught up
    /// with the flushed one (it misses too), or, as CPUID's hint, when
    /// the set has more pages than the largest 4K TLB has entries.
    fn judge(pages: usize, hint: Option<u64>, plain: f64, flushed: f64) -> Reach {
        let (pp, fp) = (plain / pages as f64, flushed / pages as f64);
        let past = if pages >= REACH_MIN_PAGES && fp > 0.0 && pp >= REACH_RATIO * fp {
            Some(format!(
                "the plain walk costs {pp:.1} cycles a page, {:.0}% of the flushed walk's {fp:.1}",
                pp / fp * 100.0
            ))
        } else {
            match hint {
                Some(h) if pages as u64 > h => Some(format!(
                    "{pages} pages exceed the largest 4K TLB CPUID reports ({h} entries)"
                )),
                _ => None,
            }
        };
        Reach {
            plain_per_page: pp,
            flushed_per_page: fp,
            hint,
            past,
        }
    }
}

impl RefillExperiment {
    fn params(
        &self,
        ctx: &Ctx,
        n: usize,
        reach: &Reach,
    ) -> std::collections::BTreeMap<String, serde_json::Value> {
        let pti = ctx.env.platform.as_ref().map(|p| p.pti);
        params([
            ("pages", self.pages.into()),
            ("stride_bytes", workloads::PAGE_SIZE.into()),
            ("pairs", n.into()),
            (
                "order",
                "ascending addresses, one byte per page, the cache line staggered page by page".into(),
            ),
            (
                "flush",
                format!(
                    "mprotect(PROT_READ) of an unrelated populated {FLUSH_PAGES}-page range \
                     (> tlb_single_page_flush_ceiling 33): full local flush of this mm's non-global TLB entries"
                )
                .into(),
            ),
            ("no_flush", "the same mprotect on the already read-only range: entry without flush".into()),
            ("delta", "median over blocks of the block median of paired (flushed - plain) walks".into()),
            ("pti", pti.map_or(serde_json::Value::Null, Into::into)),
            ("timer", ctx.timer.kind().name().into()),
            ("timer_resolution_cycles", ctx.timer.resolution_cycles.into()),
            ("plain_per_page_cycles", record::finite(reach.plain_per_page).into()),
            ("flushed_per_page_cycles", record::finite(reach.flushed_per_page).into()),
            ("tlb_reach_hint_entries", reach.hint.map_or(serde_json::Value::Null, Into::into)),
            ("past_tlb_reach", reach.past.is_some().into()),
        ])
    }
}

fn pti_note(pti: Option<bool>) -> String {
    match pti {
        Some(false) => "PTI off: kernel mappings are global and survive this flush, so only user \
                        entries are refilled (lower bound of flush-on-entry with INVPCID type 2)"
            .to_string(),
        Some(true) => {
            "PTI on: the flush drops this mm's user and kernel PCID entries; global kernel \
                       entries (entry text) survive"
                .to_string()
        }
        None => {
            "PTI state unknown: whether kernel entries were flushed too is not known".to_string()
        }
    }
}

/// Entries of the largest 4 KiB data (or unified) TLB CPUID describes.
fn dtlb_4k_entries(env: &crate::schema::Environment) -> Option<u64> {
    env.cpu
        .tlb
        .iter()
        .filter(|t| t.page_sizes.contains("4K") && !t.name.contains("iTLB"))
        .map(|t| u64::from(t.entries))
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reach_is_where_the_plain_walk_catches_up() {
        // Inside the reach: plain 3/page, flushed 25/page.
        assert_eq!(Reach::judge(256, Some(1536), 768.0, 6400.0).past, None);
        // Plain walk misses too.
        let r = Reach::judge(4096, Some(8192), 80_000.0, 100_000.0);
        assert!(r.past.unwrap().contains("80%"));
        // CPUID's hint when the costs do not tell.
        assert!(Reach::judge(4096, Some(1536), 4096.0, 100_000.0)
            .past
            .unwrap()
            .contains("1536 entries"));
        // Small walks are not judged by their costs.
        assert_eq!(Reach::judge(16, None, 400.0, 500.0).past, None);
    }
}
