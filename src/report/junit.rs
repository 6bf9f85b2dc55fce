//! `--format junit`: one test suite per scenario file, one test case per case; a failure's
//! text is the human explanation. No timestamps, so the XML is reproducible.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::commands::test::TestRun;
use crate::report::human::Human;
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
                    let single = TestRun {
                        outcomes: vec![o.clone()],
                    };
                    let text = Human { color: false }.test(&single).unwrap_or_default();
                    let detail: Vec<&str> =
                        text.lines().skip(1).take_while(|l| !l.is_empty()).collect();
                    s.set_message(detail.first().map_or("failed", |l| l.trim()));
                    s.set_description(
                        detail
                            .iter()
                            .map(|l| l.trim_start())
                            .collect::<Vec<_>>()
                            .join("\n"),
                    );
                    s
                };
                let mut case = TestCase::new(o.name.as_str(), status);
                case.set_classname(file);
                suite.add_test_case(case);
            }
            report.add_test_suite(suite);
        }
        Some(report.to_string().unwrap_or_default())
    }
}
