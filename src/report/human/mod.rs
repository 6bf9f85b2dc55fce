//! Human-readable output: one line per case, failures explained under it.

mod drift;
mod init;
mod paths;
mod prove;
mod suffice;

use drift::drift_text;
pub use init::init;
use paths::Spill;
pub(crate) use prove::decided;
use prove::prove_text;
pub use suffice::change_line;
use suffice::suffice_text;

use std::collections::BTreeMap;
use std::fmt::Write;
use std::io;

use crate::commands::check::CheckResult;
use crate::commands::drift::DriftResult;
use crate::commands::report::ReportResult;
use crate::commands::suffice::SufficeResult;
use crate::commands::test::{Outcome, TestRun};
use crate::commands::who_can::WhoCanResult;
use crate::core::diag::{plural, render};
use crate::engine::HopOutcome;
use crate::lint::Level;
use crate::report::escape::terminal;
use crate::report::failure::{failure, hop_lines, verdict, Line};
use crate::report::json::{
    drift_doc, streamed_report_doc, suffice_doc, who_can_doc, ChangeDoc, PathDoc, PathRefDoc,
    PolicyDoc, ProfileDoc, UsageDoc,
};
use crate::report::{Renderer, StatusLevel};

/// The most findings `check` prints in full.
const SHOWN_FINDINGS: usize = 200;

pub struct Human {
    pub color: bool,
    /// Which cases `test` lists.
    pub status_level: StatusLevel,
}

impl Renderer for Human {
    fn test(&self, run: &TestRun) -> Option<String> {
        let mut out = String::new();
        for o in &run.outcomes {
            let listed = match self.status_level {
                StatusLevel::Pass => true,
                StatusLevel::Fail => !o.passed || !o.errors.is_empty(),
                StatusLevel::None => false,
            };
            if !listed {
                continue;
            }
            let status = if o.passed { "PASS" } else { "FAIL" };
            let _ = writeln!(out, "{status} {}:{} › {}", o.file, o.line, o.name);
            if !o.passed {
                explain(&mut out, o);
            } else if !o.errors.is_empty() {
                for e in &o.errors {
                    let _ = writeln!(out, "     evaluation error: {e}");
                }
            }
        }
        if !out.is_empty() {
            let _ = writeln!(out);
        }
        // The recap: a long run's failures, together at the end where the eye lands.
        let failed: Vec<&Outcome> = run.outcomes.iter().filter(|o| !o.passed).collect();
        if !failed.is_empty() {
            let _ = writeln!(out, "failed:");
            for o in failed {
                let _ = writeln!(out, "  {}:{} › {}", o.file, o.line, o.name);
            }
            let _ = writeln!(out);
        }
        let _ = writeln!(out, "{} passed, {} failed", run.passed(), run.failed());
        Some(terminal(&out).into_owned())
    }

    fn check(&self, r: &CheckResult) -> Option<String> {
        let mut out = String::new();
        for f in r.findings.iter().take(SHOWN_FINDINGS) {
            out.push_str(&render(&f.problem, self.color));
            for p in &f.related {
                let place = p
                    .location()
                    .map_or_else(String::new, |(file, lc)| match lc {
                        Some((l, c)) => format!(" ({file}:{l}:{c})"),
                        None => format!(" ({file})"),
                    });
                let _ = writeln!(out, "  also: {}{place}", terminal(&p.message));
            }
            out.push('\n');
        }
        if r.findings.len() > SHOWN_FINDINGS {
            let _ = writeln!(
                out,
                "… and {} more findings (the first {SHOWN_FINDINGS} are shown; `--format json` or `sarif` lists all)\n",
                r.findings.len() - SHOWN_FINDINGS
            );
        }
        for s in &r.skipped {
            let _ = writeln!(out, "note: skipped {}", terminal(s));
        }
        if !r.suppressions.is_empty() {
            let _ = writeln!(out, "suppressed by `@actas_allow`:");
            for s in &r.suppressions {
                let _ = writeln!(
                    out,
                    "  {} on `{}` ({}): {}",
                    s.rule.name,
                    terminal(&s.policy),
                    plural(s.suppressed.len(), "finding", "findings"),
                    terminal(s.reason.as_deref().unwrap_or("no reason given"))
                );
            }
        }
        let (errors, warnings) = (r.count(Level::Error), r.count(Level::Warning));
        if errors + warnings == 0 {
            let _ = writeln!(
                out,
                "checked {}, {}, {}, {}: no problems found",
                plural(r.policies, "policy", "policies"),
                plural(r.entities, "entity", "entities"),
                plural(r.cases, "case", "cases"),
                plural(r.tasks, "task", "tasks")
            );
        } else {
            let counts: Vec<String> = [
                (errors, "error", "errors"),
                (warnings, "warning", "warnings"),
            ]
            .into_iter()
            .filter(|(n, _, _)| *n > 0)
            .map(|(n, one, many)| plural(n, one, many))
            .collect();
            let _ = writeln!(out, "{} found", counts.join(", "));
        }
        Some(out)
    }

    fn who_can(&self, r: &WhoCanResult) -> Option<String> {
        Some(terminal(&self.who_can_text(r)).into_owned())
    }

    fn can(&self, r: &crate::commands::can::CanResult) -> Option<String> {
        Some(terminal(&can_text(r)).into_owned())
    }

    fn report(&self, r: &ReportResult) -> Option<String> {
        let mut out = String::new();
        self.write_report_text(r, &mut out);
        Some(terminal(&out).into_owned())
    }

    /// Written as it is made: a report can hold millions of paths.
    fn write_report(&self, r: &ReportResult, out: &mut dyn io::Write) -> Option<io::Result<()>> {
        let mut spill = Spill::new(out);
        self.write_report_text(r, &mut spill);
        Some(spill.finish())
    }

    fn suffice(&self, r: &SufficeResult) -> Option<String> {
        Some(terminal(&suffice_text(r)).into_owned())
    }

    fn drift(&self, r: &DriftResult) -> Option<String> {
        Some(terminal(&drift_text(r)).into_owned())
    }

    fn prove(&self, r: &crate::commands::prove::ProveResult) -> Option<String> {
        Some(terminal(&prove_text(r)).into_owned())
    }
}

/// Left-aligned columns, two spaces apart, indented by two.
fn table(out: &mut impl Write, rows: &[Vec<String>]) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::from(" ");
        for (cell, w) in row.iter().zip(&widths) {
            let _ = write!(line, " {cell:<w$} ");
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

fn list_or_none<S: std::borrow::Borrow<str>>(list: &[S]) -> String {
    if list.is_empty() {
        "(none)".into()
    } else {
        list.join(", ")
    }
}

fn explain(out: &mut String, o: &Outcome) {
    write_lines(out, &failure(o));
}

fn hop_line(out: &mut String, n: usize, h: &HopOutcome) {
    let mut lines = Vec::new();
    hop_lines(&mut lines, n, h);
    write_lines(out, &lines);
}

/// Evidence lines, indented under their case or task.
fn write_lines(out: &mut String, lines: &[Line]) {
    for line in lines {
        let _ = writeln!(
            out,
            "     {:indent$}{}",
            "",
            line.text,
            indent = 2 * line.depth
        );
    }
}

/// `actas can`: the answer first, then each profile's, with the chain and its policies or what
/// blocks it.
fn can_text(r: &crate::commands::can::CanResult) -> String {
    let mut out = String::new();
    let yes = r.allowed();
    let question = match (&r.action, &r.resource) {
        (Some(a), Some(res)) => format!(
            "{}, acting as {}, {} {a} on {res}",
            r.principal,
            r.target,
            if yes { "may do" } else { "may not do" }
        ),
        _ => format!(
            "{} {} {}",
            r.principal,
            if yes { "can act as" } else { "cannot act as" },
            r.target
        ),
    };
    let _ = writeln!(out, "{}: {question}", if yes { "yes" } else { "no" });
    let width = r.answers.iter().map(|a| a.profile.len()).max().unwrap_or(0);
    for a in &r.answers {
        let profile = format!("{}:", a.profile);
        if a.allowed {
            let mut chain = r.principal.to_string();
            for u in &a.chain {
                let _ = write!(chain, " → {u}");
            }
            let _ = writeln!(
                out,
                "  {profile:<w$} yes, {}: {chain}",
                plural(a.chain.len(), "hop", "hops"),
                w = width + 1
            );
            for h in &a.hops {
                let policies: Vec<&str> = h.policies.iter().map(|p| p.as_str()).collect();
                let _ = writeln!(
                    out,
                    "  {:<w$}   {} → {}: allowed by {}",
                    "",
                    h.from,
                    h.to,
                    policies.join(", "),
                    w = width + 1
                );
            }
            if let Some(e) = &a.request {
                let policies: Vec<&str> = e.reasons.iter().map(|p| p.as_str()).collect();
                let _ = writeln!(
                    out,
                    "  {:<w$}   as {}: {} on {}: allowed by {}",
                    "",
                    e.principal,
                    e.action,
                    e.resource,
                    policies.join(", "),
                    w = width + 1
                );
            }
        } else {
            let reached = if a.chain.is_empty() {
                String::new()
            } else {
                format!(
                    "reaches it in {}, but ",
                    plural(a.chain.len(), "hop", "hops")
                )
            };
            let _ = writeln!(
                out,
                "  {profile:<w$} no: {reached}{}",
                a.blocked,
                w = width + 1
            );
        }
    }
    out
}
