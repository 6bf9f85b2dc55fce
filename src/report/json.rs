//! `--format json`: a stable, documented schema (see `docs/json.md`).
//!
//! Every document has `"version": 1`. Keys appear in the order of these structs. Uids are
//! Cedar uid strings (`User::"alice"`); lists are sorted.

use serde::{Deserialize, Serialize};

use crate::commands::check::CheckResult;
use crate::commands::test::{Outcome, OutcomeKind, TestRun};
use crate::engine::{Evaluation, HopOutcome};
use crate::report::{decision, Renderer};

pub const VERSION: u32 = 1;

/// `actas test --format json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestDoc {
    pub version: u32,
    pub summary: Summary,
    pub cases: Vec<CaseDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
}

/// One case. `kind` is `request`, `who_can_impersonate` or `impersonatable_by`; request cases
/// fill `expected`/`actual` with `allow`/`deny` and `hops`/`request`; set cases fill them with
/// sorted uid lists and `missing`/`unexpected`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseDoc {
    pub file: String,
    pub name: String,
    pub kind: String,
    pub passed: bool,
    pub expected: serde_json::Value,
    pub actual: serde_json::Value,
    pub hops: Vec<HopDoc>,
    pub request: Option<EvaluationDoc>,
    pub missing_reasons: Vec<String>,
    pub missing: Vec<String>,
    pub unexpected: Vec<String>,
    pub errors: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HopDoc {
    pub from: String,
    pub to: String,
    pub decision: String,
    /// The impersonation actions that allowed the hop, in configuration order.
    pub allowing_actions: Vec<String>,
    pub requests: Vec<EvaluationDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationDoc {
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub decision: String,
    /// Determining policy ids.
    pub reasons: Vec<String>,
    pub errors: Vec<String>,
}

/// `actas check --format json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckDoc {
    pub version: u32,
    pub findings: Vec<FindingDoc>,
    pub skipped: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingDoc {
    pub level: String,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub help: Option<String>,
}

pub struct Json;

impl Renderer for Json {
    fn test(&self, run: &TestRun) -> String {
        let doc = TestDoc {
            version: VERSION,
            summary: Summary {
                total: run.outcomes.len(),
                passed: run.passed(),
                failed: run.failed(),
            },
            cases: run.outcomes.iter().map(case_doc).collect(),
        };
        to_string(&doc)
    }

    fn check(&self, r: &CheckResult) -> Option<String> {
        let findings = r
            .findings
            .iter()
            .map(|p| {
                let loc = p.location();
                let (file, lc) = match loc {
                    Some((f, lc)) => (Some(f), lc),
                    None => (None, None),
                };
                FindingDoc {
                    level: "error".into(),
                    message: p.message.clone(),
                    file,
                    line: lc.map(|(l, _)| l),
                    column: lc.map(|(_, c)| c),
                    help: p.help.clone(),
                }
            })
            .collect();
        Some(to_string(&CheckDoc {
            version: VERSION,
            findings,
            skipped: r.skipped.clone(),
        }))
    }
}

fn to_string<T: Serialize>(doc: &T) -> String {
    let mut s =
        serde_json::to_string_pretty(doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

fn evaluation(e: &Evaluation) -> EvaluationDoc {
    EvaluationDoc {
        principal: e.principal.to_string(),
        action: e.action.to_string(),
        resource: e.resource.to_string(),
        decision: decision(e.allowed).into(),
        reasons: e.reasons.clone(),
        errors: e.errors.clone(),
    }
}

fn hop(h: &HopOutcome) -> HopDoc {
    HopDoc {
        from: h.from.to_string(),
        to: h.to.to_string(),
        decision: decision(h.allowed).into(),
        allowing_actions: h.allowing.iter().map(ToString::to_string).collect(),
        requests: h.evaluations.iter().map(evaluation).collect(),
    }
}

fn case_doc(o: &Outcome) -> CaseDoc {
    let mut doc = CaseDoc {
        file: o.file.clone(),
        name: o.name.clone(),
        kind: String::new(),
        passed: o.passed,
        expected: serde_json::Value::Null,
        actual: serde_json::Value::Null,
        hops: Vec::new(),
        request: None,
        missing_reasons: Vec::new(),
        missing: Vec::new(),
        unexpected: Vec::new(),
        errors: o.errors.clone(),
    };
    match &o.kind {
        OutcomeKind::Request {
            expect_allow,
            allowed,
            hops,
            request,
            missing_reasons,
            ..
        } => {
            doc.kind = "request".into();
            doc.expected = decision(*expect_allow).to_string().into();
            doc.actual = decision(*allowed).to_string().into();
            doc.hops = hops.iter().map(hop).collect();
            doc.request = request.as_ref().map(evaluation);
            doc.missing_reasons = missing_reasons.clone();
        }
        OutcomeKind::Set {
            field,
            expected,
            actual,
            missing,
            unexpected,
            ..
        } => {
            doc.kind = (*field).into();
            doc.expected = expected.clone().into();
            doc.actual = actual.clone().into();
            doc.missing = missing.clone();
            doc.unexpected = unexpected.clone();
        }
    }
    doc
}
