//! Text from files other people made (a shared result file, a CPUID dump,
//! a profile) must not act where it is shown. Control characters are
//! dropped when a file is read (an ESC sequence in a host name would drive
//! the reader's terminal); on output, Markdown gets no raw HTML and a CSV
//! cell no formula.

use serde_json::Value;
use std::borrow::Cow;

/// Characters that change how text reads without being seen: C0, DEL and
/// C1 controls, and the bidirectional embeddings, overrides and isolates
/// (U+202A..U+202E, U+2066..U+2069) that can reorder a line.
fn hidden(c: char) -> bool {
    c.is_control()
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// `s` without terminal escape sequences and hidden characters; a tab or
/// line break becomes a space. Whole sequences go, not just their ESC:
/// dropping the ESC of "entry.\x1b[2Jnull" alone would show
/// "entry.[2Jnull". anstream's parser (the DEC ANSI state machine) knows
/// where a CSI, OSC, DCS or other string sequence ends; C1 controls
/// written as characters (U+0080..U+009F) are first spelt as the ESC
/// sequences they stand for (ECMA-48 5.3: U+009B is ESC [), so the 8-bit
/// forms go whole too.
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(hidden) {
        return Cow::Borrowed(s);
    }
    let mut seven = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\u{80}'..='\u{9f}' => {
                seven.push('\u{1b}');
                seven.push(char::from(c as u8 - 0x40));
            }
            c => seven.push(c),
        }
    }
    let stripped = anstream::adapter::strip_str(&seven).to_string();
    Cow::Owned(
        stripped
            .chars()
            .filter_map(|c| match c {
                '\t' | '\n' | '\r' => Some(' '),
                c if hidden(c) => None,
                c => Some(c),
            })
            .collect(),
    )
}

/// Every string and object key of a JSON value made `printable`.
pub fn clean_json(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Cow::Owned(clean) = printable(s) {
                *s = clean;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(clean_json),
        Value::Object(m) => {
            if m.keys().any(|k| matches!(printable(k), Cow::Owned(_))) {
                *m = std::mem::take(m)
                    .into_iter()
                    .map(|(k, v)| (printable(&k).into_owned(), v))
                    .collect();
            }
            m.values_mut().for_each(clean_json);
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Markdown text that holds no raw HTML: `&` and `<` as entities (a `<`
/// opens a tag; an `&` could spell one as an entity). Renders as typed.
pub fn markdown(s: &str) -> Cow<'_, str> {
    if !s.contains(['&', '<']) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.replace('&', "&amp;").replace('<', "&lt;"))
}

/// A CSV cell a spreadsheet shows rather than runs: one starting with
/// `=`, `+`, `-`, `@`, a tab or a carriage return that is not a plain
/// number (`-3.5` and `+570` stay numbers) gets a leading `'`, as OWASP
/// advises for CSV injection.
pub fn csv_cell(s: &str) -> Cow<'_, str> {
    let risky = s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && s.parse::<f64>().is_err() {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_dropped() {
        assert_eq!(printable("plain host"), "plain host");
        assert_eq!(printable("a\u{1b}[31mb\u{7}"), "ab");
        assert_eq!(printable("x\ty\nz"), "x y z");
        assert_eq!(printable("\u{202E}gnp.exe\u{9b}"), "gnp.exe");
        assert_eq!(printable("Zen 4 (EPYC 9654)"), "Zen 4 (EPYC 9654)");
        // ESC o is a whole sequence (LS3): the o goes with it, as on a
        // terminal.
        let mut v = serde_json::json!({"h\u{1b}ost": ["\u{1b}]0;pwned\u{7}", 1, {"k": "v\u{0}"}]});
        clean_json(&mut v);
        assert_eq!(v, serde_json::json!({"hst": ["", 1, {"k": "v"}]}));
    }

    #[test]
    fn whole_escape_sequences_go_not_just_their_esc() {
        for (raw, want) in [
            // CSI: erase the screen, colours, cursor moves.
            ("entry.\u{1b}[2Jnull", "entry.null"),
            ("entry.\u{1b}[1;31mnull\u{1b}[0m", "entry.null"),
            ("a\u{1b}[?25lb\u{1b}[10;20Hc", "abc"),
            // OSC ended by BEL or by ST (ESC \): a title, a hyperlink.
            ("box\u{1b}]0;pwned\u{7}1", "box1"),
            ("\u{1b}]8;;http://x/\u{1b}\\link\u{1b}]8;;\u{1b}\\", "link"),
            // The 8-bit forms: CSI (U+009B), OSC (U+009D) ended by ST (U+009C).
            ("entry.\u{9b}2Jnull", "entry.null"),
            ("h\u{9d}0;t\u{9c}ost", "host"),
            // DCS and other two-byte escapes.
            ("a\u{1b}Pq#0;2;0;0;0\u{1b}\\b", "ab"),
            ("a\u{1b}7b\u{1b}cc", "abc"),
            // Unicode text around them stays.
            ("Zürich \u{1b}[31m°C", "Zürich °C"),
        ] {
            assert_eq!(printable(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn markdown_has_no_raw_html() {
        assert_eq!(markdown("Linux >= 6.15"), "Linux >= 6.15");
        assert_eq!(
            markdown("<img src=x onerror=alert(1)> & co"),
            "&lt;img src=x onerror=alert(1)> &amp; co"
        );
    }

    #[test]
    fn csv_formulas_are_neutralised_numbers_are_not() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("+cmd"), "'+cmd");
        assert_eq!(csv_cell("-3.5"), "-3.5");
        assert_eq!(csv_cell("+570"), "+570");
        assert_eq!(csv_cell("entry.getpid"), "entry.getpid");
    }
}
