//! `actas who-can` and `actas report` as JSON: paths, routes, policies, summary.

#[allow(
    unused_imports,
    reason = "one shared import list for the document modules"
)]
use super::*;
use cedar_policy::EntityUid;

use crate::core::ids::{PolicyId, ProfileName};

// The paths are a type parameter, as in `ReportDoc`: held whole, or `Streamed` as they are
// made (`who-can` on a world where everyone reaches the account lists every identity).
/// `actas who-can --format json`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhoCanDoc<P = Vec<PathDoc>> {
    pub version: u32,
    /// What the answer was made from and by what, as in the report (`report --verify` reads it).
    pub provenance: crate::workspace::provenance::Provenance,
    /// `{"target": uid}` or `{"principal": uid}`.
    pub query: QueryDoc,
    pub max_chain: u32,
    pub profiles: Vec<ProfileDoc>,
    pub paths: P,
    /// Every policy that allows some hop above or forbids one in `blocked`, by id.
    pub policies: Vec<PolicyDoc>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryDoc {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
}

/// A profile: a named context, and where it came from (`actas.yaml`, `scenario defaults`,
/// `command line`).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileDoc {
    pub name: ProfileName,
    pub source: String,
    pub context: serde_json::Map<String, serde_json::Value>,
}

/// A (principal, target) pair reachable under at least one profile.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PathDoc {
    pub principal: String,
    pub target: String,
    /// Whether the principal is of a human type (`impersonation.human_types`).
    pub human: bool,
    /// Profiles under which the path exists, and those under which it does not.
    pub profiles: Vec<ProfileName>,
    pub not_under: Vec<ProfileName>,
    /// For each profile of `not_under` where a hop can be named: the first hop of the shortest
    /// chain that fails under it, and why.
    pub blocked: Vec<BlockedDoc>,
    /// One per distinct (shortest chain, hop policies), shortest first.
    pub routes: Vec<RouteDoc>,
}

/// Why a path does not hold under a profile: the first hop of its shortest chain denied there.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockedDoc {
    pub profile: ProfileName,
    pub from: String,
    pub to: String,
    /// The forbids that determine the denial; empty when no permit matches under this profile.
    pub forbids: Vec<PolicyId>,
    /// The policies that allow this hop under the profiles where the path holds (when no forbid
    /// decides, their conditions are what fails here).
    pub allowed_elsewhere_by: Vec<PolicyId>,
    /// When no forbid decides: for each policy of `allowed_elsewhere_by`, the part of its
    /// condition that fails under this profile.
    pub failing: Vec<FailingDoc>,
}

/// Why a permit that allows a hop under other profiles does not allow it under this one.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailingDoc {
    pub policy: PolicyId,
    /// The part of its condition that decides, as written in the policy (a link's slots
    /// filled in): the first conjunct that is not true, or a whole `||` whose operands all fail.
    pub condition: String,
    /// What that part evaluates to here: the opposite of `needed`, or an error.
    pub evaluates_to: String,
    /// What the policy needs it to be: `true`, or `false` for a part under a `!` (an `unless`
    /// clause is one).
    pub needed: bool,
    /// Each attribute the part reads, with its value here in Cedar syntax (`absent` when
    /// the entity or context lacks it; cut past 200 characters, with the full length said).
    pub values: Vec<AttributeValueDoc>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttributeValueDoc {
    /// As written: `context.justification`, `resource.tier`.
    pub attribute: String,
    pub value: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteDoc {
    /// Hops: the length of `chain`.
    pub hops: usize,
    /// The accounts after the principal, the target last.
    pub chain: Vec<String>,
    pub profiles: Vec<ProfileName>,
    pub steps: Vec<StepDoc>,
}

/// One hop: the impersonation actions that allow it and their determining policies.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepDoc {
    pub from: String,
    pub to: String,
    pub actions: Vec<String>,
    pub policies: Vec<PolicyId>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyDoc {
    pub id: String,
    /// `permit` or `forbid`.
    pub effect: String,
    pub template: Option<PolicyId>,
    pub description: Option<String>,
    pub file: String,
    /// Cedar text (a link's template text).
    pub text: String,
}

/// `actas report --format json`: the summary, then every path as `who-can` shows it.
///
/// The lists that grow with the number of paths are type parameters: held whole (`Vec`, the
/// default, which every other format reads) or [`Streamed`], written as they are produced.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportDoc<P = Vec<PathDoc>, R = Vec<PathRefDoc>> {
    /// 2 since the report carries `provenance`; 3 since it explains failing conditions
    /// (`blocked[].failing`), lists forbids (`policies[].effect`) and names its actions.
    pub version: u32,
    /// What the report was made from and by what (`actas report --verify` checks it).
    pub provenance: crate::workspace::provenance::Provenance,
    /// Remarks on what the report leaves out (e.g. why-not explanations past 20,000 paths).
    pub notes: Vec<String>,
    /// The actions that impersonate (`impersonation.actions`): each hop is one of them.
    pub impersonation_actions: Vec<String>,
    pub max_chain: u32,
    pub human_types: Vec<String>,
    pub profiles: Vec<ProfileDoc>,
    pub summary: SummaryDoc<R>,
    pub paths: P,
    /// The permits that allow some hop, and every forbid on an impersonation action.
    pub policies: Vec<PolicyDoc>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SummaryDoc<R = Vec<PathRefDoc>> {
    /// Identities with at least one path: who can in fact impersonate some account.
    pub identities: usize,
    /// Inventory entities of the impersonation actions' principal types: who could.
    pub identities_in_inventory: usize,
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

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountDoc {
    pub account: String,
    pub reached_by: usize,
    pub humans: Vec<String>,
    /// Identities reaching it under each profile, in profile order.
    pub per_profile: Vec<ProfileCountDoc>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileCountDoc {
    pub profile: ProfileName,
    pub count: usize,
}

/// A path named in the summary: its longest route's chain and its profiles.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PathRefDoc {
    pub principal: String,
    pub target: String,
    pub chain: Vec<String>,
    pub profiles: Vec<ProfileName>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReachDoc {
    pub identity: String,
    pub accounts: usize,
}

/// The `who-can` document, its paths made in parallel.
pub fn who_can_doc(r: &WhoCanResult) -> WhoCanDoc {
    use rayon::prelude::*;
    let mut doc = who_can_doc_with(r, |_| Vec::new());
    doc.paths = r
        .access
        .paths
        .par_iter()
        .zip(&r.why_not)
        .map(|(p, why)| who_can_path_doc(r, p, why))
        .collect();
    doc
}

fn who_can_path_doc(
    r: &WhoCanResult,
    p: &crate::analysis::access::Path,
    why: &[crate::analysis::why_not::WhyNot],
) -> PathDoc {
    path_doc(
        &r.access.profiles,
        &r.human_types,
        p,
        why,
        &|u: &EntityUid| u.to_string(),
    )
}

/// The `who-can` document, its paths written as they are made.
pub(crate) fn streamed_who_can_doc<'a>(
    r: &'a WhoCanResult,
) -> WhoCanDoc<Streamed<impl Iterator<Item = PathDoc> + 'a>> {
    who_can_doc_with(r, Streamed::new)
}

#[allow(
    clippy::needless_lifetimes,
    reason = "elided, the boxed paths' lifetime would have to hold for any lifetime"
)]
fn who_can_doc_with<'a, P>(
    r: &'a WhoCanResult,
    paths: impl FnOnce(Box<dyn Iterator<Item = PathDoc> + 'a>) -> P,
) -> WhoCanDoc<P> {
    let subject = r.subject().map(ToString::to_string);
    let is_target = matches!(r.query, Query::Target(_));
    let docs = (r.access.paths.iter().zip(&r.why_not)).map(|(p, why)| who_can_path_doc(r, p, why));
    WhoCanDoc {
        version: VERSION,
        provenance: r.provenance.clone(),
        query: QueryDoc {
            target: subject.clone().filter(|_| is_target),
            principal: subject.filter(|_| !is_target),
        },
        max_chain: r.max_chain,
        profiles: profile_docs(&r.access.profiles),
        paths: paths(Box::new(docs)),
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
    report_paths_with(r, true)
}

/// [`report_paths`]; without `explain`, no path says why it misses a profile (CSV has no
/// column for it, and explaining costs hop evaluations).
pub(crate) fn report_paths_with<'a>(
    r: &'a ReportResult,
    explain: bool,
) -> impl Iterator<Item = PathDoc> + 'a {
    let profiles = &r.reached.profiles;
    r.reached.map_paths(move |p| {
        let why = match (&r.explainer, explain) {
            (Some(e), true) => e.why_not(&p),
            _ => Vec::new(),
        };
        let name = |u: &EntityUid| r.reached.name(u);
        path_doc(profiles, &r.human_types, &p, &why, &name)
    })
}

/// The paths of a summary list, each by its longest route's chain.
pub(super) fn path_refs<'a>(
    r: &'a ReportResult,
    list: PathList,
) -> impl Iterator<Item = PathRefDoc> + 'a {
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

pub(super) fn report_doc_with<'a, P, R>(
    r: &'a ReportResult,
    paths: impl FnOnce(&'a ReportResult) -> P,
    refs: impl Fn(&'a ReportResult, PathList) -> R,
) -> ReportDoc<P, R> {
    let s = &r.summary;
    let profiles = &r.reached.profiles;
    let refs = |list| refs(r, list);
    ReportDoc {
        version: REPORT_VERSION,
        provenance: r.provenance.clone(),
        notes: r.notes.clone(),
        impersonation_actions: r.impersonation_actions.clone(),
        max_chain: r.max_chain,
        human_types: r.human_types.clone(),
        profiles: profile_docs(profiles),
        summary: SummaryDoc {
            identities: s.identities,
            identities_in_inventory: s.identities_in_inventory,
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
                    humans: a
                        .humans
                        .iter()
                        .map(|n| r.reached.identities().names[n as usize].to_string())
                        .collect(),
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

pub(super) fn profile_docs(profiles: &[Profile]) -> Vec<ProfileDoc> {
    profiles
        .iter()
        .map(|p| ProfileDoc {
            name: p.name.clone(),
            source: p.origin.describe().into(),
            context: p.context.clone(),
        })
        .collect()
}

/// `name` spells an identity's uid (a report looks it up rather than formatting it again: on
/// millions of paths, Cedar's uid formatting was a quarter of the time).
pub(crate) fn path_doc(
    profiles: &[Profile],
    human_types: &[String],
    p: &Path,
    why_not: &[crate::analysis::why_not::WhyNot],
    name: &dyn Fn(&EntityUid) -> String,
) -> PathDoc {
    let under = p.profiles(profiles);
    PathDoc {
        blocked: why_not
            .iter()
            .map(|w| BlockedDoc {
                profile: w.profile.clone(),
                from: w.from.to_string(),
                to: w.to.to_string(),
                forbids: w.forbids.clone(),
                allowed_elsewhere_by: w.allowed_elsewhere_by.clone(),
                failing: w
                    .failing
                    .iter()
                    .map(|(policy, part)| FailingDoc {
                        policy: policy.clone(),
                        condition: part.text.clone(),
                        evaluates_to: part.outcome.clone(),
                        needed: part.needed,
                        values: part
                            .values
                            .iter()
                            .map(|(attribute, value)| AttributeValueDoc {
                                attribute: attribute.clone(),
                                value: value.clone(),
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
        principal: name(&p.principal),
        target: name(&p.target),
        human: is_human(human_types, &p.principal),
        not_under: profiles
            .iter()
            .filter(|x| !under.contains(&x.name.as_str()))
            .map(|x| x.name.clone())
            .collect(),
        profiles: under.into_iter().map(ProfileName::from).collect(),
        routes: p
            .routes
            .iter()
            .map(|route| RouteDoc {
                hops: route.chain.len(),
                chain: route.chain.iter().map(|u| name(u)).collect(),
                profiles: route.profiles.clone(),
                steps: route
                    .hops
                    .iter()
                    .map(|h| StepDoc {
                        from: name(&h.from),
                        to: name(&h.to),
                        actions: h.actions.iter().map(ToString::to_string).collect(),
                        policies: h.policies.to_vec(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

pub(super) fn policy_docs(policies: &BTreeMap<String, PolicyInfo>) -> Vec<PolicyDoc> {
    policies
        .values()
        .map(|p| PolicyDoc {
            id: p.id.clone(),
            effect: p.effect.to_string(),
            template: p.template.clone(),
            description: p.description.clone(),
            file: p.file.clone(),
            text: p.text.clone(),
        })
        .collect()
}
