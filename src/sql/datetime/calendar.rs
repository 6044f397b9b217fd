//! The proleptic Gregorian calendar as day numbers, and the split of a
//! microsecond count into wall-clock fields.
//!
//! Days are Julian day numbers (day 0 is 4714-11-24 BC), converted with
//! Fliegel and Van Flandern's integer formulas ("A machine algorithm for
//! processing calendar dates", CACM 11(10), 1968). Years are astronomical
//! inside this module (1 BC is year 0); text input and output translate to
//! and from the BC suffix.

use super::{
    DATE_END_JULIAN, MICROSECONDS_PER_DAY, MICROSECONDS_PER_HOUR, MICROSECONDS_PER_MINUTE,
    MICROSECONDS_PER_SECOND, POSTGRES_EPOCH_JULIAN,
};

/// The Julian day number of a date (astronomical year).
pub fn date_to_julian(year: i64, month: i64, day: i64) -> i64 {
    let a = (14 - month) / 12;
    let y = year + 4800 - a;
    let m = month + 12 * a - 3;
    day + (153 * m + 2) / 5 + 365 * y + y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400)
        - 32045
}

/// The date of a Julian day number: (astronomical year, month, day).
pub fn julian_to_date(julian: i64) -> (i64, i64, i64) {
    let a = julian + 32044;
    let b = (4 * a + 3).div_euclid(146097);
    let c = a - (146097 * b).div_euclid(4);
    let d = (4 * c + 3).div_euclid(1461);
    let e = c - (1461 * d).div_euclid(4);
    let m = (5 * e + 2).div_euclid(153);
    let day = e - (153 * m + 2).div_euclid(5) + 1;
    let month = m + 3 - 12 * (m / 10);
    let year = 100 * b + d - 4800 + m / 10;
    (year, month, day)
}

pub fn is_leap_year(year: i64) -> bool {
    year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0)
}

pub fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Whether a date (astronomical year) is a real calendar date.
pub fn is_valid_date(year: i64, month: i64, day: i64) -> bool {
    (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month)
}

/// Whether a Julian day is inside `date`'s range (4714-11-24 BC to
/// 5874897-12-31).
pub fn julian_in_date_range(julian: i64) -> bool {
    (0..DATE_END_JULIAN).contains(&julian)
}

/// Day of the week, 0 = Sunday.
pub fn day_of_week(julian: i64) -> i64 {
    (julian + 1).rem_euclid(7)
}

/// The ISO 8601 week-numbering year and week of a date.
pub fn iso_week(year: i64, month: i64, day: i64) -> (i64, i64) {
    let julian = date_to_julian(year, month, day);
    // The Monday of week 1 is the Monday on or before January 4th.
    let week_one = |y: i64| {
        let jan4 = date_to_julian(y, 1, 4);
        jan4 - (day_of_week(jan4) + 6) % 7
    };
    let mut iso_year = year;
    let mut start = week_one(year);
    if julian < start {
        iso_year -= 1;
        start = week_one(iso_year);
    } else {
        let next = week_one(year + 1);
        if julian >= next {
            iso_year += 1;
            start = next;
        }
    }
    (iso_year, (julian - start) / 7 + 1)
}

/// Wall-clock fields of a timestamp: date and time of day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fields {
    /// Astronomical year (1 BC is 0).
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    pub microsecond: i64,
}

impl Fields {
    /// The fields of microseconds since 2000-01-01 00:00.
    pub fn from_microseconds(microseconds: i64) -> Fields {
        let days = microseconds.div_euclid(MICROSECONDS_PER_DAY);
        let time = microseconds.rem_euclid(MICROSECONDS_PER_DAY);
        let (year, month, day) = julian_to_date(days + POSTGRES_EPOCH_JULIAN);
        let (hour, minute, second, microsecond) = split_time(time);
        Fields {
            year,
            month,
            day,
            hour,
            minute,
            second,
            microsecond,
        }
    }

    /// Microseconds since 2000-01-01 00:00, or `None` on overflow.
    pub fn to_microseconds(&self) -> Option<i64> {
        let days = date_to_julian(self.year, self.month, self.day) - POSTGRES_EPOCH_JULIAN;
        days.checked_mul(MICROSECONDS_PER_DAY)?
            .checked_add(time_of_day(
                self.hour,
                self.minute,
                self.second,
                self.microsecond,
            )?)
    }

    pub fn julian(&self) -> i64 {
        date_to_julian(self.year, self.month, self.day)
    }
}

/// Microseconds of a time of day from its fields.
pub fn time_of_day(hour: i64, minute: i64, second: i64, microsecond: i64) -> Option<i64> {
    hour.checked_mul(MICROSECONDS_PER_HOUR)?
        .checked_add(minute.checked_mul(MICROSECONDS_PER_MINUTE)?)?
        .checked_add(second.checked_mul(MICROSECONDS_PER_SECOND)?)?
        .checked_add(microsecond)
}

/// Hours, minutes, seconds and microseconds of a non-negative count.
pub fn split_time(time: i64) -> (i64, i64, i64, i64) {
    (
        time / MICROSECONDS_PER_HOUR,
        time / MICROSECONDS_PER_MINUTE % 60,
        time / MICROSECONDS_PER_SECOND % 60,
        time % MICROSECONDS_PER_SECOND,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn julian_days_round_trip_and_match_known_dates() {
        assert_eq!(date_to_julian(2000, 1, 1), POSTGRES_EPOCH_JULIAN);
        assert_eq!(date_to_julian(1970, 1, 1), 2440588);
        assert_eq!(date_to_julian(-4713, 11, 24), 0);
        for julian in (0..5_000_000).step_by(997) {
            let (y, m, d) = julian_to_date(julian);
            assert!(is_valid_date(y, m, d));
            assert_eq!(date_to_julian(y, m, d), julian);
        }
        assert_eq!(day_of_week(date_to_julian(2024, 1, 15)), 1);
    }

    #[test]
    fn iso_weeks_follow_the_monday_rule() {
        assert_eq!(iso_week(2021, 1, 3), (2020, 53));
        assert_eq!(iso_week(2021, 1, 4), (2021, 1));
        assert_eq!(iso_week(2024, 12, 30), (2025, 1));
        assert_eq!(iso_week(2024, 6, 15), (2024, 24));
    }

    #[test]
    fn fields_split_negative_times_toward_the_past() {
        let fields = Fields::from_microseconds(-1);
        assert_eq!((fields.year, fields.month, fields.day), (1999, 12, 31));
        assert_eq!(
            (
                fields.hour,
                fields.minute,
                fields.second,
                fields.microsecond
            ),
            (23, 59, 59, 999_999)
        );
        assert_eq!(fields.to_microseconds(), Some(-1));
    }
}
