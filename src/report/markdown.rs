//! `actas report --format markdown`: the human report as a Markdown document (for pull requests,
//! wikis and audit folders), from a template over the JSON document.

use crate::commands::report::ReportResult;
use crate::report::json::report_doc;
use crate::report::{template, Renderer};

pub struct Markdown;

impl Renderer for Markdown {
    fn report(&self, r: &ReportResult) -> Option<String> {
        template::render(
            "report.md",
            include_str!("templates/report.md"),
            &report_doc(r),
        )
    }
}
