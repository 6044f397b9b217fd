//! Sorting: reads the whole input, evaluates the sort keys once per row,
//! and returns the rows in key order, stable (equal keys keep their input
//! order). NULLs sort by each key's `nulls_first`.
//!
//! The [`Sorter`] does the work for `SortOperator` and for the operators
//! that sort on their own (window partitions, aggregates with DISTINCT or
//! ORDER BY). Within its limit (`work_mem`) the rows are sorted in memory.
//! Past it, the sort is an external merge sort (`spill.rs`), its sorted
//! runs written one after another into one file:
//!
//! ```text
//!   input ──► run (≤ limit) ──sort──► run 0 ┐
//!         ──► run            ──sort──► run 1 │ one file; while more than
//!         ──►   …                           ├ fan_in runs, a pass merges
//!         ──► last run       ──sort──► run n ┘ each fan_in consecutive runs
//!                                              into one run of a new file
//!              k-way merge: a BinaryHeap of each run's next row ──► rows
//! ```
//!
//! Invariants:
//!
//! 1. Rows held in memory stay under the limit (estimated with `row_size`
//!    of the row and its keys); a run is at least one row. Once a sort
//!    spilled, its last run goes to the file too, so while rows come out it
//!    holds only the merge's read buffers and one row per run.
//! 2. Stability: a run is a consecutive stretch of the input and is
//!    sorted stably; runs stay in input order through every pass, and the
//!    merge breaks ties by run number, so equal keys come out in input
//!    order, as from the in-memory sort.
//! 3. At most `fan_in = spill::fan_out(limit)` (≤ 64) runs are read at
//!    once: more runs are merged in passes first. Runs share a file, so a
//!    sort makes one file, and one more per pass (creating files is what
//!    costs most in a file system, beyond the bytes).
//! 4. A run's record is the row's key values followed by the row, so
//!    keys are evaluated once, never again at merge time.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;

use super::Operator;
use super::context::Context;
use super::spill::{Mark, RowFile, RowReader, RowWriter, SpillSpace, fan_out, row_size};
use crate::error::{Error, Result};
use crate::sql::plan::SortKey;
use crate::sql::types::{Row, Value};

/// A row with its evaluated sort keys.
pub(super) type Keyed = (Vec<Value>, Row);

/// How one key orders: ASC or DESC, NULLS FIRST or LAST.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Direction {
    pub descending: bool,
    pub nulls_first: bool,
}

impl Direction {
    /// `ASC NULLS LAST`, the default.
    pub const ASCENDING: Direction = Direction {
        descending: false,
        nulls_first: false,
    };

    pub fn of(key: &SortKey) -> Direction {
        Direction {
            descending: key.descending,
            nulls_first: key.nulls_first,
        }
    }
}

pub struct SortOperator {
    input: Box<Operator>,
    keys: Vec<SortKey>,
    output: Option<Sorted>,
}

impl SortOperator {
    pub fn new(input: Operator, keys: Vec<SortKey>) -> SortOperator {
        SortOperator {
            input: Box::new(input),
            keys,
            output: None,
        }
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        if self.output.is_none() {
            let directions = self.keys.iter().map(Direction::of).collect();
            let mut sorter = Sorter::new(directions, context.work_mem(), context.spill_space());
            while let Some(row) = self.input.next(context)? {
                let keys = self
                    .keys
                    .iter()
                    .map(|k| k.expr.evaluate(&row, context))
                    .collect::<Result<Vec<_>>>()?;
                sorter.push(keys, row)?;
            }
            self.output = Some(sorter.finish()?);
        }
        let output = self
            .output
            .as_mut()
            .expect("invariant: the output was computed above");
        Ok(output.next()?.map(|(_, row)| row))
    }
}

/// Sorts rows by given key values within a memory limit (the module
/// docs' algorithm): [`Sorter::push`] every row, then
/// [`Sorter::finish`] and read the rows in order.
pub(super) struct Sorter {
    order: Arc<[Direction]>,
    limit: usize,
    space: Arc<SpillSpace>,
    run: Vec<Keyed>,
    bytes: usize,
    /// The file of sorted runs, once the rows outgrew the limit, and its
    /// runs in input order.
    spilled: Option<(RowWriter, Vec<Run>)>,
}

/// A sorted run within a file: where it starts and its number of rows.
#[derive(Clone, Copy, Debug)]
struct Run {
    start: Mark,
    rows: u64,
}

impl Sorter {
    /// An empty sorter of keys ordered by `order`, holding at most `limit`
    /// estimated bytes in memory, spilling to `space`.
    pub fn new(order: Vec<Direction>, limit: usize, space: Arc<SpillSpace>) -> Sorter {
        Sorter {
            order: order.into(),
            limit,
            space,
            run: Vec::new(),
            bytes: 0,
            spilled: None,
        }
    }

    /// Adds a row with its key values (one per direction).
    pub fn push(&mut self, keys: Vec<Value>, row: Row) -> Result<()> {
        self.bytes += row_size(&keys) + row_size(&row);
        self.run.push((keys, row));
        if self.bytes > self.limit {
            self.write_run()?;
        }
        Ok(())
    }

    /// Sorts the run and appends it to the file; empties it.
    fn write_run(&mut self) -> Result<()> {
        let order = &self.order;
        self.run.sort_by(|(a, _), (b, _)| compare(a, b, order));
        let (writer, runs) = match &mut self.spilled {
            Some(spilled) => spilled,
            None => self
                .spilled
                .insert((RowWriter::create(&self.space)?, Vec::new())),
        };
        let start = writer.mark();
        for (mut record, row) in self.run.drain(..) {
            record.extend(row);
            writer.write(&record, 0)?;
        }
        runs.push(Run {
            start,
            rows: writer.rows() - start.row,
        });
        // Give the memory back, not just the rows.
        self.run = Vec::new();
        self.bytes = 0;
        Ok(())
    }

    /// The rows in order.
    pub fn finish(mut self) -> Result<Sorted> {
        if self.spilled.is_none() {
            let order = &self.order;
            self.run.sort_by(|(a, _), (b, _)| compare(a, b, order));
            return Ok(Sorted::Memory(std::mem::take(&mut self.run).into_iter()));
        }
        if !self.run.is_empty() {
            self.write_run()?;
        }
        let Some((writer, mut runs)) = self.spilled.take() else {
            return Err(Error::Internal("a spilled sort without its file".into()));
        };
        let mut file = writer.finish()?;
        let fan_in = fan_out(self.limit);
        while runs.len() > fan_in {
            (file, runs) = merge_pass(&file, &runs, fan_in, &self.order, &self.space)?;
        }
        let sources = runs
            .iter()
            .map(|run| file.reader_for(run.start, run.rows))
            .collect::<Result<_>>()?;
        // The readers keep the file.
        Ok(Sorted::Merge(Merger::new(
            sources,
            Arc::clone(&self.order),
        )?))
    }
}

/// A sorter's rows in order.
pub(super) enum Sorted {
    /// Everything fit in memory.
    Memory(std::vec::IntoIter<Keyed>),
    /// The final merge of the runs.
    Merge(Merger),
}

impl Sorted {
    /// The next row with its keys; `None` after the last.
    pub fn next(&mut self) -> Result<Option<Keyed>> {
        match self {
            Sorted::Memory(rows) => Ok(rows.next()),
            Sorted::Merge(merger) => merger.next(),
        }
    }
}

/// Merges each group of `fan_in` consecutive runs of `file` into one run
/// of a new file (invariants 2 and 3).
fn merge_pass(
    file: &RowFile,
    runs: &[Run],
    fan_in: usize,
    order: &Arc<[Direction]>,
    space: &Arc<SpillSpace>,
) -> Result<(RowFile, Vec<Run>)> {
    let mut writer = RowWriter::create(space)?;
    let mut merged = Vec::with_capacity(runs.len().div_ceil(fan_in));
    for group in runs.chunks(fan_in) {
        let sources = group
            .iter()
            .map(|run| file.reader_for(run.start, run.rows))
            .collect::<Result<_>>()?;
        let mut merger = Merger::new(sources, Arc::clone(order))?;
        let start = writer.mark();
        while let Some((mut record, row)) = merger.next()? {
            record.extend(row);
            writer.write(&record, 0)?;
        }
        merged.push(Run {
            start,
            rows: writer.rows() - start.row,
        });
    }
    // The caller replaces `file` with the new one, which removes it.
    Ok((writer.finish()?, merged))
}

/// The next row of a run file, split into its keys and the row.
fn read_keyed(reader: &mut RowReader, key_count: usize) -> Result<Option<Keyed>> {
    let Some(mut record) = reader.next_row()? else {
        return Ok(None);
    };
    if record.len() < key_count {
        return Err(Error::Corrupt(format!(
            "a sort run record of {} values for {key_count} keys",
            record.len()
        )));
    }
    let row = record.split_off(key_count);
    Ok(Some((record, row)))
}

/// A run's next row in the merge heap.
struct Head {
    keys: Vec<Value>,
    row: Row,
    source: usize,
    order: Arc<[Direction]>,
}

impl Ord for Head {
    /// Reversed, for the max-heap to pop the least key first; on equal
    /// keys the earlier run first (invariant 2).
    fn cmp(&self, other: &Head) -> Ordering {
        compare(&other.keys, &self.keys, &self.order).then(other.source.cmp(&self.source))
    }
}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Head) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Head) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head {}

/// A k-way merge of sorted runs.
pub(super) struct Merger {
    sources: Vec<RowReader>,
    heap: BinaryHeap<Head>,
    order: Arc<[Direction]>,
}

impl Merger {
    fn new(mut sources: Vec<RowReader>, order: Arc<[Direction]>) -> Result<Merger> {
        let mut heap = BinaryHeap::with_capacity(sources.len());
        for (index, source) in sources.iter_mut().enumerate() {
            if let Some((keys, row)) = read_keyed(source, order.len())? {
                heap.push(Head {
                    keys,
                    row,
                    source: index,
                    order: Arc::clone(&order),
                });
            }
        }
        Ok(Merger {
            sources,
            heap,
            order,
        })
    }

    fn next(&mut self) -> Result<Option<Keyed>> {
        let Some(head) = self.heap.pop() else {
            return Ok(None);
        };
        let source = &mut self.sources[head.source];
        if let Some((keys, row)) = read_keyed(source, self.order.len())? {
            self.heap.push(Head {
                keys,
                row,
                source: head.source,
                order: head.order,
            });
        }
        Ok(Some((head.keys, head.row)))
    }
}

/// Compares two rows' evaluated sort keys.
pub fn compare_keys(a: &[Value], b: &[Value], keys: &[SortKey]) -> Ordering {
    compare_by(a, b, keys.iter().map(Direction::of))
}

/// Compares key tuples, each key in its direction.
pub(super) fn compare(a: &[Value], b: &[Value], order: &[Direction]) -> Ordering {
    compare_by(a, b, order.iter().copied())
}

fn compare_by(a: &[Value], b: &[Value], order: impl Iterator<Item = Direction>) -> Ordering {
    for ((x, y), direction) in a.iter().zip(b).zip(order) {
        let ordering = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) if direction.nulls_first => Ordering::Less,
            (true, false) => Ordering::Greater,
            (false, true) if direction.nulls_first => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) if direction.descending => x.total_cmp(y).reverse(),
            (false, false) => x.total_cmp(y),
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::execution::QueryState;
    use crate::sql::execution::spill::test_support::{files_in, values};
    use crate::sql::expr::Expr;

    fn key(slot: usize, descending: bool, nulls_first: bool) -> SortKey {
        SortKey {
            expr: Expr::Slot(slot),
            descending,
            nulls_first,
        }
    }

    /// Rows `(i, pseudo-random group, text, NULL every 7th)`.
    fn input(n: i64) -> Vec<Row> {
        (0..n)
            .map(|i| {
                let group = (i * 7919) % 1013;
                vec![
                    Value::BigInt(i),
                    Value::Integer(group as i32),
                    Value::Text(format!("text {}", (i * 31) % 977).into()),
                    if i % 7 == 0 {
                        Value::Null
                    } else {
                        Value::Double(((i * 13) % 101) as f64)
                    },
                ]
            })
            .collect()
    }

    fn sort(rows: Vec<Row>, keys: Vec<SortKey>, work_mem: usize) -> (Vec<Row>, usize) {
        let space = SpillSpace::temporary();
        let mut state = QueryState::new(Vec::new(), work_mem).with_spill_space(Arc::clone(&space));
        let mut context = Context::new(None, &mut state);
        let mut operator = SortOperator::new(values(rows), keys);
        let mut out = Vec::new();
        let mut peak_files = 0;
        while let Some(row) = operator.next(&mut context).expect("next") {
            // Now and then: reading the directory costs more than a row.
            if out.len() % 1000 == 0 {
                peak_files = peak_files.max(files_in(&space));
            }
            out.push(row);
        }
        drop(operator);
        assert_eq!(files_in(&space), 0, "the sort's files go with it");
        (out, peak_files)
    }

    #[test]
    fn an_external_sort_equals_the_in_memory_sort() {
        let rows = input(40_000);
        for keys in [
            vec![key(1, false, false)],
            vec![key(3, true, true), key(2, false, false)],
            vec![key(2, true, false), key(3, false, false)],
        ] {
            let (in_memory, files) = sort(rows.clone(), keys.clone(), 1 << 30);
            assert_eq!(files, 0);
            let (external, files) = sort(rows.clone(), keys.clone(), 64 * 1024);
            assert_eq!(files, 1, "64 kB spills, all runs in one file");
            // Equal rows, equal order: ties (many: 1013 groups) kept input
            // order in both, which compares column 0.
            assert_eq!(in_memory.len(), external.len());
            assert!(in_memory == external, "external sort differs");
            let mut expected = rows.clone();
            expected.sort_by(|a, b| {
                let ka: Vec<Value> = keys.iter().map(|k| a[slot(k)].clone()).collect();
                let kb: Vec<Value> = keys.iter().map(|k| b[slot(k)].clone()).collect();
                compare_keys(&ka, &kb, &keys)
            });
            assert!(external == expected);
        }
    }

    fn slot(key: &SortKey) -> usize {
        match key.expr {
            Expr::Slot(slot) => slot,
            _ => unreachable!("slot keys"),
        }
    }

    #[test]
    fn a_sort_of_one_or_no_rows_per_run_and_empty_input() {
        let (out, _) = sort(Vec::new(), vec![key(0, false, false)], 64 * 1024);
        assert!(out.is_empty());
        // Rows bigger than work_mem: one row per run, many passes.
        let big: Vec<Row> = (0..200)
            .map(|i| {
                vec![
                    Value::Integer((i * 37) % 200),
                    Value::Text("x".repeat(70_000).into()),
                ]
            })
            .collect();
        let (out, _) = sort(big, vec![key(0, true, false)], 64 * 1024);
        let order: Vec<i64> = out.iter().map(|r| r[0].as_i64().expect("int")).collect();
        assert_eq!(order, (0..200).rev().collect::<Vec<_>>());
    }

    #[test]
    fn a_corrupt_run_is_an_error() {
        let space = SpillSpace::temporary();
        let mut state = QueryState::new(Vec::new(), 64 * 1024).with_spill_space(Arc::clone(&space));
        let mut context = Context::new(None, &mut state);
        let mut operator = SortOperator::new(values(input(20_000)), vec![key(1, false, false)]);
        assert!(operator.next(&mut context).expect("first").is_some());
        // Damage every run file under the open merge.
        let directory = space.directory().expect("spilled");
        for entry in std::fs::read_dir(&directory).expect("dir") {
            let path = entry.expect("entry").path();
            let mut bytes = std::fs::read(&path).expect("read");
            let middle = bytes.len() / 2;
            bytes[middle] ^= 1;
            std::fs::write(&path, bytes).expect("write");
        }
        let error = loop {
            match operator.next(&mut context) {
                Ok(Some(_)) => {}
                Ok(None) => panic!("corruption went unnoticed"),
                Err(error) => break error,
            }
        };
        assert!(matches!(error, Error::Corrupt(_)), "{error:?}");
    }
}
