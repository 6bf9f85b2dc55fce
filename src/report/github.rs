//! `actas check --format github`: GitHub Actions workflow commands, one per finding
//! (`::error file=…,line=…,col=…,endLine=…,endColumn=…,title=…::message`), which the runner
//! turns into annotations on the pull request's diff; suppressions as `::notice`. Values are
//! escaped as the runner expects (`%`, CR, LF everywhere; `:` and `,` in properties too).

use std::fmt::Write as _;

use crate::commands::check::CheckResult;
use crate::core::diag::plural;
use crate::lint::{Finding, Level};
use crate::report::Renderer;

pub struct Github;

fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

fn command(out: &mut String, kind: &str, f: &Finding, title: &str, text: &str) {
    let mut props = Vec::new();
    if let Some((file, region)) = f.problem.region() {
        props.push(format!("file={}", property(&file)));
        if let Some(r) = region {
            props.push(format!("line={}", r.start.0));
            props.push(format!("col={}", r.start.1));
            props.push(format!("endLine={}", r.end.0));
            props.push(format!("endColumn={}", r.end.1));
        }
    }
    props.push(format!("title={}", property(title)));
    let _ = writeln!(out, "::{kind} {}::{}", props.join(","), data(text));
}

impl Renderer for Github {
    fn check(&self, r: &CheckResult) -> Option<String> {
        let mut out = String::new();
        for f in &r.findings {
            let kind = if f.level == Level::Error {
                "error"
            } else {
                "warning"
            };
            let mut text = f.problem.message.clone();
            if let Some(h) = &f.problem.help {
                text.push_str("\nhelp: ");
                text.push_str(h);
            }
            let title = format!("{} {}", f.rule.code, f.rule.name);
            command(&mut out, kind, f, &title, &text);
        }
        for s in &r.suppressions {
            for f in &s.suppressed {
                let title = format!("suppressed: {} {}", f.rule.code, f.rule.name);
                let text = format!(
                    "{}\nsuppressed on `{}`: {}",
                    f.problem.message,
                    s.policy,
                    s.reason.as_deref().unwrap_or("no reason given")
                );
                command(&mut out, "notice", f, &title, &text);
            }
        }
        let (errors, warnings) = (r.count(Level::Error), r.count(Level::Warning));
        let _ = writeln!(
            out,
            "actas check: {}, {}",
            plural(errors, "error", "errors"),
            plural(warnings, "warning", "warnings")
        );
        Some(out)
    }
}
