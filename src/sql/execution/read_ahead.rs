//! Read-ahead: a long table scan hands its storage work to a worker thread.
//!
//! A full or range scan reads its first [`READ_AHEAD_AFTER`] rows itself.
//! If it is still going then, in a query whose rows are all wanted (a fetch
//! without a row limit, as PostgreSQL runs parallel plans only then), it
//! moves its MVCC scan to a worker thread: the B+tree walk, the copying out
//! of pages, the visibility checks and the decoding of the columns the
//! scan wants. The worker packs the decoded values into batches and sends
//! them through a bounded channel; the query's thread filters and projects
//! them and runs the operators above the scan (joins, aggregation), so on
//! a machine with more than one core the storage half of a query overlaps
//! the executor half:
//!
//! ```text
//!   query thread:  Aggregate ◄── HashJoin ◄── ScanOperator: filter, project
//!                                                  ▲            │
//!                                  decoded rows ═══╝            ╚══ emptied batches
//!   worker:                        MvccScan, decode ◄═══════════════╝ (reused)
//! ```
//!
//! Batches are buffers of values that travel back to the worker once
//! emptied, so after the first few nothing is allocated per batch. The
//! query's thread builds each row it returns itself; only text values are
//! made on the worker and released on the query's thread (a first version
//! sent whole rows, allocated on one thread and freed on the other, and
//! with the system allocator that cost more than the scan saved).
//!
//! PostgreSQL gets its parallelism from partial plans under a Gather node,
//! each worker running a share of the scan *and* the operators above it.
//! This is the simpler pipeline form: one worker per scan, so rows arrive
//! in the scan's order (key order, or its reverse for a backward scan) and
//! nothing above the scan changes (merge joins, ordered scans, LIMIT). It
//! is a run-time decision, not a plan node, so `EXPLAIN` does not show it.
//! A scan feeding a hash aggregation gets the partial-plan form instead,
//! where it can (`parallel_aggregate.rs`).
//!
//! Invariants:
//! 1. A worker never outlives its scan operator: dropping the operator (end
//!    of the query, an error, a rewind, a closed portal) stops the worker
//!    and joins it, so nothing is read, or reported to SSI, for a
//!    transaction that has moved on.
//! 2. The rows, and their order, are those of the serial scan: the worker
//!    continues the same `MvccScan` (the statement's snapshot, its
//!    direction; its read range was registered with SSI when the scan
//!    opened), decodes with the scan's own column choice
//!    (`encoding::decode_row_prefix_into`), and the query's thread filters
//!    and projects with the serial scan's code (`scan::finish_row`), so
//!    errors in a row come in the same order.
//! 3. Workers are bounded: `max_parallel_workers_per_gather` per query
//!    (`SET`, default 2; 0 turns read-ahead off) and [`MAX_WORKERS`] in the
//!    process (PostgreSQL's `max_parallel_workers` default). Without a free
//!    place the scan stays serial.
//! 4. A worker that stops without saying it reached the end (it panicked)
//!    is an error for the query, never a silently shorter result.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;

use crossbeam::channel::{Receiver, Sender, bounded};

use crate::error::{Error, Result};
use crate::sql::encoding::decode_row_prefix_into;
use crate::sql::types::Value;
use crate::txn::MvccScan;

/// Rows a scan reads itself before it may hand the rest to a worker: short
/// scans (key lookups, small tables, LIMIT) never pay for a thread.
pub const READ_AHEAD_AFTER: usize = 8192;
/// Workers in the whole process (PostgreSQL's `max_parallel_workers`).
pub const MAX_WORKERS: usize = 8;
/// Rows, and stored bytes, per batch sent to the query's thread
/// (whichever fills first).
const BATCH_ROWS: usize = 1024;
const BATCH_BYTES: usize = 256 * 1024;
/// Batches a worker may have sent ahead of the query's thread.
const BATCHES_AHEAD: usize = 8;

/// Workers running in the process, and started since it began.
static RUNNING: AtomicUsize = AtomicUsize::new(0);
static STARTED: AtomicU64 = AtomicU64::new(0);

/// How many scan workers the process has started, read-ahead and
/// parallel aggregation (`parallel_aggregate.rs`) alike (tests and
/// diagnostics: whether a scan used workers is not visible in its results).
pub fn workers_started() -> u64 {
    STARTED.load(Ordering::Relaxed)
}

/// Counts a worker started outside this module.
pub(super) fn count_started() {
    STARTED.fetch_add(1, Ordering::Relaxed);
}

/// One worker's place, counted in the process and in its query; given back
/// when dropped.
pub struct WorkerSlot {
    query: Arc<AtomicUsize>,
}

impl WorkerSlot {
    /// A place, if the process has one and the query is under `limit`.
    pub fn take(query: &Arc<AtomicUsize>, limit: usize) -> Option<WorkerSlot> {
        let claim = |counter: &AtomicUsize, limit: usize| {
            counter
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |running| {
                    (running < limit).then_some(running + 1)
                })
                .is_ok()
        };
        if !claim(query, limit) {
            return None;
        }
        if !claim(&RUNNING, MAX_WORKERS) {
            query.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(WorkerSlot {
            query: Arc::clone(query),
        })
    }
}

impl Drop for WorkerSlot {
    fn drop(&mut self) {
        self.query.fetch_sub(1, Ordering::AcqRel);
        RUNNING.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Decoded rows packed into one buffer of values.
#[derive(Default)]
pub struct PackedRows {
    values: Vec<Value>,
    /// Where each row ends in `values`.
    ends: Vec<usize>,
    /// The stored size of the rows (bounds a batch of wide rows).
    stored_bytes: usize,
}

impl PackedRows {
    fn clear(&mut self) {
        self.values.clear();
        self.ends.clear();
        self.stored_bytes = 0;
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    /// Row `index`'s decoded values.
    fn get(&mut self, index: usize) -> &mut [Value] {
        let start = index
            .checked_sub(1)
            .map_or(0, |previous| self.ends[previous]);
        &mut self.values[start..self.ends[index]]
    }
}

/// What a worker sends.
enum Message {
    Rows(PackedRows),
    Failed(Error),
    /// The scan is exhausted: nothing follows.
    End,
}

/// The query thread's end of a worker: stored rows in scan order.
pub struct ReadAhead {
    /// `None` only while dropping.
    receiver: Option<Receiver<Message>>,
    /// Emptied batches, back to the worker.
    recycle: Sender<PackedRows>,
    /// The batch being read, and the next row of it.
    rows: PackedRows,
    next: usize,
    stop: Arc<AtomicBool>,
    worker: Option<JoinHandle<()>>,
    finished: bool,
}

impl ReadAhead {
    /// Starts a worker that goes on with `scan` in `slot`; gives `scan`
    /// back if no thread could be started (the scan then stays serial).
    /// The worker decodes the columns `decode` marks (all if `None`), as
    /// the scan would.
    pub fn start(
        scan: Box<MvccScan>,
        slot: WorkerSlot,
        decode: Option<Vec<bool>>,
    ) -> std::result::Result<ReadAhead, Box<MvccScan>> {
        let (sender, receiver) = bounded(BATCHES_AHEAD);
        let (recycle, recycled) = bounded(BATCHES_AHEAD + 2);
        // The scan goes to the thread once it exists, so that a failed
        // start leaves it with the caller.
        let (hand_over, take_over) = bounded::<Box<MvccScan>>(1);
        let stop = Arc::new(AtomicBool::new(false));
        let worker_stop = Arc::clone(&stop);
        let spawned = std::thread::Builder::new()
            .name("basalt-read-ahead".into())
            .spawn(move || {
                let _slot = slot;
                if let Ok(scan) = take_over.recv() {
                    run_worker(scan, decode.as_deref(), &sender, &recycled, &worker_stop);
                }
            });
        let worker = match spawned {
            Ok(worker) => worker,
            Err(_) => return Err(scan),
        };
        hand_over
            .send(scan)
            .expect("invariant: the worker waits for its scan before anything else");
        STARTED.fetch_add(1, Ordering::Relaxed);
        Ok(ReadAhead {
            receiver: Some(receiver),
            recycle,
            rows: PackedRows::default(),
            next: 0,
            stop,
            worker: Some(worker),
            finished: false,
        })
    }

    /// The next visible row's decoded values (the caller may move them
    /// out), `None` at the end of the scan.
    pub fn next(&mut self) -> Result<Option<&mut [Value]>> {
        while self.next == self.rows.len() {
            if self.finished {
                return Ok(None);
            }
            let receiver = self
                .receiver
                .as_ref()
                .expect("invariant: the receiver lives until drop");
            match receiver.recv() {
                Ok(Message::Rows(rows)) => {
                    let mut emptied = std::mem::replace(&mut self.rows, rows);
                    emptied.clear();
                    // A full recycling channel only means a new buffer later.
                    let _ = self.recycle.try_send(emptied);
                    self.next = 0;
                }
                Ok(Message::End) => self.finished = true,
                Ok(Message::Failed(error)) => {
                    self.finished = true;
                    return Err(error);
                }
                Err(_) => {
                    // Invariant 4.
                    self.finished = true;
                    return Err(Error::Internal(
                        "a read-ahead worker stopped before the end of its scan".into(),
                    ));
                }
            }
        }
        self.next += 1;
        let index = self.next - 1;
        Ok(Some(self.rows.get(index)))
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        // Invariant 1: a worker blocked on a full channel wakes when the
        // receiver goes; one between rows sees `stop`.
        self.stop.store(true, Ordering::Release);
        self.receiver = None;
        if let Some(worker) = self.worker.take() {
            // A panic in the worker was already an error for the query.
            let _ = worker.join();
        }
    }
}

/// The worker: reads the visible rows, decodes them and sends their
/// values in batches until the scan ends, fails, or the query's thread
/// lets go.
fn run_worker(
    mut scan: Box<MvccScan>,
    decode: Option<&[bool]>,
    sender: &Sender<Message>,
    recycled: &Receiver<PackedRows>,
    stop: &AtomicBool,
) {
    let mut row = Vec::new();
    let mut decoded = Vec::new();
    loop {
        let mut rows = recycled.try_recv().unwrap_or_default();
        let mut last = None;
        while rows.len() < BATCH_ROWS && rows.stored_bytes < BATCH_BYTES {
            if stop.load(Ordering::Acquire) {
                return;
            }
            // Without the NULLs after the last wanted column: the query's
            // thread reads a missing column as NULL, and the scan's filter
            // reads only wanted columns (a count(*) sends no values).
            let read = scan.next_row(&mut row).and_then(|more| match more {
                true => decode_row_prefix_into(&row, decode, &mut decoded).map(|_| true),
                false => Ok(false),
            });
            match read {
                Ok(true) => {
                    rows.values.append(&mut decoded);
                    rows.ends.push(rows.values.len());
                    rows.stored_bytes += row.len();
                }
                Ok(false) => {
                    last = Some(Message::End);
                    break;
                }
                Err(error) => {
                    last = Some(Message::Failed(error));
                    break;
                }
            }
        }
        if rows.len() > 0 && sender.send(Message::Rows(rows)).is_err() {
            return;
        }
        if let Some(last) = last {
            let _ = sender.send(last);
            return;
        }
    }
}
