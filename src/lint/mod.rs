//! Impersonation lint rules for `actas check` (README "Lint rules"; one page per rule in
//! `docs/rules/`, compiled in for `actas check --explain`).
//!
//! Policy rules read Cedar's AST, which carries source spans (hence the direct dependency on
//! `cedar-policy-core`, pinned to the version `cedar-policy` uses: the public API has neither
//! spans nor condition trees). Access rules evaluate through the engine over the inventory and
//! every profile. A finding names the policies it is about; a policy (or a link's template)
//! suppresses a rule for the findings that name it with `@actas_allow("rule-name: why")`
//! (several rules: `"rule-a, rule-b: why"`). Suppressions are listed in every format, and one
//! that suppresses nothing is itself a finding.

mod access_rules;
mod conditions;
mod policy_rules;
pub mod settings;

use std::sync::Arc;

use crate::diag::{Problem, SourceFile};
use crate::workspace::Workspace;

/// How much a finding matters. `check` exits 1 when any finding is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Off,
    Warning,
    Error,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Off => "off",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Level::Off, Level::Warning, Level::Error]
            .into_iter()
            .find(|l| l.name() == s)
    }
}

/// A lint rule: stable code and name, default level, one-line summary and its doc page.
#[derive(Debug)]
pub struct Rule {
    pub code: &'static str,
    pub name: &'static str,
    pub level: Level,
    /// Whether `lint:` may change its level (input problems are always errors).
    pub configurable: bool,
    pub summary: &'static str,
    /// `docs/rules/<name>.md`.
    pub doc: &'static str,
}

macro_rules! rule {
    ($code:literal, $name:literal, $level:ident, $summary:literal) => {
        Rule {
            code: $code,
            name: $name,
            level: Level::$level,
            configurable: true,
            summary: $summary,
            doc: include_str!(concat!("../../docs/rules/", $name, ".md")),
        }
    };
}

/// Every rule, in code order. Codes never change meaning; retired codes are not reused.
pub static RULES: [Rule; 11] = [
    Rule {
        configurable: false,
        ..rule!("IMP000", "invalid-input", Error, "a policy, schema, entity, scenario, task or setting that does not load or validate")
    },
    rule!("IMP001", "unbounded-impersonation", Error, "an impersonation permit that does not bound how long the token lives"),
    rule!("IMP002", "unjustified-impersonation", Warning, "an impersonation permit that requires no justification or ticket"),
    rule!("IMP003", "open-impersonation", Error, "an impersonation permit open to any principal or any account"),
    rule!("IMP004", "human-without-mfa", Error, "people may impersonate without multi-factor authentication"),
    rule!("IMP005", "escalating-chain", Warning, "an account gains, through impersonation, grants it does not hold itself"),
    rule!("IMP006", "invisible-impersonator", Error, "an action performed while acting as an account whose context cannot name the impersonator"),
    rule!("IMP007", "non-attributable-path", Error, "someone may take on an account's identity without impersonating it (keys, code running as it)"),
    rule!("IMP008", "impersonation-cycle", Warning, "accounts that can impersonate each other in a cycle"),
    rule!("IMP009", "dead-policy", Warning, "a permit that decides no request over the inventory and profiles"),
    rule!("IMP010", "unused-suppression", Warning, "an `@actas_allow` annotation that suppresses nothing"),
];

pub fn invalid_input() -> &'static Rule {
    &RULES[0]
}

fn rule_named(name: &str) -> &'static Rule {
    RULES
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| invalid_input())
}

/// Shown items per finding before "and N more".
const SHOWN: usize = 3;

/// "`a`, `b`, `c` and 2 more".
fn first_few<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    let all: Vec<String> = items.into_iter().map(|i| format!("`{i}`")).collect();
    let mut text = all
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if all.len() > SHOWN {
        text.push_str(&format!(" and {} more", all.len() - SHOWN));
    }
    text
}

/// A rule by name or code (`--explain`).
pub fn find_rule(name_or_code: &str) -> Option<&'static Rule> {
    RULES
        .iter()
        .find(|r| r.name == name_or_code || r.code.eq_ignore_ascii_case(name_or_code))
}

/// One finding: the rule, its level, the problem at its place, further places, and the policies
/// it is about (which may suppress it).
#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: &'static Rule,
    pub level: Level,
    pub problem: Problem,
    /// Other places that make up the finding (the rest of a chain's policies).
    pub related: Vec<Problem>,
    pub policies: Vec<String>,
}

impl Finding {
    pub fn new(rule: &'static Rule, problem: Problem) -> Self {
        Self {
            rule,
            level: rule.level,
            problem,
            related: Vec::new(),
            policies: Vec::new(),
        }
    }

    /// A problem in the inputs. Its human rendering stays as the loader wrote it, without the
    /// rule's code: every input problem is this one rule.
    pub fn input(problem: Problem) -> Self {
        Self::new(invalid_input(), problem)
    }

    /// Sets the problem's code and severity for miette from the rule and level.
    fn decorated(mut self) -> Self {
        self.problem.code = Some(format!("{}/{}", self.rule.code, self.rule.name));
        self.problem.severity = Some(match self.level {
            Level::Error => miette::Severity::Error,
            _ => miette::Severity::Warning,
        });
        self
    }
}

/// An `@actas_allow` annotation, and how many findings it suppressed.
#[derive(Debug, Clone)]
pub struct Suppression {
    pub policy: String,
    pub rule: &'static Rule,
    pub reason: Option<String>,
    pub file: Option<Arc<SourceFile>>,
    pub span: Option<(usize, usize)>,
    /// The findings it suppressed (kept: SARIF reports them as suppressed results).
    pub suppressed: Vec<Finding>,
}

/// The result of linting a workspace.
#[derive(Debug, Default)]
pub struct Lint {
    pub findings: Vec<Finding>,
    pub suppressions: Vec<Suppression>,
    /// Rules that did not run, with why.
    pub skipped: Vec<String>,
}

/// Runs every rule that is not off, applies levels and suppressions, and sorts the findings by
/// file, place and rule.
pub fn run(ws: &Workspace) -> Lint {
    let on = |name: &str| ws.lint.level(rule_named(name)) != Level::Off;
    let mut lint = Lint::default();
    let policies = policy_rules::Policies::read(ws);
    let (mut suppressions, problems) = policies.suppressions();
    lint.findings
        .extend(problems.into_iter().map(Finding::input));
    let mut found = policies.lint(ws, &on);
    found.extend(access_rules::lint(ws, &policies, &on, &mut lint.skipped));

    for mut f in found {
        f.level = ws.lint.level(f.rule);
        let by = suppressions.iter_mut().find(|s| {
            s.rule.name == f.rule.name && f.policies.iter().any(|p| policies.owner(p) == s.policy)
        });
        if let Some(s) = by {
            s.suppressed.push(f.decorated());
            continue;
        }
        lint.findings.push(f.decorated());
    }
    let unused = rule_named("unused-suppression");
    if on(unused.name) {
        for s in &suppressions {
            if s.suppressed.is_empty() && ws.lint.level(s.rule) != Level::Off {
                let p = Problem::at_place(
                    s.file.as_ref().zip(s.span),
                    format!(
                        "`@actas_allow(\"{}\")` on `{}` suppresses nothing",
                        s.rule.name, s.policy
                    ),
                )
                .with_help("the rule no longer finds anything here: remove the annotation");
                let mut f = Finding::new(unused, p);
                f.level = ws.lint.level(unused);
                f.policies = vec![s.policy.clone()];
                lint.findings.push(f.decorated());
            }
        }
    }
    suppressions.sort_by(|a, b| (&a.policy, a.rule.code).cmp(&(&b.policy, b.rule.code)));
    lint.suppressions = suppressions;
    sort(&mut lint.findings);
    lint
}

/// Findings in (file, offset, rule code, message) order; findings without a file last.
fn sort(findings: &mut [Finding]) {
    findings.sort_by_cached_key(key);
}

fn key(f: &Finding) -> (bool, String, usize, &'static str, String) {
    let file = f.problem.file.as_ref().map(|f| f.path.clone());
    (
        file.is_none(),
        file.unwrap_or_default(),
        f.problem.span.map_or(0, |s| s.0),
        f.rule.code,
        f.problem.message.clone(),
    )
}
