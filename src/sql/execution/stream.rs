//! Row-at-a-time operators that hold no rows: literal rows, filters,
//! projections, LIMIT/OFFSET and `generate_series`. Each pulls at most what it needs, so a
//! `LIMIT` stops the scan below it as soon as it has its rows.

use super::Operator;
use super::context::Context;
use crate::error::{Error, Result, SqlState};
use crate::sql::expr::Expr;
use crate::sql::types::{DataType, Row, Value};

/// Literal rows, evaluated one at a time.
pub struct ValuesOperator {
    rows: std::vec::IntoIter<Vec<Expr>>,
}

impl ValuesOperator {
    pub fn new(rows: Vec<Vec<Expr>>) -> ValuesOperator {
        ValuesOperator {
            rows: rows.into_iter(),
        }
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        let Some(row) = self.rows.next() else {
            return Ok(None);
        };
        row.iter()
            .map(|e| e.evaluate(&[], context))
            .collect::<Result<Row>>()
            .map(Some)
    }
}

/// The input rows for which the predicate is true.
pub struct FilterOperator {
    input: Box<Operator>,
    predicate: Expr,
}

impl FilterOperator {
    pub fn new(input: Operator, predicate: Expr) -> FilterOperator {
        FilterOperator {
            input: Box::new(input),
            predicate,
        }
    }

    pub fn input_mut(&mut self) -> &mut Operator {
        &mut self.input
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        while let Some(row) = self.input.next(context)? {
            if self.predicate.is_true(&row, context)? {
                return Ok(Some(row));
            }
        }
        Ok(None)
    }
}

/// New columns computed from each input row.
///
/// A column that only one output reads (`Slot` alone, read by no other
/// expression) moves out of the input row instead of being copied; when
/// every output is such a column, the output reuses the input row's
/// allocation, so narrowing a join's rows for an aggregate allocates
/// nothing per row.
pub struct ProjectOperator {
    input: Box<Operator>,
    exprs: Vec<Expr>,
    /// Per output: the input column it moves out, if it is one.
    moves: Vec<Option<usize>>,
    /// Whether every output moves a column (the row is rebuilt in place).
    all_moved: bool,
    /// The moved values of the row being rebuilt (reused).
    scratch: Row,
}

impl ProjectOperator {
    pub fn new(input: Operator, exprs: Vec<Expr>) -> ProjectOperator {
        let moves = Expr::sole_columns(&exprs);
        ProjectOperator {
            input: Box::new(input),
            all_moved: moves.iter().all(Option::is_some),
            moves,
            exprs,
            scratch: Vec::new(),
        }
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        let Some(mut row) = self.input.next(context)? else {
            return Ok(None);
        };
        // A moved column is read by no other output, so taking it changes
        // no other output's value.
        let take = |row: &mut Row, slot: usize| {
            row.get_mut(slot)
                .map(Value::take)
                .ok_or_else(|| Error::Internal(format!("column offset {slot} out of range")))
        };
        if self.all_moved {
            self.scratch.clear();
            for slot in self.moves.iter().flatten() {
                self.scratch.push(take(&mut row, *slot)?);
            }
            row.clear();
            row.append(&mut self.scratch);
            return Ok(Some(row));
        }
        let mut output = Vec::with_capacity(self.exprs.len());
        // Computed outputs first, while every column is still in place.
        for (expr, moved) in self.exprs.iter().zip(&self.moves) {
            output.push(match moved {
                Some(_) => Value::Null,
                None => expr.evaluate(&row, context)?,
            });
        }
        for (value, moved) in output.iter_mut().zip(&self.moves) {
            if let Some(slot) = moved {
                *value = take(&mut row, *slot)?;
            }
        }
        Ok(Some(output))
    }
}

/// `LIMIT`/`OFFSET`: the counts are evaluated at the first pull.
pub struct LimitOperator {
    input: Box<Operator>,
    limit: Option<Expr>,
    offset: Option<Expr>,
    /// Rows still to return (`None`: no limit); `None` before the first pull.
    state: Option<LimitState>,
}

struct LimitState {
    remaining: Option<usize>,
    to_skip: usize,
}

impl LimitOperator {
    pub fn new(input: Operator, limit: Option<Expr>, offset: Option<Expr>) -> LimitOperator {
        LimitOperator {
            input: Box::new(input),
            limit,
            offset,
            state: None,
        }
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        if self.state.is_none() {
            let remaining = count(
                &self.limit,
                "LIMIT",
                SqlState::INVALID_ROW_COUNT_IN_LIMIT_CLAUSE,
                context,
            )?;
            let to_skip = count(
                &self.offset,
                "OFFSET",
                SqlState::INVALID_ROW_COUNT_IN_RESULT_OFFSET_CLAUSE,
                context,
            )?
            .unwrap_or(0);
            self.state = Some(LimitState { remaining, to_skip });
        }
        let state = self
            .state
            .as_mut()
            .expect("invariant: the state was set above");
        if state.remaining == Some(0) {
            return Ok(None);
        }
        while state.to_skip > 0 {
            if self.input.next(context)?.is_none() {
                state.remaining = Some(0);
                return Ok(None);
            }
            state.to_skip -= 1;
        }
        let row = self.input.next(context)?;
        match (&row, &mut state.remaining) {
            (Some(_), Some(remaining)) => *remaining -= 1,
            (None, remaining) => *remaining = Some(0),
            _ => {}
        }
        Ok(row)
    }
}

/// A LIMIT or OFFSET count: NULL means none; negative is an error.
fn count(
    expr: &Option<Expr>,
    what: &str,
    state: SqlState,
    context: &mut Context<'_>,
) -> Result<Option<usize>> {
    let Some(expr) = expr else { return Ok(None) };
    match expr.evaluate(&[], context)? {
        Value::Null => Ok(None),
        value => {
            let n = value
                .as_i64()
                .ok_or_else(|| Error::Internal(format!("non-integer {what}")))?;
            if n < 0 {
                return Err(Error::sql(state, format!("{what} must not be negative")));
            }
            Ok(Some(usize::try_from(n).unwrap_or(usize::MAX)))
        }
    }
}

/// `generate_series(start, stop [, step])` over integers, or over
/// timestamps with an interval step (each value the previous one plus the
/// step, so a day clamped by a month step stays clamped, as in
/// PostgreSQL): the arguments are evaluated at the first pull (they may
/// read a LATERAL frame); a NULL argument gives no rows and a zero step is
/// 22023.
pub struct GenerateSeries {
    start: Expr,
    stop: Expr,
    step: Option<Expr>,
    data_type: DataType,
    /// The next value and the bounds, once evaluated; `None` when done.
    state: Option<Option<Series>>,
}

enum Series {
    Integers(i128, i128, i128),
    /// Next, stop (microseconds) and the step; `zoned` for timestamptz.
    Times {
        next: i64,
        stop: i64,
        step: crate::sql::datetime::Interval,
        zoned: bool,
    },
}

impl GenerateSeries {
    pub fn new(start: Expr, stop: Expr, step: Option<Expr>, data_type: DataType) -> Self {
        GenerateSeries {
            start,
            stop,
            step,
            data_type,
            state: None,
        }
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        if self.state.is_none() {
            let mut values = Vec::with_capacity(3);
            for expr in [Some(&self.start), Some(&self.stop), self.step.as_ref()]
                .into_iter()
                .flatten()
            {
                values.push(expr.evaluate(&[], context)?);
            }
            let zero_step = || {
                Error::sql(
                    SqlState::INVALID_PARAMETER_VALUE,
                    "step size cannot equal zero",
                )
            };
            let integers: Option<Vec<i128>> =
                values.iter().map(|v| v.as_i64().map(i128::from)).collect();
            self.state = Some(match (integers.as_deref(), values.as_slice()) {
                (Some([start, stop]), _) => Some(Series::Integers(*start, *stop, 1)),
                (Some([_, _, 0]), _) => return Err(zero_step()),
                (Some([start, stop, step]), _) => Some(Series::Integers(*start, *stop, *step)),
                (
                    _,
                    [
                        Value::Timestamp(start) | Value::Timestamptz(start),
                        Value::Timestamp(stop) | Value::Timestamptz(stop),
                        Value::Interval(step),
                    ],
                ) => {
                    if step.span() == 0 {
                        return Err(zero_step());
                    }
                    Some(Series::Times {
                        next: *start,
                        stop: *stop,
                        step: *step,
                        zoned: matches!(self.data_type, DataType::Timestamptz(_)),
                    })
                }
                _ => None,
            });
        }
        let Some(Some(series)) = &mut self.state else {
            return Ok(None);
        };
        let mut last = false;
        let value = match series {
            Series::Integers(next, stop, step) => {
                if (*step > 0 && *next > *stop) || (*step < 0 && *next < *stop) {
                    self.state = Some(None);
                    return Ok(None);
                }
                let value = *next;
                *next += *step;
                match self.data_type {
                    DataType::BigInt => Value::BigInt(value as i64),
                    _ => Value::Integer(value as i32),
                }
            }
            Series::Times {
                next,
                stop,
                step,
                zoned,
            } => {
                let forward = step.span() > 0;
                if (forward && *next > *stop) || (!forward && *next < *stop) {
                    self.state = Some(None);
                    return Ok(None);
                }
                let value = *next;
                let advanced = if *zoned {
                    crate::sql::datetime::functions::timestamptz_plus_interval(
                        value,
                        step,
                        &context.state.time.zone,
                    )
                } else {
                    crate::sql::datetime::functions::timestamp_plus_interval(value, step)
                };
                match advanced {
                    Ok(advanced) => *next = advanced,
                    // Past the end of the range: this value is the last.
                    Err(_) => last = true,
                }
                if *zoned {
                    Value::Timestamptz(value)
                } else {
                    Value::Timestamp(value)
                }
            }
        };
        if last {
            self.state = Some(None);
        }
        Ok(Some(vec![value]))
    }
}

/// `DISTINCT ON`: over input sorted with the ON values leading, the first
/// row of each run of equal ON values (NULLs equal, as DISTINCT compares).
pub struct DistinctOnOperator {
    input: Box<Operator>,
    on: Vec<Expr>,
    previous: Option<Vec<Value>>,
}

impl DistinctOnOperator {
    pub fn new(input: Operator, on: Vec<Expr>) -> DistinctOnOperator {
        DistinctOnOperator {
            input: Box::new(input),
            on,
            previous: None,
        }
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        while let Some(row) = self.input.next(context)? {
            let mut key = Vec::with_capacity(self.on.len());
            for expr in &self.on {
                key.push(expr.evaluate(&row, context)?);
            }
            if self.previous.as_ref() != Some(&key) {
                self.previous = Some(key);
                return Ok(Some(row));
            }
        }
        Ok(None)
    }
}
