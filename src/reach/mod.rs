//! Impersonation reach: who can act as whom within `max_chain` hops, and by which chain.
//!
//! A [`Reachability`] is built for one context (a profile, a scenario case's context) before
//! any search runs: when hops do not depend on the path behind them, its hop matrix (see
//! [`matrix`]) is computed there, with every worker. When they do (an impersonation action
//! declares `impersonator` or `delegation_chain`) but no hop policy reads `delegation_chain`,
//! first hops have one matrix and later hops one per group of origins the policies cannot tell
//! apart as `context.impersonator` (see `origins.rs`, which also lists when that holds);
//! when hop policies read `delegation_chain` only by testing it for named accounts, a search
//! over (account, which of those the chain holds) with each policy evaluated once per subset
//! of the accounts it names (see `chain_facts.rs`); otherwise searches go through the engine: breadth-first per origin when
//! no hop policy reads `delegation_chain`, every simple path when one does.
//! Nothing is cached behind the caller's back: whoever needs reach under a context builds it
//! once and passes it on.

mod chain_facts;
mod classes;
mod grants;
pub(crate) mod identities;
mod joins;
pub mod matrix;
mod origins;

use std::collections::HashMap;
use std::sync::Arc;

use cedar_policy::EntityUid;
use rayon::prelude::*;
use serde_json::Value;

pub use grants::{direct_grants, DirectGrant};
pub use identities::{Chain, Chains, Identities, NumberedReach, Reach, Uid};
use matrix::HopMatrix;
pub use origins::acting_as_groups;

use crate::engine::{Behind, ContextMap, Engine};

/// Reach under one context.
pub struct Reachability<'e> {
    engine: &'e Engine,
    context: ContextMap,
    /// The hop matrix (with its later matrices per group of origins); `None` when hops depend
    /// on the path behind them in another way.
    matrix: Option<Arc<HopMatrix>>,
    /// Whether a hop policy may read `delegation_chain` (see [`Engine::hops_read_the_chain`]);
    /// only consulted without a matrix.
    reads_the_chain: bool,
    /// Without a matrix, the search over (account, what the policies observe of the chain)
    /// where it applies (see `chain_facts.rs`).
    by_facts: Option<chain_facts::ChainFacts>,
}

impl<'e> Reachability<'e> {
    /// Reach under `context`, with its hop matrix computed now (when hops do not depend on the
    /// path). `identities` numbers the engine's identities; several contexts share it.
    pub fn new(engine: &'e Engine, identities: &Arc<Identities>, context: &ContextMap) -> Self {
        let matrix = if engine.hops_depend_on_path() {
            HopMatrix::build_by_origin(engine, identities, context).map(Arc::new)
        } else {
            Some(Arc::new(HopMatrix::build(engine, identities, context)))
        };
        let by_facts = match &matrix {
            None => chain_facts::ChainFacts::new(engine, context),
            Some(_) => None,
        };
        Self {
            engine,
            context: context.clone(),
            reads_the_chain: matrix.is_none() && engine.hops_read_the_chain(),
            matrix,
            by_facts,
        }
    }

    /// Reach under one context, numbering the engine's identities for it alone.
    pub fn alone(engine: &'e Engine, context: &ContextMap) -> Self {
        Self::new(engine, &Arc::new(Identities::new(engine)), context)
    }

    /// The hop matrix (with its later matrices per group of origins); `None` when hops depend
    /// on the path behind them in another way.
    pub fn matrix(&self) -> Option<&Arc<HopMatrix>> {
        self.matrix.as_ref()
    }

    /// Whether reach is searched over (account, named accounts on the chain) states (see
    /// `chain_facts.rs`) (for tests).
    pub fn by_chain_facts(&self) -> bool {
        self.by_facts.is_some()
    }

    /// Every identity `origin` can reach within `max_chain` hops over simple paths, with the
    /// shortest chain (ties broken by the chain's uid strings).
    ///
    /// Without a matrix, hops go through the engine depth by depth, each depth's paths walked
    /// in the order of their uid strings, so the first chain to reach an identity is its best.
    /// When a hop policy reads `delegation_chain`, a hop depends on the whole path behind it
    /// and every simple path is explored. When none does, a hop depends on the path only
    /// through the origin and whether it is the first, so an identity once reached is not
    /// entered again (a breadth-first search): the best chain to an identity at depth d
    /// extends the best chain of one at depth d − 1, and the same reach comes out.
    pub fn reach_from(&self, origin: &EntityUid) -> Reach {
        let engine = self.engine;
        if let Some(m) = &self.matrix {
            return m.reach(origin, engine.max_chain);
        }
        if let Some(search) = &self.by_facts {
            return search.reach_of(engine, origin);
        }
        let targets = engine.impersonable();
        let mut reach = Reach::new();
        // Paths at the current depth, in the order of their uid strings.
        let mut frontier: Vec<Vec<EntityUid>> = vec![Vec::new()];
        for _ in 0..engine.max_chain {
            let mut next: Vec<Vec<EntityUid>> = Vec::new();
            for path in &frontier {
                let from = path.last().unwrap_or(origin);
                let behind = (!path.is_empty()).then_some(Behind {
                    origin,
                    chain: path,
                });
                for to in &targets {
                    let entered = if self.reads_the_chain {
                        path.contains(to)
                    } else {
                        reach.contains_key(to.to_string().as_str())
                    };
                    if to == origin || entered || !self.hop_allowed(from, to, behind) {
                        continue;
                    }
                    let mut chain = path.clone();
                    chain.push(to.clone());
                    reach.entry(to.to_string().into()).or_insert_with(|| {
                        let shared = chain.iter().cloned().map(Arc::new).collect();
                        (Arc::new(to.clone()), shared)
                    });
                    next.push(chain);
                }
            }
            next.sort_by_cached_key(|c| c.iter().map(ToString::to_string).collect::<Vec<_>>());
            next.dedup();
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        reach
    }

    /// [`Reachability::reach_from`] numbered by `identities`, where the search keeps it so
    /// (see `chain_facts.rs`); `None` otherwise.
    pub fn reach_numbered(
        &self,
        origin: &EntityUid,
        identities: &Identities,
    ) -> Option<Arc<NumberedReach>> {
        let search = self.by_facts.as_ref()?;
        search.reach_numbered(self.engine, origin, identities)
    }

    /// Whether `from` may impersonate `to` in one hop, with the given path behind it.
    fn hop_allowed(&self, from: &EntityUid, to: &EntityUid, behind: Option<Behind<'_>>) -> bool {
        let engine = self.engine;
        engine.hop_actions(from, to).into_iter().any(|a| {
            engine
                .prepare(from, a, to, &self.context, behind)
                .is_ok_and(|p| engine.evaluate(&p).allowed)
        })
    }

    /// The shortest chain from `origin` to `target` within `max_chain` hops, as
    /// [`Reachability::reach_from`] has it, without keeping the rest of `origin`'s reach.
    pub fn chain_to(&self, origin: &EntityUid, target: &EntityUid) -> Option<Vec<Uid>> {
        if let Some(search) = &self.by_facts {
            return search.chain_to(self.engine, origin, target);
        }
        match &self.matrix {
            Some(m) => m.chain_to(origin, target, self.engine.max_chain),
            None => self
                .reach_from(origin)
                .remove(target.to_string().as_str())
                .map(|(_, chain)| chain),
        }
    }

    /// Identities that can reach `target` within `max_chain` hops, sorted by uid string.
    pub fn who_can_reach(&self, target: &EntityUid) -> Vec<EntityUid> {
        let impersonators = self.engine.impersonators();
        if let Some(m) = &self.matrix {
            // Who can reach it, by number (nobody, for a target that is no identity).
            let can = m
                .identities()
                .number(target)
                .map(|t| m.can_reach(t, self.engine.max_chain));
            return impersonators
                .into_iter()
                .filter(|p| {
                    let n = m.identities().number(p);
                    can.as_ref().zip(n).is_some_and(|(can, n)| can[n as usize])
                })
                .collect();
        }
        impersonators
            .into_par_iter()
            .filter(|p| p != target && self.chain_to(p, target).is_some())
            .collect()
    }
}

/// Reach under each of several contexts (scenario cases each name theirs), built up front and
/// looked up by context.
pub struct ByContext<'e> {
    by_key: HashMap<String, Reachability<'e>>,
}

impl<'e> ByContext<'e> {
    /// Reach under every distinct context of `contexts`, sharing one identity numbering.
    pub fn new<'c>(engine: &'e Engine, contexts: impl IntoIterator<Item = &'c ContextMap>) -> Self {
        use rayon::prelude::*;
        let mut distinct: HashMap<String, &ContextMap> = HashMap::new();
        for context in contexts {
            distinct.entry(key(context)).or_insert(context);
        }
        // No context, no identities to number (a `test` run of request cases only).
        if distinct.is_empty() {
            return Self {
                by_key: HashMap::new(),
            };
        }
        let identities = Arc::new(Identities::new(engine));
        // Side by side, as part of building a matrix (its classes) is one thread's work,
        // sharing the decisions of policies that read nothing on which the contexts differ.
        identities.share_decisions(distinct.len() > 1);
        let by_key = distinct
            .into_par_iter()
            .map(|(k, context)| (k, Reachability::new(engine, &identities, context)))
            .collect();
        identities.share_decisions(false);
        Self { by_key }
    }

    /// Reach under `context`, which must be one of those given to [`ByContext::new`].
    pub fn get(&self, context: &ContextMap) -> Option<&Reachability<'e>> {
        self.by_key.get(&key(context))
    }
}

fn key(context: &ContextMap) -> String {
    Value::Object(context.clone()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::example;
    use crate::workspace::test_support::{ctx, uid};

    #[test]
    fn shortest_chains_and_who_can_reach() {
        let ws = example();
        let reach = Reachability::alone(&ws.engine, &ctx()).reach_from(&uid(r#"User::"carol""#));
        let chains: Vec<Vec<String>> = reach
            .values()
            .map(|(_, c)| c.iter().map(ToString::to_string).collect())
            .collect();
        assert_eq!(
            chains,
            vec![
                vec![r#"ServiceAccount::"ci-runner""#.to_string()],
                vec![
                    r#"ServiceAccount::"ci-runner""#.to_string(),
                    r#"ServiceAccount::"prod-deployer""#.to_string()
                ],
            ]
        );
        let who: Vec<String> = Reachability::alone(&ws.engine, &ctx())
            .who_can_reach(&uid(r#"ServiceAccount::"ci-runner""#))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(who, vec![r#"User::"carol""#, r#"User::"dave""#]);
    }
}
