//! The workload profile `entrybench size` answers for, read from TOML and
//! checked field by field so a typo or a negative rate is named, not
//! silently sized.

use anyhow::{bail, Context, Result};
use std::path::Path;

/// TSC cycles for the per-entry atomic exchange of Lutomirski's proposal
/// (review text, not posted code; the posted series adds no atomic), used
/// where no `deferred.check.*` result measures it: an assumption,
/// printed as one. TSC cycles, so the machine's TSC rate turns them into
/// time.
pub const DEFAULT_DEFERRED_CHECK_CYCLES: f64 = 30.0;

#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Free text naming the workload; optional.
    pub name: String,
    /// Kernel entries (syscalls, faults, interrupts taken) per second on
    /// each isolated CPU.
    pub syscalls_per_sec: f64,
    /// TLB flush events per second that would reach each isolated CPU
    /// (IPIs today).
    pub flush_events_per_sec: f64,
    /// 4 KiB pages the isolated task touches between entries.
    pub working_set_pages: u64,
    /// Largest added latency one event may cost, microseconds.
    pub latency_budget_us: f64,
    /// See `DEFAULT_DEFERRED_CHECK_CYCLES` (TSC cycles).
    pub deferred_check_cycles: f64,
    /// True when `deferred_check_cycles` came from the default.
    pub deferred_check_assumed: bool,
}

const FIELDS: [&str; 6] = [
    "name",
    "syscalls_per_sec",
    "flush_events_per_sec",
    "working_set_pages",
    "latency_budget_us",
    "deferred_check_cycles",
];

impl Profile {
    pub fn read(path: &Path) -> Result<Profile> {
        let text = crate::model::files::read_text(path, crate::model::files::PROFILE_CAP)?;
        Profile::parse(&text).with_context(|| format!("profile {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Profile> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            anyhow::anyhow!("invalid TOML: {}", e.message().replace('\n', " "))
        })?;
        for key in table.keys() {
            if !FIELDS.contains(&key.as_str()) {
                bail!(
                    "unknown field `{key}` (expected one of: {})",
                    FIELDS.join(", ")
                );
            }
        }
        let name = match table.get("name") {
            None => String::new(),
            Some(toml::Value::String(s)) => crate::model::untrusted::printable(s).into_owned(),
            Some(_) => bail!("field `name` must be a string"),
        };
        let syscalls_per_sec = rate(&table, "syscalls_per_sec")?;
        let flush_events_per_sec = rate(&table, "flush_events_per_sec")?;
        let pages = rate(&table, "working_set_pages")?;
        if pages.fract() != 0.0 {
            bail!("field `working_set_pages` must be a whole number of pages, got {pages}");
        }
        let latency_budget_us = rate(&table, "latency_budget_us")?;
        if latency_budget_us == 0.0 {
            bail!("field `latency_budget_us` must be greater than 0");
        }
        let (deferred_check_cycles, deferred_check_assumed) =
            if table.contains_key("deferred_check_cycles") {
                (rate(&table, "deferred_check_cycles")?, false)
            } else {
                (DEFAULT_DEFERRED_CHECK_CYCLES, true)
            };
        for (key, v) in [
            ("syscalls_per_sec", syscalls_per_sec),
            ("flush_events_per_sec", flush_events_per_sec),
            ("working_set_pages", pages),
            ("latency_budget_us", latency_budget_us),
            ("deferred_check_cycles", deferred_check_cycles),
        ] {
            within(key, v)?;
        }
        Ok(Profile {
            name,
            syscalls_per_sec,
            flush_events_per_sec,
            working_set_pages: pages as u64,
            latency_budget_us,
            deferred_check_cycles,
            deferred_check_assumed,
        })
    }
}

/// The largest value each number may have (and how it is printed), and
/// why a larger one cannot describe a real workload on one isolated CPU:
/// sizing it would print figures for something that cannot happen.
const LIMITS: [(&str, f64, &str, &str); 5] = [
    (
        "syscalls_per_sec",
        1e8,
        "1e8",
        "one kernel entry every 10 ns, faster than any x86 enters and leaves the kernel",
    ),
    (
        "flush_events_per_sec",
        1e6,
        "1e6",
        "one every microsecond, about what one IPI alone costs the CPU it interrupts",
    ),
    (
        "working_set_pages",
        (1u64 << 35) as f64,
        "2^35",
        "128 TiB of 4 KiB pages, the whole user address space with 4-level paging",
    ),
    (
        "latency_budget_us",
        1e6,
        "1e6",
        "one second, which is no latency budget",
    ),
    (
        "deferred_check_cycles",
        1e5,
        "1e5",
        "an atomic exchange costs tens of cycles, not a hundred thousand",
    ),
];

/// Err when `v` is above the field's limit in `LIMITS`.
fn within(key: &str, v: f64) -> Result<()> {
    if let Some((_, max, shown, why)) = LIMITS.iter().find(|l| l.0 == key) {
        if v > *max {
            let v = if v >= 1e6 {
                format!("{v:e}")
            } else {
                v.to_string()
            };
            bail!("field `{key}` is {v}, more than {shown} ({why})");
        }
    }
    Ok(())
}

/// A required non-negative finite number (integer or float in TOML).
fn rate(t: &toml::Table, key: &str) -> Result<f64> {
    let v = match t.get(key) {
        None => bail!("field `{key}` is missing"),
        Some(toml::Value::Integer(i)) => *i as f64,
        Some(toml::Value::Float(f)) => *f,
        Some(other) => bail!("field `{key}` must be a number, got {}", other.type_str()),
    };
    if !v.is_finite() {
        bail!("field `{key}` must be a finite number, got {v}");
    }
    if v < 0.0 {
        bail!("field `{key}` must not be negative, got {v}");
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = "syscalls_per_sec = 1000\nflush_events_per_sec = 0.5\nworking_set_pages = 64\nlatency_budget_us = 10\n";

    #[test]
    fn parses_and_defaults() {
        let p = Profile::parse(OK).unwrap();
        assert_eq!(p.syscalls_per_sec, 1000.0);
        assert_eq!(p.working_set_pages, 64);
        assert!(p.deferred_check_assumed);
        assert_eq!(p.deferred_check_cycles, DEFAULT_DEFERRED_CHECK_CYCLES);
        let p = Profile::parse(&format!("{OK}deferred_check_cycles = 12\nname = \"x\"")).unwrap();
        assert!(!p.deferred_check_assumed);
        assert_eq!(p.name, "x");
    }

    #[test]
    fn errors_name_the_field() {
        let err = |t: &str| format!("{:#}", Profile::parse(t).unwrap_err());
        assert!(err(&OK.replace("flush_events_per_sec = 0.5\n", ""))
            .contains("`flush_events_per_sec` is missing"));
        assert!(
            err(&OK.replace("= 1000", "= -5")).contains("`syscalls_per_sec` must not be negative")
        );
        assert!(
            err(&OK.replace("= 0.5", "= nan")).contains("`flush_events_per_sec` must be a finite")
        );
        assert!(err(&OK.replace("= 64", "= 6.5")).contains("`working_set_pages` must be a whole"));
        assert!(
            err(&OK.replace("= 64", "= \"many\"")).contains("`working_set_pages` must be a number")
        );
        assert!(
            err(&OK.replace("latency_budget_us = 10", "latency_budget_us = 0"))
                .contains("greater than 0")
        );
        assert!(err(&format!("{OK}syscalls_per_second = 3"))
            .contains("unknown field `syscalls_per_second`"));
        assert!(err("syscalls_per_sec = ").contains("invalid TOML"));
    }

    #[test]
    fn absurd_values_are_refused_naming_file_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let with = |field: &str, value: &str| -> String {
            let text: String = format!("{OK}deferred_check_cycles = 30\n")
                .lines()
                .map(|l| {
                    if l.starts_with(&format!("{field} =")) {
                        format!("{field} = {value}\n")
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
            let path = dir.path().join(format!("{field}.toml"));
            std::fs::write(&path, text).unwrap();
            match Profile::read(&path) {
                Ok(p) => panic!("{field} = {value} accepted: {p:?}"),
                Err(e) => format!("{e:#}"),
            }
        };
        for (field, value, want) in [
            ("working_set_pages", "1e12", "more than"),
            ("working_set_pages", "1000000000000", "more than"),
            ("syscalls_per_sec", "1e9", "more than"),
            ("flush_events_per_sec", "2e6", "more than"),
            ("latency_budget_us", "1e7", "more than"),
            ("deferred_check_cycles", "1e6", "more than"),
            ("syscalls_per_sec", "-1", "must not be negative"),
            ("flush_events_per_sec", "nan", "must be a finite"),
            ("latency_budget_us", "inf", "must be a finite"),
        ] {
            let e = with(field, value);
            assert!(
                e.contains(&format!("{field}.toml")) && e.contains(&format!("`{field}`")),
                "{field} = {value}: {e}"
            );
            assert!(e.contains(want), "{field} = {value}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
        // The limits themselves are accepted.
        for (field, max, _, _) in LIMITS {
            let text = format!("{OK}deferred_check_cycles = 30\n")
                .replace(&format!("{field} = "), &format!("{field} = {max:.1}\n#"));
            Profile::parse(&text).unwrap_or_else(|e| panic!("{field} = {max}: {e:#}"));
        }
    }
}
