//! The inventory: JSON the fast way, YAML or any problem the located way.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use cedar_policy::{Entities, EntityUid, Schema};
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::{Map, Value};
use serde_saphyr::Spanned;

use super::files::*;
use super::*;
use crate::core::diag::{with_causes, Problem, SourceFile};
use crate::core::limits::MAX_HIERARCHY_DEPTH;
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
            let docs = match crate::core::yaml::read::<Option<Vec<EntityDoc>>>(file) {
                Ok(d) => d.unwrap_or_default(),
                Err(p) => {
                    self.problems.push(*p);
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
            let located: Vec<_> = entities
                .iter()
                .filter_map(|(file, e)| e.as_ref().ok().map(|l| (*file, l.at, &l.uid, &l.parents)))
                .collect();
            let refs: Vec<(&EntityUid, &[EntityUid])> =
                located.iter().map(|(_, _, u, p)| (*u, &p[..])).collect();
            if let Some((i, message)) = hierarchy_problem(&refs) {
                if let Some((file, at, ..)) = located.get(i) {
                    self.problems
                        .push(Problem::at(file, *at, message).with_help(
                        "entity hierarchies must be acyclic and, here, at most 1000 levels deep",
                    ));
                }
                return None;
            }
            let all = entities.iter().flat_map(|(_, e)| e.as_ref().ok());
            let all = Value::Array(all.map(|l| l.json.clone()).collect());
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
                Ok(Located { at, uid, json, .. }) => {
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

/// A scenario file's own `entities:` (Cedar's entity format, as in the inventory), each checked
/// against the schema and reported where its uid is written.
pub(super) fn file_entities(
    file: &Arc<SourceFile>,
    docs: Vec<EntityDoc>,
    schema: &Schema,
    inventory: &Entities,
) -> Result<Vec<cedar_policy::Entity>, Vec<Problem>> {
    let mut seen = HashMap::new();
    let mut problems = Vec::new();
    let mut located = Vec::new();
    for doc in docs {
        match located_entity(file, doc, &mut seen) {
            Ok(l) => located.push(l),
            Err(p) => problems.push(*p),
        }
    }
    let refs: Vec<(&EntityUid, &[EntityUid])> =
        located.iter().map(|l| (&l.uid, &l.parents[..])).collect();
    if let Some((i, message)) = hierarchy_problem(&refs) {
        if let Some(l) = located.get(i) {
            problems.push(Problem::at(file, l.at, message));
        }
    }
    let mut entities = Vec::new();
    for l in located {
        if inventory.get(&l.uid).is_some() {
            problems.push(
                Problem::at(file, l.at, format!("entity `{}` is already in the inventory", l.uid))
                    .with_help("a scenario file's `entities:` add to the inventory; give the entity another id, or change it in the inventory"),
            );
            continue;
        }
        match cedar_policy::Entity::from_json_value(l.json, Some(schema)) {
            Ok(e) => entities.push(e),
            Err(e) => problems.push(Problem::at(
                file,
                l.at,
                format!("invalid entity `{}`: {}", l.uid, with_causes(&e)),
            )),
        }
    }
    if problems.is_empty() {
        Ok(entities)
    } else {
        Err(problems)
    }
}

/// The inventory read the fast way: JSON files with serde_json, no positions kept. Any doubt (a
/// file that is not JSON, a uid that does not parse, a duplicate, Cedar rejecting the whole)
/// gives `None`, and the caller reads everything again with positions to report where.
pub(super) fn quick_entities(files: &[Arc<SourceFile>], schema: &Schema) -> Option<Entities> {
    if let [file] = files {
        if let Some(entities) = cedar_form(file, schema) {
            return Some(entities);
        }
    }
    let mut all = Vec::new();
    let mut edges = Vec::new();
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
            edges.push((uid, parents));
        }
    }
    let refs: Vec<(&EntityUid, &[EntityUid])> = edges.iter().map(|(u, p)| (u, &p[..])).collect();
    if hierarchy_problem(&refs).is_some() {
        return None;
    }
    Entities::from_json_value(Value::Array(all), Some(schema)).ok()
}

/// A single JSON inventory already in Cedar's entity format (every uid `{"type", "id"}`),
/// handed to Cedar entity by entity, as text, side by side. Cedar reads a whole file on one
/// thread, and more than half of that is reading each entity (its values, by the schema) and
/// checking it against the schema; those are done here by Cedar's own entity parser, and the
/// transitive closure is actas's ([`add_indirect_ancestors`], which also checks what Cedar
/// does not check first: a repeated uid, a cycle, a parent chain too deep). On the teams shape
/// (13,000 entities) the whole load takes 0.57× what Cedar alone takes to read the file
/// (docs/performance.md). Anything else gives `None` and the way above.
pub(super) fn cedar_form(file: &SourceFile, schema: &Schema) -> Option<Entities> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Uid<'a> {
        #[serde(rename = "type", borrow)]
        #[allow(dead_code, reason = "read only to hold the uid to this form")]
        ty: std::borrow::Cow<'a, str>,
        #[serde(borrow)]
        #[allow(dead_code, reason = "read only to hold the uid to this form")]
        id: std::borrow::Cow<'a, str>,
    }
    // The fields this form allows, every uid `{type, id}`; Cedar reads the entity itself.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "read only to hold the entity to this form")]
    struct Light<'a> {
        #[serde(borrow)]
        uid: Uid<'a>,
        #[serde(default)]
        attrs: serde::de::IgnoredAny,
        #[serde(default, borrow)]
        parents: Vec<Uid<'a>>,
        #[serde(default)]
        tags: serde::de::IgnoredAny,
    }
    use cedar_policy_core::entities::{self as core, EntityJsonParser, TCComputation};
    use cedar_policy_core::extensions::Extensions;
    use cedar_policy_core::validator::CoreSchema;
    let core_schema = CoreSchema::new(schema.as_ref());
    // Each entity checked against the schema as it is read (what Cedar's `Entities` does for
    // each one); the transitive closure is made below.
    let parser = EntityJsonParser::new(
        Some(&core_schema),
        Extensions::all_available(),
        TCComputation::AssumeAlreadyComputed,
    );
    // Each entity's text, found without building anything; then each read twice side by side:
    // its form here, the whole by Cedar.
    let raws: Vec<&serde_json::value::RawValue> = serde_json::from_str(&file.text).ok()?;
    // In small runs, so that a worker busy elsewhere when this starts (`test` reads the
    // scenario files beside it) can take a share of what is left when it is free: rayon's own
    // split leaves four runs, and the last one was read on one core while the other idled.
    let read: Option<Vec<cedar_policy_core::ast::Entity>> = raws
        .par_iter()
        .with_max_len(ENTITIES_PER_RUN)
        .map(|raw| {
            serde_json::from_str::<Light>(raw.get()).ok()?;
            parser.single_from_json_str(raw.get()).ok()
        })
        .collect();
    let mut entities = read?;
    // Cedar checks action entities written in the inventory against the schema's as a whole
    // (and replaces them by the schema's): that stays Cedar's.
    if entities.iter().any(|e| e.uid().is_action()) {
        return Entities::from_json_str(&file.text, Some(schema)).ok();
    }
    if !add_indirect_ancestors(&mut entities) {
        return None;
    }
    // The schema's actions added as `Entities` adds them (their hierarchy closed already).
    let actions = schema.action_entities().ok()?;
    let actions = actions.iter().map(|a| a.as_ref().clone());
    let all = core::Entities::from_entities(
        entities.into_iter().chain(actions),
        None::<&CoreSchema<'_>>,
        TCComputation::AssumeAlreadyComputed,
        Extensions::all_available(),
    );
    all.ok().map(Entities::from)
}

/// Entities read in one run of [`cedar_form`]'s parallel read (about a millisecond's work).
const ENTITIES_PER_RUN: usize = 64;

/// The transitive closure of the inventory: each entity's ancestors beyond its parents, added
/// as Cedar's own closure adds them. Cedar's (`Entities::from_entities`) works on one thread
/// over maps keyed by uid, and took a third of reading an organisation's inventory after its
/// entities were read side by side; this one works on numbers and adds the ancestors side by
/// side. `false`, and nothing added, when the inventory must be read the slow way, which says
/// where it is wrong ([`hierarchy_problem`] has the words): a uid written twice, an entity that
/// is its own ancestor, or a parent chain deeper than [`MAX_HIERARCHY_DEPTH`] (checked before
/// any ancestor list is made, so a hostile chain costs one walk, not its square).
fn add_indirect_ancestors(entities: &mut [cedar_policy_core::ast::Entity]) -> bool {
    let uids: Vec<cedar_policy_core::ast::EntityUID> =
        entities.iter().map(|e| e.uid().clone()).collect();
    let mut index: rustc_hash::FxHashMap<&cedar_policy_core::ast::EntityUID, usize> =
        rustc_hash::FxHashMap::default();
    index.reserve(uids.len());
    for (i, u) in uids.iter().enumerate() {
        if index.insert(u, i).is_some() {
            return false;
        }
    }
    // Parents in the inventory (one outside it has no ancestors to pass on).
    let parents: Vec<Vec<usize>> = entities
        .iter()
        .map(|e| e.parents().filter_map(|p| index.get(p).copied()).collect())
        .collect();
    // Parents before children, so each entity's ancestors are its parents' and theirs.
    let Ok(order) = parents_first(&parents) else {
        return false;
    };
    let mut ancestors: Vec<Vec<usize>> = vec![Vec::new(); entities.len()];
    for &i in &order {
        let mut all: Vec<usize> = parents[i]
            .iter()
            .flat_map(|&p| std::iter::once(p).chain(ancestors[p].iter().copied()))
            .collect();
        all.sort_unstable();
        all.dedup();
        ancestors[i] = all;
    }
    entities
        .par_iter_mut()
        .zip(ancestors)
        .for_each(|(e, ancestors)| {
            for a in ancestors {
                // Cedar keeps parents apart from the other ancestors; this skips parents.
                e.add_indirect_ancestor(uids[a].clone());
            }
        });
    true
}

/// One entity as read with positions: where its uid is written, the uid, Cedar's JSON form and
/// its parents.
pub(super) struct Located {
    at: (usize, usize),
    uid: EntityUid,
    json: Value,
    parents: Vec<EntityUid>,
}

/// One entity in Cedar's JSON form with the place of its uid, or the problem with it.
pub(super) fn located_entity(
    file: &Arc<SourceFile>,
    doc: EntityDoc,
    seen: &mut HashMap<EntityUid, String>,
) -> Result<Located, Box<Problem>> {
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
    Ok(Located {
        at: at(&doc.uid.referenced),
        uid,
        json,
        parents,
    })
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

/// What is wrong with the hierarchy, checked before Cedar computes its transitive closure
/// (which recurses along a parent chain, and costs the square of its length): an entity that is
/// its own ancestor, or a parent chain deeper than [`MAX_HIERARCHY_DEPTH`]. The index of the
/// entity to point at, and the message.
pub(super) fn hierarchy_problem<K: Eq + std::hash::Hash + std::fmt::Display>(
    entities: &[(&K, &[K])],
) -> Option<(usize, String)> {
    let index: HashMap<&K, usize> = entities
        .iter()
        .enumerate()
        .map(|(i, (u, _))| (*u, i))
        .collect();
    let parents: Vec<Vec<usize>> = entities
        .iter()
        .map(|(_, ps)| ps.iter().filter_map(|p| index.get(p).copied()).collect())
        .collect();
    match parents_first(&parents) {
        Ok(_) => None,
        Err(HierarchyFault::Cycle(cycle)) => {
            let p = cycle.last().copied().unwrap_or(0);
            let names: Vec<String> = cycle.iter().map(|&n| entities[n].0.to_string()).collect();
            Some((
                p,
                format!(
                    "entity `{}` is its own ancestor: {}",
                    entities[p].0,
                    names.join(" → ")
                ),
            ))
        }
        Err(HierarchyFault::TooDeep(node)) => Some((
            node,
            format!(
                "entity `{}` has a parent chain deeper than {MAX_HIERARCHY_DEPTH} levels",
                entities[node].0
            ),
        )),
    }
}

/// What a walk of the hierarchy found wrong.
enum HierarchyFault {
    /// A cycle, by its members in order, the first one again at the end.
    Cycle(Vec<usize>),
    /// An entity whose parent chain is deeper than [`MAX_HIERARCHY_DEPTH`].
    TooDeep(usize),
}

/// Every entity (by index; `parents` gives each one's parents) with its parents before it: a
/// depth-first walk's post-order over parent edges, which finds a cycle (a parent still on the
/// walk's path) and measures each entity's longest parent chain as it goes.
fn parents_first(parents: &[Vec<usize>]) -> Result<Vec<usize>, HierarchyFault> {
    const UNSEEN: usize = usize::MAX;
    let mut order = Vec::with_capacity(parents.len());
    let mut depth = vec![UNSEEN; parents.len()];
    let mut on_path = vec![false; parents.len()];
    for start in 0..parents.len() {
        if depth[start] != UNSEEN {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        on_path[start] = true;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&p) = parents[node].get(*next) {
                *next += 1;
                if on_path[p] {
                    let from = stack.iter().position(|(n, _)| *n == p).unwrap_or(0);
                    let mut cycle: Vec<usize> = stack[from..].iter().map(|(n, _)| *n).collect();
                    cycle.push(p);
                    return Err(HierarchyFault::Cycle(cycle));
                }
                if depth[p] == UNSEEN {
                    on_path[p] = true;
                    stack.push((p, 0));
                }
                continue;
            }
            let d = parents[node]
                .iter()
                .map(|&p| depth[p] + 1)
                .max()
                .unwrap_or(0);
            if d > MAX_HIERARCHY_DEPTH {
                return Err(HierarchyFault::TooDeep(node));
            }
            depth[node] = d;
            on_path[node] = false;
            order.push(node);
            stack.pop();
        }
    }
    Ok(order)
}
