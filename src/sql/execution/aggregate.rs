//! Hash aggregation: one row per group (group values, then aggregate
//! results, then the grouping set's index when there are grouping sets),
//! the groups in the order they first appeared while they fit in memory.
//!
//! With grouping sets (`ROLLUP`, `CUBE`, `GROUPING SETS`) each input row
//! counts once in each set, grouped by that set's columns, the other group
//! columns NULL:
//!
//! ```text
//!   GROUP BY ROLLUP (a, b): sets [a, b], [a], []
//!   row (a=1, b=2) ─► groups (set 0: 1, 2), (set 1: 1, NULL), (set 2: NULL, NULL)
//! ```
//!
//! A set without columns (and an aggregation without GROUP BY) has exactly
//! one group even for no input: `count(*)` of an empty table is 0. Each
//! aggregate call of each group keeps an `Accumulator` (`accumulator.rs`).
//!
//! **Bounded memory.** The groups are a hash table on (set, group values)
//! whose estimated size stays within `work_mem` (PostgreSQL's hash
//! aggregation spilling, `spill.rs`):
//!
//! ```text
//!   (set, group) of an input ──► in the table? ──yes──► update its accumulators
//!                                   │ no
//!                                   ├── room ──► new group
//!                                   └── full ──► partition by h_level(set, group):
//!                                                 [set, group…, each call's input]
//!   end of input: return the table's groups, then each partition file
//!   aggregated the same way at level + 1 (its overflow at level + 2, …)
//! ```
//!
//! DISTINCT and ORDER BY calls hold their inputs until the group ends
//! (pending inputs). When the table is over its share of memory with
//! pending inputs in it, pending inputs move to one `Sorter` per such call,
//! keyed by (group number, the call's pending order): those of the group
//! that just grew, or of every group once they are half of the table (a
//! pass over all groups is worth it only when it frees much). At the end
//! each group's inputs come out of the sorters in group order and in the
//! order the call feeds them.
//!
//! Invariants:
//!
//! 1. Every input of a group takes the same path: once the table is full
//!    a group not in it never enters it, so all its inputs go to the same
//!    partition (the hash is of the group), and partitions of one level
//!    hold disjoint groups. So each group is aggregated, and returned,
//!    exactly once.
//! 2. Every table holds at least one group, so a partition is smaller
//!    than the input it came from, and the recursion ends.
//! 3. Partition records carry each call's evaluated input (a FILTER flag,
//!    the ORDER BY keys, the arguments), never the input row: nothing is
//!    evaluated twice.
//! 4. The table holds at most `work_mem` (half of it when a call has
//!    pending inputs; the sorters share the other half), estimated as
//!    group values, accumulators and pending inputs. What one group's
//!    own state grows to (`string_agg`'s text) is not bounded, as in
//!    PostgreSQL.
//! 5. Pending inputs fed from the sorters are fed as if they had stayed
//!    (`accumulator.rs`, invariant 2), so the spilled result is the
//!    in-memory one.

use super::hash::RowMap;

use super::Operator;
use std::sync::Arc;

use super::accumulator::{Accumulator, aggregate_input, defers, pending_order};
use super::context::Context;
use super::parallel_aggregate::{self, Fragment, Outcome};
use super::sort::{Direction, Sorted, Sorter};
use super::spill::{ENTRY_OVERHEAD, Partitioner, RowFile, fan_out, row_size};
use crate::error::{Error, Result};
use crate::sql::expr::Expr;
use crate::sql::plan::Aggregate;
use crate::sql::types::{Row, Value};

/// One call's input from one row: its sort key and argument values, unless
/// its FILTER rejected the row. Reused from row to row.
#[derive(Default)]
pub(super) struct Input {
    pub(super) passed: bool,
    pub(super) keys: Vec<Value>,
    pub(super) args: Vec<Value>,
}

/// Hash aggregation (compiled: group keys and aggregate expressions read
/// the input row).
pub struct AggregateOperator {
    input: Box<Operator>,
    group_by: Vec<Expr>,
    /// Per group expression: the input column it moves out of each row,
    /// if it is a column that no other group expression reads.
    group_moves: Vec<Option<usize>>,
    /// The calls whose accumulators each group keeps: the query's calls,
    /// those that share a state (`Accumulator::shares_state`) once.
    aggregates: Vec<Aggregate>,
    /// Each of the query's calls, in order: the accumulator it finishes
    /// (an index into `aggregates`), the call itself, and whether it is
    /// that accumulator's last reader (which may move it).
    results: Vec<(usize, Aggregate, bool)>,
    /// The grouping sets, each the indices of its group columns (a plain
    /// GROUP BY is one set of every column).
    sets: Vec<Vec<usize>>,
    /// Whether the output has the grouping set's index.
    with_set: bool,
    /// Partition files still to aggregate, with their level.
    partitions: Vec<(RowFile, u32)>,
    /// What workers run if the input scan's rest goes to them
    /// (`parallel_aggregate.rs`); `None` if it may not.
    parallel: Option<Arc<Fragment>>,
    phase: Phase,
}

enum Phase {
    /// The input is not read yet.
    Start,
    /// Returning one table's groups.
    Output(Output),
    Done,
}

impl AggregateOperator {
    pub fn new(
        input: Operator,
        group_by: Vec<Expr>,
        aggregates: Vec<Aggregate>,
        sets: Option<Vec<Vec<usize>>>,
    ) -> Self {
        let with_set = sets.is_some();
        let sets = sets.unwrap_or_else(|| vec![(0..group_by.len()).collect()]);
        let (aggregates, results) = share_states(aggregates);
        let group_moves = Expr::sole_columns(&group_by);
        let mut input = input;
        let single_set = sets.len() == 1 && sets[0].len() == group_by.len();
        let parallel = match &mut input {
            Operator::Scan(scan) => {
                Fragment::new(scan.row_shape(), &group_by, &aggregates, single_set)
                    .filter(|_| scan.park_after_read_ahead_rows())
                    .map(Arc::new)
            }
            _ => None,
        };
        AggregateOperator {
            parallel,
            input: Box::new(input),
            group_moves,
            group_by,
            aggregates,
            results,
            sets,
            with_set,
            partitions: Vec::new(),
            phase: Phase::Start,
        }
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        loop {
            match &mut self.phase {
                Phase::Start => {
                    let table = self.read_input(context)?;
                    self.phase = Phase::Output(self.finish(table)?);
                }
                Phase::Output(output) => {
                    if let Some(row) =
                        output.next(&self.aggregates, &self.results, self.with_set)?
                    {
                        return Ok(Some(row));
                    }
                    self.phase = match self.partitions.pop() {
                        Some((file, level)) => {
                            let table = self.read_partition(&file, level, context)?;
                            Phase::Output(self.finish(table)?)
                        }
                        None => Phase::Done,
                    };
                }
                Phase::Done => return Ok(None),
            }
        }
    }

    /// Aggregates the input into a level-0 table.
    fn read_input(&mut self, context: &mut Context<'_>) -> Result<Table> {
        let mut table = Table::new(&self.aggregates, 0, context);
        for (set, columns) in self.sets.iter().enumerate() {
            if columns.is_empty() {
                let mut group = vec![Value::Integer(set as i32)];
                group.resize(1 + self.group_by.len(), Value::Null);
                table.create(group, &self.aggregates);
            }
        }
        // Buffers reused for every row: a row allocates only when it
        // starts a group.
        let mut values: Row = Vec::with_capacity(self.group_by.len());
        let mut group: Row = Vec::with_capacity(1 + self.group_by.len());
        let mut inputs: Vec<Input> = (0..self.aggregates.len())
            .map(|_| Input::default())
            .collect();
        let single_set = self.sets.len() == 1 && self.sets[0].len() == self.group_by.len();
        loop {
            while let Some(row) = self.input.next(context)? {
                if single_set {
                    let mut row = row;
                    single_set_row(
                        (&self.group_by, &self.group_moves, &self.aggregates),
                        &mut row,
                        context,
                        &mut inputs,
                        &mut group,
                    )?;
                    table.offer(&group, &inputs, &self.aggregates, context)?;
                    continue;
                }
                for (input, aggregate) in inputs.iter_mut().zip(&self.aggregates) {
                    input.passed = aggregate_input(
                        aggregate,
                        &row,
                        context,
                        &mut input.keys,
                        &mut input.args,
                    )?;
                }
                values.clear();
                for expr in &self.group_by {
                    values.push(expr.evaluate(&row, context)?);
                }
                for (set, columns) in self.sets.iter().enumerate() {
                    group.clear();
                    group.push(Value::Integer(set as i32));
                    group.extend(values.iter().enumerate().map(|(i, v)| {
                        if columns.contains(&i) {
                            v.clone()
                        } else {
                            Value::Null
                        }
                    }));
                    table.offer(&group, &inputs, &self.aggregates, context)?;
                }
            }
            if !self.parallel_rest(&mut table, context)? {
                return Ok(table);
            }
        }
    }

    /// Aggregates the rest of a parked input scan in workers, if it parked
    /// and workers start (`parallel_aggregate.rs`); `true` if the rest is
    /// still to be read here.
    fn parallel_rest(&mut self, table: &mut Table, context: &mut Context<'_>) -> Result<bool> {
        let (Some(fragment), Operator::Scan(scan)) = (&self.parallel, self.input.as_mut()) else {
            return Ok(false);
        };
        let Some(parked) = scan.take_parked() else {
            return Ok(false);
        };
        if table.overflow.is_some() {
            // Partial groups could not join groups already spilled
            // (aggregation invariant 1): the rest is read here.
            scan.resume(parked.scan);
            return Ok(true);
        }
        let rest = parked.rest.clone();
        match parallel_aggregate::run(fragment, scan.tree(), parked, context)? {
            Outcome::Groups(parts) => {
                for part in parts {
                    table.absorb(part, &self.aggregates)?;
                }
                Ok(false)
            }
            Outcome::NoWorkers(rest) => {
                scan.resume(rest);
                Ok(true)
            }
            Outcome::TooManyGroups => {
                scan.restart(rest, context)?;
                Ok(true)
            }
        }
    }

    /// Aggregates a partition file into a table of `level`.
    fn read_partition(
        &mut self,
        file: &RowFile,
        level: u32,
        context: &mut Context<'_>,
    ) -> Result<Table> {
        let mut table = Table::new(&self.aggregates, level, context);
        let mut reader = file.reader()?;
        while let Some(mut record) = reader.next_row()? {
            let width = 1 + self.group_by.len();
            if record.len() < width {
                return Err(Error::Corrupt(format!(
                    "an aggregate's spilled record of {} values",
                    record.len()
                )));
            }
            let inputs = decode_inputs(record.split_off(width), &self.aggregates)?;
            table.offer(&record, &inputs, &self.aggregates, context)?;
        }
        Ok(table)
    }

    /// Queues the table's partitions; its groups are the next output.
    fn finish(&mut self, table: Table) -> Result<Output> {
        let (output, partitions) = table.finish(&self.aggregates)?;
        self.partitions.extend(partitions);
        Ok(output)
    }
}

/// A plain GROUP BY's (or no GROUP BY's) step for one input row, shared by
/// the query's thread and parallel workers: each call's input (`inputs`),
/// then the group (`group`: set 0 and every group value). The calls'
/// inputs are evaluated first, so a group column no other group
/// expression reads (`group_moves`, `Expr::sole_columns`) moves out of
/// the row, which the caller drops or clears next, instead of being
/// copied.
pub(super) fn single_set_row(
    (group_by, group_moves, aggregates): (&[Expr], &[Option<usize>], &[Aggregate]),
    row: &mut Row,
    context: &mut Context<'_>,
    inputs: &mut [Input],
    group: &mut Row,
) -> Result<()> {
    for (input, aggregate) in inputs.iter_mut().zip(aggregates) {
        input.passed = aggregate_input(aggregate, row, context, &mut input.keys, &mut input.args)?;
    }
    group.clear();
    group.push(Value::Integer(0));
    for (expr, moved) in group_by.iter().zip(group_moves) {
        group.push(match moved.and_then(|slot| row.get_mut(slot)) {
            Some(value) => value.take(),
            None => expr.evaluate(row, context)?,
        });
    }
    Ok(())
}

/// One call's pending inputs moved out of memory.
struct PendingSorter {
    /// The call's index.
    call: usize,
    sorter: Sorter,
}

/// The groups of one pass over the input or a partition (or, in a
/// parallel worker, its partial groups).
pub(super) struct Table {
    /// Group number by (set, group values).
    index: RowMap<Row, usize>,
    /// Each group's (set, group values) and accumulators, by number.
    groups: Vec<(Row, Vec<Accumulator>)>,
    /// Estimated bytes held, and how many of them are pending inputs.
    bytes: usize,
    pending_bytes: usize,
    budget: usize,
    level: u32,
    fan_out: usize,
    /// Inputs of groups that did not fit (invariant 1).
    overflow: Option<Partitioner>,
    /// Pending inputs moved out of memory, once there were too many.
    sorters: Vec<PendingSorter>,
    /// Memory for each sorter.
    sorter_budget: usize,
}

impl Table {
    pub(super) fn new(aggregates: &[Aggregate], level: u32, context: &mut Context<'_>) -> Table {
        // A hash table: `hash_mem` (work_mem × hash_mem_multiplier).
        let work_mem = context.hash_mem();
        let deferring = aggregates.iter().filter(|a| defers(a)).count();
        // Invariant 4.
        let (budget, sorter_budget) = match deferring {
            0 => (work_mem, 0),
            n => (work_mem / 2, work_mem / 2 / n),
        };
        Table {
            index: RowMap::default(),
            groups: Vec::new(),
            bytes: 0,
            pending_bytes: 0,
            budget,
            level,
            fan_out: fan_out(work_mem),
            overflow: None,
            sorters: Vec::new(),
            sorter_budget,
        }
    }

    /// Makes a new group.
    fn create(&mut self, group: Row, aggregates: &[Aggregate]) -> usize {
        self.insert(group, aggregates.iter().map(Accumulator::new).collect())
    }

    /// Adds a group with its accumulators; its number.
    fn insert(&mut self, group: Row, accumulators: Vec<Accumulator>) -> usize {
        let number = self.groups.len();
        self.bytes += 2 * row_size(&group)
            + ENTRY_OVERHEAD
            + accumulators.len() * std::mem::size_of::<Accumulator>();
        self.index.insert(group.clone(), number);
        self.groups.push((group, accumulators));
        number
    }

    /// Whether a new group may enter the table (invariant 2: the first
    /// group always does).
    fn has_room(&self) -> bool {
        self.bytes <= self.budget || self.groups.is_empty()
    }

    /// Combines a worker's partial groups into the table
    /// (`parallel_aggregate.rs`). Only while the table has no partition:
    /// then every group of the input is in this table, and the partial
    /// states are in memory already, so every group stays.
    fn absorb(&mut self, part: Table, aggregates: &[Aggregate]) -> Result<()> {
        debug_assert!(self.overflow.is_none() && self.pending_bytes == 0);
        for (group, accumulators) in part.groups {
            match self.index.get(&group) {
                Some(&number) => {
                    let held = &mut self.groups[number].1;
                    for ((accumulator, aggregate), other) in
                        held.iter_mut().zip(aggregates).zip(accumulators)
                    {
                        accumulator.combine(aggregate, other)?;
                    }
                }
                None => {
                    self.insert(group, accumulators);
                }
            }
        }
        Ok(())
    }

    /// [`Table::offer`] for a parallel worker's partial groups, which never
    /// spill: `false`, with nothing added, if the group is new and the
    /// table has no room for it.
    pub(super) fn offer_in_memory(
        &mut self,
        group: &[Value],
        inputs: &[Input],
        aggregates: &[Aggregate],
    ) -> Result<bool> {
        debug_assert!(!aggregates.iter().any(defers));
        let number = match self.index.get(group) {
            Some(&number) => number,
            None if self.has_room() => self.create(group.to_vec(), aggregates),
            None => return Ok(false),
        };
        self.add_inputs(number, inputs, aggregates)?;
        Ok(true)
    }

    /// Adds one row's inputs to group `number`'s accumulators.
    fn add_inputs(
        &mut self,
        number: usize,
        inputs: &[Input],
        aggregates: &[Aggregate],
    ) -> Result<()> {
        let accumulators = &mut self.groups[number].1;
        for ((accumulator, aggregate), input) in accumulators.iter_mut().zip(aggregates).zip(inputs)
        {
            if input.passed {
                let grew = accumulator.add(aggregate, &input.keys, &input.args)?;
                self.bytes += grew;
                if defers(aggregate) {
                    self.pending_bytes += grew;
                }
            }
        }
        Ok(())
    }

    /// Adds one group's inputs from one row: to its group if it is in the
    /// table or fits, else to the group's partition.
    fn offer(
        &mut self,
        group: &[Value],
        inputs: &[Input],
        aggregates: &[Aggregate],
        context: &mut Context<'_>,
    ) -> Result<()> {
        let number = match self.index.get(group) {
            Some(&number) => number,
            None if self.overflow.is_none() && self.has_room() => {
                self.create(group.to_vec(), aggregates)
            }
            None => {
                let overflow = self.overflow.get_or_insert_with(|| {
                    Partitioner::new(context.spill_space(), self.fan_out, self.level)
                });
                let record = encode_inputs(group.to_vec(), inputs, aggregates);
                return overflow.push(group, &record, 0);
            }
        };
        self.add_inputs(number, inputs, aggregates)?;
        if self.bytes > self.budget && self.pending_bytes > 0 {
            // Moving every group's inputs costs a pass over the groups:
            // worth it only when that frees much (amortized, each input
            // is moved once); else this group's, which just grew.
            let all = self.pending_bytes >= self.budget / 2;
            self.move_pending(aggregates, (!all).then_some(number), context)?;
        }
        Ok(())
    }

    /// Moves the pending inputs of group `only`, or of every group, to the
    /// sorters.
    fn move_pending(
        &mut self,
        aggregates: &[Aggregate],
        only: Option<usize>,
        context: &mut Context<'_>,
    ) -> Result<()> {
        if self.sorters.is_empty() {
            for (call, aggregate) in aggregates.iter().enumerate() {
                if defers(aggregate) {
                    let mut order = vec![Direction::ASCENDING];
                    order.extend(pending_order(aggregate));
                    let sorter = Sorter::new(order, self.sorter_budget, context.spill_space());
                    self.sorters.push(PendingSorter { call, sorter });
                }
            }
        }
        match only {
            Some(number) => self.move_group(number, aggregates),
            None => {
                (0..self.groups.len()).try_for_each(|number| self.move_group(number, aggregates))
            }
        }
    }

    /// Moves one group's pending inputs to the sorters, keyed by its number.
    fn move_group(&mut self, number: usize, aggregates: &[Aggregate]) -> Result<()> {
        let accumulators = &mut self.groups[number].1;
        for pending in &mut self.sorters {
            let aggregate = &aggregates[pending.call];
            let accumulator = &mut accumulators[pending.call];
            let moved = accumulator.pending_bytes();
            for (key, args) in accumulator.take_pending(aggregate)? {
                let mut keys = Vec::with_capacity(1 + key.len());
                keys.push(Value::BigInt(number as i64));
                keys.extend(key);
                pending.sorter.push(keys, args)?;
            }
            self.pending_bytes -= moved;
            self.bytes -= moved;
        }
        Ok(())
    }

    /// The groups as output, and the partitions of the next level.
    fn finish(mut self, aggregates: &[Aggregate]) -> Result<(Output, Vec<(RowFile, u32)>)> {
        let partitions = match self.overflow.take() {
            Some(overflow) => overflow
                .finish()?
                .into_iter()
                .flatten()
                .map(|file| (file, self.level + 1))
                .collect(),
            None => Vec::new(),
        };
        drop(std::mem::take(&mut self.index));
        // The inputs still pending join those moved before (invariant 5).
        if !self.sorters.is_empty() {
            for number in 0..self.groups.len() {
                self.move_group(number, aggregates)?;
            }
        }
        let sorted = std::mem::take(&mut self.sorters)
            .into_iter()
            .map(|pending| {
                Ok(SortedPending {
                    call: pending.call,
                    sorted: pending.sorter.finish()?,
                    next: None,
                })
            })
            .collect::<Result<_>>()?;
        Ok((
            Output {
                groups: std::mem::take(&mut self.groups).into_iter().enumerate(),
                sorted,
            },
            partitions,
        ))
    }
}

/// One call's pending inputs in (group, feeding) order.
struct SortedPending {
    call: usize,
    sorted: Sorted,
    /// The next input, read ahead: (group number, arguments).
    next: Option<(usize, Vec<Value>)>,
}

/// A table's groups coming out.
struct Output {
    groups: std::iter::Enumerate<std::vec::IntoIter<(Row, Vec<Accumulator>)>>,
    sorted: Vec<SortedPending>,
}

impl Output {
    fn next(
        &mut self,
        aggregates: &[Aggregate],
        results: &[(usize, Aggregate, bool)],
        with_set: bool,
    ) -> Result<Option<Row>> {
        let Some((number, (group, mut accumulators))) = self.groups.next() else {
            return Ok(None);
        };
        for pending in &mut self.sorted {
            let aggregate = &aggregates[pending.call];
            let accumulator = &mut accumulators[pending.call];
            let mut previous = None;
            loop {
                if pending.next.is_none() {
                    pending.next = match pending.sorted.next()? {
                        Some((keys, args)) => Some((group_number(&keys)?, args)),
                        None => None,
                    };
                }
                match pending.next.take() {
                    Some((owner, args)) if owner == number => {
                        accumulator.feed_sorted(aggregate, args, &mut previous)?;
                    }
                    Some((owner, args)) if owner > number => {
                        pending.next = Some((owner, args));
                        break;
                    }
                    Some((owner, _)) => {
                        return Err(Error::Internal(format!(
                            "pending input of group {owner} after group {number}"
                        )));
                    }
                    None => break,
                }
            }
        }
        let (set, values) = group
            .split_first()
            .ok_or_else(|| Error::Internal("a group without its set".into()))?;
        let mut row = values.to_vec();
        let mut accumulators: Vec<Option<Accumulator>> =
            accumulators.into_iter().map(Some).collect();
        for (index, call, last) in results {
            let slot = &mut accumulators[*index];
            let accumulator = match last {
                true => slot.take(),
                false => slot.clone(),
            };
            let accumulator = accumulator
                .ok_or_else(|| Error::Internal("an accumulator finished twice".into()))?;
            row.push(accumulator.finish(call)?);
        }
        if with_set {
            row.push(set.clone());
        }
        Ok(Some(row))
    }
}

/// The calls to keep accumulators for (each state shared by several calls
/// once) and, per call of `calls`, its accumulator, itself and whether it
/// is that accumulator's last reader.
fn share_states(calls: Vec<Aggregate>) -> (Vec<Aggregate>, Vec<(usize, Aggregate, bool)>) {
    let mut kept: Vec<Aggregate> = Vec::new();
    let mut results = Vec::with_capacity(calls.len());
    for call in calls {
        let index = match kept
            .iter()
            .position(|other| Accumulator::shares_state(other, &call))
        {
            Some(index) => index,
            None => {
                kept.push(call.clone());
                kept.len() - 1
            }
        };
        results.push((index, call, false));
    }
    for index in 0..kept.len() {
        if let Some(last) = results.iter_mut().rev().find(|(i, _, _)| *i == index) {
            last.2 = true;
        }
    }
    (kept, results)
}

/// The group number a pending sorter's key starts with.
fn group_number(keys: &[Value]) -> Result<usize> {
    keys.first()
        .and_then(Value::as_i64)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| Error::Corrupt("a pending aggregate input without its group".into()))
}

/// A partition record: the group, then per call a FILTER flag, its sort
/// keys and its arguments (NULLs when filtered out) (invariant 3).
fn encode_inputs(mut record: Row, inputs: &[Input], aggregates: &[Aggregate]) -> Row {
    for (input, aggregate) in inputs.iter().zip(aggregates) {
        if input.passed {
            record.push(Value::Boolean(true));
            record.extend(input.keys.iter().cloned());
            record.extend(input.args.iter().cloned());
        } else {
            record.push(Value::Boolean(false));
            let width = aggregate.order_by.len() + aggregate.args.len();
            record.extend(std::iter::repeat_n(Value::Null, width));
        }
    }
    record
}

/// The calls' inputs from a partition record's values after the group.
fn decode_inputs(values: Row, aggregates: &[Aggregate]) -> Result<Vec<Input>> {
    let mut values = values.into_iter();
    let mut inputs = Vec::with_capacity(aggregates.len());
    for aggregate in aggregates {
        let passed = values.next();
        let keys: Vec<Value> = values.by_ref().take(aggregate.order_by.len()).collect();
        let args: Vec<Value> = values.by_ref().take(aggregate.args.len()).collect();
        if keys.len() != aggregate.order_by.len() || args.len() != aggregate.args.len() {
            return Err(Error::Corrupt(
                "an aggregate's spilled record is short".into(),
            ));
        }
        inputs.push(match passed {
            Some(Value::Boolean(passed)) => Input { passed, keys, args },
            other => {
                return Err(Error::Corrupt(format!(
                    "an aggregate's spilled record has {other:?} for a FILTER flag"
                )));
            }
        });
    }
    if values.next().is_some() {
        return Err(Error::Corrupt(
            "an aggregate's spilled record is long".into(),
        ));
    }
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use super::*;
    use crate::sql::execution::QueryState;
    use crate::sql::execution::spill::SpillSpace;
    use crate::sql::execution::spill::test_support::{drain, sort_rows, values};
    use crate::sql::expr::BinaryOp;
    use crate::sql::plan::{AggregateFunction, SortKey};
    use crate::sql::types::DataType;

    /// `(i bigint, g integer, t text)`: 4,000 groups of about 10 rows.
    fn input(n: i64) -> Vec<Row> {
        (0..n)
            .map(|i| {
                vec![
                    Value::BigInt(i),
                    Value::Integer(((i * 7919) % 4000) as i32),
                    Value::Text(format!("t{}", i % 7).into()),
                ]
            })
            .collect()
    }

    fn call(function: AggregateFunction, args: Vec<Expr>, data_type: DataType) -> Aggregate {
        Aggregate {
            function,
            args,
            distinct: false,
            filter: None,
            order_by: Vec::new(),
            data_type,
        }
    }

    /// count(*), sum(i), min(t), count(DISTINCT t), string_agg(t, ','
    /// ORDER BY i DESC) FILTER (WHERE i % 3 = 0).
    fn calls() -> Vec<Aggregate> {
        let mut distinct = call(
            AggregateFunction::Count,
            vec![Expr::Slot(2)],
            DataType::BigInt,
        );
        distinct.distinct = true;
        let mut ordered = call(
            AggregateFunction::StringAgg,
            vec![Expr::Slot(2), Expr::Literal(Value::Text(",".into()))],
            DataType::Text,
        );
        ordered.order_by = vec![SortKey {
            expr: Expr::Slot(0),
            descending: true,
            nulls_first: true,
        }];
        let modulo = Expr::Binary {
            op: BinaryOp::Modulo,
            left: Box::new(Expr::Slot(0)),
            right: Box::new(Expr::Literal(Value::BigInt(3))),
            data_type: DataType::BigInt,
        };
        ordered.filter = Some(Expr::Binary {
            op: BinaryOp::Equal,
            left: Box::new(modulo),
            right: Box::new(Expr::Literal(Value::BigInt(0))),
            data_type: DataType::Boolean,
        });
        vec![
            call(AggregateFunction::CountStar, Vec::new(), DataType::BigInt),
            call(
                AggregateFunction::Sum,
                vec![Expr::Slot(0)],
                DataType::BigInt,
            ),
            call(AggregateFunction::Min, vec![Expr::Slot(2)], DataType::Text),
            distinct,
            ordered,
        ]
    }

    /// The rows, sorted, and whether files existed while they came out.
    fn aggregate(
        rows: Vec<Row>,
        aggregates: Vec<Aggregate>,
        sets: Option<Vec<Vec<usize>>>,
        work_mem: usize,
    ) -> (Vec<Row>, bool) {
        let space = SpillSpace::temporary();
        let mut state = QueryState::new(Vec::new(), work_mem).with_spill_space(Arc::clone(&space));
        let mut context = Context::new(None, &mut state);
        let group_by = vec![Expr::Slot(1)];
        let operator = AggregateOperator::new(values(rows), group_by, aggregates, sets);
        let (mut out, spilled) = drain(&space, &mut context, operator, AggregateOperator::next);
        sort_rows(&mut out);
        (out, spilled)
    }

    /// sum(i) and avg(i) share a state, as do var_pop(i) and stddev(i) and
    /// a call written twice; string_agg never does. Each call still gets
    /// its own result, in memory and spilled alike.
    #[test]
    fn calls_over_the_same_inputs_share_one_accumulator() {
        use AggregateFunction::*;
        let i = || vec![Expr::Slot(0)];
        let text = || vec![Expr::Slot(2), Expr::Literal(Value::Text(",".into()))];
        let calls = vec![
            call(Sum, i(), DataType::BigInt),
            call(Avg, i(), DataType::Double),
            call(VarPop, i(), DataType::Double),
            call(Stddev, i(), DataType::Double),
            call(Min, vec![Expr::Slot(2)], DataType::Text),
            call(Min, vec![Expr::Slot(2)], DataType::Text),
            call(Max, vec![Expr::Slot(2)], DataType::Text),
            call(StringAgg, text(), DataType::Text),
            call(StringAgg, text(), DataType::Text),
        ];
        let (kept, results) = share_states(calls.clone());
        let indices: Vec<usize> = results.iter().map(|(index, _, _)| *index).collect();
        assert_eq!(indices, vec![0, 0, 1, 1, 2, 2, 3, 4, 5]);
        assert_eq!(kept.len(), 6);
        let lasts: Vec<bool> = results.iter().map(|(_, _, last)| *last).collect();
        assert_eq!(
            lasts,
            vec![false, true, false, true, false, true, true, true, true]
        );
        let rows = input(20_000);
        let (in_memory, spilled) = aggregate(rows.clone(), calls.clone(), None, 1 << 30);
        assert!(!spilled);
        let (external, spilled) = aggregate(rows.clone(), calls, None, 64 * 1024);
        assert!(spilled);
        assert!(external == in_memory, "spilled groups differ");
        // Group 0 holds the i with i * 7919 ≡ 0 (mod 4000): i = 0, 4000, ….
        let members: Vec<f64> = (0..20_000i64)
            .filter(|i| (i * 7919) % 4000 == 0)
            .map(|i| i as f64)
            .collect();
        let n = members.len() as f64;
        let mean = members.iter().sum::<f64>() / n;
        let squares: f64 = members.iter().map(|x| (x - mean) * (x - mean)).sum();
        let row = &in_memory[0];
        assert_eq!(row[0], Value::Integer(0));
        assert_eq!(row[1], Value::BigInt(members.iter().sum::<f64>() as i64));
        assert_eq!(row[2], Value::Double(mean));
        let (Value::Double(var_pop), Value::Double(stddev)) = (&row[3], &row[4]) else {
            panic!("variance results expected: {row:?}");
        };
        assert!((var_pop - squares / n).abs() < 1e-6 * var_pop);
        assert!((stddev - (squares / (n - 1.0)).sqrt()).abs() < 1e-6 * stddev);
        assert_eq!(row[5], row[6]);
        assert_eq!(row[8], row[9]);
        assert!(matches!(&row[8], Value::Text(text) if text.split(',').count() == members.len()));
    }

    #[test]
    fn a_spilling_aggregation_returns_every_group_once_with_its_values() {
        let rows = input(40_000);
        let (in_memory, spilled) = aggregate(rows.clone(), calls(), None, 1 << 30);
        assert!(!spilled);
        let (external, spilled) = aggregate(rows.clone(), calls(), None, 64 * 1024);
        assert!(spilled);
        assert!(external == in_memory, "spilled groups differ");
        // Checked against a direct computation.
        // Per group: count, sum, and (i, t) of its rows.
        type Expected = (i64, i64, Vec<(i64, String)>);
        let mut expected: BTreeMap<i64, Expected> = BTreeMap::new();
        for row in &rows {
            let (i, g) = (row[0].as_i64().unwrap(), row[1].as_i64().unwrap());
            let entry = expected.entry(g).or_default();
            entry.0 += 1;
            entry.1 += i;
            entry.2.push((i, format!("t{}", i % 7)));
        }
        assert_eq!(external.len(), expected.len());
        for (row, (g, (count, sum, items))) in external.iter().zip(&expected) {
            let mut texts: Vec<&String> = items.iter().map(|(_, t)| t).collect();
            texts.sort();
            texts.dedup();
            let mut ordered: Vec<&(i64, String)> =
                items.iter().filter(|(i, _)| i % 3 == 0).collect();
            ordered.sort_by_key(|(i, _)| std::cmp::Reverse(*i));
            let joined: Vec<&str> = ordered.iter().map(|(_, t)| t.as_str()).collect();
            let agg = if joined.is_empty() {
                Value::Null
            } else {
                Value::Text(joined.join(",").into())
            };
            assert_eq!(
                row,
                &vec![
                    Value::Integer(*g as i32),
                    Value::BigInt(*count),
                    Value::BigInt(*sum),
                    Value::Text(texts[0].as_str().into()),
                    Value::BigInt(texts.len() as i64),
                    agg,
                ]
            );
        }
    }

    #[test]
    fn grouping_sets_and_one_big_distinct_group_spill_too() {
        let rows = input(30_000);
        // GROUP BY GROUPING SETS ((g), ()): the empty set's one group has
        // every row's pending inputs.
        let sets = Some(vec![vec![0], vec![]]);
        let (in_memory, _) = aggregate(rows.clone(), calls(), sets.clone(), 1 << 30);
        let (external, spilled) = aggregate(rows.clone(), calls(), sets, 64 * 1024);
        assert!(spilled);
        assert_eq!(in_memory.len(), 4001);
        assert!(external == in_memory, "spilled grouping sets differ");
        let total = external.last().expect("the empty set's group");
        assert_eq!(total[0], Value::Null);
        assert_eq!(total[1], Value::BigInt(30_000));
        assert_eq!(total[4], Value::BigInt(7));
        assert_eq!(total[6], Value::Integer(1));
        // Pending inputs of one group only: count(DISTINCT i) of 30,000.
        let mut distinct = call(
            AggregateFunction::Count,
            vec![Expr::Slot(0)],
            DataType::BigInt,
        );
        distinct.distinct = true;
        let (one, spilled) = aggregate(rows, vec![distinct], Some(vec![vec![]]), 64 * 1024);
        assert!(spilled, "the pending inputs went to a sorter");
        assert_eq!(
            one,
            vec![vec![Value::Null, Value::BigInt(30_000), Value::Integer(0)]]
        );
    }
}
