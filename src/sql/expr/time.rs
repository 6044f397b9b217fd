//! Evaluation of the date/time functions and of the operators that need
//! the session's zone (`timestamptz ± interval`), over the calendar code in
//! `sql/datetime`. Every function here is strict: a NULL argument gives
//! NULL.

use super::TimeFunction;
use crate::error::{Error, Result, SqlState};
use crate::sql::datetime::{
    self, Interval, TimeContext, Zone, functions as calendar, zone::abbreviation,
};
use crate::sql::types::Value;

fn text(value: &Value) -> Result<&str> {
    match value {
        Value::Text(text) => Ok(text),
        other => Err(Error::Internal(format!("expected text, got {other:?}"))),
    }
}

fn interval(value: &Value) -> Result<&Interval> {
    match value {
        Value::Interval(interval) => Ok(interval),
        other => Err(Error::Internal(format!("expected interval, got {other:?}"))),
    }
}

fn integer(value: &Value) -> Result<i64> {
    value
        .as_i64()
        .ok_or_else(|| Error::Internal(format!("expected an integer, got {value:?}")))
}

fn float(value: &Value) -> Result<f64> {
    value
        .as_f64()
        .ok_or_else(|| Error::Internal(format!("expected a number, got {value:?}")))
}

/// The zone a `AT TIME ZONE` or `date_trunc` argument names: an
/// abbreviation, or any zone `SET TIME ZONE` takes by name.
pub fn named_zone(name: &str) -> Result<std::sync::Arc<Zone>> {
    if let Some(offset) = abbreviation(&name.to_ascii_lowercase()) {
        return Ok(std::sync::Arc::new(Zone::fixed(offset)));
    }
    Zone::lookup(name).ok_or_else(|| {
        Error::sql(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("time zone \"{name}\" not recognized"),
        )
    })
}

/// The zone an `AT TIME ZONE` operand gives: text, or an interval offset.
fn operand_zone(value: &Value) -> Result<std::sync::Arc<Zone>> {
    match value {
        Value::Interval(interval) => {
            if interval.months != 0 || interval.days != 0 {
                return Err(Error::sql(
                    SqlState::INVALID_PARAMETER_VALUE,
                    "interval time zone \"".to_string()
                        + &interval.to_text()
                        + "\" must not include months or days",
                ));
            }
            Ok(std::sync::Arc::new(Zone::fixed(
                (interval.microseconds / 1_000_000) as i32,
            )))
        }
        other => named_zone(text(other)?),
    }
}

pub fn call(function: TimeFunction, args: Vec<Value>, time: &TimeContext) -> Result<Value> {
    if args.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    let local_now = || time.zone.utc_to_local(time.now).0;
    Ok(match function {
        TimeFunction::TransactionTimestamp => Value::Timestamptz(time.now),
        TimeFunction::StatementTimestamp => Value::Timestamptz(time.statement),
        TimeFunction::ClockTimestamp => Value::Timestamptz(datetime::clock_now()),
        TimeFunction::CurrentDate => Value::Date(calendar::timestamp_to_date(local_now())),
        TimeFunction::LocalTimestamp => Value::Timestamp(local_now()),
        TimeFunction::LocalTime => {
            Value::Time(local_now().rem_euclid(datetime::MICROSECONDS_PER_DAY))
        }
        TimeFunction::Extract | TimeFunction::DatePart => {
            let name = text(&args[0])?;
            let source = match &args[1] {
                Value::Date(date) => calendar::Source::Date(*date),
                Value::Time(value) => calendar::Source::Time(*value),
                Value::Timestamp(value) => calendar::Source::Timestamp(*value),
                Value::Timestamptz(value) => calendar::Source::Timestamptz(*value, &time.zone),
                Value::Interval(interval) => calendar::Source::Interval(interval),
                other => return Err(Error::Internal(format!("extract from {other:?}"))),
            };
            if function == TimeFunction::Extract {
                calendar::extract(name, &source)?.map_or(Value::Null, Value::Numeric)
            } else {
                calendar::date_part(name, &source)?.map_or(Value::Null, Value::Double)
            }
        }
        TimeFunction::DateTrunc => {
            let name = text(&args[0])?;
            match &args[1] {
                Value::Timestamp(value) => {
                    Value::Timestamp(calendar::truncate_timestamp(name, *value)?)
                }
                Value::Timestamptz(value) => {
                    let zone = match args.get(2) {
                        Some(zone) => named_zone(text(zone)?)?,
                        None => time.zone.clone(),
                    };
                    Value::Timestamptz(calendar::truncate_timestamptz(name, *value, &zone)?)
                }
                Value::Interval(interval) => {
                    Value::Interval(calendar::truncate_interval(name, interval)?)
                }
                other => return Err(Error::Internal(format!("date_trunc of {other:?}"))),
            }
        }
        TimeFunction::Age => {
            // `age(x)` is from midnight of today.
            let (left, right) = match args.as_slice() {
                [Value::Timestamp(value)] => (
                    calendar::timestamp_to_date(local_now()) as i64
                        * datetime::MICROSECONDS_PER_DAY,
                    *value,
                ),
                [Value::Timestamptz(value)] => (
                    calendar::timestamp_to_date(local_now()) as i64
                        * datetime::MICROSECONDS_PER_DAY,
                    calendar::timestamptz_to_timestamp(*value, &time.zone)?,
                ),
                [Value::Timestamp(left), Value::Timestamp(right)] => (*left, *right),
                [Value::Timestamptz(left), Value::Timestamptz(right)] => (
                    calendar::timestamptz_to_timestamp(*left, &time.zone)?,
                    calendar::timestamptz_to_timestamp(*right, &time.zone)?,
                ),
                other => return Err(Error::Internal(format!("age of {other:?}"))),
            };
            Value::Interval(calendar::age(left, right)?)
        }
        TimeFunction::MakeDate => Value::Date(calendar::make_date(
            integer(&args[0])?,
            integer(&args[1])?,
            integer(&args[2])?,
        )?),
        TimeFunction::MakeTime => Value::Time(calendar::make_time(
            integer(&args[0])?,
            integer(&args[1])?,
            float(&args[2])?,
        )?),
        TimeFunction::MakeTimestamp | TimeFunction::MakeTimestamptz => {
            let local = calendar::make_timestamp(
                integer(&args[0])?,
                integer(&args[1])?,
                integer(&args[2])?,
                integer(&args[3])?,
                integer(&args[4])?,
                float(&args[5])?,
            )?;
            if function == TimeFunction::MakeTimestamp {
                Value::Timestamp(local)
            } else {
                let instant = match args.get(6) {
                    // A numeric zone here is ISO (east), as in input.
                    Some(zone) if text(zone)?.starts_with(['+', '-']) => {
                        let offset_instant = datetime::input::parse(
                            &format!("2000-01-01 00:00 {}", text(zone)?),
                            datetime::Target::Timestamptz,
                            &TimeContext::utc(0),
                        )?;
                        local + offset_instant
                    }
                    Some(zone) => named_zone(text(zone)?)?.local_to_utc(local),
                    None => time.zone.local_to_utc(local),
                };
                Value::Timestamptz(instant)
            }
        }
        TimeFunction::MakeInterval => {
            let part = |index: usize| integer(&args[index]);
            let (years, months, weeks, days) = (part(0)?, part(1)?, part(2)?, part(3)?);
            let months = years
                .checked_mul(12)
                .and_then(|total| total.checked_add(months))
                .and_then(|total| i32::try_from(total).ok());
            let days = weeks
                .checked_mul(7)
                .and_then(|total| total.checked_add(days))
                .and_then(|total| i32::try_from(total).ok());
            let seconds = float(&args[6])?;
            let microseconds = (part(4)? as f64 * 3_600_000_000.0
                + part(5)? as f64 * 60_000_000.0
                + seconds * 1e6)
                .round_ties_even();
            match (months, days) {
                (Some(months), Some(days))
                    if microseconds.is_finite() && microseconds.abs() < 9.2e18 =>
                {
                    Value::Interval(Interval::new(months, days, microseconds as i64))
                }
                _ => return Err(datetime::interval::interval_out_of_range()),
            }
        }
        TimeFunction::JustifyDays => Value::Interval(interval(&args[0])?.justify_days()?),
        TimeFunction::JustifyHours => Value::Interval(interval(&args[0])?.justify_hours()?),
        TimeFunction::JustifyInterval => Value::Interval(interval(&args[0])?.justify()?),
        TimeFunction::IsFinite => Value::Boolean(match &args[0] {
            Value::Date(date) => !datetime::is_infinite_date(*date),
            Value::Timestamp(value) | Value::Timestamptz(value) => {
                !datetime::is_infinite_timestamp(*value)
            }
            _ => true,
        }),
        TimeFunction::AtTimeZone => {
            let zone = operand_zone(&args[1])?;
            match &args[0] {
                Value::Timestamp(value) => {
                    Value::Timestamptz(calendar::timestamp_to_timestamptz(*value, &zone)?)
                }
                Value::Timestamptz(value) => {
                    Value::Timestamp(calendar::timestamptz_to_timestamp(*value, &zone)?)
                }
                other => return Err(Error::Internal(format!("AT TIME ZONE of {other:?}"))),
            }
        }
        TimeFunction::TimestamptzPlusInterval | TimeFunction::TimestamptzMinusInterval => {
            let (instant, step) = match (&args[0], &args[1]) {
                (Value::Timestamptz(instant), Value::Interval(step))
                | (Value::Interval(step), Value::Timestamptz(instant)) => (*instant, *step),
                other => return Err(Error::Internal(format!("timestamptz ± {other:?}"))),
            };
            let step = if function == TimeFunction::TimestamptzMinusInterval {
                step.checked_neg()?
            } else {
                step
            };
            Value::Timestamptz(calendar::timestamptz_plus_interval(
                instant, &step, &time.zone,
            )?)
        }
    })
}

/// The time-type arithmetic that needs no zone (`binary` in
/// `evaluate.rs`); `None` if neither operand is a time value.
pub fn binary(op: super::BinaryOp, left: &Value, right: &Value) -> Option<Result<Value>> {
    use super::BinaryOp::{Add, Divide, Multiply, Subtract};
    let is_time = |value: &Value| {
        matches!(
            value,
            Value::Date(_)
                | Value::Time(_)
                | Value::Timestamp(_)
                | Value::Timestamptz(_)
                | Value::Interval(_)
        )
    };
    if !is_time(left) && !is_time(right) || op.is_comparison() || op == super::BinaryOp::Concat {
        return None;
    }
    let day = datetime::MICROSECONDS_PER_DAY;
    Some((|| {
        Ok(match (op, left, right) {
            (Add, Value::Date(date), days) | (Add, days, Value::Date(date))
                if days.as_i64().is_some() =>
            {
                Value::Date(calendar::date_plus_days(*date, integer(days)?)?)
            }
            (Subtract, Value::Date(date), days) if days.as_i64().is_some() => {
                Value::Date(calendar::date_plus_days(*date, -integer(days)?)?)
            }
            (Subtract, Value::Date(a), Value::Date(b)) => {
                Value::Integer(calendar::date_difference(*a, *b)?)
            }
            (Add, Value::Date(date), Value::Time(time))
            | (Add, Value::Time(time), Value::Date(date)) => {
                let midnight = calendar::date_to_timestamp(*date)?;
                if datetime::is_infinite_timestamp(midnight) {
                    Value::Timestamp(midnight)
                } else {
                    let value = midnight + time;
                    if !datetime::timestamp_in_range(value) {
                        return Err(calendar::timestamp_out_of_range());
                    }
                    Value::Timestamp(value)
                }
            }
            (Subtract, Value::Date(date), Value::Time(time)) => {
                let midnight = calendar::date_to_timestamp(*date)?;
                if datetime::is_infinite_timestamp(midnight) {
                    Value::Timestamp(midnight)
                } else {
                    let value = midnight - time;
                    if !datetime::timestamp_in_range(value) {
                        return Err(calendar::timestamp_out_of_range());
                    }
                    Value::Timestamp(value)
                }
            }
            (Add, Value::Timestamp(value), Value::Interval(step))
            | (Add, Value::Interval(step), Value::Timestamp(value)) => {
                Value::Timestamp(calendar::timestamp_plus_interval(*value, step)?)
            }
            (Subtract, Value::Timestamp(value), Value::Interval(step)) => Value::Timestamp(
                calendar::timestamp_plus_interval(*value, &step.checked_neg()?)?,
            ),
            (Subtract, Value::Timestamp(a), Value::Timestamp(b))
            | (Subtract, Value::Timestamptz(a), Value::Timestamptz(b)) => {
                Value::Interval(calendar::timestamp_difference(*a, *b)?)
            }
            (Add, Value::Time(time), Value::Interval(step))
            | (Add, Value::Interval(step), Value::Time(time)) => {
                Value::Time((time + step.microseconds % day).rem_euclid(day))
            }
            (Subtract, Value::Time(time), Value::Interval(step)) => {
                Value::Time((time - step.microseconds % day).rem_euclid(day))
            }
            (Subtract, Value::Time(a), Value::Time(b)) => {
                Value::Interval(Interval::new(0, 0, a - b))
            }
            (Add, Value::Interval(a), Value::Interval(b)) => Value::Interval(a.checked_add(b)?),
            (Subtract, Value::Interval(a), Value::Interval(b)) => {
                Value::Interval(a.checked_sub(b)?)
            }
            (Multiply, Value::Interval(step), factor)
            | (Multiply, factor, Value::Interval(step)) => {
                Value::Interval(step.multiply(float(factor)?)?)
            }
            (Divide, Value::Interval(step), divisor) => {
                Value::Interval(step.divide(float(divisor)?)?)
            }
            (op, left, right) => {
                return Err(Error::Internal(format!(
                    "no time operator {op:?} for {left:?} and {right:?}"
                )));
            }
        })
    })())
}
