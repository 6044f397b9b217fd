//! [`Session`]: one connection's SQL state, a transaction state machine.
//!
//! ```text
//!              statement (in an implicit scope)        end_implicit: commit
//!        ┌──────────────────────────────────► Implicit ──────────────┐
//!        │                                        │ BEGIN            │
//!      Idle ◄─────────────────────────────────────┼──────────────────┘
//!        │ BEGIN                                  ▼       error
//!        └──────────────────────────────────►  Block ─────────────► Failed
//!                       COMMIT / ROLLBACK ◄──────┘ ◄─ ROLLBACK TO ────┘
//!                                                       ROLLBACK / COMMIT
//! ```
//!
//! Outside `BEGIN … COMMIT`, the statements of one implicit scope (a
//! simple Query string, or extended-protocol messages up to Sync; the
//! server brackets them with [`Session::begin_implicit`] and
//! [`Session::end_implicit`]) share one implicit transaction, committed at
//! the end of the scope. An error there rolls it back at once: nothing else
//! of the scope runs. A statement run outside any scope is its own
//! transaction (autocommit), and its rows are fetched before it commits.
//! Any error inside a block fails the block (25P02 for everything but
//! ROLLBACK, COMMIT, which then rolls back, and ROLLBACK TO SAVEPOINT).

use std::sync::Arc;

use super::Instance;
use super::settings::{SetAction, Settings};
use super::statement::{
    Cursor, Outcome, Prepared, PreparedStatement, QueryLimits, command, optimize, result_columns,
    run,
};
use crate::error::{Error, Result, SqlState};
use crate::sql::binder::{Binder, Control, TransactionModes, bind_control};
use crate::sql::catalog;
use crate::sql::datetime::{self, TimeContext};
use crate::sql::parser::{self, ParsedStatement};
use crate::sql::plan::Column;
use crate::sql::sequence::{SequenceAccess, SessionSequences};
use crate::sql::stack::StackBase;
use crate::sql::statistics;
use crate::sql::types::{DataType, Row, Value};
use crate::txn::{IsolationLevel, Transaction};

/// The transaction status a session reports in ReadyForQuery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransactionStatus {
    /// Not in a transaction block (`I`).
    Idle,
    /// In a transaction block (`T`).
    InBlock,
    /// In a failed transaction block (`E`): everything but ROLLBACK fails with 25P02.
    Failed,
}

/// An open transaction and what the session knows of it.
struct Open {
    txn: Transaction,
    /// The catalog generation read before the current snapshot was taken:
    /// a plan bound under this snapshot is valid for that generation.
    snapshot_generation: Option<u64>,
    /// The transaction changed the catalog: its plans see uncommitted DDL
    /// and are not cached, and its commit raises the generation.
    wrote_catalog: bool,
    /// When the transaction and its current statement started
    /// (`now()`, `statement_timestamp()`).
    started: i64,
    statement_started: i64,
    /// A statement has run in this transaction before.
    later_statement: bool,
}

impl Open {
    fn new(txn: Transaction) -> Open {
        let started = datetime::clock_now();
        Open {
            txn,
            snapshot_generation: None,
            wrote_catalog: false,
            started,
            statement_started: started,
            later_statement: false,
        }
    }

    /// The statement's view of time: the session's zone and this
    /// transaction's start.
    fn time(&self, settings: &Settings) -> TimeContext {
        TimeContext {
            zone: settings.time_zone(),
            now: self.started,
            statement: self.statement_started,
            date_order_dmy: settings.date_order_dmy(),
        }
    }
}

/// The session's transaction state (see the module docs).
enum TransactionState {
    Idle,
    Implicit(Open),
    Block(Open),
    Failed(Open),
}

/// One client connection's SQL state. Not shared between threads at once,
/// but `Send`: the server creates it on the accepting task and moves it
/// to the connection's thread.
pub struct Session {
    instance: Arc<Instance>,
    state: TransactionState,
    /// Inside an implicit-transaction scope (see [`Session::begin_implicit`]).
    implicit_scope: bool,
    /// The transaction the scope opens next runs queries only (see
    /// [`Session::declare_queries_only`]).
    queries_only_scope: bool,
    settings: Settings,
    identity: Arc<super::Identity>,
    /// `currval` and `lastval`: what this session's `nextval` calls gave.
    sequences: Arc<parking_lot::Mutex<SessionSequences>>,
}

impl Session {
    pub(crate) fn new(instance: Arc<Instance>) -> Session {
        Session {
            instance,
            state: TransactionState::Idle,
            implicit_scope: false,
            queries_only_scope: false,
            settings: Settings::default(),
            identity: Arc::default(),
            sequences: Arc::default(),
        }
    }

    /// Records who the session is (the server does, after startup).
    pub fn set_identity(&mut self, identity: super::Identity) {
        self.identity = Arc::new(identity);
    }

    /// The session's view of time now: its `TimeZone`, and the open
    /// transaction's start (the clock's now outside one). Parameters are
    /// read and results printed with it.
    pub fn time_context(&self) -> TimeContext {
        match &self.state {
            TransactionState::Implicit(open)
            | TransactionState::Block(open)
            | TransactionState::Failed(open) => open.time(&self.settings),
            TransactionState::Idle => TimeContext {
                zone: self.settings.time_zone(),
                now: datetime::clock_now(),
                statement: datetime::clock_now(),
                date_order_dmy: self.settings.date_order_dmy(),
            },
        }
    }

    /// Parses a query string into statements (an empty string gives none).
    /// Syntax errors are SQLSTATE 42601.
    pub fn parse(&mut self, sql: &str) -> Result<Vec<ParsedStatement>> {
        let _stack = StackBase::enter();
        let parsed = parser::parse(sql);
        self.fail_on_error(parsed)
    }

    /// After an error: a block fails, an implicit transaction rolls back.
    fn fail_on_error<T>(&mut self, result: Result<T>) -> Result<T> {
        if result.is_err() {
            self.state = match std::mem::replace(&mut self.state, TransactionState::Idle) {
                TransactionState::Block(open) | TransactionState::Failed(open) => {
                    TransactionState::Failed(open)
                }
                TransactionState::Implicit(open) => {
                    // The error is what the client hears about; a failed
                    // rollback of a transaction that wrote nothing durable
                    // has nothing to add.
                    if let Err(rollback) = open.txn.rollback() {
                        tracing::warn!(%rollback, "rolling back a failed implicit transaction");
                    }
                    TransactionState::Idle
                }
                TransactionState::Idle => TransactionState::Idle,
            };
        }
        result
    }

    /// Prepares a query string holding at most one statement.
    pub fn prepare(&mut self, sql: &str, param_types: &[Option<DataType>]) -> Result<Prepared> {
        let _stack = StackBase::enter();
        let mut statements = self.parse(sql)?;
        match statements.len() {
            0 => Ok(Prepared {
                param_types: param_types
                    .iter()
                    .map(|t| t.unwrap_or(DataType::Text))
                    .collect(),
                columns: Arc::new([]),
                statement: None,
            }),
            1 => self.prepare_statement(statements.remove(0), param_types),
            _ => {
                let error = Error::sql(
                    SqlState::SYNTAX_ERROR,
                    "cannot insert multiple commands into a prepared statement",
                );
                self.fail_on_error(Err(error))
            }
        }
    }

    /// Prepares one parsed statement: binds and optimizes it now and caches
    /// the plan. `param_types[i]` is the type the client declared for
    /// `$i+1`, or `None` to infer it.
    pub fn prepare_statement(
        &mut self,
        statement: ParsedStatement,
        param_types: &[Option<DataType>],
    ) -> Result<Prepared> {
        let _stack = StackBase::enter();
        let result = self.prepare_inner(statement, param_types);
        self.fail_on_error(result)
    }

    fn prepare_inner(
        &mut self,
        statement: ParsedStatement,
        param_types: &[Option<DataType>],
    ) -> Result<Prepared> {
        let control = match statement.sql() {
            Some(sql) => bind_control(sql, statement.deferrable)?,
            None => None,
        };
        if let Some(control) = control {
            let columns: Arc<[Column]> = match &control {
                Control::Show { name } => Arc::new([Column {
                    name: name.clone(),
                    data_type: DataType::Text,
                }]),
                _ => Arc::new([]),
            };
            return Ok(Prepared {
                param_types: param_types
                    .iter()
                    .map(|t| t.unwrap_or(DataType::Text))
                    .collect(),
                columns,
                statement: Some(Arc::new(PreparedStatement::new(statement, Some(control)))),
            });
        }
        self.check_not_failed()?;
        let prepared = PreparedStatement::new(statement, None);
        let identity = self.identity.clone();
        let time_settings = (self.settings.time_zone(), self.settings.date_order_dmy());
        let (param_types, columns) = self.with_transaction(
            |open| {
                let time = TimeContext {
                    zone: time_settings.0.clone(),
                    now: open.started,
                    statement: open.statement_started,
                    date_order_dmy: time_settings.1,
                };
                let mut binder = Binder::new(&mut open.txn, param_types);
                binder.identity = Some(identity.clone());
                binder.time = time;
                let bound = binder.bind_parsed(&prepared.parsed.syntax)?;
                let param_types = binder.param_types();
                let reads_clock = binder.reads_clock;
                let columns = binder.columns;
                let bound = optimize(bound, &param_types, columns, &mut open.txn)?;
                let columns = result_columns(&bound);
                if let Some(generation) = cacheable(open).filter(|_| !reads_clock) {
                    prepared.cache(generation, Arc::new(bound));
                }
                Ok((param_types, columns))
            },
            false,
            |_, _| Ok(()),
        )?;
        Ok(Prepared {
            param_types,
            columns,
            statement: Some(Arc::new(prepared)),
        })
    }

    /// Executes a prepared statement with parameter values (already of
    /// `prepared.param_types`), inside the session's transaction or in its
    /// own autocommit transaction. A query's rows are then fetched from the
    /// outcome's cursor with [`Session::fetch`].
    pub fn execute(&mut self, prepared: &Prepared, params: &[Value]) -> Result<Outcome> {
        let _stack = StackBase::enter();
        let result = self.execute_inner(prepared, params);
        self.fail_on_error(result)
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
        if let Some(control) = &statement.control {
            return self.execute_control(control.clone());
        }
        self.check_not_failed()?;
        // PostgreSQL's rule, kept though the build here is a plain one: a
        // concurrent build commits in steps of its own.
        if let Some(sqlparser::ast::Statement::CreateIndex(create)) = statement.parsed.sql()
            && create.concurrently
            && matches!(self.state, TransactionState::Block(_))
        {
            return Err(Error::sql(
                SqlState::ACTIVE_SQL_TRANSACTION,
                "CREATE INDEX CONCURRENTLY cannot run inside a transaction block",
            ));
        }
        let instance = Arc::clone(&self.instance);
        let limits = QueryLimits {
            work_mem: self.settings.work_mem(),
            hash_mem_multiplier: self.settings.hash_mem_multiplier(),
            parallel_workers: self.settings.parallel_workers(),
            maintenance_work_mem: self.settings.maintenance_work_mem(),
            time: TimeContext::default(),
            sequences: SequenceAccess {
                shared: Arc::clone(self.instance.sequences()),
                session: Arc::clone(&self.sequences),
            },
        };
        let time_settings = (self.settings.time_zone(), self.settings.date_order_dmy());
        let declared: Vec<Option<DataType>> =
            prepared.param_types.iter().map(|t| Some(*t)).collect();
        let identity = self.identity.clone();
        self.with_transaction(
            |open| {
                // The first statement starts with its transaction, as in
                // PostgreSQL; each later one has its own start.
                if std::mem::replace(&mut open.later_statement, true) {
                    open.statement_started = datetime::clock_now();
                }
                let time = TimeContext {
                    zone: time_settings.0.clone(),
                    now: open.started,
                    statement: open.statement_started,
                    date_order_dmy: time_settings.1,
                };
                let bound = match open
                    .snapshot_generation
                    .and_then(|generation| statement.cached(generation))
                {
                    Some(bound) if !open.wrote_catalog => bound,
                    _ => {
                        let mut binder = Binder::new(&mut open.txn, &declared);
                        binder.identity = Some(identity.clone());
                        binder.time = time.clone();
                        let bound = binder.bind_parsed(&statement.parsed.syntax)?;
                        let reads_clock = binder.reads_clock;
                        let columns = binder.columns;
                        let bound = Arc::new(optimize(
                            bound,
                            &prepared.param_types,
                            columns,
                            &mut open.txn,
                        )?);
                        if *result_columns(&bound) != *prepared.columns {
                            // The client was told the columns at Describe.
                            return Err(Error::Unsupported(
                                "cached plan must not change result type: a prepared \
                                 statement whose result columns changed"
                                    .into(),
                            ));
                        }
                        if let Some(generation) = cacheable(open).filter(|_| !reads_clock) {
                            statement.cache(generation, Arc::clone(&bound));
                        }
                        bound
                    }
                };
                if open.txn.is_read_only()
                    && let Some(command) = bound.writing_command()
                {
                    return Err(Error::sql(
                        SqlState::READ_ONLY_SQL_TRANSACTION,
                        format!("cannot execute {command} in a read-only transaction"),
                    ));
                }
                if bound.is_ddl() {
                    open.wrote_catalog = true;
                }
                let spill = instance.spill_space();
                run(
                    instance.mvcc(),
                    &bound,
                    &mut open.txn,
                    params,
                    QueryLimits {
                        time: time.clone(),
                        ..limits.clone()
                    },
                    spill,
                )
            },
            true,
            |outcome, txn| {
                if let Outcome::Rows { cursor, .. } = outcome
                    && cursor.needs_transaction()
                {
                    let rows = cursor.fetch(Some(txn), usize::MAX)?;
                    *cursor = Cursor::from_rows(rows);
                }
                Ok(())
            },
        )
    }

    /// Fetches up to `max_rows` more rows of a query's cursor.
    pub fn fetch(&mut self, cursor: &mut Cursor, max_rows: usize) -> Result<Vec<Row>> {
        let _stack = StackBase::enter();
        let transaction = match &mut self.state {
            TransactionState::Implicit(open) | TransactionState::Block(open) => Some(&mut open.txn),
            TransactionState::Failed(_) if cursor.needs_transaction() => {
                return Err(in_failed_transaction());
            }
            TransactionState::Failed(_) | TransactionState::Idle => None,
        };
        let result = cursor.fetch(transaction, max_rows);
        self.fail_on_error(result)
    }

    /// Fetches every remaining row of a cursor.
    pub fn fetch_all(&mut self, cursor: &mut Cursor) -> Result<Vec<Row>> {
        self.fetch(cursor, usize::MAX)
    }

    /// The status for ReadyForQuery.
    pub fn transaction_status(&self) -> TransactionStatus {
        match self.state {
            TransactionState::Idle | TransactionState::Implicit(_) => TransactionStatus::Idle,
            TransactionState::Block(_) => TransactionStatus::InBlock,
            TransactionState::Failed(_) => TransactionStatus::Failed,
        }
    }

    /// Opens an implicit-transaction scope, as PostgreSQL does for the
    /// statements of one simple Query string and for extended-protocol
    /// messages up to Sync: outside an explicit block, the statements of the
    /// scope share one transaction, committed by [`Session::end_implicit`].
    /// Idempotent.
    pub fn begin_implicit(&mut self) {
        self.implicit_scope = true;
    }

    /// Declares that every statement the open implicit scope runs from now
    /// until [`Session::end_implicit`] is a query, as the server knows when
    /// a Query string holds only SELECTs, or when the Sync that ends the
    /// scope has already arrived with no other Execute before it. If no
    /// transaction is open, the one the scope opens next is declared to run
    /// queries only ([`Transaction::declare_queries_only`]): an autocommit
    /// SELECT at SERIALIZABLE then costs SSI nothing while no read-write
    /// transaction runs beside it. Ignored outside a scope or inside a
    /// transaction.
    pub fn declare_queries_only(&mut self) {
        self.queries_only_scope =
            self.implicit_scope && matches!(self.state, TransactionState::Idle);
    }

    /// Closes the implicit-transaction scope: commits its transaction if one
    /// is open. An explicit block (opened by BEGIN inside the scope) stays
    /// open.
    pub fn end_implicit(&mut self) -> Result<()> {
        self.implicit_scope = false;
        self.queries_only_scope = false;
        match std::mem::replace(&mut self.state, TransactionState::Idle) {
            TransactionState::Implicit(open) => self.commit(open),
            other => {
                self.state = other;
                Ok(())
            }
        }
    }

    fn check_not_failed(&self) -> Result<()> {
        match self.state {
            TransactionState::Failed(_) => Err(in_failed_transaction()),
            _ => Ok(()),
        }
    }

    /// Commits, waiting for the WAL flush unless `synchronous_commit` is
    /// off (then a crash may lose it, within the background writer's delay,
    /// but never corrupts anything). A commit that changed the catalog
    /// invalidates every cached plan.
    fn commit(&self, mut open: Open) -> Result<()> {
        open.txn
            .set_synchronous_commit(self.settings.synchronous_commit());
        open.txn.commit()?;
        if open.wrote_catalog {
            self.instance.catalog_changed();
        }
        Ok(())
    }

    /// The transaction of an explicit block, for savepoint commands, which
    /// PostgreSQL refuses outside one (25P01), implicit transactions too.
    fn block_transaction(&mut self, command: &str) -> Result<&mut Transaction> {
        match &mut self.state {
            TransactionState::Block(open) | TransactionState::Failed(open) => Ok(&mut open.txn),
            _ => Err(Error::sql(
                SqlState::NO_ACTIVE_SQL_TRANSACTION,
                format!("{command} can only be used in transaction blocks"),
            )),
        }
    }

    /// A new transaction with the session's default modes.
    fn begin(&self, modes: TransactionModes) -> Result<Transaction> {
        let isolation = modes
            .isolation
            .unwrap_or_else(|| self.settings.default_isolation());
        let mut txn = self.instance.mvcc().begin(isolation)?;
        txn.set_read_only(
            modes
                .read_only
                .unwrap_or_else(|| self.settings.default_read_only()),
        )?;
        txn.set_deferrable(
            modes
                .deferrable
                .unwrap_or_else(|| self.settings.default_deferrable()),
        )?;
        Ok(txn)
    }

    /// The open transaction, if any.
    fn transaction(&self) -> Option<&Transaction> {
        match &self.state {
            TransactionState::Idle => None,
            TransactionState::Implicit(open)
            | TransactionState::Block(open)
            | TransactionState::Failed(open) => Some(&open.txn),
        }
    }

    fn execute_control(&mut self, control: Control) -> Result<Outcome> {
        match control {
            Control::Begin { modes, tag } => {
                self.check_not_failed()?;
                self.state = match std::mem::replace(&mut self.state, TransactionState::Idle) {
                    // BEGIN inside a multi-statement string turns the
                    // implicit transaction into a block, as in PostgreSQL,
                    // with the modes it names.
                    TransactionState::Implicit(mut open) => {
                        apply_modes(&mut open.txn, modes)?;
                        TransactionState::Block(open)
                    }
                    TransactionState::Idle => {
                        TransactionState::Block(Open::new(self.begin(modes)?))
                    }
                    // PostgreSQL warns about a nested BEGIN and carries on.
                    other => other,
                };
                Ok(command(tag))
            }
            Control::Commit => match std::mem::replace(&mut self.state, TransactionState::Idle) {
                TransactionState::Failed(open) => {
                    open.txn.rollback()?;
                    Ok(command("ROLLBACK"))
                }
                TransactionState::Block(open) | TransactionState::Implicit(open) => {
                    self.commit(open)?;
                    Ok(command("COMMIT"))
                }
                TransactionState::Idle => Ok(command("COMMIT")),
            },
            Control::Rollback => {
                match std::mem::replace(&mut self.state, TransactionState::Idle) {
                    TransactionState::Idle => {}
                    TransactionState::Implicit(open)
                    | TransactionState::Block(open)
                    | TransactionState::Failed(open) => open.txn.rollback()?,
                }
                Ok(command("ROLLBACK"))
            }
            Control::SetTransaction {
                modes,
                session: true,
            } => {
                self.check_not_failed()?;
                self.settings.set_defaults(modes);
                Ok(command("SET"))
            }
            Control::SetTransaction {
                modes,
                session: false,
            } => {
                self.check_not_failed()?;
                self.set_transaction(modes)?;
                Ok(command("SET"))
            }
            Control::Savepoint { name } => {
                self.check_not_failed()?;
                self.block_transaction("SAVEPOINT")?.savepoint(&name);
                Ok(command("SAVEPOINT"))
            }
            Control::ReleaseSavepoint { name } => {
                self.check_not_failed()?;
                self.block_transaction("RELEASE SAVEPOINT")?
                    .release_savepoint(&name)?;
                Ok(command("RELEASE"))
            }
            Control::RollbackToSavepoint { name } => {
                // Allowed in a failed block, which it repairs: the way
                // drivers recover from an error without losing the
                // transaction.
                self.block_transaction("ROLLBACK TO SAVEPOINT")?
                    .rollback_to_savepoint(&name)?;
                self.state = match std::mem::replace(&mut self.state, TransactionState::Idle) {
                    TransactionState::Failed(open) => TransactionState::Block(open),
                    other => other,
                };
                Ok(command("ROLLBACK"))
            }
            Control::Vacuum { table } => {
                self.check_not_failed()?;
                if !matches!(self.state, TransactionState::Idle) {
                    return Err(Error::sql(
                        SqlState::ACTIVE_SQL_TRANSACTION,
                        "VACUUM cannot run inside a transaction block",
                    ));
                }
                let mvcc = self.instance.mvcc();
                let stats = match table {
                    Some(name) => {
                        let mut txn = mvcc.begin(IsolationLevel::ReadCommitted)?;
                        txn.begin_statement();
                        let table = catalog::require_table(&mut txn, &name)?;
                        txn.commit()?;
                        let mut stats = mvcc.vacuum_tree(table.tree)?;
                        for index in &table.indexes {
                            let index_stats = mvcc.vacuum_tree(index.tree)?;
                            stats.keys += index_stats.keys;
                            stats.removed += index_stats.removed;
                        }
                        stats
                    }
                    // Every tree: also truncates the commit log.
                    None => mvcc.vacuum_all()?,
                };
                tracing::debug!(keys = stats.keys, removed = stats.removed, "vacuum");
                Ok(command("VACUUM"))
            }
            Control::Analyze { table, columns } => {
                match &mut self.state {
                    TransactionState::Failed(_) => return Err(in_failed_transaction()),
                    // Inside a block the statistics commit with it.
                    TransactionState::Implicit(open) | TransactionState::Block(open)
                        if !open.txn.is_read_only() =>
                    {
                        open.txn.begin_statement();
                        statistics::auto::analyze_in(
                            &mut open.txn,
                            table.as_deref(),
                            columns.as_deref(),
                        )?;
                        open.wrote_catalog = true;
                    }
                    // Each table in a transaction of its own; also from a
                    // read-only block, which PostgreSQL lets analyze.
                    _ => statistics::auto::analyze_now(
                        &self.instance,
                        table.as_deref(),
                        columns.as_deref(),
                    )?,
                }
                Ok(command("ANALYZE"))
            }
            Control::Set { name, value } => {
                self.check_not_failed()?;
                if let SetAction::Transaction(modes) = self.settings.set(&name, value)? {
                    self.set_transaction(modes)?;
                }
                Ok(command("SET"))
            }
            Control::Show { name } => {
                self.check_not_failed()?;
                let counts = self.instance.mvcc().read_lock_counts();
                let (column, value) = match name.to_ascii_lowercase().as_str() {
                    // Read-only counters of the SSI read locks (basalt's own
                    // settings, in a namespace of their own as PostgreSQL's
                    // extensions name theirs).
                    "basalt.ssi_read_locks" => (name.clone(), counts.locks.to_string()),
                    "basalt.ssi_range_locks" => (name.clone(), counts.range_locks.to_string()),
                    "basalt.ssi_coarsenings" => (name.clone(), counts.coarsenings.to_string()),
                    _ => self.settings.show(&name, self.transaction())?,
                };
                Ok(Outcome::Rows {
                    columns: Arc::new([Column {
                        name: column,
                        data_type: DataType::Text,
                    }]),
                    cursor: Cursor::from_rows(vec![vec![Value::Text(value.into())]]),
                })
            }
        }
    }

    /// `SET TRANSACTION`: changes the open block's transaction. Outside a
    /// block it has no effect (PostgreSQL also warns, 25P01; notices are
    /// not sent yet).
    fn set_transaction(&mut self, modes: TransactionModes) -> Result<()> {
        match &mut self.state {
            TransactionState::Block(open) => apply_modes(&mut open.txn, modes),
            _ => Ok(()),
        }
    }

    /// Runs `work` as one statement of the open transaction block or
    /// implicit transaction, or else of a transaction of its own that
    /// commits (when `commit`) or rolls back afterwards, after `finish` has
    /// done what must happen inside it (fetching an autocommit query's rows).
    fn with_transaction<T>(
        &mut self,
        mut work: impl FnMut(&mut Open) -> Result<T>,
        commit: bool,
        finish: impl FnOnce(&mut T, &mut Transaction) -> Result<()>,
    ) -> Result<T> {
        let lock_timeout = self.settings.lock_timeout();
        let generation = self.instance.generation();
        match &mut self.state {
            TransactionState::Block(open) | TransactionState::Implicit(open) => {
                begin_statement(open, generation, lock_timeout);
                return run_refreshing(open, &mut work);
            }
            TransactionState::Failed(_) => return Err(in_failed_transaction()),
            TransactionState::Idle => {}
        }
        let mut open = Open::new(self.begin(TransactionModes::default())?);
        if std::mem::take(&mut self.queries_only_scope) {
            open.txn.declare_queries_only()?;
        }
        begin_statement(&mut open, generation, lock_timeout);
        if self.implicit_scope {
            let result = run_refreshing(&mut open, &mut work);
            self.state = TransactionState::Implicit(open);
            return result;
        }
        let result = run_refreshing(&mut open, &mut work).and_then(|mut value| {
            finish(&mut value, &mut open.txn)?;
            Ok(value)
        });
        match result {
            Ok(value) if commit => {
                self.commit(open)?;
                Ok(value)
            }
            Ok(value) => {
                open.txn.rollback()?;
                Ok(value)
            }
            Err(error) => {
                open.txn.rollback()?;
                Err(error)
            }
        }
    }
}

/// Starts a statement: a READ COMMITTED transaction takes a new snapshot
/// for each, the others at their first, and the catalog generation is read
/// just before, so plans bound under the snapshot are labelled with a
/// generation no newer than the catalog they saw.
fn begin_statement(open: &mut Open, generation: u64, lock_timeout: Option<std::time::Duration>) {
    if open.snapshot_generation.is_none() || open.txn.isolation() == IsolationLevel::ReadCommitted {
        open.snapshot_generation = Some(generation);
    }
    open.txn.begin_statement();
    open.txn.set_lock_timeout(lock_timeout);
}

/// The generation a plan bound in `open` may be cached under: none if the
/// transaction changed the catalog itself (its plans see uncommitted DDL).
fn cacheable(open: &Open) -> Option<u64> {
    if open.wrote_catalog {
        None
    } else {
        open.snapshot_generation
    }
}

/// Runs one statement; while it fails by losing a write–write conflict that
/// read refresh can repair, runs it again on the newer snapshot
/// (`txn/refresh.rs`).
fn run_refreshing<T>(open: &mut Open, work: &mut impl FnMut(&mut Open) -> Result<T>) -> Result<T> {
    loop {
        match work(open) {
            Err(error) if open.txn.refresh_after_conflict()? => {
                tracing::debug!(txn = open.txn.id(), %error, "statement runs again after read refresh");
            }
            outcome => return outcome,
        }
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

fn in_failed_transaction() -> Error {
    Error::sql(
        SqlState::IN_FAILED_SQL_TRANSACTION,
        "current transaction is aborted, commands ignored until end of transaction block",
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::Database;

    fn run(session: &mut Session, sql: &str) -> Vec<Row> {
        let prepared = session.prepare(sql, &[]).expect("prepare");
        match session.execute(&prepared, &[]).expect("execute") {
            Outcome::Rows { mut cursor, .. } => session.fetch_all(&mut cursor).expect("fetch"),
            _ => Vec::new(),
        }
    }

    fn execute(session: &mut Session, prepared: &Prepared, id: i32) -> Result<Vec<Row>> {
        match session.execute(prepared, &[Value::Integer(id)])? {
            Outcome::Rows { mut cursor, .. } => session.fetch_all(&mut cursor),
            other => panic!("expected rows, got {other:?}"),
        }
    }

    #[test]
    fn a_prepared_statement_is_planned_once_until_the_catalog_changes() {
        let database = Database::open_in_memory().expect("database");
        let mut session = database.session();
        let mut other = database.session();
        run(&mut session, "CREATE TABLE t (id int PRIMARY KEY, v text)");
        run(&mut session, "INSERT INTO t VALUES (1, 'one'), (2, 'two')");
        let prepared = session
            .prepare("SELECT v FROM t WHERE id = $1", &[])
            .expect("prepare");
        let statement = prepared.statement.clone().expect("a statement");
        let planned = statement.cached_plan().expect("planned at prepare");
        assert_eq!(
            execute(&mut session, &prepared, 2).expect("execute"),
            vec![vec![Value::Text("two".into())]]
        );
        execute(&mut session, &prepared, 1).expect("execute");
        assert!(
            Arc::ptr_eq(&planned, &statement.cached_plan().expect("cached")),
            "executions reuse the plan"
        );
        // Any committed DDL invalidates it; the next execution plans again.
        run(&mut other, "CREATE TABLE unrelated (x int)");
        execute(&mut session, &prepared, 1).expect("execute");
        let replanned = statement.cached_plan().expect("cached again");
        assert!(!Arc::ptr_eq(&planned, &replanned));
        // A table replaced by one of another shape: PostgreSQL's 0A000.
        run(&mut other, "DROP TABLE t");
        run(&mut other, "CREATE TABLE t (id int PRIMARY KEY, v int)");
        let error = execute(&mut session, &prepared, 1).unwrap_err();
        assert_eq!(error.sqlstate(), SqlState::FEATURE_NOT_SUPPORTED);
    }

    #[test]
    fn a_transaction_that_changed_the_catalog_does_not_cache_its_plans() {
        let database = Database::open_in_memory().expect("database");
        let mut session = database.session();
        run(&mut session, "BEGIN");
        run(&mut session, "CREATE TABLE t (id int PRIMARY KEY)");
        let prepared = session.prepare("SELECT id FROM t", &[]).expect("prepare");
        let statement = prepared.statement.clone().expect("a statement");
        assert!(statement.cached_plan().is_none());
        run(&mut session, "ROLLBACK");
        // The table never committed: the statement binds again and fails.
        let error = session.execute(&prepared, &[]).unwrap_err();
        assert_eq!(error.sqlstate(), SqlState::UNDEFINED_TABLE);
    }
}
