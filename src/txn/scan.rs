//! [`MvccScan`]: the visible `(user key, value)` pairs of a key range, as
//! one transaction's snapshot sees them.
//!
//! The engine returns every version of every key in the range, in engine
//! key order: a key's versions are adjacent and ordered by stamp, oldest
//! first (`mvcc.rs`). A forward scan keeps the last visible version of
//! each group; a backward scan meets the newest first, so the first
//! visible one decides the key and the rest of its history is skipped:
//!
//! ```text
//!   engine order:  a@3 a@7 a@9 │ b@2 b@8 │ c@5        snapshot sees 3, 2, 5, 7
//!   forward:       a = a@7       b = b@2   c = c@5   (a@9, b@8 invisible)
//! ```
//!
//! Garbage collection may remove versions while a scan runs (`gc.rs`). A
//! backward scan cannot be misled: it meets the version that decides a key
//! (the collector's base or newer) before anything removable below it. A
//! forward scan can: it may read a row, then find the deletion that hid it
//! gone together with the row, when the collector removed both in between
//! (gc invariant 5). So a forward scan marks the collector's removals of
//! deletions around each engine fetch, and decides a key whose versions it
//! read while such a removal may have run afresh, from its versions read
//! newest first:
//!
//! ```text
//!   batch 1 ends:  … g@4 │ h@5 (row)      ← scan holds h's row
//!   collector:            remove h@5, then h@6 (the deletion, base for all)
//!   batch 2:              i@7            ← h@6 never met: h looked alive
//!   so:            a removal overlapped h's group → read h newest first → gone
//! ```
//!
//! A scan reads with the snapshot of the statement that opened it, which
//! it holds as a `PinnedSnapshot` for as long as it lives: the snapshot's
//! versions stay (mvcc invariant 6) while later statements of its
//! transaction take newer snapshots, as when a client's portal keeps a
//! cursor open across them. Holding it costs the scan nothing per row.
//!
//! A SERIALIZABLE reader reports each invisible version of a concurrent,
//! not aborted writer to SSI once per writer (an rw-antidependency,
//! `ssi.rs`). Entries come from the engine through a storage `Cursor`, in
//! batches that double from 8 up to `SCAN_BATCH`, so a point read costs
//! one small batch.

use std::ops::Bound;
use std::sync::Arc;

use super::commit_log::STATUS_ABORTED;
use super::gc::{RemovalMark, Removals};
use super::mvcc::{
    Mvcc, PinnedSnapshot, Transaction, TxnId, decode_key_into, escape_key_into, split_version,
    version_row, version_writer, versioned, visible,
};
use crate::error::{Error, Result};
use crate::storage::{Cursor, Direction, EntryBatch, KeyRange, TreeId};

/// An iterator over the visible `(user key, value)` pairs of a range.
/// [`MvccScan::next_into`] fills buffers the caller reuses instead, so a
/// long scan allocates nothing per row.
pub struct MvccScan {
    visibility: Visibility,
    /// An error to return before anything else (a doomed reader).
    failed: Option<Error>,
    tree: TreeId,
    cursor: Cursor,
    /// The removal marks taken before and after the last fetch from the
    /// engine (gc invariant 5).
    fetched: (RemovalMark, RemovalMark),
    /// Backward scans: the escaped user key whose visible version was
    /// already returned or found deleted (its older versions are skipped),
    /// if `decided` holds one.
    decided_key: Vec<u8>,
    decided: bool,
    /// Forward scans: the escaped user key of the group being read (a
    /// buffer reused from group to group). The row of its newest visible
    /// version so far goes straight into the caller's row buffer.
    group: Vec<u8>,
}

/// An entry lent by the cursor (key, value), with the removal mark taken
/// before the fetch that read it.
type MarkedEntry<'a> = (&'a [u8], &'a [u8], RemovalMark);

/// What decides whether a version is visible to the scan, apart from the
/// cursor so that both can be borrowed at once.
struct Visibility {
    mvcc: Arc<Mvcc>,
    /// The snapshot of the statement that opened the scan, held for as long
    /// as the scan lives (mvcc invariant 6).
    snapshot: Arc<PinnedSnapshot>,
    reader: TxnId,
    /// SERIALIZABLE readers report each concurrent writer whose version
    /// they skip (an rw-antidependency, `ssi.rs`), each writer once.
    serializable: bool,
    reported: Vec<TxnId>,
    /// The last writer found visible: rows loaded together share their
    /// writer, and a writer visible to the snapshot stays visible to it.
    last_visible: Option<TxnId>,
}

impl Visibility {
    /// Whether the version stored as `value` is visible; an invisible one
    /// written by a concurrent transaction that has not aborted is
    /// reported to SSI.
    fn sees(&mut self, value: &[u8]) -> Result<bool> {
        let writer = version_writer(value)?;
        if self.last_visible == Some(writer) {
            return Ok(true);
        }
        let reader = Reader {
            mvcc: &self.mvcc,
            snapshot: &self.snapshot,
            id: self.reader,
            serializable: self.serializable,
        };
        if reader.sees(writer, &mut self.reported)? {
            self.last_visible = Some(writer);
            return Ok(true);
        }
        Ok(false)
    }
}

/// A reading transaction as visibility needs it, borrowed.
pub(super) struct Reader<'a> {
    pub(super) mvcc: &'a Mvcc,
    pub(super) snapshot: &'a PinnedSnapshot,
    pub(super) id: TxnId,
    pub(super) serializable: bool,
}

impl Reader<'_> {
    /// Whether a version by `writer` is visible; a SERIALIZABLE reader
    /// reports an invisible one by a concurrent writer that has not
    /// aborted to SSI, once per writer in `reported`.
    fn sees(&self, writer: TxnId, reported: &mut Vec<TxnId>) -> Result<bool> {
        if visible(self.mvcc, self.snapshot, self.id, writer) {
            return Ok(true);
        }
        if self.serializable
            && (writer >= self.snapshot.horizon || self.snapshot.active.contains(&writer))
            && !reported.contains(&writer)
            && self.mvcc.status(writer) != STATUS_ABORTED
        {
            reported.push(writer);
            self.mvcc.ssi.read_skipped(self.id, writer)?;
        }
        Ok(false)
    }
}

/// Versions a point read fetches from the engine at once: the newest
/// few decide a key unless its recent history is long and invisible.
const POINT_BATCH: usize = 8;

/// A transaction's point reads (`Transaction::get_into`): the newest
/// visible version of one key, read newest first (so, like a backward
/// scan, the version that decides the key comes before anything garbage
/// collection could remove under it). Its buffers are reused from read to
/// read, so a key lookup allocates nothing once they have grown.
#[derive(Default)]
pub(super) struct PointReader {
    batch: EntryBatch,
    low: Vec<u8>,
    high: Vec<u8>,
    reported: Vec<TxnId>,
}

impl PointReader {
    /// Reads the visible row stored under the user key `key` of `tree`
    /// into `row` (cleared first); `false` if no visible version is live.
    pub(super) fn read(
        &mut self,
        reader: &Reader<'_>,
        tree: TreeId,
        key: &[u8],
        row: &mut Vec<u8>,
    ) -> Result<bool> {
        row.clear();
        self.reported.clear();
        self.low.clear();
        escape_key_into(key, &mut self.low);
        self.high.clear();
        self.high.extend_from_slice(&self.low);
        self.low.extend_from_slice(&0u64.to_be_bytes());
        self.high.extend_from_slice(&TxnId::MAX.to_be_bytes());
        let mut range = KeyRange {
            start: Bound::Included(std::mem::take(&mut self.low)),
            end: Bound::Included(std::mem::take(&mut self.high)),
        };
        let found = self.read_range(reader, tree, &mut range, row);
        // Keep the buffers for the next read.
        if let Bound::Included(low) = range.start {
            self.low = low;
        }
        if let Bound::Included(high) | Bound::Excluded(high) = range.end {
            self.high = high;
        }
        found
    }

    fn read_range(
        &mut self,
        reader: &Reader<'_>,
        tree: TreeId,
        range: &mut KeyRange,
        row: &mut Vec<u8>,
    ) -> Result<bool> {
        let engine = reader.mvcc.engine();
        loop {
            engine.scan_into(
                tree,
                range,
                Direction::Backward,
                POINT_BATCH,
                &mut self.batch,
            )?;
            for index in 0..self.batch.len() {
                let (_, value) = self.batch.get(index);
                if reader.sees(version_writer(value)?, &mut self.reported)? {
                    return Ok(match version_row(value)? {
                        Some(stored) => {
                            row.extend_from_slice(stored);
                            true
                        }
                        None => false,
                    });
                }
            }
            // Fewer than asked for: the key's history is all read.
            let Some(last) = self.batch.last_key() else {
                return Ok(false);
            };
            if self.batch.len() < POINT_BATCH {
                return Ok(false);
            }
            // Older versions below the last one read.
            let mut end = match std::mem::replace(&mut range.end, Bound::Unbounded) {
                Bound::Included(buffer) | Bound::Excluded(buffer) => buffer,
                Bound::Unbounded => Vec::new(),
            };
            end.clear();
            end.extend_from_slice(last);
            range.end = Bound::Excluded(end);
        }
    }
}

impl MvccScan {
    pub(super) fn raw(
        txn: &Transaction,
        tree: TreeId,
        range: KeyRange,
        direction: Direction,
    ) -> MvccScan {
        MvccScan {
            visibility: Visibility {
                mvcc: Arc::clone(&txn.mvcc),
                snapshot: Arc::clone(&txn.snapshot),
                reader: txn.id,
                serializable: txn.ssi.is_some(),
                reported: Vec::new(),
                last_visible: None,
            },
            failed: None,
            tree,
            cursor: Cursor::new(tree, range, direction, 8),
            fetched: Default::default(),
            decided_key: Vec::new(),
            decided: false,
            group: Vec::new(),
        }
    }

    /// A scan with its own `snapshot` and no SSI tracking: catalog reads
    /// of the current definitions and index builds (`index.rs`), which
    /// read what committed before them, not what the transaction's
    /// snapshot shows.
    pub(super) fn with_snapshot(
        txn: &Transaction,
        snapshot: Arc<PinnedSnapshot>,
        tree: TreeId,
        range: KeyRange,
        direction: Direction,
    ) -> MvccScan {
        let mut scan = MvccScan::raw(txn, tree, range, direction);
        scan.visibility.snapshot = snapshot;
        scan.visibility.serializable = false;
        scan.visibility.last_visible = None;
        scan
    }

    pub(super) fn fail(&mut self, error: Error) {
        self.failed = Some(error);
    }

    /// The next visible pair: its user key into `key` and its row into
    /// `row` (both cleared first); `false` at the end of the range.
    pub fn next_into(&mut self, key: &mut Vec<u8>, row: &mut Vec<u8>) -> Result<bool> {
        key.clear();
        self.next_visible(Some(key), row)
    }

    /// [`MvccScan::next_into`] without the key (not decoded at all).
    pub fn next_row(&mut self, row: &mut Vec<u8>) -> Result<bool> {
        self.next_visible(None, row)
    }

    fn next_visible(&mut self, key: Option<&mut Vec<u8>>, row: &mut Vec<u8>) -> Result<bool> {
        if let Some(error) = self.failed.take() {
            self.cursor.stop();
            return Err(error);
        }
        row.clear();
        let next = match self.cursor.direction() {
            Direction::Forward => self.next_visible_forward(key, row),
            Direction::Backward => self.next_visible_backward(key, row),
        };
        if next.is_err() {
            self.cursor.stop();
        }
        next
    }

    /// The next entry, with the removal mark taken before the fetch that
    /// read it from the engine.
    fn next_entry<'a>(
        cursor: &'a mut Cursor,
        fetched: &mut (RemovalMark, RemovalMark),
        mvcc: &Mvcc,
    ) -> Result<Option<MarkedEntry<'a>>> {
        if cursor.buffered() == 0 {
            // This call fetches: mark the removals around the fetch.
            let before = mvcc.removals.mark();
            let entry = cursor.next(mvcc.engine().as_ref())?;
            *fetched = (before, mvcc.removals.mark());
            return Ok(entry.map(|(key, value)| (key, value, before)));
        }
        let mark = fetched.0;
        let entry = cursor.next(mvcc.engine().as_ref())?;
        Ok(entry.map(|(key, value)| (key, value, mark)))
    }

    /// Backward scans meet a key's versions newest first, so the first
    /// visible version decides the key and the rest of its history is
    /// skipped lazily: a point read of a hot key never walks old versions.
    fn next_visible_backward(
        &mut self,
        out_key: Option<&mut Vec<u8>>,
        row: &mut Vec<u8>,
    ) -> Result<bool> {
        loop {
            let Some((key, value, _)) =
                Self::next_entry(&mut self.cursor, &mut self.fetched, &self.visibility.mvcc)?
            else {
                return Ok(false);
            };
            let (user, _) = split_version(key)?;
            if (self.decided && self.decided_key == user) || !self.visibility.sees(value)? {
                continue;
            }
            self.decided_key.clear();
            self.decided_key.extend_from_slice(user);
            self.decided = true;
            if let Some(stored) = version_row(value)? {
                if let Some(out_key) = out_key {
                    decode_key_into(user, out_key)?;
                }
                row.extend_from_slice(stored);
                return Ok(true);
            }
        }
    }

    /// Forward scans meet a key's versions oldest first (in stamp order) and
    /// keep the last visible one of the group, unless a removal of a
    /// deletion may have run while they read the group (gc invariant 5).
    ///
    /// The fetches borrow the `Mvcc` rather than count a reference to it
    /// per call: two atomic operations per row, and scans of one table on
    /// several threads would bounce the count's cache line between cores
    /// on every row (most of a two-thread `count(*)`'s time).
    fn next_visible_forward(
        &mut self,
        mut out_key: Option<&mut Vec<u8>>,
        row: &mut Vec<u8>,
    ) -> Result<bool> {
        loop {
            let Some((first_key, first_value, since)) =
                Self::next_entry(&mut self.cursor, &mut self.fetched, &self.visibility.mvcc)?
            else {
                return Ok(false);
            };
            // The group's user key, kept while its versions are read (a
            // later fetch reuses the cursor's buffer).
            let user = split_version(first_key)?.0;
            self.group.clear();
            self.group.extend_from_slice(user);
            // Walk the key's versions; keep the newest visible one's row in
            // `row` (`found`: whether one was seen, and whether it is live
            // rather than a deletion).
            let mut found = None;
            if self.visibility.sees(first_value)? {
                found = Some(keep_version(first_value, row)?);
            }
            while let Some((key, value, _)) =
                Self::next_entry(&mut self.cursor, &mut self.fetched, &self.visibility.mvcc)?
            {
                let (this_user, _) = split_version(key)?;
                if this_user != self.group.as_slice() {
                    // The next group's first entry: read it again next time
                    // (same batch, so the same removal mark).
                    self.cursor.unread();
                    break;
                }
                if self.visibility.sees(value)? {
                    found = Some(keep_version(value, row)?);
                }
            }
            // The group was read between the mark before its first entry's
            // fetch and the mark after the last fetch, which read the entry
            // that ended it (or found the range's end).
            if !Removals::quiet_between(since, self.fetched.1) {
                let group = std::mem::take(&mut self.group);
                let newest = self.newest_visible(&group);
                self.group = group;
                found = match newest? {
                    Some(value) => Some(keep_version(&value, row)?),
                    None => None,
                };
            }
            if found == Some(true) {
                if let Some(out_key) = out_key.as_deref_mut() {
                    decode_key_into(&self.group, out_key)?;
                }
                return Ok(true);
            }
            // Deleted, or nothing visible: on to the next key.
            row.clear();
        }
    }

    /// The stored value of the newest version of the escaped user key
    /// `user` visible to the scan, reading its versions newest first: the
    /// first visible one is the collector's base or newer, and everything a
    /// removal takes from under the scan is older than it, or is it
    /// together with everything older (gc invariants 1 and 5).
    fn newest_visible(&mut self, user: &[u8]) -> Result<Option<Vec<u8>>> {
        let range = KeyRange {
            start: Bound::Included(versioned(user, 0)),
            end: Bound::Included(versioned(user, TxnId::MAX)),
        };
        let mvcc = Arc::clone(&self.visibility.mvcc);
        let versions = crate::storage::scan(
            mvcc.engine().as_ref(),
            self.tree,
            range,
            Direction::Backward,
        );
        for entry in versions {
            let (_, value) = entry?;
            if self.visibility.sees(&value)? {
                return Ok(Some(value));
            }
        }
        Ok(None)
    }
}

impl Iterator for MvccScan {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        let (mut key, mut row) = (Vec::new(), Vec::new());
        match self.next_into(&mut key, &mut row) {
            Ok(true) => Some(Ok((key, row))),
            Ok(false) => None,
            Err(error) => Some(Err(error)),
        }
    }
}

/// Puts the row of a visible version into `row`, replacing what was there
/// (a forward scan keeps only a key's newest visible version); `false`,
/// with `row` empty, for a deletion.
fn keep_version(value: &[u8], row: &mut Vec<u8>) -> Result<bool> {
    row.clear();
    match version_row(value)? {
        Some(stored) => {
            row.extend_from_slice(stored);
            Ok(true)
        }
        None => Ok(false),
    }
}
