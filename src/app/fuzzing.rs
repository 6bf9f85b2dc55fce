//! Entry points for fuzzing: one per input kind, each taking arbitrary bytes as that input of a
//! copy of a small workspace and running the commands that read it, output discarded. The
//! `cargo fuzz` targets in `fuzz/` call these, and `tests/fuzz_corpus.rs` replays every corpus
//! and regression input through them on the stable toolchain. A panic here is a bug; anything
//! else (a problem, a failed case) is the expected answer to a bad input.
//!
//! Not part of the command line: hidden from the documentation.

use std::path::{Path, PathBuf};

use crate::commands::test::{self, TestOptions};
use crate::commands::{check, drift, report, who_can};
use crate::report::{renderer, Format};
use crate::workspace::{self, Overrides};

/// The input kinds a fuzz target feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `actas.yaml`.
    Config,
    /// A scenario file.
    Scenarios,
    /// A task file.
    Tasks,
    /// The template links file.
    Links,
    /// The entity inventory as YAML.
    EntitiesYaml,
    /// The entity inventory as JSON.
    EntitiesJson,
    /// A policy file (the first half of the input) and the schema (the second half).
    PoliciesAndSchema,
    /// The drift baseline.
    Baseline,
    /// A usage log.
    UsageLog,
    /// A whole workspace: the input split at NUL bytes into actas.yaml, schema, policies,
    /// links, entities and scenarios.
    Workspace,
}

impl Target {
    pub const ALL: [Target; 10] = [
        Target::Config,
        Target::Scenarios,
        Target::Tasks,
        Target::Links,
        Target::EntitiesYaml,
        Target::EntitiesJson,
        Target::PoliciesAndSchema,
        Target::Baseline,
        Target::UsageLog,
        Target::Workspace,
    ];

    /// The name of its `cargo fuzz` target and corpus folder.
    pub fn name(self) -> &'static str {
        match self {
            Target::Config => "config",
            Target::Scenarios => "scenarios",
            Target::Tasks => "tasks",
            Target::Links => "links",
            Target::EntitiesYaml => "entities_yaml",
            Target::EntitiesJson => "entities_json",
            Target::PoliciesAndSchema => "policies_schema",
            Target::Baseline => "baseline",
            Target::UsageLog => "usage_log",
            Target::Workspace => "workspace",
        }
    }
}

/// The smallest workspace every target starts from: one schema, policy, link, entity file,
/// scenario, task, baseline and usage log.
const SCHEMA: &str = "entity Group in [Group];\nentity User in [Group] { level: Long };\nentity Account in [Group] { tier: Long };\naction impersonate appliesTo { principal: [User, Account], resource: [Account], context: { minutes: Long, impersonator?: User } };\naction read appliesTo { principal: [User, Account], resource: [Group], context: { minutes: Long } };\n";
const POLICIES: &str = "@id(\"admins\")\npermit (principal in Group::\"admins\", action == Action::\"impersonate\", resource) when { context.minutes <= 60 };\n@id(\"grant\")\npermit (principal is User, action == Action::\"impersonate\", resource is Account) when { principal.level > resource.tier };\n@id(\"tpl\")\npermit (principal == ?principal, action == Action::\"impersonate\", resource == ?resource);\n@id(\"deny\")\nforbid (principal, action == Action::\"read\", resource == Group::\"vault\") unless { context.minutes < 5 };\n";
const LINKS: &str =
    "- template: tpl\n  id: ann-a\n  principal: User::\"ann\"\n  resource: Account::\"a\"\n";
const ENTITIES: &str = "- { uid: Group::\"admins\" }\n- { uid: Group::\"vault\" }\n- { uid: User::\"ann\", attrs: { level: 1 }, parents: [Group::\"admins\"] }\n- { uid: User::\"bo\", attrs: { level: 3 } }\n- { uid: Account::\"a\", attrs: { tier: 2 }, parents: [Group::\"vault\"] }\n- { uid: Account::\"b\", attrs: { tier: 0 } }\n";
const CONFIG: &str = "impersonation:\n  actions: ['Action::\"impersonate\"']\n  max_chain: 2\nprofiles:\n  short: { minutes: 3 }\n  long: { minutes: 90 }\ndrift:\n  sensitive: ['Group::\"vault\"']\n";
const SCENARIO: &str = "defaults:\n  context: { minutes: 3 }\ncases:\n  - name: ann acts as a\n    principal: User::\"ann\"\n    impersonate: Account::\"a\"\n    expect: allow\n  - name: who can act as b\n    who_can_impersonate: Account::\"b\"\n    expect: [User::\"ann\", User::\"bo\"]\n";
const TASK: &str = "name: read the vault\nprincipal: User::\"ann\"\nimpersonate: Account::\"a\"\ncontext: { minutes: 3 }\nsteps:\n  - { action: Action::\"read\", resource: Group::\"vault\" }\n";
const USAGE: &str = "{\"time\": \"2026-10-01T00:00:00Z\", \"principal\": \"User::\\\"ann\\\"\", \"chain\": [\"Account::\\\"a\\\"\"], \"action\": \"Action::\\\"read\\\"\", \"resource\": \"Group::\\\"vault\\\"\"}\n";

/// Runs the commands that read `target`'s input, with `data` as that input. Returns normally
/// whatever the input; a panic is the bug a fuzzer looks for.
pub fn run(target: Target, data: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let root = dir.path();
    if write_workspace(root, target, data).is_err() {
        return;
    }
    exercise(root, target);
}

fn write_workspace(root: &Path, target: Target, data: &[u8]) -> std::io::Result<()> {
    let file = |p: &str| -> PathBuf { root.join(p) };
    std::fs::create_dir_all(file("policies"))?;
    std::fs::create_dir_all(file("fixtures/scenarios"))?;
    std::fs::create_dir_all(file("fixtures/tasks"))?;
    let mut files = vec![
        ("actas.yaml", CONFIG.as_bytes().to_vec()),
        ("policies/schema.cedarschema", SCHEMA.as_bytes().to_vec()),
        ("policies/policies.cedar", POLICIES.as_bytes().to_vec()),
        ("policies/bindings.yaml", LINKS.as_bytes().to_vec()),
        ("fixtures/entities.yaml", ENTITIES.as_bytes().to_vec()),
        (
            "fixtures/scenarios/cases.yaml",
            SCENARIO.as_bytes().to_vec(),
        ),
        ("fixtures/tasks/task.yaml", TASK.as_bytes().to_vec()),
        ("usage.jsonl", USAGE.as_bytes().to_vec()),
    ];
    let mut put = |name: &'static str, bytes: &[u8]| {
        files.retain(|(n, _)| *n != name);
        files.push((name, bytes.to_vec()));
    };
    match target {
        Target::Config => put("actas.yaml", data),
        Target::Scenarios => put("fixtures/scenarios/cases.yaml", data),
        Target::Tasks => put("fixtures/tasks/task.yaml", data),
        Target::Links => put("policies/bindings.yaml", data),
        Target::EntitiesYaml => put("fixtures/entities.yaml", data),
        Target::EntitiesJson => {
            put("fixtures/entities.yaml", b"");
            put("fixtures/entities.json", data);
        }
        Target::PoliciesAndSchema => {
            let half = data.len() / 2;
            put("policies/policies.cedar", &data[..half]);
            put("policies/schema.cedarschema", &data[half..]);
        }
        Target::Baseline => put("actas.baseline.json", data),
        Target::UsageLog => put("usage.jsonl", data),
        Target::Workspace => {
            let names = [
                "actas.yaml",
                "policies/schema.cedarschema",
                "policies/policies.cedar",
                "policies/bindings.yaml",
                "fixtures/entities.yaml",
                "fixtures/scenarios/cases.yaml",
            ];
            for (name, part) in names.into_iter().zip(data.split(|&b| b == 0)) {
                put(name, part);
            }
        }
    }
    for (name, bytes) in files {
        std::fs::write(root.join(name), bytes)?;
    }
    // The JSON inventory replaces the YAML one.
    if target == Target::EntitiesJson {
        std::fs::remove_file(root.join("fixtures/entities.yaml"))?;
        let config = CONFIG.replace(
            "impersonation:",
            "entities: [fixtures/entities.json]\nimpersonation:",
        );
        std::fs::write(root.join("actas.yaml"), config)?;
    }
    Ok(())
}

/// Every command that reads the inputs, each rendered in every format it has.
fn exercise(root: &Path, target: Target) {
    let overrides = Overrides::default();
    let Ok(loaded) = workspace::load(root, &overrides) else {
        return;
    };
    let (result, ws) = check::of_loaded(loaded, &TestOptions::default(), false);
    for format in [Format::Human, Format::Json, Format::Sarif, Format::Github] {
        let _ = renderer(format, false).check(&result);
    }
    let Some(ws) = ws else {
        return;
    };
    if let Ok(cases) = test::load_cases(&ws, &TestOptions::default()) {
        let run = test::run(&ws.engine, &cases, false);
        for format in [Format::Human, Format::Json, Format::Junit] {
            let _ = renderer(format, false).test(&run);
        }
    }
    if let Ok(r) = report::run(&ws, &who_can::ProfileOptions::default()) {
        for format in [
            Format::Human,
            Format::Json,
            Format::Markdown,
            Format::Csv,
            Format::Html,
        ] {
            let _ = renderer(format, false).write_report(&r, &mut std::io::sink());
        }
    }
    if matches!(
        target,
        Target::Baseline | Target::UsageLog | Target::Workspace
    ) {
        let opts = drift::DriftOptions {
            baseline: None,
            accept: false,
            usage: (target == Target::UsageLog).then(|| PathBuf::from("usage.jsonl")),
            since: None,
            lenient: target == Target::UsageLog,
        };
        if let Ok(r) = drift::drift(&ws, &opts) {
            let _ = renderer(Format::Human, false).drift(&r);
            let _ = renderer(Format::Markdown, false).drift(&r);
        }
    }
    if target == Target::Tasks {
        let opts = crate::commands::suffice::SufficeOptions::default();
        if let Ok(r) = crate::commands::suffice::run(root, &overrides, &ws, &opts) {
            let _ = renderer(Format::Human, false).suffice(&r);
        }
    }
}

/// A valid input of each kind, the workspace's own (a fuzzer's starting point): the files every
/// target starts from, and for the baseline, one recorded from them.
pub fn seeds() -> Vec<(Target, Vec<u8>)> {
    let pad = |a: &str, b: &str| {
        let width = a.len().max(b.len());
        format!("{a:width$}{b:width$}")
    };
    let mut seeds = vec![
        (Target::Config, CONFIG.into()),
        (Target::Scenarios, SCENARIO.into()),
        (Target::Tasks, TASK.into()),
        (Target::Links, LINKS.into()),
        (Target::EntitiesYaml, ENTITIES.into()),
        (
            Target::PoliciesAndSchema,
            pad(POLICIES, SCHEMA).into_bytes(),
        ),
        (Target::UsageLog, USAGE.into()),
        (
            Target::Workspace,
            [CONFIG, SCHEMA, POLICIES, LINKS, ENTITIES, SCENARIO]
                .join("\0")
                .into_bytes(),
        ),
    ];
    let json: Option<Vec<u8>> = serde_saphyr::from_str::<serde_json::Value>(ENTITIES)
        .ok()
        .and_then(|v| serde_json::to_vec_pretty(&v).ok());
    seeds.extend(json.map(|j| (Target::EntitiesJson, j)));
    if let Some(b) = recorded_baseline() {
        seeds.push((Target::Baseline, b));
    }
    seeds
}

fn recorded_baseline() -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().ok()?;
    write_workspace(dir.path(), Target::Config, CONFIG.as_bytes()).ok()?;
    let loaded = workspace::load(dir.path(), &Overrides::default()).ok()?;
    let ws = loaded.workspace?;
    drift::snapshot(&ws, None).ok()?;
    std::fs::read(dir.path().join("actas.baseline.json")).ok()
}
