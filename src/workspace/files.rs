//! Paths named in `actas.yaml` or on the command line, read or walked with problems recorded.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_saphyr::Spanned;

use super::*;
use crate::core::diag::{Problem, SourceFile};
use crate::core::files::display_path;

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
        match crate::core::files::read_text(&p.path) {
            Ok(text) => {
                let display = self.display(&p.path);
                self.inputs.push(super::provenance::InputFile {
                    path: p.path.clone(),
                    display: display.clone(),
                });
                Some(SourceFile::new(display, text))
            }
            Err(why) => {
                self.missing(
                    p,
                    &format!("failed to read `{}`: {why}", self.display(&p.path)),
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
        let mut seen = Walked::default();
        for p in paths {
            if p.path.is_dir() {
                let mut found = Vec::new();
                if let Err(why) = walk(&p.path, exts, &mut found, &mut seen) {
                    // Nothing of a walk that went astray is read.
                    self.missing(
                        p,
                        &format!("stopped reading `{}`: {why}", self.display(&p.path)),
                    );
                    continue;
                }
                for special in std::mem::take(&mut seen.special) {
                    self.missing(
                        p,
                        &format!(
                            "`{}` is not a regular file (a named pipe, socket or device); actas reads only files",
                            self.display(&special)
                        ),
                    );
                }
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
                if seen.first_time(&p.path) {
                    out.push(p.path.clone());
                }
            } else if let Some(file) = names_a_file_as_folder(&p.path) {
                self.missing(
                    p,
                    &format!(
                        "{what} path `{}` ends with `/`, but `{}` is a file",
                        self.display(&p.path),
                        self.display(&file)
                    ),
                );
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

/// For `x/` where `x` is a file: `x`.
fn names_a_file_as_folder(path: &Path) -> Option<PathBuf> {
    let text = path.to_str()?;
    let trimmed = text.trim_end_matches('/');
    (trimmed.len() < text.len() && Path::new(trimmed).is_file()).then(|| PathBuf::from(trimmed))
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

/// The most entries a folder walk looks at, and how deep it goes, before it stops with a
/// problem (a link to `/` must end with an error, not with a scan of the machine).
const MAX_WALK_ENTRIES: usize = 100_000;
const MAX_WALK_DEPTH: usize = 64;

/// What a walk has seen: real folders entered and real files found (by canonical path), so
/// links to shared folders work, loops end, and no file is read twice.
#[derive(Default)]
pub(super) struct Walked {
    folders: HashSet<PathBuf>,
    files: HashSet<PathBuf>,
    entries: usize,
    /// Entries with a wanted name that are neither files nor folders (a named pipe, a socket,
    /// a device): never opened, since opening a pipe nobody writes to waits for ever.
    pub(super) special: Vec<PathBuf>,
}

impl Walked {
    /// Whether `file` is new (a file reached twice, through a link or two paths, counts once).
    pub(super) fn first_time(&mut self, file: &Path) -> bool {
        let real = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
        self.files.insert(real)
    }
}

/// Files under `dir` whose name ends with `.<ext>` for one of `exts`, recursively, sorted
/// (each folder's entries in name order, depth first). Symbolic links are followed; each real
/// folder is entered once. `Err` says why the walk stopped.
pub(super) fn walk(
    dir: &Path,
    exts: &[&str],
    out: &mut Vec<PathBuf>,
    seen: &mut Walked,
) -> Result<(), String> {
    let mut stack: Vec<(PathBuf, usize)> = vec![(dir.to_path_buf(), 0)];
    while let Some((path, depth)) = stack.pop() {
        if path.is_dir() {
            let real = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if !seen.folders.insert(real) {
                continue;
            }
            if depth > MAX_WALK_DEPTH {
                return Err(format!("folders nest deeper than {MAX_WALK_DEPTH} levels"));
            }
            let Ok(entries) = std::fs::read_dir(&path) else {
                continue;
            };
            let mut entries: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            seen.entries += entries.len();
            if seen.entries > MAX_WALK_ENTRIES {
                return Err(format!(
                    "more than {MAX_WALK_ENTRIES} files and folders to look at (a link to `/` or to a large tree?)"
                ));
            }
            entries.sort();
            stack.extend(entries.into_iter().rev().map(|e| (e, depth + 1)));
        } else if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| exts.iter().any(|e| n.ends_with(&format!(".{e}"))))
        {
            // A link to nowhere is kept, and reading it says so.
            let special = std::fs::metadata(&path).is_ok_and(|m| !m.is_file());
            if special {
                seen.special.push(path);
            } else if seen.first_time(&path) {
                out.push(path);
            }
        }
    }
    Ok(())
}

/// Scenario (or task, as `what` says) files under the given paths (`.yaml`, `.yml`, `.json`),
/// with missing paths reported. In a folder, `*.request.json` and `*.entities.json` are Cedar's
/// own inputs (what `actas prove --counterexamples` writes when a counterexample cannot be a
/// case), not scenarios, and are passed over; named on their own they are read.
pub fn scenario_files(
    root: &Path,
    paths: &[NamedPath],
    what: &str,
    problems: &mut Vec<Problem>,
) -> Vec<PathBuf> {
    let mut l = Loader::new(root);
    let files = l.collect(paths, &["yaml", "yml", "json"], what);
    problems.extend(l.problems);
    files
        .into_iter()
        .filter(|f| {
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            let cedar = name.ends_with(".request.json") || name.ends_with(".entities.json");
            !cedar || paths.iter().any(|p| p.path == *f)
        })
        .collect()
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
        match crate::core::files::read_text(&path) {
            Ok(text) => sources.push(SourceFile::new(display, text)),
            Err(why) => problems.push(Problem::new(format!("failed to read `{display}`: {why}"))),
        }
    }
    sources
}
