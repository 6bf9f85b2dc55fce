//! Helpers shared by the integration tests.

#[allow(
    dead_code,
    reason = "shared with examples/gen_world.rs and benches/actas.rs, which use the rest"
)]
pub mod world;

use std::path::PathBuf;
use std::process::Command;

use insta_cmd::get_cargo_bin;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The fixed generation time of reports in tests (2026-01-01T00:00:00Z).
pub const SOURCE_DATE_EPOCH: &str = "1767225600";

/// `actas` run in the repository root, with a clean environment: no colour, reports dated
/// [`SOURCE_DATE_EPOCH`], and no `PATH`, so no git (provenance says "not in a git repository"
/// and snapshots do not change with every commit; tests/reports.rs checks the git case).
pub fn actas(args: &[&str]) -> Command {
    let mut cmd = Command::new(get_cargo_bin("actas"));
    cmd.current_dir(root())
        .env_clear()
        .env("NO_COLOR", "1")
        .env("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH)
        .env("GIT_DIR", "/nonexistent/actas-tests-have-no-repository")
        .args(args);
    cmd
}

/// An output with the command line of its provenance taken out (the human `command: actas …`
/// line, CSV's `# command:`, Markdown's and HTML's `Command:`, JSON's `"command_line": […]`), to
/// compare runs whose arguments differ only in what must not change the result.
pub fn without_command_line(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("\"command_line\": [") {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        rest = &after[after.find(']').map_or(after.len(), |j| j + 1)..];
    }
    out.push_str(rest);
    out.lines()
        .filter(|l| !l.contains("command: actas") && !l.contains("Command: "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// [`output`] with the command line taken out of stdout ([`without_command_line`]).
pub fn output_without_command_line(args: &[&str]) -> (i32, String, String) {
    let (code, stdout, stderr) = output(args);
    (code, without_command_line(&stdout), stderr)
}

/// Exit code, stdout and stderr.
pub fn output(args: &[&str]) -> (i32, String, String) {
    let out = actas(args).output().expect("actas runs");
    let code = out.status.code().unwrap_or(-1);
    (
        code,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Bad input: exit 2, no document on stdout, the message (and its place) on stderr, snapshotted.
macro_rules! bad_input {
    ($($name:ident => [$($arg:expr),*],)*) => {$(
        #[test]
        fn $name() {
            let (code, stdout, stderr) = $crate::support::output(&[$($arg),*]);
            assert_eq!(code, 2, "{stderr}");
            assert!(stdout.is_empty(), "{stdout}");
            insta::assert_snapshot!(stderr);
        }
    )*};
}
pub(crate) use bad_input;

/// A copy of the bundled example in a temporary folder.
pub fn example_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in ["actas.yaml", "policies", "fixtures"] {
        copy(&root().join(entry), &dir.path().join(entry));
    }
    dir
}

pub fn copy(from: &std::path::Path, to: &std::path::Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            copy(&e.path(), &to.join(e.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap();
    }
}

/// The cvc5 executable `actas prove` will use (`$CVC5`, else `cvc5` on PATH). `None` skips a
/// proof test with a note, unless `ACTAS_REQUIRE_SOLVER` is set (CI sets it after
/// `scripts/install-solver`), where a missing solver fails the test.
pub fn solver() -> Option<PathBuf> {
    let found = std::env::var_os("CVC5")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .map(|d| d.join("cvc5"))
                .find(|p| p.is_file())
        });
    if found.is_none() {
        assert!(
            std::env::var_os("ACTAS_REQUIRE_SOLVER").is_none(),
            "ACTAS_REQUIRE_SOLVER is set but no cvc5 was found: run scripts/install-solver"
        );
        eprintln!("skipped: no cvc5 (run scripts/install-solver)");
    }
    found
}

/// [`actas`] with the solver named by `CVC5`.
pub fn actas_proving(solver: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = actas(args);
    cmd.env("CVC5", solver);
    cmd
}
