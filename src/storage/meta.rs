//! The meta page (page 0) and the page allocator with its free list.
//!
//! Meta page body, little-endian, after the 16-byte page header:
//!
//! ```text
//!   offset  size  field
//!   16      8     magic "BASALTDB"
//!   24      4     format version (1)
//!   28      4     reserved, zero
//!   32      8     page count: pages 0..count exist in the file
//!   40      8     free-list head (0 = empty)
//!   48      8     free-page count
//!   56      8     root page of the directory of roots (a B+tree)
//! ```
//!
//! Free pages form a singly linked stack through their body:
//!
//! ```text
//!   meta.free_head ─► [free page 9 | next 4] ─► [free page 4 | next 0]
//! ```
//!
//! Invariants:
//! 1. The meta page never enters the buffer pool: [`Meta`] lives in memory
//!    and is written straight to the file by `flush`, after every dirty page
//!    is written and synced.
//! 2. Every page in `1..page_count` is in exactly one place: a tree (node or
//!    overflow page), the directory, or the free list.
//! 3. Allocation pops the free list before growing the file, so freed pages
//!    are reused first (last freed, first reused).

use super::buffer_pool::BufferPool;
use super::page::{
    self, PAGE_SIZE, PageBytes, PageNumber, PageType, read_u32, read_u64, write_u32, write_u64,
};
use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"BASALTDB";
const FORMAT_VERSION: u32 = 1;
const MAGIC_OFFSET: usize = 16;
const VERSION_OFFSET: usize = 24;
const PAGE_COUNT_OFFSET: usize = 32;
const FREE_HEAD_OFFSET: usize = 40;
const FREE_COUNT_OFFSET: usize = 48;
const DIRECTORY_ROOT_OFFSET: usize = 56;
/// Where a free page stores the next free page.
const FREE_NEXT_OFFSET: usize = 16;

/// The in-memory copy of the meta page, and the allocator over it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    pub page_count: u64,
    pub free_head: PageNumber,
    pub free_count: u64,
    pub directory_root: PageNumber,
}

impl Meta {
    /// The meta page of a new, empty file (only page 0 exists; the caller
    /// allocates the directory root next).
    pub fn new() -> Meta {
        Meta {
            page_count: 1,
            free_head: 0,
            free_count: 0,
            directory_root: 0,
        }
    }

    /// Encodes the meta page (the checksum is set when it is written).
    pub fn encode(&self) -> Box<PageBytes> {
        let mut bytes = Box::new([0u8; PAGE_SIZE]);
        page::initialize(&mut bytes, PageType::Meta);
        bytes[MAGIC_OFFSET..MAGIC_OFFSET + 8].copy_from_slice(MAGIC);
        write_u32(&mut bytes[..], VERSION_OFFSET, FORMAT_VERSION);
        write_u64(&mut bytes[..], PAGE_COUNT_OFFSET, self.page_count);
        write_u64(&mut bytes[..], FREE_HEAD_OFFSET, self.free_head);
        write_u64(&mut bytes[..], FREE_COUNT_OFFSET, self.free_count);
        write_u64(&mut bytes[..], DIRECTORY_ROOT_OFFSET, self.directory_root);
        bytes
    }

    /// Decodes and validates a meta page whose checksum was already verified.
    pub fn decode(bytes: &PageBytes) -> Result<Meta> {
        let corrupt = |what: &str| Error::Corrupt(format!("page 0 (meta): {what}"));
        page::expect_type(0, bytes, PageType::Meta)?;
        if &bytes[MAGIC_OFFSET..MAGIC_OFFSET + 8] != MAGIC {
            return Err(corrupt("bad magic bytes, not a basalt data file"));
        }
        let version = read_u32(bytes, VERSION_OFFSET);
        if version != FORMAT_VERSION {
            return Err(corrupt(&format!("unsupported format version {version}")));
        }
        let meta = Meta {
            page_count: read_u64(bytes, PAGE_COUNT_OFFSET),
            free_head: read_u64(bytes, FREE_HEAD_OFFSET),
            free_count: read_u64(bytes, FREE_COUNT_OFFSET),
            directory_root: read_u64(bytes, DIRECTORY_ROOT_OFFSET),
        };
        if meta.directory_root == 0 || meta.directory_root >= meta.page_count {
            return Err(corrupt(&format!(
                "directory root {} outside 1..{}",
                meta.directory_root, meta.page_count
            )));
        }
        if meta.free_head >= meta.page_count || meta.free_count >= meta.page_count {
            return Err(corrupt("free list outside the file"));
        }
        Ok(meta)
    }

    /// Takes a page for new use: the free-list head, or a new page at the end
    /// of the file. The caller initialises it with `BufferPool::create`.
    pub fn allocate(&mut self, buffer_pool: &BufferPool) -> Result<PageNumber> {
        if self.free_head == 0 {
            let page_number = self.page_count;
            self.page_count += 1;
            return Ok(page_number);
        }
        let page_number = self.free_head;
        let page = buffer_pool.fetch_read(page_number)?;
        page::expect_type(page_number, &page, PageType::Free)?;
        let next = read_u64(&page[..], FREE_NEXT_OFFSET);
        if next >= self.page_count || self.free_count == 0 {
            return Err(Error::Corrupt(format!(
                "page {page_number}: free-list link {next} outside the file"
            )));
        }
        self.free_head = next;
        self.free_count -= 1;
        Ok(page_number)
    }

    /// Puts a page on the free list, overwriting its contents. The page
    /// number comes from a pointer read from disk (child, sibling, overflow
    /// link), so one outside the file is corruption, not a panic.
    pub fn free(&mut self, buffer_pool: &BufferPool, page_number: PageNumber) -> Result<()> {
        if page_number == 0 || page_number >= self.page_count {
            return Err(Error::Corrupt(format!(
                "page {page_number}: freeing a page outside 1..{} (bad pointer)",
                self.page_count
            )));
        }
        let mut page = buffer_pool.create(page_number)?;
        page::initialize(&mut page, PageType::Free);
        write_u64(&mut page[..], FREE_NEXT_OFFSET, self.free_head);
        self.free_head = page_number;
        self.free_count += 1;
        Ok(())
    }

    /// Pages in use by trees and the directory (everything but meta and free).
    pub fn used_pages(&self) -> u64 {
        // Saturating: a corrupt meta page may claim too many free pages.
        self.page_count.saturating_sub(1 + self.free_count)
    }
}

impl Default for Meta {
    fn default() -> Meta {
        Meta::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_and_reject_garbage() {
        let meta = Meta {
            page_count: 10,
            free_head: 4,
            free_count: 2,
            directory_root: 1,
        };
        let bytes = meta.encode();
        assert_eq!(Meta::decode(&bytes).unwrap(), meta);
        let mut bad_magic = bytes.clone();
        bad_magic[MAGIC_OFFSET] = b'X';
        assert!(matches!(Meta::decode(&bad_magic), Err(Error::Corrupt(_))));
        let mut bad_version = bytes.clone();
        write_u32(&mut bad_version[..], VERSION_OFFSET, 77);
        let error = Meta::decode(&bad_version).unwrap_err();
        assert!(error.to_string().contains("version 77"), "{error}");
        let mut bad_root = bytes.clone();
        write_u64(&mut bad_root[..], DIRECTORY_ROOT_OFFSET, 99);
        assert!(matches!(Meta::decode(&bad_root), Err(Error::Corrupt(_))));
    }

    #[test]
    fn freeing_a_page_outside_the_file_is_corrupt_not_a_panic() {
        fn accept(_: PageNumber, _: &PageBytes) -> Result<()> {
            Ok(())
        }
        let directory = tempfile::tempdir().unwrap();
        let file = crate::storage::file::DataFile::open(directory.path()).unwrap();
        let pool = BufferPool::new(file, 8, accept).unwrap();
        let mut meta = Meta {
            page_count: 10,
            free_head: 0,
            free_count: 0,
            directory_root: 1,
        };
        // Page numbers handed to `free` come from child, sibling and overflow
        // pointers read from disk.
        for page_number in [0, 10, 99] {
            let error = meta.free(&pool, page_number).unwrap_err();
            assert!(matches!(error, Error::Corrupt(_)), "{error}");
        }
        assert_eq!((meta.free_head, meta.free_count), (0, 0));
        meta.free(&pool, 9).unwrap();
        assert_eq!((meta.free_head, meta.free_count), (9, 1));
        // A free count beyond the page count (corrupt meta) must not underflow.
        meta.free_count = 20;
        assert_eq!(meta.used_pages(), 0);
    }
}
