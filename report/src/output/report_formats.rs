//! The report as text (mail), Markdown or CSV. These are the functions the
//! run command calls to write a report next to its result file.

use crate::model::schema::ResultFile;
use crate::output::report_tables::{self as tables, MachineReport};
use crate::output::text_table::{csv_line, wrap, WIDTH};

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

/// Plain-text report, every line at most 72 columns.
pub fn render_text(files: &[ResultFile]) -> String {
    render_text_with(files, &RenderOptions::default())
}

/// `render_text` with options.
pub fn render_text_with(files: &[ResultFile], o: &RenderOptions) -> String {
    let reports = tables::build(files);
    let mut out = header(files.len(), reports.len());
    if wants_fleet(reports.len(), o) {
        out.push('\n');
        out.push_str(&tables::fleet_table(files, o.published).render_text());
        let mut notes = vec![tables::fleet_note(files)];
        if o.published {
            notes.push(tables::published_note());
        }
        for n in notes {
            for l in wrap(&n, WIDTH, "") {
                out.push_str(&l);
                out.push('\n');
            }
        }
    }
    if o.machines_only {
        return out;
    }
    for r in &reports {
        out.push('\n');
        for l in wrap(&format!("== {}", r.title), WIDTH, "   ") {
            out.push_str(&l);
            out.push('\n');
        }
        for f in &r.facts {
            for l in wrap(f, WIDTH, "   ")
                .iter()
                .map(|l| format!("   {}", l.trim_start()))
            {
                out.push_str(&crate::output::text_table::fit(&l, WIDTH));
                out.push('\n');
            }
        }
        for t in &r.tables {
            out.push('\n');
            out.push_str(&t.render_text());
        }
        out.push_str(&caveat_block(r));
    }
    out
}

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

fn caveat_block(r: &MachineReport) -> String {
    let mut out = String::new();
    if r.caveats.is_empty() {
        return out;
    }
    out.push_str("\nCaveats:\n");
    for c in &r.caveats {
        for l in wrap(&format!("- {c}"), WIDTH, "  ") {
            out.push_str(&l);
            out.push('\n');
        }
    }
    out
}

/// Markdown report: same content, pipe tables.
pub fn render_markdown(files: &[ResultFile]) -> String {
    render_markdown_with(files, &RenderOptions::default())
}

/// `render_markdown` with options.
pub fn render_markdown_with(files: &[ResultFile], o: &RenderOptions) -> String {
    // Titles, facts and notes hold text from the files: no raw HTML.
    let md = |s: &str| crate::model::untrusted::markdown(s).into_owned();
    let reports = tables::build(files);
    let mut out = String::from("# entrybench report\n\n");
    for l in header(files.len(), reports.len()).lines() {
        out.push_str(l);
        out.push_str("\n\n");
    }
    if wants_fleet(reports.len(), o) {
        out.push_str(&tables::fleet_table(files, o.published).render_markdown());
        out.push_str(&format!("\n{}\n\n", md(&tables::fleet_note(files))));
        if o.published {
            out.push_str(&format!("{}\n\n", md(&tables::published_note())));
        }
    }
    if o.machines_only {
        return out;
    }
    for r in &reports {
        out.push_str(&format!("## {}\n\n", md(&r.title)));
        for f in &r.facts {
            out.push_str(&format!("{}\n\n", md(f)));
        }
        for t in &r.tables {
            out.push_str(&t.render_markdown());
            out.push('\n');
        }
        if !r.caveats.is_empty() {
            out.push_str("Caveats:\n\n");
            for c in &r.caveats {
                out.push_str(&format!("- {}\n", md(c)));
            }
        }
    }
    out
}

/// CSV: one row per machine and experiment (long format for spreadsheets).
pub fn render_csv(files: &[ResultFile]) -> String {
    tables::csv_rows(files)
        .iter()
        .map(|r| csv_line(r))
        .collect()
}
