//! Condition probes, for `actas test --coverage`: whether each policy's condition, and each of
//! its `when`/`unless` clauses, was ever seen true and ever seen false.
//!
//! A decision says which policies were satisfied, not which conditions were false, so each
//! policy (static or link) gets *probe* policies: its scope with one question as the condition.
//! - whole, true: the policy's own conditions (satisfied when the policy is);
//! - whole, false: `when { !(c₁ && !u₂ && …) }` (its scope matched and its condition was false);
//! - per clause, when there are two or more: `when { body }` and `when { !(body) }`.
//!   (With one clause the clause's answers are the whole condition's.)
//!
//! A probe that errors is neither true nor false, as a policy that errors is not satisfied.
//! Probes are evaluated as permits, all of a request's in one Cedar call, against only the
//! probes whose scope matches the request (the [`Slicer`]) and that are not yet seen: a probe
//! is a yes/no fact about the whole suite, so once seen it is never asked again and a long
//! suite soon costs almost nothing more.

use std::sync::atomic::{AtomicU64, Ordering};

use cedar_policy::{Authorizer, Entities, Policy, PolicyId as CedarId, PolicySet};
use serde_json::{json, Value};

use super::slice::{words, Slicer};
use super::Prepared;

/// What one probe asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Question {
    /// The policy's whole condition is true (`true`) or false (`false`).
    Whole(bool),
    /// Clause `k` (in written order) is true or false.
    Clause(usize, bool),
}

/// The probes of every policy of an engine's set, with what has been seen.
pub struct Probes {
    slicer: Slicer,
    /// Per probe: the policy's index in the engine's slicer order, and its question.
    asks: Vec<(usize, Question)>,
    /// Per policy: its clauses' kinds (`true` for `when`), or why none could be probed.
    clauses: Vec<Result<Vec<bool>, String>>,
    seen: Vec<AtomicU64>,
    authorizer: Authorizer,
}

/// What the probes saw of one policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    pub whole_true: bool,
    pub whole_false: bool,
    /// Per clause: (is `when`, seen true, seen false).
    pub clauses: Vec<(bool, bool, bool)>,
    /// Why the conditions could not be probed (the policy's JSON form failed).
    pub unprobed: Option<String>,
}

impl Probes {
    /// Probes for each policy of `slicer` (the engine's, in its order).
    pub fn new(policies: &Slicer) -> Self {
        let mut set = PolicySet::new();
        let mut asks = Vec::new();
        let mut clauses = Vec::with_capacity(policies.len());
        for i in 0..policies.len() {
            match probes_of(policies.policy(i)) {
                Ok((kinds, probes)) => {
                    for (question, policy) in probes {
                        let id = CedarId::new(asks.len().to_string());
                        // Ids are fresh numbers, so adding cannot clash.
                        if set.add(policy.new_id(id)).is_ok() {
                            asks.push((i, question));
                        }
                    }
                    clauses.push(Ok(kinds));
                }
                Err(why) => clauses.push(Err(why)),
            }
        }
        let seen = (0..words(asks.len())).map(|_| AtomicU64::new(0)).collect();
        Self {
            slicer: Slicer::new(&set),
            asks,
            clauses,
            seen,
            authorizer: Authorizer::new(),
        }
    }

    /// Evaluates the probes of `request` not seen yet.
    pub fn observe(&self, entities: &Entities, request: &Prepared) {
        let mut mask = self.slicer.scope_mask(
            entities,
            &request.principal,
            &request.action,
            &request.resource,
        );
        let mut any = false;
        for (m, s) in mask.iter_mut().zip(&self.seen) {
            *m &= !s.load(Ordering::Relaxed);
            any |= *m != 0;
        }
        if !any {
            return;
        }
        let set = self.slicer.slice_of(mask);
        let response = self
            .authorizer
            .is_authorized(&request.request, &set, entities);
        for id in response.diagnostics().reason() {
            if let Ok(k) = AsRef::<str>::as_ref(id).parse::<usize>() {
                self.seen[k / 64].fetch_or(1 << (k % 64), Ordering::Relaxed);
            }
        }
    }

    /// What was seen, per policy in the engine's slicer order.
    pub fn seen(&self) -> Vec<Seen> {
        let mut out: Vec<Seen> = self
            .clauses
            .iter()
            .map(|c| match c {
                Ok(kinds) => Seen {
                    clauses: kinds.iter().map(|&when| (when, false, false)).collect(),
                    ..Seen::default()
                },
                Err(why) => Seen {
                    unprobed: Some(why.clone()),
                    ..Seen::default()
                },
            })
            .collect();
        let mut bits = vec![0u64; self.seen.len()];
        for (b, s) in bits.iter_mut().zip(&self.seen) {
            *b = s.load(Ordering::Relaxed);
        }
        for (k, &(i, question)) in self.asks.iter().enumerate() {
            if bits[k / 64] & (1 << (k % 64)) == 0 {
                continue;
            }
            let s = &mut out[i];
            match question {
                Question::Whole(true) => s.whole_true = true,
                Question::Whole(false) => s.whole_false = true,
                Question::Clause(c, true) => s.clauses[c].1 = true,
                Question::Clause(c, false) => s.clauses[c].2 = true,
            }
        }
        for s in &mut out {
            // One clause: its answers are the whole condition's (an `unless` clause's body is
            // true exactly when the condition is false).
            if let [(when, t, f)] = s.clauses.as_mut_slice() {
                (*t, *f) = if *when {
                    (s.whole_true, s.whole_false)
                } else {
                    (s.whole_false, s.whole_true)
                };
            }
        }
        out
    }
}

/// A policy's clause kinds (`true` for `when`) and its probes.
type Made = (Vec<bool>, Vec<(Question, Policy)>);

fn probes_of(policy: &Policy) -> Result<Made, String> {
    let mut est = policy.to_json().map_err(|e| e.to_string())?;
    let conditions: Vec<(bool, Value)> = est
        .get("conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| (c["kind"] == "when", c["body"].clone()))
        .collect();
    if let Some(o) = est.as_object_mut() {
        o.insert("effect".into(), json!("permit"));
        o.remove("annotations");
    }
    let when = |body: Value| json!([{ "kind": "when", "body": body }]);
    let not = |body: Value| json!({ "!": { "arg": body } });
    let mut questions: Vec<(Question, Value)> = Vec::new();
    let original = est.get("conditions").cloned().unwrap_or_else(|| json!([]));
    questions.push((Question::Whole(true), original));
    if !conditions.is_empty() {
        let conjunction = conditions
            .iter()
            .map(|(is_when, body)| {
                if *is_when {
                    body.clone()
                } else {
                    not(body.clone())
                }
            })
            .reduce(|left, right| json!({ "&&": { "left": left, "right": right } }))
            .unwrap_or(Value::Bool(true));
        questions.push((Question::Whole(false), when(not(conjunction))));
    }
    if conditions.len() > 1 {
        for (k, (_, body)) in conditions.iter().enumerate() {
            questions.push((Question::Clause(k, true), when(body.clone())));
            questions.push((Question::Clause(k, false), when(not(body.clone()))));
        }
    }
    let mut probes = Vec::with_capacity(questions.len());
    for (question, conditions) in questions {
        let mut probe = est.clone();
        if let Some(o) = probe.as_object_mut() {
            o.insert("conditions".into(), conditions);
        }
        let made = Policy::from_json(None, probe).map_err(|e| e.to_string())?;
        probes.push((question, made));
    }
    let kinds = conditions.iter().map(|(when, _)| *when).collect();
    Ok((kinds, probes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine_like(src: &str) -> (Slicer, Entities) {
        let set: PolicySet = src.parse().unwrap();
        let entities = Entities::from_json_str(
            r#"[{"uid": {"type": "User", "id": "a"}, "attrs": {"x": 1}, "parents": []},
                {"uid": {"type": "User", "id": "b"}, "attrs": {"x": 2}, "parents": []},
                {"uid": {"type": "Doc", "id": "d"}, "attrs": {"y": true}, "parents": []}]"#,
            None,
        )
        .unwrap();
        (Slicer::new(&set), entities)
    }

    fn request(principal: &str) -> Prepared {
        let principal: cedar_policy::EntityUid = principal.parse().unwrap();
        let action: cedar_policy::EntityUid = r#"Action::"read""#.parse().unwrap();
        let resource: cedar_policy::EntityUid = r#"Doc::"d""#.parse().unwrap();
        let request = cedar_policy::Request::new(
            principal.clone(),
            action.clone(),
            resource.clone(),
            cedar_policy::Context::empty(),
            None,
        )
        .unwrap();
        Prepared {
            principal,
            action,
            resource,
            request,
        }
    }

    #[test]
    fn clauses_are_seen_each_way_and_errors_are_neither() {
        let (slicer, entities) = engine_like(
            r#"forbid(principal, action, resource) when { principal.x == 1 } unless { resource.y };
               permit(principal, action, resource) when { principal.x == 2 };
               permit(principal, action, resource) when { principal.nope };"#,
        );
        let probes = Probes::new(&slicer);
        probes.observe(&entities, &request(r#"User::"a""#));
        let seen = probes.seen();
        // x == 1 true, unless-body true: the forbid's condition is false.
        assert_eq!(
            seen[0],
            Seen {
                whole_true: false,
                whole_false: true,
                clauses: vec![(true, true, false), (false, true, false)],
                unprobed: None,
            }
        );
        assert_eq!(seen[1].clauses, vec![(true, false, true)]);
        assert!(!seen[1].whole_true && seen[1].whole_false);
        // An attribute that is not there is an error: neither way.
        assert_eq!(seen[2].clauses, vec![(true, false, false)]);
        probes.observe(&entities, &request(r#"User::"b""#));
        let seen = probes.seen();
        assert!(seen[1].whole_true && seen[1].whole_false);
        assert_eq!(seen[1].clauses, vec![(true, true, true)]);
    }

    #[test]
    fn a_policy_without_conditions_is_true_whenever_its_scope_matches() {
        let (slicer, entities) =
            engine_like(r#"permit(principal == User::"a", action, resource);"#);
        let probes = Probes::new(&slicer);
        probes.observe(&entities, &request(r#"User::"b""#));
        assert!(!probes.seen()[0].whole_true);
        probes.observe(&entities, &request(r#"User::"a""#));
        let seen = probes.seen();
        assert!(seen[0].whole_true && !seen[0].whole_false && seen[0].clauses.is_empty());
    }
}
