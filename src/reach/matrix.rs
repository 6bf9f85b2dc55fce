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
//! condition or link), appears in the values of an attribute or context attribute the policy
//! reads (of any entity; every context value when it uses `context` whole), in a tag value when
//! it uses tags, or has descendants (then another request participant can be `in` it); the
//! attributes the policy names (`.a`, `has a`) and, if it uses tags, the tags; and whether they
//! are `in` the entities it can name. Cedar cannot turn an entity into a string, so nothing else shows. Two identities
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

use std::borrow::Cow;
use std::sync::{Arc, Mutex, OnceLock};

use cedar_policy::{Context, EntityUid};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::classes::{
    classes_of, facts_of, key_of, observable, observations, Facts, Key, Nameable, Observable,
    Observes,
};
use super::joins;
use super::{Identities, NumberedReach, Reach, Uid};
use crate::core::ids::PolicyId;
use crate::engine::slice::{set_bit, words, Constraint};
use crate::engine::{ContextMap, Engine};

/// Source classes grouped alike, each with the target classes where a policy holds.
type Blocks = Vec<(Vec<u32>, Targets)>;

/// Where a policy is satisfied under one action: (action index, policy index, each group of
/// source classes' target classes); `Satisfied::of_class` says which group a class is in.
type PolicyBlocks = (usize, usize, Vec<Targets>);

/// The target classes where a policy holds for one group of source classes: a sorted list
/// when they are few (a relation such as ownership holds for one account per person, and a
/// bitset per person was most of a matrix's memory), else a bitset.
#[derive(Clone)]
enum Targets {
    Few(Box<[u32]>),
    Many(Box<[u64]>),
}

impl Targets {
    /// From the classes themselves (any order, each once), of `n` classes.
    fn from_classes(mut list: Vec<u32>, n: usize) -> Self {
        // A list entry takes 32 bits, a bitset one bit per class.
        if list.len() * 32 < words(n) * 64 {
            list.sort_unstable();
            Self::Few(list.into())
        } else {
            let mut bits = vec![0; words(n)];
            list.iter().for_each(|&c| set_bit(&mut bits, c as usize));
            Self::Many(bits.into())
        }
    }

    fn contains(&self, class: u32) -> bool {
        match self {
            Self::Few(list) => list.binary_search(&class).is_ok(),
            Self::Many(bits) => has_bit(bits, class),
        }
    }

    /// Sets its classes' bits in `row`.
    fn or_into(&self, row: &mut [u64]) {
        match self {
            Self::Few(list) => list.iter().for_each(|&c| set_bit(row, c as usize)),
            Self::Many(bits) => row.iter_mut().zip(bits.iter()).for_each(|(w, b)| *w |= b),
        }
    }
}

/// The classes inside each entity a policy scope names (`== e`, `in e`): a policy's in-scope
/// classes are found by lookup rather than by testing every class against every scope, which
/// with thousands of template links (a scope each) was most of the matrix's time. A class is
/// in a scope entity exactly when its representative is: scope entities are policy literals,
/// and every class key holds its members' membership in those (and a named uid's class has that
/// one member).
struct ScopeClasses(FxHashMap<EntityUid, Vec<u32>>);

impl ScopeClasses {
    fn new(engine: &Engine, classes: &Classes) -> Self {
        let slicer = engine.slicer();
        let mut named: FxHashMap<EntityUid, Vec<u32>> = FxHashMap::default();
        for i in 0..slicer.len() {
            for c in [
                slicer.principal_constraint(i),
                slicer.resource_constraint(i),
            ] {
                if let Constraint::Eq(e) | Constraint::In(e, _) = c {
                    named.entry(e.clone()).or_default();
                }
            }
        }
        for c in 0..classes.len() as u32 {
            let rep = classes.rep(c);
            let ancestors = engine.entities.ancestors(rep).into_iter().flatten();
            for e in std::iter::once(rep).chain(ancestors) {
                if let Some(inside) = named.get_mut(e) {
                    inside.push(c);
                }
            }
        }
        Self(named)
    }

    /// The classes among `candidates` (sorted; `is_candidate` marks them) whose members satisfy
    /// `constraint`, in class order.
    fn select(
        &self,
        classes: &Classes,
        constraint: &Constraint<'_>,
        candidates: &[u32],
        is_candidate: &[bool],
    ) -> Vec<u32> {
        let ty = match constraint {
            Constraint::Is(t) | Constraint::In(_, Some(t)) => Some(*t),
            _ => None,
        };
        let of_type = ty.map(|t| classes.identities.of_types(std::slice::from_ref(t)));
        let has_type = |c: u32| {
            of_type
                .as_ref()
                .is_none_or(|of_type| of_type(classes.members[c as usize][0]))
        };
        match constraint {
            Constraint::Any => candidates.to_vec(),
            Constraint::Is(_) => candidates
                .iter()
                .copied()
                .filter(|&c| has_type(c))
                .collect(),
            Constraint::Eq(e) | Constraint::In(e, _) => {
                let exact = matches!(constraint, Constraint::Eq(_));
                self.0
                    .get(*e)
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(|&c| is_candidate[c as usize] && has_type(c))
                    .filter(|&c| !exact || classes.rep(c) == *e)
                    .collect()
            }
        }
    }
}

/// The classes of a matrix: shared by the later matrices of one context (see
/// [`HopMatrix::build_by_origin`]).
struct Classes {
    /// Every identity that is a hop's principal or resource; its number is its id.
    identities: Arc<Identities>,
    /// The class of each identity, by number.
    class_of: Vec<u32>,
    /// Members of each class, by id (so in uid-string order).
    members: Vec<Vec<u32>>,
    /// Classes whose members can be impersonated.
    target: Vec<bool>,
}

impl Classes {
    fn rep(&self, class: u32) -> &EntityUid {
        &self.identities.uids[self.members[class as usize][0] as usize]
    }

    fn len(&self) -> usize {
        self.members.len()
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
}

/// Where the policies of one effect are satisfied: per (action, policy), each group's target
/// classes, and per source class the (entry, group) of those satisfied for it somewhere
/// (sparse, because most policies, a template link each, say, hold for few classes).
#[derive(Default)]
struct Satisfied {
    /// (action index, policy index, each group of source classes' target classes).
    entries: Vec<PolicyBlocks>,
    of_class: FxHashMap<u32, Vec<(u32, u32)>>,
}

impl Satisfied {
    fn add(&mut self, ai: usize, i: usize, blocks: Blocks) {
        if blocks.is_empty() {
            return;
        }
        let e = self.entries.len() as u32;
        let mut targets = Vec::with_capacity(blocks.len());
        for (g, (group, t)) in blocks.into_iter().enumerate() {
            for c in group {
                self.of_class.entry(c).or_default().push((e, g as u32));
            }
            targets.push(t);
        }
        self.entries.push((ai, i, targets));
    }

    /// The entries of action `ai` satisfied for source class `cf`, with the group it is in.
    fn of(&self, ai: usize, cf: u32) -> impl Iterator<Item = (usize, &Targets)> + '_ {
        let found = self.of_class.get(&cf).into_iter().flatten();
        found.filter_map(move |&(e, g)| {
            let (a, i, targets) = &self.entries[e as usize];
            (*a == ai).then(|| (*i, &targets[g as usize]))
        })
    }

    /// Sets in `row` the target classes of action `ai`'s entries satisfied for class `cf`.
    fn or_into(&self, ai: usize, cf: u32, row: &mut [u64]) {
        self.of(ai, cf).for_each(|(_, t)| t.or_into(row));
    }

    /// The policies of action `ai` satisfied from class `cf` to class `ct`.
    fn between(&self, ai: usize, cf: u32, ct: u32) -> impl Iterator<Item = usize> + '_ {
        self.of(ai, cf)
            .filter(move |(_, t)| t.contains(ct))
            .map(|(i, _)| i)
    }
}

/// A class-by-class bitset matrix per action.
type PerAction = Vec<Vec<Vec<u64>>>;

/// What a matrix decides: where its permits and its forbids are satisfied, per action (so
/// which actions allow a hop is made on demand, for explanations only), and for a matrix of its
/// own the rows searches read. A later matrix of a context (see
/// [`HopMatrix::build_by_origin`]) keeps only the policies that read `context.impersonator`,
/// beside what the rest decide for every group of origins alike, and makes its rows on demand.
struct Decided {
    /// Per class: the classes its members may hop to by some action (bit per class).
    rows: Option<Vec<Vec<u64>>>,
    shared: Option<Arc<Shared>>,
    permits: Satisfied,
    forbids: Satisfied,
}

/// What the policies that do not read `context.impersonator` decide for later hops, the same
/// for every group of origins.
struct Shared {
    /// Per action: where some such permit, and where some such forbid, is satisfied.
    permit: PerAction,
    forbid: PerAction,
    permits: Satisfied,
}

impl Shared {
    /// The policies `wanted` evaluated under `ctx` for each of `actions`, and the evaluations
    /// spent.
    fn evaluate(
        ev: &Evaluator<'_>,
        actions: &[EntityUid],
        ctx: &ContextMap,
        wanted: &(dyn Fn(usize) -> bool + Sync),
    ) -> (Self, usize) {
        let n = ev.classes.len();
        let mut shared = Shared {
            permit: Vec::new(),
            forbid: Vec::new(),
            permits: Satisfied::default(),
        };
        let mut evaluations = 0;
        for (ai, action) in actions.iter().enumerate() {
            let (evaluated, spent) = ev.action(action, ctx, wanted);
            evaluations += spent;
            let (permit, forbid) = dense(n, &evaluated);
            shared.permit.push(permit);
            shared.forbid.push(forbid);
            for (i, is_permit, blocks) in evaluated {
                if is_permit {
                    shared.permits.add(ai, i, blocks);
                }
            }
        }
        (shared, evaluations)
    }
}

/// What every policy's evaluation shares within one matrix (or one family of later matrices).
struct Evaluator<'a> {
    engine: &'a Engine,
    classes: &'a Classes,
    observes: &'a [Observes],
    facts: &'a [Facts],
    observable: &'a Observable,
    scopes: &'a ScopeClasses,
    /// With several contexts (later matrices): each policy's pairing per action, which does
    /// not depend on the context, made once rather than once per group of origins (grouping
    /// the classes by key was a third of building them).
    pairings: Option<Pairings>,
    /// The decisions shared with other matrices over the same classes, and these classes'
    /// number among them (see [`Decisions`]); `None` when nothing is shared.
    shared: Option<(&'a Decisions, u32)>,
}

/// What policies decided over one numbering of identities, kept while several profiles'
/// matrices are built over it (see [`Identities::share_decisions`]). On the same classes
/// (equal partitions) and the same action, a policy decides alike under two contexts that
/// agree on every context attribute it reads (or on the whole context, where it uses it
/// whole): most policies read none or few of the attributes on which profiles differ.
#[derive(Default)]
pub(crate) struct Decisions {
    on: std::sync::atomic::AtomicBool,
    /// Each partition of the identities into classes met, by its classes' numbers.
    partitions: Mutex<FxHashMap<Vec<u32>, u32>>,
    decided: Mutex<FxHashMap<DecisionKey, Blocks>>,
}

/// (partition, policy index, action, the context attributes it reads, with their values).
type DecisionKey = (u32, usize, EntityUid, String);

impl Decisions {
    /// Starts (or stops, forgetting everything) sharing decisions.
    pub(crate) fn share(&self, on: bool) {
        self.on.store(on, std::sync::atomic::Ordering::Relaxed);
        if !on {
            *lock(&self.partitions) = FxHashMap::default();
            *lock(&self.decided) = FxHashMap::default();
        }
    }

    /// The number of the partition `class_of`, when decisions are shared.
    fn partition(&self, class_of: &[u32]) -> Option<u32> {
        if !self.on.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        let mut partitions = lock(&self.partitions);
        let n = partitions.len() as u32;
        Some(*partitions.entry(class_of.to_vec()).or_insert(n))
    }
}

/// What a policy observing `o` sees of context `ctx`: the attributes it reads (all of them
/// where it uses the context whole), by name, with their values.
fn seen_context(o: &Observes, ctx: &ContextMap) -> String {
    let mut seen: Vec<(&String, &serde_json::Value)> = ctx
        .iter()
        .filter(|(k, _)| o.whole_context || o.attrs.contains(*k))
        .collect();
    seen.sort_by(|a, b| a.0.cmp(b.0));
    let seen: Vec<String> = seen.iter().map(|(k, v)| format!("{k:?}:{v}")).collect();
    seen.join(",")
}

/// Each (policy, action)'s [`Pairing`].
type Pairings = Mutex<FxHashMap<(usize, EntityUid), Arc<Pairing>>>;

/// For one policy and action: the candidate classes grouped by the policy's key on either
/// side, and, for a policy that relates the two, which groups of targets are worth
/// evaluating for each group of sources (see `joins.rs`; `None`: all of them).
struct Pairing {
    from: Vec<Vec<u32>>,
    to: Vec<Vec<u32>>,
    worth: Option<Vec<Vec<usize>>>,
    /// For a policy that relates `context.impersonator` to the resource: the groups of targets
    /// by what the relation reads of them.
    by_impersonator: Option<joins::Index>,
}

/// The classes an action admits as principal and as resource (sorted, and marked by class),
/// and what the links of each template decide under it.
struct Candidates<'a> {
    sources: (&'a [u32], &'a [bool]),
    sinks: (&'a [u32], &'a [bool]),
    /// (template, principal key, resource key) → whether the template's condition holds,
    /// for pairs in a link's scope (see `Evaluator::satisfied`).
    bodies: Mutex<FxHashMap<(u32, Key, Key), bool>>,
}

/// Each evaluated policy's (index, whether a permit, where it is satisfied).
type Evaluated = Vec<(usize, bool, Blocks)>;

pub struct HopMatrix {
    classes: Arc<Classes>,
    /// The actions it decides: the impersonation actions, in configuration order (or, for
    /// direct grants, the actions asked; see `grants.rs`).
    actions: Vec<EntityUid>,
    decided: Decided,
    /// Shortest chains of origins that cannot be targets, per class (empty for later
    /// matrices, which no search starts from).
    memo: Vec<OnceLock<Arc<NumberedReach>>>,
    /// Policy evaluations spent building the matrix.
    pub evaluations: usize,
    /// When hops read `context.impersonator`: the matrices of hops after the first, per group
    /// of origins (see `origins.rs`); this matrix then decides first hops only.
    later: Option<Later>,
}

struct Later {
    matrices: Vec<HopMatrix>,
    /// Each identity's group as an origin, by number; `u32::MAX`: this matrix decides its
    /// later hops too.
    group_of: Vec<u32>,
}

/// Later matrices are many (one per group of origins) and made of many small rows, allocated
/// by every worker: freed side by side, as one thread freeing them took 50 ms of a one-second
/// `who-can` on a world whose hops read the impersonator.
impl Drop for Later {
    fn drop(&mut self) {
        std::mem::take(&mut self.matrices)
            .into_par_iter()
            .for_each(drop);
    }
}

/// Distances to one target (see [`HopMatrix::toward`]): whether an origin reaches it and
/// its shortest chain (ties broken by the chain's uid strings), each found by walking down the
/// distances.
pub struct Toward<'m> {
    matrix: &'m HopMatrix,
    target: u32,
    max_chain: u32,
    /// Distances under the first matrix's hops alone (origins it decides every hop of).
    first: Vec<u32>,
    /// Per group of origins: distances under its later matrix's hops.
    later: Vec<Vec<u32>>,
    /// Per group (0: the first matrix's distances, then one per later matrix): the nearest
    /// members of the first matrix's classes, then of the group's later matrix's classes,
    /// under that group's distances; made when first asked.
    nearest: Vec<[OnceLock<Nearest>; 2]>,
}

/// One matrix's classes under one vector of distances: for each distance, the classes with a
/// member at it (bits), and each class's first three members at it, in member order. A step
/// of a chain wants the first member at one distance other than two identities (the one
/// stepping and the origin), in each class its row reaches: the classes to look at are the
/// row's bits and'ed with the distance's, and the member is among the first three. Before,
/// each step went through every class of the row and its members (a quarter of `who-can` on
/// path-dependent hops, where rows reach thousands of classes).
struct Nearest {
    /// Per distance: the classes with a member at it (bits).
    at: Vec<Vec<u64>>,
    /// Per distance: each such class's first three members at it (`u32::MAX`: none). Only
    /// classes with a member at a finite distance are kept: there are 130 later matrices of
    /// 4,000 classes each on path, and a dense table per matrix was 80 MB.
    first: Vec<FxHashMap<u32, [u32; 3]>>,
}

impl Nearest {
    fn new(classes: &Classes, distance: &[u32]) -> Self {
        let depth = distance
            .iter()
            .filter(|&&d| d != u32::MAX)
            .max()
            .map_or(0, |&d| d as usize + 1);
        let mut at = vec![vec![0u64; words(classes.len())]; depth];
        let mut first: Vec<FxHashMap<u32, [u32; 3]>> = vec![FxHashMap::default(); depth];
        // By number, so each class's members come in its own order (`Classes::members`).
        for (x, &d) in distance.iter().enumerate() {
            if d == u32::MAX {
                continue;
            }
            let (d, c) = (d as usize, classes.class_of[x]);
            set_bit(&mut at[d], c as usize);
            let slot = first[d].entry(c).or_insert([u32::MAX; 3]);
            if let Some(free) = slot.iter_mut().find(|m| **m == u32::MAX) {
                *free = x as u32;
            }
        }
        Self { at, first }
    }

    /// Distances kept: 0 to the greatest finite one.
    fn depth(&self) -> u32 {
        self.at.len() as u32
    }

    /// The least member at `distance` of a target class `row` reaches, other than `not`.
    fn least(&self, m: &HopMatrix, row: &[u64], distance: u32, not: [u32; 2]) -> Option<u32> {
        let d = distance as usize;
        let (at, first) = (self.at.get(d)?, &self.first[d]);
        let classes: Vec<u64> = row.iter().zip(at).map(|(r, a)| r & a).collect();
        ones(&classes)
            .filter(|&c| m.classes.target[c])
            .filter_map(|c| {
                first
                    .get(&(c as u32))?
                    .iter()
                    .copied()
                    .take_while(|&x| x != u32::MAX)
                    .find(|x| !not.contains(x))
            })
            .min()
    }
}

impl Toward<'_> {
    /// The group deciding `origin`'s hops after the first (0: the first matrix), its
    /// matrix, and the distances under it.
    fn later_of(&self, origin: u32) -> (usize, &HopMatrix, &[u32]) {
        let (k, m) = self.matrix.step(origin, 1);
        match k {
            0 => (0, m, &self.first),
            k => (k as usize, m, &self.later[k as usize - 1]),
        }
    }

    /// Group `k`'s nearest members among the first matrix's classes (`later`: false) or its
    /// later matrix's (true), under its distances.
    fn nearest(&self, k: usize, later: bool) -> &Nearest {
        let m = if later {
            self.matrix.step_by_index(k as u32)
        } else {
            self.matrix
        };
        let which = usize::from(later && k > 0);
        self.nearest[k][which].get_or_init(|| {
            let distance = if k == 0 {
                &self.first
            } else {
                &self.later[k - 1]
            };
            Nearest::new(&m.classes, distance)
        })
    }

    /// The length of `origin`'s shortest chain to the target, if it has one within
    /// `max_chain` hops (none for the target itself).
    pub fn length(&self, origin: u32) -> Option<u32> {
        if origin == self.target || self.max_chain == 0 {
            return None;
        }
        let (k, ..) = self.later_of(origin);
        let nearest = self.nearest(k, false);
        let row = self.matrix.row(self.matrix.class_of(origin));
        // The least distance of an identity one hop away (not `origin`), below `max_chain`.
        let beyond = (0..self.max_chain.min(nearest.depth()))
            .find(|&d| nearest.least(self.matrix, &row, d, [origin; 2]).is_some())?;
        Some(beyond + 1)
    }

    /// `origin`'s shortest chain to the target (without `origin`), the least by uid strings
    /// among the shortest: at each step the least identity one hop closer. The least of the
    /// shortest chains is the one a breadth-first search finds ([`HopMatrix::chain_to`]): its
    /// prefix is the least shortest chain to the identity before the target.
    pub fn chain(&self, origin: u32) -> Option<Vec<u32>> {
        let length = self.length(origin)?;
        let (k, later, _) = self.later_of(origin);
        let mut chain: Vec<u32> = Vec::with_capacity(length as usize);
        for step in 0..length {
            let want = length - step - 1;
            let (m, from, nearest) = match chain.last() {
                None => (self.matrix, origin, self.nearest(k, false)),
                Some(&last) => (later, last, self.nearest(k, true)),
            };
            let row = m.row(m.class_of(from));
            chain.push(nearest.least(m, &row, want, [from, origin])?);
        }
        Some(chain)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The elements of two sorted lists that are in both.
fn sorted_intersection(a: &[usize], b: &[usize]) -> Vec<usize> {
    let (mut out, mut j) = (Vec::new(), 0);
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if b.get(j) == Some(&x) {
            out.push(x);
        }
    }
    out
}

fn has_bit(bits: &[u64], n: u32) -> bool {
    bits[n as usize / 64] & (1 << (n % 64)) != 0
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

/// Where the permits and where the forbids of `evaluated` are satisfied, as class matrices.
fn dense(classes: usize, evaluated: &Evaluated) -> (Vec<Vec<u64>>, Vec<Vec<u64>>) {
    let mut permit = vec![vec![0u64; words(classes)]; classes];
    let mut forbid = permit.clone();
    for (_, is_permit, blocks) in evaluated {
        let into = if *is_permit { &mut permit } else { &mut forbid };
        for (group, targets) in blocks {
            for &c in group {
                targets.or_into(&mut into[c as usize]);
            }
        }
    }
    (permit, forbid)
}

/// Classes of `identities` under every context of `contexts` at once (an entity in any of
/// them is observable), and the evaluator over them, passed to `then`.
fn with_evaluator<R>(
    engine: &Engine,
    identities: &Arc<Identities>,
    contexts: &[&ContextMap],
    then: impl FnOnce(&Evaluator<'_>, Arc<Classes>) -> R,
) -> R {
    let observes = observations(engine);
    let observable = observable(engine, identities, &observes, contexts);
    let facts = facts_of(engine, identities, &observable);
    let (class_of, members) = classes_of(&facts, &observes);
    let impersonable = engine.impersonable_types();
    let target: Vec<bool> = members
        .iter()
        .map(|m| impersonable.contains(identities.uids[m[0] as usize].type_name()))
        .collect();
    let classes = Arc::new(Classes {
        identities: identities.clone(),
        class_of,
        members,
        target,
    });
    let scopes = ScopeClasses::new(engine, &classes);
    let evaluator = Evaluator {
        engine,
        classes: &classes,
        observes: &observes,
        facts: &facts,
        observable: &observable,
        scopes: &scopes,
        pairings: (contexts.len() > 1).then(Mutex::default),
        shared: identities
            .decisions
            .partition(&classes.class_of)
            .map(|p| (&identities.decisions, p)),
    };
    then(&evaluator, classes.clone())
}

impl HopMatrix {
    pub fn build(engine: &Engine, identities: &Arc<Identities>, ctx: &ContextMap) -> Self {
        Self::build_for(engine, identities, ctx, &engine.actions)
    }

    /// The matrix of `actions` over `identities` (any entities: the direct grants of other
    /// actions are computed the same way, see `grants.rs`).
    pub(super) fn build_for(
        engine: &Engine,
        identities: &Arc<Identities>,
        ctx: &ContextMap,
        actions: &[EntityUid],
    ) -> Self {
        with_evaluator(engine, identities, &[ctx], |ev, classes| {
            let n = classes.len();
            let mut rows = vec![vec![0; words(n)]; n];
            let (mut permits, mut forbids) = (Satisfied::default(), Satisfied::default());
            let mut evaluations = 0;
            crate::core::progress::start(
                "policies",
                (actions.len() * engine.slicer().len()) as u64,
            );
            for (ai, action) in actions.iter().enumerate() {
                let (evaluated, spent) = ev.action(action, ctx, &|_| true);
                evaluations += spent;
                let (permit, forbid) = dense(n, &evaluated);
                for ((p, f), row) in permit.iter().zip(&forbid).zip(&mut rows) {
                    for ((p, f), r) in p.iter().zip(f).zip(row.iter_mut()) {
                        *r |= p & !f;
                    }
                }
                for (i, is_permit, blocks) in evaluated {
                    let into = if is_permit {
                        &mut permits
                    } else {
                        &mut forbids
                    };
                    into.add(ai, i, blocks);
                }
            }
            crate::core::progress::finish();
            HopMatrix {
                memo: (0..n).map(|_| OnceLock::new()).collect(),
                classes,
                actions: actions.to_vec(),
                decided: Decided {
                    rows: Some(rows),
                    shared: None,
                    permits,
                    forbids,
                },
                evaluations,
                later: None,
            }
        })
    }

    /// The matrices of a context whose hops read `context.impersonator` but not the
    /// delegation chain: this one for first hops, one per group of origins for the rest (see
    /// `origins.rs`). `None` when hops cannot be decided that way.
    ///
    /// The later matrices share one set of classes (under every group's context at once, so
    /// fine enough for each), and the policies that do not read `context.impersonator` decide
    /// alike for every group: they are evaluated once, and only the others per group. With a
    /// hundred groups and a few such policies, that is most of the work saved, and each later
    /// matrix keeps only what its own policies add.
    pub fn build_by_origin(
        engine: &Engine,
        identities: &Arc<Identities>,
        ctx: &ContextMap,
    ) -> Option<Self> {
        let ty = super::origins::applies(engine, ctx)?;
        let mut first = Self::build(engine, identities, ctx);
        let plan = super::origins::plan(engine, identities, ctx, &ty, &engine.actions);
        let (matrices, evaluations) = Self::build_later(engine, identities, &plan);
        first.evaluations += evaluations;
        first.later = Some(Later {
            matrices,
            group_of: plan.group_of,
        });
        Some(first)
    }

    /// One later matrix per group of origins of `plan` (see [`HopMatrix::build_by_origin`]),
    /// and the evaluations spent.
    fn build_later(
        engine: &Engine,
        identities: &Arc<Identities>,
        plan: &super::origins::Plan,
    ) -> (Vec<HopMatrix>, usize) {
        let contexts = &plan.contexts;
        let Some(first) = contexts.first() else {
            return (Vec::new(), 0);
        };
        let actions = &engine.actions;
        let deciding = super::origins::deciding_groups(engine, &plan.representatives);
        let all: Vec<&ContextMap> = contexts.iter().collect();
        with_evaluator(engine, identities, &all, |ev, classes| {
            let per_context = (actions.len() * engine.slicer().len()) as u64;
            crate::core::progress::start("policies", per_context * (1 + contexts.len() as u64));
            let (shared, mut evaluations) =
                Shared::evaluate(ev, actions, first, &|i| deciding[i].is_none());
            let shared = Arc::new(shared);
            // Each of the other policies is evaluated under the context of each group that
            // decides it (see `deciding_groups`), per action: (evaluated, spent).
            let decided: Vec<Vec<(Evaluated, usize)>> = contexts
                .par_iter()
                .enumerate()
                .map(|(g, ctx)| {
                    let decides =
                        |i: usize| deciding[i].as_ref().is_some_and(|d| d[g] as usize == g);
                    actions
                        .iter()
                        .map(|a| ev.action(a, ctx, &decides))
                        .collect()
                })
                .collect();
            crate::core::progress::finish();
            // Every evaluation: (the group that made it, action index, the policy's blocks).
            let made = || {
                decided.iter().enumerate().flat_map(|(c, per_action)| {
                    let per_action = per_action.iter().enumerate();
                    per_action.flat_map(move |(ai, (e, _))| e.iter().map(move |p| (c, ai, p)))
                })
            };
            let mut matrices = Vec::with_capacity(contexts.len());
            for (g, per_action) in decided.iter().enumerate() {
                // Group `g` takes each policy's blocks from the group that decides it for `g`.
                let (mut permits, mut forbids) = (Satisfied::default(), Satisfied::default());
                for (c, ai, (i, is_permit, blocks)) in made() {
                    if deciding[*i].as_ref().is_some_and(|d| d[g] as usize == c) {
                        let into = if *is_permit {
                            &mut permits
                        } else {
                            &mut forbids
                        };
                        into.add(ai, *i, blocks.clone());
                    }
                }
                let spent = per_action.iter().map(|(_, s)| s).sum();
                evaluations += spent;
                matrices.push(HopMatrix {
                    classes: classes.clone(),
                    actions: actions.clone(),
                    decided: Decided {
                        rows: None,
                        shared: Some(shared.clone()),
                        permits,
                        forbids,
                    },
                    memo: Vec::new(),
                    evaluations: spent,
                    later: None,
                });
            }
            (matrices, evaluations)
        })
    }

    /// The matrix that decides hop number `depth` (0 for the first) of a chain from identity
    /// `origin`, and its index (0: this one).
    pub fn step(&self, origin: u32, depth: usize) -> (u32, &HopMatrix) {
        match &self.later {
            Some(later) if depth > 0 => match later.group_of[origin as usize] {
                u32::MAX => (0, self),
                g => (g + 1, &later.matrices[g as usize]),
            },
            _ => (0, self),
        }
    }

    /// The matrix of index `k` from [`HopMatrix::step`].
    pub fn step_by_index(&self, k: u32) -> &HopMatrix {
        match (&self.later, k) {
            (Some(later), k) if k > 0 => &later.matrices[k as usize - 1],
            _ => self,
        }
    }

    /// The classes any member of class `cf` may take action number `ai` on (any other member
    /// of them), with no regard to who can be impersonated, as bits.
    fn allowed_row(&self, ai: usize, cf: u32) -> Vec<u64> {
        let d = &self.decided;
        let (mut permit, mut forbid) = match &d.shared {
            Some(shared) => (
                shared.permit[ai][cf as usize].clone(),
                shared.forbid[ai][cf as usize].clone(),
            ),
            None => {
                let empty = vec![0; words(self.classes.len())];
                (empty.clone(), empty)
            }
        };
        d.permits.or_into(ai, cf, &mut permit);
        d.forbids.or_into(ai, cf, &mut forbid);
        permit.iter_mut().zip(&forbid).for_each(|(p, f)| *p &= !f);
        permit
    }

    /// Whether action number `ai` is allowed from any member of class `cf` to any other member
    /// of class `ct` ([`HopMatrix::allowed_row`] for one class).
    fn allows_by(&self, ai: usize, cf: u32, ct: u32) -> bool {
        let d = &self.decided;
        let dense = |m: &PerAction| has_bit(&m[ai][cf as usize], ct);
        let satisfied = |own: &Satisfied, shared: Option<&PerAction>| {
            shared.is_some_and(dense) || own.of(ai, cf).any(|(_, t)| t.contains(ct))
        };
        let shared = d.shared.as_deref();
        satisfied(&d.permits, shared.map(|s| &s.permit))
            && !satisfied(&d.forbids, shared.map(|s| &s.forbid))
    }

    /// The classes the members of class `cf` may hop to, by some action, as bits (including
    /// classes that cannot be impersonated).
    fn row(&self, cf: u32) -> Cow<'_, [u64]> {
        if let Some(rows) = &self.decided.rows {
            return Cow::Borrowed(&rows[cf as usize]);
        }
        let mut row = vec![0; words(self.classes.len())];
        for ai in 0..self.actions.len() {
            let allowed = self.allowed_row(ai, cf);
            row.iter_mut().zip(&allowed).for_each(|(r, a)| *r |= a);
        }
        Cow::Owned(row)
    }

    /// The identities it numbers.
    pub fn identities(&self) -> &Identities {
        &self.classes.identities
    }

    /// How many matrices decide later hops, one per group of origins (0: this one decides every
    /// hop) (for tests).
    pub fn origin_groups(&self) -> usize {
        self.later.as_ref().map_or(0, |l| l.matrices.len())
    }

    /// Identities and classes (for benchmarks and tests).
    pub fn size(&self) -> (usize, usize) {
        (self.classes.identities.len(), self.classes.len())
    }

    /// The class of identity number `n` (see [`Identities`]).
    pub fn class_of(&self, n: u32) -> u32 {
        self.classes.class_of[n as usize]
    }

    /// Whether `from` may impersonate `to` in one hop.
    pub fn allows(&self, from: &EntityUid, to: &EntityUid) -> bool {
        let identities = &self.classes.identities;
        match (identities.number(from), identities.number(to)) {
            (Some(f), Some(t)) if f != t => self.allows_classes(self.class_of(f), self.class_of(t)),
            _ => false,
        }
    }

    fn allows_classes(&self, cf: u32, ct: u32) -> bool {
        self.classes.target[ct as usize] && has_bit(&self.row(cf), ct)
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
        let identities = &self.classes.identities;
        let (f, t) = (identities.number(from)?, identities.number(to)?);
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
        let actions: Vec<usize> = (0..self.actions.len())
            .filter(|&a| self.allows_by(a, cf, ct))
            .collect();
        let mut policies: Vec<PolicyId> = actions
            .iter()
            .flat_map(|&a| self.permits_between(engine, a, cf, ct))
            .collect();
        policies.sort();
        policies.dedup();
        Some((
            actions
                .into_iter()
                .map(|a| self.actions[a].clone())
                .collect(),
            policies,
        ))
    }

    /// The permits of action number `ai` satisfied from any member of class `cf` to any other
    /// member of class `ct`, sorted.
    pub(super) fn permits_between(
        &self,
        engine: &Engine,
        ai: usize,
        cf: u32,
        ct: u32,
    ) -> Vec<PolicyId> {
        let shared = self.decided.shared.as_ref().map(|s| &s.permits);
        let mut policies: Vec<PolicyId> = (self.decided.permits)
            .between(ai, cf, ct)
            .chain(shared.into_iter().flat_map(|s| s.between(ai, cf, ct)))
            .map(|i| PolicyId::from(engine.slicer().policy(i).id()))
            .collect();
        policies.sort();
        policies.dedup();
        policies
    }

    /// The classes any member of class `cf` may take action number `ai` on (any other member
    /// of them), with no regard to who can be impersonated.
    pub(super) fn allowed_from(&self, ai: usize, cf: u32) -> Vec<u32> {
        ones(&self.allowed_row(ai, cf)).map(|c| c as u32).collect()
    }

    /// The members of class `c`, by number.
    pub(super) fn members_of(&self, c: u32) -> &[u32] {
        &self.classes.members[c as usize]
    }

    /// How many classes there are.
    pub(super) fn classes(&self) -> usize {
        self.classes.len()
    }

    /// Every identity `origin` can reach within `max_chain` hops, with the shortest chain
    /// (ties broken by the chain's uid strings).
    pub fn reach(&self, origin: &EntityUid, max_chain: u32) -> Reach {
        let identities = &self.classes.identities;
        match identities.number(origin) {
            Some(o) => identities.reach(&self.reach_numbered(o, max_chain)),
            None => Reach::new(),
        }
    }

    /// [`HopMatrix::reach`] of identity number `origin`, by number.
    pub fn reach_numbered(&self, origin: u32, max_chain: u32) -> Arc<NumberedReach> {
        // Every member of the class reaches the same accounts by the same chains (kept for
        // the next member only where there is one: a memo of every singleton class doubled a
        // report's memory).
        match self.alike(origin).and_then(|c| self.memo.get(c as usize)) {
            Some(memo) => memo
                .get_or_init(|| self.reach_unshared(origin, max_chain))
                .clone(),
            None => self.reach_unshared(origin, max_chain),
        }
    }

    /// `origin`'s class when every other member of it reaches the same identities by the same
    /// chains, and there is another: the class holds no identity that can be impersonated (a
    /// search never reaches its origin, so such members reach each other but not themselves).
    pub fn alike(&self, origin: u32) -> Option<u32> {
        let class = self.class_of(origin);
        let c = class as usize;
        (!self.memo.is_empty() && !self.classes.target[c] && self.classes.members[c].len() > 1)
            .then_some(class)
    }

    /// The shortest chain (ties broken as in [`HopMatrix::reach`]) from `origin` to `target`,
    /// without collecting the rest of `origin`'s reach, by a forward search (for one origin;
    /// [`HopMatrix::toward`] gives every origin's chain to one target).
    pub fn chain_to(
        &self,
        origin: &EntityUid,
        target: &EntityUid,
        max_chain: u32,
    ) -> Option<Vec<Uid>> {
        let identities = &self.classes.identities;
        let o = identities.number(origin)?;
        let t = identities.number(target)?;
        let mut chain = None;
        self.search(o, max_chain, |m, found| {
            if m == t {
                chain = Some(
                    found
                        .iter()
                        .map(|&x| identities.uids[x as usize].clone())
                        .collect(),
                );
            }
            m == t
        });
        chain
    }

    /// Which identities can reach identity `target` within `max_chain` hops (never `target`
    /// itself), by number (see [`Toward`]).
    pub fn can_reach(&self, target: u32, max_chain: u32) -> Vec<bool> {
        let toward = self.toward(target, max_chain);
        (0..self.classes.identities.len() as u32)
            .map(|n| toward.length(n).is_some())
            .collect()
    }

    /// Every identity's distance to identity `target` within `max_chain` hops, so that who can
    /// reach it, and by which chain, is known without a forward search from each of them.
    pub fn toward(&self, target: u32, max_chain: u32) -> Toward<'_> {
        let first = self.distances_to(target, max_chain, false);
        let later = self.later.as_ref().map_or_else(Vec::new, |later| {
            later
                .matrices
                .par_iter()
                .map(|m| m.distances_to(target, max_chain.saturating_sub(1), true))
                .collect()
        });
        let nearest = (0..=later.len()).map(|_| Default::default()).collect();
        Toward {
            matrix: self,
            target,
            max_chain,
            first,
            later,
            nearest,
        }
    }

    /// Each identity's least number of this matrix's hops to `target` (0 for it), at most
    /// `hops` (`u32::MAX` beyond), by number; with `from_targets`, counting only walks whose
    /// every hop starts at an identity that can be impersonated (the later hops of a chain).
    ///
    /// A backward search over classes: round by round, a class joins when its row meets a
    /// class holding an identity that joined before (or `target`); every member may make that
    /// hop, as the one it hops to is not among them (they had not joined). A walk of hops
    /// contains a simple path between its ends, no longer, so distances over walks are those
    /// over simple paths.
    fn distances_to(&self, target: u32, hops: u32, from_targets: bool) -> Vec<u32> {
        let classes = &self.classes;
        let mut distance = vec![u32::MAX; classes.identities.len()];
        let tc = self.class_of(target) as usize;
        if !classes.target[tc] {
            return distance;
        }
        distance[target as usize] = 0;
        let mut holding = vec![0u64; words(classes.len())];
        set_bit(&mut holding, tc);
        let mut done = vec![false; classes.len()];
        // Each class's row, made once for every round: a later matrix makes its rows on
        // demand, and making them again each round was a tenth of `who-can` on path-dependent
        // hops. Dropped as the class joins.
        let mut rows: Vec<Option<Cow<'_, [u64]>>> = vec![None; classes.len()];
        for round in 1..=hops {
            let mut joined = Vec::new();
            for (c, &done) in done.iter().enumerate() {
                if done || (from_targets && !classes.target[c]) {
                    continue;
                }
                let row = rows[c].get_or_insert_with(|| self.row(c as u32));
                if row.iter().zip(&holding).any(|(r, h)| r & h != 0) {
                    joined.push(c);
                }
            }
            if joined.is_empty() {
                break;
            }
            for c in joined {
                done[c] = true;
                rows[c] = None;
                for &m in &classes.members[c] {
                    let d = &mut distance[m as usize];
                    *d = (*d).min(round);
                }
                if classes.target[c] {
                    set_bit(&mut holding, c);
                }
            }
        }
        distance
    }

    /// [`HopMatrix::reach_numbered`], never kept (for a caller that keeps what it shares).
    pub fn reach_unshared(&self, origin: u32, max_chain: u32) -> Arc<NumberedReach> {
        // Each identity with the one before it: the search extends the chain of that one, so
        // the chains are kept as links (see `Chains`), none copied.
        let mut found: Vec<(u32, Option<u32>)> = Vec::new();
        self.search(origin, max_chain, |m, chain| {
            let before = chain.len().checked_sub(2).map(|k| chain[k]);
            found.push((m, before));
            false
        });
        Arc::new(NumberedReach::from_parents(found))
    }

    /// Breadth-first search over class rows: `found(identity, chain)` for every identity
    /// reached, in order of chain length and then of the chain's uid strings, with its first
    /// (so shortest, then least) chain; stops early when `found` returns true. First hops are
    /// this matrix's, later ones the origin's later matrix's (the same one, without `later`).
    fn search(&self, origin: u32, max_chain: u32, mut found: impl FnMut(u32, &[u32]) -> bool) {
        let later = self.step(origin, 1).1;
        let two = !std::ptr::eq(later, self);
        // Classes reached, per matrix; identities reached, when two matrices class them apart.
        let mut reached_first = vec![false; self.classes.len()];
        let mut reached_later = vec![false; if two { later.classes.len() } else { 0 }];
        let mut entered = vec![
            false;
            if two {
                self.classes.identities.len()
            } else {
                0
            }
        ];
        // Every chain found, as (its last identity, the index of the chain it extends), in the
        // order found; the chains at the current depth are `frontier`, in the order of their
        // uid strings. The root (index 0) is the empty chain from the origin.
        let mut nodes: Vec<(u32, u32)> = vec![(origin, u32::MAX)];
        let mut frontier = 0..1;
        let mut chain: Vec<u32> = Vec::new();
        let mut new: Vec<u32> = Vec::new();
        for depth in 0..max_chain {
            let (m, reached) = if depth > 0 && two {
                (later, &mut reached_later)
            } else {
                (self, &mut reached_first)
            };
            let start = nodes.len();
            for at in frontier {
                let from = nodes[at].0;
                let row = m.row(m.class_of(from));
                new.clear();
                for c in ones(&row) {
                    if !m.classes.target[c] || reached[c] {
                        continue;
                    }
                    // A class is reached whole: every member is allowed from `from` (which is
                    // not among them: its own class was reached before).
                    reached[c] = true;
                    for &x in &m.classes.members[c] {
                        if x == origin || (two && std::mem::replace(&mut entered[x as usize], true))
                        {
                            continue;
                        }
                        new.push(x);
                    }
                }
                if new.is_empty() {
                    continue;
                }
                new.sort_unstable();
                // The chain to `from`, read back from the parents.
                chain.clear();
                let mut k = at;
                while k != 0 {
                    chain.push(nodes[k].0);
                    k = nodes[k].1 as usize;
                }
                chain.reverse();
                for &x in &new {
                    chain.push(x);
                    if found(x, &chain) {
                        return;
                    }
                    chain.pop();
                    nodes.push((x, at as u32));
                }
            }
            if nodes.len() == start {
                break;
            }
            frontier = start..nodes.len();
        }
    }
}

/// Hops under many contexts that differ in what few policies read (see `chain_facts.rs`, whose
/// states would otherwise each need a matrix of their own): classes under every context at
/// once, the policies that decide alike under all of them evaluated once (under the first),
/// and each of the others under each context that decides it; a row is then made for any
/// choice of deciding context per policy.
pub(super) struct PerContext {
    classes: Arc<Classes>,
    actions: usize,
    shared: Shared,
    /// The other policies, each with whether it is a permit.
    own: Vec<(usize, bool)>,
    /// (context, policy) → where the policy is satisfied under the context.
    evaluated: FxHashMap<(u32, usize), Satisfied>,
}

impl PerContext {
    /// `shared(i)`: whether policy `i` decides alike under every context; `wanted(i, c)`: for
    /// each other, whether it is evaluated under context `c`.
    pub(super) fn build(
        engine: &Engine,
        identities: &Arc<Identities>,
        contexts: &[ContextMap],
        shared: &(dyn Fn(usize) -> bool + Sync),
        wanted: &(dyn Fn(usize, u32) -> bool + Sync),
    ) -> Self {
        let actions = &engine.actions;
        let all: Vec<&ContextMap> = contexts.iter().collect();
        with_evaluator(engine, identities, &all, |ev, classes| {
            let (common, _) = Shared::evaluate(ev, actions, &contexts[0], shared);
            let per_context: Vec<Vec<(Evaluated, usize)>> = contexts
                .par_iter()
                .enumerate()
                .map(|(c, ctx)| {
                    let wanted = |i: usize| !shared(i) && wanted(i, c as u32);
                    actions.iter().map(|a| ev.action(a, ctx, &wanted)).collect()
                })
                .collect();
            let mut evaluated: FxHashMap<(u32, usize), Satisfied> = FxHashMap::default();
            let mut own: Vec<(usize, bool)> = Vec::new();
            for (c, per_action) in per_context.into_iter().enumerate() {
                for (ai, (found, _)) in per_action.into_iter().enumerate() {
                    for (i, is_permit, blocks) in found {
                        own.push((i, is_permit));
                        let into = evaluated.entry((c as u32, i)).or_default();
                        into.add(ai, i, blocks);
                    }
                }
            }
            own.sort_unstable();
            own.dedup();
            PerContext {
                classes,
                actions: actions.len(),
                shared: common,
                own,
                evaluated,
            }
        })
    }

    /// The class of identity number `n`.
    pub(super) fn class_of(&self, n: u32) -> u32 {
        self.classes.class_of[n as usize]
    }

    /// The classes the members of class `cf` may hop to by some action, each policy that does
    /// not decide alike everywhere decided under context `context_of(i)`.
    pub(super) fn row(&self, cf: u32, context_of: impl Fn(usize) -> u32) -> Vec<u64> {
        let mut row = vec![0; words(self.classes.len())];
        let deciding: Vec<(bool, Option<&Satisfied>)> = self
            .own
            .iter()
            .map(|&(i, is_permit)| (is_permit, self.evaluated.get(&(context_of(i), i))))
            .collect();
        for ai in 0..self.actions {
            let mut permit = self.shared.permit[ai][cf as usize].clone();
            let mut forbid = self.shared.forbid[ai][cf as usize].clone();
            for &(is_permit, satisfied) in &deciding {
                let into = if is_permit { &mut permit } else { &mut forbid };
                if let Some(s) = satisfied {
                    s.or_into(ai, cf, into);
                }
            }
            for ((r, p), f) in row.iter_mut().zip(&permit).zip(&forbid) {
                *r |= p & !f;
            }
        }
        row
    }

    /// The identities in `row`'s classes that can be impersonated, other than `from`.
    pub(super) fn successors(&self, row: &[u64], from: u32, into: &mut Vec<u32>) {
        for c in ones(row) {
            if self.classes.target[c] {
                let members = &self.classes.members[c];
                into.extend(members.iter().copied().filter(|&x| x != from));
            }
        }
    }
}

impl Evaluator<'_> {
    /// Evaluates the policies that can match `action` and that `wanted` selects (by index),
    /// under `ctx`, over the classes: each one's blocks, and the evaluations spent. Advances
    /// the progress bar by one per policy of the set.
    fn action(
        &self,
        action: &EntityUid,
        ctx: &ContextMap,
        wanted: &(dyn Fn(usize) -> bool + Sync),
    ) -> (Evaluated, usize) {
        let (engine, classes) = (self.engine, self.classes);
        let slicer = engine.slicer();
        let n = classes.len();
        let Some(info) = engine.action(action) else {
            crate::core::progress::advance(slicer.len() as u64);
            return (Vec::new(), 0);
        };
        let reps = |types: &[cedar_policy::EntityTypeName]| -> Vec<u32> {
            let of_types = classes.identities.of_types(types);
            (0..n as u32)
                .filter(|&c| of_types(classes.members[c as usize][0]))
                .collect()
        };
        let (sources, sinks) = (reps(&info.principals), reps(&info.resources));
        let mark = |list: &[u32]| {
            let mut marked = vec![false; n];
            list.iter().for_each(|&c| marked[c as usize] = true);
            marked
        };
        let candidates = Candidates {
            sources: (&sources, &mark(&sources)),
            sinks: (&sinks, &mark(&sinks)),
            bodies: Mutex::new(FxHashMap::default()),
        };
        // The context either serves the action for every pair or for none.
        let context = match (sources.first(), sinks.first()) {
            (Some(_), Some(_)) => engine.context_for(action, ctx, None).ok(),
            _ => None,
        };
        let Some(context) = context else {
            crate::core::progress::advance(slicer.len() as u64);
            return (Vec::new(), 0);
        };
        let impersonator = ctx
            .get(crate::engine::IMPERSONATOR)
            .and_then(|v| crate::core::uid::parse_uid(v).ok());
        let per_policy: Vec<(usize, bool, Blocks, usize)> = (0..slicer.len())
            .into_par_iter()
            .filter_map(|i| {
                let out =
                    (wanted(i) && slicer.action_matches(i, &engine.entities, action)).then(|| {
                        let (blocks, spent) = self.decided(i, action, ctx, || {
                            self.satisfied(
                                i,
                                action,
                                (&context, impersonator.as_ref()),
                                &candidates,
                            )
                        });
                        (i, slicer.is_permit(i), blocks, spent)
                    });
                crate::core::progress::advance(1);
                out
            })
            .collect();
        let spent = per_policy.iter().map(|p| p.3).sum();
        let evaluated = per_policy
            .into_iter()
            .map(|(i, is_permit, blocks, _)| (i, is_permit, blocks))
            .collect();
        (evaluated, spent)
    }

    /// Policy `i`'s blocks for `action` under `ctx` (see [`Evaluator::satisfied`]), from
    /// another matrix's decisions where they are shared and it made them (no evaluation spent).
    fn decided(
        &self,
        i: usize,
        action: &EntityUid,
        ctx: &ContextMap,
        satisfied: impl FnOnce() -> (Blocks, usize),
    ) -> (Blocks, usize) {
        let Some((decisions, partition)) = self.shared else {
            return satisfied();
        };
        let key = (
            partition,
            i,
            action.clone(),
            seen_context(&self.observes[i], ctx),
        );
        if let Some(blocks) = lock(&decisions.decided).get(&key) {
            return (blocks.clone(), 0);
        }
        let (blocks, spent) = satisfied();
        lock(&decisions.decided).insert(key, blocks.clone());
        (blocks, spent)
    }

    /// Policy `i`'s pairing of the candidate classes for `action` (kept when the evaluator
    /// serves several contexts).
    fn pairing(&self, i: usize, action: &EntityUid, candidates: &Candidates<'_>) -> Arc<Pairing> {
        let Some(pairings) = &self.pairings else {
            return Arc::new(self.pair(i, candidates));
        };
        let key = (i, action.clone());
        if let Some(p) = lock(pairings).get(&key) {
            return p.clone();
        }
        let p = Arc::new(self.pair(i, candidates));
        lock(pairings).insert(key, p.clone());
        p
    }

    fn pair(&self, i: usize, candidates: &Candidates<'_>) -> Pairing {
        let (engine, classes) = (self.engine, self.classes);
        let o = &self.observes[i];
        let slicer = engine.slicer();
        let nameable = Nameable::new(o, self.observable);
        let can_name = |k: u32| nameable.contains(k);
        // A side the condition never reads is told apart by its scope alone (and by type).
        let [principal_read, resource_read] = joins::condition_reads(engine, i);
        let group = |(list, marked): (&[u32], &[bool]), constraint: Constraint<'_>, read: bool| {
            let mut index: FxHashMap<Key, usize> = FxHashMap::default();
            let mut groups: Vec<Vec<u32>> = Vec::new();
            for c in self.scopes.select(classes, &constraint, list, marked) {
                let rep = classes.members[c as usize][0];
                let f = &self.facts[rep as usize];
                let key = if read {
                    key_of(f, rep, o, can_name)
                } else {
                    Key::of_type(f.ty)
                };
                let n = groups.len();
                let g = *index.entry(key).or_insert(n);
                if g == groups.len() {
                    groups.push(Vec::new());
                }
                groups[g].push(c);
            }
            groups
        };
        let from = group(
            candidates.sources,
            slicer.principal_constraint(i),
            principal_read,
        );
        let to = group(
            candidates.sinks,
            slicer.resource_constraint(i),
            resource_read,
        );
        // A policy that relates principal and resource is evaluated only where the relation
        // can hold (see `joins.rs`); one that relates the impersonator and the resource, only
        // on the groups of targets related to the context's impersonator; any other, on every
        // pair of groups.
        let [on_principal, on_impersonator] = joins::needs_of(engine, i);
        let targets: Vec<&EntityUid> = to.iter().map(|g| classes.rep(g[0])).collect();
        let worth: Option<Vec<Vec<usize>>> = on_principal.map(|need| {
            let sources: Vec<&EntityUid> = from.iter().map(|g| classes.rep(g[0])).collect();
            joins::candidates(engine, &need, &sources, &targets)
        });
        let by_impersonator =
            on_impersonator.map(|need| joins::Index::new(engine, &need, &targets));
        Pairing {
            from,
            to,
            worth,
            by_impersonator,
        }
    }

    /// For policy `i` and `action`: the groups of source classes, each with the target
    /// classes on which the policy is satisfied; and the evaluations spent.
    fn satisfied(
        &self,
        i: usize,
        action: &EntityUid,
        (context, impersonator): (&Context, Option<&EntityUid>),
        candidates: &Candidates<'_>,
    ) -> (Blocks, usize) {
        let (engine, classes) = (self.engine, self.classes);
        let identities = &classes.identities;
        let o = &self.observes[i];
        let n = classes.len();
        let pairing = self.pairing(i, action, candidates);
        let Pairing {
            from,
            to,
            worth,
            by_impersonator,
        } = &*pairing;
        // A relation to the context's impersonator leaves the same groups of targets for every
        // group of sources; without an impersonator, none (each side of the relation reads
        // `context.impersonator`, which errs).
        let related = by_impersonator.as_ref().map(|index| match impersonator {
            Some(x) => index.worth(engine, x),
            None => Vec::new(),
        });
        let all: Vec<usize> = (0..to.len()).collect();
        // A template link holds on a pair in its scope exactly when its template's condition
        // does, and that condition cannot see the slot values: every link of a template shares
        // one evaluation per pair of keys under what the condition observes. With thousands of
        // links (one role binding each) that is most of the matrix's evaluations saved.
        let body = o
            .template
            .as_ref()
            .map(|(t, body)| (*t, &**body, Nameable::new(body, self.observable)));
        let body_key = |s: usize, r: usize| {
            body.as_ref().map(|(t, o, nameable)| {
                let key = |x: usize| key_of(&self.facts[x], x as u32, o, |k| nameable.contains(k));
                (*t, key(s), key(r))
            })
        };
        let mut spent = 0;
        let mut out = Vec::new();
        for (fi, f) in from.iter().enumerate() {
            // The classes where the policy holds, as a list: a bitset per group of sources
            // (or per group of targets) was most of a matrix's allocation where a relation
            // makes every group a single identity.
            let mut hits: Vec<u32> = Vec::new();
            let both: Vec<usize>;
            let targets = match (worth, &related) {
                (Some(w), Some(r)) => {
                    both = sorted_intersection(&w[fi], r);
                    &both
                }
                (Some(w), None) => &w[fi],
                (None, Some(r)) => r,
                (None, None) => &all,
            };
            for &ti in targets {
                let t = &to[ti];
                let Some((s, r)) = classes.distinct_pair(f, t) else {
                    continue;
                };
                let key = body_key(s, r);
                let known = key
                    .as_ref()
                    .and_then(|k| lock(&candidates.bodies).get(k).copied());
                let holds = match known {
                    Some(holds) => holds,
                    None => {
                        let Ok(p) = engine.request(
                            &identities.uids[s],
                            action,
                            &identities.uids[r],
                            context.clone(),
                        ) else {
                            continue;
                        };
                        spent += 1;
                        let holds = engine.satisfies(i, &p);
                        if let Some(k) = key {
                            lock(&candidates.bodies).insert(k, holds);
                        }
                        holds
                    }
                };
                if holds {
                    hits.extend_from_slice(t);
                }
            }
            if !hits.is_empty() {
                out.push((f.clone(), Targets::from_classes(hits, n)));
            }
        }
        (out, spent)
    }
}
