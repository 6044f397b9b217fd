//! Overflow chains: values longer than `MAX_INLINE_VALUE` live in a singly
//! linked chain of overflow pages; the leaf cell keeps the total length and
//! the first page.
//!
//! ```text
//!   leaf cell [key | len 20000 | first 31] ─► [page 31: next 32, 8166 bytes]
//!                                             ─► [page 32: next 40, 8166 bytes]
//!                                             ─► [page 40: next 0, 3668 bytes]
//! ```
//!
//! Overflow page body, little-endian: `16: u64 next page (0 = last)`,
//! `24: u16 data length`, `26: data`.
//!
//! Invariants:
//! 1. A chain holds exactly the value's bytes: the data lengths sum to the
//!    length in the leaf cell and the last page's `next` is 0. A reader that
//!    finds otherwise reports `Error::Corrupt`.
//! 2. A chain belongs to exactly one leaf cell; replacing or deleting the
//!    cell frees the chain, after the cell no longer points at it.
//! 3. Long chains are written and freed in mini-transactions of at most
//!    [`CHAIN_BATCH`] pages, so an operation never holds more pages than the
//!    pool can give. A chain is complete before any cell points at it, and a
//!    cell stops pointing at a chain before its pages are freed, so a crash
//!    in between can leak the chain's pages but never leave a dangling
//!    pointer.

use crate::error::{Error, Result};
use crate::storage::buffer_pool::BufferPool;
use crate::storage::meta::Meta;
use crate::storage::mini_transaction::{MiniTransaction, PageSource};
use crate::storage::page::{
    self, PAGE_SIZE, PageBytes, PageNumber, PageType, read_u16, read_u64, write_u16, write_u64,
};

const NEXT_OFFSET: usize = 16;
const LENGTH_OFFSET: usize = 24;
const DATA_OFFSET: usize = 26;
/// Value bytes per overflow page.
pub const OVERFLOW_CAPACITY: usize = PAGE_SIZE - DATA_OFFSET;
/// Chain pages per mini-transaction (invariant 3).
pub const CHAIN_BATCH: usize = 8;

/// Writes `value` to a new chain and returns its first page, committing the
/// mini-transaction every [`CHAIN_BATCH`] pages (invariant 3): call it before
/// the mini-transaction changed anything that must stay atomic.
pub fn write_chain(
    mtr: &mut MiniTransaction<'_>,
    meta: &mut Meta,
    value: &[u8],
) -> Result<PageNumber> {
    let pages = value
        .chunks(OVERFLOW_CAPACITY)
        .map(|_| meta.allocate(mtr))
        .collect::<Result<Vec<_>>>()?;
    // Written back to front, so that a batch only links to written pages.
    for (index, chunk) in value.chunks(OVERFLOW_CAPACITY).enumerate().rev() {
        let page = mtr.create(pages[index])?;
        page::initialize(page, PageType::Overflow);
        write_u64(
            &mut page[..],
            NEXT_OFFSET,
            pages.get(index + 1).copied().unwrap_or(0),
        );
        write_u16(&mut page[..], LENGTH_OFFSET, chunk.len() as u16);
        page[DATA_OFFSET..DATA_OFFSET + chunk.len()].copy_from_slice(chunk);
        if mtr.held_pages() >= CHAIN_BATCH {
            mtr.commit(meta)?;
        }
    }
    pages
        .first()
        .copied()
        .ok_or_else(|| Error::Internal("overflow chain for an empty value".into()))
}

/// Reads a whole chain of `length` bytes starting at `first_page`.
pub fn read_chain(
    buffer_pool: &BufferPool,
    first_page: PageNumber,
    length: u32,
) -> Result<Vec<u8>> {
    let length = length as usize;
    // The length came from disk: do not trust it for a huge reservation.
    let mut value = Vec::with_capacity(length.min(1 << 20));
    let mut page_number = first_page;
    while value.len() < length {
        if page_number == 0 {
            return Err(Error::Corrupt(format!(
                "overflow chain from page {first_page} ends after {} of {length} bytes",
                value.len()
            )));
        }
        let page = buffer_pool.fetch_read(page_number)?;
        page::expect_type(page_number, &page, PageType::Overflow)?;
        let chunk = usize::from(read_u16(&page[..], LENGTH_OFFSET));
        if chunk == 0 || value.len() + chunk > length {
            return Err(Error::Corrupt(format!(
                "page {page_number}: overflow data length {chunk} does not fit the value"
            )));
        }
        value.extend_from_slice(&page[DATA_OFFSET..DATA_OFFSET + chunk]);
        page_number = read_u64(&page[..], NEXT_OFFSET);
    }
    if page_number != 0 {
        return Err(Error::Corrupt(format!(
            "overflow chain from page {first_page} is longer than its {length} bytes"
        )));
    }
    Ok(value)
}

/// Frees every page of the chain of `length` bytes starting at `first_page`,
/// committing every [`CHAIN_BATCH`] pages (invariant 3): call it after the
/// change that unlinked the chain.
pub fn free_chain(
    mtr: &mut MiniTransaction<'_>,
    meta: &mut Meta,
    first_page: PageNumber,
    length: u32,
) -> Result<()> {
    // The length bounds the chain, so a corrupt cycle cannot loop forever.
    let max_pages = (length as usize).div_ceil(OVERFLOW_CAPACITY);
    let mut page_number = first_page;
    for _ in 0..max_pages {
        if page_number == 0 {
            break;
        }
        let next = mtr.with_page(page_number, |page| {
            page::expect_type(page_number, page, PageType::Overflow)?;
            Ok(read_u64(&page[..], NEXT_OFFSET))
        })?;
        if next >= meta.page_count {
            return Err(Error::Corrupt(format!(
                "page {page_number}: overflow link {next} outside the file"
            )));
        }
        meta.free(mtr, page_number)?;
        if mtr.held_pages() >= CHAIN_BATCH {
            mtr.commit(meta)?;
        }
        page_number = next;
    }
    Ok(())
}

/// Checks an overflow page read from disk.
pub fn validate(page_number: PageNumber, bytes: &PageBytes) -> Result<()> {
    let chunk = usize::from(read_u16(&bytes[..], LENGTH_OFFSET));
    if chunk > OVERFLOW_CAPACITY {
        return Err(Error::Corrupt(format!(
            "page {page_number}: overflow data length {chunk} exceeds {OVERFLOW_CAPACITY}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::file::DataFile;

    #[test]
    fn chain_round_trip_length_mismatch_and_free() {
        let directory = tempfile::tempdir().unwrap();
        let file = DataFile::open(directory.path()).unwrap();
        let validator: crate::storage::buffer_pool::Validator = validate;
        let buffer_pool = BufferPool::new(file, 8, validator, None).unwrap();
        let mut meta = Meta::new();
        let value: Vec<u8> = (0..20_000u32).map(|index| (index % 253) as u8).collect();
        let mut mtr = MiniTransaction::begin(&buffer_pool, &meta);
        let first = write_chain(&mut mtr, &mut meta, &value).unwrap();
        mtr.commit(&meta).unwrap();
        assert_eq!(meta.page_count, 1 + 3, "20000 bytes take three pages");
        assert_eq!(read_chain(&buffer_pool, first, 20_000).unwrap(), value);
        let short = read_chain(&buffer_pool, first, 19_000).unwrap_err();
        assert!(matches!(short, Error::Corrupt(_)), "{short}");
        let long = read_chain(&buffer_pool, first, 30_000).unwrap_err();
        assert!(
            long.to_string().contains("ends after 20000 of 30000 bytes"),
            "{long}"
        );
        free_chain(&mut mtr, &mut meta, first, 20_000).unwrap();
        mtr.commit(&meta).unwrap();
        assert_eq!(meta.free_count, 3);
        // A freed page is no overflow page any more.
        assert!(matches!(
            read_chain(&buffer_pool, first, 20_000),
            Err(Error::Corrupt(_))
        ));
    }
}
