//! Effective access per profile (DESIGN §2, §6): impersonation paths with their shortest chain,
//! direct grants (every non-impersonation action over fitting inventory resources, as a plain
//! request) and acting-as grants (P acting as S along P's shortest chain to S), each with the
//! policies that determine it. `snapshot` writes it; `drift` and `suffice --with/--without`
//! compare two of them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use cedar_policy::EntityUid;
use rayon::prelude::*;

use crate::analysis::access::{Query, Reached};
use crate::analysis::profiles::Profile;
use crate::core::ids::PolicyId;
use crate::engine::{Behind, ContextMap, Engine, DELEGATION_CHAIN, IMPERSONATOR};
use crate::reach::Uid;

/// One allowed request: `principal` (acting as `acting_as`, if any) may `action` on `resource`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    pub principal: EntityUid,
    pub acting_as: Option<EntityUid>,
    pub action: EntityUid,
    pub resource: EntityUid,
}

/// An impersonation path under one profile. Uids are shared with the identity numbering (an
/// organisation has millions of paths over thousands of identities).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PathKey {
    pub principal: Uid,
    pub target: Uid,
}

#[derive(Debug, Clone, Default)]
pub struct ProfileAccess {
    /// Path → (chain `[S1 … target]`, the policies that allow its hops; equal lists shared).
    pub paths: BTreeMap<PathKey, (Vec<Uid>, Arc<[PolicyId]>)>,
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

/// Every identity's direct grants under one profile, and each identity's own allowed
/// requests (which answer its acting-as requests of actions blind to the path).
fn direct_access<'i>(
    engine: &Engine,
    profile: &Profile,
    identities: &'i [EntityUid],
    others: &[EntityUid],
) -> (ProfileAccess, BTreeMap<&'i EntityUid, Vec<Allowed>>) {
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
    (out, own)
}

/// The acting-as grants of the paths `mine` (principal, target, chain, the policies of its
/// hops) under one profile: the account's own where the action is blind to the path,
/// evaluated along the chain where it is not.
fn acting_as_grants(
    engine: &Engine,
    ctx: &ContextMap,
    mine: &[(EntityUid, EntityUid, Vec<EntityUid>, Vec<PolicyId>)],
    own: &BTreeMap<&EntityUid, Vec<Allowed>>,
    aware: &[EntityUid],
) -> Vec<(Grant, Vec<PolicyId>)> {
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
            let grant = |action: EntityUid, resource: EntityUid| Grant {
                principal: principal.clone(),
                acting_as: Some(target.clone()),
                action,
                resource,
            };
            let mut grants = Vec::new();
            // Actions blind to the path: the account's own grants.
            for (action, resource, reasons) in own.get(target).into_iter().flatten() {
                if !aware.contains(action) {
                    grants.push((grant(action.clone(), resource.clone()), both(reasons)));
                }
            }
            let behind = Behind {
                origin: principal,
                chain,
            };
            let (allowed, _) = allowed_requests(engine, target, aware, ctx, Some(behind));
            for (action, resource, reasons) in allowed {
                grants.push((grant(action, resource), both(&reasons)));
            }
            grants
        })
        .collect();
    acting.into_iter().flatten().collect()
}

/// Effective access of the whole inventory under every profile.
///
/// Paths are streamed from [`Reached`] (about 20 bytes a path) into each profile's map, never
/// held a second time as whole [`access::Path`]s: an organisation where most people reach most
/// accounts has millions of them. The chains behind acting-as grants are kept only when some
/// action other than impersonation exists.
pub fn compute(engine: &Engine, profiles: &[Profile]) -> Effective {
    let others = other_actions(engine);
    // An acting-as request differs from the account's own only where the action declares the
    // impersonation attributes; elsewhere the account's direct grants answer it.
    let aware: Vec<EntityUid> = others
        .iter()
        .filter(|a| {
            engine.action(a).is_some_and(|i| {
                i.context.contains_key(IMPERSONATOR) || i.context.contains_key(DELEGATION_CHAIN)
            })
        })
        .cloned()
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
    let (mut access, own): (Vec<ProfileAccess>, Vec<_>) = profiles
        .iter()
        .map(|profile| direct_access(engine, profile, &identities, &others))
        .unzip();
    let keep_chains = !others.is_empty();
    type Mine = Vec<(EntityUid, EntityUid, Vec<EntityUid>, Vec<PolicyId>)>;
    let mut mine: Vec<Mine> = vec![Vec::new(); profiles.len()];
    let reached = Reached::compute(engine, profiles, &Query::All);
    let mut lists: HashMap<Vec<PolicyId>, Arc<[PolicyId]>> = HashMap::new();
    for p in reached.paths() {
        for (k, profile) in profiles.iter().enumerate() {
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
            if keep_chains {
                mine[k].push((
                    EntityUid::clone(&p.principal),
                    EntityUid::clone(&p.target),
                    route.chain.iter().map(|u| EntityUid::clone(u)).collect(),
                    policies.clone(),
                ));
            }
            let policies = match lists.get(&policies) {
                Some(shared) => shared.clone(),
                None => {
                    let shared: Arc<[PolicyId]> = policies.clone().into();
                    lists.insert(policies, shared.clone());
                    shared
                }
            };
            let key = PathKey {
                principal: p.principal.clone(),
                target: p.target.clone(),
            };
            access[k].paths.insert(key, (route.chain.clone(), policies));
        }
    }
    for (k, profile) in profiles.iter().enumerate() {
        let grants = acting_as_grants(engine, &profile.context, &mine[k], &own[k], &aware);
        access[k].grants.extend(grants);
        access[k].skipped.sort();
        access[k].skipped.dedup();
    }
    Effective {
        profiles: profiles.to_vec(),
        access,
    }
}
