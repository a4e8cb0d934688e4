//! `timer.overhead`, `entry.*`, `vdso.clock_gettime`: back-to-back
//! operations timed in batches.
//!
//! The headline `entry.null`/`entry.getpid`/`entry.getppid` make the
//! system call the way a program does: through a called function
//! (glibc's `syscall()` by default, as `perf bench syscall basic`), so the
//! `ret` after `sysret` is included. `entry.<name>.inline` time the bare
//! instruction inline, and `entry.return_after_sysret` is the difference
//! of the two for getppid, measured in alternating blocks: what the
//! return costs on this CPU and its mitigations.
//!
//! Each is [`Blocked`]: the batch is chosen once in `prepare` (before the
//! run interleaves anything), then each block warms up and times its
//! share of the regions.

use super::record::{self, params};
use super::suite::SyscallPath;
use super::{Blocked, Ctx, Experiment};
use crate::schema;
use anyhow::{Context, Result};
use report::model::ids::{EntryCall, ExperimentId, VdsoCall};
use report::model::stats;
use serde_json::Value;
use workloads::entry::{CallPath, EntryOp};
use workloads::sys::NoArgCall;

/// Timed regions per chunk between cancel checks.
const CHUNK: usize = 20_000;
/// Most blocks per experiment. Short blocks, so the quiet choice
/// (`report::model::quiet`) can find the host's fast phases: on the Zen 3
/// KVM guest of 2026-12-01 they lasted 3 ms at the median (6.5 ms on
/// average), and a default run's 32 blocks of 45-60 ms each mixed both
/// phases, so the blocks the reference called quiet read slow in 1-2 of
/// 10 rounds (up to 36% above the rest); with 256 blocks of 3-8 ms the
/// rounds' headlines spread 2.6-4.9%
/// (results/checks/short-blocks-20261201T0107.txt).
pub const MAX_BLOCKS: usize = 256;
/// Fewest blocks per experiment (more than `stats::MIN_BLOCKS`).
pub const MIN_BLOCKS: usize = 32;
/// Timed regions per block at least, whatever the sample count.
const MIN_REGIONS_PER_BLOCK: usize = 100;

/// Blocks for `samples` requested: as many as give each
/// `MIN_REGIONS_PER_BLOCK`, from `MIN_BLOCKS` to `MAX_BLOCKS` (a run asked
/// for few samples gets what it asked for, in fewer blocks).
pub fn blocks_for(samples: usize) -> usize {
    (samples / MIN_REGIONS_PER_BLOCK).clamp(MIN_BLOCKS, MAX_BLOCKS)
}
/// The timer step may be at most this fraction of a timed region.
pub const MAX_STEP_FRACTION: f64 = 0.02;
/// Fewest operations per region by default: calls run back to back as a
/// program makes them (and as perf bench times them), and the fences at
/// the ends of a region cost less than 1/16 of it per call.
pub const MIN_BATCH: usize = 16;
/// Most operations per region the automatic choice picks.
pub const MAX_BATCH: usize = 1024;
/// Single-call regions timed to choose the batch.
const PILOT_REGIONS: usize = 2_000;
/// The sysfs mitigation files that decide what the return after sysret
/// costs (RSB filling, SRSO safe RET, retpolines).
const RETURN_MITIGATIONS: [&str; 3] = ["spec_rstack_overflow", "retbleed", "spectre_v2"];

/// What an entry experiment times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    Empty,
    /// The call the way `--syscall` says (default glibc syscall()).
    Headline(NoArgCall),
    /// The instruction inline: the decomposition row.
    Inline(NoArgCall),
    Vdso,
    /// Headline minus inline getppid, in alternating blocks.
    ReturnAfterSysret,
}

/// One entry-family experiment.
pub struct EntryExperiment {
    id: ExperimentId,
    spec: Spec,
    /// Set up by `prepare`, filled by the blocks, taken by `finish`.
    state: Option<Prepared>,
}

/// What one entry experiment measures into, block by block.
struct Prepared {
    op: EntryOp,
    batch: usize,
    rule: &'static str,
    /// Blocks of this run (`blocks_for`).
    blocks: usize,
    /// Raw region cycles, overhead removed; block `i` fills
    /// `stats::block_bounds(len, blocks, i)`.
    regions: Vec<i64>,
    /// entry.return_after_sysret: the inline getppid regions (same
    /// bounds) and each block's difference of the two medians.
    inline: Vec<i64>,
    diffs: Vec<f64>,
    /// Core cycles of the same regions, block after block, where the run
    /// reads them (rdpmc); None otherwise. `core_inline` likewise for
    /// `inline`.
    core: Option<Vec<i64>>,
    core_inline: Option<Vec<i64>>,
    /// Blocks taken.
    done: usize,
}

/// The ids of this module, in suite order.
pub fn all() -> Vec<EntryExperiment> {
    use NoArgCall::*;
    let e = |id, spec| EntryExperiment {
        id,
        spec,
        state: None,
    };
    let entry = ExperimentId::Entry;
    vec![
        e(ExperimentId::TimerOverhead, Spec::Empty),
        e(entry(EntryCall::Null), Spec::Headline(Invalid)),
        e(entry(EntryCall::Getpid), Spec::Headline(Getpid)),
        e(entry(EntryCall::Getppid), Spec::Headline(Getppid)),
        e(entry(EntryCall::NullInline), Spec::Inline(Invalid)),
        e(entry(EntryCall::GetpidInline), Spec::Inline(Getpid)),
        e(entry(EntryCall::GetppidInline), Spec::Inline(Getppid)),
        e(entry(EntryCall::ReturnAfterSysret), Spec::ReturnAfterSysret),
        e(ExperimentId::Vdso(VdsoCall::ClockGettime), Spec::Vdso),
    ]
}

impl SyscallPath {
    pub(crate) fn call_path(self) -> CallPath {
        match self {
            SyscallPath::Libc => CallPath::Libc,
            SyscallPath::Call => CallPath::Call,
            SyscallPath::Inline => CallPath::Inline,
        }
    }
}

fn op(spec: Spec, path: SyscallPath) -> EntryOp {
    match spec {
        Spec::Empty => EntryOp::Empty,
        Spec::Headline(c) => EntryOp::Syscall(c, path.call_path()),
        Spec::Inline(c) => EntryOp::Syscall(c, CallPath::Inline),
        Spec::Vdso => EntryOp::VdsoClockGettime,
        Spec::ReturnAfterSysret => EntryOp::Syscall(NoArgCall::Getppid, path.call_path()),
    }
}

/// The clocksource the vDSO would read; "hpet"/"acpi_pm" have no vDSO
/// path, so clock_gettime is then a real system call.
fn clocksource() -> String {
    std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// Operations per region that keep the timer step under
/// `MAX_STEP_FRACTION` of a region of ops costing `op_cycles` each: at
/// least `MIN_BATCH`, a power of two, at most `MAX_BATCH`.
pub fn auto_batch(step_cycles: u64, op_cycles: f64) -> usize {
    let per_op = op_cycles.max(1.0);
    let need = (step_cycles as f64 / (MAX_STEP_FRACTION * per_op)).ceil() as usize;
    need.max(MIN_BATCH).next_power_of_two().min(MAX_BATCH)
}

/// Times `regions` regions of `batch` ops into `out` (TSC cycles, overhead
/// removed), checking for cancel between chunks; warms up first. Returns
/// the core cycles of the same regions where the run reads them.
pub(crate) fn time_regions(
    ctx: &Ctx,
    op: EntryOp,
    batch: usize,
    warmup: usize,
    out: &mut [i64],
) -> Result<Option<Vec<i64>>> {
    let log = ctx.timer.core_log(out.len());
    let mut w = warmup;
    for chunk in out.chunks_mut(CHUNK) {
        ctx.check_cancel()?;
        // Warm up before the first chunk only: later chunks follow a
        // cancel check, a load and a branch, nothing that cools caches.
        crate::with_clock!(ctx.timer, &log, c => workloads::entry::sample_batched(c, op, w, batch, chunk));
        w = 0;
    }
    let mut core = ctx.timer.core_samples(&log);
    if op != EntryOp::Empty {
        ctx.timer.subtract_overhead(out);
    } else if let Some(c) = core.as_mut() {
        // The empty region is the overhead itself: keep it raw, as the
        // TSC samples are.
        let o = ctx.timer.core_overhead_cycles.unwrap_or(0.0).round() as i64;
        c.iter_mut().for_each(|s| *s += o);
    }
    Ok(core)
}

/// The batch for `op`: `--batch`, 1 for the empty region, else
/// `auto_batch` from a short single-call pilot.
fn choose_batch(ctx: &Ctx, op: EntryOp) -> Result<(usize, &'static str)> {
    if op == EntryOp::Empty {
        return Ok((1, "the timer's own cost: always one empty region"));
    }
    if let Some(k) = ctx.cfg.entry_batch {
        return Ok((k, "--batch"));
    }
    Ok((
        pilot_batch(ctx, op)?,
        "automatic: timer step under 2% of a region, at least 16 calls back to back",
    ))
}

/// `auto_batch` for `op` from a short single-call pilot.
pub(crate) fn pilot_batch(ctx: &Ctx, op: EntryOp) -> Result<usize> {
    let mut pilot = vec![0i64; PILOT_REGIONS];
    time_regions(ctx, op, 1, ctx.cfg.entry_warmup.min(10_000), &mut pilot)?;
    pilot.sort_unstable();
    let m = stats::median_sorted(&pilot);
    Ok(auto_batch(ctx.timer.resolution_cycles, m))
}

/// Untimed operations before each of `blocks` blocks: the run's warm-up
/// spread over them, since the block before may have been another id's.
pub(crate) fn block_warmup(ctx: &Ctx, blocks: usize) -> usize {
    ctx.cfg.entry_warmup / blocks
}

/// Timed regions for `samples` requested: at least enough for every block
/// to have `MIN_REGIONS_PER_BLOCK`.
fn regions_for(samples: usize) -> usize {
    samples.max(MIN_BLOCKS * MIN_REGIONS_PER_BLOCK)
}

/// Appends one block's core cycles (rdpmc) to the id's.
fn extend_core(all: &mut Option<Vec<i64>>, block: Option<Vec<i64>>) {
    if let Some(b) = block {
        all.get_or_insert_with(Vec::new).extend(b);
    }
}

/// Raw region cycles to per-operation samples, rounded to the cycle.
pub(crate) fn per_op(regions: &[i64], batch: usize) -> Vec<i64> {
    let k = batch as i64;
    regions.iter().map(|s| (s + k / 2).div_euclid(k)).collect()
}

impl Experiment for EntryExperiment {
    fn id(&self) -> ExperimentId {
        self.id.clone()
    }

    super::run_as_blocks!();
}

impl Blocked for EntryExperiment {
    fn prepare(&mut self, ctx: &mut Ctx) -> Result<usize> {
        let op = op(self.spec, ctx.cfg.syscall);
        let (batch, rule) = choose_batch(ctx, op)?;
        let n = regions_for(ctx.cfg.entry_samples);
        let blocks = blocks_for(n);
        let mut regions = vec![0i64; n];
        crate::placement::prefault(&mut regions);
        let mut inline = Vec::new();
        if self.spec == Spec::ReturnAfterSysret {
            inline = vec![0i64; n];
            crate::placement::prefault(&mut inline);
        }
        self.state = Some(Prepared {
            op,
            blocks,
            batch,
            rule,
            regions,
            inline,
            diffs: Vec::with_capacity(blocks),
            core: None,
            core_inline: None,
            done: 0,
        });
        Ok(blocks)
    }

    fn run_block(&mut self, ctx: &mut Ctx) -> Result<()> {
        let s = self.state.as_mut().context("block before prepare")?;
        let warmup = block_warmup(ctx, s.blocks);
        let r = stats::block_bounds(s.regions.len(), s.blocks, s.done);
        let core = time_regions(ctx, s.op, s.batch, warmup, &mut s.regions[r.clone()])?;
        extend_core(&mut s.core, core);
        if self.spec == Spec::ReturnAfterSysret {
            // Headline then inline in the same block, so drift hits both.
            let inline = EntryOp::Syscall(NoArgCall::Getppid, CallPath::Inline);
            let core = time_regions(ctx, inline, s.batch, warmup, &mut s.inline[r.clone()])?;
            extend_core(&mut s.core_inline, core);
            let m = |v: &[i64]| stats::block_medians(&per_op(v, s.batch), 1, 1.0).1[0];
            s.diffs.push(m(&s.regions[r.clone()]) - m(&s.inline[r]));
        }
        s.done += 1;
        Ok(())
    }

    fn finish(&mut self, ctx: &mut Ctx) -> Result<schema::Experiment> {
        let s = super::taken(&mut self.state, |s| s.done)?;
        if self.spec == Spec::ReturnAfterSysret {
            return self.finish_return(ctx, s);
        }
        // Only the blocks taken (all, unless the run was interrupted).
        let end = stats::block_bounds(s.regions.len(), s.blocks, s.done - 1).end;
        // Blocks of the same per-operation samples the summary is made of,
        // so the headline median and its block CI agree.
        let mut samples = per_op(&s.regions[..end], s.batch);
        drop(s.regions);
        let (size, medians) = stats::block_medians(&samples, s.done, 1.0);
        let mut p = common_params(ctx, s.op, s.batch, s.rule, s.blocks, samples.len());
        p.insert("measures".into(), self.id.describe().into());
        if s.op == EntryOp::VdsoClockGettime {
            p.insert("clocksource".into(), clocksource().into());
        }
        let mut e = record::measured(self.id(), "user", p, &mut samples);
        e = record::with_blocks(e, stats::blocks(size, medians));
        let core = s.core.map(|c| per_op(&c, s.batch));
        e = record::with_core_cycles(e, core, None);
        e.notes
            .extend(op_notes(ctx, s.op, s.batch, e.summary.median));
        Ok(e)
    }
}

impl EntryExperiment {
    /// `entry.return_after_sysret`: headline getppid minus inline getppid,
    /// block by block (both in each block, so drift hits both alike).
    fn finish_return(&self, ctx: &Ctx, s: Prepared) -> Result<schema::Experiment> {
        let inline = EntryOp::Syscall(NoArgCall::Getppid, CallPath::Inline);
        let per_block = stats::block_bounds(s.regions.len(), s.blocks, 0).len();
        let end = stats::block_bounds(s.regions.len(), s.blocks, s.done - 1).end;
        let mut all_a = per_op(&s.regions[..end], s.batch);
        let mut all_b = per_op(&s.inline[..end], s.batch);
        let mut p = common_params(ctx, s.op, s.batch, s.rule, s.blocks, all_a.len());
        p.insert("baseline_operation".into(), inline.describe().into());
        p.insert(
            "mitigations".into(),
            Value::Object(mitigations(ctx).into_iter().collect()),
        );
        let e = record::measured(self.id(), "user", p, &mut all_a);
        let blocks = stats::blocks_relative_to(per_block as u64, s.diffs, e.summary.median);
        let mut e =
            record::with_block_delta(e, "the same call inline (no call/ret)", &mut all_b, blocks);
        let core = s.core.map(|c| per_op(&c, s.batch));
        let base = s
            .core_inline
            .map(|c| record::CoreBase::Unpaired(per_op(&c, s.batch)));
        e = record::with_core_cycles(e, core, base);
        e.notes.push(return_note(ctx, e.headline_cycles()));
        Ok(e)
    }
}

/// Params every entry experiment records.
fn common_params(
    ctx: &Ctx,
    op: EntryOp,
    batch: usize,
    rule: &str,
    blocks: usize,
    n: usize,
) -> std::collections::BTreeMap<String, Value> {
    let t = ctx.timer;
    params([
        ("samples", n.into()),
        ("warmup_per_block", block_warmup(ctx, blocks).into()),
        ("ops_per_sample", batch.into()),
        ("batch_rule", rule.into()),
        ("operation", op.describe().into()),
        ("timer", t.kind().name().into()),
        ("timer_resolution_cycles", t.resolution_cycles.into()),
        (
            "timer_resolution_ns",
            record::finite(t.resolution_ns()).into(),
        ),
        (
            "overhead_subtracted_cycles",
            if op == EntryOp::Empty {
                0.0
            } else {
                t.overhead_cycles
            }
            .into(),
        ),
    ])
}

/// What a reader must know about one entry experiment's figure.
fn op_notes(ctx: &Ctx, op: EntryOp, batch: usize, median: f64) -> Vec<String> {
    let mut notes = Vec::new();
    let step = ctx.timer.resolution_cycles as f64 / batch as f64;
    if op == EntryOp::Empty {
        notes.push(
            "raw empty-region cycles: this is the overhead subtracted from every other sample"
                .to_string(),
        );
    } else if batch > 1 {
        notes.push(format!(
            "each sample is the mean per operation of {batch} back-to-back operations"
        ));
    }
    if step > 1.0 && step > MAX_STEP_FRACTION * median.abs() {
        notes.push(format!(
            "the median sits on the timer step: the timer resolves {} cycles, \
             {:.1} cycles per operation here, more than 2% of the median",
            ctx.timer.resolution_cycles, step
        ));
    }
    if op == EntryOp::VdsoClockGettime {
        let cs = clocksource();
        if !matches!(
            cs.as_str(),
            "tsc" | "kvm-clock" | "hyperv_clocksource_tsc_page"
        ) {
            notes.push(format!(
                "clocksource {cs} may have no vDSO read: clock_gettime may enter the kernel"
            ));
        }
    }
    notes
}

/// The sysfs texts of `RETURN_MITIGATIONS` ("unknown" when not read).
fn mitigations(ctx: &Ctx) -> Vec<(String, Value)> {
    let m = ctx.env.platform.as_ref().map(|p| &p.mitigations);
    RETURN_MITIGATIONS
        .iter()
        .map(|k| {
            let v = m.and_then(|m| m.get(*k)).map_or("unknown", |s| s.as_str());
            (k.to_string(), Value::from(v))
        })
        .collect()
}

/// The return-after-sysret figure tied to what the platform reports.
fn return_note(ctx: &Ctx, delta: f64) -> String {
    let m: Vec<String> = mitigations(ctx)
        .into_iter()
        .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or("?")))
        .collect();
    format!(
        "return after sysret: the call path costs {delta:.0} cycles more than the inline \
         instruction. RSB filling (spectre_v2/retbleed) and SRSO safe RET make the first \
         ret after sysret mispredict; this platform reports {}",
        m.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_keep_the_step_under_two_percent() {
        // 24.5-cycle steps (24 measured) on a 390-cycle call: 24/(0.02*390)
        // = 3.1 -> the minimum 16.
        assert_eq!(auto_batch(24, 390.0), 16);
        // A 20-cycle vDSO read: 24/(0.4) = 60 -> 64.
        assert_eq!(auto_batch(24, 20.0), 64);
        // Never past the cap, and a zero/negative pilot does not divide by 0.
        assert_eq!(auto_batch(1000, 1.0), MAX_BATCH);
        assert_eq!(auto_batch(24, -3.0), MAX_BATCH);
        for (step, c) in [(1, 5.0), (24, 390.0), (49, 50.0), (24, 20.0)] {
            let b = auto_batch(step, c);
            assert!(
                b == MAX_BATCH || step as f64 <= 0.02 * c * b as f64,
                "{step} {c} {b}"
            );
        }
    }

    #[test]
    fn regions_give_every_block_enough() {
        assert_eq!(regions_for(200_000), 200_000);
        assert_eq!(regions_for(100), MIN_BLOCKS * MIN_REGIONS_PER_BLOCK);
        // Short blocks where the samples allow, never fewer than
        // MIN_REGIONS_PER_BLOCK regions each, nor fewer blocks than
        // MIN_BLOCKS.
        assert_eq!(blocks_for(500_000), MAX_BLOCKS);
        assert_eq!(blocks_for(20_000), 200);
        assert_eq!(blocks_for(regions_for(100)), MIN_BLOCKS);
        for n in [3_200, 20_000, 25_600, 500_000] {
            let b = blocks_for(n);
            assert!(stats::block_bounds(n, b, b - 1).len() >= MIN_REGIONS_PER_BLOCK);
        }
        assert_eq!(per_op(&[1600, 1608, 1591], 16), vec![100, 101, 99]);
    }

    #[test]
    fn ids_are_headline_inline_and_the_difference() {
        let ids: Vec<String> = all().iter().map(|e| e.id.to_string()).collect();
        for id in [
            "entry.getppid",
            "entry.getppid.inline",
            "entry.return_after_sysret",
        ] {
            assert!(ids.iter().any(|i| i == id), "{id}");
        }
        assert_eq!(
            op(Spec::Headline(NoArgCall::Getppid), SyscallPath::Libc),
            EntryOp::Syscall(NoArgCall::Getppid, CallPath::Libc)
        );
        assert_eq!(
            op(Spec::Inline(NoArgCall::Getppid), SyscallPath::Libc),
            EntryOp::Syscall(NoArgCall::Getppid, CallPath::Inline)
        );
    }
}
