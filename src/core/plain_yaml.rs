//! A fast reader for plainly written YAML: the block mappings and sequences, one-line flow
//! collections and one-line scalars that generated scenario files are made of.
//!
//! serde-saphyr's scanner and event layer were a third of `actas test`'s work on a
//! 20,000-case scenario file (about 25 µs a case). This reader takes the same text to the same
//! values, places included ([`Spanned`] fields get the line, column, character and byte span
//! serde-saphyr gives them), at a fraction of the cost. It reads only a narrow subset and
//! declines everything else (`None`), so the caller reads the text with serde-saphyr as
//! before: anchors, aliases, tags, block scalars, multi-line scalars, escapes, tabs, carriage
//! returns, nulls, YAML 1.1 words (`y`, `yes`, `off`, …), floats, nested flow collections,
//! duplicate keys, and any value the target type does not take as it is (a number where a
//! string is wanted, an unknown field). A problem is therefore always reported by
//! serde-saphyr, in its words.
//!
//! [`Spanned`] is filled through serde-saphyr's own representation of it (a newtype named
//! `__yaml_spanned` holding a map with a marker key). That is private to serde-saphyr, so the
//! first use checks, on a small document that has every construct this reader takes, that
//! both readers agree; if a later serde-saphyr disagrees, this reader is never used.

use std::borrow::Cow;
use std::sync::OnceLock;

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};

/// `T` read from `text`, or `None` when the text is not in the subset this reader takes or
/// `T` does not take it as it is (serde-saphyr is then the reader).
pub fn from_str<T: DeserializeOwned>(text: &str) -> Option<T> {
    if !agrees() {
        return None;
    }
    read(text)
}

fn read<T: DeserializeOwned>(text: &str) -> Option<T> {
    let root = Parser::new(text)?.document()?;
    T::deserialize(&root).ok()
}

/// Nesting this reader takes (a scenario file needs four: file, cases, case, context).
const MAX_DEPTH: usize = 8;

/// Where a node is, as serde-saphyr's `Location` has it: 1-based line and column (in
/// characters), and the span in characters and in bytes.
#[derive(Debug, Clone, Copy)]
struct Place {
    line: u32,
    column: u32,
    offset: u32,
    len: u32,
    byte: u32,
    byte_len: u32,
}

#[derive(Debug)]
enum Kind<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Bool(bool),
    Map(Vec<(Node<'a>, Node<'a>)>),
    Seq(Vec<Node<'a>>),
}

#[derive(Debug)]
struct Node<'a> {
    kind: Kind<'a>,
    at: Place,
}

/// A line that holds something (not blank, not only a comment).
struct Line<'a> {
    /// 1-based.
    number: u32,
    text: &'a str,
    /// Byte and character offset of the line's start in the whole text.
    byte: usize,
    chars: usize,
    indent: usize,
}

struct Parser<'a> {
    lines: Vec<Line<'a>>,
    /// The next line to read.
    next: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Option<Self> {
        if text.contains(['\t', '\r', '\u{feff}']) || u32::try_from(text.len()).is_err() {
            return None;
        }
        let mut lines = Vec::new();
        let (mut byte, mut chars) = (0, 0);
        for (i, raw) in text.split('\n').enumerate() {
            let content = raw.trim_start_matches(' ');
            if !(content.is_empty() || content.starts_with('#')) {
                if raw.starts_with("---") || raw.starts_with("...") || raw.starts_with('%') {
                    return None;
                }
                lines.push(Line {
                    number: u32::try_from(i + 1).ok()?,
                    text: raw,
                    byte,
                    chars,
                    indent: raw.len() - content.len(),
                });
            }
            byte += raw.len() + 1;
            chars += if raw.is_ascii() {
                raw.len()
            } else {
                raw.chars().count()
            } + 1;
        }
        Some(Self { lines, next: 0 })
    }

    /// The document: a block collection at column 0.
    fn document(&mut self) -> Option<Node<'a>> {
        let first = self.lines.first()?;
        if first.indent != 0 {
            return None;
        }
        let node = self.block(0, 0, 0)?;
        (self.next == self.lines.len()).then_some(node)
    }

    /// The place of `len` bytes at byte `at` of line `line`.
    fn place(&self, line: usize, at: usize, len: usize) -> Option<Place> {
        let l = &self.lines[line];
        let before = l.text.get(..at)?;
        let token = l.text.get(at..at + len)?;
        let column = if before.is_ascii() {
            before.len()
        } else {
            before.chars().count()
        };
        let chars = if token.is_ascii() {
            token.len()
        } else {
            token.chars().count()
        };
        Some(Place {
            line: l.number,
            column: u32::try_from(column + 1).ok()?,
            offset: u32::try_from(l.chars + column).ok()?,
            len: u32::try_from(chars).ok()?,
            byte: u32::try_from(l.byte + at).ok()?,
            byte_len: u32::try_from(len).ok()?,
        })
    }

    /// A block collection starting at byte `column` of the next line (after its indentation
    /// or a `- `): a sequence if it starts with `- `, else a mapping.
    fn block(&mut self, column: usize, depth: usize, line: usize) -> Option<Node<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        let text = self.lines[line].text.get(column..)?;
        if text.starts_with("- ") {
            self.sequence(column, depth, line, false)
        } else {
            self.mapping(column, depth, line)
        }
    }

    /// A block sequence whose `- ` are at byte `column`; its first item on line `line`.
    /// `indentless`: at the indentation of the key it is the value of, where serde-saphyr
    /// places it at its first item's content rather than at its first `-`.
    fn sequence(
        &mut self,
        column: usize,
        depth: usize,
        line: usize,
        indentless: bool,
    ) -> Option<Node<'a>> {
        let mut at = None;
        let mut items = Vec::new();
        let mut line = line;
        loop {
            let text = self.lines[line].text;
            let rest = text.get(column..)?.strip_prefix("- ")?;
            let start = column + 2 + (rest.len() - rest.trim_start_matches(' ').len());
            if at.is_none() {
                at = Some(self.place(line, if indentless { start } else { column }, 0)?);
            }
            if key_len(text.get(start..)?).is_some() {
                items.push(self.mapping(start, depth + 1, line)?);
            } else {
                items.push(self.inline(line, start)?);
                self.next = line + 1;
                self.after_value(column)?;
            }
            match self.lines.get(self.next) {
                Some(l) if l.indent == column && l.text[column..].starts_with("- ") => {
                    line = self.next;
                }
                Some(l) if l.indent > column => return None,
                _ => break,
            }
        }
        Some(Node {
            kind: Kind::Seq(items),
            at: at?,
        })
    }

    /// A block mapping whose keys are at byte `column`; its first key on line `line`.
    fn mapping(&mut self, column: usize, depth: usize, line: usize) -> Option<Node<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        let at = self.place(line, column, 0)?;
        let mut entries: Vec<(Node<'a>, Node<'a>)> = Vec::new();
        let mut line = line;
        loop {
            let text = self.lines[line].text;
            let from_key = text.get(column..)?;
            let len = key_len(from_key)?;
            let key = Node {
                kind: Kind::Str(Cow::Borrowed(&from_key[..len])),
                at: self.place(line, column, len)?,
            };
            if entries.iter().any(|(k, _)| same_key(k, &key)) {
                return None;
            }
            let after = &from_key[len + 1..];
            let value_at = column + len + 1 + (after.len() - after.trim_start_matches(' ').len());
            let inline = text.get(value_at..)?;
            let value = if inline.is_empty() || inline.starts_with('#') {
                // The value is a block collection on the lines below: indented more, or a
                // sequence at the key's own indentation.
                let below = self.lines.get(line + 1)?;
                if below.indent > column {
                    self.block(below.indent, depth + 1, line + 1)?
                } else if below.indent == column && below.text[column..].starts_with("- ") {
                    self.sequence(column, depth + 1, line + 1, true)?
                } else {
                    return None;
                }
            } else {
                let value = self.inline(line, value_at)?;
                self.next = line + 1;
                self.after_value(column)?;
                value
            };
            entries.push((key, value));
            match self.lines.get(self.next) {
                Some(l) if l.indent == column && !l.text[column..].starts_with("- ") => {
                    line = self.next;
                }
                Some(l) if l.indent > column => return None,
                _ => break,
            }
        }
        Some(Node {
            kind: Kind::Map(entries),
            at,
        })
    }

    /// After a one-line value in a collection at byte `column`: the next line may not be
    /// indented more (that would continue the value on the next line).
    fn after_value(&self, column: usize) -> Option<()> {
        match self.lines.get(self.next) {
            Some(l) if l.indent > column => None,
            _ => Some(()),
        }
    }

    /// A one-line value at byte `at` of line `line`, with at most a comment after it.
    fn inline(&self, line: usize, at: usize) -> Option<Node<'a>> {
        let text = self.lines[line].text;
        let rest = text.get(at..)?;
        let (node, len) = match rest.as_bytes().first()? {
            b'{' | b'[' => self.flow(line, at)?,
            b'\'' | b'"' => self.quoted(line, at)?,
            _ => {
                let end = rest.find(" #").unwrap_or(rest.len());
                let plain = rest[..end].trim_end_matches(' ');
                let kind = resolve(plain, false)?;
                return Some(Node {
                    kind,
                    at: self.place(line, at, plain.len())?,
                });
            }
        };
        let tail = rest[len..].trim_start_matches(' ');
        (tail.is_empty() || (tail.starts_with('#') && tail.len() < rest.len() - len))
            .then_some(node)
    }

    /// A quoted scalar at byte `at` of line `line`, and its length in bytes.
    fn quoted(&self, line: usize, at: usize) -> Option<(Node<'a>, usize)> {
        let rest = self.lines[line].text.get(at..)?;
        let quote = rest.chars().next()?;
        let body = &rest[1..];
        let mut end = 0;
        let mut doubled = false;
        loop {
            let i = end + body[end..].find(quote)?;
            if quote == '\'' && body[i + 1..].starts_with('\'') {
                doubled = true;
                end = i + 2;
                continue;
            }
            end = i;
            break;
        }
        let inner = &body[..end];
        if !inner.chars().all(plain_char) || (quote == '"' && inner.contains('\\')) {
            return None;
        }
        let value = if doubled {
            Cow::Owned(inner.replace("''", "'"))
        } else {
            Cow::Borrowed(inner)
        };
        let len = end + 2;
        Some((
            Node {
                kind: Kind::Str(value),
                at: self.place(line, at, len)?,
            },
            len,
        ))
    }

    /// A one-line flow mapping or sequence of scalars at byte `at` of line `line`, and its
    /// length in bytes.
    fn flow(&self, line: usize, at: usize) -> Option<(Node<'a>, usize)> {
        let text = self.lines[line].text;
        let map = text.as_bytes()[at] == b'{';
        let close = if map { b'}' } else { b']' };
        let mut i = skip_spaces(text, at + 1);
        let mut entries = Vec::new();
        let mut items = Vec::new();
        if text.as_bytes().get(i) != Some(&close) {
            loop {
                let quoted_key = matches!(text.as_bytes().get(i), Some(b'\'' | b'"'));
                let (first, len) = self.flow_scalar(line, i)?;
                i = skip_spaces(text, i + len);
                if map {
                    if !matches!(first.kind, Kind::Str(_)) || text.as_bytes().get(i) != Some(&b':')
                    {
                        return None;
                    }
                    // `key:value` is one scalar unless the key is quoted.
                    if !quoted_key && text.as_bytes().get(i + 1) != Some(&b' ') {
                        return None;
                    }
                    i = skip_spaces(text, i + 1);
                    let (value, len) = self.flow_scalar(line, i)?;
                    i = skip_spaces(text, i + len);
                    if entries.iter().any(|(k, _)| same_key(k, &first)) {
                        return None;
                    }
                    entries.push((first, value));
                } else {
                    items.push(first);
                }
                match text.as_bytes().get(i)? {
                    b',' => {
                        i = skip_spaces(text, i + 1);
                        if text.as_bytes().get(i) == Some(&close) {
                            return None;
                        }
                    }
                    b if *b == close => break,
                    _ => return None,
                }
            }
        }
        let kind = if map {
            Kind::Map(entries)
        } else {
            Kind::Seq(items)
        };
        Some((
            Node {
                kind,
                at: self.place(line, at, 1)?,
            },
            i + 1 - at,
        ))
    }

    /// A scalar inside a flow collection at byte `at`, and its length in bytes.
    fn flow_scalar(&self, line: usize, at: usize) -> Option<(Node<'a>, usize)> {
        let text = self.lines[line].text;
        match text.as_bytes().get(at)? {
            b'\'' | b'"' => self.quoted(line, at),
            _ => {
                let len = text[at..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || "_.-/".contains(c)))
                    .unwrap_or(text.len() - at);
                let kind = resolve(&text[at..at + len], true)?;
                Some((
                    Node {
                        kind,
                        at: self.place(line, at, len)?,
                    },
                    len,
                ))
            }
        }
    }
}

fn skip_spaces(text: &str, from: usize) -> usize {
    from + text
        .get(from..)
        .map_or(0, |t| t.len() - t.trim_start_matches(' ').len())
}

/// The length of a plain mapping key at the start of `text` when `text` is `key:` followed by
/// a space or the end of the line.
fn key_len(text: &str) -> Option<usize> {
    let len = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(text.len());
    let first = text.bytes().next()?;
    if len == 0 || !(first.is_ascii_alphabetic() || first == b'_') {
        return None;
    }
    let after = &text[len..];
    (after == ":" || after.starts_with(": ")).then_some(len)
}

fn same_key(a: &Node<'_>, b: &Node<'_>) -> bool {
    matches!((&a.kind, &b.kind), (Kind::Str(x), Kind::Str(y)) if x == y)
}

/// A character this reader takes inside a scalar: printable ASCII, and letters and digits of
/// other scripts (no control, format or separator characters, which YAML treats apart).
fn plain_char(c: char) -> bool {
    (' '..='~').contains(&c) || (!c.is_ascii() && c.is_alphanumeric())
}

/// A plain scalar's value as YAML's core schema (and serde-saphyr) types it, or `None` for
/// anything that is or might be typed otherwise (nulls, floats, YAML 1.1 booleans, numbers in
/// other bases) or is not one plain scalar. `flow`: inside a flow collection (the caller
/// has already cut it at the characters that end a scalar there).
fn resolve(plain: &str, flow: bool) -> Option<Kind<'_>> {
    let first = plain.chars().next()?;
    let digits = plain.strip_prefix('-').unwrap_or(plain);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if digits.len() > 18 || (digits.len() > 1 && digits.starts_with('0')) || plain == "-0" {
            return None;
        }
        return plain.parse().ok().map(Kind::Int);
    }
    match plain {
        "true" => return Some(Kind::Bool(true)),
        "false" => return Some(Kind::Bool(false)),
        _ => {}
    }
    const TYPED: [&str; 13] = [
        "null", "true", "false", "yes", "no", "on", "off", "y", "n", "nan", "inf", "infinity", "~",
    ];
    let starts_plainly = first.is_alphabetic() || first == '_' || first == '/';
    if !starts_plainly
        || TYPED.iter().any(|w| plain.eq_ignore_ascii_case(w))
        || !plain.chars().all(plain_char)
        || plain.contains(": ")
        || plain.contains(" #")
        || plain.ends_with(':')
        || (flow && plain.contains([',', '[', ']', '{', '}', ' ']))
    {
        return None;
    }
    Some(Kind::Str(Cow::Borrowed(plain)))
}

/// Whether this reader gives what serde-saphyr gives on a document with every construct it
/// takes, places included (checked once).
fn agrees() -> bool {
    static AGREES: OnceLock<bool> = OnceLock::new();
    *AGREES.get_or_init(|| {
        let ours: Option<probe::Doc> = read(probe::TEXT);
        let theirs: Result<probe::Doc, _> = serde_saphyr::from_str(probe::TEXT);
        match (ours, theirs) {
            (Some(a), Ok(b)) => format!("{a:?}") == format!("{b:?}"),
            _ => false,
        }
    })
}

mod probe {
    use std::collections::BTreeMap;

    use serde::Deserialize;
    use serde_json::Value;
    use serde_saphyr::Spanned;

    pub const TEXT: &str = "# probe\nlist:\n  - name: 'é''s' # c\n    flow: {\"a\":1, b: -2, 'c': x}\n    seq: [true, \"y z\", p/q]\n    block:\n      k: v w\n    items:\n    - 'A::\"1\"'\n    - 7\nother: [] \n";

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(
        dead_code,
        reason = "read only through Debug, to compare the two readers"
    )]
    pub struct Doc {
        list: Spanned<Vec<Spanned<Case>>>,
        other: Option<Spanned<Vec<Value>>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(
        dead_code,
        reason = "read only through Debug, to compare the two readers"
    )]
    pub struct Case {
        name: Spanned<String>,
        flow: Spanned<BTreeMap<String, Spanned<Value>>>,
        seq: Spanned<Vec<Spanned<Value>>>,
        block: Spanned<BTreeMap<String, Spanned<Value>>>,
        items: Spanned<Vec<Spanned<Value>>>,
    }
}

/// Why this reader declines a text for a type; never shown (serde-saphyr reads it instead).
#[derive(Debug)]
struct Unfit;

impl std::fmt::Display for Unfit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not read by the plain reader")
    }
}

impl std::error::Error for Unfit {}

impl de::Error for Unfit {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Unfit
    }
}

/// serde-saphyr's name for the newtype `Spanned<T>` asks for, and the first key of the map it
/// then expects (private to serde-saphyr; see [`agrees`]).
const SPANNED: &str = "__yaml_spanned";
const SPANNED_MARKER: &str = "__serde_saphyr_private_spanned";

impl<'de> de::Deserializer<'de> for &Node<'_> {
    type Error = Unfit;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unfit> {
        match &self.kind {
            Kind::Str(s) => visitor.visit_str(s),
            Kind::Int(i) => match u64::try_from(*i) {
                Ok(u) => visitor.visit_u64(u),
                Err(_) => visitor.visit_i64(*i),
            },
            Kind::Bool(b) => visitor.visit_bool(*b),
            Kind::Map(entries) => visitor.visit_map(Entries {
                entries: entries.iter(),
                value: None,
            }),
            Kind::Seq(items) => visitor.visit_seq(Items(items.iter())),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unfit> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Unfit> {
        if name == SPANNED {
            visitor.visit_newtype_struct(Field::Spanned(self))
        } else {
            visitor.visit_newtype_struct(self)
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Unfit> {
        match &self.kind {
            Kind::Str(s) => visitor.visit_enum(s.as_ref().into_deserializer()),
            _ => Err(Unfit),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unfit> {
        match &self.kind {
            Kind::Str(s) => visitor.visit_str(s),
            _ => Err(Unfit),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unfit> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unfit> {
        self.deserialize_str(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unfit> {
        match &self.kind {
            Kind::Map(_) => self.deserialize_any(visitor),
            _ => Err(Unfit),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Unfit> {
        self.deserialize_map(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unfit> {
        match &self.kind {
            Kind::Seq(_) => self.deserialize_any(visitor),
            _ => Err(Unfit),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unfit> {
        match &self.kind {
            Kind::Bool(_) => self.deserialize_any(visitor),
            _ => Err(Unfit),
        }
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unfit> {
        match &self.kind {
            Kind::Int(_) => self.deserialize_any(visitor),
            _ => Err(Unfit),
        }
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unfit> {
        self.deserialize_i64(visitor)
    }

    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unfit> {
        self.deserialize_i64(visitor)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unfit> {
        self.deserialize_i64(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unfit> {
        visitor.visit_unit()
    }

    // Anything else (floats, chars, bytes, units, tuples, smaller integers) is left to
    // serde-saphyr.
    fn deserialize_i8<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Unfit> {
        Err(Unfit)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Unfit> {
        Err(Unfit)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Unfit> {
        Err(Unfit)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Unfit> {
        Err(Unfit)
    }
    fn deserialize_f32<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Unfit> {
        Err(Unfit)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Unfit> {
        Err(Unfit)
    }
    fn deserialize_char<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Unfit> {
        Err(Unfit)
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Unfit> {
        Err(Unfit)
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Unfit> {
        Err(Unfit)
    }
    fn deserialize_unit<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Unfit> {
        Err(Unfit)
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: V,
    ) -> Result<V::Value, Unfit> {
        Err(Unfit)
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, Unfit> {
        Err(Unfit)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        _: V,
    ) -> Result<V::Value, Unfit> {
        Err(Unfit)
    }
}

/// A block or flow mapping's entries, as serde asks for them.
struct Entries<'n, 'a> {
    entries: std::slice::Iter<'n, (Node<'a>, Node<'a>)>,
    value: Option<&'n Node<'a>>,
}

impl<'de> de::MapAccess<'de> for Entries<'_, '_> {
    type Error = Unfit;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Unfit> {
        match self.entries.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(key).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Unfit> {
        seed.deserialize(self.value.take().ok_or(Unfit)?)
    }
}

struct Items<'n, 'a>(std::slice::Iter<'n, Node<'a>>);

impl<'de> de::SeqAccess<'de> for Items<'_, '_> {
    type Error = Unfit;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Unfit> {
        self.0.next().map(|n| seed.deserialize(n)).transpose()
    }
}

/// The values of serde-saphyr's representation of a `Spanned<T>`, its `Location` and `Span`.
#[derive(Clone, Copy)]
enum Field<'n, 'a> {
    /// `{marker: (), value, referenced, defined}`
    Spanned(&'n Node<'a>),
    Node(&'n Node<'a>),
    /// `{line, column, span}`
    Location(Place),
    /// `{offset, len, byte_info}`
    Span(Place),
    Number(u32),
    Pair(u32, u32),
    Unit,
}

impl<'n, 'a> Field<'n, 'a> {
    /// The map this value is, if it is one (at most four fields, no allocation: a case's
    /// every value has one of each).
    fn fields(self) -> Option<Fields<'n, 'a>> {
        let (fields, len) = match self {
            Field::Spanned(node) => (
                [
                    (SPANNED_MARKER, Field::Unit),
                    ("value", Field::Node(node)),
                    ("referenced", Field::Location(node.at)),
                    ("defined", Field::Location(node.at)),
                ],
                4,
            ),
            Field::Location(at) => (
                [
                    ("line", Field::Number(at.line)),
                    ("column", Field::Number(at.column)),
                    ("span", Field::Span(at)),
                    ("", Field::Unit),
                ],
                3,
            ),
            Field::Span(at) => (
                [
                    ("offset", Field::Number(at.offset)),
                    ("len", Field::Number(at.len)),
                    ("byte_info", Field::Pair(at.byte, at.byte_len)),
                    ("", Field::Unit),
                ],
                3,
            ),
            _ => return None,
        };
        Some(Fields {
            fields,
            len,
            next: 0,
        })
    }
}

struct Fields<'n, 'a> {
    fields: [(&'static str, Field<'n, 'a>); 4],
    len: usize,
    next: usize,
}

impl<'de> de::MapAccess<'de> for Fields<'_, '_> {
    type Error = Unfit;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Unfit> {
        if self.next >= self.len {
            return Ok(None);
        }
        let key = self.fields[self.next].0;
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Unfit> {
        let value = self.fields.get(self.next).ok_or(Unfit)?.1;
        self.next += 1;
        match value {
            Field::Node(node) => seed.deserialize(node),
            field => seed.deserialize(field),
        }
    }
}

impl<'de> de::Deserializer<'de> for Field<'_, '_> {
    type Error = Unfit;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unfit> {
        match self {
            Field::Number(n) => visitor.visit_u32(n),
            Field::Pair(a, b) => visitor.visit_seq(de::value::SeqDeserializer::<_, Unfit>::new(
                [a, b].into_iter(),
            )),
            Field::Unit => visitor.visit_unit(),
            // Given to the node's own deserializer (`Fields::next_value_seed`).
            Field::Node(_) => Err(Unfit),
            map => visitor.visit_map(map.fields().ok_or(Unfit)?),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 u8 u16 u32 u64 i128 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;
    use serde_json::Value;
    use serde_saphyr::Spanned;

    use super::*;

    #[test]
    fn probe_agrees() {
        let ours: Option<probe::Doc> = read(probe::TEXT);
        let theirs: probe::Doc = serde_saphyr::from_str(probe::TEXT).unwrap();
        assert_eq!(format!("{ours:?}"), format!("{:?}", Some(theirs)));
        assert!(agrees());
    }

    /// A scenario file's shape, as `workspace::scenario` reads it.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(
        dead_code,
        reason = "read only through Debug, to compare the two readers"
    )]
    struct File {
        defaults: Option<BTreeMap<String, Spanned<Value>>>,
        cases: Vec<Spanned<Case>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(
        dead_code,
        reason = "read only through Debug, to compare the two readers"
    )]
    struct Case {
        name: Spanned<String>,
        principal: Option<Spanned<Value>>,
        chain: Option<Spanned<Vec<Spanned<Value>>>>,
        context: Option<Spanned<BTreeMap<String, Spanned<Value>>>>,
        expect: Spanned<Value>,
        reasons: Option<Spanned<Vec<Spanned<String>>>>,
        kind: Option<Kind>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Hop,
        Final,
    }

    /// Both readers on `text`: the plain reader gives nothing or exactly what serde-saphyr
    /// gives. Whether the plain reader took it.
    fn compare(text: &str) -> bool {
        let ours: Option<File> = read(text);
        let theirs: Result<File, _> = serde_saphyr::from_str(text);
        match (&ours, &theirs) {
            (Some(a), Ok(b)) => {
                assert_eq!(format!("{a:?}"), format!("{b:?}"), "on\n{text}");
                true
            }
            (Some(a), Err(e)) => {
                panic!("plain read {a:?} where serde-saphyr fails ({e}) on\n{text}")
            }
            (None, _) => false,
        }
    }

    /// A deterministic pseudo-random source (xorshift).
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            usize::try_from(self.0 % n as u64).unwrap()
        }
        fn pick<'x>(&mut self, from: &[&'x str]) -> &'x str {
            from[self.below(from.len())]
        }
    }

    /// Scalars either reader takes, then scalars the plain reader declines or YAML refuses.
    const BLOCK_SCALARS: [&[&str]; 2] = [
        &[
            "deny",
            "allow",
            "case 0, break_glass",
            "Person::\"p1\"",
            "a[0]",
            "1",
            "-3",
            "é",
            "é x",
            "a#b",
            "true",
            "false",
            "p/q",
            "'a''b'",
            "'é'",
            "\"x\"",
            "\"it's\"",
            "'say \"hi\"'",
            "_u",
            "/p",
            "a  b",
            "hop",
            "final",
            "\"\"",
            "''",
            "x ",
            "Account::\"a1\"",
            "{a: 1}",
            "[1, x]",
        ],
        &[
            "y",
            "yes",
            "No",
            "null",
            "~",
            "-0",
            "007",
            "1.5",
            "0x1F",
            "a: b",
            "a #b",
            "-x",
            "True",
            "a,b",
            "{x}",
            "\"a\\nb\"",
            "&a x",
            "*a",
            "!t x",
            "|",
            ">",
            "x:",
            "2024-01-01",
            "12345678901234567890",
            "1_000",
            ".inf",
            "Infinity",
            "@x",
            "`x`",
            "%x",
            "? x",
            "ä\u{00a0}b",
            "{a: {b: 1}}",
            "[x, ]",
            "'open",
        ],
    ];
    const FLOW_SCALARS: [&[&str]; 2] = [
        &[
            "1", "-2", "true", "x", "\"BG-1\"", "'c'", "p/q", "\"a b\"", "\"é\"", "x.y-z_",
        ],
        &["y", "null", "1.5", "", "a b", "[]", "{}", "01", "-", "x#"],
    ];

    fn scalar<'x>(rng: &mut Rng, from: [&[&'x str]; 2]) -> &'x str {
        let set = usize::from(rng.below(6) == 0);
        rng.pick(from[set])
    }

    const KEYS: &[&str] = &[
        "name",
        "principal",
        "chain",
        "context",
        "expect",
        "reasons",
        "kind",
        "unknown",
    ];

    fn flow(rng: &mut Rng, map: bool) -> String {
        let n = rng.below(4);
        let values: Vec<&str> = (0..n).map(|_| scalar(rng, FLOW_SCALARS)).collect();
        let sep = rng.pick(&[", ", ",", " , "]);
        let items: Vec<String> = (0..n)
            .map(|i| {
                let value = values[i];
                if map {
                    let key = rng.pick(&["\"k\"", "'q'", "t", "\"hours\"", "k"]);
                    let colon = rng.pick(&[": ", ":", " : "]);
                    format!("{key}{i}{colon}{value}").replace("\"k\"0", "\"k0\"")
                } else {
                    value.to_string()
                }
            })
            .collect();
        let (open, close) = if map { ("{", "}") } else { ("[", "]") };
        let pad = rng.pick(&["", " "]);
        format!("{open}{pad}{}{pad}{close}", items.join(sep))
    }

    fn value(rng: &mut Rng, key: &str, indent: usize) -> String {
        let inner = " ".repeat(indent + rng.pick(&["2", "4"]).parse::<usize>().unwrap());
        let same = " ".repeat(indent);
        match (key, rng.below(3)) {
            ("chain" | "reasons", 0) => format!(" {}", flow(rng, false)),
            ("chain" | "reasons", 1) => {
                let at = if rng.below(2) == 0 { &inner } else { &same };
                let items: Vec<String> = (0..1 + rng.below(3))
                    .map(|_| format!("{at}- {}", scalar(rng, BLOCK_SCALARS)))
                    .collect();
                format!("\n{}", items.join("\n"))
            }
            ("context", 0 | 1) => format!(" {}", flow(rng, true)),
            ("context", _) => {
                let entries: Vec<String> = (0..1 + rng.below(3))
                    .map(|i| format!("{inner}k{i}: {}", scalar(rng, BLOCK_SCALARS)))
                    .collect();
                format!("\n{}", entries.join("\n"))
            }
            _ => format!(" {}", scalar(rng, BLOCK_SCALARS)),
        }
    }

    fn document(rng: &mut Rng) -> String {
        let mut text = String::from(rng.pick(&["", "# generated\n", "\n"]));
        if rng.below(4) == 0 {
            text.push_str("defaults:\n  hours: 2\n");
        }
        text.push_str("cases:\n");
        let dash = " ".repeat(rng.below(3) * 2);
        for c in 0..1 + rng.below(3) {
            let gap = " ".repeat(1 + rng.below(2));
            let column = dash.len() + 1 + gap.len();
            let mut keys: Vec<&str> = vec!["name", "expect"];
            for _ in 0..rng.below(4) {
                let key = rng.pick(KEYS);
                if key != "unknown" || rng.below(4) == 0 {
                    keys.push(key);
                }
            }
            if rng.below(10) == 0 {
                keys.swap(0, 1);
            }
            for (i, key) in keys.iter().enumerate() {
                let lead = if i == 0 {
                    format!("{dash}-{gap}")
                } else {
                    " ".repeat(column)
                };
                let v = if *key == "name" {
                    format!(" case {c}")
                } else {
                    value(rng, key, column)
                };
                let comment = rng.pick(&["", "", " # note", "  #x"]);
                text.push_str(&format!("{lead}{key}:{v}{comment}\n"));
                if rng.below(8) == 0 {
                    text.push_str(rng.pick(&["\n", "   \n", "# c\n", "    # c\n"]));
                }
            }
        }
        text
    }

    #[test]
    fn random_documents_read_as_serde_saphyr_reads_them() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut taken, mut valid) = (0, 0);
        for _ in 0..4000 {
            let text = document(&mut rng);
            if compare(&text) {
                taken += 1;
            }
            if serde_saphyr::from_str::<File>(&text).is_ok() {
                valid += 1;
            }
        }
        // The test must not pass by declining everything.
        assert!(
            taken * 10 > valid * 7,
            "{taken} of {valid} valid documents taken"
        );
    }

    #[test]
    fn a_generated_scenario_file_is_taken() {
        let text = "# Generated\ncases:\n  - name: case 0, break_glass\n    principal: 'Person::\"p2034\"'\n    context: {\"ticket\": \"BG-1\", \"hours\": 1, \"mfa\": true}\n    expect: deny\n  - name: case 1\n    chain: ['Account::\"a1\"', 'Account::\"a2\"']\n    expect: allow\n";
        assert!(compare(text));
    }

    #[test]
    fn what_it_declines() {
        for text in [
            "cases:\n\t- name: x\n",
            "cases:\r\n  - name: x\r\n    expect: deny\r\n",
            "---\ncases: []\n",
            "cases:\n  - name: x\n    expect: &a deny\n",
            "cases:\n  - name: x\n    expect: y\n",
            "cases:\n  - name: x\n    expect: |\n      deny\n",
            "cases:\n  - name: x\n    expect: deny\n      more\n",
            "cases:\n  - name: x\n    expect: \"a\\tb\"\n",
            "cases:\n  - name: x\n    context: {a: {b: 1}}\n    expect: deny\n",
            "cases:\n  - name: x\n    context: {a: 1, a: 2}\n    expect: deny\n",
            "cases:\n  - name: x\n    expect: deny\n    name: y\n",
            "cases:\n  - name: x\n    expect:\n",
            "cases:\n  - name: 12\n    expect: deny\n",
            "cases:\n  - name: x\n    expect: 1.5\n",
        ] {
            assert!(read::<File>(text).is_none(), "took\n{text}");
        }
    }
}
