//! The baseline file of `actas snapshot` / `actas drift`: the workspace's effective access per
//! profile, sorted, one entry per line (diff-friendly), versioned, tied to the schema it was
//! computed under, and written atomically (a temporary file in the same folder, synced, then
//! renamed over the old one: an interrupted run never leaves a truncated baseline).

use std::fmt::Write as _;
use std::path::Path;

use crate::core::ids::{PolicyId, ProfileName};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::analysis::effective::Effective;
use crate::engine::Engine;

pub const FORMAT: &str = "actas-baseline";
pub const VERSION: u32 = 1;
/// Where `snapshot` writes and `drift` reads, relative to the workspace.
pub const DEFAULT_PATH: &str = "actas.baseline.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    pub format: String,
    pub version: u32,
    /// A fingerprint of the schema's entity types and actions (FNV-1a, 64 bits, hex).
    pub schema: String,
    /// The actas and Cedar versions and the SHA-256 of every input it was recorded from (no
    /// commit or time: the baseline is committed beside its inputs). Absent in older baselines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<crate::workspace::provenance::Provenance>,
    pub max_chain: u32,
    pub impersonation_actions: Vec<String>,
    pub profiles: Vec<ProfileEntry>,
    pub paths: Vec<PathEntry>,
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
    pub policies: Vec<PolicyId>,
}

impl PathEntry {
    pub fn key(&self) -> (&str, &str, &str) {
        (&self.profile, &self.principal, &self.target)
    }
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

/// The baseline of an effective access computation.
pub fn from_effective(engine: &Engine, e: &Effective) -> Baseline {
    let mut paths = Vec::new();
    let mut grants = Vec::new();
    for (profile, access) in e.profiles.iter().zip(&e.access) {
        for (key, (chain, policies)) in &access.paths {
            paths.push(PathEntry {
                profile: profile.name.clone(),
                principal: key.principal.to_string(),
                target: key.target.to_string(),
                chain: chain.iter().map(ToString::to_string).collect(),
                policies: policies.to_vec(),
            });
        }
        for (g, policies) in &access.grants {
            grants.push(GrantEntry {
                profile: profile.name.clone(),
                principal: g.principal.to_string(),
                acting_as: g.acting_as.as_ref().map(ToString::to_string),
                action: g.action.to_string(),
                resource: g.resource.to_string(),
                policies: policies.clone(),
            });
        }
    }
    paths.sort();
    grants.sort();
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
        paths,
        grants,
    }
}

/// The file's text: top-level fields one per line, each list entry on a line of its own.
pub fn render(b: &Baseline) -> String {
    fn list<T: Serialize>(out: &mut String, name: &str, items: &[T], last: bool) {
        let _ = write!(out, "  \"{name}\": [");
        for (i, item) in items.iter().enumerate() {
            let sep = if i + 1 < items.len() { "," } else { "" };
            let line = serde_json::to_string(item).unwrap_or_default();
            let _ = write!(out, "\n    {line}{sep}");
        }
        if !items.is_empty() {
            out.push_str("\n  ");
        }
        out.push(']');
        out.push_str(if last { "\n" } else { ",\n" });
    }
    let mut out = String::from("{\n");
    let field = |out: &mut String, name: &str, v: Value| {
        let _ = writeln!(out, "  \"{name}\": {v},");
    };
    field(&mut out, "format", Value::from(b.format.clone()));
    field(&mut out, "version", Value::from(b.version));
    field(&mut out, "schema", Value::from(b.schema.clone()));
    if let Some(p) = &b.provenance {
        let _ = writeln!(
            out,
            "  \"provenance\": {},",
            serde_json::to_string(p).unwrap_or_default()
        );
    }
    field(&mut out, "max_chain", Value::from(b.max_chain));
    field(
        &mut out,
        "impersonation_actions",
        Value::from(b.impersonation_actions.clone()),
    );
    list(&mut out, "profiles", &b.profiles, false);
    list(&mut out, "paths", &b.paths, false);
    list(&mut out, "grants", &b.grants, true);
    out.push_str("}\n");
    out
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

/// A baseline's format and version, read before the rest (every other field skipped).
#[derive(Deserialize)]
struct Header {
    format: Option<Value>,
    version: Option<Value>,
}

/// Reads a baseline, checking its format and version before its fields. The text is parsed
/// straight into the baseline's types, never into a generic JSON tree: a baseline of millions of
/// paths is a gigabyte of text, and a tree of it ten times that.
pub fn read(path: &Path) -> Result<Baseline, ReadError> {
    let text = crate::core::files::read_text(path).map_err(ReadError::Io)?;
    let header: Header =
        serde_json::from_str(&text).map_err(|e| ReadError::Malformed(e.to_string()))?;
    if header.format.as_ref().and_then(Value::as_str) != Some(FORMAT) {
        return Err(ReadError::Malformed(format!(
            "not an actas baseline (no `\"format\": \"{FORMAT}\"`)"
        )));
    }
    match header.version.as_ref().map(|v| (v, v.as_u64())) {
        Some((_, Some(v))) if v == u64::from(VERSION) => {}
        Some((_, Some(v))) => return Err(ReadError::Version(v)),
        Some((v, None)) => {
            return Err(ReadError::Malformed(format!(
                "`version` must be a whole number such as {VERSION}, not `{v}`"
            )))
        }
        None => return Err(ReadError::Malformed("no `version`".into())),
    }
    serde_json::from_str(&text).map_err(|e| ReadError::Malformed(e.to_string()))
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
            paths: vec![PathEntry {
                profile: "p".into(),
                principal: r#"User::"a""#.into(),
                target: r#"Account::"b""#.into(),
                chain: vec![r#"Account::"b""#.into()],
                policies: vec!["x".into()],
            }],
            grants: vec![],
        };
        let text = render(&b);
        let back: Baseline = serde_json::from_str(&text).unwrap();
        assert_eq!(back, b);
        assert!(text.contains("\n    {\"profile\":\"p\",\"principal\":\"User::\\\"a\\\"\""));
    }
}
