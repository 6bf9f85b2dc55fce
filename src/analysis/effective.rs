//! Effective access per profile (DESIGN §2, §6): impersonation paths with their shortest chain,
//! direct grants (every non-impersonation action over fitting inventory resources, as a plain
//! request) and acting-as grants (P acting as S along P's shortest chain to S), each with the
//! policies that determine it. `snapshot` writes it; `drift` and `suffice --with/--without`
//! compare two of them.

use std::collections::BTreeMap;

use cedar_policy::EntityUid;
use rayon::prelude::*;

use crate::analysis::access::{self, Query};
use crate::analysis::profiles::Profile;
use crate::core::ids::PolicyId;
use crate::engine::{Behind, ContextMap, Engine, DELEGATION_CHAIN, IMPERSONATOR};

/// One allowed request: `principal` (acting as `acting_as`, if any) may `action` on `resource`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    pub principal: EntityUid,
    pub acting_as: Option<EntityUid>,
    pub action: EntityUid,
    pub resource: EntityUid,
}

/// An impersonation path under one profile.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PathKey {
    pub principal: EntityUid,
    pub target: EntityUid,
}

#[derive(Debug, Clone, Default)]
pub struct ProfileAccess {
    /// Path → (chain `[S1 … target]`, the policies that allow its hops).
    pub paths: BTreeMap<PathKey, (Vec<EntityUid>, Vec<PolicyId>)>,
    /// Grant → its determining policies.
    pub grants: BTreeMap<Grant, Vec<PolicyId>>,
    /// Actions that could not be evaluated under this profile, with why (a required context
    /// attribute the profile lacks).
    pub skipped: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Effective {
    pub profiles: Vec<Profile>,
    /// In profile order.
    pub access: Vec<ProfileAccess>,
}

/// An allowed request of one identity: action, resource, determining policies.
pub type Allowed = (EntityUid, EntityUid, Vec<PolicyId>);

/// The actions that are not impersonation actions, sorted.
fn other_actions(engine: &Engine) -> Vec<EntityUid> {
    let mut actions = engine.schema_actions();
    actions.retain(|a| !engine.actions.contains(a));
    actions
}

/// Every request `identity` is allowed among `actions` over fitting inventory resources, with
/// `behind` filled in where the action declares it; actions the context cannot serve are
/// returned as skipped, with why.
pub fn allowed_requests(
    engine: &Engine,
    identity: &EntityUid,
    actions: &[EntityUid],
    ctx: &ContextMap,
    behind: Option<Behind<'_>>,
) -> (Vec<Allowed>, Vec<String>) {
    let mut allowed = Vec::new();
    let mut skipped = Vec::new();
    for action in actions {
        let Some(info) = engine.action(action) else {
            continue;
        };
        if !info.principals.contains(identity.type_name()) {
            continue;
        }
        for resource in engine.inventory_of(&info.resources) {
            match engine.prepare(identity, action, &resource, ctx, behind) {
                Ok(p) => {
                    let e = engine.evaluate(&p);
                    if e.allowed {
                        allowed.push((action.clone(), resource, e.reasons));
                    }
                }
                Err(why) => {
                    skipped.push(why);
                    break;
                }
            }
        }
    }
    skipped.sort();
    skipped.dedup();
    (allowed, skipped)
}

/// Effective access under one profile: every identity's direct grants, then each path's
/// acting-as grants (the account's own where the action is blind to the path, evaluated along
/// the chain where it is not).
fn profile_access(
    engine: &Engine,
    paths: &access::Access,
    profile: &Profile,
    identities: &[EntityUid],
    others: &[EntityUid],
    path_aware: &[bool],
) -> ProfileAccess {
    let ctx = &profile.context;
    let mut out = ProfileAccess::default();
    let direct: Vec<_> = identities
        .par_iter()
        .map(|i| (i, allowed_requests(engine, i, others, ctx, None)))
        .collect();
    let mut own: BTreeMap<&EntityUid, Vec<Allowed>> = BTreeMap::new();
    for (identity, (allowed, skipped)) in direct {
        out.skipped.extend(skipped);
        for (action, resource, reasons) in &allowed {
            out.grants.insert(
                Grant {
                    principal: identity.clone(),
                    acting_as: None,
                    action: action.clone(),
                    resource: resource.clone(),
                },
                reasons.clone(),
            );
        }
        own.insert(identity, allowed);
    }
    // This profile's paths, with the chain each acting-as request is evaluated along.
    let mut mine: Vec<(&EntityUid, &EntityUid, Vec<EntityUid>, Vec<PolicyId>)> = Vec::new();
    for p in &paths.paths {
        let Some(route) = p.routes.iter().find(|r| r.profiles.contains(&profile.name)) else {
            continue;
        };
        let mut policies: Vec<PolicyId> = route
            .hops
            .iter()
            .flat_map(|h| h.policies.iter().cloned())
            .collect();
        policies.sort();
        policies.dedup();
        let chain: Vec<EntityUid> = route.chain.iter().map(|u| EntityUid::clone(u)).collect();
        out.paths.insert(
            PathKey {
                principal: EntityUid::clone(&p.principal),
                target: EntityUid::clone(&p.target),
            },
            (chain.clone(), policies.clone()),
        );
        mine.push((&*p.principal, &*p.target, chain, policies));
    }
    let aware: Vec<EntityUid> = others
        .iter()
        .zip(path_aware)
        .filter(|(_, a)| **a)
        .map(|(x, _)| x.clone())
        .collect();
    let acting: Vec<Vec<(Grant, Vec<PolicyId>)>> = mine
        .par_iter()
        .map(|(principal, target, chain, path_policies)| {
            // An acting-as grant is caused by the path as much as by the request.
            let both = |reasons: &[PolicyId]| {
                let mut all: Vec<PolicyId> = path_policies.iter().chain(reasons).cloned().collect();
                all.sort();
                all.dedup();
                all
            };
            let mut grants = Vec::new();
            // Actions blind to the path: the account's own grants.
            for (action, resource, reasons) in own.get(target).into_iter().flatten() {
                if !aware.contains(action) {
                    grants.push((
                        Grant {
                            principal: (*principal).clone(),
                            acting_as: Some((*target).clone()),
                            action: action.clone(),
                            resource: resource.clone(),
                        },
                        both(reasons),
                    ));
                }
            }
            let behind = Behind {
                origin: principal,
                chain,
            };
            let (allowed, _) = allowed_requests(engine, target, &aware, ctx, Some(behind));
            for (action, resource, reasons) in allowed {
                grants.push((
                    Grant {
                        principal: (*principal).clone(),
                        acting_as: Some((*target).clone()),
                        action,
                        resource,
                    },
                    both(&reasons),
                ));
            }
            grants
        })
        .collect();
    out.grants.extend(acting.into_iter().flatten());
    out.skipped.sort();
    out.skipped.dedup();
    out
}

/// Effective access of the whole inventory under every profile.
pub fn compute(engine: &Engine, profiles: &[Profile]) -> Effective {
    let paths = access::compute(engine, profiles, &Query::All);
    let others = other_actions(engine);
    // An acting-as request differs from the account's own only where the action declares the
    // impersonation attributes; elsewhere the account's direct grants answer it.
    let path_aware: Vec<bool> = others
        .iter()
        .map(|a| {
            engine.action(a).is_some_and(|i| {
                i.context.contains_key(IMPERSONATOR) || i.context.contains_key(DELEGATION_CHAIN)
            })
        })
        .collect();
    let identities = {
        let mut types = Vec::new();
        for a in &others {
            if let Some(i) = engine.action(a) {
                types.extend(i.principals.iter().cloned());
            }
        }
        engine.inventory_of(&types)
    };
    let access = profiles
        .iter()
        .map(|profile| profile_access(engine, &paths, profile, &identities, &others, &path_aware))
        .collect();
    Effective {
        profiles: profiles.to_vec(),
        access,
    }
}
