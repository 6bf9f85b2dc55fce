//! Throughput against raw Cedar, in one run on one machine: `scripts/bench-ratio` calls it on a
//! generated world (`cargo run --release --example bench_ratio -- DIR [RUNS]`).
//!
//! - per-request: the requests of every scenario case, evaluated by a plain
//!   `Authorizer::is_authorized` loop over the whole policy set (raw Cedar) and by actas's
//!   engine (scope slicing), both on one thread; the decisions and determining policies are
//!   compared and must be identical;
//! - `actas test` (the library's `test::run`) on 1 and 2 threads, beside an arithmetic loop
//!   that shows what two cores of the machine give at best;
//! - the hop matrix and the full who-can matrix (`access::compute`, every identity, one
//!   profile), against the brute-force estimate: every (identity, account) pair times every
//!   fitting impersonation action times raw Cedar's time per request;
//! - load of the workspace, beside Cedar alone reading its entity file.
//!
//! Each figure is the median of RUNS runs (default 3).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test and benchmark code fails loudly"
)]

use std::time::{Duration, Instant};

use actas::analysis::access::{self, Query};
use actas::analysis::profiles;
use actas::commands::test::{self, TestOptions};
use actas::engine::Prepared;
use actas::reach::Reachability;
use actas::workspace::scenario::CaseKind;
use cedar_policy::{Authorizer, Decision};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
}

#[expect(
    clippy::too_many_lines,
    reason = "a measurement script: one figure after another, in the order it prints them"
)]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = std::path::PathBuf::from(args.first().map_or(".", String::as_str));
    let runs: usize = args.get(1).map_or(3, |s| s.parse().expect("a number"));
    let load = || {
        let loaded = actas::workspace::load(&dir, &Default::default()).expect("a workspace");
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
        loaded.workspace.expect("a workspace")
    };
    let ws = load();
    // Cedar alone reading the same inventory (a generated world's entity file is in Cedar's
    // own format), alternating with actas's whole load so both see the same machine.
    let inventory = std::fs::read_to_string(dir.join("fixtures/entities.json")).ok();
    let cedar_load = || {
        let text = inventory.as_deref()?;
        cedar_policy::Entities::from_json_str(text, Some(&ws.engine.schema)).ok()
    };
    let (mut load_times, mut cedar_times) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        load_times.push(timed(load).1);
        let (read, t) = timed(cedar_load);
        cedar_times.extend(read.map(|_| t));
    }
    let load_time = median(load_times);
    let cedar_load_time = (!cedar_times.is_empty()).then(|| median(cedar_times));
    let engine = &ws.engine;
    let cases = test::load_cases(&ws, &TestOptions::default()).expect("scenario cases");
    let requests: Vec<&Prepared> = cases
        .iter()
        .filter_map(|c| match &c.kind {
            CaseKind::Request(r) => Some(r),
            _ => None,
        })
        .flat_map(|r| r.requests())
        .collect();
    assert!(
        !requests.is_empty(),
        "no request cases in {}",
        dir.display()
    );

    // Raw Cedar and actas on the same requests, one thread each, decisions compared.
    let authorizer = Authorizer::new();
    let raw = |p: &Prepared| {
        let r = authorizer.is_authorized(&p.request, &engine.policies, &engine.entities);
        let mut reasons: Vec<String> = r.diagnostics().reason().map(ToString::to_string).collect();
        reasons.sort();
        (r.decision() == Decision::Allow, reasons)
    };
    let mut raw_times = Vec::new();
    let mut actas_times = Vec::new();
    for _ in 0..runs {
        let (expected, t) = timed(|| requests.iter().map(|p| raw(p)).collect::<Vec<_>>());
        raw_times.push(t);
        let (got, t) = timed(|| {
            requests
                .iter()
                .map(|p| engine.evaluate(p))
                .collect::<Vec<_>>()
        });
        actas_times.push(t);
        for ((allowed, reasons), e) in expected.iter().zip(&got) {
            let got: Vec<String> = e.reasons.iter().map(ToString::to_string).collect();
            assert_eq!((*allowed, reasons), (e.allowed, &got), "verdicts differ");
        }
    }
    let (raw_t, actas_t) = (median(raw_times), median(actas_times));
    let n = requests.len() as f64;
    let per = |t: Duration| t.as_secs_f64() / n;
    println!("world: {}", dir.display());
    println!(
        "  {} identities, {} accounts, {} policies, {} scenario requests",
        engine.impersonators().len(),
        engine.impersonable().len(),
        engine.policy_ids().count(),
        requests.len()
    );
    println!("load                        {:>10.1} ms", ms(load_time));
    if let Some(t) = cedar_load_time {
        println!("  (Cedar alone reading the entity file: {:.1} ms)", ms(t));
    }
    println!(
        "raw Cedar, 1 thread         {:>10.0} requests/s ({:.1} µs each)",
        1.0 / per(raw_t),
        per(raw_t) * 1e6
    );
    println!("  ({} distinct policy slices)", engine.slices());
    println!(
        "actas, 1 thread             {:>10.0} requests/s ({:.1} µs each)  ratio {:.1}x, verdicts identical",
        1.0 / per(actas_t),
        per(actas_t) * 1e6,
        raw_t.as_secs_f64() / actas_t.as_secs_f64()
    );

    // `actas test`'s work on 1 and 2 threads (outcomes judged, nothing printed). A sample is
    // ten runs (about a second: one run is too short for a noisy machine), and 1- and 2-thread
    // samples alternate so both see the same machine. A pure arithmetic loop, measured the same
    // way, shows what the machine's two cores give at best.
    let pools = [pool(1), pool(2)];
    let arithmetic = |p: &rayon::ThreadPool| {
        use rayon::prelude::*;
        p.install(|| {
            (0..1_000_000_000u64)
                .into_par_iter()
                .map(|i| i.wrapping_mul(i) >> 7)
                .reduce(|| 0, u64::wrapping_add)
        })
    };
    let mut test_times = [Vec::new(), Vec::new()];
    let mut arithmetic_times = [Vec::new(), Vec::new()];
    for _ in 0..runs {
        for (k, p) in pools.iter().enumerate() {
            let ten = || {
                for _ in 0..10 {
                    let run = p.install(|| test::run(engine, &cases, false));
                    assert_eq!(run.failed(), 0, "generated expectations are raw Cedar's");
                }
            };
            test_times[k].push(timed(ten).1 / 10);
            arithmetic_times[k].push(timed(|| std::hint::black_box(arithmetic(p))).1);
        }
    }
    let [test_1, test_2] = test_times.map(median);
    let [arithmetic_1, arithmetic_2] = arithmetic_times.map(median);
    for (threads, t) in [(1, test_1), (2, test_2)] {
        println!(
            "test, {threads} thread{}              {:>10.1} ms for {} cases ({:.0} cases/s)",
            if threads == 1 { " " } else { "s" },
            ms(t),
            cases.len(),
            cases.len() as f64 / t.as_secs_f64()
        );
    }
    println!(
        "  2 threads / 1 thread: {:.2}x (an arithmetic loop on this machine: {:.2}x)",
        test_1.as_secs_f64() / test_2.as_secs_f64(),
        arithmetic_1.as_secs_f64() / arithmetic_2.as_secs_f64()
    );

    // Policy and condition coverage (`test --coverage` without its paths): the same run with
    // every request also recorded, the recorder's probes built in each run. Alternated with
    // plain runs so both see the same machine.
    let mut plain = Vec::new();
    let mut covered = Vec::new();
    for _ in 0..runs {
        plain.push(timed(|| test::run(engine, &cases, false)).1);
        covered.push(
            timed(|| {
                let recorder = actas::analysis::coverage::Recorder::new(engine);
                test::run_recording(engine, &cases, false, Some(&recorder))
            })
            .1,
        );
    }
    let (plain, covered) = (median(plain), median(covered));
    println!(
        "test --coverage (policies, conditions) {:>7.1} ms against {:.1} ms without: {:.2}x",
        ms(covered),
        ms(plain),
        covered.as_secs_f64() / plain.as_secs_f64()
    );

    // The full who-can matrix under the first profile, on a fresh engine each run.
    let profile = profiles::select(&ws, &[], None).expect("profiles")[..1].to_vec();
    let ctx = &profile[0].context;
    let mut builds = Vec::new();
    let mut totals = Vec::new();
    let mut paths = 0;
    for _ in 0..runs {
        let ws = load();
        // The matrix alone, then the whole computation (which builds its own matrix first).
        let (_, build) = timed(|| Reachability::alone(&ws.engine, ctx));
        let (access, total) = timed(|| access::compute(&ws.engine, &profile, &Query::All));
        paths = access.paths.len();
        builds.push(build);
        totals.push(total);
    }
    let reach = Reachability::alone(engine, ctx);
    let m = reach.matrix().expect("hops do not depend on the path");
    let (ids, classes) = m.size();
    let sources = engine.impersonators();
    let targets = engine.impersonable();
    let pairs: usize = sources
        .iter()
        .map(|s| {
            targets
                .iter()
                .filter(|t| *t != s)
                .map(|t| engine.hop_actions(s, t).len())
                .sum::<usize>()
        })
        .sum();
    let brute = per(raw_t) * pairs as f64;
    let (build, total) = (median(builds), median(totals));
    println!(
        "hop matrix, profile {}   {:>10.1} ms ({ids} identities in {classes} classes, {} policy evaluations)",
        profile[0].name,
        ms(build),
        m.evaluations
    );
    println!(
        "who-can matrix (all paths)  {:>10.1} ms ({paths} paths)",
        ms(total)
    );
    println!(
        "brute force, estimated      {:>10.1} s ({pairs} hop requests × raw Cedar's time each)  ratio {:.0}x",
        brute,
        brute / total.as_secs_f64()
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
