//! Prepared statements, their cached plans, and running a bound statement.
//!
//! A statement is bound and optimized once, when it is prepared, and the
//! plan is kept with the catalog generation it was made under. Executing
//! it again reuses the plan while the generation is unchanged: parameters
//! are values in the execution's [`QueryState`], never substituted into
//! the plan. Any committed DDL raises the generation, so the next execution
//! binds and optimizes again, as PostgreSQL re-plans after invalidation.
//!
//! A query's result is a [`Cursor`]: an operator tree pulled a batch at a
//! time ([`super::Session::fetch`]), so rows stream to the client and a
//! portal with a row limit resumes where it stopped.

use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::ddl::{self, DropKind};
use super::sequence_ddl;
use crate::error::{Error, Result, SqlState};
use crate::sql::binder::{
    AnalyzeOptions, Binder, BoundQuery, BoundStatement, Control, ExplainOptions, Returning,
};
use crate::sql::execution::dml::ReturningRows;
use crate::sql::execution::measure::{Measurements, measuring};
use crate::sql::execution::spill::SpillSpace;
use crate::sql::execution::{self, Context, Operator, QueryState};
use crate::sql::explain;
use crate::sql::optimizer::{self, OptimizerContext};
use crate::sql::parser::ParsedStatement;
use crate::sql::plan::{Column, ColumnCatalog, LogicalPlan};
use crate::sql::statistics::StatisticsSet;
use crate::sql::types::{DataType, Row, Value};
use crate::txn::{Mvcc, Transaction, TxnId};

/// A statement ready to execute, possibly many times with different
/// parameters.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The types of `$1..$n`: declared by the client or inferred.
    pub param_types: Vec<DataType>,
    /// The result columns; empty when the statement returns no rows.
    /// Shared: every execution's portal describes its rows by them.
    pub columns: Arc<[Column]>,
    /// The statement; `None` for an empty query string.
    pub(crate) statement: Option<Arc<PreparedStatement>>,
}

impl Prepared {
    /// Whether the statement is a query, which never writes
    /// ([`ParsedStatement::is_query`]).
    pub fn is_query(&self) -> bool {
        self.statement
            .as_ref()
            .is_some_and(|statement| statement.parsed.is_query())
    }
}

/// The parsed statement behind a [`Prepared`], with its cached plan.
#[derive(Debug)]
pub(crate) struct PreparedStatement {
    pub(crate) parsed: ParsedStatement,
    /// Set for transaction control, SET and SHOW, which have no plan.
    pub(crate) control: Option<Control>,
    plan: Mutex<Option<CachedPlan>>,
}

/// An optimized statement and the catalog generation it is valid for.
#[derive(Clone, Debug)]
struct CachedPlan {
    generation: u64,
    statement: Arc<BoundStatement>,
}

impl PreparedStatement {
    pub(crate) fn new(parsed: ParsedStatement, control: Option<Control>) -> PreparedStatement {
        PreparedStatement {
            parsed,
            control,
            plan: Mutex::new(None),
        }
    }

    /// The cached plan, if it was made under `generation`.
    pub(crate) fn cached(&self, generation: u64) -> Option<Arc<BoundStatement>> {
        self.plan
            .lock()
            .as_ref()
            .filter(|plan| plan.generation == generation)
            .map(|plan| Arc::clone(&plan.statement))
    }

    /// The cached plan, whatever its generation.
    #[cfg(test)]
    pub(crate) fn cached_plan(&self) -> Option<Arc<BoundStatement>> {
        self.plan
            .lock()
            .as_ref()
            .map(|plan| Arc::clone(&plan.statement))
    }

    pub(crate) fn cache(&self, generation: u64, statement: Arc<BoundStatement>) {
        *self.plan.lock() = Some(CachedPlan {
            generation,
            statement,
        });
    }
}

/// Optimizes a bound statement's plans; `columns` is the catalog of the
/// statement's column ids (a query carries its own).
pub(crate) fn optimize(
    statement: BoundStatement,
    param_types: &[DataType],
    mut columns: ColumnCatalog,
    txn: &mut Transaction,
) -> Result<BoundStatement> {
    let plans: Vec<&LogicalPlan> = match &statement {
        BoundStatement::Query(query) | BoundStatement::Explain { query, .. } => vec![&query.plan],
        BoundStatement::Insert { source, .. }
        | BoundStatement::Update { source, .. }
        | BoundStatement::Delete { source, .. } => vec![source],
        BoundStatement::Truncate { tables, .. } => {
            tables.iter().map(|(_, source)| source).collect()
        }
        _ => Vec::new(),
    };
    let statistics = Arc::new(StatisticsSet::load(txn, plans)?);
    fn context<'a>(
        columns: &'a mut ColumnCatalog,
        param_types: &'a [DataType],
        statistics: &'a StatisticsSet,
    ) -> OptimizerContext<'a> {
        OptimizerContext {
            columns,
            param_types,
            statistics,
        }
    }
    let query = |mut query: BoundQuery| -> Result<BoundQuery> {
        let started = Instant::now();
        query.plan = optimizer::optimize(
            query.plan,
            &mut context(&mut query.catalog, param_types, &statistics),
        )?;
        query.statistics = Arc::clone(&statistics);
        query.planning_time = started.elapsed();
        Ok(query)
    };
    Ok(match statement {
        BoundStatement::Query(bound) => BoundStatement::Query(query(bound)?),
        BoundStatement::Explain {
            query: bound,
            options,
        } => BoundStatement::Explain {
            query: query(bound)?,
            options,
        },
        BoundStatement::Insert {
            table,
            source,
            returning,
            on_conflict,
        } => BoundStatement::Insert {
            table,
            returning,
            on_conflict,
            source: optimizer::optimize(
                source,
                &mut context(&mut columns, param_types, &statistics),
            )?,
        },
        BoundStatement::Update {
            table,
            source,
            assignments,
            returning,
        } => BoundStatement::Update {
            table,
            source: optimizer::optimize_scan(
                source,
                &mut context(&mut columns, param_types, &statistics),
            )?,
            assignments,
            returning,
        },
        BoundStatement::Delete {
            table,
            source,
            returning,
        } => BoundStatement::Delete {
            table,
            returning,
            source: optimizer::optimize_scan(
                source,
                &mut context(&mut columns, param_types, &statistics),
            )?,
        },
        BoundStatement::Truncate {
            tables,
            restart_identity,
        } => BoundStatement::Truncate {
            restart_identity,
            tables: tables
                .into_iter()
                .map(|(table, source)| {
                    let source = optimizer::optimize_scan(
                        source,
                        &mut context(&mut columns, param_types, &statistics),
                    )?;
                    Ok((table, source))
                })
                .collect::<Result<Vec<_>>>()?,
        },
        ddl @ (BoundStatement::CreateTable { .. }
        | BoundStatement::CreateSequence { .. }
        | BoundStatement::AlterSequence { .. }
        | BoundStatement::DropSequence { .. }
        | BoundStatement::DropTable { .. }
        | BoundStatement::CreateIndex { .. }
        | BoundStatement::DropIndex { .. }
        | BoundStatement::CreateView { .. }
        | BoundStatement::DropView { .. }) => ddl,
    })
}

/// The result columns of a bound statement.
pub(crate) fn result_columns(statement: &BoundStatement) -> Arc<[Column]> {
    match statement {
        BoundStatement::Query(query) => Arc::clone(&query.columns),
        BoundStatement::Explain { .. } => Arc::new([query_plan_column()]),
        BoundStatement::Insert {
            returning: Some(returning),
            ..
        }
        | BoundStatement::Update {
            returning: Some(returning),
            ..
        }
        | BoundStatement::Delete {
            returning: Some(returning),
            ..
        } => Arc::clone(&returning.columns),
        _ => Arc::new([]),
    }
}

fn query_plan_column() -> Column {
    Column {
        name: "QUERY PLAN".into(),
        data_type: DataType::Text,
    }
}

/// What executing a statement produced.
#[derive(Debug)]
pub enum Outcome {
    /// The rows of a query, to fetch from the cursor.
    Rows {
        columns: Arc<[Column]>,
        cursor: Cursor,
    },
    /// A command with its completion tag (`INSERT 0 3`, `CREATE TABLE`, …)
    /// and the notices it raised, sent before the tag.
    Command { tag: String, notices: Vec<Notice> },
    /// The query string was empty.
    Empty,
}

impl Outcome {
    /// Whether nothing of it is left to fetch: a command, an empty query,
    /// or rows whose cursor is exhausted.
    pub fn is_whole(&self) -> bool {
        match self {
            Outcome::Rows { cursor, .. } => cursor.is_done(),
            Outcome::Command { .. } | Outcome::Empty => true,
        }
    }
}

pub(crate) fn command(tag: impl Into<String>) -> Outcome {
    Outcome::Command {
        tag: tag.into(),
        notices: Vec::new(),
    }
}

/// A message for the client that is not an error (PostgreSQL's NOTICE):
/// a statement that did less than it says, or did it differently.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub code: SqlState,
    pub message: String,
}

/// A command's outcome with one notice.
pub(crate) fn command_with_notice(
    tag: impl Into<String>,
    code: SqlState,
    message: impl Into<String>,
) -> Outcome {
    Outcome::Command {
        tag: tag.into(),
        notices: vec![Notice {
            code,
            message: message.into(),
        }],
    }
}

/// The open result of a query.
pub struct Cursor {
    pub(crate) source: CursorSource,
    /// The completion tag of a DML statement's RETURNING rows (`INSERT 0
    /// 3`); `None` for a query, whose tag counts the rows sent.
    tag: Option<String>,
}

pub(crate) enum CursorSource {
    /// Rows already computed.
    Rows(std::vec::IntoIter<Row>),
    /// An operator tree reading through transaction `transaction`.
    Operator {
        operator: Box<Operator>,
        state: Box<QueryState>,
        transaction: TxnId,
    },
    /// Everything was fetched.
    Done,
}

impl std::fmt::Debug for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.source {
            CursorSource::Rows(rows) => format!("{} rows", rows.len()),
            CursorSource::Operator { transaction, .. } => format!("open in {transaction}"),
            CursorSource::Done => "done".into(),
        };
        write!(f, "Cursor({kind})")
    }
}

impl Cursor {
    /// A cursor over rows already computed.
    pub fn from_rows(rows: Vec<Row>) -> Cursor {
        Cursor {
            source: CursorSource::Rows(rows.into_iter()),
            tag: None,
        }
    }

    /// A cursor over a DML statement's RETURNING rows, completed by `tag`.
    pub fn from_returning(rows: Vec<Row>, tag: String) -> Cursor {
        Cursor {
            source: CursorSource::Rows(rows.into_iter()),
            tag: Some(tag),
        }
    }

    /// The CommandComplete tag once `sent` rows went out: `SELECT n` for a
    /// query, the statement's own tag for RETURNING rows.
    pub fn completion_tag(&self, sent: usize) -> String {
        match &self.tag {
            Some(tag) => tag.clone(),
            None => format!("SELECT {sent}"),
        }
    }

    /// Whether every row has been fetched.
    pub fn is_done(&self) -> bool {
        match &self.source {
            CursorSource::Rows(rows) => rows.len() == 0,
            CursorSource::Operator { .. } => false,
            CursorSource::Done => true,
        }
    }

    /// Says that every row will be fetched, whatever the batches: long
    /// scans may then read ahead on a worker thread (`read_ahead.rs`). A
    /// portal fetched with a row limit may stop at any row, so it reads
    /// serially, as PostgreSQL runs no parallel plan for it.
    pub fn want_all_rows(&mut self) {
        if let CursorSource::Operator { state, .. } = &mut self.source {
            state.fetching_all = true;
        }
    }

    /// Whether fetching needs the transaction the cursor was opened in.
    pub(crate) fn needs_transaction(&self) -> bool {
        matches!(self.source, CursorSource::Operator { .. })
    }

    /// Fetches up to `max_rows` rows (`usize::MAX` for all) through
    /// `transaction` (needed only while the cursor reads tables).
    pub(crate) fn fetch(
        &mut self,
        transaction: Option<&mut Transaction>,
        max_rows: usize,
    ) -> Result<Vec<Row>> {
        let mut rows = Vec::new();
        match &mut self.source {
            CursorSource::Rows(iter) => rows.extend(iter.by_ref().take(max_rows)),
            CursorSource::Done => {}
            CursorSource::Operator {
                operator,
                state,
                transaction: opened_in,
            } => {
                let txn = transaction
                    .filter(|txn| txn.id() == *opened_in)
                    .ok_or_else(|| {
                        Error::sql(
                            SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                            "the transaction this query ran in has ended",
                        )
                    })?;
                state.fetching_all |= max_rows == usize::MAX;
                let mut context = Context::new(Some(txn), state);
                while rows.len() < max_rows {
                    match operator.next(&mut context) {
                        Ok(Some(row)) => rows.push(row),
                        Ok(None) => {
                            self.source = CursorSource::Done;
                            break;
                        }
                        Err(error) => {
                            self.source = CursorSource::Done;
                            return Err(error);
                        }
                    }
                }
            }
        }
        if let CursorSource::Rows(iter) = &self.source
            && iter.len() == 0
        {
            self.source = CursorSource::Done;
        }
        Ok(rows)
    }
}

/// What a session's settings allow one statement.
#[derive(Clone, Debug)]
pub(crate) struct QueryLimits {
    /// Bytes an operator holds before it spills (`work_mem`).
    pub work_mem: usize,
    /// `hash_mem_multiplier`: hash tables hold this many times more.
    pub hash_mem_multiplier: f64,
    /// Read-ahead workers a query may run at once
    /// (`max_parallel_workers_per_gather`).
    pub parallel_workers: usize,
    /// Bytes an index build sorts in memory (`maintenance_work_mem`).
    pub maintenance_work_mem: usize,
    /// The session's zone and the transaction's start.
    pub time: crate::sql::datetime::TimeContext,
    /// The database's sequences and the session's memory of them.
    pub sequences: crate::sql::sequence::SequenceAccess,
}

/// `EXPLAIN ANALYZE`: runs the query to its end, discarding its rows,
/// with every operator measured, then renders the plan with what each
/// node did, the planning and execution times unless `SUMMARY OFF`.
fn explain_analyze(
    query: &BoundQuery,
    options: ExplainOptions,
    analyze: AnalyzeOptions,
    txn: &mut Transaction,
    mut state: QueryState,
) -> Result<Vec<String>> {
    let measurements = Arc::new(Measurements::new(analyze.timing));
    let started = Instant::now();
    measuring(&measurements, || -> Result<()> {
        let mut operator = execution::build(&query.plan, &[])?;
        let mut context = Context::new(Some(txn), &mut state);
        while operator.next(&mut context)?.is_some() {}
        Ok(())
    })?;
    let elapsed = started.elapsed();
    let measured = explain::Measured {
        measurements: &measurements,
        timing: analyze.timing,
    };
    let mut lines = explain::explain(
        &query.plan,
        &query.catalog,
        &query.statistics,
        options,
        Some(measured),
    );
    if analyze.summary {
        lines.push(format!(
            "Planning Time: {:.3} ms",
            query.planning_time.as_secs_f64() * 1000.0
        ));
        lines.push(format!(
            "Execution Time: {:.3} ms",
            elapsed.as_secs_f64() * 1000.0
        ));
    }
    Ok(lines)
}

/// A DML statement's outcome: its tag, or its RETURNING rows completed by
/// the tag.
fn dml_outcome(tag: String, returning: &Option<Returning>, rows: Option<ReturningRows>) -> Outcome {
    match (returning, rows) {
        (Some(returning), Some(rows)) => Outcome::Rows {
            columns: Arc::clone(&returning.columns),
            cursor: Cursor::from_returning(rows.rows, tag),
        },
        _ => command(tag),
    }
}

/// Runs a bound (non-control) statement in `txn`; operators spill to
/// `spill` beyond `limits.work_mem`.
pub(crate) fn run(
    mvcc: &Mvcc,
    statement: &BoundStatement,
    txn: &mut Transaction,
    params: &[Value],
    limits: QueryLimits,
    spill: &Arc<SpillSpace>,
) -> Result<Outcome> {
    let mut state = QueryState::new(params.to_vec(), limits.work_mem)
        .with_time(limits.time.clone())
        .with_sequences(limits.sequences.clone())
        .with_hash_mem_multiplier(limits.hash_mem_multiplier)
        .with_spill_space(Arc::clone(spill));
    Ok(match statement {
        BoundStatement::Query(BoundQuery { plan, columns, .. }) => {
            let operator = execution::build(plan, &[])?;
            let state = state.with_parallel_workers(limits.parallel_workers);
            Outcome::Rows {
                columns: columns.clone(),
                cursor: Cursor {
                    source: CursorSource::Operator {
                        operator: Box::new(operator),
                        state: Box::new(state),
                        transaction: txn.id(),
                    },
                    tag: None,
                },
            }
        }
        BoundStatement::Explain { query, options } => {
            let lines = match options.analyze {
                None => explain::explain(
                    &query.plan,
                    &query.catalog,
                    &query.statistics,
                    *options,
                    None,
                ),
                Some(analyze) => {
                    let state = state.with_parallel_workers(limits.parallel_workers);
                    explain_analyze(query, *options, analyze, txn, state)?
                }
            };
            Outcome::Rows {
                columns: Arc::new([query_plan_column()]),
                cursor: Cursor::from_rows(
                    lines
                        .into_iter()
                        .map(|line| vec![Value::Text(line.into())])
                        .collect(),
                ),
            }
        }
        BoundStatement::Insert {
            table,
            source,
            returning,
            on_conflict,
        } => {
            let mut source = execution::build(source, &[])?;
            let mut next_row_id = |name: &[u8]| mvcc.next_sequence_value(name);
            let mut rows = returning.as_ref().map(ReturningRows::new).transpose()?;
            let mut context = Context::new(Some(txn), &mut state);
            let count = execution::dml::insert(
                table,
                &mut source,
                &mut context,
                &mut next_row_id,
                rows.as_mut(),
                on_conflict.as_ref(),
            )?;
            dml_outcome(format!("INSERT 0 {count}"), returning, rows)
        }
        BoundStatement::Update {
            table,
            source,
            assignments,
            returning,
        } => {
            let mut rows = returning.as_ref().map(ReturningRows::new).transpose()?;
            let mut context = Context::new(Some(txn), &mut state);
            let count =
                execution::dml::update(table, source, assignments, &mut context, rows.as_mut())?;
            dml_outcome(format!("UPDATE {count}"), returning, rows)
        }
        BoundStatement::Delete {
            table,
            source,
            returning,
        } => {
            let mut rows = returning.as_ref().map(ReturningRows::new).transpose()?;
            let mut context = Context::new(Some(txn), &mut state);
            let count = execution::dml::delete(table, source, &mut context, rows.as_mut())?;
            dml_outcome(format!("DELETE {count}"), returning, rows)
        }
        BoundStatement::Truncate {
            tables,
            restart_identity,
        } => {
            // Row by row through MVCC, so unlike PostgreSQL's TRUNCATE a
            // concurrent snapshot still sees the rows it should.
            let mut context = Context::new(Some(txn), &mut state);
            for (table, source) in tables {
                execution::dml::delete(table, source, &mut context, None)?;
            }
            if *restart_identity {
                let names: Vec<&str> = tables
                    .iter()
                    .map(|(table, _)| table.name.as_str())
                    .collect();
                sequence_ddl::restart_owned_sequences(txn, &limits.sequences.shared, &names)?;
            }
            command("TRUNCATE TABLE")
        }
        BoundStatement::CreateTable {
            table,
            unique,
            sequences,
            if_not_exists,
        } => ddl::create_table(
            txn,
            table,
            unique,
            sequences,
            &limits.sequences.shared,
            *if_not_exists,
        )?,
        BoundStatement::CreateSequence {
            sequence,
            if_not_exists,
        } => {
            sequence_ddl::create_sequence(txn, sequence, &limits.sequences.shared, *if_not_exists)?
        }
        BoundStatement::AlterSequence {
            name,
            if_exists,
            options,
            restart,
            owner,
        } => sequence_ddl::alter_sequence(
            txn,
            &limits.sequences.shared,
            sequence_ddl::SequenceChange {
                name,
                if_exists: *if_exists,
                options,
                restart,
                owner: owner.as_ref(),
            },
        )?,
        BoundStatement::DropSequence {
            names,
            if_exists,
            cascade,
        } => sequence_ddl::drop_sequences(txn, names, *if_exists, *cascade)?,
        BoundStatement::CreateIndex {
            index,
            if_not_exists,
        } => {
            let sort_space = ddl::SortSpace {
                space: spill,
                budget: limits.maintenance_work_mem,
            };
            ddl::create_index(txn, index, *if_not_exists, sort_space)?
        }
        BoundStatement::DropIndex {
            names,
            if_exists,
            cascade: _,
        } => ddl::drop_indexes(txn, names, *if_exists)?,
        BoundStatement::DropTable {
            names,
            if_exists,
            cascade,
        } => ddl::drop_relations(txn, DropKind::Table, names, *if_exists, *cascade)?,
        BoundStatement::DropView {
            names,
            if_exists,
            cascade,
        } => ddl::drop_relations(txn, DropKind::View, names, *if_exists, *cascade)?,
        BoundStatement::CreateView {
            view,
            types,
            replace,
        } => ddl::create_view(txn, view, types, *replace, |txn, old| {
            let (_, columns) = Binder::new(txn, &[]).bind_view(old)?;
            Ok(columns.iter().map(|c| c.data_type).collect())
        })?,
    })
}
