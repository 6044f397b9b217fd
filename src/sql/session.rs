//! Sessions: the SQL layer's face toward the server. A [`Database`] is the
//! open database shared by every connection; a [`Session`] is one
//! connection's state (its open transaction, if any, and whether that
//! transaction has failed). The server calls only what is public here.
//!
//! ```text
//!   Database::open ──► Session ──parse──► Statement (sqlparser AST)
//!                         │──prepare──► Prepared { param_types, columns }
//!                         └──execute(Prepared, params)──► Outcome
//! ```

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sqlparser::ast::Statement;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::binder::{Binder, BoundStatement, TransactionModes};
use super::catalog::{self, CATALOG_TREE};
use super::deferrable;
use super::executor;
use super::types::{DataType, Row, Value};
use crate::config::Config;
use crate::error::{Error, Result, SqlState};
use crate::storage::Engine;
use crate::txn::{IsolationLevel, Mvcc, Transaction};

/// The transaction state a session reports in ReadyForQuery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransactionStatus {
    /// Not in a transaction block (`I`).
    Idle,
    /// In a transaction block (`T`).
    InBlock,
    /// In a failed transaction block (`E`): everything but ROLLBACK fails with 25P02.
    Failed,
}

/// One result column.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    pub data_type: DataType,
}

/// A statement ready to execute, possibly many times with different parameters.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The types of `$1..$n`: declared by the client or inferred.
    pub param_types: Vec<DataType>,
    /// The result columns; empty when the statement returns no rows.
    pub columns: Vec<Column>,
    /// The statement; `None` for an empty query string.
    pub(crate) statement: Option<ParsedStatement>,
}

/// One parsed statement: the SQL parser's syntax tree, plus the
/// `[NOT] DEFERRABLE` mode of a `BEGIN` or `SET TRANSACTION`, which that
/// parser cannot express (`sql/deferrable.rs` cuts it out of the text).
#[derive(Clone, Debug)]
pub struct ParsedStatement {
    pub(crate) ast: Statement,
    pub(crate) deferrable: Option<bool>,
}

/// What executing a statement produced.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Rows of a query.
    Rows {
        columns: Vec<Column>,
        rows: Vec<Row>,
    },
    /// A command with its completion tag (`INSERT 0 3`, `CREATE TABLE`, …).
    Command { tag: String },
    /// The query string was empty.
    Empty,
}

impl Outcome {
    /// The CommandComplete tag; `None` for an empty query.
    pub fn tag(&self) -> Option<String> {
        match self {
            Outcome::Rows { rows, .. } => Some(format!("SELECT {}", rows.len())),
            Outcome::Command { tag } => Some(tag.clone()),
            Outcome::Empty => None,
        }
    }
}

/// An open database, shared by all sessions. Cheap to clone.
#[derive(Clone)]
pub struct Database {
    mvcc: Arc<Mvcc>,
}

impl Database {
    /// Opens (or creates) the database in `config.data_dir`.
    pub fn open(config: &Config) -> Result<Database> {
        let engine = crate::storage::BTreeEngine::open(config)?;
        Database::with_engine(Arc::new(engine))
    }

    /// A database over the in-memory engine, for tests.
    pub fn open_in_memory() -> Result<Database> {
        Database::with_engine(Arc::new(crate::storage::MemoryEngine::new()))
    }

    /// A database over any engine.
    pub fn with_engine(engine: Arc<dyn Engine>) -> Result<Database> {
        let mvcc = Mvcc::open(engine)?;
        if !mvcc.engine().tree_exists(CATALOG_TREE)? {
            mvcc.engine().create_tree(CATALOG_TREE)?;
        }
        mvcc.start_collector()?;
        Ok(Database { mvcc })
    }

    /// A new session.
    pub fn session(&self) -> Session {
        Session {
            mvcc: Arc::clone(&self.mvcc),
            transaction: None,
            transaction_is_implicit: false,
            implicit_scope: false,
            failed: Cell::new(false),
            settings: HashMap::new(),
        }
    }

    /// Flushes everything to disk; called on graceful shutdown.
    pub fn shutdown(&self) -> Result<()> {
        self.mvcc.flush()
    }

    /// Why the storage can no longer make anything durable (a failed write
    /// or fsync), if so: the server must stop and leave the rest to recovery.
    pub fn fatal_error(&self) -> Option<String> {
        self.mvcc.engine().fatal_error()
    }
}

/// The version basalt reports: PostgreSQL 15 compatible, so that libpq,
/// psql and drivers select their PostgreSQL 15 behaviour.
pub const SERVER_VERSION: &str = "15.18 (basalt)";

/// Settings with their PostgreSQL defaults; `SET` may change these.
const SETTINGS: &[(&str, &str)] = &[
    ("application_name", ""),
    ("client_encoding", "UTF8"),
    ("client_min_messages", "notice"),
    ("datestyle", "ISO, MDY"),
    ("default_transaction_deferrable", "off"),
    ("default_transaction_isolation", "serializable"),
    ("default_transaction_read_only", "off"),
    ("extra_float_digits", "1"),
    ("integer_datetimes", "on"),
    ("intervalstyle", "postgres"),
    ("is_superuser", "on"),
    ("lock_timeout", "0"),
    ("max_identifier_length", "63"),
    ("search_path", "\"$user\", public"),
    ("server_encoding", "UTF8"),
    ("server_version", SERVER_VERSION),
    ("server_version_num", "150018"),
    ("standard_conforming_strings", "on"),
    ("statement_timeout", "0"),
    ("synchronous_commit", "on"),
    ("timezone", "UTC"),
];

/// Settings that only the server sets.
const READ_ONLY_SETTINGS: &[&str] = &[
    "integer_datetimes",
    "is_superuser",
    "max_identifier_length",
    "server_encoding",
    "server_version",
    "server_version_num",
];

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

/// A time setting in PostgreSQL's syntax: a number of milliseconds, or a
/// number with a unit (`us`, `ms`, `s`, `min`, `h`, `d`), 0 ..= 2^31 - 1 ms.
fn parse_milliseconds(name: &str, text: &str) -> Result<u64> {
    let invalid = || {
        Error::sql(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("invalid value for parameter \"{name}\": \"{text}\""),
        )
    };
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let number: f64 = number.parse().map_err(|_| invalid())?;
    let scale = match unit.trim() {
        "" | "ms" => 1.0,
        "us" => 0.001,
        "s" => 1_000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return Err(invalid()),
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

fn parse_isolation(text: &str) -> Result<IsolationLevel> {
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

/// PostgreSQL's wording for a parser error: `syntax error at or near "x"`
/// or `syntax error at end of input`; other parser messages pass through.
fn syntax_message(parser_message: &str) -> String {
    let message = parser_message
        .strip_prefix("sql parser error: ")
        .unwrap_or(parser_message);
    let Some((_, found)) = message.split_once("found: ") else {
        return message.to_string();
    };
    let token = found.split(" at Line: ").next().unwrap_or(found).trim();
    if token == "EOF" {
        "syntax error at end of input".to_string()
    } else {
        format!("syntax error at or near \"{token}\"")
    }
}

fn command(tag: impl Into<String>) -> Outcome {
    Outcome::Command { tag: tag.into() }
}

/// One client connection's SQL state. Not shared between threads at once,
/// but `Send`, so the server may run it on a blocking thread.
pub struct Session {
    mvcc: Arc<Mvcc>,
    /// The open transaction: an explicit block, or an implicit one.
    transaction: Option<Transaction>,
    /// `transaction` is implicit: it spans one simple Query string or the
    /// extended-protocol messages up to Sync, and ends with the scope.
    transaction_is_implicit: bool,
    /// Inside an implicit-transaction scope (see [`Session::begin_implicit`]).
    implicit_scope: bool,
    /// The block hit an error: everything but COMMIT/ROLLBACK fails (25P02).
    /// A `Cell` because even `parse` (which takes `&self`) can fail a block.
    failed: Cell<bool>,
    settings: HashMap<String, String>,
}

impl Session {
    /// Parses a query string into statements (an empty string gives none).
    /// Syntax errors are SQLSTATE 42601.
    pub fn parse(&self, sql: &str) -> Result<Vec<ParsedStatement>> {
        let parsed = deferrable::strip(sql).and_then(|stripped| {
            let (text, flags) = match stripped {
                Some((text, flags)) => (std::borrow::Cow::Owned(text), flags),
                None => (std::borrow::Cow::Borrowed(sql), Vec::new()),
            };
            let statements = Parser::parse_sql(&PostgreSqlDialect {}, &text).map_err(|error| {
                Error::sql(SqlState::SYNTAX_ERROR, syntax_message(&error.to_string()))
            })?;
            // Deferrable invariant 3: one flag per transaction statement.
            let mut flags = flags.into_iter();
            Ok(statements
                .into_iter()
                .map(|ast| {
                    let deferrable = match &ast {
                        Statement::StartTransaction { .. }
                        | Statement::Set(sqlparser::ast::Set::SetTransaction { .. }) => {
                            flags.next().flatten()
                        }
                        _ => None,
                    };
                    ParsedStatement { ast, deferrable }
                })
                .collect())
        });
        self.fail_block_on_error(parsed)
    }

    /// Any error inside a transaction block fails the block, as in
    /// PostgreSQL; an implicit transaction that failed is rolled back when
    /// its scope ends.
    fn fail_block_on_error<T>(&self, result: Result<T>) -> Result<T> {
        if result.is_err() && self.transaction.is_some() {
            self.failed.set(true);
        }
        result
    }

    /// Prepares one parsed statement. `param_types[i]` is the type the client
    /// declared for `$i+1`, or `None` to infer it.
    pub fn prepare_statement(
        &mut self,
        statement: ParsedStatement,
        param_types: &[Option<DataType>],
    ) -> Result<Prepared> {
        let result = self.prepare_inner(statement, param_types);
        self.fail_block_on_error(result)
    }

    fn prepare_inner(
        &mut self,
        statement: ParsedStatement,
        param_types: &[Option<DataType>],
    ) -> Result<Prepared> {
        if let Some(control) = self.bind_control(&statement)? {
            let columns = match &control {
                BoundStatement::Show { name } => vec![Column {
                    name: name.clone(),
                    data_type: DataType::Text,
                }],
                _ => Vec::new(),
            };
            let params = param_types
                .iter()
                .map(|t| t.unwrap_or(DataType::Text))
                .collect::<Vec<_>>();
            return Ok(Prepared {
                param_types: params,
                columns,
                statement: Some(statement),
            });
        }
        self.check_not_failed()?;
        let (param_types, columns) = self.with_transaction(
            |txn| {
                let mut binder = Binder::new(txn, param_types);
                let bound = binder.bind_statement(&statement.ast)?;
                let columns = match &bound {
                    BoundStatement::Query { columns, .. } => columns.clone(),
                    BoundStatement::Explain { .. } => {
                        vec![Column {
                            name: "QUERY PLAN".into(),
                            data_type: DataType::Text,
                        }]
                    }
                    _ => Vec::new(),
                };
                Ok((binder.exprs.param_types(), columns))
            },
            false,
        )?;
        Ok(Prepared {
            param_types,
            columns,
            statement: Some(statement),
        })
    }

    /// Parses and prepares a query string holding at most one statement
    /// (extended protocol `Parse`).
    pub fn prepare(&mut self, sql: &str, param_types: &[Option<DataType>]) -> Result<Prepared> {
        let mut statements = self.parse(sql)?;
        match statements.len() {
            0 => Ok(Prepared {
                param_types: param_types
                    .iter()
                    .map(|t| t.unwrap_or(DataType::Text))
                    .collect(),
                columns: Vec::new(),
                statement: None,
            }),
            1 => self.prepare_statement(statements.remove(0), param_types),
            _ => Err(Error::sql(
                SqlState::SYNTAX_ERROR,
                "cannot insert multiple commands into a prepared statement",
            )),
        }
    }

    /// Executes a prepared statement with parameter values (already of
    /// `prepared.param_types`), inside the session's transaction or in its
    /// own autocommit transaction.
    pub fn execute(&mut self, prepared: &Prepared, params: &[Value]) -> Result<Outcome> {
        let result = self.execute_inner(prepared, params);
        self.fail_block_on_error(result)
    }

    fn execute_inner(&mut self, prepared: &Prepared, params: &[Value]) -> Result<Outcome> {
        let Some(statement) = &prepared.statement else {
            return Ok(Outcome::Empty);
        };
        if params.len() != prepared.param_types.len() {
            return Err(Error::sql(
                SqlState::PROTOCOL_VIOLATION,
                format!(
                    "bind message supplies {} parameters, but prepared statement requires {}",
                    params.len(),
                    prepared.param_types.len()
                ),
            ));
        }
        if let Some(control) = self.bind_control(statement)? {
            return self.execute_control(control);
        }
        self.check_not_failed()?;
        let declared: Vec<Option<DataType>> =
            prepared.param_types.iter().map(|t| Some(*t)).collect();
        let mvcc = Arc::clone(&self.mvcc);
        self.with_transaction(
            |txn| {
                let bound = Binder::new(txn, &declared).bind_statement(&statement.ast)?;
                if txn.is_read_only()
                    && let Some(command) = writing_command(&bound)
                {
                    return Err(Error::sql(
                        SqlState::READ_ONLY_SQL_TRANSACTION,
                        format!("cannot execute {command} in a read-only transaction"),
                    ));
                }
                run(&mvcc, bound, txn, params)
            },
            true,
        )
    }

    /// The status for ReadyForQuery.
    pub fn transaction_status(&self) -> TransactionStatus {
        if self.transaction_is_implicit {
            return TransactionStatus::Idle;
        }
        match (&self.transaction, self.failed.get()) {
            (_, true) => TransactionStatus::Failed,
            (Some(_), false) => TransactionStatus::InBlock,
            (None, false) => TransactionStatus::Idle,
        }
    }

    /// Opens an implicit-transaction scope, as PostgreSQL does for the
    /// statements of one simple Query string and for extended-protocol
    /// messages up to Sync: outside an explicit block, the statements of the
    /// scope share one transaction, committed by [`Session::end_implicit`]
    /// (or rolled back if any of them failed). Idempotent.
    pub fn begin_implicit(&mut self) {
        self.implicit_scope = true;
    }

    /// Closes the implicit-transaction scope: commits its transaction if one
    /// is open and nothing failed, else rolls it back. An explicit block
    /// (opened by BEGIN inside the scope) stays open.
    pub fn end_implicit(&mut self) -> Result<()> {
        self.implicit_scope = false;
        if !self.transaction_is_implicit {
            return Ok(());
        }
        self.transaction_is_implicit = false;
        let failed = self.failed.replace(false);
        match self.transaction.take() {
            Some(txn) if failed => txn.rollback(),
            Some(txn) => self.commit(txn),
            None => Ok(()),
        }
    }

    /// The transaction of an explicit block, for savepoint commands, which
    /// PostgreSQL refuses outside one (25P01), implicit transactions too.
    fn block_transaction(&mut self, command: &str) -> Result<&mut Transaction> {
        match self.transaction.as_mut() {
            Some(txn) if !self.transaction_is_implicit => Ok(txn),
            _ => Err(Error::sql(
                SqlState::NO_ACTIVE_SQL_TRANSACTION,
                format!("{command} can only be used in transaction blocks"),
            )),
        }
    }

    fn check_not_failed(&self) -> Result<()> {
        if self.failed.get() {
            return Err(Error::sql(
                SqlState::IN_FAILED_SQL_TRANSACTION,
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        Ok(())
    }

    fn setting(&self, name: &str) -> Option<String> {
        if let Some(value) = self.settings.get(name) {
            return Some(value.clone());
        }
        if name == "transaction_read_only" {
            return Some(match &self.transaction {
                Some(txn) => on_off(txn.is_read_only()).to_string(),
                None => self.setting("default_transaction_read_only")?,
            });
        }
        if name == "transaction_deferrable" {
            return Some(match &self.transaction {
                Some(txn) => on_off(txn.is_deferrable()).to_string(),
                None => self.setting("default_transaction_deferrable")?,
            });
        }
        if name == "transaction_isolation" || name == "transaction isolation level" {
            return Some(match &self.transaction {
                Some(txn) => txn.isolation().name().to_string(),
                None => self.setting("default_transaction_isolation")?,
            });
        }
        SETTINGS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    }

    /// Commits `txn`, waiting for its WAL flush unless `synchronous_commit`
    /// is off (then a crash may lose it, within the background writer's
    /// delay, but never corrupts anything).
    fn commit(&self, mut txn: Transaction) -> Result<()> {
        let synchronous = self.setting("synchronous_commit").as_deref() != Some("off");
        txn.set_synchronous_commit(synchronous);
        txn.commit()
    }

    /// `SET TRANSACTION`: changes the open block's transaction. Outside a
    /// block it has no effect (PostgreSQL also warns, 25P01; notices are
    /// not sent yet).
    fn set_transaction(&mut self, modes: TransactionModes) -> Result<()> {
        if self.transaction_is_implicit {
            return Ok(());
        }
        match self.transaction.as_mut() {
            Some(txn) => apply_modes(txn, modes),
            None => Ok(()),
        }
    }

    fn default_read_only(&self) -> bool {
        self.setting("default_transaction_read_only").as_deref() == Some("on")
    }

    fn default_deferrable(&self) -> bool {
        self.setting("default_transaction_deferrable").as_deref() == Some("on")
    }

    /// `lock_timeout` (validated when set; 0 means no limit).
    fn lock_timeout(&self) -> Option<Duration> {
        let text = self.setting("lock_timeout")?;
        let milliseconds = parse_milliseconds("lock_timeout", &text).ok()?;
        (milliseconds > 0).then(|| Duration::from_millis(milliseconds))
    }

    fn default_isolation(&self) -> IsolationLevel {
        self.setting("default_transaction_isolation")
            .and_then(|text| parse_isolation(&text).ok())
            .unwrap_or(IsolationLevel::Serializable)
    }

    /// Binds statements that need no catalog: transaction control, SET, SHOW.
    fn bind_control(&self, statement: &ParsedStatement) -> Result<Option<BoundStatement>> {
        let mut bound = match &statement.ast {
            Statement::StartTransaction { .. }
            | Statement::Commit { .. }
            | Statement::Rollback { .. }
            | Statement::Savepoint { .. }
            | Statement::ReleaseSavepoint { .. }
            | Statement::Vacuum(_)
            | Statement::Set(_)
            | Statement::ShowVariable { .. } => Binder::bind_control(&statement.ast)?,
            _ => return Ok(None),
        };
        if let BoundStatement::Begin { modes, .. } | BoundStatement::SetTransaction { modes, .. } =
            &mut bound
        {
            modes.deferrable = statement.deferrable;
        }
        Ok(Some(bound))
    }

    fn execute_control(&mut self, control: BoundStatement) -> Result<Outcome> {
        match control {
            BoundStatement::Begin { modes, tag } => {
                self.check_not_failed()?;
                if self.transaction_is_implicit {
                    // BEGIN inside a multi-statement string turns the implicit
                    // transaction into a block, as in PostgreSQL, with the
                    // modes it names.
                    self.transaction_is_implicit = false;
                    if let Some(txn) = self.transaction.as_mut() {
                        apply_modes(txn, modes)?;
                    }
                } else if self.transaction.is_none() {
                    let isolation = modes.isolation.unwrap_or_else(|| self.default_isolation());
                    let mut txn = self.mvcc.begin(isolation)?;
                    txn.set_read_only(modes.read_only.unwrap_or_else(|| self.default_read_only()))?;
                    txn.set_deferrable(
                        modes
                            .deferrable
                            .unwrap_or_else(|| self.default_deferrable()),
                    )?;
                    self.transaction = Some(txn);
                }
                // PostgreSQL warns about a nested BEGIN and carries on.
                Ok(command(tag))
            }
            BoundStatement::Commit => {
                self.transaction_is_implicit = false;
                let failed = self.failed.replace(false);
                match self.transaction.take() {
                    Some(txn) if failed => {
                        txn.rollback()?;
                        Ok(command("ROLLBACK"))
                    }
                    Some(txn) => {
                        self.commit(txn)?;
                        Ok(command("COMMIT"))
                    }
                    None => Ok(command("COMMIT")),
                }
            }
            BoundStatement::Rollback => {
                self.transaction_is_implicit = false;
                self.failed.set(false);
                if let Some(txn) = self.transaction.take() {
                    txn.rollback()?;
                }
                Ok(command("ROLLBACK"))
            }
            BoundStatement::SetTransaction {
                modes,
                session: true,
            } => {
                self.check_not_failed()?;
                if let Some(deferrable) = modes.deferrable {
                    self.settings.insert(
                        "default_transaction_deferrable".into(),
                        on_off(deferrable).to_string(),
                    );
                }
                if let Some(isolation) = modes.isolation {
                    self.settings.insert(
                        "default_transaction_isolation".into(),
                        isolation.name().to_string(),
                    );
                }
                if let Some(read_only) = modes.read_only {
                    self.settings.insert(
                        "default_transaction_read_only".into(),
                        on_off(read_only).to_string(),
                    );
                }
                Ok(command("SET"))
            }
            BoundStatement::SetTransaction {
                modes,
                session: false,
            } => {
                self.check_not_failed()?;
                self.set_transaction(modes)?;
                Ok(command("SET"))
            }
            BoundStatement::Savepoint { name } => {
                self.check_not_failed()?;
                self.block_transaction("SAVEPOINT")?.savepoint(&name);
                Ok(command("SAVEPOINT"))
            }
            BoundStatement::ReleaseSavepoint { name } => {
                self.check_not_failed()?;
                self.block_transaction("RELEASE SAVEPOINT")?
                    .release_savepoint(&name)?;
                Ok(command("RELEASE"))
            }
            BoundStatement::Vacuum { table } => {
                self.check_not_failed()?;
                if self.transaction.is_some() {
                    return Err(Error::sql(
                        SqlState::ACTIVE_SQL_TRANSACTION,
                        "VACUUM cannot run inside a transaction block",
                    ));
                }
                let stats = match table {
                    Some(name) => {
                        let mut txn = self.mvcc.begin(IsolationLevel::ReadCommitted)?;
                        txn.begin_statement();
                        let table = catalog::require_table(&mut txn, &name)?;
                        txn.commit()?;
                        self.mvcc.vacuum_tree(table.tree)?
                    }
                    // Every tree: also truncates the commit log.
                    None => self.mvcc.vacuum_all()?,
                };
                tracing::debug!(keys = stats.keys, removed = stats.removed, "vacuum");
                Ok(command("VACUUM"))
            }
            BoundStatement::RollbackToSavepoint { name } => {
                // Allowed in a failed block, which it repairs: the way
                // drivers recover from an error without losing the
                // transaction.
                self.block_transaction("ROLLBACK TO SAVEPOINT")?
                    .rollback_to_savepoint(&name)?;
                self.failed.set(false);
                Ok(command("ROLLBACK"))
            }
            BoundStatement::Set { name, value } => {
                self.check_not_failed()?;
                let name = match name.as_str() {
                    "session characteristics as transaction isolation level" => {
                        "default_transaction_isolation".to_string()
                    }
                    _ => canonical_setting(name),
                };
                if READ_ONLY_SETTINGS.contains(&name.as_str()) {
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
                    "transaction_isolation" | "transaction isolation level" => {
                        Some(TransactionModes {
                            isolation: Some(parse_isolation(&value)?),
                            ..TransactionModes::default()
                        })
                    }
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
                    self.set_transaction(modes)?;
                    return Ok(command("SET"));
                }
                let value = match name.as_str() {
                    "default_transaction_read_only" | "default_transaction_deferrable" => {
                        on_off(parse_boolean(&name, &value)?).to_string()
                    }
                    "synchronous_commit" => canonical_synchronous_commit(&value)?.to_string(),
                    "lock_timeout" => show_milliseconds(parse_milliseconds(&name, &value)?),
                    "statement_timeout" => match parse_milliseconds(&name, &value)? {
                        0 => "0".to_string(),
                        _ => {
                            return Err(Error::Unsupported(
                                "statement_timeout other than 0".into(),
                            ));
                        }
                    },
                    _ => value,
                };
                if self.setting(&name).is_none() && !name.contains('.') {
                    return Err(Error::sql(
                        SqlState::UNDEFINED_OBJECT,
                        format!("unrecognized configuration parameter \"{name}\""),
                    ));
                }
                self.settings.insert(name, value);
                Ok(command("SET"))
            }
            BoundStatement::Show { name } => {
                self.check_not_failed()?;
                let name = canonical_setting(name);
                let value = self.setting(&name).ok_or_else(|| {
                    Error::sql(
                        SqlState::UNDEFINED_OBJECT,
                        format!("unrecognized configuration parameter \"{name}\""),
                    )
                })?;
                // SHOW names its column by the setting's canonical spelling.
                let column_name = match name.as_str() {
                    "transaction isolation level" => "transaction_isolation".to_string(),
                    "datestyle" => "DateStyle".to_string(),
                    "timezone" => "TimeZone".to_string(),
                    "intervalstyle" => "IntervalStyle".to_string(),
                    _ => name,
                };
                Ok(Outcome::Rows {
                    columns: vec![Column {
                        name: column_name,
                        data_type: DataType::Text,
                    }],
                    rows: vec![vec![Value::Text(value)]],
                })
            }
            other => Err(Error::Internal(format!(
                "not a control statement: {other:?}"
            ))),
        }
    }

    /// Runs `work` in the open transaction block, or in a transaction of its
    /// own that commits (when `commit`) or rolls back afterwards. An error
    /// inside a block marks the block failed.
    fn with_transaction<T>(
        &mut self,
        mut work: impl FnMut(&mut Transaction) -> Result<T>,
        commit: bool,
    ) -> Result<T> {
        let lock_timeout = self.lock_timeout();
        if let Some(txn) = self.transaction.as_mut() {
            txn.begin_statement();
            txn.set_lock_timeout(lock_timeout);
            return run_refreshing(txn, &mut work);
        }
        let read_only = self.default_read_only();
        let mut txn = self.mvcc.begin(self.default_isolation())?;
        txn.set_lock_timeout(lock_timeout);
        txn.set_read_only(read_only)?;
        txn.set_deferrable(self.default_deferrable())?;
        txn.begin_statement();
        if self.implicit_scope {
            let result = run_refreshing(&mut txn, &mut work);
            self.transaction = Some(txn);
            self.transaction_is_implicit = true;
            return result;
        }
        match run_refreshing(&mut txn, &mut work) {
            Ok(value) => {
                if commit {
                    self.commit(txn)?;
                } else {
                    txn.rollback()?;
                }
                Ok(value)
            }
            Err(error) => {
                txn.rollback()?;
                Err(error)
            }
        }
    }
}

/// Runs one statement; while it fails by losing a write–write conflict that
/// read refresh can repair, runs it again on the newer snapshot
/// (`txn/refresh.rs`).
fn run_refreshing<T>(
    txn: &mut Transaction,
    work: &mut impl FnMut(&mut Transaction) -> Result<T>,
) -> Result<T> {
    loop {
        match work(txn) {
            Err(error) if txn.refresh_after_conflict()? => {
                tracing::debug!(txn = txn.id(), %error, "statement runs again after read refresh");
            }
            outcome => return outcome,
        }
    }
}

/// The command name of a statement that writes, for the read-only error.
fn writing_command(bound: &BoundStatement) -> Option<&'static str> {
    match bound {
        BoundStatement::Insert { .. } => Some("INSERT"),
        BoundStatement::Update { .. } => Some("UPDATE"),
        BoundStatement::Delete { .. } => Some("DELETE"),
        BoundStatement::CreateTable { .. } => Some("CREATE TABLE"),
        BoundStatement::DropTable { .. } => Some("DROP TABLE"),
        _ => None,
    }
}

/// Sets the modes a `BEGIN` or `SET TRANSACTION` named on `txn`.
fn apply_modes(txn: &mut Transaction, modes: TransactionModes) -> Result<()> {
    if let Some(isolation) = modes.isolation {
        txn.set_isolation(isolation)?;
    }
    if let Some(read_only) = modes.read_only {
        txn.set_read_only(read_only)?;
    }
    if let Some(deferrable) = modes.deferrable {
        txn.set_deferrable(deferrable)?;
    }
    Ok(())
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

/// Executes a bound (non-control) statement in a transaction.
fn run(
    mvcc: &Mvcc,
    bound: BoundStatement,
    txn: &mut Transaction,
    params: &[Value],
) -> Result<Outcome> {
    Ok(match bound {
        BoundStatement::Query { plan, columns } => {
            let rows = executor::execute(&plan, txn, params)?.collect::<Result<Vec<_>>>()?;
            Outcome::Rows { columns, rows }
        }
        BoundStatement::Explain { plan } => Outcome::Rows {
            columns: vec![Column {
                name: "QUERY PLAN".into(),
                data_type: DataType::Text,
            }],
            rows: plan
                .explain()
                .into_iter()
                .map(|line| vec![Value::Text(line)])
                .collect(),
        },
        BoundStatement::Insert { table, source } => {
            let mut next_row_id = |name: &[u8]| mvcc.next_sequence_value(name);
            let count = executor::insert(&table, &source, txn, params, &mut next_row_id)?;
            command(format!("INSERT 0 {count}"))
        }
        BoundStatement::Update {
            table,
            source,
            assignments,
        } => {
            let count = executor::update(&table, &source, &assignments, txn, params)?;
            command(format!("UPDATE {count}"))
        }
        BoundStatement::Delete { source, .. } => {
            let count = executor::delete(&source, txn, params)?;
            command(format!("DELETE {count}"))
        }
        BoundStatement::CreateTable {
            mut table,
            if_not_exists,
        } => {
            if catalog::get_table(txn, &table.name)?.is_some() {
                if if_not_exists {
                    return Ok(command("CREATE TABLE"));
                }
                return Err(Error::sql(
                    SqlState::DUPLICATE_TABLE,
                    format!("relation \"{}\" already exists", table.name),
                ));
            }
            table.tree = txn.create_tree()?;
            catalog::put_table(txn, &table)?;
            command("CREATE TABLE")
        }
        BoundStatement::DropTable { names, if_exists } => {
            // Check every name first so a failing DROP drops nothing.
            let mut tables = Vec::new();
            for name in &names {
                match catalog::get_table(txn, name)? {
                    Some(table) => tables.push(table),
                    None if if_exists => {}
                    None => {
                        return Err(Error::sql(
                            SqlState::UNDEFINED_TABLE,
                            format!("table \"{name}\" does not exist"),
                        ));
                    }
                }
            }
            for table in tables {
                catalog::delete_table(txn, &table.name)?;
                txn.drop_tree(table.tree);
            }
            command("DROP TABLE")
        }
        other => return Err(Error::Internal(format!("unexpected statement {other:?}"))),
    })
}
