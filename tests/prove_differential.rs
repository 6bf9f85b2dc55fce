//! Differential test of `actas prove` on generated worlds, for every property kind: a refuted
//! property's every counterexample, replayed through raw Cedar (not actas), is a request that
//! violates the property; a proved property has no violating request among an exhaustive
//! enumeration of the world's inventory (every principal, action, resource and profile
//! context), evaluated by raw Cedar. The oracle builds the property's policy itself from the
//! same words, so a property actas compiles wrongly shows up as a mismatch.

use crate::support;

use std::fmt::Write;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, EntityUid, PolicySet, Request, Schema,
};
use support::world::{generate, Rng, Size, PROFILES};

/// One generated property: its YAML, and what the oracle checks.
struct Generated {
    yaml: String,
    oracle: Oracle,
}

enum Oracle {
    /// Violated when the world and this policy both allow a request.
    Never(PolicySet),
    /// Violated when the world allows and the reference denies.
    NoNewAccess(PolicySet),
    /// Violated when the two decide differently.
    Equivalent(PolicySet),
}

fn allows(set: &PolicySet, request: &Request, entities: &Entities) -> bool {
    Authorizer::new()
        .is_authorized(request, set, entities)
        .decision()
        == Decision::Allow
}

impl Oracle {
    fn violated(&self, world: &PolicySet, request: &Request, entities: &Entities) -> bool {
        let ours = allows(world, request, entities);
        match self {
            Oracle::Never(p) => ours && allows(p, request, entities),
            Oracle::NoNewAccess(r) => ours && !allows(r, request, entities),
            Oracle::Equivalent(r) => ours != allows(r, request, entities),
        }
    }
}

fn never(name: &str, yaml_scope: &str, cedar_scope: (&str, &str, &str), when: &str) -> Generated {
    let (principal, actions, resource) = cedar_scope;
    let policy = format!(
        "permit (principal{principal}, action in [{actions}], resource{resource}) when {{ {when} }};"
    );
    Generated {
        yaml: format!(
            "  - name: {name}\n    never: {{ {yaml_scope}when: '{}' }}\n",
            when.replace('\'', "''")
        ),
        oracle: Oracle::Never(policy.parse().unwrap()),
    }
}

fn envelope(
    name: &str,
    yaml_scope: &str,
    cedar_scope: (&str, &str, &str),
    require: &str,
) -> Generated {
    let mut g = never(name, yaml_scope, cedar_scope, &format!("!({require})"));
    g.yaml = format!(
        "  - name: {name}\n    envelope: {{ {yaml_scope}require: '{}' }}\n",
        require.replace('\'', "''")
    );
    g
}

/// The world's policies without one (of the effect asked for), as a folder and for the oracle.
fn without_one(
    r: &mut Rng,
    all: &PolicySet,
    forbid: Option<bool>,
    dir: &std::path::Path,
    name: &str,
) -> Option<PolicySet> {
    let candidates: Vec<_> = all
        .policies()
        .filter(|p| forbid.is_none_or(|f| (p.effect() == cedar_policy::Effect::Forbid) == f))
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let dropped = r.pick(&candidates).id().clone();
    let mut text = String::new();
    let mut kept = PolicySet::new();
    for p in all.policies().filter(|p| *p.id() != dropped) {
        let _ = writeln!(text, "{}\n", p.to_cedar().unwrap());
        kept.add(p.clone()).unwrap();
    }
    std::fs::create_dir_all(dir.join(name)).unwrap();
    std::fs::write(dir.join(name).join("policies.cedar"), text).unwrap();
    Some(kept)
}

fn world_text(all: &PolicySet) -> String {
    let mut text = String::new();
    for p in all.policies() {
        let _ = writeln!(text, "{}\n", p.to_cedar().unwrap());
    }
    text
}

fn properties(seed: u64, world_policies: &PolicySet, dir: &std::path::Path) -> Vec<Generated> {
    let mut r = Rng::new(seed ^ 0x5EED);
    let hours = r.below(8);
    let team = format!("Team::\"t{}\"", r.below(3));
    let folder = format!("Folder::\"f{}\"", r.below(3));
    let tier = 1 + r.below(3);
    let mut out = vec![
        never(
            "impersonation is short",
            "action: 'Action::\"impersonate\"', ",
            ("", "Action::\"impersonate\"", ""),
            &format!("context.hours > {hours}"),
        ),
        never(
            "people never sign for a folder",
            &format!("principal: {{ is: Person }}, resource: {{ in: '{folder}' }}, action: 'Action::\"signJwt\"', "),
            (" is Person", "Action::\"signJwt\"", &format!(" in {folder}")),
            "true",
        ),
        envelope(
            "mfa always",
            "action: ['Action::\"impersonate\"', 'Action::\"signJwt\"'], ",
            ("", "Action::\"impersonate\", Action::\"signJwt\"", ""),
            "context.mfa",
        ),
        envelope(
            "a team stays on low tiers",
            &format!("principal: {{ in: '{team}' }}, "),
            (&format!(" in {team}"), "Action::\"impersonate\", Action::\"signJwt\"", ""),
            &format!("resource.tier < {tier}"),
        ),
        envelope(
            "reads need a ticket",
            "action: 'Action::\"read\"', ",
            ("", "Action::\"read\"", ""),
            "context.ticket like \"CHG-*\"",
        ),
    ];
    // The same policies, and the same plus one permit: proved, whatever the world.
    let copy = dir.join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::write(copy.join("policies.cedar"), world_text(world_policies)).unwrap();
    out.push(Generated {
        yaml: "  - name: equivalent to a copy\n    equivalent: { to: ../../copy }\n".into(),
        oracle: Oracle::Equivalent(world_policies.clone()),
    });
    let wider = dir.join("wider");
    std::fs::create_dir_all(&wider).unwrap();
    let extra = format!("permit (principal in {team}, action, resource);\n");
    std::fs::write(
        wider.join("policies.cedar"),
        world_text(world_policies) + &extra,
    )
    .unwrap();
    let mut with_extra = world_policies.clone();
    with_extra
        .add(
            cedar_policy::Policy::parse(Some(cedar_policy::PolicyId::new("extra")), &extra)
                .unwrap(),
        )
        .unwrap();
    out.push(Generated {
        yaml: "  - name: nothing new against a wider set\n    no_new_access: { against: ../../wider }\n".into(),
        oracle: Oracle::NoNewAccess(with_extra),
    });
    for (name, forbid, kind) in [
        ("no-forbid", Some(true), "no_new_access"),
        ("no-permit", Some(false), "no_new_access"),
        ("no-policy", None, "equivalent"),
    ] {
        let Some(reference) = without_one(&mut r, world_policies, forbid, dir, name) else {
            continue;
        };
        let (field, oracle) = if kind == "no_new_access" {
            ("against", Oracle::NoNewAccess(reference))
        } else {
            ("to", Oracle::Equivalent(reference))
        };
        out.push(Generated {
            yaml: format!("  - name: {kind} {name}\n    {kind}: {{ {field}: ../../{name} }}\n"),
            oracle,
        });
    }
    out
}

/// Every request over the inventory: each principal, action, resource of fitting types, under
/// each profile's context.
fn inventory_requests(schema: &Schema, entities: &Entities) -> Vec<Request> {
    let mut out = Vec::new();
    let uids: Vec<EntityUid> = entities.iter().map(|e| e.uid()).collect();
    for env in schema.request_envs() {
        for p in uids.iter().filter(|u| u.type_name() == env.principal()) {
            for res in uids.iter().filter(|u| u.type_name() == env.resource()) {
                for (_, ctx) in PROFILES {
                    let context =
                        Context::from_json_str(ctx, Some((schema, env.action()))).unwrap();
                    out.push(
                        Request::new(
                            p.clone(),
                            env.action().clone(),
                            res.clone(),
                            context,
                            Some(schema),
                        )
                        .unwrap(),
                    );
                }
            }
        }
    }
    out
}

#[test]
fn proofs_and_counterexamples_agree_with_raw_cedar() {
    if support::solver().is_none() {
        return;
    }
    let (mut proved, mut refuted, mut checked) = (0, 0, 0);
    for seed in 1..=6 {
        let world = generate(seed, &Size::WITH_GRANTS, false);
        let dir = tempfile::tempdir().unwrap();
        world.write(dir.path());
        let schema = Schema::from_cedarschema_str(&world.schema).unwrap().0;
        let policies: PolicySet = world.policies.parse().unwrap();
        let entities = Entities::from_json_str(&world.entities, Some(&schema)).unwrap();
        let generated = properties(seed, &policies, dir.path());
        let mut yaml = String::from("properties:\n");
        for g in &generated {
            yaml.push_str(&g.yaml);
        }
        std::fs::create_dir_all(dir.path().join("fixtures/properties")).unwrap();
        std::fs::write(dir.path().join("fixtures/properties/generated.yaml"), &yaml).unwrap();

        let loaded = actas::workspace::load(dir.path(), &Default::default()).unwrap();
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
        let ws = loaded.workspace.unwrap();
        let opts = actas::commands::prove::ProveOptions {
            files: Vec::new(),
            against: Vec::new(),
            counterexamples: None,
            per_query: std::time::Duration::from_secs(60),
        };
        let result = actas::commands::prove::run(dir.path(), &ws, &opts).unwrap_or_else(|p| {
            panic!(
                "seed {seed}: {:?}\n{yaml}",
                p.iter().map(|p| &p.message).collect::<Vec<_>>()
            )
        });
        let requests = inventory_requests(&schema, &entities);
        assert_eq!(result.proofs.len(), generated.len());
        for (proof, g) in result.proofs.iter().zip(&generated) {
            let name = &proof.property.name;
            match &proof.verdict {
                actas::proof::Verdict::Proved => {
                    proved += 1;
                    let violations: Vec<String> = requests
                        .iter()
                        .filter(|r| g.oracle.violated(&policies, r, &entities))
                        .map(|r| r.to_string())
                        .collect();
                    checked += requests.len();
                    assert!(
                        violations.is_empty(),
                        "seed {seed}: `{name}` proved, yet the inventory violates it: {violations:?}"
                    );
                }
                actas::proof::Verdict::Refuted => {
                    refuted += 1;
                    assert!(!proof.counterexamples.is_empty());
                    for cex in &proof.counterexamples {
                        assert!(
                            g.oracle.violated(&policies, &cex.env.request, &cex.env.entities),
                            "seed {seed}: `{name}`: the counterexample does not violate it under raw Cedar: {}",
                            cex.env
                        );
                    }
                }
                other => panic!("seed {seed}: `{name}` is {other:?}"),
            }
        }
    }
    // The generated properties must exercise both outcomes, or the test proves little.
    assert!(
        proved >= 10 && refuted >= 10,
        "proved {proved}, refuted {refuted}"
    );
    assert!(checked > 10_000, "{checked}");
}
