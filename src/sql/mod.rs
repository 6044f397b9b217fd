//! SQL: text in, rows out, in stages, a folder each.
//!
//! ```text
//!   parser/     SQL text → sqlparser syntax trees (+ DEFERRABLE, nesting limit)
//!   binder/     names and types resolved → BoundStatement with LogicalPlans
//!   plan/       the closed LogicalPlan enum over statement-wide column ids
//!   optimizer/  ordered rewrite rules (access paths, …)
//!   execution/  physical operators, pulled row by row (Volcano)
//!   expr/       bound expressions and their evaluation
//!   explain.rs  EXPLAIN text
//!   session/    sessions: transaction state, prepared statements, cursors
//!   stack.rs    the stack-depth guard (54001 instead of an overflow)
//!   catalog.rs  table, view and index definitions, stored in the database itself
//!   integrity.rs  the check that every index agrees with its table
//!   index_entry.rs  a row's entry in an index (expressions, INCLUDE, predicate)
//!   statistics/   ANALYZE, stored statistics, pg_stats, automatic analyze
//!   types.rs, encoding.rs  values, PostgreSQL text formats, key and row bytes
//!   numeric/      the exact decimal type: arithmetic, text, keys, wire bytes
//! ```
//!
//! `docs/architecture.md` follows a query through these stages.

pub mod binder;
pub mod catalog;
pub mod datetime;
pub mod encoding;
pub mod execution;
pub mod explain;
pub mod expr;
pub mod index_entry;
pub mod integrity;
pub mod numeric;
pub mod optimizer;
pub mod parser;
pub mod plan;
pub mod sequence;
pub mod session;
pub mod stack;
pub mod statistics;
pub mod types;

pub use session::{
    Column, Cursor, Instance, Notice, Outcome, Prepared, Session, TransactionStatus,
};
pub use types::{DataType, Row, Value};
