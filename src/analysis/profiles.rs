//! Choosing the profiles (named contexts) a report runs under (DESIGN §2, §6).
//!
//! - The profiles of actas.yaml, all of them unless `--profile` names some.
//! - With none configured, one implicit profile `default`: the `defaults.context` every scenario
//!   file shares (files without defaults do not count). Differing defaults are bad input.
//! - `--context '{…}'` or `--context-file F` adds a profile named `adhoc`; `--profile adhoc`
//!   selects it alone.
//!
//! Every context is checked against the schema, with the place of a bad value.

use std::sync::Arc;

use serde_json::Value;

use crate::core::diag::{Problem, SourceFile};
use crate::core::ids::ProfileName;
use crate::engine::ContextMap;
use crate::workspace::scenario;
use crate::workspace::{self, ProfileDoc, Workspace};

/// The name of the profile that `--context` adds.
pub const ADHOC: &str = "adhoc";
/// The name of the implicit profile taken from the scenario defaults.
pub const DEFAULT: &str = "default";

/// Where a profile came from, so a report can say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `profiles:` in actas.yaml.
    Configured,
    /// No profiles configured: the scenario files' shared `defaults.context`.
    ScenarioDefaults,
    /// `--context` or `--context-file`.
    CommandLine,
}

impl Origin {
    pub fn describe(self) -> &'static str {
        match self {
            Origin::Configured => "actas.yaml",
            Origin::ScenarioDefaults => "scenario defaults",
            Origin::CommandLine => "command line",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Profile {
    pub name: ProfileName,
    pub context: ContextMap,
    pub origin: Origin,
}

/// An ad-hoc context from the command line, as text.
#[derive(Debug, Clone)]
pub enum AdhocContext {
    /// `--context '{…}'`: JSON.
    Inline(String),
    /// `--context-file F`: YAML or JSON, with its display path.
    File(Arc<SourceFile>),
}

/// The profiles to run under, in order: selected configured ones (sorted by name), then `adhoc`.
pub fn select(
    ws: &Workspace,
    names: &[String],
    adhoc: Option<&AdhocContext>,
) -> Result<Vec<Profile>, Vec<Problem>> {
    let mut problems = Vec::new();
    let adhoc = adhoc.and_then(|a| match parse_adhoc(ws, a) {
        Ok(p) => Some(p),
        Err(mut p) => {
            problems.append(&mut p);
            None
        }
    });
    let configured = !ws.profiles.is_empty();
    let available: Vec<String> = if configured {
        ws.profiles.keys().map(ToString::to_string).collect()
    } else {
        vec![DEFAULT.to_string()]
    };
    for name in names {
        let is_adhoc = name == ADHOC;
        if is_adhoc && adhoc.is_none() && problems.is_empty() {
            problems.push(
                Problem::new(format!(
                    "profile `{ADHOC}` needs `--context` or `--context-file`"
                ))
                .with_help("pass the context to test, e.g. --context '{\"mfa\": true}'"),
            );
        } else if !is_adhoc && !available.contains(name) {
            let help =
                crate::core::suggest::did_you_mean(name, available.iter().map(String::as_str))
                    .unwrap_or_else(|| format!("known profiles: {}", available.join(", ")));
            problems.push(Problem::new(format!("unknown profile `{name}`")).with_help(help));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let wanted = |n: &str| names.is_empty() || names.iter().any(|x| x == n);
    let mut out = Vec::new();
    if configured {
        for (name, context) in &ws.profiles {
            if wanted(name) {
                out.push(Profile {
                    name: name.clone(),
                    context: context.clone(),
                    origin: Origin::Configured,
                });
            }
        }
    } else if wanted(DEFAULT) {
        out.push(scenario_default(ws)?);
    }
    out.extend(adhoc.filter(|_| wanted(ADHOC)));
    Ok(out)
}

/// The implicit `default` profile: the `defaults.context` that all scenario files share.
fn scenario_default(ws: &Workspace) -> Result<Profile, Vec<Problem>> {
    let mut problems = Vec::new();
    let sources = workspace::scenario_sources(&ws.root, &ws.scenarios, "scenario", &mut problems);
    let mut shared: Option<(ContextMap, String)> = None;
    for file in &sources {
        match scenario::defaults_context(file) {
            Ok(None) => {}
            Ok(Some(ctx)) => match &shared {
                None => shared = Some((ctx, file.path.clone())),
                Some((first, from)) if *first != ctx => problems.push(
                    Problem::in_file(
                        file,
                        format!(
                            "`{}`: its `defaults.context` differs from that of `{from}`, so there is no single default profile",
                            file.path
                        ),
                    )
                    .with_help("configure `profiles:` in actas.yaml, or pass --context"),
                ),
                Some(_) => {}
            },
            Err(mut p) => problems.append(&mut p),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let context = shared.map(|(c, _)| c).unwrap_or_default();
    let issues = ws
        .engine
        .check_context(&context, &ws.engine.actions, &ws.engine.actions);
    if !issues.is_empty() {
        return Err(issues
            .into_iter()
            .map(|i| {
                Problem::new(format!(
                    "profile `{DEFAULT}` (from the scenario defaults): {}",
                    i.message
                ))
                .with_help("configure `profiles:` in actas.yaml, or pass --context")
            })
            .collect());
    }
    Ok(Profile {
        name: ProfileName::new(DEFAULT),
        context,
        origin: Origin::ScenarioDefaults,
    })
}

/// Parses and checks the `--context` profile.
fn parse_adhoc(ws: &Workspace, adhoc: &AdhocContext) -> Result<Profile, Vec<Problem>> {
    let file = match adhoc {
        AdhocContext::Inline(text) => {
            let file = SourceFile::new("--context", text.as_str());
            // JSON strictly first: YAML would accept more than the flag promises.
            if let Err(e) = serde_json::from_str::<serde_json::Map<String, Value>>(text) {
                let offset = file.offset_of(e.line() as u64, e.column() as u64);
                return Err(vec![Problem::at(
                    &file,
                    (offset, 0),
                    format!("malformed `--context`: {}", strip_position(&e.to_string())),
                )
                .with_help(
                    r#"give a JSON object, e.g. '{"mfa": true, "duration_minutes": 30}'"#,
                )]);
            }
            file
        }
        AdhocContext::File(file) => file.clone(),
    };
    let doc: ProfileDoc = crate::core::yaml::read(&file).map_err(|p| vec![*p])?;
    let (context, problems) = workspace::check_profile(&ws.engine, &file, ADHOC, &doc);
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Profile {
        name: ProfileName::new(ADHOC),
        context,
        origin: Origin::CommandLine,
    })
}

/// serde_json's message without its " at line L column C" (the span shows it).
fn strip_position(message: &str) -> &str {
    message
        .rfind(" at line ")
        .map_or(message, |i| message.get(..i).unwrap_or(message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::example;

    #[test]
    fn configured_profiles_come_sorted_then_adhoc() {
        let ws = example();
        let adhoc = AdhocContext::Inline(
            r#"{"duration_minutes": 5, "mfa": true, "justification": "BG-1"}"#.into(),
        );
        let all = select(&ws, &[], Some(&adhoc)).unwrap();
        let names: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["break_glass", "incident", "routine", "adhoc"]);
        let only = select(&ws, &["adhoc".into()], Some(&adhoc)).unwrap();
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].origin, Origin::CommandLine);
    }

    #[test]
    fn unknown_names_and_bad_contexts_are_refused() {
        let ws = example();
        let err = select(&ws, &["incidnet".into()], None).unwrap_err();
        assert_eq!(err[0].help.as_deref(), Some("did you mean `incident`?"));
        let bad = AdhocContext::Inline(r#"{"mfa": 1}"#.into());
        let err = select(&ws, &[], Some(&bad)).unwrap_err();
        assert!(err.iter().any(|p| p.message.contains("expected a boolean")));
    }

    #[test]
    fn json_positions_are_left_to_the_span() {
        assert_eq!(
            strip_position("EOF while parsing an object at line 1 column 12"),
            "EOF while parsing an object"
        );
    }
}
