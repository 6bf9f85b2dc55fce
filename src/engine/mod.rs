//! The evaluator: hops, chains, acting-as requests and plain requests, on one shared
//! `Authorizer`, `PolicySet` and `Entities`, read-only across rayon workers.
//!
//! Rules (DESIGN §6): a request gets the context trimmed to the attributes its action declares;
//! a request whose principal was reached by impersonation also gets `impersonator` (the origin)
//! and `delegation_chain` (the accounts so far, current principal included) where its action
//! declares them and the values fit the declared types. A hop tries every configured
//! impersonation action that fits and is allowed when any allows.

use cedar_policy::{Authorizer, Entities, EntityTypeName, EntityUid, PolicySet, Request, Schema};
mod checks;
mod evaluate;
mod explain;
mod memo;
pub use explain::FailingPart;
pub mod probes;
mod request;
pub(crate) mod slice;

pub use request::Behind;

use serde_json::{Map, Value};

use crate::core::catalogue::Catalogue;
use crate::core::ids::PolicyId;
use crate::core::schema::{ActionInfo, SchemaInfo};
use crate::engine::slice::Slicer;

/// The attribute that names the original identity behind an impersonated request.
pub const IMPERSONATOR: &str = "impersonator";
/// The attribute that lists the accounts of the delegation chain so far.
pub const DELEGATION_CHAIN: &str = "delegation_chain";

/// A context as written: attribute name to a value in Cedar's JSON form.
pub type ContextMap = Map<String, Value>;

/// One evaluated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub principal: EntityUid,
    pub action: EntityUid,
    pub resource: EntityUid,
    pub allowed: bool,
    /// Determining policy ids, sorted.
    pub reasons: Vec<PolicyId>,
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
    pub fn policies(&self) -> Vec<PolicyId> {
        let mut policies: Vec<PolicyId> = self
            .evaluations
            .iter()
            .filter(|e| e.allowed)
            .flat_map(|e| e.reasons.iter().cloned())
            .collect();
        policies.sort();
        policies.dedup();
        policies
    }

    /// The determining policies of the denying requests (the forbids that fired), sorted,
    /// without repeats; empty when no forbid decides (no permit matched) or the hop is allowed
    /// by every request.
    pub fn forbids(&self) -> Vec<PolicyId> {
        let mut forbids: Vec<PolicyId> = self
            .evaluations
            .iter()
            .filter(|e| !e.allowed)
            .flat_map(|e| e.reasons.iter().cloned())
            .collect();
        forbids.sort();
        forbids.dedup();
        forbids
    }
}

/// Whether `e` may read context attribute `name`: it tests or reads it, or uses `context` other
/// than through one of its attributes (`context == …` reads everything).
fn reads_context_attribute(e: &cedar_policy_core::ast::Expr, name: &str) -> bool {
    use cedar_policy_core::ast::ExprKind;
    let names_it = |x: &cedar_policy_core::ast::Expr| match x.expr_kind() {
        ExprKind::GetAttr { expr, attr } | ExprKind::HasAttr { expr, attr } => {
            is_context(expr) && attr.as_str() == name
        }
        ExprKind::ExtHasAttr { expr, attrs } => is_context(expr) && attrs.first().as_str() == name,
        _ => false,
    };
    e.subexpressions().any(names_it) || uses_whole_context(e)
}

fn is_context(x: &cedar_policy_core::ast::Expr) -> bool {
    use cedar_policy_core::ast::{ExprKind, Var};
    matches!(x.expr_kind(), ExprKind::Var(Var::Context))
}

/// Whether `e` uses `context` other than through one of its attributes (`context == …`), and
/// so can see every context value.
pub(crate) fn uses_whole_context(e: &cedar_policy_core::ast::Expr) -> bool {
    use cedar_policy_core::ast::ExprKind;
    let (mut uses, mut through_attributes) = (0usize, 0usize);
    for x in e.subexpressions() {
        match x.expr_kind() {
            ExprKind::GetAttr { expr, .. }
            | ExprKind::HasAttr { expr, .. }
            | ExprKind::ExtHasAttr { expr, .. }
                if is_context(expr) =>
            {
                through_attributes += 1;
            }
            _ if is_context(x) => uses += 1,
            _ => {}
        }
    }
    uses > through_attributes
}

/// The public API's uid for one of Cedar's internal uids (policy ASTs hold the latter).
pub fn to_api(e: &cedar_policy_core::ast::EntityUID) -> Option<EntityUid> {
    e.to_string().parse().ok()
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
    /// Every policy, link and template, so a template id in `reasons` matches its links.
    pub catalogue: Catalogue,
    /// Per-request policy slices (see `slice.rs`).
    slicer: Slicer,
    /// Contexts already parsed (see [`Engine::context_for`]).
    contexts: request::ContextMemo,
    /// Contexts already checked (see [`Engine::check_context`]).
    checked: checks::CheckMemo,
    /// [`Engine::impersonators`] and [`Engine::impersonable`], sorted once: every analysis
    /// asks, and sorting 10,000 uids by their strings is tens of milliseconds each time.
    impersonators: std::sync::OnceLock<Vec<EntityUid>>,
    impersonable: std::sync::OnceLock<Vec<EntityUid>>,
}

/// A policy set with its [`Slicer`] (an index of the policies' scopes), made before the
/// engine, so the workspace's loader can make it while the inventory is still being read.
pub struct SlicedPolicies {
    set: PolicySet,
    slicer: Slicer,
}

impl From<PolicySet> for SlicedPolicies {
    fn from(set: PolicySet) -> Self {
        Self {
            slicer: Slicer::new(&set),
            set,
        }
    }
}

impl Engine {
    pub fn new(
        schema: Schema,
        info: SchemaInfo,
        policies: impl Into<SlicedPolicies>,
        entities: Entities,
        actions: Vec<EntityUid>,
        max_chain: u32,
        catalogue: Catalogue,
    ) -> Self {
        let SlicedPolicies { set, slicer } = policies.into();
        Self {
            slicer,
            schema,
            info,
            policies: set,
            entities,
            authorizer: Authorizer::new(),
            actions,
            max_chain,
            catalogue,
            contexts: request::ContextMemo::default(),
            checked: checks::CheckMemo::default(),
            impersonators: std::sync::OnceLock::new(),
            impersonable: std::sync::OnceLock::new(),
        }
    }

    /// The same inventory and settings with another policy set (what-if analyses).
    pub fn with_policies(&self, policies: PolicySet, catalogue: Catalogue) -> Self {
        Self::new(
            self.schema.clone(),
            self.info.clone(),
            policies,
            self.entities.clone(),
            self.actions.clone(),
            self.max_chain,
            catalogue,
        )
    }

    /// The same policies and settings with `extra` entities added to the inventory (a scenario
    /// file's own `entities:`); an entity the inventory already has is an error, so a case never
    /// silently changes what the inventory says.
    pub fn with_more_entities(&self, extra: Vec<cedar_policy::Entity>) -> Result<Self, String> {
        if let Some(e) = extra.iter().find(|e| self.contains(&e.uid())) {
            return Err(format!(
                "entity `{}` is already in the inventory; a scenario file may only add entities",
                e.uid()
            ));
        }
        let entities = self
            .entities
            .clone()
            .add_entities(extra, Some(&self.schema))
            .map_err(|e| e.to_string())?;
        Ok(Self::new(
            self.schema.clone(),
            self.info.clone(),
            self.policies.clone(),
            entities,
            self.actions.clone(),
            self.max_chain,
            self.catalogue.clone(),
        ))
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

    /// Whether some policy may read `context.delegation_chain` (or the context as a whole).
    /// When none does, a hop's decision depends on the path behind it only through the origin
    /// (`impersonator`) and whether it is the first hop, so reach is a breadth-first search per
    /// origin rather than an enumeration of simple paths.
    /// Only templates whose action scope covers an impersonation action count: an acting-as
    /// policy that tests the chain does not make hops path-dependent.
    pub fn hops_read_the_chain(&self) -> bool {
        self.reads_the_chain(&self.actions)
    }

    /// Policy `i` (the slicer's order) as Cedar's syntax tree, for the analyses that read its
    /// condition (`None` cannot happen: the slicer's policies are the set's).
    pub fn policy_ast(&self, i: usize) -> Option<&cedar_policy_core::ast::Policy> {
        let id = self.slicer().policy(i).id();
        let set: &cedar_policy_core::ast::PolicySet = self.policies.as_ref();
        set.get(&cedar_policy_core::ast::PolicyID::from_string(
            AsRef::<str>::as_ref(id),
        ))
    }

    /// Whether policy `i` (the slicer's order) may read who is behind a request:
    /// `context.impersonator`, `context.delegation_chain`, or the context as a whole. Where no
    /// such policy applies, an acting-as request decides as the account's own.
    pub fn reads_behind(&self, i: usize) -> bool {
        self.policy_ast(i).is_none_or(|p| {
            let condition = p.condition();
            reads_context_attribute(&condition, IMPERSONATOR)
                || reads_context_attribute(&condition, DELEGATION_CHAIN)
        })
    }

    /// Whether some policy whose action scope covers one of `actions` may read
    /// `context.delegation_chain`.
    pub fn reads_the_chain(&self, actions: &[EntityUid]) -> bool {
        let set: &cedar_policy_core::ast::PolicySet = self.policies.as_ref();
        set.all_templates().any(|t| {
            actions
                .iter()
                .any(|a| self.scope_covers_action(t.action_constraint(), a))
                && reads_context_attribute(&t.condition(), DELEGATION_CHAIN)
        })
    }

    /// Whether an action scope covers `action` (action groups through the entity store).
    pub fn scope_covers_action(
        &self,
        scope: &cedar_policy_core::ast::ActionConstraint,
        action: &EntityUid,
    ) -> bool {
        use cedar_policy_core::ast::ActionConstraint;
        match scope {
            ActionConstraint::Any => true,
            ActionConstraint::Eq(e) => to_api(e).as_ref() == Some(action),
            ActionConstraint::In(list) => list
                .iter()
                .filter_map(|e| to_api(e))
                .any(|e| &e == action || self.entities.is_ancestor_of(&e, action)),
            #[allow(
                unreachable_patterns,
                reason = "cedar's tolerant-ast feature adds a variant"
            )]
            _ => false,
        }
    }

    /// Whether `id` (a policy, link or template id) names `determining`, a determining policy.
    pub fn reason_matches(&self, id: &str, determining: &str) -> bool {
        self.catalogue.reason_matches(id, determining)
    }

    /// Every policy, link and template id.
    pub fn policy_ids(&self) -> impl Iterator<Item = &str> + Clone {
        self.catalogue.ids()
    }

    /// Inventory identities that may be principals of an impersonation action, sorted.
    pub fn impersonators(&self) -> Vec<EntityUid> {
        let sorted = self
            .impersonators
            .get_or_init(|| self.inventory_of(&self.impersonator_types()));
        sorted.clone()
    }

    /// Inventory identities of an impersonable type, sorted.
    pub fn impersonable(&self) -> Vec<EntityUid> {
        let sorted = self
            .impersonable
            .get_or_init(|| self.inventory_of(&self.impersonable_types()));
        sorted.clone()
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
        use rayon::prelude::*;
        let all: Vec<&cedar_policy::Entity> = self.entities.iter().collect();
        let mut out: Vec<(String, EntityUid)> = all
            .par_iter()
            .map(|e| e.uid())
            .filter(|u| types.contains(u.type_name()))
            .map(|u| (u.to_string(), u))
            .collect();
        out.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
        out.into_iter().map(|(_, u)| u).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::example;
    use crate::workspace::test_support::{ctx, uid};

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
            ws.engine.catalogue.template_of("token-creator#1"),
            Some("token-creator")
        );
    }
}
