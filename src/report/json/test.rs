//! `actas test --format json`.

#[allow(
    unused_imports,
    reason = "one shared import list for the document modules"
)]
use super::*;
use crate::core::ids::PolicyId;

// The cases are a type parameter, as in `WhoCanDoc`: held whole when read back, `Streamed` as
// they are written (20,000 cases are 20 MB of JSON, more than the text should be held).
/// `actas test --format json`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestDoc<C = Vec<CaseDoc>> {
    pub version: u32,
    pub summary: Summary,
    pub cases: C,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
}

/// One case. `kind` is `request`, `who_can_impersonate` or `impersonatable_by`; request cases
/// fill `expected`/`actual` with `allow`/`deny` and `hops`/`request`; set cases fill them with
/// sorted uid lists and `missing`/`unexpected`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseDoc {
    pub file: String,
    /// The line of the case's `name:` in `file` (1-based).
    pub line: usize,
    pub name: String,
    pub kind: String,
    pub passed: bool,
    pub expected: serde_json::Value,
    pub actual: serde_json::Value,
    pub hops: Vec<HopDoc>,
    pub request: Option<EvaluationDoc>,
    pub missing_reasons: Vec<PolicyId>,
    pub missing: Vec<String>,
    pub unexpected: Vec<String>,
    pub errors: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HopDoc {
    pub from: String,
    pub to: String,
    pub decision: String,
    /// The impersonation actions that allowed the hop, in configuration order.
    pub allowing_actions: Vec<String>,
    pub requests: Vec<EvaluationDoc>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluationDoc {
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub decision: String,
    /// Determining policy ids.
    pub reasons: Vec<PolicyId>,
    pub errors: Vec<String>,
}

pub(super) fn case_doc(o: &Outcome) -> CaseDoc {
    let mut doc = CaseDoc {
        file: o.file.clone(),
        line: o.line,
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
