//! Runs the sample of SQLite's sqllogictest corpus in `../shared/sqllogictest`
//! (read in place, never copied into the repository) and holds basalt to
//! PostgreSQL 15's results on it.
//!
//! Two modes, one harness:
//!
//! - **basalt** (the default): every `*.test` file runs in-process, each on
//!   its own in-memory database, the files in parallel on
//!   `available_parallelism()` threads. The test prints a per-file table,
//!   totals and basalt's failures grouped by error, then fails if any record
//!   that PostgreSQL passed (by line, from `tests/corpus_expected.txt`)
//!   fails in basalt, or if a file's pass count is below PostgreSQL's on the
//!   same records. Every record runs, `CREATE [UNIQUE] INDEX` included. A
//!   panic in basalt fails its record only.
//! - **PostgreSQL**: when `BASALT_CORPUS_POSTGRES` holds a connection string
//!   (`host=/tmp port=5499 user=postgres`), every file runs in a fresh
//!   database `corpus_<n>` of that server through the simple query protocol,
//!   and the results are written to `tests/corpus_expected.txt` instead of
//!   being checked. `scripts/corpus_on_postgres.sh` does all of it.
//!
//! For work on basalt: `BASALT_CORPUS_FILTER=<substring>` runs only the files
//! whose path contains it, and `BASALT_CORPUS_FAILURES=<file>` writes every
//! failing record there (`path:line`, first SQL line, why; tab-separated).
//!
//! Until basalt passes everything PostgreSQL passes, `tests/corpus_floor.txt`
//! lists the files where it does not yet, each with the number of records
//! basalt passed when the line was last lowered to it: in those files the
//! test fails only if basalt passes fewer (a regression), and it says when
//! a file has caught up and its line can go.
//!
//! `tests/corpus_expected.txt`: `#` lines are comments, then one line per
//! file: `<path from the corpus root> <records run> <records passed>
//! failed: <line> <line> ...`, the line being that of the record's
//! `statement` or `query` line.
//!
//! The format, as the reference harness (sqllogictest.c) reads it, run under
//! the label `postgresql`:
//!
//! - Lines may end in CRLF. Blank lines separate records; `#` lines between
//!   records are comments.
//! - A record may start with condition lines `skipif <label>` or
//!   `onlyif <label>`, possibly several and possibly followed by a comment
//!   (`skipif mysql # not compatible`); the record runs only if all apply.
//! - `hash-threshold N`; `halt`, which ends the file only when its
//!   conditions apply (`onlyif mssql` + `halt` stops only mssql).
//! - `statement ok` / `statement error` (any error passes), then the SQL.
//! - `query <type letters> [nosort|rowsort|valuesort] [label]`, the SQL,
//!   `----`, then the expected values one per line, or a single line
//!   `N values hashing to <md5>`. Labels are ignored.
//! - Each value is rendered by its column's type letter: `I` as an integer
//!   (a float or numeric text truncated toward zero, other text 0, as
//!   `sqlite3_column_int64` does, except PostgreSQL's booleans `t` and `f`,
//!   which are 1 and 0 as an ODBC driver converts them), `R` as `%.3f`, `T` as text with the empty string as `(empty)`
//!   and every byte outside `' '..='~'` as `@`; NULL is `NULL` in any
//!   column. `rowsort` sorts rows (as lists of rendered values), `valuesort`
//!   sorts all values, `nosort` keeps the order.
//! - The result is compared as `N values hashing to H` (H the md5 of every
//!   rendered value followed by `\n`) when the expected block is written that
//!   way or when it has more values than a nonzero hash threshold; otherwise
//!   value by value. A wrong number of columns fails the query.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};
use std::time::Instant;

use md5::{Digest, Md5};

/// The label that `skipif` / `onlyif` lines are matched against.
const LABEL: &str = "postgresql";
/// How many failing records the failure message lists per file.
const LISTED_PER_FILE: usize = 5;
/// How many failure categories the summary prints.
const LISTED_CATEGORIES: usize = 40;

// ---------------------------------------------------------------- parsing

#[derive(Clone, Copy, Debug, PartialEq)]
enum Sort {
    No,
    Rows,
    Values,
}

#[derive(Debug)]
enum Kind {
    Statement {
        expect_error: bool,
    },
    Query {
        types: Vec<u8>,
        sort: Sort,
        /// The expected block as written: values, or one hash line.
        expected: Vec<String>,
        /// The file's hash threshold in force at this record (0: none).
        hash_threshold: usize,
    },
}

/// One record that applies to [`LABEL`]; skipped records are not kept.
#[derive(Debug)]
struct Record {
    /// 1-based line of the `statement` / `query` line.
    line: usize,
    sql: String,
    kind: Kind,
}

impl Record {
    fn first_sql_line(&self) -> &str {
        self.sql.lines().next().unwrap_or("").trim()
    }
}

/// Parses one corpus file into the records that run under [`LABEL`].
fn parse(text: &str) -> Result<Vec<Record>, String> {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .collect();
    let blank = |line: &str| line.trim().is_empty();
    let mut records = Vec::new();
    let mut hash_threshold = 0;
    let mut i = 0;
    loop {
        while i < lines.len() && (blank(lines[i]) || lines[i].starts_with('#')) {
            i += 1;
        }
        if i >= lines.len() {
            return Ok(records);
        }
        let mut applies = true;
        while i < lines.len() && (lines[i].starts_with("skipif") || lines[i].starts_with("onlyif"))
        {
            let mut words = lines[i].split_whitespace();
            let condition = words.next();
            let label = words
                .next()
                .ok_or_else(|| format!("line {}: condition without a label", i + 1))?;
            match condition {
                Some("skipif") if label == LABEL => applies = false,
                Some("onlyif") if label != LABEL => applies = false,
                _ => {}
            }
            i += 1;
        }
        let line = i + 1;
        let header = lines
            .get(i)
            .filter(|header| !blank(header))
            .ok_or_else(|| format!("line {line}: conditions without a record"))?;
        let words: Vec<&str> = header.split_whitespace().collect();
        let mut body = Vec::new();
        i += 1;
        while i < lines.len() && !blank(lines[i]) {
            body.push(lines[i]);
            i += 1;
        }
        // A statement's body is all SQL; a query's SQL ends at `----`.
        let (sql, expected) = match body.iter().position(|l| *l == "----") {
            Some(at) => (&body[..at], &body[at + 1..]),
            None => (&body[..], &[][..]),
        };
        let kind = match words[0] {
            "halt" if applies => return Ok(records),
            "halt" => continue,
            "hash-threshold" => {
                if applies {
                    hash_threshold = words
                        .get(1)
                        .and_then(|n| n.parse().ok())
                        .ok_or_else(|| format!("line {line}: bad hash-threshold"))?;
                }
                continue;
            }
            "statement" => match words.get(1) {
                Some(&"ok") => Kind::Statement {
                    expect_error: false,
                },
                Some(&"error") => Kind::Statement { expect_error: true },
                _ => return Err(format!("line {line}: bad statement line {header:?}")),
            },
            "query" => Kind::Query {
                types: words
                    .get(1)
                    .ok_or_else(|| format!("line {line}: query without types"))?
                    .as_bytes()
                    .to_vec(),
                sort: match words.get(2) {
                    None | Some(&"nosort") => Sort::No,
                    Some(&"rowsort") => Sort::Rows,
                    Some(&"valuesort") => Sort::Values,
                    Some(other) => return Err(format!("line {line}: unknown sort {other:?}")),
                },
                expected: expected.iter().map(|l| l.to_string()).collect(),
                hash_threshold,
            },
            _ => return Err(format!("line {line}: unknown record {header:?}")),
        };
        if applies {
            records.push(Record {
                line,
                sql: sql.join("\n"),
                kind,
            });
        }
    }
}

// ---------------------------------------------------------------- backends

/// What one record's SQL produced.
enum Output {
    /// A command (or nothing): no result set.
    Done,
    /// A result set: the number of columns and the rows as PostgreSQL text
    /// values, `None` for NULL.
    Rows {
        columns: usize,
        rows: Vec<Vec<Option<String>>>,
    },
}

/// An engine the corpus runs against; one value per file (fresh database).
trait Backend {
    /// Runs one record's SQL; the error is `"<SQLSTATE> <message>"`.
    fn run(&mut self, sql: &str) -> Result<Output, String>;
}

/// basalt in-process. All use of basalt's API is in here.
struct Basalt {
    session: basalt::sql::Session,
}

impl Basalt {
    fn new() -> Basalt {
        let database = basalt::Database::open_in_memory().expect("open in-memory database");
        Basalt {
            session: database.session(),
        }
    }
}

impl Backend for Basalt {
    fn run(&mut self, sql: &str) -> Result<Output, String> {
        use basalt::sql::Outcome;
        let to_error = |e: basalt::Error| format!("{} {}", e.sqlstate().code(), e);
        let statements = self.session.parse(sql).map_err(to_error)?;
        // Each statement in its own autocommit transaction, as the other
        // sqllogictest runner does; a record holds one statement anyway.
        let mut last = Output::Done;
        for statement in statements {
            let prepared = self
                .session
                .prepare_statement(statement, &[])
                .map_err(to_error)?;
            last = match self.session.execute(&prepared, &[]).map_err(to_error)? {
                Outcome::Rows {
                    columns,
                    mut cursor,
                } => Output::Rows {
                    columns: columns.len(),
                    rows: self
                        .session
                        .fetch_all(&mut cursor)
                        .map_err(to_error)?
                        .into_iter()
                        .map(|row| row.iter().map(|value| value.to_text()).collect())
                        .collect(),
                },
                Outcome::Command { .. } | Outcome::Empty => Output::Done,
            };
        }
        Ok(last)
    }
}

/// PostgreSQL through tokio-postgres' simple query protocol (text values),
/// one database per file, created here and dropped on drop.
struct Postgres {
    runtime: tokio::runtime::Runtime,
    admin: tokio_postgres::Client,
    client: Option<tokio_postgres::Client>,
    database: String,
}

fn pg_error(error: tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} {}", db.code().code(), db.message()),
        None => error.to_string(),
    }
}

impl Postgres {
    fn new(config: &str, database: String) -> Postgres {
        // One single-threaded runtime per file: its spawned connection tasks
        // make progress whenever `block_on` waits on the client.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let config: tokio_postgres::Config = config
            .parse()
            .expect("BASALT_CORPUS_POSTGRES is a libpq-style connection string");
        let connect = |config: tokio_postgres::Config| {
            let (client, connection) = runtime
                .block_on(config.connect(tokio_postgres::NoTls))
                .expect("connect to PostgreSQL");
            runtime.spawn(connection);
            client
        };
        let admin = connect(config.clone());
        for sql in [
            format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"),
            format!("CREATE DATABASE {database}"),
        ] {
            runtime
                .block_on(admin.simple_query(&sql))
                .unwrap_or_else(|e| panic!("{sql}: {}", pg_error(e)));
        }
        let mut file_config = config;
        file_config.dbname(&database);
        let client = connect(file_config);
        Postgres {
            runtime,
            admin,
            client: Some(client),
            database,
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.client = None;
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.database);
        if let Err(e) = self.runtime.block_on(self.admin.simple_query(&sql)) {
            eprintln!("{sql}: {}", pg_error(e));
        }
    }
}

impl Backend for Postgres {
    fn run(&mut self, sql: &str) -> Result<Output, String> {
        use tokio_postgres::SimpleQueryMessage;
        let client = self.client.as_ref().expect("connected");
        let messages = self
            .runtime
            .block_on(client.simple_query(sql))
            .map_err(pg_error)?;
        // The last statement's result decides, as in the basalt backend: a
        // result set is RowDescription, rows, CommandComplete; a command is
        // CommandComplete alone.
        let mut last = Output::Done;
        let mut in_result_set = false;
        for message in messages {
            match message {
                SimpleQueryMessage::RowDescription(columns) => {
                    in_result_set = true;
                    last = Output::Rows {
                        columns: columns.len(),
                        rows: Vec::new(),
                    }
                }
                SimpleQueryMessage::Row(row) => {
                    if let Output::Rows { rows, .. } = &mut last {
                        rows.push(
                            (0..row.len())
                                .map(|i| row.get(i).map(str::to_string))
                                .collect(),
                        );
                    }
                }
                SimpleQueryMessage::CommandComplete(_) => {
                    if !in_result_set {
                        last = Output::Done;
                    }
                    in_result_set = false;
                }
                // Whatever later versions of the enum add.
                _ => {}
            }
        }
        Ok(last)
    }
}

// ---------------------------------------------------------------- checking

/// The longest prefix of `text` (after leading spaces) that reads as a
/// number, as SQLite's text-to-number conversions take it; `true` when it
/// has a fraction or an exponent.
fn numeric_prefix(text: &str) -> Option<(&str, bool)> {
    let text = text.trim_start();
    let bytes = text.as_bytes();
    let digits_from = |mut at: usize| {
        while at < bytes.len() && bytes[at].is_ascii_digit() {
            at += 1;
        }
        at
    };
    let mut end = usize::from(matches!(bytes.first(), Some(b'+' | b'-')));
    let integer_end = digits_from(end);
    let mut has_digits = integer_end > end;
    end = integer_end;
    let mut is_float = false;
    if bytes.get(end) == Some(&b'.') {
        let fraction_end = digits_from(end + 1);
        if has_digits || fraction_end > end + 1 {
            has_digits = true;
            is_float = true;
            end = fraction_end;
        }
    }
    if !has_digits {
        return None;
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(bytes.get(end + 1), Some(b'+' | b'-')));
        let exponent_end = digits_from(end + 1 + sign);
        if exponent_end > end + 1 + sign {
            is_float = true;
            end = exponent_end;
        }
    }
    Some((&text[..end], is_float))
}

/// One value rendered by its column's type letter, as the reference harness.
fn render(value: Option<&str>, type_letter: u8) -> String {
    let Some(text) = value else {
        return "NULL".to_string();
    };
    let as_float = || match numeric_prefix(text) {
        Some((number, _)) => number.parse::<f64>().unwrap_or(0.0),
        None => 0.0,
    };
    match type_letter {
        b'I' if text == "t" => "1".to_string(),
        b'I' if text == "f" => "0".to_string(),
        b'I' => {
            let integer = match numeric_prefix(text) {
                Some((number, false)) => number
                    .parse::<i64>()
                    // Out of i64 range: saturate, as a float would.
                    .unwrap_or_else(|_| as_float() as i64),
                // `as` truncates toward zero and saturates.
                Some((_, true)) => as_float() as i64,
                None => 0,
            };
            integer.to_string()
        }
        b'R' => format!("{:.3}", as_float()),
        _ if text.is_empty() => "(empty)".to_string(),
        _ => text
            .bytes()
            .map(|b| {
                if (b' '..=b'~').contains(&b) {
                    b as char
                } else {
                    '@'
                }
            })
            .collect(),
    }
}

fn hash_line(values: &[String]) -> String {
    let mut hasher = Md5::new();
    for value in values {
        hasher.update(value.as_bytes());
        hasher.update(b"\n");
    }
    format!("{} values hashing to {:x}", values.len(), hasher.finalize())
}

fn is_hash_line(line: &str) -> bool {
    let mut words = line.split(' ');
    words.next().is_some_and(|n| n.parse::<usize>().is_ok())
        && words.next() == Some("values")
        && words.next() == Some("hashing")
        && words.next() == Some("to")
        && words
            .next()
            .is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        && words.next().is_none()
}

/// Checks one record's outcome; `Err` says why it failed.
fn check(kind: &Kind, outcome: Result<Output, String>) -> Result<(), String> {
    let (types, sort, expected, hash_threshold) = match kind {
        Kind::Statement { expect_error } => {
            return match (outcome, expect_error) {
                (Ok(_), false) | (Err(_), true) => Ok(()),
                (Ok(_), true) => Err("statement succeeded; an error was expected".into()),
                (Err(error), false) => Err(error),
            };
        }
        Kind::Query {
            types,
            sort,
            expected,
            hash_threshold,
        } => (types, *sort, expected, *hash_threshold),
    };
    let (columns, rows) = match outcome? {
        Output::Rows { columns, rows } => (columns, rows),
        Output::Done => return Err("no result set".into()),
    };
    if columns != types.len() {
        return Err(format!(
            "wrong number of columns: {columns}, expected {}",
            types.len()
        ));
    }
    let mut rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .zip(types)
                .map(|(value, &letter)| render(value.as_deref(), letter))
                .collect()
        })
        .collect();
    if sort == Sort::Rows {
        rows.sort();
    }
    let mut values: Vec<String> = rows.into_iter().flatten().collect();
    if sort == Sort::Values {
        values.sort();
    }
    let hashed = (expected.len() == 1 && is_hash_line(&expected[0]))
        || (hash_threshold > 0 && values.len() > hash_threshold);
    if hashed {
        let actual = hash_line(&values);
        return match expected.first() {
            Some(line) if expected.len() == 1 && *line == actual => Ok(()),
            _ => Err(format!(
                "got `{actual}`, expected `{}`",
                expected.first().map_or("", String::as_str)
            )),
        };
    }
    if let Some(at) = (0..values.len().min(expected.len())).find(|&i| values[i] != expected[i]) {
        return Err(format!(
            "value {} (row {}, column {}) is `{}`, expected `{}`{}",
            at + 1,
            at / types.len() + 1,
            at % types.len() + 1,
            values[at],
            expected[at],
            if values.len() == expected.len() {
                String::new()
            } else {
                format!("; {} values, expected {}", values.len(), expected.len())
            }
        ));
    }
    if values.len() != expected.len() {
        return Err(format!(
            "{} values, expected {}",
            values.len(),
            expected.len()
        ));
    }
    Ok(())
}

thread_local! {
    /// Set while a backend runs, so the panic hook stays quiet: a panic in
    /// basalt is a failed record, reported with the others.
    static IN_BACKEND: Cell<bool> = const { Cell::new(false) };
}

fn quiet_panics_in_backends() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_BACKEND.with(Cell::get) {
                default(info);
            }
        }));
    });
}

fn run_guarded(backend: &mut dyn Backend, sql: &str) -> Result<Output, String> {
    IN_BACKEND.with(|flag| flag.set(true));
    let result = catch_unwind(AssertUnwindSafe(|| backend.run(sql)));
    IN_BACKEND.with(|flag| flag.set(false));
    result.unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(format!("panic: {message}"))
    })
}

struct Failure {
    line: usize,
    sql: String,
    why: String,
}

/// One file's results.
#[derive(Default)]
struct FileResult {
    run: usize,
    passed: usize,
    failures: Vec<Failure>,
    /// How long the file took.
    elapsed: std::time::Duration,
}

fn run_file(records: &[Record], backend: &mut dyn Backend) -> FileResult {
    let mut result = FileResult::default();
    for record in records {
        result.run += 1;
        match check(&record.kind, run_guarded(backend, &record.sql)) {
            Ok(()) => result.passed += 1,
            Err(why) => result.failures.push(Failure {
                line: record.line,
                sql: record.first_sql_line().to_string(),
                why,
            }),
        }
    }
    result
}

// ---------------------------------------------------------------- driver

fn corpus_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/sqllogictest")
}

fn expected_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus_expected.txt")
}

fn test_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            test_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "test") {
            files.push(path);
        }
    }
}

/// PostgreSQL's line of `tests/corpus_expected.txt` for one file.
struct ExpectedFile {
    run: usize,
    passed: usize,
    failed: BTreeSet<usize>,
}

fn read_expected() -> BTreeMap<String, ExpectedFile> {
    let path = expected_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run scripts/corpus_on_postgres.sh)",
            path.display()
        )
    });
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|(n, line)| {
            parse_expected_line(line)
                .unwrap_or_else(|| panic!("{}:{}: malformed {line:?}", path.display(), n + 1))
        })
        .collect()
}

fn parse_expected_line(line: &str) -> Option<(String, ExpectedFile)> {
    let mut words = line.split_whitespace();
    let file = words.next()?.to_string();
    let run = words.next()?.parse().ok()?;
    let passed = words.next()?.parse().ok()?;
    if words.next() != Some("failed:") {
        return None;
    }
    let failed = words
        .map(|w| w.parse().ok())
        .collect::<Option<BTreeSet<usize>>>()?;
    (passed + failed.len() == run).then_some((
        file,
        ExpectedFile {
            run,
            passed,
            failed,
        },
    ))
}

/// Runs every file on `threads` threads, largest first so the slowest file
/// does not start last; results in path order.
fn run_all(
    files: &[(String, Vec<Record>)],
    threads: usize,
    backend: &(dyn Fn(usize) -> Box<dyn Backend> + Sync),
) -> Vec<FileResult> {
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(files[i].1.len()));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<FileResult>>> =
        Mutex::new((0..files.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let started = Instant::now();
                    let mut engine = backend(i);
                    let mut result = run_file(&files[i].1, engine.as_mut());
                    result.elapsed = started.elapsed();
                    drop(engine);
                    results.lock().expect("results lock")[i] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .expect("results lock")
        .into_iter()
        .map(|r| r.expect("every file ran"))
        .collect()
}

/// A failure reason with the parts that vary (quoted names and values,
/// numbers) blanked, so that failures group by kind.
fn category(why: &str) -> String {
    if why.starts_with("value ") || why.starts_with("got `") || why.contains(" values, expected ") {
        return "wrong result".into();
    }
    // A leading SQLSTATE stays as it is.
    let (state, message) = match why.split_at_checked(6) {
        Some((state, message))
            if state.ends_with(' ') && state[..5].bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            (state, message)
        }
        _ => ("", why),
    };
    let mut out = String::from(state);
    let mut quote = None;
    for c in message.chars() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                out.push(c);
            }
            Some(_) => {}
            None if c == '"' || c == '\'' || c == '`' => {
                quote = Some(c);
                out.push(c);
                out.push('…');
            }
            None if c.is_ascii_digit() => {
                if !out.ends_with('N') {
                    out.push('N');
                }
            }
            None => out.push(c),
        }
    }
    out.chars().take(100).collect()
}

#[test]
fn sqlite_corpus() {
    let root = corpus_root();
    let mut paths = Vec::new();
    test_files(&root, &mut paths);
    paths.sort();
    assert!(!paths.is_empty(), "no .test files under {}", root.display());
    // `BASALT_CORPUS_FILTER=<substring>`: run only the files whose path has
    // it, for working on basalt; the expectation is then not rewritten.
    let filter = std::env::var("BASALT_CORPUS_FILTER").unwrap_or_default();
    let postgres = std::env::var("BASALT_CORPUS_POSTGRES").unwrap_or_default();
    assert!(
        filter.is_empty() || postgres.is_empty(),
        "BASALT_CORPUS_FILTER would write a partial tests/corpus_expected.txt"
    );
    let files: Vec<(String, Vec<Record>)> = paths
        .iter()
        .map(|path| {
            path.strip_prefix(&root)
                .expect("under the corpus root")
                .to_string_lossy()
                .into_owned()
        })
        .zip(&paths)
        .filter(|(relative, _)| relative.contains(&filter))
        .map(|(relative, path)| {
            let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{relative}: {e}"));
            let records = parse(&String::from_utf8_lossy(&bytes))
                .unwrap_or_else(|e| panic!("{relative}: {e}"));
            (relative, records)
        })
        .collect();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    quiet_panics_in_backends();
    let started = Instant::now();
    let results = if postgres.is_empty() {
        run_all(&files, threads, &|_| Box::new(Basalt::new()))
    } else {
        run_all(&files, threads, &|i| {
            Box::new(Postgres::new(&postgres, format!("corpus_{i}")))
        })
    };
    let elapsed = started.elapsed();
    if let Ok(path) = std::env::var("BASALT_CORPUS_FAILURES") {
        write_failures(Path::new(&path), &files, &results);
    }
    if postgres.is_empty() {
        compare_with_postgres(&files, &results, elapsed, filter.is_empty());
    } else {
        write_expected(&files, &results);
        println!(
            "PostgreSQL: {} files on {threads} threads in {elapsed:.1?}, wrote {}",
            files.len(),
            expected_path().display()
        );
    }
}

/// Every failing record, one a line, for triage (`BASALT_CORPUS_FAILURES`).
fn write_failures(path: &Path, files: &[(String, Vec<Record>)], results: &[FileResult]) {
    let mut text = String::new();
    for ((file, _), result) in files.iter().zip(results) {
        for failure in &result.failures {
            writeln!(
                text,
                "{file}:{}\t{}\t{}",
                failure.line, failure.sql, failure.why
            )
            .expect("write to a String");
        }
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn write_expected(files: &[(String, Vec<Record>)], results: &[FileResult]) {
    let mut text = String::from(
        "# PostgreSQL 15's results on ../shared/sqllogictest, written by tests/corpus.rs\n\
         # (scripts/corpus_on_postgres.sh): path, records run, passed, failed lines.\n",
    );
    let (mut run, mut passed) = (0, 0);
    for ((path, _), result) in files.iter().zip(results) {
        let failed: Vec<String> = result.failures.iter().map(|f| f.line.to_string()).collect();
        writeln!(
            text,
            "{path} {} {} failed:{}{}",
            result.run,
            result.passed,
            if failed.is_empty() { "" } else { " " },
            failed.join(" ")
        )
        .expect("write to a String");
        println!("{path:<48} {:>7} {:>7}", result.run, result.passed);
        run += result.run;
        passed += result.passed;
    }
    println!("{:<48} {run:>7} {passed:>7}", "total");
    std::fs::write(expected_path(), text).expect("write tests/corpus_expected.txt");
}

/// `tests/corpus_floor.txt`: `path passed` per line, `#` lines comments.
fn read_floor() -> BTreeMap<String, usize> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus_floor.txt");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return BTreeMap::new();
    };
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (file, count) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("tests/corpus_floor.txt: bad line {line:?}"));
            let count = count
                .parse()
                .unwrap_or_else(|_| panic!("tests/corpus_floor.txt: bad count in {line:?}"));
            (file.to_string(), count)
        })
        .collect()
}

fn compare_with_postgres(
    files: &[(String, Vec<Record>)],
    results: &[FileResult],
    elapsed: std::time::Duration,
    whole_corpus: bool,
) {
    let expected = read_expected();
    let floor = read_floor();
    let mut caught_up = Vec::new();
    let mut problems = Vec::new();
    for path in expected.keys().filter(|_| whole_corpus) {
        if !files.iter().any(|(p, _)| p == path) {
            problems.push(format!(
                "{path}: in tests/corpus_expected.txt but not in the corpus"
            ));
        }
    }
    let mut categories: BTreeMap<String, usize> = BTreeMap::new();
    let (mut total_run, mut total_basalt, mut total_postgres) = (0, 0, 0);
    println!(
        "{:<48} {:>8} {:>8} {:>8} {:>8}",
        "file", "records", "basalt", "postgres", "seconds"
    );
    for ((path, records), result) in files.iter().zip(results) {
        let Some(postgres) = expected.get(path) else {
            problems.push(format!(
                "{path}: not in tests/corpus_expected.txt (run scripts/corpus_on_postgres.sh)"
            ));
            continue;
        };
        if postgres.run != result.run {
            problems.push(format!(
                "{path}: PostgreSQL ran {} records, basalt {}: \
                 tests/corpus_expected.txt is out of date",
                postgres.run, result.run
            ));
            continue;
        }
        // PostgreSQL's pass count over the records basalt ran.
        let postgres_passed = records
            .iter()
            .filter(|r| !postgres.failed.contains(&r.line))
            .count();
        println!(
            "{path:<48} {:>8} {:>8} {:>8} {:>8.1}",
            result.run,
            result.passed,
            postgres_passed,
            result.elapsed.as_secs_f64()
        );
        total_run += result.run;
        total_basalt += result.passed;
        total_postgres += postgres_passed;
        let regressions: Vec<&Failure> = result
            .failures
            .iter()
            .filter(|f| !postgres.failed.contains(&f.line))
            .collect();
        for failure in &regressions {
            *categories.entry(category(&failure.why)).or_default() += 1;
        }
        if let Some(&floor) = floor.get(path) {
            if result.passed < floor {
                problems.push(format!(
                    "{path}: basalt passed {} records, fewer than the {floor} of \
                     tests/corpus_floor.txt",
                    result.passed
                ));
            } else if regressions.is_empty() {
                caught_up.push(path.clone());
            }
            continue;
        }
        if result.passed < postgres_passed || !regressions.is_empty() {
            let mut problem = format!(
                "{path}: basalt passed {} of {} records, PostgreSQL {}; failing in basalt, \
                 passed by PostgreSQL: {}",
                result.passed,
                result.run,
                postgres_passed,
                regressions.len()
            );
            for failure in regressions.iter().take(LISTED_PER_FILE) {
                write!(
                    problem,
                    "\n  {path}:{}  {}\n      {}",
                    failure.line, failure.sql, failure.why
                )
                .expect("write to a String");
            }
            if regressions.len() > LISTED_PER_FILE {
                write!(
                    problem,
                    "\n  … and {} more",
                    regressions.len() - LISTED_PER_FILE
                )
                .expect("write to a String");
            }
            problems.push(problem);
        }
    }
    println!(
        "{:<48} {total_run:>8} {total_basalt:>8} {total_postgres:>8}",
        "total"
    );
    let all_postgres = expected
        .values()
        .fold((0, 0), |(r, p), e| (r + e.run, p + e.passed));
    println!(
        "PostgreSQL over every record: {} of {} passed",
        all_postgres.1, all_postgres.0
    );
    println!(
        "basalt: {} files on {} threads in {elapsed:.1?}",
        files.len(),
        std::thread::available_parallelism().map_or(2, |n| n.get())
    );
    let mut categories: Vec<(String, usize)> = categories.into_iter().collect();
    categories.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if !categories.is_empty() {
        println!("basalt failures among records PostgreSQL passed, by kind:");
        for (category, count) in categories.iter().take(LISTED_CATEGORIES) {
            println!("{count:>8}  {category}");
        }
    }
    for path in &caught_up {
        println!(
            "{path}: passes every record PostgreSQL passes; remove it from tests/corpus_floor.txt"
        );
    }
    assert!(
        problems.is_empty(),
        "basalt is below PostgreSQL 15 on the sqllogictest corpus in {} files:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

mod harness {
    use super::*;

    #[test]
    fn renders_like_the_reference_harness() {
        assert_eq!(render(None, b'I'), "NULL");
        assert_eq!(render(Some("12.5"), b'I'), "12");
        assert_eq!(render(Some("-12.9"), b'I'), "-12");
        assert_eq!(render(Some("abc"), b'I'), "0");
        assert_eq!(render(Some("t"), b'I'), "1");
        assert_eq!(render(Some("f"), b'I'), "0");
        assert_eq!(render(Some("7"), b'R'), "7.000");
        assert_eq!(render(Some("2.0006"), b'R'), "2.001");
        assert_eq!(render(Some(""), b'T'), "(empty)");
        assert_eq!(render(Some("a\tb"), b'T'), "a@b");
        assert_eq!(render(Some("é"), b'T'), "@@");
    }

    #[test]
    fn parses_conditions_halt_and_crlf() {
        let text = "hash-threshold 8\r\n\r\n# comment\r\nskipif mysql # not compatible\r\n\
                    statement ok\r\nCREATE TABLE t(a INT)\r\n\r\nonlyif sqlite\r\nquery I nosort\r\n\
                    SELECT 1\r\n----\r\n1\r\n\r\nskipif postgresql\r\nstatement ok\r\nSELECT 2\r\n\r\n\
                    onlyif mssql\r\nhalt\r\n\r\nquery II rowsort label-1\r\nSELECT 1, 2\r\n----\r\n\
                    1 values hashing to 0123456789abcdef0123456789abcdef\r\n\r\nskipif sqlite\r\nhalt\r\n\r\n\
                    statement ok\r\nSELECT 3\r\n";
        let records = parse(text).expect("parses");
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].line, 5);
        assert_eq!(records[0].sql, "CREATE TABLE t(a INT)");
        assert_eq!(records[1].line, 21);
        match &records[1].kind {
            Kind::Query {
                types,
                sort,
                expected,
                hash_threshold,
            } => {
                assert_eq!(types, b"II");
                assert_eq!(*sort, Sort::Rows);
                assert_eq!(expected.len(), 1);
                assert_eq!(*hash_threshold, 8);
            }
            other => panic!("not a query: {other:?}"),
        }
    }

    #[test]
    fn sorts_hashes_and_counts_columns() {
        let query = |sort, expected: &[&str], hash_threshold| Kind::Query {
            types: b"IT".to_vec(),
            sort,
            expected: expected.iter().map(|s| s.to_string()).collect(),
            hash_threshold,
        };
        let rows = || {
            Ok(Output::Rows {
                columns: 2,
                rows: vec![
                    vec![Some("2".into()), Some("b".into())],
                    vec![Some("1".into()), None],
                ],
            })
        };
        assert!(check(&query(Sort::Rows, &["1", "NULL", "2", "b"], 0), rows()).is_ok());
        assert!(check(&query(Sort::Values, &["1", "2", "NULL", "b"], 0), rows()).is_ok());
        assert!(check(&query(Sort::No, &["1", "NULL", "2", "b"], 0), rows()).is_err());
        let values: Vec<String> = ["1", "NULL", "2", "b"].map(String::from).to_vec();
        let hash = hash_line(&values);
        assert!(check(&query(Sort::Rows, &[&hash], 0), rows()).is_ok());
        // Above the threshold the result is compared as its hash line.
        assert!(check(&query(Sort::Rows, &["1", "NULL", "2", "b"], 3), rows()).is_err());
        let one_column = Kind::Query {
            types: b"I".to_vec(),
            sort: Sort::No,
            expected: Vec::new(),
            hash_threshold: 0,
        };
        assert!(check(&one_column, rows()).is_err());
        assert_eq!(
            hash_line(&[]),
            "0 values hashing to d41d8cd98f00b204e9800998ecf8427e"
        );
    }
}
