//! Scope slicing: each request is evaluated only against the policies whose scope can match it.
//!
//! Cedar evaluates every policy of a set for every request, building each policy's condition
//! (scope ∧ `when` ∧ ¬`unless`) afresh. A policy whose scope does not match the request is not
//! satisfied and, since `&&` short-circuits, its conditions are never evaluated, so it can add
//! neither a reason nor an error. Leaving such policies out therefore gives the same decision,
//! the same determining policies and the same errors. The scope test here follows Cedar's
//! semantics: `==` is equality, `in` is equality or ancestry in the entity store (an entity
//! missing from the store is only `in` itself), `is` compares the type; action `in [..]` uses
//! the action hierarchy. Slices are cached by the set of policies they hold: requests of the
//! same shape share one.
//!
//! Testing every policy's scope against every request costs a store lookup per `in`, which on a
//! 300-policy world took most of a request's time. The scopes are therefore indexed, one
//! [`ScopeIndex`] per request variable: a request's slice is the intersection of the policies
//! its principal, action and resource each satisfy, found with one lookup per ancestor.

use std::sync::{Arc, OnceLock, RwLock};

use cedar_policy::{
    ActionConstraint, Effect, Entities, EntityTypeName, EntityUid, Policy, PolicySet,
    PrincipalConstraint, ResourceConstraint,
};
use rustc_hash::FxHashMap;

/// A set of policies, as bits over their indices.
pub(crate) type Mask = Vec<u64>;

/// The number of 64-bit words a set of `n` bits takes (here and in the hop matrix).
pub(crate) fn words(n: usize) -> usize {
    n.div_ceil(64)
}

pub(crate) fn set_bit(bits: &mut [u64], i: usize) {
    bits[i / 64] |= 1 << (i % 64);
}

/// Which policies' constraint on one request variable an entity satisfies.
#[derive(Default)]
struct ScopeIndex {
    /// Policies that do not constrain the variable.
    any: Mask,
    /// `== e`.
    eq: FxHashMap<EntityUid, Mask>,
    /// `is T`.
    is: FxHashMap<EntityTypeName, Mask>,
    /// `in e` and `is T in e`: satisfied by `e` and its descendants (of type `T`).
    within: FxHashMap<EntityUid, Vec<(Option<EntityTypeName>, usize)>>,
}

/// One variable's constraint, in the shape the index stores.
pub(crate) enum Constraint<'a> {
    Any,
    Eq(&'a EntityUid),
    Is(&'a EntityTypeName),
    In(&'a EntityUid, Option<&'a EntityTypeName>),
}

impl ScopeIndex {
    fn new(words: usize) -> Self {
        Self {
            any: vec![0; words],
            ..Self::default()
        }
    }

    fn add(&mut self, i: usize, constraint: Constraint<'_>) {
        let words = self.any.len();
        match constraint {
            Constraint::Any => set_bit(&mut self.any, i),
            Constraint::Eq(e) => set_bit(self.eq.entry(e.clone()).or_insert(vec![0; words]), i),
            Constraint::Is(t) => set_bit(self.is.entry(t.clone()).or_insert(vec![0; words]), i),
            Constraint::In(e, t) => self
                .within
                .entry(e.clone())
                .or_default()
                .push((t.cloned(), i)),
        }
    }

    /// The policies whose constraint `uid` satisfies. An entity missing from the store is only
    /// `in` itself, as in Cedar.
    fn matching(&self, entities: &Entities, uid: &EntityUid) -> Mask {
        let mut mask = self.any.clone();
        let mut or = |m: Option<&Mask>| {
            for (a, b) in mask.iter_mut().zip(m.into_iter().flatten()) {
                *a |= b;
            }
        };
        or(self.eq.get(uid));
        or(self.is.get(uid.type_name()));
        if self.within.is_empty() {
            return mask;
        }
        let ancestors = entities.ancestors(uid).into_iter().flatten();
        for e in std::iter::once(uid).chain(ancestors) {
            for (t, i) in self.within.get(e).into_iter().flatten() {
                if t.as_ref().is_none_or(|t| t == uid.type_name()) {
                    set_bit(&mut mask, *i);
                }
            }
        }
        mask
    }
}

struct Scope {
    principal: PrincipalConstraint,
    action: ActionConstraint,
    resource: ResourceConstraint,
}

pub struct Slicer {
    policies: Vec<(Policy, Scope)>,
    principals: ScopeIndex,
    actions: ScopeIndex,
    resources: ScopeIndex,
    full: PolicySet,
    cache: RwLock<FxHashMap<Mask, Arc<PolicySet>>>,
    /// The policies each action's scope admits: a run has a few actions and every request
    /// asked again (its ancestors are the schema's action groups).
    by_action: RwLock<FxHashMap<EntityUid, Mask>>,
    /// Each policy alone (the hop matrix evaluates one policy at a time).
    alone: Vec<OnceLock<PolicySet>>,
}

/// `uid in target`, as Cedar means it.
fn is_in(entities: &Entities, uid: &EntityUid, target: &EntityUid) -> bool {
    uid == target || entities.is_ancestor_of(target, uid)
}

impl Slicer {
    pub fn new(set: &PolicySet) -> Self {
        let policies: Vec<(Policy, Scope)> = set
            .policies()
            .map(|p| {
                let scope = Scope {
                    principal: p.principal_constraint(),
                    action: p.action_constraint(),
                    resource: p.resource_constraint(),
                };
                (p.clone(), scope)
            })
            .collect();
        let words = words(policies.len());
        let mut principals = ScopeIndex::new(words);
        let mut actions = ScopeIndex::new(words);
        let mut resources = ScopeIndex::new(words);
        for (i, (_, s)) in policies.iter().enumerate() {
            principals.add(i, principal_constraint(s));
            resources.add(i, resource_constraint(s));
            match &s.action {
                ActionConstraint::Any => actions.add(i, Constraint::Any),
                ActionConstraint::Eq(e) => actions.add(i, Constraint::Eq(e)),
                ActionConstraint::In(list) => {
                    for e in list {
                        actions.add(i, Constraint::In(e, None));
                    }
                }
            }
        }
        let alone = (0..policies.len()).map(|_| OnceLock::new()).collect();
        Self {
            policies,
            principals,
            actions,
            resources,
            full: set.clone(),
            cache: RwLock::new(FxHashMap::default()),
            by_action: RwLock::new(FxHashMap::default()),
            alone,
        }
    }

    /// The number of policies (static and links), indexed `0..len()` in the set's order.
    pub fn len(&self) -> usize {
        self.policies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    pub fn policy(&self, i: usize) -> &Policy {
        &self.policies[i].0
    }

    pub fn is_permit(&self, i: usize) -> bool {
        self.policies[i].0.effect() == Effect::Permit
    }

    /// Policy `i` alone in a set (a link with its template).
    pub fn alone(&self, i: usize) -> &PolicySet {
        self.alone[i].get_or_init(|| {
            let mut mask = vec![0u64; words(self.policies.len())];
            set_bit(&mut mask, i);
            self.build(&mask)
        })
    }

    /// Policy `i`'s principal constraint.
    pub(crate) fn principal_constraint(&self, i: usize) -> Constraint<'_> {
        principal_constraint(&self.policies[i].1)
    }

    /// Policy `i`'s resource constraint.
    pub(crate) fn resource_constraint(&self, i: usize) -> Constraint<'_> {
        resource_constraint(&self.policies[i].1)
    }

    pub fn principal_matches(&self, i: usize, entities: &Entities, principal: &EntityUid) -> bool {
        principal_in_scope(entities, &self.policies[i].1.principal, principal)
    }

    pub fn action_matches(&self, i: usize, entities: &Entities, action: &EntityUid) -> bool {
        action_in_scope(entities, &self.policies[i].1, action)
    }

    pub fn resource_matches(&self, i: usize, entities: &Entities, resource: &EntityUid) -> bool {
        resource_in_scope(entities, &self.policies[i].1.resource, resource)
    }

    /// The policies whose scope can match the request.
    pub fn slice(
        &self,
        entities: &Entities,
        principal: &EntityUid,
        action: &EntityUid,
        resource: &EntityUid,
    ) -> Arc<PolicySet> {
        self.slice_of(self.scope_mask(entities, principal, action, resource))
    }

    /// The policy set of the policies in `mask`, cached.
    pub(crate) fn slice_of(&self, mask: Mask) -> Arc<PolicySet> {
        if let Some(set) = self
            .cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&mask)
        {
            return set.clone();
        }
        let set = Arc::new(self.build(&mask));
        self.cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(mask)
            .or_insert(set)
            .clone()
    }

    /// The indices of the policies whose scope matches the request (exactly, as Cedar means
    /// it), from the indices.
    pub(crate) fn scope_mask(
        &self,
        entities: &Entities,
        principal: &EntityUid,
        action: &EntityUid,
        resource: &EntityUid,
    ) -> Mask {
        let known = self
            .by_action
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(action)
            .cloned();
        let mut mask = known.unwrap_or_else(|| {
            let mask = self.actions.matching(entities, action);
            self.by_action
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(action.clone(), mask.clone());
            mask
        });
        for other in [
            self.principals.matching(entities, principal),
            self.resources.matching(entities, resource),
        ] {
            for (a, b) in mask.iter_mut().zip(other) {
                *a &= b;
            }
        }
        mask
    }

    /// A policy set of the masked policies; a link brings its template along.
    fn build(&self, mask: &[u64]) -> PolicySet {
        let mut set = PolicySet::new();
        for (i, (p, _)) in self.policies.iter().enumerate() {
            if mask[i / 64] & (1 << (i % 64)) == 0 {
                continue;
            }
            if p.is_static() {
                // Ids are unique in the full set, so adding cannot fail.
                let _ = set.add(p.clone());
                continue;
            }
            let (Some(tid), Some(values)) = (p.template_id(), p.template_links()) else {
                continue;
            };
            if set.template(tid).is_none() {
                if let Some(t) = self.full.template(tid) {
                    let _ = set.add_template(t.clone());
                }
            }
            let _ = set.link(tid.clone(), p.id().clone(), values);
        }
        set
    }

    /// Distinct slices built so far (for benchmarks and tests).
    pub fn slices(&self) -> usize {
        self.cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}

fn principal_constraint(s: &Scope) -> Constraint<'_> {
    match &s.principal {
        PrincipalConstraint::Any => Constraint::Any,
        PrincipalConstraint::Eq(e) => Constraint::Eq(e),
        PrincipalConstraint::In(e) => Constraint::In(e, None),
        PrincipalConstraint::Is(t) => Constraint::Is(t),
        PrincipalConstraint::IsIn(t, e) => Constraint::In(e, Some(t)),
    }
}

fn resource_constraint(s: &Scope) -> Constraint<'_> {
    match &s.resource {
        ResourceConstraint::Any => Constraint::Any,
        ResourceConstraint::Eq(e) => Constraint::Eq(e),
        ResourceConstraint::In(e) => Constraint::In(e, None),
        ResourceConstraint::Is(t) => Constraint::Is(t),
        ResourceConstraint::IsIn(t, e) => Constraint::In(e, Some(t)),
    }
}

/// Whether `principal` satisfies a scope's principal constraint, as Cedar means it.
pub(crate) fn principal_in_scope(
    entities: &Entities,
    constraint: &PrincipalConstraint,
    principal: &EntityUid,
) -> bool {
    match constraint {
        PrincipalConstraint::Any => true,
        PrincipalConstraint::Eq(e) => principal == e,
        PrincipalConstraint::In(e) => is_in(entities, principal, e),
        PrincipalConstraint::Is(t) => principal.type_name() == t,
        PrincipalConstraint::IsIn(t, e) => {
            principal.type_name() == t && is_in(entities, principal, e)
        }
    }
}

fn action_in_scope(entities: &Entities, s: &Scope, action: &EntityUid) -> bool {
    match &s.action {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(e) => action == e,
        ActionConstraint::In(list) => list.iter().any(|e| is_in(entities, action, e)),
    }
}

/// Whether `resource` satisfies a scope's resource constraint, as Cedar means it.
pub(crate) fn resource_in_scope(
    entities: &Entities,
    constraint: &ResourceConstraint,
    resource: &EntityUid,
) -> bool {
    match constraint {
        ResourceConstraint::Any => true,
        ResourceConstraint::Eq(e) => resource == e,
        ResourceConstraint::In(e) => is_in(entities, resource, e),
        ResourceConstraint::Is(t) => resource.type_name() == t,
        ResourceConstraint::IsIn(t, e) => resource.type_name() == t && is_in(entities, resource, e),
    }
}
