//! The hop matrix: who may impersonate which account in one hop under one context, computed
//! without evaluating every (identity, account) pair, and the shortest chains over it.
//!
//! Cedar allows a request when some permit is satisfied and no forbid is; a policy whose
//! evaluation errors counts as not satisfied. So a hop's decision is known once every
//! policy's satisfaction is known, and each policy can be evaluated on its own, over the
//! pairs its scope admits.
//!
//! Many identities look alike to a policy. A policy can tell two entities apart only through
//! what it can observe of them: their type; their uid, if it is written in the policy (scope,
//! condition or link), appears in an attribute, tag or context value, or has descendants
//! (then another request participant can be `in` it); the attributes the policy names (`.a`,
//! `has a`) and, if it uses tags, the tags; and whether they are `in` the entities it can
//! name. Cedar cannot turn an entity into a string, so nothing else shows. Two identities
//! equal in all of that (their *key* for the policy) satisfy it on the same accounts; two
//! accounts equal in theirs are satisfied by the same identities. Evaluating one
//! representative pair per (identity key, account key) therefore gives the answer for every
//! pair in the two groups. Self-hops are never asked: when both groups share members the
//! representatives are distinct, and the answer holds for every distinct pair.
//!
//! Identities equal under the union of every policy's observations form *classes*; the matrix
//! is a bitset per class of the classes it may hop to, the permits' rows OR-ed and the forbids'
//! cleared. Breadth-first search over class rows gives each origin's shortest chains (ties
//! broken by the chain's uid strings) in one pass over the reached classes; origins that can
//! never be a target share their class's answer. `tests/reachability.rs` compares the result
//! with raw Cedar over every simple path on generated worlds.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use cedar_policy::EntityUid;
use rayon::prelude::*;

use super::classes::{
    classes_of, facts_of, key_of, observable, observations, Facts, Key, Observes,
};
use super::joins;
use super::{Identities, NumberedReach, Reach, Uid};
use crate::core::ids::PolicyId;
use crate::engine::slice::{set_bit, words};
use crate::engine::{ContextMap, Engine};

/// Source classes grouped alike, each with the bitset of target classes where a policy holds.
type Blocks = Vec<(Vec<u32>, Vec<u64>)>;

/// Where a permit is satisfied under one action: (action index, policy index, the group of
/// each source class or `u32::MAX`, each group's target classes).
type PermitBlocks = (usize, usize, Vec<u32>, Vec<Vec<u64>>);

pub struct HopMatrix {
    /// Every identity that is a hop's principal or resource; its number is its id.
    identities: Arc<Identities>,
    /// The class of each identity, by number.
    class_of: Vec<u32>,
    /// Members of each class, by id (so in uid-string order).
    members: Vec<Vec<u32>>,
    /// Classes whose members can be impersonated.
    target: Vec<bool>,
    /// Per class: the classes its members may hop to (bit per class).
    rows: Vec<Vec<u64>>,
    /// The same per impersonation action (in configuration order), for explanations.
    allowed: Vec<Vec<Vec<u64>>>,
    /// Where each permit is satisfied, per action.
    permits: Vec<PermitBlocks>,
    /// Shortest chains of origins that cannot be targets, per class.
    memo: Vec<OnceLock<Arc<NumberedReach>>>,
    /// Policy evaluations spent building the matrix.
    pub evaluations: usize,
}

fn ones(bits: &[u64]) -> impl Iterator<Item = usize> + '_ {
    bits.iter().enumerate().flat_map(|(w, &word)| {
        let mut rest = word;
        std::iter::from_fn(move || {
            (rest != 0).then(|| {
                let b = rest.trailing_zeros() as usize;
                rest &= rest - 1;
                w * 64 + b
            })
        })
    })
}

impl HopMatrix {
    pub fn build(engine: &Engine, identities: &Arc<Identities>, ctx: &ContextMap) -> Self {
        let identities = identities.clone();
        let (ids, names) = (&identities.uids, &identities.names);
        let observes = observations(engine);
        let (relevant, pinned, global) = observable(engine, names, &observes, ctx);
        let relevant_index: HashMap<&str, u32> = relevant
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i as u32))
            .collect();
        let facts = facts_of(engine, &identities, &relevant_index, &pinned);
        let (class_of, members) = classes_of(names, &facts, &observes, relevant.len());
        let classes = members.len();
        let impersonable = engine.impersonable_types();
        let target: Vec<bool> = members
            .iter()
            .map(|m| impersonable.contains(ids[m[0] as usize].type_name()))
            .collect();

        let mut matrix = HopMatrix {
            memo: (0..classes).map(|_| OnceLock::new()).collect(),
            rows: vec![vec![0; words(classes)]; classes],
            allowed: Vec::new(),
            permits: Vec::new(),
            identities,
            class_of,
            members,
            target,
            evaluations: 0,
        };
        let slicer = engine.slicer();
        crate::core::progress::start("policies", (engine.actions.len() * slicer.len()) as u64);
        for (ai, action) in engine.actions.iter().enumerate() {
            let env = (&facts[..], &relevant_index, &global[..]);
            matrix.add_action(engine, ai, action, ctx, &observes, env);
        }
        crate::core::progress::finish();
        matrix
    }

    /// Evaluates every policy that can match `action` over the classes, and records which class
    /// pairs it allows.
    fn add_action(
        &mut self,
        engine: &Engine,
        ai: usize,
        action: &EntityUid,
        ctx: &ContextMap,
        observes: &[Observes],
        (facts, relevant_index, global): (&[Facts], &HashMap<&str, u32>, &[bool]),
    ) {
        let classes = self.members.len();
        let slicer = engine.slicer();
        self.allowed.push(vec![vec![0; words(classes)]; classes]);
        let Some(info) = engine.action(action) else {
            crate::core::progress::advance(slicer.len() as u64);
            return;
        };
        let reps = |types: &[cedar_policy::EntityTypeName]| -> Vec<u32> {
            (0..classes as u32)
                .filter(|&c| types.contains(self.rep(c).type_name()))
                .collect()
        };
        let (sources, sinks) = (reps(&info.principals), reps(&info.resources));
        // The context either serves the action for every pair or for none.
        let served = match (sources.first(), sinks.first()) {
            (Some(&s), Some(&t)) => engine
                .prepare(self.rep(s), action, self.rep(t), ctx, None)
                .is_ok(),
            _ => false,
        };
        if !served {
            crate::core::progress::advance(slicer.len() as u64);
            return;
        }
        let matrix = &*self;
        let per_policy: Vec<(usize, bool, Blocks, usize)> = (0..slicer.len())
            .into_par_iter()
            .filter_map(|i| {
                let out = slicer.action_matches(i, &engine.entities, action).then(|| {
                    let o = &observes[i];
                    let rows = matrix.satisfied(
                        engine,
                        i,
                        o,
                        action,
                        ctx,
                        (&sources, &sinks),
                        (facts, relevant_index, global),
                    );
                    (i, slicer.is_permit(i), rows.0, rows.1)
                });
                crate::core::progress::advance(1);
                out
            })
            .collect();
        let mut permit = vec![vec![0u64; words(classes)]; classes];
        let mut forbid = permit.clone();
        for (i, is_permit, rows, spent) in per_policy {
            self.evaluations += spent;
            let into = if is_permit { &mut permit } else { &mut forbid };
            for (group, bits) in &rows {
                for &c in group {
                    for (w, b) in into[c as usize].iter_mut().zip(bits) {
                        *w |= b;
                    }
                }
            }
            if is_permit && !rows.is_empty() {
                let mut group_of = vec![u32::MAX; classes];
                let mut bits = Vec::with_capacity(rows.len());
                for (g, (group, b)) in rows.into_iter().enumerate() {
                    group.iter().for_each(|&c| group_of[c as usize] = g as u32);
                    bits.push(b);
                }
                self.permits.push((ai, i, group_of, bits));
            }
        }
        let allowed = &mut self.allowed[ai];
        for ((row, p), f) in allowed.iter_mut().zip(&permit).zip(&forbid) {
            for ((w, p), f) in row.iter_mut().zip(p).zip(f) {
                *w = p & !f;
            }
        }
        for (row, a) in self.rows.iter_mut().zip(allowed.iter()) {
            for (w, a) in row.iter_mut().zip(a) {
                *w |= a;
            }
        }
    }

    fn rep(&self, class: u32) -> &EntityUid {
        &self.identities.uids[self.members[class as usize][0] as usize]
    }

    /// For policy `i` and `action`: the groups of source classes, each with the bitset of
    /// target classes on which the policy is satisfied; and the evaluations spent.
    #[expect(
        clippy::too_many_arguments,
        reason = "one call site; the arguments are the loop state of `build`"
    )]
    fn satisfied(
        &self,
        engine: &Engine,
        i: usize,
        o: &Observes,
        action: &EntityUid,
        ctx: &ContextMap,
        (sources, sinks): (&[u32], &[u32]),
        (facts, relevant_index, global): (&[Facts], &HashMap<&str, u32>, &[bool]),
    ) -> (Blocks, usize) {
        let slicer = engine.slicer();
        let mut mask = global.to_vec();
        for l in &o.literals {
            if let Some(&k) = relevant_index.get(l.as_str()) {
                mask[k as usize] = true;
            }
        }
        let group = |classes: &[u32], in_scope: &dyn Fn(&EntityUid) -> bool| {
            let mut index: HashMap<Key, usize> = HashMap::new();
            let mut groups: Vec<Vec<u32>> = Vec::new();
            for &c in classes {
                let rep = self.members[c as usize][0];
                if !in_scope(&self.identities.uids[rep as usize]) {
                    continue;
                }
                let f = &facts[rep as usize];
                let key = key_of(f, rep, &self.identities.names[rep as usize], o, &mask);
                let n = groups.len();
                let g = *index.entry(key).or_insert(n);
                if g == groups.len() {
                    groups.push(Vec::new());
                }
                groups[g].push(c);
            }
            groups
        };
        let from = group(sources, &|u| {
            slicer.principal_matches(i, &engine.entities, u)
        });
        let to = group(sinks, &|u| slicer.resource_matches(i, &engine.entities, u));
        let n = self.members.len();
        let to_bits: Vec<Vec<u64>> = to
            .iter()
            .map(|g| {
                let mut b = vec![0; words(n)];
                g.iter().for_each(|&c| set_bit(&mut b, c as usize));
                b
            })
            .collect();
        // A policy that relates principal and resource is evaluated only where the relation
        // can hold (see `joins.rs`); any other, on every pair of groups.
        let rep_of = |g: &Vec<u32>| &self.identities.uids[self.members[g[0] as usize][0] as usize];
        let worth: Option<Vec<Vec<usize>>> = joins::join_of(engine, i).map(|join| {
            let sources: Vec<&EntityUid> = from.iter().map(|g| &**rep_of(g)).collect();
            let targets: Vec<&EntityUid> = to.iter().map(|g| &**rep_of(g)).collect();
            joins::candidates(engine, &join, &sources, &targets)
        });
        let all: Vec<usize> = (0..to.len()).collect();
        let mut spent = 0;
        let mut out = Vec::new();
        for (fi, f) in from.into_iter().enumerate() {
            let mut bits = vec![0u64; words(n)];
            let targets = worth.as_ref().map_or(&all, |w| &w[fi]);
            for &ti in targets {
                let (t, tb) = (&to[ti], &to_bits[ti]);
                let Some((s, r)) = self.distinct_pair(&f, t) else {
                    continue;
                };
                let Ok(p) = engine.prepare(
                    &self.identities.uids[s],
                    action,
                    &self.identities.uids[r],
                    ctx,
                    None,
                ) else {
                    continue;
                };
                spent += 1;
                if engine.satisfies(i, &p) {
                    for (w, b) in bits.iter_mut().zip(tb) {
                        *w |= b;
                    }
                }
            }
            if bits.iter().any(|&w| w != 0) {
                out.push((f, bits));
            }
        }
        (out, spent)
    }

    /// Two distinct identities, one from each group of classes, if there are.
    fn distinct_pair(&self, from: &[u32], to: &[u32]) -> Option<(usize, usize)> {
        let s = self.members[from[0] as usize][0];
        to.iter()
            .flat_map(|&c| self.members[c as usize].iter().take(2))
            .find(|&&t| t != s)
            .map(|&t| (s as usize, t as usize))
            .or_else(|| {
                // `to` is s alone: another source then.
                let t = self.members[to[0] as usize][0];
                from.iter()
                    .flat_map(|&c| self.members[c as usize].iter().take(2))
                    .find(|&&x| x != t)
                    .map(|&x| (x as usize, t as usize))
            })
    }

    /// Identities and classes (for benchmarks and tests).
    pub fn size(&self) -> (usize, usize) {
        (self.identities.len(), self.members.len())
    }

    /// The class of identity number `n` (see [`Identities`]).
    pub fn class_of(&self, n: u32) -> u32 {
        self.class_of[n as usize]
    }

    /// Whether `from` may impersonate `to` in one hop.
    pub fn allows(&self, from: &EntityUid, to: &EntityUid) -> bool {
        match (self.identities.number(from), self.identities.number(to)) {
            (Some(f), Some(t)) if f != t => self.allows_classes(self.class_of(f), self.class_of(t)),
            _ => false,
        }
    }

    fn allows_classes(&self, cf: u32, ct: u32) -> bool {
        let (cf, ct) = (cf as usize, ct as usize);
        self.target[ct] && self.rows[cf][ct / 64] & (1 << (ct % 64)) != 0
    }

    /// How a hop is allowed: the impersonation actions that allow it (in configuration order)
    /// and the permits satisfied by those requests (its determining policies, as Cedar
    /// reports them: with no forbid satisfied, the satisfied permits), sorted. `None` when
    /// the hop is not allowed.
    pub fn explain(
        &self,
        engine: &Engine,
        from: &EntityUid,
        to: &EntityUid,
    ) -> Option<(Vec<EntityUid>, Vec<PolicyId>)> {
        let (f, t) = (self.identities.number(from)?, self.identities.number(to)?);
        if f == t {
            return None;
        }
        self.explain_classes(engine, self.class_of(f), self.class_of(t))
    }

    /// [`HopMatrix::explain`] for any member of class `cf` to any other member of class `ct`.
    pub fn explain_classes(
        &self,
        engine: &Engine,
        cf: u32,
        ct: u32,
    ) -> Option<(Vec<EntityUid>, Vec<PolicyId>)> {
        if !self.allows_classes(cf, ct) {
            return None;
        }
        let (cf, ct) = (cf as usize, ct as usize);
        let bit = |bits: &[u64]| bits[ct / 64] & (1 << (ct % 64)) != 0;
        let actions: Vec<usize> = (0..self.allowed.len())
            .filter(|&a| bit(&self.allowed[a][cf]))
            .collect();
        let mut policies: Vec<PolicyId> = self
            .permits
            .iter()
            .filter(|(a, _, group_of, bits)| {
                actions.contains(a) && group_of[cf] != u32::MAX && bit(&bits[group_of[cf] as usize])
            })
            .map(|(_, i, ..)| PolicyId::from(engine.slicer().policy(*i).id()))
            .collect();
        policies.sort();
        policies.dedup();
        Some((
            actions
                .into_iter()
                .map(|a| engine.actions[a].clone())
                .collect(),
            policies,
        ))
    }

    /// Every identity `origin` can reach within `max_chain` hops, with the shortest chain
    /// (ties broken by the chain's uid strings).
    pub fn reach(&self, origin: &EntityUid, max_chain: u32) -> Reach {
        match self.identities.number(origin) {
            Some(o) => self.identities.reach(&self.reach_numbered(o, max_chain)),
            None => Reach::new(),
        }
    }

    /// [`HopMatrix::reach`] of identity number `origin`, by number.
    pub fn reach_numbered(&self, origin: u32, max_chain: u32) -> Arc<NumberedReach> {
        let class = self.class_of(origin) as usize;
        if self.target[class] {
            return self.reach_all(origin, max_chain);
        }
        // Every member reaches the same accounts by the same chains.
        self.memo[class]
            .get_or_init(|| self.reach_all(origin, max_chain))
            .clone()
    }

    /// The shortest chain (ties broken as in [`HopMatrix::reach`]) from `origin` to `target`,
    /// without collecting the rest of `origin`'s reach: `who-can TARGET` asks this of every
    /// identity.
    pub fn chain_to(
        &self,
        origin: &EntityUid,
        target: &EntityUid,
        max_chain: u32,
    ) -> Option<Vec<Uid>> {
        let o = self.identities.number(origin)?;
        let t = self.identities.number(target)?;
        let mut chain = None;
        self.search(o, max_chain, |m, found| {
            if m == t {
                chain = Some(
                    found
                        .iter()
                        .map(|&x| self.identities.uids[x as usize].clone())
                        .collect(),
                );
            }
            m == t
        });
        chain
    }

    fn reach_all(&self, origin: u32, max_chain: u32) -> Arc<NumberedReach> {
        let mut reach = Vec::new();
        self.search(origin, max_chain, |m, chain| {
            reach.push((m, chain.to_vec()));
            false
        });
        Arc::new(NumberedReach::new(reach))
    }

    /// Breadth-first search over class rows: `found(identity, chain)` for every identity
    /// reached, in order of chain length and then of the chain's uid strings, with its first
    /// (so shortest, then least) chain; stops early when `found` returns true.
    fn search(&self, origin: u32, max_chain: u32, mut found: impl FnMut(u32, &[u32]) -> bool) {
        let mut reached = vec![false; self.members.len()];
        // Chains at the current depth, in the order of their uid strings, as ids.
        let mut frontier: Vec<Vec<u32>> = vec![Vec::new()];
        for _ in 0..max_chain {
            let mut next: Vec<Vec<u32>> = Vec::new();
            for chain in &frontier {
                let from = chain.last().copied().unwrap_or(origin);
                let row = &self.rows[self.class_of[from as usize] as usize];
                let mut new: Vec<u32> = Vec::new();
                for c in ones(row) {
                    if !self.target[c] || reached[c] {
                        continue;
                    }
                    // A class is reached whole: every member is allowed from `from` (which is
                    // not among them: its own class was reached before).
                    reached[c] = true;
                    new.extend(self.members[c].iter().filter(|&&m| m != origin));
                }
                new.sort_unstable();
                for m in new {
                    let mut longer = chain.clone();
                    longer.push(m);
                    if found(m, &longer) {
                        return;
                    }
                    next.push(longer);
                }
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
    }
}
