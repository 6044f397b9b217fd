//! basalt: a serializable transactional SQL database that speaks the
//! PostgreSQL wire protocol.
//!
//! Layers depend downward only:
//!
//! ```text
//!   server  (pgwire front end, sessions; async lives only here)
//!     │
//!   sql     (parser glue, binder, planner, executor, catalog)
//!     │
//!   txn     (MVCC snapshots, write-conflict detection, SSI hooks)
//!     │
//!   storage (pages, buffer pool, B+tree, Engine trait)
//! ```
//!
//! `docs/architecture.md` is the map.

pub mod config;
pub mod error;
pub mod server;
pub mod sql;
pub mod storage;
pub mod txn;

pub use config::Config;
pub use error::{Error, Result, SqlState};
