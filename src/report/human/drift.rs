//! `actas drift` as text.

#[allow(unused_imports, reason = "one shared import list for the text modules")]
use super::*;

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
    for (title, items) in [("new", &doc.new), ("removed", &doc.removed)] {
        let _ = writeln!(out);
        let _ = writeln!(out, "{title} ({}):", items.len());
        for i in items {
            let change = ChangeDoc {
                profile: i.profile.clone(),
                kind: i.kind.clone(),
                principal: i.principal.clone(),
                target: i.target.clone(),
                chain: i.chain.clone(),
                acting_as: i.acting_as.clone(),
                action: i.action.clone(),
                resource: i.resource.clone(),
                policies: i.policies.clone(),
            };
            let _ = writeln!(
                out,
                "  {:<6} {}",
                i.severity.to_uppercase(),
                change_line(&change)
            );
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
        let lines: Vec<String> = d.lines.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "    {who}: {} on {} ({why}); {}: {}",
            d.action,
            d.resource,
            plural(d.lines.len(), "time, line", "times, lines"),
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
