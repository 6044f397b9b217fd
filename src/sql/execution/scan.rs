//! Table access: a whole table, a primary-key range, one key, or the rows
//! a secondary index lists (`index_scan.rs`); all but a single key in key
//! (index) order or, `backward`, its reverse: the ranges in reverse order,
//! each read backward.
//!
//! The access path's expressions (key values, range bounds) are evaluated
//! once, when the first row is pulled, then converted to key bytes. A key
//! value that is NULL matches no row (no key equals NULL). A full or range
//! scan streams through an [`MvccScan`]; the scan registers its read range
//! with SSI when it opens, so a transaction's reads are exactly the ranges
//! its scans opened.
//!
//! A scan with a projection (the `prune` rule's, fused into the scan when
//! operators are built) decodes only the columns it returns or its filter
//! reads, into a buffer reused for every row, and returns a row of just the
//! projected columns.

use std::ops::Bound;
use std::sync::Arc;

use super::context::Context;
use super::index_scan;
use super::read_ahead::{READ_AHEAD_AFTER, ReadAhead};
use crate::error::{Error, Result};
use crate::sql::catalog::Table;
use crate::sql::encoding::{decode_row_into, decode_row_prefix_into, encode_key, encode_key_value};
use crate::sql::expr::{Expr, cast};
use crate::sql::plan::{Access, KeyEquality, is_single_key};
use crate::sql::types::{DataType, Row, Value};
use crate::storage::{Direction, KeyRange, TreeId};
use crate::txn::MvccScan;

/// Reads a table's rows (with their storage keys, for DML).
pub struct ScanOperator {
    table: Arc<Table>,
    access: Access,
    filter: Option<Expr>,
    projection: Option<Projection>,
    /// A full scan narrowed before it opened to the keys whose leading
    /// column lies in a span (see [`ScanOperator::narrow_leading_key`]).
    narrowed: Option<KeyRange>,
    /// The storage key and stored row read last, and the row being
    /// decoded: buffers reused from row to row.
    key: Vec<u8>,
    bytes: Vec<u8>,
    decoded: Row,
    /// The index entry read last (an index access's).
    entry: Vec<u8>,
    /// Rows read from storage since the scan opened.
    rows_read: usize,
    /// Values each returned row has room for (`Operator::reserve_width`).
    row_capacity: usize,
    /// Whether the caller wants storage keys (DML), so the scan decodes
    /// them; it never reads ahead then.
    keyed: bool,
    /// Whether the scan parks instead of reading ahead, for its consumer
    /// to split the rest among workers (`parallel_aggregate.rs`).
    parks: bool,
    /// The end of the key range being read (forward full and range
    /// scans): where the rest of a parked scan ends.
    end: Bound<Vec<u8>>,
    state: ScanState,
}

/// The rest of a parked scan: the MVCC scan, positioned after the last
/// row returned, and the key range it still covers (to read it again from
/// the start, `ScanOperator::restart`).
pub(super) struct Parked {
    pub scan: Box<MvccScan>,
    pub rest: KeyRange,
}

/// What a scan's rows become outside its operator, for workers that read
/// a parked scan's rest: which columns to decode, the filter (against the
/// decoded row) and the columns returned.
#[derive(Clone)]
pub(super) struct RowShape {
    pub decode: Option<Vec<bool>>,
    pub filter: Option<Expr>,
    pub positions: Option<Vec<usize>>,
}

/// The table columns a scan returns, by position, and which columns it
/// decodes (those and the ones its filter reads).
pub struct Projection {
    positions: Vec<usize>,
    decode: Vec<bool>,
}

impl Projection {
    /// Returns the columns at `positions`; `filter`, if any, reads the
    /// table row (compiled against all of the table's columns).
    pub fn new(positions: Vec<usize>, width: usize, filter: Option<&Expr>) -> Projection {
        let mut decode = vec![false; width];
        for &position in &positions {
            decode[position] = true;
        }
        if let Some(filter) = filter {
            filter.walk(&mut |expr| match expr {
                Expr::Slot(slot) => {
                    if let Some(flag) = decode.get_mut(*slot) {
                        *flag = true;
                    }
                }
                // A subquery's parameters may read any column.
                Expr::Subquery(_) => decode.fill(true),
                _ => {}
            });
        }
        Projection { positions, decode }
    }
}

/// What one step of a scan has for the row it produces next.
enum Stored<'a> {
    /// A stored row, to decode.
    Bytes(&'a [u8]),
    /// A row's values, decoded by a read-ahead worker.
    Decoded(&'a mut [Value]),
    /// A row's values, decoded from a covering index entry into the
    /// scan's `decoded` buffer.
    Covered,
}

enum ScanState {
    /// Not opened yet.
    Ready,
    /// Streaming a key range, then the ranges still to read (the key
    /// prefixes of an IN-list), the next at the end.
    Scanning(Box<MvccScan>, Vec<KeyRange>),
    /// Streaming a key range through a worker (`read_ahead.rs`).
    ReadAhead(ReadAhead),
    /// Stopped for the consumer to take the rest ([`ScanOperator::parks`]);
    /// returns no rows unless resumed.
    Parked(Box<MvccScan>),
    /// Streaming the entries of a secondary index, then the ranges still
    /// to read (an IN-list's), the next at the end.
    Index(Box<MvccScan>, index_scan::EntryReader, Vec<KeyRange>),
    /// A key lookup: whether it found a row not returned yet (its key
    /// and stored row are in the scan's buffers).
    Single(bool),
    /// Lookups of several keys (an IN-list's): the keys still to look
    /// up, the next at the end.
    Keys(Vec<Vec<u8>>),
    Done,
}

impl ScanOperator {
    pub fn new(
        table: Arc<Table>,
        access: Access,
        filter: Option<Expr>,
        projection: Option<Projection>,
    ) -> ScanOperator {
        ScanOperator {
            table,
            access,
            filter,
            projection,
            narrowed: None,
            key: Vec::new(),
            bytes: Vec::new(),
            decoded: Vec::new(),
            entry: Vec::new(),
            rows_read: 0,
            row_capacity: 0,
            keyed: false,
            parks: false,
            end: Bound::Unbounded,
            state: ScanState::Ready,
        }
    }

    /// Makes a forward full or key-range scan that has not opened stop
    /// after [`READ_AHEAD_AFTER`] stored rows, instead of reading ahead,
    /// for its consumer to take the rest ([`ScanOperator::take_parked`]);
    /// `false` (and nothing changes) for any other scan.
    pub(super) fn park_after_read_ahead_rows(&mut self) -> bool {
        let forward = matches!(
            self.access,
            Access::Full { backward: false }
                | Access::Range {
                    backward: false,
                    ..
                }
        );
        if !forward || !matches!(self.state, ScanState::Ready) || self.keyed {
            return false;
        }
        // Keys are tracked to know where the rest starts.
        self.keyed = true;
        self.parks = true;
        true
    }

    /// The rest of the scan, if it parked.
    pub(super) fn take_parked(&mut self) -> Option<Parked> {
        let scan = match std::mem::replace(&mut self.state, ScanState::Done) {
            ScanState::Parked(scan) => scan,
            other => {
                self.state = other;
                return None;
            }
        };
        let rest = KeyRange {
            start: Bound::Excluded(self.key.clone()),
            end: self.end.clone(),
        };
        Some(Parked { scan, rest })
    }

    /// Goes on with a parked scan's rest here, row by row.
    pub(super) fn resume(&mut self, scan: Box<MvccScan>) {
        self.parks = false;
        self.state = ScanState::Scanning(scan, Vec::new());
    }

    /// Reads `rest` (a parked scan's, whose rows were not used) here, row
    /// by row: the same rows again, under the statement's snapshot.
    pub(super) fn restart(&mut self, rest: KeyRange, context: &mut Context<'_>) -> Result<()> {
        self.parks = false;
        let scan = context
            .transaction()?
            .scan(self.table.tree, rest, Direction::Forward);
        self.state = ScanState::Scanning(Box::new(scan), Vec::new());
        Ok(())
    }

    /// The tree the scan reads.
    pub(super) fn tree(&self) -> TreeId {
        self.table.tree
    }

    /// How the scan makes its rows from stored ones.
    pub(super) fn row_shape(&self) -> RowShape {
        RowShape {
            decode: self.projection.as_ref().map(|p| p.decode.clone()),
            filter: self.filter.clone(),
            positions: self.projection.as_ref().map(|p| p.positions.clone()),
        }
    }

    /// Makes each returned row's block hold `width` values (at least), for
    /// the joins above to append to (`Operator::reserve_width`).
    pub fn reserve_width(&mut self, width: usize) {
        self.row_capacity = self.row_capacity.max(width);
    }

    /// Makes the scan start over at its next row: the access path is
    /// evaluated again (with the parameter frame of that call), so a key
    /// lookup under a parameterized join serves the next left row without
    /// being built again.
    pub fn rewind(&mut self) {
        self.narrowed = None;
        self.rows_read = 0;
        self.state = ScanState::Ready;
    }

    /// Whether this is a full scan, not opened yet, of a table whose primary
    /// key leads with an integer column, and returns that column at `slot`.
    pub fn leading_key_slot(&self, slot: usize) -> bool {
        let position = match &self.projection {
            Some(projection) => projection.positions.get(slot).copied(),
            None => Some(slot),
        };
        matches!(self.access, Access::Full { .. })
            && matches!(self.state, ScanState::Ready)
            && position.is_some()
            && position == self.table.primary_key.first().copied()
            && matches!(
                self.table.columns[self.table.primary_key[0]].data_type,
                DataType::SmallInt | DataType::Integer | DataType::BigInt
            )
    }

    /// Narrows a full scan that has not opened yet to the rows whose
    /// leading key column lies in `span` (inclusive), or to no rows. The
    /// caller knows no other row can matter to it (a hash join's probe
    /// side: rows outside its table's key span match nothing). The scan
    /// then reads, and registers with SSI, only that key range.
    pub fn narrow_leading_key(&mut self, span: Option<(i64, i64)>) -> Result<()> {
        debug_assert!(matches!(self.state, ScanState::Ready));
        let Some((low, high)) = span else {
            self.state = ScanState::Done;
            return Ok(());
        };
        let start = encode_key(&[Value::BigInt(low)])?;
        let end = match high.checked_add(1) {
            Some(next) => Bound::Excluded(encode_key(&[Value::BigInt(next)])?),
            None => Bound::Unbounded,
        };
        self.narrowed = Some(KeyRange {
            start: Bound::Included(start),
            end,
        });
        Ok(())
    }

    /// The next row that passes the filter, with its storage key.
    pub fn next_keyed(&mut self, context: &mut Context<'_>) -> Result<Option<(Vec<u8>, Row)>> {
        self.keyed = true;
        let row = self.next(context)?;
        Ok(row.map(|row| (self.key.clone(), row)))
    }

    /// The next row that passes the filter; its storage key is left in
    /// `self.key` when `self.keyed`.
    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        if matches!(self.state, ScanState::Ready) {
            self.state = self.open(context)?;
        }
        loop {
            // The stored row read here, or the values of a row decoded
            // already (by a read-ahead worker, or from a covering entry).
            let stored = match &mut self.state {
                ScanState::Ready | ScanState::Done | ScanState::Parked(_) => return Ok(None),
                ScanState::Single(found) => {
                    if !std::mem::take(found) {
                        self.state = ScanState::Done;
                        return Ok(None);
                    }
                    Stored::Bytes(&self.bytes)
                }
                ScanState::Scanning(scan, pending) => {
                    let more = match self.keyed {
                        true => scan.next_into(&mut self.key, &mut self.bytes)?,
                        false => scan.next_row(&mut self.bytes)?,
                    };
                    if !more {
                        let Some(range) = pending.pop() else {
                            self.state = ScanState::Done;
                            return Ok(None);
                        };
                        let direction = scan_direction(self.access.backward());
                        **scan = context
                            .transaction()?
                            .scan(self.table.tree, range, direction);
                        continue;
                    }
                    self.rows_read += 1;
                    if self.rows_read == READ_AHEAD_AFTER {
                        if self.parks {
                            self.park();
                        } else if !self.keyed {
                            self.read_ahead(context);
                        }
                    }
                    Stored::Bytes(&self.bytes)
                }
                ScanState::Keys(keys) => {
                    let Some(key) = keys.pop() else {
                        self.state = ScanState::Done;
                        return Ok(None);
                    };
                    self.key = key;
                    if !context.transaction()?.get_into(
                        self.table.tree,
                        &self.key,
                        &mut self.bytes,
                    )? {
                        continue;
                    }
                    Stored::Bytes(&self.bytes)
                }
                ScanState::Index(scan, entries, pending) => {
                    let Access::Index(access) = &self.access else {
                        return Err(Error::Internal("an index scan without its access".into()));
                    };
                    if !scan.next_into(&mut self.entry, &mut self.bytes)? {
                        match pending.pop() {
                            Some(range) => {
                                let tree = index_scan::index_of(&self.table, access)?.tree;
                                let direction = scan_direction(access.backward);
                                **scan = context.transaction()?.scan(tree, range, direction);
                            }
                            None => self.state = ScanState::Done,
                        }
                        continue;
                    }
                    let index = index_scan::index_of(&self.table, access)?;
                    if access.covering {
                        entries.covered_row(&self.table, &self.entry, &mut self.decoded)?;
                        Stored::Covered
                    } else {
                        // The row the entry was written with: visible to every
                        // snapshot that sees the entry (`txn/index.rs`).
                        let start = entries.row_key_start(&self.entry)?;
                        self.key.clear();
                        self.key.extend_from_slice(&self.entry[start..]);
                        if !context.transaction()?.get_into(
                            self.table.tree,
                            &self.key,
                            &mut self.bytes,
                        )? {
                            return Err(Error::Internal(format!(
                                "index {} lists a row its table does not show",
                                index.name
                            )));
                        }
                        Stored::Bytes(&self.bytes)
                    }
                }
                ScanState::ReadAhead(read_ahead) => {
                    // Decoded by the worker (read-ahead invariant 2).
                    let Some(values) = read_ahead.next()? else {
                        self.state = ScanState::Done;
                        return Ok(None);
                    };
                    Stored::Decoded(values)
                }
            };
            let (projection, filter) = (self.projection.as_ref(), self.filter.as_ref());
            let row = match stored {
                Stored::Bytes(bytes) => produce_row(
                    bytes,
                    projection,
                    filter,
                    &mut self.decoded,
                    self.row_capacity,
                    context,
                )?,
                Stored::Decoded(values) => {
                    finish_row(values, projection, filter, self.row_capacity, context)?
                }
                Stored::Covered => finish_row(
                    &mut self.decoded,
                    projection,
                    filter,
                    self.row_capacity,
                    context,
                )?,
            };
            if row.is_some() {
                return Ok(row);
            }
        }
    }

    /// Hands the rest of the scan's storage reads to a worker, if the query
    /// allows it and there is a place for one (`read_ahead.rs`). The row
    /// just read is still processed here.
    fn read_ahead(&mut self, context: &mut Context<'_>) {
        let Some(slot) = context.read_ahead_slot() else {
            return;
        };
        // A worker takes one range: not while others are still to read.
        let scan = match std::mem::replace(&mut self.state, ScanState::Done) {
            ScanState::Scanning(scan, pending) if pending.is_empty() => scan,
            other => {
                self.state = other;
                return;
            }
        };
        let decode = self.projection.as_ref().map(|p| p.decode.clone());
        self.state = match ReadAhead::start(scan, slot, decode) {
            Ok(read_ahead) => ScanState::ReadAhead(read_ahead),
            Err(scan) => ScanState::Scanning(scan, Vec::new()),
        };
    }

    /// Parks the scan after the row just read (still processed here).
    fn park(&mut self) {
        self.state = match std::mem::replace(&mut self.state, ScanState::Done) {
            ScanState::Scanning(scan, pending) if pending.is_empty() => ScanState::Parked(scan),
            other => other,
        };
    }

    fn open(&mut self, context: &mut Context<'_>) -> Result<ScanState> {
        let tree = self.table.tree;
        let direction = scan_direction(self.access.backward());
        match &self.access {
            Access::Full { .. } => {
                let range = self.narrowed.take().unwrap_or_else(KeyRange::all);
                self.end = range.end.clone();
                let scan = context.transaction()?.scan(tree, range, direction);
                Ok(ScanState::Scanning(Box::new(scan), Vec::new()))
            }
            Access::Key { key, backward } if !is_single_key(&self.table, key) => {
                let table = &self.table;
                if key.len() > table.primary_key.len() {
                    return Err(Error::Internal("a key access past the key".into()));
                }
                let mut keys = index_scan::equality_prefixes(
                    key,
                    |position| table.columns[table.primary_key[position]].data_type,
                    |_, value, bytes| encode_key_value(value, bytes),
                    context,
                )?;
                // Popped from the end: forward reads the first key first,
                // backward the last.
                if !backward {
                    keys.reverse();
                }
                if key.len() == table.primary_key.len() {
                    return Ok(ScanState::Keys(keys));
                }
                // Each column's encoding is prefix-free, so a prefix's
                // keys are exactly the bytes it starts.
                let mut ranges: Vec<KeyRange> =
                    keys.iter().map(|prefix| KeyRange::prefix(prefix)).collect();
                let Some(range) = ranges.pop() else {
                    return Ok(ScanState::Done);
                };
                let scan = context.transaction()?.scan(tree, range, direction);
                Ok(ScanState::Scanning(Box::new(scan), ranges))
            }
            Access::Key { key, .. } => {
                // Into the reused buffers: a key lookup under a join runs
                // once per left row.
                self.key.clear();
                for (value, column) in key.iter().zip(&self.table.primary_key) {
                    let KeyEquality::Value(expr) = value else {
                        return Err(Error::Internal("a key lookup of NULL".into()));
                    };
                    match key_value(expr, self.table.columns[*column].data_type, context)? {
                        Some(value) => encode_key_value(&value, &mut self.key)?,
                        None => return Ok(ScanState::Done),
                    }
                }
                let found = context
                    .transaction()?
                    .get_into(tree, &self.key, &mut self.bytes)?;
                Ok(ScanState::Single(found))
            }
            Access::Index(access) => {
                let mut ranges = index_scan::entry_ranges(&self.table, access, context)?;
                // Popped from the end: forward reads the first range first.
                if !access.backward {
                    ranges.reverse();
                }
                let Some(range) = ranges.pop() else {
                    return Ok(ScanState::Done);
                };
                let index = index_scan::index_of(&self.table, access)?;
                let reader = index_scan::EntryReader::new(&self.table, index);
                let scan = context.transaction()?.scan(index.tree, range, direction);
                Ok(ScanState::Index(Box::new(scan), reader, ranges))
            }
            Access::Range { start, end, .. } => {
                let data_type = self
                    .table
                    .primary_key
                    .first()
                    .map(|c| self.table.columns[*c].data_type)
                    .ok_or_else(|| Error::Internal("key range without a key".into()))?;
                let (Some(start), Some(end)) = (
                    key_bound(start, data_type, context)?,
                    key_bound(end, data_type, context)?,
                ) else {
                    return Ok(ScanState::Done);
                };
                let range = KeyRange { start, end };
                if range.is_empty() {
                    return Ok(ScanState::Done);
                }
                self.end = range.end.clone();
                let scan = context.transaction()?.scan(tree, range, direction);
                Ok(ScanState::Scanning(Box::new(scan), Vec::new()))
            }
        }
    }
}

fn scan_direction(backward: bool) -> Direction {
    match backward {
        true => Direction::Backward,
        false => Direction::Forward,
    }
}

/// Evaluates a key expression and converts it to the column's type; `None`
/// if it is NULL (no key can equal NULL).
pub(super) fn key_value(
    expr: &Expr,
    data_type: DataType,
    context: &mut Context<'_>,
) -> Result<Option<Value>> {
    let value = expr.evaluate(&[], context)?;
    if value.is_null() {
        return Ok(None);
    }
    // Integers encode width-independently and floats as f64, so only the
    // family matters; text needs no conversion.
    Ok(Some(match (data_type, &value) {
        (DataType::Real | DataType::Double, v) if v.as_i64().is_some() => {
            cast(value, DataType::Double)?
        }
        (DataType::Numeric(_), v) if v.as_i64().is_some() => cast(value, DataType::Numeric(None))?,
        _ => value,
    }))
}

/// A range bound as key bytes; `None` if its value is NULL (the range is
/// empty then).
fn key_bound(
    bound: &Bound<Expr>,
    data_type: DataType,
    context: &mut Context<'_>,
) -> Result<Option<Bound<Vec<u8>>>> {
    Ok(Some(match bound {
        Bound::Unbounded => Bound::Unbounded,
        Bound::Included(expr) | Bound::Excluded(expr) => {
            let Some(value) = key_value(expr, data_type, context)? else {
                return Ok(None);
            };
            let key = encode_key(&[value])?;
            if matches!(bound, Bound::Included(_)) {
                Bound::Included(key)
            } else {
                Bound::Excluded(key)
            }
        }
    }))
}

/// What a scan makes of one stored row: decoded (only the columns the
/// projection needs), filtered, projected into a row with room for
/// `capacity` values; `None` if the filter rejects it. Rows from a
/// read-ahead worker, decoded there, go through its second half,
/// [`finish_row`] (read-ahead invariant 2).
pub(super) fn produce_row(
    bytes: &[u8],
    projection: Option<&Projection>,
    filter: Option<&Expr>,
    decoded: &mut Row,
    capacity: usize,
    context: &mut Context<'_>,
) -> Result<Option<Row>> {
    let Some(projection) = projection else {
        // The whole decoded row is the result: its buffer, with the room,
        // is handed over.
        decoded.reserve(capacity);
        decode_row_into(bytes, None, decoded)?;
        if let Some(filter) = filter
            && !filter.is_true(decoded, context)?
        {
            return Ok(None);
        }
        return Ok(Some(std::mem::take(decoded)));
    };
    // Without the NULLs after the last wanted column: the filter reads only
    // wanted columns, and `project_into` reads a missing one as NULL.
    decode_row_prefix_into(bytes, Some(&projection.decode), decoded)?;
    finish_row(decoded, Some(projection), filter, capacity, context)
}

/// What a scan makes of a decoded row: filtered, then projected (its
/// values moved out) into a row with room for `capacity` values; `None`
/// if the filter rejects it.
pub(super) fn finish_row(
    decoded: &mut [Value],
    projection: Option<&Projection>,
    filter: Option<&Expr>,
    capacity: usize,
    context: &mut Context<'_>,
) -> Result<Option<Row>> {
    if let Some(filter) = filter
        && !filter.is_true(decoded, context)?
    {
        return Ok(None);
    }
    let width = projection.map_or(decoded.len(), |p| p.positions.len());
    let mut row = Vec::with_capacity(width.max(capacity));
    project_into(
        decoded,
        projection.map(|p| p.positions.as_slice()),
        &mut row,
    );
    Ok(Some(row))
}

/// Appends to `row` the decoded values at `positions` (all of them if
/// `None`), moved out; a position past the decoded values is NULL.
pub(super) fn project_into(decoded: &mut [Value], positions: Option<&[usize]>, row: &mut Row) {
    match positions {
        Some(positions) => row.extend(
            positions
                .iter()
                .map(|&position| decoded.get_mut(position).map_or(Value::Null, Value::take)),
        ),
        None => row.extend(decoded.iter_mut().map(Value::take)),
    }
}
