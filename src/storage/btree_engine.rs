//! `BTreeEngine`: the [`Engine`] trait over page-based B+trees in one data
//! file, with a directory of roots mapping each [`TreeId`] to its root page,
//! made durable by the write-ahead log.
//!
//! ```text
//!   meta.directory_root ──► directory (a B+tree: TreeId (u64 BE) ─► root page (u64 LE))
//!                              ├─ tree 7  ─► root page 12 ─► ... leaves, overflow chains
//!                              └─ tree 9  ─► root page 40 ─► ...
//!
//!   data_dir/ basalt.db       pages (page 0: header)
//!             basalt.control  last checkpoint: redo LSN + meta state
//!             wal/*.wal       redo records of mini-transactions
//! ```
//!
//! Life of a write: `insert` takes the tree lock, runs the B+tree insert in a
//! [`MiniTransaction`] and commits it (one redo record appended to the WAL
//! buffer, page LSNs set). Durability comes later and in bulk: the
//! transaction layer calls [`Engine::wait_durable`] at commit, and group
//! commit flushes every waiting committer's records with one fdatasync.
//!
//! Checkpoints are fuzzy: the redo LSN is fixed first, then every dirty page
//! is written (writers keep going; the pool flushes the WAL before each page,
//! the write-ahead rule), the file is synced, and the control file records
//! the redo LSN with the meta state. WAL below the redo LSN is then removed.
//! A background thread starts one every `checkpoint_interval` or after
//! `max_wal_size` bytes of WAL, and every `wal_writer_delay` makes
//! asynchronous commits durable.
//!
//! Opening runs recovery (see `recovery`) from the control file's
//! checkpoint, then checkpoints if it replayed anything (deferred while
//! recovered logical records wait for their layer, invariant 6).
//!
//! Invariants:
//! 1. The directory's entries and the in-memory trees map agree once a
//!    mini-transaction committed; the map is loaded from the directory on
//!    open and changed only after the directory change committed.
//! 2. Concurrency (the protocol of InnoDB's index lock, with latches on
//!    pages; see docs/storage.md "Concurrency"): each tree has a *structure
//!    lock*. Readers and in-place writers take it shared: the tree's shape
//!    (interior nodes, which leaf holds which keys) cannot change under
//!    them, so they descend latching one page at a time, and an in-place
//!    writer then write-latches just its leaf. An operation that must split,
//!    merge, allocate or free (a structure modification) takes it
//!    exclusively, plus the meta mutex. So any number of readers and leaf
//!    writers run at once, on one tree or many; structure modifications of
//!    one tree wait for each other and for that tree's in-flight operations.
//! 3. Every page change happens in a mini-transaction that either commits
//!    (logged) or aborts (undone), and the meta state is restored with it.
//! 4. The meta state written to the control file is logged and flushed
//!    before the control file is written, so recovery never starts from a
//!    state the WAL does not explain.
//! 5. Lock order: a tree's structure lock, the meta mutex, page latches
//!    (inside mini-transactions), the WAL's mutex. The trees map's lock is
//!    held only for a lookup or an update, never while waiting for another.
//!    In-place writers hold one page latch; only a holder of the exclusive
//!    structure lock holds several latches of that tree, so latch waits
//!    cannot form a cycle.
//! 6. Logical records (the commit log's status records) describe state the
//!    layer above keeps in memory. Its [`CheckpointHook`] stores that state
//!    in trees right after a checkpoint fixes its redo LSN, before the
//!    checkpoint writes pages, so every logical record below a completed
//!    checkpoint's redo LSN is covered by pages and the log after it. Until
//!    a hook is set, recovered logical records defer every checkpoint (they
//!    must stay in the log), and appending one is an error.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use parking_lot::{Condvar, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::btree::node;
use super::btree::overflow;
use super::btree::tree::{BTree, TreeShape};
use super::buffer_pool::BufferPool;
use super::control::{Checkpoint, ControlFile};
use super::engine::{CheckpointHook, Direction, Engine, EntryBatch, KeyRange, TreeId};
use super::file::DataFile;
use super::meta::{self, Meta};
use super::mini_transaction::MiniTransaction;
use super::page::{PAGE_SIZE, PageBytes, PageNumber, PageType};
use super::recovery::{self, RecoveryStats};
use super::redo::LOGICAL_RECORD_TYPE;
use super::vfs::{FileSystem, OsFileSystem};
use super::wal::{Lsn, Wal, WalOptions};
use crate::config::Config;
use crate::error::{Error, Result};

/// The page-based storage engine.
pub struct BTreeEngine {
    shared: Arc<Shared>,
    background: Option<Background>,
    /// The data directory's lock file, held exclusively while the engine
    /// is open over the OS file system: two processes over one directory
    /// would each replay and overwrite the other's pages. Declared last, so
    /// it is released only after the shutdown checkpoint.
    directory_lock: Option<std::fs::File>,
}

struct Shared {
    buffer_pool: BufferPool,
    wal: Arc<Wal>,
    control: ControlFile,
    /// The meta state; held by structure modifications until their
    /// mini-transaction committed (invariant 4 needs that).
    meta: Mutex<Meta>,
    /// Cache of the directory: tree id to its handle (invariant 1).
    trees: RwLock<HashMap<TreeId, Arc<TreeHandle>>>,
    /// Held for a whole checkpoint: one at a time. Holds when the last began.
    checkpoints: Mutex<CheckpointClock>,
    config: Config,
    recovery: RecoveryStats,
    /// The layer above's logical state (invariant 6).
    logical: Mutex<Logical>,
    /// Whether `logical.hook` is set, for `append_logical` without the lock.
    hooked: AtomicBool,
}

/// The checkpoint hook, and logical records recovered but not yet taken.
struct Logical {
    hook: Option<Arc<dyn CheckpointHook>>,
    recovered: Vec<Vec<u8>>,
}

/// One tree: its fixed root and its structure lock (invariant 2).
struct TreeHandle {
    id: TreeId,
    tree: BTree,
    structure: RwLock<()>,
    /// Set (under the exclusive structure lock) when the tree is dropped, for
    /// operations that found the handle just before.
    dropped: AtomicBool,
}

impl TreeHandle {
    fn new(id: TreeId, root: PageNumber) -> Arc<TreeHandle> {
        Arc::new(TreeHandle {
            id,
            tree: BTree::open(root),
            structure: RwLock::new(()),
            dropped: AtomicBool::new(false),
        })
    }

    /// The structure lock, shared, unless the tree was dropped.
    fn shared(&self) -> Result<RwLockReadGuard<'_, ()>> {
        self.unless_dropped(self.structure.read())
    }

    /// The structure lock, exclusive, unless the tree was dropped.
    fn exclusive(&self) -> Result<RwLockWriteGuard<'_, ()>> {
        self.unless_dropped(self.structure.write())
    }

    fn unless_dropped<G>(&self, guard: G) -> Result<G> {
        if self.dropped.load(Ordering::Acquire) {
            return Err(missing(self.id));
        }
        Ok(guard)
    }
}

struct CheckpointClock {
    started: Instant,
    redo_lsn: Lsn,
}

/// The background writer thread and its stop signal.
struct Background {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

fn missing(tree: TreeId) -> Error {
    Error::Internal(format!("tree {tree} does not exist"))
}

/// The structural check the buffer pool runs on every page it reads.
fn validate_page(page_number: PageNumber, bytes: &PageBytes) -> Result<()> {
    match super::page::page_type(bytes) {
        Some(PageType::Leaf | PageType::Interior) => node::validate(page_number, bytes),
        Some(PageType::Overflow) => overflow::validate(page_number, bytes),
        Some(PageType::Free) => Ok(()),
        other => Err(Error::Corrupt(format!(
            "page {page_number}: unexpected {other:?} page among data pages"
        ))),
    }
}

fn directory_key(tree: TreeId) -> [u8; 8] {
    tree.to_be_bytes()
}

/// Runs `operation` in a mini-transaction that may change the meta state
/// and commits it, or undoes it on error (invariant 3).
fn run<T>(
    buffer_pool: &BufferPool,
    meta: &mut Meta,
    operation: impl FnOnce(&mut MiniTransaction<'_>, &mut Meta) -> Result<T>,
) -> Result<T> {
    let mut mtr = MiniTransaction::begin(buffer_pool, meta);
    let result = operation(&mut mtr, meta).and_then(|value| {
        mtr.commit(meta)?;
        Ok(value)
    });
    if result.is_err() {
        mtr.abort(meta);
    }
    result
}

/// Runs an in-place `operation` (one leaf, no meta) and commits it;
/// `Ok(None)` from it means "not possible in place": nothing changed.
fn run_in_place<T>(
    buffer_pool: &BufferPool,
    operation: impl FnOnce(&mut MiniTransaction<'_>) -> Result<Option<T>>,
) -> Result<Option<T>> {
    let mut mtr = MiniTransaction::begin_in_place(buffer_pool);
    let result = operation(&mut mtr).and_then(|value| {
        mtr.commit_pages()?;
        Ok(value)
    });
    if result.is_err() {
        mtr.abort_pages();
    }
    result
}

impl BTreeEngine {
    /// Opens the database in `config.data_dir`, creating it if missing, and
    /// recovers it from the WAL if it was not shut down cleanly.
    pub fn open(config: &Config) -> Result<BTreeEngine> {
        let directory_lock = lock_data_dir(&config.data_dir)?;
        let mut engine = BTreeEngine::open_with(config, Arc::new(OsFileSystem))?;
        engine.directory_lock = Some(directory_lock);
        Ok(engine)
    }

    /// Like [`BTreeEngine::open`], on `file_system` (the crash-simulating one
    /// in tests).
    pub fn open_with(config: &Config, file_system: Arc<dyn FileSystem>) -> Result<BTreeEngine> {
        let data_dir = &config.data_dir;
        let file = DataFile::open_with(&*file_system, data_dir)?;
        let (control, checkpoint) = ControlFile::open(&*file_system, data_dir)?;
        let options = WalOptions {
            segment_size: config.wal_segment_size,
            ..WalOptions::default()
        };
        let (wal, wal_end) = Wal::open(Arc::clone(&file_system), data_dir, options)?;
        let wal = Arc::new(wal);
        let created = checkpoint.is_none();
        let checkpoint = match checkpoint {
            Some(checkpoint) => checkpoint,
            None => {
                let size = file.size_in_bytes()?;
                // Only page 0 written: a creation that crashed before its
                // first checkpoint. Anything else is a database without its
                // control file, which must not be silently recreated.
                let crashed_creation = size == PAGE_SIZE as u64 && {
                    let mut header = Box::new([0u8; PAGE_SIZE]);
                    file.read_page(0, &mut header)
                        .and_then(|_| meta::check_header(&header))
                        .is_ok()
                };
                if size != 0 && !crashed_creation {
                    return Err(Error::Corrupt(format!(
                        "the control file is missing or empty, but the data file is not \
                         new ({size} bytes): refusing to start"
                    )));
                }
                // A new database (or a creation that crashed before its first
                // checkpoint): start over after whatever the WAL holds.
                file.write_page(0, &meta::encode_header())?;
                file.sync()?;
                let checkpoint = Checkpoint {
                    redo_lsn: wal_end,
                    meta: Meta::new(),
                };
                control.write(&checkpoint)?;
                checkpoint
            }
        };
        let mut header = Box::new([0u8; PAGE_SIZE]);
        file.read_page(0, &mut header)?;
        meta::check_header(&header)?;
        let buffer_pool = BufferPool::new(
            file,
            config.buffer_pool_pages,
            validate_page,
            Some(Arc::clone(&wal)),
        )?;
        wal.set_redo_lsn(checkpoint.redo_lsn);
        let recovery::Replayed {
            meta,
            stats,
            logical,
        } = recovery::replay(&buffer_pool, &wal, &checkpoint)?;
        if stats.records > 0 {
            tracing::info!(
                records = stats.records,
                bytes = stats.bytes,
                from_lsn = stats.from_lsn,
                to_lsn = stats.to_lsn,
                seconds = stats.seconds,
                "recovery replayed the WAL"
            );
        }
        let mut meta = meta;
        if meta.directory_root == 0 {
            run(&buffer_pool, &mut meta, |mtr, meta| {
                meta.directory_root = BTree::create(mtr, meta)?.root();
                Ok(())
            })?;
        }
        let shared = Arc::new(Shared {
            buffer_pool,
            wal,
            control,
            meta: Mutex::new(meta),
            trees: RwLock::new(HashMap::new()),
            checkpoints: Mutex::new(CheckpointClock {
                started: Instant::now(),
                redo_lsn: checkpoint.redo_lsn,
            }),
            config: config.clone(),
            recovery: stats,
            logical: Mutex::new(Logical {
                hook: None,
                recovered: logical,
            }),
            hooked: AtomicBool::new(false),
        });
        shared.load_roots()?;
        if created || shared.recovery.records > 0 {
            shared.checkpoint()?;
        }
        let background = Background::start(Arc::clone(&shared));
        Ok(BTreeEngine {
            shared,
            background: Some(background),
            directory_lock: None,
        })
    }

    /// Runs a checkpoint now (see the module docs).
    pub fn checkpoint(&self) -> Result<()> {
        self.shared.checkpoint()
    }

    /// What recovery did when this engine was opened.
    pub fn recovery_stats(&self) -> &RecoveryStats {
        &self.shared.recovery
    }

    /// The write-ahead log.
    pub fn wal(&self) -> &Wal {
        &self.shared.wal
    }

    /// Pages in use by trees and the directory (not meta, not free).
    pub fn used_pages(&self) -> u64 {
        self.shared.meta.lock().used_pages()
    }

    /// Pages in the file (used, free and the meta page).
    pub fn file_pages(&self) -> u64 {
        self.shared.meta.lock().page_count
    }

    /// Pages on the free list.
    pub fn free_pages(&self) -> u64 {
        self.shared.meta.lock().free_count
    }

    /// Pages one tree occupies (nodes and overflow pages).
    pub fn tree_pages(&self, tree: TreeId) -> Result<u64> {
        let handle = self.shared.handle(tree)?;
        let _shape = handle.shared()?;
        handle.tree.page_count(&self.shared.buffer_pool)
    }

    /// Walks a whole tree checking its structural invariants (reads every
    /// page: for tests and diagnostics).
    pub fn check_tree(&self, tree: TreeId) -> Result<TreeShape> {
        let handle = self.shared.handle(tree)?;
        let _shape = handle.shared()?;
        handle.tree.check(&self.shared.buffer_pool)
    }

    /// Disk reads the buffer pool has done (misses), for tests and stats.
    pub fn disk_reads(&self) -> u64 {
        self.shared.buffer_pool.disk_reads()
    }

    /// The root page of a tree (for tests that damage pages on purpose).
    pub fn root_page(&self, tree: TreeId) -> Result<PageNumber> {
        Ok(self.shared.handle(tree)?.tree.root())
    }
}

impl Shared {
    fn handle(&self, tree: TreeId) -> Result<Arc<TreeHandle>> {
        self.trees
            .read()
            .get(&tree)
            .cloned()
            .ok_or_else(|| missing(tree))
    }

    fn load_roots(&self) -> Result<()> {
        let meta = self.meta.lock();
        let mut trees = self.trees.write();
        let directory_root = meta.directory_root;
        let mut entries = EntryBatch::default();
        BTree::open(directory_root).scan(
            &self.buffer_pool,
            &KeyRange::all(),
            Direction::Forward,
            usize::MAX,
            &mut entries,
        )?;
        for index in 0..entries.len() {
            let (key, value) = entries.get(index);
            let (Ok(key), Ok(value)) = (<[u8; 8]>::try_from(key), <[u8; 8]>::try_from(value))
            else {
                return Err(Error::Corrupt(format!(
                    "page {directory_root}: malformed directory entry"
                )));
            };
            let root = u64::from_le_bytes(value);
            if root == 0 || root >= meta.page_count {
                return Err(Error::Corrupt(format!(
                    "page {directory_root}: directory root pointer {root} outside the file"
                )));
            }
            let tree = u64::from_be_bytes(key);
            trees.insert(tree, TreeHandle::new(tree, root));
        }
        Ok(())
    }

    /// [`Engine::insert`].
    fn insert(&self, tree: TreeId, key: &[u8], value: &[u8]) -> Result<()> {
        let handle = self.handle(tree)?;
        {
            let _shape = handle.shared()?;
            let done = run_in_place(&self.buffer_pool, |mtr| {
                Ok(handle.tree.insert_in_place(mtr, key, value)?.then_some(()))
            })?;
            if done.is_some() {
                return Ok(());
            }
        }
        let _structure = handle.exclusive()?;
        let mut meta = self.meta.lock();
        run(&self.buffer_pool, &mut meta, |mtr, meta| {
            handle.tree.insert(mtr, meta, key, value)
        })
    }

    /// A fuzzy checkpoint (see the module docs and invariant 4).
    fn checkpoint(&self) -> Result<()> {
        let mut clock = self.checkpoints.lock();
        let started = Instant::now();
        let hook = {
            let logical = self.logical.lock();
            if logical.hook.is_none() && !logical.recovered.is_empty() {
                // Invariant 6: recovered logical records wait in the log for
                // the layer that owns them.
                tracing::debug!("checkpoint deferred until the logical records are taken");
                return Ok(());
            }
            logical.hook.clone()
        };
        let redo_lsn = self.wal.begin_checkpoint();
        if let Some(hook) = hook
            && !hook.persist(&mut |tree, key, value| self.insert(tree, key, value))?
        {
            tracing::debug!("checkpoint deferred: the logical state is still loading");
            return Ok(());
        }
        self.buffer_pool.flush()?;
        self.buffer_pool.file().sync()?;
        let (meta, meta_lsn) = {
            let meta = self.meta.lock();
            (meta.clone(), self.wal.end_lsn())
        };
        self.wal.flush(meta_lsn)?;
        self.control.write(&Checkpoint { redo_lsn, meta })?;
        let removed = self.wal.remove_segments_before(redo_lsn)?;
        tracing::debug!(
            redo_lsn,
            removed_segments = removed,
            seconds = started.elapsed().as_secs_f64(),
            "checkpoint complete"
        );
        *clock = CheckpointClock { started, redo_lsn };
        Ok(())
    }

    /// One round of the background writer: make asynchronous commits
    /// durable, and checkpoint when it is time.
    fn background_round(&self) -> Result<()> {
        self.wal.flush_all()?;
        self.wal.preallocate_next_segment()?;
        let end = self.wal.end_lsn();
        let due = {
            let clock = self.checkpoints.lock();
            clock.started.elapsed() >= self.config.checkpoint_interval
                || end.saturating_sub(clock.redo_lsn) >= self.config.max_wal_size
        };
        if due {
            self.checkpoint()?;
        }
        Ok(())
    }

    fn fatal_error(&self) -> Option<String> {
        if let Some(reason) = self.wal.failure() {
            return Some(format!("WAL write or sync failed: {reason}"));
        }
        self.buffer_pool
            .file()
            .has_failed()
            .then(|| "data file sync failed".to_string())
    }
}

impl Background {
    fn start(shared: Arc<Shared>) -> Background {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("basalt-wal-writer".into())
            .spawn(move || {
                let (stopped, wake) = &*signal;
                let delay = shared.config.wal_writer_delay;
                loop {
                    {
                        let mut stopped = stopped.lock();
                        if !*stopped {
                            wake.wait_for(&mut stopped, delay);
                        }
                        if *stopped {
                            return;
                        }
                    }
                    if shared.fatal_error().is_some() {
                        // Nothing can be made durable any more; the server stops.
                        continue;
                    }
                    if let Err(error) = shared.background_round() {
                        tracing::error!(%error, "background WAL writer or checkpoint failed");
                    }
                }
            })
            .expect("invariant: the OS can start the background writer thread");
        Background {
            stop,
            thread: Some(thread),
        }
    }

    fn stop(&mut self) {
        let (stopped, wake) = &*self.stop;
        *stopped.lock() = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the background writer thread panicked");
        }
    }
}

impl Engine for BTreeEngine {
    fn create_tree(&self, tree: TreeId) -> Result<()> {
        let shared = &*self.shared;
        let mut meta = shared.meta.lock();
        if shared.trees.read().contains_key(&tree) {
            return Err(Error::Internal(format!("tree {tree} already exists")));
        }
        let root = run(&shared.buffer_pool, &mut meta, |mtr, meta| {
            let created = BTree::create(mtr, meta)?;
            let directory = BTree::open(meta.directory_root);
            directory.insert(
                mtr,
                meta,
                &directory_key(tree),
                &created.root().to_le_bytes(),
            )?;
            Ok(created.root())
        })?;
        shared
            .trees
            .write()
            .insert(tree, TreeHandle::new(tree, root));
        Ok(())
    }

    fn drop_tree(&self, tree: TreeId) -> Result<()> {
        let shared = &*self.shared;
        let handle = shared.handle(tree)?;
        let _structure = handle.exclusive()?;
        let mut meta = shared.meta.lock();
        run(&shared.buffer_pool, &mut meta, |mtr, meta| {
            let directory = BTree::open(meta.directory_root);
            directory.delete(mtr, meta, &directory_key(tree))?;
            Ok(())
        })?;
        handle.dropped.store(true, Ordering::Release);
        shared.trees.write().remove(&tree);
        // Unreachable now: free its pages (a crash part-way leaks the rest).
        run(&shared.buffer_pool, &mut meta, |mtr, meta| {
            handle.tree.destroy(mtr, meta)
        })
    }

    fn tree_exists(&self, tree: TreeId) -> Result<bool> {
        Ok(self.shared.trees.read().contains_key(&tree))
    }

    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let handle = self.shared.handle(tree)?;
        let _shape = handle.shared()?;
        handle.tree.get(&self.shared.buffer_pool, key)
    }

    fn insert(&self, tree: TreeId, key: &[u8], value: &[u8]) -> Result<()> {
        self.shared.insert(tree, key, value)
    }

    fn delete(&self, tree: TreeId, key: &[u8]) -> Result<bool> {
        let shared = &*self.shared;
        let handle = shared.handle(tree)?;
        {
            let _shape = handle.shared()?;
            let done = run_in_place(&shared.buffer_pool, |mtr| {
                handle.tree.delete_in_place(mtr, key)
            })?;
            if let Some(found) = done {
                return Ok(found);
            }
        }
        let _structure = handle.exclusive()?;
        let mut meta = shared.meta.lock();
        run(&shared.buffer_pool, &mut meta, |mtr, meta| {
            handle.tree.delete(mtr, meta, key)
        })
    }

    fn scan_into(
        &self,
        tree: TreeId,
        range: &KeyRange,
        direction: Direction,
        limit: usize,
        out: &mut EntryBatch,
    ) -> Result<()> {
        out.clear();
        let handle = self.shared.handle(tree)?;
        let _shape = handle.shared()?;
        handle
            .tree
            .scan(&self.shared.buffer_pool, range, direction, limit, out)
    }

    fn split_keys(&self, tree: TreeId, range: &KeyRange, parts: usize) -> Result<Vec<Vec<u8>>> {
        let handle = self.shared.handle(tree)?;
        let _shape = handle.shared()?;
        handle
            .tree
            .split_keys(&self.shared.buffer_pool, range, parts)
    }

    fn flush(&self) -> Result<()> {
        self.shared.checkpoint()
    }

    fn log_position(&self) -> u64 {
        self.shared.wal.end_lsn()
    }

    fn wait_durable(&self, position: u64) -> Result<()> {
        self.shared.wal.flush(position)
    }

    fn fatal_error(&self) -> Option<String> {
        self.shared.fatal_error()
    }

    fn append_logical(&self, payload: &[u8]) -> Result<u64> {
        if !self.shared.hooked.load(Ordering::Acquire) {
            return Err(Error::Internal(
                "a logical WAL record needs a checkpoint hook to store its state".into(),
            ));
        }
        self.shared.wal.append(LOGICAL_RECORD_TYPE, payload)
    }

    fn set_checkpoint_hook(&self, hook: Arc<dyn CheckpointHook>) -> Result<()> {
        // Serialized with checkpoints, so none runs with a half-set hook.
        let _clock = self.shared.checkpoints.lock();
        let old = self.shared.logical.lock().hook.clone();
        if let Some(old) = old
            && !old.persist(&mut |tree, key, value| self.shared.insert(tree, key, value))?
        {
            return Err(Error::Internal(
                "the replaced checkpoint hook was not ready to persist".into(),
            ));
        }
        self.shared.logical.lock().hook = Some(hook);
        self.shared.hooked.store(true, Ordering::Release);
        Ok(())
    }

    fn take_recovered_logical(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.shared.logical.lock().recovered)
    }
}

/// Takes `<data_dir>/basalt.lock` exclusively (an advisory lock the OS
/// releases when the process dies, so a `kill -9` leaves nothing stale).
fn lock_data_dir(data_dir: &std::path::Path) -> Result<std::fs::File> {
    std::fs::create_dir_all(data_dir)?;
    let path = data_dir.join("basalt.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    // An engine of this process that was just dropped may still be
    // finishing on a background thread that held the last reference: wait
    // a moment for it before calling the directory taken.
    let deadline = std::time::Instant::now() + LOCK_PATIENCE;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Io(std::io::Error::new(
                    std::io::ErrorKind::WouldBlock,
                    format!(
                        "the data directory {} is in use by another basalt process ({} is locked)",
                        data_dir.display(),
                        path.display()
                    ),
                )));
            }
            Err(std::fs::TryLockError::Error(error)) => return Err(Error::Io(error)),
        }
    }
}

/// How long opening waits for the data directory's lock.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

impl Drop for BTreeEngine {
    fn drop(&mut self) {
        if let Some(mut background) = self.background.take() {
            background.stop();
        }
        if self.shared.fatal_error().is_some() {
            return;
        }
        if let Err(error) = self.shared.checkpoint() {
            tracing::error!(%error, "the shutdown checkpoint failed; recovery will redo the WAL");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ops::Bound;

    use proptest::prelude::*;

    use super::*;
    use crate::storage::engine::scan;
    use crate::storage::memory::MemoryEngine;

    fn config(directory: &tempfile::TempDir, pages: usize) -> Config {
        Config::new(directory.path()).with_buffer_pool_pages(pages)
    }

    fn key(index: u32) -> Vec<u8> {
        index.to_be_bytes().to_vec()
    }

    /// A value whose bytes depend on its seed and length, so mix-ups show.
    fn value_of(seed: u8, length: usize) -> Vec<u8> {
        (0..length)
            .map(|index| seed.wrapping_add((index % 251) as u8))
            .collect()
    }

    #[test]
    fn durable_changes_survive_a_crash_and_later_ones_form_a_prefix() {
        use crate::storage::vfs::SimulatedFileSystem;
        for seed in 0..8 {
            let fs = SimulatedFileSystem::new(seed);
            let config = Config::new("/sim/data").with_buffer_pool_pages(32);
            let engine = BTreeEngine::open_with(&config, Arc::new(fs.clone())).unwrap();
            engine.create_tree(7).unwrap();
            for index in 0..300 {
                engine
                    .insert(7, &key(index), &value_of(index as u8, 100))
                    .unwrap();
            }
            engine.wait_durable(engine.log_position()).unwrap();
            // Not waited for: any prefix of these may survive.
            for index in 300..400 {
                engine.insert(7, &key(index), &value_of(1, 100)).unwrap();
            }
            engine.delete(7, &key(0)).unwrap();
            fs.power_off();
            drop(engine);
            fs.power_on();
            let engine = BTreeEngine::open_with(&config, Arc::new(fs.clone())).unwrap();
            engine.check_tree(7).unwrap();
            let keys: Vec<Vec<u8>> = scan(&engine, 7, KeyRange::all(), Direction::Forward)
                .map(|entry| entry.unwrap().0)
                .collect();
            let deleted = keys.first() != Some(&key(0));
            let survivors = keys.len() + usize::from(deleted) - 300;
            let mut expected: Vec<Vec<u8>> = (0..300 + survivors as u32).map(key).collect();
            if deleted {
                assert_eq!(survivors, 100, "seed {seed}: the delete came last");
                expected.remove(0);
            }
            assert_eq!(keys, expected, "seed {seed}");
            assert_eq!(engine.get(7, &key(150)).unwrap(), Some(value_of(150, 100)));
        }
    }

    #[test]
    fn a_second_engine_over_an_open_data_directory_is_refused() {
        let directory = tempfile::tempdir().unwrap();
        let engine = BTreeEngine::open(&config(&directory, 16)).unwrap();
        let error = BTreeEngine::open(&config(&directory, 16))
            .err()
            .expect("the directory is locked");
        assert!(
            error
                .to_string()
                .contains("in use by another basalt process"),
            "{error}"
        );
        drop(engine);
        // Released with the engine.
        BTreeEngine::open(&config(&directory, 16)).unwrap();
    }

    /// A checkpoint hook that stores one entry per persist: how many
    /// persists ran.
    struct CountingHook(std::sync::atomic::AtomicU64);

    impl CheckpointHook for CountingHook {
        fn persist(&self, sink: &mut crate::storage::StoreEntry<'_>) -> Result<bool> {
            let count = self.0.fetch_add(1, Ordering::SeqCst) + 1;
            sink(7, b"persists", &count.to_be_bytes())?;
            Ok(true)
        }
    }

    #[test]
    fn logical_records_come_back_after_a_crash_and_hold_checkpoints_until_taken() {
        use crate::storage::vfs::SimulatedFileSystem;
        let fs = SimulatedFileSystem::new(3);
        let config = Config::new("/sim/data");
        let engine = BTreeEngine::open_with(&config, Arc::new(fs.clone())).unwrap();
        engine.create_tree(7).unwrap();
        let refused = engine.append_logical(b"no hook").unwrap_err();
        assert!(refused.to_string().contains("checkpoint hook"), "{refused}");
        let hook = Arc::new(CountingHook(Default::default()));
        engine.set_checkpoint_hook(hook.clone()).unwrap();
        engine.checkpoint().unwrap();
        assert_eq!(
            hook.0.load(Ordering::SeqCst),
            1,
            "a checkpoint calls the hook"
        );
        let mut last = 0;
        for index in 0..5u8 {
            last = engine.append_logical(&[index; 3]).unwrap();
        }
        engine.wait_durable(last).unwrap();
        engine.append_logical(b"not durable").unwrap();
        fs.power_off();
        drop(engine);
        fs.power_on();

        let engine = BTreeEngine::open_with(&config, Arc::new(fs.clone())).unwrap();
        let redo_before = engine.shared.checkpoints.lock().redo_lsn;
        engine.checkpoint().unwrap();
        assert_eq!(
            engine.shared.checkpoints.lock().redo_lsn,
            redo_before,
            "no checkpoint may pass recovered logical records nobody took"
        );
        let recovered = engine.take_recovered_logical();
        let expected: Vec<Vec<u8>> = (0..5u8).map(|index| vec![index; 3]).collect();
        assert_eq!(recovered[..5], expected[..]);
        assert!(recovered.len() <= 6, "{recovered:?}");
        assert!(
            engine.take_recovered_logical().is_empty(),
            "handed back once"
        );
        engine.checkpoint().unwrap();
        assert!(engine.shared.checkpoints.lock().redo_lsn > redo_before);
    }

    #[test]
    fn failed_sync_fails_the_flush_and_later_disk_access() {
        use crate::storage::vfs::SimulatedFileSystem;
        let fs = SimulatedFileSystem::new(1);
        let config = Config::new("/sim/data").with_buffer_pool_pages(16);
        let engine = BTreeEngine::open_with(&config, Arc::new(fs.clone())).unwrap();
        engine.create_tree(1).unwrap();
        engine.insert(1, b"k", b"v").unwrap();
        fs.fail_next_sync();
        assert!(engine.flush().is_err());
        assert!(engine.flush().is_err(), "a failed sync must not be retried");
        // Enough inserts to need evictions: the pool cannot write them back.
        let result: Result<()> =
            (0..200).try_for_each(|index| engine.insert(1, &key(index), &value_of(2, 500)));
        assert!(result.is_err());
    }

    #[test]
    fn engine_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<BTreeEngine>();
    }

    #[test]
    fn sequential_100k_scan_lookup_delete_shrink_and_reuse() {
        let directory = tempfile::tempdir().unwrap();
        let engine = BTreeEngine::open(&config(&directory, 64)).unwrap();
        engine.create_tree(1).unwrap();
        let count = 100_000u32;
        for index in 0..count {
            engine
                .insert(1, &key(index), format!("value-{index}").as_bytes())
                .unwrap();
        }
        // More data than the pool holds: eviction and reloads happened.
        let tree_pages = engine.tree_pages(1).unwrap();
        assert!(tree_pages > 64 * 4, "tree of {tree_pages} pages");
        // Ascending inserts split the rightmost leaf unevenly, so leaves end
        // up 90% full, not half full. A cell is a 7-byte header, the key
        // and the value, plus its 2-byte slot.
        let bytes: usize = (0..count)
            .map(|index| 7 + 4 + format!("value-{index}").len() + 2)
            .sum();
        let packed = bytes.div_ceil(crate::storage::btree::node::NODE_CAPACITY * 9 / 10);
        let shape = engine.check_tree(1).unwrap();
        assert!(
            (packed..=packed + 2).contains(&shape.leaves),
            "{} leaves for 100,000 ascending keys, {packed} when 90% full",
            shape.leaves
        );
        assert!(engine.disk_reads() > 0);

        let forward: Vec<_> = scan(&engine, 1, KeyRange::all(), Direction::Forward)
            .map(|e| e.unwrap())
            .collect();
        assert_eq!(forward.len(), count as usize);
        assert!(forward.windows(2).all(|pair| pair[0].0 < pair[1].0));
        assert_eq!(forward[777], (key(777), b"value-777".to_vec()));

        let range = KeyRange {
            start: Bound::Included(key(40_000)),
            end: Bound::Excluded(key(41_000)),
        };
        let ranged: Vec<_> = scan(&engine, 1, range.clone(), Direction::Forward)
            .map(|e| e.unwrap().0)
            .collect();
        assert_eq!(ranged.len(), 1000);
        assert_eq!(
            (ranged[0].clone(), ranged[999].clone()),
            (key(40_000), key(40_999))
        );
        let ranged_back: Vec<_> = scan(&engine, 1, range, Direction::Backward)
            .map(|e| e.unwrap().0)
            .collect();
        assert_eq!(ranged_back.first(), Some(&key(40_999)));
        assert_eq!(ranged_back.len(), 1000);

        for index in (0..count).step_by(97) {
            let expected = format!("value-{index}").into_bytes();
            assert_eq!(engine.get(1, &key(index)).unwrap(), Some(expected));
        }
        assert_eq!(engine.get(1, &key(count)).unwrap(), None);
        assert_eq!(engine.get(1, b"\x00\x00").unwrap(), None);

        let backward: Vec<_> = scan(&engine, 1, KeyRange::all(), Direction::Backward)
            .map(|e| e.unwrap().0)
            .collect();
        assert_eq!(backward.len(), count as usize);
        assert_eq!(backward[0], key(count - 1));
        assert_eq!(backward[backward.len() - 1], key(0));

        let shape = engine.check_tree(1).unwrap();
        assert_eq!(shape.entries, count as usize);
        assert!(shape.depth >= 2, "{shape:?}");
        let file_pages = engine.file_pages();
        for index in 0..count {
            if index == count / 2 {
                // Half deleted: merges kept the structure sound.
                let shape = engine.check_tree(1).unwrap();
                assert_eq!(shape.entries, count as usize / 2);
            }
            assert!(engine.delete(1, &key(index)).unwrap(), "key {index}");
        }
        assert!(!engine.delete(1, &key(5)).unwrap());
        // The tree shrank back to its root leaf; everything else is free.
        assert_eq!(engine.tree_pages(1).unwrap(), 1);
        assert_eq!(engine.used_pages(), 2, "directory root and tree root");
        assert_eq!(engine.free_pages(), file_pages - 3);
        assert!(
            engine
                .scan_batch(1, &KeyRange::all(), Direction::Forward, 10)
                .unwrap()
                .is_empty()
        );

        // Re-inserting reuses the freed pages instead of growing the file.
        for index in 0..count {
            engine
                .insert(1, &key(index), format!("value-{index}").as_bytes())
                .unwrap();
        }
        assert_eq!(engine.file_pages(), file_pages);
        assert_eq!(engine.tree_pages(1).unwrap(), tree_pages);
    }

    #[test]
    fn overflow_values_drop_tree_and_reopen() {
        let directory = tempfile::tempdir().unwrap();
        {
            let engine = BTreeEngine::open(&config(&directory, 16)).unwrap();
            engine.create_tree(5).unwrap();
            engine.create_tree(6).unwrap();
            for index in 0..300u32 {
                let length = if index % 3 == 0 { 20_000 } else { 700 };
                engine
                    .insert(5, &key(index), &value_of(index as u8, length))
                    .unwrap();
                engine.insert(6, &key(index), b"small").unwrap();
            }
            let used = engine.used_pages();
            let tree_pages = engine.tree_pages(5).unwrap();
            // 100 values of 3 overflow pages each, plus the nodes.
            assert!(tree_pages > 300, "{tree_pages}");
            engine.drop_tree(5).unwrap();
            assert!(!engine.tree_exists(5).unwrap());
            assert!(engine.get(5, &key(1)).is_err());
            assert_eq!(engine.used_pages(), used - tree_pages);
            let file_pages = engine.file_pages();
            engine.create_tree(5).unwrap();
            for index in 0..300u32 {
                let length = if index % 3 == 0 { 20_000 } else { 700 };
                engine
                    .insert(5, &key(index), &value_of(index as u8, length))
                    .unwrap();
            }
            assert_eq!(engine.file_pages(), file_pages, "freed pages are reused");
            // Replacing overflow values with small ones frees their chains.
            for index in (0..300u32).step_by(3) {
                engine.insert(5, &key(index), b"tiny").unwrap();
            }
            assert!(engine.tree_pages(5).unwrap() < 100);
        }
        let engine = BTreeEngine::open(&config(&directory, 16)).unwrap();
        assert!(engine.tree_exists(5).unwrap() && engine.tree_exists(6).unwrap());
        assert_eq!(engine.get(5, &key(3)).unwrap(), Some(b"tiny".to_vec()));
        assert_eq!(engine.get(5, &key(4)).unwrap(), Some(value_of(4, 700)));
        assert_eq!(engine.get(6, &key(299)).unwrap(), Some(b"small".to_vec()));
        assert!(engine.create_tree(6).is_err());
        assert!(engine.drop_tree(77).is_err());
        assert!(engine.insert(77, b"k", b"v").is_err());
    }

    #[test]
    fn key_size_limit() {
        let directory = tempfile::tempdir().unwrap();
        let engine = BTreeEngine::open(&config(&directory, 16)).unwrap();
        engine.create_tree(1).unwrap();
        let longest = vec![b'k'; node::MAX_KEY_SIZE];
        engine.insert(1, &longest, b"v").unwrap();
        assert_eq!(engine.get(1, &longest).unwrap(), Some(b"v".to_vec()));
        let too_long = vec![b'k'; node::MAX_KEY_SIZE + 1];
        let error = engine.insert(1, &too_long, b"v").unwrap_err();
        assert!(matches!(error, Error::Internal(_)));
        assert!(
            error.to_string().contains("maximum key size of 1024"),
            "{error}"
        );
        assert_eq!(engine.get(1, &too_long).unwrap(), None);
        assert!(!engine.delete(1, &too_long).unwrap());
        // Many maximal keys force splits of nodes with few, large cells.
        for index in 0..200u32 {
            let mut long_key = vec![b'x'; node::MAX_KEY_SIZE - 4];
            long_key.extend_from_slice(&index.to_be_bytes());
            engine
                .insert(1, &long_key, &value_of(index as u8, 1500))
                .unwrap();
        }
        let all = engine
            .scan_batch(1, &KeyRange::all(), Direction::Forward, 1000)
            .unwrap();
        assert_eq!(all.len(), 201);
    }

    #[test]
    fn flipped_byte_in_a_data_page_is_reported_with_its_page_number() {
        let directory = tempfile::tempdir().unwrap();
        let file_pages = {
            let engine = BTreeEngine::open(&config(&directory, 16)).unwrap();
            engine.create_tree(1).unwrap();
            for index in 0..5000u32 {
                engine
                    .insert(1, &key(index), &value_of(index as u8, 40))
                    .unwrap();
            }
            engine.flush().unwrap();
            engine.file_pages()
        };
        // Corrupt a byte in the middle of the last leaf page (type byte 3 at
        // offset 4, see docs/storage.md): both lookups and scans must see it.
        let path = directory.path().join(crate::storage::file::DATA_FILE_NAME);
        let mut bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len() as u64, file_pages * PAGE_SIZE as u64);
        let victim = (1..file_pages)
            .rev()
            .find(|page| bytes[*page as usize * PAGE_SIZE + 4] == PageType::Leaf as u8)
            .expect("the tree has leaves");
        bytes[victim as usize * PAGE_SIZE + 4000] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();

        let engine = BTreeEngine::open(&config(&directory, 16)).unwrap();
        let expected = format!("page {victim}: checksum mismatch");
        let errors: Vec<Error> = (0..5000u32)
            .filter_map(|index| engine.get(1, &key(index)).err())
            .collect();
        assert!(!errors.is_empty(), "some lookup must touch page {victim}");
        for error in errors {
            assert!(matches!(error, Error::Corrupt(_)), "{error}");
            assert!(error.to_string().contains(&expected), "{error}");
        }
        for direction in [Direction::Forward, Direction::Backward] {
            let scanned = scan(&engine, 1, KeyRange::all(), direction).collect::<Result<Vec<_>>>();
            let error = scanned.expect_err("a full scan reads every leaf");
            assert!(matches!(error, Error::Corrupt(_)), "{error}");
            assert!(error.to_string().contains(&expected), "{error}");
        }
        // Lookups that avoid the damaged page still work.
        assert!((0..5000u32).any(|index| engine.get(1, &key(index)).is_ok()));
    }

    #[test]
    fn missing_control_file_damaged_header_or_cut_file_is_corrupt_on_open() {
        let path_of = |directory: &tempfile::TempDir, name: &str| directory.path().join(name);
        let data = crate::storage::file::DATA_FILE_NAME;
        let expect_corrupt = |directory: &tempfile::TempDir, needle: &str| match BTreeEngine::open(
            &config(directory, 16),
        ) {
            Err(Error::Corrupt(message)) => {
                assert!(
                    message.contains(needle),
                    "{message} should contain {needle}"
                );
            }
            Err(other) => panic!("expected corruption, got {other}"),
            Ok(_) => panic!("expected corruption, opened fine"),
        };

        // Data without a control file is never silently recreated.
        let truncated = tempfile::tempdir().unwrap();
        std::fs::write(path_of(&truncated, data), vec![7u8; 100]).unwrap();
        expect_corrupt(&truncated, "control file is missing");
        let garbage = tempfile::tempdir().unwrap();
        let noise: Vec<u8> = (0..PAGE_SIZE * 2)
            .map(|index| (index * 31 % 256) as u8)
            .collect();
        std::fs::write(path_of(&garbage, data), noise).unwrap();
        expect_corrupt(&garbage, "control file is missing");

        let build = |directory: &tempfile::TempDir| {
            let engine = BTreeEngine::open(&config(directory, 16)).unwrap();
            engine.create_tree(1).unwrap();
            for index in 0..2000u32 {
                engine.insert(1, &key(index), &value_of(1, 100)).unwrap();
            }
        };
        // A damaged header page.
        let header = tempfile::tempdir().unwrap();
        build(&header);
        let mut bytes = std::fs::read(path_of(&header, data)).unwrap();
        bytes[100] ^= 1;
        std::fs::write(path_of(&header, data), &bytes).unwrap();
        expect_corrupt(&header, "page 0: checksum mismatch");

        // A data file cut short after a clean shutdown: the missing pages are
        // reported when read, by number.
        let cut = tempfile::tempdir().unwrap();
        build(&cut);
        let bytes = std::fs::read(path_of(&cut, data)).unwrap();
        std::fs::write(path_of(&cut, data), &bytes[..PAGE_SIZE * 3 + 10]).unwrap();
        let engine = BTreeEngine::open(&config(&cut, 16)).unwrap();
        let error = scan(&engine, 1, KeyRange::all(), Direction::Forward)
            .collect::<Result<Vec<_>>>()
            .unwrap_err();
        assert!(matches!(error, Error::Corrupt(_)), "{error}");
        assert!(error.to_string().contains("beyond the end"), "{error}");
    }

    /// Rewrites page `page_number` of the data file through `edit`, then
    /// reseals its checksum: corruption that the checksum cannot catch.
    fn patch_page(
        directory: &tempfile::TempDir,
        page_number: u64,
        edit: impl FnOnce(&mut PageBytes),
    ) {
        let path = directory.path().join(crate::storage::file::DATA_FILE_NAME);
        let mut bytes = std::fs::read(&path).unwrap();
        let start = page_number as usize * PAGE_SIZE;
        let mut page: Box<PageBytes> =
            Box::new(bytes[start..start + PAGE_SIZE].try_into().unwrap());
        edit(&mut page);
        crate::storage::page::seal(&mut page);
        bytes[start..start + PAGE_SIZE].copy_from_slice(&page[..]);
        std::fs::write(&path, &bytes).unwrap();
    }

    #[test]
    fn empty_leaf_sibling_cycle_is_corrupt_not_an_endless_scan() {
        let directory = tempfile::tempdir().unwrap();
        let root = {
            let engine = BTreeEngine::open(&config(&directory, 16)).unwrap();
            engine.create_tree(1).unwrap();
            engine.root_page(1).unwrap()
        };
        // The empty root leaf links to itself both ways.
        patch_page(&directory, root, |page| {
            node::set_left(page, root);
            node::set_right(page, root);
        });
        let engine = BTreeEngine::open(&config(&directory, 16)).unwrap();
        for direction in [Direction::Forward, Direction::Backward] {
            let error = engine
                .scan_batch(1, &KeyRange::all(), direction, 10)
                .unwrap_err();
            assert!(matches!(error, Error::Corrupt(_)), "{error}");
            assert!(
                error.to_string().contains(&format!("page {root}")),
                "{error}"
            );
        }
    }

    #[test]
    fn a_leaf_with_keys_out_of_order_is_corrupt_not_a_short_scan() {
        let directory = tempfile::tempdir().unwrap();
        let root = {
            let engine = BTreeEngine::open(&config(&directory, 16)).unwrap();
            engine.create_tree(1).unwrap();
            for index in 0..10u32 {
                engine.insert(1, &key(index), &value_of(1, 20)).unwrap();
            }
            engine.root_page(1).unwrap()
        };
        // Swap the slots of keys 3 and 9: the leaf reads 0 1 2 9 4 5 6 7 8 3.
        patch_page(&directory, root, |page| {
            let (three, nine) = (node::NODE_HEADER_SIZE + 6, node::NODE_HEADER_SIZE + 18);
            let (a, b) = ([page[three], page[three + 1]], [page[nine], page[nine + 1]]);
            page[three..three + 2].copy_from_slice(&b);
            page[nine..nine + 2].copy_from_slice(&a);
        });
        let engine = BTreeEngine::open(&config(&directory, 16)).unwrap();
        // Keys 0..=8: the far cell (key 3) is inside, key 9 before it is
        // not. Whether the scan stops at its limit on key 9 or goes on to
        // meet key 4, it must report the disorder, not end at key 9 as if
        // the range were exhausted.
        let range = KeyRange {
            start: Bound::Included(key(0)),
            end: Bound::Included(key(8)),
        };
        for limit in [4, 100] {
            let error = engine
                .scan_batch(1, &range, Direction::Forward, limit)
                .unwrap_err();
            assert!(matches!(error, Error::Corrupt(_)), "limit {limit}: {error}");
            assert!(
                error.to_string().contains(&format!("page {root}")),
                "{error}"
            );
        }
        let error = scan(&engine, 1, KeyRange::all(), Direction::Backward)
            .collect::<Result<Vec<_>>>()
            .unwrap_err();
        assert!(matches!(error, Error::Corrupt(_)), "{error}");
    }

    #[test]
    fn tree_pointers_beyond_the_recorded_page_count_are_corrupt_not_a_panic() {
        // Damage that lowers the recorded page count: merges then free pages
        // that the allocator does not know about.
        let directory = tempfile::tempdir().unwrap();
        let root = {
            let engine = BTreeEngine::open(&config(&directory, 16)).unwrap();
            engine.create_tree(1).unwrap();
            for index in 0..2000u32 {
                engine.insert(1, &key(index), &value_of(1, 100)).unwrap();
            }
            engine.root_page(1).unwrap()
        };
        let (control, checkpoint) = ControlFile::open(&OsFileSystem, directory.path()).unwrap();
        let mut checkpoint = checkpoint.unwrap();
        assert!(checkpoint.meta.page_count > root + 2, "{checkpoint:?}");
        checkpoint.meta.page_count = root + 1;
        checkpoint.meta.free_head = 0;
        checkpoint.meta.free_count = 0;
        control.write(&checkpoint).unwrap();
        let engine = BTreeEngine::open(&config(&directory, 16)).unwrap();
        let errors: Vec<Error> = (0..2000u32)
            .filter_map(|index| engine.delete(1, &key(index)).err())
            .collect();
        assert!(
            !errors.is_empty(),
            "a merge must free a page beyond the count"
        );
        for error in errors {
            assert!(matches!(error, Error::Corrupt(_)), "{error}");
        }
        assert!(engine.drop_tree(1).is_err());
    }

    #[test]
    fn concurrent_readers_and_writers() {
        let directory = tempfile::tempdir().unwrap();
        let engine = BTreeEngine::open(&config(&directory, 32)).unwrap();
        for tree in 0..4u64 {
            engine.create_tree(tree).unwrap();
        }
        std::thread::scope(|threads| {
            for tree in 0..4u64 {
                let engine = &engine;
                threads.spawn(move || {
                    for index in 0..2000u32 {
                        engine
                            .insert(tree, &key(index), &value_of(tree as u8, 64))
                            .unwrap();
                        if index % 10 == 0 {
                            let found = engine.get(tree, &key(index / 2)).unwrap();
                            assert_eq!(found, Some(value_of(tree as u8, 64)));
                        }
                    }
                });
            }
        });
        for tree in 0..4u64 {
            let all = engine
                .scan_batch(tree, &KeyRange::all(), Direction::Backward, 5000)
                .unwrap();
            assert_eq!(all.len(), 2000);
        }
    }

    #[test]
    fn parallel_readers_share_a_small_pool() {
        let directory = tempfile::tempdir().unwrap();
        let engine = BTreeEngine::open(&config(&directory, 16)).unwrap();
        engine.create_tree(1).unwrap();
        let value_for = |index: u32| {
            value_of(
                index as u8,
                if index.is_multiple_of(50) {
                    10_000
                } else {
                    100
                },
            )
        };
        for index in 0..20_000u32 {
            engine.insert(1, &key(index), &value_for(index)).unwrap();
        }
        let reads_before = engine.disk_reads();
        std::thread::scope(|threads| {
            for thread in 0..4u32 {
                let engine = &engine;
                threads.spawn(move || {
                    // Each thread strides differently so their misses interleave.
                    let mut index = thread * 7919;
                    for _ in 0..1500 {
                        index = (index + 7919 * (thread + 1)) % 20_000;
                        assert_eq!(engine.get(1, &key(index)).unwrap(), Some(value_for(index)));
                    }
                    let range = KeyRange {
                        start: Bound::Included(key(thread * 4000)),
                        end: Bound::Excluded(key(thread * 4000 + 3000)),
                    };
                    let entries: Vec<_> = scan(engine, 1, range, Direction::Backward)
                        .map(|e| e.unwrap())
                        .collect();
                    assert_eq!(entries.len(), 3000);
                    assert_eq!(
                        entries[0],
                        (key(thread * 4000 + 2999), value_for(thread * 4000 + 2999))
                    );
                });
            }
        });
        assert!(
            engine.disk_reads() > reads_before + 1000,
            "the readers missed and evicted"
        );
    }

    #[derive(Clone, Debug)]
    enum Operation {
        Insert {
            tree: TreeId,
            key: Vec<u8>,
            seed: u8,
            length: usize,
        },
        /// Many sequential keys under a prefix: grows the tree by levels.
        /// Long padded keys make interior nodes hold few cells: deeper trees.
        InsertMany {
            tree: TreeId,
            prefix: Vec<u8>,
            padding: usize,
            count: u16,
            length: usize,
        },
        Delete {
            tree: TreeId,
            key: Vec<u8>,
        },
        /// Deletes every key in a range: drives merges and redistribution.
        DeleteRange {
            tree: TreeId,
            start: Bound<Vec<u8>>,
            end: Bound<Vec<u8>>,
        },
        Get {
            tree: TreeId,
            key: Vec<u8>,
        },
        Scan {
            tree: TreeId,
            start: Bound<Vec<u8>>,
            end: Bound<Vec<u8>>,
            direction: Direction,
            limit: usize,
        },
        /// Drops the tree and creates it again, empty.
        Recreate {
            tree: TreeId,
        },
        Reopen {
            flush_first: bool,
        },
    }

    fn key_strategy() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(b"abcd".to_vec()), 0..5)
    }

    fn bound_strategy() -> impl Strategy<Value = Bound<Vec<u8>>> {
        prop_oneof![
            Just(Bound::Unbounded),
            key_strategy().prop_map(Bound::Included),
            key_strategy().prop_map(Bound::Excluded),
        ]
    }

    fn length_strategy() -> impl Strategy<Value = usize> {
        prop_oneof![
            4 => 0usize..64,
            2 => 300usize..1800,
            1 => 1990usize..2010,
            1 => 2010usize..20_000,
        ]
    }

    fn operation_strategy() -> impl Strategy<Value = Operation> {
        let tree = 1u64..4;
        prop_oneof![
            8 => (tree.clone(), key_strategy(), any::<u8>(), length_strategy())
                .prop_map(|(tree, key, seed, length)| Operation::Insert { tree, key, seed, length }),
            2 => (
                tree.clone(),
                key_strategy(),
                prop_oneof![Just(0usize), 500usize..1000],
                1u16..400,
                prop_oneof![0usize..40, 200usize..900],
            )
                .prop_map(|(tree, prefix, padding, count, length)| {
                    Operation::InsertMany { tree, prefix, padding, count, length }
                }),
            4 => (tree.clone(), key_strategy()).prop_map(|(tree, key)| Operation::Delete { tree, key }),
            2 => (tree.clone(), bound_strategy(), bound_strategy())
                .prop_map(|(tree, start, end)| Operation::DeleteRange { tree, start, end }),
            3 => (tree.clone(), key_strategy()).prop_map(|(tree, key)| Operation::Get { tree, key }),
            4 => (
                tree.clone(),
                bound_strategy(),
                bound_strategy(),
                prop_oneof![Just(Direction::Forward), Just(Direction::Backward)],
                prop_oneof![1usize..5, 5usize..2000],
            )
                .prop_map(|(tree, start, end, direction, limit)| Operation::Scan {
                    tree,
                    start,
                    end,
                    direction,
                    limit
                }),
            1 => tree.prop_map(|tree| Operation::Recreate { tree }),
            1 => any::<bool>().prop_map(|flush_first| Operation::Reopen { flush_first }),
        ]
    }

    fn apply(
        engine: &BTreeEngine,
        model: &MemoryEngine,
        operation: &Operation,
    ) -> std::result::Result<(), TestCaseError> {
        match operation {
            Operation::Insert {
                tree,
                key,
                seed,
                length,
            } => {
                let value = value_of(*seed, *length);
                engine.insert(*tree, key, &value).unwrap();
                model.insert(*tree, key, &value).unwrap();
            }
            Operation::InsertMany {
                tree,
                prefix,
                padding,
                count,
                length,
            } => {
                for index in 0..*count {
                    let mut key = prefix.clone();
                    key.resize(prefix.len() + padding, b'p');
                    key.extend_from_slice(&index.to_be_bytes());
                    let value = value_of(index as u8, *length);
                    engine.insert(*tree, &key, &value).unwrap();
                    model.insert(*tree, &key, &value).unwrap();
                }
            }
            Operation::Delete { tree, key } => {
                prop_assert_eq!(
                    engine.delete(*tree, key).unwrap(),
                    model.delete(*tree, key).unwrap()
                );
            }
            Operation::DeleteRange { tree, start, end } => {
                let range = KeyRange {
                    start: start.clone(),
                    end: end.clone(),
                };
                let doomed = model
                    .scan_batch(*tree, &range, Direction::Forward, usize::MAX)
                    .unwrap();
                for (key, _) in doomed {
                    prop_assert!(engine.delete(*tree, &key).unwrap());
                    model.delete(*tree, &key).unwrap();
                }
            }
            Operation::Get { tree, key } => {
                prop_assert_eq!(
                    engine.get(*tree, key).unwrap(),
                    model.get(*tree, key).unwrap()
                );
            }
            Operation::Scan {
                tree,
                start,
                end,
                direction,
                limit,
            } => {
                let range = KeyRange {
                    start: start.clone(),
                    end: end.clone(),
                };
                let expected = model.scan_batch(*tree, &range, *direction, *limit).unwrap();
                let found = engine
                    .scan_batch(*tree, &range, *direction, *limit)
                    .unwrap();
                prop_assert_eq!(found, expected);
            }
            Operation::Recreate { tree } => {
                engine.drop_tree(*tree).unwrap();
                model.drop_tree(*tree).unwrap();
                engine.create_tree(*tree).unwrap();
                model.create_tree(*tree).unwrap();
            }
            Operation::Reopen { .. } => unreachable!("handled by the caller"),
        }
        Ok(())
    }

    proptest! {
        // PROPTEST_CASES overrides the default count for a longer hunt.
        #![proptest_config(ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(24),
            ..ProptestConfig::default()
        })]

        #[test]
        fn btree_engine_matches_the_model(
            operations in prop::collection::vec(operation_strategy(), 1..60),
            pool_pages in 16usize..33,
        ) {
            let directory = tempfile::tempdir().unwrap();
            let config = config(&directory, pool_pages);
            let mut engine = BTreeEngine::open(&config).unwrap();
            let model = MemoryEngine::new();
            for tree in 1..4u64 {
                engine.create_tree(tree).unwrap();
                model.create_tree(tree).unwrap();
            }
            for operation in &operations {
                if let Operation::Reopen { flush_first } = operation {
                    if *flush_first {
                        engine.flush().unwrap();
                    }
                    drop(engine);
                    engine = BTreeEngine::open(&config).unwrap();
                } else {
                    apply(&engine, &model, operation)?;
                    // The structure, not just the contents, stays sound.
                    for tree in 1..4u64 {
                        engine.check_tree(tree).unwrap();
                    }
                }
            }
            // Finally everything, both ways, after one more reopen.
            drop(engine);
            let engine = BTreeEngine::open(&config).unwrap();
            let mut tree_pages = 0;
            for tree in 1..4u64 {
                for direction in [Direction::Forward, Direction::Backward] {
                    let expected = model.scan_batch(tree, &KeyRange::all(), direction, usize::MAX).unwrap();
                    let found = engine.scan_batch(tree, &KeyRange::all(), direction, usize::MAX).unwrap();
                    prop_assert_eq!(found, expected);
                }
                tree_pages += engine.tree_pages(tree).unwrap();
                let shape = engine.check_tree(tree).unwrap();
                prop_assert_eq!(shape.entries, model.scan_batch(tree, &KeyRange::all(), Direction::Forward, usize::MAX).unwrap().len());
            }
            // Every page is accounted for: trees, the directory root, or free.
            prop_assert_eq!(engine.used_pages(), tree_pages + 1);
        }
    }
}
