//! Why a path that holds under some profiles does not hold under another: its shortest chain
//! (from a profile where it holds) evaluated hop by hop under the other profile's context, and
//! the first hop denied, with the forbids that determine the denial, or, when no forbid does,
//! the permits that allow that hop elsewhere (their condition fails under this context).
//!
//! When the profiles have hop matrices (see `reach::matrix`), a hop's decision is read from
//! its profile's matrix, and only the first denied hop is put to Cedar, for the forbids and the
//! failing conditions. Otherwise hop decisions are remembered per (hop, profile), or per
//! (origin, chain so far, profile) when hop contexts depend on the path, so a report of many
//! paths evaluates each distinct hop once. (With hops that depend on the path, preparing each
//! hop's context was most of `who-can` on a world where everyone reaches everyone.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cedar_policy::EntityUid;

use crate::analysis::access::Path;
use crate::analysis::profiles::Profile;
use crate::core::ids::{PolicyId, ProfileName};
use crate::engine::{Engine, FailingPart, PreparedHop};
use crate::reach::matrix::HopMatrix;

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

/// What a hop's decision is remembered by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum HopKey {
    /// Its profile's matrix (of index `.0`, see `HopMatrix::step`) and the classes of its two
    /// ends there: every hop between those classes decides alike.
    Classes(u32, u32, u32),
    /// Its uids (with the origin and the chain behind, when hop contexts depend on the path).
    Uids(String),
}

type Key = (HopKey, ProfileName);

/// Explains missing profiles, remembering hop decisions.
pub struct Explainer<'e> {
    engine: &'e Engine,
    profiles: Vec<Profile>,
    /// Each profile's hop matrix, in the order of `profiles`, when every profile has one.
    matrices: Option<Vec<Arc<HopMatrix>>>,
    /// Per hop (or origin and chain) and profile: `None` allowed, `Some(forbids)` denied.
    memo: Mutex<HashMap<Key, Option<Vec<PolicyId>>>>,
}

impl<'e> Explainer<'e> {
    /// `matrices`: each profile's hop matrix, in the order of `profiles` (see
    /// [`crate::analysis::access::Reached::matrices`]), when there are some.
    pub fn new(
        engine: &'e Engine,
        profiles: Vec<Profile>,
        matrices: Option<Vec<Arc<HopMatrix>>>,
    ) -> Self {
        Self {
            engine,
            matrices: matrices.filter(|m| m.len() == profiles.len()),
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
        for (k, profile) in self.profiles.iter().enumerate() {
            let holds = path
                .routes
                .iter()
                .any(|r| r.profiles.contains(&profile.name));
            if holds {
                continue;
            }
            let matrix = self.matrices.as_ref().map(|m| &*m[k]);
            if let Some(w) = self.first_denied(profile, matrix, &path.principal, &chain, route) {
                out.push(w);
            }
        }
        out
    }

    fn first_denied(
        &self,
        profile: &Profile,
        matrix: Option<&HopMatrix>,
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
        let origin = matrix.and_then(|m| Some((m, m.identities().number(principal)?)));
        for i in 0..chain.len() {
            let from = if i == 0 { principal } else { &chain[i - 1] };
            // With a matrix, an allowed hop needs nothing more, and a denied one's forbids are
            // those of every hop between the same classes under the same matrix.
            let by_classes = origin.and_then(|(m, origin)| {
                let (s, step) = m.step(origin, i);
                let allowed = step.allows(from, &chain[i]);
                let class = |u: &EntityUid| Some(step.class_of(step.identities().number(u)?));
                Some((allowed, (s, class(from)?, class(&chain[i])?)))
            });
            let key = match by_classes {
                Some((true, _)) => continue,
                Some((false, (s, cf, ct))) => HopKey::Classes(s, cf, ct),
                None if by_path => {
                    let mut k = principal.to_string();
                    for u in &chain[..=i] {
                        k.push_str(" > ");
                        k.push_str(&u.to_string());
                    }
                    HopKey::Uids(k)
                }
                None => HopKey::Uids(format!("{} > {}", from, chain[i])),
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
                let failing = if forbids.is_empty() {
                    let hop = match hop {
                        Some(hop) => hop,
                        None => prepare(i)?,
                    };
                    self.failing_parts(&hop, &allowed_elsewhere_by)
                } else {
                    Vec::new()
                };
                return Some(WhyNot {
                    profile: profile.name.clone(),
                    from: from.clone(),
                    to: chain[i].clone(),
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
