//! Relation locks: what keeps DDL and the writers of a table apart.
//!
//! Rows are versioned, so readers and writers never lock each other. A
//! table's *definition* is not read through the writer's snapshot alone,
//! though: a secondary index is only correct if every writer of the table
//! maintains it, including a writer whose snapshot predates the index. So,
//! as in PostgreSQL, statements take a lock on the relation they change,
//! held until their transaction ends:
//!
//! | mode        | taken by                      | conflicts with     |
//! |-------------|-------------------------------|--------------------|
//! | `Write`     | INSERT, UPDATE, DELETE        | Share, Exclusive   |
//! | `Share`     | CREATE INDEX                  | Write, Exclusive   |
//! | `Exclusive` | DROP INDEX, DROP TABLE        | everything         |
//!
//! (PostgreSQL's ROW EXCLUSIVE, SHARE and ACCESS EXCLUSIVE, without the
//! reader's ACCESS SHARE: reads here never wait.) A transaction's own locks
//! never conflict with each other. A conflicting request waits for the
//! holder's transaction to end through the wait graph (`wait.rs`), so a
//! cycle of lock waits and row waits is a deadlock (40P01) and
//! `lock_timeout` applies (55P03).
//!
//! The catalog epoch makes the lock useful to the writer. It counts the
//! ends of transactions that held a `Share` or `Exclusive` lock, each
//! counted after that transaction left the active set (so after its
//! catalog changes became visible to new snapshots). A snapshot records the
//! epoch read just before it was taken:
//!
//! ```text
//!   writer: epoch e ─ snapshot ─ ... ─ lock Write(t) ─ epoch still e?
//!             yes: no DDL transaction ended since the snapshot, and none
//!                  is running on t (the lock excludes it): the snapshot's
//!                  definition of t is current
//!             no:  read t's definition again with a fresh snapshot
//! ```
//!
//! Invariants:
//! 1. A holder's entries are removed only after its transaction left the
//!    active set and the epoch was raised (for `Share`/`Exclusive`).
//! 2. A waiter's "still blocked" check and the release both run under the
//!    lock table's mutex, and the release is followed by
//!    `WaitGraph::finished`, so no wake-up is lost (wait invariant 2).
//!
//! Deviation: waits are not queued. A stream of new writers can keep a
//! CREATE INDEX waiting, where PostgreSQL queues the writers behind it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::mvcc::TxnId;

/// A lock mode (see the module docs' table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RelationLockMode {
    Write,
    Share,
    Exclusive,
}

impl RelationLockMode {
    fn conflicts_with(self, other: RelationLockMode) -> bool {
        !matches!(
            (self, other),
            (RelationLockMode::Write, RelationLockMode::Write)
                | (RelationLockMode::Share, RelationLockMode::Share)
        )
    }

    /// Whether a transaction holding this mode ends a catalog epoch.
    fn changes_catalog(self) -> bool {
        self != RelationLockMode::Write
    }
}

/// The lock table: relation id → holders.
#[derive(Default)]
pub struct RelationLocks {
    held: Mutex<HashMap<u64, Vec<(TxnId, RelationLockMode)>>>,
    epoch: AtomicU64,
}

impl RelationLocks {
    /// The catalog epoch (module docs).
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Grants `mode` on `relation` to `txn`, or returns a transaction whose
    /// lock conflicts (to wait for).
    pub(super) fn try_acquire(
        &self,
        relation: u64,
        txn: TxnId,
        mode: RelationLockMode,
    ) -> Option<TxnId> {
        let mut held = self.held.lock();
        let holders = held.entry(relation).or_default();
        if let Some((holder, _)) = holders
            .iter()
            .find(|(holder, held_mode)| *holder != txn && mode.conflicts_with(*held_mode))
        {
            return Some(*holder);
        }
        match holders.iter_mut().find(|(holder, _)| *holder == txn) {
            Some((_, held_mode)) => *held_mode = (*held_mode).max(mode),
            None => holders.push((txn, mode)),
        }
        None
    }

    /// Whether `holder` still holds a lock on `relation` that conflicts
    /// with `mode` (a waiter's check, invariant 2).
    pub(super) fn blocks(&self, relation: u64, holder: TxnId, mode: RelationLockMode) -> bool {
        self.held.lock().get(&relation).is_some_and(|holders| {
            holders
                .iter()
                .any(|(txn, held_mode)| *txn == holder && mode.conflicts_with(*held_mode))
        })
    }

    /// Releases everything `txn` holds on `relations` (after it left the
    /// active set, invariant 1).
    pub(super) fn release(&self, txn: TxnId, relations: &[(u64, RelationLockMode)]) {
        if relations.is_empty() {
            return;
        }
        if relations.iter().any(|(_, mode)| mode.changes_catalog()) {
            self.epoch.fetch_add(1, Ordering::AcqRel);
        }
        let mut held = self.held.lock();
        for (relation, _) in relations {
            if let Some(holders) = held.get_mut(relation) {
                holders.retain(|(holder, _)| *holder != txn);
                if holders.is_empty() {
                    held.remove(relation);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writers_share_and_ddl_excludes() {
        let locks = RelationLocks::default();
        assert_eq!(locks.try_acquire(1, 10, RelationLockMode::Write), None);
        assert_eq!(locks.try_acquire(1, 11, RelationLockMode::Write), None);
        assert_eq!(locks.try_acquire(1, 12, RelationLockMode::Share), Some(10));
        assert_eq!(locks.try_acquire(2, 12, RelationLockMode::Share), None);
        assert_eq!(locks.try_acquire(2, 13, RelationLockMode::Share), None);
        assert_eq!(
            locks.try_acquire(2, 14, RelationLockMode::Exclusive),
            Some(12)
        );
        // Own locks never conflict; a stronger request upgrades.
        assert_eq!(
            locks.try_acquire(1, 10, RelationLockMode::Exclusive),
            Some(11)
        );
        assert!(locks.blocks(1, 11, RelationLockMode::Share));
        let epoch = locks.epoch();
        locks.release(11, &[(1, RelationLockMode::Write)]);
        assert_eq!(locks.epoch(), epoch, "a writer's end changes no catalog");
        assert!(!locks.blocks(1, 11, RelationLockMode::Share));
        assert_eq!(locks.try_acquire(1, 10, RelationLockMode::Exclusive), None);
        assert_eq!(locks.try_acquire(1, 15, RelationLockMode::Write), Some(10));
        locks.release(10, &[(1, RelationLockMode::Exclusive)]);
        assert_eq!(locks.epoch(), epoch + 1);
        assert_eq!(locks.try_acquire(1, 15, RelationLockMode::Write), None);
    }
}
