//! The inventory: JSON the fast way, YAML or any problem the located way.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use cedar_policy::{Entities, EntityUid, Schema};
use serde::Deserialize;
use serde_json::{Map, Value};
use serde_saphyr::Spanned;

use super::files::*;
use super::*;
use crate::core::diag::{Problem, SourceFile};
use crate::core::uid::{parse_uid, uid_json};

/// One entity as written: Cedar's entity JSON format, uids also as uid strings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, bound = "U: Deserialize<'de>")]
pub(super) struct EntityDoc<U = Spanned<Value>> {
    pub(super) uid: U,
    #[serde(default)]
    pub(super) attrs: Map<String, Value>,
    #[serde(default)]
    pub(super) parents: Vec<U>,
    pub(super) tags: Option<Map<String, Value>>,
}

impl Loader {
    pub(super) fn load_entities(&mut self, files: &[PathBuf], schema: &Schema) -> Option<Entities> {
        let mut texts = Vec::new();
        let mut ok = true;
        for path in files {
            match self.read(&NamedPath::plain(path.clone())) {
                Some(file) => texts.push(file),
                None => ok = false,
            }
        }
        if ok {
            if let Some(entities) = quick_entities(&texts, schema) {
                return Some(entities);
            }
        }
        // Something is wrong (or a file is YAML): read again with positions, to say where.
        let mut entities = Vec::new();
        let mut seen: HashMap<EntityUid, String> = HashMap::new();
        for file in &texts {
            let docs = match serde_saphyr::from_str_with_options::<Option<Vec<EntityDoc>>>(
                &file.text,
                inventory_options(file.text.len()),
            ) {
                Ok(d) => d.unwrap_or_default(),
                Err(e) => {
                    self.problems.push(Problem::from_yaml(file, &e));
                    ok = false;
                    continue;
                }
            };
            for doc in docs {
                let entity = located_entity(file, doc, &mut seen);
                ok &= entity.is_ok();
                entities.push((file, entity));
            }
        }
        let mut whole = None;
        if ok {
            let all = entities.iter().flat_map(|(_, e)| e.as_ref().ok());
            let all = Value::Array(all.map(|(_, _, json)| json.clone()).collect());
            match Entities::from_json_value(all, Some(schema)) {
                Ok(e) => return Some(e),
                Err(e) => whole = Some(Problem::from_cedar(None, &e)),
            }
        }
        // Each entity on its own, so Cedar's complaint points at its uid.
        let before = self.problems.len();
        for (file, entity) in entities {
            match entity {
                Err(problem) => self.problems.push(*problem),
                Ok((at, uid, json)) => {
                    if let Err(e) =
                        Entities::from_json_value(Value::Array(vec![json]), Some(schema))
                    {
                        self.problems.push(Problem::at(
                            file,
                            at,
                            format!("invalid entity `{uid}`: {}", with_causes(&e)),
                        ));
                    }
                }
            }
        }
        // Cedar's message about the whole inventory stands only if no entity explains it.
        if self.problems.len() == before {
            self.problems.extend(whole);
        }
        None
    }
}

/// The inventory read the fast way: JSON files with serde_json, no positions kept. Any doubt (a
/// file that is not JSON, a uid that does not parse, a duplicate, Cedar rejecting the whole)
/// gives `None`, and the caller reads everything again with positions to report where.
pub(super) fn quick_entities(files: &[Arc<SourceFile>], schema: &Schema) -> Option<Entities> {
    let mut all = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for file in files {
        let docs: Option<Vec<EntityDoc<Value>>> = serde_json::from_str(&file.text).ok()?;
        for doc in docs.unwrap_or_default() {
            let uid = parse_uid(&doc.uid).ok()?;
            let parents = doc.parents.iter().map(parse_uid);
            let parents = parents.collect::<Result<Vec<_>, _>>().ok()?;
            if !seen.insert(uid.clone()) {
                return None;
            }
            all.push(entity_json(&uid, doc.attrs, &parents, doc.tags));
        }
    }
    Entities::from_json_value(Value::Array(all), Some(schema)).ok()
}

/// One entity in Cedar's JSON form with the place of its uid, or the problem with it.
pub(super) fn located_entity(
    file: &Arc<SourceFile>,
    doc: EntityDoc,
    seen: &mut HashMap<EntityUid, String>,
) -> Result<((usize, usize), EntityUid, Value), Box<Problem>> {
    let at = |s: &serde_saphyr::Location| crate::core::diag::span_of(file, s);
    let problem = |at, message| Box::new(Problem::at(file, at, message));
    let uid = parse_uid(&doc.uid.value).map_err(|e| problem(at(&doc.uid.referenced), e))?;
    let here = format!("{}:{}", file.path, doc.uid.referenced.line());
    if let Some(prev) = seen.insert(uid.clone(), here) {
        return Err(problem(
            at(&doc.uid.referenced),
            format!("duplicate entity `{uid}`: first defined at {prev}"),
        ));
    }
    let mut parents = Vec::new();
    for p in &doc.parents {
        parents.push(parse_uid(&p.value).map_err(|e| problem(at(&p.referenced), e))?);
    }
    let json = entity_json(&uid, doc.attrs, &parents, doc.tags);
    Ok((at(&doc.uid.referenced), uid, json))
}

/// An error and the errors under it, `: `-separated (Cedar's entity errors say what is wrong
/// only in their sources).
pub(super) fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text = format!("{text}: {c}");
        cause = c.source();
    }
    text
}

/// Cedar's entity JSON.
pub(super) fn entity_json(
    uid: &EntityUid,
    attrs: Map<String, Value>,
    parents: &[EntityUid],
    tags: Option<Map<String, Value>>,
) -> Value {
    let parents: Vec<Value> = parents.iter().map(uid_json).collect();
    let mut json = serde_json::json!({ "uid": uid_json(uid), "attrs": attrs, "parents": parents });
    if let (Some(tags), Some(obj)) = (tags, json.as_object_mut()) {
        obj.insert("tags".into(), Value::Object(tags));
    }
    json
}

/// Parser limits for an entity file. serde-saphyr's defaults (250,000 nodes) guard
/// configuration files against YAML bombs but stop a real inventory (12,500 entities are
/// about 300,000 nodes). A node or event costs at least one byte of input unless it comes from
/// an alias, and aliases keep their own default limits, so limits that grow with the input
/// admit any honest file without admitting an expansion bomb.
pub(super) fn inventory_options(bytes: usize) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = budget.max_nodes.max(bytes);
    budget.max_events = budget.max_events.max(2 * bytes);
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}
