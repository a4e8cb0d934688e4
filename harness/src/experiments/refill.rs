//! `refill.wN`: walk N pages right after a kernel entry that flushed this
//! process's TLB entries, minus the same walk after one that did not.
//! What the flushing entry is, exactly, is documented in
//! `workloads::walk`; the result's params and notes repeat it.

use super::record::{self, params};
use super::{Ctx, Experiment, Stop};
use crate::schema;
use anyhow::{Context, Result};
use workloads::pages::Pages;
use workloads::walk::{FlushRange, FLUSH_PAGES};

/// Pairs per chunk between cancel checks.
const CHUNK: usize = 50;

pub struct RefillExperiment {
    pages: usize,
}

impl RefillExperiment {
    pub fn new(pages: usize) -> RefillExperiment {
        RefillExperiment { pages }
    }
}

impl Experiment for RefillExperiment {
    fn id(&self) -> String {
        format!("refill.w{}", self.pages)
    }

    fn run(&mut self, ctx: &mut Ctx) -> Result<schema::Experiment> {
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
        let mut done = 0;
        while done < n {
            ctx.check_cancel()?;
            let end = (done + CHUNK).min(n);
            let want = end - done;
            let got = crate::with_clock!(ctx.timer, c => workloads::walk::refill_pairs(
                c, &ws, &range, &mut flushed[done..end], &mut plain[done..end], ctx.cancel))
            .context("refill loop")?;
            done += got;
            if got < want {
                // refill_pairs stops early only when cancelled.
                return Err(Stop::Cancelled.into());
            }
        }
        ctx.timer.subtract_overhead(&mut flushed);
        ctx.timer.subtract_overhead(&mut plain);
        let pti = ctx.env.platform.as_ref().map(|p| p.pti);
        let p = params([
            ("pages", self.pages.into()),
            ("stride_bytes", workloads::PAGE_SIZE.into()),
            ("pairs", n.into()),
            ("order", "ascending addresses, one byte read per page".into()),
            (
                "flush",
                format!(
                    "mprotect(PROT_READ) of an unrelated populated {FLUSH_PAGES}-page range \
                     (> tlb_single_page_flush_ceiling 33): full local flush of this mm's non-global TLB entries"
                )
                .into(),
            ),
            ("no_flush", "the same mprotect on the already read-only range: entry without flush".into()),
            ("pti", pti.map_or(serde_json::Value::Null, Into::into)),
            ("timer", ctx.timer.kind().into()),
            ("timer_resolution_cycles", ctx.timer.resolution_cycles.into()),
        ]);
        let mut e = record::measured(&self.id(), "user", p, &mut flushed);
        e = record::with_baseline(e, "walk after a kernel entry without flush", &mut plain);
        e.notes.push(match pti {
            Some(false) => "PTI off: kernel mappings are global and survive this flush, so only user \
                            entries are refilled (lower bound of flush-on-entry with INVPCID type 2)"
                .to_string(),
            Some(true) => "PTI on: the flush drops this mm's user and kernel PCID entries; global kernel \
                           entries (entry text) survive"
                .to_string(),
            None => "PTI state unknown: whether kernel entries were flushed too is not known".to_string(),
        });
        if let Some(reach) = dtlb_4k_entries(ctx.env) {
            if self.pages as u64 > reach {
                e.notes.push(format!(
                    "{} pages exceed the largest 4K data TLB CPUID reports ({reach} entries): \
                     if that size is right the walk also misses without the flush, and the \
                     delta is not a pure refill cost",
                    self.pages
                ));
            }
        }
        Ok(e)
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
