//! [`Database`]: the layers wired together. Opens the storage engine (the
//! B+tree engine over the data directory, or the in-memory model for
//! tests), the MVCC store over it with its background collector, and the
//! SQL layer's shared [`Instance`]; hands out sessions to the server.
//!
//! It also owns where queries spill rows beyond `work_mem`: `<data_dir>/tmp`
//! for an on-disk database, emptied at open (its files belonged to queries
//! of a process that is gone), or a fresh directory under the system's
//! temporary directory for any other engine, removed when the last handle
//! to the database (and the last query using it) is dropped.

use std::sync::Arc;

use crate::config::{AutoAnalyze, Config};
use crate::error::Result;
use crate::sql::execution::spill::SpillSpace;
use crate::sql::{Instance, Session};
use crate::storage::{BTreeEngine, Engine, MemoryEngine};
use crate::txn::Mvcc;

/// An open database, shared by all sessions. Cheap to clone.
#[derive(Clone)]
pub struct Database {
    mvcc: Arc<Mvcc>,
    sql: Arc<Instance>,
}

impl Database {
    /// Opens (or creates) the database in `config.data_dir`.
    pub fn open(config: &Config) -> Result<Database> {
        let engine = BTreeEngine::open(config)?;
        let spill = SpillSpace::open(config.spill_dir())?;
        Database::assemble(Arc::new(engine), spill, config.autoanalyze)
    }

    /// A database over the in-memory engine, for tests.
    pub fn open_in_memory() -> Result<Database> {
        Database::with_engine(Arc::new(MemoryEngine::new()))
    }

    /// A database over any engine; queries spill to a temporary directory.
    pub fn with_engine(engine: Arc<dyn Engine>) -> Result<Database> {
        Database::with_engine_and(engine, AutoAnalyze::default())
    }

    /// [`Database::with_engine`] with automatic analyze set as given.
    pub fn with_engine_and(engine: Arc<dyn Engine>, autoanalyze: AutoAnalyze) -> Result<Database> {
        Database::assemble(engine, SpillSpace::temporary(), autoanalyze)
    }

    fn assemble(
        engine: Arc<dyn Engine>,
        spill: Arc<SpillSpace>,
        autoanalyze: AutoAnalyze,
    ) -> Result<Database> {
        let mvcc = Mvcc::open(engine)?;
        let sql = Instance::open(Arc::clone(&mvcc), spill)?;
        mvcc.start_collector()?;
        crate::sql::statistics::auto::start(&sql, autoanalyze)?;
        Ok(Database { mvcc, sql })
    }

    /// A new session.
    pub fn session(&self) -> Session {
        self.sql.session()
    }

    /// Checks that every secondary index agrees with its table, in a
    /// snapshot taken now (`sql::integrity`).
    pub fn check_indexes(&self) -> Result<crate::sql::integrity::IndexCheck> {
        let mut txn = self
            .mvcc
            .begin(crate::txn::IsolationLevel::RepeatableRead)?;
        txn.begin_statement();
        let result = crate::sql::integrity::check_indexes(&mut txn);
        txn.commit()?;
        result
    }

    /// Flushes everything to disk; called on graceful shutdown.
    pub fn shutdown(&self) -> Result<()> {
        self.mvcc.flush()
    }

    /// Why the storage can no longer make anything durable (a failed write
    /// or fsync), if so: the server must stop and leave the rest to recovery.
    pub fn fatal_error(&self) -> Option<String> {
        self.mvcc.engine().fatal_error()
    }
}
