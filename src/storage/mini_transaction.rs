//! Mini-transactions: the unit in which pages change. One B+tree operation
//! (an insert with its splits, a delete with its merges, creating a tree)
//! runs in one mini-transaction, which latches every page it changes until
//! its single redo record is in the WAL. The idea and the name come from
//! InnoDB's `mtr`; PostgreSQL gets the same effect with one WAL record per
//! multi-page B-tree action.
//!
//! ```text
//!   begin ─► read/write/create/apply pages ─► commit:
//!              each changed page stays          one redo record (images or
//!              write-latched and pinned         deltas per page, plus meta)
//!                                               appended to the WAL at LSN L;
//!                                               every page's LSN := L;
//!                                               latches released
//!          └─► abort (an error part-way): pages get their bytes back, meta too
//! ```
//!
//! Invariants:
//! 1. A changed page is write-latched and pinned from its first change until
//!    the commit set its LSN, so no other thread sees it half-changed and the
//!    buffer pool cannot write it back before its redo record exists (the
//!    write-ahead rule then holds through the page LSN).
//! 2. The redo record is one WAL record: after a crash, a mini-transaction
//!    is replayed whole or not at all, so multi-page structure changes are
//!    atomic.
//! 3. The decision "image or delta" is made inside the WAL's append, against
//!    the redo LSN current at that moment: a page whose LSN is at or below
//!    the redo LSN (not changed since the checkpoint began) is logged as an
//!    image, which is what makes torn pages harmless (redo invariant 3).
//! 4. Every read inside a mini-transaction goes through it ([`PageSource`]),
//!    so it never waits for a latch it already holds.
//! 5. `abort` restores each changed page's bytes as they were before the
//!    mini-transaction, and the caller restores the meta state, so a failed
//!    operation leaves no trace (pages created without a cached copy are
//!    dropped from the pool; their disk copy is the current one). An
//!    in-place mini-transaction keeps no copies: it changes each page by a
//!    single `apply`, and `redo::apply_delta` checks before it writes, so a
//!    failed apply leaves the page untouched.

use super::buffer_pool::{BufferPool, PageMut};
use super::meta::Meta;
use super::page::{self, PageBytes, PageNumber};
use super::redo::{self, Delta, REDO_RECORD_TYPE, RedoWriter};
use crate::error::Result;

/// Read access to pages, through the pool or through a mini-transaction.
pub trait PageSource {
    /// Runs `read` over the page's bytes.
    fn with_page<R>(
        &mut self,
        page_number: PageNumber,
        read: impl FnOnce(&PageBytes) -> Result<R>,
    ) -> Result<R>;

    /// A copy of the page, to edit while unlatched.
    fn copy_page(&mut self, page_number: PageNumber) -> Result<Box<PageBytes>> {
        self.with_page(page_number, |bytes| Ok(Box::new(*bytes)))
    }
}

impl PageSource for &BufferPool {
    fn with_page<R>(
        &mut self,
        page_number: PageNumber,
        read: impl FnOnce(&PageBytes) -> Result<R>,
    ) -> Result<R> {
        let page = self.fetch_read(page_number)?;
        read(&page)
    }
}

/// How a held page will be logged.
enum PageLog {
    Image,
    Deltas(Vec<Delta>),
}

/// What the page looked like before this mini-transaction (invariant 5).
enum Before {
    Bytes(Box<PageBytes>),
    /// Created without a cached copy: forget it on abort.
    Uncached,
    /// Not kept: an in-place mini-transaction changes a page only by one
    /// `apply`, which checks everything before it writes, so a failure
    /// leaves the page as it was.
    NotNeeded,
}

struct HeldPage<'pool> {
    guard: PageMut<'pool>,
    before: Before,
    log: PageLog,
}

/// A group of page changes that is logged, and survives a crash, as one.
pub struct MiniTransaction<'pool> {
    pool: &'pool BufferPool,
    held: Vec<HeldPage<'pool>>,
    /// The meta state to restore on abort; `None` for a mini-transaction
    /// that only edits pages in place and never allocates or frees.
    meta_before: Option<Meta>,
}

impl<'pool> MiniTransaction<'pool> {
    /// Starts a mini-transaction; `meta` is the meta state it starts from.
    pub fn begin(pool: &'pool BufferPool, meta: &Meta) -> MiniTransaction<'pool> {
        MiniTransaction {
            pool,
            held: Vec::new(),
            meta_before: Some(meta.clone()),
        }
    }

    /// Starts a mini-transaction that changes pages in place only (no
    /// allocation, no free): it needs no access to the meta state. Commit it
    /// with [`MiniTransaction::commit_pages`].
    pub fn begin_in_place(pool: &'pool BufferPool) -> MiniTransaction<'pool> {
        MiniTransaction {
            pool,
            held: Vec::new(),
            meta_before: None,
        }
    }

    /// How many pages this mini-transaction holds latched.
    pub fn held_pages(&self) -> usize {
        self.held.len()
    }

    fn position(&self, page_number: PageNumber) -> Option<usize> {
        self.held
            .iter()
            .position(|held| held.guard.page_number() == page_number)
    }

    /// Latches the page for writing (or finds it held) and returns its index.
    fn hold(&mut self, page_number: PageNumber) -> Result<usize> {
        if let Some(index) = self.position(page_number) {
            return Ok(index);
        }
        let guard = self.pool.fetch_write(page_number)?;
        let before = if self.meta_before.is_some() {
            Before::Bytes(Box::new(*guard))
        } else {
            Before::NotNeeded
        };
        self.held.push(HeldPage {
            guard,
            before,
            log: PageLog::Deltas(Vec::new()),
        });
        Ok(self.held.len() - 1)
    }

    /// Write-latches the page (held until commit or abort) and runs `read`
    /// over it, without marking it changed.
    pub fn latch<R>(
        &mut self,
        page_number: PageNumber,
        read: impl FnOnce(&PageBytes) -> Result<R>,
    ) -> Result<R> {
        let index = self.hold(page_number)?;
        read(&self.held[index].guard)
    }

    /// The page's bytes for arbitrary editing; it will be logged as an image.
    pub fn write(&mut self, page_number: PageNumber) -> Result<&mut PageBytes> {
        debug_assert!(
            self.meta_before.is_some(),
            "invariant: in place means apply only"
        );
        let index = self.hold(page_number)?;
        let held = &mut self.held[index];
        held.log = PageLog::Image;
        Ok(&mut held.guard)
    }

    /// A freshly allocated page, zero-filled without reading the disk; it
    /// will be logged as an image.
    pub fn create(&mut self, page_number: PageNumber) -> Result<&mut PageBytes> {
        debug_assert!(
            self.meta_before.is_some(),
            "invariant: in place means apply only"
        );
        let index = match self.position(page_number) {
            Some(index) => {
                self.held[index].guard.fill(0);
                index
            }
            None => {
                let (guard, previous) = self.pool.create(page_number)?;
                let before = previous.map_or(Before::Uncached, Before::Bytes);
                self.held.push(HeldPage {
                    guard,
                    before,
                    log: PageLog::Image,
                });
                self.held.len() - 1
            }
        };
        let held = &mut self.held[index];
        held.log = PageLog::Image;
        Ok(&mut held.guard)
    }

    /// Applies a small change through the same code recovery uses, and logs
    /// it as a delta unless the page is logged as an image anyway.
    pub fn apply(&mut self, page_number: PageNumber, delta: Delta) -> Result<()> {
        let index = self.hold(page_number)?;
        let in_place = self.meta_before.is_none();
        let held = &mut self.held[index];
        debug_assert!(
            !in_place || matches!(&held.log, PageLog::Deltas(deltas) if deltas.is_empty()),
            "invariant: an in-place mini-transaction applies one delta per page"
        );
        redo::apply_delta(page_number, &mut held.guard, &delta)?;
        if let PageLog::Deltas(deltas) = &mut held.log {
            deltas.push(delta);
        }
        Ok(())
    }

    /// Logs everything changed so far as one redo record and releases the
    /// pages (invariants 1–3). `meta` is the meta state now; it is logged if
    /// it changed.
    pub fn commit(&mut self, meta: &Meta) -> Result<()> {
        debug_assert!(self.meta_before.is_some(), "invariant: begun with meta");
        self.commit_with(Some(meta))
    }

    /// Commits a mini-transaction from [`MiniTransaction::begin_in_place`].
    pub fn commit_pages(&mut self) -> Result<()> {
        debug_assert!(self.meta_before.is_none(), "invariant: begun in place");
        self.commit_with(None)
    }

    fn commit_with(&mut self, meta: Option<&Meta>) -> Result<()> {
        let meta_changed = meta.is_some_and(|meta| Some(meta) != self.meta_before.as_ref());
        let changed = |page: &HeldPage<'_>| match &page.log {
            PageLog::Image => true,
            PageLog::Deltas(deltas) => !deltas.is_empty(),
        };
        if (self.held.iter().any(changed) || meta_changed)
            && let Some(wal) = self.pool.wal()
        {
            let held = &self.held;
            let lsn = wal.append_with(REDO_RECORD_TYPE, |redo_lsn| {
                let mut writer = RedoWriter::new();
                for page in held.iter().filter(|page| changed(page)) {
                    let page_number = page.guard.page_number();
                    match &page.log {
                        PageLog::Deltas(deltas) if page::lsn(&page.guard) > redo_lsn => {
                            for delta in deltas {
                                writer.delta(page_number, delta);
                            }
                        }
                        _ => writer.image(page_number, &page.guard),
                    }
                }
                if let Some(meta) = meta.filter(|_| meta_changed) {
                    writer.meta(meta);
                }
                writer.finish()
            })?;
            for page in self.held.iter_mut().filter(|page| changed(page)) {
                page::set_lsn(&mut page.guard, lsn);
            }
        }
        self.held.clear();
        if let Some(meta) = meta {
            self.meta_before = Some(meta.clone());
        }
        Ok(())
    }

    /// Undoes every change since `begin` or the last commit (invariant 5),
    /// including the caller's meta state.
    pub fn abort(&mut self, meta: &mut Meta) {
        self.abort_pages();
        if let Some(before) = &self.meta_before {
            *meta = before.clone();
        }
    }

    /// Undoes every page change since `begin` or the last commit; for
    /// mini-transactions that did not touch the meta state.
    pub fn abort_pages(&mut self) {
        for held in self.held.drain(..) {
            let HeldPage {
                mut guard, before, ..
            } = held;
            match before {
                Before::Bytes(bytes) => *guard = *bytes,
                Before::Uncached => self.pool.forget(guard),
                Before::NotNeeded => {}
            }
        }
    }
}

impl PageSource for MiniTransaction<'_> {
    fn with_page<R>(
        &mut self,
        page_number: PageNumber,
        read: impl FnOnce(&PageBytes) -> Result<R>,
    ) -> Result<R> {
        match self.position(page_number) {
            Some(index) => read(&self.held[index].guard),
            None => {
                let page = self.pool.fetch_read(page_number)?;
                read(&page)
            }
        }
    }
}

impl Drop for MiniTransaction<'_> {
    fn drop(&mut self) {
        // Dropping with uncommitted changes would leave pages changed in
        // memory without a redo record: a bug in the caller.
        debug_assert!(
            self.held.is_empty() || std::thread::panicking(),
            "invariant: a mini-transaction is committed or aborted"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::storage::file::DataFile;
    use crate::storage::page::PageType;
    use crate::storage::vfs::SimulatedFileSystem;
    use crate::storage::wal::{Wal, WalOptions};

    fn accept(_: PageNumber, _: &PageBytes) -> Result<()> {
        Ok(())
    }

    fn pool_with_wal(fs: &SimulatedFileSystem) -> (BufferPool, Arc<Wal>) {
        let dir = std::path::Path::new("/sim/data");
        let file = DataFile::open_with(fs, dir).unwrap();
        let (wal, _) = Wal::open(Arc::new(fs.clone()), dir, WalOptions::default()).unwrap();
        let wal = Arc::new(wal);
        (
            BufferPool::new(file, 8, accept, Some(Arc::clone(&wal))).unwrap(),
            wal,
        )
    }

    #[test]
    fn eviction_flushes_the_wal_up_to_the_page_lsn_first() {
        let fs = SimulatedFileSystem::new(1);
        let (pool, wal) = pool_with_wal(&fs);
        let meta = Meta::new();
        for page_number in 1..=3u64 {
            let mut mtr = MiniTransaction::begin(&pool, &meta);
            page::initialize(mtr.create(page_number).unwrap(), PageType::Free);
            mtr.commit(&meta).unwrap();
        }
        let logged = wal.end_lsn();
        assert!(logged > 0);
        assert_eq!(wal.flushed_lsn(), 0, "nothing forced the log yet");
        // Touch more pages than the pool holds: pages 1..3 get evicted, and
        // each write-back must first make its redo record durable.
        for page_number in 10..30u64 {
            let mut mtr = MiniTransaction::begin(&pool, &meta);
            page::initialize(mtr.create(page_number).unwrap(), PageType::Free);
            mtr.commit(&meta).unwrap();
        }
        assert!(pool.disk_writes() > 0);
        assert!(
            wal.flushed_lsn() >= logged,
            "write-back before its WAL record"
        );
    }

    #[test]
    fn abort_restores_pages_and_meta() {
        let fs = SimulatedFileSystem::new(2);
        let (pool, wal) = pool_with_wal(&fs);
        let mut meta = Meta::new();
        let mut mtr = MiniTransaction::begin(&pool, &meta);
        page::initialize(mtr.create(1).unwrap(), PageType::Free);
        meta.page_count = 2;
        mtr.commit(&meta).unwrap();
        let committed_end = wal.end_lsn();
        let before = pool.fetch_read(1).unwrap().to_vec();

        let mut mtr = MiniTransaction::begin(&pool, &meta);
        mtr.write(1).unwrap()[100] = 0xEE;
        mtr.create(5).unwrap()[200] = 0xDD;
        meta.page_count = 9;
        mtr.abort(&mut meta);
        assert_eq!(meta.page_count, 2);
        assert_eq!(pool.fetch_read(1).unwrap().to_vec(), before);
        // The created, never-cached page is forgotten: reading it goes to
        // disk, where it does not exist.
        assert!(pool.fetch_read(5).is_err());
        assert_eq!(wal.end_lsn(), committed_end, "an abort logs nothing");
    }
}
