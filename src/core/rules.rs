//! The catalogue of lint rules: stable codes, names, default levels, summaries and doc pages.
//! The rules' logic lives in `lint/`; settings (`workspace`) and renderers (`report`) only need
//! the catalogue, so it sits at the bottom of the layers.

/// How much a finding matters. `check` exits 1 when any finding is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Off,
    Warning,
    Error,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Off => "off",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Level::Off, Level::Warning, Level::Error]
            .into_iter()
            .find(|l| l.name() == s)
    }
}

/// A rule, by a name the compiler checks (a mistyped rule is a compile error, not `IMP000`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleId {
    InvalidInput,
    UnboundedImpersonation,
    UnjustifiedImpersonation,
    OpenImpersonation,
    HumanWithoutMfa,
    EscalatingChain,
    InvisibleImpersonator,
    NonAttributablePath,
    ImpersonationCycle,
    DeadPolicy,
    UnusedSuppression,
}

impl RuleId {
    /// The rule's catalogue entry.
    pub fn rule(self) -> &'static Rule {
        // INVARIANT: `RULES` lists one rule per `RuleId`, in declaration order (unit test).
        &RULES[self as usize]
    }
}

/// A lint rule: stable code and name, default level, one-line summary and its doc page.
#[derive(Debug)]
pub struct Rule {
    pub id: RuleId,
    pub code: &'static str,
    pub name: &'static str,
    pub level: Level,
    /// Whether `lint:` may change its level (input problems are always errors).
    pub configurable: bool,
    pub summary: &'static str,
    /// `docs/rules/<name>.md`.
    pub doc: &'static str,
}

macro_rules! rule {
    ($id:ident, $code:literal, $name:literal, $level:ident, $summary:literal) => {
        Rule {
            id: RuleId::$id,
            code: $code,
            name: $name,
            level: Level::$level,
            configurable: true,
            summary: $summary,
            doc: include_str!(concat!("../../docs/rules/", $name, ".md")),
        }
    };
}

/// Every rule, in code order. Codes never change meaning; retired codes are not reused.
pub static RULES: [Rule; 11] = [
    Rule {
        configurable: false,
        ..rule!(InvalidInput, "IMP000", "invalid-input", Error, "a policy, schema, entity, scenario, task or setting that does not load or validate")
    },
    rule!(UnboundedImpersonation, "IMP001", "unbounded-impersonation", Error, "an impersonation permit that does not bound how long the token lives"),
    rule!(UnjustifiedImpersonation, "IMP002", "unjustified-impersonation", Warning, "an impersonation permit that requires no justification or ticket"),
    rule!(OpenImpersonation, "IMP003", "open-impersonation", Error, "an impersonation permit open to any principal or any account"),
    rule!(HumanWithoutMfa, "IMP004", "human-without-mfa", Error, "people may impersonate without multi-factor authentication"),
    rule!(EscalatingChain, "IMP005", "escalating-chain", Warning, "an account gains, through impersonation, grants it does not hold itself"),
    rule!(InvisibleImpersonator, "IMP006", "invisible-impersonator", Error, "an action performed while acting as an account whose context cannot name the impersonator"),
    rule!(NonAttributablePath, "IMP007", "non-attributable-path", Error, "someone may take on an account's identity without impersonating it (keys, code running as it)"),
    rule!(ImpersonationCycle, "IMP008", "impersonation-cycle", Warning, "accounts that can impersonate each other in a cycle"),
    rule!(DeadPolicy, "IMP009", "dead-policy", Warning, "a permit that decides no request over the inventory and profiles"),
    rule!(UnusedSuppression, "IMP010", "unused-suppression", Warning, "an `@actas_allow` annotation that suppresses nothing"),
];

/// A rule by name or code (`--explain`, `@actas_allow`).
pub fn find_rule(name_or_code: &str) -> Option<&'static Rule> {
    RULES
        .iter()
        .find(|r| r.name == name_or_code || r.code.eq_ignore_ascii_case(name_or_code))
}

/// Every rule's name, in code order (for "did you mean" and lists).
pub fn rule_names() -> impl Iterator<Item = &'static str> + Clone {
    RULES.iter().map(|r| r.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_id_indexes_its_own_rule() {
        for (i, rule) in RULES.iter().enumerate() {
            assert_eq!(rule.id as usize, i, "{}", rule.name);
            assert_eq!(rule.id.rule().name, rule.name);
            assert_eq!(rule.code, format!("IMP{i:03}"));
        }
    }
}
