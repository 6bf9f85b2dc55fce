//! Direct grants: which inventory principal may take which of some (non-impersonation) actions
//! on which inventory resource under one context, and by which permits, computed with the hop
//! matrix's classes (see `matrix.rs`) instead of one Cedar request per (principal, action,
//! resource). The argument there holds for any entities, not only identities: two principals a
//! policy cannot tell apart satisfy it on the same resources. So the cost grows with what the
//! policies tell apart plus the number of grants, not with principals × resources; a folder
//! tree of 200 folders read by 12,500 principals under 3 profiles was 7.5 million requests.
//!
//! The matrix answers for distinct principal and resource; where an entity can be both (an
//! action on the principal's own type), its request on itself is asked of Cedar.

use std::sync::Arc;

use cedar_policy::EntityUid;
use rayon::prelude::*;

use super::matrix::HopMatrix;
use super::Identities;
use crate::core::ids::PolicyId;
use crate::engine::{ContextMap, Engine};

/// One allowed request: principal, action, resource, and the permits that allow it (sorted).
pub type DirectGrant = (EntityUid, EntityUid, EntityUid, Vec<PolicyId>);

/// Every request of `actions` allowed under `ctx` between inventory entities that fit the
/// action (in no particular order), and the actions `ctx` cannot serve, with why (deduplicated, sorted).
pub fn direct_grants(
    engine: &Engine,
    ctx: &ContextMap,
    actions: &[EntityUid],
) -> (Vec<DirectGrant>, Vec<String>) {
    let infos: Vec<_> = actions
        .iter()
        .filter_map(|a| engine.action(a).map(|info| (a, info)))
        .collect();
    let mut skipped = Vec::new();
    let mut served = Vec::new();
    let mut universe = Vec::new();
    for (action, info) in infos {
        let principals = engine.inventory_of(&info.principals);
        let resources = engine.inventory_of(&info.resources);
        let (Some(p), Some(r)) = (principals.first(), resources.first()) else {
            continue;
        };
        // The context serves an action for every fitting pair or for none.
        if let Err(why) = engine.prepare(p, action, r, ctx, None) {
            skipped.push(why);
            continue;
        }
        universe.extend(principals);
        universe.extend(resources);
        served.push(action.clone());
    }
    skipped.sort();
    skipped.dedup();
    if served.is_empty() {
        return (Vec::new(), skipped);
    }
    let universe = Arc::new(Identities::of(universe));
    let matrix = HopMatrix::build_for(engine, &universe, ctx, &served);
    let fits = |ai: usize, n: u32, principal: bool| {
        engine.action(&served[ai]).is_some_and(|info| {
            let types = if principal {
                &info.principals
            } else {
                &info.resources
            };
            types.contains(universe.uids[n as usize].type_name())
        })
    };
    let grants: Vec<DirectGrant> = (0..served.len())
        .flat_map(|ai| (0..matrix.classes() as u32).map(move |c| (ai, c)))
        .collect::<Vec<_>>()
        .into_par_iter()
        .filter(|&(ai, cf)| fits(ai, matrix.members_of(cf)[0], true))
        .flat_map_iter(|(ai, cf)| {
            let mut out = Vec::new();
            for ct in matrix.allowed_from(ai, cf) {
                let reasons = matrix.permits_between(engine, ai, cf, ct);
                for &s in matrix.members_of(cf) {
                    for &r in matrix.members_of(ct) {
                        if s != r {
                            out.push((
                                (*universe.uids[s as usize]).clone(),
                                served[ai].clone(),
                                (*universe.uids[r as usize]).clone(),
                                reasons.clone(),
                            ));
                        }
                    }
                }
            }
            // Its own request, where an entity is both principal and resource.
            for &s in matrix.members_of(cf) {
                if fits(ai, s, false) {
                    let uid = &universe.uids[s as usize];
                    if let Ok(p) = engine.prepare(uid, &served[ai], uid, ctx, None) {
                        let e = engine.evaluate(&p);
                        if e.allowed {
                            out.push((
                                (**uid).clone(),
                                served[ai].clone(),
                                (**uid).clone(),
                                e.reasons,
                            ));
                        }
                    }
                }
            }
            out
        })
        .collect();
    (grants, skipped)
}
