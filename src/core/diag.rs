//! Problems found in the user's inputs, as miette diagnostics that name the file.
//!
//! Cedar's own errors carry the source text but not the file name (miette 7.6 keeps the error's
//! unnamed source even under `with_source_code`), and serde-saphyr errors carry a location but no
//! text. Both are turned into one [`Problem`] type that holds the [`SourceFile`] and a byte span,
//! so every message renders the same way: file, line and column, source underlined.

use std::fmt;
use std::sync::{Arc, OnceLock};

use miette::{Diagnostic, LabeledSpan, MietteError, SourceSpan, SpanContents};

/// One loaded text file: its display path (relative to the workspace) and its contents.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub text: Arc<str>,
    /// Where each line starts, computed once: finding a place is a binary search, so thousands
    /// of problems in one file cost no more than reading it.
    line_starts: OnceLock<Vec<usize>>,
    /// The text as shown in a snippet: control characters replaced by placeholders of the same
    /// length, so a file cannot drive the terminal that shows it.
    shown: OnceLock<Arc<str>>,
}

impl SourceFile {
    pub fn new(path: impl Into<String>, text: impl Into<Arc<str>>) -> Arc<Self> {
        Arc::new(Self {
            path: path.into(),
            text: text.into(),
            line_starts: OnceLock::new(),
            shown: OnceLock::new(),
        })
    }

    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        })
    }

    fn shown(&self) -> &Arc<str> {
        self.shown.get_or_init(|| {
            if !self.text.chars().any(unsafe_control) {
                return self.text.clone();
            }
            let mut out = String::with_capacity(self.text.len());
            let mut chars = self.text.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '\r' if chars.peek() == Some(&'\n') => out.push(c),
                    c if unsafe_control(c) => {
                        // Same byte length: spans stay where they are.
                        out.push_str(if c.len_utf8() == 1 { "?" } else { "¿" });
                    }
                    c => out.push(c),
                }
            }
            out.into()
        })
    }

    /// The bytes of line `index` (0-based), its line break left out.
    fn line_bounds(&self, index: usize) -> (usize, usize) {
        let starts = self.line_starts();
        let from = starts.get(index).copied().unwrap_or(self.text.len());
        let to = starts.get(index + 1).map_or(self.text.len(), |&s| s - 1);
        (from, to)
    }

    /// Whether line `index` (0-based) is too long to show whole in a snippet.
    fn is_long(&self, index: usize) -> bool {
        let (from, to) = self.line_bounds(index);
        to - from > LONG_LINE
    }

    /// The span `(offset, len)` as a snippet underlines it: on a long line, at most
    /// [`LONG_LINE_SPAN`] bytes of it (a whole minified entity would be the whole window).
    fn shown_span(&self, offset: usize, len: usize) -> (usize, usize) {
        let starts = self.line_starts();
        let line = starts.partition_point(|&s| s <= offset).saturating_sub(1);
        if !self.is_long(line) {
            return (offset, len);
        }
        let (_, line_end) = self.line_bounds(line);
        let end = (offset + len).min(line_end).min(offset + LONG_LINE_SPAN);
        (offset, ceil_char(&self.text, end.max(offset)) - offset)
    }

    /// Byte offset of a 1-based line and (character) column, clamped to the text.
    pub fn offset_of(&self, line: u64, column: u64) -> usize {
        let starts = self.line_starts();
        let Some(&start) = usize::try_from(line)
            .ok()
            .and_then(|l| l.checked_sub(1))
            .and_then(|l| starts.get(l))
        else {
            return self.text.len();
        };
        let end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i + 1);
        let l = &self.text[start..end];
        let col = column.saturating_sub(1) as usize;
        start + l.char_indices().nth(col).map_or(l.len(), |(b, _)| b)
    }

    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let starts = self.line_starts();
        let line = starts.partition_point(|&s| s <= offset).max(1);
        let start = starts.get(line - 1).copied().unwrap_or(0);
        let column = self
            .text
            .get(start..offset)
            .map_or(0, |s| s.chars().count())
            + 1;
        (line, column)
    }
}

/// A line longer than this (bytes) is shown as a piece around the problem, not whole.
const LONG_LINE: usize = 240;
/// Bytes shown on each side of a problem on a long line.
const LONG_LINE_CONTEXT: usize = 60;
/// Bytes of a problem's span underlined on a long line.
const LONG_LINE_SPAN: usize = 80;

/// The nearest character boundary of `text` at or before `i`.
fn floor_char(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The nearest character boundary of `text` at or after `i`.
fn ceil_char(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// A control character a terminal could act on (line breaks and tabs excepted).
fn unsafe_control(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// The file's text as miette reads it for a snippet: only the lines around the span are
/// scanned (miette's own reader scans from the start of the text for every problem), and control
/// characters are shown as placeholders.
impl miette::SourceCode for SourceFile {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let file = self;
        let text: &'a str = file.shown();
        let starts = file.line_starts();
        let (start, end) = (span.offset(), span.offset() + span.len());
        if end > text.len() {
            return Err(MietteError::OutOfBounds);
        }
        // A window of whole lines around the span, with room for the context lines; miette's
        // reader then runs on the window alone, and its answer is moved back into the file.
        let first = starts.partition_point(|&s| s <= start).saturating_sub(1);
        let last = starts.partition_point(|&s| s < end.max(start + 1));
        // Context lines stop at a long line, which would be shown whole.
        let from_line = |first: usize| {
            (first.saturating_sub(before)..first)
                .rev()
                .find(|&l| file.is_long(l))
                .map_or(first.saturating_sub(before), |l| l + 1)
        };
        let to_line = |last: usize| {
            (last + 1..=last + after)
                .take_while(|&l| l < starts.len() && !file.is_long(l))
                .last()
                .unwrap_or(last)
        };
        let line_end = |line: usize| starts.get(line + 1).copied().unwrap_or(text.len());
        // A long line (a minified JSON inventory is one line of megabytes) is shown as a piece
        // around the span, with the context lines the piece reaches; miette's reading for the
        // place (`before` 0) stays as it is.
        if before + after > 0 && file.is_long(first) {
            let (line_start, end_of_line) = file.line_bounds(first);
            let from = floor_char(
                text,
                start.saturating_sub(LONG_LINE_CONTEXT).max(line_start),
            );
            let to = end.max(start + 1) + LONG_LINE_CONTEXT;
            let to = ceil_char(text, to.min(from + LONG_LINE).min(end_of_line).max(from));
            // Context lines only where the piece reaches the line's start or end.
            let (from_line, from) = if from == line_start {
                let l = from_line(first);
                (l, starts[l])
            } else {
                (first, from)
            };
            let (to_line, to) = if to == end_of_line {
                let l = to_line(first);
                (l, line_end(l))
            } else {
                (first, to)
            };
            return Ok(Box::new(miette::MietteSpanContents::new_named(
                file.path.clone(),
                &text.as_bytes()[from..to],
                SourceSpan::new(from.into(), to - from),
                from_line,
                0,
                to_line - from_line + 1,
            )));
        }
        let from_line = from_line(first);
        let to = line_end(to_line(last));
        let from = starts.get(from_line).copied().unwrap_or(0);
        let window = &text[from..to];
        let inner = window.read_span(
            &SourceSpan::new((start - from).into(), span.len()),
            before,
            after,
        )?;
        let at = inner.span();
        Ok(Box::new(miette::MietteSpanContents::new_named(
            file.path.clone(),
            inner.data(),
            SourceSpan::new((at.offset() + from).into(), at.len()),
            inner.line() + from_line,
            inner.column(),
            inner.line_count() + from_line,
        )))
    }
}

/// A problem in an input, with the place it was found when there is one.
#[derive(Debug, Clone)]
pub struct Problem {
    pub message: String,
    pub file: Option<Arc<SourceFile>>,
    /// Byte offset and length in `file`.
    pub span: Option<(usize, usize)>,
    pub label: Option<String>,
    pub help: Option<String>,
    /// The lint rule that found it (`IMP001 (unbounded-impersonation)`), for `check`.
    pub code: Option<String>,
    /// Warning or error; `None` renders as an error.
    pub severity: Option<miette::Severity>,
}

impl Problem {
    /// A problem with no file (bad flags, a missing folder given on the command line).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            file: None,
            span: None,
            label: None,
            help: None,
            code: None,
            severity: None,
        }
    }

    /// A problem in `file` as a whole (unreadable, empty folder).
    pub fn in_file(file: &Arc<SourceFile>, message: impl Into<String>) -> Self {
        Self::new(message).with_file(file)
    }

    /// A problem at a byte span of `file`.
    pub fn at(file: &Arc<SourceFile>, span: (usize, usize), message: impl Into<String>) -> Self {
        let mut p = Self::in_file(file, message);
        p.span = Some(span);
        p
    }

    /// A problem at a serde-saphyr location.
    pub fn at_location(
        file: &Arc<SourceFile>,
        location: &serde_saphyr::Location,
        message: impl Into<String>,
    ) -> Self {
        Self::at(file, span_of(file, location), message)
    }

    /// A problem at the place when there is one, else without a file.
    pub fn at_place(
        place: Option<(&Arc<SourceFile>, (usize, usize))>,
        message: impl Into<String>,
    ) -> Self {
        match place {
            Some((file, span)) => Self::at(file, span, message),
            None => Self::new(message),
        }
    }

    /// The same problem, moved to a byte span of `file` (for problems found away from it).
    pub fn placed(mut self, file: &Arc<SourceFile>, span: (usize, usize)) -> Self {
        self = self.with_file(file);
        self.span = Some(span);
        self
    }

    pub fn with_file(mut self, file: &Arc<SourceFile>) -> Self {
        self.file = Some(file.clone());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Whether the problem sits at the file's first token: the file is not of the kind expected
    /// at all (a schema path naming `/proc/self/environ`), and its text must not be quoted.
    pub fn at_first_token(&self) -> bool {
        let (Some(file), Some((offset, _))) = (&self.file, self.span) else {
            return false;
        };
        let first = file.text.len() - file.text.trim_start().len();
        offset <= first
    }

    /// For a file that is not of the kind expected: says so, and `why`, without quoting it.
    pub fn not_a(file: &Arc<SourceFile>, kind: &str, why: &str) -> Self {
        Self::new(format!("`{}` is not {kind}: {why}", file.path))
            .with_help("check the path: this file does not look like one at all")
    }

    /// A problem from any diagnostic without a place (an error enum of ours), keeping its help.
    pub fn from_diagnostic(d: &dyn Diagnostic) -> Self {
        let mut p = Self::new(d.to_string());
        p.help = d.help().map(|h| h.to_string());
        p
    }

    /// A Cedar diagnostic whose spans point into `file`'s text (when `file` is given).
    pub fn from_cedar(file: Option<&Arc<SourceFile>>, err: &dyn Diagnostic) -> Self {
        let mut p = Self::new(err.to_string());
        if let Some(help) = err.help() {
            p.help = Some(help.to_string());
        }
        if let Some(file) = file {
            p = p.with_file(file);
            let label = err
                .labels()
                .and_then(|l| l.min_by_key(|l| (l.offset(), l.len())));
            if let Some(label) = label {
                p.span = Some((label.offset(), label.len()));
                p.label = label.label().map(str::to_string);
                if p.message.starts_with("failed to resolve types") {
                    p.span = Some(first_use(&file.text, (label.offset(), label.len())));
                }
            }
        }
        p
    }

    /// The file path and the 1-based start and end (line, column) of the span, for SARIF and
    /// annotations. The end is exclusive, as SARIF's `endColumn`.
    pub fn region(&self) -> Option<(String, Option<Region>)> {
        let file = self.file.as_ref()?;
        let region = self.span.map(|(o, l)| Region {
            start: file.line_col(o),
            end: file.line_col(o + l),
        });
        Some((file.path.clone(), region))
    }

    /// The file path, line and column, for machine-readable output.
    pub fn location(&self) -> Option<(String, Option<(usize, usize)>)> {
        let file = self.file.as_ref()?;
        Some((file.path.clone(), self.span.map(|(o, _)| file.line_col(o))))
    }
}

/// The first whole-word use of the name at `span` in a schema's text. Cedar places an
/// undeclared type at one of its uses picked from a hash set, which differs from run to run;
/// a type that is not declared occurs only where it is used, so its first occurrence is a
/// place that does not depend on the run.
fn first_use(text: &str, span: (usize, usize)) -> (usize, usize) {
    let Some(name) = text.get(span.0..span.0 + span.1).filter(|n| !n.is_empty()) else {
        return span;
    };
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
    text.match_indices(name)
        .find(|(i, _)| {
            !word(text[..*i].chars().next_back()) && !word(text[i + name.len()..].chars().next())
        })
        .map_or(span, |(i, _)| (i, span.1))
}

/// A span as 1-based (line, column) pairs; `end` is exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub start: (usize, usize),
    pub end: (usize, usize),
}

/// A serde_json error's message without the " at line L column C" it ends with, and its
/// place (line and column from 1) when it has one: readers that report a place their own
/// way (a baseline, a line of a usage log) put it first, once.
pub fn json_error_parts(e: &serde_json::Error) -> (String, Option<(usize, usize)>) {
    let text = e.to_string();
    if e.line() == 0 {
        return (text, None);
    }
    let place = format!(" at line {} column {}", e.line(), e.column());
    match text.strip_suffix(&place) {
        Some(why) => (why.to_string(), Some((e.line(), e.column()))),
        None => (text, None),
    }
}

/// Byte span of a serde-saphyr location (its byte offset when known, else from line and column).
pub fn span_of(file: &SourceFile, location: &serde_saphyr::Location) -> (usize, usize) {
    let span = location.span();
    match (span.byte_offset(), span.byte_len()) {
        (Some(o), Some(l)) if (o as usize) <= file.text.len() => (o as usize, l as usize),
        _ => (
            file.offset_of(location.line(), location.column()),
            span.len() as usize,
        ),
    }
}

/// Text for a terminal: control characters (ESC, NUL, form feed, …) are shown as `\u{…}`
/// escapes, so no input can move the cursor, clear the screen or hide a line. Every human
/// output goes through it.
pub fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    // A control character is a byte below 0x20 or 0x7f, or U+0080–U+009F (0xc2 then a byte):
    // a text without any of those bytes is safe, found by a scan of bytes that the compiler
    // vectorises (reports of many megabytes go through here).
    let suspect = |b: &u8| (*b < 0x20 && *b != b'\n' && *b != b'\t') || *b == 0x7f || *b == 0xc2;
    if !text.as_bytes().iter().any(suspect) || !text.chars().any(unsafe_control) {
        return text.into();
    }
    text.chars()
        .map(|c| {
            if unsafe_control(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

/// The message as a terminal shows it (see [`terminal_safe`]).
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&terminal_safe(&self.message))
    }
}

impl std::error::Error for Problem {}

impl Diagnostic for Problem {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.code
            .as_ref()
            .map(|c| Box::new(c) as Box<dyn fmt::Display>)
    }

    fn severity(&self) -> Option<miette::Severity> {
        self.severity
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(terminal_safe(h).into_owned()) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.file.as_deref().map(|f| f as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let (offset, len) = self.span?;
        let (offset, len) = match &self.file {
            Some(file) if offset + len <= file.text.len() => file.shown_span(offset, len),
            _ => (offset, len),
        };
        let span = SourceSpan::new(offset.into(), len);
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            self.label.as_deref().map(|l| terminal_safe(l).into_owned()),
            span,
        ))))
    }
}

/// Renders problems for a terminal or a log, without colour unless asked.
pub fn render(problem: &Problem, color: bool) -> String {
    let theme = if color {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let handler = miette::GraphicalReportHandler::new_themed(theme).with_width(100);
    let mut out = String::new();
    if handler.render_report(&mut out, problem).is_err() {
        out = format!("error: {problem}\n");
    }
    // A problem without a file still says where it is not: keep the rendering as is.
    out
}

/// "1 case" / "2 cases".
pub fn plural(n: usize, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

/// An error and the errors under it, `: `-separated (Cedar's entity errors say what is wrong
/// only in their sources).
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text = format!("{text}: {c}");
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_safe_escapes_exactly_the_control_characters() {
        // The byte scan only decides when to look closer: every control character (C0, DEL,
        // C1) is escaped, and nothing else (multi-byte text whose bytes include 0xc2 or bytes
        // below 0xa0 included).
        for c in (0u32..0x800)
            .chain([0x2192, 0x202e, 0xfeff])
            .filter_map(char::from_u32)
        {
            let text = format!("a{c}b");
            let want = if c.is_control() && c != '\n' && c != '\t' {
                format!("a{}b", c.escape_unicode())
            } else {
                text.clone()
            };
            assert_eq!(terminal_safe(&text), want, "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn a_long_line_is_shown_as_a_piece_around_the_problem() {
        // A minified inventory is one line of megabytes: the snippet shows the problem's
        // surroundings, with its true place, and a long line is never shown as context.
        let long = format!("{}BAD{}", "x".repeat(5000), "é".repeat(5000));
        let text = format!("short\n{long}\nshort2\n");
        let file = SourceFile::new("min.json", text.clone());
        let on_long = Problem::at(&file, (text.find("BAD").unwrap(), 10_003), "bad value");
        let shown = render(&on_long, false);
        assert!(shown.len() < 1000, "{shown}");
        assert!(
            shown.contains("[min.json:2:5001]") && shown.contains("xxxBADéé"),
            "{shown}"
        );
        // At the start of a long line, the short line before it is context still.
        let at_start = Problem::at(&file, (6, 4), "bad start");
        let shown = render(&at_start, false);
        assert!(shown.len() < 1000, "{shown}");
        assert!(
            shown.contains(" 1 │ short\n") && shown.contains(" 2 │ xxxx"),
            "{shown}"
        );
        let after = Problem::at(&file, (text.find("short2").unwrap(), 6), "bad too");
        let shown = render(&after, false);
        assert!(shown.len() < 1000, "{shown}");
        assert!(
            shown.contains("[min.json:3:1]") && shown.contains("short2"),
            "{shown}"
        );
    }

    #[test]
    fn offsets_and_line_columns_round_trip() {
        let f = SourceFile::new("a.yaml", "ab\ncdé\nf");
        assert_eq!(f.offset_of(2, 3), 5);
        assert_eq!(f.line_col(5), (2, 3));
        assert_eq!(f.offset_of(3, 1), 8);
        assert_eq!(f.line_col(8), (3, 1));
        assert_eq!(f.offset_of(9, 1), f.text.len());
    }
}
