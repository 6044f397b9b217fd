//! The executor: runs [`Plan`]s and DML against a transaction.
//!
//! Plans execute as pull-based iterators of rows (Volcano style); `Sort`,
//! `Aggregate` and `Distinct` materialise their input. DML first collects the
//! affected rows with their keys, then writes, so an UPDATE never sees its own
//! new versions (no Halloween problem).

use std::collections::{HashMap, HashSet};
use std::ops::Bound;

use super::catalog::Table;
use super::encoding::{decode_row, encode_key, encode_row};
use super::expr::{Expr, cast, truth};
use super::plan::{Aggregate, AggregateFunction, Plan, SortKey};
use super::types::{DataType, Row, Value, check_varchar};
use crate::error::{Error, Result, SqlState};
use crate::storage::{Direction, KeyRange};
use crate::txn::Transaction;

/// A stream of rows.
pub type Rows = Box<dyn Iterator<Item = Result<Row>>>;

/// Sequence name for hidden row ids of tables without a primary key.
fn row_id_key(table: &Table) -> Vec<u8> {
    format!("rowid/{}", table.tree).into_bytes()
}

fn passes(filter: &Option<Expr>, row: &Row, params: &[Value]) -> Result<bool> {
    match filter {
        None => Ok(true),
        Some(filter) => Ok(truth(&filter.evaluate(row, params)?)? == Some(true)),
    }
}

/// Evaluates a key expression and converts it to the column's type; `None`
/// if it is NULL (no key can equal NULL).
fn key_value(expr: &Expr, data_type: DataType, params: &[Value]) -> Result<Option<Value>> {
    let value = expr.evaluate(&[], params)?;
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

/// Rows of a Scan or KeyLookup together with their storage keys.
pub fn keyed_rows(
    plan: &Plan,
    txn: &mut Transaction,
    params: &[Value],
) -> Result<Vec<(Vec<u8>, Row)>> {
    let mut out = Vec::new();
    match plan {
        Plan::KeyLookup { table, key, filter } => {
            let mut values = Vec::with_capacity(key.len());
            for (expr, column) in key.iter().zip(&table.primary_key) {
                match key_value(expr, table.columns[*column].data_type, params)? {
                    Some(value) => values.push(value),
                    None => return Ok(out),
                }
            }
            let key = encode_key(&values)?;
            if let Some(bytes) = txn.get(table.tree, &key)? {
                let row = decode_row(&bytes)?;
                if passes(filter, &row, params)? {
                    out.push((key, row));
                }
            }
        }
        Plan::Scan {
            table,
            start,
            end,
            filter,
        } => {
            let data_type = table
                .primary_key
                .first()
                .map(|c| table.columns[*c].data_type);
            let bound = |bound: &Bound<Expr>| -> Result<Option<Bound<Vec<u8>>>> {
                Ok(Some(match bound {
                    Bound::Unbounded => Bound::Unbounded,
                    Bound::Included(expr) | Bound::Excluded(expr) => {
                        let data_type = data_type
                            .ok_or_else(|| Error::Internal("key range without a key".into()))?;
                        let Some(value) = key_value(expr, data_type, params)? else {
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
            };
            let (Some(start), Some(end)) = (bound(start)?, bound(end)?) else {
                return Ok(out);
            };
            let range = KeyRange { start, end };
            if range.is_empty() {
                return Ok(out);
            }
            for entry in txn.scan(table.tree, range, Direction::Forward) {
                let (key, bytes) = entry?;
                let row = decode_row(&bytes)?;
                if passes(filter, &row, params)? {
                    out.push((key, row));
                }
            }
        }
        other => return Err(Error::Internal(format!("keyed_rows on {other:?}"))),
    }
    Ok(out)
}

/// Executes a query plan.
pub fn execute(plan: &Plan, txn: &mut Transaction, params: &[Value]) -> Result<Rows> {
    let owned_params = params.to_vec();
    Ok(match plan {
        Plan::Values { rows } => {
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                out.push(
                    row.iter()
                        .map(|e| e.evaluate(&[], params))
                        .collect::<Result<Row>>()?,
                );
            }
            Box::new(out.into_iter().map(Ok))
        }
        Plan::KeyLookup { .. } => Box::new(
            keyed_rows(plan, txn, params)?
                .into_iter()
                .map(|(_, row)| Ok(row)),
        ),
        Plan::Scan {
            table,
            start: Bound::Unbounded,
            end: Bound::Unbounded,
            filter,
        } => {
            // Stream full scans instead of collecting them.
            let filter = filter.clone();
            let scan = txn.scan(table.tree, KeyRange::all(), Direction::Forward);
            Box::new(scan.filter_map(move |entry| {
                let row = match entry.and_then(|(_, bytes)| decode_row(&bytes)) {
                    Ok(row) => row,
                    Err(error) => return Some(Err(error)),
                };
                match passes(&filter, &row, &owned_params) {
                    Ok(true) => Some(Ok(row)),
                    Ok(false) => None,
                    Err(error) => Some(Err(error)),
                }
            }))
        }
        Plan::Scan { .. } => Box::new(
            keyed_rows(plan, txn, params)?
                .into_iter()
                .map(|(_, row)| Ok(row)),
        ),
        Plan::Filter { input, predicate } => {
            let predicate = predicate.clone();
            let input = execute(input, txn, params)?;
            Box::new(input.filter_map(move |row| {
                let row = match row {
                    Ok(row) => row,
                    Err(error) => return Some(Err(error)),
                };
                match predicate
                    .evaluate(&row, &owned_params)
                    .and_then(|v| truth(&v))
                {
                    Ok(Some(true)) => Some(Ok(row)),
                    Ok(_) => None,
                    Err(error) => Some(Err(error)),
                }
            }))
        }
        Plan::Project { input, exprs } => {
            let exprs = exprs.clone();
            let input = execute(input, txn, params)?;
            Box::new(input.map(move |row| {
                let row = row?;
                exprs
                    .iter()
                    .map(|e| e.evaluate(&row, &owned_params))
                    .collect()
            }))
        }
        Plan::Aggregate {
            input,
            group_by,
            aggregates,
        } => {
            let input = execute(input, txn, params)?;
            Box::new(
                aggregate(input, group_by, aggregates, params)?
                    .into_iter()
                    .map(Ok),
            )
        }
        Plan::Distinct { input } => {
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            for row in execute(input, txn, params)? {
                let row = row?;
                if seen.insert(row.clone()) {
                    out.push(row);
                }
            }
            Box::new(out.into_iter().map(Ok))
        }
        Plan::Sort { input, keys } => {
            let mut rows = execute(input, txn, params)?.collect::<Result<Vec<_>>>()?;
            sort(&mut rows, keys, params)?;
            Box::new(rows.into_iter().map(Ok))
        }
        Plan::Limit {
            input,
            limit,
            offset,
        } => {
            let count = |expr: &Option<Expr>,
                         what: &str,
                         state: SqlState|
             -> Result<Option<usize>> {
                let Some(expr) = expr else { return Ok(None) };
                match expr.evaluate(&[], params)? {
                    Value::Null => Ok(None),
                    value => {
                        let n = value
                            .as_i64()
                            .ok_or_else(|| Error::Internal("non-integer LIMIT".into()))?;
                        if n < 0 {
                            return Err(Error::sql(state, format!("{what} must not be negative")));
                        }
                        Ok(Some(n as usize))
                    }
                }
            };
            let limit = count(limit, "LIMIT", SqlState::INVALID_ROW_COUNT_IN_LIMIT_CLAUSE)?;
            let offset = count(
                offset,
                "OFFSET",
                SqlState::INVALID_ROW_COUNT_IN_RESULT_OFFSET_CLAUSE,
            )?
            .unwrap_or(0);
            let input = execute(input, txn, params)?.skip(offset);
            match limit {
                Some(limit) => Box::new(input.take(limit)),
                None => Box::new(input),
            }
        }
    })
}

fn sort(rows: &mut [Row], keys: &[SortKey], params: &[Value]) -> Result<()> {
    // Sort keys are output offsets here; evaluate once per row.
    let mut keyed: Vec<(Vec<Value>, usize)> = Vec::with_capacity(rows.len());
    for (index, row) in rows.iter().enumerate() {
        let values = keys
            .iter()
            .map(|k| k.expr.evaluate(row, params))
            .collect::<Result<Vec<_>>>()?;
        keyed.push((values, index));
    }
    keyed.sort_by(|(a, _), (b, _)| {
        for ((x, y), key) in a.iter().zip(b).zip(keys) {
            let ordering = match (x.is_null(), y.is_null()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => {
                    if key.nulls_first {
                        std::cmp::Ordering::Less
                    } else {
                        std::cmp::Ordering::Greater
                    }
                }
                (false, true) => {
                    if key.nulls_first {
                        std::cmp::Ordering::Greater
                    } else {
                        std::cmp::Ordering::Less
                    }
                }
                _ => {
                    let ordering = x.total_cmp(y);
                    if key.descending {
                        ordering.reverse()
                    } else {
                        ordering
                    }
                }
            };
            if ordering != std::cmp::Ordering::Equal {
                return ordering;
            }
        }
        std::cmp::Ordering::Equal
    });
    let mut sorted: Vec<Row> = Vec::with_capacity(rows.len());
    for (_, index) in &keyed {
        sorted.push(std::mem::take(&mut rows[*index]));
    }
    for (slot, row) in rows.iter_mut().zip(sorted) {
        *slot = row;
    }
    Ok(())
}

/// Running state of one aggregate within one group.
#[derive(Clone)]
struct Accumulator {
    count: i64,
    sum_integer: i128,
    sum_float: f64,
    best: Option<Value>,
    seen: Option<HashSet<Value>>,
}

impl Accumulator {
    fn new(aggregate: &Aggregate) -> Accumulator {
        Accumulator {
            count: 0,
            sum_integer: 0,
            sum_float: 0.0,
            best: None,
            seen: aggregate.distinct.then(HashSet::new),
        }
    }

    fn add(&mut self, aggregate: &Aggregate, value: Value) -> Result<()> {
        if aggregate.function == AggregateFunction::CountStar {
            self.count += 1;
            return Ok(());
        }
        if value.is_null() {
            return Ok(());
        }
        if let Some(seen) = &mut self.seen
            && !seen.insert(value.clone())
        {
            return Ok(());
        }
        self.count += 1;
        match aggregate.function {
            AggregateFunction::Sum | AggregateFunction::Avg => match value.as_i64() {
                Some(v) => self.sum_integer += v as i128,
                None => self.sum_float += value.as_f64().unwrap_or(0.0),
            },
            AggregateFunction::Min | AggregateFunction::Max => {
                let replace = match &self.best {
                    None => true,
                    Some(best) => {
                        let ordering = value.total_cmp(best);
                        if aggregate.function == AggregateFunction::Min {
                            ordering.is_lt()
                        } else {
                            ordering.is_gt()
                        }
                    }
                };
                if replace {
                    self.best = Some(value);
                }
            }
            AggregateFunction::Count | AggregateFunction::CountStar => {}
        }
        Ok(())
    }

    fn finish(self, aggregate: &Aggregate) -> Result<Value> {
        Ok(match aggregate.function {
            AggregateFunction::Count | AggregateFunction::CountStar => Value::BigInt(self.count),
            _ if self.count == 0 => Value::Null,
            AggregateFunction::Sum => match aggregate.data_type {
                DataType::BigInt => {
                    Value::BigInt(i64::try_from(self.sum_integer).map_err(|_| {
                        Error::sql(SqlState::NUMERIC_VALUE_OUT_OF_RANGE, "bigint out of range")
                    })?)
                }
                DataType::Real => Value::Real(self.sum_float as f32),
                _ => Value::Double(self.sum_float),
            },
            AggregateFunction::Avg => {
                let total = self.sum_integer as f64 + self.sum_float;
                Value::Double(total / self.count as f64)
            }
            AggregateFunction::Min | AggregateFunction::Max => self.best.unwrap_or(Value::Null),
        })
    }
}

fn aggregate(
    input: Rows,
    group_by: &[Expr],
    aggregates: &[Aggregate],
    params: &[Value],
) -> Result<Vec<Row>> {
    let mut groups: Vec<(Row, Vec<Accumulator>)> = Vec::new();
    let mut index: HashMap<Row, usize> = HashMap::new();
    let fresh = || aggregates.iter().map(Accumulator::new).collect::<Vec<_>>();
    if group_by.is_empty() {
        groups.push((Vec::new(), fresh()));
        index.insert(Vec::new(), 0);
    }
    for row in input {
        let row = row?;
        let key = group_by
            .iter()
            .map(|e| e.evaluate(&row, params))
            .collect::<Result<Row>>()?;
        let slot = match index.get(&key) {
            Some(slot) => *slot,
            None => {
                groups.push((key.clone(), fresh()));
                index.insert(key, groups.len() - 1);
                groups.len() - 1
            }
        };
        let accumulators = &mut groups[slot].1;
        for (accumulator, aggregate) in accumulators.iter_mut().zip(aggregates) {
            let value = match &aggregate.arg {
                Some(arg) => arg.evaluate(&row, params)?,
                None => Value::Null,
            };
            accumulator.add(aggregate, value)?;
        }
    }
    groups
        .into_iter()
        .map(|(mut key, accumulators)| {
            for (accumulator, aggregate) in accumulators.into_iter().zip(aggregates) {
                key.push(accumulator.finish(aggregate)?);
            }
            Ok(key)
        })
        .collect()
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

/// Inserts the rows a plan produces; returns how many.
pub fn insert(
    table: &Table,
    source: &Plan,
    txn: &mut Transaction,
    params: &[Value],
    next_row_id: &mut dyn FnMut(&[u8]) -> Result<u64>,
) -> Result<u64> {
    let rows = execute(source, txn, params)?.collect::<Result<Vec<_>>>()?;
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

/// Applies assignments to the rows a scan selects; returns how many.
pub fn update(
    table: &Table,
    source: &Plan,
    assignments: &[(usize, Expr)],
    txn: &mut Transaction,
    params: &[Value],
) -> Result<u64> {
    let targets = keyed_rows(source, txn, params)?;
    let count = targets.len() as u64;
    for (key, old) in targets {
        let mut new = old.clone();
        for (index, expr) in assignments {
            new[*index] = expr.evaluate(&old, params)?;
        }
        let new = conform_row(table, new)?;
        let new_key = if table.primary_key.is_empty() {
            key.clone()
        } else {
            primary_key_of(table, &new)?
        };
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

/// Deletes the rows a scan selects; returns how many.
pub fn delete(source: &Plan, txn: &mut Transaction, params: &[Value]) -> Result<u64> {
    let (Plan::Scan { table, .. } | Plan::KeyLookup { table, .. }) = source else {
        return Err(Error::Internal(
            "DELETE source is not a table access".into(),
        ));
    };
    let tree = table.tree;
    let targets = keyed_rows(source, txn, params)?;
    for (key, _) in &targets {
        txn.delete(tree, key)?;
    }
    Ok(targets.len() as u64)
}
