//! The run's drift reference: short blocks of one fixed loop, the
//! getppid system call with the `syscall` instruction inline, timed
//! between the experiments' blocks all through the run. Its block
//! medians, with when each was taken, become `schema::DriftReference`;
//! `report::model::drift` reads them.
//!
//! Why inline and not glibc `syscall(SYS_getppid)`, the loop `perf bench
//! syscall basic` and scripts/c/syscall-loop.c run (and the reference of
//! files written before 2026-12-01): the reference must move with the
//! host and with nothing else. On the Zen 3 guest (SRSO "Safe RET"), the
//! glibc loop's 0.2 ms blocks are bimodal on a quiet host: up to half of
//! them (18-50% in a C loop, 5-24% of a run's reference blocks) read 7%
//! below the rest (418-431 cycles against 453-462), while the same call
//! inline, glibc getpid and glibc ENOSYS were not (their 1st percentile
//! within 1.3% of their first quartile); that low mode set the reference's
//! low, and the quiet choice then kept only the blocks beside it: the
//! headline of entry.getppid read 173 ns in 4 of 10 rounds and 186 ns in
//! the others (results/checks/reference-mode-20261201T0126.txt).

use super::entry::{per_op, pilot_batch, time_regions};
use super::Ctx;
use crate::schema::DriftReference;
use anyhow::Result;
use report::model::stats;
use std::time::Instant;
use workloads::entry::{CallPath, EntryOp};
use workloads::sys::NoArgCall;

/// Timed regions per reference block: short, since one is taken between
/// every two experiment blocks (up to `entry::MAX_BLOCKS` of each id), and
/// enough: on the Zen 3 guest the inline loop's blocks of 64 read 317
/// cycles at the least, 319 / 322 / 323 at the 5th / 50th / 95th
/// percentile of the fast phase (results/checks/
/// reference-mode-20261201T0126.txt); a block takes about 0.1 ms.
pub const REGIONS: usize = 64;
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
        let op = EntryOp::Syscall(NoArgCall::Getppid, CallPath::Inline);
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
