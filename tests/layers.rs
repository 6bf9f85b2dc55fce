//! The library's layers import only downward (docs/architecture.md):
//!
//! ```text
//! app → report → commands → lint → analysis → {reach, workspace, proof} → engine → core
//! ```
//!
//! Every `crate::<layer>` path in a source file is checked against the file's own layer; `reach`
//! and `workspace` share a rank and must not import each other. Unit tests (the `#[cfg(test)]`
//! module at the end of a file) may use higher layers for fixtures, e.g. the bundled example.
//! Within a layer, files must not import each other in a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers from the top; equal ranks may not import each other.
const LAYERS: [(&str, u32); 10] = [
    ("app", 7),
    ("report", 6),
    ("commands", 5),
    ("lint", 4),
    ("analysis", 3),
    ("reach", 2),
    ("workspace", 2),
    ("proof", 2),
    ("engine", 1),
    ("core", 0),
];

fn rank(layer: &str) -> Option<u32> {
    LAYERS.iter().find(|(l, _)| *l == layer).map(|(_, r)| *r)
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The file's text without its unit-test module and without comments.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module paths a file names: `crate::a::b` (and `use crate::a::{b, c}` as `a::b`, `a::c`),
/// plus `super::x` resolved against the file's own module path.
fn imports(module: &[String], code: &str) -> BTreeSet<Vec<String>> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let first = ident(rest);
        let after = &rest[first.len()..];
        if let Some(group) = after.strip_prefix("::{") {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            for item in inner.split(',') {
                let second = ident(item.trim());
                out.insert(vec![first.clone(), second]);
            }
        } else if let Some(more) = after.strip_prefix("::") {
            out.insert(vec![first.clone(), ident(more)]);
        } else {
            out.insert(vec![first]);
        }
    }
    for (i, _) in code.match_indices("super::") {
        if i > 0 && code[..i].ends_with("::") {
            continue;
        }
        let rest = &code[i + "super::".len()..];
        let parent = &module[..module.len().saturating_sub(1)];
        let mut path = parent.to_vec();
        let name = ident(rest);
        if !name.is_empty() && name != "super" {
            path.push(name);
        }
        out.insert(path);
    }
    out
}

/// `src/a/b.rs` → `[a, b]`; `src/a/mod.rs` → `[a]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

#[test]
fn layers_import_only_downward_and_files_form_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    let mut wrong = Vec::new();
    // Within-layer edges between files, for the cycle check.
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(&src, f)).collect();
    for file in &files {
        let module = module_of(&src, file);
        let Some(layer) = module.first() else {
            continue; // lib.rs, main.rs
        };
        if module == ["main"] || module == ["lib"] {
            continue;
        }
        let own = rank(layer).unwrap_or_else(|| panic!("`{layer}` is not a layer"));
        let text = std::fs::read_to_string(file).unwrap();
        for target in imports(&module, &code(&text)) {
            let Some(to) = target.first() else { continue };
            let Some(theirs) = rank(to) else {
                continue; // `crate::` followed by a macro or an item of lib.rs
            };
            if to != layer && theirs >= own {
                wrong.push(format!(
                    "{}: imports `crate::{}` ({to} is not below {layer})",
                    file.strip_prefix(&src).unwrap().display(),
                    target.join("::")
                ));
            }
            // The file this path lands in: the longest module prefix that is a file.
            let landing = (1..=target.len())
                .rev()
                .map(|n| target[..n].to_vec())
                .find(|m| modules.contains(m));
            if let Some(landing) = landing {
                if to == layer && landing != module && !module.starts_with(&landing) {
                    edges.entry(module.clone()).or_default().insert(landing);
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );

    // No cycle among files of one layer (a parent `mod.rs` declaring its children is not an
    // import; children using their parent's items are the edges that count).
    let mut state: BTreeMap<&Vec<String>, u8> = BTreeMap::new();
    fn visit<'a>(
        m: &'a Vec<String>,
        edges: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<&'a Vec<String>, u8>,
        stack: &mut Vec<&'a Vec<String>>,
    ) -> Option<Vec<String>> {
        match state.get(m) {
            Some(2) => return None,
            Some(1) => {
                let start = stack.iter().position(|s| *s == m).unwrap_or(0);
                return Some(stack[start..].iter().map(|s| s.join("::")).collect());
            }
            _ => {}
        }
        state.insert(m, 1);
        stack.push(m);
        for next in edges.get(m).into_iter().flatten() {
            // A child naming its parent module is how Rust shares a module's private items.
            if m.starts_with(next) {
                continue;
            }
            if let Some(cycle) = visit(next, edges, state, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        state.insert(m, 2);
        None
    }
    for m in edges.keys() {
        if let Some(cycle) = visit(m, &edges, &mut state, &mut Vec::new()) {
            panic!("import cycle: {}", cycle.join(" → "));
        }
    }
}

#[test]
fn the_check_sees_an_upward_import() {
    let found = imports(
        &["engine".into(), "request".into()],
        "use crate::reach::{Reachability, Uid};\nfn f() { crate::workspace::load(); }",
    );
    assert!(found.contains(&vec!["reach".to_string(), "Reachability".to_string()]));
    assert!(found.contains(&vec!["workspace".to_string(), "load".to_string()]));
    let supers = imports(
        &["workspace".into(), "files".into()],
        "use super::config::Doc;",
    );
    assert!(supers.contains(&vec!["workspace".to_string(), "config".to_string()]));
}
