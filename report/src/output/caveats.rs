//! The environment facts a reader must know before trusting a figure:
//! guest vs bare metal, emulation, PTI, isolation, the timer, partial runs.
//! Each is one sentence so it can be pasted under a table.

use crate::model::ids::{self, ExperimentId, Ipi};
use crate::model::machine::Machine;
use crate::model::schema::{Experiment, TimerInfo, TimerKind};
use crate::model::units;

/// Caveats for one machine, most important first.
pub fn for_machine(m: &Machine) -> Vec<String> {
    let mut out = Vec::new();
    let latest = m.latest();
    let cpu = m.cpu();
    match cpu.hypervisor.as_deref() {
        Some("TCG") => out.push("QEMU TCG emulation: not hardware timing; no figure here says anything about a real CPU.".into()),
        Some(h) if !h.is_empty() => out.push(format!(
            "{h} guest: paravirt TLB flush may skip preempted vCPUs (the host flushes them on re-entry), so guest IPI counts and costs differ from bare metal."
        )),
        _ => {}
    }
    let emulated = m
        .experiments
        .values()
        .any(|e| matches!(e.id, ExperimentId::EntryFlush { .. }));
    let facts = crate::output::size::machine_facts(m);
    let v7 =
        crate::model::kernel_rules::series(&crate::model::kernel_rules::flushing_posting(), &facts);
    match m.pti() {
        // v7 31/31: COALESCE_TLBI "depends on ... MITIGATION_PAGE_TABLE_ISOLATION";
        // the full reason and sources: `entrybench detect`, `size --explain`.
        Some(false) if matches!(v7, crate::model::kernel_rules::Runs::IfPtiOn(_)) => {
            out.push(format!(
                "PTI off: the series (v6/v7) defers no TLB-flush IPI here; it needs PTI (COALESCE_TLBI, v7 31/31){}.",
                if emulated { "; entry.flush rows emulate what its flush would cost" } else { "" }
            ))
        }
        Some(false) => {}
        Some(true) => {}
        None => out.push("PTI state unknown (no platform facts).".into()),
    }
    if m.files.iter().any(|f| !f.placement.victim_isolated) {
        let note = &latest.placement.note;
        out.push(format!(
            "Victim CPU {} not isolated: interruptions include scheduler and timer noise{}.",
            latest.placement.victim_cpu,
            if note.is_empty() {
                String::new()
            } else {
                format!(" ({note})")
            }
        ));
    }
    if let Some(why) = m.files.iter().find_map(|f| f.old_method()) {
        out.push(format!("Version-1 result file, {why}."));
    }
    out.push(timer_caveat(&latest.timer));
    let partial = m.files.iter().filter(|f| f.partial).count();
    if partial > 0 {
        out.push(format!(
            "Partial run ({partial} of {} files): only experiments that completed are shown.",
            m.files.len()
        ));
    }
    if m.files.len() > 1 {
        out.push(format!(
            "{} result files: the newest figure of each experiment is shown.",
            m.files.len()
        ));
    }
    if cpu.features.invlpgb {
        out.push(crate::model::kernel_rules::sentence(
            "INVLPGB",
            &crate::model::kernel_rules::invlpgb(&facts),
        ));
    }
    let kmod = m.experiments.values().any(|e| {
        matches!(
            e.id,
            ExperimentId::FlushKernel(_)
                | ExperimentId::EntryFlush { .. }
                | ExperimentId::Ipi(Ipi::Kmod(_))
        )
    });
    if !kmod {
        out.push(
            "No kernel-module results: flush.kernel, entry.flush and ipi.kmod not measured.".into(),
        );
    }
    for e in m.experiments.values() {
        if let (ExperimentId::Ipi(..), Some(ipi)) = (ids::kind(e), &e.ipi) {
            if let Some(why) = seen_caveat(ipi.seen_ratio) {
                out.push(format!(
                    "{}: victim saw {:.2}% of the interrupts /proc/interrupts counted ({why}).",
                    e.id,
                    ipi.seen_ratio * 100.0
                ));
            }
            match (ipi.false_match_rate, &ipi.burst) {
                (Some(f), Some(b)) => out.push(format!(
                    "{}: false_match_rate {:.1}%: that share of the control's windows (the same lengths, no toggle) held a victim gap; per window the control saw {:.1} gaps against {:.1} per toggle, so a toggle's figures are its burst, not background (ctl us in the table).",
                    e.id,
                    f * 100.0,
                    b.control_gaps_per_event,
                    b.gaps_per_event
                )),
                (Some(f), None) if e.false_matches_traced() => out.push(format!(
                    "{}: false_match_rate {:.2}%: in a check phase traced by the kernel, that share of the gaps the timing rule claimed held no event of the IPI's function.",
                    e.id,
                    f * 100.0
                )),
                (Some(f), None) => out.push(format!(
                    "{}: false_match_rate {:.1}%: the attribution control (no-IPI windows as long as the calls) matched that share of its windows with a victim gap.",
                    e.id,
                    f * 100.0
                )),
                _ => {}
            }
        }
    }
    out.extend(shared_notes(m.experiments.values().copied()));
    out
}

/// What the timer counted and how ns were made: time from the TSC only;
/// core cycles (rdpmc) are shown as cycles.
fn timer_caveat(t: &TimerInfo) -> String {
    let rate = format!(
        "{} ({})",
        units::ghz(t.tsc_hz),
        if t.tsc_hz_source.is_empty() {
            "source unknown"
        } else {
            &t.tsc_hz_source
        }
    );
    match t.kind {
        TimerKind::Tsc => format!(
            "Timer: tsc, overhead {} cycles subtracted from every sample; ns at {rate}.",
            units::num(t.overhead_cycles)
        ),
        TimerKind::TscAndRdpmc => format!(
            "Timer: TSC for time (ns at {rate}), core cycles (rdpmc) of the same regions beside it, shown as cycles and never converted to ns; overhead {} TSC and {} core cycles subtracted.",
            units::num(t.overhead_cycles),
            t.core_overhead_cycles.map_or("-".into(), units::num)
        ),
        TimerKind::Rdpmc => format!(
            "Timer: rdpmc core cycles (an older result file): figures timed with it are core cycles and have no ns (the core clock is not the TSC's); ipi.* and flush.kernel.* are TSC cycles, ns at {rate}. Overhead {} cycles subtracted.",
            units::num(t.overhead_cycles)
        ),
    }
}

/// Each distinct experiment note once, with the ids it applies to (none
/// when it applies to all): run-wide facts such as the timer's resolution
/// would otherwise repeat once per experiment.
fn shared_notes<'a>(experiments: impl Iterator<Item = &'a Experiment>) -> Vec<String> {
    let mut total = 0;
    let mut by_note: Vec<(&str, Vec<String>)> = Vec::new();
    for e in experiments {
        total += 1;
        for n in &e.notes {
            match by_note.iter_mut().find(|(text, _)| *text == n.as_str()) {
                Some((_, ids)) => ids.push(e.id.to_string()),
                None => by_note.push((n, vec![e.id.to_string()])),
            }
        }
    }
    by_note
        .into_iter()
        .map(|(note, ids)| {
            if ids.len() == total && total > 1 {
                note.to_string()
            } else {
                format!("{}: {note}", ids.join(", "))
            }
        })
        .collect()
}

/// Why a seen ratio needs a caveat, if it does. Under `SEEN_MIN` the
/// figures leave out IPIs the kernel counted (handled while the victim
/// thread was switched out, or shootdowns the run did not send); over
/// `SEEN_MAX` the victim's matches took in gaps that were not these IPIs.
fn seen_caveat(seen: f64) -> Option<String> {
    if !seen.is_finite() {
        return None;
    }
    if seen < crate::model::schema::IpiStats::SEEN_MIN {
        Some(format!(
            "under {:.0}%: the rest are in no figure",
            crate::model::schema::IpiStats::SEEN_MIN * 100.0
        ))
    } else if seen > crate::model::schema::IpiStats::SEEN_MAX {
        Some(format!(
            "over {:.0}%: some matches were not these IPIs",
            crate::model::schema::IpiStats::SEEN_MAX * 100.0
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_notes(id: &str, notes: &[&str]) -> Experiment {
        Experiment {
            id: id.into(),
            backend: "user".into(),
            params: Default::default(),
            summary: Default::default(),
            samples: Default::default(),
            baseline: None,
            ipi: None,
            notes: notes.iter().map(|n| n.to_string()).collect(),
            blocks: None,
            clock: Default::default(),
            core_cycles: None,
            scenario: None,
        }
    }

    #[test]
    fn a_seen_ratio_under_the_bar_or_far_over_is_a_caveat() {
        assert!(seen_caveat(0.985).unwrap().contains("under 99%"));
        assert_eq!(seen_caveat(0.99), None);
        assert_eq!(seen_caveat(1.0003), None);
        assert!(seen_caveat(1.2).unwrap().contains("over 110%"));
        assert_eq!(seen_caveat(f64::NAN), None);
    }

    #[test]
    fn run_wide_notes_print_once_and_others_name_their_ids() {
        let es = [
            with_notes("entry.null", &["timer: TSC", "only null"]),
            with_notes("entry.getpid", &["timer: TSC"]),
            with_notes("refill.w1", &["timer: TSC", "PTI off"]),
            with_notes("refill.w16", &["timer: TSC", "PTI off"]),
        ];
        assert_eq!(
            shared_notes(es.iter()),
            vec![
                "timer: TSC".to_string(),
                "entry.null: only null".to_string(),
                "refill.w1, refill.w16: PTI off".to_string(),
            ]
        );
    }
}
