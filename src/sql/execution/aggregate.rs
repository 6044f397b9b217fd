//! Hash aggregation: reads its whole input into a table of groups, then
//! returns one row per group (group values, then aggregate results, then
//! the grouping set's index when there are grouping sets) in the order the
//! groups first appeared.
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
//! one group even for no input: `count(*)` of an empty table is 0.
//!
//! Each aggregate call keeps an [`Accumulator`]: rows its FILTER rejects
//! are skipped, DISTINCT drops repeated argument values, and a call with
//! ORDER BY buffers its inputs and feeds them in that order at the end.
//! NULL inputs are skipped by every aggregate but `count(*)`, as in SQL.
//! The variance family uses PostgreSQL's float8 accumulation (Youngs and
//! Cramer) so that results agree to the last digit.

use std::collections::{HashMap, HashSet};

use super::Operator;
use super::context::Context;
use super::sort::compare_keys;
use crate::error::{Error, Result, SqlState};
use crate::sql::expr::Expr;
use crate::sql::plan::{Aggregate, AggregateFunction};
use crate::sql::types::{DataType, Row, Value};

/// The running value of one aggregate within one group.
#[derive(Clone, Debug)]
enum State {
    Count(i64),
    /// `sum` and `avg`: integers exactly, floats as f64.
    Sum {
        integer: i128,
        float: f64,
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

/// One aggregate's accumulator within one group (or window frame).
#[derive(Clone, Debug)]
pub(super) struct Accumulator {
    state: State,
    /// Argument values seen (DISTINCT).
    seen: Option<HashSet<Vec<Value>>>,
    /// Inputs held for ORDER BY: sort key values and argument values.
    buffered: Option<Vec<(Vec<Value>, Vec<Value>)>>,
}

impl Accumulator {
    pub(super) fn new(aggregate: &Aggregate) -> Accumulator {
        let state = match aggregate.function {
            AggregateFunction::CountStar | AggregateFunction::Count => State::Count(0),
            AggregateFunction::Sum | AggregateFunction::Avg => State::Sum {
                integer: 0,
                float: 0.0,
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
        Accumulator {
            state,
            seen: aggregate.distinct.then(HashSet::new),
            buffered: (!aggregate.order_by.is_empty()).then(Vec::new),
        }
    }

    /// Adds one input row's values (FILTER already passed).
    pub(super) fn add(
        &mut self,
        aggregate: &Aggregate,
        keys: Vec<Value>,
        args: Vec<Value>,
    ) -> Result<()> {
        match &mut self.buffered {
            Some(buffer) => {
                buffer.push((keys, args));
                Ok(())
            }
            None => self.feed(aggregate, args),
        }
    }

    fn feed(&mut self, aggregate: &Aggregate, args: Vec<Value>) -> Result<()> {
        if aggregate.function == AggregateFunction::CountStar {
            if let State::Count(count) = &mut self.state {
                *count += 1;
            }
            return Ok(());
        }
        if args.first().is_none_or(Value::is_null) {
            return Ok(());
        }
        if let Some(seen) = &mut self.seen {
            if seen.contains(&args) {
                return Ok(());
            }
            seen.insert(args.clone());
        }
        let mut args = args.into_iter();
        let value = args.next().expect("invariant: checked above");
        match &mut self.state {
            State::Count(count) => *count += 1,
            State::Sum {
                integer,
                float,
                count,
            } => {
                *count += 1;
                match value.as_i64() {
                    Some(v) => *integer += i128::from(v),
                    None => *float += value.as_f64().unwrap_or(0.0),
                }
            }
            State::Best(best) => {
                let replace = match best {
                    None => true,
                    Some(current) => {
                        let ordering = value.total_cmp(current);
                        if aggregate.function == AggregateFunction::Min {
                            ordering.is_lt()
                        } else {
                            ordering.is_gt()
                        }
                    }
                };
                if replace {
                    *best = Some(value);
                }
            }
            State::Boolean(result) => {
                let Value::Boolean(b) = value else {
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
                    None => *text = Some(piece),
                    Some(text) => {
                        if let Some(Value::Text(delimiter)) = args.next() {
                            text.push_str(&delimiter);
                        }
                        text.push_str(&piece);
                    }
                }
            }
        }
        Ok(())
    }

    pub(super) fn finish(mut self, aggregate: &Aggregate) -> Result<Value> {
        if let Some(mut buffer) = self.buffered.take() {
            buffer.sort_by(|(a, _), (b, _)| compare_keys(a, b, &aggregate.order_by));
            for (_, args) in buffer {
                self.feed(aggregate, args)?;
            }
        }
        Ok(match self.state {
            State::Count(count) => Value::BigInt(count),
            State::Sum { count: 0, .. } => Value::Null,
            State::Sum {
                integer,
                float,
                count,
            } => match aggregate.function {
                AggregateFunction::Avg => Value::Double((integer as f64 + float) / count as f64),
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
            State::Text(text) => text.map_or(Value::Null, Value::Text),
        })
    }
}

/// One group's values and accumulators.
type Group = (Row, Vec<Accumulator>);

/// Hash aggregation (compiled: group keys and aggregate expressions read
/// the input row).
pub struct AggregateOperator {
    input: Box<Operator>,
    group_by: Vec<Expr>,
    aggregates: Vec<Aggregate>,
    /// The grouping sets, each the indices of its group columns; `None`
    /// for a plain GROUP BY (one set of every column).
    sets: Option<Vec<Vec<usize>>>,
    /// The result rows, once the input has been read.
    output: Option<std::vec::IntoIter<Row>>,
}

impl AggregateOperator {
    pub fn new(
        input: Operator,
        group_by: Vec<Expr>,
        aggregates: Vec<Aggregate>,
        sets: Option<Vec<Vec<usize>>>,
    ) -> Self {
        AggregateOperator {
            input: Box::new(input),
            group_by,
            aggregates,
            sets,
            output: None,
        }
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        if self.output.is_none() {
            let rows = self.aggregate(context)?;
            self.output = Some(rows.into_iter());
        }
        Ok(self
            .output
            .as_mut()
            .expect("invariant: the output was computed above")
            .next())
    }

    fn aggregate(&mut self, context: &mut Context<'_>) -> Result<Vec<Row>> {
        let aggregates = &self.aggregates;
        let all: Vec<usize> = (0..self.group_by.len()).collect();
        let sets: Vec<Vec<usize>> = self.sets.clone().unwrap_or_else(|| vec![all]);
        // Groups by (set, key); a set's key has NULL for columns outside it.
        let mut groups: Vec<(usize, Group)> = Vec::new();
        let mut index: HashMap<(usize, Row), usize> = HashMap::new();
        let fresh = || aggregates.iter().map(Accumulator::new).collect::<Vec<_>>();
        for (set, columns) in sets.iter().enumerate() {
            if columns.is_empty() {
                let key = vec![Value::Null; self.group_by.len()];
                index.insert((set, key.clone()), groups.len());
                groups.push((set, (key, fresh())));
            }
        }
        while let Some(row) = self.input.next(context)? {
            let values = self
                .group_by
                .iter()
                .map(|e| e.evaluate(&row, context))
                .collect::<Result<Row>>()?;
            let mut inputs = Vec::with_capacity(aggregates.len());
            for aggregate in aggregates {
                inputs.push(aggregate_input(aggregate, &row, context)?);
            }
            for (set, columns) in sets.iter().enumerate() {
                let key: Row = values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        if columns.contains(&i) {
                            v.clone()
                        } else {
                            Value::Null
                        }
                    })
                    .collect();
                let slot = match index.get(&(set, key.clone())) {
                    Some(slot) => *slot,
                    None => {
                        index.insert((set, key.clone()), groups.len());
                        groups.push((set, (key, fresh())));
                        groups.len() - 1
                    }
                };
                let accumulators = &mut groups[slot].1.1;
                for ((accumulator, aggregate), input) in
                    accumulators.iter_mut().zip(aggregates).zip(&inputs)
                {
                    if let Some((keys, args)) = input {
                        accumulator.add(aggregate, keys.clone(), args.clone())?;
                    }
                }
            }
        }
        let with_set = self.sets.is_some();
        groups
            .into_iter()
            .map(|(set, (mut key, accumulators))| {
                for (accumulator, aggregate) in accumulators.into_iter().zip(aggregates) {
                    key.push(accumulator.finish(aggregate)?);
                }
                if with_set {
                    key.push(Value::Integer(set as i32));
                }
                Ok(key)
            })
            .collect()
    }
}

/// An aggregate's input from one row: its sort key and argument values, or
/// `None` if its FILTER rejects the row.
pub(super) fn aggregate_input(
    aggregate: &Aggregate,
    row: &[Value],
    context: &mut Context<'_>,
) -> Result<Option<(Vec<Value>, Vec<Value>)>> {
    if let Some(filter) = &aggregate.filter
        && !filter.is_true(row, context)?
    {
        return Ok(None);
    }
    let mut keys = Vec::with_capacity(aggregate.order_by.len());
    for key in &aggregate.order_by {
        keys.push(key.expr.evaluate(row, context)?);
    }
    let mut args = Vec::with_capacity(aggregate.args.len());
    for arg in &aggregate.args {
        args.push(arg.evaluate(row, context)?);
    }
    Ok(Some((keys, args)))
}

#[cfg(test)]
mod tests {
    use super::*;

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
                .add(aggregate, Vec::new(), vec![value.clone()])
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
}
