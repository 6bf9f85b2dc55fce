//! Rules read from the policies' AST and the schema: unbounded-impersonation,
//! unjustified-impersonation, open-impersonation, human-without-mfa;
//! and the `@actas_allow` suppressions.
//!
//! A permit "on an impersonation action" is one whose action scope covers a configured
//! impersonation action (`==`, `in [..]` with action groups, or an open `action`). A guarantee
//! (a bound, a justification, MFA) may come from the permit's own condition or from a forbid
//! that covers every request the permit could allow for that action: open principal (or `is`
//! every human type, for MFA), open resource, and a condition that fires whenever the guarantee
//! fails (`forbid … when { context.duration_minutes > 60 }`). See `conditions` for what counts.

use std::str::FromStr;

use rayon::prelude::*;
use std::sync::Arc;

use cedar_policy::EntityUid;
use cedar_policy_core::ast::{
    self, AnyId, Effect, EntityReference, PrincipalOrResourceConstraint, Var,
};

use super::conditions::{must, Want};
use super::proved::{Answer, Guarantee, Prover};
use super::{find_rule, first_few, Finding, RuleId, Suppression};
use crate::core::diag::{Problem, SourceFile};
use crate::core::ids::PolicyId;
use crate::engine::{to_api, Engine};
use crate::workspace::Workspace;

/// The annotation that suppresses rules on a policy.
pub const ALLOW: &str = "actas_allow";

/// A policy or template body with where it is written.
pub struct Body<'a> {
    pub id: String,
    pub ast: &'a ast::Template,
    pub is_template: bool,
    place: Option<(Arc<SourceFile>, (usize, usize))>,
}

/// One impersonation permit under the policy rules: the impersonation actions it covers and
/// the forbids that may guard it.
struct Permit<'a> {
    engine: &'a crate::engine::Engine,
    body: &'a Body<'a>,
    actions: Vec<&'a EntityUid>,
    forbids: &'a [&'a Body<'a>],
}

impl Permit<'_> {
    fn kind(&self) -> &'static str {
        if self.body.is_template {
            "template"
        } else {
            "permit"
        }
    }

    /// Whether the permit's own condition always requires `want`.
    fn holds(&self, want: Want<'_>) -> bool {
        self.body
            .ast
            .non_scope_constraints()
            .is_some_and(|c| must(c, true, want))
    }

    /// Whether an unconditional-scope forbid denies `action` unless `want` holds (for the
    /// principals of `humans`' types, when given).
    fn guarded(&self, want: Want<'_>, action: &EntityUid, humans: Option<&[String]>) -> bool {
        self.forbids.iter().any(|f| {
            self.engine
                .scope_covers_action(f.ast.action_constraint(), action)
                && covers_principals(f.ast, humans)
                && matches!(
                    f.ast.resource_constraint().as_inner(),
                    PrincipalOrResourceConstraint::Any
                )
                && f.ast
                    .non_scope_constraints()
                    .is_none_or(|c| must(c, false, want))
        })
    }
}

/// How a finding was decided: by the solver (with what it found) or from the policy text.
#[derive(Default)]
struct Basis {
    /// How each confirmation was reached, with its example, in words (the first is shown).
    proved: Vec<String>,
    read: bool,
}

impl Basis {
    /// Whether the guarantee is broken. The policy text is read first: what it finds kept is
    /// kept (the reading is conservative: a condition it cannot read counts as no guarantee),
    /// so the solver is asked only about what the text would report, and its answer decides.
    fn broken<F: FnOnce() -> Answer>(
        &mut self,
        text: impl FnOnce() -> bool,
        solver: Option<F>,
    ) -> bool {
        if !text() {
            return false;
        }
        match solver.map(|ask| ask()) {
            Some(Answer::Holds) => false,
            Some(Answer::Broken(example)) => {
                self.proved
                    .push(format!("proved by the solver: e.g. {example}"));
                true
            }
            Some(Answer::Shown(example)) => {
                self.proved
                    .push(format!("Cedar allows it on the inventory: e.g. {example}"));
                true
            }
            Some(Answer::Unknown) | None => {
                self.read = true;
                true
            }
        }
    }

    /// The words a finding ends with.
    fn words(&self) -> String {
        match (self.proved.first(), self.read) {
            (Some(how), false) => format!(" ({how})"),
            _ => " (read from the policy text)".into(),
        }
    }
}

/// A template link: its id, template and slot values.
pub struct Link {
    pub id: String,
    pub template: String,
    pub principal: Option<EntityUid>,
    pub resource: Option<EntityUid>,
}

/// The workspace's policies as the rules see them.
pub struct Policies<'a> {
    pub bodies: Vec<Body<'a>>,
    pub links: Vec<Link>,
}

impl<'a> Policies<'a> {
    pub fn read(ws: &'a Workspace) -> Self {
        let set: &ast::PolicySet = ws.engine.policies.as_ref();
        let mut bodies: Vec<Body<'a>> = set
            .all_templates()
            .map(|t| {
                let id = AsRef::<str>::as_ref(t.id()).to_string();
                let file = ws
                    .policies
                    .get(id.as_str())
                    .and_then(|m| ws.policy_files.get(&m.file))
                    .cloned();
                let place = file.and_then(|f| {
                    let loc = t.loc()?;
                    Some((
                        f.clone(),
                        crate::workspace::places::head(&f.text, loc.span.offset(), loc.span.len()),
                    ))
                });
                Body {
                    id,
                    ast: t,
                    is_template: !t.is_static(),
                    place,
                }
            })
            .collect();
        bodies.sort_by(|a, b| a.id.cmp(&b.id));
        let mut links: Vec<Link> = ws
            .engine
            .policies
            .policies()
            .filter(|p| !p.is_static())
            .filter_map(|p| {
                let values = p.template_links()?;
                Some(Link {
                    id: crate::core::ids::raw(p.id()).to_string(),
                    template: p.template_id()?.to_string(),
                    principal: values.get(&cedar_policy::SlotId::principal()).cloned(),
                    resource: values.get(&cedar_policy::SlotId::resource()).cloned(),
                })
            })
            .collect();
        links.sort_by(|a, b| a.id.cmp(&b.id));
        Self { bodies, links }
    }

    /// The body a policy id is written in: a link's template, else itself.
    pub fn owner<'s>(&'s self, id: &'s str) -> &'s str {
        self.links
            .iter()
            .find(|l| l.id == id)
            .map_or(id, |l| l.template.as_str())
    }

    fn body(&self, id: &str) -> Option<&Body<'a>> {
        let owner = self.owner(id);
        self.bodies.iter().find(|b| b.id == owner)
    }

    /// A problem at the policy's head (`permit (…)`), or without a place when it has none.
    pub fn at(&self, id: &str, message: String) -> Problem {
        let place = self.body(id).and_then(|b| b.place.as_ref());
        Problem::at_place(place.map(|(file, span)| (file, *span)), message)
    }

    /// Every `@actas_allow` annotation, and the problems in them (unknown rule names).
    pub fn suppressions(&self) -> (Vec<Suppression>, Vec<Problem>) {
        let mut out = Vec::new();
        let mut problems = Vec::new();
        let Ok(key) = AnyId::from_str(ALLOW) else {
            return (out, problems);
        };
        for b in &self.bodies {
            let Some(a) = b.ast.annotation(&key) else {
                continue;
            };
            let file = b.place.as_ref().map(|(f, _)| f.clone());
            let span = a.loc.as_ref().map(|l| (l.span.offset(), l.span.len()));
            let (names, reason) = match a.val.split_once(':') {
                Some((n, r)) => (n, Some(r.trim().to_string()).filter(|r| !r.is_empty())),
                None => (a.val.as_str(), None),
            };
            for name in names.split(',').map(str::trim) {
                match find_rule(name) {
                    Some(rule) if rule.configurable => out.push(Suppression {
                        policy: PolicyId::new(b.id.clone()),
                        rule,
                        reason: reason.clone(),
                        file: file.clone(),
                        span,
                        suppressed: Vec::new(),
                    }),
                    _ => {
                        let message =
                            format!("`@{ALLOW}` on `{}` names unknown rule `{name}`", b.id);
                        let mut p = Problem::at_place(file.as_ref().zip(span), message);
                        let names = super::RULES
                            .iter()
                            .filter(|r| r.configurable)
                            .map(|r| r.name);
                        p.help = Some(match crate::core::suggest::closest(name, names) {
                            Some(s) => format!("did you mean `{s}`? write `@{ALLOW}(\"{s}: why\")`"),
                            None => format!("write `@{ALLOW}(\"rule-name: why\")`; `actas check --explain RULE` lists what each rule finds"),
                        });
                        problems.push(p);
                    }
                }
            }
        }
        (out, problems)
    }

    /// The policy and schema rules that are on.
    /// The policy and schema rules that are on; the guarantees asked of `prover` when there
    /// is one.
    pub fn lint(
        &self,
        ws: &Workspace,
        on: &(dyn Fn(RuleId) -> bool + Sync),
        prover: Option<&Prover<'_>>,
    ) -> Vec<Finding> {
        let engine = &ws.engine;
        let mut out = Vec::new();
        let forbids: Vec<&Body<'_>> = self
            .bodies
            .iter()
            .filter(|b| b.ast.effect() == Effect::Forbid && !b.is_template)
            .collect();
        // Permits in parallel (each may wait on solver queries); findings in the permits' order.
        let permits: Vec<&Body<'_>> = self
            .bodies
            .iter()
            .filter(|b| b.ast.effect() == Effect::Permit)
            .collect();
        let found: Vec<Vec<Finding>> = permits
            .par_iter()
            .map(|body| {
                let mut out = Vec::new();
                // Actions its scope names and under which Cedar's typechecker finds it can hold.
                let possible = possible_actions(engine, body.ast);
                let actions: Vec<&EntityUid> = engine
                    .actions
                    .iter()
                    .filter(|a| engine.scope_covers_action(body.ast.action_constraint(), a))
                    .filter(|a| possible.contains(&a.to_string()))
                    .collect();
                if actions.is_empty() {
                    return out;
                }
                let permit = Permit {
                    engine,
                    body,
                    actions,
                    forbids: &forbids,
                };
                self.bound_rules(ws, &permit, on, prover, &mut out);
                if on(RuleId::OpenImpersonation) {
                    self.open_rule(&permit, &mut out);
                }
                if on(RuleId::HumanWithoutMfa) {
                    self.mfa_rule(ws, &permit, prover, &mut out);
                }
                out
            })
            .collect();
        out.extend(found.into_iter().flatten());
        if on(RuleId::InvisibleImpersonator) {
            out.extend(super::schema_rules::invisible_impersonator(ws));
        }
        out
    }

    /// unbounded-impersonation and unjustified-impersonation.
    fn bound_rules(
        &self,
        ws: &Workspace,
        p: &Permit<'_>,
        on: &(dyn Fn(RuleId) -> bool + Sync),
        prover: Option<&Prover<'_>>,
        out: &mut Vec<Finding>,
    ) {
        let engine = p.engine;
        let s = &ws.lint;
        let kind = p.kind();
        for (rule, attr, want, guarantee) in [
            (
                RuleId::UnboundedImpersonation,
                &s.duration_attribute,
                Want::UpperBound(&s.duration_attribute),
                Guarantee::Bound(&s.duration_attribute),
            ),
            (
                RuleId::UnjustifiedImpersonation,
                &s.justification_attribute,
                Want::Justified(&s.justification_attribute),
                Guarantee::Justified(&s.justification_attribute),
            ),
        ] {
            if !on(rule) {
                continue;
            }
            let mut basis = Basis::default();
            let open: Vec<&EntityUid> = p
                .actions
                .iter()
                .copied()
                .filter(|a| {
                    basis.broken(
                        || !(p.holds(want) || p.guarded(want, a, None)),
                        prover.map(|pr| move || pr.ask(&p.body.id, a, guarantee, None)),
                    )
                })
                .collect();
            if open.is_empty() {
                continue;
            }
            let what = if rule == RuleId::UnboundedImpersonation {
                format!("without bounding `context.{attr}`")
            } else {
                format!("without requiring a justification in `context.{attr}`")
            };
            let undeclared: Vec<String> = open
                .iter()
                .filter(|a| !declares(engine, a, attr))
                .map(|a| format!("`{a}`"))
                .collect();
            let help = if !undeclared.is_empty() {
                format!(
                    "the context of {} does not declare `{attr}`: declare it and test it, or name the attribute with `lint.{}` in actas.yaml",
                    undeclared.join(", "),
                    if rule == RuleId::UnboundedImpersonation { "duration_attribute" } else { "justification_attribute" }
                )
            } else if rule == RuleId::UnboundedImpersonation {
                format!("add `&& context.{attr} <= N` to the condition, or forbid the action `when {{ context.{attr} > N }}`")
            } else {
                format!("add `&& context.{attr} like \"INC-*\"` (or your ticket pattern) to the condition")
            };
            out.push(self.finding(
                rule,
                &p.body.id,
                format!(
                    "{kind} `{}` allows impersonation ({}) {what}{}",
                    p.body.id,
                    list(&open),
                    basis.words()
                ),
                help,
            ));
        }
    }

    /// open-impersonation.
    fn open_rule(&self, p: &Permit<'_>, out: &mut Vec<Finding>) {
        let kind = p.kind();
        let open = |scope: &PrincipalOrResourceConstraint, var| {
            matches!(scope, PrincipalOrResourceConstraint::Any) && !p.holds(Want::Mentions(var))
        };
        let who = open(p.body.ast.principal_constraint().as_inner(), Var::Principal);
        let whom = open(p.body.ast.resource_constraint().as_inner(), Var::Resource);
        if who || whom {
            let text = match (who, whom) {
                (true, true) => "any principal impersonate any account",
                (true, false) => "any principal impersonate",
                _ => "its principals impersonate any account",
            };
            out.push(self.finding(
                RuleId::OpenImpersonation,
                &p.body.id,
                format!("{kind} `{}` lets {text} ({})", p.body.id, list(&p.actions)),
                "narrow the scope (`principal in Group::\"…\"`, `resource in Project::\"…\"`, `is`), or test the principal or resource in the condition".into(),
            ));
        }
    }

    /// human-without-mfa.
    fn mfa_rule(
        &self,
        ws: &Workspace,
        p: &Permit<'_>,
        prover: Option<&Prover<'_>>,
        out: &mut Vec<Finding>,
    ) {
        let s = &ws.lint;
        let kind = p.kind();
        let want = Want::True(&s.mfa_attribute);
        for action in &p.actions {
            let humans = self.humans(ws, p.body, action);
            if humans.is_empty() {
                continue;
            }
            let types: Vec<String> = {
                let mut t: Vec<String> = humans.iter().map(|h| h.type_name().to_string()).collect();
                t.sort();
                t.dedup();
                t
            };
            let mut basis = Basis::default();
            let ask = |pr: &Prover<'_>| {
                pr.ask(
                    &p.body.id,
                    action,
                    Guarantee::Mfa(&s.mfa_attribute),
                    Some(&types),
                )
            };
            let broken = basis.broken(
                || !(p.holds(want) || p.guarded(want, action, Some(&types))),
                prover.map(|pr| move || ask(pr)),
            );
            if !broken {
                continue;
            }
            out.push(self.finding(
                RuleId::HumanWithoutMfa,
                &p.body.id,
                format!(
                    "{kind} `{}` lets people impersonate (`{action}`) without `context.{}`: {}{}",
                    p.body.id,
                    s.mfa_attribute,
                    first_few(&humans),
                    basis.words()
                ),
                format!("add `&& context.{}` to the condition, or `forbid (principal is {}, action == {action}, resource) unless {{ context.{} }};`", s.mfa_attribute, types.join(" | "), s.mfa_attribute),
            ));
        }
    }

    /// The inventory's people this permit may apply to for `action` (through its scope, or
    /// through its links' principals for a template).
    fn humans(&self, ws: &Workspace, b: &Body<'_>, action: &EntityUid) -> Vec<EntityUid> {
        let engine = &ws.engine;
        let Some(info) = engine.action(action) else {
            return Vec::new();
        };
        let types: Vec<_> = info
            .principals
            .iter()
            .filter(|t| ws.human_types.contains(&t.to_string()))
            .cloned()
            .collect();
        let scope = b.ast.principal_constraint().as_inner();
        // What the scope compares the principal with: its entity, or for a slot the principals
        // the template's links bind; nothing for an open scope or a bare `is`.
        let targets: Option<Vec<EntityUid>> = match entity_ref(scope) {
            None => None,
            Some(EntityReference::EUID(e)) => Some(to_api(e).into_iter().collect()),
            Some(EntityReference::Slot(_)) => Some(
                self.links
                    .iter()
                    .filter(|l| l.template == b.id)
                    .filter_map(|l| l.principal.clone())
                    .collect(),
            ),
        };
        let is_eq = matches!(scope, PrincipalOrResourceConstraint::Eq(_));
        let type_ok = |p: &EntityUid| match scope {
            PrincipalOrResourceConstraint::Is(t) | PrincipalOrResourceConstraint::IsIn(t, _) => {
                p.type_name().to_string() == t.to_string()
            }
            _ => true,
        };
        engine
            .inventory_of(&types)
            .into_iter()
            .filter(|p| type_ok(p))
            .filter(|p| match &targets {
                None => true,
                Some(targets) => targets
                    .iter()
                    .any(|t| p == t || (!is_eq && engine.entities.is_ancestor_of(t, p))),
            })
            .collect()
    }

    fn finding(&self, rule: RuleId, id: &str, message: String, help: String) -> Finding {
        let mut f = Finding::new(rule.rule(), self.at(id, message).with_help(help));
        f.policies = vec![PolicyId::new(id)];
        f
    }
}

fn entity_ref(c: &PrincipalOrResourceConstraint) -> Option<&EntityReference> {
    match c {
        PrincipalOrResourceConstraint::In(r)
        | PrincipalOrResourceConstraint::Eq(r)
        | PrincipalOrResourceConstraint::IsIn(_, r) => Some(r),
        _ => None,
    }
}

/// The actions (as uid strings) of the request environments where Cedar's typechecker (strict
/// mode) does not find the policy always false: `resource is Vault` cannot hold for an action
/// that applies to `Robot` resources only, so such a permit allows no request of it. An
/// environment with type errors counts as possible (the validator reports those); a template
/// counts under every binding of its slots.
fn possible_actions(engine: &Engine, t: &ast::Template) -> std::collections::BTreeSet<String> {
    use cedar_policy_core::validator::typecheck::{PolicyCheck, Typechecker};
    use cedar_policy_core::validator::{ValidationMode, ValidatorSchema};
    let schema: &ValidatorSchema = engine.schema.as_ref();
    let checker = Typechecker::new(schema, ValidationMode::Strict);
    checker
        .typecheck_by_request_env(t)
        .filter(|(_, check)| !matches!(check, PolicyCheck::Irrelevant(..)))
        .filter_map(|(env, _)| env.action_entity_uid().map(ToString::to_string))
        .collect()
}

/// Whether a forbid's principal scope covers every principal (`humans: None`) or every person
/// of the given types.
fn covers_principals(forbid: &ast::Template, humans: Option<&[String]>) -> bool {
    match (forbid.principal_constraint().as_inner(), humans) {
        (PrincipalOrResourceConstraint::Any, _) => true,
        (PrincipalOrResourceConstraint::Is(t), Some(types)) => {
            types.iter().all(|h| *h == t.to_string())
        }
        _ => false,
    }
}

fn declares(engine: &Engine, action: &EntityUid, path: &str) -> bool {
    let first = path.split('.').next().unwrap_or(path);
    engine
        .action(action)
        .is_some_and(|i| i.context.contains_key(first))
}

fn list(actions: &[&EntityUid]) -> String {
    actions
        .iter()
        .map(|a| format!("`{a}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
