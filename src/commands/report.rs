//! `actas report`: the whole can-impersonate matrix, per profile, summary figures first.
//!
//! The paths are kept compact ([`Reached`]) and made, hops explained, as a renderer writes
//! them: a large inventory has millions.

use std::collections::BTreeMap;

use crate::analysis::access::{Query, Reached};
use crate::analysis::summary::{summarize, Summary};
use crate::analysis::why_not::Explainer;
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
    /// `impersonation.actions`, as uids.
    pub impersonation_actions: Vec<String>,
    /// Whether some hop is allowed by more than one impersonation action.
    pub several_actions: bool,
    pub max_chain: u32,
    pub human_types: Vec<String>,
    /// Why paths do not hold under the profiles they miss (asked as the paths are written);
    /// `None` past [`EXPLAINED_PATHS`] paths.
    pub explainer: Option<Explainer<'w>>,
    /// Remarks on what the report leaves out.
    pub notes: Vec<String>,
    /// What the report was made from and by what.
    pub provenance: crate::workspace::provenance::Provenance,
}

/// What `report --verify` found.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The report still describes the workspace.
    pub current: bool,
    pub text: String,
}

/// `actas report --verify REPORT`: reads the provenance of a JSON report (its `provenance`) or
/// an HTML one (its `actas-provenance` script block) and compares the recorded SHA-256 of each
/// input with the file now.
pub fn verify(
    ws: &Workspace,
    root: &std::path::Path,
    path: &std::path::Path,
) -> Result<Verdict, Vec<Problem>> {
    use crate::workspace::provenance::Provenance;
    let display = crate::core::files::display_path(root, &root.join(path));
    let text = crate::core::files::read_text(&root.join(path))
        .map_err(|why| vec![Problem::new(format!("failed to read `{display}`: {why}"))])?;
    const OPEN: &str = r#"<script type="application/json" id="actas-provenance">"#;
    let json = match text.find(OPEN) {
        Some(i) => {
            let rest = &text[i + OPEN.len()..];
            rest[..rest.find("</script>").unwrap_or(rest.len())].to_string()
        }
        None => text.clone(),
    };
    let value: serde_json::Value = serde_json::from_str(&json).map_err(|e| {
        vec![Problem::new(format!(
            "`{display}` is neither a JSON report nor an HTML report of actas: {e}"
        ))
        .with_help(
            "verify the report as written by `actas report --format json` or `--format html`",
        )]
    })?;
    let recorded = value.get("provenance").unwrap_or(&value).clone();
    let recorded: Provenance = serde_json::from_value(recorded).map_err(|e| {
        vec![Problem::new(format!("`{display}` carries no provenance actas can read: {e}"))
            .with_help("reports made before provenance (report format version 1) cannot be verified; make a new one")]
    })?;
    let changes = recorded.changes_to(&ws.record_provenance());
    let made = recorded
        .generated_at
        .as_ref()
        .map(|t| format!(", made at {t}"))
        .unwrap_or_default();
    let mut out = String::new();
    if changes.is_empty() {
        out.push_str(&format!(
            "`{display}` still describes this workspace: its {} inputs are unchanged (SHA-256 of the set {}){made}\n",
            recorded.inputs.len(),
            recorded.inputs_sha256
        ));
    } else {
        out.push_str(&format!(
            "`{display}` no longer describes this workspace{made}:\n"
        ));
        for c in &changes {
            out.push_str(&format!("  - {c}\n"));
        }
    }
    Ok(Verdict {
        current: changes.is_empty(),
        text: out,
    })
}

/// Up to this many paths, every path missing a profile says why; past it none does (each
/// explanation evaluates hops: 1.8 million paths under three profiles took 147 s instead of 16).
/// `who-can` and `can` explain whatever the size.
pub const EXPLAINED_PATHS: usize = 20_000;

pub fn run<'w>(ws: &'w Workspace, opts: &ProfileOptions) -> Result<ReportResult<'w>, Vec<Problem>> {
    let profiles = profiles::select(ws, &opts.names, opts.adhoc.as_ref())?;
    let reached = Reached::compute(&ws.engine, &profiles, &Query::All);
    let summary = summarize(&ws.engine, &reached, &ws.human_types);
    let used = reached.hops_used();
    let explain = reached.len() <= EXPLAINED_PATHS;
    let notes = if explain || profiles.len() < 2 {
        Vec::new()
    } else {
        vec![format!(
            "{} paths: past {EXPLAINED_PATHS}, paths missing a profile do not say why; `actas who-can ACCOUNT` or `actas can` does for one account",
            reached.len()
        )]
    };
    Ok(ReportResult {
        explainer: explain
            .then(|| Explainer::new(&ws.engine, profiles.clone(), reached.matrices())),
        notes,
        // The permits that allow a hop, and every forbid that guards one (those that decide a
        // path's absence under a profile among them), text and all.
        policies: policy_infos(
            ws,
            used.policies
                .iter()
                .chain(&ws.engine.impersonation_forbids())
                .map(PolicyId::as_str),
        ),
        several_actions: used.several_actions,
        reached,
        summary,
        impersonation_actions: ws.engine.actions.iter().map(ToString::to_string).collect(),
        max_chain: ws.engine.max_chain,
        human_types: ws.human_types.clone(),
        provenance: ws.report_provenance(),
    })
}
