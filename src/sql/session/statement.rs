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

use parking_lot::Mutex;

use crate::error::{Error, Result, SqlState};
use crate::sql::binder::{BoundQuery, BoundStatement, Control};
use crate::sql::catalog;
use crate::sql::execution::{self, Context, Operator, QueryState};
use crate::sql::explain;
use crate::sql::optimizer::{self, OptimizerContext};
use crate::sql::parser::ParsedStatement;
use crate::sql::plan::{Column, LogicalPlan};
use crate::sql::types::{DataType, Row, Value};
use crate::txn::{Mvcc, Transaction, TxnId};

/// A statement ready to execute, possibly many times with different
/// parameters.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The types of `$1..$n`: declared by the client or inferred.
    pub param_types: Vec<DataType>,
    /// The result columns; empty when the statement returns no rows.
    pub columns: Vec<Column>,
    /// The statement; `None` for an empty query string.
    pub(crate) statement: Option<Arc<PreparedStatement>>,
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

/// Optimizes a bound statement's plans.
pub(crate) fn optimize(
    statement: BoundStatement,
    param_types: &[DataType],
) -> Result<BoundStatement> {
    let optimize_plan = |plan: LogicalPlan, catalog: &mut crate::sql::plan::ColumnCatalog| {
        optimizer::optimize(
            plan,
            &mut OptimizerContext {
                columns: catalog,
                param_types,
            },
        )
    };
    let mut scratch = crate::sql::plan::ColumnCatalog::default();
    Ok(match statement {
        BoundStatement::Query(mut query) => {
            query.plan = optimize_plan(query.plan, &mut query.catalog)?;
            BoundStatement::Query(query)
        }
        BoundStatement::Explain(mut query) => {
            query.plan = optimize_plan(query.plan, &mut query.catalog)?;
            BoundStatement::Explain(query)
        }
        BoundStatement::Insert { table, source } => BoundStatement::Insert {
            table,
            source: optimize_plan(source, &mut scratch)?,
        },
        BoundStatement::Update {
            table,
            source,
            assignments,
        } => BoundStatement::Update {
            table,
            source: optimize_plan(source, &mut scratch)?,
            assignments,
        },
        BoundStatement::Delete { table, source } => BoundStatement::Delete {
            table,
            source: optimize_plan(source, &mut scratch)?,
        },
        ddl @ (BoundStatement::CreateTable { .. } | BoundStatement::DropTable { .. }) => ddl,
    })
}

/// The result columns of a bound statement.
pub(crate) fn result_columns(statement: &BoundStatement) -> Vec<Column> {
    match statement {
        BoundStatement::Query(query) => query.columns.clone(),
        BoundStatement::Explain(_) => vec![query_plan_column()],
        _ => Vec::new(),
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
        columns: Vec<Column>,
        cursor: Cursor,
    },
    /// A command with its completion tag (`INSERT 0 3`, `CREATE TABLE`, …).
    Command { tag: String },
    /// The query string was empty.
    Empty,
}

pub(crate) fn command(tag: impl Into<String>) -> Outcome {
    Outcome::Command { tag: tag.into() }
}

/// The open result of a query.
pub struct Cursor {
    pub(crate) source: CursorSource,
}

pub(crate) enum CursorSource {
    /// Rows already computed.
    Rows(std::vec::IntoIter<Row>),
    /// An operator tree reading through transaction `transaction`.
    Operator {
        operator: Box<Operator>,
        state: QueryState,
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

/// Runs a bound (non-control) statement in `txn`.
pub(crate) fn run(
    mvcc: &Mvcc,
    statement: &BoundStatement,
    txn: &mut Transaction,
    params: &[Value],
    work_mem: usize,
) -> Result<Outcome> {
    let mut state = QueryState::new(params.to_vec(), work_mem);
    Ok(match statement {
        BoundStatement::Query(BoundQuery { plan, columns, .. }) => {
            let operator = execution::build(plan, &[])?;
            Outcome::Rows {
                columns: columns.clone(),
                cursor: Cursor {
                    source: CursorSource::Operator {
                        operator: Box::new(operator),
                        state,
                        transaction: txn.id(),
                    },
                },
            }
        }
        BoundStatement::Explain(query) => Outcome::Rows {
            columns: vec![query_plan_column()],
            cursor: Cursor::from_rows(
                explain::explain(&query.plan, &query.catalog)
                    .into_iter()
                    .map(|line| vec![Value::Text(line)])
                    .collect(),
            ),
        },
        BoundStatement::Insert { table, source } => {
            let mut source = execution::build(source, &[])?;
            let mut next_row_id = |name: &[u8]| mvcc.next_sequence_value(name);
            let mut context = Context::new(Some(txn), &mut state);
            let count = execution::dml::insert(table, &mut source, &mut context, &mut next_row_id)?;
            command(format!("INSERT 0 {count}"))
        }
        BoundStatement::Update {
            table,
            source,
            assignments,
        } => {
            let mut context = Context::new(Some(txn), &mut state);
            let count = execution::dml::update(table, source, assignments, &mut context)?;
            command(format!("UPDATE {count}"))
        }
        BoundStatement::Delete { table, source } => {
            let mut context = Context::new(Some(txn), &mut state);
            let count = execution::dml::delete(table, source, &mut context)?;
            command(format!("DELETE {count}"))
        }
        BoundStatement::CreateTable {
            table,
            if_not_exists,
        } => {
            if catalog::get_table(txn, &table.name)?.is_some() {
                if *if_not_exists {
                    return Ok(command("CREATE TABLE"));
                }
                return Err(Error::sql(
                    SqlState::DUPLICATE_TABLE,
                    format!("relation \"{}\" already exists", table.name),
                ));
            }
            let mut table = table.clone();
            table.tree = txn.create_tree()?;
            catalog::put_table(txn, &table)?;
            command("CREATE TABLE")
        }
        BoundStatement::DropTable { names, if_exists } => {
            // Check every name first so a failing DROP drops nothing.
            let mut tables = Vec::new();
            for name in names {
                match catalog::get_table(txn, name)? {
                    Some(table) => tables.push(table),
                    None if *if_exists => {}
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
    })
}
