//! Reach when hop policies read `delegation_chain`: a search over (account, what the policies
//! observe of the chain behind it) rather than over every simple path.
//!
//! A hop policy that reads the chain usually tests it for a few named accounts
//! (`context.delegation_chain.contains(Acct::"break-glass")`, `containsAny([…])`,
//! `isEmpty()`). When every use of `context.delegation_chain` in the hop policies is such a
//! test, against entity literals or `resource`, a later hop's decision depends on the chain
//! only through which of the named accounts it holds and whether every account on it is of the
//! chain's declared type (else the request leaves the chain out): the *facts*, a bit per named
//! account and one for a misfit. The chain always holds the hop's principal, so it is never
//! empty, and a simple path never holds the hop's resource. Each policy is evaluated under
//! contexts whose chain holds each subset of the accounts it names (and one more account that
//! no policy names), once per group of origins where it also reads `context.impersonator` (the
//! groups of `origins.rs`); a later hop's row under any facts is then put together from those
//! evaluations ([`PerContext`]), with no matrix per set of facts.
//!
//! The search is breadth-first over states (identity, facts), each state entered once, by the
//! least shortest walk to it (ties broken by the walks' uid strings): a least shortest walk to
//! a state extends the least shortest walk to the state before it, since a hop depends only on
//! the state it leaves. A walk may enter an unnamed account twice, which a chain cannot; so
//! the answer stands only when every target's walk is a simple path: then it is the least
//! shortest chain, as every chain is a walk. Otherwise the origin is searched again over
//! chains, each state keeping every chain to it that is worth extending: a chain is dropped
//! only when every set of at most the hops left that avoids it meets one kept before it (see
//! [`hit_avoiding`]), so every continuation of it continues an earlier, no worse chain. The
//! least shortest chain to a target runs through kept chains only (its prefix is the first
//! chain to its state that avoids the rest of it), so this search is exact, and it keeps at
//! most a few chains per state where enumerating every simple path kept millions.
//!
//! This holds under conditions checked by [`ChainFacts::new`]; otherwise reach goes through
//! the engine, every simple path:
//! - the context does not set `delegation_chain` (then it is every hop's, and one matrix per
//!   group of origins decides them, see `origins.rs`);
//! - `delegation_chain` is optional wherever declared, with one element type;
//! - every use of the chain in a template whose action scope covers an impersonation action is
//!   one of the tests above, at most 63 accounts of the chain's type are named in them, and at
//!   most 8 in any one policy;
//! - where `impersonator` is declared, [`origins::applies`](super::origins) holds.

use std::sync::{Arc, Mutex};

use cedar_policy::{EntityTypeName, EntityUid};
use cedar_policy_core::ast::{BinaryOp, Expr, ExprKind, Literal, UnaryOp, Var};
use rustc_hash::{FxHashMap, FxHashSet};
use smallvec::SmallVec;

use super::matrix::PerContext;
use super::{Identities, NumberedReach};
use crate::core::schema::set_element_type_of;
use crate::core::uid::entity_value;
use crate::engine::{to_api, ContextMap, Engine, DELEGATION_CHAIN, IMPERSONATOR};

/// The bit of the facts that says an account of another type than the chain's is on it: the
/// chain is then left out of the request.
const UNFIT: u64 = 1 << 63;

/// Reach under one context by (identity, facts) states.
pub(super) struct ChainFacts {
    /// Its own numbering of the identities (decisions are shared between the matrices below).
    identities: Arc<Identities>,
    /// First hops: nobody behind them, so no chain.
    first: PerContext,
    /// Later hops, under every (group of origins, variant of the chain) context.
    later: PerContext,
    /// The accounts named in the policies' tests of the chain.
    named: Named,
    /// Each identity's group as an origin (by what the policies observe of it as
    /// `context.impersonator`); the last group is that of origins it does not fit.
    group_of: Vec<u32>,
    /// Per policy (the slicer's order): how its later hops are decided.
    policies: Vec<Deciding>,
    /// The context of each (group, variant) some policy is decided under, by index.
    contexts: FxHashMap<(u32, u32), u32>,
    /// The impersonable types, and how many identities are of them.
    impersonable: (Vec<EntityTypeName>, usize),
    /// Reaches of origins that cannot be targets, by (first class, group of origins).
    shared: Mutex<FxHashMap<(u32, u32), Arc<NumberedReach>>>,
}

/// How a policy's later hops are decided under a group of origins and a set of facts.
struct Deciding {
    /// For a policy that reads `context.impersonator`: per group of origins, the group whose
    /// context decides it.
    by_group: Option<Vec<u32>>,
    /// For a policy that tests the chain: the named accounts it tests it for.
    named: Option<u64>,
}

/// The accounts the hop policies name in their tests of the chain, and the sets of them a
/// policy can tell apart.
struct Named {
    /// Bit `i` of a set of facts stands for identity number `named[i]`.
    named: Vec<u32>,
    bit_of: FxHashMap<u32, u64>,
    fits: Vec<bool>,
    /// Per policy (the slicer's order) that tests the chain: the named accounts it tests.
    masks: Vec<Option<u64>>,
    /// Every set of named accounts a policy can tell apart (the subsets of those it tests, and
    /// [`UNFIT`] when an account of another type can be on the chain), with its index.
    variants: FxHashMap<u64, u32>,
    by_index: Vec<u64>,
    filler: EntityUid,
}

impl Named {
    fn new(engine: &Engine, identities: &Identities, chain_type: &EntityTypeName) -> Option<Self> {
        let tests = chain_tests(engine)?;
        let literals = || tests.iter().flatten().flatten();
        let mut named: Vec<u32> = literals()
            .filter(|u| u.type_name() == chain_type)
            .filter_map(|u| identities.number(u))
            .collect();
        named.sort_unstable();
        named.dedup();
        if named.len() > 63 {
            return None;
        }
        let bit_of: FxHashMap<u32, u64> = named
            .iter()
            .enumerate()
            .map(|(i, &n)| (n, 1u64 << i))
            .collect();
        let mask = |uids: &[EntityUid]| {
            uids.iter()
                .filter_map(|u| identities.number(u))
                .fold(0u64, |m, n| m | bit_of.get(&n).copied().unwrap_or(0))
        };
        let masks: Vec<Option<u64>> = tests.iter().map(|t| t.as_deref().map(mask)).collect();
        let mut variants: FxHashMap<u64, u32> = FxHashMap::default();
        variants.insert(0, 0);
        if engine.impersonable_types().iter().any(|t| t != chain_type) {
            variants.insert(UNFIT, 1);
        }
        for &m in masks.iter().flatten() {
            if m.count_ones() > 8 {
                return None;
            }
            let mut sub = m;
            loop {
                let next = variants.len() as u32;
                variants.entry(sub).or_insert(next);
                if sub == 0 {
                    break;
                }
                sub = (sub - 1) & m;
            }
        }
        let mut by_index: Vec<u64> = vec![0; variants.len()];
        for (&m, &v) in &variants {
            by_index[v as usize] = m;
        }
        let mut id = String::from("actas: any other account");
        let filler = loop {
            let uid = EntityUid::from_type_name_and_id(chain_type.clone(), id.parse().ok()?);
            if identities.number(&uid).is_none() && !literals().any(|u| u == &uid) {
                break uid;
            }
            id.push('\'');
        };
        let fits = identities
            .uids
            .iter()
            .map(|u| u.type_name() == chain_type)
            .collect();
        Some(Self {
            named,
            bit_of,
            fits,
            masks,
            variants,
            by_index,
            filler,
        })
    }

    /// `context` with the chain of variant `m`: the filler and the named accounts of `m`, or
    /// none at all for [`UNFIT`].
    fn context(&self, identities: &Identities, context: &ContextMap, m: u64) -> ContextMap {
        let mut context = context.clone();
        if m == UNFIT {
            context.remove(DELEGATION_CHAIN);
            return context;
        }
        let mut chain = vec![entity_value(&self.filler)];
        for (i, &n) in self.named.iter().enumerate() {
            if m & (1 << i) != 0 {
                chain.push(entity_value(&identities.uids[n as usize]));
            }
        }
        context.insert(DELEGATION_CHAIN.into(), serde_json::Value::Array(chain));
        context
    }
}

/// The contexts of later hops per group of origins (by what the policies observe of them as
/// `context.impersonator`, where hops read it per origin; the last group is that of origins it
/// does not fit, or of every origin), each identity's group, and per policy (the slicer's
/// order) that reads the impersonator, the group that decides it for each group.
type Groups = (Vec<ContextMap>, Vec<u32>, Vec<Option<Vec<u32>>>);

fn groups(engine: &Engine, identities: &Identities, none: ContextMap) -> Option<Groups> {
    let declares_impersonator = engine
        .actions
        .iter()
        .filter_map(|a| engine.action(a))
        .any(|a| a.context.contains_key(IMPERSONATOR));
    if !declares_impersonator || none.contains_key(IMPERSONATOR) {
        let n = identities.len();
        return Some((vec![none], vec![0; n], vec![None; engine.slicer().len()]));
    }
    let ty = super::origins::applies(engine, &none)?;
    let plan = super::origins::plan(engine, identities, &none, &ty, &engine.actions);
    let last = plan.contexts.len() as u32;
    let group_of = plan.group_of.iter().map(|&g| g.min(last)).collect();
    let by_group = super::origins::deciding_groups(engine, &plan.representatives)
        .into_iter()
        .map(|d| {
            d.map(|mut d| {
                d.push(last);
                d
            })
        })
        .collect();
    let mut contexts = plan.contexts;
    contexts.push(none);
    Some((contexts, group_of, by_group))
}

impl ChainFacts {
    /// The search under `context`, when its conditions (above) hold.
    pub(super) fn new(engine: &Engine, context: &ContextMap) -> Option<Self> {
        if context.contains_key(DELEGATION_CHAIN) {
            return None;
        }
        let chain_type = chain_type(engine)?;
        let identities = Arc::new(Identities::new(engine));
        identities.share_decisions(true);
        let named = Named::new(engine, &identities, &chain_type)?;
        let none = named.context(&identities, context, 0);
        let (groups, group_of, by_group) = groups(engine, &identities, none)?;
        let policies: Vec<Deciding> = by_group
            .into_iter()
            .zip(&named.masks)
            .map(|(by_group, named)| Deciding {
                by_group,
                named: *named,
            })
            .collect();
        // Whether policy `p` is decided under group `g`'s context (its own, where it reads the
        // impersonator; the first otherwise) and under variant `v` of the chain (any variant
        // of the accounts it tests, or none where the chain is left out; the first otherwise).
        let by_group =
            |p: &Deciding, g: u32| p.by_group.as_ref().map_or(g == 0, |d| d[g as usize] == g);
        let by_variant = |p: &Deciding, v: u32| {
            let m = named.by_index[v as usize];
            p.named
                .map_or(v == 0, |tested| m == UNFIT || m & !tested == 0)
        };
        // The (group, variant) pairs some policy is decided under, each a context: the shared
        // policies' first.
        let (group_count, variants) = (groups.len() as u32, named.by_index.len() as u32);
        let mut needed: Vec<(u32, u32)> = vec![(0, 0)];
        for p in &policies {
            let tested: Vec<u32> = (0..variants).filter(|&v| by_variant(p, v)).collect();
            for g in (0..group_count).filter(|&g| by_group(p, g)) {
                needed.extend(tested.iter().map(|&v| (g, v)));
            }
        }
        needed[1..].sort_unstable();
        needed.dedup();
        let index: FxHashMap<(u32, u32), u32> = needed
            .iter()
            .enumerate()
            .map(|(c, &gv)| (gv, c as u32))
            .collect();
        let contexts: Vec<ContextMap> = needed
            .iter()
            .map(|&(g, v)| {
                named.context(&identities, &groups[g as usize], named.by_index[v as usize])
            })
            .collect();
        let alike = |i: usize| policies[i].by_group.is_none() && policies[i].named.is_none();
        let wanted = |i: usize, c: u32| {
            let (g, v) = needed[c as usize];
            by_group(&policies[i], g) && by_variant(&policies[i], v)
        };
        let later = PerContext::build(engine, &identities, &contexts, &alike, &wanted);
        let first = std::slice::from_ref(context);
        Some(Self {
            first: PerContext::build(engine, &identities, first, &|_| true, &|_, _| false),
            later,
            identities,
            named,
            group_of,
            policies,
            contexts: index,
            impersonable: (engine.impersonable_types(), engine.impersonable().len()),
            shared: Mutex::default(),
        })
    }

    /// The context that decides policy `i` for a later hop of an origin of group `g` under
    /// `facts`.
    fn context_of(&self, i: usize, g: u32, facts: u64) -> u32 {
        let p = &self.policies[i];
        let group = p.by_group.as_ref().map_or(0, |d| d[g as usize]);
        let variant = p.named.map_or(0, |named| match facts & UNFIT {
            0 => self.named.variants[&(facts & named)],
            _ => self.named.variants[&UNFIT],
        });
        self.contexts[&(group, variant)]
    }

    /// What entering identity `n` adds to the facts: its bit if it is named, [`UNFIT`] if
    /// it is not of the chain's type.
    fn bit(&self, n: u32) -> u64 {
        let named = self.named.bit_of.get(&n).copied().unwrap_or(0);
        named
            | if self.named.fits[n as usize] {
                0
            } else {
                UNFIT
            }
    }

    /// [`ChainFacts::reach`] by uid.
    pub(super) fn reach_of(&self, engine: &Engine, origin: &EntityUid) -> super::Reach {
        self.identities.reach(&self.reach(engine, origin))
    }

    /// The chain from `origin` to `target` in [`ChainFacts::reach`], by uid.
    pub(super) fn chain_to(
        &self,
        engine: &Engine,
        origin: &EntityUid,
        target: &EntityUid,
    ) -> Option<Vec<super::Uid>> {
        let t = self.identities.number(target)?;
        let reach = self.reach(engine, origin);
        let k = reach.targets().binary_search(&t).ok()?;
        let uids = &self.identities.uids;
        Some(
            reach
                .chain(k)
                .iter()
                .map(|&n| uids[n as usize].clone())
                .collect(),
        )
    }

    /// [`ChainFacts::reach`] numbered by `identities`, when they number alike (they number the
    /// same engine's identities in the same order, so whenever there are as many).
    pub(super) fn reach_numbered(
        &self,
        engine: &Engine,
        origin: &EntityUid,
        identities: &Identities,
    ) -> Option<Arc<NumberedReach>> {
        (identities.len() == self.identities.len()).then(|| self.reach(engine, origin))
    }

    /// Every identity `origin` reaches within `max_chain` hops over simple paths,
    /// with its least shortest chain, as [`super::Reachability::reach_from`] defines them.
    pub(super) fn reach(&self, engine: &Engine, origin: &EntityUid) -> Arc<NumberedReach> {
        let Some(o) = self.identities.number(origin) else {
            return Arc::new(NumberedReach::new(Vec::new()));
        };
        // Origins that are never a target and that every matrix puts alike search alike.
        let target = self.impersonable.0.contains(origin.type_name());
        let key = (!target).then(|| (self.first.class_of(o), self.group_of[o as usize]));
        if let Some(found) = key.and_then(|k| lock(&self.shared).get(&k).cloned()) {
            return found;
        }
        let all = self.impersonable.1 - usize::from(target);
        let found = self
            .by_states(engine, o, all)
            .unwrap_or_else(|| self.search(engine, o, all));
        let found = Arc::new(NumberedReach::new(found.into_iter().collect()));
        if let Some(k) = key {
            lock(&self.shared).insert(k, found.clone());
        }
        found
    }

    /// The first hops from `origin`, sorted.
    fn first_hops(&self, origin: u32) -> Vec<u32> {
        let mut hops = Vec::new();
        let row = self.first.row(self.first.class_of(origin), |_| 0);
        self.first.successors(&row, origin, &mut hops);
        hops.sort_unstable();
        hops
    }

    /// The identities members of class `class` may hop to as later hops of an origin of group
    /// `g` under `facts`, sorted (the class's own members included), remembered in `memo` (one
    /// search's: kept for every search, they took gigabytes).
    fn later_hops<'m>(
        &self,
        memo: &'m mut FxHashMap<(u32, u64), Vec<u32>>,
        g: u32,
        class: u32,
        facts: u64,
    ) -> &'m [u32] {
        memo.entry((class, facts)).or_insert_with(|| {
            let row = self.later.row(class, |i| self.context_of(i, g, facts));
            let mut hops = Vec::new();
            self.later.successors(&row, u32::MAX, &mut hops);
            hops.sort_unstable();
            hops
        })
    }

    /// The search over (identity, facts) states: each target's least shortest walk, or `None`
    /// when one of them is not a simple path. The search stops once it has reached `all`
    /// targets.
    fn by_states(
        &self,
        engine: &Engine,
        origin: u32,
        all: usize,
    ) -> Option<FxHashMap<u32, Vec<u32>>> {
        let g = self.group_of[origin as usize];
        let words = self.identities.len().div_ceil(64);
        // Each state entered: per set of facts, a bit per identity.
        let mut entered: FxHashMap<u64, Vec<u64>> = FxHashMap::default();
        let mut enter = |x: u32, facts: u64| {
            let bits = entered.entry(facts).or_insert_with(|| vec![0; words]);
            let (w, b) = (x as usize / 64, 1u64 << (x % 64));
            let new = bits[w] & b == 0;
            bits[w] |= b;
            new
        };
        // Every walk found, as (its last identity, its facts, the index of the walk it
        // extends), depth by depth in the order of their uid strings; each target's first.
        let mut nodes: Vec<(u32, u64, u32)> = Vec::new();
        let mut best: FxHashMap<u32, u32> = FxHashMap::default();
        for x in self.first_hops(origin) {
            let facts = self.bit(x);
            enter(x, facts);
            best.insert(x, nodes.len() as u32);
            nodes.push((x, facts, u32::MAX));
        }
        let mut frontier = 0..nodes.len();
        let mut memo = FxHashMap::default();
        for _ in 1..engine.max_chain {
            if frontier.is_empty() || best.len() >= all {
                break;
            }
            let start = nodes.len();
            for at in frontier {
                let (from, facts, _) = nodes[at];
                let hops = self.later_hops(&mut memo, g, self.later.class_of(from), facts);
                for &x in hops.iter().filter(|&&x| x != from && x != origin) {
                    let bit = self.bit(x);
                    // A named account already on the walk is never entered again.
                    if facts & bit & !UNFIT != 0 || !enter(x, facts | bit) {
                        continue;
                    }
                    best.entry(x).or_insert(nodes.len() as u32);
                    nodes.push((x, facts | bit, at as u32));
                }
            }
            frontier = start..nodes.len();
        }
        let walk = |mut k: u32| {
            let mut walk = Vec::new();
            while k != u32::MAX {
                walk.push(nodes[k as usize].0);
                k = nodes[k as usize].2;
            }
            walk.reverse();
            walk
        };
        let mut found = FxHashMap::default();
        for (&x, &k) in &best {
            let walk = walk(k);
            let mut seen: FxHashSet<u32> = FxHashSet::default();
            if !walk.iter().all(|x| seen.insert(*x)) {
                return None;
            }
            found.insert(x, walk);
        }
        Some(found)
    }

    /// The search over (identity, facts) states, each entered by the chains worth extending
    /// (see the module's documentation): each target's least shortest chain. It stops once it
    /// has reached `all` targets.
    fn search(&self, engine: &Engine, origin: u32, all: usize) -> FxHashMap<u32, Vec<u32>> {
        let g = self.group_of[origin as usize];
        let max = engine.max_chain as usize;
        // Every chain kept, as (its last identity, its facts, the index of the chain it
        // extends), depth by depth in the order of their uid strings; each state's chains;
        // each target's first.
        let mut nodes: Vec<(u32, u64, u32)> = Vec::new();
        let mut kept: FxHashMap<(u32, u64), SmallVec<[u32; 2]>> = FxHashMap::default();
        let mut best: FxHashMap<u32, u32> = FxHashMap::default();
        let members = |nodes: &[(u32, u64, u32)], mut k: u32| {
            let mut chain: SmallVec<[u32; 8]> = SmallVec::new();
            while k != u32::MAX {
                chain.push(nodes[k as usize].0);
                k = nodes[k as usize].2;
            }
            chain
        };
        for x in self.first_hops(origin) {
            let facts = self.bit(x);
            kept.entry((x, facts)).or_default().push(nodes.len() as u32);
            best.insert(x, nodes.len() as u32);
            nodes.push((x, facts, u32::MAX));
        }
        let mut frontier = 0..nodes.len();
        let mut memo = FxHashMap::default();
        for depth in 2..=max {
            if frontier.is_empty() || best.len() >= all {
                break;
            }
            let start = nodes.len();
            for at in frontier {
                let (from, facts, _) = nodes[at];
                let mut chain = members(&nodes, at as u32);
                let hops = self.later_hops(&mut memo, g, self.later.class_of(from), facts);
                for &x in hops.iter() {
                    if x == origin || chain.contains(&x) {
                        continue;
                    }
                    let state = (x, facts | self.bit(x));
                    let others = kept.entry(state).or_default();
                    chain.push(x);
                    let worth = others.is_empty()
                        || hit_avoiding(
                            &others
                                .iter()
                                .map(|&k| members(&nodes, k))
                                .collect::<Vec<_>>(),
                            &chain,
                            max - depth,
                        );
                    chain.pop();
                    if worth {
                        others.push(nodes.len() as u32);
                        best.entry(x).or_insert(nodes.len() as u32);
                        nodes.push((x, state.1, at as u32));
                    }
                }
            }
            frontier = start..nodes.len();
        }
        best.into_iter()
            .map(|(x, k)| {
                let mut chain = members(&nodes, k).into_vec();
                chain.reverse();
                (x, chain)
            })
            .collect()
    }
}

/// Whether at most `left` identities outside `chain` meet every one of `others` (chains to the
/// same state, found before it): then a continuation through those identities extends `chain`
/// but none of `others`, and `chain` is worth keeping. Otherwise every continuation that
/// extends `chain` extends one of them, which is shorter or sorts first.
fn hit_avoiding(others: &[SmallVec<[u32; 8]>], chain: &[u32], left: usize) -> bool {
    fn meet(
        others: &[SmallVec<[u32; 8]>],
        chain: &[u32],
        chosen: &mut Vec<u32>,
        left: usize,
    ) -> bool {
        let Some(unmet) = others
            .iter()
            .find(|o| !o.iter().any(|x| chosen.contains(x)))
        else {
            return true;
        };
        if left == 0 {
            return false;
        }
        for &x in unmet.iter().filter(|x| !chain.contains(x)) {
            chosen.push(x);
            let met = meet(others, chain, chosen, left - 1);
            chosen.pop();
            if met {
                return true;
            }
        }
        false
    }
    meet(others, chain, &mut Vec::new(), left)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The chain's element type, when `delegation_chain` is optional wherever declared and every
/// declaration gives the same element type.
fn chain_type(engine: &Engine) -> Option<EntityTypeName> {
    let mut found: Option<EntityTypeName> = None;
    for info in engine.actions.iter().filter_map(|a| engine.action(a)) {
        let Some(attr) = info.context.get(DELEGATION_CHAIN) else {
            continue;
        };
        let ty = set_element_type_of(&attr.ty)?;
        if attr.required || found.as_ref().is_some_and(|f| f != &ty) {
            return None;
        }
        found = Some(ty);
    }
    found
}

/// Per policy (the slicer's order) whose action scope covers an impersonation action and that
/// reads `context.delegation_chain`, the entity literals it tests the chain against; `None`
/// when one uses the chain otherwise (see the module's documentation).
fn chain_tests(engine: &Engine) -> Option<Vec<Option<Vec<EntityUid>>>> {
    (0..engine.slicer().len())
        .map(|i| {
            let policy = engine.policy_ast(i)?;
            let covers = engine
                .actions
                .iter()
                .any(|a| engine.scope_covers_action(policy.action_constraint(), a));
            if !covers {
                return Some(None);
            }
            let mut literals = Vec::new();
            let uses = tests_of_the_chain(&policy.condition(), &mut literals)?;
            Some((uses > 0).then_some(literals))
        })
        .collect()
}

/// Adds the literals `e` tests the chain against to `literals`, and says how many times it
/// reads the chain; `None` when `e` uses the chain (or the context as a whole) otherwise.
fn tests_of_the_chain(e: &Expr, literals: &mut Vec<EntityUid>) -> Option<usize> {
    if crate::engine::uses_whole_context(e) {
        return None;
    }
    let is_chain = |x: &Expr| {
        matches!(x.expr_kind(), ExprKind::GetAttr { expr, attr }
            if matches!(expr.expr_kind(), ExprKind::Var(Var::Context))
                && attr.as_str() == DELEGATION_CHAIN)
    };
    let (mut uses, mut tests) = (0usize, 0usize);
    for x in e.subexpressions() {
        match x.expr_kind() {
            _ if is_chain(x) => uses += 1,
            ExprKind::ExtHasAttr { expr, attrs }
                if matches!(expr.expr_kind(), ExprKind::Var(Var::Context))
                    && attrs.first().as_str() == DELEGATION_CHAIN =>
            {
                return None;
            }
            ExprKind::UnaryApp {
                op: UnaryOp::IsEmpty,
                arg,
            } if is_chain(arg) => tests += 1,
            ExprKind::BinaryApp {
                op: BinaryOp::Contains | BinaryOp::ContainsAll | BinaryOp::ContainsAny,
                arg1,
                arg2,
            } if is_chain(arg1) => {
                against(arg2, literals)?;
                tests += 1;
            }
            _ => {}
        }
    }
    (uses == tests).then_some(uses)
}

/// Adds the entity literals of `arg` (a literal, `resource`, or a set of those) to
/// `literals`; `None` for anything else.
fn against(arg: &Expr, literals: &mut Vec<EntityUid>) -> Option<()> {
    match arg.expr_kind() {
        ExprKind::Lit(Literal::EntityUID(uid)) => {
            literals.push(to_api(uid)?);
            Some(())
        }
        ExprKind::Var(Var::Resource) => Some(()),
        ExprKind::Set(members) => members.iter().try_for_each(|m| against(m, literals)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literals_of(condition: &str) -> Option<Vec<String>> {
        let text = format!("permit(principal, action, resource) when {{ {condition} }};");
        let p: cedar_policy::Policy = text.parse().unwrap();
        let ast: &cedar_policy_core::ast::Policy = p.as_ref();
        let mut found = Vec::new();
        tests_of_the_chain(&ast.condition(), &mut found)?;
        Some(found.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_chain_is_worth_keeping_while_few_identities_avoid_it_and_meet_the_others() {
        let chains = |list: &[&[u32]]| -> Vec<SmallVec<[u32; 8]>> {
            list.iter().map(|c| c.iter().copied().collect()).collect()
        };
        // Chains to account 9: [1, 9] is kept; [2, 9] too, if one more hop may follow (through
        // 1, which [2, 9] avoids), not if none may.
        assert!(hit_avoiding(&chains(&[&[1, 9]]), &[2, 9], 1));
        assert!(!hit_avoiding(&chains(&[&[1, 9]]), &[2, 9], 0));
        // Meeting [1, 9] and [2, 9] while avoiding [3, 9] takes two identities.
        assert!(!hit_avoiding(&chains(&[&[1, 9], &[2, 9]]), &[3, 9], 1));
        assert!(hit_avoiding(&chains(&[&[1, 9], &[2, 9]]), &[3, 9], 2));
        // A chain that holds every member of an earlier one is never worth keeping.
        assert!(!hit_avoiding(&chains(&[&[1, 9]]), &[1, 2, 9], 3));
    }

    #[test]
    fn tests_of_the_chain_against_named_accounts_are_read() {
        assert_eq!(literals_of("context.mfa"), Some(vec![]));
        assert_eq!(
            literals_of(
                r#"context has delegation_chain && context.delegation_chain.contains(A::"x")"#
            ),
            Some(vec![r#"A::"x""#.into()])
        );
        assert_eq!(
            literals_of(
                r#"context.delegation_chain.containsAny([A::"x", A::"y"]) || context.delegation_chain.isEmpty()"#
            ),
            Some(vec![r#"A::"x""#.into(), r#"A::"y""#.into()])
        );
        assert_eq!(
            literals_of("context.delegation_chain.contains(resource)"),
            Some(vec![])
        );
        // Anything else may observe more of the chain.
        for other in [
            "context.delegation_chain.contains(principal)",
            "context.delegation_chain == [A::\"x\"]",
            "principal in context.delegation_chain",
            "[A::\"x\"].containsAll(context.delegation_chain)",
            "context.delegation_chain.contains(resource.owner)",
            "context == {}",
        ] {
            assert_eq!(literals_of(other), None, "{other}");
        }
    }
}
