//! `actas check`: every problem in the workspace's inputs, as findings.
//!
//! Problems *in* the inputs are what `check` looks for, so they are findings (exit 1); only a
//! missing workspace makes it exit 2. Checks that depend on a broken input are skipped with a note.

use crate::commands::suffice::read_tasks;
use crate::commands::test::{read_cases, TestOptions};
use crate::lint::{self, Finding, Level, Suppression};
use crate::workspace::{self, Loaded, NoWorkspace, Overrides, Workspace};

/// The result of `actas check`: problems in the inputs first (in the order they were found),
/// then the lint findings by place.
#[derive(Debug)]
pub struct CheckResult {
    pub findings: Vec<Finding>,
    pub suppressions: Vec<Suppression>,
    pub skipped: Vec<String>,
    /// The workspace's warnings (no finding: they do not change the exit code).
    pub warnings: Vec<String>,
    pub policies: usize,
    pub entities: usize,
    pub cases: usize,
    pub tasks: usize,
    /// Versions, git state and input hashes, when the workspace loaded.
    pub provenance: Option<crate::workspace::provenance::Provenance>,
}

impl CheckResult {
    pub fn count(&self, level: Level) -> usize {
        self.findings.iter().filter(|f| f.level == level).count()
    }

    /// Exit 1 when any finding is at error level.
    pub fn failed(&self) -> bool {
        self.count(Level::Error) > 0
    }
}

/// `solver`: the guarantee rules ask cvc5 when it is found (`--no-solver` turns it off).
pub fn run(
    root: &std::path::Path,
    overrides: &Overrides,
    test: &TestOptions,
    solver: bool,
) -> Result<CheckResult, NoWorkspace> {
    Ok(of_loaded(workspace::load(root, overrides)?, test, solver).0)
}

/// `check` on a workspace already loaded; also gives the workspace back when it loaded without
/// problems (so a caller running other commands need not load it again).
pub fn of_loaded(
    loaded: Loaded,
    test: &TestOptions,
    solver: bool,
) -> (CheckResult, Option<Workspace>) {
    let Loaded {
        workspace,
        mut problems,
        mut skipped,
        warnings,
    } = loaded;
    let loaded_clean = problems.is_empty();
    let (mut policies, mut entities, mut cases, mut tasks) = (0, 0, 0, 0);
    let mut linted = lint::Lint::default();
    match &workspace {
        Some(ws) => {
            policies = ws.policies.values().filter(|m| !m.is_template).count();
            entities = ws.engine.inventory_size();
            // "No cases" is a problem for `test`, not for linting a workspace without scenarios.
            match read_cases(ws, test) {
                Ok(c) => cases = c.len(),
                Err(p) => problems.extend(p),
            }
            match read_tasks(ws, &[]) {
                Ok(t) => tasks = t.len(),
                Err(p) => problems.extend(p),
            }
            // Like a compiler's lints after a type error, the rules would reason about inputs
            // that are known to be wrong: they run once the inputs are clean.
            if problems.is_empty() {
                linted = lint::run(ws, solver);
                skipped.append(&mut linted.skipped);
            } else {
                skipped.push("the lint rules: the inputs have problems; fix them first".into());
            }
        }
        None => {
            skipped.push("scenario and task files: the workspace did not load".into());
            skipped.push("the lint rules: the workspace did not load".into());
        }
    }
    let mut findings: Vec<Finding> = problems.into_iter().map(Finding::input).collect();
    findings.append(&mut linted.findings);
    let result = CheckResult {
        provenance: workspace.as_ref().map(Workspace::check_provenance),
        findings,
        suppressions: linted.suppressions,
        skipped,
        warnings,
        policies,
        entities,
        cases,
        tasks,
    };
    (result, workspace.filter(|_| loaded_clean))
}
