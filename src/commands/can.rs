//! `actas can PRINCIPAL TARGET`: a yes/no answer, as `kubectl auth can-i --as` gives one. Yes
//! under a profile when PRINCIPAL reaches TARGET within `max_chain` hops (with `--action` and
//! `--resource`: and the request made as TARGET at the end of that shortest chain is allowed);
//! the answer is yes when it is yes under at least one selected profile (exit 0), no otherwise
//! (exit 1). For a no, each profile says what blocks it: the forbids that deny the direct hop
//! (or the acting-as request), or that no permit allows it.

use cedar_policy::EntityUid;

use crate::analysis::access::{self, Hop, Query};
use crate::analysis::profiles::{self, Profile};
use crate::commands::who_can::{inventory_arg, parse_query_as, uid_arg, ProfileOptions};
use crate::core::diag::Problem;
use crate::core::ids::{PolicyId, ProfileName};
use crate::engine::{Behind, Engine, Evaluation};
use crate::workspace::Workspace;

/// What the question asks beyond reaching the account.
#[derive(Debug, Clone, Default)]
pub struct CanOptions {
    pub profiles: ProfileOptions,
    /// `--action` and `--resource`: a request made while acting as the target.
    pub request: Option<(String, String)>,
}

/// The answer under one profile.
#[derive(Debug, Clone)]
pub struct ProfileAnswer {
    pub profile: ProfileName,
    pub allowed: bool,
    /// The shortest chain (the target last) and each hop's actions and policies, when it
    /// reaches.
    pub chain: Vec<EntityUid>,
    pub hops: Vec<Hop>,
    /// With `--action`/`--resource`, once the target is reached: the acting-as request.
    pub request: Option<Evaluation>,
    /// Why not, in words (empty when allowed).
    pub blocked: String,
    /// The forbids that determine the denial (empty: no permit matched, or allowed).
    pub forbids: Vec<PolicyId>,
}

#[derive(Debug, Clone)]
pub struct CanResult {
    pub principal: EntityUid,
    pub target: EntityUid,
    pub action: Option<EntityUid>,
    pub resource: Option<EntityUid>,
    pub max_chain: u32,
    pub answers: Vec<ProfileAnswer>,
}

impl CanResult {
    /// Yes under at least one selected profile.
    pub fn allowed(&self) -> bool {
        self.answers.iter().any(|a| a.allowed)
    }
}

/// `--action`: an action of the schema (did-you-mean when not).
fn action_arg(ws: &Workspace, text: &str) -> Result<EntityUid, Vec<Problem>> {
    let uid = uid_arg(text, "--action", r#"Action::"deploy""#)?;
    if ws.engine.action(&uid).is_some() {
        return Ok(uid);
    }
    let actions: Vec<String> = ws
        .engine
        .schema_actions()
        .iter()
        .map(ToString::to_string)
        .collect();
    Err(vec![Problem::new(format!(
        "--action: `{uid}` is not an action of the schema"
    ))
    .with_help(
        crate::core::suggest::did_you_mean(&uid.to_string(), actions.iter().map(String::as_str))
            .unwrap_or_else(|| format!("the schema's actions: {}", actions.join(", "))),
    )])
}

/// `--resource`: an entity of the inventory.
fn resource_arg(ws: &Workspace, text: &str) -> Result<EntityUid, Vec<Problem>> {
    let uid = uid_arg(text, "--resource", r#"Cluster::"prod""#)?;
    inventory_arg(ws, &uid, "--resource")?;
    Ok(uid)
}

pub fn run(
    ws: &Workspace,
    principal: &str,
    target: &str,
    opts: &CanOptions,
) -> Result<CanResult, Vec<Problem>> {
    let Query::Principal(principal) = parse_query_as(ws, principal, false, "PRINCIPAL")? else {
        return Err(vec![Problem::new("PRINCIPAL is not an identity")]);
    };
    let Query::Target(target) = parse_query_as(ws, target, true, "TARGET")? else {
        return Err(vec![Problem::new("TARGET is not an account")]);
    };
    let (action, resource) = match &opts.request {
        Some((a, r)) => (Some(action_arg(ws, a)?), Some(resource_arg(ws, r)?)),
        None => (None, None),
    };
    let profiles = profiles::select(ws, &opts.profiles.names, opts.profiles.adhoc.as_ref())?;
    let reached = access::compute(&ws.engine, &profiles, &Query::Principal(principal.clone()));
    let path = reached.paths.iter().find(|p| *p.target == target);
    let mut answers = Vec::new();
    for profile in &profiles {
        let route = path.and_then(|p| p.routes.iter().find(|r| r.profiles.contains(&profile.name)));
        let mut answer = ProfileAnswer {
            profile: profile.name.clone(),
            allowed: route.is_some(),
            chain: Vec::new(),
            hops: Vec::new(),
            request: None,
            blocked: String::new(),
            forbids: Vec::new(),
        };
        match route {
            Some(route) => {
                answer.chain = route.chain.iter().map(|u| (**u).clone()).collect();
                answer.hops.clone_from(&route.hops);
                if let (Some(a), Some(r)) = (&action, &resource) {
                    let e = acting_as(&ws.engine, profile, &principal, &answer.chain, a, r)
                        .map_err(|e| vec![Problem::new(e)])?;
                    if !e.allowed {
                        answer.allowed = false;
                        answer.forbids.clone_from(&e.reasons);
                        answer.blocked = denial("the request as the account", &e.reasons);
                    }
                    answer.request = Some(e);
                }
            }
            None => {
                let (forbids, why) = direct_hop(&ws.engine, profile, &principal, &target);
                answer.forbids = forbids;
                answer.blocked = format!(
                    "{why}; no chain of at most {} reaches it",
                    plural_hops(ws.engine.max_chain)
                );
            }
        }
        answers.push(answer);
    }
    Ok(CanResult {
        principal,
        target,
        action,
        resource,
        max_chain: ws.engine.max_chain,
        answers,
    })
}

fn plural_hops(n: u32) -> String {
    crate::core::diag::plural(n as usize, "hop", "hops")
}

fn denial(what: &str, forbids: &[PolicyId]) -> String {
    if forbids.is_empty() {
        format!("no permit allows {what}")
    } else {
        let list: Vec<String> = forbids.iter().map(|f| format!("`{f}`")).collect();
        format!("{what} is forbidden by {}", list.join(", "))
    }
}

/// The direct hop under `profile`: the forbids that deny it, and the words for it.
fn direct_hop(
    engine: &Engine,
    profile: &Profile,
    from: &EntityUid,
    to: &EntityUid,
) -> (Vec<PolicyId>, String) {
    match engine.prepare_chain(from, std::slice::from_ref(to), &profile.context) {
        Ok(hops) => {
            let forbids = hops
                .first()
                .map(|h| engine.evaluate_hop(h).forbids())
                .unwrap_or_default();
            let why = denial("the direct hop", &forbids);
            (forbids, why)
        }
        Err(e) => (Vec::new(), format!("the direct hop cannot be made: {e}")),
    }
}

/// The request `action` on `resource` made as the last account of `chain`.
fn acting_as(
    engine: &Engine,
    profile: &Profile,
    origin: &EntityUid,
    chain: &[EntityUid],
    action: &EntityUid,
    resource: &EntityUid,
) -> Result<Evaluation, String> {
    let Some(account) = chain.last() else {
        return Err("empty chain".into());
    };
    let prepared = engine.prepare(
        account,
        action,
        resource,
        &profile.context,
        Some(Behind { origin, chain }),
    )?;
    Ok(engine.evaluate(&prepared))
}
