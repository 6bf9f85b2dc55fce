//! Why a path that holds under some profiles does not hold under another: its shortest chain
//! (from a profile where it holds) evaluated hop by hop under the other profile's context, and
//! the first hop denied, with the forbids that determine the denial, or, when no forbid does,
//! the permits that allow that hop elsewhere (their condition fails under this context).
//!
//! Hop decisions are remembered per (hop, profile), or per (origin, chain so far, profile) when
//! hop contexts depend on the path, so a report of many paths evaluates each distinct hop once.

use std::collections::HashMap;
use std::sync::Mutex;

use cedar_policy::EntityUid;

use crate::analysis::access::Path;
use crate::analysis::profiles::Profile;
use crate::core::ids::{PolicyId, ProfileName};
use crate::engine::{Engine, FailingPart, PreparedHop};

/// The first hop that fails under `profile`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhyNot {
    pub profile: ProfileName,
    pub from: EntityUid,
    pub to: EntityUid,
    /// The forbids that determine the denial (empty: no permit matched).
    pub forbids: Vec<PolicyId>,
    /// The policies that allow this hop under the profiles where the path holds.
    pub allowed_elsewhere_by: Vec<PolicyId>,
    /// When no forbid decides: for each of `allowed_elsewhere_by`, the part of its condition
    /// that fails under this profile, with the values it read.
    pub failing: Vec<(PolicyId, FailingPart)>,
}

type Key = (String, ProfileName);

/// Explains missing profiles, remembering hop decisions.
pub struct Explainer<'e> {
    engine: &'e Engine,
    profiles: Vec<Profile>,
    /// Per hop (or origin and chain) and profile: `None` allowed, `Some(forbids)` denied.
    memo: Mutex<HashMap<Key, Option<Vec<PolicyId>>>>,
}

impl<'e> Explainer<'e> {
    pub fn new(engine: &'e Engine, profiles: Vec<Profile>) -> Self {
        Self {
            engine,
            profiles,
            memo: Mutex::new(HashMap::new()),
        }
    }

    /// One entry per profile under which `path` does not hold, when a hop can be named.
    pub fn why_not(&self, path: &Path) -> Vec<WhyNot> {
        let Some(route) = path.routes.first() else {
            return Vec::new();
        };
        let chain: Vec<EntityUid> = route.chain.iter().map(|u| (**u).clone()).collect();
        let mut out = Vec::new();
        for profile in &self.profiles {
            let holds = path
                .routes
                .iter()
                .any(|r| r.profiles.contains(&profile.name));
            if holds {
                continue;
            }
            if let Some(w) = self.first_denied(profile, &path.principal, &chain, route) {
                out.push(w);
            }
        }
        out
    }

    fn first_denied(
        &self,
        profile: &Profile,
        principal: &EntityUid,
        chain: &[EntityUid],
        route: &crate::analysis::access::Route,
    ) -> Option<WhyNot> {
        // Hops are prepared only where the memo does not decide them, or to explain one.
        let by_path = self.engine.hops_depend_on_path();
        let prepare = |i: usize| {
            self.engine
                .prepare_hop(principal, chain, i, &profile.context)
                .ok()
        };
        for i in 0..chain.len() {
            let from = if i == 0 { principal } else { &chain[i - 1] };
            let key = if by_path {
                let mut k = principal.to_string();
                for u in &chain[..=i] {
                    k.push_str(" > ");
                    k.push_str(&u.to_string());
                }
                k
            } else {
                format!("{} > {}", from, chain[i])
            };
            let key = (key, profile.name.clone());
            let remembered = self.memo.lock().ok().and_then(|m| m.get(&key).cloned());
            let mut hop = None;
            let denied = match remembered {
                Some(d) => d,
                None => {
                    let prepared = hop.insert(prepare(i)?);
                    let outcome = self.engine.evaluate_hop(prepared);
                    let d = (!outcome.allowed).then(|| outcome.forbids());
                    if let Ok(mut m) = self.memo.lock() {
                        m.insert(key, d.clone());
                    }
                    d
                }
            };
            if let Some(forbids) = denied {
                let allowed_elsewhere_by: Vec<PolicyId> = route
                    .hops
                    .get(i)
                    .map(|h| h.policies.to_vec())
                    .unwrap_or_default();
                let hop = match hop {
                    Some(hop) => hop,
                    None => prepare(i)?,
                };
                let failing = if forbids.is_empty() {
                    self.failing_parts(&hop, &allowed_elsewhere_by)
                } else {
                    Vec::new()
                };
                return Some(WhyNot {
                    profile: profile.name.clone(),
                    from: hop.from,
                    to: hop.to,
                    forbids,
                    allowed_elsewhere_by,
                    failing,
                });
            }
        }
        None
    }

    /// For each permit, the part of its condition that fails for the hop (under the first
    /// impersonation action for which it can be named).
    fn failing_parts(
        &self,
        hop: &PreparedHop,
        permits: &[PolicyId],
    ) -> Vec<(PolicyId, FailingPart)> {
        permits
            .iter()
            .filter_map(|id| {
                hop.requests
                    .iter()
                    .find_map(|r| self.engine.failing_part(id, r))
                    .map(|part| (id.clone(), part))
            })
            .collect()
    }
}
