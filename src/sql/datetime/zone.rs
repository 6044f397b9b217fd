//! Time zones: the IANA database read from the system's compiled zone
//! files, POSIX TZ strings, and fixed offsets.
//!
//! A zone answers two questions. *UTC to local*: which offset applies at a
//! UTC instant, a search of the zone's transition list, then its POSIX
//! footer rule for instants past the list (slim zone files end their lists
//! early and rely on the rule). *Local to UTC*: which instant a wall-clock
//! time names. Around a transition a local time can name no instant (the
//! spring-forward gap) or two (the fall-back overlap); PostgreSQL's rule,
//! kept here, is to read a time in a gap with the offset from before the
//! transition and an ambiguous time with the offset from after it.
//!
//! ```text
//!   offset  -5h ──────────┐            ┌─────────── -5h
//!                         └─── -4h ────┘
//!   local   01:59 │gap: 02:00–02:59 read as -5h│ … 01:00–01:59 twice: read as -5h
//! ```
//!
//! Zone files are RFC 8536 (TZif) version 2 or later; the 64-bit block is
//! read and the 32-bit one skipped. They come from `TZDIR`, or
//! `/usr/share/zoneinfo`, the directory the system's PostgreSQL reads, so
//! both agree on every zone. Loaded zones are cached for the process.
//! Offsets are seconds east of Greenwich throughout, the opposite sign of
//! POSIX strings, which are converted when parsed.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{Error, Result, SqlState};

/// A time zone.
#[derive(Debug)]
pub struct Zone {
    /// The name as `SHOW TimeZone` prints it.
    name: String,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Fixed(i32),
    Rule(PosixRule),
    Table(ZoneTable),
}

/// A zone file's transitions.
#[derive(Debug)]
struct ZoneTable {
    /// UTC seconds since the Unix epoch at which each transition happens.
    transitions: Vec<i64>,
    /// The local time type in force from each transition on.
    type_indexes: Vec<u8>,
    types: Vec<LocalType>,
    /// The rule for instants after the last transition.
    footer: Option<PosixRule>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LocalType {
    offset: i32,
    is_dst: bool,
}

/// A POSIX TZ rule such as `EST5EDT,M3.2.0,M11.1.0`.
#[derive(Clone, Debug)]
struct PosixRule {
    standard: i32,
    daylight: Option<Daylight>,
}

#[derive(Clone, Debug)]
struct Daylight {
    offset: i32,
    start: (RuleDay, i32),
    end: (RuleDay, i32),
}

/// The day a daylight period starts or ends.
#[derive(Clone, Copy, Debug)]
enum RuleDay {
    /// `Mm.w.d`: weekday `d` (0 = Sunday) of week `w` (5 = last) of month `m`.
    MonthWeekDay(i64, i64, i64),
    /// `Jn`: day 1..=365, never counting February 29th.
    JulianNoLeap(i64),
    /// `n`: day 0..=365, counting February 29th.
    ZeroBased(i64),
}

/// What is in force at an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offset {
    /// Seconds east of UTC.
    pub seconds: i32,
    pub is_dst: bool,
}

const UNIX_SECONDS_AT_POSTGRES_EPOCH: i64 = 946_684_800;

impl Zone {
    /// UTC.
    pub fn utc() -> Arc<Zone> {
        static UTC: OnceLock<Arc<Zone>> = OnceLock::new();
        UTC.get_or_init(|| {
            Arc::new(Zone {
                name: "UTC".into(),
                kind: Kind::Fixed(0),
            })
        })
        .clone()
    }

    /// A fixed offset, named as PostgreSQL shows one set by
    /// `SET TIME ZONE <interval>` (`<+05>-05`).
    pub fn fixed(seconds: i32) -> Zone {
        Zone {
            name: fixed_name(seconds),
            kind: Kind::Fixed(seconds),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The zone named `name`: an IANA zone (case-insensitive), or a POSIX
    /// TZ string. `None` if it is neither.
    pub fn lookup(name: &str) -> Option<Arc<Zone>> {
        static CACHE: OnceLock<Mutex<HashMap<String, Option<Arc<Zone>>>>> = OnceLock::new();
        let key = name.to_ascii_lowercase();
        let cache = CACHE.get_or_init(Mutex::default);
        if let Some(found) = cache.lock().expect("zone cache lock").get(&key) {
            return found.clone();
        }
        let found = load(name).map(Arc::new);
        cache
            .lock()
            .expect("zone cache lock")
            .insert(key, found.clone());
        found
    }

    /// The zone of a `SET TIME ZONE` value: a number of hours east
    /// (`-5`, `5.5`), `INTERVAL '+05:00' HOUR TO MINUTE`, or a name.
    pub fn from_setting(value: &str) -> Result<Arc<Zone>> {
        let invalid = || {
            Error::sql(
                SqlState::INVALID_PARAMETER_VALUE,
                format!("invalid value for parameter \"TimeZone\": \"{value}\""),
            )
        };
        let trimmed = value.trim();
        if let Ok(hours) = trimmed.parse::<f64>() {
            let seconds = (hours * 3600.0).round();
            if !seconds.is_finite() || seconds.abs() > 15.0 * 3600.0 {
                return Err(invalid());
            }
            return Ok(Arc::new(Zone::fixed(seconds as i32)));
        }
        if trimmed.len() > 8 && trimmed[..8].eq_ignore_ascii_case("interval") {
            let quoted = trimmed[8..].trim_start();
            let body = quoted
                .strip_prefix('\'')
                .and_then(|rest| rest.split_once('\''))
                .ok_or_else(invalid)?;
            let qualifier = body.1.trim().to_ascii_lowercase();
            let unit = match qualifier.split_whitespace().next() {
                Some("hour") => Some(super::IntervalField::Hour),
                Some("minute") => Some(super::IntervalField::Minute),
                Some("day") => Some(super::IntervalField::Day),
                _ => None,
            };
            let interval = super::interval::parse_interval(body.0, unit)?;
            if interval.months != 0 || interval.days != 0 {
                return Err(Error::sql(
                    SqlState::INVALID_PARAMETER_VALUE,
                    "invalid interval value for time zone: day not allowed",
                ));
            }
            return Ok(Arc::new(Zone::fixed(
                (interval.microseconds / 1_000_000) as i32,
            )));
        }
        Zone::lookup(trimmed).ok_or_else(invalid)
    }

    /// Like [`Zone::lookup`], failing with PostgreSQL's error for input.
    pub fn lookup_or_error(name: &str) -> Result<Arc<Zone>> {
        Zone::lookup(name).ok_or_else(|| {
            Error::sql(
                SqlState::INVALID_PARAMETER_VALUE,
                format!("time zone \"{name}\" not recognized"),
            )
        })
    }

    /// The offset in force at `microseconds` since 2000-01-01 UTC.
    pub fn offset_at_utc(&self, microseconds: i64) -> Offset {
        let seconds = microseconds.div_euclid(1_000_000) + UNIX_SECONDS_AT_POSTGRES_EPOCH;
        self.offset_at_unix(seconds)
    }

    fn offset_at_unix(&self, seconds: i64) -> Offset {
        match &self.kind {
            Kind::Fixed(offset) => Offset {
                seconds: *offset,
                is_dst: false,
            },
            Kind::Rule(rule) => rule.offset_at(seconds),
            Kind::Table(table) => table.offset_at(seconds),
        }
    }

    /// The UTC instant (microseconds since 2000-01-01) of a local wall-clock
    /// time, with PostgreSQL's reading of gaps and overlaps (module docs).
    pub fn local_to_utc(&self, local: i64) -> i64 {
        if let Kind::Fixed(offset) = self.kind {
            return local - offset as i64 * 1_000_000;
        }
        let local_seconds = local.div_euclid(1_000_000) + UNIX_SECONDS_AT_POSTGRES_EPOCH;
        const TWO_DAYS: i64 = 2 * 86_400;
        let before = self
            .offset_at_unix(local_seconds.saturating_sub(TWO_DAYS))
            .seconds as i64;
        let after = self
            .offset_at_unix(local_seconds.saturating_add(TWO_DAYS))
            .seconds as i64;
        let fits =
            |offset: i64| self.offset_at_unix(local_seconds - offset).seconds as i64 == offset;
        let offset = match (fits(before), fits(after)) {
            (true, true) => after,
            (true, false) => before,
            (false, true) => after,
            // In a gap: the offset from before the transition.
            (false, false) => before,
        };
        local - offset * 1_000_000
    }

    /// The local wall-clock time of a UTC instant, and the offset used.
    pub fn utc_to_local(&self, utc: i64) -> (i64, i32) {
        let offset = self.offset_at_utc(utc).seconds;
        (utc + offset as i64 * 1_000_000, offset)
    }
}

/// `<+05>-05` for five hours east, PostgreSQL's name for a fixed offset.
fn fixed_name(seconds: i32) -> String {
    let text = super::output::format_offset(seconds);
    let posix = super::output::format_offset(-seconds);
    format!("<{text}>{posix}")
}

fn zone_directory() -> PathBuf {
    std::env::var_os("TZDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/zoneinfo"))
}

fn load(name: &str) -> Option<Zone> {
    if name.eq_ignore_ascii_case("utc") {
        return Some(Zone {
            name: "UTC".into(),
            kind: Kind::Fixed(0),
        });
    }
    if let Some((canonical, bytes)) = find_file(name)
        && let Ok(table) = parse_tzif(&bytes)
    {
        return Some(Zone {
            name: canonical,
            kind: Kind::Table(table),
        });
    }
    let rule = parse_posix(name)?;
    Some(Zone {
        name: name.to_string(),
        kind: match rule.daylight {
            None => Kind::Fixed(rule.standard),
            Some(_) => Kind::Rule(rule),
        },
    })
}

/// Finds a zone file by case-insensitive path, returning its canonical
/// name (as the directory spells it) and contents.
fn find_file(name: &str) -> Option<(String, Vec<u8>)> {
    if name.is_empty()
        || name.starts_with('/')
        || name
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_-+".contains(&b))
    {
        return None;
    }
    let mut path = zone_directory();
    let mut canonical = Vec::new();
    for part in name.split('/') {
        let exact = path.join(part);
        let entry = if exact.exists() {
            part.to_string()
        } else {
            std::fs::read_dir(&path)
                .ok()?
                .filter_map(|entry| entry.ok())
                .filter_map(|entry| entry.file_name().into_string().ok())
                .find(|entry| entry.eq_ignore_ascii_case(part))?
        };
        path.push(&entry);
        canonical.push(entry);
    }
    if !path.is_file() {
        return None;
    }
    let bytes = std::fs::read(&path).ok()?;
    Some((canonical.join("/"), bytes))
}

/// Parses a TZif file (RFC 8536), version 2 or later.
fn parse_tzif(bytes: &[u8]) -> std::result::Result<ZoneTable, &'static str> {
    struct Cursor<'a>(&'a [u8]);
    impl<'a> Cursor<'a> {
        fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], &'static str> {
            if self.0.len() < n {
                return Err("truncated zone file");
            }
            let (head, tail) = self.0.split_at(n);
            self.0 = tail;
            Ok(head)
        }
        fn u32(&mut self) -> std::result::Result<usize, &'static str> {
            let b = self.take(4)?;
            Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        }
    }
    let header = |cursor: &mut Cursor| -> std::result::Result<[usize; 6], &'static str> {
        if cursor.take(4)? != b"TZif" {
            return Err("not a zone file");
        }
        cursor.take(16)?;
        let mut counts = [0; 6];
        for count in &mut counts {
            *count = cursor.u32()?;
        }
        Ok(counts)
    };
    let mut cursor = Cursor(bytes);
    let version = *bytes.get(4).ok_or("truncated zone file")?;
    let [isut, isstd, leap, time, types, chars] = header(&mut cursor)?;
    if version < b'2' {
        return Err("zone file version 1");
    }
    // Skip the 32-bit block.
    cursor.take(time * 5 + types * 6 + chars + leap * 8 + isstd + isut)?;
    let [isut, isstd, leap, time, type_count, chars] = header(&mut cursor)?;
    let mut transitions = Vec::with_capacity(time);
    for _ in 0..time {
        let b = cursor.take(8)?;
        transitions.push(i64::from_be_bytes(b.try_into().expect("eight bytes")));
    }
    let type_indexes = cursor.take(time)?.to_vec();
    let mut types = Vec::with_capacity(type_count);
    for _ in 0..type_count {
        let b = cursor.take(6)?;
        types.push(LocalType {
            offset: i32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            is_dst: b[4] != 0,
        });
    }
    if types.is_empty() || type_indexes.iter().any(|&i| i as usize >= types.len()) {
        return Err("bad zone file type index");
    }
    cursor.take(chars + leap * 12 + isstd + isut)?;
    let footer = std::str::from_utf8(cursor.0)
        .ok()
        .and_then(|text| text.strip_prefix('\n'))
        .and_then(|text| text.split('\n').next())
        .filter(|text| !text.is_empty())
        .and_then(parse_posix);
    Ok(ZoneTable {
        transitions,
        type_indexes,
        types,
        footer,
    })
}

impl ZoneTable {
    fn offset_at(&self, seconds: i64) -> Offset {
        let local_type = |index: usize| {
            let t = self.types[index];
            Offset {
                seconds: t.offset,
                is_dst: t.is_dst,
            }
        };
        match self.transitions.partition_point(|&t| t <= seconds) {
            0 => local_type(0),
            n if n == self.transitions.len() => match &self.footer {
                Some(rule) => rule.offset_at(seconds),
                None => local_type(self.type_indexes[n - 1] as usize),
            },
            n => local_type(self.type_indexes[n - 1] as usize),
        }
    }
}

impl PosixRule {
    fn offset_at(&self, seconds: i64) -> Offset {
        let standard = Offset {
            seconds: self.standard,
            is_dst: false,
        };
        let Some(daylight) = &self.daylight else {
            return standard;
        };
        let dst = Offset {
            seconds: daylight.offset,
            is_dst: true,
        };
        let local_days = (seconds + self.standard as i64).div_euclid(86_400);
        let (year, _, _) = super::calendar::julian_to_date(local_days + super::UNIX_EPOCH_JULIAN);
        let unix_day = |y: i64, day: RuleDay| rule_day(y, day) - super::UNIX_EPOCH_JULIAN;
        // Start is given in standard time, end in daylight time.
        let start = unix_day(year, daylight.start.0) * 86_400 + daylight.start.1 as i64
            - self.standard as i64;
        let end = unix_day(year, daylight.end.0) * 86_400 + daylight.end.1 as i64
            - daylight.offset as i64;
        let in_dst = if start < end {
            seconds >= start && seconds < end
        } else {
            !(seconds >= end && seconds < start)
        };
        if in_dst { dst } else { standard }
    }
}

/// The Julian day of a rule day in `year`.
fn rule_day(year: i64, day: RuleDay) -> i64 {
    use super::calendar::{date_to_julian, day_of_week, days_in_month, is_leap_year};
    match day {
        RuleDay::MonthWeekDay(month, week, weekday) => {
            let first = date_to_julian(year, month, 1);
            let mut day = first + (weekday - day_of_week(first)).rem_euclid(7) + (week - 1) * 7;
            let last = first + days_in_month(year, month) - 1;
            while day > last {
                day -= 7;
            }
            day
        }
        RuleDay::JulianNoLeap(n) => {
            let jan1 = date_to_julian(year, 1, 1);
            jan1 + n - 1 + i64::from(is_leap_year(year) && n >= 60)
        }
        RuleDay::ZeroBased(n) => date_to_julian(year, 1, 1) + n,
    }
}

/// Parses a POSIX TZ string: `std offset [dst [offset] [,start[/time],end[/time]]]`.
/// Without explicit rules, daylight time follows the US rules, as the
/// `posixrules` default does.
fn parse_posix(text: &str) -> Option<PosixRule> {
    let bytes = text.as_bytes();
    let mut at = 0;
    let name = |at: &mut usize| -> Option<()> {
        if bytes.get(*at) == Some(&b'<') {
            let close = text[*at..].find('>')? + *at;
            *at = close + 1;
        } else {
            let start = *at;
            while *at < bytes.len() && bytes[*at].is_ascii_alphabetic() {
                *at += 1;
            }
            if *at - start < 3 {
                return None;
            }
        }
        Some(())
    };
    // [+-]hh[:mm[:ss]], in seconds.
    let time = |at: &mut usize, max_hours: i64| -> Option<i64> {
        let negative = match bytes.get(*at) {
            Some(b'-') => {
                *at += 1;
                true
            }
            Some(b'+') => {
                *at += 1;
                false
            }
            _ => false,
        };
        let mut parts = [0i64; 3];
        for (index, part) in parts.iter_mut().enumerate() {
            if index > 0 {
                if bytes.get(*at) != Some(&b':') {
                    break;
                }
                *at += 1;
            }
            let start = *at;
            while *at < bytes.len() && bytes[*at].is_ascii_digit() && *at - start < 3 {
                *at += 1;
            }
            if start == *at {
                return None;
            }
            *part = text[start..*at].parse().ok()?;
        }
        if parts[0] > max_hours || parts[1] > 59 || parts[2] > 59 {
            return None;
        }
        let seconds = parts[0] * 3600 + parts[1] * 60 + parts[2];
        Some(if negative { -seconds } else { seconds })
    };
    // A bare offset (`+05:30`) has no name.
    if !matches!(bytes.first(), Some(b'+' | b'-' | b'0'..=b'9')) {
        name(&mut at)?;
    }
    let standard = -time(&mut at, 24)?;
    if at == bytes.len() {
        return Some(PosixRule {
            standard: standard as i32,
            daylight: None,
        });
    }
    name(&mut at)?;
    let mut daylight = standard + 3600;
    if at < bytes.len() && bytes[at] != b',' {
        daylight = -time(&mut at, 24)?;
    }
    let rule_part = |at: &mut usize| -> Option<(RuleDay, i32)> {
        if bytes.get(*at) != Some(&b',') {
            return None;
        }
        *at += 1;
        let number = |at: &mut usize| -> Option<i64> {
            let start = *at;
            while *at < bytes.len() && bytes[*at].is_ascii_digit() {
                *at += 1;
            }
            text.get(start..*at)?.parse().ok()
        };
        let day = match bytes.get(*at)? {
            b'M' => {
                *at += 1;
                let month = number(at)?;
                (bytes.get(*at) == Some(&b'.')).then_some(())?;
                *at += 1;
                let week = number(at)?;
                (bytes.get(*at) == Some(&b'.')).then_some(())?;
                *at += 1;
                let weekday = number(at)?;
                if !(1..=12).contains(&month) || !(1..=5).contains(&week) || weekday > 6 {
                    return None;
                }
                RuleDay::MonthWeekDay(month, week, weekday)
            }
            b'J' => {
                *at += 1;
                let n = number(at)?;
                (1..=365).contains(&n).then_some(())?;
                RuleDay::JulianNoLeap(n)
            }
            _ => {
                let n = number(at)?;
                (0..=365).contains(&n).then_some(())?;
                RuleDay::ZeroBased(n)
            }
        };
        let mut seconds = 7200;
        if bytes.get(*at) == Some(&b'/') {
            *at += 1;
            seconds = time(at, 167)?;
        }
        Some((day, seconds as i32))
    };
    let (start, end) = if at == bytes.len() {
        (
            (RuleDay::MonthWeekDay(3, 2, 0), 7200),
            (RuleDay::MonthWeekDay(11, 1, 0), 7200),
        )
    } else {
        (rule_part(&mut at)?, rule_part(&mut at)?)
    };
    if at != bytes.len() {
        return None;
    }
    Some(PosixRule {
        standard: standard as i32,
        daylight: Some(Daylight {
            offset: daylight as i32,
            start,
            end,
        }),
    })
}

/// A time zone abbreviation accepted in datetime input (a subset of
/// PostgreSQL's `Default` abbreviation set): its offset in seconds east.
pub fn abbreviation(word: &str) -> Option<i32> {
    const HOUR: i32 = 3600;
    Some(match word {
        "utc" | "ut" | "gmt" | "z" | "zulu" | "wet" => 0,
        "est" => -5 * HOUR,
        "edt" => -4 * HOUR,
        "cst" => -6 * HOUR,
        "cdt" => -5 * HOUR,
        "mst" => -7 * HOUR,
        "mdt" => -6 * HOUR,
        "pst" => -8 * HOUR,
        "pdt" => -7 * HOUR,
        "akst" => -9 * HOUR,
        "akdt" => -8 * HOUR,
        "hst" => -10 * HOUR,
        "ast" => -4 * HOUR,
        "adt" => -3 * HOUR,
        "nst" => -(3 * HOUR + 1800),
        "ndt" => -(2 * HOUR + 1800),
        "cet" | "met" | "bst" | "west" => HOUR,
        "cest" | "mest" | "eet" => 2 * HOUR,
        "eest" | "msk" => 3 * HOUR,
        "ist" => 2 * HOUR,
        "hkt" | "awst" | "sgt" => 8 * HOUR,
        "jst" | "kst" => 9 * HOUR,
        "acst" => 9 * HOUR + 1800,
        "acdt" => 10 * HOUR + 1800,
        "aest" => 10 * HOUR,
        "aedt" => 11 * HOUR,
        "nzst" => 12 * HOUR,
        "nzdt" => 13 * HOUR,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn micros(unix_seconds: i64) -> i64 {
        (unix_seconds - UNIX_SECONDS_AT_POSTGRES_EPOCH) * 1_000_000
    }

    #[test]
    fn new_york_offsets_follow_the_table_and_the_footer() {
        let zone = Zone::lookup("america/new_york").expect("zone files installed");
        assert_eq!(zone.name(), "America/New_York");
        // 2024-01-15 12:00 UTC is EST, 2024-07-01 12:00 UTC is EDT.
        assert_eq!(zone.offset_at_utc(micros(1_705_320_000)).seconds, -5 * 3600);
        assert_eq!(zone.offset_at_utc(micros(1_719_835_200)).seconds, -4 * 3600);
        // 2100-07-01 is past any table: the footer rule.
        assert_eq!(zone.offset_at_utc(micros(4_118_054_400)).seconds, -4 * 3600);
        // Before 1883: local mean time, -4:56:02.
        assert_eq!(zone.offset_at_utc(micros(-3_786_825_600)).seconds, -17762);
    }

    #[test]
    fn local_times_in_gaps_and_overlaps_read_as_postgresql_reads_them() {
        let zone = Zone::lookup("America/New_York").expect("zone files installed");
        let local = |text: &str| super::super::input::parse_timestamp_fields(text);
        // 2024-03-10 02:30 does not exist: read with -5h, so 07:30 UTC.
        let gap = zone.local_to_utc(local("2024-03-10 02:30"));
        assert_eq!(gap, local("2024-03-10 07:30"));
        // 2024-11-03 01:30 happens twice: the later one (-5h), 06:30 UTC.
        let overlap = zone.local_to_utc(local("2024-11-03 01:30"));
        assert_eq!(overlap, local("2024-11-03 06:30"));
    }

    #[test]
    fn posix_strings_parse_with_inverted_signs() {
        let zone = Zone::lookup("UTC+3").expect("posix string");
        assert_eq!(zone.offset_at_utc(0).seconds, -3 * 3600);
        let zone = Zone::lookup("<+07>-7").expect("posix string");
        assert_eq!(zone.offset_at_utc(0).seconds, 7 * 3600);
        assert!(Zone::lookup("no/such_zone").is_none());
        assert!(Zone::lookup("../etc/passwd").is_none());
    }
}
