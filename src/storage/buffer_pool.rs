//! The buffer pool: a fixed number of in-memory frames caching pages of the
//! data file, handed out pinned and latched through RAII guards.
//!
//! ```text
//!   page table (Mutex)           frames (fixed Vec)
//!   page 7  ──► frame 0      ┌────────────────────────────────────────┐
//!   page 12 ──► frame 1      │ frame i: RwLock<page bytes> (latch)    │
//!   page 3  ──► frame 2      │          pin_count, dirty, referenced  │
//!                            └────────────────────────────────────────┘
//!   clock hand ─► sweeps frames: pinned → skip; referenced → clear, skip;
//!                 otherwise evict (write back first if dirty)
//! ```
//!
//! A hit does not take the mutex: `lookup`, a direct-mapped table indexed
//! by page number, names the frame that last held the page, and the reader
//! pins that frame and then checks that it still holds the page (the
//! frame's `page`). The table is only a hint, written under the mutex; a
//! stale or overwritten entry fails the check and the reader takes the
//! mutex. Claiming a victim and pinning race on the pin count alone:
//!
//! ```text
//!   reader (no mutex)                    evictor (under the mutex)
//!   frame = lookup[page % size]          CAS pin_count 0 -> EVICTING
//!   pin_count += 1 -> previous             (fails if anyone is pinned)
//!   previous has EVICTING? undo, slow    page = new page (Release)
//!   frame.page != page?    undo, slow    pin_count -= EVICTING - 1
//!   latch, check `loaded`                  (the loader's pin; readers'
//!                                           stray +1s stay balanced)
//! ```
//!
//! Invariants:
//! 1. A frame with `pin_count > 0` is never evicted: the evictor claims a
//!    frame by swapping its pin count from 0 to `EVICTING`, so a pin taken
//!    before the claim makes it fail, and a pin attempted during it sees
//!    the flag and is undone. A pin attempted after the new page is mapped
//!    sees the new `page` (published before the flag is cleared) and is
//!    undone unless it wanted that page.
//! 2. Guards release their latch before their pin ([`PageRef`] and
//!    [`PageMut`] declare the latch guard before the pin, and fields drop in
//!    order), so an unpinned frame is never latched and the evictor's latch
//!    acquisition never waits.
//! 3. A dirty victim is written back before its page-table entry is removed;
//!    if the write fails the page stays cached and dirty (no lost update).
//! 4. A page loaded from disk passed its checksum, type and the structural
//!    validator given at construction before anyone sees it: every page in
//!    the pool is well-formed, so readers may index it without re-checking.
//! 5. Taking a [`PageMut`] marks the frame dirty (under the write latch);
//!    [`BufferPool::flush`] clears the flag while holding the read latch, so
//!    a change is never lost between the write-back and the flag clear.
//! 6. When every frame is pinned a fetch fails with `Error::Internal`; it
//!    never blocks waiting for a pin to go away (that could deadlock).
//! 7. The write-ahead rule: before a dirty page is written to the file, the
//!    WAL is flushed up to the page's LSN ([`BufferPool::write_back`]), so no
//!    change reaches the data file before the log record that can redo it.
//! 8. A miss maps the page to its frame and takes the frame's write latch
//!    under the mutex, then reads the page with only the latch held. Threads
//!    that find the page meanwhile pin it and wait on the latch; they then
//!    check `loaded` and retry if the read failed (the loader unmapped it).
//!
//! Locking: lock order is frame latch, then page-table mutex. The mutex is
//! never held while waiting for a latch (a victim's latch is free by
//! invariant 2), so there is no cycle. Disk reads run outside the mutex; the
//! write-back of a dirty victim still runs under it, which serialises misses
//! that evict dirty pages (keeping the old page mapped until it is written
//! means nobody can read a stale copy from disk). `flush` writes outside it.
//! A hit found through `lookup` takes no mutex at all: only its frame's pin
//! count and latch.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use parking_lot::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::file::DataFile;
use super::page::{self, PAGE_SIZE, PageBytes, PageNumber};
use super::wal::Wal;
use crate::error::{Error, Result};
use crate::hash::{FastHashState, FastMap};

/// The smallest pool that the B+tree can work with: an operation pins at most
/// a handful of pages at once.
pub const MIN_FRAMES: usize = 8;

/// Checks the structure of a page just read from disk (after its checksum).
pub type Validator = fn(PageNumber, &PageBytes) -> Result<()>;

/// What a frame's latch protects.
struct FrameData {
    bytes: Box<PageBytes>,
    /// False while the page is being read, and after a failed read: a thread
    /// that pinned the frame meanwhile sees it and retries (invariant 8).
    loaded: bool,
}

/// One cache line per frame: every page access writes its frame's pin
/// count and latch word, and frames sharing a line would make threads on
/// different pages contend for it.
#[repr(align(64))]
struct Frame {
    latch: RwLock<FrameData>,
    /// Pins, plus [`EVICTING`] while an evictor has claimed the frame.
    pin_count: AtomicUsize,
    /// The page the frame holds, or [`NO_PAGE`] (the reverse of the page
    /// table); changed only under the page-table mutex, read by hits that
    /// skip it.
    page: AtomicU64,
    dirty: AtomicBool,
    referenced: AtomicBool,
}

/// The pin-count flag of a frame claimed for eviction (invariant 1).
const EVICTING: usize = 1 << (usize::BITS - 1);
/// `Frame::page` of a frame holding no page.
const NO_PAGE: u64 = u64::MAX;

struct PoolState {
    page_table: FastMap<PageNumber, usize>,
    clock_hand: usize,
}

/// A fixed-capacity page cache over the data file.
pub struct BufferPool {
    file: DataFile,
    /// The log whose records cover the pages' changes (invariant 7); `None`
    /// only for pools of tests below the WAL.
    wal: Option<Arc<Wal>>,
    frames: Vec<Frame>,
    /// Slot `page % len`: 1 + the index of the frame that last held a page
    /// of that slot, or 0. A hint for hits, checked against `Frame::page`.
    lookup: Box<[AtomicU32]>,
    state: Mutex<PoolState>,
    validator: Validator,
    disk_reads: AtomicU64,
    disk_writes: AtomicU64,
}

/// Unpins its frame when dropped.
struct Pin<'a> {
    frame: &'a Frame,
}

impl Drop for Pin<'_> {
    fn drop(&mut self) {
        self.frame.pin_count.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A pinned page under a shared (read) latch.
pub struct PageRef<'a> {
    // Field order matters (invariant 2): the latch is released before the pin.
    guard: RwLockReadGuard<'a, FrameData>,
    _pin: Pin<'a>,
    page_number: PageNumber,
}

/// A pinned page under an exclusive (write) latch; the frame is dirty.
pub struct PageMut<'a> {
    guard: RwLockWriteGuard<'a, FrameData>,
    _pin: Pin<'a>,
    page_number: PageNumber,
}

impl PageRef<'_> {
    pub fn page_number(&self) -> PageNumber {
        self.page_number
    }
}

impl PageMut<'_> {
    pub fn page_number(&self) -> PageNumber {
        self.page_number
    }
}

impl Deref for PageRef<'_> {
    type Target = PageBytes;
    fn deref(&self) -> &PageBytes {
        &self.guard.bytes
    }
}

impl Deref for PageMut<'_> {
    type Target = PageBytes;
    fn deref(&self) -> &PageBytes {
        &self.guard.bytes
    }
}

impl DerefMut for PageMut<'_> {
    fn deref_mut(&mut self) -> &mut PageBytes {
        &mut self.guard.bytes
    }
}

/// Whether a miss reads the page from disk or starts from zeros.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fill {
    FromDisk,
    Zeroed,
}

impl BufferPool {
    /// A pool of `capacity` frames over `file`, checking loaded pages with
    /// `validator` and obeying the write-ahead rule against `wal`.
    pub fn new(
        file: DataFile,
        capacity: usize,
        validator: Validator,
        wal: Option<Arc<Wal>>,
    ) -> Result<BufferPool> {
        if capacity < MIN_FRAMES {
            return Err(Error::Internal(format!(
                "buffer pool of {capacity} pages is too small (minimum {MIN_FRAMES})"
            )));
        }
        if capacity >= u32::MAX as usize {
            return Err(Error::Internal(format!(
                "buffer pool of {capacity} pages is too large (frames are numbered in 32 bits)"
            )));
        }
        let frames = (0..capacity)
            .map(|_| Frame {
                latch: RwLock::new(FrameData {
                    bytes: Box::new([0u8; PAGE_SIZE]),
                    loaded: false,
                }),
                pin_count: AtomicUsize::new(0),
                page: AtomicU64::new(NO_PAGE),
                dirty: AtomicBool::new(false),
                referenced: AtomicBool::new(false),
            })
            .collect();
        let lookup_size = (2 * capacity).next_power_of_two();
        Ok(BufferPool {
            file,
            wal,
            frames,
            lookup: (0..lookup_size).map(|_| AtomicU32::new(0)).collect(),
            state: Mutex::new(PoolState {
                page_table: FastMap::with_capacity_and_hasher(capacity, FastHashState),
                clock_hand: 0,
            }),
            validator,
            disk_reads: AtomicU64::new(0),
            disk_writes: AtomicU64::new(0),
        })
    }

    /// The underlying file (for the meta page, which bypasses the pool).
    pub fn file(&self) -> &DataFile {
        &self.file
    }

    /// The write-ahead log, if the pool has one.
    pub fn wal(&self) -> Option<&Arc<Wal>> {
        self.wal.as_ref()
    }

    /// Writes a page to the file, flushing the WAL up to its LSN first
    /// (invariant 7).
    fn write_back(&self, page_number: PageNumber, bytes: &PageBytes) -> Result<()> {
        if let Some(wal) = &self.wal {
            wal.flush(page::lsn(bytes))?;
        }
        self.file.write_page(page_number, bytes)?;
        self.disk_writes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// How many frames the pool has.
    pub fn capacity(&self) -> usize {
        self.frames.len()
    }

    /// How many pages were read from disk so far (misses).
    pub fn disk_reads(&self) -> u64 {
        self.disk_reads.load(Ordering::Relaxed)
    }

    /// How many pages were written to disk so far (evictions and flushes).
    pub fn disk_writes(&self) -> u64 {
        self.disk_writes.load(Ordering::Relaxed)
    }

    /// Pins `page_number` under a read latch, reading it from disk on a miss.
    pub fn fetch_read(&self, page_number: PageNumber) -> Result<PageRef<'_>> {
        let (frame, _) = self.pin(page_number, Fill::FromDisk)?;
        let guard = frame.latch.read();
        Ok(PageRef {
            guard,
            _pin: Pin { frame },
            page_number,
        })
    }

    /// Pins `page_number` under a write latch, reading it on a miss; marks it dirty.
    pub fn fetch_write(&self, page_number: PageNumber) -> Result<PageMut<'_>> {
        let (frame, _) = self.pin(page_number, Fill::FromDisk)?;
        let guard = frame.latch.write();
        frame.dirty.store(true, Ordering::Release);
        Ok(PageMut {
            guard,
            _pin: Pin { frame },
            page_number,
        })
    }

    /// Pins `page_number` under a write latch with all-zero contents, without
    /// reading the disk: for freshly allocated pages whose old bytes are dead.
    /// Also returns the page's previous contents if it was cached (a
    /// mini-transaction restores them if it aborts; an uncached page's disk
    /// copy is current, so [`BufferPool::forget`] restores that one).
    pub fn create(&self, page_number: PageNumber) -> Result<(PageMut<'_>, Option<Box<PageBytes>>)> {
        let (frame, hit) = self.pin(page_number, Fill::Zeroed)?;
        let mut guard = frame.latch.write();
        let previous = hit.then(|| Box::new(*guard.bytes));
        guard.bytes.fill(0);
        frame.dirty.store(true, Ordering::Release);
        Ok((
            PageMut {
                guard,
                _pin: Pin { frame },
                page_number,
            },
            previous,
        ))
    }

    /// Drops a page from the pool without writing it back: the next fetch
    /// reads the file again. For undoing a `create` of an uncached page.
    pub fn forget(&self, page: PageMut<'_>) {
        let frame = page._pin.frame;
        let mut guard = page.guard;
        {
            let mut state = self.state.lock();
            if let Some(index) = state.page_table.remove(&page.page_number) {
                self.frames[index].page.store(NO_PAGE, Ordering::Release);
            }
        }
        frame.dirty.store(false, Ordering::Release);
        // Threads that pinned the frame meanwhile see this and retry (invariant 8).
        guard.loaded = false;
    }

    /// Finds or loads the page's frame and pins it (pin count +1); says
    /// whether the page was already cached.
    fn pin(&self, page_number: PageNumber, fill: Fill) -> Result<(&Frame, bool)> {
        loop {
            if let Some(frame) = self.pin_cached(page_number) {
                return Ok((frame, true));
            }
            let mut state = self.state.lock();
            if let Some(&index) = state.page_table.get(&page_number) {
                let frame = &self.frames[index];
                frame.pin_count.fetch_add(1, Ordering::AcqRel);
                frame.referenced.store(true, Ordering::Relaxed);
                // A colliding page may have taken the hint's slot.
                self.lookup[self.lookup_slot(page_number)]
                    .store(index as u32 + 1, Ordering::Release);
                drop(state);
                if Self::await_load(frame) {
                    return Ok((frame, true));
                }
                // Its read failed; retry, so that our own attempt reports why.
                continue;
            }
            let index = self.choose_victim(&mut state)?;
            let frame = &self.frames[index];
            // Unpinned frames are unlatched (invariant 2), and a claimed one
            // stays so (invariant 1): this never waits.
            let mut data = frame.latch.write();
            let old_page = frame.page.load(Ordering::Acquire);
            if old_page != NO_PAGE {
                if frame.dirty.load(Ordering::Acquire) {
                    // Write back before unmapping (invariant 3).
                    if let Err(error) = self.write_back(old_page, &data.bytes) {
                        frame.pin_count.fetch_sub(EVICTING, Ordering::AcqRel);
                        return Err(error);
                    }
                    frame.dirty.store(false, Ordering::Release);
                }
                state.page_table.remove(&old_page);
            }
            state.page_table.insert(page_number, index);
            // Publish the new page before releasing the claim (invariant 1).
            frame.page.store(page_number, Ordering::Release);
            self.lookup[self.lookup_slot(page_number)].store(index as u32 + 1, Ordering::Release);
            frame.pin_count.fetch_sub(EVICTING - 1, Ordering::AcqRel);
            frame.referenced.store(true, Ordering::Relaxed);
            data.loaded = false;
            // The read runs without the mutex; the write latch keeps others out.
            drop(state);
            let loaded = match fill {
                Fill::FromDisk => {
                    self.disk_reads.fetch_add(1, Ordering::Relaxed);
                    self.file
                        .read_page(page_number, &mut data.bytes)
                        .and_then(|_| (self.validator)(page_number, &data.bytes))
                }
                Fill::Zeroed => {
                    data.bytes.fill(0);
                    Ok(())
                }
            };
            if let Err(error) = loaded {
                let mut state = self.state.lock();
                if state.page_table.get(&page_number) == Some(&index) {
                    state.page_table.remove(&page_number);
                    frame.page.store(NO_PAGE, Ordering::Release);
                }
                drop(state);
                drop(data);
                frame.pin_count.fetch_sub(1, Ordering::AcqRel);
                return Err(error);
            }
            data.loaded = true;
            return Ok((frame, false));
        }
    }

    /// A hit without the mutex (see the module doc): the page's frame, pinned,
    /// once any read of it has finished; `None` sends the caller to the
    /// mutex (not cached, a stale hint, a frame being evicted, a failed read).
    fn pin_cached(&self, page_number: PageNumber) -> Option<&Frame> {
        let entry = self.lookup[self.lookup_slot(page_number)].load(Ordering::Acquire);
        let frame = self.frames.get((entry as usize).checked_sub(1)?)?;
        let previous = frame.pin_count.fetch_add(1, Ordering::AcqRel);
        if previous & EVICTING != 0 || frame.page.load(Ordering::Acquire) != page_number {
            frame.pin_count.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        // Only write the shared line when the bit is not already set.
        if !frame.referenced.load(Ordering::Relaxed) {
            frame.referenced.store(true, Ordering::Relaxed);
        }
        Self::await_load(frame).then_some(frame)
    }

    /// Waits for any read of a pinned frame's page to finish (on its latch)
    /// and says whether it loaded; if not, the read failed and the pin is
    /// undone (invariant 8).
    fn await_load(frame: &Frame) -> bool {
        if frame.latch.read().loaded {
            return true;
        }
        frame.pin_count.fetch_sub(1, Ordering::AcqRel);
        false
    }

    /// The slot of `lookup` for a page: page numbers are dense, so the low
    /// bits spread them evenly.
    fn lookup_slot(&self, page_number: PageNumber) -> usize {
        (page_number as usize) & (self.lookup.len() - 1)
    }

    /// The clock sweep: the first unpinned frame whose reference bit is clear,
    /// clearing bits as it passes (second chance), claimed for eviction
    /// (invariant 1). Two full turns suffice.
    fn choose_victim(&self, state: &mut PoolState) -> Result<usize> {
        let frame_count = self.frames.len();
        for _ in 0..2 * frame_count {
            let index = state.clock_hand;
            state.clock_hand = (index + 1) % frame_count;
            let frame = &self.frames[index];
            if frame.pin_count.load(Ordering::Acquire) > 0 {
                continue;
            }
            if frame.page.load(Ordering::Acquire) != NO_PAGE
                && frame.referenced.swap(false, Ordering::Relaxed)
            {
                continue;
            }
            if frame
                .pin_count
                .compare_exchange(0, EVICTING, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                // Pinned by a hit since the check above.
                continue;
            }
            return Ok(index);
        }
        Err(Error::Internal(format!(
            "buffer pool exhausted: all {frame_count} frames are pinned"
        )))
    }

    /// Writes every dirty page back to the file (no sync: the caller syncs
    /// after writing the meta page).
    pub fn flush(&self) -> Result<()> {
        // Pin the dirty frames under the mutex, then write them without it,
        // so the mutex is never held while waiting for a latch.
        let mut pinned = Vec::new();
        {
            let _state = self.state.lock();
            for frame in &self.frames {
                let page_number = frame.page.load(Ordering::Acquire);
                if page_number != NO_PAGE && frame.dirty.load(Ordering::Acquire) {
                    frame.pin_count.fetch_add(1, Ordering::AcqRel);
                    pinned.push((Pin { frame }, page_number));
                }
            }
        }
        for (pin, page_number) in &pinned {
            let data = pin.frame.latch.read();
            if pin.frame.dirty.load(Ordering::Acquire) {
                self.write_back(*page_number, &data.bytes)?;
                pin.frame.dirty.store(false, Ordering::Release);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::page::{self, PageType};

    fn accept(_: PageNumber, _: &PageBytes) -> Result<()> {
        Ok(())
    }

    fn pool(capacity: usize) -> (tempfile::TempDir, BufferPool) {
        let directory = tempfile::tempdir().unwrap();
        let file = DataFile::open(directory.path()).unwrap();
        (
            directory,
            BufferPool::new(file, capacity, accept, None).unwrap(),
        )
    }

    /// Readers hit pages without the mutex while others evict and remap
    /// their frames: nobody ever sees another page's bytes, and every
    /// write survives eviction (invariant 1 under contention).
    #[test]
    fn hits_without_the_mutex_race_evictions_safely() {
        const PAGES: u64 = 40;
        let (_directory, pool) = pool(MIN_FRAMES);
        for page_number in 1..=PAGES {
            let (mut page, _) = pool.create(page_number).unwrap();
            page::initialize(&mut page, PageType::Overflow);
            page[100..108].copy_from_slice(&page_number.to_le_bytes());
        }
        let threads = 4;
        let increments: Vec<Vec<u64>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|thread| {
                    let pool = &pool;
                    scope.spawn(move || {
                        let mut random = crate::storage::vfs::SplitMix64(thread as u64 + 1);
                        let mut increments = vec![0u64; PAGES as usize + 1];
                        for _ in 0..20_000 {
                            // Mostly a few hot pages (hits), sometimes any
                            // page (misses that evict).
                            let draw = random.next_u64();
                            let page_number = if draw.is_multiple_of(4) {
                                1 + draw / 4 % PAGES
                            } else {
                                1 + draw / 4 % 3
                            };
                            if draw % 10 == 1 {
                                let mut page = pool.fetch_write(page_number).unwrap();
                                assert_eq!(page[100..108], page_number.to_le_bytes());
                                let count = u64::from_le_bytes(page[200..208].try_into().unwrap());
                                page[200..208].copy_from_slice(&(count + 1).to_le_bytes());
                                increments[page_number as usize] += 1;
                            } else {
                                let page = pool.fetch_read(page_number).unwrap();
                                assert_eq!(page[100..108], page_number.to_le_bytes());
                            }
                        }
                        increments
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().unwrap())
                .collect()
        });
        for page_number in 1..=PAGES {
            let page = pool.fetch_read(page_number).unwrap();
            let expected: u64 = increments
                .iter()
                .map(|per_thread| per_thread[page_number as usize])
                .sum();
            assert_eq!(
                u64::from_le_bytes(page[200..208].try_into().unwrap()),
                expected,
                "page {page_number}"
            );
        }
        assert!(pool.disk_reads() > 0, "the test must evict");
    }

    #[test]
    fn evicts_writes_back_and_reloads() {
        let (_directory, pool) = pool(8);
        for page_number in 1..=40u64 {
            let (mut page, _) = pool.create(page_number).unwrap();
            page::initialize(&mut page, PageType::Overflow);
            page[100] = page_number as u8;
        }
        // 40 pages through 8 frames: at least 32 write-backs happened.
        assert!(pool.disk_writes() >= 32);
        for page_number in 1..=40u64 {
            let page = pool.fetch_read(page_number).unwrap();
            assert_eq!(page[100], page_number as u8);
        }
        assert!(pool.disk_reads() >= 32);
        pool.flush().unwrap();
        let mut bytes = [0u8; PAGE_SIZE];
        pool.file().read_page(17, &mut bytes).unwrap();
        assert_eq!(bytes[100], 17);
    }

    #[test]
    fn all_frames_pinned_is_an_error_not_a_deadlock() {
        let (_directory, pool) = pool(8);
        let guards: Vec<_> = (1..=8u64)
            .map(|page| pool.create(page).unwrap().0)
            .collect();
        let error = pool.create(9).err().expect("every frame is pinned");
        assert!(
            error.to_string().contains("all 8 frames are pinned"),
            "{error}"
        );
        drop(guards);
        assert!(pool.create(9).is_ok());
        assert!(
            BufferPool::new(DataFile::open(_directory.path()).unwrap(), 2, accept, None).is_err()
        );
    }

    #[test]
    fn hit_shares_the_frame_and_a_failed_load_is_reported() {
        let (_directory, pool) = pool(8);
        {
            let (mut page, _) = pool.create(3).unwrap();
            page::initialize(&mut page, PageType::Free);
            page[50] = 5;
        }
        let first = pool.fetch_read(3).unwrap();
        let second = pool.fetch_read(3).unwrap();
        assert_eq!(first[50], second[50]);
        drop((first, second));
        // Page 30 was never written: reading it is corruption, not a panic.
        assert!(matches!(pool.fetch_read(30), Err(Error::Corrupt(_))));
        assert_eq!(pool.fetch_write(3).unwrap()[50], 5);
    }

    #[test]
    fn concurrent_misses_on_one_page_load_it_once_or_all_fail() {
        let (_directory, pool) = pool(8);
        for page_number in 1..=20u64 {
            let (mut page, _) = pool.create(page_number).unwrap();
            page::initialize(&mut page, PageType::Free);
            page[64] = page_number as u8;
        }
        pool.flush().unwrap();
        std::thread::scope(|threads| {
            for thread in 0..4u64 {
                let pool = &pool;
                threads.spawn(move || {
                    for round in 0..200u64 {
                        let page_number = 1 + (round * (thread + 1)) % 20;
                        assert_eq!(pool.fetch_read(page_number).unwrap()[64], page_number as u8);
                        // Page 40 was never written: every thread gets the error.
                        assert!(matches!(pool.fetch_read(40), Err(Error::Corrupt(_))));
                    }
                });
            }
        });
    }
}
