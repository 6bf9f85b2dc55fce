//! A witness on the inventory: before the solver is asked whether a permit breaks a guarantee
//! (see `proved.rs`), a few requests between the workspace's own entities are put to Cedar,
//! under each profile's context with the guaranteed attribute broken (left out, or a value no
//! bound allows, an empty justification, MFA false). A request Cedar allows, with the permit
//! and every forbid of the action, settles the question: the inventory conforms to the schema,
//! so it is one of the requests the solver ranges over, and a real person and account make a
//! better example than invented ones. Finding none proves nothing: the solver is asked as before.
//!
//! On the organisation worlds nearly every question the rules put to the solver was answered
//! "broken" (165 of 167 on the deep shape), each a solver query of about 0.2 s; evaluating a
//! request is some 20 µs.

use cedar_policy::{
    Authorizer, Decision, EntityTypeName, EntityUid, PolicySet, PrincipalConstraint,
    ResourceConstraint,
};
use rustc_hash::FxHashMap;
use serde_json::{Map, Value};

use crate::engine::slice::{principal_in_scope, resource_in_scope};
use crate::engine::Engine;

/// At most this many principals, and as many resources, in the permit's scope are tried (in
/// uid order): a witness is a shortcut, not a search, and the solver follows when none is found.
const TRIED: usize = 16;

/// The attribute a guarantee reads, and the value that breaks it (`None`: left out).
pub(super) struct Broken<'a> {
    pub attr: &'a str,
    pub value: Option<Value>,
}

/// The inventory by entity type, each list sorted by uid string (built once per `check`).
pub(super) struct Inventory(FxHashMap<EntityTypeName, Vec<EntityUid>>);

impl Inventory {
    pub(super) fn new(engine: &Engine) -> Self {
        let mut types: Vec<EntityTypeName> = engine
            .entities
            .iter()
            .map(|e| e.uid().type_name().clone())
            .collect();
        types.sort_by_cached_key(ToString::to_string);
        types.dedup();
        Inventory(
            types
                .into_iter()
                .map(|t| {
                    let uids = engine.inventory_of(std::slice::from_ref(&t));
                    (t, uids)
                })
                .collect(),
        )
    }

    /// Up to [`TRIED`] entities of `types`, in uid order within each type, that `fits`.
    fn first(
        &self,
        types: &[EntityTypeName],
        fits: impl Fn(&EntityUid) -> bool,
    ) -> Vec<&EntityUid> {
        types
            .iter()
            .filter_map(|t| self.0.get(t))
            .flatten()
            .filter(|u| fits(u))
            .take(TRIED)
            .collect()
    }
}

/// The requests tried for one question: the action, the guarantee broken, the principal types.
pub(super) struct Witnesses<'a> {
    engine: &'a Engine,
    inventory: &'a Inventory,
    action: &'a EntityUid,
    broken: &'a Broken<'a>,
    /// The profiles' contexts with the guarantee broken.
    contexts: Vec<Map<String, Value>>,
    principal_types: Vec<EntityTypeName>,
}

impl<'a> Witnesses<'a> {
    /// The requests of `action` with `broken` in each of `contexts` (the profiles'), their
    /// principal of one of `principal_types` when given.
    pub(super) fn new(
        engine: &'a Engine,
        inventory: &'a Inventory,
        contexts: &[&Map<String, Value>],
        action: &'a EntityUid,
        broken: &'a Broken<'a>,
        principal_types: Option<&[String]>,
    ) -> Option<Self> {
        let info = engine.action(action)?;
        let principal_types = info
            .principals
            .iter()
            .filter(|t| principal_types.is_none_or(|ts| ts.contains(&t.to_string())))
            .cloned()
            .collect();
        let contexts = contexts
            .iter()
            .map(|c| {
                let mut c = (*c).clone();
                match &broken.value {
                    Some(v) => c.insert(broken.attr.to_string(), v.clone()),
                    None => c.remove(broken.attr),
                };
                c
            })
            .collect();
        Some(Witnesses {
            engine,
            inventory,
            action,
            broken,
            contexts,
            principal_types,
        })
    }

    /// A request in `scope` (a permit's, or one link's) that `policies` (that permit or link
    /// and the forbids of the action) allow, in words as the solver's examples are.
    pub(super) fn find(
        &self,
        policies: &PolicySet,
        scope: (&PrincipalConstraint, &ResourceConstraint),
    ) -> Option<String> {
        let engine = self.engine;
        let info = engine.action(self.action)?;
        let principals = self.inventory.first(&self.principal_types, |u| {
            principal_in_scope(&engine.entities, scope.0, u)
        });
        if principals.is_empty() {
            return None;
        }
        let resources = self.inventory.first(&info.resources, |u| {
            resource_in_scope(&engine.entities, scope.1, u)
        });
        let authorizer = Authorizer::new();
        for p in &principals {
            for r in &resources {
                for context in &self.contexts {
                    let Ok(request) = engine.prepare(p, self.action, r, context, None) else {
                        continue;
                    };
                    let decision = authorizer
                        .is_authorized(&request.request, policies, &engine.entities)
                        .decision();
                    if decision == Decision::Allow {
                        let attr = self.broken.attr;
                        return Some(match &self.broken.value {
                            Some(v) => format!("{p} → {r} with `context.{attr}` = {v}"),
                            None => format!("{p} → {r} without `context.{attr}`"),
                        });
                    }
                }
            }
        }
        None
    }
}
