//! The figures an auditor reads first (`actas report`), computed once for every format.

use std::collections::BTreeMap;

use cedar_policy::EntityUid;

use crate::analysis::access::Access;
use crate::engine::{Engine, Uid};

/// How exposed one impersonable account is.
#[derive(Debug, Clone)]
pub struct AccountFigures {
    pub account: EntityUid,
    /// Identities that reach it under at least one profile.
    pub reached_by: usize,
    /// Those of a human type.
    pub humans: Vec<Uid>,
    /// Identities reaching it under each profile, in profile order.
    pub per_profile: Vec<usize>,
    /// The profiles under which anyone reaches it.
    pub profiles: Vec<String>,
}

/// Summary figures over the whole matrix. Path lists are indices into `Access::paths`.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Inventory identities that may impersonate (principals of an impersonation action).
    pub identities: usize,
    /// Every impersonable account of the inventory, most reached first, then by uid.
    pub accounts: Vec<AccountFigures>,
    /// Paths whose principal is of a human type.
    pub human_paths: Vec<usize>,
    /// Paths that exist under some profiles only (break-glass-like conditions).
    pub conditional_paths: Vec<usize>,
    /// Accounts reached under some profiles only (and by nobody under the others).
    pub conditional_accounts: Vec<usize>,
    /// The longest shortest chain, in hops, and the paths that have it.
    pub longest_chain: usize,
    pub longest_paths: Vec<usize>,
    /// Identities by how many accounts they reach, widest first, then by uid.
    pub widest: Vec<(Uid, usize)>,
    /// Paths with a route through another account (delegation).
    pub delegated_paths: Vec<usize>,
}

pub fn summarize(engine: &Engine, access: &Access, human_types: &[String]) -> Summary {
    let is_human = |u: &EntityUid| human_types.contains(&u.type_name().to_string());
    let profile_names: Vec<&str> = access.profiles.iter().map(|p| p.name.as_str()).collect();

    let mut reached: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    // There is one path per (principal, target), so counting a principal's paths counts the
    // accounts it reaches.
    let mut reach_of: BTreeMap<String, (Uid, usize)> = BTreeMap::new();
    for (i, p) in access.paths.iter().enumerate() {
        reached.entry(p.target.to_string()).or_default().push(i);
        reach_of
            .entry(p.principal.to_string())
            .or_insert_with(|| (p.principal.clone(), 0))
            .1 += 1;
    }

    let mut accounts: Vec<AccountFigures> = engine
        .impersonable()
        .into_iter()
        .map(|account| {
            let paths: Vec<usize> = reached
                .get(&account.to_string())
                .cloned()
                .unwrap_or_default();
            let per_profile: Vec<usize> = profile_names
                .iter()
                .map(|n| {
                    paths
                        .iter()
                        .filter(|i| access.paths[**i].profiles(&access.profiles).contains(n))
                        .count()
                })
                .collect();
            let profiles = profile_names
                .iter()
                .zip(&per_profile)
                .filter(|(_, c)| **c > 0)
                .map(|(n, _)| n.to_string())
                .collect();
            AccountFigures {
                humans: paths
                    .iter()
                    .map(|i| &access.paths[*i].principal)
                    .filter(|u| is_human(u))
                    .cloned()
                    .collect(),
                reached_by: paths.len(),
                per_profile,
                profiles,
                account,
            }
        })
        .collect();
    accounts.sort_by_cached_key(|a| (std::cmp::Reverse(a.reached_by), a.account.to_string()));

    let all = profile_names.len();
    let conditional_paths = indices(access, |p| p.profiles(&access.profiles).len() < all);
    let conditional_accounts = accounts
        .iter()
        .enumerate()
        .filter(|(_, a)| !a.profiles.is_empty() && a.profiles.len() < all)
        .map(|(i, _)| i)
        .collect();
    let longest_chain = access.paths.iter().map(|p| p.longest()).max().unwrap_or(0);
    let mut widest: Vec<(Uid, usize)> = reach_of.into_values().collect();
    widest.sort_by_cached_key(|(u, n)| (std::cmp::Reverse(*n), u.to_string()));

    Summary {
        identities: engine.impersonators().len(),
        human_paths: indices(access, |p| is_human(&p.principal)),
        conditional_paths,
        conditional_accounts,
        longest_paths: indices(access, |p| {
            longest_chain > 0 && p.longest() == longest_chain
        }),
        longest_chain,
        widest,
        delegated_paths: indices(access, |p| p.longest() > 1),
        accounts,
    }
}

fn indices(access: &Access, keep: impl Fn(&crate::analysis::access::Path) -> bool) -> Vec<usize> {
    access
        .paths
        .iter()
        .enumerate()
        .filter(|(_, p)| keep(p))
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::access::{compute, Query};
    use crate::analysis::profiles::select;

    #[test]
    fn figures_of_the_example() {
        let ws = crate::workspace::example();
        let profiles = select(&ws, &[], None).unwrap();
        let access = compute(&ws.engine, &profiles, &Query::All);
        let s = summarize(&ws.engine, &access, &ws.human_types);
        assert_eq!(s.longest_chain, 2);
        assert_eq!(s.longest_paths.len(), 2);
        assert_eq!(s.delegated_paths, s.longest_paths);
        // The billing admin's own account is reachable under break glass only.
        let conditional: Vec<String> = s
            .conditional_accounts
            .iter()
            .map(|i| s.accounts[*i].account.to_string())
            .collect();
        assert_eq!(conditional, [r#"ServiceAccount::"billing-admin""#]);
        // Most reached first; counts per profile never exceed the total.
        assert_eq!(
            s.accounts[0].account.to_string(),
            r#"ServiceAccount::"prod-deployer""#
        );
        assert!(s
            .accounts
            .iter()
            .all(|a| a.per_profile.iter().all(|c| *c <= a.reached_by)));
        // Humans are Users only: the agent's path is not a human path.
        assert!(s
            .human_paths
            .iter()
            .all(|i| access.paths[*i].principal.type_name().to_string() == "User"));
        assert_eq!(s.widest[0].0.to_string(), r#"User::"erin""#);
    }
}
