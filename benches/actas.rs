//! Criterion benchmarks: load, `test`, `who-can` and `report` on generated worlds.
//!
//! `cargo bench` runs the small and medium worlds, and the small world in every other shape of
//! the generator (`small-ownership`, `small-admins`, `small-links`, `small-deep`, `small-path`;
//! see examples/gen_world.rs); `ACTAS_BENCH_LARGE=1 cargo bench` adds the 300-policy /
//! 10,000-person / 2,000-account world (minutes: each sample of its full matrix takes seconds)
//! and every shape at the medium size. Worlds come from `tests/support/world.rs`, the differential tests'
//! generator, written to a temporary folder and loaded as a user's workspace. The ratio against
//! raw Cedar lives in `scripts/bench-ratio`; results and the machine in docs/performance.md.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test and benchmark code fails loudly"
)]

#[path = "../tests/support/world.rs"]
#[allow(dead_code, reason = "shared with the tests, which use all of it")]
mod world;

use std::path::Path;
use std::time::Duration;

use actas::analysis::access::{self, Query};
use actas::analysis::profiles;
use actas::commands::test::{self, TestOptions};
use actas::commands::who_can::ProfileOptions;
use actas::workspace::Workspace;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

/// (name, people, accounts, policies)
const WORLDS: [(&str, usize, usize, usize); 3] = [
    ("small", 200, 50, 40),
    ("medium", 2_000, 400, 120),
    ("large", 10_000, 2_000, 300),
];

/// The generator's shapes that benchmarks run (`relations` combines ownership and admins;
/// `path-chain`'s `report` still explains every path through the engine, too slow at these sizes).
const SHAPES: [&str; 6] = ["teams", "ownership", "admins", "links", "deep", "path"];

fn write_world(dir: &Path, shape: &str, people: usize, accounts: usize, policies: usize) {
    let size = world::Size::organisation(people, accounts, policies, 0);
    let w = world::generate_shape(1, shape, size).expect("a shape");
    w.write(dir);
    // Scenario cases: every 50th identity against every 10th account, under `routine`.
    let mut yaml = String::from(
        "defaults:\n  context: {\"ticket\": \"CHG-1\", \"hours\": 2, \"mfa\": true}\ncases:\n",
    );
    let mut n = 0;
    for p in w.principals.iter().step_by(50) {
        for a in w.accounts.iter().step_by(10) {
            if p != a {
                n += 1;
                yaml.push_str(&format!(
                    "  - {{ name: \"case {n}\", principal: '{p}', impersonate: '{a}', expect: allow }}\n"
                ));
            }
        }
    }
    std::fs::create_dir_all(dir.join("fixtures/scenarios")).unwrap();
    std::fs::write(dir.join("fixtures/scenarios/bench.yaml"), yaml).unwrap();
    let config = dir.join("actas.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("scenarios: [fixtures/scenarios/]\n");
    std::fs::write(config, text).unwrap();
}

fn load(dir: &Path) -> Workspace {
    let loaded = actas::workspace::load(dir, &Default::default()).expect("a workspace");
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    loaded.workspace.expect("a workspace")
}

fn benches(c: &mut Criterion) {
    let large = std::env::var_os("ACTAS_BENCH_LARGE").is_some();
    let worlds = WORLDS
        .iter()
        .flat_map(|&(name, people, accounts, policies)| {
            SHAPES
                .iter()
                .map(move |&shape| (name, shape, people, accounts, policies))
        });
    for (size, shape, people, accounts, policies) in worlds {
        let wanted = match size {
            "small" => true,
            "medium" => shape == "teams" || large,
            _ => shape == "teams" && large,
        };
        if !wanted {
            continue;
        }
        let name = if shape == "teams" {
            size.to_string()
        } else {
            format!("{size}-{shape}")
        };
        let dir = tempfile::tempdir().unwrap();
        write_world(dir.path(), shape, people, accounts, policies);
        let mut group = c.benchmark_group(&name);
        if size != "small" {
            group.sample_size(10);
            group.measurement_time(Duration::from_secs(20));
        }
        group.bench_function("load", |b| b.iter(|| load(dir.path())));

        let ws = load(dir.path());
        let cases = test::load_cases(&ws, &TestOptions::default()).unwrap();
        // Expectations are `allow` throughout: the run is judged, not asserted.
        group.bench_function(BenchmarkId::new("test", cases.len()), |b| {
            b.iter(|| test::run(&ws.engine, &cases, false))
        });
        group.bench_function(
            BenchmarkId::new("test --coverage (policies)", cases.len()),
            |b| {
                b.iter(|| {
                    let recorder = actas::analysis::coverage::Recorder::new(&ws.engine);
                    test::run_recording(&ws.engine, &cases, false, Some(&recorder))
                })
            },
        );

        let routine = profiles::select(&ws, &["routine".to_string()], None).unwrap();
        let target = ws.engine.impersonable()[0].clone();
        // A fresh workspace per iteration: the engine keeps each context's hop matrix.
        group.bench_function("who-can one account", |b| {
            b.iter_batched(
                || load(dir.path()),
                |ws| access::compute(&ws.engine, &routine, &Query::Target(target.clone())),
                criterion::BatchSize::PerIteration,
            )
        });
        group.bench_function("report one profile", |b| {
            b.iter_batched(
                || load(dir.path()),
                |ws| {
                    let opts = ProfileOptions {
                        names: vec!["routine".into()],
                        adhoc: None,
                    };
                    // Paths are made as they are written, so the report is timed written.
                    let r = actas::commands::report::run(&ws, &opts).unwrap();
                    let json = actas::report::renderer(actas::report::Format::Json, false);
                    json.write_report(&r, &mut std::io::sink())
                        .unwrap()
                        .unwrap()
                },
                criterion::BatchSize::PerIteration,
            )
        });
        group.finish();
    }
}

criterion_group!(all, benches);
criterion_main!(all);
