//! Property files (`fixtures/properties/*.yaml`): the format and its checking into
//! [`Property`]s, every problem reported where it is written.
//!
//! ```yaml
//! properties:
//!   - name: tokens are short-lived
//!     never:                       # no request matching this is ever allowed
//!       action: [Action::"getAccessToken"]
//!       when: context.duration_minutes > 60
//!   - name: people always use MFA
//!     envelope:                    # every allowed request matching this satisfies `require`
//!       principal: { is: User }
//!       require: context.mfa
//!   - name: nothing new since the last release
//!     no_new_access: { against: ../release-1.4 }
//!   - name: the refactor changes nothing
//!     equivalent: { to: git:HEAD~1 }
//! ```
//!
//! `never` and `envelope` become one Cedar policy, `permit (principal …, action in […], resource
//! …) when { … };`, checked by Cedar's validator against the schema like the workspace's own
//! policies, so a typo in a condition is an error at the property, not a vacuous proof.

use std::sync::Arc;

use cedar_policy::{
    EntityTypeName, EntityUid, Policy, PolicyId, PolicySet, ValidationMode, Validator,
};
use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::{Location, Spanned};

use crate::core::diag::{span_of, Problem, SourceFile};
use crate::core::uid::parse_uid;
use crate::engine::Engine;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    properties: Vec<Spanned<PropertyDoc>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PropertyDoc {
    name: Spanned<String>,
    description: Option<String>,
    never: Option<Spanned<RequestsDoc>>,
    envelope: Option<Spanned<RequestsDoc>>,
    no_new_access: Option<Spanned<ReferenceDoc>>,
    equivalent: Option<Spanned<ReferenceDoc>>,
}

/// The requests a `never` or `envelope` property is about.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestsDoc {
    principal: Option<Spanned<Value>>,
    action: Option<Spanned<Value>>,
    resource: Option<Spanned<Value>>,
    when: Option<Spanned<String>>,
    require: Option<Spanned<String>>,
}

/// The other policy set of `no_new_access` (`against`) or `equivalent` (`to`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferenceDoc {
    against: Option<Spanned<String>>,
    to: Option<Spanned<String>>,
    action: Option<Spanned<Value>>,
}

/// A checked property, ready to prove.
#[derive(Debug, Clone)]
pub struct Property {
    pub name: String,
    pub description: Option<String>,
    /// Where the property is written: its file's display path, the line of its `name:` and
    /// the span of the name.
    pub file: Option<Arc<SourceFile>>,
    pub line: usize,
    pub span: Option<(usize, usize)>,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub enum Kind {
    /// `never` (`envelope: false`) or `envelope`: the workspace's policies and `policy` allow no
    /// request in common.
    Never {
        envelope: bool,
        /// The requests the property forbids, as one Cedar policy (also shown to the user).
        policy: Box<Policy>,
        text: String,
        scope: Scope,
    },
    /// Everything the workspace allows, the reference allows too.
    NoNewAccess { reference: Reference, scope: Scope },
    /// The workspace and the reference allow exactly the same requests.
    Equivalent { reference: Reference, scope: Scope },
}

impl Kind {
    pub fn label(&self) -> &'static str {
        match self {
            Kind::Never {
                envelope: false, ..
            } => "never",
            Kind::Never { envelope: true, .. } => "envelope",
            Kind::NoNewAccess { .. } => "no_new_access",
            Kind::Equivalent { .. } => "equivalent",
        }
    }

    pub fn scope(&self) -> &Scope {
        match self {
            Kind::Never { scope, .. }
            | Kind::NoNewAccess { scope, .. }
            | Kind::Equivalent { scope, .. } => scope,
        }
    }
}

/// The other policy set: a folder or file (a workspace folder with `actas.yaml` brings its
/// links too), or the workspace's own policies at a git revision (`git:REV`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// The folder or file, and the path as written (what output shows).
    Path(std::path::PathBuf, String),
    Git(String),
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reference::Path(_, written) => f.write_str(written),
            Reference::Git(rev) => write!(f, "git:{rev}"),
        }
    }
}

impl Reference {
    /// `git:REV` or a path relative to `base` (the folder of the file that names it).
    pub fn parse(text: &str, base: &std::path::Path) -> Self {
        match text.strip_prefix("git:") {
            Some(rev) => Reference::Git(rev.to_string()),
            None => Reference::Path(crate::core::files::normalize(&base.join(text)), text.into()),
        }
    }
}

/// Which request environments (principal type, action, resource type) a property is asked in.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// The actions named, empty for "every action" (action groups are expanded).
    pub actions: Vec<EntityUid>,
    pub principal_type: Option<EntityTypeName>,
    pub resource_type: Option<EntityTypeName>,
}

/// Reads and checks one property file; all problems are returned, not only the first. `root`
/// is the workspace folder (file paths are shown relative to it; references are relative to
/// the property file's folder).
pub fn load(
    engine: &Engine,
    file: &Arc<SourceFile>,
    root: &std::path::Path,
) -> Result<Vec<Property>, Vec<Problem>> {
    let doc = crate::core::yaml::read::<FileDoc>(file).map_err(|p| vec![*p])?;
    let base = root.join(
        std::path::Path::new(&file.path)
            .parent()
            .unwrap_or(std::path::Path::new("")),
    );
    let mut checker = Checker {
        engine,
        file,
        base,
        problems: Vec::new(),
    };
    let mut seen: Vec<(String, u64)> = Vec::new();
    let mut out = Vec::new();
    for doc in &doc.properties {
        let name = &doc.value.name;
        if let Some((_, line)) = seen.iter().find(|(n, _)| *n == name.value) {
            checker.problem(
                &name.referenced,
                format!(
                    "duplicate property name `{}`: also on line {line}",
                    name.value
                ),
            );
            continue;
        }
        seen.push((name.value.clone(), name.referenced.line()));
        if let Some(kind) = checker.kind(&doc.value, &doc.referenced) {
            out.push(Property {
                name: name.value.clone(),
                description: doc.value.description.clone(),
                file: Some(file.clone()),
                line: usize::try_from(name.referenced.line()).unwrap_or(0),
                span: Some(span_of(file, &name.referenced)),
                kind,
            });
        }
    }
    if checker.problems.is_empty() {
        Ok(out)
    } else {
        Err(checker.problems)
    }
}

/// A `no_new_access` property made from `--against REF` on the command line.
pub fn against(reference: Reference) -> Property {
    Property {
        name: format!("nothing new against {reference}"),
        description: None,
        file: None,
        line: 0,
        span: None,
        kind: Kind::NoNewAccess {
            reference,
            scope: Scope::default(),
        },
    }
}

struct Checker<'a> {
    engine: &'a Engine,
    file: &'a Arc<SourceFile>,
    base: std::path::PathBuf,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn problem(&mut self, at: &Location, message: impl Into<String>) -> &mut Problem {
        self.problems
            .push(Problem::at(self.file, span_of(self.file, at), message));
        let last = self.problems.len() - 1;
        &mut self.problems[last]
    }

    fn kind(&mut self, doc: &PropertyDoc, at: &Location) -> Option<Kind> {
        let given = [
            doc.never.is_some(),
            doc.envelope.is_some(),
            doc.no_new_access.is_some(),
            doc.equivalent.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            self.problem(
                at,
                "a property needs exactly one of `never`, `envelope`, `no_new_access` or `equivalent`",
            );
            return None;
        }
        if let Some(r) = &doc.never {
            return self.requests(&r.value, &r.referenced, false);
        }
        if let Some(r) = &doc.envelope {
            return self.requests(&r.value, &r.referenced, true);
        }
        if let Some(r) = &doc.no_new_access {
            let (reference, scope) = self.reference(&r.value, &r.referenced, "against")?;
            return Some(Kind::NoNewAccess { reference, scope });
        }
        let r = doc.equivalent.as_ref()?;
        let (reference, scope) = self.reference(&r.value, &r.referenced, "to")?;
        Some(Kind::Equivalent { reference, scope })
    }

    fn reference(
        &mut self,
        doc: &ReferenceDoc,
        at: &Location,
        field: &str,
    ) -> Option<(Reference, Scope)> {
        let (wanted, other) = if field == "against" {
            (&doc.against, &doc.to)
        } else {
            (&doc.to, &doc.against)
        };
        if let Some(o) = other {
            let name = if field == "against" { "to" } else { "against" };
            self.problem(
                &o.referenced,
                format!("`{name}` does not belong here; use `{field}`"),
            );
        }
        let Some(text) = wanted else {
            self.problem(
                at,
                format!(
                    "`{field}` is missing: a folder of policies, a workspace folder or `git:REV`"
                ),
            );
            return None;
        };
        let actions = self.actions(doc.action.as_ref(), Vec::new());
        let reference = Reference::parse(&text.value, &self.base);
        if let Reference::Path(p, _) = &reference {
            if !p.exists() {
                self.problem(
                    &text.referenced,
                    format!("`{}` does not exist", text.value),
                )
                .help = Some("paths are relative to the property file's folder; `git:REV` names a revision of the workspace's repository".into());
                return None;
            }
        }
        Some((
            reference,
            Scope {
                actions: actions?,
                ..Scope::default()
            },
        ))
    }

    /// The actions named by `action:` (one uid or a list), groups expanded; `default` when
    /// there is none.
    fn actions(
        &mut self,
        value: Option<&Spanned<Value>>,
        default: Vec<EntityUid>,
    ) -> Option<Vec<EntityUid>> {
        let Some(value) = value else {
            return Some(default);
        };
        let items: Vec<&Value> = match &value.value {
            Value::Array(items) => items.iter().collect(),
            v => vec![v],
        };
        let mut named = Vec::new();
        for item in items {
            match parse_uid(item) {
                Ok(uid) if self.engine.action(&uid).is_some() => named.push(uid),
                Ok(uid) => {
                    let known: Vec<String> = self
                        .engine
                        .schema_actions()
                        .iter()
                        .map(ToString::to_string)
                        .collect();
                    let help = crate::core::suggest::did_you_mean(
                        &uid.to_string(),
                        known.iter().map(String::as_str),
                    );
                    self.problem(
                        &value.referenced,
                        format!("action `{uid}` is not in the schema"),
                    )
                    .help = help;
                    return None;
                }
                Err(e) => {
                    self.problem(&value.referenced, e);
                    return None;
                }
            }
        }
        // An action group stands for its members: every schema action `in` one named.
        let all = self.engine.schema_actions();
        Some(
            all.into_iter()
                .filter(|a| {
                    named
                        .iter()
                        .any(|n| n == a || self.engine.entities.is_ancestor_of(n, a))
                })
                .collect(),
        )
    }

    fn requests(&mut self, doc: &RequestsDoc, at: &Location, envelope: bool) -> Option<Kind> {
        let before = self.problems.len();
        let condition = match (envelope, &doc.when, &doc.require) {
            (false, w, Some(r)) => {
                self.problem(
                    &r.referenced,
                    "`require` belongs to an `envelope`; a `never` property says `when`",
                );
                w.as_ref()
            }
            (true, Some(w), _) => {
                self.problem(
                    &w.referenced,
                    "`when` belongs to a `never` property; an `envelope` says `require`",
                );
                None
            }
            (true, None, None) => {
                self.problem(
                    at,
                    "an `envelope` needs `require`: the condition every allowed request meets",
                );
                None
            }
            (true, None, r) => r.as_ref(),
            (false, w, None) => w.as_ref(),
        };
        if let Some(c) = condition {
            if let Err(e) = c.value.parse::<cedar_policy::Expression>() {
                self.problem(&c.referenced, format!("not a Cedar expression: {e}"));
            }
        }
        let actions = self.actions(doc.action.as_ref(), self.engine.actions.clone());
        let principal = doc
            .principal
            .as_ref()
            .and_then(|v| self.entity_scope(v, "principal"));
        let resource = doc
            .resource
            .as_ref()
            .and_then(|v| self.entity_scope(v, "resource"));
        if self.problems.len() > before {
            return None;
        }
        let actions = actions?;
        if actions.is_empty() {
            self.problem(at, "no action to prove this for: name one with `action:` or configure `impersonation.actions`");
            return None;
        }
        let principal = principal.unwrap_or_default();
        let resource = resource.unwrap_or_default();
        let when = match (envelope, condition) {
            (true, Some(c)) => format!("!({})", c.value),
            (false, Some(c)) => c.value.clone(),
            (_, None) => "true".into(),
        };
        let list: Vec<String> = actions.iter().map(ToString::to_string).collect();
        let text = format!(
            "permit (\n  principal{},\n  action in [{}],\n  resource{}\n) when {{\n  {when}\n}};",
            principal.cedar(),
            list.join(", "),
            resource.cedar(),
        );
        let located = condition.map_or(*at, |c| c.referenced);
        let policy = match Policy::parse(Some(PolicyId::new("property")), &text) {
            Ok(p) => p,
            Err(e) => {
                self.problem(&located, format!("the property is not a Cedar policy: {e}"));
                return None;
            }
        };
        let set = PolicySet::from_policies([policy.clone()]).ok()?;
        let result =
            Validator::new(self.engine.schema.clone()).validate(&set, ValidationMode::Strict);
        if let Some(e) = result.validation_errors().next() {
            let message = e.to_string().replace("for policy `property`, ", "");
            self.problem(
                &located,
                format!("the property does not typecheck against the schema: {message}"),
            )
            .help = Some("a condition must typecheck as a `when` clause of a policy does (test an optional attribute with `has` first)".into());
            return None;
        }
        Some(Kind::Never {
            envelope,
            policy: Box::new(policy),
            text,
            scope: Scope {
                actions,
                principal_type: principal.type_name(),
                resource_type: resource.type_name(),
            },
        })
    }

    /// `principal:`/`resource:`: a uid (`==`), or `{ is: Type, in: Group::"g" }` (either or
    /// both), or `{ eq: uid }`.
    fn entity_scope(&mut self, v: &Spanned<Value>, field: &str) -> Option<EntityScope> {
        let here = &v.referenced;
        let uid = |c: &mut Self, value: &Value| match parse_uid(value) {
            Ok(u) => Some(u),
            Err(e) => {
                c.problem(here, format!("`{field}`: {e}"));
                None
            }
        };
        match &v.value {
            Value::String(_) => Some(EntityScope::Eq(uid(self, &v.value)?)),
            Value::Object(map) => {
                let mut scope = EntityScope::default();
                for (key, value) in map {
                    match key.as_str() {
                        "eq" => scope = EntityScope::Eq(uid(self, value)?),
                        "in" => {
                            let g = uid(self, value)?;
                            scope = match scope {
                                EntityScope::Is(t, _) => EntityScope::Is(t, Some(g)),
                                _ => EntityScope::Is(None, Some(g)),
                            };
                        }
                        "is" => {
                            let Some(t) = value
                                .as_str()
                                .and_then(|t| t.parse::<EntityTypeName>().ok())
                            else {
                                self.problem(
                                    here,
                                    format!("`{field}.is` must be an entity type name"),
                                );
                                return None;
                            };
                            if !self.engine.schema.entity_types().any(|k| *k == t) {
                                self.problem(
                                    here,
                                    format!(
                                        "`{field}.is`: `{t}` is not an entity type of the schema"
                                    ),
                                );
                                return None;
                            }
                            scope = match scope {
                                EntityScope::Is(_, g) => EntityScope::Is(Some(t), g),
                                _ => EntityScope::Is(Some(t), None),
                            };
                        }
                        other => {
                            self.problem(here, format!("`{field}`: unknown key `{other}`"))
                                .help = Some(
                                "use `is: Type`, `in: Group::\"g\"` or `eq: Type::\"id\"`".into(),
                            );
                            return None;
                        }
                    }
                }
                if map.contains_key("eq") && map.len() > 1 {
                    self.problem(here, format!("`{field}`: `eq` stands alone"));
                    return None;
                }
                Some(scope)
            }
            _ => {
                self.problem(
                    here,
                    format!("`{field}` must be a uid or a map with `is`, `in` or `eq`"),
                );
                None
            }
        }
    }
}

/// A principal or resource scope of a property.
#[derive(Debug, Clone, Default)]
enum EntityScope {
    #[default]
    Any,
    Eq(EntityUid),
    Is(Option<EntityTypeName>, Option<EntityUid>),
}

impl EntityScope {
    fn cedar(&self) -> String {
        match self {
            EntityScope::Any | EntityScope::Is(None, None) => String::new(),
            EntityScope::Eq(u) => format!(" == {u}"),
            EntityScope::Is(Some(t), None) => format!(" is {t}"),
            EntityScope::Is(None, Some(g)) => format!(" in {g}"),
            EntityScope::Is(Some(t), Some(g)) => format!(" is {t} in {g}"),
        }
    }

    fn type_name(&self) -> Option<EntityTypeName> {
        match self {
            EntityScope::Eq(u) => Some(u.type_name().clone()),
            EntityScope::Is(t, _) => t.clone(),
            EntityScope::Any => None,
        }
    }
}
