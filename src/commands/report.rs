//! `actas report`: the whole can-impersonate matrix, per profile, summary figures first.

use crate::analysis::access::{self, Query};
use crate::analysis::profiles;
use crate::analysis::summary::{summarize, Summary};
use crate::commands::who_can::{ProfileOptions, WhoCanResult};
use crate::diag::Problem;
use crate::workspace::Workspace;

#[derive(Debug, Clone)]
pub struct ReportResult {
    /// The paths, profiles and policies, as `who-can` has them for one account.
    pub matrix: WhoCanResult,
    pub summary: Summary,
}

pub fn run(ws: &Workspace, opts: &ProfileOptions) -> Result<ReportResult, Vec<Problem>> {
    let profiles = profiles::select(ws, &opts.names, opts.adhoc.as_ref())?;
    let access = access::compute(&ws.engine, &profiles, &Query::All);
    let summary = summarize(&ws.engine, &access, &ws.human_types);
    Ok(ReportResult {
        matrix: WhoCanResult {
            policies: crate::analysis::policies_used(ws, &access),
            query: Query::All,
            access,
            max_chain: ws.engine.max_chain,
            human_types: ws.human_types.clone(),
        },
        summary,
    })
}
