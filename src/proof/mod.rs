//! Proofs over every entity data and request the schema allows, with Cedar's symbolic compiler
//! (`cedar-policy-symcc`) and the cvc5 SMT solver: `actas prove`.
//!
//! A property is asked once per request environment it concerns (principal type, action,
//! resource type), each a separate solver query with its own time limit. The workspace's
//! policies and the property are compiled for that environment and handed to cvc5; `unsat`
//! proves the property there, `sat` comes back with a model (a request and an entity store)
//! that we replay through Cedar's own authorizer before calling it a counterexample, and
//! `unknown` (the time limit) is its own outcome, never a pass.
//!
//! What a proof says: no request and no entity data that conform to the schema can violate the
//! property — not only today's inventory. What it does not say: anything about chains of
//! impersonation over the inventory (whether A reaches B through C), which is what `who-can`
//! and scenario set cases answer; symcc reasons about one request at a time.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cedar_policy::{Authorizer, Decision, EntityUid, Policy, PolicySet, RequestEnv};
use cedar_policy_symcc::solver::LocalSolver;
use cedar_policy_symcc::{err::Error as SymccError, CedarSymCompiler, CompiledPolicySet, Env};
use rayon::prelude::*;
use serde_json::Value;

use crate::core::diag::Problem;
use crate::engine::Engine;

pub mod properties;

pub use properties::{Kind, Property, Reference, Scope};

/// What every proof ranges over, said with each result so nobody reads a proof as a statement
/// about today's inventory alone.
pub const SCOPE: &str =
    "every request and every entity data the schema allows, not only the inventory";

/// The line that installs the solver, shown when none is found.
pub const INSTALL_HINT: &str =
    "install cvc5 (Debian/Ubuntu: `apt-get install -y cvc5`; other systems: https://cvc5.github.io), or set CVC5 to the path of a cvc5 executable";

/// The cvc5 executable: `$CVC5`, else `cvc5` on PATH.
#[derive(Debug, Clone)]
pub struct Solver {
    pub path: PathBuf,
    /// What `cvc5 --version` says first, e.g. "This is cvc5 version 1.0.3".
    pub version: String,
}

impl Solver {
    pub fn find() -> Result<Self, Box<Problem>> {
        let path = match std::env::var_os("CVC5") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => std::env::var_os("PATH")
                .map(|paths| {
                    std::env::split_paths(&paths)
                        .map(|d| d.join("cvc5"))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
                .into_iter()
                .find(|p| p.is_file())
                .ok_or_else(|| {
                    Box::new(
                        Problem::new("no SMT solver: `cvc5` is not on PATH and CVC5 is not set")
                            .with_help(INSTALL_HINT),
                    )
                })?,
        };
        let output = std::process::Command::new(&path)
            .arg("--version")
            .output()
            .map_err(|e| {
                Box::new(
                    Problem::new(format!("cannot run the solver `{}`: {e}", path.display()))
                        .with_help(INSTALL_HINT),
                )
            })?;
        let version = String::from_utf8_lossy(&output.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        if !version.contains("cvc5") {
            return Err(Box::new(
                Problem::new(format!(
                    "`{}` does not say it is cvc5 (`--version` printed `{version}`)",
                    path.display()
                ))
                .with_help(INSTALL_HINT),
            ));
        }
        Ok(Self { path, version })
    }

    fn spawn(&self, limit: Duration) -> Result<LocalSolver, String> {
        let mut command = tokio::process::Command::new(&self.path);
        // `--tlimit-per`: a limit per query. cvc5's `--tlimit` (what symcc's default passes)
        // counts the whole process's time, so a long-lived solver would die mid-run.
        command
            // `--strings-exp`: `like` patterns compile to extended string terms.
            .args(["--lang", "smt", "--strings-exp"])
            .arg(format!("--tlimit-per={}", limit.as_millis().max(1)))
            .kill_on_drop(true);
        LocalSolver::from_command(&mut command).map_err(|e| format!("cannot start the solver: {e}"))
    }
}

/// What one query (one request environment) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Proved,
    Refuted,
    /// The solver gave no answer within the time limit.
    Unknown,
    /// The query could not be asked (compilation or solver failure), with why.
    Failed(String),
}

/// One solver query.
#[derive(Debug, Clone)]
pub struct Query {
    pub principal_type: String,
    pub action: EntityUid,
    pub resource_type: String,
    pub verdict: Verdict,
    pub elapsed: Duration,
}

/// A request and entity data on which the property fails, replayed through Cedar.
#[derive(Debug, Clone)]
pub struct Counterexample {
    pub principal: EntityUid,
    pub action: EntityUid,
    pub resource: EntityUid,
    /// The request's context in Cedar's JSON form.
    pub context: Value,
    /// The entities the solver chose, in Cedar's entity JSON form, action entities left out.
    pub entities: Vec<Value>,
    /// The workspace's decision: allowed (always, for `never` and `no_new_access`).
    pub allowed: bool,
    /// The policies that decide it (Cedar's determining policies): the permits that allow
    /// it, or the forbids that deny it (none when no permit applies).
    pub determining: Vec<String>,
    /// For `no_new_access` and `equivalent`: the reference's decision and determining
    /// policies on the same request.
    pub reference: Option<(bool, Vec<String>)>,
    /// The solver's model itself, for writing it back out.
    pub env: Env,
}

/// The outcome of a property.
#[derive(Debug, Clone)]
pub struct Proof {
    pub property: Property,
    pub verdict: Verdict,
    pub queries: Vec<Query>,
    /// One per request environment where the property fails.
    pub counterexamples: Vec<Counterexample>,
    pub elapsed: Duration,
}

/// The same policies with every template link made a static policy under the link's id (the
/// symbolic compiler does not take links; a link's JSON form has its slots filled in).
pub fn without_links(set: &PolicySet) -> Result<PolicySet, String> {
    let mut out = PolicySet::new();
    for policy in set.policies() {
        let policy = if policy.is_static() {
            policy.clone()
        } else {
            let json = policy.to_json().map_err(|e| e.to_string())?;
            Policy::from_json(Some(policy.id().clone()), json)
                .map_err(|e| format!("link `{}`: {e}", policy.id()))?
        };
        out.add(policy).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// Proves each property against the workspace's policies, properties in parallel, each with
/// its own solver. `references` holds the loaded policy set of every `Reference` the
/// properties name.
pub fn prove(
    engine: &Engine,
    properties: &[Property],
    references: &[(Reference, PolicySet)],
    solver: &Solver,
    per_query: Duration,
) -> Vec<Proof> {
    let ours = without_links(&engine.policies);
    let references: Vec<(Reference, Result<PolicySet, String>)> = references
        .iter()
        .map(|(r, set)| (r.clone(), without_links(set)))
        .collect();
    crate::core::progress::start("properties", properties.len() as u64);
    let proofs = properties
        .par_iter()
        .map(|p| {
            let proof = prove_one(engine, &ours, p, &references, solver, per_query);
            crate::core::progress::advance(1);
            proof
        })
        .collect();
    crate::core::progress::finish();
    proofs
}

fn prove_one(
    engine: &Engine,
    ours: &Result<PolicySet, String>,
    property: &Property,
    references: &[(Reference, Result<PolicySet, String>)],
    solver: &Solver,
    per_query: Duration,
) -> Proof {
    let started = Instant::now();
    let mut proof = Proof {
        property: property.clone(),
        verdict: Verdict::Proved,
        queries: Vec::new(),
        counterexamples: Vec::new(),
        elapsed: Duration::ZERO,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            proof.verdict = Verdict::Failed(format!("cannot start the async runtime: {e}"));
            return proof;
        }
    };
    let other = match &property.kind {
        Kind::Never { policy, .. } => {
            PolicySet::from_policies([Policy::clone(policy)]).map_err(|e| e.to_string())
        }
        Kind::NoNewAccess { reference, .. } | Kind::Equivalent { reference, .. } => references
            .iter()
            .find(|(r, _)| r == reference)
            .map(|(_, set)| set.clone())
            .unwrap_or_else(|| Err(format!("the policies of `{reference}` were not loaded"))),
    };
    let (ours, other) = match (ours, other) {
        (Ok(ours), Ok(other)) => (ours, other),
        (Err(e), _) => {
            proof.verdict = Verdict::Failed(e.clone());
            return proof;
        }
        (_, Err(e)) => {
            proof.verdict = Verdict::Failed(e);
            return proof;
        }
    };
    let mut compiler = None;
    for env in environments(engine, property.kind.scope()) {
        let begun = Instant::now();
        let asked = runtime.block_on(ask(
            engine,
            ours,
            &other,
            &env,
            solver,
            per_query,
            &property.kind,
            &mut compiler,
        ));
        let verdict = match asked {
            Ok(None) => Verdict::Proved,
            Ok(Some(model)) => match replay(ours, &property.kind, &other, model) {
                Ok(cex) => {
                    proof.counterexamples.push(cex);
                    Verdict::Refuted
                }
                Err(e) => Verdict::Failed(e),
            },
            Err(SymccError::SolverUnknown) => Verdict::Unknown,
            Err(e) => {
                // The solver may be gone; the next query starts a new one.
                compiler = None;
                Verdict::Failed(crate::core::diag::with_causes(&e))
            }
        };
        proof.queries.push(Query {
            principal_type: env.principal().to_string(),
            action: env.action().clone(),
            resource_type: env.resource().to_string(),
            verdict,
            elapsed: begun.elapsed(),
        });
    }
    proof.verdict = overall(&proof.queries);
    proof.elapsed = started.elapsed();
    proof
}

/// Refuted if any query is; else failed, else unknown, if any is; else proved.
fn overall(queries: &[Query]) -> Verdict {
    if queries.iter().any(|q| q.verdict == Verdict::Refuted) {
        return Verdict::Refuted;
    }
    if let Some(failed) = queries
        .iter()
        .find(|q| matches!(q.verdict, Verdict::Failed(_)))
    {
        return failed.verdict.clone();
    }
    if queries.iter().any(|q| q.verdict == Verdict::Unknown) {
        return Verdict::Unknown;
    }
    Verdict::Proved
}

/// The schema's request environments within the property's scope, in a stable order.
pub fn environments(engine: &Engine, scope: &Scope) -> Vec<RequestEnv> {
    let mut envs: Vec<RequestEnv> = engine
        .schema
        .request_envs()
        .filter(|e| scope.actions.is_empty() || scope.actions.contains(e.action()))
        .filter(|e| {
            scope
                .principal_type
                .as_ref()
                .is_none_or(|t| t == e.principal())
        })
        .filter(|e| {
            scope
                .resource_type
                .as_ref()
                .is_none_or(|t| t == e.resource())
        })
        .collect();
    envs.sort_by_cached_key(|e| {
        (
            e.action().to_string(),
            e.principal().to_string(),
            e.resource().to_string(),
        )
    });
    envs
}

/// One solver query: a model of a violation, or none.
#[allow(
    clippy::too_many_arguments,
    reason = "one query's every input, passed once"
)]
async fn ask(
    engine: &Engine,
    ours: &PolicySet,
    other: &PolicySet,
    env: &RequestEnv,
    solver: &Solver,
    per_query: Duration,
    kind: &Kind,
    compiler: &mut Option<CedarSymCompiler<LocalSolver>>,
) -> Result<Option<Env>, SymccError> {
    let ours = CompiledPolicySet::compile(ours, env, &engine.schema)?;
    let theirs = CompiledPolicySet::compile(other, env, &engine.schema)?;
    if compiler.is_none() {
        let local = solver.spawn(per_query).map_err(|e| {
            SymccError::SolverError(cedar_policy_symcc::solver::SolverError::Solver(e))
        })?;
        *compiler = Some(CedarSymCompiler::new(local)?);
    }
    let Some(c) = compiler.as_mut() else {
        return Ok(None);
    };
    match kind {
        Kind::Never { .. } => {
            c.check_disjoint_with_counterexample_opt(&ours, &theirs)
                .await
        }
        Kind::NoNewAccess { .. } => {
            c.check_implies_with_counterexample_opt(&ours, &theirs)
                .await
        }
        Kind::Equivalent { .. } => {
            c.check_equivalent_with_counterexample_opt(&ours, &theirs)
                .await
        }
    }
}

/// The model replayed through Cedar: it must show the violation the solver claims (the
/// workspace allows it, and the property's policy allows it too, or the reference decides
/// otherwise), else the query failed rather than refuted anything.
fn replay(
    policies: &PolicySet,
    kind: &Kind,
    other: &PolicySet,
    env: Env,
) -> Result<Counterexample, String> {
    let authorizer = Authorizer::new();
    let ours = authorizer.is_authorized(&env.request, policies, &env.entities);
    let theirs = authorizer.is_authorized(&env.request, other, &env.entities);
    let allowed = ours.decision() == Decision::Allow;
    let other_allows = theirs.decision() == Decision::Allow;
    let shows = match kind {
        Kind::Never { .. } => allowed && other_allows,
        Kind::NoNewAccess { .. } => allowed && !other_allows,
        Kind::Equivalent { .. } => allowed != other_allows,
    };
    if !shows {
        return Err(
            "the solver's counterexample does not replay through Cedar's authorizer".into(),
        );
    }
    let reasons = |r: &cedar_policy::Response| {
        let mut ids: Vec<String> = r.diagnostics().reason().map(ToString::to_string).collect();
        ids.sort();
        ids
    };
    let (principal, action, resource) = match (
        env.request.principal(),
        env.request.action(),
        env.request.resource(),
    ) {
        (Some(p), Some(a), Some(r)) => (p.clone(), a.clone(), r.clone()),
        _ => {
            return Err(
                "the solver's counterexample has an unknown principal, action or resource".into(),
            )
        }
    };
    let context = match env.request.context() {
        Some(c) => c.to_json_value().map_err(|e| e.to_string())?,
        None => Value::Object(serde_json::Map::new()),
    };
    let mut entities: Vec<Value> = match env.entities.to_json_value().map_err(|e| e.to_string())? {
        Value::Array(items) => items
            .into_iter()
            .filter(|e| {
                e.pointer("/uid/type")
                    .and_then(Value::as_str)
                    .is_none_or(|t| t != "Action" && !t.ends_with("::Action"))
            })
            .collect(),
        _ => Vec::new(),
    };
    // The solver's order is its own; ours is by uid.
    entities.sort_by_cached_key(|e| {
        crate::core::uid::parse_uid(e.get("uid").unwrap_or(&Value::Null))
            .map(|u| u.to_string())
            .unwrap_or_default()
    });
    Ok(Counterexample {
        principal,
        action,
        resource,
        context,
        entities,
        allowed,
        determining: reasons(&ours),
        reference: (!matches!(kind, Kind::Never { .. })).then(|| (other_allows, reasons(&theirs))),
        env,
    })
}

/// One solver process kept for many small queries (the lint rules ask one per permit, action
/// and request environment). A query the solver cannot answer in time, or that fails, is
/// `None`: the caller falls back to what it can read from the policy text.
pub struct Session {
    solver: Solver,
    per_query: Duration,
    runtime: tokio::runtime::Runtime,
    compiler: Option<CedarSymCompiler<LocalSolver>>,
}

impl Session {
    pub fn new(solver: Solver, per_query: Duration) -> Option<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        Some(Self {
            solver,
            per_query,
            runtime,
            compiler: None,
        })
    }

    /// A request of `env` that both `policies` and `violation` allow, if there is one:
    /// `Some(Some(model))` found, `Some(None)` there is none, `None` no answer.
    pub fn overlap(
        &mut self,
        schema: &cedar_policy::Schema,
        policies: &PolicySet,
        violation: &PolicySet,
        env: &RequestEnv,
    ) -> Option<Option<Env>> {
        let ours = CompiledPolicySet::compile(policies, env, schema).ok()?;
        let theirs = CompiledPolicySet::compile(violation, env, schema).ok()?;
        if self.compiler.is_none() {
            // The solver's process belongs to this runtime's reactor.
            let _inside = self.runtime.enter();
            let local = self.solver.spawn(self.per_query).ok()?;
            self.compiler = Some(CedarSymCompiler::new(local).ok()?);
        }
        let compiler = self.compiler.as_mut()?;
        let answer = self
            .runtime
            .block_on(compiler.check_disjoint_with_counterexample_opt(&ours, &theirs));
        match answer {
            Ok(found) => Some(found),
            Err(SymccError::SolverUnknown) => None,
            Err(_) => {
                // The solver may be gone; the next query starts a new one.
                self.compiler = None;
                None
            }
        }
    }
}

/// Exit status of a run: 0 every property proved, 1 one refuted or not proved (unknown, or a
/// query that failed).
pub fn all_proved(proofs: &[Proof]) -> bool {
    proofs.iter().all(|p| p.verdict == Verdict::Proved)
}
