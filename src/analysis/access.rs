//! Impersonation paths per profile: who can reach which account, by which shortest chain, with
//! each hop's determining policies (DESIGN §2 "effective access", the paths half).
//!
//! A path is a (principal, target) pair reachable within `max_chain` hops under at least one
//! profile. Its shortest chain (ties broken by the chain's uid strings) and the policies that
//! allow each hop may differ between profiles, so a path holds one [`Route`] per distinct
//! (chain, hops) and each route lists the profiles that produce it. "Under which conditions"
//! is answered by those profiles and by the policies, never by paraphrasing conditions in code.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use cedar_policy::EntityUid;
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use smallvec::SmallVec;

use crate::analysis::profiles::Profile;
use crate::core::ids::{PolicyId, ProfileName};
use crate::engine::Engine;
use crate::reach::matrix::{HopMatrix, Toward};
use crate::reach::{Chain, Chains, Identities, NumberedReach, Reachability, Uid};

/// Which paths to compute.
#[derive(Debug, Clone)]
pub enum Query {
    /// Every identity that can reach this account.
    Target(EntityUid),
    /// Every account this identity can reach.
    Principal(EntityUid),
    /// The whole matrix.
    All,
}

/// One hop of a route, as evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub from: Uid,
    pub to: Uid,
    /// The impersonation actions that allowed it, in configuration order.
    pub actions: Arc<[EntityUid]>,
    /// The determining policies of the allowing requests, sorted. (Shared: a hop between
    /// two classes of look-alike identities appears in many paths.)
    pub policies: Arc<[PolicyId]>,
}

/// A shortest chain and how each hop is allowed, under the profiles listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The accounts after the principal, the target last.
    pub chain: Vec<Uid>,
    pub hops: Vec<Hop>,
    /// The profiles under which this is the shortest chain, in profile order.
    pub profiles: Vec<ProfileName>,
}

/// A (principal, target) pair reachable under at least one profile.
#[derive(Debug, Clone)]
pub struct Path {
    pub principal: Uid,
    pub target: Uid,
    /// Shortest first, then by chain; each profile appears in exactly one route.
    pub routes: Vec<Route>,
}

impl Path {
    /// The profiles under which the path exists, in profile order.
    pub fn profiles<'a>(&'a self, order: &'a [Profile]) -> Vec<&'a str> {
        order
            .iter()
            .map(|p| p.name.as_str())
            .filter(|n| {
                self.routes
                    .iter()
                    .any(|r| r.profiles.iter().any(|x| x == n))
            })
            .collect()
    }

    /// The longest of its routes' hop counts.
    pub fn longest(&self) -> usize {
        self.routes.iter().map(|r| r.chain.len()).max().unwrap_or(0)
    }
}

/// The paths matching a query, sorted by (principal, target) uid strings.
#[derive(Debug, Clone)]
pub struct Access {
    pub profiles: Vec<Profile>,
    pub paths: Vec<Path>,
}

/// Computes the paths of `query` under every profile, in parallel.
pub fn compute(engine: &Engine, profiles: &[Profile], query: &Query) -> Access {
    Reached::compute(engine, profiles, query).into_access()
}

/// The classes a hop goes from: (profile, matrix (see [`HopMatrix::step`]), class of `from`).
type HopFrom = (u32, u32, u32);
/// A hop's allowing actions and its determining policies.
pub type HopLists = (Arc<[EntityUid]>, Arc<[PolicyId]>);

/// The paths of a query in compact form: identities by number (see [`Identities`]), and for
/// each principal its targets with a chain per profile, about 20 bytes a path. A report of a
/// large inventory has millions of paths, so they are held like this and made into [`Path`]s,
/// hops explained, a few principals at a time ([`Reached::paths`]).
pub struct Reached<'e> {
    engine: &'e Engine,
    pub profiles: Vec<Profile>,
    identities: Arc<Identities>,
    /// One per principal with paths, in number order.
    blocks: Vec<Block>,
    /// Per identity number, the index of its block (`u32::MAX`: none). Rules ask whether a
    /// path's target reaches its principal back for each of tens of millions of paths.
    block_of: Vec<u32>,
    /// The number of paths.
    len: usize,
    /// When hops do not depend on the path: each profile's matrix, and every hop of every
    /// chain explained once per (profile, class of `from`, class of `to`); a hop between two
    /// classes is the same for all their members (see `matrix.rs`).
    explained: Option<Explained>,
}

/// Each profile's hop matrix, and the explanation of every hop the chains take.
struct Explained {
    matrices: Vec<Arc<HopMatrix>>,
    /// Where the hops from each [`HopFrom`] stand in `to`.
    from: FxHashMap<HopFrom, std::ops::Range<u32>>,
    /// Each hop's class of `to` and index into `lists` (most hops share their lists with
    /// many others), sorted by class within a [`HopFrom`]'s range. Eight bytes a hop: an
    /// organisation's chains take millions of distinct hops, and a hash map of them, held
    /// while the paths are written, was a third of `snapshot`'s peak (links shape).
    to: Vec<(u32, u32)>,
    lists: Vec<HopLists>,
}

impl Explained {
    fn lists(&self, from: HopFrom, to: u32) -> Option<&HopLists> {
        let range = self.from.get(&from)?;
        let hops = &self.to[range.start as usize..range.end as usize];
        let k = hops.binary_search_by_key(&to, |&(class, _)| class).ok()?;
        self.lists.get(hops[k].1 as usize)
    }
}

/// Per profile, the chain last explained and its hops, for the next chain of the same
/// principal to reuse the hops it shares (see [`Reached::hops`]): looking a hop up was a fifth
/// of writing a large report.
#[derive(Default)]
struct HopMemo<'a> {
    before: Vec<(Chain, SmallVec<[Cow<'a, HopLists>; 4]>)>,
}

/// Where `chain` (from `principal`) stops sharing its accounts with `before`, a chain from the
/// same principal: how many first accounts they share, and the identity the first hop not
/// shared starts from. The shared hops are the same hops (see [`HopMemo`]).
fn unshared_start(principal: u32, chain: &[u32], before: &[u32]) -> (usize, u32) {
    let shared = (chain.iter().zip(before))
        .take_while(|(a, b)| a == b)
        .count();
    let from = shared.checked_sub(1).map_or(principal, |k| chain[k]);
    (shared, from)
}

/// One principal's paths.
struct Block {
    principal: u32,
    /// Shared by every principal that reaches the same targets by the same chains under each
    /// profile (see [`Merged`]).
    paths: Arc<BlockPaths>,
}

/// The targets and chains of a [`Block`].
enum BlockPaths {
    /// Under one profile, the reach as the matrix's search made it (not copied).
    One(Arc<NumberedReach>),
    /// Under several, their reaches merged: per target, per profile (chain
    /// `j × profiles + i`), its chain, empty when the target is not reached under that profile.
    Merged(Chains),
}

impl BlockPaths {
    fn chains(&self) -> &Chains {
        match self {
            Self::One(reach) => reach.chains(),
            Self::Merged(chains) => chains,
        }
    }

    /// Sorted.
    fn targets(&self) -> &[u32] {
        self.chains().targets()
    }

    /// Chain `k`: of target `k / profiles`, under profile `k % profiles`.
    fn chain(&self, k: usize) -> Chain {
        self.chains().chain(k)
    }

    /// Whether chain `k` is empty (its target not reached under that profile).
    fn unreached(&self, k: usize) -> bool {
        self.chains().is_empty_at(k)
    }

    /// A hash of the targets and chains.
    fn content_hash(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = rustc_hash::FxHasher::default();
        self.chains().hash(&mut h);
        h.finish()
    }

    /// Whether both have the same targets by the same chains (kept alike: see [`Chains`]).
    fn same_as(&self, other: &Self) -> bool {
        self.chains() == other.chains()
    }

    /// The number of chains (targets × profiles).
    fn chain_count(&self) -> usize {
        self.chains().len()
    }
}

/// See [`Reached::hops_used`].
#[derive(Debug, Default)]
pub struct HopsUsed {
    /// Ids, sorted.
    pub policies: BTreeSet<PolicyId>,
    pub several_actions: bool,
}

/// A path as [`Reached`] holds it: enough for the summary figures, no hop explained.
pub struct Shape<'a> {
    pub principal: &'a Uid,
    pub target: &'a Uid,
    /// The principal's and the target's identity numbers.
    pub numbers: (u32, u32),
    /// Its block and the index of its first chain there: the chain under profile `i` is
    /// `block.chains.get(first + i)` (empty: not reached under it). Borrowed, not collected:
    /// the summary reads the shapes of millions of paths.
    block: &'a Block,
    first: usize,
    profiles: usize,
    identities: &'a Identities,
}

impl<'a> Shape<'a> {
    /// The chain under profile `i`, as identity numbers (empty: not reached under it).
    fn numbers_under(&self, i: usize) -> Chain {
        self.block.paths.chain(self.first + i)
    }

    /// The chain of its longest route (the last, by chain, of its longest ones), as uid
    /// strings.
    pub fn longest_route(&self) -> impl Iterator<Item = &'a Arc<str>> + 'a {
        let longest = (0..self.profiles)
            .map(|i| self.numbers_under(i))
            .max_by(|a, b| (a.len(), &a[..]).cmp(&(b.len(), &b[..])));
        let names = &self.identities.names;
        longest
            .unwrap_or_default()
            .into_iter()
            .map(move |x| &names[x as usize])
    }

    /// The principal's uid string.
    pub fn principal_name(&self) -> &'a Arc<str> {
        &self.identities.names[self.numbers.0 as usize]
    }

    /// The target's uid string.
    pub fn target_name(&self) -> &'a Arc<str> {
        &self.identities.names[self.numbers.1 as usize]
    }

    /// The chain under profile `i` (the accounts after the principal, the target last; empty
    /// when the path does not exist under it), as uid strings.
    pub fn chain(&self, i: usize) -> impl Iterator<Item = &'a Arc<str>> + 'a {
        let names = &self.identities.names;
        self.numbers_under(i)
            .into_iter()
            .map(move |x| &names[x as usize])
    }

    /// Whether the path exists under profile `i`.
    pub fn under(&self, i: usize) -> bool {
        !self.block.paths.unreached(self.first + i)
    }

    /// The number of profiles under which it exists.
    pub fn profile_count(&self) -> usize {
        (0..self.profiles).filter(|&i| self.under(i)).count()
    }

    /// The longest of its shortest chains, in hops.
    pub fn longest(&self) -> usize {
        (0..self.profiles)
            .map(|i| self.block.paths.chains().chain_len(self.first + i))
            .max()
            .unwrap_or(0)
    }
}

/// A path under one profile: its shortest chain there, the rest looked up when asked for.
pub struct ProfilePath<'a> {
    reached: &'a Reached<'a>,
    profile: usize,
    /// Identity numbers (see [`Identities`]).
    pub principal: u32,
    pub target: u32,
    /// Its block, and the index of its chain there (made when asked for: most rules need
    /// only the principal and the target).
    block: &'a Block,
    k: usize,
}

impl<'a> ProfilePath<'a> {
    /// The accounts after the principal, the target last.
    pub fn chain(&self) -> Chain {
        self.block.paths.chain(self.k)
    }

    fn name(&self, n: u32) -> &'a Arc<str> {
        &self.reached.identities.names[n as usize]
    }

    pub fn principal_name(&self) -> &'a Arc<str> {
        self.name(self.principal)
    }

    pub fn target_name(&self) -> &'a Arc<str> {
        self.name(self.target)
    }

    /// The chain as uids.
    pub fn chain_uids(&self) -> Vec<EntityUid> {
        let uids = &self.reached.identities.uids;
        self.chain()
            .iter()
            .map(|&x| EntityUid::clone(&uids[x as usize]))
            .collect()
    }

    /// The policies that allow its hops, sorted.
    pub fn policies(&self) -> Vec<PolicyId> {
        hops_policies(&self.reached.hops(
            self.profile,
            self.principal,
            &self.chain(),
            &mut HopMemo::default(),
        ))
    }
}

/// The determining policies of `hops`, sorted, once each: a path's policies.
pub fn hops_policies(hops: &[Cow<'_, HopLists>]) -> Vec<PolicyId> {
    let mut policies: Vec<PolicyId> = hops.iter().flat_map(|hop| hop.1.iter().cloned()).collect();
    policies.sort();
    policies.dedup();
    policies
}

/// A path by identity numbers (see [`Identities`]): what a renderer of millions of rows needs,
/// without the uids of [`Path`] (see [`Reached::map_numbered`]).
pub struct NumberedPath<'a> {
    pub principal: u32,
    pub target: u32,
    /// As [`Path::routes`]; inline, as most paths have one route (tens of millions of paths
    /// are made for a large report, and an allocation each showed in its profile).
    pub routes: SmallVec<[NumberedRoute<'a>; 1]>,
}

/// A [`Route`] by identity numbers.
pub struct NumberedRoute<'a> {
    /// The accounts after the principal, the target last.
    pub chain: Chain,
    /// Each hop's allowing actions and determining policies, as [`Hop`] has them; borrowed
    /// from the explanations shared by every chain when hops do not depend on the path (a
    /// clone of their `Arc`s is two atomic writes to lines every worker reads).
    pub hops: SmallVec<[Cow<'a, HopLists>; 4]>,
    /// Indices into [`Reached::profiles`], in order.
    pub profiles: SmallVec<[usize; 4]>,
}

/// About how many paths are made at once: enough to keep every worker busy, few enough that a
/// chunk of made paths (rows of a report, entries of a baseline) is small beside the compact
/// form. Counted in paths, not principals: a principal of a dense world reaches thousands of
/// accounts, and 64 of them made 32 MB of CSV at once.
const CHUNK_PATHS: usize = 16_384;

impl<'e> Reached<'e> {
    /// Every reachable (principal, target) pair of `query` under each profile, in parallel.
    pub fn compute(engine: &'e Engine, profiles: &[Profile], query: &Query) -> Self {
        let identities = Arc::new(Identities::new(engine));
        let principals: Vec<u32> = match query {
            Query::Principal(p) => identities.number(p).into_iter().collect(),
            Query::Target(_) | Query::All => engine
                .impersonators()
                .iter()
                .filter_map(|p| identities.number(p))
                .collect(),
        };
        // Every profile's reach (its hop matrix) is built before the parallel work below, so
        // no worker waits on another's matrix. Profiles share the decisions of policies that
        // read nothing on which they differ. The first profile is built alone (in parallel
        // within), so the others find every decision it made: all side by side, they asked
        // for the same policy at the same moment and each evaluated it. The others are then
        // built side by side, as part of building a matrix (its classes, gathering what its
        // policies decide) is one thread's work; two of them can still both evaluate a policy
        // on which they agree and the first differs, which costs time, not correctness (the
        // decisions are the same).
        identities.share_decisions(profiles.len() > 1);
        let mut reaches: Vec<Reachability<'e>> = Vec::with_capacity(profiles.len());
        if let Some((first, rest)) = profiles.split_first() {
            reaches.push(Reachability::new(engine, &identities, &first.context));
            reaches.par_extend(
                rest.par_iter()
                    .map(|p| Reachability::new(engine, &identities, &p.context)),
            );
        }
        identities.share_decisions(false);
        let matrices: Option<Vec<Arc<HopMatrix>>> =
            reaches.iter().map(|r| r.matrix().cloned()).collect();
        let target = match query {
            Query::Target(t) => Some(identities.number(t)),
            _ => None,
        };
        // With a matrix, every identity's distance to the target is known up front, and each
        // chain follows from it (see `Toward`).
        let toward: Option<Vec<Toward<'_>>> = match (target, &matrices) {
            (Some(Some(t)), Some(m)) => Some(
                m.par_iter()
                    .map(|m| m.toward(t, engine.max_chain))
                    .collect(),
            ),
            _ => None,
        };
        let reach = |profile: usize, origin: u32| -> Arc<NumberedReach> {
            let uid = &identities.uids[origin as usize];
            let r = &reaches[profile];
            match (target, &matrices) {
                // Only the chain to the target, not the whole reach of every identity.
                (Some(t), _) => Arc::new(NumberedReach::new(
                    t.and_then(|t| {
                        let chain = match &toward {
                            Some(toward) => toward[profile].chain(origin)?,
                            None => {
                                let chain = r.chain_to(uid, &identities.uids[t as usize])?;
                                numbers(&identities, &chain)
                            }
                        };
                        Some((t, chain))
                    })
                    .into_iter()
                    .collect(),
                )),
                // Not kept by the matrix: shared reaches are kept here, as blocks (`Merged`).
                (None, Some(m)) => m[profile].reach_unshared(origin, engine.max_chain),
                (None, None) => r.reach_numbered(uid, &identities).unwrap_or_else(|| {
                    Arc::new(NumberedReach::new(
                        r.reach_from(uid)
                            .values()
                            .filter_map(|(t, chain)| {
                                Some((identities.number(t)?, numbers(&identities, chain)))
                            })
                            .collect(),
                    ))
                }),
            }
        };
        crate::core::progress::start("identities", (principals.len() * profiles.len()) as u64);
        let merged = Merged::default();
        let blocks: Vec<Block> = principals
            .into_par_iter()
            .filter_map(|principal| {
                crate::core::progress::advance(profiles.len() as u64);
                // Members of classes whose members all reach alike, under every profile, share
                // one block.
                let alike: Option<Vec<u32>> = match (target, &matrices) {
                    (None, Some(m)) => m.iter().map(|m| m.alike(principal)).collect(),
                    _ => None,
                };
                merged.block(principal, alike, || {
                    (0..profiles.len()).map(|i| reach(i, principal)).collect()
                })
            })
            .collect();
        crate::core::progress::finish();
        let len = blocks.iter().map(|b| b.paths.targets().len()).sum();
        let mut block_of = vec![u32::MAX; identities.uids.len()];
        for (k, b) in blocks.iter().enumerate() {
            block_of[b.principal as usize] = k as u32;
        }
        let mut reached = Self {
            engine,
            profiles: profiles.to_vec(),
            identities,
            blocks,
            block_of,
            len,
            explained: None,
        };
        reached.explained = matrices.map(|matrices| reached.explain_hops(matrices));
        reached
    }

    /// The blocks in runs of about `paths` paths (at least one block each), in order.
    fn chunks(&self, paths: usize) -> impl Iterator<Item = &[Block]> + '_ {
        let mut rest = &self.blocks[..];
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let mut held = 0;
            let end = rest
                .iter()
                .position(|b| {
                    held += b.paths.targets().len();
                    held >= paths
                })
                .map_or(rest.len(), |k| k + 1);
            let (chunk, after) = rest.split_at(end);
            rest = after;
            Some(chunk)
        })
    }

    /// Every path, hops explained ([`Reached::paths`]), with the profiles.
    pub fn into_access(self) -> Access {
        Access {
            paths: self.paths().collect(),
            profiles: self.profiles,
        }
    }

    /// Each profile's hop matrix, in the order of [`Reached::profiles`], when every profile
    /// has one.
    pub fn matrices(&self) -> Option<Vec<Arc<HopMatrix>>> {
        self.explained.as_ref().map(|e| e.matrices.clone())
    }

    /// `uid` as a string: looked up for the identities, formatted for anything else.
    pub fn name(&self, uid: &EntityUid) -> String {
        match self.identities.number(uid) {
            Some(n) => self.identities.names[n as usize].to_string(),
            None => uid.to_string(),
        }
    }

    /// The number of paths.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every path, hops explained, sorted by (principal, target) uid strings. Made a chunk of
    /// principals at a time, in parallel, and never held whole.
    pub fn paths(&self) -> impl Iterator<Item = Path> + '_ {
        self.map_paths(|p| p)
    }

    /// [`Reached::map_paths`] by identity numbers, for renderers that want names and policies
    /// only (a CSV row per route).
    pub fn map_numbered<'a, T: Send + 'a>(
        &'a self,
        f: impl Fn(NumberedPath<'_>) -> T + Sync + 'a,
    ) -> impl Iterator<Item = T> + 'a {
        self.chunks(CHUNK_PATHS).flat_map(move |chunk| {
            chunk
                .par_iter()
                .flat_map_iter(|b| self.block_paths(b).map(&f))
                .collect::<Vec<T>>()
        })
    }

    /// As [`Reached::map_numbered`], but `f` is given all of one principal's paths at once (a
    /// renderer then makes one buffer a principal, not one a path).
    pub fn map_principals<'a, T: Send + 'a>(
        &'a self,
        f: impl Fn(&mut dyn Iterator<Item = NumberedPath<'_>>) -> T + Sync + 'a,
    ) -> impl Iterator<Item = T> + 'a {
        self.chunks(CHUNK_PATHS).flat_map(move |chunk| {
            chunk
                .par_iter()
                .map(|b| f(&mut self.block_paths(b)))
                .collect::<Vec<T>>()
        })
    }

    /// [`Reached::paths`], each passed through `f` in the same parallel chunk (e.g. a renderer
    /// turning it into its document type, so that work is shared by the workers too).
    pub fn map_paths<'a, T: Send + 'a>(
        &'a self,
        f: impl Fn(Path) -> T + Sync + 'a,
    ) -> impl Iterator<Item = T> + 'a {
        self.map_numbered(move |numbered| f(self.path(numbered)))
    }

    /// The paths under profile `i`, in the order of [`Reached::paths`], each passed through `f`
    /// in parallel a chunk at a time, as [`Reached::map_paths`] does. The baseline writes and
    /// compares paths one profile at a time. A chunk is about 65,000 paths: with four times as many
    /// (1,024 principals of the deep shape), a chunk of baseline entries held 100 MB of
    /// `drift`'s peak.
    pub fn map_profile_paths<'a, T: Send + 'a>(
        &'a self,
        i: usize,
        f: impl Fn(ProfilePath<'_>) -> T + Sync + 'a,
    ) -> impl Iterator<Item = T> + 'a {
        let n = self.profiles.len();
        self.chunks(CHUNK_PATHS * 4).flat_map(move |chunk| {
            chunk
                .par_iter()
                .flat_map_iter(|b| {
                    (0..b.paths.targets().len())
                        .filter(move |j| !b.paths.unreached(j * n + i))
                        .map(|j| f(self.profile_path(i, b, j)))
                })
                .collect::<Vec<T>>()
        })
    }

    /// One principal's paths, in target order (none when it reaches nothing): `drift` compares
    /// those of a principal the baseline records as reaching what another does.
    pub fn principal_paths(&self, principal: u32) -> impl Iterator<Item = NumberedPath<'_>> + '_ {
        self.block(principal)
            .into_iter()
            .flat_map(move |b| self.block_paths(b))
    }

    /// The path between two identity numbers under profile `i`, if there is one.
    pub fn path_under(&self, i: usize, principal: u32, target: u32) -> Option<ProfilePath<'_>> {
        let (b, j) = self.target_of(i, principal, target)?;
        Some(self.profile_path(i, b, j))
    }

    /// The block of `principal` (none when it reaches nothing).
    fn block(&self, principal: u32) -> Option<&Block> {
        let k = *self.block_of.get(principal as usize)?;
        self.blocks.get(k as usize)
    }

    /// The block of `principal` and the index of `target` there, when it reaches `target`
    /// under profile `i`.
    fn target_of(&self, i: usize, principal: u32, target: u32) -> Option<(&Block, usize)> {
        let b = self.block(principal)?;
        let j = b.paths.targets().binary_search(&target).ok()?;
        (!b.paths.unreached(j * self.profiles.len() + i)).then_some((b, j))
    }

    /// Per identity number, whether some path (under some profile) reaches it.
    pub fn reachable(&self) -> Vec<bool> {
        let mut reachable = vec![false; self.identities.uids.len()];
        let mut seen: FxHashSet<usize> = FxHashSet::default();
        for b in &self.blocks {
            // Blocks are shared by principals that reach alike: each read once.
            if seen.insert(Arc::as_ptr(&b.paths) as usize) {
                b.paths
                    .targets()
                    .iter()
                    .for_each(|&t| reachable[t as usize] = true);
            }
        }
        reachable
    }

    /// Whether `principal` reaches `target` under profile `i` (the chain is not made: rules ask
    /// this of tens of millions of paths).
    pub fn reaches(&self, i: usize, principal: u32, target: u32) -> bool {
        self.target_of(i, principal, target).is_some()
    }

    /// The identity numbering the paths use.
    pub fn identities(&self) -> &Identities {
        &self.identities
    }

    fn profile_path<'a>(&'a self, i: usize, b: &'a Block, j: usize) -> ProfilePath<'a> {
        ProfilePath {
            reached: self,
            profile: i,
            principal: b.principal,
            target: b.paths.targets()[j],
            block: b,
            k: j * self.profiles.len() + i,
        }
    }

    /// Every principal's paths' shapes, a principal at a time, in parallel (in the order of
    /// [`Reached::paths`] where the consumer keeps it, as rayon's ordered reductions do).
    pub fn par_principal_shapes(
        &self,
    ) -> impl IndexedParallelIterator<Item = impl Iterator<Item = Shape<'_>>> + '_ {
        self.blocks
            .par_iter()
            .map(move |b| (0..b.paths.targets().len()).map(move |j| self.shape(b, j)))
    }

    /// Every path's shape, in the order of [`Reached::paths`].
    pub fn shapes(&self) -> impl Iterator<Item = Shape<'_>> + '_ {
        self.blocks
            .iter()
            .flat_map(move |b| (0..b.paths.targets().len()).map(move |j| self.shape(b, j)))
    }

    /// What the hops of all paths use: the policies that determine some hop, and whether some
    /// hop is allowed by more than one impersonation action.
    pub fn hops_used(&self) -> HopsUsed {
        let mut used = HopsUsed::default();
        let mut note = |actions: &[EntityUid], policies: &[PolicyId]| {
            used.several_actions |= actions.len() > 1;
            used.policies.extend(policies.iter().cloned());
        };
        match &self.explained {
            Some(e) => e.lists.iter().for_each(|(a, p)| note(a, p)),
            // Path-dependent hops are only known by explaining every chain.
            None => self
                .paths()
                .flat_map(|p| p.routes)
                .flat_map(|r| r.hops)
                .for_each(|h| note(&h.actions, &h.policies)),
        }
        used
    }

    fn shape<'a>(&'a self, b: &'a Block, j: usize) -> Shape<'a> {
        let n = self.profiles.len();
        Shape {
            principal: &self.identities.uids[b.principal as usize],
            target: &self.identities.uids[b.paths.targets()[j] as usize],
            numbers: (b.principal, b.paths.targets()[j]),
            block: b,
            first: j * n,
            profiles: n,
            identities: &self.identities,
        }
    }

    /// A numbered path (see [`Reached::numbered`]) by uids.
    fn path(&self, numbered: NumberedPath<'_>) -> Path {
        let uid = |n: u32| self.identities.uids[n as usize].clone();
        Path {
            principal: uid(numbered.principal),
            target: uid(numbered.target),
            routes: numbered
                .routes
                .into_iter()
                .map(|route| {
                    let froms =
                        std::iter::once(numbered.principal).chain(route.chain.iter().copied());
                    Route {
                        hops: froms
                            .zip(route.chain.iter())
                            .zip(route.hops)
                            .map(|((from, &to), lists)| {
                                let (actions, policies) = lists.into_owned();
                                Hop {
                                    from: uid(from),
                                    to: uid(to),
                                    actions,
                                    policies,
                                }
                            })
                            .collect(),
                        chain: route.chain.iter().map(|&n| uid(n)).collect(),
                        profiles: route
                            .profiles
                            .iter()
                            .map(|&i| self.profiles[i].name.clone())
                            .collect(),
                    }
                })
                .collect(),
        }
    }

    /// A block's paths in target order, made with a [`HopMemo`] of its own.
    fn block_paths<'a>(&'a self, b: &'a Block) -> impl Iterator<Item = NumberedPath<'a>> + 'a {
        let mut memo = HopMemo::default();
        (0..b.paths.targets().len()).map(move |j| self.numbered(b, j, &mut memo))
    }

    /// Path `j` of block `b`: a route per distinct (chain, hops), shortest first, then by chain.
    fn numbered<'a>(&'a self, b: &'a Block, j: usize, memo: &mut HopMemo<'a>) -> NumberedPath<'a> {
        let n = self.profiles.len();
        let mut routes: SmallVec<[NumberedRoute<'a>; 1]> = SmallVec::new();
        for i in 0..n {
            let chain = b.paths.chain(j * n + i);
            if chain.is_empty() {
                continue;
            }
            let hops = self.hops(i, b.principal, &chain, memo);
            match routes
                .iter_mut()
                .find(|r| r.chain == chain && r.hops == hops)
            {
                Some(same) => same.profiles.push(i),
                None => routes.push(NumberedRoute {
                    chain,
                    hops,
                    profiles: smallvec::smallvec![i],
                }),
            }
        }
        // Numbers are in uid-string order. Stable: routes of equal chains keep profile order.
        routes.sort_by(|a, b| (a.chain.len(), &a.chain).cmp(&(b.chain.len(), &b.chain)));
        NumberedPath {
            principal: b.principal,
            target: b.paths.targets()[j],
            routes,
        }
    }

    /// The hops of `chain` from `principal` under profile `i`: for each, the actions and the
    /// policies that allow it. The hops it shares with the chain before it under `i` (the
    /// same accounts from the start: a principal's chains branch from a few first steps) are
    /// taken from `memo`, the others looked up.
    fn hops<'a>(
        &'a self,
        i: usize,
        principal: u32,
        chain: &[u32],
        memo: &mut HopMemo<'a>,
    ) -> SmallVec<[Cow<'a, HopLists>; 4]> {
        let Some(explained) = &self.explained else {
            let principal = &self.identities.uids[principal as usize];
            let chain = chain
                .iter()
                .map(|&x| EntityUid::clone(&self.identities.uids[x as usize]))
                .collect();
            return explain(self.engine, principal, chain, &self.profiles[i])
                .into_iter()
                .map(|h| Cow::Owned((h.actions, h.policies)))
                .collect();
        };
        if memo.before.len() <= i {
            memo.before.resize_with(i + 1, Default::default);
        }
        let (before, before_hops) = &mut memo.before[i];
        let (shared, mut from) = unshared_start(principal, chain, before);
        let mut hops: SmallVec<[Cow<'a, HopLists>; 4]> =
            before_hops[..shared].iter().cloned().collect();
        for (depth, &to) in chain.iter().enumerate().skip(shared) {
            let (k, m) = explained.matrices[i].step(principal, depth);
            let key = (i as u32, k, m.class_of(from));
            // Every hop of every chain was explained (`explain_hops`); an empty list would
            // still show the chain.
            hops.push(
                explained
                    .lists(key, m.class_of(to))
                    .map_or_else(Cow::default, Cow::Borrowed),
            );
            from = to;
        }
        before.clear();
        before.extend_from_slice(chain);
        before_hops.clear();
        before_hops.extend(hops.iter().cloned());
        hops
    }

    /// Each principal with paths, in number order, with the first principal (itself, or one
    /// before it) whose paths are made alike ([`Reached::numbered`]): the same block of paths and,
    /// under every profile, the same class and later matrix ([`hops_alike`]), so the same hops.
    /// Where hops depend on the path, each principal is its own first.
    pub fn first_alike(&self) -> Vec<(u32, u32)> {
        let Some(explained) = &self.explained else {
            return self
                .blocks
                .iter()
                .map(|b| (b.principal, b.principal))
                .collect();
        };
        let mut first: FxHashMap<Vec<(usize, u32, u32)>, u32> = FxHashMap::default();
        self.blocks
            .iter()
            .map(|b| {
                let key = explained
                    .matrices
                    .iter()
                    .map(|m| hops_alike(m, b))
                    .collect();
                (b.principal, *first.entry(key).or_insert(b.principal))
            })
            .collect()
    }

    /// Explains each distinct (profile, class of `from`, class of `to`) of every chain once.
    /// A profile at a time, so that only one profile's distinct hops are gathered at once.
    fn explain_hops(&self, matrices: Vec<Arc<HopMatrix>>) -> Explained {
        let n = self.profiles.len();
        let mut index: FxHashMap<(Vec<EntityUid>, Vec<PolicyId>), u32> = FxHashMap::default();
        let mut explained = Explained {
            from: FxHashMap::default(),
            to: Vec::new(),
            lists: Vec::new(),
            matrices,
        };
        for i in 0..n {
            let m = &explained.matrices[i];
            // Principals sharing their paths take the same hops when they are also alike to
            // the matrix (class and later matrix): those hops are gathered once.
            let mut seen: FxHashSet<(usize, u32, u32)> = FxHashSet::default();
            let unalike: Vec<&Block> = (self.blocks.iter())
                .filter(|b| seen.insert(hops_alike(m, b)))
                .collect();
            // Gathered in parallel, a set per worker, then joined: on one thread this was two
            // seconds a profile on path, with the other core idle.
            let distinct: FxHashSet<(u32, u32, u32)> = unalike
                .par_iter()
                .fold(FxHashSet::default, |mut distinct, b| {
                    // The hops a chain shares with the one before it (the same accounts from
                    // the start) are in the set already.
                    let mut before = Chain::new();
                    for k in (i..b.paths.chain_count()).step_by(n) {
                        let chain = b.paths.chain(k);
                        let (shared, mut from) = unshared_start(b.principal, &chain, &before);
                        for (depth, &to) in chain.iter().enumerate().skip(shared) {
                            let (s, step) = m.step(b.principal, depth);
                            distinct.insert((s, step.class_of(from), step.class_of(to)));
                            from = to;
                        }
                        before = chain;
                    }
                    distinct
                })
                .reduce(FxHashSet::default, |mut a, mut b| {
                    if a.len() < b.len() {
                        std::mem::swap(&mut a, &mut b);
                    }
                    a.extend(b);
                    a
                });
            let mut distinct: Vec<(u32, u32, u32)> = distinct.into_iter().collect();
            distinct.par_sort_unstable();
            // Sorted, so each (matrix, class of `from`) has its hops side by side: where each
            // such run starts in `to`; it ends where the next starts.
            let mut starts: Vec<(u32, u32, u32)> = Vec::new();
            for keys in distinct.chunks(4096) {
                let found: Vec<_> = keys
                    .par_iter()
                    .map(|&(s, cf, ct)| m.step_by_index(s).explain_classes(self.engine, cf, ct))
                    .collect();
                for (&(s, cf, ct), lists) in keys.iter().zip(found) {
                    let Some(lists) = lists else { continue };
                    let k = *index.entry(lists).or_insert_with_key(|(a, p)| {
                        explained.lists.push((a[..].into(), p[..].into()));
                        explained.lists.len() as u32 - 1
                    });
                    if starts
                        .last()
                        .is_none_or(|&(gs, gcf, _)| (gs, gcf) != (s, cf))
                    {
                        starts.push((s, cf, explained.to.len() as u32));
                    }
                    explained.to.push((ct, k));
                }
            }
            let ends = starts
                .iter()
                .skip(1)
                .map(|&(_, _, start)| start)
                .chain([explained.to.len() as u32]);
            for (&(s, cf, start), end) in starts.iter().zip(ends) {
                explained.from.insert((i as u32, s, cf), start..end);
            }
        }
        explained.to.shrink_to_fit();
        explained
    }
}

/// What a block's hops under matrix `m` depend on besides its chains: its paths' block, the
/// class of its principal (the first hop's `from`) and the later matrix of its group of origins.
/// Blocks alike in this under every profile take the same hops.
fn hops_alike(m: &HopMatrix, b: &Block) -> (usize, u32, u32) {
    (
        Arc::as_ptr(&b.paths) as usize,
        m.class_of(b.principal),
        m.step(b.principal, 1).0,
    )
}

/// The paths of principals that reach alike, made and held once per tuple of classes (one per
/// profile's matrix) whose members all reach the same targets by the same chains (see
/// [`HopMatrix::alike`]). In an organisation of teams most people are such members, and a
/// copy of the same thousands of paths for each of them was most of a report's memory (path
/// shape: 380 of 506 MB).
///
/// Other principals' paths are kept once per content: two principals that no class joins
/// (each singled out by some policy) often reach the same accounts by the same chains all the
/// same (the policy naming them does not apply under the profile, or grants what others
/// already have).
#[derive(Default)]
struct Merged {
    alike: std::sync::Mutex<FxHashMap<Vec<u32>, Arc<MadeOnce>>>,
    /// By a hash of their content; equal content is checked, not assumed.
    by_content: std::sync::Mutex<FxHashMap<u64, Vec<Arc<BlockPaths>>>>,
}

/// The paths of a class under each profile, once its first member has made them (`None`: it
/// reaches nothing).
type MadeOnce = OnceLock<Option<Arc<BlockPaths>>>;

impl Merged {
    /// `principal`'s paths from its `reaches` under each profile (made only when no principal
    /// `alike` made them before); `None` when it reaches nothing.
    fn block(
        &self,
        principal: u32,
        alike: Option<Vec<u32>>,
        reaches: impl FnOnce() -> Vec<Arc<NumberedReach>>,
    ) -> Option<Block> {
        let merge = || BlockPaths::merge(&reaches()).map(Arc::new);
        let paths = match alike {
            Some(key) => {
                // The map's lock is held to find the cell only; the other members of a class
                // wait on the cell while its first member makes the paths.
                let cell = self
                    .alike
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .entry(key)
                    .or_default()
                    .clone();
                cell.get_or_init(merge).clone()
            }
            None => merge().map(|paths| self.once(paths)),
        }?;
        Some(Block { principal, paths })
    }

    /// `paths`, or paths of equal content kept before.
    fn once(&self, paths: Arc<BlockPaths>) -> Arc<BlockPaths> {
        let hash = paths.content_hash();
        let mut kept = self
            .by_content
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let same = kept.entry(hash).or_default();
        match same.iter().find(|k| k.same_as(&paths)) {
            Some(k) => k.clone(),
            None => {
                same.push(paths.clone());
                paths
            }
        }
    }
}

impl BlockPaths {
    /// Reaches under each profile as one block's paths; `None` when they reach nothing.
    fn merge(reaches: &[Arc<NumberedReach>]) -> Option<Self> {
        if let [reach] = reaches {
            return (!reach.is_empty()).then(|| Self::One(reach.clone()));
        }
        let chains = Chains::merge(&reaches.iter().map(|r| r.chains()).collect::<Vec<_>>());
        (!chains.targets().is_empty()).then_some(Self::Merged(chains))
    }
}

/// Identity numbers of a chain (every member of a chain is an identity).
fn numbers(identities: &Identities, chain: &[Uid]) -> Vec<u32> {
    chain.iter().filter_map(|u| identities.number(u)).collect()
}

/// Evaluates each hop of a reachable chain again, for the actions and policies that allow it.
fn explain(
    engine: &Engine,
    principal: &EntityUid,
    chain: Vec<EntityUid>,
    profile: &Profile,
) -> Vec<Hop> {
    let Ok(prepared) = engine.prepare_chain(principal, &chain, &profile.context) else {
        // Reachability only follows hops that prepared and were allowed, so this cannot fail;
        // an empty explanation would still show the chain.
        return Vec::new();
    };
    prepared
        .iter()
        .map(|h| {
            let outcome = engine.evaluate_hop(h);
            Hop {
                policies: outcome.policies().into(),
                from: Arc::new(outcome.from),
                to: Arc::new(outcome.to),
                actions: outcome.allowing.into(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::profiles::select;
    use crate::workspace::test_support::uid;

    #[test]
    fn paths_of_equal_content_are_kept_once() {
        let reach = |pairs: Vec<(u32, Vec<u32>)>| Arc::new(NumberedReach::new(pairs));
        let merged = Merged::default();
        let block = |reaches: Vec<Arc<NumberedReach>>| {
            merged.block(0, None, || reaches).map(|b| b.paths).unwrap()
        };
        // Under two profiles: target 3 by the same chain under both, target 5 under the
        // second only.
        let a = block(vec![
            reach(vec![(3, vec![1, 3])]),
            reach(vec![(5, vec![5]), (3, vec![1, 3])]),
        ]);
        let b = block(vec![
            reach(vec![(3, vec![1, 3])]),
            reach(vec![(3, vec![1, 3]), (5, vec![5])]),
        ]);
        let c = block(vec![
            reach(vec![(3, vec![2, 3])]),
            reach(vec![(3, vec![1, 3]), (5, vec![5])]),
        ]);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(a.targets(), [3, 5]);
        let chains: Vec<Vec<u32>> = (0..a.chain_count()).map(|k| a.chain(k).to_vec()).collect();
        assert_eq!(chains, [vec![1, 3], vec![1, 3], vec![], vec![5]]);
        // Nothing reached: no block.
        assert!(merged
            .block(0, None, || vec![reach(vec![]), reach(vec![])])
            .is_none());
    }

    #[test]
    fn routes_group_profiles_and_keep_each_hops_policies() {
        let ws = crate::workspace::example();
        let profiles = select(&ws, &[], None).unwrap();
        let deployer = uid(r#"ServiceAccount::"prod-deployer""#);
        let access = compute(&ws.engine, &profiles, &Query::Target(deployer.clone()));
        assert!(access.paths.iter().all(|p| *p.target == deployer));
        let carol = access
            .paths
            .iter()
            .find(|p| *p.principal == uid(r#"User::"carol""#))
            .unwrap();
        // One route, two hops, under routine only (the CI runner's hop needs a change ticket).
        assert_eq!(carol.routes.len(), 1);
        assert_eq!(carol.routes[0].profiles, ["routine"]);
        assert_eq!(carol.profiles(&profiles), ["routine"]);
        let policies: Vec<&[PolicyId]> = carol.routes[0]
            .hops
            .iter()
            .map(|h| &h.policies[..])
            .collect();
        assert_eq!(
            policies,
            [
                &["carol-mints-ci-runner".to_string()][..],
                &["ci-runner-deploys".to_string()][..]
            ]
        );
        // alice is allowed by the on-call policy under two profiles: one route lists both.
        let alice = access
            .paths
            .iter()
            .find(|p| *p.principal == uid(r#"User::"alice""#))
            .unwrap();
        assert_eq!(alice.routes.len(), 1);
        assert_eq!(alice.routes[0].profiles, ["incident", "routine"]);
    }
}
