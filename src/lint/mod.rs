//! Impersonation lint rules for `actas check` (docs/commands/check.md; one page per rule in
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
mod proved;
mod schema_rules;
mod witness;

use std::sync::Arc;

use crate::core::diag::{Problem, SourceFile};
use crate::core::ids::PolicyId;
use crate::workspace::Workspace;

pub use crate::core::rules::{find_rule, Level, Rule, RuleId, RULES};

pub fn invalid_input() -> &'static Rule {
    RuleId::InvalidInput.rule()
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

/// One finding: the rule, its level, the problem at its place, further places, and the policies
/// it is about (which may suppress it).
#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: &'static Rule,
    pub level: Level,
    pub problem: Problem,
    /// Other places that make up the finding (the rest of a chain's policies).
    pub related: Vec<Problem>,
    pub policies: Vec<PolicyId>,
    /// The messages of the findings of this rule at this place that `run` folded into this one
    /// (each once, in order); empty for a single finding.
    pub instances: Vec<String>,
}

impl Finding {
    pub fn new(rule: &'static Rule, problem: Problem) -> Self {
        Self {
            rule,
            level: rule.level,
            problem,
            related: Vec::new(),
            policies: Vec::new(),
            instances: Vec::new(),
        }
    }

    /// How many findings this one stands for (1 unless several were folded into it).
    pub fn count(&self) -> usize {
        self.instances.len().max(1)
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
    pub policy: PolicyId,
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
/// With `solver`, the guarantee rules ask cvc5 when it is found (see `proved`); without, or
/// without cvc5, they read the policy text.
pub fn run(ws: &Workspace, solver: bool) -> Lint {
    let on = |rule: RuleId| ws.lint.level(rule.rule()) != Level::Off;
    let mut lint = Lint::default();
    let policies = policy_rules::Policies::read(ws);
    let (mut suppressions, problems) = policies.suppressions();
    lint.findings
        .extend(problems.into_iter().map(Finding::input));
    let prover = if solver {
        proved::Prover::new(ws)
    } else {
        None
    };
    let mut found = policies.lint(ws, &on, prover.as_ref());
    found.extend(access_rules::lint(ws, &policies, &on, &mut lint.skipped));

    for mut f in found {
        f.level = ws.lint.level(f.rule);
        let by = suppressions.iter_mut().find(|s| {
            s.rule.name == f.rule.name && f.policies.iter().any(|p| s.policy == policies.owner(p))
        });
        if let Some(s) = by {
            s.suppressed.push(f.decorated());
            continue;
        }
        lint.findings.push(f.decorated());
    }
    let unused = RuleId::UnusedSuppression.rule();
    if on(unused.id) {
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
    lint.findings = grouped(std::mem::take(&mut lint.findings));
    lint
}

/// Instances listed in a folded finding's message; JSON's `instances` has them all.
const LISTED: usize = 5;

/// Folds the findings of one rule at one place (one policy) into one finding with a count, the
/// instances listed in its message and the union of their related places: one open permit
/// otherwise yields a screenful of warnings on the same line, and GitHub shows only ten
/// annotations of a kind per step. Problems in the inputs are never folded (each is its own
/// fix). Suppression has already been decided per instance.
fn grouped(findings: Vec<Finding>) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::with_capacity(findings.len());
    let mut at: std::collections::HashMap<Place, usize> = std::collections::HashMap::new();
    for f in findings {
        let place = match (&f.problem.file, f.problem.span) {
            (Some(file), Some(span)) if f.rule.id != RuleId::InvalidInput => {
                Some((file.path.clone(), span, f.rule.code, f.level))
            }
            _ => None,
        };
        let Some(place) = place else {
            out.push(f);
            continue;
        };
        match at.get(&place) {
            Some(&i) => fold(&mut out[i], f),
            None => {
                at.insert(place, out.len());
                out.push(f);
            }
        }
    }
    for f in &mut out {
        if f.instances.len() > 1 {
            let n = f.instances.len();
            let mut text = format!("{n} {} findings at this policy:", f.rule.name);
            for m in f.instances.iter().take(LISTED) {
                text.push_str("\n• ");
                text.push_str(m);
            }
            if n > LISTED {
                text.push_str(&format!(
                    "\n• and {} more (`--format json` lists every one)",
                    n - LISTED
                ));
            }
            f.problem.message = text;
        }
    }
    out
}

/// Where a finding is, for folding: file, span, rule code, level.
type Place = (String, (usize, usize), &'static str, Level);

/// Adds `f` to the finding `into` stands for: its message as an instance, its related places and
/// policies where new.
fn fold(into: &mut Finding, f: Finding) {
    if into.instances.is_empty() {
        into.instances.push(into.problem.message.clone());
    }
    if !into.instances.contains(&f.problem.message) {
        into.instances.push(f.problem.message);
    }
    for r in f.related {
        let same = |p: &Problem| {
            p.span == r.span && p.file.as_ref().map(|f| &f.path) == r.file.as_ref().map(|f| &f.path)
        };
        if !into.related.iter().any(same) {
            into.related.push(r);
        }
    }
    for p in f.policies {
        if !into.policies.contains(&p) {
            into.policies.push(p);
        }
    }
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
