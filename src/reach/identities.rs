//! Identities numbered once, and chains and reaches kept as numbers.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use cedar_policy::EntityUid;
use rustc_hash::FxHashMap;

use super::classes::Scan;
use super::matrix::Decisions;
use crate::engine::Engine;

/// Shortest chains from one origin: target uid string → (target, chain `[S1 … target]`).
/// A uid shared between the paths that name it (a report holds millions of paths, and a Cedar
/// uid is 120 bytes).
pub type Uid = Arc<EntityUid>;

/// Reached identities by uid string, each with its chain.
pub type Reach = BTreeMap<Arc<str>, (Uid, Vec<Uid>)>;

/// Chains of identity numbers packed end to end: chain `k` runs from where chain `k - 1` ends
/// to `ends[k]`. Millions of chains cost 4 bytes each plus their members, not a `Vec` each.
/// A chain equal to the one before it ([`Chains::push_same`]: the same shortest chain under
/// another profile) costs its 4 bytes only.
#[derive(Debug, Default)]
pub struct Chains {
    /// Where each chain ends in `members`; with [`SAME`] set, the chain is the one before.
    ends: Vec<u32>,
    members: Vec<u32>,
}

/// The bit of an end that marks a chain equal to the one before it.
const SAME: u32 = 1 << 31;

impl Chains {
    pub fn with_capacity(chains: usize, members: usize) -> Self {
        Self {
            ends: Vec::with_capacity(chains),
            members: Vec::with_capacity(members),
        }
    }

    /// Adds a chain (an empty one too).
    pub fn push(&mut self, chain: &[u32]) {
        self.members.extend_from_slice(chain);
        self.ends.push(self.end());
    }

    /// Adds a chain equal to the last one added (which there must be), without its members.
    pub fn push_same(&mut self) {
        self.ends.push(self.end() | SAME);
    }

    /// The end of the members so far. A block of paths has far fewer than 2³¹ chain members
    /// (its targets × profiles × `max_chain`), so the top bit is free for [`SAME`].
    fn end(&self) -> u32 {
        debug_assert!(self.members.len() < SAME as usize);
        self.members.len() as u32
    }

    /// Chain `k`.
    pub fn get(&self, k: usize) -> &[u32] {
        let mut k = k;
        while k > 0 && self.ends[k] & SAME != 0 {
            k -= 1;
        }
        let start = k
            .checked_sub(1)
            .map_or(0, |p| (self.ends[p] & !SAME) as usize);
        &self.members[start..(self.ends[k] & !SAME) as usize]
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn shrink_to_fit(&mut self) {
        self.members.shrink_to_fit();
    }
}

/// Reached identities by number (see [`Identities`]), in number order, each with its chain
/// of numbers: the compact form of [`Reach`] (about 12 bytes an identity) that large matrices
/// are kept in.
#[derive(Debug, Default)]
pub struct NumberedReach {
    targets: Vec<u32>,
    /// One per target.
    chains: Chains,
}

impl NumberedReach {
    /// From (target, chain) pairs, one per target, in any order.
    pub fn new(mut pairs: Vec<(u32, Vec<u32>)>) -> Self {
        pairs.sort_unstable_by_key(|(t, _)| *t);
        let members = pairs.iter().map(|(_, c)| c.len()).sum();
        let mut reach = Self {
            targets: Vec::with_capacity(pairs.len()),
            chains: Chains::with_capacity(pairs.len(), members),
        };
        for (t, chain) in pairs {
            reach.targets.push(t);
            reach.chains.push(&chain);
        }
        reach
    }

    /// From (target, start, length) triples, one per target, in any order: the chain of each
    /// is `members[start..start + length]`.
    pub fn from_flat(mut found: Vec<(u32, u32, u32)>, members: &[u32]) -> Self {
        found.sort_unstable_by_key(|&(t, _, _)| t);
        let mut reach = Self {
            targets: Vec::with_capacity(found.len()),
            chains: Chains::with_capacity(found.len(), members.len()),
        };
        for (t, start, len) in found {
            reach.targets.push(t);
            reach
                .chains
                .push(&members[start as usize..(start + len) as usize]);
        }
        reach
    }

    pub fn len(&self) -> usize {
        self.targets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// The number of identities in all its chains together.
    pub fn chain_members(&self) -> usize {
        self.chains.members.len()
    }

    /// The reached identities, sorted.
    pub fn targets(&self) -> &[u32] {
        &self.targets
    }

    /// The chain of the `k`th reached identity.
    pub fn chain(&self, k: usize) -> &[u32] {
        self.chains.get(k)
    }

    /// The `k`th reached identity and its chain.
    pub fn get(&self, k: usize) -> Option<(u32, &[u32])> {
        Some((*self.targets.get(k)?, self.chains.get(k)))
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, &[u32])> {
        (0..self.len()).filter_map(|k| self.get(k))
    }
}

/// Every identity that takes part in hops (impersonators and impersonable accounts), numbered in
/// uid-string order, so comparing numbers compares uid strings. The same under every context.
pub struct Identities {
    pub uids: Vec<Uid>,
    pub names: Vec<Arc<str>>,
    number: FxHashMap<EntityUid, u32>,
    /// Each entity type's numbers: a type's uid strings share the prefix `Type::`, so they
    /// are one run of the uid-string order.
    types: Vec<(cedar_policy::EntityTypeName, std::ops::Range<u32>)>,
    /// What the inventory offers their classes, read once (see [`Identities::scan`]).
    scan: OnceLock<Scan>,
    /// Policies' decisions over their classes, shared while several profiles' matrices are
    /// built (see [`Identities::share_decisions`]).
    pub(super) decisions: Decisions,
}

impl Identities {
    pub fn new(engine: &Engine) -> Self {
        Self::of(
            engine
                .impersonators()
                .into_iter()
                .chain(engine.impersonable()),
        )
    }

    /// Any entities, numbered in uid-string order (duplicates once).
    pub fn of(uids: impl IntoIterator<Item = EntityUid>) -> Self {
        let mut keyed: Vec<(String, EntityUid)> =
            uids.into_iter().map(|u| (u.to_string(), u)).collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        keyed.dedup_by(|a, b| a.0 == b.0);
        let number = keyed
            .iter()
            .enumerate()
            .map(|(i, (_, u))| (u.clone(), i as u32))
            .collect();
        let mut types: Vec<(cedar_policy::EntityTypeName, std::ops::Range<u32>)> = Vec::new();
        for (i, (_, u)) in keyed.iter().enumerate() {
            let i = i as u32;
            match types.last_mut() {
                Some((t, run)) if t == u.type_name() => run.end = i + 1,
                _ => types.push((u.type_name().clone(), i..i + 1)),
            }
        }
        let (names, uids) = keyed
            .into_iter()
            .map(|(n, u)| (Arc::from(n), Arc::new(u)))
            .unzip();
        Self {
            uids,
            names,
            number,
            types,
            scan: OnceLock::new(),
            decisions: Decisions::default(),
        }
    }

    /// What the inventory offers their classes under any context, read on first use: every
    /// matrix over these identities (each profile's, and its later ones) shares it.
    pub(super) fn scan(&self, engine: &Engine) -> &Scan {
        self.scan.get_or_init(|| Scan::new(engine, self))
    }

    /// While on, matrices built over these identities share their policies' decisions (see
    /// [`Decisions`]): turned on to build several profiles' matrices side by side, and off
    /// (forgetting them) once they are built, as the matrices keep what they need.
    pub fn share_decisions(&self, on: bool) {
        self.decisions.share(on);
    }

    /// Whether each identity, by number, is of one of `types` (compared once per type, not
    /// once per identity: matrices ask it of every class for every action).
    pub fn of_types(&self, types: &[cedar_policy::EntityTypeName]) -> impl Fn(u32) -> bool {
        let runs: Vec<std::ops::Range<u32>> = self
            .types
            .iter()
            .filter(|(t, _)| types.contains(t))
            .map(|(_, run)| run.clone())
            .collect();
        move |n| runs.iter().any(|run| run.contains(&n))
    }

    pub fn number(&self, uid: &EntityUid) -> Option<u32> {
        self.number.get(uid).copied()
    }

    pub fn len(&self) -> usize {
        self.uids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.uids.is_empty()
    }

    /// A [`NumberedReach`] as a [`Reach`].
    pub fn reach(&self, numbered: &NumberedReach) -> Reach {
        numbered
            .iter()
            .map(|(t, chain)| {
                let chain = chain
                    .iter()
                    .map(|&x| self.uids[x as usize].clone())
                    .collect();
                let t = t as usize;
                (self.names[t].clone(), (self.uids[t].clone(), chain))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_chains_give_back_each_chain_empty_ones_too() {
        let mut chains = Chains::with_capacity(4, 0);
        for c in [&[3, 1][..], &[], &[7], &[]] {
            chains.push(c);
        }
        chains.push_same();
        chains.push(&[5, 6]);
        chains.push_same();
        chains.push_same();
        let back: Vec<&[u32]> = (0..chains.len()).map(|k| chains.get(k)).collect();
        assert_eq!(
            back,
            [&[3, 1][..], &[], &[7], &[], &[], &[5, 6], &[5, 6], &[5, 6]]
        );
        let reach = NumberedReach::new(vec![(9, vec![4, 9]), (2, vec![2])]);
        let pairs: Vec<(u32, &[u32])> = reach.iter().collect();
        assert_eq!(pairs, [(2, &[2][..]), (9, &[4, 9][..])]);
    }
}
