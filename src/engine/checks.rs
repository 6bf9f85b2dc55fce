//! Inputs the engine checks before evaluating: contexts and entity references.

use cedar_policy::EntityUid;

use super::*;

/// What is wrong with an input the engine checks (a context, an entity reference).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// The context attribute at fault; `None` for a missing one or for an entity reference.
    pub attribute: Option<String>,
    pub message: String,
    pub help: Option<String>,
}

impl Engine {
    /// Checks a context: every attribute declared by one of `declaring`, with a value of the
    /// declared type wherever declared; every attribute `requiring` needs present (the
    /// impersonation attributes excepted: actas fills them).
    ///
    /// Remembered ([`CheckMemo`]): scenario cases mostly share their context, and checking
    /// each against the schema's types was a fifth of preparing `test`'s requests.
    pub fn check_context(
        &self,
        context: &ContextMap,
        declaring: &[EntityUid],
        requiring: &[EntityUid],
    ) -> Vec<Issue> {
        let actions = (declaring.to_vec(), requiring.to_vec());
        if let Some(known) = self.checked.get(&actions, context) {
            return known;
        }
        let issues = self.check_context_now(context, declaring, requiring);
        if !self.checked.is_full() {
            self.checked
                .remember(actions, context.clone(), issues.clone());
        }
        issues
    }

    fn check_context_now(
        &self,
        context: &ContextMap,
        declaring: &[EntityUid],
        requiring: &[EntityUid],
    ) -> Vec<Issue> {
        let mut issues = Vec::new();
        let infos: Vec<(&EntityUid, &ActionInfo)> = declaring
            .iter()
            .filter_map(|a| self.action(a).map(|i| (a, i)))
            .collect();
        for (name, value) in context {
            let declared: Vec<_> = infos
                .iter()
                .filter_map(|(a, i)| i.context.get(name).map(|t| (*a, t)))
                .collect();
            if declared.is_empty() {
                let known: std::collections::BTreeSet<&str> = infos
                    .iter()
                    .flat_map(|(_, i)| i.context.keys().map(String::as_str))
                    .collect();
                let by = if declaring.len() == self.info.actions.len() && declaring.len() > 1 {
                    "any action of the schema".to_string()
                } else {
                    let names: Vec<String> = declaring.iter().map(|a| format!("`{a}`")).collect();
                    names.join(", ")
                };
                issues.push(Issue {
                    attribute: Some(name.clone()),
                    message: format!("context attribute `{name}` is not declared by {by}"),
                    help: crate::core::suggest::did_you_mean(name, known.iter().copied()),
                });
                continue;
            }
            for (action, attr) in declared {
                if let Err(e) = self
                    .info
                    .check_value(value, &attr.ty, &namespace_of(action))
                {
                    issues.push(Issue {
                        attribute: Some(name.clone()),
                        message: format!("context attribute `{name}` of `{action}`: {e}"),
                        help: None,
                    });
                    break;
                }
            }
        }
        for action in requiring {
            let Some(info) = self.action(action) else {
                continue;
            };
            for (name, attr) in &info.context {
                if attr.required
                    && name != IMPERSONATOR
                    && name != DELEGATION_CHAIN
                    && !context.contains_key(name)
                {
                    issues.push(Issue {
                        attribute: None,
                        message: format!(
                            "context attribute `{name}` is required by `{action}` but missing"
                        ),
                        help: None,
                    });
                }
            }
        }
        issues
    }
}

impl Engine {
    /// Whether `uid` names an inventory entity; if not, why, with a "did you mean".
    pub fn known_entity(&self, uid: &EntityUid) -> Result<(), Issue> {
        if self.schema.entity_types().all(|t| t != uid.type_name()) {
            let types: Vec<String> = self
                .schema
                .entity_types()
                .map(ToString::to_string)
                .collect();
            return Err(Issue {
                attribute: None,
                message: format!("entity type `{}` is not in the schema", uid.type_name()),
                help: crate::core::suggest::did_you_mean(
                    &uid.type_name().to_string(),
                    types.iter().map(String::as_str),
                ),
            });
        }
        if self.contains(uid) {
            return Ok(());
        }
        let same_type: Vec<String> = self
            .entities
            .iter()
            .map(|e| e.uid())
            .filter(|u| u.type_name() == uid.type_name())
            .map(|u| u.to_string())
            .collect();
        Err(Issue {
            attribute: None,
            message: format!("entity `{uid}` is not in the inventory"),
            help: crate::core::suggest::did_you_mean(
                &uid.to_string(),
                same_type.iter().map(String::as_str),
            )
            .or_else(|| Some("add it to the entities file, or fix the name".into())),
        })
    }
}

/// Contexts already checked, with what was found, by the (declaring, requiring) actions of
/// [`Engine::check_context`], then the context.
pub(super) type CheckMemo =
    super::memo::Memo<(Vec<EntityUid>, Vec<EntityUid>), ContextMap, Vec<Issue>>;

/// The namespace of an action uid (`Aws` for `Aws::Action::"AssumeRole"`), empty for none.
fn namespace_of(action: &EntityUid) -> String {
    let ty = action.type_name().to_string();
    ty.strip_suffix("::Action").unwrap_or("").to_string()
}
