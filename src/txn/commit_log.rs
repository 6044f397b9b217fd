//! The commit log: one status byte per transaction id (unknown, committed,
//! aborted), kept in memory, logged as one small logical WAL record per
//! status change, and stored in the meta tree in chunks at checkpoints.
//!
//! ```text
//!   commit of txn 1234:  status[1234] = committed; chunk 1 marked dirty
//!                        WAL ◄── logical record 01 ‖ 1234 (u64 BE) ‖ 01
//!                        wait until the WAL is durable there (group commit)
//!   checkpoint:          fix the redo LSN ─► persist(): dirty chunks ─► meta tree
//!                        "clog/" ‖ chunk (u64 BE) ─► 1,024 status bytes
//!   open:                chunks from the meta tree, then the logical records
//!                        recovery replayed after the checkpoint, in log order
//! ```
//!
//! Truncation: the log would grow by a byte per transaction forever. Once a
//! garbage-collection sweep has visited every versioned tree with horizon
//! `h` (every version whose writer is below `h` is then gone, or is its
//! key's base: committed), no stored version has a writer below `h` that
//! did not commit. So [`CommitLog::truncate_below`] makes `h` the *floor*:
//! every id below it reads as committed, and the statuses below it are
//! dropped from memory and from the meta tree. PostgreSQL gets the same
//! from freezing tuples and truncating `pg_xact` below the oldest unfrozen
//! xid; here the sweep that removes the garbage is the freezing, because a
//! version that survives it below the horizon is committed by construction.
//!
//! ```text
//!   ids:      0 ........ floor ........ base+len
//!             └ committed ┘└ status bytes ┘  (unknown past the end)
//!   stored:   "clog/floor" ─► floor;  "clog/" ‖ chunk ─► 1,024 bytes,
//!             only chunks at or above floor / 1,024 are kept
//! ```
//!
//! Why logical records: writing each status into its stored chunk made a
//! commit a second B+tree write, serialized by one global mutex so that a
//! chunk written later never carried an older copy. Now a commit appends ten
//! bytes to the WAL and changes no page. PostgreSQL's `pg_xact` works the
//! same way: commit records in the WAL, its pages written at checkpoints.
//!
//! Invariants:
//! 1. [`CommitLog::set`] changes the in-memory status, and marks its chunk
//!    dirty, before the caller appends the logical record. So a record
//!    appended before a checkpoint fixed its redo LSN has its status in
//!    memory when that checkpoint's [`CheckpointHook::persist`] copies the
//!    dirty chunks (the storage engine's invariant 6 needs exactly this).
//! 2. `persist` copies and clears the dirty set under the status lock, one
//!    persist at a time, so a chunk stored later never carries an older
//!    copy than one stored before it.
//! 3. Until [`CommitLog::load`] finished, `persist` reports "not ready" and
//!    the checkpoint is skipped: no checkpoint stores a partial log or moves
//!    its redo LSN past recovered records not yet applied.
//! 4. The floor only grows, and is stored (a meta-tree write, so in the WAL)
//!    before any chunk below it is deleted; the sweep's removals were logged
//!    before either. So after a crash either the old floor holds with its
//!    chunks, or the new floor holds and the versions it vouches for are
//!    gone. A chunk below the floor that a racing `persist` stores again is
//!    ignored by `load` and deleted by the next truncation.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::{Mutex, RwLock};

use super::mvcc::{META_TREE, TxnId};
use crate::error::{Error, Result};
use crate::storage::{CheckpointHook, Direction, Engine, KeyRange, StoreEntry};

/// Status of a transaction that never committed or aborted (running, or cut
/// short by a crash).
pub const STATUS_UNKNOWN: u8 = 0;
pub const STATUS_COMMITTED: u8 = 1;
pub const STATUS_ABORTED: u8 = 2;

/// Meta-tree keys of the stored chunks: this prefix, then the chunk number.
const CHUNK_PREFIX: &[u8] = b"clog/";
/// Meta-tree key of the floor (invariant 4), outside the chunk prefix.
const FLOOR_KEY: &[u8] = b"clog_floor";
/// Transactions per stored chunk (one byte each).
const CHUNK_SIZE: u64 = 1024;
/// The kind byte of a status record (the only kind so far).
const RECORD_STATUS: u8 = 1;
/// Bytes of a status record: kind, transaction id, status.
const RECORD_LENGTH: usize = 10;

struct Statuses {
    /// Every id below it committed (or never wrote a surviving version).
    floor: TxnId,
    /// The id of `bytes[0]`: the floor rounded down to a chunk.
    base: TxnId,
    /// Status byte per transaction id from `base`; ids past the end are
    /// unknown.
    bytes: Vec<u8>,
    /// Chunks changed since the last persist.
    dirty: BTreeSet<u64>,
}

/// The commit log, shared by the MVCC manager and (as its checkpoint hook)
/// the storage engine.
pub struct CommitLog {
    statuses: RwLock<Statuses>,
    /// Held for a whole persist (invariant 2).
    persisting: Mutex<()>,
    /// Set once `load` finished (invariant 3).
    loaded: AtomicBool,
}

impl Default for CommitLog {
    fn default() -> CommitLog {
        CommitLog::new()
    }
}

impl CommitLog {
    /// An empty log that is not loaded yet.
    pub fn new() -> CommitLog {
        CommitLog {
            statuses: RwLock::new(Statuses {
                floor: 0,
                base: 0,
                bytes: Vec::new(),
                dirty: BTreeSet::new(),
            }),
            persisting: Mutex::new(()),
            loaded: AtomicBool::new(false),
        }
    }

    /// Loads the stored chunks from the meta tree, then applies the status
    /// records recovery found after the last checkpoint. Set this log as the
    /// engine's checkpoint hook first: records taken from the engine are
    /// then this log's to store. Returns how many records it applied.
    pub fn load(&self, engine: &dyn Engine) -> Result<usize> {
        {
            let mut statuses = self.statuses.write();
            if let Some(stored) = engine.get(META_TREE, FLOOR_KEY)? {
                let floor = chunk_number(&stored)?;
                statuses.floor = floor;
                statuses.base = floor - floor % CHUNK_SIZE;
            }
            for entry in crate::storage::scan(
                engine,
                META_TREE,
                KeyRange::prefix(CHUNK_PREFIX),
                Direction::Forward,
            ) {
                let (key, value) = entry?;
                let chunk = chunk_number(&key[CHUNK_PREFIX.len()..])?;
                if chunk * CHUNK_SIZE < statuses.base {
                    continue; // invariant 4: left by a racing persist
                }
                let start = usize::try_from(chunk * CHUNK_SIZE - statuses.base).map_err(|_| {
                    Error::Corrupt(format!("commit log chunk {chunk} is too large"))
                })?;
                if value.len() as u64 > CHUNK_SIZE {
                    return Err(Error::Corrupt(format!(
                        "commit log chunk {chunk} holds {} bytes, more than {CHUNK_SIZE}",
                        value.len()
                    )));
                }
                if statuses.bytes.len() < start + value.len() {
                    statuses.bytes.resize(start + value.len(), STATUS_UNKNOWN);
                }
                statuses.bytes[start..start + value.len()].copy_from_slice(&value);
            }
        }
        let records = engine.take_recovered_logical();
        for payload in &records {
            let (txn, status) = decode_record(payload)?;
            self.set(txn, status);
        }
        self.loaded.store(true, Ordering::Release);
        Ok(records.len())
    }

    /// The status of `txn`.
    pub fn status(&self, txn: TxnId) -> u8 {
        let statuses = self.statuses.read();
        if txn < statuses.floor {
            return STATUS_COMMITTED;
        }
        usize::try_from(txn - statuses.base)
            .ok()
            .and_then(|index| statuses.bytes.get(index).copied())
            .unwrap_or(STATUS_UNKNOWN)
    }

    /// Sets the status of `txn` in memory (invariant 1: before its record
    /// is appended; see [`CommitLog::record`]). Below the floor there is
    /// nothing to set: recovery may replay such records from before a
    /// truncation.
    pub fn set(&self, txn: TxnId, status: u8) {
        let mut statuses = self.statuses.write();
        if txn < statuses.floor {
            return;
        }
        let index = usize::try_from(txn - statuses.base)
            .expect("invariant: transaction ids stay within memory's reach of the floor");
        if statuses.bytes.len() <= index {
            statuses.bytes.resize(index + 1, STATUS_UNKNOWN);
        }
        statuses.bytes[index] = status;
        statuses.dirty.insert(txn / CHUNK_SIZE);
    }

    /// The floor: every id below it reads as committed.
    pub fn floor(&self) -> TxnId {
        self.statuses.read().floor
    }

    /// Raises the floor to `floor` (see the module docs for when that is
    /// allowed), drops the statuses below it from memory, stores the floor,
    /// then deletes the stored chunks wholly below it (invariant 4).
    /// Returns how many stored chunks were deleted.
    pub fn truncate_below(&self, engine: &dyn Engine, floor: TxnId) -> Result<usize> {
        {
            let mut statuses = self.statuses.write();
            if floor <= statuses.floor {
                return Ok(0);
            }
            statuses.floor = floor;
            let base = floor - floor % CHUNK_SIZE;
            let dropped = usize::try_from(base - statuses.base)
                .expect("invariant: the floor stays within memory's reach")
                .min(statuses.bytes.len());
            statuses.bytes.drain(..dropped);
            statuses.base = base;
            statuses.dirty.retain(|&chunk| chunk * CHUNK_SIZE >= base);
        }
        engine.insert(META_TREE, FLOOR_KEY, &floor.to_be_bytes())?;
        let mut end = CHUNK_PREFIX.to_vec();
        end.extend_from_slice(&(floor / CHUNK_SIZE).to_be_bytes());
        let range = KeyRange {
            start: std::ops::Bound::Included(CHUNK_PREFIX.to_vec()),
            end: std::ops::Bound::Excluded(end),
        };
        let mut deleted = 0;
        loop {
            let batch = engine.scan_batch(META_TREE, &range, Direction::Forward, 256)?;
            if batch.is_empty() {
                return Ok(deleted);
            }
            for (key, _) in &batch {
                if engine.delete(META_TREE, key)? {
                    deleted += 1;
                }
            }
        }
    }

    /// The logical WAL record of `txn` getting `status`.
    pub fn record(txn: TxnId, status: u8) -> [u8; RECORD_LENGTH] {
        let mut record = [0u8; RECORD_LENGTH];
        record[0] = RECORD_STATUS;
        record[1..9].copy_from_slice(&txn.to_be_bytes());
        record[9] = status;
        record
    }
}

fn chunk_number(bytes: &[u8]) -> Result<u64> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| Error::Corrupt("commit log key is not a chunk number".into()))?;
    Ok(u64::from_be_bytes(array))
}

fn decode_record(payload: &[u8]) -> Result<(TxnId, u8)> {
    let valid = payload.len() == RECORD_LENGTH
        && payload[0] == RECORD_STATUS
        && matches!(payload[9], STATUS_COMMITTED | STATUS_ABORTED);
    if !valid {
        return Err(Error::Corrupt(format!(
            "bad commit log record in the WAL: {payload:02x?}"
        )));
    }
    let txn = TxnId::from_be_bytes(payload[1..9].try_into().expect("invariant: 8 bytes"));
    Ok((txn, payload[9]))
}

impl CheckpointHook for CommitLog {
    fn persist(&self, sink: &mut StoreEntry<'_>) -> Result<bool> {
        if !self.loaded.load(Ordering::Acquire) {
            return Ok(false);
        }
        let _one_at_a_time = self.persisting.lock();
        let chunks: Vec<(u64, Vec<u8>)> = {
            let mut statuses = self.statuses.write();
            let dirty = std::mem::take(&mut statuses.dirty);
            dirty
                .into_iter()
                .map(|chunk| {
                    // Dirty chunks are never below `base` (truncation drops them).
                    let start =
                        ((chunk * CHUNK_SIZE - statuses.base) as usize).min(statuses.bytes.len());
                    let end = (start + CHUNK_SIZE as usize).min(statuses.bytes.len());
                    (chunk, statuses.bytes[start..end].to_vec())
                })
                .collect()
        };
        for (index, (chunk, bytes)) in chunks.iter().enumerate() {
            let mut key = CHUNK_PREFIX.to_vec();
            key.extend_from_slice(&chunk.to_be_bytes());
            if let Err(error) = sink(META_TREE, &key, bytes) {
                // Whatever was not stored stays dirty for the next attempt.
                let mut statuses = self.statuses.write();
                statuses
                    .dirty
                    .extend(chunks[index..].iter().map(|(chunk, _)| *chunk));
                return Err(error);
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::storage::MemoryEngine;

    fn engine_with_meta_tree() -> Arc<MemoryEngine> {
        let engine = Arc::new(MemoryEngine::new());
        engine.create_tree(META_TREE).unwrap();
        engine
    }

    #[test]
    fn statuses_survive_a_persist_and_a_reload() {
        let engine = engine_with_meta_tree();
        let log = Arc::new(CommitLog::new());
        engine.set_checkpoint_hook(log.clone()).unwrap();
        log.load(engine.as_ref()).unwrap();
        log.set(3, STATUS_COMMITTED);
        log.set(2_000, STATUS_ABORTED);
        engine.flush().unwrap();
        let stored = engine.get(META_TREE, b"clog/\0\0\0\0\0\0\0\x01").unwrap();
        assert_eq!(
            stored.map(|bytes| bytes[2_000 - 1_024]),
            Some(STATUS_ABORTED)
        );

        let reloaded = CommitLog::new();
        reloaded.load(engine.as_ref()).unwrap();
        assert_eq!(reloaded.status(3), STATUS_COMMITTED);
        assert_eq!(reloaded.status(2_000), STATUS_ABORTED);
        assert_eq!(reloaded.status(4), STATUS_UNKNOWN);
        assert_eq!(reloaded.status(1 << 40), STATUS_UNKNOWN);
    }

    fn stored_chunks(engine: &MemoryEngine) -> Vec<u64> {
        crate::storage::scan(
            engine,
            META_TREE,
            KeyRange::prefix(CHUNK_PREFIX),
            Direction::Forward,
        )
        .map(|entry| chunk_number(&entry.unwrap().0[CHUNK_PREFIX.len()..]).unwrap())
        .collect()
    }

    #[test]
    fn truncation_forgets_statuses_below_the_floor_in_memory_and_on_disk() {
        let engine = engine_with_meta_tree();
        let log = Arc::new(CommitLog::new());
        engine.set_checkpoint_hook(log.clone()).unwrap();
        log.load(engine.as_ref()).unwrap();
        for txn in 0..5_000 {
            log.set(
                txn,
                if txn % 3 == 0 {
                    STATUS_ABORTED
                } else {
                    STATUS_COMMITTED
                },
            );
        }
        engine.flush().unwrap();
        assert_eq!(stored_chunks(&engine), vec![0, 1, 2, 3, 4]);

        assert_eq!(log.truncate_below(engine.as_ref(), 2_500).unwrap(), 2);
        assert_eq!(stored_chunks(&engine), vec![2, 3, 4]);
        assert_eq!(log.floor(), 2_500);
        assert_eq!(log.statuses.read().base, 2_048);
        // Below the floor everything reads committed; above, as it was.
        assert_eq!(log.status(3), STATUS_COMMITTED);
        assert_eq!(log.status(2_499), STATUS_COMMITTED);
        assert_eq!(log.status(2_502), STATUS_ABORTED);
        assert_eq!(log.status(2_503), STATUS_COMMITTED);
        assert_eq!(log.status(9_999), STATUS_UNKNOWN);
        // A replayed record below the floor changes nothing; a lower floor
        // is no truncation.
        log.set(5, STATUS_ABORTED);
        assert_eq!(log.status(5), STATUS_COMMITTED);
        assert_eq!(log.truncate_below(engine.as_ref(), 100).unwrap(), 0);
        assert_eq!(log.floor(), 2_500);

        // A chunk below the floor stored again by a racing persist is
        // ignored by a reload and deleted by the next truncation.
        engine
            .insert(META_TREE, b"clog/\0\0\0\0\0\0\0\0", &[STATUS_ABORTED; 1024])
            .unwrap();
        log.set(6_000, STATUS_ABORTED);
        engine.flush().unwrap();
        let reloaded = CommitLog::new();
        reloaded.load(engine.as_ref()).unwrap();
        assert_eq!(reloaded.floor(), 2_500);
        assert_eq!(reloaded.status(7), STATUS_COMMITTED);
        assert_eq!(reloaded.status(2_502), STATUS_ABORTED);
        assert_eq!(reloaded.status(6_000), STATUS_ABORTED);
        assert_eq!(reloaded.truncate_below(engine.as_ref(), 4_100).unwrap(), 3);
        assert_eq!(stored_chunks(&engine), vec![4, 5]);
        assert_eq!(reloaded.status(4_098), STATUS_COMMITTED, "below the floor");
        assert_eq!(reloaded.status(4_101), STATUS_ABORTED, "4,101 = 3 × 1,367");
        assert_eq!(reloaded.status(4_102), STATUS_COMMITTED);
    }

    #[test]
    fn an_unloaded_log_refuses_to_persist_and_a_failed_store_stays_dirty() {
        let log = CommitLog::new();
        log.set(5, STATUS_COMMITTED);
        let mut stored = Vec::new();
        let ready = log
            .persist(&mut |_, key, _| {
                stored.push(key.to_vec());
                Ok(())
            })
            .unwrap();
        assert!(!ready, "not loaded: the checkpoint must be skipped");
        assert!(stored.is_empty());

        log.loaded.store(true, Ordering::Release);
        let error = log
            .persist(&mut |_, _, _| Err(Error::Internal("disk full".into())))
            .unwrap_err();
        assert!(error.to_string().contains("disk full"));
        log.persist(&mut |_, key, value| {
            stored.push(key.to_vec());
            assert_eq!(value[5], STATUS_COMMITTED);
            Ok(())
        })
        .unwrap();
        assert_eq!(stored.len(), 1, "the chunk stays dirty after the failure");
    }

    #[test]
    fn records_round_trip_and_bad_ones_are_corruption() {
        let record = CommitLog::record(0x0102_0304, STATUS_COMMITTED);
        assert_eq!(
            decode_record(&record).unwrap(),
            (0x0102_0304, STATUS_COMMITTED)
        );
        let mut bad = record;
        bad[9] = 7;
        assert!(matches!(decode_record(&bad), Err(Error::Corrupt(_))));
        assert!(matches!(
            decode_record(&record[..9]),
            Err(Error::Corrupt(_))
        ));
    }
}
