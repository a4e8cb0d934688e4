//! The order a run measures in.
//!
//! Short loops ([`Blocked`] experiments: timer.overhead, entry.*, vdso.*,
//! deferred.check.*, refill.*) are not measured one after the other.
//! Each prepares first (memory, its batch choice), then their blocks run
//! in rounds: every round holds one block of each id (ids with fewer
//! blocks skip rounds evenly), in a fresh random order, as Google
//! Benchmark's random interleaving does. A slow phase of the host then
//! lands a little on every id instead of wholly on one, and each id's
//! median samples the whole stretch. Between any two experiment blocks
//! runs a block of the drift reference (`experiments::reference`), whose
//! medians say how far the host moved; each experiment block is placed
//! against it in time (`report::model::drift`).
//!
//! Long experiments (ipi.*, the kernel module's) follow in one stretch
//! each, in suite order, with a reference block before each and one at
//! the end. The file is written after the interleaved ids and after each
//! long one. Ctrl-C stops at the next block: ids with at least two blocks
//! are kept (noted), the file is marked partial.

use crate::experiments::reference::Reference;
use crate::experiments::{record, Blocked, Ctx, Experiment, Stop};
use crate::schema::ResultFile;
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::path::Path;

/// How a run of the experiment list ended.
#[derive(Debug, Default)]
pub struct RunTally {
    pub interrupted: bool,
    pub failed: usize,
}

/// Fewest blocks an interrupted id needs to be kept: one median is no
/// distribution.
const MIN_KEPT_BLOCKS: usize = 2;

/// Where results go as they are finished.
struct Sink<'a> {
    file: &'a mut ResultFile,
    out: &'a Path,
    run_notes: &'a [String],
    bar: ProgressBar,
    tally: RunTally,
}

impl Sink<'_> {
    /// The progress bar for the next stage of the run: its line
    /// (`template`, a literal) and `len` steps, from zero.
    fn stage(&self, template: &str, len: u64) {
        self.bar.set_style(style(template));
        self.bar.set_position(0);
        self.bar.set_length(len);
    }

    /// Adds a finished experiment: says at once when its blocks disagree
    /// (as hyperfine warns about outliers), adds the run-wide caveats
    /// (readers often look at one id alone).
    fn push(&mut self, mut e: crate::schema::Experiment) {
        if let Some(w) = e
            .blocks
            .as_ref()
            .and_then(report::output::drift_text::unstable_warning)
        {
            let id = e.id.clone();
            self.bar
                .suspend(|| eprintln!("entrybench: warning: {id}: {w}"));
        }
        e.notes.extend(self.run_notes.iter().cloned());
        // Every row says which PTI state it was measured in (the series'
        // flush runs only with PTI on).
        if let Some(p) = &self.file.environment.platform {
            e.params.entry("pti".into()).or_insert(p.pti.into());
        }
        self.file.experiments.push(e);
    }

    /// Writes the file as it stands, with the reference so far and the
    /// quiet figures it gives the interleaved ids.
    fn save(&mut self, reference: &Reference) -> Result<()> {
        self.file.drift_reference = Some(reference.record());
        report::model::quiet::fill(self.file);
        report::model::load::write_result(self.out, self.file)
    }

    /// Counts an experiment's error: cancel, skip or failure. A signal
    /// also stops a long kernel-module ioctl (EINTR): with `cancelled`
    /// set, that is the interruption, not a failure of the experiment.
    fn error(&mut self, id: &str, err: anyhow::Error, cancelled: bool) {
        match err.downcast_ref::<Stop>() {
            Some(Stop::Cancelled) => self.tally.interrupted = true,
            None if cancelled => self.tally.interrupted = true,
            Some(Stop::Skipped(why)) => self
                .bar
                .suspend(|| eprintln!("entrybench: {id} skipped: {why}")),
            None => {
                self.tally.failed += 1;
                self.bar
                    .suspend(|| eprintln!("entrybench: warning: {id} failed: {err:#}"));
            }
        }
    }
}

/// Runs the list: interleaved blocks first, then the long experiments;
/// writes the (partial) file as results come.
pub fn run_list(
    list: &mut [Box<dyn Experiment>],
    file: &mut ResultFile,
    out: &Path,
    run_notes: &[String],
    ctx: &mut Ctx,
) -> Result<RunTally> {
    let bar = ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    let mut sink = Sink {
        file,
        out,
        run_notes,
        bar,
        tally: RunTally::default(),
    };
    let mut reference = match Reference::new(ctx) {
        Ok(r) => r,
        Err(e) if ctx.cancelled() => {
            sink.error("reference", e, ctx.cancelled());
            return Ok(sink.tally);
        }
        Err(e) => return Err(e.context("the drift reference loop failed")),
    };
    let (blocked, whole): (Vec<usize>, Vec<usize>) =
        (0..list.len()).partition(|&i| list[i].blocked().is_some());
    if !blocked.is_empty() {
        interleave(list, &blocked, ctx, &mut reference, &mut sink)?;
    }
    if !sink.tally.interrupted {
        one_by_one(list, &whole, ctx, &mut reference, &mut sink)?;
    }
    sink.bar.finish_and_clear();
    if ctx.cancelled() {
        sink.tally.interrupted = true;
    }
    Ok(sink.tally)
}

/// One interleaved id while the rotation runs.
struct Slot {
    /// Index into the list.
    i: usize,
    id: String,
    blocks: usize,
    /// The middle of each block taken, seconds on the reference's clock.
    times: Vec<f64>,
    failed: bool,
}

/// Prepares the `idx` experiments, runs their blocks in random rounds
/// with reference blocks between, and finishes them in suite order.
fn interleave(
    list: &mut [Box<dyn Experiment>],
    idx: &[usize],
    ctx: &mut Ctx,
    reference: &mut Reference,
    sink: &mut Sink,
) -> Result<()> {
    let mut slots = prepare_all(list, idx, ctx, sink);
    // A new order every run (recorded), so no fixed pattern of the
    // host's meets the same ids twice.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let rounds = plan(
        &slots.iter().map(|s| s.blocks).collect::<Vec<_>>(),
        &mut rand::rngs::SmallRng::seed_from_u64(seed),
    );
    sink.file.options.insert(
        "interleave".into(),
        format!(
            "{} ids, {} rounds, random order in each round (seed {seed}), a drift reference \
             block between any two blocks",
            slots.len(),
            rounds.len()
        ),
    );
    if !sink.tally.interrupted {
        rotate(list, &mut slots, &rounds, ctx, reference, sink)?;
    }
    if !sink.tally.interrupted {
        // Closes the last experiment block's bracket.
        if let Err(e) = reference.block(ctx) {
            sink.error("reference", e, ctx.cancelled());
        }
    }
    let r = reference.record();
    for s in slots.iter().filter(|s| !s.failed) {
        if s.times.len() < s.blocks && s.times.len() < MIN_KEPT_BLOCKS {
            continue;
        }
        let Some(b) = list[s.i].blocked() else {
            continue;
        };
        match b.finish(ctx) {
            Ok(mut e) => {
                if s.times.len() < s.blocks {
                    e.notes.push(format!(
                        "the run was interrupted: {} of {} blocks taken",
                        s.times.len(),
                        s.blocks
                    ));
                }
                let d = report::model::drift::block_drift(&r, s.times.clone());
                sink.push(record::with_drift(e, d));
            }
            Err(err) => sink.error(&s.id, err, ctx.cancelled()),
        }
    }
    sink.save(reference)
}

/// Prepares every interleaved id; the ones that cannot run are reported
/// and left out.
fn prepare_all(
    list: &mut [Box<dyn Experiment>],
    idx: &[usize],
    ctx: &mut Ctx,
    sink: &mut Sink,
) -> Vec<Slot> {
    sink.stage(
        "{bar:30} {pos}/{len} preparing {msg} ({elapsed})",
        idx.len() as u64,
    );
    let mut slots = Vec::new();
    for &i in idx {
        let id = list[i].id().to_string();
        sink.bar.set_message(id.clone());
        let Some(b) = list[i].blocked() else {
            continue;
        };
        match b.prepare(ctx) {
            Ok(blocks) if blocks > 0 => slots.push(Slot {
                i,
                id,
                blocks,
                times: Vec::with_capacity(blocks),
                failed: false,
            }),
            Ok(_) => {}
            Err(e) => sink.error(&id, e, ctx.cancelled()),
        }
        sink.bar.inc(1);
        if sink.tally.interrupted {
            break;
        }
    }
    slots
}

/// Runs the rounds: a reference block, then an experiment block, and so
/// on, each round on a fresh thread pinned to the victim CPU
/// (`round_thread`). A failing id leaves the rotation; Ctrl-C ends it.
fn rotate(
    list: &mut [Box<dyn Experiment>],
    slots: &mut [Slot],
    rounds: &[Vec<usize>],
    ctx: &mut Ctx,
    reference: &mut Reference,
    sink: &mut Sink,
) -> Result<()> {
    sink.stage(
        "{bar:30} {pos}/{len} blocks, {msg} ({elapsed})",
        slots.iter().map(|s| s.blocks as u64).sum(),
    );
    let fresh = round_thread(ctx);
    // The blocked side of each experiment, the part a round's thread
    // takes (an experiment as a whole need not be Send).
    let mut blocked: Vec<Option<&mut dyn Blocked>> = list.iter_mut().map(|e| e.blocked()).collect();
    for (r, round) in rounds.iter().enumerate() {
        let at = (r + 1, rounds.len());
        let mut one = || run_round(&mut blocked, slots, round, at, ctx, reference, sink);
        let go_on = match fresh {
            Some(cpu) => on_fresh_thread(cpu, one)?,
            None => one()?,
        };
        if !go_on {
            return Ok(());
        }
    }
    Ok(())
}

/// The CPU to run each round on a thread of its own, or None to stay on
/// this one. A task can sit in a mode of its own for its whole life: on
/// the Zen 3 and Emerald Rapids guests a few percent of threads and
/// processes read the out-of-line syscall path 2.5-4.5% slower, not a
/// phase of the host, so no choice of blocks could see it
/// (results/checks/per-task-mode-20261201T0118.txt). A thread a round
/// puts such a task under one block of each id. Not where the timer
/// reads core cycles: rdpmc reads a counter perf opened for this thread.
fn round_thread(ctx: &Ctx) -> Option<u32> {
    (ctx.timer.kind() == crate::schema::TimerKind::Tsc).then_some(ctx.placement.victim_cpu)
}

/// Runs `f` on a new thread pinned to `cpu` and waits for it; a panic
/// there goes on here.
fn on_fresh_thread<T: Send>(cpu: u32, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    std::thread::scope(|sc| {
        sc.spawn(|| {
            let _pin = crate::placement::pin_current_thread(cpu)?;
            f()
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// One round of `rotate` (`at`: its number and the count). Ok(false)
/// when the run was interrupted.
fn run_round(
    blocked: &mut [Option<&mut dyn Blocked>],
    slots: &mut [Slot],
    round: &[usize],
    at: (usize, usize),
    ctx: &mut Ctx,
    reference: &mut Reference,
    sink: &mut Sink,
) -> Result<bool> {
    for &k in round {
        let s = &mut slots[k];
        if s.failed {
            continue;
        }
        sink.bar
            .set_message(format!("round {}/{}: {}", at.0, at.1, s.id));
        if let Err(e) = reference.block(ctx) {
            if ctx.cancelled() {
                sink.error("reference", e, ctx.cancelled());
                return Ok(false);
            }
            return Err(e.context("the drift reference loop failed"));
        }
        let Some(b) = blocked[s.i].as_deref_mut() else {
            continue;
        };
        let t0 = reference.seconds();
        match b.run_block(ctx) {
            Ok(()) => s.times.push((t0 + reference.seconds()) / 2.0),
            Err(e) => {
                // A block cut short by Ctrl-C is dropped; the id keeps
                // the blocks it took before.
                s.failed = !matches!(e.downcast_ref::<Stop>(), Some(Stop::Cancelled));
                sink.error(&s.id, e, ctx.cancelled());
                if sink.tally.interrupted {
                    return Ok(false);
                }
            }
        }
        sink.bar.inc(1);
    }
    Ok(true)
}

/// The long experiments, one stretch each, a reference block before
/// each and after the last; the file is written after each.
fn one_by_one(
    list: &mut [Box<dyn Experiment>],
    idx: &[usize],
    ctx: &mut Ctx,
    reference: &mut Reference,
    sink: &mut Sink,
) -> Result<()> {
    sink.stage("{bar:30} {pos}/{len} {msg} ({elapsed})", idx.len() as u64);
    for &i in idx {
        let exp = &mut list[i];
        let id = exp.id().to_string();
        sink.bar.set_message(id.clone());
        let r = reference.block(ctx).and_then(|()| exp.run(ctx));
        match r {
            Ok(e) => {
                sink.push(e);
                sink.save(reference)?;
            }
            Err(err) => sink.error(&id, err, ctx.cancelled()),
        }
        if sink.tally.interrupted {
            return Ok(());
        }
        sink.bar.inc(1);
    }
    if !idx.is_empty() {
        match reference.block(ctx) {
            Ok(()) => sink.save(reference)?,
            Err(e) => sink.error("reference", e, ctx.cancelled()),
        }
    }
    Ok(())
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).expect("static template")
}

/// The rounds of the rotation: `blocks[k]` blocks of id `k` spread over
/// as many rounds as the largest count (an id with fewer takes a block
/// in the rounds where `r * n / rounds` steps up), each round in random
/// order.
pub fn plan(blocks: &[usize], rng: &mut impl Rng) -> Vec<Vec<usize>> {
    let rounds = blocks.iter().copied().max().unwrap_or(0);
    (0..rounds)
        .map(|r| {
            let mut round: Vec<usize> = (0..blocks.len())
                .filter(|&k| (r + 1) * blocks[k] / rounds > r * blocks[k] / rounds)
                .collect();
            round.shuffle(rng);
            round
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_runs_on_a_new_thread_pinned_to_the_cpu_and_reports_back() {
        let cpu = *crate::placement::CpuLists::live()
            .unwrap()
            .online
            .last()
            .unwrap();
        let here = nix::unistd::gettid();
        let (tid, cpus) = on_fresh_thread(cpu, || {
            let set = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))?;
            let n = (0..nix::sched::CpuSet::count())
                .filter(|&c| set.is_set(c).unwrap_or(false))
                .collect::<Vec<_>>();
            Ok((nix::unistd::gettid(), n))
        })
        .unwrap();
        assert_ne!(tid, here);
        assert_eq!(cpus, [cpu as usize]);
        // Errors and panics come back to the caller.
        let e = on_fresh_thread(cpu, || -> Result<()> { anyhow::bail!("block failed") });
        assert_eq!(e.unwrap_err().to_string(), "block failed");
        let p =
            std::panic::catch_unwind(|| on_fresh_thread(cpu, || -> Result<()> { panic!("boom") }));
        assert!(p.is_err());
    }

    #[test]
    fn every_id_gets_its_blocks_spread_over_the_rounds() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let blocks = [32, 32, 20, 1];
        let rounds = plan(&blocks, &mut rng);
        assert_eq!(rounds.len(), 32);
        for (k, &n) in blocks.iter().enumerate() {
            let taken: Vec<usize> = (0..rounds.len())
                .filter(|&r| rounds[r].contains(&k))
                .collect();
            assert_eq!(taken.len(), n, "id {k}");
            // Spread: no two of the 20 blocks more than 2 rounds apart.
            assert!(taken.windows(2).all(|w| w[1] - w[0] <= 2), "{taken:?}");
        }
        // Random order: the first round is not always in list order.
        let orders: std::collections::BTreeSet<Vec<usize>> =
            rounds.iter().filter(|r| r.len() == 3).cloned().collect();
        assert!(orders.len() > 1, "{orders:?}");
        assert!(plan(&[], &mut rng).is_empty());
    }
}
