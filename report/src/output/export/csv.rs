//! The report as CSV: one row per machine and experiment (long format for
//! spreadsheets), and a table as its header line and rows. Every field
//! goes through `untrusted::csv_cell`, so a cell never starts a formula.

use super::{Exporter, RenderOptions};
use crate::model::schema::ResultFile;
use crate::model::untrusted;
use crate::output::report_tables as tables;
use crate::output::text_table::Table;

/// Comma-separated values (RFC 4180 quoting).
#[derive(Debug, Clone, Copy, Default)]
pub struct Csv;

impl Exporter for Csv {
    /// The header line, then one line per row (no title: a CSV file has
    /// nowhere to put one).
    fn table(&self, t: &Table) -> String {
        std::iter::once(&t.headers)
            .chain(&t.rows)
            .map(|r| csv_line(r))
            .collect()
    }

    /// The long format: the options choose tables the CSV has none of.
    fn report(&self, files: &[ResultFile], _: &RenderOptions) -> String {
        tables::csv_rows(files)
            .iter()
            .map(|r| csv_line(r))
            .collect()
    }
}

/// One CSV field, quoted when it holds a separator, quote or newline,
/// and never a formula (`untrusted::csv_cell`).
pub fn csv_field(s: &str) -> String {
    let s = untrusted::csv_cell(s);
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One CSV line from fields.
pub fn csv_line<S: AsRef<str>>(fields: &[S]) -> String {
    let mut s = fields
        .iter()
        .map(|f| csv_field(f.as_ref()))
        .collect::<Vec<_>>()
        .join(",");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes() {
        assert_eq!(csv_line(&["a", "b,c", "d\"e"]), "a,\"b,c\",\"d\"\"e\"\n");
    }

    #[test]
    fn a_table_is_its_header_and_rows() {
        let mut t = Table::new("not printed", &["name", "n"]);
        t.push(vec!["=cmd".into(), "1,5".into()]);
        assert_eq!(Csv.table(&t), "name,n\n'=cmd,\"1,5\"\n");
    }
}
