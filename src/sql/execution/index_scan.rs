//! Reads through a secondary index: which entries an [`IndexAccess`]
//! covers, and what an entry yields.
//!
//! An entry's user key is `index key ‖ row key` (`encoding.rs`), so the
//! entries whose leading columns equal some values share one byte prefix
//! `P`, and a bound on the next column is a bound on the bytes after it.
//! Each column's encoding is prefix-free, so "every entry whose next
//! column encodes to `e`" is the byte range from `P ‖ e` up to, not
//! including, the prefix successor of `P ‖ e` (`P ‖ e` with its last byte
//! raised, trailing `FF`s dropped):
//!
//! ```text
//!   ascending column           entries read
//!   value >= v                 from P‖e(v)
//!   value >  v                 from succ(P‖e(v))
//!   value <= v                 before succ(P‖e(v))
//!   value <  v                 before P‖e(v)
//!   IS NOT NULL                the non-NULL values: from P‖01, before P‖02
//! ```
//!
//! A descending column stores its bytes inverted, which reverses its
//! order: a lower bound on its values is an upper bound on its bytes, and
//! its non-NULL values are the bytes under `FE`. A range bound never takes
//! in the column's NULLs (no comparison is true for NULL).
//!
//! The range read is also the range an SSI read lock covers (the scan
//! registers it when it opens): an insert into it, even into a gap the
//! read found empty, is a conflict; an insert outside it is not.

use std::ops::Bound;

use super::context::Context;
use super::scan::key_value;
use crate::error::{Error, Result};
use crate::sql::catalog::{Index, IndexColumn, Table};
use crate::sql::encoding::{decode_index_key, decode_key, encode_index_value, index_value_marker};
use crate::sql::expr::Expr;
use crate::sql::plan::{IndexAccess, bounded};
use crate::sql::types::{DataType, Value};
use crate::storage::{KeyRange, prefix_successor};

/// The index an access reads.
pub(super) fn index_of<'t>(table: &'t Table, access: &IndexAccess) -> Result<&'t Index> {
    table.indexes.get(access.index).ok_or_else(|| {
        Error::Internal(format!(
            "table {} has no index {}",
            table.name, access.index
        ))
    })
}

/// The entries `access` reads, evaluated now; `None` when a compared
/// value is NULL, so no entry can match.
pub(super) fn entry_range(
    table: &Table,
    access: &IndexAccess,
    context: &mut Context<'_>,
) -> Result<Option<KeyRange>> {
    let index = index_of(table, access)?;
    if access.equal.len() > index.columns.len()
        || (access.equal.len() == index.columns.len()
            && (access.not_null || bounded(&access.lower, &access.upper)))
    {
        return Err(Error::Internal(
            "index access past the index's columns".into(),
        ));
    }
    let data_type = |column: &IndexColumn| table.columns[column.column].data_type;
    let mut prefix = Vec::new();
    for (value, column) in access.equal.iter().zip(&index.columns) {
        let value = match value {
            None => Value::Null,
            Some(expr) => match key_value(expr, data_type(column), context)? {
                Some(value) => value,
                None => return Ok(None),
            },
        };
        encode_index_value(column, &value, &mut prefix)?;
    }
    let Some(column) = index
        .columns
        .get(access.equal.len())
        .filter(|_| access.not_null || bounded(&access.lower, &access.upper))
    else {
        return Ok(Some(KeyRange::prefix(&prefix)));
    };
    // The bounds in the column's byte order.
    let (low, high) = match column.descending {
        false => (&access.lower, &access.upper),
        true => (&access.upper, &access.lower),
    };
    let encoded = |bound: &Bound<Expr>, context: &mut Context<'_>| -> Result<Option<Vec<u8>>> {
        let (Bound::Included(expr) | Bound::Excluded(expr)) = bound else {
            return Ok(Some(Vec::new()));
        };
        let Some(value) = key_value(expr, data_type(column), context)? else {
            return Ok(None);
        };
        let mut bytes = prefix.clone();
        encode_index_value(column, &value, &mut bytes)?;
        Ok(Some(bytes))
    };
    let (Some(low_key), Some(high_key)) = (encoded(low, context)?, encoded(high, context)?) else {
        return Ok(None);
    };
    // The non-NULL values of the column: the bytes after the prefix lead
    // with their marker.
    let mut values = prefix.clone();
    values.push(index_value_marker(column));
    // In byte order, `low` is the bound that keeps the smaller keys out.
    let start = match low {
        Bound::Unbounded => Bound::Included(values.clone()),
        Bound::Included(_) => Bound::Included(low_key),
        Bound::Excluded(_) => match prefix_successor(&low_key) {
            Some(key) => Bound::Included(key),
            None => return Ok(None),
        },
    };
    let end = match high {
        Bound::Unbounded => prefix_successor(&values).map_or(Bound::Unbounded, Bound::Excluded),
        Bound::Included(_) => prefix_successor(&high_key).map_or(Bound::Unbounded, Bound::Excluded),
        Bound::Excluded(_) => Bound::Excluded(high_key),
    };
    let range = KeyRange { start, end };
    Ok((!range.is_empty()).then_some(range))
}

/// How a scan reads the entries of one index: the table's column types,
/// found once per scan, and a buffer for an entry's indexed values.
pub(super) struct EntryReader {
    types: Vec<DataType>,
    values: Vec<Value>,
}

impl EntryReader {
    pub(super) fn new(table: &Table) -> EntryReader {
        EntryReader {
            types: table
                .columns
                .iter()
                .map(|column| column.data_type)
                .collect(),
            values: Vec::new(),
        }
    }

    /// Where an entry's row key starts (the length of its index key).
    pub(super) fn row_key_start(&self, index: &Index, entry: &[u8]) -> Result<usize> {
        decode_index_key(&index.columns, &self.types, entry, None)
    }

    /// A table row as a covering entry gives it: the indexed columns and
    /// the primary key's, the others NULL (the query reads none of them).
    pub(super) fn covered_row(
        &mut self,
        table: &Table,
        index: &Index,
        entry: &[u8],
        row: &mut Vec<Value>,
    ) -> Result<()> {
        self.values.clear();
        let start = decode_index_key(&index.columns, &self.types, entry, Some(&mut self.values))?;
        row.clear();
        row.resize(table.columns.len(), Value::Null);
        if !table.primary_key.is_empty() {
            let types = table.primary_key.iter().map(|column| self.types[*column]);
            let key = decode_key(types, &entry[start..])?;
            for (value, column) in key.into_iter().zip(&table.primary_key) {
                row[*column] = value;
            }
        }
        for (value, column) in self.values.drain(..).zip(&index.columns) {
            row[column.column] = value;
        }
        Ok(())
    }
}
