//! Where each static policy and template is written: its file, its head, its clauses.

use std::collections::BTreeMap;
use std::sync::Arc;

use cedar_policy_core::ast;
use cedar_policy_core::parser::text_to_cst;

use super::Workspace;
use crate::core::diag::SourceFile;

/// A static policy or template as written.
#[derive(Debug, Clone)]
pub struct PolicyPlace {
    pub file: Arc<SourceFile>,
    /// The span of `permit (…)` / `forbid (…)`.
    pub head: (usize, usize),
    /// Where each `when`/`unless` keyword is, in written order.
    pub clauses: Vec<usize>,
}

impl PolicyPlace {
    /// The 1-based line of the head.
    pub fn line(&self) -> usize {
        self.file.line_col(self.head.0).0
    }

    /// The 1-based line of clause `k`.
    pub fn clause_line(&self, k: usize) -> Option<usize> {
        self.clauses.get(k).map(|&o| self.file.line_col(o).0)
    }
}

impl Workspace {
    /// The file and 1-based line where policy, link or template `id` is written: the head of a
    /// static policy or template, a link's entry in its links file. `places` is
    /// [`Workspace::policy_places`], computed once by the caller.
    pub fn policy_line(
        &self,
        places: &BTreeMap<String, PolicyPlace>,
        id: &str,
    ) -> Option<(String, usize)> {
        let meta = self.policies.get(id);
        match meta.and_then(|m| Some((m, m.template.as_ref()?, m.place?))) {
            Some((m, _, (offset, _))) => self
                .policy_files
                .get(&m.file)
                .map(|f| (m.file.clone(), f.line_col(offset).0)),
            // A static policy or template; a link with no entry of its own: its template.
            None => places
                .get(meta.and_then(|m| m.template.as_deref()).unwrap_or(id))
                .map(|p| (p.file.path.clone(), p.line())),
        }
    }

    /// Every static policy and template with a known place, by id (links are written in their
    /// links file: see the catalogue's `place`).
    pub fn policy_places(&self) -> BTreeMap<String, PolicyPlace> {
        let set: &ast::PolicySet = self.engine.policies.as_ref();
        set.all_templates()
            .filter_map(|t| {
                let id = AsRef::<str>::as_ref(t.id());
                let file = self
                    .policies
                    .get(id)
                    .and_then(|m| self.policy_files.get(&m.file))?
                    .clone();
                let loc = t.loc()?;
                let (offset, len) = (loc.span.offset(), loc.span.len());
                let clauses = file
                    .text
                    .get(offset..offset + len)
                    .and_then(|text| text_to_cst::parse_policy(text).ok())
                    .and_then(|node| match node.node {
                        Some(cedar_policy_core::parser::cst::Policy::Policy(p)) => Some(
                            p.conds
                                .iter()
                                .map(|c| offset + c.loc.as_ref().map_or(0, |l| l.start()))
                                .collect(),
                        ),
                        #[allow(
                            unreachable_patterns,
                            reason = "a variant of a Cedar feature we do not enable"
                        )]
                        _ => None,
                    })
                    .unwrap_or_default();
                let head = head(&file.text, offset, len);
                Some((
                    id.to_string(),
                    PolicyPlace {
                        file,
                        head,
                        clauses,
                    },
                ))
            })
            .collect()
    }
}

/// The head of a policy statement, `permit (…)` / `forbid (…)`, within its span (annotations
/// and comments skipped); the whole span when it cannot be read.
pub fn head(text: &str, offset: usize, len: usize) -> (usize, usize) {
    let whole = (offset, len);
    let Some(stmt) = text.get(offset..offset + len) else {
        return whole;
    };
    let bytes = stmt.as_bytes();
    let mut i = 0;
    let mut in_string = false;
    let mut depth = 0usize;
    let mut start = None;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            match c {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else if c == b'"' {
            in_string = true;
        } else if c == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if c == b'(' {
            // Annotations' parentheses open and close before the effect keyword.
            depth += 1;
        } else if c == b')' {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                if let Some(s) = start {
                    return (offset + s, i + 1 - s);
                }
            }
        } else if depth == 0
            && start.is_none()
            && (bytes[i..].starts_with(b"permit") || bytes[i..].starts_with(b"forbid"))
        {
            start = Some(i);
        }
        i += 1;
    }
    whole
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_skips_annotations_and_comments() {
        let text = "// x\n@id(\"permit (a)\")\n@description(\"b\")\npermit (principal, action, resource in P::\"(\")\nwhen { true };";
        let (o, l) = head(text, 0, text.len());
        assert_eq!(
            &text[o..o + l],
            "permit (principal, action, resource in P::\"(\")"
        );
    }
}
