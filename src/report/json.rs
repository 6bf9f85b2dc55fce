//! `--format json`: a stable, documented schema (see `docs/json.md`).
//!
//! Every document has `"version": 1`. Keys appear in the order of these structs. Uids are
//! Cedar uid strings (`User::"alice"`); lists are sorted.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use crate::analysis::access::{Path, Query};
use crate::analysis::profiles::Profile;
use crate::analysis::summary::PathList;
use crate::analysis::{is_human, PolicyInfo};
use crate::commands::check::CheckResult;
use crate::commands::drift::{DriftItem, DriftResult};
use crate::commands::report::ReportResult;
use crate::commands::suffice::{Change, SufficeResult};
use crate::commands::test::{Outcome, OutcomeKind, TestRun};
use crate::commands::who_can::WhoCanResult;
use crate::engine::{Evaluation, HopOutcome};
use crate::lint::Level;
use crate::report::{decision, Renderer};

pub const VERSION: u32 = 1;

/// `actas test --format json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestDoc {
    pub version: u32,
    pub summary: Summary,
    pub cases: Vec<CaseDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
}

/// One case. `kind` is `request`, `who_can_impersonate` or `impersonatable_by`; request cases
/// fill `expected`/`actual` with `allow`/`deny` and `hops`/`request`; set cases fill them with
/// sorted uid lists and `missing`/`unexpected`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseDoc {
    pub file: String,
    pub name: String,
    pub kind: String,
    pub passed: bool,
    pub expected: serde_json::Value,
    pub actual: serde_json::Value,
    pub hops: Vec<HopDoc>,
    pub request: Option<EvaluationDoc>,
    pub missing_reasons: Vec<String>,
    pub missing: Vec<String>,
    pub unexpected: Vec<String>,
    pub errors: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HopDoc {
    pub from: String,
    pub to: String,
    pub decision: String,
    /// The impersonation actions that allowed the hop, in configuration order.
    pub allowing_actions: Vec<String>,
    pub requests: Vec<EvaluationDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationDoc {
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub decision: String,
    /// Determining policy ids.
    pub reasons: Vec<String>,
    pub errors: Vec<String>,
}

/// `actas check --format json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckDoc {
    pub version: u32,
    pub summary: CheckSummary,
    /// Problems in the inputs (rule `invalid-input`) first, then lint findings by place.
    pub findings: Vec<FindingDoc>,
    pub suppressions: Vec<SuppressionDoc>,
    pub skipped: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSummary {
    pub errors: usize,
    pub warnings: usize,
    /// Findings suppressed by `@actas_allow`.
    pub suppressed: usize,
}

/// One finding. `line`/`column` start the span, `end_line`/`end_column` end it (exclusive).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingDoc {
    pub rule: String,
    pub code: String,
    /// `error` or `warning`.
    pub level: String,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub end_line: Option<usize>,
    pub end_column: Option<usize>,
    pub help: Option<String>,
    /// The policies the finding is about (any of them may suppress it).
    pub policies: Vec<String>,
    /// Further places that make up the finding.
    pub related: Vec<PlaceDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceDoc {
    pub message: String,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

/// An `@actas_allow` annotation and the findings it suppressed (by message).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuppressionDoc {
    pub policy: String,
    pub rule: String,
    pub code: String,
    pub reason: Option<String>,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub suppressed: Vec<String>,
}

/// `actas who-can --format json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhoCanDoc {
    pub version: u32,
    /// `{"target": uid}` or `{"principal": uid}`.
    pub query: QueryDoc,
    pub max_chain: u32,
    pub profiles: Vec<ProfileDoc>,
    pub paths: Vec<PathDoc>,
    /// Every policy that allows some hop above, by id.
    pub policies: Vec<PolicyDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryDoc {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
}

/// A profile: a named context, and where it came from (`actas.yaml`, `scenario defaults`,
/// `command line`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileDoc {
    pub name: String,
    pub source: String,
    pub context: serde_json::Map<String, serde_json::Value>,
}

/// A (principal, target) pair reachable under at least one profile.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathDoc {
    pub principal: String,
    pub target: String,
    /// Whether the principal is of a human type (`impersonation.human_types`).
    pub human: bool,
    /// Profiles under which the path exists, and those under which it does not.
    pub profiles: Vec<String>,
    pub not_under: Vec<String>,
    /// One per distinct (shortest chain, hop policies), shortest first.
    pub routes: Vec<RouteDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteDoc {
    /// Hops: the length of `chain`.
    pub hops: usize,
    /// The accounts after the principal, the target last.
    pub chain: Vec<String>,
    pub profiles: Vec<String>,
    pub steps: Vec<StepDoc>,
}

/// One hop: the impersonation actions that allow it and their determining policies.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDoc {
    pub from: String,
    pub to: String,
    pub actions: Vec<String>,
    pub policies: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDoc {
    pub id: String,
    pub template: Option<String>,
    pub description: Option<String>,
    pub file: String,
    /// Cedar text (a link's template text).
    pub text: String,
}

/// `actas report --format json`: the summary, then every path as `who-can` shows it.
///
/// The lists that grow with the number of paths are type parameters: held whole (`Vec`, the
/// default, which every other format reads) or [`Streamed`], written as they are produced.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportDoc<P = Vec<PathDoc>, R = Vec<PathRefDoc>> {
    pub version: u32,
    pub max_chain: u32,
    pub human_types: Vec<String>,
    pub profiles: Vec<ProfileDoc>,
    pub summary: SummaryDoc<R>,
    pub paths: P,
    pub policies: Vec<PolicyDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryDoc<R = Vec<PathRefDoc>> {
    /// Inventory identities that may impersonate.
    pub identities: usize,
    /// Impersonable inventory accounts, and how many of them anyone reaches.
    pub accounts: usize,
    pub accounts_reached: usize,
    pub paths: usize,
    pub longest_chain: usize,
    /// Every impersonable account, most reached first.
    pub reach_by_account: Vec<AccountDoc>,
    /// Accounts reached under some profiles only.
    pub conditional_accounts: Vec<String>,
    pub human_paths: R,
    pub conditional_paths: R,
    pub longest_paths: R,
    pub delegated_paths: R,
    /// Identities by how many accounts they reach, widest first.
    pub widest_reach: Vec<ReachDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountDoc {
    pub account: String,
    pub reached_by: usize,
    pub humans: Vec<String>,
    /// Identities reaching it under each profile, in profile order.
    pub per_profile: Vec<ProfileCountDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileCountDoc {
    pub profile: String,
    pub count: usize,
}

/// A path named in the summary: its longest route's chain and its profiles.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathRefDoc {
    pub principal: String,
    pub target: String,
    pub chain: Vec<String>,
    pub profiles: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReachDoc {
    pub identity: String,
    pub accounts: usize,
}

pub fn who_can_doc(r: &WhoCanResult) -> WhoCanDoc {
    let subject = r.subject().map(ToString::to_string);
    let is_target = matches!(r.query, Query::Target(_));
    WhoCanDoc {
        version: VERSION,
        query: QueryDoc {
            target: subject.clone().filter(|_| is_target),
            principal: subject.filter(|_| !is_target),
        },
        max_chain: r.max_chain,
        profiles: profile_docs(&r.access.profiles),
        paths: r
            .access
            .paths
            .iter()
            .map(|p| path_doc(&r.access.profiles, &r.human_types, p))
            .collect(),
        policies: policy_docs(&r.policies),
    }
}

/// A list serialized from an iterator as it goes, never held whole (`report` on a large world
/// has millions of paths). It can be written once.
pub struct Streamed<I>(std::cell::RefCell<Option<I>>);

impl<I: Iterator> Streamed<I> {
    pub fn new(items: I) -> Self {
        Self(std::cell::RefCell::new(Some(items)))
    }

    /// The items, for a renderer that lays them out itself; none the second time.
    pub fn take(&self) -> impl Iterator<Item = I::Item> {
        self.0.borrow_mut().take().into_iter().flatten()
    }
}

impl<I: Iterator<Item = T>, T: Serialize> Serialize for Streamed<I> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let items = self.0.borrow_mut().take();
        let items = items.ok_or_else(|| serde::ser::Error::custom("a list streamed twice"))?;
        s.collect_seq(items)
    }
}

/// The report document, every list held whole (for the formats that lay it out).
pub fn report_doc(r: &ReportResult) -> ReportDoc {
    report_doc_with(
        r,
        |r| report_paths(r).collect(),
        |r, list| path_refs(r, list).collect(),
    )
}

/// The report document, paths and path lists written as they are produced.
pub(crate) fn streamed_report_doc<'a>(
    r: &'a ReportResult,
) -> ReportDoc<
    Streamed<impl Iterator<Item = PathDoc> + 'a>,
    Streamed<impl Iterator<Item = PathRefDoc> + 'a>,
> {
    report_doc_with(
        r,
        |r| Streamed::new(report_paths(r)),
        |r, list| Streamed::new(path_refs(r, list)),
    )
}

/// Every path of a report, as `who-can` shows it, made as it is read.
pub(crate) fn report_paths<'a>(r: &'a ReportResult) -> impl Iterator<Item = PathDoc> + 'a {
    let profiles = &r.reached.profiles;
    r.reached
        .map_paths(move |p| path_doc(profiles, &r.human_types, &p))
}

/// The paths of a summary list, each by its longest route's chain.
fn path_refs<'a>(r: &'a ReportResult, list: PathList) -> impl Iterator<Item = PathRefDoc> + 'a {
    let profiles = &r.reached.profiles;
    r.summary.paths(&r.reached, list).map(move |p| PathRefDoc {
        principal: p.principal.to_string(),
        target: p.target.to_string(),
        chain: p.longest_route().map(|n| n.to_string()).collect(),
        profiles: profiles
            .iter()
            .enumerate()
            .filter(|(k, _)| p.under(*k))
            .map(|(_, x)| x.name.clone())
            .collect(),
    })
}

fn report_doc_with<'a, P, R>(
    r: &'a ReportResult,
    paths: impl FnOnce(&'a ReportResult) -> P,
    refs: impl Fn(&'a ReportResult, PathList) -> R,
) -> ReportDoc<P, R> {
    let s = &r.summary;
    let profiles = &r.reached.profiles;
    let refs = |list| refs(r, list);
    ReportDoc {
        version: VERSION,
        max_chain: r.max_chain,
        human_types: r.human_types.clone(),
        profiles: profile_docs(profiles),
        summary: SummaryDoc {
            identities: s.identities,
            accounts: s.accounts.len(),
            accounts_reached: s.accounts.iter().filter(|a| a.reached_by > 0).count(),
            paths: r.reached.len(),
            longest_chain: s.longest_chain,
            reach_by_account: s
                .accounts
                .iter()
                .map(|a| AccountDoc {
                    account: a.account.to_string(),
                    reached_by: a.reached_by,
                    humans: a.humans.iter().map(ToString::to_string).collect(),
                    per_profile: profiles
                        .iter()
                        .zip(&a.per_profile)
                        .map(|(p, c)| ProfileCountDoc {
                            profile: p.name.clone(),
                            count: *c,
                        })
                        .collect(),
                })
                .collect(),
            conditional_accounts: s
                .conditional_accounts
                .iter()
                .map(|i| s.accounts[*i].account.to_string())
                .collect(),
            human_paths: refs(PathList::Human),
            conditional_paths: refs(PathList::Conditional),
            longest_paths: refs(PathList::Longest),
            delegated_paths: refs(PathList::Delegated),
            widest_reach: s
                .widest
                .iter()
                .map(|(u, n)| ReachDoc {
                    identity: u.to_string(),
                    accounts: *n,
                })
                .collect(),
        },
        paths: paths(r),
        policies: policy_docs(&r.policies),
    }
}

fn strings(list: Vec<&str>) -> Vec<String> {
    list.into_iter().map(String::from).collect()
}

fn profile_docs(profiles: &[Profile]) -> Vec<ProfileDoc> {
    profiles
        .iter()
        .map(|p| ProfileDoc {
            name: p.name.clone(),
            source: p.origin.describe().into(),
            context: p.context.clone(),
        })
        .collect()
}

pub(crate) fn path_doc(profiles: &[Profile], human_types: &[String], p: &Path) -> PathDoc {
    let under = p.profiles(profiles);
    PathDoc {
        principal: p.principal.to_string(),
        target: p.target.to_string(),
        human: is_human(human_types, &p.principal),
        not_under: profiles
            .iter()
            .filter(|x| !under.contains(&x.name.as_str()))
            .map(|x| x.name.clone())
            .collect(),
        profiles: strings(under),
        routes: p
            .routes
            .iter()
            .map(|route| RouteDoc {
                hops: route.chain.len(),
                chain: route.chain.iter().map(ToString::to_string).collect(),
                profiles: route.profiles.clone(),
                steps: route
                    .hops
                    .iter()
                    .map(|h| StepDoc {
                        from: h.from.to_string(),
                        to: h.to.to_string(),
                        actions: h.actions.iter().map(ToString::to_string).collect(),
                        policies: h.policies.to_vec(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn policy_docs(policies: &BTreeMap<String, PolicyInfo>) -> Vec<PolicyDoc> {
    policies
        .values()
        .map(|p| PolicyDoc {
            id: p.id.clone(),
            template: p.template.clone(),
            description: p.description.clone(),
            file: p.file.clone(),
            text: p.text.clone(),
        })
        .collect()
}

/// `actas suffice --format json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SufficeDoc {
    pub version: u32,
    /// Every task sufficient (under the changed policies when there is a what-if).
    pub sufficient: bool,
    pub tasks: Vec<TaskDoc>,
    pub what_if: Option<WhatIfDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
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

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExcessDoc {
    pub action: String,
    pub resource_type: String,
    pub count: usize,
    pub resources: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatIfDoc {
    pub added_policies: Vec<String>,
    pub removed_policies: Vec<String>,
    /// Paths and grants over the whole inventory that the change adds / removes.
    pub gained: Vec<ChangeDoc>,
    pub lost: Vec<ChangeDoc>,
}

/// A path (`kind: "path"`: principal, target, chain) or a grant (`kind: "grant"`: principal,
/// acting_as or null, action, resource) under one profile, with its determining policies.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeDoc {
    pub profile: String,
    pub kind: String,
    pub principal: String,
    pub target: Option<String>,
    pub chain: Vec<String>,
    pub acting_as: Option<String>,
    pub action: Option<String>,
    pub resource: Option<String>,
    pub policies: Vec<String>,
}

pub fn change_doc(c: &Change) -> ChangeDoc {
    match c {
        Change::Path {
            profile,
            key,
            chain,
            policies,
        } => ChangeDoc {
            profile: profile.clone(),
            kind: "path".into(),
            principal: key.principal.to_string(),
            target: Some(key.target.to_string()),
            chain: chain.iter().map(ToString::to_string).collect(),
            acting_as: None,
            action: None,
            resource: None,
            policies: policies.clone(),
        },
        Change::Grant {
            profile,
            grant,
            policies,
        } => ChangeDoc {
            profile: profile.clone(),
            kind: "grant".into(),
            principal: grant.principal.to_string(),
            target: None,
            chain: Vec::new(),
            acting_as: grant.acting_as.as_ref().map(ToString::to_string),
            action: Some(grant.action.to_string()),
            resource: Some(grant.resource.to_string()),
            policies: policies.clone(),
        },
    }
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

/// `actas drift --format json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftDoc {
    pub version: u32,
    pub baseline: String,
    /// Whether the run fails: an item at or above `fail_on`, or a used request now denied.
    pub failing: bool,
    pub fail_on: String,
    /// `--accept`: the baseline was rewritten to the current access.
    pub accepted: bool,
    pub notes: Vec<String>,
    pub new: Vec<DriftItemDoc>,
    pub removed: Vec<DriftItemDoc>,
    pub usage: Option<UsageDoc>,
}

/// A path (`kind: "path"`) or grant (`kind: "grant"`) added or removed, with the policies that
/// allow it (now for new items, in the baseline for removed ones).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftItemDoc {
    pub severity: String,
    pub kind: String,
    pub profile: String,
    pub principal: String,
    pub target: Option<String>,
    pub chain: Vec<String>,
    pub acting_as: Option<String>,
    pub action: Option<String>,
    pub resource: Option<String>,
    pub policies: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageDoc {
    pub file: String,
    pub lines: usize,
    pub considered: usize,
    /// Earliest and latest `time` considered.
    pub first: Option<String>,
    pub last: Option<String>,
    pub skipped_lines: Vec<LineNoteDoc>,
    pub unknown_entities: Vec<LineNoteDoc>,
    pub used_but_denied: Vec<DeniedDoc>,
    pub granted_but_unused: Vec<UnusedDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineNoteDoc {
    pub line: usize,
    pub reason: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeniedDoc {
    /// Every line with this request, ascending.
    pub lines: Vec<usize>,
    pub principal: String,
    pub chain: Vec<String>,
    pub action: String,
    pub resource: String,
    /// Forbids that fired (empty: no permit matched).
    pub reasons: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnusedDoc {
    pub principal: String,
    pub acting_as: Option<String>,
    pub action: String,
    pub count: usize,
    pub resources: Vec<String>,
}

fn drift_item(i: &DriftItem) -> DriftItemDoc {
    let mut d = DriftItemDoc {
        severity: i.severity.name().into(),
        kind: String::new(),
        profile: String::new(),
        principal: String::new(),
        target: None,
        chain: Vec::new(),
        acting_as: None,
        action: None,
        resource: None,
        policies: Vec::new(),
    };
    if let Some(p) = &i.path {
        d.kind = "path".into();
        d.profile = p.profile.clone();
        d.principal = p.principal.clone();
        d.target = Some(p.target.clone());
        d.chain = p.chain.clone();
        d.policies = p.policies.clone();
    } else if let Some(g) = &i.grant {
        d.kind = "grant".into();
        d.profile = g.profile.clone();
        d.principal = g.principal.clone();
        d.acting_as = g.acting_as.clone();
        d.action = Some(g.action.clone());
        d.resource = Some(g.resource.clone());
        d.policies = g.policies.clone();
    }
    d
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
        fail_on: r.fail_on.name().into(),
        accepted: r.accepted,
        notes: r.notes.clone(),
        new: r.new.iter().map(drift_item).collect(),
        removed: r.removed.iter().map(drift_item).collect(),
        usage: r.usage.as_ref().map(|u| UsageDoc {
            file: u.file.clone(),
            lines: u.lines,
            considered: u.considered,
            first: u.first.clone(),
            last: u.last.clone(),
            skipped_lines: notes(&u.skipped),
            unknown_entities: notes(&u.unknown),
            used_but_denied: u
                .denied
                .iter()
                .map(|d| DeniedDoc {
                    lines: d.lines.clone(),
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

pub struct Json;

impl Renderer for Json {
    fn test(&self, run: &TestRun) -> Option<String> {
        let doc = TestDoc {
            version: VERSION,
            summary: Summary {
                total: run.outcomes.len(),
                passed: run.passed(),
                failed: run.failed(),
            },
            cases: run.outcomes.iter().map(case_doc).collect(),
        };
        Some(to_string(&doc))
    }

    fn check(&self, r: &CheckResult) -> Option<String> {
        let place = |p: &crate::core::diag::Problem| match p.region() {
            Some((f, region)) => (Some(f), region),
            None => (None, None),
        };
        let findings = r
            .findings
            .iter()
            .map(|f| {
                let (file, region) = place(&f.problem);
                FindingDoc {
                    rule: f.rule.name.into(),
                    code: f.rule.code.into(),
                    level: f.level.name().into(),
                    message: f.problem.message.clone(),
                    file,
                    line: region.map(|r| r.start.0),
                    column: region.map(|r| r.start.1),
                    end_line: region.map(|r| r.end.0),
                    end_column: region.map(|r| r.end.1),
                    help: f.problem.help.clone(),
                    policies: f.policies.clone(),
                    related: f
                        .related
                        .iter()
                        .map(|p| {
                            let (file, region) = place(p);
                            PlaceDoc {
                                message: p.message.clone(),
                                file,
                                line: region.map(|r| r.start.0),
                                column: region.map(|r| r.start.1),
                            }
                        })
                        .collect(),
                }
            })
            .collect();
        let suppressions = r
            .suppressions
            .iter()
            .map(|s| {
                let lc = s.file.as_ref().zip(s.span).map(|(f, (o, _))| f.line_col(o));
                SuppressionDoc {
                    policy: s.policy.clone(),
                    rule: s.rule.name.into(),
                    code: s.rule.code.into(),
                    reason: s.reason.clone(),
                    file: s.file.as_ref().map(|f| f.path.clone()),
                    line: lc.map(|(l, _)| l),
                    column: lc.map(|(_, c)| c),
                    suppressed: s
                        .suppressed
                        .iter()
                        .map(|f| f.problem.message.clone())
                        .collect(),
                }
            })
            .collect();
        Some(to_string(&CheckDoc {
            version: VERSION,
            summary: CheckSummary {
                errors: r.count(Level::Error),
                warnings: r.count(Level::Warning),
                suppressed: r.suppressions.iter().map(|s| s.suppressed.len()).sum(),
            },
            findings,
            suppressions,
            skipped: r.skipped.clone(),
        }))
    }

    fn who_can(&self, r: &WhoCanResult) -> Option<String> {
        Some(to_string(&who_can_doc(r)))
    }

    fn report(&self, r: &ReportResult) -> Option<String> {
        Some(to_string(&report_doc(r)))
    }

    fn write_report(&self, r: &ReportResult, out: &mut dyn Write) -> Option<io::Result<()>> {
        let mut out = io::BufWriter::new(out);
        let written = serde_json::to_writer_pretty(&mut out, &streamed_report_doc(r))
            .map_err(io::Error::from)
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush());
        Some(written)
    }

    fn suffice(&self, r: &SufficeResult) -> Option<String> {
        Some(to_string(&suffice_doc(r)))
    }

    fn drift(&self, r: &DriftResult) -> Option<String> {
        Some(to_string(&drift_doc(r)))
    }
}

pub fn to_string<T: Serialize>(doc: &T) -> String {
    let mut s =
        serde_json::to_string_pretty(doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

fn evaluation(e: &Evaluation) -> EvaluationDoc {
    EvaluationDoc {
        principal: e.principal.to_string(),
        action: e.action.to_string(),
        resource: e.resource.to_string(),
        decision: decision(e.allowed).into(),
        reasons: e.reasons.clone(),
        errors: e.errors.clone(),
    }
}

fn hop(h: &HopOutcome) -> HopDoc {
    HopDoc {
        from: h.from.to_string(),
        to: h.to.to_string(),
        decision: decision(h.allowed).into(),
        allowing_actions: h.allowing.iter().map(ToString::to_string).collect(),
        requests: h.evaluations.iter().map(evaluation).collect(),
    }
}

fn case_doc(o: &Outcome) -> CaseDoc {
    let mut doc = CaseDoc {
        file: o.file.clone(),
        name: o.name.clone(),
        kind: String::new(),
        passed: o.passed,
        expected: serde_json::Value::Null,
        actual: serde_json::Value::Null,
        hops: Vec::new(),
        request: None,
        missing_reasons: Vec::new(),
        missing: Vec::new(),
        unexpected: Vec::new(),
        errors: o.errors.clone(),
    };
    match &o.kind {
        OutcomeKind::Request {
            expect_allow,
            allowed,
            hops,
            request,
            missing_reasons,
            ..
        } => {
            doc.kind = "request".into();
            doc.expected = decision(*expect_allow).to_string().into();
            doc.actual = decision(*allowed).to_string().into();
            doc.hops = hops.iter().map(hop).collect();
            doc.request = request.as_ref().map(evaluation);
            doc.missing_reasons = missing_reasons.clone();
        }
        OutcomeKind::Set {
            field,
            expected,
            actual,
            missing,
            unexpected,
            ..
        } => {
            doc.kind = (*field).into();
            doc.expected = expected.clone().into();
            doc.actual = actual.clone().into();
            doc.missing = missing.clone();
            doc.unexpected = unexpected.clone();
        }
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::report;

    #[test]
    fn a_streamed_report_is_the_whole_document() {
        let ws = crate::workspace::example();
        let r = report::run(&ws, &Default::default()).unwrap();
        let mut streamed = Vec::new();
        Json.write_report(&r, &mut streamed).unwrap().unwrap();
        let whole = Json.report(&r).unwrap();
        assert!(r.summary.count(PathList::Human) > 1 && r.reached.len() > 5);
        assert_eq!(String::from_utf8(streamed).unwrap(), whole);
    }
}
