//! Finding and reading the schema.

use cedar_policy::{Schema, SchemaFragment};

use super::files::*;
use super::*;
use crate::core::diag::Problem;
use crate::core::schema::SchemaInfo;

impl Loader {
    pub(super) fn find_schema(&mut self, policy_paths: &[NamedPath]) -> Option<NamedPath> {
        let mut found = Vec::new();
        for p in policy_paths.iter().filter(|p| p.path.is_dir()) {
            let mut seen = Walked::default();
            // A walk that stops early finds no schema there; the policy walk reports why.
            let _ = walk(
                &p.path,
                &["cedarschema", "cedarschema.json"],
                &mut found,
                &mut seen,
            );
        }
        match found.len() {
            1 => found.pop().map(NamedPath::plain),
            0 => {
                self.problems.push(
                    Problem::new("no schema found: no `*.cedarschema` or `*.cedarschema.json` file in the policy folders")
                        .with_help("add one, or name it with `schema:` in actas.yaml or `--schema`"),
                );
                None
            }
            _ => {
                let names: Vec<String> = found
                    .iter()
                    .map(|f| format!("`{}`", self.display(f)))
                    .collect();
                self.problems.push(
                    Problem::new(format!(
                        "found {} schema files: {}",
                        found.len(),
                        names.join(", ")
                    ))
                    .with_help("name the one to use with `schema:` in actas.yaml or `--schema`"),
                );
                None
            }
        }
    }

    pub(super) fn load_schema(&mut self, p: &NamedPath) -> Option<(Schema, SchemaInfo)> {
        let file = self.read(p)?;
        self.schema_file = Some(file.clone());
        let syntax = if file.path.ends_with(".json") {
            crate::core::limits::Syntax::Policy
        } else {
            crate::core::limits::Syntax::Schema
        };
        if let Some(at) = crate::core::limits::too_deep(&file.text, syntax) {
            self.problems.push(crate::core::limits::nesting_problem(
                &file,
                at,
                "the schema",
            ));
            return None;
        }
        // Context types are read from the schema's JSON form with types resolved, which Cedar
        // produces from the human-readable form; a JSON schema goes through that form too.
        let (schema, text) = if file.path.ends_with(".json") {
            let schema = match Schema::from_json_str(&file.text) {
                Ok(s) => s,
                Err(e) => {
                    self.problems
                        .push(Problem::from_cedar(None, &e).with_file(&file));
                    return None;
                }
            };
            let text = SchemaFragment::from_json_str(&file.text)
                .ok()
                .and_then(|f| f.to_cedarschema().ok());
            let Some(text) = text else {
                self.problems.push(Problem::in_file(
                    &file,
                    "failed to read the schema's context types",
                ));
                return None;
            };
            (schema, text)
        } else {
            match Schema::from_cedarschema_str(&file.text) {
                Ok((s, _warnings)) => (s, file.text.to_string()),
                Err(e) => {
                    let p = Problem::from_cedar(Some(&file), &e);
                    self.problems.push(if p.at_first_token() {
                        Problem::not_a(&file, "a Cedar schema", "it fails at its first token")
                    } else {
                        p
                    });
                    return None;
                }
            }
        };
        let json = match cedar_policy::schema_str_to_json_with_resolved_types(&text) {
            Ok((json, _)) => json,
            Err(e) => {
                self.problems
                    .push(Problem::from_cedar(None, &e).with_file(&file));
                return None;
            }
        };
        let info = SchemaInfo::new(&schema, &json);
        Some((schema, info))
    }
}
