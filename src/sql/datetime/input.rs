//! Text input of dates, times and timestamps, in the formats PostgreSQL's
//! `DecodeDateTime` accepts.
//!
//! Input is split into fields, then each field is read by its shape and
//! by what the fields before it have fixed, as PostgreSQL does:
//!
//! ```text
//!   "Jan 15, 2024 10:30:00.5 PM America/New_York"
//!    word number   number time          word word(zone)
//!   "2024-01-15T10:30:00+05:30"     "20240115 103000"     "15-Jan-2024 BC"
//!    date      T time   offset       number   number       date       word
//! ```
//!
//! A bare number fills the first of year, month and day the field order
//! leaves open (`DateStyle`'s MDY order for `1/15/2024`; three or more
//! digits are always a year). Values out of range give 22008 "date/time
//! field value out of range"; input that cannot be read gives 22007 (or
//! 22P02 for `interval`, as in PostgreSQL).

use std::sync::Arc;

use super::calendar::{Fields, date_to_julian, is_valid_date, julian_to_date, time_of_day};
use super::zone::{Zone, abbreviation};
use super::{
    DATE_INFINITY, DATE_NEGATIVE_INFINITY, MICROSECONDS_PER_DAY, POSTGRES_EPOCH_JULIAN,
    TIMESTAMP_INFINITY, TIMESTAMP_NEGATIVE_INFINITY, TimeContext, UNIX_EPOCH_JULIAN,
};
use crate::error::{Error, Result, SqlState};

/// One field of the input.
#[derive(Clone, Debug, PartialEq)]
enum Token {
    /// Digits, perhaps with a fraction: `2024`, `15.5`, `20240115`.
    Number(String),
    /// Parts joined by `-`, `/` or `.`: `2024-01-15`, `15-jan-2024`.
    Date(String),
    /// `10:30`, `10:30:15.25`.
    Time(String),
    /// A signed offset: `+05`, `-08:00`, `+0530`.
    Offset(String),
    /// A lower-cased word: month, weekday, AM/PM, BC, a zone.
    Word(String),
}

fn tokenize(text: &str) -> Option<Vec<Token>> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut at = 0;
    let take_while = |at: &mut usize, keep: &dyn Fn(char) -> bool| -> String {
        let start = *at;
        while *at < chars.len() && keep(chars[*at]) {
            *at += 1;
        }
        chars[start..*at].iter().collect::<String>().to_lowercase()
    };
    while at < chars.len() {
        let c = chars[at];
        if c.is_whitespace() {
            at += 1;
        } else if c.is_ascii_digit() {
            let digits = take_while(&mut at, &|c| c.is_ascii_digit());
            match chars.get(at) {
                Some(':') => {
                    let rest = take_while(&mut at, &|c| c.is_ascii_digit() || c == ':' || c == '.');
                    tokens.push(Token::Time(digits + &rest));
                }
                Some(&separator @ ('-' | '/' | '.')) => {
                    let mut field = digits;
                    if separator == '.' {
                        // `15.5` is a number, `2024.01.15` a date.
                        field.push('.');
                        at += 1;
                        field += &take_while(&mut at, &|c| c.is_ascii_digit());
                        if chars.get(at) != Some(&'.') {
                            tokens.push(Token::Number(field));
                            continue;
                        }
                    }
                    field.push(separator);
                    at += 1;
                    // `2024-01-15T10:30`: an all-digit date stops at the T.
                    if chars.get(at).is_some_and(|c| c.is_ascii_digit()) {
                        field += &take_while(&mut at, &|c| c.is_ascii_digit() || c == separator);
                    } else {
                        field += &take_while(&mut at, &|c| c.is_alphanumeric() || c == separator);
                    }
                    tokens.push(Token::Date(field));
                }
                _ => tokens.push(Token::Number(digits)),
            }
        } else if c == '.' {
            at += 1;
            let digits = take_while(&mut at, &|c| c.is_ascii_digit());
            if digits.is_empty() {
                return None;
            }
            tokens.push(Token::Number(format!("0.{digits}")));
        } else if c.is_alphabetic() {
            let word = take_while(&mut at, &|c| c.is_alphabetic());
            match chars.get(at) {
                Some(&separator @ ('-' | '/' | '.'))
                    if month_number(&word).is_some()
                        && chars.get(at + 1).is_some_and(|c| c.is_alphanumeric()) =>
                {
                    let rest = take_while(&mut at, &|c| c.is_alphanumeric() || c == separator);
                    tokens.push(Token::Date(word + &rest));
                }
                Some('/' | '_') => {
                    let rest = take_while(&mut at, &|c| c.is_alphanumeric() || "/_+-".contains(c));
                    tokens.push(Token::Word(word + &rest));
                }
                Some(c) if (c.is_ascii_digit() || *c == '+' || *c == '-') && !is_keyword(&word) => {
                    // A POSIX zone such as `EST5EDT` or `UTC+3`.
                    let rest = take_while(&mut at, &|c| c.is_alphanumeric() || "/_+-:".contains(c));
                    tokens.push(Token::Word(word + &rest));
                }
                _ => tokens.push(Token::Word(word)),
            }
        } else if c == '+' || c == '-' {
            at += 1;
            match chars.get(at) {
                Some(d) if d.is_ascii_digit() => {
                    let rest = take_while(&mut at, &|c| c.is_ascii_digit() || c == ':');
                    tokens.push(Token::Offset(format!("{c}{rest}")));
                }
                Some(a) if a.is_alphabetic() => {
                    let word = take_while(&mut at, &|c| c.is_alphabetic());
                    tokens.push(Token::Word(format!("{c}{word}")));
                }
                _ => return None,
            }
        } else if c.is_ascii_punctuation() {
            // Commas and other punctuation separate fields.
            at += 1;
        } else {
            return None;
        }
    }
    Some(tokens)
}

fn is_keyword(word: &str) -> bool {
    month_number(word).is_some()
        || is_weekday(word)
        || matches!(
            word,
            "am" | "pm"
                | "ad"
                | "bc"
                | "t"
                | "at"
                | "on"
                | "epoch"
                | "infinity"
                | "now"
                | "today"
                | "tomorrow"
                | "yesterday"
                | "allballs"
                | "j"
        )
}

fn month_number(word: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    if word == "sept" {
        return Some(9);
    }
    MONTHS
        .iter()
        .position(|month| {
            word.len() >= 3 && month.starts_with(word) && (word.len() == 3 || word == *month)
        })
        .map(|index| index as i64 + 1)
}

fn is_weekday(word: &str) -> bool {
    const DAYS: [&str; 7] = [
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
    ];
    matches!(word, "tues" | "wednes" | "thur" | "thurs")
        || DAYS.iter().any(|day| {
            word.len() >= 3 && (word == *day || (word.len() == 3 && day.starts_with(word)))
        })
}

/// A word that stands for a whole value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Special {
    Epoch,
    Infinity,
    NegativeInfinity,
    Now,
    Today,
    Tomorrow,
    Yesterday,
}

/// The zone written in the input.
#[derive(Clone, Debug)]
enum WrittenZone {
    Offset(i32),
    Named(Arc<Zone>),
}

/// What the fields fixed.
#[derive(Debug, Default)]
struct Decoded {
    year: Option<i64>,
    /// Whether the year was written with one or two digits (70 → 1970).
    two_digit_year: bool,
    month: Option<i64>,
    day: Option<i64>,
    day_of_year: Option<i64>,
    text_month: bool,
    time: Option<(i64, i64, i64, i64)>,
    meridiem: Option<bool>,
    bc: bool,
    zone: Option<WrittenZone>,
    special: Option<Special>,
    allballs: bool,
    /// `J` was read: the next number is a Julian day.
    julian_pending: bool,
}

/// Why decoding failed: unreadable (22007) or out of range (22008).
enum Failure {
    Syntax,
    Range,
    /// An offset beyond ±15 hours (22009).
    Displacement,
    /// A zone name that names no zone (22023).
    UnknownZone(String),
}

type Decode<T> = std::result::Result<T, Failure>;

/// The type being read, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Date,
    Time,
    Timestamp,
    Timestamptz,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Date => "date",
            Target::Time => "time",
            Target::Timestamp => "timestamp",
            Target::Timestamptz => "timestamp with time zone",
        }
    }
}

fn decode(text: &str, date_order_dmy: bool, time_only: bool) -> Decode<Decoded> {
    let tokens = tokenize(text).ok_or(Failure::Syntax)?;
    if tokens.is_empty() {
        return Err(Failure::Syntax);
    }
    let mut decoded = Decoded::default();
    let mut iso_time_pending = false;
    for token in tokens {
        match token {
            Token::Date(field) => {
                if decoded.year.is_some() || decoded.month.is_some() || decoded.day.is_some() {
                    return Err(Failure::Syntax);
                }
                let separator = field
                    .chars()
                    .find(|c| matches!(c, '-' | '/' | '.'))
                    .ok_or(Failure::Syntax)?;
                let parts: Vec<&str> = field.split(separator).collect();
                // Text months first, so the numbers know one is taken.
                let (words, numbers): (Vec<&str>, Vec<&str>) = parts
                    .iter()
                    .partition(|part| !part.chars().all(|c| c.is_ascii_digit()));
                for part in words.into_iter().chain(numbers) {
                    if part.is_empty() {
                        return Err(Failure::Syntax);
                    }
                    if part.chars().all(|c| c.is_ascii_digit()) {
                        decoded.number(part, date_order_dmy)?;
                    } else if let Some(month) = month_number(part) {
                        if decoded.month.is_some() {
                            return Err(Failure::Syntax);
                        }
                        decoded.month = Some(month);
                        decoded.text_month = true;
                    } else {
                        return Err(Failure::Syntax);
                    }
                }
            }
            Token::Number(field) if iso_time_pending => {
                iso_time_pending = false;
                decoded.concatenated_time(&field)?;
            }
            Token::Number(field) if decoded.julian_pending => {
                decoded.julian_pending = false;
                let julian: i64 = field.parse().map_err(|_| Failure::Syntax)?;
                if !(0..super::DATE_END_JULIAN).contains(&julian) {
                    return Err(Failure::Range);
                }
                let (year, month, day) = julian_to_date(julian);
                decoded.year = Some(year);
                decoded.month = Some(month);
                decoded.day = Some(day);
            }
            Token::Number(field)
                if time_only
                    && decoded.time.is_none()
                    && !field.contains('.')
                    && (field.len() == 4 || field.len() == 6) =>
            {
                decoded.concatenated_time(&field)?;
            }
            Token::Number(field) => {
                let digits = field.split('.').next().unwrap_or_default();
                let no_date =
                    decoded.year.is_none() && decoded.month.is_none() && decoded.day.is_none();
                let fraction = field.split_once('.').map(|(_, f)| f).unwrap_or("");
                if field.contains('.') && no_date && digits.len() == 4 && fraction.len() == 3 {
                    // `2024.015`: a year and a day of the year.
                    decoded.year = Some(digits.parse().map_err(|_| Failure::Syntax)?);
                    decoded.day_of_year = Some(fraction.parse().map_err(|_| Failure::Syntax)?);
                } else if field.contains('.') {
                    if no_date && digits.len() >= 6 {
                        decoded.concatenated_date(digits)?;
                    } else {
                        decoded.concatenated_time(&field)?;
                    }
                } else if no_date && (digits.len() == 8 || digits.len() == 6) {
                    decoded.concatenated_date(digits)?;
                } else if !no_date
                    && decoded.time.is_none()
                    && (digits.len() == 6 || digits.len() == 4)
                    && decoded.year.is_some()
                    && decoded.month.is_some()
                    && decoded.day.is_some()
                {
                    decoded.concatenated_time(&field)?;
                } else {
                    decoded.number(&field, date_order_dmy)?;
                }
            }
            Token::Time(field) => {
                if decoded.time.is_some() {
                    return Err(Failure::Syntax);
                }
                iso_time_pending = false;
                decoded.time = Some(parse_clock(&field)?);
            }
            Token::Offset(field) => {
                if decoded.zone.is_some() {
                    return Err(Failure::Syntax);
                }
                decoded.zone = Some(WrittenZone::Offset(parse_offset(&field)?));
            }
            Token::Word(word) => decoded.word(&word, &mut iso_time_pending)?,
        }
    }
    if iso_time_pending {
        return Err(Failure::Syntax);
    }
    Ok(decoded)
}

impl Decoded {
    /// A number field that is part of the date.
    fn number(&mut self, field: &str, date_order_dmy: bool) -> Decode<()> {
        if field.contains('.') {
            return Err(Failure::Syntax);
        }
        let value: i64 = field.parse().map_err(|_| Failure::Range)?;
        let long = field.len() >= 3;
        let (year, month, day) = (
            self.year.is_some(),
            self.month.is_some(),
            self.day.is_some(),
        );
        enum Slot {
            Year,
            Month,
            Day,
        }
        let slot = match (year, month, day) {
            (true, false, false) if field.len() == 3 && !self.text_month => {
                self.day_of_year = Some(value);
                return Ok(());
            }
            (false, false, false) if long => Slot::Year,
            (false, false, false) if date_order_dmy => Slot::Day,
            (false, false, false) => Slot::Month,
            (true, false, false) => Slot::Month,
            (false, true, false) if self.text_month && long => Slot::Year,
            (false, true, false) => Slot::Day,
            (true, true, false) => Slot::Day,
            (false, false, true) if long => Slot::Year,
            (false, false, true) => Slot::Month,
            (false, true, true) => Slot::Year,
            (true, false, true) => Slot::Month,
            (true, true, true) => return Err(Failure::Syntax),
        };
        match slot {
            Slot::Year => {
                self.year = Some(value);
                self.two_digit_year = field.len() <= 2;
            }
            Slot::Month => self.month = Some(value),
            Slot::Day => self.day = Some(value),
        }
        Ok(())
    }

    /// `YYYYMMDD` or `YYMMDD`.
    fn concatenated_date(&mut self, digits: &str) -> Decode<()> {
        let number = |range: std::ops::Range<usize>| -> Decode<i64> {
            digits[range].parse().map_err(|_| Failure::Syntax)
        };
        match digits.len() {
            8 => {
                self.year = Some(number(0..4)?);
                self.month = Some(number(4..6)?);
                self.day = Some(number(6..8)?);
            }
            6 => {
                self.year = Some(number(0..2)?);
                self.two_digit_year = true;
                self.month = Some(number(2..4)?);
                self.day = Some(number(4..6)?);
            }
            _ => return Err(Failure::Syntax),
        }
        Ok(())
    }

    /// `HHMMSS[.fff]` or `HHMM` or `HH`.
    fn concatenated_time(&mut self, field: &str) -> Decode<()> {
        if self.time.is_some() {
            return Err(Failure::Syntax);
        }
        let (digits, fraction) = match field.split_once('.') {
            Some((digits, fraction)) => (digits, Some(fraction)),
            None => (field, None),
        };
        let number = |range: std::ops::Range<usize>| -> Decode<i64> {
            digits
                .get(range)
                .ok_or(Failure::Syntax)?
                .parse()
                .map_err(|_| Failure::Syntax)
        };
        let (hour, minute, second) = match digits.len() {
            6 => (number(0..2)?, number(2..4)?, number(4..6)?),
            4 if fraction.is_none() => (number(0..2)?, number(2..4)?, 0),
            2 if fraction.is_none() => (number(0..2)?, 0, 0),
            _ => return Err(Failure::Syntax),
        };
        let (second, microsecond) = match fraction {
            Some(fraction) => add_fraction(second, fraction)?,
            None => (second, 0),
        };
        self.time = Some(check_clock(hour, minute, second, microsecond)?);
        Ok(())
    }

    fn word(&mut self, word: &str, iso_time_pending: &mut bool) -> Decode<()> {
        let special = |this: &mut Decoded, special: Special| {
            if this.special.is_some() {
                return Err(Failure::Syntax);
            }
            this.special = Some(special);
            Ok(())
        };
        if let Some(month) = month_number(word) {
            if self.month.is_some() {
                return Err(Failure::Syntax);
            }
            self.month = Some(month);
            self.text_month = true;
            // A year written before a text month (`2024 Jan 15`) stays one.
            return Ok(());
        }
        match word {
            _ if is_weekday(word) => {}
            "am" | "pm" => {
                if self.meridiem.is_some() {
                    return Err(Failure::Syntax);
                }
                self.meridiem = Some(word == "pm");
            }
            "ad" => {}
            "bc" => self.bc = true,
            "t" => *iso_time_pending = true,
            "j" => self.julian_pending = true,
            "at" | "on" => {}
            "epoch" => special(self, Special::Epoch)?,
            "infinity" | "+infinity" => special(self, Special::Infinity)?,
            "-infinity" => special(self, Special::NegativeInfinity)?,
            "now" => special(self, Special::Now)?,
            "today" => special(self, Special::Today)?,
            "tomorrow" => special(self, Special::Tomorrow)?,
            "yesterday" => special(self, Special::Yesterday)?,
            "allballs" => {
                if self.time.is_some() {
                    return Err(Failure::Syntax);
                }
                self.time = Some((0, 0, 0, 0));
                self.allballs = true;
                self.zone.get_or_insert(WrittenZone::Offset(0));
            }
            _ => {
                if self.zone.is_some() {
                    return Err(Failure::Syntax);
                }
                self.zone = Some(match abbreviation(word) {
                    Some(offset) => WrittenZone::Offset(offset),
                    None => WrittenZone::Named(Zone::lookup(word).ok_or_else(|| {
                        if word.contains('/') {
                            Failure::UnknownZone(word.to_string())
                        } else {
                            Failure::Syntax
                        }
                    })?),
                });
            }
        }
        Ok(())
    }

    /// The date (astronomical year, month, day), checked.
    fn date(&self, context: &TimeContext) -> Decode<Option<(i64, i64, i64)>> {
        if let Some(special) = self.special {
            let today = |offset: i64| {
                let local = context.zone.utc_to_local(context.now).0;
                let julian = local.div_euclid(MICROSECONDS_PER_DAY) + POSTGRES_EPOCH_JULIAN;
                julian_to_date(julian + offset)
            };
            return Ok(match special {
                Special::Epoch => Some(julian_to_date(UNIX_EPOCH_JULIAN)),
                Special::Today | Special::Now => Some(today(0)),
                Special::Tomorrow => Some(today(1)),
                Special::Yesterday => Some(today(-1)),
                Special::Infinity | Special::NegativeInfinity => None,
            });
        }
        let Some(mut year) = self.year else {
            return Err(Failure::Syntax);
        };
        if self.two_digit_year && !self.bc {
            year += if year < 70 { 2000 } else { 1900 };
        }
        let (month, day) = match (self.month, self.day, self.day_of_year) {
            (Some(month), Some(day), None) => (month, day),
            (None, None, Some(day_of_year)) => {
                if !(1..=366).contains(&day_of_year) {
                    return Err(Failure::Range);
                }
                let (_, month, day) = julian_to_date(date_to_julian(year, 1, 1) + day_of_year - 1);
                (month, day)
            }
            _ => return Err(Failure::Syntax),
        };
        if self.bc {
            if year <= 0 {
                return Err(Failure::Range);
            }
            year = 1 - year;
        } else if year == 0 {
            return Err(Failure::Range);
        }
        if !is_valid_date(year, month, day) {
            return Err(Failure::Range);
        }
        Ok(Some((year, month, day)))
    }

    /// The time of day in microseconds, AM/PM applied.
    fn time_of_day(&self) -> Decode<i64> {
        let (mut hour, minute, second, microsecond) = self.time.unwrap_or((0, 0, 0, 0));
        if let Some(pm) = self.meridiem {
            if !(0..=12).contains(&hour) {
                return Err(Failure::Range);
            }
            if pm && hour != 12 {
                hour += 12;
            } else if !pm && hour == 12 {
                hour = 0;
            }
        }
        time_of_day(hour, minute, second, microsecond).ok_or(Failure::Range)
    }
}

/// `HH:MM[:SS[.ffffff]]`, also `MM:SS.ff` when the first part has a
/// fraction-bearing second part.
fn parse_clock(field: &str) -> Decode<(i64, i64, i64, i64)> {
    let parts: Vec<&str> = field.split(':').collect();
    let integer = |text: &str| -> Decode<i64> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Failure::Syntax);
        }
        text.parse().map_err(|_| Failure::Range)
    };
    let (hour, minute, second, microsecond) = match parts.as_slice() {
        [hour, minute] if minute.contains('.') => {
            // `MM:SS.ff`
            let (second, fraction) = minute.split_once('.').expect("checked");
            let (second, microsecond) = add_fraction(integer(second)?, fraction)?;
            (0, integer(hour)?, second, microsecond)
        }
        [hour, minute] => (integer(hour)?, integer(minute)?, 0, 0),
        [hour, minute, second] => {
            let (whole, microsecond) = match second.split_once('.') {
                Some((whole, fraction)) => add_fraction(integer(whole)?, fraction)?,
                None => (integer(second)?, 0),
            };
            (integer(hour)?, integer(minute)?, whole, microsecond)
        }
        _ => return Err(Failure::Syntax),
    };
    check_clock(hour, minute, second, microsecond)
}

/// Whole seconds plus a decimal fraction, rounded to microseconds.
fn add_fraction(second: i64, fraction: &str) -> Decode<(i64, i64)> {
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Failure::Syntax);
    }
    // As PostgreSQL: the fraction as a double, rounded half to even.
    let value: f64 = format!("0.{fraction}0")
        .parse()
        .map_err(|_| Failure::Syntax)?;
    let microsecond = (value * 1e6).round_ties_even() as i64;
    Ok((second + microsecond / 1_000_000, microsecond % 1_000_000))
}

fn check_clock(
    hour: i64,
    minute: i64,
    second: i64,
    microsecond: i64,
) -> Decode<(i64, i64, i64, i64)> {
    if !(0..=59).contains(&minute)
        || !(0..=60).contains(&second)
        || !(0..=24).contains(&hour)
        || (hour == 24 && (minute != 0 || second != 0 || microsecond != 0))
    {
        return Err(Failure::Range);
    }
    Ok((hour, minute, second, microsecond))
}

/// `+05`, `-0530`, `+05:30`, `-08:00:00`: seconds east.
fn parse_offset(field: &str) -> Decode<i32> {
    let (sign, body) = field.split_at(1);
    let negative = sign == "-";
    let number = |text: &str| -> Decode<i64> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Failure::Syntax);
        }
        text.parse().map_err(|_| Failure::Range)
    };
    let parts: Vec<&str> = body.split(':').collect();
    let (hours, minutes, seconds) = match parts.as_slice() {
        [digits] if digits.len() <= 2 => (number(digits)?, 0, 0),
        [digits] if digits.len() == 4 => (number(&digits[..2])?, number(&digits[2..])?, 0),
        [digits] if digits.len() == 6 => (
            number(&digits[..2])?,
            number(&digits[2..4])?,
            number(&digits[4..])?,
        ),
        [hours, minutes] => (number(hours)?, number(minutes)?, 0),
        [hours, minutes, seconds] => (number(hours)?, number(minutes)?, number(seconds)?),
        _ => return Err(Failure::Syntax),
    };
    if minutes > 59 || seconds > 59 {
        return Err(Failure::Range);
    }
    if hours > 15 {
        return Err(Failure::Displacement);
    }
    let total = (hours * 3600 + minutes * 60 + seconds) as i32;
    Ok(if negative { -total } else { total })
}

fn failure_error(failure: Failure, target: Target, text: &str) -> Error {
    match failure {
        Failure::Syntax => Error::sql(
            SqlState::INVALID_DATETIME_FORMAT,
            format!(
                "invalid input syntax for type {}: \"{text}\"",
                target.name()
            ),
        ),
        Failure::Range => Error::sql(
            SqlState::DATETIME_FIELD_OVERFLOW,
            format!("date/time field value out of range: \"{text}\""),
        ),
        Failure::Displacement => Error::sql(
            SqlState::INVALID_TIME_ZONE_DISPLACEMENT_VALUE,
            format!("time zone displacement out of range: \"{text}\""),
        ),
        Failure::UnknownZone(zone) => Error::sql(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("time zone \"{zone}\" not recognized"),
        ),
    }
}

fn out_of_range(target: Target, text: &str) -> Error {
    let what = match target {
        Target::Date => "date",
        _ => "timestamp",
    };
    Error::sql(
        SqlState::DATETIME_FIELD_OVERFLOW,
        format!("{what} out of range: \"{text}\""),
    )
}

/// Reads `text` as `target`. Dates are days since 2000-01-01, times
/// microseconds since midnight, timestamps microseconds since
/// 2000-01-01 00:00 (UTC for `timestamptz`).
pub fn parse(text: &str, target: Target, context: &TimeContext) -> Result<i64> {
    let decoded = decode(text, context.date_order_dmy, target == Target::Time)
        .map_err(|failure| failure_error(failure, target, text))?;
    let fail = |failure| failure_error(failure, target, text);
    match decoded.special {
        Some(Special::Infinity) if target != Target::Time => {
            return Ok(match target {
                Target::Date => DATE_INFINITY as i64,
                _ => TIMESTAMP_INFINITY,
            });
        }
        Some(Special::NegativeInfinity) if target != Target::Time => {
            return Ok(match target {
                Target::Date => DATE_NEGATIVE_INFINITY as i64,
                _ => TIMESTAMP_NEGATIVE_INFINITY,
            });
        }
        Some(Special::Infinity | Special::NegativeInfinity) => {
            return Err(fail(Failure::Syntax));
        }
        Some(Special::Now) if target != Target::Date => {
            if decoded.time.is_some() || decoded.year.is_some() || decoded.month.is_some() {
                return Err(fail(Failure::Syntax));
            }
            return Ok(match target {
                Target::Timestamptz => context.now,
                Target::Timestamp => context.zone.utc_to_local(context.now).0,
                _ => context
                    .zone
                    .utc_to_local(context.now)
                    .0
                    .rem_euclid(MICROSECONDS_PER_DAY),
            });
        }
        Some(Special::Epoch) if target == Target::Timestamptz && decoded.time.is_none() => {
            return Ok((UNIX_EPOCH_JULIAN - POSTGRES_EPOCH_JULIAN) * MICROSECONDS_PER_DAY);
        }
        _ => {}
    }
    if target == Target::Time {
        if decoded.special.is_some() && decoded.special != Some(Special::Now) {
            return Err(fail(Failure::Syntax));
        }
        if decoded.time.is_none() {
            return Err(fail(Failure::Syntax));
        }
        return decoded.time_of_day().map_err(fail);
    }
    let Some((year, month, day)) = decoded.date(context).map_err(fail)? else {
        return Err(fail(Failure::Syntax));
    };
    let julian = date_to_julian(year, month, day);
    if target == Target::Date {
        if !super::calendar::julian_in_date_range(julian) {
            return Err(out_of_range(target, text));
        }
        return Ok(julian - POSTGRES_EPOCH_JULIAN);
    }
    let time = decoded.time_of_day().map_err(fail)?;
    let local = Fields {
        year,
        month,
        day,
        hour: 0,
        minute: 0,
        second: 0,
        microsecond: 0,
    }
    .to_microseconds()
    .and_then(|midnight| midnight.checked_add(time))
    .ok_or_else(|| out_of_range(target, text))?;
    let value = match target {
        Target::Timestamptz => match &decoded.zone {
            Some(WrittenZone::Offset(offset)) => local - *offset as i64 * 1_000_000,
            Some(WrittenZone::Named(zone)) => zone.local_to_utc(local),
            None => context.zone.local_to_utc(local),
        },
        _ => local,
    };
    if !super::timestamp_in_range(value) || !super::timestamp_in_range(local) {
        return Err(out_of_range(target, text));
    }
    Ok(value)
}

/// Local wall-clock microseconds of a plain timestamp literal (tests).
#[cfg(test)]
pub fn parse_timestamp_fields(text: &str) -> i64 {
    parse(text, Target::Timestamp, &TimeContext::utc(0)).expect("valid timestamp")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timestamp(text: &str) -> String {
        match parse(text, Target::Timestamp, &TimeContext::utc(0)) {
            Ok(value) => super::super::output::format_timestamp(value),
            Err(error) => error.sqlstate().0.to_string(),
        }
    }

    fn date(text: &str) -> String {
        match parse(text, Target::Date, &TimeContext::utc(0)) {
            Ok(value) => super::super::output::format_date(value as i32),
            Err(error) => error.sqlstate().0.to_string(),
        }
    }

    #[test]
    fn dates_in_the_usual_spellings() {
        assert_eq!(date("2024-01-15"), "2024-01-15");
        assert_eq!(date("20240115"), "2024-01-15");
        assert_eq!(date("January 15, 2024"), "2024-01-15");
        assert_eq!(date("15-Jan-2024"), "2024-01-15");
        assert_eq!(date("1/15/2024"), "2024-01-15");
        assert_eq!(date("2024-01-15 BC"), "2024-01-15 BC");
        assert_eq!(date("2024-02-30"), "22008");
        assert_eq!(date("0000-01-01"), "22008");
        assert_eq!(date("abc"), "22007");
        assert_eq!(date(""), "22007");
        assert_eq!(date("epoch"), "1970-01-01");
        assert_eq!(date("infinity"), "infinity");
        assert_eq!(date("5874898-01-01"), "22008");
        assert_eq!(date("5874897-12-31"), "5874897-12-31");
    }

    #[test]
    fn timestamps_with_times_fractions_and_meridiems() {
        assert_eq!(timestamp("2024-01-15T10:30:00"), "2024-01-15 10:30:00");
        assert_eq!(
            timestamp("2024-01-15 10:30:15.1234567"),
            "2024-01-15 10:30:15.123457"
        );
        assert_eq!(timestamp("Jan 15 2024 10:30 PM"), "2024-01-15 22:30:00");
        assert_eq!(timestamp("2024-01-15 24:00:00"), "2024-01-16 00:00:00");
        assert_eq!(timestamp("2024-01-15 25:00:00"), "22008");
        assert_eq!(timestamp("20240115T103000"), "2024-01-15 10:30:00");
        assert_eq!(timestamp("10:30"), "22007");
        assert_eq!(timestamp("294277-01-01"), "22008");
        assert_eq!(
            timestamp("4714-11-24 00:00:00 BC"),
            "4714-11-24 00:00:00 BC"
        );
    }
}
