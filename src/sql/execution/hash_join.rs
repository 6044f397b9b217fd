//! Hash join: the right rows in a hash table on their key values; each
//! left row probes with its own. Rows with a NULL key never match (SQL
//! equality), but still count as unmatched for outer joins (the contract
//! per join kind is in `join.rs`).
//!
//! If the table outgrows `work_mem`, the join becomes a Grace hash join
//! (`spill.rs`'s `Partitioner`):
//!
//! ```text
//!   right ──key──► partitions R₀ … Rₙ by hash₀(key)   (table rows first)
//!   left  ──key──► partitions L₀ … Lₙ by hash₀(key)
//!   for each pair (Rᵢ, Lᵢ):
//!     Rᵢ fits in work_mem ──► hash table of Rᵢ, probe with Lᵢ
//!     Rᵢ too big ──────────► both by hash_{level}(key) → pairs of the
//!                            next level (at most MAX_LEVEL levels)
//!     Rᵢ unsplittable ─────► block nested loop of Lᵢ against Rᵢ,
//!       (all its rows stayed   testing key equality, then the condition
//!        together twice in a   (`join.rs`'s `BlockLoop`)
//!        row, or MAX_LEVEL
//!        reached)
//! ```
//!
//! Invariants:
//!
//! 1. Equal keys are in partitions of the same number on both sides (the
//!    hash agrees with `Value` equality), so every match is within a pair,
//!    and a left row's matches, and a right row's, are all in its pair:
//!    matched flags per pair are exact.
//! 2. A row with a NULL key in any column matches nothing: such left rows
//!    are returned at once as unmatched (LEFT, FULL, ANTI) or dropped;
//!    such right rows are kept aside for RIGHT and FULL and returned
//!    unmatched after all pairs, or dropped.
//! 3. A pair is loaded into memory only if the estimate its rows were
//!    written with (rows, keys, table entries) fits `work_mem`; the
//!    fallback nested loop holds one block of left rows, so no pair, how
//!    ever skewed, breaks the bound or fails.
//!
//! Spilled joins return rows in a different order than in memory (pair by
//! pair); SQL leaves it undefined without ORDER BY.
//!
//! **Layout.** A table is built in arrival order, each key's rows chained
//! newest to oldest through a link per row; when the right input ends the
//! rows are permuted in place so each key's rows are consecutive, and the
//! key's entry becomes their range:
//!
//! ```text
//!   key index:  7 → rows 0..3    3 → rows 3..5    9 → rows 5..6
//!   rows:       [7,a] [7,c] [7,f] [3,b] [3,e] [9,d]   (one Vec<Value>)
//! ```
//!
//! A probe is then one hash lookup and one read of the candidates' values.
//! With a `Vec` of row numbers per key and a heap block per row it was
//! four dependent reads, each a cache miss once the probe side's scan has
//! pushed the table out of the core's cache: they were most of the time a
//! million-row probe took.
//!
//! **Narrowing the probe scan.** The table is built before the first left
//! row is read. When the left input is a full table scan whose primary key
//! leads with an integer key column of the join, a left row outside the
//! span of the right rows' values of that key matches nothing; for INNER,
//! semi and RIGHT joins (which return nothing for an unmatched left row)
//! the scan is narrowed to that key range before it opens (to nothing if
//! no right row has a key), as a database narrows a join's probe side by
//! the build side's min/max. Joining the orders of a few days to their
//! line items then reads those orders' lines, not the table:
//!
//! ```text
//!   Hash Join (l.order_id = o.id)
//!     Seq Scan on lineitems l   ── reads order_id ∈ [min o.id, max o.id]
//!     <orders of 200 days>      ── built first: min and max o.id
//! ```
//!
//! For SSI the narrowed scan registers the range it reads; rows outside
//! it could only join with right rows that the right input did not
//! return, and a concurrent write that would add such a right row
//! conflicts with the right input's own reads.

use super::hash::RowMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use super::Operator;
use super::context::Context;
use super::join::{
    BlockLoop, Current, JoinSpec, LeftDone, LeftInput, RightRows, finish_left, join_key_into,
    pad_left, pad_right, probe,
};
use super::spill::{
    ENTRY_OVERHEAD, MIN_FAN_OUT, Partitioner, RowFile, RowReader, RowWriter, fan_out, row_size,
};
use crate::error::Result;
use crate::sql::expr::Expr;
use crate::sql::plan::JoinKind;
use crate::sql::types::{Row, Value};

/// Partitioning levels a hash join pair may go through before it is
/// joined by a nested loop instead.
const MAX_LEVEL: u32 = 5;

/// Estimated bytes of a right row in a hash table (invariant 3): the row,
/// its matched flag and chain link, and a key entry of its own.
fn entry_size(row: &[Value], key: &[Value]) -> usize {
    row_size(row) + row_size(key) + ENTRY_OVERHEAD + std::mem::size_of::<KeyRows>() + ROW_EXTRA
}

/// A row's bytes in a hash table beyond the row: its chain link while
/// building, and its matched flag.
const ROW_EXTRA: usize = std::mem::size_of::<usize>() + 1;

/// The rows of one key. While the table is built, `start` is the key's
/// newest row, from which `HashBuild::links` chain back to its oldest;
/// once built, the key's rows are rows `start .. start + len`, oldest
/// first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct KeyRows {
    start: usize,
    len: usize,
}

impl KeyRows {
    fn range(self) -> std::ops::Range<usize> {
        self.start..self.start + self.len
    }
}

/// The rows of each key of a hash table.
///
/// Most joins are on one integer column, so while every key the table
/// holds is a single integer value it is keyed by that integer: hashed
/// and compared as one word, stored without a `Vec` per key. The first
/// key that is anything else (several columns, a float, text), on either
/// side, turns it into the general map, so every lookup compares as
/// `Value` equality does (integers of different widths are equal by
/// value in both forms).
///
/// A built table whose integer keys are dense (a primary key's values,
/// say) becomes an array indexed by key minus the smallest key, as
/// databases build a perfect hash for such keys: a probe is a subtraction
/// and one read, where a hash map costs the hash and a read of its
/// control bytes before the entry.
enum KeyIndex {
    Integers(RowMap<i64, KeyRows>),
    /// The rows of key `low + i` at `i` (an empty run: no such key).
    Dense {
        low: i64,
        rows: Vec<KeyRows>,
    },
    Rows(RowMap<Vec<Value>, KeyRows>),
}

impl Default for KeyIndex {
    fn default() -> KeyIndex {
        KeyIndex::Integers(RowMap::default())
    }
}

/// The key as one integer, if it is one integer value.
fn single_integer(key: &[Value]) -> Option<i64> {
    match key {
        [value @ (Value::SmallInt(_) | Value::Integer(_) | Value::BigInt(_))] => value.as_i64(),
        _ => None,
    }
}

/// Array slots a dense index may have per key (the rest are holes), plus
/// [`DENSE_SLACK`]: an index of at most this many 16-byte slots costs no
/// more memory than the map it replaces.
const DENSE_SLOTS_PER_KEY: usize = 2;
const DENSE_SLACK: usize = 64;

impl KeyIndex {
    /// The integer keys with their rows (dense or not), if they are
    /// integers.
    fn integer_pairs(&mut self) -> Option<Vec<(i64, KeyRows)>> {
        match self {
            KeyIndex::Integers(map) => Some(map.drain().collect()),
            KeyIndex::Dense { low, rows } => Some(
                std::mem::take(rows)
                    .into_iter()
                    .enumerate()
                    .filter(|(_, rows)| rows.len > 0)
                    .map(|(offset, rows)| (*low + offset as i64, rows))
                    .collect(),
            ),
            KeyIndex::Rows(_) => None,
        }
    }

    /// Switches to the general map (once; the integers become `bigint`s).
    fn generalize(&mut self) {
        if let Some(pairs) = self.integer_pairs() {
            let rows = pairs
                .into_iter()
                .map(|(key, rows)| (vec![Value::BigInt(key)], rows))
                .collect();
            *self = KeyIndex::Rows(rows);
        }
    }

    /// Makes a built index of dense integer keys an array.
    fn densify(&mut self) {
        let KeyIndex::Integers(map) = self else {
            return;
        };
        let (Some(&low), Some(&high)) = (map.keys().min(), map.keys().max()) else {
            return;
        };
        let slots = (high as i128 - low as i128 + 1) as u128;
        if slots > (map.len() * DENSE_SLOTS_PER_KEY + DENSE_SLACK) as u128 {
            return;
        }
        let mut rows = vec![KeyRows { start: 0, len: 0 }; slots as usize];
        for (key, key_rows) in map.drain() {
            rows[(key - low) as usize] = key_rows;
        }
        *self = KeyIndex::Dense { low, rows };
    }

    /// The rows of `key`, if the table has it.
    fn get(&mut self, key: &[Value]) -> Option<KeyRows> {
        match (&*self, single_integer(key)) {
            (KeyIndex::Integers(map), Some(integer)) => return map.get(&integer).copied(),
            (KeyIndex::Dense { low, rows }, Some(integer)) => {
                let offset = usize::try_from(integer.checked_sub(*low)?).ok()?;
                return rows.get(offset).copied().filter(|rows| rows.len > 0);
            }
            (KeyIndex::Rows(_), _) => {}
            (_, None) => self.generalize(),
        }
        match self {
            KeyIndex::Rows(map) => map.get(key).copied(),
            _ => unreachable!("generalized above"),
        }
    }

    /// Makes `row` the newest row of `key`: the key's previous newest row
    /// (`None` for a new key), with the bytes a new key costs (0 for a
    /// known one).
    fn add(&mut self, key: Vec<Value>, row: usize) -> (Option<usize>, usize) {
        fn add_to<K>(
            entry: Entry<'_, K, KeyRows>,
            row: usize,
            bytes: usize,
        ) -> (Option<usize>, usize) {
            match entry {
                Entry::Occupied(mut entry) => {
                    let rows = entry.get_mut();
                    let previous = std::mem::replace(&mut rows.start, row);
                    rows.len += 1;
                    (Some(previous), 0)
                }
                Entry::Vacant(entry) => {
                    entry.insert(KeyRows { start: row, len: 1 });
                    (None, bytes)
                }
            }
        }
        if let KeyIndex::Dense { .. } = self
            && let Some(pairs) = self.integer_pairs()
        {
            // Only built tables are dense; adding to one is unexpected
            // but still exact.
            *self = KeyIndex::Integers(pairs.into_iter().collect());
        }
        if let KeyIndex::Integers(map) = self {
            match single_integer(&key) {
                Some(integer) => {
                    let bytes = std::mem::size_of::<(i64, KeyRows)>() + ENTRY_OVERHEAD;
                    return add_to(map.entry(integer), row, bytes);
                }
                None => self.generalize(),
            }
        }
        let KeyIndex::Rows(map) = self else {
            unreachable!("generalized above")
        };
        let bytes = row_size(&key) + std::mem::size_of::<KeyRows>() + ENTRY_OVERHEAD;
        add_to(map.entry(key), row, bytes)
    }

    fn for_each_rows(&mut self, mut visit: impl FnMut(&mut KeyRows)) {
        match self {
            KeyIndex::Integers(map) => map.values_mut().for_each(&mut visit),
            KeyIndex::Dense { rows, .. } => rows
                .iter_mut()
                .filter(|rows| rows.len > 0)
                .for_each(&mut visit),
            KeyIndex::Rows(map) => map.values_mut().for_each(&mut visit),
        }
    }

    /// Every key with its rows.
    fn into_pairs(mut self) -> Vec<(Vec<Value>, KeyRows)> {
        match self.integer_pairs() {
            Some(pairs) => pairs
                .into_iter()
                .map(|(key, rows)| (vec![Value::BigInt(key)], rows))
                .collect(),
            None => match self {
                KeyIndex::Rows(map) => map.into_iter().collect(),
                _ => unreachable!("integer keys are taken above"),
            },
        }
    }
}

/// Marks the end of a key's chain in `HashBuild::links`.
const NO_ROW: usize = usize::MAX;

/// A hash table being built: right rows in arrival order, each key's rows
/// chained newest to oldest.
struct HashBuild {
    rows: RightRows,
    table: KeyIndex,
    /// For each row, the previous row with its key (or `NO_ROW`).
    links: Vec<usize>,
    /// Rows with a NULL key (kept for RIGHT and FULL only).
    null_keys: Vec<usize>,
    bytes: usize,
}

impl HashBuild {
    fn new(width: usize) -> HashBuild {
        HashBuild {
            rows: RightRows::new(width),
            table: KeyIndex::default(),
            links: Vec::new(),
            null_keys: Vec::new(),
            bytes: 0,
        }
    }

    fn insert(&mut self, row: Row, key: Option<Vec<Value>>, keep_null: bool) -> Result<()> {
        let index = self.rows.len();
        let bytes = row_size(&row) + ROW_EXTRA;
        match key {
            Some(key) => {
                self.rows.push(row)?;
                let (previous, key_bytes) = self.table.add(key, index);
                self.links.push(previous.unwrap_or(NO_ROW));
                self.bytes += bytes + key_bytes;
            }
            // Invariant 2: it can only come out unmatched.
            None if keep_null => {
                self.rows.push(row)?;
                self.links.push(NO_ROW);
                self.null_keys.push(index);
                self.bytes += bytes + std::mem::size_of::<usize>();
            }
            None => {}
        }
        Ok(())
    }

    /// The rows of a key, oldest first.
    fn chain(&self, rows: KeyRows) -> Vec<usize> {
        let mut chain = Vec::with_capacity(rows.len);
        append_chain(&self.links, rows, &mut chain);
        chain
    }

    /// The built table: each key's rows made consecutive (the NULL-keyed
    /// ones after all of them), so a probe finds its candidates as one
    /// run of rows.
    fn finish(mut self) -> HashTable {
        // Dense keys first: their rows are then laid out in key order, so
        // a probe side arriving in key order reads the table in order.
        self.table.densify();
        let mut order = Vec::with_capacity(self.rows.len());
        let links = std::mem::take(&mut self.links);
        self.table.for_each_rows(|rows| {
            let first = order.len();
            append_chain(&links, *rows, &mut order);
            rows.start = first;
        });
        order.extend_from_slice(&self.null_keys);
        self.rows.permute(&mut order);
        HashTable {
            rows: self.rows,
            table: self.table,
        }
    }
}

/// Appends the rows of a key being built to `out`, oldest first: its chain
/// through `links` from its newest row, reversed.
fn append_chain(links: &[usize], rows: KeyRows, out: &mut Vec<usize>) {
    let first = out.len();
    let mut at = rows.start;
    while at != NO_ROW {
        out.push(at);
        at = links[at];
    }
    debug_assert_eq!(out.len() - first, rows.len);
    out[first..].reverse();
}

/// Right rows in memory, each key's rows consecutive.
struct HashTable {
    rows: RightRows,
    table: KeyIndex,
}

/// Probing one hash table with left rows, then returning its unmatched
/// rows (RIGHT and FULL): the whole join in memory, or one pair.
struct Probe {
    table: HashTable,
    /// The current left row, with the rows of its key (empty: no right
    /// row has it).
    current: Option<(Current, std::ops::Range<usize>)>,
    /// The left row's key, evaluated into a buffer reused for every row.
    key: Vec<Value>,
    /// Returning unmatched right rows from this index on.
    unmatched: Option<usize>,
}

impl Probe {
    fn new(table: HashTable) -> Probe {
        Probe {
            table,
            current: None,
            key: Vec::new(),
            unmatched: None,
        }
    }

    /// The next row; `None` once the left rows and the unmatched right
    /// rows are done.
    fn next(
        &mut self,
        spec: &JoinSpec,
        left: &mut LeftInput<'_>,
        context: &mut Context<'_>,
    ) -> Result<Option<Row>> {
        loop {
            if let Some(cursor) = &mut self.unmatched {
                return Ok(self.table.rows.next_unmatched(cursor, spec.left_width));
            }
            if let Some((current, candidates)) = &mut self.current {
                if let Some(row) = probe(
                    spec.kind,
                    current,
                    candidates.clone(),
                    &mut self.table.rows,
                    &spec.condition,
                    context,
                )? {
                    return Ok(Some(row));
                }
                let (done, _) = self.current.take().expect("invariant: checked above");
                if let LeftDone::Emit(row) =
                    finish_left(spec.kind, done.row, done.matched, spec.right_width)
                {
                    return Ok(Some(row));
                }
            }
            match left.next(context)? {
                Some(row) => {
                    // A NULL key matches nothing (invariant 2).
                    let candidates =
                        if join_key_into(&spec.left_keys, &row, context, &mut self.key)? {
                            self.table
                                .table
                                .get(self.key.as_slice())
                                .map_or(0..0, KeyRows::range)
                        } else {
                            0..0
                        };
                    let current = Current {
                        row,
                        matched: false,
                        next: 0,
                    };
                    self.current = Some((current, candidates));
                }
                None if spec.keeps_right() => self.unmatched = Some(0),
                None => return Ok(None),
            }
        }
    }
}

/// Partition `i` of both inputs at some level.
struct JoinPair {
    right: Option<RowFile>,
    left: Option<RowFile>,
    level: u32,
    /// How many partitionings in a row left all of the right rows
    /// together (one key, or hashes that keep colliding): at 2 the pair
    /// is not split again.
    stuck: u32,
}

/// The pair being joined, with its left rows.
enum ActivePair {
    Hash {
        probe: Box<Probe>,
        left: Option<RowReader>,
    },
    Loop {
        block: Box<BlockLoop>,
        left: Option<RowReader>,
    },
}

/// A hash join past `work_mem`.
struct Spilled {
    /// Left partitions being written (until the left input ends).
    left: Option<(Partitioner, Vec<Option<RowFile>>)>,
    /// Pairs still to join (a stack).
    pairs: Vec<JoinPair>,
    active: Option<ActivePair>,
    /// Right rows with a NULL key (RIGHT and FULL), returned last.
    null_right: Option<RowFile>,
    null_reader: Option<RowReader>,
}

enum HashState {
    /// The right input is still unread.
    Build,
    /// The right input fit in memory.
    Memory(Box<Probe>),
    Spilled(Box<Spilled>),
    Done,
}

/// Hash join: the right rows in a hash table on their key values; each
/// left row probes with its own. Rows with a NULL key never match (SQL
/// equality), but still count as unmatched for outer joins. Grace
/// partitioning past `work_mem` (module docs).
pub struct HashJoin {
    left: Box<Operator>,
    right: Box<Operator>,
    spec: JoinSpec,
    /// The key (by index) on which the left scan is narrowed to the span
    /// of the right keys, if it can be (module docs).
    narrow: Option<usize>,
    state: HashState,
}

/// The smallest and largest value of one key over the right rows (whose
/// keys are never NULL here).
#[derive(Default)]
enum KeySpan {
    /// No right row yet.
    #[default]
    Empty,
    Span(i64, i64),
    /// A key that is not an integer (a float equal to an integer would
    /// still match): no narrowing.
    Unknown,
}

impl KeySpan {
    fn add(&mut self, narrow: Option<usize>, key: &[Value]) {
        let Some(value) = narrow.and_then(|index| key.get(index)) else {
            return;
        };
        let value = match value {
            Value::SmallInt(_) | Value::Integer(_) | Value::BigInt(_) => {
                value.as_i64().expect("invariant: an integer value")
            }
            _ => {
                *self = KeySpan::Unknown;
                return;
            }
        };
        *self = match *self {
            KeySpan::Empty => KeySpan::Span(value, value),
            KeySpan::Span(low, high) => KeySpan::Span(low.min(value), high.max(value)),
            KeySpan::Unknown => KeySpan::Unknown,
        };
    }
}

impl HashJoin {
    /// See `Operator::reserve_width`.
    pub fn reserve_width(&mut self, width: usize) {
        if super::extends_left(self.spec.kind) {
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
    ) -> HashJoin {
        let (left_keys, right_keys): (Vec<Expr>, Vec<Expr>) = keys.into_iter().unzip();
        let narrow = match (left.as_scan(), kind) {
            (Some(scan), JoinKind::Inner | JoinKind::Semi | JoinKind::Right) => {
                left_keys.iter().position(|key| match key {
                    Expr::Slot(slot) => scan.leading_key_slot(*slot),
                    _ => false,
                })
            }
            _ => None,
        };
        HashJoin {
            left: Box::new(left),
            right: Box::new(right),
            narrow,
            spec: JoinSpec {
                kind,
                condition,
                left_width: widths.0,
                right_width: widths.1,
                left_keys,
                right_keys,
            },
            state: HashState::Build,
        }
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        let spec = &self.spec;
        loop {
            match &mut self.state {
                HashState::Build => {
                    let mut span = KeySpan::default();
                    self.state =
                        build_table(&mut self.right, spec, self.narrow, &mut span, context)?;
                    if self.narrow.is_some()
                        && let Some(scan) = self.left.as_scan_mut()
                    {
                        match span {
                            KeySpan::Empty => scan.narrow_leading_key(None)?,
                            KeySpan::Span(low, high) => {
                                scan.narrow_leading_key(Some((low, high)))?
                            }
                            KeySpan::Unknown => {}
                        }
                    }
                }
                HashState::Memory(probe) => {
                    let row =
                        probe.next(spec, &mut LeftInput::Operator(&mut self.left), context)?;
                    if row.is_none() {
                        self.state = HashState::Done;
                    }
                    return Ok(row);
                }
                HashState::Spilled(spilled) => {
                    if let Some((partitioner, _)) = &mut spilled.left {
                        while let Some(row) = self.left.next(context)? {
                            match spec.left_key(&row, context)? {
                                Some(key) => partitioner.push(&key, &row, 0)?,
                                // Invariant 2.
                                None => match spec.kind {
                                    JoinKind::Left | JoinKind::Full => {
                                        return Ok(Some(pad_right(row, spec.right_width)));
                                    }
                                    JoinKind::Anti => return Ok(Some(row)),
                                    _ => {}
                                },
                            }
                        }
                        let (partitioner, right) =
                            spilled.left.take().expect("invariant: checked above");
                        let left = partitioner.finish()?;
                        spilled.pairs = pairs(spec, right, left, 1, None);
                    }
                    if let Some(row) = spilled.next(spec, context)? {
                        return Ok(Some(row));
                    }
                    self.state = HashState::Done;
                }
                HashState::Done => return Ok(None),
            }
        }
    }
}

/// Reads the right input into a hash table, or into partitions once
/// the table outgrows `work_mem`.
fn build_table(
    right: &mut Operator,
    spec: &JoinSpec,
    narrow: Option<usize>,
    span: &mut KeySpan,
    context: &mut Context<'_>,
) -> Result<HashState> {
    // Hash tables may use `hash_mem` (work_mem × hash_mem_multiplier).
    let work_mem = context.hash_mem();
    let keep_null = spec.keeps_right();
    let mut table = HashBuild::new(spec.right_width);
    while let Some(row) = right.next(context)? {
        let key = spec.right_key(&row, context)?;
        if let Some(key) = &key {
            span.add(narrow, key);
        }
        table.insert(row, key, keep_null)?;
        if table.bytes + table.rows.spare_bytes() > work_mem {
            return spill_table(table, right, spec, narrow, span, context);
        }
    }
    Ok(HashState::Memory(Box::new(Probe::new(table.finish()))))
}

/// Moves the table's rows, and the rest of the right input, into
/// partitions of level 0.
fn spill_table(
    mut table: HashBuild,
    input: &mut Operator,
    spec: &JoinSpec,
    narrow: Option<usize>,
    span: &mut KeySpan,
    context: &mut Context<'_>,
) -> Result<HashState> {
    let space = context.spill_space();
    let fan_out = fan_out(context.hash_mem());
    let mut right = Partitioner::new(Arc::clone(&space), fan_out, 0);
    let mut null_right: Option<RowWriter> = None;
    for (key, key_rows) in std::mem::take(&mut table.table).into_pairs() {
        for index in table.chain(key_rows) {
            let row = table.rows.row(index);
            right.push(&key, row, entry_size(row, &key))?;
        }
    }
    for &index in &table.null_keys {
        let writer = match &mut null_right {
            Some(writer) => writer,
            None => null_right.insert(RowWriter::create(&space)?),
        };
        writer.write(table.rows.row(index), 0)?;
    }
    drop(table);
    while let Some(row) = input.next(context)? {
        match spec.right_key(&row, context)? {
            Some(key) => {
                span.add(narrow, &key);
                right.push(&key, &row, entry_size(&row, &key))?
            }
            None if spec.keeps_right() => {
                let writer = match &mut null_right {
                    Some(writer) => writer,
                    None => null_right.insert(RowWriter::create(&space)?),
                };
                writer.write(&row, 0)?;
            }
            None => {}
        }
    }
    let right = right.finish()?;
    Ok(HashState::Spilled(Box::new(Spilled {
        left: Some((Partitioner::new(space, fan_out, 0), right)),
        pairs: Vec::new(),
        active: None,
        null_right: null_right.map(RowWriter::finish).transpose()?,
        null_reader: None,
    })))
}

/// Pairs partition `i` of each side, leaving out pairs that cannot return
/// a row. `parent`: the right rows and `stuck` count of the pair these
/// partitions split (a partition holding all of its rows did not split).
fn pairs(
    spec: &JoinSpec,
    right: Vec<Option<RowFile>>,
    left: Vec<Option<RowFile>>,
    level: u32,
    parent: Option<(u64, u32)>,
) -> Vec<JoinPair> {
    right
        .into_iter()
        .zip(left)
        .filter(|(right, left)| match (right, left) {
            (Some(_), Some(_)) => true,
            (Some(_), None) => spec.keeps_right(),
            (None, Some(_)) => spec.keeps_left(),
            (None, None) => false,
        })
        .map(|(right, left)| {
            let stuck = match (&right, parent) {
                (Some(file), Some((rows, stuck))) if file.rows() == rows => stuck + 1,
                _ => 0,
            };
            JoinPair {
                right,
                left,
                level,
                stuck,
            }
        })
        .collect()
}

impl Spilled {
    /// The next row from the pairs, then from the NULL-keyed right rows.
    fn next(&mut self, spec: &JoinSpec, context: &mut Context<'_>) -> Result<Option<Row>> {
        loop {
            if let Some(active) = &mut self.active {
                let row = match active {
                    ActivePair::Hash { probe, left } => {
                        probe.next(spec, &mut left_input(left), context)?
                    }
                    ActivePair::Loop { block, left } => {
                        block.next(spec, &mut left_input(left), context)?
                    }
                };
                if row.is_some() {
                    return Ok(row);
                }
                self.active = None;
            }
            if let Some(pair) = self.pairs.pop() {
                self.active = start_pair(spec, pair, &mut self.pairs, context)?;
                continue;
            }
            if let Some(file) = self.null_right.take() {
                self.null_reader = Some(file.reader()?);
            }
            return match &mut self.null_reader {
                Some(reader) => Ok(reader
                    .next_row()?
                    .map(|row| pad_left(spec.left_width, &row))),
                None => Ok(None),
            };
        }
    }
}

fn left_input(reader: &mut Option<RowReader>) -> LeftInput<'_> {
    match reader {
        Some(reader) => LeftInput::File(reader),
        None => LeftInput::Empty,
    }
}

/// Starts joining a pair: in memory if its right rows fit, else split
/// into pairs of the next level (pushed on `pairs`; `None` returned), else
/// a block nested loop (invariant 3).
fn start_pair(
    spec: &JoinSpec,
    pair: JoinPair,
    pairs: &mut Vec<JoinPair>,
    context: &mut Context<'_>,
) -> Result<Option<ActivePair>> {
    let work_mem = context.hash_mem();
    let left = pair.left.as_ref().map(RowFile::reader).transpose()?;
    let Some(right) = pair.right else {
        let probe = Box::new(Probe::new(HashBuild::new(spec.right_width).finish()));
        return Ok(Some(ActivePair::Hash { probe, left }));
    };
    if right.bytes() <= work_mem {
        let mut table = HashBuild::new(spec.right_width);
        let mut reader = right.reader()?;
        while let Some(row) = reader.next_row()? {
            let key = spec.right_key(&row, context)?;
            table.insert(row, key, spec.keeps_right())?;
        }
        return Ok(Some(ActivePair::Hash {
            probe: Box::new(Probe::new(table.finish())),
            left,
        }));
    }
    if pair.stuck < 2 && pair.level < MAX_LEVEL {
        let space = context.spill_space();
        // Enough partitions for each to fit, with room for uneven keys.
        let fan_out = right
            .bytes()
            .div_ceil(work_mem.max(1))
            .saturating_mul(2)
            .clamp(MIN_FAN_OUT, fan_out(work_mem));
        let mut right_parts = Partitioner::new(Arc::clone(&space), fan_out, pair.level);
        let mut reader = right.reader()?;
        while let Some(row) = reader.next_row()? {
            // Keys were not NULL when the row was written; were one NULL now,
            // the row still lands in some pair and matches nothing there.
            let key = spec.right_key(&row, context)?.unwrap_or_default();
            right_parts.push(&key, &row, entry_size(&row, &key))?;
        }
        let mut left_parts = Partitioner::new(space, fan_out, pair.level);
        if let Some(mut reader) = left {
            while let Some(row) = reader.next_row()? {
                let key = spec.left_key(&row, context)?.unwrap_or_default();
                left_parts.push(&key, &row, 0)?;
            }
        }
        pairs.extend(self::pairs(
            spec,
            right_parts.finish()?,
            left_parts.finish()?,
            pair.level + 1,
            Some((right.rows(), pair.stuck)),
        ));
        return Ok(None);
    }
    Ok(Some(ActivePair::Loop {
        block: Box::new(BlockLoop::new(right, spec, true, work_mem)),
        left,
    }))
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::sql::execution::QueryState;
    use crate::sql::execution::join::NestedLoopJoin;
    use crate::sql::execution::spill::SpillSpace;
    use crate::sql::execution::spill::test_support::{drain, sort_rows, values};
    use crate::sql::expr::BinaryOp;
    use crate::sql::types::DataType;

    fn rows(start: usize, len: usize) -> Option<KeyRows> {
        Some(KeyRows { start, len })
    }

    #[test]
    fn integer_keys_find_equal_values_of_any_width_and_generalize_on_other_keys() {
        let mut index = KeyIndex::default();
        assert_eq!(
            index.add(vec![Value::Integer(5)], 0),
            (None, 8 + 16 + ENTRY_OVERHEAD)
        );
        assert_eq!(
            index.add(vec![Value::BigInt(5)], 1),
            (Some(0), 0),
            "5 and 5 are one key"
        );
        assert_eq!(index.add(vec![Value::SmallInt(-3)], 2).0, None);
        assert!(matches!(index, KeyIndex::Integers(_)));
        assert_eq!(index.get(&[Value::BigInt(-3)]), rows(2, 1));
        assert_eq!(index.get(&[Value::Integer(4)]), None);
        // A float probe: the general map, which compares by value.
        assert_eq!(index.get(&[Value::Double(5.0)]), rows(1, 2));
        assert!(matches!(index, KeyIndex::Rows(_)));
        assert_eq!(index.get(&[Value::Double(5.5)]), None);
        assert_eq!(index.get(&[Value::Integer(-3)]), rows(2, 1));
        // Text and two-column keys take the general map from the start.
        let mut index = KeyIndex::default();
        index.add(vec![Value::Integer(1)], 0);
        index.add(vec![Value::Text("a".into())], 1);
        assert!(matches!(index, KeyIndex::Rows(_)));
        assert_eq!(index.get(&[Value::Integer(1)]), rows(0, 1));
        assert_eq!(index.get(&[Value::Text("a".into())]), rows(1, 1));
        let mut pairs = index.into_pairs();
        pairs.sort_by_key(|(_, rows)| rows.start);
        assert_eq!(
            pairs,
            vec![
                (vec![Value::BigInt(1)], KeyRows { start: 0, len: 1 }),
                (vec![Value::Text("a".into())], KeyRows { start: 1, len: 1 })
            ]
        );
    }

    #[test]
    fn dense_integer_keys_become_an_array_that_answers_as_the_map_did() {
        let mut index = KeyIndex::default();
        for (row, key) in [10, 12, 11, 15, 12].into_iter().enumerate() {
            index.add(vec![Value::Integer(key)], row);
        }
        index.densify();
        let KeyIndex::Dense { low, rows: slots } = &index else {
            panic!("keys 10..=15 are dense");
        };
        assert_eq!((*low, slots.len()), (10, 6));
        assert_eq!(index.get(&[Value::BigInt(12)]), rows(4, 2));
        assert_eq!(index.get(&[Value::SmallInt(15)]), rows(3, 1));
        for absent in [9, 13, 14, 16, i64::MIN, i64::MAX] {
            assert_eq!(index.get(&[Value::BigInt(absent)]), None, "{absent}");
        }
        // A float probe turns it into the general map, keys intact.
        assert_eq!(index.get(&[Value::Double(11.0)]), rows(2, 1));
        assert!(matches!(index, KeyIndex::Rows(_)));
        assert_eq!(index.get(&[Value::Integer(10)]), rows(0, 1));
        // Sparse keys, and keys spanning the whole i64 range, stay a map.
        for keys in [vec![1, 1_000], vec![i64::MIN, i64::MAX]] {
            let mut index = KeyIndex::default();
            for (row, key) in keys.iter().enumerate() {
                index.add(vec![Value::BigInt(*key)], row);
            }
            index.densify();
            assert!(matches!(index, KeyIndex::Integers(_)), "{keys:?}");
            assert_eq!(index.get(&[Value::BigInt(keys[1])]), rows(1, 1));
        }
    }

    #[test]
    fn a_built_table_holds_each_keys_rows_together_in_arrival_order() {
        let key = |value: i32| Some(vec![Value::Integer(value)]);
        let mut build = HashBuild::new(2);
        let arrivals = [(7, 0), (3, 1), (7, 2), (9, 3), (3, 4), (7, 5)];
        for (value, number) in arrivals {
            build
                .insert(
                    vec![Value::Integer(value), Value::BigInt(number)],
                    key(value),
                    true,
                )
                .expect("the row has the table's width");
        }
        build
            .insert(vec![Value::Null, Value::BigInt(6)], None, true)
            .expect("a NULL key is kept for RIGHT and FULL joins");
        build
            .insert(vec![Value::Null, Value::BigInt(7)], None, false)
            .expect("a NULL key is dropped otherwise");
        assert!(
            build
                .insert(vec![Value::Integer(1)], key(1), false)
                .is_err(),
            "a row of another width would shift the rows after it"
        );
        assert_eq!(build.chain(KeyRows { start: 5, len: 3 }), vec![0, 2, 5]);
        let mut table = build.finish();
        assert_eq!(table.rows.len(), 7);
        let numbers = |table: &mut HashTable, value: i32| -> Vec<i64> {
            let rows = table
                .table
                .get(&[Value::Integer(value)])
                .expect("a key of the table");
            rows.range()
                .map(|index| table.rows.row(index)[1].as_i64().expect("an integer"))
                .collect()
        };
        assert_eq!(numbers(&mut table, 7), vec![0, 2, 5]);
        assert_eq!(numbers(&mut table, 3), vec![1, 4]);
        assert_eq!(numbers(&mut table, 9), vec![3]);
        assert!(table.table.get(&[Value::Integer(4)]).is_none());
        // The NULL-keyed row comes after every key's rows.
        assert_eq!(table.rows.row(6)[1].as_i64(), Some(6));
        assert!(table.rows.row(6)[0].is_null());
    }

    const KINDS: [JoinKind; 6] = [
        JoinKind::Inner,
        JoinKind::Left,
        JoinKind::Right,
        JoinKind::Full,
        JoinKind::Semi,
        JoinKind::Anti,
    ];

    fn binary(op: BinaryOp, left: Expr, right: Expr, data_type: DataType) -> Expr {
        Expr::Binary {
            op,
            left: Box::new(left),
            right: Box::new(right),
            data_type,
        }
    }

    /// `left.n % 3 <> right.m % 2`: a residual condition that rejects
    /// some key matches.
    fn condition() -> Expr {
        let modulo = |slot, m| {
            binary(
                BinaryOp::Modulo,
                Expr::Slot(slot),
                Expr::Literal(Value::BigInt(m)),
                DataType::BigInt,
            )
        };
        binary(
            BinaryOp::NotEqual,
            modulo(1, 3),
            modulo(4, 2),
            DataType::Boolean,
        )
    }

    /// `(k integer, n bigint, text)`; keys `0..keys`, NULL every 50th.
    fn left_rows(n: i64, keys: i64) -> Vec<Row> {
        (0..n)
            .map(|i| {
                vec![
                    if i % 50 == 49 {
                        Value::Null
                    } else {
                        Value::Integer(((i * 7) % keys) as i32)
                    },
                    Value::BigInt(i),
                    Value::Text(format!("left {i}").into()),
                ]
            })
            .collect()
    }

    /// `(k bigint, m bigint, text)`; keys from 100 on (so some left keys
    /// have no match), NULL every 40th, and `skew` more rows of key 7.
    fn right_rows(n: i64, keys: i64, skew: i64) -> Vec<Row> {
        (0..n + skew)
            .map(|i| {
                let key = if i >= n {
                    Value::BigInt(7)
                } else if i % 40 == 39 {
                    Value::Null
                } else {
                    Value::BigInt((i * 3) % keys + 100)
                };
                vec![
                    key,
                    Value::BigInt(i),
                    Value::Text(format!("right {i}").into()),
                ]
            })
            .collect()
    }

    enum Strategy {
        Hash,
        NestedLoop,
    }

    /// The join's rows, sorted, and whether it spilled.
    fn join(
        strategy: &Strategy,
        kind: JoinKind,
        left: &[Row],
        right: &[Row],
        work_mem: usize,
    ) -> (Vec<Row>, bool) {
        let space = SpillSpace::temporary();
        let mut state = QueryState::new(Vec::new(), work_mem).with_spill_space(Arc::clone(&space));
        let mut context = Context::new(None, &mut state);
        let (left, right) = (values(left.to_vec()), values(right.to_vec()));
        let operator = match strategy {
            Strategy::Hash => Operator::HashJoin(HashJoin::new(
                left,
                right,
                kind,
                vec![(Expr::Slot(0), Expr::Slot(0))],
                Some(condition()),
                (3, 3),
            )),
            Strategy::NestedLoop => {
                let equal = binary(
                    BinaryOp::Equal,
                    Expr::Slot(0),
                    Expr::Slot(3),
                    DataType::Boolean,
                );
                Operator::NestedLoopJoin(NestedLoopJoin::new(
                    left,
                    right,
                    kind,
                    Some(Expr::And(Box::new(equal), Box::new(condition()))),
                    (3, 3),
                ))
            }
        };
        let (mut rows, spilled) = drain(&space, &mut context, operator, Operator::next);
        sort_rows(&mut rows);
        (rows, spilled)
    }

    #[test]
    fn a_spilling_hash_join_of_every_kind_equals_the_in_memory_one() {
        // 2 MB of right rows against 64 kB: partitions of partitions, and
        // key 7's 1,500 rows cannot be split (the nested loop fallback).
        let left = left_rows(10_000, 700);
        let right = right_rows(10_000, 1000, 1_500);
        for kind in KINDS {
            let (expected, spilled) = join(&Strategy::Hash, kind, &left, &right, 1 << 30);
            assert!(!spilled);
            let (rows, spilled) = join(&Strategy::Hash, kind, &left, &right, 64 * 1024);
            assert!(spilled, "{kind:?}");
            assert_eq!(rows.len(), expected.len(), "{kind:?}");
            assert!(rows == expected, "{kind:?}: rows differ");
        }
    }

    #[test]
    fn hash_and_nested_loop_joins_agree_in_memory_and_spilled() {
        let left = left_rows(600, 300);
        let right = right_rows(800, 400, 300);
        for kind in KINDS {
            let (expected, _) = join(&Strategy::Hash, kind, &left, &right, 1 << 30);
            assert!(!expected.is_empty());
            let (in_memory, spilled) = join(&Strategy::NestedLoop, kind, &left, &right, 1 << 30);
            assert!(!spilled);
            assert!(in_memory == expected, "{kind:?}: nested loop differs");
            let (blocks, spilled) = join(&Strategy::NestedLoop, kind, &left, &right, 64 * 1024);
            assert!(spilled, "{kind:?}");
            assert!(blocks == expected, "{kind:?}: block nested loop differs");
        }
    }

    #[test]
    fn a_hash_join_on_one_key_falls_back_to_a_nested_loop() {
        // Every right row has key 7: no partitioning can split them.
        let left = left_rows(300, 10);
        let right = right_rows(0, 1, 5_000);
        for kind in KINDS {
            let (expected, _) = join(&Strategy::Hash, kind, &left, &right, 1 << 30);
            let (rows, spilled) = join(&Strategy::Hash, kind, &left, &right, 64 * 1024);
            assert!(spilled);
            assert!(rows == expected, "{kind:?}");
        }
        let (inner, _) = join(&Strategy::Hash, JoinKind::Inner, &left, &right, 64 * 1024);
        // 30 left rows have key 7 (one is NULL instead), each meets the
        // 5,000 rows, a third to a half rejected by the condition.
        assert!(inner.len() > 50_000, "{}", inner.len());
    }
}
