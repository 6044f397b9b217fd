//! `interval`: months, days and microseconds, kept apart as PostgreSQL
//! keeps them, because a month and a day have no fixed length: adding
//! `1 mon` to January 31st lands on the last day of February, and adding
//! `1 day` across a daylight-saving change keeps the wall-clock time
//! where `24 hours` does not.
//!
//! Comparison, hashing and keys use one span, months counting 30 days and
//! days 24 hours (`'1 mon' = '30 days'`), PostgreSQL's
//! `interval_cmp_value`.
//!
//! Text input takes PostgreSQL's forms: `1 year 2 mons 3 days 04:05:06.5`,
//! `@ 1 hour ago`, SQL-standard `1-2` and `3 4:05:06`, and ISO 8601
//! `P1Y2M3DT4H5M6S`. Fractions spill into the smaller fields (`1.5 days`
//! is `1 day 12:00:00`, `1.5 months` is `1 mon 15 days`). Output is the
//! `postgres` `IntervalStyle`.

use std::cmp::Ordering;
use std::fmt::Write;

use super::{
    MICROSECONDS_PER_DAY, MICROSECONDS_PER_HOUR, MICROSECONDS_PER_MINUTE, MICROSECONDS_PER_SECOND,
};
use crate::error::{Error, Result, SqlState};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub microseconds: i64,
}

const DAYS_PER_MONTH: i64 = 30;

/// A field of `INTERVAL '…' <field> [TO <field>]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum IntervalField {
    Second,
    Minute,
    Hour,
    Day,
    Month,
    Year,
}

pub fn interval_out_of_range() -> Error {
    Error::sql(SqlState::DATETIME_FIELD_OVERFLOW, "interval out of range")
}

impl Interval {
    pub const fn new(months: i32, days: i32, microseconds: i64) -> Interval {
        Interval {
            months,
            days,
            microseconds,
        }
    }

    /// The single span comparison uses.
    pub fn span(&self) -> i128 {
        (self.months as i128 * DAYS_PER_MONTH as i128 + self.days as i128)
            * MICROSECONDS_PER_DAY as i128
            + self.microseconds as i128
    }

    pub fn total_cmp(&self, other: &Interval) -> Ordering {
        self.span().cmp(&other.span())
    }

    pub fn checked_add(&self, other: &Interval) -> Result<Interval> {
        Ok(Interval {
            months: self
                .months
                .checked_add(other.months)
                .ok_or_else(interval_out_of_range)?,
            days: self
                .days
                .checked_add(other.days)
                .ok_or_else(interval_out_of_range)?,
            microseconds: self
                .microseconds
                .checked_add(other.microseconds)
                .ok_or_else(interval_out_of_range)?,
        })
    }

    pub fn checked_neg(&self) -> Result<Interval> {
        Ok(Interval {
            months: self
                .months
                .checked_neg()
                .ok_or_else(interval_out_of_range)?,
            days: self.days.checked_neg().ok_or_else(interval_out_of_range)?,
            microseconds: self
                .microseconds
                .checked_neg()
                .ok_or_else(interval_out_of_range)?,
        })
    }

    pub fn checked_sub(&self, other: &Interval) -> Result<Interval> {
        self.checked_add(&other.checked_neg()?)
    }

    /// `interval * factor`, fractional months and days cascading down as
    /// PostgreSQL's `interval_mul` does.
    pub fn multiply(&self, factor: f64) -> Result<Interval> {
        self.scale(|field| field * factor)
    }

    /// `interval / divisor`.
    pub fn divide(&self, divisor: f64) -> Result<Interval> {
        if divisor == 0.0 {
            return Err(Error::sql(SqlState::DIVISION_BY_ZERO, "division by zero"));
        }
        self.scale(|field| field / divisor)
    }

    fn scale(&self, apply: impl Fn(f64) -> f64) -> Result<Interval> {
        let to_i32 = |value: f64| -> Result<i32> {
            if value.is_nan() || value < i32::MIN as f64 || value > i32::MAX as f64 {
                return Err(interval_out_of_range());
            }
            Ok(value as i32)
        };
        let round_to_microseconds = |value: f64| (value * 1e6).round_ties_even() / 1e6;
        let scaled_months = apply(self.months as f64);
        let months = to_i32(scaled_months)?;
        let scaled_days = apply(self.days as f64);
        let mut days = to_i32(scaled_days)?;
        let month_remainder_days =
            round_to_microseconds((scaled_months - months as f64) * DAYS_PER_MONTH as f64);
        let mut second_remainder = round_to_microseconds(
            (scaled_days - days as f64 + month_remainder_days - month_remainder_days.trunc())
                * 86_400.0,
        );
        if second_remainder.abs() >= 86_400.0 {
            let whole_days = (second_remainder / 86_400.0).trunc();
            days = days
                .checked_add(whole_days as i32)
                .ok_or_else(interval_out_of_range)?;
            second_remainder -= whole_days * 86_400.0;
        }
        days = days
            .checked_add(month_remainder_days.trunc() as i32)
            .ok_or_else(interval_out_of_range)?;
        let time = (apply(self.microseconds as f64) + second_remainder * 1e6).round_ties_even();
        if time.is_nan() || time < i64::MIN as f64 || time >= i64::MAX as f64 {
            return Err(interval_out_of_range());
        }
        Ok(Interval {
            months,
            days,
            microseconds: time as i64,
        })
    }

    /// Whole days out of the time part (`justify_hours`).
    pub fn justify_hours(&self) -> Result<Interval> {
        let mut days = self
            .days
            .checked_add((self.microseconds / MICROSECONDS_PER_DAY) as i32)
            .ok_or_else(interval_out_of_range)?;
        let mut time = self.microseconds % MICROSECONDS_PER_DAY;
        if days > 0 && time < 0 {
            time += MICROSECONDS_PER_DAY;
            days -= 1;
        } else if days < 0 && time > 0 {
            time -= MICROSECONDS_PER_DAY;
            days += 1;
        }
        Ok(Interval {
            months: self.months,
            days,
            microseconds: time,
        })
    }

    /// Whole months out of the days (`justify_days`).
    pub fn justify_days(&self) -> Result<Interval> {
        let mut months = self
            .months
            .checked_add(self.days / DAYS_PER_MONTH as i32)
            .ok_or_else(interval_out_of_range)?;
        let mut days = self.days % DAYS_PER_MONTH as i32;
        if months > 0 && days < 0 {
            days += DAYS_PER_MONTH as i32;
            months -= 1;
        } else if months < 0 && days > 0 {
            days -= DAYS_PER_MONTH as i32;
            months += 1;
        }
        Ok(Interval {
            months,
            days,
            microseconds: self.microseconds,
        })
    }

    /// Both, with the signs of all parts made to agree (`justify_interval`).
    pub fn justify(&self) -> Result<Interval> {
        let mut months = self
            .months
            .checked_add(self.days / DAYS_PER_MONTH as i32)
            .ok_or_else(interval_out_of_range)?;
        let mut days = self.days % DAYS_PER_MONTH as i32;
        let mut time = self.microseconds;
        let whole_days = time / MICROSECONDS_PER_DAY;
        time -= whole_days * MICROSECONDS_PER_DAY;
        days = days
            .checked_add(whole_days as i32)
            .ok_or_else(interval_out_of_range)?;
        if months > 0 && (days < 0 || (days == 0 && time < 0)) {
            days += DAYS_PER_MONTH as i32;
            months -= 1;
        } else if months < 0 && (days > 0 || (days == 0 && time > 0)) {
            days -= DAYS_PER_MONTH as i32;
            months += 1;
        }
        if days > 0 && time < 0 {
            time += MICROSECONDS_PER_DAY;
            days -= 1;
        } else if days < 0 && time > 0 {
            time -= MICROSECONDS_PER_DAY;
            days += 1;
        }
        Ok(Interval {
            months,
            days,
            microseconds: time,
        })
    }

    /// PostgreSQL's `postgres` style: `1 year 2 mons -3 days +04:05:06.5`.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut is_zero = true;
        let mut is_before = false;
        let mut part = |out: &mut String, value: i64, unit: &str| {
            if value == 0 {
                return;
            }
            write!(
                out,
                "{}{}{} {}{}",
                if is_zero { "" } else { " " },
                if is_before && value > 0 { "+" } else { "" },
                value,
                unit,
                if value != 1 { "s" } else { "" }
            )
            .expect("writing to a String");
            is_before = value < 0;
            is_zero = false;
        };
        let years = self.months / 12;
        let months = self.months % 12;
        part(&mut out, years as i64, "year");
        part(&mut out, months as i64, "mon");
        part(&mut out, self.days as i64, "day");
        if is_zero || self.microseconds != 0 {
            let time = self.microseconds;
            let magnitude = time.unsigned_abs();
            let hours = magnitude / MICROSECONDS_PER_HOUR as u64;
            let minutes = magnitude / MICROSECONDS_PER_MINUTE as u64 % 60;
            let seconds = magnitude / MICROSECONDS_PER_SECOND as u64 % 60;
            let fraction = magnitude % MICROSECONDS_PER_SECOND as u64;
            write!(
                out,
                "{}{}{:02}:{:02}:{:02}",
                if is_zero { "" } else { " " },
                if time < 0 {
                    "-"
                } else if is_before {
                    "+"
                } else {
                    ""
                },
                hours,
                minutes,
                seconds
            )
            .expect("writing to a String");
            super::output::write_fraction(&mut out, fraction as i64);
        }
        out
    }

    /// Keeps only the fields down to `last` and the second's fraction to
    /// `precision` digits, as a typmod does (`INTERVAL '…' HOUR`).
    pub fn restrict(&self, last: Option<IntervalField>, precision: Option<u32>) -> Interval {
        let mut result = *self;
        match last {
            Some(IntervalField::Year) => {
                result.months = self.months / 12 * 12;
                result.days = 0;
                result.microseconds = 0;
            }
            Some(IntervalField::Month) => {
                result.days = 0;
                result.microseconds = 0;
            }
            Some(IntervalField::Day) => result.microseconds = 0,
            Some(IntervalField::Hour) => {
                result.microseconds =
                    self.microseconds / MICROSECONDS_PER_HOUR * MICROSECONDS_PER_HOUR
            }
            Some(IntervalField::Minute) => {
                result.microseconds =
                    self.microseconds / MICROSECONDS_PER_MINUTE * MICROSECONDS_PER_MINUTE
            }
            Some(IntervalField::Second) | None => {}
        }
        if let Some(precision) = precision.filter(|p| *p < 6) {
            result.microseconds = round_microseconds(result.microseconds, precision);
        }
        result
    }
}

/// Rounds microseconds to `precision` fractional digits, half away from zero.
pub fn round_microseconds(microseconds: i64, precision: u32) -> i64 {
    let unit = 10i64.pow(6 - precision.min(6));
    if unit == 1 {
        return microseconds;
    }
    let half = unit / 2;
    if microseconds >= 0 {
        (microseconds.saturating_add(half)) / unit * unit
    } else {
        -((microseconds.saturating_neg().saturating_add(half)) / unit * unit)
    }
}

/// How one unit word adds to an interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Microsecond,
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
    Decade,
    Century,
    Millennium,
}

fn unit(word: &str) -> Option<Unit> {
    Some(match word {
        "us" | "usec" | "usecs" | "useconds" | "usecond" | "microsecond" | "microseconds"
        | "microsecon" => Unit::Microsecond,
        "ms" | "msec" | "msecs" | "mseconds" | "msecond" | "millisecond" | "milliseconds"
        | "millisecon" => Unit::Millisecond,
        "s" | "sec" | "secs" | "second" | "seconds" => Unit::Second,
        "m" | "min" | "mins" | "minute" | "minutes" => Unit::Minute,
        "h" | "hr" | "hrs" | "hour" | "hours" => Unit::Hour,
        "d" | "day" | "days" => Unit::Day,
        "w" | "week" | "weeks" => Unit::Week,
        "mon" | "mons" | "month" | "months" => Unit::Month,
        "y" | "yr" | "yrs" | "year" | "years" => Unit::Year,
        "dec" | "decs" | "decade" | "decades" => Unit::Decade,
        "c" | "cent" | "century" | "centuries" => Unit::Century,
        "mil" | "mils" | "millennia" | "millennium" => Unit::Millennium,
        _ => return None,
    })
}

/// An interval under construction, with room to detect overflow.
#[derive(Default)]
struct Accumulator {
    months: i128,
    days: i128,
    microseconds: i128,
    /// Fractions of a day or month, in microseconds, added at the end.
    seen: Vec<&'static str>,
}

impl Accumulator {
    fn add(&mut self, value: f64, whole: i64, unit: Unit) -> std::result::Result<(), Failure> {
        if i32::try_from(whole).is_err() {
            return Err(Failure::Overflow);
        }
        let fraction = value - whole as f64;
        let whole = whole as i128;
        let day_fraction = |this: &mut Accumulator, days: f64| {
            let whole_days = days.trunc();
            this.days += whole_days as i128;
            this.microseconds +=
                ((days - whole_days) * MICROSECONDS_PER_DAY as f64).round() as i128;
        };
        let months_of_years = |this: &mut Accumulator, years: i128, per: i128| {
            this.months += years * 12 * per;
            this.months += (fraction * 12.0 * per as f64).round() as i128;
        };
        match unit {
            Unit::Microsecond => self.microseconds += (value).round() as i128,
            Unit::Millisecond => self.microseconds += (value * 1000.0).round() as i128,
            Unit::Second => {
                self.microseconds += whole * 1_000_000 + (fraction * 1e6).round() as i128
            }
            Unit::Minute => {
                self.microseconds += whole * MICROSECONDS_PER_MINUTE as i128
                    + (fraction * MICROSECONDS_PER_MINUTE as f64).round() as i128
            }
            Unit::Hour => {
                self.microseconds += whole * MICROSECONDS_PER_HOUR as i128
                    + (fraction * MICROSECONDS_PER_HOUR as f64).round() as i128
            }
            Unit::Day => {
                self.days += whole;
                day_fraction(self, fraction);
            }
            Unit::Week => {
                self.days += whole * 7;
                day_fraction(self, fraction * 7.0);
            }
            Unit::Month => {
                self.months += whole;
                day_fraction(self, fraction * DAYS_PER_MONTH as f64);
            }
            Unit::Year => months_of_years(self, whole, 1),
            Unit::Decade => months_of_years(self, whole, 10),
            Unit::Century => months_of_years(self, whole, 100),
            Unit::Millennium => months_of_years(self, whole, 1000),
        }
        let name = match unit {
            Unit::Microsecond => "microsecond",
            Unit::Millisecond => "millisecond",
            Unit::Second => "second",
            Unit::Minute => "minute",
            Unit::Hour => "hour",
            Unit::Day => "day",
            Unit::Week => "week",
            Unit::Month => "month",
            Unit::Year => "year",
            Unit::Decade => "decade",
            Unit::Century => "century",
            Unit::Millennium => "millennium",
        };
        if self.seen.contains(&name) {
            return Err(Failure::Syntax);
        }
        self.seen.push(name);
        Ok(())
    }

    fn finish(self, negate: bool) -> std::result::Result<Interval, Failure> {
        let sign = if negate { -1 } else { 1 };
        Ok(Interval {
            months: i32::try_from(self.months * sign).map_err(|_| Failure::OutOfRange)?,
            days: i32::try_from(self.days * sign).map_err(|_| Failure::OutOfRange)?,
            microseconds: i64::try_from(self.microseconds * sign)
                .map_err(|_| Failure::OutOfRange)?,
        })
    }
}

enum Failure {
    Syntax,
    /// A field beyond its range (22008).
    Range,
    /// A field's number beyond its range (22015).
    Overflow,
    /// The sum beyond the interval's range (22008).
    OutOfRange,
}

/// Reads interval text. `default_unit` is what a bare number means
/// (seconds, or the last field of `INTERVAL '…' <field>`).
pub fn parse_interval(text: &str, default_unit: Option<IntervalField>) -> Result<Interval> {
    let result = if text.trim_start().starts_with(['P', 'p']) {
        parse_iso(text.trim())
    } else {
        parse_words(text, default_unit)
    };
    result.map_err(|failure| match failure {
        Failure::Syntax => Error::sql(
            SqlState::INVALID_DATETIME_FORMAT,
            format!("invalid input syntax for type interval: \"{text}\""),
        ),
        Failure::Range => Error::sql(
            SqlState::DATETIME_FIELD_OVERFLOW,
            format!("date/time field value out of range: \"{text}\""),
        ),
        Failure::Overflow => Error::sql(
            SqlState::INTERVAL_FIELD_OVERFLOW,
            format!("interval field value out of range: \"{text}\""),
        ),
        Failure::OutOfRange => interval_out_of_range(),
    })
}

fn field_unit(field: IntervalField) -> Unit {
    match field {
        IntervalField::Second => Unit::Second,
        IntervalField::Minute => Unit::Minute,
        IntervalField::Hour => Unit::Hour,
        IntervalField::Day => Unit::Day,
        IntervalField::Month => Unit::Month,
        IntervalField::Year => Unit::Year,
    }
}

/// A signed decimal number: its value and its whole part.
fn number(text: &str) -> std::result::Result<(f64, i64), Failure> {
    let body = text.trim_start_matches(['+', '-']);
    if body.is_empty()
        || text.len() - body.len() > 1
        || !body.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        || body.bytes().filter(|&b| b == b'.').count() > 1
        || body == "."
    {
        return Err(Failure::Syntax);
    }
    let negative = text.starts_with('-');
    let (whole, _) = body.split_once('.').unwrap_or((body, ""));
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| Failure::Overflow)?
    };
    let value: f64 = body.parse().map_err(|_| Failure::Syntax)?;
    Ok(if negative {
        (-value, -whole)
    } else {
        (value, whole)
    })
}

fn parse_words(
    text: &str,
    default_unit: Option<IntervalField>,
) -> std::result::Result<Interval, Failure> {
    // Split into words, numbers and clock times, keeping signs on numbers.
    let mut fields: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        // `1day`, `2hours`: a number glued to its unit.
        let split = word
            .char_indices()
            .find(|(i, c)| {
                *i > 0
                    && c.is_alphabetic()
                    && word[..*i].ends_with(|d: char| d.is_ascii_digit() || d == '.')
            })
            .map(|(i, _)| i);
        match split {
            Some(i) => {
                fields.push(word[..i].to_string());
                fields.push(word[i..].to_lowercase());
            }
            None => fields.push(word.to_lowercase()),
        }
    }
    if fields.is_empty() {
        return Err(Failure::Syntax);
    }
    let mut accumulator = Accumulator::default();
    let mut negate = false;
    let mut index = 0;
    let mut anything = false;
    while index < fields.len() {
        let field = fields[index].as_str();
        index += 1;
        if field == "@" {
            continue;
        }
        if field == "ago" {
            // Only at the end; a second `ago` changes nothing.
            if fields[index..].iter().any(|rest| rest != "ago") {
                return Err(Failure::Syntax);
            }
            negate = true;
            continue;
        }
        anything = true;
        if field.contains(':') {
            add_clock(&mut accumulator, field)?;
            continue;
        }
        let body = field.trim_start_matches(['+', '-']);
        if let Some((years, months)) = body.split_once('-') {
            // SQL-standard year-month: `1-2`.
            let negative = field.starts_with('-');
            let years: i128 = years.parse().map_err(|_| Failure::Syntax)?;
            let months: i128 = months.parse().map_err(|_| Failure::Syntax)?;
            if months > 11 {
                return Err(Failure::Range);
            }
            let total = years * 12 + months;
            accumulator.months += if negative { -total } else { total };
            continue;
        }
        let (value, whole) = number(field)?;
        let next = fields.get(index).map(String::as_str);
        match next.and_then(unit) {
            Some(unit) => {
                index += 1;
                accumulator.add(value, whole, unit)?;
            }
            None if next.is_some_and(|next| next.contains(':')) => {
                // SQL-standard `3 4:05:06`: a day count, then a clock.
                accumulator.add(value, whole, Unit::Day)?;
            }
            None => {
                let unit = field_unit(default_unit.unwrap_or(IntervalField::Second));
                accumulator.add(value, whole, unit)?;
            }
        }
    }
    if !anything {
        return Err(Failure::Syntax);
    }
    accumulator.finish(negate)
}

/// `[-]H:MM[:SS[.ffffff]]` added to the time part.
fn add_clock(accumulator: &mut Accumulator, field: &str) -> std::result::Result<(), Failure> {
    let negative = field.starts_with('-');
    let body = field.trim_start_matches(['+', '-']);
    let parts: Vec<&str> = body.split(':').collect();
    let integer = |text: &str| -> std::result::Result<i128, Failure> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Failure::Syntax);
        }
        text.parse().map_err(|_| Failure::Range)
    };
    let seconds = |text: &str| -> std::result::Result<i128, Failure> {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let whole = integer(whole)?;
        if !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Failure::Syntax);
        }
        let fraction: f64 = format!("0.{fraction}0")
            .parse()
            .map_err(|_| Failure::Syntax)?;
        Ok(whole * 1_000_000 + (fraction * 1e6).round() as i128)
    };
    let (hours, minutes, micros) = match parts.as_slice() {
        [hours, minutes] if minutes.contains('.') => (0, integer(hours)?, seconds(minutes)?),
        [hours, minutes] => (integer(hours)?, integer(minutes)?, 0),
        [hours, minutes, second] => (integer(hours)?, integer(minutes)?, seconds(second)?),
        _ => return Err(Failure::Syntax),
    };
    if minutes > 59 || micros >= 60_000_000 {
        return Err(Failure::Range);
    }
    let total =
        hours * MICROSECONDS_PER_HOUR as i128 + minutes * MICROSECONDS_PER_MINUTE as i128 + micros;
    accumulator.microseconds += if negative { -total } else { total };
    Ok(())
}

/// ISO 8601 durations: `P1Y2M3DT4H5M6.5S`, `P1W`, `PT36H`, and the
/// alternative `P0001-02-03T04:05:06`.
fn parse_iso(text: &str) -> std::result::Result<Interval, Failure> {
    let body = &text[1..];
    if body.is_empty() {
        return Err(Failure::Syntax);
    }
    let mut accumulator = Accumulator::default();
    let mut in_time = false;
    let mut rest = body;
    let has_designators = body.bytes().any(|b| b"YMWDHSymwdhs".contains(&b));
    if !has_designators {
        // The alternative format.
        let (date, time) = body.split_once(['T', 't']).unwrap_or((body, ""));
        let parts: Vec<&str> = date.split('-').collect();
        let names = [Unit::Year, Unit::Month, Unit::Day];
        for (part, unit) in parts.iter().zip(names) {
            let (value, whole) = number(part)?;
            accumulator.add(value, whole, unit)?;
        }
        if !time.is_empty() {
            add_clock(&mut accumulator, time)?;
        }
        return accumulator.finish(false);
    }
    while !rest.is_empty() {
        if rest.starts_with(['T', 't']) {
            if in_time {
                return Err(Failure::Syntax);
            }
            in_time = true;
            rest = &rest[1..];
            continue;
        }
        let end = rest
            .find(|c: char| c.is_ascii_alphabetic())
            .ok_or(Failure::Syntax)?;
        let (value, whole) = number(&rest[..end])?;
        let designator = rest.as_bytes()[end].to_ascii_uppercase();
        let unit = match (designator, in_time) {
            (b'Y', false) => Unit::Year,
            (b'M', false) => Unit::Month,
            (b'W', false) => Unit::Week,
            (b'D', false) => Unit::Day,
            (b'H', true) => Unit::Hour,
            (b'M', true) => Unit::Minute,
            (b'S', true) => Unit::Second,
            _ => return Err(Failure::Syntax),
        };
        accumulator.add(value, whole, unit)?;
        rest = &rest[end + 1..];
    }
    accumulator.finish(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> String {
        match parse_interval(text, None) {
            Ok(interval) => interval.to_text(),
            Err(error) => error.sqlstate().0.to_string(),
        }
    }

    #[test]
    fn postgres_style_input_and_output() {
        assert_eq!(
            round_trip("1 year 2 months 3 days 04:05:06.789"),
            "1 year 2 mons 3 days 04:05:06.789"
        );
        assert_eq!(round_trip("1 day ago"), "-1 days");
        assert_eq!(round_trip("@ 1 hour"), "01:00:00");
        assert_eq!(round_trip("-1 day +2 hours"), "-1 days +02:00:00");
        assert_eq!(round_trip("1.5 days"), "1 day 12:00:00");
        assert_eq!(round_trip("1.5 months"), "1 mon 15 days");
        assert_eq!(round_trip("0.5 years"), "6 mons");
        assert_eq!(
            round_trip("P1Y2M3DT4H5M6S"),
            "1 year 2 mons 3 days 04:05:06"
        );
        assert_eq!(round_trip("1-2"), "1 year 2 mons");
        assert_eq!(round_trip("3 4:05:06"), "3 days 04:05:06");
        assert_eq!(round_trip("100"), "00:01:40");
        assert_eq!(round_trip("0"), "00:00:00");
        assert_eq!(round_trip("-00:00:01"), "-00:00:01");
        assert_eq!(round_trip("1 fortnight"), "22007");
        assert_eq!(round_trip(""), "22007");
    }

    #[test]
    fn months_compare_as_thirty_days() {
        let month = parse_interval("1 mon", None).unwrap();
        let days = parse_interval("30 days", None).unwrap();
        assert_eq!(month.total_cmp(&days), Ordering::Equal);
        assert_eq!(
            parse_interval("1 mon", None)
                .unwrap()
                .multiply(1.5)
                .unwrap()
                .to_text(),
            "1 mon 15 days"
        );
        assert_eq!(
            parse_interval("1 day", None)
                .unwrap()
                .divide(3.0)
                .unwrap()
                .to_text(),
            "08:00:00"
        );
    }
}
