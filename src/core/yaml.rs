//! Reading YAML inputs (actas.yaml, scenarios, tasks, links, entities, context files) with the
//! same limits and the same wording of what goes wrong.
//!
//! serde-saphyr's default budget (250,000 nodes, 1,000,000 events) guards configuration files
//! against YAML bombs but stops honest large inputs: a 20,000-case scenario file or a
//! 12,500-entity inventory. A node or event costs at least one byte of input unless it comes
//! from an alias, and aliases keep their own limits, so limits that grow with the input admit
//! any honest file without admitting an expansion bomb. Nesting stays capped (64 levels).

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_saphyr::budget::BudgetBreach;

use crate::core::diag::{Problem, SourceFile};

/// Parser options for a YAML text of `bytes` bytes.
pub fn options(bytes: usize) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = budget.max_nodes.max(bytes);
    budget.max_events = budget.max_events.max(2 * bytes);
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

/// Reads `file` as YAML into `T`; a problem carries the place and says what is wrong in words.
pub fn read<T: DeserializeOwned>(file: &Arc<SourceFile>) -> Result<T, Box<Problem>> {
    serde_saphyr::from_str_with_options(&file.text, options(file.text.len()))
        .map_err(|e| Box::new(problem(file, &e)))
}

/// Reads `file` as [`read`] does, as one document or, when the file is long and laid out
/// plainly (see [`pieces`]), as pieces read in parallel: the first has every top-level key,
/// the later ones only the rest of the list `key`, in order. A 100,000-line scenario file
/// took a fifth of `actas test` to read on one thread. The pieces are not joined into one
/// list (moving tens of thousands of documents was a fifth of the time again). Each piece, or
/// the whole file, is read by the plain reader ([`crate::core::plain_yaml`]) when it takes
/// it, else by serde-saphyr. Should any piece fail, the whole file is read again, so a
/// problem is reported exactly as a whole read reports it.
pub fn read_long_list<T: DeserializeOwned + Send>(
    file: &Arc<SourceFile>,
    key: &str,
) -> Result<Vec<T>, Box<Problem>> {
    use rayon::prelude::*;
    let parts = PIECES_PER_THREAD * rayon::current_num_threads();
    if let Some(texts) = pieces(&file.text, key, parts) {
        let read: Result<Vec<T>, serde_saphyr::Error> = texts
            .into_par_iter()
            .map(|text| {
                crate::core::plain_yaml::from_str(&text).map_or_else(
                    || serde_saphyr::from_str_with_options(&text, options(file.text.len())),
                    Ok,
                )
            })
            .collect();
        if let Ok(read) = read {
            return Ok(read);
        }
    }
    if let Some(whole) = crate::core::plain_yaml::from_str(&file.text) {
        return Ok(vec![whole]);
    }
    read(file).map(|whole| vec![whole])
}

/// Pieces per worker: two. Each piece costs a pass over the whole file's length of blanks, but
/// `test` reads the scenario file beside Cedar building the inventory, which ends first: with
/// two pieces a worker, the worker that built it takes the pieces left (teams shape, 20,000
/// cases: 0.71-0.75 s with one piece a worker, 0.64-0.72 s with two, four no better).
const PIECES_PER_THREAD: usize = 2;

/// The smallest text worth reading in pieces.
const PIECES_FROM_BYTES: usize = 256 * 1024;

/// `text` as `parts` texts of the same length, each a YAML document with the top-level list
/// `key` holding a run of its items (the first also every other top-level key), everything
/// else blanked to spaces with the line breaks kept: every value keeps its line, column and
/// byte offset, so places in problems are the whole file's (`diag::span_of` reads the byte
/// offset; a character offset would count a blanked line's characters as its bytes).
///
/// Only where the layout leaves no doubt where an item starts: `key:` alone on its line, once,
/// at column 0, its items `- ` at one indentation, every other line of the list indented more
/// (or blank, or a comment), and no tab, anchor, alias, merge key, directive or second document
/// anywhere. Otherwise `None`, and the file is read whole.
fn pieces(text: &str, key: &str, parts: usize) -> Option<Vec<String>> {
    if text.len() < PIECES_FROM_BYTES || parts < 2 {
        return None;
    }
    if text.contains(['\t', '&', '*']) || text.contains("<<") {
        return None;
    }
    // (byte offset, line without its line break)
    let mut lines: Vec<(usize, &str)> = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        lines.push((at, line.trim_end_matches(['\n', '\r'])));
        at += line.len();
    }
    let header = format!("{key}:");
    let mut list_at = None;
    for (i, (_, line)) in lines.iter().enumerate() {
        if line.starts_with("---") || line.starts_with("...") || line.starts_with('%') {
            return None;
        }
        if let Some(rest) = line.strip_prefix(&header) {
            let rest = rest.trim_start_matches(' ');
            if !(rest.is_empty() || rest.starts_with('#')) || list_at.is_some() {
                return None;
            }
            list_at = Some(i);
        }
    }
    let list_at = list_at?;
    let mut indent = None;
    let mut items: Vec<usize> = Vec::new();
    let mut end = lines.len();
    for (i, (_, line)) in lines.iter().enumerate().skip(list_at + 1) {
        let content = line.trim_start_matches(' ');
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let depth = line.len() - content.len();
        let item = content.starts_with("- ") || content == "-";
        match indent {
            None if item => {
                indent = Some(depth);
                items.push(i);
            }
            None => return None,
            Some(n) if depth == n && item => items.push(i),
            Some(n) if depth > n => {}
            Some(_) if depth == 0 => {
                end = i;
                break;
            }
            Some(_) => return None,
        }
    }
    if items.len() < parts * 64 {
        return None;
    }
    let per = items.len().div_ceil(parts);
    let starts: Vec<usize> = items.iter().step_by(per).copied().collect();
    let byte = |line: usize| lines.get(line).map_or(text.len(), |l| l.0);
    let kept_ranges = |k: usize| -> Vec<(usize, usize)> {
        let run = (
            byte(starts[k]),
            byte(starts.get(k + 1).copied().unwrap_or(end)),
        );
        if k == 0 {
            vec![(0, run.1), (byte(end), text.len())]
        } else {
            vec![(byte(list_at), byte(list_at + 1)), run]
        }
    };
    Some(
        (0..starts.len())
            .map(|k| {
                let mut bytes: Vec<u8> = text
                    .bytes()
                    .map(|b| if b == b'\n' { b } else { b' ' })
                    .collect();
                for (from, to) in kept_ranges(k) {
                    bytes[from..to].copy_from_slice(&text.as_bytes()[from..to]);
                }
                // Whole lines are kept or blanked, so every character is whole.
                String::from_utf8(bytes).unwrap_or_default()
            })
            .collect(),
    )
}

/// The problem for a YAML error: at its place, budget breaches in words with what to do.
pub fn problem(file: &Arc<SourceFile>, err: &serde_saphyr::Error) -> Problem {
    let (message, help) = match breach_message(err) {
        Some((message, help)) => (message, Some(help)),
        None => (yaml_message(err), None),
    };
    let mut p = match err.location() {
        Some(loc) if loc.line() > 0 => Problem::at_location(file, &loc, &message),
        _ => Problem::in_file(file, &message),
    };
    // A file that fails at its first token is not YAML of any shape actas reads (a path naming
    // the wrong file): say so without quoting it (serde quotes a whole-file string in full).
    if p.at_first_token() {
        let why = if message.starts_with("invalid type: string") {
            "it fails at its first token"
        } else {
            &message
        };
        return Problem::not_a(file, "a YAML document actas reads", why);
    }
    if let Some(help) = help {
        p.help = Some(help.to_string());
    }
    p
}

/// Serde-saphyr's message without its own place (the problem has the place).
fn yaml_message(err: &serde_saphyr::Error) -> String {
    let text = err.without_snippet().to_string();
    match text.rfind(" at line ") {
        Some(i) if text.get(i..).is_some_and(|t| t.contains(", column ")) => {
            text.get(..i).unwrap_or(&text).to_string()
        }
        _ => text,
    }
}

/// A budget breach in words, with what to do; `None` for other errors.
pub fn breach_message(err: &serde_saphyr::Error) -> Option<(String, &'static str)> {
    use serde_saphyr::Error;
    let bomb = || {
        (
            "the YAML's aliases (`*name`) would expand it far beyond its size".to_string(),
            "write the values out instead of repeating anchors",
        )
    };
    // Unwrap the snippet and alias layers; a limit reached while replaying an alias is the
    // alias's doing, whatever limit it was.
    let mut inner = err;
    let mut in_alias = false;
    loop {
        match inner {
            Error::WithSnippet { error, .. } => inner = error,
            Error::AliasError { error, .. } => {
                in_alias = true;
                inner = error;
            }
            _ => break,
        }
    }
    let breach = match inner {
        Error::Budget { breach, .. } => breach,
        Error::AliasReplayCounterOverflow { .. }
        | Error::AliasReplayLimitExceeded { .. }
        | Error::AliasExpansionLimitExceeded { .. }
        | Error::AliasReplayStackDepthExceeded { .. } => return Some(bomb()),
        _ => return None,
    };
    if in_alias {
        return Some(bomb());
    }
    let big = "split the file, or report it if it is an honest input";
    Some(match breach {
        BudgetBreach::Depth { depth } => (
            format!("the YAML nests deeper than actas reads ({depth} levels)"),
            "flatten the structure: no input of actas needs more than a few levels",
        ),
        BudgetBreach::Aliases { .. }
        | BudgetBreach::Anchors { .. }
        | BudgetBreach::AliasAnchorRatio { .. }
        | BudgetBreach::RecordedAnchorEvents { .. }
        | BudgetBreach::RecordedAnchorBytes { .. }
        | BudgetBreach::MergeKeys { .. } => bomb(),
        BudgetBreach::Documents { documents } => (
            format!("the file holds {documents} YAML documents (`---`); actas reads one"),
            "keep one document per file",
        ),
        BudgetBreach::Nodes { nodes } => (
            format!("the YAML has more nodes ({nodes}) than actas reads"),
            big,
        ),
        BudgetBreach::Events { events } => (
            format!("the YAML has more parser events ({events}) than actas reads"),
            big,
        ),
        other => (
            format!("the YAML is over a safety limit of the parser ({other:?})"),
            big,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct ListDoc {
        title: Option<String>,
        cases: Vec<serde_saphyr::Spanned<serde_json::Value>>,
    }

    /// A list file of `n` cases, `extra` inserted after the tenth.
    fn list_text(n: usize, extra: &str) -> String {
        let mut text = String::from("# a long list\ntitle: x\ncases:\n");
        for i in 0..n {
            text.push_str(&format!(
                "  - name: case é {i}\n    context: {{\"a\": {i}}}\n\n    # a comment\n    expect: allow\n"
            ));
            if i == 10 {
                text.push_str(extra);
            }
        }
        text.push_str("after: 1\n");
        text
    }

    #[test]
    fn a_long_list_read_in_pieces_is_the_whole_read_places_and_all() {
        let text = list_text(6000, "");
        let pieces = pieces(&text, "cases", 4).unwrap();
        assert_eq!(pieces.len(), 4);
        for p in &pieces {
            assert_eq!(p.len(), text.len());
            assert_eq!(p.lines().count(), text.lines().count());
        }
        // `after` is unknown to ListDoc but allowed (no deny_unknown_fields): kept in piece 0.
        assert!(pieces[0].contains("after: 1") && !pieces[1].contains("title"));
        let file = SourceFile::new("long.yaml", text);
        let whole: ListDoc = read(&file).unwrap();
        let read: Vec<ListDoc> = read_long_list(&file, "cases").unwrap();
        assert!(read.len() > 1 || rayon::current_num_threads() < 2);
        assert!(read[1..].iter().all(|d| d.title.is_none()));
        let mut read = read.into_iter();
        let mut joined = read.next().unwrap();
        read.for_each(|later| joined.cases.extend(later.cases));
        assert_eq!(joined.title.as_deref(), Some("x"));
        assert_eq!(whole.cases.len(), joined.cases.len());
        for (w, j) in whole.cases.iter().zip(&joined.cases) {
            assert_eq!(w.value, j.value);
            assert_eq!(w.referenced.line(), j.referenced.line());
            assert_eq!(w.referenced.column(), j.referenced.column());
            // Places are read by byte (`diag::span_of`); a character offset counts the blanked
            // lines' characters as bytes.
            let (ws, js) = (w.referenced.span(), j.referenced.span());
            assert_eq!(ws.byte_offset(), js.byte_offset());
            assert_eq!(ws.byte_len(), js.byte_len());
        }
    }

    #[test]
    fn a_list_laid_out_with_doubt_is_read_whole() {
        for extra in [
            "  - &anchor {name: x}\n",
            "  - *anchor\n",
            "\t\n",
            " - name: other indentation\n",
            "cases:\n",
            "---\n",
        ] {
            assert!(
                pieces(&list_text(6000, extra), "cases", 4).is_none(),
                "{extra:?}"
            );
        }
        assert!(pieces(&list_text(6000, ""), "cases", 4).is_some());
        // Short lists are not worth it.
        assert!(pieces(&list_text(10, ""), "cases", 4).is_none());
        let flow = list_text(6000, "").replace("cases:\n", "cases: # comment\n");
        assert!(pieces(&flow, "cases", 4).is_some());
        let flow = list_text(6000, "").replace("cases:\n", "cases: []\nx:\n");
        assert!(pieces(&flow, "cases", 4).is_none());
    }

    fn read_value(text: String) -> Result<serde_json::Value, Box<Problem>> {
        read(&SourceFile::new("f.yaml", text))
    }

    #[test]
    fn yaml_errors_point_at_the_value() {
        let f = SourceFile::new("x.yaml", "a: 1\nb: x\n");
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code, reason = "only decoded")]
        struct T {
            a: u32,
            b: u32,
        }
        let err = serde_saphyr::from_str::<T>(&f.text).unwrap_err();
        let p = problem(&f, &err);
        assert_eq!(p.message, "invalid u32");
        assert_eq!(p.location(), Some(("x.yaml".into(), Some((2, 4)))));
    }

    #[test]
    fn an_honest_large_file_reads() {
        // 300,000 nodes: over serde-saphyr's default budget of 250,000.
        let text: String = (0..100_000).map(|i| format!("- [{i}, x]\n")).collect();
        let v = read_value(text).unwrap();
        assert_eq!(v.as_array().map(Vec::len), Some(100_000));
    }

    #[test]
    fn a_bomb_and_deep_nesting_are_refused_in_words() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let prev = if i == 1 {
                "a".to_string()
            } else {
                format!("b{}", i - 1)
            };
            let refs = vec![format!("*{prev}"); 10].join(", ");
            bomb.push_str(&format!("b{i}: &b{i} [{refs}]\n"));
        }
        let p = read_value(bomb).unwrap_err();
        assert!(p.message.contains("aliases"), "{}", p.message);
        assert!(!p.message.contains('{'), "no debug print: {}", p.message);
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let p = read_value(deep).unwrap_err();
        assert!(p.message.contains("nests deeper"), "{}", p.message);
        assert!(p.help.is_some());
    }
}
