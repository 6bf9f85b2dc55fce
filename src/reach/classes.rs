//! Classes of identities: what each policy can observe of an entity, the facts each identity
//! offers, and the keys that group identities no policy can tell apart (see `matrix.rs` for
//! why equal keys give equal decisions).

use std::collections::BTreeMap;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

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
    /// The same names as [`name_id`]s, sorted: what its keys compare.
    pub(super) names: Vec<u32>,
    pub(super) tags: bool,
    /// It uses `context` other than through one of its attributes (`context == …`), so it can
    /// see every context value.
    pub(super) whole_context: bool,
    /// For a template link: its template (numbered), and what the template's condition alone
    /// observes, without the link's slot values (see `Evaluator::satisfied` in `matrix.rs`).
    pub(super) template: Option<(u32, Box<Observes>)>,
}

/// What can be observed of one identity (or account), values interned.
pub(super) struct Facts {
    pub(super) ty: u32,
    /// `(name id, value id)` (see [`name_id`]), sorted by name id.
    pub(super) attrs: Vec<(u32, u32)>,
    pub(super) tags: Vec<(u32, u32)>,
    /// Indices (into the relevant entities: policy literals, uids in values, identities with
    /// descendants) of those it is `in`, sorted.
    pub(super) within: Vec<u32>,
    /// Its own number among the relevant entities, if it is one (see [`Observable`]).
    pub(super) number: Option<u32>,
}

/// The key of an entity for one policy (or for all of them).
#[derive(Clone, Hash, PartialEq, Eq)]
pub(super) struct Key {
    pub(super) ty: u32,
    pub(super) uid: Option<u32>,
    pub(super) attrs: Vec<(u32, u32)>,
    pub(super) tags: Vec<(u32, u32)>,
    pub(super) within: Vec<u32>,
}

/// The number of an attribute or tag name, the same for the whole process. Keys are made and
/// compared millions of times per matrix (a policy's key of every class): as names they were
/// a fifth of building one, in string hashing, comparison and copies.
pub(super) fn name_id(name: &str) -> u32 {
    static NAMES: std::sync::OnceLock<std::sync::RwLock<HashMap<String, u32>>> =
        std::sync::OnceLock::new();
    let names = NAMES.get_or_init(Default::default);
    // A poisoned lock still holds a consistent map: entries are only ever added whole.
    if let Some(&n) = names.read().unwrap_or_else(|e| e.into_inner()).get(name) {
        return n;
    }
    let mut names = names.write().unwrap_or_else(|e| e.into_inner());
    let n = names.len() as u32;
    *names.entry(name.to_string()).or_insert(n)
}

impl Observes {
    /// What condition `e` observes (a template's: without its slot values).
    pub(super) fn of(e: &ast::Expr) -> Self {
        let mut o = Observes {
            literals: HashSet::default(),
            attrs: HashSet::default(),
            names: Vec::new(),
            tags: false,
            whole_context: false,
            template: None,
        };
        o.add(e);
        o
    }

    /// Adds what `e` observes.
    pub(super) fn add(&mut self, e: &ast::Expr) {
        self.whole_context |= crate::engine::uses_whole_context(e);
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
        self.names = self.attrs.iter().map(|a| name_id(a)).collect();
        self.names.sort_unstable();
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
                names: o.names.clone(),
                tags: o.tags,
                whole_context: o.whole_context,
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
                    names: Vec::new(),
                    tags: true,
                    whole_context: true,
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

/// The entities policies can observe by uid, and which policies observe each.
///
/// A policy can only come by a uid through what it writes (its literals), the values it reads
/// (an attribute's or a context attribute's value, by that name; a tag's value; the whole
/// context, when it uses `context` other than through an attribute), or a request variable;
/// and a variable's uid only shows when the policy can compare it with such a uid or test `in`
/// against it (then it has descendants). So a uid in the values of one attribute (an owner, an
/// admin list, `context.impersonator`) is observable only to the policies that read that
/// attribute: ownership names every person in some account's `owner`, and before this a
/// policy that never reads `owner` still told every person apart.
pub(super) struct Observable {
    /// The entities an `in` (or an equality) can name, numbered in the order of their uid
    /// strings: literals, uids in values, identities with descendants.
    pub(super) index: HashMap<String, u32>,
    /// Which of those every policy observes: identities with descendants.
    global: Vec<bool>,
    /// Those in the values of each attribute name or context attribute (sorted).
    by_attr: HashMap<String, Vec<u32>>,
    /// Those in tag values (sorted).
    in_tags: Vec<u32>,
    /// Those in context values (sorted), for policies that use the whole context.
    in_context: Vec<u32>,
}

/// The entities policies can observe (see [`Observable`]). With several contexts, a uid in
/// any of them counts (classes fine enough for each).
pub(super) fn observable(
    engine: &Engine,
    identities: &Identities,
    observes: &[Observes],
    contexts: &[&ContextMap],
) -> Observable {
    let scan = identities.scan(engine);
    let (in_tags, with_descendants) = (&scan.in_tags, &scan.with_descendants);
    // A context value shows, like an attribute's, to the policies that read its name (and to
    // those that use the whole context).
    let mut in_context: HashSet<String> = HashSet::default();
    let mut context_by_attr: HashMap<&str, HashSet<String>> = HashMap::default();
    for ctx in contexts {
        for (k, v) in ctx.iter() {
            let mut found = HashSet::default();
            uids_in_json(v, &mut found);
            in_context.extend(found.iter().cloned());
            context_by_attr.entry(k).or_default().extend(found);
        }
    }
    let mut relevant: Vec<&str> = observes
        .iter()
        .flat_map(|o| o.literals.iter())
        .chain(scan.by_attr.values().flatten())
        .chain(in_tags)
        .chain(&in_context)
        .chain(with_descendants)
        .map(String::as_str)
        .collect();
    relevant.sort_unstable();
    relevant.dedup();
    let index: HashMap<String, u32> = relevant
        .iter()
        .enumerate()
        .map(|(i, s)| ((*s).to_string(), i as u32))
        .collect();
    let numbers = |set: &HashSet<String>| {
        let mut v: Vec<u32> = set.iter().map(|s| index[s.as_str()]).collect();
        v.sort_unstable();
        v
    };
    let global = relevant
        .iter()
        .map(|s| with_descendants.contains(*s))
        .collect();
    let mut by_attr: HashMap<String, Vec<u32>> = scan
        .by_attr
        .iter()
        .map(|(k, set)| (k.clone(), numbers(set)))
        .collect();
    for (k, set) in &context_by_attr {
        let list = by_attr.entry((*k).to_string()).or_default();
        list.extend(numbers(set));
        list.sort_unstable();
        list.dedup();
    }
    Observable {
        global,
        by_attr,
        in_tags: numbers(in_tags),
        in_context: numbers(&in_context),
        index,
    }
}

/// What the inventory offers the classes under any context, read once per numbering of the
/// identities (see [`Identities::scan`]): every profile's matrix, and each of its later
/// matrices, used to read it again.
pub(crate) struct Scan {
    /// Uids in the values of each attribute name.
    by_attr: HashMap<String, HashSet<String>>,
    /// Uids in tag values.
    in_tags: HashSet<String>,
    /// Identity names with descendants.
    with_descendants: HashSet<String>,
    /// Per identity: its type (numbered), attribute and tag values (interned, sorted by name),
    /// and the uids of its ancestors.
    identities: Vec<(Facts, Vec<String>)>,
}

impl Scan {
    /// Read in parallel (the inventory's uids would be made into strings one by one on one
    /// thread, a tenth of a second on a deep tree of 13,000 entities), values interned after.
    pub(super) fn new(engine: &Engine, identities: &Identities) -> Self {
        use rayon::prelude::*;
        let entities: Vec<&cedar_policy::Entity> = engine.entities.iter().collect();
        // Uids in each attribute's values and in tags, and every entity that is someone's
        // ancestor (by reference: only the identities among them are kept, as names).
        type Found<'a> = (
            HashMap<String, HashSet<String>>,
            HashSet<String>,
            HashSet<&'a cedar_policy::EntityUid>,
        );
        let (by_attr, in_tags, parents) = entities
            .par_iter()
            .fold(
                Found::default,
                |(mut by_attr, mut in_tags, mut parents), e| {
                    for (k, v) in e.attrs() {
                        if let Ok(v) = v {
                            uids_in(&v, by_attr.entry(k.to_string()).or_default());
                        }
                    }
                    for (_, v) in e.tags() {
                        if let Ok(v) = v {
                            uids_in(&v, &mut in_tags);
                        }
                    }
                    if let Some(a) = engine.entities.ancestors(&e.uid()) {
                        parents.extend(a);
                    }
                    (by_attr, in_tags, parents)
                },
            )
            .reduce(Found::default, |mut a, b| {
                for (k, uids) in b.0 {
                    a.0.entry(k).or_default().extend(uids);
                }
                a.1.extend(b.1);
                a.2.extend(b.2);
                a
            });
        let with_descendants = identities
            .uids
            .iter()
            .zip(&identities.names)
            .filter(|(u, _)| parents.contains(&***u))
            .map(|(_, n)| n.to_string())
            .collect();
        // Each identity's values and ancestors, then its values interned in order.
        type Read = (Vec<(u32, EvalResult)>, Vec<(u32, EvalResult)>, Vec<String>);
        let read: Vec<Read> = identities
            .uids
            .par_iter()
            .map(|u| {
                let (mut attrs, mut tags) = (Vec::new(), Vec::new());
                if let Some(e) = engine.entities.get(u) {
                    for (k, v) in e.attrs() {
                        if let Ok(v) = v {
                            attrs.push((name_id(k), v));
                        }
                    }
                    for (k, v) in e.tags() {
                        if let Ok(v) = v {
                            tags.push((name_id(k), v));
                        }
                    }
                }
                let ancestors = engine.entities.ancestors(u).into_iter().flatten();
                (attrs, tags, ancestors.map(ToString::to_string).collect())
            })
            .collect();
        let mut values: BTreeMap<EvalResult, u32> = BTreeMap::new();
        let mut types: HashMap<String, u32> = HashMap::default();
        let mut intern = |v: EvalResult| {
            let n = values.len() as u32;
            *values.entry(v).or_insert(n)
        };
        let identities = identities
            .uids
            .iter()
            .zip(read)
            .map(|(u, (attrs, tags, ancestors))| {
                let n = types.len() as u32;
                let ty = *types.entry(u.type_name().to_string()).or_insert(n);
                let mut attrs: Vec<(u32, u32)> =
                    attrs.into_iter().map(|(k, v)| (k, intern(v))).collect();
                let mut tags: Vec<(u32, u32)> =
                    tags.into_iter().map(|(k, v)| (k, intern(v))).collect();
                attrs.sort();
                tags.sort();
                let facts = Facts {
                    ty,
                    attrs,
                    tags,
                    within: Vec::new(),
                    number: None,
                };
                (facts, ancestors)
            })
            .collect();
        Self {
            by_attr,
            in_tags,
            with_descendants,
            identities,
        }
    }
}

/// What each identity offers the policies: type, attribute and tag values (interned), the
/// relevant entities it is in, its own number among them.
pub(super) fn facts_of(
    engine: &Engine,
    identities: &Identities,
    observable: &Observable,
) -> Vec<Facts> {
    let index = &observable.index;
    let scan = identities.scan(engine);
    scan.identities
        .iter()
        .zip(&identities.names)
        .map(|((f, ancestors), name)| {
            let mut within: Vec<u32> = ancestors
                .iter()
                .filter_map(|a| index.get(a.as_str()).copied())
                .collect();
            within.sort_unstable();
            Facts {
                ty: f.ty,
                attrs: f.attrs.clone(),
                tags: f.tags.clone(),
                within,
                number: index.get(&**name).copied(),
            }
        })
        .collect()
}

/// Classes: identities with equal keys under the union of all observations. Each identity's
/// class, and each class's members.
pub(super) fn classes_of(facts: &[Facts], observes: &[Observes]) -> (Vec<u32>, Vec<Vec<u32>>) {
    // Classes: equal keys under the union of all observations.
    let attrs: HashSet<String> = observes.iter().flat_map(|o| o.attrs.clone()).collect();
    let mut names: Vec<u32> = attrs.iter().map(|a| name_id(a)).collect();
    names.sort_unstable();
    let all = Observes {
        literals: observes.iter().flat_map(|o| o.literals.clone()).collect(),
        attrs,
        names,
        tags: observes.iter().any(|o| o.tags),
        whole_context: observes.iter().any(|o| o.whole_context),
        template: None,
    };
    let mut class_index: HashMap<Key, u32> = HashMap::default();
    let mut class_of = Vec::with_capacity(facts.len());
    let mut members: Vec<Vec<u32>> = Vec::new();
    for (i, f) in facts.iter().enumerate() {
        let key = key_of(f, i as u32, &all, |_| true);
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

/// The relevant entities a policy (or condition) observing `o` can name: those every policy
/// observes, its own literals, and those in the values it reads (see [`Observable`]).
pub(super) struct Nameable<'a> {
    global: &'a [bool],
    /// Sorted.
    own: Vec<u32>,
}

impl<'a> Nameable<'a> {
    pub(super) fn new(o: &Observes, observable: &'a Observable) -> Self {
        let read = o.attrs.iter().filter_map(|a| observable.by_attr.get(a));
        let tags = o.tags.then_some(&observable.in_tags);
        let context = o.whole_context.then_some(&observable.in_context);
        let mut own: Vec<u32> = o
            .literals
            .iter()
            .filter_map(|l| observable.index.get(l.as_str()).copied())
            .chain(read.chain(tags).chain(context).flatten().copied())
            .collect();
        own.sort_unstable();
        own.dedup();
        Self {
            global: &observable.global,
            own,
        }
    }

    pub(super) fn contains(&self, k: u32) -> bool {
        self.global[k as usize] || self.own.binary_search(&k).is_ok()
    }
}

impl Key {
    /// The key of an entity of type `ty` for a policy that observes nothing else of it.
    pub(super) fn of_type(ty: u32) -> Self {
        Key {
            ty,
            uid: None,
            attrs: Vec::new(),
            tags: Vec::new(),
            within: Vec::new(),
        }
    }
}

/// The key of identity `id` for a policy observing `o`, with `can_name` the relevant entities
/// it can name (its uid shows when it is one of them).
pub(super) fn key_of(f: &Facts, id: u32, o: &Observes, can_name: impl Fn(u32) -> bool) -> Key {
    let named = f.number.is_some_and(&can_name);
    Key {
        ty: f.ty,
        uid: named.then_some(id),
        attrs: f
            .attrs
            .iter()
            .filter(|(k, _)| o.names.binary_search(k).is_ok())
            .copied()
            .collect(),
        tags: if o.tags { f.tags.clone() } else { Vec::new() },
        within: f.within.iter().copied().filter(|&k| can_name(k)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observes(condition: &str) -> Observes {
        let text = format!("permit(principal, action, resource) when {{ {condition} }};");
        let p: cedar_policy::Policy = text.parse().unwrap();
        let ast: &ast::Policy = p.as_ref();
        Observes::of(&ast.condition())
    }

    /// A uid in a context value shows to a policy through the attribute it reads, or through
    /// the whole context when the policy uses `context` other than by an attribute.
    #[test]
    fn the_whole_context_is_seen_only_where_context_is_used_whole() {
        let o = observes("context.impersonator == principal && context has mfa");
        assert!(!o.whole_context);
        assert!(o.attrs.contains("impersonator") && o.attrs.contains("mfa"));
        assert!(!observes("context has impersonator.level").whole_context);
        assert!(observes(r#"context == {"impersonator": principal}"#).whole_context);
        assert!(observes("context.mfa && context == {}").whole_context);
        assert!(!observes("resource.owner == principal").whole_context);
    }
}
