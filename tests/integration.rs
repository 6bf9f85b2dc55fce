//! Every integration test, in one binary: each module below is one concern and says what it
//! checks. One binary rather than one per file because each links all of Cedar: twenty-one of
//! them took minutes to link and gigabytes of disk, and once filled a CI machine's disk.
//! Run one concern with `cargo test --test integration reachability::`.
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
