//! Renderers: one module per output format. Each turns a command's result into the text for
//! stdout; none prints. Output is deterministic: sorted, with no times or absolute paths.

pub mod csv;
mod failure;
pub mod github;
pub mod html;
pub mod human;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod sarif;
mod template;

use crate::commands::check::CheckResult;
use crate::commands::drift::DriftResult;
use crate::commands::report::ReportResult;
use crate::commands::suffice::SufficeResult;
use crate::commands::test::TestRun;
use crate::commands::who_can::WhoCanResult;

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Junit,
    Markdown,
    Csv,
    Html,
    Sarif,
    Github,
}

/// A renderer for one output format. A method returns `None` when its format does not apply to
/// that command (clap offers each command only the formats it has).
pub trait Renderer {
    fn test(&self, _run: &TestRun) -> Option<String> {
        None
    }
    fn check(&self, _result: &CheckResult) -> Option<String> {
        None
    }
    fn who_can(&self, _result: &WhoCanResult) -> Option<String> {
        None
    }
    fn report(&self, _result: &ReportResult) -> Option<String> {
        None
    }
    /// Writes the report to `out`. The text of [`Renderer::report`] unless the format writes
    /// as it goes: a report can hold millions of paths, more than the text should be held.
    fn write_report(
        &self,
        result: &ReportResult,
        out: &mut dyn std::io::Write,
    ) -> Option<std::io::Result<()>> {
        self.report(result)
            .map(|text| out.write_all(text.as_bytes()))
    }
    fn suffice(&self, _result: &SufficeResult) -> Option<String> {
        None
    }
    fn drift(&self, _result: &DriftResult) -> Option<String> {
        None
    }
}

pub fn renderer(format: Format, color: bool) -> Box<dyn Renderer> {
    match format {
        Format::Human => Box::new(human::Human { color }),
        Format::Json => Box::new(json::Json),
        Format::Junit => Box::new(junit::Junit),
        Format::Markdown => Box::new(markdown::Markdown),
        Format::Csv => Box::new(csv::Csv),
        Format::Html => Box::new(html::Html),
        Format::Sarif => Box::new(sarif::Sarif),
        Format::Github => Box::new(github::Github),
    }
}

/// `allow` / `deny`, as every format spells a decision.
pub fn decision(allowed: bool) -> &'static str {
    if allowed {
        "allow"
    } else {
        "deny"
    }
}
