//! `actas test --coverage --coverage-format json` (documented in docs/coverage.md).

#[allow(
    unused_imports,
    reason = "one shared import list for the document modules"
)]
use super::*;
use crate::analysis::coverage::{Coverage, Ratio};
use crate::core::ids::{PolicyId, ProfileName};

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageDoc {
    pub version: u32,
    pub summary: CoverageSummary,
    pub gate: GateDoc,
    pub policies: Vec<PolicyCoverageDoc>,
    /// Uncovered first.
    pub paths: Vec<PathCoverageDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageSummary {
    /// Static policies, templates and links determining some evaluated request.
    pub policies: RatioDoc,
    /// `when`/`unless` clauses of static policies and templates seen both true and false.
    pub conditions: RatioDoc,
    /// Paths of every profile exercised by some case.
    pub paths: RatioDoc,
    pub profiles: Vec<ProfileRatioDoc>,
    /// Why no path was computed, when none was.
    pub paths_skipped: Option<String>,
    /// Policies left out with `@actas_coverage("ignore: …")`.
    pub ignored: usize,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatioDoc {
    pub covered: usize,
    pub total: usize,
    /// Rounded to 0.1; 100 when there is nothing to cover.
    pub percent: f64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileRatioDoc {
    pub profile: ProfileName,
    pub covered: usize,
    pub total: usize,
    pub percent: f64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateDoc {
    /// Whether `coverage:` of actas.yaml was applied to this run.
    pub applied: bool,
    /// Why it was not, when it is configured.
    pub skipped: Option<String>,
    pub passed: bool,
    pub shortfalls: Vec<ShortfallDoc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShortfallDoc {
    pub what: String,
    pub required: f64,
    pub actual: f64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyCoverageDoc {
    pub id: PolicyId,
    pub file: String,
    pub line: Option<usize>,
    /// `permit`, `forbid`, `template` or `link`.
    pub kind: String,
    /// `permit` or `forbid`.
    pub effect: String,
    pub template: Option<PolicyId>,
    pub determined: bool,
    pub determined_count: u64,
    pub condition_true: bool,
    pub condition_false: bool,
    pub clauses: Vec<ClauseDoc>,
    pub ignored: Option<String>,
    pub unprobed: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClauseDoc {
    /// `when` or `unless`.
    pub kind: String,
    pub line: Option<usize>,
    pub seen_true: bool,
    pub seen_false: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathCoverageDoc {
    pub profile: ProfileName,
    pub principal: String,
    pub target: String,
    pub chain: Vec<String>,
    pub covered: bool,
}

/// A percentage rounded to one decimal, as every format shows it.
pub fn rounded(r: Ratio) -> f64 {
    (r.percent() * 10.0).round() / 10.0
}

fn ratio_doc(r: Ratio) -> RatioDoc {
    RatioDoc {
        covered: r.covered,
        total: r.total,
        percent: rounded(r),
    }
}

pub fn coverage_doc(c: &Coverage) -> CoverageDoc {
    CoverageDoc {
        version: VERSION,
        summary: CoverageSummary {
            policies: ratio_doc(c.policy_ratio),
            conditions: ratio_doc(c.condition_ratio),
            paths: ratio_doc(c.all_paths()),
            profiles: c
                .path_ratios
                .iter()
                .map(|(profile, r)| ProfileRatioDoc {
                    profile: profile.clone(),
                    covered: r.covered,
                    total: r.total,
                    percent: rounded(*r),
                })
                .collect(),
            paths_skipped: c.paths_skipped.clone(),
            ignored: c.policies.iter().filter(|p| p.ignored.is_some()).count(),
        },
        gate: GateDoc {
            applied: c.gate_applied,
            skipped: c.gate_skipped.clone(),
            passed: c.shortfalls.is_empty(),
            shortfalls: c
                .shortfalls
                .iter()
                .map(|s| ShortfallDoc {
                    what: s.what.clone(),
                    required: s.required,
                    actual: (s.actual * 10.0).round() / 10.0,
                })
                .collect(),
        },
        policies: c
            .policies
            .iter()
            .map(|p| PolicyCoverageDoc {
                id: p.id.clone(),
                file: p.file.clone(),
                line: p.line,
                kind: p.kind.name().into(),
                effect: p.effect.into(),
                template: p.template.clone(),
                determined: p.determined,
                determined_count: p.determined_count,
                condition_true: p.condition_true,
                condition_false: p.condition_false,
                clauses: p
                    .clauses
                    .iter()
                    .map(|k| ClauseDoc {
                        kind: k.kind.into(),
                        line: k.line,
                        seen_true: k.seen_true,
                        seen_false: k.seen_false,
                    })
                    .collect(),
                ignored: p.ignored.clone(),
                unprobed: p.unprobed.clone(),
            })
            .collect(),
        paths: c
            .paths
            .iter()
            .map(|p| PathCoverageDoc {
                profile: p.profile.clone(),
                principal: p.principal.clone(),
                target: p.target.clone(),
                chain: p.chain.clone(),
                covered: p.covered,
            })
            .collect(),
    }
}
