//! Classes of identities: what each policy can observe of an entity, the facts each identity
//! offers, and the keys that group identities no policy can tell apart (see `matrix.rs` for
//! why equal keys give equal decisions).

use std::collections::BTreeMap;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::sync::Arc;

use cedar_policy::EvalResult;
use cedar_policy_core::ast::{self, BinaryOp, ExprKind, Literal};
use serde_json::Value;

use super::Identities;
use crate::engine::{ContextMap, Engine};

/// What one policy can observe of an entity.
pub(super) struct Observes {
    /// Uid strings written in the policy or its link.
    pub(super) literals: HashSet<String>,
    /// Attribute names it reads or tests.
    pub(super) attrs: HashSet<String>,
    pub(super) tags: bool,
    /// For a template link: its template (numbered), and what the template's condition alone
    /// observes, without the link's slot values (see `Evaluator::satisfied` in `matrix.rs`).
    pub(super) template: Option<(u32, Box<Observes>)>,
}

/// What can be observed of one identity (or account), values interned.
pub(super) struct Facts {
    pub(super) ty: u32,
    /// `(name, value id)`, sorted by name.
    pub(super) attrs: Vec<(String, u32)>,
    pub(super) tags: Vec<(String, u32)>,
    /// Indices (into the relevant entities: policy literals, uids in values, identities with
    /// descendants) of those it is `in`, sorted.
    pub(super) within: Vec<u32>,
    /// Its uid is observable to every policy (in a value, or it has descendants).
    pub(super) pinned: bool,
}

/// The key of an entity for one policy (or for all of them).
#[derive(Clone, Hash, PartialEq, Eq)]
pub(super) struct Key {
    pub(super) ty: u32,
    pub(super) uid: Option<u32>,
    pub(super) attrs: Vec<(String, u32)>,
    pub(super) tags: Vec<(String, u32)>,
    pub(super) within: Vec<u32>,
}

impl Observes {
    /// What condition `e` observes (a template's: without its slot values).
    pub(super) fn of(e: &ast::Expr) -> Self {
        let mut o = Observes {
            literals: HashSet::default(),
            attrs: HashSet::default(),
            tags: false,
            template: None,
        };
        o.add(e);
        o
    }

    /// Adds what `e` observes.
    pub(super) fn add(&mut self, e: &ast::Expr) {
        for e in e.subexpressions() {
            match e.expr_kind() {
                ExprKind::Lit(Literal::EntityUID(u)) => {
                    self.literals.insert(u.to_string());
                }
                ExprKind::GetAttr { attr, .. } | ExprKind::HasAttr { attr, .. } => {
                    self.attrs.insert(attr.to_string());
                }
                ExprKind::ExtHasAttr { attrs, .. } => {
                    self.attrs.extend(attrs.iter().map(ToString::to_string));
                }
                ExprKind::BinaryApp {
                    op: BinaryOp::GetTag | BinaryOp::HasTag,
                    ..
                } => self.tags = true,
                _ => {}
            }
        }
    }
}

/// The policies' observations, in the slicer's order.
pub(super) fn observations(engine: &Engine) -> Vec<Observes> {
    let set: &ast::PolicySet = engine.policies.as_ref();
    let mut by_id: HashMap<String, Observes> = HashMap::default();
    let mut templates: HashMap<String, u32> = HashMap::default();
    for p in set.policies() {
        let mut o = Observes::of(&p.condition());
        if !p.is_static() {
            let n = templates.len() as u32;
            let t = *templates
                .entry(AsRef::<str>::as_ref(p.template().id()).to_string())
                .or_insert(n);
            let body = Observes {
                literals: o.literals.clone(),
                attrs: o.attrs.clone(),
                tags: o.tags,
                template: None,
            };
            o.template = Some((t, Box::new(body)));
        }
        o.literals.extend(p.env().values().map(ToString::to_string));
        by_id.insert(AsRef::<str>::as_ref(p.id()).to_string(), o);
    }
    let slicer = engine.slicer();
    (0..slicer.len())
        .map(|i| {
            by_id
                .remove(crate::core::ids::raw(slicer.policy(i).id()))
                .unwrap_or_else(|| Observes {
                    // Not found in the AST (cannot happen): observe everything.
                    literals: HashSet::default(),
                    attrs: HashSet::default(),
                    tags: true,
                    template: None,
                })
        })
        .collect()
}

/// Uids inside a value.
pub(super) fn uids_in(v: &EvalResult, out: &mut HashSet<String>) {
    match v {
        EvalResult::EntityUid(u) => {
            out.insert(u.to_string());
        }
        EvalResult::Set(s) => s.iter().for_each(|x| uids_in(x, out)),
        EvalResult::Record(r) => r.iter().for_each(|(_, x)| uids_in(x, out)),
        _ => {}
    }
}

pub(super) fn uids_in_json(v: &Value, out: &mut HashSet<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Ok(u)) = m.get("__entity").map(crate::core::uid::parse_uid) {
                out.insert(u.to_string());
            }
            if let (Some(Value::String(_)), Some(Value::String(_)), 2) =
                (m.get("type"), m.get("id"), m.len())
            {
                if let Ok(u) = crate::core::uid::parse_uid(v) {
                    out.insert(u.to_string());
                }
            }
            m.values().for_each(|x| uids_in_json(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| uids_in_json(x, out)),
        _ => {}
    }
}

/// Uids every policy can observe (in attribute, tag or context values, or with descendants
/// among the identities), and the entities an `in` can name: the relevant list (sorted), the
/// pinned identity names, and which relevant entries every policy observes. With several
/// contexts, a uid in any of them counts (classes fine enough for each).
pub(super) fn observable(
    engine: &Engine,
    names: &[Arc<str>],
    observes: &[Observes],
    contexts: &[&ContextMap],
) -> (Vec<String>, HashSet<String>, Vec<bool>) {
    // Uids observable to every policy: in values, or with descendants among the identities.
    let mut in_values: HashSet<String> = HashSet::default();
    let mut parents: HashSet<String> = HashSet::default();
    for e in engine.entities.iter() {
        for (_, v) in e.attrs().chain(e.tags()) {
            if let Ok(v) = v {
                uids_in(&v, &mut in_values);
            }
        }
        if let Some(a) = engine.entities.ancestors(&e.uid()) {
            parents.extend(a.map(ToString::to_string));
        }
    }
    for ctx in contexts {
        for v in ctx.values() {
            uids_in_json(v, &mut in_values);
        }
    }
    let pinned: HashSet<String> = names
        .iter()
        .filter(|n| in_values.contains(&***n) || parents.contains(&***n))
        .map(|n| n.to_string())
        .collect();
    // The entities an `in` can name: literals, values, and identities with descendants.
    let mut relevant: Vec<String> = observes
        .iter()
        .flat_map(|o| o.literals.iter().cloned())
        .chain(in_values.iter().cloned())
        .chain(pinned.iter().cloned())
        .collect();
    relevant.sort();
    relevant.dedup();
    // Values and identities with descendants are observable to every policy.
    let global: Vec<bool> = relevant
        .iter()
        .map(|s| in_values.contains(s) || pinned.contains(s))
        .collect();
    (relevant, pinned, global)
}

/// What each identity offers the policies: type, attribute and tag values (interned), the
/// relevant entities it is in, whether it is pinned.
pub(super) fn facts_of(
    engine: &Engine,
    identities: &Identities,
    relevant_index: &HashMap<&str, u32>,
    pinned: &HashSet<String>,
) -> Vec<Facts> {
    let (ids, names) = (&identities.uids, &identities.names);
    // Facts per identity, values interned.
    let mut values: BTreeMap<EvalResult, u32> = BTreeMap::new();
    let mut types: HashMap<String, u32> = HashMap::default();
    let mut intern = |v: EvalResult| {
        let n = values.len() as u32;
        *values.entry(v).or_insert(n)
    };
    ids.iter()
        .zip(names)
        .map(|(u, name)| {
            let n = types.len() as u32;
            let ty = *types.entry(u.type_name().to_string()).or_insert(n);
            let (mut attrs, mut tags) = (Vec::new(), Vec::new());
            if let Some(e) = engine.entities.get(u) {
                for (k, v) in e.attrs() {
                    if let Ok(v) = v {
                        attrs.push((k.to_string(), intern(v)));
                    }
                }
                for (k, v) in e.tags() {
                    if let Ok(v) = v {
                        tags.push((k.to_string(), intern(v)));
                    }
                }
            }
            attrs.sort();
            tags.sort();
            let mut within: Vec<u32> = engine
                .entities
                .ancestors(u)
                .into_iter()
                .flatten()
                .filter_map(|a| relevant_index.get(a.to_string().as_str()).copied())
                .collect();
            within.sort_unstable();
            Facts {
                ty,
                attrs,
                tags,
                within,
                pinned: pinned.contains(&**name),
            }
        })
        .collect()
}

/// Classes: identities with equal keys under the union of all observations. Each identity's
/// class, and each class's members.
pub(super) fn classes_of(
    names: &[Arc<str>],
    facts: &[Facts],
    observes: &[Observes],
) -> (Vec<u32>, Vec<Vec<u32>>) {
    // Classes: equal keys under the union of all observations.
    let all = Observes {
        literals: observes.iter().flat_map(|o| o.literals.clone()).collect(),
        attrs: observes.iter().flat_map(|o| o.attrs.clone()).collect(),
        tags: observes.iter().any(|o| o.tags),
        template: None,
    };
    let mut class_index: HashMap<Key, u32> = HashMap::default();
    let mut class_of = Vec::with_capacity(facts.len());
    let mut members: Vec<Vec<u32>> = Vec::new();
    for (i, f) in facts.iter().enumerate() {
        let key = key_of(f, i as u32, &names[i], &all, |_| true);
        let n = class_index.len() as u32;
        let c = *class_index.entry(key).or_insert(n);
        if c as usize == members.len() {
            members.push(Vec::new());
        }
        members[c as usize].push(i as u32);
        class_of.push(c);
    }
    (class_of, members)
}

/// Each relevant entity's index (see [`observable`]).
pub(super) fn index_of(relevant: &[String]) -> HashMap<&str, u32> {
    relevant
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i as u32))
        .collect()
}

/// The relevant entities a policy (or condition) observing `o` can name: those every policy
/// observes (`global`), and its own literals.
pub(super) struct Nameable<'a> {
    global: &'a [bool],
    /// Sorted.
    literals: Vec<u32>,
}

impl<'a> Nameable<'a> {
    pub(super) fn new(
        o: &Observes,
        relevant_index: &HashMap<&str, u32>,
        global: &'a [bool],
    ) -> Self {
        let mut literals: Vec<u32> = o
            .literals
            .iter()
            .filter_map(|l| relevant_index.get(l.as_str()).copied())
            .collect();
        literals.sort_unstable();
        Self { global, literals }
    }

    pub(super) fn contains(&self, k: u32) -> bool {
        self.global[k as usize] || self.literals.binary_search(&k).is_ok()
    }
}

/// The key of identity `id` for a policy observing `o`, with `can_name` the relevant entities
/// it can name.
pub(super) fn key_of(
    f: &Facts,
    id: u32,
    name: &str,
    o: &Observes,
    can_name: impl Fn(u32) -> bool,
) -> Key {
    let named = f.pinned || o.literals.contains(name);
    Key {
        ty: f.ty,
        uid: named.then_some(id),
        attrs: f
            .attrs
            .iter()
            .filter(|(k, _)| o.attrs.contains(k))
            .cloned()
            .collect(),
        tags: if o.tags { f.tags.clone() } else { Vec::new() },
        within: f.within.iter().copied().filter(|&k| can_name(k)).collect(),
    }
}
