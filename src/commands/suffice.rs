//! `actas suffice TASK…`: is the acting identity's permission set enough for a task, what is
//! missing, and what it holds that the task never uses. `--with FILE.cedar` and
//! `--without POLICY_ID` ask the same under a changed policy set and report the blast radius of
//! the change: every path and grant it adds or removes over the whole inventory, per profile.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cedar_policy::EntityUid;

use crate::analysis::effective::{self, allowed_requests};
use crate::analysis::item::AccessItem;
use crate::analysis::profiles;
use crate::core::diag::Problem;
use crate::core::ids::PolicyId;
use crate::engine::{Engine, Evaluation, HopOutcome};
use crate::workspace::task::{self, Task};
use crate::workspace::{self, Overrides, Workspace};

#[derive(Debug, Default, Clone)]
pub struct SufficeOptions {
    /// Task files or folders (default: the workspace's `tasks:`).
    pub files: Vec<PathBuf>,
    /// Candidate policy files to add.
    pub with: Vec<PathBuf>,
    /// Policy, link or template ids to remove (a template takes its links along).
    pub without: Vec<String>,
}

/// Allowed requests the task never makes, for one action and resource type.
#[derive(Debug, Clone)]
pub struct ExcessGroup {
    pub action: EntityUid,
    pub resource_type: String,
    pub resources: Vec<EntityUid>,
}

#[derive(Debug, Clone)]
pub struct TaskOutcome {
    pub file: String,
    pub name: String,
    pub principal: EntityUid,
    pub chain: Vec<EntityUid>,
    pub hops: Vec<HopOutcome>,
    pub steps: Vec<Evaluation>,
    pub sufficient: bool,
    pub excess: Vec<ExcessGroup>,
    /// Actions the excess could not cover (the task's context lacks what they require).
    pub excess_skipped: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct WhatIf {
    /// Policy ids the candidate files add.
    pub added: Vec<PolicyId>,
    /// Policy ids removed.
    pub removed: Vec<PolicyId>,
    /// Each task's verdict before the change, in task order.
    pub sufficient_before: Vec<bool>,
    pub gained: Vec<AccessItem>,
    pub lost: Vec<AccessItem>,
}

#[derive(Debug, Clone)]
pub struct SufficeResult {
    /// Under the changed policies when there is a what-if.
    pub outcomes: Vec<TaskOutcome>,
    pub what_if: Option<WhatIf>,
}

impl SufficeResult {
    pub fn sufficient(&self) -> bool {
        self.outcomes.iter().all(|o| o.sufficient)
    }
}

/// Loads the tasks (every one checked before anything runs); none at all is a problem.
pub fn load_tasks(ws: &Workspace, files: &[PathBuf]) -> Result<Vec<Task>, Vec<Problem>> {
    let tasks = read_tasks(ws, files)?;
    if tasks.is_empty() {
        return Err(vec![Problem::new("no task files found: nothing to check")
            .with_help(
                "name task files, or put them in `fixtures/tasks/` (`tasks:` in actas.yaml)",
            )]);
    }
    Ok(tasks)
}

/// Reads the task files, every one checked; an empty list is not a problem here (`check`
/// lints workspaces without tasks).
pub fn read_tasks(ws: &Workspace, files: &[PathBuf]) -> Result<Vec<Task>, Vec<Problem>> {
    ws.read_inputs(files, &ws.tasks, "task", |engine, file| {
        task::load(engine, file).map(|t| vec![t])
    })
}

pub fn run(
    root: &Path,
    overrides: &Overrides,
    ws: &Workspace,
    opts: &SufficeOptions,
) -> Result<SufficeResult, Vec<Problem>> {
    let tasks = load_tasks(ws, &opts.files)?;
    if opts.with.is_empty() && opts.without.is_empty() {
        return Ok(SufficeResult {
            outcomes: tasks.iter().map(|t| evaluate(&ws.engine, t)).collect(),
            what_if: None,
        });
    }

    // The changed workspace: candidate files validated like the workspace's own policies.
    let changed = if opts.with.is_empty() {
        None
    } else {
        let mut ov = overrides.clone();
        ov.extra_policies = opts.with.iter().map(|p| root.join(p)).collect();
        let loaded = workspace::load(root, &ov).map_err(|e| vec![Problem::new(e.to_string())])?;
        Some(loaded.into_workspace()?)
    };
    let base = changed.as_ref().unwrap_or(ws);
    let added: Vec<PolicyId> = base
        .policies
        .keys()
        .filter(|id| !ws.policies.contains_key(id.as_str()))
        .cloned()
        .collect();
    let (engine, removed) = without(base, &opts.without)?;
    // Tasks are checked against the original policies; their requests stay valid.
    let outcomes = tasks.iter().map(|t| evaluate(&engine, t)).collect();
    // Only the verdict: the excess before the change is not reported.
    let sufficient_before = tasks.iter().map(|t| verdict(&ws.engine, t).2).collect();
    let profiles = profiles::select(ws, &[], None)?;
    let before = effective::compute(&ws.engine, &profiles);
    let after = effective::compute(&engine, &profiles);
    let (gained, lost) = crate::analysis::compare::changes(&before, &after);
    Ok(SufficeResult {
        outcomes,
        what_if: Some(WhatIf {
            added,
            removed,
            sufficient_before,
            gained,
            lost,
        }),
    })
}

/// The engine without the given policies; unknown ids are bad input.
fn without(ws: &Workspace, ids: &[String]) -> Result<(Engine, Vec<PolicyId>), Vec<Problem>> {
    let mut set = ws.engine.policies.clone();
    let mut meta = ws.policies.clone();
    let mut removed = Vec::new();
    let mut problems = Vec::new();
    for id in ids {
        let Some(m) = ws.policies.get(id.as_str()) else {
            let help = crate::core::suggest::did_you_mean(id, ws.engine.policy_ids());
            let mut p = Problem::new(format!("--without: unknown policy id `{id}`"));
            p.help = help;
            problems.push(p);
            continue;
        };
        let pid = cedar_policy::PolicyId::new(id);
        let ok = if m.is_template {
            let links: Vec<PolicyId> = ws
                .policies
                .values()
                .filter(|l| l.template.as_deref() == Some(id))
                .map(|l| l.id.clone())
                .collect();
            for l in &links {
                let _ = set.unlink(cedar_policy::PolicyId::new(l.as_str()));
                meta.remove(l.as_str());
                removed.push(l.clone());
            }
            set.remove_template(pid).is_ok()
        } else if m.template.is_some() {
            set.unlink(pid).is_ok()
        } else {
            set.remove_static(pid).is_ok()
        };
        if ok {
            meta.remove(id.as_str());
            removed.push(PolicyId::new(id.clone()));
        } else {
            problems.push(Problem::new(format!("--without: could not remove `{id}`")));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    removed.sort();
    removed.dedup();
    Ok((ws.engine.with_policies(set, meta.clone()), removed))
}

/// Every hop and every step of a task, and whether all are allowed.
fn verdict(engine: &Engine, t: &Task) -> (Vec<HopOutcome>, Vec<Evaluation>, bool) {
    let hops: Vec<HopOutcome> = t.hops.iter().map(|h| engine.evaluate_hop(h)).collect();
    let steps: Vec<Evaluation> = t
        .steps
        .iter()
        .map(|s| engine.evaluate(&s.request))
        .collect();
    let sufficient = hops.iter().all(|h| h.allowed) && steps.iter().all(|s| s.allowed);
    (hops, steps, sufficient)
}

/// Runs a task: every hop, every step, and what the acting identity holds beyond the steps.
pub fn evaluate(engine: &Engine, t: &Task) -> TaskOutcome {
    let (hops, steps, sufficient) = verdict(engine, t);
    let used: BTreeSet<(String, String)> = steps
        .iter()
        .map(|s| (s.action.to_string(), s.resource.to_string()))
        .collect();
    let every_action = engine.schema_actions();
    let (allowed, excess_skipped) =
        allowed_requests(engine, t.acting(), &every_action, &t.context, t.behind());
    let mut groups: BTreeMap<(String, String), ExcessGroup> = BTreeMap::new();
    for (action, resource, _) in allowed {
        if used.contains(&(action.to_string(), resource.to_string())) {
            continue;
        }
        let resource_type = resource.type_name().to_string();
        groups
            .entry((action.to_string(), resource_type.clone()))
            .or_insert_with(|| ExcessGroup {
                action: action.clone(),
                resource_type,
                resources: Vec::new(),
            })
            .resources
            .push(resource);
    }
    TaskOutcome {
        file: t.file.clone(),
        name: t.name.clone(),
        principal: t.principal.clone(),
        chain: t.chain.clone(),
        hops,
        steps,
        sufficient,
        excess: groups.into_values().collect(),
        excess_skipped,
    }
}
