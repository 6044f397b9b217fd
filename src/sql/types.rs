//! SQL data types and values: the closed set of types basalt supports, their
//! PostgreSQL type OIDs, and their text input/output in PostgreSQL's formats.
//!
//! Text output follows PostgreSQL 15 with its default `extra_float_digits = 1`:
//! booleans print as `t`/`f`; floats print the shortest representation that
//! round-trips, in plain notation when the decimal exponent is in
//! `-4 ..= precision-1` (15 for double, 6 for real) and as `1e+20` otherwise;
//! `Infinity`, `-Infinity` and `NaN` by name.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use super::datetime::{self, Interval, TimeContext, Zone};
use super::numeric::{Numeric, NumericModifier};
use crate::error::{Error, Result, SqlState};

/// A SQL data type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataType {
    Boolean,
    SmallInt,
    Integer,
    BigInt,
    Real,
    Double,
    Text,
    /// `varchar(n)`; `None` is unbounded `varchar`.
    Varchar(Option<u32>),
    /// `char(n)`/`character(n)`, blank-padded to `n` characters
    /// (PostgreSQL's `bpchar`): trailing spaces are padding, dropped when
    /// the value becomes `text`.
    Char(u32),
    /// `numeric(p, s)`; `None` is unconstrained `numeric`.
    Numeric(Option<NumericModifier>),
    Date,
    /// `time(p)` without time zone; `None` keeps microseconds.
    Time(Option<u8>),
    /// `timestamp(p)` without time zone.
    Timestamp(Option<u8>),
    /// `timestamp(p) with time zone`.
    Timestamptz(Option<u8>),
    /// `interval(p)`.
    Interval(Option<u8>),
}

impl DataType {
    /// The PostgreSQL type OID.
    pub fn oid(&self) -> u32 {
        match self {
            DataType::Boolean => 16,
            DataType::SmallInt => 21,
            DataType::Integer => 23,
            DataType::BigInt => 20,
            DataType::Real => 700,
            DataType::Double => 701,
            DataType::Text => 25,
            DataType::Varchar(_) => 1043,
            DataType::Char(_) => 1042,
            DataType::Numeric(_) => 1700,
            DataType::Date => 1082,
            DataType::Time(_) => 1083,
            DataType::Timestamp(_) => 1114,
            DataType::Timestamptz(_) => 1184,
            DataType::Interval(_) => 1186,
        }
    }

    /// The type for a PostgreSQL OID, if basalt supports it. Unknown (0) is `None`.
    pub fn from_oid(oid: u32) -> Option<DataType> {
        Some(match oid {
            16 => DataType::Boolean,
            21 => DataType::SmallInt,
            23 => DataType::Integer,
            20 => DataType::BigInt,
            700 => DataType::Real,
            701 => DataType::Double,
            25 => DataType::Text,
            1043 => DataType::Varchar(None),
            1700 => DataType::Numeric(None),
            1082 => DataType::Date,
            1083 => DataType::Time(None),
            1114 => DataType::Timestamp(None),
            1184 => DataType::Timestamptz(None),
            1186 => DataType::Interval(None),
            // bpchar and name are accepted as text for parameters.
            1042 | 19 => DataType::Text,
            _ => return None,
        })
    }

    /// `pg_type.typlen`: the fixed size in bytes, or -1 for variable length.
    pub fn type_len(&self) -> i16 {
        match self {
            DataType::Boolean => 1,
            DataType::SmallInt => 2,
            DataType::Integer | DataType::Real => 4,
            DataType::BigInt | DataType::Double => 8,
            DataType::Date => 4,
            DataType::Time(_) | DataType::Timestamp(_) | DataType::Timestamptz(_) => 8,
            DataType::Interval(_) => 16,
            DataType::Text | DataType::Varchar(_) | DataType::Char(_) | DataType::Numeric(_) => -1,
        }
    }

    /// The type modifier reported in RowDescription (`atttypmod`).
    pub fn type_modifier(&self) -> i32 {
        match self {
            DataType::Varchar(Some(n)) | DataType::Char(n) => *n as i32 + 4,
            DataType::Numeric(Some(modifier)) => modifier.type_modifier(),
            DataType::Time(Some(precision))
            | DataType::Timestamp(Some(precision))
            | DataType::Timestamptz(Some(precision)) => *precision as i32,
            // PostgreSQL's INTERVAL_TYPMOD with every field allowed.
            DataType::Interval(Some(precision)) => 0x7FFF << 16 | *precision as i32,
            _ => -1,
        }
    }

    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            DataType::SmallInt
                | DataType::Integer
                | DataType::BigInt
                | DataType::Real
                | DataType::Double
                | DataType::Numeric(_)
        )
    }

    pub fn is_integer(&self) -> bool {
        matches!(
            self,
            DataType::SmallInt | DataType::Integer | DataType::BigInt
        )
    }

    pub fn is_text(&self) -> bool {
        matches!(
            self,
            DataType::Text | DataType::Varchar(_) | DataType::Char(_)
        )
    }

    /// `date`, `timestamp` and `timestamptz`: the types that name a day
    /// (rank: date < timestamp < timestamptz, PostgreSQL's implicit casts).
    pub fn datetime_rank(&self) -> Option<u8> {
        match self {
            DataType::Date => Some(0),
            DataType::Timestamp(_) => Some(1),
            DataType::Timestamptz(_) => Some(2),
            _ => None,
        }
    }

    /// The type without its modifier (`timestamp(3)` is a `timestamp`).
    pub fn unmodified(&self) -> DataType {
        match self {
            DataType::Varchar(_) => DataType::Varchar(None),
            DataType::Numeric(_) => DataType::Numeric(None),
            DataType::Time(_) => DataType::Time(None),
            DataType::Timestamp(_) => DataType::Timestamp(None),
            DataType::Timestamptz(_) => DataType::Timestamptz(None),
            DataType::Interval(_) => DataType::Interval(None),
            other => *other,
        }
    }

    /// Rank in the numeric promotion order (smallint < integer < bigint <
    /// numeric < real < double), PostgreSQL's implicit casts.
    pub(crate) fn numeric_rank(&self) -> Option<u8> {
        match self {
            DataType::SmallInt => Some(0),
            DataType::Integer => Some(1),
            DataType::BigInt => Some(2),
            DataType::Numeric(_) => Some(3),
            DataType::Real => Some(4),
            DataType::Double => Some(5),
            _ => None,
        }
    }

    /// Whether a key of this type decodes to the value that was stored:
    /// not a float (a float key holds no sign of zero) and not plain
    /// `numeric` (a key holds no display scale).
    pub fn key_is_exact(&self) -> bool {
        !matches!(
            self,
            DataType::Real | DataType::Double | DataType::Numeric(None) | DataType::Interval(_)
        )
    }

    /// The PostgreSQL name of the type, as `format_type` prints it.
    pub fn name(&self) -> String {
        match self {
            DataType::Boolean => "boolean".into(),
            DataType::SmallInt => "smallint".into(),
            DataType::Integer => "integer".into(),
            DataType::BigInt => "bigint".into(),
            DataType::Real => "real".into(),
            DataType::Double => "double precision".into(),
            DataType::Text => "text".into(),
            DataType::Varchar(None) => "character varying".into(),
            DataType::Varchar(Some(n)) => format!("character varying({n})"),
            DataType::Char(n) => format!("character({n})"),
            DataType::Numeric(None) => "numeric".into(),
            DataType::Numeric(Some(modifier)) => {
                format!("numeric({},{})", modifier.precision, modifier.scale)
            }
            DataType::Date => "date".into(),
            DataType::Time(None) => "time without time zone".into(),
            DataType::Time(Some(p)) => format!("time({p}) without time zone"),
            DataType::Timestamp(None) => "timestamp without time zone".into(),
            DataType::Timestamp(Some(p)) => format!("timestamp({p}) without time zone"),
            DataType::Timestamptz(None) => "timestamp with time zone".into(),
            DataType::Timestamptz(Some(p)) => format!("timestamp({p}) with time zone"),
            DataType::Interval(None) => "interval".into(),
            DataType::Interval(Some(p)) => format!("interval({p})"),
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// A SQL value. `Varchar` columns hold `Text` values.
///
/// Text is shared, not owned: copying a row (a join's output, a group
/// key) copies a pointer and counts a reference instead of allocating
/// and copying the string.
///
/// The word-sized tag (`repr(u64)`) puts every payload at offset 8, so
/// copying a number is two word moves. With a byte tag the payloads sit
/// at offsets 1 to 8 and a copy is a run of overlapping narrow moves that
/// stall the store buffer: cloning rows of integers measured 2.5 times
/// slower. The size is 24 bytes either way.
#[derive(Clone, Debug)]
#[repr(u64)]
pub enum Value {
    Null,
    Boolean(bool),
    SmallInt(i16),
    Integer(i32),
    BigInt(i64),
    Real(f32),
    Double(f64),
    Text(Arc<str>),
    Numeric(Numeric),
    /// Days since 2000-01-01 (`datetime` module).
    Date(i32),
    /// Microseconds since midnight.
    Time(i64),
    /// Wall-clock microseconds since 2000-01-01 00:00.
    Timestamp(i64),
    /// Microseconds since 2000-01-01 00:00 UTC.
    Timestamptz(i64),
    Interval(Interval),
}

/// A row of values.
pub type Row = Vec<Value>;

impl Value {
    /// The value, leaving NULL in its place (an operator moving a column
    /// out of a row it will not read again).
    pub fn take(&mut self) -> Value {
        std::mem::replace(self, Value::Null)
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value's natural type; `None` for NULL.
    pub fn data_type(&self) -> Option<DataType> {
        Some(match self {
            Value::Null => return None,
            Value::Boolean(_) => DataType::Boolean,
            Value::SmallInt(_) => DataType::SmallInt,
            Value::Integer(_) => DataType::Integer,
            Value::BigInt(_) => DataType::BigInt,
            Value::Real(_) => DataType::Real,
            Value::Double(_) => DataType::Double,
            Value::Text(_) => DataType::Text,
            Value::Numeric(_) => DataType::Numeric(None),
            Value::Date(_) => DataType::Date,
            Value::Time(_) => DataType::Time(None),
            Value::Timestamp(_) => DataType::Timestamp(None),
            Value::Timestamptz(_) => DataType::Timestamptz(None),
            Value::Interval(_) => DataType::Interval(None),
        })
    }

    /// Integer value widened to i64, if integral.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::SmallInt(v) => Some(*v as i64),
            Value::Integer(v) => Some(*v as i64),
            Value::BigInt(v) => Some(*v),
            _ => None,
        }
    }

    /// Numeric value as f64, if numeric.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Real(v) => Some(*v as f64),
            Value::Double(v) => Some(*v),
            Value::Numeric(v) => Some(v.to_f64()),
            other => other.as_i64().map(|v| v as f64),
        }
    }

    /// The PostgreSQL text output of a value, `timestamptz` in UTC; `None`
    /// for NULL.
    pub fn to_text(&self) -> Option<String> {
        self.to_text_in(&Zone::utc())
    }

    /// The PostgreSQL text output of a value, `timestamptz` shown in `zone`.
    pub fn to_text_in(&self, zone: &Zone) -> Option<String> {
        Some(match self {
            Value::Null => return None,
            Value::Boolean(b) => if *b { "t" } else { "f" }.to_string(),
            Value::SmallInt(v) => v.to_string(),
            Value::Integer(v) => v.to_string(),
            Value::BigInt(v) => v.to_string(),
            Value::Real(v) => format_float(*v as f64, format!("{:e}", v), 6),
            Value::Double(v) => format_float(*v, format!("{:e}", v), 15),
            Value::Text(s) => s.to_string(),
            Value::Numeric(v) => v.to_text(),
            Value::Date(v) => datetime::output::format_date(*v),
            Value::Time(v) => datetime::output::format_time(*v),
            Value::Timestamp(v) => datetime::output::format_timestamp(*v),
            Value::Timestamptz(v) => datetime::output::format_timestamptz(*v, zone),
            Value::Interval(v) => v.to_text(),
        })
    }

    /// Parses PostgreSQL text input for `data_type` (SQLSTATE 22P02 on bad
    /// input), times read in UTC.
    pub fn parse(data_type: DataType, text: &str) -> Result<Value> {
        Value::parse_with(data_type, text, None)
    }

    /// Parses PostgreSQL text input for `data_type`, times read in `time`'s
    /// zone (`now` and `today` from its transaction start).
    pub fn parse_in(data_type: DataType, text: &str, time: &TimeContext) -> Result<Value> {
        Value::parse_with(data_type, text, Some(time))
    }

    /// [`Value::parse_in`], or in UTC with the clock's now where `time` is
    /// `None`: built only for the time types, so other input never reads
    /// the clock.
    fn parse_with(data_type: DataType, text: &str, time: Option<&TimeContext>) -> Result<Value> {
        let context = || match time {
            Some(time) => std::borrow::Cow::Borrowed(time),
            None => std::borrow::Cow::Owned(TimeContext::default()),
        };
        let invalid = || {
            Error::sql(
                SqlState::INVALID_TEXT_REPRESENTATION,
                format!(
                    "invalid input syntax for type {}: \"{}\"",
                    data_type.name(),
                    text
                ),
            )
        };
        let out_of_range = || {
            Error::sql(
                SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                format!(
                    "value \"{}\" is out of range for type {}",
                    text,
                    data_type.name()
                ),
            )
        };
        // float4in/float8in word it without the leading "value".
        let float_out_of_range = || {
            Error::sql(
                SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                format!("\"{}\" is out of range for type {}", text, data_type.name()),
            )
        };
        let trimmed = text.trim();
        Ok(match data_type {
            DataType::Boolean => Value::Boolean(parse_bool(trimmed).ok_or_else(invalid)?),
            DataType::SmallInt => {
                let v = parse_integer(trimmed).ok_or_else(invalid)?;
                Value::SmallInt(i16::try_from(v).map_err(|_| out_of_range())?)
            }
            DataType::Integer => {
                let v = parse_integer(trimmed).ok_or_else(invalid)?;
                Value::Integer(i32::try_from(v).map_err(|_| out_of_range())?)
            }
            DataType::BigInt => {
                let v = parse_integer(trimmed).ok_or_else(invalid)?;
                Value::BigInt(i64::try_from(v).map_err(|_| out_of_range())?)
            }
            DataType::Real => {
                let v = parse_float(trimmed).ok_or_else(invalid)?;
                let narrowed = v as f32;
                if narrowed.is_infinite() && !is_infinity_word(trimmed)
                    || narrowed == 0.0 && has_nonzero_mantissa(trimmed)
                {
                    return Err(float_out_of_range());
                }
                Value::Real(narrowed)
            }
            DataType::Double => {
                let v = parse_float(trimmed).ok_or_else(invalid)?;
                // PostgreSQL's float8in rejects overflow to infinity and
                // underflow to zero (strtod's ERANGE) instead of rounding.
                if v.is_infinite() && !is_infinity_word(trimmed)
                    || v == 0.0 && has_nonzero_mantissa(trimmed)
                {
                    return Err(float_out_of_range());
                }
                Value::Double(v)
            }
            DataType::Text => Value::Text(text.into()),
            DataType::Varchar(limit) => Value::Text(check_varchar(text, limit)?.into()),
            DataType::Char(length) => Value::Text(pad_char(text, length, false)?.into()),
            DataType::Numeric(modifier) => {
                let value: Numeric = text.parse()?;
                Value::Numeric(match modifier {
                    Some(modifier) => modifier.apply(&value)?,
                    None => value,
                })
            }
            DataType::Date => {
                Value::Date(
                    datetime::input::parse(text, datetime::Target::Date, &context())? as i32,
                )
            }
            DataType::Time(precision) => Value::Time(datetime::round_time(
                datetime::input::parse(text, datetime::Target::Time, &context())?,
                precision,
            )),
            DataType::Timestamp(precision) => Value::Timestamp(datetime::round_timestamp(
                datetime::input::parse(text, datetime::Target::Timestamp, &context())?,
                precision,
            )?),
            DataType::Timestamptz(precision) => Value::Timestamptz(datetime::round_timestamp(
                datetime::input::parse(text, datetime::Target::Timestamptz, &context())?,
                precision,
            )?),
            DataType::Interval(precision) => Value::Interval(
                datetime::interval::parse_interval(text, None)?
                    .restrict(None, precision.map(u32::from)),
            ),
        })
    }

    /// Total order used by ORDER BY, grouping and keys: NULL sorts last (as
    /// in PostgreSQL's default ascending order), numbers compare by value
    /// across integer and float types, NaN is greater than every number.
    #[inline]
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        match (self, other) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Null, _) => Ordering::Greater,
            (_, Value::Null) => Ordering::Less,
            (Value::Boolean(a), Value::Boolean(b)) => a.cmp(b),
            (Value::Text(a), Value::Text(b)) => a.cmp(b),
            // The common cases of join and group keys, first.
            (Value::Integer(a), Value::Integer(b)) => a.cmp(b),
            (Value::BigInt(a), Value::BigInt(b)) => a.cmp(b),
            (Value::Numeric(a), Value::Numeric(b)) => a.total_cmp(b),
            (Value::Date(a), Value::Date(b)) => a.cmp(b),
            (Value::Time(a), Value::Time(b)) => a.cmp(b),
            (Value::Timestamp(a), Value::Timestamp(b)) => a.cmp(b),
            (Value::Timestamptz(a), Value::Timestamptz(b)) => a.cmp(b),
            (Value::Interval(a), Value::Interval(b)) => a.total_cmp(b),
            // A date is its midnight (mixed types are cast when bound;
            // these keep the order total for keys built from literals).
            (Value::Date(a), Value::Timestamp(b)) => {
                datetime::functions::date_to_timestamp_saturating(*a).cmp(b)
            }
            (Value::Timestamp(a), Value::Date(b)) => {
                a.cmp(&datetime::functions::date_to_timestamp_saturating(*b))
            }
            // An integer and a numeric compare exactly.
            (Value::Numeric(a), b) if b.as_i64().is_some() => {
                a.total_cmp(&Numeric::from_i64(b.as_i64().expect("invariant: checked")))
            }
            (a, Value::Numeric(b)) if a.as_i64().is_some() => {
                Numeric::from_i64(a.as_i64().expect("invariant: checked")).total_cmp(b)
            }
            (a, b) => match (a.as_i64(), b.as_i64()) {
                (Some(x), Some(y)) => x.cmp(&y),
                _ => match (a.as_f64(), b.as_f64()) {
                    (Some(x), Some(y)) => compare_floats(x, y),
                    // Mixed non-comparable kinds never meet after binding;
                    // order them by kind to stay total.
                    _ => a.kind_rank().cmp(&b.kind_rank()),
                },
            },
        }
    }

    fn kind_rank(&self) -> u8 {
        match self {
            Value::Boolean(_) => 0,
            Value::SmallInt(_)
            | Value::Integer(_)
            | Value::BigInt(_)
            | Value::Real(_)
            | Value::Double(_)
            | Value::Numeric(_) => 1,
            Value::Text(_) => 2,
            Value::Date(_) | Value::Timestamp(_) => 3,
            Value::Timestamptz(_) => 4,
            Value::Time(_) => 5,
            Value::Interval(_) => 6,
            Value::Null => 7,
        }
    }
}

/// Equality consistent with [`Value::total_cmp`] (so NULL == NULL here; SQL
/// three-valued equality lives in the evaluator).
impl PartialEq for Value {
    #[inline]
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            // The common cases of join and group keys, without ordering.
            (Value::Integer(a), Value::Integer(b)) => a == b,
            (Value::BigInt(a), Value::BigInt(b)) => a == b,
            (Value::Text(a), Value::Text(b)) => a == b,
            _ => self.total_cmp(other) == Ordering::Equal,
        }
    }
}

impl Eq for Value {}

impl std::hash::Hash for Value {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Hash must agree with total_cmp equality: integers and integral
        // floats that compare equal must hash equally.
        match self {
            Value::Null => 0u8.hash(state),
            Value::Boolean(b) => b.hash(state),
            Value::Text(s) => s.hash(state),
            // A date hashes as its midnight, which it equals.
            Value::Date(v) => datetime::functions::date_to_timestamp_saturating(*v).hash(state),
            Value::Timestamp(v) => v.hash(state),
            Value::Timestamptz(v) => (1u8, v).hash(state),
            Value::Time(v) => (2u8, v).hash(state),
            Value::Interval(v) => v.span().hash(state),
            // An integral numeric hashes as the integer it equals.
            Value::Numeric(v) => match v.as_exact_i64() {
                Some(integer) => Value::BigInt(integer).hash(state),
                None => v.hash(state),
            },
            other => {
                let f = other.as_f64().unwrap_or(0.0);
                if f.is_nan() {
                    u64::MAX.hash(state)
                } else if f == 0.0 {
                    0u64.hash(state)
                } else {
                    f.to_bits().hash(state)
                }
            }
        }
    }
}

/// PostgreSQL's float ordering: NaN equals NaN and is above everything.
pub fn compare_floats(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a
            .partial_cmp(&b)
            .expect("invariant: non-NaN floats are ordered"),
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    let lower = text.to_ascii_lowercase();
    match lower.as_str() {
        "1" => return Some(true),
        "0" => return Some(false),
        // As in PostgreSQL's parse_bool: "o" alone is ambiguous, so on/off
        // need two letters ("of" is off).
        "on" => return Some(true),
        "of" | "off" => return Some(false),
        "" => return None,
        _ => {}
    }
    // PostgreSQL accepts any prefix of true/false/yes/no, even one letter.
    if "true".starts_with(&lower) || "yes".starts_with(&lower) {
        Some(true)
    } else if "false".starts_with(&lower) || "no".starts_with(&lower) {
        Some(false)
    } else {
        None
    }
}

/// Parses an integer literal as i128 so the caller can report range errors.
fn parse_integer(text: &str) -> Option<i128> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    // PostgreSQL 15 takes plain digits only (underscore separators came in 16).
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut value: i128 = 0;
    for b in digits.bytes() {
        value = value.checked_mul(10)?.checked_add((b - b'0') as i128)?;
        if value > i64::MAX as i128 + 1 {
            // Beyond any supported range; keep it representable for the error.
            return Some(if negative { i128::MIN } else { i128::MAX });
        }
    }
    Some(if negative { -value } else { value })
}

fn parse_float(text: &str) -> Option<f64> {
    let lower = text.to_ascii_lowercase();
    match lower.as_str() {
        "nan" => return Some(f64::NAN),
        "infinity" | "+infinity" | "inf" | "+inf" => return Some(f64::INFINITY),
        "-infinity" | "-inf" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    // Rust accepts "inf"/"nan" spellings handled above; reject other words.
    if lower.is_empty() || lower.chars().any(|c| c.is_ascii_alphabetic() && c != 'e') {
        return None;
    }
    lower.parse::<f64>().ok()
}

/// Whether float input spells infinity itself (as opposed to overflowing).
fn is_infinity_word(text: &str) -> bool {
    text.to_ascii_lowercase().contains("inf")
}

/// Whether the mantissa of a decimal float input has a nonzero digit, i.e.
/// a parsed zero is an underflow rather than an exact zero.
fn has_nonzero_mantissa(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    let mantissa = lower.split('e').next().unwrap_or_default();
    mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b))
}

/// Checks a string against `varchar(n)`: PostgreSQL raises 22001 unless the
/// excess characters are all spaces, which are silently cut.
pub fn check_varchar(text: &str, limit: Option<u32>) -> Result<&str> {
    let Some(limit) = limit else { return Ok(text) };
    let limit = limit as usize;
    match text.char_indices().nth(limit) {
        None => Ok(text),
        Some((cut, _)) => {
            if text[cut..].chars().all(|c| c == ' ') {
                Ok(&text[..cut])
            } else {
                Err(Error::sql(
                    SqlState::STRING_DATA_RIGHT_TRUNCATION,
                    format!("value too long for type character varying({limit})"),
                ))
            }
        }
    }
}

/// A string as `char(n)` holds it: padded with spaces to `n` characters.
/// Longer input raises 22001 unless the excess is spaces (cut), or, for an
/// explicit cast, is cut whatever it holds.
pub fn pad_char(text: &str, length: u32, explicit: bool) -> Result<String> {
    let length = length as usize;
    let count = text.chars().count();
    if count <= length {
        let mut padded = String::with_capacity(text.len() + length - count);
        padded.push_str(text);
        padded.extend(std::iter::repeat_n(' ', length - count));
        return Ok(padded);
    }
    let cut = text
        .char_indices()
        .nth(length)
        .map_or(text.len(), |(index, _)| index);
    if !explicit && !text[cut..].chars().all(|c| c == ' ') {
        return Err(Error::sql(
            SqlState::STRING_DATA_RIGHT_TRUNCATION,
            format!("value too long for type character({length})"),
        ));
    }
    Ok(text[..cut].to_string())
}

/// Formats a float like PostgreSQL's shortest-exact output. `scientific` is
/// Rust's `{:e}` rendering (shortest round-trip digits), e.g. `1.25e-7`.
fn format_float(value: f64, scientific: String, precision: i32) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("invariant: {:e} output contains an exponent");
    let exponent: i32 = exponent
        .parse()
        .expect("invariant: {:e} exponent is an integer");
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if negative { "-" } else { "" };
    if exponent < -4 || exponent >= precision {
        let mut out = String::from(sign);
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        out.push_str(&format!("e{}{:02}", exp_sign, exponent.abs()));
        out
    } else if exponent < 0 {
        format!(
            "{}0.{}{}",
            sign,
            "0".repeat((-exponent - 1) as usize),
            digits
        )
    } else {
        let int_len = exponent as usize + 1;
        if digits.len() <= int_len {
            format!("{}{}{}", sign, digits, "0".repeat(int_len - digits.len()))
        } else {
            format!("{}{}.{}", sign, &digits[..int_len], &digits[int_len..])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_output_matches_postgres() {
        let cases: &[(f64, &str)] = &[
            (0.1, "0.1"),
            (1e15, "1e+15"),
            (123456789012345.0, "123456789012345"),
            (1.5e-7, "1.5e-07"),
            (0.0001, "0.0001"),
            (-2.5, "-2.5"),
            (100.0, "100"),
            (f64::INFINITY, "Infinity"),
            (1.0 / 3.0, "0.3333333333333333"),
        ];
        for (value, expected) in cases {
            assert_eq!(
                Value::Double(*value).to_text().unwrap(),
                *expected,
                "{value}"
            );
        }
        assert_eq!(Value::Real(1e6).to_text().unwrap(), "1e+06");
        assert_eq!(Value::Real(100000.0).to_text().unwrap(), "100000");
        assert_eq!(Value::Real(0.1).to_text().unwrap(), "0.1");
    }

    #[test]
    fn parse_inputs() {
        assert!(matches!(
            Value::parse(DataType::Integer, " 42 ").unwrap(),
            Value::Integer(42)
        ));
        assert_eq!(
            Value::parse(DataType::SmallInt, "40000")
                .unwrap_err()
                .sqlstate(),
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE
        );
        assert_eq!(
            Value::parse(DataType::Integer, "4x")
                .unwrap_err()
                .sqlstate(),
            SqlState::INVALID_TEXT_REPRESENTATION
        );
        assert!(matches!(
            Value::parse(DataType::Boolean, "yes").unwrap(),
            Value::Boolean(true)
        ));
        // PostgreSQL: "of" is off; "o" alone is ambiguous.
        assert!(matches!(
            Value::parse(DataType::Boolean, "of").unwrap(),
            Value::Boolean(false)
        ));
        assert!(matches!(
            Value::parse(DataType::Boolean, "o").unwrap_err(),
            Error::Sql { .. }
        ));
        assert!(
            matches!(Value::parse(DataType::Double, "1e3").unwrap(), Value::Double(v) if v == 1000.0)
        );
        assert_eq!(
            Value::parse(DataType::Varchar(Some(2)), "abc")
                .unwrap_err()
                .sqlstate(),
            SqlState::STRING_DATA_RIGHT_TRUNCATION
        );
        assert_eq!(
            Value::parse(DataType::Varchar(Some(2)), "ab  ").unwrap(),
            Value::Text("ab".into())
        );
    }

    #[test]
    fn ordering_puts_null_last_and_compares_across_numeric_types() {
        assert_eq!(Value::Null.total_cmp(&Value::Integer(1)), Ordering::Greater);
        assert_eq!(
            Value::Integer(2).total_cmp(&Value::Double(2.5)),
            Ordering::Less
        );
        assert_eq!(Value::BigInt(3), Value::SmallInt(3));
        assert_eq!(
            Value::Double(f64::NAN).total_cmp(&Value::Double(1e300)),
            Ordering::Greater
        );
    }
}
