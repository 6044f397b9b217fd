//! Transactions: multi-version concurrency control over the storage engine.
//!
//! [`Mvcc`] hands out [`Transaction`]s, each reading one [`Snapshot`] and
//! seeing its own writes; concurrent writers of one key conflict (first
//! updater wins, SQLSTATE 40001). [`conflict`] holds the hooks where SSI will
//! track reads and writes. `docs/transactions.md` describes the design.

pub mod commit_log;
pub mod conflict;
pub mod mvcc;
pub mod savepoint;
pub mod wait;

pub use mvcc::{IsolationLevel, Mvcc, MvccScan, Snapshot, Transaction, TxnId};
