//! Differential tests: the paths `actas report` computes equal a brute-force search that
//! evaluates every hop of every simple path with raw Cedar, on generated worlds; and the drift
//! between two worlds equals the set difference of their brute-force effective access.
//!
//! The oracle shares nothing with actas but the generated files: it parses them with
//! cedar-policy itself, builds each hop's context by hand (the profile, plus `impersonator` and
//! `delegation_chain` where the world declares them, DESIGN §6), enumerates every simple path
//! of up to `max_chain` hops, and keeps for each (principal, target) the shortest chain, ties
//! broken by the chain's uid strings.

use crate::support;

use actas::analysis::item::Accessed;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use cedar_policy::{
    Authorizer, Context, Decision, Entities, EntityUid, PolicySet, Request, Schema,
};
use serde_json::{json, Value};
use support::world::{generate, Size, World, ACTIONS, PROFILES};

/// (principal, target) → chain `[S1 … target]`, per profile name.
type Paths = BTreeMap<String, BTreeMap<(String, String), Vec<String>>>;

struct Oracle {
    schema: Schema,
    policies: PolicySet,
    entities: Entities,
    authorizer: Authorizer,
    path_dependent: bool,
    read_knows_impersonator: bool,
}

impl Oracle {
    fn new(w: &World) -> Self {
        let (schema, _) = Schema::from_cedarschema_str(&w.schema).expect("schema");
        let policies = w.policy_set();
        let entities = Entities::from_json_str(&w.entities, Some(&schema)).expect("entities");
        Self {
            schema,
            policies,
            entities,
            authorizer: Authorizer::new(),
            path_dependent: w.path_dependent,
            read_knows_impersonator: w.read_knows_impersonator,
        }
    }

    /// Whether `from` may act as `to` with `path` (`[S1 … from]`, empty on hop 1) behind it.
    fn hop(&self, origin: &str, path: &[String], from: &str, to: &str, profile: &Value) -> bool {
        let mut ctx = profile.as_object().unwrap().clone();
        if self.path_dependent && !path.is_empty() {
            let o: EntityUid = origin.parse().unwrap();
            if o.type_name().to_string() == "Person" {
                ctx.insert("impersonator".into(), entity(&o));
            }
            let chain: Vec<Value> = path.iter().map(|s| entity(&s.parse().unwrap())).collect();
            ctx.insert("delegation_chain".into(), Value::Array(chain));
        }
        let from_uid: EntityUid = from.parse().unwrap();
        let from_type = from_uid.type_name().to_string();
        ACTIONS
            .iter()
            .filter(|(_, principals)| principals.contains(&from_type.as_str()))
            .any(|(action, _)| {
                self.allows(
                    from,
                    &format!("Action::\"{action}\""),
                    to,
                    Value::Object(ctx.clone()),
                )
            })
    }

    /// Raw Cedar's decision on one request.
    fn allows(&self, principal: &str, action: &str, resource: &str, context: Value) -> bool {
        let a: EntityUid = action.parse().unwrap();
        let context = Context::from_json_value(context, Some((&self.schema, &a))).unwrap();
        let request = Request::new(
            principal.parse().unwrap(),
            a,
            resource.parse().unwrap(),
            context,
            Some(&self.schema),
        )
        .unwrap();
        self.authorizer
            .is_authorized(&request, &self.policies, &self.entities)
            .decision()
            == Decision::Allow
    }

    /// Every simple path from every principal, the best chain per target kept.
    fn paths(&self, w: &World) -> Paths {
        let mut out = Paths::new();
        for (name, ctx) in PROFILES {
            let profile: Value = serde_json::from_str(ctx).unwrap();
            let mut best: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
            // Hop decisions without a path behind them, cached (hop 1 of every path).
            let mut first: HashMap<(String, String), bool> = HashMap::new();
            for origin in &w.principals {
                let mut stack: Vec<Vec<String>> = vec![Vec::new()];
                while let Some(path) = stack.pop() {
                    if path.len() == w.max_chain as usize {
                        continue;
                    }
                    let from = path.last().unwrap_or(origin).clone();
                    for to in &w.accounts {
                        if to == origin || path.contains(to) || *to == from {
                            continue;
                        }
                        let allowed = if path.is_empty() || !self.path_dependent {
                            *first
                                .entry((from.clone(), to.clone()))
                                .or_insert_with(|| self.hop(origin, &[], &from, to, &profile))
                        } else {
                            self.hop(origin, &path, &from, to, &profile)
                        };
                        if !allowed {
                            continue;
                        }
                        let mut next = path.clone();
                        next.push(to.clone());
                        let key = (origin.clone(), to.clone());
                        let better = best
                            .get(&key)
                            .is_none_or(|b| (next.len(), &next) < (b.len(), b));
                        if better {
                            best.insert(key, next.clone());
                        }
                        stack.push(next);
                    }
                }
            }
            out.insert(name.to_string(), best);
        }
        out
    }
}

/// Effective access as keys: paths (profile, principal, target) and grants (profile, principal,
/// acting as, action, resource).
type PathKeys = BTreeSet<(String, String, String)>;
type GrantKeys = BTreeSet<(String, String, Option<String>, String, String)>;

impl Oracle {
    /// Whether `principal` may `read` `folder` as itself under `profile`.
    fn read(&self, principal: &str, folder: &str, profile: &Value) -> bool {
        self.allows(principal, READ, folder, profile.clone())
    }

    /// Brute-force effective access (worlds whose hops do not depend on the path). An acting-as
    /// `read` is the account's own unless `read` declares `impersonator`: then it is asked again
    /// with the impersonator (the principal, when a person) in its context.
    fn effective(&self, w: &World) -> (PathKeys, GrantKeys) {
        let mut paths = PathKeys::new();
        let mut grants = GrantKeys::new();
        let all = self.paths(w);
        for (name, ctx) in PROFILES {
            let profile: Value = serde_json::from_str(ctx).unwrap();
            let mut own: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for p in &w.principals {
                for f in &w.folders {
                    if self.read(p, f, &profile) {
                        own.entry(p).or_default().push(f);
                        grants.insert((name.into(), p.clone(), None, READ.into(), f.clone()));
                    }
                }
            }
            for (principal, target) in all[name].keys() {
                paths.insert((name.into(), principal.clone(), target.clone()));
                if self.read_knows_impersonator {
                    let mut ctx = profile.as_object().unwrap().clone();
                    let p: EntityUid = principal.parse().unwrap();
                    if p.type_name().to_string() == "Person" {
                        ctx.insert("impersonator".into(), entity(&p));
                    }
                    for f in &w.folders {
                        if self.allows(target, READ, f, Value::Object(ctx.clone())) {
                            grants.insert((
                                name.into(),
                                principal.clone(),
                                Some(target.clone()),
                                READ.into(),
                                f.clone(),
                            ));
                        }
                    }
                    continue;
                }
                for f in own.get(target.as_str()).into_iter().flatten() {
                    grants.insert((
                        name.into(),
                        principal.clone(),
                        Some(target.clone()),
                        READ.into(),
                        f.to_string(),
                    ));
                }
            }
        }
        (paths, grants)
    }
}

const READ: &str = r#"Action::"read""#;

#[test]
fn drift_equals_the_difference_of_brute_force_effective_access() {
    let mut compared = 0;
    for seed in 200..206 {
        let a = generate(seed, &Size::WITH_GRANTS, false);
        let mut b = generate(seed + 5000, &Size::WITH_GRANTS, false);
        // The same inventory, other policies.
        b.entities = a.entities.clone();
        compared += compare_drift(seed, &a, &b).0;
    }
    assert!(
        compared > 100,
        "only {compared} drift items over all worlds"
    );
    eprintln!("{compared} drift items compared");
}

/// A crowd whose people reach alike (the baseline writes most of them as `same_as` an earlier
/// one), then a few policies fewer: some principals still reach as the one they were recorded
/// with, some not, and some of those recorded in full changed under their `same_as` members.
#[test]
fn drift_of_principals_recorded_alike_equals_brute_force() {
    let size = Size {
        people: 40,
        grants: 6,
        ..Size::CROWD
    };
    let (mut compared, mut alike) = (0, 0);
    for seed in 300..306 {
        let a = generate(seed, &size, false);
        let mut b = generate(seed, &size, false);
        // Every policy but one in five (a different one for each seed).
        let pieces: Vec<&str> = a.policies.split("@id(").collect();
        b.policies = pieces
            .iter()
            .enumerate()
            .filter(|(i, _)| *i == 0 || !(*i as u64 + seed).is_multiple_of(5))
            .map(|(_, p)| *p)
            .collect::<Vec<_>>()
            .join("@id(");
        let (items, same_as) = compare_drift(seed, &a, &b);
        compared += items;
        alike += same_as;
    }
    assert!(compared > 50, "only {compared} drift items over all worlds");
    assert!(alike > 50, "only {alike} `same_as` lines over all worlds");
    eprintln!("{compared} drift items compared, {alike} principals recorded alike");
}

/// `drift` of `b` against a baseline of `a` equals the difference of their brute-force
/// effective access; returns how many items it compared and how many `same_as` lines the
/// baseline has.
fn compare_drift(seed: u64, a: &World, b: &World) -> (usize, usize) {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    a.write(dir_a.path());
    b.write(dir_b.path());
    let load = |d: &std::path::Path| {
        let l = actas::workspace::load(d, &Default::default()).unwrap();
        assert!(
            l.problems.is_empty(),
            "{:?}",
            l.problems.iter().map(|p| &p.message).collect::<Vec<_>>()
        );
        l.workspace.unwrap()
    };
    let (ws_a, ws_b) = (load(dir_a.path()), load(dir_b.path()));
    let baseline = dir_a.path().join("baseline.json");
    actas::commands::drift::snapshot(&ws_a, Some(&baseline)).unwrap();
    let same_as = std::fs::read_to_string(&baseline)
        .unwrap()
        .matches("\"same_as\"")
        .count();
    let opts = actas::commands::drift::DriftOptions {
        baseline: Some(baseline),
        ..Default::default()
    };
    let drift = actas::commands::drift::drift(&ws_b, &opts).unwrap();
    let keys = |items: &[actas::commands::drift::DriftItem]| {
        let mut paths = PathKeys::new();
        let mut grants = GrantKeys::new();
        for i in items {
            let profile = i.item.profile.to_string();
            match &i.item.access {
                Accessed::Path {
                    principal, target, ..
                } => {
                    paths.insert((profile, principal.clone(), target.clone()));
                }
                Accessed::Grant {
                    principal,
                    acting_as,
                    action,
                    resource,
                } => {
                    grants.insert((
                        profile,
                        principal.clone(),
                        acting_as.clone(),
                        action.clone(),
                        resource.clone(),
                    ));
                }
            }
        }
        (paths, grants)
    };
    let (pa, ga) = Oracle::new(a).effective(a);
    let (pb, gb) = Oracle::new(b).effective(b);
    let expected_new = (
        pb.difference(&pa).cloned().collect::<PathKeys>(),
        gb.difference(&ga).cloned().collect::<GrantKeys>(),
    );
    let expected_removed = (
        pa.difference(&pb).cloned().collect::<PathKeys>(),
        ga.difference(&gb).cloned().collect::<GrantKeys>(),
    );
    assert_eq!(keys(&drift.new), expected_new, "seed {seed}: new");
    assert_eq!(
        keys(&drift.removed),
        expected_removed,
        "seed {seed}: removed"
    );
    let items = expected_new.0.len()
        + expected_new.1.len()
        + expected_removed.0.len()
        + expected_removed.1.len();
    (items, same_as)
}

/// `w` written to a temporary folder (kept while the workspace is used) and loaded by actas.
fn load_world(w: &World) -> (tempfile::TempDir, actas::workspace::Workspace) {
    let dir = tempfile::tempdir().unwrap();
    w.write(dir.path());
    let ws = actas::workspace::load(dir.path(), &Default::default())
        .unwrap()
        .workspace
        .unwrap();
    (dir, ws)
}

fn entity(u: &EntityUid) -> Value {
    json!({"__entity": {"type": u.type_name().to_string(), "id": u.id().unescaped()}})
}

/// The paths actas reports, in the oracle's shape.
fn actas_paths(dir: &std::path::Path) -> Paths {
    let loaded = actas::workspace::load(dir, &Default::default()).expect("workspace");
    assert!(
        loaded.problems.is_empty(),
        "generated world does not load: {:?}",
        loaded
            .problems
            .iter()
            .map(|p| &p.message)
            .collect::<Vec<_>>()
    );
    let ws = loaded.workspace.unwrap();
    let report = actas::commands::report::run(&ws, &Default::default()).expect("report");
    // `who-can TARGET` searches toward the one target only: the same paths and chains.
    let routes = |p: &actas::analysis::access::Path| {
        let chains = p
            .routes
            .iter()
            .map(|r| (r.chain.clone(), r.profiles.clone()));
        (p.principal.clone(), chains.collect::<Vec<_>>())
    };
    let profiles = &report.reached.profiles;
    let paths: Vec<_> = report.reached.paths().collect();
    assert_eq!(paths.len(), report.reached.len());
    for target in ws.engine.impersonable() {
        let query = actas::analysis::access::Query::Target(target.clone());
        let toward = actas::analysis::access::compute(&ws.engine, profiles, &query);
        let all = paths.iter();
        let want: Vec<_> = all.filter(|p| *p.target == target).map(routes).collect();
        let got: Vec<_> = toward.paths.iter().map(routes).collect();
        assert_eq!(got, want, "who-can {target}");
        // Scenario expectations ask who can reach the target under one profile.
        for profile in profiles {
            let reach = actas::reach::Reachability::alone(&ws.engine, &profile.context);
            let under = |p: &&actas::analysis::access::Path| {
                *p.target == target && p.routes.iter().any(|r| r.profiles.contains(&profile.name))
            };
            let expected: Vec<_> = paths
                .iter()
                .filter(under)
                .map(|p| (*p.principal).clone())
                .collect();
            assert_eq!(
                reach.who_can_reach(&target),
                expected,
                "who can reach {target} under {}",
                profile.name
            );
        }
    }
    let mut out = Paths::new();
    for (name, _) in PROFILES {
        out.insert(name.to_string(), BTreeMap::new());
    }
    for p in &paths {
        for r in &p.routes {
            for profile in &r.profiles {
                let chain: Vec<String> = r.chain.iter().map(ToString::to_string).collect();
                let previous = out
                    .get_mut(profile.as_str())
                    .unwrap()
                    .insert((p.principal.to_string(), p.target.to_string()), chain);
                assert!(previous.is_none(), "a profile appears in two routes");
            }
        }
    }
    out
}

fn compare(seed: u64, path_dependent: bool) -> usize {
    let size = if path_dependent {
        &Size::TINY
    } else {
        &Size::SMALL
    };
    compare_sized(seed, size, path_dependent)
}

fn compare_sized(seed: u64, size: &Size, path_dependent: bool) -> usize {
    compare_world(seed, &generate(seed, size, path_dependent))
}

fn compare_world(seed: u64, world: &support::world::World) -> usize {
    let path_dependent = world.path_dependent;
    let dir = tempfile::tempdir().unwrap();
    world.write(dir.path());
    let expected = Oracle::new(world).paths(world);
    let actual = actas_paths(dir.path());
    for (profile, want) in &expected {
        let got = &actual[profile];
        for (key, chain) in want {
            assert_eq!(
                got.get(key),
                Some(chain),
                "seed {seed} (path-dependent: {path_dependent}), profile {profile}: {key:?}\n{}",
                world.policies
            );
        }
        for key in got.keys() {
            assert!(
                want.contains_key(key),
                "seed {seed} (path-dependent: {path_dependent}), profile {profile}: actas reports {key:?} the oracle does not\n{}",
                world.policies
            );
        }
    }
    expected.values().map(BTreeMap::len).sum()
}

#[test]
fn paths_equal_brute_force_on_generated_worlds() {
    let total: usize = (0..24).map(|seed| compare(seed, false)).sum();
    // The worlds must be interesting: a test over empty matrices would prove nothing.
    assert!(total > 200, "only {total} paths over all worlds");
    eprintln!("{total} paths compared");
}

/// Paths equal the oracle's on a world of `size`, and every hop's allowing actions and
/// determining policies, as the matrix has them, equal each action's request evaluated on its
/// own. Returns the paths compared, the identities and classes of the last matrix, the most
/// policy evaluations a matrix spent, and how many hops each policy determines.
fn compare_hops(seed: u64, size: &Size) -> (usize, (usize, usize), usize, BTreeMap<String, usize>) {
    let total = compare_sized(seed, size, false);
    let world = generate(seed, size, false);
    let (_dir, ws) = load_world(&world);
    let e = &ws.engine;
    let mut size_seen = (0, 0);
    let mut evaluations = 0;
    let mut determined: BTreeMap<String, usize> = BTreeMap::new();
    for (_, ctx) in PROFILES {
        let ctx = serde_json::from_str(ctx).unwrap();
        let reach = actas::reach::Reachability::alone(e, &ctx);
        let m = reach.matrix().unwrap();
        size_seen = m.size();
        evaluations = evaluations.max(m.evaluations);
        for from in e.impersonators() {
            for to in e.impersonable().iter().filter(|t| **t != from) {
                // The hop's requests (one per fitting action) evaluated one by one.
                let hops = e
                    .prepare_chain(&from, std::slice::from_ref(to), &ctx)
                    .unwrap();
                let outcome = e.evaluate_hop(&hops[0]);
                let want = outcome
                    .allowed
                    .then(|| (outcome.allowing.clone(), outcome.policies()));
                for p in outcome.policies() {
                    *determined.entry(p.to_string()).or_default() += 1;
                }
                assert_eq!(m.explain(e, &from, to), want, "seed {seed}: {from} → {to}");
            }
        }
    }
    (total, size_seen, evaluations, determined)
}

#[test]
fn paths_equal_brute_force_when_identities_look_alike() {
    use rayon::prelude::*;
    let total: usize = (400..406u64)
        .into_par_iter()
        .map(|seed| {
            let (total, (identities, classes), _, _) = compare_hops(seed, &Size::CROWD);
            // The hop matrix must actually have grouped identities, or this proves nothing new.
            assert!(
                classes * 2 < identities,
                "seed {seed}: {classes} classes for {identities} identities"
            );
            total
        })
        .sum();
    assert!(total > 400, "only {total} paths over all worlds");
    eprintln!("{total} paths compared");
}

/// Policies that relate principal and account (`resource.owner == principal`,
/// `resource.admins.contains(principal)`, `principal in resource.admins`, `principal.level ==
/// resource.tier`) are evaluated as joins; hops and paths still equal raw Cedar's.
#[test]
fn paths_equal_brute_force_when_policies_relate_principal_and_account() {
    use rayon::prelude::*;
    let results: Vec<(usize, BTreeMap<String, usize>)> = (500..506u64)
        .into_par_iter()
        .map(|seed| {
            let (total, _, evaluations, determined) = compare_hops(seed, &Size::RELATIONS);
            // Without the joins these worlds cost about 2,000 evaluations per matrix (every
            // person against every account for each relation); with them, 220–740; and since a
            // uid in an attribute's values shows only to the policies that read the attribute
            // (an owner no longer tells people apart for the policies that ignore owners),
            // 120–280.
            assert!(evaluations < 400, "seed {seed}: {evaluations} evaluations");
            (total, determined)
        })
        .collect();
    let total: usize = results.iter().map(|r| r.0).sum();
    assert!(total > 300, "only {total} paths over all worlds");
    // Every relation must decide some hops, or the joins were never exercised.
    for policy in [
        "owner-acts-as",
        "admins-sign",
        "admins-impersonate",
        "level-is-tier",
    ] {
        let hops: usize = results
            .iter()
            .map(|r| r.1.get(policy).copied().unwrap_or(0))
            .sum();
        assert!(hops > 0, "{policy} decides no hop");
    }
    eprintln!("{total} paths compared");
}

#[test]
fn paths_equal_brute_force_when_hops_depend_on_the_path() {
    // Hop policies test the chain for named accounts: reach searches (account, those on the
    // chain) states.
    for seed in 100..110 {
        let (_dir, ws) = load_world(&generate(seed, &Size::TINY, true));
        if ws.engine.hops_read_the_chain() {
            let reach = actas::reach::Reachability::alone(&ws.engine, &Default::default());
            assert!(reach.by_chain_facts(), "seed {seed}");
        }
    }
    let total: usize = (100..110).map(|seed| compare(seed, true)).sum();
    assert!(total > 60, "only {total} paths over all worlds");
}

/// A world where the least shortest walk over (account, accounts named on the chain) enters an
/// account twice: `A1 → A4` needs `A0` on the chain, and the walk `P → A1 → A0 → A1 → A4` sorts
/// before the chain `P → A3 → A0 → A1 → A4`. The search by states must notice and enumerate
/// the chains instead; every path equals raw Cedar's.
#[test]
fn paths_equal_brute_force_when_the_least_walk_over_chain_facts_is_no_chain() {
    let mut world = generate(3, &Size::TINY, true);
    world.max_chain = 4;
    let person = world
        .principals
        .iter()
        .find(|p| p.starts_with("Person::"))
        .unwrap()
        .clone();
    let a = |i: usize| world.accounts[i].clone();
    let hop = |from: &str, to: &str| {
        format!(
            "permit (principal == {from}, action == Action::\"impersonate\", resource == {to});\n"
        )
    };
    let mut policies = String::new();
    for (from, to) in [
        (&person, a(1)),
        (&person, a(3)),
        (&a(3), a(0)),
        (&a(1), a(0)),
        (&a(0), a(1)),
    ] {
        policies.push_str(&hop(from, &to));
    }
    policies.push_str(&format!(
        "permit (principal == {}, action, resource == {})\n\
         when {{ context has delegation_chain && context.delegation_chain.contains({}) }};\n",
        a(1),
        a(4),
        a(0)
    ));
    world.policies = policies;
    world.links.clear();
    let (_dir, ws) = load_world(&world);
    let reach = actas::reach::Reachability::alone(&ws.engine, &Default::default());
    assert!(reach.by_chain_facts());
    assert!(compare_world(3, &world) > 0);
    let dir = tempfile::tempdir().unwrap();
    world.write(dir.path());
    let paths = actas_paths(dir.path());
    assert_eq!(
        paths["routine"].get(&(person.clone(), a(4))),
        Some(&vec![a(3), a(0), a(1), a(4)]),
        "{paths:?}"
    );
}

/// Worlds whose hop contexts declare `impersonator` and `delegation_chain` but whose policies
/// read only the impersonator: reach is a breadth-first search per origin there, and must
/// equal the enumeration of every simple path.
#[test]
fn paths_equal_brute_force_when_hops_read_only_the_impersonator() {
    let mut total = 0;
    let mut read_before = 0;
    let mut grouped = 0;
    // 180..190 hold worlds where an origin's team membership decides a later hop (seed 185).
    for seed in (100..124).chain(180..190) {
        let mut world = generate(seed, &Size::TINY, true);
        let load = |w: &World| load_world(w).1.engine.hops_read_the_chain();
        read_before += usize::from(load(&world));
        world.read_only_the_impersonator();
        assert!(!load(&world), "seed {seed}: still reads the chain");
        total += compare_world(seed, &world);
        // Later hops are decided by a matrix per group of origins.
        let (_dir, ws) = load_world(&world);
        let reach = actas::reach::Reachability::alone(&ws.engine, &Default::default());
        let groups = reach.matrix().expect("matrices per origin").origin_groups();
        assert!(groups > 0, "seed {seed}");
        grouped += usize::from(groups > 1);
    }
    // Some worlds read the chain before the change, so the test changes which search runs;
    // some tell origins apart, so later hops have several matrices.
    assert!(read_before > 0);
    assert!(grouped > 0, "no world tells origins apart");
    assert!(total > 60, "only {total} paths over all worlds");
}

/// Relation worlds whose later hops relate the origin to the account
/// (`context.impersonator == resource.owner || resource.admins.contains(…)`, a condition that
/// never reads the principal): the matrix looks up the accounts related to each group's
/// impersonator, and groups every principal alike for such a policy; paths equal raw Cedar's.
#[test]
fn paths_equal_brute_force_when_later_hops_relate_the_impersonator_to_the_account() {
    let mut total = 0;
    // RELATIONS with fewer people and accounts: the oracle walks every simple path.
    let size = Size {
        people: 12,
        accounts: 8,
        ..Size::RELATIONS
    };
    for seed in 700..708u64 {
        let mut world = generate(seed, &size, true);
        world.read_only_the_impersonator();
        world.policies.push_str(
            "\n@id(\"origin-owns-or-administers\")\n\
             permit (principal is Account, action, resource is Account)\n\
             when { context has impersonator && (context.impersonator == resource.owner \
             || resource.admins.contains(context.impersonator)) };\n\
             @id(\"origin-owns-no-sensitive\")\n\
             forbid (principal, action, resource)\n\
             when { resource.sensitive && context has impersonator && resource.owner == context.impersonator };\n",
        );
        let (_dir, ws) = load_world(&world);
        assert!(!ws.engine.hops_read_the_chain(), "seed {seed}");
        total += compare_world(seed, &world);
    }
    assert!(total > 100, "only {total} paths over all worlds");
}

/// Template links to people, robots and nested teams, team and folder trees five levels deep,
/// scopes that name an action group: hops (with their policies) and paths equal raw Cedar's.
#[test]
fn paths_equal_brute_force_with_links_deep_trees_and_action_groups() {
    use rayon::prelude::*;
    let results: Vec<(usize, BTreeMap<String, usize>)> = (600..606u64)
        .into_par_iter()
        .map(|seed| {
            let (total, _, _, determined) = compare_hops(seed, &Size::LINKED_DEEP);
            (total, determined)
        })
        .collect();
    let total: usize = results.iter().map(|r| r.0).sum();
    assert!(total > 200, "only {total} paths over all worlds");
    // Links and the action group must decide hops, or the shape was never exercised.
    let deciding = |prefix: &str| -> usize {
        results
            .iter()
            .flat_map(|r| r.1.iter())
            .filter(|(p, _)| p.starts_with(prefix))
            .map(|(_, n)| n)
            .sum()
    };
    assert!(deciding("binding-") > 0, "no link decides a hop");
    let grouped: Vec<String> = (600..606u64)
        .flat_map(|seed| {
            let w = generate(seed, &Size::LINKED_DEEP, false);
            w.policies
                .split("\n\n")
                .filter(|p| p.contains("action in Action::\"hops\"") && p.contains("permit"))
                .filter_map(|p| Some(p.split('"').nth(1)?.to_string()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        grouped.iter().any(|id| deciding(id) > 0),
        "no permit scoped to the action group decides a hop"
    );
    eprintln!("{total} paths compared");
}

/// Effective access (paths, direct and acting-as grants) equals raw Cedar's, including
/// acting-as `read` requests whose forbids read `context.impersonator`.
#[test]
fn effective_access_equals_brute_force_with_acting_as_forbids_on_the_impersonator() {
    let mut acting_as = 0;
    let mut differs_from_own = 0;
    for seed in 700..706u64 {
        let w = generate(seed, &Size::LINKED_DEEP, false);
        assert!(w.read_knows_impersonator);
        let (_dir, ws) = load_world(&w);
        let profiles = actas::analysis::profiles::select(&ws, &[], None).unwrap();
        let eff = actas::analysis::effective::compute(&ws.engine, &profiles);
        let mut paths = PathKeys::new();
        let mut grants = GrantKeys::new();
        // Expanded from what is recorded: along each path, the account's own grants but those
        // withheld, and the acting-as grants recorded.
        for (k, (profile, access)) in eff.profiles.iter().zip(&eff.access).enumerate() {
            let name = profile.name.to_string();
            let key = |g: &actas::analysis::effective::Grant| {
                (
                    name.clone(),
                    g.principal.to_string(),
                    g.acting_as.as_ref().map(ToString::to_string),
                    g.action.to_string(),
                    g.resource.to_string(),
                )
            };
            let recorded: GrantKeys = access.grants.keys().map(key).collect();
            let withheld: GrantKeys = access.withheld.keys().map(key).collect();
            grants.extend(recorded.iter().cloned());
            let along: Vec<(String, String)> = eff
                .reached
                .map_profile_paths(k, |p| {
                    (p.principal_name().to_string(), p.target_name().to_string())
                })
                .collect();
            for (p, t) in along {
                for own in recorded.iter().filter(|g| g.2.is_none() && g.1 == t) {
                    let acting = (
                        name.clone(),
                        p.clone(),
                        Some(t.clone()),
                        own.3.clone(),
                        own.4.clone(),
                    );
                    if !withheld.contains(&acting) {
                        grants.insert(acting);
                    }
                }
                paths.insert((name.clone(), p, t));
            }
        }
        let (want_paths, want_grants) = Oracle::new(&w).effective(&w);
        assert_eq!(paths, want_paths, "seed {seed}: paths");
        assert_eq!(grants, want_grants, "seed {seed}: grants");
        // The forbids on the impersonator must bite: some acting-as read is denied that the
        // account may do on its own.
        let own: BTreeSet<_> = grants
            .iter()
            .filter(|g| g.2.is_none())
            .map(|g| (g.0.clone(), g.1.clone(), g.4.clone()))
            .collect();
        for (profile, principal, target) in &paths {
            for f in &w.folders {
                let as_account = own.contains(&(profile.clone(), target.clone(), f.clone()));
                let acting = grants.contains(&(
                    profile.clone(),
                    principal.clone(),
                    Some(target.clone()),
                    READ.to_string(),
                    f.clone(),
                ));
                acting_as += usize::from(acting);
                differs_from_own += usize::from(as_account && !acting);
            }
        }
    }
    assert!(acting_as > 50, "only {acting_as} acting-as grants");
    assert!(differs_from_own > 0, "no forbid on the impersonator bites");
    eprintln!("{acting_as} acting-as grants, {differs_from_own} denied by the impersonator");
}

#[test]
fn some_generated_chains_are_longer_than_one_hop() {
    // Over the worlds the differential test compares, chains of several hops must occur.
    let with_chains = (0..24)
        .filter(|&seed| {
            let world = generate(seed, &Size::SMALL, false);
            let paths = Oracle::new(&world).paths(&world);
            paths
                .values()
                .flat_map(|m| m.values())
                .any(|c| c.len() >= 2)
        })
        .count();
    assert!(
        with_chains >= 4,
        "only {with_chains} of 24 worlds have a chain: the generator is too sparse"
    );
}

/// Direct grants as keys (profile, principal, action, resource), each with its determining
/// policies' ids.
type DirectGrants = BTreeMap<(String, String, String, String), Vec<String>>;

/// Raw Cedar's direct grants of `actions` under every profile: every fitting (principal,
/// resource) pair of the inventory asked, with the determining policies by `@id` (a link by its
/// own id).
fn raw_direct_grants(w: &World, actions: &[&str]) -> DirectGrants {
    let o = Oracle::new(w);
    let id_of = |id: &cedar_policy::PolicyId| {
        let p = o.policies.policy(id).unwrap();
        match p.annotation("id") {
            Some(a) if p.template_id().is_none() => a.to_string(),
            _ => AsRef::<str>::as_ref(id).to_string(),
        }
    };
    let mut out = DirectGrants::new();
    for (name, ctx) in PROFILES {
        for action in actions {
            let a: EntityUid = format!("Action::\"{action}\"").parse().unwrap();
            let principals: Vec<_> = o.schema.principals_for_action(&a).unwrap().collect();
            let resources: Vec<_> = o.schema.resources_for_action(&a).unwrap().collect();
            let of = |types: &[&cedar_policy::EntityTypeName]| -> Vec<EntityUid> {
                o.entities
                    .iter()
                    .map(|e| e.uid())
                    .filter(|u| types.contains(&u.type_name()))
                    .collect()
            };
            for p in of(&principals) {
                for r in of(&resources) {
                    let context = Context::from_json_str(ctx, Some((&o.schema, &a))).unwrap();
                    let request =
                        Request::new(p.clone(), a.clone(), r.clone(), context, Some(&o.schema))
                            .unwrap();
                    let response = o
                        .authorizer
                        .is_authorized(&request, &o.policies, &o.entities);
                    if response.decision() == Decision::Allow {
                        let mut reasons: Vec<String> =
                            response.diagnostics().reason().map(id_of).collect();
                        reasons.sort();
                        out.insert(
                            (name.into(), p.to_string(), a.to_string(), r.to_string()),
                            reasons,
                        );
                    }
                }
            }
        }
    }
    out
}

/// actas's direct grants of `actions` in `w` (see `actas::reach::direct_grants`).
fn actas_direct_grants(w: &World, actions: &[&str]) -> DirectGrants {
    let (_dir, ws) = load_world(w);
    let actions: Vec<EntityUid> = actions
        .iter()
        .map(|a| format!("Action::\"{a}\"").parse().unwrap())
        .collect();
    let mut out = DirectGrants::new();
    for profile in actas::analysis::profiles::select(&ws, &[], None).unwrap() {
        let (grants, skipped) = actas::reach::direct_grants(&ws.engine, &profile.context, &actions);
        assert!(skipped.is_empty(), "{skipped:?}");
        for (p, a, r, reasons) in grants {
            let key = (
                profile.name.to_string(),
                p.to_string(),
                a.to_string(),
                r.to_string(),
            );
            let reasons = reasons.into_iter().map(String::from).collect();
            assert!(out.insert(key, reasons).is_none(), "a grant given twice");
        }
    }
    out
}

/// Direct grants by classes equal raw Cedar's request by request, determining policies
/// included, on the generated worlds with a `read` action (team and folder scopes, deep trees,
/// template links elsewhere, conditions that error).
#[test]
fn direct_grants_equal_raw_cedar_on_generated_worlds() {
    let mut compared = 0;
    for (seed, size) in (200..204)
        .map(|s| (s, &Size::WITH_GRANTS))
        .chain((700..703).map(|s| (s, &Size::LINKED_DEEP)))
    {
        let w = generate(seed, size, false);
        let want = raw_direct_grants(&w, &["read"]);
        assert_eq!(actas_direct_grants(&w, &["read"]), want, "seed {seed}");
        compared += want.len();
    }
    assert!(compared > 200, "only {compared} grants compared");
    eprintln!("{compared} direct grants compared");
}

/// The same where policies relate principal and resource (owner, reader sets, a manager
/// attribute, `resource == principal`) and an action applies to the principal's own type, so
/// that requests on oneself are asked too.
#[test]
fn direct_grants_equal_raw_cedar_with_relations_and_requests_on_oneself() {
    let schema = "entity Team in [Team];\n\
        entity Person in [Team] { level: Long, active: Bool, manager?: Person };\n\
        entity Doc { owner: Person, readers: Set<Person>, tier: Long };\n\
        type Ctx = { ticket: String, hours: Long, mfa: Bool };\n\
        action impersonate appliesTo { principal: [Person], resource: [Person], context: Ctx };\n\
        action signJwt appliesTo { principal: [Person], resource: [Person], context: Ctx };\n\
        action view appliesTo { principal: [Person], resource: [Person, Doc], context: Ctx };\n\
        action edit appliesTo { principal: [Person], resource: [Doc], context: Ctx };\n";
    let policies = r#"@id("self-view")
permit (principal, action == Action::"view", resource) when { resource == principal };
@id("manager-view")
permit (principal, action == Action::"view", resource is Person)
  when { resource has manager && resource.manager == principal };
@id("doc-view")
permit (principal, action == Action::"view", resource is Doc)
  when { resource.owner == principal || resource.readers.contains(principal) };
@id("tier")
permit (principal in Team::"t0", action in [Action::"view", Action::"edit"], resource is Doc)
  when { resource.tier <= principal.level };
@id("inactive")
forbid (principal, action, resource) unless { principal.active };
@id("edit-owner")
permit (principal, action == Action::"edit", resource is Doc)
  when { context.hours <= 4 && principal == resource.owner };
@id("self-needs-mfa")
forbid (principal, action == Action::"view", resource is Person)
  when { resource == principal && !context.mfa };
@id("manager-acts-as")
permit (principal, action == Action::"impersonate", resource)
  when { resource has manager && resource.manager == principal };
"#;
    let mut compared = 0;
    let mut on_oneself = 0;
    for seed in 0..4u64 {
        let mut r = support::world::Rng::new(seed);
        let people: Vec<String> = (0..30).map(|i| format!("p{i}")).collect();
        let person = |id: &str| json!({"type": "Person", "id": id});
        let mut entities: Vec<Value> = (0..4)
            .map(|t| json!({"uid": {"type": "Team", "id": format!("t{t}")}, "attrs": {}, "parents": []}))
            .collect();
        for (i, p) in people.iter().enumerate() {
            let mut attrs = json!({"level": r.below(5), "active": r.chance(80)});
            if i > 0 && r.chance(70) {
                attrs["manager"] = person(&people[r.below(i)]);
            }
            let team = json!({"type": "Team", "id": format!("t{}", r.below(4))});
            entities.push(json!({"uid": person(p), "attrs": attrs, "parents": [team]}));
        }
        for d in 0..20 {
            let readers: Vec<Value> = (0..r.below(4)).map(|_| person(&r.pick(&people))).collect();
            let attrs =
                json!({"owner": person(&r.pick(&people)), "readers": readers, "tier": r.below(5)});
            let uid = json!({"type": "Doc", "id": format!("d{d}")});
            entities.push(json!({"uid": uid, "attrs": attrs, "parents": []}));
        }
        let w = World {
            schema: schema.into(),
            policies: policies.into(),
            entities: Value::Array(entities).to_string(),
            principals: people.iter().map(|p| format!("Person::\"{p}\"")).collect(),
            accounts: people.iter().map(|p| format!("Person::\"{p}\"")).collect(),
            folders: Vec::new(),
            path_dependent: false,
            read_knows_impersonator: false,
            links: Vec::new(),
            max_chain: 2,
        };
        let want = raw_direct_grants(&w, &["view", "edit"]);
        assert_eq!(
            actas_direct_grants(&w, &["view", "edit"]),
            want,
            "seed {seed}"
        );
        compared += want.len();
        on_oneself += want.keys().filter(|k| k.1 == k.3).count();
    }
    assert!(compared > 200, "only {compared} grants compared");
    assert!(
        on_oneself > 10,
        "only {on_oneself} requests on oneself allowed"
    );
    eprintln!("{compared} direct grants compared, {on_oneself} on oneself");
}
