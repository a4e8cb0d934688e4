//! The report's formats, one file each behind one trait (as hyperfine's
//! `export/`): `text` (72-column mail), `markdown` (pipe tables) and `csv`
//! (long format for spreadsheets). The report command picks a [`Format`]
//! and every format gets the same tables from `report_tables`; what the
//! report says is decided there, how it looks here.

mod csv;
mod markdown;
mod text;

pub use csv::{csv_field, csv_line, Csv};
pub use markdown::Markdown;
pub use text::Text;

use crate::model::schema::ResultFile;
use crate::output::text_table::Table;

/// One output format.
pub trait Exporter {
    /// One table (a title, a header and rows).
    fn table(&self, t: &Table) -> String;
    /// The whole report over these result files.
    fn report(&self, files: &[ResultFile], o: &RenderOptions) -> String;
}

/// The format the report command was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Text,
    Markdown,
    Csv,
}

impl Format {
    pub fn exporter(self) -> &'static dyn Exporter {
        match self {
            Format::Text => &Text,
            Format::Markdown => &Markdown,
            Format::Csv => &Csv,
        }
    }
}

/// What the report shows beyond the per-machine blocks.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderOptions {
    /// Add the published before/after rows to the machine table.
    pub published: bool,
    /// Only the one-row-per-machine table and its notes: what goes into
    /// an email; the per-machine blocks are left out.
    pub machines_only: bool,
}

/// The mailing-list table goes first when there are several machines to
/// compare, or published rows to compare with.
fn wants_fleet(machines: usize, o: &RenderOptions) -> bool {
    machines >= 2 || o.published || o.machines_only
}

/// The report's first lines, the same in text and Markdown.
fn header(files: usize, machines: usize) -> String {
    let plural = |n: usize, w: &str| {
        if n == 1 {
            format!("1 {w}")
        } else {
            format!("{n} {w}s")
        }
    };
    format!(
        "entrybench report: {}, {}\nAll figures are medians unless named; ns from the TSC frequency.\n",
        plural(files, "result file"),
        plural(machines, "machine")
    )
}

/// Plain-text report with the default options, every line at most 72
/// columns (what `run` writes next to its result file).
pub fn render_text(files: &[ResultFile]) -> String {
    Text.report(files, &RenderOptions::default())
}

/// Markdown report with the default options.
pub fn render_markdown(files: &[ResultFile]) -> String {
    Markdown.report(files, &RenderOptions::default())
}

/// CSV: one row per machine and experiment.
pub fn render_csv(files: &[ResultFile]) -> String {
    Csv.report(files, &RenderOptions::default())
}
