//! Why a scenario case failed, as lines of evidence: the human renderer indents them under
//! the case, JUnit takes the first as the failure message and all as its description.

use crate::commands::test::{Outcome, OutcomeKind};
use crate::engine::{Evaluation, HopOutcome};
use crate::report::decision;

/// One line of a failure's explanation; `depth` nests it under the line before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub depth: usize,
    pub text: String,
}

fn line(depth: usize, text: String) -> Line {
    Line { depth, text }
}

/// The headline first (what was expected and what happened), then the evidence: each hop with
/// each action's verdict, the final request, and evaluation errors.
pub fn failure(o: &Outcome) -> Vec<Line> {
    let mut out = Vec::new();
    match &o.kind {
        OutcomeKind::Request {
            expect_allow,
            allowed,
            hops,
            request,
            missing_reasons,
            ..
        } => {
            if expect_allow != allowed {
                out.push(line(
                    0,
                    format!(
                        "expected {}, got {}",
                        decision(*expect_allow),
                        decision(*allowed)
                    ),
                ));
            }
            if !missing_reasons.is_empty() {
                out.push(line(
                    0,
                    format!(
                        "expected reasons not among the determining policies: {}",
                        missing_reasons.join(", ")
                    ),
                ));
            }
            for (i, h) in hops.iter().enumerate() {
                hop_lines(&mut out, i + 1, h);
            }
            if let Some(e) = request {
                let who = if hops.is_empty() {
                    "request"
                } else {
                    "acting as"
                };
                out.push(line(
                    0,
                    format!(
                        "{who} {}: {} on {}: {}",
                        e.principal,
                        e.action,
                        e.resource,
                        verdict(e)
                    ),
                ));
            }
        }
        OutcomeKind::Set {
            field,
            subject,
            missing,
            unexpected,
            ..
        } => {
            out.push(line(0, format!("{field} {subject}: the set differs")));
            for m in missing {
                out.push(line(1, format!("missing:    {m}")));
            }
            for u in unexpected {
                out.push(line(1, format!("unexpected: {u}")));
            }
        }
    }
    for e in &o.errors {
        out.push(line(0, format!("evaluation error: {e}")));
    }
    out
}

pub fn hop_lines(out: &mut Vec<Line>, n: usize, h: &HopOutcome) {
    out.push(line(
        0,
        format!("hop {n} {} → {}: {}", h.from, h.to, decision(h.allowed)),
    ));
    for e in &h.evaluations {
        out.push(line(1, format!("{}: {}", e.action, verdict(e))));
    }
}

/// `allow (by a, b)`, `deny (forbidden by c)`, `deny (no permit matched)`.
pub fn verdict(e: &Evaluation) -> String {
    let ids = e.reasons.join(", ");
    match (e.allowed, e.reasons.is_empty()) {
        (true, _) => format!("allow (by {ids})"),
        (false, true) => "deny (no permit matched)".into(),
        (false, false) => format!("deny (forbidden by {ids})"),
    }
}
