//! Crash recovery: redo from the last checkpoint.
//!
//! ```text
//!   control file ─► checkpoint { redo LSN, meta }
//!   WAL:  ... | redo LSN ─► record ─► record ─► ... ─► end (torn tail cut by Wal::open)
//!                 for each mini-transaction record, for each entry:
//!                   image  ─► install the page (never read from disk first)
//!                   delta  ─► apply if page LSN < record end, set page LSN
//!                   meta   ─► becomes the meta state
//!                 each logical record ─► handed back, in order, to the layer
//!                   above (the commit log's status records)
//! ```
//!
//! Redo only, no undo: a transaction's versions are visible only once the
//! commit log says it committed, and a commit-log entry is itself logged (a
//! logical record, stored in pages by the next checkpoint), so whatever a
//! crash cut short simply never committed (see `txn::mvcc`). PostgreSQL's
//! recovery works the same way; ARIES's undo pass is not needed.
//!
//! Invariants:
//! 1. Replay is idempotent: images overwrite, deltas are skipped on pages
//!    whose LSN shows they already have them, and meta entries are absolute.
//!    A crash during recovery (which only writes pages back, under the
//!    write-ahead rule) is harmless: the next recovery starts from the same
//!    checkpoint.
//! 2. A page that recovery reads from disk was durably written whole before
//!    the checkpoint (redo invariant 3), so a checksum failure here is real
//!    damage and stops recovery with the page number.
//! 3. Recovery refuses to start when the WAL it needs is missing or damaged
//!    before its end: it never guesses.

use std::time::{Duration, Instant};

use super::buffer_pool::BufferPool;
use super::control::Checkpoint;
use super::meta::Meta;
use super::page;
use super::redo::{self, LOGICAL_RECORD_TYPE, REDO_RECORD_TYPE, RedoEntry};
use super::wal::{Lsn, Wal};
use crate::error::{Error, Result};

/// What a recovery did, for the log and for tests.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecoveryStats {
    pub from_lsn: Lsn,
    pub to_lsn: Lsn,
    pub records: u64,
    pub bytes: u64,
    pub seconds: f64,
}

/// The outcome of [`replay`].
pub struct Replayed {
    /// The meta state at the end of the log.
    pub meta: Meta,
    pub stats: RecoveryStats,
    /// The payloads of the logical records replayed, in log order.
    pub logical: Vec<Vec<u8>>,
}

/// How often a long recovery reports its progress.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);

/// Replays the WAL from the checkpoint's redo LSN into the pool's pages and
/// returns the meta state at the end of the log and the logical records.
pub fn replay(pool: &BufferPool, wal: &Wal, checkpoint: &Checkpoint) -> Result<Replayed> {
    let started = Instant::now();
    let end = wal.end_lsn();
    let from = checkpoint.redo_lsn;
    if from > end {
        return Err(Error::Corrupt(format!(
            "the checkpoint's redo LSN {from} is past the end of the WAL at LSN {end}: \
             WAL segments are missing"
        )));
    }
    let mut meta = checkpoint.meta.clone();
    let mut logical = Vec::new();
    let mut stats = RecoveryStats {
        from_lsn: from,
        to_lsn: from,
        ..RecoveryStats::default()
    };
    let mut last_report = started;
    let records = wal.read_from(from).map_err(|error| {
        Error::Corrupt(format!(
            "cannot read the WAL from the checkpoint's redo LSN {from}: {error}"
        ))
    })?;
    for record in records {
        let record = record?;
        if record.record_type == LOGICAL_RECORD_TYPE {
            stats.records += 1;
            stats.bytes += record.end_lsn() - record.lsn;
            stats.to_lsn = record.end_lsn();
            logical.push(record.payload);
            continue;
        }
        if record.record_type != REDO_RECORD_TYPE {
            return Err(Error::Corrupt(format!(
                "WAL record at LSN {}: unknown record type {}",
                record.lsn, record.record_type
            )));
        }
        let record_end = record.end_lsn();
        for entry in redo::decode(record.lsn, &record.payload)? {
            match entry {
                RedoEntry::Image(page_number, image) => {
                    let (mut page, _) = pool.create(page_number)?;
                    *page = *image;
                    page::set_lsn(&mut page, record_end);
                }
                RedoEntry::Delta(page_number, delta) => {
                    let mut page = pool.fetch_write(page_number)?;
                    if page::lsn(&page) < record_end {
                        redo::apply_delta(page_number, &mut page, &delta)?;
                        page::set_lsn(&mut page, record_end);
                    }
                }
                RedoEntry::Meta(logged) => meta = logged,
            }
        }
        stats.records += 1;
        stats.bytes += record_end - record.lsn;
        stats.to_lsn = record_end;
        if last_report.elapsed() >= PROGRESS_INTERVAL {
            last_report = Instant::now();
            tracing::info!(
                records = stats.records,
                bytes = stats.bytes,
                lsn = stats.to_lsn,
                end,
                "recovery in progress"
            );
        }
    }
    stats.seconds = started.elapsed().as_secs_f64();
    Ok(Replayed {
        meta,
        stats,
        logical,
    })
}
