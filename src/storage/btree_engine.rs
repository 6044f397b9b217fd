//! `BTreeEngine`: the [`Engine`] trait over page-based B+trees in one data
//! file, with a directory of roots mapping each [`TreeId`] to its root page.
//!
//! ```text
//!   page 0 meta ──► directory root (a B+tree: TreeId (u64 BE) ─► root page (u64 LE))
//!                        ├─ tree 7  ─► root page 12 ─► ... leaves, overflow chains
//!                        └─ tree 9  ─► root page 40 ─► ...
//! ```
//!
//! Invariants:
//! 1. The directory's entries and the in-memory `roots` map agree at all
//!    times; `roots` is loaded from the directory on open and both are
//!    changed together by `create_tree`/`drop_tree` (roots never move, see
//!    the tree module's invariant 3).
//! 2. Concurrency is coarse for this increment: one `RwLock` over the whole
//!    engine. `get`, `scan_batch` and `tree_exists` take it shared and run in
//!    parallel (the buffer pool is thread-safe); `insert`, `delete`,
//!    `create_tree`, `drop_tree` and `flush` take it exclusively. A later
//!    issue replaces this with latch coupling on the page latches.
//! 3. Durability: data survives only up to the last `flush` (dirty pages,
//!    `fsync`, then the meta page, `fsync`). There is no WAL yet, so a crash
//!    between flushes can leave a torn or inconsistent file.

use parking_lot::RwLock;
use std::collections::HashMap;

use super::btree::node;
use super::btree::overflow;
use super::btree::tree::{BTree, TreeShape};
use super::buffer_pool::BufferPool;
use super::engine::{Direction, Engine, Entry, KeyRange, TreeId};
use super::file::DataFile;
use super::meta::Meta;
use super::page::{self, PAGE_SIZE, PageBytes, PageNumber, PageType};
use super::vfs::{FileSystem, OsFileSystem};
use crate::config::Config;
use crate::error::{Error, Result};

/// The page-based storage engine.
pub struct BTreeEngine {
    inner: RwLock<Inner>,
}

struct Inner {
    buffer_pool: BufferPool,
    meta: Meta,
    /// Cache of the directory: tree id to fixed root page.
    roots: HashMap<TreeId, PageNumber>,
}

fn missing(tree: TreeId) -> Error {
    Error::Internal(format!("tree {tree} does not exist"))
}

/// The structural check the buffer pool runs on every page it reads.
fn validate_page(page_number: PageNumber, bytes: &PageBytes) -> Result<()> {
    match page::page_type(bytes) {
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

impl BTreeEngine {
    /// Opens the database in `config.data_dir`, creating the directory and an
    /// empty data file if missing; otherwise validates the meta page.
    pub fn open(config: &Config) -> Result<BTreeEngine> {
        BTreeEngine::open_with(config, &OsFileSystem)
    }

    /// Like [`BTreeEngine::open`], with the data file on `file_system` (the
    /// crash-simulating one in tests).
    pub fn open_with(config: &Config, file_system: &dyn FileSystem) -> Result<BTreeEngine> {
        let file = DataFile::open_with(file_system, &config.data_dir)?;
        let file_size = file.size_in_bytes()?;
        let existing_meta = if file_size == 0 {
            None
        } else {
            // A file shorter than one page fails here as a truncated page 0.
            let mut bytes = Box::new([0u8; PAGE_SIZE]);
            file.read_page(0, &mut bytes)?;
            let meta = Meta::decode(&bytes)?;
            // `checked_mul`: the page count is data from disk.
            let needed = meta.page_count.checked_mul(PAGE_SIZE as u64);
            if needed.is_none_or(|needed| file_size < needed) {
                return Err(Error::Corrupt(format!(
                    "page 0 (meta): {} pages recorded but the file holds only {} bytes",
                    meta.page_count, file_size
                )));
            }
            Some(meta)
        };
        let buffer_pool = BufferPool::new(file, config.buffer_pool_pages, validate_page)?;
        let mut inner = match existing_meta {
            Some(meta) => Inner {
                buffer_pool,
                meta,
                roots: HashMap::new(),
            },
            None => {
                let mut meta = Meta::new();
                let directory = BTree::create(&buffer_pool, &mut meta)?;
                meta.directory_root = directory.root();
                let inner = Inner {
                    buffer_pool,
                    meta,
                    roots: HashMap::new(),
                };
                // Make the new file valid on disk right away.
                inner.flush()?;
                inner
            }
        };
        inner.load_roots()?;
        Ok(BTreeEngine {
            inner: RwLock::new(inner),
        })
    }

    /// Pages in use by trees and the directory (not meta, not free).
    pub fn used_pages(&self) -> u64 {
        self.inner.read().meta.used_pages()
    }

    /// Pages in the file (used, free and the meta page).
    pub fn file_pages(&self) -> u64 {
        self.inner.read().meta.page_count
    }

    /// Pages on the free list.
    pub fn free_pages(&self) -> u64 {
        self.inner.read().meta.free_count
    }

    /// Pages one tree occupies (nodes and overflow pages).
    pub fn tree_pages(&self, tree: TreeId) -> Result<u64> {
        let inner = self.inner.read();
        let tree = inner.tree(tree)?;
        tree.page_count(&inner.buffer_pool)
    }

    /// Walks a whole tree checking its structural invariants (reads every
    /// page: for tests and diagnostics).
    pub fn check_tree(&self, tree: TreeId) -> Result<TreeShape> {
        let inner = self.inner.read();
        let tree = inner.tree(tree)?;
        tree.check(&inner.buffer_pool)
    }

    /// Disk reads the buffer pool has done (misses), for tests and stats.
    pub fn disk_reads(&self) -> u64 {
        self.inner.read().buffer_pool.disk_reads()
    }
}

impl Inner {
    fn directory(&self) -> BTree {
        BTree::open(self.meta.directory_root)
    }

    fn tree(&self, tree: TreeId) -> Result<BTree> {
        self.roots
            .get(&tree)
            .map(|root| BTree::open(*root))
            .ok_or_else(|| missing(tree))
    }

    fn load_roots(&mut self) -> Result<()> {
        let entries = self.directory().scan(
            &self.buffer_pool,
            &KeyRange::all(),
            Direction::Forward,
            usize::MAX,
        )?;
        for (key, value) in entries {
            let (Ok(key), Ok(value)) = (<[u8; 8]>::try_from(key), <[u8; 8]>::try_from(value))
            else {
                return Err(Error::Corrupt(format!(
                    "page {}: malformed directory entry",
                    self.meta.directory_root
                )));
            };
            let root = u64::from_le_bytes(value);
            if root == 0 || root >= self.meta.page_count {
                return Err(Error::Corrupt(format!(
                    "page {}: directory root pointer {root} outside the file",
                    self.meta.directory_root
                )));
            }
            self.roots.insert(u64::from_be_bytes(key), root);
        }
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        self.buffer_pool.flush()?;
        // The meta page last, so that it never points at unwritten pages: the
        // data pages must be durable before the meta page can reach the disk
        // (the kernel may write back in any order), hence two syncs.
        let file = self.buffer_pool.file();
        file.sync()?;
        file.write_page(0, &self.meta.encode())?;
        file.sync()
    }
}

impl Engine for BTreeEngine {
    fn create_tree(&self, tree: TreeId) -> Result<()> {
        let mut inner = self.inner.write();
        if inner.roots.contains_key(&tree) {
            return Err(Error::Internal(format!("tree {tree} already exists")));
        }
        let Inner {
            buffer_pool,
            meta,
            roots,
        } = &mut *inner;
        let created = BTree::create(buffer_pool, meta)?;
        let directory = BTree::open(meta.directory_root);
        directory.insert(
            buffer_pool,
            meta,
            &directory_key(tree),
            &created.root().to_le_bytes(),
        )?;
        roots.insert(tree, created.root());
        Ok(())
    }

    fn drop_tree(&self, tree: TreeId) -> Result<()> {
        let mut inner = self.inner.write();
        let dropped = inner.tree(tree)?;
        let Inner {
            buffer_pool,
            meta,
            roots,
        } = &mut *inner;
        let directory = BTree::open(meta.directory_root);
        directory.delete(buffer_pool, meta, &directory_key(tree))?;
        roots.remove(&tree);
        dropped.destroy(buffer_pool, meta)
    }

    fn tree_exists(&self, tree: TreeId) -> Result<bool> {
        Ok(self.inner.read().roots.contains_key(&tree))
    }

    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let inner = self.inner.read();
        inner.tree(tree)?.get(&inner.buffer_pool, key)
    }

    fn insert(&self, tree: TreeId, key: &[u8], value: &[u8]) -> Result<()> {
        let mut inner = self.inner.write();
        let target = inner.tree(tree)?;
        let Inner {
            buffer_pool, meta, ..
        } = &mut *inner;
        target.insert(buffer_pool, meta, key, value)
    }

    fn delete(&self, tree: TreeId, key: &[u8]) -> Result<bool> {
        let mut inner = self.inner.write();
        let target = inner.tree(tree)?;
        let Inner {
            buffer_pool, meta, ..
        } = &mut *inner;
        target.delete(buffer_pool, meta, key)
    }

    fn scan_batch(
        &self,
        tree: TreeId,
        range: &KeyRange,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<Entry>> {
        let inner = self.inner.read();
        inner
            .tree(tree)?
            .scan(&inner.buffer_pool, range, direction, limit)
    }

    fn flush(&self) -> Result<()> {
        self.inner.write().flush()
    }
}

impl Drop for BTreeEngine {
    fn drop(&mut self) {
        if let Err(error) = self.inner.get_mut().flush() {
            tracing::error!(%error, "flushing the storage engine on drop failed");
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
    fn flushed_data_survives_a_simulated_crash() {
        use crate::storage::vfs::SimulatedFileSystem;
        for seed in 0..8 {
            let fs = SimulatedFileSystem::new(seed);
            // A pool big enough that nothing is evicted between flushes, so
            // the only writes after the flush are the ones a crash drops.
            let config = Config::new("/sim/data").with_buffer_pool_pages(256);
            let engine = BTreeEngine::open_with(&config, &fs).unwrap();
            engine.create_tree(7).unwrap();
            for index in 0..300 {
                engine
                    .insert(7, &key(index), &value_of(index as u8, 100))
                    .unwrap();
            }
            engine.flush().unwrap();
            for index in 300..400 {
                engine.insert(7, &key(index), &value_of(1, 100)).unwrap();
            }
            engine.delete(7, &key(0)).unwrap();
            fs.crash();
            // Dropping flushes through handles that died in the crash: logged, lost.
            drop(engine);
            let engine = BTreeEngine::open_with(&config, &fs).unwrap();
            engine.check_tree(7).unwrap();
            let entries: Vec<Entry> = scan(&engine, 7, KeyRange::all(), Direction::Forward)
                .collect::<Result<_>>()
                .unwrap();
            assert_eq!(entries.len(), 300, "seed {seed}");
            for (index, entry) in entries.iter().enumerate() {
                assert_eq!(entry.0, key(index as u32));
                assert_eq!(entry.1, value_of(index as u8, 100));
            }
        }
    }

    #[test]
    fn failed_sync_fails_the_flush_and_later_disk_access() {
        use crate::storage::vfs::SimulatedFileSystem;
        let fs = SimulatedFileSystem::new(1);
        let config = Config::new("/sim/data").with_buffer_pool_pages(16);
        let engine = BTreeEngine::open_with(&config, &fs).unwrap();
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
        assert!(shape.depth >= 3, "{shape:?}");
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
    fn truncated_or_garbage_meta_page_is_corrupt_on_open() {
        let path_of = |directory: &tempfile::TempDir| {
            directory.path().join(crate::storage::file::DATA_FILE_NAME)
        };
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

        let truncated = tempfile::tempdir().unwrap();
        std::fs::write(path_of(&truncated), vec![7u8; 100]).unwrap();
        expect_corrupt(&truncated, "page 0");

        let garbage = tempfile::tempdir().unwrap();
        let noise: Vec<u8> = (0..PAGE_SIZE * 2)
            .map(|index| (index * 31 % 256) as u8)
            .collect();
        std::fs::write(path_of(&garbage), noise).unwrap();
        expect_corrupt(&garbage, "page 0: checksum mismatch");

        // A valid meta page over a file cut short.
        let cut = tempfile::tempdir().unwrap();
        {
            let engine = BTreeEngine::open(&config(&cut, 16)).unwrap();
            engine.create_tree(1).unwrap();
            for index in 0..2000u32 {
                engine.insert(1, &key(index), &value_of(1, 100)).unwrap();
            }
        }
        let bytes = std::fs::read(path_of(&cut)).unwrap();
        std::fs::write(path_of(&cut), &bytes[..PAGE_SIZE * 3 + 10]).unwrap();
        expect_corrupt(&cut, "page 0 (meta)");
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
        page::seal(&mut page);
        bytes[start..start + PAGE_SIZE].copy_from_slice(&page[..]);
        std::fs::write(&path, &bytes).unwrap();
    }

    #[test]
    fn huge_page_count_in_the_meta_page_is_corrupt_not_an_overflow() {
        let directory = tempfile::tempdir().unwrap();
        drop(BTreeEngine::open(&config(&directory, 16)).unwrap());
        patch_page(&directory, 0, |page| {
            let meta = Meta {
                page_count: u64::MAX / 4,
                free_head: 0,
                free_count: 0,
                directory_root: 1,
            };
            *page = *meta.encode();
        });
        match BTreeEngine::open(&config(&directory, 16)) {
            Err(Error::Corrupt(message)) => assert!(message.contains("page 0"), "{message}"),
            Err(other) => panic!("expected corruption, got {other}"),
            Ok(_) => panic!("expected corruption, opened fine"),
        }
    }

    #[test]
    fn empty_leaf_sibling_cycle_is_corrupt_not_an_endless_scan() {
        let directory = tempfile::tempdir().unwrap();
        let root = {
            let engine = BTreeEngine::open(&config(&directory, 16)).unwrap();
            engine.create_tree(1).unwrap();
            engine.inner.read().roots[&1]
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
    fn tree_pointers_beyond_the_recorded_page_count_are_corrupt_not_a_panic() {
        // A crash between flushes can leave tree pages (written by evictions)
        // beyond the page count of the last meta page. Model it by lowering
        // the page count of a flushed file: merges then free pages that the
        // allocator does not know about.
        let directory = tempfile::tempdir().unwrap();
        let root = {
            let engine = BTreeEngine::open(&config(&directory, 16)).unwrap();
            engine.create_tree(1).unwrap();
            for index in 0..2000u32 {
                engine.insert(1, &key(index), &value_of(1, 100)).unwrap();
            }
            engine.inner.read().roots[&1]
        };
        patch_page(&directory, 0, |page| {
            let mut meta = Meta::decode(page).unwrap();
            assert!(meta.page_count > root + 2, "{meta:?}");
            meta.page_count = root + 1;
            meta.free_head = 0;
            meta.free_count = 0;
            *page = *meta.encode();
        });
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
