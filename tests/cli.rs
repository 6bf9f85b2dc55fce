//! Integration tests of the real binary: every output format on the bundled example, failing
//! cases of every kind, each bad-input class, thread-count independence, a second workspace.

use crate::support;

use std::path::Path;

use insta_cmd::assert_cmd_snapshot;
use support::{actas, output};

#[test]
fn example_human() {
    assert_cmd_snapshot!(actas(&["test", "--status-level", "pass"]));
}

#[test]
fn passing_cases_are_counted_not_listed_by_default() {
    let (code, stdout, _) = output(&["test"]);
    assert_eq!(code, 0);
    assert_eq!(stdout, "55 passed, 0 failed\n");
    let (_, stdout, _) = output(&[
        "-C",
        "tests/fixtures/failing",
        "test",
        "--status-level",
        "none",
    ]);
    assert!(!stdout.contains("FAIL "), "{stdout}");
    assert!(
        stdout.starts_with("failed:\n  wrong.yaml:4 › hop expected allow but denied\n"),
        "{stdout}"
    );
    assert!(stdout.ends_with("\n1 passed, 9 failed\n"), "{stdout}");
}

#[test]
fn example_json() {
    assert_cmd_snapshot!(actas(&["test", "--format", "json"]));
}

#[test]
fn example_junit() {
    assert_cmd_snapshot!(actas(&["test", "--format", "junit"]));
}

#[test]
fn example_check_has_no_errors() {
    assert_cmd_snapshot!(actas(&["check"]));
}

#[test]
fn failing_cases_of_every_kind_human() {
    assert_cmd_snapshot!(actas(&["-C", "tests/fixtures/failing", "test"]));
}

#[test]
fn failing_cases_of_every_kind_json() {
    assert_cmd_snapshot!(actas(&[
        "-C",
        "tests/fixtures/failing",
        "test",
        "--format",
        "json"
    ]));
}

#[test]
fn failing_cases_of_every_kind_junit() {
    assert_cmd_snapshot!(actas(&[
        "-C",
        "tests/fixtures/failing",
        "test",
        "--format",
        "junit"
    ]));
}

#[test]
fn json_output_follows_the_documented_schema() {
    for dir in [".", "tests/fixtures/failing"] {
        let (_, stdout, _) = output(&["-C", dir, "test", "--format", "json"]);
        let doc: actas::report::json::TestDoc =
            serde_json::from_str(&stdout).expect("documented schema");
        assert_eq!(doc.version, 1);
        assert_eq!(doc.summary.total, doc.cases.len());
        assert_eq!(doc.summary.passed + doc.summary.failed, doc.summary.total);
    }
}

#[test]
fn output_is_identical_with_one_and_two_threads() {
    for format in ["human", "json", "junit"] {
        for dir in [".", "tests/fixtures/failing"] {
            let one = output(&["-C", dir, "--threads", "1", "test", "--format", format]);
            let two = output(&["-C", dir, "--threads", "2", "test", "--format", format]);
            assert_eq!(one, two, "{dir} {format}");
        }
    }
}

#[test]
fn filter_selects_cases_by_name() {
    assert_cmd_snapshot!(actas(&[
        "test",
        "--status-level",
        "pass",
        "--filter",
        "break glass",
        "--filter",
        "triage bot"
    ]));
}

#[test]
fn filter_matching_nothing_cannot_run() {
    assert_cmd_snapshot!(actas(&["test", "--filter", "no such case"]));
}

#[test]
fn explicit_scenario_file() {
    assert_cmd_snapshot!(actas(&[
        "test",
        "--status-level",
        "pass",
        "fixtures/scenarios/break-glass.yaml"
    ]));
}

#[test]
fn a_second_workspace_with_another_schema_and_action() {
    assert_cmd_snapshot!(actas(&[
        "-C",
        "tests/fixtures/other-world",
        "test",
        "--status-level",
        "pass"
    ]));
}

#[test]
fn flags_override_the_configuration() {
    // With one hop at most, carol no longer reaches the deployer through the CI runner.
    let (code, stdout, _) = output(&[
        "--max-chain",
        "1",
        "test",
        "fixtures/scenarios/reachability.yaml",
    ]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("FAIL fixtures/scenarios/reachability.yaml:")
            && stdout.contains(" › what carol can act as"),
        "{stdout}"
    );
    let (code, _, stderr) = output(&[
        "--impersonation-action",
        r#"Action::"impersonate""#,
        "check",
    ]);
    assert_eq!(code, 1);
    assert!(stderr.is_empty());
}

#[test]
fn unknown_impersonation_action_flag() {
    assert_cmd_snapshot!(actas(&[
        "--impersonation-action",
        r#"Action::"getAccesToken""#,
        "test"
    ]));
}

#[test]
fn no_workspace_cannot_run_even_for_check() {
    assert_cmd_snapshot!(actas(&["-C", "tests/no-such-folder", "check"]));
}

#[test]
fn check_json_lists_findings_with_locations() {
    assert_cmd_snapshot!(actas(&[
        "-C",
        "fixtures/broken/unknown-type-or-action",
        "check",
        "--format",
        "json"
    ]));
}

/// Each bad-input class: `test` exits 2 with every diagnostic on stderr (file, line and column,
/// source underlined) and prints no result; `check` reports the same as findings and exits 1.
macro_rules! broken {
    ($($name:ident => $dir:literal,)*) => {$(
        #[test]
        fn $name() {
            let dir = concat!("fixtures/broken/", $dir);
            assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir).is_dir());
            let (code, stdout, stderr) = output(&["-C", dir, "test"]);
            assert_eq!(code, 2, "{stderr}");
            assert!(stdout.is_empty(), "no result document on bad input: {stdout}");
            insta::assert_snapshot!(concat!($dir, "-test"), stderr);
            let (code, stdout, _) = output(&["-C", dir, "check"]);
            assert_eq!(code, 1);
            insta::assert_snapshot!(concat!($dir, "-check"), stdout);
        }
    )*};
}

broken! {
    broken_yaml_syntax => "yaml-syntax",
    broken_unknown_field => "unknown-field",
    broken_malformed_uid => "malformed-uid",
    broken_unknown_entity => "unknown-entity",
    broken_unknown_type_or_action => "unknown-type-or-action",
    broken_context_wrong_type => "context-wrong-type",
    broken_context_missing => "context-missing",
    broken_policy_parse_error => "policy-parse-error",
    broken_policy_validation => "policy-validation",
    broken_chain_too_long => "chain-too-long",
    broken_case_shape => "case-shape",
    broken_duplicate_case_names => "duplicate-case-names",
    broken_duplicate_entity => "duplicate-entity",
    broken_json_entities => "json-entities",
    broken_missing_path => "missing-path",
    broken_empty_policy_folder => "empty-policy-folder",
    broken_no_schema => "no-schema",
    broken_profile_wrong_type => "profile-wrong-type",
}

#[test]
fn shards_split_the_cases_without_overlap() {
    let names = |args: &[&str]| -> Vec<String> {
        let (code, stdout, _) = output(args);
        assert_eq!(code, 0);
        let doc: actas::report::json::TestDoc = serde_json::from_str(&stdout).unwrap();
        doc.cases
            .into_iter()
            .map(|c| format!("{}::{}", c.file, c.name))
            .collect()
    };
    let all = names(&["test", "--format", "json"]);
    let mut union = Vec::new();
    for i in 1..=3 {
        let shard = format!("{i}/3");
        let part = names(&["test", "--shard", &shard, "--format", "json"]);
        assert!(!part.is_empty(), "shard {shard} is empty");
        union.extend(part);
    }
    union.sort();
    let mut all_sorted = all.clone();
    all_sorted.sort();
    assert_eq!(union, all_sorted, "the shards are a partition of the cases");
}

#[test]
fn an_empty_shard_warns_and_passes() {
    let (code, stdout, stderr) = output(&[
        "test",
        "fixtures/scenarios/break-glass.yaml",
        "--shard",
        "7/40",
    ]);
    assert_eq!(code, 0);
    assert!(stdout.contains("0 passed, 0 failed"));
    assert!(
        stderr.contains("warning: shard 7/40 has no cases"),
        "{stderr}"
    );
    let (code, _, stderr) = output(&["test", "--shard", "4/3"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("shards are numbered 1 to n"), "{stderr}");
}

#[test]
fn quiet_changes_nothing_but_the_progress_bar() {
    // Tests never run on a terminal, so no bar shows either way; the flag must still be accepted
    // everywhere and leave the results alone.
    assert_eq!(output(&["test"]), output(&["-q", "test"]));
    assert_eq!(
        support::output_without_command_line(&["report"]),
        support::output_without_command_line(&["report", "--quiet"])
    );
}

/// A folder that is no workspace: exit 2 with the reason and the help (which used to be lost
/// on the way out), for `test` and for `check` alike.
#[test]
fn no_workspace_keeps_its_help() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    for command in ["test", "check"] {
        let (code, stdout, stderr) = output(&["-C", path, command]);
        assert_eq!(code, 2, "{stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        assert!(
            stderr.contains("found neither `actas.yaml` nor a `policies/`"),
            "{stderr}"
        );
        assert!(
            stderr.contains(
                "help: run actas in a workspace folder or below one, or point to one with `-C DIR`"
            ),
            "{stderr}"
        );
    }
}

/// A long scenario file is read in pieces while the inventory loads, and its cases are checked
/// piece by piece in parallel: its problems (a duplicate name in a later piece, unknown entities
/// in several) come out in the file's order with their places, exactly as a whole read gives
/// them (a `&` in a comment makes actas read the file whole), and its verdicts are the same.
#[test]
fn a_long_scenario_file_read_in_pieces_reports_as_a_whole_read() {
    let mut text = String::from("defaults:\n  context: { duration_minutes: 15, mfa: true, justification: \"CHG-1\" }\ncases:\n");
    let cases = 3000;
    for i in 0..cases {
        let principal = match i {
            700 | 2900 => "User::\"nobody\"",
            _ => "User::\"alice\"",
        };
        let name = if i == 2500 { 10 } else { i };
        text.push_str(&format!(
            "  - name: case {name} with a name long enough to fill the file past its threshold\n    principal: {principal}\n    impersonate: ServiceAccount::\"log-reader\"\n    expect: deny\n"
        ));
    }
    assert!(text.len() > 256 * 1024, "long enough to be read in pieces");
    let run = |text: &str, args: &[&str]| {
        let dir = support::example_copy();
        let scenarios = dir.path().join("fixtures/scenarios");
        std::fs::remove_dir_all(&scenarios).unwrap();
        std::fs::create_dir_all(&scenarios).unwrap();
        std::fs::write(scenarios.join("long.yaml"), text).unwrap();
        let out = actas(&["-C", dir.path().to_str().unwrap(), "--color", "never"])
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), stderr)
    };
    let whole = format!("{text}# & (read whole)\n");
    let (code, pieces) = run(&text, &["test"]);
    assert_eq!(code, Some(2), "{pieces}");
    assert_eq!(run(&whole, &["test"]), (code, pieces.clone()));
    // Named on the command line, the file is not read early; the report is the same.
    assert_eq!(
        run(&text, &["test", "fixtures/scenarios/long.yaml"]),
        (code, pieces.clone())
    );
    let places: Vec<&str> = pieces
        .lines()
        .filter(|l| l.contains("long.yaml:"))
        .collect();
    assert_eq!(places.len(), 3, "{pieces}");
    assert!(places[0].contains("long.yaml:2805:"), "{pieces}");
    assert!(places[1].contains("long.yaml:10004:"), "{pieces}");
    assert!(places[2].contains("long.yaml:11605:"), "{pieces}");
    assert!(
        pieces.contains("duplicate case name `case 10 with"),
        "{pieces}"
    );
}

/// The inventory is read beside the policies (on another thread): problems in both are still
/// reported policies first, each at its place, and a problem in one does not hide the other's.
#[test]
fn problems_in_policies_and_inventory_are_reported_in_reading_order() {
    let dir = support::example_copy();
    std::fs::write(
        dir.path().join("policies/zz-broken.cedar"),
        "permit (principal, action, resource) when { principal.nope == };\n",
    )
    .unwrap();
    let entities = dir.path().join("fixtures/entities.yaml");
    let mut text = std::fs::read_to_string(&entities).unwrap();
    text.push_str("- uid: Nope::\"x\"\n  parents: []\n");
    std::fs::write(&entities, text).unwrap();
    let (code, _, stderr) = output(&["-C", dir.path().to_str().unwrap(), "test"]);
    assert_eq!(code, 2, "{stderr}");
    let policy = stderr
        .find("zz-broken.cedar:1:")
        .expect("the policy's problem, placed");
    let entity = stderr
        .find("entities.yaml:")
        .expect("the entity's problem, placed");
    assert!(policy < entity, "{stderr}");
    assert!(stderr.contains("Nope"), "{stderr}");
}
