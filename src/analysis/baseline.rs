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

use std::fmt::Write as _;
use std::path::Path;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::core::ids::{PolicyId, ProfileName};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::analysis::effective::Effective;
use crate::engine::Engine;

pub const FORMAT: &str = "actas-baseline";
pub const VERSION: u32 = 2;
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
    /// Sorted by (profile, principal, target).
    pub paths: Vec<PathEntry>,
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

impl PathEntry {
    pub fn key(&self) -> (&str, &str, &str) {
        (&self.profile, &self.principal, &self.target)
    }
}

/// A path entry as the workers write it, borrowing its names (the fields of [`PathEntry`], in
/// its order).
#[derive(Serialize)]
struct PathRow<'a> {
    profile: &'a str,
    principal: &'a str,
    target: &'a str,
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

/// The profiles' indices in name order: the order of the baseline's paths.
fn by_name(e: &Effective) -> Vec<usize> {
    let mut order: Vec<usize> = (0..e.profiles.len()).collect();
    order.sort_by(|&a, &b| e.profiles[a].name.cmp(&e.profiles[b].name));
    order
}

/// Every path of `e` as the baseline writes it, in its order, made by the workers.
pub fn path_entries<'a>(e: &'a Effective<'_>) -> impl Iterator<Item = PathEntry> + 'a {
    by_name(e).into_iter().flat_map(move |k| {
        let profile = &e.profiles[k].name;
        e.reached.map_profile_paths(k, move |p| PathEntry {
            profile: profile.clone(),
            principal: p.principal_name().to_string(),
            target: p.target_name().to_string(),
            chain: p.chain_names().iter().map(ToString::to_string).collect(),
            policies: p.policies(),
        })
    })
}

/// Every path of `e` as a line of the baseline's JSON, in its order, made by the workers.
pub fn path_lines<'a>(e: &'a Effective<'_>) -> impl Iterator<Item = String> + 'a {
    by_name(e).into_iter().flat_map(move |k| {
        let profile = e.profiles[k].name.as_str();
        e.reached.map_profile_paths(k, move |p| {
            let row = PathRow {
                profile,
                principal: p.principal_name(),
                target: p.target_name(),
                chain: p.chain_names().iter().map(|n| &***n).collect(),
                policies: p.policies(),
            };
            serde_json::to_string(&row).unwrap_or_default()
        })
    })
}

/// Writes the file: top-level fields one per line, each list entry on a line of its own, the
/// paths from `paths` (JSON lines); returns how many paths it wrote.
pub fn write(
    out: &mut dyn std::io::Write,
    b: &Baseline,
    paths: impl Iterator<Item = String>,
) -> std::io::Result<usize> {
    fn list(
        out: &mut dyn std::io::Write,
        name: &str,
        items: impl Iterator<Item = String>,
        last: bool,
    ) -> std::io::Result<usize> {
        write!(out, "  \"{name}\": [")?;
        let mut n = 0;
        for line in items {
            let sep = if n > 0 { "," } else { "" };
            write!(out, "{sep}\n    {line}")?;
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
    let n = list(out, "paths", paths, false)?;
    list(out, "grants", b.grants.iter().map(json), true)?;
    out.write_all(b"}\n")?;
    Ok(n)
}

fn json<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The file's text, for a baseline whose paths are at hand (small ones; tests).
#[cfg(test)]
fn render(b: &Baseline, paths: &[PathEntry]) -> String {
    let mut out = Vec::new();
    let lines = paths.iter().map(json);
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
pub type OnPath<'f> = dyn FnMut(PathEntry) -> Result<(), String> + 'f;

/// Reads a baseline as a stream: `on_path` gets each path as it is parsed, the rest is
/// returned. Its format and version are checked where they stand, before the paths (as
/// `snapshot` writes them): a baseline of another version is refused before any of its
/// entries is read. A baseline of millions of paths is a gigabyte of text; it is never held.
pub fn read(path: &Path, on_path: &mut OnPath<'_>) -> Result<Baseline, ReadError> {
    if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(ReadError::Io("is a folder".into()));
    }
    let file =
        std::fs::File::open(path).map_err(|e| ReadError::Io(crate::core::files::io_reason(&e)))?;
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut state = ReadState {
        error: None,
        on_path,
    };
    let read = BaselineSeed { state: &mut state }
        .deserialize(&mut de)
        .and_then(|b| de.end().map(|()| b));
    if let Some(e) = state.error {
        return Err(e);
    }
    read.map_err(|e| ReadError::Malformed(e.to_string()))
}

struct ReadState<'s, 'f> {
    /// Why reading stopped, when it is more than a syntax error.
    error: Option<ReadError>,
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
        let mut profiles = None;
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
                    map.next_value_seed(PathsSeed {
                        on_path: &mut *state.on_path,
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

/// The `paths` list, each entry handed on as it is parsed.
struct PathsSeed<'s, 'f> {
    on_path: &'s mut OnPath<'f>,
}

impl<'de> DeserializeSeed<'de> for PathsSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PathsSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "a list of paths")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(entry) = seq.next_element::<PathEntry>()? {
            (self.on_path)(entry).map_err(serde::de::Error::custom)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let paths = vec![PathEntry {
            profile: "p".into(),
            principal: r#"User::"a""#.into(),
            target: r#"Account::"b""#.into(),
            chain: vec![r#"Account::"b""#.into()],
            policies: vec!["x".into()],
        }];
        let text = render(&b, &paths);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("b.json");
        std::fs::write(&file, &text).unwrap();
        let mut read = Vec::new();
        let back = super::read(&file, &mut |p| {
            read.push(p);
            Ok(())
        })
        .unwrap();
        assert_eq!((back, read), (b, paths));
        // The whole file fits its schema's type.
        let _: BaselineFile = serde_json::from_str(&text).unwrap();
        assert!(text.contains("\n    {\"profile\":\"p\",\"principal\":\"User::\\\"a\\\"\""));
    }
}
