//! Limits on what actas reads, checked before anything parses it, so that no input can exhaust
//! the stack or the machine. Each limit is far above what an honest input needs and far below
//! what the stack (`app::STACK`, 1 GiB) holds: Cedar's parser, validator and evaluator recurse
//! once per nesting level; measured in a debug build, 1 GiB holds about 20,000 levels of the
//! costliest construct (nested lists or records), and 50,000 parentheses.

use std::sync::Arc;

use crate::core::diag::{Problem, SourceFile};

/// The deepest nesting of a policy or schema: brackets, `if`, and runs of `!` or `-`.
pub const MAX_NESTING: usize = 1_000;

/// How deep a parent chain of entities may go (folders in folders, teams in teams). Cedar
/// computes the transitive closure of the hierarchy, which costs the square of a chain's length.
pub const MAX_HIERARCHY_DEPTH: usize = 1_000;

/// Which brackets a text nests with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// Policies: `(`, `[`, `{`, and `if`, `!`, `-` chains.
    Policy,
    /// Human-readable schemas: also `<` and `>` (`Set<Set<…>>`).
    Schema,
}

/// The first place where `text` nests deeper than [`MAX_NESTING`]: its byte offset. Strings and
/// `//` comments are skipped.
pub fn too_deep(text: &str, syntax: Syntax) -> Option<usize> {
    let bytes = text.as_bytes();
    // Per open bracket, the `if`s opened inside it (an `if` ends with its bracket, at the latest).
    let mut ifs: Vec<usize> = vec![0];
    let mut open = 0usize;
    let mut unary = 0usize;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => {
                i += 1;
                while let Some(&c) = bytes.get(i) {
                    match c {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
                unary = 0;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while bytes.get(i).is_some_and(|&c| c != b'\n') {
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => {
                open += 1;
                ifs.push(0);
                unary = 0;
            }
            b'<' if syntax == Syntax::Schema => {
                open += 1;
                ifs.push(0);
            }
            b')' | b']' | b'}' => {
                open = open.saturating_sub(1);
                if ifs.len() > 1 {
                    ifs.pop();
                }
                unary = 0;
            }
            b'>' if syntax == Syntax::Schema => {
                open = open.saturating_sub(1);
                if ifs.len() > 1 {
                    ifs.pop();
                }
            }
            b'!' | b'-' if syntax == Syntax::Policy => unary += 1,
            c if c.is_ascii_whitespace() => {}
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                let start = i;
                while bytes
                    .get(i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    i += 1;
                }
                let word = &bytes[start..i];
                if syntax == Syntax::Policy && word == b"if" {
                    if let Some(n) = ifs.last_mut() {
                        *n += 1;
                    }
                }
                unary = 0;
                continue;
            }
            _ => unary = 0,
        }
        let depth = open + ifs.iter().sum::<usize>() + unary;
        if depth > MAX_NESTING {
            return Some(i.min(text.len().saturating_sub(1)));
        }
        i += 1;
    }
    None
}

/// The problem for a text that nests too deep, at the place it crosses the limit.
pub fn nesting_problem(file: &Arc<SourceFile>, offset: usize, what: &str) -> Problem {
    Problem::at(
        file,
        (offset, 1),
        format!("{what} nests deeper than {MAX_NESTING} levels"),
    )
    .with_label("here")
    .with_help(
        "actas refuses such inputs before parsing them: no honest policy or schema nests this deep",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(open: &str, inner: &str, close: &str, n: usize) -> String {
        format!("{}{inner}{}", open.repeat(n), close.repeat(n))
    }

    #[test]
    fn nesting_is_measured_as_parsers_recurse() {
        let ok = format!(
            "permit(principal, action, resource) when {{ {} }};",
            nested("(", "true", ")", 900)
        );
        assert_eq!(too_deep(&ok, Syntax::Policy), None);
        for (open, close) in [
            ("(", ")"),
            ("[", "]"),
            ("{a: ", "}"),
            ("if true then ", " else false"),
            ("!", ""),
        ] {
            let deep = format!(
                "permit(principal, action, resource) when {{ {} }};",
                nested(open, "true", close, 1_200)
            );
            assert!(too_deep(&deep, Syntax::Policy).is_some(), "{open}");
        }
        // Siblings do not add up; strings and comments do not count.
        let wide = format!("when {{ [{}] }}", vec!["(1)"; 5_000].join(", "));
        assert_eq!(too_deep(&wide, Syntax::Policy), None);
        let quoted = format!("\"{}\" // {}", "(".repeat(5_000), "[".repeat(5_000));
        assert_eq!(too_deep(&quoted, Syntax::Policy), None);
        let sets = nested("Set<", "Long", ">", 1_200);
        assert!(too_deep(&sets, Syntax::Schema).is_some());
        assert_eq!(too_deep(&sets, Syntax::Policy), None);
    }
}
