//! The data file: `<data_dir>/basalt.db`, an array of 8 KiB pages addressed by
//! page number, read and written with positioned I/O (`read_at`/`write_at`) so
//! that many threads can share one file handle without a seek position.
//!
//! ```text
//!   offset 0        8192      16384     ...   n * 8192
//!          | page 0 | page 1  | page 2  | ... | page n |
//!          | meta   | dir root| ...
//! ```
//!
//! Invariants:
//! 1. Every write goes through [`DataFile::write_page`], which seals the page
//!    (sets its CRC32C); every read goes through [`DataFile::read_page`], which
//!    verifies it. No other code touches the file's bytes.
//! 2. A read of a page beyond the end of the file is `Error::Corrupt` (the
//!    meta page said the page exists, the file disagrees: it was truncated).
//! 3. Nothing is durable until [`DataFile::sync`] returns.
//! 4. A failed sync is fatal for the file: after it, every operation on this
//!    `DataFile` returns an error, forever. After a failed `fsync` the kernel
//!    may have dropped the dirty pages and report success on the next try
//!    (PostgreSQL's "fsyncgate"), so retrying and carrying on could silently
//!    lose writes. The server must stop; recovery starts from what is durable.
//! 5. All I/O goes through the file seam ([`FileSystem`]), so tests can run
//!    the engine over the crash-simulating [`SimulatedFileSystem`].
//!
//! [`SimulatedFileSystem`]: super::vfs::SimulatedFileSystem

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::page::{self, PAGE_SIZE, PageBytes, PageNumber, PageType};
use super::vfs::{self, FileSystem, OsFileSystem, StorageFile};
use crate::error::{Error, Result};

/// The name of the data file inside the data directory.
pub const DATA_FILE_NAME: &str = "basalt.db";

/// The open data file.
pub struct DataFile {
    file: Arc<dyn StorageFile>,
    /// Set by the first failed sync; never cleared (invariant 4).
    sync_failed: AtomicBool,
}

impl DataFile {
    /// Opens (creating if missing) the data file in `data_dir` on the real
    /// file system, creating the directory too.
    pub fn open(data_dir: &Path) -> Result<DataFile> {
        DataFile::open_with(&OsFileSystem, data_dir)
    }

    /// Like [`DataFile::open`], on the given file system.
    pub fn open_with(file_system: &dyn FileSystem, data_dir: &Path) -> Result<DataFile> {
        file_system.create_dir_all(data_dir)?;
        let file = file_system.open(&data_dir.join(DATA_FILE_NAME))?;
        Ok(DataFile {
            file,
            sync_failed: AtomicBool::new(false),
        })
    }

    /// Whether a sync failed, making the file unusable (invariant 4).
    pub fn has_failed(&self) -> bool {
        self.sync_failed.load(Ordering::Acquire)
    }

    /// The error of every operation after a failed sync (invariant 4).
    fn check_usable(&self) -> Result<()> {
        if self.sync_failed.load(Ordering::Acquire) {
            return Err(Error::Io(std::io::Error::other(
                "the data file is unusable after a failed sync (fsync errors are fatal)",
            )));
        }
        Ok(())
    }

    /// The file's length in bytes.
    pub fn size_in_bytes(&self) -> Result<u64> {
        self.check_usable()?;
        self.file.size()
    }

    /// Reads and verifies one page (checksum and type byte).
    pub fn read_page(&self, page_number: PageNumber, into: &mut PageBytes) -> Result<PageType> {
        let offset = page_number
            .checked_mul(PAGE_SIZE as u64)
            .ok_or_else(|| Error::Corrupt(format!("page {page_number}: page number too large")))?;
        self.check_usable()?;
        if !vfs::read_exact_at(&*self.file, &mut into[..], offset)? {
            return Err(Error::Corrupt(format!(
                "page {page_number}: beyond the end of the data file (truncated file?)"
            )));
        }
        page::verify(page_number, into)
    }

    /// Seals (checksums) a copy of the page and writes it.
    pub fn write_page(&self, page_number: PageNumber, bytes: &PageBytes) -> Result<()> {
        self.check_usable()?;
        // Seal a copy: the caller may hold only a read latch on `bytes`.
        let mut sealed: Box<PageBytes> = Box::new(*bytes);
        page::seal(&mut sealed);
        self.file
            .write_at(&sealed[..], page_number * PAGE_SIZE as u64)
    }

    /// Makes every write so far durable. A failure is fatal (invariant 4).
    pub fn sync(&self) -> Result<()> {
        self.check_usable()?;
        let result = self.file.sync();
        if result.is_err() {
            self.sync_failed.store(true, Ordering::Release);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::vfs::SimulatedFileSystem;

    #[test]
    fn write_read_and_read_past_end() {
        let directory = tempfile::tempdir().unwrap();
        let file = DataFile::open(directory.path()).unwrap();
        let mut page = [0u8; PAGE_SIZE];
        page::initialize(&mut page, PageType::Overflow);
        page[200] = 9;
        file.write_page(2, &page).unwrap();
        let mut read = [0u8; PAGE_SIZE];
        assert_eq!(file.read_page(2, &mut read).unwrap(), PageType::Overflow);
        assert_eq!(read[200], 9);
        // Page 1 is a hole of zeros: its checksum cannot match.
        assert!(matches!(
            file.read_page(1, &mut read),
            Err(Error::Corrupt(_))
        ));
        let error = file.read_page(3, &mut read).unwrap_err();
        assert!(
            error.to_string().contains("page 3: beyond the end"),
            "{error}"
        );
        assert_eq!(file.size_in_bytes().unwrap(), 3 * PAGE_SIZE as u64);
    }

    #[test]
    fn failed_sync_is_fatal_for_the_file() {
        let fs = SimulatedFileSystem::new(3);
        let file = DataFile::open_with(&fs, Path::new("/db")).unwrap();
        let mut page = [0u8; PAGE_SIZE];
        page::initialize(&mut page, PageType::Overflow);
        file.write_page(0, &page).unwrap();
        file.sync().unwrap();
        fs.fail_next_sync();
        assert!(matches!(file.sync(), Err(Error::Io(_))));
        // The next sync would succeed in the file system; the file refuses.
        let mut read = [0u8; PAGE_SIZE];
        for error in [
            file.sync().unwrap_err(),
            file.write_page(1, &page).unwrap_err(),
            file.read_page(0, &mut read).unwrap_err(),
            file.size_in_bytes().unwrap_err(),
        ] {
            assert!(error.to_string().contains("failed sync"), "{error}");
        }
        assert_eq!(fs.sync_count(), 2);
    }
}
