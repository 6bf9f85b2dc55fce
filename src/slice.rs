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

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use cedar_policy::{
    ActionConstraint, Effect, Entities, EntityUid, Policy, PolicySet, PrincipalConstraint,
    ResourceConstraint,
};

struct Scope {
    principal: PrincipalConstraint,
    action: ActionConstraint,
    resource: ResourceConstraint,
}

pub struct Slicer {
    policies: Vec<(Policy, Scope)>,
    full: PolicySet,
    cache: RwLock<HashMap<Vec<u64>, Arc<PolicySet>>>,
    /// Each policy alone (the hop matrix evaluates one policy at a time).
    alone: Vec<OnceLock<PolicySet>>,
}

/// `uid in target`, as Cedar means it.
fn is_in(entities: &Entities, uid: &EntityUid, target: &EntityUid) -> bool {
    uid == target || entities.is_ancestor_of(target, uid)
}

impl Slicer {
    pub fn new(set: &PolicySet) -> Self {
        let policies = set
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
        let alone = (0..set.policies().count())
            .map(|_| OnceLock::new())
            .collect();
        Self {
            policies,
            full: set.clone(),
            cache: RwLock::new(HashMap::new()),
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
            let mut mask = vec![0u64; self.policies.len().div_ceil(64)];
            mask[i / 64] |= 1 << (i % 64);
            self.build(&mask)
        })
    }

    pub fn principal_matches(&self, i: usize, entities: &Entities, principal: &EntityUid) -> bool {
        principal_in_scope(entities, &self.policies[i].1, principal)
    }

    pub fn action_matches(&self, i: usize, entities: &Entities, action: &EntityUid) -> bool {
        action_in_scope(entities, &self.policies[i].1, action)
    }

    pub fn resource_matches(&self, i: usize, entities: &Entities, resource: &EntityUid) -> bool {
        resource_in_scope(entities, &self.policies[i].1, resource)
    }

    /// The policies whose scope can match the request.
    pub fn slice(
        &self,
        entities: &Entities,
        principal: &EntityUid,
        action: &EntityUid,
        resource: &EntityUid,
    ) -> Arc<PolicySet> {
        let mut mask = vec![0u64; self.policies.len().div_ceil(64)];
        for (i, (_, s)) in self.policies.iter().enumerate() {
            if matches(entities, s, principal, action, resource) {
                mask[i / 64] |= 1 << (i % 64);
            }
        }
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

fn matches(
    entities: &Entities,
    s: &Scope,
    principal: &EntityUid,
    action: &EntityUid,
    resource: &EntityUid,
) -> bool {
    principal_in_scope(entities, s, principal)
        && action_in_scope(entities, s, action)
        && resource_in_scope(entities, s, resource)
}

fn principal_in_scope(entities: &Entities, s: &Scope, principal: &EntityUid) -> bool {
    match &s.principal {
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

fn resource_in_scope(entities: &Entities, s: &Scope, resource: &EntityUid) -> bool {
    match &s.resource {
        ResourceConstraint::Any => true,
        ResourceConstraint::Eq(e) => resource == e,
        ResourceConstraint::In(e) => is_in(entities, resource, e),
        ResourceConstraint::Is(t) => resource.type_name() == t,
        ResourceConstraint::IsIn(t, e) => resource.type_name() == t && is_in(entities, resource, e),
    }
}
