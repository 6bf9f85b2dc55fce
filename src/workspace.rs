//! Finding and loading a workspace: `actas.yaml`, policies and template links, the schema and
//! the entity inventory, each problem kept with its file and span.
//!
//! Loading never stops at the first problem: every input is read and every problem collected, so
//! `actas check` can list them all and `actas test` can print them all before exiting 2. A step
//! that depends on a broken input (validating policies without a schema) is skipped with a note.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{
    Entities, EntityUid, PolicyId, PolicySet, Schema, SchemaFragment, SlotId, ValidationMode,
    Validator,
};
use serde::Deserialize;
use serde_json::{Map, Value};
use serde_saphyr::Spanned;

use crate::diag::{Problem, SourceFile};
use crate::engine::Engine;
use crate::schema::SchemaInfo;
use crate::uid::{parse_uid, uid_json};

/// The configuration file's name, looked up in the workspace folder.
pub const CONFIG_FILE: &str = "actas.yaml";
const DEFAULT_MAX_CHAIN: u32 = 3;
const DEFAULT_ACTION: &str = r#"Action::"impersonate""#;

/// `actas.yaml`. Every field is optional; see DESIGN §3 for the defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigDoc {
    policies: Option<Vec<Spanned<String>>>,
    schema: Option<Spanned<String>>,
    entities: Option<Vec<Spanned<String>>>,
    scenarios: Option<Vec<Spanned<String>>>,
    links: Option<Vec<Spanned<String>>>,
    /// Task files for `actas suffice`.
    tasks: Option<Vec<Spanned<String>>>,
    impersonation: Option<ImpersonationDoc>,
    profiles: Option<BTreeMap<String, ProfileDoc>>,
    drift: Option<DriftDoc>,
    /// Lint rule levels and the context attributes the rules look for.
    lint: Option<crate::lint::settings::LintDoc>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DriftDoc {
    /// Resources in (Cedar `in`) these entities are sensitive.
    sensitive: Option<Vec<Spanned<Value>>>,
    /// The lowest severity that makes `drift` exit 1.
    fail_on: Option<Spanned<String>>,
}

/// How much a drift item matters (DESIGN §4, README "Drift").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Severity {
    /// Access taken away.
    #[default]
    Low,
    /// Access added.
    Medium,
    /// Access added for a human to, or through an account that acts on, a sensitive resource.
    High,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Severity::Low, Severity::Medium, Severity::High]
            .into_iter()
            .find(|x| x.name() == s)
    }
}

/// `drift:` of actas.yaml, checked.
#[derive(Debug, Clone, Default)]
pub struct DriftSettings {
    pub sensitive: Vec<EntityUid>,
    pub fail_on: Severity,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImpersonationDoc {
    actions: Option<Vec<Spanned<String>>>,
    max_chain: Option<Spanned<i64>>,
    human_types: Option<Vec<Spanned<String>>>,
    /// Actions that hand over an account's identity without impersonation (lint).
    unattributed: Option<Vec<crate::lint::settings::UnattributedDoc>>,
}

/// A template link (role binding) in a links file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkDoc {
    template: Spanned<String>,
    id: Option<Spanned<String>>,
    principal: Option<Spanned<Value>>,
    resource: Option<Spanned<Value>>,
}

/// One entity as written: Cedar's entity JSON format, uids also as uid strings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, bound = "U: Deserialize<'de>")]
struct EntityDoc<U = Spanned<Value>> {
    uid: U,
    #[serde(default)]
    attrs: Map<String, Value>,
    #[serde(default)]
    parents: Vec<U>,
    tags: Option<Map<String, Value>>,
}

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
}

/// What is known about one policy, for reasons, findings and reports.
#[derive(Debug, Clone)]
pub struct PolicyMeta {
    pub id: String,
    pub file: String,
    pub description: Option<String>,
    /// For a template link: the template's id.
    pub template: Option<String>,
    pub is_template: bool,
}

/// Where a setting was written: the file and byte span.
type Origin = (Arc<SourceFile>, (usize, usize));

/// Policy files as read, by display path, so diagnostics reuse the text instead of reading again.
type Sources = HashMap<String, Arc<SourceFile>>;

/// A path named in `actas.yaml` (with its place there) or on the command line.
#[derive(Debug, Clone)]
pub struct NamedPath {
    pub path: PathBuf,
    /// Where `actas.yaml` names it, for "missing path" problems.
    origin: Option<Origin>,
    /// A default path that may be absent.
    optional: bool,
}

/// A loaded workspace: the engine plus what commands need to find their inputs.
pub struct Workspace {
    pub root: PathBuf,
    pub engine: Engine,
    pub policies: BTreeMap<String, PolicyMeta>,
    pub scenarios: Vec<NamedPath>,
    /// Task files or folders for `suffice` (default `fixtures/tasks/`).
    pub tasks: Vec<NamedPath>,
    pub drift: DriftSettings,
    pub profiles: BTreeMap<String, Map<String, Value>>,
    pub human_types: Vec<String>,
    pub lint: crate::lint::settings::LintSettings,
    /// The policy files by display path, for findings that point into them.
    pub policy_files: HashMap<String, Arc<SourceFile>>,
    pub schema_file: Option<Arc<SourceFile>>,
}

/// The result of loading: the workspace when everything needed to build it loaded, and every
/// problem found on the way.
pub struct Loaded {
    pub workspace: Option<Workspace>,
    pub problems: Vec<Problem>,
    /// Notes on checks skipped because an input they depend on is broken.
    pub skipped: Vec<String>,
}

/// Why a workspace cannot be looked at at all (exit 2 even for `check`).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum NoWorkspace {
    #[error("no workspace at `{0}`: the folder does not exist")]
    MissingFolder(String),
    #[error("no workspace at `{0}`: found neither `actas.yaml` nor a `policies/` folder")]
    #[diagnostic(help("run actas in a workspace folder, or point to one with `-C DIR`"))]
    Empty(String),
}

/// Loads the workspace in `root`, applying command-line overrides.
pub fn load(root: &Path, overrides: &Overrides) -> Result<Loaded, NoWorkspace> {
    if !root.is_dir() {
        return Err(NoWorkspace::MissingFolder(root.display().to_string()));
    }
    let config_path = root.join(CONFIG_FILE);
    let has_config = config_path.is_file();
    if !has_config && !root.join("policies").is_dir() && overrides.policies.is_empty() {
        return Err(NoWorkspace::Empty(root.display().to_string()));
    }
    let mut l = Loader {
        root: root.to_path_buf(),
        problems: Vec::new(),
        skipped: Vec::new(),
        schema_file: None,
    };
    let workspace = l.load(has_config, overrides);
    Ok(Loaded {
        workspace,
        problems: l.problems,
        skipped: l.skipped,
    })
}

struct Loader {
    root: PathBuf,
    problems: Vec<Problem>,
    skipped: Vec<String>,
    schema_file: Option<Arc<SourceFile>>,
}

impl Loader {
    fn load(&mut self, has_config: bool, ov: &Overrides) -> Option<Workspace> {
        let (config, config_file) = if has_config {
            let file = self.read(&NamedPath::plain(self.root.join(CONFIG_FILE)))?;
            match serde_saphyr::from_str::<Option<ConfigDoc>>(&file.text) {
                Ok(c) => (c.unwrap_or_default(), Some(file)),
                Err(e) => {
                    self.problems.push(Problem::from_yaml(&file, &e));
                    self.skipped
                        .push("everything else: `actas.yaml` could not be read".into());
                    return None;
                }
            }
        } else {
            (ConfigDoc::default(), None)
        };
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

        // Settings.
        let imp = config.impersonation.unwrap_or_default();
        let max_chain = match (ov.max_chain, &imp.max_chain) {
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
        };
        if ov.max_chain == Some(0) {
            self.problems
                .push(Problem::new("`--max-chain` must be at least 1"));
        }
        let action_texts: Vec<(String, Option<Origin>)> = if !ov.impersonation_actions.is_empty() {
            ov.impersonation_actions
                .iter()
                .map(|a| (a.clone(), None))
                .collect()
        } else if let (Some(list), Some(file)) = (&imp.actions, cfg) {
            list.iter()
                .map(|s| {
                    (
                        s.value.clone(),
                        Some((file.clone(), crate::diag::span_of(file, &s.referenced))),
                    )
                })
                .collect()
        } else {
            vec![(DEFAULT_ACTION.to_string(), None)]
        };
        let profile_docs = config.profiles.unwrap_or_default();

        // Schema.
        let schema_path = match (&ov.schema, &config.schema) {
            (Some(p), _) => Some(NamedPath::plain(p.clone())),
            (None, Some(s)) => Some(self.named(cfg, s)),
            (None, None) => self.find_schema(&policy_paths),
        };
        let schema = schema_path.and_then(|p| self.load_schema(&p));

        // Policies and links.
        let mut policy_files = self.collect(&policy_paths, &["cedar"], "policy");
        // Candidate policies (`suffice --with`) come after the workspace's, validated alike.
        let extra: Vec<NamedPath> = ov
            .extra_policies
            .iter()
            .map(|p| NamedPath::plain(p.clone()))
            .collect();
        policy_files.extend(self.collect(&extra, &["cedar"], "policy"));
        let (policies, meta, sources) = self.load_policies(&policy_files, &link_paths);
        if let (Some((schema, _)), Some(policies)) = (&schema, &policies) {
            self.validate_policies(schema, policies, &meta, &sources);
        } else if policies.is_some() {
            self.skipped
                .push("strict validation of the policies: no usable schema".into());
        }

        // Impersonation actions.
        let mut actions = Vec::new();
        if let Some((_, info)) = &schema {
            for (text, origin) in &action_texts {
                match info.parse_action(text, "impersonation action") {
                    Ok(uid) => actions.push(uid),
                    Err(problem) => self.problems.push(match origin {
                        Some((file, span)) => problem.placed(file, *span),
                        None => *problem,
                    }),
                }
            }
        }

        // Entities.
        let entity_files = self.collect(&entity_paths, &["yaml", "yml", "json"], "entity");
        let entities = schema
            .as_ref()
            .and_then(|(s, _)| self.load_entities(&entity_files, s));
        if schema.is_none() && !entity_files.is_empty() {
            self.skipped
                .push("validation of the entities: no usable schema".into());
        }

        if let (Some(list), Some((schema, _)), Some(file)) = (&imp.human_types, &schema, cfg) {
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
                p.help = crate::suggest::closest(&t.value, types.iter().map(String::as_str))
                    .map(|s| format!("did you mean `{s}`?"));
                self.problems.push(p);
            }
        }
        let human_types: Vec<String> = match imp.human_types {
            Some(list) => list.into_iter().map(|s| s.value).collect(),
            None => Vec::new(),
        };
        let (schema, info) = schema?;
        let engine = Engine::new(
            schema, info, policies?, entities?, actions, max_chain?, &meta,
        );
        let human_types = if human_types.is_empty() {
            engine.default_human_types()
        } else {
            human_types
        };
        let profiles = self.check_profiles(&engine, cfg, profile_docs);
        let drift = self.check_drift(&engine, cfg, config.drift.unwrap_or_default());
        let (lint, problems) =
            crate::lint::settings::check(&engine, cfg, config.lint, imp.unattributed);
        self.problems.extend(problems);
        Some(Workspace {
            root: self.root.clone(),
            engine,
            policies: meta,
            scenarios,
            tasks,
            drift,
            profiles,
            human_types,
            lint,
            policy_files: sources,
            schema_file: self.schema_file.clone(),
        })
    }

    fn check_drift(
        &mut self,
        engine: &Engine,
        cfg: Option<&Arc<SourceFile>>,
        doc: DriftDoc,
    ) -> DriftSettings {
        let mut settings = DriftSettings::default();
        let Some(file) = cfg else {
            return settings;
        };
        for v in doc.sensitive.unwrap_or_default() {
            let problem = match crate::uid::parse_uid(&v.value) {
                Ok(uid) => match engine.known_entity(&uid) {
                    Ok(()) => {
                        settings.sensitive.push(uid);
                        continue;
                    }
                    Err(issue) => {
                        let mut p = Problem::at_location(file, &v.referenced, issue.message);
                        p.help = issue.help;
                        p
                    }
                },
                Err(e) => Problem::at_location(file, &v.referenced, e),
            };
            self.problems.push(problem);
        }
        if let Some(f) = doc.fail_on {
            match Severity::parse(&f.value) {
                Some(s) => settings.fail_on = s,
                None => self.problems.push(Problem::at_location(
                    file,
                    &f.referenced,
                    format!("`fail_on` must be low, medium or high, not `{}`", f.value),
                )),
            }
        }
        settings
    }

    fn check_profiles(
        &mut self,
        engine: &Engine,
        cfg: Option<&Arc<SourceFile>>,
        docs: BTreeMap<String, ProfileDoc>,
    ) -> BTreeMap<String, Map<String, Value>> {
        let mut profiles = BTreeMap::new();
        let Some(file) = cfg else {
            return profiles;
        };
        for (name, doc) in docs {
            let (context, problems) = check_profile(engine, file, &name, &doc);
            self.problems.extend(problems);
            profiles.insert(name, context);
        }
        profiles
    }

    fn named(&self, cfg: Option<&Arc<SourceFile>>, s: &Spanned<String>) -> NamedPath {
        NamedPath {
            path: self.root.join(&s.value),
            origin: cfg.map(|f| (f.clone(), crate::diag::span_of(f, &s.referenced))),
            optional: false,
        }
    }

    fn display(&self, path: &Path) -> String {
        display_path(&self.root, path)
    }

    /// Reads a file, or records why it cannot be read.
    fn read(&mut self, p: &NamedPath) -> Option<Arc<SourceFile>> {
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

    fn missing(&mut self, p: &NamedPath, message: &str) {
        let problem = match &p.origin {
            Some((file, span)) => Problem::at(file, *span, message).with_label("named here"),
            None => Problem::new(message),
        };
        self.problems.push(problem);
    }

    /// Files with one of `exts` under each path (folders recursively, sorted).
    fn collect(&mut self, paths: &[NamedPath], exts: &[&str], what: &str) -> Vec<PathBuf> {
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

    fn find_schema(&mut self, policy_paths: &[NamedPath]) -> Option<NamedPath> {
        let mut found = Vec::new();
        for p in policy_paths.iter().filter(|p| p.path.is_dir()) {
            walk(&p.path, &["cedarschema", "cedarschema.json"], &mut found);
        }
        match found.len() {
            1 => found.pop().map(NamedPath::plain),
            0 => {
                self.problems.push(
                    Problem::new("no schema found: no `*.cedarschema` or `*.cedarschema.json` file in the policy folders")
                        .with_help("add one, or name it with `schema:` in actas.yaml or `--schema`"),
                );
                None
            }
            _ => {
                let names: Vec<String> = found
                    .iter()
                    .map(|f| format!("`{}`", self.display(f)))
                    .collect();
                self.problems.push(
                    Problem::new(format!(
                        "found {} schema files: {}",
                        found.len(),
                        names.join(", ")
                    ))
                    .with_help("name the one to use with `schema:` in actas.yaml or `--schema`"),
                );
                None
            }
        }
    }

    fn load_schema(&mut self, p: &NamedPath) -> Option<(Schema, SchemaInfo)> {
        let file = self.read(p)?;
        self.schema_file = Some(file.clone());
        // Context types are read from the schema's JSON form with types resolved, which Cedar
        // produces from the human-readable form; a JSON schema goes through that form too.
        let (schema, text) = if file.path.ends_with(".json") {
            let schema = match Schema::from_json_str(&file.text) {
                Ok(s) => s,
                Err(e) => {
                    self.problems
                        .push(Problem::from_cedar(None, &e).with_file(&file));
                    return None;
                }
            };
            let text = SchemaFragment::from_json_str(&file.text)
                .ok()
                .and_then(|f| f.to_cedarschema().ok());
            let Some(text) = text else {
                self.problems.push(Problem::in_file(
                    &file,
                    "failed to read the schema's context types",
                ));
                return None;
            };
            (schema, text)
        } else {
            match Schema::from_cedarschema_str(&file.text) {
                Ok((s, _warnings)) => (s, file.text.to_string()),
                Err(e) => {
                    self.problems.push(Problem::from_cedar(Some(&file), &e));
                    return None;
                }
            }
        };
        let json = match cedar_policy::schema_str_to_json_with_resolved_types(&text) {
            Ok((json, _)) => json,
            Err(e) => {
                self.problems
                    .push(Problem::from_cedar(None, &e).with_file(&file));
                return None;
            }
        };
        let info = SchemaInfo::new(&schema, &json);
        Some((schema, info))
    }

    fn load_policies(
        &mut self,
        files: &[PathBuf],
        link_paths: &[NamedPath],
    ) -> (Option<PolicySet>, BTreeMap<String, PolicyMeta>, Sources) {
        let mut set = PolicySet::new();
        let mut sources = Sources::new();
        let mut meta: BTreeMap<String, PolicyMeta> = BTreeMap::new();
        let mut ok = true;
        for path in files {
            let Some(file) = self.read(&NamedPath::plain(path.clone())) else {
                ok = false;
                continue;
            };
            sources.insert(file.path.clone(), file.clone());
            let parsed = match PolicySet::from_str(&file.text) {
                Ok(p) => p,
                Err(errs) => {
                    for e in errs.iter() {
                        self.problems.push(Problem::from_cedar(Some(&file), e));
                    }
                    ok = false;
                    continue;
                }
            };
            // The parser numbers statements `policy0`, `policy1`, … in text order, templates included.
            let mut statements: Vec<(usize, bool)> = parsed
                .policies()
                .filter_map(|p| statement_index(p.id()).map(|i| (i, false)))
                .chain(
                    parsed
                        .templates()
                        .filter_map(|t| statement_index(t.id()).map(|i| (i, true))),
                )
                .collect();
            statements.sort_unstable();
            for (index, is_template) in statements {
                let old = PolicyId::new(format!("policy{index}"));
                let (annotated, description) = if is_template {
                    let t = parsed.template(&old);
                    (
                        t.and_then(|t| t.annotation("id")).map(str::to_string),
                        t.and_then(|t| t.annotation("description"))
                            .map(str::to_string),
                    )
                } else {
                    let p = parsed.policy(&old);
                    (
                        p.and_then(|p| p.annotation("id")).map(str::to_string),
                        p.and_then(|p| p.annotation("description"))
                            .map(str::to_string),
                    )
                };
                let id = annotated
                    .clone()
                    .unwrap_or_else(|| format!("{}#{index}", file.path));
                if let Some(prev) = meta.get(&id) {
                    let message =
                        format!("duplicate policy id `{id}`: also used in `{}`", prev.file);
                    self.problems
                        .push(id_problem(&file, annotated.as_deref(), message));
                    ok = false;
                    continue;
                }
                let new_id = PolicyId::new(&id);
                // Ids were checked unique above, so adding cannot fail; keep the error anyway.
                let added = if is_template {
                    parsed
                        .template(&old)
                        .map(|t| set.add_template(t.new_id(new_id)).map_err(Box::new))
                } else {
                    parsed
                        .policy(&old)
                        .map(|p| set.add(p.new_id(new_id)).map_err(Box::new))
                };
                if let Some(Err(e)) = added {
                    self.problems
                        .push(Problem::from_cedar(None, e.as_ref()).with_file(&file));
                    ok = false;
                }
                meta.insert(
                    id.clone(),
                    PolicyMeta {
                        id,
                        file: file.path.clone(),
                        description,
                        template: None,
                        is_template,
                    },
                );
            }
        }
        if !ok {
            self.skipped
                .push("template links: the policies did not load".into());
            return (None, meta, sources);
        }
        for lp in link_paths {
            if lp.optional && !lp.path.exists() {
                continue;
            }
            let Some(file) = self.read(lp) else {
                ok = false;
                continue;
            };
            let docs = match serde_saphyr::from_str::<Vec<Spanned<LinkDoc>>>(&file.text) {
                Ok(d) => d,
                Err(e) => {
                    self.problems.push(Problem::from_yaml(&file, &e));
                    ok = false;
                    continue;
                }
            };
            let mut counts: HashMap<String, usize> = HashMap::new();
            for doc in docs {
                if !self.link(&mut set, &mut meta, &file, &doc.value, &mut counts) {
                    ok = false;
                }
            }
        }
        (ok.then_some(set), meta, sources)
    }

    fn link(
        &mut self,
        set: &mut PolicySet,
        meta: &mut BTreeMap<String, PolicyMeta>,
        file: &Arc<SourceFile>,
        doc: &LinkDoc,
        counts: &mut HashMap<String, usize>,
    ) -> bool {
        let template = &doc.template.value;
        let at = |s: &serde_saphyr::Location| crate::diag::span_of(file, s);
        if !meta.get(template).is_some_and(|m| m.is_template) {
            let templates = meta
                .values()
                .filter(|m| m.is_template)
                .map(|m| m.id.as_str());
            let mut p = Problem::at(
                file,
                at(&doc.template.referenced),
                format!("unknown template `{template}`"),
            );
            if let Some(s) = crate::suggest::closest(template, templates) {
                p = p.with_help(format!("did you mean `{s}`?"));
            }
            self.problems.push(p);
            return false;
        }
        let n = counts.entry(template.clone()).or_insert(0);
        let id = doc
            .id
            .as_ref()
            .map_or_else(|| format!("{template}#{n}"), |i| i.value.clone());
        *n += 1;
        let mut slots = HashMap::new();
        for (slot, value) in [
            (SlotId::principal(), &doc.principal),
            (SlotId::resource(), &doc.resource),
        ] {
            if let Some(v) = value {
                match parse_uid(&v.value) {
                    Ok(uid) => {
                        slots.insert(slot, uid);
                    }
                    Err(e) => {
                        self.problems.push(Problem::at(file, at(&v.referenced), e));
                        return false;
                    }
                }
            }
        }
        if let Some(prev) = meta.get(&id) {
            let span = doc
                .id
                .as_ref()
                .map_or(at(&doc.template.referenced), |i| at(&i.referenced));
            self.problems.push(Problem::at(
                file,
                span,
                format!("duplicate policy id `{id}`: also used in `{}`", prev.file),
            ));
            return false;
        }
        if let Err(e) = set.link(PolicyId::new(template), PolicyId::new(&id), slots) {
            self.problems.push(Problem::at(
                file,
                at(&doc.template.referenced),
                format!("failed to link template `{template}`: {e}"),
            ));
            return false;
        }
        let description = set
            .template_annotation(&PolicyId::new(template), "description")
            .map(str::to_string);
        meta.insert(
            id.clone(),
            PolicyMeta {
                id,
                file: file.path.clone(),
                description,
                template: Some(template.clone()),
                is_template: false,
            },
        );
        true
    }

    fn validate_policies(
        &mut self,
        schema: &Schema,
        policies: &PolicySet,
        meta: &BTreeMap<String, PolicyMeta>,
        sources: &Sources,
    ) {
        let result = Validator::new(schema.clone()).validate(policies, ValidationMode::Strict);
        for e in result.validation_errors() {
            let id = e.policy_id().to_string();
            // A link's errors are reported on its template's text.
            let file = meta.get(&id).and_then(|m| sources.get(&m.file));
            let mut p = Problem::from_cedar(file, e);
            if p.file.is_none() {
                p.message = format!("policy `{id}`: {}", p.message);
            }
            self.problems.push(p);
        }
    }

    fn load_entities(&mut self, files: &[PathBuf], schema: &Schema) -> Option<Entities> {
        let mut texts = Vec::new();
        let mut ok = true;
        for path in files {
            match self.read(&NamedPath::plain(path.clone())) {
                Some(file) => texts.push(file),
                None => ok = false,
            }
        }
        if ok {
            if let Some(entities) = quick_entities(&texts, schema) {
                return Some(entities);
            }
        }
        // Something is wrong (or a file is YAML): read again with positions, to say where.
        let mut entities = Vec::new();
        let mut seen: HashMap<EntityUid, String> = HashMap::new();
        for file in &texts {
            let docs = match serde_saphyr::from_str_with_options::<Option<Vec<EntityDoc>>>(
                &file.text,
                inventory_options(file.text.len()),
            ) {
                Ok(d) => d.unwrap_or_default(),
                Err(e) => {
                    self.problems.push(Problem::from_yaml(file, &e));
                    ok = false;
                    continue;
                }
            };
            for doc in docs {
                let entity = located_entity(file, doc, &mut seen);
                ok &= entity.is_ok();
                entities.push((file, entity));
            }
        }
        let mut whole = None;
        if ok {
            let all = entities.iter().flat_map(|(_, e)| e.as_ref().ok());
            let all = Value::Array(all.map(|(_, _, json)| json.clone()).collect());
            match Entities::from_json_value(all, Some(schema)) {
                Ok(e) => return Some(e),
                Err(e) => whole = Some(Problem::from_cedar(None, &e)),
            }
        }
        // Each entity on its own, so Cedar's complaint points at its uid.
        let before = self.problems.len();
        for (file, entity) in entities {
            match entity {
                Err(problem) => self.problems.push(*problem),
                Ok((at, uid, json)) => {
                    if let Err(e) =
                        Entities::from_json_value(Value::Array(vec![json]), Some(schema))
                    {
                        self.problems.push(Problem::at(
                            file,
                            at,
                            format!("invalid entity `{uid}`: {}", with_causes(&e)),
                        ));
                    }
                }
            }
        }
        // Cedar's message about the whole inventory stands only if no entity explains it.
        if self.problems.len() == before {
            self.problems.extend(whole);
        }
        None
    }
}

/// The inventory read the fast way: JSON files with serde_json, no positions kept. Any doubt (a
/// file that is not JSON, a uid that does not parse, a duplicate, Cedar rejecting the whole)
/// gives `None`, and the caller reads everything again with positions to report where.
fn quick_entities(files: &[Arc<SourceFile>], schema: &Schema) -> Option<Entities> {
    let mut all = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for file in files {
        let docs: Option<Vec<EntityDoc<Value>>> = serde_json::from_str(&file.text).ok()?;
        for doc in docs.unwrap_or_default() {
            let uid = parse_uid(&doc.uid).ok()?;
            let parents = doc.parents.iter().map(parse_uid);
            let parents = parents.collect::<Result<Vec<_>, _>>().ok()?;
            if !seen.insert(uid.clone()) {
                return None;
            }
            all.push(entity_json(&uid, doc.attrs, &parents, doc.tags));
        }
    }
    Entities::from_json_value(Value::Array(all), Some(schema)).ok()
}

/// One entity in Cedar's JSON form with the place of its uid, or the problem with it.
fn located_entity(
    file: &Arc<SourceFile>,
    doc: EntityDoc,
    seen: &mut HashMap<EntityUid, String>,
) -> Result<((usize, usize), EntityUid, Value), Box<Problem>> {
    let at = |s: &serde_saphyr::Location| crate::diag::span_of(file, s);
    let problem = |at, message| Box::new(Problem::at(file, at, message));
    let uid = parse_uid(&doc.uid.value).map_err(|e| problem(at(&doc.uid.referenced), e))?;
    let here = format!("{}:{}", file.path, doc.uid.referenced.line());
    if let Some(prev) = seen.insert(uid.clone(), here) {
        return Err(problem(
            at(&doc.uid.referenced),
            format!("duplicate entity `{uid}`: first defined at {prev}"),
        ));
    }
    let mut parents = Vec::new();
    for p in &doc.parents {
        parents.push(parse_uid(&p.value).map_err(|e| problem(at(&p.referenced), e))?);
    }
    let json = entity_json(&uid, doc.attrs, &parents, doc.tags);
    Ok((at(&doc.uid.referenced), uid, json))
}

/// An error and the errors under it, `: `-separated (Cedar's entity errors say what is wrong
/// only in their sources).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text = format!("{text}: {c}");
        cause = c.source();
    }
    text
}

/// Cedar's entity JSON.
fn entity_json(
    uid: &EntityUid,
    attrs: Map<String, Value>,
    parents: &[EntityUid],
    tags: Option<Map<String, Value>>,
) -> Value {
    let parents: Vec<Value> = parents.iter().map(uid_json).collect();
    let mut json = serde_json::json!({ "uid": uid_json(uid), "attrs": attrs, "parents": parents });
    if let (Some(tags), Some(obj)) = (tags, json.as_object_mut()) {
        obj.insert("tags".into(), Value::Object(tags));
    }
    json
}

impl NamedPath {
    pub fn plain(path: PathBuf) -> Self {
        Self {
            path,
            origin: None,
            optional: false,
        }
    }

    fn default_path(path: PathBuf) -> Self {
        Self {
            path,
            origin: None,
            optional: true,
        }
    }
}

/// Moves a problem without a place to the place a setting was written.
/// A profile's context as written, with the place of each value.
pub type ProfileDoc = Spanned<BTreeMap<String, Spanned<Value>>>;

/// Checks one profile. Profiles are complete contexts (DESIGN §6): each attribute must be
/// declared by some action and typed as declared, every attribute an impersonation action
/// requires must be set (reports evaluate hops under each profile), and the impersonation
/// attributes are left to actas.
pub fn check_profile(
    engine: &Engine,
    file: &Arc<SourceFile>,
    name: &str,
    doc: &ProfileDoc,
) -> (Map<String, Value>, Vec<Problem>) {
    let every_action = engine.schema_actions();
    let context: Map<String, Value> = doc
        .value
        .iter()
        .map(|(k, v)| (k.clone(), v.value.clone()))
        .collect();
    let mut problems = Vec::new();
    for key in [crate::engine::IMPERSONATOR, crate::engine::DELEGATION_CHAIN] {
        if let Some(v) = doc.value.get(key) {
            problems.push(Problem::at_location(
                file,
                &v.referenced,
                format!("profile `{name}` may not set `{key}`: actas fills it from the chain"),
            ));
        }
    }
    for issue in engine.check_context(&context, &every_action, &engine.actions) {
        let at = issue
            .attribute
            .as_ref()
            .and_then(|a| doc.value.get(a))
            .map_or(doc.referenced, |v| v.referenced);
        let mut p = Problem::at_location(file, &at, format!("profile `{name}`: {}", issue.message));
        p.help = issue.help;
        problems.push(p);
    }
    (context, problems)
}

/// A duplicate-id problem at the `@id("…")` annotation when the text has it.
fn id_problem(file: &Arc<SourceFile>, annotated: Option<&str>, message: String) -> Problem {
    let needle = annotated.map(|id| format!("@id(\"{id}\")"));
    match needle.and_then(|n| file.text.rfind(&n).map(|o| (o, n.len()))) {
        Some(span) => Problem::at(file, span, message),
        None => Problem::in_file(file, message),
    }
}

fn statement_index(id: &PolicyId) -> Option<usize> {
    id.to_string().strip_prefix("policy")?.parse().ok()
}

/// Files under `dir` whose name ends with `.<ext>` for one of `exts`, recursively, sorted.
fn walk(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
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

/// A path relative to the workspace with `/` separators, as shown everywhere (`../` where a
/// workspace names files outside its folder).
pub fn display_path(root: &Path, path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    let root = normalize(&cwd.join(root));
    let path = normalize(&cwd.join(path));
    let common = root
        .components()
        .zip(path.components())
        .take_while(|(a, b)| a == b)
        .count();
    let ups = root.components().count().saturating_sub(common);
    let parts: Vec<String> = std::iter::repeat_n("..".to_string(), ups)
        .chain(
            path.components()
                .skip(common)
                .map(|c| c.as_os_str().to_string_lossy().into_owned()),
        )
        .collect();
    parts.join("/")
}

/// Removes `.` and folds `..` lexically (no file system access, so missing paths work too).
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "is a folder".into(),
        _ => e.to_string(),
    }
}

/// Parser limits for an entity file. serde-saphyr's defaults (250,000 nodes) guard
/// configuration files against YAML bombs but stop a real inventory (12,500 entities are
/// about 300,000 nodes). A node or event costs at least one byte of input unless it comes from
/// an alias, and aliases keep their own default limits, so limits that grow with the input
/// admit any honest file without admitting an expansion bomb.
fn inventory_options(bytes: usize) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = budget.max_nodes.max(bytes);
    budget.max_events = budget.max_events.max(2 * bytes);
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
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
        assert_eq!(statement_index(&PolicyId::new("policy12")), Some(12));
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
        let ids: Vec<&String> = ws.policies.keys().collect();
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
        assert!(quick_entities(&[file], &from_yaml.engine.schema).is_some());
        assert!(from_yaml.engine.entities.iter().count() > 10);
    }

    #[test]
    fn display_paths_are_relative_to_the_workspace() {
        assert_eq!(
            display_path(Path::new("a/b"), Path::new("a/b/c/d.yaml")),
            "c/d.yaml"
        );
        assert_eq!(
            display_path(Path::new("a/b"), Path::new("a/b/../x/y.cedar")),
            "../x/y.cedar"
        );
    }
}
