//! `actas snapshot` and `actas drift`: record the workspace's effective access, and compare the
//! current policies with that record (new and removed paths and grants, each with the policies
//! behind it and a severity) and with a usage log (granted but unused, used but now denied).
//!
//! Severity (docs/commands/drift.md): removed access is `low`; added access is `medium`, or `high` when a
//! human gains a path to an account that holds a direct grant on a sensitive resource, or a
//! human gains a grant (own or acting as an account) on a sensitive resource. Sensitive
//! resources are those `in` an entity of `drift.sensitive` in actas.yaml. `drift.fail_on`
//! (default `low`) is the lowest severity that makes `drift` exit 1.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use cedar_policy::EntityUid;
use rustc_hash::FxHashMap;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::analysis::baseline::{
    self, Baseline, GrantEntry, PathEntry, PathLine, ReadError, ReadPath,
};
use crate::analysis::compare::{self, PathMerge};
use crate::analysis::effective::{self, Effective};
use crate::analysis::item::{AccessItem, Accessed};
use crate::analysis::profiles::{self, Profile};
use crate::core::diag::Problem;
use crate::core::ids::{PolicyId, ProfileName};
use crate::core::uid::parse_uid;
use crate::engine::{Behind, Engine};
use crate::workspace::{Severity, Workspace};

/// One new or removed path or grant.
#[derive(Debug, Clone)]
pub struct DriftItem {
    pub severity: Severity,
    pub item: AccessItem,
}

/// A request of the usage log that the current policies deny, with every line it is on.
#[derive(Debug, Clone)]
pub struct UsageDenied {
    pub lines: Vec<usize>,
    pub principal: String,
    pub chain: Vec<String>,
    pub action: String,
    pub resource: String,
    /// The forbids that fired under each profile tried (empty: no permit matched).
    pub reasons: Vec<PolicyId>,
}

/// Granted (under some profile) but not used in the log's window, per identity and action.
#[derive(Debug, Clone)]
pub struct Unused {
    pub principal: String,
    pub acting_as: Option<String>,
    pub action: String,
    pub resources: Vec<String>,
}

/// How many skipped or unknown entries a usage report lists by line (a log of a million lines
/// naming people who left would otherwise make a report of a million lines); the rest are
/// counted.
pub const NOTED: usize = 1_000;

/// Distinct requests whose evaluation is remembered while the log is read; past this the memo
/// starts again, so memory stays bounded whatever the log holds.
const MEMO: usize = 100_000;

/// The longest usage-log line read (a logged request is a few hundred bytes; a longer line is
/// not a log line, and `--lenient` cannot skip a line that never ends, so it stops the read).
const MAX_LINE: usize = 1 << 20;

#[derive(Debug, Clone, Default)]
pub struct UsageReport {
    pub file: String,
    pub lines: usize,
    /// Entries inside the window (after `--since`).
    pub considered: usize,
    pub first: Option<String>,
    pub last: Option<String>,
    /// Malformed lines skipped under `--lenient`: (line, why), the first [`NOTED`].
    pub skipped: Vec<(usize, String)>,
    /// Malformed lines skipped beyond those listed.
    pub skipped_omitted: usize,
    /// Entries naming entities not in the inventory: (line, why), the first [`NOTED`].
    /// Reported, not fatal.
    pub unknown: Vec<(usize, String)>,
    /// Such entries beyond those listed.
    pub unknown_omitted: usize,
    pub denied: Vec<UsageDenied>,
    pub unused: Vec<Unused>,
}

/// A policy change and what it causes: the policies it is about, and each new (or removed) path
/// or grant they are behind once, with the profiles it holds under.
///
/// Which policies a change is about: for new access, those of its policies that the baseline
/// never names (a policy added, or one that allowed nothing before), else all of them (a policy
/// edited); for removed access, those no longer in the workspace, else all of them.
#[derive(Debug, Clone)]
pub struct PolicyChange {
    /// Each policy with where it is written now (`None`: no longer in the workspace).
    pub policies: Vec<(PolicyId, Option<(String, usize)>)>,
    pub consequences: Vec<Consequence>,
}

/// One path or grant gained or lost, under one or more profiles.
#[derive(Debug, Clone)]
pub struct Consequence {
    /// The highest over its profiles.
    pub severity: Severity,
    pub access: Accessed,
    /// The profiles it holds under, in the run's order.
    pub profiles: Vec<ProfileName>,
    /// Whether that is every profile (of the current run for new access, of the baseline for
    /// removed access).
    pub every_profile: bool,
    /// Policies behind it besides the change's own (the rest of a chain), sorted.
    pub also: Vec<PolicyId>,
}

impl PolicyChange {
    /// The highest severity among its consequences.
    pub fn severity(&self) -> Severity {
        self.consequences
            .iter()
            .map(|c| c.severity)
            .max()
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub struct DriftResult {
    pub baseline: String,
    pub new: Vec<DriftItem>,
    pub removed: Vec<DriftItem>,
    /// `new` grouped by the policy change behind each item.
    pub new_by_change: Vec<PolicyChange>,
    /// `removed` grouped likewise.
    pub removed_by_change: Vec<PolicyChange>,
    /// Profiles added, removed or changed since the baseline.
    pub notes: Vec<String>,
    pub fail_on: Severity,
    pub accepted: bool,
    pub usage: Option<UsageReport>,
    /// Why `--accept` could not write the new baseline (the report above still stands).
    pub accept_failed: Option<Problem>,
}

impl DriftResult {
    /// What fails the run: changes at or above `fail_on`, and logged requests now denied.
    fn failing_counts(&self) -> (usize, usize) {
        let changes = self
            .new
            .iter()
            .chain(&self.removed)
            .filter(|i| i.severity >= self.fail_on)
            .count();
        let denied = self.usage.as_ref().map_or(0, |u| u.denied.len());
        (changes, denied)
    }

    /// Why the run fails, each reason with its count (empty when it does not).
    pub fn failing_reasons(&self) -> Vec<String> {
        let (changes, denied) = self.failing_counts();
        let mut reasons = Vec::new();
        if changes > 0 {
            reasons.push(format!(
                "{} at or above {}",
                crate::core::diag::plural(changes, "change", "changes"),
                self.fail_on.name()
            ));
        }
        if denied > 0 {
            reasons.push(format!(
                "{} of the usage log now denied",
                crate::core::diag::plural(denied, "request", "requests")
            ));
        }
        reasons
    }

    /// Drift that fails the run: an item at or above `fail_on`, or a used request now denied.
    pub fn failing(&self) -> bool {
        self.failing_counts() != (0, 0)
    }
}

#[derive(Debug, Clone, Default)]
pub struct DriftOptions {
    pub baseline: Option<PathBuf>,
    pub accept: bool,
    pub usage: Option<PathBuf>,
    pub since: Option<String>,
    pub lenient: bool,
}

/// The current effective access, and its baseline but for the paths (streamed from it).
fn current(ws: &Workspace) -> Result<(Vec<Profile>, Effective<'_>, Baseline), Vec<Problem>> {
    let profiles = profiles::select(ws, &[], None)?;
    let effective = effective::compute(&ws.engine, &profiles);
    let mut b = baseline::from_effective(&ws.engine, &effective);
    b.provenance = Some(ws.record_provenance());
    Ok((profiles, effective, b))
}

fn baseline_path(ws: &Workspace, given: Option<&PathBuf>) -> PathBuf {
    ws.root
        .join(given.map_or(Path::new(baseline::DEFAULT_PATH), |p| p.as_path()))
}

/// Writes `b` with the paths of `e` to `path`, atomically; returns how many paths it wrote.
fn write_baseline(path: &Path, b: &Baseline, e: &Effective) -> std::io::Result<usize> {
    let mut paths = 0;
    crate::core::files::write_output_with(path, &mut |w| {
        paths = baseline::write(w, b, baseline::path_lines(e))?;
        Ok(())
    })?;
    Ok(paths)
}

/// What `snapshot` recorded.
pub struct Snapshot {
    pub path: String,
    pub profiles: usize,
    pub paths: usize,
    pub grants: usize,
}

/// `actas snapshot`: writes the baseline; returns its display path and figures.
pub fn snapshot(ws: &Workspace, output: Option<&PathBuf>) -> Result<Snapshot, Vec<Problem>> {
    let (_, effective, b) = current(ws)?;
    let path = baseline_path(ws, output);
    let display = crate::core::files::display_path(&ws.root, &path);
    let paths = write_baseline(&path, &b, &effective).map_err(|e| {
        vec![Problem::new(format!(
            "failed to write `{display}`: {}; the previous baseline, if any, is unchanged",
            crate::core::files::io_reason(&e)
        ))]
    })?;
    Ok(Snapshot {
        path: display,
        profiles: b.profiles.len(),
        paths,
        grants: b.grants.len(),
    })
}

pub fn drift(ws: &Workspace, opts: &DriftOptions) -> Result<DriftResult, Vec<Problem>> {
    let path = baseline_path(ws, opts.baseline.as_ref());
    let display = crate::core::files::display_path(&ws.root, &path);
    let (profiles, effective, now) = current(ws)?;
    let read = compare_with_baseline(&path, &effective);
    let (old, merge) = read.map_err(|e| {
        let p = match e {
            ReadError::Io(why) => {
                Problem::new(format!("failed to read baseline `{display}`: {why}"))
                    .with_help("record one with `actas snapshot`")
            }
            ReadError::Malformed(why) => {
                Problem::new(format!("`{display}` is not a usable baseline: {why}"))
                    .with_help("record a new one with `actas snapshot`")
            }
            ReadError::Version(v) => Problem::new(format!(
                "`{display}` is a version {v} baseline; this actas reads version {}",
                baseline::VERSION
            ))
            .with_help("re-record it with `actas snapshot` (the old file is left as it is)"),
        };
        vec![p]
    })?;
    if old.schema != now.schema {
        return Err(vec![Problem::new(format!(
            "`{display}` was recorded under another schema (fingerprint {}, now {})",
            old.schema, now.schema
        ))
        .with_help(
            "access cannot be compared across schemas; review the change, then record a new baseline with `actas snapshot` (nothing was overwritten)",
        )]);
    }
    let usage = match &opts.usage {
        Some(log) => Some(usage(ws, log, opts, &profiles, &now, &effective)?),
        None => None,
    };

    let notes = notes(&old, &now);
    let (gained, lost) = compare::grant_changes(&old.grants, &now.grants, &merge, &effective);

    let rate = Rater::new(ws, &now);
    let new: Vec<DriftItem> = merge
        .added
        .iter()
        .map(AccessItem::from)
        .chain(gained.iter().map(AccessItem::from))
        .map(|item| DriftItem {
            severity: rate.added(&item),
            item,
        })
        .collect();
    let removed: Vec<DriftItem> = merge
        .removed
        .iter()
        .map(AccessItem::from)
        .chain(lost.iter().map(AccessItem::from))
        .map(|item| DriftItem {
            severity: Severity::Low,
            item,
        })
        .collect();
    let places = ws.policy_places();
    // Every policy the baseline names as behind some access.
    let mut named_before = merge.earlier_policies;
    named_before.extend(old.grants.iter().flat_map(|g| g.policies.iter().cloned()));
    let new_by_change = by_change(
        &new,
        |p| !named_before.contains(p),
        &profile_names(&now),
        |p| ws.policy_line(&places, p.as_str()),
    );
    let removed_by_change = by_change(
        &removed,
        |p| !ws.policies.contains_key(p),
        &profile_names(&old),
        |p| ws.policy_line(&places, p.as_str()),
    );
    let mut result = DriftResult {
        baseline: display.clone(),
        new,
        removed,
        new_by_change,
        removed_by_change,
        notes,
        fail_on: ws.drift.fail_on,
        accepted: false,
        usage,
        accept_failed: None,
    };
    if opts.accept {
        // The report stands whether or not the new baseline could be written.
        match write_baseline(&path, &now, &effective) {
            Ok(_) => result.accepted = true,
            Err(e) => {
                result.accept_failed = Some(Problem::new(format!(
                    "failed to write `{display}`: {}; the previous baseline is unchanged",
                    crate::core::files::io_reason(&e)
                )));
            }
        }
    }
    Ok(result)
}

/// The baseline at `path`, but for its paths, and its paths merged with those of `effective`.
fn compare_with_baseline<'e>(
    path: &Path,
    effective: &'e Effective<'_>,
) -> Result<
    (
        Baseline,
        PathMerge<'e, impl Iterator<Item = PathEntry> + 'e>,
    ),
    ReadError,
> {
    // The baseline's paths are compared with the current ones as they are read, a principal at
    // a time: one whose lines hash as its current paths would be written is unchanged, and its
    // current paths are never made; the others' are made and compared path by path. A principal
    // recorded as reaching what another does is unchanged when that one is and the two still
    // reach alike; else it is compared with the other's lines once the file is read.
    let contents = baseline::contents(effective);
    let names = &effective.reached.identities().names;
    let now_content: FxHashMap<&str, (u128, u32)> = contents
        .iter()
        .map(|c| (&*names[c.principal as usize], (c.content, c.principal)))
        .collect();
    // The text each principal's lines would be written with now, hashed, and the policies they
    // name, by content (principals that reach alike have the same lines): a principal whose
    // lines in the file have that text is passed over by the reader without parsing them.
    use rayon::prelude::*;
    let mut first: FxHashMap<u128, u32> = FxHashMap::default();
    for c in &contents {
        first.entry(c.content).or_insert(c.principal);
    }
    let text_now: FxHashMap<u128, (u128, Vec<PolicyId>)> = (first.into_iter().collect::<Vec<_>>())
        .into_par_iter()
        .map(|(content, n)| (content, baseline::text_content(effective, n)))
        .collect();
    let text_of = |principal: &str| {
        let (content, _) = now_content.get(principal)?;
        text_now.get(content)
    };
    let unchanged = |principal: &str, text: u128| text_of(principal).is_some_and(|t| t.0 == text);
    // The hash of the lines that would be written now, by content (principals that reach alike
    // have the same lines).
    let mut lines_now: FxHashMap<u128, u128> = FxHashMap::default();
    let make = move |principal: &str| baseline::principal_entries(effective, principal);
    let principals: Vec<u32> = contents.iter().map(|c| c.principal).collect();
    let unmade =
        (principals.into_iter()).map(move |n| compare::unmade(names[n as usize].to_string()));
    let mut merge = PathMerge::lazy(unmade, Box::new(make));
    let mut differ: Vec<(String, String)> = Vec::new();
    // The lines of the principal being read.
    let mut held: Vec<PathLine> = Vec::new();
    let old = baseline::read_beside(path, &unchanged, &mut |read| match read {
        ReadPath::Path(lines) => {
            held.extend(lines);
            Ok(())
        }
        ReadPath::Unchanged { principal } => {
            let policies = text_of(&principal).map(|t| &t.1[..]).unwrap_or_default();
            merge.earlier_policies.extend(policies.iter().cloned());
            merge.pass_over(&principal);
            Ok(())
        }
        ReadPath::End { principal, content } => {
            let now = now_content.get(principal.as_str()).map(|&(now, n)| {
                *lines_now
                    .entry(now)
                    .or_insert_with(|| baseline::lines_content(effective, n))
            });
            if now == Some(content) {
                merge.pass_over(&principal);
                // Most paths of a principal are behind the same policies as the one before.
                let mut previous: &[PolicyId] = &[];
                for p in &held {
                    if p.policies != previous {
                        merge.earlier_policies.extend(p.policies.iter().cloned());
                        previous = &p.policies;
                    }
                }
                held.clear();
                return Ok(());
            }
            let lines = std::mem::take(&mut held);
            (baseline::path_entries_of(lines).into_iter()).try_for_each(|p| merge.push(p))
        }
        ReadPath::Same { principal, same_as } => {
            // Unchanged when `same_as` is (its paths were compared: those before this line) and
            // the principal still reaches as it does.
            merge.pass_over(&principal);
            let content = |p: &str| now_content.get(p).map(|c| c.0);
            let alike = content(&principal).is_some() && content(&principal) == content(&same_as);
            if !alike || merge.changed(&same_as) {
                differ.push((principal, same_as));
            }
            Ok(())
        }
    })?;
    compare_alike(path, effective, &mut merge, &differ)?;
    Ok((old, merge.finish()))
}

/// Compares each principal of `differ` (principal, the one the baseline says it reaches as)
/// with the paths the baseline lists for the other, read again from the file (only when some
/// principal's content changed): one listed principal's paths are held at a time.
fn compare_alike<I: Iterator<Item = PathEntry>>(
    path: &Path,
    effective: &Effective,
    merge: &mut PathMerge<'_, I>,
    differ: &[(String, String)],
) -> Result<(), ReadError> {
    if differ.is_empty() {
        return Ok(());
    }
    let mut members: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (principal, same_as) in differ {
        members.entry(same_as).or_default().push(principal);
    }
    let mut held: Vec<PathLine> = Vec::new();
    let compare = |held: &mut Vec<PathLine>, merge: &mut PathMerge<'_, I>| {
        let Some(first) = held.first() else { return };
        let listed = members.get(first.principal.as_str());
        let entries = baseline::path_entries_of(std::mem::take(held));
        for principal in listed.into_iter().flatten() {
            let now = baseline::principal_entries(effective, principal);
            let mut one = PathMerge::new(now.into_iter());
            for p in &entries {
                // In order: the listed principal's paths are, and the name is the same in each.
                let _ = one.push(PathEntry {
                    principal: (*principal).to_owned(),
                    ..p.clone()
                });
            }
            merge.absorb(one);
        }
    };
    baseline::read_beside(path, &|_, _| false, &mut |read| {
        match read {
            ReadPath::Path(lines)
                if lines
                    .first()
                    .is_some_and(|l| members.contains_key(l.principal.as_str())) =>
            {
                held.extend(lines);
            }
            ReadPath::End { .. } => compare(&mut held, merge),
            _ => {}
        }
        Ok(())
    })?;
    Ok(())
}

/// What changed around the access since the baseline: profiles, max_chain, the input files.
fn notes(old: &Baseline, now: &Baseline) -> Vec<String> {
    let mut notes = Vec::new();
    let old_profiles: BTreeMap<&str, &Map<String, Value>> = old
        .profiles
        .iter()
        .map(|p| (p.name.as_str(), &p.context))
        .collect();
    for p in &now.profiles {
        match old_profiles.get(p.name.as_str()) {
            None => notes.push(format!("profile `{}` is new since the baseline", p.name)),
            Some(c) if **c != p.context => notes.push(format!(
                "profile `{}` has another context than in the baseline",
                p.name
            )),
            Some(_) => {}
        }
    }
    for p in &old.profiles {
        if !now.profiles.iter().any(|x| x.name == p.name) {
            notes.push(format!("profile `{}` is gone since the baseline", p.name));
        }
    }
    // The current baseline hashed the inputs already: compare, do not read them again.
    if let Some((recorded, current)) = old.provenance.as_ref().zip(now.provenance.as_ref()) {
        let changes = recorded.changes_to(current);
        if !changes.is_empty() {
            let shown: Vec<&str> = changes.iter().take(3).map(String::as_str).collect();
            let more = if changes.len() > 3 {
                format!("; and {} more", changes.len() - 3)
            } else {
                String::new()
            };
            notes.push(format!(
                "inputs changed since the baseline: {}{more}",
                shown.join("; ")
            ));
        }
    }
    if old.max_chain != now.max_chain {
        notes.push(format!(
            "max_chain was {} in the baseline, is {} now",
            old.max_chain, now.max_chain
        ));
    }
    notes
}

fn profile_names(b: &Baseline) -> Vec<ProfileName> {
    b.profiles.iter().map(|p| p.name.clone()).collect()
}

/// Groups drift items by the policy change behind each (see [`PolicyChange`]): `changed` tells
/// the policies that changed from those behind an item; `place` where a policy is written.
/// Changes come highest severity first, then by policy; consequences likewise, then in the
/// items' order.
fn by_change(
    items: &[DriftItem],
    changed: impl Fn(&PolicyId) -> bool,
    profiles: &[ProfileName],
    place: impl Fn(&PolicyId) -> Option<(String, usize)>,
) -> Vec<PolicyChange> {
    let mut groups: BTreeMap<Vec<PolicyId>, BTreeMap<&Accessed, Consequence>> = BTreeMap::new();
    let mut order: BTreeMap<&Accessed, usize> = BTreeMap::new();
    for (n, i) in items.iter().enumerate() {
        let mut cause: Vec<PolicyId> = i
            .item
            .policies
            .iter()
            .filter(|p| changed(p))
            .cloned()
            .collect();
        if cause.is_empty() {
            cause.clone_from(&i.item.policies);
        }
        order.entry(&i.item.access).or_insert(n);
        let also = i
            .item
            .policies
            .iter()
            .filter(|p| !cause.contains(p))
            .cloned();
        let c = groups
            .entry(cause.clone())
            .or_default()
            .entry(&i.item.access)
            .or_insert_with(|| Consequence {
                severity: i.severity,
                access: i.item.access.clone(),
                profiles: Vec::new(),
                every_profile: false,
                also: Vec::new(),
            });
        c.severity = c.severity.max(i.severity);
        c.profiles.push(i.item.profile.clone());
        c.also.extend(also);
    }
    let mut changes: Vec<PolicyChange> = groups
        .into_iter()
        .map(|(cause, consequences)| {
            let mut consequences: Vec<Consequence> = consequences
                .into_values()
                .map(|mut c| {
                    c.profiles
                        .sort_by_key(|p| profiles.iter().position(|x| x == p));
                    c.profiles.dedup();
                    c.every_profile = profiles.iter().all(|p| c.profiles.contains(p));
                    c.also.sort();
                    c.also.dedup();
                    c
                })
                .collect();
            consequences.sort_by_key(|c| (std::cmp::Reverse(c.severity), order.get(&c.access)));
            PolicyChange {
                policies: cause
                    .into_iter()
                    .map(|p| {
                        let at = place(&p);
                        (p, at)
                    })
                    .collect(),
                consequences,
            }
        })
        .collect();
    changes.sort_by_key(|c| std::cmp::Reverse(c.severity()));
    changes
}

/// Severity of added access.
struct Rater {
    sensitive: BTreeSet<String>,
    /// Per profile: accounts with a direct grant on a sensitive resource.
    touching: BTreeSet<(ProfileName, String)>,
    /// The inventory's people, as the baseline writes uids.
    humans: BTreeSet<String>,
}

impl Rater {
    fn new(ws: &Workspace, now: &Baseline) -> Self {
        let targets: BTreeSet<String> =
            ws.drift.sensitive.iter().map(ToString::to_string).collect();
        let sensitive: BTreeSet<String> = ws
            .engine
            .entities
            .iter()
            .map(|e| e.uid())
            .filter(|u| {
                targets.contains(&u.to_string())
                    || ws
                        .engine
                        .entities
                        .ancestors(u)
                        .is_some_and(|mut a| a.any(|x| targets.contains(&x.to_string())))
            })
            .map(|u| u.to_string())
            .collect();
        let touching = now
            .grants
            .iter()
            .filter(|g| g.acting_as.is_none() && sensitive.contains(&g.resource))
            .map(|g| (g.profile.clone(), g.principal.clone()))
            .collect();
        let humans = ws
            .engine
            .entities
            .iter()
            .map(|e| e.uid())
            .filter(|u| ws.human_types.contains(&u.type_name().to_string()))
            .map(|u| u.to_string())
            .collect();
        Self {
            sensitive,
            touching,
            humans,
        }
    }

    /// Whether a uid of the current access is a person (added items are all in the inventory).
    fn human(&self, uid: &str) -> bool {
        self.humans.contains(uid)
    }

    fn added(&self, item: &AccessItem) -> Severity {
        let high = self.human(item.principal())
            && match &item.access {
                Accessed::Path { target, .. } => self
                    .touching
                    .contains(&(item.profile.clone(), target.clone())),
                Accessed::Grant { resource, .. } => self.sensitive.contains(resource),
            };
        if high {
            Severity::High
        } else {
            Severity::Medium
        }
    }
}

/// One line of a usage log (DESIGN §3).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageLine {
    time: String,
    principal: Value,
    #[serde(default)]
    chain: Vec<Value>,
    action: Value,
    resource: Value,
    /// The request's context, when the log has it; else each profile is tried.
    context: Option<Map<String, Value>>,
}

/// Streams the usage log line by line: what was used and is now denied, and what is granted
/// but was never used in the window.
/// `profiles` and `now` (the current effective access) are those `drift` already computed.
fn usage(
    ws: &Workspace,
    log: &Path,
    opts: &DriftOptions,
    profiles: &[Profile],
    now: &Baseline,
    effective: &Effective,
) -> Result<UsageReport, Vec<Problem>> {
    let display = crate::core::files::display_path(&ws.root, &ws.root.join(log));
    let since = match &opts.since {
        Some(s) => Some(jiff::Timestamp::from_str(s).map_err(|e| {
            vec![Problem::new(format!("--since `{s}`: {e}"))
                .with_help("give an RFC 3339 time, e.g. 2026-11-01T00:00:00Z")]
        })?),
        None => None,
    };
    let file = std::fs::File::open(ws.root.join(log)).map_err(|e| {
        vec![Problem::new(format!(
            "failed to read `{display}`: {}",
            crate::core::files::io_reason(&e)
        ))]
    })?;
    let engine = &ws.engine;
    let mut report = UsageReport {
        file: display.clone(),
        ..UsageReport::default()
    };
    let mut used = Used::new();
    // Where each distinct denial is in `report.denied`: a log of many denials groups in one pass.
    let mut denied_at: HashMap<DeniedKey, usize> = HashMap::new();
    let mut problems = Vec::new();
    let mut window: Option<(jiff::Timestamp, jiff::Timestamp)> = None;
    let mut cache: HashMap<String, Result<Checked, String>> = HashMap::new();
    let mut reader = std::io::BufReader::new(file);
    let mut bytes = Vec::new();
    let mut n = 0;
    loop {
        n += 1;
        let more =
            crate::core::files::next_line(&mut reader, MAX_LINE, &mut bytes).map_err(|e| {
                vec![Problem::new(format!(
                    "failed to read `{display}` at line {n}: {}",
                    crate::core::files::io_reason(&e)
                ))
                .with_help("a usage log has one JSON object per line (see `actas drift --help`)")]
            })?;
        if more.is_none() {
            break;
        }
        report.lines = n;
        if problems.len() >= NOTED {
            // First, so that it shows above the lines when a terminal lists only some.
            problems.insert(
                0,
                Problem::new(format!(
                    "`{display}`: stopped reading at line {n} after {NOTED} malformed lines"
                ))
                .with_help("is this a usage log? `--lenient` skips and counts malformed lines"),
            );
            break;
        }
        let line = crate::core::files::text_of(std::mem::take(&mut bytes));
        if line.as_ref().is_ok_and(|l| l.trim().is_empty()) {
            continue;
        }
        let entry = line
            .map_err(|why| (why, None))
            .and_then(|line| usage_line(&line));
        let (entry, time) = match entry {
            Ok(x) => x,
            Err((why, column)) if opts.lenient => {
                let why = match column {
                    Some(c) => format!("column {c}: {why}"),
                    None => why,
                };
                note(&mut report.skipped, &mut report.skipped_omitted, n, why);
                continue;
            }
            Err((why, column)) => {
                let place = column.map_or(format!("line {n}"), |c| format!("line {n}, column {c}"));
                problems.push(
                    Problem::new(format!("`{display}` {place}: {why}")).with_help(
                        "fix the line, or pass --lenient to skip and count malformed lines",
                    ),
                );
                continue;
            }
        };
        if since.is_some_and(|s| time < s) {
            continue;
        }
        report.considered += 1;
        window = Some(match window {
            None => (time, time),
            Some((a, b)) => (a.min(time), b.max(time)),
        });
        // Logs repeat the same requests: evaluate each distinct one once.
        let key = serde_json::to_string(&(
            &entry.principal,
            &entry.chain,
            &entry.action,
            &entry.resource,
            &entry.context,
        ))
        .unwrap_or_default();
        if cache.len() >= MEMO {
            cache.clear();
        }
        let checked = cache
            .entry(key)
            .or_insert_with(|| usage_entry(engine, profiles, &entry))
            .clone();
        record(&mut report, &mut used, &mut denied_at, n, checked);
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    report.first = window.map(|(a, _)| a.to_string());
    report.last = window.map(|(_, b)| b.to_string());

    report.unused = unused_grants(now, effective, &used);
    Ok(report)
}

/// A usage-log line read, or why not with, for a JSON syntax error, its column in the line.
fn usage_line(line: &str) -> Result<(UsageLine, jiff::Timestamp), (String, Option<usize>)> {
    let u: UsageLine = serde_json::from_str(line).map_err(|e| {
        let (why, place) = crate::core::diag::json_error_parts(&e);
        (why, place.map(|(_, column)| column))
    })?;
    let t = jiff::Timestamp::from_str(&u.time)
        .map_err(|e| (format!("`time` `{}`: {e}", u.time), None))?;
    Ok((u, t))
}

/// Lists an entry by line while fewer than [`NOTED`] are, else counts it.
fn note(list: &mut Vec<(usize, String)>, omitted: &mut usize, line: usize, why: String) {
    if list.len() < NOTED {
        list.push((line, why));
    } else {
        *omitted += 1;
    }
}

/// A denial as it is grouped: (principal, chain, action, resource, forbidding policies).
type DeniedKey = (String, Vec<String>, String, String, Vec<PolicyId>);

/// What was used, by (principal, acting as, action, resource).
type Used = BTreeSet<(String, Option<String>, String, String)>;

/// One checked log entry into the report: unknown, used (and denied now, grouped with the same
/// denial's other lines).
fn record(
    report: &mut UsageReport,
    used: &mut Used,
    denied_at: &mut HashMap<DeniedKey, usize>,
    n: usize,
    checked: Result<Checked, String>,
) {
    match checked {
        Err(why) => note(&mut report.unknown, &mut report.unknown_omitted, n, why),
        Ok((principal, chain, action, resource, denied)) => {
            let acting = chain.last().map(ToString::to_string);
            if let Some(reasons) = denied {
                let d = UsageDenied {
                    lines: vec![n],
                    principal: principal.to_string(),
                    chain: chain.iter().map(ToString::to_string).collect(),
                    action: action.to_string(),
                    resource: resource.to_string(),
                    reasons,
                };
                let key = (
                    d.principal.clone(),
                    d.chain.clone(),
                    d.action.clone(),
                    d.resource.clone(),
                    d.reasons.clone(),
                );
                match denied_at.get(&key).and_then(|&i| report.denied.get_mut(i)) {
                    Some(x) => x.lines.push(n),
                    None => {
                        denied_at.insert(key, report.denied.len());
                        report.denied.push(d);
                    }
                }
            }
            used.insert((
                principal.to_string(),
                acting,
                action.to_string(),
                resource.to_string(),
            ));
        }
    }
}

/// Granted under some profile, never used in the window: direct grants, and the acting-as
/// grants held along every current path.
fn unused_grants(now: &Baseline, effective: &Effective, used: &Used) -> Vec<Unused> {
    let mut unused: BTreeMap<(String, Option<String>, String), BTreeSet<String>> = BTreeMap::new();
    let mut note = |g: &GrantEntry| {
        let key = (
            g.principal.clone(),
            g.acting_as.clone(),
            g.action.clone(),
            g.resource.clone(),
        );
        if !used.contains(&key) {
            unused
                .entry((key.0, key.1, key.2))
                .or_default()
                .insert(key.3);
        }
    };
    for g in now.grants.iter().filter(|g| g.acting_as.is_none()) {
        note(g);
    }
    compare::held_along(&now.grants, baseline::path_entries(effective), |g| note(&g));
    unused
        .into_iter()
        .map(|((principal, acting_as, action), resources)| Unused {
            principal,
            acting_as,
            action,
            resources: resources.into_iter().collect(),
        })
        .collect()
}

type Checked = (
    EntityUid,
    Vec<EntityUid>,
    EntityUid,
    EntityUid,
    Option<Vec<PolicyId>>,
);

/// Checks one usage entry against the inventory and evaluates it now: allowed under its own
/// context, or under any profile when it has none. `Some(reasons)` when denied.
fn usage_entry(engine: &Engine, profiles: &[Profile], u: &UsageLine) -> Result<Checked, String> {
    let entity = |v: &Value| -> Result<EntityUid, String> {
        let uid = parse_uid(v)?;
        engine.known_entity(&uid).map_err(|i| i.message)?;
        Ok(uid)
    };
    let principal = entity(&u.principal)?;
    let chain = u.chain.iter().map(entity).collect::<Result<Vec<_>, _>>()?;
    let action = parse_uid(&u.action)?;
    if engine.action(&action).is_none() {
        return Err(format!("action `{action}` is not in the schema"));
    }
    let resource = entity(&u.resource)?;
    let contexts: Vec<&Map<String, Value>> = match &u.context {
        Some(c) => vec![c],
        None => profiles.iter().map(|p| &p.context).collect(),
    };
    let acting = chain.last().unwrap_or(&principal);
    let behind = (!chain.is_empty()).then_some(Behind {
        origin: &principal,
        chain: &chain,
    });
    let mut reasons = BTreeSet::new();
    let mut allowed = false;
    for ctx in contexts {
        let hops = engine.prepare_chain(&principal, &chain, ctx)?;
        let hops_ok = hops.iter().all(|h| {
            let o = engine.evaluate_hop(h);
            if !o.allowed {
                reasons.extend(o.forbids());
            }
            o.allowed
        });
        let request = engine.prepare(acting, &action, &resource, ctx, behind)?;
        let e = engine.evaluate(&request);
        if !e.allowed {
            reasons.extend(e.reasons.clone());
        }
        if hops_ok && e.allowed {
            allowed = true;
            break;
        }
    }
    let denied = (!allowed).then(|| reasons.into_iter().collect());
    Ok((principal, chain, action, resource, denied))
}
