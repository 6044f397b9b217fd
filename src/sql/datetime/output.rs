//! Text output in PostgreSQL's ISO `DateStyle`: `2024-01-15`, `10:30:00.5`,
//! `2024-01-15 10:30:00`, `2024-01-15 10:30:00-05` (the session zone's
//! offset, minutes and seconds only when not zero), with ` BC` after years
//! before 1 AD and `infinity`/`-infinity` by name.

use std::fmt::Write;

use super::calendar::{Fields, julian_to_date, split_time};
use super::zone::Zone;
use super::{DATE_INFINITY, DATE_NEGATIVE_INFINITY, POSTGRES_EPOCH_JULIAN};
use super::{TIMESTAMP_INFINITY, TIMESTAMP_NEGATIVE_INFINITY};

pub fn format_date(days: i32) -> String {
    match days {
        DATE_INFINITY => "infinity".into(),
        DATE_NEGATIVE_INFINITY => "-infinity".into(),
        _ => {
            let (year, month, day) = julian_to_date(days as i64 + POSTGRES_EPOCH_JULIAN);
            let mut out = String::with_capacity(16);
            write_date(&mut out, year, month, day);
            if year <= 0 {
                out.push_str(" BC");
            }
            out
        }
    }
}

fn write_date(out: &mut String, year: i64, month: i64, day: i64) {
    let shown = if year <= 0 { 1 - year } else { year };
    write!(out, "{shown:04}-{month:02}-{day:02}").expect("writing to a String");
}

/// `HH:MM:SS` and the fraction with its trailing zeros cut.
pub fn write_time(out: &mut String, hour: i64, minute: i64, second: i64, microsecond: i64) {
    write!(out, "{hour:02}:{minute:02}:{second:02}").expect("writing to a String");
    write_fraction(out, microsecond);
}

/// `.ffffff` without trailing zeros; nothing for zero.
pub fn write_fraction(out: &mut String, microsecond: i64) {
    if microsecond != 0 {
        let digits = format!("{:06}", microsecond.abs());
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

pub fn format_time(microseconds: i64) -> String {
    let (hour, minute, second, microsecond) = split_time(microseconds);
    let mut out = String::with_capacity(16);
    write_time(&mut out, hour, minute, second, microsecond);
    out
}

pub fn format_timestamp(microseconds: i64) -> String {
    format_local(microseconds, None)
}

pub fn format_timestamptz(microseconds: i64, zone: &Zone) -> String {
    match microseconds {
        TIMESTAMP_INFINITY | TIMESTAMP_NEGATIVE_INFINITY => format_local(microseconds, None),
        _ => {
            let (local, offset) = zone.utc_to_local(microseconds);
            format_local(local, Some(offset))
        }
    }
}

fn format_local(microseconds: i64, offset: Option<i32>) -> String {
    match microseconds {
        TIMESTAMP_INFINITY => return "infinity".into(),
        TIMESTAMP_NEGATIVE_INFINITY => return "-infinity".into(),
        _ => {}
    }
    let fields = Fields::from_microseconds(microseconds);
    let mut out = String::with_capacity(32);
    write_date(&mut out, fields.year, fields.month, fields.day);
    out.push(' ');
    write_time(
        &mut out,
        fields.hour,
        fields.minute,
        fields.second,
        fields.microsecond,
    );
    if let Some(offset) = offset {
        out.push_str(&format_offset(offset));
    }
    if fields.year <= 0 {
        out.push_str(" BC");
    }
    out
}

/// `+05`, `-03:30`, `-04:56:02`: an offset in seconds east.
pub fn format_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let magnitude = seconds.unsigned_abs();
    let (hours, minutes, rest) = (magnitude / 3600, magnitude / 60 % 60, magnitude % 60);
    let mut out = format!("{sign}{hours:02}");
    if minutes != 0 || rest != 0 {
        write!(out, ":{minutes:02}").expect("writing to a String");
    }
    if rest != 0 {
        write!(out, ":{rest:02}").expect("writing to a String");
    }
    out
}
