//! Progress of long runs, reported to whatever the binary installed (an indicatif bar on a
//! terminal); by default nothing. The library only counts work done, so it never draws.

use std::sync::OnceLock;

/// Something that shows how far a run has got. Called from rayon workers.
pub trait Progress: Send + Sync {
    /// A new phase of `total` units, e.g. ("cases", 55).
    fn start(&self, what: &str, total: u64);
    fn advance(&self, units: u64);
    fn finish(&self);
}

static SINK: OnceLock<Box<dyn Progress>> = OnceLock::new();

/// Installs the process's progress display; only the first call counts.
pub fn install(p: Box<dyn Progress>) {
    let _ = SINK.set(p);
}

pub fn start(what: &str, total: u64) {
    if let Some(p) = SINK.get() {
        p.start(what, total);
    }
}

pub fn advance(units: u64) {
    if let Some(p) = SINK.get() {
        p.advance(units);
    }
}

pub fn finish() {
    if let Some(p) = SINK.get() {
        p.finish();
    }
}

/// Whether to draw a bar: only for a person watching a terminal, never in CI or with `--quiet`.
pub fn wanted(stderr_is_terminal: bool, ci: Option<&str>, quiet: bool) -> bool {
    stderr_is_terminal && ci.is_none_or(str::is_empty) && !quiet
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_only_for_a_person_at_a_terminal() {
        assert!(wanted(true, None, false));
        assert!(wanted(true, Some(""), false));
        assert!(!wanted(true, Some("true"), false));
        assert!(!wanted(false, None, false));
        assert!(!wanted(true, None, true));
    }
}
