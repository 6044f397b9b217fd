//! Joins: nested loop, hash (`hash_join.rs`), merge and parameterized
//! (one run of the right plan per left row).
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
//! so RIGHT and FULL joins return them last. A merge join holds one group
//! of equal right keys; a parameterized join holds one left row and the
//! right plan's operators for it. Nested loop and hash joins hold the
//! right input, within `work_mem` (`spill.rs`).
//!
//! **Nested loop.** The right rows go to a `RowBuffer`. If it spills, the
//! join becomes a block nested loop ([`BlockLoop`], which the hash join
//! also uses for a partition it cannot split):
//!
//! ```text
//!   left ──► block of left rows (≤ work_mem) ──► one pass over the right file:
//!              each right row against each block row; a matched flag per
//!              block row, a matched bit per right row (RIGHT, FULL)
//!            then the block's unmatched (or, for SEMI, matched) left rows;
//!            next block …; at the end, the right rows no block matched
//! ```
//!
//! Invariants of the block nested loop:
//!
//! 1. Memory is one block of left rows (at most `work_mem`), one right
//!    row and one bit per right row (RIGHT and FULL only).
//! 2. A left row's matches are all found within its block's pass, so its
//!    flag is exact when the block finishes; a right row's bit is exact
//!    once the left input ends.
//!
//! Spilled joins return rows in a different order than in memory; SQL
//! leaves it undefined without ORDER BY.

use std::cmp::Ordering;
use std::ops::Range;
use std::sync::Arc;

use super::context::Context;
use super::spill::{BufferedRows, RowBuffer, RowFile, RowReader, row_size};
use super::{Operator, ScanOperator, build};
use crate::error::{Error, Result};
use crate::sql::expr::{ColumnId, Expr};
use crate::sql::plan::{JoinKind, LogicalPlan};
use crate::sql::types::{Row, Value};

/// The left row followed by the right row.
pub(super) fn concat(left: &[Value], right: &[Value]) -> Row {
    let mut row = Vec::with_capacity(left.len() + right.len());
    row.extend_from_slice(left);
    row.extend_from_slice(right);
    row
}

/// The left row followed by NULLs for `width` right columns.
pub(super) fn pad_right(left: Row, width: usize) -> Row {
    let mut row = left;
    row.resize(row.len() + width, Value::Null);
    row
}

/// NULLs for `width` left columns followed by the right row.
pub(super) fn pad_left(width: usize, right: &[Value]) -> Row {
    let mut row = vec![Value::Null; width];
    row.extend_from_slice(right);
    row
}

pub(super) fn passes(
    condition: &Option<Expr>,
    row: &[Value],
    context: &mut Context<'_>,
) -> Result<bool> {
    match condition {
        Some(condition) => condition.is_true(row, context),
        None => Ok(true),
    }
}

/// A row's key values, `None` if any is NULL (it then matches nothing).
pub(super) fn join_key(
    keys: &[Expr],
    row: &[Value],
    context: &mut Context<'_>,
) -> Result<Option<Vec<Value>>> {
    let mut values = Vec::with_capacity(keys.len());
    Ok(join_key_into(keys, row, context, &mut values)?.then_some(values))
}

/// [`join_key`] into a buffer the caller reuses: `false` if a key value is
/// NULL.
pub(super) fn join_key_into(
    keys: &[Expr],
    row: &[Value],
    context: &mut Context<'_>,
    values: &mut Vec<Value>,
) -> Result<bool> {
    values.clear();
    for key in keys {
        // A column key is copied straight from the row.
        let value = key.operand(row, context)?.into_owned();
        if value.is_null() {
            return Ok(false);
        }
        values.push(value);
    }
    Ok(true)
}

/// What a join does once a left row's matches are all known.
pub(super) enum LeftDone {
    /// Return this row (an unmatched outer row, or a semi/anti result).
    Emit(Row),
    Nothing,
}

#[inline(always)]
pub(super) fn finish_left(
    kind: JoinKind,
    left: Row,
    matched: bool,
    right_width: usize,
) -> LeftDone {
    match kind {
        JoinKind::Left | JoinKind::Full if !matched => LeftDone::Emit(pad_right(left, right_width)),
        JoinKind::Anti if !matched => LeftDone::Emit(left),
        _ => LeftDone::Nothing,
    }
}

/// What the nested loop and hash joins need to know about themselves.
pub(super) struct JoinSpec {
    pub(super) kind: JoinKind,
    pub(super) condition: Option<Expr>,
    pub(super) left_width: usize,
    pub(super) right_width: usize,
    /// Hash join keys (empty for a nested loop).
    pub(super) left_keys: Vec<Expr>,
    pub(super) right_keys: Vec<Expr>,
}

impl JoinSpec {
    /// RIGHT and FULL joins return unmatched right rows.
    pub(super) fn keeps_right(&self) -> bool {
        matches!(self.kind, JoinKind::Right | JoinKind::Full)
    }

    /// LEFT, FULL and ANTI joins return unmatched left rows.
    pub(super) fn keeps_left(&self) -> bool {
        matches!(self.kind, JoinKind::Left | JoinKind::Full | JoinKind::Anti)
    }

    pub(super) fn left_key(
        &self,
        row: &[Value],
        context: &mut Context<'_>,
    ) -> Result<Option<Vec<Value>>> {
        join_key(&self.left_keys, row, context)
    }

    pub(super) fn right_key(
        &self,
        row: &[Value],
        context: &mut Context<'_>,
    ) -> Result<Option<Vec<Value>>> {
        join_key(&self.right_keys, row, context)
    }
}

/// The state of the current left row.
pub(super) struct Current {
    pub(super) row: Row,
    pub(super) matched: bool,
    /// The next candidate to test (an index into the candidates).
    pub(super) next: usize,
}

/// The right rows of a nested loop, hash or merge join, with which were
/// matched. The rows lie end to end in one vector (`width` values each)
/// rather than in a heap block apiece: a hash join's probe then reaches a
/// candidate's values in one step from its key's entry, where a block per
/// row costs two more dependent cache misses per probe (the row's header,
/// then its block) once the probe side's scan has pushed the table out of
/// the core's cache.
pub(super) struct RightRows {
    values: Vec<Value>,
    width: usize,
    matched: Vec<bool>,
}

impl RightRows {
    pub(super) fn new(width: usize) -> RightRows {
        RightRows {
            values: Vec::new(),
            width,
            matched: Vec::new(),
        }
    }

    /// Rows of `width` values, all unmatched.
    pub(super) fn from_rows(width: usize, rows: Vec<Row>) -> Result<RightRows> {
        let mut right = RightRows::new(width);
        right.values.reserve_exact(rows.len() * width);
        right.matched.reserve_exact(rows.len());
        for row in rows {
            right.push(row)?;
        }
        Ok(right)
    }

    pub(super) fn len(&self) -> usize {
        self.matched.len()
    }

    /// Appends an unmatched row, which must have `width` values (a row of
    /// another width would shift every row after it).
    pub(super) fn push(&mut self, row: Row) -> Result<()> {
        if row.len() != self.width {
            return Err(Error::Internal(format!(
                "a join's right row has {} values where its input has {} columns",
                row.len(),
                self.width
            )));
        }
        if self.values.capacity() - self.values.len() < self.width {
            // Grow by an eighth, not by doubling: memory estimates count
            // the rows' values, and a doubled vector could hold twice that.
            let step = (self.values.len() / 8).max(self.width * 64);
            self.values.reserve_exact(step);
        }
        self.values.extend(row);
        self.matched.push(false);
        Ok(())
    }

    /// Bytes allocated for values beyond those of the rows held (at most
    /// an eighth of them once there are many, see `push`), for memory
    /// estimates.
    pub(super) fn spare_bytes(&self) -> usize {
        (self.values.capacity() - self.values.len()) * std::mem::size_of::<Value>()
    }

    pub(super) fn row(&self, index: usize) -> &[Value] {
        &self.values[index * self.width..(index + 1) * self.width]
    }

    pub(super) fn is_matched(&self, index: usize) -> bool {
        self.matched[index]
    }

    pub(super) fn clear(&mut self) {
        self.values.clear();
        self.matched.clear();
    }

    /// Puts the rows in the order `order` lists them (a permutation of
    /// the row numbers: the row at `order[i]` becomes row `i`), in place,
    /// one cycle of the permutation at a time. `order` is used up. Every
    /// row comes out unmatched: only a table not probed yet is reordered.
    pub(super) fn permute(&mut self, order: &mut [usize]) {
        debug_assert_eq!(order.len(), self.len());
        const DONE: usize = usize::MAX;
        let width = self.width;
        let mut held = Vec::with_capacity(width);
        for first in 0..order.len() {
            if order[first] == DONE || order[first] == first {
                continue;
            }
            // Row `first` is overwritten first: hold it until the cycle
            // comes back to it.
            held.extend(
                self.values[first * width..(first + 1) * width]
                    .iter_mut()
                    .map(Value::take),
            );
            let mut to = first;
            loop {
                let from = std::mem::replace(&mut order[to], DONE);
                if from == first {
                    for (slot, value) in self.values[to * width..].iter_mut().zip(held.drain(..)) {
                        *slot = value;
                    }
                    break;
                }
                for column in 0..width {
                    let value = self.values[from * width + column].take();
                    self.values[to * width + column] = value;
                }
                to = from;
            }
        }
        self.matched.fill(false);
    }

    /// The next unmatched right row from `*cursor` on, padded on the left.
    pub(super) fn next_unmatched(&self, cursor: &mut usize, left_width: usize) -> Option<Row> {
        while *cursor < self.len() {
            let index = *cursor;
            *cursor += 1;
            if !self.matched[index] {
                return Some(pad_left(left_width, self.row(index)));
            }
        }
        None
    }
}

/// Tests the candidates of the current left row; returns the next output
/// row, or `None` when the left row is done (its outer/anti row, if any,
/// then comes from `finish_left`).
///
/// Inlined into each join: its row comes back through memory, written as
/// separate words and read back with wider loads that cannot be forwarded
/// from the stores, a stall on every joined row when it is a call.
#[inline(always)]
pub(super) fn probe(
    kind: JoinKind,
    current: &mut Current,
    candidates: Range<usize>,
    right: &mut RightRows,
    condition: &Option<Expr>,
    context: &mut Context<'_>,
) -> Result<Option<Row>> {
    let count = candidates.len();
    while current.next < count {
        let index = candidates.start + current.next;
        current.next += 1;
        let last = current.next == count;
        let joined = if last && !matches!(kind, JoinKind::Semi | JoinKind::Anti) {
            // The left row's last candidate: its values move into the
            // joined row instead of being copied (it is not needed again
            // once matched; a failed match gives them back).
            let left_width = current.row.len();
            let right_row = right.row(index);
            let mut joined = if current.row.capacity() - left_width >= right_row.len() {
                // Room reserved by the scan below (`reserve_width`):
                // the right values go on the end of the left row.
                let mut joined = std::mem::take(&mut current.row);
                joined.extend_from_slice(right_row);
                joined
            } else {
                let mut joined = Vec::with_capacity(left_width + right_row.len());
                joined.append(&mut current.row);
                joined.extend_from_slice(right_row);
                joined
            };
            if !passes(condition, &joined, context)? {
                joined.truncate(left_width);
                current.row = joined;
                continue;
            }
            joined
        } else {
            let joined = concat(&current.row, right.row(index));
            if !passes(condition, &joined, context)? {
                continue;
            }
            joined
        };
        current.matched = true;
        right.matched[index] = true;
        match kind {
            JoinKind::Semi => {
                current.next = count;
                return Ok(Some(current.row.clone()));
            }
            JoinKind::Anti => {
                current.next = count;
                return Ok(None);
            }
            _ => return Ok(Some(joined)),
        }
    }
    Ok(None)
}

/// Where a join's left rows come from: its input, or a spilled partition.
pub(super) enum LeftInput<'a> {
    Operator(&'a mut Operator),
    File(&'a mut RowReader),
    Empty,
}

impl LeftInput<'_> {
    pub(super) fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        match self {
            LeftInput::Operator(operator) => operator.next(context),
            LeftInput::File(reader) => reader.next_row(),
            LeftInput::Empty => Ok(None),
        }
    }
}

/// A left row of a block nested loop.
struct BlockRow {
    row: Row,
    key: Option<Vec<Value>>,
    matched: bool,
}

/// Where a block nested loop is.
enum LoopState {
    /// Reading the next block of left rows.
    Fill,
    /// Testing the right row `position - 1` against block row `next`.
    Scan {
        reader: RowReader,
        right: Option<(Row, Option<Vec<Value>>)>,
        position: u64,
        next: usize,
    },
    /// Returning the block's unmatched (or, for SEMI, matched) left rows
    /// from this index on.
    Finish(usize),
    /// The left input is done: returning unmatched right rows.
    Unmatched {
        reader: RowReader,
        position: u64,
    },
    Done,
}

/// A block nested loop over spilled right rows (see the module docs):
/// for the nested loop join past `work_mem`, and for hash join pairs that
/// cannot be split (then `keyed`: a pair must also have equal keys).
pub(super) struct BlockLoop {
    right: RowFile,
    keyed: bool,
    /// Estimated bytes of left rows per block.
    budget: usize,
    /// One bit per right row (RIGHT and FULL only).
    right_matched: Option<Vec<u64>>,
    block: Vec<BlockRow>,
    /// Block rows a SEMI or ANTI join still has to test.
    open: usize,
    left_done: bool,
    state: LoopState,
}

impl BlockLoop {
    pub(super) fn new(right: RowFile, spec: &JoinSpec, keyed: bool, budget: usize) -> BlockLoop {
        let right_matched = spec
            .keeps_right()
            .then(|| vec![0u64; right.rows().div_ceil(64) as usize]);
        BlockLoop {
            right,
            keyed,
            budget,
            right_matched,
            block: Vec::new(),
            open: 0,
            left_done: false,
            state: LoopState::Fill,
        }
    }

    pub(super) fn next(
        &mut self,
        spec: &JoinSpec,
        left: &mut LeftInput<'_>,
        context: &mut Context<'_>,
    ) -> Result<Option<Row>> {
        let decides_once = matches!(spec.kind, JoinKind::Semi | JoinKind::Anti);
        loop {
            match &mut self.state {
                LoopState::Fill => {
                    if self.left_done {
                        self.state = match spec.keeps_right() {
                            true => LoopState::Unmatched {
                                reader: self.right.reader()?,
                                position: 0,
                            },
                            false => LoopState::Done,
                        };
                        continue;
                    }
                    self.block.clear();
                    let mut bytes = 0;
                    while bytes < self.budget {
                        let Some(row) = left.next(context)? else {
                            self.left_done = true;
                            break;
                        };
                        let key = match self.keyed {
                            true => spec.left_key(&row, context)?,
                            false => None,
                        };
                        bytes += row_size(&row) + key.as_deref().map_or(0, row_size);
                        self.block.push(BlockRow {
                            row,
                            key,
                            matched: false,
                        });
                    }
                    if !self.block.is_empty() {
                        self.open = self.block.len();
                        self.state = LoopState::Scan {
                            reader: self.right.reader()?,
                            right: None,
                            position: 0,
                            next: 0,
                        };
                    }
                }
                LoopState::Scan {
                    reader,
                    right,
                    position,
                    next,
                } => {
                    if right.is_none() || *next == self.block.len() {
                        // SEMI and ANTI: a block whose rows all matched
                        // needs no more right rows.
                        let row = match decides_once && self.open == 0 {
                            true => None,
                            false => reader.next_row()?,
                        };
                        let Some(row) = row else {
                            self.state = LoopState::Finish(0);
                            continue;
                        };
                        let key = match self.keyed {
                            true => spec.right_key(&row, context)?,
                            false => None,
                        };
                        *right = Some((row, key));
                        *position += 1;
                        *next = 0;
                    }
                    let (right_row, right_key) = right
                        .as_ref()
                        .expect("invariant: a right row was read above");
                    let candidate = &mut self.block[*next];
                    *next += 1;
                    if decides_once && candidate.matched {
                        continue;
                    }
                    if self.keyed {
                        match (&candidate.key, right_key) {
                            (Some(a), Some(b)) if a == b => {}
                            _ => continue,
                        }
                    }
                    let joined = concat(&candidate.row, right_row);
                    if !passes(&spec.condition, &joined, context)? {
                        continue;
                    }
                    if !candidate.matched {
                        candidate.matched = true;
                        self.open -= 1;
                    }
                    if let Some(bits) = &mut self.right_matched {
                        let index = *position - 1;
                        bits[(index / 64) as usize] |= 1 << (index % 64);
                    }
                    if !decides_once {
                        return Ok(Some(joined));
                    }
                }
                LoopState::Finish(index) => {
                    while let Some(done) = self.block.get_mut(*index) {
                        *index += 1;
                        let row = std::mem::take(&mut done.row);
                        if spec.kind == JoinKind::Semi && done.matched {
                            return Ok(Some(row));
                        }
                        if let LeftDone::Emit(row) =
                            finish_left(spec.kind, row, done.matched, spec.right_width)
                        {
                            return Ok(Some(row));
                        }
                    }
                    self.state = LoopState::Fill;
                }
                LoopState::Unmatched { reader, position } => {
                    let Some(row) = reader.next_row()? else {
                        self.state = LoopState::Done;
                        continue;
                    };
                    let index = *position;
                    *position += 1;
                    let matched = self
                        .right_matched
                        .as_ref()
                        .is_some_and(|bits| bits[(index / 64) as usize] & (1 << (index % 64)) != 0);
                    if !matched {
                        return Ok(Some(pad_left(spec.left_width, &row)));
                    }
                }
                LoopState::Done => return Ok(None),
            }
        }
    }
}

/// Phases of the nested loop join.
enum Phase {
    /// Not started: the right input is still unread.
    Start,
    /// Streaming left rows against the right rows in memory.
    Probing,
    /// The left input is exhausted; returning unmatched right rows from
    /// this index on (RIGHT and FULL joins).
    Unmatched(usize),
    /// The right rows spilled: a block nested loop.
    Blocks(Box<BlockLoop>),
    Done,
}

/// Nested loop: every left row against every right row.
pub struct NestedLoopJoin {
    left: Box<Operator>,
    right: Box<Operator>,
    spec: JoinSpec,
    phase: Phase,
    rows: RightRows,
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
            spec: JoinSpec {
                kind,
                condition,
                left_width: widths.0,
                right_width: widths.1,
                left_keys: Vec::new(),
                right_keys: Vec::new(),
            },
            phase: Phase::Start,
            rows: RightRows::new(widths.1),
            current: None,
        }
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        let spec = &self.spec;
        loop {
            match &mut self.phase {
                Phase::Start => {
                    let mut buffer = RowBuffer::new(context.spill_space(), context.work_mem());
                    while let Some(row) = self.right.next(context)? {
                        buffer.push(row)?;
                    }
                    self.phase = match buffer.into_rows()? {
                        BufferedRows::Memory(rows) => {
                            self.rows = RightRows::from_rows(spec.right_width, rows)?;
                            Phase::Probing
                        }
                        BufferedRows::File(file) => Phase::Blocks(Box::new(BlockLoop::new(
                            file,
                            spec,
                            false,
                            context.work_mem(),
                        ))),
                    };
                }
                Phase::Probing => {
                    if let Some(current) = &mut self.current {
                        if let Some(row) = probe(
                            spec.kind,
                            current,
                            0..self.rows.len(),
                            &mut self.rows,
                            &spec.condition,
                            context,
                        )? {
                            return Ok(Some(row));
                        }
                        let done = self.current.take().expect("invariant: checked above");
                        if let LeftDone::Emit(row) =
                            finish_left(spec.kind, done.row, done.matched, spec.right_width)
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
                            self.phase = match spec.keeps_right() {
                                true => Phase::Unmatched(0),
                                false => Phase::Done,
                            }
                        }
                    }
                }
                Phase::Unmatched(cursor) => match self.rows.next_unmatched(cursor, spec.left_width)
                {
                    Some(row) => return Ok(Some(row)),
                    None => self.phase = Phase::Done,
                },
                Phase::Blocks(blocks) => {
                    let row =
                        blocks.next(spec, &mut LeftInput::Operator(&mut self.left), context)?;
                    if row.is_none() {
                        self.phase = Phase::Done;
                    }
                    return Ok(row);
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
    /// (whether its key has no NULL; the key is in `lookahead_key`).
    lookahead: Option<(Row, bool)>,
    lookahead_key: Vec<Value>,
    started: bool,
    right_done: bool,
    /// The current group of right rows with equal keys.
    group: RightRows,
    /// The current group's key, if there is a group (`grouped`).
    group_key: Vec<Value>,
    grouped: bool,
    current: Option<Current>,
    /// The current left row's key (a buffer reused from row to row).
    left_key: Vec<Value>,
    /// Right rows to return unmatched (RIGHT/FULL), oldest first.
    pending: std::collections::VecDeque<Row>,
    left_done: bool,
}

impl MergeJoin {
    /// See `Operator::reserve_width`.
    pub fn reserve_width(&mut self, width: usize) {
        if super::extends_left(self.kind) {
            self.left.reserve_width(width);
        }
    }

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
            lookahead_key: Vec::new(),
            started: false,
            right_done: false,
            group: RightRows::new(widths.1),
            group_key: Vec::new(),
            grouped: false,
            current: None,
            left_key: Vec::new(),
            pending: std::collections::VecDeque::new(),
            left_done: false,
        }
    }

    fn read_right(&mut self, context: &mut Context<'_>) -> Result<()> {
        self.lookahead = match self.right.next(context)? {
            Some(row) => {
                // Into a buffer reused for every right row.
                let has_key =
                    join_key_into(&self.right_keys, &row, context, &mut self.lookahead_key)?;
                Some((row, has_key))
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
            for index in 0..self.group.len() {
                if !self.group.is_matched(index) {
                    self.pending
                        .push_back(pad_left(self.left_width, self.group.row(index)));
                }
            }
        }
        self.group.clear();
        self.grouped = false;
    }

    /// Makes the group the right rows whose key equals `key`, skipping (and
    /// for RIGHT/FULL keeping as pending) smaller ones.
    fn seek(&mut self, key: &[Value], context: &mut Context<'_>) -> Result<()> {
        if self.grouped && self.group_key == key {
            return Ok(());
        }
        self.close_group();
        loop {
            let Some((row, has_key)) = self.lookahead.take() else {
                return Ok(());
            };
            let ordering = match has_key {
                false => Ordering::Greater,
                true => compare_keys(&self.lookahead_key, key),
            };
            match ordering {
                Ordering::Less => {
                    if matches!(self.kind, JoinKind::Right | JoinKind::Full) {
                        self.pending.push_back(pad_left(self.left_width, &row));
                    }
                    self.read_right(context)?;
                }
                Ordering::Equal => {
                    self.group.push(row)?;
                    if !self.grouped {
                        self.group_key.clone_from(&self.lookahead_key);
                        self.grouped = true;
                    }
                    self.read_right(context)?;
                }
                Ordering::Greater => {
                    self.lookahead = Some((row, has_key));
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
                    0..self.group.len(),
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
                    // with this key (none for a NULL key). The key goes
                    // into a buffer reused for every left row.
                    let mut key = std::mem::take(&mut self.left_key);
                    let found = join_key_into(&self.left_keys, &row, context, &mut key);
                    let sought = match found {
                        Ok(true) => self.seek(&key, context),
                        Ok(false) => {
                            self.close_group();
                            Ok(())
                        }
                        Err(error) => Err(error),
                    };
                    self.left_key = key;
                    sought?;
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
    /// The right plan's operators from the previous left row, when they
    /// are a table scan (a key lookup), which can run again.
    spare: Option<Box<ScanOperator>>,
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
            spare: None,
        }
    }

    /// Keeps a finished left row's right operators if they are a table
    /// scan (a key lookup): it runs again for the next left row, rewound,
    /// instead of being built again.
    fn keep_for_rewind(&mut self, right: Box<Operator>) {
        if let Operator::Scan(scan) = *right {
            self.spare = Some(scan);
        }
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        loop {
            if let Some(current) = &mut self.current {
                let right = &mut current.right;
                let found =
                    context.with_lent_frame(&mut current.frame, |context| right.next(context))?;
                if let Some(right_row) = found {
                    let joined = concat(&current.row, &right_row);
                    if !passes(&self.condition, &joined, context)? {
                        continue;
                    }
                    current.matched = true;
                    match self.kind {
                        JoinKind::Semi => {
                            let done = self.current.take().expect("invariant: checked above");
                            self.keep_for_rewind(done.right);
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
                self.keep_for_rewind(done.right);
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
            let right = match self.spare.take() {
                Some(mut scan) => {
                    scan.rewind();
                    Box::new(Operator::Scan(scan))
                }
                None => Box::new(build(&self.right, &self.frame_ids)?),
            };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(count: i64, width: usize) -> RightRows {
        let rows = (0..count)
            .map(|number| {
                (0..width)
                    .map(|column| Value::BigInt(number * 10 + column as i64))
                    .collect()
            })
            .collect();
        RightRows::from_rows(width, rows).expect("rows of the given width")
    }

    #[test]
    fn right_rows_permute_in_place_over_several_cycles() {
        // Cycles (0 3 5), (1 4), (2) and (6 7).
        let mut rows = numbered(8, 3);
        let mut order = vec![3, 4, 2, 5, 1, 0, 7, 6];
        let expected: Vec<Vec<Value>> = order.iter().map(|&from| rows.row(from).to_vec()).collect();
        rows.permute(&mut order);
        for (index, row) in expected.iter().enumerate() {
            assert_eq!(rows.row(index), row.as_slice(), "row {index}");
        }
        // Rows without columns keep their count.
        let mut empty = numbered(3, 0);
        empty.permute(&mut [2, 0, 1]);
        assert_eq!(empty.len(), 3);
        assert!(empty.row(2).is_empty());
    }

    #[test]
    fn right_rows_report_unmatched_rows_padded_and_refuse_other_widths() {
        let mut rows = numbered(3, 2);
        rows.matched[1] = true;
        let mut cursor = 0;
        let first = rows
            .next_unmatched(&mut cursor, 1)
            .expect("row 0 is unmatched");
        assert_eq!(first, vec![Value::Null, Value::BigInt(0), Value::BigInt(1)]);
        let second = rows
            .next_unmatched(&mut cursor, 1)
            .expect("row 2 is unmatched");
        assert_eq!(second[1], Value::BigInt(20));
        assert!(rows.next_unmatched(&mut cursor, 1).is_none());
        assert!(rows.push(vec![Value::Null]).is_err());
        assert_eq!(rows.len(), 3, "a refused row is not added");
    }
}
