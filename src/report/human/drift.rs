//! `actas drift` as text.

#[allow(unused_imports, reason = "one shared import list for the text modules")]
use super::*;
use crate::core::ids::{PolicyId, ProfileName};
use crate::report::json::{ConsequenceDoc, PolicyChangeDoc};

pub(super) fn drift_text(r: &DriftResult) -> String {
    let doc = drift_doc(r);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Drift against {} (fails on: {} and above)",
        doc.baseline, doc.fail_on
    );
    for n in &doc.notes {
        let _ = writeln!(out, "note: {n}");
    }
    for (title, count) in [("new", doc.new.len()), ("removed", doc.removed.len())] {
        let changes: Vec<&PolicyChangeDoc> = doc
            .changes
            .iter()
            .filter(|c| c.direction == title)
            .collect();
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{title} ({count}{}):",
            if changes.is_empty() {
                String::new()
            } else {
                format!(
                    ", from {}",
                    plural(changes.len(), "policy change", "policy changes")
                )
            }
        );
        for c in changes {
            let policies: Vec<String> = c
                .policies
                .iter()
                .map(|p| match (&p.file, p.line) {
                    (Some(f), Some(l)) => format!("{} ({f}:{l})", p.id),
                    _ => format!("{} (no longer in the policies)", p.id),
                })
                .collect();
            let _ = writeln!(
                out,
                "  {}: {}",
                policies.join(", "),
                plural(c.consequences.len(), "path or grant", "paths and grants")
            );
            for x in &c.consequences {
                let _ = writeln!(
                    out,
                    "    {:<6} {}",
                    x.severity.to_uppercase(),
                    consequence_line(x)
                );
            }
        }
    }
    if let Some(u) = &doc.usage {
        usage_text(&mut out, u);
    }
    let _ = writeln!(out);
    let verdict = if doc.failing {
        "drift"
    } else {
        "no failing drift"
    };
    let denied = doc
        .usage
        .as_ref()
        .map(|u| format!(", {} used but now denied", u.used_but_denied.len()))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{verdict}: {} new, {} removed{denied}{}",
        doc.new.len(),
        doc.removed.len(),
        if doc.accepted {
            "; baseline updated (--accept)"
        } else {
            ""
        }
    );
    if !doc.failing_reasons.is_empty() {
        let _ = writeln!(out, "fails because of: {}", doc.failing_reasons.join("; "));
    }
    let changed = !doc.new.is_empty() || !doc.removed.is_empty();
    if changed && !doc.accepted {
        let _ = writeln!(
            out,
            "hint: if the change is intended, record it as the new baseline: actas drift --accept"
        );
    }
    out
}

/// A consequence as `[profiles] path a → b (also by …)`; `[every profile]` when it holds
/// under all of them.
fn consequence_line(x: &ConsequenceDoc) -> String {
    let change = ChangeDoc {
        profile: ProfileName::from(if x.every_profile {
            "every profile".to_string()
        } else {
            x.profiles
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        }),
        kind: x.kind.clone(),
        principal: x.principal.clone(),
        target: x.target.clone(),
        chain: x.chain.clone(),
        acting_as: x.acting_as.clone(),
        action: x.action.clone(),
        resource: x.resource.clone(),
        policies: Vec::new(),
    };
    let mut line = change_line(&change);
    if !x.also.is_empty() {
        let also: Vec<&str> = x.also.iter().map(PolicyId::as_str).collect();
        let _ = write!(line, " (also by {})", also.join(", "));
    }
    line
}

/// The usage-log half: what was used but is now denied, what is granted but unused, and the
/// entries skipped.
fn usage_text(out: &mut String, u: &UsageDoc) {
    let _ = writeln!(out);
    let window = match (&u.first, &u.last) {
        (Some(a), Some(b)) => format!(", from {a} to {b}"),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "usage log {}: {}, {} in the window{window}",
        u.file,
        plural(u.lines, "line", "lines"),
        u.considered
    );
    let _ = writeln!(out, "  used but now denied ({}):", u.used_but_denied.len());
    for d in &u.used_but_denied {
        let mut who = d.principal.clone();
        for c in &d.chain {
            let _ = write!(who, " → {c}");
        }
        let why = if d.reasons.is_empty() {
            "no permit matched".to_string()
        } else {
            format!("forbidden by {}", d.reasons.join(", "))
        };
        // A request logged a million times is named by its first lines, not all of them.
        let mut lines: Vec<String> = d.lines.iter().take(10).map(ToString::to_string).collect();
        if d.times > lines.len() {
            lines.push("…".into());
        }
        let _ = writeln!(
            out,
            "    {who}: {} on {} ({why}); {}: {}",
            d.action,
            d.resource,
            plural(d.times, "time, line", "times, lines"),
            lines.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "  granted but unused ({}):",
        u.granted_but_unused.len()
    );
    for x in &u.granted_but_unused {
        let who = match &x.acting_as {
            Some(a) => format!("{} as {a}", x.principal),
            None => x.principal.clone(),
        };
        let _ = writeln!(
            out,
            "    {who}: {} ×{}: {}",
            x.action,
            x.count,
            x.resources.join(", ")
        );
    }
    // The same unknown entity tends to recur: one line per reason, the first lines named.
    let mut unknown: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for n in &u.unknown_entities {
        unknown.entry(&n.reason).or_default().push(n.line);
    }
    for (reason, lines) in unknown {
        let shown: Vec<String> = lines.iter().take(10).map(ToString::to_string).collect();
        let more = if lines.len() > 10 { ", …" } else { "" };
        let word = if lines.len() == 1 { "line" } else { "lines" };
        let _ = writeln!(
            out,
            "  skipped {} ({word} {}{more}): {reason}",
            plural(lines.len(), "entry", "entries"),
            shown.join(", ")
        );
    }
    if u.unknown_entities_omitted > 0 {
        let _ = writeln!(
            out,
            "  skipped {} more naming unknown entities (the first 1000 are listed)",
            plural(u.unknown_entities_omitted, "entry", "entries")
        );
    }
    if !u.skipped_lines.is_empty() {
        let lines: Vec<String> = u.skipped_lines.iter().map(|n| n.line.to_string()).collect();
        let more = if u.skipped_lines_omitted > 0 {
            format!(" and {} more", u.skipped_lines_omitted)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  {} skipped (--lenient): lines {}{more}",
            plural(
                u.skipped_lines.len() + u.skipped_lines_omitted,
                "malformed line",
                "malformed lines"
            ),
            lines.join(", ")
        );
    }
}
