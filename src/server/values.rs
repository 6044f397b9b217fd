//! Converting values between the wire and [`Value`]: Bind parameters in, and
//! DataRow fields and RowDescription fields out.
//!
//! Every value on the wire is in one of two formats, chosen per parameter by
//! Bind's parameter format codes and per result column by its result format
//! codes: text (code 0, PostgreSQL's text input/output, which
//! [`Value::parse`] and [`Value::to_text`] implement) or binary (code 1, the
//! type's `typsend` form). The binary forms of basalt's types are simple:
//! `bool` is one byte, `int2`/`int4`/`int8` are big-endian two's
//! complement, `float4`/`float8` are big-endian IEEE 754, and
//! `text`/`varchar` are raw UTF-8. A NULL is a length of -1 in both formats.
//!
//! Parameters are decoded by the statement's parameter type, never by the
//! size of the bytes: a client that sends a 2-byte `int2` where `int4` is
//! declared gets a `22P03` error instead of a misread value.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{Error, Result, SqlState};
use crate::sql::datetime::{self, TimeContext, Zone};
use crate::sql::session::Column;
use crate::sql::types::{DataType, Value};

use super::frontend::invalid_utf8;

/// Format code 0: text.
pub const FORMAT_TEXT: i16 = 0;
/// Format code 1: binary.
pub const FORMAT_BINARY: i16 = 1;

/// Which list of Bind format codes is being expanded, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatList {
    Parameters,
    Results,
}

/// Expands Bind's format codes to one per item: none means all text, one
/// applies to all, otherwise there must be exactly one per item.
pub fn expand_formats(codes: &[i16], count: usize, list: FormatList) -> Result<Vec<i16>> {
    let formats = match codes.len() {
        0 => vec![FORMAT_TEXT; count],
        1 => vec![codes[0]; count],
        given if given == count => codes.to_vec(),
        given => {
            // PostgreSQL's exact wording for the two lists.
            let message = match list {
                FormatList::Parameters => {
                    format!("bind message has {given} parameter formats but {count} parameters")
                }
                FormatList::Results => {
                    format!("bind message has {given} result formats but query has {count} columns")
                }
            };
            return Err(Error::sql(SqlState::PROTOCOL_VIOLATION, message));
        }
    };
    if let Some(bad) = formats
        .iter()
        .find(|code| !matches!(**code, FORMAT_TEXT | FORMAT_BINARY))
    {
        return Err(Error::sql(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("unsupported format code: {bad}"),
        ));
    }
    Ok(formats)
}

/// Decodes one Bind parameter (`index` is 0-based; messages count from 1).
pub fn decode_parameter(
    data_type: DataType,
    format: i16,
    raw: Option<&Bytes>,
    index: usize,
    time: &TimeContext,
) -> Result<Value> {
    let Some(raw) = raw else {
        return Ok(Value::Null);
    };
    if format == FORMAT_TEXT {
        let text = std::str::from_utf8(raw).map_err(|error| invalid_utf8(raw, error))?;
        return Value::parse_in(data_type, text, time);
    }
    let wrong_format = || {
        Error::sql(
            SqlState::INVALID_BINARY_REPRESENTATION,
            format!(
                "incorrect binary data format in bind parameter {}",
                index + 1
            ),
        )
    };
    let bytes: &[u8] = raw;
    Ok(match data_type {
        DataType::Boolean => match bytes {
            [byte] => Value::Boolean(*byte != 0),
            _ => return Err(wrong_format()),
        },
        DataType::SmallInt => Value::SmallInt(i16::from_be_bytes(
            bytes.try_into().map_err(|_| wrong_format())?,
        )),
        DataType::Integer => Value::Integer(i32::from_be_bytes(
            bytes.try_into().map_err(|_| wrong_format())?,
        )),
        DataType::BigInt => Value::BigInt(i64::from_be_bytes(
            bytes.try_into().map_err(|_| wrong_format())?,
        )),
        DataType::Real => Value::Real(f32::from_be_bytes(
            bytes.try_into().map_err(|_| wrong_format())?,
        )),
        DataType::Double => Value::Double(f64::from_be_bytes(
            bytes.try_into().map_err(|_| wrong_format())?,
        )),
        DataType::Text | DataType::Varchar(_) | DataType::Char(_) => {
            let text = std::str::from_utf8(bytes).map_err(|error| invalid_utf8(bytes, error))?;
            // Value::parse enforces a varchar length limit like text input does.
            Value::parse(data_type, text)?
        }
        DataType::Numeric(modifier) => {
            let value = crate::sql::numeric::from_binary(bytes)?;
            Value::Numeric(match modifier {
                Some(modifier) => modifier.apply(&value)?,
                None => value,
            })
        }
        DataType::Date => Value::Date(i32::from_be_bytes(
            bytes.try_into().map_err(|_| wrong_format())?,
        )),
        DataType::Time(precision) => {
            let time = i64::from_be_bytes(bytes.try_into().map_err(|_| wrong_format())?);
            if !(0..=datetime::MICROSECONDS_PER_DAY).contains(&time) {
                return Err(Error::sql(
                    SqlState::DATETIME_FIELD_OVERFLOW,
                    "time out of range",
                ));
            }
            Value::Time(datetime::round_time(time, precision))
        }
        DataType::Timestamp(precision) | DataType::Timestamptz(precision) => {
            let value = i64::from_be_bytes(bytes.try_into().map_err(|_| wrong_format())?);
            if !datetime::is_infinite_timestamp(value) && !datetime::timestamp_in_range(value) {
                return Err(datetime::functions::timestamp_out_of_range());
            }
            let value = datetime::round_timestamp(value, precision)?;
            match data_type {
                DataType::Timestamp(_) => Value::Timestamp(value),
                _ => Value::Timestamptz(value),
            }
        }
        DataType::Interval(precision) => {
            let bytes: [u8; 16] = bytes.try_into().map_err(|_| wrong_format())?;
            let interval = datetime::Interval::new(
                i32::from_be_bytes(bytes[12..16].try_into().expect("four bytes")),
                i32::from_be_bytes(bytes[8..12].try_into().expect("four bytes")),
                i64::from_be_bytes(bytes[..8].try_into().expect("eight bytes")),
            );
            Value::Interval(interval.restrict(None, precision.map(u32::from)))
        }
    })
}

/// A RowDescription field for a result column in the given format. Table
/// OID and column number are 0: basalt does not expose catalog OIDs.
pub fn field_description(column: &Column, format: i16) -> pgwire::messages::data::FieldDescription {
    pgwire::messages::data::FieldDescription::new(
        column.name.clone(),
        0,
        0,
        column.data_type.oid(),
        column.data_type.type_len(),
        column.data_type.type_modifier(),
        format,
    )
}

/// Appends one row to `out` as a whole DataRow message, encoded in place
/// rather than built and copied: `'D'`, the message length (counting
/// itself), the field count, then each field's length (-1 for NULL) and
/// bytes. `formats` holds one format per column. On an error nothing is
/// appended, so the output never holds a torn message.
pub fn append_data_row(
    row: &[Value],
    columns: &[Column],
    formats: &[i16],
    zone: &Zone,
    out: &mut BytesMut,
) -> Result<()> {
    let start = out.len();
    let result = write_data_row(row, columns, formats, zone, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn write_data_row(
    row: &[Value],
    columns: &[Column],
    formats: &[i16],
    zone: &Zone,
    out: &mut BytesMut,
) -> Result<()> {
    if row.len() != columns.len() {
        return Err(Error::Internal(format!(
            "row has {} values but the result has {} columns",
            row.len(),
            columns.len()
        )));
    }
    let field_count = i16::try_from(row.len())
        .map_err(|_| Error::Internal(format!("too many result columns: {}", row.len())))?;
    out.put_u8(b'D');
    let message_start = out.len();
    out.put_i32(0);
    out.put_i16(field_count);
    for (index, value) in row.iter().enumerate() {
        let format = formats.get(index).copied().unwrap_or(FORMAT_TEXT);
        let data_type = columns[index].data_type;
        if value.is_null() {
            out.put_i32(-1);
            continue;
        }
        let start = out.len();
        out.put_i32(0);
        if format == FORMAT_BINARY {
            encode_binary(value, data_type, out)?;
        } else {
            append_text(value, zone, out);
        }
        write_length(out, start, start + 4)?;
    }
    write_length(out, message_start, message_start)
}

/// Stores at `at` the length of what follows `from`, as an i32.
fn write_length(out: &mut BytesMut, at: usize, from: usize) -> Result<()> {
    let length = i32::try_from(out.len() - from)
        .map_err(|_| Error::Internal("a result row exceeds 2 GiB".into()))?;
    out[at..at + 4].copy_from_slice(&length.to_be_bytes());
    Ok(())
}

/// Appends the binary form of a non-NULL value of column type `data_type`.
/// The column type decides the width, so a value the engine produced in a
/// neighbouring numeric variant still arrives in the width the client was
/// promised by RowDescription.
fn encode_binary(value: &Value, data_type: DataType, out: &mut BytesMut) -> Result<()> {
    let mismatch = || {
        Error::Internal(format!(
            "value {value:?} does not fit result column type {data_type}"
        ))
    };
    match data_type {
        DataType::Boolean => match value {
            Value::Boolean(flag) => out.put_u8(u8::from(*flag)),
            _ => return Err(mismatch()),
        },
        DataType::SmallInt => {
            let number = value.as_i64().ok_or_else(mismatch)?;
            out.put_i16(i16::try_from(number).map_err(|_| mismatch())?);
        }
        DataType::Integer => {
            let number = value.as_i64().ok_or_else(mismatch)?;
            out.put_i32(i32::try_from(number).map_err(|_| mismatch())?);
        }
        DataType::BigInt => out.put_i64(value.as_i64().ok_or_else(mismatch)?),
        DataType::Real => match value {
            Value::Real(number) => out.put_f32(*number),
            other => out.put_f32(other.as_f64().ok_or_else(mismatch)? as f32),
        },
        DataType::Double => out.put_f64(value.as_f64().ok_or_else(mismatch)?),
        DataType::Text | DataType::Varchar(_) | DataType::Char(_) => {
            append_text(value, &Zone::utc(), out)
        }
        DataType::Date => match value {
            Value::Date(days) => out.put_i32(*days),
            _ => return Err(mismatch()),
        },
        DataType::Time(_) => match value {
            Value::Time(time) => out.put_i64(*time),
            _ => return Err(mismatch()),
        },
        DataType::Timestamp(_) | DataType::Timestamptz(_) => match value {
            Value::Timestamp(time) | Value::Timestamptz(time) => out.put_i64(*time),
            _ => return Err(mismatch()),
        },
        DataType::Interval(_) => match value {
            Value::Interval(interval) => {
                out.put_i64(interval.microseconds);
                out.put_i32(interval.days);
                out.put_i32(interval.months);
            }
            _ => return Err(mismatch()),
        },
        DataType::Numeric(_) => match value {
            Value::Numeric(number) => out.put_slice(&crate::sql::numeric::to_binary(number)),
            other => {
                let integer = other.as_i64().ok_or_else(mismatch)?;
                let number = crate::sql::numeric::Numeric::from_i64(integer);
                out.put_slice(&crate::sql::numeric::to_binary(&number));
            }
        },
    }
    Ok(())
}

/// Appends the text form of a non-NULL value ([`Value::to_text`]), without
/// building a `String` for the common types: a row's values are written
/// straight into its DataRow.
fn append_text(value: &Value, zone: &Zone, out: &mut BytesMut) {
    use std::fmt::Write;
    // Writing into a BytesMut cannot fail: it grows as needed.
    let _ = match value {
        Value::Text(text) => {
            out.put_slice(text.as_bytes());
            Ok(())
        }
        Value::SmallInt(number) => write!(out, "{number}"),
        Value::Integer(number) => write!(out, "{number}"),
        Value::BigInt(number) => write!(out, "{number}"),
        other => {
            out.put_slice(other.to_text_in(zone).unwrap_or_default().as_bytes());
            Ok(())
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(data_type: DataType) -> Column {
        Column {
            name: "c".into(),
            data_type,
        }
    }

    #[test]
    fn text_is_written_as_to_text_writes_it() {
        let values = [
            Value::Boolean(true),
            Value::SmallInt(i16::MIN),
            Value::Integer(-42),
            Value::BigInt(i64::MAX),
            Value::Real(1.5e-7),
            Value::Double(0.1 + 0.2),
            Value::Text("naïve".into()),
            Value::Text("".into()),
        ];
        for value in values {
            let mut out = BytesMut::new();
            append_text(&value, &Zone::utc(), &mut out);
            assert_eq!(
                std::str::from_utf8(&out).expect("UTF-8"),
                value.to_text().expect("not NULL"),
                "{value:?}"
            );
        }
    }

    #[test]
    fn binary_parameters_follow_the_declared_type() {
        let two = Bytes::from_static(&[0, 41]);
        assert_eq!(
            decode_parameter(
                DataType::SmallInt,
                FORMAT_BINARY,
                Some(&two),
                0,
                &TimeContext::utc(0)
            )
            .unwrap(),
            Value::SmallInt(41)
        );
        let error = decode_parameter(
            DataType::Integer,
            FORMAT_BINARY,
            Some(&two),
            2,
            &TimeContext::utc(0),
        )
        .unwrap_err();
        assert_eq!(error.sqlstate(), SqlState::INVALID_BINARY_REPRESENTATION);
        assert!(error.to_string().contains("parameter 3"), "{error}");
        let float = Bytes::copy_from_slice(&2.5f64.to_be_bytes());
        assert_eq!(
            decode_parameter(
                DataType::Double,
                FORMAT_BINARY,
                Some(&float),
                0,
                &TimeContext::utc(0)
            )
            .unwrap(),
            Value::Double(2.5)
        );
        let flag = Bytes::from_static(&[1]);
        assert_eq!(
            decode_parameter(
                DataType::Boolean,
                FORMAT_BINARY,
                Some(&flag),
                0,
                &TimeContext::utc(0)
            )
            .unwrap(),
            Value::Boolean(true)
        );
        assert_eq!(
            decode_parameter(DataType::Text, FORMAT_BINARY, None, 0, &TimeContext::utc(0)).unwrap(),
            Value::Null
        );
        let bad = Bytes::from_static(b"\xc3");
        assert_eq!(
            decode_parameter(
                DataType::Text,
                FORMAT_BINARY,
                Some(&bad),
                0,
                &TimeContext::utc(0)
            )
            .unwrap_err()
            .sqlstate()
            .code(),
            "22021"
        );
    }

    #[test]
    fn text_parameters_use_postgres_input() {
        let text = Bytes::from_static(b" -7 ");
        assert_eq!(
            decode_parameter(
                DataType::BigInt,
                FORMAT_TEXT,
                Some(&text),
                0,
                &TimeContext::utc(0)
            )
            .unwrap(),
            Value::BigInt(-7)
        );
        let bad = Bytes::from_static(b"seven");
        assert_eq!(
            decode_parameter(
                DataType::Integer,
                FORMAT_TEXT,
                Some(&bad),
                0,
                &TimeContext::utc(0)
            )
            .unwrap_err()
            .sqlstate(),
            SqlState::INVALID_TEXT_REPRESENTATION
        );
    }

    #[test]
    fn format_codes_expand() {
        assert_eq!(
            expand_formats(&[], 2, FormatList::Results).unwrap(),
            vec![0, 0]
        );
        assert_eq!(
            expand_formats(&[1], 3, FormatList::Results).unwrap(),
            vec![1, 1, 1]
        );
        assert_eq!(
            expand_formats(&[0, 1], 2, FormatList::Results).unwrap(),
            vec![0, 1]
        );
        assert_eq!(
            expand_formats(&[0, 1], 3, FormatList::Results)
                .unwrap_err()
                .sqlstate(),
            SqlState::PROTOCOL_VIOLATION
        );
        assert_eq!(
            expand_formats(&[2], 1, FormatList::Parameters)
                .unwrap_err()
                .sqlstate(),
            SqlState::INVALID_PARAMETER_VALUE
        );
    }

    /// The fields of one DataRow message `append_data_row` wrote, checked
    /// against the message pgwire encodes for the same fields.
    fn fields(row: &[Value], columns: &[Column], formats: &[i16]) -> Result<Vec<u8>> {
        let mut out = BytesMut::from(&b"before"[..]);
        append_data_row(row, columns, formats, &Zone::utc(), &mut out)?;
        assert_eq!(&out[..6], b"before");
        let fields = out[6 + 7..].to_vec();
        let mut expected = BytesMut::new();
        pgwire::messages::PgWireBackendMessage::DataRow(pgwire::messages::data::DataRow::new(
            BytesMut::from(&fields[..]),
            row.len() as i16,
        ))
        .encode(&mut expected)
        .expect("encodes");
        assert_eq!(&out[6..], &expected[..]);
        Ok(fields)
    }

    #[test]
    fn rows_encode_in_text_and_binary() {
        let columns = vec![
            column(DataType::Integer),
            column(DataType::Text),
            column(DataType::Real),
        ];
        let row = vec![Value::Integer(-2), Value::Null, Value::Real(1.5)];
        let text = fields(&row, &columns, &[0, 0, 0]).unwrap();
        assert_eq!(&text[..], b"\0\0\0\x02-2\xff\xff\xff\xff\0\0\0\x031.5");
        let binary = fields(&row, &columns, &[1, 1, 1]).unwrap();
        let mut expected = Vec::new();
        expected.extend_from_slice(&4i32.to_be_bytes());
        expected.extend_from_slice(&(-2i32).to_be_bytes());
        expected.extend_from_slice(&(-1i32).to_be_bytes());
        expected.extend_from_slice(&4i32.to_be_bytes());
        expected.extend_from_slice(&1.5f32.to_be_bytes());
        assert_eq!(&binary[..], &expected[..]);
        // A narrower engine value is widened to the column's binary width.
        let widened = fields(&[Value::SmallInt(3)], &[column(DataType::BigInt)], &[1]).unwrap();
        assert_eq!(&widened[4..], &3i64.to_be_bytes());
        // A row that does not fit its columns appends nothing.
        let mut out = BytesMut::from(&b"kept"[..]);
        assert!(
            append_data_row(&[Value::Integer(1)], &columns, &[0], &Zone::utc(), &mut out).is_err()
        );
        assert_eq!(&out[..], b"kept");
    }
}
