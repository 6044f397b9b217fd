//! Window functions: returns each input row followed by its calls' values.
//!
//! For each distinct window (PARTITION BY and ORDER BY), the rows are
//! ordered by partition, then by the window's ORDER BY; a partition is a
//! run of equal partition values, and within it a peer group is a run of
//! equal ORDER BY values:
//!
//! ```text
//!   partition p=1: [a a] [b] [c c c]     peer groups, in ORDER BY order
//!   row_number 1 2 3 4 5 6, rank 1 1 3 4 4 4, dense_rank 1 1 2 3 3 3
//!   frame of the 4th row, RANGE … CURRENT ROW:  a a b c c c (whole group)
//!                        ROWS 1 PRECEDING … 1 FOLLOWING: b c c
//! ```
//!
//! The calls sharing a window form a *stage*; stages run as a pipeline in
//! order of the windows' first use, as PostgreSQL stacks a Sort and a
//! WindowAgg per window:
//!
//! ```text
//!   input ──► stage 1: Sorter by (partition, order) ──► partition by partition:
//!               rows into a RowBuffer, then row by row: row ++ its values ──►
//!             stage 2: Sorter by its window … ──► output
//! ```
//!
//! Rows come out in the order of the last window (ties in the order of the
//! stage before). Frame positions come from `window_frame.rs`; an
//! aggregate whose frames start at the partition's start and include every
//! row keeps one running accumulator, others aggregate each row's frame
//! anew.
//!
//! Invariants:
//!
//! 1. Memory is bounded: a stage's `Sorter` holds at most `work_mem`
//!    (`sort.rs`), and so does its current partition; a bigger partition
//!    goes to a file (`spill.rs`'s `RowBuffer`) read through cursors,
//!    which keep at most `work_mem / 2` between them. Nothing else grows
//!    with the partition: values are computed row by row from a few
//!    positions (the current row, its peer group, frame bounds), never
//!    kept per row. (Like PostgreSQL's Sort and WindowAgg nodes, the sort
//!    and the partition each have `work_mem`.)
//! 2. Cursors read forward: the current row, the end of its peer group and
//!    every frame bound move forward only (`window_frame.rs`, invariant
//!    1), and so do offset functions' targets when the offset is constant.
//!    Only an aggregate over frames that lose rows goes back, aggregating
//!    each frame anew: its cursor keeps up to its share of `work_mem / 2`
//!    of the rows it read last, so a sliding frame that fits is read from
//!    the file once. (Any other jump back moves the cursor's reader to
//!    the nearest mark, at most 128 rows before.)
//! 3. Arguments and FILTERs are evaluated on the row when a function reads
//!    it, as in PostgreSQL: a row outside every frame is never evaluated.
//! 4. A stage's output row is its input row with the values of its calls
//!    in their slots: the input gets one NULL slot per call, at the end,
//!    before the first stage.

use super::Operator;
use super::accumulator::{Accumulator, aggregate_input};
use super::context::Context;
use super::sort::{Direction, Keyed, Sorted, Sorter};
use super::spill::{RowBuffer, RowCursor};
use super::window_frame::{FrameTracker, PartitionRows, Peers, nth_position, ntile, only_grows};
use crate::error::{Error, Result, SqlState};
use crate::sql::expr::Expr;
use crate::sql::plan::{SortKey, WindowCall, WindowFunction};
use crate::sql::types::{Row, Value};

pub struct WindowOperator {
    input: Box<Operator>,
    calls: Vec<WindowCall>,
    /// One stage per distinct window, in order of first use.
    stages: Vec<Stage>,
}

impl WindowOperator {
    pub fn new(input: Operator, calls: Vec<WindowCall>) -> WindowOperator {
        let mut stages: Vec<Stage> = Vec::new();
        for (index, call) in calls.iter().enumerate() {
            match stages.iter_mut().find(|stage| {
                stage.partition_by == call.partition_by && stage.order_by == call.order_by
            }) {
                Some(stage) => stage.members.push(index),
                None => stages.push(Stage {
                    members: vec![index],
                    partition_by: call.partition_by.clone(),
                    order_by: call.order_by.clone(),
                    state: StageState::Start,
                }),
            }
        }
        WindowOperator {
            input: Box::new(input),
            calls,
            stages,
        }
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        pull(&mut self.stages, &mut self.input, &self.calls, context)
    }
}

/// The next row out of the last of `stages`.
fn pull(
    stages: &mut [Stage],
    input: &mut Operator,
    calls: &[WindowCall],
    context: &mut Context<'_>,
) -> Result<Option<Row>> {
    let Some((stage, before)) = stages.split_last_mut() else {
        // Invariant 4: a slot per call.
        return Ok(input.next(context)?.map(|mut row| {
            row.resize(row.len() + calls.len(), Value::Null);
            row
        }));
    };
    stage.next(calls, context, &mut |context| {
        pull(before, input, calls, context)
    })
}

/// The calls of one window.
struct Stage {
    /// Indices of the calls.
    members: Vec<usize>,
    partition_by: Vec<Expr>,
    order_by: Vec<SortKey>,
    state: StageState,
}

enum StageState {
    /// The input is not read yet.
    Start,
    Running {
        sorted: Sorted,
        /// The first row of the next partition, read ahead.
        next: Option<Keyed>,
        partition: Option<Box<Partition>>,
    },
    Done,
}

type Upstream<'u> = dyn FnMut(&mut Context<'_>) -> Result<Option<Row>> + 'u;

impl Stage {
    fn next(
        &mut self,
        calls: &[WindowCall],
        context: &mut Context<'_>,
        upstream: &mut Upstream<'_>,
    ) -> Result<Option<Row>> {
        let width = self.partition_by.len();
        loop {
            match &mut self.state {
                StageState::Start => {
                    let mut order = vec![Direction::ASCENDING; width];
                    order.extend(self.order_by.iter().map(Direction::of));
                    let mut sorter = Sorter::new(order, context.work_mem(), context.spill_space());
                    while let Some(row) = upstream(context)? {
                        let mut keys = Vec::with_capacity(width + self.order_by.len());
                        for expr in &self.partition_by {
                            keys.push(expr.evaluate(&row, context)?);
                        }
                        for key in &self.order_by {
                            keys.push(key.expr.evaluate(&row, context)?);
                        }
                        sorter.push(keys, row)?;
                    }
                    self.state = StageState::Running {
                        sorted: sorter.finish()?,
                        next: None,
                        partition: None,
                    };
                }
                StageState::Running {
                    sorted,
                    next,
                    partition,
                } => {
                    if let Some(rows) = partition {
                        if let Some(row) = rows.next(calls, &self.members, context)? {
                            return Ok(Some(row));
                        }
                        *partition = None;
                    }
                    let first = match next.take() {
                        Some(first) => first,
                        None => match sorted.next()? {
                            Some(first) => first,
                            None => {
                                self.state = StageState::Done;
                                continue;
                            }
                        },
                    };
                    // A record is the row's ORDER BY values, then the row.
                    let record = |(mut keys, row): Keyed| {
                        let mut record = keys.split_off(width);
                        record.extend(row);
                        record
                    };
                    let values = first.0[..width].to_vec();
                    let mut rows = RowBuffer::new(context.spill_space(), context.work_mem());
                    rows.push(record(first))?;
                    loop {
                        match sorted.next()? {
                            Some(keyed) if keyed.0[..width] == values[..] => {
                                rows.push(record(keyed))?;
                            }
                            other => {
                                *next = other;
                                break;
                            }
                        }
                    }
                    rows.seal()?;
                    let run = Partition::new(rows, calls, &self.members, &self.order_by, context)?;
                    *partition = Some(Box::new(run));
                }
                StageState::Done => return Ok(None),
            }
        }
    }
}

/// One partition of a stage, returned row by row.
struct Partition {
    rows: RowBuffer,
    order_width: usize,
    /// The next row to return.
    position: u64,
    current: RowCursor,
    /// Reads ahead to the end of the current row's peer group.
    ahead: RowCursor,
    peers: Peers,
    /// The current row's ORDER BY values.
    keys: Vec<Value>,
    /// Per call of the stage.
    calls: Vec<CallState>,
}

impl Partition {
    fn new(
        rows: RowBuffer,
        calls: &[WindowCall],
        members: &[usize],
        order_by: &[SortKey],
        context: &mut Context<'_>,
    ) -> Result<Partition> {
        // Invariant 2: half of work_mem for the cursors that go back.
        let going_back = members
            .iter()
            .filter(|&&call| aggregates_anew(&calls[call]))
            .count();
        let budget = context.work_mem() / 2 / going_back.max(1);
        let states = members
            .iter()
            .map(|&call| CallState::new(&calls[call], order_by, budget, context))
            .collect::<Result<_>>()?;
        Ok(Partition {
            rows,
            order_width: order_by.len(),
            position: 0,
            current: RowCursor::default(),
            ahead: RowCursor::default(),
            peers: Peers::default(),
            keys: Vec::new(),
            calls: states,
        })
    }

    /// The next row with its calls' values.
    fn next(
        &mut self,
        calls: &[WindowCall],
        members: &[usize],
        context: &mut Context<'_>,
    ) -> Result<Option<Row>> {
        let position = self.position;
        let n = self.rows.len();
        if position >= n {
            return Ok(None);
        }
        self.position += 1;
        let rows = PartitionRows {
            rows: &self.rows,
            order_width: self.order_width,
        };
        let record = self.rows.get(&mut self.current, position)?;
        let (keys, row) = record.split_at(self.order_width);
        if position == 0 || keys != self.keys {
            self.peers.start = position;
            self.peers.group = if position == 0 {
                0
            } else {
                self.peers.group + 1
            };
            self.keys = keys.to_vec();
        }
        if self.peers.end <= position {
            let mut end = position + 1;
            while end < n && rows.keys(&mut self.ahead, end)? == keys {
                end += 1;
            }
            self.peers.end = end;
        }
        let mut output = row.to_vec();
        let first_slot = output
            .len()
            .checked_sub(calls.len())
            .ok_or_else(|| Error::Internal("a window row without slots for its calls".into()))?;
        let at = At {
            rows: &rows,
            position,
            keys,
            row,
            peers: self.peers,
        };
        for (state, &call) in self.calls.iter_mut().zip(members) {
            output[first_slot + call] = state.value(&calls[call], &at, context)?;
        }
        Ok(Some(output))
    }
}

/// The current row, as the calls see it.
struct At<'a> {
    rows: &'a PartitionRows<'a>,
    position: u64,
    /// Its ORDER BY values.
    keys: &'a [Value],
    row: &'a [Value],
    peers: Peers,
}

/// Whether a call aggregates each row's frame anew, reading back over
/// rows it read before: an aggregate whose frames may lose rows. (Every
/// other cursor only moves forward: `window_frame.rs`, invariant 1.)
fn aggregates_anew(call: &WindowCall) -> bool {
    matches!(call.function, WindowFunction::Aggregate(_)) && !only_grows(&call.frame)
}

/// One call's state within a partition.
struct CallState {
    /// Reads the rows the call looks at besides the current one.
    cursor: RowCursor,
    /// The frame (value functions and aggregates).
    frame: Option<FrameTracker>,
    /// An aggregate over frames that only grow.
    running: Option<Running>,
}

/// A running aggregate: its accumulator, the rows fed to it, and its
/// value after them.
struct Running {
    accumulator: Accumulator,
    fed: u64,
    value: Option<Value>,
}

impl CallState {
    fn new(
        call: &WindowCall,
        order_by: &[SortKey],
        budget: usize,
        context: &mut Context<'_>,
    ) -> Result<CallState> {
        let frame = match call.function {
            WindowFunction::FirstValue
            | WindowFunction::LastValue
            | WindowFunction::NthValue
            | WindowFunction::Aggregate(_) => {
                Some(FrameTracker::new(&call.frame, order_by, context)?)
            }
            _ => None,
        };
        let running = match (&call.function, &frame) {
            (WindowFunction::Aggregate(aggregate), Some(_)) if only_grows(&call.frame) => {
                Some(Running {
                    accumulator: Accumulator::new(aggregate),
                    fed: 0,
                    value: None,
                })
            }
            _ => None,
        };
        let budget = if aggregates_anew(call) { budget } else { 0 };
        Ok(CallState {
            cursor: RowCursor::new(budget),
            frame,
            running,
        })
    }

    /// The call's value for the current row.
    fn value(
        &mut self,
        call: &WindowCall,
        at: &At<'_>,
        context: &mut Context<'_>,
    ) -> Result<Value> {
        let n = at.rows.len();
        let position = at.position;
        let peers = at.peers;
        let arg = |i: usize, context: &mut Context<'_>| -> Result<Value> {
            call.args
                .get(i)
                .ok_or_else(|| {
                    Error::Internal(format!("{} without argument {i}", call.function.name()))
                })?
                .evaluate(at.row, context)
        };
        Ok(match &call.function {
            WindowFunction::RowNumber => Value::BigInt(position as i64 + 1),
            WindowFunction::Rank => Value::BigInt(peers.start as i64 + 1),
            WindowFunction::DenseRank => Value::BigInt(peers.group as i64 + 1),
            WindowFunction::PercentRank => Value::Double(if n > 1 {
                peers.start as f64 / (n - 1) as f64
            } else {
                0.0
            }),
            WindowFunction::CumeDist => Value::Double(peers.end as f64 / n as f64),
            WindowFunction::Ntile => match arg(0, context)?.as_i64() {
                None => Value::Null,
                Some(buckets) if buckets <= 0 => {
                    return Err(Error::sql(
                        SqlState::INVALID_ARGUMENT_FOR_NTILE,
                        "argument of ntile must be greater than zero",
                    ));
                }
                Some(buckets) => Value::Integer(ntile(position, n, buckets as u64) as i32),
            },
            WindowFunction::Lag | WindowFunction::Lead => {
                let offset = if call.args.len() > 1 {
                    match arg(1, context)?.as_i64() {
                        Some(offset) => offset,
                        None => return Ok(Value::Null),
                    }
                } else {
                    1
                };
                let offset = if call.function == WindowFunction::Lag {
                    offset.saturating_neg()
                } else {
                    offset
                };
                let target = (position as i64).saturating_add(offset);
                if (0..n as i64).contains(&target) {
                    let row = at.rows.row(&mut self.cursor, target as u64)?;
                    call.args[0].evaluate(row, context)?
                } else if call.args.len() > 2 {
                    arg(2, context)?
                } else {
                    Value::Null
                }
            }
            WindowFunction::FirstValue | WindowFunction::LastValue | WindowFunction::NthValue => {
                let frame = self.frame(at)?;
                let chosen = match call.function {
                    WindowFunction::FirstValue => nth_position(&frame, 0),
                    WindowFunction::LastValue => frame.last().map(|range| range.end - 1),
                    _ => match arg(1, context)?.as_i64() {
                        None => None,
                        Some(nth) if nth <= 0 => {
                            return Err(Error::sql(
                                SqlState::INVALID_ARGUMENT_FOR_NTH_VALUE,
                                "argument of nth_value must be greater than zero",
                            ));
                        }
                        Some(nth) => nth_position(&frame, nth as u64 - 1),
                    },
                };
                match chosen {
                    Some(q) => call.args[0].evaluate(at.rows.row(&mut self.cursor, q)?, context)?,
                    None => Value::Null,
                }
            }
            WindowFunction::Aggregate(aggregate) => {
                let frame = self.frame(at)?;
                let (mut keys, mut args) = (Vec::new(), Vec::new());
                if let Some(running) = &mut self.running {
                    // Frames that only grow: [0, end), fed once.
                    let end = frame.last().map_or(0, |range| range.end);
                    if end < running.fed {
                        return Err(Error::Internal("a growing window frame shrank".into()));
                    }
                    while running.fed < end {
                        let row = at.rows.row(&mut self.cursor, running.fed)?;
                        if aggregate_input(aggregate, row, context, &mut keys, &mut args)? {
                            running.accumulator.add(aggregate, &keys, &args)?;
                        }
                        running.fed += 1;
                        running.value = None;
                    }
                    if running.value.is_none() {
                        running.value = Some(running.accumulator.clone().finish(aggregate)?);
                    }
                    running.value.clone().unwrap_or(Value::Null)
                } else {
                    let mut accumulator = Accumulator::new(aggregate);
                    for range in frame {
                        for q in range {
                            let row = at.rows.row(&mut self.cursor, q)?;
                            if aggregate_input(aggregate, row, context, &mut keys, &mut args)? {
                                accumulator.add(aggregate, &keys, &args)?;
                            }
                        }
                    }
                    accumulator.finish(aggregate)?
                }
            }
        })
    }

    /// The current row's frame.
    fn frame(&mut self, at: &At<'_>) -> Result<Vec<std::ops::Range<u64>>> {
        self.frame
            .as_mut()
            .ok_or_else(|| Error::Internal("a framed window call without its frame".into()))?
            .frame(at.rows, at.position, at.keys, at.peers)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use super::*;
    use crate::sql::execution::QueryState;
    use crate::sql::execution::spill::SpillSpace;
    use crate::sql::execution::spill::test_support::{drain, values};
    use crate::sql::plan::{
        Aggregate, AggregateFunction, FrameBound, FrameExclusion, FrameMode, WindowFrame,
    };
    use crate::sql::types::DataType;

    /// `(i, v, text)`: two partitions (`i % 2`) of 1,500 rows ordered by
    /// `v` with about three rows per value.
    fn input() -> Vec<Row> {
        (0..3000i64)
            .map(|i| {
                vec![
                    Value::BigInt(i),
                    Value::BigInt((i * 37) % 1000),
                    Value::Text(format!("{i:0>40}").into()),
                ]
            })
            .collect()
    }

    fn literal(n: i64) -> Expr {
        Expr::Literal(Value::BigInt(n))
    }

    fn frame(mode: FrameMode, back: i64, ahead: i64, exclusion: FrameExclusion) -> WindowFrame {
        WindowFrame {
            mode,
            start: FrameBound::Preceding(literal(back)),
            end: FrameBound::Following(literal(ahead)),
            exclusion,
        }
    }

    /// A call over `PARTITION BY i % 2 ORDER BY v`.
    fn over(function: WindowFunction, args: Vec<Expr>, frame: WindowFrame) -> WindowCall {
        let modulo = Expr::Binary {
            op: crate::sql::expr::BinaryOp::Modulo,
            left: Box::new(Expr::Slot(0)),
            right: Box::new(literal(2)),
            data_type: DataType::BigInt,
        };
        WindowCall {
            function,
            args,
            partition_by: vec![modulo],
            order_by: vec![SortKey {
                expr: Expr::Slot(1),
                descending: false,
                nulls_first: false,
            }],
            frame,
            data_type: DataType::BigInt,
        }
    }

    fn aggregate(function: AggregateFunction, args: Vec<Expr>) -> WindowFunction {
        WindowFunction::Aggregate(Aggregate {
            function,
            args,
            distinct: false,
            filter: None,
            order_by: Vec::new(),
            data_type: DataType::BigInt,
        })
    }

    fn calls() -> Vec<WindowCall> {
        let plain = WindowFrame::default_frame();
        let mut whole = over(
            aggregate(AggregateFunction::CountStar, Vec::new()),
            Vec::new(),
            plain.clone(),
        );
        // A second window: no partitions, no order (a second stage).
        whole.partition_by.clear();
        whole.order_by.clear();
        vec![
            over(WindowFunction::RowNumber, Vec::new(), plain.clone()),
            over(WindowFunction::Rank, Vec::new(), plain.clone()),
            over(WindowFunction::DenseRank, Vec::new(), plain.clone()),
            over(
                aggregate(AggregateFunction::Sum, vec![Expr::Slot(0)]),
                Vec::new(),
                plain.clone(),
            ),
            over(
                aggregate(AggregateFunction::Sum, vec![Expr::Slot(0)]),
                Vec::new(),
                frame(FrameMode::Rows, 3, 2, FrameExclusion::NoOthers),
            ),
            over(
                aggregate(AggregateFunction::Sum, vec![Expr::Slot(0)]),
                Vec::new(),
                frame(FrameMode::Range, 5, 5, FrameExclusion::Ties),
            ),
            over(
                aggregate(AggregateFunction::CountStar, Vec::new()),
                Vec::new(),
                frame(FrameMode::Groups, 2, 1, FrameExclusion::Group),
            ),
            over(
                WindowFunction::FirstValue,
                vec![Expr::Slot(0)],
                frame(FrameMode::Rows, 2, 2, FrameExclusion::CurrentRow),
            ),
            over(
                WindowFunction::LastValue,
                vec![Expr::Slot(0)],
                frame(FrameMode::Groups, 1, 1, FrameExclusion::NoOthers),
            ),
            over(
                WindowFunction::NthValue,
                vec![Expr::Slot(0), literal(3)],
                frame(FrameMode::Range, 20, 0, FrameExclusion::NoOthers),
            ),
            over(
                WindowFunction::Lag,
                vec![Expr::Slot(0), literal(2)],
                plain.clone(),
            ),
            over(
                WindowFunction::Lead,
                vec![Expr::Slot(0), literal(100)],
                plain,
            ),
            whole,
        ]
    }

    /// The calls' values by `i`, and whether files existed meanwhile.
    fn run(work_mem: usize) -> (HashMap<i64, Vec<Value>>, bool) {
        let space = SpillSpace::temporary();
        let mut state = QueryState::new(Vec::new(), work_mem).with_spill_space(Arc::clone(&space));
        let mut context = Context::new(None, &mut state);
        let operator = WindowOperator::new(values(input()), calls());
        let (rows, spilled) = drain(&space, &mut context, operator, WindowOperator::next);
        let out = rows
            .into_iter()
            .map(|row| (row[0].as_i64().expect("i"), row[3..].to_vec()))
            .collect();
        (out, spilled)
    }

    /// The same values from the definitions, row against row.
    fn expected() -> HashMap<i64, Vec<Value>> {
        let mut out: HashMap<i64, Vec<Value>> = HashMap::new();
        for parity in 0..2 {
            // Ordered by v, ties in input order (the sort is stable).
            let mut rows: Vec<(i64, i64)> = (0..3000i64)
                .filter(|i| i % 2 == parity)
                .map(|i| (i, (i * 37) % 1000))
                .collect();
            rows.sort_by_key(|&(_, v)| v);
            let group: Vec<i64> = {
                let mut values: Vec<i64> = rows.iter().map(|&(_, v)| v).collect();
                values.dedup();
                rows.iter()
                    .map(|(_, v)| values.binary_search(v).expect("present") as i64)
                    .collect()
            };
            let n = rows.len() as i64;
            for p in 0..rows.len() {
                let (i, v) = rows[p];
                let pi = p as i64;
                let members = |keep: &dyn Fn(usize) -> bool| -> Vec<i64> {
                    (0..rows.len())
                        .filter(|&q| keep(q))
                        .map(|q| rows[q].0)
                        .collect()
                };
                let sum = |ids: Vec<i64>| {
                    if ids.is_empty() {
                        Value::Null
                    } else {
                        Value::BigInt(ids.iter().sum())
                    }
                };
                let id = |ids: Vec<i64>, nth: usize| {
                    ids.get(nth).map_or(Value::Null, |&i| Value::BigInt(i))
                };
                let peers = members(&|q| rows[q].1 == v);
                let first_peer = (0..rows.len()).find(|&q| rows[q].1 == v).expect("self") as i64;
                let lag = |offset: i64| {
                    let target = pi + offset;
                    if (0..n).contains(&target) {
                        Value::BigInt(rows[target as usize].0)
                    } else {
                        Value::Null
                    }
                };
                let ties = |q: usize| q == p || group[q] != group[p];
                let last = |ids: Vec<i64>| ids.last().map_or(Value::Null, |&i| Value::BigInt(i));
                let values = vec![
                    Value::BigInt(pi + 1),
                    Value::BigInt(first_peer + 1),
                    Value::BigInt(group[p] + 1),
                    sum(members(&|q| rows[q].1 <= v)),
                    sum(members(&|q| (pi - 3..=pi + 2).contains(&(q as i64)))),
                    sum(members(&|q| {
                        (v - 5..=v + 5).contains(&rows[q].1) && ties(q)
                    })),
                    Value::BigInt(
                        members(&|q| {
                            (group[p] - 2..=group[p] + 1).contains(&group[q])
                                && group[q] != group[p]
                        })
                        .len() as i64,
                    ),
                    id(
                        members(&|q| (pi - 2..=pi + 2).contains(&(q as i64)) && q != p),
                        0,
                    ),
                    last(members(&|q| {
                        (group[p] - 1..=group[p] + 1).contains(&group[q])
                    })),
                    id(members(&|q| (v - 20..=v).contains(&rows[q].1)), 2),
                    lag(-2),
                    lag(100),
                    Value::BigInt(3000),
                ];
                assert!(!peers.is_empty());
                out.insert(i, values);
            }
        }
        out
    }

    #[test]
    fn spilled_window_partitions_equal_the_definitions() {
        let expected = expected();
        let (in_memory, spilled) = run(1 << 30);
        assert!(!spilled);
        let (external, spilled) = run(64 * 1024);
        assert!(
            spilled,
            "1,500 rows of 40-byte text per partition exceed 64 kB"
        );
        assert_eq!(in_memory.len(), 3000);
        for i in 0..3000 {
            assert_eq!(in_memory[&i], expected[&i], "row {i} in memory");
            assert_eq!(external[&i], expected[&i], "row {i} spilled");
        }
    }
}
