//! Where statistics live: one MVCC key per analyzed table in the
//! statistics tree, so an `ANALYZE` commits or rolls back with its
//! transaction and survives restarts like any other catalog change.
//!
//! Key: the table's row tree id, 8 bytes big-endian (a table dropped and
//! created again under its name gets a new tree, so no stale statistics).
//! Value (little-endian; `f64` as IEEE bits):
//!
//! ```text
//!   u8 format (1) | f64 rows | u64 row bytes | u16 column count
//!   per column: u8 present (0: never analyzed, nothing follows)
//!     f64 null fraction | u32 average width | f64 distinct
//!     u32 length + row encoding of the most common values
//!     u16 count + f64 frequency each
//!     u32 length + row encoding of the histogram bounds
//!     u8 has correlation + f64 correlation
//! ```

use super::super::encoding::{Reader, decode_row, encode_row};
use super::super::types::Value;
use crate::error::{Error, Result};
use crate::storage::TreeId;
use crate::txn::Transaction;

/// The tree holding every table's statistics (a fixed id below the
/// allocated ones, beside the catalog's).
pub const STATISTICS_TREE: TreeId = 3;

/// What `ANALYZE` learned of a table.
#[derive(Clone, Debug, PartialEq)]
pub struct TableStatistics {
    /// Live rows when analyzed (PostgreSQL's `reltuples`).
    pub rows: f64,
    /// The bytes of their stored encodings, for page estimates.
    pub row_bytes: u64,
    /// By table column position; `None` for a column never analyzed.
    pub columns: Vec<Option<ColumnStatistics>>,
}

/// One column's statistics (PostgreSQL's `pg_statistic` row).
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnStatistics {
    /// The fraction of rows where the column is NULL.
    pub null_fraction: f64,
    /// The average width in bytes of the non-NULL values.
    pub average_width: u32,
    /// Distinct non-NULL values: a count when positive; when negative, the
    /// negated count per row (-1: unique), which scales with the table.
    pub distinct: f64,
    /// The most common values, most common first, and their frequencies
    /// (fractions of all rows).
    pub most_common: Vec<(Value, f64)>,
    /// Bounds of equi-depth buckets over the values not in `most_common`,
    /// ascending; empty when fewer than two such values were seen.
    pub histogram: Vec<Value>,
    /// How closely the column's order follows the rows' stored (primary
    /// key) order, from -1 to 1; `None` without two non-NULL values.
    pub correlation: Option<f64>,
}

impl ColumnStatistics {
    /// The distinct count for `rows` rows (resolving a negative fraction).
    pub fn distinct_count(&self, rows: f64) -> f64 {
        if self.distinct < 0.0 {
            -self.distinct * rows
        } else {
            self.distinct
        }
    }
}

fn key(tree: TreeId) -> [u8; 8] {
    tree.to_be_bytes()
}

/// The statistics of the table stored in `tree`, as the transaction's
/// snapshot shows them (what `pg_stats` reads).
pub fn get(txn: &mut Transaction, tree: TreeId) -> Result<Option<TableStatistics>> {
    txn.get(STATISTICS_TREE, &key(tree))?
        .map(|bytes| TableStatistics::decode(&bytes))
        .transpose()
}

/// The latest committed statistics (or this transaction's own), read
/// without registering a serializable read: what the planner uses, so an
/// `ANALYZE` never conflicts with the queries it informs.
pub fn get_current(txn: &mut Transaction, tree: TreeId) -> Result<Option<TableStatistics>> {
    txn.get_current(STATISTICS_TREE, &key(tree))?
        .map(|bytes| TableStatistics::decode(&bytes))
        .transpose()
}

pub fn put(txn: &mut Transaction, tree: TreeId, statistics: &TableStatistics) -> Result<()> {
    txn.set(STATISTICS_TREE, &key(tree), &statistics.encode())
}

/// Removes a dropped table's statistics.
pub fn delete(txn: &mut Transaction, tree: TreeId) -> Result<()> {
    if get_current(txn, tree)?.is_some() {
        txn.delete(STATISTICS_TREE, &key(tree))?;
    }
    Ok(())
}

/// Creates the statistics tree on first use of a database.
pub fn initialize(mvcc: &crate::txn::Mvcc) -> Result<()> {
    if !mvcc.engine().tree_exists(STATISTICS_TREE)? {
        mvcc.engine().create_tree(STATISTICS_TREE)?;
    }
    Ok(())
}

fn put_values(out: &mut Vec<u8>, values: &[Value]) {
    let encoded = encode_row(values);
    out.extend_from_slice(&(encoded.len() as u32).to_le_bytes());
    out.extend_from_slice(&encoded);
}

fn read_values(reader: &mut Reader<'_>) -> Result<Vec<Value>> {
    let length = reader.u32()? as usize;
    decode_row(reader.take(length)?)
}

fn read_f64(reader: &mut Reader<'_>) -> Result<f64> {
    Ok(f64::from_bits(reader.u64()?))
}

impl TableStatistics {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![1u8];
        out.extend_from_slice(&self.rows.to_bits().to_le_bytes());
        out.extend_from_slice(&self.row_bytes.to_le_bytes());
        out.extend_from_slice(&(self.columns.len() as u16).to_le_bytes());
        for column in &self.columns {
            let Some(column) = column else {
                out.push(0);
                continue;
            };
            out.push(1);
            out.extend_from_slice(&column.null_fraction.to_bits().to_le_bytes());
            out.extend_from_slice(&column.average_width.to_le_bytes());
            out.extend_from_slice(&column.distinct.to_bits().to_le_bytes());
            let values: Vec<Value> = column
                .most_common
                .iter()
                .map(|(value, _)| value.clone())
                .collect();
            put_values(&mut out, &values);
            out.extend_from_slice(&(column.most_common.len() as u16).to_le_bytes());
            for (_, frequency) in &column.most_common {
                out.extend_from_slice(&frequency.to_bits().to_le_bytes());
            }
            put_values(&mut out, &column.histogram);
            out.push(u8::from(column.correlation.is_some()));
            out.extend_from_slice(&column.correlation.unwrap_or(0.0).to_bits().to_le_bytes());
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<TableStatistics> {
        let mut reader = Reader::new(bytes, "table statistics");
        let format = reader.u8()?;
        if format != 1 {
            return Err(Error::Corrupt(format!(
                "unknown table statistics format {format}"
            )));
        }
        let rows = read_f64(&mut reader)?;
        let row_bytes = reader.u64()?;
        let count = reader.u16()?;
        let mut columns = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            if reader.u8()? == 0 {
                columns.push(None);
                continue;
            }
            let null_fraction = read_f64(&mut reader)?;
            let average_width = reader.u32()?;
            let distinct = read_f64(&mut reader)?;
            let values = read_values(&mut reader)?;
            let frequencies = reader.u16()?;
            if usize::from(frequencies) != values.len() {
                return Err(Error::Corrupt(format!(
                    "table statistics: {} most common values but {frequencies} frequencies",
                    values.len()
                )));
            }
            let mut most_common = Vec::with_capacity(values.len());
            for value in values {
                most_common.push((value, read_f64(&mut reader)?));
            }
            let histogram = read_values(&mut reader)?;
            let has_correlation = reader.u8()? != 0;
            let correlation = read_f64(&mut reader)?;
            columns.push(Some(ColumnStatistics {
                null_fraction,
                average_width,
                distinct,
                most_common,
                histogram,
                correlation: has_correlation.then_some(correlation),
            }));
        }
        if !reader.is_empty() {
            return Err(Error::Corrupt("table statistics: trailing bytes".into()));
        }
        Ok(TableStatistics {
            rows,
            row_bytes,
            columns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_round_trip_and_damage_is_an_error() {
        let statistics = TableStatistics {
            rows: 1234.0,
            row_bytes: 98765,
            columns: vec![
                Some(ColumnStatistics {
                    null_fraction: 0.25,
                    average_width: 4,
                    distinct: -0.5,
                    most_common: vec![(Value::Integer(7), 0.125), (Value::Integer(3), 0.0625)],
                    histogram: vec![Value::Integer(1), Value::Integer(50), Value::Integer(99)],
                    correlation: Some(-0.75),
                }),
                None,
                Some(ColumnStatistics {
                    null_fraction: 1.0,
                    average_width: 0,
                    distinct: 0.0,
                    most_common: Vec::new(),
                    histogram: Vec::new(),
                    correlation: None,
                }),
            ],
        };
        let bytes = statistics.encode();
        assert_eq!(TableStatistics::decode(&bytes).unwrap(), statistics);
        for cut in 0..bytes.len() {
            assert!(TableStatistics::decode(&bytes[..cut]).is_err(), "cut {cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(TableStatistics::decode(&extra).is_err());
    }
}
