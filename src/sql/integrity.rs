//! The index invariant, checked: every secondary index holds exactly one
//! visible entry per visible row of its table, `index key ‖ row key`, and
//! nothing else. Index entries are versions written with their rows
//! (`txn/index.rs`), so this holds in every snapshot that sees the index's
//! creation, not just the latest one.
//!
//! The crash and concurrency tests assert it after every recovery and every
//! race; it is also the routine a future `basalt check` runs.

use std::collections::BTreeSet;

use super::catalog::{self, Relation};
use super::encoding::{decode_row, encode_index_entry};
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
                encode_index_entry(&index.columns, &row, &key, &mut entry)?;
                entries.insert(entry);
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
