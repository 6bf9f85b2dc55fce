//! The figures an auditor reads first (`actas report`), computed once for every format.

use cedar_policy::EntityUid;
use rayon::prelude::*;
use roaring::RoaringBitmap;
use rustc_hash::FxHashMap;

use crate::analysis::access::{Reached, Shape};
use crate::analysis::human_by_number;
use crate::core::ids::ProfileName;
use crate::engine::Engine;
use crate::reach::Uid;

/// How exposed one impersonable account is.
#[derive(Debug, Clone)]
pub struct AccountFigures {
    pub account: EntityUid,
    /// Identities that reach it under at least one profile.
    pub reached_by: usize,
    /// Those of a human type, as identity numbers (see [`crate::reach::Identities`]), in
    /// number order: compressed, as a dense world has tens of millions.
    pub humans: RoaringBitmap,
    /// Identities reaching it under each profile, in profile order.
    pub per_profile: Vec<usize>,
    /// The profiles under which anyone reaches it.
    pub profiles: Vec<ProfileName>,
}

/// Summary figures over the whole matrix.
///
/// Its path lists are kept as what their paths have in common ([`PathList`]) and a count, and
/// read from the matrix when written ([`Summary::paths`]): a list can hold most of millions of
/// paths.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Identities with at least one path (who can in fact impersonate someone).
    pub identities: usize,
    /// Inventory identities of the impersonation actions' principal types (who could).
    pub identities_in_inventory: usize,
    /// Every impersonable account of the inventory, most reached first, then by uid.
    pub accounts: Vec<AccountFigures>,
    /// Accounts reached under some profiles only (and by nobody under the others).
    pub conditional_accounts: Vec<usize>,
    /// The longest shortest chain, in hops.
    pub longest_chain: usize,
    /// Identities by how many accounts they reach, widest first, then by uid.
    pub widest: Vec<(Uid, usize)>,
    /// How many paths each [`PathList`] has, in the order of [`PathList::ALL`].
    counts: [usize; 4],
    /// Whether each identity (by number, see [`crate::reach::Identities`]) is of a human type:
    /// looked up once, not per path.
    human: Vec<bool>,
    profiles: usize,
}

/// The summary's lists of paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathList {
    /// Paths whose principal is of a human type.
    Human,
    /// Paths that exist under some profiles only (break-glass-like conditions).
    Conditional,
    /// Paths whose longest route has the longest chain of all.
    Longest,
    /// Paths with a route through another account (delegation).
    Delegated,
}

impl PathList {
    pub const ALL: [PathList; 4] = [
        PathList::Human,
        PathList::Conditional,
        PathList::Longest,
        PathList::Delegated,
    ];
}

impl Summary {
    /// Whether identity number `n` is of a human type.
    pub fn is_human_number(&self, n: u32) -> bool {
        self.human[n as usize]
    }

    /// Whether path `p` belongs in `list`.
    fn holds(&self, list: PathList, p: &Shape) -> bool {
        match list {
            PathList::Human => self.is_human_number(p.numbers.0),
            PathList::Conditional => p.profile_count() < self.profiles,
            PathList::Longest => self.longest_chain > 0 && p.longest() == self.longest_chain,
            PathList::Delegated => p.longest() > 1,
        }
    }

    /// How many paths `list` has.
    pub fn count(&self, list: PathList) -> usize {
        self.counts[list as usize]
    }

    /// The paths of `list`, in the order of [`Reached::paths`].
    pub fn paths<'a>(
        &'a self,
        reached: &'a Reached,
        list: PathList,
    ) -> impl Iterator<Item = Shape<'a>> + 'a {
        reached.shapes().filter(move |p| self.holds(list, p))
    }
}

pub fn summarize(engine: &Engine, reached: &Reached, human_types: &[String]) -> Summary {
    let profiles = &reached.profiles;
    let all = profiles.len();
    let accounts = engine.impersonable();
    let index: FxHashMap<&EntityUid, usize> =
        accounts.iter().enumerate().map(|(i, a)| (a, i)).collect();
    // By identity number, so the loop over millions of paths hashes no uid.
    let identities = reached.identities();
    let account_of: Vec<Option<usize>> = identities
        .uids
        .iter()
        .map(|u| index.get(&**u).copied())
        .collect();
    let human = human_by_number(human_types, identities);
    // The figures of a run of principals, added up over the runs (the humans are a set, and
    // `widest` is sorted below, so the order of the runs does not matter). Paths come by
    // principal, and there is one per (principal, target), so counting a principal's paths
    // counts the accounts it reaches.
    struct Partial {
        per_account: Vec<(usize, RoaringBitmap, Vec<usize>)>,
        widest: Vec<(Uid, usize)>,
        longest_chain: usize,
    }
    let empty = || Partial {
        per_account: vec![(0, RoaringBitmap::new(), vec![0; all]); accounts.len()],
        widest: Vec::new(),
        longest_chain: 0,
    };
    let add = |mut a: Partial, b: Partial| {
        for (x, y) in a.per_account.iter_mut().zip(b.per_account) {
            x.0 += y.0;
            x.1 |= y.1;
            for (c, d) in x.2.iter_mut().zip(y.2) {
                *c += d;
            }
        }
        a.widest.extend(b.widest);
        a.longest_chain = a.longest_chain.max(b.longest_chain);
        a
    };
    let total = reached
        .par_principal_shapes()
        .fold(empty, |mut part, paths| {
            let mut reach = 0;
            let mut principal = None;
            for p in paths {
                if let Some(a) = account_of[p.numbers.1 as usize] {
                    let a = &mut part.per_account[a];
                    a.0 += 1;
                    if human[p.numbers.0 as usize] {
                        a.1.insert(p.numbers.0);
                    }
                    for (k, count) in a.2.iter_mut().enumerate() {
                        *count += usize::from(p.under(k));
                    }
                }
                part.longest_chain = part.longest_chain.max(p.longest());
                principal = Some(p.principal);
                reach += 1;
            }
            part.widest.extend(principal.map(|u| (u.clone(), reach)));
            part
        })
        .reduce(empty, add);
    let longest_chain = total.longest_chain;
    let mut widest = total.widest;
    let mut figures: Vec<AccountFigures> = accounts
        .iter()
        .zip(total.per_account)
        .map(
            |(account, (reached_by, humans, per_profile))| AccountFigures {
                account: account.clone(),
                reached_by,
                humans,
                per_profile,
                profiles: Vec::new(),
            },
        )
        .collect();
    for a in &mut figures {
        a.profiles = profiles
            .iter()
            .zip(&a.per_profile)
            .filter(|(_, c)| **c > 0)
            .map(|(p, _)| p.name.clone())
            .collect();
    }
    figures.sort_by_cached_key(|a| (std::cmp::Reverse(a.reached_by), a.account.to_string()));
    let conditional_accounts = figures
        .iter()
        .enumerate()
        .filter(|(_, a)| !a.profiles.is_empty() && a.profiles.len() < all)
        .map(|(i, _)| i)
        .collect();
    widest.sort_by_cached_key(|(u, n)| (std::cmp::Reverse(*n), u.to_string()));

    let mut summary = Summary {
        identities: widest.len(),
        identities_in_inventory: engine.impersonators().len(),
        accounts: figures,
        conditional_accounts,
        longest_chain,
        widest,
        counts: [0; 4],
        human,
        profiles: all,
    };
    let counts = reached
        .par_principal_shapes()
        .map(|paths| {
            let mut counts = [0; 4];
            for p in paths {
                for list in PathList::ALL {
                    counts[list as usize] += usize::from(summary.holds(list, &p));
                }
            }
            counts
        })
        .reduce(
            || [0; 4],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            },
        );
    summary.counts = counts;
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::access::{compute, Query};
    use crate::analysis::profiles::select;

    #[test]
    fn figures_of_the_example() {
        let ws = crate::workspace::example();
        let profiles = select(&ws, &[], None).unwrap();
        let access = compute(&ws.engine, &profiles, &Query::All);
        let reached = Reached::compute(&ws.engine, &profiles, &Query::All);
        let s = summarize(&ws.engine, &reached, &ws.human_types);
        // Counted by hand on the example: 6 users, the triage agent and 5 service accounts are
        // of impersonating types (12); alice, bob, carol, dave, erin, the triage bot, the
        // billing admin and the CI runner reach some account (8); frank, the log reader and the
        // prod and staging deployers reach none.
        assert_eq!(s.identities, 8);
        assert_eq!(s.identities_in_inventory, 12);
        assert_eq!(reached.len(), 14, "paths");
        assert_eq!(s.longest_chain, 2);
        assert_eq!(s.count(PathList::Longest), 2);
        let pairs = |list| -> Vec<String> {
            s.paths(&reached, list)
                .map(|p| format!("{} {}", p.principal, p.target))
                .collect()
        };
        assert_eq!(pairs(PathList::Delegated), pairs(PathList::Longest));
        // Each list is what its definition picks from the paths as `who-can` shows them.
        let all = profiles.len();
        let picked = |keep: &dyn Fn(&crate::analysis::access::Path) -> bool| -> Vec<String> {
            access
                .paths
                .iter()
                .filter(|p| keep(p))
                .map(|p| format!("{} {}", p.principal, p.target))
                .collect()
        };
        assert_eq!(
            pairs(PathList::Human),
            picked(&|p| p.principal.type_name().to_string() == "User")
        );
        assert_eq!(
            pairs(PathList::Conditional),
            picked(&|p| p.profiles(&profiles).len() < all)
        );
        assert_eq!(pairs(PathList::Delegated), picked(&|p| p.longest() > 1));
        for list in PathList::ALL {
            assert_eq!(s.count(list), pairs(list).len());
        }
        assert!(s.count(PathList::Conditional) > 0 && s.count(PathList::Human) > 0);
        // The billing admin's own account is reachable under break glass only.
        let conditional: Vec<String> = s
            .conditional_accounts
            .iter()
            .map(|i| s.accounts[*i].account.to_string())
            .collect();
        assert_eq!(conditional, [r#"ServiceAccount::"billing-admin""#]);
        // Most reached first; counts per profile never exceed the total.
        assert_eq!(
            s.accounts[0].account.to_string(),
            r#"ServiceAccount::"prod-deployer""#
        );
        assert!(s
            .accounts
            .iter()
            .all(|a| a.per_profile.iter().all(|c| *c <= a.reached_by)));
        assert_eq!(s.widest[0].0.to_string(), r#"User::"erin""#);
    }
}
