//! INSERT, UPDATE and DELETE against a transaction.
//!
//! Each first reads every affected row (with its storage key), then writes,
//! so a statement never sees its own new versions (no Halloween problem:
//! an UPDATE that moves a row forward in key order does not meet it
//! again). Rows are conformed to their table before they are written:
//! values converted to the column types, `varchar(n)` limits and NOT NULL
//! checked.
//!
//! Each statement first takes its table's `Write` relation lock
//! (`txn/relation_lock.rs`) and, if a DDL transaction ended since its
//! definition was read, reads the definition again: every secondary index
//! that exists is maintained, including one created after the writer's
//! snapshot. A row's index entries are written after the row (`txn/index.rs`
//! explains the order): an entry `index key ‖ row key` per index; an UPDATE
//! replaces only the entries whose key changed; a unique index checks its
//! key unless a value in it is NULL.

use super::context::Context;
use super::upsert::{Resolution, Upsert};
use super::{Layout, Operator, build_scan};
use crate::error::{Error, Result, SqlState};
use crate::sql::binder::{OnConflict, Returning};
use crate::sql::catalog::{self, Index, Table};
use crate::sql::encoding::{encode_key, encode_row};
use crate::sql::expr::{Expr, cast};
use crate::sql::index_entry::{IndexEntry, describe_entry_key, describe_key, encode_index_entry};
use crate::sql::plan::LogicalPlan;
use crate::sql::types::{DataType, Row, Value, check_varchar};
use crate::txn::{RelationLockMode, Transaction};

/// Sequence name for hidden row ids of tables without a primary key.
fn row_id_key(table: &Table) -> Vec<u8> {
    format!("rowid/{}", table.tree).into_bytes()
}

/// Makes a row fit its table: values converted to the column types,
/// `varchar(n)` limits and NOT NULL checked.
pub(super) fn conform_row(table: &Table, row: Row) -> Result<Row> {
    if row.len() != table.columns.len() {
        return Err(Error::Internal("row width does not match the table".into()));
    }
    let mut out = Vec::with_capacity(row.len());
    for (value, column) in row.into_iter().zip(&table.columns) {
        if value.is_null() {
            if !column.nullable {
                return Err(Error::sql(
                    SqlState::NOT_NULL_VIOLATION,
                    format!(
                        "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                        column.name, table.name
                    ),
                ));
            }
            out.push(value);
            continue;
        }
        let value = match (column.data_type, &value) {
            (DataType::Varchar(limit), Value::Text(text)) => {
                Value::Text(check_varchar(text, limit)?.into())
            }
            (DataType::Char(length), Value::Text(text)) => {
                Value::Text(crate::sql::types::pad_char(text, length, false)?.into())
            }
            (DataType::Text, Value::Text(_)) => value,
            (target, v) if v.data_type() == Some(target) => value,
            (target, _) => cast(value, target)?,
        };
        out.push(value);
    }
    Ok(out)
}

pub(super) fn primary_key_of(table: &Table, row: &Row) -> Result<Vec<u8>> {
    let values: Vec<Value> = table.primary_key.iter().map(|i| row[*i].clone()).collect();
    encode_key(&values)
}

/// 23505 for the unique constraint or index `name`.
fn duplicate(name: &str, key: String) -> Error {
    Error::sql(
        SqlState::UNIQUE_VIOLATION,
        format!(
            "duplicate key value violates unique constraint \"{name}\" ({key} already exists.)"
        ),
    )
}

fn duplicate_key(table: &Table, row: &Row) -> Error {
    let names: Vec<&str> = table
        .primary_key
        .iter()
        .map(|&column| table.columns[column].name.as_str())
        .collect();
    let values = table.primary_key.iter().map(|&column| row.get(column));
    duplicate(&table.primary_key_name(), describe_key(&names, values))
}

fn duplicate_entry(table: &Table, index: &Index, row: &Row) -> Error {
    duplicate(&index.name, describe_entry_key(table, index, row))
}

/// Takes the table's `Write` lock; returns the table's current definition
/// when the bound one may miss an index (`None`: it is current).
fn lock_for_write(table: &Table, txn: &mut Transaction) -> Result<Option<Table>> {
    txn.lock_relation(table.tree, RelationLockMode::Write)?;
    if txn.catalog_current_since(table.catalog_epoch) {
        return Ok(None);
    }
    catalog::current_table(txn, table).map(Some)
}

/// Writes the entry `buffer` holds (`encode_index_entry`) into `index`,
/// checking uniqueness; false for a duplicate.
pub(crate) fn write_entry(
    txn: &mut Transaction,
    index: &Index,
    buffer: &[u8],
    entry: IndexEntry,
) -> Result<bool> {
    if index.unique && (!entry.has_null || index.nulls_not_distinct) {
        txn.insert_unique_entry(index.tree, &buffer[..entry.prefix], buffer)
    } else {
        txn.insert_entry(index.tree, buffer)?;
        Ok(true)
    }
}

/// Writes `row`'s entry (stored under `key`) into `index`, if it has one,
/// checking uniqueness; `buffer` is scratch space. False for a duplicate.
pub(crate) fn insert_index_entry(
    txn: &mut Transaction,
    index: &Index,
    row: &Row,
    key: &[u8],
    buffer: &mut Vec<u8>,
) -> Result<bool> {
    match encode_index_entry(index, row, key, buffer)? {
        Some(entry) => write_entry(txn, index, buffer, entry),
        None => Ok(true),
    }
}

fn delete_entry(
    txn: &mut Transaction,
    index: &Index,
    row: &Row,
    key: &[u8],
    buffer: &mut Vec<u8>,
) -> Result<()> {
    if encode_index_entry(index, row, key, buffer)?.is_some() {
        txn.delete_entry(index.tree, buffer)?;
    }
    Ok(())
}

/// What a RETURNING list makes of each written row, compiled.
pub struct ReturningRows {
    exprs: Vec<Expr>,
    /// The rows made so far.
    pub rows: Vec<Row>,
}

impl ReturningRows {
    /// `returning`'s expressions compiled over a table row.
    pub fn new(returning: &Returning) -> Result<ReturningRows> {
        let layout = Layout::new(&returning.row, &[]);
        Ok(ReturningRows {
            exprs: returning
                .exprs
                .iter()
                .map(|expr| layout.compile(expr))
                .collect::<Result<_>>()?,
            rows: Vec::new(),
        })
    }

    fn push(&mut self, row: &[Value], context: &mut Context<'_>) -> Result<()> {
        let values = self
            .exprs
            .iter()
            .map(|expr| expr.evaluate(row, context))
            .collect::<Result<Row>>()?;
        self.rows.push(values);
        Ok(())
    }
}

/// Inserts the rows `source` produces (full-width rows in table column
/// order); returns how many, each also given to `returning`.
pub fn insert(
    table: &Table,
    source: &mut Operator,
    context: &mut Context<'_>,
    next_row_id: &mut dyn FnMut(&[u8]) -> Result<u64>,
    mut returning: Option<&mut ReturningRows>,
    on_conflict: Option<&OnConflict>,
) -> Result<u64> {
    let mut rows = Vec::new();
    while let Some(row) = source.next(context)? {
        rows.push(row);
    }
    let current = lock_for_write(table, context.transaction()?)?;
    let indexes = &current.as_ref().unwrap_or(table).indexes;
    let mut buffer = Vec::new();
    let mut count = 0;
    let mut upsert = on_conflict.map(Upsert::new).transpose()?;
    let rows = rows
        .into_iter()
        .map(|row| conform_row(table, row))
        .collect::<Result<Vec<_>>>()?;
    // RETURNING is evaluated before anything is written, so its subqueries
    // see the table as the statement found it, as PostgreSQL's do. An
    // upsert decides row by row, and evaluates as it goes.
    if upsert.is_none()
        && let Some(returning) = returning.as_deref_mut()
    {
        for row in &rows {
            returning.push(row, context)?;
        }
    }
    for row in rows {
        if let Some(upsert) = upsert.as_mut() {
            match upsert.resolve(table, indexes, &row, context)? {
                Resolution::Insert => {}
                Resolution::Skip => continue,
                Resolution::Updated(new) => {
                    count += 1;
                    if let Some(returning) = returning.as_deref_mut() {
                        returning.push(&new, context)?;
                    }
                    continue;
                }
            }
        }
        let txn = context.transaction()?;
        let key = if table.primary_key.is_empty() {
            next_row_id(&row_id_key(table))?.to_be_bytes().to_vec()
        } else {
            let key = primary_key_of(table, &row)?;
            if txn.get(table.tree, &key)?.is_some() {
                return Err(duplicate_key(table, &row));
            }
            key
        };
        txn.set(table.tree, &key, &encode_row(&row))?;
        for index in indexes {
            if !insert_index_entry(txn, index, &row, &key, &mut buffer)? {
                // An arbiter's duplicate the upsert did not see was
                // committed after the snapshot: run again on a newer one.
                if upsert
                    .as_ref()
                    .is_some_and(|u| u.arbitrates_index(&index.name))
                {
                    return Err(txn.lose_conflict("a concurrent insert of the same key"));
                }
                return Err(duplicate_entry(table, index, &row));
            }
        }
        count += 1;
        if let Some(upsert) = upsert.as_mut() {
            upsert.touched(key);
            if let Some(returning) = returning.as_deref_mut() {
                returning.push(&row, context)?;
            }
        }
    }
    Ok(count)
}

/// Reads the rows a `Scan` plan selects, with their keys.
fn keyed_rows(source: &LogicalPlan, context: &mut Context<'_>) -> Result<Vec<(Vec<u8>, Row)>> {
    let mut scan = build_scan(source, &[], None)?;
    let mut rows = Vec::new();
    while let Some(entry) = scan.next_keyed(context)? {
        rows.push(entry);
    }
    Ok(rows)
}

/// Applies assignments (table column index, expression over the scan's
/// columns) to the rows `source` selects; returns how many.
pub fn update(
    table: &Table,
    source: &LogicalPlan,
    assignments: &[(usize, Expr)],
    context: &mut Context<'_>,
    mut returning: Option<&mut ReturningRows>,
) -> Result<u64> {
    let columns = source.output();
    let layout = Layout::new(&columns, &[]);
    let assignments = assignments
        .iter()
        .map(|(index, expr)| Ok((*index, layout.compile(expr)?)))
        .collect::<Result<Vec<_>>>()?;
    let current = lock_for_write(table, context.transaction()?)?;
    let indexes = &current.as_ref().unwrap_or(table).indexes;
    let targets = keyed_rows(source, context)?;
    let count = targets.len() as u64;
    // Every new row (and its RETURNING values) first, then the writes: the
    // expressions' subqueries see the table as the statement found it.
    let mut changes = Vec::with_capacity(targets.len());
    for (key, old) in targets {
        let mut new = old.clone();
        for (index, expr) in &assignments {
            new[*index] = expr.evaluate(&old, context)?;
        }
        let new = conform_row(table, new)?;
        if let Some(returning) = returning.as_deref_mut() {
            returning.push(&new, context)?;
        }
        changes.push((key, old, new));
    }
    for (key, old, new) in changes {
        rewrite_row(context.transaction()?, table, indexes, &key, &old, &new)?;
    }
    Ok(count)
}

/// Replaces row `old`, stored under `key`, with `new` (conformed), and
/// its index entries where they change; returns the key it is stored
/// under now (a new primary key moves it).
pub(super) fn rewrite_row(
    txn: &mut Transaction,
    table: &Table,
    indexes: &[Index],
    key: &[u8],
    old: &Row,
    new: &Row,
) -> Result<Vec<u8>> {
    let new_key = if table.primary_key.is_empty() {
        key.to_vec()
    } else {
        primary_key_of(table, new)?
    };
    if new_key != key {
        if txn.get(table.tree, &new_key)?.is_some() {
            return Err(duplicate_key(table, new));
        }
        txn.delete(table.tree, key)?;
    }
    txn.set(table.tree, &new_key, &encode_row(new))?;
    let (mut old_entry, mut new_entry) = (Vec::new(), Vec::new());
    for index in indexes {
        let old_has = encode_index_entry(index, old, key, &mut old_entry)?.is_some();
        let entry = encode_index_entry(index, new, &new_key, &mut new_entry)?;
        if old_has && entry.is_some() && old_entry == new_entry {
            continue;
        }
        if old_has {
            txn.delete_entry(index.tree, &old_entry)?;
        }
        if let Some(entry) = entry
            && !write_entry(txn, index, &new_entry, entry)?
        {
            return Err(duplicate_entry(table, index, new));
        }
    }
    Ok(new_key)
}

/// Deletes the rows `source` selects; returns how many, each also given
/// to `returning` as it was.
pub fn delete(
    table: &Table,
    source: &LogicalPlan,
    context: &mut Context<'_>,
    returning: Option<&mut ReturningRows>,
) -> Result<u64> {
    let current = lock_for_write(table, context.transaction()?)?;
    let indexes = &current.as_ref().unwrap_or(table).indexes;
    let targets = keyed_rows(source, context)?;
    if let Some(returning) = returning {
        for (_, row) in &targets {
            returning.push(row, context)?;
        }
    }
    let txn = context.transaction()?;
    let mut buffer = Vec::new();
    for (key, row) in &targets {
        txn.delete(table.tree, key)?;
        for index in indexes {
            delete_entry(txn, index, row, key, &mut buffer)?;
        }
    }
    Ok(targets.len() as u64)
}
