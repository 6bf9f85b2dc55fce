//! `actas report --format dot` and `--format mermaid`: the impersonation graph, for people who
//! would rather look than read. Identities and accounts are nodes (humans marked), allowed hops
//! are edges labelled with the policies that allow them and the profiles they hold under. A graph
//! of more than [`MAX_EDGES`] hops keeps the first ones (in path order) and says how many it
//! leaves out: past that no layout is readable.

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::commands::report::ReportResult;
use crate::report::json::{report_paths_with, PathDoc, ReportDoc};
use crate::report::Renderer;

pub struct Dot;
pub struct Mermaid;

/// The most hops drawn.
pub const MAX_EDGES: usize = 1_000;

/// (from, to) node numbers, the policies allowing the hop, the profiles of the chains using it.
type Edge = ((usize, usize), BTreeSet<String>, BTreeSet<String>);

#[derive(Default)]
struct Graph {
    /// Node label to whether it is a human, in first-seen order.
    nodes: Vec<(String, bool)>,
    index: BTreeMap<String, usize>,
    /// (from, to) node numbers to (policies, profiles), in first-seen order.
    edges: Vec<Edge>,
    edge_index: BTreeMap<(usize, usize), usize>,
    left_out: BTreeSet<(String, String)>,
}

impl Graph {
    fn node(&mut self, uid: &str, human: bool) -> usize {
        if let Some(&i) = self.index.get(uid) {
            self.nodes[i].1 |= human;
            return i;
        }
        self.nodes.push((uid.to_string(), human));
        self.index.insert(uid.to_string(), self.nodes.len() - 1);
        self.nodes.len() - 1
    }

    fn of(r: &ReportResult) -> Self {
        Self::from_paths(report_paths_with(r, false), MAX_EDGES)
    }

    /// The hops of `paths`, at most `max_edges` of them (in path order).
    fn from_paths<P: Borrow<PathDoc>>(
        paths: impl IntoIterator<Item = P>,
        max_edges: usize,
    ) -> Self {
        let mut g = Graph::default();
        for p in paths {
            let p = p.borrow();
            for route in &p.routes {
                for step in &route.steps {
                    let key_text = (step.from.clone(), step.to.clone());
                    let known = g.index.get(&step.from).zip(g.index.get(&step.to));
                    let existing = known.and_then(|(a, b)| g.edge_index.get(&(*a, *b)).copied());
                    let i = match existing {
                        Some(i) => i,
                        None if g.edges.len() >= max_edges => {
                            g.left_out.insert(key_text);
                            continue;
                        }
                        None => {
                            let human = p.human && step.from == p.principal;
                            let a = g.node(&step.from, human);
                            let b = g.node(&step.to, false);
                            g.edges.push(((a, b), BTreeSet::new(), BTreeSet::new()));
                            g.edge_index.insert((a, b), g.edges.len() - 1);
                            g.edges.len() - 1
                        }
                    };
                    let edge = &mut g.edges[i];
                    edge.1.extend(step.policies.iter().map(ToString::to_string));
                    edge.2
                        .extend(route.profiles.iter().map(ToString::to_string));
                }
            }
        }
        g
    }

    fn label(policies: &BTreeSet<String>, profiles: &BTreeSet<String>) -> (String, String) {
        (
            policies.iter().cloned().collect::<Vec<_>>().join(", "),
            profiles.iter().cloned().collect::<Vec<_>>().join(", "),
        )
    }
}

/// A DOT double-quoted string's contents.
fn dot_text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' => "\\\"".to_string(),
            '\\' => "\\\\".to_string(),
            c if c.is_control() => " ".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// Text inside a quoted Mermaid label: quotes, angle brackets, `&` and `#` as Mermaid's entity
/// codes, so no id can end the label, open markup or start a directive.
fn mermaid_text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '#' => "#35;".to_string(),
            '"' => "#quot;".to_string(),
            '<' => "#lt;".to_string(),
            '>' => "#gt;".to_string(),
            '&' => "#amp;".to_string(),
            '|' => "#124;".to_string(),
            '`' => "#96;".to_string(),
            c if c.is_control() => " ".to_string(),
            c => c.to_string(),
        })
        .collect()
}

impl Renderer for Dot {
    fn report(&self, r: &ReportResult) -> Option<String> {
        let g = Graph::of(r);
        let mut out = String::from(
            "// actas report --format dot: who may impersonate whom (render: dot -Tsvg)\n",
        );
        for line in crate::report::provenance_lines(&r.provenance) {
            let _ = writeln!(out, "// {}", line.replace(['\n', '\r'], " "));
        }
        out.push_str("digraph impersonation {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n");
        for (i, (uid, human)) in g.nodes.iter().enumerate() {
            let style = if *human {
                ", shape=ellipse, style=filled, fillcolor=\"#fde2e2\""
            } else {
                ""
            };
            let suffix = if *human { " (human)" } else { "" };
            let _ = writeln!(out, "  n{i} [label=\"{}{suffix}\"{style}];", dot_text(uid));
        }
        for ((a, b), policies, profiles) in &g.edges {
            let (policies, profiles) = Graph::label(policies, profiles);
            let _ = writeln!(
                out,
                "  n{a} -> n{b} [label=\"{}\\n[{}]\"];",
                dot_text(&policies),
                dot_text(&profiles)
            );
        }
        if !g.left_out.is_empty() {
            let _ = writeln!(
                out,
                "  // {} more hops are left out: a graph past {MAX_EDGES} hops is not readable; use --format json or csv",
                g.left_out.len()
            );
        }
        out.push_str("}\n");
        Some(out)
    }
}

impl Renderer for Mermaid {
    fn report(&self, r: &ReportResult) -> Option<String> {
        let mut out = String::from("flowchart LR\n");
        for line in crate::report::provenance_lines(&r.provenance) {
            let _ = writeln!(out, "  %% {}", line.replace(['\n', '\r'], " "));
        }
        mermaid_body(&mut out, &Graph::of(r), None, MAX_EDGES);
        Some(out)
    }
}

/// Nodes, edges and classes of a Mermaid flowchart; `target` is drawn as the goal.
fn mermaid_body(out: &mut String, g: &Graph, target: Option<&str>, cap: usize) {
    for (i, (uid, human)) in g.nodes.iter().enumerate() {
        let suffix = if *human { " (human)" } else { "" };
        let _ = writeln!(out, "  n{i}[\"{}{suffix}\"]", mermaid_text(uid));
    }
    for ((a, b), policies, profiles) in &g.edges {
        let (policies, profiles) = Graph::label(policies, profiles);
        let _ = writeln!(
            out,
            "  n{a} -->|\"{} [{}]\"| n{b}",
            mermaid_text(&policies),
            mermaid_text(&profiles)
        );
    }
    let humans: Vec<String> = g
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, (_, h))| *h)
        .map(|(i, _)| format!("n{i}"))
        .collect();
    if !humans.is_empty() {
        out.push_str("  classDef human fill:#fde2e2,stroke:#c00\n");
        let _ = writeln!(out, "  class {} human", humans.join(","));
    }
    if let Some(i) = target.and_then(|t| g.index.get(t)) {
        out.push_str("  classDef target fill:#ddf4ff,stroke:#0969da,stroke-width:2px\n");
        let _ = writeln!(out, "  class n{i} target");
    }
    if !g.left_out.is_empty() {
        let _ = writeln!(
            out,
            "%% {} more hops are left out: a graph past {cap} hops is not readable; use --format json or csv",
            g.left_out.len()
        );
    }
}

/// The most accounts drawn in one report, the most reached first.
pub const MAX_ACCOUNT_DIAGRAMS: usize = 100;
/// The most hops drawn for one account.
pub const MAX_ACCOUNT_EDGES: usize = 60;

/// One reached account, drawn: the chains of every path to it.
#[derive(Debug, serde::Serialize)]
pub struct AccountDiagram {
    pub account: String,
    /// A Mermaid flowchart (Markdown).
    pub mermaid: String,
    /// An SVG drawing (HTML), laid out here.
    pub svg: String,
    /// Hops to this account not drawn (past [`MAX_ACCOUNT_EDGES`]).
    pub hops_left_out: usize,
}

/// The report document with a drawing per reached account, for the Markdown and HTML
/// templates (`doc.diagrams`, `doc.accounts_not_drawn`).
#[derive(serde::Serialize)]
pub struct Drawn<'a> {
    #[serde(flatten)]
    pub doc: &'a ReportDoc,
    pub diagrams: Vec<AccountDiagram>,
    pub accounts_not_drawn: usize,
    pub max_account_edges: usize,
}

pub fn drawn(doc: &ReportDoc) -> Drawn<'_> {
    let (diagrams, accounts_not_drawn) = account_diagrams(doc);
    Drawn {
        doc,
        diagrams,
        accounts_not_drawn,
        max_account_edges: MAX_ACCOUNT_EDGES,
    }
}

/// The diagrams of the accounts `doc` reaches, most reached first, and how many accounts are
/// left undrawn (past [`MAX_ACCOUNT_DIAGRAMS`]).
fn account_diagrams(doc: &ReportDoc) -> (Vec<AccountDiagram>, usize) {
    let accounts = &doc.summary.reach_by_account;
    let mut by_target: BTreeMap<&str, Vec<&PathDoc>> = BTreeMap::new();
    for p in &doc.paths {
        by_target.entry(p.target.as_str()).or_default().push(p);
    }
    let drawn = accounts
        .iter()
        .take(MAX_ACCOUNT_DIAGRAMS)
        .enumerate()
        .map(|(n, a)| {
            let paths = by_target.get(a.account.as_str()).into_iter().flatten();
            let g = Graph::from_paths(paths.copied(), MAX_ACCOUNT_EDGES);
            let mut mermaid = String::from("flowchart LR\n");
            mermaid_body(&mut mermaid, &g, Some(&a.account), MAX_ACCOUNT_EDGES);
            let edges: Vec<crate::report::svg::Edge> = g
                .edges
                .iter()
                .map(|((from, to), policies, profiles)| {
                    let (policies, profiles) = Graph::label(policies, profiles);
                    crate::report::svg::Edge {
                        from: *from,
                        to: *to,
                        label: policies,
                        title: format!("under {profiles}"),
                    }
                })
                .collect();
            let target = g.index.get(&a.account).copied();
            AccountDiagram {
                account: a.account.clone(),
                mermaid,
                svg: crate::report::svg::layered(&g.nodes, &edges, target, &format!("chains-{n}")),
                hops_left_out: g.left_out.len(),
            }
        })
        .collect();
    (drawn, accounts.len().saturating_sub(MAX_ACCOUNT_DIAGRAMS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_cannot_break_out() {
        assert_eq!(dot_text("a\"b\\c\nd"), "a\\\"b\\\\c d");
        let m = mermaid_text("x\"] --> evil[\"<img src=x>|`#");
        assert!(!m.contains(['"', '<', '>', '|', '`']), "{m}");
        assert!(m.starts_with("x#quot;]"));
    }
}
