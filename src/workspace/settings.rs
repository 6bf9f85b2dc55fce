//! Settings of `actas.yaml` checked against the engine: profiles and drift.

use std::collections::BTreeMap;
use std::sync::Arc;

use cedar_policy::EntityUid;
use serde_json::{Map, Value};
use serde_saphyr::Spanned;

use super::config::*;
use super::*;
use crate::core::diag::{Problem, SourceFile};
use crate::engine::Engine;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Severity {
    /// Access taken away.
    #[default]
    Low,
    /// Access added.
    Medium,
    /// Access added for a human to, or through an account that acts on, a sensitive resource.
    High,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    pub(super) fn parse(s: &str) -> Option<Self> {
        [Severity::Low, Severity::Medium, Severity::High]
            .into_iter()
            .find(|x| x.name() == s)
    }
}

/// `drift:` of actas.yaml, checked.
#[derive(Debug, Clone, Default)]
pub struct DriftSettings {
    pub sensitive: Vec<EntityUid>,
    pub fail_on: Severity,
}

/// `coverage:` of actas.yaml, checked: the least percentage of each kind `actas test
/// --coverage` accepts (`None`: no gate).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CoverageGate {
    pub policies: Option<f64>,
    pub conditions: Option<f64>,
    pub paths: Option<f64>,
    /// Path coverage per profile.
    pub profiles: BTreeMap<ProfileName, f64>,
}

impl Loader {
    pub(super) fn check_coverage(
        &mut self,
        cfg: Option<&Arc<SourceFile>>,
        doc: CoverageDoc,
        profiles: &BTreeMap<ProfileName, Map<String, Value>>,
    ) -> CoverageGate {
        let Some(file) = cfg else {
            return CoverageGate::default();
        };
        let mut problems = Vec::new();
        let percent = |v: Option<Spanned<f64>>, problems: &mut Vec<Problem>| {
            let v = v?;
            if (0.0..=100.0).contains(&v.value) {
                return Some((v.value, v.referenced));
            }
            problems.push(Problem::at_location(
                file,
                &v.referenced,
                format!(
                    "coverage must be a percentage from 0 to 100, not {}",
                    v.value
                ),
            ));
            None
        };
        let mut gate = CoverageGate {
            policies: percent(doc.policies, &mut problems).map(|v| v.0),
            conditions: percent(doc.conditions, &mut problems).map(|v| v.0),
            paths: percent(doc.paths, &mut problems).map(|v| v.0),
            profiles: BTreeMap::new(),
        };
        for (name, value) in doc.profiles.unwrap_or_default() {
            let Some((v, at)) = percent(Some(value), &mut problems) else {
                continue;
            };
            let known = ProfileName::from(name.as_str());
            if profiles.contains_key(&known) {
                gate.profiles.insert(known, v);
            } else {
                let help = crate::core::suggest::did_you_mean(
                    &name,
                    profiles.keys().map(ProfileName::as_str),
                )
                .unwrap_or_else(|| "name a profile of `profiles:`".into());
                problems.push(
                    Problem::at_location(
                        file,
                        &at,
                        format!("`coverage.profiles`: unknown profile `{name}`"),
                    )
                    .with_help(help),
                );
            }
        }
        self.problems.extend(problems);
        gate
    }

    pub(super) fn check_drift(
        &mut self,
        engine: &Engine,
        cfg: Option<&Arc<SourceFile>>,
        doc: DriftDoc,
    ) -> DriftSettings {
        let mut settings = DriftSettings::default();
        let Some(file) = cfg else {
            return settings;
        };
        for v in doc.sensitive.unwrap_or_default() {
            let problem = match crate::core::uid::parse_uid(&v.value) {
                Ok(uid) => match engine.known_entity(&uid) {
                    Ok(()) => {
                        settings.sensitive.push(uid);
                        continue;
                    }
                    Err(issue) => {
                        let mut p = Problem::at_location(file, &v.referenced, issue.message);
                        p.help = issue.help;
                        p
                    }
                },
                Err(e) => Problem::at_location(file, &v.referenced, e),
            };
            self.problems.push(problem);
        }
        if let Some(f) = doc.fail_on {
            match Severity::parse(&f.value) {
                Some(s) => settings.fail_on = s,
                None => self.problems.push(Problem::at_location(
                    file,
                    &f.referenced,
                    format!("`fail_on` must be low, medium or high, not `{}`", f.value),
                )),
            }
        }
        settings
    }

    pub(super) fn check_profiles(
        &mut self,
        engine: &Engine,
        cfg: Option<&Arc<SourceFile>>,
        docs: BTreeMap<String, ProfileDoc>,
    ) -> BTreeMap<ProfileName, Map<String, Value>> {
        let mut profiles = BTreeMap::new();
        let Some(file) = cfg else {
            return profiles;
        };
        for (name, doc) in docs {
            let (context, problems) = check_profile(engine, file, &name, &doc);
            self.problems.extend(problems);
            profiles.insert(ProfileName::new(name), context);
        }
        profiles
    }
}

/// A profile's context as written, with the place of each value.
pub type ProfileDoc = Spanned<BTreeMap<String, Spanned<Value>>>;

/// Checks one profile. Profiles are complete contexts (DESIGN §6): each attribute must be
/// declared by some action and typed as declared, every attribute an impersonation action
/// requires must be set (reports evaluate hops under each profile), and the impersonation
/// attributes are left to actas.
pub fn check_profile(
    engine: &Engine,
    file: &Arc<SourceFile>,
    name: &str,
    doc: &ProfileDoc,
) -> (Map<String, Value>, Vec<Problem>) {
    let every_action = engine.schema_actions();
    let context: Map<String, Value> = doc
        .value
        .iter()
        .map(|(k, v)| (k.clone(), v.value.clone()))
        .collect();
    let mut problems = Vec::new();
    for key in [crate::engine::IMPERSONATOR, crate::engine::DELEGATION_CHAIN] {
        if let Some(v) = doc.value.get(key) {
            problems.push(Problem::at_location(
                file,
                &v.referenced,
                format!("profile `{name}` may not set `{key}`: actas fills it from the chain"),
            ));
        }
    }
    for issue in engine.check_context(&context, &every_action, &engine.actions) {
        let at = issue
            .attribute
            .as_ref()
            .and_then(|a| doc.value.get(a))
            .map_or(doc.referenced, |v| v.referenced);
        let mut p = Problem::at_location(file, &at, format!("profile `{name}`: {}", issue.message));
        p.help = issue.help;
        problems.push(p);
    }
    (context, problems)
}
