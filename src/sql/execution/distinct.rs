//! DISTINCT: streams, returning a row the first time it sees it.
//!
//! The rows seen are a hash set, held within `work_mem`. Once the set is
//! full, a row that is in it is still a duplicate, but a row that is not
//! might be new or a duplicate of another row not in it: such rows go to
//! hash partitions on disk (`spill.rs`), and each partition is
//! deduplicated the same way after the input ends, with a fresh set and,
//! should it overflow too, partitions of the next level:
//!
//! ```text
//!   input ──► in set? ──yes──► drop
//!               │ no
//!               ├── set has room ──► insert, return the row
//!               └── set full ──► partition h₀(row) ─┐
//!                                                   ▼ after the input
//!   each partition file ──► same steps with a fresh set, overflow by h₁ …
//! ```
//!
//! Invariants:
//!
//! 1. Every copy of a row value takes the same path: once one copy went to
//!    a partition, the value is not in the set, so later copies go there
//!    too; partitions of one step hold disjoint values. So each value is
//!    returned once, by the set that first holds it.
//! 2. Every step keeps at least one row in its set, and all copies of it
//!    are then dropped, so each level is smaller and the recursion ends.
//! 3. Rows come out in input order within memory; spilled rows come after
//!    and partition by partition (SQL leaves the order undefined).

use super::hash::RowSet;

use super::Operator;
use super::context::Context;
use super::spill::{ENTRY_OVERHEAD, Partitioner, RowFile, RowReader, fan_out, row_size};
use crate::error::Result;
use crate::sql::types::Row;

/// Removes duplicate rows, streaming: each row is returned when first seen.
pub struct DistinctOperator {
    input: Box<Operator>,
    input_done: bool,
    rows: Deduplicator,
}

impl DistinctOperator {
    pub fn new(input: Operator) -> DistinctOperator {
        DistinctOperator {
            input: Box::new(input),
            input_done: false,
            rows: Deduplicator::new(None),
        }
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        if !self.input_done {
            while let Some(row) = self.input.next(context)? {
                if let Some(row) = self.rows.offer(row, context)? {
                    return Ok(Some(row));
                }
            }
            self.input_done = true;
        }
        self.rows.drain(context)
    }
}

/// The distinct rows of a stream, within a memory budget (the module
/// docs' algorithm): [`Deduplicator::offer`] each row, then
/// [`Deduplicator::drain`] until `None`; after that it is empty and can be
/// used again.
pub(super) struct Deduplicator {
    /// Memory for the set; `None`: `work_mem`.
    budget: Option<usize>,
    seen: RowSet<Row>,
    bytes: usize,
    /// The partition level of the rows being offered.
    level: u32,
    /// Rows not in the full set.
    overflow: Option<Partitioner>,
    /// Partitions still to deduplicate, with their level.
    pending: Vec<(RowFile, u32)>,
    /// The partition being deduplicated.
    reading: Option<RowReader>,
}

impl Deduplicator {
    pub(super) fn new(budget: Option<usize>) -> Deduplicator {
        Deduplicator {
            budget,
            seen: RowSet::default(),
            bytes: 0,
            level: 0,
            overflow: None,
            pending: Vec::new(),
            reading: None,
        }
    }

    /// Sets the memory for the set (from the next offer on).
    pub(super) fn set_budget(&mut self, budget: usize) {
        self.budget = Some(budget);
    }

    /// Sets the partition level of the rows offered next, while empty:
    /// rows of a partition of `level` share their hashes of every level
    /// below it, so partitioning them by one of those would not split them.
    pub(super) fn set_level(&mut self, level: u32) {
        if self.seen.is_empty() && self.overflow.is_none() {
            self.level = level;
        }
    }

    /// `Some(row)` when the row is new and now remembered (return it now);
    /// `None` when it is a duplicate, or went to disk to come back from
    /// [`Deduplicator::drain`] if it is new.
    pub(super) fn offer(&mut self, row: Row, context: &mut Context<'_>) -> Result<Option<Row>> {
        if self.seen.contains(&row) {
            return Ok(None);
        }
        if self.overflow.is_none() {
            let size = row_size(&row) + ENTRY_OVERHEAD;
            let budget = self.budget.unwrap_or_else(|| context.work_mem());
            // Invariant 2: the first row always stays.
            if self.bytes + size <= budget || self.seen.is_empty() {
                self.bytes += size;
                self.seen.insert(row.clone());
                return Ok(Some(row));
            }
            self.overflow = Some(Partitioner::new(
                context.spill_space(),
                fan_out(context.work_mem()),
                self.level,
            ));
        }
        self.overflow
            .as_mut()
            .expect("invariant: made above")
            .push(&row, &row, 0)?;
        Ok(None)
    }

    /// After the last offer: the next new row from the partitions on
    /// disk; `None` when there are no more (the deduplicator is then
    /// empty).
    pub(super) fn drain(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        loop {
            if let Some(mut reader) = self.reading.take() {
                while let Some(row) = reader.next_row()? {
                    if let Some(row) = self.offer(row, context)? {
                        self.reading = Some(reader);
                        return Ok(Some(row));
                    }
                }
            }
            // The current source is done: its new rows were returned or are
            // in the overflow, which no other source's values can reach.
            self.seen.clear();
            self.bytes = 0;
            if let Some(overflow) = self.overflow.take() {
                let level = overflow.level() + 1;
                for file in overflow.finish()?.into_iter().flatten() {
                    self.pending.push((file, level));
                }
            }
            let Some((file, level)) = self.pending.pop() else {
                self.level = 0;
                return Ok(None);
            };
            self.level = level;
            self.reading = Some(file.reader()?);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::sql::execution::QueryState;
    use crate::sql::execution::spill::SpillSpace;
    use crate::sql::execution::spill::test_support::{files_in, values};
    use crate::sql::types::Value;

    fn distinct(rows: Vec<Row>, work_mem: usize) -> (Vec<Row>, usize) {
        let space = SpillSpace::temporary();
        let mut state = QueryState::new(Vec::new(), work_mem).with_spill_space(Arc::clone(&space));
        let mut context = Context::new(None, &mut state);
        let mut operator = DistinctOperator::new(values(rows));
        let mut out = Vec::new();
        let mut files = 0;
        while let Some(row) = operator.next(&mut context).expect("next") {
            // Now and then: reading the directory costs more than a row.
            if out.len() % 100 == 0 {
                files = files.max(files_in(&space));
            }
            out.push(row);
        }
        drop(operator);
        assert_eq!(files_in(&space), 0);
        (out, files)
    }

    #[test]
    fn a_spilling_distinct_returns_each_row_once() {
        // 60,000 rows of 20,000 values, numeric types mixed (1 = 1::bigint).
        let rows: Vec<Row> = (0..60_000i64)
            .map(|i| {
                let v = (i * 7) % 20_000;
                vec![
                    if i % 2 == 0 {
                        Value::BigInt(v)
                    } else {
                        Value::Integer(v as i32)
                    },
                    Value::Text(format!("t{}", v % 100).into()),
                ]
            })
            .collect();
        let (in_memory, files) = distinct(rows.clone(), 1 << 30);
        assert_eq!(files, 0);
        assert_eq!(in_memory.len(), 20_000);
        let (spilled, files) = distinct(rows, 64 * 1024);
        assert!(files > 0);
        assert_eq!(spilled.len(), 20_000);
        let mut a: Vec<i64> = in_memory.iter().map(|r| r[0].as_i64().unwrap()).collect();
        let mut b: Vec<i64> = spilled.iter().map(|r| r[0].as_i64().unwrap()).collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
        assert_eq!(a, (0..20_000).collect::<Vec<_>>());
    }
}
