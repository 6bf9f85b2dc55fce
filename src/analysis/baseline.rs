//! The baseline file of `actas snapshot` / `actas drift`: the workspace's effective access per
//! profile, sorted, one entry per line (diff-friendly), versioned, tied to the schema it was
//! computed under, and written atomically (a temporary file in the same folder, synced, then
//! renamed over the old one: an interrupted run never leaves a truncated baseline).
//!
//! Version 2 records acting-as grants only where they differ from the account's own (see
//! `effective.rs`): a grant the account does not hold (or holds by other policies), or one of
//! its grants withheld from the acting principal (`"withheld": true`, with the denying
//! policies). Every other acting-as grant follows from a path and the account's own grant. An
//! organisation's paths number in the millions, so they are written and read as a stream, never
//! held as a whole; `drift` compares them with the current paths entry by entry, in order.
//!
//! Version 3 writes a path once for the profiles that agree on it ([`PathLine`]): a line per
//! (principal, target, route), its `profiles` left out where the route holds under every
//! profile. Most paths hold alike under every profile, and writing the file was most of
//! `snapshot` on an organisation (a gigabyte at 140 MB/s on the bench machine); the file is
//! 2–3 times smaller. Read back, each line stands for one [`PathEntry`] per profile.
//!
//! Version 4 writes the paths of principals that reach alike once ([`SameLine`]): a principal
//! whose paths (targets, profiles, chains and policies) are those of a principal before it is
//! one line, `{"principal": …, "same_as": …}`. People in the same teams reach the same accounts
//! by the same chains, and an organisation's file was gigabytes of copies (9.4 GB on the bench
//! world whose 12,500 identities all reach 2,000 accounts). Equal is told by a 128-bit hash of
//! the paths by identity number ([`Content`]). The reader hands on, after each principal's
//! lines, the hash of those lines ([`LinesContent`]), so that `drift` passes over a principal
//! whose lines are what it would write now without making its paths (see `drift.rs`).

use std::fmt::Write as _;
use std::path::Path;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::core::ids::{PolicyId, ProfileName};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use rustc_hash::{FxHashMap, FxHashSet};

use crate::analysis::access::{hops_policies, NumberedPath};
use crate::analysis::effective::Effective;
use crate::engine::Engine;

pub const FORMAT: &str = "actas-baseline";
pub const VERSION: u32 = 4;
/// Where `snapshot` writes and `drift` reads, relative to the workspace.
pub const DEFAULT_PATH: &str = "actas.baseline.json";

/// A baseline but for its paths, which are streamed (see the module's documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    pub format: String,
    pub version: u32,
    /// A fingerprint of the schema's entity types and actions (FNV-1a, 64 bits, hex).
    pub schema: String,
    pub provenance: Option<crate::workspace::provenance::Provenance>,
    pub max_chain: u32,
    pub impersonation_actions: Vec<String>,
    pub profiles: Vec<ProfileEntry>,
    pub grants: Vec<GrantEntry>,
}

/// The baseline file as a whole: its JSON schema, and the fields in the order it writes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BaselineFile {
    pub format: String,
    pub version: u32,
    /// A fingerprint of the schema's entity types and actions (FNV-1a, 64 bits, hex).
    pub schema: String,
    /// The actas and Cedar versions and the SHA-256 of every input it was recorded from (no
    /// commit or time: the baseline is committed beside its inputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<crate::workspace::provenance::Provenance>,
    pub max_chain: u32,
    pub impersonation_actions: Vec<String>,
    pub profiles: Vec<ProfileEntry>,
    /// Sorted by (principal, target), a line per route, or one line for a principal that
    /// reaches what one before it does.
    pub paths: Vec<PathsItem>,
    /// Direct grants, and acting-as grants that differ from the account's own; sorted.
    pub grants: Vec<GrantEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileEntry {
    pub name: ProfileName,
    pub context: Map<String, Value>,
}

#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct PathEntry {
    pub profile: ProfileName,
    pub principal: String,
    pub target: String,
    pub chain: Vec<String>,
    pub policies: Vec<PolicyId>,
}

#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct GrantEntry {
    pub profile: ProfileName,
    pub principal: String,
    /// The account acted as; `null` for the principal's own (direct) grant.
    pub acting_as: Option<String>,
    pub action: String,
    pub resource: String,
    /// The determining policies (of a withheld grant, those that deny it).
    pub policies: Vec<PolicyId>,
    /// An acting-as entry only: the account's own grant, denied to the principal acting as it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub withheld: bool,
}

/// A line of the file's `paths`: a route from `principal` to `target`, the same chain and
/// policies under each of `profiles`, or under every profile of the baseline when `profiles` is
/// left out. A path whose route differs between profiles has a line per route. Lines are
/// sorted by principal and target; a path's lines by their first profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PathLine {
    pub principal: String,
    pub target: String,
    /// The profiles the route holds under, sorted; left out: every profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiles: Option<Vec<ProfileName>>,
    /// The accounts after the principal, the target last.
    pub chain: Vec<String>,
    pub policies: Vec<PolicyId>,
}

/// A principal whose paths are those of `same_as`, a principal listed before it, but for the
/// principal itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SameLine {
    pub principal: String,
    pub same_as: String,
}

/// A line of the file's `paths`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum PathsItem {
    Route(PathLine),
    Same(SameLine),
}

/// What the reader hands on, in the file's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadPath {
    /// A path's routes, a line each, each line's `profiles` named (every profile where the
    /// file leaves them out); [`path_entries_of`] makes them one entry per profile.
    Path(Vec<PathLine>),
    /// A principal that reaches what `same_as`, whose paths were handed on before, does.
    Same { principal: String, same_as: String },
    /// The last path of `principal` was handed on; `content` is the hash of its lines as read
    /// ([`LinesContent`]).
    End { principal: String, content: u128 },
    /// The lines of `principal`, in a file laid out as `snapshot` writes it, are the text its
    /// current paths would be written with (see [`read_with`]): they were not parsed.
    Unchanged { principal: String },
}

/// The content of a principal's paths but for the principal, hashed (SipHash-1-3, 128 bits):
/// each path's target and routes (profiles, chain, each hop's policies), by identity number.
/// Two principals with the same hash reach alike; the hash is never written, so numbers
/// (which depend on the inventory) are fine.
struct Content(siphasher::sip128::SipHasher13);

impl Content {
    fn new() -> Self {
        Self(siphasher::sip128::SipHasher13::new())
    }

    fn add(&mut self, p: &NumberedPath<'_>) {
        use std::hash::Hash;
        let h = &mut self.0;
        p.target.hash(h);
        p.routes.len().hash(h);
        for route in &p.routes {
            route.profiles.hash(h);
            route.chain.hash(h);
            route.hops.len().hash(h);
            for hop in &route.hops {
                hop.1.len().hash(h);
                hop.1.iter().for_each(|policy| policy.as_str().hash(h));
            }
        }
    }

    fn finish(&self) -> u128 {
        use siphasher::sip128::Hasher128;
        self.0.finish128().as_u128()
    }
}

/// The lines of a principal's paths as the baseline has them but for the principal, hashed
/// (SipHash-1-3, 128 bits): each line's target, profiles (none: every profile), chain and
/// policies, in the file's order. `drift` tells an unchanged principal by it without making
/// its paths again.
pub struct LinesContent(siphasher::sip128::SipHasher13);

impl Default for LinesContent {
    fn default() -> Self {
        Self(siphasher::sip128::SipHasher13::new())
    }
}

impl LinesContent {
    pub fn add<'a>(
        &mut self,
        target: &str,
        profiles: Option<&[impl AsRef<str>]>,
        chain: impl ExactSizeIterator<Item = &'a str>,
        policies: &[PolicyId],
    ) {
        use std::hash::Hash;
        let h = &mut self.0;
        target.hash(h);
        profiles.map(<[_]>::len).hash(h);
        profiles
            .into_iter()
            .flatten()
            .for_each(|p| p.as_ref().hash(h));
        chain.len().hash(h);
        chain.for_each(|x| x.hash(h));
        policies.len().hash(h);
        policies.iter().for_each(|p| p.as_str().hash(h));
    }

    pub fn finish(&self) -> u128 {
        use siphasher::sip128::Hasher128;
        self.0.finish128().as_u128()
    }
}

/// The [`LinesContent`] of the lines `e` would write for the principal numbered `principal`.
/// `drift` asks it while the baseline is read (on the calling thread, which otherwise waits for
/// the reader), once for each content.
pub fn lines_content(e: &Effective, principal: u32) -> u128 {
    let names = &e.reached.identities().names;
    let every = e.reached.profiles.len();
    let mut content = LinesContent::default();
    for p in e.reached.principal_paths(principal) {
        for (profiles, chain, policies) in routes(e, &p) {
            let profiles = (profiles.len() < every).then_some(&profiles[..]);
            let chain = chain.iter().map(|&x| &*names[x as usize]);
            content.add(&names[p.target as usize], profiles, chain, &policies);
        }
    }
    content.finish()
}

/// The hash of a principal's route lines as they stand in a file laid out as `snapshot` writes
/// it, but for the principal (SipHash-1-3, 128 bits): each line's text after the principal's
/// value, hashed, then those hashes in order. Equal to the hash of the text the current paths
/// would be written with, the lines need not be parsed (see [`read_with`]); any other text
/// (another layout or spelling of the same JSON) only costs a parse.
struct TextContent(siphasher::sip128::SipHasher13);

impl Default for TextContent {
    fn default() -> Self {
        Self(siphasher::sip128::SipHasher13::new())
    }
}

impl TextContent {
    fn add(&mut self, line: u128) {
        use std::hash::Hasher;
        self.0.write_u128(line);
    }

    fn finish(&self) -> u128 {
        use siphasher::sip128::Hasher128;
        self.0.finish128().as_u128()
    }
}

/// The hash of the text of a route line after its principal's value (see [`TextContent`]).
fn tail_hash(tail: &[u8]) -> u128 {
    use siphasher::sip128::Hasher128;
    use std::hash::Hasher;
    let mut h = siphasher::sip128::SipHasher13::new();
    h.write(tail);
    h.finish128().as_u128()
}

/// A route line as [`write`] writes it (its entry without the indent and the comma after it):
/// its principal's value (a JSON string, quotes included) and the text after it, which begins
/// with the target. `None` for any other line (a [`SameLine`], or other spacing or order).
fn route_tail(entry: &[u8]) -> Option<(&[u8], &[u8])> {
    const OPEN: &[u8] = b"{\"principal\":\"";
    let rest = entry.strip_prefix(OPEN)?;
    // The principal's string ends at the first quote that is not escaped.
    let mut i = 0;
    loop {
        match rest.get(i)? {
            b'\\' => i += 2,
            b'"' => break,
            _ => i += 1,
        }
    }
    let tail = rest.get(i + 1..)?;
    tail.starts_with(b",\"target\":")
        .then(|| (&entry[OPEN.len() - 1..OPEN.len() + i + 1], tail))
}

/// The [`TextContent`] of the lines `e` would write for the principal numbered `principal`, and
/// the policies they name (sorted, once each).
pub fn text_content(e: &Effective, principal: u32) -> (u128, Vec<PolicyId>) {
    // A row with an empty principal: its text after `{"principal":""` is a line's tail.
    const EMPTY: usize = br#"{"principal":"""#.len();
    let mut content = TextContent::default();
    let mut named: std::collections::BTreeSet<PolicyId> = Default::default();
    let mut text = Vec::new();
    for p in e.reached.principal_paths(principal) {
        for (row, _) in path_rows(e, &p, "") {
            for policy in &row.policies {
                if !named.contains(policy) {
                    named.insert(policy.clone());
                }
            }
            text.clear();
            // Writing JSON into memory cannot fail.
            let _ = serde_json::to_writer(&mut text, &row);
            content.add(tail_hash(&text[EMPTY..]));
        }
    }
    (content.finish(), named.into_iter().collect())
}

/// A principal's paths in brief: its number, how many (path, profile) entries it has, and the
/// hash of their content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrincipalContent {
    pub principal: u32,
    pub entries: usize,
    pub content: u128,
}

/// Every principal with paths, in order, with its content; made by the workers, once for
/// every group of principals whose paths are made alike ([`Reached::first_alike`]: in an
/// organisation most people share their paths and hops with others).
///
/// [`Reached::first_alike`]: crate::analysis::access::Reached::first_alike
pub fn contents(e: &Effective) -> Vec<PrincipalContent> {
    use rayon::prelude::*;
    let firsts = e.reached.first_alike();
    let made: FxHashMap<u32, (usize, u128)> = firsts
        .par_iter()
        .filter(|(principal, first)| principal == first)
        .filter_map(|&(principal, _)| {
            let mut content = Content::new();
            let mut entries = 0;
            for p in e.reached.principal_paths(principal) {
                content.add(&p);
                entries += p.routes.iter().map(|r| r.profiles.len()).sum::<usize>();
            }
            (entries > 0).then(|| (principal, (entries, content.finish())))
        })
        .collect();
    firsts
        .iter()
        .filter_map(|(principal, first)| {
            let &(entries, content) = made.get(first)?;
            Some(PrincipalContent {
                principal: *principal,
                entries,
                content,
            })
        })
        .collect()
}

/// A path's routes as one entry per profile, by profile name.
fn by_profile<'a>(
    routes: Vec<(Vec<&'a str>, &'a [u32], Vec<PolicyId>)>,
) -> impl Iterator<Item = (&'a str, &'a [u32], Vec<PolicyId>)> {
    let mut entries: Vec<_> = routes
        .into_iter()
        .flat_map(|(profiles, chain, policies)| {
            profiles
                .into_iter()
                .map(move |profile| (profile, chain, policies.clone()))
        })
        .collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries.into_iter()
}

impl PathEntry {
    /// The order of reports: by profile, then principal and target.
    pub fn key(&self) -> (&str, &str, &str) {
        (&self.profile, &self.principal, &self.target)
    }

    /// The order of the file and of the comparison streams: by principal and target, then
    /// profile.
    pub fn stream_key(&self) -> (&str, &str, &str) {
        (&self.principal, &self.target, &self.profile)
    }
}

/// A path line as the workers write it, borrowing its names (the fields of [`PathLine`], in
/// its order).
#[derive(Serialize)]
struct PathRow<'a> {
    principal: &'a str,
    target: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    profiles: Option<Vec<&'a str>>,
    chain: Vec<&'a str>,
    policies: Vec<PolicyId>,
}

impl GrantEntry {
    pub fn key(&self) -> (&str, &str, Option<&str>, &str, &str) {
        (
            &self.profile,
            &self.principal,
            self.acting_as.as_deref(),
            &self.action,
            &self.resource,
        )
    }
}

/// FNV-1a 64-bit, the documented hash for fingerprints.
pub fn fnv1a(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The schema's fingerprint: entity types, and each action's principal and resource types and
/// context attributes, in sorted order. Comments and layout do not change it.
pub fn schema_fingerprint(engine: &Engine) -> String {
    let mut text = String::new();
    let mut types: Vec<String> = engine
        .schema
        .entity_types()
        .map(ToString::to_string)
        .collect();
    types.sort();
    let _ = writeln!(text, "types {}", types.join(","));
    let mut actions: Vec<_> = engine.info.actions.iter().collect();
    actions.sort_by_cached_key(|(a, _)| a.to_string());
    for (a, info) in actions {
        let names = |v: &[cedar_policy::EntityTypeName]| {
            let mut s: Vec<String> = v.iter().map(ToString::to_string).collect();
            s.sort();
            s.join(",")
        };
        let _ = write!(
            text,
            "action {a} principals {} resources {} context",
            names(&info.principals),
            names(&info.resources)
        );
        for (name, attr) in &info.context {
            let _ = write!(text, " {name}:{}:{}", attr.required, attr.ty);
        }
        text.push('\n');
    }
    format!("{:016x}", fnv1a(&text))
}

/// The grants of `e` as the baseline records them, sorted.
pub fn grant_entries(e: &Effective) -> Vec<GrantEntry> {
    let mut grants = Vec::new();
    for (profile, access) in e.profiles.iter().zip(&e.access) {
        let lists = [(&access.grants, false), (&access.withheld, true)];
        for (list, withheld) in lists {
            grants.extend(list.iter().map(|(g, policies)| GrantEntry {
                profile: profile.name.clone(),
                principal: g.principal.to_string(),
                acting_as: g.acting_as.as_ref().map(ToString::to_string),
                action: g.action.to_string(),
                resource: g.resource.to_string(),
                policies: policies.clone(),
                withheld,
            }));
        }
    }
    grants.sort();
    grants
}

/// The baseline of an effective access computation, but for its paths ([`path_entries`],
/// [`path_lines`]).
pub fn from_effective(engine: &Engine, e: &Effective) -> Baseline {
    let grants = grant_entries(e);
    let mut profiles: Vec<ProfileEntry> = e
        .profiles
        .iter()
        .map(|p| ProfileEntry {
            name: p.name.clone(),
            context: p.context.clone(),
        })
        .collect();
    profiles.sort_by(|a, b| a.name.cmp(&b.name));
    Baseline {
        format: FORMAT.into(),
        version: VERSION,
        schema: schema_fingerprint(engine),
        provenance: None,
        max_chain: engine.max_chain,
        impersonation_actions: engine.actions.iter().map(ToString::to_string).collect(),
        profiles,
        grants,
    }
}

/// A path's routes as the baseline has them: each route's profiles by name (sorted), its
/// chain and its policies (sorted, once each), the routes by their first profile.
fn routes<'a>(
    e: &'a Effective<'_>,
    p: &'a NumberedPath<'_>,
) -> Vec<(Vec<&'a str>, &'a [u32], Vec<PolicyId>)> {
    let mut routes: Vec<_> = p
        .routes
        .iter()
        .map(|route| {
            let mut profiles: Vec<&str> = route
                .profiles
                .iter()
                .map(|&i| e.reached.profiles[i].name.as_str())
                .collect();
            profiles.sort_unstable();
            (profiles, &route.chain[..], hops_policies(&route.hops))
        })
        .collect();
    routes.sort_by(|a, b| a.0.cmp(&b.0));
    routes
}

/// Every path of `e` under each profile, in the order of the comparison streams
/// ([`PathEntry::stream_key`]), made by the workers.
pub fn path_entries<'a>(e: &'a Effective<'_>) -> impl Iterator<Item = PathEntry> + 'a {
    e.reached.map_numbered(move |p| entries(e, &p)).flatten()
}

/// Each principal whose content is that of one before it: (that one, its entries).
fn alike(contents: &[PrincipalContent]) -> FxHashMap<u32, (u32, usize)> {
    let mut first: FxHashMap<u128, u32> = FxHashMap::default();
    contents
        .iter()
        .filter_map(|c| {
            let earlier = *first.entry(c.content).or_insert(c.principal);
            (earlier != c.principal).then_some((c.principal, (earlier, c.entries)))
        })
        .collect()
}

/// Lines as the reader hands them on ([`ReadPath::Path`]), one entry per profile, each path's
/// by profile (the order of the comparison streams).
pub fn path_entries_of(lines: Vec<PathLine>) -> Vec<PathEntry> {
    let mut entries: Vec<PathEntry> = Vec::new();
    let mut start = 0;
    for line in lines {
        if entries
            .get(start)
            .is_some_and(|e| (&e.principal, &e.target) != (&line.principal, &line.target))
        {
            entries[start..].sort_by(|a, b| a.profile.cmp(&b.profile));
            start = entries.len();
        }
        for profile in line.profiles.iter().flatten() {
            entries.push(PathEntry {
                profile: profile.clone(),
                principal: line.principal.clone(),
                target: line.target.clone(),
                chain: line.chain.clone(),
                policies: line.policies.clone(),
            });
        }
    }
    entries[start..].sort_by(|a, b| a.profile.cmp(&b.profile));
    entries
}

/// The paths of the principal named `principal`, as [`path_entries`] has them.
pub fn principal_entries(e: &Effective<'_>, principal: &str) -> Vec<PathEntry> {
    let names = &e.reached.identities().names;
    let Ok(n) = names.binary_search_by(|x| (**x).cmp(principal)) else {
        return Vec::new();
    };
    e.reached
        .principal_paths(n as u32)
        .flat_map(|p| entries(e, &p))
        .collect()
}

/// A path under each of its profiles, by profile name.
fn entries(e: &Effective<'_>, p: &NumberedPath<'_>) -> Vec<PathEntry> {
    let names = &e.reached.identities().names;
    by_profile(routes(e, p))
        .map(|(profile, chain, policies)| PathEntry {
            profile: profile.into(),
            principal: names[p.principal as usize].to_string(),
            target: names[p.target as usize].to_string(),
            chain: chain
                .iter()
                .map(|&n| names[n as usize].to_string())
                .collect(),
            policies,
        })
        .collect()
}

/// Every route of `e` as lines of the baseline's JSON, in its order, a principal's lines at a
/// time (joined as [`write`] separates list entries), each piece with the number of paths it
/// holds under their profiles; made by the workers. A principal whose content ([`contents`]) is
/// that of one before it is a [`SameLine`].
pub fn path_lines<'a>(e: &'a Effective<'_>) -> impl Iterator<Item = (String, usize)> + 'a {
    let names = &e.reached.identities().names;
    let same = alike(&contents(e));
    e.reached.map_principals(move |paths| {
        let mut text: Vec<u8> = Vec::new();
        let mut count = 0;
        let mut paths = paths.peekable();
        if let Some(&(earlier, entries)) = paths.peek().and_then(|p| same.get(&p.principal)) {
            let principal = paths.peek().map_or(0, |p| p.principal);
            let row = SameLine {
                principal: names[principal as usize].to_string(),
                same_as: names[earlier as usize].to_string(),
            };
            return (json(&row), entries);
        }
        for p in paths {
            for (row, n) in path_rows(e, &p, &names[p.principal as usize]) {
                if !text.is_empty() {
                    text.extend_from_slice(ENTRY_SEPARATOR.as_bytes());
                }
                // Writing JSON into memory cannot fail; it is UTF-8.
                let _ = serde_json::to_writer(&mut text, &row);
                count += n;
            }
        }
        (String::from_utf8(text).unwrap_or_default(), count)
    })
}

/// A path's lines as [`path_lines`] writes them, each with the number of profiles it holds
/// under; `principal` names its principal ([`text_content`] leaves it empty).
fn path_rows<'a>(
    e: &'a Effective<'_>,
    p: &'a NumberedPath<'_>,
    principal: &'a str,
) -> impl Iterator<Item = (PathRow<'a>, usize)> + 'a {
    let names = &e.reached.identities().names;
    let every = e.reached.profiles.len();
    let target = &names[p.target as usize];
    routes(e, p)
        .into_iter()
        .map(move |(profiles, chain, policies)| {
            let n = profiles.len();
            let row = PathRow {
                principal,
                target,
                profiles: (n < every).then_some(profiles),
                chain: chain.iter().map(|&x| &*names[x as usize]).collect(),
                policies,
            };
            (row, n)
        })
}

/// Between two entries of a list: each stands on a line of its own.
const ENTRY_SEPARATOR: &str = ",\n    ";

/// Writes the file: top-level fields one per line, each list entry on a line of its own, the
/// paths from `paths` (JSON lines, each with the number of profiles it holds under); returns
/// how many paths it wrote, a path under each of its profiles.
pub fn write(
    out: &mut dyn std::io::Write,
    b: &Baseline,
    paths: impl Iterator<Item = (String, usize)>,
) -> std::io::Result<usize> {
    fn list(
        out: &mut dyn std::io::Write,
        name: &str,
        items: impl Iterator<Item = String>,
        last: bool,
    ) -> std::io::Result<usize> {
        write!(out, "  \"{name}\": [")?;
        let mut n = 0;
        for line in items.filter(|line| !line.is_empty()) {
            let sep = if n > 0 { ENTRY_SEPARATOR } else { "\n    " };
            write!(out, "{sep}{line}")?;
            n += 1;
        }
        if n > 0 {
            out.write_all(b"\n  ")?;
        }
        out.write_all(if last { b"]\n" } else { b"],\n" })?;
        Ok(n)
    }
    out.write_all(b"{\n")?;
    writeln!(out, "  \"format\": {},", json(&b.format))?;
    writeln!(out, "  \"version\": {},", b.version)?;
    writeln!(out, "  \"schema\": {},", json(&b.schema))?;
    if let Some(p) = &b.provenance {
        writeln!(out, "  \"provenance\": {},", json(p))?;
    }
    writeln!(out, "  \"max_chain\": {},", b.max_chain)?;
    writeln!(
        out,
        "  \"impersonation_actions\": {},",
        json(&b.impersonation_actions)
    )?;
    list(out, "profiles", b.profiles.iter().map(json), false)?;
    let mut n = 0;
    list(
        out,
        "paths",
        paths.map(|(line, profiles)| {
            n += profiles;
            line
        }),
        false,
    )?;
    list(out, "grants", b.grants.iter().map(json), true)?;
    out.write_all(b"}\n")?;
    Ok(n)
}

fn json<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The file's text, for a baseline whose paths are at hand (small ones; tests).
#[cfg(test)]
fn render(b: &Baseline, paths: &[PathLine]) -> String {
    let mut out = Vec::new();
    let lines = paths.iter().map(|p| (json(p), 1));
    let _ = write(&mut out, b, lines);
    String::from_utf8(out).unwrap_or_default()
}

/// Why a baseline file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    Io(String),
    /// Not JSON, or not a baseline at all.
    Malformed(String),
    /// Another format version.
    Version(u64),
}

/// Called with each path of a baseline as it is read, in the file's order; an error stops
/// the reading.
pub type OnPath<'f> = dyn FnMut(ReadPath) -> Result<(), String> + 'f;

/// Whether a principal's lines, by the hash of their text ([`TextContent`]), are those its
/// current paths would be written with.
pub type Unchanged<'u> = dyn Fn(&str, u128) -> bool + Sync + 'u;

/// Reads a baseline as a stream: `on_path` gets each path as it is parsed, the rest is
/// returned. Its format and version are checked where they stand, before the paths (as
/// `snapshot` writes them): a baseline of another version is refused before any of its
/// entries is read. A baseline of millions of paths is a gigabyte of text; it is never held.
///
/// In a file laid out as `snapshot` writes it, a principal whose lines' text `unchanged`
/// accepts is handed on as [`ReadPath::Unchanged`], its lines never parsed: parsing millions of
/// lines that `drift` would find as they were was most of its time.
pub fn read_with(
    path: &Path,
    unchanged: &Unchanged<'_>,
    on_path: &mut OnPath<'_>,
) -> Result<Baseline, ReadError> {
    if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(ReadError::Io("is a folder".into()));
    }
    let open = || {
        let file = std::fs::File::open(path)
            .map_err(|e| ReadError::Io(crate::core::files::io_reason(&e)))?;
        Ok(std::io::BufReader::with_capacity(1 << 20, file))
    };
    if let Some(layout) = Layout::scan(open()?) {
        return layout.read(open()?, unchanged, on_path);
    }
    read_from(open()?, on_path)
}

/// Reads a baseline from `reader` as one JSON document.
fn read_from(reader: impl std::io::Read, on_path: &mut OnPath<'_>) -> Result<Baseline, ReadError> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut state = ReadState {
        error: None,
        refused: None,
        on_path,
    };
    let read = BaselineSeed { state: &mut state }
        .deserialize(&mut de)
        .and_then(|b| de.end().map(|()| b));
    if let Some(e) = state.error {
        return Err(e);
    }
    read.map_err(|e| {
        let why = match state.refused {
            // Raised inside the entry's object, after its last field: the column is its end.
            Some(why) => format!("line {}: {why}", e.line()),
            None => match crate::core::diag::json_error_parts(&e) {
                (why, Some((line, column))) => format!("line {line}, column {column}: {why}"),
                (why, None) => why,
            },
        };
        ReadError::Malformed(why)
    })
}

/// Where the `paths` of a baseline laid out as [`write`] lays it out stand: its list opens on a
/// line of its own, each entry is a line (indented four spaces, a comma after all but the last)
/// and the list closes on a line of its own. Such a file's paths are parsed a line at a time, by
/// the workers, a batch at a time (parsing was most of `drift` on an organisation); any other
/// layout (a file reformatted by hand or by a tool) is read as one JSON document.
struct Layout {
    /// The line numbers (from 1) of the lines that open and close `paths`.
    open: usize,
    close: usize,
}

const PATHS_OPEN: &[u8] = b"  \"paths\": [";
const PATHS_CLOSE: &[u8] = b"  ],";

impl Layout {
    fn scan(mut reader: impl std::io::BufRead) -> Option<Self> {
        let mut line = Vec::new();
        let (mut n, mut open) = (0, None);
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line).ok()? == 0 {
                return None;
            }
            n += 1;
            let text = line.strip_suffix(b"\n")?;
            match open {
                None if text == PATHS_OPEN => open = Some(n),
                None => {}
                Some(open) if text == PATHS_CLOSE => return Some(Self { open, close: n }),
                Some(_) => {
                    let entry = text.strip_prefix(b"    {")?;
                    if !(entry.ends_with(b"},") || entry.ends_with(b"}")) {
                        return None;
                    }
                }
            }
        }
    }

    /// Reads the file: what stands before `paths` first (its format and version are checked
    /// before any path is handed on), then the paths, then the whole with `paths` left empty
    /// (blank lines in their place, so every other line keeps its number).
    fn read(
        &self,
        mut reader: impl std::io::BufRead,
        unchanged: &Unchanged<'_>,
        on_path: &mut OnPath<'_>,
    ) -> Result<Baseline, ReadError> {
        use rayon::prelude::*;
        let io = |e: std::io::Error| ReadError::Io(crate::core::files::io_reason(&e));
        let mut head = Vec::new();
        for _ in 1..self.open {
            reader.read_until(b'\n', &mut head).map_err(io)?;
        }
        let mut before = head.clone();
        before.extend_from_slice(b"  \"paths\": [], \"grants\": []}\n");
        let before = read_from(&before[..], &mut |_| Ok(()))?;
        let profiles: Vec<ProfileName> = before.profiles.into_iter().map(|p| p.name).collect();
        let mut line = Vec::new();
        reader.read_until(b'\n', &mut line).map_err(io)?;
        let mut lines = PathLines {
            profiles: &profiles,
            on_path,
            refused: &mut None,
            path: Vec::new(),
            last: None,
            listed: FxHashSet::default(),
            open: None,
        };
        const BATCH: usize = 16_384;
        let mut n = self.open + 1;
        let (mut text, mut ends): (Vec<u8>, Vec<usize>) = (Vec::new(), Vec::new());
        let mut held = HeldLines::default();
        while n < self.close {
            text.clear();
            ends.clear();
            while n + ends.len() < self.close && ends.len() < BATCH {
                reader.read_until(b'\n', &mut text).map_err(io)?;
                ends.push(text.len());
            }
            let entry = |k: usize| {
                let start = if k == 0 { 0 } else { ends[k - 1] };
                let entry = text[start..ends[k]].trim_ascii_end();
                entry.strip_suffix(b",").unwrap_or(entry)
            };
            if !held.worth_it() {
                // Most principals so far had to be parsed: parse every line, by the workers.
                held.flush(&mut lines, unchanged)?;
                let entries: Vec<_> = (0..ends.len()).map(|k| (n + k, entry(k))).collect();
                take_all(&mut lines, &entries)?;
                n += ends.len();
                continue;
            }
            // Each route line's principal and the hash of the rest, by the workers.
            let tails: Vec<Option<(std::ops::Range<usize>, u128)>> = (0..ends.len())
                .into_par_iter()
                .map(|k| {
                    let (principal, tail) = route_tail(entry(k).trim_ascii_start())?;
                    let start = principal.as_ptr() as usize - text.as_ptr() as usize;
                    Some((start..start + principal.len(), tail_hash(tail)))
                })
                .collect();
            for (k, tail) in tails.into_iter().enumerate() {
                match tail {
                    Some((principal, hash)) => {
                        if held.principal != text[principal.clone()] {
                            held.flush(&mut lines, unchanged)?;
                            held.principal.extend_from_slice(&text[principal]);
                        }
                        held.add(n, entry(k), hash);
                    }
                    None => {
                        held.flush(&mut lines, unchanged)?;
                        take_parsed(&mut lines, n, serde_json::from_slice(entry(k)))?;
                    }
                }
                n += 1;
            }
        }
        held.flush(&mut lines, unchanged)?;
        lines
            .close()
            .map_err(|why| ReadError::Malformed(format!("line {n}: {why}")))?;
        // The whole but for the paths, each line where it stands.
        let mut whole = head;
        whole.extend_from_slice(PATHS_OPEN);
        whole.resize(whole.len() + self.close - self.open, b'\n');
        reader.read_to_end(&mut whole).map_err(io)?;
        read_from(&whole[..], &mut |_| Ok(()))
    }
}

/// The route lines of one principal, held as text until they are all read: then either handed
/// on as [`ReadPath::Unchanged`] or parsed.
#[derive(Default)]
struct HeldLines {
    /// The principal's value, a JSON string, quotes included (empty: none held).
    principal: Vec<u8>,
    content: TextContent,
    /// The lines end to end, and each one's number and end.
    text: Vec<u8>,
    ends: Vec<(usize, usize)>,
    /// How many principals were passed over, and how many had to be parsed all the same.
    passed: usize,
    parsed: usize,
}

impl HeldLines {
    /// Whether holding lines still pays: once most principals had to be parsed all the same
    /// (a `drift` that finds most principals changed, or a reader that passes none over), their
    /// lines are parsed as they come rather than hashed and held first.
    fn worth_it(&self) -> bool {
        self.passed + self.parsed < 64 || self.passed >= self.parsed
    }

    fn add(&mut self, n: usize, entry: &[u8], hash: u128) {
        self.content.add(hash);
        self.text.extend_from_slice(entry);
        self.ends.push((n, self.text.len()));
    }

    /// Hands on what is held, then holds nothing.
    fn flush(
        &mut self,
        lines: &mut PathLines<'_, '_>,
        unchanged: &Unchanged<'_>,
    ) -> Result<(), ReadError> {
        let Some(&(first, _)) = self.ends.first() else {
            return Ok(());
        };
        let principal: Option<String> = serde_json::from_slice(&self.principal).ok();
        let content = std::mem::take(&mut self.content).finish();
        match principal.filter(|p| unchanged(p, content)) {
            Some(principal) => {
                self.passed += 1;
                lines
                    .pass(principal)
                    .map_err(|why| ReadError::Malformed(format!("line {first}: {why}")))?;
            }
            None => {
                self.parsed += 1;
                let entries: Vec<_> = (self.ends.iter().enumerate())
                    .map(|(k, &(n, end))| {
                        let start = k.checked_sub(1).map_or(0, |p| self.ends[p].1);
                        (n, &self.text[start..end])
                    })
                    .collect();
                take_all(lines, &entries)?;
            }
        }
        self.principal.clear();
        self.text.clear();
        self.ends.clear();
        Ok(())
    }
}

/// Parses entries (each with its line number) by the workers, then takes them in order.
fn take_all(lines: &mut PathLines<'_, '_>, entries: &[(usize, &[u8])]) -> Result<(), ReadError> {
    use rayon::prelude::*;
    let parsed: Vec<_> = entries
        .par_iter()
        .map(|(_, entry)| serde_json::from_slice::<AnyLine>(entry))
        .collect();
    for (&(n, _), parsed) in entries.iter().zip(parsed) {
        take_parsed(lines, n, parsed)?;
    }
    Ok(())
}

/// Takes line `n` of the file as parsed, or says where it is wrong.
fn take_parsed(
    lines: &mut PathLines<'_, '_>,
    n: usize,
    parsed: Result<AnyLine, serde_json::Error>,
) -> Result<(), ReadError> {
    let line = parsed.map_err(|e| {
        ReadError::Malformed(match crate::core::diag::json_error_parts(&e) {
            (why, Some((_, column))) => format!("line {n}, column {}: {why}", column + 4),
            (why, None) => format!("line {n}: {why}"),
        })
    })?;
    lines
        .take_any(line)
        .map_err(|why| ReadError::Malformed(format!("line {n}: {why}")))
}

/// As [`read_with`], but the file is parsed on a thread of its own while `on_path` takes the paths
/// on the calling one, a batch at a time: parsing a baseline of millions of paths is one core's
/// work, and `drift` compares them with paths made by the workers meanwhile.
pub fn read_beside(
    path: &Path,
    unchanged: &Unchanged<'_>,
    on_path: &mut OnPath<'_>,
) -> Result<Baseline, ReadError> {
    const BATCH: usize = 2048;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<ReadPath>>(8);
    std::thread::scope(|s| {
        let parser = s.spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            let read = read_with(path, unchanged, &mut |p| {
                batch.push(p);
                if batch.len() == BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    // The other side hung up: it stopped at an error of its own.
                    tx.send(full).map_err(|_| String::from("stopped"))?;
                }
                Ok(())
            });
            if read.is_ok() {
                let _ = tx.send(batch);
            }
            read
        });
        let mut failed = None;
        'batches: for batch in &rx {
            for p in batch {
                if let Err(why) = on_path(p) {
                    failed = Some(why);
                    break 'batches;
                }
            }
        }
        drop(rx);
        let read = parser
            .join()
            .unwrap_or_else(|_| Err(ReadError::Io("its reader stopped".into())));
        match failed {
            Some(why) => Err(ReadError::Malformed(why)),
            None => read,
        }
    })
}

struct ReadState<'s, 'f> {
    /// Why reading stopped, when it is more than a syntax error.
    error: Option<ReadError>,
    /// Why a path line was refused, placed at the line (see [`PathLines`]).
    refused: Option<String>,
    on_path: &'s mut OnPath<'f>,
}

struct BaselineSeed<'r, 's, 'f> {
    state: &'r mut ReadState<'s, 'f>,
}

const FIELDS: &[&str] = &[
    "format",
    "version",
    "schema",
    "provenance",
    "max_chain",
    "impersonation_actions",
    "profiles",
    "paths",
    "grants",
];

impl<'de> DeserializeSeed<'de> for BaselineSeed<'_, '_, '_> {
    type Value = Baseline;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Baseline, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BaselineSeed<'_, '_, '_> {
    type Value = Baseline;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "an actas baseline (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Baseline, A::Error> {
        use serde::de::Error;
        let state = self.state;
        let mut fail = |e: ReadError| {
            state.error = Some(e);
            A::Error::custom("stopped")
        };
        let not_ours = || {
            ReadError::Malformed(format!(
                "not an actas baseline (no `\"format\": \"{FORMAT}\"`)"
            ))
        };
        let (mut format, mut version, mut paths) = (false, false, false);
        let mut schema = None;
        let mut provenance = None;
        let mut max_chain = None;
        let mut actions = None;
        let mut profiles: Option<Vec<ProfileEntry>> = None;
        let mut grants = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "format" => {
                    let v: Value = map.next_value()?;
                    if v.as_str() != Some(FORMAT) {
                        return Err(fail(not_ours()));
                    }
                    format = true;
                }
                "version" => {
                    let v: Value = map.next_value()?;
                    match v.as_u64() {
                        Some(n) if n == u64::from(VERSION) => version = true,
                        Some(n) => return Err(fail(ReadError::Version(n))),
                        None => {
                            return Err(fail(ReadError::Malformed(format!(
                                "`version` must be a whole number such as {VERSION}, not `{v}`"
                            ))))
                        }
                    }
                }
                "paths" if paths => return Err(A::Error::duplicate_field("paths")),
                "paths" => {
                    if !format {
                        return Err(fail(not_ours()));
                    }
                    if !version {
                        return Err(fail(ReadError::Malformed(
                            "no `version` before `paths`".into(),
                        )));
                    }
                    let Some(profiles) = &profiles else {
                        return Err(fail(ReadError::Malformed(
                            "no `profiles` before `paths`".into(),
                        )));
                    };
                    let names: Vec<ProfileName> = profiles.iter().map(|p| p.name.clone()).collect();
                    map.next_value_seed(PathLines {
                        profiles: &names,
                        on_path: &mut *state.on_path,
                        refused: &mut state.refused,
                        path: Vec::new(),
                        last: None,
                        listed: FxHashSet::default(),
                        open: None,
                    })?;
                    paths = true;
                }
                "schema" => schema = Some(map.next_value()?),
                "provenance" => provenance = map.next_value()?,
                "max_chain" => max_chain = Some(map.next_value()?),
                "impersonation_actions" => actions = Some(map.next_value()?),
                "profiles" => profiles = Some(map.next_value()?),
                "grants" => grants = Some(map.next_value()?),
                other => {
                    let _: IgnoredAny = map.next_value()?;
                    return Err(A::Error::unknown_field(other, FIELDS));
                }
            }
        }
        if !format {
            return Err(fail(not_ours()));
        }
        if !version {
            return Err(fail(ReadError::Malformed("no `version`".into())));
        }
        if !paths {
            return Err(A::Error::missing_field("paths"));
        }
        Ok(Baseline {
            format: FORMAT.into(),
            version: VERSION,
            schema: schema.ok_or_else(|| A::Error::missing_field("schema"))?,
            provenance,
            max_chain: max_chain.ok_or_else(|| A::Error::missing_field("max_chain"))?,
            impersonation_actions: actions
                .ok_or_else(|| A::Error::missing_field("impersonation_actions"))?,
            profiles: profiles.ok_or_else(|| A::Error::missing_field("profiles"))?,
            grants: grants.ok_or_else(|| A::Error::missing_field("grants"))?,
        })
    }
}

/// The `paths` list, each entry handed on as it is parsed: the lines read so far are those of
/// the path being read (one per route), handed on by profile once the next path begins.
struct PathLines<'s, 'f> {
    /// The baseline's profiles: those of a line that leaves them out.
    profiles: &'s [ProfileName],
    on_path: &'s mut OnPath<'f>,
    /// Why a line was refused; its place is that of the serde error that stops the reading.
    refused: &'s mut Option<String>,
    /// The lines of the path being read, their profiles named.
    path: Vec<PathLine>,
    /// The principal of the last line, and whether its lines are over (a [`SameLine`], or a
    /// principal passed over whole: no line of it may follow).
    last: Option<(String, bool)>,
    /// The principals whose paths were read.
    listed: FxHashSet<String>,
    /// The principal whose route lines are being read, and their content so far.
    open: Option<(String, LinesContent)>,
}

/// A line of `paths` as read: a route ([`PathLine`]) or a [`SameLine`], told apart here so
/// that a line missing a field is refused in words.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnyLine {
    principal: String,
    target: Option<String>,
    #[serde(default)]
    profiles: Option<Vec<ProfileName>>,
    chain: Option<Vec<String>>,
    policies: Option<Vec<PolicyId>>,
    same_as: Option<String>,
}

/// The list as a whole.
impl<'de> DeserializeSeed<'de> for PathLines<'_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PathLines<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "a list of paths")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(&mut self)?.is_some() {}
        self.close().map_err(|why| self.refuse(why))
    }
}

impl PathLines<'_, '_> {
    /// Takes a line of either kind: the principals of [`SameLine`]s and routes are in one order.
    fn take_any(&mut self, line: AnyLine) -> Result<(), String> {
        let Some(same_as) = line.same_as else {
            let missing = |field: &str| {
                format!(
                    "the path line of `{}` has no `{field}` (a line has `target`, `chain` and `policies`, or `same_as` alone)",
                    line.principal
                )
            };
            let target = line.target.ok_or_else(|| missing("target"))?;
            let chain = line.chain.ok_or_else(|| missing("chain"))?;
            let policies = line.policies.ok_or_else(|| missing("policies"))?;
            if let Some((last, true)) = &self.last {
                if line.principal <= *last {
                    return Err(self.out_of_order(&line.principal));
                }
            }
            return self.take(PathLine {
                principal: line.principal,
                target,
                profiles: line.profiles,
                chain,
                policies,
            });
        };
        if line.target.is_some()
            || line.profiles.is_some()
            || line.chain.is_some()
            || line.policies.is_some()
        {
            return Err(format!(
                "the path line of `{}` has `same_as` and fields of a route: a `same_as` line has `principal` and `same_as` alone",
                line.principal
            ));
        }
        self.close()?;
        if self
            .last
            .as_ref()
            .is_some_and(|(last, _)| line.principal <= *last)
        {
            return Err(self.out_of_order(&line.principal));
        }
        if !self.listed.contains(&same_as) {
            return Err(format!(
                "`{}` is the same as `{same_as}`, which has no paths before it: a `same_as` line names a principal whose paths are listed earlier",
                line.principal
            ));
        }
        self.last = Some((line.principal.clone(), true));
        (self.on_path)(ReadPath::Same {
            principal: line.principal,
            same_as,
        })
    }

    /// Hands on the last path, and the end of its principal's lines.
    fn close(&mut self) -> Result<(), String> {
        self.hand_on()?;
        match self.open.take() {
            Some((principal, content)) => (self.on_path)(ReadPath::End {
                principal,
                content: content.finish(),
            }),
            None => Ok(()),
        }
    }

    /// Takes a principal whose lines were not parsed ([`ReadPath::Unchanged`]): they are the
    /// lines `snapshot` would write, so in order and well formed; only their place among the
    /// other principals is checked.
    fn pass(&mut self, principal: String) -> Result<(), String> {
        self.close()?;
        if (self.last.as_ref()).is_some_and(|(last, _)| principal <= *last) {
            return Err(self.out_of_order(&principal));
        }
        self.listed.insert(principal.clone());
        self.last = Some((principal.clone(), true));
        (self.on_path)(ReadPath::Unchanged { principal })
    }

    fn out_of_order(&self, principal: &str) -> String {
        format!(
            "paths are out of order at principal `{principal}`: a baseline lists them sorted by principal and target, a principal's paths together"
        )
    }
}

impl PathLines<'_, '_> {
    fn refuse<E: serde::de::Error>(&mut self, why: String) -> E {
        *self.refused = Some(why);
        E::custom("refused")
    }

    fn hand_on(&mut self) -> Result<(), String> {
        if self.path.is_empty() {
            return Ok(());
        }
        let next = self
            .path
            .first()
            .filter(|first| (self.last.as_ref()).is_none_or(|(last, _)| *last != first.principal));
        if let Some(next) = next.map(|first| first.principal.clone()) {
            self.listed.insert(next.clone());
            self.last = Some((next, false));
        }
        (self.on_path)(ReadPath::Path(std::mem::take(&mut self.path)))
    }

    /// Takes a line; out of order and repeated are told here, where the line stands.
    fn take(&mut self, line: PathLine) -> Result<(), String> {
        if self
            .open
            .as_ref()
            .is_none_or(|(principal, _)| *principal != line.principal)
        {
            if self
                .path
                .first()
                .is_some_and(|p| p.principal > line.principal)
            {
                return Err(format!(
                    "paths are out of order at principal `{}`, target `{}`: a baseline lists them sorted by principal and target",
                    line.principal, line.target
                ));
            }
            self.close()?;
            self.open = Some((line.principal.clone(), LinesContent::default()));
        }
        if let Some((_, content)) = &mut self.open {
            let chain = line.chain.iter().map(String::as_str);
            content.add(
                &line.target,
                line.profiles.as_deref(),
                chain,
                &line.policies,
            );
        }
        if let Some(p) = self.path.first() {
            match (line.principal.as_str(), line.target.as_str())
                .cmp(&(p.principal.as_str(), p.target.as_str()))
            {
                std::cmp::Ordering::Less => {
                    return Err(format!(
                        "paths are out of order at principal `{}`, target `{}`: a baseline lists them sorted by principal and target",
                        line.principal, line.target
                    ))
                }
                std::cmp::Ordering::Greater => self.hand_on()?,
                std::cmp::Ordering::Equal => {}
            }
        }
        let profiles = line.profiles.as_deref().unwrap_or(self.profiles);
        if profiles.is_empty() {
            return Err(format!(
                "the path of `{}` to `{}` lists no profile",
                line.principal, line.target
            ));
        }
        for profile in profiles {
            if !self.profiles.contains(profile) {
                return Err(format!(
                    "the path of `{}` to `{}` names profile `{profile}`, which `profiles` does not list",
                    line.principal, line.target
                ));
            }
            let taken =
                (self.path.iter()).any(|p| p.profiles.iter().flatten().any(|x| x == profile));
            if taken || profiles.iter().filter(|p| *p == profile).count() > 1 {
                return Err(format!(
                    "the path of `{}` to `{}` has two routes under profile `{profile}`: a path has one route under each profile",
                    line.principal, line.target
                ));
            }
        }
        let profiles = Some(profiles.to_vec());
        self.path.push(PathLine { profiles, ..line });
        Ok(())
    }
}

/// A line of `paths`, checked while the parser stands at it: an error raised inside the
/// entry's object is placed there, one raised after it at the entry that follows.
impl<'de> DeserializeSeed<'de> for &mut PathLines<'_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for &mut PathLines<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "a path (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let line = AnyLine::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        self.take_any(line).map_err(|why| self.refuse(why))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every line parsed.
    fn read_all(path: &Path, on_path: &mut OnPath<'_>) -> Result<Baseline, ReadError> {
        read_with(path, &|_, _| false, on_path)
    }

    #[test]
    fn a_path_line_names_only_the_baselines_profiles() {
        let text = r#"{"format": "actas-baseline", "version": 4, "schema": "00",
            "max_chain": 3, "impersonation_actions": [],
            "profiles": [{"name": "p", "context": {}}],
            "paths": [
              {"principal": "User::\"a\"", "target": "Account::\"b\"", "profiles": ["z"], "chain": ["Account::\"b\""], "policies": []}
            ],
            "grants": []}"#;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("b.json");
        std::fs::write(&file, text).unwrap();
        let read = read_all(&file, &mut |_| Ok(()));
        let Err(ReadError::Malformed(why)) = read else {
            panic!("read {read:?}");
        };
        assert!(
            why.contains("names profile `z`, which `profiles` does not list"),
            "{why}"
        );
    }

    /// Reads `paths` (the text of the list's entries) in a baseline of profiles `p` and `q`.
    fn read_paths(paths: &str) -> Result<Vec<ReadPath>, ReadError> {
        let text = format!(
            r#"{{"format": "actas-baseline", "version": 4, "schema": "00",
            "max_chain": 3, "impersonation_actions": [],
            "profiles": [{{"name": "p", "context": {{}}}}, {{"name": "q", "context": {{}}}}],
            "paths": [{paths}],
            "grants": []}}"#
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("b.json");
        std::fs::write(&file, text).unwrap();
        let mut read = Vec::new();
        read_all(&file, &mut |p| {
            read.push(p);
            Ok(())
        })?;
        Ok(read)
    }

    #[test]
    fn a_same_as_line_names_a_principal_listed_before_it() {
        let route = |principal: &str, target: &str, profiles: &str| {
            format!(
                r#"{{"principal": "{principal}", "target": "{target}", {profiles}"chain": ["{target}"], "policies": ["x"]}}"#
            )
        };
        let same = |principal: &str, same_as: &str| {
            format!(r#"{{"principal": "{principal}", "same_as": "{same_as}"}}"#)
        };
        let lines = [
            route("a", "t", ""),
            route("a", "u", r#""profiles": ["q"], "#),
            same("b", "a"),
            route("c", "t", ""),
            same("d", "a"),
            same("e", "c"),
        ];
        let read = read_paths(&lines.join(",")).unwrap();
        let entries = |who: &str| {
            let lines = read.iter().filter_map(|r| match r {
                ReadPath::Path(lines) => Some(lines.clone()),
                _ => None,
            });
            path_entries_of(lines.flatten().collect())
                .iter()
                .filter(|e| e.principal == who)
                .count()
        };
        // `a` to `t` under both profiles, to `u` under `q`; `c` to `t` under both.
        assert_eq!((entries("a"), entries("c")), (3, 2));
        let sames: Vec<(&str, &str)> = read
            .iter()
            .filter_map(|r| match r {
                ReadPath::Same { principal, same_as } => {
                    Some((principal.as_str(), same_as.as_str()))
                }
                ReadPath::Path(_) | ReadPath::End { .. } | ReadPath::Unchanged { .. } => None,
            })
            .collect();
        assert_eq!(sames, [("b", "a"), ("d", "a"), ("e", "c")]);

        // Refused, each in words: a `same_as` naming a principal not listed before it, one out
        // of order, one with route fields, a route line after a `same_as` of its principal, a
        // line with neither.
        let refused = [
            (
                vec![same("b", "a"), route("a", "t", "")],
                "`b` is the same as `a`, which has no paths before it",
            ),
            (
                vec![route("c", "t", ""), same("b", "c")],
                "out of order at principal `b`",
            ),
            (
                vec![
                    route("a", "t", ""),
                    r#"{"principal": "b", "same_as": "a", "target": "t"}"#.into(),
                ],
                "has `same_as` and fields of a route",
            ),
            (
                vec![route("a", "t", ""), same("b", "a"), route("b", "t", "")],
                "out of order at principal `b`",
            ),
            (
                vec![r#"{"principal": "b", "chain": [], "policies": []}"#.into()],
                "the path line of `b` has no `target`",
            ),
        ];
        for (lines, expected) in refused {
            let read = read_paths(&lines.join(","));
            let Err(ReadError::Malformed(why)) = &read else {
                panic!("{lines:?} read {read:?}");
            };
            assert!(why.contains(expected), "{lines:?}: {why}");
        }
    }

    /// The bundled example's workspace and every profile of it.
    fn bundled_example() -> (
        crate::workspace::Workspace,
        Vec<crate::analysis::profiles::Profile>,
    ) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let ws = crate::workspace::load(root, &Default::default())
            .unwrap()
            .workspace
            .unwrap();
        let profiles = crate::analysis::profiles::select(&ws, &[], None).unwrap();
        (ws, profiles)
    }

    /// The reader passes over, unparsed, exactly the principals whose lines are the text their
    /// current paths would be written with: all of them in a file `snapshot` just wrote; the
    /// principal of a line changed by one character is parsed, its lines handed on.
    #[test]
    fn lines_written_now_are_passed_over_unparsed_and_a_changed_one_is_parsed() {
        let (ws, profiles) = bundled_example();
        let e = crate::analysis::effective::compute(&ws.engine, &profiles);
        let names = &e.reached.identities().names;
        let text: FxHashMap<String, u128> = contents(&e)
            .iter()
            .map(|c| {
                (
                    names[c.principal as usize].to_string(),
                    text_content(&e, c.principal).0,
                )
            })
            .collect();
        let mut out = Vec::new();
        write(&mut out, &from_effective(&ws.engine, &e), path_lines(&e)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("b.json");
        let read_back = |bytes: &[u8]| {
            std::fs::write(&file, bytes).unwrap();
            let (mut passed, mut parsed) = (Vec::new(), Vec::new());
            read_with(&file, &|p, h| text.get(p) == Some(&h), &mut |p| {
                match p {
                    ReadPath::Unchanged { principal } => passed.push(principal),
                    ReadPath::End { principal, .. } => parsed.push(principal),
                    ReadPath::Path(_) | ReadPath::Same { .. } => {}
                }
                Ok(())
            })
            .unwrap();
            (passed, parsed)
        };
        let (passed, parsed) = read_back(&out);
        let mut all: Vec<&String> = text.keys().collect();
        all.sort();
        assert!(all.len() > 3, "{all:?}");
        assert_eq!(passed.iter().collect::<Vec<_>>(), all);
        assert!(parsed.is_empty(), "{parsed:?}");

        // One policy of the first route line renamed (the same length, so the layout holds).
        let written = String::from_utf8(out).unwrap();
        let line = written
            .lines()
            .find(|l| l.contains(r#""policies":[""#))
            .unwrap();
        let at = line.find(r#""policies":[""#).unwrap() + r#""policies":[""#.len();
        let mut changed_line = line.to_string();
        changed_line.replace_range(at..=at, "~");
        let (passed, parsed) = read_back(written.replacen(line, &changed_line, 1).as_bytes());
        let principal: AnyLine = serde_json::from_str(line.trim().trim_end_matches(',')).unwrap();
        assert_eq!(parsed, std::slice::from_ref(&principal.principal));
        assert_eq!(passed.len(), all.len() - 1);
        assert!(!passed.contains(&principal.principal));
    }

    #[test]
    fn a_route_lines_principal_ends_at_its_first_unescaped_quote() {
        let line = br#"{"principal":"A::\"x\\\",\"target\":\"","target":"B::\"y\"","chain":[]}"#;
        let (principal, tail) = route_tail(line).unwrap();
        let principal: String = serde_json::from_slice(principal).unwrap();
        assert_eq!(principal, r#"A::"x\","target":""#);
        assert_eq!(tail, br#","target":"B::\"y\"","chain":[]}"#);
        // Other spacing, another order of fields, a `same_as` line, a cut line: not route lines
        // as written.
        for other in [
            &br#"{"principal": "A::\"x\"", "target": "B::\"y\""}"#[..],
            br#"{"target":"B::\"y\"","principal":"A::\"x\""}"#,
            br#"{"principal":"A::\"x\"","same_as":"A::\"w\""}"#,
            br#"{"principal":"A::\"x\\"#,
        ] {
            assert!(
                route_tail(other).is_none(),
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }

    /// `drift` passes over a principal whose lines hash as its current paths would be written:
    /// the hashes of the lines read back equal those made from the paths (the bundled example,
    /// where no two principals reach alike, so every principal's lines are written).
    #[test]
    fn lines_read_back_hash_as_the_paths_they_were_written_from() {
        let (ws, profiles) = bundled_example();
        let e = crate::analysis::effective::compute(&ws.engine, &profiles);
        let contents = contents(&e);
        let lines: Vec<u128> = (contents.iter())
            .map(|c| lines_content(&e, c.principal))
            .collect();
        let mut out = Vec::new();
        let b = from_effective(&ws.engine, &e);
        write(&mut out, &b, path_lines(&e)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("b.json");
        std::fs::write(&file, out).unwrap();
        let mut ends = Vec::new();
        read_all(&file, &mut |p| {
            if let ReadPath::End { principal, content } = p {
                ends.push((principal, content));
            }
            Ok(())
        })
        .unwrap();
        let names = &e.reached.identities().names;
        let made: Vec<(String, u128)> = (contents.iter().zip(lines))
            .map(|(c, l)| (names[c.principal as usize].to_string(), l))
            .collect();
        assert!(made.len() > 3, "{made:?}");
        assert_eq!(ends, made);
    }

    #[test]
    fn a_paths_routes_become_one_entry_per_profile_in_profile_order() {
        let line = |target: &str, profiles: &[&str], chain: &str| PathLine {
            principal: "a".into(),
            target: target.into(),
            profiles: Some(profiles.iter().map(|&p| p.into()).collect()),
            chain: vec![chain.into()],
            policies: vec![],
        };
        let entries = path_entries_of(vec![
            line("t", &["r", "s"], "x"),
            line("t", &["q"], "y"),
            line("u", &["q"], "u"),
        ]);
        let got: Vec<(&str, &str, &str)> = entries
            .iter()
            .map(|e| (e.target.as_str(), e.profile.as_str(), e.chain[0].as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("t", "q", "y"),
                ("t", "r", "x"),
                ("t", "s", "x"),
                ("u", "q", "u")
            ]
        );
    }

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        assert_eq!(fnv1a(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a("a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn rendering_reads_back_and_keeps_one_entry_per_line() {
        let b = Baseline {
            format: FORMAT.into(),
            version: VERSION,
            schema: "00".into(),
            provenance: None,
            max_chain: 3,
            impersonation_actions: vec![r#"Action::"x""#.into()],
            profiles: vec![],
            grants: vec![],
        };
        let b = Baseline {
            profiles: ["p", "q"]
                .map(|name| ProfileEntry {
                    name: name.into(),
                    context: Map::new(),
                })
                .to_vec(),
            ..b
        };
        let line = |target: &str, profiles: Option<Vec<ProfileName>>| PathLine {
            principal: r#"User::"a""#.into(),
            target: target.into(),
            profiles,
            chain: vec![target.into()],
            policies: vec!["x".into()],
        };
        // One path under both profiles, one under `q` alone.
        let lines = [
            line(r#"Account::"b""#, None),
            line(r#"Account::"c""#, Some(vec!["q".into()])),
        ];
        let entry = |profile: &str, target: &str| PathEntry {
            profile: profile.into(),
            principal: r#"User::"a""#.into(),
            target: target.into(),
            chain: vec![target.into()],
            policies: vec!["x".into()],
        };
        let paths = vec![
            entry("p", r#"Account::"b""#),
            entry("q", r#"Account::"b""#),
            entry("q", r#"Account::"c""#),
        ];
        let text = render(&b, &lines);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("b.json");
        std::fs::write(&file, &text).unwrap();
        let mut read = Vec::new();
        let mut ends = Vec::new();
        let back = read_all(&file, &mut |p| {
            match p {
                ReadPath::Path(lines) => read.extend(path_entries_of(lines)),
                ReadPath::End { principal, .. } => ends.push(principal),
                ReadPath::Same { .. } | ReadPath::Unchanged { .. } => panic!("{p:?}"),
            }
            Ok(())
        })
        .unwrap();
        assert_eq!((back.clone(), read.clone()), (b, paths));
        assert_eq!(ends, [r#"User::"a""#]);
        // Laid out otherwise (as a tool might rewrite it), the file reads the same, as one
        // document rather than a line at a time.
        let value: Value = serde_json::from_str(&text).unwrap();
        std::fs::write(&file, serde_json::to_string_pretty(&value).unwrap()).unwrap();
        let mut again = Vec::new();
        let back_again = read_all(&file, &mut |p| {
            if let ReadPath::Path(lines) = p {
                again.extend(path_entries_of(lines));
            }
            Ok(())
        })
        .unwrap();
        assert_eq!((back_again, again), (back, read));
        // A line that is not JSON is told at its line and column either way.
        let broken = text.replace(r#""target":"Account::\"c\"""#, r#""target":Account"#);
        assert_ne!(broken, text);
        std::fs::write(&file, &broken).unwrap();
        let Err(ReadError::Malformed(why)) = read_all(&file, &mut |_| Ok(())) else {
            panic!("read a broken line");
        };
        let at = broken.lines().position(|l| l.contains(":Account")).unwrap() + 1;
        assert!(why.starts_with(&format!("line {at}, column ")), "{why}");
        // The whole file fits its schema's type.
        let _: BaselineFile = serde_json::from_str(&text).unwrap();
        assert!(text.contains(
            "\n    {\"principal\":\"User::\\\"a\\\"\",\"target\":\"Account::\\\"b\\\"\",\"chain\""
        ));
    }
}
