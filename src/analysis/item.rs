//! One piece of effective access under one profile: a path or a grant, with the policies that
//! cause it. What a what-if change gains or loses (`suffice --with/--without`) and what drifted
//! since the baseline (`drift`) are lists of these; every renderer shows them alike.

use crate::analysis::baseline::{GrantEntry, PathEntry};
use crate::core::ids::{PolicyId, ProfileName};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessItem {
    pub profile: ProfileName,
    pub access: Accessed,
    /// The policies that cause it, sorted.
    pub policies: Vec<PolicyId>,
}

/// A path or a grant, uids as Cedar writes them (`User::"alice"`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Accessed {
    /// `principal` may act as `target` along `chain` (which ends at `target`).
    Path {
        principal: String,
        target: String,
        chain: Vec<String>,
    },
    /// `principal` (acting as `acting_as`, if any) may perform `action` on `resource`.
    Grant {
        principal: String,
        acting_as: Option<String>,
        action: String,
        resource: String,
    },
}

impl AccessItem {
    /// `path` or `grant`, as the JSON documents name the kind.
    pub fn kind(&self) -> &'static str {
        match self.access {
            Accessed::Path { .. } => "path",
            Accessed::Grant { .. } => "grant",
        }
    }

    /// The identity that holds the access.
    pub fn principal(&self) -> &str {
        match &self.access {
            Accessed::Path { principal, .. } | Accessed::Grant { principal, .. } => principal,
        }
    }
}

impl From<&PathEntry> for AccessItem {
    fn from(p: &PathEntry) -> Self {
        Self {
            profile: p.profile.clone(),
            access: Accessed::Path {
                principal: p.principal.clone(),
                target: p.target.clone(),
                chain: p.chain.clone(),
            },
            policies: p.policies.clone(),
        }
    }
}

impl From<&GrantEntry> for AccessItem {
    fn from(g: &GrantEntry) -> Self {
        Self {
            profile: g.profile.clone(),
            access: Accessed::Grant {
                principal: g.principal.clone(),
                acting_as: g.acting_as.clone(),
                action: g.action.clone(),
                resource: g.resource.clone(),
            },
            policies: g.policies.clone(),
        }
    }
}
