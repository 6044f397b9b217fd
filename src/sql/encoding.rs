//! Byte encodings of SQL values: order-preserving keys and compact rows.
//!
//! Keys (primary-key values) encode so that bytewise order equals SQL order
//! (invariant 1), which lets the B+tree answer range predicates:
//!
//! ```text
//!   boolean        1 byte 0/1
//!   integers       a header byte, then n = 0..8 bytes big-endian:
//!                    v >= 0: 80+n, then v in n bytes (0 is 80 alone)
//!                    v <  0: 7F-n, then v's low n bytes, n the bytes
//!                            of -v-1 (-1 is 7F alone)
//!   floats         8 bytes: f64 bits, sign bit flipped if positive,
//!                  all bits flipped if negative (NaN sorts last)
//!   text           bytes with 0x00 escaped as 0x00 0xFF, then 0x00 0x00
//!   numeric        a class byte 10..15, then for a nonzero number its
//!                  exponent and digit pairs (`numeric/encode.rs`)
//!   date, time,    as the integer they hold (days; microseconds)
//!   timestamp[tz]
//!   interval       16 bytes: the span in microseconds (months as 30
//!                  days) as an i128, big-endian, sign bit flipped
//! ```
//!
//! Every integer width encodes alike, by value, so that a key built from a
//! bigint literal equals the key of the same integer column value
//! (invariant 2). The header orders lengths (a longer non-negative number
//! is larger, a longer negative one smaller) and the payload orders values
//! of one length; the encoding is the shortest, so each value has exactly
//! one (decoding rejects any other as corrupt). Small numbers, most keys,
//! take 2 to 4 bytes rather than 8, and rarely hold a zero byte, which the
//! MVCC layer's key escaping would double (`txn/mvcc.rs`).
//!
//! Secondary index keys (`encode_index_key`) prefix each column's key with a
//! marker that places NULL, which a primary key never holds: `01` then the
//! value, or a NULL byte, `00` (NULLS FIRST) or `02` (NULLS LAST). A
//! descending column's bytes, marker included, are inverted; each column's
//! encoding is prefix-free, so the inversion exactly reverses its order:
//!
//! ```text
//!   ASC NULLS LAST (default)   01 ‖ value   NULL = 02
//!   ASC NULLS FIRST            01 ‖ value   NULL = 00
//!   DESC NULLS FIRST (default) !(01 ‖ value)   NULL = !02 = FD  (< FE)
//!   DESC NULLS LAST            !(01 ‖ value)   NULL = !00 = FF
//! ```
//!
//! Rows: `u16` column count, then per value a tag byte and its payload
//! (`0` NULL, `1` false, `2` true, `3` i16, `4` i32, `5` i64, `6` f32, `7`
//! f64, `8` text as `u32` length + UTF-8 bytes, `9` numeric as
//! `numeric/encode.rs` lays it out, `10` date i32, `11` time, `12`
//! timestamp and `13` timestamptz i64, `14` interval as i64 microseconds,
//! i32 days, i32 months). Decoding checks every length, so
//! corrupt bytes give `Error::Corrupt`, never a panic.

use super::catalog::IndexColumn;
use super::numeric::{
    decode_numeric_key, decode_numeric_row, encode_numeric_key, encode_numeric_row,
};
use super::types::{DataType, Value};
use crate::error::{Error, Result};

/// Appends the order-preserving key encoding of `value`.
pub fn encode_key_value(value: &Value, out: &mut Vec<u8>) -> Result<()> {
    match value {
        Value::Null => {
            return Err(Error::Internal("NULL in a primary key".into()));
        }
        Value::Boolean(b) => out.push(*b as u8),
        Value::SmallInt(_) | Value::Integer(_) | Value::BigInt(_) => {
            encode_integer_key(value.as_i64().expect("invariant: integer value"), out);
        }
        Value::Real(_) | Value::Double(_) => {
            let v = value.as_f64().expect("invariant: float value");
            let v = if v.is_nan() {
                f64::NAN
            } else if v == 0.0 {
                0.0
            } else {
                v
            };
            let bits = v.to_bits();
            let ordered = if bits >> 63 == 0 {
                bits | (1 << 63)
            } else {
                !bits
            };
            out.extend_from_slice(&ordered.to_be_bytes());
        }
        Value::Text(s) => {
            for &byte in s.as_bytes() {
                out.push(byte);
                if byte == 0 {
                    out.push(0xFF);
                }
            }
            out.extend_from_slice(&[0, 0]);
        }
        Value::Numeric(numeric) => encode_numeric_key(numeric, out),
        Value::Date(days) => encode_integer_key(*days as i64, out),
        Value::Time(value) | Value::Timestamp(value) | Value::Timestamptz(value) => {
            encode_integer_key(*value, out)
        }
        Value::Interval(interval) => {
            let ordered = (interval.span() as u128) ^ (1 << 127);
            out.extend_from_slice(&ordered.to_be_bytes());
        }
    }
    Ok(())
}

/// An integer's key: its header byte, then its payload (module docs).
pub(crate) fn encode_integer_key(value: i64, out: &mut Vec<u8>) {
    let negative = value < 0;
    let length = integer_key_length(value);
    // Fits in a byte: at most 8.
    let length_byte = length as u8;
    out.push(if negative {
        0x7F - length_byte
    } else {
        0x80 + length_byte
    });
    out.extend_from_slice(&(value as u64).to_be_bytes()[8 - length..]);
}

/// The payload bytes of an integer's key: those of `value`, or of
/// `-value - 1` when negative, without leading zero bytes.
fn integer_key_length(value: i64) -> usize {
    let magnitude = if value < 0 {
        !(value as u64)
    } else {
        value as u64
    };
    8 - magnitude.leading_zeros() as usize / 8
}

/// The key encoding of a tuple of values.
pub fn encode_key(values: &[Value]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for value in values {
        encode_key_value(value, &mut out)?;
    }
    Ok(out)
}

/// Appends the index key made of `values`, one per column of `columns`
/// (an index's key columns, in order); returns whether any value is NULL
/// (a unique index does not compare such keys, as PostgreSQL's default
/// NULLS DISTINCT).
pub fn encode_index_key(
    columns: &[IndexColumn],
    values: &[Value],
    out: &mut Vec<u8>,
) -> Result<bool> {
    if columns.len() != values.len() {
        return Err(Error::Internal("an index key of the wrong width".into()));
    }
    let mut has_null = false;
    for (column, value) in columns.iter().zip(values) {
        has_null |= value.is_null();
        encode_index_value(column, value, out)?;
    }
    Ok(has_null)
}

/// Appends one index column's encoding of `value`: the marker that places
/// NULL, then the value's key, every byte inverted for a descending
/// column (module docs).
pub fn encode_index_value(column: &IndexColumn, value: &Value, out: &mut Vec<u8>) -> Result<()> {
    let start = out.len();
    if value.is_null() {
        out.push(if column.nulls_first != column.descending {
            0x00
        } else {
            0x02
        });
    } else {
        out.push(VALUE_MARKER);
        encode_key_value(value, out)?;
    }
    if column.descending {
        for byte in &mut out[start..] {
            *byte = !*byte;
        }
    }
    Ok(())
}

/// The marker before an indexed value that is not NULL (before a
/// descending column's inversion).
const VALUE_MARKER: u8 = 0x01;

/// The first byte of every non-NULL value of an index column, so the
/// column's non-NULL values are exactly the encodings that start with it.
pub fn index_value_marker(column: &IndexColumn) -> u8 {
    if column.descending {
        !VALUE_MARKER
    } else {
        VALUE_MARKER
    }
}

/// Decodes the key encoding of a `data_type` value at the front of
/// `bytes`, every byte inverted first when `inverted` (a descending index
/// column's); returns the value and the encoding's length. A float key
/// holds no sign of zero, so `-0` decodes as `0`.
pub fn decode_key_value(
    data_type: DataType,
    bytes: &[u8],
    inverted: bool,
) -> Result<(Value, usize)> {
    let byte = |index: usize| -> Result<u8> {
        let byte = *bytes
            .get(index)
            .ok_or_else(|| Error::Corrupt("truncated key".into()))?;
        Ok(if inverted { !byte } else { byte })
    };
    let word = |from: usize, length: usize| -> Result<u64> {
        let mut word = 0u64;
        for index in from..from + length {
            word = word << 8 | u64::from(byte(index)?);
        }
        Ok(word)
    };
    let out_of_range = || Error::Corrupt(format!("a {data_type} key out of range"));
    Ok(match data_type {
        DataType::Boolean => match byte(0)? {
            0 => (Value::Boolean(false), 1),
            1 => (Value::Boolean(true), 1),
            _ => return Err(Error::Corrupt("malformed boolean key".into())),
        },
        DataType::SmallInt | DataType::Integer | DataType::BigInt => {
            let (value, length) = decode_integer_key(bytes, inverted)?;
            let value = match data_type {
                DataType::SmallInt => {
                    Value::SmallInt(i16::try_from(value).map_err(|_| out_of_range())?)
                }
                DataType::Integer => {
                    Value::Integer(i32::try_from(value).map_err(|_| out_of_range())?)
                }
                _ => Value::BigInt(value),
            };
            (value, length)
        }
        DataType::Numeric(modifier) => {
            let scale = modifier.map(|modifier| modifier.display_scale());
            let (value, length) = decode_numeric_key(bytes, inverted, scale)?;
            (Value::Numeric(value), length)
        }
        DataType::Real | DataType::Double => {
            let ordered = word(0, 8)?;
            let bits = if ordered >> 63 == 1 {
                ordered & !(1 << 63)
            } else {
                !ordered
            };
            let value = f64::from_bits(bits);
            let value = match data_type {
                DataType::Real => Value::Real(value as f32),
                _ => Value::Double(value),
            };
            (value, 8)
        }
        DataType::Date => {
            let (value, length) = decode_integer_key(bytes, inverted)?;
            (
                Value::Date(i32::try_from(value).map_err(|_| out_of_range())?),
                length,
            )
        }
        DataType::Time(_) | DataType::Timestamp(_) | DataType::Timestamptz(_) => {
            let (value, length) = decode_integer_key(bytes, inverted)?;
            let value = match data_type {
                DataType::Time(_) => Value::Time(value),
                DataType::Timestamp(_) => Value::Timestamp(value),
                _ => Value::Timestamptz(value),
            };
            (value, length)
        }
        DataType::Interval(_) => {
            // The key holds only the span (`'1 mon' = '30 days'`): it
            // decodes as days and microseconds, equal to what was stored.
            let high = word(0, 8)?;
            let low = word(8, 8)?;
            let span = ((u128::from(high) << 64 | u128::from(low)) ^ (1 << 127)) as i128;
            let day = crate::sql::datetime::MICROSECONDS_PER_DAY as i128;
            let days = i32::try_from(span.div_euclid(day)).map_err(|_| out_of_range())?;
            let microseconds = span.rem_euclid(day) as i64;
            (
                Value::Interval(crate::sql::datetime::Interval::new(0, days, microseconds)),
                16,
            )
        }
        DataType::Text | DataType::Varchar(_) | DataType::Char(_) => {
            let mut text = Vec::new();
            let mut index = 0;
            loop {
                let next = byte(index)?;
                index += 1;
                if next != 0 {
                    text.push(next);
                    continue;
                }
                index += 1;
                match byte(index - 1)? {
                    0xFF => text.push(0),
                    0 => break,
                    _ => return Err(Error::Corrupt("malformed text key".into())),
                }
            }
            let text = String::from_utf8(text)
                .map_err(|_| Error::Corrupt("a text key that is not UTF-8".into()))?;
            (Value::Text(text.into()), index)
        }
    })
}

/// Decodes an integer key at the front of `bytes` (each byte inverted
/// first when `inverted`): the value and the key's length (header byte
/// included).
pub(crate) fn decode_integer_key(bytes: &[u8], inverted: bool) -> Result<(i64, usize)> {
    let byte = |index: usize| -> Result<u8> {
        let byte = *bytes
            .get(index)
            .ok_or_else(|| Error::Corrupt("truncated key".into()))?;
        Ok(if inverted { !byte } else { byte })
    };
    let (negative, length) = match byte(0)? {
        header @ 0x80..=0x88 => (false, usize::from(header - 0x80)),
        header @ 0x77..=0x7F => (true, usize::from(0x7F - header)),
        _ => return Err(Error::Corrupt("malformed integer key".into())),
    };
    let mut payload = 0u64;
    for index in 1..=length {
        payload = payload << 8 | u64::from(byte(index)?);
    }
    let value = if negative && length < 8 {
        // The high bytes of a negative number are all ones.
        (payload | (u64::MAX << (8 * length))) as i64
    } else {
        payload as i64
    };
    if (value < 0) != negative || integer_key_length(value) != length {
        return Err(Error::Corrupt("non-canonical integer key".into()));
    }
    Ok((value, 1 + length))
}

/// Decodes the primary-key values of `types` that make up all of `key`.
pub fn decode_key(
    types: impl ExactSizeIterator<Item = DataType>,
    key: &[u8],
) -> Result<Vec<Value>> {
    let mut values = Vec::with_capacity(types.len());
    let mut position = 0;
    for data_type in types {
        let (value, length) = decode_key_value(data_type, &key[position..], false)?;
        values.push(value);
        position += length;
    }
    if position != key.len() {
        return Err(Error::Corrupt("trailing bytes after a key".into()));
    }
    Ok(values)
}

/// Decodes the index columns at the front of an index entry (`index key
/// ‖ row key`): `columns` in order, whose values have `types`, one per
/// column; pushes each value onto `values`, if given, and returns where
/// the columns end.
pub fn decode_index_key(
    columns: &[IndexColumn],
    types: &[DataType],
    entry: &[u8],
    mut values: Option<&mut Vec<Value>>,
) -> Result<usize> {
    if columns.len() != types.len() {
        return Err(Error::Internal("index columns without their types".into()));
    }
    let mut position = 0;
    for (column, &data_type) in columns.iter().zip(types) {
        let marker = entry
            .get(position)
            .map(|&byte| if column.descending { !byte } else { byte })
            .ok_or_else(|| Error::Corrupt("truncated index entry".into()))?;
        position += 1;
        let value = match marker {
            VALUE_MARKER => {
                let (value, length) =
                    decode_key_value(data_type, &entry[position..], column.descending)?;
                position += length;
                value
            }
            0x00 | 0x02 => Value::Null,
            _ => return Err(Error::Corrupt("malformed index entry".into())),
        };
        if let Some(values) = values.as_mut() {
            values.push(value);
        }
    }
    Ok(position)
}

/// Encodes a row.
pub fn encode_row(row: &[Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + row.len() * 9);
    out.extend_from_slice(&(row.len() as u16).to_le_bytes());
    for value in row {
        match value {
            Value::Null => out.push(0),
            Value::Boolean(false) => out.push(1),
            Value::Boolean(true) => out.push(2),
            Value::SmallInt(v) => {
                out.push(3);
                out.extend_from_slice(&v.to_le_bytes());
            }
            Value::Integer(v) => {
                out.push(4);
                out.extend_from_slice(&v.to_le_bytes());
            }
            Value::BigInt(v) => {
                out.push(5);
                out.extend_from_slice(&v.to_le_bytes());
            }
            Value::Real(v) => {
                out.push(6);
                out.extend_from_slice(&v.to_le_bytes());
            }
            Value::Double(v) => {
                out.push(7);
                out.extend_from_slice(&v.to_le_bytes());
            }
            Value::Text(s) => {
                out.push(8);
                out.extend_from_slice(&(s.len() as u32).to_le_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            Value::Date(days) => {
                out.push(10);
                out.extend_from_slice(&days.to_le_bytes());
            }
            Value::Time(value) => {
                out.push(11);
                out.extend_from_slice(&value.to_le_bytes());
            }
            Value::Timestamp(value) => {
                out.push(12);
                out.extend_from_slice(&value.to_le_bytes());
            }
            Value::Timestamptz(value) => {
                out.push(13);
                out.extend_from_slice(&value.to_le_bytes());
            }
            Value::Interval(interval) => {
                out.push(14);
                out.extend_from_slice(&interval.microseconds.to_le_bytes());
                out.extend_from_slice(&interval.days.to_le_bytes());
                out.extend_from_slice(&interval.months.to_le_bytes());
            }
            Value::Numeric(numeric) => {
                out.push(9);
                encode_numeric_row(numeric, &mut out);
            }
        }
    }
    out
}

/// A cursor over bytes that reports truncation as corruption.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader { bytes, what }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.bytes.len() < n {
            return Err(Error::Corrupt(format!("truncated {}", self.what)));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        Ok(self
            .take(N)?
            .try_into()
            .expect("invariant: take returned N bytes"))
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub(crate) fn string(&mut self) -> Result<String> {
        let len = self.u32()? as usize;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| Error::Corrupt(format!("invalid UTF-8 in {}", self.what)))
    }

    /// A string as a shared text value: validated in place and copied
    /// once, into the text's own block.
    pub(crate) fn text(&mut self) -> Result<std::sync::Arc<str>> {
        let len = self.u32()? as usize;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes)
            .map(std::sync::Arc::from)
            .map_err(|_| Error::Corrupt(format!("invalid UTF-8 in {}", self.what)))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The bytes not read yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.bytes
    }
}

/// Decodes a row.
pub fn decode_row(bytes: &[u8]) -> Result<Vec<Value>> {
    let mut row = Vec::new();
    decode_row_into(bytes, None, &mut row)?;
    Ok(row)
}

/// Decodes a row into `row` (cleared first), only the columns `wanted`
/// marks (all if `None`); the others become NULL without being copied out.
/// The tags and lengths of the values up to the last wanted one are
/// checked; the values after it are not read at all (a scan that needs
/// the first columns of a wide row, or none, as `count(*)`, skips the
/// rest).
pub fn decode_row_into(bytes: &[u8], wanted: Option<&[bool]>, row: &mut Vec<Value>) -> Result<()> {
    let count = decode_row_prefix_into(bytes, wanted, row)?;
    row.resize(count, Value::Null);
    Ok(())
}

/// [`decode_row_into`] without the NULLs after the last wanted column:
/// `row` ends at that column (or holds every column if `wanted` is
/// `None`). Returns the row's column count.
pub fn decode_row_prefix_into(
    bytes: &[u8],
    wanted: Option<&[bool]>,
    row: &mut Vec<Value>,
) -> Result<usize> {
    let mut reader = Reader::new(bytes, "row");
    let count = reader.u16()? as usize;
    row.clear();
    row.reserve(count);
    let Some(wanted) = wanted else {
        for _ in 0..count {
            push_value(&mut reader, true, row)?;
        }
        if !reader.is_empty() {
            return Err(Error::Corrupt("trailing bytes after row".into()));
        }
        return Ok(count);
    };
    let read = wanted
        .iter()
        .rposition(|&wanted| wanted)
        .map_or(0, |last| (last + 1).min(count));
    for &keep in &wanted[..read] {
        push_value(&mut reader, keep, row)?;
    }
    Ok(count)
}

/// Appends the next value of a row to `row`; NULL, without copying it
/// out, unless `keep`.
///
/// Each kind of value is stored straight into the row, and the function
/// is always inlined: a decoded value that came back through memory (or
/// was chosen after the match) was written as separate words and read
/// back with one wider load, which the processor cannot forward from the
/// stores; that stall was half of a row's decoding.
#[inline(always)]
fn push_value(reader: &mut Reader<'_>, keep: bool, row: &mut Vec<Value>) -> Result<()> {
    let tag = reader.u8()?;
    if !keep {
        match tag {
            0..=2 => {}
            3 => _ = reader.array::<2>()?,
            4 | 6 | 10 => _ = reader.array::<4>()?,
            5 | 7 | 11..=13 => _ = reader.array::<8>()?,
            14 => _ = reader.array::<16>()?,
            8 => {
                let length = reader.u32()? as usize;
                reader.take(length)?;
            }
            9 => {
                let (_, length) = decode_numeric_row(reader.rest())?;
                reader.take(length)?;
            }
            tag => return Err(Error::Corrupt(format!("unknown value tag {tag} in row"))),
        }
        row.push(Value::Null);
        return Ok(());
    }
    match tag {
        0 => row.push(Value::Null),
        1 => row.push(Value::Boolean(false)),
        2 => row.push(Value::Boolean(true)),
        3 => row.push(Value::SmallInt(i16::from_le_bytes(reader.array()?))),
        4 => row.push(Value::Integer(i32::from_le_bytes(reader.array()?))),
        5 => row.push(Value::BigInt(i64::from_le_bytes(reader.array()?))),
        6 => row.push(Value::Real(f32::from_le_bytes(reader.array()?))),
        7 => row.push(Value::Double(f64::from_le_bytes(reader.array()?))),
        8 => row.push(Value::Text(reader.text()?)),
        9 => {
            let (value, length) = decode_numeric_row(reader.rest())?;
            reader.take(length)?;
            row.push(Value::Numeric(value));
        }
        10 => row.push(Value::Date(i32::from_le_bytes(reader.array()?))),
        11 => row.push(Value::Time(i64::from_le_bytes(reader.array()?))),
        12 => row.push(Value::Timestamp(i64::from_le_bytes(reader.array()?))),
        13 => row.push(Value::Timestamptz(i64::from_le_bytes(reader.array()?))),
        14 => {
            let bytes: [u8; 16] = reader.array()?;
            row.push(Value::Interval(crate::sql::datetime::Interval::new(
                i32::from_le_bytes(bytes[12..].try_into().expect("four bytes")),
                i32::from_le_bytes(bytes[8..12].try_into().expect("four bytes")),
                i64::from_le_bytes(bytes[..8].try_into().expect("eight bytes")),
            )));
        }
        tag => return Err(Error::Corrupt(format!("unknown value tag {tag} in row"))),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::catalog::IndexKey;

    #[test]
    fn index_keys_and_primary_keys_decode_to_their_values() {
        let types = [
            DataType::Integer,
            DataType::Text,
            DataType::Double,
            DataType::SmallInt,
            DataType::Boolean,
        ];
        let rows = [
            vec![
                Value::Integer(-7),
                Value::Text("a\0b".into()),
                Value::Double(-2.5),
                Value::SmallInt(3),
                Value::Boolean(true),
            ],
            vec![
                Value::Null,
                Value::Text("".into()),
                Value::Null,
                Value::SmallInt(-32768),
                Value::Boolean(false),
            ],
        ];
        for descending in [false, true] {
            for nulls_first in [false, true] {
                let columns: Vec<IndexColumn> = (0..types.len())
                    .map(|column| IndexColumn {
                        key: IndexKey::Column(column),
                        descending: descending == (column % 2 == 0),
                        nulls_first,
                    })
                    .collect();
                for row in &rows {
                    let mut entry = Vec::new();
                    encode_index_key(&columns, row, &mut entry).unwrap();
                    let length = entry.len();
                    entry.extend_from_slice(b"row key");
                    let mut values = Vec::new();
                    let start =
                        decode_index_key(&columns, &types, &entry, Some(&mut values)).unwrap();
                    assert_eq!(start, length);
                    assert_eq!(&values, row);
                }
            }
        }
        let key = [Value::BigInt(i64::MIN), Value::Text("x".into())];
        let encoded = encode_key(&key).unwrap();
        assert_eq!(
            decode_key([DataType::BigInt, DataType::Text].into_iter(), &encoded).unwrap(),
            key
        );
        // Truncated, trailing or out-of-range bytes are corruption.
        assert!(decode_key([DataType::BigInt].into_iter(), &encoded).is_err());
        assert!(
            decode_key(
                [DataType::BigInt, DataType::Text].into_iter(),
                &encoded[..9]
            )
            .is_err()
        );
        assert!(
            decode_key(
                [DataType::SmallInt].into_iter(),
                &encode_key(&[Value::BigInt(1 << 20)]).unwrap()
            )
            .is_err()
        );
        let columns = [IndexColumn {
            key: IndexKey::Column(0),
            descending: false,
            nulls_first: false,
        }];
        assert!(matches!(
            decode_index_key(&columns, &types[..1], &[0x07], None),
            Err(Error::Corrupt(_))
        ));
    }

    #[test]
    fn a_partial_decode_keeps_the_wanted_columns_and_reads_up_to_the_last() {
        let row = vec![
            Value::Integer(1),
            Value::Text("skipped".into()),
            Value::Text("kept".into()),
            Value::Double(2.5),
        ];
        let bytes = encode_row(&row);
        let mut out = vec![Value::BigInt(9)];
        decode_row_into(&bytes, Some(&[false, false, true]), &mut out).unwrap();
        assert_eq!(
            out,
            vec![
                Value::Null,
                Value::Null,
                Value::Text("kept".into()),
                Value::Null
            ]
        );
        decode_row_into(&bytes, None, &mut out).unwrap();
        assert_eq!(out, row);
        // A skipped text before a wanted column still has its length
        // checked: cut inside "kept", the row is corrupt.
        let cut = &bytes[..bytes.len() - 12];
        assert!(decode_row_into(cut, Some(&[false, false, true]), &mut out).is_err());
        // Nothing after the last wanted column is read.
        decode_row_into(cut, Some(&[true]), &mut out).unwrap();
        assert_eq!(
            out,
            vec![Value::Integer(1), Value::Null, Value::Null, Value::Null]
        );
    }

    #[test]
    fn index_keys_order_by_direction_and_nulls() {
        let values = [
            Value::Integer(-3),
            Value::Integer(0),
            Value::Integer(9),
            Value::Null,
        ];
        let sorted = |descending, nulls_first| {
            let column = [IndexColumn {
                key: IndexKey::Column(0),
                descending,
                nulls_first,
            }];
            let mut keyed: Vec<(Vec<u8>, &Value)> = values
                .iter()
                .map(|v| {
                    let mut key = Vec::new();
                    let has_null = encode_index_key(&column, std::slice::from_ref(v), &mut key);
                    assert_eq!(has_null.unwrap(), v.is_null());
                    (key, v)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            keyed
                .into_iter()
                .map(|(_, v)| v.clone())
                .collect::<Vec<_>>()
        };
        let (n, a, b, c) = (
            Value::Null,
            Value::Integer(-3),
            Value::Integer(0),
            Value::Integer(9),
        );
        assert_eq!(
            sorted(false, false),
            [a.clone(), b.clone(), c.clone(), n.clone()]
        );
        assert_eq!(
            sorted(false, true),
            [n.clone(), a.clone(), b.clone(), c.clone()]
        );
        assert_eq!(
            sorted(true, true),
            [n.clone(), c.clone(), b.clone(), a.clone()]
        );
        assert_eq!(sorted(true, false), [c, b, a, n]);
        // Text stays prefix-free under inversion: "ab" after "abc" descending.
        let column = [IndexColumn {
            key: IndexKey::Column(0),
            descending: true,
            nulls_first: true,
        }];
        let mut ab = Vec::new();
        let mut abc = Vec::new();
        encode_index_key(&column, &[Value::Text("ab".into())], &mut ab).unwrap();
        encode_index_key(&column, &[Value::Text("abc".into())], &mut abc).unwrap();
        assert!(abc < ab);
    }

    #[test]
    fn integer_keys_are_short_canonical_and_ordered() {
        // Every byte-length boundary, both signs, and the extremes.
        let mut values = vec![i64::MIN, i64::MIN + 1, i64::MAX - 1, i64::MAX, 0];
        for shift in 0..63 {
            let power = 1i64 << shift;
            values.extend([power - 1, power, power + 1, -power - 1, -power, -power + 1]);
        }
        let mut random = crate::storage::vfs::SplitMix64(11);
        values.extend((0..2000).map(|_| random.next_u64() as i64 >> (random.next_u64() % 64)));
        values.sort_unstable();
        values.dedup();
        let keys: Vec<Vec<u8>> = values
            .iter()
            .map(|v| encode_key(&[Value::BigInt(*v)]).unwrap())
            .collect();
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]), "order");
        for (value, key) in values.iter().zip(&keys) {
            let (decoded, length) = decode_key_value(DataType::BigInt, key, false).unwrap();
            assert_eq!((decoded, length), (Value::BigInt(*value), key.len()));
            // Prefix-free: the decoder stops where the key ends.
            let mut longer = key.clone();
            longer.extend_from_slice(&[0x55, 0x00]);
            assert_eq!(
                decode_key_value(DataType::BigInt, &longer, false)
                    .unwrap()
                    .1,
                key.len()
            );
            let inverted: Vec<u8> = key.iter().map(|byte| !byte).collect();
            assert_eq!(
                decode_key_value(DataType::BigInt, &inverted, true)
                    .unwrap()
                    .0,
                Value::BigInt(*value)
            );
        }
        let short = |value: i64| encode_key(&[Value::Integer(value as i32)]).unwrap();
        assert_eq!(short(0), [0x80]);
        assert_eq!(short(-1), [0x7F]);
        assert_eq!(short(4), [0x81, 0x04]);
        assert_eq!(short(-2), [0x7E, 0xFE]);
        assert_eq!(short(1_000_000), [0x83, 0x0F, 0x42, 0x40]);
        // Every width of one value encodes alike (invariant 2).
        assert_eq!(
            encode_key(&[Value::SmallInt(300)]).unwrap(),
            encode_key(&[Value::BigInt(300)]).unwrap()
        );
        // Anything but the one shortest encoding is corruption.
        for bytes in [
            &[0x82, 0x00, 0x05][..],
            &[0x7D, 0xFF, 0xFE],
            &[0x81, 0x00],
            &[0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9],
            &[0x76],
            &[0x88, 0x80, 0, 0, 0, 0, 0, 0, 0],
            &[0x83, 0x01],
        ] {
            assert!(
                matches!(
                    decode_key_value(DataType::BigInt, bytes, false),
                    Err(Error::Corrupt(_))
                ),
                "{bytes:02x?}"
            );
        }
        let big = encode_key(&[Value::BigInt(1 << 40)]).unwrap();
        assert!(matches!(
            decode_key_value(DataType::Integer, &big, false),
            Err(Error::Corrupt(_))
        ));
    }

    #[test]
    fn key_order_matches_value_order() {
        let values = [
            Value::BigInt(i64::MIN),
            Value::Integer(-5),
            Value::SmallInt(0),
            Value::Integer(7),
            Value::BigInt(i64::MAX),
        ];
        let keys: Vec<_> = values
            .iter()
            .map(|v| encode_key(std::slice::from_ref(v)).unwrap())
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        let floats = [
            f64::NEG_INFINITY,
            -1.5,
            -0.0,
            0.25,
            1e300,
            f64::INFINITY,
            f64::NAN,
        ];
        let keys: Vec<_> = floats
            .iter()
            .map(|v| encode_key(&[Value::Double(*v)]).unwrap())
            .collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]));
        let a = encode_key(&[Value::Text("ab".into()), Value::Integer(1)]).unwrap();
        let b = encode_key(&[Value::Text("ab\0".into()), Value::Integer(0)]).unwrap();
        let c = encode_key(&[Value::Text("b".into()), Value::Integer(0)]).unwrap();
        assert!(a < b && b < c);
    }

    #[test]
    fn rows_round_trip_and_corruption_is_an_error() {
        let row = vec![
            Value::Null,
            Value::Boolean(true),
            Value::SmallInt(-3),
            Value::Integer(40),
            Value::BigInt(1 << 40),
            Value::Real(1.5),
            Value::Double(-2.25),
            Value::Text("héllo".into()),
        ];
        let bytes = encode_row(&row);
        assert_eq!(decode_row(&bytes).unwrap(), row);
        for cut in 0..bytes.len() {
            assert!(matches!(decode_row(&bytes[..cut]), Err(Error::Corrupt(_))));
        }
    }
}
