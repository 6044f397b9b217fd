//! The binder: sqlparser statements → [`BoundStatement`]s, whose queries
//! are [`LogicalPlan`]s over statement-wide column ids, with every name
//! resolved against the catalog as the current transaction sees it and
//! every expression typed.
//!
//! ```text
//!   control.rs   BEGIN/COMMIT/SET/SHOW/VACUUM (no catalog needed)
//!   scope.rs     the columns each query level sees; the chain of levels
//!   query.rs     a query: WITH, body, ORDER BY, LIMIT
//!   select.rs    SELECT: FROM → WHERE → GROUP BY → HAVING → windows →
//!                select list → DISTINCT [ON] → ORDER BY → LIMIT
//!   window.rs    window function calls, WINDOW clauses, frames
//!   from.rs      FROM: tables, views, subqueries, functions, joins
//!   cte.rs       WITH [RECURSIVE]: inlined or shared
//!   set_operation.rs  UNION / INTERSECT / EXCEPT [ALL]
//!   subquery.rs  subqueries in expressions: scalar, EXISTS, IN, ANY, ALL
//!   expr.rs      expressions: names, operators, literals, types
//!   function.rs  scalar functions
//!   aggregate.rs aggregate calls (DISTINCT, ORDER BY, FILTER)
//!   ddl.rs       CREATE TABLE, DROP TABLE
//!   dml.rs       INSERT, UPDATE, DELETE
//! ```
//!
//! Typing follows PostgreSQL's rules closely enough for the supported types:
//! string literals, NULL and untyped parameters are *unknown* until context
//! gives them a type (`int_col = '5'` reads `'5'` as an integer, `a = $1`
//! infers `$1` from `a`); numeric operands promote along
//! smallint → integer → bigint → real → double precision.

mod aggregate;
mod control;
mod cte;
mod ddl;
mod dml;
mod explain;
mod expr;
mod from;
mod function;
mod index;
mod query;
mod scope;
mod select;
mod sequence;
mod set_operation;
mod string;
mod subquery;
mod time;
mod upsert;
mod window;

use std::sync::Arc;

use sqlparser::ast::{self, Statement};

pub use control::{Control, TransactionModes, bind_control};
pub use explain::{AnalyzeOptions, ExplainOptions};
pub use expr::{Typed, bind_data_type};
pub use index::{IndexDefinition, IndexKeyColumn, bind_index_expression};
pub use scope::{Scope, ScopeColumn};
pub(crate) use sequence::sequences_in_default;
pub use upsert::{Arbiter, ConflictAction, OnConflict};

use super::catalog::{Table, View};
use super::expr::Expr;
use super::parser::Syntax;
use super::plan::{Column, ColumnCatalog, LogicalPlan};
use super::sequence::{Restart, Sequence, SequenceOwner};
use super::types::DataType;
use crate::error::{Error, Result};
use crate::txn::Transaction;

/// A bound query: its plan, the columns it returns, and the statement's
/// column catalog (names and types of every id in the plan).
#[derive(Clone, Debug)]
pub struct BoundQuery {
    pub plan: LogicalPlan,
    pub columns: Arc<[Column]>,
    pub catalog: ColumnCatalog,
    /// The statistics the plan was optimized with (set by the optimizer;
    /// `EXPLAIN` estimates with them).
    pub statistics: std::sync::Arc<crate::sql::statistics::StatisticsSet>,
    /// How long the optimizer took (set by it; `EXPLAIN ANALYZE` prints
    /// it as PostgreSQL's `Planning Time`).
    pub planning_time: std::time::Duration,
}

/// A bound statement that reads or writes data, ready to optimize and run.
#[derive(Clone, Debug)]
pub enum BoundStatement {
    Query(BoundQuery),
    Explain {
        query: BoundQuery,
        options: ExplainOptions,
    },
    /// `source` produces full-width rows in table column order.
    Insert {
        table: Arc<Table>,
        source: LogicalPlan,
        returning: Option<Returning>,
        on_conflict: Option<OnConflict>,
    },
    /// `source` is a filtered scan of `table`; each assignment sets a table
    /// column (by index) to an expression over the scan's columns.
    Update {
        table: Arc<Table>,
        source: LogicalPlan,
        assignments: Vec<(usize, Expr)>,
        returning: Option<Returning>,
    },
    Delete {
        table: Arc<Table>,
        source: LogicalPlan,
        returning: Option<Returning>,
    },
    /// `TRUNCATE`: each table with a scan of all its rows, all deleted;
    /// with `restart_identity`, the sequences they own start again.
    Truncate {
        tables: Vec<(Arc<Table>, LogicalPlan)>,
        restart_identity: bool,
    },
    /// `unique`: its UNIQUE constraints, each backed by an index;
    /// `sequences`: those its SERIAL and identity columns own.
    CreateTable {
        table: Table,
        unique: Vec<IndexDefinition>,
        sequences: Vec<Sequence>,
        if_not_exists: bool,
    },
    CreateSequence {
        sequence: Sequence,
        if_not_exists: bool,
    },
    /// `ALTER SEQUENCE`: its options (without OWNED BY, which is `owner`:
    /// `Some(None)` for `OWNED BY NONE`), applied to the definition as it
    /// is when the statement runs.
    AlterSequence {
        name: String,
        if_exists: bool,
        options: Vec<ast::SequenceOptions>,
        restart: Restart,
        owner: Option<Option<SequenceOwner>>,
    },
    DropSequence {
        names: Vec<String>,
        if_exists: bool,
        cascade: bool,
    },
    CreateIndex {
        index: IndexDefinition,
        if_not_exists: bool,
    },
    DropIndex {
        names: Vec<String>,
        if_exists: bool,
        cascade: bool,
    },
    DropTable {
        names: Vec<String>,
        if_exists: bool,
        cascade: bool,
    },
    /// `CREATE [OR REPLACE] VIEW`; `types` are its columns' types now, for
    /// the checks of OR REPLACE.
    CreateView {
        view: View,
        types: Vec<DataType>,
        replace: bool,
    },
    DropView {
        names: Vec<String>,
        if_exists: bool,
        cascade: bool,
    },
}

impl BoundStatement {
    /// The command name of a statement that writes, for the read-only error.
    pub fn writing_command(&self) -> Option<&'static str> {
        match self {
            BoundStatement::Insert { .. } => Some("INSERT"),
            BoundStatement::Update { .. } => Some("UPDATE"),
            BoundStatement::Delete { .. } => Some("DELETE"),
            BoundStatement::Truncate { .. } => Some("TRUNCATE TABLE"),
            BoundStatement::CreateTable { .. } => Some("CREATE TABLE"),
            BoundStatement::CreateSequence { .. } => Some("CREATE SEQUENCE"),
            BoundStatement::AlterSequence { .. } => Some("ALTER SEQUENCE"),
            BoundStatement::DropSequence { .. } => Some("DROP SEQUENCE"),
            BoundStatement::DropTable { .. } => Some("DROP TABLE"),
            BoundStatement::CreateView { .. } => Some("CREATE VIEW"),
            BoundStatement::DropView { .. } => Some("DROP VIEW"),
            BoundStatement::CreateIndex { .. } => Some("CREATE INDEX"),
            BoundStatement::DropIndex { .. } => Some("DROP INDEX"),
            BoundStatement::Query(_) | BoundStatement::Explain { .. } => None,
        }
    }

    /// Whether the statement changes the catalog.
    pub fn is_ddl(&self) -> bool {
        matches!(
            self,
            BoundStatement::CreateTable { .. }
                | BoundStatement::CreateSequence { .. }
                | BoundStatement::AlterSequence { .. }
                | BoundStatement::DropSequence { .. }
                | BoundStatement::DropTable { .. }
                | BoundStatement::CreateView { .. }
                | BoundStatement::DropView { .. }
                | BoundStatement::CreateIndex { .. }
                | BoundStatement::DropIndex { .. }
        )
    }
}

/// A DML statement's `RETURNING` list: expressions over the row it wrote
/// (as stored for INSERT and UPDATE, as it was for DELETE).
#[derive(Clone, Debug)]
pub struct Returning {
    /// The ids the expressions read the row's columns by, in table column
    /// order.
    pub row: Vec<super::expr::ColumnId>,
    pub exprs: Vec<Expr>,
    pub columns: Arc<[Column]>,
}

/// Binds one statement within a transaction.
pub struct Binder<'a> {
    pub(crate) txn: &'a mut Transaction,
    /// Who the session is (`current_user`, `current_database()`…);
    /// `None` where no session is binding (index expressions).
    pub(crate) identity: Option<std::sync::Arc<crate::sql::session::Identity>>,
    /// The session's zone and the transaction's start: how literals of
    /// the time types are read (UTC where no session is binding).
    pub(crate) time: crate::sql::datetime::TimeContext,
    /// A literal was read against the clock (`'now'`, `'today'`…): the
    /// plan holds this transaction's time and must not be cached.
    pub(crate) reads_clock: bool,
    /// `$n` types: declared by the client, or inferred here.
    pub(crate) params: Vec<Option<DataType>>,
    /// Every column id handed out so far.
    pub(crate) columns: ColumnCatalog,
    /// The scopes of the enclosing query levels, innermost last.
    pub(crate) outer: Vec<Scope>,
    /// The common table expressions in scope, innermost last.
    pub(crate) ctes: Vec<cte::CteBinding>,
    /// Projection outputs that are unknown-typed literals, which a set
    /// operation may still give another type.
    pub(crate) unknown_columns: std::collections::HashSet<super::expr::ColumnId>,
    /// Relations read so far (bounded by `from::MAX_RELATIONS`).
    pub(crate) relations: usize,
    /// Subquery expressions bound so far (their ids).
    pub(crate) subquery_count: usize,
    /// Shared CTEs and recursive CTEs bound so far (their ids).
    pub(crate) cte_count: usize,
    /// The tables and views the statement read from the catalog (a view's
    /// dependencies).
    pub(crate) dependencies: Vec<String>,
    /// The window calls of the SELECT whose select list or ORDER BY is
    /// binding (`None` where window functions are not allowed).
    pub(crate) windows: Option<window::WindowContext>,
    /// The clause binding now, for "window functions are not allowed in …"
    /// (empty inside a window call's own arguments).
    pub(crate) clause: &'static str,
    /// Each scanned table's primary-key column ids and all its column ids
    /// (grouping by the key makes the other columns usable).
    pub(crate) keyed_tables: Vec<(Vec<super::expr::ColumnId>, Vec<super::expr::ColumnId>)>,
}

impl<'a> Binder<'a> {
    pub fn new(txn: &'a mut Transaction, declared_params: &[Option<DataType>]) -> Binder<'a> {
        Binder {
            identity: None,
            time: crate::sql::datetime::TimeContext::default(),
            reads_clock: false,
            txn,
            params: declared_params.to_vec(),
            columns: ColumnCatalog::default(),
            outer: Vec::new(),
            ctes: Vec::new(),
            unknown_columns: std::collections::HashSet::new(),
            relations: 0,
            subquery_count: 0,
            cte_count: 0,
            dependencies: Vec::new(),
            windows: None,
            clause: "this context",
            keyed_tables: Vec::new(),
        }
    }

    /// Final parameter types: anything still unknown defaults to text.
    pub fn param_types(&self) -> Vec<DataType> {
        self.params
            .iter()
            .map(|t| t.unwrap_or(DataType::Text))
            .collect()
    }

    /// Binds a parsed statement of either syntax tree.
    pub fn bind_parsed(&mut self, syntax: &Syntax) -> Result<BoundStatement> {
        match syntax {
            Syntax::Sql(statement) => self.bind_statement(statement),
            Syntax::AlterSequence(alter) => self.bind_alter_sequence(alter),
        }
    }

    pub fn bind_statement(&mut self, statement: &Statement) -> Result<BoundStatement> {
        match statement {
            Statement::Query(query) => Ok(BoundStatement::Query(self.bind_top_query(query)?)),
            Statement::Explain {
                statement,
                analyze,
                verbose,
                options,
                format,
                ..
            } => {
                if format.is_some() {
                    return Err(Error::Unsupported("EXPLAIN FORMAT".into()));
                }
                let options = explain::explain_options(*analyze, *verbose, options.as_deref())?;
                match statement.as_ref() {
                    Statement::Query(query) => Ok(BoundStatement::Explain {
                        query: self.bind_top_query(query)?,
                        options,
                    }),
                    other => Err(Error::Unsupported(format!(
                        "EXPLAIN of {}",
                        statement_kind(other)
                    ))),
                }
            }
            Statement::Insert(insert) => self.bind_insert(insert),
            Statement::Update(update) => self.bind_update(update),
            Statement::Delete(delete) => self.bind_delete(delete),
            Statement::Truncate(truncate) => self.bind_truncate(truncate),
            Statement::CreateTable(create) => self.bind_create_table(create),
            Statement::CreateView(create) => self.bind_create_view(create),
            Statement::CreateIndex(create) => self.bind_create_index(create),
            Statement::CreateSequence {
                temporary,
                if_not_exists,
                name,
                sequence_options,
            } => self.bind_create_sequence(*temporary, *if_not_exists, name, sequence_options),
            Statement::Drop {
                object_type,
                if_exists,
                names,
                cascade,
                ..
            } => self.bind_drop(object_type, *if_exists, names, *cascade),
            other => Err(Error::Unsupported(statement_kind(other))),
        }
    }

    fn bind_top_query(&mut self, query: &ast::Query) -> Result<BoundQuery> {
        let (plan, columns) = self.bind_query(query)?;
        Ok(BoundQuery {
            plan,
            columns: columns.into(),
            catalog: self.columns.clone(),
            statistics: Default::default(),
            planning_time: Default::default(),
        })
    }
}

/// Normalises an identifier: unquoted names fold to lower case.
pub fn ident_name(ident: &ast::Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

/// A relation name; `public.t` is `t`, other schemas are not supported.
pub(crate) fn object_name(name: &ast::ObjectName) -> Result<String> {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|part| part.as_ident().map(ident_name).unwrap_or_default())
        .collect();
    match parts.as_slice() {
        [table] => Ok(table.clone()),
        [schema, table] if schema == "public" => Ok(table.clone()),
        _ => Err(Error::Unsupported(format!("schema-qualified name {name}"))),
    }
}

/// A short name for a statement kind, for "not supported" messages.
pub fn statement_kind(statement: &Statement) -> String {
    let text = statement.to_string();
    let words: Vec<&str> = text.split_whitespace().take(2).collect();
    words.join(" ").to_uppercase()
}
