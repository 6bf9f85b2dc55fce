//! `actas snapshot` and `actas drift` on the bundled example: the committed baseline is current,
//! a changed workspace drifts (with severities), the usage log is read line by line, the baseline
//! is written atomically, and bad inputs are refused without touching the baseline.

use crate::support::{self, bad_input};

use insta_cmd::assert_cmd_snapshot;
use support::{actas, output, root};

const BASELINE: &str = "../../../actas.baseline.json";

#[test]
fn the_committed_baseline_is_current() {
    // A snapshot of the example equals the committed file byte for byte (sorted, stable).
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b.json");
    let (code, stdout, stderr) = output(&["snapshot", "--output", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("3 profiles"), "{stdout}");
    let fresh = std::fs::read_to_string(&out).unwrap();
    let committed = std::fs::read_to_string(root().join("actas.baseline.json")).unwrap();
    assert_eq!(
        fresh, committed,
        "run `actas snapshot` and commit actas.baseline.json"
    );
    let (code, stdout, _) = output(&["drift"]);
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn snapshot_human() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("baseline.json");
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"wrote \S*baseline\.json", "wrote [TEMP]/baseline.json");
    settings.bind(|| {
        assert_cmd_snapshot!(actas(&["snapshot", "--output", out.to_str().unwrap()]));
    });
}

#[test]
fn drift_human() {
    assert_cmd_snapshot!(actas(&[
        "-C",
        "tests/fixtures/drifted",
        "drift",
        "--baseline",
        BASELINE
    ]));
}

#[test]
fn drift_json() {
    assert_cmd_snapshot!(actas(&[
        "-C",
        "tests/fixtures/drifted",
        "drift",
        "--baseline",
        BASELINE,
        "--format",
        "json"
    ]));
}

#[test]
fn drift_markdown() {
    assert_cmd_snapshot!(actas(&[
        "-C",
        "tests/fixtures/drifted",
        "drift",
        "--baseline",
        BASELINE,
        "--format",
        "markdown"
    ]));
}

#[test]
fn usage_log_human() {
    // dave's pushes through the CI runner are forbidden now: a real workload that breaks.
    assert_cmd_snapshot!(actas(&["drift", "--usage", "fixtures/usage.jsonl"]));
}

#[test]
fn usage_log_json_since() {
    assert_cmd_snapshot!(actas(&[
        "drift",
        "--usage",
        "fixtures/usage.jsonl",
        "--since",
        "2026-10-25T00:00:00Z",
        "--format",
        "json"
    ]));
}

#[test]
fn usage_log_markdown() {
    assert_cmd_snapshot!(actas(&[
        "drift",
        "--usage",
        "fixtures/usage.jsonl",
        "--format",
        "markdown"
    ]));
}

#[test]
fn lenient_skips_and_counts_malformed_lines() {
    let (code, stdout, stderr) = output(&[
        "drift",
        "--usage",
        "tests/fixtures/usage-malformed.jsonl",
        "--lenient",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let doc: actas::report::json::DriftDoc = serde_json::from_str(&stdout).unwrap();
    let u = doc.usage.unwrap();
    let skipped: Vec<usize> = u.skipped_lines.iter().map(|n| n.line).collect();
    assert_eq!(skipped, [2, 3]);
    // A syntax error says where in its line.
    assert_eq!(
        u.skipped_lines[0].reason,
        "column 63: EOF while parsing an object"
    );
    assert_eq!(u.considered, 1);
}

#[test]
fn accept_rewrites_the_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("b.json");
    std::fs::copy(root().join("actas.baseline.json"), &copy).unwrap();
    let path = copy.to_str().unwrap();
    let (code, _, _) = output(&[
        "-C",
        "tests/fixtures/drifted",
        "drift",
        "--baseline",
        path,
        "--accept",
    ]);
    assert_eq!(code, 1, "the run still reports the drift it accepts");
    let (code, stdout, _) = output(&["-C", "tests/fixtures/drifted", "drift", "--baseline", path]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("0 new, 0 removed"), "{stdout}");
}

#[test]
fn a_write_that_cannot_happen_leaves_the_old_baseline_and_the_report_stands() {
    // The folder is made immutable (as root, permissions do not stop a write; the immutable
    // attribute does): no temporary file can be made beside the baseline, so `--accept` fails
    // after the report is printed, and the baseline keeps its old contents.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("b.json");
    std::fs::copy(root().join("actas.baseline.json"), &copy).unwrap();
    let before = std::fs::read(&copy).unwrap();
    let locked = std::process::Command::new("chattr")
        .arg("+i")
        .arg(dir.path())
        .status()
        .is_ok_and(|s| s.success());
    if !locked {
        eprintln!("skipped: `chattr +i` is not available here");
        return;
    }
    let path = copy.to_str().unwrap();
    let run = output(&[
        "-C",
        "tests/fixtures/drifted",
        "drift",
        "--baseline",
        path,
        "--accept",
    ]);
    let snapshot = output(&["snapshot", "--output", path]);
    let _ = std::process::Command::new("chattr")
        .arg("-i")
        .arg(dir.path())
        .status();
    let (code, stdout, stderr) = run;
    assert_eq!(code, 2, "{stdout}");
    assert!(
        stdout.contains("drift: "),
        "the report is printed: {stdout}"
    );
    let flat = stderr.replace('│', " ");
    let flat = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("failed to write"), "{flat}");
    assert!(
        flat.contains("the previous baseline is unchanged"),
        "{flat}"
    );
    assert_eq!(snapshot.0, 2, "{}", snapshot.2);
    assert_eq!(std::fs::read(&copy).unwrap(), before);
}

#[test]
fn a_stale_temporary_file_does_not_block_the_next_write() {
    // A run killed mid-write leaves its temporary file; the next one writes all the same.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b.json");
    std::fs::write(dir.path().join(".b.json.tmp"), "half a baseline").unwrap();
    let (code, stdout, stderr) = output(&["snapshot", "--output", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, _, stderr) = output(&["drift", "--baseline", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn snapshot_into_a_device_or_a_folder_destroys_nothing() {
    let (code, stdout, stderr) = output(&["snapshot", "--output", "/dev/null"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!std::fs::metadata("/dev/null").unwrap().is_file());
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = output(&["snapshot", "--output", dir.path().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("is a folder"), "{stderr}");
}

#[test]
fn drift_between_equal_inputs_is_empty_whatever_the_threads() {
    let one = output(&[
        "--threads",
        "1",
        "drift",
        "--usage",
        "fixtures/usage.jsonl",
        "--format",
        "json",
    ]);
    let two = output(&[
        "--threads",
        "2",
        "drift",
        "--usage",
        "fixtures/usage.jsonl",
        "--format",
        "json",
    ]);
    assert_eq!(one, two);
}

bad_input! {
    bad_baseline_version => ["drift", "--baseline", "tests/fixtures/baselines/v99.json", "--accept"],
    // The format before streaming (every acting-as grant listed): refused, with the way out.
    bad_baseline_v1 => ["drift", "--baseline", "tests/fixtures/baselines/v1.json"],
    // Paths are compared in order as they are read; a file edited out of order is refused.
    bad_baseline_unsorted => ["drift", "--baseline", "tests/fixtures/baselines/unsorted.json"],
    // A path named twice under one profile (two routes both naming it).
    bad_baseline_repeated => ["drift", "--baseline", "tests/fixtures/baselines/repeated.json"],
    // A route under a profile the baseline does not list.
    bad_baseline_unknown_profile => ["drift", "--baseline", "tests/fixtures/baselines/unknown-profile.json"],
    // A file cut short (an interrupted copy): the place where the text stops.
    bad_baseline_truncated => ["drift", "--baseline", "tests/fixtures/baselines/truncated.json"],
    bad_baseline_schema => ["-C", "tests/fixtures/other-world", "drift", "--baseline", BASELINE, "--accept"],
    bad_baseline_missing => ["drift", "--baseline", "no-such-baseline.json"],
    bad_usage_line => ["drift", "--usage", "tests/fixtures/usage-malformed.jsonl"],
    bad_since => ["drift", "--usage", "fixtures/usage.jsonl", "--since", "last tuesday"],
}

#[test]
fn a_refused_baseline_is_not_overwritten() {
    let before = std::fs::read(root().join("tests/fixtures/baselines/v99.json")).unwrap();
    let _ = output(&[
        "drift",
        "--baseline",
        "tests/fixtures/baselines/v99.json",
        "--accept",
    ]);
    assert_eq!(
        std::fs::read(root().join("tests/fixtures/baselines/v99.json")).unwrap(),
        before
    );
}
