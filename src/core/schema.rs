//! What the tool needs to know about a schema beyond `cedar_policy::Schema`: each action's
//! principal and resource types and its context attributes (names, whether required, types),
//! read from the schema's JSON form with common types resolved.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use cedar_policy::{EntityId, EntityTypeName, EntityUid, Schema};
use serde_json::{Map, Value};

use crate::core::diag::Problem;
use crate::core::uid::describe;

/// A context attribute an action declares.
#[derive(Debug, Clone)]
pub struct Attribute {
    pub required: bool,
    /// The attribute's type in the schema's JSON form, common types resolved at the top level.
    pub ty: Value,
}

#[derive(Debug, Clone, Default)]
pub struct ActionInfo {
    pub principals: Vec<EntityTypeName>,
    pub resources: Vec<EntityTypeName>,
    pub context: BTreeMap<String, Attribute>,
}

impl ActionInfo {
    pub fn fits(&self, principal: &EntityUid, resource: &EntityUid) -> bool {
        self.principals.contains(principal.type_name())
            && self.resources.contains(resource.type_name())
    }
}

/// Per-action facts, keyed by action uid.
#[derive(Debug, Clone, Default)]
pub struct SchemaInfo {
    pub actions: HashMap<EntityUid, ActionInfo>,
    /// Each entity type's attributes (`actas init` fills the required ones of example entities).
    pub entity_attributes: HashMap<EntityTypeName, BTreeMap<String, Attribute>>,
    common: HashMap<String, Value>,
}

impl SchemaInfo {
    /// An action uid written in a setting (`what` names the setting in messages): the action,
    /// or the problem (without its place) with the nearest declared action as a suggestion.
    pub fn parse_action(&self, text: &str, what: &str) -> Result<EntityUid, Box<Problem>> {
        match EntityUid::from_str(text) {
            Ok(uid) if self.actions.contains_key(&uid) => Ok(uid),
            Ok(uid) => {
                let known: Vec<String> = self.actions.keys().map(ToString::to_string).collect();
                let mut p = Problem::new(format!("{what} `{uid}` is not in the schema"));
                p.help = crate::core::suggest::did_you_mean(
                    &uid.to_string(),
                    known.iter().map(String::as_str),
                );
                Err(Box::new(p))
            }
            Err(e) => Err(Box::new(Problem::new(format!(
                "malformed {what} `{text}`: {e}"
            )))),
        }
    }

    /// The schema's actions that look like impersonation, best first: those whose name says so
    /// (getAccessToken, assume, impersonate, actAs, signJwt, …), then those whose resources are
    /// principals of some action (one identity acting on another). Used to suggest
    /// `impersonation.actions` (`actas init`, and when a configured action is missing).
    pub fn impersonation_candidates(&self) -> Vec<EntityUid> {
        let principals: std::collections::HashSet<&EntityTypeName> =
            self.actions.values().flat_map(|a| &a.principals).collect();
        let mut scored: Vec<(u8, String, &EntityUid)> = self
            .actions
            .iter()
            .filter_map(|(uid, a)| {
                let named = looks_like_impersonation(uid);
                let on_identities =
                    !a.principals.is_empty() && a.resources.iter().any(|r| principals.contains(r));
                let score = match (named, on_identities) {
                    (true, true) => 0,
                    (true, false) => 1,
                    (false, true) => 2,
                    (false, false) => return None,
                };
                Some((score, uid.to_string(), uid))
            })
            .collect();
        scored.sort();
        scored.into_iter().map(|(_, _, uid)| uid.clone()).collect()
    }

    /// Builds the table from the schema's JSON form (`schema_str_to_json_with_resolved_types`).
    pub fn new(schema: &Schema, json: &Value) -> Self {
        let mut info = SchemaInfo::default();
        let Some(namespaces) = json.as_object() else {
            return info;
        };
        for (ns, body) in namespaces {
            if let Some(Value::Object(common)) = body.get("commonTypes") {
                for (name, ty) in common {
                    info.common.insert(qualify(ns, name), ty.clone());
                }
            }
        }
        for (ns, body) in namespaces {
            if let Some(Value::Object(types)) = body.get("entityTypes") {
                for (name, decl) in types {
                    let Ok(ty) = EntityTypeName::from_str(&qualify(ns, name)) else {
                        continue;
                    };
                    let shape = decl.get("shape").map(|t| info.resolve(ns, t));
                    let attrs = info.attributes(ns, shape.as_ref());
                    info.entity_attributes.insert(ty, attrs);
                }
            }
        }
        for (ns, body) in namespaces {
            let Some(Value::Object(actions)) = body.get("actions") else {
                continue;
            };
            for (name, decl) in actions {
                let ty = if ns.is_empty() {
                    "Action".to_string()
                } else {
                    format!("{ns}::Action")
                };
                let Ok(ty) = EntityTypeName::from_str(&ty) else {
                    continue;
                };
                let uid = EntityUid::from_type_name_and_id(ty, EntityId::new(name));
                let mut action = ActionInfo {
                    principals: schema
                        .principals_for_action(&uid)
                        .map(|i| i.cloned().collect())
                        .unwrap_or_default(),
                    resources: schema
                        .resources_for_action(&uid)
                        .map(|i| i.cloned().collect())
                        .unwrap_or_default(),
                    context: BTreeMap::new(),
                };
                action.principals.sort_by_key(ToString::to_string);
                action.resources.sort_by_key(ToString::to_string);
                let ctx = decl
                    .pointer("/appliesTo/context")
                    .map(|c| info.resolve(ns, c));
                action.context = info.attributes(ns, ctx.as_ref());
                info.actions.insert(uid, action);
            }
        }
        info
    }

    /// The attributes of a record type (already resolved), each resolved in turn.
    pub fn attributes(&self, ns: &str, record: Option<&Value>) -> BTreeMap<String, Attribute> {
        let mut out = BTreeMap::new();
        if let Some(Value::Object(attrs)) = record.and_then(|r| r.get("attributes")) {
            for (attr, ty) in attrs {
                let required = ty.get("required").and_then(Value::as_bool).unwrap_or(true);
                let ty = self.resolve(ns, ty);
                out.insert(attr.clone(), Attribute { required, ty });
            }
        }
        out
    }

    /// Follows common-type references (`{"type": "Ctx"}`) to the type they name.
    fn resolve(&self, ns: &str, ty: &Value) -> Value {
        let mut ty = ty.clone();
        for _ in 0..16 {
            let Some(name) = ty.get("type").and_then(Value::as_str) else {
                break;
            };
            let next = match name {
                "String" | "Long" | "Boolean" | "Bool" | "Set" | "Record" | "Entity"
                | "Extension" | "EntityOrCommon" => break,
                _ => self
                    .common
                    .get(&qualify(ns, name))
                    .or_else(|| self.common.get(name)),
            };
            match next {
                Some(n) => ty = n.clone(),
                None => break,
            }
        }
        ty
    }

    /// Checks a context value against a declared attribute type, for precise messages; Cedar
    /// checks again when the request is built.
    pub fn check_value(&self, value: &Value, ty: &Value, ns: &str) -> Result<(), String> {
        let ty = self.resolve(ns, ty);
        let kind = ty.get("type").and_then(Value::as_str).unwrap_or("");
        let ok = match kind {
            "Long" => value.as_i64().is_some(),
            "String" => value.is_string(),
            "Boolean" | "Bool" => value.is_boolean(),
            "Set" => {
                let Some(items) = value.as_array() else {
                    return Err(format!(
                        "expected a set (a list), found {}",
                        describe(value)
                    ));
                };
                let element = ty.get("element").cloned().unwrap_or(Value::Null);
                for item in items {
                    self.check_value(item, &element, ns)?;
                }
                true
            }
            "Record" => {
                let Some(fields) = value.as_object() else {
                    return Err(format!(
                        "expected a record (a map), found {}",
                        describe(value)
                    ));
                };
                let attrs = ty
                    .get("attributes")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                check_record(self, fields, &attrs, ns)?;
                true
            }
            "Entity" => value.is_object(),
            _ => true,
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "expected {}, found {}",
                type_name(&ty),
                describe(value)
            ))
        }
    }
}

/// Whether an action's name says it hands over an identity (getAccessToken, assume, actAs, …).
pub fn looks_like_impersonation(action: &EntityUid) -> bool {
    const NAMES: &[&str] = &[
        "impersonat",
        "assume",
        "actas",
        "act_as",
        "act-as",
        "getaccesstoken",
        "generateaccesstoken",
        "signjwt",
        "signblob",
        "delegat",
        "sudo",
        "becom",
        "runas",
        "switchuser",
        "switchrole",
    ];
    let id = action.id().unescaped().to_ascii_lowercase();
    NAMES.iter().any(|n| id.contains(n))
}

fn check_record(
    info: &SchemaInfo,
    fields: &Map<String, Value>,
    attrs: &Map<String, Value>,
    ns: &str,
) -> Result<(), String> {
    for (name, value) in fields {
        let Some(ty) = attrs.get(name) else {
            return Err(format!("unknown record attribute `{name}`"));
        };
        info.check_value(value, ty, ns)
            .map_err(|e| format!("in `{name}`: {e}"))?;
    }
    for (name, ty) in attrs {
        let required = ty.get("required").and_then(Value::as_bool).unwrap_or(true);
        if required && !fields.contains_key(name) {
            return Err(format!("missing record attribute `{name}`"));
        }
    }
    Ok(())
}

/// A type for messages: `a Long`, `an entity of type User`.
pub fn type_name(ty: &Value) -> String {
    match ty.get("type").and_then(Value::as_str).unwrap_or("?") {
        "Entity" => format!(
            "an entity of type `{}`",
            ty.get("name").and_then(Value::as_str).unwrap_or("?")
        ),
        "Extension" => format!(
            "an `{}` value",
            ty.get("name").and_then(Value::as_str).unwrap_or("?")
        ),
        "Boolean" | "Bool" => "a boolean".into(),
        "Long" => "a Long (whole number)".into(),
        "String" => "a string".into(),
        other => format!("a {other}"),
    }
}

/// The entity type an attribute's type names, if it is an entity type (in namespace `ns`).
pub fn entity_type_of(ty: &Value) -> Option<EntityTypeName> {
    if ty.get("type").and_then(Value::as_str)? != "Entity" {
        return None;
    }
    EntityTypeName::from_str(ty.get("name")?.as_str()?).ok()
}

/// The element entity type of a `Set<Entity>` attribute.
pub fn set_element_type_of(ty: &Value) -> Option<EntityTypeName> {
    if ty.get("type").and_then(Value::as_str)? != "Set" {
        return None;
    }
    entity_type_of(ty.get("element")?)
}

fn qualify(ns: &str, name: &str) -> String {
    if ns.is_empty() || name.contains("::") {
        name.to_string()
    } else {
        format!("{ns}::{name}")
    }
}
