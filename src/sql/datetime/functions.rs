//! Calendar arithmetic and the date/time functions: adding intervals,
//! subtracting timestamps, `extract`/`date_part`, `date_trunc`, `age` and
//! the `make_*` constructors, each with PostgreSQL's results and errors.
//!
//! Adding an interval applies its parts in order, months, then days, then
//! microseconds. Months move the calendar month and clamp the day to the
//! new month's length (January 31st + 1 month is February 29th in 2024);
//! for `timestamptz` the months and days move the wall clock in the
//! session zone, so `+ 1 day` across a daylight-saving change keeps the
//! time of day, while the microseconds move the instant.

use super::calendar::{
    Fields, date_to_julian, day_of_week, days_in_month, is_valid_date, iso_week, julian_to_date,
};
use super::interval::Interval;
use super::zone::Zone;
use super::{
    MICROSECONDS_PER_DAY, MICROSECONDS_PER_HOUR, MICROSECONDS_PER_MINUTE, MICROSECONDS_PER_SECOND,
    POSTGRES_EPOCH_JULIAN, UNIX_EPOCH_JULIAN, is_infinite_date, is_infinite_timestamp,
    timestamp_in_range,
};
use crate::error::{Error, Result, SqlState};
use crate::sql::numeric::Numeric;

pub fn timestamp_out_of_range() -> Error {
    Error::sql(SqlState::DATETIME_FIELD_OVERFLOW, "timestamp out of range")
}

pub fn date_out_of_range() -> Error {
    Error::sql(SqlState::DATETIME_FIELD_OVERFLOW, "date out of range")
}

fn checked_timestamp(value: Option<i64>) -> Result<i64> {
    value
        .filter(|value| timestamp_in_range(*value))
        .ok_or_else(timestamp_out_of_range)
}

/// Moves wall-clock microseconds by months and then days.
fn add_months_and_days(local: i64, months: i32, days: i32) -> Result<i64> {
    let mut fields = Fields::from_microseconds(local);
    if months != 0 {
        let month_index = fields.year * 12 + fields.month - 1 + months as i64;
        fields.year = month_index.div_euclid(12);
        fields.month = month_index.rem_euclid(12) + 1;
        fields.day = fields.day.min(days_in_month(fields.year, fields.month));
    }
    let moved = fields
        .to_microseconds()
        .ok_or_else(timestamp_out_of_range)?;
    checked_timestamp(moved.checked_add(days as i64 * MICROSECONDS_PER_DAY))
}

/// `timestamp + interval`.
pub fn timestamp_plus_interval(timestamp: i64, interval: &Interval) -> Result<i64> {
    if is_infinite_timestamp(timestamp) {
        return Ok(timestamp);
    }
    let moved = add_months_and_days(timestamp, interval.months, interval.days)?;
    checked_timestamp(moved.checked_add(interval.microseconds))
}

/// `timestamptz + interval`, months and days on the wall clock of `zone`.
pub fn timestamptz_plus_interval(instant: i64, interval: &Interval, zone: &Zone) -> Result<i64> {
    if is_infinite_timestamp(instant) {
        return Ok(instant);
    }
    let mut moved = instant;
    if interval.months != 0 || interval.days != 0 {
        let local = zone.utc_to_local(instant).0;
        let local = add_months_and_days(local, interval.months, interval.days)?;
        moved = zone.local_to_utc(local);
    }
    checked_timestamp(moved.checked_add(interval.microseconds))
}

/// `timestamp - timestamp`: days and time, as `justify_hours` leaves them.
pub fn timestamp_difference(left: i64, right: i64) -> Result<Interval> {
    if is_infinite_timestamp(left) || is_infinite_timestamp(right) {
        return Err(Error::sql(
            SqlState::DATETIME_FIELD_OVERFLOW,
            "cannot subtract infinite timestamps",
        ));
    }
    let difference = left
        .checked_sub(right)
        .ok_or_else(|| Error::sql(SqlState::DATETIME_FIELD_OVERFLOW, "interval out of range"))?;
    Interval::new(0, 0, difference).justify_hours()
}

/// `date + integer`.
pub fn date_plus_days(date: i32, days: i64) -> Result<i32> {
    if is_infinite_date(date) {
        return Ok(date);
    }
    let julian = date as i64 + days + POSTGRES_EPOCH_JULIAN;
    if !super::calendar::julian_in_date_range(julian) {
        return Err(date_out_of_range());
    }
    Ok((julian - POSTGRES_EPOCH_JULIAN) as i32)
}

/// `date - date`: days.
pub fn date_difference(left: i32, right: i32) -> Result<i32> {
    if is_infinite_date(left) || is_infinite_date(right) {
        return Err(Error::sql(
            SqlState::DATETIME_FIELD_OVERFLOW,
            "cannot subtract infinite dates",
        ));
    }
    Ok(left - right)
}

/// `date::timestamp`: midnight.
pub fn date_to_timestamp(date: i32) -> Result<i64> {
    Ok(match date {
        super::DATE_INFINITY => super::TIMESTAMP_INFINITY,
        super::DATE_NEGATIVE_INFINITY => super::TIMESTAMP_NEGATIVE_INFINITY,
        _ => {
            let julian = date as i64 + POSTGRES_EPOCH_JULIAN;
            if julian >= super::TIMESTAMP_END_JULIAN {
                return Err(Error::sql(
                    SqlState::DATETIME_FIELD_OVERFLOW,
                    "date out of range for timestamp",
                ));
            }
            date as i64 * MICROSECONDS_PER_DAY
        }
    })
}

/// `timestamp::date`: the calendar day.
pub fn timestamp_to_date(timestamp: i64) -> i32 {
    match timestamp {
        super::TIMESTAMP_INFINITY => super::DATE_INFINITY,
        super::TIMESTAMP_NEGATIVE_INFINITY => super::DATE_NEGATIVE_INFINITY,
        _ => timestamp.div_euclid(MICROSECONDS_PER_DAY) as i32,
    }
}

/// `timestamp::timestamptz`: the wall clock read in `zone`.
pub fn timestamp_to_timestamptz(timestamp: i64, zone: &Zone) -> Result<i64> {
    if is_infinite_timestamp(timestamp) {
        return Ok(timestamp);
    }
    checked_timestamp(Some(zone.local_to_utc(timestamp)))
}

/// `timestamptz::timestamp`: the wall clock in `zone`.
pub fn timestamptz_to_timestamp(instant: i64, zone: &Zone) -> Result<i64> {
    if is_infinite_timestamp(instant) {
        return Ok(instant);
    }
    checked_timestamp(Some(zone.utc_to_local(instant).0))
}

/// What a date/time value `extract` reads from.
#[derive(Clone, Copy, Debug)]
pub enum Source<'a> {
    Date(i32),
    Time(i64),
    Timestamp(i64),
    /// An instant and the zone its fields are read in.
    Timestamptz(i64, &'a Zone),
    Interval(&'a Interval),
}

impl Source<'_> {
    fn type_name(&self) -> &'static str {
        match self {
            Source::Date(_) => "date",
            Source::Time(_) => "time without time zone",
            Source::Timestamp(_) => "timestamp without time zone",
            Source::Timestamptz(..) => "timestamp with time zone",
            Source::Interval(_) => "interval",
        }
    }
}

/// One extracted field, before it becomes numeric (`extract`) or double
/// precision (`date_part`), which PostgreSQL computes differently.
#[derive(Clone, Copy, Debug)]
enum Part {
    Integer(i64),
    /// `seconds + microseconds / 10^6`, shown with `scale` digits
    /// (second: 6, millisecond: 3 after multiplying by 1000).
    Seconds {
        microseconds: i64,
        scale: u32,
    },
    /// Julian day plus the fraction of the day.
    Julian {
        day: i64,
        microseconds: i64,
    },
    /// Interval epoch: whole seconds of the months and days, and the time.
    IntervalEpoch {
        seconds: i64,
        microseconds: i64,
        interval: Interval,
    },
    Infinite {
        negative: bool,
    },
    Null,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Microseconds,
    Milliseconds,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
    Decade,
    Century,
    Millennium,
    Julian,
    IsoYear,
    DayOfWeek,
    IsoDayOfWeek,
    DayOfYear,
    Epoch,
    Timezone,
    TimezoneHour,
    TimezoneMinute,
}

fn unit(name: &str) -> Option<Unit> {
    Some(match name.to_ascii_lowercase().as_str() {
        "microseconds" | "microsecond" | "us" | "usec" | "usecs" | "useconds" => Unit::Microseconds,
        "milliseconds" | "millisecond" | "ms" | "msec" | "msecs" | "mseconds" => Unit::Milliseconds,
        "second" | "seconds" | "s" | "sec" | "secs" => Unit::Second,
        "minute" | "minutes" | "m" | "min" | "mins" => Unit::Minute,
        "hour" | "hours" | "h" | "hr" | "hrs" => Unit::Hour,
        "day" | "days" | "d" => Unit::Day,
        "week" | "weeks" | "w" => Unit::Week,
        "month" | "months" | "mon" | "mons" => Unit::Month,
        "quarter" | "qtr" => Unit::Quarter,
        "year" | "years" | "y" | "yr" | "yrs" => Unit::Year,
        "decade" | "decades" | "dec" | "decs" => Unit::Decade,
        "century" | "centuries" | "c" | "cent" => Unit::Century,
        "millennium" | "millennia" | "mil" | "mils" => Unit::Millennium,
        "julian" | "j" => Unit::Julian,
        "isoyear" => Unit::IsoYear,
        "dow" => Unit::DayOfWeek,
        "isodow" => Unit::IsoDayOfWeek,
        "doy" => Unit::DayOfYear,
        "epoch" => Unit::Epoch,
        "timezone" => Unit::Timezone,
        "timezone_h" => Unit::TimezoneHour,
        "timezone_m" => Unit::TimezoneMinute,
        "timezone_hour" => Unit::TimezoneHour,
        "timezone_minute" => Unit::TimezoneMinute,
        _ => return None,
    })
}

fn not_recognized(name: &str, source: &Source) -> Error {
    Error::sql(
        SqlState::INVALID_PARAMETER_VALUE,
        format!(
            "unit \"{}\" not recognized for type {}",
            name.to_ascii_lowercase(),
            source.type_name()
        ),
    )
}

fn not_supported(name: &str, source: &Source) -> Error {
    Error::sql(
        SqlState::FEATURE_NOT_SUPPORTED,
        format!(
            "unit \"{}\" not supported for type {}",
            name.to_ascii_lowercase(),
            source.type_name()
        ),
    )
}

/// Astronomical year as PostgreSQL reports it (there is no year 0).
fn reported_year(year: i64) -> i64 {
    if year > 0 { year } else { year - 1 }
}

fn decade(year: i64) -> i64 {
    if year >= 0 {
        year / 10
    } else {
        -((8 - (year - 1)) / 10)
    }
}

fn century(year: i64) -> i64 {
    if year > 0 {
        (year + 99) / 100
    } else {
        -((99 - (year - 1)) / 100)
    }
}

fn millennium(year: i64) -> i64 {
    if year > 0 {
        (year + 999) / 1000
    } else {
        -((999 - (year - 1)) / 1000)
    }
}

fn extract_part(name: &str, source: &Source) -> Result<Part> {
    let unit = unit(name).ok_or_else(|| not_recognized(name, source))?;
    let unsupported = || Err(not_supported(name, source));
    // Infinite inputs: monotonic fields are infinite, the others NULL.
    let infinite = |negative: bool| -> Result<Part> {
        Ok(match unit {
            Unit::Year
            | Unit::Decade
            | Unit::Century
            | Unit::Millennium
            | Unit::Julian
            | Unit::IsoYear
            | Unit::Epoch => Part::Infinite { negative },
            _ => Part::Null,
        })
    };
    let (fields, offset) = match *source {
        Source::Interval(interval) => return interval_part(unit, interval, name, source),
        Source::Time(time) => {
            let (hour, minute, second, microsecond) = super::calendar::split_time(time);
            return Ok(match unit {
                Unit::Microseconds => Part::Integer(second * 1_000_000 + microsecond),
                Unit::Milliseconds => Part::Seconds {
                    microseconds: (second * 1_000_000 + microsecond) * 1000,
                    scale: 3,
                },
                Unit::Second => Part::Seconds {
                    microseconds: second * 1_000_000 + microsecond,
                    scale: 6,
                },
                Unit::Minute => Part::Integer(minute),
                Unit::Hour => Part::Integer(hour),
                Unit::Epoch => Part::Seconds {
                    microseconds: time,
                    scale: 6,
                },
                _ => return unsupported(),
            });
        }
        Source::Date(date) => {
            if is_infinite_date(date) {
                if matches!(
                    unit,
                    Unit::Microseconds
                        | Unit::Milliseconds
                        | Unit::Second
                        | Unit::Minute
                        | Unit::Hour
                        | Unit::Timezone
                        | Unit::TimezoneHour
                        | Unit::TimezoneMinute
                ) {
                    return unsupported();
                }
                return infinite(date < 0);
            }
            let julian = date as i64 + POSTGRES_EPOCH_JULIAN;
            match unit {
                Unit::Microseconds
                | Unit::Milliseconds
                | Unit::Second
                | Unit::Minute
                | Unit::Hour
                | Unit::Timezone
                | Unit::TimezoneHour
                | Unit::TimezoneMinute => return unsupported(),
                Unit::Epoch => {
                    return Ok(Part::Integer((julian - UNIX_EPOCH_JULIAN) * 86_400));
                }
                Unit::Julian => return Ok(Part::Integer(julian)),
                _ => (
                    Fields::from_microseconds(date as i64 * MICROSECONDS_PER_DAY),
                    None,
                ),
            }
        }
        Source::Timestamp(timestamp) => {
            if is_infinite_timestamp(timestamp) {
                if matches!(
                    unit,
                    Unit::Timezone | Unit::TimezoneHour | Unit::TimezoneMinute
                ) {
                    return unsupported();
                }
                return infinite(timestamp < 0);
            }
            if unit == Unit::Epoch {
                let unix =
                    timestamp - (UNIX_EPOCH_JULIAN - POSTGRES_EPOCH_JULIAN) * MICROSECONDS_PER_DAY;
                return Ok(Part::Seconds {
                    microseconds: unix,
                    scale: 6,
                });
            }
            (Fields::from_microseconds(timestamp), None)
        }
        Source::Timestamptz(instant, zone) => {
            if is_infinite_timestamp(instant) {
                return infinite(instant < 0);
            }
            if unit == Unit::Epoch {
                let unix =
                    instant - (UNIX_EPOCH_JULIAN - POSTGRES_EPOCH_JULIAN) * MICROSECONDS_PER_DAY;
                return Ok(Part::Seconds {
                    microseconds: unix,
                    scale: 6,
                });
            }
            let (local, offset) = zone.utc_to_local(instant);
            (Fields::from_microseconds(local), Some(offset as i64))
        }
    };
    let julian = fields.julian();
    let seconds_micros = fields.second * 1_000_000 + fields.microsecond;
    Ok(Part::Integer(match unit {
        Unit::Microseconds => seconds_micros,
        Unit::Milliseconds => {
            return Ok(Part::Seconds {
                microseconds: seconds_micros * 1000,
                scale: 3,
            });
        }
        Unit::Second => {
            return Ok(Part::Seconds {
                microseconds: seconds_micros,
                scale: 6,
            });
        }
        Unit::Minute => fields.minute,
        Unit::Hour => fields.hour,
        Unit::Day => fields.day,
        Unit::Week => iso_week(fields.year, fields.month, fields.day).1,
        Unit::Month => fields.month,
        Unit::Quarter => (fields.month - 1) / 3 + 1,
        Unit::Year => reported_year(fields.year),
        Unit::Decade => decade(fields.year),
        Unit::Century => century(fields.year),
        Unit::Millennium => millennium(fields.year),
        Unit::Julian => {
            let time = super::calendar::time_of_day(
                fields.hour,
                fields.minute,
                fields.second,
                fields.microsecond,
            )
            .expect("invariant: a time of day fits");
            return Ok(Part::Julian {
                day: julian,
                microseconds: time,
            });
        }
        Unit::IsoYear => {
            let year = iso_week(fields.year, fields.month, fields.day).0;
            if year <= 0 { year - 1 } else { year }
        }
        Unit::DayOfWeek => day_of_week(julian),
        Unit::IsoDayOfWeek => match day_of_week(julian) {
            0 => 7,
            day => day,
        },
        Unit::DayOfYear => julian - date_to_julian(fields.year, 1, 1) + 1,
        Unit::Epoch => unreachable!("epoch is handled per type"),
        Unit::Timezone | Unit::TimezoneHour | Unit::TimezoneMinute => {
            let Some(offset) = offset else {
                return unsupported();
            };
            match unit {
                Unit::Timezone => offset,
                Unit::TimezoneHour => offset / 3600,
                _ => offset / 60 % 60,
            }
        }
    }))
}

fn interval_part(unit: Unit, interval: &Interval, name: &str, source: &Source) -> Result<Part> {
    let years = interval.months as i64 / 12;
    let months = interval.months as i64 % 12;
    let time = interval.microseconds;
    Ok(Part::Integer(match unit {
        Unit::Microseconds => time % MICROSECONDS_PER_MINUTE,
        Unit::Milliseconds => {
            return Ok(Part::Seconds {
                microseconds: time % MICROSECONDS_PER_MINUTE * 1000,
                scale: 3,
            });
        }
        Unit::Second => {
            return Ok(Part::Seconds {
                microseconds: time % MICROSECONDS_PER_MINUTE,
                scale: 6,
            });
        }
        Unit::Minute => time / MICROSECONDS_PER_MINUTE % 60,
        Unit::Hour => time / MICROSECONDS_PER_HOUR,
        Unit::Day => interval.days as i64,
        Unit::Month => months,
        Unit::Quarter => months / 3 + 1,
        Unit::Year => years,
        Unit::Decade => years / 10,
        Unit::Century => years / 100,
        Unit::Millennium => years / 1000,
        Unit::Epoch => {
            // A year is 365.25 days here, a month 30.
            let seconds = 31_557_600 * years + (30 * months + interval.days as i64) * 86_400;
            return Ok(Part::IntervalEpoch {
                seconds,
                microseconds: time,
                interval: *interval,
            });
        }
        _ => return Err(not_supported(name, source)),
    }))
}

/// `extract(field FROM value)`: numeric, or NULL.
pub fn extract(name: &str, source: &Source) -> Result<Option<Numeric>> {
    Ok(match extract_part(name, source)? {
        Part::Integer(value) => Some(Numeric::from_i64(value)),
        Part::Seconds {
            microseconds,
            scale,
        } => Some(scaled(microseconds as i128, 6, scale)),
        Part::Julian { day, microseconds } => Some(Numeric::from_i64(day).add(
            &Numeric::from_i64(microseconds).div(&Numeric::from_i64(MICROSECONDS_PER_DAY))?,
        )?),
        Part::IntervalEpoch {
            seconds,
            microseconds,
            ..
        } => Some(scaled(
            seconds as i128 * 1_000_000 + microseconds as i128,
            6,
            6,
        )),
        Part::Infinite { negative } => Some(if negative {
            Numeric::infinity(true)
        } else {
            Numeric::infinity(false)
        }),
        Part::Null => None,
    })
}

/// `value / 10^divisor_digits` shown with `scale` digits, PostgreSQL's
/// `int64_div_fast_to_numeric` (milliseconds pass microseconds × 1000
/// divided by 10^6 at scale 3).
fn scaled(value: i128, divisor_digits: u32, scale: u32) -> Numeric {
    // value / 10^divisor_digits exactly, then shown at `scale` digits:
    // with scale < divisor_digits the division is exact by construction
    // (milliseconds are microseconds × 1000).
    let shift = divisor_digits - scale;
    let coefficient = value / 10i128.pow(shift);
    let digits = coefficient.unsigned_abs().to_string();
    let scale = scale as usize;
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (whole, fraction) = padded.split_at(padded.len() - scale);
    let sign = if coefficient < 0 { "-" } else { "" };
    let text = if scale == 0 {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{fraction}")
    };
    text.parse().expect("invariant: a formatted decimal parses")
}

/// `date_part(field, value)`: double precision, or NULL.
pub fn date_part(name: &str, source: &Source) -> Result<Option<f64>> {
    Ok(match extract_part(name, source)? {
        Part::Integer(value) => Some(value as f64),
        Part::Seconds {
            microseconds,
            scale: 3,
        } => {
            let microseconds = microseconds / 1000;
            Some(
                (microseconds / 1_000_000) as f64 * 1000.0
                    + (microseconds % 1_000_000) as f64 / 1000.0,
            )
        }
        Part::Seconds { microseconds, .. } => Some(match source {
            Source::Timestamp(_) | Source::Timestamptz(..) if unit(name) == Some(Unit::Epoch) => {
                microseconds as f64 / 1_000_000.0
            }
            Source::Time(_) if unit(name) == Some(Unit::Epoch) => microseconds as f64 / 1_000_000.0,
            _ => (microseconds / 1_000_000) as f64 + (microseconds % 1_000_000) as f64 / 1e6,
        }),
        Part::Julian { day, microseconds } => {
            let seconds =
                (microseconds / 1_000_000) as f64 + (microseconds % 1_000_000) as f64 / 1e6;
            Some(day as f64 + seconds / 86_400.0)
        }
        Part::IntervalEpoch { interval, .. } => {
            let years = interval.months / 12;
            let months = interval.months % 12;
            Some(
                interval.microseconds as f64 / 1_000_000.0
                    + 365.25 * 86_400.0 * years as f64
                    + 30.0 * 86_400.0 * months as f64
                    + 86_400.0 * interval.days as f64,
            )
        }
        Part::Infinite { negative } => Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }),
        Part::Null => None,
    })
}

/// Truncates wall-clock fields to `unit`.
fn truncate_fields(fields: &mut Fields, unit: Unit) {
    match unit {
        Unit::Millennium => {
            fields.year = if fields.year > 0 {
                (fields.year + 999) / 1000 * 1000 - 999
            } else {
                -((999 - (fields.year - 1)) / 1000) * 1000 + 1
            };
        }
        Unit::Century => {
            fields.year = if fields.year > 0 {
                (fields.year + 99) / 100 * 100 - 99
            } else {
                -((99 - (fields.year - 1)) / 100) * 100 + 1
            };
        }
        Unit::Decade => {
            fields.year = if fields.year > 0 {
                fields.year / 10 * 10
            } else {
                -((8 - (fields.year - 1)) / 10) * 10
            };
        }
        _ => {}
    }
    let level = match unit {
        Unit::Millennium | Unit::Century | Unit::Decade | Unit::Year => 0,
        Unit::Quarter => {
            fields.month = (fields.month - 1) / 3 * 3 + 1;
            1
        }
        Unit::Month => 1,
        Unit::Day => 2,
        Unit::Hour => 3,
        Unit::Minute => 4,
        Unit::Second => 5,
        Unit::Milliseconds => {
            fields.microsecond = fields.microsecond / 1000 * 1000;
            6
        }
        _ => 6,
    };
    if level < 1 {
        fields.month = 1;
    }
    if level < 2 {
        fields.day = 1;
    }
    if level < 3 {
        fields.hour = 0;
    }
    if level < 4 {
        fields.minute = 0;
    }
    if level < 5 {
        fields.second = 0;
    }
    if level < 6 {
        fields.microsecond = 0;
    }
}

fn truncation_unit(name: &str, source: &Source) -> Result<Unit> {
    let unit = unit(name).ok_or_else(|| not_recognized(name, source))?;
    match unit {
        Unit::Microseconds
        | Unit::Milliseconds
        | Unit::Second
        | Unit::Minute
        | Unit::Hour
        | Unit::Day
        | Unit::Week
        | Unit::Month
        | Unit::Quarter
        | Unit::Year
        | Unit::Decade
        | Unit::Century
        | Unit::Millennium => Ok(unit),
        _ => Err(not_supported(name, source)),
    }
}

/// `date_trunc` of wall-clock microseconds.
fn truncate_local(local: i64, unit: Unit) -> Result<i64> {
    if unit == Unit::Week {
        let day = local.div_euclid(MICROSECONDS_PER_DAY);
        let julian = day + POSTGRES_EPOCH_JULIAN;
        let monday = julian - (day_of_week(julian) + 6) % 7;
        return checked_timestamp(Some(
            (monday - POSTGRES_EPOCH_JULIAN) * MICROSECONDS_PER_DAY,
        ));
    }
    let mut fields = Fields::from_microseconds(local);
    truncate_fields(&mut fields, unit);
    checked_timestamp(fields.to_microseconds())
}

/// `date_trunc(field, timestamp)`.
pub fn truncate_timestamp(name: &str, timestamp: i64) -> Result<i64> {
    let unit = truncation_unit(name, &Source::Timestamp(timestamp))?;
    if is_infinite_timestamp(timestamp) {
        return Ok(timestamp);
    }
    truncate_local(timestamp, unit)
}

/// `date_trunc(field, timestamptz [, zone])`: truncated on the wall
/// clock of `zone`; from a day up, the offset is looked up again.
pub fn truncate_timestamptz(name: &str, instant: i64, zone: &Zone) -> Result<i64> {
    let unit = truncation_unit(name, &Source::Timestamptz(instant, zone))?;
    if is_infinite_timestamp(instant) {
        return Ok(instant);
    }
    let (local, offset) = zone.utc_to_local(instant);
    let truncated = truncate_local(local, unit)?;
    let smaller_than_a_day = matches!(
        unit,
        Unit::Microseconds | Unit::Milliseconds | Unit::Second | Unit::Minute | Unit::Hour
    );
    checked_timestamp(Some(if smaller_than_a_day {
        truncated - offset as i64 * MICROSECONDS_PER_SECOND
    } else {
        zone.local_to_utc(truncated)
    }))
}

/// `date_trunc(field, interval)`.
pub fn truncate_interval(name: &str, interval: &Interval) -> Result<Interval> {
    let source = Source::Interval(interval);
    let unit = unit(name).ok_or_else(|| not_recognized(name, &source))?;
    let years = interval.months / 12;
    let months = interval.months % 12;
    let time = interval.microseconds;
    let whole = |unit_length: i64| time / unit_length * unit_length;
    let result = match unit {
        Unit::Millennium => Interval::new(years / 1000 * 1000 * 12, 0, 0),
        Unit::Century => Interval::new(years / 100 * 100 * 12, 0, 0),
        Unit::Decade => Interval::new(years / 10 * 10 * 12, 0, 0),
        Unit::Year => Interval::new(years * 12, 0, 0),
        Unit::Quarter => Interval::new(years * 12 + months / 3 * 3, 0, 0),
        Unit::Month => Interval::new(interval.months, 0, 0),
        Unit::Day => Interval::new(interval.months, interval.days, 0),
        Unit::Hour => Interval::new(interval.months, interval.days, whole(MICROSECONDS_PER_HOUR)),
        Unit::Minute => Interval::new(
            interval.months,
            interval.days,
            whole(MICROSECONDS_PER_MINUTE),
        ),
        Unit::Second => Interval::new(
            interval.months,
            interval.days,
            whole(MICROSECONDS_PER_SECOND),
        ),
        Unit::Milliseconds => Interval::new(interval.months, interval.days, whole(1000)),
        Unit::Microseconds => *interval,
        _ => return Err(not_supported(name, &source)),
    };
    Ok(result)
}

/// `age(later, earlier)`: a symbolic difference in years, months and days
/// of the two wall clocks, borrowing from the month before the later date.
pub fn age(left: i64, right: i64) -> Result<Interval> {
    if is_infinite_timestamp(left) || is_infinite_timestamp(right) {
        return Err(Error::sql(
            SqlState::DATETIME_FIELD_OVERFLOW,
            "cannot subtract infinite timestamps",
        ));
    }
    let first = Fields::from_microseconds(left);
    let second = Fields::from_microseconds(right);
    let flip = left < right;
    let sign = if flip { -1 } else { 1 };
    let mut microsecond = (first.microsecond - second.microsecond) * sign;
    let mut seconds = (first.second - second.second) * sign;
    let mut minutes = (first.minute - second.minute) * sign;
    let mut hours = (first.hour - second.hour) * sign;
    let mut days = (first.day - second.day) * sign;
    let mut months = (first.month - second.month) * sign;
    let mut years = (first.year - second.year) * sign;
    // A negative field borrows one of the next larger unit.
    let borrow = |lower: &mut i64, higher: &mut i64, size: i64| {
        while *lower < 0 {
            *lower += size;
            *higher -= 1;
        }
    };
    borrow(&mut microsecond, &mut seconds, 1_000_000);
    borrow(&mut seconds, &mut minutes, 60);
    borrow(&mut minutes, &mut hours, 60);
    borrow(&mut hours, &mut days, 24);
    while days < 0 {
        days += if flip {
            days_in_month(first.year, first.month)
        } else {
            days_in_month(second.year, second.month)
        };
        months -= 1;
    }
    borrow(&mut months, &mut years, 12);
    let total_months = (years * 12 + months) * sign;
    let time = ((hours * 60 + minutes) * 60 + seconds) * 1_000_000 + microsecond;
    Ok(Interval::new(
        i32::try_from(total_months)
            .map_err(|_| Error::sql(SqlState::DATETIME_FIELD_OVERFLOW, "interval out of range"))?,
        (days * sign) as i32,
        time * sign,
    ))
}

/// `make_date(year, month, day)`: a negative year is BC.
pub fn make_date(year: i64, month: i64, day: i64) -> Result<i32> {
    let astronomical = if year < 0 { year + 1 } else { year };
    if year == 0 || !is_valid_date(astronomical, month, day) {
        return Err(Error::sql(
            SqlState::DATETIME_FIELD_OVERFLOW,
            format!("date field value out of range: {year}-{month:02}-{day:02}"),
        ));
    }
    let julian = date_to_julian(astronomical, month, day);
    if !super::calendar::julian_in_date_range(julian) {
        return Err(Error::sql(
            SqlState::DATETIME_FIELD_OVERFLOW,
            format!("date out of range: {year}-{month:02}-{day:02}"),
        ));
    }
    Ok((julian - POSTGRES_EPOCH_JULIAN) as i32)
}

/// `make_time(hour, minute, seconds)`.
pub fn make_time(hour: i64, minute: i64, seconds: f64) -> Result<i64> {
    let microseconds = (seconds * 1e6).round_ties_even();
    let valid = (0..=24).contains(&hour)
        && (0..=59).contains(&minute)
        && (0.0..=60.0 * 1e6).contains(&microseconds)
        && !(hour == 24 && (minute > 0 || microseconds > 0.0));
    let total =
        hour * MICROSECONDS_PER_HOUR + minute * MICROSECONDS_PER_MINUTE + microseconds as i64;
    if !valid || total > MICROSECONDS_PER_DAY {
        return Err(Error::sql(
            SqlState::DATETIME_FIELD_OVERFLOW,
            format!(
                "time field value out of range: {hour}:{minute:02}:{}",
                format_seconds(seconds)
            ),
        ));
    }
    Ok(total)
}

fn format_seconds(seconds: f64) -> String {
    let text = crate::sql::types::Value::Double(seconds)
        .to_text()
        .unwrap_or_default();
    if (0.0..10.0).contains(&seconds) {
        format!("0{text}")
    } else {
        text
    }
}

/// `make_timestamp(…)`: wall-clock microseconds.
pub fn make_timestamp(
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    seconds: f64,
) -> Result<i64> {
    let date = make_date(year, month, day)?;
    let time = make_time(hour, minute, seconds)?;
    checked_timestamp(
        (date as i64)
            .checked_mul(MICROSECONDS_PER_DAY)
            .and_then(|midnight| midnight.checked_add(time)),
    )
}

/// The (astronomical) year, month and day of a date.
pub fn date_fields(date: i32) -> (i64, i64, i64) {
    julian_to_date(date as i64 + POSTGRES_EPOCH_JULIAN)
}

/// A date's midnight, infinities kept, for ordering a date against a
/// timestamp (dates past the timestamp range still order above it).
pub fn date_to_timestamp_saturating(date: i32) -> i64 {
    match date {
        super::DATE_INFINITY => super::TIMESTAMP_INFINITY,
        super::DATE_NEGATIVE_INFINITY => super::TIMESTAMP_NEGATIVE_INFINITY,
        _ => (date as i64).saturating_mul(MICROSECONDS_PER_DAY),
    }
}
