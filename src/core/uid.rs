//! Entity references as users write them: Cedar's uid syntax (`User::"alice"`, namespaces and
//! escapes included), a `{type, id}` map, or Cedar's `{"__entity": {type, id}}` form.

use std::str::FromStr;

use cedar_policy::{EntityId, EntityTypeName, EntityUid};
use serde_json::Value;

/// Reads an entity reference from a decoded YAML/JSON value.
pub fn parse_uid(value: &Value) -> Result<EntityUid, String> {
    match value {
        Value::String(s) => EntityUid::from_str(s).map_err(|e| {
            let first = e.to_string();
            format!("malformed entity uid `{s}`: {first}")
        }),
        Value::Object(map) => {
            if let Some(inner) = map.get("__entity") {
                if map.len() == 1 {
                    return parse_uid(inner);
                }
            }
            let (Some(Value::String(ty)), Some(Value::String(id))) =
                (map.get("type"), map.get("id"))
            else {
                return Err("an entity reference needs string fields `type` and `id`".into());
            };
            if let Some(extra) = map.keys().find(|k| *k != "type" && *k != "id") {
                return Err(format!(
                    "unknown field `{extra}` in an entity reference, expected `type` and `id`"
                ));
            }
            let ty = EntityTypeName::from_str(ty)
                .map_err(|e| format!("malformed entity type `{ty}`: {e}"))?;
            Ok(EntityUid::from_type_name_and_id(ty, EntityId::new(id)))
        }
        other => Err(format!(
            "expected an entity reference such as `User::\"alice\"` or `{{type, id}}`, found {}",
            describe(other)
        )),
    }
}

/// Cedar's JSON form of a uid, as entity files and contexts expect it.
pub fn uid_json(uid: &EntityUid) -> Value {
    serde_json::json!({ "type": uid.type_name().to_string(), "id": uid.id().unescaped() })
}

/// `{"__entity": {type, id}}`, the form of an entity value inside attributes and contexts.
pub fn entity_value(uid: &EntityUid) -> Value {
    serde_json::json!({ "__entity": uid_json(uid) })
}

/// What kind of value this is, for messages ("a string", "a list").
pub fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_every_written_form() {
        let want = EntityUid::from_str(r#"User::"alice""#).unwrap();
        for v in [
            json!(r#"User::"alice""#),
            json!({"type": "User", "id": "alice"}),
            json!({"__entity": {"type": "User", "id": "alice"}}),
        ] {
            assert_eq!(parse_uid(&v).unwrap(), want);
        }
        let ns = parse_uid(&json!(r#"Acme::Iam::User::"a\"b""#)).unwrap();
        assert_eq!(ns.type_name().to_string(), "Acme::Iam::User");
        assert_eq!(ns.id().unescaped(), "a\"b");
    }

    #[test]
    fn rejects_malformed_references() {
        assert!(parse_uid(&json!("User::alice"))
            .unwrap_err()
            .starts_with("malformed entity uid"));
        assert!(parse_uid(&json!(3)).unwrap_err().contains("found a number"));
        assert!(parse_uid(&json!({"type": "User"})).is_err());
        assert!(parse_uid(&json!({"type": "User", "id": "a", "x": 1})).is_err());
    }
}
