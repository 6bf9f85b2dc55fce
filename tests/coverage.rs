//! `actas test --coverage`: every format on the bundled example and on a fixture with known
//! uncovered items, the gate, partial runs, and bad input.

use crate::support;

use insta_cmd::assert_cmd_snapshot;
use support::{actas, output};

const UNCOVERED: &str = "tests/fixtures/coverage";

#[test]
fn example_human() {
    assert_cmd_snapshot!(actas(&["test", "--coverage"]));
}

#[test]
fn example_json() {
    assert_cmd_snapshot!(actas(&["test", "--coverage-format", "json", "-q"]));
}

#[test]
fn example_lcov() {
    assert_cmd_snapshot!(actas(&["test", "--coverage-format", "lcov", "-q"]));
}

#[test]
fn example_markdown() {
    assert_cmd_snapshot!(actas(&["test", "--coverage-format", "markdown", "-q"]));
}

#[test]
fn uncovered_human_fails_the_gate() {
    assert_cmd_snapshot!(actas(&["-C", UNCOVERED, "test", "--coverage"]));
}

#[test]
fn uncovered_json() {
    assert_cmd_snapshot!(actas(&[
        "-C",
        UNCOVERED,
        "test",
        "--coverage-format",
        "json"
    ]));
}

#[test]
fn uncovered_lcov() {
    assert_cmd_snapshot!(actas(&[
        "-C",
        UNCOVERED,
        "test",
        "--coverage-format",
        "lcov"
    ]));
}

#[test]
fn uncovered_markdown() {
    assert_cmd_snapshot!(actas(&[
        "-C",
        UNCOVERED,
        "test",
        "--coverage-format",
        "markdown"
    ]));
}

#[test]
fn without_coverage_the_output_is_unchanged() {
    let (code, plain, _) = output(&["test"]);
    let (code_c, with, _) = output(&["test", "--coverage"]);
    assert_eq!((code, code_c), (0, 0));
    assert!(
        with.starts_with(&plain),
        "the results come first, unchanged"
    );
    assert!(!plain.contains("coverage"));
    let (_, json, _) = output(&["test", "--format", "json"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.json");
    let (_, json_c, _) = output(&[
        "test",
        "--format",
        "json",
        "--coverage-format",
        "json",
        "--coverage-output",
        file.to_str().unwrap(),
    ]);
    assert_eq!(json, json_c);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(doc["summary"]["policies"]["percent"], 100.0);
}

#[test]
fn a_partial_run_skips_the_gate_with_a_note() {
    for partial in [["--filter", "SRE"], ["--shard", "1/2"]] {
        let mut args = vec!["-C", UNCOVERED, "test", "--coverage"];
        args.extend(partial);
        let (code, stdout, stderr) = output(&args);
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(
            stdout.contains(&format!(
                "note: the coverage gate of actas.yaml is not applied: {} runs only part of the suite",
                partial[0]
            )),
            "{stdout}"
        );
    }
}

#[test]
fn a_coverage_file_gets_the_document_and_stderr_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lcov.info");
    let (code, stdout, stderr) = output(&[
        "-C",
        UNCOVERED,
        "test",
        "--coverage-format",
        "lcov",
        "--coverage-output",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(stdout.ends_with("15 passed, 0 failed\n"), "{stdout}");
    assert!(
        stderr.contains("error: coverage below the gate of actas.yaml: policies 34.8% < 90%"),
        "{stderr}"
    );
    let lcov = std::fs::read_to_string(&file).unwrap();
    assert!(lcov.starts_with("TN:actas\nSF:"), "{lcov}");
    assert_eq!(
        lcov.matches("end_of_record").count(),
        3,
        "one record per .cedar file"
    );
}

#[test]
fn two_documents_cannot_share_stdout() {
    let (code, stdout, stderr) = output(&["test", "--format", "json", "--coverage-format", "json"]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("the test results and the coverage would both go to standard output"),
        "{stderr}"
    );
}

/// A copy of the uncovered fixture with one file replaced.
fn variant(file: &str, text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = support::root();
    for name in ["actas.yaml", "extra.cedar", "bindings.yaml"] {
        let mut content = std::fs::read_to_string(root.join(UNCOVERED).join(name)).unwrap();
        content = content.replace("../../../", &format!("{}/", root.display()));
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    std::fs::write(dir.path().join(file), text).unwrap();
    dir
}

#[test]
fn a_malformed_ignore_annotation_is_bad_input() {
    let dir = variant(
        "extra.cedar",
        "@id(\"x\")\n@actas_coverage(\"skip\")\npermit (principal == User::\"erin\", action == Action::\"read\", resource == Bucket::\"artifacts\");\n",
    );
    let (code, _, stderr) = output(&["-C", dir.path().to_str().unwrap(), "test", "--coverage"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "policy `x` (`extra.cedar:3`): @actas_coverage(\"skip\") is not `ignore: <why>`"
        ),
        "{stderr}"
    );
}

#[test]
fn a_bad_gate_is_bad_input_at_its_place() {
    let root = support::root();
    let config = std::fs::read_to_string(root.join(UNCOVERED).join("actas.yaml"))
        .unwrap()
        .replace("policies: 90", "policies: 190")
        .replace("routine: 25", "rutine: 25");
    let dir = variant(
        "actas.yaml",
        &config.replace("../../../", &format!("{}/", root.display())),
    );
    let (code, _, stderr) = output(&["-C", dir.path().to_str().unwrap(), "test"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("coverage must be a percentage from 0 to 100, not 190"),
        "{stderr}"
    );
    assert!(stderr.contains("actas.yaml:16:13"), "{stderr}");
    assert!(
        stderr.contains("`coverage.profiles`: unknown profile `rutine`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `routine`"), "{stderr}");
}
