//! `--format json`: a stable, documented schema (see `docs/json.md`).
//!
//! Every document has `"version": 1`. Keys appear in the order of these structs. Uids are
//! Cedar uid strings (`User::"alice"`); lists are sorted.

mod can;
mod check;
mod coverage;
mod drift;
mod paths;
mod prove;
mod suffice;
mod test;

pub use can::*;
pub use check::*;
pub use coverage::*;
pub use drift::*;
pub use paths::*;
pub use prove::*;
pub use suffice::*;
pub use test::*;

use std::collections::BTreeMap;
use std::io::{self, Write};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::analysis::access::{Path, Query};
use crate::analysis::item::{AccessItem, Accessed};
use crate::analysis::profiles::Profile;
use crate::analysis::summary::PathList;
use crate::analysis::{is_human, PolicyInfo};
use crate::commands::check::CheckResult;
use crate::commands::drift::{DriftItem, DriftResult, PolicyChange};
use crate::commands::report::ReportResult;
use crate::commands::suffice::SufficeResult;
use crate::commands::test::{Outcome, OutcomeKind, TestRun};
use crate::commands::who_can::WhoCanResult;
use crate::engine::{Evaluation, HopOutcome};
use crate::lint::Level;
use crate::report::{decision, Renderer};

pub const VERSION: u32 = 1;

/// The report document's version: 2 since it carries `provenance`; 3 since it explains failing
/// conditions, lists forbids and names the impersonation actions.
pub const REPORT_VERSION: u32 = 3;

pub struct Json;

impl Renderer for Json {
    fn test(&self, run: &TestRun) -> Option<String> {
        Some(to_string(&test_doc(run, Iterator::collect::<Vec<_>>)))
    }

    fn write_test(&self, run: &TestRun, out: &mut dyn Write) -> Option<io::Result<()>> {
        Some(write_pretty(&test_doc(run, Streamed::new), out))
    }

    fn check(&self, r: &CheckResult) -> Option<String> {
        let place = |p: &crate::core::diag::Problem| match p.region() {
            Some((f, region)) => (Some(f), region),
            None => (None, None),
        };
        let findings = r
            .findings
            .iter()
            .map(|f| {
                let (file, region) = place(&f.problem);
                FindingDoc {
                    rule: f.rule.name.into(),
                    code: f.rule.code.into(),
                    level: f.level.name().into(),
                    message: f.problem.message.clone(),
                    count: f.count(),
                    instances: f.instances.clone(),
                    file,
                    line: region.map(|r| r.start.0),
                    column: region.map(|r| r.start.1),
                    end_line: region.map(|r| r.end.0),
                    end_column: region.map(|r| r.end.1),
                    help: f.problem.help.clone(),
                    policies: f.policies.clone(),
                    related: f
                        .related
                        .iter()
                        .map(|p| {
                            let (file, region) = place(p);
                            PlaceDoc {
                                message: p.message.clone(),
                                file,
                                line: region.map(|r| r.start.0),
                                column: region.map(|r| r.start.1),
                            }
                        })
                        .collect(),
                }
            })
            .collect();
        let suppressions = r
            .suppressions
            .iter()
            .map(|s| {
                let lc = s.file.as_ref().zip(s.span).map(|(f, (o, _))| f.line_col(o));
                SuppressionDoc {
                    policy: s.policy.clone(),
                    rule: s.rule.name.into(),
                    code: s.rule.code.into(),
                    reason: s.reason.clone(),
                    file: s.file.as_ref().map(|f| f.path.clone()),
                    line: lc.map(|(l, _)| l),
                    column: lc.map(|(_, c)| c),
                    suppressed: s
                        .suppressed
                        .iter()
                        .map(|f| f.problem.message.clone())
                        .collect(),
                }
            })
            .collect();
        Some(to_string(&CheckDoc {
            version: VERSION,
            summary: CheckSummary {
                errors: r.count(Level::Error),
                warnings: r.count(Level::Warning),
                suppressed: r.suppressions.iter().map(|s| s.suppressed.len()).sum(),
            },
            findings,
            suppressions,
            skipped: r.skipped.clone(),
        }))
    }

    fn who_can(&self, r: &WhoCanResult) -> Option<String> {
        Some(to_string(&who_can_doc(r)))
    }

    fn write_who_can(&self, r: &WhoCanResult, out: &mut dyn Write) -> Option<io::Result<()>> {
        Some(write_pretty(&streamed_who_can_doc(r), out))
    }

    fn can(&self, r: &crate::commands::can::CanResult) -> Option<String> {
        Some(to_string(&can_doc(r)))
    }

    fn report(&self, r: &ReportResult) -> Option<String> {
        Some(to_string(&report_doc(r)))
    }

    fn write_report(&self, r: &ReportResult, out: &mut dyn Write) -> Option<io::Result<()>> {
        Some(write_pretty(&streamed_report_doc(r), out))
    }

    fn prove(&self, r: &crate::commands::prove::ProveResult) -> Option<String> {
        Some(to_string(&prove_doc(r)))
    }

    fn suffice(&self, r: &SufficeResult) -> Option<String> {
        Some(to_string(&suffice_doc(r)))
    }

    fn drift(&self, r: &DriftResult) -> Option<String> {
        Some(to_string(&drift_doc(r)))
    }
}

/// `doc` written as [`to_string`] has it, as it is serialized.
fn write_pretty<T: Serialize>(doc: &T, out: &mut dyn Write) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    serde_json::to_writer_pretty(&mut out, doc)
        .map_err(io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
}

/// The `test` document, its cases made by `cases` from an iterator (held whole or streamed),
/// as `who_can_doc_with` makes `who-can`'s.
#[allow(
    clippy::needless_lifetimes,
    reason = "elided, the boxed cases' lifetime would have to hold for any lifetime"
)]
fn test_doc<'a, C>(
    run: &'a TestRun,
    cases: impl FnOnce(Box<dyn Iterator<Item = CaseDoc> + 'a>) -> C,
) -> TestDoc<C> {
    TestDoc {
        version: VERSION,
        summary: Summary {
            total: run.outcomes.len(),
            passed: run.passed(),
            failed: run.failed(),
        },
        cases: cases(Box::new(run.outcomes.iter().map(case_doc))),
    }
}

pub fn to_string<T: Serialize>(doc: &T) -> String {
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

/// The JSON Schema (draft 2020-12) of every JSON document actas writes, by file name under
/// `docs/schemas/`, generated from the types that write them; `tests/json_schemas.rs` keeps the
/// committed files current and validates real outputs against them.
pub fn schemas() -> Vec<(&'static str, serde_json::Value)> {
    fn schema<T: JsonSchema>(title: &str) -> serde_json::Value {
        let mut s = serde_json::to_value(schemars::schema_for!(T)).unwrap_or_default();
        if let Some(o) = s.as_object_mut() {
            o.insert("title".into(), title.into());
        }
        s
    }
    vec![
        (
            "check.schema.json",
            schema::<CheckDoc>("actas check --format json"),
        ),
        (
            "test.schema.json",
            schema::<TestDoc>("actas test --format json"),
        ),
        (
            "coverage.schema.json",
            schema::<CoverageDoc<'_>>("actas test --coverage --coverage-format json"),
        ),
        (
            "who-can.schema.json",
            schema::<WhoCanDoc>("actas who-can --format json"),
        ),
        (
            "can.schema.json",
            schema::<CanDoc>("actas can --format json"),
        ),
        (
            "report.schema.json",
            schema::<ReportDoc>("actas report --format json"),
        ),
        (
            "suffice.schema.json",
            schema::<SufficeDoc>("actas suffice --format json"),
        ),
        (
            "prove.schema.json",
            schema::<ProveDoc>("actas prove --format json"),
        ),
        (
            "drift.schema.json",
            schema::<DriftDoc>("actas drift --format json"),
        ),
        (
            "baseline.schema.json",
            schema::<crate::analysis::baseline::BaselineFile>(
                "actas snapshot: the baseline (actas.baseline.json)",
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::report;

    #[test]
    fn a_streamed_report_is_the_whole_document() {
        let ws = crate::workspace::example();
        let r = report::run(&ws, &Default::default()).unwrap();
        let mut streamed = Vec::new();
        Json.write_report(&r, &mut streamed).unwrap().unwrap();
        let whole = Json.report(&r).unwrap();
        assert!(r.summary.count(PathList::Human) > 1 && r.reached.len() > 5);
        assert_eq!(String::from_utf8(streamed).unwrap(), whole);
    }

    #[test]
    fn a_streamed_who_can_answer_is_the_whole_document() {
        use crate::commands::who_can;
        let ws = crate::workspace::example();
        let query = who_can::parse_query(&ws, r#"ServiceAccount::"prod-deployer""#, true).unwrap();
        let r = who_can::run(&ws, query, &Default::default()).unwrap();
        let mut streamed = Vec::new();
        Json.write_who_can(&r, &mut streamed).unwrap().unwrap();
        let whole = Json.who_can(&r).unwrap();
        assert!(r.access.paths.len() > 1 && r.why_not.iter().any(|w| !w.is_empty()));
        assert_eq!(String::from_utf8(streamed).unwrap(), whole);
    }
}
