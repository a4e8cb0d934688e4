//! The run's drift reference: short blocks of one fixed loop, glibc
//! `syscall(SYS_getppid)` (as `perf bench syscall basic` and
//! scripts/c/syscall-loop.c call it), timed between the experiments'
//! blocks all through the run. Its block medians, with when each was
//! taken, become `schema::DriftReference`; `report::model::drift` reads them.

use super::entry::{per_op, pilot_batch, time_regions};
use super::Ctx;
use crate::schema::DriftReference;
use anyhow::Result;
use report::model::stats;
use std::time::Instant;
use workloads::entry::{CallPath, EntryOp};
use workloads::sys::NoArgCall;

/// Timed regions per reference block: a median of 256 batches moves by
/// well under 1% between quiet blocks, and at ~100 ns a call the block
/// takes under half a millisecond, a few percent of an experiment block.
pub const REGIONS: usize = 256;
/// Untimed calls before each reference block (the block before was
/// another loop).
const WARMUP: usize = 256;

/// The reference loop and what it has recorded so far.
pub struct Reference {
    op: EntryOp,
    batch: usize,
    regions: Vec<i64>,
    medians: Vec<f64>,
    times: Vec<f64>,
    start: Instant,
}

impl Reference {
    /// Chooses the batch (the automatic rule of entry.*, whatever
    /// `--batch` says: the reference is the same loop in every run) and
    /// starts the run's clock: times are seconds since now.
    pub fn new(ctx: &Ctx) -> Result<Reference> {
        let op = EntryOp::Syscall(NoArgCall::Getppid, CallPath::Libc);
        let batch = pilot_batch(ctx, op)?;
        let mut regions = vec![0i64; REGIONS];
        crate::placement::prefault(&mut regions);
        Ok(Reference {
            op,
            batch,
            regions,
            medians: Vec::new(),
            times: Vec::new(),
            start: Instant::now(),
        })
    }

    /// Seconds since the reference started: the clock experiment blocks
    /// are placed on.
    pub fn seconds(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Times one reference block and records its median and its middle.
    pub fn block(&mut self, ctx: &Ctx) -> Result<()> {
        let t0 = self.seconds();
        time_regions(ctx, self.op, self.batch, WARMUP, &mut self.regions)?;
        let t1 = self.seconds();
        let per = per_op(&self.regions, self.batch);
        self.medians.push(stats::block_medians(&per, 1, 1.0).1[0]);
        self.times.push((t0 + t1) / 2.0);
        Ok(())
    }

    /// What the result file records.
    pub fn record(&self) -> DriftReference {
        DriftReference {
            operation: self.op.describe(),
            ops_per_sample: self.batch as u64,
            regions_per_block: REGIONS as u64,
            medians: self.medians.clone(),
            times_s: self.times.clone(),
            off_threshold: report::model::drift::OFF_THRESHOLD,
        }
    }
}
