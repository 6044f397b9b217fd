//! Savepoints: nested partial rollback inside one transaction, behind SQL
//! `SAVEPOINT`, `ROLLBACK TO SAVEPOINT` and `RELEASE SAVEPOINT`.
//!
//! A transaction writes every key as one version of its own (`mvcc.rs`), so
//! a second write of a key overwrites that version in place. A savepoint
//! therefore records how far the transaction's lists reached, and while one
//! is open each overwrite of an own version logs the bytes it replaced:
//!
//! ```text
//!   write a=1 ─ SAVEPOINT s ─ write a=2, b=1 ─ ROLLBACK TO s
//!   writes: [a]    marks{writes:1, undo:0}    writes: [a, b]   undo: [a ← "1"]
//!                                             rollback: undo in reverse (a = "1"),
//!                                             delete own versions of writes[1..] (b),
//!                                             drop trees created since, forget
//!                                             drops requested since
//! ```
//!
//! Unlike PostgreSQL, savepoints are not subtransactions with ids of their
//! own: the versions a savepoint rolls back are removed or restored on the
//! spot, so visibility and the commit log know nothing about them. The cost
//! is the undo copy of an overwritten own version, kept only while a
//! savepoint is open.
//!
//! Invariants:
//! 1. After `rollback_to_savepoint(s)`, every key the transaction wrote holds
//!    the own version it held when `s` was taken, or none if it had none:
//!    undo entries are applied newest first, then keys first written after
//!    `s` lose their own version.
//! 2. Names follow SQL: they may repeat, and a name refers to the newest
//!    open savepoint with it. Rolling back to a savepoint keeps it open;
//!    releasing one closes it and every newer one. The undo log is dropped
//!    once no savepoint is open.
//! 3. Reads are not undone: what the transaction read before rolling back
//!    still counts for conflict detection (as PostgreSQL keeps the SIREAD
//!    locks of rolled-back subtransactions).

use std::sync::Arc;

use super::mvcc::{Transaction, TxnId, encode_key, versioned};
use crate::error::{Error, Result, SqlState};
use crate::storage::TreeId;

/// The stored bytes an overwrite of an own version replaced.
pub struct Undo {
    pub tree: TreeId,
    pub key: Vec<u8>,
    /// The stamp of the own version (`mvcc.rs`).
    pub stamp: TxnId,
    pub previous: Vec<u8>,
}

/// How long each of a transaction's lists was when a savepoint was taken.
#[derive(Clone, Copy, Debug)]
pub struct SavepointMarks {
    writes: usize,
    undo: usize,
    created_trees: usize,
    dropped_trees: usize,
}

fn missing(name: &str) -> Error {
    Error::sql(
        SqlState::INVALID_SAVEPOINT_SPECIFICATION,
        format!("savepoint \"{name}\" does not exist"),
    )
}

impl Transaction {
    /// Opens a savepoint called `name` (SQL `SAVEPOINT name`).
    pub fn savepoint(&mut self, name: &str) {
        let marks = self.marks();
        self.savepoints.push((name.to_string(), marks));
        self.refresh.marks = None;
    }

    /// How long the transaction's lists are now.
    pub(super) fn marks(&self) -> SavepointMarks {
        SavepointMarks {
            writes: self.writes.len(),
            undo: self.undo.len(),
            created_trees: self.created_trees.len(),
            dropped_trees: self.dropped_trees.len(),
        }
    }

    /// Undoes everything written since the newest savepoint called `name`,
    /// which stays open; newer savepoints are closed (invariant 1).
    pub fn rollback_to_savepoint(&mut self, name: &str) -> Result<()> {
        let index = self.find_savepoint(name)?;
        let marks = self.savepoints[index].1;
        self.savepoints.truncate(index + 1);
        self.refresh.marks = None;
        self.roll_back_to(marks)
    }

    /// Undoes everything written since `marks` were taken (invariant 1);
    /// also how a statement is undone before it runs again (`refresh.rs`).
    pub(super) fn roll_back_to(&mut self, marks: SavepointMarks) -> Result<()> {
        let mvcc = Arc::clone(&self.mvcc);
        let created_since = self.created_trees.split_off(marks.created_trees);
        while self.undo.len() > marks.undo {
            let undo = self.undo.pop().expect("invariant: longer than the mark");
            if created_since.contains(&undo.tree) {
                continue;
            }
            let _guard = mvcc.stripe(undo.tree, &undo.key).lock();
            let engine_key = versioned(&encode_key(&undo.key), undo.stamp);
            mvcc.engine()
                .insert(undo.tree, &engine_key, &undo.previous)?;
        }
        while self.writes.len() > marks.writes {
            let (tree, key, stamp) = self.writes.pop().expect("invariant: longer than the mark");
            if created_since.contains(&tree) {
                continue;
            }
            let _guard = mvcc.stripe(tree, &key).lock();
            mvcc.engine()
                .delete(tree, &versioned(&encode_key(&key), stamp))?;
        }
        for tree in created_since {
            mvcc.engine().drop_tree(tree)?;
        }
        self.dropped_trees.truncate(marks.dropped_trees);
        Ok(())
    }

    /// Closes the newest savepoint called `name` and every newer one; their
    /// writes stay part of the transaction.
    pub fn release_savepoint(&mut self, name: &str) -> Result<()> {
        let index = self.find_savepoint(name)?;
        self.savepoints.truncate(index);
        self.refresh.marks = None;
        if self.savepoints.is_empty() {
            self.undo = Vec::new();
        }
        Ok(())
    }

    /// How many savepoints are open.
    pub fn savepoint_depth(&self) -> usize {
        self.savepoints.len()
    }

    fn find_savepoint(&self, name: &str) -> Result<usize> {
        self.savepoints
            .iter()
            .rposition(|(open, _)| open == name)
            .ok_or_else(|| missing(name))
    }
}

#[cfg(test)]
mod tests {
    use crate::error::Error;
    use crate::storage::{Direction, Engine, KeyRange, MemoryEngine};
    use crate::txn::{IsolationLevel, Mvcc};
    use std::sync::Arc;

    use crate::txn::mvcc::tests::setup;

    /// The tree `setup` creates.
    const TREE: u64 = 7;

    fn contents(mvcc: &Arc<Mvcc>) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut txn = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        let rows = txn
            .scan(TREE, KeyRange::all(), Direction::Forward)
            .collect::<crate::error::Result<Vec<_>>>()
            .unwrap();
        txn.commit().unwrap();
        rows
    }

    fn row(key: &str, value: &str) -> (Vec<u8>, Vec<u8>) {
        (key.as_bytes().to_vec(), value.as_bytes().to_vec())
    }

    #[test]
    fn nested_savepoints_roll_back_writes_overwrites_and_deletes() {
        let mvcc = setup();
        let mut setup_txn = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        setup_txn.set(TREE, b"d", b"committed").unwrap();
        setup_txn.commit().unwrap();

        let mut txn = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        txn.set(TREE, b"a", b"1").unwrap();
        txn.savepoint("s1");
        txn.set(TREE, b"a", b"2").unwrap();
        txn.set(TREE, b"b", b"1").unwrap();
        txn.delete(TREE, b"d").unwrap();
        txn.savepoint("s2");
        txn.set(TREE, b"c", b"1").unwrap();
        txn.set(TREE, b"a", b"3").unwrap();
        txn.set(TREE, b"a", b"4").unwrap();
        assert_eq!(txn.get(TREE, b"a").unwrap(), Some(b"4".to_vec()));

        txn.rollback_to_savepoint("s2").unwrap();
        assert_eq!(txn.savepoint_depth(), 2, "s2 stays open");
        assert_eq!(txn.get(TREE, b"a").unwrap(), Some(b"2".to_vec()));
        assert_eq!(txn.get(TREE, b"c").unwrap(), None);
        assert_eq!(txn.get(TREE, b"b").unwrap(), Some(b"1".to_vec()));
        assert_eq!(txn.get(TREE, b"d").unwrap(), None);

        txn.rollback_to_savepoint("s1").unwrap();
        assert_eq!(txn.savepoint_depth(), 1);
        assert_eq!(txn.get(TREE, b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(txn.get(TREE, b"b").unwrap(), None);
        assert_eq!(txn.get(TREE, b"d").unwrap(), Some(b"committed".to_vec()));
        // Writing again after a rollback works, and can be rolled back again.
        txn.set(TREE, b"e", b"1").unwrap();
        txn.rollback_to_savepoint("s1").unwrap();
        txn.release_savepoint("s1").unwrap();
        assert_eq!(txn.savepoint_depth(), 0);
        txn.commit().unwrap();
        assert_eq!(contents(&mvcc), vec![row("a", "1"), row("d", "committed")]);
    }

    #[test]
    fn names_repeat_release_closes_newer_ones_and_unknown_names_are_3b001() {
        let mvcc = setup();
        let mut txn = mvcc.begin(IsolationLevel::ReadCommitted).unwrap();
        txn.savepoint("x");
        txn.set(TREE, b"a", b"1").unwrap();
        txn.savepoint("x");
        txn.set(TREE, b"b", b"1").unwrap();
        txn.savepoint("y");
        // The newest "x" is meant: b goes, a stays.
        txn.rollback_to_savepoint("x").unwrap();
        assert_eq!(txn.savepoint_depth(), 2, "y was closed");
        assert!(txn.get(TREE, b"a").unwrap().is_some());
        assert!(txn.get(TREE, b"b").unwrap().is_none());
        let error = txn.rollback_to_savepoint("y").unwrap_err();
        assert_eq!(error.sqlstate().code(), "3B001");
        assert_eq!(error.to_string(), "savepoint \"y\" does not exist");
        txn.release_savepoint("x").unwrap();
        txn.release_savepoint("x").unwrap();
        assert!(matches!(txn.release_savepoint("x"), Err(Error::Sql { .. })));
        txn.commit().unwrap();
        assert_eq!(contents(&mvcc), vec![row("a", "1")]);
    }

    #[test]
    fn rolling_back_a_write_lets_a_concurrent_writer_have_the_key() {
        let mvcc = setup();
        let mut first = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        first.savepoint("s");
        first.set(TREE, b"k", b"first").unwrap();
        let mut second = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        second.set_lock_timeout(Some(std::time::Duration::from_millis(10)));
        let blocked = second.set(TREE, b"k", b"second").unwrap_err();
        assert_eq!(blocked.sqlstate().code(), "55P03", "it waits for first");
        drop(second);
        first.rollback_to_savepoint("s").unwrap();
        let mut third = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        third.set(TREE, b"k", b"third").unwrap();
        third.commit().unwrap();
        first.commit().unwrap();
        assert_eq!(contents(&mvcc), vec![row("k", "third")]);
    }

    #[test]
    fn trees_created_after_a_savepoint_are_dropped_and_drops_forgotten() {
        let engine = Arc::new(MemoryEngine::new());
        engine.create_tree(TREE).unwrap();
        let mvcc = Mvcc::open(Arc::clone(&engine) as Arc<dyn Engine>).unwrap();
        let mut txn = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        let kept = txn.create_tree().unwrap();
        txn.savepoint("s");
        let created = txn.create_tree().unwrap();
        txn.set(created, b"k", b"v").unwrap();
        txn.drop_tree(TREE);
        txn.rollback_to_savepoint("s").unwrap();
        assert!(!engine.tree_exists(created).unwrap());
        txn.commit().unwrap();
        assert!(engine.tree_exists(kept).unwrap());
        assert!(
            engine.tree_exists(TREE).unwrap(),
            "the drop was rolled back"
        );
    }
}
