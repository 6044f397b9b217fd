//! Redo records: what one mini-transaction did to pages and to the meta
//! state, as the payload of one WAL record, and how recovery re-applies it.
//!
//! One WAL record of type [`REDO_RECORD_TYPE`] holds one mini-transaction's
//! changes (see `mini_transaction`): every page it changed, once, plus the
//! meta state if that changed. Being one CRC-checked record, it is replayed
//! whole or not at all, which makes a B+tree split or merge spanning several
//! pages atomic across a crash. Payload, little-endian:
//!
//! ```text
//!   u32 entry count, then entries, each starting with a u8 kind:
//!   1 page image   u64 page, u16 hole offset, u16 hole length,
//!                  the page's 8192 bytes minus the hole (the hole is zeros)
//!   2 leaf put     u64 page, u32 cell length, cell (its key inside)
//!   3 leaf delete  u64 page, u16 key length, key
//!   4 set left     u64 page, u64 left sibling
//!   5 meta         u64 page count, u64 free head, u64 free count,
//!                  u64 directory root
//! ```
//!
//! Invariants:
//! 1. A delta (kinds 2–4) is applied by the same function during normal
//!    operation ([`apply_delta`], through `MiniTransaction::apply`) and
//!    during recovery, so replay rebuilds byte-identical pages.
//! 2. Within one record a page appears at most once: as an image, or as the
//!    ordered list of its deltas.
//! 3. A page's first record after a checkpoint's redo LSN carries its image,
//!    so recovery never reads a page that a crash may have torn; deltas are
//!    only ever applied to a page that recovery installed from an image or
//!    that was durably written whole before the redo LSN.
//! 4. Decoding checks every length against the payload: a malformed payload
//!    is `Error::Corrupt`, never a panic (the CRC makes this unlikely, but
//!    the bytes still come from disk).

use std::borrow::Cow;

use super::btree::node::{self, Node, NodeKind};
use super::meta::Meta;
use super::page::{self, PAGE_SIZE, PageBytes, PageNumber, PageType};
use crate::error::{Error, Result};

/// The WAL record type of a mini-transaction's changes.
pub const REDO_RECORD_TYPE: u8 = 1;
/// The WAL record type of a logical record of the layer above (see
/// [`crate::storage::CheckpointHook`]): opaque bytes, which recovery hands
/// back instead of applying.
pub const LOGICAL_RECORD_TYPE: u8 = 2;

const KIND_IMAGE: u8 = 1;
const KIND_LEAF_PUT: u8 = 2;
const KIND_LEAF_DELETE: u8 = 3;
const KIND_SET_LEFT: u8 = 4;
const KIND_META: u8 = 5;

/// A small change to one page, logged instead of its image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delta {
    /// Insert a leaf cell, or replace the cell with the same key.
    LeafPut(Vec<u8>),
    /// Remove the leaf cell with this key (it must exist).
    LeafDelete(Vec<u8>),
    /// Set a leaf's left sibling link.
    SetLeft(PageNumber),
}

/// One decoded entry of a redo record.
#[derive(Debug)]
pub enum RedoEntry {
    Image(PageNumber, Box<PageBytes>),
    Delta(PageNumber, Delta),
    Meta(Meta),
}

/// Applies a delta to a page in memory (invariant 1). Fails with `Corrupt`
/// if the page cannot take it: a delta only ever meets the page it was made
/// for, so a mismatch means damage.
pub fn apply_delta(page_number: PageNumber, bytes: &mut PageBytes, delta: &Delta) -> Result<()> {
    let corrupt = |what: &str| Error::Corrupt(format!("page {page_number}: redo {what}"));
    match delta {
        Delta::LeafPut(cell) => {
            // The common cases edit the page in place (node invariant 3);
            // the rest rebuild it. Both are deterministic, so replay of the
            // same delta on the same bytes gives the same page.
            let node = Node::open(page_number, bytes)?;
            if node.kind() != NodeKind::Leaf {
                return Err(corrupt("leaf put on an interior node"));
            }
            let done = match node.search(node::cell_key(NodeKind::Leaf, cell)) {
                Ok(index) => node::overwrite_cell(bytes, NodeKind::Leaf, index, cell),
                Err(index) => node::insert_in_gap(bytes, index, cell),
            };
            if done {
                return Ok(());
            }
            let scratch: Box<PageBytes> = Box::new(*bytes);
            let node = Node::open(page_number, &scratch)?;
            if node.kind() != NodeKind::Leaf {
                return Err(corrupt("leaf put on an interior node"));
            }
            let mut cells = node.cells();
            match node.search(node::cell_key(NodeKind::Leaf, cell)) {
                Ok(index) => cells[index] = Cow::Borrowed(cell),
                Err(index) => cells.insert(index, Cow::Borrowed(cell)),
            }
            if !node::fits(&cells) {
                return Err(corrupt("leaf put does not fit"));
            }
            node::write(bytes, NodeKind::Leaf, node.left(), node.right(), &cells);
        }
        Delta::LeafDelete(key) => {
            let scratch: Box<PageBytes> = Box::new(*bytes);
            let node = Node::open(page_number, &scratch)?;
            if node.kind() != NodeKind::Leaf {
                return Err(corrupt("leaf delete on an interior node"));
            }
            let Ok(index) = node.search(key) else {
                return Err(corrupt("leaf delete of a missing key"));
            };
            let mut cells = node.cells();
            cells.remove(index);
            node::write(bytes, NodeKind::Leaf, node.left(), node.right(), &cells);
        }
        Delta::SetLeft(left) => {
            if Node::open(page_number, bytes)?.kind() != NodeKind::Leaf {
                return Err(corrupt("sibling link on an interior node"));
            }
            node::set_left(bytes, *left);
        }
    }
    Ok(())
}

/// The zero-filled stretch of a page that an image may leave out: the gap
/// between a node's slots and its cells, or the zero tail of other pages.
fn hole(bytes: &PageBytes) -> (usize, usize) {
    let candidate = match page::page_type(bytes) {
        Some(PageType::Leaf | PageType::Interior) => node::free_gap(bytes),
        _ => None,
    };
    if let Some((start, end)) = candidate
        && bytes[start..end].iter().all(|&byte| byte == 0)
    {
        return (start, end - start);
    }
    let used = bytes
        .iter()
        .rposition(|&byte| byte != 0)
        .map_or(0, |last| last + 1);
    (used, PAGE_SIZE - used)
}

/// Builds the payload of one redo record.
#[derive(Default)]
pub struct RedoWriter {
    bytes: Vec<u8>,
    count: u32,
}

impl RedoWriter {
    pub fn new() -> RedoWriter {
        RedoWriter {
            bytes: vec![0; 4],
            count: 0,
        }
    }

    fn start(&mut self, kind: u8) {
        self.count += 1;
        self.bytes.push(kind);
    }

    pub fn image(&mut self, page_number: PageNumber, bytes: &PageBytes) {
        let (offset, length) = hole(bytes);
        self.start(KIND_IMAGE);
        self.bytes.extend_from_slice(&page_number.to_le_bytes());
        self.bytes.extend_from_slice(&(offset as u16).to_le_bytes());
        self.bytes.extend_from_slice(&(length as u16).to_le_bytes());
        self.bytes.extend_from_slice(&bytes[..offset]);
        self.bytes.extend_from_slice(&bytes[offset + length..]);
    }

    pub fn delta(&mut self, page_number: PageNumber, delta: &Delta) {
        match delta {
            Delta::LeafPut(cell) => {
                self.start(KIND_LEAF_PUT);
                self.bytes.extend_from_slice(&page_number.to_le_bytes());
                self.bytes
                    .extend_from_slice(&(cell.len() as u32).to_le_bytes());
                self.bytes.extend_from_slice(cell);
            }
            Delta::LeafDelete(key) => {
                self.start(KIND_LEAF_DELETE);
                self.bytes.extend_from_slice(&page_number.to_le_bytes());
                self.bytes
                    .extend_from_slice(&(key.len() as u16).to_le_bytes());
                self.bytes.extend_from_slice(key);
            }
            Delta::SetLeft(left) => {
                self.start(KIND_SET_LEFT);
                self.bytes.extend_from_slice(&page_number.to_le_bytes());
                self.bytes.extend_from_slice(&left.to_le_bytes());
            }
        }
    }

    pub fn meta(&mut self, meta: &Meta) {
        self.start(KIND_META);
        for field in [
            meta.page_count,
            meta.free_head,
            meta.free_count,
            meta.directory_root,
        ] {
            self.bytes.extend_from_slice(&field.to_le_bytes());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.bytes[..4].copy_from_slice(&self.count.to_le_bytes());
        self.bytes
    }
}

/// Reads fields off a payload, failing with `Corrupt` past its end.
struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
    lsn: u64,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, length: usize) -> Result<&'a [u8]> {
        let end = self
            .position
            .checked_add(length)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| {
                Error::Corrupt(format!(
                    "WAL record at LSN {}: redo payload ends early",
                    self.lsn
                ))
            })?;
        let slice = &self.bytes[self.position..end];
        self.position = end;
        Ok(slice)
    }

    fn u16(&mut self) -> Result<usize> {
        Ok(usize::from(page::read_u16(self.take(2)?, 0)))
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(page::read_u32(self.take(4)?, 0))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(page::read_u64(self.take(8)?, 0))
    }
}

/// Decodes a redo payload (of the record at `lsn`, for error messages).
pub fn decode(lsn: u64, payload: &[u8]) -> Result<Vec<RedoEntry>> {
    let mut cursor = Cursor {
        bytes: payload,
        position: 0,
        lsn,
    };
    let corrupt = |what: String| Error::Corrupt(format!("WAL record at LSN {lsn}: {what}"));
    let count = cursor.u32()?;
    let mut entries = Vec::new();
    for _ in 0..count {
        let kind = cursor.take(1)?[0];
        let entry = match kind {
            KIND_IMAGE => {
                let page_number = cursor.u64()?;
                let offset = cursor.u16()?;
                let length = cursor.u16()?;
                if offset + length > PAGE_SIZE {
                    return Err(corrupt(format!(
                        "image hole {offset}+{length} past the page"
                    )));
                }
                let mut image = Box::new([0u8; PAGE_SIZE]);
                image[..offset].copy_from_slice(cursor.take(offset)?);
                let rest = PAGE_SIZE - offset - length;
                image[offset + length..].copy_from_slice(cursor.take(rest)?);
                RedoEntry::Image(page_number, image)
            }
            KIND_LEAF_PUT => {
                let page_number = cursor.u64()?;
                let length = cursor.u32()? as usize;
                RedoEntry::Delta(page_number, Delta::LeafPut(cursor.take(length)?.to_vec()))
            }
            KIND_LEAF_DELETE => {
                let page_number = cursor.u64()?;
                let length = cursor.u16()?;
                RedoEntry::Delta(
                    page_number,
                    Delta::LeafDelete(cursor.take(length)?.to_vec()),
                )
            }
            KIND_SET_LEFT => {
                let page_number = cursor.u64()?;
                RedoEntry::Delta(page_number, Delta::SetLeft(cursor.u64()?))
            }
            KIND_META => RedoEntry::Meta(Meta {
                page_count: cursor.u64()?,
                free_head: cursor.u64()?,
                free_count: cursor.u64()?,
                directory_root: cursor.u64()?,
            }),
            other => return Err(corrupt(format!("unknown redo entry kind {other}"))),
        };
        entries.push(entry);
    }
    if cursor.position != payload.len() {
        return Err(corrupt("trailing bytes after the redo entries".into()));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(cells: &[Vec<u8>]) -> Box<PageBytes> {
        let mut bytes = Box::new([0u8; PAGE_SIZE]);
        let cells: Vec<Cow<'_, [u8]>> = cells.iter().map(|c| Cow::Borrowed(&c[..])).collect();
        node::write(&mut bytes, NodeKind::Leaf, 3, 9, &cells);
        bytes
    }

    fn cell(key: &[u8], value: &[u8]) -> Vec<u8> {
        node::leaf_cell(key, node::LeafValue::Inline(value))
    }

    #[test]
    fn records_round_trip_and_images_drop_their_hole() {
        let page = leaf(&[cell(b"a", b"1"), cell(b"c", b"3")]);
        let mut writer = RedoWriter::new();
        writer.image(7, &page);
        writer.delta(7, &Delta::LeafPut(cell(b"b", b"2")));
        writer.delta(7, &Delta::LeafDelete(b"a".to_vec()));
        writer.delta(8, &Delta::SetLeft(12));
        let meta = Meta {
            page_count: 20,
            free_head: 4,
            free_count: 1,
            directory_root: 1,
        };
        writer.meta(&meta);
        let payload = writer.finish();
        // Two small cells: the image is far smaller than a page.
        assert!(payload.len() < 200, "{}", payload.len());
        let entries = decode(100, &payload).unwrap();
        assert_eq!(entries.len(), 5);
        let RedoEntry::Image(7, image) = &entries[0] else {
            panic!("{:?}", entries[0])
        };
        assert_eq!(&image[..], &page[..]);
        let mut replayed = image.clone();
        for entry in &entries[1..3] {
            let RedoEntry::Delta(7, delta) = entry else {
                panic!("{entry:?}")
            };
            apply_delta(7, &mut replayed, delta).unwrap();
        }
        assert_eq!(
            &replayed[..],
            &leaf(&[cell(b"b", b"2"), cell(b"c", b"3")])[..]
        );
        assert!(matches!(&entries[4], RedoEntry::Meta(m) if *m == meta));
    }

    #[test]
    fn malformed_payloads_are_corrupt_not_panics() {
        let mut writer = RedoWriter::new();
        writer.delta(7, &Delta::LeafPut(cell(b"k", b"v")));
        let payload = writer.finish();
        for cut in 0..payload.len() {
            assert!(matches!(decode(1, &payload[..cut]), Err(Error::Corrupt(_))));
        }
        let mut extra = payload.clone();
        extra.push(0);
        assert!(decode(1, &extra).is_err());
        let mut unknown = payload;
        unknown[4] = 77;
        assert!(
            decode(1, &unknown)
                .unwrap_err()
                .to_string()
                .contains("kind 77")
        );
        // A delta that does not match its page is corruption too.
        let mut page = leaf(&[cell(b"a", b"1")]);
        let error = apply_delta(5, &mut page, &Delta::LeafDelete(b"zz".to_vec())).unwrap_err();
        assert!(error.to_string().contains("page 5"), "{error}");
    }
}
