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
use cedar_policy_core::ast::{BinaryOp, Expr, ExprKind, Var};

use crate::engine::{Engine, IMPERSONATOR};

/// A relation between one side (see [`Side`]) and the resource; `X` below is that side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Join {
    /// `resource.A == X`
    ResourceAttrIsPrincipal(String),
    /// `X.A == resource`
    PrincipalAttrIsResource(String),
    /// `X.A == resource.B`
    AttrsEqual(String, String),
    /// `resource.S.contains(X)`
    ResourceSetHasPrincipal(String),
    /// `X in resource.S` (an entity or a set of them)
    PrincipalInResourceAttr(String),
}

/// What a relation relates to the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    /// The request's principal: the relation tells pairs of classes apart.
    Principal,
    /// `context.impersonator`, the origin behind a later hop or an acting-as request: under
    /// one context the relation tells the resources apart, the same for every principal. (A
    /// policy that joins the resource to the impersonator tells apart every origin named in an
    /// account's attribute, so later hops are evaluated per person; without the join, each of
    /// those evaluates every pair of classes.)
    Impersonator,
}

/// A relation a condition requires: satisfied only where one of `joins` holds (one join for a
/// conjunct, several for a disjunction of them), all about the same side (see [`needs_of`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Need {
    pub(super) joins: Vec<Join>,
}

/// The relations policy `i`'s condition requires: the first top-level conjunct (the slicer's
/// order) that is a relation on the principal, or a disjunction of them; and the first that
/// is one on the impersonator.
pub(super) fn needs_of(engine: &Engine, i: usize) -> [Option<Need>; 2] {
    engine
        .policy_ast(i)
        .map_or([None, None], |p| needs_in(&p.condition()))
}

/// Whether policy `i`'s condition (its `when` and `unless` clauses, not its scope) reads the
/// principal, and whether it reads the resource. A condition that never names a variable
/// cannot tell two of its values apart: only the scope can (and the matrix applies the scope
/// itself), so every principal in scope is satisfied on the same resources, and the other way
/// round. (Nothing else in a request can show an entity's uid to a condition that never holds
/// the entity itself to compare it with.)
pub(super) fn condition_reads(engine: &Engine, i: usize) -> [bool; 2] {
    let Some(p) = engine.policy_ast(i) else {
        return [true, true];
    };
    let Some(condition) = p.non_scope_constraints() else {
        return [false, false];
    };
    let reads = |v: Var| condition.subexpressions().any(|x| is_var(x, v));
    [reads(Var::Principal), reads(Var::Resource)]
}

fn needs_in(condition: &Expr) -> [Option<Need>; 2] {
    let mut conjuncts = Vec::new();
    flatten_and(condition, &mut conjuncts);
    let first = |side: Side| {
        conjuncts.iter().find_map(|c| {
            let mut joins = Vec::new();
            joins_in(c, side, &mut joins).then_some(Need { joins })
        })
    };
    [first(Side::Principal), first(Side::Impersonator)]
}

fn flatten_and<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    if let ExprKind::And { left, right } = e.expr_kind() {
        flatten_and(left, out);
        flatten_and(right, out);
    } else {
        out.push(e);
    }
}

/// Whether `e` holds only where one of the relations it adds to `out` does: `e` is a relation,
/// a conjunction with one, or a disjunction of such. (Cedar's `||` is true only when one of its
/// operands is; `&&` only when both are.)
fn joins_in(e: &Expr, side: Side, out: &mut Vec<Join>) -> bool {
    match e.expr_kind() {
        ExprKind::Or { left, right } => joins_in(left, side, out) && joins_in(right, side, out),
        ExprKind::And { left, right } => {
            let mark = out.len();
            joins_in(left, side, out) || {
                out.truncate(mark);
                joins_in(right, side, out)
            }
        }
        _ => join_in(e, side).map(|j| out.push(j)).is_some(),
    }
}

fn is_var(e: &Expr, var: Var) -> bool {
    matches!(e.expr_kind(), ExprKind::Var(v) if *v == var)
}

fn is_side(e: &Expr, side: Side) -> bool {
    match side {
        Side::Principal => is_var(e, Var::Principal),
        Side::Impersonator => matches!(e.expr_kind(), ExprKind::GetAttr { expr, attr }
            if is_var(expr, Var::Context) && attr.as_str() == IMPERSONATOR),
    }
}

/// `X.attr` for the side `X`: the attribute's name.
fn side_attr(e: &Expr, side: Side) -> Option<String> {
    match e.expr_kind() {
        ExprKind::GetAttr { expr, attr } if is_side(expr, side) => Some(attr.to_string()),
        _ => None,
    }
}

/// `resource.attr`: the attribute's name.
fn resource_attr(e: &Expr) -> Option<String> {
    match e.expr_kind() {
        ExprKind::GetAttr { expr, attr } if is_var(expr, Var::Resource) => Some(attr.to_string()),
        _ => None,
    }
}

fn join_in(e: &Expr, side: Side) -> Option<Join> {
    let ExprKind::BinaryApp { op, arg1, arg2 } = e.expr_kind() else {
        return None;
    };
    match op {
        BinaryOp::Eq => [(arg1, arg2), (arg2, arg1)].into_iter().find_map(|(a, b)| {
            if is_side(b, side) {
                if let Some(attr) = resource_attr(a) {
                    return Some(Join::ResourceAttrIsPrincipal(attr));
                }
            }
            if is_var(b, Var::Resource) {
                if let Some(attr) = side_attr(a, side) {
                    return Some(Join::PrincipalAttrIsResource(attr));
                }
            }
            let (a, b) = (side_attr(a, side)?, resource_attr(b)?);
            Some(Join::AttrsEqual(a, b))
        }),
        BinaryOp::Contains if is_side(arg2, side) => {
            resource_attr(arg1).map(Join::ResourceSetHasPrincipal)
        }
        BinaryOp::In if is_side(arg1, side) => {
            resource_attr(arg2).map(Join::PrincipalInResourceAttr)
        }
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

/// One join's target groups by key, and the `wild` ones compared with every key.
type Keyed = (Join, HashMap<String, Vec<usize>>, Vec<usize>);

/// Target groups indexed by the value each join of a [`Need`] reads on the resource side.
pub(super) struct Index {
    /// Per join: the groups by key, and the `wild` ones compared with every key.
    joins: Vec<Keyed>,
    targets: usize,
}

impl Index {
    /// Over the target groups, each by its representative.
    pub(super) fn new(engine: &Engine, need: &Need, targets: &[&EntityUid]) -> Self {
        let joins = need.joins.iter().map(|join| {
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
            (join.clone(), index, wild)
        });
        Self {
            joins: joins.collect(),
            targets: targets.len(),
        }
    }

    /// The target groups (sorted) where some join can hold with `x` on the need's side; every
    /// other group cannot satisfy the policy.
    pub(super) fn worth(&self, engine: &Engine, x: &EntityUid) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        for (join, index, wild) in &self.joins {
            // The keys of `x`: what the relation reads on its side.
            let keys: Option<Vec<String>> = match join {
                Join::ResourceAttrIsPrincipal(_) | Join::ResourceSetHasPrincipal(_) => {
                    Some(vec![entity_text(x)])
                }
                Join::PrincipalAttrIsResource(a) => Some(entity_attr(engine, x, a)),
                Join::AttrsEqual(a, _) => exact_attr(engine, x, a),
                // `x in X` holds when X is `x` or one of its ancestors.
                Join::PrincipalInResourceAttr(_) => Some(
                    std::iter::once(entity_text(x))
                        .chain(
                            engine
                                .entities
                                .ancestors(x)
                                .into_iter()
                                .flatten()
                                .map(entity_text),
                        )
                        .collect(),
                ),
            };
            let Some(keys) = keys else {
                return (0..self.targets).collect();
            };
            out.extend(keys.iter().filter_map(|k| index.get(k)).flatten());
            out.extend(wild);
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// For each source group (by its representative), the target groups (by index) worth
/// evaluating under a need on the principal; every other pair cannot satisfy the policy.
pub(super) fn candidates(
    engine: &Engine,
    need: &Need,
    sources: &[&EntityUid],
    targets: &[&EntityUid],
) -> Vec<Vec<usize>> {
    let index = Index::new(engine, need, targets);
    sources.iter().map(|uid| index.worth(engine, uid)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs(cond: &str) -> [Option<Need>; 2] {
        let text = format!("permit(principal, action, resource) when {{ {cond} }};");
        let p = cedar_policy_core::parser::parse_policy(None, &text).unwrap();
        needs_in(&p.condition())
    }

    /// The principal's relation, when it is one join.
    fn join(cond: &str) -> Option<Join> {
        let [need, _] = needs(cond);
        need.filter(|n| n.joins.len() == 1)
            .map(|mut n| n.joins.remove(0))
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

    #[test]
    fn disjunctions_of_relations_and_relations_to_the_impersonator_are_read() {
        use Join::*;
        let [principal, impersonator] = needs(
            "context has impersonator && (context.impersonator == resource.owner \
             || resource.admins.contains(context.impersonator)) && principal.tier == resource.tier",
        );
        assert_eq!(
            principal,
            Some(Need {
                joins: vec![AttrsEqual("tier".into(), "tier".into())]
            })
        );
        assert_eq!(
            impersonator,
            Some(Need {
                joins: vec![
                    ResourceAttrIsPrincipal("owner".into()),
                    ResourceSetHasPrincipal("admins".into())
                ]
            })
        );
        // A disjunct that is no relation, or a relation on the other side: no need.
        assert_eq!(
            needs("resource.owner == principal || resource.owner == context.impersonator"),
            [None, None]
        );
        assert_eq!(
            needs("resource.owner == principal || context.mfa"),
            [None, None]
        );
        // A disjunct that is a conjunction holding a relation.
        let [principal, _] =
            needs("(context.mfa && resource.owner == principal) || principal in resource.owners");
        assert_eq!(
            principal.map(|n| n.joins),
            Some(vec![
                ResourceAttrIsPrincipal("owner".into()),
                PrincipalInResourceAttr("owners".into())
            ])
        );
        let [_, impersonator] = needs("context.impersonator.team == resource.team");
        assert_eq!(
            impersonator.map(|n| n.joins),
            Some(vec![AttrsEqual("team".into(), "team".into())])
        );
    }
}
