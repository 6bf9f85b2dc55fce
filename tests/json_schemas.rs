//! The JSON Schemas of docs/schemas/: generated from the types that write each document (they
//! must match the committed files; `ACTAS_UPDATE_SCHEMAS=1 cargo test --test json_schemas`
//! rewrites them), and real outputs of every JSON-writing command validate against them.

use crate::support;

use serde_json::Value;
use support::{output, root};

fn schema(name: &str) -> Value {
    let path = root().join("docs/schemas").join(name);
    serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}")),
    )
    .unwrap()
}

fn assert_valid(name: &str, doc: &Value, what: &str) {
    let validator = jsonschema::validator_for(&schema(name)).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what} against {name}: {errors:#?}");
}

fn json_of(args: &[&str]) -> Value {
    let (code, stdout, stderr) = output(args);
    assert!(code == 0 || code == 1, "{args:?}: exit {code}: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
}

#[test]
fn committed_schemas_are_the_generated_ones() {
    let update = std::env::var("ACTAS_UPDATE_SCHEMAS").is_ok_and(|v| v == "1");
    let dir = root().join("docs/schemas");
    let generated = actas::report::json::schemas();
    for (name, schema) in &generated {
        let text = serde_json::to_string_pretty(schema).unwrap() + "\n";
        let path = dir.join(name);
        if update {
            std::fs::write(&path, &text).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == text,
            "{name} is not the generated schema: run ACTAS_UPDATE_SCHEMAS=1 cargo test --test json_schemas"
        );
    }
    let files = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(files, generated.len(), "a schema file no document has");
}

#[test]
fn every_json_output_validates_against_its_schema() {
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("check.schema.json", vec!["check", "--format", "json"]),
        (
            "check.schema.json",
            vec![
                "-C",
                "tests/fixtures/lint/escalating-chain/triggers",
                "check",
                "--format",
                "json",
            ],
        ),
        ("test.schema.json", vec!["test", "--format", "json"]),
        (
            "coverage.schema.json",
            vec![
                "test",
                "--coverage",
                "--coverage-format",
                "json",
                "--format",
                "json",
                "--coverage-output",
                "-",
            ],
        ),
        (
            "who-can.schema.json",
            vec![
                "who-can",
                "ServiceAccount::\"prod-deployer\"",
                "--format",
                "json",
            ],
        ),
        ("report.schema.json", vec!["report", "--format", "json"]),
        (
            "can.schema.json",
            vec!["can", "erin", "billing-admin", "--format", "json"],
        ),
        (
            "can.schema.json",
            vec![
                "can",
                "dave",
                "ci-runner",
                "--action",
                "Action::\"push\"",
                "--resource",
                "Bucket::\"artifacts\"",
                "--format",
                "json",
            ],
        ),
        ("suffice.schema.json", vec!["suffice", "--format", "json"]),
        (
            "drift.schema.json",
            vec![
                "-C",
                "tests/fixtures/drifted",
                "drift",
                "--baseline",
                "../../../actas.baseline.json",
                "--format",
                "json",
            ],
        ),
        (
            "drift.schema.json",
            vec![
                "drift",
                "--usage",
                "fixtures/usage.jsonl",
                "--format",
                "json",
            ],
        ),
    ];
    for (name, args) in &cases {
        if args.contains(&"--coverage-output") {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("coverage.json");
            let mut args: Vec<&str> = args.clone();
            let last = args.len() - 1;
            let path = file.to_str().unwrap().to_string();
            args[last] = &path;
            let (code, _, stderr) = output(&args);
            assert_eq!(code, 0, "{stderr}");
            let doc: Value =
                serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            assert_valid(name, &doc, &format!("{args:?}"));
            continue;
        }
        assert_valid(name, &json_of(args), &format!("{args:?}"));
    }
    let baseline: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("actas.baseline.json")).unwrap())
            .unwrap();
    assert_valid("baseline.schema.json", &baseline, "actas.baseline.json");
}

/// The schemas are strict: a field the document does not have, or one missing, is refused.
#[test]
fn the_schemas_refuse_what_the_documents_never_hold() {
    let mut doc = json_of(&["check", "--format", "json"]);
    let validator = jsonschema::validator_for(&schema("check.schema.json")).unwrap();
    assert!(validator.is_valid(&doc));
    doc["findings"][0]["colour"] = Value::from("red");
    assert!(!validator.is_valid(&doc), "an unknown field");
    let mut doc = json_of(&["check", "--format", "json"]);
    doc["summary"].as_object_mut().unwrap().remove("errors");
    assert!(!validator.is_valid(&doc), "a missing field");
}
