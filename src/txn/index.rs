//! What secondary indexes need from the transaction layer: entries that
//! are versions like rows, uniqueness across transactions, relation locks
//! and reads of the current catalog.
//!
//! An index is a tree of its own whose user keys are `index key ‖ row key`
//! (the SQL layer encodes them) with empty values. An entry is written,
//! and deleted, by the transaction that writes its row, as a version of
//! its own, so an entry is visible to exactly the snapshots that see the
//! row version it was made for, and garbage collection treats entries like
//! any other versions. An entry's write checks no snapshot
//! ([`WriteCheck::Entry`]): the row's own write already decided the
//! write–write conflict, and the index must follow the row whatever the
//! age of the entry it replaces.
//!
//! Uniqueness. Entries of equal index keys differ in their row keys, so
//! concurrent duplicates would not meet as versions of one key. A unique
//! insert instead looks at every entry with its index key, newest version
//! first, whatever the snapshot (PostgreSQL's dirty snapshot):
//!
//! ```text
//!   newest version of an entry     → for the insert
//!   live, committed or own         → duplicate (23505 above)
//!   deleted, committed or own      → no conflict
//!   written by a running writer    → wait for it to end, look again
//!   aborted                        → look at the older version
//! ```
//!
//! The look and the insert run under one unique stripe of the index key,
//! so two inserts of one key cannot both find it free (1). At SERIALIZABLE,
//! an insert that finds a duplicate still counts as a write of its entry
//! for the readers of the key (PostgreSQL's conflict-in check before a
//! unique violation): two transactions that each read "no such row" (by
//! index or by scan) and then insert it give 40001, not 23505.
//!
//! Invariants:
//! 1. A unique stripe is held only around one index key's look and entry
//!    write, never while waiting for a transaction and never together with
//!    another unique stripe; it is taken before a key stripe, never after.
//! 2. No running transaction other than the writer has a version of an
//!    entry being written: only a row's writer writes its entries, and the
//!    row's write waited for every other writer of the row.

use std::ops::Bound;
use std::sync::Arc;

use super::commit_log::{STATUS_ABORTED, STATUS_COMMITTED, STATUS_UNKNOWN};
use super::mvcc::{
    LIVE, TOMBSTONE, Transaction, TxnId, WriteCheck, encode_key, engine_range, split_version,
    stored_version, version_row, version_writer,
};
use super::relation_lock::RelationLockMode;
use super::scan::MvccScan;
use crate::error::Result;
use crate::storage::{Direction, KeyRange, TreeId};

/// What a unique look found.
enum Look {
    Free,
    Duplicate,
    /// A running transaction's version decides an entry.
    Wait(TxnId),
}

impl Transaction {
    /// Takes `mode` on `relation` until the transaction ends, waiting for
    /// the holders of conflicting locks (`relation_lock.rs`).
    pub fn lock_relation(&mut self, relation: u64, mode: RelationLockMode) -> Result<()> {
        if self
            .relation_locks
            .iter()
            .any(|(held, held_mode)| *held == relation && *held_mode >= mode)
        {
            return Ok(());
        }
        let mvcc = Arc::clone(&self.mvcc);
        while let Some(holder) = mvcc.relation_locks.try_acquire(relation, self.id, mode) {
            mvcc.waits.wait_for(
                self.id,
                holder,
                || mvcc.relation_locks.blocks(relation, holder, mode),
                self.lock_timeout,
            )?;
        }
        match self
            .relation_locks
            .iter_mut()
            .find(|(held, _)| *held == relation)
        {
            Some((_, held_mode)) => *held_mode = (*held_mode).max(mode),
            None => self.relation_locks.push((relation, mode)),
        }
        Ok(())
    }

    /// Whether a definition read under a snapshot taken at catalog epoch
    /// `epoch` is still current for a relation this transaction holds a
    /// `Write` lock on: no transaction that changed the catalog ended
    /// since, and this one changed nothing there (`relation_lock.rs`).
    pub fn catalog_current_since(&self, epoch: u64) -> bool {
        epoch == self.mvcc.relation_locks.epoch()
            && self
                .relation_locks
                .iter()
                .all(|(_, mode)| *mode == RelationLockMode::Write)
    }

    /// The catalog epoch of the transaction's snapshot.
    pub fn catalog_epoch(&self) -> u64 {
        self.snapshot.catalog_epoch
    }

    /// Scans what committed before now, and this transaction's own writes,
    /// instead of what its snapshot shows; no SSI read is recorded. For
    /// catalog reads under a relation lock and for index builds, which
    /// must see every row a writer of the table can no longer change.
    pub fn scan_current(
        &mut self,
        tree: TreeId,
        range: KeyRange,
        direction: Direction,
    ) -> MvccScan {
        let snapshot = self.mvcc.snapshot_for(self.id);
        MvccScan::with_snapshot(self, snapshot, tree, engine_range(&range), direction)
    }

    /// [`Transaction::scan_current`] of one key.
    pub fn get_current(&mut self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let range = KeyRange {
            start: Bound::Included(key.to_vec()),
            end: Bound::Included(key.to_vec()),
        };
        match self.scan_current(tree, range, Direction::Forward).next() {
            Some(entry) => Ok(Some(entry?.1)),
            None => Ok(None),
        }
    }

    /// Writes an index entry (see the module docs).
    pub fn insert_entry(&mut self, tree: TreeId, key: &[u8]) -> Result<()> {
        let stored = stored_version(LIVE, self.id, &[]);
        self.write(tree, key, &stored, WriteCheck::Entry)
    }

    /// Deletes an index entry.
    pub fn delete_entry(&mut self, tree: TreeId, key: &[u8]) -> Result<()> {
        let stored = stored_version(TOMBSTONE, self.id, &[]);
        self.write(tree, key, &stored, WriteCheck::Entry)
    }

    /// Writes the entry `key` of a unique index unless a live entry with
    /// the index key `prefix` (a prefix of `key`) exists, committed or
    /// written by this transaction; waits for running writers of such
    /// entries first. Returns whether it wrote (false: a duplicate).
    pub fn insert_unique_entry(&mut self, tree: TreeId, prefix: &[u8], key: &[u8]) -> Result<bool> {
        debug_assert!(key.starts_with(prefix));
        let mvcc = Arc::clone(&self.mvcc);
        let stripe = mvcc.unique_stripe(tree, prefix);
        loop {
            let guard = stripe.lock();
            match self.look_for_duplicate(tree, prefix)? {
                Look::Free => {
                    self.insert_entry(tree, key)?;
                    return Ok(true);
                }
                Look::Duplicate => {
                    // At SERIALIZABLE the insert is a write into the range
                    // of everyone who read the key, whether or not it
                    // lands: a reader that found the key absent, and
                    // whose insert then committed, is a conflict (40001)
                    // rather than the duplicate, as PostgreSQL checks for
                    // a conflict before it reports a unique violation. A
                    // writer that waited for the duplicate's writer may
                    // also have been doomed by its commit.
                    if let Some(handle) = &self.ssi {
                        mvcc.ssi.wrote(handle, tree, key)?;
                    }
                    return Ok(false);
                }
                Look::Wait(holder) => {
                    drop(guard);
                    mvcc.waits.wait_for(
                        self.id,
                        holder,
                        || mvcc.is_active(holder),
                        self.lock_timeout,
                    )?;
                }
            }
        }
    }

    /// Every entry whose user key starts with `prefix`, decided newest
    /// version first (module docs' table).
    fn look_for_duplicate(&self, tree: TreeId, prefix: &[u8]) -> Result<Look> {
        let mut escaped = encode_key(prefix);
        escaped.truncate(escaped.len() - 2);
        let range = KeyRange::prefix(&escaped);
        // The versions of one entry (oldest first) and its escaped key.
        let mut versions: Vec<Vec<u8>> = Vec::new();
        let mut current: Vec<u8> = Vec::new();
        let scan =
            crate::storage::scan(self.mvcc.engine().as_ref(), tree, range, Direction::Forward);
        for entry in scan {
            let (engine_key, value) = entry?;
            let (user, _) = split_version(&engine_key)?;
            if user != current.as_slice() {
                if let Some(look) = self.decide_entry(&versions)? {
                    return Ok(look);
                }
                versions.clear();
                current = user.to_vec();
            }
            versions.push(value);
        }
        Ok(self.decide_entry(&versions)?.unwrap_or(Look::Free))
    }

    /// Decides one entry from its versions (oldest first): `None` when it
    /// does not conflict.
    fn decide_entry(&self, versions: &[Vec<u8>]) -> Result<Option<Look>> {
        for value in versions.iter().rev() {
            let writer = version_writer(value)?;
            let live = version_row(value)?.is_some();
            if writer == self.id {
                return Ok(live.then_some(Look::Duplicate));
            }
            let mut status = self.mvcc.status(writer);
            if status == STATUS_UNKNOWN || status == STATUS_COMMITTED {
                if self.mvcc.is_active(writer) {
                    // Running, or committed but not yet durable.
                    return Ok(Some(Look::Wait(writer)));
                }
                // Ended since the status was read (mvcc.rs, write check).
                status = self.mvcc.status(writer);
            }
            match status {
                STATUS_ABORTED | STATUS_UNKNOWN => continue,
                _ => return Ok(live.then_some(Look::Duplicate)),
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::IsolationLevel;
    use crate::txn::mvcc::tests::setup;

    #[test]
    fn unique_entries_conflict_on_their_prefix_only() {
        let mvcc = setup();
        let mut first = mvcc.begin(IsolationLevel::ReadCommitted).unwrap();
        assert!(first.insert_unique_entry(7, b"a", b"a\x01").unwrap());
        // Own duplicate.
        assert!(!first.insert_unique_entry(7, b"a", b"a\x02").unwrap());
        // Other prefixes, one with a 0 byte that the engine key escapes.
        assert!(first.insert_unique_entry(7, b"b", b"b\x01").unwrap());
        assert!(
            first
                .insert_unique_entry(7, b"\x00a", b"\x00a\x03")
                .unwrap()
        );
        first.commit().unwrap();
        // A committed duplicate, whatever the snapshot.
        let mut second = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        assert!(!second.insert_unique_entry(7, b"a", b"a\x04").unwrap());
        // Deleting the entry frees the key, for the deleter and for
        // everyone once it commits.
        second.delete_entry(7, b"a\x01").unwrap();
        assert!(second.insert_unique_entry(7, b"a", b"a\x04").unwrap());
        second.rollback().unwrap();
        let mut third = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        assert!(!third.insert_unique_entry(7, b"a", b"a\x05").unwrap());
        third.delete_entry(7, b"a\x01").unwrap();
        third.commit().unwrap();
        let mut fourth = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        assert!(fourth.insert_unique_entry(7, b"a", b"a\x05").unwrap());
        fourth.commit().unwrap();
    }

    #[test]
    fn a_running_duplicate_is_waited_for() {
        let mvcc = setup();
        let mut first = mvcc.begin(IsolationLevel::ReadCommitted).unwrap();
        assert!(first.insert_unique_entry(7, b"k", b"k\x01").unwrap());
        let waiter = {
            let mvcc = Arc::clone(&mvcc);
            std::thread::spawn(move || {
                let mut second = mvcc.begin(IsolationLevel::ReadCommitted).unwrap();
                let wrote = second.insert_unique_entry(7, b"k", b"k\x02").unwrap();
                second.commit().unwrap();
                wrote
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!waiter.is_finished(), "the second insert waits");
        first.rollback().unwrap();
        assert!(waiter.join().unwrap(), "the first aborted: the key is free");
    }

    #[test]
    fn relation_locks_wait_and_catalog_epochs_move() {
        let mvcc = setup();
        let mut writer = mvcc.begin(IsolationLevel::ReadCommitted).unwrap();
        writer.begin_statement();
        let epoch = writer.catalog_epoch();
        writer.lock_relation(9, RelationLockMode::Write).unwrap();
        assert!(writer.catalog_current_since(epoch));
        let builder = {
            let mvcc = Arc::clone(&mvcc);
            std::thread::spawn(move || {
                let mut ddl = mvcc.begin(IsolationLevel::ReadCommitted).unwrap();
                ddl.lock_relation(9, RelationLockMode::Share).unwrap();
                ddl.commit().unwrap();
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(
            !builder.is_finished(),
            "the share lock waits for the writer"
        );
        writer.commit().unwrap();
        builder.join().unwrap();
        let mut later = mvcc.begin(IsolationLevel::ReadCommitted).unwrap();
        later.lock_relation(9, RelationLockMode::Write).unwrap();
        assert!(
            !later.catalog_current_since(epoch),
            "a DDL transaction ended"
        );
        // A lock timeout applies to relation locks.
        let mut ddl = mvcc.begin(IsolationLevel::ReadCommitted).unwrap();
        ddl.set_lock_timeout(Some(std::time::Duration::from_millis(20)));
        let error = ddl
            .lock_relation(9, RelationLockMode::Exclusive)
            .unwrap_err();
        assert_eq!(error.sqlstate().code(), "55P03");
    }
}
