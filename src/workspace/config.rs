//! `actas.yaml` as written: the documents serde reads, every value with its place.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::Spanned;

use super::*;

/// `actas.yaml`. Every field is optional; see DESIGN §3 for the defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConfigDoc {
    pub(super) policies: Option<Vec<Spanned<String>>>,
    pub(super) schema: Option<Spanned<String>>,
    pub(super) entities: Option<Vec<Spanned<String>>>,
    pub(super) scenarios: Option<Vec<Spanned<String>>>,
    pub(super) links: Option<Vec<Spanned<String>>>,
    /// Task files for `actas suffice`.
    pub(super) tasks: Option<Vec<Spanned<String>>>,
    /// Property files for `actas prove`.
    pub(super) properties: Option<Vec<Spanned<String>>>,
    pub(super) impersonation: Option<ImpersonationDoc>,
    pub(super) profiles: Option<BTreeMap<String, ProfileDoc>>,
    pub(super) drift: Option<DriftDoc>,
    /// The least coverage `actas test --coverage` accepts.
    pub(super) coverage: Option<CoverageDoc>,
    /// Lint rule levels and the context attributes the rules look for.
    pub(super) lint: Option<crate::workspace::lint_settings::LintDoc>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DriftDoc {
    /// Resources in (Cedar `in`) these entities are sensitive.
    pub(super) sensitive: Option<Vec<Spanned<Value>>>,
    /// The lowest severity that makes `drift` exit 1.
    pub(super) fail_on: Option<Spanned<String>>,
}

/// `coverage:`: percentages from 0 to 100.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CoverageDoc {
    pub(super) policies: Option<Spanned<f64>>,
    pub(super) conditions: Option<Spanned<f64>>,
    pub(super) paths: Option<Spanned<f64>>,
    /// Path coverage per profile, by name.
    pub(super) profiles: Option<BTreeMap<String, Spanned<f64>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ImpersonationDoc {
    pub(super) actions: Option<Vec<Spanned<String>>>,
    pub(super) max_chain: Option<Spanned<i64>>,
    pub(super) human_types: Option<Vec<Spanned<String>>>,
    /// Actions that hand over an account's identity without impersonation (lint).
    pub(super) unattributed: Option<Vec<crate::workspace::lint_settings::UnattributedDoc>>,
}
