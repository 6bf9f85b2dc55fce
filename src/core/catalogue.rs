//! The policy catalogue: what is known about each policy, link and template, by id.

use std::collections::BTreeMap;

use crate::core::ids::PolicyId;

/// What is known about one policy, for reasons, findings and reports.
#[derive(Debug, Clone)]
pub struct PolicyMeta {
    pub id: PolicyId,
    pub file: String,
    pub description: Option<String>,
    /// For a template link: the template's id.
    pub template: Option<PolicyId>,
    pub is_template: bool,
    /// For a template link: where the links file writes it (byte span in `file`).
    pub place: Option<(usize, usize)>,
}

/// Every policy, link and template of the workspace by id, in id order.
#[derive(Debug, Clone, Default)]
pub struct Catalogue(BTreeMap<PolicyId, PolicyMeta>);

impl Catalogue {
    pub fn new(policies: BTreeMap<PolicyId, PolicyMeta>) -> Self {
        Self(policies)
    }

    /// The template a link was made from.
    pub fn template_of(&self, id: &str) -> Option<&str> {
        self.0.get(id)?.template.as_deref()
    }

    /// Whether `id` (a policy, link or template id) names `determining`, a determining policy:
    /// itself, or the template `determining` is a link of.
    pub fn reason_matches(&self, id: &str, determining: &str) -> bool {
        id == determining || self.template_of(determining) == Some(id)
    }

    /// Every policy, link and template id.
    pub fn ids(&self) -> impl Iterator<Item = &str> + Clone {
        self.0.keys().map(PolicyId::as_str)
    }
}

/// Read access as a map: the catalogue adds lookups, not rules about what it holds.
impl std::ops::Deref for Catalogue {
    type Target = BTreeMap<PolicyId, PolicyMeta>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Catalogue {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}
