//! What evaluation needs besides the row: the statement's parameters, the
//! parameter frames of correlated subqueries, the transaction, and limits.
//!
//! A [`QueryState`] lives as long as one execution of a statement (a portal
//! keeps it between fetches); a [`Context`] borrows it together with the
//! transaction for one call into the operators. Parameter frames nest like
//! calls: an operator that runs a correlated plan pushes the frame before
//! pulling from it and pops it before returning, so the innermost frame is
//! always the one the running plan was compiled against.
//!
//! The state also carries what memory-hungry operators need to spill
//! (`spill.rs`): `work_mem` and the database's [`SpillSpace`]. Spill files
//! belong to the operators, which the cursor drops with the state, so a
//! query's files go when it ends, however it ends.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use super::hash::RowMap;
use super::read_ahead::WorkerSlot;
use super::spill::{BufferedRows, SpillSpace};
use super::subquery::ValueList;
use crate::sql::plan::LogicalPlan;

/// A common table expression's state in one execution.
#[derive(Debug)]
pub enum CteState {
    /// Known, not run yet.
    Defined(Arc<LogicalPlan>),
    /// Being run (a scan of it now would be a cycle).
    Running,
    /// Its rows, in memory or spilled (`spill.rs`).
    Materialized(Arc<BufferedRows>),
}
use crate::error::{Error, Result, SqlState};
use crate::sql::types::Value;
use crate::txn::Transaction;

/// PostgreSQL's default `work_mem`: 4 MB.
pub const DEFAULT_WORK_MEM: usize = 4 * 1024 * 1024;

/// The state of one statement execution.
#[derive(Debug)]
pub struct QueryState {
    /// `$1..$n`.
    pub(crate) params: Vec<Value>,
    /// Parameter frames of correlated plans, innermost last.
    frames: Vec<Vec<Value>>,
    /// Results of subqueries by subquery id and parameter values.
    pub(crate) subquery_results: RowMap<(usize, Vec<Value>), Value>,
    /// The value lists of uncorrelated ANY/ALL subqueries, by subquery id.
    pub(crate) subquery_lists: HashMap<usize, Arc<ValueList>>,
    /// Common table expressions by id.
    pub(crate) ctes: HashMap<usize, CteState>,
    /// The previous round's rows of each running recursive CTE.
    pub(crate) work_tables: HashMap<usize, Arc<BufferedRows>>,
    /// Bytes a memory-hungry operator may hold before it spills, and a
    /// hash table (`work_mem` × `hash_mem_multiplier`, PostgreSQL's
    /// `hash_mem`: a hash join or aggregation that spills costs more than
    /// a sort that does).
    pub(crate) work_mem: usize,
    hash_mem: usize,
    /// Read-ahead workers the query may run at once
    /// (`max_parallel_workers_per_gather`), how many it runs, and whether
    /// the current fetch wants every row (only then may scans start one,
    /// `read_ahead.rs`).
    parallel_workers: usize,
    workers: Arc<AtomicUsize>,
    pub(crate) fetching_all: bool,
    /// Where spill files go: the database's space, or one made on first
    /// use (a temporary directory, removed with the state).
    spill: Option<Arc<SpillSpace>>,
    /// The session's zone and the transaction's start (`now()`, casts of
    /// `timestamptz`).
    pub(crate) time: crate::sql::datetime::TimeContext,
    /// The database's sequences and the session's memory of them
    /// (`nextval`, `currval`…); `None` outside a session.
    pub(crate) sequences: Option<crate::sql::sequence::SequenceAccess>,
}

impl Default for QueryState {
    fn default() -> QueryState {
        QueryState::new(Vec::new(), DEFAULT_WORK_MEM)
    }
}

impl QueryState {
    pub fn new(params: Vec<Value>, work_mem: usize) -> QueryState {
        QueryState {
            params,
            frames: Vec::new(),
            subquery_results: RowMap::default(),
            subquery_lists: HashMap::new(),
            ctes: HashMap::new(),
            work_tables: HashMap::new(),
            work_mem,
            hash_mem: work_mem,
            parallel_workers: 0,
            workers: Arc::default(),
            fetching_all: false,
            spill: None,
            time: crate::sql::datetime::TimeContext::default(),
            sequences: None,
        }
    }

    /// The state with the session's access to sequences.
    pub fn with_sequences(mut self, access: crate::sql::sequence::SequenceAccess) -> QueryState {
        self.sequences = Some(access);
        self
    }

    /// The state with the session's view of time.
    pub fn with_time(mut self, time: crate::sql::datetime::TimeContext) -> QueryState {
        self.time = time;
        self
    }

    /// The state with up to `workers` read-ahead workers at once.
    pub fn with_parallel_workers(mut self, workers: usize) -> QueryState {
        self.parallel_workers = workers;
        self
    }

    /// The state with hash tables allowed `multiplier` × `work_mem`.
    pub fn with_hash_mem_multiplier(mut self, multiplier: f64) -> QueryState {
        self.hash_mem =
            (self.work_mem as f64 * multiplier.max(1.0)).min(usize::MAX as f64) as usize;
        self
    }

    /// The state with spill files going to `space` (the database's).
    pub fn with_spill_space(mut self, space: Arc<SpillSpace>) -> QueryState {
        self.spill = Some(space);
        self
    }
}

/// One call's view of an execution: its state and its transaction.
pub struct Context<'a> {
    transaction: Option<&'a mut Transaction>,
    pub(crate) state: &'a mut QueryState,
}

impl<'a> Context<'a> {
    /// A context; `transaction` is `None` only for evaluating expressions
    /// that read no table (constant folding, tests).
    pub fn new(transaction: Option<&'a mut Transaction>, state: &'a mut QueryState) -> Context<'a> {
        Context { transaction, state }
    }

    /// The transaction reads go through.
    pub fn transaction(&mut self) -> Result<&mut Transaction> {
        self.transaction
            .as_deref_mut()
            .ok_or_else(|| Error::Internal("a table read outside a transaction".into()))
    }

    /// The session's access to sequences.
    pub fn sequences(&self) -> Result<crate::sql::sequence::SequenceAccess> {
        self.state
            .sequences
            .clone()
            .ok_or_else(|| Error::Internal("a sequence function outside a session".into()))
    }

    /// The value of `$index+1`.
    pub fn parameter(&self, index: usize) -> Result<Value> {
        self.state.params.get(index).cloned().ok_or_else(|| {
            Error::sql(
                SqlState::UNDEFINED_PARAMETER,
                format!("there is no parameter ${}", index + 1),
            )
        })
    }

    /// Value `index` of the innermost parameter frame.
    pub fn outer(&self, index: usize) -> Result<Value> {
        self.state
            .frames
            .last()
            .and_then(|frame| frame.get(index))
            .cloned()
            .ok_or_else(|| Error::Internal(format!("no outer value {index}")))
    }

    /// Runs `work` with `frame` as the innermost parameter frame.
    pub fn with_frame<T>(
        &mut self,
        mut frame: Vec<Value>,
        work: impl FnOnce(&mut Context<'_>) -> Result<T>,
    ) -> Result<T> {
        self.with_lent_frame(&mut frame, work)
    }

    /// [`Context::with_frame`] for a frame the caller keeps: lent for the
    /// call and handed back, so running a plan again and again with the
    /// same frame copies nothing.
    pub fn with_lent_frame<T>(
        &mut self,
        frame: &mut Vec<Value>,
        work: impl FnOnce(&mut Context<'_>) -> Result<T>,
    ) -> Result<T> {
        self.state.frames.push(std::mem::take(frame));
        let result = work(self);
        *frame = self
            .state
            .frames
            .pop()
            .expect("invariant: the frame pushed above is on top");
        result
    }

    /// A place for a read-ahead worker, if this fetch wants every row and
    /// the query and the process have one free (`read_ahead.rs`).
    pub fn read_ahead_slot(&self) -> Option<WorkerSlot> {
        if !self.state.fetching_all {
            return None;
        }
        WorkerSlot::take(&self.state.workers, self.state.parallel_workers)
    }

    /// Bytes an operator may hold before it spills (`SET work_mem`).
    pub fn work_mem(&self) -> usize {
        self.state.work_mem
    }

    /// Bytes a hash table may hold before it spills (`work_mem` ×
    /// `hash_mem_multiplier`).
    pub fn hash_mem(&self) -> usize {
        self.state.hash_mem
    }

    /// Where an operator's spill files go. Cheap: a temporary space makes
    /// its directory only with its first file.
    pub fn spill_space(&mut self) -> Arc<SpillSpace> {
        Arc::clone(self.state.spill.get_or_insert_with(SpillSpace::temporary))
    }
}
