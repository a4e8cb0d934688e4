//! Published figures (report/data/priors.toml), compiled into the binary:
//! what `size` and the break-even plot fall back on when nothing was
//! measured on a CPU model or its microarchitecture. A prior is always
//! printed as `published (<cite>)`, never mixed into measured rows.

use anyhow::{bail, Context, Result};
use serde::Deserialize;

const PRIORS_TOML: &str = include_str!("../../data/priors.toml");

/// Operation names size and the plots look up.
pub mod op {
    /// Series flush per kernel entry: getpid with the series minus without.
    pub const FLUSH_ON_ENTRY: &str = "flush_on_entry";
    pub const GETPID: &str = "getpid";
    /// Victim-side cost of one flush IPI.
    pub const IPI_VICTIM: &str = "ipi.victim";
    pub const FLUSH_INVPCID2: &str = "flush.invpcid2";
    pub const FLUSH_CR4_PGE: &str = "flush.cr4_pge";
    /// PTI's own cost per system call (derived from will-it-scale lseek1).
    pub const PTI_PER_ENTRY: &str = "pti.syscall_overhead";
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prior {
    pub cpu: String,
    pub uarch: Vec<String>,
    pub operation: String,
    pub value: f64,
    pub unit: String,
    pub conditions: String,
    pub kind: String,
    pub cite: String,
    pub source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    prior: Vec<Prior>,
}

const UNITS: [&str; 6] = ["ns", "us", "cycles", "loops/s", "%", "count"];

impl Prior {
    /// The value in ns, for time units that need no clock rate.
    pub fn ns(&self) -> Option<f64> {
        match self.unit.as_str() {
            "ns" => Some(self.value),
            "us" => Some(self.value * 1000.0),
            _ => None,
        }
    }

    /// "published (cite)": the label every printed prior carries.
    pub fn label(&self) -> String {
        format!("published ({})", self.cite)
    }

    pub fn applies_to(&self, core: &str) -> bool {
        self.uarch.iter().any(|u| u == core)
    }

    fn check(&self) -> Result<()> {
        for (name, v) in [
            ("cpu", &self.cpu),
            ("operation", &self.operation),
            ("conditions", &self.conditions),
            ("cite", &self.cite),
            ("source", &self.source),
        ] {
            if v.trim().is_empty() {
                bail!("field `{name}` is empty");
            }
        }
        if !UNITS.contains(&self.unit.as_str()) {
            bail!("unit `{}` is not one of {}", self.unit, UNITS.join(", "));
        }
        if !matches!(self.kind.as_str(), "measured" | "derived") {
            bail!("kind must be measured or derived, got `{}`", self.kind);
        }
        if !self.value.is_finite() || self.value < 0.0 {
            bail!("value must be a finite number >= 0");
        }
        Ok(())
    }
}

/// Parses and checks a priors table.
pub fn parse(text: &str) -> Result<Vec<Prior>> {
    let f: File = toml::from_str(text)
        .map_err(|e| anyhow::anyhow!("invalid priors TOML: {}", e.message().replace('\n', " ")))?;
    for (i, p) in f.prior.iter().enumerate() {
        p.check()
            .with_context(|| format!("prior #{} ({} {})", i + 1, p.cpu, p.operation))?;
    }
    Ok(f.prior)
}

/// The table shipped with entrybench (checked by the tests below, so a
/// bad row fails the build's tests rather than a user's run), parsed once
/// per process: sizing and plots look rows up many times.
pub fn all() -> &'static [Prior] {
    static ALL: std::sync::LazyLock<Vec<Prior>> =
        std::sync::LazyLock::new(|| parse(PRIORS_TOML).unwrap_or_default());
    &ALL
}

/// The first prior for `operation` on core `core`.
pub fn find(core: &str, operation: &str) -> Option<Prior> {
    all()
        .iter()
        .find(|p| p.operation == operation && p.applies_to(core))
        .cloned()
}

/// Every prior for core `core`.
pub fn for_core(core: &str) -> Vec<Prior> {
    all()
        .iter()
        .filter(|p| p.applies_to(core))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_row_parses_and_has_a_source() {
        let rows = parse(PRIORS_TOML).expect("priors.toml parses");
        assert!(rows.len() >= 15, "{}", rows.len());
        for r in &rows {
            assert!(
                r.source.contains('@')
                    || r.source.contains("http")
                    || r.source.contains("commit")
                    || r.source.starts_with("lore"),
                "row without a findable source: {r:?}"
            );
        }
        assert_eq!(all().len(), rows.len());
        // A cite is printed in 72-column text: a word longer than a line
        // would be cut, and the source with it.
        for r in &rows {
            assert!(
                r.cite.split_whitespace().all(|w| w.chars().count() <= 60),
                "cite with an unbreakable word: {}",
                r.cite
            );
        }
    }

    #[test]
    fn lookups_by_core() {
        let p = find("Haswell", op::FLUSH_ON_ENTRY).expect("Haswell flush-on-entry prior");
        assert_eq!(p.ns(), Some(570.0));
        assert!(
            p.label().starts_with("published (v7 cover"),
            "{}",
            p.label()
        );
        assert!(find("Zen 5", op::FLUSH_ON_ENTRY).is_none());
        assert!(!for_core("Zen 3").is_empty());
    }

    #[test]
    fn bad_rows_are_named() {
        let row = "[[prior]]\ncpu = \"x\"\nuarch = []\noperation = \"o\"\nvalue = 1.0\nunit = \"ns\"\nconditions = \"c\"\nkind = \"measured\"\ncite = \"c\"\nsource = \"\"\n";
        let e = format!("{:#}", parse(row).unwrap_err());
        assert!(e.contains("`source` is empty"), "{e}");
        let e = format!(
            "{:#}",
            parse(
                &row.replace("\"ns\"", "\"parsecs\"")
                    .replace("source = \"\"", "source = \"s\"")
            )
            .unwrap_err()
        );
        assert!(e.contains("unit `parsecs`"), "{e}");
        assert!(parse("[[prior]]\ncpu = 1\n").is_err());
    }
}
