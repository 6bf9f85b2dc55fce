//! What one effective access has that another lacks: `drift` (the baseline against now) and
//! `suffice --with/--without` (before against after a change).
//!
//! Paths are compared as two sorted streams, entry by entry (a baseline's are read from its
//! file as they are parsed). Grants are compared as recorded (see `effective.rs`): direct grants
//! by key; an acting-as grant is held when its path is and either it is recorded, or the
//! account's own grant is and it is not recorded as withheld. An acting-as grant that changed
//! only because its path or the account's own grant changed is not listed again: that change is
//! (a path gained or lost is one item, not one more per grant of the account).

use std::collections::VecDeque;
use std::collections::{BTreeMap, BTreeSet};
use std::iter::Peekable;

use rustc_hash::FxHashSet;

use crate::analysis::baseline::{GrantEntry, PathEntry};
use crate::analysis::effective::Effective;
use crate::analysis::item::AccessItem;
use crate::core::ids::{PolicyId, ProfileName};

/// Merges the earlier access's paths, pushed in order, with the later one's, pulled in order.
/// The later paths may hold, in place of a principal's, one [`unmade`] entry: they are made
/// (by `make`) only if an earlier path of that principal needs them.
pub struct PathMerge<'m, I: Iterator<Item = PathEntry>> {
    later: Peekable<I>,
    /// The paths of an unmade entry, before the rest of `later`.
    made: VecDeque<PathEntry>,
    make: Option<Box<Make<'m>>>,
    /// The later access's paths the earlier lacks, in order.
    pub added: Vec<PathEntry>,
    /// The earlier access's paths the later lacks, in order.
    pub removed: Vec<PathEntry>,
    /// Every policy behind an earlier path.
    pub earlier_policies: FxHashSet<PolicyId>,
    /// The last earlier path's (principal, target, profile).
    last: Option<(String, String, String)>,
    /// The principals of the paths added or removed so far.
    changed: FxHashSet<String>,
}

/// Makes the paths of a principal, by name.
pub type Make<'m> = dyn Fn(&str) -> Vec<PathEntry> + 'm;

/// Stands for the paths of `principal` in a merge's later paths (see [`PathMerge::lazy`]): its
/// target is empty, so it sorts before them.
pub fn unmade(principal: String) -> PathEntry {
    PathEntry {
        profile: ProfileName::default(),
        principal,
        target: String::new(),
        chain: Vec::new(),
        policies: Vec::new(),
    }
}

impl<'m, I: Iterator<Item = PathEntry>> PathMerge<'m, I> {
    pub fn new(later: I) -> Self {
        Self {
            later: later.peekable(),
            made: VecDeque::new(),
            make: None,
            added: Vec::new(),
            removed: Vec::new(),
            earlier_policies: FxHashSet::default(),
            last: None,
            changed: FxHashSet::default(),
        }
    }

    /// A merge whose later paths may hold [`unmade`] entries, made by `make`.
    pub fn lazy(later: I, make: Box<Make<'m>>) -> Self {
        Self {
            make: Some(make),
            ..Self::new(later)
        }
    }

    fn peek(&mut self) -> Option<&PathEntry> {
        if self.made.is_empty() {
            self.later.peek()
        } else {
            self.made.front()
        }
    }

    fn next_later(&mut self) -> Option<PathEntry> {
        self.made.pop_front().or_else(|| self.later.next())
    }

    fn add(&mut self, later: Option<PathEntry>) {
        let Some(later) = later else { return };
        self.mark_changed(&later.principal);
        self.added.push(later);
    }

    fn mark_changed(&mut self, principal: &str) {
        if !self.changed.contains(principal) {
            self.changed.insert(principal.to_owned());
        }
    }

    /// Whether a path of `principal` was found added or removed so far (all of them, once the
    /// earlier paths are past it).
    pub fn changed(&self, principal: &str) -> bool {
        self.changed.contains(principal)
    }

    /// Replaces the unmade entry in front (`made` is then empty: made paths are never unmade)
    /// by its principal's paths.
    fn make_front(&mut self) {
        if let (Some(unmade), Some(make)) = (self.next_later(), &self.make) {
            self.made.extend(make(&unmade.principal));
        }
    }

    /// The next later path, an unmade entry made first.
    fn next_made(&mut self) -> Option<PathEntry> {
        while self.peek().is_some_and(is_unmade) {
            self.make_front();
        }
        self.next_later()
    }

    /// The next path of the earlier access; an error when it is out of order (a baseline edited
    /// by hand), since the comparison relies on the order.
    pub fn push(&mut self, earlier: PathEntry) -> Result<(), String> {
        if let Some(last) = &mut self.last {
            if (last.0.as_str(), last.1.as_str(), last.2.as_str()) >= earlier.stream_key() {
                return Err(format!(
                    "paths are out of order (or repeated) at principal `{}`, target `{}`, profile `{}`: a baseline lists them sorted by principal and target, a profile once each",
                    earlier.principal, earlier.target, earlier.profile
                ));
            }
            last.0.clone_from(&earlier.principal);
            last.1.clone_from(&earlier.target);
            last.2.clear();
            last.2.push_str(&earlier.profile);
        } else {
            self.last = Some((
                earlier.principal.clone(),
                earlier.target.clone(),
                earlier.profile.to_string(),
            ));
        }
        for p in &earlier.policies {
            if !self.earlier_policies.contains(p) {
                self.earlier_policies.insert(p.clone());
            }
        }
        while let Some(later) = self.peek() {
            let order = later.stream_key().cmp(&earlier.stream_key());
            if is_unmade(later) && order.is_le() {
                self.make_front();
                continue;
            }
            match order {
                std::cmp::Ordering::Less => {
                    let next = self.next_later();
                    self.add(next);
                }
                std::cmp::Ordering::Equal => {
                    self.next_later();
                    return Ok(());
                }
                std::cmp::Ordering::Greater => break,
            }
        }
        self.mark_changed(&earlier.principal);
        self.removed.push(earlier);
        Ok(())
    }

    /// The earlier access has the same paths for `principal` as the later one: its later
    /// paths are passed over (`drift`, for a baseline's principal that reaches as another does;
    /// one whose paths differ is compared on its own, then [`PathMerge::absorb`]ed).
    pub fn pass_over(&mut self, principal: &str) {
        while let Some(later) = self.peek() {
            match later.principal.as_str().cmp(principal) {
                std::cmp::Ordering::Less => {
                    let next = self.next_made();
                    self.add(next);
                }
                std::cmp::Ordering::Equal => {
                    self.next_later();
                }
                std::cmp::Ordering::Greater => break,
            }
        }
        self.last = Some((principal.to_owned(), String::new(), String::new()));
    }

    /// Takes in what a comparison of other principals found.
    pub fn absorb<J: Iterator<Item = PathEntry>>(&mut self, other: PathMerge<'_, J>) {
        let other = other.finish();
        self.added.extend(other.added);
        self.removed.extend(other.removed);
        self.earlier_policies.extend(other.earlier_policies);
    }

    /// Every later path after the last earlier one is added; both lists are put in the order
    /// of reports ([`PathEntry::key`]).
    pub fn finish(mut self) -> Self {
        while let Some(next) = self.next_made() {
            self.added.push(next);
        }
        self.added.sort_by(|a, b| a.key().cmp(&b.key()));
        self.removed.sort_by(|a, b| a.key().cmp(&b.key()));
        self
    }

    /// Whether the earlier access has the path, given whether the later one has it.
    pub fn earlier_has(&self, key: (&str, &str, &str), later_has: bool) -> bool {
        let listed = |list: &[PathEntry]| list.binary_search_by(|p| p.key().cmp(&key)).is_ok();
        if later_has {
            !listed(&self.added)
        } else {
            listed(&self.removed)
        }
    }
}

fn is_unmade(p: &PathEntry) -> bool {
    p.target.is_empty()
}

type GrantKey<'a> = (&'a str, &'a str, Option<&'a str>, &'a str, &'a str);

/// One side's grants, indexed.
struct Grants<'a> {
    /// (profile, account, action, resource).
    direct: BTreeMap<(&'a str, &'a str, &'a str, &'a str), &'a GrantEntry>,
    acting: BTreeMap<GrantKey<'a>, &'a GrantEntry>,
}

/// `policies` and `more`, sorted, once each.
fn union(policies: &[PolicyId], more: &[PolicyId]) -> Vec<PolicyId> {
    let mut all: Vec<PolicyId> = policies.iter().chain(more).cloned().collect();
    all.sort();
    all.dedup();
    all
}

impl<'a> Grants<'a> {
    fn new(entries: &'a [GrantEntry]) -> Self {
        let mut direct = BTreeMap::new();
        let mut acting = BTreeMap::new();
        for g in entries {
            match &g.acting_as {
                None => {
                    direct.insert(
                        (
                            g.profile.as_str(),
                            g.principal.as_str(),
                            g.action.as_str(),
                            g.resource.as_str(),
                        ),
                        g,
                    );
                }
                Some(_) => {
                    acting.insert(g.key(), g);
                }
            }
        }
        Self { direct, acting }
    }

    fn own(&self, k: GrantKey<'_>) -> Option<&'a GrantEntry> {
        let account = k.2?;
        self.direct.get(&(k.0, account, k.3, k.4)).copied()
    }

    /// The acting-as grant `k` as held where its path is (the path's policies given): recorded,
    /// or the account's own and not withheld.
    fn held(&self, k: GrantKey<'_>, path_policies: &[PolicyId]) -> Option<GrantEntry> {
        match self.acting.get(&k) {
            Some(g) => (!g.withheld).then(|| (*g).clone()),
            None => self.own(k).map(|own| GrantEntry {
                principal: k.1.to_string(),
                acting_as: k.2.map(ToString::to_string),
                policies: union(&own.policies, path_policies),
                ..own.clone()
            }),
        }
    }

    /// Every acting-as grant held along path `p`.
    fn along(&self, p: &PathEntry) -> Vec<GrantEntry> {
        let (profile, principal, account) = (p.profile.as_str(), &*p.principal, &*p.target);
        let mut out: Vec<GrantEntry> = self
            .direct
            .range((profile, account, "", "")..)
            .take_while(|(k, _)| k.0 == profile && k.1 == account)
            .filter_map(|(k, _)| {
                self.held((profile, principal, Some(account), k.2, k.3), &p.policies)
            })
            .collect();
        out.extend(
            self.acting
                .range((profile, principal, Some(account), "", "")..)
                .take_while(|(k, _)| k.0 == profile && k.1 == principal && k.2 == Some(account))
                .filter(|(k, g)| !g.withheld && self.own(**k).is_none())
                .map(|(_, g)| (*g).clone()),
        );
        out
    }
}

/// The grants `later` has that `earlier` lacks and the reverse (direct and acting-as, as if
/// every acting-as grant were listed), given the paths' merge; `later_paths` is the later
/// access, for who reaches an account there.
pub fn grant_changes<I: Iterator<Item = PathEntry>>(
    earlier: &[GrantEntry],
    later: &[GrantEntry],
    paths: &PathMerge<'_, I>,
    later_paths: &Effective,
) -> (Vec<GrantEntry>, Vec<GrantEntry>) {
    let (e, l) = (Grants::new(earlier), Grants::new(later));
    // Direct grants, and acting-as grants along a path gained or lost.
    let gained_direct: Vec<_> = l
        .direct
        .iter()
        .filter(|(k, _)| !e.direct.contains_key(*k))
        .collect();
    let lost_direct: Vec<_> = e
        .direct
        .iter()
        .filter(|(k, _)| !l.direct.contains_key(*k))
        .collect();
    let mut gained: BTreeSet<GrantEntry> =
        gained_direct.iter().map(|(_, g)| (**g).clone()).collect();
    let mut lost: BTreeSet<GrantEntry> = lost_direct.iter().map(|(_, g)| (**g).clone()).collect();
    for p in &paths.added {
        gained.extend(l.along(p));
    }
    for p in &paths.removed {
        lost.extend(e.along(p));
    }
    // Acting-as grants along paths on both sides: where the account's own grant changed, for
    // everyone reaching it, and where one is recorded on either side.
    let own_changed: Vec<_> = gained_direct
        .iter()
        .chain(&lost_direct)
        .map(|(k, _)| **k)
        .collect();
    let mut accounts: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (profile, account, _, _) in &own_changed {
        accounts.entry(profile).or_default().insert(account);
    }
    // Per (profile, account), who reaches it.
    let mut reaching: BTreeMap<(&str, String), Vec<String>> = BTreeMap::new();
    for (profile, targets) in &accounts {
        let targets: Vec<&str> = targets.iter().copied().collect();
        for (principal, target) in later_paths.paths_to(profile, &targets) {
            reaching
                .entry((profile, target))
                .or_default()
                .push(principal);
        }
    }
    let mut keys: BTreeSet<GrantKey<'_>> =
        e.acting.keys().chain(l.acting.keys()).copied().collect();
    for (profile, account, action, resource) in &own_changed {
        for principal in reaching
            .get(&(*profile, account.to_string()))
            .into_iter()
            .flatten()
        {
            keys.insert((profile, principal, Some(account), action, resource));
        }
    }
    for k in keys {
        let Some(account) = k.2 else {
            continue;
        };
        let Some(path) = later_paths.path_policies(k.0, k.1, account) else {
            continue;
        };
        if !paths.earlier_has((k.0, k.1, account), true) {
            continue;
        }
        match (e.held(k, &path), l.held(k, &path)) {
            (None, Some(g)) => {
                gained.insert(g);
            }
            (Some(g), None) => {
                lost.insert(g);
            }
            _ => {}
        }
    }
    (gained.into_iter().collect(), lost.into_iter().collect())
}

/// Every acting-as grant held along `paths`, given the same access's recorded grants.
pub fn held_along(
    grants: &[GrantEntry],
    paths: impl Iterator<Item = PathEntry>,
    mut f: impl FnMut(GrantEntry),
) {
    let g = Grants::new(grants);
    for p in paths {
        g.along(&p).into_iter().for_each(&mut f);
    }
}

/// What `after` has that `before` lacks, and the reverse, as items.
pub fn changes(before: &Effective, after: &Effective) -> (Vec<AccessItem>, Vec<AccessItem>) {
    use crate::analysis::baseline::{grant_entries, path_entries};
    let mut merge = PathMerge::new(path_entries(after));
    for p in path_entries(before) {
        // Both streams are in order.
        let _ = merge.push(p);
    }
    let merge = merge.finish();
    let (gained, lost) =
        grant_changes(&grant_entries(before), &grant_entries(after), &merge, after);
    // Per profile in the configuration's order, its paths first, then its grants.
    let items = |paths: &[PathEntry], grants: &[GrantEntry]| -> Vec<AccessItem> {
        let mut items: Vec<AccessItem> = paths
            .iter()
            .map(AccessItem::from)
            .chain(grants.iter().map(AccessItem::from))
            .collect();
        items.sort_by_key(|i| {
            let profile = after.profiles.iter().position(|p| p.name == i.profile);
            (profile, i.kind() != "path")
        });
        items
    };
    (items(&merge.added, &gained), items(&merge.removed, &lost))
}
