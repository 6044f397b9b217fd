//! Statistics: what the planner knows of a table's contents.
//!
//! `ANALYZE` (`analyze.rs`) samples a table and summarizes each column the
//! way PostgreSQL's `pg_statistic` does: null fraction, average width,
//! distinct count, most common values with their frequencies, an
//! equi-depth histogram of the rest, and the correlation of the column's
//! order with the rows' stored order. `store.rs` keeps the result as one
//! MVCC key per table, so statistics are transactional and durable;
//! `set.rs` loads those of a statement's tables for the planner;
//! `view.rs` shows them as the `pg_stats` view; `auto.rs` analyzes a table
//! again once enough of it changed, as autovacuum's analyze does.
//!
//! Planning reads the latest committed statistics without a serializable
//! read lock (`store::get_current`): statistics inform plans, never
//! results, so they must not make `ANALYZE` conflict with queries.

pub mod analyze;
pub mod auto;
pub mod set;
pub mod store;
pub mod view;

pub use analyze::{STATISTICS_TARGET, analyze_table};
pub use set::StatisticsSet;
pub use store::{ColumnStatistics, STATISTICS_TREE, TableStatistics};
