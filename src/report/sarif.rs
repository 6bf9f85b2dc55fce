//! `actas check --format sarif`: SARIF 2.1.0 for code scanning (GitHub uploads it with
//! `github/codeql-action/upload-sarif`). Every rule is described in `tool.driver.rules` with its
//! doc page as help; findings carry precise regions (columns in Unicode code points, as
//! `columnKind` says) and their related places; suppressed findings are kept as results with an
//! `inSource` suppression and its reason, as the format intends. Paths are relative to the
//! workspace (`uriBaseId` `%SRCROOT%`).

use serde::Serialize;

use crate::commands::check::CheckResult;
use crate::commands::prove::ProveResult;
use crate::core::diag::Problem;
use crate::lint::{Finding, Level, RULES};
use crate::proof::Verdict;
use crate::report::Renderer;

pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

pub struct Sarif;

#[derive(Serialize)]
struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    tool: Tool,
    /// What the run read: versions and the SHA-256 of every input (no time: check output stays
    /// the same from run to run).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    invocations: Vec<Invocation>,
    /// The commit checked, when the workspace is in a git repository with an `origin` remote.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    version_control_provenance: Vec<VersionControl>,
    column_kind: &'static str,
    results: Vec<SarifResult>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    execution_successful: bool,
    properties: crate::workspace::provenance::Provenance,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VersionControl {
    repository_uri: String,
    revision_id: String,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: &'static str,
    semantic_version: &'static str,
    rules: Vec<RuleDescriptor>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleDescriptor {
    id: String,
    name: String,
    short_description: Text,
    full_description: Text,
    help: Help,
    default_configuration: Configuration,
    properties: Properties,
}

#[derive(Clone, Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
struct Help {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct Properties {
    tags: Vec<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    rule_index: usize,
    level: &'static str,
    message: Text,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    locations: Vec<Location>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<Location>,
    /// How many findings of the rule at this place the result stands for (only when > 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    occurrence_count: Option<usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressions: Vec<Suppression>,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<usize>,
    physical_location: PhysicalLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Text>,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Region>,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    uri_base_id: &'static str,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: usize,
    start_column: usize,
    end_line: usize,
    end_column: usize,
}

#[derive(Serialize)]
struct Suppression {
    kind: &'static str,
    justification: String,
}

fn level(l: Level) -> &'static str {
    match l {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Off => "none",
    }
}

fn location(p: &Problem, id: Option<usize>, message: Option<Text>) -> Option<Location> {
    let (uri, region) = p.region()?;
    Some(Location {
        id,
        physical_location: PhysicalLocation {
            artifact_location: ArtifactLocation {
                uri: crate::report::escape::uri_path(&uri),
                uri_base_id: "%SRCROOT%",
            },
            region: region.map(|r| Region {
                start_line: r.start.0,
                start_column: r.start.1,
                end_line: r.end.0,
                end_column: r.end.1,
            }),
        },
        message,
    })
}

fn result(f: &Finding, suppressed: Option<&str>) -> SarifResult {
    let mut text = f.problem.message.clone();
    if let Some(h) = &f.problem.help {
        text.push_str("\nhelp: ");
        text.push_str(h);
    }
    SarifResult {
        rule_id: f.rule.code.into(),
        rule_index: RULES
            .iter()
            .position(|r| r.code == f.rule.code)
            .unwrap_or(0),
        level: level(f.level),
        message: Text { text },
        locations: location(&f.problem, None, None).into_iter().collect(),
        related_locations: f
            .related
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                location(
                    p,
                    Some(i + 1),
                    Some(Text {
                        text: p.message.clone(),
                    }),
                )
            })
            .collect(),
        occurrence_count: (f.count() > 1).then(|| f.count()),
        suppressions: suppressed
            .map(|why| Suppression {
                kind: "inSource",
                justification: why.to_string(),
            })
            .into_iter()
            .collect(),
    }
}

impl Renderer for Sarif {
    fn check(&self, r: &CheckResult) -> Option<String> {
        let rules = RULES
            .iter()
            .map(|rule| RuleDescriptor {
                id: rule.code.into(),
                name: rule.name.into(),
                short_description: Text {
                    text: rule.summary.to_string(),
                },
                full_description: Text {
                    text: rule.summary.to_string(),
                },
                help: Help {
                    text: rule.doc.into(),
                    markdown: rule.doc.into(),
                },
                default_configuration: Configuration {
                    level: level(rule.level),
                },
                properties: Properties {
                    tags: vec!["security", "impersonation"],
                },
            })
            .collect();
        let mut results: Vec<SarifResult> = r.findings.iter().map(|f| result(f, None)).collect();
        for s in &r.suppressions {
            let why = s.reason.as_deref().unwrap_or("no reason given");
            results.extend(s.suppressed.iter().map(|f| result(f, Some(why))));
        }
        let log = Log {
            schema: SCHEMA,
            version: "2.1.0",
            runs: vec![Run {
                tool: tool(rules),
                invocations: r
                    .provenance
                    .iter()
                    .map(|p| Invocation {
                        execution_successful: true,
                        properties: p.clone(),
                    })
                    .collect(),
                version_control_provenance: r
                    .provenance
                    .iter()
                    .filter_map(|p| p.git.as_ref())
                    .filter_map(|g| {
                        Some(VersionControl {
                            repository_uri: g.remote.clone()?,
                            revision_id: g.commit.clone(),
                        })
                    })
                    .collect(),
                column_kind: "unicodeCodePoints",
                results,
            }],
        };
        Some(pretty(&log))
    }

    fn prove(&self, r: &ProveResult) -> Option<String> {
        let mut rules = Vec::new();
        let mut results = Vec::new();
        let mut written = r.written.iter();
        for (index, proof) in r.proofs.iter().enumerate() {
            let p = &proof.property;
            let mut rule_id = format!("prove/{}", crate::commands::prove::slug(&p.name));
            // Names are unique per file; two files may share one.
            while rules.iter().any(|r: &RuleDescriptor| r.id == rule_id) {
                rule_id.push('_');
            }
            let what = p.description.clone().unwrap_or_else(|| p.name.clone());
            rules.push(RuleDescriptor {
                id: rule_id.clone(),
                name: p.name.clone(),
                short_description: Text {
                    text: p.name.clone(),
                },
                full_description: Text { text: what },
                help: Help {
                    text: PROVE_HELP.into(),
                    markdown: PROVE_HELP.into(),
                },
                default_configuration: Configuration { level: "error" },
                properties: Properties {
                    tags: vec!["security", "impersonation", "proof"],
                },
            });
            let property_place = match (&p.file, p.span) {
                (Some(f), Some(span)) => location(&Problem::at(f, span, ""), None, None),
                _ => None,
            };
            match &proof.verdict {
                Verdict::Proved => {}
                Verdict::Refuted => {
                    for cex in &proof.counterexamples {
                        let w = written.next();
                        results.push(refuted(
                            r,
                            proof,
                            cex,
                            w,
                            &rule_id,
                            index,
                            property_place.as_ref(),
                        ));
                    }
                }
                Verdict::Unknown | Verdict::Failed(_) => {
                    let why = match &proof.verdict {
                        Verdict::Failed(e) => format!("not proved: {e}"),
                        _ => format!("not proved: the solver gave no answer within {} s for a query (raise --timeout)", r.per_query.as_secs_f64()),
                    };
                    results.push(SarifResult {
                        rule_id,
                        rule_index: index,
                        level: "warning",
                        message: Text {
                            text: format!("{}: {why}", p.name),
                        },
                        locations: property_place.into_iter().collect(),
                        related_locations: Vec::new(),
                        occurrence_count: None,
                        suppressions: Vec::new(),
                    });
                }
            }
        }
        let log = Log {
            schema: SCHEMA,
            version: "2.1.0",
            runs: vec![Run {
                tool: tool(rules),
                invocations: Vec::new(),
                version_control_provenance: Vec::new(),
                column_kind: "unicodeCodePoints",
                results,
            }],
        };
        Some(pretty(&log))
    }
}

const PROVE_HELP: &str = "A property `actas prove` checked with Cedar's symbolic compiler and cvc5, over every request and entity data the schema allows. A result is a counterexample: a request the policies decide otherwise than the property requires, located at the policy that allows it. `actas prove --counterexamples DIR` writes it as a scenario `actas test` fails on until the policies are fixed.";

/// A refuted property's result: at the first policy that allows the counterexample (else at
/// the property), the property's place related.
fn refuted(
    r: &ProveResult,
    proof: &crate::proof::Proof,
    cex: &crate::proof::Counterexample,
    written: Option<&crate::commands::prove::Written>,
    rule_id: &str,
    index: usize,
    property_place: Option<&Location>,
) -> SarifResult {
    let p = &proof.property;
    let mut text = format!(
        "{} is refuted: {} → {} → {} with context {}: {}",
        p.name,
        cex.principal,
        cex.action,
        cex.resource,
        serde_json::to_string(&cex.context).unwrap_or_default(),
        crate::report::human::decided(if cex.allowed { "allow" } else { "deny" }, &cex.determining)
    );
    if let Some(w) = written {
        text.push_str(&format!("; written to {}", w.files.join(", ")));
    }
    let at_policy = cex
        .determining
        .iter()
        .find_map(|id| r.policy_places.get(id))
        .and_then(|place| location(place, None, None));
    let (locations, related) = match (at_policy, property_place) {
        (Some(at), Some(property)) => {
            let mut related = property.clone();
            related.id = Some(1);
            related.message = Some(Text {
                text: format!("the property `{}`", p.name),
            });
            (vec![at], vec![related])
        }
        (Some(at), None) => (vec![at], Vec::new()),
        (None, property) => (property.cloned().into_iter().collect(), Vec::new()),
    };
    SarifResult {
        rule_id: rule_id.into(),
        rule_index: index,
        level: "error",
        message: Text { text },
        locations,
        related_locations: related,
        occurrence_count: None,
        suppressions: Vec::new(),
    }
}

fn tool(rules: Vec<RuleDescriptor>) -> Tool {
    Tool {
        driver: Driver {
            name: "actas",
            version: env!("CARGO_PKG_VERSION"),
            semantic_version: env!("CARGO_PKG_VERSION"),
            rules,
        },
    }
}

fn pretty(log: &Log) -> String {
    let mut text = serde_json::to_string_pretty(log).unwrap_or_default();
    text.push('\n');
    text
}
