//! The model: what a result file holds and what can be concluded from it,
//! with no notion of how it is shown. Schema and its checks (`schema`,
//! `validate`, `load`, `files`, `untrusted`), what ids and clocks mean
//! (`ids`, `units`), statistics (`stats`, `drift`: the drift reference's
//! analysis, which compare and the run summary both use), the grouping per
//! machine and the measured refill curve (`machine`, `refill`), and the
//! facts the sizing and the report cite (`kernel_rules`, `ipi_class`,
//! `priors`, `profile`, `host`). `synth` builds synthetic result files for
//! tests and goldens: data, not output. Nothing here formats a table.

pub mod drift;
pub mod files;
pub mod host;
pub mod ids;
pub mod ipi_class;
pub mod kernel_rules;
pub mod load;
pub mod machine;
pub mod priors;
pub mod profile;
pub mod quiet;
pub mod refill;
pub mod schema;
pub mod stats;
#[doc(hidden)]
pub mod synth;
pub mod units;
pub mod untrusted;
pub mod validate;
