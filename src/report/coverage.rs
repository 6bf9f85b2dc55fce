//! `actas test --coverage`: the human summary, lcov and Markdown (JSON is in `json/`).

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::analysis::coverage::{Coverage, Kind, Paths, PolicyCoverage};
use crate::report::escape::terminal;
use crate::report::json::{coverage_doc, rounded};
use crate::report::template;

/// `--coverage-format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CoverageFormat {
    /// A summary after the test results, uncovered items first.
    Human,
    /// The whole coverage (docs/coverage.md).
    Json,
    /// lcov tracefile of the `.cedar` files, for coverage tools and editors.
    Lcov,
    /// A summary table for pull requests.
    Markdown,
}

/// How many items each human list shows.
const SHOWN: usize = 20;
/// How many untested paths the Markdown lists (the JSON has them all).
const MARKDOWN_PATHS: usize = 50;

pub fn render(c: &Coverage<'_>, format: CoverageFormat) -> String {
    match format {
        CoverageFormat::Human => human(c),
        CoverageFormat::Json => crate::report::json::to_string(&coverage_doc(c, None)),
        CoverageFormat::Lcov => lcov(c),
        CoverageFormat::Markdown => template::render(
            "coverage.md",
            include_str!("templates/coverage.md"),
            &coverage_doc(c, Some(MARKDOWN_PATHS)),
        )
        .unwrap_or_default(),
    }
}

/// The gate's verdict in one line, or `None` when it passed or was not applied.
pub fn gate_line(c: &Coverage<'_>) -> Option<String> {
    if c.shortfalls.is_empty() {
        return None;
    }
    let parts: Vec<String> = c
        .shortfalls
        .iter()
        .map(|s| format!("{} {:.1}% < {}%", s.what, s.actual, s.required))
        .collect();
    Some(format!(
        "coverage below the gate of actas.yaml: {}",
        parts.join(", ")
    ))
}

fn human(c: &Coverage<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\ncoverage:");
    let r = c.policy_ratio;
    let _ = writeln!(
        out,
        "  policies    {}/{} determined a decision ({:.1}%)",
        r.covered,
        r.total,
        rounded(r)
    );
    let r = c.condition_ratio;
    let _ = writeln!(
        out,
        "  conditions  {}/{} clauses seen true and false ({:.1}%)",
        r.covered,
        r.total,
        rounded(r)
    );
    match &c.paths_skipped {
        Some(why) => {
            let _ = writeln!(out, "  paths       not computed: {why}");
        }
        None => {
            let per: Vec<String> = c
                .path_ratios
                .iter()
                .map(|(p, r)| format!("{p} {}/{} ({:.1}%)", r.covered, r.total, rounded(*r)))
                .collect();
            let _ = writeln!(out, "  paths       {}", per.join(", "));
        }
    }
    let ignored = c.policies.iter().filter(|p| p.ignored.is_some()).count();
    if ignored > 0 {
        let _ = writeln!(out, "  ignored     {ignored} (@actas_coverage)");
    }
    if let Some(paths) = &c.paths {
        untested_paths(&mut out, paths);
    }
    let counted = || c.policies.iter().filter(|p| p.ignored.is_none());
    let undetermined: Vec<&PolicyCoverage> = counted().filter(|p| !p.determined).collect();
    list(
        &mut out,
        "never determined a decision",
        &undetermined,
        |p| format!("{} ({}) {}", p.id, p.kind.name(), place(&p.file, p.line)),
    );
    let mut clauses: Vec<String> = Vec::new();
    for p in counted().filter(|p| p.kind != Kind::Link) {
        for (k, cl) in p.clauses.iter().enumerate() {
            if cl.seen_true && cl.seen_false {
                continue;
            }
            let never = match (cl.seen_true, cl.seen_false) {
                (false, false) => "never evaluated (or only with errors)",
                (true, _) => "never false",
                (_, true) => "never true",
            };
            clauses.push(format!(
                "{} clause {} ({}) {}: {never}",
                p.id,
                k + 1,
                cl.kind,
                place(&p.file, cl.line)
            ));
        }
    }
    list(
        &mut out,
        "clauses not seen both ways",
        &clauses,
        Clone::clone,
    );
    if let Some(why) = &c.gate_skipped {
        let _ = writeln!(out, "\nnote: {why}");
    }
    if let Some(line) = gate_line(c) {
        let _ = writeln!(out, "\n{line}");
    }
    terminal(&out).into_owned()
}

fn place(file: &str, line: Option<usize>) -> String {
    match line {
        Some(l) => format!("{file}:{l}"),
        None => file.to_string(),
    }
}

fn list<T>(out: &mut String, title: &str, items: &[T], show: impl Fn(&T) -> String) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n  {title} ({}):", items.len());
    for item in items.iter().take(SHOWN) {
        let _ = writeln!(out, "    {}", show(item));
    }
    if items.len() > SHOWN {
        let _ = writeln!(
            out,
            "    … and {} more (`--coverage-format json` lists all)",
            items.len() - SHOWN
        );
    }
}

/// Untested paths by account, the accounts most often reached untested first, each with its
/// first few principals.
fn untested_paths(out: &mut String, paths: &Paths<'_>) {
    /// (untested paths, the first few as text)
    type Account = (usize, Vec<String>);
    let mut by_target: BTreeMap<&str, Account> = BTreeMap::new();
    let mut total = 0;
    for p in paths.part(false) {
        total += 1;
        let (count, first) = by_target.entry(p.target).or_default();
        *count += 1;
        if first.len() < 5 {
            let via = match p.chain.split_last() {
                Some((_, before)) if !before.is_empty() => format!(" via {}", before.join(" → ")),
                _ => String::new(),
            };
            first.push(format!("{}{via} under {}", p.principal, p.profile));
        }
    }
    if total == 0 {
        return;
    }
    let mut targets: Vec<(&str, Account)> = by_target.into_iter().collect();
    targets.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(b.0)));
    let _ = writeln!(out, "\n  untested paths ({total}), by account:");
    for (target, (count, mut first)) in targets.iter().take(SHOWN).cloned() {
        if count > first.len() {
            first.push(format!("and {} more", count - first.len()));
        }
        let _ = writeln!(out, "    {target} ({count}): {}", first.join("; "));
    }
    if targets.len() > SHOWN {
        let _ = writeln!(
            out,
            "    … and {} more accounts (`--coverage-format json` lists all)",
            targets.len() - SHOWN
        );
    }
}

/// An lcov tracefile: one record per policy file, a function per static policy and template
/// (`FNDA`: the requests it determined; a template's are its links'), a line per policy head
/// (`DA`: the same count) and per clause (`DA`: 1 when seen either way), and two branches per
/// clause (`BRDA`: seen true, seen false; `-` when the policy's condition was never evaluated).
/// Links are counted in their template's lines; ignored policies are left out.
fn lcov(c: &Coverage<'_>) -> String {
    let mut files: BTreeMap<&str, Vec<&PolicyCoverage>> = BTreeMap::new();
    for p in c
        .policies
        .iter()
        .filter(|p| p.kind != Kind::Link && p.ignored.is_none() && p.line.is_some())
    {
        files.entry(&p.file).or_default().push(p);
    }
    let mut out = String::new();
    for (file, policies) in files {
        let _ = writeln!(out, "TN:actas\nSF:{}", lcov_text(file));
        let mut lines: BTreeMap<usize, u64> = BTreeMap::new();
        let (mut branches, mut taken) = (0, 0);
        for p in &policies {
            let line = p.line.unwrap_or(0);
            let _ = writeln!(out, "FN:{line},{}", lcov_text(&p.id));
            *lines.entry(line).or_default() += p.determined_count;
        }
        for p in &policies {
            let _ = writeln!(out, "FNDA:{},{}", p.determined_count, lcov_text(&p.id));
        }
        let hit = policies.iter().filter(|p| p.determined).count();
        let _ = writeln!(out, "FNF:{}\nFNH:{hit}", policies.len());
        for (block, p) in policies.iter().enumerate() {
            let evaluated = p.condition_true
                || p.condition_false
                || p.clauses.iter().any(|k| k.seen_true || k.seen_false);
            for (k, clause) in p.clauses.iter().enumerate() {
                let line = clause.line.or(p.line).unwrap_or(0);
                let seen = u64::from(clause.seen_true || clause.seen_false);
                let count = lines.entry(line).or_default();
                *count = (*count).max(seen);
                for (branch, was) in [(2 * k, clause.seen_true), (2 * k + 1, clause.seen_false)] {
                    branches += 1;
                    taken += usize::from(was);
                    let mark = match (evaluated, was) {
                        (false, _) => "-".to_string(),
                        (true, w) => u8::from(w).to_string(),
                    };
                    let _ = writeln!(out, "BRDA:{line},{block},{branch},{mark}");
                }
            }
        }
        let _ = writeln!(out, "BRF:{branches}\nBRH:{taken}");
        for (line, count) in &lines {
            let _ = writeln!(out, "DA:{line},{count}");
        }
        let lit = lines.values().filter(|&&n| n > 0).count();
        let _ = writeln!(out, "LF:{}\nLH:{lit}\nend_of_record", lines.len());
    }
    out
}

/// A file name or id on one lcov line: control characters would start a new record.
fn lcov_text(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}
