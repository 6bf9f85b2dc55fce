//! `actas can --format json`.

#[allow(
    unused_imports,
    reason = "one shared import list for the document modules"
)]
use super::*;
use crate::commands::can::CanResult;
use crate::core::ids::{PolicyId, ProfileName};

/// `actas can --format json`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CanDoc {
    pub version: u32,
    pub principal: String,
    pub target: String,
    /// `--action` and `--resource`, when asked.
    pub action: Option<String>,
    pub resource: Option<String>,
    /// Yes under at least one profile (the exit code: 0 yes, 1 no).
    pub allowed: bool,
    pub max_chain: u32,
    /// The answer under each selected profile, in profile order.
    pub profiles: Vec<CanProfileDoc>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CanProfileDoc {
    pub profile: ProfileName,
    pub allowed: bool,
    /// The shortest chain to the target (the target last), empty when none reaches it.
    pub chain: Vec<String>,
    /// Each hop of `chain` with the policies that allow it.
    pub steps: Vec<StepDoc>,
    /// The request made as the target (with `--action`/`--resource`, once it is reached).
    pub request: Option<EvaluationDoc>,
    /// What blocks it, in words; null when allowed.
    pub blocked: Option<String>,
    /// The forbids that determine the denial (empty: no permit matched, or allowed).
    pub forbids: Vec<PolicyId>,
}

pub fn can_doc(r: &CanResult) -> CanDoc {
    CanDoc {
        version: VERSION,
        principal: r.principal.to_string(),
        target: r.target.to_string(),
        action: r.action.as_ref().map(ToString::to_string),
        resource: r.resource.as_ref().map(ToString::to_string),
        allowed: r.allowed(),
        max_chain: r.max_chain,
        profiles: r
            .answers
            .iter()
            .map(|a| {
                let steps = a
                    .hops
                    .iter()
                    .map(|h| StepDoc {
                        from: h.from.to_string(),
                        to: h.to.to_string(),
                        actions: h.actions.iter().map(ToString::to_string).collect(),
                        policies: h.policies.to_vec(),
                    })
                    .collect();
                CanProfileDoc {
                    profile: a.profile.clone(),
                    allowed: a.allowed,
                    chain: a.chain.iter().map(ToString::to_string).collect(),
                    steps,
                    request: a.request.as_ref().map(evaluation),
                    blocked: (!a.allowed).then(|| a.blocked.clone()),
                    forbids: a.forbids.clone(),
                }
            })
            .collect(),
    }
}
