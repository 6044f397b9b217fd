//! Window functions: reads its input, then computes every call for every
//! row, and returns each input row followed by its calls' values.
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
//! Rows come out in the order of the last window computed (PostgreSQL's
//! order too, as its WindowAgg reads sorted input). Aggregates over frames
//! that start at the partition's start and grow (the default frame) keep
//! one running accumulator; other frames aggregate each row's frame anew.

use std::cmp::Ordering;

use super::Operator;
use super::aggregate::{Accumulator, aggregate_input};
use super::context::Context;
use super::sort::compare_keys;
use crate::error::{Error, Result, SqlState};
use crate::sql::expr::{BinaryOp, Expr, binary};
use crate::sql::plan::{
    FrameBound, FrameExclusion, FrameMode, SortKey, WindowCall, WindowFrame, WindowFunction,
};
use crate::sql::types::{Row, Value};

pub struct WindowOperator {
    input: Box<Operator>,
    calls: Vec<WindowCall>,
    output: Option<std::vec::IntoIter<Row>>,
}

impl WindowOperator {
    pub fn new(input: Operator, calls: Vec<WindowCall>) -> WindowOperator {
        WindowOperator {
            input: Box::new(input),
            calls,
            output: None,
        }
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        if self.output.is_none() {
            let rows = self.compute(context)?;
            self.output = Some(rows.into_iter());
        }
        Ok(self
            .output
            .as_mut()
            .expect("invariant: the output was computed above")
            .next())
    }

    fn compute(&mut self, context: &mut Context<'_>) -> Result<Vec<Row>> {
        let mut rows = Vec::new();
        while let Some(row) = self.input.next(context)? {
            rows.push(row);
        }
        let mut results: Vec<Vec<Value>> = vec![vec![Value::Null; rows.len()]; self.calls.len()];
        let mut order: Vec<usize> = (0..rows.len()).collect();
        // Windows in order of first use; calls sharing one are computed
        // together.
        let mut done = vec![false; self.calls.len()];
        for first in 0..self.calls.len() {
            if done[first] {
                continue;
            }
            let window = (
                self.calls[first].partition_by.clone(),
                self.calls[first].order_by.clone(),
            );
            let members: Vec<usize> = (first..self.calls.len())
                .filter(|&i| {
                    !done[i]
                        && self.calls[i].partition_by == window.0
                        && self.calls[i].order_by == window.1
                })
                .collect();
            for &i in &members {
                done[i] = true;
            }
            order = sort_for(&rows, &window.0, &window.1, context)?;
            for partition in partitions(&order, &rows, &window.0, context)? {
                let peers = peer_groups(&partition, &rows, &window.1, context)?;
                for &call in &members {
                    let values =
                        compute_call(&self.calls[call], &partition, &peers, &rows, context)?;
                    for (position, value) in values.into_iter().enumerate() {
                        results[call][partition[position]] = value;
                    }
                }
            }
        }
        let mut output = Vec::with_capacity(rows.len());
        let mut taken: Vec<Option<Row>> = rows.into_iter().map(Some).collect();
        for index in order {
            let mut row = taken[index]
                .take()
                .ok_or_else(|| Error::Internal("a window row came out twice".into()))?;
            for values in &mut results {
                row.push(std::mem::replace(&mut values[index], Value::Null));
            }
            output.push(row);
        }
        Ok(output)
    }
}

/// Row indices ordered by partition values, then by the ORDER BY keys.
fn sort_for(
    rows: &[Row],
    partition_by: &[Expr],
    order_by: &[SortKey],
    context: &mut Context<'_>,
) -> Result<Vec<usize>> {
    let mut keyed = Vec::with_capacity(rows.len());
    for (index, row) in rows.iter().enumerate() {
        let mut partition = Vec::with_capacity(partition_by.len());
        for expr in partition_by {
            partition.push(expr.evaluate(row, context)?);
        }
        let mut order = Vec::with_capacity(order_by.len());
        for key in order_by {
            order.push(key.expr.evaluate(row, context)?);
        }
        keyed.push((partition, order, index));
    }
    keyed.sort_by(|(pa, oa, _), (pb, ob, _)| {
        compare_values(pa, pb).then_with(|| compare_keys(oa, ob, order_by))
    });
    Ok(keyed.into_iter().map(|(_, _, index)| index).collect())
}

/// Compares tuples by `Value`'s total order (NULLs equal, last).
fn compare_values(a: &[Value], b: &[Value]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let ordering = x.total_cmp(y);
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

/// The runs of `order` with equal partition values.
fn partitions(
    order: &[usize],
    rows: &[Row],
    partition_by: &[Expr],
    context: &mut Context<'_>,
) -> Result<Vec<Vec<usize>>> {
    let mut runs: Vec<Vec<usize>> = Vec::new();
    let mut previous: Option<Vec<Value>> = None;
    for &index in order {
        let mut key = Vec::with_capacity(partition_by.len());
        for expr in partition_by {
            key.push(expr.evaluate(&rows[index], context)?);
        }
        match (&previous, runs.last_mut()) {
            (Some(last), Some(run)) if compare_values(last, &key) == Ordering::Equal => {
                run.push(index)
            }
            _ => runs.push(vec![index]),
        }
        previous = Some(key);
    }
    Ok(runs)
}

/// Peer groups of one partition: for each position, the group's first
/// position, one past its last, and its ordinal (0-based).
struct Peers {
    start: Vec<usize>,
    end: Vec<usize>,
    group: Vec<usize>,
    /// Each group's first position, by ordinal.
    starts: Vec<usize>,
    /// The ORDER BY values of each position.
    keys: Vec<Vec<Value>>,
}

fn peer_groups(
    partition: &[usize],
    rows: &[Row],
    order_by: &[SortKey],
    context: &mut Context<'_>,
) -> Result<Peers> {
    let mut keys = Vec::with_capacity(partition.len());
    for &index in partition {
        let mut key = Vec::with_capacity(order_by.len());
        for sort in order_by {
            key.push(sort.expr.evaluate(&rows[index], context)?);
        }
        keys.push(key);
    }
    let n = partition.len();
    let mut start = vec![0; n];
    let mut group = vec![0; n];
    let mut starts = Vec::new();
    for position in 0..n {
        if position == 0 || compare_values(&keys[position - 1], &keys[position]) != Ordering::Equal
        {
            starts.push(position);
        }
        start[position] = *starts.last().expect("invariant: a group started");
        group[position] = starts.len() - 1;
    }
    let mut end = vec![n; n];
    for position in 0..n {
        end[position] = starts.get(group[position] + 1).copied().unwrap_or(n);
    }
    Ok(Peers {
        start,
        end,
        group,
        starts,
        keys,
    })
}

/// A frame offset: evaluated once, never NULL or negative.
fn offset(expr: &Expr, which: &str, context: &mut Context<'_>) -> Result<Value> {
    let value = expr.evaluate(&[], context)?;
    if value.is_null() {
        return Err(Error::sql(
            SqlState::NULL_VALUE_NOT_ALLOWED,
            format!("frame {which} offset must not be null"),
        ));
    }
    let negative = match (value.as_i64(), value.as_f64()) {
        (Some(v), _) => v < 0,
        (None, Some(v)) => v < 0.0,
        _ => false,
    };
    if negative {
        return Err(Error::sql(
            SqlState::INVALID_PRECEDING_OR_FOLLOWING_SIZE,
            format!("frame {which} offset must not be negative"),
        ));
    }
    Ok(value)
}

/// The frame's first and one-past-last positions for each position, before
/// exclusion.
fn frame_bounds(
    frame: &WindowFrame,
    peers: &Peers,
    order_by: &[SortKey],
    context: &mut Context<'_>,
) -> Result<Vec<(usize, usize)>> {
    let n = peers.start.len();
    let start_offset = match &frame.start {
        FrameBound::Preceding(e) | FrameBound::Following(e) => {
            Some(offset(e, "starting", context)?)
        }
        _ => None,
    };
    let end_offset = match &frame.end {
        FrameBound::Preceding(e) | FrameBound::Following(e) => Some(offset(e, "ending", context)?),
        _ => None,
    };
    let mut bounds = Vec::with_capacity(n);
    for position in 0..n {
        let start = bound_position(
            frame.mode,
            &frame.start,
            start_offset.as_ref(),
            position,
            peers,
            order_by,
            true,
        )?;
        let end = bound_position(
            frame.mode,
            &frame.end,
            end_offset.as_ref(),
            position,
            peers,
            order_by,
            false,
        )?;
        bounds.push((start, end.max(start)));
    }
    Ok(bounds)
}

/// One end of a row's frame as a position: for a start, the first row in
/// the frame; for an end, one past the last.
fn bound_position(
    mode: FrameMode,
    bound: &FrameBound,
    offset: Option<&Value>,
    position: usize,
    peers: &Peers,
    order_by: &[SortKey],
    is_start: bool,
) -> Result<usize> {
    let n = peers.start.len();
    let count = |value: &Value| -> usize {
        usize::try_from(value.as_i64().unwrap_or(0)).unwrap_or(usize::MAX)
    };
    Ok(match (bound, mode) {
        (FrameBound::UnboundedPreceding, _) => 0,
        (FrameBound::UnboundedFollowing, _) => n,
        (FrameBound::CurrentRow, FrameMode::Rows) => {
            if is_start {
                position
            } else {
                position + 1
            }
        }
        (FrameBound::CurrentRow, _) => {
            if is_start {
                peers.start[position]
            } else {
                peers.end[position]
            }
        }
        (FrameBound::Preceding(_), FrameMode::Rows) => {
            let back = count(offset.expect("invariant: an offset bound has its offset"));
            match position.checked_sub(back) {
                Some(row) if is_start => row,
                Some(row) => row + 1,
                // Before the partition: the frame starts at 0, or is empty.
                None => 0,
            }
        }
        (FrameBound::Following(_), FrameMode::Rows) => {
            let ahead = count(offset.expect("invariant: an offset bound has its offset"));
            let row = position.saturating_add(ahead);
            if is_start {
                row.min(n)
            } else {
                row.saturating_add(1).min(n)
            }
        }
        (FrameBound::Preceding(_), FrameMode::Groups) => {
            let back = count(offset.expect("invariant: an offset bound has its offset"));
            match peers.group[position].checked_sub(back) {
                Some(group) => {
                    if is_start {
                        peers.starts[group]
                    } else {
                        peers.starts.get(group + 1).copied().unwrap_or(n)
                    }
                }
                None => 0,
            }
        }
        (FrameBound::Following(_), FrameMode::Groups) => {
            let ahead = count(offset.expect("invariant: an offset bound has its offset"));
            let group = peers.group[position].saturating_add(ahead);
            if is_start {
                peers.starts.get(group).copied().unwrap_or(n)
            } else {
                peers.starts.get(group + 1).copied().unwrap_or(n)
            }
        }
        (FrameBound::Preceding(_) | FrameBound::Following(_), FrameMode::Range) => {
            let offset = offset.expect("invariant: an offset bound has its offset");
            range_position(bound, offset, position, peers, order_by, is_start)?
        }
    })
}

/// RANGE with an offset: the rows whose single ORDER BY value is within
/// `offset` of the current row's, in the order's direction. A NULL current
/// value's frame is its peers (the other NULLs).
fn range_position(
    bound: &FrameBound,
    offset: &Value,
    position: usize,
    peers: &Peers,
    order_by: &[SortKey],
    is_start: bool,
) -> Result<usize> {
    let current = &peers.keys[position][0];
    if current.is_null() {
        return Ok(if is_start {
            peers.start[position]
        } else {
            peers.end[position]
        });
    }
    let descending = order_by.first().is_some_and(|key| key.descending);
    let data_type = current
        .data_type()
        .ok_or_else(|| Error::Internal("a RANGE value without a type".into()))?;
    // The boundary value: forward in the order is + for ascending.
    let forward = matches!(bound, FrameBound::Following(_)) != descending;
    let op = if forward {
        BinaryOp::Add
    } else {
        BinaryOp::Subtract
    };
    let limit = match binary(op, current, offset, data_type) {
        Ok(limit) => limit,
        // Beyond the type's range: the frame reaches the partition's end.
        Err(_) => {
            return Ok(if forward { peers.start.len() } else { 0 });
        }
    };
    // Rows "before" the limit in the window's order.
    let before = |value: &Value| -> bool {
        if value.is_null() {
            // NULLs sort at their end of the order, beyond every number.
            let nulls_first = order_by.first().is_some_and(|key| key.nulls_first);
            return nulls_first;
        }
        let ordering = value.total_cmp(&limit);
        let ordering = if descending {
            ordering.reverse()
        } else {
            ordering
        };
        if is_start {
            ordering == Ordering::Less
        } else {
            ordering != Ordering::Greater
        }
    };
    Ok(peers.keys.partition_point(|key| before(&key[0])))
}

/// Whether position `q` is left out of the frame of position `p`.
fn excluded(exclusion: FrameExclusion, p: usize, q: usize, peers: &Peers) -> bool {
    match exclusion {
        FrameExclusion::NoOthers => false,
        FrameExclusion::CurrentRow => p == q,
        FrameExclusion::Group => peers.group[p] == peers.group[q],
        FrameExclusion::Ties => p != q && peers.group[p] == peers.group[q],
    }
}

/// One call's values for one partition, by position.
fn compute_call(
    call: &WindowCall,
    partition: &[usize],
    peers: &Peers,
    rows: &[Row],
    context: &mut Context<'_>,
) -> Result<Vec<Value>> {
    let n = partition.len();
    let mut values = Vec::with_capacity(n);
    let arg = |i: usize, position: usize, context: &mut Context<'_>| -> Result<Value> {
        call.args[i].evaluate(&rows[partition[position]], context)
    };
    match &call.function {
        WindowFunction::RowNumber => {
            values.extend((1..=n).map(|r| Value::BigInt(r as i64)));
        }
        WindowFunction::Rank => {
            values.extend((0..n).map(|p| Value::BigInt(peers.start[p] as i64 + 1)));
        }
        WindowFunction::DenseRank => {
            values.extend((0..n).map(|p| Value::BigInt(peers.group[p] as i64 + 1)));
        }
        WindowFunction::PercentRank => values.extend((0..n).map(|p| {
            Value::Double(if n > 1 {
                peers.start[p] as f64 / (n - 1) as f64
            } else {
                0.0
            })
        })),
        WindowFunction::CumeDist => {
            values.extend((0..n).map(|p| Value::Double(peers.end[p] as f64 / n as f64)));
        }
        WindowFunction::Ntile => {
            for p in 0..n {
                let buckets = arg(0, p, context)?;
                let Some(buckets) = buckets.as_i64() else {
                    values.push(Value::Null);
                    continue;
                };
                if buckets <= 0 {
                    return Err(Error::sql(
                        SqlState::INVALID_ARGUMENT_FOR_NTILE,
                        "argument of ntile must be greater than zero",
                    ));
                }
                values.push(Value::Integer(ntile(p, n, buckets as usize) as i32));
            }
        }
        WindowFunction::Lag | WindowFunction::Lead => {
            for p in 0..n {
                let offset = if call.args.len() > 1 {
                    match arg(1, p, context)?.as_i64() {
                        Some(offset) => offset,
                        None => {
                            values.push(Value::Null);
                            continue;
                        }
                    }
                } else {
                    1
                };
                let offset = if call.function == WindowFunction::Lag {
                    -offset
                } else {
                    offset
                };
                let target = p as i64 + offset;
                values.push(if (0..n as i64).contains(&target) {
                    arg(0, target as usize, context)?
                } else if call.args.len() > 2 {
                    arg(2, p, context)?
                } else {
                    Value::Null
                });
            }
        }
        WindowFunction::FirstValue | WindowFunction::LastValue | WindowFunction::NthValue => {
            let bounds = frame_bounds(&call.frame, peers, &call.order_by, context)?;
            for (p, (start, end)) in bounds.into_iter().enumerate() {
                let frame: Vec<usize> = (start..end)
                    .filter(|&q| !excluded(call.frame.exclusion, p, q, peers))
                    .collect();
                let chosen = match call.function {
                    WindowFunction::FirstValue => frame.first().copied(),
                    WindowFunction::LastValue => frame.last().copied(),
                    _ => {
                        let nth = arg(1, p, context)?;
                        match nth.as_i64() {
                            None => None,
                            Some(nth) if nth <= 0 => {
                                return Err(Error::sql(
                                    SqlState::INVALID_ARGUMENT_FOR_NTH_VALUE,
                                    "argument of nth_value must be greater than zero",
                                ));
                            }
                            Some(nth) => frame.get(nth as usize - 1).copied(),
                        }
                    }
                };
                values.push(match chosen {
                    Some(q) => arg(0, q, context)?,
                    None => Value::Null,
                });
            }
        }
        WindowFunction::Aggregate(aggregate) => {
            let mut inputs = Vec::with_capacity(n);
            for &index in partition {
                inputs.push(aggregate_input(aggregate, &rows[index], context)?);
            }
            let bounds = frame_bounds(&call.frame, peers, &call.order_by, context)?;
            let running = call.frame.start == FrameBound::UnboundedPreceding
                && call.frame.exclusion == FrameExclusion::NoOthers
                && bounds.windows(2).all(|w| w[0].1 <= w[1].1);
            if running {
                let mut accumulator = Accumulator::new(aggregate);
                let mut fed = 0;
                for (_, end) in bounds {
                    while fed < end {
                        if let Some((keys, args)) = inputs[fed].clone() {
                            accumulator.add(aggregate, keys, args)?;
                        }
                        fed += 1;
                    }
                    values.push(accumulator.clone().finish(aggregate)?);
                }
            } else {
                for (p, (start, end)) in bounds.into_iter().enumerate() {
                    let mut accumulator = Accumulator::new(aggregate);
                    for (q, input) in inputs.iter().enumerate().take(end).skip(start) {
                        if excluded(call.frame.exclusion, p, q, peers) {
                            continue;
                        }
                        if let Some((keys, args)) = input.clone() {
                            accumulator.add(aggregate, keys, args)?;
                        }
                    }
                    values.push(accumulator.finish(aggregate)?);
                }
            }
        }
    }
    Ok(values)
}

/// PostgreSQL's ntile: `n` rows in `buckets` buckets, the first `n %
/// buckets` of them one row larger; 1-based.
fn ntile(position: usize, n: usize, buckets: usize) -> usize {
    let size = n / buckets;
    let larger = n % buckets;
    if size == 0 {
        return position + 1;
    }
    let boundary = larger * (size + 1);
    if position < boundary {
        position / (size + 1) + 1
    } else {
        larger + (position - boundary) / size + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntile_spreads_the_remainder_over_the_first_buckets() {
        let buckets: Vec<usize> = (0..10).map(|p| ntile(p, 10, 3)).collect();
        assert_eq!(buckets, [1, 1, 1, 1, 2, 2, 2, 3, 3, 3]);
        let buckets: Vec<usize> = (0..2).map(|p| ntile(p, 2, 5)).collect();
        assert_eq!(buckets, [1, 2]);
    }
}
