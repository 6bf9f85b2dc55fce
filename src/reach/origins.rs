//! Hop matrices per group of origins, for hops that read `context.impersonator` but not the
//! delegation chain.
//!
//! When an impersonation action declares `impersonator` or `delegation_chain`, a hop's request
//! carries who is behind it, and a single hop matrix no longer decides every hop. But when no
//! hop policy reads `delegation_chain` (see [`Engine::hops_read_the_chain`]), a hop depends on
//! the path only through whether it is the first (nobody behind it) and, after that, through
//! the origin, as `context.impersonator`. So an origin's first hops are one matrix's (the
//! context alone) and its later hops another's (the context with `impersonator` set to it),
//! and origins that the policies cannot tell apart *as impersonators* share the latter: a
//! policy that only tests `context has impersonator` tells none apart; one that reads
//! attributes of it (`context.impersonator.level`) tells apart those with different values of
//! those attributes; any other use of it (`in`, `==`, the whole context) tells apart what
//! those conditions can observe of an entity, as the hop matrix keys an identity for one
//! policy (`classes.rs`).
//!
//! This holds under conditions checked by [`plan`]; otherwise reach goes through the engine,
//! origin by origin:
//! - `delegation_chain` is optional wherever declared (leaving it out changes no decision, as no
//!   hop policy reads it), and so is `impersonator`; or the context sets the chain, which every
//!   hop's request then carries whatever the path (policies may read it: `chain_facts.rs`
//!   builds such contexts);
//! - every impersonation action that declares `impersonator` gives it the same entity type, and
//!   either that type is not impersonable or the hop policies observe only attributes of the
//!   impersonator. A group's later matrix puts its first member in the context; where the type
//!   is not impersonable, that member is never a hop's principal or resource after the first
//!   hop, so its uid in the context cannot meet itself elsewhere in a request of another member
//!   (`context.impersonator == resource` would); attributes cannot tell the members apart;
//! - the context does not set `impersonator` itself (then no hop depends on the path at all).

use std::collections::BTreeMap;

use cedar_policy::{EntityTypeName, EntityUid, EvalResult};
use cedar_policy_core::ast::{Expr, ExprKind, Var};
use rustc_hash::FxHashSet;

use rustc_hash::FxHashMap as HashMap;

use super::classes::{facts_of, key_of, observable, observations, Key, Nameable, Observes};
use super::Identities;
use crate::core::schema::entity_type_of;
use crate::engine::{ContextMap, Engine, DELEGATION_CHAIN, IMPERSONATOR};

/// What the hop policies observe of `context.impersonator`.
#[derive(Debug, PartialEq, Eq)]
enum Observed {
    /// These attributes (and whether it has them); nothing at all when empty.
    Attributes(Vec<String>),
    /// Possibly anything.
    Everything,
}

/// The origins of the impersonator type, in groups that share their later hops.
pub(super) struct Plan {
    /// The context of each group's later hops (the context, `impersonator` its first member).
    pub(super) contexts: Vec<ContextMap>,
    /// Each group's first member.
    pub(super) representatives: Vec<EntityUid>,
    /// Each identity's group, by number; `u32::MAX` for origins whose later hops are decided
    /// as first ones (`impersonator` does not fit their type, so it is left out).
    pub(super) group_of: Vec<u32>,
}

/// The impersonator type, if later hops can be decided per group of origins under `context`
/// (the conditions above).
pub(super) fn applies(engine: &Engine, context: &ContextMap) -> Option<EntityTypeName> {
    // A chain the context sets is every hop's, whatever the path: then policies may read it.
    let chain_set = context.contains_key(DELEGATION_CHAIN);
    if (engine.hops_read_the_chain() && !chain_set) || context.contains_key(IMPERSONATOR) {
        return None;
    }
    let mut types: FxHashSet<EntityTypeName> = FxHashSet::default();
    for info in engine.actions.iter().filter_map(|a| engine.action(a)) {
        if info
            .context
            .get(DELEGATION_CHAIN)
            .is_some_and(|a| a.required && !chain_set)
        {
            return None;
        }
        if let Some(a) = info.context.get(IMPERSONATOR) {
            if a.required {
                return None;
            }
            types.insert(entity_type_of(&a.ty)?);
        }
    }
    let mut types = types.into_iter();
    let (Some(ty), None) = (types.next(), types.next()) else {
        return None;
    };
    let only_attributes = observed(engine, &engine.actions).1.is_none();
    (only_attributes || !engine.impersonable_types().contains(&ty)).then_some(ty)
}

/// The groups of origins of type `ty` (from [`applies`]) under `context`.
pub(super) fn plan(
    engine: &Engine,
    identities: &Identities,
    context: &ContextMap,
    ty: &EntityTypeName,
    actions: &[EntityUid],
) -> Plan {
    let (names, whole) = observed(engine, actions);
    // Where the impersonator is used other than through its attributes: its key under what
    // those conditions observe, as the matrix keys an identity for one policy.
    let keys: Option<Vec<Key>> = whole.map(|o| {
        let observes = observations(engine);
        let observable = observable(engine, identities, &observes, &[context]);
        let facts = facts_of(engine, identities, &observable);
        let nameable = Nameable::new(&o, &observable);
        facts
            .iter()
            .enumerate()
            .map(|(n, f)| key_of(f, n as u32, &o, |k| nameable.contains(k)))
            .collect()
    });
    let mut key_ids: HashMap<Key, u32> = HashMap::default();
    let mut groups: BTreeMap<(u32, Vec<Option<EvalResult>>), u32> = BTreeMap::new();
    let (mut contexts, mut representatives) = (Vec::new(), Vec::new());
    let mut group_of = Vec::with_capacity(identities.len());
    for (n, uid) in identities.uids.iter().enumerate() {
        if uid.type_name() != ty {
            group_of.push(u32::MAX);
            continue;
        }
        let key = keys.as_ref().map_or(0, |keys| {
            let next = key_ids.len() as u32;
            *key_ids.entry(keys[n].clone()).or_insert(next)
        });
        let key = (key, attribute_values(engine, uid, &names));
        let next = groups.len() as u32;
        let group = *groups.entry(key).or_insert_with(|| {
            let mut later = context.clone();
            later.insert(IMPERSONATOR.into(), crate::core::uid::entity_value(uid));
            contexts.push(later);
            representatives.push((**uid).clone());
            next
        });
        group_of.push(group);
    }
    Plan {
        contexts,
        representatives,
        group_of,
    }
}

/// Groups of origins whose acting-as requests of `actions` decide alike under `context`, by
/// identity number, when the policies read no `delegation_chain` there and the impersonator
/// cannot meet itself elsewhere in such a request (its type is neither impersonable, so never
/// the acting principal, nor a resource type of `actions`); `None` otherwise. The argument is
/// the one above for later hops, with the acting-as request in place of the hop.
pub fn acting_as_groups(
    engine: &Engine,
    identities: &Identities,
    context: &ContextMap,
    actions: &[EntityUid],
) -> Option<Vec<u32>> {
    if context.contains_key(IMPERSONATOR) {
        // Every request carries the profile's own `impersonator`: nobody is told apart.
        return Some(vec![0; identities.len()]);
    }
    if engine.reads_the_chain(actions) {
        return None;
    }
    let mut types: FxHashSet<EntityTypeName> = FxHashSet::default();
    for info in actions.iter().filter_map(|a| engine.action(a)) {
        if let Some(a) = info.context.get(IMPERSONATOR) {
            let ty = entity_type_of(&a.ty)?;
            if info.resources.contains(&ty) {
                return None;
            }
            types.insert(ty);
        }
    }
    let mut types = types.into_iter();
    match (types.next(), types.next()) {
        (None, _) => Some(vec![0; identities.len()]),
        (Some(ty), None) if !engine.impersonable_types().contains(&ty) => {
            let plan = plan(engine, identities, context, &ty, actions);
            Some(plan.group_of)
        }
        _ => None,
    }
}

/// Per policy (the slicer's order) whose decision may depend on who `context.impersonator` is
/// (its attributes, or anything else of it), rather than only on whether the context has one:
/// for each group of origins (by its first member, `representatives`), the first group whose
/// impersonator it cannot tell apart from this one's, so that groups share its evaluation.
/// A policy that reads only attributes tells apart groups whose values of those differ; one
/// that reads more, every group. `None` for the policies that decide every group alike.
pub(super) fn deciding_groups(
    engine: &Engine,
    representatives: &[EntityUid],
) -> Vec<Option<Vec<u32>>> {
    (0..engine.slicer().len())
        .map(|i| {
            let observed = engine
                .policy_ast(i)
                .map_or(Observed::Everything, |p| observed_in(&p.condition()));
            match observed {
                Observed::Attributes(names) if names.is_empty() => None,
                Observed::Attributes(names) => {
                    let mut first: BTreeMap<Vec<Option<EvalResult>>, u32> = BTreeMap::new();
                    let deciding = representatives.iter().enumerate().map(|(g, uid)| {
                        let values = attribute_values(engine, uid, &names);
                        *first.entry(values).or_insert(g as u32)
                    });
                    Some(deciding.collect())
                }
                Observed::Everything => Some((0..representatives.len() as u32).collect()),
            }
        })
        .collect()
}

fn attribute_values(engine: &Engine, uid: &EntityUid, names: &[String]) -> Vec<Option<EvalResult>> {
    let entity = engine.entities.get(uid);
    names
        .iter()
        .map(|name| entity.and_then(|e| e.attr(name)).and_then(Result::ok))
        .collect()
}

/// What the templates whose action scope covers one of `actions` observe of
/// `context.impersonator`: the attributes read through it, and what the conditions that use
/// it otherwise observe (`None` when none does).
fn observed(engine: &Engine, actions: &[EntityUid]) -> (Vec<String>, Option<Observes>) {
    let set: &cedar_policy_core::ast::PolicySet = engine.policies.as_ref();
    let mut names: Vec<String> = Vec::new();
    let mut whole: Option<Observes> = None;
    for t in set.all_templates() {
        let covers = actions
            .iter()
            .any(|a| engine.scope_covers_action(t.action_constraint(), a));
        if !covers {
            continue;
        }
        let condition = t.condition();
        match observed_in(&condition) {
            Observed::Everything => match &mut whole {
                Some(o) => o.add(&condition),
                None => whole = Some(Observes::of(&condition)),
            },
            Observed::Attributes(found) => names.extend(found),
        }
    }
    names.sort();
    names.dedup();
    (names, whole)
}

/// What `e` observes of `context.impersonator`: the attributes read or tested on it when that
/// is all it does with it (and with the context as a whole).
fn observed_in(e: &Expr) -> Observed {
    let is_context = |x: &Expr| matches!(x.expr_kind(), ExprKind::Var(Var::Context));
    let is_impersonator = |x: &Expr| {
        matches!(x.expr_kind(), ExprKind::GetAttr { expr, attr }
            if is_context(expr) && attr.as_str() == IMPERSONATOR)
    };
    // Uses of `context.impersonator`, and how many of them are accounted for.
    let (mut impersonators, mut impersonator_attributes) = (0usize, 0usize);
    let mut names = Vec::new();
    for x in e.subexpressions() {
        match x.expr_kind() {
            ExprKind::GetAttr { expr, attr } | ExprKind::HasAttr { expr, attr } => {
                if is_context(expr) {
                    impersonators += usize::from(is_impersonator(x));
                } else if is_impersonator(expr) {
                    impersonator_attributes += 1;
                    names.push(attr.to_string());
                }
            }
            ExprKind::ExtHasAttr { expr, attrs } => {
                if is_context(expr) {
                    // `context has impersonator.a`: tests attribute `a` of it.
                    let mut attrs = attrs.iter();
                    if attrs.next().is_some_and(|a| a.as_str() == IMPERSONATOR) {
                        names.extend(attrs.next().map(ToString::to_string));
                    }
                } else if is_impersonator(expr) {
                    impersonator_attributes += 1;
                    names.push(attrs.first().to_string());
                }
            }
            _ => {}
        }
    }
    if crate::engine::uses_whole_context(e) || impersonators > impersonator_attributes {
        return Observed::Everything;
    }
    Observed::Attributes(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed_by(condition: &str) -> Observed {
        let text = format!("permit(principal, action, resource) when {{ {condition} }};");
        let p: cedar_policy::Policy = text.parse().unwrap();
        let ast: &cedar_policy_core::ast::Policy = p.as_ref();
        observed_in(&ast.condition())
    }

    #[test]
    fn what_a_condition_observes_of_the_impersonator() {
        let attrs =
            |names: &[&str]| Observed::Attributes(names.iter().map(|s| s.to_string()).collect());
        assert_eq!(observed_by("context.mfa"), attrs(&[]));
        assert_eq!(observed_by("context has impersonator"), attrs(&[]));
        assert_eq!(
            observed_by("context has impersonator && context.impersonator.level > 3"),
            attrs(&["level"])
        );
        assert_eq!(
            observed_by("context.impersonator has team"),
            attrs(&["team"])
        );
        assert_eq!(
            observed_by("context has impersonator.level"),
            attrs(&["level"])
        );
        assert_eq!(
            observed_by("context.impersonator in Team::\"ops\""),
            Observed::Everything
        );
        assert_eq!(
            observed_by("context.impersonator == principal"),
            Observed::Everything
        );
        assert_eq!(observed_by("context == {}"), Observed::Everything);
        assert_eq!(
            observed_by("context.impersonator.manager == principal"),
            attrs(&["manager"])
        );
    }
}
