//! The report's IPI-class and burst tables: which IPI each `ipi.*` sends
//! and whether the series defers it (`ipi_class`), and the per-event
//! figures of `ipi.kernel.text_poke`, whose one call sends a burst.

use crate::model::ids::{self, ExperimentId, Ipi};
use crate::model::ipi_class;
use crate::model::machine::Machine;
use crate::model::units::{self, num};
use crate::output::text_table::{Align, Table};

/// "which IPI, deferred by the series?" for every ipi.* of a machine.
pub fn class_table(m: &Machine) -> Option<Table> {
    let mut t = Table::new(
        "IPI classes measured (deferred: by the IPI-deferral series v5-v7)",
        &["method", "IPI", "deferred"],
    );
    t.align[1] = Align::Left;
    let mut rows: Vec<Ipi> = m
        .experiments
        .values()
        .filter_map(|e| ids::kind(e).ipi())
        .collect();
    // The report's backend order: user, kernel, kmod.
    rows.sort_by_key(|i| {
        (
            ["user", "kernel", "kmod"]
                .iter()
                .position(|x| *x == i.backend()),
            i.method(),
        )
    });
    for i in rows {
        let c = ipi_class::class(i);
        t.push(vec![
            i.to_string(),
            c.name.to_string(),
            ipi_class::deferred_word(&c).to_string(),
        ]);
    }
    (!t.is_empty()).then_some(t)
}

/// Where the class table's answers come from, printed under it.
pub fn class_note(m: &Machine) -> Option<String> {
    class_table(m)?;
    Some(format!(
        "IPI classes: the series defers text patching (since v5; v7 25/31, lore {}) and \
         kernel-range flushes from vmalloc (v6/v7; v7 30/31, lore {}); user shootdowns, \
         membarrier and flush_tlb_all are not deferred.",
        ipi_class::V7_TEXT_PATCHING,
        ipi_class::V7_KERNEL_RANGE
    ))
}

/// Per patch event of the burst experiments (one toggle = one burst).
/// The last column is the control's lost time per window (same lengths,
/// no toggle): with windows of about a millisecond on a CPU that is not
/// isolated, most control windows hold some gap (a tick), so the
/// control's lost time, not its match rate, is what "lost us" stands
/// against (the false_match_rate is in the caveats).
pub fn burst_table(m: &Machine) -> Option<Table> {
    let hz = m.tsc_hz();
    // The victim of an ipi.* experiment reads the TSC (`e.tsc` says so).
    let us = |e: &crate::model::schema::Experiment, c: f64| {
        e.tsc(c)
            .and_then(|c| units::cycles_to_ns(c, hz))
            .map_or("-".into(), |n| num(n / 1000.0))
    };
    let mut t = Table::new(
        "Text patching: per patch event (a toggle sends a burst of IPIs; a burst's IPIs can merge into one gap; hit: toggles whose window held a victim gap; ctl us: lost per window of the same length without a toggle)",
        &["method", "events", "hit", "CAL/ev", "gaps/ev", "lost us", "us/IPI", "ctl us"],
    );
    for e in m.experiments.values() {
        let (ExperimentId::Ipi(i), Some(ipi)) = (ids::kind(e), e.ipi.as_ref()) else {
            continue;
        };
        let Some(x) = &ipi.burst else { continue };
        t.push(vec![
            i.to_string(),
            x.events.to_string(),
            units::pct(x.match_ratio * 100.0),
            num(x.cal_per_event),
            num(x.gaps_per_event),
            us(e, x.lost_per_event_cycles),
            us(e, x.lost_per_ipi_cycles),
            us(e, x.control_lost_per_event_cycles),
        ]);
    }
    (!t.is_empty()).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::schema::BurstStats;
    use crate::output::export::{Exporter, Text};

    #[test]
    fn burst_row_and_classes() {
        let mut f = crate::model::load::parse_result(include_str!(
            "../../../testdata/results/synthetic-cascadelake-baremetal-pti-off.json"
        ))
        .unwrap();
        let mut e = f
            .experiments
            .iter()
            .find(|e| e.id.to_string() == "ipi.user.membarrier")
            .unwrap()
            .clone();
        e.id = ExperimentId::Ipi(ids::Ipi::Kernel(ids::KernelIpi::TextPoke));
        let ipi = e.ipi.as_mut().unwrap();
        ipi.burst = Some(BurstStats {
            events: 40,
            events_victim_off: 2,
            events_matched: 38,
            match_ratio: 1.0,
            gaps_per_event: 36.0,
            cal_per_event: 39.0,
            lost_per_event_cycles: 780_000.0,
            lost_per_ipi_cycles: 20_000.0,
            control_lost_per_event_cycles: 46_000.0,
            ..Default::default()
        });
        f.experiments.push(e);
        let m = &crate::model::machine::group(std::slice::from_ref(&f))[0];
        let t = burst_table(m).unwrap();
        assert_eq!(t.rows.len(), 1);
        assert_eq!(t.rows[0][0], "kernel.text_poke");
        assert_eq!(
            (t.rows[0][1].as_str(), t.rows[0][3].as_str()),
            ("40", "39.0")
        );
        // Lost per event against the control's per window (us).
        let hz = m.tsc_hz();
        let us = |c: f64| num(c / hz * 1e6);
        assert_eq!(t.rows[0][5], us(780_000.0));
        assert_eq!(t.rows[0][7], us(46_000.0));
        assert!(Text.table(&t).lines().all(|l| l.chars().count() <= 72));
        let c = class_table(m).unwrap();
        assert_eq!(c.rows[0][0], "user.madvise");
        let deferred = |meth: &str| {
            c.rows
                .iter()
                .find(|r| r[0] == meth)
                .map(|r| r[2].clone())
                .unwrap()
        };
        assert_eq!(deferred("kernel.text_poke"), "yes");
        assert_eq!(deferred("user.mprotect"), "no");
        assert_eq!(deferred("user.membarrier"), "no");
        assert!(class_note(m).unwrap().contains(ipi_class::V7_TEXT_PATCHING));
        // The per-IPI table leaves the burst row to its own table.
        let r = &crate::output::report_tables::build(std::slice::from_ref(&f))[0];
        let per_ipi = r
            .tables
            .iter()
            .find(|t| t.title.starts_with("IPI: victim"))
            .unwrap();
        assert!(per_ipi.rows.iter().all(|r| r[0] != "kernel.text_poke"));
    }
}
