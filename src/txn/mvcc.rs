//! Multi-version concurrency control over the storage [`Engine`].
//!
//! Every write creates a new *version* of a key, carrying the writing
//! transaction's id; nothing of another transaction is overwritten in
//! place. A transaction reads through a [`Snapshot`], so it sees one
//! consistent state of the database plus its own writes, and readers never
//! block writers.
//!
//! ```text
//!  user key "k" in tree 7      engine key                       value
//!  ──────────────────────      ─────────────────────────────    ──────────────────────────
//!                              escape(k) ‖ 00 00 ‖ stamp 12 BE   1 ‖ writer 12 BE ‖ row bytes
//!                              escape(k) ‖ 00 00 ‖ stamp 15 BE   0 ‖ writer 15 BE (tombstone)
//!                              escape(k) ‖ 00 00 ‖ stamp 21 BE   1 ‖ writer 19 BE ‖ row bytes
//! ```
//!
//! The user key is escaped (0x00 → 0x00 0xFF) and terminated by 0x00 0x00 so
//! that the encoding is prefix-free and order-preserving: all versions of one
//! key are adjacent, ordered by *stamp*, and keys keep their order. The
//! stamp orders a key's versions by the time they were written: the first
//! version of a key gets its writer's id, every later one the newest
//! existing version's stamp plus one (writes of one key are serialised by
//! its lock stripe). Ordering by writer id instead would be wrong: a
//! transaction's snapshot can move past transactions with larger ids (each
//! READ COMMITTED statement, the first statement of a block, a read
//! refresh), and its version must still sort after the one it replaces
//! (invariant 4), even when a transaction with a larger id committed first.
//!
//! Visibility of a version written by transaction `w` to snapshot `s` of
//! transaction `t`:
//! 1. `w == t`: visible (a transaction sees its own writes);
//! 2. `w >= s.horizon` (began after the snapshot) or `w ∈ s.active`: invisible;
//! 3. otherwise visible iff the commit log says `w` committed. Transactions
//!    that aborted, or were active when the process stopped, never committed.
//!
//! Whether uncommitted work is visible is decided by transaction status, not
//! by undo, so a crash needs no undo pass (the WAL issue relies on this).
//! Rollback still deletes its own versions eagerly, to keep trees small.
//!
//! Write–write conflicts (first updater wins): a transaction may write a key
//! only if the newest non-aborted version is its own or is visible to its
//! snapshot. Otherwise another transaction has written the key concurrently
//! (committed after our snapshot, or still running) and the write fails with
//! SQLSTATE 40001. The check and the write happen under a per-key lock
//! stripe, so two writers of one key cannot both pass the check. Invariant 4:
//! consequently the non-aborted versions of a key are ordered by stamp *and*
//! by commit order, each visible to the next writer's snapshot.
//!
//! Transaction ids are allocated in blocks whose high-water mark is stored
//! in the meta tree, so ids are never reused across restarts (invariant 5).
//!
//! Invariant 6: every snapshot a reader can hold is a [`PinnedSnapshot`],
//! registered when it is taken and until its last clone is dropped, and
//! the garbage-collection horizon (`gc.rs`) stays at or below the `xmin`
//! of each registered one. A snapshot is not only its transaction's
//! current one: a scan keeps the snapshot it was opened with
//! ([`MvccScan`]) while its transaction moves on (the next READ COMMITTED
//! statement, a read refresh, the first statement of a block) or even ends,
//! as a portal's cursor does across statements. So what a live snapshot
//! reads is never collected, whichever transaction holds it now.
//!
//! ```text
//!   transaction 42, READ COMMITTED, while 41 runs:
//!     statement 1: snapshot S1 (xmin 41) ── scan opened, rows 0..2 read ─┐
//!     41 updates row 30 and commits                                      │
//!     statement 2: snapshot S2 (xmin 50)                                 │
//!     horizon = min(42 running, S1: 41, S2: 50) = 41:                    │
//!       row 30's old version stays, and the scan reads it ◄──────────────┘
//!     (counting each transaction's newest snapshot only, it was 42: 41's
//!      version became row 30's base, the old one went, the scan lost it)
//! ```
//!
//! Invariant 7: a transaction declared to run queries only
//! ([`Transaction::declare_queries_only`], an autocommit SELECT) never
//! writes. SSI registers it as read-only, which under a safe snapshot means
//! no read tracking at all, and read refresh does not record its reads;
//! both are sound only for a transaction that cannot write, so a write is
//! refused with an internal error rather than let through untracked.

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::ops::Bound;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;

use super::commit_log::{CommitLog, STATUS_ABORTED, STATUS_COMMITTED, STATUS_UNKNOWN};
use super::gc::Removals;
use super::predicate::ReadLockCounts;
use super::refresh::RefreshState;
use super::relation_lock::{RelationLockMode, RelationLocks};
use super::savepoint::{SavepointMarks, Undo};
use super::scan::{MvccScan, PointReader, Reader};
use super::ssi::{Ssi, SsiHandle};
use super::wait::WaitGraph;
use crate::error::{Error, Result, SqlState};
use crate::storage::{CheckpointHook, Direction, Engine, KeyRange, TreeId};

/// A transaction id. Ids increase monotonically and are never reused.
pub type TxnId = u64;

/// The engine tree that holds transaction metadata (id high-water mark, commit log).
pub const META_TREE: TreeId = 1;
/// Tree ids below this are fixed system trees of the layers above (the
/// catalog is tree 2); [`Mvcc::allocate_tree_id`] hands out the rest.
pub const FIRST_ALLOCATED_TREE: TreeId = 16;

const NEXT_TXN_KEY: &[u8] = b"next_txn";
const NEXT_TREE_KEY: &[u8] = b"next_tree";
const SEQUENCE_PREFIX: &[u8] = b"sequence/";
/// How many ids are reserved per write of the high-water mark.
const TXN_ID_BLOCK: u64 = 1024;
const LOCK_STRIPES: usize = 256;

/// The isolation level of a transaction, as in PostgreSQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IsolationLevel {
    /// A fresh snapshot for every statement.
    ReadCommitted,
    /// One snapshot for the whole transaction (snapshot isolation).
    RepeatableRead,
    /// Snapshot isolation plus SSI (`ssi.rs`): the default.
    Serializable,
}

impl IsolationLevel {
    /// The name `SHOW transaction_isolation` prints.
    pub fn name(&self) -> &'static str {
        match self {
            IsolationLevel::ReadCommitted => "read committed",
            IsolationLevel::RepeatableRead => "repeatable read",
            IsolationLevel::Serializable => "serializable",
        }
    }
}

/// What a transaction can see: every transaction that committed before it
/// was taken, except those listed active.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// Transactions with ids at or above this began after the snapshot.
    pub horizon: TxnId,
    /// Transactions running when the snapshot was taken.
    pub active: BTreeSet<TxnId>,
    /// The catalog epoch read just before the snapshot was taken
    /// (`relation_lock.rs`).
    pub catalog_epoch: u64,
}

/// A snapshot as readers hold it: the one a transaction reads with, and
/// each scan's. While any clone of the `Arc` lives, the garbage-collection
/// horizon stays at or below its `xmin` (invariant 6). It derefs to the
/// [`Snapshot`]; `shared` gives the snapshot without that hold, for SSI's
/// graph, which keeps a committed transaction's snapshot to decide what was
/// concurrent with it, reads nothing through it, and must not hold back
/// collection for as long.
#[derive(Debug)]
pub struct PinnedSnapshot {
    snapshot: Arc<Snapshot>,
}

impl std::ops::Deref for PinnedSnapshot {
    type Target = Snapshot;

    fn deref(&self) -> &Snapshot {
        &self.snapshot
    }
}

impl PinnedSnapshot {
    /// The snapshot, without holding the horizon back.
    pub fn shared(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshot)
    }
}

impl Snapshot {
    /// Whether `txn` had ended when the snapshot was taken (so its writes,
    /// if it committed, are visible).
    pub fn saw_end(&self, txn: TxnId) -> bool {
        txn < self.horizon && !self.active.contains(&txn)
    }

    /// The oldest id whose end this snapshot did not see: it sees every
    /// transaction below this end.
    pub fn xmin(&self) -> TxnId {
        self.active.first().copied().unwrap_or(self.horizon)
    }
}

struct TxnState {
    next_id: TxnId,
    /// Ids below this are covered by the stored high-water mark.
    reserved_until: TxnId,
    active: BTreeSet<TxnId>,
    /// Every snapshot handed out, with its `xmin`, until it is found dead
    /// (invariant 6): the horizon counts the ones still alive. Each
    /// registration drops the dead, so the list stays about as long as the
    /// number of live snapshots.
    pinned: Vec<(TxnId, Weak<PinnedSnapshot>)>,
    next_tree: TreeId,
}

impl TxnState {
    /// Registers `snapshot` for the horizon (invariant 6), under the state
    /// lock its contents were read under: a snapshot taken now has an
    /// `xmin` at or above the horizon (gc invariant 2), so registering it
    /// never lowers the horizon.
    fn pin(&mut self, snapshot: Snapshot) -> Arc<PinnedSnapshot> {
        let xmin = snapshot.xmin();
        let pinned = Arc::new(PinnedSnapshot {
            snapshot: Arc::new(snapshot),
        });
        // A dead entry stays dead: nothing upgrades these `Weak`s, and
        // readers only clone snapshots they hold.
        self.pinned.retain(|(_, weak)| weak.strong_count() > 0);
        self.pinned.push((xmin, Arc::downgrade(&pinned)));
        pinned
    }
}

/// How a write checks the key's newer versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WriteCheck {
    /// First updater wins: a version committed after the snapshot fails
    /// the write (40001); a running writer's version is waited for.
    Snapshot,
    /// A secondary index entry (`index.rs`): its row's write already won
    /// the conflict, so a committed version of any age is simply replaced;
    /// a running writer's version is still waited for.
    Entry,
}

/// The MVCC manager, shared by all transactions.
pub struct Mvcc {
    engine: Arc<dyn Engine>,
    state: Mutex<TxnState>,
    /// Status per transaction id; also the engine's checkpoint hook.
    commit_log: Arc<CommitLog>,
    stripes: Vec<Mutex<()>>,
    /// Stripes serialising the uniqueness check and insert of one unique
    /// index key (`index.rs`); never held together with another of them,
    /// and taken before a key stripe, never after.
    unique_stripes: Vec<Mutex<()>>,
    /// Relation locks between DDL and writers, and the catalog epoch.
    pub(super) relation_locks: RelationLocks,
    /// Writers waiting for other transactions to end.
    pub(super) waits: WaitGraph,
    /// Serializable Snapshot Isolation: read tracking and the conflict graph.
    pub(super) ssi: Ssi,
    /// Versions written by committed transactions, for the collector.
    pub(super) writes_committed: std::sync::atomic::AtomicU64,
    /// The same per tree, for automatic statistics (`changes.rs`).
    pub changes: super::changes::ChangeCounts,
    /// The last computed garbage-collection horizon (`gc.rs`).
    gc_horizon_cache: std::sync::atomic::AtomicU64,
    /// Removals of deletion bases, for forward scans (gc invariant 5).
    pub(super) removals: Removals,
    /// Sequences: name → (next value, first value not yet reserved on disk).
    sequences: Mutex<std::collections::HashMap<Vec<u8>, (u64, u64)>>,
}

fn read_u64(bytes: &[u8], what: &str) -> Result<u64> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| Error::Corrupt(format!("{what} is not 8 bytes")))?;
    Ok(u64::from_be_bytes(array))
}

impl Mvcc {
    /// Opens the MVCC layer, creating its metadata tree on first use.
    pub fn open(engine: Arc<dyn Engine>) -> Result<Arc<Mvcc>> {
        if !engine.tree_exists(META_TREE)? {
            engine.create_tree(META_TREE)?;
        }
        let stored_next = match engine.get(META_TREE, NEXT_TXN_KEY)? {
            Some(bytes) => read_u64(&bytes, "transaction high-water mark")?,
            None => 1,
        };
        let next_tree = match engine.get(META_TREE, NEXT_TREE_KEY)? {
            Some(bytes) => read_u64(&bytes, "tree id counter")?,
            None => FIRST_ALLOCATED_TREE,
        };
        let commit_log = Arc::new(CommitLog::new());
        engine.set_checkpoint_hook(Arc::clone(&commit_log) as Arc<dyn CheckpointHook>)?;
        if commit_log.load(engine.as_ref())? > 0 {
            // Store the recovered statuses, so the next crash need not
            // replay them again.
            engine.flush()?;
        }
        Ok(Arc::new(Mvcc {
            engine,
            ssi: Ssi::default(),
            state: Mutex::new(TxnState {
                next_id: stored_next,
                reserved_until: stored_next,
                active: BTreeSet::new(),
                pinned: Vec::new(),
                next_tree,
            }),
            commit_log,
            stripes: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
            unique_stripes: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
            relation_locks: RelationLocks::default(),
            waits: WaitGraph::default(),
            sequences: Mutex::new(std::collections::HashMap::new()),
            writes_committed: std::sync::atomic::AtomicU64::new(0),
            changes: super::changes::ChangeCounts::default(),
            gc_horizon_cache: std::sync::atomic::AtomicU64::new(0),
            removals: Removals::default(),
        }))
    }

    /// The storage engine below.
    pub fn engine(&self) -> &Arc<dyn Engine> {
        &self.engine
    }

    /// The SSI read locks held now and how often a transaction's locks
    /// were coarsened to a whole table (`SHOW basalt.ssi_read_locks`,
    /// `basalt.ssi_coarsenings`).
    pub fn read_lock_counts(&self) -> ReadLockCounts {
        self.ssi.read_lock_counts()
    }

    /// Begins a transaction.
    pub fn begin(self: &Arc<Self>, isolation: IsolationLevel) -> Result<Transaction> {
        let start = || -> Result<(TxnId, Arc<PinnedSnapshot>)> {
            let catalog_epoch = self.relation_locks.epoch();
            let mut state = self.state.lock();
            let id = state.next_id;
            if id >= state.reserved_until {
                let reserved = id + TXN_ID_BLOCK;
                self.engine
                    .insert(META_TREE, NEXT_TXN_KEY, &reserved.to_be_bytes())?;
                state.reserved_until = reserved;
            }
            state.next_id = id + 1;
            let active = state.active.clone();
            let snapshot = state.pin(Snapshot {
                horizon: id + 1,
                active,
                catalog_epoch,
            });
            state.active.insert(id);
            Ok((id, snapshot))
        };
        // A SERIALIZABLE transaction joins SSI with the snapshot of its
        // first statement or operation (`take_snapshot`): one graph round
        // instead of two.
        let (id, snapshot) = start()?;
        Ok(Transaction {
            mvcc: Arc::clone(self),
            id,
            isolation,
            snapshot,
            writes: Vec::new(),
            relation_locks: Vec::new(),
            created_trees: Vec::new(),
            dropped_trees: Vec::new(),
            undo: Vec::new(),
            savepoints: Vec::new(),
            lock_timeout: None,
            read_only: false,
            queries_only: false,
            statements: 0,
            refresh: RefreshState::default(),
            point_reader: PointReader::default(),
            ssi: None,
            ssi_pending: isolation == IsolationLevel::Serializable,
            deferrable: false,
            synchronous_commit: true,
            finished: false,
        })
    }

    /// Allocates a new tree id (not transactional: an aborted DDL leaves a gap).
    pub fn allocate_tree_id(&self) -> Result<TreeId> {
        let mut state = self.state.lock();
        let id = state.next_tree;
        state.next_tree += 1;
        self.engine
            .insert(META_TREE, NEXT_TREE_KEY, &state.next_tree.to_be_bytes())?;
        Ok(id)
    }

    /// The next value of a named, non-transactional sequence (starting at 1).
    /// Values are reserved on disk in blocks, so they are unique across
    /// restarts; a crash or restart may leave a gap.
    pub fn next_sequence_value(&self, name: &[u8]) -> Result<u64> {
        let mut sequences = self.sequences.lock();
        let mut key = SEQUENCE_PREFIX.to_vec();
        key.extend_from_slice(name);
        let entry = match sequences.get_mut(name) {
            Some(entry) => entry,
            None => {
                let stored = match self.engine.get(META_TREE, &key)? {
                    Some(bytes) => read_u64(&bytes, "sequence value")?,
                    None => 1,
                };
                sequences.entry(name.to_vec()).or_insert((stored, stored))
            }
        };
        if entry.0 >= entry.1 {
            let reserved = entry.0 + TXN_ID_BLOCK;
            self.engine
                .insert(META_TREE, &key, &reserved.to_be_bytes())?;
            entry.1 = reserved;
        }
        let value = entry.0;
        entry.0 += 1;
        Ok(value)
    }

    /// Reads unversioned state that a layer above keeps in a tree of its
    /// own (a sequence's position): the value as it is now, whatever any
    /// snapshot says, because such state is deliberately outside
    /// transactions.
    pub fn read_unversioned(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.engine.get(tree, key)
    }

    /// Writes unversioned state (see [`Mvcc::read_unversioned`]) and
    /// returns once it is durable, whether or not any transaction commits
    /// after it: what a caller hands out on the strength of this write is
    /// never handed out again after a crash.
    pub fn write_unversioned_durably(&self, tree: TreeId, key: &[u8], value: &[u8]) -> Result<()> {
        self.engine.insert(tree, key, value)?;
        self.engine.wait_durable(self.engine.log_position())
    }

    pub(super) fn commit_log(&self) -> &CommitLog {
        &self.commit_log
    }

    /// Every transaction below this id reads as committed: the commit log
    /// forgot their statuses after a sweep (`gc.rs`, invariant 4).
    pub fn commit_log_floor(&self) -> TxnId {
        self.commit_log.floor()
    }

    pub(super) fn status(&self, txn: TxnId) -> u8 {
        self.commit_log.status(txn)
    }

    /// Records `txn`'s final status: in memory first, then as a logical WAL
    /// record (commit-log invariant 1). Returns the log position after it.
    pub(super) fn set_status(&self, txn: TxnId, status: u8) -> Result<u64> {
        self.commit_log.set(txn, status);
        self.engine.append_logical(&CommitLog::record(txn, status))
    }

    pub(super) fn stripe(&self, tree: TreeId, key: &[u8]) -> &Mutex<()> {
        &self.stripes[stripe_slot(tree, key)]
    }

    /// The unique stripe of an index key (`index.rs`).
    pub(super) fn unique_stripe(&self, tree: TreeId, prefix: &[u8]) -> &Mutex<()> {
        &self.unique_stripes[stripe_slot(tree, prefix)]
    }

    /// Takes a fresh snapshot for `txn` (READ COMMITTED statements, the
    /// first statement of a block, a read refresh). The transaction's older
    /// snapshots keep holding the horizon back for as long as a scan still
    /// reads with them (invariant 6).
    pub(super) fn snapshot_for(&self, txn: TxnId) -> Arc<PinnedSnapshot> {
        // Before the snapshot (`relation_lock.rs`).
        let catalog_epoch = self.relation_locks.epoch();
        let mut state = self.state.lock();
        let mut active = state.active.clone();
        active.remove(&txn);
        let horizon = state.next_id;
        state.pin(Snapshot {
            horizon,
            active,
            catalog_epoch,
        })
    }

    /// Whether `txn` is running (or committing and not yet durable).
    pub(super) fn is_active(&self, txn: TxnId) -> bool {
        self.state.lock().active.contains(&txn)
    }

    /// The next tree id `allocate_tree_id` would hand out.
    pub(super) fn next_tree_id(&self) -> TreeId {
        self.state.lock().next_tree
    }

    /// Takes a transaction out of the active set: snapshots taken from now on
    /// see it end.
    fn end_transaction(&self, txn: TxnId) {
        let mut state = self.state.lock();
        state.active.remove(&txn);
        // The horizon may have moved: refresh the writers' copy. (It also
        // moves when the last clone of an older snapshot is dropped; the
        // collector's polls catch that, and a stale copy only prunes less.)
        self.gc_horizon_cache
            .fetch_max(horizon_of(&state), std::sync::atomic::Ordering::Relaxed);
    }

    /// The garbage-collection horizon: every snapshot, now and later, sees
    /// every transaction below it end (`gc.rs`). Also refreshes the cached
    /// horizon writers prune with.
    pub(super) fn gc_horizon(&self) -> TxnId {
        let horizon = horizon_of(&self.state.lock());
        self.gc_horizon_cache
            .fetch_max(horizon, std::sync::atomic::Ordering::Relaxed);
        horizon
    }

    /// A recent garbage-collection horizon, without locking: it only grows
    /// (gc invariant 2), so an old value is merely conservative.
    pub(super) fn cached_gc_horizon(&self) -> TxnId {
        self.gc_horizon_cache
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Persists the id counter so ids stay unique after a clean restart.
    pub fn flush(&self) -> Result<()> {
        let state = self.state.lock();
        self.engine
            .insert(META_TREE, NEXT_TXN_KEY, &state.reserved_until.to_be_bytes())?;
        drop(state);
        self.engine.flush()
    }
}

/// The garbage-collection horizon of a state (see `Mvcc::gc_horizon`): the
/// oldest running transaction, or the oldest `xmin` of a live snapshot
/// (invariant 6), whichever is smaller.
fn horizon_of(state: &TxnState) -> TxnId {
    let oldest_active = state.active.first().copied().unwrap_or(state.next_id);
    let oldest_snapshot = state
        .pinned
        .iter()
        .filter(|(_, weak)| weak.strong_count() > 0)
        .map(|(xmin, _)| *xmin)
        .min()
        .unwrap_or(state.next_id);
    oldest_active.min(oldest_snapshot)
}

/// Which of the `LOCK_STRIPES` stripes guards `key` of `tree`.
fn stripe_slot(tree: TreeId, key: &[u8]) -> usize {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    tree.hash(&mut hasher);
    key.hash(&mut hasher);
    (hasher.finish() as usize) % LOCK_STRIPES
}

/// Escapes a user key into its prefix-free, order-preserving form.
pub(super) fn encode_key(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 10);
    escape_key_into(key, &mut out);
    out
}

/// [`encode_key`], appended to `out`.
pub(super) fn escape_key_into(key: &[u8], out: &mut Vec<u8>) {
    for &byte in key {
        out.push(byte);
        if byte == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

/// Splits an engine key into the escaped user key part and the version.
pub(super) fn split_version(key: &[u8]) -> Result<(&[u8], TxnId)> {
    if key.len() < 10 {
        return Err(Error::Corrupt(format!(
            "MVCC key of {} bytes is too short",
            key.len()
        )));
    }
    let (user, version) = key.split_at(key.len() - 8);
    Ok((user, read_u64(version, "MVCC version")?))
}

pub(super) fn decode_key(escaped: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(escaped.len());
    decode_key_into(escaped, &mut out)?;
    Ok(out)
}

/// [`decode_key`] appending to `out`: the runs between escapes are copied
/// whole.
pub(super) fn decode_key_into(escaped: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let mut rest = escaped;
    loop {
        let Some(zero) = rest.iter().position(|&byte| byte == 0) else {
            return Err(Error::Corrupt("MVCC key without terminator".into()));
        };
        out.extend_from_slice(&rest[..zero]);
        match rest.get(zero + 1) {
            Some(0xFF) => {
                out.push(0);
                rest = &rest[zero + 2..];
            }
            Some(0) if zero + 2 == rest.len() => return Ok(()),
            _ => return Err(Error::Corrupt("malformed MVCC key escape".into())),
        }
    }
}

/// The transaction that wrote a stored version.
pub(super) fn version_writer(value: &[u8]) -> Result<TxnId> {
    match value.get(1..9) {
        Some(writer) => read_u64(writer, "MVCC version writer"),
        None => Err(Error::Corrupt(format!(
            "MVCC version of {} bytes is too short",
            value.len()
        ))),
    }
}

/// The row of a stored version, or `None` for a deletion.
pub(super) fn version_row(value: &[u8]) -> Result<Option<&[u8]>> {
    match value.first() {
        Some(&LIVE) if value.len() >= 9 => Ok(Some(&value[9..])),
        Some(&TOMBSTONE) if value.len() == 9 => Ok(None),
        _ => Err(Error::Corrupt("malformed MVCC version value".into())),
    }
}

/// A version's value: flag, writer, row.
pub(super) fn stored_version(flag: u8, writer: TxnId, row: &[u8]) -> Vec<u8> {
    let mut stored = Vec::with_capacity(9 + row.len());
    stored.push(flag);
    stored.extend_from_slice(&writer.to_be_bytes());
    stored.extend_from_slice(row);
    stored
}

/// The engine key of `encoded`'s version with `stamp`.
pub(super) fn versioned(encoded: &[u8], txn: TxnId) -> Vec<u8> {
    let mut key = encoded.to_vec();
    key.extend_from_slice(&txn.to_be_bytes());
    key
}

/// Maps a range of user keys to the range of engine keys holding their versions.
pub(super) fn engine_range(range: &KeyRange) -> KeyRange {
    let start = match &range.start {
        Bound::Included(key) => Bound::Included(versioned(&encode_key(key), 0)),
        Bound::Excluded(key) => Bound::Excluded(versioned(&encode_key(key), TxnId::MAX)),
        Bound::Unbounded => Bound::Unbounded,
    };
    let end = match &range.end {
        Bound::Included(key) => Bound::Included(versioned(&encode_key(key), TxnId::MAX)),
        Bound::Excluded(key) => Bound::Excluded(versioned(&encode_key(key), 0)),
        Bound::Unbounded => Bound::Unbounded,
    };
    KeyRange { start, end }
}

pub(super) const TOMBSTONE: u8 = 0;
pub(super) const LIVE: u8 = 1;

/// A running transaction. Dropping it without commit rolls it back.
pub struct Transaction {
    pub(super) mvcc: Arc<Mvcc>,
    pub(super) id: TxnId,
    isolation: IsolationLevel,
    /// The snapshot reads use (invariant 6: scans clone it).
    pub(super) snapshot: Arc<PinnedSnapshot>,
    /// Every key written with the stamp of its version, for rollback (each
    /// once, at its first write).
    pub(super) writes: Vec<(TreeId, Vec<u8>, TxnId)>,
    /// Relation locks held until the end (`relation_lock.rs`).
    pub(super) relation_locks: Vec<(u64, RelationLockMode)>,
    /// Trees created by this transaction: dropped again if it aborts.
    pub(super) created_trees: Vec<TreeId>,
    /// Trees this transaction dropped: freed only once it commits.
    pub(super) dropped_trees: Vec<TreeId>,
    /// While a savepoint is open: the stored bytes each overwrite of an own
    /// version replaced, for `rollback_to_savepoint`.
    pub(super) undo: Vec<Undo>,
    /// Open savepoints, oldest first (see `savepoint.rs`).
    pub(super) savepoints: Vec<(String, SavepointMarks)>,
    /// The link to SSI's read tracking and conflict graph, for a
    /// SERIALIZABLE transaction that needs it.
    pub(super) ssi: Option<SsiHandle>,
    /// SERIALIZABLE, not yet registered with SSI: the first statement or
    /// operation takes the snapshot and registers.
    ssi_pending: bool,
    /// `DEFERRABLE`: a SERIALIZABLE READ ONLY transaction waits for a safe
    /// snapshot at its first statement, then runs without SSI tracking.
    deferrable: bool,
    /// Whether `commit` waits for durability (see `set_synchronous_commit`).
    synchronous_commit: bool,
    /// How long a write waits for another transaction (`None`: no limit).
    pub(super) lock_timeout: Option<Duration>,
    /// `READ ONLY`: every write fails with 25006.
    read_only: bool,
    /// Declared to run queries only ([`Transaction::declare_queries_only`]):
    /// SSI treats it as read-only from its snapshot on, and its reads are
    /// not recorded for refresh. Invisible to SQL, unlike `read_only`.
    queries_only: bool,
    /// Statements begun so far (`begin_statement` calls).
    statements: u64,
    /// Read refresh (`refresh.rs`): reads to validate, statement marks.
    pub(super) refresh: RefreshState,
    /// Buffers of point reads, reused from one to the next.
    point_reader: PointReader,
    finished: bool,
}

impl Transaction {
    pub fn id(&self) -> TxnId {
        self.id
    }

    pub fn isolation(&self) -> IsolationLevel {
        self.isolation
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Called at the start of each statement. READ COMMITTED takes a new
    /// snapshot for each; the other levels take theirs at the first, as
    /// PostgreSQL does (a `BEGIN` long before the first query still sees
    /// what committed in between).
    pub fn begin_statement(&mut self) {
        self.statements += 1;
        if self.isolation == IsolationLevel::ReadCommitted {
            self.set_snapshot(self.mvcc.snapshot_for(self.id));
        } else if self.statements == 1 {
            self.take_snapshot();
        }
        self.start_statement_for_refresh();
    }

    /// Replaces the snapshot (before anything was read) and registers the
    /// transaction with SSI under it if it is SERIALIZABLE.
    fn take_snapshot(&mut self) {
        self.ssi_pending = false;
        if let Some(handle) = self.ssi.take() {
            self.mvcc.ssi.finished(&handle);
        }
        if self.isolation != IsolationLevel::Serializable {
            self.set_snapshot(self.mvcc.snapshot_for(self.id));
        } else if self.deferrable && self.read_only && !self.wrote() {
            // `SERIALIZABLE READ ONLY DEFERRABLE`: wait until a snapshot is
            // safe (no concurrent read-write transaction can make it part
            // of a dangerous structure); then no tracking is needed and no
            // serialization failure can happen, as in PostgreSQL.
            let mvcc = Arc::clone(&self.mvcc);
            let id = self.id;
            let snapshot = mvcc
                .ssi
                .wait_for_safe_snapshot(id, || mvcc.snapshot_for(id));
            self.set_snapshot(snapshot);
        } else {
            let read_only = (self.read_only || self.queries_only) && !self.wrote();
            let mvcc = Arc::clone(&self.mvcc);
            let id = self.id;
            let registered = mvcc
                .ssi
                .register(read_only, || Ok((id, mvcc.snapshot_for(id))));
            // Taking a snapshot cannot fail; only `begin`'s id reservation can.
            let (_, snapshot, handle) = registered.expect("invariant: snapshots cannot fail");
            self.set_snapshot(snapshot);
            self.ssi = handle;
        }
    }

    fn visible(&self, writer: TxnId) -> bool {
        visible(&self.mvcc, &self.snapshot, self.id, writer)
    }

    /// Registers a SERIALIZABLE transaction with SSI at its first operation
    /// when no statement did (callers of the API that skip
    /// `begin_statement`): the snapshot is taken then.
    fn ensure_ssi(&mut self) {
        if self.ssi_pending {
            self.take_snapshot();
        }
    }

    /// Reads the visible value of `key`.
    pub fn get(&mut self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut row = Vec::new();
        Ok(self.get_into(tree, key, &mut row)?.then_some(row))
    }

    /// [`Transaction::get`] into `row` (cleared first), a buffer the
    /// caller reuses; `false` if the key has no visible row.
    pub fn get_into(&mut self, tree: TreeId, key: &[u8], row: &mut Vec<u8>) -> Result<bool> {
        self.ensure_ssi();
        if let Some(handle) = &self.ssi {
            self.mvcc.ssi.read_point(handle, tree, key)?;
        }
        self.record_point_read(tree, key);
        let reader = Reader {
            mvcc: &self.mvcc,
            snapshot: &self.snapshot,
            id: self.id,
            serializable: self.ssi.is_some(),
        };
        self.point_reader.read(&reader, tree, key, row)
    }

    /// Scans the visible entries of a range of user keys.
    pub fn scan(&mut self, tree: TreeId, range: KeyRange, direction: Direction) -> MvccScan {
        self.ensure_ssi();
        let mut scan = MvccScan::raw(self, tree, engine_range(&range), direction);
        self.record_read(tree, range.clone());
        if let Some(handle) = &self.ssi
            && let Err(error) = self.mvcc.ssi.read_range(handle, tree, &range)
        {
            scan.fail(error);
        }
        scan
    }

    /// Up to `parts - 1` user keys inside `range`, ascending, that split it
    /// into parts of roughly equal size (`Engine::split_keys`), to scan the
    /// parts in parallel ([`Transaction::scan_part`]).
    pub fn split_range(
        &self,
        tree: TreeId,
        range: &KeyRange,
        parts: usize,
    ) -> Result<Vec<Vec<u8>>> {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for engine_key in self
            .mvcc
            .engine
            .split_keys(tree, &engine_range(range), parts)?
        {
            let (escaped, _) = split_version(&engine_key)?;
            let key = decode_key(escaped)?;
            // Versions of one user key may straddle a separator.
            if range.contains(&key) && keys.last().is_none_or(|last| *last < key) {
                keys.push(key);
            }
        }
        Ok(keys)
    }

    /// Scans part of a range that [`Transaction::scan`] opened in this
    /// statement: the same snapshot, and the read is not registered again
    /// (the whole range was, with SSI and for read refresh), so the parts
    /// may be read on other threads.
    pub fn scan_part(&self, tree: TreeId, range: KeyRange, direction: Direction) -> MvccScan {
        MvccScan::raw(self, tree, engine_range(&range), direction)
    }

    /// Writes `value` under `key`.
    pub fn set(&mut self, tree: TreeId, key: &[u8], value: &[u8]) -> Result<()> {
        self.write(
            tree,
            key,
            &stored_version(LIVE, self.id, value),
            WriteCheck::Snapshot,
        )
    }

    /// Deletes `key` (writes a tombstone version).
    pub fn delete(&mut self, tree: TreeId, key: &[u8]) -> Result<()> {
        self.write(
            tree,
            key,
            &stored_version(TOMBSTONE, self.id, &[]),
            WriteCheck::Snapshot,
        )
    }

    /// 40001 for a write this statement needs that a transaction its
    /// snapshot does not see got first (a unique key an upsert arbitrates):
    /// like a lost write–write conflict, read refresh may run the statement
    /// again on a newer snapshot (`refresh.rs`).
    pub fn lose_conflict(&mut self, what: &str) -> Error {
        self.refresh.lost_conflict = true;
        Error::Serialization(what.into())
    }

    /// Replaces the snapshot.
    pub(super) fn set_snapshot(&mut self, snapshot: Arc<PinnedSnapshot>) {
        self.snapshot = snapshot;
    }

    pub(super) fn write(
        &mut self,
        tree: TreeId,
        key: &[u8],
        stored: &[u8],
        check: WriteCheck,
    ) -> Result<()> {
        if self.read_only {
            // The SQL layer refuses the statement first, naming it.
            return Err(Error::sql(
                SqlState::READ_ONLY_SQL_TRANSACTION,
                "cannot write in a read-only transaction",
            ));
        }
        if self.queries_only {
            // Its reads went untracked: a write now could complete a
            // dangerous structure SSI cannot see (invariant 7).
            return Err(Error::Internal(
                "a transaction declared to run queries only tried to write".into(),
            ));
        }
        self.ensure_ssi();
        let mvcc = Arc::clone(&self.mvcc);
        if let Some(handle) = &self.ssi {
            mvcc.ssi.check(handle)?;
        }
        loop {
            let guard = mvcc.stripe(tree, key).lock();
            match self.write_unless_blocked(tree, key, stored, check)? {
                None => return Ok(()),
                Some(holder) => {
                    // Another transaction's version is uncommitted: wait for
                    // it to end (without the stripe), then look again.
                    drop(guard);
                    mvcc.waits.wait_for(
                        self.id,
                        holder,
                        || mvcc.state.lock().active.contains(&holder),
                        self.lock_timeout,
                    )?;
                }
            }
        }
    }

    /// The write–write check and the write, under the key's stripe; returns
    /// the running transaction whose version blocks the write, if one does.
    fn write_unless_blocked(
        &mut self,
        tree: TreeId,
        key: &[u8],
        stored: &[u8],
        check: WriteCheck,
    ) -> Result<Option<TxnId>> {
        let mvcc = Arc::clone(&self.mvcc);
        let encoded = encode_key(key);
        let range = KeyRange {
            start: Bound::Included(versioned(&encoded, 0)),
            end: Bound::Included(versioned(&encoded, TxnId::MAX)),
        };
        let mut own = None;
        // The largest stamp of the key (its first version scanned).
        let mut newest_stamp = None;
        // The newest version every snapshot sees, if the check stops there:
        // everything older is garbage (`gc.rs`) and goes with this write.
        let mut base_for_all = false;
        let mut scan = crate::storage::scan(mvcc.engine.as_ref(), tree, range, Direction::Backward);
        for entry in &mut scan {
            let (engine_key, value) = entry?;
            let (_, stamp) = split_version(&engine_key)?;
            newest_stamp.get_or_insert(stamp);
            let writer = version_writer(&value)?;
            if writer == self.id {
                own = Some((stamp, value));
                break;
            }
            let mut status = mvcc.status(writer);
            if status == STATUS_UNKNOWN {
                if mvcc.state.lock().active.contains(&writer) {
                    return Ok(Some(writer));
                }
                // It ended: a final status is set before a transaction
                // leaves the active set, so read it again now (the first
                // read may predate it). Still unknown: it was running when
                // the process last stopped and never committed.
                status = mvcc.status(writer);
            }
            match status {
                STATUS_ABORTED | STATUS_UNKNOWN => continue,
                STATUS_COMMITTED if check == WriteCheck::Entry && !mvcc.is_active(writer) => {
                    base_for_all = writer < mvcc.cached_gc_horizon();
                    break;
                }
                STATUS_COMMITTED if self.visible(writer) => {
                    base_for_all = writer < mvcc.cached_gc_horizon();
                    break;
                }
                // Committed but not yet durable, so still in the active set:
                // no snapshot can see it yet, so a refresh could not help.
                // Wait for it to end, as for a running writer.
                STATUS_COMMITTED if mvcc.is_active(writer) => return Ok(Some(writer)),
                _ => {
                    // Committed after our snapshot: the statement may run
                    // again on a newer one (`refresh.rs`).
                    self.refresh.lost_conflict = true;
                    return Err(Error::Serialization("concurrent update".into()));
                }
            }
        }
        // Pruning as in `gc.rs` (invariant 1 there), under the stripe.
        let mut garbage = Vec::new();
        if base_for_all {
            for entry in &mut scan {
                garbage.push(entry?.0);
            }
        }
        drop(scan);
        for engine_key in garbage {
            mvcc.engine.delete(tree, &engine_key)?;
        }
        // An own version is overwritten in place: nobody else can have
        // written the key since (they wait for us).
        let stamp = match (&own, newest_stamp) {
            (Some((stamp, _)), _) => *stamp,
            (None, Some(newest)) => newest
                .checked_add(1)
                .ok_or_else(|| Error::Corrupt("MVCC version stamp overflow".into()))?,
            (None, None) => self.id,
        };
        mvcc.engine
            .insert(tree, &versioned(&encoded, stamp), stored)?;
        match own {
            None => self.writes.push((tree, key.to_vec(), stamp)),
            Some((_, previous)) if !self.savepoints.is_empty() || self.refresh.marks.is_some() => {
                self.undo.push(Undo {
                    tree,
                    key: key.to_vec(),
                    stamp,
                    previous,
                });
            }
            Some(_) => {}
        }
        if let Some(handle) = &self.ssi {
            // After the version is in the tree (predicate invariant 1).
            mvcc.ssi.wrote(handle, tree, key)?;
        }
        Ok(None)
    }

    /// Creates an empty tree that is dropped again if this transaction aborts.
    pub fn create_tree(&mut self) -> Result<TreeId> {
        let tree = self.mvcc.allocate_tree_id()?;
        self.mvcc.engine.create_tree(tree)?;
        self.created_trees.push(tree);
        Ok(tree)
    }

    /// Drops a tree once this transaction commits.
    pub fn drop_tree(&mut self, tree: TreeId) {
        self.dropped_trees.push(tree);
    }

    /// Whether this transaction changed anything (versions or trees).
    fn wrote(&self) -> bool {
        !self.writes.is_empty() || !self.created_trees.is_empty() || !self.dropped_trees.is_empty()
    }

    /// Whether `commit` waits until the commit is durable (the default), or
    /// returns at once and lets the background writer flush it within a
    /// bounded delay (PostgreSQL's `synchronous_commit = off`).
    pub fn set_synchronous_commit(&mut self, synchronous: bool) {
        self.synchronous_commit = synchronous;
    }

    /// Changes the isolation level (SQL `SET TRANSACTION ISOLATION LEVEL`),
    /// which is only possible before the first statement; the snapshot is
    /// taken afresh.
    pub fn set_isolation(&mut self, isolation: IsolationLevel) -> Result<()> {
        if self.statements > 0 {
            return Err(Error::sql(
                SqlState::ACTIVE_SQL_TRANSACTION,
                "SET TRANSACTION ISOLATION LEVEL must be called before any query",
            ));
        }
        self.isolation = isolation;
        self.take_snapshot();
        Ok(())
    }

    /// Makes the transaction `READ ONLY` (any time) or `READ WRITE` (only
    /// before the first statement of a read-only one), as in PostgreSQL.
    pub fn set_read_only(&mut self, read_only: bool) -> Result<()> {
        if self.read_only && !read_only && self.statements > 0 {
            return Err(Error::sql(
                SqlState::ACTIVE_SQL_TRANSACTION,
                "transaction read-write mode must be set before any query",
            ));
        }
        self.read_only = read_only;
        if let Some(handle) = &self.ssi {
            // Only a transaction that has not written counts as read-only.
            self.mvcc
                .ssi
                .set_read_only(handle, read_only && !self.wrote());
        }
        Ok(())
    }

    /// Makes the transaction `DEFERRABLE` or not; only before its first
    /// statement (SQLSTATE 25001 after, even to the same value), as in
    /// PostgreSQL. It matters only
    /// for a SERIALIZABLE READ ONLY transaction (see `take_snapshot`).
    pub fn set_deferrable(&mut self, deferrable: bool) -> Result<()> {
        if self.statements > 0 {
            return Err(Error::sql(
                SqlState::ACTIVE_SQL_TRANSACTION,
                "SET TRANSACTION [NOT] DEFERRABLE must be called before any query",
            ));
        }
        self.deferrable = deferrable;
        Ok(())
    }

    pub fn is_deferrable(&self) -> bool {
        self.deferrable
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Declares, before its first statement, that the transaction will run
    /// queries only and never write: an autocommit SELECT. SSI then
    /// registers it as read-only, so that under a safe snapshot (no
    /// concurrent read-write serializable transaction) it is not tracked at
    /// all, and its reads are not recorded for read refresh, which only a
    /// writer can need. A write afterwards fails with an internal error
    /// (invariant 7). Unlike `READ ONLY` it is not visible to SQL
    /// (`transaction_read_only` stays off), and PostgreSQL has no
    /// counterpart: it tracks every serializable transaction not declared
    /// `READ ONLY`.
    pub fn declare_queries_only(&mut self) -> Result<()> {
        if self.statements > 0 || self.wrote() {
            return Err(Error::Internal(
                "queries-only declared after the transaction's first statement".into(),
            ));
        }
        self.queries_only = true;
        Ok(())
    }

    pub fn is_queries_only(&self) -> bool {
        self.queries_only
    }

    /// How long a write may wait for another transaction's uncommitted
    /// version before failing with 55P03 (PostgreSQL's `lock_timeout`;
    /// `None`, the default, waits as long as it takes).
    pub fn set_lock_timeout(&mut self, timeout: Option<Duration>) {
        self.lock_timeout = timeout;
    }

    /// Commits: from now on every new snapshot sees this transaction's writes.
    ///
    /// The commit-log update is logged, then (for a synchronous commit) the
    /// log is flushed up to it, and only then does the transaction leave the
    /// active set: no other transaction can see its writes before they are
    /// durable. A transaction that wrote nothing just ends: there is nothing
    /// to make durable or visible.
    pub fn commit(mut self) -> Result<()> {
        let mvcc = Arc::clone(&self.mvcc);
        if let Some(handle) = &self.ssi {
            // On failure the transaction is dropped, which rolls it back.
            mvcc.ssi.precommit(handle, self.wrote())?;
        }
        self.finished = true;
        if !self.wrote() {
            mvcc.end_transaction(self.id);
            if self.release_relation_locks() {
                mvcc.waits.finished();
            }
            self.end_ssi();
            return Ok(());
        }
        // The id stays in the active set until the end, so snapshots taken
        // meanwhile treat it as running whatever its status says: the
        // status change needs no lock against snapshot taking.
        let position = match mvcc.set_status(self.id, STATUS_COMMITTED) {
            Ok(position) => position,
            Err(error) => {
                self.finished = false;
                return Err(error);
            }
        };
        if self.synchronous_commit {
            // Group commit: concurrent committers share one fsync. On failure
            // the storage engine is unusable (fatal) and the transaction stays
            // invisible, active until the process stops.
            mvcc.engine.wait_durable(position)?;
        }
        mvcc.end_transaction(self.id);
        self.release_relation_locks();
        mvcc.waits.finished();
        self.end_ssi();
        mvcc.writes_committed.fetch_add(
            self.writes.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        mvcc.changes.add_committed(&self.writes);
        for tree in std::mem::take(&mut self.dropped_trees) {
            mvcc.changes.forget(tree);
            mvcc.engine.drop_tree(tree)?;
        }
        Ok(())
    }

    /// Rolls back: every version this transaction wrote is removed.
    pub fn rollback(mut self) -> Result<()> {
        self.abort()
    }

    fn abort(&mut self) -> Result<()> {
        self.finished = true;
        let mvcc = Arc::clone(&self.mvcc);
        let mut first_error = None;
        // Marking aborted first makes the versions invisible and skippable
        // even if deleting them fails part-way. A transaction that wrote
        // nothing needs no status: unknown and not active reads as aborted.
        if self.wrote()
            && let Err(error) = mvcc.set_status(self.id, STATUS_ABORTED)
        {
            first_error.get_or_insert(error);
        }
        for (tree, key, stamp) in std::mem::take(&mut self.writes) {
            if self.created_trees.contains(&tree) {
                continue;
            }
            if let Err(error) = mvcc
                .engine
                .delete(tree, &versioned(&encode_key(&key), stamp))
            {
                first_error.get_or_insert(error);
            }
        }
        for tree in std::mem::take(&mut self.created_trees) {
            if let Err(error) = mvcc.engine.drop_tree(tree) {
                first_error.get_or_insert(error);
            }
        }
        mvcc.end_transaction(self.id);
        self.release_relation_locks();
        mvcc.waits.finished();
        self.end_ssi();
        first_error.map_or(Ok(()), Err)
    }

    /// Releases the relation locks (after the transaction left the active
    /// set: relation-lock invariant 1) and wakes their waiters.
    /// Returns whether it held any (whose waiters `WaitGraph::finished`
    /// must then wake).
    fn release_relation_locks(&mut self) -> bool {
        if self.relation_locks.is_empty() {
            return false;
        }
        let locks = std::mem::take(&mut self.relation_locks);
        self.mvcc.relation_locks.release(self.id, &locks);
        true
    }

    /// Tells SSI the transaction ended (after it left the active set).
    fn end_ssi(&mut self) {
        if let Some(handle) = self.ssi.take() {
            self.mvcc.ssi.finished(&handle);
        }
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if !self.finished
            && let Err(error) = self.abort()
        {
            tracing::error!(txn = self.id, %error, "rollback of dropped transaction failed");
        }
    }
}

pub(super) fn visible(mvcc: &Mvcc, snapshot: &Snapshot, reader: TxnId, writer: TxnId) -> bool {
    if writer == reader {
        return true;
    }
    if writer >= snapshot.horizon || snapshot.active.contains(&writer) {
        return false;
    }
    mvcc.status(writer) == STATUS_COMMITTED
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::storage::MemoryEngine;

    /// An MVCC manager over a memory engine with tree 7 (shared by the
    /// transaction layer's unit tests).
    pub(in crate::txn) fn setup() -> Arc<Mvcc> {
        let engine = Arc::new(MemoryEngine::new());
        engine.create_tree(7).unwrap();
        Mvcc::open(engine).unwrap()
    }

    #[test]
    fn snapshot_isolation_and_own_writes() {
        let mvcc = setup();
        let mut writer = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        writer.set(7, b"a", b"1").unwrap();
        assert_eq!(writer.get(7, b"a").unwrap(), Some(b"1".to_vec()));
        let mut reader = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        assert_eq!(
            reader.get(7, b"a").unwrap(),
            None,
            "uncommitted writes are invisible"
        );
        writer.commit().unwrap();
        assert_eq!(
            reader.get(7, b"a").unwrap(),
            None,
            "commit after the snapshot is invisible"
        );
        let mut later = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        assert_eq!(later.get(7, b"a").unwrap(), Some(b"1".to_vec()));
        later.delete(7, b"a").unwrap();
        assert_eq!(later.get(7, b"a").unwrap(), None);
        let all: Vec<_> = later.scan(7, KeyRange::all(), Direction::Forward).collect();
        assert!(all.is_empty());
        later.rollback().unwrap();
        let mut after = mvcc.begin(IsolationLevel::ReadCommitted).unwrap();
        assert_eq!(
            after.get(7, b"a").unwrap(),
            Some(b"1".to_vec()),
            "rollback undid the delete"
        );
    }

    #[test]
    fn a_point_read_pages_past_more_newer_versions_than_one_engine_batch() {
        let mvcc = setup();
        let mut first = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        first.set(7, b"k\0x", b"old").unwrap();
        first.commit().unwrap();
        let mut reader = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        assert_eq!(reader.get(7, b"k\0x").unwrap(), Some(b"old".to_vec()));
        // Three engine batches of versions the reader's snapshot cannot see,
        // the last a deletion.
        for round in 0..3 * 8 {
            let mut writer = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
            match round {
                23 => writer.delete(7, b"k\0x").unwrap(),
                _ => writer
                    .set(7, b"k\0x", format!("new {round}").as_bytes())
                    .unwrap(),
            }
            writer.commit().unwrap();
        }
        let mut row = b"stale".to_vec();
        assert!(reader.get_into(7, b"k\0x", &mut row).unwrap());
        assert_eq!(row, b"old", "the snapshot's version, below 24 newer ones");
        assert!(
            !reader.get_into(7, b"k\0", &mut row).unwrap(),
            "a prefix is another key"
        );
        assert!(row.is_empty());
        let mut late = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        assert_eq!(
            late.get(7, b"k\0x").unwrap(),
            None,
            "the newest is the deletion"
        );
    }

    #[test]
    fn queries_only_transactions_go_untracked_under_a_safe_snapshot_and_never_write() {
        let mvcc = setup();
        let mut setup_txn = mvcc.begin(IsolationLevel::Serializable).unwrap();
        setup_txn.set(7, b"a", b"1").unwrap();
        setup_txn.commit().unwrap();
        let locks = |mvcc: &Mvcc| mvcc.read_lock_counts().locks;

        // Alone: the snapshot is safe, so nothing is tracked and no read
        // is recorded for refresh.
        let mut query = mvcc.begin(IsolationLevel::Serializable).unwrap();
        query.declare_queries_only().unwrap();
        query.begin_statement();
        assert_eq!(query.get(7, b"a").unwrap(), Some(b"1".to_vec()));
        let _ = query.scan(7, KeyRange::all(), Direction::Forward).count();
        assert!(query.ssi.is_none(), "a safe snapshot is not tracked");
        assert_eq!(locks(&mvcc), 0);
        assert!(query.refresh.reads.is_empty());
        // A write is refused as the bug it would be (invariant 7).
        let error = query.set(7, b"b", b"2").unwrap_err();
        assert_eq!(error.sqlstate(), SqlState::INTERNAL_ERROR, "{error}");
        assert_eq!(query.get(7, b"b").unwrap(), None);
        query.commit().unwrap();

        // The same undeclared, or beside a running read-write transaction:
        // tracked (the latter as read-only, for the read-only refinement).
        let mut plain = mvcc.begin(IsolationLevel::Serializable).unwrap();
        plain.begin_statement();
        plain.get(7, b"a").unwrap();
        assert!(plain.ssi.is_some());
        assert_eq!(locks(&mvcc), 1);
        assert_eq!(plain.refresh.reads.len(), 1);
        plain.commit().unwrap();
        let mut writer = mvcc.begin(IsolationLevel::Serializable).unwrap();
        writer.set(7, b"c", b"3").unwrap();
        let mut query = mvcc.begin(IsolationLevel::Serializable).unwrap();
        query.declare_queries_only().unwrap();
        query.begin_statement();
        query.get(7, b"a").unwrap();
        assert!(query.ssi.is_some(), "not safe while a writer runs");
        assert!(locks(&mvcc) >= 1);
        assert!(query.refresh.reads.is_empty(), "still nothing to refresh");
        query.commit().unwrap();
        writer.commit().unwrap();

        // Only before the first statement.
        let mut late = mvcc.begin(IsolationLevel::Serializable).unwrap();
        late.begin_statement();
        assert!(late.declare_queries_only().is_err());
        late.rollback().unwrap();
    }

    #[test]
    fn read_only_transactions_refuse_writes_and_modes_change_only_before_a_statement() {
        let mvcc = setup();
        let mut txn = mvcc.begin(IsolationLevel::ReadCommitted).unwrap();
        txn.set_read_only(true).unwrap();
        let error = txn.set(7, b"k", b"v").unwrap_err();
        assert_eq!(error.sqlstate().code(), "25006");
        txn.set_isolation(IsolationLevel::Serializable).unwrap();
        assert_eq!(txn.isolation(), IsolationLevel::Serializable);
        txn.begin_statement();
        let error = txn
            .set_isolation(IsolationLevel::ReadCommitted)
            .unwrap_err();
        assert_eq!(error.sqlstate().code(), "25001");
        assert_eq!(
            txn.set_read_only(false).unwrap_err().sqlstate().code(),
            "25001"
        );
        txn.set_read_only(true).unwrap();
        txn.commit().unwrap();
    }

    #[test]
    fn first_updater_wins() {
        let mvcc = setup();
        let mut first = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        let mut second = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        first.set(7, b"k", b"1").unwrap();
        // An uncommitted version makes the second writer wait (here bounded,
        // as both run on this thread; `txn::wait` tests the waiting itself).
        second.set_lock_timeout(Some(std::time::Duration::from_millis(10)));
        let error = second.set(7, b"k", b"2").unwrap_err();
        assert_eq!(error.sqlstate().code(), "55P03");
        first.commit().unwrap();
        // Committed after second's snapshot: still a conflict.
        assert!(matches!(
            second.set(7, b"k", b"3"),
            Err(Error::Serialization(_))
        ));
        second.rollback().unwrap();
        let mut third = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        third.set(7, b"k", b"4").unwrap();
        third.commit().unwrap();
    }

    #[test]
    fn scans_merge_versions_and_keys_with_zero_bytes() {
        let mvcc = setup();
        let mut txn = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        for key in [&b"a\0b"[..], b"a", b"a\0", b"b"] {
            txn.set(7, key, key).unwrap();
        }
        txn.commit().unwrap();
        let mut txn = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        txn.set(7, b"a", b"new").unwrap();
        let forward: Vec<_> = txn
            .scan(7, KeyRange::all(), Direction::Forward)
            .map(|e| e.unwrap())
            .collect();
        let keys: Vec<&[u8]> = forward.iter().map(|(k, _)| k.as_slice()).collect();
        assert_eq!(keys, vec![&b"a"[..], b"a\0", b"a\0b", b"b"]);
        assert_eq!(forward[0].1, b"new");
        let backward_entries: Vec<_> = txn
            .scan(7, KeyRange::all(), Direction::Backward)
            .map(|e| e.unwrap())
            .collect();
        assert_eq!(
            backward_entries.last().unwrap().1,
            b"new",
            "newest own version wins backwards too"
        );
        let backward: Vec<_> = backward_entries.into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            backward,
            vec![
                b"b".to_vec(),
                b"a\0b".to_vec(),
                b"a\0".to_vec(),
                b"a".to_vec()
            ]
        );
    }

    #[test]
    fn reads_of_a_key_with_a_long_history_see_the_right_version() {
        let mvcc = setup();
        for round in 0..300u32 {
            let mut txn = mvcc.begin(IsolationLevel::ReadCommitted).unwrap();
            txn.set(7, b"hot", &round.to_be_bytes()).unwrap();
            txn.set(7, b"cold", b"c").unwrap();
            txn.commit().unwrap();
        }
        let mut old = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        let mut writer = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        writer.set(7, b"hot", b"uncommitted").unwrap();
        writer.delete(7, b"cold").unwrap();
        assert_eq!(
            old.get(7, b"hot").unwrap(),
            Some(299u32.to_be_bytes().to_vec())
        );
        assert_eq!(
            writer.get(7, b"hot").unwrap(),
            Some(b"uncommitted".to_vec())
        );
        assert_eq!(writer.get(7, b"cold").unwrap(), None);
        let old_keys: Vec<_> = old
            .scan(7, KeyRange::all(), Direction::Backward)
            .map(|e| e.unwrap().0)
            .collect();
        assert_eq!(old_keys, vec![b"hot".to_vec(), b"cold".to_vec()]);
        let writer_keys: Vec<_> = writer
            .scan(7, KeyRange::all(), Direction::Backward)
            .map(|e| e.unwrap().0)
            .collect();
        assert_eq!(
            writer_keys,
            vec![b"hot".to_vec()],
            "the deleted key is skipped with its history"
        );
    }

    #[test]
    fn aborted_and_crashed_transactions_stay_invisible_after_reopen() {
        let engine: Arc<dyn Engine> = Arc::new(MemoryEngine::new());
        engine.create_tree(7).unwrap();
        let mvcc = Mvcc::open(Arc::clone(&engine)).unwrap();
        let mut committed = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        committed.set(7, b"c", b"1").unwrap();
        committed.commit().unwrap();
        let mut unfinished = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        unfinished.set(7, b"u", b"1").unwrap();
        // Simulate a stop without rollback: forget the transaction.
        unfinished.finished = true;
        drop(unfinished);
        drop(mvcc);
        let reopened = Mvcc::open(engine).unwrap();
        let mut txn = reopened.begin(IsolationLevel::RepeatableRead).unwrap();
        assert_eq!(txn.get(7, b"c").unwrap(), Some(b"1".to_vec()));
        assert_eq!(txn.get(7, b"u").unwrap(), None);
        // And its leftover version does not block new writers.
        txn.set(7, b"u", b"2").unwrap();
        txn.commit().unwrap();
    }
}

#[cfg(test)]
mod durability_tests {
    use super::*;
    use crate::storage::BTreeEngine;

    #[test]
    fn read_only_transactions_log_nothing_and_writers_log_their_commit() {
        let directory = tempfile::tempdir().unwrap();
        let engine = Arc::new(BTreeEngine::open(&crate::Config::new(directory.path())).unwrap());
        let mvcc = Mvcc::open(Arc::clone(&engine) as Arc<dyn Engine>).unwrap();
        let mut setup = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        let tree = setup.create_tree().unwrap();
        setup.set(tree, b"k", b"v").unwrap();
        setup.commit().unwrap();
        let before = engine.log_position();
        let mut reader = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        assert_eq!(reader.get(tree, b"k").unwrap(), Some(b"v".to_vec()));
        reader.commit().unwrap();
        let mut reader = mvcc.begin(IsolationLevel::ReadCommitted).unwrap();
        assert!(reader.get(tree, b"nothing").unwrap().is_none());
        reader.rollback().unwrap();
        assert_eq!(engine.log_position(), before, "read-only work logs nothing");
        // A writer's commit is logged and durable when commit returns.
        let mut writer = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        writer.set(tree, b"k", b"w").unwrap();
        writer.commit().unwrap();
        assert!(engine.log_position() > before);
        assert!(engine.wal().flushed_lsn() >= engine.log_position());
    }
}
