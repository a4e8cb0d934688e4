//! `scenario.kmod.*`: the module's strategies in the head-to-head
//! (`experiments::scenario`), the same victim loop as every other
//! scenario:
//!
//! - `scenario.kmod.kernel_range`, `scenario.kmod.flush_all`: flush IPIs
//!   from the module, one per event (`KmodInitiator`, as `ipi.kmod.*`).
//! - `scenario.kmod.on_entry.<variant>`: nothing fires; in the triggered
//!   chunks the victim's system call is the module's ENTRY_FLUSH of that
//!   variant, so every entry flushes, and in the baseline chunks the same
//!   ioctl doing `nop`. Emulated: the flush runs at ioctl dispatch, not
//!   right after the CR3 switch of the entry as in the series.
//! - `scenario.kmod.deferred`: Lutomirski's proposal (review text, not
//!   posted code): the initiator sets the victim's flush-pending bit
//!   through the module (GLOBAL_FLUSH of DEFER_MARK, no IPI); the victim's
//!   entry is ENTRY_FLUSH(deferred), an atomic fetch-and-clear of its
//!   state word and the series' flush when the bit was set; baseline
//!   chunks make the nop ioctl. The flush lands on the first entry after
//!   the mark, which may begin after the event's window: one more
//!   iteration counts as overlapping each event.

use super::{common_notes, open_for, series_context, KmodInitiator};
use crate::experiments::ipi::{Factory, Initiator};
use crate::experiments::scenario::{
    CallCounts, CallFactory, EntryCall, Finish, ScenarioExperiment, Trigger, VictimCall,
};
use crate::experiments::Experiment;
use crate::kmod::abi::{Method, Variant};
use crate::kmod::device::Device;
use anyhow::Context;
use report::model::ids;

/// The flush variants of `scenario.kmod.on_entry.*`: the series' own
/// flush (INVPCID type 2, else CR4.PGE twice), and a CR3 reload, which
/// keeps global translations (and under PTI the user PCID's).
pub const ON_ENTRY_VARIANTS: [Variant; 2] = [Variant::Series, Variant::Cr3Flush];

/// The module's IPI methods the scenarios fire.
const IPI_METHODS: [Method; 2] = [Method::KernelRange, Method::FlushAll];

/// One ENTRY_FLUSH of `variant` per call, counted.
struct KmodCall {
    dev: Device,
    variant: Variant,
    counts: CallCounts,
}

impl KmodCall {
    /// Every call of these flushes; `deferred` says when it did.
    fn always_flushes(v: Variant) -> bool {
        !matches!(v, Variant::Nop | Variant::Cr3Noflush | Variant::Deferred)
    }
}

impl EntryCall for KmodCall {
    fn describe(&self) -> String {
        format!(
            "ENTRY_FLUSH({}) ioctl of /dev/entrybench",
            self.variant.name()
        )
    }

    #[inline(always)]
    fn call(&mut self) {
        self.counts.calls += 1;
        match self.dev.entry_flush(self.variant) {
            Ok(f) => self.counts.flushed += u64::from(f || Self::always_flushes(self.variant)),
            Err(_) => self.counts.failed += 1,
        }
    }

    fn counts(&self) -> CallCounts {
        self.counts
    }
}

/// A fresh ENTRY_FLUSH caller of `v` for each side of each run (a variant
/// the CPU lacks: skipped). The first call outside the loop also
/// consumes a pending bit an earlier experiment left set.
fn entry_call(v: Variant) -> VictimCall {
    let make: CallFactory = Box::new(move || {
        let dev = open_for(v)?;
        dev.entry_flush(v)
            .with_context(|| format!("first ENTRY_FLUSH {}", v.name()))?;
        Ok(Box::new(KmodCall {
            dev,
            variant: v,
            counts: CallCounts::default(),
        }) as Box<dyn EntryCall>)
    });
    VictimCall::Custom(make)
}

fn initiator(m: Method) -> Factory {
    Box::new(move || Ok(Box::new(KmodInitiator::new(m)?) as Box<dyn Initiator>))
}

/// The notes every kmod scenario carries, and for the entry strategies
/// (`variant`), where the row stands relative to the series and how it
/// is emulated.
fn finish(variant: Option<Variant>) -> Finish {
    Box::new(move |ctx, e| {
        if let Some(v) = variant {
            series_context(&Device::open()?.info()?, v, e);
            e.notes.push(entry_note(v));
        }
        common_notes(ctx, e);
        Ok(())
    })
}

/// How an entry strategy's row is emulated.
fn entry_note(v: Variant) -> String {
    let how = "emulated: the victim's system call is the module's ENTRY_FLUSH ioctl (the nop \
               ioctl in the baseline chunks), and its flush runs at ioctl dispatch, after the \
               entry code ran, not right after the CR3 switch of the entry as in the series";
    if v == Variant::Deferred {
        format!(
            "Lutomirski's proposal ({}), review text, not posted code: the initiator sets the \
             victim's flush-pending bit (no IPI) and the victim's next entry flushes; {how}",
            report::model::kernel_rules::src::LUTO_PROPOSAL
        )
    } else {
        format!("every entry flushes ({}); {how}", v.name())
    }
}

/// Every `scenario.kmod.*` id, in suite order.
pub fn all() -> Vec<Box<dyn Experiment>> {
    let mut v: Vec<Box<dyn Experiment>> = Vec::new();
    for m in IPI_METHODS {
        let Some(ipi) = super::kmod_ipi(m) else {
            continue;
        };
        let t = Trigger::new(ids::Trigger::Ipi(ids::Ipi::Kmod(ipi)), initiator(m));
        v.push(Box::new(
            ScenarioExperiment::triggered(t).with_finish(finish(None)),
        ));
    }
    for var in ON_ENTRY_VARIANTS {
        let t = Trigger::victim_only(ids::Trigger::OnEntry(super::flush_variant(var)));
        v.push(Box::new(
            ScenarioExperiment::triggered(t)
                .with_call(entry_call(var))
                .with_baseline_call(entry_call(Variant::Nop))
                .with_finish(finish(Some(var))),
        ));
    }
    let t = Trigger::new(ids::Trigger::Deferred, initiator(Method::DeferMark));
    v.push(Box::new(
        ScenarioExperiment::triggered(t)
            .with_call(entry_call(Variant::Deferred))
            .with_baseline_call(entry_call(Variant::Nop))
            .with_trail(1)
            .with_finish(finish(Some(Variant::Deferred))),
    ));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_suite_order() {
        let ids: Vec<String> = all().iter().map(|e| e.id().to_string()).collect();
        assert_eq!(
            ids,
            [
                "scenario.kmod.kernel_range",
                "scenario.kmod.flush_all",
                "scenario.kmod.on_entry.series",
                "scenario.kmod.on_entry.cr3_flush",
                "scenario.kmod.deferred",
            ]
        );
        // The VM tests run and check exactly these (scripts/lib.sh), and
        // without the module `run --list` cannot tell them.
        let lib = include_str!("../../../../scripts/lib.sh");
        let listed: Vec<&str> = lib
            .lines()
            .find_map(|l| l.strip_prefix("SCENARIO_KMOD_IDS=\""))
            .expect("SCENARIO_KMOD_IDS in scripts/lib.sh")
            .trim_end_matches('"')
            .split_whitespace()
            .collect();
        assert_eq!(listed, ids);
        use report::output::scenario::Strategy;
        for e in all() {
            let id = e.id();
            let t = id.trigger().unwrap();
            let s = Strategy::of_trigger(&t.clone().into());
            match t {
                ids::Trigger::Deferred => assert_eq!(s, Strategy::Deferred),
                ids::Trigger::OnEntry(_) => assert!(matches!(s, Strategy::OnEntry(_))),
                _ => assert!(matches!(s, Strategy::Ipi(..))),
            }
        }
    }

    #[test]
    fn flush_counting_and_notes() {
        assert!(KmodCall::always_flushes(Variant::Series));
        assert!(!KmodCall::always_flushes(Variant::Nop));
        assert!(!KmodCall::always_flushes(Variant::Deferred));
        assert!(entry_note(Variant::Deferred).contains("not posted code"));
        assert!(entry_note(Variant::Series).contains("emulated"));
    }
}
