//! Effective access per profile (DESIGN §2, §6): impersonation paths with their shortest chain,
//! direct grants (every non-impersonation action over fitting inventory resources, as a plain
//! request; computed with the hop matrix's classes, see [`crate::reach::direct_grants`]) and acting-as grants (P acting as S along P's shortest chain to S), each with the
//! policies that determine it. `snapshot` writes it; `drift` and `suffice --with/--without`
//! compare two of them.
//!
//! An organisation has millions of paths, and P acting as S holds what S holds in almost every
//! one, so neither is materialised:
//! - paths stay in [`Reached`]'s compact form and are streamed, one profile at a time, to
//!   whoever needs them (the baseline, the comparisons, the lint rules);
//! - an acting-as request decides as the account's own unless a policy that may read who is
//!   behind it (`context.impersonator`, `context.delegation_chain`, the whole context) applies
//!   to it. Only those requests are evaluated, once per (account, group of origins that such
//!   policies cannot tell apart; see [`crate::reach::acting_as_groups`]), and only where the
//!   outcome differs from the account's own is anything recorded: a grant the account does not
//!   hold itself (or holds by other policies), or one of its grants withheld from the acting
//!   principal. Every other acting-as grant is the path with the account's own grant.

use std::collections::BTreeMap;

use cedar_policy::EntityUid;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::analysis::access::{Query, Reached};
use crate::analysis::profiles::Profile;
use crate::core::ids::PolicyId;
use crate::engine::{Behind, ContextMap, Engine, DELEGATION_CHAIN, IMPERSONATOR};

/// One request: `principal` (acting as `acting_as`, if any) may `action` on `resource`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    pub principal: EntityUid,
    pub acting_as: Option<EntityUid>,
    pub action: EntityUid,
    pub resource: EntityUid,
}

#[derive(Debug, Clone, Default)]
pub struct ProfileAccess {
    /// Direct grants, and the acting-as grants that differ from the account's own (it does
    /// not hold them, or holds them by other policies), each with its determining policies
    /// (for acting-as grants, the path's too).
    pub grants: BTreeMap<Grant, Vec<PolicyId>>,
    /// Acting-as requests denied where the account alone is allowed, with the policies that
    /// deny each.
    pub withheld: BTreeMap<Grant, Vec<PolicyId>>,
    /// Actions that could not be evaluated under this profile, with why (a required context
    /// attribute the profile lacks).
    pub skipped: Vec<String>,
}

pub struct Effective<'e> {
    pub profiles: Vec<Profile>,
    /// Every path under every profile.
    pub reached: Reached<'e>,
    /// In profile order.
    pub access: Vec<ProfileAccess>,
}

impl Effective<'_> {
    /// The policies of the path from `principal` to `target` under the profile named
    /// `profile` (uids as strings, as the baseline writes them), if there is one.
    pub fn path_policies(
        &self,
        profile: &str,
        principal: &str,
        target: &str,
    ) -> Option<Vec<PolicyId>> {
        let k = self.profiles.iter().position(|p| p.name == profile)?;
        let path = self
            .reached
            .path_under(k, self.number(principal)?, self.number(target)?)?;
        Some(path.policies())
    }

    /// Everyone who reaches one of `targets` under the profile named `profile`: (principal,
    /// target) uid strings, in one pass over the paths.
    pub fn paths_to(&self, profile: &str, targets: &[&str]) -> Vec<(String, String)> {
        let Some(k) = self.profiles.iter().position(|p| p.name == profile) else {
            return Vec::new();
        };
        let wanted: rustc_hash::FxHashSet<u32> =
            targets.iter().filter_map(|t| self.number(t)).collect();
        if wanted.is_empty() {
            return Vec::new();
        }
        self.reached
            .map_profile_paths(k, |p| {
                wanted
                    .contains(&p.target)
                    .then(|| (p.principal_name().to_string(), p.target_name().to_string()))
            })
            .flatten()
            .collect()
    }

    /// An identity's number, from its uid string.
    fn number(&self, uid: &str) -> Option<u32> {
        let names = &self.reached.identities().names;
        names
            .binary_search_by(|n| n.as_ref().cmp(uid))
            .ok()
            .map(|n| n as u32)
    }
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

/// Every identity's direct grants under one profile (see [`crate::reach::direct_grants`]).
fn direct_access(engine: &Engine, profile: &Profile, others: &[EntityUid]) -> ProfileAccess {
    let (allowed, skipped) = crate::reach::direct_grants(engine, &profile.context, others);
    let mut out = ProfileAccess {
        skipped,
        ..ProfileAccess::default()
    };
    for (principal, action, resource, reasons) in allowed {
        let grant = Grant {
            principal,
            acting_as: None,
            action,
            resource,
        };
        out.grants.insert(grant, reasons);
    }
    out
}

/// How an acting-as request decides unlike the account's own request.
#[derive(Debug, Clone)]
struct Difference {
    action: EntityUid,
    resource: EntityUid,
    /// Denied where the account alone is allowed (else allowed where it is not, or by other
    /// policies).
    withheld: bool,
    reasons: Vec<PolicyId>,
}

/// The requests of aware actions on which an acting-as request may decide unlike the account's
/// own: per action, the inventory resources in scope of a policy that may read who is behind.
struct Exposed {
    /// Per aware action: (policy, the resources in its scope).
    by_action: Vec<(EntityUid, Vec<InScope>)>,
}

/// A policy (the slicer's order) and the inventory resources in its scope.
type InScope = (usize, Vec<EntityUid>);

impl Exposed {
    fn new(engine: &Engine, aware: &[EntityUid]) -> Self {
        if aware.is_empty() {
            return Self {
                by_action: Vec::new(),
            };
        }
        let slicer = engine.slicer();
        let reading: Vec<usize> = (0..slicer.len())
            .filter(|&i| engine.reads_behind(i))
            .collect();
        let entities = &engine.entities;
        let by_action = aware
            .iter()
            .filter_map(|a| {
                let info = engine.action(a)?;
                let inventory = engine.inventory_of(&info.resources);
                let policies: Vec<InScope> = reading
                    .iter()
                    .filter(|&&i| slicer.action_matches(i, entities, a))
                    .map(|&i| {
                        let resources = inventory
                            .iter()
                            .filter(|r| slicer.resource_matches(i, entities, r))
                            .cloned()
                            .collect();
                        (i, resources)
                    })
                    .collect();
                (!policies.is_empty()).then(|| (a.clone(), policies))
            })
            .collect();
        Self { by_action }
    }

    fn is_empty(&self) -> bool {
        self.by_action.is_empty()
    }

    /// The (action, resource) requests of `account` that such a policy applies to.
    fn requests_of(&self, engine: &Engine, account: &EntityUid) -> Vec<(&EntityUid, &EntityUid)> {
        let slicer = engine.slicer();
        let mut out = Vec::new();
        for (action, policies) in &self.by_action {
            if !engine
                .action(action)
                .is_some_and(|i| i.principals.contains(account.type_name()))
            {
                continue;
            }
            let mut resources: Vec<&EntityUid> = policies
                .iter()
                .filter(|(i, _)| slicer.principal_matches(*i, &engine.entities, account))
                .flat_map(|(_, rs)| rs)
                .collect();
            resources.sort();
            resources.dedup();
            out.extend(resources.into_iter().map(|r| (action, r)));
        }
        out
    }
}

/// How `account`'s requests exposed to who is behind decide with `behind` unlike its own.
fn differences(
    engine: &Engine,
    exposed: &Exposed,
    own: &ProfileAccess,
    ctx: &ContextMap,
    account: &EntityUid,
    behind: Behind<'_>,
) -> Vec<Difference> {
    let mut out = Vec::new();
    for (action, resource) in exposed.requests_of(engine, account) {
        let Ok(p) = engine.prepare(account, action, resource, ctx, Some(behind)) else {
            // The direct requests of the action were skipped for the same reason.
            continue;
        };
        let e = engine.evaluate(&p);
        let key = Grant {
            principal: account.clone(),
            acting_as: None,
            action: action.clone(),
            resource: resource.clone(),
        };
        let differs = match own.grants.get(&key) {
            Some(reasons) => !e.allowed || *reasons != e.reasons,
            None => e.allowed,
        };
        if differs {
            out.push(Difference {
                action: action.clone(),
                resource: resource.clone(),
                withheld: !e.allowed,
                reasons: e.reasons,
            });
        }
    }
    out
}

/// The acting-as grants of profile `k` that differ from the accounts' own, into `access`.
fn acting_as(
    engine: &Engine,
    reached: &Reached<'_>,
    k: usize,
    exposed: &Exposed,
    aware: &[EntityUid],
    access: &mut ProfileAccess,
) {
    let ctx = &reached.profiles[k].context;
    let identities = reached.identities();
    let uid = |n: u32| -> &EntityUid { &identities.uids[n as usize] };
    let groups = crate::reach::acting_as_groups(engine, identities, ctx, aware);
    // Per (account, group of origins): how its exposed requests decide for them, evaluated
    // for the first path of each (any member and any chain decide alike).
    let mut by_group: FxHashMap<(u32, u32), Vec<Difference>> = FxHashMap::default();
    if let Some(groups) = &groups {
        let mut first: FxHashMap<(u32, u32), u32> = FxHashMap::default();
        for (p, t) in reached.map_profile_paths(k, |p| (p.principal, p.target)) {
            first.entry((t, groups[p as usize])).or_insert(p);
        }
        let own = &*access;
        by_group = first
            .into_par_iter()
            .map(|(key, p)| {
                let chain = reached
                    .path_under(k, p, key.0)
                    .map(|path| path.chain_uids())
                    .unwrap_or_default();
                let behind = Behind {
                    origin: uid(p),
                    chain: &chain,
                };
                (
                    key,
                    differences(engine, exposed, own, ctx, uid(key.0), behind),
                )
            })
            .collect();
    }
    let own = &*access;
    // Taken chunk by chunk as the workers make them: one (mostly empty) list per path, held
    // for all of a profile's millions of paths, was the largest allocation of `check`.
    let found = reached.map_profile_paths(k, |path| {
        let computed;
        let diffs = match &groups {
            Some(groups) => match by_group.get(&(path.target, groups[path.principal as usize])) {
                Some(d) => d,
                None => return Vec::new(),
            },
            None => {
                let chain = path.chain_uids();
                let behind = Behind {
                    origin: uid(path.principal),
                    chain: &chain,
                };
                computed = differences(engine, exposed, own, ctx, uid(path.target), behind);
                &computed
            }
        };
        if diffs.is_empty() {
            return Vec::new();
        }
        // An acting-as grant is caused by the path as much as by the request.
        let path_policies = path.policies();
        diffs
            .iter()
            .map(|d| {
                let grant = Grant {
                    principal: uid(path.principal).clone(),
                    acting_as: Some(uid(path.target).clone()),
                    action: d.action.clone(),
                    resource: d.resource.clone(),
                };
                let mut reasons = d.reasons.clone();
                if !d.withheld {
                    reasons.extend(path_policies.iter().cloned());
                    reasons.sort();
                    reasons.dedup();
                }
                (grant, reasons, d.withheld)
            })
            .collect::<Vec<_>>()
    });
    let found: Vec<(Grant, Vec<PolicyId>, bool)> = found.flatten().collect();
    for (grant, reasons, withheld) in found {
        if withheld {
            access.withheld.insert(grant, reasons);
        } else {
            access.grants.insert(grant, reasons);
        }
    }
}

/// Effective access of the whole inventory under every profile.
pub fn compute<'e>(engine: &'e Engine, profiles: &[Profile]) -> Effective<'e> {
    let others = other_actions(engine);
    // An acting-as request can differ from the account's own only where the action declares
    // the impersonation attributes; elsewhere the account's direct grants answer it.
    let aware: Vec<EntityUid> = others
        .iter()
        .filter(|a| {
            engine.action(a).is_some_and(|i| {
                i.context.contains_key(IMPERSONATOR) || i.context.contains_key(DELEGATION_CHAIN)
            })
        })
        .cloned()
        .collect();
    let mut access: Vec<ProfileAccess> = profiles
        .iter()
        .map(|profile| direct_access(engine, profile, &others))
        .collect();
    let reached = Reached::compute(engine, profiles, &Query::All);
    let exposed = Exposed::new(engine, &aware);
    for (k, a) in access.iter_mut().enumerate() {
        if !exposed.is_empty() {
            acting_as(engine, &reached, k, &exposed, &aware, a);
        }
        a.skipped.sort();
        a.skipped.dedup();
    }
    Effective {
        profiles: profiles.to_vec(),
        reached,
        access,
    }
}
