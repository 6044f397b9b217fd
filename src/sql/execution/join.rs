//! Joins: nested loop, hash, merge and parameterized (one run of the
//! right plan per left row).
//!
//! Every join streams its left input and returns rows as it finds them;
//! the row it returns, and the row its condition reads, is the left row
//! followed by the right row (semi and anti joins return the left row
//! only). Each strategy keeps the same contract per join kind:
//!
//! ```text
//!   inner  matching pairs          semi  left rows with a match, once
//!   left   + unmatched left + NULLs      anti  left rows without a match
//!   right  + NULLs + unmatched right     full  + both kinds of unmatched
//! ```
//!
//! Unmatched right rows are only known once the left input is exhausted,
//! so RIGHT and FULL joins return them last. Nested loop and hash joins
//! hold the right input's rows (spilling is the sort/hash operators'
//! business: see `spill.rs`); a merge join holds one group of equal right
//! keys; a parameterized join holds one left row and the right plan's
//! operators for it.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use super::context::Context;
use super::{Operator, build};
use crate::error::{Error, Result};
use crate::sql::expr::{ColumnId, Expr};
use crate::sql::plan::{JoinKind, LogicalPlan};
use crate::sql::types::{Row, Value};

/// The left row followed by the right row.
fn concat(left: &[Value], right: &[Value]) -> Row {
    let mut row = Vec::with_capacity(left.len() + right.len());
    row.extend_from_slice(left);
    row.extend_from_slice(right);
    row
}

/// The left row followed by NULLs for `width` right columns.
fn pad_right(left: Row, width: usize) -> Row {
    let mut row = left;
    row.resize(row.len() + width, Value::Null);
    row
}

/// NULLs for `width` left columns followed by the right row.
fn pad_left(width: usize, right: &[Value]) -> Row {
    let mut row = vec![Value::Null; width];
    row.extend_from_slice(right);
    row
}

fn passes(condition: &Option<Expr>, row: &[Value], context: &mut Context<'_>) -> Result<bool> {
    match condition {
        Some(condition) => condition.is_true(row, context),
        None => Ok(true),
    }
}

/// What a join does once a left row's matches are all known.
enum LeftDone {
    /// Return this row (an unmatched outer row, or a semi/anti result).
    Emit(Row),
    Nothing,
}

fn finish_left(kind: JoinKind, left: Row, matched: bool, right_width: usize) -> LeftDone {
    match kind {
        JoinKind::Left | JoinKind::Full if !matched => LeftDone::Emit(pad_right(left, right_width)),
        JoinKind::Anti if !matched => LeftDone::Emit(left),
        _ => LeftDone::Nothing,
    }
}

/// The state of the current left row.
struct Current {
    row: Row,
    matched: bool,
    /// The next candidate to test (an index into the candidates).
    next: usize,
}

/// The right rows of a nested loop or hash join, with which were matched.
struct RightRows {
    rows: Vec<Row>,
    matched: Vec<bool>,
}

impl RightRows {
    fn drain(input: &mut Operator, context: &mut Context<'_>) -> Result<RightRows> {
        let mut rows = Vec::new();
        while let Some(row) = input.next(context)? {
            rows.push(row);
        }
        let matched = vec![false; rows.len()];
        Ok(RightRows { rows, matched })
    }

    /// The next unmatched right row from `*cursor` on, padded on the left.
    fn next_unmatched(&self, cursor: &mut usize, left_width: usize) -> Option<Row> {
        while *cursor < self.rows.len() {
            let index = *cursor;
            *cursor += 1;
            if !self.matched[index] {
                return Some(pad_left(left_width, &self.rows[index]));
            }
        }
        None
    }
}

/// Tests the candidates of the current left row; returns the next output
/// row, or `None` when the left row is done (its outer/anti row, if any,
/// then comes from `finish_left`).
fn probe(
    kind: JoinKind,
    current: &mut Current,
    candidates: &[usize],
    right: &mut RightRows,
    condition: &Option<Expr>,
    context: &mut Context<'_>,
) -> Result<Option<Row>> {
    while current.next < candidates.len() {
        let index = candidates[current.next];
        current.next += 1;
        let joined = concat(&current.row, &right.rows[index]);
        if !passes(condition, &joined, context)? {
            continue;
        }
        current.matched = true;
        right.matched[index] = true;
        match kind {
            JoinKind::Semi => {
                current.next = candidates.len();
                return Ok(Some(current.row.clone()));
            }
            JoinKind::Anti => {
                current.next = candidates.len();
                return Ok(None);
            }
            _ => return Ok(Some(joined)),
        }
    }
    Ok(None)
}

/// Phases shared by the nested loop and hash joins.
enum Phase {
    /// Not started: the right input is still unread.
    Start,
    /// Streaming left rows.
    Probing,
    /// The left input is exhausted; returning unmatched right rows from
    /// this index on (RIGHT and FULL joins).
    Unmatched(usize),
    Done,
}

/// Nested loop: every left row against every right row.
pub struct NestedLoopJoin {
    left: Box<Operator>,
    right: Box<Operator>,
    kind: JoinKind,
    condition: Option<Expr>,
    left_width: usize,
    right_width: usize,
    phase: Phase,
    rows: Option<RightRows>,
    all: Vec<usize>,
    current: Option<Current>,
}

impl NestedLoopJoin {
    pub fn new(
        left: Operator,
        right: Operator,
        kind: JoinKind,
        condition: Option<Expr>,
        widths: (usize, usize),
    ) -> NestedLoopJoin {
        NestedLoopJoin {
            left: Box::new(left),
            right: Box::new(right),
            kind,
            condition,
            left_width: widths.0,
            right_width: widths.1,
            phase: Phase::Start,
            rows: None,
            all: Vec::new(),
            current: None,
        }
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        loop {
            match &mut self.phase {
                Phase::Start => {
                    let rows = RightRows::drain(&mut self.right, context)?;
                    self.all = (0..rows.rows.len()).collect();
                    self.rows = Some(rows);
                    self.phase = Phase::Probing;
                }
                Phase::Probing => {
                    let rows = self.rows.as_mut().expect("invariant: read at start");
                    if let Some(current) = &mut self.current {
                        if let Some(row) = probe(
                            self.kind,
                            current,
                            &self.all,
                            rows,
                            &self.condition,
                            context,
                        )? {
                            return Ok(Some(row));
                        }
                        let done = self.current.take().expect("invariant: checked above");
                        if let LeftDone::Emit(row) =
                            finish_left(self.kind, done.row, done.matched, self.right_width)
                        {
                            return Ok(Some(row));
                        }
                    }
                    match self.left.next(context)? {
                        Some(row) => {
                            self.current = Some(Current {
                                row,
                                matched: false,
                                next: 0,
                            })
                        }
                        None => {
                            self.phase = match self.kind {
                                JoinKind::Right | JoinKind::Full => Phase::Unmatched(0),
                                _ => Phase::Done,
                            }
                        }
                    }
                }
                Phase::Unmatched(cursor) => {
                    let rows = self.rows.as_ref().expect("invariant: read at start");
                    match rows.next_unmatched(cursor, self.left_width) {
                        Some(row) => return Ok(Some(row)),
                        None => self.phase = Phase::Done,
                    }
                }
                Phase::Done => return Ok(None),
            }
        }
    }
}

/// Hash join: the right rows in a hash table on their key values; each
/// left row probes with its own. Rows with a NULL key never match (SQL
/// equality), but still count as unmatched for outer joins.
pub struct HashJoin {
    left: Box<Operator>,
    right: Box<Operator>,
    kind: JoinKind,
    left_keys: Vec<Expr>,
    right_keys: Vec<Expr>,
    condition: Option<Expr>,
    left_width: usize,
    right_width: usize,
    phase: Phase,
    rows: Option<RightRows>,
    table: HashMap<Vec<Value>, Vec<usize>>,
    current: Option<(Current, Vec<usize>)>,
}

impl HashJoin {
    pub fn new(
        left: Operator,
        right: Operator,
        kind: JoinKind,
        keys: Vec<(Expr, Expr)>,
        condition: Option<Expr>,
        widths: (usize, usize),
    ) -> HashJoin {
        let (left_keys, right_keys) = keys.into_iter().unzip();
        HashJoin {
            left: Box::new(left),
            right: Box::new(right),
            kind,
            left_keys,
            right_keys,
            condition,
            left_width: widths.0,
            right_width: widths.1,
            phase: Phase::Start,
            rows: None,
            table: HashMap::new(),
            current: None,
        }
    }

    fn key(keys: &[Expr], row: &[Value], context: &mut Context<'_>) -> Result<Option<Vec<Value>>> {
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            let value = key.evaluate(row, context)?;
            if value.is_null() {
                return Ok(None);
            }
            values.push(value);
        }
        Ok(Some(values))
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        loop {
            match &mut self.phase {
                Phase::Start => {
                    let rows = RightRows::drain(&mut self.right, context)?;
                    for (index, row) in rows.rows.iter().enumerate() {
                        if let Some(key) = Self::key(&self.right_keys, row, context)? {
                            self.table.entry(key).or_default().push(index);
                        }
                    }
                    self.rows = Some(rows);
                    self.phase = Phase::Probing;
                }
                Phase::Probing => {
                    let rows = self.rows.as_mut().expect("invariant: read at start");
                    if let Some((current, candidates)) = &mut self.current {
                        if let Some(row) = probe(
                            self.kind,
                            current,
                            candidates,
                            rows,
                            &self.condition,
                            context,
                        )? {
                            return Ok(Some(row));
                        }
                        let (done, _) = self.current.take().expect("invariant: checked above");
                        if let LeftDone::Emit(row) =
                            finish_left(self.kind, done.row, done.matched, self.right_width)
                        {
                            return Ok(Some(row));
                        }
                    }
                    match self.left.next(context)? {
                        Some(row) => {
                            let candidates = match Self::key(&self.left_keys, &row, context)? {
                                Some(key) => self.table.get(&key).cloned().unwrap_or_default(),
                                None => Vec::new(),
                            };
                            self.current = Some((
                                Current {
                                    row,
                                    matched: false,
                                    next: 0,
                                },
                                candidates,
                            ));
                        }
                        None => {
                            self.phase = match self.kind {
                                JoinKind::Right | JoinKind::Full => Phase::Unmatched(0),
                                _ => Phase::Done,
                            }
                        }
                    }
                }
                Phase::Unmatched(cursor) => {
                    let rows = self.rows.as_ref().expect("invariant: read at start");
                    match rows.next_unmatched(cursor, self.left_width) {
                        Some(row) => return Ok(Some(row)),
                        None => self.phase = Phase::Done,
                    }
                }
                Phase::Done => return Ok(None),
            }
        }
    }
}

/// Merge join over inputs ordered ascending on their keys (NULLs last):
/// the right rows of one key value are held as a group while the left
/// rows of that value pass.
pub struct MergeJoin {
    left: Box<Operator>,
    right: Box<Operator>,
    kind: JoinKind,
    left_keys: Vec<Expr>,
    right_keys: Vec<Expr>,
    condition: Option<Expr>,
    left_width: usize,
    right_width: usize,
    /// The next right row not yet in a group, with its key.
    lookahead: Option<(Row, Option<Vec<Value>>)>,
    started: bool,
    right_done: bool,
    /// The current group of right rows with equal keys.
    group: RightRows,
    group_key: Option<Vec<Value>>,
    group_all: Vec<usize>,
    current: Option<Current>,
    /// Right rows to return unmatched (RIGHT/FULL), oldest first.
    pending: std::collections::VecDeque<Row>,
    left_done: bool,
}

impl MergeJoin {
    pub fn new(
        left: Operator,
        right: Operator,
        kind: JoinKind,
        keys: Vec<(Expr, Expr)>,
        condition: Option<Expr>,
        widths: (usize, usize),
    ) -> MergeJoin {
        let (left_keys, right_keys) = keys.into_iter().unzip();
        MergeJoin {
            left: Box::new(left),
            right: Box::new(right),
            kind,
            left_keys,
            right_keys,
            condition,
            left_width: widths.0,
            right_width: widths.1,
            lookahead: None,
            started: false,
            right_done: false,
            group: RightRows {
                rows: Vec::new(),
                matched: Vec::new(),
            },
            group_key: None,
            group_all: Vec::new(),
            current: None,
            pending: std::collections::VecDeque::new(),
            left_done: false,
        }
    }

    fn read_right(&mut self, context: &mut Context<'_>) -> Result<()> {
        self.lookahead = match self.right.next(context)? {
            Some(row) => {
                let key = HashJoin::key(&self.right_keys, &row, context)?;
                Some((row, key))
            }
            None => {
                self.right_done = true;
                None
            }
        };
        Ok(())
    }

    /// Ends the current group: its unmatched rows become pending output.
    fn close_group(&mut self) {
        if matches!(self.kind, JoinKind::Right | JoinKind::Full) {
            for (row, matched) in self.group.rows.drain(..).zip(self.group.matched.drain(..)) {
                if !matched {
                    self.pending.push_back(pad_left(self.left_width, &row));
                }
            }
        }
        self.group.rows.clear();
        self.group.matched.clear();
        self.group_all.clear();
        self.group_key = None;
    }

    /// Makes the group the right rows whose key equals `key`, skipping (and
    /// for RIGHT/FULL keeping as pending) smaller ones.
    fn seek(&mut self, key: &[Value], context: &mut Context<'_>) -> Result<()> {
        if self.group_key.as_deref() == Some(key) {
            return Ok(());
        }
        self.close_group();
        loop {
            let Some((row, right_key)) = self.lookahead.take() else {
                return Ok(());
            };
            let ordering = match &right_key {
                None => Ordering::Greater,
                Some(right_key) => compare_keys(right_key, key),
            };
            match ordering {
                Ordering::Less => {
                    if matches!(self.kind, JoinKind::Right | JoinKind::Full) {
                        self.pending.push_back(pad_left(self.left_width, &row));
                    }
                    self.read_right(context)?;
                }
                Ordering::Equal => {
                    self.group.rows.push(row);
                    self.group.matched.push(false);
                    self.group_all.push(self.group_all.len());
                    self.group_key = right_key;
                    self.read_right(context)?;
                }
                Ordering::Greater => {
                    self.lookahead = Some((row, right_key));
                    return Ok(());
                }
            }
        }
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        if !self.started {
            self.started = true;
            self.read_right(context)?;
        }
        loop {
            if let Some(row) = self.pending.pop_front() {
                return Ok(Some(row));
            }
            if let Some(current) = &mut self.current {
                if let Some(row) = probe(
                    self.kind,
                    current,
                    &self.group_all,
                    &mut self.group,
                    &self.condition,
                    context,
                )? {
                    return Ok(Some(row));
                }
                let done = self.current.take().expect("invariant: checked above");
                if let LeftDone::Emit(row) =
                    finish_left(self.kind, done.row, done.matched, self.right_width)
                {
                    return Ok(Some(row));
                }
            }
            if self.left_done {
                // The rest of the right input is unmatched.
                self.close_group();
                if !matches!(self.kind, JoinKind::Right | JoinKind::Full) {
                    return Ok(None);
                }
                match self.lookahead.take() {
                    Some((row, _)) => {
                        self.read_right(context)?;
                        return Ok(Some(pad_left(self.left_width, &row)));
                    }
                    None if self.pending.is_empty() => return Ok(None),
                    None => continue,
                }
            }
            match self.left.next(context)? {
                None => self.left_done = true,
                Some(row) => {
                    // After `seek` the group holds exactly the right rows
                    // with this key (none for a NULL key).
                    match HashJoin::key(&self.left_keys, &row, context)? {
                        Some(key) => self.seek(&key, context)?,
                        None => self.close_group(),
                    }
                    self.current = Some(Current {
                        row,
                        matched: false,
                        next: 0,
                    });
                }
            }
        }
    }
}

/// Compares two key tuples of non-NULL values.
fn compare_keys(a: &[Value], b: &[Value]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let ordering = x.total_cmp(y);
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

/// Parameterized join: for each left row, the right plan runs with the
/// left row's values (and the enclosing frame's) as its parameter frame.
pub struct ParameterizedJoin {
    left: Box<Operator>,
    right: Arc<LogicalPlan>,
    kind: JoinKind,
    condition: Option<Expr>,
    /// The right plan's frame: its ids, and how each is computed from the
    /// left row.
    frame_ids: Vec<ColumnId>,
    frame_values: Vec<Expr>,
    right_width: usize,
    current: Option<ParameterizedCurrent>,
}

struct ParameterizedCurrent {
    row: Row,
    frame: Vec<Value>,
    right: Box<Operator>,
    matched: bool,
}

impl ParameterizedJoin {
    pub fn new(
        left: Operator,
        right: Arc<LogicalPlan>,
        kind: JoinKind,
        condition: Option<Expr>,
        frame: (Vec<ColumnId>, Vec<Expr>),
        right_width: usize,
    ) -> ParameterizedJoin {
        ParameterizedJoin {
            left: Box::new(left),
            right,
            kind,
            condition,
            frame_ids: frame.0,
            frame_values: frame.1,
            right_width,
            current: None,
        }
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        loop {
            if let Some(current) = &mut self.current {
                let frame = current.frame.clone();
                let right = &mut current.right;
                let found = context.with_frame(frame, |context| right.next(context))?;
                if let Some(right_row) = found {
                    let joined = concat(&current.row, &right_row);
                    if !passes(&self.condition, &joined, context)? {
                        continue;
                    }
                    current.matched = true;
                    match self.kind {
                        JoinKind::Semi => {
                            let done = self.current.take().expect("invariant: checked above");
                            return Ok(Some(done.row));
                        }
                        JoinKind::Anti => {
                            self.current = None;
                            continue;
                        }
                        _ => return Ok(Some(joined)),
                    }
                }
                let done = self.current.take().expect("invariant: checked above");
                if let LeftDone::Emit(row) =
                    finish_left(self.kind, done.row, done.matched, self.right_width)
                {
                    return Ok(Some(row));
                }
            }
            let Some(row) = self.left.next(context)? else {
                return Ok(None);
            };
            let mut frame = Vec::with_capacity(self.frame_values.len());
            for value in &self.frame_values {
                frame.push(value.evaluate(&row, context)?);
            }
            let right = Box::new(build(&self.right, &self.frame_ids)?);
            self.current = Some(ParameterizedCurrent {
                row,
                frame,
                right,
                matched: false,
            });
        }
    }
}

/// Checks that a join kind can run with a strategy (the optimizer only
/// builds these; a violation is a bug, reported rather than run wrongly).
pub fn check_kind(kind: JoinKind, parameterized: bool) -> Result<()> {
    if parameterized && matches!(kind, JoinKind::Right | JoinKind::Full) {
        return Err(Error::Internal(format!(
            "a parameterized {kind:?} join cannot return unmatched right rows"
        )));
    }
    Ok(())
}
