//! actas: test who may impersonate whom in Cedar policies.
//!
//! The library does the work; `src/main.rs` only calls [`cli::main`]. Modules:
//! [`workspace`] loads inputs, [`engine`] evaluates hops, chains and acting-as requests,
//! [`scenario`] reads and checks scenario files, [`commands`] holds one module per subcommand,
//! [`report`] one renderer per output format.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod analysis;
pub mod cli;
pub mod commands;
pub mod diag;
pub mod engine;
pub mod exit;
pub mod lint;
pub mod matrix;
pub mod progress;
pub mod report;
pub mod scenario;
pub mod schema;
pub mod slice;
pub mod suggest;
pub mod task;
pub mod uid;
pub mod workspace;
