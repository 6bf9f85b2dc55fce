//! Scenario files for `actas test`: the format (DESIGN §3) and its checking into [`Case`]s.
//!
//! Checking builds every request of every case up front, so a bad entity, action or context is
//! reported (with its place in the file) before anything runs. Cases kinds:
//!
//! - **request**: `principal` with `impersonate:` (one hop) or `chain:` (several), and/or
//!   `action` + `resource` (the acting-as request, or a plain request without impersonation);
//!   `expect: allow | deny`, optional `reasons`.
//! - **who_can_impersonate: T**: the exact set of identities that reach T within `max_chain`.
//! - **impersonatable_by: P**: the exact set of accounts P reaches within `max_chain`.

use std::collections::BTreeMap;
use std::sync::Arc;

use cedar_policy::EntityUid;
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::{Location, Spanned};

use crate::core::diag::{span_of, Problem, SourceFile};
use crate::core::ids::PolicyId;
use crate::core::uid::parse_uid;
use crate::engine::{
    Behind, ContextMap, Engine, Prepared, PreparedHop, DELEGATION_CHAIN, IMPERSONATOR,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    defaults: Option<DefaultsDoc>,
    /// Entities this file's cases add to the inventory (Cedar's entity format).
    entities: Option<Spanned<Vec<super::entities::EntityDoc>>>,
    cases: Vec<Spanned<CaseDoc>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultsDoc {
    context: Option<BTreeMap<String, Spanned<Value>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseDoc {
    name: Spanned<String>,
    principal: Option<Spanned<Value>>,
    impersonate: Option<Spanned<Value>>,
    chain: Option<Spanned<Vec<Spanned<Value>>>>,
    action: Option<Spanned<Value>>,
    resource: Option<Spanned<Value>>,
    context: Option<Spanned<BTreeMap<String, Spanned<Value>>>>,
    expect: Spanned<Value>,
    reasons: Option<Spanned<Vec<Spanned<String>>>>,
    who_can_impersonate: Option<Spanned<Value>>,
    impersonatable_by: Option<Spanned<Value>>,
}

/// A checked case, ready to run.
#[derive(Debug, Clone)]
pub struct Case {
    pub file: String,
    /// The engine with this file's own `entities:` added, when it has some; else the cases run
    /// on the workspace's.
    pub engine: Option<FileEngine>,
    /// The line of the case's `name:` (1-based).
    pub line: usize,
    pub name: String,
    pub kind: CaseKind,
}

/// A scenario file's engine: the workspace's with the file's entities added.
#[derive(Clone)]
pub struct FileEngine(pub Arc<Engine>);

impl std::fmt::Debug for FileEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileEngine")
    }
}

#[derive(Debug, Clone)]
pub enum CaseKind {
    Request(Box<RequestCase>),
    /// `who_can_impersonate`: the target and the expected set.
    WhoCan {
        target: EntityUid,
        context: ContextMap,
        expect: Vec<EntityUid>,
    },
    /// `impersonatable_by`: the principal and the expected set.
    ReachableBy {
        principal: EntityUid,
        context: ContextMap,
        expect: Vec<EntityUid>,
    },
}

#[derive(Debug, Clone)]
pub struct RequestCase {
    pub principal: EntityUid,
    pub hops: Vec<PreparedHop>,
    /// The acting-as request (after the chain) or the plain request.
    pub request: Option<Prepared>,
    pub expect_allow: bool,
    pub reasons: Vec<PolicyId>,
}

impl RequestCase {
    /// Every request the case makes, in evaluation order: each hop's, then the final one.
    pub fn requests(&self) -> impl Iterator<Item = &Prepared> {
        self.hops
            .iter()
            .flat_map(|h| &h.requests)
            .chain(&self.request)
    }
}

/// The merged context of a case with the place each value was written.
const CASE_MISSING_HELP: &str = "set it in the case's `context` or in `defaults.context`";

pub(crate) type Sourced = BTreeMap<String, Spanned<Value>>;

/// Reads and checks one scenario file; all problems are returned, not only the first.
pub fn load(engine: &Engine, file: &Arc<SourceFile>) -> Result<Vec<Case>, Vec<Problem>> {
    check(engine, file, parse(file))
}

/// A scenario file's YAML, parsed but not checked (it needs no engine: see
/// [`crate::workspace::Overrides::early_scenarios`]).
pub struct Parsed(Result<Vec<FileDoc>, Box<Problem>>);

/// Parses a scenario file, a long one in pieces ([`crate::core::yaml::read_long_list`]).
pub fn parse(file: &Arc<SourceFile>) -> Parsed {
    Parsed(crate::core::yaml::read_long_list::<FileDoc>(file, "cases"))
}

/// Checks a parsed scenario file into its cases; all problems are returned.
pub fn check(
    engine: &Engine,
    file: &Arc<SourceFile>,
    parsed: Parsed,
) -> Result<Vec<Case>, Vec<Problem>> {
    let mut pieces = parsed.0.map_err(|p| vec![*p])?;
    if pieces.is_empty() {
        return Ok(Vec::new());
    }
    let doc = pieces.remove(0);
    // The first piece has the file's other keys; the later ones the rest of its cases.
    let lists: Vec<Vec<Spanned<CaseDoc>>> = std::iter::once(doc.cases)
        .chain(pieces.into_iter().map(|p| p.cases))
        .collect();
    let defaults = doc.defaults.unwrap_or_default().context.unwrap_or_default();
    let own = match doc.entities {
        Some(docs) => {
            let at = span_of(file, &docs.referenced);
            let extra =
                super::entities::file_entities(file, docs.value, &engine.schema, &engine.entities)?;
            let more = engine
                .with_more_entities(extra)
                .map_err(|e| vec![Problem::at(file, at, e)])?;
            Some(FileEngine(Arc::new(more)))
        }
        None => None,
    };
    let engine = own.as_ref().map_or(engine, |e| &*e.0);
    let duplicates = duplicate_names(&lists);
    // The pieces are checked in parallel, each on its own; joined in order, their cases and
    // problems are in the file's order, as one pass would give them. Each case's document is
    // dropped once checked: the file's documents (a position for every value) are never held
    // beside all of its prepared cases.
    let checked: Vec<Result<Vec<Case>, Vec<Problem>>> = lists
        .into_par_iter()
        .zip(duplicates)
        .map(|(list, duplicates)| {
            let mut checker = Checker {
                engine,
                file,
                problems: Vec::new(),
            };
            let mut cases = Vec::new();
            for (case, first) in list.into_iter().zip(duplicates) {
                let name = &case.value.name;
                if let Some(line) = first {
                    checker.problem(
                        &name.referenced,
                        format!("duplicate case name `{}`: also on line {line}", name.value),
                    );
                    continue;
                }
                if let Some(kind) = checker.case(&case.value, &case.referenced, &defaults) {
                    cases.push(Case {
                        file: file.path.clone(),
                        engine: own.clone(),
                        line: usize::try_from(name.referenced.line()).unwrap_or(0),
                        name: name.value.clone(),
                        kind,
                    });
                }
            }
            if checker.problems.is_empty() {
                Ok(cases)
            } else {
                Err(checker.problems)
            }
        })
        .collect();
    super::gather(Vec::new(), checked.into_iter())
}

/// For each case of `lists` (in the file's order), the line of an earlier case of the same
/// name, if there is one: the first case of a name is checked, a later one is reported.
fn duplicate_names(lists: &[Vec<Spanned<CaseDoc>>]) -> Vec<Vec<Option<u64>>> {
    let mut first: rustc_hash::FxHashMap<&str, u64> = rustc_hash::FxHashMap::default();
    lists
        .iter()
        .map(|list| {
            list.iter()
                .map(|case| {
                    let name = &case.value.name;
                    match first.entry(name.value.as_str()) {
                        std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
                        std::collections::hash_map::Entry::Vacant(e) => {
                            e.insert(name.referenced.line());
                            None
                        }
                    }
                })
                .collect()
        })
        .collect()
}

/// The `defaults.context` of a scenario file, if it has one (the implicit `default` profile is
/// the one all scenario files share, DESIGN §6).
pub fn defaults_context(file: &Arc<SourceFile>) -> Result<Option<ContextMap>, Vec<Problem>> {
    let doc = crate::core::yaml::read::<FileDoc>(file).map_err(|p| vec![*p])?;
    Ok(doc.defaults.and_then(|d| d.context).map(|c| {
        c.into_iter()
            .filter(|(_, v)| !v.value.is_null())
            .map(|(k, v)| (k, v.value))
            .collect()
    }))
}

/// Checks entity, action and context references of one file, collecting problems with places.
pub(crate) struct Checker<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) file: &'a Arc<SourceFile>,
    pub(crate) problems: Vec<Problem>,
}

impl Checker<'_> {
    pub(crate) fn problem(&mut self, at: &Location, message: impl Into<String>) -> &mut Problem {
        self.problems
            .push(Problem::at(self.file, span_of(self.file, at), message));
        let last = self.problems.len() - 1;
        &mut self.problems[last]
    }

    /// An inventory entity named by a case.
    pub(crate) fn entity(&mut self, v: &Spanned<Value>) -> Option<EntityUid> {
        let uid = match parse_uid(&v.value) {
            Ok(u) => u,
            Err(e) => {
                self.problem(&v.referenced, e);
                return None;
            }
        };
        if let Err(issue) = self.engine.known_entity(&uid) {
            self.problem(&v.referenced, issue.message).help = issue.help;
            return None;
        }
        Some(uid)
    }

    pub(crate) fn action(&mut self, v: &Spanned<Value>) -> Option<EntityUid> {
        let uid = match parse_uid(&v.value) {
            Ok(u) => u,
            Err(e) => {
                self.problem(&v.referenced, e);
                return None;
            }
        };
        if self.engine.action(&uid).is_none() {
            let known: Vec<String> = self
                .engine
                .info
                .actions
                .keys()
                .map(ToString::to_string)
                .collect();
            let help = crate::core::suggest::did_you_mean(
                &uid.to_string(),
                known.iter().map(String::as_str),
            );
            let p = self.problem(
                &v.referenced,
                format!("action `{uid}` is not in the schema"),
            );
            p.help = help;
            return None;
        }
        Some(uid)
    }

    fn case(&mut self, c: &CaseDoc, at: &Location, defaults: &Sourced) -> Option<CaseKind> {
        let before = self.problems.len();
        let mut context: Sourced = defaults.clone();
        if let Some(ctx) = &c.context {
            for (k, v) in &ctx.value {
                if v.value.is_null() {
                    context.remove(k);
                } else {
                    context.insert(k.clone(), v.clone());
                }
            }
        }
        for key in [IMPERSONATOR, DELEGATION_CHAIN] {
            if let Some(v) = context.get(key) {
                self.problem(
                    &v.referenced,
                    format!("a case may not set `{key}`: actas fills it from the chain"),
                )
                .help =
                    Some("remove it; it is filled for requests reached by impersonation".into());
            }
        }
        let kinds = [
            c.principal.is_some(),
            c.who_can_impersonate.is_some(),
            c.impersonatable_by.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            self.problem(at, "a case needs exactly one of `principal`, `who_can_impersonate` or `impersonatable_by`");
            return None;
        }
        let kind = if let Some(p) = &c.principal {
            self.request_case(c, p, &context)
        } else {
            self.set_case(c, &context)
        };
        (self.problems.len() == before).then_some(kind).flatten()
    }

    /// The accounts a case acts through, as written: `impersonate` or `chain`, not both, not
    /// empty, no longer than `max_chain`.
    fn chain_values<'d>(&mut self, c: &'d CaseDoc) -> Vec<&'d Spanned<Value>> {
        let mut chain_values: Vec<&Spanned<Value>> = Vec::new();
        match (&c.impersonate, &c.chain) {
            (Some(i), Some(ch)) => {
                self.problem(
                    &ch.referenced,
                    "a case has both `impersonate` and `chain`; use one",
                );
                chain_values.push(i);
            }
            (Some(i), None) => chain_values.push(i),
            (None, Some(ch)) => {
                if ch.value.is_empty() {
                    self.problem(&ch.referenced, "`chain` is empty");
                }
                chain_values.extend(ch.value.iter());
                let max = self.engine.max_chain as usize;
                if ch.value.len() > max {
                    self.problem(
                        &ch.referenced,
                        format!(
                            "chain of {} hops is longer than `max_chain` ({max})",
                            ch.value.len()
                        ),
                    )
                    .help = Some(
                        "raise `impersonation.max_chain` in actas.yaml, or shorten the chain"
                            .into(),
                    );
                }
            }
            (None, None) => {}
        }
        chain_values
    }

    /// Every expected reason must name a policy, link or template.
    fn check_reasons(&mut self, c: &CaseDoc) {
        if let Some(r) = &c.reasons {
            for id in &r.value {
                if !self.engine.policy_ids().any(|p| p == id.value) {
                    let help =
                        crate::core::suggest::did_you_mean(&id.value, self.engine.policy_ids());
                    self.problem(&id.referenced, format!("unknown policy id `{}`", id.value))
                        .help = help;
                }
            }
        }
    }

    fn request_case(
        &mut self,
        c: &CaseDoc,
        principal: &Spanned<Value>,
        context: &Sourced,
    ) -> Option<CaseKind> {
        let before = self.problems.len();
        let principal_uid = self.entity(principal);
        let chain_values = self.chain_values(c);
        let chain: Vec<Option<EntityUid>> = chain_values.iter().map(|v| self.entity(v)).collect();
        let action = c.action.as_ref().and_then(|a| self.action(a));
        let resource = c.resource.as_ref().and_then(|r| self.entity(r));
        match (&c.action, &c.resource) {
            (Some(a), None) => {
                self.problem(&a.referenced, "`action` needs a `resource`");
            }
            (None, Some(r)) => {
                self.problem(&r.referenced, "`resource` needs an `action`");
            }
            (None, None) if chain_values.is_empty() => {
                self.problem(
                    &principal.referenced,
                    "a request case needs `impersonate`, `chain`, or `action` and `resource`",
                );
            }
            _ => {}
        }
        let expect_allow = match c.expect.value.as_str() {
            Some("allow") => Some(true),
            Some("deny") => Some(false),
            _ => {
                self.problem(
                    &c.expect.referenced,
                    "`expect` must be `allow` or `deny` for a request case",
                );
                None
            }
        };
        let reasons: Vec<PolicyId> = c
            .reasons
            .as_ref()
            .map(|r| {
                r.value
                    .iter()
                    .map(|s| PolicyId::new(s.value.clone()))
                    .collect()
            })
            .unwrap_or_default();
        self.check_reasons(c);
        let principal = principal_uid?;
        let chain: Vec<EntityUid> = chain.into_iter().collect::<Option<_>>()?;
        let expect_allow = expect_allow?;
        if c.action.is_some() && (action.is_none() || resource.is_none()) {
            return None;
        }
        if self.problems.len() > before {
            // The case's shape is broken: checking its context would only add noise.
            return None;
        }

        // Which actions this case's requests use, to check the context against them.
        let mut used: Vec<EntityUid> = Vec::new();
        let mut from = &principal;
        for to in &chain {
            used.extend(self.engine.hop_actions(from, to).into_iter().cloned());
            from = to;
        }
        used.extend(action.iter().cloned());
        let ctx = self.check_context(
            context,
            &used,
            None,
            principal_location(c),
            c.context.as_ref().map(|x| x.referenced),
            CASE_MISSING_HELP,
        )?;

        let hops = match self.engine.prepare_chain(&principal, &chain, &ctx) {
            Ok(h) => h,
            Err(e) => {
                let at = c.chain.as_ref().map_or_else(
                    || c.impersonate.as_ref().map(|i| i.referenced),
                    |ch| Some(ch.referenced),
                );
                self.problem(&at.unwrap_or(principal_location(c)), e);
                return None;
            }
        };
        let request = match (&action, &resource) {
            (Some(a), Some(r)) => {
                let acting = chain.last().unwrap_or(&principal);
                let behind = (!chain.is_empty()).then_some(Behind {
                    origin: &principal,
                    chain: &chain,
                });
                match self.engine.prepare(acting, a, r, &ctx, behind) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        let at = c
                            .action
                            .as_ref()
                            .map_or(principal_location(c), |a| a.referenced);
                        self.problem(&at, e);
                        return None;
                    }
                }
            }
            _ => None,
        };
        Some(CaseKind::Request(Box::new(RequestCase {
            principal,
            hops,
            request,
            expect_allow,
            reasons,
        })))
    }

    fn set_case(&mut self, c: &CaseDoc, context: &Sourced) -> Option<CaseKind> {
        for (field, present) in [
            ("impersonate", c.impersonate.as_ref().map(|v| v.referenced)),
            ("chain", c.chain.as_ref().map(|v| v.referenced)),
            ("action", c.action.as_ref().map(|v| v.referenced)),
            ("resource", c.resource.as_ref().map(|v| v.referenced)),
            ("reasons", c.reasons.as_ref().map(|v| v.referenced)),
        ] {
            if let Some(at) = present {
                self.problem(&at, format!("`{field}` does not belong in a set case"));
            }
        }
        let (subject, is_target) = match (&c.who_can_impersonate, &c.impersonatable_by) {
            (Some(t), _) => (t, true),
            (None, Some(p)) => (p, false),
            (None, None) => return None,
        };
        let uid = self.entity(subject);
        if let Some(uid) = &uid {
            let types = if is_target {
                self.engine.impersonable_types()
            } else {
                self.engine.impersonator_types()
            };
            if !types.contains(uid.type_name()) {
                let role = if is_target {
                    "impersonable"
                } else {
                    "a principal of an impersonation action"
                };
                self.problem(
                    &subject.referenced,
                    format!("`{uid}` is not {role} under the configured impersonation actions"),
                );
            }
        }
        let expect: Option<Vec<EntityUid>> = match &c.expect.value {
            Value::Array(items) => items
                .iter()
                .map(|i| match parse_uid(i) {
                    Ok(u) => Some(u),
                    Err(e) => {
                        self.problem(&c.expect.referenced, format!("in `expect`: {e}"));
                        None
                    }
                })
                .collect(),
            _ => {
                self.problem(
                    &c.expect.referenced,
                    "`expect` must be a list of entities for a set case",
                );
                None
            }
        };
        let (uid, mut expect) = (uid?, expect?);
        let actions = self.engine.actions.clone();
        let ctx = self.check_context(
            context,
            &actions,
            None,
            principal_location(c),
            c.context.as_ref().map(|x| x.referenced),
            CASE_MISSING_HELP,
        )?;
        expect.sort_by_cached_key(ToString::to_string);
        Some(if is_target {
            CaseKind::WhoCan {
                target: uid,
                context: ctx,
                expect,
            }
        } else {
            CaseKind::ReachableBy {
                principal: uid,
                context: ctx,
                expect,
            }
        })
    }

    /// Checks the merged context against the actions a case uses: every attribute declared by
    /// one of them, with a value of the declared type; required ones present.
    /// Checks a merged context against the actions that use it (`requiring`, when given, are
    /// those whose required attributes must be present); a missing attribute is shown at the
    /// `context` block, else at `fallback`.
    pub(crate) fn check_context(
        &mut self,
        context: &Sourced,
        actions: &[EntityUid],
        requiring: Option<&[EntityUid]>,
        fallback: Location,
        block: Option<Location>,
        missing_help: &str,
    ) -> Option<ContextMap> {
        let values: ContextMap = context
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect();
        let issues = self
            .engine
            .check_context(&values, actions, requiring.unwrap_or(actions));
        for issue in &issues {
            let at = match issue.attribute.as_ref().and_then(|a| context.get(a)) {
                Some(v) => v.referenced,
                None => block.unwrap_or(fallback),
            };
            let help = issue
                .help
                .clone()
                .or_else(|| issue.attribute.is_none().then(|| missing_help.to_string()));
            self.problem(&at, issue.message.clone()).help = help;
        }
        issues.is_empty().then_some(values)
    }
}

fn principal_location(c: &CaseDoc) -> Location {
    c.name.referenced
}
