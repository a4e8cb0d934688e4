//! The `run` options of the scenario.* experiments (flattened into
//! `commands::run::RunArgs`; `--rate` and `--duration` apply to them
//! too: the duration is the triggered time of each scenario).

use super::suite::{ScenarioCall, SuiteConfig};
use anyhow::{bail, Result};

#[derive(Debug, Default, clap::Args)]
pub struct ScenarioArgs {
    /// Working set the scenario.* victim walks every iteration, pages
    /// (default 64; `--pages` sets refill.wN sizes)
    #[arg(long, value_name = "N")]
    pub scenario_pages: Option<usize>,
    /// System call of the scenario.* victim's loop (default getppid)
    #[arg(long, value_enum, value_name = "CALL")]
    pub scenario_call: Option<ScenarioCall>,
}

impl ScenarioArgs {
    /// Puts the options into `cfg`; Err for out-of-range values.
    pub fn apply(&self, cfg: &mut SuiteConfig) -> Result<()> {
        if let Some(p) = self.scenario_pages {
            if !(1..=262_144).contains(&p) {
                bail!("--scenario-pages {p}: must be between 1 and 262144 pages");
            }
            cfg.scenario_pages = p;
        }
        if let Some(c) = self.scenario_call {
            cfg.scenario_call = c;
        }
        Ok(())
    }

    /// The options as the result file records them.
    pub fn recorded(cfg: &SuiteConfig) -> [(&'static str, String); 3] {
        [
            (
                "scenario_duration_s",
                cfg.scenario_duration.as_secs_f64().to_string(),
            ),
            ("scenario_pages", cfg.scenario_pages.to_string()),
            ("scenario_call", cfg.scenario_call.call().name().to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_and_checks() {
        let mut cfg = SuiteConfig::quick();
        let a = ScenarioArgs {
            scenario_pages: Some(8),
            scenario_call: Some(ScenarioCall::Null),
        };
        a.apply(&mut cfg).unwrap();
        assert_eq!(cfg.scenario_pages, 8);
        assert_eq!(ScenarioArgs::recorded(&cfg)[2].1, "-1 (ENOSYS)");
        let bad = ScenarioArgs {
            scenario_pages: Some(0),
            ..Default::default()
        };
        assert!(bad.apply(&mut cfg).is_err());
        ScenarioArgs::default().apply(&mut cfg).unwrap();
        assert_eq!(cfg.scenario_pages, 8);
    }
}
