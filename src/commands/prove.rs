//! `actas prove`: properties over every entity data and request the schema allows, proved or
//! refuted by Cedar's symbolic compiler and cvc5 (see [`crate::proof`]). Each refuted property
//! comes with a counterexample replayed through Cedar; `--counterexamples DIR` writes each as a
//! scenario file that `actas test` fails on until the policies are fixed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cedar_policy::PolicySet;
use serde_json::{json, Map, Value};

use crate::core::diag::{Problem, SourceFile};
use crate::proof::{self, Counterexample, Kind, Proof, Property, Reference, Solver};
use crate::workspace::scenario;
use crate::workspace::Workspace;

/// What to prove and how.
#[derive(Debug, Clone)]
pub struct ProveOptions {
    /// Property files or folders given on the command line (else the workspace's).
    pub files: Vec<PathBuf>,
    /// `--against REF`: also prove that the policies allow nothing REF does not.
    pub against: Vec<String>,
    /// Write each counterexample here.
    pub counterexamples: Option<PathBuf>,
    /// The time limit of one solver query.
    pub per_query: Duration,
}

/// A counterexample written to disk.
#[derive(Debug, Clone)]
pub struct Written {
    /// The property's name.
    pub property: String,
    /// Display paths of the files written.
    pub files: Vec<String>,
    /// `None` for a scenario file `actas test` runs; else why it is a Cedar request and
    /// entities instead.
    pub plain: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ProveResult {
    pub proofs: Vec<Proof>,
    /// The solver's own version line.
    pub solver: String,
    pub per_query: Duration,
    pub written: Vec<Written>,
    /// Where each policy that allows a counterexample is written (its head; a link's entry),
    /// by id, for formats that point at it.
    pub policy_places: std::collections::BTreeMap<String, Problem>,
}

impl ProveResult {
    pub fn all_proved(&self) -> bool {
        proof::all_proved(&self.proofs)
    }
}

pub fn run(root: &Path, ws: &Workspace, opts: &ProveOptions) -> Result<ProveResult, Vec<Problem>> {
    let mut properties: Vec<Property> = if opts.files.is_empty() && !opts.against.is_empty() {
        Vec::new()
    } else {
        ws.read_inputs(&opts.files, &ws.properties, "property", |engine, file| {
            proof::properties::load(engine, file, root)
        })?
    };
    properties.extend(
        opts.against
            .iter()
            .map(|a| proof::properties::against(Reference::parse(a, root))),
    );
    if properties.is_empty() {
        return Err(vec![Problem::new("no properties: nothing to prove").with_help(
            "write properties in `fixtures/properties/*.yaml` (or the files `properties:` of actas.yaml names), or give `--against DIR`",
        )]);
    }
    let references = load_references(root, &properties)?;
    let solver = Solver::find().map_err(|p| vec![*p])?;
    let proofs = proof::prove(
        &ws.engine,
        &properties,
        &references,
        &solver,
        opts.per_query,
    );
    let written = match &opts.counterexamples {
        Some(dir) => write_counterexamples(root, ws, dir, &proofs)?,
        None => Vec::new(),
    };
    let policy_places = places_of(ws, &proofs);
    Ok(ProveResult {
        proofs,
        solver: solver.version,
        per_query: opts.per_query,
        written,
        policy_places,
    })
}

/// The place of every policy that allows a counterexample: a static policy's head, a link's
/// entry in its links file (else its template's head).
fn places_of(ws: &Workspace, proofs: &[Proof]) -> std::collections::BTreeMap<String, Problem> {
    let places = ws.policy_places();
    let mut out = std::collections::BTreeMap::new();
    for id in proofs
        .iter()
        .flat_map(|p| &p.counterexamples)
        .filter(|c| c.allowed)
        .flat_map(|c| &c.determining)
    {
        let meta = ws.policies.get(id.as_str());
        let link = meta.and_then(|m| Some((ws.policy_files.get(&m.file)?, m.place?)));
        let place = match link {
            Some((file, span)) if meta.is_some_and(|m| m.template.is_some()) => {
                Some(Problem::at(file, span, ""))
            }
            _ => places
                .get(meta.and_then(|m| m.template.as_deref()).unwrap_or(id))
                .map(|p| Problem::at(&p.file, p.head, "")),
        };
        if let Some(place) = place {
            out.insert(id.clone(), place);
        }
    }
    out
}

/// Every reference the properties name, loaded once.
fn load_references(
    root: &Path,
    properties: &[Property],
) -> Result<Vec<(Reference, PolicySet)>, Vec<Problem>> {
    let mut out: Vec<(Reference, PolicySet)> = Vec::new();
    let mut problems = Vec::new();
    for p in properties {
        let (Kind::NoNewAccess { reference, .. } | Kind::Equivalent { reference, .. }) = &p.kind
        else {
            continue;
        };
        if out.iter().any(|(r, _)| r == reference) {
            continue;
        }
        let loaded = match reference {
            Reference::Path(path, written) if !path.exists() => {
                Err(vec![Problem::new(format!("`{written}` does not exist"))
                    .with_help(
                        "give a folder of policies, a workspace folder or `git:REV`",
                    )])
            }
            Reference::Path(path, _) => crate::workspace::load_policies_of(path),
            Reference::Git(rev) => at_revision(root, rev),
        };
        match loaded {
            Ok(set) => out.push((reference.clone(), set)),
            Err(mut p) => {
                for problem in &mut p {
                    problem.message = format!("in `{reference}`: {}", problem.message);
                }
                problems.extend(p);
            }
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The workspace's policies as they were at git revision `rev`: the repository's tree at
/// `rev` unpacked into a temporary folder (`git archive`), and the workspace folder in it
/// loaded as a workspace.
fn at_revision(root: &Path, rev: &str) -> Result<PolicySet, Vec<Problem>> {
    let fail = |why: String| {
        vec![Problem::new(format!("cannot read the policies at `git:{rev}`: {why}"))
            .with_help("`git:REV` takes any revision git knows in the workspace's repository, e.g. `git:HEAD~1` or `git:v1.4`")]
    };
    if rev.starts_with('-') || rev.is_empty() {
        return Err(fail("not a revision".into()));
    }
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .output()
            .map_err(|e| fail(format!("cannot run git: {e}")))
    };
    let prefix = git(&["rev-parse", "--show-prefix"])?;
    if !prefix.status.success() {
        return Err(fail(
            String::from_utf8_lossy(&prefix.stderr).trim().to_string(),
        ));
    }
    let prefix = String::from_utf8_lossy(&prefix.stdout).trim().to_string();
    let tar = git(&["archive", "--format=tar", rev, "--", "."])?;
    if !tar.status.success() {
        return Err(fail(
            String::from_utf8_lossy(&tar.stderr).trim().to_string(),
        ));
    }
    let dir = tempfile::tempdir().map_err(|e| fail(e.to_string()))?;
    // Removed by `dir`'s destructor on any return, and by the interrupt handler on a signal.
    let _pending = crate::core::files::Pending::new(dir.path());
    let mut untar = std::process::Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(dir.path())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run tar: {e}")))?;
    if let Some(mut stdin) = untar.stdin.take() {
        use std::io::Write;
        stdin
            .write_all(&tar.stdout)
            .map_err(|e| fail(e.to_string()))?;
    }
    let status = untar.wait().map_err(|e| fail(e.to_string()))?;
    if !status.success() {
        return Err(fail("tar could not unpack the revision".into()));
    }
    let folder = dir.path().join(prefix);
    let policies = if folder.join(crate::workspace::CONFIG_FILE).is_file() {
        folder.clone()
    } else {
        folder.join("policies")
    };
    crate::workspace::load_policies_of(&policies)
}

/// Writes one file (or two) per counterexample to `dir`: a scenario file when the case it
/// makes reproduces the violation through `actas test`, else Cedar's request and entities JSON.
fn write_counterexamples(
    root: &Path,
    ws: &Workspace,
    dir: &Path,
    proofs: &[Proof],
) -> Result<Vec<Written>, Vec<Problem>> {
    let target = root.join(dir);
    let fail = |why: String| {
        vec![Problem::new(format!(
            "cannot write counterexamples to `{}`: {why}",
            dir.display()
        ))]
    };
    std::fs::create_dir_all(&target).map_err(|e| fail(crate::core::files::io_reason(&e)))?;
    let mut written = Vec::new();
    let mut used: Vec<String> = Vec::new();
    for proof in proofs {
        for (i, cex) in proof.counterexamples.iter().enumerate() {
            let mut stem = slug(&proof.property.name);
            if i > 0 {
                stem = format!("{stem}-{}", i + 1);
            }
            while used.contains(&stem) {
                stem.push('_');
            }
            used.push(stem.clone());
            let mut files = Vec::new();
            let mut write = |name: String, text: String| {
                let path = target.join(&name);
                crate::core::files::write_output(&path, text.as_bytes())
                    .map_err(|e| fail(format!("{name}: {}", crate::core::files::io_reason(&e))))?;
                files.push(crate::core::files::display_path(root, &path));
                Ok::<(), Vec<Problem>>(())
            };
            let plain = match scenario_text(ws, &proof.property, cex, &format!("{stem}.yaml")) {
                Ok(text) => {
                    write(format!("{stem}.yaml"), text)?;
                    None
                }
                Err(why) => {
                    let (request, entities) = cedar_json(cex);
                    write(format!("{stem}.request.json"), request)?;
                    write(format!("{stem}.entities.json"), entities)?;
                    Some(why)
                }
            };
            written.push(Written {
                property: proof.property.name.clone(),
                files,
                plain,
            });
        }
    }
    Ok(written)
}

/// A file name (and SARIF rule id) from a property name: lowercase letters, digits and `-`.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').chars().take(60).collect::<String>();
    if out.is_empty() {
        "property".into()
    } else {
        out
    }
}

/// What a case must expect for the property to hold: deny, except for `equivalent`, where the
/// reference's decision is the one to match.
fn expected_allow(property: &Property, cex: &Counterexample) -> bool {
    match property.kind {
        Kind::Equivalent { .. } => cex.reference.as_ref().is_some_and(|(allow, _)| *allow),
        _ => false,
    }
}

/// The counterexample as a scenario file with its own `entities:`, checked by loading and
/// running it: the case must fail on today's policies. Why it cannot be one, otherwise.
fn scenario_text(
    ws: &Workspace,
    property: &Property,
    cex: &Counterexample,
    name: &str,
) -> Result<String, String> {
    let engine = &ws.engine;
    // Entities the inventory has are taken from the inventory; the rest are the file's own.
    let own: Vec<Value> = cex
        .entities
        .iter()
        .filter(|e| {
            crate::core::uid::parse_uid(e.get("uid").unwrap_or(&Value::Null))
                .is_ok_and(|uid| !engine.contains(&uid))
        })
        .map(readable_entity)
        .collect();
    for key in [crate::engine::IMPERSONATOR, crate::engine::DELEGATION_CHAIN] {
        if cex.context.get(key).is_some() {
            return Err(format!(
                "its context sets `{key}`, which actas fills itself from a chain"
            ));
        }
    }
    let expect = if expected_allow(property, cex) {
        "allow"
    } else {
        "deny"
    };
    let mut case = Map::new();
    case.insert(
        "name".into(),
        json!(format!("counterexample to: {}", property.name)),
    );
    case.insert("principal".into(), json!(cex.principal.to_string()));
    case.insert("action".into(), json!(cex.action.to_string()));
    case.insert("resource".into(), json!(cex.resource.to_string()));
    case.insert("context".into(), cex.context.clone());
    case.insert("expect".into(), json!(expect));
    let mut doc = Map::new();
    if !own.is_empty() {
        doc.insert("entities".into(), Value::Array(own));
    }
    doc.insert("cases".into(), Value::Array(vec![Value::Object(case)]));
    let body = serde_saphyr::to_string(&Value::Object(doc)).map_err(|e| e.to_string())?;
    let origin = match (&property.file, property.line) {
        (Some(f), line) if line > 0 => format!(" ({}:{line})", f.path),
        _ => String::new(),
    };
    let text = format!(
        "# Written by `actas prove`: a counterexample to the property \"{}\"{origin}.\n# The solver found this request and entity data (any data the schema allows); the\n# policies decide it otherwise than the property requires. `actas test` fails on this file\n# until the policies are fixed.\n{body}",
        one_line(&property.name),
    );
    // The case must load and fail as it stands, or it is no counterexample for `actas test`.
    let file: Arc<SourceFile> = SourceFile::new(name, text.clone());
    let cases = scenario::load(engine, &file).map_err(|p| {
        format!(
            "as a scenario it does not load: {}",
            p.first().map_or(String::new(), |p| p.message.clone())
        )
    })?;
    let run = crate::commands::test::run(engine, &cases, false);
    if run.failed() != 1 {
        return Err("as a scenario on the inventory it does not decide as the solver's model does (it needs entity data that differs from the inventory's)".into());
    }
    Ok(text)
}

/// An entity with its uid and parents as uid strings (`Bucket::"logs"`), as people write them.
fn readable_entity(e: &Value) -> Value {
    let uid_text = |v: &Value| {
        crate::core::uid::parse_uid(v).map_or_else(|_| v.clone(), |u| json!(u.to_string()))
    };
    let mut out = e.clone();
    if let Some(obj) = out.as_object_mut() {
        if let Some(uid) = obj.get_mut("uid") {
            *uid = uid_text(uid);
        }
        if let Some(Value::Array(parents)) = obj.get_mut("parents") {
            for p in parents.iter_mut() {
                *p = uid_text(p);
            }
        }
        if obj
            .get("parents")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
        {
            obj.remove("parents");
        }
        if obj
            .get("attrs")
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
        {
            obj.remove("attrs");
        }
    }
    out
}

fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Cedar's own request and entities JSON (the `cedar authorize` CLI's format).
fn cedar_json(cex: &Counterexample) -> (String, String) {
    let request = json!({
        "principal": crate::core::uid::uid_json(&cex.principal),
        "action": crate::core::uid::uid_json(&cex.action),
        "resource": crate::core::uid::uid_json(&cex.resource),
        "context": cex.context,
    });
    let entities = Value::Array(cex.entities.clone());
    (
        serde_json::to_string_pretty(&request).unwrap_or_default() + "\n",
        serde_json::to_string_pretty(&entities).unwrap_or_default() + "\n",
    )
}
