//! Conversions between types, with PostgreSQL's rules and errors: text
//! parses by the target type's input function (22P02 on bad input), numbers
//! convert with range checks (22003), floats round half to even into
//! integers, and only `varchar(n)` differs between explicit and implicit
//! casts (explicit truncates, implicit raises 22001).

use crate::error::{Error, Result, SqlState};
use crate::sql::datetime::{self, TimeContext, functions as time};
use crate::sql::numeric::Numeric;
use crate::sql::types::{DataType, Value, check_varchar};

pub(super) fn overflow(type_name: &str) -> Error {
    Error::sql(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        format!("{type_name} out of range"),
    )
}

/// An explicit cast: like [`cast`], except that a string too long for
/// `varchar(n)` is truncated, as PostgreSQL's explicit casts do.
pub fn cast_explicit(value: Value, to: DataType) -> Result<Value> {
    cast_explicit_in(value, to, None)
}

/// [`cast_explicit`] with the session's view of time.
pub fn cast_explicit_in(value: Value, to: DataType, time: Option<&TimeContext>) -> Result<Value> {
    match to {
        DataType::Char(length) => Ok(match cast_in(value, DataType::Text, time)? {
            Value::Text(text) => {
                Value::Text(crate::sql::types::pad_char(&text, length, true)?.into())
            }
            other => other,
        }),
        DataType::Varchar(Some(limit)) => Ok(match cast_in(value, DataType::Text, time)? {
            Value::Text(text) => {
                Value::Text(text.chars().take(limit as usize).collect::<String>().into())
            }
            other => other,
        }),
        _ => cast_in(value, to, time),
    }
}

/// Casts a value to a type, with PostgreSQL's rules and errors; times are
/// read and shown in UTC.
pub fn cast(value: Value, to: DataType) -> Result<Value> {
    cast_in(value, to, None)
}

/// Casts between the time types and to and from text, in the session's
/// zone (`None`: UTC, the clock's now); `None` if neither side is one.
fn cast_time(value: &Value, to: DataType, time: Option<&TimeContext>) -> Option<Result<Value>> {
    let is_time_type = |t: DataType| {
        matches!(
            t,
            DataType::Date
                | DataType::Time(_)
                | DataType::Timestamp(_)
                | DataType::Timestamptz(_)
                | DataType::Interval(_)
        )
    };
    let from = value.data_type()?;
    if !(is_time_type(from) || is_time_type(to) && from.is_text()) {
        return None;
    }
    let owned;
    let time = match time {
        Some(time) => time,
        None => {
            owned = TimeContext::default();
            &owned
        }
    };
    let zone = &time.zone;
    let unsupported = || {
        Err(Error::sql(
            SqlState::CANNOT_COERCE,
            format!("cannot cast type {} to {}", from.name(), to.name()),
        ))
    };
    Some((|| {
        Ok(match (value, to) {
            (Value::Text(text), _) => Value::parse_in(to, text, time)?,
            (value, DataType::Text) => {
                Value::Text(value.to_text_in(zone).unwrap_or_default().into())
            }
            (value, DataType::Varchar(limit)) => {
                let text = value.to_text_in(zone).unwrap_or_default();
                Value::Text(check_varchar(&text, limit)?.into())
            }
            (value, DataType::Char(length)) => {
                let text = value.to_text_in(zone).unwrap_or_default();
                Value::Text(crate::sql::types::pad_char(&text, length, false)?.into())
            }
            (Value::Date(date), DataType::Date) => Value::Date(*date),
            (Value::Date(date), DataType::Timestamp(precision)) => Value::Timestamp(
                datetime::round_timestamp(time::date_to_timestamp(*date)?, precision)?,
            ),
            (Value::Date(date), DataType::Timestamptz(precision)) => {
                let local = time::date_to_timestamp(*date)?;
                Value::Timestamptz(datetime::round_timestamp(
                    time::timestamp_to_timestamptz(local, zone)?,
                    precision,
                )?)
            }
            (Value::Timestamp(value), DataType::Date) => {
                Value::Date(time::timestamp_to_date(*value))
            }
            (Value::Timestamp(value), DataType::Timestamp(precision)) => {
                Value::Timestamp(datetime::round_timestamp(*value, precision)?)
            }
            (Value::Timestamp(value), DataType::Timestamptz(precision)) => {
                Value::Timestamptz(datetime::round_timestamp(
                    time::timestamp_to_timestamptz(*value, zone)?,
                    precision,
                )?)
            }
            (Value::Timestamp(value), DataType::Time(precision)) => {
                if datetime::is_infinite_timestamp(*value) {
                    return Ok(Value::Null);
                }
                Value::Time(datetime::round_time(
                    value.rem_euclid(datetime::MICROSECONDS_PER_DAY),
                    precision,
                ))
            }
            (Value::Timestamptz(value), DataType::Timestamptz(precision)) => {
                Value::Timestamptz(datetime::round_timestamp(*value, precision)?)
            }
            (Value::Timestamptz(value), DataType::Timestamp(precision)) => {
                Value::Timestamp(datetime::round_timestamp(
                    time::timestamptz_to_timestamp(*value, zone)?,
                    precision,
                )?)
            }
            (Value::Timestamptz(value), DataType::Date) => Value::Date(time::timestamp_to_date(
                time::timestamptz_to_timestamp(*value, zone)?,
            )),
            (Value::Timestamptz(value), DataType::Time(precision)) => {
                if datetime::is_infinite_timestamp(*value) {
                    return Ok(Value::Null);
                }
                let local = time::timestamptz_to_timestamp(*value, zone)?;
                Value::Time(datetime::round_time(
                    local.rem_euclid(datetime::MICROSECONDS_PER_DAY),
                    precision,
                ))
            }
            (Value::Time(value), DataType::Time(precision)) => {
                Value::Time(datetime::round_time(*value, precision))
            }
            (Value::Time(value), DataType::Interval(precision)) => Value::Interval(
                datetime::Interval::new(0, 0, *value).restrict(None, precision.map(u32::from)),
            ),
            (Value::Interval(interval), DataType::Interval(precision)) => {
                Value::Interval(interval.restrict(None, precision.map(u32::from)))
            }
            (Value::Interval(interval), DataType::Time(precision)) => {
                Value::Time(datetime::round_time(
                    interval
                        .microseconds
                        .rem_euclid(datetime::MICROSECONDS_PER_DAY),
                    precision,
                ))
            }
            _ => return unsupported(),
        })
    })())
}

/// Casts a value to a type, times in `time`'s zone.
pub fn cast_in(value: Value, to: DataType, time: Option<&TimeContext>) -> Result<Value> {
    if let Some(result) = cast_time(&value, to, time) {
        return result;
    }
    let from_name = value.data_type().map(|t| t.name()).unwrap_or_default();
    let unsupported = || {
        Error::sql(
            SqlState::CANNOT_COERCE,
            format!("cannot cast type {} to {}", from_name, to.name()),
        )
    };
    Ok(match (value, to) {
        (Value::Null, _) => Value::Null,
        (Value::Text(text), _) => Value::parse(to, &text)?,
        (Value::Boolean(b), DataType::Text | DataType::Varchar(_)) => {
            let text = if b { "true" } else { "false" };
            Value::Text(check_varchar(text, to_limit(to))?.into())
        }
        (value, DataType::Text) => Value::Text(value.to_text().unwrap_or_default().into()),
        (value, DataType::Varchar(limit)) => {
            let text = value.to_text().unwrap_or_default();
            Value::Text(check_varchar(&text, limit)?.into())
        }
        (value, DataType::Char(length)) => {
            let text = match value {
                Value::Boolean(b) => if b { "true" } else { "false" }.to_string(),
                other => other.to_text().unwrap_or_default(),
            };
            Value::Text(crate::sql::types::pad_char(&text, length, false)?.into())
        }
        (Value::Boolean(b), DataType::Boolean) => Value::Boolean(b),
        (Value::Boolean(b), DataType::Integer) => Value::Integer(b as i32),
        (Value::Integer(v), DataType::Boolean) => Value::Boolean(v != 0),
        (Value::Boolean(_), _) | (_, DataType::Boolean) => return Err(unsupported()),
        (value, DataType::Numeric(modifier)) => {
            let number = match value {
                Value::Numeric(number) => number,
                // float8 and float4 go through 15 and 6 significant digits.
                Value::Double(v) => Numeric::from_f64(v, 15)?,
                Value::Real(v) => Numeric::from_f64(f64::from(v), 6)?,
                other => Numeric::from_i64(other.as_i64().ok_or_else(unsupported)?),
            };
            Value::Numeric(match modifier {
                Some(modifier) => modifier.apply(&number)?,
                None => number,
            })
        }
        (Value::Numeric(number), DataType::SmallInt) => {
            Value::SmallInt(number.to_integer(i16::MIN.into(), i16::MAX.into(), "smallint")? as i16)
        }
        (Value::Numeric(number), DataType::Integer) => {
            Value::Integer(number.to_integer(i32::MIN.into(), i32::MAX.into(), "integer")? as i32)
        }
        (Value::Numeric(number), DataType::BigInt) => {
            Value::BigInt(number.to_integer(i64::MIN, i64::MAX, "bigint")?)
        }
        // As PostgreSQL, through the text form, so overflow and underflow
        // are float input's errors.
        (Value::Numeric(number), DataType::Real) => {
            Value::parse(DataType::Real, &number.to_text())?
        }
        (Value::Numeric(number), DataType::Double) => {
            let float = number.to_f64();
            if float.is_finite() && (float != 0.0 || number.is_zero()) {
                Value::Double(float)
            } else {
                Value::parse(DataType::Double, &number.to_text())?
            }
        }
        (value, DataType::SmallInt | DataType::Integer | DataType::BigInt) => {
            let name = match to {
                DataType::SmallInt => "smallint",
                DataType::Integer => "integer",
                _ => "bigint",
            };
            let integer = match value.as_i64() {
                Some(v) => v,
                None => {
                    let f = value.as_f64().ok_or_else(unsupported)?;
                    // PostgreSQL rounds half away from zero... to even for
                    // float-to-int (rint); match that.
                    let rounded = f.round_ties_even();
                    if !rounded.is_finite()
                        || rounded < i64::MIN as f64
                        || rounded >= i64::MAX as f64
                    {
                        return Err(overflow(name));
                    }
                    rounded as i64
                }
            };
            match to {
                DataType::SmallInt => {
                    Value::SmallInt(i16::try_from(integer).map_err(|_| overflow(name))?)
                }
                DataType::Integer => {
                    Value::Integer(i32::try_from(integer).map_err(|_| overflow(name))?)
                }
                _ => Value::BigInt(integer),
            }
        }
        (value, DataType::Real) => {
            let f = value.as_f64().ok_or_else(unsupported)?;
            let narrowed = f as f32;
            if narrowed.is_infinite() && f.is_finite() {
                return Err(Error::sql(
                    SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                    "value out of range: overflow",
                ));
            }
            Value::Real(narrowed)
        }
        (value, DataType::Double) => Value::Double(value.as_f64().ok_or_else(unsupported)?),
        // The time types are cast in `cast_time`; numbers never become one.
        (
            _,
            DataType::Date
            | DataType::Time(_)
            | DataType::Timestamp(_)
            | DataType::Timestamptz(_)
            | DataType::Interval(_),
        ) => return Err(unsupported()),
    })
}

fn to_limit(data_type: DataType) -> Option<u32> {
    match data_type {
        DataType::Varchar(limit) => limit,
        _ => None,
    }
}
