//! The bottom layer: what every other layer shares and that needs nothing of theirs.
//! Diagnostics, entity uids, schema facts, "did you mean", the catalogues of policies and lint
//! rules, file-path helpers and the progress hook.

pub mod catalogue;
pub mod diag;
pub mod files;
pub mod progress;
pub mod rules;
pub mod schema;
pub mod suggest;
pub mod uid;
