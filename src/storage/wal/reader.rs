//! Reading the log back: [`WalReader`], from [`Wal::read_from`], iterates
//! over the records at or after an LSN, one segment at a time.
//!
//! ```text
//!   segments:  | 0000.wal: r r r END | 0040.wal: r r r r  |0080.wal: r r ..|
//!   read_from(lsn) ──────────^ load the segment holding lsn, skip records
//!                               before lsn, yield, move to the next segment,
//!                               stop at `limit` (the flushed LSN)
//! ```
//!
//! Invariants:
//! 1. Only the durable log is read: `limit` is the WAL's flushed LSN when the
//!    reader was made, so a concurrent leader's half-written bytes are never
//!    seen.
//! 2. Everything below `limit` was flushed, so it must parse: a segment whose
//!    records stop before `limit` (or before its end, when later segments
//!    hold flushed records) is `Error::Corrupt` naming the LSN. After
//!    `Wal::open` the torn tail is already cut, so this never fires for it.
//! 3. A segment is read whole into memory (at most the segment size) and its
//!    records are checksummed before any is yielded.
//! 4. After an error the iterator ends.

use std::collections::VecDeque;

use super::record::{self, Lsn, SegmentEnd, WalRecord};
use super::writer::Wal;
use crate::error::{Error, Result};
use crate::storage::vfs;

/// An iterator over `Result<WalRecord>`.
pub struct WalReader<'wal> {
    wal: &'wal Wal,
    from: Lsn,
    limit: Lsn,
    /// The next segment to load.
    next_segment: Lsn,
    records: VecDeque<WalRecord>,
    done: bool,
}

impl<'wal> WalReader<'wal> {
    pub(super) fn new(wal: &'wal Wal, from: Lsn, limit: Lsn) -> Result<WalReader<'wal>> {
        let size = wal.segment_size();
        let first_needed = from - from % size;
        if from < limit
            && let Some(&oldest) = wal.segment_starts().first()
            && first_needed < oldest
        {
            return Err(Error::Internal(format!(
                "WAL before LSN {oldest} has been removed; cannot read from LSN {from}"
            )));
        }
        Ok(WalReader {
            wal,
            from,
            limit,
            next_segment: first_needed,
            records: VecDeque::new(),
            done: from >= limit,
        })
    }

    /// Loads the next segment's records at or after `from` and below `limit`.
    fn load_next_segment(&mut self) -> Result<()> {
        let size = self.wal.segment_size();
        let start = self.next_segment;
        if start >= self.limit {
            self.done = true;
            return Ok(());
        }
        let file = self.wal.existing_segment(start).ok_or_else(|| {
            Error::Corrupt(format!(
                "WAL segment for LSN {start} is missing but the log is flushed to LSN {}",
                self.limit
            ))
        })?;
        let mut bytes = vfs::read_all(&*file)?;
        // Invariant 1: nothing at or past the limit.
        let readable = (self.limit - start).min(size);
        bytes.truncate(usize::try_from(readable).unwrap_or(usize::MAX));
        let (from, limit) = (self.from, self.limit);
        let records = &mut self.records;
        let end = record::parse_segment(&bytes, start, size, |lsn, record_type, payload| {
            if lsn >= from {
                records.push_back(WalRecord {
                    lsn,
                    record_type,
                    payload: payload.to_vec(),
                });
            }
        })?;
        match end {
            SegmentEnd::Full => self.next_segment = start + size,
            SegmentEnd::Tail { lsn, reason } => {
                if lsn < limit {
                    return Err(Error::Corrupt(format!(
                        "WAL record at LSN {lsn}: {reason}, below the flushed LSN {limit}"
                    )));
                }
                self.done = true;
            }
        }
        Ok(())
    }
}

impl Iterator for WalReader<'_> {
    type Item = Result<WalRecord>;

    fn next(&mut self) -> Option<Result<WalRecord>> {
        loop {
            if let Some(record) = self.records.pop_front() {
                return Some(Ok(record));
            }
            if self.done {
                return None;
            }
            if let Err(error) = self.load_next_segment() {
                self.done = true;
                return Some(Err(error));
            }
        }
    }
}
