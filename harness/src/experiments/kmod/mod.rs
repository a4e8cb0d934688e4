//! Kernel-module experiments, used by `entrybench run` when /dev/entrybench
//! exists:
//!
//! - `flush.kernel.<variant>`: the module's in-kernel timed loop of one
//!   flush primitive (rdtsc_ordered around each flush, IRQs off);
//! - `entry.flush.<variant>[.next_entry][.w<N>]`: the emulated
//!   flush-on-entry, an ENTRY_FLUSH ioctl of that variant timed from user
//!   space at dispatch, or together with the next system call (getppid),
//!   optionally followed by a walk of N pages, with the same ioctl doing
//!   `nop` as the baseline (`entry_flush`);
//! - `entry.flush.series`: the row the series itself stands for (INVPCID
//!   type 2 with INVPCID, else CR4.PGE twice); the other variants are
//!   named alternatives (`report::model::ids::FlushVariant::semantics`);
//! - `entry.flush.deferred` / `entry.flush.deferred_marked`: the atomic
//!   check of Lutomirski's proposal (review text, not posted code) on every
//!   entry, alone and with a housekeeping CPU setting the victim's
//!   flush-pending bit at `DEFER_MARK_HZ`;
//! - `ipi.kmod.<method>`: kernel-side flush IPIs to the victim CPU (see
//!   `KmodInitiator`);
//! - `scenario.kmod.*`: the module's strategies in the head-to-head
//!   (`scenario`).
//!
//! A variant the CPU lacks is skipped with a note (the module answers
//! EOPNOTSUPP), never failed.

pub mod entry_flush;
pub mod scenario;

use crate::experiments::ipi::{Initiator, IpiExperiment, IrqRow};
use crate::experiments::record::{self, params};
use crate::experiments::{Ctx, Experiment, Stop};
use crate::kmod::abi::{self, Method, Variant};
use crate::kmod::device::{self, Device};
use crate::schema;
use anyhow::{Context, Result};
use entry_flush::EntryFlush;
use report::model::ids::{EntryTiming, ExperimentId, FlushVariant, Ipi, KmodIpi};

/// Samples per ioctl or chunk between cancel checks.
pub(super) const CHUNK: usize = 2_000;
/// Rate of the remote "flush pending" marks of `entry.flush.deferred_marked`.
pub const DEFER_MARK_HZ: u32 = 1000;

/// How much the kmod experiments measure.
#[derive(Debug, Clone)]
pub struct KmodConfig {
    /// Iterations of the in-kernel loop per variant.
    pub flush_iterations: usize,
    /// Timed ENTRY_FLUSH ioctls per variant (and as many nop ioctls).
    pub entry_samples: usize,
    pub entry_warmup: usize,
    /// Working sets walked after the entry; 0 = no walk.
    pub walk_pages: Vec<usize>,
}

impl KmodConfig {
    pub fn full() -> KmodConfig {
        KmodConfig {
            flush_iterations: 100_000,
            entry_samples: 50_000,
            entry_warmup: 1_000,
            walk_pages: vec![0, 64],
        }
    }
    pub fn quick() -> KmodConfig {
        KmodConfig {
            flush_iterations: 5_000,
            entry_samples: 2_000,
            entry_warmup: 100,
            walk_pages: vec![0, 64],
        }
    }
}

/// Both timings of every `entry.flush` row, dispatch first.
const TIMINGS: [EntryTiming; 2] = [EntryTiming::Dispatch, EntryTiming::NextEntry];

/// All kmod experiments, whether or not the device is there (`suite`
/// checks).
fn experiments(cfg: &KmodConfig) -> Vec<Box<dyn Experiment>> {
    let mut v: Vec<Box<dyn Experiment>> = Vec::new();
    for var in Variant::ALL {
        v.push(Box::new(FlushKernel {
            variant: var,
            iterations: cfg.flush_iterations,
        }));
    }
    let row = |variant, pages, mark_hz, timing| -> Box<dyn Experiment> {
        Box::new(EntryFlush {
            variant,
            pages,
            samples: cfg.entry_samples,
            warmup: cfg.entry_warmup,
            mark_hz,
            timing,
        })
    };
    for var in Variant::ALL.into_iter().filter(|v| *v != Variant::Nop) {
        for &pages in &cfg.walk_pages {
            for timing in TIMINGS {
                v.push(row(var, pages, None, timing));
            }
        }
    }
    for timing in TIMINGS {
        v.push(row(Variant::Deferred, 0, Some(DEFER_MARK_HZ), timing));
    }
    v
}

/// The variant as ids name it.
pub fn flush_variant(v: Variant) -> FlushVariant {
    match v {
        Variant::Nop => FlushVariant::Nop,
        Variant::Cr3Noflush => FlushVariant::Cr3Noflush,
        Variant::Cr3Flush => FlushVariant::Cr3Flush,
        Variant::Invpcid0 => FlushVariant::Invpcid0,
        Variant::Invpcid1 => FlushVariant::Invpcid1,
        Variant::Invpcid2 => FlushVariant::Invpcid2,
        Variant::Invpcid3 => FlushVariant::Invpcid3,
        Variant::Cr4Pge => FlushVariant::Cr4Pge,
        Variant::Invlpg => FlushVariant::Invlpg,
        Variant::Series => FlushVariant::Series,
        Variant::Deferred => FlushVariant::Deferred,
    }
}

/// The IPI a method sends, as `ipi.kmod.*` names it; None for DEFER_MARK,
/// which sends none.
pub fn kmod_ipi(m: Method) -> Option<KmodIpi> {
    match m {
        Method::FlushAll => Some(KmodIpi::FlushAll),
        Method::KernelRange => Some(KmodIpi::KernelRange),
        Method::SyncCore => Some(KmodIpi::SyncCore),
        Method::DeferMark => None,
    }
}

/// What a variant does, for the result's params.
pub(super) fn describe(v: Variant) -> &'static str {
    match v {
        Variant::Nop => "nothing (timer and loop overhead)",
        Variant::Cr3Noflush => "CR3 rewritten with bit 63 (NOFLUSH): same mm and PCID, no flush",
        Variant::Cr3Flush => "CR3 rewritten: flushes the current PCID's non-global entries",
        Variant::Invpcid0 => "INVPCID type 0: one address in the current PCID",
        Variant::Invpcid1 => "INVPCID type 1: the current PCID, not global entries",
        Variant::Invpcid2 => "INVPCID type 2: all PCIDs including global entries",
        Variant::Invpcid3 => "INVPCID type 3: all PCIDs except global entries",
        Variant::Cr4Pge => "CR4.PGE cleared and set again: everything including global entries",
        Variant::Invlpg => "INVLPG of one kernel address (read just before)",
        Variant::Series => "the series' flush: INVPCID type 2 with INVPCID, else CR4.PGE twice",
        Variant::Deferred => {
            "atomic fetch-and-clear of this CPU's state word; the series' flush if the \
             flush-pending bit was set (Lutomirski's proposal, not posted code)"
        }
    }
}

/// Params and notes that place a flush row relative to the series. The
/// PTI state the row was measured in goes with it: a series row measured
/// with PTI off is labelled `series_pti_off`, not `series` (the series'
/// flush runs only on the PTI entry path).
pub(super) fn series_context(info: &device::DeviceInfo, v: Variant, e: &mut schema::Experiment) {
    use abi::{F_INVPCID, F_PTI};
    let pti = info.has(F_PTI);
    let series = FlushVariant::of_series(info.has(F_INVPCID));
    let is_series = flush_variant(v) == series;
    let role = match v {
        Variant::Series | Variant::Deferred if pti => "series",
        _ if is_series && pti => "series",
        Variant::Series | Variant::Deferred => "series_pti_off",
        _ if is_series => "series_pti_off",
        Variant::Nop | Variant::Cr3Noflush => "control",
        _ => "alternative",
    };
    e.params.insert("role".into(), role.into());
    e.params.insert("series_flush".into(), series.name().into());
    e.params.insert("pti".into(), pti.into());
    e.params
        .insert("semantics".into(), flush_variant(v).semantics().into());
    if !pti {
        e.notes.push(
            "PTI is off: the series' flush would not run on this machine (it runs only \
             right after the CR3 switch of a PTI kernel entry)"
                .into(),
        );
    }
}

/// Opens the device and refuses (skip) a variant the CPU lacks.
pub(super) fn open_for(v: Variant) -> Result<Device> {
    let dev = Device::open()?;
    let info = dev.info()?;
    if !info.supports(v) {
        return Err(Stop::Skipped(format!(
            "{}: not supported by this CPU/kernel (module answers EOPNOTSUPP; needs {})",
            v.name(),
            if v == Variant::Cr3Noflush {
                "PCID with CR4.PCIDE"
            } else if v.needs_pcid_or_invpcid() {
                "INVPCID"
            } else if matches!(v, Variant::Series | Variant::Deferred) {
                "INVPCID or CR4.PGE"
            } else {
                "CR4.PGE"
            }
        ))
        .into());
    }
    Ok(dev)
}

/// Notes every kmod result carries.
pub(super) fn common_notes(ctx: &Ctx, e: &mut schema::Experiment) {
    if let Some(h) = &ctx.env.cpu.hypervisor {
        if h.contains("TCG") {
            e.notes.push(
                "emulated: QEMU TCG guest, CR3/CR4/INVLPG/IPIs are emulated in software; \
                 these cycles say nothing about hardware"
                    .to_string(),
            );
        } else {
            e.notes.push(format!(
                "measured in a guest (hypervisor {h}): CR3/CR4/INVPCID may exit to the host; \
                 not bare-metal figures"
            ));
        }
    }
}

/// `flush.kernel.<variant>`
pub struct FlushKernel {
    pub variant: Variant,
    pub iterations: usize,
}

impl Experiment for FlushKernel {
    fn id(&self) -> ExperimentId {
        ExperimentId::FlushKernel(flush_variant(self.variant))
    }

    fn run(&mut self, ctx: &mut Ctx) -> Result<schema::Experiment> {
        let dev = open_for(self.variant)?;
        let mut samples = Vec::with_capacity(self.iterations);
        let (mut chunks, mut overhead, mut cpus) = (0u64, u64::MAX, Vec::new());
        while samples.len() < self.iterations {
            ctx.check_cancel()?;
            let n = (self.iterations - samples.len()).min(CHUNK * 10) as u32;
            let r = dev.flush_timed(self.variant, n)?;
            chunks += u64::from(r.chunks);
            overhead = overhead.min(r.overhead);
            if !cpus.contains(&r.cpu) {
                cpus.push(r.cpu);
            }
            samples.extend(r.cycles.iter().map(|&c| c as i64));
        }
        // The kernel's own empty-region floor, not the user timer's.
        samples.iter_mut().for_each(|s| *s -= overhead as i64);
        let p = params([
            ("variant", self.variant.name().into()),
            ("operation", describe(self.variant).into()),
            ("iterations", self.iterations.into()),
            (
                "timer",
                "rdtsc_ordered in the kernel, IRQs and preemption off".into(),
            ),
            ("overhead_subtracted_cycles", overhead.into()),
            ("irq_off_chunks", chunks.into()),
            (
                "cpus",
                cpus.iter()
                    .map(|c| c.map_or(serde_json::Value::Null, Into::into))
                    .collect::<Vec<_>>()
                    .into(),
            ),
        ]);
        let mut e = record::measured(self.id(), "kmod", p, &mut samples);
        e.notes.push(
            "back-to-back flushes: the TLB is nearly empty, no refill cost is included".into(),
        );
        series_context(&dev.info()?, self.variant, &mut e);
        common_notes(ctx, &mut e);
        Ok(e)
    }
}

/// The /proc/interrupts row a method's IPI counts in.
pub fn interrupt_row(method: Method) -> IrqRow {
    match method {
        // All three go through smp_call_function: CAL (flush_all and the
        // kernel-range flush do not use the TLB-shootdown vector).
        Method::FlushAll | Method::KernelRange | Method::SyncCore => IrqRow::Cal,
        // No interrupt at all; the row is never read (not an ipi.kmod id).
        Method::DeferMark => IrqRow::Cal,
    }
}

/// `ipi.kmod.<method>` initiator: each `fire` is one GLOBAL_FLUSH ioctl
/// (count 1) targeting the victim CPU, so the shared victim/initiator loop
/// of `experiments::ipi` sees one kernel-side flush IPI per call.
pub struct KmodInitiator {
    dev: Device,
    method: Method,
    arg: abi::GlobalFlush,
}

impl KmodInitiator {
    /// Built on the victim thread: the current CPU is the target.
    pub fn new(method: Method) -> Result<KmodInitiator> {
        // SAFETY: sched_getcpu has no preconditions.
        let cpu = unsafe { libc::sched_getcpu() };
        let victim = u32::try_from(cpu).context("sched_getcpu failed")?;
        let dev = Device::open()?;
        let arg = abi::GlobalFlush {
            method: method as u32,
            count: 1,
            pages: 1,
            cpumask: abi::cpumask(&[victim])?,
            ..Default::default()
        };
        Ok(KmodInitiator { dev, method, arg })
    }
}

impl Initiator for KmodInitiator {
    fn method(&self) -> String {
        self.method.name().to_string()
    }
    fn row(&self) -> IrqRow {
        interrupt_row(self.method)
    }
    fn describe(&self) -> String {
        match self.method {
            Method::FlushAll => {
                "module: on_each_cpu_mask(victim, full flush: INVPCID type 2, else CR4.PGE twice)"
            }
            Method::KernelRange => {
                "module: vfree of a 1-page vmalloc area + vm_unmap_aliases (after a drain): \
                 flush_tlb_kernel_range IPI to every online CPU"
            }
            Method::SyncCore => {
                "module: on_each_cpu_mask(victim, sync_core), as text patching does"
            }
            Method::DeferMark => "module: sets the victim's flush-pending bit (no IPI)",
        }
        .to_string()
    }
    #[inline(always)]
    fn fire(&mut self) -> Result<()> {
        let mut a = self.arg;
        // SAFETY: `a` is a valid GlobalFlush with no cycles buffer.
        unsafe { abi::ioc_global_flush(self.dev.raw_fd(), &mut a) }
            .with_context(|| format!("GLOBAL_FLUSH {}", self.method.name()))?;
        Ok(())
    }
}

/// The kmod backend for `experiments::suite::BACKENDS`: empty without
/// /dev/entrybench.
pub fn suite(cfg: &crate::experiments::SuiteConfig) -> Vec<Box<dyn Experiment>> {
    if !device::available() {
        return Vec::new();
    }
    suite_when_loaded(cfg)
}

/// The module's experiments as they would be with the module loaded: what
/// `--only` could select after `entrybench kmod load`.
pub fn suite_when_loaded(cfg: &crate::experiments::SuiteConfig) -> Vec<Box<dyn Experiment>> {
    let kc = if cfg.quick {
        KmodConfig::quick()
    } else {
        KmodConfig::full()
    };
    let mut v = experiments(&kc);
    for m in Method::ALL {
        let Some(ipi) = kmod_ipi(m) else { continue };
        v.push(Box::new(IpiExperiment::new(
            Ipi::Kmod(ipi),
            Box::new(move || Ok(Box::new(KmodInitiator::new(m)?) as Box<dyn Initiator>)),
        )));
    }
    v.extend(scenario::all());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_semantics_and_a_table_rank() {
        for v in Variant::ALL {
            let f = flush_variant(v);
            assert_ne!(f.semantics(), "unknown variant", "{}", v.name());
            assert!(f.rank() < FlushVariant::KNOWN.len(), "{}", v.name());
            // The module's name for it is the id's.
            assert_eq!(f.name(), v.name());
        }
        assert_eq!(FlushVariant::of_series(true).name(), "invpcid2");
        assert_eq!(FlushVariant::of_series(false).name(), "cr4_pge");
    }

    #[test]
    fn marks_send_no_ipi() {
        assert!(!Method::DeferMark.sends_ipi());
        assert_eq!(Method::ALL.iter().filter(|m| m.sends_ipi()).count(), 3);
        for m in Method::ALL {
            assert_eq!(kmod_ipi(m).is_some(), m.sends_ipi(), "{}", m.name());
            assert!(kmod_ipi(m).is_none_or(|i| i.name() == m.name()));
        }
    }
}
