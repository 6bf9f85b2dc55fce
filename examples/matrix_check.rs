//! Compares the hop matrix (decision, allowing actions, determining policies) with plain
//! per-pair evaluation on random (identity, account) pairs
//! of a workspace, under each profile: `cargo run --release --example matrix_check -- DIR [PAIRS]`.
//! `cargo test` runs the same comparison on small generated worlds (tests/reachability.rs).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test and benchmark code fails loudly"
)]

use actas::engine::ContextMap;
use actas::reach::Reachability;
use cedar_policy::EntityUid;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = std::path::Path::new(args.first().map(String::as_str).unwrap_or("."));
    let pairs: usize = args.get(1).map_or(20_000, |s| s.parse().expect("a number"));
    let loaded = actas::workspace::load(dir, &Default::default()).expect("workspace");
    let ws = loaded.workspace.expect("a clean workspace");
    let e = &ws.engine;
    let sources = e.impersonators();
    let targets = e.impersonable();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for (name, profile) in &ws.profiles {
        let ctx: &ContextMap = profile;
        let reach = Reachability::alone(e, ctx);
        let m = reach.matrix().expect("hops do not depend on the path");
        let (mut allowed, mut mismatches) = (0, 0);
        for _ in 0..pairs {
            let (from, to): (&EntityUid, &EntityUid) =
                (&sources[next(sources.len())], &targets[next(targets.len())]);
            if from == to {
                continue;
            }
            // The hop's requests (one per fitting action) evaluated one by one.
            let plain = e
                .prepare_chain(from, std::slice::from_ref(to), ctx)
                .ok()
                .map(|hops| e.evaluate_hop(&hops[0]))
                .filter(|h| h.allowed)
                .map(|h| (h.allowing.clone(), h.policies()));
            allowed += usize::from(plain.is_some());
            if plain != m.explain(e, from, to) {
                mismatches += 1;
                eprintln!("{name}: {from} → {to}: Cedar says {plain:?}");
            }
        }
        let (ids, classes) = m.size();
        println!("{name}: {pairs} pairs, {allowed} allowed, {mismatches} mismatches ({ids} identities in {classes} classes, {} policy evaluations)", m.evaluations);
    }
}
