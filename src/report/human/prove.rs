//! `actas prove` as text: one line per property, each counterexample under its property.

#[allow(unused_imports, reason = "one shared import list for the text modules")]
use super::*;
use crate::commands::prove::ProveResult;
use crate::report::json::{prove_doc, CounterexampleDoc, PropertyDoc};

pub(super) fn prove_text(r: &ProveResult) -> String {
    let doc = prove_doc(r);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Proving {} over {} ({}, {} s per query)\n",
        plural(doc.properties.len(), "property", "properties"),
        doc.scope,
        doc.solver.trim_start_matches("This is "),
        doc.timeout_seconds
    );
    for p in &doc.properties {
        property(&mut out, p);
    }
    let s = &doc.summary;
    let mut parts = vec![
        format!("{} proved", s.proved),
        format!("{} refuted", s.refuted),
        format!("{} unknown", s.unknown),
    ];
    if s.failed > 0 {
        parts.push(format!("{} failed", s.failed));
    }
    let _ = writeln!(out, "\n{}", parts.join(", "));
    out
}

fn property(out: &mut String, p: &PropertyDoc) {
    let word = match p.outcome.as_str() {
        "proved" => "proved ",
        "refuted" => "REFUTED",
        "unknown" => "UNKNOWN",
        _ => "FAILED ",
    };
    let place = match (&p.file, p.line) {
        (Some(f), Some(l)) => format!("  {f}:{l}"),
        _ => String::new(),
    };
    let _ = writeln!(out, "{word} {} ({}){place}", p.name, p.kind);
    let envs = plural(
        p.queries.len(),
        "request environment",
        "request environments",
    );
    match p.outcome.as_str() {
        "proved" => {
            let _ = writeln!(out, "        holds in {envs}");
        }
        "unknown" => {
            for q in p.queries.iter().filter(|q| q.outcome == "unknown") {
                let _ = writeln!(
                    out,
                    "        no answer within the time limit for {} → {} → {} (raise --timeout)",
                    q.principal_type, q.action, q.resource_type
                );
            }
        }
        "failed" => {
            let _ = writeln!(
                out,
                "        {}",
                p.error.as_deref().unwrap_or("a query failed")
            );
        }
        _ => {}
    }
    // A `--against` property's name already says it.
    if let (Some(r), Some(_)) = (&p.reference, &p.file) {
        let _ = writeln!(out, "        against {r}");
    }
    for c in &p.counterexamples {
        counterexample(out, c);
    }
}

fn counterexample(out: &mut String, c: &CounterexampleDoc) {
    let _ = writeln!(out, "        counterexample:");
    let _ = writeln!(
        out,
        "          request   {} → {} → {}",
        c.principal, c.action, c.resource
    );
    let _ = writeln!(out, "          context   {}", compact(&c.context));
    let shown = related(c);
    for (i, e) in shown.iter().enumerate() {
        let label = if i == 0 { "entities " } else { "         " };
        let _ = writeln!(out, "          {label} {}", entity_line(e));
    }
    let more = c.entities.len() - shown.len();
    if more > 0 {
        let _ = writeln!(
            out,
            "                    and {} the request does not reach (--format json has them all)",
            plural(more, "more entity", "more entities")
        );
    }
    let _ = writeln!(out, "          {}", decided(&c.decision, &c.determining));
    if let Some(d) = &c.reference_decision {
        let _ = writeln!(
            out,
            "          the reference: {}",
            decided(d, &c.reference_determining)
        );
    }
    if !c.written.is_empty() {
        let _ = writeln!(out, "          written to {}", c.written.join(", "));
    }
    if let Some(why) = &c.written_as_cedar_because {
        let _ = writeln!(out, "          as Cedar request and entities JSON: {why}");
    }
}

/// The entities the request reaches: its principal and resource, the entities the context
/// names, and everything their parents and attributes name in turn.
fn related(c: &CounterexampleDoc) -> Vec<&serde_json::Value> {
    let uid_of = |e: &serde_json::Value| {
        crate::core::uid::parse_uid(e.get("uid").unwrap_or(&serde_json::Value::Null))
            .map(|u| u.to_string())
            .unwrap_or_default()
    };
    let mut wanted: Vec<String> = vec![c.principal.clone(), c.resource.clone()];
    named(&c.context, &mut wanted);
    let mut i = 0;
    while i < wanted.len() {
        if let Some(e) = c.entities.iter().find(|e| uid_of(e) == wanted[i]) {
            for key in ["parents", "attrs", "tags"] {
                if let Some(v) = e.get(key) {
                    named(v, &mut wanted);
                }
            }
        }
        i += 1;
    }
    c.entities
        .iter()
        .filter(|e| wanted.contains(&uid_of(e)))
        .collect()
}

/// Every entity a JSON value names (`{"__entity": …}` or a `{"type", "id"}` uid), added once.
fn named(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            let uid = map
                .get("__entity")
                .or_else(|| (map.contains_key("type") && map.contains_key("id")).then_some(v));
            if let Some(Ok(u)) = uid.map(crate::core::uid::parse_uid) {
                let text = u.to_string();
                if !out.contains(&text) {
                    out.push(text);
                }
                return;
            }
            map.values().for_each(|x| named(x, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|x| named(x, out)),
        _ => {}
    }
}

/// "allowed by p, q", "denied by f", or "denied: no permit applies".
pub(crate) fn decided(decision: &str, determining: &[String]) -> String {
    match (decision, determining.is_empty()) {
        ("allow", _) => format!("allowed by {}", determining.join(", ")),
        (_, true) => "denied: no permit applies".into(),
        (_, false) => format!("denied by {}", determining.join(", ")),
    }
}

/// A JSON value on one line.
fn compact(v: &serde_json::Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// `Type::"id" {attrs} in [parents]`, from Cedar's entity JSON.
fn entity_line(e: &serde_json::Value) -> String {
    let uid = crate::core::uid::parse_uid(e.get("uid").unwrap_or(&serde_json::Value::Null))
        .map_or_else(|_| compact(e), |u| u.to_string());
    let mut line = uid;
    if let Some(attrs) = e
        .get("attrs")
        .filter(|a| a.as_object().is_some_and(|m| !m.is_empty()))
    {
        let _ = write!(line, " {}", compact(attrs));
    }
    if let Some(tags) = e
        .get("tags")
        .filter(|a| a.as_object().is_some_and(|m| !m.is_empty()))
    {
        let _ = write!(line, " tags {}", compact(tags));
    }
    let parents: Vec<String> = e
        .get("parents")
        .and_then(|p| p.as_array())
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    crate::core::uid::parse_uid(p).map_or_else(|_| compact(p), |u| u.to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    if !parents.is_empty() {
        let _ = write!(line, " in {}", parents.join(", "));
    }
    line
}
