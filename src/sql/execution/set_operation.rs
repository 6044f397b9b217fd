//! Set operations over two inputs of equal width. Rows compare as wholes,
//! NULL equal to NULL (`IS NOT DISTINCT FROM`), as SQL set operations do.
//!
//! ```text
//!   UNION ALL      left rows, then right rows (streams)
//!   UNION          the same, each distinct row once (streams)
//!   INTERSECT ALL  a left row as often as it is in both inputs
//!   INTERSECT      each distinct left row that is in the right input
//!   EXCEPT ALL     a left row as often as its left count exceeds its right
//!   EXCEPT         each distinct left row that is not in the right input
//! ```
//!
//! UNION deduplicates with `distinct.rs`'s `Deduplicator`, which spills on
//! its own. INTERSECT and EXCEPT count the right input's rows in a hash
//! table (row → count), then stream the left input against it; INTERSECT
//! zeroes a count once its row is returned, and EXCEPT passes the left
//! rows it keeps through a `Deduplicator`.
//!
//! When the count table outgrows `work_mem`, both inputs are partitioned
//! to disk by a hash of the whole row (`spill.rs`) and processed pair by
//! pair, since equal rows share a partition; a pair whose right side again
//! outgrows `work_mem` is partitioned again at the next level:
//!
//! ```text
//!   right ──► counts ──full──► right partitions: row ++ [count]  (table
//!                               entries with their counts, then rows ++ [1])
//!   left ───────────────────► left partitions: rows
//!   pair i: counts ◄── right file i;  left file i ──probe──► rows
//!           (counts full again: both files → partitions of level + 1)
//! ```
//!
//! Invariants: (1) a right record carries its count as an extra last
//! column, which is not part of its partition key; (2) partitions hold
//! disjoint values, so per-pair results add up to the whole result;
//! (3) past [`MAX_LEVEL`] a pair is processed in memory whatever its size
//! (only rows whose hashes collide at every level could get there).

use super::hash::RowMap;
use std::sync::Arc;

use super::Operator;
use super::context::Context;
use super::distinct::Deduplicator;
use super::spill::{
    ENTRY_OVERHEAD, Partitioner, RowFile, RowReader, SpillSpace, fan_out, row_size,
};
use crate::error::{Error, Result};
use crate::sql::plan::SetOperator;
use crate::sql::types::{Row, Value};

/// Partitioning levels before a pair is processed in memory regardless.
const MAX_LEVEL: u32 = 8;

pub struct SetOperation {
    op: SetOperator,
    all: bool,
    left: Box<Operator>,
    right: Box<Operator>,
    left_done: bool,
    /// UNION's rows seen; EXCEPT's kept rows seen.
    distinct: Deduplicator,
    phase: Phase,
}

/// INTERSECT and EXCEPT.
enum Phase {
    /// The right input is not read yet.
    Start,
    /// The right input's counts; left rows from `source`.
    Probe {
        counts: Counts,
        source: Source,
    },
    /// EXCEPT: the kept rows that went to disk for deduplication.
    Drain {
        then: Option<Vec<Pair>>,
    },
    /// The right input outgrew memory: partition pairs still to process.
    Pairs(Vec<Pair>),
    Done,
}

/// Where left rows come from.
enum Source {
    Input,
    File {
        reader: RowReader,
        /// The pairs to process after this one.
        rest: Vec<Pair>,
    },
}

/// Partition `i` of both inputs at some level.
struct Pair {
    right: Option<RowFile>,
    left: Option<RowFile>,
    level: u32,
}

/// The right input's rows with their counts.
#[derive(Default)]
struct Counts {
    table: RowMap<Row, usize>,
    bytes: usize,
}

impl Counts {
    fn add(&mut self, row: Row, count: usize) {
        let size = row_size(&row) + ENTRY_OVERHEAD;
        let entry = self.table.entry(row).or_default();
        if *entry == 0 {
            self.bytes += size;
        }
        *entry += count;
    }
}

impl SetOperation {
    pub fn new(op: SetOperator, all: bool, left: Operator, right: Operator) -> SetOperation {
        SetOperation {
            op,
            all,
            left: Box::new(left),
            right: Box::new(right),
            left_done: false,
            distinct: Deduplicator::new(None),
            phase: Phase::Start,
        }
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        if self.op == SetOperator::Union {
            return self.union(context);
        }
        loop {
            match &mut self.phase {
                Phase::Start => self.phase = self.count_right(context)?,
                Phase::Probe { counts, source } => {
                    // EXCEPT's kept rows share work_mem with the counts.
                    let work_mem = context.work_mem();
                    self.distinct
                        .set_budget(work_mem.saturating_sub(counts.bytes).max(work_mem / 4));
                    while let Some(row) = match source {
                        Source::Input => self.left.next(context)?,
                        Source::File { reader, .. } => reader.next_row()?,
                    } {
                        if let Some(row) =
                            keep(self.op, self.all, counts, &mut self.distinct, row, context)?
                        {
                            return Ok(Some(row));
                        }
                    }
                    let rest = match std::mem::replace(source, Source::Input) {
                        Source::Input => None,
                        Source::File { rest, .. } => Some(rest),
                    };
                    self.phase = Phase::Drain { then: rest };
                }
                Phase::Drain { then } => {
                    if let Some(row) = self.distinct.drain(context)? {
                        return Ok(Some(row));
                    }
                    self.phase = match then.take() {
                        Some(pairs) => Phase::Pairs(pairs),
                        None => Phase::Done,
                    };
                }
                Phase::Pairs(pairs) => {
                    let Some(pair) = pairs.pop() else {
                        self.phase = Phase::Done;
                        continue;
                    };
                    let rest = std::mem::take(pairs);
                    self.phase = self.start_pair(pair, rest, context)?;
                }
                Phase::Done => return Ok(None),
            }
        }
    }

    /// UNION [ALL]: left rows, then right rows.
    fn union(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        loop {
            let row = if self.left_done {
                self.right.next(context)?
            } else {
                match self.left.next(context)? {
                    Some(row) => Some(row),
                    None => {
                        self.left_done = true;
                        continue;
                    }
                }
            };
            match row {
                None if self.all => return Ok(None),
                None => return self.distinct.drain(context),
                Some(row) if self.all => return Ok(Some(row)),
                Some(row) => {
                    if let Some(row) = self.distinct.offer(row, context)? {
                        return Ok(Some(row));
                    }
                }
            }
        }
    }

    /// Counts the right input; partitions both inputs if it outgrows
    /// `work_mem`.
    fn count_right(&mut self, context: &mut Context<'_>) -> Result<Phase> {
        let work_mem = context.work_mem();
        let mut counts = Counts::default();
        while let Some(row) = self.right.next(context)? {
            counts.add(row, 1);
            if counts.bytes > work_mem {
                return self.partition_inputs(counts, context);
            }
        }
        Ok(Phase::Probe {
            counts,
            source: Source::Input,
        })
    }

    /// Partitions (level 0) the counted rows, the rest of the right input
    /// and the whole left input.
    fn partition_inputs(&mut self, counts: Counts, context: &mut Context<'_>) -> Result<Phase> {
        let space = context.spill_space();
        let fan_out = fan_out(context.work_mem());
        let mut right = Partitioner::new(Arc::clone(&space), fan_out, 0);
        for (mut row, count) in counts.table {
            push_counted(&mut right, &mut row, count)?;
        }
        while let Some(mut row) = self.right.next(context)? {
            push_counted(&mut right, &mut row, 1)?;
        }
        let mut left = Partitioner::new(space, fan_out, 0);
        while let Some(row) = self.left.next(context)? {
            left.push(&row, &row, 0)?;
        }
        Ok(Phase::Pairs(pairs(right.finish()?, left.finish()?, 1)))
    }

    /// Counts a pair's right file, then probes with its left file; a
    /// right file that outgrows `work_mem` is partitioned again.
    fn start_pair(
        &mut self,
        pair: Pair,
        mut rest: Vec<Pair>,
        context: &mut Context<'_>,
    ) -> Result<Phase> {
        let Some(left) = pair.left else {
            // Nothing to return from this pair.
            return Ok(Phase::Pairs(rest));
        };
        if pair.right.is_none() && self.op == SetOperator::Intersect {
            return Ok(Phase::Pairs(rest));
        }
        let work_mem = context.work_mem();
        let mut counts = Counts::default();
        if let Some(right) = &pair.right {
            let mut reader = right.reader()?;
            while let Some(mut record) = reader.next_row()? {
                let count = take_count(&mut record)?;
                counts.add(record, count);
                if counts.bytes > work_mem && pair.level < MAX_LEVEL {
                    rest.extend(repartition(right, &left, pair.level, context)?);
                    return Ok(Phase::Pairs(rest));
                }
            }
        }
        // EXCEPT's kept rows are all of this pair's partition.
        self.distinct.set_level(pair.level);
        Ok(Phase::Probe {
            counts,
            source: Source::File {
                reader: left.reader()?,
                rest,
            },
        })
    }
}

/// Whether a left row is returned, against the right input's counts
/// (EXCEPT's kept rows go through `distinct` unless ALL).
fn keep(
    op: SetOperator,
    all: bool,
    counts: &mut Counts,
    distinct: &mut Deduplicator,
    row: Row,
    context: &mut Context<'_>,
) -> Result<Option<Row>> {
    let count = counts.table.get_mut(&row);
    Ok(match (op, all, count) {
        (SetOperator::Intersect, true, Some(count)) if *count > 0 => {
            *count -= 1;
            Some(row)
        }
        (SetOperator::Intersect, false, Some(count)) if *count > 0 => {
            // Returned once: later copies find a zero count.
            *count = 0;
            Some(row)
        }
        (SetOperator::Except, true, Some(count)) if *count > 0 => {
            *count -= 1;
            None
        }
        (SetOperator::Except, true, _) => Some(row),
        (SetOperator::Except, false, Some(count)) if *count > 0 => None,
        (SetOperator::Except, false, _) => distinct.offer(row, context)?,
        _ => None,
    })
}

/// Appends the count column (invariant 1) and writes the record.
fn push_counted(partitioner: &mut Partitioner, row: &mut Row, count: usize) -> Result<()> {
    let width = row.len();
    row.push(Value::BigInt(count as i64));
    partitioner.push(&row[..width], row, 0)
}

/// Splits the count column off a right record.
fn take_count(record: &mut Row) -> Result<usize> {
    match record.pop() {
        Some(Value::BigInt(count)) if count > 0 => Ok(count as usize),
        other => Err(Error::Corrupt(format!(
            "a set operation's spilled row ends in {other:?}, not a count"
        ))),
    }
}

/// Pairs partition `i` of each side.
fn pairs(right: Vec<Option<RowFile>>, left: Vec<Option<RowFile>>, level: u32) -> Vec<Pair> {
    right
        .into_iter()
        .zip(left)
        .filter(|(right, left)| right.is_some() || left.is_some())
        .map(|(right, left)| Pair { right, left, level })
        .collect()
}

/// Partitions a pair's files at the next level.
fn repartition(
    right: &RowFile,
    left: &RowFile,
    level: u32,
    context: &mut Context<'_>,
) -> Result<Vec<Pair>> {
    let space: Arc<SpillSpace> = context.spill_space();
    let fan_out = fan_out(context.work_mem());
    let mut right_parts = Partitioner::new(Arc::clone(&space), fan_out, level);
    let mut reader = right.reader()?;
    while let Some(record) = reader.next_row()? {
        let width = record.len().saturating_sub(1);
        right_parts.push(&record[..width], &record, 0)?;
    }
    let mut left_parts = Partitioner::new(space, fan_out, level);
    let mut reader = left.reader()?;
    while let Some(row) = reader.next_row()? {
        left_parts.push(&row, &row, 0)?;
    }
    Ok(pairs(
        right_parts.finish()?,
        left_parts.finish()?,
        level + 1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::execution::QueryState;
    use crate::sql::execution::spill::test_support::{drain, values};

    fn run(op: SetOperator, all: bool, left: &[Row], right: &[Row], work_mem: usize) -> Vec<Row> {
        let space = SpillSpace::temporary();
        let mut state = QueryState::new(Vec::new(), work_mem).with_spill_space(Arc::clone(&space));
        let mut context = Context::new(None, &mut state);
        let operator = SetOperation::new(op, all, values(left.to_vec()), values(right.to_vec()));
        let (mut out, spilled) = drain(&space, &mut context, operator, SetOperation::next);
        let spills = work_mem < 1 << 20 && !(op == SetOperator::Union && all);
        assert_eq!(spilled, spills, "{op:?} {all}: spilled {spilled}");
        out.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
        out
    }

    fn rows(n: i64, modulus: i64, offset: i64) -> Vec<Row> {
        (0..n)
            .map(|i| {
                let v = (i * 13) % modulus + offset;
                vec![Value::BigInt(v), Value::Text(format!("r{}", v % 10).into())]
            })
            .collect()
    }

    #[test]
    fn spilled_set_operations_equal_the_in_memory_ones() {
        // Left: 30,000 rows, 15,000 values (each twice); right: 40,000
        // rows, 10,000 values from 5,000 on (each four times).
        let left = rows(30_000, 15_000, 0);
        let right = rows(40_000, 10_000, 5_000);
        for op in [
            SetOperator::Union,
            SetOperator::Intersect,
            SetOperator::Except,
        ] {
            for all in [false, true] {
                let expected = run(op, all, &left, &right, 1 << 30);
                let spilled = run(op, all, &left, &right, 64 * 1024);
                let n = expected.len();
                assert!(spilled == expected, "{op:?} all={all}: {n} rows differ");
                let count = match (op, all) {
                    (SetOperator::Union, true) => 70_000,
                    (SetOperator::Union, false) => 15_000,
                    (SetOperator::Intersect, true) => 20_000,
                    (SetOperator::Intersect, false) => 10_000,
                    (SetOperator::Except, true) => 10_000,
                    (SetOperator::Except, false) => 5_000,
                };
                assert_eq!(n, count, "{op:?} all={all}");
            }
        }
    }
}
