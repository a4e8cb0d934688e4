//! Random ioctls against /dev/entrybench with an oracle (`calls`), one
//! caller at a time (`run`), and what users do at once (`race`): threads
//! sharing one fd, a thread stopping guessed generator ids, signals during
//! long calls, dup, fork, close during a long call, every generator at the
//! maximum rate.

pub mod calls;
pub mod faults;
pub mod race;
mod rng;

use crate::kmod::device::Device;
use anyhow::{bail, Context, Result};
use calls::{Ctx, Others};
use nix::errno::Errno;
use rng::Rng;
use std::collections::BTreeMap;

/// What a fuzz run did.
#[derive(Debug, Default, Clone)]
pub struct FuzzReport {
    pub calls: u64,
    /// Outcome ("ok" or errno name) -> count.
    pub outcomes: BTreeMap<String, u64>,
    /// With allocation failures: the generators' flushes that could not
    /// allocate (counted by their STOPs).
    pub gen_alloc_failures: u64,
    /// With allocation failures: the generator threads marked to fail.
    pub gens_marked: u64,
}

impl FuzzReport {
    pub fn outcomes_line(&self) -> String {
        self.outcomes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Adds another run's counts to this one.
    pub fn merge(&mut self, other: &FuzzReport) {
        self.calls += other.calls;
        self.gen_alloc_failures += other.gen_alloc_failures;
        self.gens_marked += other.gens_marked;
        for (k, v) in &other.outcomes {
            *self.outcomes.entry(k.clone()).or_default() += v;
        }
    }

    fn count(&mut self, outcome: &Result<(), Errno>) {
        self.calls += 1;
        *self.outcomes.entry(calls::name(outcome)).or_default() += 1;
    }
}

/// A PROT_NONE page of ours, unmapped on drop: the "no access" pointer.
pub(crate) struct NoAccessPage(*mut libc::c_void);

impl NoAccessPage {
    pub(crate) fn new() -> Result<NoAccessPage> {
        // SAFETY: a fresh anonymous PROT_NONE mapping; never dereferenced here.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            bail!("mmap PROT_NONE: {}", Errno::last());
        }
        Ok(NoAccessPage(p))
    }
    pub(crate) fn addr(&self) -> u64 {
        self.0 as u64
    }
}

impl Drop for NoAccessPage {
    fn drop(&mut self) {
        // SAFETY: unmapping the mapping made in `new`.
        unsafe { libc::munmap(self.0, 4096) };
    }
}

/// `count` random calls on `dev` with seed `seed`, each checked against
/// the oracle widened by `others`. Stops every generator it started.
pub fn run_with(dev: &Device, count: u64, seed: u64, others: Others) -> Result<FuzzReport> {
    let info = dev.info()?.raw;
    let page = NoAccessPage::new()?;
    let mut cx = Ctx::new(dev, info, page.addr(), others);
    let mut rng = Rng::new(seed);
    let mut rep = FuzzReport::default();
    let mut result = Ok(());
    for i in 0..count {
        let call = calls::one(&mut cx, &mut rng);
        rep.count(&call.got);
        if faults::failed() {
            result = Err(anyhow::anyhow!(
                "fuzz call {i}: a write of /proc/thread-self/make-it-fail failed: the thread \
                 may have stayed marked"
            ));
            break;
        }
        // With allocation failures, each generator we start is marked.
        if let (true, Some(id)) = (others.alloc_failures, call.started) {
            match faults::mark_generator(id) {
                Ok(m) => rep.gens_marked += u64::from(m),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if !call.accepted_with(&others) {
            result = Err(anyhow::anyhow!(
                "fuzz call {i} (seed {seed}): {}: got {}, expected {}{}",
                call.what,
                calls::name(&call.got),
                calls::name(&call.want),
                if call.also.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (or {})",
                        call.also
                            .iter()
                            .map(calls::name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ));
            break;
        }
    }
    // Stop what we started, whatever happened.
    rep.calls += cx.stop_all();
    rep.gen_alloc_failures = cx.gen_alloc_failures;
    result?;
    Ok(rep)
}

/// `shared`: other processes fuzz the device at the same time, so the
/// global generator limit may be reached by their generators: EBUSY is
/// then also accepted where this process alone would have succeeded.
///
/// `alloc_failures`: the kernel's fault injection is set up (scripts/vm/
/// init) and this thread is marked around each ioctl (`faults`); the
/// device must still work once the marking ends.
pub fn run(
    dev: &Device,
    count: u64,
    seed: u64,
    shared: bool,
    alloc_failures: bool,
) -> Result<FuzzReport> {
    let others = Others {
        start_generators: shared,
        alloc_failures,
        ..Others::default()
    };
    let marking = alloc_failures.then(faults::Marking::start).transpose()?;
    let rep = run_with(dev, count, seed, others);
    drop(marking);
    let mut rep = rep?;
    if alloc_failures {
        failing_generator(dev, &mut rep)?;
    }
    // The device must still work.
    dev.entry_flush(crate::kmod::abi::Variant::Nop)
        .context("ENTRY_FLUSH nop after fuzzing")?;
    dev.info().context("INFO after fuzzing")?;
    rep.calls += 2;
    Ok(rep)
}

/// One kernel_range generator marked for its whole run, 300 ms at 1 kHz:
/// at one failure in five allocations its vmallocs almost surely meet
/// some (the fuzzed ones are often stopped, or of another method, before
/// they flush).
fn failing_generator(dev: &Device, rep: &mut FuzzReport) -> Result<()> {
    use crate::kmod::abi::Method;
    use crate::kmod::device::GeneratorSpec;
    let online = dev.info()?.online_cpus();
    let target = *online.last().context("no online CPU in INFO")?;
    let spec = GeneratorSpec {
        method: Method::KernelRange,
        rate_hz: 1000,
        duration_ms: 0,
        pages: 1,
        initiator_cpu: None,
        targets: vec![target],
        detach: false,
    };
    let h = dev.generator_start(&spec)?;
    let marked = faults::mark_generator(h.id);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let stats = dev.generator_stop(h)?;
    rep.gens_marked += u64::from(marked?);
    rep.gen_alloc_failures += stats.alloc_failures;
    rep.calls += 2;
    Ok(())
}
