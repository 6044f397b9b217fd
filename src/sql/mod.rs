//! SQL: sqlparser (PostgreSQL dialect) → binder (names resolved against the
//! catalog, every expression typed) → planner (a closed `Plan` enum) →
//! executor, plus the catalog stored in the database itself.

pub mod bind_ddl;
pub mod bind_expr;
pub mod bind_function;
pub mod binder;
pub mod catalog;
pub mod deferrable;
pub mod encoding;
pub mod executor;
pub mod explain;
pub mod expr;
pub mod plan;
pub mod session;
pub mod types;

pub use session::{Column, Database, Outcome, Prepared, Session, TransactionStatus};
pub use types::{DataType, Row, Value};
