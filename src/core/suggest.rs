//! "Did you mean …?" for near-miss names.

/// The candidate closest to `name` by edit distance, if it is close enough to be a likely typo;
/// else the only candidate `name` (three characters or more) begins, for shortened names such
/// as `unbounded` for `unbounded-impersonation`.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(2);
    let candidates: Vec<&str> = candidates.into_iter().collect();
    let near = candidates
        .iter()
        .map(|c| (distance(name, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c);
    near.or_else(|| {
        let mut prefixed = candidates
            .iter()
            .filter(|c| name.chars().count() >= 3 && c.starts_with(name));
        match (prefixed.next(), prefixed.next()) {
            (Some(one), None) => Some(*one),
            _ => None,
        }
    })
}

/// "did you mean `x`?" for the closest candidate (see [`closest`]), the one wording every
/// message uses.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(name, candidates).map(|s| format!("did you mean `{s}`?"))
}

/// Levenshtein distance over characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row.first().copied().unwrap_or(0);
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let del = row
                .get(j + 1)
                .copied()
                .unwrap_or(usize::MAX)
                .saturating_add(1);
            let ins = row.get(j).copied().unwrap_or(usize::MAX).saturating_add(1);
            let next = (prev + cost).min(del).min(ins);
            prev = row.get(j + 1).copied().unwrap_or(0);
            if let Some(slot) = row.get_mut(j + 1) {
                *slot = next;
            }
        }
    }
    row.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(
            closest("prod-deployr", ["prod-deployer", "ci-runner"]),
            Some("prod-deployer")
        );
        assert_eq!(closest("zzz", ["prod-deployer"]), None);
    }
}
