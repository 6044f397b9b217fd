//! INSERT, UPDATE and DELETE against a transaction.
//!
//! Each first reads every affected row (with its storage key), then writes,
//! so a statement never sees its own new versions (no Halloween problem:
//! an UPDATE that moves a row forward in key order does not meet it
//! again). Rows are conformed to their table before they are written:
//! values converted to the column types, `varchar(n)` limits and NOT NULL
//! checked.

use super::context::Context;
use super::{Layout, Operator, build_scan};
use crate::error::{Error, Result, SqlState};
use crate::sql::catalog::Table;
use crate::sql::encoding::{encode_key, encode_row};
use crate::sql::expr::{Expr, cast};
use crate::sql::plan::LogicalPlan;
use crate::sql::types::{DataType, Row, Value, check_varchar};

/// Sequence name for hidden row ids of tables without a primary key.
fn row_id_key(table: &Table) -> Vec<u8> {
    format!("rowid/{}", table.tree).into_bytes()
}

/// Makes a row fit its table: values converted to the column types,
/// `varchar(n)` limits and NOT NULL checked.
fn conform_row(table: &Table, row: Row) -> Result<Row> {
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
                Value::Text(check_varchar(text, limit)?.to_string())
            }
            (DataType::Text, Value::Text(_)) => value,
            (target, v) if v.data_type() == Some(target) => value,
            (target, _) => cast(value, target)?,
        };
        out.push(value);
    }
    Ok(out)
}

fn primary_key_of(table: &Table, row: &Row) -> Result<Vec<u8>> {
    let values: Vec<Value> = table.primary_key.iter().map(|i| row[*i].clone()).collect();
    encode_key(&values)
}

fn duplicate_key(table: &Table, row: &Row) -> Error {
    let names: Vec<&str> = table
        .primary_key
        .iter()
        .map(|i| table.columns[*i].name.as_str())
        .collect();
    let values: Vec<String> = table
        .primary_key
        .iter()
        .map(|i| row[*i].to_text().unwrap_or_default())
        .collect();
    Error::sql(
        SqlState::UNIQUE_VIOLATION,
        format!(
            "duplicate key value violates unique constraint \"{}\" (Key ({})=({}) already exists.)",
            table.primary_key_name(),
            names.join(", "),
            values.join(", ")
        ),
    )
}

/// Inserts the rows `source` produces (full-width rows in table column
/// order); returns how many.
pub fn insert(
    table: &Table,
    source: &mut Operator,
    context: &mut Context<'_>,
    next_row_id: &mut dyn FnMut(&[u8]) -> Result<u64>,
) -> Result<u64> {
    let mut rows = Vec::new();
    while let Some(row) = source.next(context)? {
        rows.push(row);
    }
    let txn = context.transaction()?;
    let mut count = 0;
    for row in rows {
        let row = conform_row(table, row)?;
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
        count += 1;
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
) -> Result<u64> {
    let columns = source.output();
    let layout = Layout::new(&columns, &[]);
    let assignments = assignments
        .iter()
        .map(|(index, expr)| Ok((*index, layout.compile(expr)?)))
        .collect::<Result<Vec<_>>>()?;
    let targets = keyed_rows(source, context)?;
    let count = targets.len() as u64;
    for (key, old) in targets {
        let mut new = old.clone();
        for (index, expr) in &assignments {
            new[*index] = expr.evaluate(&old, context)?;
        }
        let new = conform_row(table, new)?;
        let new_key = if table.primary_key.is_empty() {
            key.clone()
        } else {
            primary_key_of(table, &new)?
        };
        let txn = context.transaction()?;
        if new_key != key {
            if txn.get(table.tree, &new_key)?.is_some() {
                return Err(duplicate_key(table, &new));
            }
            txn.delete(table.tree, &key)?;
        }
        txn.set(table.tree, &new_key, &encode_row(&new))?;
    }
    Ok(count)
}

/// Deletes the rows `source` selects; returns how many.
pub fn delete(table: &Table, source: &LogicalPlan, context: &mut Context<'_>) -> Result<u64> {
    let targets = keyed_rows(source, context)?;
    let txn = context.transaction()?;
    for (key, _) in &targets {
        txn.delete(table.tree, key)?;
    }
    Ok(targets.len() as u64)
}
