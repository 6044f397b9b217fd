//! Common table expressions at run time.
//!
//! `WithCte` makes a CTE's definition known to the execution (its first
//! pull registers it); the first `CteScan` of it runs the definition to
//! the end and keeps the rows, which every scan then reads. A recursive
//! CTE runs its anchor, then its recursive term again and again, each round
//! reading the rows the previous round added through `WorkTable`:
//!
//! ```text
//!   round 0: anchor rows ──────────────► work table ──┐
//!   round n: recursive term reads work table ─► new rows ─► work table
//!   until a round adds no row (UNION drops rows seen before, so cycles end)
//! ```
//!
//! Rows stream out as they are found, so `LIMIT` over a recursion that
//! never ends on its own still stops it.
//!
//! A materialized CTE and each round's work table are `RowBuffer`s: in
//! memory within `work_mem`, beyond it in a spill file (`spill.rs`) that
//! each scan reads on its own, removed with the query. The rows a
//! recursive `UNION` (without ALL) has seen stay in memory, as in
//! PostgreSQL: a row can only be returned once it is known to be new.

use std::sync::Arc;

use super::context::{Context, CteState};
use super::hash::RowSet;
use super::spill::{BufferedRows, RowBuffer, RowReader};
use super::{Operator, build};
use crate::error::{Error, Result};
use crate::sql::plan::LogicalPlan;
use crate::sql::types::Row;

/// Registers CTE `id` for the scans inside `input`.
pub struct WithCte {
    id: usize,
    definition: Arc<LogicalPlan>,
    input: Box<Operator>,
    registered: bool,
}

impl WithCte {
    pub fn new(id: usize, definition: Arc<LogicalPlan>, input: Operator) -> WithCte {
        WithCte {
            id,
            definition,
            input: Box::new(input),
            registered: false,
        }
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        if !self.registered {
            self.registered = true;
            context
                .state
                .ctes
                .entry(self.id)
                .or_insert_with(|| CteState::Defined(Arc::clone(&self.definition)));
        }
        self.input.next(context)
    }
}

/// Reads a materialized CTE (or a recursive CTE's work table).
pub struct CteScan {
    id: usize,
    work_table: bool,
    rows: Option<Arc<BufferedRows>>,
    /// The next row in memory, or the reader of the file.
    next: usize,
    reader: Option<RowReader>,
}

impl CteScan {
    pub fn new(id: usize, work_table: bool) -> CteScan {
        CteScan {
            id,
            work_table,
            rows: None,
            next: 0,
            reader: None,
        }
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        if self.rows.is_none() {
            let rows = if self.work_table {
                context
                    .state
                    .work_tables
                    .get(&self.id)
                    .cloned()
                    .ok_or_else(|| {
                        Error::Internal("a work table read outside its recursion".into())
                    })?
            } else {
                materialize(self.id, context)?
            };
            if let BufferedRows::File(file) = rows.as_ref() {
                self.reader = Some(file.reader()?);
            }
            self.rows = Some(rows);
        }
        if let Some(reader) = &mut self.reader {
            return reader.next_row();
        }
        let row = match self.rows.as_deref() {
            Some(BufferedRows::Memory(rows)) => rows.get(self.next).cloned(),
            _ => None,
        };
        self.next += 1;
        Ok(row)
    }
}

/// The rows of CTE `id`, running its definition the first time.
fn materialize(id: usize, context: &mut Context<'_>) -> Result<Arc<BufferedRows>> {
    let definition = match context.state.ctes.get(&id) {
        Some(CteState::Materialized(rows)) => return Ok(Arc::clone(rows)),
        Some(CteState::Defined(plan)) => Arc::clone(plan),
        Some(CteState::Running) => {
            return Err(Error::Internal(format!("CTE {id} reads itself")));
        }
        None => return Err(Error::Internal(format!("CTE {id} was not defined"))),
    };
    context.state.ctes.insert(id, CteState::Running);
    let mut operator = build(&definition, &[])?;
    let mut rows = RowBuffer::new(context.spill_space(), context.work_mem());
    while let Some(row) = operator.next(context)? {
        rows.push(row)?;
    }
    let rows = Arc::new(rows.into_rows()?);
    context
        .state
        .ctes
        .insert(id, CteState::Materialized(Arc::clone(&rows)));
    Ok(rows)
}

/// `WITH RECURSIVE`'s iteration.
pub struct RecursiveCte {
    id: usize,
    anchor: Option<Box<Operator>>,
    recursive: Arc<LogicalPlan>,
    all: bool,
    /// Every row returned so far (without ALL).
    seen: RowSet<Row>,
    /// The rows this round added (made with the first).
    round: Option<RowBuffer>,
    /// The recursive term's operators for the current round.
    running: Option<Box<Operator>>,
}

impl RecursiveCte {
    pub fn new(id: usize, anchor: Operator, recursive: Arc<LogicalPlan>, all: bool) -> Self {
        RecursiveCte {
            id,
            anchor: Some(Box::new(anchor)),
            recursive,
            all,
            seen: RowSet::default(),
            round: None,
            running: None,
        }
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        loop {
            let source = match (&mut self.anchor, &mut self.running) {
                (Some(anchor), _) => anchor,
                (None, Some(running)) => running,
                (None, None) => {
                    let Some(round) = self.round.take() else {
                        context.state.work_tables.remove(&self.id);
                        return Ok(None);
                    };
                    // The previous work table goes (with its file) here.
                    let rows = Arc::new(round.into_rows()?);
                    context.state.work_tables.insert(self.id, rows);
                    self.running = Some(Box::new(build(&self.recursive, &[])?));
                    continue;
                }
            };
            match source.next(context)? {
                Some(row) => {
                    if !self.all {
                        if self.seen.contains(&row) {
                            continue;
                        }
                        self.seen.insert(row.clone());
                    }
                    let round = match &mut self.round {
                        Some(round) => round,
                        None => self
                            .round
                            .insert(RowBuffer::new(context.spill_space(), context.work_mem())),
                    };
                    round.push(row.clone())?;
                    return Ok(Some(row));
                }
                None => {
                    // This round (or the anchor) is done.
                    self.anchor = None;
                    self.running = None;
                }
            }
        }
    }
}
