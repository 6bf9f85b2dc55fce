//! unbounded-impersonation, unjustified-impersonation and human-without-mfa asked of the solver
//! (`actas check` with cvc5 present, unless `--no-solver`): for one permit (a template: all its
//! links) and one impersonation action, is there a request, for any entity data the schema
//! allows, that the permit allows, no forbid denies, and that breaks the guarantee? One small
//! query per request environment, so every spelling of a bound (`< 61`, `!(> 60)`, `60 >=`, a
//! forbid elsewhere) counts, and a scope the action cannot satisfy never reports. The rules ask
//! only about what their reading of the text would report (`policy_rules::Basis`).
//!
//! Before a query, a few requests of the inventory are put to Cedar with the guarantee broken
//! (`witness.rs`): one Cedar allows answers the question without the solver.
//!
//! A guarantee broken is a request with the attribute missing (when optional) or with a value
//! no bound allows (`> 2^62`), an empty justification, or MFA false. An attribute of another type
//! than the rule expects, or a query without an answer, falls back to reading the policy text.

use std::sync::Mutex;

use cedar_policy::{EntityUid, Policy, PolicyId, PolicySet};
use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::Value;

use super::witness::{Broken, Inventory, Witnesses};
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
    /// Broken, with a request of the inventory that Cedar allows (see `witness.rs`).
    Shown(String),
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
    /// The entities a forbid names (uid text): kept in a question's key (see `question`).
    forbid_literals: FxHashSet<String>,
    /// Answers by question and request environment (see `question`): `None` holds, else an
    /// example that breaks it. Permits of one shape are asked once.
    answers: Mutex<FxHashMap<String, Option<String>>>,
    /// The inventory by type, for witnesses (built at the first question).
    inventory: std::sync::OnceLock<Inventory>,
}

/// The links of one permit tried for a witness, at most (a template may have thousands).
const WITNESS_LINKS: usize = 64;

impl<'a> Prover<'a> {
    /// A prover when cvc5 is found; `None` otherwise (the rules read the policy text).
    pub(super) fn new(ws: &'a Workspace) -> Option<Self> {
        let solver = Solver::find().ok()?;
        let statics = crate::proof::without_links(&ws.engine.policies).ok()?;
        let forbids = statics
            .policies()
            .filter(|p| p.effect() == cedar_policy::Effect::Forbid)
            .cloned()
            .collect::<Vec<Policy>>();
        let mut forbid_literals = FxHashSet::default();
        for f in &forbids {
            let mut json = f.to_json().ok()?;
            literals(&mut json, &mut |uid| {
                forbid_literals.insert(uid);
                None
            });
        }
        Some(Self {
            ws,
            solver,
            sessions: Mutex::new(Vec::new()),
            forbids,
            forbid_literals,
            answers: Mutex::new(FxHashMap::default()),
            inventory: std::sync::OnceLock::new(),
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
        let Some(own) = self.own_permits(id) else {
            return Answer::Unknown;
        };
        let value = match guarantee {
            Guarantee::Bound(_) if !declared.required => None,
            Guarantee::Bound(_) => Some(Value::from(4_611_686_018_427_387_904_i64)),
            Guarantee::Justified(_) => Some(Value::from("")),
            Guarantee::Mfa(_) => Some(Value::Bool(false)),
        };
        let broken_by = Broken { attr, value };
        if let Some(example) = self.witness(&own, action, &broken_by, principal_types) {
            return Answer::Shown(example);
        }
        let Question {
            key: question,
            renamed,
            representatives,
        } = question(&own, action, guarantee, &self.forbid_literals);
        let Some(policies) = self.with_forbids(&representatives, action) else {
            return Answer::Unknown;
        };
        let text = format!("permit (principal, action == {action}, resource) when {{ {broken} }};");
        let Ok(violation) = Policy::parse(Some(PolicyId::new("broken")), &text)
            .map_err(|e| e.to_string())
            .and_then(|p| PolicySet::from_policies([p]).map_err(|e| e.to_string()))
        else {
            return Answer::Unknown;
        };
        // An answer found for a permit of the same shape holds for this one, but an example
        // naming an entity either permit renames would not be this permit's.
        let reusable = |found: &Option<String>| {
            found
                .as_ref()
                .is_none_or(|example| !renamed.iter().any(|r| example.contains(r.as_str())))
        };
        // In a stable order, so the example found is the same from run to run.
        let scope = crate::proof::Scope {
            actions: vec![action.clone()],
            ..Default::default()
        };
        let envs = crate::proof::environments(engine, &scope)
            .into_iter()
            .filter(|e| principal_types.is_none_or(|t| t.contains(&e.principal().to_string())));
        let mut session = None;
        for env in envs {
            let key = format!("{} {} {question}", env.principal(), env.resource());
            let known = self.answers.lock().ok().and_then(|a| a.get(&key).cloned());
            let found = match known.filter(|k| reusable(k)) {
                Some(found) => found,
                None => {
                    if session.is_none() {
                        let idle = self.sessions.lock().ok().and_then(|mut s| s.pop());
                        session = idle.or_else(|| Session::new(self.solver.clone(), PER_QUERY));
                    }
                    let Some(asked) = session
                        .as_mut()
                        .and_then(|s| s.overlap(&engine.schema, &policies, &violation, &env))
                    else {
                        return self.done(session, Answer::Unknown);
                    };
                    let found = asked.map(|model| example(&model, attr));
                    if reusable(&found) {
                        if let Ok(mut answers) = self.answers.lock() {
                            answers.insert(key, found.clone());
                        }
                    }
                    found
                }
            };
            if let Some(example) = found {
                return self.done(session, Answer::Broken(example));
            }
        }
        self.done(session, Answer::Holds)
    }

    /// A request of the inventory that a link of the permit (`own`) allows with the guarantee
    /// broken, no forbid denying it (see `witness.rs`).
    fn witness(
        &self,
        own: &[(Policy, Value)],
        action: &EntityUid,
        broken: &Broken<'_>,
        principal_types: Option<&[String]>,
    ) -> Option<String> {
        let engine = &self.ws.engine;
        let inventory = self.inventory.get_or_init(|| Inventory::new(engine));
        let empty = serde_json::Map::new();
        let mut contexts: Vec<&serde_json::Map<String, Value>> =
            self.ws.profiles.values().collect();
        if contexts.is_empty() {
            contexts.push(&empty);
        }
        let witnesses = Witnesses::new(
            engine,
            inventory,
            &contexts,
            action,
            broken,
            principal_types,
        )?;
        own.iter().take(WITNESS_LINKS).find_map(|(link, _)| {
            let policies = self.with_forbids(&[link], action)?;
            witnesses.find(
                &policies,
                (&link.principal_constraint(), &link.resource_constraint()),
            )
        })
    }

    /// `answer`, the session it used (if any) back with the idle ones.
    fn done(&self, session: Option<Session>, answer: Answer) -> Answer {
        if let (Some(session), Ok(mut idle)) = (session, self.sessions.lock()) {
            idle.push(session);
        }
        answer
    }

    /// The permit `id` (a template: its links) as static policies, each with its JSON form.
    fn own_permits(&self, id: &str) -> Option<Vec<(Policy, Value)>> {
        let mut own = Vec::new();
        for p in self.ws.engine.policies.policies() {
            let named = crate::core::ids::raw(p.id()) == id
                || p.template_id()
                    .is_some_and(|t| crate::core::ids::raw(t) == id);
            if named && p.effect() == cedar_policy::Effect::Permit {
                let json = p.to_json().ok()?;
                let policy = Policy::from_json(Some(p.id().clone()), json.clone()).ok()?;
                own.push((policy, json));
            }
        }
        Some(own)
    }

    /// `permits` and every forbid whose scope can take `action`, as one set (a forbid on
    /// other actions cannot deny these requests, and the solver need not read it).
    fn with_forbids(&self, permits: &[&Policy], action: &EntityUid) -> Option<PolicySet> {
        let mut set = PolicySet::new();
        for p in permits {
            set.add((*p).clone()).ok()?;
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

/// A permit's question for the solver, up to the names of entities (see [`question`]).
struct Question<'p> {
    key: String,
    /// The entities renamed in the key (uid text).
    renamed: Vec<String>,
    /// One of the permit's policies per distinct key: a template's links that differ only in
    /// such names ask the same of the solver, and one of them answers for all.
    representatives: Vec<&'p Policy>,
}

/// The question "does this permit keep `guarantee` for `action`" as a key, equal for permits
/// that differ only in the names of entities not in `keep` (those the forbids name).
///
/// The solver ranges over every entity data, where an entity's id matters only by being equal
/// (or not) to another named one: renaming entities only the permit names, within their type
/// (a bijection that fixes the forbids' entities and the actions), maps each request and
/// entity data that break one permit onto ones that break the other. So the grants of many
/// teams to many folders, written alike, are asked once. A request breaks a template when it
/// breaks one of its links, each on its own: each link is renamed on its own, and the links
/// equal after renaming are asked as one (4,500 role bindings of one template were one query
/// of 4,500 policies).
fn question<'p>(
    own: &'p [(Policy, Value)],
    action: &EntityUid,
    guarantee: Guarantee<'_>,
    keep: &FxHashSet<String>,
) -> Question<'p> {
    let mut all_renamed: Vec<String> = Vec::new();
    let mut keys: std::collections::BTreeMap<String, &'p Policy> = Default::default();
    for (p, json) in own {
        let mut renamed: Vec<String> = Vec::new();
        let mut json = json.clone();
        if let Value::Object(m) = &mut json {
            m.remove("annotations");
        }
        literals(&mut json, &mut |uid| {
            if keep.contains(&uid) || is_action(&uid) {
                return None;
            }
            let n = match renamed.iter().position(|r| *r == uid) {
                Some(n) => n,
                None => {
                    renamed.push(uid);
                    renamed.len() - 1
                }
            };
            let ty = renamed[n].split_once("::\"").map_or("", |(t, _)| t);
            Some(serde_json::json!({ "renamed": n, "type": ty }))
        });
        all_renamed.extend(renamed);
        keys.entry(json.to_string()).or_insert(p);
    }
    all_renamed.sort();
    all_renamed.dedup();
    let mut key = format!("{action} {guarantee:?}");
    for k in keys.keys() {
        key.push(' ');
        key.push_str(k);
    }
    Question {
        key,
        renamed: all_renamed,
        representatives: keys.into_values().collect(),
    }
}

/// Calls `f` with every entity uid (as uid text) in a policy's JSON form, and replaces the
/// uid by what `f` returns, if anything.
fn literals(v: &mut Value, f: &mut impl FnMut(String) -> Option<Value>) {
    let is_uid = v.as_object().is_some_and(|m| {
        m.len() == 2 && m.get("type").is_some_and(Value::is_string) && m.contains_key("id")
    });
    if let (true, Ok(uid)) = (is_uid, crate::core::uid::parse_uid(v)) {
        if let Some(new) = f(uid.to_string()) {
            *v = new;
        }
        return;
    }
    match v {
        Value::Object(m) => m.values_mut().for_each(|x| literals(x, f)),
        Value::Array(a) => a.iter_mut().for_each(|x| literals(x, f)),
        _ => {}
    }
}

/// Whether uid text names an action (`Action::"…"`, `NS::Action::"…"`).
fn is_action(uid: &str) -> bool {
    uid.split("::\"")
        .next()
        .is_some_and(|t| t == "Action" || t.ends_with("::Action"))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn keyed(policy: &str, keep: &[&str]) -> (String, Vec<String>) {
        let p = Policy::parse(None, policy).unwrap();
        let p = [(p.clone(), p.to_json().unwrap())];
        let keep = keep.iter().map(ToString::to_string).collect();
        let action = r#"Action::"impersonate""#.parse().unwrap();
        let q = question(&p, &action, Guarantee::Mfa("mfa"), &keep);
        (q.key, q.renamed)
    }

    #[test]
    fn permits_that_differ_in_entities_only_they_name_are_one_question() {
        let a = keyed(
            r#"@id("a") permit (principal in Team::"t1", action == Action::"impersonate", resource in Folder::"f1") when { principal in Team::"t2" };"#,
            &[],
        );
        let b = keyed(
            r#"@id("b") permit (principal in Team::"t3", action == Action::"impersonate", resource in Folder::"f9") when { principal in Team::"t4" };"#,
            &[],
        );
        assert_eq!(a.0, b.0);
        assert_eq!(a.1, [r#"Folder::"f1""#, r#"Team::"t1""#, r#"Team::"t2""#]);
        // The same entity twice is not two different ones.
        let c = keyed(
            r#"permit (principal in Team::"t3", action == Action::"impersonate", resource in Folder::"f9") when { principal in Team::"t3" };"#,
            &[],
        );
        assert_ne!(a.0, c.0);
    }

    #[test]
    fn entities_a_forbid_names_and_other_conditions_keep_questions_apart() {
        let policy = |team: &str| {
            format!(
                r#"permit (principal in Team::"{team}", action == Action::"impersonate", resource);"#
            )
        };
        let keep = [r#"Team::"t1""#];
        assert_ne!(keyed(&policy("t1"), &keep).0, keyed(&policy("t2"), &keep).0);
        assert_eq!(keyed(&policy("t2"), &keep).0, keyed(&policy("t3"), &keep).0);
        let bounded = keyed(
            r#"permit (principal in Team::"t2", action == Action::"impersonate", resource) when { context.hours < 3 };"#,
            &keep,
        );
        assert_ne!(bounded.0, keyed(&policy("t2"), &keep).0);
        // Types are kept: a folder and a team are not interchangeable.
        let folder = keyed(
            r#"permit (principal in Folder::"t2", action == Action::"impersonate", resource);"#,
            &keep,
        );
        assert_ne!(folder.0, keyed(&policy("t2"), &keep).0);
    }

    #[test]
    fn links_equal_up_to_renaming_are_asked_once() {
        let mut set: PolicySet = r#"@id("role") permit (principal in ?principal, action == Action::"impersonate", resource in ?resource) when { context.mfa };"#.parse().unwrap();
        let template = set.templates().next().unwrap().id().clone();
        for (n, (p, r)) in [
            (r#"Team::"t1""#, r#"Folder::"f1""#),
            (r#"Team::"t3""#, r#"Folder::"f3""#),
            (r#"Team::"t2""#, r#"Folder::"f2""#),
            (r#"Person::"p1""#, r#"Folder::"f1""#),
        ]
        .into_iter()
        .enumerate()
        {
            let slots = [
                (cedar_policy::SlotId::principal(), p.parse().unwrap()),
                (cedar_policy::SlotId::resource(), r.parse().unwrap()),
            ];
            set.link(
                template.clone(),
                PolicyId::new(format!("l{n}")),
                slots.into(),
            )
            .unwrap();
        }
        let own: Vec<(Policy, Value)> = set
            .policies()
            .map(|p| {
                let json = p.to_json().unwrap();
                (
                    Policy::from_json(Some(p.id().clone()), json.clone()).unwrap(),
                    json,
                )
            })
            .collect();
        let keep = [r#"Team::"t2""#.to_string()].into_iter().collect();
        let action = r#"Action::"impersonate""#.parse().unwrap();
        let q = question(&own, &action, Guarantee::Mfa("mfa"), &keep);
        let mut ids: Vec<&str> = q
            .representatives
            .iter()
            .map(|p| crate::core::ids::raw(p.id()))
            .collect();
        ids.sort();
        // l0 and l1 differ only in names no forbid uses; t2 is a forbid's; p1 is a person.
        assert_eq!(ids.len(), 3, "{ids:?}");
        assert!(ids.contains(&"l2") && ids.contains(&"l3"), "{ids:?}");
    }
}
