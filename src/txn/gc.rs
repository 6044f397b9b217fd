//! Garbage collection: removing versions no snapshot can see any more.
//!
//! Every write adds a version, so a key updated a million times would keep
//! a million versions. A version is garbage once a newer version of its key
//! is visible to every snapshot that exists or can exist:
//!
//! ```text
//!   versions of k, by stamp:   v1      v2      v3 (base)   v4        v5
//!   writer:                    12      15      19          23        27
//!   status:                    commit  abort   commit      commit    running
//!                              ╰─── garbage ───╯           ╰── kept: some snapshot
//!                                                              may not see 23 end
//!   horizon = 21: every snapshot, now and later, sees every transaction
//!   below 21 end.
//! ```
//!
//! The *base* of a key is its newest version whose writer committed below
//! the horizon (`Mvcc::gc_horizon`: the oldest running transaction, or the
//! oldest transaction some live snapshot does not see end, whichever is
//! smaller; a snapshot is live while a transaction or an open scan holds
//! it, invariant 6). Every snapshot sees the base or something newer, so
//! versions older than the base are never read again; a base that is a
//! deletion is itself garbage once nothing older remains. Versions of
//! aborted transactions, and of transactions that were running when the
//! process stopped, are garbage at once (once they left the active set,
//! invariant 7).
//!
//! Invariants:
//! 1. Only versions older than a base, bases that are deletions, and
//!    versions of transactions that never committed are removed. A live
//!    base stays, and every snapshot sees it, so a reader that met a removed
//!    version still meets the base or something newer: removing versions
//!    older than a live base, or versions no snapshot can see, never
//!    changes what a read or a write check decides, in whatever order it
//!    reads a key's versions, and GC needs no lock against readers.
//! 2. The horizon only grows: a new snapshot's oldest unseen id is at least
//!    the oldest running id, new ids are above every old one, and a
//!    snapshot once dead stays dead.
//! 3. Each key's versions are re-read and removed under the key's lock
//!    stripe, so a writer deciding on the same key sees either all of them
//!    or the collected state, never a half-removed group. They are removed
//!    oldest first, so every prefix of the removals (what a crash may keep)
//!    reads the same: a deletion base goes only after what it hides.
//! 4. A sweep of every versioned tree with horizon `h` leaves no version
//!    whose writer is below `h` except bases, which are committed: every
//!    other such version is older than its key's base, or its writer
//!    aborted or died, and all of those are removed. No transaction below
//!    `h` can write again. So afterwards the commit log may answer
//!    "committed" for every id below `h` and forget their statuses
//!    (`CommitLog::truncate_below`): the data file and the memory stay
//!    bounded however many transactions run. This is what freezing does in
//!    PostgreSQL, without rewriting the surviving versions.
//! 5. Removing a deletion base does change what a reader decides if that
//!    reader already holds a version the deletion hid: a forward scan meets
//!    a key's versions oldest first, so it may read the deleted row, then
//!    (its batch ended there) find neither it nor the deletion any more and
//!    return the row. Readers that meet versions newest first (point reads,
//!    backward scans, write checks) are safe: they meet the deletion before
//!    what it hides, and once it is gone, so is everything older. So every
//!    removal of a deletion base with the versions it hides is bracketed by
//!    `Removals`, and a forward scan decides a key afresh, newest first,
//!    when such a removal may have overlapped its reading of the key's
//!    versions (`scan.rs`). (The corpus found it: a SELECT after a DELETE
//!    in the same session returned a deleted row now and then.)
//! 6. The horizon never passes a snapshot that is still read with: it is
//!    at most the `xmin` of every live `PinnedSnapshot` (mvcc invariant 6),
//!    not only of each transaction's newest one. A scan keeps the snapshot
//!    it was opened with after its transaction took a newer one (the next
//!    READ COMMITTED statement, a read refresh) or ended, as a portal's
//!    cursor does; counting the newest only let the horizon pass the
//!    scan's snapshot and take versions it still had to read, so rows
//!    updated or deleted meanwhile went missing from the rest of the scan.
//!    Readers pay nothing per row for this: a scan clones an `Arc`, and
//!    the horizon's computation skips snapshots whose last clone is gone.
//! 7. While a transaction is in the active set, only it removes its
//!    versions, whatever its status says. A rollback marks the transaction
//!    aborted, then deletes its versions by stamp, then leaves the active
//!    set; once a version is gone its stamp is free (the key's next writer
//!    stamps newest + 1), so had the collector taken a version in between,
//!    another writer's version could take its stamp, and the rollback
//!    would delete that one, a committed write. So `final_status` answers
//!    `None` while a transaction is in the active set. Nor is a running
//!    transaction's version ever older than a base: a version written over
//!    it was written after it aborted (until then writers wait for it), by
//!    a writer that had not ended when the transaction took its snapshot,
//!    so at or above that snapshot's `xmin`, which the transaction holds
//!    (invariant 6): at or above the horizon, no base.
//!
//! Collection is incremental: [`Mvcc::collect_garbage`] handles a bounded
//! number of keys per call and returns where to resume. A background thread
//! sweeps every table after enough writes (`Mvcc::start_collector`), and SQL
//! `VACUUM` sweeps at once. Writers also prune as they go, like
//! PostgreSQL's page pruning: a write whose first-updater-wins check stops
//! at a version below the horizon removes the older versions of that key
//! under the same stripe, so a hot key keeps a handful of versions however
//! often the sweeps come. Writers use a cached horizon, refreshed by every
//! computation of it (the collector does so each poll); a stale one only
//! prunes less.

use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::commit_log::{STATUS_ABORTED, STATUS_COMMITTED, STATUS_UNKNOWN};
use super::mvcc::{FIRST_ALLOCATED_TREE, Mvcc, TxnId, decode_key, split_version, version_writer};
use crate::error::Result;
use crate::storage::{Direction, KeyRange, TreeId};

/// Keys examined per call of `collect_garbage` by the background thread.
pub const KEYS_PER_STEP: usize = 256;
/// Writes since the last sweep that start the next background sweep.
pub const WRITES_PER_SWEEP: u64 = 4096;
/// How often the background thread looks at the write count.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// The catalog's tree (the SQL layer's system tree of table definitions).
const CATALOG_TREE: TreeId = 2;

/// Brackets the removals of deletion bases (invariant 5), so that a reader
/// can tell whether one may have run while it read: two counters, of
/// removals started and of removals finished, each only growing.
#[derive(Default)]
pub(super) struct Removals {
    started: AtomicU64,
    finished: AtomicU64,
}

/// What [`Removals::mark`] saw: how many removals had finished and started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct RemovalMark {
    finished: u64,
    started: u64,
}

impl Removals {
    /// The counters now: `finished` first, then `started`.
    pub(super) fn mark(&self) -> RemovalMark {
        let finished = self.finished.load(Ordering::SeqCst);
        let started = self.started.load(Ordering::SeqCst);
        RemovalMark { finished, started }
    }

    /// Whether no removal ran at any moment between the mark `earlier` and
    /// the mark `later` (taken after it). A removal counts as started before
    /// it deletes anything and as finished after, so `finished <= started`
    /// at all times; `earlier` read `finished` then `started`, so equal
    /// values there mean none was running at that moment, and an equal
    /// `started` in `later` means none started since.
    pub(super) fn quiet_between(earlier: RemovalMark, later: RemovalMark) -> bool {
        earlier.finished == earlier.started && later.started == earlier.started
    }

    /// Counts a removal as started until the guard is dropped (also when
    /// the removal fails part-way).
    fn start(&self) -> RemovalGuard<'_> {
        self.started.fetch_add(1, Ordering::SeqCst);
        RemovalGuard(self)
    }
}

struct RemovalGuard<'a>(&'a Removals);

impl Drop for RemovalGuard<'_> {
    fn drop(&mut self) {
        self.0.finished.fetch_add(1, Ordering::SeqCst);
    }
}

/// What a collection removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GcStats {
    /// Keys examined.
    pub keys: u64,
    /// Versions removed.
    pub removed: u64,
}

/// Where an incremental collection of one tree stands.
pub struct GcProgress {
    pub stats: GcStats,
    /// The encoded key to resume after, or `None` when the tree is done.
    pub resume: Option<Vec<u8>>,
}

impl Mvcc {
    /// Collects garbage in up to `keys` keys of `tree`, starting after the
    /// encoded key `after` (from the start if `None`).
    pub fn collect_garbage(
        &self,
        tree: TreeId,
        after: Option<&[u8]>,
        keys: usize,
    ) -> Result<GcProgress> {
        let horizon = self.gc_horizon();
        let mut stats = GcStats::default();
        let mut range = KeyRange {
            start: after.map_or(Bound::Unbounded, |key| {
                let mut past = key.to_vec();
                past.extend_from_slice(&TxnId::MAX.to_be_bytes());
                Bound::Excluded(past)
            }),
            end: Bound::Unbounded,
        };
        let mut last: Option<Vec<u8>> = None;
        while (stats.keys as usize) < keys {
            let batch = self
                .engine()
                .scan_batch(tree, &range, Direction::Forward, 64)?;
            let Some((final_key, _)) = batch.last() else {
                return Ok(GcProgress {
                    stats,
                    resume: None,
                });
            };
            let mut final_key = final_key.clone();
            for (engine_key, _) in &batch {
                let (encoded, _) = split_version(engine_key)?;
                if last.as_deref() == Some(encoded) {
                    continue;
                }
                stats.removed += self.collect_key(tree, encoded, horizon)?;
                stats.keys += 1;
                last = Some(encoded.to_vec());
                if stats.keys as usize >= keys {
                    break;
                }
            }
            if let Some(encoded) = &last {
                // Resume past every version of the last key examined.
                final_key = encoded.clone();
                final_key.extend_from_slice(&TxnId::MAX.to_be_bytes());
            }
            range.start = Bound::Excluded(final_key);
        }
        Ok(GcProgress {
            stats,
            resume: last,
        })
    }

    /// Removes the garbage versions of one key (invariants 1 and 3).
    fn collect_key(&self, tree: TreeId, encoded: &[u8], horizon: TxnId) -> Result<u64> {
        let user_key = decode_key(encoded)?;
        let _guard = self.stripe(tree, &user_key).lock();
        let mut range = KeyRange {
            start: Bound::Included(super::mvcc::versioned(encoded, 0)),
            end: Bound::Included(super::mvcc::versioned(encoded, TxnId::MAX)),
        };
        // Versions newest first, as `(engine key, writer, live)`.
        let mut versions = Vec::new();
        loop {
            let batch = self
                .engine()
                .scan_batch(tree, &range, Direction::Backward, 64)?;
            let full = batch.len() == 64;
            for (engine_key, value) in &batch {
                let live = value.first() == Some(&1);
                versions.push((engine_key.clone(), version_writer(value)?, live));
            }
            match batch.last() {
                Some((last, _)) if full => range.end = Bound::Excluded(last.clone()),
                _ => break,
            }
        }
        let mut garbage = Vec::new();
        let mut base_found = false;
        let mut deletion_base = false;
        for (engine_key, writer, live) in &versions {
            if base_found {
                garbage.push(engine_key);
                continue;
            }
            match self.final_status(*writer, horizon) {
                Some(STATUS_COMMITTED) if *writer < horizon => {
                    base_found = true;
                    // A deletion as base, with everything older gone, reads
                    // as no version at all, for every snapshot.
                    if !live {
                        garbage.push(engine_key);
                        deletion_base = true;
                    }
                }
                Some(STATUS_ABORTED) | Some(STATUS_UNKNOWN) => garbage.push(engine_key),
                _ => {}
            }
        }
        // A forward scan may hold a version this deletion hid (invariant 5):
        // it must be able to tell that the deletion went while it read.
        let _bracket = deletion_base.then(|| self.removals.start());
        // Oldest first: the versions older than a deletion base must be gone
        // before the base itself, or a crash between the two removals (each
        // its own WAL record, and the log survives as a prefix) would leave
        // an old version with nothing newer to hide it.
        let mut removed = 0;
        for engine_key in garbage.into_iter().rev() {
            if self.engine().delete(tree, engine_key)? {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// A transaction's status once it left the active set: committed,
    /// aborted, or unknown (it was running when the process stopped, or
    /// ended without writing). `None` while it is in the active set,
    /// whatever its status says: a rollback marks itself aborted before it
    /// deletes its versions, and those are its own to delete (invariant 7).
    /// `horizon` is the collection's: nothing below it is active.
    fn final_status(&self, txn: TxnId, horizon: TxnId) -> Option<u8> {
        // Below the horizon no lock is needed: the horizon is at most the
        // oldest active id, and an id never becomes active again.
        if txn >= horizon && self.is_active(txn) {
            return None;
        }
        // Statuses are set before a transaction leaves the active set, and
        // `is_active` took the lock `end_transaction` releases.
        Some(self.status(txn))
    }

    /// Collects the garbage of every versioned tree (SQL `VACUUM` without a
    /// table), then truncates the commit log below the horizon the sweep
    /// started with (invariant 4).
    pub fn vacuum_all(&self) -> Result<GcStats> {
        self.sweep_all(|| {})
    }

    /// A sweep of every versioned tree, calling `between_steps` between
    /// collection steps; then the commit-log truncation it allows.
    fn sweep_all(&self, mut between_steps: impl FnMut()) -> Result<GcStats> {
        // Before listing the trees: a tree created later is written only
        // by transactions at or above this horizon.
        let horizon = self.gc_horizon();
        let mut total = GcStats::default();
        for tree in self.versioned_trees()? {
            let stats = self.collect_tree(tree, &mut between_steps)?;
            total.keys += stats.keys;
            total.removed += stats.removed;
        }
        let chunks = self.truncate_commit_log(horizon)?;
        tracing::debug!(
            keys = total.keys,
            removed = total.removed,
            horizon,
            commit_log_chunks_deleted = chunks,
            "garbage collection sweep"
        );
        Ok(total)
    }

    /// Collects all garbage of `tree` (SQL `VACUUM table`).
    pub fn vacuum_tree(&self, tree: TreeId) -> Result<GcStats> {
        self.collect_tree(tree, || {})
    }

    /// Collects all garbage of `tree` in steps of [`KEYS_PER_STEP`] keys,
    /// calling `between_steps` after each but the last.
    fn collect_tree(&self, tree: TreeId, mut between_steps: impl FnMut()) -> Result<GcStats> {
        let mut total = GcStats::default();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let progress = self.collect_garbage(tree, after.as_deref(), KEYS_PER_STEP)?;
            total.keys += progress.stats.keys;
            total.removed += progress.stats.removed;
            match progress.resume {
                Some(resume) => after = Some(resume),
                None => return Ok(total),
            }
            between_steps();
        }
    }

    /// Truncates the commit log below `horizon`, which a completed sweep of
    /// every versioned tree started with (invariant 4).
    fn truncate_commit_log(&self, horizon: TxnId) -> Result<usize> {
        self.commit_log()
            .truncate_below(self.engine().as_ref(), horizon)
    }

    /// The trees that hold versions: every tree that exists except the
    /// meta tree.
    pub fn versioned_trees(&self) -> Result<Vec<TreeId>> {
        let mut trees = Vec::new();
        // Every tree but the meta tree: the reserved ids below the first
        // allocated one too, so no versions escape a sweep that truncates
        // the commit log (invariant 4).
        for tree in CATALOG_TREE..self.next_tree_id().max(FIRST_ALLOCATED_TREE) {
            if self.engine().tree_exists(tree)? {
                trees.push(tree);
            }
        }
        Ok(trees)
    }

    /// Starts the background collector: after every [`WRITES_PER_SWEEP`]
    /// committed writes it sweeps each tree in steps of [`KEYS_PER_STEP`]
    /// keys. It stops when the `Mvcc` is dropped.
    pub fn start_collector(self: &Arc<Self>) -> std::io::Result<()> {
        let weak = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("basalt-gc".into())
            .spawn(move || collector(weak))
            .map(drop)
    }
}

fn collector(mvcc: Weak<Mvcc>) {
    let mut swept_at = 0;
    loop {
        std::thread::sleep(POLL_INTERVAL);
        let Some(mvcc) = mvcc.upgrade() else {
            return;
        };
        // Writers prune with the cached horizon: keep it fresh.
        mvcc.gc_horizon();
        let writes = mvcc.writes_committed.load(Ordering::Relaxed);
        if writes < swept_at + WRITES_PER_SWEEP {
            continue;
        }
        swept_at = writes;
        if let Err(error) = sweep(&mvcc) {
            // A tree dropped during the sweep, or a storage error (which the
            // storage layer reports on its own path): try again next time.
            tracing::warn!(%error, "garbage collection sweep stopped");
        }
    }
}

fn sweep(mvcc: &Arc<Mvcc>) -> Result<()> {
    // Let foreground work run between steps.
    mvcc.sweep_all(std::thread::yield_now).map(drop)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::storage::{Direction, KeyRange, TreeId};
    use crate::txn::mvcc::tests::setup;
    use crate::txn::{IsolationLevel, Mvcc};

    const TREE: TreeId = 7;

    fn versions(mvcc: &Arc<Mvcc>) -> usize {
        crate::storage::scan(
            mvcc.engine().as_ref(),
            TREE,
            KeyRange::all(),
            Direction::Forward,
        )
        .count()
    }

    fn write(mvcc: &Arc<Mvcc>, key: &[u8], value: Option<&[u8]>) {
        let mut txn = mvcc.begin(IsolationLevel::RepeatableRead).expect("begin");
        txn.begin_statement();
        match value {
            Some(value) => txn.set(TREE, key, value).expect("set"),
            None => txn.delete(TREE, key).expect("delete"),
        }
        txn.commit().expect("commit");
    }

    fn read(mvcc: &Arc<Mvcc>, key: &[u8]) -> Option<Vec<u8>> {
        let mut txn = mvcc.begin(IsolationLevel::RepeatableRead).expect("begin");
        txn.begin_statement();
        let value = txn.get(TREE, key).expect("get");
        txn.commit().expect("commit");
        value
    }

    #[test]
    fn old_versions_go_and_the_newest_stays() {
        let mvcc = setup();
        for round in 0..10u8 {
            write(&mvcc, b"x", Some(&[round]));
            write(&mvcc, b"y", Some(&[round]));
        }
        // Each write already pruned what no snapshot needed (the write
        // check's pruning), so a few versions are left for the sweep.
        let before = versions(&mvcc) as u64;
        assert!((2..=20).contains(&before), "{before}");
        let stats = mvcc.vacuum_tree(TREE).expect("vacuum");
        assert_eq!((stats.keys, stats.removed), (2, before - 2));
        assert_eq!(versions(&mvcc), 2);
        assert_eq!(read(&mvcc, b"x"), Some(vec![9]));
        assert_eq!(read(&mvcc, b"y"), Some(vec![9]));
    }

    #[test]
    fn versions_a_running_snapshot_can_see_are_kept() {
        let mvcc = setup();
        write(&mvcc, b"x", Some(b"old"));
        let mut reader = mvcc.begin(IsolationLevel::RepeatableRead).expect("begin");
        reader.begin_statement();
        assert_eq!(reader.get(TREE, b"x").expect("get"), Some(b"old".to_vec()));
        write(&mvcc, b"x", Some(b"new"));
        write(&mvcc, b"x", Some(b"newer"));
        mvcc.vacuum_tree(TREE).expect("vacuum");
        // The reader's base is "old", so everything from it up stays. No
        // snapshot can read "new" either, but a horizon-based collector
        // (like PostgreSQL's) keeps all versions above the oldest base.
        assert_eq!(reader.get(TREE, b"x").expect("get"), Some(b"old".to_vec()));
        assert_eq!(
            versions(&mvcc),
            3,
            "no version is below every snapshot's base"
        );
        reader.commit().expect("commit");
        mvcc.vacuum_tree(TREE).expect("vacuum");
        assert_eq!(versions(&mvcc), 1);
        assert_eq!(read(&mvcc, b"x"), Some(b"newer".to_vec()));
    }

    #[test]
    fn deletions_and_uncommitted_versions_are_collected() {
        let mvcc = setup();
        write(&mvcc, b"gone", Some(b"1"));
        write(&mvcc, b"gone", None);
        // A running writer's version stays; once it rolls back it is gone
        // (rollback removes it itself; a crashed writer's would be
        // collected, as its status stays unknown).
        let mut running = mvcc.begin(IsolationLevel::RepeatableRead).expect("begin");
        running.begin_statement();
        running.set(TREE, b"pending", b"1").expect("set");
        mvcc.vacuum_tree(TREE).expect("vacuum");
        assert_eq!(versions(&mvcc), 1, "the deleted key left no version");
        assert_eq!(read(&mvcc, b"gone"), None);
        running.rollback().expect("rollback");
        assert_eq!(versions(&mvcc), 0);
    }

    /// The corpus bug (`index/delete`: a SELECT after a DELETE returned a
    /// deleted row now and then): a forward scan meets a key's versions
    /// oldest first, so it can hold the deleted row's version when the
    /// collector removes it together with the deletion that hid it. Here the
    /// scan's first batch (8 entries) ends exactly on the row of `h`, whose
    /// deletion is the first entry of the next batch; the collection runs in
    /// between, as the background collector could.
    #[test]
    fn a_forward_scan_does_not_resurrect_a_row_whose_deletion_is_collected_under_it() {
        let mvcc = setup();
        let mut txn = mvcc.begin(IsolationLevel::RepeatableRead).expect("begin");
        txn.begin_statement();
        for key in [b"a", b"b", b"c", b"d", b"e", b"f", b"g", b"h", b"i"] {
            txn.set(TREE, key, b"row").expect("insert");
        }
        txn.commit().expect("commit");
        write(&mvcc, b"h", None);
        assert_eq!(versions(&mvcc), 10, "h's row and its deletion");

        let mut reader = mvcc.begin(IsolationLevel::RepeatableRead).expect("begin");
        reader.begin_statement();
        let mut scan = reader.scan(TREE, KeyRange::all(), Direction::Forward);
        let first: Vec<Vec<u8>> = scan
            .by_ref()
            .take(7)
            .map(|entry| entry.expect("scan").0)
            .collect();
        assert_eq!(first.last().map(Vec::as_slice), Some(&b"g"[..]));
        // The deletion committed before the reader's snapshot: it is h's
        // base for every snapshot, and goes with the row it hides.
        let stats = mvcc.vacuum_tree(TREE).expect("vacuum");
        assert_eq!(stats.removed, 2);
        let rest: Vec<Vec<u8>> = scan.map(|entry| entry.expect("scan").0).collect();
        assert_eq!(
            rest,
            vec![b"i".to_vec()],
            "h was deleted before the snapshot"
        );
        reader.commit().expect("commit");
    }

    /// A rollback marks its transaction aborted, then deletes its versions
    /// by stamp, then leaves the active set. The collector ran in between
    /// and took the aborted version; the key's next writer then stamped its
    /// version with the freed stamp (newest + 1), and the rollback deleted
    /// that committed write. Here the rollback's first step is taken by
    /// hand, and the collector and the writer run where another thread's
    /// could (gc invariant 7).
    #[test]
    fn a_rollback_never_deletes_a_version_another_transaction_committed() {
        let mvcc = setup();
        write(&mvcc, b"k", Some(b"seed"));
        let mut aborting = mvcc.begin(IsolationLevel::RepeatableRead).expect("begin");
        aborting.begin_statement();
        aborting.set(TREE, b"k", b"rolled back").expect("set");
        mvcc.set_status(aborting.id(), super::STATUS_ABORTED)
            .expect("the rollback's first step");
        mvcc.vacuum_tree(TREE).expect("vacuum");
        // The aborted version is skipped, not waited for.
        write(&mvcc, b"k", Some(b"committed"));
        aborting.rollback().expect("rollback");
        assert_eq!(read(&mvcc, b"k"), Some(b"committed".to_vec()));
        mvcc.vacuum_tree(TREE).expect("vacuum");
        assert_eq!(versions(&mvcc), 1);
        assert_eq!(read(&mvcc, b"k"), Some(b"committed".to_vec()));
    }

    /// The rows of a forward scan of 40 keys holding "old", with the keys
    /// from `from` on.
    fn old_rows(from: u8) -> Vec<(Vec<u8>, Vec<u8>)> {
        (from..40).map(|key| (vec![key], b"old".to_vec())).collect()
    }

    /// Writes keys 0..40 as "old"; returns a writer that began before any
    /// reader the test starts next, so that once it commits and the reader
    /// moves on, its versions are below the horizon.
    fn forty_rows_and_an_early_writer(mvcc: &Arc<Mvcc>) -> crate::txn::Transaction {
        let mut seed = mvcc.begin(IsolationLevel::RepeatableRead).expect("begin");
        seed.begin_statement();
        for key in 0..40u8 {
            seed.set(TREE, &[key], b"old").expect("insert");
        }
        seed.commit().expect("commit");
        mvcc.begin(IsolationLevel::ReadCommitted).expect("begin")
    }

    /// Updates keys 30..35 and deletes keys 35..40, and commits.
    fn update_and_delete_the_last_ten(mut writer: crate::txn::Transaction) {
        writer.begin_statement();
        for key in 30..35u8 {
            writer.set(TREE, &[key], b"new").expect("update");
        }
        for key in 35..40u8 {
            writer.delete(TREE, &[key]).expect("delete");
        }
        writer.commit().expect("commit");
    }

    /// A READ COMMITTED statement's scan stays open (a portal's cursor)
    /// while the next statement of its transaction takes a newer snapshot.
    /// The horizon followed the transaction's newest snapshot, so a sweep
    /// removed the versions the open scan's snapshot still read: rows
    /// updated after it came back missing, deleted ones too. The scan's
    /// snapshot now holds the horizon back while the scan lives (gc
    /// invariant 6).
    #[test]
    fn an_open_scan_keeps_what_its_snapshot_reads_after_the_next_statement() {
        let mvcc = setup();
        let writer = forty_rows_and_an_early_writer(&mvcc);
        let mut reader = mvcc.begin(IsolationLevel::ReadCommitted).expect("begin");
        reader.begin_statement();
        let mut scan = reader.scan(TREE, KeyRange::all(), Direction::Forward);
        let first: Vec<_> = scan
            .by_ref()
            .take(3)
            .map(|entry| entry.expect("scan"))
            .collect();
        assert_eq!(first, old_rows(0)[..3]);
        update_and_delete_the_last_ten(writer);
        reader.begin_statement();
        assert_eq!(reader.get(TREE, &[30]).expect("get"), Some(b"new".to_vec()));
        mvcc.vacuum_all().expect("vacuum");
        let rest: Vec<_> = scan.by_ref().map(|entry| entry.expect("scan")).collect();
        assert_eq!(rest, old_rows(3), "what the first statement's snapshot saw");
        // Once the scan is gone, so is its hold: 5 old rows, 5 deleted rows
        // and their 5 deletions.
        drop(scan);
        assert_eq!(mvcc.vacuum_tree(TREE).expect("vacuum").removed, 15);
        assert_eq!(reader.get(TREE, &[39]).expect("get"), None);
        reader.commit().expect("commit");
    }

    /// A scan may outlive its transaction (a portal executed after COMMIT
    /// in the same extended-protocol batch): its snapshot still holds the
    /// horizon back (gc invariant 6).
    #[test]
    fn a_scan_that_outlives_its_transaction_keeps_what_its_snapshot_reads() {
        let mvcc = setup();
        let writer = forty_rows_and_an_early_writer(&mvcc);
        let mut reader = mvcc.begin(IsolationLevel::ReadCommitted).expect("begin");
        reader.begin_statement();
        let mut scan = reader.scan(TREE, KeyRange::all(), Direction::Forward);
        let first: Vec<_> = scan
            .by_ref()
            .take(3)
            .map(|entry| entry.expect("scan"))
            .collect();
        assert_eq!(first, old_rows(0)[..3]);
        reader.commit().expect("commit");
        update_and_delete_the_last_ten(writer);
        mvcc.vacuum_all().expect("vacuum");
        let rest: Vec<_> = scan.map(|entry| entry.expect("scan")).collect();
        assert_eq!(rest, old_rows(3), "what the snapshot saw");
        assert_eq!(mvcc.vacuum_tree(TREE).expect("vacuum").removed, 15);
    }

    #[test]
    fn collection_is_incremental_and_resumes() {
        let mvcc = setup();
        // A running transaction holds the horizon back, so writes cannot
        // prune; it ends before the collection.
        let holder = mvcc.begin(IsolationLevel::RepeatableRead).expect("begin");
        for key in 0..100u8 {
            write(&mvcc, &[key], Some(b"a"));
            write(&mvcc, &[key], Some(b"b"));
        }
        holder.commit().expect("commit");
        let mut after: Option<Vec<u8>> = None;
        let mut steps = 0;
        let mut removed = 0;
        loop {
            let progress = mvcc
                .collect_garbage(TREE, after.as_deref(), 7)
                .expect("collect");
            assert!(progress.stats.keys <= 7);
            removed += progress.stats.removed;
            steps += 1;
            match progress.resume {
                Some(resume) => after = Some(resume),
                None => break,
            }
        }
        assert_eq!(removed, 100);
        assert_eq!(steps, 100 / 7 + 1);
        assert_eq!(versions(&mvcc), 100);
    }

    #[test]
    fn a_full_sweep_truncates_the_commit_log_below_its_horizon() {
        let mvcc = setup();
        write(&mvcc, b"kept", Some(b"1"));
        // A writer that "crashed": its id ended without a status change
        // removing its version, which is left behind like after a crash.
        let lost = {
            let txn = mvcc.begin(IsolationLevel::RepeatableRead).expect("begin");
            let id = txn.id();
            txn.rollback().expect("rollback");
            id
        };
        let mut value = vec![1u8];
        value.extend_from_slice(&lost.to_be_bytes());
        value.extend_from_slice(b"ghost row");
        let key = crate::txn::mvcc::versioned(&crate::txn::mvcc::encode_key(b"ghost"), lost);
        mvcc.engine().insert(TREE, &key, &value).expect("insert");
        assert_eq!(read(&mvcc, b"ghost"), None, "an aborted writer's version");
        let running = mvcc.begin(IsolationLevel::RepeatableRead).expect("begin");
        write(&mvcc, b"kept", Some(b"2"));
        mvcc.vacuum_all().expect("vacuum");
        // The horizon was the running transaction: everything below it is
        // settled, the ghost version is gone, and its writer now reads as
        // committed without anything left that it could make visible.
        assert_eq!(mvcc.commit_log().floor(), running.id());
        assert!(lost < running.id());
        assert_eq!(mvcc.status(lost), super::STATUS_COMMITTED);
        assert_eq!(read(&mvcc, b"ghost"), None);
        assert_eq!(read(&mvcc, b"kept"), Some(b"2".to_vec()));
        running.rollback().expect("rollback");
        mvcc.vacuum_all().expect("vacuum");
        assert!(mvcc.commit_log().floor() > running_id_after(&mvcc));
        assert_eq!(read(&mvcc, b"kept"), Some(b"2".to_vec()));
    }

    /// The id the next transaction gets, minus one: the floor passes every
    /// finished transaction once nothing runs.
    fn running_id_after(mvcc: &Arc<Mvcc>) -> crate::txn::mvcc::TxnId {
        let txn = mvcc.begin(IsolationLevel::RepeatableRead).expect("begin");
        let id = txn.id();
        txn.rollback().expect("rollback");
        id - 1
    }
}
