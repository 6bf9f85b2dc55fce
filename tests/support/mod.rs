//! Helpers shared by the integration tests.
#![allow(dead_code, reason = "each test crate uses part of it")]

pub mod world;

use std::path::PathBuf;
use std::process::Command;

use insta_cmd::get_cargo_bin;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `actas` run in the repository root, with a clean environment.
pub fn actas(args: &[&str]) -> Command {
    let mut cmd = Command::new(get_cargo_bin("actas"));
    cmd.current_dir(root())
        .env_clear()
        .env("NO_COLOR", "1")
        .args(args);
    cmd
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
#[macro_export]
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
