//! What a row contributes to a secondary index: whether it has an entry
//! at all (a partial index's predicate), the entry's bytes, and how an
//! entry decodes back into values.
//!
//! An entry is one user key of the index's tree (values are empty):
//!
//! ```text
//!   key column 1 ‖ … ‖ key column n ‖ INCLUDE column 1 ‖ … ‖ row key
//!   └──────── index key ─────────┘
//! ```
//!
//! Each column is encoded by `encoding::encode_index_value` (a NULL
//! marker, then the value; inverted when descending). A key column holds
//! a table column's value or an expression's value computed from the row
//! (`Index::expressions`, bound over the row's slots). INCLUDE columns
//! follow the key, ascending with NULLs last, so they are in every entry
//! for index-only reads but outside the index key: a unique index
//! compares only the key (`IndexEntry::prefix`), and no search bounds
//! them. Entries of equal keys and INCLUDE values are told apart by the
//! row key.
//!
//! Invariants:
//! 1. A row has an entry exactly when the index's predicate is true for it
//!    (always, without one); NULL or false means no entry, as in
//!    PostgreSQL.
//! 2. An entry is a function of the row and its key alone: writers,
//!    builders and the integrity check all compute it here, so they agree.

use std::borrow::Cow;

use super::catalog::{Index, IndexColumn, IndexExpression, IndexKey, Table};
use super::encoding::{decode_index_key, encode_index_value};
use super::execution::{Context, QueryState};
use super::types::{DataType, Value};
use crate::error::{Error, Result};

/// What [`encode_index_entry`] tells about the entry it encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// The length of the index key, the prefix a unique index compares.
    pub prefix: usize,
    pub has_null: bool,
}

/// Evaluates an index expression on a stored row (it reads nothing else).
fn evaluate(expression: &IndexExpression, row: &[Value]) -> Result<Value> {
    let mut state = QueryState::default();
    expression
        .expr
        .evaluate(row, &mut Context::new(None, &mut state))
}

/// Whether `row` belongs in `index`: its predicate is true for it (a
/// predicate that is NULL or false leaves the row out, invariant 1).
pub fn covers(index: &Index, row: &[Value]) -> Result<bool> {
    match &index.predicate {
        None => Ok(true),
        Some(predicate) => Ok(matches!(evaluate(predicate, row)?, Value::Boolean(true))),
    }
}

/// The value key column `column` of `index` holds for `row`.
pub fn key_value<'r>(
    index: &Index,
    column: &IndexColumn,
    row: &'r [Value],
) -> Result<Cow<'r, Value>> {
    match column.key {
        IndexKey::Column(position) => row
            .get(position)
            .map(Cow::Borrowed)
            .ok_or_else(|| Error::Internal("index column outside the row".into())),
        IndexKey::Expression(position) => {
            let expression = index
                .expressions
                .get(position)
                .ok_or_else(|| Error::Internal("index expression out of range".into()))?;
            Ok(Cow::Owned(evaluate(expression, row)?))
        }
    }
}

/// `row`'s entry in `index` (stored under `row_key`) in `out`; `None`
/// when the row has none (a partial index's predicate is not true).
pub fn encode_index_entry(
    index: &Index,
    row: &[Value],
    row_key: &[u8],
    out: &mut Vec<u8>,
) -> Result<Option<IndexEntry>> {
    if !covers(index, row)? {
        return Ok(None);
    }
    out.clear();
    let mut has_null = false;
    for column in &index.columns {
        let value = key_value(index, column, row)?;
        has_null |= value.is_null();
        encode_index_value(column, &value, out)?;
    }
    let prefix = out.len();
    for &position in &index.include {
        let value = row
            .get(position)
            .ok_or_else(|| Error::Internal("INCLUDE column outside the row".into()))?;
        encode_index_value(&IndexColumn::ascending(position), value, out)?;
    }
    out.extend_from_slice(row_key);
    Ok(Some(IndexEntry { prefix, has_null }))
}

/// `Key (a, b)=(1, x)`: key columns and their values (NULL as `null`), as
/// PostgreSQL details a key in its unique-violation errors.
pub fn describe_key<'v>(names: &[&str], values: impl Iterator<Item = Option<&'v Value>>) -> String {
    let values: Vec<String> = values
        .map(|value| match value {
            Some(value) => value.to_text().unwrap_or_else(|| "null".into()),
            None => "?".into(),
        })
        .collect();
    format!("Key ({})=({})", names.join(", "), values.join(", "))
}

/// `Key (a, lower(b))=(1, x)`: the key `index` gives `row` (`?` for a
/// value that cannot be computed).
pub fn describe_entry_key(table: &Table, index: &Index, row: &[Value]) -> String {
    let names: Vec<&str> = index
        .columns
        .iter()
        .map(|column| index.key_text(table, column))
        .collect();
    let values: Vec<Option<Cow<'_, Value>>> = index
        .columns
        .iter()
        .map(|column| key_value(index, column, row).ok())
        .collect();
    describe_key(&names, values.iter().map(Option::as_deref))
}

/// How the columns at the front of an index's entries decode: the key
/// columns, then the INCLUDE columns, each with its value's type.
#[derive(Clone, Debug)]
pub struct EntryLayout {
    columns: Vec<IndexColumn>,
    types: Vec<DataType>,
}

impl EntryLayout {
    pub fn new(table: &Table, index: &Index) -> EntryLayout {
        let mut columns = index.columns.clone();
        let mut types: Vec<DataType> = index
            .columns
            .iter()
            .map(|column| index.key_type(table, column))
            .collect();
        for &position in &index.include {
            columns.push(IndexColumn::ascending(position));
            types.push(table.columns[position].data_type);
        }
        EntryLayout { columns, types }
    }

    /// Where an entry's row key starts.
    pub fn row_key_start(&self, entry: &[u8]) -> Result<usize> {
        decode_index_key(&self.columns, &self.types, entry, None)
    }

    /// Decodes an entry's columns: pushes each (key columns, then INCLUDE
    /// columns) onto `values` and returns where the row key starts.
    pub fn decode(&self, entry: &[u8], values: &mut Vec<Value>) -> Result<usize> {
        decode_index_key(&self.columns, &self.types, entry, Some(values))
    }

    /// The table column each decoded value belongs to, if it is one
    /// (expression keys are not).
    pub fn table_columns(&self) -> impl Iterator<Item = Option<usize>> + '_ {
        self.columns.iter().map(IndexColumn::table_column)
    }
}
