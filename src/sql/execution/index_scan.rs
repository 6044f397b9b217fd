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
use crate::sql::encoding::{decode_key, encode_index_value, index_value_marker};
use crate::sql::expr::Expr;
use crate::sql::index_entry::EntryLayout;
use crate::sql::plan::{IndexAccess, KeyEquality, bounded};
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

/// The encoded key prefixes that `equal` fixes, evaluated now, in byte
/// order without duplicates: one, or one per combination of IN-list
/// values; none when a compared value is NULL (no key equals NULL).
/// `encode(position, value, bytes)` appends key column `position`'s
/// encoding of a value of type `data_type(position)`.
pub(super) fn equality_prefixes(
    equal: &[KeyEquality],
    data_type: impl Fn(usize) -> DataType,
    encode: impl Fn(usize, &Value, &mut Vec<u8>) -> Result<()>,
    context: &mut Context<'_>,
) -> Result<Vec<Vec<u8>>> {
    let mut prefixes = vec![Vec::new()];
    for (position, value) in equal.iter().enumerate() {
        let values = match value {
            KeyEquality::Null => vec![Value::Null],
            KeyEquality::Value(expr) => key_value(expr, data_type(position), context)?
                .into_iter()
                .collect(),
            KeyEquality::List(list) => {
                let mut values = Vec::with_capacity(list.len());
                for expr in list {
                    values.extend(key_value(expr, data_type(position), context)?);
                }
                values
            }
        };
        let mut longer = Vec::with_capacity(prefixes.len() * values.len());
        for prefix in &prefixes {
            for value in &values {
                let mut bytes = prefix.clone();
                encode(position, value, &mut bytes)?;
                longer.push(bytes);
            }
        }
        prefixes = longer;
    }
    prefixes.sort_unstable();
    prefixes.dedup();
    Ok(prefixes)
}

/// The entry ranges `access` reads, evaluated now, in the index's order:
/// one per key prefix its equalities fix (see [`equality_prefixes`]),
/// narrowed by the bounds on the next column; none when a compared value
/// is NULL, so no entry can match.
pub(super) fn entry_ranges(
    table: &Table,
    access: &IndexAccess,
    context: &mut Context<'_>,
) -> Result<Vec<KeyRange>> {
    let index = index_of(table, access)?;
    if access.equal.len() > index.columns.len()
        || (access.equal.len() == index.columns.len()
            && (access.not_null || bounded(&access.lower, &access.upper)))
    {
        return Err(Error::Internal(
            "index access past the index's columns".into(),
        ));
    }
    let data_type = |column: &IndexColumn| index.key_type(table, column);
    let prefixes = equality_prefixes(
        &access.equal,
        |position| data_type(&index.columns[position]),
        |position, value, bytes| encode_index_value(&index.columns[position], value, bytes),
        context,
    )?;
    let mut ranges = Vec::with_capacity(prefixes.len());
    for prefix in prefixes {
        ranges.extend(prefix_range(table, index, access, prefix, context)?);
    }
    Ok(ranges)
}

/// The entries under one equality prefix whose next column lies within
/// the access's bounds; `None` if none can.
fn prefix_range(
    table: &Table,
    index: &Index,
    access: &IndexAccess,
    prefix: Vec<u8>,
    context: &mut Context<'_>,
) -> Result<Option<KeyRange>> {
    let data_type = |column: &IndexColumn| index.key_type(table, column);
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

/// How a scan reads the entries of one index: their layout, found once
/// per scan, and a buffer for an entry's values.
pub(super) struct EntryReader {
    layout: EntryLayout,
    values: Vec<Value>,
}

impl EntryReader {
    pub(super) fn new(table: &Table, index: &Index) -> EntryReader {
        EntryReader {
            layout: EntryLayout::new(table, index),
            values: Vec::new(),
        }
    }

    /// Where an entry's row key starts (after its index key and INCLUDE
    /// values).
    pub(super) fn row_key_start(&self, entry: &[u8]) -> Result<usize> {
        self.layout.row_key_start(entry)
    }

    /// A table row as a covering entry gives it: the indexed and INCLUDE
    /// columns and the primary key's, the others NULL (the query reads
    /// none of them).
    pub(super) fn covered_row(
        &mut self,
        table: &Table,
        entry: &[u8],
        row: &mut Vec<Value>,
    ) -> Result<()> {
        self.values.clear();
        let start = self.layout.decode(entry, &mut self.values)?;
        row.clear();
        row.resize(table.columns.len(), Value::Null);
        if !table.primary_key.is_empty() {
            let types = table
                .primary_key
                .iter()
                .map(|column| table.columns[*column].data_type);
            let key = decode_key(types, &entry[start..])?;
            for (value, column) in key.into_iter().zip(&table.primary_key) {
                row[*column] = value;
            }
        }
        for (value, column) in self.values.drain(..).zip(self.layout.table_columns()) {
            if let Some(column) = column {
                row[column] = value;
            }
        }
        Ok(())
    }
}
