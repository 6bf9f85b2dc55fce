//! Every integration test, in one binary: each module below is one concern and says what it
//! checks. One binary rather than one per file because each links all of Cedar: twenty-one of
//! them once filled a CI machine's disk, and the suite took 8–10 minutes against 85 s as one.
//! Run one concern with `cargo test --test integration reachability::`. The lints allowed here
//! hold for every module.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code fails loudly"
)]

mod support;

mod browser;
mod can;
mod cli;
mod conventions;
mod coverage;
mod coverage_differential;
mod docs;
mod drift;
mod fuzz_corpus;
mod hostile;
mod json_schemas;
mod layers;
mod lint;
mod properties;
mod prove;
mod prove_differential;
mod reachability;
mod reports;
mod slicing;
mod suffice;
mod workflows;
