//! `--format markdown` of `report` and `suffice`: Markdown documents (for pull requests, wikis
//! and audit folders), from templates over the JSON documents.

use crate::commands::drift::DriftResult;
use crate::commands::report::ReportResult;
use crate::commands::suffice::SufficeResult;
use crate::report::json::{drift_doc, report_doc, suffice_doc};
use crate::report::{template, Renderer};

pub struct Markdown;

impl Renderer for Markdown {
    fn report(&self, r: &ReportResult) -> Option<String> {
        template::render(
            "report.md",
            include_str!("templates/report.md"),
            &crate::report::graph::drawn(&report_doc(r)),
        )
    }

    fn suffice(&self, r: &SufficeResult) -> Option<String> {
        template::render(
            "suffice.md",
            include_str!("templates/suffice.md"),
            &suffice_doc(r),
        )
    }

    fn drift(&self, r: &DriftResult) -> Option<String> {
        template::render(
            "drift.md",
            include_str!("templates/drift.md"),
            &drift_doc(r),
        )
    }
}
