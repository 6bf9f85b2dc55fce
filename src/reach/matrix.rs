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

use std::sync::{Arc, Mutex, OnceLock};

use cedar_policy::EntityUid;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::classes::{
    classes_of, facts_of, index_of, key_of, observable, observations, Facts, Key, Nameable,
    Observes,
};
use super::joins;
use super::{Identities, NumberedReach, Reach, Uid};
use crate::core::ids::PolicyId;
use crate::engine::slice::{set_bit, words, Constraint};
use crate::engine::{ContextMap, Engine};

/// Source classes grouped alike, each with the target classes where a policy holds.
type Blocks = Vec<(Vec<u32>, Targets)>;

/// Where a permit is satisfied under one action: (action index, policy index, each group of
/// source classes' target classes); `HopMatrix::permits_of` says which group a class is in.
type PermitBlocks = (usize, usize, Vec<Targets>);

/// The target classes where a policy holds for one group of source classes: a sorted list
/// when they are few (a relation such as ownership holds for one account per person, and a
/// bitset per person was most of a matrix's memory), else a bitset.
enum Targets {
    Few(Box<[u32]>),
    Many(Box<[u64]>),
}

impl Targets {
    fn from_bits(bits: Vec<u64>) -> Self {
        let count: usize = bits.iter().map(|w| w.count_ones() as usize).sum();
        // A list entry takes 32 bits, a bitset one bit per class.
        if count * 32 < bits.len() * 64 {
            Self::Few(ones(&bits).map(|c| c as u32).collect())
        } else {
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
    fn new(engine: &Engine, identities: &Identities, members: &[Vec<u32>]) -> Self {
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
        for (c, m) in members.iter().enumerate() {
            let rep = &identities.uids[m[0] as usize];
            let ancestors = engine.entities.ancestors(rep).into_iter().flatten();
            for e in std::iter::once(&**rep).chain(ancestors) {
                if let Some(classes) = named.get_mut(e) {
                    classes.push(c as u32);
                }
            }
        }
        Self(named)
    }

    /// The classes among `candidates` (sorted; `is_candidate` marks them) whose members satisfy
    /// `constraint`, in class order.
    fn select(
        &self,
        matrix: &HopMatrix,
        constraint: &Constraint<'_>,
        candidates: &[u32],
        is_candidate: &[bool],
    ) -> Vec<u32> {
        let of_type = |c: u32, t: Option<&cedar_policy::EntityTypeName>| {
            t.is_none_or(|t| matrix.rep(c).type_name() == t)
        };
        match constraint {
            Constraint::Any => candidates.to_vec(),
            Constraint::Is(t) => candidates
                .iter()
                .copied()
                .filter(|&c| of_type(c, Some(t)))
                .collect(),
            Constraint::Eq(e) | Constraint::In(e, _) => {
                let (exact, ty) = match constraint {
                    Constraint::In(_, t) => (false, *t),
                    _ => (true, None),
                };
                self.0
                    .get(*e)
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(|&c| is_candidate[c as usize] && of_type(c, ty))
                    .filter(|&c| !exact || matrix.rep(c) == *e)
                    .collect()
            }
        }
    }
}

/// What every policy's evaluation in `build` shares.
struct Env<'a> {
    facts: &'a [Facts],
    relevant_index: &'a FxHashMap<&'a str, u32>,
    global: &'a [bool],
    scopes: &'a ScopeClasses,
}

/// The classes an action admits as principal and as resource (sorted, and marked by class),
/// and what the links of each template decide under it.
struct Candidates<'a> {
    sources: (&'a [u32], &'a [bool]),
    sinks: (&'a [u32], &'a [bool]),
    /// (template, principal key, resource key) → whether the template's condition holds,
    /// for pairs in a link's scope (see `HopMatrix::satisfied`).
    bodies: Mutex<FxHashMap<(u32, Key, Key), bool>>,
}

pub struct HopMatrix {
    /// Every identity that is a hop's principal or resource; its number is its id.
    identities: Arc<Identities>,
    /// The actions it decides: the impersonation actions, in configuration order (or, for
    /// direct grants, the actions asked; see `grants.rs`).
    actions: Vec<EntityUid>,
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
    /// Per source class: (permit index, group) of each permit satisfied for it somewhere.
    /// Sparse, because most permits (a template link each, say) hold for few classes.
    permits_of: Vec<Vec<(u32, u32)>>,
    /// Shortest chains of origins that cannot be targets, per class.
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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
        let identities = identities.clone();
        let (ids, names) = (&identities.uids, &identities.names);
        let observes = observations(engine);
        let (relevant, pinned, global) = observable(engine, names, &observes, ctx);
        let relevant_index = index_of(&relevant);
        let facts = facts_of(engine, &identities, &relevant_index, &pinned);
        let (class_of, members) = classes_of(names, &facts, &observes);
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
            permits_of: vec![Vec::new(); classes],
            identities,
            actions: actions.to_vec(),
            class_of,
            members,
            target,
            evaluations: 0,
            later: None,
        };
        let slicer = engine.slicer();
        let scopes = ScopeClasses::new(engine, &matrix.identities, &matrix.members);
        crate::core::progress::start("policies", (actions.len() * slicer.len()) as u64);
        for (ai, action) in actions.iter().enumerate() {
            let env = Env {
                facts: &facts,
                relevant_index: &relevant_index,
                global: &global,
                scopes: &scopes,
            };
            matrix.add_action(engine, ai, action, ctx, &observes, &env);
        }
        crate::core::progress::finish();
        matrix
    }

    /// The matrices of a context whose hops read `context.impersonator` but not the
    /// delegation chain: this one for first hops, one per group of origins for the rest (see
    /// `origins.rs`). `None` when hops cannot be decided that way.
    pub fn build_by_origin(
        engine: &Engine,
        identities: &Arc<Identities>,
        ctx: &ContextMap,
    ) -> Option<Self> {
        let ty = super::origins::applies(engine, ctx)?;
        let mut first = Self::build(engine, identities, ctx);
        let plan = super::origins::plan(engine, identities, ctx, &ty, &engine.actions);
        let matrices: Vec<HopMatrix> = plan
            .contexts
            .par_iter()
            .map(|later| Self::build(engine, identities, later))
            .collect();
        first.evaluations += matrices.iter().map(|m| m.evaluations).sum::<usize>();
        first.later = Some(Later {
            matrices,
            group_of: plan.group_of,
        });
        Some(first)
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

    /// Evaluates every policy that can match `action` over the classes, and records which class
    /// pairs it allows.
    fn add_action(
        &mut self,
        engine: &Engine,
        ai: usize,
        action: &EntityUid,
        ctx: &ContextMap,
        observes: &[Observes],
        env: &Env<'_>,
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
        let mark = |list: &[u32]| {
            let mut marked = vec![false; classes];
            list.iter().for_each(|&c| marked[c as usize] = true);
            marked
        };
        let candidates = Candidates {
            sources: (&sources, &mark(&sources)),
            sinks: (&sinks, &mark(&sinks)),
            bodies: Mutex::new(FxHashMap::default()),
        };
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
                    let rows = matrix.satisfied(engine, i, o, action, ctx, &candidates, env);
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
            for (group, targets) in &rows {
                for &c in group {
                    targets.or_into(&mut into[c as usize]);
                }
            }
            if is_permit && !rows.is_empty() {
                let p = self.permits.len() as u32;
                let mut bits = Vec::with_capacity(rows.len());
                for (g, (group, b)) in rows.into_iter().enumerate() {
                    for c in group {
                        self.permits_of[c as usize].push((p, g as u32));
                    }
                    bits.push(b);
                }
                self.permits.push((ai, i, bits));
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
        candidates: &Candidates<'_>,
        env: &Env<'_>,
    ) -> (Blocks, usize) {
        let slicer = engine.slicer();
        let nameable = Nameable::new(o, env.relevant_index, env.global);
        let can_name = |k: u32| nameable.contains(k);
        let group = |(list, marked): (&[u32], &[bool]), constraint: Constraint<'_>| {
            let mut index: FxHashMap<Key, usize> = FxHashMap::default();
            let mut groups: Vec<Vec<u32>> = Vec::new();
            for c in env.scopes.select(self, &constraint, list, marked) {
                let rep = self.members[c as usize][0];
                let f = &env.facts[rep as usize];
                let key = key_of(f, rep, &self.identities.names[rep as usize], o, can_name);
                let n = groups.len();
                let g = *index.entry(key).or_insert(n);
                if g == groups.len() {
                    groups.push(Vec::new());
                }
                groups[g].push(c);
            }
            groups
        };
        let from = group(candidates.sources, slicer.principal_constraint(i));
        let to = group(candidates.sinks, slicer.resource_constraint(i));
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
        // A template link holds on a pair in its scope exactly when its template's condition
        // does, and that condition cannot see the slot values: every link of a template shares
        // one evaluation per pair of keys under what the condition observes. With thousands of
        // links (one role binding each) that is most of the matrix's evaluations saved.
        let body = o.template.as_ref().map(|(t, body)| {
            (
                *t,
                &**body,
                Nameable::new(body, env.relevant_index, env.global),
            )
        });
        let body_key = |s: usize, r: usize| {
            body.as_ref().map(|(t, o, nameable)| {
                let key = |x: usize| {
                    let name = &self.identities.names[x];
                    key_of(&env.facts[x], x as u32, name, o, |k| nameable.contains(k))
                };
                (*t, key(s), key(r))
            })
        };
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
                let key = body_key(s, r);
                let known = key
                    .as_ref()
                    .and_then(|k| lock(&candidates.bodies).get(k).copied());
                let holds = match known {
                    Some(holds) => holds,
                    None => {
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
                        let holds = engine.satisfies(i, &p);
                        if let Some(k) = key {
                            lock(&candidates.bodies).insert(k, holds);
                        }
                        holds
                    }
                };
                if holds {
                    for (w, b) in bits.iter_mut().zip(tb) {
                        *w |= b;
                    }
                }
            }
            if bits.iter().any(|&w| w != 0) {
                out.push((f, Targets::from_bits(bits)));
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

    /// The identities it numbers.
    pub fn identities(&self) -> &Identities {
        &self.identities
    }

    /// How many matrices decide later hops, one per group of origins (0: this one decides every
    /// hop) (for tests).
    pub fn origin_groups(&self) -> usize {
        self.later.as_ref().map_or(0, |l| l.matrices.len())
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
        let actions: Vec<usize> = (0..self.allowed.len())
            .filter(|&a| has_bit(&self.allowed[a][cf as usize], ct))
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
        let mut policies: Vec<PolicyId> = self.permits_of[cf as usize]
            .iter()
            .map(|&(p, g)| (&self.permits[p as usize], g as usize))
            .filter(|((a, _, targets), g)| *a == ai && targets[*g].contains(ct))
            .map(|((_, i, _), _)| PolicyId::from(engine.slicer().policy(*i).id()))
            .collect();
        policies.sort();
        policies.dedup();
        policies
    }

    /// The classes any member of class `cf` may take action number `ai` on (any other member
    /// of them), with no regard to who can be impersonated.
    pub(super) fn allowed_from(&self, ai: usize, cf: u32) -> impl Iterator<Item = u32> + '_ {
        ones(&self.allowed[ai][cf as usize]).map(|c| c as u32)
    }

    /// The members of class `c`, by number.
    pub(super) fn members_of(&self, c: u32) -> &[u32] {
        &self.members[c as usize]
    }

    /// How many classes there are.
    pub(super) fn classes(&self) -> usize {
        self.members.len()
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
        if self.target[class] || self.members[class].len() == 1 {
            return self.reach_all(origin, max_chain);
        }
        // Every member reaches the same accounts by the same chains (kept for the next member
        // only where there is one: a memo of every singleton class doubled a report's memory).
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

    /// Which identities can reach identity `target` within `max_chain` hops (never `target`
    /// itself), by number: a backward search, so `who-can TARGET` runs a forward search only
    /// from those that can.
    ///
    /// A walk of hops contains a simple path between its ends, no longer, so "can reach" is
    /// "some walk": round by round, an identity not yet known to reach `target` joins when its
    /// class may hop to a class holding one that does (which is not itself, as it did not).
    ///
    /// `None` when later hops have matrices of their own (then only a forward search tells).
    pub fn can_reach(&self, target: u32, max_chain: u32) -> Option<Vec<bool>> {
        if self.later.is_some() {
            return None;
        }
        let classes = self.members.len();
        let mut can = vec![false; self.identities.len()];
        let tc = self.class_of(target) as usize;
        if !self.target[tc] {
            return Some(can);
        }
        // Target classes holding an identity that reaches `target` (or `target`), as bits.
        let mut holding = vec![0u64; words(classes)];
        set_bit(&mut holding, tc);
        let mut done = vec![false; classes];
        for _ in 0..max_chain {
            let mut joined = Vec::new();
            for (c, row) in self.rows.iter().enumerate() {
                if !done[c] && row.iter().zip(&holding).any(|(r, h)| r & h != 0) {
                    joined.push(c);
                }
            }
            if joined.is_empty() {
                break;
            }
            for c in joined {
                // Every member of the class joins (all of them may make the same hop).
                done[c] = true;
                self.members[c].iter().for_each(|&m| can[m as usize] = true);
                if self.target[c] {
                    set_bit(&mut holding, c);
                }
            }
        }
        can[target as usize] = false;
        Some(can)
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
    /// (so shortest, then least) chain; stops early when `found` returns true. First hops are
    /// this matrix's, later ones the origin's later matrix's (the same one, without `later`).
    fn search(&self, origin: u32, max_chain: u32, mut found: impl FnMut(u32, &[u32]) -> bool) {
        let later = self.step(origin, 1).1;
        let two = !std::ptr::eq(later, self);
        // Classes reached, per matrix; identities reached, when two matrices class them apart.
        let mut reached_first = vec![false; self.members.len()];
        let mut reached_later = vec![false; if two { later.members.len() } else { 0 }];
        let mut entered = vec![false; if two { self.identities.len() } else { 0 }];
        // Chains at the current depth, in the order of their uid strings, as ids.
        let mut frontier: Vec<Vec<u32>> = vec![Vec::new()];
        for depth in 0..max_chain {
            let (m, reached) = if depth > 0 && two {
                (later, &mut reached_later)
            } else {
                (self, &mut reached_first)
            };
            let mut next: Vec<Vec<u32>> = Vec::new();
            for chain in &frontier {
                let from = chain.last().copied().unwrap_or(origin);
                let row = &m.rows[m.class_of[from as usize] as usize];
                let mut new: Vec<u32> = Vec::new();
                for c in ones(row) {
                    if !m.target[c] || reached[c] {
                        continue;
                    }
                    // A class is reached whole: every member is allowed from `from` (which is
                    // not among them: its own class was reached before).
                    reached[c] = true;
                    for &x in &m.members[c] {
                        if x == origin || (two && std::mem::replace(&mut entered[x as usize], true))
                        {
                            continue;
                        }
                        new.push(x);
                    }
                }
                new.sort_unstable();
                for x in new {
                    let mut longer = chain.clone();
                    longer.push(x);
                    if found(x, &longer) {
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
