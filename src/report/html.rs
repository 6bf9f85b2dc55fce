//! `actas report --format html`: one self-contained page for auditors. No network: the CSS and
//! the script that sorts and filters the path table are inline. Printed, it shows every path
//! with its conditions and the policies' text in an appendix.

use crate::commands::report::ReportResult;
use crate::report::json::report_doc;
use crate::report::{template, Renderer};

pub struct Html;

impl Renderer for Html {
    fn report(&self, r: &ReportResult) -> Option<String> {
        template::render(
            "report.html",
            include_str!("templates/report.html"),
            &crate::report::graph::drawn(&report_doc(r)),
        )
    }
}
