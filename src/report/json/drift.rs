//! `actas drift --format json`.

#[allow(
    unused_imports,
    reason = "one shared import list for the document modules"
)]
use super::*;
use crate::commands::drift::NOTED;
use crate::core::ids::{PolicyId, ProfileName};

/// `actas drift --format json`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DriftDoc {
    pub version: u32,
    pub baseline: String,
    /// Whether the run fails: an item at or above `fail_on`, or a used request now denied.
    pub failing: bool,
    /// Each reason for `failing`, with its count, e.g. "2 changes at or above high".
    pub failing_reasons: Vec<String>,
    pub fail_on: String,
    /// `--accept`: the baseline was rewritten to the current access.
    pub accepted: bool,
    pub notes: Vec<String>,
    pub new: Vec<DriftItemDoc>,
    pub removed: Vec<DriftItemDoc>,
    /// `new`, then `removed`, grouped by the policy change behind each item: one entry per
    /// change, its consequences once each with the profiles they hold under.
    pub changes: Vec<PolicyChangeDoc>,
    pub usage: Option<UsageDoc>,
}

/// A policy change and the access it adds (`direction: "new"`) or takes away (`"removed"`).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyChangeDoc {
    pub direction: String,
    /// The highest severity among its consequences.
    pub severity: String,
    /// The policies the change is about: for new access, those the baseline never named behind
    /// any access (else every policy behind it); for removed access, those no longer in the
    /// workspace (else every policy behind it then).
    pub policies: Vec<ChangedPolicyDoc>,
    pub consequences: Vec<ConsequenceDoc>,
}

/// A policy and where it is written now (`file`/`line` null: no longer in the workspace).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangedPolicyDoc {
    pub id: PolicyId,
    pub file: Option<String>,
    pub line: Option<usize>,
}

/// One path or grant gained or lost, with every profile it holds under.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsequenceDoc {
    pub severity: String,
    pub profiles: Vec<ProfileName>,
    /// `profiles` is every profile (of this run for new access, of the baseline for removed).
    pub every_profile: bool,
    pub kind: String,
    pub principal: String,
    pub target: Option<String>,
    pub chain: Vec<String>,
    pub acting_as: Option<String>,
    pub action: Option<String>,
    pub resource: Option<String>,
    /// Other policies behind it (the rest of a chain).
    pub also: Vec<PolicyId>,
}

fn policy_change(direction: &str, c: &PolicyChange) -> PolicyChangeDoc {
    PolicyChangeDoc {
        direction: direction.into(),
        severity: c.severity().name().into(),
        policies: c
            .policies
            .iter()
            .map(|(id, at)| ChangedPolicyDoc {
                id: id.clone(),
                file: at.as_ref().map(|(f, _)| f.clone()),
                line: at.as_ref().map(|(_, l)| *l),
            })
            .collect(),
        consequences: c
            .consequences
            .iter()
            .map(|x| {
                let item = AccessItem {
                    profile: x.profiles.first().cloned().unwrap_or_default(),
                    access: x.access.clone(),
                    policies: x.also.clone(),
                };
                let d = change_doc(&item);
                ConsequenceDoc {
                    severity: x.severity.name().into(),
                    profiles: x.profiles.clone(),
                    every_profile: x.every_profile,
                    kind: d.kind,
                    principal: d.principal,
                    target: d.target,
                    chain: d.chain,
                    acting_as: d.acting_as,
                    action: d.action,
                    resource: d.resource,
                    also: d.policies,
                }
            })
            .collect(),
    }
}

/// A path (`kind: "path"`) or grant (`kind: "grant"`) added or removed, with the policies that
/// allow it (now for new items, in the baseline for removed ones).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DriftItemDoc {
    pub severity: String,
    pub kind: String,
    pub profile: ProfileName,
    pub principal: String,
    pub target: Option<String>,
    pub chain: Vec<String>,
    pub acting_as: Option<String>,
    pub action: Option<String>,
    pub resource: Option<String>,
    pub policies: Vec<PolicyId>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageDoc {
    pub file: String,
    pub lines: usize,
    pub considered: usize,
    /// Earliest and latest `time` considered.
    pub first: Option<String>,
    pub last: Option<String>,
    pub skipped_lines: Vec<LineNoteDoc>,
    /// Skipped lines beyond those listed (at most 1,000 are).
    pub skipped_lines_omitted: usize,
    pub unknown_entities: Vec<LineNoteDoc>,
    /// Entries naming unknown entities beyond those listed (at most 1,000 are).
    pub unknown_entities_omitted: usize,
    pub used_but_denied: Vec<DeniedDoc>,
    pub granted_but_unused: Vec<UnusedDoc>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LineNoteDoc {
    pub line: usize,
    pub reason: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeniedDoc {
    /// How many lines of the log hold this request.
    pub times: usize,
    /// The first 1,000 of those lines, ascending.
    pub lines: Vec<usize>,
    pub principal: String,
    pub chain: Vec<String>,
    pub action: String,
    pub resource: String,
    /// Forbids that fired (empty: no permit matched).
    pub reasons: Vec<PolicyId>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnusedDoc {
    pub principal: String,
    pub acting_as: Option<String>,
    pub action: String,
    pub count: usize,
    pub resources: Vec<String>,
}

pub(super) fn drift_item(i: &DriftItem) -> DriftItemDoc {
    let c = change_doc(&i.item);
    DriftItemDoc {
        severity: i.severity.name().into(),
        kind: c.kind,
        profile: c.profile,
        principal: c.principal,
        target: c.target,
        chain: c.chain,
        acting_as: c.acting_as,
        action: c.action,
        resource: c.resource,
        policies: c.policies,
    }
}

pub fn drift_doc(r: &DriftResult) -> DriftDoc {
    let notes = |v: &[(usize, String)]| {
        v.iter()
            .map(|(line, reason)| LineNoteDoc {
                line: *line,
                reason: reason.clone(),
            })
            .collect()
    };
    DriftDoc {
        version: VERSION,
        baseline: r.baseline.clone(),
        failing: r.failing(),
        failing_reasons: r.failing_reasons(),
        fail_on: r.fail_on.name().into(),
        accepted: r.accepted,
        notes: r.notes.clone(),
        new: r.new.iter().map(drift_item).collect(),
        removed: r.removed.iter().map(drift_item).collect(),
        changes: r
            .new_by_change
            .iter()
            .map(|c| policy_change("new", c))
            .chain(
                r.removed_by_change
                    .iter()
                    .map(|c| policy_change("removed", c)),
            )
            .collect(),
        usage: r.usage.as_ref().map(|u| UsageDoc {
            file: u.file.clone(),
            lines: u.lines,
            considered: u.considered,
            first: u.first.clone(),
            last: u.last.clone(),
            skipped_lines: notes(&u.skipped),
            skipped_lines_omitted: u.skipped_omitted,
            unknown_entities: notes(&u.unknown),
            unknown_entities_omitted: u.unknown_omitted,
            used_but_denied: u
                .denied
                .iter()
                .map(|d| DeniedDoc {
                    times: d.lines.len(),
                    lines: d.lines.iter().take(NOTED).copied().collect(),
                    principal: d.principal.clone(),
                    chain: d.chain.clone(),
                    action: d.action.clone(),
                    resource: d.resource.clone(),
                    reasons: d.reasons.clone(),
                })
                .collect(),
            granted_but_unused: u
                .unused
                .iter()
                .map(|x| UnusedDoc {
                    principal: x.principal.clone(),
                    acting_as: x.acting_as.clone(),
                    action: x.action.clone(),
                    count: x.resources.len(),
                    resources: x.resources.clone(),
                })
                .collect(),
        }),
    }
}
