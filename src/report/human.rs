//! Human-readable output: one line per case, failures explained under it.

use std::fmt::Write;

use crate::commands::check::CheckResult;
use crate::commands::test::{Outcome, OutcomeKind, TestRun};
use crate::diag::{plural, render};
use crate::engine::{Evaluation, HopOutcome};
use crate::report::{decision, Renderer};

pub struct Human {
    pub color: bool,
}

impl Renderer for Human {
    fn test(&self, run: &TestRun) -> String {
        let mut out = String::new();
        for o in &run.outcomes {
            let status = if o.passed { "PASS" } else { "FAIL" };
            let _ = writeln!(out, "{status} {} › {}", o.file, o.name);
            if !o.passed {
                explain(&mut out, o);
            } else if !o.errors.is_empty() {
                for e in &o.errors {
                    let _ = writeln!(out, "     evaluation error: {e}");
                }
            }
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "{} passed, {} failed", run.passed(), run.failed());
        out
    }

    fn check(&self, r: &CheckResult) -> Option<String> {
        let mut out = String::new();
        for f in &r.findings {
            out.push_str(&render(f, self.color));
            out.push('\n');
        }
        for s in &r.skipped {
            let _ = writeln!(out, "note: skipped {s}");
        }
        if r.findings.is_empty() {
            let _ = writeln!(
                out,
                "checked {}, {}, {}: no problems found",
                plural(r.policies, "policy", "policies"),
                plural(r.entities, "entity", "entities"),
                plural(r.cases, "case", "cases")
            );
        } else {
            let _ = writeln!(out, "{} found", plural(r.findings.len(), "error", "errors"));
        }
        Some(out)
    }
}

fn explain(out: &mut String, o: &Outcome) {
    const PAD: &str = "     ";
    match &o.kind {
        OutcomeKind::Request {
            expect_allow,
            allowed,
            hops,
            request,
            missing_reasons,
            ..
        } => {
            // The headline first (it becomes the JUnit failure message), then the evidence.
            if expect_allow != allowed {
                let _ = writeln!(
                    out,
                    "{PAD}expected {}, got {}",
                    decision(*expect_allow),
                    decision(*allowed)
                );
            }
            if !missing_reasons.is_empty() {
                let _ = writeln!(
                    out,
                    "{PAD}expected reasons not among the determining policies: {}",
                    missing_reasons.join(", ")
                );
            }
            for (i, h) in hops.iter().enumerate() {
                hop_line(out, i + 1, h);
            }
            if let Some(e) = request {
                let who = if hops.is_empty() {
                    "request"
                } else {
                    "acting as"
                };
                let _ = writeln!(
                    out,
                    "{PAD}{who} {}: {} on {}: {}",
                    e.principal,
                    e.action,
                    e.resource,
                    verdict(e)
                );
            }
        }
        OutcomeKind::Set {
            field,
            subject,
            missing,
            unexpected,
            ..
        } => {
            let _ = writeln!(out, "{PAD}{field} {subject}: the set differs");
            for m in missing {
                let _ = writeln!(out, "{PAD}  missing:    {m}");
            }
            for u in unexpected {
                let _ = writeln!(out, "{PAD}  unexpected: {u}");
            }
        }
    }
    for e in &o.errors {
        let _ = writeln!(out, "{PAD}evaluation error: {e}");
    }
}

fn hop_line(out: &mut String, n: usize, h: &HopOutcome) {
    let _ = writeln!(
        out,
        "     hop {n} {} → {}: {}",
        h.from,
        h.to,
        decision(h.allowed)
    );
    for e in &h.evaluations {
        let _ = writeln!(out, "       {}: {}", e.action, verdict(e));
    }
}

/// `allow (by a, b)`, `deny (forbidden by c)`, `deny (no permit matched)`.
fn verdict(e: &Evaluation) -> String {
    let ids = e.reasons.join(", ");
    match (e.allowed, e.reasons.is_empty()) {
        (true, _) => format!("allow (by {ids})"),
        (false, true) => "deny (no permit matched)".into(),
        (false, false) => format!("deny (forbidden by {ids})"),
    }
}
