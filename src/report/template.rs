//! Renders a document through a minijinja template. Names ending in `.html` are HTML-escaped.

use serde::Serialize;

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
    let doc = minijinja::Value::from(minijinja::value::Serde(doc));
    let rendered = env
        .add_template(name, source)
        .and_then(|()| env.get_template(name)?.render(minijinja::context! { doc }));
    let mut s = rendered.ok()?;
    if !s.ends_with('\n') {
        s.push('\n');
    }
    Some(s)
}
