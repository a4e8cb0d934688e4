//! What a run leaves besides its result file: the short summary it
//! prints, and the default result path (`entrybench run` itself is
//! `commands::run`; the order experiments run in is `schedule`).

use crate::schema::{Environment, Experiment, IrqRow, ResultFile};
use report::model::host::{compact_utc, hostname};
use std::path::PathBuf;
use std::time::SystemTime;

/// Width of the id column of the summary: the longest userspace id
/// (`deferred.check.uncontended`). Longer ids (kernel-module rows) get a
/// line of their own, so no id is ever cut.
const ID_WIDTH: usize = 26;

/// The short text summary: one line per experiment, at most 72 columns.
pub fn summary_text(file: &ResultFile, tsc_hz: f64) -> String {
    // ns from TSC cycles only (`Experiment::tsc`).
    let ns = |e: &Experiment, c: f64| {
        e.tsc(c)
            .and_then(|c| report::model::units::cycles_to_ns(c, tsc_hz))
            .unwrap_or(f64::NAN)
    };
    let mut s = format!(
        "{:<ID_WIDTH$} {:>7} {:>10} {:>9} {:>9}\n",
        "id", "n", "median cyc", "median ns", "p99 cyc"
    );
    let mut past = false;
    for e in &file.experiments {
        s += &summary_line(e, &ns);
        for l in report::output::scenario::summary_lines(e, tsc_hz) {
            s += &format!("{l}\n");
        }
        past |= report::model::refill::past_reach(e);
    }
    if file.experiments.iter().any(|e| e.baseline.is_some()) {
        s += "delta: a difference of two measurements (its median)\n";
    }
    if past {
        s += "past: a refill size past the TLB's reach (not used for sizing)\n";
    }
    if let Some(d) = report::output::drift_text::run_text(file) {
        for l in report::output::text_table::wrap(&d, report::output::text_table::WIDTH, "  ") {
            s += &l;
            s.push('\n');
        }
    }
    s
}

/// One experiment: a row (differential ids show the delta median, marked
/// "delta", or "past" for a refill size past the TLB's reach), plus a
/// second row for ipi.* ids.
fn summary_line(e: &Experiment, ns: &dyn Fn(&Experiment, f64) -> f64) -> String {
    let mut line = String::new();
    let full = e.id.to_string();
    let id = if full.chars().count() > ID_WIDTH {
        line += &format!("{full}\n");
        ""
    } else {
        full.as_str()
    };
    let (n, p99) = (e.summary.n, e.summary.p99);
    let h = e.headline_cycles();
    line += &if e.baseline.is_some() {
        let mark = if report::model::refill::past_reach(e) {
            "past"
        } else {
            "delta"
        };
        format!(
            "{id:<ID_WIDTH$} {n:>7} {h:>+10.0} {:>+9.1} {p99:>9.0} {mark}\n",
            ns(e, h)
        )
    } else {
        format!(
            "{id:<ID_WIDTH$} {n:>7} {h:>10.1} {:>9.1} {p99:>9.0}\n",
            ns(e, h)
        )
    };
    if let Some(ipi) = &e.ipi {
        // Files without the row (none the harness writes) are compared
        // with TLB, and the line says so.
        let row = e.irq_row();
        let shown = row.unwrap_or(IrqRow::Tlb);
        line += &format!(
            "  seen {}/{} {} = {:.1}%, initiator median {:.0} cyc\n",
            ipi.interruptions_seen,
            ipi.row_delta(shown),
            shown,
            ipi.seen_ratio * 100.0,
            ipi.initiator.median
        );
        if row.is_none() {
            line += "  (the file names no /proc/interrupts row: TLB assumed)\n";
        }
        if let Some(n) = e.params.get("ipis_beyond_calls").and_then(|v| v.as_u64()) {
            if n > 0 {
                line += &format!("  {n} of them beyond the calls that can have sent one\n");
                if let Some(r) = e
                    .params
                    .get("seen_ratio_of_run_ipis")
                    .and_then(|v| v.as_f64())
                {
                    line += &format!(
                        "  seen {:.1}% of the IPIs the run can have sent\n",
                        r * 100.0
                    );
                }
            }
        }
        if let Some(f) = ipi.false_match_rate {
            line += &if e.false_matches_traced() {
                format!(
                    "  false_match_rate {:.2}% (picks not the IPI, by the trace check)\n",
                    f * 100.0
                )
            } else {
                format!(
                    "  false_match_rate {:.1}% (no-IPI control windows matched)\n",
                    f * 100.0
                )
            };
        }
    }
    line
}

/// `results/<host>-<cpu model slug>-<UTC time>.json`
pub fn default_path(env: &Environment, t: SystemTime) -> PathBuf {
    let model = if env.cpu.brand.trim().is_empty() {
        &env.cpu.vendor
    } else {
        &env.cpu.brand
    };
    PathBuf::from("results").join(format!(
        "{}-{}-{}.json",
        slug(&hostname()),
        slug(model),
        compact_utc(t)
    ))
}

/// Lowercase ASCII letters and digits, runs of anything else as one '-',
/// at most 40 characters.
pub fn slug(s: &str) -> String {
    // Trademark marks carry no information and make every Intel name
    // read "intel-r-xeon-r-...".
    let mut s = s.to_string();
    for mark in ["(R)", "(r)", "(TM)", "(tm)"] {
        s = s.replace(mark, " ");
    }
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out: String = out.trim_matches('-').chars().take(40).collect();
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "unknown".into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn summary_lines_fit_72_columns() {
        use crate::experiments::record;
        use crate::schema::{IpiStats, Summary};
        let mut s: Vec<i64> = (0..1000).map(|i| 9_999_000 + i).collect();
        let mut e = record::measured(
            "ipi.user.membarrier.long.id".into(),
            "user",
            BTreeMap::new(),
            &mut s,
        );
        e.ipi = Some(IpiStats {
            method: "membarrier".into(),
            rate_hz: 1000.0,
            duration_s: 1.0,
            threshold_cycles: 500,
            interruptions_seen: 99_999_999,
            tlb_delta: 99_999_999,
            cal_delta: 99_999_999,
            seen_ratio: 1.0,
            initiator: Summary {
                median: 9_999_999.0,
                ..Default::default()
            },
            false_match_rate: Some(1.0),
            burst: None,
        });
        let mut b: Vec<i64> = (0..1000).collect();
        let d = record::with_baseline(e.clone(), "plain", &mut b);
        let ns = |_: &Experiment, c: f64| c / 2.6;
        for line in summary_line(&e, &ns)
            .lines()
            .chain(summary_line(&d, &ns).lines())
        {
            assert!(line.len() <= 72, "{} columns: {line:?}", line.len());
        }
        // An id longer than the column gets a line of its own, uncut.
        let lines: Vec<String> = summary_line(&d, &ns).lines().map(String::from).collect();
        assert_eq!(lines[0], "ipi.user.membarrier.long.id");
        assert!(lines[1].ends_with(" delta"), "{lines:?}");
        let mut past = d.clone();
        past.params
            .insert("past_tlb_reach".into(), serde_json::Value::Bool(true));
        assert!(summary_line(&past, &ns)
            .lines()
            .nth(1)
            .unwrap()
            .ends_with(" past"));
        assert!(summary_line(&e, &ns).contains("seen 99999999/99999999 TLB"));
        assert!(summary_line(&e, &ns).contains("TLB assumed"));
        let mut cal = e.clone();
        cal.params.insert("row".into(), "CAL".into());
        let l = summary_line(&cal, &ns);
        assert!(l.contains("99999999 CAL") && !l.contains("assumed"), "{l}");
        assert!(summary_line(&e, &ns).contains("false_match_rate 100.0% (no-IPI control"));
        // IPIs the run did not send: counted, and the share of the rest.
        let mut strangers = e.clone();
        strangers
            .params
            .insert("ipis_beyond_calls".into(), 99_999_999.into());
        strangers
            .params
            .insert("seen_ratio_of_run_ipis".into(), 0.98994.into());
        let l = summary_line(&strangers, &ns);
        assert!(
            l.contains("99999999 of them beyond the calls")
                && l.contains("seen 99.0% of the IPIs the run can have sent"),
            "{l}"
        );
        assert!(l.lines().all(|x| x.len() <= 72), "{l}");
        strangers
            .params
            .insert("ipis_beyond_calls".into(), 0.into());
        let l = summary_line(&strangers, &ns);
        assert!(!l.contains("beyond") && !l.contains("can have sent"), "{l}");
        // Counted by a trace check, it says so, within the columns.
        let mut traced = e.clone();
        traced.params.insert(
            "trace_check".into(),
            serde_json::json!({ "timing_claimed": 100, "timing_claimed_without_event": 1 }),
        );
        let l = summary_line(&traced, &ns);
        assert!(
            l.contains("false_match_rate 100.00% (picks not the IPI, by the trace check)"),
            "{l}"
        );
        assert!(l.lines().all(|x| x.len() <= 72), "{l}");
        // A skipped check is the control's.
        traced.params.insert(
            "trace_check".into(),
            serde_json::json!({ "skipped": "tracing the kernel needs root" }),
        );
        assert!(summary_line(&traced, &ns).contains("(no-IPI control"));
    }

    #[test]
    fn slugs() {
        assert_eq!(
            slug("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz"),
            "intel-xeon-gold-6248-cpu-2-50ghz"
        );
        assert_eq!(slug("  AMD EPYC  "), "amd-epyc");
        assert_eq!(slug("***"), "unknown");
        assert!(slug(&"x".repeat(100)).len() <= 40);
    }
}
