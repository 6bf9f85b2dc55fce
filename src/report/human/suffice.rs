//! `actas suffice` as text.

#[allow(unused_imports, reason = "one shared import list for the text modules")]
use super::*;

pub(super) fn suffice_text(r: &SufficeResult) -> String {
    let doc = suffice_doc(r);
    let mut out = String::new();
    for (t, o) in doc.tasks.iter().zip(&r.outcomes) {
        let status = if t.sufficient {
            "SUFFICIENT"
        } else {
            "NOT SUFFICIENT"
        };
        let _ = writeln!(out, "{status} {} › {}", t.file, t.name);
        if let Some(before) = t.sufficient_before {
            let word = |b: bool| if b { "sufficient" } else { "not sufficient" };
            let _ = writeln!(
                out,
                "     with the change: {} before, {} after",
                word(before),
                word(t.sufficient)
            );
        }
        let mut who = t.principal.clone();
        for c in &t.chain {
            let _ = write!(who, " → {c}");
        }
        let _ = writeln!(out, "     runs as {} ({who})", t.acting);
        for (i, h) in o.hops.iter().enumerate() {
            hop_line(&mut out, i + 1, h);
        }
        for (i, e) in o.steps.iter().enumerate() {
            let _ = writeln!(
                out,
                "     step {} {} on {}: {}",
                i + 1,
                e.action,
                e.resource,
                verdict(e)
            );
        }
        if t.excess.is_empty() {
            let _ = writeln!(out, "     excess: none (every allowed request is a step)");
        } else {
            let _ = writeln!(
                out,
                "     excess: {} allowed but never used by the task",
                plural(t.excess_total, "request", "requests")
            );
            for g in &t.excess {
                let _ = writeln!(
                    out,
                    "       {} on {} ×{}: {}",
                    g.action,
                    g.resource_type,
                    g.count,
                    g.resources.join(", ")
                );
            }
        }
        for s in &t.excess_skipped {
            let _ = writeln!(out, "     excess not evaluated: {s}");
        }
    }
    if let Some(w) = &doc.what_if {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "What if: added {}; removed {}",
            list_or_none(&w.added_policies),
            list_or_none(&w.removed_policies)
        );
        for (title, list) in [("it grants", &w.gained), ("it takes away", &w.lost)] {
            let _ = writeln!(
                out,
                "  {title} {} over the inventory",
                plural(list.len(), "path or grant", "paths and grants")
            );
            for c in list {
                let _ = writeln!(out, "    {}", change_line(c));
            }
        }
    }
    let sufficient = doc.tasks.iter().filter(|t| t.sufficient).count();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{sufficient} sufficient, {} not sufficient",
        doc.tasks.len() - sufficient
    );
    out
}

/// `[routine] path P → S1 → T (by a, b)` or `[routine] P as S: A on R (by a)`.
pub fn change_line(c: &ChangeDoc) -> String {
    let by = if c.policies.is_empty() {
        String::new()
    } else {
        format!(" (by {})", c.policies.join(", "))
    };
    if c.kind == "path" {
        let mut s = format!("[{}] path {}", c.profile, c.principal);
        for x in &c.chain {
            let _ = write!(s, " → {x}");
        }
        s + &by
    } else {
        let who = match &c.acting_as {
            Some(a) => format!("{} as {a}", c.principal),
            None => c.principal.clone(),
        };
        format!(
            "[{}] {who}: {} on {}{by}",
            c.profile,
            c.action.as_deref().unwrap_or_default(),
            c.resource.as_deref().unwrap_or_default()
        )
    }
}
