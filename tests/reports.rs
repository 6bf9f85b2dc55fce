//! `actas who-can` and `actas report` on the bundled example: every format snapshotted, the
//! JSON documents read back into their documented types, profiles chosen every way, and each
//! bad input with its exit code and message.

use crate::support::{self, bad_input};

use insta_cmd::assert_cmd_snapshot;
use support::{actas, output};

const DEPLOYER: &str = r#"ServiceAccount::"prod-deployer""#;

#[test]
fn who_can_target_human() {
    assert_cmd_snapshot!(actas(&["who-can", DEPLOYER]));
}

#[test]
fn who_can_target_json() {
    assert_cmd_snapshot!(actas(&["who-can", DEPLOYER, "--format", "json"]));
}

#[test]
fn who_can_principal_human() {
    assert_cmd_snapshot!(actas(&["who-can", "--principal", r#"User::"erin""#]));
}

#[test]
fn who_can_nobody() {
    // The agent's account is only reachable by the agent, and never by a person.
    let (code, stdout, _) = output(&[
        "who-can",
        "--principal",
        r#"User::"bob""#,
        "--profile",
        "routine",
    ]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("What User::\"bob\" can act as: 1 account"),
        "{stdout}"
    );
    assert_cmd_snapshot!(actas(&[
        "who-can",
        r#"ServiceAccount::"staging-deployer""#,
        "--profile",
        "adhoc",
        "--context",
        r#"{"duration_minutes": 90, "mfa": true, "justification": "CHG-1"}"#
    ]));
}

#[test]
fn report_human() {
    assert_cmd_snapshot!(actas(&["report"]));
}

#[test]
fn report_json() {
    assert_cmd_snapshot!(actas(&["report", "--format", "json"]));
}

#[test]
fn report_markdown() {
    assert_cmd_snapshot!(actas(&["report", "--format", "markdown"]));
}

#[test]
fn report_csv() {
    assert_cmd_snapshot!(actas(&["report", "--format", "csv"]));
}

/// The page without its inline stylesheet and script (kept out of the snapshot so it shows the
/// content; the browser test exercises them).
#[test]
fn report_html() {
    let (code, stdout, stderr) = output(&["report", "--format", "html"]);
    assert_eq!(code, 0, "{stderr}");
    for banned in ["http://", "https://", "<link", "src="] {
        assert!(
            !stdout.contains(banned),
            "the page must not load anything: found {banned}"
        );
    }
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(
        r"(?s)<style>.*</style>",
        "<style>[inline stylesheet]</style>",
    );
    settings.add_filter(
        r"(?s)<script>.*</script>",
        "<script>[inline script]</script>",
    );
    settings.bind(|| insta::assert_snapshot!(stdout));
}

#[test]
fn json_documents_follow_the_documented_schema() {
    let (_, stdout, _) = output(&["report", "--format", "json"]);
    let doc: actas::report::json::ReportDoc = serde_json::from_str(&stdout).expect("ReportDoc");
    assert_eq!(
        doc.version, 3,
        "the report carries provenance since version 2, failing conditions and forbids since 3"
    );
    assert_eq!(doc.summary.paths, doc.paths.len());
    // Every policy a step names is described.
    for p in &doc.paths {
        for r in &p.routes {
            assert_eq!(r.hops, r.chain.len());
            assert_eq!(r.chain.last(), Some(&p.target));
            for s in &r.steps {
                for id in &s.policies {
                    assert!(doc.policies.iter().any(|x| x.id == id.as_str()), "{id}");
                }
            }
        }
    }
    let (_, stdout, _) = output(&["who-can", DEPLOYER, "--format", "json"]);
    let doc: actas::report::json::WhoCanDoc = serde_json::from_str(&stdout).expect("WhoCanDoc");
    assert_eq!(doc.query.target.as_deref(), Some(DEPLOYER));
}

#[test]
fn the_example_report_is_interesting() {
    // A chain, a break-glass-only path, a path open to a human: what an auditor must see.
    let (_, stdout, _) = output(&["report", "--format", "json"]);
    let doc: actas::report::json::ReportDoc = serde_json::from_str(&stdout).unwrap();
    let s = &doc.summary;
    assert!(s.longest_chain >= 2);
    assert!(!s.delegated_paths.is_empty());
    assert!(s
        .conditional_paths
        .iter()
        .any(|p| p.profiles == ["break_glass"]));
    assert!(!s.human_paths.is_empty());
}

#[test]
fn who_can_agrees_with_report() {
    let (_, report, _) = output(&["report", "--format", "json"]);
    let report: actas::report::json::ReportDoc = serde_json::from_str(&report).unwrap();
    let (_, who, _) = output(&["who-can", DEPLOYER, "--format", "json"]);
    let who: actas::report::json::WhoCanDoc = serde_json::from_str(&who).unwrap();
    let from_report: Vec<String> = report
        .paths
        .iter()
        .filter(|p| p.target == DEPLOYER)
        .map(|p| serde_json::to_string(p).unwrap())
        .collect();
    let from_who: Vec<String> = who
        .paths
        .iter()
        .map(|p| serde_json::to_string(p).unwrap())
        .collect();
    assert_eq!(from_report, from_who);
}

#[test]
fn profiles_can_be_restricted() {
    assert_cmd_snapshot!(actas(&[
        "who-can",
        DEPLOYER,
        "--profile",
        "routine",
        "--profile",
        "break_glass"
    ]));
}

#[test]
fn an_adhoc_context_is_added_as_a_profile() {
    let (code, stdout, _) = output(&[
        "who-can",
        DEPLOYER,
        "--context",
        r#"{"duration_minutes": 10, "mfa": true, "justification": "BG-9"}"#,
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let doc: actas::report::json::WhoCanDoc = serde_json::from_str(&stdout).unwrap();
    let names: Vec<&str> = doc.profiles.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["break_glass", "incident", "routine", "adhoc"]);
    assert_eq!(doc.profiles[3].source, "command line");
}

#[test]
fn a_context_file_is_read_relative_to_the_workspace() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ctx.yaml"),
        "duration_minutes: 10\nmfa: true\njustification: BG-9\n",
    )
    .unwrap();
    let path = dir.path().join("ctx.yaml");
    let (code, stdout, stderr) = output(&[
        "report",
        "--profile",
        "adhoc",
        "--context-file",
        path.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(r#""User::""erin""","ServiceAccount::""prod-deployer""",true,1"#));
}

#[test]
fn without_profiles_the_scenario_defaults_are_the_profile() {
    assert_cmd_snapshot!(actas(&[
        "-C",
        "tests/fixtures/other-world",
        "who-can",
        r#"Aws::Role::"reader""#
    ]));
}

#[test]
fn output_is_identical_with_one_and_two_threads() {
    for format in ["human", "json", "markdown", "csv", "html"] {
        let one =
            support::output_without_command_line(&["--threads", "1", "report", "--format", format]);
        let two =
            support::output_without_command_line(&["--threads", "2", "report", "--format", format]);
        assert_eq!(one, two, "{format}");
    }
}

bad_input! {
    bad_unknown_target => ["who-can", r#"ServiceAccount::"prod-deployr""#],
    bad_target_not_impersonable => ["who-can", r#"User::"alice""#],
    bad_malformed_target => ["who-can", r#"ServiceAccount:"x""#],
    bad_unknown_principal => ["who-can", "--principal", r#"User::"alise""#],
    bad_principal_type => ["who-can", "--principal", r#"Cluster::"prod""#],
    bad_unknown_profile => ["report", "--profile", "routin"],
    bad_adhoc_without_context => ["report", "--profile", "adhoc"],
    bad_malformed_context => ["report", "--context", r#"{"mfa": true, "duration_minutes": 30"#],
    bad_context_fails_schema => ["report", "--context", r#"{"mfa": "yes", "duration_minutes": 30, "justification": "x", "ticket": 1}"#],
    bad_context_missing_attribute => ["who-can", DEPLOYER, "--context", r#"{"mfa": true}"#],
    bad_profiles_in_actas_yaml => ["-C", "fixtures/broken/profile-wrong-type", "report"],
    bad_scenario_defaults_differ => ["-C", "tests/fixtures/defaults-differ", "report"],
    bad_missing_context_file => ["report", "--context-file", "no/such/file.yaml"],
}

/// Provenance: `report --verify` on a JSON and an HTML report of an unchanged workspace passes,
/// and after one policy is edited fails naming that file; anything else is not a report.
#[test]
fn verify_tells_whether_a_report_still_describes_the_workspace() {
    let dir = support::example_copy();
    let at = dir.path().to_str().unwrap();
    for format in ["json", "html"] {
        let (code, report, stderr) = output(&["-C", at, "report", "--format", format]);
        assert_eq!(code, 0, "{stderr}");
        let file = dir.path().join(format!("report.{format}"));
        std::fs::write(&file, report).unwrap();
    }
    for format in ["json", "html"] {
        let name = format!("report.{format}");
        let (code, stdout, stderr) = output(&["-C", at, "report", "--verify", &name]);
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(
            stdout.contains("still describes this workspace"),
            "{stdout}"
        );
    }
    let policy = dir.path().join("policies/acting-as.cedar");
    let mut text = std::fs::read_to_string(&policy).unwrap();
    text.push_str("\n// reviewed\n");
    std::fs::write(&policy, text).unwrap();
    for format in ["json", "html"] {
        let name = format!("report.{format}");
        let (code, stdout, _) = output(&["-C", at, "report", "--verify", &name]);
        assert_eq!(code, 1, "{stdout}");
        assert!(
            stdout.contains("no longer describes this workspace"),
            "{stdout}"
        );
        assert!(
            stdout.contains("`policies/acting-as.cedar` has changed"),
            "{stdout}"
        );
        assert!(
            !stdout.contains("impersonation.cedar"),
            "only the edited file: {stdout}"
        );
    }
    let (code, _, stderr) = output(&["-C", at, "report", "--verify", "actas.yaml"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("is neither a JSON report nor an HTML report"),
        "{stderr}"
    );
}

/// `SOURCE_DATE_EPOCH` fixes the generation time: two runs are byte-identical, and another
/// epoch changes only the time.
#[test]
fn source_date_epoch_makes_reports_reproducible() {
    let run = |epoch: &str| {
        let out = actas(&["report", "--format", "html"])
            .env("SOURCE_DATE_EPOCH", epoch)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let (a, b) = (run("1767225600"), run("1767225600"));
    assert_eq!(a, b);
    assert!(a.contains("2026-01-01T00:00:00Z"));
    let c = run("1767312000");
    assert!(c.contains("2026-01-02T00:00:00Z"));
    assert_eq!(
        a.replace("2026-01-01T00:00:00Z", "T"),
        c.replace("2026-01-02T00:00:00Z", "T")
    );
}

/// In a git repository the report names the commit and whether the tree has changes.
#[test]
fn provenance_names_the_commit_and_the_dirty_tree() {
    let dir = support::example_copy();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "example"]);
    let head = git(&["rev-parse", "HEAD"]);
    let provenance = || {
        let out = actas(&[
            "-C",
            dir.path().to_str().unwrap(),
            "report",
            "--format",
            "json",
        ])
        .env_remove("GIT_DIR")
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        doc["provenance"]["git"].clone()
    };
    let clean = provenance();
    assert_eq!(clean["commit"], head.as_str());
    assert_eq!(clean["dirty"], false);
    // check's SARIF names the commit for code scanning once the remote is known.
    git(&[
        "remote",
        "add",
        "origin",
        "https://github.com/acme/policies",
    ]);
    let out = actas(&[
        "-C",
        dir.path().to_str().unwrap(),
        "check",
        "--format",
        "sarif",
    ])
    .env_remove("GIT_DIR")
    .env("PATH", std::env::var("PATH").unwrap_or_default())
    .output()
    .unwrap();
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let run = &sarif["runs"][0];
    assert_eq!(
        run["versionControlProvenance"][0]["repositoryUri"],
        "https://github.com/acme/policies"
    );
    assert_eq!(
        run["versionControlProvenance"][0]["revisionId"],
        head.as_str()
    );
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);
    assert!(run["invocations"][0]["properties"]["inputs_sha256"].is_string());
    let mut text = std::fs::read_to_string(dir.path().join("policies/acting-as.cedar")).unwrap();
    text.push('\n');
    std::fs::write(dir.path().join("policies/acting-as.cedar"), text).unwrap();
    assert_eq!(provenance()["dirty"], true);
}

/// A path missing under a profile says why: the example's erin reaches the billing admin only
/// under break glass, and outside it the forbid `privileged-break-glass-only` decides; the CI
/// runner's hop to the prod deployer fails outside routine because its permit's condition does.
#[test]
fn not_under_names_the_forbid_or_the_permit_whose_condition_fails() {
    let (code, json, _) = output(&["who-can", "billing-admin", "--format", "json"]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let erin = doc["paths"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["principal"] == "User::\"erin\"")
        .unwrap();
    let blocked = erin["blocked"].as_array().unwrap();
    assert_eq!(blocked.len(), 2, "{erin:#}");
    for b in blocked {
        assert_eq!(
            b["forbids"],
            serde_json::json!(["privileged-break-glass-only"])
        );
    }
    // The forbid is listed with the permits, with its text.
    let forbid = doc["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "privileged-break-glass-only")
        .expect("the deciding forbid is listed");
    assert!(
        forbid["text"].as_str().unwrap().contains("forbid"),
        "{forbid:#}"
    );
    let (_, human, _) = output(&["report"]);
    assert!(human.contains("  not under incident: User::\"erin\" → ServiceAccount::\"billing-admin\" is forbidden by privileged-break-glass-only"), "{human}");
    // The permit's failing part is named, as written, with the value it read.
    assert!(human.contains(r#"  not under break_glass: no permit allows ServiceAccount::"ci-runner" → ServiceAccount::"prod-deployer" here: ci-runner-deploys allows it elsewhere, but here `context.justification like "CHG-*"` is false (context.justification = "BG-7")"#), "{human}");
    let (_, json, _) = output(&["report", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let alice = doc["paths"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| {
            p["principal"] == "User::\"alice\"" && p["target"] == "ServiceAccount::\"log-reader\""
        })
        .unwrap();
    assert_eq!(
        alice["blocked"][0]["failing"],
        serde_json::json!([{
            "policy": "sre-oncall-prod",
            "condition": r#"context.justification like "INC-*" || context.justification like "CHG-*""#,
            "evaluates_to": "false",
            "needed": true,
            "values": [{"attribute": "context.justification", "value": "\"BG-7\""}]
        }])
    );
    // Every forbid on the impersonation action is listed, marked as one.
    let forbids: Vec<&str> = doc["policies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["effect"] == "forbid")
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        forbids,
        [
            "humans-need-mfa",
            "no-long-tokens",
            "privileged-break-glass-only"
        ]
    );
}

#[test]
fn report_dot() {
    assert_cmd_snapshot!(actas(&["report", "--format", "dot"]));
}

#[test]
fn report_mermaid() {
    assert_cmd_snapshot!(actas(&["report", "--format", "mermaid"]));
}
