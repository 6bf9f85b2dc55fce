//! Impersonation paths per profile: who can reach which account, by which shortest chain, with
//! each hop's determining policies (DESIGN §2 "effective access", the paths half).
//!
//! A path is a (principal, target) pair reachable within `max_chain` hops under at least one
//! profile. Its shortest chain (ties broken by the chain's uid strings) and the policies that
//! allow each hop may differ between profiles, so a path holds one [`Route`] per distinct
//! (chain, hops) and each route lists the profiles that produce it. "Under which conditions"
//! is answered by those profiles and by the policies, never by paraphrasing conditions in code.

use std::sync::Arc;

use cedar_policy::EntityUid;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::analysis::profiles::Profile;
use crate::engine::{Engine, Uid};

/// Which paths to compute.
#[derive(Debug, Clone)]
pub enum Query {
    /// Every identity that can reach this account.
    Target(EntityUid),
    /// Every account this identity can reach.
    Principal(EntityUid),
    /// The whole matrix.
    All,
}

/// One hop of a route, as evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub from: Uid,
    pub to: Uid,
    /// The impersonation actions that allowed it, in configuration order.
    pub actions: Arc<[EntityUid]>,
    /// The determining policies of the allowing requests, sorted. (Shared: a hop between
    /// two classes of look-alike identities appears in many paths.)
    pub policies: Arc<[String]>,
}

/// A shortest chain and how each hop is allowed, under the profiles listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The accounts after the principal, the target last.
    pub chain: Vec<Uid>,
    pub hops: Vec<Hop>,
    /// The profiles under which this is the shortest chain, in profile order.
    pub profiles: Vec<String>,
}

/// A (principal, target) pair reachable under at least one profile.
#[derive(Debug, Clone)]
pub struct Path {
    pub principal: Uid,
    pub target: Uid,
    /// Shortest first, then by chain; each profile appears in exactly one route.
    pub routes: Vec<Route>,
}

impl Path {
    /// The profiles under which the path exists, in profile order.
    pub fn profiles<'a>(&'a self, order: &'a [Profile]) -> Vec<&'a str> {
        order
            .iter()
            .map(|p| p.name.as_str())
            .filter(|n| {
                self.routes
                    .iter()
                    .any(|r| r.profiles.iter().any(|x| x == n))
            })
            .collect()
    }

    /// The longest of its routes' hop counts.
    pub fn longest(&self) -> usize {
        self.routes.iter().map(|r| r.chain.len()).max().unwrap_or(0)
    }
}

/// The paths matching a query, sorted by (principal, target) uid strings.
#[derive(Debug, Clone)]
pub struct Access {
    pub profiles: Vec<Profile>,
    pub paths: Vec<Path>,
}

/// A reachable pair under one profile, keyed by the uid strings of (principal, target).
struct Found {
    profile: usize,
    key: (Arc<str>, Arc<str>),
    principal: Uid,
    target: Uid,
    chain: Vec<Uid>,
}

/// Computes the paths of `query` under every profile, in parallel.
pub fn compute(engine: &Engine, profiles: &[Profile], query: &Query) -> Access {
    let principals = match query {
        Query::Principal(p) => vec![p.clone()],
        Query::Target(_) | Query::All => engine.impersonators(),
    };
    for p in profiles {
        engine.warm(&p.context);
    }
    let jobs: Vec<(usize, &EntityUid)> = (0..profiles.len())
        .flat_map(|i| principals.iter().map(move |p| (i, p)))
        .collect();
    // Every reachable pair, in (profile, principal, target) order: principals come sorted by
    // uid string and each reach is keyed by the target's.
    crate::progress::start("identities", jobs.len() as u64);
    let found: Vec<Found> = jobs
        .into_par_iter()
        .flat_map_iter(|(i, principal)| {
            let ctx = &profiles[i].context;
            let reach = match query {
                // Only the chain to the target, not the whole reach of every identity.
                Query::Target(t) => engine
                    .chain_to(principal, t, ctx)
                    .map(|chain| (t.to_string().into(), (Arc::new(t.clone()), chain)))
                    .into_iter()
                    .collect(),
                _ => engine.reach_from(principal, ctx),
            };
            crate::progress::advance(1);
            let key: Arc<str> = principal.to_string().into();
            let principal: Uid = Arc::new(principal.clone());
            reach
                .into_iter()
                .map(move |(target_key, (target, chain))| Found {
                    profile: i,
                    key: (key.clone(), target_key),
                    principal: principal.clone(),
                    target,
                    chain,
                })
        })
        .collect();
    crate::progress::finish();
    let explained = explain_all(engine, profiles, &found);
    let mut found: Vec<(Found, Vec<Hop>)> = found.into_iter().zip(explained).collect();
    // Stable: a pair's entries keep profile order. Already sorted under one profile.
    found.sort_by(|a, b| a.0.key.cmp(&b.0.key));
    let mut paths: Vec<Path> = Vec::new();
    let mut last: Option<(Arc<str>, Arc<str>)> = None;
    for (f, hops) in found {
        let route = Route {
            chain: f.chain,
            hops,
            profiles: vec![profiles[f.profile].name.clone()],
        };
        if last.as_ref() != Some(&f.key) {
            paths.push(Path {
                principal: f.principal,
                target: f.target,
                routes: Vec::new(),
            });
            last = Some(f.key);
        }
        let path = paths.last_mut().expect("pushed above");
        match path
            .routes
            .iter_mut()
            .find(|r| r.chain == route.chain && r.hops == route.hops)
        {
            Some(same) => same.profiles.extend(route.profiles),
            None => path.routes.push(route),
        }
    }
    for p in paths.iter_mut().filter(|p| p.routes.len() > 1) {
        // Stable: routes of equal chains keep profile order.
        p.routes.sort_by_cached_key(|r| {
            (
                r.chain.len(),
                r.chain.iter().map(ToString::to_string).collect::<Vec<_>>(),
            )
        });
    }
    Access {
        profiles: profiles.to_vec(),
        paths,
    }
}

/// Each found chain's hops with the actions and policies that allow them. When hop decisions do
/// not depend on the path, a hop is the same in every chain it appears in, and the same for
/// every pair of its identities' hop-matrix classes, and the matrix knows which permits are
/// satisfied where (see `matrix.rs`), so each distinct (profile, class of `from`, class of
/// `to`) is read from it once; otherwise every chain is evaluated again along its path.
fn explain_all(engine: &Engine, profiles: &[Profile], found: &[Found]) -> Vec<Vec<Hop>> {
    let matrices: Option<Vec<_>> = profiles.iter().map(|p| engine.matrix(&p.context)).collect();
    let Some(matrices) = matrices else {
        return found
            .par_iter()
            .map(|f| explain(engine, &f.principal, &f.chain, &profiles[f.profile]))
            .collect();
    };
    let key = |i: usize, from: &EntityUid, to: &EntityUid| {
        (i, matrices[i].class(from), matrices[i].class(to))
    };
    type Key = (usize, Option<u32>, Option<u32>);
    let mut distinct: FxHashMap<Key, (&EntityUid, &EntityUid)> = FxHashMap::default();
    for f in found {
        let mut from = &f.principal;
        for to in &f.chain {
            distinct
                .entry(key(f.profile, from, to))
                .or_insert((from, to));
            from = to;
        }
    }
    type Lists = (Arc<[EntityUid]>, Arc<[String]>);
    let hops: FxHashMap<Key, Lists> = distinct
        .into_par_iter()
        .filter_map(|(k, (from, to))| {
            let (actions, policies) = matrices[k.0].explain(engine, from, to)?;
            Some((k, (actions.into(), policies.into())))
        })
        .collect();
    found
        .iter()
        .map(|f| {
            let mut from = &f.principal;
            f.chain
                .iter()
                .filter_map(|to| {
                    let hop = hops.get(&key(f.profile, from, to)).map(|(a, p)| Hop {
                        from: from.clone(),
                        to: to.clone(),
                        actions: a.clone(),
                        policies: p.clone(),
                    });
                    from = to;
                    hop
                })
                .collect()
        })
        .collect()
}

/// Evaluates each hop of a reachable chain again, for the actions and policies that allow it.
fn explain(engine: &Engine, principal: &EntityUid, chain: &[Uid], profile: &Profile) -> Vec<Hop> {
    let chain: Vec<EntityUid> = chain.iter().map(|u| EntityUid::clone(u)).collect();
    let Ok(prepared) = engine.prepare_chain(principal, &chain, &profile.context) else {
        // Reachability only follows hops that prepared and were allowed, so this cannot fail;
        // an empty explanation would still show the chain.
        return Vec::new();
    };
    prepared
        .iter()
        .map(|h| {
            let outcome = engine.evaluate_hop(h);
            Hop {
                policies: outcome.policies().into(),
                from: Arc::new(outcome.from),
                to: Arc::new(outcome.to),
                actions: outcome.allowing.into(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::profiles::select;

    fn uid(s: &str) -> EntityUid {
        s.parse().unwrap()
    }

    #[test]
    fn routes_group_profiles_and_keep_each_hops_policies() {
        let ws = crate::workspace::example();
        let profiles = select(&ws, &[], None).unwrap();
        let deployer = uid(r#"ServiceAccount::"prod-deployer""#);
        let access = compute(&ws.engine, &profiles, &Query::Target(deployer.clone()));
        assert!(access.paths.iter().all(|p| *p.target == deployer));
        let carol = access
            .paths
            .iter()
            .find(|p| *p.principal == uid(r#"User::"carol""#))
            .unwrap();
        // One route, two hops, under routine only (the CI runner's hop needs a change ticket).
        assert_eq!(carol.routes.len(), 1);
        assert_eq!(carol.routes[0].profiles, ["routine"]);
        assert_eq!(carol.profiles(&profiles), ["routine"]);
        let policies: Vec<&[String]> = carol.routes[0]
            .hops
            .iter()
            .map(|h| &h.policies[..])
            .collect();
        assert_eq!(
            policies,
            [
                &["carol-mints-ci-runner".to_string()][..],
                &["ci-runner-deploys".to_string()][..]
            ]
        );
        // alice is allowed by the on-call policy under two profiles: one route lists both.
        let alice = access
            .paths
            .iter()
            .find(|p| *p.principal == uid(r#"User::"alice""#))
            .unwrap();
        assert_eq!(alice.routes.len(), 1);
        assert_eq!(alice.routes[0].profiles, ["incident", "routine"]);
    }
}
