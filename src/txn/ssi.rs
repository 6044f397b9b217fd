//! Serializable Snapshot Isolation: the rw-antidependency graph of the
//! running SERIALIZABLE transactions and the dangerous-structure test
//! (Cahill, Röhm, Fekete 2008; Ports & Grittner 2012, the design of
//! PostgreSQL's SSI).
//!
//! Under snapshot isolation every anomaly contains two consecutive
//! rw-antidependencies between concurrent transactions, a *dangerous
//! structure*, in which the last transaction commits first:
//!
//! ```text
//!        rw            rw                T1 read a version T2 overwrote;
//!   T1 ───────► T2 ───────► T3           T2 read a version T3 overwrote;
//!   (in)      (pivot)      (out)         T3 committed before T1 and T2.
//!   T1 may be T3 (write skew: two transactions, each overwrote what the other read).
//! ```
//!
//! Edges come from both sides: a writer asks the read locks
//! (`predicate.rs`) who read the key it wrote (`reader →rw writer`), and a
//! reader that skips a version its snapshot cannot see, written by a
//! concurrent transaction, learns `reader →rw writer` from the version
//! itself. Only SERIALIZABLE transactions take part, and only pairs that are
//! concurrent (neither's snapshot saw the other end).
//!
//! Refinements from the papers, as in PostgreSQL:
//! - *Commit order*: a structure is dangerous only if T3 commits before T1
//!   and T2 (T1 = T3 counts); until then the edges are just remembered.
//! - *Read-only T1*: if T1 is read-only (declared, or committed without
//!   writing), the structure is dangerous only if T3 committed before T1's
//!   snapshot (Fekete, O'Neil, O'Neil 2004).
//! - *Safe snapshots*: a READ ONLY transaction whose snapshot saw every
//!   read-write serializable transaction end can never be T1 of a dangerous
//!   structure; it is not tracked at all (`register` returns `None`).
//!   `READ ONLY DEFERRABLE` waits for such a snapshot (`wait_for_safe_snapshot`).
//! - *Victim*: the pivot T2, so that a retry does not meet the same
//!   conflict; if it already committed, the transaction whose operation
//!   completed the structure. A victim that is not the caller is *doomed*
//!   and fails with 40001 at its next operation or at commit.
//!
//! Commit order is the order in which transactions become visible, which
//! with group commit is not the order of their [`Ssi::precommit`] tests:
//! a transaction is *precommitted* when its test passes and *ends* when it
//! leaves the active set, once durable; both moments are numbered by one
//! clock. X certainly committed before Y only if X ended before Y
//! precommitted; wherever the order is uncertain, the structure counts as
//! dangerous.
//!
//! A committed transaction's node and read locks are kept while any running
//! serializable transaction is concurrent with it, then dropped; an edge
//! into a dropped transaction survives as `out_summary`, the earliest commit
//! among the dropped transactions it pointed to (PostgreSQL's summarised
//! conflicts).
//!
//! Invariants:
//! 1. Edges join nodes that are both present and concurrent; `ins` and
//!    `outs` mirror each other.
//! 2. Every dangerous structure among present nodes has a doomed pivot, or
//!    the transaction that completed it fails before it can commit.
//! 3. A node is dropped only when it committed, left the active set, and
//!    every uncommitted node's snapshot saw it end: no future edge can join
//!    it to a running transaction.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::{Condvar, Mutex};

use super::mvcc::{PinnedSnapshot, Snapshot, TxnId};
use super::predicate::{HeldLocks, ReadLockCounts, ReadLocks};
use crate::error::{Error, Result};
use crate::storage::{KeyRange, TreeId};

/// PostgreSQL's message for a serialization failure found by SSI, after
/// the "could not serialize access due to " that `Error::Serialization`
/// puts in front.
const MESSAGE: &str = "read/write dependencies among transactions";

/// The SSI state shared by all transactions.
#[derive(Default)]
pub struct Ssi {
    graph: Mutex<Graph>,
    /// Signalled whenever a node commits or aborts (safe-snapshot waits).
    ended: Condvar,
    locks: ReadLocks,
}

#[derive(Default)]
struct Graph {
    nodes: HashMap<TxnId, Node>,
    /// The nodes that have not precommitted: the only ones that can still
    /// read or write, so the only ones `drop_finished` must ask.
    running: HashSet<TxnId>,
    /// Numbers precommits, ends and registrations, in order.
    clock: u64,
    /// Committed nodes in commit order, for dropping (invariant 3).
    committed: VecDeque<TxnId>,
}

struct Node {
    /// Not pinned (`PinnedSnapshot`): a committed node keeps it to decide
    /// concurrency, reads nothing with it, and must not hold back garbage
    /// collection for as long as it stays.
    snapshot: Arc<Snapshot>,
    /// `clock` when the node was registered (after its snapshot).
    begin_seq: u64,
    read_only: bool,
    /// `clock` at the passed precommit test.
    commit_seq: Option<u64>,
    /// `clock` when it left the active set after committing: snapshots
    /// taken from then on see it end (`finished` was called).
    ended_at: Option<u64>,
    wrote: bool,
    doomed: Arc<AtomicBool>,
    /// Why the node was doomed, for its error message.
    doom_reason: Option<String>,
    held: Arc<Mutex<HeldLocks>>,
    /// Transactions that read what this one wrote (`in →rw self`).
    ins: HashSet<TxnId>,
    /// Transactions that wrote what this one read (`self →rw out`).
    outs: HashSet<TxnId>,
    /// The earliest commit among dropped transactions in `outs`.
    out_summary: Option<u64>,
}

impl Node {
    /// Whether this node's snapshot saw `other` end.
    fn sees(&self, other: TxnId) -> bool {
        self.snapshot.saw_end(other)
    }

    fn effectively_read_only(&self) -> bool {
        self.read_only || (self.commit_seq.is_some() && !self.wrote)
    }
}

/// A serializable transaction's link to the SSI state.
pub struct SsiHandle {
    txn: TxnId,
    doomed: Arc<AtomicBool>,
    held: Arc<Mutex<HeldLocks>>,
}

impl Graph {
    fn node(&self, txn: TxnId) -> &Node {
        self.nodes
            .get(&txn)
            .expect("invariant 1: edges join present nodes")
    }

    fn concurrent(&self, a: TxnId, b: TxnId) -> bool {
        !self.node(a).sees(b) && !self.node(b).sees(a)
    }

    /// Whether `t1 →rw pivot →rw t3` is dangerous, where `t3` committed
    /// with sequence `s3` (`t3` is `None` for a dropped, summarised node).
    fn dangerous_t1(&self, t1: TxnId, t3: Option<TxnId>, s3: u64) -> bool {
        if Some(t1) == t3 {
            return true;
        }
        let node = self.node(t1);
        if node.ended_at.is_some_and(|ended| ended < s3) {
            // T1 certainly committed before T3.
            return false;
        }
        if node.effectively_read_only() {
            return match t3 {
                Some(t3) => node.sees(t3),
                None => s3 <= node.begin_seq,
            };
        }
        true
    }

    /// A dangerous structure with `pivot` in the middle, as `(t1, t3)`.
    fn dangerous_pivot(&self, pivot: TxnId) -> Option<(TxnId, Option<TxnId>)> {
        let node = self.node(pivot);
        if node.ins.is_empty() || node.doomed.load(Ordering::Relaxed) {
            return None;
        }
        let mut outs: Vec<(Option<TxnId>, u64)> = node
            .outs
            .iter()
            .filter_map(|out| self.node(*out).commit_seq.map(|seq| (Some(*out), seq)))
            .collect();
        outs.extend(node.out_summary.map(|seq| (None, seq)));
        for (t3, s3) in outs {
            if node.ended_at.is_some_and(|ended| ended < s3) {
                // The pivot certainly committed before T3.
                continue;
            }
            for t1 in &node.ins {
                if self.dangerous_t1(*t1, t3, s3) {
                    return Some((*t1, t3));
                }
            }
        }
        None
    }

    /// Resolves a dangerous structure found while `current` ran: the
    /// pivot aborts (now if it is `current`, else doomed) unless it already
    /// committed, in which case `current` does.
    fn resolve(
        &mut self,
        pivot: TxnId,
        current: TxnId,
        t1: TxnId,
        t3: Option<TxnId>,
    ) -> Result<()> {
        let t3_name = t3.map_or("an earlier transaction".to_string(), |t3| {
            format!("transaction {t3}")
        });
        let reason = format!(
            "{MESSAGE} (transaction {pivot} is the pivot: transaction {t1} read what it wrote, \
             and it read what {t3_name} overwrote and committed first)"
        );
        let pivot_node = self.nodes.get_mut(&pivot).expect("invariant 1");
        if pivot != current && pivot_node.commit_seq.is_none() {
            pivot_node.doomed.store(true, Ordering::Relaxed);
            pivot_node.doom_reason = Some(reason);
            return Ok(());
        }
        debug_assert!(
            current == pivot || current == t1 || Some(current) == t3,
            "invariant 2"
        );
        Err(Error::Serialization(reason))
    }

    /// Records `reader →rw writer`, found by `current` (one of the two).
    fn add_edge(&mut self, reader: TxnId, writer: TxnId, current: TxnId) -> Result<()> {
        if reader == writer
            || !self.nodes.contains_key(&reader)
            || !self.nodes.contains_key(&writer)
            || !self.concurrent(reader, writer)
        {
            return Ok(());
        }
        let reader_node = self.nodes.get_mut(&reader).expect("checked above");
        if !reader_node.outs.insert(writer) {
            return Ok(());
        }
        self.nodes
            .get_mut(&writer)
            .expect("checked above")
            .ins
            .insert(reader);
        for pivot in [writer, reader] {
            if let Some((t1, t3)) = self.dangerous_pivot(pivot) {
                self.resolve(pivot, current, t1, t3)?;
            }
        }
        Ok(())
    }

    /// Adds a running node for `handle`'s transaction.
    fn insert(&mut self, txn: TxnId, snapshot: Arc<Snapshot>, read_only: bool, handle: &SsiHandle) {
        self.running.insert(txn);
        let begin_seq = self.clock;
        self.nodes.insert(
            txn,
            Node {
                snapshot,
                begin_seq,
                read_only,
                commit_seq: None,
                ended_at: None,
                wrote: false,
                doomed: Arc::clone(&handle.doomed),
                doom_reason: None,
                held: Arc::clone(&handle.held),
                ins: HashSet::new(),
                outs: HashSet::new(),
                out_summary: None,
            },
        );
    }

    fn remove(&mut self, txn: TxnId) -> Option<Node> {
        let node = self.nodes.remove(&txn)?;
        self.running.remove(&txn);
        for reader in &node.ins {
            if let Some(reader) = self.nodes.get_mut(reader) {
                reader.outs.remove(&txn);
                if let Some(seq) = node.commit_seq {
                    reader.out_summary = Some(reader.out_summary.map_or(seq, |s| s.min(seq)));
                }
            }
        }
        for writer in &node.outs {
            if let Some(writer) = self.nodes.get_mut(writer) {
                writer.ins.remove(&txn);
            }
        }
        Some(node)
    }

    /// Drops committed nodes no running transaction is concurrent with
    /// (invariant 3); returns their read locks for release.
    fn drop_finished(&mut self) -> Vec<(TxnId, Arc<Mutex<HeldLocks>>)> {
        let mut released = Vec::new();
        while let Some(&oldest) = self.committed.front() {
            // A committed transaction still waiting for durability is in
            // the active set: snapshots taken meanwhile do not see it end,
            // so it must stay until it ended.
            let ended = self
                .nodes
                .get(&oldest)
                .is_some_and(|node| node.ended_at.is_some());
            let needed = !ended
                || self
                    .running
                    .iter()
                    .any(|running| !self.node(*running).sees(oldest));
            if needed {
                break;
            }
            self.committed.pop_front();
            if let Some(node) = self.remove(oldest) {
                released.push((oldest, node.held));
            }
        }
        released
    }
}

impl Ssi {
    /// The SIREAD locks held now and how often they coarsened.
    pub fn read_lock_counts(&self) -> ReadLockCounts {
        self.locks.counts()
    }

    /// Starts tracking a serializable transaction, or returns `None` for a
    /// read-only one whose snapshot is already safe.
    ///
    /// `start` takes the snapshot (and may allocate the id) while the graph
    /// is locked: otherwise a transaction that the snapshot does not see
    /// end could be dropped before the node exists (invariant 3).
    pub fn register(
        &self,
        read_only: bool,
        start: impl FnOnce() -> Result<(TxnId, Arc<PinnedSnapshot>)>,
    ) -> Result<(TxnId, Arc<PinnedSnapshot>, Option<SsiHandle>)> {
        let mut graph = self.graph.lock();
        let (txn, snapshot) = start()?;
        if read_only && self.safe(&graph, &snapshot) {
            return Ok((txn, snapshot, None));
        }
        let handle = SsiHandle {
            txn,
            doomed: Arc::new(AtomicBool::new(false)),
            held: Arc::new(Mutex::new(HeldLocks::default())),
        };
        graph.insert(txn, snapshot.shared(), read_only, &handle);
        Ok((txn, snapshot, Some(handle)))
    }

    /// Whether a read-only transaction with `snapshot` saw every read-write
    /// serializable transaction end.
    fn safe(&self, graph: &Graph, snapshot: &Snapshot) -> bool {
        graph
            .nodes
            .iter()
            .all(|(id, node)| node.effectively_read_only() || snapshot.saw_end(*id))
    }

    /// `READ ONLY DEFERRABLE`: waits until the snapshot `take_snapshot`
    /// returns is safe, so that transaction `txn` needs no tracking and can
    /// never fail with 40001; returns that snapshot.
    ///
    /// As in PostgreSQL, a snapshot is safe once every read-write
    /// serializable transaction concurrent with it has ended without an
    /// rw-antidependency to a transaction that committed before the
    /// snapshot; otherwise a fresh snapshot is tried. While it waits, `txn`
    /// is a node of its own, so the transactions it waits for stay in the
    /// graph after they commit (invariant 3) and can be inspected.
    pub fn wait_for_safe_snapshot(
        &self,
        txn: TxnId,
        take_snapshot: impl Fn() -> Arc<PinnedSnapshot>,
    ) -> Arc<PinnedSnapshot> {
        loop {
            let mut graph = self.graph.lock();
            let snapshot = take_snapshot();
            let begin_seq = graph.clock;
            let mut pending: Vec<TxnId> = graph
                .nodes
                .iter()
                .filter(|(id, node)| !node.effectively_read_only() && !snapshot.saw_end(**id))
                .map(|(id, _)| *id)
                .collect();
            if pending.is_empty() {
                return snapshot;
            }
            let waiter = SsiHandle {
                txn,
                doomed: Arc::new(AtomicBool::new(false)),
                held: Arc::new(Mutex::new(HeldLocks::default())),
            };
            graph.insert(txn, snapshot.shared(), true, &waiter);
            let mut unsafe_found = false;
            loop {
                pending.retain(|id| match graph.nodes.get(id) {
                    Some(node) if node.commit_seq.is_none() => true,
                    Some(node) => {
                        // Committed: unsafe if it read what a transaction
                        // committed before our snapshot overwrote.
                        unsafe_found |= node.outs.iter().any(|out| {
                            graph
                                .nodes
                                .get(out)
                                .and_then(|out| out.commit_seq)
                                .is_some_and(|seq| seq <= begin_seq)
                        }) || node.out_summary.is_some_and(|seq| seq <= begin_seq);
                        false
                    }
                    // Aborted: it never happened.
                    None => false,
                });
                if pending.is_empty() || unsafe_found {
                    break;
                }
                self.ended.wait(&mut graph);
            }
            graph.remove(txn);
            let released = graph.drop_finished();
            drop(graph);
            self.release(released);
            if !unsafe_found {
                return snapshot;
            }
        }
    }

    fn release(&self, released: Vec<(TxnId, Arc<Mutex<HeldLocks>>)>) {
        for (txn, held) in released {
            let held = std::mem::take(&mut *held.lock());
            self.locks.release(txn, held);
        }
    }

    /// Moves a node to a newer snapshot: at its first statement, or after a
    /// read refresh (`refresh.rs`), which checked that nothing it still
    /// counts as read changed in between. Its out-edges to transactions the
    /// new snapshot saw end came from reads that are discarded (they are
    /// no longer concurrent with it), so they go (invariant 1).
    pub fn refresh(&self, handle: &SsiHandle, snapshot: Arc<Snapshot>) {
        let mut graph = self.graph.lock();
        let begin_seq = graph.clock;
        let Some(node) = graph.nodes.get_mut(&handle.txn) else {
            return;
        };
        let stale: Vec<TxnId> = node
            .outs
            .iter()
            .filter(|out| snapshot.saw_end(**out))
            .copied()
            .collect();
        node.snapshot = snapshot;
        node.begin_seq = begin_seq;
        for out in &stale {
            node.outs.remove(out);
        }
        for out in stale {
            if let Some(writer) = graph.nodes.get_mut(&out) {
                writer.ins.remove(&handle.txn);
            }
        }
    }

    /// Records that a read-only flag changed (`SET TRANSACTION READ ONLY`).
    pub fn set_read_only(&self, handle: &SsiHandle, read_only: bool) {
        if let Some(node) = self.graph.lock().nodes.get_mut(&handle.txn) {
            node.read_only = read_only;
        }
    }

    /// Fails if the transaction was doomed by another's commit or read.
    pub fn check(&self, handle: &SsiHandle) -> Result<()> {
        if !handle.doomed.load(Ordering::Relaxed) {
            return Ok(());
        }
        let graph = self.graph.lock();
        let reason = graph
            .nodes
            .get(&handle.txn)
            .and_then(|node| node.doom_reason.clone())
            .unwrap_or_else(|| MESSAGE.to_string());
        Err(Error::Serialization(reason))
    }

    /// Registers a read of one key; call before reading it (predicate
    /// invariant 1).
    pub fn read_point(&self, handle: &SsiHandle, tree: TreeId, key: &[u8]) -> Result<()> {
        self.check(handle)?;
        self.locks
            .read_point(handle.txn, &mut handle.held.lock(), tree, key);
        Ok(())
    }

    /// Registers a read of a key range; call before scanning it.
    pub fn read_range(&self, handle: &SsiHandle, tree: TreeId, range: &KeyRange) -> Result<()> {
        self.check(handle)?;
        self.locks
            .read_range(handle.txn, &mut handle.held.lock(), tree, range);
        Ok(())
    }

    /// A read by `reader` skipped a version written by `writer`, which its
    /// snapshot cannot see and which did not abort: `reader →rw writer`.
    pub fn read_skipped(&self, reader: TxnId, writer: TxnId) -> Result<()> {
        self.graph.lock().add_edge(reader, writer, reader)
    }

    /// `writer` wrote `key` of `tree` (its version is already in the tree):
    /// every concurrent reader of the key gets `reader →rw writer`.
    pub fn wrote(&self, handle: &SsiHandle, tree: TreeId, key: &[u8]) -> Result<()> {
        self.check(handle)?;
        let readers = self.locks.readers(tree, key);
        if readers.iter().all(|reader| *reader == handle.txn) {
            return Ok(());
        }
        let mut graph = self.graph.lock();
        for reader in readers {
            graph.add_edge(reader, handle.txn, handle.txn)?;
        }
        Ok(())
    }

    /// The test just before a commit is logged: fails if the transaction is
    /// doomed or the pivot of a dangerous structure; dooms each pivot for
    /// which this commit is the first of T3; then fixes the commit order.
    pub fn precommit(&self, handle: &SsiHandle, wrote: bool) -> Result<()> {
        let mut graph = self.graph.lock();
        let txn = handle.txn;
        if let Some(node) = graph.nodes.get(&txn)
            && node.doomed.load(Ordering::Relaxed)
        {
            let reason = node.doom_reason.clone().unwrap_or_else(|| MESSAGE.into());
            return Err(Error::Serialization(reason));
        }
        if let Some((t1, t3)) = graph.dangerous_pivot(txn) {
            graph.resolve(txn, txn, t1, t3)?;
        }
        // This commit may come first as T3: each pivot reading what we
        // wrote that has not certainly committed yet, read by a read-write
        // T1 that has not either (or by us), makes a dangerous structure. A
        // read-only T1 took its snapshot before this commit: no danger. A
        // running pivot is doomed; one already precommitted cannot be, so
        // this transaction fails instead.
        let node = graph.node(txn);
        let mut victims = Vec::new();
        for pivot in &node.ins {
            let pivot_node = graph.node(*pivot);
            if pivot_node.ended_at.is_some() || pivot_node.doomed.load(Ordering::Relaxed) {
                continue;
            }
            let t1 = pivot_node.ins.iter().find(|t1| {
                let t1_node = graph.node(**t1);
                **t1 == txn
                    || (t1_node.ended_at.is_none()
                        && !t1_node.effectively_read_only()
                        && !t1_node.doomed.load(Ordering::Relaxed))
            });
            if let Some(t1) = t1 {
                if pivot_node.commit_seq.is_some() {
                    let (pivot, t1) = (*pivot, *t1);
                    return graph.resolve(pivot, txn, t1, Some(txn));
                }
                victims.push(*pivot);
            }
        }
        for pivot in victims {
            let node = graph.nodes.get_mut(&pivot).expect("invariant 1");
            node.doomed.store(true, Ordering::Relaxed);
            node.doom_reason = Some(format!(
                "{MESSAGE} (transaction {pivot} is the pivot: it read what transaction {txn} \
                 overwrote and committed first, and a concurrent transaction read what it wrote)"
            ));
        }
        graph.clock += 1;
        let seq = graph.clock;
        let node = graph.nodes.get_mut(&txn).expect("registered");
        node.commit_seq = Some(seq);
        node.wrote = wrote;
        graph.committed.push_back(txn);
        graph.running.remove(&txn);
        Ok(())
    }

    /// The transaction ended (committed and visible, or aborted): drops what
    /// no running transaction needs any more.
    pub fn finished(&self, handle: &SsiHandle) {
        let mut graph = self.graph.lock();
        let mut released = Vec::new();
        graph.clock += 1;
        let now = graph.clock;
        match graph.nodes.get_mut(&handle.txn) {
            Some(node) if node.commit_seq.is_none() => {
                // Aborted: its reads and writes never happened.
                graph.remove(handle.txn);
                released.push((handle.txn, Arc::clone(&handle.held)));
            }
            Some(node) => node.ended_at = Some(now),
            None => {}
        }
        released.extend(graph.drop_finished());
        drop(graph);
        self.ended.notify_all();
        self.release(released);
    }

    /// Read locks currently held, and transactions tracked (for tests and
    /// monitoring).
    pub fn footprint(&self) -> (usize, usize) {
        (self.locks.len(), self.graph.lock().nodes.len())
    }
}

impl SsiHandle {
    pub fn txn(&self) -> TxnId {
        self.txn
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;
    use crate::txn::mvcc::tests::setup;
    use crate::txn::{IsolationLevel, Transaction};

    const TREE: TreeId = 7;

    fn serializable(mvcc: &Arc<crate::txn::Mvcc>) -> Transaction {
        let mut txn = mvcc.begin(IsolationLevel::Serializable).expect("begin");
        txn.begin_statement();
        txn
    }

    #[test]
    fn a_read_only_transaction_with_a_safe_snapshot_is_not_tracked() {
        let mvcc = setup();
        let mut reader = mvcc.begin(IsolationLevel::Serializable).expect("begin");
        reader.set_read_only(true).expect("read only");
        reader.begin_statement();
        reader.get(TREE, b"x").expect("read");
        assert_eq!(mvcc.ssi.footprint(), (0, 0), "no locks, no node");
        // With a read-write serializable transaction running, it is tracked.
        let mut writer = serializable(&mvcc);
        writer.set(TREE, b"y", b"1").expect("write");
        let mut tracked = mvcc.begin(IsolationLevel::Serializable).expect("begin");
        tracked.set_read_only(true).expect("read only");
        tracked.begin_statement();
        tracked.get(TREE, b"x").expect("read");
        assert_eq!(mvcc.ssi.footprint(), (1, 2));
        tracked.commit().expect("commit");
        writer.commit().expect("commit");
        reader.commit().expect("commit");
        assert_eq!(mvcc.ssi.footprint(), (0, 0));
    }

    #[test]
    fn committed_transactions_are_forgotten_once_no_concurrent_one_needs_them() {
        let mvcc = setup();
        let mut long = serializable(&mvcc);
        long.get(TREE, b"a").expect("read");
        for round in 0..10u8 {
            let mut txn = serializable(&mvcc);
            txn.get(TREE, b"x").expect("read");
            txn.set(TREE, &[round], b"v").expect("write");
            txn.commit().expect("commit");
        }
        // All ten are concurrent with `long`: kept, with their locks.
        assert_eq!(mvcc.ssi.footprint(), (11, 11));
        long.commit().expect("commit");
        assert_eq!(mvcc.ssi.footprint(), (0, 0));
        // A transaction that began after they ended does not keep them.
        let mut txn = serializable(&mvcc);
        txn.get(TREE, b"x").expect("read");
        txn.commit().expect("commit");
        assert_eq!(mvcc.ssi.footprint(), (0, 0));
    }

    #[test]
    fn a_doomed_pivot_fails_at_its_next_read_naming_the_structure() {
        let mvcc = setup();
        let mut t1 = serializable(&mvcc);
        let mut t2 = serializable(&mvcc);
        for txn in [&mut t1, &mut t2] {
            txn.get(TREE, b"x").expect("read x");
            txn.get(TREE, b"y").expect("read y");
        }
        t1.set(TREE, b"x", b"1").expect("t1 writes x");
        t2.set(TREE, b"y", b"1").expect("t2 writes y");
        let t2_id = t2.id();
        t1.commit().expect("t1 commits first");
        let error = t2.get(TREE, b"z").expect_err("doomed");
        assert_eq!(error.sqlstate().code(), "40001");
        let message = error.to_string();
        assert!(
            message.contains(&format!("transaction {t2_id} is the pivot")),
            "{message}"
        );
        drop(t2);
        assert_eq!(mvcc.ssi.footprint(), (0, 0));
    }

    #[test]
    fn disjoint_and_non_overlapping_work_commits() {
        let mvcc = setup();
        // Disjoint key ranges.
        let mut t1 = serializable(&mvcc);
        let mut t2 = serializable(&mvcc);
        let range = |low: &[u8], high: &[u8]| KeyRange {
            start: std::ops::Bound::Included(low.to_vec()),
            end: std::ops::Bound::Excluded(high.to_vec()),
        };
        assert_eq!(
            t1.scan(TREE, range(b"a", b"m"), crate::storage::Direction::Forward)
                .count(),
            0
        );
        assert_eq!(
            t2.scan(TREE, range(b"m", b"z"), crate::storage::Direction::Forward)
                .count(),
            0
        );
        t1.set(TREE, b"b", b"1").expect("t1");
        t2.set(TREE, b"n", b"1").expect("t2");
        t1.commit().expect("t1");
        t2.commit().expect("t2");
        // A write racing a read of other rows: one rw edge, no structure.
        let mut reader = serializable(&mvcc);
        let mut writer = serializable(&mvcc);
        reader.get(TREE, b"b").expect("read");
        writer
            .set(TREE, b"b", b"2")
            .expect("write what the reader read");
        reader
            .set(TREE, b"q", b"1")
            .expect("reader writes elsewhere");
        writer.commit().expect("writer");
        reader
            .commit()
            .expect("reader: a single edge is not a cycle");
    }

    #[test]
    fn deferrable_waits_until_its_snapshot_is_safe() {
        let mvcc = setup();
        let mut writer = serializable(&mvcc);
        writer.get(TREE, b"x").expect("read");
        writer.set(TREE, b"y", b"1").expect("write");
        let (sender, receiver) = mpsc::channel();
        let waiter = {
            let mvcc = Arc::clone(&mvcc);
            std::thread::spawn(move || {
                let snapshot = mvcc
                    .ssi
                    .wait_for_safe_snapshot(u64::MAX - 1, || mvcc.snapshot_for(u64::MAX - 1));
                sender.send(snapshot).expect("send");
            })
        };
        // Still waiting while the read-write transaction runs.
        assert!(receiver.recv_timeout(Duration::from_millis(50)).is_err());
        let writer_id = writer.id();
        writer.commit().expect("commit");
        let snapshot = receiver.recv().expect("safe snapshot");
        waiter.join().expect("join");
        // The wait ended without a conflict: the first snapshot, taken
        // while the writer ran, is safe.
        assert!(!snapshot.saw_end(writer_id));
        assert_eq!(mvcc.ssi.footprint(), (0, 0));
    }
}
