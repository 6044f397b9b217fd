//! Conversions between types, with PostgreSQL's rules and errors: text
//! parses by the target type's input function (22P02 on bad input), numbers
//! convert with range checks (22003), floats round half to even into
//! integers, and only `varchar(n)` differs between explicit and implicit
//! casts (explicit truncates, implicit raises 22001).

use crate::error::{Error, Result, SqlState};
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
    match to {
        DataType::Varchar(Some(limit)) => Ok(match cast(value, DataType::Text)? {
            Value::Text(text) => {
                Value::Text(text.chars().take(limit as usize).collect::<String>().into())
            }
            other => other,
        }),
        _ => cast(value, to),
    }
}

/// Casts a value to a type, with PostgreSQL's rules and errors.
pub fn cast(value: Value, to: DataType) -> Result<Value> {
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
    })
}

fn to_limit(data_type: DataType) -> Option<u32> {
    match data_type {
        DataType::Varchar(limit) => limit,
        _ => None,
    }
}
