//! `actas report`: the whole can-impersonate matrix, per profile, summary figures first.
//!
//! The paths are kept compact ([`Reached`]) and made, hops explained, as a renderer writes
//! them: a large inventory has millions.

use std::collections::BTreeMap;

use crate::analysis::access::{Query, Reached};
use crate::analysis::summary::{summarize, Summary};
use crate::analysis::{policy_infos, profiles, PolicyInfo};
use crate::commands::who_can::ProfileOptions;
use crate::core::diag::Problem;
use crate::core::ids::PolicyId;
use crate::workspace::Workspace;

pub struct ReportResult<'w> {
    pub reached: Reached<'w>,
    pub summary: Summary,
    /// The policies that determine some hop, by id.
    pub policies: BTreeMap<String, PolicyInfo>,
    /// Whether some hop is allowed by more than one impersonation action.
    pub several_actions: bool,
    pub max_chain: u32,
    pub human_types: Vec<String>,
}

pub fn run<'w>(ws: &'w Workspace, opts: &ProfileOptions) -> Result<ReportResult<'w>, Vec<Problem>> {
    let profiles = profiles::select(ws, &opts.names, opts.adhoc.as_ref())?;
    let reached = Reached::compute(&ws.engine, &profiles, &Query::All);
    let summary = summarize(&ws.engine, &reached, &ws.human_types);
    let used = reached.hops_used();
    Ok(ReportResult {
        policies: policy_infos(ws, used.policies.iter().map(PolicyId::as_str)),
        several_actions: used.several_actions,
        reached,
        summary,
        max_chain: ws.engine.max_chain,
        human_types: ws.human_types.clone(),
    })
}
