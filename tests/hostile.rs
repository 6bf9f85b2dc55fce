//! Hostile and unlucky inputs: each ends with a located message and exit 2 (or a normal run),
//! never with a crash, a hang or a scan of the machine. Each reproducer is generated here, on a
//! copy of the bundled example.

use crate::support;

use std::path::Path;

use support::{copy, example_copy, output, root};

fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["-C", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    output(&all)
}

/// The message without miette's frame, on one line.
fn flat(text: &str) -> String {
    text.replace(['│', '╭', '╰', '─', '·'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn deeply_nested_policies_and_schemas_are_refused_before_parsing() {
    let dir = example_copy();
    let deep = format!(
        "permit (principal, action, resource) when {{ {}true{} }};",
        "(".repeat(3_000),
        ")".repeat(3_000)
    );
    std::fs::write(dir.path().join("policies/deep.cedar"), deep).unwrap();
    let (code, stdout, stderr) = run(dir.path(), &["test"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    let text = flat(&stderr);
    assert!(
        text.contains("the policy nests deeper than 1000 levels"),
        "{text}"
    );
    assert!(text.contains("policies/deep.cedar:1:"), "{text}");
    std::fs::remove_file(dir.path().join("policies/deep.cedar")).unwrap();

    let schema = dir.path().join("policies/schema.cedarschema");
    let mut text = std::fs::read_to_string(&schema).unwrap();
    text.push_str(&format!(
        "\ntype Deep = {}Long{};\n",
        "Set<".repeat(2_000),
        ">".repeat(2_000)
    ));
    std::fs::write(&schema, text).unwrap();
    let (code, _, stderr) = run(dir.path(), &["test"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        flat(&stderr).contains("the schema nests deeper than 1000 levels"),
        "{stderr}"
    );
}

#[test]
fn long_condition_chains_do_not_crash() {
    // 5,000 alternatives in one condition (deep in Cedar's tree, flat in the text).
    let dir = example_copy();
    let alternatives = vec!["context.mfa"; 5_000].join(" || ");
    std::fs::write(
        dir.path().join("policies/wide.cedar"),
        format!("@id(\"wide\")\nforbid (principal, action, resource) when {{ false && ({alternatives}) }};\n"),
    )
    .unwrap();
    let (code, stdout, stderr) = run(dir.path(), &["test"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, _, stderr) = run(dir.path(), &["check"]);
    assert!(code == 0 || code == 1, "{stderr}");
}

#[test]
fn entity_hierarchies_are_checked_before_cedar_closes_them() {
    let dir = example_copy();
    let entities = dir.path().join("fixtures/entities.yaml");
    let original = std::fs::read_to_string(&entities).unwrap();
    let chain: String = (0..3_000)
        .map(|i| {
            format!(
                "- {{ uid: Group::\"g{i}\", parents: [Group::\"g{}\"] }}\n",
                i + 1
            )
        })
        .collect();
    std::fs::write(
        &entities,
        format!("{original}{chain}- {{ uid: Group::\"g3000\" }}\n"),
    )
    .unwrap();
    let (code, _, stderr) = run(dir.path(), &["test"]);
    assert_eq!(code, 2, "{stderr}");
    let text = flat(&stderr);
    assert!(
        text.contains("has a parent chain deeper than 1000 levels"),
        "{text}"
    );
    assert!(text.contains("fixtures/entities.yaml:"), "{text}");

    let cycle = "- { uid: Group::\"a\", parents: [Group::\"b\"] }\n- { uid: Group::\"b\", parents: [Group::\"a\"] }\n";
    std::fs::write(&entities, format!("{original}{cycle}")).unwrap();
    let (code, _, stderr) = run(dir.path(), &["test"]);
    assert_eq!(code, 2, "{stderr}");
    let text = flat(&stderr);
    assert!(
        text.contains(
            "entity `Group::\"a\"` is its own ancestor: Group::\"a\" → Group::\"b\" → Group::\"a\""
        ),
        "{text}"
    );
}

#[test]
fn folder_walks_follow_links_once_and_stop_at_a_bound() {
    let dir = example_copy();
    let policies = dir.path().join("policies");
    // Two links to the folder itself: each real folder is entered, each real file read, once.
    std::os::unix::fs::symlink(".", policies.join("loop-a")).unwrap();
    std::os::unix::fs::symlink(".", policies.join("loop-b")).unwrap();
    // A shared folder reached through a link is read like any other.
    let shared = tempfile::tempdir().unwrap();
    std::fs::rename(
        policies.join("acting-as.cedar"),
        shared.path().join("acting-as.cedar"),
    )
    .unwrap();
    std::os::unix::fs::symlink(shared.path(), policies.join("shared")).unwrap();
    let (code, stdout, stderr) = run(dir.path(), &["test"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.ends_with("55 passed, 0 failed\n"), "{stdout}");

    // A link to `/` among the scenarios ends with a located error, quickly.
    std::os::unix::fs::symlink("/", dir.path().join("fixtures/scenarios/root")).unwrap();
    let started = std::time::Instant::now();
    let (code, _, stderr) = run(dir.path(), &["test"]);
    assert_eq!(code, 2, "{stderr}");
    let text = flat(&stderr);
    assert!(
        text.contains("stopped reading `fixtures/scenarios`"),
        "{text}"
    );
    assert!(text.contains("actas.yaml:5:"), "{text}");
    assert!(
        !text.contains("problems found"),
        "nothing of the walk is read: {text}"
    );
    assert!(started.elapsed().as_secs() < 60);
}

#[test]
fn a_folder_path_naming_a_file_says_so() {
    let dir = example_copy();
    let (code, _, stderr) = run(dir.path(), &["test", "fixtures/entities.yaml/"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        flat(&stderr).contains("ends with `/`, but `fixtures/entities.yaml` is a file"),
        "{stderr}"
    );
}

#[test]
fn thread_counts_are_capped() {
    let (code, stdout, stderr) = output(&["--threads", "100000", "test"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("--threads is capped at 256"), "{stderr}");
    assert!(stdout.ends_with("55 passed, 0 failed\n"));
}

#[test]
fn a_scenario_file_of_any_honest_size_reads() {
    // 20,000 cases, 80,000 lines: over serde-saphyr's default budget of 250,000 nodes.
    let dir = example_copy();
    let mut text = String::from("cases:\n");
    for i in 0..20_000 {
        text.push_str(&format!(
            "  - name: case {i}\n    principal: Agent::\"triage-bot\"\n    impersonate: ServiceAccount::\"log-reader\"\n    context: {{ duration_minutes: 15, mfa: false, justification: \"INC-3\" }}\n    expect: allow\n"
        ));
    }
    std::fs::write(dir.path().join("fixtures/scenarios/large.yaml"), text).unwrap();
    let (code, stdout, stderr) = run(dir.path(), &["test", "fixtures/scenarios/large.yaml"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.ends_with("20000 passed, 0 failed\n"),
        "{}",
        &stdout[stdout.len() - 100..]
    );
}

/// An account whose id is Markdown, HTML and a table cell break, reached through a policy
/// whose id is a spreadsheet formula, in a file whose name needs percent-encoding.
fn injected_copy() -> tempfile::TempDir {
    let dir = example_copy();
    let evil = r#"evil|`<img src=x onerror=alert(1)>`"#;
    let entities = dir.path().join("fixtures/entities.yaml");
    let mut text = std::fs::read_to_string(&entities).unwrap();
    text.push_str(&format!(
        "- {{ uid: {{ type: ServiceAccount, id: '{evil}' }}, attrs: {{ privileged: false }}, parents: [Project::\"prod\"] }}\n"
    ));
    std::fs::write(&entities, text).unwrap();
    let id = evil.replace('\\', "\\\\").replace('"', "\\\"");
    std::fs::write(
        dir.path().join("policies/odd name#1.cedar"),
        format!(
            "@id(\"=HYPERLINK(\\\"http://x\\\",\\\"y\\\")\")\npermit (principal, action == Action::\"getAccessToken\", resource == ServiceAccount::\"{id}\") when {{ context.justification like \"*\" }};\n"
        ),
    )
    .unwrap();
    dir
}

#[test]
fn csv_cells_never_start_a_formula() {
    let dir = injected_copy();
    let (code, stdout, stderr) = run(dir.path(), &["report", "--format", "csv"]);
    assert_eq!(code, 0, "{stderr}");
    // Provenance leads as `#` comment lines, as pandas (`comment="#"`) and csv readers take it.
    let mut reader = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .from_reader(stdout.as_bytes());
    let mut seen = false;
    for record in reader.records() {
        for cell in &record.unwrap() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{cell:?}"
            );
            seen |= cell.contains("'=HYPERLINK");
        }
    }
    assert!(seen, "the policy id is there, neutralised: {stdout}");
}

#[test]
fn markdown_keeps_ids_in_code_and_tables_whole() {
    let dir = injected_copy();
    let (code, stdout, stderr) = run(dir.path(), &["report", "--format", "markdown"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("evil"), "{stdout}");
    for line in stdout.lines().filter(|l| l.contains("evil")) {
        // Outside code spans, no raw HTML and no unescaped pipe.
        let mut outside = String::new();
        let mut rest = line;
        while let Some(start) = rest.find('`') {
            outside.push_str(&rest[..start]);
            let fence = rest[start..].chars().take_while(|c| *c == '`').count();
            let after = &rest[start + fence..];
            let close = after.find(&"`".repeat(fence)).expect("closed code span");
            rest = &after[close + fence..];
        }
        outside.push_str(rest);
        assert!(!outside.contains("<img"), "{line}");
        if line.starts_with('|') {
            let cells = line.replace("\\|", "").matches('|').count();
            let header = stdout
                .lines()
                .find(|l| l.starts_with("| account |"))
                .unwrap();
            assert_eq!(cells, header.matches('|').count(), "{line}");
        }
    }
    // Every link to a policy lands on an anchor made of letters, digits and dashes only.
    for (i, _) in stdout.match_indices("](#policy-") {
        let target = &stdout[i + 3..];
        let target = &target[..target.find(')').unwrap()];
        assert!(
            target
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{target}"
        );
        assert!(
            stdout.contains(&format!("<a id=\"{target}\"></a>")),
            "{target}"
        );
    }
    assert!(stdout.contains("hyperlink"), "{stdout}");
}

#[test]
fn sarif_uris_are_percent_encoded() {
    let dir = injected_copy();
    let (_, stdout, _) = run(dir.path(), &["check", "--format", "sarif"]);
    assert!(stdout.contains("policies/odd%20name%231.cedar"), "{stdout}");
    // Every `uri` is encoded (the invocation's provenance lists paths as written, not URIs).
    for line in stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("\"uri\""))
    {
        assert!(!line.contains("odd name#1.cedar"), "{line}");
    }
}

#[test]
fn terminal_output_escapes_control_characters() {
    let dir = example_copy();
    std::fs::write(
        dir.path().join("fixtures/scenarios/escape.yaml"),
        "cases:\n  - name: \"clear \\e[2J screen \\0 and \\f feed\"\n    principal: User::\"bob\"\n    action: Action::\"read\"\n    resource: Bucket::\"staging-artifacts\"\n    context: { duration_minutes: 1, mfa: true, justification: x }\n    expect: deny\n",
    )
    .unwrap();
    let (code, stdout, _) = run(dir.path(), &["test", "fixtures/scenarios/escape.yaml"]);
    assert_eq!(code, 1);
    assert!(!stdout.contains(['\u{1b}', '\0', '\u{c}']), "{stdout:?}");
    assert!(
        stdout.contains("clear \\u{1b}[2J screen \\u{0} and \\u{c} feed"),
        "{stdout}"
    );
}

#[test]
fn messages_name_the_place_and_the_right_reason() {
    let dir = example_copy();
    let root = dir.path();

    // Invalid UTF-8: where.
    std::fs::write(
        root.join("policies/bad.cedar"),
        b"// ok\npermit (principal, action, resource)\xff;\n",
    )
    .unwrap();
    let (code, _, stderr) = run(root, &["test"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        flat(&stderr).contains("is not UTF-8 text: byte 0xFF at line 2, column 37 (offset 42)"),
        "{stderr}"
    );
    std::fs::remove_file(root.join("policies/bad.cedar")).unwrap();

    // A byte-order mark is not an error.
    let policy = root.join("policies/acting-as.cedar");
    let mut text = b"\xEF\xBB\xBF".to_vec();
    text.extend(std::fs::read(&policy).unwrap());
    std::fs::write(&policy, text).unwrap();
    let (code, _, stderr) = run(root, &["test"]);
    assert_eq!(code, 0, "{stderr}");

    // A file given as the workspace folder.
    let (code, _, stderr) = output(&["-C", "actas.yaml", "test"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("it is a file, not a folder"), "{stderr}");

    // A schema path naming something that is no schema: not quoted.
    std::fs::write(root.join("env"), "SECRET_TOKEN=hunter2\nHOME=/root\n").unwrap();
    let (code, _, stderr) = run(root, &["--schema", "env", "test"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("is not a Cedar schema"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");

    // A link with an unknown entity type: at the link.
    let links = root.join("policies/bindings.yaml");
    let mut text = std::fs::read_to_string(&links).unwrap();
    text.push_str("- template: token-creator\n  id: bad-type\n  principal: Nope::\"x\"\n  resource: ServiceAccount::\"ci-runner\"\n");
    std::fs::write(&links, text).unwrap();
    let (code, stdout, _) = run(root, &["check", "--format", "github"]);
    assert_eq!(code, 1);
    let line = stdout.lines().find(|l| l.contains("bad-type")).unwrap();
    assert!(
        line.starts_with("::error file=policies/bindings.yaml,line="),
        "{line}"
    );
}

#[test]
fn the_default_impersonation_action_says_it_is_one() {
    // The example's schema names `getAccessToken`, not the default `impersonate`: one warning
    // (no error, issue 20) that says the action is a default and names the likely one.
    let dir = tempfile::tempdir().unwrap();
    copy(&root().join("policies"), &dir.path().join("policies"));
    let (code, _, stderr) = run(dir.path(), &["check"]);
    assert_eq!(code, 0, "{stderr}");
    let text = flat(&stderr);
    assert!(
        text.contains(
            "the default impersonation action when actas.yaml sets no `impersonation.actions`"
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"likely ones: `Action::"getAccessToken"`"#),
        "{text}"
    );
}

#[test]
fn a_failed_stdout_write_says_so() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return;
    };
    let out = support::actas(&["test"]).stdout(full).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("failed to write the output"), "{stderr}");
}

#[test]
fn baselines_and_usage_logs_read_as_much_as_they_can() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("b.json");
    std::fs::write(
        &baseline,
        "{\"format\": \"actas-baseline\", \"version\": 18446744073709551616}",
    )
    .unwrap();
    let (code, _, stderr) = output(&["drift", "--baseline", baseline.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        flat(&stderr).contains("`version` must be a whole number"),
        "{stderr}"
    );

    // A usage-log line that is not UTF-8 is one more malformed line under --lenient.
    let log = dir.path().join("usage.jsonl");
    let mut text = std::fs::read(root().join("fixtures/usage.jsonl")).unwrap();
    text.extend_from_slice(
        b"{\"time\": \"2026-10-02T00:00:00Z\", \"principal\": \"User::\\\"b\xffob\\\"\"}\n",
    );
    std::fs::write(&log, text).unwrap();
    let (code, stdout, stderr) = output(&[
        "drift",
        "--usage",
        log.to_str().unwrap(),
        "--lenient",
        "--format",
        "json",
    ]);
    assert_eq!(code, 1, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let skipped = &doc["usage"]["skipped_lines"];
    assert_eq!(skipped[0]["line"], 301, "{skipped}");
    assert!(
        skipped[0]["reason"].as_str().unwrap().contains("not UTF-8"),
        "{skipped}"
    );
}

#[test]
fn usage_logs_never_buffer_an_endless_line() {
    // `/dev/zero` never ends a line: the read stops at the line bound, even with --lenient.
    for lenient in [false, true] {
        let mut args = vec!["drift", "--usage", "/dev/zero"];
        if lenient {
            args.push("--lenient");
        }
        let (code, _, stderr) = output(&args);
        assert_eq!(code, 2, "{stderr}");
        let text = flat(&stderr);
        assert!(
            text.contains("at line 1: has a line longer than 1024 KiB"),
            "{stderr}"
        );
    }

    // Many malformed lines: the first 1,000 are reported and the read stops.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("usage.jsonl");
    std::fs::write(&log, "not json\n".repeat(5_000)).unwrap();
    let (code, _, stderr) = output(&["drift", "--usage", log.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        flat(&stderr).contains("stopped reading at line 1001 after 1000 malformed lines"),
        "{stderr}"
    );
}

/// Interrupted while it writes (here: SIGTERM while `snapshot` waits to open a FIFO as its
/// output), actas exits 130 with `error: interrupted` and leaves the baseline whole. That the
/// temporary file of a write under way is removed is `core::files`'s unit test (a FIFO is
/// streamed into, without one).
#[test]
fn an_interrupted_run_exits_130_and_leaves_no_temporary_file() {
    let dir = support::example_copy();
    let old = dir.path().join("actas.baseline.json");
    std::fs::write(&old, "the old baseline").unwrap();
    let fifo = dir.path().join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let mut child = support::actas(&["-C", dir.path().to_str().unwrap(), "snapshot", "--output"])
        .arg(&fifo)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The computation is done and the write blocked on the FIFO well before this.
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(child.try_wait().unwrap().is_none(), "it should be blocked");
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("error: interrupted"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&old).unwrap(), "the old baseline");
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// `actas -C DIR COMMAND`, failing the test rather than waiting past a minute; the exit code
/// and standard output and error as one flat line.
#[cfg(target_os = "linux")]
fn run_bounded(dir: &Path, command: &str) -> (Option<i32>, String) {
    let mut child = support::actas(&["-C", dir.to_str().unwrap(), command])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed().as_secs() > 60 {
            let _ = child.kill();
            panic!("`actas {command}` is still running after a minute");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), flat(&text))
}

/// A named pipe among the files a folder walk finds (scenarios, policies) is reported with the
/// place that names the folder, never opened: opening a pipe nobody writes to waits for ever.
#[cfg(target_os = "linux")]
#[test]
fn named_pipes_in_input_folders_are_reported_not_opened() {
    let dir = example_copy();
    let says = |text: &str, pipe: &str| {
        text.contains(&format!(
            "`{pipe}` is not a regular file (a named pipe, socket or device)"
        ))
    };
    let (scenario, policy) = ("fixtures/scenarios/pipe.yaml", "policies/pipe.cedar");
    for pipe in [scenario, policy] {
        let made = std::process::Command::new("mkfifo")
            .arg(dir.path().join(pipe))
            .status()
            .unwrap();
        assert!(made.success());
    }
    // `check` reports both as findings; `test` stops at the workspace's.
    let (code, text) = run_bounded(dir.path(), "check");
    assert_eq!(code, Some(1), "{text}");
    assert!(says(&text, scenario) && says(&text, policy), "{text}");
    let (code, text) = run_bounded(dir.path(), "test");
    assert_eq!(code, Some(2), "{text}");
    assert!(says(&text, policy), "{text}");
    assert!(text.contains("actas.yaml:2:"), "{text}");
    // With the policies' pipe gone, `test` (which reads its scenario files early) says so too.
    std::fs::remove_file(dir.path().join(policy)).unwrap();
    let (code, text) = run_bounded(dir.path(), "test");
    assert_eq!(code, Some(2), "{text}");
    assert!(says(&text, scenario), "{text}");
    // Pointing at the entry of actas.yaml that names the folder.
    assert!(text.contains("actas.yaml:5:"), "{text}");
}

/// A minified JSON inventory is one line: a problem on it is shown with a piece of that line
/// around it and its true line and column, not the whole line under the message.
#[test]
fn a_problem_on_a_minified_inventory_shows_a_piece_of_its_line() {
    let dir = example_copy();
    let group =
        |i: usize| format!(r#"{{"uid":{{"type":"Group","id":"g{i}"}},"attrs":{{}},"parents":[]}}"#);
    let before: Vec<String> = (0..1_000).map(group).collect();
    let after: Vec<String> = (1_000..2_000).map(group).collect();
    let bad = r#"{"uid":{"type":"User","id":"bad"},"attrs":{},"parents":[]}"#;
    let text = format!("[{},{bad},{}]", before.join(","), after.join(","));
    assert!(!text.contains('\n') && text.len() > 100_000);
    std::fs::write(dir.path().join("min.json"), &text).unwrap();
    let (code, _, stderr) = run(
        dir.path(),
        &["--entities", "min.json", "who-can", "Group::\"g0\""],
    );
    assert_eq!(code, 2, "{stderr}");
    let column = text.find(r#"{"uid":{"type":"User""#).unwrap() + 8;
    assert!(
        stderr.contains(&format!("[min.json:1:{column}]")),
        "{stderr}"
    );
    assert!(stderr.contains(r#""id":"bad""#), "{stderr}");
    assert!(stderr.len() < 2_000, "{} bytes: {stderr}", stderr.len());
}
