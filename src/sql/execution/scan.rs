//! Table access: a whole table, a primary-key range, or one key.
//!
//! The access path's expressions (key values, range bounds) are evaluated
//! once, when the first row is pulled, then converted to key bytes. A key
//! value that is NULL matches no row (no key equals NULL). A full or range
//! scan streams through an [`MvccScan`]; the scan registers its read range
//! with SSI when it opens, so a transaction's reads are exactly the ranges
//! its scans opened.

use std::ops::Bound;
use std::sync::Arc;

use super::context::Context;
use crate::error::{Error, Result};
use crate::sql::catalog::Table;
use crate::sql::encoding::{decode_row, encode_key};
use crate::sql::expr::{Expr, cast};
use crate::sql::plan::Access;
use crate::sql::types::{DataType, Row, Value};
use crate::storage::{Direction, KeyRange};
use crate::txn::MvccScan;

/// Reads a table's rows (with their storage keys, for DML).
pub struct ScanOperator {
    table: Arc<Table>,
    access: Access,
    filter: Option<Expr>,
    state: ScanState,
}

enum ScanState {
    /// Not opened yet.
    Ready,
    /// Streaming a key range.
    Scanning(Box<MvccScan>),
    /// A key lookup's row, if it found one.
    Single(Option<(Vec<u8>, Row)>),
    Done,
}

impl ScanOperator {
    pub fn new(table: Arc<Table>, access: Access, filter: Option<Expr>) -> ScanOperator {
        ScanOperator {
            table,
            access,
            filter,
            state: ScanState::Ready,
        }
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        Ok(self.next_keyed(context)?.map(|(_, row)| row))
    }

    /// The next row that passes the filter, with its storage key.
    pub fn next_keyed(&mut self, context: &mut Context<'_>) -> Result<Option<(Vec<u8>, Row)>> {
        if matches!(self.state, ScanState::Ready) {
            self.state = self.open(context)?;
        }
        loop {
            let (key, row) = match &mut self.state {
                ScanState::Ready | ScanState::Done => return Ok(None),
                ScanState::Single(found) => match found.take() {
                    Some(entry) => entry,
                    None => {
                        self.state = ScanState::Done;
                        return Ok(None);
                    }
                },
                ScanState::Scanning(scan) => match scan.next() {
                    Some(entry) => {
                        let (key, bytes) = entry?;
                        (key, decode_row(&bytes)?)
                    }
                    None => {
                        self.state = ScanState::Done;
                        return Ok(None);
                    }
                },
            };
            let passes = match &self.filter {
                Some(filter) => filter.is_true(&row, context)?,
                None => true,
            };
            if passes {
                return Ok(Some((key, row)));
            }
        }
    }

    fn open(&mut self, context: &mut Context<'_>) -> Result<ScanState> {
        let tree = self.table.tree;
        match &self.access {
            Access::Full => {
                let scan = context
                    .transaction()?
                    .scan(tree, KeyRange::all(), Direction::Forward);
                Ok(ScanState::Scanning(Box::new(scan)))
            }
            Access::Key(key) => {
                let mut values = Vec::with_capacity(key.len());
                for (expr, column) in key.iter().zip(&self.table.primary_key) {
                    match key_value(expr, self.table.columns[*column].data_type, context)? {
                        Some(value) => values.push(value),
                        None => return Ok(ScanState::Done),
                    }
                }
                let key = encode_key(&values)?;
                let found = match context.transaction()?.get(tree, &key)? {
                    Some(bytes) => Some((key, decode_row(&bytes)?)),
                    None => None,
                };
                Ok(ScanState::Single(found))
            }
            Access::Range { start, end } => {
                let data_type = self
                    .table
                    .primary_key
                    .first()
                    .map(|c| self.table.columns[*c].data_type)
                    .ok_or_else(|| Error::Internal("key range without a key".into()))?;
                let (Some(start), Some(end)) = (
                    key_bound(start, data_type, context)?,
                    key_bound(end, data_type, context)?,
                ) else {
                    return Ok(ScanState::Done);
                };
                let range = KeyRange { start, end };
                if range.is_empty() {
                    return Ok(ScanState::Done);
                }
                let scan = context.transaction()?.scan(tree, range, Direction::Forward);
                Ok(ScanState::Scanning(Box::new(scan)))
            }
        }
    }
}

/// Evaluates a key expression and converts it to the column's type; `None`
/// if it is NULL (no key can equal NULL).
fn key_value(expr: &Expr, data_type: DataType, context: &mut Context<'_>) -> Result<Option<Value>> {
    let value = expr.evaluate(&[], context)?;
    if value.is_null() {
        return Ok(None);
    }
    // Integers encode width-independently and floats as f64, so only the
    // family matters; text needs no conversion.
    Ok(Some(match (data_type, &value) {
        (DataType::Real | DataType::Double, v) if v.as_i64().is_some() => {
            cast(value, DataType::Double)?
        }
        _ => value,
    }))
}

/// A range bound as key bytes; `None` if its value is NULL (the range is
/// empty then).
fn key_bound(
    bound: &Bound<Expr>,
    data_type: DataType,
    context: &mut Context<'_>,
) -> Result<Option<Bound<Vec<u8>>>> {
    Ok(Some(match bound {
        Bound::Unbounded => Bound::Unbounded,
        Bound::Included(expr) | Bound::Excluded(expr) => {
            let Some(value) = key_value(expr, data_type, context)? else {
                return Ok(None);
            };
            let key = encode_key(&[value])?;
            if matches!(bound, Bound::Included(_)) {
                Bound::Included(key)
            } else {
                Bound::Excluded(key)
            }
        }
    }))
}
