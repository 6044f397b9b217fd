//! The index invariant, checked: every secondary index holds exactly one
//! visible entry per visible row of its table that it covers (all rows,
//! or those its predicate is true for), `index key ‖ INCLUDE values ‖ row
//! key` (`index_entry.rs`), and nothing else. Index entries are versions written with their rows
//! (`txn/index.rs`), so this holds in every snapshot that sees the index's
//! creation, not just the latest one.
//!
//! The crash and concurrency tests assert it after every recovery and every
//! race; it is also the routine a future `basalt check` runs.

use std::collections::BTreeSet;

use super::catalog::{self, Relation};
use super::encoding::decode_row;
use super::index_entry::encode_index_entry;
use crate::error::{Error, Result};
use crate::storage::{Direction, KeyRange};
use crate::txn::Transaction;

/// What the check looked at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexCheck {
    pub indexes: u64,
    pub entries: u64,
}

/// Checks every index of every table in `txn`'s snapshot; a disagreement
/// is `Error::Corrupt` naming the index and the first entry that differs.
pub fn check_indexes(txn: &mut Transaction) -> Result<IndexCheck> {
    let mut summary = IndexCheck::default();
    for relation in catalog::list_relations(txn)? {
        let Relation::Table(table) = relation else {
            continue;
        };
        if table.indexes.is_empty() {
            continue;
        }
        let mut expected: Vec<BTreeSet<Vec<u8>>> = vec![BTreeSet::new(); table.indexes.len()];
        for entry in txn.scan(table.tree, KeyRange::all(), Direction::Forward) {
            let (key, bytes) = entry?;
            let row = decode_row(&bytes)?;
            for (index, entries) in table.indexes.iter().zip(&mut expected) {
                let mut entry = Vec::new();
                if encode_index_entry(index, &row, &key, &mut entry)?.is_some() {
                    entries.insert(entry);
                }
            }
        }
        for (index, expected) in table.indexes.iter().zip(expected) {
            let mut found = BTreeSet::new();
            for entry in txn.scan(index.tree, KeyRange::all(), Direction::Forward) {
                found.insert(entry?.0);
            }
            if let Some(missing) = expected.difference(&found).next() {
                return Err(Error::Corrupt(format!(
                    "index \"{}\" of table \"{}\" misses the entry {missing:02x?}",
                    index.name, table.name
                )));
            }
            if let Some(extra) = found.difference(&expected).next() {
                return Err(Error::Corrupt(format!(
                    "index \"{}\" of table \"{}\" has the entry {extra:02x?} of no row",
                    index.name, table.name
                )));
            }
            summary.indexes += 1;
            summary.entries += found.len() as u64;
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::sql::Instance;
    use crate::sql::catalog::Table;
    use crate::sql::execution::spill::SpillSpace;
    use crate::storage::MemoryEngine;
    use crate::txn::{IsolationLevel, Mvcc};

    /// A table of three rows with an index on `b`, and the MVCC store.
    fn indexed_table() -> (Arc<Mvcc>, Table) {
        let mvcc = Mvcc::open(Arc::new(MemoryEngine::new())).unwrap();
        let instance = Instance::open(Arc::clone(&mvcc), SpillSpace::temporary()).unwrap();
        let mut session = instance.session();
        for sql in [
            "CREATE TABLE t (a int PRIMARY KEY, b text)",
            "CREATE INDEX t_b ON t (b)",
            "INSERT INTO t VALUES (1, 'x'), (2, 'y'), (3, NULL)",
        ] {
            let prepared = session.prepare(sql, &[]).unwrap();
            session.execute(&prepared, &[]).unwrap();
        }
        let mut txn = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        txn.begin_statement();
        let table = catalog::require_table(&mut txn, "t").unwrap();
        txn.commit().unwrap();
        (mvcc, table)
    }

    fn check(mvcc: &Arc<Mvcc>) -> Result<IndexCheck> {
        let mut txn = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        txn.begin_statement();
        let result = check_indexes(&mut txn);
        txn.commit().unwrap();
        result
    }

    fn first_entry(mvcc: &Arc<Mvcc>, tree: crate::storage::TreeId) -> Vec<u8> {
        let mut txn = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        let entry = txn
            .scan(tree, KeyRange::all(), Direction::Forward)
            .next()
            .unwrap()
            .unwrap()
            .0;
        txn.commit().unwrap();
        entry
    }

    #[test]
    fn an_index_agreeing_with_its_table_passes() {
        let (mvcc, _) = indexed_table();
        assert_eq!(
            check(&mvcc).unwrap(),
            IndexCheck {
                indexes: 1,
                entries: 3
            }
        );
    }

    #[test]
    fn a_missing_entry_is_reported() {
        let (mvcc, table) = indexed_table();
        let index = table.indexes[0].tree;
        let entry = first_entry(&mvcc, index);
        let mut txn = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        txn.delete(index, &entry).unwrap();
        txn.commit().unwrap();
        let error = check(&mvcc).unwrap_err();
        assert!(matches!(error, Error::Corrupt(_)), "{error}");
        assert!(
            error.to_string().contains("\"t_b\" of table \"t\" misses"),
            "{error}"
        );
    }

    #[test]
    fn an_entry_of_no_row_is_reported() {
        let (mvcc, table) = indexed_table();
        let index = table.indexes[0].tree;
        let mut entry = first_entry(&mvcc, index);
        // The same index key pointing at a row key that does not exist.
        entry.push(0xff);
        let mut txn = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        txn.set(index, &entry, b"").unwrap();
        txn.commit().unwrap();
        let error = check(&mvcc).unwrap_err();
        assert!(error.to_string().contains("of no row"), "{error}");
    }
}
