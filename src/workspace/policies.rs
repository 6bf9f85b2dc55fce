//! Policy files, template links (role bindings) and strict validation.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{PolicyId, PolicySet, Schema, ValidationMode, Validator};
use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::Spanned;

use super::files::*;
use super::*;
use crate::core::catalogue::PolicyMeta;
use crate::core::diag::{Problem, SourceFile};
use crate::core::ids;
use crate::core::limits;
use crate::core::uid::parse_uid;

/// A template link (role binding) in a links file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LinkDoc {
    pub(super) template: Spanned<String>,
    pub(super) id: Option<Spanned<String>>,
    pub(super) principal: Option<Spanned<Value>>,
    pub(super) resource: Option<Spanned<Value>>,
}

/// Policy files as read, by display path, so diagnostics reuse the text instead of reading again.
pub(super) type Sources = HashMap<String, Arc<SourceFile>>;

impl Loader {
    pub(super) fn load_policies(
        &mut self,
        files: &[PathBuf],
        link_paths: &[NamedPath],
    ) -> (
        Option<PolicySet>,
        BTreeMap<ids::PolicyId, PolicyMeta>,
        Sources,
    ) {
        let mut set = PolicySet::new();
        let mut sources = Sources::new();
        let mut meta: BTreeMap<ids::PolicyId, PolicyMeta> = BTreeMap::new();
        let mut ok = true;
        for path in files {
            let Some(file) = self.read(&NamedPath::plain(path.clone())) else {
                ok = false;
                continue;
            };
            sources.insert(file.path.clone(), file.clone());
            ok &= self.add_policy_file(&file, &mut set, &mut meta);
        }
        if !ok {
            self.skipped
                .push("template links: the policies did not load".into());
            return (None, meta, sources);
        }
        for lp in link_paths {
            if lp.optional && !lp.path.exists() {
                continue;
            }
            let Some(file) = self.read(lp) else {
                ok = false;
                continue;
            };
            // Kept with the policy files: a link's problems point into it.
            sources.insert(file.path.clone(), file.clone());
            let docs = match crate::core::yaml::read::<Vec<Spanned<LinkDoc>>>(&file) {
                Ok(d) => d,
                Err(p) => {
                    self.problems.push(*p);
                    ok = false;
                    continue;
                }
            };
            let mut counts: HashMap<String, usize> = HashMap::new();
            for doc in docs {
                if !self.link(&mut set, &mut meta, &file, &doc.value, &mut counts) {
                    ok = false;
                }
            }
        }
        (ok.then_some(set), meta, sources)
    }

    /// Parses one policy file into `set`, each statement under its `@id` (else `file#index`);
    /// `false` when something in it is wrong.
    fn add_policy_file(
        &mut self,
        file: &Arc<SourceFile>,
        set: &mut PolicySet,
        meta: &mut BTreeMap<ids::PolicyId, PolicyMeta>,
    ) -> bool {
        let mut ok = true;
        if let Some(at) = limits::too_deep(&file.text, limits::Syntax::Policy) {
            self.problems
                .push(limits::nesting_problem(file, at, "the policy"));
            return false;
        }
        let parsed = match PolicySet::from_str(&file.text) {
            Ok(p) => p,
            Err(errs) => {
                let problems: Vec<Problem> = errs
                    .iter()
                    .map(|e| Problem::from_cedar(Some(file), e))
                    .collect();
                if problems.first().is_some_and(Problem::at_first_token) {
                    self.problems.push(Problem::not_a(
                        file,
                        "a Cedar policy file",
                        "it fails at its first token",
                    ));
                } else {
                    self.problems.extend(problems);
                }
                return false;
            }
        };
        // The parser numbers statements `policy0`, `policy1`, … in text order, templates included.
        let mut statements: Vec<(usize, bool)> = parsed
            .policies()
            .filter_map(|p| statement_index(p.id()).map(|i| (i, false)))
            .chain(
                parsed
                    .templates()
                    .filter_map(|t| statement_index(t.id()).map(|i| (i, true))),
            )
            .collect();
        statements.sort_unstable();
        for (index, is_template) in statements {
            let old = PolicyId::new(format!("policy{index}"));
            let (annotated, description) = if is_template {
                let t = parsed.template(&old);
                (
                    t.and_then(|t| t.annotation("id")).map(str::to_string),
                    t.and_then(|t| t.annotation("description"))
                        .map(str::to_string),
                )
            } else {
                let p = parsed.policy(&old);
                (
                    p.and_then(|p| p.annotation("id")).map(str::to_string),
                    p.and_then(|p| p.annotation("description"))
                        .map(str::to_string),
                )
            };
            let id = annotated
                .clone()
                .unwrap_or_else(|| format!("{}#{index}", file.path));
            if let Some(prev) = meta.get(id.as_str()) {
                let message = format!("duplicate policy id `{id}`: also used in `{}`", prev.file);
                self.problems
                    .push(id_problem(file, annotated.as_deref(), message));
                ok = false;
                continue;
            }
            let new_id = PolicyId::new(&id);
            // Ids were checked unique above, so adding cannot fail; keep the error anyway.
            let added = if is_template {
                parsed
                    .template(&old)
                    .map(|t| set.add_template(t.new_id(new_id)).map_err(Box::new))
            } else {
                parsed
                    .policy(&old)
                    .map(|p| set.add(p.new_id(new_id)).map_err(Box::new))
            };
            if let Some(Err(e)) = added {
                self.problems
                    .push(Problem::from_cedar(None, e.as_ref()).with_file(file));
                ok = false;
            }
            meta.insert(
                ids::PolicyId::new(id.clone()),
                PolicyMeta {
                    id: ids::PolicyId::new(id),
                    file: file.path.clone(),
                    description,
                    template: None,
                    is_template,
                    place: None,
                },
            );
        }
        ok
    }

    pub(super) fn link(
        &mut self,
        set: &mut PolicySet,
        meta: &mut BTreeMap<ids::PolicyId, PolicyMeta>,
        file: &Arc<SourceFile>,
        doc: &LinkDoc,
        counts: &mut HashMap<String, usize>,
    ) -> bool {
        let template = &doc.template.value;
        let at = |s: &serde_saphyr::Location| crate::core::diag::span_of(file, s);
        if !meta.get(template.as_str()).is_some_and(|m| m.is_template) {
            let templates = meta
                .values()
                .filter(|m| m.is_template)
                .map(|m| m.id.as_str());
            let mut p = Problem::at(
                file,
                at(&doc.template.referenced),
                format!("unknown template `{template}`"),
            );
            p.help = crate::core::suggest::did_you_mean(template, templates);
            self.problems.push(p);
            return false;
        }
        let n = counts.entry(template.clone()).or_insert(0);
        let id = doc
            .id
            .as_ref()
            .map_or_else(|| format!("{template}#{n}"), |i| i.value.clone());
        *n += 1;
        let mut slots = HashMap::new();
        for (slot, value) in [
            (SlotId::principal(), &doc.principal),
            (SlotId::resource(), &doc.resource),
        ] {
            if let Some(v) = value {
                match parse_uid(&v.value) {
                    Ok(uid) => {
                        slots.insert(slot, uid);
                    }
                    Err(e) => {
                        self.problems.push(Problem::at(file, at(&v.referenced), e));
                        return false;
                    }
                }
            }
        }
        if let Some(prev) = meta.get(id.as_str()) {
            let span = doc
                .id
                .as_ref()
                .map_or(at(&doc.template.referenced), |i| at(&i.referenced));
            self.problems.push(Problem::at(
                file,
                span,
                format!("duplicate policy id `{id}`: also used in `{}`", prev.file),
            ));
            return false;
        }
        if let Err(e) = set.link(PolicyId::new(template), PolicyId::new(&id), slots) {
            self.problems.push(Problem::at(
                file,
                at(&doc.template.referenced),
                format!("failed to link template `{template}`: {e}"),
            ));
            return false;
        }
        let description = set
            .template_annotation(&PolicyId::new(template), "description")
            .map(str::to_string);
        meta.insert(
            ids::PolicyId::new(id.clone()),
            PolicyMeta {
                id: ids::PolicyId::new(id),
                file: file.path.clone(),
                description,
                template: Some(ids::PolicyId::new(template.clone())),
                is_template: false,
                place: Some(at(&doc.template.referenced)),
            },
        );
        true
    }

    pub(super) fn validate_policies(
        &mut self,
        schema: &Schema,
        policies: &PolicySet,
        meta: &BTreeMap<ids::PolicyId, PolicyMeta>,
        sources: &Sources,
    ) {
        let result = Validator::new(schema.clone()).validate(policies, ValidationMode::Strict);
        for e in result.validation_errors() {
            let id = ids::raw(e.policy_id()).to_string();
            let m = meta.get(id.as_str());
            // A link's errors are about its slot values: reported at the link in its file.
            if let Some((m, place)) = m.and_then(|m| Some((m, m.place?))) {
                let p = Problem::from_cedar(None, e);
                let message = format!("link `{id}`: {}", p.message);
                let mut p = Problem::new(message);
                p.help = Problem::from_cedar(None, e).help;
                if let Some(file) = sources.get(&m.file) {
                    p = p.placed(file, place);
                }
                self.problems.push(p);
                continue;
            }
            let file = m.and_then(|m| sources.get(&m.file));
            let mut p = Problem::from_cedar(file, e);
            if p.file.is_none() {
                p.message = format!("policy `{id}`: {}", p.message);
            }
            self.problems.push(p);
        }
    }
}

/// A duplicate-id problem at the `@id("…")` annotation when the text has it.
pub(super) fn id_problem(
    file: &Arc<SourceFile>,
    annotated: Option<&str>,
    message: String,
) -> Problem {
    let needle = annotated.map(|id| format!("@id(\"{id}\")"));
    match needle.and_then(|n| file.text.rfind(&n).map(|o| (o, n.len()))) {
        Some(span) => Problem::at(file, span, message),
        None => Problem::in_file(file, message),
    }
}

pub(super) fn statement_index(id: &PolicyId) -> Option<usize> {
    id.to_string().strip_prefix("policy")?.parse().ok()
}
