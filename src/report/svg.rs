//! A layered drawing of the chains to one account, as inline SVG for the HTML report (HTML needs
//! no `xmlns` on it, and the page loads nothing, so it carries none): no network,
//! no external program. Chains are at most `max_chain` hops, so a column per distance reads well:
//! the account sits in the rightmost column and every other identity in the column of its
//! distance (in drawn hops) to it, so a chain reads left to right. Within a column, identities
//! are ordered by the mean row of the identities they reach (one sweep from the account
//! leftwards, ties by name), which keeps most edges from crossing. An edge that cannot go right
//! (between identities at the same distance) is drawn as an arc below them.

use std::collections::VecDeque;
use std::fmt::Write as _;

/// One hop to draw between two nodes (indices into the node list).
pub struct Edge {
    pub from: usize,
    pub to: usize,
    /// Written on the edge (the policies allowing the hop).
    pub label: String,
    /// Shown on hover (the profiles it holds under).
    pub title: String,
}

const CHAR_WIDTH: f64 = 7.3;
const NODE_HEIGHT: f64 = 28.0;
const ROW_PITCH: f64 = 44.0;
const COLUMN_GAP: f64 = 150.0;
const MARGIN: f64 = 12.0;
const LABEL_CHARS: usize = 26;

/// `nodes`: (label, is human); `target`: the account drawn as the goal.
/// `id` makes the drawing's own element ids unique on a page of many drawings.
pub fn layered(
    nodes: &[(String, bool)],
    edges: &[Edge],
    target: Option<usize>,
    id: &str,
) -> String {
    let n = nodes.len();
    let distance = distances(n, edges, target);
    let deepest = distance.iter().copied().max().unwrap_or(0);
    let columns = deepest + 1;
    let column_of = |i: usize| deepest - distance[i];

    let (rows, row_of) = order_rows(nodes, edges, columns, &column_of);

    let widths: Vec<f64> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|&i| box_width(&nodes[i].0, nodes[i].1))
                .fold(0.0, f64::max)
        })
        .collect();
    let mut x = vec![MARGIN; columns];
    for c in 1..columns {
        x[c] = x[c - 1] + widths[c - 1] + COLUMN_GAP;
    }
    let tallest = rows.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let has_arcs = edges.iter().any(|e| column_of(e.to) <= column_of(e.from));
    let height = tallest as f64 * ROW_PITCH + 2.0 * MARGIN + if has_arcs { 40.0 } else { 0.0 };
    let width = x[columns - 1] + widths[columns - 1] + MARGIN;
    // Centre each column against the tallest one.
    let y = |i: usize| {
        let c = column_of(i);
        let offset = (tallest - rows[c].len()) as f64 * ROW_PITCH / 2.0;
        MARGIN + offset + row_of[i] * ROW_PITCH
    };

    let mut out = String::new();
    let title = target.map_or("impersonation chains", |t| nodes[t].0.as_str());
    let _ = write!(
        out,
        r##"<svg class="chains" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" role="img" aria-label="chains to {}"><title>chains to {}</title><defs><marker id="{id}-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#57606a"/></marker></defs>"##,
        xml(title),
        xml(title)
    );
    for e in edges {
        let (cf, ct) = (column_of(e.from), column_of(e.to));
        let (y1, y2) = (y(e.from) + NODE_HEIGHT / 2.0, y(e.to) + NODE_HEIGHT / 2.0);
        // A forward edge is labelled at its start (each source has its own row, so labels of
        // edges converging on one account do not overlap); an arc at its lowest point.
        let anchor = if ct > cf { "start" } else { "middle" };
        let (path, lx, ly) = if ct > cf {
            let x1 = x[cf] + box_width(&nodes[e.from].0, nodes[e.from].1);
            let x2 = x[ct];
            let bend = (x2 - x1) / 2.0;
            (
                format!(
                    "M{x1:.1},{y1:.1} C{:.1},{y1:.1} {:.1},{y2:.1} {x2:.1},{y2:.1}",
                    x1 + bend,
                    x2 - bend
                ),
                x1 + 6.0,
                y1 - 5.0,
            )
        } else {
            // Same column (or backwards): an arc below both boxes.
            let x1 = x[cf] + box_width(&nodes[e.from].0, nodes[e.from].1) / 2.0;
            let x2 = x[ct] + box_width(&nodes[e.to].0, nodes[e.to].1) / 2.0;
            let (b1, b2) = (y1 + NODE_HEIGHT / 2.0, y2 + NODE_HEIGHT / 2.0);
            let low = b1.max(b2) + 30.0;
            (
                format!("M{x1:.1},{b1:.1} C{x1:.1},{low:.1} {x2:.1},{low:.1} {x2:.1},{b2:.1}"),
                (x1 + x2) / 2.0,
                low - 4.0,
            )
        };
        let _ = write!(
            out,
            r##"<g class="hop"><title>{} → {}: {} ({})</title><path d="{path}" fill="none" stroke="#57606a" stroke-width="1.3" marker-end="url(#{id}-arrow)"/><text x="{lx:.1}" y="{ly:.1}" text-anchor="{anchor}" font-size="10" fill="#57606a">{}</text></g>"##,
            xml(&nodes[e.from].0),
            xml(&nodes[e.to].0),
            xml(&e.label),
            xml(&e.title),
            xml(&shorten(&e.label))
        );
    }
    for (i, (label, human)) in nodes.iter().enumerate() {
        let (fill, stroke) = if Some(i) == target {
            ("#ddf4ff", "#0969da")
        } else if *human {
            ("#fde2e2", "#c00")
        } else {
            ("#ffffff", "#57606a")
        };
        let w = box_width(label, *human);
        let (bx, by) = (x[column_of(i)], y(i));
        let shown = if *human {
            format!("{label} (human)")
        } else {
            label.clone()
        };
        let _ = write!(
            out,
            r##"<g class="node"><rect x="{bx:.1}" y="{by:.1}" width="{w:.1}" height="{NODE_HEIGHT}" rx="5" fill="{fill}" stroke="{stroke}"/><text x="{:.1}" y="{:.1}" font-size="12" font-family="ui-monospace, Menlo, Consolas, monospace" fill="#1b1f24">{}</text></g>"##,
            bx + 8.0,
            by + NODE_HEIGHT / 2.0 + 4.0,
            xml(&shown)
        );
    }
    out.push_str("</svg>");
    out
}

/// Each column's nodes top to bottom, and each node's row: the rightmost column first, each node
/// by the mean row of the nodes it reaches in columns to its right (ties by label).
fn order_rows(
    nodes: &[(String, bool)],
    edges: &[Edge],
    columns: usize,
    column_of: &dyn Fn(usize) -> usize,
) -> (Vec<Vec<usize>>, Vec<f64>) {
    let n = nodes.len();
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); columns];
    let mut row_of = vec![0.0_f64; n];
    for c in (0..columns).rev() {
        let mut members: Vec<(f64, &str, usize)> = (0..n)
            .filter(|&i| column_of(i) == c)
            .map(|i| {
                let next: Vec<f64> = edges
                    .iter()
                    .filter(|e| e.from == i && column_of(e.to) > c)
                    .map(|e| row_of[e.to])
                    .collect();
                let mean = if next.is_empty() {
                    f64::MAX
                } else {
                    next.iter().sum::<f64>() / next.len() as f64
                };
                (mean, nodes[i].0.as_str(), i)
            })
            .collect();
        members.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(b.1)));
        for (row, (_, _, i)) in members.iter().enumerate() {
            row_of[*i] = row as f64;
        }
        rows[c] = members.into_iter().map(|(_, _, i)| i).collect();
    }
    (rows, row_of)
}

/// Hops from each node to `target` over `edges` (0 for the target); nodes that do not reach it
/// sit one column further left than the farthest that does.
fn distances(n: usize, edges: &[Edge], target: Option<usize>) -> Vec<usize> {
    let mut distance = vec![usize::MAX; n];
    let mut queue = VecDeque::new();
    if let Some(t) = target.filter(|&t| t < n) {
        distance[t] = 0;
        queue.push_back(t);
    }
    while let Some(v) = queue.pop_front() {
        for e in edges.iter().filter(|e| e.to == v) {
            if distance[e.from] == usize::MAX {
                distance[e.from] = distance[v] + 1;
                queue.push_back(e.from);
            }
        }
    }
    let farthest = distance
        .iter()
        .copied()
        .filter(|&d| d != usize::MAX)
        .max()
        .unwrap_or(0);
    distance
        .into_iter()
        .map(|d| if d == usize::MAX { farthest + 1 } else { d })
        .collect()
}

fn box_width(label: &str, human: bool) -> f64 {
    let chars = label.chars().count() + if human { 8 } else { 0 };
    chars as f64 * CHAR_WIDTH + 16.0
}

/// An edge label of at most [`LABEL_CHARS`] characters (the whole one is in the hover title).
fn shorten(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARS {
        return label.to_string();
    }
    let mut s: String = label.chars().take(LABEL_CHARS - 1).collect();
    s.push('…');
    s
}

/// Text for SVG content and attribute values.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(from: usize, to: usize) -> Edge {
        Edge {
            from,
            to,
            label: "p".into(),
            title: "under routine".into(),
        }
    }

    #[test]
    fn a_chain_reads_left_to_right() {
        let nodes = vec![
            ("User::\"carol\"".to_string(), true),
            ("ServiceAccount::\"ci\"".to_string(), false),
            ("ServiceAccount::\"prod\"".to_string(), false),
        ];
        let d = distances(3, &[edge(0, 1), edge(1, 2)], Some(2));
        assert_eq!(d, vec![2, 1, 0]);
        let svg = layered(&nodes, &[edge(0, 1), edge(1, 2)], Some(2), "d0");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<g class=\"node\">").count(), 3);
        assert_eq!(svg.matches("<g class=\"hop\">").count(), 2);
        assert!(svg.contains("(human)"));
    }

    #[test]
    fn labels_cannot_open_markup() {
        let nodes = vec![
            ("User::\"<script>alert(1)</script>\"".to_string(), false),
            ("A::\"x\"".to_string(), false),
        ];
        let svg = layered(&nodes, &[edge(0, 1)], Some(1), "d0");
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"));
    }

    #[test]
    fn edges_within_a_column_are_arcs_and_unreached_nodes_still_drawn() {
        let nodes: Vec<(String, bool)> = ["a", "b", "t", "lost"]
            .iter()
            .map(|s| (s.to_string(), false))
            .collect();
        // a and b both reach t directly, and a also reaches b: an arc.
        let svg = layered(&nodes, &[edge(0, 2), edge(1, 2), edge(0, 1)], Some(2), "d0");
        assert_eq!(svg.matches("<g class=\"node\">").count(), 4);
        assert_eq!(svg.matches("<g class=\"hop\">").count(), 3);
        assert_eq!(
            distances(4, &[edge(0, 2), edge(1, 2)], Some(2)),
            vec![1, 1, 0, 2]
        );
    }
}
