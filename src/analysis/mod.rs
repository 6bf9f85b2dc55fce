//! Analyses over the whole inventory: profiles, impersonation paths, summary figures.

pub mod access;
pub(crate) mod baseline;
pub(crate) mod compare;
pub mod coverage;
pub mod effective;
pub mod item;
pub mod profiles;
pub(crate) mod summary;
pub mod why_not;

use std::collections::{BTreeMap, BTreeSet};

use cedar_policy::{EntityUid, PolicyId};

use crate::analysis::access::Access;
use crate::workspace::Workspace;

/// What a report shows of a policy, so readers see the conditions themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyInfo {
    pub id: String,
    /// `permit` or `forbid`.
    pub effect: &'static str,
    /// The template a link was made from.
    pub template: Option<crate::core::ids::PolicyId>,
    /// The `@description` annotation (a link's is its template's).
    pub description: Option<String>,
    /// The file it was read from (a link: the links file).
    pub file: String,
    /// The policy's Cedar text (a link: its template's text under a comment with the slots).
    pub text: String,
}

/// The policies that determine some hop of `access`, by id.
pub fn policies_used(ws: &Workspace, access: &Access) -> BTreeMap<String, PolicyInfo> {
    let ids: BTreeSet<&str> = access
        .paths
        .iter()
        .flat_map(|p| &p.routes)
        .flat_map(|r| &r.hops)
        .flat_map(|h| h.policies.iter())
        .map(|id| id.as_str())
        .collect();
    policy_infos(ws, ids)
}

/// What a report shows of each of the policies `ids`, by id.
pub fn policy_infos<'a>(
    ws: &Workspace,
    ids: impl IntoIterator<Item = &'a str>,
) -> BTreeMap<String, PolicyInfo> {
    ids.into_iter()
        .filter_map(|id| Some((id.to_string(), policy_info(ws, id)?)))
        .collect()
}

/// Whether `uid` is of one of the human types (`impersonation.human_types`).
pub fn is_human(human_types: &[String], uid: &EntityUid) -> bool {
    let ty = uid.type_name().to_string();
    human_types.contains(&ty)
}

/// [`is_human`] for each identity, by number (see [`crate::reach::Identities`]): looked up once
/// per identity rather than once per path of millions.
pub fn human_by_number(human_types: &[String], identities: &crate::reach::Identities) -> Vec<bool> {
    identities
        .uids
        .iter()
        .map(|u| is_human(human_types, u))
        .collect()
}

fn policy_info(ws: &Workspace, id: &str) -> Option<PolicyInfo> {
    let meta = ws.policies.get(id)?;
    let set = &ws.engine.policies;
    let policy = set.policy(&PolicyId::new(id))?;
    // A link shows its template as written, under a comment with the slot values, rather
    // than Cedar's one-line rendering of the linked policy.
    let text = match (&meta.template, policy.template_links()) {
        (Some(t), Some(slots)) => {
            let mut slots: Vec<String> = slots
                .iter()
                .map(|(slot, uid)| format!("{slot} = {uid}"))
                .collect();
            slots.sort();
            let template = set.template(&PolicyId::new(t))?;
            format!("// link `{id}`: {}\n{template}", slots.join(", "))
        }
        _ => policy.to_string(),
    };
    let effect = match policy.effect() {
        cedar_policy::Effect::Permit => "permit",
        cedar_policy::Effect::Forbid => "forbid",
    };
    Some(PolicyInfo {
        id: id.to_string(),
        effect,
        template: meta.template.clone(),
        description: meta.description.clone(),
        file: meta.file.clone(),
        text,
    })
}
