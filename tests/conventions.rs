//! Terminal and workspace conventions users of cargo, ripgrep and nextest expect: the workspace
//! found from a folder below it, colour decided per stream, test output that scales.

use crate::support;

use std::process::Command;

use insta_cmd::get_cargo_bin;
use support::root;

fn actas_in(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(get_cargo_bin("actas"))
        .current_dir(dir)
        .env_clear()
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .expect("actas runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_workspace_is_found_from_a_folder_below_it() {
    let (code, stdout, stderr) = actas_in(&root().join("fixtures/scenarios"), &["test"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("55 passed, 0 failed"), "{stdout}");
}

#[test]
fn paths_on_the_command_line_stay_relative_to_where_actas_started() {
    let dir = root().join("fixtures");
    let (code, stdout, stderr) = actas_in(&dir, &["test", "scenarios/delegation.yaml"]);
    assert_eq!(code, 0, "{stderr}");
    let (_, all, _) = actas_in(&root(), &["test", "fixtures/scenarios/delegation.yaml"]);
    assert_eq!(stdout, all);
    // A path that exists only relative to the workspace is not found from below it.
    let (code, _, stderr) = actas_in(&dir, &["test", "fixtures/scenarios/delegation.yaml"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("fixtures/fixtures/scenarios/delegation.yaml"),
        "{stderr}"
    );
}

#[test]
fn dash_c_wins_over_the_folder_actas_started_in() {
    let second = root().join("tests/fixtures/other-world");
    let (code, stdout, stderr) = actas_in(
        &root().join("policies"),
        &["-C", second.to_str().unwrap(), "test"],
    );
    let (_, direct, _) = actas_in(&second, &["test"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, direct);
}

#[test]
fn without_a_workspace_above_the_error_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = actas_in(dir.path(), &["check"]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(stderr.contains("or above it: found neither"), "{stderr}");
}

/// Runs a shell command under `script`, so that standard error (and standard output unless
/// redirected) is a terminal; the environment is cleared but for PATH.
fn under_a_terminal(command: &str) -> String {
    let out = Command::new("script")
        .args(["-qec", command, "/dev/null"])
        .current_dir(root())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TERM", "xterm")
        .output()
        .expect("`script` (util-linux) runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_redirected_stdout_gets_no_colour_when_stderr_is_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("findings.txt");
    let bin = get_cargo_bin("actas");
    let terminal = under_a_terminal(&format!(
        "{bin} check > {file}; {bin} -C /no/such/folder check",
        bin = bin.display(),
        file = file.display()
    ));
    let findings = std::fs::read_to_string(&file).unwrap();
    assert!(findings.contains("warnings found"), "{findings}");
    assert!(!findings.contains('\x1b'), "{findings}");
    // The terminal itself (standard error) is coloured.
    assert!(terminal.contains("\x1b["), "{terminal:?}");
    assert!(
        terminal.contains("no workspace at `/no/such/folder`"),
        "{terminal:?}"
    );
}

#[test]
fn color_always_and_never_win_over_the_terminal_check_and_the_environment() {
    let bin = get_cargo_bin("actas");
    let out = Command::new(&bin)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .args(["check", "--color", "always"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains('\x1b'));
    let terminal = under_a_terminal(&format!("{} check --color never", bin.display()));
    assert!(terminal.contains("warnings found"), "{terminal:?}");
    assert!(!terminal.contains('\x1b'), "{terminal:?}");
    let forced = Command::new(&bin)
        .current_dir(root())
        .env_clear()
        .env("CLICOLOR_FORCE", "1")
        .arg("check")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&forced.stdout).contains('\x1b'));
}

#[test]
fn completions_generate_for_every_shell_and_the_manual_renders() {
    for (shell, marker) in [
        ("bash", "complete -F _actas"),
        ("zsh", "#compdef actas"),
        ("fish", "complete -c actas"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[actas]"),
    ] {
        let (code, stdout, stderr) = actas_in(&root(), &["completions", shell]);
        assert_eq!(code, 0, "{shell}: {stderr}");
        assert!(stdout.contains(marker), "{shell}: {stdout}");
        assert!(stdout.contains("who-can"), "{shell}");
        assert!(stdout.contains("status-level"), "{shell}");
    }
    let (code, stdout, _) = actas_in(&root(), &["man"]);
    assert_eq!(code, 0);
    assert!(stdout.contains(".TH actas 1"), "{stdout}");
    assert!(stdout.contains("who\\-can"), "{stdout}");
}

#[test]
fn help_puts_global_flags_under_their_own_heading_and_shows_examples() {
    for command in [
        "check", "test", "who-can", "suffice", "snapshot", "drift", "report",
    ] {
        let (code, stdout, _) = actas_in(&root(), &[command, "--help"]);
        assert_eq!(code, 0);
        let global = stdout.find("Global options:").expect(command);
        assert!(stdout[global..].contains("--workspace"), "{command}");
        assert!(!stdout[..global].contains("--workspace"), "{command}");
        assert!(
            stdout.contains("Examples:\n  actas "),
            "{command}: {stdout}"
        );
        // Every flag is described: no option line is a bare flag.
        for line in stdout.lines().filter(|l| l.trim_start().starts_with("--")) {
            assert!(
                line.trim_end().contains("  "),
                "{command}: undescribed `{line}`"
            );
        }
    }
}

#[test]
fn a_bare_id_names_the_one_fitting_entity_and_ambiguity_lists_the_candidates() {
    let (code, bare, stderr) = actas_in(&root(), &["who-can", "prod-deployer"]);
    assert_eq!(code, 0, "{stderr}");
    let (_, full, _) = actas_in(&root(), &["who-can", r#"ServiceAccount::"prod-deployer""#]);
    assert_eq!(bare, full);
    let (code, bare, _) = actas_in(&root(), &["who-can", "--principal", "carol"]);
    assert_eq!(code, 0);
    assert!(
        bare.starts_with(r#"What User::"carol" can act as"#),
        "{bare}"
    );
    // A typo gets a suggestion; an id of a type that does not fit is not found.
    let (code, _, stderr) = actas_in(&root(), &["who-can", "prod-deploer"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("did you mean `prod-deployer`?"), "{stderr}");
    // Two impersonating entities with the id `carol`: exit 2, both named.
    let dir = support::example_copy();
    let entities = dir.path().join("fixtures/entities.yaml");
    let mut text = std::fs::read_to_string(&entities).unwrap();
    text.push_str("\n- { uid: Agent::\"carol\", attrs: { owner: { __entity: { type: User, id: carol } } }, parents: [] }\n");
    std::fs::write(&entities, text).unwrap();
    let (code, stdout, stderr) = actas_in(dir.path(), &["who-can", "--principal", "carol"]);
    assert_eq!(code, 2, "{stdout}");
    assert!(stderr.contains("the id `carol` is ambiguous"), "{stderr}");
    assert!(
        stderr.contains(r#"`Agent::"carol"`, `User::"carol"`"#),
        "{stderr}"
    );
}

/// A folder with only a schema and policies (the example's) becomes a workspace whose
/// `actas test` passes, and `init` never replaces an `actas.yaml`.
#[test]
fn init_turns_schema_and_policies_into_a_passing_workspace() {
    let dir = tempfile::tempdir().unwrap();
    support::copy(&root().join("policies"), &dir.path().join("policies"));
    let (code, stdout, stderr) = actas_in(dir.path(), &["init"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("wrote actas.yaml"), "{stdout}");
    let config = std::fs::read_to_string(dir.path().join("actas.yaml")).unwrap();
    assert!(
        config.contains(r#"actions: ["Action::\"getAccessToken\""]"#),
        "{config}"
    );
    assert!(config.contains(r#"human_types: ["User"]"#), "{config}");
    assert!(config.contains(r#""duration_minutes":15"#), "{config}");
    let (code, stdout, stderr) = actas_in(dir.path(), &["test"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");
    assert!(stderr.is_empty(), "no warning once configured: {stderr}");
    let (code, _, stderr) = actas_in(dir.path(), &["init"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("already exists"), "{stderr}");
}

/// Cedar's example-application layout: `*.cedar`, a schema and `entities.json` side by side,
/// no impersonation action named so except `assumeRole`.
#[test]
fn init_reads_the_flat_layout_of_cedar_example_applications() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write(
        "app.cedarschema",
        "entity User { role: String };\nentity Role;\nentity Photo { owner: User };\n\
         action view appliesTo { principal: User, resource: Photo, context: {} };\n\
         action assumeRole appliesTo { principal: User, resource: Role, context: { mfa: Bool } };\n",
    );
    write(
        "policies.cedar",
        "@id(\"mfa-admins\")\npermit(principal, action == Action::\"assumeRole\", resource) when { context.mfa };\n",
    );
    write(
        "entities.json",
        r#"[{"uid":{"type":"User","id":"alice"},"attrs":{"role":"a"},"parents":[]},{"uid":{"type":"Role","id":"admin"},"attrs":{},"parents":[]}]"#,
    );
    let (code, stdout, stderr) = actas_in(dir.path(), &["init"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Cedar decides allow today"), "{stdout}");
    let (code, stdout, stderr) = actas_in(dir.path(), &["who-can", "admin"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(r#"User::"alice""#), "{stdout}");
    let (code, stdout, _) = actas_in(dir.path(), &["test"]);
    assert_eq!(code, 0, "{stdout}");
}

/// Without `impersonation.actions` and without the default action, plain cases still run and
/// one warning says impersonation analysis is off; a configured action that is missing is an
/// error naming the schema's likely ones and the setting.
#[test]
fn a_schema_without_the_default_action_runs_plain_cases_with_one_warning() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("policies")).unwrap();
    std::fs::create_dir_all(p.join("fixtures/scenarios")).unwrap();
    std::fs::write(
        p.join("policies/schema.cedarschema"),
        "entity User;\nentity Role;\naction view appliesTo { principal: User, resource: User };\n\
         action assume appliesTo { principal: User, resource: Role };\n",
    )
    .unwrap();
    std::fs::write(
        p.join("policies/p.cedar"),
        "@id(\"all-view\")\npermit(principal, action == Action::\"view\", resource);\n",
    )
    .unwrap();
    std::fs::write(
        p.join("fixtures/entities.yaml"),
        "- uid: User::\"a\"\n- uid: User::\"b\"\n",
    )
    .unwrap();
    std::fs::write(
        p.join("fixtures/scenarios/plain.yaml"),
        "cases:\n  - name: views\n    principal: User::\"a\"\n    action: Action::\"view\"\n    resource: User::\"b\"\n    expect: allow\n",
    )
    .unwrap();
    let (code, stdout, stderr) = actas_in(p, &["test"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");
    assert_eq!(
        stderr
            .matches("warning: impersonation analysis is off")
            .count(),
        1,
        "{stderr}"
    );
    assert!(
        stderr.contains(r#"likely ones: `Action::"assume"`"#),
        "{stderr}"
    );
    let (code, _, stderr) = actas_in(p, &["check"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("impersonation analysis is off"), "{stderr}");

    std::fs::write(
        p.join("actas.yaml"),
        "impersonation:\n  actions: ['Action::\"asume\"']\n",
    )
    .unwrap();
    let (code, _, stderr) = actas_in(p, &["test"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains(r#"`Action::"asume"` is not in the schema"#),
        "{stderr}"
    );
    assert!(stderr.contains("actas.yaml:2:"), "placed: {stderr}");
    assert!(
        stderr.contains("change `impersonation.actions` in actas.yaml"),
        "{stderr}"
    );
    assert!(stderr.contains(r#"`Action::"assume"`"#), "{stderr}");
}

/// An inventory with nothing that fits the example case keeps its place: the example entities
/// go into a file of their own, listed beside it.
#[test]
fn init_puts_example_entities_beside_an_inventory_without_fitting_ones() {
    let dir = tempfile::tempdir().unwrap();
    support::copy(&root().join("policies"), &dir.path().join("policies"));
    std::fs::create_dir_all(dir.path().join("fixtures")).unwrap();
    std::fs::write(
        dir.path().join("fixtures/entities.yaml"),
        "- uid: Project::\"prod\"\n",
    )
    .unwrap();
    let (code, stdout, stderr) = actas_in(dir.path(), &["init"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("wrote fixtures/example-entities.yaml"),
        "{stdout}"
    );
    let config = std::fs::read_to_string(dir.path().join("actas.yaml")).unwrap();
    assert!(
        config
            .contains(r#"entities: ["fixtures/entities.yaml", "fixtures/example-entities.yaml"]"#),
        "{config}"
    );
    let (code, stdout, stderr) = actas_in(dir.path(), &["test"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");
}
