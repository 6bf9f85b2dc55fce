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
