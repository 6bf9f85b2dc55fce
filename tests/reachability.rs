//! Differential test: the paths `actas report` computes equal a brute-force search that
//! evaluates every hop of every simple path with raw Cedar, on generated worlds.
//!
//! The oracle shares nothing with actas but the generated files: it parses them with
//! cedar-policy itself, builds each hop's context by hand (the profile, plus `impersonator` and
//! `delegation_chain` where the world declares them, DESIGN §6), enumerates every simple path
//! of up to `max_chain` hops, and keeps for each (principal, target) the shortest chain, ties
//! broken by the chain's uid strings.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

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
}

impl Oracle {
    fn new(w: &World) -> Self {
        let (schema, _) = Schema::from_cedarschema_str(&w.schema).expect("schema");
        let policies = PolicySet::from_str(&w.policies).expect("policies");
        let entities = Entities::from_json_str(&w.entities, Some(&schema)).expect("entities");
        Self {
            schema,
            policies,
            entities,
            authorizer: Authorizer::new(),
            path_dependent: w.path_dependent,
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
                let a: EntityUid = format!("Action::\"{action}\"").parse().unwrap();
                let context =
                    Context::from_json_value(Value::Object(ctx.clone()), Some((&self.schema, &a)))
                        .unwrap();
                let request = Request::new(
                    from_uid.clone(),
                    a,
                    to.parse().unwrap(),
                    context,
                    Some(&self.schema),
                )
                .unwrap();
                self.authorizer
                    .is_authorized(&request, &self.policies, &self.entities)
                    .decision()
                    == Decision::Allow
            })
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
    let mut out = Paths::new();
    for (name, _) in PROFILES {
        out.insert(name.to_string(), BTreeMap::new());
    }
    for p in &report.matrix.access.paths {
        for r in &p.routes {
            for profile in &r.profiles {
                let chain: Vec<String> = r.chain.iter().map(ToString::to_string).collect();
                let previous = out
                    .get_mut(profile)
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
    let world = generate(seed, size, path_dependent);
    let dir = tempfile::tempdir().unwrap();
    world.write(dir.path());
    let expected = Oracle::new(&world).paths(&world);
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

#[test]
fn paths_equal_brute_force_when_hops_depend_on_the_path() {
    let total: usize = (100..110).map(|seed| compare(seed, true)).sum();
    assert!(total > 60, "only {total} paths over all worlds");
}

#[test]
fn some_generated_chains_are_longer_than_one_hop() {
    let world = generate(7, &Size::SMALL, false);
    let paths = Oracle::new(&world).paths(&world);
    let longest = paths
        .values()
        .flat_map(|m| m.values())
        .map(Vec::len)
        .max()
        .unwrap_or(0);
    assert!(
        longest >= 2,
        "seed 7 has no chain: the generator is too sparse"
    );
}
