//! Renderers: one module per output format. Each turns a command's result into the text for
//! stdout; none prints. Output is deterministic: sorted, with no times or absolute paths.

pub mod human;
pub mod json;
pub mod junit;

use crate::commands::check::CheckResult;
use crate::commands::test::TestRun;

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Junit,
}

/// A renderer for one output format.
pub trait Renderer {
    fn test(&self, run: &TestRun) -> String;
    /// `None` when the format does not apply to `check`.
    fn check(&self, result: &CheckResult) -> Option<String>;
}

pub fn renderer(format: Format, color: bool) -> Box<dyn Renderer> {
    match format {
        Format::Human => Box::new(human::Human { color }),
        Format::Json => Box::new(json::Json),
        Format::Junit => Box::new(junit::Junit),
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
