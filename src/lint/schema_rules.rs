//! Rules about the schema rather than a policy: invisible-impersonator.

use super::{Finding, RuleId};
use crate::core::diag::Problem;
use crate::engine::IMPERSONATOR;
use crate::workspace::Workspace;

/// Actions an account can perform (their principals include an impersonable type), so they
/// run while someone acts as it, whose context cannot carry `impersonator`.
pub(super) fn invisible_impersonator(ws: &Workspace) -> Vec<Finding> {
    let engine = &ws.engine;
    let impersonable = engine.impersonable_types();
    let mut out = Vec::new();
    for action in engine.schema_actions() {
        let Some(info) = engine.action(&action) else {
            continue;
        };
        let accounts: Vec<String> = info
            .principals
            .iter()
            .filter(|t| impersonable.contains(t))
            .map(ToString::to_string)
            .collect();
        if accounts.is_empty() || info.context.contains_key(IMPERSONATOR) {
            continue;
        }
        let message = format!(
            "`{action}` may be performed by an account ({}) that someone is acting as, but its context does not declare `{IMPERSONATOR}`: audit would show the account alone",
            accounts.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
        );
        let name = action.id().unescaped().to_string();
        let p = match &ws.schema_file {
            Some(f) => match action_span(&f.text, &name) {
                Some(span) => Problem::at(f, span, message),
                None => Problem::in_file(f, message),
            },
            None => Problem::new(message),
        };
        let humans = if ws.human_types.is_empty() {
            "User".to_string()
        } else {
            ws.human_types.join(" | ")
        };
        out.push(Finding::new(
            RuleId::InvisibleImpersonator.rule(),
            p.with_help(format!(
                "declare `{IMPERSONATOR}?: {humans}` and `delegation_chain?: Set<{}>` in its context; actas fills them along every chain",
                accounts.join(" | ")
            )),
        ));
    }
    out
}

/// The place an action is declared in a schema: in the JSON form the quoted name after
/// `"actions"`; in the human form the name (bare or quoted) between an `action` keyword and
/// that declaration's `appliesTo` or `;`.
fn action_span(text: &str, name: &str) -> Option<(usize, usize)> {
    let quoted = format!("\"{name}\"");
    if text.trim_start().starts_with('{') {
        let actions = text.find("\"actions\"")?;
        let at = actions + text[actions..].find(&quoted)?;
        return Some((at, quoted.len()));
    }
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    for (kw, _) in text.match_indices("action") {
        let after_kw = kw + "action".len();
        if word(text[..kw].chars().next_back()) || word(text[after_kw..].chars().next()) {
            continue;
        }
        let rest = &text[after_kw..];
        let end = [rest.find("appliesTo"), rest.find(';')]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(rest.len());
        let names = &rest[..end];
        if let Some(i) = names.find(&quoted) {
            return Some((after_kw + i, quoted.len()));
        }
        for (i, _) in names.match_indices(name) {
            if !word(names[..i].chars().next_back())
                && !word(names[i + name.len()..].chars().next())
            {
                return Some((after_kw + i, name.len()));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_declarations_are_found() {
        let text = "entity A;\naction read, push appliesTo { principal: [A], resource: [A] };\naction \"deploy now\" appliesTo {};";
        let (o, l) = action_span(text, "push").unwrap();
        assert_eq!(&text[o..o + l], "push");
        let (o, l) = action_span(text, "deploy now").unwrap();
        assert_eq!(&text[o..o + l], "\"deploy now\"");
        assert_eq!(action_span(text, "A"), None);
    }
}
