//! `--format junit`: one test suite per scenario file, one test case per case (with `file` and
//! `line` attributes); a failure's
//! text is the case's explanation (`failure.rs`), as the human output shows it. No timestamps, so the XML is reproducible.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::commands::test::TestRun;
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
}
