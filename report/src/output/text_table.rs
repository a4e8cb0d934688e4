//! A plain table and its renderings: fixed-width text for mail (never
//! wider than `WIDTH`), Markdown and CSV. Knows nothing about experiments:
//! the report, compare and size modules build `Table`s, this prints them.

/// Plain-text mail convention: quoted replies must still fit 80 columns.
pub const WIDTH: usize = 72;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Printed above the header ("Kernel entry cost").
    pub title: String,
    pub headers: Vec<String>,
    pub align: Vec<Align>,
    pub rows: Vec<Vec<String>>,
    /// Per row: Some((first, last)) when its cell `first` is one text
    /// across columns first..=last (the others empty), left-aligned.
    pub spans: Vec<Option<(usize, usize)>>,
}

impl Table {
    /// A table whose first column is left-aligned and the rest right.
    pub fn new(title: &str, headers: &[&str]) -> Table {
        let align = (0..headers.len())
            .map(|i| if i == 0 { Align::Left } else { Align::Right })
            .collect();
        Table {
            title: title.into(),
            headers: headers.iter().map(|s| s.to_string()).collect(),
            align,
            rows: vec![],
            spans: vec![],
        }
    }

    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
        self.spans.push(None);
    }

    /// A row whose cell `first` is one text across columns first..=last
    /// (a note where figures would be): the columns keep the widths of
    /// the other rows, and the text is cut to the span if longer.
    pub fn push_spanning(&mut self, mut row: Vec<String>, first: usize, last: usize) {
        for c in row.iter_mut().take(last + 1).skip(first + 1) {
            c.clear();
        }
        self.rows.push(row);
        self.spans.push(Some((first, last)));
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Fixed-width text. Columns are two spaces apart; when the table would
    /// pass `WIDTH`, the first (label) column is shortened with "~" so the
    /// figures are never cut.
    pub fn render_text(&self) -> String {
        let ncol = self.headers.len();
        let cell = |r: &Vec<String>, i: usize| r.get(i).cloned().unwrap_or_default();
        let spanned = |ri: usize, i: usize| matches!(self.spans.get(ri), Some(Some((a, b))) if (*a..=*b).contains(&i));
        let mut widths: Vec<usize> = (0..ncol)
            .map(|i| {
                self.rows
                    .iter()
                    .enumerate()
                    .filter(|(ri, _)| !spanned(*ri, i))
                    .map(|(_, r)| cell(r, i).chars().count())
                    .chain([self.headers[i].chars().count()])
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
        if !self.title.is_empty() {
            for l in wrap(&self.title, WIDTH, "") {
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
                parts.push(match self.align.get(i).copied().unwrap_or(Align::Right) {
                    Align::Left => format!("{c:<w$}", w = widths[i]),
                    Align::Right => format!("{c:>w$}", w = widths[i]),
                });
            }
            let s = parts.join("  ");
            // A cell wider than the page (one huge label) is cut, never
            // allowed to break the width promise.
            fit(s.trim_end(), WIDTH)
        };
        out.push_str(&line(self.headers.clone(), None));
        out.push('\n');
        out.push_str(&line(widths.iter().map(|w| "-".repeat(*w)).collect(), None));
        out.push('\n');
        for (ri, r) in self.rows.iter().enumerate() {
            let span = self.spans.get(ri).copied().flatten();
            out.push_str(&line((0..ncol).map(|i| cell(r, i)).collect(), span));
            out.push('\n');
        }
        out
    }

    /// GitHub-flavoured Markdown: a bold title line and a pipe table.
    pub fn render_markdown(&self) -> String {
        let esc = |s: &str| crate::model::untrusted::markdown(s).replace('|', "\\|");
        let mut out = String::new();
        if !self.title.is_empty() {
            out.push_str(&format!("**{}**\n\n", esc(&self.title)));
        }
        out.push_str(&format!(
            "| {} |\n",
            self.headers
                .iter()
                .map(|h| esc(h))
                .collect::<Vec<_>>()
                .join(" | ")
        ));
        let seps: Vec<&str> = self
            .align
            .iter()
            .map(|a| if *a == Align::Left { ":---" } else { "---:" })
            .collect();
        out.push_str(&format!("| {} |\n", seps.join(" | ")));
        for r in &self.rows {
            out.push_str(&format!(
                "| {} |\n",
                r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
            ));
        }
        out
    }
}

/// Cuts `s` to `w` characters, marking the cut with "~".
pub fn fit(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        return s.to_string();
    }
    let mut t: String = s.chars().take(w.saturating_sub(1)).collect();
    t.push('~');
    t
}

/// Word-wraps `text` to `width`, continuation lines prefixed with
/// `indent`. A word that fits the width but not after the indent (a long
/// URL in a citation) gets its line without the indent rather than lose
/// characters; only words longer than the width are cut (never
/// overflow). The one wrap of the project: `detect` uses it too.
pub fn wrap(text: &str, width: usize, indent: &str) -> Vec<String> {
    wrap_with(text, width, "", indent)
}

/// `wrap` with `first` before the first line too (`detect` indents a
/// whole paragraph); the same rule keeps a long word whole.
pub fn wrap_with(text: &str, width: usize, first: &str, indent: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    let line = |lines: &Vec<String>, cur: &str| {
        let prefix = if lines.is_empty() { first } else { indent };
        if prefix.chars().count() + cur.chars().count() > width {
            fit(cur, width)
        } else {
            format!("{prefix}{cur}")
        }
    };
    for word in text.split_whitespace() {
        let prefix = if lines.is_empty() { first } else { indent };
        let room = width.saturating_sub(prefix.chars().count());
        let candidate_len =
            cur.chars().count() + usize::from(!cur.is_empty()) + word.chars().count();
        if !cur.is_empty() && candidate_len > room {
            lines.push(line(&lines, &cur));
            cur.clear();
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(line(&lines, &cur));
    }
    lines
}

/// One CSV field, quoted when it holds a separator, quote or newline,
/// and never a formula (`untrusted::csv_cell`).
pub fn csv_field(s: &str) -> String {
    let s = crate::model::untrusted::csv_cell(s);
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
    fn text_fits_and_aligns() {
        let mut t = Table::new("Title", &["name", "value"]);
        t.push(vec!["a".into(), "1".into()]);
        t.push(vec!["x".repeat(100), "12345".into()]);
        let s = t.render_text();
        assert!(s.lines().all(|l| l.chars().count() <= WIDTH), "{s}");
        assert!(s.contains("~  12345"), "{s}");
        assert!(s.lines().nth(3).unwrap().ends_with("    1"), "{s}");
    }

    #[test]
    fn wrap_width() {
        let w = wrap("one two three four five six seven", 10, "  ");
        assert!(w.iter().all(|l| l.len() <= 10), "{w:?}");
        assert_eq!(w[0], "one two");
        assert!(w[1].starts_with("  "));
        assert_eq!(wrap(&"y".repeat(20), 8, "")[0].len(), 8);
        // A word that fits the width only without the indent keeps all
        // its characters (a citation's URL).
        let url = format!("({}).", "u".repeat(8));
        let w = wrap(&format!("see {url}"), 11, "  ");
        assert_eq!(w, ["see", url.as_str()]);
        // Indented from the first line on, with the same rule.
        let w = wrap_with(&format!("see it {url}"), 11, "  ", "  ");
        assert_eq!(w, ["  see it", url.as_str()]);
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
        let s = t.render_text();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "name  a   b  c");
        assert_eq!(lines[2], "x     1  22  3");
        // Spans "a  b" (1 + 2 + 2 columns), cut with ~ when longer.
        assert_eq!(lines[3], "y     see ~  9");
        assert_eq!(
            t.render_markdown().lines().last(),
            Some("| y | see row x |  | 9 |")
        );
    }

    #[test]
    fn csv_quotes() {
        assert_eq!(csv_line(&["a", "b,c", "d\"e"]), "a,\"b,c\",\"d\"\"e\"\n");
    }

    #[test]
    fn markdown_escapes() {
        let mut t = Table::new("", &["a|b", "c"]);
        t.push(vec!["x".into(), "1".into()]);
        let m = t.render_markdown();
        assert!(
            m.starts_with("| a\\|b | c |\n| :--- | ---: |\n| x | 1 |"),
            "{m}"
        );
    }
}
