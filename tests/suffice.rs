//! `actas suffice` on the bundled example's tasks: every format snapshotted, what-if in both
//! directions, exit codes, and each bad input with its message and place.

use crate::support::{self, bad_input};

use insta_cmd::assert_cmd_snapshot;
use support::{actas, output};

const FIX: &str = "fixtures/candidates/log-reader-reads-staging.cedar";

#[test]
fn all_tasks_human() {
    // One task is not sufficient: exit 1.
    assert_cmd_snapshot!(actas(&["suffice"]));
}

#[test]
fn all_tasks_json() {
    assert_cmd_snapshot!(actas(&["suffice", "--format", "json"]));
}

#[test]
fn all_tasks_markdown() {
    assert_cmd_snapshot!(actas(&["suffice", "--format", "markdown"]));
}

#[test]
fn a_sufficient_task_exits_0() {
    let (code, stdout, _) = output(&["suffice", "fixtures/tasks/nightly-release.yaml"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.starts_with("SUFFICIENT fixtures/tasks/nightly-release.yaml › nightly release"));
}

#[test]
fn excess_lists_what_the_task_never_uses() {
    let (_, stdout, _) = output(&[
        "suffice",
        "fixtures/tasks/billing-export.yaml",
        "--format",
        "json",
    ]);
    let doc: actas::report::json::SufficeDoc = serde_json::from_str(&stdout).unwrap();
    let t = &doc.tasks[0];
    assert!(t.sufficient);
    // billing-admin-everything: the account may deploy and mint tokens it never needs here.
    let actions: Vec<&str> = t.excess.iter().map(|g| g.action.as_str()).collect();
    assert!(actions.contains(&r#"Action::"deploy""#), "{actions:?}");
    assert!(
        actions.contains(&r#"Action::"getAccessToken""#),
        "{actions:?}"
    );
    assert_eq!(
        t.excess_total,
        t.excess.iter().map(|g| g.resources.len()).sum::<usize>()
    );
    // The step it does make is not excess.
    assert!(!t.excess.iter().any(
        |g| g.resources.contains(&r#"Bucket::"prod-logs""#.to_string())
            && g.action == r#"Action::"read""#
    ));
}

#[test]
fn with_a_candidate_policy_human() {
    assert_cmd_snapshot!(actas(&[
        "suffice",
        "fixtures/tasks/triage-staging.yaml",
        "--with",
        FIX
    ]));
}

#[test]
fn with_a_candidate_policy_json() {
    assert_cmd_snapshot!(actas(&[
        "suffice",
        "fixtures/tasks/triage-staging.yaml",
        "--with",
        FIX,
        "--format",
        "json"
    ]));
}

#[test]
fn without_a_policy_shows_what_breaks() {
    assert_cmd_snapshot!(actas(&[
        "suffice",
        "fixtures/tasks/nightly-release.yaml",
        "--without",
        "sre-oncall-prod",
        "--format",
        "markdown"
    ]));
}

#[test]
fn without_a_template_removes_its_links() {
    let (code, stdout, _) = output(&[
        "suffice",
        "fixtures/tasks/nightly-release.yaml",
        "--without",
        "token-creator",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let doc: actas::report::json::SufficeDoc = serde_json::from_str(&stdout).unwrap();
    let w = doc.what_if.unwrap();
    assert_eq!(
        w.removed_policies,
        [
            "carol-mints-ci-runner",
            "dave-mints-ci-runner",
            "token-creator",
            "token-creator#1"
        ]
    );
    assert!(w.lost.iter().any(|c| c.kind == "path"
        && c.principal == r#"User::"carol""#
        && c.target.as_deref() == Some(r#"ServiceAccount::"ci-runner""#)));
    assert!(w.gained.is_empty());
}

#[test]
fn check_reports_bad_tasks_as_findings() {
    let (code, stdout, _) = output(&["-C", "fixtures/broken/bad-task", "check"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(stdout);
}

bad_input! {
    bad_task_files => ["-C", "fixtures/broken/bad-task", "suffice"],
    bad_candidate_fails_validation => ["suffice", "--with", "tests/fixtures/candidates/invalid.cedar"],
    bad_without_unknown_id => ["suffice", "--without", "sre-oncal-prod"],
    bad_missing_task_file => ["suffice", "fixtures/tasks/no-such-task.yaml"],
}
