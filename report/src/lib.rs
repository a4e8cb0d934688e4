//! Everything that reads entrybench results: the result schema itself,
//! statistics, and the outputs users paste into mail (tables, plots,
//! compare, sizing).
//!
//! Entry points for other crates: `render_text` / `render_markdown` /
//! `render_csv` (the report), `plot::write_all` (SVGs), `compare::compare`
//! with `compare::render_text`, and `profile::Profile` with `size::size`
//! and `size::render_text`.

pub mod caveats;
pub mod compare;
pub mod criterion_import;
pub mod ids;
pub mod kernel_rules;
pub mod load;
pub mod machine;
pub mod plot;
pub mod priors;
pub mod profile;
pub mod refill;
pub mod render;
pub mod schema;
pub mod size;
pub mod stats;
#[doc(hidden)]
pub mod synth;
pub mod table;
pub mod tables;
pub mod units;

pub use render::{
    render_csv, render_markdown, render_markdown_with, render_text, render_text_with, RenderOptions,
};
