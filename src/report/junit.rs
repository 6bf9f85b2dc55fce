//! `--format junit`: one test suite per scenario file, one test case per case (with `file` and
//! `line` attributes); a failure's
//! text is the case's explanation (`failure.rs`), as the human output shows it. No timestamps, so the XML is reproducible.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::commands::prove::ProveResult;
use crate::commands::test::TestRun;
use crate::proof::Verdict;
use crate::report::failure::failure;
use crate::report::Renderer;

pub struct Junit;

impl Renderer for Junit {
    fn test(&self, run: &TestRun) -> Option<String> {
        let mut report = Report::new("actas");
        let mut files: Vec<&str> = run.outcomes.iter().map(|o| o.file.as_str()).collect();
        files.dedup();
        for file in files {
            let mut suite = TestSuite::new(file);
            for o in run.outcomes.iter().filter(|o| o.file == file) {
                let status = if o.passed {
                    TestCaseStatus::success()
                } else {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    let detail = failure(o);
                    s.set_message(detail.first().map_or("failed", |l| l.text.as_str()));
                    s.set_description(
                        detail
                            .iter()
                            .map(|l| l.text.as_str())
                            .collect::<Vec<_>>()
                            .join("\n"),
                    );
                    s
                };
                let mut case = TestCase::new(o.name.as_str(), status);
                case.set_classname(file);
                // Where the case is, for tools that link a failure to its source (GitLab,
                // Jenkins and the JUnit reporters of pytest and nextest use these attributes).
                case.extra.insert("file".into(), file.into());
                case.extra.insert("line".into(), o.line.to_string().into());
                suite.add_test_case(case);
            }
            report.add_test_suite(suite);
        }
        Some(report.to_string().unwrap_or_default())
    }

    /// One test suite per property file, one test case per property: a refuted property is
    /// a failure with its counterexamples; unknown (the time limit) or failed is an error.
    fn prove(&self, r: &ProveResult) -> Option<String> {
        let doc = crate::report::json::prove_doc(r);
        let mut report = Report::new("actas prove");
        let mut files: Vec<String> = doc
            .properties
            .iter()
            .map(|p| p.file.clone().unwrap_or_else(|| "--against".into()))
            .collect();
        files.dedup();
        for file in files {
            let mut suite = TestSuite::new(file.as_str());
            for (p, proof) in doc.properties.iter().zip(&r.proofs) {
                if p.file.as_deref().unwrap_or("--against") != file {
                    continue;
                }
                let status = match &proof.verdict {
                    Verdict::Proved => TestCaseStatus::success(),
                    verdict => {
                        let kind = if *verdict == Verdict::Refuted {
                            NonSuccessKind::Failure
                        } else {
                            NonSuccessKind::Error
                        };
                        let mut s = TestCaseStatus::non_success(kind);
                        let (message, lines) = junit_detail(p);
                        s.set_message(message);
                        s.set_description(lines.join("\n"));
                        s
                    }
                };
                let mut case = TestCase::new(p.name.as_str(), status);
                case.set_classname(file.as_str());
                case.extra.insert("file".into(), file.as_str().into());
                if let Some(line) = p.line {
                    case.extra.insert("line".into(), line.to_string().into());
                }
                suite.add_test_case(case);
            }
            report.add_test_suite(suite);
        }
        Some(report.to_string().unwrap_or_default())
    }
}

/// A non-proved property's message and its lines: each counterexample, or why not proved.
fn junit_detail(p: &crate::report::json::PropertyDoc) -> (String, Vec<String>) {
    let mut lines = Vec::new();
    for c in &p.counterexamples {
        lines.push(format!(
            "counterexample: {} → {} → {} with context {}: {}",
            c.principal,
            c.action,
            c.resource,
            serde_json::to_string(&c.context).unwrap_or_default(),
            crate::report::human::decided(&c.decision, &c.determining)
        ));
        if !c.written.is_empty() {
            lines.push(format!("written to {}", c.written.join(", ")));
        }
    }
    let message = match p.outcome.as_str() {
        "refuted" => format!(
            "refuted ({} over every entity data the schema allows)",
            p.kind
        ),
        "unknown" => "unknown: no answer within the time limit (raise --timeout)".to_string(),
        _ => format!("failed: {}", p.error.as_deref().unwrap_or("a query failed")),
    };
    (message, lines)
}
