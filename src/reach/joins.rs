//! Joins: policies that relate the principal to the resource (`resource.owner == principal`,
//! `resource.admins.contains(principal)`, `principal in resource.owners`,
//! `principal.team == resource.team`) are satisfied only on pairs where that relation holds.
//! Such a policy tells apart every identity named in some account's attribute, so grouping
//! leaves one group per person and one per account: evaluating every pair of groups costs
//! people × accounts. The relation is a conjunct of the condition, so a pair of groups where
//! it is false cannot satisfy the policy; indexing the accounts by the related value gives each
//! group of identities the few groups of accounts worth evaluating, and the cost becomes the
//! size of the relation.
//!
//! Soundness rests on the grouping (see `matrix.rs`): the members of a group agree on
//! everything the policy observes, which includes the attributes a join reads, their uid when
//! it appears in any value, and their membership in every entity named in a value. So the
//! relation holds for a pair of groups exactly when it holds for their representatives, and a
//! join only skips pairs on which the policy is false. Values a join cannot compare exactly
//! (records, sets and extension values on either side of `==`) are never skipped.

use std::collections::HashMap;

use cedar_policy::{EntityUid, EvalResult};
use cedar_policy_core::ast::{self, BinaryOp, Expr, ExprKind, Var};

use crate::engine::Engine;

/// A relation between principal and resource that policy `i` requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Join {
    /// `resource.A == principal`
    ResourceAttrIsPrincipal(String),
    /// `principal.A == resource`
    PrincipalAttrIsResource(String),
    /// `principal.A == resource.B`
    AttrsEqual(String, String),
    /// `resource.S.contains(principal)`
    ResourceSetHasPrincipal(String),
    /// `principal in resource.S` (an entity or a set of them)
    PrincipalInResourceAttr(String),
}

/// The first join among the top-level conjuncts of policy `i`'s condition (the slicer's
/// order), if any.
pub(super) fn join_of(engine: &Engine, i: usize) -> Option<Join> {
    let id = engine.slicer().policy(i).id();
    let set: &ast::PolicySet = engine.policies.as_ref();
    let policy = set.get(&ast::PolicyID::from_string(AsRef::<str>::as_ref(id)))?;
    let condition = policy.condition();
    let mut conjuncts = Vec::new();
    flatten_and(&condition, &mut conjuncts);
    conjuncts.into_iter().find_map(join_in)
}

fn flatten_and<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    if let ExprKind::And { left, right } = e.expr_kind() {
        flatten_and(left, out);
        flatten_and(right, out);
    } else {
        out.push(e);
    }
}

fn is_var(e: &Expr, var: Var) -> bool {
    matches!(e.expr_kind(), ExprKind::Var(v) if *v == var)
}

/// `var.attr`: the attribute's name.
fn attr_of(e: &Expr, var: Var) -> Option<String> {
    match e.expr_kind() {
        ExprKind::GetAttr { expr, attr } if is_var(expr, var) => Some(attr.to_string()),
        _ => None,
    }
}

fn join_in(e: &Expr) -> Option<Join> {
    let ExprKind::BinaryApp { op, arg1, arg2 } = e.expr_kind() else {
        return None;
    };
    let (p, r) = (Var::Principal, Var::Resource);
    match op {
        BinaryOp::Eq => {
            for (a, b) in [(arg1, arg2), (arg2, arg1)] {
                if is_var(b, p) {
                    if let Some(attr) = attr_of(a, r) {
                        return Some(Join::ResourceAttrIsPrincipal(attr));
                    }
                }
                if is_var(b, r) {
                    if let Some(attr) = attr_of(a, p) {
                        return Some(Join::PrincipalAttrIsResource(attr));
                    }
                }
            }
            let (a, b) = (attr_of(arg1, p), attr_of(arg2, r));
            if let (Some(a), Some(b)) = (a, b) {
                return Some(Join::AttrsEqual(a, b));
            }
            let (a, b) = (attr_of(arg2, p), attr_of(arg1, r));
            if let (Some(a), Some(b)) = (a, b) {
                return Some(Join::AttrsEqual(a, b));
            }
            None
        }
        BinaryOp::Contains if is_var(arg2, p) => {
            attr_of(arg1, r).map(Join::ResourceSetHasPrincipal)
        }
        BinaryOp::In if is_var(arg1, p) => attr_of(arg2, r).map(Join::PrincipalInResourceAttr),
        _ => None,
    }
}

/// A value `==` compares exactly by this text (same type and same text iff equal), or `None`
/// for values it does not (records, sets, extension values).
fn exact(v: &EvalResult) -> Option<String> {
    match v {
        EvalResult::Bool(b) => Some(format!("b:{b}")),
        EvalResult::Long(n) => Some(format!("l:{n}")),
        EvalResult::String(s) => Some(format!("s:{s}")),
        EvalResult::EntityUid(u) => Some(format!("e:{u}")),
        _ => None,
    }
}

fn entity_text(u: &EntityUid) -> String {
    format!("e:{u}")
}

fn attr(engine: &Engine, uid: &EntityUid, name: &str) -> Option<EvalResult> {
    engine
        .entities
        .get(uid)
        .and_then(|e| e.attr(name))
        .and_then(Result::ok)
}

/// The key of an entity-valued attribute (none when absent or not an entity).
fn entity_attr(engine: &Engine, uid: &EntityUid, name: &str) -> Vec<String> {
    match attr(engine, uid, name) {
        Some(EvalResult::EntityUid(u)) => vec![entity_text(&u)],
        _ => Vec::new(),
    }
}

/// The key of an attribute `==` compares exactly: none when absent (the policy errs, so is not
/// satisfied), `None` when the value cannot be compared by its text (compare with everything).
fn exact_attr(engine: &Engine, uid: &EntityUid, name: &str) -> Option<Vec<String>> {
    match attr(engine, uid, name) {
        None => Some(Vec::new()),
        Some(v) => exact(&v).map(|k| vec![k]),
    }
}

/// The entity uids in a value: itself, or a set's entity elements.
fn entities_in(v: &EvalResult) -> Vec<String> {
    match v {
        EvalResult::EntityUid(u) => vec![entity_text(u)],
        EvalResult::Set(s) => s
            .iter()
            .filter_map(|x| match x {
                EvalResult::EntityUid(u) => Some(entity_text(u)),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// For each source group (by its representative), the target groups (by index) worth
/// evaluating under `join`; every other pair cannot satisfy the policy.
pub(super) fn candidates(
    engine: &Engine,
    join: &Join,
    sources: &[&EntityUid],
    targets: &[&EntityUid],
) -> Vec<Vec<usize>> {
    // Target groups by the value the relation reads on the resource side; `wild` ones are
    // compared with every source.
    let mut index: HashMap<String, Vec<usize>> = HashMap::new();
    let mut wild: Vec<usize> = Vec::new();
    for (t, uid) in targets.iter().enumerate() {
        let keys: Option<Vec<String>> = match join {
            Join::ResourceAttrIsPrincipal(a) => Some(entity_attr(engine, uid, a)),
            Join::PrincipalAttrIsResource(_) => Some(vec![entity_text(uid)]),
            Join::AttrsEqual(_, b) => exact_attr(engine, uid, b),
            Join::ResourceSetHasPrincipal(s) | Join::PrincipalInResourceAttr(s) => Some(
                attr(engine, uid, s)
                    .map(|v| entities_in(&v))
                    .unwrap_or_default(),
            ),
        };
        match keys {
            Some(keys) => {
                for k in keys {
                    let list = index.entry(k).or_default();
                    if list.last() != Some(&t) {
                        list.push(t);
                    }
                }
            }
            None => wild.push(t),
        }
    }
    sources
        .iter()
        .map(|uid| {
            // The keys of a source: what the relation reads on the principal side.
            let keys: Option<Vec<String>> = match join {
                Join::ResourceAttrIsPrincipal(_) | Join::ResourceSetHasPrincipal(_) => {
                    Some(vec![entity_text(uid)])
                }
                Join::PrincipalAttrIsResource(a) => Some(entity_attr(engine, uid, a)),
                Join::AttrsEqual(a, _) => exact_attr(engine, uid, a),
                // `principal in X` holds when X is the principal or one of its ancestors.
                Join::PrincipalInResourceAttr(_) => Some(
                    std::iter::once(entity_text(uid))
                        .chain(
                            engine
                                .entities
                                .ancestors(uid)
                                .into_iter()
                                .flatten()
                                .map(entity_text),
                        )
                        .collect(),
                ),
            };
            let Some(keys) = keys else {
                return (0..targets.len()).collect();
            };
            let mut out: Vec<usize> = keys
                .iter()
                .filter_map(|k| index.get(k))
                .flatten()
                .chain(&wild)
                .copied()
                .collect();
            out.sort_unstable();
            out.dedup();
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(cond: &str) -> Option<Join> {
        let text = format!("permit(principal, action, resource) when {{ {cond} }};");
        let p = cedar_policy_core::parser::parse_policy(None, &text).unwrap();
        let mut conjuncts = Vec::new();
        let c = p.condition();
        flatten_and(&c, &mut conjuncts);
        conjuncts.into_iter().find_map(join_in)
    }

    #[test]
    fn relations_are_read_in_every_spelling() {
        use Join::*;
        let owner = Some(ResourceAttrIsPrincipal("owner".into()));
        assert_eq!(join("resource.owner == principal"), owner);
        assert_eq!(join("principal == resource.owner && context.mfa"), owner);
        assert_eq!(join("context.mfa && resource.owner == principal"), owner);
        assert_eq!(
            join("principal.manages == resource"),
            Some(PrincipalAttrIsResource("manages".into()))
        );
        assert_eq!(
            join("resource.team == principal.team"),
            Some(AttrsEqual("team".into(), "team".into()))
        );
        assert_eq!(
            join("resource.admins.contains(principal)"),
            Some(ResourceSetHasPrincipal("admins".into()))
        );
        assert_eq!(
            join("principal in resource.owners"),
            Some(PrincipalInResourceAttr("owners".into()))
        );
        // Not a conjunct of the whole condition: no join.
        assert_eq!(join("resource.owner == principal || context.mfa"), None);
        assert_eq!(join("!(resource.owner == principal)"), None);
        assert_eq!(join("context.mfa"), None);
    }
}
