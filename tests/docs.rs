//! The documentation a user navigates: every relative link in the README and docs/ reaches a
//! file (and, with `#anchor`, a heading of it), the README stays short, and nothing points
//! outside the repository.

use crate::support;

use std::path::{Path, PathBuf};

use support::root;

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            markdown_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

/// GitHub's heading anchor: lower case, spaces to `-`, other punctuation dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// `](target)` links outside code blocks.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            rest = &rest[i + 2..];
            if let Some(end) = rest.find(')') {
                out.push(rest[..end].to_string());
                rest = &rest[end..];
            }
        }
    }
    out
}

#[test]
fn every_relative_link_reaches_a_file_and_heading() {
    let mut files = vec![root().join("README.md")];
    markdown_files(&root().join("docs"), &mut files);
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(
            !text.contains("../shared") && !text.contains("DESIGN.md"),
            "{file:?} points outside the repository"
        );
        for link in links(&text) {
            if link.starts_with("http") || link.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = link.split_once('#').unwrap_or((&link, ""));
            let target = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            assert!(target.exists(), "{file:?}: `{link}` reaches nothing");
            if !anchor.is_empty() {
                let headings: Vec<String> = std::fs::read_to_string(&target)
                    .unwrap()
                    .lines()
                    .filter_map(|l| l.strip_prefix('#'))
                    .map(|l| slug(l.trim_start_matches('#')))
                    .collect();
                assert!(
                    headings.iter().any(|h| h == anchor),
                    "{file:?}: `{link}`: no such heading in {target:?} ({headings:?})"
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} links checked");
}

#[test]
fn the_readme_stays_short_and_names_the_two_set_up_commands() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.lines().count() <= 200,
        "README.md is {} lines",
        readme.lines().count()
    );
    assert!(readme.contains("cargo run --release -- test"));
    assert!(readme.contains("\ncargo test "));
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    assert!(
        ci.lines().any(|l| l.trim() == "cargo test"),
        ".ci/run runs the README's test command"
    );
}

/// Every `$ actas …` transcript in the README is what actas prints on the bundled example:
/// each line shown appears in the output, in order (`…` stands for what is left out, inside a
/// line or as a line of its own). The commands run in a copy of the example through `sh`, with
/// this build's actas first on PATH.
#[test]
fn every_readme_transcript_is_what_actas_prints() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let dir = support::example_copy();
    support::copy(
        &root().join("actas.baseline.json"),
        &dir.path().join("actas.baseline.json"),
    );
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_actas"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // The fenced blocks' contents.
    let mut blocks: Vec<String> = Vec::new();
    let mut inside = false;
    for line in readme.lines() {
        if line.starts_with("```") {
            inside = !inside;
            if inside {
                blocks.push(String::new());
            }
        } else if inside {
            let block = blocks.last_mut().unwrap();
            block.push_str(line);
            block.push('\n');
        }
    }
    let mut ran = 0;
    for block in &blocks {
        let mut lines = block.lines().peekable();
        while let Some(line) = lines.next() {
            let Some(command) = line.strip_prefix("$ ") else {
                continue;
            };
            // Proofs need the solver (CI installs it and sets ACTAS_REQUIRE_SOLVER).
            if command.starts_with("actas prove") && support::solver().is_none() {
                continue;
            }
            let mut expected = Vec::new();
            while let Some(l) = lines.next_if(|l| !l.starts_with("$ ")) {
                expected.push(l);
            }
            let out = std::process::Command::new("sh")
                .args(["-c", command])
                .current_dir(dir.path())
                .env("PATH", &path)
                .env("NO_COLOR", "1")
                .env("GIT_DIR", "/nonexistent/actas-tests-have-no-repository")
                .output()
                .unwrap();
            let printed = String::from_utf8_lossy(&out.stdout);
            let mut rest = printed.lines();
            for want in expected.iter().filter(|l| l.trim() != "…") {
                let pieces: Vec<&str> = want.split('…').filter(|p| !p.is_empty()).collect();
                let found = rest.any(|got| {
                    let mut at = 0;
                    pieces.iter().all(|p| match got[at..].find(p) {
                        Some(i) => {
                            at += i + p.len();
                            true
                        }
                        None => false,
                    })
                });
                assert!(
                    found,
                    "README: `{command}` does not print {want:?}; it printed:\n{printed}"
                );
            }
            ran += 1;
        }
    }
    assert!(ran >= 7, "only {ran} transcripts checked");
}
