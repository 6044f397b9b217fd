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
    Mvcc, PinnedSnapshot, Transaction, TxnId, decode_key, into_version_row, split_version,
    version_row, version_writer, versioned, visible,
};
use crate::error::{Error, Result};
use crate::storage::{Cursor, Direction, Entry, KeyRange, TreeId};

/// An iterator over the visible `(user key, value)` pairs of a range.
pub struct MvccScan {
    mvcc: Arc<Mvcc>,
    /// The snapshot of the statement that opened the scan, held for as long
    /// as the scan lives (mvcc invariant 6).
    snapshot: Arc<PinnedSnapshot>,
    reader: TxnId,
    /// SERIALIZABLE readers report each concurrent writer whose version
    /// they skip (an rw-antidependency, `ssi.rs`), each writer once.
    serializable: bool,
    reported: Vec<TxnId>,
    /// An error to return before anything else (a doomed reader).
    failed: Option<Error>,
    tree: TreeId,
    cursor: Cursor,
    /// A pending entry of the next key group, read ahead (forward scans),
    /// with the removal mark taken before the fetch that read it.
    pending: Option<(Entry, RemovalMark)>,
    /// The removal marks taken before and after the last fetch from the
    /// engine (gc invariant 5).
    fetched: (RemovalMark, RemovalMark),
    /// The escaped user key whose visible version was already returned or
    /// found deleted (backward scans skip its older versions).
    decided: Option<Vec<u8>>,
}

impl MvccScan {
    pub(super) fn raw(
        txn: &Transaction,
        tree: TreeId,
        range: KeyRange,
        direction: Direction,
    ) -> MvccScan {
        MvccScan {
            mvcc: Arc::clone(&txn.mvcc),
            snapshot: Arc::clone(&txn.snapshot),
            reader: txn.id,
            serializable: txn.ssi.is_some(),
            reported: Vec::new(),
            failed: None,
            tree,
            cursor: Cursor::new(tree, range, direction, 8),
            pending: None,
            fetched: Default::default(),
            decided: None,
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
        scan.snapshot = snapshot;
        scan.serializable = false;
        scan
    }

    pub(super) fn fail(&mut self, error: Error) {
        self.failed = Some(error);
    }

    /// Whether `writer`'s version is visible; an invisible one written by a
    /// concurrent transaction that has not aborted is reported to SSI.
    fn visible(&mut self, writer: TxnId) -> Result<bool> {
        if visible(&self.mvcc, &self.snapshot, self.reader, writer) {
            return Ok(true);
        }
        if self.serializable
            && (writer >= self.snapshot.horizon || self.snapshot.active.contains(&writer))
            && !self.reported.contains(&writer)
            && self.mvcc.status(writer) != STATUS_ABORTED
        {
            self.reported.push(writer);
            self.mvcc.ssi.read_skipped(self.reader, writer)?;
        }
        Ok(false)
    }

    /// The next entry, with the removal mark taken before the fetch that
    /// read it from the engine.
    fn next_entry(&mut self) -> Result<Option<(Entry, RemovalMark)>> {
        if let Some(pending) = self.pending.take() {
            return Ok(Some(pending));
        }
        if self.cursor.buffered() == 0 {
            // This call fetches: mark the removals around the fetch.
            let before = self.mvcc.removals.mark();
            let entry = self.cursor.next(self.mvcc.engine().as_ref())?;
            self.fetched = (before, self.mvcc.removals.mark());
            return Ok(entry.map(|entry| (entry, before)));
        }
        let entry = self.cursor.next(self.mvcc.engine().as_ref())?;
        Ok(entry.map(|entry| (entry, self.fetched.0)))
    }

    fn next_visible(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        match self.cursor.direction() {
            Direction::Forward => self.next_visible_forward(),
            Direction::Backward => self.next_visible_backward(),
        }
    }

    /// Backward scans meet a key's versions newest first, so the first
    /// visible version decides the key and the rest of its history is
    /// skipped lazily: a point read of a hot key never walks old versions.
    fn next_visible_backward(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        loop {
            let Some(((key, value), _)) = self.next_entry()? else {
                return Ok(None);
            };
            let (user, _) = split_version(&key)?;
            if self.decided.as_deref() == Some(user) || !self.visible(version_writer(&value)?)? {
                continue;
            }
            self.decided = Some(user.to_vec());
            if let Some(row) = version_row(&value)? {
                return Ok(Some((decode_key(user)?, row.to_vec())));
            }
        }
    }

    /// Forward scans meet a key's versions oldest first (in stamp order) and
    /// keep the last visible one of the group, unless a removal of a
    /// deletion may have run while they read the group (gc invariant 5).
    fn next_visible_forward(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        loop {
            let Some(((first_key, first_value), since)) = self.next_entry()? else {
                return Ok(None);
            };
            // The group's user key is a prefix of its first stored key,
            // which is kept whole rather than copied for every row.
            let user_len = split_version(&first_key)?.0.len();
            let user = &first_key[..user_len];
            // Walk the key's versions; remember the newest visible one.
            let mut best = if self.visible(version_writer(&first_value)?)? {
                Some(first_value)
            } else {
                None
            };
            while let Some(((key, value), mark)) = self.next_entry()? {
                let (this_user, _) = split_version(&key)?;
                if this_user != user {
                    self.pending = Some(((key, value), mark));
                    break;
                }
                if self.visible(version_writer(&value)?)? {
                    best = Some(value);
                }
            }
            // The group was read between the mark before its first entry's
            // fetch and the mark after the last fetch, which read the entry
            // that ended it (or found the range's end).
            if !Removals::quiet_between(since, self.fetched.1) {
                best = self.newest_visible(user)?;
            }
            if let Some(value) = best
                && let Some(row) = into_version_row(value)?
            {
                return Ok(Some((decode_key(user)?, row)));
            }
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
        let mvcc = Arc::clone(&self.mvcc);
        let versions = crate::storage::scan(
            mvcc.engine().as_ref(),
            self.tree,
            range,
            Direction::Backward,
        );
        for entry in versions {
            let (_, value) = entry?;
            if self.visible(version_writer(&value)?)? {
                return Ok(Some(value));
            }
        }
        Ok(None)
    }
}

impl Iterator for MvccScan {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(error) = self.failed.take() {
            self.cursor.stop();
            return Some(Err(error));
        }
        let next = self.next_visible();
        if next.is_err() {
            self.cursor.stop();
            self.pending = None;
        }
        next.transpose()
    }
}
