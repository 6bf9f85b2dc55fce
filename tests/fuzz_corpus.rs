//! Replays every fuzzing input kept in the repository (`fuzz/corpus/<target>/`, and the crashes
//! found and fixed, `fuzz/regressions/<target>/`) plus each target's seed through the same entry
//! points the `cargo fuzz` targets use, on the stable toolchain: none may panic.

use actas::app::fuzzing::{run, seeds, Target};

fn inputs(target: Target) -> Vec<(String, Vec<u8>)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut found = Vec::new();
    for kind in ["corpus", "regressions"] {
        let dir = root.join(kind).join(target.name());
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            found.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    found
}

#[test]
fn every_kept_input_runs_without_a_panic() {
    let mut count = 0;
    for target in Target::ALL {
        for (name, bytes) in inputs(target) {
            let outcome = std::panic::catch_unwind(|| run(target, &bytes));
            assert!(outcome.is_ok(), "{} panicked on {name}", target.name());
            count += 1;
        }
    }
    for (target, bytes) in seeds() {
        run(target, &bytes);
    }
    assert!(count > 0, "no fuzzing inputs found under fuzz/");
}

#[test]
fn every_target_has_a_seed_that_loads() {
    let seeded: Vec<Target> = seeds().into_iter().map(|(t, _)| t).collect();
    for target in Target::ALL {
        assert!(seeded.contains(&target), "{} has no seed", target.name());
    }
}
