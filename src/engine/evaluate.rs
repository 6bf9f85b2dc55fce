//! Asking Cedar for decisions: one request, sliced or whole, and one hop over every fitting
//! impersonation action.

use cedar_policy::{Decision, EntityUid, PolicySet};

use super::*;
use crate::core::ids::PolicyId;

impl Engine {
    /// Evaluates one request with Cedar, against the policies whose scope can match it.
    pub fn evaluate(&self, p: &Prepared) -> Evaluation {
        let slice = self
            .slicer
            .slice(&self.entities, &p.principal, &p.action, &p.resource);
        self.evaluate_with(p, &slice)
    }

    /// Evaluates one request against the whole policy set, as Cedar alone would (differential
    /// tests and benchmarks compare it with [`Engine::evaluate`]).
    pub fn evaluate_unsliced(&self, p: &Prepared) -> Evaluation {
        self.evaluate_with(p, &self.policies)
    }

    /// Whether policy `i` of the slicer's order is satisfied by the request (it determines
    /// the request when evaluated alone; an evaluation error means not satisfied, as in Cedar).
    pub fn satisfies(&self, i: usize, p: &Prepared) -> bool {
        self.authorizer
            .is_authorized(&p.request, self.slicer.alone(i), &self.entities)
            .diagnostics()
            .reason()
            .next()
            .is_some()
    }

    pub fn slicer(&self) -> &Slicer {
        &self.slicer
    }

    /// The forbids whose action scope admits an impersonation action: the guards on every hop,
    /// sorted by id.
    pub fn impersonation_forbids(&self) -> Vec<PolicyId> {
        let mut ids: Vec<PolicyId> = (0..self.slicer.len())
            .filter(|&i| !self.slicer.is_permit(i))
            .filter(|&i| {
                self.actions
                    .iter()
                    .any(|a| self.slicer.action_matches(i, &self.entities, a))
            })
            .map(|i| PolicyId::from(self.slicer.policy(i).id()))
            .collect();
        ids.sort();
        ids
    }

    /// Distinct policy slices built so far.
    pub fn slices(&self) -> usize {
        self.slicer.slices()
    }

    fn evaluate_with(&self, p: &Prepared, policies: &PolicySet) -> Evaluation {
        let response = self
            .authorizer
            .is_authorized(&p.request, policies, &self.entities);
        let mut reasons: Vec<PolicyId> = response
            .diagnostics()
            .reason()
            .map(PolicyId::from)
            .collect();
        reasons.sort();
        let mut errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(|e| one_line(&e.to_string()))
            .collect();
        errors.sort();
        Evaluation {
            principal: p.principal.clone(),
            action: p.action.clone(),
            resource: p.resource.clone(),
            allowed: response.decision() == Decision::Allow,
            reasons,
            errors,
        }
    }

    pub fn evaluate_hop(&self, hop: &PreparedHop) -> HopOutcome {
        let evaluations: Vec<Evaluation> = hop.requests.iter().map(|r| self.evaluate(r)).collect();
        let allowing: Vec<EntityUid> = evaluations
            .iter()
            .filter(|e| e.allowed)
            .map(|e| e.action.clone())
            .collect();
        HopOutcome {
            from: hop.from.clone(),
            to: hop.to.clone(),
            allowed: !allowing.is_empty(),
            allowing,
            evaluations,
        }
    }
}

/// Cedar's multi-line messages on one line, for reports.
pub(super) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
