//! Finding and loading a workspace: `actas.yaml`, policies and template links, the schema and
//! the entity inventory, each problem kept with its file and span.
//!
//! Loading never stops at the first problem: every input is read and every problem collected, so
//! `actas check` can list them all and `actas test` can print them all before exiting 2. A step
//! that depends on a broken input (validating policies without a schema) is skipped with a note.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cedar_policy::{EntityUid, Schema, SlotId};
use serde_json::{Map, Value};
use serde_saphyr::Spanned;

use crate::core::catalogue::Catalogue;
use crate::core::diag::{Problem, SourceFile};
use crate::core::ids::ProfileName;
use crate::core::schema::SchemaInfo;
use crate::engine::Engine;

mod config;
mod entities;
mod files;
pub(crate) mod lint_settings;
pub mod places;
mod policies;
pub mod provenance;
pub mod scenario;
mod schema;
mod settings;
pub(crate) mod task;

use config::ConfigDoc;
use files::Origin;
pub use files::{scenario_sources, NamedPath};
pub use settings::{check_profile, CoverageGate, DriftSettings, ProfileDoc, Severity};

/// The configuration file's name, looked up in the workspace folder.
pub const CONFIG_FILE: &str = "actas.yaml";
const DEFAULT_MAX_CHAIN: u32 = 3;
const DEFAULT_ACTION: &str = r#"Action::"impersonate""#;

/// Values given on the command line, each replacing the field of `actas.yaml`.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub policies: Vec<PathBuf>,
    pub schema: Option<PathBuf>,
    pub entities: Vec<PathBuf>,
    pub scenarios: Vec<PathBuf>,
    pub max_chain: Option<u32>,
    pub impersonation_actions: Vec<String>,
    /// Policy files added to the workspace's (`suffice --with`).
    pub extra_policies: Vec<PathBuf>,
    /// Read and parse the workspace's scenario files while the inventory loads (`test`
    /// without FILES); [`Workspace::read_scenarios`] then only checks them.
    pub early_scenarios: bool,
}

/// A loaded workspace: the engine plus what commands need to find their inputs.
pub struct Workspace {
    pub root: PathBuf,
    pub engine: Engine,
    pub policies: Catalogue,
    pub scenarios: Vec<NamedPath>,
    /// Task files or folders for `suffice` (default `fixtures/tasks/`).
    pub tasks: Vec<NamedPath>,
    /// Property files or folders for `prove` (default `fixtures/properties/`).
    pub properties: Vec<NamedPath>,
    pub drift: DriftSettings,
    pub coverage: CoverageGate,
    pub profiles: BTreeMap<ProfileName, Map<String, Value>>,
    pub human_types: Vec<String>,
    pub lint: crate::workspace::lint_settings::LintSettings,
    /// The policy files by display path, for findings that point into them.
    pub policy_files: HashMap<String, Arc<SourceFile>>,
    pub schema_file: Option<Arc<SourceFile>>,
    /// Every input file (actas.yaml, schema, policies, links, entities), for provenance.
    pub inputs: Vec<provenance::InputFile>,
    /// The scenario files read while the inventory loaded ([`Overrides::early_scenarios`]),
    /// until [`Workspace::read_scenarios`] takes them.
    pub early_scenarios: std::sync::Mutex<Option<EarlyScenarios>>,
}

/// The workspace's scenario files, found, read and parsed; the problems met on the way.
pub struct EarlyScenarios {
    problems: Vec<Problem>,
    files: Vec<(Arc<SourceFile>, scenario::Parsed)>,
}

impl EarlyScenarios {
    /// Finds, reads and parses the scenario files of `paths`: everything of
    /// [`scenario::load`] that needs no engine.
    fn read(root: &Path, paths: &[NamedPath]) -> Self {
        let mut problems = Vec::new();
        let files = scenario_sources(root, paths, "scenario", &mut problems)
            .into_iter()
            .map(|file| {
                let parsed = scenario::parse(&file);
                (file, parsed)
            })
            .collect();
        EarlyScenarios { problems, files }
    }
}

impl Workspace {
    /// Reads the scenario or task files (`what`) named on the command line, else the
    /// workspace's `defaults`, each through `load`; every problem of every file is returned.
    pub fn read_inputs<T>(
        &self,
        files: &[PathBuf],
        defaults: &[NamedPath],
        what: &str,
        load: impl Fn(&Engine, &Arc<SourceFile>) -> Result<Vec<T>, Vec<Problem>>,
    ) -> Result<Vec<T>, Vec<Problem>> {
        let mut problems = Vec::new();
        let paths: Vec<NamedPath> = if files.is_empty() {
            defaults.to_vec()
        } else {
            files
                .iter()
                .map(|f| NamedPath::plain(self.root.join(f)))
                .collect()
        };
        let sources = scenario_sources(&self.root, &paths, what, &mut problems);
        gather(
            problems,
            sources.iter().map(|file| load(&self.engine, file)),
        )
    }

    /// The scenario files named on the command line, else the workspace's, each checked into
    /// its cases; every problem of every file is returned. The workspace's were read while it
    /// loaded, when it was asked to ([`Overrides::early_scenarios`]).
    pub fn read_scenarios(&self, files: &[PathBuf]) -> Result<Vec<scenario::Case>, Vec<Problem>> {
        let early = match self.early_scenarios.lock() {
            Ok(mut early) if files.is_empty() => early.take(),
            _ => None,
        };
        match early {
            Some(early) => gather(
                early.problems,
                (early.files.into_iter())
                    .map(|(file, parsed)| scenario::check(&self.engine, &file, parsed)),
            ),
            None => self.read_inputs(files, &self.scenarios, "scenario", scenario::load),
        }
    }
}

/// The items of every file, or every problem: those found before (`problems`) and each file's.
pub(super) fn gather<T>(
    mut problems: Vec<Problem>,
    files: impl Iterator<Item = Result<Vec<T>, Vec<Problem>>>,
) -> Result<Vec<T>, Vec<Problem>> {
    let mut items = Vec::new();
    for file in files {
        match file {
            Ok(found) => items.extend(found),
            Err(p) => problems.extend(p),
        }
    }
    if problems.is_empty() {
        Ok(items)
    } else {
        Err(problems)
    }
}

/// The result of loading: the workspace when everything needed to build it loaded, and every
/// problem found on the way.
pub struct Loaded {
    pub workspace: Option<Workspace>,
    pub problems: Vec<Problem>,
    /// Notes on checks skipped because an input they depend on is broken.
    pub skipped: Vec<String>,
    /// Things the user should know that stop no command (printed once on stderr).
    pub warnings: Vec<String>,
}

impl Loaded {
    /// The workspace when it loaded without problems; else every problem (a command cannot run).
    pub fn into_workspace(self) -> Result<Workspace, Vec<Problem>> {
        match self.workspace {
            Some(ws) if self.problems.is_empty() => Ok(ws),
            _ => Err(self.problems),
        }
    }
}

/// The policies of another folder, for `prove`'s `no_new_access` and `equivalent`: a
/// workspace folder (one with `actas.yaml`) gives the policies and links it loads; any other
/// folder or file its `*.cedar` files, ids as in a workspace, no links. Every problem is
/// returned, each with the place it is at.
pub fn load_policies_of(path: &Path) -> Result<cedar_policy::PolicySet, Vec<Problem>> {
    if path.join(CONFIG_FILE).is_file() {
        let loaded =
            load(path, &Overrides::default()).map_err(|e| vec![Problem::from_diagnostic(&e)])?;
        return loaded.into_workspace().map(|ws| ws.engine.policies);
    }
    let mut l = Loader::new(path.parent().unwrap_or(path));
    let files = l.collect(
        &[NamedPath::plain(path.to_path_buf())],
        &["cedar"],
        "policy",
    );
    let (set, _, _) = l.load_policies(&files, &[]);
    match set {
        Some(set) if l.problems.is_empty() => Ok(set),
        _ => Err(l.problems),
    }
}

/// Why a workspace cannot be looked at at all (exit 2 even for `check`).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum NoWorkspace {
    #[error("no workspace at `{0}`: the folder does not exist")]
    MissingFolder(String),
    #[error("no workspace at `{0}`: it is a file, not a folder")]
    #[diagnostic(help(
        "`-C` takes the workspace folder (the one with `actas.yaml` or `policies/`)"
    ))]
    NotAFolder(String),
    #[error(
        "no workspace at `{0}` or above it: found neither `actas.yaml` nor a `policies/` folder"
    )]
    #[diagnostic(help(
        "run actas in a workspace folder or below one, or point to one with `-C DIR`"
    ))]
    Empty(String),
}

/// Loads the workspace in `root`, applying command-line overrides.
/// The workspace that `start` is in, when it is not a workspace itself: the nearest folder above
/// it with an `actas.yaml`, as cargo finds `Cargo.toml`. A folder with `actas.yaml` or a
/// `policies/` folder is a workspace itself (`None`); the default layout without `actas.yaml` is
/// recognised only there, since a `policies/` folder above could be anything's.
pub fn discover(start: &Path) -> Option<PathBuf> {
    if !start.is_dir() || start.join(CONFIG_FILE).is_file() || start.join("policies").is_dir() {
        return None;
    }
    let absolute = crate::core::files::normalize(&std::env::current_dir().ok()?.join(start));
    absolute
        .ancestors()
        .skip(1)
        .find(|dir| dir.join(CONFIG_FILE).is_file())
        .map(Path::to_path_buf)
}

pub fn load(root: &Path, overrides: &Overrides) -> Result<Loaded, NoWorkspace> {
    if root.is_file() {
        return Err(NoWorkspace::NotAFolder(root.display().to_string()));
    }
    if !root.is_dir() {
        return Err(NoWorkspace::MissingFolder(root.display().to_string()));
    }
    let config_path = root.join(CONFIG_FILE);
    let has_config = config_path.is_file();
    if !has_config && !root.join("policies").is_dir() && overrides.policies.is_empty() {
        return Err(NoWorkspace::Empty(root.display().to_string()));
    }
    let mut l = Loader::new(root);
    let workspace = l.load(has_config, overrides);
    Ok(Loaded {
        workspace,
        problems: l.problems,
        skipped: l.skipped,
        warnings: l.warnings,
    })
}

/// What [`Loader::policies`] reads: the policy set (when it loads), each policy's metadata,
/// and the files read.
type PoliciesRead = (
    Option<cedar_policy::PolicySet>,
    BTreeMap<crate::core::ids::PolicyId, crate::core::catalogue::PolicyMeta>,
    policies::Sources,
);

struct Loader {
    root: PathBuf,
    problems: Vec<Problem>,
    skipped: Vec<String>,
    warnings: Vec<String>,
    schema_file: Option<Arc<SourceFile>>,
    /// Every input file read (config, schema, policies, links, entities), in reading order.
    inputs: Vec<provenance::InputFile>,
}

impl Loader {
    fn new(root: &Path) -> Self {
        Loader {
            root: root.to_path_buf(),
            problems: Vec::new(),
            skipped: Vec::new(),
            warnings: Vec::new(),
            schema_file: None,
            inputs: Vec::new(),
        }
    }

    /// A loader for reading beside this one (see [`Loader::absorb`]).
    fn beside(&self) -> Self {
        Loader {
            schema_file: self.schema_file.clone(),
            ..Loader::new(&self.root)
        }
    }

    /// What a loader made by [`Loader::beside`] found, as if this one had read it next.
    fn absorb(&mut self, beside: Loader) {
        self.problems.extend(beside.problems);
        self.skipped.extend(beside.skipped);
        self.warnings.extend(beside.warnings);
        self.inputs.extend(beside.inputs);
    }

    /// The policies and links, validated against the schema when there is one usable.
    fn policies(
        &mut self,
        ov: &Overrides,
        schema: &Option<(Schema, SchemaInfo)>,
        policy_paths: &[NamedPath],
        link_paths: &[NamedPath],
    ) -> PoliciesRead {
        let mut policy_files = self.collect(policy_paths, &["cedar"], "policy");
        // Candidate policies (`suffice --with`) come after the workspace's, validated alike.
        let extra: Vec<NamedPath> = ov
            .extra_policies
            .iter()
            .map(|p| NamedPath::plain(p.clone()))
            .collect();
        policy_files.extend(self.collect(&extra, &["cedar"], "policy"));
        let (policies, meta, sources) = self.load_policies(&policy_files, link_paths);
        if let (Some((schema, _)), Some(policies)) = (schema, &policies) {
            self.validate_policies(schema, policies, &meta, &sources);
        } else if policies.is_some() {
            self.skipped
                .push("strict validation of the policies: no usable schema".into());
        }
        (policies, meta, sources)
    }

    /// Loads everything, in steps: the configuration, the settings that need no schema, the
    /// schema, the policies and links and the impersonation actions (the inventory read beside
    /// them, its problems reported after theirs), then the settings checked against the engine.
    fn load(&mut self, has_config: bool, ov: &Overrides) -> Option<Workspace> {
        let (config, config_file) = self.read_config(has_config)?;
        let cfg = config_file.as_ref();
        let paths =
            |from_cli: &[PathBuf], from_cfg: &Option<Vec<Spanned<String>>>, default: &[&str]| {
                if !from_cli.is_empty() {
                    from_cli
                        .iter()
                        .map(|p| NamedPath::plain(p.clone()))
                        .collect::<Vec<_>>()
                } else if let Some(list) = from_cfg {
                    list.iter().map(|s| self.named(cfg, s)).collect()
                } else {
                    default
                        .iter()
                        .map(|d| NamedPath::default_path(self.root.join(d)))
                        .collect()
                }
            };
        let policy_paths = paths(&ov.policies, &config.policies, &["policies"]);
        let entity_paths = paths(&ov.entities, &config.entities, &["fixtures/entities.yaml"]);
        let scenarios = paths(&ov.scenarios, &config.scenarios, &["fixtures/scenarios"]);
        let link_paths = paths(&[], &config.links, &["policies/bindings.yaml"]);
        let tasks = paths(&[], &config.tasks, &["fixtures/tasks"]);
        let properties = paths(&[], &config.properties, &["fixtures/properties"]);

        // Settings.
        let imp = config.impersonation.unwrap_or_default();
        let max_chain = self.max_chain(cfg, ov.max_chain, imp.max_chain.as_ref());
        let action_texts = action_texts(cfg, &ov.impersonation_actions, imp.actions.as_ref());
        let profile_docs = config.profiles.unwrap_or_default();

        // Schema.
        let schema_path = match (&ov.schema, &config.schema) {
            (Some(p), _) => Some(NamedPath::plain(p.clone())),
            (None, Some(s)) => Some(self.named(cfg, s)),
            (None, None) => self.find_schema(&policy_paths),
        };
        let schema = schema_path.and_then(|p| self.load_schema(&p));

        // The inventory (and the scenario files, when asked) is read beside the policies: each
        // keeps one core busy, and an organisation's inventory takes longer than its policies.
        // What the reading beside finds (problems, inputs) is added after the policies', as if
        // read after them.
        let mut beside = self.beside();
        let root = self.root.clone();
        let read_beside = |beside: &mut Loader| {
            let entity_files = beside.collect(&entity_paths, &["yaml", "yml", "json"], "entity");
            let (entities, early_scenarios) = rayon::join(
                || {
                    schema
                        .as_ref()
                        .and_then(|(s, _)| beside.load_entities(&entity_files, s))
                },
                || {
                    ov.early_scenarios
                        .then(|| EarlyScenarios::read(&root, &scenarios))
                },
            );
            (entity_files, entities, early_scenarios)
        };
        let ((policies, meta, sources, actions), (entity_files, entities, early_scenarios)) =
            rayon::join(
                || {
                    let (policies, meta, sources) =
                        self.policies(ov, &schema, &policy_paths, &link_paths);
                    // The engine's index of the policies, made while the inventory is read.
                    let policies = policies.map(crate::engine::SlicedPolicies::from);
                    // Impersonation actions.
                    let defaulted = ov.impersonation_actions.is_empty() && imp.actions.is_none();
                    let actions = match &schema {
                        Some((_, info)) => {
                            self.impersonation_actions(info, &action_texts, defaulted)
                        }
                        None => Vec::new(),
                    };
                    (policies, meta, sources, actions)
                },
                || read_beside(&mut beside),
            );
        self.absorb(beside);
        if schema.is_none() && !entity_files.is_empty() {
            self.skipped
                .push("validation of the entities: no usable schema".into());
        }

        if let (Some(list), Some((schema, _)), Some(file)) = (&imp.human_types, &schema, cfg) {
            self.check_human_types(schema, file, list);
        }
        let human_types: Vec<String> = match imp.human_types {
            Some(list) => list.into_iter().map(|s| s.value).collect(),
            None => Vec::new(),
        };
        let (schema, info) = schema?;
        let engine = Engine::new(
            schema,
            info,
            policies?,
            entities?,
            actions,
            max_chain?,
            Catalogue::new(meta.clone()),
        );
        let human_types = if human_types.is_empty() {
            engine.default_human_types()
        } else {
            human_types
        };
        let profiles = self.check_profiles(&engine, cfg, profile_docs);
        let drift = self.check_drift(&engine, cfg, config.drift.unwrap_or_default());
        let coverage = self.check_coverage(cfg, config.coverage.unwrap_or_default(), &profiles);
        let (lint, problems) =
            crate::workspace::lint_settings::check(&engine, cfg, config.lint, imp.unattributed);
        self.problems.extend(problems);
        Some(Workspace {
            root: self.root.clone(),
            engine,
            policies: Catalogue::new(meta),
            scenarios,
            tasks,
            properties,
            drift,
            coverage,
            profiles,
            human_types,
            lint,
            policy_files: sources,
            schema_file: self.schema_file.clone(),
            inputs: self.inputs.clone(),
            early_scenarios: std::sync::Mutex::new(early_scenarios),
        })
    }

    /// `actas.yaml`, when there is one; `None` when it cannot be read (nothing else is).
    fn read_config(&mut self, has_config: bool) -> Option<(ConfigDoc, Option<Arc<SourceFile>>)> {
        if !has_config {
            return Some((ConfigDoc::default(), None));
        }
        let file = self.read(&NamedPath::plain(self.root.join(CONFIG_FILE)))?;
        match crate::core::yaml::read::<Option<ConfigDoc>>(&file) {
            Ok(c) => Some((c.unwrap_or_default(), Some(file))),
            Err(p) => {
                self.problems.push(*p);
                self.skipped
                    .push("everything else: `actas.yaml` could not be read".into());
                None
            }
        }
    }

    /// `--max-chain`, else `impersonation.max_chain`, else the default; at least 1.
    fn max_chain(
        &mut self,
        cfg: Option<&Arc<SourceFile>>,
        from_cli: Option<u32>,
        from_cfg: Option<&Spanned<i64>>,
    ) -> Option<u32> {
        if from_cli == Some(0) {
            self.problems
                .push(Problem::new("`--max-chain` must be at least 1"));
        }
        match (from_cli, from_cfg) {
            (Some(n), _) => Some(n),
            (None, Some(n)) => match u32::try_from(n.value) {
                Ok(v) if v >= 1 => Some(v),
                _ => {
                    let file = cfg?;
                    self.problems.push(
                        Problem::at_location(file, &n.referenced, "`max_chain` must be at least 1")
                            .with_help("it counts hops: `impersonate:` is 1, `chain: [A, B]` is 2"),
                    );
                    None
                }
            },
            (None, None) => Some(DEFAULT_MAX_CHAIN),
        }
    }

    /// The impersonation actions as uids of the schema, each problem at its place. The default
    /// action missing from the schema is no error: the workspace then has no impersonation
    /// actions (plain cases, `check` and the reports still run) and one warning says so.
    fn impersonation_actions(
        &mut self,
        info: &SchemaInfo,
        texts: &[(String, Option<Origin>)],
        defaulted: bool,
    ) -> Vec<EntityUid> {
        let candidates = candidate_list(info);
        let mut actions = Vec::new();
        for (text, origin) in texts {
            match info.parse_action(text, "impersonation action") {
                Ok(uid) => actions.push(uid),
                Err(_) if defaulted => self.warnings.push(format!(
                    "impersonation analysis is off: the schema has no `{DEFAULT_ACTION}`, the default impersonation action when actas.yaml sets no `impersonation.actions`; plain cases, `check` and the reports still run\n  help: list the schema's impersonation actions under `impersonation.actions` in actas.yaml{candidates}, or run `actas init`"
                )),
                Err(problem) => {
                    let setting = if origin.is_some() {
                        "change `impersonation.actions` in actas.yaml"
                    } else {
                        "change `--impersonation-action`"
                    };
                    let help = match &problem.help {
                        Some(h) => format!("{h} {setting}{candidates}"),
                        None => format!("{setting}{candidates}"),
                    };
                    let problem = problem.with_help(help);
                    self.problems.push(match origin {
                        Some((file, span)) => problem.placed(file, *span),
                        None => problem,
                    });
                }
            }
        }
        actions
    }

    /// `impersonation.human_types` must name entity types of the schema.
    fn check_human_types(
        &mut self,
        schema: &Schema,
        file: &Arc<SourceFile>,
        list: &[Spanned<String>],
    ) {
        let types: Vec<String> = schema.entity_types().map(ToString::to_string).collect();
        for t in list.iter().filter(|t| !types.contains(&t.value)) {
            let mut p = Problem::at_location(
                file,
                &t.referenced,
                format!(
                    "human type `{}` is not an entity type of the schema",
                    t.value
                ),
            );
            p.help = crate::core::suggest::did_you_mean(&t.value, types.iter().map(String::as_str));
            self.problems.push(p);
        }
    }
}

/// The schema's likely impersonation actions as the end of a sentence: "; candidates: …", or
/// its every action when none looks like impersonation.
fn candidate_list(info: &SchemaInfo) -> String {
    let quoted = |uids: Vec<EntityUid>| -> String {
        uids.iter()
            .map(|a| format!("`{a}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let likely = info.impersonation_candidates();
    if !likely.is_empty() {
        return format!(" (the schema's likely ones: {})", quoted(likely));
    }
    let mut all: Vec<EntityUid> = info.actions.keys().cloned().collect();
    all.sort_by_key(ToString::to_string);
    if all.is_empty() {
        " (the schema declares no actions)".into()
    } else {
        format!(
            " (none of the schema's actions looks like one: {})",
            quoted(all)
        )
    }
}

/// The impersonation actions as written: `--impersonation-action`, else
/// `impersonation.actions` (with their places), else the default.
fn action_texts(
    cfg: Option<&Arc<SourceFile>>,
    from_cli: &[String],
    from_cfg: Option<&Vec<Spanned<String>>>,
) -> Vec<(String, Option<Origin>)> {
    if !from_cli.is_empty() {
        return from_cli.iter().map(|a| (a.clone(), None)).collect();
    }
    match (from_cfg, cfg) {
        (Some(list), Some(file)) => list
            .iter()
            .map(|s| {
                let span = crate::core::diag::span_of(file, &s.referenced);
                (s.value.clone(), Some((file.clone(), span)))
            })
            .collect(),
        _ => vec![(DEFAULT_ACTION.to_string(), None)],
    }
}

/// The bundled example (`policies/`, `fixtures/`, `actas.yaml`), which loads without problems:
/// the workspace most unit tests look at.
#[cfg(test)]
pub(crate) fn example() -> Workspace {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let loaded = load(root, &Overrides::default()).unwrap();
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    loaded.workspace.unwrap()
}

/// Helpers for unit tests across the layers.
#[cfg(test)]
pub(crate) mod test_support {
    use cedar_policy::EntityUid;

    use crate::engine::ContextMap;

    pub(crate) fn uid(s: &str) -> EntityUid {
        s.parse().unwrap()
    }

    /// A context the bundled example's impersonation actions accept.
    pub(crate) fn ctx() -> ContextMap {
        serde_json::from_str(r#"{"duration_minutes": 30, "mfa": true, "justification": "CHG-12"}"#)
            .unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_ids_come_from_annotations_else_file_and_index() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let loaded = load(
            &root.join("fixtures/broken/no-schema"),
            &Overrides::default(),
        )
        .unwrap();
        // No schema, but policies still load and get their ids.
        assert!(loaded.workspace.is_none());
        let ws = example();
        assert!(ws.policies.contains_key("sre-oncall-prod"));
        assert_eq!(
            ws.policies["token-creator#1"].template.as_deref(),
            Some("token-creator")
        );
        assert!(ws.policies["token-creator"].is_template);
        assert_eq!(
            policies::statement_index(&cedar_policy::PolicyId::new("policy12")),
            Some(12)
        );
    }

    #[test]
    fn unannotated_policies_are_named_by_file_and_statement() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("policies");
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(
            p.join("s.cedarschema"),
            "entity U; action a appliesTo { principal: U, resource: U };",
        )
        .unwrap();
        std::fs::write(p.join("x.cedar"), "permit(principal, action, resource);\n@id(\"named\") forbid(principal, action, resource);\npermit(principal, action, resource);").unwrap();
        let ws = load(dir.path(), &Overrides::default())
            .unwrap()
            .workspace
            .unwrap();
        let ids: Vec<&str> = ws.policies.keys().map(|k| k.as_str()).collect();
        assert_eq!(ids, ["named", "policies/x.cedar#0", "policies/x.cedar#2"]);
    }

    #[test]
    fn a_json_inventory_reads_as_its_yaml_twin() {
        // JSON files are read without positions (serde_json), YAML ones with them: the same
        // inventory must give the same entities either way.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let yaml = std::fs::read_to_string(root.join("fixtures/entities.yaml")).unwrap();
        let docs: Value = serde_saphyr::from_str(&yaml).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("entities.json");
        std::fs::write(&json, serde_json::to_string_pretty(&docs).unwrap()).unwrap();
        let from_yaml = example();
        let overrides = Overrides {
            entities: vec![json.clone()],
            ..Overrides::default()
        };
        let from_json = load(root, &overrides).unwrap().workspace.unwrap();
        assert_eq!(from_json.engine.entities, from_yaml.engine.entities);
        // ...and the JSON one did take the fast way.
        let text = std::fs::read_to_string(&json).unwrap();
        let file = SourceFile::new("entities.json", text);
        assert!(entities::quick_entities(&[file], &from_yaml.engine.schema).is_some());
        assert!(from_yaml.engine.entities.iter().count() > 10);
    }

    #[test]
    fn an_inventory_in_cedar_form_goes_to_cedar_whole_unless_the_hierarchy_needs_a_look() {
        let ws = example();
        let schema = &ws.engine.schema;
        let json = |text: &str| SourceFile::new("e.json", text.to_string());
        let entity = |id: &str, parent: Option<&str>| {
            let parents = parent.map_or(String::new(), |p| {
                format!(r#"{{"type": "Group", "id": "{p}"}}"#)
            });
            format!(
                r#"{{"uid": {{"type": "Group", "id": "{id}"}}, "attrs": {{}}, "parents": [{parents}]}}"#
            )
        };
        // The same entities as Cedar reading the whole file: attributes, ancestors (the
        // transitive closure: `r` is under `p`), the schema's actions. Cedar's `==` compares
        // uids only; `deep_eq` compares everything.
        let same_as_cedar = |text: &str| {
            let direct = entities::cedar_form(&json(text), schema).unwrap();
            let cedar = cedar_policy::Entities::from_json_str(text, Some(schema)).unwrap();
            assert!(direct.deep_eq(&cedar), "{text}");
            // Parents apart from the other ancestors, as Cedar keeps them.
            for e in cedar.iter() {
                let (ours, theirs) = (direct.get(&e.uid()).unwrap().as_ref(), e.as_ref());
                let parents = |e: &cedar_policy_core::ast::Entity| {
                    e.parents()
                        .cloned()
                        .collect::<std::collections::HashSet<_>>()
                };
                assert_eq!(parents(ours), parents(theirs), "{}", e.uid());
                let others = |e: &cedar_policy_core::ast::Entity| {
                    let all = e.indirect_ancestors().cloned();
                    all.collect::<std::collections::HashSet<_>>()
                };
                assert_eq!(others(ours), others(theirs), "{}", e.uid());
            }
        };
        let chain = [
            entity("r", Some("q")),
            entity("p", None),
            entity("q", Some("p")),
            entity("s", Some("r")),
            entity("t", Some("outside")),
        ];
        same_as_cedar(&format!("[{}]", chain.join(", ")));
        // The example's whole inventory in Cedar's form, without and with the actions (which
        // Cedar checks against the schema's, and so reads itself).
        let all = ws.engine.entities.to_json_value().unwrap();
        let all = all.as_array().unwrap();
        let is_action = |e: &&Value| e["uid"]["type"].as_str().unwrap().ends_with("Action");
        let (actions, others): (Vec<&Value>, Vec<&Value>) = all.iter().partition(is_action);
        assert!(!actions.is_empty() && others.len() > 10);
        same_as_cedar(&serde_json::to_string(&others).unwrap());
        same_as_cedar(&serde_json::to_string(&all).unwrap());
        // A repeated uid, a cycle, or another uid form: not this way (the caller reads again).
        let repeated = format!("[{}, {}]", entity("p", None), entity("p", None));
        let cycle = format!("[{}, {}]", entity("p", Some("q")), entity("q", Some("p")));
        let string_uid = r#"[{"uid": "Group::\"p\"", "attrs": {}, "parents": []}]"#;
        // A parent chain deeper than the limit, which Cedar would take, and whose transitive
        // closure costs the square of its length.
        let depth = crate::core::limits::MAX_HIERARCHY_DEPTH + 2;
        let chain: Vec<String> = (0..depth)
            .map(|i| {
                entity(
                    &format!("g{i}"),
                    (i > 0).then(|| format!("g{}", i - 1)).as_deref(),
                )
            })
            .collect();
        let deep = format!("[{}]", chain.join(", "));
        for text in [repeated.as_str(), cycle.as_str(), string_uid, deep.as_str()] {
            assert!(
                entities::cedar_form(&json(text), schema).is_none(),
                "{text}"
            );
        }
    }
}
