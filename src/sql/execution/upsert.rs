//! `INSERT … ON CONFLICT`: before a proposed row is written, its arbiters
//! are looked up; a row they already hold is the conflict, and the row is
//! skipped (`DO NOTHING`) or the existing row updated (`DO UPDATE`).
//!
//! Atomic under concurrency, as the issue of two sessions upserting one key
//! asks: neither both insert nor fails with 23505. A conflicting row the
//! snapshot does not see yet is met by the write itself: the primary-key
//! write waits for a running writer of the key and then loses to its
//! commit, and a unique entry's insert finds the duplicate
//! (`txn/index.rs`); either way the statement gets a lost conflict, which
//! read refresh (`txn/refresh.rs`) turns into a run of the statement on a
//! newer snapshot, where the lookup finds the row. (Where refresh cannot
//! help, at REPEATABLE READ or SERIALIZABLE after conflicting reads, the
//! transaction fails with 40001, as PostgreSQL's does.)
//!
//! A row this statement inserted or updated that a later proposed row
//! conflicts with is 21000 for `DO UPDATE`, as in PostgreSQL, and skipped
//! for `DO NOTHING`.

use std::collections::HashSet;

use super::Layout;
use super::context::Context;
use super::dml::{conform_row, primary_key_of, rewrite_row};
use crate::error::{Error, Result, SqlState};
use crate::sql::binder::{Arbiter, ConflictAction, OnConflict};
use crate::sql::catalog::{Index, Table};
use crate::sql::encoding::decode_row;
use crate::sql::expr::Expr;
use crate::sql::index_entry::{EntryLayout, encode_index_entry};
use crate::sql::types::Row;
use crate::storage::{Direction, KeyRange};
use crate::txn::Transaction;

/// What becomes of one proposed row.
pub enum Resolution {
    /// No conflict: insert it.
    Insert,
    /// A conflict, and nothing to do (or `DO UPDATE … WHERE` was not true).
    Skip,
    /// A conflict; the existing row is now this.
    Updated(Row),
}

/// An INSERT's ON CONFLICT clause, compiled, and the rows the statement
/// wrote so far.
pub struct Upsert<'a> {
    on: &'a OnConflict,
    /// `DO UPDATE`'s assignments and condition over `existing ‖ proposed`.
    assignments: Vec<(usize, Expr)>,
    condition: Option<Expr>,
    /// Keys of the rows this statement inserted or updated.
    touched: HashSet<Vec<u8>>,
    buffer: Vec<u8>,
}

impl<'a> Upsert<'a> {
    pub fn new(on: &'a OnConflict) -> Result<Upsert<'a>> {
        let (assignments, condition) = match &on.action {
            ConflictAction::Nothing => (Vec::new(), None),
            ConflictAction::Update {
                existing,
                excluded,
                assignments,
                condition,
            } => {
                let row: Vec<_> = existing.iter().chain(excluded).copied().collect();
                let layout = Layout::new(&row, &[]);
                (
                    assignments
                        .iter()
                        .map(|(index, expr)| Ok((*index, layout.compile(expr)?)))
                        .collect::<Result<_>>()?,
                    condition
                        .as_ref()
                        .map(|condition| layout.compile(condition))
                        .transpose()?,
                )
            }
        };
        Ok(Upsert {
            on,
            assignments,
            condition,
            touched: HashSet::new(),
            buffer: Vec::new(),
        })
    }

    fn arbitrates_primary_key(&self) -> bool {
        self.on
            .arbiters
            .as_ref()
            .is_none_or(|arbiters| arbiters.contains(&Arbiter::PrimaryKey))
    }

    /// Whether unique index `name` arbitrates.
    pub fn arbitrates_index(&self, name: &str) -> bool {
        self.on.arbiters.as_ref().is_none_or(|arbiters| {
            arbiters
                .iter()
                .any(|arbiter| matches!(arbiter, Arbiter::Index(index) if index == name))
        })
    }

    /// The statement inserted a row under `key`.
    pub fn touched(&mut self, key: Vec<u8>) {
        self.touched.insert(key);
    }

    /// The row (key and values) an arbiter holds for `row`'s values, as
    /// the snapshot sees it.
    fn conflict(
        &mut self,
        txn: &mut Transaction,
        table: &Table,
        indexes: &[Index],
        row: &Row,
    ) -> Result<Option<(Vec<u8>, Row)>> {
        if !table.primary_key.is_empty() && self.arbitrates_primary_key() {
            let key = primary_key_of(table, row)?;
            if let Some(bytes) = txn.get(table.tree, &key)? {
                return Ok(Some((key, decode_row(&bytes)?)));
            }
        }
        for index in indexes {
            if !index.unique || !self.arbitrates_index(&index.name) {
                continue;
            }
            let Some(entry) = encode_index_entry(index, row, &[], &mut self.buffer)? else {
                continue;
            };
            if entry.has_null && !index.nulls_not_distinct {
                continue;
            }
            let prefix = self.buffer[..entry.prefix].to_vec();
            let layout = EntryLayout::new(table, index);
            let mut keys = Vec::new();
            for item in txn.scan(index.tree, KeyRange::prefix(&prefix), Direction::Forward) {
                let (entry_key, _) = item?;
                let start = layout.row_key_start(&entry_key)?;
                keys.push(entry_key[start..].to_vec());
            }
            for key in keys {
                if let Some(bytes) = txn.get(table.tree, &key)? {
                    return Ok(Some((key, decode_row(&bytes)?)));
                }
            }
        }
        Ok(None)
    }

    /// What to do with proposed row `row` (conformed to the table).
    pub fn resolve(
        &mut self,
        table: &Table,
        indexes: &[Index],
        row: &Row,
        context: &mut Context<'_>,
    ) -> Result<Resolution> {
        let Some((key, existing)) = self.conflict(context.transaction()?, table, indexes, row)?
        else {
            return Ok(Resolution::Insert);
        };
        if matches!(self.on.action, ConflictAction::Nothing) {
            return Ok(Resolution::Skip);
        }
        if self.touched.contains(&key) {
            return Err(Error::sql(
                SqlState::CARDINALITY_VIOLATION,
                "ON CONFLICT DO UPDATE command cannot affect row a second time",
            ));
        }
        let mut input = existing.clone();
        input.extend(row.iter().cloned());
        if let Some(condition) = &self.condition
            && !condition.is_true(&input, context)?
        {
            return Ok(Resolution::Skip);
        }
        let mut new = existing.clone();
        for (index, expr) in &self.assignments {
            new[*index] = expr.evaluate(&input, context)?;
        }
        let new = conform_row(table, new)?;
        let new_key = rewrite_row(
            context.transaction()?,
            table,
            indexes,
            &key,
            &existing,
            &new,
        )?;
        self.touched.insert(new_key);
        Ok(Resolution::Updated(new))
    }
}
