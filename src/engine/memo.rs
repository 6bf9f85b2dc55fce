//! A bounded memo of answers by two keys, shared by the engine's workers: parsed contexts
//! (by action, then attributes) and checked contexts (by actions, then attributes).

use std::hash::Hash;
use std::sync::RwLock;

use rustc_hash::FxHashMap;

/// Answers by (`A`, `B`), at most [`Memo::CAPACITY`] of them: past it, answers are made each
/// time, as without the memo (hop contexts that carry the path behind them are mostly
/// distinct). Two levels, so a lookup borrows both keys.
pub(super) struct Memo<A, B, V> {
    /// How many answers are kept, and the answers.
    answers: RwLock<(usize, ByTwo<A, B, V>)>,
}

type ByTwo<A, B, V> = FxHashMap<A, FxHashMap<B, V>>;

impl<A, B, V> Default for Memo<A, B, V> {
    fn default() -> Self {
        Self {
            answers: RwLock::new((0, FxHashMap::default())),
        }
    }
}

impl<A: Eq + Hash, B: Eq + Hash, V: Clone> Memo<A, B, V> {
    pub(super) const CAPACITY: usize = 4096;

    pub(super) fn get(&self, a: &A, b: &B) -> Option<V> {
        self.answers.read().ok()?.1.get(a)?.get(b).cloned()
    }

    /// Whether no more answers are kept (so the caller need not make keys for them).
    pub(super) fn is_full(&self) -> bool {
        self.answers
            .read()
            .map_or(true, |answers| answers.0 >= Self::CAPACITY)
    }

    pub(super) fn remember(&self, a: A, b: B, v: V) {
        if let Ok(mut answers) = self.answers.write() {
            let (count, by_a) = &mut *answers;
            if *count < Self::CAPACITY && by_a.entry(a).or_default().insert(b, v).is_none() {
                *count += 1;
            }
        }
    }
}
