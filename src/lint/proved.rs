//! unbounded-impersonation, unjustified-impersonation and human-without-mfa asked of the solver
//! (`actas check` with cvc5 present, unless `--no-solver`): for one permit (a template: all its
//! links) and one impersonation action, is there a request, for any entity data the schema
//! allows, that the permit allows, no forbid denies, and that breaks the guarantee? One small
//! query per request environment, so every spelling of a bound (`< 61`, `!(> 60)`, `60 >=`, a
//! forbid elsewhere) counts, and a scope the action cannot satisfy never reports. The rules ask
//! only about what their reading of the text would report (`policy_rules::Basis`).
//!
//! A guarantee broken is a request with the attribute missing (when optional) or with a value
//! no bound allows (`> 2^62`), an empty justification, or MFA false. An attribute of another type
//! than the rule expects, or a query without an answer, falls back to reading the policy text.

use std::sync::Mutex;

use cedar_policy::{EntityUid, Policy, PolicyId, PolicySet};
use serde_json::Value;

use crate::proof::{Session, Solver};
use crate::workspace::Workspace;

/// The limit of one lint query: lint queries are small (one permit and the forbids).
const PER_QUERY: std::time::Duration = std::time::Duration::from_secs(10);

/// What a rule wants of the context, by attribute name.
#[derive(Debug, Clone, Copy)]
pub(super) enum Guarantee<'s> {
    Bound(&'s str),
    Justified(&'s str),
    Mfa(&'s str),
}

/// The solver's answer for one permit and action.
#[derive(Debug, Clone)]
pub(super) enum Answer {
    Holds,
    /// Broken, with what the solver found (an example, in words).
    Broken(String),
    /// No answer: read the policy text instead.
    Unknown,
}

pub(super) struct Prover<'a> {
    ws: &'a Workspace,
    solver: Solver,
    /// Idle solver sessions: each worker takes one (or starts one) for a question.
    sessions: Mutex<Vec<Session>>,
    /// Every forbid, links included, as static policies.
    forbids: Vec<Policy>,
}

impl<'a> Prover<'a> {
    /// A prover when cvc5 is found; `None` otherwise (the rules read the policy text).
    pub(super) fn new(ws: &'a Workspace) -> Option<Self> {
        let solver = Solver::find().ok()?;
        let statics = crate::proof::without_links(&ws.engine.policies).ok()?;
        let forbids = statics
            .policies()
            .filter(|p| p.effect() == cedar_policy::Effect::Forbid)
            .cloned()
            .collect();
        Some(Self {
            ws,
            solver,
            sessions: Mutex::new(Vec::new()),
            forbids,
        })
    }

    /// Whether permit `id` (a template: all its links) keeps `guarantee` for `action`, for the
    /// principal types given (all of the action's when `None`).
    pub(super) fn ask(
        &self,
        id: &str,
        action: &EntityUid,
        guarantee: Guarantee<'_>,
        principal_types: Option<&[String]>,
    ) -> Answer {
        let engine = &self.ws.engine;
        let Some(info) = engine.action(action) else {
            return Answer::Unknown;
        };
        let (attr, kind) = match guarantee {
            Guarantee::Bound(a) => (a, "Long"),
            Guarantee::Justified(a) => (a, "String"),
            Guarantee::Mfa(a) => (a, "Boolean"),
        };
        let Some(declared) = info.context.get(attr) else {
            return Answer::Broken(format!(
                "the context of `{action}` does not declare `{attr}`"
            ));
        };
        if !is_type(&declared.ty, kind) {
            return Answer::Unknown;
        }
        let broken = match guarantee {
            Guarantee::Bound(a) => format!("context.{a} > 4611686018427387903"),
            Guarantee::Justified(a) => format!("context.{a} == \"\""),
            Guarantee::Mfa(a) => format!("!context.{a}"),
        };
        let broken = if declared.required {
            broken
        } else {
            format!("!(context has {attr}) || {broken}")
        };
        let Some(policies) = self.permit_with_forbids(id, action) else {
            return Answer::Unknown;
        };
        let text = format!("permit (principal, action == {action}, resource) when {{ {broken} }};");
        let Ok(violation) = Policy::parse(Some(PolicyId::new("broken")), &text)
            .map_err(|e| e.to_string())
            .and_then(|p| PolicySet::from_policies([p]).map_err(|e| e.to_string()))
        else {
            return Answer::Unknown;
        };
        let envs = engine.schema.request_envs().filter(|e| {
            e.action() == action
                && principal_types.is_none_or(|t| t.contains(&e.principal().to_string()))
        });
        let idle = self.sessions.lock().ok().and_then(|mut s| s.pop());
        let Some(mut session) = idle.or_else(|| Session::new(self.solver.clone(), PER_QUERY))
        else {
            return Answer::Unknown;
        };
        let mut answer = Answer::Holds;
        for env in envs {
            match session.overlap(&engine.schema, &policies, &violation, &env) {
                Some(None) => {}
                Some(Some(model)) => {
                    answer = Answer::Broken(example(&model, attr));
                    break;
                }
                None => {
                    answer = Answer::Unknown;
                    break;
                }
            }
        }
        if let Ok(mut idle) = self.sessions.lock() {
            idle.push(session);
        }
        answer
    }

    /// The permit (a template's links) and every forbid whose scope can take `action`, as one
    /// set of static policies (a forbid on other actions cannot deny these requests, and the
    /// solver need not read it).
    fn permit_with_forbids(&self, id: &str, action: &EntityUid) -> Option<PolicySet> {
        let mut set = PolicySet::new();
        for p in self.ws.engine.policies.policies() {
            let own = crate::core::ids::raw(p.id()) == id
                || p.template_id()
                    .is_some_and(|t| crate::core::ids::raw(t) == id);
            if own && p.effect() == cedar_policy::Effect::Permit {
                let json = p.to_json().ok()?;
                set.add(Policy::from_json(Some(p.id().clone()), json).ok()?)
                    .ok()?;
            }
        }
        let engine = &self.ws.engine;
        let covers =
            |named: &EntityUid| named == action || engine.entities.is_ancestor_of(named, action);
        for f in &self.forbids {
            let takes = match f.action_constraint() {
                cedar_policy::ActionConstraint::Any => true,
                cedar_policy::ActionConstraint::Eq(a) => covers(&a),
                cedar_policy::ActionConstraint::In(list) => list.iter().any(covers),
            };
            if takes {
                set.add(f.clone()).ok()?;
            }
        }
        Some(set)
    }
}

/// Whether a schema type (JSON form) is the primitive `kind`.
fn is_type(ty: &Value, kind: &str) -> bool {
    let named =
        |v: &Value| v.as_str() == Some(kind) || (kind == "Boolean" && v.as_str() == Some("Bool"));
    ty.get("type").is_some_and(named)
        || (ty.get("type").and_then(Value::as_str) == Some("EntityOrCommon")
            && ty.get("name").is_some_and(named))
}

/// What the solver found, in words: the request and the attribute's value.
fn example(model: &cedar_policy_symcc::Env, attr: &str) -> String {
    let request = &model.request;
    let who = match (request.principal(), request.resource()) {
        (Some(p), Some(r)) => format!("{p} → {r}"),
        _ => "a request".into(),
    };
    let value = request
        .context()
        .and_then(|c| c.to_json_value().ok())
        .and_then(|c| c.get(attr).cloned());
    match value {
        Some(v) => format!("{who} with `context.{attr}` = {v}"),
        None => format!("{who} without `context.{attr}`"),
    }
}
