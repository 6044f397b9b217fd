//! basalt: a serializable transactional SQL database that speaks the
//! PostgreSQL wire protocol.
//!
//! Layers depend downward only:
//!
//! ```text
//!   server  (pgwire front end; async lives only here)
//!     │
//!   database (wires the layers together, hands out sessions)
//!     │
//!   sql     (parser glue, binder, optimizer, execution, catalog, sessions)
//!     │
//!   txn     (MVCC snapshots, write-conflict detection, SSI hooks)
//!     │
//!   storage (pages, buffer pool, B+tree, Engine trait)
//! ```
//!
//! `docs/architecture.md` is the map.

pub mod config;
pub mod database;
pub mod error;
pub mod hash;
pub mod server;
pub mod sql;
pub mod storage;
pub mod txn;

pub use config::Config;
pub use database::Database;
pub use error::{Error, Result, SqlState};
