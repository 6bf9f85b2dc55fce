//! `actas check --format json`.

#[allow(
    unused_imports,
    reason = "one shared import list for the document modules"
)]
use super::*;
use crate::core::ids::PolicyId;

/// `actas check --format json`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckDoc {
    pub version: u32,
    pub summary: CheckSummary,
    /// Problems in the inputs (rule `invalid-input`) first, then lint findings by place.
    pub findings: Vec<FindingDoc>,
    pub suppressions: Vec<SuppressionDoc>,
    pub skipped: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckSummary {
    pub errors: usize,
    pub warnings: usize,
    /// Findings suppressed by `@actas_allow`.
    pub suppressed: usize,
}

/// One finding. `line`/`column` start the span, `end_line`/`end_column` end it (exclusive).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingDoc {
    pub rule: String,
    pub code: String,
    /// `error` or `warning`.
    pub level: String,
    /// For a finding that stands for several (`count` > 1), a headline and the first instances.
    pub message: String,
    /// How many findings of this rule at this place it stands for.
    pub count: usize,
    /// Every instance's message when `count` > 1; empty otherwise.
    pub instances: Vec<String>,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub end_line: Option<usize>,
    pub end_column: Option<usize>,
    pub help: Option<String>,
    /// The policies the finding is about (any of them may suppress it).
    pub policies: Vec<PolicyId>,
    /// Further places that make up the finding.
    pub related: Vec<PlaceDoc>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceDoc {
    pub message: String,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

/// An `@actas_allow` annotation and the findings it suppressed (by message).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SuppressionDoc {
    pub policy: PolicyId,
    pub rule: String,
    pub code: String,
    pub reason: Option<String>,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub suppressed: Vec<String>,
}
