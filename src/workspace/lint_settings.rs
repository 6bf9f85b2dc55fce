//! `lint:` and `impersonation.unattributed` of actas.yaml, checked with their places.
//!
//! ```yaml
//! lint:
//!   duration_attribute: duration_minutes   # the context attribute that bounds a token's life
//!   justification_attribute: justification
//!   mfa_attribute: mfa
//!   escalating-chain: error                # any rule: error | warning | off
//! impersonation:
//!   unattributed:                          # identity handed over without impersonation
//!     - { action: 'Action::"createKey"', account: resource }
//!     - { action: 'Action::"runAs"', account: resource.runs_as }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use cedar_policy::EntityUid;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::core::diag::{span_of, Problem, SourceFile};
use crate::core::rules::{Level, Rule, RULES};
use crate::engine::Engine;

/// `lint:` as written: rule names and settings, each with its value's place.
pub type LintDoc = BTreeMap<String, Spanned<String>>;

/// One `impersonation.unattributed` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnattributedDoc {
    action: Spanned<String>,
    account: Spanned<String>,
}

/// Where the account whose identity an unattributed action hands over is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountRef {
    /// The request's resource is the account (creating a key for it).
    Resource,
    /// An entity attribute of the resource names the account (a workload's `runs_as`).
    Attribute(String),
}

#[derive(Debug, Clone)]
pub struct Unattributed {
    pub action: EntityUid,
    pub account: AccountRef,
}

const SETTINGS: [&str; 3] = [
    "duration_attribute",
    "justification_attribute",
    "mfa_attribute",
];

/// Checked lint settings.
#[derive(Debug, Clone)]
pub struct LintSettings {
    levels: HashMap<&'static str, Level>,
    /// Dotted paths under `context`.
    pub duration_attribute: String,
    pub justification_attribute: String,
    pub mfa_attribute: String,
    pub unattributed: Vec<Unattributed>,
}

impl Default for LintSettings {
    fn default() -> Self {
        Self {
            levels: HashMap::new(),
            duration_attribute: "duration_minutes".into(),
            justification_attribute: "justification".into(),
            mfa_attribute: "mfa".into(),
            unattributed: Vec::new(),
        }
    }
}

impl LintSettings {
    /// The rule's level: configured, else its default.
    pub fn level(&self, rule: &Rule) -> Level {
        self.levels.get(rule.name).copied().unwrap_or(rule.level)
    }
}

/// Checks the settings; every problem carries its place in `actas.yaml`.
pub fn check(
    engine: &Engine,
    cfg: Option<&Arc<SourceFile>>,
    lint: Option<LintDoc>,
    unattributed: Option<Vec<UnattributedDoc>>,
) -> (LintSettings, Vec<Problem>) {
    let mut settings = LintSettings::default();
    let mut problems = Vec::new();
    let Some(file) = cfg else {
        return (settings, problems);
    };
    for (key, value) in lint.unwrap_or_default() {
        let at = |message: String| Problem::at_location(file, &value.referenced, message);
        if SETTINGS.contains(&key.as_str()) {
            let path = value.value.trim();
            if path.is_empty() || path.split('.').any(|p| !is_identifier(p)) {
                problems.push(at(format!(
                    "`lint.{key}` must name a context attribute (`a` or `a.b`), not `{}`",
                    value.value
                )));
                continue;
            }
            let slot = match key.as_str() {
                "duration_attribute" => &mut settings.duration_attribute,
                "justification_attribute" => &mut settings.justification_attribute,
                _ => &mut settings.mfa_attribute,
            };
            *slot = path.to_string();
            continue;
        }
        let Some(rule) = RULES.iter().find(|r| r.name == key) else {
            let known = RULES.iter().map(|r| r.name).chain(SETTINGS);
            let mut p = at(format!("unknown lint rule or setting `{key}`"));
            p.help = crate::core::suggest::did_you_mean(&key, known);
            problems.push(p);
            continue;
        };
        match Level::parse(&value.value) {
            Some(level) if rule.configurable || level == Level::Error => {
                settings.levels.insert(rule.name, level);
            }
            Some(_) => problems.push(at(format!(
                "`{}` is always an error: problems in the inputs stop every other command",
                rule.name
            ))),
            None => problems.push(at(format!(
                "the level of `{}` must be error, warning or off, not `{}`",
                rule.name, value.value
            ))),
        }
    }
    for doc in unattributed.unwrap_or_default() {
        let action = match engine
            .info
            .parse_action(&doc.action.value, "unattributed action")
        {
            Ok(a) => a,
            Err(p) => {
                problems.push(p.placed(file, span_of(file, &doc.action.referenced)));
                continue;
            }
        };
        let account = match doc.account.value.trim() {
            "resource" => AccountRef::Resource,
            other => match other.strip_prefix("resource.") {
                Some(attr) if is_identifier(attr) => AccountRef::Attribute(attr.to_string()),
                _ => {
                    problems.push(
                        Problem::at_location(
                            file,
                            &doc.account.referenced,
                            format!("`account` must be `resource` or `resource.ATTRIBUTE`, not `{other}`"),
                        )
                        .with_help("`resource`: the resource is the account (a key for it); `resource.runs_as`: the resource's attribute names it"),
                    );
                    continue;
                }
            },
        };
        if account == AccountRef::Resource {
            let impersonable = engine.impersonable_types();
            let resources = engine
                .action(&action)
                .map(|i| i.resources.clone())
                .unwrap_or_default();
            if !resources.iter().any(|t| impersonable.contains(t)) {
                problems.push(
                    Problem::at_location(
                        file,
                        &doc.account.referenced,
                        format!("the resources of `{action}` are not accounts anyone impersonates"),
                    )
                    .with_help(
                        "name the resource attribute that holds the account: `resource.ATTRIBUTE`",
                    ),
                );
                continue;
            }
        }
        settings.unattributed.push(Unattributed { action, account });
    }
    (settings, problems)
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
