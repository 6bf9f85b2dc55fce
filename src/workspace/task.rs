//! Task files for `actas suffice` (DESIGN §3): one task per file, the identity that runs it
//! (a principal, optionally through an impersonation chain), its context, and its steps.
//!
//! ```yaml
//! name: nightly release
//! principal: User::"alice"
//! impersonate: ServiceAccount::"prod-deployer"   # or chain: [A, B]
//! context: { duration_minutes: 30, mfa: true, justification: "CHG-12" }
//! steps:
//!   - { action: Action::"read", resource: Bucket::"artifacts" }
//!   - { action: Action::"deploy", resource: Cluster::"prod", context: { justification: "CHG-13" } }
//! ```
//! A step's `context` is merged over the task's (shallow; `null` removes a key). Everything is
//! checked before anything runs, with the place in the file.

use std::collections::BTreeMap;
use std::sync::Arc;

use cedar_policy::EntityUid;
use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::Spanned;

use crate::core::diag::{Problem, SourceFile};
use crate::engine::{Behind, ContextMap, Engine, Prepared, PreparedHop};
use crate::workspace::scenario::{Checker, Sourced};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskDoc {
    name: Spanned<String>,
    principal: Spanned<Value>,
    impersonate: Option<Spanned<Value>>,
    chain: Option<Spanned<Vec<Spanned<Value>>>>,
    context: Option<Spanned<BTreeMap<String, Spanned<Value>>>>,
    steps: Spanned<Vec<Spanned<StepDoc>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepDoc {
    action: Spanned<Value>,
    resource: Spanned<Value>,
    context: Option<Spanned<BTreeMap<String, Spanned<Value>>>>,
}

/// A checked task, its requests prepared.
#[derive(Debug, Clone)]
pub struct Task {
    pub file: String,
    pub name: String,
    pub principal: EntityUid,
    /// The accounts impersonated, in order (empty: the principal acts itself).
    pub chain: Vec<EntityUid>,
    /// The task's context (before step overrides).
    pub context: ContextMap,
    pub hops: Vec<PreparedHop>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub request: Prepared,
}

impl Task {
    /// The identity the steps run as: the chain's last account, else the principal.
    pub fn acting(&self) -> &EntityUid {
        self.chain.last().unwrap_or(&self.principal)
    }

    /// Who is behind the acting identity, for acting-as requests.
    pub fn behind(&self) -> Option<Behind<'_>> {
        (!self.chain.is_empty()).then_some(Behind {
            origin: &self.principal,
            chain: &self.chain,
        })
    }
}

/// A step's checked action and resource, its merged context, and where that context is written.
type StepParts = (
    EntityUid,
    EntityUid,
    Sourced,
    Option<serde_saphyr::Location>,
);

const TASK_MISSING_HELP: &str = "set it in the task's `context` or the step's";

/// The accounts a task acts through, as written: `impersonate` or `chain`, not both, and no
/// longer than `max_chain`.
fn chain_values<'d>(c: &mut Checker<'_>, doc: &'d TaskDoc) -> Vec<&'d Spanned<Value>> {
    let engine = c.engine;
    match (&doc.impersonate, &doc.chain) {
        (Some(_), Some(ch)) => {
            c.problem(
                &ch.referenced,
                "a task has both `impersonate` and `chain`; use one",
            );
            Vec::new()
        }
        (Some(i), None) => vec![i],
        (None, Some(ch)) => {
            let max = engine.max_chain as usize;
            if ch.value.len() > max {
                c.problem(
                    &ch.referenced,
                    format!(
                        "chain of {} hops is longer than `max_chain` ({max})",
                        ch.value.len()
                    ),
                );
            }
            ch.value.iter().collect()
        }
        (None, None) => Vec::new(),
    }
}

/// Reads and checks one task file.
pub fn load(engine: &Engine, file: &Arc<SourceFile>) -> Result<Task, Vec<Problem>> {
    let doc = crate::core::yaml::read::<TaskDoc>(file).map_err(|p| vec![*p])?;
    let mut c = Checker {
        engine,
        file,
        problems: Vec::new(),
    };
    let principal = c.entity(&doc.principal);
    let chain_values = chain_values(&mut c, &doc);
    let chain: Vec<Option<EntityUid>> = chain_values.iter().map(|v| c.entity(v)).collect();
    if doc.steps.value.is_empty() {
        c.problem(&doc.steps.referenced, "a task needs at least one step");
    }
    let base: Sourced = doc
        .context
        .as_ref()
        .map(|x| x.value.clone())
        .unwrap_or_default();
    let block = doc.context.as_ref().map(|x| x.referenced);
    let steps: Vec<Option<StepParts>> = doc
        .steps
        .value
        .iter()
        .map(|s| {
            let action = c.action(&s.value.action);
            let resource = c.entity(&s.value.resource);
            let mut ctx = base.clone();
            if let Some(over) = &s.value.context {
                for (k, v) in &over.value {
                    if v.value.is_null() {
                        ctx.remove(k);
                    } else {
                        ctx.insert(k.clone(), v.clone());
                    }
                }
            }
            let at = s.value.context.as_ref().map(|x| x.referenced).or(block);
            Some((action?, resource?, ctx, at))
        })
        .collect();
    let (Some(principal), Some(chain)) = (principal, chain.into_iter().collect::<Option<Vec<_>>>())
    else {
        return Err(c.problems);
    };
    if !c.problems.is_empty() {
        return Err(c.problems);
    }

    // The chain's hops under the task's context.
    let mut hop_actions: Vec<EntityUid> = Vec::new();
    let mut from = &principal;
    for to in &chain {
        hop_actions.extend(engine.hop_actions(from, to).into_iter().cloned());
        from = to;
    }
    let mut declaring = hop_actions.clone();
    declaring.extend(steps.iter().flatten().map(|(a, ..)| a.clone()));
    let context = c.check_context(
        &base,
        &declaring,
        Some(&hop_actions),
        doc.name.referenced,
        block,
        TASK_MISSING_HELP,
    );
    let hops =
        context
            .as_ref()
            .and_then(|ctx| match engine.prepare_chain(&principal, &chain, ctx) {
                Ok(h) => Some(h),
                Err(e) => {
                    let at = doc
                        .chain
                        .as_ref()
                        .map(|x| x.referenced)
                        .or(doc.impersonate.as_ref().map(|x| x.referenced))
                        .unwrap_or(doc.principal.referenced);
                    c.problem(&at, e);
                    None
                }
            });
    let acting = chain.last().unwrap_or(&principal).clone();
    let behind = (!chain.is_empty()).then_some(Behind {
        origin: &principal,
        chain: &chain,
    });
    let mut prepared = Vec::new();
    for (step, doc_step) in steps.into_iter().zip(&doc.steps.value) {
        let Some((action, resource, ctx, at)) = step else {
            continue;
        };
        // The task's context also feeds the hops: their attributes are not foreign to a step.
        let mut declaring = vec![action.clone()];
        declaring.extend(hop_actions.iter().cloned());
        let Some(values) = c.check_context(
            &ctx,
            &declaring,
            Some(std::slice::from_ref(&action)),
            doc_step.referenced,
            at,
            TASK_MISSING_HELP,
        ) else {
            continue;
        };
        match engine.prepare(&acting, &action, &resource, &values, behind) {
            Ok(request) => prepared.push(Step { request }),
            Err(e) => {
                c.problem(&doc_step.value.action.referenced, e);
            }
        }
    }
    match (c.problems.is_empty(), hops, context) {
        (true, Some(hops), Some(context)) => Ok(Task {
            file: file.path.clone(),
            name: doc.name.value,
            principal,
            chain,
            context,
            hops,
            steps: prepared,
        }),
        _ => Err(c.problems),
    }
}
