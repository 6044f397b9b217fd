//! Binding of the date/time operators and functions: which overload an
//! operator or function call resolves to, with PostgreSQL's rules for
//! unknown literals (`date '2024-01-15' + '1 day'` reads the literal as an
//! interval, `date - '2024-01-01'` as a date) and its implicit casts
//! (a date becomes a timestamp at its midnight).

use sqlparser::ast;

use super::Binder;
use super::expr::Typed;
use crate::error::{Error, Result, SqlState};
use crate::sql::datetime::{IntervalField, interval::parse_interval};
use crate::sql::expr::{BinaryOp, Expr, Function, TimeFunction};
use crate::sql::types::{DataType, Value};

/// The functions [`Binder::bind_time_function`] binds.
pub(super) fn is_time_function(name: &str) -> bool {
    matches!(
        name,
        "now"
            | "transaction_timestamp"
            | "current_timestamp"
            | "statement_timestamp"
            | "clock_timestamp"
            | "current_date"
            | "localtimestamp"
            | "localtime"
            | "current_time"
            | "date_part"
            | "date_trunc"
            | "age"
            | "make_date"
            | "make_time"
            | "make_timestamp"
            | "make_timestamptz"
            | "justify_days"
            | "justify_hours"
            | "justify_interval"
            | "isfinite"
            | "timezone"
    )
}

/// Whether an operand's type is one of the time types.
pub(super) fn is_time_operand(data_type: Option<DataType>) -> bool {
    matches!(
        data_type,
        Some(
            DataType::Date
                | DataType::Time(_)
                | DataType::Timestamp(_)
                | DataType::Timestamptz(_)
                | DataType::Interval(_)
        )
    )
}

const INTERVAL: DataType = DataType::Interval(None);
const TIMESTAMP: DataType = DataType::Timestamp(None);
const TIMESTAMPTZ: DataType = DataType::Timestamptz(None);
const TIME: DataType = DataType::Time(None);

fn time_function(function: TimeFunction, args: Vec<Expr>, data_type: DataType) -> Typed {
    Typed {
        expr: Expr::Function {
            function: Function::Time(function),
            args,
        },
        data_type: Some(data_type),
    }
}

fn unit_name(field: &ast::DateTimeField) -> Result<String> {
    Ok(match field {
        ast::DateTimeField::Custom(ident) => ident.value.to_ascii_lowercase(),
        ast::DateTimeField::Week(_) => "week".into(),
        other => other.to_string().to_ascii_lowercase(),
    })
}

impl Binder<'_> {
    /// Resolves `typed` to a time type where it is an unknown literal.
    fn as_type(&mut self, typed: Typed, target: DataType) -> Result<Expr> {
        self.coerce(typed, target)
    }

    pub(super) fn bind_time_arithmetic(
        &mut self,
        op: BinaryOp,
        left: Typed,
        right: Typed,
    ) -> Result<Typed> {
        use DataType as T;
        let known = left.data_type.or(right.data_type);
        // An unknown literal takes the type the operator needs.
        let resolve = |other: Option<DataType>| -> DataType {
            match (op, known.map(|t| t.unmodified())) {
                (BinaryOp::Multiply | BinaryOp::Divide, _) => T::Double,
                (BinaryOp::Add, Some(T::Interval(_))) => INTERVAL,
                (BinaryOp::Add, _) => INTERVAL,
                (_, Some(t)) => other.unwrap_or(t),
                _ => INTERVAL,
            }
        };
        let left_type = left
            .data_type
            .unwrap_or_else(|| resolve(right.data_type))
            .unmodified();
        let right_type = right
            .data_type
            .unwrap_or_else(|| resolve(left.data_type))
            .unmodified();
        let (l, r) = (left_type, right_type);
        let integer = |t: DataType| t.is_integer();
        let number = |t: DataType| t.is_numeric();
        let binary = |binder: &mut Self,
                      left: Typed,
                      right: Typed,
                      left_to: DataType,
                      right_to: DataType,
                      result: DataType|
         -> Result<Typed> {
            let left = binder.as_type(left, left_to)?;
            let right = binder.as_type(right, right_to)?;
            Ok(Typed {
                expr: Expr::Binary {
                    op,
                    left: Box::new(left),
                    right: Box::new(right),
                    data_type: result,
                },
                data_type: Some(result),
            })
        };
        match (op, l, r) {
            (BinaryOp::Add, T::Date, t) | (BinaryOp::Subtract, T::Date, t) if integer(t) => {
                binary(self, left, right, T::Date, T::Integer, T::Date)
            }
            (BinaryOp::Add, t, T::Date) if integer(t) => {
                binary(self, left, right, T::Integer, T::Date, T::Date)
            }
            (BinaryOp::Subtract, T::Date, T::Date) => {
                binary(self, left, right, T::Date, T::Date, T::Integer)
            }
            (BinaryOp::Add, T::Date, T::Time(_)) => {
                binary(self, left, right, T::Date, TIME, TIMESTAMP)
            }
            (BinaryOp::Subtract, T::Date, T::Time(_)) => {
                binary(self, left, right, T::Date, TIME, TIMESTAMP)
            }
            (BinaryOp::Add, T::Time(_), T::Date) => {
                binary(self, left, right, TIME, T::Date, TIMESTAMP)
            }
            (BinaryOp::Add | BinaryOp::Subtract, T::Date | T::Timestamp(_), T::Interval(_)) => {
                binary(self, left, right, TIMESTAMP, INTERVAL, TIMESTAMP)
            }
            (BinaryOp::Add, T::Interval(_), T::Date | T::Timestamp(_)) => {
                binary(self, left, right, INTERVAL, TIMESTAMP, TIMESTAMP)
            }
            (BinaryOp::Add | BinaryOp::Subtract, T::Timestamptz(_), T::Interval(_)) => {
                let function = if op == BinaryOp::Add {
                    TimeFunction::TimestamptzPlusInterval
                } else {
                    TimeFunction::TimestamptzMinusInterval
                };
                let left = self.as_type(left, TIMESTAMPTZ)?;
                let right = self.as_type(right, INTERVAL)?;
                Ok(time_function(function, vec![left, right], TIMESTAMPTZ))
            }
            (BinaryOp::Add, T::Interval(_), T::Timestamptz(_)) => {
                let left = self.as_type(left, INTERVAL)?;
                let right = self.as_type(right, TIMESTAMPTZ)?;
                Ok(time_function(
                    TimeFunction::TimestamptzPlusInterval,
                    vec![left, right],
                    TIMESTAMPTZ,
                ))
            }
            (BinaryOp::Subtract, a, b)
                if a.datetime_rank().is_some() && b.datetime_rank().is_some() =>
            {
                let wider = if a.datetime_rank() >= b.datetime_rank() {
                    a
                } else {
                    b
                };
                binary(self, left, right, wider, wider, INTERVAL)
            }
            (BinaryOp::Add | BinaryOp::Subtract, T::Time(_), T::Interval(_)) => {
                binary(self, left, right, TIME, INTERVAL, TIME)
            }
            (BinaryOp::Add, T::Interval(_), T::Time(_)) => {
                binary(self, left, right, INTERVAL, TIME, TIME)
            }
            (BinaryOp::Subtract, T::Time(_), T::Time(_)) => {
                binary(self, left, right, TIME, TIME, INTERVAL)
            }
            (BinaryOp::Add, T::Time(_), T::Time(_)) => Err(Error::sql(
                SqlState::AMBIGUOUS_FUNCTION,
                "operator is not unique: time without time zone + time without time zone",
            )),
            (BinaryOp::Add | BinaryOp::Subtract, T::Interval(_), T::Interval(_)) => {
                binary(self, left, right, INTERVAL, INTERVAL, INTERVAL)
            }
            (BinaryOp::Multiply | BinaryOp::Divide, T::Interval(_), t) if number(t) => {
                binary(self, left, right, INTERVAL, T::Double, INTERVAL)
            }
            (BinaryOp::Multiply, t, T::Interval(_)) if number(t) => {
                binary(self, left, right, T::Double, INTERVAL, INTERVAL)
            }
            _ => Err(super::expr::no_operator(
                op.symbol(),
                left.data_type,
                right.data_type,
            )),
        }
    }

    /// `INTERVAL '…' [field [TO field]]`.
    pub(super) fn bind_interval_literal(&mut self, interval: &ast::Interval) -> Result<Typed> {
        let text = match interval.value.as_ref() {
            ast::Expr::Value(value) => match &value.value {
                ast::Value::SingleQuotedString(text) => text.clone(),
                ast::Value::Number(text, _) => text.clone(),
                other => return Err(Error::Unsupported(format!("interval literal {other}"))),
            },
            other => return Err(Error::Unsupported(format!("interval literal {other}"))),
        };
        let field = |field: &ast::DateTimeField| -> Result<IntervalField> {
            Ok(match field {
                ast::DateTimeField::Year | ast::DateTimeField::Years => IntervalField::Year,
                ast::DateTimeField::Month | ast::DateTimeField::Months => IntervalField::Month,
                ast::DateTimeField::Day | ast::DateTimeField::Days => IntervalField::Day,
                ast::DateTimeField::Hour | ast::DateTimeField::Hours => IntervalField::Hour,
                ast::DateTimeField::Minute | ast::DateTimeField::Minutes => IntervalField::Minute,
                ast::DateTimeField::Second | ast::DateTimeField::Seconds => IntervalField::Second,
                other => return Err(Error::Unsupported(format!("interval field {other}"))),
            })
        };
        let leading = interval.leading_field.as_ref().map(field).transpose()?;
        let last = interval.last_field.as_ref().map(field).transpose()?;
        let precision = interval
            .fractional_seconds_precision
            .or(
                if leading == Some(IntervalField::Second) && last.is_none() {
                    interval.leading_precision
                } else {
                    None
                },
            )
            .map(|p| p.min(6) as u32);
        let last_field = last.or(leading);
        let mut value = parse_interval(&text, last_field)?;
        value = value.restrict(last_field, precision);
        Ok(Typed {
            expr: Expr::Literal(Value::Interval(value)),
            data_type: Some(INTERVAL),
        })
    }

    /// `extract(field FROM x)`.
    pub(super) fn bind_extract(
        &mut self,
        field: &ast::DateTimeField,
        operand: Typed,
    ) -> Result<Typed> {
        let name = unit_name(field)?;
        let operand = match operand.data_type {
            Some(t) if is_time_operand(Some(t)) => operand.expr,
            None => self.coerce(operand, TIMESTAMPTZ)?,
            Some(other) => {
                return Err(Error::sql(
                    SqlState::UNDEFINED_FUNCTION,
                    format!(
                        "function pg_catalog.extract(unknown, {}) does not exist",
                        other.name()
                    ),
                ));
            }
        };
        Ok(time_function(
            TimeFunction::Extract,
            vec![Expr::Literal(Value::Text(name.into())), operand],
            DataType::Numeric(None),
        ))
    }

    /// `x AT TIME ZONE zone`.
    pub(super) fn bind_at_time_zone(&mut self, value: Typed, zone: Typed) -> Result<Typed> {
        let (value, result) = match value.data_type.map(|t| t.unmodified()) {
            Some(DataType::Timestamp(_)) => (value.expr, TIMESTAMPTZ),
            Some(DataType::Timestamptz(_)) => (value.expr, TIMESTAMP),
            Some(DataType::Date) | None => (self.coerce(value, TIMESTAMPTZ)?, TIMESTAMP),
            Some(other) => {
                return Err(Error::sql(
                    SqlState::UNDEFINED_FUNCTION,
                    format!(
                        "function pg_catalog.timezone(unknown, {}) does not exist",
                        other.name()
                    ),
                ));
            }
        };
        let zone = match zone.data_type {
            Some(DataType::Interval(_)) => zone.expr,
            _ => self.coerce_text(zone, "AT TIME ZONE")?,
        };
        Ok(time_function(
            TimeFunction::AtTimeZone,
            vec![value, zone],
            result,
        ))
    }

    /// A date/time function by name ([`is_time_function`]).
    pub(super) fn bind_time_function(&mut self, name: &str, mut args: Vec<Typed>) -> Result<Typed> {
        let arity = |args: &Vec<Typed>, counts: &[usize]| -> Result<()> {
            if !counts.contains(&args.len()) {
                return Err(Error::sql(
                    SqlState::UNDEFINED_FUNCTION,
                    format!(
                        "function {name} with {} arguments does not exist",
                        args.len()
                    ),
                ));
            }
            Ok(())
        };
        let niladic = |function: TimeFunction, data_type: DataType| {
            time_function(function, vec![], data_type)
        };
        // `current_timestamp(p)`, `localtimestamp(p)`, `localtime(p)`:
        // rounded to p digits.
        if matches!(name, "current_timestamp" | "localtimestamp" | "localtime") && args.len() == 1 {
            let precision = match &args[0].expr {
                Expr::Literal(value) => value.as_i64().filter(|p| (0..=6).contains(p)),
                _ => None,
            }
            .ok_or_else(|| {
                Error::sql(
                    SqlState::INVALID_PARAMETER_VALUE,
                    format!("{name}(p) needs a precision from 0 to 6"),
                )
            })? as u8;
            let (function, data_type) = match name {
                "current_timestamp" => (
                    TimeFunction::TransactionTimestamp,
                    DataType::Timestamptz(Some(precision)),
                ),
                "localtimestamp" => (
                    TimeFunction::LocalTimestamp,
                    DataType::Timestamp(Some(precision)),
                ),
                _ => (TimeFunction::LocalTime, DataType::Time(Some(precision))),
            };
            return Ok(Typed {
                expr: Expr::Cast {
                    expr: Box::new(niladic(function, data_type.unmodified()).expr),
                    to: data_type,
                    explicit: true,
                },
                data_type: Some(data_type),
            });
        }
        // The clocks take no arguments.
        let clock = match name {
            "now" | "transaction_timestamp" | "current_timestamp" => {
                Some((TimeFunction::TransactionTimestamp, TIMESTAMPTZ))
            }
            "statement_timestamp" => Some((TimeFunction::StatementTimestamp, TIMESTAMPTZ)),
            "clock_timestamp" => Some((TimeFunction::ClockTimestamp, TIMESTAMPTZ)),
            "current_date" => Some((TimeFunction::CurrentDate, DataType::Date)),
            "localtimestamp" => Some((TimeFunction::LocalTimestamp, TIMESTAMP)),
            "localtime" => Some((TimeFunction::LocalTime, TIME)),
            _ => None,
        };
        if let Some((function, data_type)) = clock {
            arity(&args, &[0])?;
            return Ok(niladic(function, data_type));
        }
        Ok(match name {
            "current_time" => return Err(Error::Unsupported("time with time zone".into())),
            "date_part" => {
                arity(&args, &[2])?;
                let value = args.pop().expect("two arguments");
                let unit = self.coerce_text(args.pop().expect("two arguments"), name)?;
                let value = match value.data_type.map(|t| t.unmodified()) {
                    Some(DataType::Date) => self.coerce(value, TIMESTAMP)?,
                    Some(t) if is_time_operand(Some(t)) => value.expr,
                    _ => self.coerce(value, TIMESTAMPTZ)?,
                };
                time_function(TimeFunction::DatePart, vec![unit, value], DataType::Double)
            }
            "date_trunc" => {
                arity(&args, &[2, 3])?;
                let zone = if args.len() == 3 {
                    Some(self.coerce_text(args.pop().expect("three arguments"), name)?)
                } else {
                    None
                };
                let value = args.pop().expect("two arguments");
                let unit = self.coerce_text(args.pop().expect("two arguments"), name)?;
                let (value, result) = match value.data_type.map(|t| t.unmodified()) {
                    Some(DataType::Timestamp(_)) if zone.is_none() => (value.expr, TIMESTAMP),
                    Some(DataType::Interval(_)) if zone.is_none() => (value.expr, INTERVAL),
                    _ => (self.coerce(value, TIMESTAMPTZ)?, TIMESTAMPTZ),
                };
                let mut call = vec![unit, value];
                call.extend(zone);
                time_function(TimeFunction::DateTrunc, call, result)
            }
            "age" => {
                arity(&args, &[1, 2])?;
                let wide = args
                    .iter()
                    .any(|arg| !matches!(arg.data_type, Some(DataType::Timestamp(_))));
                let target = if wide { TIMESTAMPTZ } else { TIMESTAMP };
                let args = args
                    .into_iter()
                    .map(|arg| self.coerce(arg, target))
                    .collect::<Result<Vec<_>>>()?;
                time_function(TimeFunction::Age, args, INTERVAL)
            }
            "make_date" | "make_time" | "make_timestamp" | "make_timestamptz" => {
                let (function, types, result): (_, &[DataType], _) = match name {
                    "make_date" => (
                        TimeFunction::MakeDate,
                        &[DataType::Integer; 3],
                        DataType::Date,
                    ),
                    "make_time" => (
                        TimeFunction::MakeTime,
                        &[DataType::Integer, DataType::Integer, DataType::Double],
                        TIME,
                    ),
                    "make_timestamp" => (
                        TimeFunction::MakeTimestamp,
                        &[
                            DataType::Integer,
                            DataType::Integer,
                            DataType::Integer,
                            DataType::Integer,
                            DataType::Integer,
                            DataType::Double,
                        ],
                        TIMESTAMP,
                    ),
                    _ => (
                        TimeFunction::MakeTimestamptz,
                        &[
                            DataType::Integer,
                            DataType::Integer,
                            DataType::Integer,
                            DataType::Integer,
                            DataType::Integer,
                            DataType::Double,
                            DataType::Text,
                        ],
                        TIMESTAMPTZ,
                    ),
                };
                if function == TimeFunction::MakeTimestamptz {
                    arity(&args, &[6, 7])?;
                } else {
                    arity(&args, &[types.len()])?;
                }
                let args = args
                    .into_iter()
                    .zip(types)
                    .map(|(arg, target)| self.coerce_argument(arg, *target, name))
                    .collect::<Result<Vec<_>>>()?;
                time_function(function, args, result)
            }
            "justify_days" | "justify_hours" | "justify_interval" => {
                arity(&args, &[1])?;
                let function = match name {
                    "justify_days" => TimeFunction::JustifyDays,
                    "justify_hours" => TimeFunction::JustifyHours,
                    _ => TimeFunction::JustifyInterval,
                };
                let arg = self.coerce_argument(args.remove(0), INTERVAL, name)?;
                time_function(function, vec![arg], INTERVAL)
            }
            "isfinite" => {
                arity(&args, &[1])?;
                let arg = args.remove(0);
                let arg = match arg.data_type {
                    Some(t) if is_time_operand(Some(t)) => arg.expr,
                    _ => self.coerce_argument(arg, TIMESTAMPTZ, name)?,
                };
                time_function(TimeFunction::IsFinite, vec![arg], DataType::Boolean)
            }
            "timezone" => {
                arity(&args, &[2])?;
                let value = args.pop().expect("two arguments");
                let zone = args.pop().expect("two arguments");
                return self.bind_at_time_zone(value, zone);
            }
            _ => return Err(Error::Internal(format!("{name} is not a time function"))),
        })
    }

    /// An argument of a fixed type: unknown literals resolve, numbers
    /// convert, anything else is 42883.
    fn coerce_argument(&mut self, arg: Typed, target: DataType, name: &str) -> Result<Expr> {
        match arg.data_type {
            Some(t) if t.is_numeric() && target.is_numeric() && t != target => Ok(Expr::Cast {
                expr: Box::new(arg.expr),
                to: target,
                explicit: false,
            }),
            Some(t)
                if t != target
                    && !super::expr::implicit_time_cast(t, target)
                    && !(t.is_text() && target.is_text()) =>
            {
                Err(Error::sql(
                    SqlState::UNDEFINED_FUNCTION,
                    format!("function {name}({}) does not exist", t.name()),
                ))
            }
            _ => self.coerce(arg, target),
        }
    }

    /// `make_interval(years => …, months => …, …)`: named or positional.
    pub(super) fn bind_make_interval(
        &mut self,
        args: Vec<(Option<String>, Typed)>,
    ) -> Result<Typed> {
        const NAMES: [&str; 7] = ["years", "months", "weeks", "days", "hours", "mins", "secs"];
        let mut slots: Vec<Option<Expr>> = vec![None; 7];
        for (position, (name, arg)) in args.into_iter().enumerate() {
            let index = match name {
                Some(name) => NAMES.iter().position(|n| *n == name).ok_or_else(|| {
                    Error::sql(
                        SqlState::UNDEFINED_FUNCTION,
                        format!("function make_interval({name} => unknown) does not exist"),
                    )
                })?,
                None if position < 7 => position,
                None => {
                    return Err(Error::sql(
                        SqlState::UNDEFINED_FUNCTION,
                        "function make_interval with more than 7 arguments does not exist",
                    ));
                }
            };
            let target = if index == 6 {
                DataType::Double
            } else {
                DataType::Integer
            };
            slots[index] = Some(self.coerce_argument(arg, target, "make_interval")?);
        }
        let args = slots
            .into_iter()
            .enumerate()
            .map(|(index, slot)| {
                slot.unwrap_or(Expr::Literal(if index == 6 {
                    Value::Double(0.0)
                } else {
                    Value::Integer(0)
                }))
            })
            .collect();
        Ok(time_function(TimeFunction::MakeInterval, args, INTERVAL))
    }
}
