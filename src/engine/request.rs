//! Requests as actas builds them: the context trimmed to what the action declares and the
//! impersonation attributes (`impersonator`, `delegation_chain`) filled where they fit.

use cedar_policy::{Context, EntityTypeName, EntityUid, Request};
use serde_json::{Map, Value};

use super::*;
use crate::core::schema::{entity_type_of, set_element_type_of};
use crate::core::uid::entity_value;

/// Who is behind a request reached by impersonation: the origin and the accounts so far.
#[derive(Debug, Clone, Copy)]
pub struct Behind<'a> {
    pub origin: &'a EntityUid,
    pub chain: &'a [EntityUid],
}

impl Engine {
    /// Builds a request: the context trimmed to what `action` declares, the impersonation
    /// attributes filled where declared and fitting, and the whole checked by Cedar.
    pub fn prepare(
        &self,
        principal: &EntityUid,
        action: &EntityUid,
        resource: &EntityUid,
        context: &ContextMap,
        behind: Option<Behind<'_>>,
    ) -> Result<Prepared, String> {
        self.fits(principal, action, resource)?;
        let context = self.context_for(action, context, behind)?;
        self.request(principal, action, resource, context)
    }

    /// Whether `action` applies to `principal` and `resource` (an error in words if not).
    fn fits(
        &self,
        principal: &EntityUid,
        action: &EntityUid,
        resource: &EntityUid,
    ) -> Result<(), String> {
        let info = self
            .action(action)
            .ok_or_else(|| format!("action `{action}` is not in the schema"))?;
        if !info.fits(principal, resource) {
            return Err(format!(
                "`{action}` does not apply to principal `{principal}` and resource `{resource}`: it applies to principals of type {} and resources of type {}",
                list_types(&info.principals),
                list_types(&info.resources)
            ));
        }
        Ok(())
    }

    /// The Cedar context of `action`'s requests under `context` with `behind` them: trimmed
    /// to what the action declares, the impersonation attributes filled where declared and
    /// fitting, checked against the schema. Requests that share it (a hop matrix's, under one
    /// context) parse it once: parsing a context was a tenth of a matrix's time. Contexts
    /// already parsed are remembered ([`ContextMemo`], a bounded memo): scenario cases mostly share theirs, and
    /// parsing them was a quarter of `test`'s time.
    pub fn context_for(
        &self,
        action: &EntityUid,
        context: &ContextMap,
        behind: Option<Behind<'_>>,
    ) -> Result<Context, String> {
        let info = self
            .action(action)
            .ok_or_else(|| format!("action `{action}` is not in the schema"))?;
        let mut ctx = Map::new();
        for (name, attr) in &info.context {
            if let Some(v) = context.get(name) {
                ctx.insert(name.clone(), v.clone());
                continue;
            }
            let filled = behind.and_then(|b| fill(name, &attr.ty, b));
            match filled {
                Some(v) => {
                    ctx.insert(name.clone(), v);
                }
                None if attr.required && name != IMPERSONATOR && name != DELEGATION_CHAIN => {
                    return Err(format!(
                        "context attribute `{name}` is required by `{action}` but missing"
                    ));
                }
                None => {}
            }
        }
        if let Some(known) = self.contexts.get(action, &ctx) {
            return known;
        }
        // Parsing does not check attribute types; Cedar's own check, done here once per
        // context, is the one `Request::new` would do for every request (see `request`).
        // The attributes are kept as the key only while the memo has room.
        let key = (!self.contexts.is_full()).then(|| ctx.clone());
        let parsed = Context::from_json_value(Value::Object(ctx), Some((&self.schema, action)))
            .map_err(|e| format!("context is not valid for `{action}`: {e}"))
            .and_then(|c| {
                c.validate(&self.schema, action)
                    .map(|()| c)
                    .map_err(|e| e.to_string())
            });
        if let Some(key) = key {
            self.contexts.remember(action.clone(), key, parsed.clone());
        }
        parsed
    }

    /// The request of `principal` taking `action` on `resource` with a context made by
    /// [`Engine::context_for`] for `action`, checked by Cedar. The caller has checked that the
    /// action applies to them (as [`Engine::prepare`] does; Cedar checks it again, in its own
    /// words).
    ///
    /// Cedar's check is `Request::new` with the schema, in its two halves: the scope
    /// variables here, the context once in [`Engine::context_for`]. Checking the context for
    /// every request was a sixth of building a hop matrix, all for the same context.
    pub fn request(
        &self,
        principal: &EntityUid,
        action: &EntityUid,
        resource: &EntityUid,
        context: Context,
    ) -> Result<Prepared, String> {
        cedar_policy::validate_scope_variables(principal, action, resource, &self.schema)
            .map_err(|e| e.to_string())?;
        let request = Request::new(
            principal.clone(),
            action.clone(),
            resource.clone(),
            context,
            None,
        )
        .map_err(|e| e.to_string())?;
        Ok(Prepared {
            principal: principal.clone(),
            action: action.clone(),
            resource: resource.clone(),
            request,
        })
    }

    /// Prepares every hop of `principal → chain[0] → … → chain[n-1]`.
    pub fn prepare_chain(
        &self,
        principal: &EntityUid,
        chain: &[EntityUid],
        context: &ContextMap,
    ) -> Result<Vec<PreparedHop>, String> {
        // Filled in place rather than collected: a collected `Result` list starts at room for
        // four, and scenario cases' chains are mostly one hop (a tenth of `test`'s memory).
        let mut hops = Vec::with_capacity(chain.len());
        for i in 0..chain.len() {
            hops.push(self.prepare_hop(principal, chain, i, context)?);
        }
        Ok(hops)
    }

    /// Prepares hop number `i` (from 0) of `principal → chain[0] → … → chain[n-1]`.
    pub fn prepare_hop(
        &self,
        principal: &EntityUid,
        chain: &[EntityUid],
        i: usize,
        context: &ContextMap,
    ) -> Result<PreparedHop, String> {
        let from = match i {
            0 => principal,
            _ => &chain[i - 1],
        };
        let to = &chain[i];
        let behind = chain.get(..i).filter(|c| !c.is_empty()).map(|c| Behind {
            origin: principal,
            chain: c,
        });
        let actions = self.hop_actions(from, to);
        if self.actions.is_empty() {
            return Err(format!(
                "`{from}` impersonating `{to}` cannot be checked: the workspace has no impersonation actions (set `impersonation.actions` in actas.yaml)"
            ));
        }
        if actions.is_empty() {
            return Err(format!(
                "no impersonation action applies to `{from}` impersonating `{to}` (configured: {})",
                self.actions
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let mut requests = Vec::with_capacity(actions.len());
        for a in actions {
            requests.push(self.prepare(from, a, to, context, behind)?);
        }
        Ok(PreparedHop {
            from: from.clone(),
            to: to.clone(),
            requests,
        })
    }
}

/// Parsed contexts by action and attributes (compared as values: a key written out as JSON
/// text was half of finding a context already parsed), errors included.
pub(super) type ContextMemo =
    super::memo::Memo<EntityUid, Map<String, Value>, Result<Context, String>>;

/// The value of an impersonation attribute for a request behind `b`, if the declared type fits.
fn fill(name: &str, ty: &Value, b: Behind<'_>) -> Option<Value> {
    match name {
        IMPERSONATOR => {
            let declared = entity_type_of(ty)?;
            (b.origin.type_name() == &declared).then(|| entity_value(b.origin))
        }
        DELEGATION_CHAIN => {
            let declared = set_element_type_of(ty)?;
            b.chain
                .iter()
                .all(|u| u.type_name() == &declared)
                .then(|| Value::Array(b.chain.iter().map(entity_value).collect()))
        }
        _ => None,
    }
}

fn list_types(types: &[EntityTypeName]) -> String {
    if types.is_empty() {
        return "(none)".into();
    }
    types
        .iter()
        .map(|t| format!("`{t}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::test_support::uid;

    #[test]
    fn impersonator_is_filled_only_when_the_type_fits() {
        let ty = serde_json::json!({"type": "Entity", "name": "User"});
        let chain = [uid(r#"ServiceAccount::"a""#)];
        let person = uid(r#"User::"p""#);
        let agent = uid(r#"Agent::"bot""#);
        let filled = fill(
            IMPERSONATOR,
            &ty,
            Behind {
                origin: &person,
                chain: &chain,
            },
        );
        assert_eq!(filled, Some(entity_value(&person)));
        assert_eq!(
            fill(
                IMPERSONATOR,
                &ty,
                Behind {
                    origin: &agent,
                    chain: &chain
                }
            ),
            None
        );
    }

    #[test]
    fn delegation_chain_is_filled_only_when_every_member_fits() {
        let ty = serde_json::json!({"type": "Set", "element": {"type": "Entity", "name": "ServiceAccount"}});
        let p = uid(r#"User::"p""#);
        let good = [uid(r#"ServiceAccount::"a""#), uid(r#"ServiceAccount::"b""#)];
        let filled = fill(
            DELEGATION_CHAIN,
            &ty,
            Behind {
                origin: &p,
                chain: &good,
            },
        )
        .unwrap();
        assert_eq!(filled.as_array().map(Vec::len), Some(2));
        let mixed = [uid(r#"ServiceAccount::"a""#), uid(r#"Agent::"b""#)];
        assert_eq!(
            fill(
                DELEGATION_CHAIN,
                &ty,
                Behind {
                    origin: &p,
                    chain: &mixed
                }
            ),
            None
        );
    }

    #[test]
    fn a_remembered_context_is_the_one_parsed_for_its_text() {
        let ws = crate::workspace::example();
        let e = &ws.engine;
        let action = uid(r#"Action::"getAccessToken""#);
        let parse = |c: &ContextMap| e.context_for(&action, c, None).map(|c| format!("{c:?}"));
        let with_mfa = crate::workspace::test_support::ctx();
        let mut without_mfa = with_mfa.clone();
        without_mfa.insert("mfa".into(), serde_json::json!(false));
        let mut malformed = with_mfa.clone();
        malformed.insert(
            "mfa".into(),
            serde_json::json!({"__extn": {"fn": "nope", "arg": "x"}}),
        );
        let first = parse(&with_mfa).unwrap();
        assert!(first.contains("true"), "{first}");
        let other = parse(&without_mfa).unwrap();
        assert_ne!(first, other);
        // Asked again, each gives what it gave the first time, errors included.
        assert_eq!(parse(&with_mfa).unwrap(), first);
        assert_eq!(parse(&without_mfa).unwrap(), other);
        let err = parse(&malformed).unwrap_err();
        assert!(err.contains("context is not valid"), "{err}");
        assert_eq!(parse(&malformed).unwrap_err(), err);
    }
}
