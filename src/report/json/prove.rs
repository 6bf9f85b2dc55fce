//! `actas prove --format json`.

#[allow(
    unused_imports,
    reason = "one shared import list for the document modules"
)]
use super::*;
use crate::commands::prove::ProveResult;
use crate::proof::{Counterexample, Kind, Proof, Verdict};

/// `actas prove --format json`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProveDoc {
    pub version: u32,
    /// What the proofs range over: every request and entity data the schema allows.
    pub scope: String,
    /// The solver's version line, e.g. "This is cvc5 version 1.0.3".
    pub solver: String,
    /// The time limit of one solver query, in seconds.
    pub timeout_seconds: f64,
    /// Every property proved.
    pub proved: bool,
    pub summary: ProveSummary,
    pub properties: Vec<PropertyDoc>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProveSummary {
    pub total: usize,
    pub proved: usize,
    pub refuted: usize,
    /// No answer within the time limit.
    pub unknown: usize,
    /// A query could not be asked (see the property's `error`).
    pub failed: usize,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PropertyDoc {
    pub name: String,
    pub description: Option<String>,
    /// `never`, `envelope`, `no_new_access` or `equivalent`.
    pub kind: String,
    /// Where it is written (`null` for `--against`).
    pub file: Option<String>,
    pub line: Option<usize>,
    /// `proved`, `refuted`, `unknown` (the solver's time limit) or `failed`.
    pub outcome: String,
    /// Why a query failed, for `failed`.
    pub error: Option<String>,
    /// `never`/`envelope`: the requests the property forbids, as the Cedar policy actas asked
    /// about.
    pub policy: Option<String>,
    /// `no_new_access`/`equivalent`: the other policy set (a path or `git:REV`).
    pub reference: Option<String>,
    /// One solver query per request environment the property concerns.
    pub queries: Vec<SolverQueryDoc>,
    pub counterexamples: Vec<CounterexampleDoc>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SolverQueryDoc {
    pub principal_type: String,
    pub action: String,
    pub resource_type: String,
    /// `proved`, `refuted`, `unknown` or `failed`.
    pub outcome: String,
}

/// A request and entity data the solver found, on which the property fails; replayed through
/// Cedar's authorizer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CounterexampleDoc {
    pub principal: String,
    pub action: String,
    pub resource: String,
    /// The context, in Cedar's JSON form.
    pub context: serde_json::Value,
    /// The entities, in Cedar's entity JSON form (action entities left out).
    pub entities: Vec<serde_json::Value>,
    /// The workspace's decision: `allow` (always, for `never`, `envelope` and
    /// `no_new_access`) or `deny`.
    pub decision: String,
    /// The workspace's policies that decide it: the permits that allow it, or the forbids
    /// that deny it (empty when no permit applies).
    pub determining: Vec<String>,
    /// `no_new_access`/`equivalent`: the reference's decision on the same request.
    pub reference_decision: Option<String>,
    pub reference_determining: Vec<String>,
    /// Files `--counterexamples` wrote for it.
    pub written: Vec<String>,
    /// Why it was written as Cedar request and entities JSON rather than a scenario file.
    pub written_as_cedar_because: Option<String>,
}

/// The words of each verdict, as JSON and the other formats spell them.
pub fn verdict_word(v: &Verdict) -> &'static str {
    match v {
        Verdict::Proved => "proved",
        Verdict::Refuted => "refuted",
        Verdict::Unknown => "unknown",
        Verdict::Failed(_) => "failed",
    }
}

pub fn prove_doc(r: &ProveResult) -> ProveDoc {
    let count = |v: fn(&Verdict) -> bool| r.proofs.iter().filter(|p| v(&p.verdict)).count();
    let mut written = r.written.iter();
    let properties = r
        .proofs
        .iter()
        .map(|p| property_doc(p, &mut written))
        .collect();
    ProveDoc {
        version: VERSION,
        scope: crate::proof::SCOPE.into(),
        solver: r.solver.clone(),
        timeout_seconds: r.per_query.as_secs_f64(),
        proved: r.all_proved(),
        summary: ProveSummary {
            total: r.proofs.len(),
            proved: count(|v| *v == Verdict::Proved),
            refuted: count(|v| *v == Verdict::Refuted),
            unknown: count(|v| *v == Verdict::Unknown),
            failed: count(|v| matches!(v, Verdict::Failed(_))),
        },
        properties,
    }
}

fn property_doc<'a>(
    p: &Proof,
    written: &mut impl Iterator<Item = &'a crate::commands::prove::Written>,
) -> PropertyDoc {
    let (policy, reference) = match &p.property.kind {
        Kind::Never { text, .. } => (Some(text.clone()), None),
        Kind::NoNewAccess { reference, .. } | Kind::Equivalent { reference, .. } => {
            (None, Some(reference.to_string()))
        }
    };
    PropertyDoc {
        name: p.property.name.clone(),
        description: p.property.description.clone(),
        kind: p.property.kind.label().into(),
        file: p.property.file.as_ref().map(|f| f.path.clone()),
        line: (p.property.line > 0).then_some(p.property.line),
        outcome: verdict_word(&p.verdict).into(),
        error: match &p.verdict {
            Verdict::Failed(why) => Some(why.clone()),
            _ => None,
        },
        policy,
        reference,
        queries: p
            .queries
            .iter()
            .map(|q| SolverQueryDoc {
                principal_type: q.principal_type.clone(),
                action: q.action.to_string(),
                resource_type: q.resource_type.clone(),
                outcome: verdict_word(&q.verdict).into(),
            })
            .collect(),
        counterexamples: p
            .counterexamples
            .iter()
            .map(|c| {
                let w = written.next();
                counterexample_doc(c, w)
            })
            .collect(),
    }
}

fn counterexample_doc(
    c: &Counterexample,
    written: Option<&crate::commands::prove::Written>,
) -> CounterexampleDoc {
    let (decision, by) = match &c.reference {
        Some((allow, by)) => (
            Some(if *allow { "allow" } else { "deny" }.to_string()),
            by.clone(),
        ),
        None => (None, Vec::new()),
    };
    CounterexampleDoc {
        principal: c.principal.to_string(),
        action: c.action.to_string(),
        resource: c.resource.to_string(),
        context: c.context.clone(),
        entities: c.entities.clone(),
        decision: if c.allowed { "allow" } else { "deny" }.into(),
        determining: c.determining.clone(),
        reference_decision: decision,
        reference_determining: by,
        written: written.map(|w| w.files.clone()).unwrap_or_default(),
        written_as_cedar_because: written.and_then(|w| w.plain.clone()),
    }
}
