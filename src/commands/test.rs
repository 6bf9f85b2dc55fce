//! `actas test`: load scenario files, run their cases in parallel, and judge each.

use std::path::PathBuf;

use cedar_policy::EntityUid;
use rayon::prelude::*;

use crate::analysis::coverage::Recorder;
use crate::core::diag::Problem;
use crate::core::ids::PolicyId;
use crate::engine::{Engine, Evaluation, HopOutcome};
use crate::reach::ByContext;
use crate::workspace::scenario::{Case, CaseKind, RequestCase};
use crate::workspace::Workspace;

/// What to run.
#[derive(Debug, Default, Clone)]
pub struct TestOptions {
    /// Scenario files or folders given on the command line (else the workspace's).
    pub files: Vec<PathBuf>,
    /// Case-name substrings (OR); empty selects every case.
    pub filters: Vec<String>,
    /// A case with evaluation errors fails.
    pub strict: bool,
    /// Run one shard of the selected cases.
    pub shard: Option<Shard>,
}

/// The judged result of one case.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub file: String,
    /// The line of the case's `name:` (1-based).
    pub line: usize,
    pub name: String,
    pub kind: OutcomeKind,
    pub passed: bool,
    /// Evaluation errors of all its requests.
    pub errors: Vec<String>,
}

#[derive(Debug, Clone)]
#[allow(
    clippy::large_enum_variant,
    reason = "one per case, built once; boxing buys nothing"
)]
pub enum OutcomeKind {
    Request {
        principal: EntityUid,
        expect_allow: bool,
        allowed: bool,
        hops: Vec<HopOutcome>,
        request: Option<Evaluation>,
        /// Expected reasons that were not among the determining policies.
        missing_reasons: Vec<PolicyId>,
    },
    Set {
        /// `who_can_impersonate` or `impersonatable_by`.
        field: &'static str,
        subject: EntityUid,
        expected: Vec<String>,
        actual: Vec<String>,
        missing: Vec<String>,
        unexpected: Vec<String>,
    },
}

/// A finished run.
#[derive(Debug, Clone)]
pub struct TestRun {
    pub outcomes: Vec<Outcome>,
}

impl TestRun {
    pub fn passed(&self) -> usize {
        self.outcomes.iter().filter(|o| o.passed).count()
    }

    pub fn failed(&self) -> usize {
        self.outcomes.len() - self.passed()
    }
}

/// Loads every scenario file (all of them, filtered-out cases included, so any bad input is
/// reported) and returns the selected cases in (file, position) order; none is a problem.
pub fn load_cases(ws: &Workspace, opts: &TestOptions) -> Result<Vec<Case>, Vec<Problem>> {
    let cases = read_cases(ws, opts)?;
    let selected: Vec<Case> = cases
        .into_iter()
        .filter(|c| {
            opts.filters.is_empty() || opts.filters.iter().any(|f| c.name.contains(f.as_str()))
        })
        .collect();
    if selected.is_empty() {
        let why = if opts.filters.is_empty() {
            "no cases found"
        } else {
            "no case matches the filters"
        };
        return Err(vec![Problem::new(format!("{why}: nothing to test"))
            .with_help("scenario files are read from `scenarios:` in actas.yaml (default `fixtures/scenarios/`) or the FILES given")]);
    }
    // An empty shard is fine (more shards than cases); the caller warns.
    Ok(match opts.shard {
        Some(shard) => selected
            .into_iter()
            .filter(|c| shard.contains(&c.file, &c.name))
            .collect(),
        None => selected,
    })
}

/// Reads every scenario file named by `opts` (or the workspace's), every case checked; no
/// case at all is not a problem here (`check` lints workspaces without scenarios).
pub fn read_cases(ws: &Workspace, opts: &TestOptions) -> Result<Vec<Case>, Vec<Problem>> {
    ws.read_scenarios(&opts.files)
}

/// `--shard i/n`: this run takes the cases whose FNV-1a 64-bit hash of `"<file>::<name>"` is
/// `i - 1` modulo `n` (DESIGN §6). Stable across runs, machines and thread counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub fn contains(&self, file: &str, name: &str) -> bool {
        crate::analysis::baseline::fnv1a(&format!("{file}::{name}")) % self.count == self.index - 1
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("expected i/n, e.g. 1/3, not `{s}`"))?;
        let index: u64 = i.parse().map_err(|_| format!("`{i}` is not a number"))?;
        let count: u64 = n.parse().map_err(|_| format!("`{n}` is not a number"))?;
        if count == 0 || index == 0 || index > count {
            return Err(format!(
                "shards are numbered 1 to n, with n at least 1: `{s}`"
            ));
        }
        Ok(Shard { index, count })
    }
}

/// Runs cases in parallel; outcomes come back in the cases' order whatever the thread count.
pub fn run(engine: &Engine, cases: &[Case], strict: bool) -> TestRun {
    run_recording(engine, cases, strict, None)
}

/// [`run`], every evaluated request also given to `coverage` when there is one.
pub fn run_recording(
    engine: &Engine,
    cases: &[Case],
    strict: bool,
    coverage: Option<&Recorder<'_>>,
) -> TestRun {
    if cases.iter().any(|c| c.engine.is_some()) {
        return run_per_engine(engine, cases, strict, coverage);
    }
    let reach = set_case_reach(engine, cases);
    judge_each(engine, &reach, cases.par_iter(), strict, coverage)
}

/// [`run`], each case freed as soon as it is judged: its prepared Cedar requests are a third of
/// what a 20,000-case run holds, and the outcomes made after it reuse that memory.
pub fn run_owned(engine: &Engine, cases: Vec<Case>, strict: bool) -> TestRun {
    if cases.iter().any(|c| c.engine.is_some()) {
        return run_per_engine(engine, &cases, strict, None);
    }
    let reach = set_case_reach(engine, &cases);
    judge_each(engine, &reach, cases.into_par_iter(), strict, None)
}

/// Set cases share reach per context: each is built once, up front, with every worker.
fn set_case_reach<'e>(engine: &'e Engine, cases: &[Case]) -> ByContext<'e> {
    ByContext::new(
        engine,
        cases.iter().filter_map(|case| match &case.kind {
            CaseKind::WhoCan { context, .. } | CaseKind::ReachableBy { context, .. } => {
                Some(context)
            }
            CaseKind::Request(_) => None,
        }),
    )
}

/// Judges `cases` side by side; outcomes come back in the cases' order.
fn judge_each<C: std::borrow::Borrow<Case> + Send>(
    engine: &Engine,
    reach: &ByContext<'_>,
    cases: impl IndexedParallelIterator<Item = C>,
    strict: bool,
    coverage: Option<&Recorder<'_>>,
) -> TestRun {
    crate::core::progress::start("cases", cases.len() as u64);
    let outcomes = cases
        .map(|c| {
            let o = judge(engine, reach, c.borrow(), strict, coverage);
            crate::core::progress::advance(1);
            o
        })
        .collect();
    crate::core::progress::finish();
    TestRun { outcomes }
}

/// Cases of files with their own `entities:` run on their file's engine, each group as one run;
/// outcomes come back in the cases' order.
fn run_per_engine(
    engine: &Engine,
    cases: &[Case],
    strict: bool,
    coverage: Option<&Recorder<'_>>,
) -> TestRun {
    let mut groups: Vec<(Option<std::sync::Arc<Engine>>, Vec<usize>)> = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let own = case.engine.as_ref().map(|e| e.0.clone());
        let same = |g: &Option<std::sync::Arc<Engine>>| match (g, &own) {
            (Some(a), Some(b)) => std::sync::Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        match groups.iter_mut().find(|(g, _)| same(g)) {
            Some((_, members)) => members.push(i),
            None => groups.push((own, vec![i])),
        }
    }
    let mut outcomes: Vec<Option<Outcome>> = vec![None; cases.len()];
    for (own, members) in groups {
        let group: Vec<Case> = members
            .iter()
            .map(|&i| Case {
                engine: None,
                ..cases[i].clone()
            })
            .collect();
        let run = run_recording(own.as_deref().unwrap_or(engine), &group, strict, coverage);
        for (i, outcome) in members.into_iter().zip(run.outcomes) {
            outcomes[i] = Some(outcome);
        }
    }
    TestRun {
        outcomes: outcomes.into_iter().flatten().collect(),
    }
}

fn judge(
    engine: &Engine,
    reach: &ByContext<'_>,
    case: &Case,
    strict: bool,
    coverage: Option<&Recorder<'_>>,
) -> Outcome {
    let (kind, mut passed, errors) = match &case.kind {
        CaseKind::Request(r) => judge_request(engine, r, coverage),
        CaseKind::WhoCan {
            target,
            context,
            expect,
        } => {
            let actual = reach
                .get(context)
                .map(|r| r.who_can_reach(target))
                .unwrap_or_default();
            set_outcome("who_can_impersonate", target, expect, &actual)
        }
        CaseKind::ReachableBy {
            principal,
            context,
            expect,
        } => {
            let actual: Vec<EntityUid> = reach
                .get(context)
                .map(|r| r.reach_from(principal))
                .unwrap_or_default()
                .into_values()
                .map(|(u, _)| EntityUid::clone(&u))
                .collect();
            set_outcome("impersonatable_by", principal, expect, &actual)
        }
    };
    if strict && !errors.is_empty() {
        passed = false;
    }
    Outcome {
        file: case.file.clone(),
        line: case.line,
        name: case.name.clone(),
        kind,
        passed,
        errors,
    }
}

fn judge_request(
    engine: &Engine,
    r: &RequestCase,
    coverage: Option<&Recorder<'_>>,
) -> (OutcomeKind, bool, Vec<String>) {
    // Every request is evaluated, even after a denied hop (no short-circuit).
    let hops: Vec<HopOutcome> = r.hops.iter().map(|h| engine.evaluate_hop(h)).collect();
    let request = r.request.as_ref().map(|p| engine.evaluate(p));
    let evaluations: Vec<&Evaluation> = hops
        .iter()
        .flat_map(|h| h.evaluations.iter())
        .chain(request.iter())
        .collect();
    if let Some(coverage) = coverage {
        for (p, e) in r.requests().zip(&evaluations) {
            coverage.observe(p, e);
        }
    }
    let allowed = hops.iter().all(|h| h.allowed) && request.as_ref().is_none_or(|e| e.allowed);
    // With `expect: deny`, reasons must be among the forbids that fired in the denied requests.
    let considered: Vec<&PolicyId> = evaluations
        .iter()
        .filter(|e| r.expect_allow || !e.allowed)
        .flat_map(|e| e.reasons.iter())
        .collect();
    let missing_reasons: Vec<PolicyId> = r
        .reasons
        .iter()
        .filter(|id| !considered.iter().any(|d| engine.reason_matches(id, d)))
        .cloned()
        .collect();
    let errors: Vec<String> = evaluations
        .iter()
        .flat_map(|e| e.errors.iter().cloned())
        .collect();
    let passed = allowed == r.expect_allow && missing_reasons.is_empty();
    let kind = OutcomeKind::Request {
        principal: r.principal.clone(),
        expect_allow: r.expect_allow,
        allowed,
        hops,
        request,
        missing_reasons,
    };
    (kind, passed, errors)
}

fn set_outcome(
    field: &'static str,
    subject: &EntityUid,
    expect: &[EntityUid],
    actual: &[EntityUid],
) -> (OutcomeKind, bool, Vec<String>) {
    let mut expected: Vec<String> = expect.iter().map(ToString::to_string).collect();
    let mut actual: Vec<String> = actual.iter().map(ToString::to_string).collect();
    expected.sort();
    expected.dedup();
    actual.sort();
    let missing: Vec<String> = expected
        .iter()
        .filter(|e| !actual.contains(e))
        .cloned()
        .collect();
    let unexpected: Vec<String> = actual
        .iter()
        .filter(|a| !expected.contains(a))
        .cloned()
        .collect();
    let passed = missing.is_empty() && unexpected.is_empty();
    let kind = OutcomeKind::Set {
        field,
        subject: subject.clone(),
        expected,
        actual,
        missing,
        unexpected,
    };
    (kind, passed, Vec::new())
}
