//! Read tracking for SSI: which serializable transaction read which keys and
//! key ranges. PostgreSQL calls these SIREAD locks; they never block anyone.
//! A writer asks [`ReadLocks::readers`] who read the key it just wrote, and
//! each answer is a candidate rw-antidependency `reader →rw writer`
//! (`ssi.rs` decides whether it counts).
//!
//! ```text
//!   point locks (64 shards)                   range locks (per tree)
//!   fingerprint(7, "k1") → [txn 12, txn 15]   tree 7 → [("a".."f", txn 12),
//!   fingerprint(7, "k9") → [txn 15]                     (everything, txn 19)]
//! ```
//!
//! A point read (found or not) locks its key; a range scan locks its whole
//! requested range, so a later insert into the range, even one it found
//! empty, is seen (phantoms). A scan of every key locks the whole tree.
//!
//! A point lock is named by a 64-bit fingerprint of its tree and key
//! ([`crate::hash`], seeded per process) rather than by the key itself: a
//! lookup through an index takes one point lock per row it fetches, and
//! copying each key twice (into the table and into the transaction's list)
//! and hashing it with SipHash several times cost more than the row's
//! B+tree descent. Two keys with one fingerprint share a lock, which can
//! only add a conflict, never hide one (invariant 4).
//!
//! Memory is bounded by coarsening, as PostgreSQL promotes tuple locks to
//! page and relation locks: once a transaction holds [`POINTS_PER_TREE`]
//! point locks or [`RANGES_PER_TREE`] range locks in one tree, or the
//! table is full (a shard of point locks holds its share of
//! [`TABLE_CAPACITY`], or the range locks number that many), that
//! transaction's locks in the tree are replaced by one lock on the whole
//! tree. A coarser lock only adds conflicts, never hides one. Coarsenings
//! are counted ([`ReadLocks::counts`], `SHOW basalt.ssi_coarsenings`).
//!
//! Invariants:
//! 1. A read registers its lock *before* it reads the tree, and a write
//!    inserts its version *before* it asks for readers. So for any read and
//!    write of one key, the writer finds the lock or the reader meets the
//!    version (or both); no rw-antidependency goes unnoticed.
//! 2. Coarsening adds the whole-tree lock before it removes the finer ones,
//!    so a key is never momentarily uncovered.
//! 3. Every entry in the table is also listed in its transaction's
//!    [`HeldLocks`], which `release` uses to remove exactly those entries.
//! 4. A point lock on a key is found by every writer of that key: reader
//!    and writer compute the same fingerprint (one seed per process), so a
//!    fingerprint shared with another key only adds candidates.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use parking_lot::{Mutex, RwLock};

use super::mvcc::TxnId;
use crate::hash::{FastHashState, FastMap, FastSet};
use crate::storage::{KeyRange, TreeId};

/// Point locks one transaction may hold in one tree before they coarsen.
pub const POINTS_PER_TREE: usize = 512;
/// Range locks one transaction may hold in one tree before they coarsen.
pub const RANGES_PER_TREE: usize = 32;
/// Point locks, and separately range locks, beyond which every new read
/// coarsens at once (point locks: each shard holds a 1/[`SHARDS`] share).
pub const TABLE_CAPACITY: usize = 1 << 20;
const SHARDS: usize = 64;

/// A point lock's name: its tree and key, hashed (invariant 4).
type Fingerprint = u64;

fn fingerprint(tree: TreeId, key: &[u8]) -> Fingerprint {
    let mut hasher = FastHashState.build_hasher();
    hasher.write_u64(tree);
    hasher.write(key);
    hasher.finish()
}

fn shard_of(fingerprint: Fingerprint) -> usize {
    (fingerprint % SHARDS as u64) as usize
}

/// The transactions holding one point lock: nearly always just one, which
/// needs no allocation.
#[derive(Debug)]
enum Holders {
    One(TxnId),
    Many(Vec<TxnId>),
}

impl Holders {
    fn add(&mut self, txn: TxnId) {
        match self {
            Holders::One(first) => *self = Holders::Many(vec![*first, txn]),
            Holders::Many(holders) => holders.push(txn),
        }
    }

    /// Removes `txn`; says whether nobody is left.
    fn remove(&mut self, txn: TxnId) -> bool {
        match self {
            Holders::One(holder) => *holder == txn,
            Holders::Many(holders) => {
                holders.retain(|holder| *holder != txn);
                holders.is_empty()
            }
        }
    }

    fn extend_into(&self, readers: &mut Vec<TxnId>) {
        match self {
            Holders::One(holder) => readers.push(*holder),
            Holders::Many(holders) => readers.extend_from_slice(holders),
        }
    }
}

/// One shard of the point locks.
#[derive(Default)]
struct PointShard {
    locks: FastMap<Fingerprint, Holders>,
    /// Holders in `locks`, summed.
    entries: usize,
}

/// The shared table of read locks.
pub struct ReadLocks {
    points: Vec<Mutex<PointShard>>,
    ranges: RwLock<HashMap<TreeId, Vec<(KeyRange, TxnId)>>>,
    /// Range and whole-tree locks held: a writer skips the range table
    /// (and its shared lock's cache line) while there are none.
    range_entries: AtomicUsize,
    /// Times a transaction's locks in a tree were coarsened to the whole
    /// tree for lack of room (not counting scans of a whole tree, whose
    /// lock is the whole tree from the start).
    coarsenings: AtomicU64,
}

/// What the read-lock table holds now, and how often it coarsened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadLockCounts {
    /// Point, range and whole-tree locks held.
    pub locks: usize,
    /// Of those, range and whole-tree locks.
    pub range_locks: usize,
    /// Coarsenings since the database opened.
    pub coarsenings: u64,
}

/// The locks one transaction holds (invariant 3).
#[derive(Debug, Default)]
pub struct HeldLocks {
    points: FastMap<TreeId, FastSet<Fingerprint>>,
    ranges: FastMap<TreeId, Vec<KeyRange>>,
    whole: FastSet<TreeId>,
}

impl HeldLocks {
    /// Whether a read of `key` (named `point`) in `tree` is already covered.
    fn covers(&self, tree: TreeId, key: &[u8], point: Fingerprint) -> bool {
        self.whole.contains(&tree)
            || self
                .points
                .get(&tree)
                .is_some_and(|points| points.contains(&point))
            || self
                .ranges
                .get(&tree)
                .is_some_and(|ranges| ranges.iter().any(|range| range.contains(key)))
    }

    /// How many table entries these locks are.
    pub fn len(&self) -> usize {
        self.whole.len()
            + self.ranges.values().map(Vec::len).sum::<usize>()
            + self.points.values().map(FastSet::len).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether `range` is exactly one key.
fn single_key(range: &KeyRange) -> Option<&[u8]> {
    match (&range.start, &range.end) {
        (Bound::Included(start), Bound::Included(end)) if start == end => Some(start),
        _ => None,
    }
}

/// Whether every key of `inner` lies in `outer`.
fn within(inner: &KeyRange, outer: &KeyRange) -> bool {
    let start_ok = match (&outer.start, &inner.start) {
        (Bound::Unbounded, _) => true,
        (_, Bound::Unbounded) => false,
        (Bound::Included(o), Bound::Included(i) | Bound::Excluded(i)) => o <= i,
        (Bound::Excluded(o), Bound::Excluded(i)) => o <= i,
        (Bound::Excluded(o), Bound::Included(i)) => o < i,
    };
    let end_ok = match (&outer.end, &inner.end) {
        (Bound::Unbounded, _) => true,
        (_, Bound::Unbounded) => false,
        (Bound::Included(o), Bound::Included(i) | Bound::Excluded(i)) => o >= i,
        (Bound::Excluded(o), Bound::Excluded(i)) => o >= i,
        (Bound::Excluded(o), Bound::Included(i)) => o > i,
    };
    start_ok && end_ok
}

impl Default for ReadLocks {
    fn default() -> Self {
        ReadLocks {
            points: (0..SHARDS)
                .map(|_| Mutex::new(PointShard::default()))
                .collect(),
            ranges: RwLock::new(HashMap::new()),
            range_entries: AtomicUsize::new(0),
            coarsenings: AtomicU64::new(0),
        }
    }
}

impl ReadLocks {
    /// The locks held now and the coarsenings so far.
    pub fn counts(&self) -> ReadLockCounts {
        ReadLockCounts {
            locks: self.len(),
            range_locks: self.range_entries.load(Ordering::Relaxed),
            coarsenings: self.coarsenings.load(Ordering::Relaxed),
        }
    }

    /// Records that `txn` read `key` of `tree` (whether or not it existed).
    pub fn read_point(&self, txn: TxnId, held: &mut HeldLocks, tree: TreeId, key: &[u8]) {
        let point = fingerprint(tree, key);
        if held.covers(tree, key, point) {
            return;
        }
        let count = held.points.get(&tree).map_or(0, FastSet::len);
        if count < POINTS_PER_TREE {
            let mut shard = self.points[shard_of(point)].lock();
            if shard.entries < TABLE_CAPACITY / SHARDS {
                shard
                    .locks
                    .entry(point)
                    .and_modify(|holders| holders.add(txn))
                    .or_insert(Holders::One(txn));
                shard.entries += 1;
                drop(shard);
                held.points.entry(tree).or_default().insert(point);
                return;
            }
        }
        self.coarsenings.fetch_add(1, Ordering::Relaxed);
        self.lock_whole_tree(txn, held, tree);
    }

    /// Records that `txn` read every key of `range` in `tree`, including
    /// keys that do not exist (yet).
    pub fn read_range(&self, txn: TxnId, held: &mut HeldLocks, tree: TreeId, range: &KeyRange) {
        if let Some(key) = single_key(range) {
            return self.read_point(txn, held, tree, key);
        }
        let covered = held
            .ranges
            .get(&tree)
            .is_some_and(|ranges| ranges.iter().any(|outer| within(range, outer)));
        if held.whole.contains(&tree) || range.is_empty() || covered {
            return;
        }
        let everything = matches!(
            (&range.start, &range.end),
            (Bound::Unbounded, Bound::Unbounded)
        );
        let count = held.ranges.get(&tree).map_or(0, Vec::len);
        if everything
            || count >= RANGES_PER_TREE
            || self.range_entries.load(Ordering::Relaxed) >= TABLE_CAPACITY
        {
            if !everything {
                self.coarsenings.fetch_add(1, Ordering::Relaxed);
            }
            self.lock_whole_tree(txn, held, tree);
            return;
        }
        self.ranges
            .write()
            .entry(tree)
            .or_default()
            .push((range.clone(), txn));
        self.range_entries.fetch_add(1, Ordering::SeqCst);
        held.ranges.entry(tree).or_default().push(range.clone());
    }

    /// Replaces `txn`'s locks in `tree` by one lock on the whole tree
    /// (invariant 2: the coarse lock goes in first).
    fn lock_whole_tree(&self, txn: TxnId, held: &mut HeldLocks, tree: TreeId) {
        self.ranges
            .write()
            .entry(tree)
            .or_default()
            .push((KeyRange::all(), txn));
        self.range_entries.fetch_add(1, Ordering::SeqCst);
        held.whole.insert(tree);
        let fine = HeldLocks {
            points: held
                .points
                .remove(&tree)
                .into_iter()
                .map(|p| (tree, p))
                .collect(),
            ranges: held
                .ranges
                .remove(&tree)
                .into_iter()
                .map(|r| (tree, r))
                .collect(),
            whole: FastSet::default(),
        };
        self.release(txn, fine);
    }

    /// The transactions holding a lock that covers `key` of `tree`, each
    /// once, in no particular order.
    pub fn readers(&self, tree: TreeId, key: &[u8]) -> Vec<TxnId> {
        let point = fingerprint(tree, key);
        let mut readers = Vec::new();
        if let Some(holders) = self.points[shard_of(point)].lock().locks.get(&point) {
            holders.extend_into(&mut readers);
        }
        // Ordering: a reader adds its range (SeqCst) before it scans, and
        // the writer inserted its version before this load, so a range
        // lock that matters is counted here (invariant 1).
        if self.range_entries.load(Ordering::SeqCst) > 0
            && let Some(ranges) = self.ranges.read().get(&tree)
        {
            readers.extend(
                ranges
                    .iter()
                    .filter(|(range, _)| range.contains(key))
                    .map(|(_, txn)| *txn),
            );
        }
        readers.sort_unstable();
        readers.dedup();
        readers
    }

    /// Removes every lock listed in `held` (invariant 3).
    pub fn release(&self, txn: TxnId, held: HeldLocks) {
        for point in held.points.into_values().flatten() {
            let mut shard = self.points[shard_of(point)].lock();
            let emptied = match shard.locks.get_mut(&point) {
                Some(holders) => holders.remove(txn),
                None => continue,
            };
            if emptied {
                shard.locks.remove(&point);
            }
            shard.entries -= 1;
        }
        let trees: HashSet<TreeId> = held
            .ranges
            .keys()
            .chain(held.whole.iter())
            .copied()
            .collect();
        if !trees.is_empty() {
            let mut ranges = self.ranges.write();
            for tree in trees {
                let Some(locks) = ranges.get_mut(&tree) else {
                    continue;
                };
                let before = locks.len();
                let whole = held.whole.contains(&tree);
                let fine = held.ranges.get(&tree);
                locks.retain(|(range, holder)| {
                    *holder != txn
                        || !(whole && *range == KeyRange::all()
                            || fine.is_some_and(|fine| fine.contains(range)))
                });
                self.range_entries
                    .fetch_sub(before - locks.len(), Ordering::SeqCst);
                if locks.is_empty() {
                    ranges.remove(&tree);
                }
            }
        }
    }

    /// Entries in the table (point and range locks). Locks every shard in
    /// turn: for statistics and tests, not for hot paths.
    pub fn len(&self) -> usize {
        let points: usize = self.points.iter().map(|shard| shard.lock().entries).sum();
        points + self.range_entries.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(start: &[u8], end: &[u8]) -> KeyRange {
        KeyRange {
            start: Bound::Included(start.to_vec()),
            end: Bound::Excluded(end.to_vec()),
        }
    }

    #[test]
    fn points_and_ranges_find_their_readers_including_empty_ranges() {
        let locks = ReadLocks::default();
        let (mut a, mut b) = (HeldLocks::default(), HeldLocks::default());
        locks.read_point(1, &mut a, 7, b"k");
        locks.read_point(1, &mut a, 7, b"k");
        locks.read_range(2, &mut b, 7, &range(b"a", b"m"));
        locks.read_range(2, &mut b, 7, &range(b"b", b"c"));
        assert_eq!(locks.readers(7, b"k"), vec![1, 2]);
        // A key nobody has written yet is still covered by the range.
        assert_eq!(locks.readers(7, b"f"), vec![2]);
        assert_eq!(locks.readers(7, b"z"), Vec::<TxnId>::new());
        assert_eq!(locks.readers(8, b"k"), Vec::<TxnId>::new());
        // The second point read and the covered range added nothing.
        assert_eq!(locks.len(), 2);
        locks.release(2, b);
        assert_eq!(locks.readers(7, b"f"), Vec::<TxnId>::new());
        assert_eq!(locks.readers(7, b"k"), vec![1]);
        locks.release(1, a);
        assert!(locks.is_empty());
    }

    #[test]
    fn readers_of_one_key_share_its_lock_until_each_releases() {
        let locks = ReadLocks::default();
        let mut held: Vec<HeldLocks> = (0..3).map(|_| HeldLocks::default()).collect();
        for (txn, held) in held.iter_mut().enumerate() {
            locks.read_point(txn as TxnId + 1, held, 7, b"shared");
        }
        locks.read_point(1, &mut held[0], 7, b"own");
        assert_eq!(locks.readers(7, b"shared"), vec![1, 2, 3]);
        assert_eq!(locks.len(), 4);
        let mut held = held.into_iter();
        locks.release(1, held.next().expect("three"));
        assert_eq!(locks.readers(7, b"shared"), vec![2, 3]);
        assert_eq!(locks.readers(7, b"own"), Vec::<TxnId>::new());
        locks.release(3, held.nth(1).expect("three"));
        assert_eq!(locks.readers(7, b"shared"), vec![2]);
        // The same key in another tree is another lock.
        assert_eq!(locks.readers(8, b"shared"), Vec::<TxnId>::new());
        assert_eq!(locks.len(), 1);
    }

    #[test]
    fn many_point_reads_coarsen_to_the_whole_tree() {
        let locks = ReadLocks::default();
        let mut held = HeldLocks::default();
        for index in 0..POINTS_PER_TREE as u32 + 10 {
            locks.read_point(3, &mut held, 7, &index.to_be_bytes());
        }
        // One whole-tree lock plus the reads after it (covered, not added).
        assert_eq!(locks.len(), 1);
        assert_eq!(held.len(), 1);
        assert_eq!(locks.readers(7, b"never read"), vec![3]);
        assert_eq!(locks.readers(8, b"never read"), Vec::<TxnId>::new());
        for index in 0..RANGES_PER_TREE as u32 + 1 {
            let start = (index * 2).to_be_bytes();
            let end = (index * 2 + 1).to_be_bytes();
            locks.read_range(3, &mut held, 9, &range(&start, &end));
        }
        assert_eq!(locks.len(), 2);
        locks.release(3, held);
        assert!(locks.is_empty());
    }

    #[test]
    fn a_full_scan_locks_the_tree_and_a_single_key_range_is_a_point() {
        let locks = ReadLocks::default();
        let mut held = HeldLocks::default();
        let key = KeyRange {
            start: Bound::Included(b"k".to_vec()),
            end: Bound::Included(b"k".to_vec()),
        };
        locks.read_range(4, &mut held, 7, &key);
        assert_eq!(locks.readers(7, b"k"), vec![4]);
        assert_eq!(locks.readers(7, b"l"), Vec::<TxnId>::new());
        locks.read_range(4, &mut held, 7, &KeyRange::all());
        assert_eq!(locks.readers(7, b"l"), vec![4]);
        // The point lock was folded into the whole-tree lock.
        assert_eq!(locks.len(), 1);
        locks.release(4, held);
        assert!(locks.is_empty());
    }
}
