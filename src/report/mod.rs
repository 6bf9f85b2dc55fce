//! Renderers: one module per output format. Each turns a command's result into the text for
//! stdout; none prints. Output is deterministic: sorted, with no absolute paths, and no times
//! except the generation time that reports carry (docs/decisions.md).

pub mod coverage;
pub(crate) mod csv;
mod escape;
mod failure;
pub(crate) mod github;
pub(crate) mod graph;
pub(crate) mod html;
pub(crate) mod human;
pub mod json;
pub(crate) mod junit;
pub(crate) mod markdown;
pub(crate) mod sarif;
mod svg;
mod template;

use crate::commands::can::CanResult;
use crate::commands::check::CheckResult;
use crate::commands::drift::DriftResult;
use crate::commands::prove::ProveResult;
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
    Dot,
    Mermaid,
}

/// Each command's `--format` values, each one of [`Format`] (clap offers a command only these).
macro_rules! command_formats {
    ($($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident,)* })*) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, clap::ValueEnum)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl From<$name> for Format {
            fn from(f: $name) -> Self {
                match f {
                    $($name::$variant => Format::$variant,)*
                }
            }
        }
    )*};
}

command_formats! {
    WhoCanFormat {
        Human,
        Json,
    }
    ReportFormat {
        Human,
        Json,
        Markdown,
        Csv,
        Html,
        /// The impersonation graph in Graphviz DOT.
        Dot,
        /// The impersonation graph as a Mermaid flowchart (GitHub renders it).
        Mermaid,
    }
    /// `--format` of `suffice` and `drift`.
    SufficeFormat {
        Human,
        Json,
        Markdown,
    }
    CheckFormat {
        Human,
        Json,
        /// SARIF 2.1.0, for code scanning.
        Sarif,
        /// GitHub Actions annotations (workflow commands).
        Github,
    }
    TestFormat {
        Human,
        Json,
        Junit,
    }
    ProveFormat {
        Human,
        Json,
        /// SARIF 2.1.0, for code scanning.
        Sarif,
        Junit,
    }
}

/// A renderer for one output format. A method returns `None` when its format does not apply to
/// that command (clap offers each command only the formats it has).
pub trait Renderer {
    fn test(&self, _run: &TestRun) -> Option<String> {
        None
    }
    /// Writes the test results to `out`: the text of [`Renderer::test`] unless the format
    /// writes as it goes.
    fn write_test(
        &self,
        run: &TestRun,
        out: &mut dyn std::io::Write,
    ) -> Option<std::io::Result<()>> {
        self.test(run).map(|text| out.write_all(text.as_bytes()))
    }
    fn check(&self, _result: &CheckResult) -> Option<String> {
        None
    }
    fn who_can(&self, _result: &WhoCanResult) -> Option<String> {
        None
    }
    fn can(&self, _result: &CanResult) -> Option<String> {
        None
    }
    fn report(&self, _result: &ReportResult) -> Option<String> {
        None
    }
    /// Writes the `who-can` answer to `out`: the text of [`Renderer::who_can`] unless the
    /// format writes as it goes.
    fn write_who_can(
        &self,
        result: &WhoCanResult,
        out: &mut dyn std::io::Write,
    ) -> Option<std::io::Result<()>> {
        self.who_can(result)
            .map(|text| out.write_all(text.as_bytes()))
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
    fn prove(&self, _result: &ProveResult) -> Option<String> {
        None
    }
}

pub fn renderer(format: Format, color: bool) -> Box<dyn Renderer> {
    match format {
        Format::Human => Box::new(human::Human {
            color,
            status_level: StatusLevel::default(),
        }),
        Format::Json => Box::new(json::Json),
        Format::Junit => Box::new(junit::Junit),
        Format::Markdown => Box::new(markdown::Markdown),
        Format::Csv => Box::new(csv::Csv),
        Format::Html => Box::new(html::Html),
        Format::Sarif => Box::new(sarif::Sarif),
        Format::Github => Box::new(github::Github),
        Format::Dot => Box::new(graph::Dot),
        Format::Mermaid => Box::new(graph::Mermaid),
    }
}

/// `actas test --status-level`: which cases the human format lists (JSON and JUnit list every
/// case). Failing cases are also listed again, with their `file:line`, after the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusLevel {
    /// Every case.
    Pass,
    /// Failing cases, and passing cases whose requests had evaluation errors.
    #[default]
    Fail,
    /// No case: the recap of failures and the counts only.
    None,
}

/// The renderer of `actas test`'s results.
pub fn test_renderer(
    format: TestFormat,
    color: bool,
    status_level: StatusLevel,
) -> Box<dyn Renderer> {
    match format {
        TestFormat::Human => Box::new(human::Human {
            color,
            status_level,
        }),
        other => renderer(other.into(), color),
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

/// Provenance in a few lines of text, for the human report, CSV's leading comments and the
/// Markdown and HTML headers: who made it, when, from which commit, from which inputs, how.
pub fn provenance_lines(p: &crate::workspace::provenance::Provenance) -> Vec<String> {
    let mut lines = vec![format!(
        "made by actas {} (Cedar {}){}",
        p.actas_version,
        p.cedar_version,
        p.generated_at
            .as_ref()
            .map(|t| format!(" at {t}"))
            .unwrap_or_default()
    )];
    lines.push(match &p.git {
        Some(g) => format!(
            "from git commit {}{}{}",
            g.commit,
            if g.dirty {
                " with uncommitted changes"
            } else {
                ""
            },
            g.remote
                .as_ref()
                .map(|r| format!(" of {r}"))
                .unwrap_or_default()
        ),
        None => "not in a git repository".into(),
    });
    lines.push(format!(
        "inputs: {} files, SHA-256 of the set {}",
        p.inputs.len(),
        p.inputs_sha256
    ));
    if let Some(args) = &p.command_line {
        let quoted: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
        lines.push(format!("command: actas {}", quoted.join(" ")));
    }
    lines
}

/// An argument as a POSIX shell reads it back.
fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}
