//! `actas init`: turns a folder that already holds a Cedar schema and policies into a workspace.
//!
//! It writes a commented `actas.yaml` (the impersonation actions the schema suggests, a `default`
//! profile with the context attributes they declare, the people types), example entities when the
//! inventory has none that fit, and one example scenario case. The case records today's decision,
//! checked by running it: `actas test` passes right after `init`, and the user edits `expect:` to
//! what should happen. Nothing that exists is overwritten: every file is created new.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use cedar_policy::{EntityTypeName, EntityUid};
use serde_json::{json, Map, Value};

use crate::core::diag::Problem;
use crate::core::schema::{Attribute, SchemaInfo};
use crate::engine::{DELEGATION_CHAIN, IMPERSONATOR};
use crate::workspace::{self, Overrides, Workspace, CONFIG_FILE};

/// What `init` wrote, for the summary.
#[derive(Debug, Default)]
pub struct InitResult {
    /// Each file written (relative to the workspace, `/`-separated) and what it holds.
    pub written: Vec<(String, String)>,
    /// The impersonation actions proposed (empty: none looked like one).
    pub actions: Vec<String>,
    /// Things the user should look at.
    pub notes: Vec<String>,
}

/// Where the existing inputs are.
struct Layout {
    /// As written in `actas.yaml`.
    policies: Vec<String>,
    schema: String,
    entities: Vec<String>,
}

const SCENARIO: &str = "fixtures/scenarios/example.yaml";
const DEFAULT_ENTITIES: &str = "fixtures/entities.yaml";

/// Writes the workspace files in `root` (see the module comment).
pub fn init(root: &Path) -> Result<InitResult, Vec<Problem>> {
    if root.join(CONFIG_FILE).exists() {
        return Err(vec![Problem::new(format!(
            "`{}` already exists: this folder is a workspace",
            root.join(CONFIG_FILE).display()
        ))
        .with_help(
            "edit it (docs/configuration.md lists every key), or remove it to start again",
        )]);
    }
    let layout = find_layout(root)?;
    let overrides = Overrides {
        policies: layout.policies.iter().map(PathBuf::from).collect(),
        schema: Some(PathBuf::from(&layout.schema)),
        entities: layout.entities.iter().map(PathBuf::from).collect(),
        ..Overrides::default()
    };
    let ws = load(root, &overrides)?;
    let mut result = InitResult::default();
    let info = &ws.engine.info;
    let actions = proposed_actions(info);
    result.actions = actions.iter().map(ToString::to_string).collect();

    // The example case, and the entities it needs that the inventory lacks.
    let humans = human_types(info, &actions);
    let mut stubs = Stubs::new(&ws);
    let example = example_case(info, &actions, &humans, &mut stubs);
    let profile = profile_values(info, &actions, &mut stubs);
    // Example entities go beside the inventory, never over it.
    let mut entities = layout.entities.clone();
    if !stubs.created.is_empty() {
        let file = if entities.is_empty() {
            DEFAULT_ENTITIES
        } else {
            "fixtures/example-entities.yaml"
        };
        let count = stubs.created.len();
        create(root, file, &stubs.yaml())?;
        result
            .written
            .push((file.into(), format!("{count} example entities")));
        entities.push(file.into());
    }
    let config = config_text(&layout, &entities, &humans, &actions, &profile);
    create(root, CONFIG_FILE, &config)?;
    let summary = if actions.is_empty() {
        "no impersonation actions (none in the schema looks like one: name them)".to_string()
    } else {
        format!(
            "impersonation actions {} (proposed from the schema: check them)",
            result.actions.join(", ")
        )
    };
    result.written.push((CONFIG_FILE.into(), summary));
    match example {
        Some(case) if !root.join(SCENARIO).exists() => {
            write_example(root, &case, &mut result)?;
        }
        Some(_) => result.notes.push(format!(
            "`{SCENARIO}` exists already; no example case written"
        )),
        None => result.notes.push(
            "no example case: no action of the schema has principal and resource types".into(),
        ),
    }
    Ok(result)
}

/// Loads the workspace as found; its problems stop `init` (they would stop every command).
fn load(root: &Path, overrides: &Overrides) -> Result<Workspace, Vec<Problem>> {
    workspace::load(root, overrides)
        .map_err(|e| vec![Problem::from_diagnostic(&e)])?
        .into_workspace()
}

/// The policies (`policies/`, else the `.cedar` files beside it), the one schema among them,
/// and entity files (`fixtures/entities.yaml` is the default; else `*entit*.json|yaml` files).
fn find_layout(root: &Path) -> Result<Layout, Vec<Problem>> {
    let mut schemas = Vec::new();
    let policies = if root.join("policies").is_dir() {
        find_files(root, &root.join("policies"), 8, &mut schemas, is_schema);
        vec!["policies/".to_string()]
    } else {
        let mut found = Vec::new();
        find_files(root, root, 0, &mut found, |n| n.ends_with(".cedar"));
        found
    };
    find_files(root, root, 0, &mut schemas, is_schema);
    schemas.sort();
    schemas.dedup();
    if policies.is_empty() {
        return Err(vec![Problem::new(format!(
            "no Cedar policies in `{}`: no `policies/` folder and no `.cedar` file",
            root.display()
        ))
        .with_help("run `actas init` in the folder that holds your policies")]);
    }
    let schema = match schemas.as_slice() {
        [one] => one.clone(),
        [] => {
            return Err(vec![Problem::new(
                "no Cedar schema: no `*.cedarschema` or `*.cedarschema.json` file in the folder or under `policies/`",
            )
            .with_help("actas needs a schema to know which actions impersonate; add one")])
        }
        many => {
            return Err(vec![Problem::new(format!(
                "{} schema files: {}; actas reads one",
                many.len(),
                many.iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .with_help("keep one, or write actas.yaml by hand with `schema:`")])
        }
    };
    let mut entities = Vec::new();
    if root.join(DEFAULT_ENTITIES).is_file() {
        entities.push(DEFAULT_ENTITIES.to_string());
    } else {
        find_files(root, root, 0, &mut entities, |n| {
            n.contains("entit")
                && [".json", ".yaml", ".yml"].iter().any(|e| n.ends_with(e))
                && !is_schema(n)
        });
    }
    Ok(Layout {
        policies,
        schema,
        entities,
    })
}

fn is_schema(name: &str) -> bool {
    name.ends_with(".cedarschema") || name.ends_with(".cedarschema.json")
}

/// Regular files under `dir` (down `depth` more levels, never through a symlink) whose name
/// passes `wanted`, as `/`-separated paths relative to `root`.
fn find_files(
    root: &Path,
    dir: &Path,
    depth: usize,
    found: &mut Vec<String>,
    wanted: fn(&str) -> bool,
) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_lowercase();
        if kind.is_dir() && depth > 0 && !name.starts_with('.') {
            find_files(root, &path, depth - 1, found, wanted);
        } else if kind.is_file() && wanted(&name) {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            let parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            found.push(parts.join("/"));
        }
    }
}

/// The schema's likely impersonation actions: the ones named so when there are any, else the
/// first whose resources are principals of another action (a guess the comment flags).
fn proposed_actions(info: &SchemaInfo) -> Vec<EntityUid> {
    let candidates = info.impersonation_candidates();
    let named: Vec<EntityUid> = candidates
        .iter()
        .filter(|a| crate::core::schema::looks_like_impersonation(a))
        .cloned()
        .collect();
    if named.is_empty() {
        candidates.into_iter().take(1).collect()
    } else {
        named
    }
}

/// The principal types of the impersonation actions that are never impersonated; of those, the
/// ones named like people when some are (an `Agent` or `Robot` is not a person).
fn human_types(info: &SchemaInfo, actions: &[EntityUid]) -> Vec<EntityTypeName> {
    let decls: Vec<_> = actions.iter().filter_map(|a| info.actions.get(a)).collect();
    let mut types: Vec<EntityTypeName> = decls
        .iter()
        .flat_map(|d| d.principals.iter())
        .filter(|t| !decls.iter().any(|d| d.resources.contains(t)))
        .cloned()
        .collect();
    types.sort_by_key(ToString::to_string);
    types.dedup();
    let person = |t: &EntityTypeName| {
        let name = t.basename().to_lowercase();
        [
            "user", "person", "people", "human", "employee", "member", "staff",
        ]
        .iter()
        .any(|w| name.contains(w))
    };
    if types.iter().any(person) {
        types.retain(person);
    }
    types
}

/// The `default` profile: the context values of the impersonation actions (see
/// [`Stubs::context`]); `None` for an attribute no value could be made up for.
fn profile_values(
    info: &SchemaInfo,
    actions: &[EntityUid],
    stubs: &mut Stubs,
) -> BTreeMap<String, Option<Value>> {
    let mut out = BTreeMap::new();
    for a in actions.iter().filter_map(|a| info.actions.get(a)) {
        for (name, value) in stubs.context(&a.context) {
            out.entry(name).or_insert(value);
        }
    }
    out
}

/// One example request: a hop by the first impersonation action, else a plain request of the
/// first action that has principal and resource types.
struct ExampleCase {
    principal: EntityUid,
    request: ExampleRequest,
    context: Map<String, Value>,
}

enum ExampleRequest {
    /// `impersonate: TARGET`.
    Hop(EntityUid),
    /// `action:` and `resource:`.
    Plain(EntityUid, EntityUid),
}

fn example_case(
    info: &SchemaInfo,
    actions: &[EntityUid],
    humans: &[EntityTypeName],
    stubs: &mut Stubs,
) -> Option<ExampleCase> {
    let hop = actions
        .first()
        .and_then(|a| info.actions.get(a).map(|i| (a, i)));
    let mut all: Vec<(&EntityUid, _)> = info.actions.iter().collect();
    all.sort_by_key(|(a, _)| a.to_string());
    let (action, decl) = hop.or_else(|| {
        all.into_iter()
            .find(|(_, i)| !i.principals.is_empty() && !i.resources.is_empty())
    })?;
    // A person is the likelier example principal.
    let mut principals = decl.principals.clone();
    principals.sort_by_key(|t| !humans.contains(t));
    let principal = stubs.entity_of(&principals, None)?;
    let other = stubs.entity_of(&decl.resources, Some(&principal))?;
    let context = stubs
        .context(&decl.context)
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .collect();
    let request = if hop.is_some() {
        ExampleRequest::Hop(other)
    } else {
        ExampleRequest::Plain(action.clone(), other)
    };
    Some(ExampleCase {
        principal,
        request,
        context,
    })
}

/// Inventory entities to use, and example entities made where the inventory has none.
struct Stubs<'a> {
    ws: &'a Workspace,
    /// Made so far, by uid text, as entity JSON.
    created: BTreeMap<String, Value>,
}

impl<'a> Stubs<'a> {
    fn new(ws: &'a Workspace) -> Self {
        Stubs {
            ws,
            created: BTreeMap::new(),
        }
    }

    /// An entity of one of `types` other than `not`: from the inventory, else made.
    fn entity_of(
        &mut self,
        types: &[EntityTypeName],
        not: Option<&EntityUid>,
    ) -> Option<EntityUid> {
        let found = self
            .ws
            .engine
            .inventory_of(types)
            .into_iter()
            .find(|u| Some(u) != not);
        if found.is_some() {
            return found;
        }
        let ty = types.first()?;
        let suffix = if not.is_some_and(|n| n.type_name() == ty) {
            "-2"
        } else {
            ""
        };
        self.make(ty, suffix)
    }

    /// An example entity of `ty`, with its required attributes; `None` when one cannot be
    /// given a value.
    fn make(&mut self, ty: &EntityTypeName, suffix: &str) -> Option<EntityUid> {
        let base = ty.basename().to_lowercase();
        let uid: EntityUid = format!("{ty}::\"example-{base}{suffix}\"").parse().ok()?;
        let key = uid.to_string();
        if self.created.contains_key(&key) {
            return Some(uid);
        }
        // Inserted first, so an attribute of its own type refers back to it.
        self.created.insert(key.clone(), Value::Null);
        let mut attrs = Map::new();
        let declared = self
            .ws
            .engine
            .info
            .entity_attributes
            .get(ty)
            .cloned()
            .unwrap_or_default();
        for (name, attr) in declared.iter().filter(|(_, a)| a.required) {
            attrs.insert(name.clone(), self.value(name, &attr.ty)?);
        }
        self.created
            .insert(key.clone(), json!({ "uid": key, "attrs": attrs }));
        Some(uid)
    }

    /// A request context's attributes with example values: the required ones, except those
    /// actas fills itself (`impersonator`, `delegation_chain`).
    fn context(&mut self, declared: &BTreeMap<String, Attribute>) -> Vec<(String, Option<Value>)> {
        declared
            .iter()
            .filter(|(name, a)| a.required && *name != IMPERSONATOR && *name != DELEGATION_CHAIN)
            .map(|(name, a)| (name.clone(), self.value(name, &a.ty)))
            .collect()
    }

    /// An example value of a schema type, chosen by the attribute's name where that helps.
    fn value(&mut self, name: &str, ty: &Value) -> Option<Value> {
        let name = name.to_lowercase();
        let says = |words: &[&str]| words.iter().any(|w| name.contains(w));
        let kind = ty.get("type").and_then(Value::as_str).unwrap_or("");
        Some(match kind {
            "Long" if says(&["minute", "duration", "ttl", "lifetime"]) => json!(15),
            "Long" => json!(0),
            "Boolean" | "Bool" => {
                json!(says(&["mfa", "verified", "approved", "active", "enabled"]))
            }
            "String" if says(&["justification", "reason", "ticket"]) => json!("CHG-1"),
            "String" => json!("example"),
            "Set" => json!([]),
            "Record" => {
                let fields = self.ws.engine.info.attributes("", Some(ty));
                let mut record = Map::new();
                for (k, a) in fields.iter().filter(|(_, a)| a.required) {
                    record.insert(k.clone(), self.value(k, &a.ty)?);
                }
                Value::Object(record)
            }
            "Entity" => {
                let ty: EntityTypeName = ty.get("name")?.as_str()?.parse().ok()?;
                let uid = self.entity_of(std::slice::from_ref(&ty), None)?;
                json!({ "__entity": { "type": uid.type_name().to_string(), "id": AsRef::<str>::as_ref(uid.id()) } })
            }
            "Extension" => {
                let (f, arg) = match ty.get("name")?.as_str()? {
                    "ipaddr" => ("ip", "10.0.0.1"),
                    "decimal" => ("decimal", "0.0"),
                    "datetime" => ("datetime", "2026-01-01"),
                    "duration" => ("duration", "15m"),
                    _ => return None,
                };
                json!({ "__extn": { "fn": f, "arg": arg } })
            }
            _ => return None,
        })
    }

    fn yaml(&self) -> String {
        let mut out = String::from(
            "# Example entities written by `actas init` for the example case: replace them with\n# your inventory (or an export of it).\n",
        );
        for entity in self.created.values() {
            out.push_str(&format!("- {entity}\n"));
        }
        out
    }
}

/// `actas.yaml`, commented.
fn config_text(
    layout: &Layout,
    entities: &[String],
    humans: &[EntityTypeName],
    actions: &[EntityUid],
    profile: &BTreeMap<String, Option<Value>>,
) -> String {
    let list = |items: &[String]| {
        items
            .iter()
            .map(|i| Value::from(i.as_str()).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = String::from(
        "# Written by `actas init`. Every key is optional; docs/configuration.md lists them all.\n",
    );
    out.push_str(&format!("policies: [{}]\n", list(&layout.policies)));
    out.push_str(&format!(
        "schema: {}\n",
        Value::from(layout.schema.as_str())
    ));
    if !entities.is_empty() {
        out.push_str(&format!("entities: [{}]\n", list(entities)));
    }
    out.push_str("scenarios: [\"fixtures/scenarios/\"]\n");
    out.push_str("impersonation:\n");
    out.push_str(
        "  # Actions by which one identity takes on another's (a token, a role, `--as`).\n",
    );
    let texts: Vec<String> = actions.iter().map(ToString::to_string).collect();
    if actions.is_empty() {
        out.push_str("  # No action of the schema looks like one; name them here to analyse impersonation.\n");
    } else {
        out.push_str("  # Proposed from the schema's action names and types: check them.\n");
    }
    out.push_str(&format!("  actions: [{}]\n", list(&texts)));
    out.push_str("  # Longest chain of hops followed (A impersonates B, B impersonates C: 2).\n");
    out.push_str("  max_chain: 3\n");
    let humans: Vec<String> = humans.iter().map(ToString::to_string).collect();
    out.push_str("  # Entity types that are people; reports list robots and agents apart.\n");
    out.push_str(&format!("  human_types: [{}]\n", list(&humans)));
    if !actions.is_empty() {
        out.push_str("# The situations reports and who-can evaluate, each a request context.\n");
        out.push_str(
            "# Add one per situation (incident, break_glass) with the values it carries.\n",
        );
        out.push_str("profiles:\n");
        let values: Map<String, Value> = profile
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
            .collect();
        out.push_str(&format!("  default: {}\n", Value::Object(values)));
        for (name, value) in profile {
            if value.is_none() {
                out.push_str(&format!(
                    "  # `{name}` needs a value actas could not make up\n"
                ));
            }
        }
    }
    out
}

/// The example scenario text with the given expectation.
fn scenario_text(case: &ExampleCase, expect: &str) -> String {
    let mut out = String::from(
        "# Written by `actas init`: today's decision for one request. Change `expect:` to what\n# should happen, and add a case for every rule your policies must keep.\ncases:\n",
    );
    let (what, lines) = match &case.request {
        ExampleRequest::Hop(target) => (
            format!("{} impersonates {}", case.principal, target),
            format!("    impersonate: {}\n", Value::from(target.to_string())),
        ),
        ExampleRequest::Plain(action, resource) => (
            format!(
                "{} {} {}",
                case.principal,
                action.id().unescaped(),
                resource
            ),
            format!(
                "    action: {}\n    resource: {}\n",
                Value::from(action.to_string()),
                Value::from(resource.to_string())
            ),
        ),
    };
    out.push_str(&format!(
        "  - name: {}\n    principal: {}\n{lines}",
        Value::from(format!("example: {what}")),
        Value::from(case.principal.to_string())
    ));
    if !case.context.is_empty() {
        out.push_str(&format!(
            "    context: {}\n",
            Value::Object(case.context.clone())
        ));
    }
    out.push_str(&format!("    expect: {expect}\n"));
    out
}

/// Writes the example case, expecting what Cedar decides today: it is run with `deny` and
/// rewritten with `allow` when that fails.
fn write_example(
    root: &Path,
    case: &ExampleCase,
    result: &mut InitResult,
) -> Result<(), Vec<Problem>> {
    create(root, SCENARIO, &scenario_text(case, "deny"))?;
    let decided = |root: &Path| -> Result<bool, Vec<Problem>> {
        let ws = load(root, &Overrides::default())?;
        let opts = crate::commands::test::TestOptions {
            files: vec![PathBuf::from(SCENARIO)],
            ..Default::default()
        };
        let cases = crate::commands::test::load_cases(&ws, &opts)?;
        Ok(crate::commands::test::run(&ws.engine, &cases, false).failed() == 0)
    };
    let mut expect = "deny";
    if !decided(root)? {
        expect = "allow";
        let path = root.join(SCENARIO);
        std::fs::write(&path, scenario_text(case, expect))
            .map_err(|e| vec![write_problem(&path, &e)])?;
        if !decided(root)? {
            result.notes.push(format!(
                "the example case in `{SCENARIO}` fails either way (see `actas test`)"
            ));
        }
    }
    result.written.push((
        SCENARIO.into(),
        format!("1 example case (Cedar decides {expect} today)"),
    ));
    Ok(())
}

/// Creates `relative` under `root` (and its folders); an existing file is never replaced.
fn create(root: &Path, relative: &str, text: &str) -> Result<(), Vec<Problem>> {
    let path = root.join(relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| vec![write_problem(parent, &e)])?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| vec![write_problem(&path, &e)])
}

fn write_problem(path: &Path, e: &std::io::Error) -> Problem {
    Problem::new(format!(
        "cannot write `{}`: {}",
        path.display(),
        crate::core::files::io_reason(e)
    ))
}
