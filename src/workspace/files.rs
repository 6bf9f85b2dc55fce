//! Paths named in `actas.yaml` or on the command line, read or walked with problems recorded.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_saphyr::Spanned;

use super::*;
use crate::core::diag::{Problem, SourceFile};
use crate::core::files::{display_path, io_reason};

/// Where a setting was written: the file and byte span.
pub(super) type Origin = (Arc<SourceFile>, (usize, usize));

/// A path named in `actas.yaml` (with its place there) or on the command line.
#[derive(Debug, Clone)]
pub struct NamedPath {
    pub path: PathBuf,
    /// Where `actas.yaml` names it, for "missing path" problems.
    pub(super) origin: Option<Origin>,
    /// A default path that may be absent.
    pub(super) optional: bool,
}

impl Loader {
    pub(super) fn named(&self, cfg: Option<&Arc<SourceFile>>, s: &Spanned<String>) -> NamedPath {
        NamedPath {
            path: self.root.join(&s.value),
            origin: cfg.map(|f| (f.clone(), crate::core::diag::span_of(f, &s.referenced))),
            optional: false,
        }
    }

    pub(super) fn display(&self, path: &Path) -> String {
        display_path(&self.root, path)
    }

    /// Reads a file, or records why it cannot be read.
    pub(super) fn read(&mut self, p: &NamedPath) -> Option<Arc<SourceFile>> {
        match std::fs::read_to_string(&p.path) {
            Ok(text) => Some(SourceFile::new(self.display(&p.path), text)),
            Err(e) => {
                self.missing(
                    p,
                    &format!(
                        "failed to read `{}`: {}",
                        self.display(&p.path),
                        io_reason(&e)
                    ),
                );
                None
            }
        }
    }

    pub(super) fn missing(&mut self, p: &NamedPath, message: &str) {
        let problem = match &p.origin {
            Some((file, span)) => Problem::at(file, *span, message).with_label("named here"),
            None => Problem::new(message),
        };
        self.problems.push(problem);
    }

    /// Files with one of `exts` under each path (folders recursively, sorted).
    pub(super) fn collect(
        &mut self,
        paths: &[NamedPath],
        exts: &[&str],
        what: &str,
    ) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for p in paths {
            if p.path.is_dir() {
                let mut found = Vec::new();
                walk(&p.path, exts, &mut found);
                if found.is_empty() && what == "policy" {
                    self.missing(
                        p,
                        &format!(
                            "no `*.cedar` files in policy folder `{}`",
                            self.display(&p.path)
                        ),
                    );
                }
                out.extend(found);
            } else if p.path.is_file() {
                out.push(p.path.clone());
            } else if !p.optional {
                self.missing(
                    p,
                    &format!("{what} path `{}` does not exist", self.display(&p.path)),
                );
            }
        }
        out
    }
}

impl NamedPath {
    pub fn plain(path: PathBuf) -> Self {
        Self {
            path,
            origin: None,
            optional: false,
        }
    }

    pub(super) fn default_path(path: PathBuf) -> Self {
        Self {
            path,
            origin: None,
            optional: true,
        }
    }
}

/// Files under `dir` whose name ends with `.<ext>` for one of `exts`, recursively, sorted.
pub(super) fn walk(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, exts, out);
        } else if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| exts.iter().any(|e| n.ends_with(&format!(".{e}"))))
        {
            out.push(path);
        }
    }
}

/// Scenario (or task, as `what` says) files under the given paths (`.yaml`, `.yml`, `.json`),
/// with missing paths reported.
pub fn scenario_files(
    root: &Path,
    paths: &[NamedPath],
    what: &str,
    problems: &mut Vec<Problem>,
) -> Vec<PathBuf> {
    let mut l = Loader {
        root: root.to_path_buf(),
        problems: Vec::new(),
        skipped: Vec::new(),
        schema_file: None,
    };
    let files = l.collect(paths, &["yaml", "yml", "json"], what);
    problems.extend(l.problems);
    files
}

/// Reads the scenario (or task) files under `paths` (files or folders, sorted), each named by
/// its display path; unreadable ones become problems.
pub fn scenario_sources(
    root: &Path,
    paths: &[NamedPath],
    what: &str,
    problems: &mut Vec<Problem>,
) -> Vec<Arc<SourceFile>> {
    let mut sources = Vec::new();
    for path in scenario_files(root, paths, what, problems) {
        let display = display_path(root, &path);
        match std::fs::read_to_string(&path) {
            Ok(text) => sources.push(SourceFile::new(display, text)),
            Err(e) => problems.push(Problem::new(format!(
                "failed to read `{display}`: {}",
                io_reason(&e)
            ))),
        }
    }
    sources
}
