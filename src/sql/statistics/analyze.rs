//! `ANALYZE`: sample a table, summarize each column.
//!
//! ```text
//!   scan every live row ──reservoir (Vitter's algorithm R)──► ≤ 30,000 rows
//!        │ rows, bytes                                          │ per column
//!        ▼                                                      ▼
//!   table: row count, bytes          sort non-NULL values, count runs of equals
//!                                    ├─ null fraction, average width
//!                                    ├─ distinct: exact if the sample is the
//!                                    │  table, else Haas & Stokes' Duj1
//!                                    ├─ most common values: repeated values
//!                                    │  whose sample count stands out
//!                                    ├─ histogram: ≤ 101 equi-depth bounds
//!                                    │  over the rest
//!                                    └─ correlation of value order with
//!                                       stored order
//! ```
//!
//! The sample size and the summaries follow PostgreSQL's `analyze.c` with
//! its default statistics target of 100 (300 × target rows; up to 100
//! most common values and 100 histogram buckets). Where we deviate:
//! PostgreSQL samples pages and then rows within them, so it reads only
//! part of a big table; we read every row (a B+tree of MVCC versions has
//! no page-level random access that would stay fair to versions), so
//! `ANALYZE` costs one scan of the table, but its row count is exact.
//! The scan reads the latest committed rows (a fresh snapshot that takes
//! no serializable read locks), as PostgreSQL's sampling ignores the
//! transaction's snapshot.
//!
//! Invariants:
//! 1. Frequencies and the null fraction are fractions of all sampled rows,
//!    so `null_fraction + Σ most_common ≤ 1`.
//! 2. Histogram bounds are ascending in the column's sort order and never
//!    include a most common value.

use super::store::{self, ColumnStatistics, TableStatistics};
use crate::error::{Error, Result, SqlState};
use crate::sql::catalog::Table;
use crate::sql::encoding::decode_row;
use crate::sql::types::Value;
use crate::storage::vfs::SplitMix64;
use crate::storage::{Direction, KeyRange};
use crate::txn::Transaction;

/// PostgreSQL's `default_statistics_target`.
pub const STATISTICS_TARGET: usize = 100;
/// Rows sampled per table (PostgreSQL: 300 × the target).
pub const SAMPLE_ROWS: usize = 300 * STATISTICS_TARGET;

/// `ANALYZE table [(columns)]` in `txn`: samples the table, summarizes the
/// named columns (every column when `columns` is `None`; 42703 for an
/// unknown one) and stores the result, keeping earlier statistics of the
/// columns not named.
pub fn analyze_and_store(
    txn: &mut Transaction,
    table: &Table,
    columns: Option<&[String]>,
) -> Result<()> {
    let positions: Vec<usize> = match columns {
        None => (0..table.columns.len()).collect(),
        Some(names) => names
            .iter()
            .map(|name| {
                table.column_index(name).ok_or_else(|| {
                    Error::sql(
                        SqlState::UNDEFINED_COLUMN,
                        format!(
                            "column \"{name}\" of relation \"{}\" does not exist",
                            table.name
                        ),
                    )
                })
            })
            .collect::<Result<_>>()?,
    };
    let previous = store::get_current(txn, table.tree)?;
    let statistics = analyze_table(txn, table, &positions, previous)?;
    store::put(txn, table.tree, &statistics)
}

/// Samples `table` and summarizes the columns at `columns` (positions);
/// the other columns keep what `previous` had for them.
pub fn analyze_table(
    txn: &mut Transaction,
    table: &Table,
    columns: &[usize],
    previous: Option<TableStatistics>,
) -> Result<TableStatistics> {
    let sample = sample_rows(txn, table, SAMPLE_ROWS, seed(table))?;
    let mut statistics = TableStatistics {
        rows: sample.rows as f64,
        row_bytes: sample.bytes,
        columns: vec![None; table.columns.len()],
    };
    if let Some(previous) = previous {
        for (slot, old) in statistics.columns.iter_mut().zip(previous.columns) {
            *slot = old;
        }
    }
    for &column in columns {
        let values: Vec<Value> = sample
            .rows_in_stored_order
            .iter()
            .map(|row| row.get(column).cloned().unwrap_or(Value::Null))
            .collect();
        statistics.columns[column] = Some(summarize(values, sample.rows as f64));
    }
    Ok(statistics)
}

/// A table's row count and bytes, and a uniform sample of its rows in the
/// order they are stored.
struct Sample {
    rows: u64,
    bytes: u64,
    rows_in_stored_order: Vec<Vec<Value>>,
}

fn seed(table: &Table) -> u64 {
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64);
    clock ^ table.tree.rotate_left(32)
}

/// Reservoir sampling: row `n` (from 0) replaces a random kept row with
/// probability `size / (n + 1)`, so every row is kept with equal chance.
/// Rows are decoded only when kept.
fn sample_rows(txn: &mut Transaction, table: &Table, size: usize, seed: u64) -> Result<Sample> {
    let mut random = SplitMix64(seed);
    let mut kept: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut rows = 0u64;
    let mut bytes = 0u64;
    for entry in txn.scan_current(table.tree, KeyRange::all(), Direction::Forward) {
        let (_, row) = entry?;
        bytes += row.len() as u64;
        if kept.len() < size {
            kept.push((rows, row));
        } else {
            let slot = random.below(rows + 1) as usize;
            if slot < size {
                kept[slot] = (rows, row);
            }
        }
        rows += 1;
    }
    kept.sort_unstable_by_key(|(ordinal, _)| *ordinal);
    let rows_in_stored_order = kept
        .into_iter()
        .map(|(_, row)| decode_row(&row))
        .collect::<Result<_>>()?;
    Ok(Sample {
        rows,
        bytes,
        rows_in_stored_order,
    })
}

/// The bytes a value takes in PostgreSQL's tuples (`avg_width`): fixed
/// widths, and text with its one-byte (short) or four-byte header.
fn width(value: &Value) -> usize {
    match value {
        Value::Null => 0,
        Value::Boolean(_) => 1,
        Value::SmallInt(_) => 2,
        Value::Integer(_) | Value::Real(_) | Value::Date(_) => 4,
        Value::BigInt(_)
        | Value::Double(_)
        | Value::Time(_)
        | Value::Timestamp(_)
        | Value::Timestamptz(_) => 8,
        Value::Interval(_) => 16,
        Value::Text(text) if text.len() < 127 => text.len() + 1,
        Value::Text(text) => text.len() + 4,
        // A short header and two bytes per base-10000 digit.
        Value::Numeric(number) => 3 + crate::sql::numeric::to_binary(number).len() - 8,
    }
}

/// Summarizes one column's sampled values (in stored order) from a table
/// of `table_rows` rows.
pub fn summarize(values: Vec<Value>, table_rows: f64) -> ColumnStatistics {
    let sample_rows = values.len() as f64;
    // (value, position in stored order), non-NULL only.
    let mut present: Vec<(Value, usize)> = values
        .into_iter()
        .enumerate()
        .filter(|(_, value)| !value.is_null())
        .map(|(position, value)| (value, position))
        .collect();
    let nulls = sample_rows - present.len() as f64;
    let null_fraction = if sample_rows > 0.0 {
        nulls / sample_rows
    } else {
        0.0
    };
    if present.is_empty() {
        return ColumnStatistics {
            null_fraction,
            average_width: 0,
            distinct: 0.0,
            most_common: Vec::new(),
            histogram: Vec::new(),
            correlation: None,
        };
    }
    // Truncated, as PostgreSQL stores it (an integer).
    let average_width =
        (present.iter().map(|(value, _)| width(value)).sum::<usize>() / present.len()) as u32;
    // Stable: equal values stay in stored order, as correlation wants.
    present.sort_by(|a, b| a.0.total_cmp(&b.0));
    let correlation = correlation(&present);
    // Runs of equal values: (first index into `present`, count).
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (index, (value, _)) in present.iter().enumerate() {
        match runs.last_mut() {
            Some((first, count)) if present[*first].0.total_cmp(value).is_eq() => *count += 1,
            _ => runs.push((index, 1)),
        }
    }
    let distinct = estimate_distinct(&runs, present.len(), sample_rows, table_rows, null_fraction);
    let most_common = most_common_runs(&runs, distinct, null_fraction, sample_rows, table_rows);
    let histogram = histogram(&present, &runs, &most_common);
    ColumnStatistics {
        null_fraction,
        average_width,
        distinct,
        most_common: most_common
            .iter()
            .map(|&(first, count)| (present[first].0.clone(), count as f64 / sample_rows))
            .collect(),
        histogram,
        correlation,
    }
}

/// The distinct count, stored as PostgreSQL does: negative (a fraction of
/// the rows) when it is likely to grow with the table.
fn estimate_distinct(
    runs: &[(usize, usize)],
    present: usize,
    sample_rows: f64,
    table_rows: f64,
    null_fraction: f64,
) -> f64 {
    let seen = runs.len() as f64;
    let once = runs.iter().filter(|(_, count)| *count == 1).count() as f64;
    if once == seen {
        // Every value unique in the sample: assume a unique column. (The
        // null fraction as PostgreSQL stores it, a float4, so the two agree
        // to the last digit.)
        return -(1.0 - f64::from(null_fraction as f32));
    }
    let estimate = if sample_rows >= table_rows || once == 0.0 {
        // The whole table, or every value seen at least twice (the sample
        // most likely holds them all).
        seen
    } else {
        // Haas & Stokes (1998), the Duj1 estimator: n·d / (n − f1 + f1·n/N).
        let n = present as f64;
        let total = table_rows * (1.0 - null_fraction);
        let denominator = (n - once) + once * n / total.max(n);
        ((n * seen) / denominator)
            .clamp(seen, total.max(seen))
            .round()
    };
    if estimate > 0.1 * table_rows {
        -(estimate / table_rows)
    } else {
        estimate
    }
}

/// The runs kept as most common values, most common first.
///
/// Candidates are values seen at least twice, up to the target. When the
/// sample is the whole table or holds every distinct value, all are kept
/// (each one's frequency is then exact). Otherwise the least common
/// candidate is dropped while its sample count is not significantly above
/// what a value outside the list would get (the rows the list does not
/// cover, spread evenly over the other distinct values), the test
/// PostgreSQL's `analyze_mcv_list` makes since version 11.
fn most_common_runs(
    runs: &[(usize, usize)],
    distinct: f64,
    null_fraction: f64,
    sample_rows: f64,
    table_rows: f64,
) -> Vec<(usize, usize)> {
    let mut candidates: Vec<(usize, usize)> = runs
        .iter()
        .copied()
        .filter(|(_, count)| *count >= 2)
        .collect();
    // Most common first; equal counts in value order.
    candidates.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let every_value_seen = candidates.len() == runs.len() && distinct > 0.0;
    if (every_value_seen && candidates.len() <= STATISTICS_TARGET) || sample_rows >= table_rows {
        candidates.truncate(STATISTICS_TARGET);
        return candidates;
    }
    candidates.truncate(STATISTICS_TARGET);
    let distinct = if distinct < 0.0 {
        -distinct * table_rows
    } else {
        distinct
    };
    let mut covered: usize = candidates.iter().map(|(_, count)| count).sum();
    while let Some(&(_, count)) = candidates.last() {
        let kept = candidates.len() as f64;
        let mut rest = (1.0 - covered as f64 / sample_rows - null_fraction).clamp(0.0, 1.0);
        let others = distinct - (kept - 1.0);
        if others > 1.0 {
            rest /= others;
        }
        // Keep the candidate (and every more common one) if its sample
        // count is clearly above what a value outside the list would get:
        // beyond two standard deviations of its own count (hypergeometric,
        // taking its sample frequency as its population frequency) plus a
        // continuity correction of one half — a Wald-type interval.
        let population = table_rows.max(sample_rows + 1.0);
        let successes = population * count as f64 / sample_rows;
        let variance =
            sample_rows * successes * (population - successes) * (population - sample_rows)
                / (population * population * (population - 1.0));
        if count as f64 > rest * sample_rows + 2.0 * variance.max(0.0).sqrt() + 0.5 {
            break;
        }
        covered -= count;
        candidates.pop();
    }
    candidates
}

/// Equi-depth bounds over the values outside the most common list.
fn histogram(
    present: &[(Value, usize)],
    runs: &[(usize, usize)],
    most_common: &[(usize, usize)],
) -> Vec<Value> {
    let mut in_list: Vec<usize> = most_common.iter().map(|(first, _)| *first).collect();
    in_list.sort_unstable();
    let rest: Vec<&Value> = runs
        .iter()
        .filter(|(first, _)| in_list.binary_search(first).is_err())
        .flat_map(|&(first, count)| present[first..first + count].iter().map(|(value, _)| value))
        .collect();
    let distinct_rest = runs.len() - most_common.len();
    if distinct_rest < 2 {
        return Vec::new();
    }
    let bounds = distinct_rest.min(STATISTICS_TARGET + 1);
    let last = rest.len() - 1;
    let mut histogram: Vec<Value> = Vec::with_capacity(bounds);
    for bound in 0..bounds {
        let value = rest[bound * last / (bounds - 1)];
        // Runs of one value can span two positions: keep bounds distinct.
        if histogram
            .last()
            .is_none_or(|previous| previous.total_cmp(value).is_lt())
        {
            histogram.push(value.clone());
        }
    }
    histogram
}

/// Pearson's correlation between the values' sorted order and their stored
/// order (`present` sorted by value, each with its stored position).
fn correlation(present: &[(Value, usize)]) -> Option<f64> {
    if present.len() < 2 {
        return None;
    }
    // Ranks of stored order among the non-NULL values.
    let mut by_position: Vec<(usize, usize)> = present
        .iter()
        .enumerate()
        .map(|(rank, (_, position))| (*position, rank))
        .collect();
    by_position.sort_unstable();
    let n = present.len() as f64;
    let mut sum_xy = 0.0;
    for (stored_rank, (_, value_rank)) in by_position.iter().enumerate() {
        sum_xy += stored_rank as f64 * *value_rank as f64;
    }
    // Both are permutations of 0..n: same sums and sums of squares.
    let sum = n * (n - 1.0) / 2.0;
    let sum_squares = (n - 1.0) * n * (2.0 * n - 1.0) / 6.0;
    let variance = n * sum_squares - sum * sum;
    Some((n * sum_xy - sum * sum) / variance)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn integers(values: impl IntoIterator<Item = i32>) -> Vec<Value> {
        values.into_iter().map(Value::Integer).collect()
    }

    #[test]
    fn a_unique_column_is_minus_one_distinct_with_a_full_histogram() {
        let statistics = summarize(integers(0..1000), 1000.0);
        assert_eq!(statistics.null_fraction, 0.0);
        assert_eq!(statistics.distinct, -1.0);
        assert!(statistics.most_common.is_empty());
        assert_eq!(statistics.histogram.len(), 101);
        assert_eq!(statistics.histogram[0], Value::Integer(0));
        assert_eq!(statistics.histogram[50], Value::Integer(499));
        assert_eq!(statistics.histogram[100], Value::Integer(999));
        assert_eq!(statistics.correlation, Some(1.0));
        assert_eq!(statistics.average_width, 4);
    }

    #[test]
    fn reversed_order_correlates_negatively() {
        let statistics = summarize(integers((0..100).rev()), 100.0);
        assert_eq!(statistics.correlation, Some(-1.0));
    }

    #[test]
    fn few_values_all_become_most_common_with_exact_frequencies() {
        // 0 appears 500 times, 1..=5 100 each, and 100 NULLs.
        let mut values = integers(std::iter::repeat_n(0, 500));
        for value in 1..=5 {
            values.extend(integers(std::iter::repeat_n(value, 100)));
        }
        values.extend(std::iter::repeat_n(Value::Null, 100));
        let statistics = summarize(values, 1100.0);
        assert!((statistics.null_fraction - 100.0 / 1100.0).abs() < 1e-12);
        assert_eq!(statistics.distinct, 6.0);
        assert_eq!(statistics.most_common.len(), 6);
        assert_eq!(statistics.most_common[0].0, Value::Integer(0));
        assert!((statistics.most_common[0].1 - 500.0 / 1100.0).abs() < 1e-12);
        assert!(statistics.histogram.is_empty(), "nothing left for buckets");
        let covered: f64 = statistics.most_common.iter().map(|(_, f)| f).sum();
        assert!((covered + statistics.null_fraction - 1.0).abs() < 1e-9);
    }

    #[test]
    fn a_sample_of_a_bigger_table_extrapolates_distinct_and_keeps_only_standouts() {
        // 30,000 sampled rows of a 3,000,000-row table: one hot value at
        // 10%, the rest spread over values each seen once or twice.
        let mut values = Vec::new();
        for index in 0..30_000 {
            values.push(Value::Integer(if index % 10 == 0 { -1 } else { index / 2 }));
        }
        let statistics = summarize(values, 3_000_000.0);
        assert_eq!(
            statistics.most_common.len(),
            1,
            "only the hot value stands out"
        );
        assert_eq!(statistics.most_common[0].0, Value::Integer(-1));
        assert!((statistics.most_common[0].1 - 0.1).abs() < 1e-12);
        // 15,001 values seen, 3,000 of them once: Duj1 extrapolates a
        // little past what was seen, below 10% of the table (a count).
        assert!(
            statistics.distinct > 15_001.0 && statistics.distinct < 20_000.0,
            "{}",
            statistics.distinct
        );
        assert_eq!(statistics.histogram.len(), 101);
        assert!(
            statistics
                .histogram
                .windows(2)
                .all(|pair| pair[0].total_cmp(&pair[1]).is_lt())
        );
        assert!(!statistics.histogram.contains(&Value::Integer(-1)));
    }

    #[test]
    fn many_values_seen_once_in_a_sample_scale_with_the_table() {
        // Every value seen once but one: most likely a near-unique column.
        let mut values = integers(0..29_999);
        values.push(Value::Integer(0));
        let statistics = summarize(values, 3_000_000.0);
        assert!(statistics.distinct < -0.5, "{}", statistics.distinct);
    }

    #[test]
    fn an_all_null_column_has_no_distinct_values() {
        let statistics = summarize(vec![Value::Null; 10], 10.0);
        assert_eq!(statistics.null_fraction, 1.0);
        assert_eq!(statistics.distinct, 0.0);
        assert_eq!(statistics.correlation, None);
    }

    #[test]
    fn text_width_counts_its_header() {
        let values = vec![Value::Text("abc".into()), Value::Text("abcdef".into())];
        // (4 + 7) / 2, truncated.
        assert_eq!(summarize(values, 2.0).average_width, 5);
    }
}
