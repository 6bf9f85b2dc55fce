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

/// A chain of identity numbers, made from its links when asked for (see [`Chains`]): the
/// accounts after the principal, the target last. Inline up to eight members.
pub type Chain = smallvec::SmallVec<[u32; 8]>;

/// Targets (sorted identity numbers), each with `per` chains (one per profile; one for a
/// single search's reach), chain `k` that of target `k / per`. A chain is kept as a link to
/// the chain it extends by its target: shortest chains from one origin are closed under
/// prefixes (the least shortest chain to a target runs through the least shortest chain to
/// each account on it), so 4 bytes a chain instead of 4 plus 4 a member. A chain that does not
/// extend its prefix's target's chain (hops that depend on the path) keeps its members.
///
/// Canonical: the same targets and chains give the same links, so two are compared, and
/// hashed, as they are kept.
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct Chains {
    targets: Vec<u32>,
    per: usize,
    /// Per chain: [`EMPTY`], [`DIRECT`] (the target alone), [`KEPT`] with an index into
    /// `kept`, or 1 + the index of the chain it extends.
    links: Vec<u32>,
    /// Chains kept whole: where each runs in `members`.
    kept: Vec<(u32, u32)>,
    members: Vec<u32>,
}

/// The link of an empty chain (the target is not reached under that profile).
const EMPTY: u32 = u32::MAX;
/// The link of a chain of the target alone.
const DIRECT: u32 = 0;
/// The bit of a link to a chain kept whole.
const KEPT: u32 = 1 << 31;

impl Chains {
    /// `targets`, sorted, each with `per` chains: `chain_of(j, i)` is the `i`th of target `j`.
    pub fn build<C: AsRef<[u32]>>(
        targets: Vec<u32>,
        per: usize,
        chain_of: impl Fn(usize, usize) -> C,
    ) -> Self {
        let mut chains = Self {
            per: per.max(1),
            links: Vec::with_capacity(targets.len() * per),
            ..Self::default()
        };
        for j in 0..targets.len() {
            for i in 0..per {
                let chain = chain_of(j, i);
                let chain = chain.as_ref();
                let link = match chain {
                    [] => EMPTY,
                    [t] if *t == targets[j] => DIRECT,
                    [prefix @ .., before, t] if *t == targets[j] => targets
                        .binary_search(before)
                        .ok()
                        .map(|p| p * per + i)
                        .filter(|&k| k + 1 < KEPT as usize)
                        .filter(|&k| {
                            let parent = chain_of(k / per, i);
                            parent.as_ref().split_last() == Some((before, prefix))
                        })
                        .map_or(EMPTY, |k| k as u32 + 1),
                    _ => EMPTY,
                };
                let link = if link == EMPTY && !chain.is_empty() {
                    chains.keep(chain)
                } else {
                    link
                };
                chains.links.push(link);
            }
        }
        chains.targets = targets;
        chains.kept.shrink_to_fit();
        chains.members.shrink_to_fit();
        chains
    }

    /// Several reaches of one origin (one per profile) as one: every target of any, each with
    /// its chain under each (empty where that reach lacks it). Links are carried over, so no
    /// chain is made.
    pub fn merge(reaches: &[&Chains]) -> Self {
        let mut targets: Vec<u32> = reaches
            .iter()
            .flat_map(|r| r.targets.iter().copied())
            .collect();
        targets.sort_unstable();
        targets.dedup();
        targets.shrink_to_fit();
        let per = reaches.len();
        let mut chains = Self {
            per,
            links: Vec::with_capacity(targets.len() * per),
            ..Self::default()
        };
        let mut next = vec![0; per];
        for &t in &targets {
            for (i, (r, k)) in reaches.iter().zip(next.iter_mut()).enumerate() {
                if r.targets.get(*k) != Some(&t) {
                    chains.links.push(EMPTY);
                    continue;
                }
                // A reach has one chain per target (`per` 1).
                let link = match r.links[*k] {
                    link @ (EMPTY | DIRECT) => link,
                    link if link & KEPT != 0 => chains.keep(r.kept_members(link)),
                    parent => {
                        let before = r.targets[parent as usize - 1];
                        match targets.binary_search(&before) {
                            Ok(p) if p * per + i + 1 < KEPT as usize => (p * per + i) as u32 + 1,
                            _ => chains.keep(&r.chain(*k)),
                        }
                    }
                };
                chains.links.push(link);
                *k += 1;
            }
        }
        chains.targets = targets;
        chains.kept.shrink_to_fit();
        chains.members.shrink_to_fit();
        chains
    }

    /// Keeps `chain` whole; its link.
    fn keep(&mut self, chain: &[u32]) -> u32 {
        let start = self.members.len() as u32;
        self.members.extend_from_slice(chain);
        self.kept.push((start, self.members.len() as u32));
        KEPT | (self.kept.len() as u32 - 1)
    }

    fn kept_members(&self, link: u32) -> &[u32] {
        let (start, end) = self.kept[(link & !KEPT) as usize];
        &self.members[start as usize..end as usize]
    }

    /// The targets, sorted.
    pub fn targets(&self) -> &[u32] {
        &self.targets
    }

    /// The number of chains (targets × `per`).
    pub fn len(&self) -> usize {
        self.links.len()
    }

    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    /// Whether chain `k` is empty.
    pub fn is_empty_at(&self, k: usize) -> bool {
        self.links[k] == EMPTY
    }

    /// Chain `k`.
    pub fn chain(&self, k: usize) -> Chain {
        let mut chain = Chain::new();
        let mut k = k;
        // Backwards from the target, then turned round.
        loop {
            match self.links[k] {
                EMPTY => break,
                link if link & KEPT != 0 => {
                    chain.extend(self.kept_members(link).iter().rev().copied());
                    break;
                }
                link => {
                    chain.push(self.targets[k / self.per]);
                    if link == DIRECT {
                        break;
                    }
                    k = link as usize - 1;
                }
            }
        }
        chain.reverse();
        chain
    }

    /// The length of chain `k`, without making it.
    pub fn chain_len(&self, k: usize) -> usize {
        let mut len = 0;
        let mut k = k;
        loop {
            match self.links[k] {
                EMPTY => return len,
                link if link & KEPT != 0 => return len + self.kept_members(link).len(),
                DIRECT => return len + 1,
                link => {
                    len += 1;
                    k = link as usize - 1;
                }
            }
        }
    }
}

/// Reached identities by number (see [`Identities`]), in number order, each with its chain
/// of numbers: the compact form of [`Reach`] (about 8 bytes an identity, see [`Chains`]) that
/// large matrices are kept in.
#[derive(Debug, Default)]
pub struct NumberedReach {
    chains: Chains,
}

impl NumberedReach {
    /// From (target, chain) pairs, one per target, in any order.
    pub fn new(mut pairs: Vec<(u32, Vec<u32>)>) -> Self {
        pairs.sort_unstable_by_key(|(t, _)| *t);
        let targets = pairs.iter().map(|(t, _)| *t).collect();
        Self {
            chains: Chains::build(targets, 1, |j, _| &pairs[j].1[..]),
        }
    }

    /// From (target, the account before it on its chain, `None` for a chain of the target
    /// alone) pairs, one per target, in any order, where the chain of each is that of the
    /// account before it, then the target: as a breadth-first search finds them.
    pub fn from_parents(mut found: Vec<(u32, Option<u32>)>) -> Self {
        found.sort_unstable_by_key(|&(t, _)| t);
        let targets: Vec<u32> = found.iter().map(|&(t, _)| t).collect();
        let links = found
            .iter()
            .map(|&(_, before)| match before {
                None => DIRECT,
                // The account before a target was found before it, so it is a target too.
                Some(before) => targets.binary_search(&before).map_or_else(
                    |_| {
                        debug_assert!(false, "{before} is not reached");
                        EMPTY
                    },
                    |k| k as u32 + 1,
                ),
            })
            .collect();
        Self {
            chains: Chains {
                targets,
                per: 1,
                links,
                ..Chains::default()
            },
        }
    }

    /// Its targets and chains.
    pub fn chains(&self) -> &Chains {
        &self.chains
    }

    pub fn len(&self) -> usize {
        self.chains.targets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chains.targets.is_empty()
    }

    /// The reached identities, sorted.
    pub fn targets(&self) -> &[u32] {
        &self.chains.targets
    }

    /// The chain of the `k`th reached identity.
    pub fn chain(&self, k: usize) -> Chain {
        self.chains.chain(k)
    }

    /// The `k`th reached identity and its chain.
    pub fn get(&self, k: usize) -> Option<(u32, Chain)> {
        Some((*self.chains.targets.get(k)?, self.chains.chain(k)))
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, Chain)> + '_ {
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
        use rayon::prelude::*;
        let uids: Vec<EntityUid> = uids.into_iter().collect();
        let mut keyed: Vec<(String, EntityUid)> =
            uids.into_par_iter().map(|u| (u.to_string(), u)).collect();
        // Equal strings are equal uids, so which of equals is kept does not matter.
        keyed.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
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

    /// Chains of targets 1, 2, 3, 5, 6, 7, 8 under two profiles: direct ones, ones that extend
    /// their prefix's chain (one extends a chain kept whole), and ones kept whole (through an
    /// account not reached, not ending in their target, not extending the prefix's chain).
    fn two_profiles() -> (Vec<u32>, Vec<[Vec<u32>; 2]>) {
        let targets = vec![1, 2, 3, 5, 6, 7, 8];
        let chains = vec![
            [vec![1], vec![]],
            [vec![4], vec![]],
            [vec![1, 3], vec![5, 3]],
            [vec![], vec![5]],
            [vec![], vec![9, 7, 6]],
            [vec![1, 3, 7], vec![9, 7]],
            [vec![5, 3, 8], vec![]],
        ];
        (targets, chains)
    }

    #[test]
    fn linked_chains_give_back_each_chain_and_keep_only_what_no_link_gives() {
        let (targets, given) = two_profiles();
        let chains = Chains::build(targets, 2, |j, i| given[j][i].clone());
        for (k, chain) in given.iter().flatten().enumerate() {
            assert_eq!(&chains.chain(k)[..], &chain[..], "chain {k}");
            assert_eq!(chains.chain_len(k), chain.len(), "length of chain {k}");
            assert_eq!(chains.is_empty_at(k), chain.is_empty(), "chain {k}");
        }
        // [4], [9, 7] and [5, 3, 8] only.
        assert_eq!(chains.members, [4, 9, 7, 5, 3, 8]);

        let reach = NumberedReach::new(vec![(9, vec![4, 9]), (2, vec![2])]);
        let pairs: Vec<(u32, Vec<u32>)> = reach.iter().map(|(t, c)| (t, c.to_vec())).collect();
        assert_eq!(pairs, [(2, vec![2]), (9, vec![4, 9])]);
        // As a search finds them: 4 and 2 first, 9 through 4, 7 through 9.
        let found = vec![(9, Some(4)), (2, None), (7, Some(9)), (4, None)];
        let reach = NumberedReach::from_parents(found);
        let pairs: Vec<(u32, Vec<u32>)> = reach.iter().map(|(t, c)| (t, c.to_vec())).collect();
        let made = [
            (2, vec![2]),
            (4, vec![4]),
            (7, vec![4, 9, 7]),
            (9, vec![4, 9]),
        ];
        assert_eq!(pairs, made);
        assert_eq!(reach.chains(), NumberedReach::new(made.to_vec()).chains());
    }

    #[test]
    fn merged_reaches_are_kept_as_the_same_chains_built_whole() {
        let (targets, given) = two_profiles();
        let reaches: Vec<NumberedReach> = (0..2)
            .map(|i| {
                NumberedReach::new(
                    (targets.iter().zip(&given))
                        .filter(|(_, c)| !c[i].is_empty())
                        .map(|(&t, c)| (t, c[i].clone()))
                        .collect(),
                )
            })
            .collect();
        let merged = Chains::merge(&[reaches[0].chains(), reaches[1].chains()]);
        assert_eq!(
            merged,
            Chains::build(targets, 2, |j, i| given[j][i].clone())
        );
    }
}
