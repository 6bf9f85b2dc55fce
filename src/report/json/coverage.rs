//! `actas test --coverage --coverage-format json` (documented in docs/coverage.md).

#[allow(
    unused_imports,
    reason = "one shared import list for the document modules"
)]
use super::*;
use crate::analysis::coverage::{Coverage, PathCoverage, Paths, Ratio};
use crate::core::ids::{PolicyId, ProfileName};

/// Written only (a report of millions of paths is streamed from the compact paths, never held
/// as a document).
#[derive(Serialize, JsonSchema)]
pub struct CoverageDoc<'a> {
    pub version: u32,
    pub summary: CoverageSummary,
    pub gate: GateDoc,
    pub policies: Vec<PolicyCoverageDoc>,
    /// Uncovered first, then by profile, principal and target.
    #[schemars(with = "Vec<PathCoverageDoc>")]
    pub paths: CoveragePaths<'a>,
}

/// The paths, serialized one at a time as they are listed.
pub struct CoveragePaths<'a> {
    paths: Option<&'a Paths<'a>>,
    /// Only the first N uncovered paths (the Markdown summary).
    uncovered_only: Option<usize>,
}

impl Serialize for CoveragePaths<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some(paths) = self.paths else {
            return s.collect_seq(std::iter::empty::<PathCoverageDoc>());
        };
        let doc = |p: PathCoverage<'_>| PathCoverageDoc {
            profile: p.profile.clone(),
            principal: p.principal.to_string(),
            target: p.target.to_string(),
            chain: p.chain.iter().map(ToString::to_string).collect(),
            covered: p.covered,
        };
        match self.uncovered_only {
            Some(n) => s.collect_seq(paths.part(false).take(n).map(doc)),
            None => s.collect_seq(paths.iter().map(doc)),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
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
    /// Paths no case exercises, all profiles together.
    pub untested_paths: usize,
    /// Policies left out with `@actas_coverage("ignore: …")`.
    pub ignored: usize,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RatioDoc {
    pub covered: usize,
    pub total: usize,
    /// Rounded to 0.1; 100 when there is nothing to cover.
    pub percent: f64,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileRatioDoc {
    pub profile: ProfileName,
    pub covered: usize,
    pub total: usize,
    pub percent: f64,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GateDoc {
    /// Whether `coverage:` of actas.yaml was applied to this run.
    pub applied: bool,
    /// Why it was not, when it is configured.
    pub skipped: Option<String>,
    pub passed: bool,
    pub shortfalls: Vec<ShortfallDoc>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShortfallDoc {
    pub what: String,
    pub required: f64,
    pub actual: f64,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
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

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClauseDoc {
    /// `when` or `unless`.
    pub kind: String,
    pub line: Option<usize>,
    pub seen_true: bool,
    pub seen_false: bool,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
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

/// The whole document; `uncovered_only` keeps only the first N uncovered paths.
pub fn coverage_doc<'a>(c: &'a Coverage<'_>, uncovered_only: Option<usize>) -> CoverageDoc<'a> {
    let all = c.all_paths();
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
            untested_paths: all.total - all.covered,
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
        paths: CoveragePaths {
            paths: c.paths.as_ref(),
            uncovered_only,
        },
    }
}
