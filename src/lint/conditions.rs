//! What a policy condition guarantees, read from Cedar's AST.
//!
//! `must(e, true, want)` holds when every evaluation of `e` to `true` implies `want`;
//! `must(e, false, want)` when every evaluation to `false` does. The walk follows `&&`, `||`, `!`
//! and `if` exactly and treats anything else as an atom: an atom guarantees `want` only when it
//! is one of the forms below. It never guesses in the permissive direction: a condition it
//! cannot read guarantees nothing. Cedar writes `a > b` as `!(a <= b)`, `a >= b` as `!(a < b)`
//! and `a != b` as `!(a == b)`, which the polarity handles.
//!
//! A permit `when { c }` (an `unless` is already negated in the AST) guarantees `want` when
//! `must(c, true, want)`; a forbid `when { c }` guarantees it for the requests it covers when
//! `must(c, false, want)` (the permit can only win where the forbid's condition is false).

use cedar_policy_core::ast::{BinaryOp, Expr, ExprKind, Literal, PatternElem, UnaryOp, Var};

/// A guarantee a rule looks for.
#[derive(Debug, Clone, Copy)]
pub enum Want<'a> {
    /// `context.<path>` has an upper bound: `<=`, `<`, `==`, or the extension comparisons.
    UpperBound(&'a str),
    /// `context.<path>` must be given and say something: `like` a pattern with a literal
    /// character, `==` a non-empty string, `!= ""`, membership in a set, or `has`.
    Justified(&'a str),
    /// `context.<path>` is true.
    True(&'a str),
    /// Any test on the variable (`principal in …`, `principal.team == …`, `resource is …`).
    Mentions(Var),
}

pub fn must(e: &Expr, pol: bool, want: Want<'_>) -> bool {
    match e.expr_kind() {
        ExprKind::And { left, right } => {
            if pol {
                must(left, true, want) || must(right, true, want)
            } else {
                must(left, false, want) && must(right, false, want)
            }
        }
        ExprKind::Or { left, right } => {
            if pol {
                must(left, true, want) && must(right, true, want)
            } else {
                must(left, false, want) || must(right, false, want)
            }
        }
        ExprKind::UnaryApp {
            op: UnaryOp::Not,
            arg,
        } => must(arg, !pol, want),
        ExprKind::If {
            then_expr,
            else_expr,
            ..
        } => must(then_expr, pol, want) && must(else_expr, pol, want),
        _ => atom(e, pol, want),
    }
}

fn atom(e: &Expr, pol: bool, want: Want<'_>) -> bool {
    match want {
        Want::UpperBound(path) => upper_bound(e, pol, path),
        Want::Justified(path) => justified(e, pol, path),
        Want::True(path) => is_true(e, pol, path),
        Want::Mentions(var) => mentions(e, var),
    }
}

fn upper_bound(e: &Expr, pol: bool, path: &str) -> bool {
    match e.expr_kind() {
        // `x <= N` bounds x; `!(N <= x)` (that is `x < N`) does too.
        ExprKind::BinaryApp {
            op: BinaryOp::Less | BinaryOp::LessEq,
            arg1,
            arg2,
        } => (pol && is_context(arg1, path)) || (!pol && is_context(arg2, path)),
        ExprKind::BinaryApp {
            op: BinaryOp::Eq,
            arg1,
            arg2,
        } => pol && (is_context(arg1, path) || is_context(arg2, path)),
        // decimal / datetime / duration comparisons: `x.lessThan(y)`.
        ExprKind::ExtensionFunctionApp { fn_name, args } => {
            let (Some(a), Some(b)) = (args.first(), args.get(1)) else {
                return false;
            };
            match fn_name.to_string().as_str() {
                "lessThan" | "lessThanOrEqual" => {
                    (pol && is_context(a, path)) || (!pol && is_context(b, path))
                }
                "greaterThan" | "greaterThanOrEqual" => {
                    (pol && is_context(b, path)) || (!pol && is_context(a, path))
                }
                _ => false,
            }
        }
        _ => false,
    }
}

fn justified(e: &Expr, pol: bool, path: &str) -> bool {
    match e.expr_kind() {
        ExprKind::Like { expr, pattern } => {
            pol && is_context(expr, path)
                && pattern.iter().any(|p| matches!(p, PatternElem::Char(_)))
        }
        ExprKind::BinaryApp {
            op: BinaryOp::Eq,
            arg1,
            arg2,
        } => {
            let empty = compared_with(arg1, arg2, path).and_then(|x| match x.expr_kind() {
                ExprKind::Lit(Literal::String(s)) => Some(s.is_empty()),
                _ => None,
            });
            // `== "INC-1"` names one; `!= ""` at least asks for something.
            matches!((empty, pol), (Some(false), true) | (Some(true), false))
        }
        ExprKind::BinaryApp {
            op: BinaryOp::Contains,
            arg2,
            ..
        } => pol && is_context(arg2, path),
        ExprKind::HasAttr { expr, attr } => pol && is_has(expr, attr, path),
        _ => false,
    }
}

fn is_true(e: &Expr, pol: bool, path: &str) -> bool {
    match e.expr_kind() {
        ExprKind::GetAttr { .. } => pol && is_context(e, path),
        ExprKind::BinaryApp {
            op: BinaryOp::Eq,
            arg1,
            arg2,
        } => {
            let value = compared_with(arg1, arg2, path).and_then(|x| match x.expr_kind() {
                ExprKind::Lit(Literal::Bool(b)) => Some(*b),
                _ => None,
            });
            value == Some(pol)
        }
        _ => false,
    }
}

/// Whether `e` (an atom) reads the variable anywhere.
fn mentions(e: &Expr, var: Var) -> bool {
    e.subexpressions()
        .any(|s| matches!(s.expr_kind(), ExprKind::Var(v) if *v == var))
}

/// In `a == b`, the side compared with `context.<path>`, if either side is it.
fn compared_with<'e>(a: &'e Expr, b: &'e Expr, path: &str) -> Option<&'e Expr> {
    if is_context(a, path) {
        Some(b)
    } else if is_context(b, path) {
        Some(a)
    } else {
        None
    }
}

/// `e` is `context.a.b` for `path` = `a.b`.
fn is_context(e: &Expr, path: &str) -> bool {
    let mut e = e;
    for attr in path.rsplit('.') {
        match e.expr_kind() {
            ExprKind::GetAttr { expr, attr: a } if a.as_str() == attr => e = expr,
            _ => return false,
        }
    }
    matches!(e.expr_kind(), ExprKind::Var(Var::Context))
}

/// `expr has attr` tests `context.<path>`.
fn is_has(expr: &Expr, attr: &str, path: &str) -> bool {
    match path.rsplit_once('.') {
        Some((parent, last)) => last == attr && is_context(expr, parent),
        None => path == attr && matches!(expr.expr_kind(), ExprKind::Var(Var::Context)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cedar_policy_core::parser::parse_policy_or_template;

    /// The condition of `permit (principal, action, resource) when { <cond> };`.
    fn cond(text: &str) -> Expr {
        let src = format!("permit (principal, action, resource) when {{ {text} }};");
        let t = parse_policy_or_template(None, &src).expect("parses");
        t.non_scope_constraints().expect("has a condition").clone()
    }

    #[test]
    fn upper_bounds_in_every_spelling() {
        let d = Want::UpperBound("duration_minutes");
        for yes in [
            "context.duration_minutes <= 60",
            "context.duration_minutes < 60",
            "60 > context.duration_minutes",
            "60 >= context.duration_minutes",
            "!(context.duration_minutes > 60)",
            "context.mfa && context.duration_minutes <= 60",
            "(context.duration_minutes <= 15 && context.mfa) || context.duration_minutes == 5",
            "if context.mfa then context.duration_minutes <= 60 else context.duration_minutes <= 15",
        ] {
            assert!(must(&cond(yes), true, d), "{yes}");
        }
        for no in [
            "context.duration_minutes >= 60",
            "context.mfa || context.duration_minutes <= 60",
            "context.mfa",
            "context.other <= 60",
            "!(context.duration_minutes <= 60)",
        ] {
            assert!(!must(&cond(no), true, d), "{no}");
        }
        // A forbid `when { context.duration_minutes > 60 }` bounds what it leaves permitted.
        assert!(must(&cond("context.duration_minutes > 60"), false, d));
        assert!(!must(&cond("context.duration_minutes < 60"), false, d));
    }

    #[test]
    fn justification_and_flags() {
        let j = Want::Justified("justification");
        assert!(must(
            &cond(r#"context.justification like "INC-*""#),
            true,
            j
        ));
        assert!(must(&cond(r#"context.justification != """#), true, j));
        assert!(!must(&cond(r#"context.justification like "*""#), true, j));
        assert!(!must(&cond(r#"context.justification == """#), true, j));
        let m = Want::True("mfa");
        assert!(must(&cond("context.mfa"), true, m));
        assert!(must(&cond("context.mfa == true"), true, m));
        assert!(!must(&cond("!context.mfa"), true, m));
        assert!(must(&cond("!context.mfa"), false, m));
        let nested = Want::True("auth.mfa");
        assert!(must(&cond("context.auth.mfa"), true, nested));
        assert!(!must(&cond("context.mfa"), true, nested));
    }

    #[test]
    fn narrowing_the_principal() {
        let p = Want::Mentions(Var::Principal);
        assert!(must(&cond("principal in Group::\"sre\""), true, p));
        assert!(must(
            &cond("context.mfa && principal.team == \"sre\""),
            true,
            p
        ));
        assert!(!must(
            &cond("context.mfa || principal.team == \"sre\""),
            true,
            p
        ));
        assert!(!must(&cond("resource.privileged"), true, p));
    }
}
