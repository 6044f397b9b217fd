//! Dates, times, timestamps and intervals, with PostgreSQL's
//! representations, ranges, text formats and time-zone rules.
//!
//! ```text
//!   type          value (as PostgreSQL stores it)                 range
//!   date          i32 days since 2000-01-01                      4714-11-24 BC .. 5874897-12-31
//!   time          i64 microseconds since midnight                00:00 .. 24:00
//!   timestamp     i64 microseconds since 2000-01-01 00:00 (wall) 4714-11-24 BC .. 294276-12-31
//!   timestamptz   i64 microseconds since 2000-01-01 00:00 UTC    the same
//!   interval      i32 months, i32 days, i64 microseconds         (interval.rs)
//! ```
//!
//! Invariants:
//! 1. `infinity` and `-infinity` are the extreme values of the integer
//!    (`i32::MAX`/`MIN` for dates, `i64::MAX`/`MIN` for timestamps), so
//!    they order correctly as plain integers, and every operation checks
//!    for them before doing calendar arithmetic.
//! 2. Every other stored value is inside the type's range; operations that
//!    would leave it fail with 22008 ("date out of range", "timestamp out
//!    of range").
//! 3. A `timestamptz` is an instant: the session's `TimeZone`
//!    ([`TimeContext`]) is used only to read and print it and for
//!    calendar arithmetic, never stored.
//!
//! Deviations from PostgreSQL: only the ISO `DateStyle` is printed (input
//! honours the MDY/DMY field order); time-zone abbreviations in input are
//! a fixed list of the common ones (`zone::abbreviation`), not the
//! configurable `timezone_abbreviations` file; `timetz` is not supported.

pub mod calendar;
pub mod functions;
pub mod input;
pub mod interval;
pub mod output;
pub mod zone;

use std::sync::Arc;

pub use input::Target;
pub use interval::{Interval, IntervalField};
pub use zone::Zone;

pub const MICROSECONDS_PER_SECOND: i64 = 1_000_000;
pub const MICROSECONDS_PER_MINUTE: i64 = 60 * MICROSECONDS_PER_SECOND;
pub const MICROSECONDS_PER_HOUR: i64 = 60 * MICROSECONDS_PER_MINUTE;
pub const MICROSECONDS_PER_DAY: i64 = 24 * MICROSECONDS_PER_HOUR;

/// Julian day of 2000-01-01, PostgreSQL's epoch.
pub const POSTGRES_EPOCH_JULIAN: i64 = 2_451_545;
/// Julian day of 1970-01-01.
pub const UNIX_EPOCH_JULIAN: i64 = 2_440_588;
/// First Julian day past `date`'s range (5874898-01-01).
pub const DATE_END_JULIAN: i64 = 2_147_483_494;
/// First Julian day past the timestamps' range (294277-01-01).
pub const TIMESTAMP_END_JULIAN: i64 = 109_203_528;

pub const DATE_INFINITY: i32 = i32::MAX;
pub const DATE_NEGATIVE_INFINITY: i32 = i32::MIN;
pub const TIMESTAMP_INFINITY: i64 = i64::MAX;
pub const TIMESTAMP_NEGATIVE_INFINITY: i64 = i64::MIN;

/// 4714-11-24 00:00 BC, the first timestamp.
pub const MIN_TIMESTAMP: i64 = -POSTGRES_EPOCH_JULIAN * MICROSECONDS_PER_DAY;
/// 294277-01-01 00:00, just past the last timestamp.
pub const END_TIMESTAMP: i64 =
    (TIMESTAMP_END_JULIAN - POSTGRES_EPOCH_JULIAN) * MICROSECONDS_PER_DAY;

/// Whether a finite timestamp is inside the range.
pub fn timestamp_in_range(value: i64) -> bool {
    (MIN_TIMESTAMP..END_TIMESTAMP).contains(&value)
}

pub fn is_infinite_timestamp(value: i64) -> bool {
    value == TIMESTAMP_INFINITY || value == TIMESTAMP_NEGATIVE_INFINITY
}

pub fn is_infinite_date(value: i32) -> bool {
    value == DATE_INFINITY || value == DATE_NEGATIVE_INFINITY
}

/// What reading, printing and calendar arithmetic of times depend on:
/// the session's zone, the transaction's start (`now()`, `'today'`) and
/// `DateStyle`'s field order.
#[derive(Clone, Debug)]
pub struct TimeContext {
    pub zone: Arc<Zone>,
    /// The transaction's start, microseconds since 2000-01-01 UTC.
    pub now: i64,
    /// The statement's start.
    pub statement: i64,
    /// `DateStyle` says DMY (`1/2/2024` is February 1st).
    pub date_order_dmy: bool,
}

impl TimeContext {
    /// UTC, with `now` as the transaction start.
    pub fn utc(now: i64) -> TimeContext {
        TimeContext {
            zone: Zone::utc(),
            now,
            statement: now,
            date_order_dmy: false,
        }
    }
}

impl Default for TimeContext {
    fn default() -> TimeContext {
        TimeContext::utc(clock_now())
    }
}

/// The wall clock, microseconds since 2000-01-01 UTC.
pub fn clock_now() -> i64 {
    let since_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_micros() as i64)
        .unwrap_or(0);
    since_unix - (POSTGRES_EPOCH_JULIAN - UNIX_EPOCH_JULIAN) * MICROSECONDS_PER_DAY
}

/// A time rounded to `precision` fractional digits (a `time(p)` typmod).
pub fn round_time(time: i64, precision: Option<u8>) -> i64 {
    match precision {
        Some(precision) => interval::round_microseconds(time, precision as u32),
        None => time,
    }
}

/// A timestamp rounded to `precision` fractional digits, half away from
/// zero as PostgreSQL's `AdjustTimestampForTypmod` rounds.
pub fn round_timestamp(timestamp: i64, precision: Option<u8>) -> crate::error::Result<i64> {
    match precision {
        Some(precision) if !is_infinite_timestamp(timestamp) => {
            let rounded = interval::round_microseconds(timestamp, precision as u32);
            if !timestamp_in_range(rounded) {
                return Err(functions::timestamp_out_of_range());
            }
            Ok(rounded)
        }
        _ => Ok(timestamp),
    }
}
