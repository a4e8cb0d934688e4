//! Experiment ids and how each is measured.
//!
//! An experiment is one stable id of docs/design.md (`entry.null`,
//! `refill.w64`, `ipi.user.mprotect` ...) and the code that measures it
//! into one `schema::Experiment`. `run` drives a list of them; it knows
//! nothing about any particular one.
//!
//! # Adding experiments from a backend (e.g. the kernel module)
//!
//! 1. Implement [`Experiment`] for a type per experiment (or one type with
//!    an id field). `run` gets a [`Ctx`]: the environment, the timer, the
//!    placement (the calling thread is already pinned to
//!    `placement.victim_cpu`, memory locked), the suite configuration and
//!    the cancel flag. Time with the run's clock:
//!    `crate::with_clock!(ctx.timer, c => workloads::entry::sample_with(c, warmup, &mut buf, || op()))`,
//!    subtract `ctx.timer.subtract_overhead`, and build the result with
//!    [`record::measured`] (plus [`record::with_baseline`] for
//!    differential ids such as `entry.flush.<variant>` against `nop`).
//!    Check [`Ctx::check_cancel`] between chunks of work so Ctrl-C stops
//!    an experiment within a fraction of a second; return
//!    `Err(Stop::Skipped(why).into())` when it cannot run here (the run
//!    warns and goes on) and `Err(Stop::Cancelled.into())` when cancelled.
//! 2. IPI experiments (`ipi.kmod.<method>`) do not need their own loop:
//!    implement [`ipi::Initiator`] (one `fire` = one IPI-producing call,
//!    plus the /proc/interrupts row it counts in) and wrap a factory in
//!    [`ipi::IpiExperiment::new`]; the victim spin, calibration,
//!    interrupt-count deltas and matching are shared.
//! 3. Short loops that can be measured in self-contained blocks also
//!    implement [`Blocked`] and return it from [`Experiment::blocked`]:
//!    `run` then interleaves their blocks with those of the other such
//!    experiments across the run (`crate::schedule`), so a slow phase of
//!    the host lands a little on every id instead of wholly on one.
//!    Long experiments (ipi.*, the kernel module's) run in one stretch.
//! 4. Register a function `fn(&SuiteConfig) -> Vec<Box<dyn Experiment>>`
//!    in [`suite::BACKENDS`]. It returns an empty list when its backend is
//!    not available (no /dev/entrybench), so `run` on a machine without it
//!    behaves as before.

pub mod deferred;
pub mod entry;
pub mod ipi;
pub mod ipi_blocks;
pub mod ipi_check;
pub mod ipi_control_fit;
pub mod ipi_dump;
pub mod ipi_fit;
pub mod ipi_label;
pub mod ipi_match;
pub mod ipi_outcome;
pub mod ipi_pace;
pub mod ipi_record;
pub mod kmod;
pub mod record;
pub mod reference;
pub mod refill;
pub mod scenario;
pub mod scenario_args;
mod scenario_figures;
pub mod suite;
pub mod text_poke;

use crate::schema::{self, Environment, ExperimentId, Placement};
use crate::timer::Timer;
use std::sync::atomic::{AtomicBool, Ordering};

pub use suite::SuiteConfig;

/// One experiment id and how to measure it.
pub trait Experiment {
    /// Stable id (docs/design.md), e.g. "entry.null".
    fn id(&self) -> ExperimentId;
    /// Measures on the pinned victim thread. Errors: [`Stop`] for skip and
    /// cancel, anything else is a failure of this experiment.
    fn run(&mut self, ctx: &mut Ctx) -> anyhow::Result<schema::Experiment>;
    /// The block-by-block form of this experiment, when the run may
    /// interleave its blocks with other experiments' (see [`Blocked`]).
    /// None: it runs in one stretch.
    fn blocked(&mut self) -> Option<&mut dyn Blocked> {
        None
    }
}

/// An experiment measured as a number of self-contained blocks, each
/// reduced to one median, which the run interleaves with other
/// experiments' blocks. Block `i` is always the `i`-th block taken and
/// the `i`-th of the result's `Blocks::medians`.
/// `Send`: the interleaved rounds run on threads of their own
/// (`schedule::round_thread`).
pub trait Blocked: Send {
    /// Untimed set-up before any block (memory, buffers, the batch
    /// choice), on the victim thread. Returns the number of blocks.
    /// `Err(Stop::Skipped)` when it cannot run here.
    fn prepare(&mut self, ctx: &mut Ctx) -> anyhow::Result<usize>;
    /// Times the next block (warm-up included: the block before it may
    /// have been another experiment's).
    fn run_block(&mut self, ctx: &mut Ctx) -> anyhow::Result<()>;
    /// The result from the blocks taken so far: all of them, or at least
    /// two when the run was interrupted. Releases what `prepare` set up.
    fn finish(&mut self, ctx: &mut Ctx) -> anyhow::Result<schema::Experiment>;
}

/// A [`Blocked`] experiment on its own: every block back to back.
pub fn run_blocks(b: &mut dyn Blocked, ctx: &mut Ctx) -> anyhow::Result<schema::Experiment> {
    let n = b.prepare(ctx)?;
    for _ in 0..n {
        b.run_block(ctx)?;
    }
    b.finish(ctx)
}

/// For `Blocked::finish`: the state `prepare` made (an error if there is
/// none), or `Err(Stop::Cancelled)` when `done` says no block was taken.
pub(crate) fn taken<S>(state: &mut Option<S>, done: impl Fn(&S) -> usize) -> anyhow::Result<S> {
    use anyhow::Context as _;
    let s = state.take().context("finish before prepare")?;
    if done(&s) == 0 {
        return Err(Stop::Cancelled.into());
    }
    Ok(s)
}

/// `Experiment::run` and `Experiment::blocked` of a type that is
/// [`Blocked`]: alone its blocks run back to back, in a suite the run
/// interleaves them. Written inside `impl Experiment for T`.
macro_rules! run_as_blocks {
    () => {
        fn run(
            &mut self,
            ctx: &mut $crate::experiments::Ctx,
        ) -> anyhow::Result<$crate::schema::Experiment> {
            $crate::experiments::run_blocks(self, ctx)
        }

        fn blocked(&mut self) -> Option<&mut dyn $crate::experiments::Blocked> {
            Some(self)
        }
    };
}
pub(crate) use run_as_blocks;

/// What an experiment gets to run with.
pub struct Ctx<'a> {
    pub env: &'a Environment,
    pub timer: &'a Timer,
    pub placement: &'a Placement,
    pub cfg: &'a SuiteConfig,
    /// Set by SIGINT/SIGTERM.
    pub cancel: &'a AtomicBool,
}

impl Ctx<'_> {
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// Err(Stop::Cancelled) once the run was interrupted.
    pub fn check_cancel(&self) -> anyhow::Result<()> {
        if self.cancelled() {
            Err(Stop::Cancelled.into())
        } else {
            Ok(())
        }
    }
}

/// Why an experiment ended without a result, other than failing.
#[derive(Debug, thiserror::Error)]
pub enum Stop {
    #[error("interrupted")]
    Cancelled,
    #[error("skipped: {0}")]
    Skipped(String),
}
