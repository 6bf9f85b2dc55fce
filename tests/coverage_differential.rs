//! Differential test of `actas test --coverage` on generated worlds: a policy reported as
//! determining a decision is a determining policy of some request the cases make, evaluated
//! with raw Cedar over the whole policy set (and every such policy is reported); a condition
//! reported seen true is a policy that raw Cedar finds satisfied, alone, by some request; a
//! path is reported covered exactly when some case names its principal and target.

use crate::support;

use std::collections::BTreeSet;
use std::fmt::Write;
use std::str::FromStr;

use cedar_policy::{Authorizer, Context, Entities, EntityUid, PolicySet, Request, Schema};
use serde_json::Value;
use support::world::{generate, Rng, Size, World, ACTIONS, PROFILES};

/// One request a case makes: principal, action, resource.
type Req = (String, String, String);

/// Random cases over the world, and the requests each makes (every hop's every fitting
/// impersonation action, then the acting-as request), and the pairs each names.
fn cases(w: &World, seed: u64) -> (String, Vec<Req>, BTreeSet<(String, String)>) {
    let mut r = Rng::new(seed);
    let mut yaml = format!("defaults:\n  context: {}\ncases:\n", PROFILES[0].1);
    let mut requests = Vec::new();
    let mut pairs = BTreeSet::new();
    let hop_actions = |from: &str| -> Vec<String> {
        let ty = from.split("::").next().unwrap().to_string();
        ACTIONS
            .iter()
            .filter(|(_, p)| p.contains(&ty.as_str()))
            .map(|(a, _)| format!("Action::\"{a}\""))
            .collect()
    };
    for i in 0..40 {
        let principal = r.pick(&w.principals);
        if r.chance(20) {
            let target = r.pick(&w.accounts);
            let expect: Vec<String> = (0..r.below(3)).map(|_| r.pick(&w.principals)).collect();
            for p in &expect {
                pairs.insert((p.clone(), target.clone()));
            }
            let _ = writeln!(
                yaml,
                "  - name: set {i}\n    who_can_impersonate: '{target}'\n    expect: [{}]",
                expect
                    .iter()
                    .map(|e| format!("'{e}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            continue;
        }
        let chain: Vec<String> = (0..1 + r.below(2)).map(|_| r.pick(&w.accounts)).collect();
        if chain.contains(&principal) || (chain.len() == 2 && chain[0] == chain[1]) {
            continue;
        }
        let mut from = principal.clone();
        for to in &chain {
            for a in hop_actions(&from) {
                requests.push((from.clone(), a, to.clone()));
            }
            from = to.clone();
        }
        pairs.insert((principal.clone(), chain.last().unwrap().clone()));
        let _ =
            writeln!(
            yaml,
            "  - name: case {i}\n    principal: '{principal}'\n    chain: [{}]\n    expect: allow",
            chain.iter().map(|e| format!("'{e}'")).collect::<Vec<_>>().join(", ")
        );
        if w.schema.contains("action read") && r.chance(50) {
            let folder = r.pick(&w.folders);
            requests.push((from.clone(), "Action::\"read\"".into(), folder.clone()));
            let _ = writeln!(
                yaml,
                "    action: Action::\"read\"\n    resource: '{folder}'"
            );
        }
    }
    (yaml, requests, pairs)
}

fn request(schema: &Schema, (p, a, res): &Req) -> Request {
    let action: EntityUid = a.parse().unwrap();
    let ctx: Value = serde_json::from_str(PROFILES[0].1).unwrap();
    let context = Context::from_json_value(ctx, Some((schema, &action))).unwrap();
    Request::new(
        p.parse().unwrap(),
        action,
        res.parse().unwrap(),
        context,
        Some(schema),
    )
    .unwrap()
}

fn check(seed: u64, size: &Size) {
    let w = generate(seed, size, false);
    let dir = tempfile::tempdir().unwrap();
    w.write(dir.path());
    let (yaml, requests, pairs) = cases(&w, seed);
    std::fs::create_dir_all(dir.path().join("fixtures/scenarios")).unwrap();
    std::fs::write(dir.path().join("fixtures/scenarios/generated.yaml"), yaml).unwrap();
    let out = support::actas(&[
        "-C",
        dir.path().to_str().unwrap(),
        "test",
        "-q",
        "--coverage-format",
        "json",
    ])
    .output()
    .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();

    // The oracle: raw Cedar over the whole set, and each policy alone.
    let (schema, _) = Schema::from_cedarschema_str(&w.schema).unwrap();
    let policies = PolicySet::from_str(&w.policies).unwrap();
    let entities = Entities::from_json_str(&w.entities, Some(&schema)).unwrap();
    let authorizer = Authorizer::new();
    let prepared: Vec<Request> = requests.iter().map(|q| request(&schema, q)).collect();
    // The workspace names policies by their `@id`, as actas does.
    let name = |id: &cedar_policy::PolicyId| -> String {
        let p = policies.policy(id).unwrap();
        p.annotation("id")
            .map_or_else(|| id.to_string(), str::to_string)
    };
    let mut determined = BTreeSet::new();
    for q in &prepared {
        let response = authorizer.is_authorized(q, &policies, &entities);
        determined.extend(response.diagnostics().reason().map(name));
    }
    let mut satisfied = BTreeSet::new();
    for p in policies.policies() {
        let alone = PolicySet::from_policies([p.clone()]).unwrap();
        if prepared.iter().any(|q| {
            authorizer
                .is_authorized(q, &alone, &entities)
                .diagnostics()
                .reason()
                .next()
                .is_some()
        }) {
            satisfied.insert(name(p.id()));
        }
    }

    let reported = |field: &str| -> BTreeSet<String> {
        doc["policies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p[field] == true)
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(reported("determined"), determined, "seed {seed}");
    assert_eq!(reported("condition_true"), satisfied, "seed {seed}");
    assert!(
        !determined.is_empty(),
        "seed {seed}: the cases determine something"
    );

    let paths = doc["paths"].as_array().unwrap();
    assert!(!paths.is_empty(), "seed {seed}: the world has paths");
    for p in paths {
        let pair = (
            p["principal"].as_str().unwrap().to_string(),
            p["target"].as_str().unwrap().to_string(),
        );
        assert_eq!(p["covered"], pairs.contains(&pair), "seed {seed}: {p}");
    }
}

#[test]
fn coverage_equals_raw_cedar_on_generated_worlds() {
    for seed in 1..=4 {
        check(seed, &Size::WITH_GRANTS);
    }
    check(7, &Size::CROWD);
}
