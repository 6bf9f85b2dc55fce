//! Writes a valid input of each kind into `DIR/<target>/seed` (the fuzzers' starting corpus):
//! `cargo run --example fuzz_seeds -- fuzz/corpus`. `scripts/fuzz` runs it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a developer tool fails loudly"
)]

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("DIR"));
    for (target, bytes) in actas::app::fuzzing::seeds() {
        let folder = dir.join(target.name());
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("seed"), bytes).unwrap();
    }
}
