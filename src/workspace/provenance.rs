//! Provenance: what a report or a baseline was made from and by what, so a reviewer can tell
//! which policies it describes and check that it still does (`actas report --verify`).
//!
//! Every input file (actas.yaml, schema, policies, links, entities) is hashed with SHA-256 as it
//! is on disk (what `sha256sum` prints), and the set is hashed as the `sha256sum` listing of
//! those files sorted by path. Reports also carry the generation time in UTC and the command
//! line: the one exception to DESIGN's outputs without wall-clock times, because evidence needs a
//! date; `SOURCE_DATE_EPOCH` fixes the time, so two runs on the same inputs are byte-identical.
//! The baseline carries the hashes and versions only: it is committed in the repository it
//! describes, so a commit or a time in it would change with every commit.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Workspace;

/// The version of Cedar actas evaluates with (Cargo.toml pins it; a test checks they agree).
pub const CEDAR_VERSION: &str = "4.14.1";

/// An input file as loaded: where it is, and its path as messages show it.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub path: PathBuf,
    pub display: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    pub actas_version: String,
    pub cedar_version: String,
    /// The workspace's git state, when it is in a repository and git runs (reports only).
    pub git: Option<GitState>,
    /// Every input file with its SHA-256, sorted by path.
    pub inputs: Vec<InputHash>,
    /// SHA-256 of the `sha256sum` listing of `inputs` (`HASH  PATH` lines).
    pub inputs_sha256: String,
    /// When the report was made, RFC 3339 UTC (`SOURCE_DATE_EPOCH` when set; reports only).
    pub generated_at: Option<String>,
    /// The command line's arguments after the program name (reports only).
    pub command_line: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GitState {
    pub commit: String,
    /// Uncommitted changes in the working tree.
    pub dirty: bool,
    /// The `origin` remote's address, when there is one.
    pub remote: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputHash {
    pub path: String,
    pub sha256: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a file's bytes on disk; `None` when it cannot be read.
fn file_sha256(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    Some(hex(&Sha256::digest(&bytes)))
}

/// The hashes of `files`, sorted by display path, and the hash of their listing.
fn hashes(files: &[InputFile]) -> (Vec<InputHash>, String) {
    let mut inputs: Vec<InputHash> = files
        .iter()
        .map(|f| InputHash {
            path: f.display.clone(),
            sha256: file_sha256(&f.path).unwrap_or_else(|| "unreadable".into()),
        })
        .collect();
    inputs.sort_by(|a, b| a.path.cmp(&b.path));
    inputs.dedup();
    let set = set_hash(&inputs);
    (inputs, set)
}

fn set_hash(inputs: &[InputHash]) -> String {
    let listing: String = inputs
        .iter()
        .map(|i| format!("{}  {}\n", i.sha256, i.path))
        .collect();
    hex(&Sha256::digest(listing.as_bytes()))
}

fn git(root: &Path, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn git_state(root: &Path) -> Option<GitState> {
    let commit = git(root, &["rev-parse", "HEAD"])?;
    let dirty = !git(
        root,
        &["status", "--porcelain", "--untracked-files=no", "--", "."],
    )?
    .is_empty();
    let remote = git(root, &["remote", "get-url", "origin"]).filter(|r| !r.is_empty());
    Some(GitState {
        commit,
        dirty,
        remote,
    })
}

/// Now, or `SOURCE_DATE_EPOCH`, as RFC 3339 UTC to the second.
fn generated_at() -> String {
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok());
    let ts = epoch
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .unwrap_or_else(jiff::Timestamp::now);
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl Workspace {
    /// Provenance for a report: versions, git state, input hashes, time and command line.
    pub fn report_provenance(&self) -> Provenance {
        let (inputs, inputs_sha256) = hashes(&self.inputs);
        Provenance {
            actas_version: env!("CARGO_PKG_VERSION").into(),
            cedar_version: CEDAR_VERSION.into(),
            git: git_state(&self.root),
            inputs,
            inputs_sha256,
            generated_at: Some(generated_at()),
            command_line: Some(std::env::args().skip(1).collect()),
        }
    }

    /// Provenance for `check`'s SARIF: versions, git state and input hashes, no time or command
    /// line (check output stays the same from run to run).
    pub fn check_provenance(&self) -> Provenance {
        let mut p = self.record_provenance();
        p.git = git_state(&self.root);
        p
    }

    /// Provenance for a record committed beside its inputs (the baseline): versions and input
    /// hashes only.
    pub fn record_provenance(&self) -> Provenance {
        let (inputs, inputs_sha256) = hashes(&self.inputs);
        Provenance {
            actas_version: env!("CARGO_PKG_VERSION").into(),
            cedar_version: CEDAR_VERSION.into(),
            git: None,
            inputs,
            inputs_sha256,
            generated_at: None,
            command_line: None,
        }
    }
}

impl Provenance {
    /// What changed between `self` (recorded earlier) and `now`: each input whose hash differs,
    /// that is new, or that is gone (empty: `now` is what `self` describes). Compares hashes
    /// already taken; it reads no file.
    pub fn changes_to(&self, now: &Provenance) -> Vec<String> {
        let mut changes = Vec::new();
        for r in &self.inputs {
            match now.inputs.iter().find(|n| n.path == r.path) {
                None => changes.push(format!("`{}` is no longer an input", r.path)),
                Some(n) if n.sha256 != r.sha256 => {
                    changes.push(format!(
                        "`{}` has changed (SHA-256 {} then, {} now)",
                        r.path,
                        short(&r.sha256),
                        short(&n.sha256)
                    ));
                }
                Some(_) => {}
            }
        }
        for n in &now.inputs {
            if !self.inputs.iter().any(|r| r.path == n.path) {
                changes.push(format!("`{}` is a new input", n.path));
            }
        }
        if changes.is_empty() && set_hash(&self.inputs) != self.inputs_sha256 {
            changes.push(
                "the recorded set hash does not match the recorded file hashes: the report was edited"
                    .into(),
            );
        }
        changes
    }
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cedar_version_is_the_one_cargo_toml_pins() {
        let manifest = include_str!("../../Cargo.toml");
        assert!(manifest.contains(&format!("cedar-policy = \"={CEDAR_VERSION}\"")));
    }

    #[test]
    fn the_set_hash_is_the_hash_of_the_sha256sum_listing() {
        let inputs = vec![InputHash {
            path: "a.cedar".into(),
            sha256: "00".into(),
        }];
        assert_eq!(set_hash(&inputs), hex(&Sha256::digest(b"00  a.cedar\n")));
    }

    #[test]
    fn the_example_hashes_every_input_and_sees_no_change() {
        let ws = crate::workspace::example();
        let p = ws.record_provenance();
        let paths: Vec<&str> = p.inputs.iter().map(|i| i.path.as_str()).collect();
        for expected in [
            "actas.yaml",
            "fixtures/entities.yaml",
            "policies/bindings.yaml",
            "policies/impersonation.cedar",
            "policies/schema.cedarschema",
        ] {
            assert!(paths.contains(&expected), "{paths:?}");
        }
        assert!(p.changes_to(&ws.record_provenance()).is_empty());
        let mut edited = p.clone();
        edited.inputs[0].sha256 = "0".repeat(64);
        let changes = edited.changes_to(&ws.record_provenance());
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert!(changes[0].contains(&p.inputs[0].path));
    }
}
