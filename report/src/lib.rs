//! Everything that reads entrybench results: the result schema itself,
//! statistics, and the outputs users paste into mail (tables, plots,
//! compare, sizing).
//!
//! Three folders: `model` (what a result file says and what may be
//! concluded from it: schema, ids, statistics, the kernel's rules, the
//! published priors), `input` (foreign formats turned into result files:
//! criterion's saved benches) and `output` (everything a user reads:
//! tables, plots, compare, sizing). `output` reads `model`; `model` never
//! reads `output`.
//!
//! Entry points for other crates: `render_text` / `render_markdown` /
//! `render_csv` (the report), `output::plot::write_all` (SVGs),
//! `output::compare::compare` with `output::compare::render_text`, and
//! `model::profile::Profile` with `output::size::size` and
//! `output::size::render_text`. `model::kernel_rules` holds the kernel's
//! decisions (Meltdown/PTI, when the series' flush runs, INVLPGB, RAR) that
//! detect and size share; `model::priors` the published figures
//! (report/data).

pub mod input;
pub mod model;
pub mod output;

pub use output::report_formats::{
    render_csv, render_markdown, render_markdown_with, render_text, render_text_with, RenderOptions,
};
