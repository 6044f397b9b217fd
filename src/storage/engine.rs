//! The `Engine` seam: an ordered map from byte keys to byte values, split into
//! many independent trees, with range scans in both directions.
//!
//! Two implementations: the page-based B+tree engine (`BTreeEngine`, the real
//! one) and an in-memory model over `std::collections::BTreeMap`
//! (`MemoryEngine`) that the property tests compare it against and that unit
//! tests of upper layers use.
//!
//! Scans are batch-based: an implementation only answers "give me up to `limit`
//! entries of this range in this direction" ([`Engine::scan_into`]), and the
//! generic [`Cursor`] narrows the range past the last key it returned and
//! asks again. A batch is packed into one [`EntryBatch`] buffer that the
//! cursor reuses from fetch to fetch, so a long scan allocates nothing per
//! entry; [`Engine::scan_batch`] and the [`Scan`] iterator hand out owned
//! entries for callers that keep them. No latch is held between batches, so a long scan never blocks
//! writers; each batch is internally consistent, and MVCC above provides the
//! snapshot consistency across batches.
//!
//! Invariants every implementation keeps:
//! 1. Keys within a tree are unique and ordered bytewise (`memcmp` order).
//! 2. `scan_into` returns entries strictly inside the range, in the requested
//!    direction, at most `limit` of them, and fewer than `limit` only at the
//!    end of the range.
//! 3. A tree exists from `create_tree` until `drop_tree`; operations on a
//!    missing tree fail with an internal error rather than creating it.

use std::ops::Bound;
use std::sync::Arc;

use crate::error::Result;

/// Identifies one tree inside an engine. The caller allocates ids.
pub type TreeId = u64;

/// Scan direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Backward,
}

/// A range of keys: a start and an end bound, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRange {
    pub start: Bound<Vec<u8>>,
    pub end: Bound<Vec<u8>>,
}

impl KeyRange {
    /// Every key.
    pub fn all() -> KeyRange {
        KeyRange {
            start: Bound::Unbounded,
            end: Bound::Unbounded,
        }
    }

    /// Keys starting with `prefix`.
    pub fn prefix(prefix: &[u8]) -> KeyRange {
        KeyRange {
            start: Bound::Included(prefix.to_vec()),
            end: prefix_successor(prefix).map_or(Bound::Unbounded, Bound::Excluded),
        }
    }

    /// Whether `key` lies inside the range.
    pub fn contains(&self, key: &[u8]) -> bool {
        let after_start = match &self.start {
            Bound::Included(s) => key >= s.as_slice(),
            Bound::Excluded(s) => key > s.as_slice(),
            Bound::Unbounded => true,
        };
        let before_end = match &self.end {
            Bound::Included(e) => key <= e.as_slice(),
            Bound::Excluded(e) => key < e.as_slice(),
            Bound::Unbounded => true,
        };
        after_start && before_end
    }

    /// Narrows the range to the keys after `last` in scan `direction`, so
    /// a batched scan resumes where its previous batch ended.
    pub fn narrow_past(&mut self, last: &[u8], direction: Direction) {
        match direction {
            Direction::Forward => self.start = Bound::Excluded(last.to_vec()),
            Direction::Backward => self.end = Bound::Excluded(last.to_vec()),
        }
    }

    /// Whether the range can contain no key at all.
    pub fn is_empty(&self) -> bool {
        match (&self.start, &self.end) {
            (Bound::Included(s), Bound::Included(e)) => s > e,
            (Bound::Included(s), Bound::Excluded(e))
            | (Bound::Excluded(s), Bound::Included(e))
            | (Bound::Excluded(s), Bound::Excluded(e)) => s >= e,
            _ => false,
        }
    }
}

/// The smallest byte string greater than every string starting with
/// `prefix`: its last byte that is not `FF` raised by one, the rest cut
/// (`None`: there is none, every byte is `FF`).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last < 0xFF {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

/// One key–value entry.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Entries packed into one buffer: each key followed by its value, and
/// where each ends. Cleared and refilled by every fetch, so its buffers are
/// allocated once per scan, not once per entry.
#[derive(Debug, Default)]
pub struct EntryBatch {
    bytes: Vec<u8>,
    /// Per entry: where its key ends and where its value ends in `bytes`
    /// (its key starts where the previous value ends).
    ends: Vec<(usize, usize)>,
}

impl EntryBatch {
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Appends an entry.
    pub fn push(&mut self, key: &[u8], value: &[u8]) {
        self.bytes.extend_from_slice(key);
        let key_end = self.bytes.len();
        self.bytes.extend_from_slice(value);
        self.ends.push((key_end, self.bytes.len()));
    }

    /// Appends an entry whose value `write` appends to the buffer it is
    /// given (a value read from overflow pages, without an extra copy).
    pub fn push_with(
        &mut self,
        key: &[u8],
        write: impl FnOnce(&mut Vec<u8>) -> Result<()>,
    ) -> Result<()> {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(key);
        let key_end = self.bytes.len();
        if let Err(error) = write(&mut self.bytes) {
            self.bytes.truncate(start);
            return Err(error);
        }
        self.ends.push((key_end, self.bytes.len()));
        Ok(())
    }

    /// Entry `index` as (key, value).
    pub fn get(&self, index: usize) -> (&[u8], &[u8]) {
        let start = match index {
            0 => 0,
            _ => self.ends[index - 1].1,
        };
        let (key_end, value_end) = self.ends[index];
        (&self.bytes[start..key_end], &self.bytes[key_end..value_end])
    }

    /// The key of the last entry.
    pub fn last_key(&self) -> Option<&[u8]> {
        self.len().checked_sub(1).map(|last| self.get(last).0)
    }
}

/// Up to `wanted` of `items`, evenly spaced: the picks for
/// [`Engine::split_keys`].
pub fn even_picks<T: Copy>(items: &[T], wanted: usize) -> Vec<T> {
    let wanted = wanted.min(items.len());
    (1..=wanted)
        .map(|part| items[part * items.len() / (wanted + 1)])
        .collect()
}

/// State that a layer above keeps in memory and logs as logical records
/// ([`Engine::append_logical`]) instead of page changes — the commit log.
/// The engine calls it at every checkpoint, after fixing the new redo point
/// and before anything else, to store that state in trees: a logical record
/// below the redo point is then covered by pages the checkpoint writes, and
/// recovery need not replay it.
pub trait CheckpointHook: Send + Sync {
    /// Hands `sink` every `(tree, key, value)` changed since the last call;
    /// `sink` stores it. It must include every change whose logical record
    /// was appended before this call. `Ok(false)`: not ready (still loading
    /// after recovery), and the checkpoint is skipped.
    fn persist(&self, sink: &mut StoreEntry<'_>) -> Result<bool>;
}

/// Where a [`CheckpointHook`] hands its entries: stores `(tree, key, value)`.
pub type StoreEntry<'a> = dyn FnMut(TreeId, &[u8], &[u8]) -> Result<()> + 'a;

/// An ordered byte-key map of many trees. Thread-safe; every method may be
/// called concurrently from many threads.
pub trait Engine: Send + Sync {
    /// Creates an empty tree with the given id; fails if it exists.
    fn create_tree(&self, tree: TreeId) -> Result<()>;
    /// Drops a tree and frees its pages; fails if it does not exist.
    fn drop_tree(&self, tree: TreeId) -> Result<()>;
    /// Whether a tree with this id exists.
    fn tree_exists(&self, tree: TreeId) -> Result<bool>;
    /// The value stored under `key`, if any.
    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Stores `value` under `key`, replacing any previous value.
    fn insert(&self, tree: TreeId, key: &[u8], value: &[u8]) -> Result<()>;
    /// Removes `key`; returns whether it was present.
    fn delete(&self, tree: TreeId, key: &[u8]) -> Result<bool>;
    /// Replaces `out`'s entries with up to `limit` entries inside `range`,
    /// in `direction` order (invariant 2).
    fn scan_into(
        &self,
        tree: TreeId,
        range: &KeyRange,
        direction: Direction,
        limit: usize,
        out: &mut EntryBatch,
    ) -> Result<()>;
    /// Up to `parts - 1` keys inside `range`, ascending, that split it into
    /// parts of roughly equal size, for parallel scans of the parts; fewer
    /// (none) when the range is small. Approximate and unsynchronized with
    /// writers: any keys in the range would be correct, only the balance
    /// of the parts depends on them.
    fn split_keys(&self, tree: TreeId, range: &KeyRange, parts: usize) -> Result<Vec<Vec<u8>>>;
    /// [`Engine::scan_into`] as owned entries.
    fn scan_batch(
        &self,
        tree: TreeId,
        range: &KeyRange,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<Entry>> {
        let mut batch = EntryBatch::default();
        self.scan_into(tree, range, direction, limit, &mut batch)?;
        Ok((0..batch.len())
            .map(|index| {
                let (key, value) = batch.get(index);
                (key.to_vec(), value.to_vec())
            })
            .collect())
    }
    /// Checkpoints: writes every dirty page and syncs, so that recovery after
    /// a crash starts from here. (Durability itself comes from the log, see
    /// [`Engine::wait_durable`].)
    fn flush(&self) -> Result<()>;
    /// The current end of the log: every change made so far lies below it.
    fn log_position(&self) -> u64;
    /// Returns once every change logged below `position` is durable (one
    /// shared fsync for concurrent callers: group commit).
    fn wait_durable(&self, position: u64) -> Result<()>;
    /// Why the engine can no longer guarantee durability (a failed write or
    /// fsync), if it cannot: the server must then stop, and recovery start
    /// from what is on disk.
    fn fatal_error(&self) -> Option<String>;
    /// Appends a logical record for the layer above (which must have set a
    /// [`CheckpointHook`] that stores what the record describes) and
    /// returns the log position after it: [`Engine::wait_durable`] of that
    /// makes it durable.
    fn append_logical(&self, payload: &[u8]) -> Result<u64>;
    /// Sets the hook that stores the logical state at checkpoints. A hook
    /// it replaces is persisted first.
    fn set_checkpoint_hook(&self, hook: Arc<dyn CheckpointHook>) -> Result<()>;
    /// The logical records recovery found after the last checkpoint, in log
    /// order, once: the layer above applies them to its state (and its hook
    /// then stores them). Until a hook is set, checkpoints are deferred so
    /// that they stay in the log.
    fn take_recovered_logical(&self) -> Vec<Vec<u8>>;
}

/// How many entries a [`Scan`] fetches per batch.
pub const SCAN_BATCH: usize = 256;

/// A position in a key range of one tree that fetches entries in batches,
/// starting small (point-ish scans) and doubling up to [`SCAN_BATCH`] to
/// amortise descents on long ones. It holds no engine, so owners of an
/// engine handle ([`Scan`], the MVCC scan) can share it. Entries are lent
/// out of the cursor's batch buffer, valid until the next call.
pub struct Cursor {
    tree: TreeId,
    range: KeyRange,
    direction: Direction,
    entries: EntryBatch,
    /// The next entry of `entries` to return.
    position: usize,
    exhausted: bool,
    batch: usize,
}

impl Cursor {
    pub fn new(tree: TreeId, range: KeyRange, direction: Direction, first_batch: usize) -> Self {
        Cursor {
            tree,
            range,
            direction,
            entries: EntryBatch::default(),
            position: 0,
            exhausted: false,
            batch: first_batch,
        }
    }

    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// How many fetched entries `next` will return before it fetches again.
    pub fn buffered(&self) -> usize {
        self.entries.len() - self.position
    }

    /// The next entry, fetching a batch from `engine` when needed. After an
    /// error the cursor is stopped.
    pub fn next(&mut self, engine: &dyn Engine) -> Result<Option<(&[u8], &[u8])>> {
        if self.position == self.entries.len() {
            if self.exhausted {
                return Ok(None);
            }
            self.fetch(engine)?;
            if self.entries.is_empty() {
                return Ok(None);
            }
        }
        self.position += 1;
        Ok(Some(self.entries.get(self.position - 1)))
    }

    /// Steps back over the entry `next` just returned, so that the next
    /// call returns it again (a reader that looked one entry ahead).
    pub fn unread(&mut self) {
        debug_assert!(self.position > 0, "unread without an entry read");
        self.position = self.position.saturating_sub(1);
    }

    fn fetch(&mut self, engine: &dyn Engine) -> Result<()> {
        self.position = 0;
        if let Err(error) = engine.scan_into(
            self.tree,
            &self.range,
            self.direction,
            self.batch,
            &mut self.entries,
        ) {
            self.stop();
            return Err(error);
        }
        if self.entries.len() < self.batch {
            self.exhausted = true;
        }
        if let Some(last) = self.entries.last_key() {
            self.range.narrow_past(last, self.direction);
        }
        self.batch = (self.batch * 2).min(SCAN_BATCH);
        Ok(())
    }

    /// Ends the scan: `next` returns nothing more.
    pub fn stop(&mut self) {
        self.exhausted = true;
        self.entries.clear();
        self.position = 0;
    }
}

/// An iterator over a key range of one tree, fetching in batches.
pub struct Scan<'a> {
    engine: &'a dyn Engine,
    cursor: Cursor,
}

impl<'a> Scan<'a> {
    pub fn new(
        engine: &'a dyn Engine,
        tree: TreeId,
        range: KeyRange,
        direction: Direction,
    ) -> Self {
        Scan {
            engine,
            cursor: Cursor::new(tree, range, direction, 16),
        }
    }
}

impl Iterator for Scan<'_> {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Self::Item> {
        self.cursor
            .next(self.engine)
            .map(|entry| entry.map(|(key, value)| (key.to_vec(), value.to_vec())))
            .transpose()
    }
}

/// Scans a range of a tree of an engine.
pub fn scan(engine: &dyn Engine, tree: TreeId, range: KeyRange, direction: Direction) -> Scan<'_> {
    Scan::new(engine, tree, range, direction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_successor_skips_trailing_ff() {
        assert_eq!(prefix_successor(&[1, 2]), Some(vec![1, 3]));
        assert_eq!(prefix_successor(&[1, 0xFF, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_successor(&[0xFF]), None);
        let range = KeyRange::prefix(&[7, 0xFF]);
        assert!(range.contains(&[7, 0xFF, 0]) && !range.contains(&[8]));
    }

    #[test]
    fn even_picks_spread_over_the_items() {
        let items: Vec<u32> = (0..12).collect();
        assert_eq!(even_picks(&items, 3), vec![3, 6, 9]);
        assert_eq!(even_picks(&items, 1), vec![6]);
        assert_eq!(even_picks(&items, 0), Vec::<u32>::new());
        // Never more picks than items, each once.
        assert_eq!(even_picks(&[5u32, 9], 7), vec![5, 9]);
        assert_eq!(even_picks(&[] as &[u32], 2), Vec::<u32>::new());
    }
}
