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
//! A SERIALIZABLE reader reports each invisible version of a concurrent,
//! not aborted writer to SSI once per writer (an rw-antidependency,
//! `ssi.rs`). Entries come from the engine through a storage `Cursor`, in
//! batches that double from 8 up to `SCAN_BATCH`, so a point read costs
//! one small batch.

use std::sync::Arc;

use super::commit_log::STATUS_ABORTED;
use super::mvcc::{
    Mvcc, Snapshot, Transaction, TxnId, decode_key, split_version, version_row, version_writer,
    visible,
};
use crate::error::{Error, Result};
use crate::storage::{Cursor, Direction, Entry, KeyRange, TreeId};

/// An iterator over the visible `(user key, value)` pairs of a range.
pub struct MvccScan {
    mvcc: Arc<Mvcc>,
    snapshot: Arc<Snapshot>,
    reader: TxnId,
    /// SERIALIZABLE readers report each concurrent writer whose version
    /// they skip (an rw-antidependency, `ssi.rs`), each writer once.
    serializable: bool,
    reported: Vec<TxnId>,
    /// An error to return before anything else (a doomed reader).
    failed: Option<Error>,
    cursor: Cursor,
    /// A pending entry of the next key group, read ahead (forward scans).
    pending: Option<Entry>,
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
            cursor: Cursor::new(tree, range, direction, 8),
            pending: None,
            decided: None,
        }
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

    fn next_entry(&mut self) -> Result<Option<Entry>> {
        if let Some(entry) = self.pending.take() {
            return Ok(Some(entry));
        }
        self.cursor.next(self.mvcc.engine().as_ref())
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
            let Some((key, value)) = self.next_entry()? else {
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
    /// keep the last visible one of the group.
    fn next_visible_forward(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        loop {
            let Some((first_key, first_value)) = self.next_entry()? else {
                return Ok(None);
            };
            let (user, _) = split_version(&first_key)?;
            let user = user.to_vec();
            // Walk the key's versions; remember the newest visible one.
            let mut best: Option<Vec<u8>> = None;
            let mut entry = Some((first_key, first_value));
            while let Some((key, value)) = entry {
                let (this_user, _) = split_version(&key)?;
                if this_user != user.as_slice() {
                    self.pending = Some((key, value));
                    break;
                }
                if self.visible(version_writer(&value)?)? {
                    best = Some(value);
                }
                entry = self.next_entry()?;
            }
            if let Some(value) = best
                && let Some(row) = version_row(&value)?
            {
                return Ok(Some((decode_key(&user)?, row.to_vec())));
            }
        }
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
