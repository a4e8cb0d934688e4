//! A plain table, and the layout rules every plain-text output shares
//! (`WIDTH`, `wrap`, `fit`: the report, compare, size, detect and run's
//! summary). Knows nothing about experiments: the report, compare and size
//! modules build `Table`s, `export` prints them (text, Markdown, CSV).

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
