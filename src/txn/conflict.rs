//! The read/write hooks where Serializable Snapshot Isolation will record
//! what each transaction read and wrote.
//!
//! Every MVCC read (point and range, including ranges that found nothing)
//! and every write already passes through [`ConflictTracker`]. For now it
//! only counts them: snapshot isolation needs nothing more. The SSI issue
//! replaces the counters with predicate-lock bookkeeping and rw-antidependency
//! detection at exactly these call sites, without touching callers.

use crate::storage::{KeyRange, TreeId};

use super::mvcc::TxnId;

/// Per-transaction record of reads and writes.
#[derive(Debug, Default)]
pub struct ConflictTracker {
    pub txn: TxnId,
    pub point_reads: u64,
    pub range_reads: u64,
    pub writes: u64,
}

impl ConflictTracker {
    pub fn new(txn: TxnId) -> ConflictTracker {
        ConflictTracker {
            txn,
            ..ConflictTracker::default()
        }
    }

    /// A read of one key (whether or not it existed).
    pub fn record_point_read(&mut self, _tree: TreeId, _key: &[u8]) {
        self.point_reads += 1;
    }

    /// A read of a key range (whether or not it held anything).
    pub fn record_range_read(&mut self, _tree: TreeId, _range: &KeyRange) {
        self.range_reads += 1;
    }

    /// A write of one key.
    pub fn record_write(&mut self, _tree: TreeId, _key: &[u8]) {
        self.writes += 1;
    }
}
