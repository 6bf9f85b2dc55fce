//! Why a policy's condition does not hold for a request: the smallest part of it that decides,
//! in the policy's own words, with the attribute values it read.
//!
//! The walk follows Cedar's evaluation: in `a && b` that is not true, the first operand that is
//! not true decides (Cedar never looks at `b` when `a` is false); in `a || b` that is true where
//! it should be false, the first true operand decides; `!x` (an `unless { x }` is one) names
//! `x` with the value it must not have. Anything else is the part reported, whole (both sides of
//! a failing `||` fail together, so the `||` is the part, with the values of both).

use cedar_policy_core::ast::{self, Expr, ExprKind, SlotEnv, UnaryOp, Value};
use cedar_policy_core::evaluator::Evaluator;
use cedar_policy_core::extensions::Extensions;

use super::evaluate::one_line;
use super::{Engine, Prepared};

/// The part of a condition that decides, and what it read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailingPart {
    /// As written in the policy (Cedar's rendering when the source is not at hand).
    pub text: String,
    /// What the part evaluates to here: the opposite of `needed`, or an error.
    pub outcome: String,
    /// What the policy needs the part to be: `true`, or `false` where it sits under a `!` (an
    /// `unless` clause is one).
    pub needed: bool,
    /// Each attribute the part reads, as written, with its value here (`absent` when the
    /// entity or context has no such attribute), in reading order, without repeats.
    pub values: Vec<(String, String)>,
}

impl Engine {
    /// Why `policy` is not satisfied by the request `p`; `None` when it is, or when the policy
    /// is not in the set.
    pub fn failing_part(&self, policy: &str, p: &Prepared) -> Option<FailingPart> {
        let set: &ast::PolicySet = self.policies.as_ref();
        let policy = set.get(&ast::PolicyID::from_string(policy))?;
        let request: &ast::Request = p.request.as_ref();
        let evaluator = Evaluator::new(
            request.clone(),
            self.entities.as_ref(),
            Extensions::all_available(),
        );
        let eval = Eval {
            evaluator: &evaluator,
            slots: policy.env(),
        };
        let condition = policy.condition();
        if eval.is(&condition, true) {
            return None;
        }
        let (part, outcome, needed) = eval.culprit(&condition, true);
        let mut values: Vec<(String, String)> = Vec::new();
        for e in part.subexpressions() {
            if !reads_an_attribute(e) {
                continue;
            }
            let text = written(e, eval.slots);
            // `context.a.b` also contains `context.a`: keep the outermost only.
            if values
                .iter()
                .any(|(t, _)| t == &text || t.starts_with(&format!("{text}.")))
            {
                continue;
            }
            let value = match eval.value(e) {
                Ok(v) => at_most(v.to_string(), MAX_VALUE_CHARS),
                Err(_) => "absent".to_string(),
            };
            values.push((text, value));
        }
        Some(FailingPart {
            text: written(part, eval.slots),
            outcome,
            needed,
            values,
        })
    }
}

/// A value longer than this (a set of a thousand admins) is cut, with its length said.
const MAX_VALUE_CHARS: usize = 200;

fn at_most(text: String, chars: usize) -> String {
    let n = text.chars().count();
    if n <= chars {
        return text;
    }
    let kept: String = text.chars().take(chars).collect();
    format!("{kept}… ({n} characters)")
}

struct Eval<'a> {
    evaluator: &'a Evaluator<'a>,
    slots: &'a SlotEnv,
}

impl Eval<'_> {
    fn value(&self, e: &Expr) -> Result<Value, String> {
        self.evaluator
            .interpret(e, self.slots)
            .map_err(|err| one_line(&err.to_string()))
    }

    fn is(&self, e: &Expr, want: bool) -> bool {
        matches!(self.value(e), Ok(v) if v == Value::from(want))
    }

    /// The deciding part of `e`, which does not evaluate to `want`, what it evaluates to, and
    /// what it should be.
    fn culprit<'x>(&self, e: &'x Expr, want: bool) -> (&'x Expr, String, bool) {
        match e.expr_kind() {
            ExprKind::And { left, right } if want => {
                let first = if self.is(left, true) { right } else { left };
                self.culprit(first, true)
            }
            ExprKind::Or { left, right } if !want => {
                let first = if self.is(left, false) { right } else { left };
                self.culprit(first, false)
            }
            // `!x` (or `unless { x }`) fails where `x` is what it must not be: name `x`.
            ExprKind::UnaryApp {
                op: UnaryOp::Not,
                arg,
            } => self.culprit(arg, !want),
            _ => {
                let outcome = match self.value(e) {
                    Ok(v) => v.to_string(),
                    Err(err) => format!("an error ({err})"),
                };
                (e, outcome, want)
            }
        }
    }
}

/// `context.x`, `principal.x.y`, `resource.x`: an attribute read from a request variable.
fn reads_an_attribute(e: &Expr) -> bool {
    match e.expr_kind() {
        ExprKind::GetAttr { expr, .. } => {
            matches!(expr.expr_kind(), ExprKind::Var(_)) || reads_an_attribute(expr)
        }
        _ => false,
    }
}

/// An expression as written in its policy, on one line, a link's slots filled in.
fn written(e: &Expr, slots: &SlotEnv) -> String {
    let mut text = e
        .source_loc()
        .and_then(|l| l.snippet())
        .map_or_else(|| e.to_string(), ToString::to_string);
    for (slot, uid) in slots {
        text = text.replace(&slot.to_string(), &uid.to_string());
    }
    one_line(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::example;
    use crate::workspace::test_support::{ctx, uid};

    fn part(policy: &str, principal: &str, resource: &str, context: &str) -> Option<FailingPart> {
        let ws = example();
        let mut c = ctx();
        for (k, v) in
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(context).unwrap()
        {
            c.insert(k, v);
        }
        let p = ws
            .engine
            .prepare(
                &uid(principal),
                &uid(r#"Action::"getAccessToken""#),
                &uid(resource),
                &c,
                None,
            )
            .unwrap();
        ws.engine.failing_part(policy, &p)
    }

    #[test]
    fn a_failing_disjunction_is_named_with_the_values_it_read() {
        let got = part(
            "sre-oncall-prod",
            r#"User::"alice""#,
            r#"ServiceAccount::"log-reader""#,
            r#"{"justification": "BG-7", "duration_minutes": 15}"#,
        )
        .unwrap();
        assert_eq!(
            got.text,
            r#"context.justification like "INC-*" || context.justification like "CHG-*""#
        );
        assert_eq!(got.outcome, "false");
        assert_eq!(
            got.values,
            vec![("context.justification".to_string(), r#""BG-7""#.to_string())]
        );
    }

    #[test]
    fn the_first_false_conjunct_decides() {
        let got = part(
            "ci-runner-deploys",
            r#"ServiceAccount::"ci-runner""#,
            r#"ServiceAccount::"prod-deployer""#,
            r#"{"justification": "CHG-1", "duration_minutes": 60}"#,
        )
        .unwrap();
        assert_eq!(got.text, "context.duration_minutes <= 30");
        assert_eq!(
            got.values,
            vec![("context.duration_minutes".to_string(), "60".to_string())]
        );
    }

    #[test]
    fn entity_attributes_and_negations_are_named_with_what_the_policy_needs() {
        // `resource.privileged && !(context.justification like "BG-*")`
        let got = part(
            "privileged-break-glass-only",
            r#"User::"erin""#,
            r#"ServiceAccount::"log-reader""#,
            "{}",
        )
        .unwrap();
        assert_eq!(got.text, "resource.privileged");
        assert_eq!((got.outcome.as_str(), got.needed), ("false", true));
        assert_eq!(
            got.values,
            vec![("resource.privileged".to_string(), "false".to_string())]
        );
        let got = part(
            "privileged-break-glass-only",
            r#"User::"erin""#,
            r#"ServiceAccount::"billing-admin""#,
            r#"{"justification": "BG-7"}"#,
        )
        .unwrap();
        assert_eq!(got.text, r#"context.justification like "BG-*""#);
        assert_eq!((got.outcome.as_str(), got.needed), ("true", false));
    }

    #[test]
    fn a_template_link_reads_its_slots() {
        let got = part(
            "carol-mints-ci-runner",
            r#"User::"carol""#,
            r#"ServiceAccount::"ci-runner""#,
            r#"{"mfa": false}"#,
        )
        .unwrap();
        assert_eq!(got.text, "context.mfa");
        assert_eq!(got.outcome, "false");
        // Another principal fails the link's scope, which has no source text of its own.
        let got = part(
            "carol-mints-ci-runner",
            r#"User::"alice""#,
            r#"ServiceAccount::"ci-runner""#,
            "{}",
        )
        .unwrap();
        assert_eq!(got.text, r#"principal == User::"carol""#);
    }

    #[test]
    fn long_values_are_cut_with_their_length() {
        assert_eq!(at_most("abc".into(), 3), "abc");
        assert_eq!(at_most("abcdef".into(), 3), "abc… (6 characters)");
    }

    #[test]
    fn a_satisfied_policy_has_no_failing_part() {
        let got = part(
            "sre-oncall-prod",
            r#"User::"alice""#,
            r#"ServiceAccount::"log-reader""#,
            r#"{"justification": "INC-7"}"#,
        );
        assert_eq!(got, None);
        assert_eq!(
            part(
                "no-such-policy",
                r#"User::"alice""#,
                r#"ServiceAccount::"log-reader""#,
                "{}"
            ),
            None
        );
    }
}
