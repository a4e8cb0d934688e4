//! The report and its tables as GitHub-flavoured Markdown. Titles, facts,
//! notes and cells hold text from the files: no raw HTML gets through
//! (`untrusted::markdown`).

use super::{header, wants_fleet, Exporter, RenderOptions};
use crate::model::schema::ResultFile;
use crate::model::untrusted;
use crate::output::report_tables as tables;
use crate::output::text_table::{Align, Table};

/// Pipe tables with a bold title line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Markdown;

impl Exporter for Markdown {
    fn table(&self, t: &Table) -> String {
        let esc = |s: &str| untrusted::markdown(s).replace('|', "\\|");
        let row = |cells: &[String]| {
            let cells: Vec<String> = cells.iter().map(|c| esc(c)).collect();
            format!("| {} |\n", cells.join(" | "))
        };
        let mut out = String::new();
        if !t.title.is_empty() {
            out.push_str(&format!("**{}**\n\n", esc(&t.title)));
        }
        out.push_str(&row(&t.headers));
        let seps: Vec<&str> = t
            .align
            .iter()
            .map(|a| if *a == Align::Left { ":---" } else { "---:" })
            .collect();
        out.push_str(&format!("| {} |\n", seps.join(" | ")));
        for r in &t.rows {
            out.push_str(&row(r));
        }
        out
    }

    fn report(&self, files: &[ResultFile], o: &RenderOptions) -> String {
        let md = |s: &str| untrusted::markdown(s).into_owned();
        let reports = tables::build(files);
        let mut out = String::from("# entrybench report\n\n");
        for l in header(files.len(), reports.len()).lines() {
            out.push_str(l);
            out.push_str("\n\n");
        }
        if wants_fleet(reports.len(), o) {
            out.push_str(&self.table(&tables::fleet_table(files, o.published)));
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
                out.push_str(&self.table(t));
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escapes() {
        let mut t = Table::new("", &["a|b", "c"]);
        t.push(vec!["x".into(), "1".into()]);
        let m = Markdown.table(&t);
        assert!(
            m.starts_with("| a\\|b | c |\n| :--- | ---: |\n| x | 1 |"),
            "{m}"
        );
    }
}
