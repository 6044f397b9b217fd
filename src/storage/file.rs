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

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::page::{self, PAGE_SIZE, PageBytes, PageNumber, PageType};
use crate::error::{Error, Result};

/// The name of the data file inside the data directory.
pub const DATA_FILE_NAME: &str = "basalt.db";

/// The open data file.
pub struct DataFile {
    file: File,
}

impl DataFile {
    /// Opens (creating if missing) the data file in `data_dir`, creating the
    /// directory too.
    pub fn open(data_dir: &Path) -> Result<DataFile> {
        std::fs::create_dir_all(data_dir)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(data_dir.join(DATA_FILE_NAME))?;
        Ok(DataFile { file })
    }

    /// The file's length in bytes.
    pub fn size_in_bytes(&self) -> Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    /// Reads and verifies one page (checksum and type byte).
    pub fn read_page(&self, page_number: PageNumber, into: &mut PageBytes) -> Result<PageType> {
        let offset = page_number
            .checked_mul(PAGE_SIZE as u64)
            .ok_or_else(|| Error::Corrupt(format!("page {page_number}: page number too large")))?;
        match self.file.read_exact_at(into, offset) {
            Ok(()) => {}
            Err(error) if error.kind() == ErrorKind::UnexpectedEof => {
                return Err(Error::Corrupt(format!(
                    "page {page_number}: beyond the end of the data file (truncated file?)"
                )));
            }
            Err(error) => return Err(error.into()),
        }
        page::verify(page_number, into)
    }

    /// Seals (checksums) a copy of the page and writes it.
    pub fn write_page(&self, page_number: PageNumber, bytes: &PageBytes) -> Result<()> {
        // Seal a copy: the caller may hold only a read latch on `bytes`.
        let mut sealed: Box<PageBytes> = Box::new(*bytes);
        page::seal(&mut sealed);
        self.file
            .write_all_at(&sealed[..], page_number * PAGE_SIZE as u64)?;
        Ok(())
    }

    /// Makes every write so far durable.
    pub fn sync(&self) -> Result<()> {
        self.file.sync_data()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
