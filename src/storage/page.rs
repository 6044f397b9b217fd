//! Pages: the fixed 8 KiB unit of storage, and the header every page starts with.
//!
//! Every page of the data file, whatever it holds, begins with the same 16-byte
//! header, little-endian:
//!
//! ```text
//!   offset  size  field
//!   0       4     checksum   CRC32C of the whole page with these 4 bytes zeroed
//!   4       1     page type  1 meta, 2 free, 3 btree leaf, 4 btree interior, 5 overflow
//!   5       3     reserved   zero
//!   8       8     LSN        WAL position after the last record that changed the page
//!   16      ..    body       type-specific, see docs/storage.md
//! ```
//!
//! Invariants:
//! 1. The checksum is computed by [`seal`] just before a page is written to
//!    disk and checked by [`verify`] right after it is read; in memory (in the
//!    buffer pool) the checksum field is stale and meaningless.
//! 2. A page read from disk is only handed out after [`verify`] accepted its
//!    checksum and its type byte; a mismatch is [`Error::Corrupt`] naming the
//!    page number, never a panic.
//! 3. Page 0 is the meta page; page number 0 therefore doubles as "no page"
//!    in every pointer field (sibling links, free-list and overflow chains).
//! 4. An all-zero page has a wrong checksum (the CRC of zeros is not zero), so
//!    a page that was never written reads as corrupt: the engine never reads a
//!    page it did not write first, so seeing one means the file is damaged.

use crate::error::{Error, Result};

/// The size of every page, in bytes.
pub const PAGE_SIZE: usize = 8192;

/// The size of the common page header, in bytes.
pub const PAGE_HEADER_SIZE: usize = 16;

/// The bytes of one page.
pub type PageBytes = [u8; PAGE_SIZE];

/// A page number: the page's offset in the file divided by [`PAGE_SIZE`].
pub type PageNumber = u64;

/// The meta page's number, and the "no page" marker in pointer fields.
pub const META_PAGE: PageNumber = 0;

const CHECKSUM_OFFSET: usize = 0;
const TYPE_OFFSET: usize = 4;
const LSN_OFFSET: usize = 8;

/// What a page holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageType {
    Meta = 1,
    Free = 2,
    Leaf = 3,
    Interior = 4,
    Overflow = 5,
}

impl PageType {
    fn from_byte(byte: u8) -> Option<PageType> {
        Some(match byte {
            1 => PageType::Meta,
            2 => PageType::Free,
            3 => PageType::Leaf,
            4 => PageType::Interior,
            5 => PageType::Overflow,
            _ => return None,
        })
    }
}

/// The page type recorded in a page's header. Pages in memory were validated
/// when read or written by this crate, so an unknown byte here is a bug.
pub fn page_type(bytes: &PageBytes) -> Option<PageType> {
    PageType::from_byte(bytes[TYPE_OFFSET])
}

/// Fails with `Error::Corrupt` unless the page has the expected type.
pub fn expect_type(page_number: PageNumber, bytes: &PageBytes, expected: PageType) -> Result<()> {
    match page_type(bytes) {
        Some(found) if found == expected => Ok(()),
        found => Err(Error::Corrupt(format!(
            "page {page_number}: expected a {expected:?} page, found {found:?} (type byte {})",
            bytes[TYPE_OFFSET]
        ))),
    }
}

/// Clears a page and writes a fresh header of the given type (LSN zero).
pub fn initialize(bytes: &mut PageBytes, page_type: PageType) {
    bytes.fill(0);
    bytes[TYPE_OFFSET] = page_type as u8;
}

/// The page's LSN: the WAL position after the last record that changed it.
pub fn lsn(bytes: &PageBytes) -> u64 {
    read_u64(bytes, LSN_OFFSET)
}

/// Sets the page's LSN (when its change is logged, or replayed).
pub fn set_lsn(bytes: &mut PageBytes, lsn: u64) {
    write_u64(bytes, LSN_OFFSET, lsn);
}

fn compute_checksum(bytes: &PageBytes) -> u32 {
    // The checksum covers the whole page with its own field taken as zero.
    let checksum = crc32c::crc32c(&[0u8; 4]);
    crc32c::crc32c_append(checksum, &bytes[CHECKSUM_OFFSET + 4..])
}

/// Stores the page's checksum in its header, just before a write to disk.
pub fn seal(bytes: &mut PageBytes) {
    let checksum = compute_checksum(bytes);
    write_u32(bytes, CHECKSUM_OFFSET, checksum);
}

/// Checks a page just read from disk: its checksum and its type byte.
pub fn verify(page_number: PageNumber, bytes: &PageBytes) -> Result<PageType> {
    let stored = read_u32(bytes, CHECKSUM_OFFSET);
    let computed = compute_checksum(bytes);
    if stored != computed {
        return Err(Error::Corrupt(format!(
            "page {page_number}: checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
        )));
    }
    PageType::from_byte(bytes[TYPE_OFFSET]).ok_or_else(|| {
        Error::Corrupt(format!(
            "page {page_number}: unknown page type {}",
            bytes[TYPE_OFFSET]
        ))
    })
}

/// Reads a little-endian `u16`; `offset + 2` must be within the slice.
pub fn read_u16(bytes: &[u8], offset: usize) -> u16 {
    let mut raw = [0u8; 2];
    raw.copy_from_slice(&bytes[offset..offset + 2]);
    u16::from_le_bytes(raw)
}

/// Reads a little-endian `u32`; `offset + 4` must be within the slice.
pub fn read_u32(bytes: &[u8], offset: usize) -> u32 {
    let mut raw = [0u8; 4];
    raw.copy_from_slice(&bytes[offset..offset + 4]);
    u32::from_le_bytes(raw)
}

/// Reads a little-endian `u64`; `offset + 8` must be within the slice.
pub fn read_u64(bytes: &[u8], offset: usize) -> u64 {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&bytes[offset..offset + 8]);
    u64::from_le_bytes(raw)
}

/// Writes a little-endian `u16`.
pub fn write_u16(bytes: &mut [u8], offset: usize, value: u16) {
    bytes[offset..offset + 2].copy_from_slice(&value.to_le_bytes());
}

/// Writes a little-endian `u32`.
pub fn write_u32(bytes: &mut [u8], offset: usize, value: u32) {
    bytes[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
}

/// Writes a little-endian `u64`.
pub fn write_u64(bytes: &mut [u8], offset: usize, value: u64) {
    bytes[offset..offset + 8].copy_from_slice(&value.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_verify_round_trips_and_detects_flips() {
        let mut page = [0u8; PAGE_SIZE];
        initialize(&mut page, PageType::Leaf);
        page[100] = 42;
        seal(&mut page);
        assert_eq!(verify(7, &page).unwrap(), PageType::Leaf);
        assert_eq!(lsn(&page), 0);
        page[5000] ^= 0x10;
        let error = verify(7, &page).unwrap_err();
        assert!(matches!(error, Error::Corrupt(_)));
        assert!(
            error.to_string().contains("page 7: checksum mismatch"),
            "{error}"
        );
    }

    #[test]
    fn all_zero_and_unknown_type_pages_are_corrupt() {
        let zero = [0u8; PAGE_SIZE];
        assert!(matches!(verify(3, &zero), Err(Error::Corrupt(_))));
        let mut unknown = [0u8; PAGE_SIZE];
        unknown[TYPE_OFFSET] = 99;
        seal(&mut unknown);
        let error = verify(4, &unknown).unwrap_err();
        assert!(
            error.to_string().contains("page 4: unknown page type 99"),
            "{error}"
        );
        assert!(expect_type(4, &unknown, PageType::Leaf).is_err());
    }
}
