//! Everything that reads entrybench results: the result schema itself,
//! statistics, and the outputs users paste into mail (tables, plots,
//! compare, sizing).
//!
//! Entry points for other crates: `render_text` / `render_markdown` /
//! `render_csv` (the report), `plot::write_all` (SVGs), `compare::compare`
//! with `compare::render_text`, and `profile::Profile` with `size::size`
//! and `size::render_text`. `kernel_rules` holds the kernel's decisions
//! (Meltdown/PTI, when the series' flush runs, INVLPGB, RAR) that detect
//! and size share; `priors` the published figures (report/data).

pub mod burst;
pub mod caveats;
pub mod compare;
pub mod criterion_import;
pub mod drift;
pub mod files;
pub mod host;
pub mod ids;
pub mod ipi_class;
pub mod kernel_rules;
pub mod load;
pub mod machine;
pub mod plot;
pub mod priors;
pub mod profile;
pub mod refill;
pub mod report_formats;
pub mod report_tables;
pub mod scenario;
pub mod schema;
pub mod size;
pub mod stats;
#[doc(hidden)]
pub mod synth;
pub mod text_table;
pub mod units;
pub mod untrusted;
pub mod validate;

pub use report_formats::{
    render_csv, render_markdown, render_markdown_with, render_text, render_text_with, RenderOptions,
};
