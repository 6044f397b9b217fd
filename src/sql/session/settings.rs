//! Run-time settings (`SET`, `SHOW`) with PostgreSQL's names, defaults,
//! spellings and errors.
//!
//! A session stores only what `SET` changed; every other setting reads its
//! PostgreSQL default from [`DEFAULTS`]. The `transaction_*` settings are
//! not stored: they read and change the open transaction's modes. What
//! every statement reads (isolation, `work_mem`, `lock_timeout`, …) is
//! kept parsed beside the text and parsed again at each change, so a
//! statement pays no lookup by name for it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result, SqlState};
use crate::sql::binder::TransactionModes;
use crate::sql::datetime::Zone;
use crate::txn::{IsolationLevel, Transaction};

/// The version basalt reports: PostgreSQL 15 compatible, so that libpq,
/// psql and drivers select their PostgreSQL 15 behaviour.
pub const SERVER_VERSION: &str = "15.18 (basalt)";

/// Settings with their PostgreSQL defaults; `SET` may change these.
const DEFAULTS: &[(&str, &str)] = &[
    ("application_name", ""),
    ("client_encoding", "UTF8"),
    ("client_min_messages", "notice"),
    ("datestyle", "ISO, MDY"),
    ("default_transaction_deferrable", "off"),
    ("default_transaction_isolation", "serializable"),
    ("default_transaction_read_only", "off"),
    ("extra_float_digits", "1"),
    ("hash_mem_multiplier", "2"),
    ("integer_datetimes", "on"),
    ("intervalstyle", "postgres"),
    ("is_superuser", "on"),
    ("lock_timeout", "0"),
    ("maintenance_work_mem", "64MB"),
    ("max_identifier_length", "63"),
    ("max_parallel_workers_per_gather", "2"),
    ("search_path", "\"$user\", public"),
    ("server_encoding", "UTF8"),
    ("server_version", SERVER_VERSION),
    ("server_version_num", "150018"),
    ("standard_conforming_strings", "on"),
    ("statement_timeout", "0"),
    ("synchronous_commit", "on"),
    ("timezone", "UTC"),
    ("work_mem", "4MB"),
];

/// Settings that only the server sets.
const READ_ONLY: &[&str] = &[
    "basalt.ssi_coarsenings",
    "basalt.ssi_range_locks",
    "basalt.ssi_read_locks",
    "integer_datetimes",
    "is_superuser",
    "max_identifier_length",
    "server_encoding",
    "server_version",
    "server_version_num",
];

/// What a `SET` asks for.
pub enum SetAction {
    /// The value was stored.
    Stored,
    /// A `transaction_*` setting: change the open transaction's modes.
    Transaction(TransactionModes),
}

/// One session's settings.
#[derive(Debug)]
pub struct Settings {
    changed: HashMap<String, String>,
    /// The typed values read on every statement, parsed again whenever
    /// `changed` changes rather than looked up by name each time.
    resolved: Resolved,
}

/// What the typed getters return, parsed from the changed settings and
/// the defaults by [`Resolved::of`].
#[derive(Debug, Clone)]
struct Resolved {
    zone: Arc<Zone>,
    date_order_dmy: bool,
    isolation: IsolationLevel,
    read_only: bool,
    deferrable: bool,
    lock_timeout: Option<Duration>,
    synchronous_commit: bool,
    parallel_workers: usize,
    hash_mem_multiplier: f64,
    work_mem: usize,
    maintenance_work_mem: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        let changed = HashMap::new();
        Settings {
            resolved: Resolved::of(&changed),
            changed,
        }
    }
}

impl Settings {
    /// The value of a setting as `SHOW` prints it; `transaction` is the
    /// open transaction, whose modes the `transaction_*` settings show.
    pub fn get(&self, name: &str, transaction: Option<&Transaction>) -> Option<String> {
        if let Some(value) = self.changed.get(name) {
            return Some(value.clone());
        }
        match (name, transaction) {
            ("transaction_read_only", Some(txn)) => Some(on_off(txn.is_read_only()).into()),
            ("transaction_read_only", None) => self.get("default_transaction_read_only", None),
            ("transaction_deferrable", Some(txn)) => Some(on_off(txn.is_deferrable()).into()),
            ("transaction_deferrable", None) => self.get("default_transaction_deferrable", None),
            ("transaction_isolation" | "transaction isolation level", Some(txn)) => {
                Some(txn.isolation().name().into())
            }
            ("transaction_isolation" | "transaction isolation level", None) => {
                self.get("default_transaction_isolation", None)
            }
            _ => default_value(name).map(str::to_string),
        }
    }

    /// `SHOW name`: the column name PostgreSQL gives it and the value.
    pub fn show(&self, name: &str, transaction: Option<&Transaction>) -> Result<(String, String)> {
        let name = canonical_setting(name.to_string());
        let value = self
            .get(&name, transaction)
            .ok_or_else(|| unrecognized(&name))?;
        // SHOW names its column by the setting's canonical spelling.
        let column = match name.as_str() {
            "transaction isolation level" => "transaction_isolation".to_string(),
            "datestyle" => "DateStyle".to_string(),
            "timezone" => "TimeZone".to_string(),
            "intervalstyle" => "IntervalStyle".to_string(),
            _ => name,
        };
        Ok((column, value))
    }

    /// `SET name = value`.
    pub fn set(&mut self, name: &str, value: String) -> Result<SetAction> {
        let name = match name {
            "session characteristics as transaction isolation level" => {
                "default_transaction_isolation".to_string()
            }
            _ => canonical_setting(name.to_string()),
        };
        if READ_ONLY.contains(&name.as_str()) {
            return Err(Error::sql(
                SqlState::CANT_CHANGE_RUNTIME_PARAM,
                format!("parameter \"{name}\" cannot be changed"),
            ));
        }
        if name == "default_transaction_isolation" {
            parse_isolation(&value)?;
        }
        // The current transaction's modes are not stored settings.
        let modes = match name.as_str() {
            "transaction_isolation" | "transaction isolation level" => Some(TransactionModes {
                isolation: Some(parse_isolation(&value)?),
                ..TransactionModes::default()
            }),
            "transaction_read_only" => Some(TransactionModes {
                read_only: Some(parse_boolean(&name, &value)?),
                ..TransactionModes::default()
            }),
            "transaction_deferrable" => Some(TransactionModes {
                deferrable: Some(parse_boolean(&name, &value)?),
                ..TransactionModes::default()
            }),
            _ => None,
        };
        if let Some(modes) = modes {
            return Ok(SetAction::Transaction(modes));
        }
        let value = match name.as_str() {
            "default_transaction_read_only" | "default_transaction_deferrable" => {
                on_off(parse_boolean(&name, &value)?).to_string()
            }
            "synchronous_commit" => canonical_synchronous_commit(&value)?.to_string(),
            "lock_timeout" => show_milliseconds(parse_milliseconds(&name, &value)?),
            "work_mem" | "maintenance_work_mem" => {
                show_kilobytes(parse_kilobytes(&name, &value, minimum_kilobytes(&name))?)
            }
            "hash_mem_multiplier" => show_real(parse_real(&name, &value, 1.0, 1000.0)?),
            "max_parallel_workers_per_gather" => parse_integer(&name, &value, 0, 1024)?.to_string(),
            "timezone" => match value.to_ascii_lowercase().as_str() {
                "default" | "local" => default_value("timezone")
                    .expect("invariant: TimeZone has a default")
                    .to_string(),
                _ => Zone::from_setting(&value)?.name().to_string(),
            },
            "datestyle" => canonical_date_style(&value)?,
            "intervalstyle" => match value.to_ascii_lowercase().as_str() {
                "postgres" => "postgres".to_string(),
                "postgres_verbose" | "sql_standard" | "iso_8601" => {
                    return Err(Error::Unsupported(format!("IntervalStyle {value}")));
                }
                _ => {
                    return Err(Error::sql(
                        SqlState::INVALID_PARAMETER_VALUE,
                        format!("invalid value for parameter \"IntervalStyle\": \"{value}\""),
                    ));
                }
            },
            "statement_timeout" => match parse_milliseconds(&name, &value)? {
                0 => "0".to_string(),
                _ => {
                    return Err(Error::Unsupported("statement_timeout other than 0".into()));
                }
            },
            _ => value,
        };
        if self.get(&name, None).is_none() && !name.contains('.') {
            return Err(unrecognized(&name));
        }
        self.changed.insert(name, value);
        self.resolve();
        Ok(SetAction::Stored)
    }

    /// `SET SESSION CHARACTERISTICS AS TRANSACTION …`: the defaults.
    pub fn set_defaults(&mut self, modes: TransactionModes) {
        if let Some(deferrable) = modes.deferrable {
            self.changed.insert(
                "default_transaction_deferrable".into(),
                on_off(deferrable).into(),
            );
        }
        if let Some(isolation) = modes.isolation {
            self.changed.insert(
                "default_transaction_isolation".into(),
                isolation.name().into(),
            );
        }
        if let Some(read_only) = modes.read_only {
            self.changed.insert(
                "default_transaction_read_only".into(),
                on_off(read_only).into(),
            );
        }
        self.resolve();
    }

    pub fn default_isolation(&self) -> IsolationLevel {
        self.resolved.isolation
    }

    pub fn default_read_only(&self) -> bool {
        self.resolved.read_only
    }

    pub fn default_deferrable(&self) -> bool {
        self.resolved.deferrable
    }

    /// `lock_timeout` (validated when set; 0 means no limit).
    pub fn lock_timeout(&self) -> Option<Duration> {
        self.resolved.lock_timeout
    }

    /// Whether commits wait for their WAL flush.
    pub fn synchronous_commit(&self) -> bool {
        self.resolved.synchronous_commit
    }

    /// `max_parallel_workers_per_gather`: read-ahead workers per query.
    pub fn parallel_workers(&self) -> usize {
        self.resolved.parallel_workers
    }

    /// `hash_mem_multiplier`: hash tables may hold this many times
    /// `work_mem` before they spill.
    pub fn hash_mem_multiplier(&self) -> f64 {
        self.resolved.hash_mem_multiplier
    }

    /// `work_mem` in bytes.
    pub fn work_mem(&self) -> usize {
        self.resolved.work_mem
    }

    /// `maintenance_work_mem` in bytes: what an index build sorts in
    /// memory before it spills sorted runs.
    pub fn maintenance_work_mem(&self) -> usize {
        self.resolved.maintenance_work_mem
    }

    /// `TimeZone`.
    pub fn time_zone(&self) -> Arc<Zone> {
        self.resolved.zone.clone()
    }

    /// Whether `DateStyle` reads `1/2/2024` as day first.
    pub fn date_order_dmy(&self) -> bool {
        self.resolved.date_order_dmy
    }

    /// Parses the typed values again after a change.
    fn resolve(&mut self) {
        self.resolved = Resolved::of(&self.changed);
    }
}

impl Resolved {
    /// The typed values of the `changed` settings, or of their defaults
    /// (every value was validated when set, so a parse failure keeps the
    /// default).
    fn of(changed: &HashMap<String, String>) -> Resolved {
        let value = |name: &str| match changed.get(name) {
            Some(value) => Some(value.as_str()),
            None => default_value(name),
        };
        // A memory setting in bytes (validated when set, in kB); `default`
        // is its `DEFAULTS` text in bytes (a test checks).
        let memory = |name: &str, default: usize| {
            changed
                .get(name)
                .and_then(|text| parse_kilobytes(name, text, minimum_kilobytes(name)).ok())
                .map_or(default, |kilobytes| {
                    usize::try_from(kilobytes.saturating_mul(1024)).unwrap_or(usize::MAX)
                })
        };
        Resolved {
            zone: value("timezone")
                .and_then(|text| Zone::from_setting(text).ok())
                .unwrap_or_else(Zone::utc),
            date_order_dmy: value("datestyle").is_some_and(|text| text.ends_with("DMY")),
            isolation: value("default_transaction_isolation")
                .and_then(|text| parse_isolation(text).ok())
                .unwrap_or(IsolationLevel::Serializable),
            read_only: value("default_transaction_read_only") == Some("on"),
            deferrable: value("default_transaction_deferrable") == Some("on"),
            lock_timeout: value("lock_timeout")
                .and_then(|text| parse_milliseconds("lock_timeout", text).ok())
                .filter(|milliseconds| *milliseconds > 0)
                .map(Duration::from_millis),
            synchronous_commit: value("synchronous_commit") != Some("off"),
            parallel_workers: value("max_parallel_workers_per_gather")
                .and_then(|text| text.parse().ok())
                .unwrap_or(2),
            hash_mem_multiplier: value("hash_mem_multiplier")
                .and_then(|text| parse_real("hash_mem_multiplier", text, 1.0, 1000.0).ok())
                .unwrap_or(2.0),
            work_mem: memory("work_mem", crate::sql::execution::DEFAULT_WORK_MEM),
            maintenance_work_mem: memory("maintenance_work_mem", DEFAULT_MAINTENANCE_WORK_MEM),
        }
    }
}

/// `DateStyle`: PostgreSQL's spellings of an output style and a field
/// order, folded to `ISO, MDY` or `ISO, DMY`. Only the ISO output style is
/// printed, so the others are refused rather than ignored.
fn canonical_date_style(text: &str) -> Result<String> {
    let mut order = "MDY";
    for word in text.split([',', ' ']).filter(|word| !word.is_empty()) {
        match word.to_ascii_lowercase().as_str() {
            "iso" => {}
            "mdy" | "us" | "noneuropean" | "non-european" => order = "MDY",
            "dmy" | "euro" | "european" => order = "DMY",
            "ymd" => return Err(Error::Unsupported("DateStyle field order YMD".into())),
            "sql" | "postgres" | "german" => {
                return Err(Error::Unsupported(format!("DateStyle output {word}")));
            }
            _ => {
                return Err(Error::sql(
                    SqlState::INVALID_PARAMETER_VALUE,
                    format!("invalid value for parameter \"DateStyle\": \"{text}\""),
                ));
            }
        }
    }
    Ok(format!("ISO, {order}"))
}

/// `maintenance_work_mem`'s default, PostgreSQL's: 64 MB.
pub const DEFAULT_MAINTENANCE_WORK_MEM: usize = 64 * 1024 * 1024;

/// The smallest value a memory setting takes, in kB (PostgreSQL's).
fn minimum_kilobytes(name: &str) -> u64 {
    match name {
        "maintenance_work_mem" => 1024,
        _ => 64,
    }
}

/// A setting's value before any `SET`.
fn default_value(name: &str) -> Option<&'static str> {
    DEFAULTS
        .iter()
        .find(|(default, _)| *default == name)
        .map(|(_, value)| *value)
}

fn unrecognized(name: &str) -> Error {
    Error::sql(
        SqlState::UNDEFINED_OBJECT,
        format!("unrecognized configuration parameter \"{name}\""),
    )
}

/// Folds the SQL-standard spellings of settings to their names.
fn canonical_setting(name: String) -> String {
    match name.as_str() {
        "time zone" => "timezone".to_string(),
        _ => name,
    }
}

/// PostgreSQL's spellings of `synchronous_commit`, folded to `on`/`off`:
/// every level above `off` waits for the local WAL flush (there are no
/// standbys to wait for).
fn canonical_synchronous_commit(text: &str) -> Result<&'static str> {
    match text.trim().to_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Ok("on"),
        "local" => Ok("local"),
        "remote_write" => Ok("remote_write"),
        "remote_apply" => Ok("remote_apply"),
        "off" | "false" | "no" | "0" => Ok("off"),
        other => Err(Error::sql(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("invalid value for parameter \"synchronous_commit\": \"{other}\""),
        )),
    }
}

/// A number with an optional unit, split at the first character that is
/// not part of the number.
fn split_unit(text: &str) -> (&str, &str) {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    (number, unit.trim())
}

fn invalid_value(name: &str, text: &str) -> Error {
    Error::sql(
        SqlState::INVALID_PARAMETER_VALUE,
        format!("invalid value for parameter \"{name}\": \"{text}\""),
    )
}

/// A time setting in PostgreSQL's syntax: a number of milliseconds, or a
/// number with a unit (`us`, `ms`, `s`, `min`, `h`, `d`), 0 ..= 2^31 - 1 ms.
fn parse_milliseconds(name: &str, text: &str) -> Result<u64> {
    let (number, unit) = split_unit(text);
    let number: f64 = number.parse().map_err(|_| invalid_value(name, text))?;
    let scale = match unit {
        "" | "ms" => 1.0,
        "us" => 0.001,
        "s" => 1_000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return Err(invalid_value(name, text)),
    };
    let milliseconds = (number * scale).round_ties_even();
    if !(0.0..=f64::from(i32::MAX)).contains(&milliseconds) {
        return Err(Error::sql(
            SqlState::INVALID_PARAMETER_VALUE,
            format!(
                "{milliseconds} ms is outside the valid range for parameter \"{name}\" \
                 (0 .. {})",
                i32::MAX
            ),
        ));
    }
    Ok(milliseconds as u64)
}

/// An integer setting in `minimum ..= maximum`; like PostgreSQL, a number
/// with a fraction is rounded.
fn parse_integer(name: &str, text: &str, minimum: i64, maximum: i64) -> Result<i64> {
    let number: f64 = text.trim().parse().map_err(|_| invalid_value(name, text))?;
    let number = number.round_ties_even();
    if !(minimum as f64..=maximum as f64).contains(&number) {
        return Err(Error::sql(
            SqlState::INVALID_PARAMETER_VALUE,
            format!(
                "{number} is outside the valid range for parameter \"{name}\" \
                 ({minimum} .. {maximum})"
            ),
        ));
    }
    Ok(number as i64)
}

/// A floating-point setting between `minimum` and `maximum`: PostgreSQL's
/// messages for text that is not a number (NaN included) and for numbers
/// outside the range.
fn parse_real(name: &str, text: &str, minimum: f64, maximum: f64) -> Result<f64> {
    let number: f64 = text.trim().parse().map_err(|_| invalid_value(name, text))?;
    if number.is_nan() {
        return Err(invalid_value(name, text));
    }
    if !(minimum..=maximum).contains(&number) {
        let shown = match number {
            f64::INFINITY => "Infinity".to_string(),
            f64::NEG_INFINITY => "-Infinity".to_string(),
            _ => show_real(number),
        };
        return Err(Error::sql(
            SqlState::INVALID_PARAMETER_VALUE,
            format!(
                "{shown} is outside the valid range for parameter \"{name}\" \
                 ({} .. {})",
                show_real(minimum),
                show_real(maximum)
            ),
        ));
    }
    Ok(number)
}

/// A floating-point setting as PostgreSQL shows it (`%g`): six significant
/// digits, no trailing zeros.
fn show_real(number: f64) -> String {
    if number == 0.0 || !number.is_finite() {
        return format!("{number}");
    }
    let integer_digits = number.abs().log10().floor() as i32 + 1;
    if !(-4..=6).contains(&integer_digits) {
        let text = format!("{number:.5e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    let decimals = usize::try_from(6 - integer_digits).unwrap_or(0);
    let text = format!("{number:.decimals$}");
    match text.contains('.') {
        true => text.trim_end_matches('0').trim_end_matches('.').to_string(),
        false => text,
    }
}

/// How PostgreSQL shows a time setting: in the largest unit that divides it.
fn show_milliseconds(milliseconds: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "min"),
        (1_000, "s"),
    ];
    if milliseconds == 0 {
        return "0".into();
    }
    UNITS
        .iter()
        .find(|(size, _)| milliseconds.is_multiple_of(*size))
        .map(|(size, unit)| format!("{}{unit}", milliseconds / size))
        .unwrap_or_else(|| format!("{milliseconds}ms"))
}

/// A memory setting in PostgreSQL's syntax: kilobytes, or a number with a
/// unit (`B`, `kB`, `MB`, `GB`, `TB`), at least `minimum` kB and at most
/// 2^31 - 1 kB.
fn parse_kilobytes(name: &str, text: &str, minimum: u64) -> Result<u64> {
    let (number, unit) = split_unit(text);
    let number: f64 = number.parse().map_err(|_| invalid_value(name, text))?;
    let scale = match unit {
        "" | "kB" => 1.0,
        "B" => 1.0 / 1024.0,
        "MB" => 1024.0,
        "GB" => 1024.0 * 1024.0,
        "TB" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(invalid_value(name, text)),
    };
    let kilobytes = (number * scale).round_ties_even();
    let maximum = f64::from(i32::MAX);
    if !(minimum as f64..=maximum).contains(&kilobytes) {
        return Err(Error::sql(
            SqlState::INVALID_PARAMETER_VALUE,
            format!(
                "{kilobytes} kB is outside the valid range for parameter \"{name}\" \
                 ({minimum} .. {})",
                i32::MAX
            ),
        ));
    }
    Ok(kilobytes as u64)
}

/// How PostgreSQL shows a memory setting: in the largest unit that divides it.
fn show_kilobytes(kilobytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [
        (1024 * 1024 * 1024, "TB"),
        (1024 * 1024, "GB"),
        (1024, "MB"),
    ];
    UNITS
        .iter()
        .find(|(size, _)| kilobytes.is_multiple_of(*size))
        .map(|(size, unit)| format!("{}{unit}", kilobytes / size))
        .unwrap_or_else(|| format!("{kilobytes}kB"))
}

pub(super) fn parse_isolation(text: &str) -> Result<IsolationLevel> {
    match text.trim().to_lowercase().as_str() {
        "read committed" | "read uncommitted" => Ok(IsolationLevel::ReadCommitted),
        "repeatable read" => Ok(IsolationLevel::RepeatableRead),
        "serializable" => Ok(IsolationLevel::Serializable),
        other => Err(Error::sql(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("invalid value for parameter \"default_transaction_isolation\": \"{other}\""),
        )),
    }
}

/// A boolean setting in PostgreSQL's spellings.
fn parse_boolean(name: &str, text: &str) -> Result<bool> {
    match text.trim().to_lowercase().as_str() {
        "on" | "true" | "yes" | "1" | "t" | "y" => Ok(true),
        "off" | "false" | "no" | "0" | "f" | "n" => Ok(false),
        _ => Err(Error::sql(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("parameter \"{name}\" requires a Boolean value"),
        )),
    }
}

fn on_off(value: bool) -> &'static str {
    if value { "on" } else { "off" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_mem_multiplier_is_a_real_between_1_and_1000() {
        let mut settings = Settings::default();
        assert_eq!(settings.hash_mem_multiplier(), 2.0);
        assert_eq!(
            settings.get("hash_mem_multiplier", None).as_deref(),
            Some("2")
        );
        for (value, shown) in [
            ("1.5", "1.5"),
            (" 2.50 ", "2.5"),
            ("1e3", "1000"),
            ("1.23456789", "1.23457"),
        ] {
            settings
                .set("hash_mem_multiplier", value.into())
                .expect("in range");
            assert_eq!(
                settings.get("hash_mem_multiplier", None).as_deref(),
                Some(shown)
            );
        }
        assert_eq!(settings.hash_mem_multiplier(), 1.23457);
        for (value, message) in [
            (
                "0.5",
                "0.5 is outside the valid range for parameter \"hash_mem_multiplier\" (1 .. 1000)",
            ),
            (
                "1001",
                "1001 is outside the valid range for parameter \"hash_mem_multiplier\" (1 .. 1000)",
            ),
            (
                "inf",
                "Infinity is outside the valid range for parameter \"hash_mem_multiplier\" (1 .. 1000)",
            ),
            (
                "nan",
                "invalid value for parameter \"hash_mem_multiplier\": \"nan\"",
            ),
            (
                "abc",
                "invalid value for parameter \"hash_mem_multiplier\": \"abc\"",
            ),
        ] {
            let Err(error) = settings.set("hash_mem_multiplier", value.into()) else {
                panic!("{value} accepted");
            };
            assert_eq!(
                error.sqlstate(),
                SqlState::INVALID_PARAMETER_VALUE,
                "{value}"
            );
            assert_eq!(error.to_string(), message);
        }
    }

    #[test]
    fn work_mem_takes_postgres_units_and_shows_the_largest() {
        let mut settings = Settings::default();
        assert_eq!(settings.work_mem(), 4 * 1024 * 1024);
        assert!(matches!(
            settings.set("work_mem", "64kB".into()),
            Ok(SetAction::Stored)
        ));
        assert_eq!(settings.work_mem(), 64 * 1024);
        assert_eq!(settings.get("work_mem", None).as_deref(), Some("64kB"));
        settings.set("work_mem", "2048".into()).expect("plain kB");
        assert_eq!(settings.get("work_mem", None).as_deref(), Some("2MB"));
        let error = match settings.set("work_mem", "10kB".into()) {
            Err(error) => error,
            Ok(_) => panic!("below the minimum"),
        };
        assert_eq!(error.sqlstate(), SqlState::INVALID_PARAMETER_VALUE);
        assert!(settings.set("work_mem", "4 parsecs".into()).is_err());
    }

    #[test]
    fn memory_defaults_are_their_defaults_text() {
        for (name, default) in [
            ("work_mem", crate::sql::execution::DEFAULT_WORK_MEM),
            ("maintenance_work_mem", DEFAULT_MAINTENANCE_WORK_MEM),
        ] {
            let text = default_value(name).expect("a default");
            let kilobytes = parse_kilobytes(name, text, minimum_kilobytes(name)).expect("valid");
            assert_eq!(kilobytes * 1024, default as u64, "{name}");
        }
    }

    #[test]
    fn maintenance_work_mem_defaults_to_64mb_and_takes_at_least_1mb() {
        let mut settings = Settings::default();
        assert_eq!(settings.maintenance_work_mem(), 64 * 1024 * 1024);
        assert_eq!(
            settings.get("maintenance_work_mem", None).as_deref(),
            Some("64MB")
        );
        let error = match settings.set("maintenance_work_mem", "512kB".into()) {
            Err(error) => error,
            Ok(_) => panic!("below the minimum"),
        };
        assert_eq!(error.sqlstate(), SqlState::INVALID_PARAMETER_VALUE);
        settings
            .set("maintenance_work_mem", "1024".into())
            .expect("plain kB");
        assert_eq!(settings.maintenance_work_mem(), 1024 * 1024);
        assert_eq!(
            settings.get("maintenance_work_mem", None).as_deref(),
            Some("1MB")
        );
        // work_mem keeps its own, lower minimum.
        settings.set("work_mem", "64kB".into()).expect("in range");
        assert_eq!(settings.work_mem(), 64 * 1024);
    }

    #[test]
    fn time_settings_show_in_the_largest_unit() {
        assert_eq!(show_milliseconds(90_000), "90s");
        assert_eq!(show_milliseconds(120_000), "2min");
        assert_eq!(parse_milliseconds("lock_timeout", "1.5s").unwrap(), 1500);
    }
}
