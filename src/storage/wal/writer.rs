//! The WAL writer: [`Wal::open`] finds the end of the log, [`Wal::append`]
//! adds records to an in-memory buffer, [`Wal::flush`] writes and syncs them
//! with group commit, [`Wal::remove_segments_before`] drops old segments.
//!
//! Group commit, leader/follower:
//!
//! ```text
//!   thread A: append ─ flush(a) ─ becomes leader: takes the buffer (up to
//!                                 end e1), unlocks, write + fdatasync, locks,
//!                                 flushed = e1, releases the waiters e1 covers
//!   thread B: append ─ flush(b), b <= e1: parks ─► unparked, sees b durable
//!             without taking the lock, unparks two more released waiters
//!   thread C:   append (after A took the buffer)
//!               flush(c), c > e1: parks ─► still parked: A leads another
//!               round at once (up to MAX_LEAD_ROUNDS in a row) for C's
//!               records and all appended since; when A stops leading, one
//!               uncovered waiter is unparked first, to lead the next round
//! ```
//!
//! Nobody waits on a timer: a lone flusher becomes leader at once, and the
//! batching comes only from records appended while the previous sync runs.
//! Each waiter parks its own thread. A finished round puts the waiters it
//! made durable on a wake queue and unparks `WAKE_FAN_OUT` of them; each
//! woken waiter checks an atomic copy of the flushed LSN (no trip through
//! the mutex) and unparks `WAKE_FAN_OUT` more before returning, so the wake
//! calls (expensive on a virtual machine: an inter-processor interrupt
//! each) spread over every core as a tree instead of delaying the next
//! sync. A leader leaving the role drains the queue, so no released waiter
//! can be forgotten. Leading several rounds in a row saves the hand-off
//! (waking a new leader and waiting until it runs) between syncs; the
//! bound caps the extra latency of the thread that leads, about
//! `MAX_LEAD_ROUNDS` syncs. With 32 committers on two cores, the tree wake
//! and the repeated lead together raised the commit rate by about a fifth.
//!
//! Invariants:
//! 1. `flushed_lsn <= end_lsn`; every record below `flushed_lsn` is durable.
//!    `append` returns the LSN after its record: `flush` of that LSN makes it
//!    durable.
//! 2. At most one leader at a time (`flushing`), and it issues exactly one
//!    write per segment per flush, each followed by that segment's sync before
//!    anything is written to the next segment. So between two syncs a segment
//!    has at most one unsynced write, and a crash can only damage the bytes
//!    of that last write (any of its sectors may survive), never a record a
//!    finished flush covered.
//! 3. Any failed write or sync poisons the WAL: every later `append` and
//!    `flush` fails. After a failed `fsync` the kernel may have dropped the
//!    dirty pages (PostgreSQL's "fsyncgate"); retrying could report success for
//!    lost data. The server must stop and recover from what is durable.
//! 4. Lock order: `state`, then `segments`, then `prepared`; no lock is held
//!    across the leader's I/O except `segments` while a new segment file is
//!    created or renamed into place. Preallocation fills a file holding only
//!    `preallocating`; `wake_queue` is taken alone, never with another lock.
//! 5. When the buffer grows past `WalOptions::buffer_limit`, `append` flushes
//!    itself, so memory stays bounded without a background thread.
//! 6. Segments are written into zero-filled, synced files whenever possible
//!    ([`Wal::preallocate_next_segment`], run by the background writer, and
//!    `open` re-zeroes the rest of the last segment), so a commit's fdatasync
//!    overwrites allocated blocks and need not persist a new file size. A
//!    preallocated file waits as `<start>.prealloc` and is renamed into place
//!    when the log reaches it; `open` deletes leftovers. Zeros parse as the
//!    end of the log, exactly like a file that ends there.
//! 7. Each written chunk starts with a flush mark carrying the flushed LSN
//!    when its flush began (record module, invariant 5), filled in by the
//!    leader as it takes the chunk. With invariant 2 this is what lets the
//!    reader call an invalid record corruption: a mark after it proves it
//!    was durable before.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use parking_lot::{Mutex, MutexGuard};

use super::reader::WalReader;
use super::record::{
    self, FLUSH_MARK_SIZE, FLUSH_MARK_TYPE, Lsn, RECORD_OVERHEAD, SEGMENT_END_TYPE, SegmentEnd,
    WAL_DIRECTORY_NAME,
};
use crate::error::{Error, Result};
use crate::storage::vfs::{self, FileSystem, StorageFile};

/// Tunables of the log.
#[derive(Clone, Debug)]
pub struct WalOptions {
    /// The size of one segment file, 64 bytes ..= 1 GiB; a record
    /// (`RECORD_OVERHEAD` + payload bytes) must fit in one segment.
    pub segment_size: u64,
    /// Appended bytes buffered before `append` flushes by itself.
    pub buffer_limit: usize,
}

/// The default segment size, 16 MiB.
pub const DEFAULT_SEGMENT_SIZE: u64 = 16 * 1024 * 1024;

impl Default for WalOptions {
    fn default() -> WalOptions {
        WalOptions {
            segment_size: DEFAULT_SEGMENT_SIZE,
            buffer_limit: 4 * 1024 * 1024,
        }
    }
}

/// Appended bytes not yet written: contiguous, inside one segment; all but
/// a lone segment-end record start with a flush mark.
struct Chunk {
    lsn: Lsn,
    bytes: Vec<u8>,
    marked: bool,
}

struct WriterState {
    /// The LSN after the last appended record (where the next one goes).
    end_lsn: Lsn,
    /// Appended but not yet handed to a leader, in LSN order.
    pending: Vec<Chunk>,
    pending_bytes: usize,
    flushed_lsn: Lsn,
    /// A leader is writing and syncing (invariant 2).
    flushing: bool,
    /// Flushers parked while a leader writes: the LSN each needs durable.
    waiters: Vec<(Lsn, std::thread::Thread)>,
    /// Why the WAL is unusable (invariant 3).
    poisoned: Option<String>,
    /// The redo LSN of the checkpoint in progress or last completed: a page
    /// whose LSN is at or below it gets a full image in its next record
    /// (torn-page protection, see `mini_transaction`).
    redo_lsn: Lsn,
}

/// The write-ahead log. `Send + Sync`: share it by reference or `Arc`.
pub struct Wal {
    file_system: Arc<dyn FileSystem>,
    directory: PathBuf,
    options: WalOptions,
    state: Mutex<WriterState>,
    /// `flushed_lsn`, readable without the mutex: a woken waiter whose
    /// records are durable returns without touching the lock.
    durable: AtomicU64,
    /// Set with `WriterState::poisoned` by a failed flush, for the same
    /// lock-free check.
    poisoned: AtomicBool,
    /// Open segment files by first LSN.
    segments: Mutex<BTreeMap<Lsn, Arc<dyn StorageFile>>>,
    /// The first LSN of a zero-filled segment waiting under its temporary
    /// name (invariant 6).
    prepared: Mutex<Option<Lsn>>,
    /// Held while a segment is being preallocated: one at a time, and never
    /// while holding another lock of the log.
    preallocating: Mutex<()>,
    /// Group flushes done (each one write and one sync per segment), for
    /// statistics: commits per flush is the group-commit batch size.
    group_flushes: AtomicU64,
    /// Waiters a finished round made durable and nobody has unparked yet.
    wake_queue: Mutex<Vec<std::thread::Thread>>,
    /// `wake_queue.len()`, readable without the mutex.
    wake_pending: AtomicUsize,
}

/// How many queued waiters each released waiter unparks.
const WAKE_FAN_OUT: usize = 2;
/// How many group flushes one leader runs in a row while others wait.
const MAX_LEAD_ROUNDS: usize = 32;

/// The temporary name of a preallocated segment: not a `.wal` file, so
/// `open` never takes it for part of the log.
fn preallocated_path(directory: &Path, start: Lsn) -> PathBuf {
    directory.join(format!("{start:016x}.prealloc"))
}

/// Writes zeros over `from..to` of `file`, a megabyte at a time.
fn zero_fill(file: &dyn StorageFile, from: u64, to: u64) -> Result<()> {
    const CHUNK: u64 = 1 << 20;
    let zeros = vec![0u8; CHUNK as usize];
    let mut offset = from;
    while offset < to {
        let length = (to - offset).min(CHUNK);
        file.write_at(&zeros[..length as usize], offset)?;
        offset += length;
    }
    Ok(())
}

fn poisoned_error(reason: &str) -> Error {
    Error::Io(std::io::Error::other(format!(
        "the WAL is unusable after a failed write or sync ({reason})"
    )))
}

impl Wal {
    /// Opens the log in `<data_dir>/wal` (creating the directory), scans every
    /// segment, truncates a torn tail of the last one, and returns the WAL and
    /// the LSN where the next record will go. Mid-log damage is
    /// `Error::Corrupt` naming the LSN.
    pub fn open(
        file_system: Arc<dyn FileSystem>,
        data_dir: &Path,
        options: WalOptions,
    ) -> Result<(Wal, Lsn)> {
        let size = options.segment_size;
        if !(64..=1 << 30).contains(&size) {
            return Err(Error::Internal(format!(
                "WAL segment size {size} is outside 64 bytes ..= 1 GiB"
            )));
        }
        let directory = data_dir.join(WAL_DIRECTORY_NAME);
        file_system.create_dir_all(&directory)?;
        for path in file_system.list(&directory)? {
            if path
                .extension()
                .is_some_and(|extension| extension == "prealloc")
            {
                file_system.remove(&path)?;
            }
        }
        let starts = record::list_segments(&*file_system, &directory, size)?;
        let mut segments = BTreeMap::new();
        let mut end_lsn = 0;
        for (index, &start) in starts.iter().enumerate() {
            let file = file_system.open(&record::segment_path(&directory, start))?;
            let bytes = vfs::read_all(&*file)?;
            match record::parse_segment(&bytes, start, size, |_, _, _| {})? {
                SegmentEnd::Full => end_lsn = start + size,
                SegmentEnd::Tail { lsn, reason } => {
                    if index + 1 != starts.len() {
                        return Err(Error::Corrupt(format!(
                            "WAL record at LSN {lsn}: {reason}, in a segment followed by others"
                        )));
                    }
                    end_lsn = lsn;
                    let valid = lsn - start;
                    let zeroed = bytes[valid as usize..].iter().all(|&byte| byte == 0);
                    if !zeroed || (bytes.len() as u64) < size {
                        // Cut the torn tail so new records follow the last
                        // valid one and no stale bytes sit after them; then
                        // zero the rest (invariant 6).
                        file.set_size(valid)?;
                        zero_fill(&*file, valid, size)?;
                        file.sync()?;
                    }
                }
            }
            segments.insert(start, file);
        }
        if segments.is_empty() {
            // A new log starts in a zero-filled first segment (invariant 6).
            let file = file_system.open(&record::segment_path(&directory, 0))?;
            zero_fill(&*file, 0, size)?;
            file.sync()?;
            file_system.sync_directory(&directory)?;
            segments.insert(0, file);
        }
        let wal = Wal {
            file_system,
            directory,
            options,
            state: Mutex::new(WriterState {
                end_lsn,
                pending: Vec::new(),
                pending_bytes: 0,
                flushed_lsn: end_lsn,
                flushing: false,
                waiters: Vec::new(),
                poisoned: None,
                redo_lsn: 0,
            }),
            durable: AtomicU64::new(end_lsn),
            poisoned: AtomicBool::new(false),
            segments: Mutex::new(segments),
            prepared: Mutex::new(None),
            preallocating: Mutex::new(()),
            group_flushes: AtomicU64::new(0),
            wake_queue: Mutex::new(Vec::new()),
            wake_pending: AtomicUsize::new(0),
        };
        Ok((wal, end_lsn))
    }

    /// Appends a record of a user type (1..=254) and returns the LSN after it
    /// (after the segment's unusable rest, if under 17 bytes remain): flush up
    /// to that LSN to make it durable.
    pub fn append(&self, record_type: u8, payload: &[u8]) -> Result<Lsn> {
        self.append_with(record_type, |_| payload.to_vec())
    }

    /// Appends a record whose payload `build` makes from the current redo LSN
    /// (see [`Wal::begin_checkpoint`]), atomically with respect to a
    /// checkpoint starting: a record appended after the redo LSN moved was
    /// built knowing the new one. `build` runs under the log's mutex, so it
    /// must be quick (copying a few pages is fine).
    pub fn append_with(&self, record_type: u8, build: impl FnOnce(Lsn) -> Vec<u8>) -> Result<Lsn> {
        self.append_placed(record_type, build).map(|(_, end)| end)
    }

    /// [`Wal::append_with`], also returning where the record starts.
    pub(super) fn append_placed(
        &self,
        record_type: u8,
        build: impl FnOnce(Lsn) -> Vec<u8>,
    ) -> Result<(Lsn, Lsn)> {
        if record_type == 0 || record_type == SEGMENT_END_TYPE || record_type == FLUSH_MARK_TYPE {
            return Err(Error::Internal(format!(
                "WAL record type {record_type} is reserved"
            )));
        }
        let size = self.options.segment_size;
        let (end, over_limit) = {
            let mut state = self.state.lock();
            if let Some(reason) = &state.poisoned {
                return Err(poisoned_error(reason));
            }
            let payload = build(state.redo_lsn);
            let record_size = (RECORD_OVERHEAD + payload.len()) as u64;
            // With the flush mark a chunk in a fresh segment starts with.
            if record_size + FLUSH_MARK_SIZE as u64 > size {
                return Err(Error::Internal(format!(
                    "WAL record of {record_size} bytes does not fit in a segment of {size} bytes"
                )));
            }
            let mut mark = starts_chunk(&state, size, state.end_lsn);
            let offset = state.end_lsn % size;
            let needed = record_size + if mark { FLUSH_MARK_SIZE as u64 } else { 0 };
            if offset + needed > size {
                // Invariant 2 of the record module: end this segment.
                if size - offset >= RECORD_OVERHEAD as u64 {
                    let lsn = state.end_lsn;
                    push_record(&mut state, size, SEGMENT_END_TYPE, lsn, b"");
                }
                state.end_lsn += size - offset;
                mark = true;
            }
            if mark {
                // Invariant 7: the durable LSN is filled in when flushed.
                let lsn = state.end_lsn;
                push_record(&mut state, size, FLUSH_MARK_TYPE, lsn, &[0; 8]);
                state.end_lsn += FLUSH_MARK_SIZE as u64;
            }
            let lsn = state.end_lsn;
            push_record(&mut state, size, record_type, lsn, &payload);
            state.end_lsn += record_size;
            let rest = size - state.end_lsn % size;
            if rest < RECORD_OVERHEAD as u64 {
                // Too short for any record: the segment is full. Moving the end
                // now makes it equal to what `open` finds after a restart.
                state.end_lsn += rest;
            }
            (
                (lsn, state.end_lsn),
                state.pending_bytes >= self.options.buffer_limit,
            )
        };
        if over_limit {
            self.flush(end.1)?;
        }
        Ok(end)
    }

    /// Starts a checkpoint: the current end of the log becomes the redo LSN,
    /// where recovery will start once the checkpoint completes. Returned.
    pub fn begin_checkpoint(&self) -> Lsn {
        let mut state = self.state.lock();
        state.redo_lsn = state.end_lsn;
        state.redo_lsn
    }

    /// Sets the redo LSN without starting a checkpoint (on open, to the one
    /// recovery started from).
    pub fn set_redo_lsn(&self, lsn: Lsn) {
        self.state.lock().redo_lsn = lsn;
    }

    /// Returns once every record below `up_to` is durable (group commit, see
    /// the module docs).
    pub fn flush(&self, up_to: Lsn) -> Result<()> {
        loop {
            if self.durable.load(Ordering::Acquire) >= up_to
                && !self.poisoned.load(Ordering::Acquire)
            {
                self.help_wake();
                return Ok(());
            }
            let mut state = self.state.lock();
            if let Some(reason) = &state.poisoned {
                return Err(poisoned_error(reason));
            }
            if state.flushed_lsn >= up_to {
                return Ok(());
            }
            if up_to > state.end_lsn {
                return Err(Error::Internal(format!(
                    "WAL flush to LSN {up_to} beyond the end of the log at LSN {}",
                    state.end_lsn
                )));
            }
            if state.flushing {
                state.waiters.push((up_to, std::thread::current()));
                drop(state);
                // Woken by the leader (or spuriously): look again.
                std::thread::park();
                continue;
            }
            // Become the leader for everything appended so far.
            state.flushing = true;
            self.lead(state);
        }
    }

    /// Runs group flushes as the leader (`flushing` is set), one round for
    /// everything appended so far, and more rounds in a row (up to
    /// `MAX_LEAD_ROUNDS`) while flushers wait for records the last round
    /// did not cover. Between rounds it only queues the waiters it released
    /// and unparks `WAKE_FAN_OUT` of them; they wake the rest.
    fn lead<'a>(&'a self, mut state: MutexGuard<'a, WriterState>) {
        let mut rounds = 0;
        let mut released: Vec<std::thread::Thread> = Vec::new();
        loop {
            let mut chunks = std::mem::take(&mut state.pending);
            state.pending_bytes = 0;
            for chunk in chunks.iter_mut().filter(|chunk| chunk.marked) {
                record::set_flush_mark(&mut chunk.bytes, state.flushed_lsn);
            }
            let target = state.end_lsn;
            drop(state);
            self.release(std::mem::take(&mut released));
            self.help_wake();
            let result = self.write_and_sync(&chunks);
            state = self.state.lock();
            rounds += 1;
            match result {
                Ok(()) => {
                    state.flushed_lsn = target;
                    self.durable.store(target, Ordering::Release);
                }
                Err(error) => {
                    state.poisoned = Some(error.to_string());
                    self.poisoned.store(true, Ordering::Release);
                }
            }
            let failed = state.poisoned.is_some();
            state.waiters.retain(|(lsn, thread)| {
                let go = failed || *lsn <= target;
                if go {
                    released.push(thread.clone());
                }
                !go
            });
            if !state.waiters.is_empty() && rounds < MAX_LEAD_ROUNDS {
                continue;
            }
            // One waiter this round did not cover leads the next, woken
            // before anyone else.
            state.flushing = false;
            let next_leader = (!state.waiters.is_empty()).then(|| state.waiters.swap_remove(0).1);
            drop(state);
            if let Some(next) = next_leader {
                next.unpark();
            }
            self.release(released);
            // Drain the queue (with the waiters already released helping),
            // so nobody waits for a round that may never come.
            while self.wake_pending.load(Ordering::Acquire) > 0 {
                self.help_wake();
            }
            return;
        }
    }

    /// Queues released waiters for waking (see [`Wal::help_wake`]).
    fn release(&self, threads: Vec<std::thread::Thread>) {
        if threads.is_empty() {
            return;
        }
        let mut queue = self.wake_queue.lock();
        queue.extend(threads);
        self.wake_pending.store(queue.len(), Ordering::Release);
    }

    /// Unparks up to `WAKE_FAN_OUT` threads from the wake queue: the waiters
    /// a finished round made durable wake each other in a tree, in parallel
    /// on every core, instead of the leader waking them one by one.
    fn help_wake(&self) {
        if self.wake_pending.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut batch = [const { None }; WAKE_FAN_OUT];
        {
            let mut queue = self.wake_queue.lock();
            for slot in &mut batch {
                *slot = queue.pop();
            }
            self.wake_pending.store(queue.len(), Ordering::Release);
        }
        for thread in batch.into_iter().flatten() {
            thread.unpark();
        }
    }

    /// Flushes everything appended so far.
    pub fn flush_all(&self) -> Result<()> {
        let end = self.end_lsn();
        self.flush(end)
    }

    /// How many group flushes (leader write + sync rounds) ran so far.
    pub fn group_flushes(&self) -> u64 {
        self.group_flushes.load(Ordering::Relaxed)
    }

    /// Why the log is unusable, after a failed write or sync (invariant 3).
    pub fn failure(&self) -> Option<String> {
        self.state.lock().poisoned.clone()
    }

    /// Every record below this LSN is durable.
    pub fn flushed_lsn(&self) -> Lsn {
        self.state.lock().flushed_lsn
    }

    /// Where the next record will go.
    pub fn end_lsn(&self) -> Lsn {
        self.state.lock().end_lsn
    }

    /// The segment size in use.
    pub fn segment_size(&self) -> u64 {
        self.options.segment_size
    }

    /// Reads the records at or after `from`, up to the flushed LSN at the
    /// time of the call (flush first to see everything appended).
    pub fn read_from(&self, from: Lsn) -> Result<WalReader<'_>> {
        let limit = self.flushed_lsn();
        WalReader::new(self, from, limit)
    }

    /// Deletes the segments that lie wholly below `lsn` (a checkpoint's redo
    /// LSN), never the newest segment; returns how many were removed.
    pub fn remove_segments_before(&self, lsn: Lsn) -> Result<usize> {
        let flushed = self.flushed_lsn();
        if lsn > flushed {
            return Err(Error::Internal(format!(
                "cannot remove WAL below LSN {lsn}: only LSN {flushed} is durable"
            )));
        }
        let size = self.options.segment_size;
        let mut segments = self.segments.lock();
        let newest = segments.keys().next_back().copied();
        let doomed: Vec<Lsn> = segments
            .keys()
            .copied()
            .filter(|&start| start + size <= lsn && Some(start) != newest)
            .collect();
        for &start in &doomed {
            self.file_system
                .remove(&record::segment_path(&self.directory, start))?;
            segments.remove(&start);
        }
        if !doomed.is_empty() {
            self.file_system.sync_directory(&self.directory)?;
        }
        Ok(doomed.len())
    }

    /// The oldest LSN still in the log (the start of its oldest segment).
    pub fn oldest_lsn(&self) -> Lsn {
        self.segments.lock().keys().next().copied().unwrap_or(0)
    }

    /// The open segment file starting at `start`, if it exists.
    pub(super) fn existing_segment(&self, start: Lsn) -> Option<Arc<dyn StorageFile>> {
        self.segments.lock().get(&start).cloned()
    }

    /// The first LSNs of the open segments, ascending.
    pub(super) fn segment_starts(&self) -> Vec<Lsn> {
        self.segments.lock().keys().copied().collect()
    }

    /// The leader's I/O (invariant 2): one write then one sync per segment.
    fn write_and_sync(&self, chunks: &[Chunk]) -> Result<()> {
        self.group_flushes.fetch_add(1, Ordering::Relaxed);
        let size = self.options.segment_size;
        for chunk in chunks {
            let start = chunk.lsn - chunk.lsn % size;
            let file = self.segment_for_writing(start)?;
            file.write_at(&chunk.bytes, chunk.lsn - start)?;
            file.sync()?;
        }
        Ok(())
    }

    /// Zero-fills and syncs the segment after the current one under its
    /// temporary name, once the current one is half full and unless it
    /// exists already (invariant 6). Slow (one segment of writes): for the
    /// background writer, never a committer; waiting for half a segment
    /// keeps it away from the commits of a database that just started.
    pub fn preallocate_next_segment(&self) -> Result<()> {
        let size = self.options.segment_size;
        let end = self.end_lsn();
        if end % size < size / 2 {
            return Ok(());
        }
        let next = end - end % size + size;
        let _one_at_a_time = self.preallocating.lock();
        // One lock at a time: `segment_for_writing` takes `segments` first.
        let already_prepared = *self.prepared.lock() == Some(next);
        if already_prepared || self.segments.lock().contains_key(&next) {
            return Ok(());
        }
        let path = preallocated_path(&self.directory, next);
        let file = self.file_system.open(&path)?;
        zero_fill(&*file, 0, size)?;
        if let Err(error) = file.sync() {
            self.state.lock().poisoned = Some(error.to_string());
            self.poisoned.store(true, Ordering::Release);
            return Err(error);
        }
        // If the log reached `next` meanwhile, the segment was made the slow
        // way and this file is never used; the next `open` deletes it.
        *self.prepared.lock() = Some(next);
        Ok(())
    }

    fn segment_for_writing(&self, start: Lsn) -> Result<Arc<dyn StorageFile>> {
        let mut segments = self.segments.lock();
        if let Some(file) = segments.get(&start) {
            return Ok(Arc::clone(file));
        }
        let path = record::segment_path(&self.directory, start);
        {
            let mut prepared = self.prepared.lock();
            if *prepared == Some(start) {
                *prepared = None;
                self.file_system
                    .rename(&preallocated_path(&self.directory, start), &path)?;
            }
        }
        let file = self.file_system.open(&path)?;
        // The new name must be durable before records in it count as flushed.
        self.file_system.sync_directory(&self.directory)?;
        segments.insert(start, Arc::clone(&file));
        Ok(file)
    }
}

/// Whether a record at `lsn` cannot extend the last pending chunk
/// (nothing pending, or a new segment) and so starts a chunk of its own.
fn starts_chunk(state: &WriterState, size: u64, lsn: Lsn) -> bool {
    !state.pending.last().is_some_and(|chunk| {
        chunk.lsn + chunk.bytes.len() as u64 == lsn && chunk.lsn / size == lsn / size
    })
}

/// Encodes a record into the pending buffer, extending the last chunk when
/// contiguous within the same segment (so a flush writes once per segment).
fn push_record(state: &mut WriterState, size: u64, record_type: u8, lsn: Lsn, payload: &[u8]) {
    if starts_chunk(state, size, lsn) {
        state.pending.push(Chunk {
            lsn,
            bytes: Vec::new(),
            marked: record_type == FLUSH_MARK_TYPE,
        });
    }
    let chunk = state
        .pending
        .last_mut()
        .expect("invariant: a chunk was just ensured");
    let before = chunk.bytes.len();
    record::encode(record_type, lsn, payload, &mut chunk.bytes);
    let added = chunk.bytes.len() - before;
    state.pending_bytes += added;
}
