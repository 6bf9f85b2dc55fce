//! `actas test --coverage`: which policies, template links, conditions and impersonation paths
//! the scenarios exercise, and the gate of `coverage:` in actas.yaml.
//!
//! - A policy is *determined* when it is among the determining policies of some request a case
//!   evaluates (a hop's request or an acting-as or plain request): a permit of an allowed
//!   request, a forbid of a denied one. A template is determined when one of its links is.
//!   Set cases (`who_can_impersonate`, `impersonatable_by`) are answered by the hop matrix, not
//!   by requests, and determine nothing.
//! - Its condition, and each `when`/`unless` clause, is seen true or false by the condition
//!   probes (`engine::probes`) over the same requests. A template's clauses are seen when any
//!   link's are. Condition coverage counts the clauses of static policies and templates, as
//!   written, so a template with a thousand links is one set of clauses.
//! - A path is what `actas report` lists: a (principal, target) pair reachable under a profile,
//!   with its shortest chain. It is *covered* when some case names that principal and target,
//!   whatever its context: a request case whose chain ends at the target (one hop or more), or a
//!   set case whose expected set pairs them. Accounts a chain only passes through are not.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cedar_policy::Effect;

use crate::analysis::access::{Query, Reached};
use crate::analysis::profiles;
use crate::core::diag::Problem;
use crate::core::ids::{PolicyId, ProfileName};
use crate::engine::probes::{Probes, Seen};
use crate::engine::{Engine, Evaluation, Prepared};
use crate::workspace::scenario::{Case, CaseKind};
use crate::workspace::{CoverageGate, Workspace};

/// The annotation that leaves a policy out of coverage: `@actas_coverage("ignore: why")`.
pub const IGNORE_ANNOTATION: &str = "actas_coverage";

/// Collects what the cases' requests determine and what the probes see, across workers.
pub struct Recorder<'e> {
    engine: &'e Engine,
    probes: Probes,
    /// A policy id's index in the engine's slicer order.
    index: HashMap<PolicyId, usize>,
    /// Per policy: how many evaluated requests it determined.
    determined: Vec<AtomicU64>,
}

impl<'e> Recorder<'e> {
    pub fn new(engine: &'e Engine) -> Self {
        let slicer = engine.slicer();
        let index = (0..slicer.len())
            .map(|i| (PolicyId::from(slicer.policy(i).id()), i))
            .collect();
        Self {
            engine,
            probes: Probes::new(slicer),
            index,
            determined: (0..slicer.len()).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Records one evaluated request.
    pub fn observe(&self, request: &Prepared, evaluation: &Evaluation) {
        for id in &evaluation.reasons {
            if let Some(&i) = self.index.get(id) {
                self.determined[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.probes.observe(&self.engine.entities, request);
    }
}

/// What kind of policy an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Permit,
    Forbid,
    Template,
    Link,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Permit => "permit",
            Kind::Forbid => "forbid",
            Kind::Template => "template",
            Kind::Link => "link",
        }
    }
}

/// One `when` or `unless` clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// `when` or `unless`.
    pub kind: &'static str,
    pub line: Option<usize>,
    pub seen_true: bool,
    pub seen_false: bool,
}

/// One static policy, template or link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyCoverage {
    pub id: PolicyId,
    pub file: String,
    /// Its head's line (a link: its entry in the links file).
    pub line: Option<usize>,
    pub kind: Kind,
    /// `permit` or `forbid` (a template's and a link's too).
    pub effect: &'static str,
    /// For a link: its template.
    pub template: Option<PolicyId>,
    pub determined: bool,
    /// How many evaluated requests it determined (a template: its links').
    pub determined_count: u64,
    pub condition_true: bool,
    pub condition_false: bool,
    /// Its clauses, in written order (a link's are its template's, seen by that link).
    pub clauses: Vec<Clause>,
    /// The reason given by `@actas_coverage("ignore: …")`: left out of every count.
    pub ignored: Option<String>,
    /// Why its conditions could not be probed, when they could not.
    pub unprobed: Option<String>,
}

/// One path of `actas report` under one profile, and whether a case exercises it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathCoverage<'a> {
    pub profile: &'a ProfileName,
    pub principal: &'a str,
    pub target: &'a str,
    /// The accounts after the principal, the target last (a shortest chain).
    pub chain: Vec<&'a str>,
    pub covered: bool,
}

/// The paths of every profile, held compactly (an organisation has millions) and listed on
/// demand.
pub struct Paths<'w> {
    reached: Reached<'w>,
    /// The (principal, target) pairs the cases name.
    exercised: HashSet<(Arc<str>, Arc<str>)>,
}

impl Paths<'_> {
    fn covered(&self, principal: &Arc<str>, target: &Arc<str>) -> bool {
        self.exercised
            .contains(&(principal.clone(), target.clone()))
    }

    /// Every path under every profile: the uncovered ones first, then the covered; each part
    /// by profile, then principal and target.
    pub fn iter(&self) -> impl Iterator<Item = PathCoverage<'_>> + '_ {
        self.part(false).chain(self.part(true))
    }

    /// The uncovered paths (`false`) or the covered ones, in [`Paths::iter`]'s order.
    pub fn part(&self, covered: bool) -> impl Iterator<Item = PathCoverage<'_>> + '_ {
        self.reached
            .profiles
            .iter()
            .enumerate()
            .flat_map(move |(i, profile)| {
                self.reached.shapes().filter_map(move |shape| {
                    if !shape.under(i) {
                        return None;
                    }
                    let (principal, target) = (shape.principal_name(), shape.target_name());
                    let is = self.covered(principal, target);
                    (is == covered).then(|| PathCoverage {
                        profile: &profile.name,
                        principal,
                        target,
                        chain: shape.chain(i).map(AsRef::as_ref).collect(),
                        covered,
                    })
                })
            })
    }
}

/// A count and its percentage (100 when there is nothing to count).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratio {
    pub covered: usize,
    pub total: usize,
}

impl Ratio {
    pub fn percent(self) -> f64 {
        if self.total == 0 {
            100.0
        } else {
            // Counts are far below 2^52: exact as floats.
            #[allow(clippy::cast_precision_loss, reason = "counts below 2^52")]
            let p = self.covered as f64 * 100.0 / self.total as f64;
            p
        }
    }
}

/// A gate that was not met.
#[derive(Debug, Clone, PartialEq)]
pub struct Shortfall {
    /// `policies`, `conditions`, `paths` or `paths under <profile>`.
    pub what: String,
    pub required: f64,
    pub actual: f64,
}

/// The whole coverage of a run.
pub struct Coverage<'w> {
    /// Every static policy, template and link, by (file, line, id).
    pub policies: Vec<PolicyCoverage>,
    /// `None` when no path was computed (see `paths_skipped`).
    pub paths: Option<Paths<'w>>,
    pub policy_ratio: Ratio,
    pub condition_ratio: Ratio,
    /// Per profile, in profile order.
    pub path_ratios: Vec<(ProfileName, Ratio)>,
    /// Why paths were not computed (no profile to compute them under).
    pub paths_skipped: Option<String>,
    /// Whether `coverage:` of actas.yaml was applied to this run.
    pub gate_applied: bool,
    /// The gates not met; empty when met or not applied.
    pub shortfalls: Vec<Shortfall>,
    /// Why the gate was not applied (a partial run), when it was configured.
    pub gate_skipped: Option<String>,
}

impl Coverage<'_> {
    /// Every path ratio together.
    pub fn all_paths(&self) -> Ratio {
        Ratio {
            covered: self.path_ratios.iter().map(|(_, r)| r.covered).sum(),
            total: self.path_ratios.iter().map(|(_, r)| r.total).sum(),
        }
    }
}

/// Assembles the coverage once the cases have run. `cases` are the cases that ran; `partial`
/// says why the run was partial (`--filter`, `--shard`), which skips the gate.
pub fn finish<'w>(
    ws: &'w Workspace,
    recorder: &Recorder<'_>,
    cases: &[Case],
    partial: Option<&str>,
) -> Result<Coverage<'w>, Vec<Problem>> {
    let policies = policy_items(ws, recorder)?;
    let counted = policies.iter().filter(|p| p.ignored.is_none());
    let policy_ratio = ratio(counted.clone().map(|p| p.determined));
    let condition_ratio = ratio(
        counted
            .filter(|p| p.kind != Kind::Link)
            .flat_map(|p| p.clauses.iter().map(|c| c.seen_true && c.seen_false)),
    );
    let (paths, path_ratios, paths_skipped) = match profiles::select(ws, &[], None) {
        Ok(profiles) if !profiles.is_empty() => {
            let (paths, ratios) = path_items(ws, &profiles, cases);
            (Some(paths), ratios, None)
        }
        Ok(_) | Err(_) => (
            None,
            Vec::new(),
            Some("no profile to compute paths under: configure `profiles:` in actas.yaml".into()),
        ),
    };
    let mut coverage = Coverage {
        policies,
        paths,
        policy_ratio,
        condition_ratio,
        path_ratios,
        paths_skipped,
        gate_applied: false,
        shortfalls: Vec::new(),
        gate_skipped: None,
    };
    let gate = &ws.coverage;
    if *gate != CoverageGate::default() {
        match partial {
            Some(why) => {
                coverage.gate_skipped = Some(format!(
                    "the coverage gate of actas.yaml is not applied: {why} runs only part of the suite"
                ));
            }
            None => {
                coverage.gate_applied = true;
                coverage.shortfalls = shortfalls(gate, &coverage);
            }
        }
    }
    Ok(coverage)
}

fn ratio(covered: impl Iterator<Item = bool>) -> Ratio {
    let mut r = Ratio {
        covered: 0,
        total: 0,
    };
    for c in covered {
        r.total += 1;
        r.covered += usize::from(c);
    }
    r
}

fn shortfalls(gate: &CoverageGate, coverage: &Coverage) -> Vec<Shortfall> {
    let mut out = Vec::new();
    let mut check = |what: String, required: Option<f64>, ratio: Ratio| {
        if let Some(required) = required {
            let actual = ratio.percent();
            if actual < required {
                out.push(Shortfall {
                    what,
                    required,
                    actual,
                });
            }
        }
    };
    check("policies".into(), gate.policies, coverage.policy_ratio);
    check(
        "conditions".into(),
        gate.conditions,
        coverage.condition_ratio,
    );
    if coverage.paths_skipped.is_none() {
        check("paths".into(), gate.paths, coverage.all_paths());
        for (profile, ratio) in &coverage.path_ratios {
            check(
                format!("paths under `{profile}`"),
                gate.profiles.get(profile).copied(),
                *ratio,
            );
        }
    }
    out
}

/// Every static policy, link and template, with what was seen of it.
fn policy_items(
    ws: &Workspace,
    recorder: &Recorder<'_>,
) -> Result<Vec<PolicyCoverage>, Vec<Problem>> {
    let slicer = ws.engine.slicer();
    let places = ws.policy_places();
    let seen = recorder.probes.seen();
    let mut problems = Vec::new();
    let mut items: Vec<PolicyCoverage> = Vec::new();
    for (i, seen) in seen.into_iter().enumerate() {
        let policy = slicer.policy(i);
        let id = PolicyId::from(policy.id());
        let meta = ws.policies.get(&id);
        let template = meta.and_then(|m| m.template.clone());
        let owner = template.as_ref().unwrap_or(&id);
        let place = places.get(owner.as_str());
        let file = meta.map(|m| m.file.clone()).unwrap_or_default();
        let line = ws.policy_line(&places, id.as_str()).map(|(_, line)| line);
        let ignored = ignore_reason(policy.annotation(IGNORE_ANNOTATION), &id, &file, line)
            .map_err(|p| problems.push(*p))
            .ok()
            .flatten();
        let determined_count = recorder.determined[i].load(Ordering::Relaxed);
        let Seen {
            whole_true,
            whole_false,
            clauses,
            unprobed,
        } = seen;
        let clauses = clauses
            .into_iter()
            .enumerate()
            .map(|(k, (when, t, f))| Clause {
                kind: if when { "when" } else { "unless" },
                line: place.and_then(|p| p.clause_line(k)),
                seen_true: t,
                seen_false: f,
            })
            .collect();
        items.push(PolicyCoverage {
            id,
            file,
            line,
            kind: match (template.is_some(), policy.effect()) {
                (true, _) => Kind::Link,
                (false, Effect::Permit) => Kind::Permit,
                (false, Effect::Forbid) => Kind::Forbid,
            },
            effect: effect_name(policy.effect()),
            template,
            determined: determined_count > 0,
            determined_count,
            condition_true: whole_true,
            condition_false: whole_false,
            clauses,
            ignored,
            unprobed,
        });
    }
    items.extend(templates(ws, &places, &items, &mut problems));
    if !problems.is_empty() {
        return Err(problems);
    }
    items.sort_by(|a, b| (&a.file, a.line, &a.id).cmp(&(&b.file, b.line, &b.id)));
    Ok(items)
}

fn effect_name(effect: Effect) -> &'static str {
    match effect {
        Effect::Permit => "permit",
        Effect::Forbid => "forbid",
    }
}

/// Each template, from what its links saw.
fn templates(
    ws: &Workspace,
    places: &BTreeMap<String, crate::workspace::places::PolicyPlace>,
    items: &[PolicyCoverage],
    problems: &mut Vec<Problem>,
) -> Vec<PolicyCoverage> {
    let mut out = Vec::new();
    for template in ws.engine.policies.templates() {
        let id = PolicyId::from(template.id());
        let place = places.get(id.as_str());
        let file = ws
            .policies
            .get(&id)
            .map(|m| m.file.clone())
            .unwrap_or_default();
        let line = place.map(crate::workspace::places::PolicyPlace::line);
        let links: Vec<&PolicyCoverage> = items
            .iter()
            .filter(|l| l.template.as_ref() == Some(&id))
            .collect();
        let ignored = ignore_reason(template.annotation(IGNORE_ANNOTATION), &id, &file, line)
            .map_err(|p| problems.push(*p))
            .ok()
            .flatten();
        let clause_count = place.map_or(0, |p| p.clauses.len());
        let clauses = (0..clause_count)
            .map(|k| Clause {
                kind: clause_kind(place, k),
                line: place.and_then(|p| p.clause_line(k)),
                seen_true: links
                    .iter()
                    .any(|l| l.clauses.get(k).is_some_and(|c| c.seen_true)),
                seen_false: links
                    .iter()
                    .any(|l| l.clauses.get(k).is_some_and(|c| c.seen_false)),
            })
            .collect();
        out.push(PolicyCoverage {
            id,
            file,
            line,
            kind: Kind::Template,
            effect: effect_name(template.effect()),
            template: None,
            determined: links.iter().any(|l| l.determined),
            determined_count: links.iter().map(|l| l.determined_count).sum(),
            condition_true: links.iter().any(|l| l.condition_true),
            condition_false: links.iter().any(|l| l.condition_false),
            clauses,
            ignored,
            unprobed: links.iter().find_map(|l| l.unprobed.clone()),
        });
    }
    out
}

/// A clause's keyword, read from the text (a template is never evaluated itself).
fn clause_kind(place: Option<&crate::workspace::places::PolicyPlace>, k: usize) -> &'static str {
    let keyword = place.and_then(|p| {
        let at = *p.clauses.get(k)?;
        p.file.text.get(at..at + 6)
    });
    if keyword == Some("unless") {
        "unless"
    } else {
        "when"
    }
}

/// `@actas_coverage("ignore: why")`: the reason; any other value is bad input.
fn ignore_reason(
    value: Option<&str>,
    id: &PolicyId,
    file: &str,
    line: Option<usize>,
) -> Result<Option<String>, Box<Problem>> {
    let Some(value) = value else {
        return Ok(None);
    };
    match value.strip_prefix("ignore:").map(str::trim) {
        Some(why) if !why.is_empty() => Ok(Some(why.to_string())),
        _ => {
            let at = line.map_or_else(|| format!("`{file}`"), |l| format!("`{file}:{l}`"));
            Err(Box::new(
                Problem::new(format!(
                    "policy `{id}` ({at}): @{IGNORE_ANNOTATION}(\"{value}\") is not `ignore: <why>`"
                ))
                .with_help(format!(
                    "write @{IGNORE_ANNOTATION}(\"ignore: why no scenario needs it\"), or remove it"
                )),
            ))
        }
    }
}

/// Every path `report` lists, per profile, and whether a case exercises its pair.
fn path_items<'w>(
    ws: &'w Workspace,
    profiles: &[profiles::Profile],
    cases: &[Case],
) -> (Paths<'w>, Vec<(ProfileName, Ratio)>) {
    let exercised: HashSet<(Arc<str>, Arc<str>)> = exercised_pairs(cases)
        .into_iter()
        .map(|(p, t)| (Arc::from(p), Arc::from(t)))
        .collect();
    let paths = Paths {
        reached: Reached::compute(&ws.engine, profiles, &Query::All),
        exercised,
    };
    let mut ratios: Vec<Ratio> = vec![
        Ratio {
            covered: 0,
            total: 0
        };
        profiles.len()
    ];
    for shape in paths.reached.shapes() {
        let covered = paths.covered(shape.principal_name(), shape.target_name());
        for (i, r) in ratios.iter_mut().enumerate() {
            if shape.under(i) {
                r.total += 1;
                r.covered += usize::from(covered);
            }
        }
    }
    let ratios = profiles
        .iter()
        .map(|p| p.name.clone())
        .zip(ratios)
        .collect();
    (paths, ratios)
}

/// The (principal, target) pairs the cases name, as uid strings.
fn exercised_pairs(cases: &[Case]) -> BTreeSet<(String, String)> {
    let mut pairs = BTreeSet::new();
    for case in cases {
        match &case.kind {
            CaseKind::Request(r) => {
                if let Some(last) = r.hops.last() {
                    pairs.insert((r.principal.to_string(), last.to.to_string()));
                }
            }
            CaseKind::WhoCan { target, expect, .. } => {
                for p in expect {
                    pairs.insert((p.to_string(), target.to_string()));
                }
            }
            CaseKind::ReachableBy {
                principal, expect, ..
            } => {
                for t in expect {
                    pairs.insert((principal.to_string(), t.to_string()));
                }
            }
        }
    }
    pairs
}
