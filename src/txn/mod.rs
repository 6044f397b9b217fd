//! Transactions: multi-version concurrency control over the storage engine.
//!
//! [`Mvcc`] hands out [`Transaction`]s, each reading one [`Snapshot`] and
//! seeing its own writes; concurrent writers of one key conflict (first
//! updater wins: the second waits for the first, [`wait`], and fails with
//! SQLSTATE 40001 if it committed). [`commit_log`] keeps each transaction's
//! status, logged as small WAL records; [`savepoint`] gives nested partial
//! rollback; [`ssi`] makes SERIALIZABLE transactions serializable,
//! with [`predicate`] tracking what they read; [`index`] gives secondary
//! indexes their entries, uniqueness and, with [`relation_lock`], the
//! locks that keep DDL and a table's writers apart; [`changes`] counts
//! committed writes per tree for automatic statistics. `docs/transactions.md` describes the design.

pub mod changes;
pub mod commit_log;
pub mod gc;
pub mod index;
pub mod mvcc;
pub mod predicate;
pub mod refresh;
pub mod relation_lock;
pub mod savepoint;
pub mod scan;
pub mod ssi;
pub mod wait;

pub use mvcc::{IsolationLevel, Mvcc, Snapshot, Transaction, TxnId};
pub use relation_lock::RelationLockMode;
pub use scan::MvccScan;
