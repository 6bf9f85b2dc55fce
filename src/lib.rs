//! actas: test who may impersonate whom in Cedar policies.
//!
//! The library does the work; `src/main.rs` only calls [`app::main`]. The modules are layers,
//! each importing only the ones below it (`tests/layers.rs` enforces the order; see
//! `docs/architecture.md`):
//!
//! ```text
//! app → report → commands → lint → analysis → {reach, workspace, proof} → engine → core
//! ```
//!
//! [`core`] holds diagnostics, uids, schema facts, the policy and rule catalogues; [`engine`]
//! is the only place that asks Cedar for a decision; [`workspace`] reads every input and builds
//! the engine; [`reach`] searches impersonation chains with it; [`proof`] proves properties over every entity data with Cedar's symbolic compiler and cvc5; [`analysis`] turns reach and
//! decisions into access, profiles and summaries; [`lint`] holds the rules of `actas check`;
//! [`commands`] one module per subcommand; [`report`] one renderer per output format; [`app`]
//! the command line, exit codes and terminal.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod analysis;
pub mod app;
pub mod commands;
pub mod core;
pub mod engine;
pub mod lint;
pub mod proof;
pub mod reach;
pub mod report;
pub mod workspace;
