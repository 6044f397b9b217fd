//! The meta state (page count, free list, directory root), the page
//! allocator over it, and page 0, the data file's header.
//!
//! Page 0 body, little-endian, after the 16-byte page header; written once
//! when the file is created and never again:
//!
//! ```text
//!   offset  size  field
//!   16      8     magic "BASALTDB"
//!   24      4     format version (5)
//! ```
//!
//! The meta state changes with every allocation, so it is not kept in a page
//! that a crash could tear: [`Meta`] lives in memory, every change to it is
//! logged in the redo record of the mini-transaction that made it, and each
//! checkpoint stores a copy in the control file (see `checkpoint`). Recovery
//! starts from that copy and replays the logged changes.
//!
//! Free pages form a singly linked stack through their body:
//!
//! ```text
//!   meta.free_head ─► [free page 9 | next 4] ─► [free page 4 | next 0]
//! ```
//!
//! Invariants:
//! 1. Every page in `1..page_count` is in exactly one place: a tree (node or
//!    overflow page), the directory, or the free list (a crash may leak the
//!    pages of a large value being written or freed, never double-use one).
//! 2. Allocation pops the free list before growing the file, so freed pages
//!    are reused first (last freed, first reused).
//! 3. A page past the end of the file may be allocated: it reaches the file
//!    when first written back; until then its contents live in the pool and
//!    the WAL.

use super::mini_transaction::{MiniTransaction, PageSource};
use super::page::{
    self, PAGE_SIZE, PageBytes, PageNumber, PageType, read_u32, read_u64, write_u32, write_u64,
};
use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"BASALTDB";
const FORMAT_VERSION: u32 = 5;
const MAGIC_OFFSET: usize = 16;
const VERSION_OFFSET: usize = 24;
/// Where a free page stores the next free page.
const FREE_NEXT_OFFSET: usize = 16;

/// The meta state, in memory, and the allocator over it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    pub page_count: u64,
    pub free_head: PageNumber,
    pub free_count: u64,
    /// 0 until the directory of roots is created.
    pub directory_root: PageNumber,
}

/// Page 0 of a new data file.
pub fn encode_header() -> Box<PageBytes> {
    let mut bytes = Box::new([0u8; PAGE_SIZE]);
    page::initialize(&mut bytes, PageType::Meta);
    bytes[MAGIC_OFFSET..MAGIC_OFFSET + 8].copy_from_slice(MAGIC);
    write_u32(&mut bytes[..], VERSION_OFFSET, FORMAT_VERSION);
    bytes
}

/// Checks page 0 (whose checksum was already verified): is this a basalt
/// data file of the format this build reads?
pub fn check_header(bytes: &PageBytes) -> Result<()> {
    let corrupt = |what: &str| Error::Corrupt(format!("page 0 (header): {what}"));
    page::expect_type(0, bytes, PageType::Meta)?;
    if &bytes[MAGIC_OFFSET..MAGIC_OFFSET + 8] != MAGIC {
        return Err(corrupt("bad magic bytes, not a basalt data file"));
    }
    let version = read_u32(bytes, VERSION_OFFSET);
    if version != FORMAT_VERSION {
        return Err(corrupt(&format!("unsupported format version {version}")));
    }
    Ok(())
}

impl Meta {
    /// The meta state of a new, empty file (only page 0 exists; the caller
    /// allocates the directory root next).
    pub fn new() -> Meta {
        Meta {
            page_count: 1,
            free_head: 0,
            free_count: 0,
            directory_root: 0,
        }
    }

    /// Checks a meta state read from the control file.
    pub fn validate(&self) -> Result<()> {
        let corrupt = |what: String| Error::Corrupt(format!("control file: meta state {what}"));
        if self.page_count == 0 || self.directory_root >= self.page_count {
            return Err(corrupt(format!(
                "directory root {} outside 1..{}",
                self.directory_root, self.page_count
            )));
        }
        if self.free_head >= self.page_count || self.free_count >= self.page_count {
            return Err(corrupt("has its free list outside the file".into()));
        }
        Ok(())
    }

    /// Takes a page for new use: the free-list head, or a new page at the end
    /// of the file. The caller initialises it with `BufferPool::create`.
    pub fn allocate(&mut self, mtr: &mut MiniTransaction<'_>) -> Result<PageNumber> {
        if self.free_head == 0 {
            let page_number = self.page_count;
            self.page_count += 1;
            return Ok(page_number);
        }
        let page_number = self.free_head;
        let next = mtr.with_page(page_number, |page| {
            page::expect_type(page_number, page, PageType::Free)?;
            Ok(read_u64(&page[..], FREE_NEXT_OFFSET))
        })?;
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
    pub fn free(&mut self, mtr: &mut MiniTransaction<'_>, page_number: PageNumber) -> Result<()> {
        if page_number == 0 || page_number >= self.page_count {
            return Err(Error::Corrupt(format!(
                "page {page_number}: freeing a page outside 1..{} (bad pointer)",
                self.page_count
            )));
        }
        let page = mtr.create(page_number)?;
        page::initialize(page, PageType::Free);
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
    use crate::storage::buffer_pool::BufferPool;

    #[test]
    fn header_round_trips_and_garbage_is_rejected() {
        let bytes = encode_header();
        check_header(&bytes).unwrap();
        let mut bad_magic = bytes.clone();
        bad_magic[MAGIC_OFFSET] = b'X';
        assert!(matches!(check_header(&bad_magic), Err(Error::Corrupt(_))));
        let mut bad_version = bytes.clone();
        write_u32(&mut bad_version[..], VERSION_OFFSET, 77);
        let error = check_header(&bad_version).unwrap_err();
        assert!(error.to_string().contains("version 77"), "{error}");
        let bad_root = Meta {
            page_count: 10,
            free_head: 0,
            free_count: 0,
            directory_root: 99,
        };
        assert!(matches!(bad_root.validate(), Err(Error::Corrupt(_))));
    }

    #[test]
    fn freeing_a_page_outside_the_file_is_corrupt_not_a_panic() {
        fn accept(_: PageNumber, _: &PageBytes) -> Result<()> {
            Ok(())
        }
        let directory = tempfile::tempdir().unwrap();
        let file = crate::storage::file::DataFile::open(directory.path()).unwrap();
        let pool = BufferPool::new(file, 8, accept, None).unwrap();
        let mut meta = Meta {
            page_count: 10,
            free_head: 0,
            free_count: 0,
            directory_root: 1,
        };
        let mut mtr = MiniTransaction::begin(&pool, &meta);
        // Page numbers handed to `free` come from child, sibling and overflow
        // pointers read from disk.
        for page_number in [0, 10, 99] {
            let error = meta.free(&mut mtr, page_number).unwrap_err();
            assert!(matches!(error, Error::Corrupt(_)), "{error}");
        }
        assert_eq!((meta.free_head, meta.free_count), (0, 0));
        meta.free(&mut mtr, 9).unwrap();
        assert_eq!((meta.free_head, meta.free_count), (9, 1));
        assert_eq!(meta.allocate(&mut mtr).unwrap(), 9);
        mtr.commit(&meta).unwrap();
        // A free count beyond the page count (corrupt meta) must not underflow.
        meta.free_count = 20;
        assert_eq!(meta.used_pages(), 0);
    }
}
