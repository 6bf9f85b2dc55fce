//! The evaluator: hops, chains, acting-as requests and plain requests, on one shared
//! `Authorizer`, `PolicySet` and `Entities`, read-only across rayon workers.
//!
//! Rules (DESIGN §6): a request gets the context trimmed to the attributes its action declares;
//! a request whose principal was reached by impersonation also gets `impersonator` (the origin)
//! and `delegation_chain` (the accounts so far, current principal included) where its action
//! declares them and the values fit the declared types. A hop tries every configured
//! impersonation action that fits and is allowed when any allows.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use cedar_policy::{
    Authorizer, Context, Decision, Entities, EntityTypeName, EntityUid, PolicySet, Request, Schema,
};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde_json::{Map, Value};

use crate::matrix::HopMatrix;
use crate::schema::{entity_type_of, set_element_type_of, ActionInfo, SchemaInfo};
use crate::slice::Slicer;
use crate::uid::entity_value;
use crate::workspace::PolicyMeta;

/// The attribute that names the original identity behind an impersonated request.
pub const IMPERSONATOR: &str = "impersonator";
/// The attribute that lists the accounts of the delegation chain so far.
pub const DELEGATION_CHAIN: &str = "delegation_chain";

/// A context as written: attribute name to a value in Cedar's JSON form.
pub type ContextMap = Map<String, Value>;

/// Who is behind a request reached by impersonation: the origin and the accounts so far.
#[derive(Debug, Clone, Copy)]
pub struct Behind<'a> {
    pub origin: &'a EntityUid,
    pub chain: &'a [EntityUid],
}

/// One evaluated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub principal: EntityUid,
    pub action: EntityUid,
    pub resource: EntityUid,
    pub allowed: bool,
    /// Determining policy ids, sorted.
    pub reasons: Vec<String>,
    /// Evaluation errors, one line each, sorted.
    pub errors: Vec<String>,
}

/// A request ready to evaluate.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub principal: EntityUid,
    pub action: EntityUid,
    pub resource: EntityUid,
    pub request: Request,
}

/// One hop, prepared: a request per fitting impersonation action.
#[derive(Debug, Clone)]
pub struct PreparedHop {
    pub from: EntityUid,
    pub to: EntityUid,
    pub requests: Vec<Prepared>,
}

/// One hop, evaluated.
#[derive(Debug, Clone)]
pub struct HopOutcome {
    pub from: EntityUid,
    pub to: EntityUid,
    pub allowed: bool,
    /// The impersonation actions that allowed it, in configuration order.
    pub allowing: Vec<EntityUid>,
    pub evaluations: Vec<Evaluation>,
}

impl HopOutcome {
    /// The determining policies of the allowing requests, sorted, without repeats.
    pub fn policies(&self) -> Vec<String> {
        let mut policies: Vec<String> = self
            .evaluations
            .iter()
            .filter(|e| e.allowed)
            .flat_map(|e| e.reasons.iter().cloned())
            .collect();
        policies.sort();
        policies.dedup();
        policies
    }
}

/// Shortest chains from one origin: target uid string → (target, chain `[S1 … target]`).
/// A uid shared between the paths that name it (a report holds millions of paths, and a Cedar
/// uid is 120 bytes).
pub type Uid = Arc<EntityUid>;

/// Reached identities by uid string, each with its chain.
pub type Reach = BTreeMap<Arc<str>, (Uid, Vec<Uid>)>;

/// Chains of identity numbers packed end to end: chain `k` runs from where chain `k - 1` ends
/// to `ends[k]`. Millions of chains cost 4 bytes each plus their members, not a `Vec` each.
#[derive(Debug, Default)]
pub struct Chains {
    ends: Vec<u32>,
    members: Vec<u32>,
}

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
        self.ends.push(self.members.len() as u32);
    }

    /// Chain `k`.
    pub fn get(&self, k: usize) -> &[u32] {
        let start = k.checked_sub(1).map_or(0, |p| self.ends[p] as usize);
        &self.members[start..self.ends[k] as usize]
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

    pub fn len(&self) -> usize {
        self.targets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
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
}

impl Identities {
    fn new(engine: &Engine) -> Self {
        let mut keyed: Vec<(String, EntityUid)> = engine
            .impersonators()
            .into_iter()
            .chain(engine.impersonable())
            .map(|u| (u.to_string(), u))
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        keyed.dedup_by(|a, b| a.0 == b.0);
        let number = keyed
            .iter()
            .enumerate()
            .map(|(i, (_, u))| (u.clone(), i as u32))
            .collect();
        let (names, uids) = keyed
            .into_iter()
            .map(|(n, u)| (Arc::from(n), Arc::new(u)))
            .unzip();
        Self {
            uids,
            names,
            number,
        }
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

pub struct Engine {
    pub schema: Schema,
    pub info: SchemaInfo,
    pub policies: PolicySet,
    pub entities: Entities,
    authorizer: Authorizer,
    /// The impersonation actions, in configuration order.
    pub actions: Vec<EntityUid>,
    pub max_chain: u32,
    /// Link id → template id, so a template id in `reasons` matches its links.
    templates: HashMap<String, String>,
    policy_id_list: Vec<String>,
    /// Hop matrices by context, when hops do not depend on the path.
    matrices: Mutex<HashMap<String, Arc<OnceLock<Arc<HopMatrix>>>>>,
    /// Per-request policy slices (see `slice.rs`).
    slicer: Slicer,
    identities: OnceLock<Arc<Identities>>,
}

impl Engine {
    pub fn new(
        schema: Schema,
        info: SchemaInfo,
        policies: PolicySet,
        entities: Entities,
        actions: Vec<EntityUid>,
        max_chain: u32,
        meta: &BTreeMap<String, PolicyMeta>,
    ) -> Self {
        let templates = meta
            .values()
            .filter_map(|m| Some((m.id.clone(), m.template.clone()?)))
            .collect();
        Self {
            slicer: Slicer::new(&policies),
            schema,
            info,
            policies,
            entities,
            authorizer: Authorizer::new(),
            actions,
            max_chain,
            templates,
            policy_id_list: meta.keys().cloned().collect(),
            matrices: Mutex::new(HashMap::new()),
            identities: OnceLock::new(),
        }
    }

    /// The same inventory and settings with another policy set (what-if analyses).
    pub fn with_policies(&self, policies: PolicySet, meta: &BTreeMap<String, PolicyMeta>) -> Self {
        Self::new(
            self.schema.clone(),
            self.info.clone(),
            policies,
            self.entities.clone(),
            self.actions.clone(),
            self.max_chain,
            meta,
        )
    }

    /// Every action of the schema, sorted by uid string.
    pub fn schema_actions(&self) -> Vec<EntityUid> {
        let mut actions: Vec<EntityUid> = self.info.actions.keys().cloned().collect();
        actions.sort_by_cached_key(ToString::to_string);
        actions
    }

    pub fn action(&self, action: &EntityUid) -> Option<&ActionInfo> {
        self.info.actions.get(action)
    }

    /// Entity types that can be impersonated: the union of the actions' resource types.
    pub fn impersonable_types(&self) -> Vec<EntityTypeName> {
        self.union_types(|a| &a.resources)
    }

    /// Entity types that can impersonate: the union of the actions' principal types.
    pub fn impersonator_types(&self) -> Vec<EntityTypeName> {
        self.union_types(|a| &a.principals)
    }

    /// Principal types of the impersonation actions that are not impersonable.
    pub fn default_human_types(&self) -> Vec<String> {
        let impersonable = self.impersonable_types();
        self.impersonator_types()
            .into_iter()
            .filter(|t| !impersonable.contains(t))
            .map(|t| t.to_string())
            .collect()
    }

    fn union_types(
        &self,
        pick: impl Fn(&ActionInfo) -> &Vec<EntityTypeName>,
    ) -> Vec<EntityTypeName> {
        let mut out: Vec<EntityTypeName> = Vec::new();
        for a in self.actions.iter().filter_map(|a| self.action(a)) {
            for t in pick(a) {
                if !out.contains(t) {
                    out.push(t.clone());
                }
            }
        }
        out.sort_by_key(ToString::to_string);
        out
    }

    /// The impersonation actions whose `appliesTo` fits a hop from `from` to `to`.
    pub fn hop_actions(&self, from: &EntityUid, to: &EntityUid) -> Vec<&EntityUid> {
        self.actions
            .iter()
            .filter(|a| self.action(a).is_some_and(|i| i.fits(from, to)))
            .collect()
    }

    pub fn contains(&self, uid: &EntityUid) -> bool {
        self.entities.get(uid).is_some()
    }

    /// Whether an impersonation action declares `impersonator` or `delegation_chain`, which
    /// makes a hop's decision depend on the path that led to it.
    pub fn hops_depend_on_path(&self) -> bool {
        self.actions.iter().filter_map(|a| self.action(a)).any(|a| {
            a.context.contains_key(IMPERSONATOR) || a.context.contains_key(DELEGATION_CHAIN)
        })
    }

    /// Builds a request: the context trimmed to what `action` declares, the impersonation
    /// attributes filled where declared and fitting, and the whole checked by Cedar.
    pub fn prepare(
        &self,
        principal: &EntityUid,
        action: &EntityUid,
        resource: &EntityUid,
        context: &ContextMap,
        behind: Option<Behind<'_>>,
    ) -> Result<Prepared, String> {
        let info = self
            .action(action)
            .ok_or_else(|| format!("action `{action}` is not in the schema"))?;
        if !info.fits(principal, resource) {
            return Err(format!(
                "`{action}` does not apply to principal `{principal}` and resource `{resource}`: it applies to principals of type {} and resources of type {}",
                list_types(&info.principals),
                list_types(&info.resources)
            ));
        }
        let mut ctx = Map::new();
        for (name, attr) in &info.context {
            if let Some(v) = context.get(name) {
                ctx.insert(name.clone(), v.clone());
                continue;
            }
            let filled = behind.and_then(|b| fill(name, &attr.ty, b));
            match filled {
                Some(v) => {
                    ctx.insert(name.clone(), v);
                }
                None if attr.required && name != IMPERSONATOR && name != DELEGATION_CHAIN => {
                    return Err(format!(
                        "context attribute `{name}` is required by `{action}` but missing"
                    ));
                }
                None => {}
            }
        }
        let context = Context::from_json_value(Value::Object(ctx), Some((&self.schema, action)))
            .map_err(|e| format!("context is not valid for `{action}`: {e}"))?;
        let request = Request::new(
            principal.clone(),
            action.clone(),
            resource.clone(),
            context,
            Some(&self.schema),
        )
        .map_err(|e| e.to_string())?;
        Ok(Prepared {
            principal: principal.clone(),
            action: action.clone(),
            resource: resource.clone(),
            request,
        })
    }

    /// Prepares every hop of `principal → chain[0] → … → chain[n-1]`.
    pub fn prepare_chain(
        &self,
        principal: &EntityUid,
        chain: &[EntityUid],
        context: &ContextMap,
    ) -> Result<Vec<PreparedHop>, String> {
        let mut hops = Vec::new();
        let mut from = principal;
        for (i, to) in chain.iter().enumerate() {
            let behind = chain.get(..i).filter(|c| !c.is_empty()).map(|c| Behind {
                origin: principal,
                chain: c,
            });
            let actions = self.hop_actions(from, to);
            if actions.is_empty() {
                return Err(format!(
                    "no impersonation action applies to `{from}` impersonating `{to}` (configured: {})",
                    self.actions.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
                ));
            }
            let requests = actions
                .into_iter()
                .map(|a| self.prepare(from, a, to, context, behind))
                .collect::<Result<Vec<_>, _>>()?;
            hops.push(PreparedHop {
                from: from.clone(),
                to: to.clone(),
                requests,
            });
            from = to;
        }
        Ok(hops)
    }

    /// Evaluates one request with Cedar, against the policies whose scope can match it.
    pub fn evaluate(&self, p: &Prepared) -> Evaluation {
        let slice = self
            .slicer
            .slice(&self.entities, &p.principal, &p.action, &p.resource);
        self.evaluate_with(p, &slice)
    }

    /// Evaluates one request against the whole policy set, as Cedar alone would (differential
    /// tests and benchmarks compare it with [`Engine::evaluate`]).
    pub fn evaluate_unsliced(&self, p: &Prepared) -> Evaluation {
        self.evaluate_with(p, &self.policies)
    }

    /// Whether policy `i` of the slicer's order is satisfied by the request (it determines
    /// the request when evaluated alone; an evaluation error means not satisfied, as in Cedar).
    pub fn satisfies(&self, i: usize, p: &Prepared) -> bool {
        self.authorizer
            .is_authorized(&p.request, self.slicer.alone(i), &self.entities)
            .diagnostics()
            .reason()
            .next()
            .is_some()
    }

    pub fn slicer(&self) -> &Slicer {
        &self.slicer
    }

    /// Distinct policy slices built so far.
    pub fn slices(&self) -> usize {
        self.slicer.slices()
    }

    fn evaluate_with(&self, p: &Prepared, policies: &PolicySet) -> Evaluation {
        let response = self
            .authorizer
            .is_authorized(&p.request, policies, &self.entities);
        let mut reasons: Vec<String> = response
            .diagnostics()
            .reason()
            .map(ToString::to_string)
            .collect();
        reasons.sort();
        let mut errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(|e| one_line(&e.to_string()))
            .collect();
        errors.sort();
        Evaluation {
            principal: p.principal.clone(),
            action: p.action.clone(),
            resource: p.resource.clone(),
            allowed: response.decision() == Decision::Allow,
            reasons,
            errors,
        }
    }

    pub fn evaluate_hop(&self, hop: &PreparedHop) -> HopOutcome {
        let evaluations: Vec<Evaluation> = hop.requests.iter().map(|r| self.evaluate(r)).collect();
        let allowing: Vec<EntityUid> = evaluations
            .iter()
            .filter(|e| e.allowed)
            .map(|e| e.action.clone())
            .collect();
        HopOutcome {
            from: hop.from.clone(),
            to: hop.to.clone(),
            allowed: !allowing.is_empty(),
            allowing,
            evaluations,
        }
    }

    /// Whether `id` (a policy, link or template id) names `determining`, a determining policy.
    pub fn reason_matches(&self, id: &str, determining: &str) -> bool {
        id == determining || self.templates.get(determining).is_some_and(|t| t == id)
    }

    /// The template a link was made from.
    pub fn template_of(&self, id: &str) -> Option<&str> {
        self.templates.get(id).map(String::as_str)
    }

    /// The identities that take part in hops, numbered.
    pub fn identities(&self) -> &Arc<Identities> {
        self.identities
            .get_or_init(|| Arc::new(Identities::new(self)))
    }

    /// Inventory identities that may be principals of an impersonation action, sorted.
    pub fn impersonators(&self) -> Vec<EntityUid> {
        self.inventory_of(&self.impersonator_types())
    }

    /// Inventory identities of an impersonable type, sorted.
    pub fn impersonable(&self) -> Vec<EntityUid> {
        self.inventory_of(&self.impersonable_types())
    }

    /// Inventory entities, not counting the action entities Cedar adds from the schema.
    pub fn inventory_size(&self) -> usize {
        self.entities
            .iter()
            .filter(|e| !self.info.actions.contains_key(&e.uid()))
            .count()
    }

    /// Inventory entities of the given types, sorted by uid string.
    pub fn inventory_of(&self, types: &[EntityTypeName]) -> Vec<EntityUid> {
        let mut out: Vec<EntityUid> = self
            .entities
            .iter()
            .map(|e| e.uid())
            .filter(|u| types.contains(u.type_name()))
            .collect();
        out.sort_by_cached_key(ToString::to_string);
        out
    }

    /// Whether `from` may impersonate `to` in one hop, with the given path behind it.
    fn hop_allowed(
        &self,
        from: &EntityUid,
        to: &EntityUid,
        ctx: &ContextMap,
        behind: Option<Behind<'_>>,
    ) -> bool {
        self.hop_actions(from, to).into_iter().any(|a| {
            self.prepare(from, a, to, ctx, behind)
                .is_ok_and(|p| self.evaluate(&p).allowed)
        })
    }

    /// Every identity `origin` can reach within `max_chain` hops over simple paths, with the
    /// shortest chain (ties broken by the chain's uid strings).
    pub fn reach_from(&self, origin: &EntityUid, ctx: &ContextMap) -> Reach {
        if let Some(m) = self.matrix(ctx) {
            return m.reach(origin, self.max_chain);
        }
        // Hops depend on the path behind them: every simple path is explored.
        let targets = self.impersonable();
        let mut reach = Reach::new();
        // Paths at the current depth, in the order of their uid strings.
        let mut frontier: Vec<Vec<EntityUid>> = vec![Vec::new()];
        for _ in 0..self.max_chain {
            let mut next: Vec<Vec<EntityUid>> = Vec::new();
            for path in &frontier {
                let from = path.last().unwrap_or(origin);
                let behind = (!path.is_empty()).then_some(Behind {
                    origin,
                    chain: path,
                });
                for to in &targets {
                    if to == origin || path.contains(to) || !self.hop_allowed(from, to, ctx, behind)
                    {
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

    /// Computes the hop matrix for `ctx` now, using every worker. Reachability computes it on
    /// first use, but from inside a parallel job the other workers would wait on it idle.
    pub fn warm(&self, ctx: &ContextMap) {
        let _ = self.matrix(ctx);
    }

    /// The hop matrix under `ctx` (see `matrix.rs`), computed once per context; `None` when
    /// hops depend on the path behind them.
    pub fn matrix(&self, ctx: &ContextMap) -> Option<Arc<HopMatrix>> {
        if self.hops_depend_on_path() {
            return None;
        }
        let key = Value::Object(ctx.clone()).to_string();
        let cell = {
            let mut matrices = self
                .matrices
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            matrices.entry(key).or_default().clone()
        };
        Some(
            cell.get_or_init(|| Arc::new(HopMatrix::build(self, ctx)))
                .clone(),
        )
    }

    /// The shortest chain from `origin` to `target` within `max_chain` hops, as
    /// [`Engine::reach_from`] has it, without keeping the rest of `origin`'s reach.
    pub fn chain_to(
        &self,
        origin: &EntityUid,
        target: &EntityUid,
        ctx: &ContextMap,
    ) -> Option<Vec<Uid>> {
        match self.matrix(ctx) {
            Some(m) => m.chain_to(origin, target, self.max_chain),
            None => self
                .reach_from(origin, ctx)
                .remove(target.to_string().as_str())
                .map(|(_, chain)| chain),
        }
    }

    /// Identities that can reach `target` within `max_chain` hops, sorted by uid string.
    pub fn who_can_reach(&self, target: &EntityUid, ctx: &ContextMap) -> Vec<EntityUid> {
        self.impersonators()
            .into_par_iter()
            .filter(|p| p != target && self.chain_to(p, target, ctx).is_some())
            .collect()
    }
}

/// What is wrong with an input the engine checks (a context, an entity reference).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// The context attribute at fault; `None` for a missing one or for an entity reference.
    pub attribute: Option<String>,
    pub message: String,
    pub help: Option<String>,
}

impl Engine {
    /// Checks a context: every attribute declared by one of `declaring`, with a value of the
    /// declared type wherever declared; every attribute `requiring` needs present (the
    /// impersonation attributes excepted: actas fills them).
    pub fn check_context(
        &self,
        context: &ContextMap,
        declaring: &[EntityUid],
        requiring: &[EntityUid],
    ) -> Vec<Issue> {
        let mut issues = Vec::new();
        let infos: Vec<(&EntityUid, &ActionInfo)> = declaring
            .iter()
            .filter_map(|a| self.action(a).map(|i| (a, i)))
            .collect();
        for (name, value) in context {
            let declared: Vec<_> = infos
                .iter()
                .filter_map(|(a, i)| i.context.get(name).map(|t| (*a, t)))
                .collect();
            if declared.is_empty() {
                let known: std::collections::BTreeSet<&str> = infos
                    .iter()
                    .flat_map(|(_, i)| i.context.keys().map(String::as_str))
                    .collect();
                let by = if declaring.len() == self.info.actions.len() && declaring.len() > 1 {
                    "any action of the schema".to_string()
                } else {
                    let names: Vec<String> = declaring.iter().map(|a| format!("`{a}`")).collect();
                    names.join(", ")
                };
                issues.push(Issue {
                    attribute: Some(name.clone()),
                    message: format!("context attribute `{name}` is not declared by {by}"),
                    help: crate::suggest::closest(name, known.iter().copied())
                        .map(|s| format!("did you mean `{s}`?")),
                });
                continue;
            }
            for (action, attr) in declared {
                if let Err(e) = self
                    .info
                    .check_value(value, &attr.ty, &namespace_of(action))
                {
                    issues.push(Issue {
                        attribute: Some(name.clone()),
                        message: format!("context attribute `{name}` of `{action}`: {e}"),
                        help: None,
                    });
                    break;
                }
            }
        }
        for action in requiring {
            let Some(info) = self.action(action) else {
                continue;
            };
            for (name, attr) in &info.context {
                if attr.required
                    && name != IMPERSONATOR
                    && name != DELEGATION_CHAIN
                    && !context.contains_key(name)
                {
                    issues.push(Issue {
                        attribute: None,
                        message: format!(
                            "context attribute `{name}` is required by `{action}` but missing"
                        ),
                        help: None,
                    });
                }
            }
        }
        issues
    }
}

impl Engine {
    /// Whether `uid` names an inventory entity; if not, why, with a "did you mean".
    pub fn known_entity(&self, uid: &EntityUid) -> Result<(), Issue> {
        if self.schema.entity_types().all(|t| t != uid.type_name()) {
            let types: Vec<String> = self
                .schema
                .entity_types()
                .map(ToString::to_string)
                .collect();
            return Err(Issue {
                attribute: None,
                message: format!("entity type `{}` is not in the schema", uid.type_name()),
                help: crate::suggest::closest(
                    &uid.type_name().to_string(),
                    types.iter().map(String::as_str),
                )
                .map(|s| format!("did you mean `{s}`?")),
            });
        }
        if self.contains(uid) {
            return Ok(());
        }
        let same_type: Vec<String> = self
            .entities
            .iter()
            .map(|e| e.uid())
            .filter(|u| u.type_name() == uid.type_name())
            .map(|u| u.to_string())
            .collect();
        Err(Issue {
            attribute: None,
            message: format!("entity `{uid}` is not in the inventory"),
            help: crate::suggest::closest(&uid.to_string(), same_type.iter().map(String::as_str))
                .map(|s| format!("did you mean `{s}`?"))
                .or_else(|| Some("add it to the entities file, or fix the name".into())),
        })
    }
}

/// The namespace of an action uid (`Aws` for `Aws::Action::"AssumeRole"`), empty for none.
fn namespace_of(action: &EntityUid) -> String {
    let ty = action.type_name().to_string();
    ty.strip_suffix("::Action").unwrap_or("").to_string()
}

/// The value of an impersonation attribute for a request behind `b`, if the declared type fits.
fn fill(name: &str, ty: &Value, b: Behind<'_>) -> Option<Value> {
    match name {
        IMPERSONATOR => {
            let declared = entity_type_of(ty)?;
            (b.origin.type_name() == &declared).then(|| entity_value(b.origin))
        }
        DELEGATION_CHAIN => {
            let declared = set_element_type_of(ty)?;
            b.chain
                .iter()
                .all(|u| u.type_name() == &declared)
                .then(|| Value::Array(b.chain.iter().map(entity_value).collect()))
        }
        _ => None,
    }
}

fn list_types(types: &[EntityTypeName]) -> String {
    if types.is_empty() {
        return "(none)".into();
    }
    types
        .iter()
        .map(|t| format!("`{t}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Cedar's multi-line messages on one line, for reports.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Engine {
    /// Every policy, link and template id.
    pub fn policy_ids(&self) -> impl Iterator<Item = &str> {
        self.policy_id_list.iter().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::example;

    fn uid(s: &str) -> EntityUid {
        s.parse().unwrap()
    }

    #[test]
    fn packed_chains_give_back_each_chain_empty_ones_too() {
        let mut chains = Chains::with_capacity(4, 0);
        for c in [&[3, 1][..], &[], &[7], &[]] {
            chains.push(c);
        }
        let back: Vec<&[u32]> = (0..chains.len()).map(|k| chains.get(k)).collect();
        assert_eq!(back, [&[3, 1][..], &[], &[7], &[]]);
        let reach = NumberedReach::new(vec![(9, vec![4, 9]), (2, vec![2])]);
        let pairs: Vec<(u32, &[u32])> = reach.iter().collect();
        assert_eq!(pairs, [(2, &[2][..]), (9, &[4, 9][..])]);
    }

    fn ctx() -> ContextMap {
        serde_json::from_str(r#"{"duration_minutes": 30, "mfa": true, "justification": "CHG-12"}"#)
            .unwrap()
    }

    #[test]
    fn impersonator_is_filled_only_when_the_type_fits() {
        let ty = serde_json::json!({"type": "Entity", "name": "User"});
        let chain = [uid(r#"ServiceAccount::"a""#)];
        let person = uid(r#"User::"p""#);
        let agent = uid(r#"Agent::"bot""#);
        let filled = fill(
            IMPERSONATOR,
            &ty,
            Behind {
                origin: &person,
                chain: &chain,
            },
        );
        assert_eq!(filled, Some(entity_value(&person)));
        assert_eq!(
            fill(
                IMPERSONATOR,
                &ty,
                Behind {
                    origin: &agent,
                    chain: &chain
                }
            ),
            None
        );
    }

    #[test]
    fn delegation_chain_is_filled_only_when_every_member_fits() {
        let ty = serde_json::json!({"type": "Set", "element": {"type": "Entity", "name": "ServiceAccount"}});
        let p = uid(r#"User::"p""#);
        let good = [uid(r#"ServiceAccount::"a""#), uid(r#"ServiceAccount::"b""#)];
        let filled = fill(
            DELEGATION_CHAIN,
            &ty,
            Behind {
                origin: &p,
                chain: &good,
            },
        )
        .unwrap();
        assert_eq!(filled.as_array().map(Vec::len), Some(2));
        let mixed = [uid(r#"ServiceAccount::"a""#), uid(r#"Agent::"b""#)];
        assert_eq!(
            fill(
                DELEGATION_CHAIN,
                &ty,
                Behind {
                    origin: &p,
                    chain: &mixed
                }
            ),
            None
        );
    }

    #[test]
    fn context_is_trimmed_to_what_the_action_declares() {
        let ws = example();
        let mut c = ctx();
        c.insert("unrelated".into(), serde_json::json!(1));
        let p = ws.engine.prepare(
            &uid(r#"User::"alice""#),
            &uid(r#"Action::"getAccessToken""#),
            &uid(r#"ServiceAccount::"prod-deployer""#),
            &c,
            None,
        );
        assert!(p.is_ok(), "{p:?}");
        c.remove("mfa");
        let err = ws
            .engine
            .prepare(
                &uid(r#"User::"alice""#),
                &uid(r#"Action::"getAccessToken""#),
                &uid(r#"ServiceAccount::"prod-deployer""#),
                &c,
                None,
            )
            .unwrap_err();
        assert!(err.contains("`mfa` is required"), "{err}");
    }

    #[test]
    fn a_chain_is_allowed_hop_by_hop() {
        let ws = example();
        let e = &ws.engine;
        let carol = uid(r#"User::"carol""#);
        let chain = [
            uid(r#"ServiceAccount::"ci-runner""#),
            uid(r#"ServiceAccount::"prod-deployer""#),
        ];
        let hops = e.prepare_chain(&carol, &chain, &ctx()).unwrap();
        let outcomes: Vec<HopOutcome> = hops.iter().map(|h| e.evaluate_hop(h)).collect();
        assert!(outcomes.iter().all(|h| h.allowed));
        assert_eq!(
            outcomes[1].evaluations[0].reasons,
            vec!["ci-runner-deploys".to_string()]
        );
        // The acting-as request carries carol as impersonator, so the deploy forbid does not fire.
        let acting = e
            .prepare(
                &chain[1],
                &uid(r#"Action::"deploy""#),
                &uid(r#"Cluster::"prod""#),
                &ctx(),
                Some(Behind {
                    origin: &carol,
                    chain: &chain,
                }),
            )
            .unwrap();
        assert!(e.evaluate(&acting).allowed);
        let alone = e
            .prepare(
                &chain[1],
                &uid(r#"Action::"deploy""#),
                &uid(r#"Cluster::"prod""#),
                &ctx(),
                Some(Behind {
                    origin: &chain[0],
                    chain: &chain[1..],
                }),
            )
            .unwrap();
        assert_eq!(
            e.evaluate(&alone).reasons,
            vec!["prod-deploy-needs-a-person".to_string()]
        );
    }

    #[test]
    fn shortest_chains_and_who_can_reach() {
        let ws = example();
        let reach = ws.engine.reach_from(&uid(r#"User::"carol""#), &ctx());
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
        let who: Vec<String> = ws
            .engine
            .who_can_reach(&uid(r#"ServiceAccount::"ci-runner""#), &ctx())
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(who, vec![r#"User::"carol""#, r#"User::"dave""#]);
    }

    #[test]
    fn template_ids_match_their_links() {
        let ws = example();
        assert!(ws
            .engine
            .reason_matches("token-creator", "carol-mints-ci-runner"));
        assert!(ws
            .engine
            .reason_matches("carol-mints-ci-runner", "carol-mints-ci-runner"));
        assert!(!ws
            .engine
            .reason_matches("agent-token-creator", "carol-mints-ci-runner"));
        assert_eq!(
            ws.engine.template_of("token-creator#1"),
            Some("token-creator")
        );
    }
}
