//! Writes a generated workspace (the differential tests' generator, scaled up) for timing runs:
//!
//! ```sh
//! cargo run --release --example gen_world -- /tmp/world 2000 400 300 [SEED] [GRANT_POLICIES]
//! actas -C /tmp/world report --format json > /dev/null
//! ```
//! Arguments: folder, people, accounts, policies, seed (default 1), policies on a `read` action
//! over folders (default 0: no such action, so no grants), scenario cases (default 0), and
//! `--shape NAME` anywhere (default `teams`):
//!
//! - `teams`: team grants, `==`/`in`/`is` scopes, guarded forbids (the large world);
//! - `ownership`: accounts have an owner, policies say `resource.owner == principal`;
//! - `admins`: accounts have a set of admins (`resource.admins.contains(principal)`,
//!   `principal in resource.admins`);
//! - `relations` (or `--relations`): every relation, attribute equality included;
//! - `links`: two role templates and 4,500 links to people, robots and nested teams;
//! - `deep`: team and folder trees five levels deep, scopes naming an action group, and
//!   forbids on acting-as `read` that read `context.impersonator` (at least 20 `read` policies);
//! - `path`: hop contexts declare `impersonator` and `delegation_chain`, hop policies test the
//!   impersonator, `max_chain` 4;
//! - `path-chain`: as `path`, and some hop policies also test the chain for named accounts
//!   (every simple path is then enumerated: keep it small).
//!
//! Scenario cases (`fixtures/scenarios/generated.yaml`) ask whether a random identity may
//! impersonate a random account under a random profile; each expectation is raw Cedar's answer
//! (any fitting impersonation action allows, the whole policy set, no actas code), so
//! `actas test` passing on them is a differential check at scale.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test and benchmark code fails loudly"
)]

#[path = "../tests/support/world.rs"]
#[allow(dead_code, reason = "shared with the tests, which use all of it")]
mod world;

fn main() {
    let mut all: Vec<String> = std::env::args().skip(1).collect();
    let mut shape = String::from("teams");
    if let Some(i) = all.iter().position(|a| a == "--shape") {
        all.remove(i);
        shape = all.get(i).cloned().expect("--shape NAME");
        all.remove(i);
    }
    if all.iter().any(|a| a == "--relations") {
        shape = "relations".into();
    }
    let args: Vec<String> = all.into_iter().filter(|a| a != "--relations").collect();
    let number = |i: usize, default: usize| {
        args.get(i)
            .map(|s| s.parse().expect("a number"))
            .unwrap_or(default)
    };
    let Some(dir) = args.first() else {
        eprintln!("usage: gen_world DIR [PEOPLE] [ACCOUNTS] [POLICIES] [SEED] [GRANT_POLICIES]");
        std::process::exit(2);
    };
    let people = number(1, 200);
    let accounts = number(2, 100);
    let mut size = world::Size::organisation(people, accounts, number(3, 100), number(5, 0));
    let mut path_dependent = false;
    match shape.as_str() {
        "teams" => {}
        "ownership" => size.relations = world::Relations::Ownership,
        "admins" => size.relations = world::Relations::Admins,
        "relations" => size.relations = world::Relations::All,
        "links" => size.links = 4_500,
        "deep" => {
            size.deep = true;
            size.grants = size.grants.max(20);
        }
        "path" | "path-chain" => path_dependent = true,
        other => {
            eprintln!("unknown shape {other}: teams, ownership, admins, relations, links, deep, path, path-chain");
            std::process::exit(2);
        }
    }
    let seed = number(4, 1) as u64;
    let mut w = world::generate(seed, &size, path_dependent);
    if path_dependent {
        w.max_chain = 4;
        if shape == "path" {
            w.read_only_the_impersonator();
        }
    }
    w.write(std::path::Path::new(dir));
    let cases = number(6, 0);
    if cases > 0 {
        let yaml = scenarios(&w, seed, cases);
        std::fs::create_dir_all(std::path::Path::new(dir).join("fixtures/scenarios")).unwrap();
        std::fs::write(
            std::path::Path::new(dir).join("fixtures/scenarios/generated.yaml"),
            yaml,
        )
        .unwrap();
        let config = std::path::Path::new(dir).join("actas.yaml");
        let mut text = std::fs::read_to_string(&config).unwrap();
        text.push_str("scenarios: [fixtures/scenarios/]\n");
        std::fs::write(config, text).unwrap();
    }
    println!(
        "{dir}: {} identities, {} accounts, {} policies",
        w.principals.len(),
        w.accounts.len(),
        size.policies
    );
}

/// `count` one-hop cases with raw Cedar's answers.
fn scenarios(w: &world::World, seed: u64, count: usize) -> String {
    use cedar_policy::{
        Authorizer, Context, Decision, Entities, EntityUid, PolicySet, Request, Schema,
    };
    use std::fmt::Write;
    let (schema, _) = Schema::from_cedarschema_str(&w.schema).expect("schema");
    let policies: PolicySet = w.policy_set();
    let entities = Entities::from_json_str(&w.entities, Some(&schema)).expect("entities");
    let authorizer = Authorizer::new();
    let mut r = world::Rng::new(seed ^ 0x5CE0);
    let mut out = String::from(
        "# Generated by examples/gen_world.rs; expectations are raw Cedar's.\ncases:\n",
    );
    for i in 0..count {
        let principal = r.pick(&w.principals);
        let account = r.pick(&w.accounts);
        let (profile, ctx) = world::PROFILES[r.below(world::PROFILES.len())];
        let from: EntityUid = principal.parse().unwrap();
        let to: EntityUid = account.parse().unwrap();
        if from == to {
            continue;
        }
        let allowed = world::ACTIONS.iter().any(|(action, principals)| {
            if !principals.contains(&from.type_name().to_string().as_str()) {
                return false;
            }
            let a: EntityUid = format!("Action::\"{action}\"").parse().unwrap();
            let context = Context::from_json_str(ctx, Some((&schema, &a))).unwrap();
            let request =
                Request::new(from.clone(), a, to.clone(), context, Some(&schema)).unwrap();
            authorizer
                .is_authorized(&request, &policies, &entities)
                .decision()
                == Decision::Allow
        });
        let expect = if allowed { "allow" } else { "deny" };
        let _ = writeln!(
            out,
            "  - name: case {i}, {profile}\n    principal: '{principal}'\n    impersonate: '{account}'\n    context: {ctx}\n    expect: {expect}"
        );
    }
    out
}
