//! `actas prove` end to end: the bundled example's properties in every format, counterexamples
//! that `actas test` reproduces and that pass once the policies are fixed, references (folders,
//! workspaces, git revisions), the solver missing or giving no answer, and every bad input.

use crate::support;

use std::path::Path;

use support::{actas_proving, example_copy, solver};

fn run(cmd: &mut std::process::Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn prove_in(dir: &Path, args: &[&str]) -> Option<(i32, String, String)> {
    let solver = solver()?;
    let mut all = vec!["-C", dir.to_str().unwrap(), "prove"];
    all.extend_from_slice(args);
    Some(run(&mut actas_proving(&solver, &all)))
}

/// Temporary folders shown as `<tmp>` in snapshots.
fn redact(text: &str, dir: &Path) -> String {
    text.replace(&dir.display().to_string(), "<tmp>")
}

#[test]
fn the_example_proves_six_properties_and_refutes_the_billing_admin() {
    let Some(solver) = solver() else { return };
    let (code, stdout, stderr) = run(&mut actas_proving(&solver, &["prove"]));
    assert_eq!(code, 1, "{stderr}");
    insta::assert_snapshot!(stdout);
}

#[test]
fn every_format_of_the_example() {
    let Some(solver) = solver() else { return };
    for format in ["json", "sarif", "junit"] {
        let (code, stdout, stderr) =
            run(&mut actas_proving(&solver, &["prove", "--format", format]));
        assert_eq!(code, 1, "{format}: {stderr}");
        insta::assert_snapshot!(format!("prove_{format}"), stdout);
    }
}

#[test]
fn json_matches_its_schema() {
    let Some(solver) = solver() else { return };
    let (_, stdout, _) = run(&mut actas_proving(&solver, &["prove", "--format", "json"]));
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(support::root().join("docs/schemas/prove.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(doc["summary"]["proved"], 6);
    assert_eq!(doc["summary"]["refuted"], 1);
}

/// The counterexample written as a scenario fails `actas test` on today's policies and passes
/// once the billing admin's open `action` is narrowed to reads; the property is then proved.
#[test]
fn a_written_counterexample_fails_until_the_policy_is_fixed() {
    let dir = example_copy();
    let out = dir.path().join("cex");
    let Some((code, stdout, stderr)) =
        prove_in(dir.path(), &["--counterexamples", out.to_str().unwrap()])
    else {
        return;
    };
    assert_eq!(code, 1, "{stderr}");
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // The deploy counterexample sets `impersonator` (which actas fills itself): Cedar JSON.
    assert_eq!(
        names,
        [
            "the-billing-admin-only-reads-2.yaml",
            "the-billing-admin-only-reads-3.yaml",
            "the-billing-admin-only-reads.entities.json",
            "the-billing-admin-only-reads.request.json"
        ]
    );
    assert!(
        stdout.contains("as Cedar request and entities JSON: its context sets `impersonator`"),
        "{stdout}"
    );
    let scenario = out.join("the-billing-admin-only-reads-2.yaml");
    insta::assert_snapshot!(std::fs::read_to_string(&scenario).unwrap());
    let solver = solver().unwrap();
    let test = |dir: &Path| {
        run(&mut actas_proving(
            &solver,
            &["-C", dir.to_str().unwrap(), "test", out.to_str().unwrap()],
        ))
    };
    let (code, stdout, _) = test(dir.path());
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("0 passed, 2 failed"), "{stdout}");
    assert!(stdout.contains("expected deny, got allow"), "{stdout}");

    let policies = dir.path().join("policies/acting-as.cedar");
    let text = std::fs::read_to_string(&policies).unwrap().replace(
        "permit (principal == ServiceAccount::\"billing-admin\", action, resource in Project::\"prod\");",
        "permit (principal == ServiceAccount::\"billing-admin\", action == Action::\"read\", resource in Project::\"prod\");",
    );
    std::fs::write(&policies, text).unwrap();
    let (code, stdout, _) = test(dir.path());
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
    let (code, stdout, stderr) = prove_in(dir.path(), &[]).unwrap();
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("7 proved, 0 refuted, 0 unknown"),
        "{stdout}"
    );
}

/// The Cedar JSON form of a counterexample is what Cedar itself allows.
#[test]
fn a_cedar_json_counterexample_is_allowed_by_cedar() {
    let dir = example_copy();
    let out = dir.path().join("cex");
    let Some((code, ..)) = prove_in(dir.path(), &["--counterexamples", out.to_str().unwrap()])
    else {
        return;
    };
    assert_eq!(code, 1);
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();
    let schema = cedar_policy::Schema::from_cedarschema_str(
        &std::fs::read_to_string(dir.path().join("policies/schema.cedarschema")).unwrap(),
    )
    .unwrap()
    .0;
    let entities = cedar_policy::Entities::from_json_str(
        &read("the-billing-admin-only-reads.entities.json"),
        Some(&schema),
    )
    .unwrap();
    let request: serde_json::Value =
        serde_json::from_str(&read("the-billing-admin-only-reads.request.json")).unwrap();
    let uid = |v: &serde_json::Value| cedar_policy::EntityUid::from_json(v.clone()).unwrap();
    let action = uid(&request["action"]);
    let context = cedar_policy::Context::from_json_value(
        request["context"].clone(),
        Some((&schema, &action)),
    )
    .unwrap();
    let request = cedar_policy::Request::new(
        uid(&request["principal"]),
        action,
        uid(&request["resource"]),
        context,
        Some(&schema),
    )
    .unwrap();
    let policies: cedar_policy::PolicySet =
        std::fs::read_to_string(dir.path().join("policies/acting-as.cedar"))
            .unwrap()
            .parse()
            .unwrap();
    let answer = cedar_policy::Authorizer::new().is_authorized(&request, &policies, &entities);
    assert_eq!(answer.decision(), cedar_policy::Decision::Allow);
}

#[test]
fn no_new_access_against_a_folder_a_workspace_and_a_git_revision() {
    let dir = example_copy();
    let Some(_) = solver() else { return };
    // A copy of today's policies: nothing new.
    let before = dir.path().join("before");
    support::copy(&dir.path().join("policies"), &before);
    std::fs::remove_file(before.join("bindings.yaml")).unwrap();
    // The whole workspace as it is: nothing new either (its links come along).
    let same = tempfile::tempdir().unwrap();
    for entry in ["actas.yaml", "policies", "fixtures"] {
        support::copy(&dir.path().join(entry), &same.path().join(entry));
    }
    let (code, stdout, stderr) = prove_in(
        dir.path(),
        &[
            "--properties",
            "fixtures/properties/impersonation.yaml",
            "--against",
            same.path().to_str().unwrap(),
        ],
    )
    .unwrap();
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("proved  nothing new against"), "{stdout}");

    // A candidate policy makes new access: refuted, with the request only it allows.
    std::fs::copy(
        support::root().join("fixtures/candidates/log-reader-reads-staging.cedar"),
        dir.path().join("policies/candidate.cedar"),
    )
    .unwrap();
    let (code, stdout, stderr) = prove_in(
        dir.path(),
        &[
            "--properties",
            "fixtures/properties/impersonation.yaml",
            "--against",
            same.path().to_str().unwrap(),
            "--format",
            "json",
        ],
    )
    .unwrap();
    assert_eq!(code, 1, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let new = doc["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == "no_new_access")
        .unwrap();
    assert_eq!(new["outcome"], "refuted");
    let cex = &new["counterexamples"][0];
    assert_eq!(cex["principal"], "ServiceAccount::\"log-reader\"");
    assert_eq!(cex["reference_decision"], "deny");

    // git:HEAD in a repository where the candidate is not committed: the same finding.
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-C"])
            .arg(dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
    };
    git(&["init", "-q"]);
    git(&[
        "add",
        "actas.yaml",
        "fixtures",
        "policies/schema.cedarschema",
        "policies/impersonation.cedar",
        "policies/acting-as.cedar",
        "policies/bindings.yaml",
    ]);
    git(&["commit", "-qm", "release"]);
    let solver = solver().unwrap();
    let (code, stdout, stderr) = run(actas_proving(
        &solver,
        &[
            "-C",
            dir.path().to_str().unwrap(),
            "prove",
            "--properties",
            "fixtures/properties/impersonation.yaml",
            "--against",
            "git:HEAD",
        ],
    )
    .env_remove("GIT_DIR")
    .env("PATH", std::env::var_os("PATH").unwrap()));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("REFUTED nothing new against git:HEAD"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ServiceAccount::\"log-reader\""),
        "{stdout}"
    );
}

#[test]
fn equivalence_with_itself_holds_and_without_a_forbid_does_not() {
    let dir = example_copy();
    let props = dir.path().join("fixtures/properties/refactor.yaml");
    let without = dir.path().join("without-forbid");
    std::fs::create_dir_all(&without).unwrap();
    let text = std::fs::read_to_string(dir.path().join("policies/impersonation.cedar")).unwrap();
    let cut = text.find("@id(\"no-long-tokens\")").unwrap();
    std::fs::write(without.join("impersonation.cedar"), &text[..cut]).unwrap();
    std::fs::write(
        &props,
        "properties:\n  - name: the same as itself\n    equivalent: { to: ../../policies, action: Action::\"getAccessToken\" }\n  - name: the forbid changes nothing\n    equivalent: { to: ../../without-forbid, action: Action::\"getAccessToken\" }\n",
    )
    .unwrap();
    // The workspace's own policies without their links, to compare like with like.
    std::fs::write(dir.path().join("policies/bindings.yaml"), "[]\n").unwrap();
    let Some((code, stdout, stderr)) =
        prove_in(dir.path(), &["--properties", props.to_str().unwrap()])
    else {
        return;
    };
    assert_eq!(code, 1, "{stderr}");
    let stdout = redact(&stdout, dir.path());
    assert!(
        stdout.contains("proved  the same as itself (equivalent)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("REFUTED the forbid changes nothing (equivalent)"),
        "{stdout}"
    );
    assert!(stdout.contains("the reference: allowed by"), "{stdout}");
    assert!(stdout.contains("against ../../without-forbid"), "{stdout}");
}

/// A solver that never answers: every property is "unknown", never a pass.
#[test]
fn a_solver_without_an_answer_is_unknown_not_proved() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("cvc5");
    std::fs::write(
        &fake,
        "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'This is cvc5 version 0.0.0-never-answers'; exit 0; fi\nwhile read -r line; do case \"$line\" in *check-sat*) echo unknown;; esac; done\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, stdout, stderr) = run(&mut actas_proving(&fake, &["prove", "--timeout", "2"]));
    assert_eq!(code, 1, "{stderr}");
    insta::assert_snapshot!(stdout);
}

#[test]
fn without_a_solver_prove_exits_2_with_the_install_line_and_other_commands_run() {
    let (code, stdout, stderr) = support::output(&["prove"]);
    assert_eq!(code, 2, "{stdout}");
    assert!(stdout.is_empty());
    insta::assert_snapshot!(stderr);
    let (code, _, _) = support::output(&["check"]);
    assert_eq!(code, 0);
}

/// Each bad property is reported at its place, all of them at once, exit 2.
#[test]
fn bad_properties_are_reported_where_they_are_written() {
    let dir = example_copy();
    std::fs::write(
        dir.path().join("fixtures/properties/bad.yaml"),
        r#"properties:
  - name: a typo in a condition
    never: { when: context.duration_minuts > 60 }
  - name: not Cedar
    never: { when: "context.mfa &&" }
  - name: an action that is not there
    never: { action: Action::"impersonate" }
  - name: two kinds
    never: {}
    envelope: { require: context.mfa }
  - name: an envelope without its condition
    envelope: { action: Action::"getAccessToken" }
  - name: a type that is not there
    never: { principal: { is: Robot } }
  - name: a reference that is not there
    no_new_access: { against: ../nowhere }
  - name: a typo in a condition
    never: {}
"#,
    )
    .unwrap();
    let Some(solver) = solver() else { return };
    let (code, stdout, stderr) = run(&mut actas_proving(
        &solver,
        &[
            "-C",
            dir.path().to_str().unwrap(),
            "prove",
            "--properties",
            "fixtures/properties/bad.yaml",
        ],
    ));
    assert_eq!(code, 2, "{stdout}");
    assert!(stdout.is_empty());
    insta::assert_snapshot!(redact(&stderr, dir.path()));
    // A field the format does not have stops the file's reading, at the field.
    std::fs::write(
        dir.path().join("fixtures/properties/bad.yaml"),
        "properties:\n  - name: unknown field\n    never: { whenever: true }\n",
    )
    .unwrap();
    let (code, _, stderr) = run(&mut actas_proving(
        &solver,
        &[
            "-C",
            dir.path().to_str().unwrap(),
            "prove",
            "--properties",
            "fixtures/properties/bad.yaml",
        ],
    ));
    assert_eq!(code, 2);
    insta::assert_snapshot!("bad_property_field", stderr);
}

#[test]
fn a_bad_timeout_is_refused() {
    let (code, _, stderr) = support::output(&["prove", "--timeout", "NaN"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("`NaN` is not a number of seconds"),
        "{stderr}"
    );
    let (code, _, _) = support::output(&["prove", "--timeout", "0"]);
    assert_eq!(code, 2);
}

#[test]
fn counterexamples_into_a_file_is_bad_input() {
    let dir = example_copy();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "keep me").unwrap();
    let Some((code, _, stderr)) =
        prove_in(dir.path(), &["--counterexamples", file.to_str().unwrap()])
    else {
        return;
    };
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot write counterexamples"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
}

/// A scenario file's own `entities:` are added to the inventory for its cases only; one the
/// inventory already has, or one that breaks the schema, is bad input at its place.
#[test]
fn scenario_entities_add_to_the_inventory_and_never_replace_it() {
    let dir = example_copy();
    let file = dir.path().join("own.yaml");
    std::fs::write(
        &file,
        "entities:\n  - uid: Bucket::\"scratch\"\n    parents: [Project::\"prod\"]\ncases:\n  - name: the billing admin may push to a new prod bucket\n    principal: ServiceAccount::\"billing-admin\"\n    action: Action::\"push\"\n    resource: Bucket::\"scratch\"\n    context: { duration_minutes: 5, mfa: true, justification: CHG-1 }\n    expect: allow\n",
    )
    .unwrap();
    let (code, stdout, _) = run(&mut support::actas(&[
        "-C",
        dir.path().to_str().unwrap(),
        "test",
        file.to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{stdout}");
    // The other files do not see the bucket.
    let other = dir.path().join("other.yaml");
    std::fs::write(
        &other,
        "cases:\n  - name: no such bucket here\n    principal: ServiceAccount::\"billing-admin\"\n    action: Action::\"push\"\n    resource: Bucket::\"scratch\"\n    expect: allow\n",
    )
    .unwrap();
    let (code, _, stderr) = run(&mut support::actas(&[
        "-C",
        dir.path().to_str().unwrap(),
        "test",
        file.to_str().unwrap(),
        other.to_str().unwrap(),
    ]));
    assert_eq!(code, 2);
    assert!(stderr.contains("Bucket::\"scratch\""), "{stderr}");

    for (name, entities) in [
        (
            "conflict",
            "  - uid: ServiceAccount::\"billing-admin\"\n    attrs: { privileged: true }\n",
        ),
        (
            "wrong-type",
            "  - uid: Bucket::\"scratch\"\n    attrs: { size: 3 }\n",
        ),
    ] {
        let bad = dir.path().join(format!("{name}.yaml"));
        std::fs::write(
            &bad,
            format!("entities:\n{entities}cases:\n  - name: x\n    principal: User::\"alice\"\n    impersonate: ServiceAccount::\"log-reader\"\n    expect: deny\n"),
        )
        .unwrap();
        let (code, _, stderr) = run(&mut support::actas(&[
            "-C",
            dir.path().to_str().unwrap(),
            "test",
            bad.to_str().unwrap(),
        ]));
        assert_eq!(code, 2, "{stderr}");
        insta::assert_snapshot!(
            format!("scenario_entities_{name}"),
            redact(&stderr, dir.path())
        );
    }
}
