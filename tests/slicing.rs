//! Differential test of scope slicing: on generated worlds, random requests evaluated against
//! the policies whose scope can match give exactly what the whole policy set gives (decision,
//! determining policies, evaluation errors).

use crate::support;

use actas::engine::{Behind, ContextMap};
use cedar_policy::EntityUid;
use support::world::{generate, Rng, Size, PROFILES};

fn requests_in(seed: u64, path_dependent: bool, count: usize) -> (usize, usize, usize) {
    let world = generate(seed, &Size::WITH_GRANTS, path_dependent);
    let dir = tempfile::tempdir().unwrap();
    world.write(dir.path());
    let loaded = actas::workspace::load(dir.path(), &Default::default()).unwrap();
    assert!(loaded.problems.is_empty());
    let engine = loaded.workspace.unwrap().engine;
    let uids = |v: &[String]| -> Vec<EntityUid> { v.iter().map(|s| s.parse().unwrap()).collect() };
    let principals = uids(&world.principals);
    let accounts = uids(&world.accounts);
    let mut actions: Vec<EntityUid> = engine.info.actions.keys().cloned().collect();
    actions.sort_by_cached_key(ToString::to_string);
    let contexts: Vec<ContextMap> = PROFILES
        .iter()
        .map(|(_, c)| serde_json::from_str(c).unwrap())
        .collect();
    let mut r = Rng::new(seed ^ 0xABCD);
    let (mut n, mut allowed, mut errors) = (0, 0, 0);
    while n < count {
        let action = r.pick(&actions);
        let info = engine.action(&action).unwrap();
        let fitting_principals: Vec<&EntityUid> = principals
            .iter()
            .filter(|p| info.principals.contains(p.type_name()))
            .collect();
        let resources = engine.inventory_of(&info.resources);
        if fitting_principals.is_empty() || resources.is_empty() {
            continue;
        }
        let principal = fitting_principals[r.below(fitting_principals.len())];
        let resource = &resources[r.below(resources.len())];
        let ctx = &contexts[r.below(contexts.len())];
        // Sometimes a request behind a chain, so impersonator/delegation_chain are filled.
        let origin = &principals[r.below(principals.len())];
        let chain: Vec<EntityUid> = (0..r.below(3)).map(|_| r.pick(&accounts)).collect();
        let behind = (!chain.is_empty()).then_some(Behind {
            origin,
            chain: &chain,
        });
        let Ok(p) = engine.prepare(principal, &action, resource, ctx, behind) else {
            continue;
        };
        // The index finds exactly the policies a scope test of each one finds.
        let slicer = engine.slicer();
        let indexed: Vec<String> = slicer
            .slice(&engine.entities, principal, &action, resource)
            .policies()
            .map(|p| p.id().to_string())
            .collect();
        let scanned: Vec<String> = (0..slicer.len())
            .filter(|&i| {
                slicer.principal_matches(i, &engine.entities, principal)
                    && slicer.action_matches(i, &engine.entities, &action)
                    && slicer.resource_matches(i, &engine.entities, resource)
            })
            .map(|i| slicer.policy(i).id().to_string())
            .collect();
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        assert_eq!(
            sorted(indexed),
            sorted(scanned),
            "seed {seed}: slice of {principal} {action} {resource}"
        );
        let sliced = engine.evaluate(&p);
        let full = engine.evaluate_unsliced(&p);
        assert_eq!(sliced, full, "seed {seed}: {principal} {action} {resource}");
        n += 1;
        allowed += usize::from(full.allowed);
        errors += usize::from(!full.errors.is_empty());
    }
    (n, allowed, errors)
}

#[test]
fn slicing_gives_the_same_answers_as_the_whole_policy_set() {
    use rayon::prelude::*;
    let runs: Vec<(usize, usize, usize)> = (0..10u64)
        .into_par_iter()
        .map(|seed| requests_in(300 + seed, seed % 2 == 1, 10_000))
        .collect();
    let (mut total, mut allowed, mut errors) = (0, 0, 0);
    for (n, a, e) in runs {
        total += n;
        allowed += a;
        errors += e;
    }
    eprintln!("{total} requests, {allowed} allowed, {errors} with errors");
    assert!(total >= 100_000);
    // Both outcomes and evaluation errors occur, or the comparison would prove little.
    assert!(
        allowed > 1_000 && allowed < total - 1_000,
        "{allowed} of {total} allowed"
    );
    assert!(errors > 100, "only {errors} requests with errors");
}
