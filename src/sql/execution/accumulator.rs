//! Aggregate accumulators: the running value of one aggregate call over
//! one group (hash aggregation) or one window frame.
//!
//! Rows a call's FILTER rejects never reach it; NULL inputs are skipped by
//! every aggregate but `count(*)`, as in SQL. The variance family uses
//! PostgreSQL's float8 accumulation (Youngs and Cramer) so that results
//! agree to the last digit.
//!
//! A call with DISTINCT or ORDER BY cannot fold an input as it comes: its
//! inputs are *pending* until the group ends, then fed in order:
//!
//! ```text
//!   count(DISTINCT x)          pending: the set of distinct argument lists
//!   string_agg(x, ',' ORDER BY y)   pending: (y, [x, ',']) in input order
//!   at the end: sort by pending_order, feed, skipping a DISTINCT argument
//!   list equal to the one before
//! ```
//!
//! Invariants:
//!
//! 1. Pending inputs are fed in [`pending_order`]: the ORDER BY keys, then
//!    for DISTINCT every argument, so equal argument lists are adjacent and
//!    one comparison with the previous list removes duplicates. (The
//!    binder makes DISTINCT's ORDER BY keys arguments, as PostgreSQL does,
//!    so a DISTINCT call needs to keep only its arguments.) Sorting is
//!    stable, so ORDER BY ties keep their input order.
//! 2. The pending inputs can be taken out at any time
//!    ([`Accumulator::take_pending`]) and fed back later, sorted with
//!    others of the same group ([`Accumulator::feed_sorted`]): the result
//!    is the same as if they had stayed. Hash aggregation moves them to a
//!    `Sorter` this way when they outgrow its memory.
//! 3. [`Accumulator::add`] returns the estimated bytes the accumulator
//!    grew by (pending inputs, `string_agg`'s text), for the caller's
//!    memory accounting.

use super::hash::RowSet;

use super::context::Context;
use super::sort::{Direction, compare};
use super::spill::{ENTRY_OVERHEAD, row_size};
use crate::error::{Error, Result, SqlState};
use crate::sql::datetime::Interval;
use crate::sql::numeric::Numeric;
use crate::sql::plan::{Aggregate, AggregateFunction};
use crate::sql::types::{DataType, Value};

/// The running value of one aggregate within one group.
#[derive(Clone, Debug)]
enum State {
    Count(i64),
    /// `sum` and `avg`: integers exactly, numerics exactly, floats as
    /// f64, intervals field by field.
    Sum {
        integer: i128,
        numeric: Numeric,
        float: f64,
        interval: Interval,
        count: i64,
    },
    /// `min` and `max`.
    Best(Option<Value>),
    /// `bool_and`, `bool_or`, `every`.
    Boolean(Option<bool>),
    /// The variance family: count, sum and sum of squared deviations.
    Moments {
        n: f64,
        sum: f64,
        squares: f64,
    },
    /// `string_agg`.
    Text(Option<String>),
}

/// Inputs held until the group ends (DISTINCT, ORDER BY).
#[derive(Clone, Debug)]
enum Pending {
    /// DISTINCT: each distinct argument list once.
    Distinct(RowSet<Vec<Value>>),
    /// ORDER BY without DISTINCT: sort key values and arguments, in input
    /// order.
    Ordered(Vec<(Vec<Value>, Vec<Value>)>),
}

/// One aggregate's accumulator within one group (or window frame).
#[derive(Clone, Debug)]
pub(super) struct Accumulator {
    state: State,
    pending: Option<Pending>,
    /// The estimated bytes of the pending inputs.
    pending_bytes: usize,
}

/// Whether `value` replaces `current` as the result of `min` or `max`.
fn better(aggregate: &Aggregate, value: &Value, current: Option<&Value>) -> bool {
    current.is_none_or(|current| {
        let ordering = value.total_cmp(current);
        if aggregate.function == AggregateFunction::Min {
            ordering.is_lt()
        } else {
            ordering.is_gt()
        }
    })
}

/// Whether a call's inputs are pending until its group ends.
pub(super) fn defers(aggregate: &Aggregate) -> bool {
    aggregate.distinct || !aggregate.order_by.is_empty()
}

/// The order pending inputs are fed in, for keys made by [`pending_key`]
/// (invariant 1).
pub(super) fn pending_order(aggregate: &Aggregate) -> Vec<Direction> {
    let mut order: Vec<Direction> = aggregate.order_by.iter().map(Direction::of).collect();
    if aggregate.distinct {
        order.extend(aggregate.args.iter().map(|_| Direction::ASCENDING));
    }
    order
}

/// The sort key of a pending input: its ORDER BY values, then for DISTINCT
/// its arguments (DISTINCT's ORDER BY values are arguments, found by
/// position).
pub(super) fn pending_key(
    aggregate: &Aggregate,
    keys: Vec<Value>,
    args: &[Value],
) -> Result<Vec<Value>> {
    if !aggregate.distinct {
        return Ok(keys);
    }
    let mut key = Vec::with_capacity(aggregate.order_by.len() + args.len());
    for sort in &aggregate.order_by {
        let position = aggregate
            .args
            .iter()
            .position(|arg| *arg == sort.expr)
            .ok_or_else(|| {
                Error::Internal("a DISTINCT aggregate ordered by a non-argument".into())
            })?;
        key.push(args[position].clone());
    }
    key.extend(args.iter().cloned());
    Ok(key)
}

impl Accumulator {
    pub(super) fn new(aggregate: &Aggregate) -> Accumulator {
        let state = match aggregate.function {
            AggregateFunction::CountStar | AggregateFunction::Count => State::Count(0),
            AggregateFunction::Sum | AggregateFunction::Avg => State::Sum {
                integer: 0,
                numeric: Numeric::zero(),
                float: 0.0,
                interval: Interval::default(),
                count: 0,
            },
            AggregateFunction::Min | AggregateFunction::Max => State::Best(None),
            AggregateFunction::BoolAnd | AggregateFunction::BoolOr | AggregateFunction::Every => {
                State::Boolean(None)
            }
            AggregateFunction::Stddev
            | AggregateFunction::StddevSamp
            | AggregateFunction::StddevPop
            | AggregateFunction::Variance
            | AggregateFunction::VarSamp
            | AggregateFunction::VarPop => State::Moments {
                n: 0.0,
                sum: 0.0,
                squares: 0.0,
            },
            AggregateFunction::StringAgg => State::Text(None),
        };
        let pending = match (aggregate.distinct, defers(aggregate)) {
            (true, _) => Some(Pending::Distinct(RowSet::default())),
            (false, true) => Some(Pending::Ordered(Vec::new())),
            (false, false) => None,
        };
        Accumulator {
            state,
            pending,
            pending_bytes: 0,
        }
    }

    /// Adds one input row's values (FILTER already passed); returns the
    /// estimated bytes the accumulator grew by (invariant 3).
    pub(super) fn add(
        &mut self,
        aggregate: &Aggregate,
        keys: &[Value],
        args: &[Value],
    ) -> Result<usize> {
        // A NULL input is skipped whenever it comes: drop it now.
        if aggregate.function != AggregateFunction::CountStar
            && args.first().is_none_or(Value::is_null)
        {
            return Ok(0);
        }
        let grew = match &mut self.pending {
            Some(Pending::Distinct(seen)) => {
                if seen.contains(args) {
                    0
                } else {
                    seen.insert(args.to_vec());
                    row_size(args) + ENTRY_OVERHEAD
                }
            }
            Some(Pending::Ordered(inputs)) => {
                let size = row_size(keys) + row_size(args);
                inputs.push((keys.to_vec(), args.to_vec()));
                size
            }
            None => {
                let before = self.text_bytes();
                self.feed(aggregate, args)?;
                return Ok(self.text_bytes().saturating_sub(before));
            }
        };
        self.pending_bytes += grew;
        Ok(grew)
    }

    fn text_bytes(&self) -> usize {
        match &self.state {
            State::Text(Some(text)) => text.len(),
            _ => 0,
        }
    }

    /// The estimated bytes of the pending inputs (those [`Accumulator::add`]
    /// counted and [`Accumulator::take_pending`] did not take yet).
    pub(super) fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// Takes the pending inputs out as (sort key, arguments), keyed by
    /// [`pending_key`] (invariant 2).
    pub(super) fn take_pending(
        &mut self,
        aggregate: &Aggregate,
    ) -> Result<Vec<(Vec<Value>, Vec<Value>)>> {
        self.pending_bytes = 0;
        match &mut self.pending {
            None => Ok(Vec::new()),
            Some(Pending::Distinct(seen)) => std::mem::take(seen)
                .into_iter()
                .map(|args| Ok((pending_key(aggregate, Vec::new(), &args)?, args)))
                .collect(),
            Some(Pending::Ordered(inputs)) => Ok(std::mem::take(inputs)),
        }
    }

    /// Feeds one pending input, arriving in [`pending_order`]; `previous`
    /// is the last argument list fed, for DISTINCT (invariant 1).
    pub(super) fn feed_sorted(
        &mut self,
        aggregate: &Aggregate,
        args: Vec<Value>,
        previous: &mut Option<Vec<Value>>,
    ) -> Result<()> {
        if aggregate.distinct {
            if previous.as_ref() == Some(&args) {
                return Ok(());
            }
            *previous = Some(args.clone());
        }
        self.feed(aggregate, &args)
    }

    /// Adds one input's arguments to the state, copying only what it keeps.
    fn feed(&mut self, aggregate: &Aggregate, args: &[Value]) -> Result<()> {
        if aggregate.function == AggregateFunction::CountStar {
            if let State::Count(count) = &mut self.state {
                *count += 1;
            }
            return Ok(());
        }
        let mut args = args.iter();
        let Some(value) = args.next().filter(|value| !value.is_null()) else {
            return Ok(());
        };
        match &mut self.state {
            State::Count(count) => *count += 1,
            State::Sum {
                integer,
                numeric,
                float,
                interval,
                count,
            } => {
                *count += 1;
                match value {
                    Value::Numeric(v) => *numeric = numeric.add(v)?,
                    Value::Interval(v) => *interval = interval.checked_add(v)?,
                    _ => match value.as_i64() {
                        Some(v) => *integer += i128::from(v),
                        None => *float += value.as_f64().unwrap_or(0.0),
                    },
                }
            }
            State::Best(best) => {
                if better(aggregate, value, best.as_ref()) {
                    *best = Some(value.clone());
                }
            }
            State::Boolean(result) => {
                let &Value::Boolean(b) = value else {
                    return Err(Error::Internal(format!("a boolean aggregate of {value:?}")));
                };
                *result = Some(match (aggregate.function, *result) {
                    (AggregateFunction::BoolOr, Some(current)) => current || b,
                    (_, Some(current)) => current && b,
                    (_, None) => b,
                });
            }
            State::Moments { n, sum, squares } => {
                let x = value.as_f64().unwrap_or(0.0);
                // PostgreSQL's float8_accum (Youngs–Cramer).
                let previous = *n;
                *n += 1.0;
                *sum += x;
                if previous > 0.0 {
                    let deviation = x * *n - *sum;
                    *squares += deviation * deviation / (*n * previous);
                }
            }
            State::Text(text) => {
                let Value::Text(piece) = value else {
                    return Err(Error::Internal("string_agg of a non-text value".into()));
                };
                match text {
                    None => *text = Some(piece.to_string()),
                    Some(text) => {
                        if let Some(Value::Text(delimiter)) = args.next() {
                            text.push_str(delimiter);
                        }
                        text.push_str(piece);
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether calls `a` and `b` may share one accumulator: the same inputs
    /// (arguments and FILTER, neither DISTINCT nor ORDER BY) folded into
    /// the same kind of state, only finished differently (`sum` and `avg`;
    /// the variance family), or the very same call written twice.
    /// PostgreSQL shares transition states the same way (nodeAgg.c, for
    /// calls with the same transition function and inputs).
    pub(super) fn shares_state(a: &Aggregate, b: &Aggregate) -> bool {
        use AggregateFunction::*;
        let family = |function: AggregateFunction| match function {
            Sum | Avg => Some(0),
            Stddev | StddevSamp | StddevPop | Variance | VarSamp | VarPop => Some(1),
            CountStar => Some(2),
            Count => Some(3),
            Min => Some(4),
            Max => Some(5),
            BoolAnd | Every => Some(6),
            BoolOr => Some(7),
            // Its state holds the delimiter's effect: never shared.
            StringAgg => None,
        };
        !defers(a)
            && !defers(b)
            && family(a.function).is_some()
            && family(a.function) == family(b.function)
            && a.args == b.args
            && a.filter == b.filter
    }

    /// Whether partial states of `aggregate`, each over part of a group's
    /// inputs, combine ([`Accumulator::combine`]) into the state over all
    /// of them, whatever the order of the parts. Not for calls that hold
    /// their inputs (DISTINCT, ORDER BY) or whose result depends on the
    /// input order (`string_agg` without ORDER BY).
    pub(super) fn combines(aggregate: &Aggregate) -> bool {
        !defers(aggregate) && aggregate.function != AggregateFunction::StringAgg
    }

    /// Adds `other`, the state of the same call over other inputs of the
    /// group (PostgreSQL's combine functions; for the variance family its
    /// `float8_combine`). Only for calls that [`Accumulator::combines`].
    pub(super) fn combine(&mut self, aggregate: &Aggregate, other: Accumulator) -> Result<()> {
        match (&mut self.state, other.state) {
            (State::Count(count), State::Count(more)) => *count += more,
            (
                State::Sum {
                    integer,
                    numeric,
                    float,
                    interval,
                    count,
                },
                State::Sum {
                    integer: more_integer,
                    numeric: more_numeric,
                    float: more_float,
                    interval: more_interval,
                    count: more_count,
                },
            ) => {
                *integer += more_integer;
                *numeric = numeric.add(&more_numeric)?;
                *float += more_float;
                *interval = interval.checked_add(&more_interval)?;
                *count += more_count;
            }
            (State::Best(best), State::Best(Some(value))) => {
                if better(aggregate, &value, best.as_ref()) {
                    *best = Some(value);
                }
            }
            (State::Best(_), State::Best(None)) => {}
            (State::Boolean(result), State::Boolean(Some(b))) => {
                *result = Some(match (aggregate.function, *result) {
                    (AggregateFunction::BoolOr, Some(current)) => current || b,
                    (_, Some(current)) => current && b,
                    (_, None) => b,
                });
            }
            (State::Boolean(_), State::Boolean(None)) => {}
            (
                State::Moments { n, sum, squares },
                State::Moments {
                    n: more_n,
                    sum: more_sum,
                    squares: more_squares,
                },
            ) => {
                if *n == 0.0 {
                    (*n, *sum, *squares) = (more_n, more_sum, more_squares);
                } else if more_n > 0.0 {
                    let total = *n + more_n;
                    let difference = *sum / *n - more_sum / more_n;
                    *squares += more_squares + *n * more_n * difference * difference / total;
                    *n = total;
                    *sum += more_sum;
                }
            }
            _ => {
                return Err(Error::Internal(format!(
                    "cannot combine partial states of {:?}",
                    aggregate.function
                )));
            }
        }
        Ok(())
    }

    /// The aggregate's value, after feeding the pending inputs still held.
    pub(super) fn finish(mut self, aggregate: &Aggregate) -> Result<Value> {
        let mut pending = self.take_pending(aggregate)?;
        if !pending.is_empty() {
            let order = pending_order(aggregate);
            pending.sort_by(|(a, _), (b, _)| compare(a, b, &order));
            let mut previous = None;
            for (_, args) in pending {
                self.feed_sorted(aggregate, args, &mut previous)?;
            }
        }
        Ok(match self.state {
            State::Count(count) => Value::BigInt(count),
            State::Sum { count: 0, .. } => Value::Null,
            State::Sum {
                integer,
                numeric,
                float,
                interval,
                count,
            } => match (aggregate.function, aggregate.data_type) {
                (AggregateFunction::Avg, DataType::Interval(_)) => {
                    Value::Interval(interval.divide(count as f64)?)
                }
                (_, DataType::Interval(_)) => Value::Interval(interval),
                // Integer inputs summed in `integer`, numeric ones in `numeric`.
                (_, DataType::Numeric(_)) => {
                    let sum = numeric.add(&Numeric::from_i128(integer))?;
                    Value::Numeric(match aggregate.function {
                        AggregateFunction::Avg => sum.div(&Numeric::from_i64(count))?,
                        _ => sum,
                    })
                }
                (AggregateFunction::Avg, _) => {
                    Value::Double((integer as f64 + float) / count as f64)
                }
                _ => match aggregate.data_type {
                    DataType::BigInt => Value::BigInt(i64::try_from(integer).map_err(|_| {
                        Error::sql(SqlState::NUMERIC_VALUE_OUT_OF_RANGE, "bigint out of range")
                    })?),
                    DataType::Real => Value::Real(float as f32),
                    _ => Value::Double(float),
                },
            },
            State::Best(best) => best.unwrap_or(Value::Null),
            State::Boolean(result) => result.map_or(Value::Null, Value::Boolean),
            State::Moments { n, squares, .. } => {
                let population = matches!(
                    aggregate.function,
                    AggregateFunction::StddevPop | AggregateFunction::VarPop
                );
                let divisor = if population { n } else { n - 1.0 };
                if divisor <= 0.0 {
                    Value::Null
                } else {
                    let variance = squares / divisor;
                    Value::Double(match aggregate.function {
                        AggregateFunction::Stddev
                        | AggregateFunction::StddevSamp
                        | AggregateFunction::StddevPop => variance.sqrt(),
                        _ => variance,
                    })
                }
            }
            State::Text(text) => text.map_or(Value::Null, |text| Value::Text(text.into())),
        })
    }
}

/// An aggregate's input from one row: its sort key and argument values,
/// evaluated into `keys` and `args` (buffers the caller reuses); `false`
/// if its FILTER rejects the row.
pub(super) fn aggregate_input(
    aggregate: &Aggregate,
    row: &[Value],
    context: &mut Context<'_>,
    keys: &mut Vec<Value>,
    args: &mut Vec<Value>,
) -> Result<bool> {
    keys.clear();
    args.clear();
    if let Some(filter) = &aggregate.filter
        && !filter.is_true(row, context)?
    {
        return Ok(false);
    }
    for key in &aggregate.order_by {
        keys.push(key.expr.evaluate(row, context)?);
    }
    for arg in &aggregate.args {
        args.push(arg.evaluate(row, context)?);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::expr::Expr;
    use crate::sql::plan::SortKey;

    fn aggregate(function: AggregateFunction, data_type: DataType) -> Aggregate {
        Aggregate {
            function,
            args: vec![Expr::Slot(0)],
            distinct: false,
            filter: None,
            order_by: Vec::new(),
            data_type,
        }
    }

    fn run(aggregate: &Aggregate, values: &[Value]) -> Value {
        let mut accumulator = Accumulator::new(aggregate);
        for value in values {
            accumulator
                .add(aggregate, &[], std::slice::from_ref(value))
                .expect("adds");
        }
        accumulator.finish(aggregate).expect("finishes")
    }

    #[test]
    fn variance_agrees_with_postgresql_digits() {
        let values: Vec<Value> = [1.0, 2.0, 4.0, 8.0]
            .iter()
            .map(|v| Value::Double(*v))
            .collect();
        let variance = aggregate(AggregateFunction::VarSamp, DataType::Double);
        assert_eq!(run(&variance, &values), Value::Double(9.583333333333334));
        let population = aggregate(AggregateFunction::StddevPop, DataType::Double);
        assert_eq!(run(&population, &values), Value::Double(2.680951323690902));
        // One value has no sample variance; none has no variance at all.
        assert!(run(&variance, &values[..1]).is_null());
        assert!(run(&population, &[]).is_null());
    }

    #[test]
    fn boolean_aggregates_skip_nulls() {
        let and = aggregate(AggregateFunction::BoolAnd, DataType::Boolean);
        let or = aggregate(AggregateFunction::BoolOr, DataType::Boolean);
        let values = [Value::Boolean(true), Value::Null, Value::Boolean(false)];
        assert_eq!(run(&and, &values), Value::Boolean(false));
        assert_eq!(run(&or, &values), Value::Boolean(true));
        assert!(run(&and, &[Value::Null]).is_null());
    }

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    /// `string_agg(DISTINCT x, ',' [ORDER BY x DESC])`.
    fn distinct_string_agg(descending: bool) -> Aggregate {
        Aggregate {
            function: AggregateFunction::StringAgg,
            args: vec![Expr::Slot(0), Expr::Literal(text(","))],
            distinct: true,
            filter: None,
            order_by: if descending {
                vec![SortKey {
                    expr: Expr::Slot(0),
                    descending: true,
                    nulls_first: true,
                }]
            } else {
                Vec::new()
            },
            data_type: DataType::Text,
        }
    }

    #[test]
    fn pending_inputs_come_out_sorted_and_distinct_however_they_were_held() {
        let inputs = ["b", "a", "c", "a", "b", "d", "c"];
        for (descending, expected) in [(false, "a,b,c,d"), (true, "d,c,b,a")] {
            let aggregate = distinct_string_agg(descending);
            let add = |accumulator: &mut Accumulator, x: &str| {
                accumulator
                    .add(&aggregate, &[text(x)], &[text(x), text(",")])
                    .expect("add")
            };
            // All pending until the end.
            let mut whole = Accumulator::new(&aggregate);
            let mut grew = 0;
            for x in inputs {
                grew += add(&mut whole, x);
            }
            assert!(grew > 0);
            assert_eq!(whole.finish(&aggregate).expect("finish"), text(expected));
            // Taken out halfway (duplicates across the halves), sorted
            // together and fed back.
            let mut split = Accumulator::new(&aggregate);
            let mut taken = Vec::new();
            for (i, x) in inputs.iter().enumerate() {
                add(&mut split, x);
                if i == 3 {
                    taken.extend(split.take_pending(&aggregate).expect("take"));
                }
            }
            taken.extend(split.take_pending(&aggregate).expect("take"));
            let order = pending_order(&aggregate);
            taken.sort_by(|(a, _), (b, _)| compare(a, b, &order));
            let mut previous = None;
            for (_, args) in taken {
                split
                    .feed_sorted(&aggregate, args, &mut previous)
                    .expect("feed");
            }
            assert_eq!(split.finish(&aggregate).expect("finish"), text(expected));
        }
    }
}
