//! Escaping, one function per output kind, used by every renderer of that kind. Every string
//! an output carries may come from an input (entity ids, policy ids and annotations, case names,
//! a baseline), so each is made inert for the consumer that reads it: a spreadsheet, a Markdown
//! renderer, a terminal, a SARIF viewer. (HTML and JUnit XML escape through their libraries.)

/// A CSV cell a spreadsheet will not run: a cell starting with `=`, `+`, `-`, `@`, a tab or a
/// carriage return is prefixed with `'` (OWASP's advice against formula injection). The CSV
/// writer quotes what CSV needs quoted.
pub fn csv_cell(text: &str) -> std::borrow::Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}").into(),
        _ => text.into(),
    }
}

/// Text for a `#` comment line of a CSV file: control characters (a line break would end the
/// comment and start a row) become `?`.
pub fn csv_comment(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Markdown text: characters that would start emphasis, code, links, HTML or a table cell are
/// backslash-escaped, `&` is written as an entity, and line breaks become spaces (a value never
/// starts a new block or ends a table row).
pub fn markdown_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A Markdown code span holding `text` literally: the fence is one backtick longer than the
/// longest run inside, padded with spaces where the text touches a backtick; line breaks become
/// spaces. For prose: a `|` stays as it is (outside a table, `\|` in a code span shows the
/// backslash); in a table cell use [`markdown_cell_code`].
pub fn markdown_code(text: &str) -> String {
    code_span(text, false)
}

/// [`markdown_code`] for a table cell: `|` is escaped (GitHub reads `\|` as `|` in a code span
/// inside a table, and a bare `|` ends the cell).
pub fn markdown_cell_code(text: &str) -> String {
    code_span(text, true)
}

fn code_span(text: &str, in_cell: bool) -> String {
    let text: String = text
        .chars()
        .map(|c| {
            if c == '\n' || c == '\r' || c.is_control() {
                ' '
            } else {
                c
            }
        })
        .collect();
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    let text = if in_cell {
        text.replace('|', "\\|")
    } else {
        text
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// A fence for a Markdown code block holding `text`: longer than any backtick run inside.
pub fn markdown_fence(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat((longest + 1).max(3))
}

/// A fragment id for an HTML anchor: lower-case letters, digits and `-` only.
pub fn slug(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

pub use crate::core::diag::terminal_safe as terminal;

/// A relative path as a URI reference (SARIF's `artifactLocation.uri`): every byte outside the
/// unreserved set and `/` percent-encoded.
pub fn uri_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_never_start_a_formula() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        for bad in ["+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(csv_cell(bad).starts_with('\''), "{bad:?}");
        }
        assert_eq!(csv_cell("User::\"alice\""), "User::\"alice\"");
    }

    #[test]
    fn markdown_values_stay_values() {
        assert_eq!(
            markdown_text("a|b <img src=x> *c*"),
            "a\\|b \\<img src=x\\> \\*c\\*"
        );
        assert_eq!(markdown_text("x\ny"), "x y");
        assert_eq!(markdown_code("User::\"a\""), "`User::\"a\"`");
        assert_eq!(markdown_code("a`b"), "``a`b``");
        assert_eq!(markdown_code("`x"), "`` `x ``");
        assert_eq!(markdown_code("a|b"), "`a|b`");
        assert_eq!(markdown_cell_code("a|b"), "`a\\|b`");
        assert_eq!(markdown_fence("s = \"```\""), "````");
        assert_eq!(slug("a#1\" onmouseover=x"), "a-1--onmouseover-x");
    }

    #[test]
    fn terminal_text_cannot_control_the_terminal() {
        assert_eq!(terminal("plain\nlines\ttabbed"), "plain\nlines\ttabbed");
        assert_eq!(terminal("a\u{1b}[2Jb\0c"), "a\\u{1b}[2Jb\\u{0}c");
    }

    #[test]
    fn uris_are_percent_encoded() {
        assert_eq!(uri_path("policies/a b#1.cedar"), "policies/a%20b%231.cedar");
        assert_eq!(uri_path("x/é"), "x/%C3%A9");
    }
}
