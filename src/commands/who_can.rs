//! `actas who-can TARGET` and `actas who-can --principal P`: who can act as an account, or what
//! an identity can act as, per profile, with the shortest chain and the determining policies.

use std::collections::BTreeMap;

use cedar_policy::EntityUid;
use rayon::prelude::*;
use serde_json::Value;

use crate::analysis::access::{self, Access, Query};
use crate::analysis::profiles::{self, AdhocContext};
use crate::analysis::why_not::Explainer;
use crate::analysis::{policies_used, PolicyInfo};
use crate::core::diag::Problem;
use crate::core::ids::PolicyId;
use crate::core::uid::parse_uid;
use crate::workspace::Workspace;

/// Which profiles to run under.
#[derive(Debug, Default, Clone)]
pub struct ProfileOptions {
    /// `--profile` names (empty: all).
    pub names: Vec<String>,
    /// `--context` / `--context-file`.
    pub adhoc: Option<AdhocContext>,
}

/// Everything a renderer needs.
#[derive(Debug, Clone)]
pub struct WhoCanResult {
    pub query: Query,
    pub access: Access,
    pub policies: BTreeMap<String, PolicyInfo>,
    pub max_chain: u32,
    pub human_types: Vec<String>,
    /// What the answer was made from (the JSON format carries it).
    pub provenance: crate::workspace::provenance::Provenance,
    /// For each path of `access`, why it does not hold under the profiles it misses.
    pub why_not: Vec<Vec<crate::analysis::why_not::WhyNot>>,
}

impl WhoCanResult {
    /// The uid the question is about.
    pub fn subject(&self) -> Option<&EntityUid> {
        match &self.query {
            Query::Target(u) | Query::Principal(u) => Some(u),
            Query::All => None,
        }
    }
}

/// `TARGET` (or `--principal P`): checked against the inventory and the impersonation actions.
pub fn parse_query(ws: &Workspace, text: &str, is_target: bool) -> Result<Query, Vec<Problem>> {
    let what = if is_target { "TARGET" } else { "--principal" };
    parse_query_as(ws, text, is_target, what)
}

/// [`parse_query`], naming the argument `what` in messages.
pub fn parse_query_as(
    ws: &Workspace,
    text: &str,
    is_target: bool,
    what: &str,
) -> Result<Query, Vec<Problem>> {
    if ws.engine.actions.is_empty() {
        return Err(vec![Problem::new(
            "this question needs impersonation actions, and this workspace has none",
        )
        .with_help(
            "name them under `impersonation.actions` in actas.yaml (see the warning above)",
        )]);
    }
    // A bare id has neither `:` nor `"`; anything else is read as a uid (and a malformed one
    // is reported as such).
    let uid = if text.contains([':', '"']) {
        uid_arg(text, what, r#"ServiceAccount::"prod-deployer""#)?
    } else {
        bare_id(ws, text, is_target, what)?
    };
    inventory_arg(ws, &uid, what)?;
    let (types, cannot, side) = if is_target {
        (
            ws.engine.impersonable_types(),
            "cannot be impersonated",
            "resources",
        )
    } else {
        (
            ws.engine.impersonator_types(),
            "cannot impersonate",
            "principals",
        )
    };
    if !types.contains(uid.type_name()) {
        let actions: Vec<String> = ws.engine.actions.iter().map(|a| format!("`{a}`")).collect();
        let list: Vec<String> = types.iter().map(|t| format!("`{t}`")).collect();
        return Err(vec![Problem::new(format!(
            "{what}: `{uid}` {cannot}: the impersonation actions ({}) apply to {side} of type {}",
            actions.join(", "),
            list.join(", ")
        ))]);
    }
    Ok(if is_target {
        Query::Target(uid)
    } else {
        Query::Principal(uid)
    })
}

/// A uid given on the command line as argument `what`; `example` is offered when it does not
/// parse.
pub fn uid_arg(text: &str, what: &str, example: &str) -> Result<EntityUid, Vec<Problem>> {
    parse_uid(&Value::String(text.to_string())).map_err(|e| {
        vec![Problem::new(format!("{what}: {e}"))
            .with_help(format!("write a Cedar uid, e.g. '{example}'"))]
    })
}

/// Argument `what` names an entity of the inventory (or says which it is not, with its help).
pub fn inventory_arg(ws: &Workspace, uid: &EntityUid, what: &str) -> Result<(), Vec<Problem>> {
    ws.engine.known_entity(uid).map_err(|issue| {
        let mut p = Problem::new(format!("{what}: {}", issue.message));
        p.help = issue.help;
        vec![p]
    })
}

/// An entity's id as written.
fn id_of(uid: &EntityUid) -> &str {
    AsRef::<str>::as_ref(uid.id())
}

/// A bare id (`prod-deployer`) names the one inventory entity with that id among the types that
/// fit the argument (impersonable types for TARGET, impersonating types for `--principal`).
fn bare_id(
    ws: &Workspace,
    id: &str,
    is_target: bool,
    what: &str,
) -> Result<EntityUid, Vec<Problem>> {
    let types = if is_target {
        ws.engine.impersonable_types()
    } else {
        ws.engine.impersonator_types()
    };
    let fitting = ws.engine.inventory_of(&types);
    let found: Vec<&EntityUid> = fitting.iter().filter(|u| id_of(u) == id).collect();
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        [] => {
            let ids: Vec<&str> = fitting.iter().map(id_of).collect();
            let kinds: Vec<String> = types.iter().map(|t| format!("`{t}`")).collect();
            Err(vec![Problem::new(format!(
                "{what}: no entity of type {} in the inventory has the id `{id}`",
                kinds.join(", ")
            ))
            .with_help(
                crate::core::suggest::did_you_mean(id, ids.iter().copied()).map_or_else(
                    || r#"write a Cedar uid, e.g. 'ServiceAccount::"prod-deployer"'"#.to_string(),
                    |hint| format!("{hint} (or write a Cedar uid such as 'Type::\"id\"')"),
                ),
            )])
        }
        many => {
            let list: Vec<String> = many.iter().map(|u| format!("`{u}`")).collect();
            Err(vec![Problem::new(format!(
                "{what}: the id `{id}` is ambiguous: {}",
                list.join(", ")
            ))
            .with_help("write the whole uid of the one you mean")])
        }
    }
}

pub fn run(
    ws: &Workspace,
    query: Query,
    opts: &ProfileOptions,
) -> Result<WhoCanResult, Vec<Problem>> {
    let profiles = profiles::select(ws, &opts.names, opts.adhoc.as_ref())?;
    let reached = access::Reached::compute(&ws.engine, &profiles, &query);
    // Hops are decided by the profiles' matrices where there are some.
    let explainer = Explainer::new(&ws.engine, profiles.clone(), reached.matrices());
    let access = reached.into_access();
    let why_not: Vec<Vec<crate::analysis::why_not::WhyNot>> = access
        .paths
        .par_iter()
        .map(|p| explainer.why_not(p))
        .collect();
    // The forbids that keep a path from a profile are listed with the permits, text and all;
    // the matrices are freed meanwhile.
    let listed = || {
        let mut policies = policies_used(ws, &access);
        policies.extend(crate::analysis::policy_infos(
            ws,
            why_not
                .iter()
                .flatten()
                .flat_map(|w| w.forbids.iter().map(PolicyId::as_str)),
        ));
        policies
    };
    let (policies, ()) = rayon::join(listed, move || drop(explainer));
    Ok(WhoCanResult {
        provenance: ws.report_provenance(),
        why_not,
        policies,
        query,
        access,
        max_chain: ws.engine.max_chain,
        human_types: ws.human_types.clone(),
    })
}
