//! Renders a document through a minijinja template. Names ending in `.html` are HTML-escaped;
//! names ending in `.md` are Markdown-escaped: every value is written as inert Markdown text
//! (`report/escape.rs`) unless a filter made it safe: `code` (a code span), `codes` (a list of
//! them), `fence` (a code-block fence for a text) and `slug` (an anchor id).

use minijinja::{AutoEscape, Value};
use serde::Serialize;

use crate::report::escape;

const MARKDOWN: &str = "markdown";

/// Renders `source` (registered as `name`) with the document as `doc`. The templates ship in the
/// binary and are covered by snapshot tests, so `None` (a template error) is a bug, which the
/// command reports as such rather than panicking.
pub fn render<T: Serialize>(name: &str, source: &str, doc: &T) -> Option<String> {
    let mut env = minijinja::Environment::new();
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build()
        .ok()?;
    env.set_syntax(syntax);
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".md") {
            AutoEscape::Custom(MARKDOWN.into())
        } else {
            minijinja::default_auto_escape_callback(name)
        }
    });
    env.set_formatter(|out, state, value| {
        if !matches!(state.auto_escape(), AutoEscape::Custom(c) if c == MARKDOWN) {
            return minijinja::escape_formatter(out, state, value);
        }
        // Strings are text to escape unless a filter made them safe; numbers and the like are
        // written as they are.
        let text = value.to_string();
        let written = match value.as_str() {
            Some(_) if !value.is_safe() => escape::markdown_text(&text),
            _ => text,
        };
        out.write_str(&written).map_err(Into::into)
    });
    // `code` for prose, `cell_code` for a table cell (where `|` must be escaped).
    type Span = fn(&str) -> String;
    // `code`/`codes` for prose, `cell_code`/`cell_codes` in a table cell (`|` escaped).
    let spans: [(&str, &str, Span); 2] = [
        ("code", "codes", escape::markdown_code),
        ("cell_code", "cell_codes", escape::markdown_cell_code),
    ];
    for (one, many, span) in spans {
        env.add_filter(one, move |v: Value| {
            Value::from_safe_string(span(&v.to_string()))
        });
        env.add_filter(many, move |v: Vec<Value>| {
            let spans: Vec<String> = v.iter().map(|x| span(&x.to_string())).collect();
            Value::from_safe_string(spans.join(", "))
        });
    }
    env.add_filter("fence", |v: Value| {
        Value::from_safe_string(escape::markdown_fence(&v.to_string()))
    });
    env.add_filter("slug", |v: Value| {
        Value::from_safe_string(escape::slug(&v.to_string()))
    });
    let doc = Value::from(minijinja::value::Serde(doc));
    let rendered = env
        .add_template(name, source)
        .and_then(|()| env.get_template(name)?.render(minijinja::context! { doc }));
    let mut s = rendered.ok()?;
    if !s.ends_with('\n') {
        s.push('\n');
    }
    Some(s)
}
