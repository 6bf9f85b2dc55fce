//! `actas suffice --format json`.

#[allow(
    unused_imports,
    reason = "one shared import list for the document modules"
)]
use super::*;
use crate::core::ids::{PolicyId, ProfileName};

/// `actas suffice --format json`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SufficeDoc {
    pub version: u32,
    /// Every task sufficient (under the changed policies when there is a what-if).
    pub sufficient: bool,
    pub tasks: Vec<TaskDoc>,
    pub what_if: Option<WhatIfDoc>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskDoc {
    pub file: String,
    pub name: String,
    pub principal: String,
    pub chain: Vec<String>,
    /// The identity the steps run as.
    pub acting: String,
    pub sufficient: bool,
    /// The verdict before the what-if change; `null` without one.
    pub sufficient_before: Option<bool>,
    pub hops: Vec<HopDoc>,
    pub steps: Vec<EvaluationDoc>,
    /// Allowed requests of the acting identity the task never makes.
    pub excess: Vec<ExcessDoc>,
    pub excess_total: usize,
    /// Actions the excess could not cover, with why.
    pub excess_skipped: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExcessDoc {
    pub action: String,
    pub resource_type: String,
    pub count: usize,
    pub resources: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhatIfDoc {
    pub added_policies: Vec<PolicyId>,
    pub removed_policies: Vec<PolicyId>,
    /// Paths and grants over the whole inventory that the change adds / removes.
    pub gained: Vec<ChangeDoc>,
    pub lost: Vec<ChangeDoc>,
}

/// A path (`kind: "path"`: principal, target, chain) or a grant (`kind: "grant"`: principal,
/// acting_as or null, action, resource) under one profile, with its determining policies.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeDoc {
    pub profile: ProfileName,
    pub kind: String,
    pub principal: String,
    pub target: Option<String>,
    pub chain: Vec<String>,
    pub acting_as: Option<String>,
    pub action: Option<String>,
    pub resource: Option<String>,
    pub policies: Vec<PolicyId>,
}

/// A path or grant gained or lost, or drifted: one document shape for every such item.
pub fn change_doc(c: &AccessItem) -> ChangeDoc {
    let mut doc = ChangeDoc {
        profile: c.profile.clone(),
        kind: c.kind().into(),
        principal: c.principal().to_string(),
        target: None,
        chain: Vec::new(),
        acting_as: None,
        action: None,
        resource: None,
        policies: c.policies.clone(),
    };
    match &c.access {
        Accessed::Path { target, chain, .. } => {
            doc.target = Some(target.clone());
            doc.chain = chain.clone();
        }
        Accessed::Grant {
            acting_as,
            action,
            resource,
            ..
        } => {
            doc.acting_as = acting_as.clone();
            doc.action = Some(action.clone());
            doc.resource = Some(resource.clone());
        }
    }
    doc
}

pub fn suffice_doc(r: &SufficeResult) -> SufficeDoc {
    let before = r.what_if.as_ref().map(|w| &w.sufficient_before);
    SufficeDoc {
        version: VERSION,
        sufficient: r.sufficient(),
        tasks: r
            .outcomes
            .iter()
            .enumerate()
            .map(|(i, o)| TaskDoc {
                file: o.file.clone(),
                name: o.name.clone(),
                principal: o.principal.to_string(),
                chain: o.chain.iter().map(ToString::to_string).collect(),
                acting: o.chain.last().unwrap_or(&o.principal).to_string(),
                sufficient: o.sufficient,
                sufficient_before: before.and_then(|b| b.get(i).copied()),
                hops: o.hops.iter().map(hop).collect(),
                steps: o.steps.iter().map(evaluation).collect(),
                excess_total: o.excess.iter().map(|g| g.resources.len()).sum(),
                excess: o
                    .excess
                    .iter()
                    .map(|g| ExcessDoc {
                        action: g.action.to_string(),
                        resource_type: g.resource_type.clone(),
                        count: g.resources.len(),
                        resources: g.resources.iter().map(ToString::to_string).collect(),
                    })
                    .collect(),
                excess_skipped: o.excess_skipped.clone(),
            })
            .collect(),
        what_if: r.what_if.as_ref().map(|w| WhatIfDoc {
            added_policies: w.added.clone(),
            removed_policies: w.removed.clone(),
            gained: w.gained.iter().map(change_doc).collect(),
            lost: w.lost.iter().map(change_doc).collect(),
        }),
    }
}
