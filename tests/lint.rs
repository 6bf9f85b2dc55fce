//! The lint rules of `actas check`: each rule on its fixture (tests/fixtures/lint/<rule>/triggers
//! must find it, …/passes must not), in every format, SARIF validated against the vendored
//! 2.1.0 schema, doc pages, `--explain`, levels and suppressions, and the CI recipe.

use crate::support;

use actas::lint::{Level, RULES};
use clap::Parser;
use serde_json::Value;
use support::{output, root};

const FORMATS: [&str; 4] = ["human", "json", "sarif", "github"];

fn fixture(rule: &str, kind: &str) -> String {
    format!("tests/fixtures/lint/{rule}/{kind}")
}

fn check(dir: &str, format: &str) -> (i32, String, String) {
    output(&["-C", dir, "check", "--format", format])
}

fn findings(json: &str) -> Vec<Value> {
    let doc: Value = serde_json::from_str(json).expect("check --format json is JSON");
    doc["findings"].as_array().cloned().unwrap_or_default()
}

fn rules_found(json: &str) -> Vec<String> {
    findings(json)
        .iter()
        .map(|f| f["rule"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn every_rule_has_a_doc_page_and_two_fixtures() {
    for rule in &RULES {
        let page = root().join(format!("docs/rules/{}.md", rule.name));
        let text = std::fs::read_to_string(&page).unwrap_or_else(|_| panic!("{page:?}"));
        assert!(
            text.starts_with(&format!("# {} ({})\n", rule.name, rule.code)),
            "{} must start with its name and code",
            page.display()
        );
        assert_eq!(text, rule.doc, "the binary carries the page as written");
        assert!(
            text.contains(&format!("Level: {}", rule.level.name())),
            "{}: the page states the default level",
            rule.name
        );
        for kind in ["triggers", "passes"] {
            let dir = root().join(fixture(rule.name, kind));
            assert!(dir.join("actas.yaml").is_file(), "{dir:?}");
        }
    }
}

#[test]
fn codes_and_names_are_unique_and_stable() {
    let codes: Vec<&str> = RULES.iter().map(|r| r.code).collect();
    let expected: Vec<String> = (0..RULES.len()).map(|i| format!("IMP{i:03}")).collect();
    assert_eq!(codes, expected);
    let mut names: Vec<&str> = RULES.iter().map(|r| r.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), RULES.len());
}

#[test]
fn each_rule_is_found_on_its_fixture_and_not_on_the_other() {
    for rule in &RULES {
        let (code, json, stderr) = check(&fixture(rule.name, "triggers"), "json");
        let found = rules_found(&json);
        assert!(
            found.iter().any(|r| r == rule.name),
            "{}: not found in {found:?}\n{stderr}",
            rule.name
        );
        // Only this rule fires on its fixture, so the snapshots below show it alone.
        assert!(
            found.iter().all(|r| r == rule.name),
            "{}: {found:?}",
            rule.name
        );
        assert_eq!(code, i32::from(rule.level == Level::Error), "{}", rule.name);

        let (code, json, stderr) = check(&fixture(rule.name, "passes"), "json");
        assert_eq!(
            rules_found(&json),
            Vec::<String>::new(),
            "{}: {stderr}",
            rule.name
        );
        assert_eq!(code, 0, "{}", rule.name);
    }
}

#[test]
fn each_rule_on_its_fixture_in_every_format() {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r#""version": "\d+\.\d+\.\d+""#, r#""version": "[version]""#);
    settings.add_filter(
        r#""semanticVersion": "\d+\.\d+\.\d+""#,
        r#""semanticVersion": "[version]""#,
    );
    settings.bind(|| {
        for rule in &RULES {
            for format in FORMATS {
                let (_, stdout, stderr) = check(&fixture(rule.name, "triggers"), format);
                assert!(stderr.is_empty(), "{stderr}");
                let stdout = if format == "sarif" {
                    // The rule table (with every doc page) is the same in each; keep the results.
                    let mut doc: Value = serde_json::from_str(&stdout).expect("SARIF is JSON");
                    doc["runs"][0]["tool"]["driver"]["rules"] = Value::String("[rules]".into());
                    serde_json::to_string_pretty(&doc).expect("serialises")
                } else {
                    stdout
                };
                insta::assert_snapshot!(format!("{}-{format}", rule.name), stdout);
            }
        }
    });
}

#[test]
fn sarif_is_valid_against_the_2_1_0_schema() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/schemas/sarif-2.1.0.json")).expect("vendored"),
    )
    .expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let mut dirs: Vec<String> = RULES
        .iter()
        .flat_map(|r| [fixture(r.name, "triggers"), fixture(r.name, "passes")])
        .collect();
    dirs.push(".".into());
    for dir in &dirs {
        let (_, stdout, _) = check(dir, "sarif");
        let doc: Value = serde_json::from_str(&stdout).expect("SARIF is JSON");
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{dir}: {errors:#?}");
        // The rule table describes every rule with its doc page.
        let rules = doc["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .expect("rules");
        assert_eq!(rules.len(), RULES.len());
        for (r, rule) in rules.iter().zip(&RULES) {
            assert_eq!(r["id"], rule.code);
            assert_eq!(r["help"]["markdown"], rule.doc);
        }
    }
    // The validator is not vacuous: a result without a message is refused.
    let (_, stdout, _) = check(&fixture("open-impersonation", "triggers"), "sarif");
    let mut doc: Value = serde_json::from_str(&stdout).expect("JSON");
    doc["runs"][0]["results"][0]
        .as_object_mut()
        .expect("a result")
        .remove("message");
    assert!(!validator.is_valid(&doc));
}

#[test]
fn sarif_keeps_suppressed_findings_as_suppressed_results() {
    let (code, stdout, _) = check(&fixture("unused-suppression", "passes"), "sarif");
    assert_eq!(code, 0);
    let doc: Value = serde_json::from_str(&stdout).expect("JSON");
    let results = doc["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["ruleId"], "IMP003");
    assert_eq!(results[0]["suppressions"][0]["kind"], "inSource");
    assert_eq!(
        results[0]["suppressions"][0]["justification"],
        "every engineer may mint the sandbox token"
    );
}

#[test]
fn the_example_has_no_errors_and_explains_its_suppression() {
    let (code, stdout, _) = output(&["check", "--format", "json"]);
    assert_eq!(code, 0, "{stdout}");
    let doc: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(doc["summary"]["errors"], 0);
    for s in doc["suppressions"].as_array().expect("suppressions") {
        assert!(s["reason"].as_str().is_some_and(|r| r.len() > 20), "{s}");
        assert!(!s["suppressed"].as_array().expect("list").is_empty(), "{s}");
    }
}

#[test]
fn levels_from_actas_yaml_change_the_exit_code() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = root().join(fixture("open-impersonation", "triggers"));
    let yaml = std::fs::read_to_string(src.join("actas.yaml"))
        .expect("fixture")
        .replace(
            "../../",
            &format!("{}/", root().join("tests/fixtures/lint").display()),
        );
    std::fs::copy(
        src.join("policies.cedar"),
        dir.path().join("policies.cedar"),
    )
    .expect("copy");
    let path = dir.path().to_str().expect("utf-8");
    for (level, exit, count) in [("error", 1, 1), ("warning", 0, 1), ("off", 0, 0)] {
        std::fs::write(
            dir.path().join("actas.yaml"),
            format!("{yaml}lint:\n  open-impersonation: {level}\n"),
        )
        .expect("write");
        let (code, json, stderr) = check(path, "json");
        assert_eq!(code, exit, "{level}: {stderr}");
        let found = findings(&json);
        assert_eq!(found.len(), count, "{level}");
        if count == 1 {
            assert_eq!(found[0]["level"], level);
        }
    }
}

#[test]
fn a_bad_lint_setting_is_bad_input_for_other_commands() {
    let dir = "tests/fixtures/lint/bad-settings";
    let (code, stdout, stderr) = output(&["-C", dir, "who-can", r#"ServiceAccount::"a""#]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    insta::assert_snapshot!("bad-settings", stderr);
    // `check` reports the same problems as findings, each with its place.
    let (code, json, _) = check(dir, "json");
    assert_eq!(code, 1);
    assert_eq!(rules_found(&json), vec!["invalid-input"; 7]);
}

#[test]
fn explain_prints_each_page_by_name_or_code() {
    for rule in &RULES {
        for key in [rule.name, rule.code] {
            let (code, stdout, _) = output(&["check", "--explain", key]);
            assert_eq!(code, 0);
            assert_eq!(stdout, rule.doc);
        }
    }
    let (code, stdout, stderr) = output(&["check", "--explain", "unbounded"]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    insta::assert_snapshot!("explain-unknown", stderr);
}

/// The CI recipe: the workflow and the pre-commit hook parse, and every actas command they run
/// is one this binary accepts.
#[test]
fn ci_recipe_parses_and_its_commands_exist() {
    let workflow = std::fs::read_to_string(root().join("docs/ci/actas.yml")).expect("workflow");
    let doc: Value = serde_saphyr::from_str(&workflow).expect("workflow is YAML");
    let jobs = doc["jobs"].as_object().expect("jobs");
    assert!(
        jobs.contains_key("lint") && jobs.contains_key("test"),
        "{jobs:?}"
    );
    let guide = std::fs::read_to_string(root().join("docs/ci.md")).expect("docs/ci.md");
    assert!(
        guide.contains(workflow.trim()),
        "docs/ci.md shows the workflow as it is"
    );

    let mut commands = Vec::new();
    for job in jobs.values() {
        for step in job["steps"].as_array().expect("steps") {
            assert!(
                step.get("uses").is_some() || step.get("run").is_some(),
                "{step}"
            );
            if step["uses"]
                .as_str()
                .is_some_and(|u| u.contains("upload-sarif"))
            {
                assert!(step["with"]["sarif_file"].is_string(), "{step}");
            }
            if let Some(run) = step["run"].as_str() {
                commands.extend(actas_commands(run));
            }
        }
    }
    let hooks: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(root().join(".pre-commit-hooks.yaml")).expect("hooks"),
    )
    .expect("hooks are YAML");
    for hook in hooks.as_array().expect("a list of hooks") {
        for key in ["id", "name", "entry", "language"] {
            assert!(hook[key].is_string(), "{hook}");
        }
        commands.extend(actas_commands(hook["entry"].as_str().unwrap_or_default()));
    }
    let action: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(root().join("action.yml")).expect("action.yml"),
    )
    .expect("action.yml is YAML");
    assert_eq!(action["runs"]["using"], "composite");
    for step in action["runs"]["steps"].as_array().expect("steps") {
        if let Some(run) = step["run"].as_str() {
            commands.extend(actas_commands(run));
        }
    }
    assert!(commands.len() >= 7, "{commands:?}");
    for c in &commands {
        let words = shell_words(&c.replace("${{ matrix.shard }}", "1"));
        actas::app::Cli::try_parse_from(&words).unwrap_or_else(|e| panic!("`{c}`: {e}"));
    }
}

/// Lines of a shell script that run actas (`actas …`, or a quoted path to it such as
/// `"$ACTAS" …`), with `\` continuations joined, redirections cut and the shard variable set.
fn actas_commands(script: &str) -> Vec<String> {
    script
        .replace("\\\n", " ")
        .lines()
        .map(str::trim)
        .filter_map(|l| {
            if l.starts_with("actas ") {
                return Some(l.to_string());
            }
            let rest = l.strip_prefix('"')?;
            let (program, args) = rest.split_once('"')?;
            (program == "$ACTAS" || program.ends_with("/actas")).then(|| format!("actas{args}"))
        })
        .map(|l| {
            l.split(['>', '|'])
                .next()
                .unwrap_or(&l)
                .trim()
                .replace("$SHARD", "1")
        })
        .collect()
}

fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    for c in line.chars() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ' ') => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            _ => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// One open permit used to give a screenful of escalating-chain warnings on its own line: the
/// findings of one rule at one policy are one finding with a count, every instance in JSON, and
/// the union of their related places (SARIF `occurrenceCount` and `relatedLocations`).
#[test]
fn findings_of_one_rule_at_one_policy_are_one_finding_with_a_count() {
    let dir = support::example_copy();
    let policies = dir.path().join("policies/impersonation.cedar");
    let mut text = std::fs::read_to_string(&policies).unwrap();
    text.push_str(
        "\n@id(\"open-door\")\npermit (principal, action == Action::\"getAccessToken\", resource);\n",
    );
    std::fs::write(&policies, text).unwrap();
    let at = dir.path().to_str().unwrap();

    let (code, json, _) = check(at, "json");
    assert_eq!(code, 1, "open-impersonation is an error");
    let chains: Vec<Value> = findings(&json)
        .into_iter()
        .filter(|f| f["rule"] == "escalating-chain" && f["policies"][0] == "open-door")
        .collect();
    assert_eq!(chains.len(), 1, "{chains:#?}");
    let chain = &chains[0];
    let count = chain["count"].as_u64().unwrap();
    assert!(count > 5, "{chain:#}");
    assert_eq!(chain["instances"].as_array().unwrap().len() as u64, count);
    assert!(
        chain["message"].as_str().unwrap().starts_with(&format!(
            "{count} escalating-chain findings at this policy:"
        )),
        "{chain:#}"
    );
    // No two findings of one rule share a place.
    let mut places: Vec<(String, Value, Value)> = findings(&json)
        .iter()
        .map(|f| (f["rule"].to_string(), f["file"].clone(), f["line"].clone()))
        .collect();
    let all = places.len();
    places.sort_by_key(|p| format!("{p:?}"));
    places.dedup();
    assert_eq!(places.len(), all);

    let (_, sarif, _) = check(at, "sarif");
    let doc: Value = serde_json::from_str(&sarif).unwrap();
    let results = doc["runs"][0]["results"].as_array().unwrap();
    let grouped: Vec<&Value> = results
        .iter()
        .filter(|r| r["occurrenceCount"].as_u64() == Some(count))
        .collect();
    assert_eq!(grouped.len(), 1, "{results:#?}");
    assert_eq!(grouped[0]["ruleId"], "IMP005");
    assert!(
        !grouped[0]["relatedLocations"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{:#}",
        grouped[0]
    );

    let (_, human, _) = check(at, "human");
    assert!(human.contains(&format!(
        "{count} escalating-chain findings at this policy:"
    )));
    assert!(
        human.contains("(`--format json` lists every one)"),
        "{human}"
    );
    let (_, github, _) = check(at, "github");
    let chains_in_json = findings(&json)
        .iter()
        .filter(|f| f["rule"] == "escalating-chain")
        .count();
    assert_eq!(
        github.matches("title=IMP005 escalating-chain::").count(),
        chains_in_json,
        "one annotation per grouped finding: {github}"
    );
}

/// The bound, justification and MFA rules proved with cvc5 find exactly what reading the policy
/// text finds on every fixture (both spellings of a bound, a scope the action cannot satisfy),
/// and say which way each finding was decided.
#[test]
fn the_guarantee_rules_find_the_same_with_the_solver() {
    let Some(solver) = support::solver() else {
        return;
    };
    let run = |dir: &str, args: &[&str]| {
        let mut all = vec!["-C", dir, "check", "--format", "json"];
        all.extend_from_slice(args);
        let out = support::actas_proving(&solver, &all).output().unwrap();
        findings(&String::from_utf8_lossy(&out.stdout))
    };
    let key = |f: &Value| (f["rule"].to_string(), f["policies"].to_string());
    for rule in [
        "unbounded-impersonation",
        "unjustified-impersonation",
        "human-without-mfa",
    ] {
        for kind in ["triggers", "passes"] {
            let dir = fixture(rule, kind);
            let proved = run(&dir, &[]);
            let read = run(&dir, &["--no-solver"]);
            assert_eq!(
                proved.iter().map(key).collect::<Vec<_>>(),
                read.iter().map(key).collect::<Vec<_>>(),
                "{dir}"
            );
            for f in proved.iter().filter(|f| f["rule"] == rule) {
                let m = f["message"].as_str().unwrap();
                assert!(
                    m.contains("(proved by the solver: e.g. ")
                        || m.contains("(Cedar allows it on the inventory: e.g. "),
                    "{dir}: {m}"
                );
            }
            for f in read.iter().filter(|f| f["rule"] == rule) {
                let m = f["message"].as_str().unwrap();
                assert!(m.contains("(read from the policy text)"), "{dir}: {m}");
            }
        }
    }
}

/// A permit whose resource type the impersonation action cannot take allows no impersonation:
/// neither way reports it.
#[test]
fn a_scope_the_action_cannot_take_is_never_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("policies")).unwrap();
    std::fs::write(
        dir.path().join("policies/schema.cedarschema"),
        "entity Team;\nentity Person in [Team];\nentity Robot;\nentity Vault;\ntype Ctx = { minutes: Long, mfa: Bool, justification: String };\naction assume appliesTo { principal: [Person], resource: [Robot], context: Ctx };\naction open appliesTo { principal: [Person], resource: [Vault], context: Ctx };\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("policies/vault.cedar"),
        "@id(\"vault-admins\")\npermit (principal in Team::\"vault-admins\", action, resource is Vault);\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("actas.yaml"),
        "entities: []\nimpersonation:\n  actions: ['Action::\"assume\"']\nlint:\n  duration_attribute: minutes\n",
    )
    .unwrap();
    let path = dir.path().to_str().unwrap();
    let mut runs = vec![output(&["-C", path, "check", "--format", "json"])];
    if let Some(solver) = support::solver() {
        let out = support::actas_proving(&solver, &["-C", path, "check", "--format", "json"])
            .output()
            .unwrap();
        runs.push((
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ));
    }
    for (_, json, stderr) in runs {
        let found = rules_found(&json);
        assert!(
            !found.iter().any(|r| [
                "unbounded-impersonation",
                "unjustified-impersonation",
                "human-without-mfa",
                "open-impersonation"
            ]
            .contains(&r.as_str())),
            "{found:?} {stderr}"
        );
    }
}

/// Before the solver is asked, a few requests of the inventory are put to Cedar with the
/// guarantee broken, under the profiles' contexts: one it allows confirms the finding with real
/// names; a permit no profile's context satisfies goes to the solver, which confirms it with an
/// example of its own.
#[test]
fn a_broken_guarantee_is_shown_on_the_inventory_else_proved_by_the_solver() {
    let Some(solver) = support::solver() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    support::copy(&support::root().join("tests/fixtures/lint"), dir.path());
    let at = dir.path().join("human-without-mfa/triggers");
    let mut policies = std::fs::read_to_string(at.join("policies.cedar")).unwrap();
    policies.push_str(
        "@id(\"ops-b\")\npermit (principal == User::\"bob\", action == Action::\"getAccessToken\", resource == ServiceAccount::\"b\")\nwhen { context.duration_minutes <= 30 && context.justification like \"OPS-*\" };\n",
    );
    std::fs::write(at.join("policies.cedar"), policies).unwrap();
    let args = ["-C", at.to_str().unwrap(), "check", "--format", "json"];
    let out = support::actas_proving(&solver, &args).output().unwrap();
    let found = findings(&String::from_utf8_lossy(&out.stdout));
    let message = |id: &str| {
        found
            .iter()
            .find(|f| f["rule"] == "human-without-mfa" && f["policies"][0] == id)
            .and_then(|f| f["message"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        message("bob-b").ends_with(
            "(Cedar allows it on the inventory: e.g. User::\"bob\" → ServiceAccount::\"b\" with `context.mfa` = false)"
        ),
        "{found:#?}"
    );
    assert!(
        message("ops-b").contains("(proved by the solver: e.g. "),
        "{found:#?}"
    );
}
