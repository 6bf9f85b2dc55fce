//! Rules that evaluate access through the engine, over the inventory and every profile:
//! escalating-chain, impersonation-cycle and dead-policy (from effective access, DESIGN §6), and
//! non-attributable-path (the configured identity-granting actions, evaluated as plain requests).

use std::collections::{BTreeMap, BTreeSet};

use cedar_policy::{EntityUid, EvalResult};

use super::policy_rules::Policies;
use super::{first_few, Finding, RuleId};
use crate::analysis::effective::{self, Effective, Grant};
use crate::analysis::{human_by_number, profiles};
use crate::core::ids::PolicyId;
use crate::workspace::lint_settings::AccountRef;
use crate::workspace::Workspace;

pub fn lint(
    ws: &Workspace,
    policies: &Policies<'_>,
    on: &dyn Fn(RuleId) -> bool,
    skipped: &mut Vec<String>,
) -> Vec<Finding> {
    let uses_access = [
        RuleId::EscalatingChain,
        RuleId::ImpersonationCycle,
        RuleId::DeadPolicy,
    ];
    let wanted = uses_access.iter().any(|r| on(*r))
        || (on(RuleId::NonAttributablePath) && !ws.lint.unattributed.is_empty());
    if !wanted {
        return Vec::new();
    }
    let profiles = match profiles::select(ws, &[], None) {
        Ok(p) => p,
        Err(problems) => {
            let why = problems
                .first()
                .map_or_else(String::new, |p| p.message.clone());
            skipped.push(format!(
                "the access rules ({}, non-attributable-path): no profiles to evaluate under: {why}",
                uses_access.map(|r| r.rule().name).join(", ")
            ));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    if uses_access.iter().any(|r| on(*r)) {
        let eff = effective::compute(&ws.engine, &profiles);
        let names: Vec<&str> = eff.profiles.iter().map(|p| p.name.as_str()).collect();
        if on(RuleId::EscalatingChain) {
            out.extend(escalating_chains(ws, policies, &eff));
        }
        if on(RuleId::ImpersonationCycle) {
            out.extend(cycles(policies, &eff));
        }
        if on(RuleId::DeadPolicy) {
            out.extend(dead_policies(ws, policies, &eff, &names));
        }
    }
    if on(RuleId::NonAttributablePath) {
        out.extend(non_attributable(ws, policies, &profiles));
    }
    out
}

fn chain_text(principal: &EntityUid, chain: &[EntityUid]) -> String {
    std::iter::once(principal)
        .chain(chain)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" → ")
}

/// A finding at the first of `ids` with the others as related places.
fn at_policies(
    policies: &Policies<'_>,
    rule: RuleId,
    ids: &[PolicyId],
    message: String,
    help: &str,
) -> Finding {
    let first = ids.first().map_or("", PolicyId::as_str);
    let mut f = Finding::new(rule.rule(), policies.at(first, message).with_help(help));
    f.related = ids
        .iter()
        .skip(1)
        .map(|id| policies.at(id, format!("`{id}` is part of it")))
        .collect();
    f.policies = ids.to_vec();
    f
}

/// Per (account, target) with profiles in order: what the rules below gather across profiles.
#[derive(Default)]
struct Gathered {
    profiles: Vec<String>,
    chain: Vec<EntityUid>,
    items: BTreeSet<String>,
    policies: BTreeSet<PolicyId>,
}

impl Gathered {
    /// Notes that the finding holds under `profile` (each profile once, in order).
    fn under(&mut self, profile: &str) {
        if !self.profiles.iter().any(|p| p == profile) {
            self.profiles.push(profile.to_string());
        }
    }
}

fn escalating_chains(ws: &Workspace, policies: &Policies<'_>, eff: &Effective) -> Vec<Finding> {
    let mut found: BTreeMap<(EntityUid, EntityUid), Gathered> = BTreeMap::new();
    let reached = &eff.reached;
    let uids = &reached.identities().uids;
    // Looked up once per identity, not once per path.
    let human = human_by_number(&ws.human_types, reached.identities());
    for (k, (profile, access)) in eff.profiles.iter().zip(&eff.access).enumerate() {
        // What each account holds itself, and what is recorded acting as it (see
        // `effective.rs`): an acting-as grant is the account's own unless withheld, or recorded.
        let mut own: BTreeMap<&EntityUid, Vec<&Grant>> = BTreeMap::new();
        let mut recorded: BTreeMap<(&EntityUid, &EntityUid), Vec<&Grant>> = BTreeMap::new();
        for g in access.grants.keys() {
            match &g.acting_as {
                None => own.entry(&g.principal).or_default().push(g),
                Some(target) => recorded.entry((&g.principal, target)).or_default().push(g),
            }
        }
        let holds = |principal: &EntityUid, action: &EntityUid, resource: &EntityUid| {
            access.grants.contains_key(&Grant {
                principal: principal.clone(),
                acting_as: None,
                action: action.clone(),
                resource: resource.clone(),
            })
        };
        let paths: Vec<(u32, u32)> = reached
            .map_profile_paths(k, |p| {
                (!human[p.principal as usize]).then_some((p.principal, p.target))
            })
            .flatten()
            .collect();
        for (p, t) in paths {
            let (principal, target) = (&*uids[p as usize], &*uids[t as usize]);
            let along = own.get(target).into_iter().flatten().filter(|g| {
                !access.withheld.contains_key(&Grant {
                    principal: principal.clone(),
                    acting_as: Some(target.clone()),
                    action: g.action.clone(),
                    resource: g.resource.clone(),
                })
            });
            let extra = recorded.get(&(principal, target)).into_iter().flatten();
            let gained: BTreeSet<String> = along
                .chain(extra)
                .filter(|g| !holds(principal, &g.action, &g.resource))
                .map(|g| format!("{} on {}", g.action, g.resource))
                .collect();
            if gained.is_empty() {
                continue;
            }
            let Some(path) = reached.path_under(k, p, t) else {
                continue;
            };
            let g = found
                .entry((principal.clone(), target.clone()))
                .or_default();
            g.under(&profile.name);
            if g.chain.is_empty() {
                g.chain = path.chain_uids();
            }
            g.items.extend(gained);
            g.policies.extend(path.policies());
        }
    }
    found
        .into_iter()
        .map(|((principal, target), g)| {
            let ids: Vec<PolicyId> = g.policies.into_iter().collect();
            at_policies(
                policies,
                RuleId::EscalatingChain,
                &ids,
                format!(
                    "`{principal}` gains {} by acting as `{target}` ({}) that it does not hold itself: {} (profiles: {})",
                    crate::core::diag::plural(g.items.len(), "grant", "grants"),
                    chain_text(&principal, &g.chain),
                    first_few(&g.items),
                    g.profiles.join(", ")
                ),
                "if the delegation is meant, grant the account what it needs directly or suppress this on the hop's policy with a reason; otherwise narrow the impersonation permit",
            )
        })
        .collect()
}

fn cycles(policies: &Policies<'_>, eff: &Effective) -> Vec<Finding> {
    let mut found: BTreeMap<Vec<EntityUid>, Gathered> = BTreeMap::new();
    let reached = &eff.reached;
    let uids = &reached.identities().uids;
    // Only a principal that some path reaches can be reached back (most principals are
    // people, whom nobody may impersonate): the others' paths need no lookup.
    let reachable = reached.reachable();
    for (k, profile) in eff.profiles.iter().enumerate() {
        // Each path whose target reaches its principal back, in path order (by principal):
        // each principal's run at once, so the rule costs the number of paths. Taken as made,
        // not collected: a dense world has millions.
        let mut back = reached
            .map_profile_paths(k, |p| {
                (reachable[p.principal as usize] && reached.reaches(k, p.target, p.principal))
                    .then_some((p.principal, p.target))
            })
            .flatten()
            .peekable();
        let mut run: Vec<(u32, u32)> = Vec::new();
        while let Some(start) = back.next() {
            run.clear();
            run.push(start);
            while let Some(next) = back.next_if(|x| x.0 == start.0) {
                run.push(next);
            }
            let a = start.0;
            // One finding per cycle class, found from its first member (numbers are in uid
            // string order): its members, each reaching and reached by `a`.
            if run.iter().any(|&(_, t)| t < a) {
                continue;
            }
            let first = run[0].1;
            let mut members: Vec<EntityUid> = run
                .iter()
                .map(|&(_, t)| EntityUid::clone(&uids[t as usize]))
                .chain(std::iter::once(EntityUid::clone(&uids[a as usize])))
                .collect();
            members.sort_by_cached_key(ToString::to_string);
            let g = found.entry(members).or_default();
            g.under(&profile.name);
            if g.chain.is_empty() {
                // a → … → first → … → a
                let (Some(there), Some(back)) = (
                    reached.path_under(k, a, first),
                    reached.path_under(k, first, a),
                ) else {
                    continue;
                };
                g.chain = there.chain_uids();
                g.chain.extend(back.chain_uids());
                g.policies.extend(there.policies());
                g.policies.extend(back.policies());
            }
        }
    }
    found
        .into_iter()
        .map(|(members, g)| {
            let ids: Vec<PolicyId> = g.policies.into_iter().collect();
            at_policies(
                policies,
                RuleId::ImpersonationCycle,
                &ids,
                format!(
                    "{} can impersonate each other in a cycle: {} (profiles: {})",
                    members
                        .iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    chain_text(&members[0], &g.chain),
                    g.profiles.join(", ")
                ),
                "a cycle lets either account regain the other's identity and hides who started a chain; break it by narrowing one of the permits",
            )
        })
        .collect()
}

fn dead_policies(
    ws: &Workspace,
    policies: &Policies<'_>,
    eff: &Effective,
    profiles: &[&str],
) -> Vec<Finding> {
    // The policies of every hop of every path, and of every recorded grant: an acting-as
    // grant that is not recorded is the path's and the account's own grant's.
    let hops = eff.reached.hops_used().policies;
    let mut live: BTreeSet<&str> = hops.iter().map(PolicyId::as_str).collect();
    for access in &eff.access {
        for ids in access.grants.values() {
            live.extend(ids.iter().map(PolicyId::as_str));
        }
    }
    let mut out = Vec::new();
    for p in ws.engine.policies.policies() {
        let id = crate::core::ids::raw(p.id()).to_string();
        if p.effect() != cedar_policy::Effect::Permit || live.contains(id.as_str()) {
            continue;
        }
        let what = match policies.links.iter().find(|l| l.id == id) {
            Some(l) => {
                let slot =
                    |name: &str, v: &Option<EntityUid>| v.as_ref().map(|u| format!("{name} `{u}`"));
                let slots: Vec<String> = [
                    slot("principal", &l.principal),
                    slot("resource", &l.resource),
                ]
                .into_iter()
                .flatten()
                .collect();
                format!(
                    "link `{id}` of template `{}` ({})",
                    l.template,
                    slots.join(", ")
                )
            }
            None => format!("permit `{id}`"),
        };
        out.push(at_policies(
            policies,
            RuleId::DeadPolicy,
            &[PolicyId::new(id.clone())],
            format!(
                "{what} decides no request over the inventory under any profile ({})",
                profiles.join(", ")
            ),
            "it never applies to an inventory request, or a forbid overrides it wherever it does; remove it, or add to the inventory (and scenarios) what it is meant for",
        ));
    }
    out
}

fn non_attributable(
    ws: &Workspace,
    policies: &Policies<'_>,
    profiles: &[profiles::Profile],
) -> Vec<Finding> {
    let engine = &ws.engine;
    // (account, action, resource) → principals, profiles, policies
    let mut found: BTreeMap<(String, String, String), (Gathered, BTreeSet<String>)> =
        BTreeMap::new();
    for u in &ws.lint.unattributed {
        let Some(info) = engine.action(&u.action) else {
            continue;
        };
        let principals = engine.inventory_of(&info.principals);
        let resources = engine.inventory_of(&info.resources);
        for profile in profiles {
            for resource in &resources {
                let account = match &u.account {
                    AccountRef::Resource => Some(resource.clone()),
                    AccountRef::Attribute(attr) => engine
                        .entities
                        .get(resource)
                        .and_then(|e| e.attr(attr.as_str()))
                        .and_then(Result::ok)
                        .and_then(|v| match v {
                            EvalResult::EntityUid(uid) => Some(uid),
                            _ => None,
                        }),
                };
                let Some(account) = account else {
                    continue;
                };
                for principal in principals.iter().filter(|p| **p != account) {
                    let Ok(req) =
                        engine.prepare(principal, &u.action, resource, &profile.context, None)
                    else {
                        continue;
                    };
                    let e = engine.evaluate(&req);
                    if !e.allowed {
                        continue;
                    }
                    let (g, who) = found
                        .entry((
                            account.to_string(),
                            u.action.to_string(),
                            resource.to_string(),
                        ))
                        .or_default();
                    g.under(&profile.name);
                    g.policies.extend(e.reasons);
                    who.insert(principal.to_string());
                }
            }
        }
    }
    found
        .into_iter()
        .map(|((account, action, resource), (g, who))| {
            let ids: Vec<PolicyId> = g.policies.into_iter().collect();
            let via = if account == resource {
                String::new()
            } else {
                format!(" on `{resource}`")
            };
            at_policies(
                policies,
                RuleId::NonAttributablePath,
                &ids,
                format!(
                    "{} can take on `{account}`'s identity through `{action}`{via} without impersonating it (profiles: {})",
                    first_few(&who),
                    g.profiles.join(", ")
                ),
                "such access bypasses the impersonation controls (duration, justification, MFA) and audit shows the account alone; grant it only to the account's owners, or route the need through impersonation",
            )
        })
        .collect()
}
