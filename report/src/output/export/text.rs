//! The report and its tables as plain text for mail: fixed width, never
//! wider than `WIDTH` (quoted replies must still fit 80 columns).

use super::{header, wants_fleet, Exporter, RenderOptions};
use crate::model::schema::ResultFile;
use crate::output::report_tables::{self as tables, MachineReport};
use crate::output::text_table::{fit, wrap, Align, Table, WIDTH};

/// Fixed-width text.
#[derive(Debug, Clone, Copy, Default)]
pub struct Text;

impl Exporter for Text {
    /// Columns are two spaces apart; when the table would pass `WIDTH`,
    /// the first (label) column is shortened with "~" so the figures are
    /// never cut.
    fn table(&self, t: &Table) -> String {
        let ncol = t.headers.len();
        let cell = |r: &Vec<String>, i: usize| r.get(i).cloned().unwrap_or_default();
        let spanned = |ri: usize, i: usize| matches!(t.spans.get(ri), Some(Some((a, b))) if (*a..=*b).contains(&i));
        let mut widths: Vec<usize> = (0..ncol)
            .map(|i| {
                t.rows
                    .iter()
                    .enumerate()
                    .filter(|(ri, _)| !spanned(*ri, i))
                    .map(|(_, r)| cell(r, i).chars().count())
                    .chain([t.headers[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let total = |w: &[usize]| w.iter().sum::<usize>() + 2 * w.len().saturating_sub(1);
        if total(&widths) > WIDTH && ncol > 0 {
            let excess = total(&widths) - WIDTH;
            widths[0] = widths[0].saturating_sub(excess).max(4);
        }
        let mut out = String::new();
        if !t.title.is_empty() {
            for l in wrap(&t.title, WIDTH, "") {
                out.push_str(&l);
                out.push('\n');
            }
        }
        let line = |cells: Vec<String>, span: Option<(usize, usize)>| -> String {
            let mut parts = Vec::with_capacity(ncol);
            for (i, c) in cells.into_iter().enumerate().take(ncol) {
                match span {
                    Some((a, b)) if i == a => {
                        let w = widths[a..=b].iter().sum::<usize>() + 2 * (b - a);
                        parts.push(format!("{:<w$}", fit(&c, w)));
                        continue;
                    }
                    Some((a, b)) if (a..=b).contains(&i) => continue,
                    _ => {}
                }
                let c = fit(&c, widths[i]);
                parts.push(match t.align.get(i).copied().unwrap_or(Align::Right) {
                    Align::Left => format!("{c:<w$}", w = widths[i]),
                    Align::Right => format!("{c:>w$}", w = widths[i]),
                });
            }
            let s = parts.join("  ");
            // A cell wider than the page (one huge label) is cut, never
            // allowed to break the width promise.
            fit(s.trim_end(), WIDTH)
        };
        out.push_str(&line(t.headers.clone(), None));
        out.push('\n');
        out.push_str(&line(widths.iter().map(|w| "-".repeat(*w)).collect(), None));
        out.push('\n');
        for (ri, r) in t.rows.iter().enumerate() {
            let span = t.spans.get(ri).copied().flatten();
            out.push_str(&line((0..ncol).map(|i| cell(r, i)).collect(), span));
            out.push('\n');
        }
        out
    }

    fn report(&self, files: &[ResultFile], o: &RenderOptions) -> String {
        let reports = tables::build(files);
        let mut out = header(files.len(), reports.len());
        if wants_fleet(reports.len(), o) {
            out.push('\n');
            out.push_str(&self.table(&tables::fleet_table(files, o.published)));
            let mut notes = vec![tables::fleet_note(files)];
            if o.published {
                notes.push(tables::published_note());
            }
            for n in notes {
                push_lines(&mut out, wrap(&n, WIDTH, ""));
            }
        }
        if o.machines_only {
            return out;
        }
        for r in &reports {
            out.push('\n');
            push_lines(&mut out, wrap(&format!("== {}", r.title), WIDTH, "   "));
            for f in &r.facts {
                for l in wrap(f, WIDTH, "   ")
                    .iter()
                    .map(|l| format!("   {}", l.trim_start()))
                {
                    out.push_str(&fit(&l, WIDTH));
                    out.push('\n');
                }
            }
            for t in &r.tables {
                out.push('\n');
                out.push_str(&self.table(t));
            }
            out.push_str(&caveat_block(r));
        }
        out
    }
}

fn push_lines(out: &mut String, lines: Vec<String>) {
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
}

fn caveat_block(r: &MachineReport) -> String {
    let mut out = String::new();
    if r.caveats.is_empty() {
        return out;
    }
    out.push_str("\nCaveats:\n");
    for c in &r.caveats {
        push_lines(&mut out, wrap(&format!("- {c}"), WIDTH, "  "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_fits_and_aligns() {
        let mut t = Table::new("Title", &["name", "value"]);
        t.push(vec!["a".into(), "1".into()]);
        t.push(vec!["x".repeat(100), "12345".into()]);
        let s = Text.table(&t);
        assert!(s.lines().all(|l| l.chars().count() <= WIDTH), "{s}");
        assert!(s.contains("~  12345"), "{s}");
        assert!(s.lines().nth(3).unwrap().ends_with("    1"), "{s}");
    }

    #[test]
    fn a_spanning_cell_keeps_the_columns() {
        let mut t = Table::new("", &["name", "a", "b", "c"]);
        t.push(vec!["x".into(), "1".into(), "22".into(), "3".into()]);
        t.push_spanning(
            vec!["y".into(), "see row x".into(), "".into(), "9".into()],
            1,
            2,
        );
        let s = Text.table(&t);
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "name  a   b  c");
        assert_eq!(lines[2], "x     1  22  3");
        // Spans "a  b" (1 + 2 + 2 columns), cut with ~ when longer.
        assert_eq!(lines[3], "y     see ~  9");
        assert_eq!(
            crate::output::export::Markdown.table(&t).lines().last(),
            Some("| y | see row x |  | 9 |")
        );
    }
}
