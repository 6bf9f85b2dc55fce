//! The bottom layer: what every other layer shares and that needs nothing of theirs.
//! Diagnostics, entity uids, schema facts, "did you mean", the catalogues of policies and lint
//! rules, file-path helpers and the progress hook.

pub(crate) mod catalogue;
pub mod diag;
pub(crate) mod files;
pub mod ids;
pub(crate) mod limits;
pub(crate) mod plain_yaml;
pub(crate) mod progress;
pub(crate) mod rules;
pub(crate) mod schema;
pub(crate) mod suggest;
pub(crate) mod uid;
pub(crate) mod yaml;
