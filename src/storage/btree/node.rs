//! The slotted B+tree node layout: reading a node in place, and rebuilding one
//! from a list of cells.
//!
//! ```text
//!   0        16         40                     content_start          8192
//!   | header | node hdr | slot 0 | slot 1 | ... free ... | cell 1 | cell 0 |
//!                          │        └───────────────────────┘        ▲
//!                          └─────────────────────────────────────────┘
//! ```
//!
//! Node header (after the 16-byte page header), little-endian:
//! `16: u16 cell count`, `18: u16 content start`, `20: u64 left sibling`,
//! `28: u64 right sibling` (leaves only; 0 = none), `36: 4 bytes reserved`.
//! Slots (`u16` cell offsets) follow at 40, in key order.
//!
//! Cells:
//! - leaf: `u16 key length, u8 flags, u32 value length, key, payload` where the
//!   payload is the value itself (flags 0) or the `u64` first page of its
//!   overflow chain (flags 1; the value length is then the whole value's).
//! - interior: `u16 key length, u64 child, key`. Child `i` holds the keys
//!   `k` with `key(i) <= k < key(i+1)`; cell 0's key is always empty and
//!   stands for minus infinity.
//!
//! Invariants:
//! 1. Slots are sorted by key (bytewise), keys are unique within a node.
//! 2. Every cell lies inside `content_start..PAGE_SIZE` and the slot array
//!    ends at or before `content_start`; [`validate`] checks this for every
//!    page read from disk, so [`Node`] accessors may index without checks.
//! 3. The cells are always packed at the end of the page, with no holes:
//!    [`write`] rewrites a node whole, packed; [`insert_in_gap`] adds a cell
//!    just below the others and [`overwrite_cell`] replaces one in place
//!    with one as long. There is no fragmentation to track.
//! 4. Keys are at most [`MAX_KEY_SIZE`] bytes and inline values at most
//!    [`MAX_INLINE_VALUE`], so one cell never exceeds a quarter of a node and
//!    any overfull node of two or more cells splits into two that fit.

use std::borrow::Cow;

use crate::error::{Error, Result};
use crate::storage::page::{
    self, PAGE_HEADER_SIZE, PAGE_SIZE, PageBytes, PageNumber, PageType, read_u16, read_u32,
    read_u64, write_u16, write_u64,
};

/// The longest key a tree accepts, in bytes.
pub const MAX_KEY_SIZE: usize = 1024;
/// The longest value stored inside a leaf; longer ones go to overflow pages.
pub const MAX_INLINE_VALUE: usize = 2000;

const COUNT_OFFSET: usize = PAGE_HEADER_SIZE;
const CONTENT_START_OFFSET: usize = PAGE_HEADER_SIZE + 2;
const LEFT_OFFSET: usize = PAGE_HEADER_SIZE + 4;
const RIGHT_OFFSET: usize = PAGE_HEADER_SIZE + 12;
/// Where the slot array starts.
pub const NODE_HEADER_SIZE: usize = PAGE_HEADER_SIZE + 24;
/// Bytes available to slots and cells.
pub const NODE_CAPACITY: usize = PAGE_SIZE - NODE_HEADER_SIZE;
/// Below this many used bytes a non-root node is underfull and is merged with
/// or borrows from a sibling.
pub const MIN_FILL: usize = NODE_CAPACITY / 4;

const SLOT_SIZE: usize = 2;
const LEAF_CELL_HEADER: usize = 7;
const INTERIOR_CELL_HEADER: usize = 10;
const FLAG_INLINE: u8 = 0;
const FLAG_OVERFLOW: u8 = 1;

/// Leaf or interior.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    Leaf,
    Interior,
}

impl NodeKind {
    fn page_type(self) -> PageType {
        match self {
            NodeKind::Leaf => PageType::Leaf,
            NodeKind::Interior => PageType::Interior,
        }
    }
}

/// A leaf value as stored: inline bytes or a pointer to an overflow chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeafValue<'a> {
    Inline(&'a [u8]),
    Overflow { length: u32, first_page: PageNumber },
}

/// A read-only view of a node page.
#[derive(Clone, Copy)]
pub struct Node<'a> {
    bytes: &'a PageBytes,
    kind: NodeKind,
    count: usize,
}

impl<'a> Node<'a> {
    /// Views a cached page as a node; any other page type is corruption (a
    /// pointer led somewhere it should not).
    pub fn open(page_number: PageNumber, bytes: &'a PageBytes) -> Result<Node<'a>> {
        let kind = match page::page_type(bytes) {
            Some(PageType::Leaf) => NodeKind::Leaf,
            Some(PageType::Interior) => NodeKind::Interior,
            other => {
                return Err(Error::Corrupt(format!(
                    "page {page_number}: expected a B+tree node, found {other:?}"
                )));
            }
        };
        Ok(Node {
            bytes,
            kind,
            count: usize::from(read_u16(bytes, COUNT_OFFSET)),
        })
    }

    pub fn kind(&self) -> NodeKind {
        self.kind
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn left(&self) -> PageNumber {
        read_u64(self.bytes, LEFT_OFFSET)
    }

    pub fn right(&self) -> PageNumber {
        read_u64(self.bytes, RIGHT_OFFSET)
    }

    /// The raw bytes of cell `index`.
    pub fn cell(&self, index: usize) -> &'a [u8] {
        debug_assert!(index < self.count);
        let offset = usize::from(read_u16(self.bytes, NODE_HEADER_SIZE + SLOT_SIZE * index));
        let length = cell_length(self.kind, &self.bytes[offset..])
            .expect("invariant: cached nodes were validated");
        &self.bytes[offset..offset + length]
    }

    pub fn key(&self, index: usize) -> &'a [u8] {
        cell_key(self.kind, self.cell(index))
    }

    /// The child pointer of interior cell `index`.
    pub fn child(&self, index: usize) -> PageNumber {
        cell_child(self.cell(index))
    }

    /// The value of leaf cell `index`.
    pub fn value(&self, index: usize) -> LeafValue<'a> {
        cell_value(self.cell(index))
    }

    /// Leaf search: `Ok(index)` of the key, or `Err(index)` where it would go.
    pub fn search(&self, key: &[u8]) -> std::result::Result<usize, usize> {
        self.locate(0, key, None)
    }

    /// [`Node::search`] starting from where `estimate` expects the key.
    pub fn search_near(
        &self,
        key: &[u8],
        estimate: Option<Estimate>,
    ) -> std::result::Result<usize, usize> {
        self.locate(0, key, estimate)
    }

    /// Interior search: the index of the child whose range holds `key`, the
    /// last cell (after cell 0, which is minus infinity) with key <= `key`.
    pub fn child_index(&self, key: &[u8]) -> usize {
        self.child_index_near(key, None)
    }

    /// [`Node::child_index`] starting from where `estimate` expects the key.
    pub fn child_index_near(&self, key: &[u8], estimate: Option<Estimate>) -> usize {
        match self.locate(1, key, estimate) {
            Ok(index) => index,
            Err(index) => index - 1,
        }
    }

    /// Where in child `index` of this interior node `key` is expected to
    /// be: `key`'s place between the child's two separators, which bound
    /// every key the child holds. `None` for the first and last children,
    /// which have only one separator.
    pub fn estimate_in_child(&self, index: usize, key: &[u8]) -> Option<Estimate> {
        if index == 0 || index + 1 >= self.count {
            return None;
        }
        Estimate::between(self.key(index), self.key(index + 1), key)
    }

    /// Searches cells `first..count` for `key`: `Ok(index)` of the key, or
    /// `Err(index)` where it would go.
    ///
    /// Without an estimate, by bisection. With one, by galloping from the
    /// cell the estimate points at: probe it, then its neighbour on the
    /// key's side, then cells 2, 4, 8, … away until the key is bracketed,
    /// and bisect the bracket. Each probe of a page fresh from memory is a
    /// cache miss the next probe waits for; bisection's first probes are
    /// far apart, while a good estimate's are the cell itself and its
    /// neighbour, usually on the same cache line. A poor estimate costs at
    /// most about twice bisection's probes, and any estimate gives the
    /// same answer.
    fn locate(
        &self,
        first: usize,
        key: &[u8],
        estimate: Option<Estimate>,
    ) -> std::result::Result<usize, usize> {
        use std::cmp::Ordering;
        let count = self.count.max(first);
        // The answer is in low..=high: cells before low are < key, cells
        // from high on are > key.
        let (mut low, mut high) = (first, count);
        if let Some(estimate) = estimate
            && count > first
        {
            let start = estimate.index(first, count);
            match self.key(start).cmp(key) {
                Ordering::Equal => return Ok(start),
                Ordering::Less => {
                    low = start + 1;
                    let mut step = 1;
                    loop {
                        let probe = start + step;
                        if probe >= count {
                            break;
                        }
                        match self.key(probe).cmp(key) {
                            Ordering::Equal => return Ok(probe),
                            Ordering::Less => low = probe + 1,
                            Ordering::Greater => {
                                high = probe;
                                break;
                            }
                        }
                        step *= 2;
                    }
                }
                Ordering::Greater => {
                    high = start;
                    let mut step = 1;
                    while step <= start - first {
                        let probe = start - step;
                        match self.key(probe).cmp(key) {
                            Ordering::Equal => return Ok(probe),
                            Ordering::Greater => high = probe,
                            Ordering::Less => {
                                low = probe + 1;
                                break;
                            }
                        }
                        step *= 2;
                    }
                }
            }
        }
        while low < high {
            let middle = low + (high - low) / 2;
            match self.key(middle).cmp(key) {
                Ordering::Less => low = middle + 1,
                Ordering::Greater => high = middle,
                Ordering::Equal => return Ok(middle),
            }
        }
        Err(low)
    }

    /// Every cell, borrowed, in order: the input to a rebuild.
    pub fn cells(&self) -> Vec<Cow<'a, [u8]>> {
        (0..self.count)
            .map(|index| Cow::Borrowed(self.cell(index)))
            .collect()
    }
}

/// Where a key is expected among a node's cells, as a fraction of the way
/// from its first to its last: a hint for [`Node::search_near`], never
/// needed for a correct answer.
///
/// A descent computes it in the parent, where the child's two separators
/// are already in the cache: the key's place between them, assuming the
/// child's keys are spread evenly over that interval (consecutive integers,
/// hashed or random values). Keys are compared by a projection: the 8
/// bytes after the separators' common prefix, read as a big-endian number,
/// which is monotone in the bytewise key order for keys between them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate(f64);

impl Estimate {
    /// `key`'s place between `low` and `high`, if `low <= key < high`.
    pub fn between(low: &[u8], high: &[u8], key: &[u8]) -> Option<Estimate> {
        if !(low <= key && key < high) {
            return None;
        }
        let prefix = low
            .iter()
            .zip(high)
            .take_while(|(left, right)| left == right)
            .count();
        let (bottom, top) = (projection(low, prefix), projection(high, prefix));
        // `low < high` and they first differ at `prefix` (or `low` ends
        // there), so `top > bottom`.
        let point = projection(key, prefix).clamp(bottom, top);
        let span = top.saturating_sub(bottom).max(1);
        Some(Estimate((point - bottom) as f64 / span as f64))
    }

    /// The cell of `first..count` (non-empty) the estimate points at.
    fn index(self, first: usize, count: usize) -> usize {
        let offset = (self.0 * (count - first) as f64) as usize;
        (first + offset).min(count - 1)
    }
}

/// The 8 bytes of `key` after its first `prefix` bytes (zero-padded), as a
/// big-endian number.
fn projection(key: &[u8], prefix: usize) -> u64 {
    let mut bytes = [0u8; 8];
    let tail = key.get(prefix..).unwrap_or_default();
    let length = tail.len().min(8);
    bytes[..length].copy_from_slice(&tail[..length]);
    u64::from_be_bytes(bytes)
}

/// The length of the cell starting at `bytes[0]`, if its header fits.
fn cell_length(kind: NodeKind, bytes: &[u8]) -> Option<usize> {
    match kind {
        NodeKind::Leaf => {
            if bytes.len() < LEAF_CELL_HEADER {
                return None;
            }
            let key_length = usize::from(read_u16(bytes, 0));
            let payload = match bytes[2] {
                FLAG_INLINE => read_u32(bytes, 3) as usize,
                FLAG_OVERFLOW => 8,
                _ => return None,
            };
            Some(LEAF_CELL_HEADER + key_length + payload)
        }
        NodeKind::Interior => {
            if bytes.len() < INTERIOR_CELL_HEADER {
                return None;
            }
            Some(INTERIOR_CELL_HEADER + usize::from(read_u16(bytes, 0)))
        }
    }
}

/// The key of a raw cell.
pub fn cell_key(kind: NodeKind, cell: &[u8]) -> &[u8] {
    let key_length = usize::from(read_u16(cell, 0));
    let header = match kind {
        NodeKind::Leaf => LEAF_CELL_HEADER,
        NodeKind::Interior => INTERIOR_CELL_HEADER,
    };
    &cell[header..header + key_length]
}

/// The child pointer of a raw interior cell.
pub fn cell_child(cell: &[u8]) -> PageNumber {
    read_u64(cell, 2)
}

/// The value of a raw leaf cell.
pub fn cell_value(cell: &[u8]) -> LeafValue<'_> {
    let key_length = usize::from(read_u16(cell, 0));
    let length = read_u32(cell, 3);
    let payload = LEAF_CELL_HEADER + key_length;
    if cell[2] == FLAG_OVERFLOW {
        LeafValue::Overflow {
            length,
            first_page: read_u64(cell, payload),
        }
    } else {
        LeafValue::Inline(&cell[payload..payload + length as usize])
    }
}

/// Encodes a leaf cell.
pub fn leaf_cell(key: &[u8], value: LeafValue<'_>) -> Vec<u8> {
    assert!(
        key.len() <= MAX_KEY_SIZE,
        "invariant: key length checked by the caller"
    );
    let mut cell = Vec::with_capacity(LEAF_CELL_HEADER + key.len() + 8);
    cell.extend_from_slice(&(key.len() as u16).to_le_bytes());
    match value {
        LeafValue::Inline(bytes) => {
            assert!(
                bytes.len() <= MAX_INLINE_VALUE,
                "invariant: long values overflow"
            );
            cell.push(FLAG_INLINE);
            cell.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            cell.extend_from_slice(key);
            cell.extend_from_slice(bytes);
        }
        LeafValue::Overflow { length, first_page } => {
            cell.push(FLAG_OVERFLOW);
            cell.extend_from_slice(&length.to_le_bytes());
            cell.extend_from_slice(key);
            cell.extend_from_slice(&first_page.to_le_bytes());
        }
    }
    cell
}

/// Encodes an interior cell.
pub fn interior_cell(key: &[u8], child: PageNumber) -> Vec<u8> {
    assert!(key.len() <= MAX_KEY_SIZE, "invariant: separators are keys");
    let mut cell = Vec::with_capacity(INTERIOR_CELL_HEADER + key.len());
    cell.extend_from_slice(&(key.len() as u16).to_le_bytes());
    cell.extend_from_slice(&child.to_le_bytes());
    cell.extend_from_slice(key);
    cell
}

/// Bytes of node capacity the cells take (each with its slot).
pub fn used_space(cells: &[Cow<'_, [u8]>]) -> usize {
    cells.iter().map(|cell| cell.len() + SLOT_SIZE).sum()
}

/// Whether the cells fit in one node.
pub fn fits(cells: &[Cow<'_, [u8]>]) -> bool {
    used_space(cells) <= NODE_CAPACITY
}

/// Where to split an overfull cell list: the index of the first cell of the
/// right half, chosen to balance the bytes. Both halves are non-empty and fit
/// (invariant 4).
pub fn split_point(cells: &[Cow<'_, [u8]>]) -> usize {
    assert!(
        cells.len() >= 2,
        "invariant: only lists of two or more cells split"
    );
    let total = used_space(cells);
    let mut best = 1;
    let mut best_larger = usize::MAX;
    let mut left = 0;
    for (index, cell) in cells.iter().enumerate().take(cells.len() - 1) {
        left += cell.len() + SLOT_SIZE;
        let larger = left.max(total - left);
        if larger < best_larger {
            best_larger = larger;
            best = index + 1;
        }
    }
    assert!(
        best_larger <= NODE_CAPACITY,
        "invariant: cells are small enough to split"
    );
    best
}

/// How full a split leaves the left node of the rightmost node of a level,
/// in percent of [`NODE_CAPACITY`]: leaves and interior nodes, as
/// PostgreSQL's B-tree fill factors (90 and 70).
pub const RIGHTMOST_LEAF_FILL: usize = 90;
pub const RIGHTMOST_INTERIOR_FILL: usize = 70;

/// Where to split the overfull rightmost node of a level. Keys inserted in
/// ascending order (a serial key, a load in key order) all land in that
/// node; a byte-midpoint split would leave every node behind half empty,
/// doubling the pages a scan reads. Instead the left node keeps `fill`
/// percent of a node and the rest moves right, so an append-only tree packs
/// its nodes `fill` full and still leaves room for an update or two. Falls
/// back to [`split_point`] when no such split fits.
pub fn split_point_rightmost(cells: &[Cow<'_, [u8]>], fill: usize) -> usize {
    assert!(
        cells.len() >= 2,
        "invariant: only lists of two or more cells split"
    );
    let target = NODE_CAPACITY * fill / 100;
    let total = used_space(cells);
    let mut left = 0;
    let mut best = None;
    for (index, cell) in cells.iter().enumerate().take(cells.len() - 1) {
        left += cell.len() + SLOT_SIZE;
        if left > target {
            break;
        }
        if total - left <= NODE_CAPACITY {
            best = Some(index + 1);
        }
    }
    best.unwrap_or_else(|| split_point(cells))
}

/// Rewrites `bytes` as a node holding `cells` (which must fit), keeping the LSN.
pub fn write(
    bytes: &mut PageBytes,
    kind: NodeKind,
    left: PageNumber,
    right: PageNumber,
    cells: &[Cow<'_, [u8]>],
) {
    assert!(
        fits(cells),
        "invariant: callers split before writing an overfull node"
    );
    let lsn = page::lsn(bytes);
    page::initialize(bytes, kind.page_type());
    write_u64(bytes, 8, lsn);
    write_u16(bytes, COUNT_OFFSET, cells.len() as u16);
    write_u64(bytes, LEFT_OFFSET, left);
    write_u64(bytes, RIGHT_OFFSET, right);
    let mut content_start = PAGE_SIZE;
    for (index, cell) in cells.iter().enumerate() {
        content_start -= cell.len();
        bytes[content_start..content_start + cell.len()].copy_from_slice(cell);
        write_u16(
            bytes,
            NODE_HEADER_SIZE + SLOT_SIZE * index,
            content_start as u16,
        );
    }
    write_u16(bytes, CONTENT_START_OFFSET, content_start as u16);
}

/// Inserts `cell` as slot `index` without rebuilding the node: the cell goes
/// just below the cells (into the free gap) and the later slots move up by
/// one. Keeps the cells packed (invariant 3 holds: no hole is made). Returns
/// false, changing nothing, if the gap cannot take it.
pub fn insert_in_gap(bytes: &mut PageBytes, index: usize, cell: &[u8]) -> bool {
    let count = usize::from(read_u16(bytes, COUNT_OFFSET));
    let content_start = usize::from(read_u16(bytes, CONTENT_START_OFFSET));
    let slots_end = NODE_HEADER_SIZE + SLOT_SIZE * count;
    if index > count || slots_end + SLOT_SIZE + cell.len() > content_start {
        return false;
    }
    let cell_start = content_start - cell.len();
    bytes[cell_start..content_start].copy_from_slice(cell);
    let slot = NODE_HEADER_SIZE + SLOT_SIZE * index;
    bytes.copy_within(slot..slots_end, slot + SLOT_SIZE);
    write_u16(bytes, slot, cell_start as u16);
    write_u16(bytes, COUNT_OFFSET, (count + 1) as u16);
    write_u16(bytes, CONTENT_START_OFFSET, cell_start as u16);
    true
}

/// Overwrites cell `index` with `cell` if both have the same length (a
/// value replaced by one as long, like a commit-log chunk). Returns false,
/// changing nothing, otherwise.
pub fn overwrite_cell(bytes: &mut PageBytes, kind: NodeKind, index: usize, cell: &[u8]) -> bool {
    let offset = usize::from(read_u16(bytes, NODE_HEADER_SIZE + SLOT_SIZE * index));
    match cell_length(kind, &bytes[offset..]) {
        Some(length) if length == cell.len() => {
            bytes[offset..offset + length].copy_from_slice(cell);
            true
        }
        _ => false,
    }
}

/// The unused gap between a node's slot array and its cells, as a byte
/// range, if the header describes a sane one.
pub fn free_gap(bytes: &PageBytes) -> Option<(usize, usize)> {
    let count = usize::from(read_u16(bytes, COUNT_OFFSET));
    let start = NODE_HEADER_SIZE + SLOT_SIZE * count;
    let end = usize::from(read_u16(bytes, CONTENT_START_OFFSET));
    (start <= end && end <= PAGE_SIZE).then_some((start, end))
}

/// Sets a leaf's left sibling pointer in place.
pub fn set_left(bytes: &mut PageBytes, left: PageNumber) {
    write_u64(bytes, LEFT_OFFSET, left);
}

/// Sets a leaf's right sibling pointer in place.
pub fn set_right(bytes: &mut PageBytes, right: PageNumber) {
    write_u64(bytes, RIGHT_OFFSET, right);
}

/// Checks the structure of a node page read from disk (invariant 2), so that
/// malformed bytes become `Error::Corrupt` instead of a panic later.
pub fn validate(page_number: PageNumber, bytes: &PageBytes) -> Result<()> {
    let corrupt = |what: String| Error::Corrupt(format!("page {page_number}: {what}"));
    let node = Node::open(page_number, bytes)?;
    let count = node.count;
    let content_start = usize::from(read_u16(bytes, CONTENT_START_OFFSET));
    let slots_end = NODE_HEADER_SIZE + SLOT_SIZE * count;
    if slots_end > content_start || content_start > PAGE_SIZE {
        return Err(corrupt(format!(
            "{count} slots do not fit before content start {content_start}"
        )));
    }
    if node.kind == NodeKind::Interior && count == 0 {
        return Err(corrupt("interior node without children".into()));
    }
    // Cells may not overlap, so together they fit in the cell area; without
    // this, slots sharing one big cell make an "overfull" node that no split
    // can fit (a panic in `split_point`/`write` on the next insert).
    let mut cell_bytes = 0;
    for index in 0..count {
        let offset = usize::from(read_u16(bytes, NODE_HEADER_SIZE + SLOT_SIZE * index));
        if offset < content_start || offset >= PAGE_SIZE {
            return Err(corrupt(format!(
                "slot {index} offset {offset} outside the cell area"
            )));
        }
        let length = cell_length(node.kind, &bytes[offset..])
            .ok_or_else(|| corrupt(format!("cell {index} has a malformed header")))?;
        if offset + length > PAGE_SIZE {
            return Err(corrupt(format!(
                "cell {index} runs past the end of the page"
            )));
        }
        cell_bytes += length;
        if cell_bytes > PAGE_SIZE - content_start {
            return Err(corrupt(format!(
                "cells up to {index} take {cell_bytes} bytes, more than the cell area"
            )));
        }
        let cell = &bytes[offset..offset + length];
        if usize::from(read_u16(cell, 0)) > MAX_KEY_SIZE {
            return Err(corrupt(format!(
                "cell {index} key longer than {MAX_KEY_SIZE}"
            )));
        }
        if node.kind == NodeKind::Leaf
            && cell[2] == FLAG_INLINE
            && read_u32(cell, 3) as usize > MAX_INLINE_VALUE
        {
            return Err(corrupt(format!("cell {index} inline value too long")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::page::write_u32;

    fn cells_of(cells: &[Vec<u8>]) -> Vec<Cow<'_, [u8]>> {
        cells
            .iter()
            .map(|cell| Cow::Borrowed(cell.as_slice()))
            .collect()
    }

    #[test]
    fn leaf_round_trip_and_search() {
        let owned: Vec<Vec<u8>> = [b"apple".as_slice(), b"banana", b"cherry"]
            .iter()
            .enumerate()
            .map(|(index, key)| {
                if index == 1 {
                    leaf_cell(
                        key,
                        LeafValue::Overflow {
                            length: 99_999,
                            first_page: 42,
                        },
                    )
                } else {
                    leaf_cell(key, LeafValue::Inline(b"v"))
                }
            })
            .collect();
        let mut bytes = [0u8; PAGE_SIZE];
        write(&mut bytes, NodeKind::Leaf, 3, 4, &cells_of(&owned));
        validate(9, &bytes).unwrap();
        let node = Node::open(9, &bytes).unwrap();
        assert_eq!((node.len(), node.left(), node.right()), (3, 3, 4));
        assert_eq!(node.key(2), b"cherry");
        assert_eq!(node.value(0), LeafValue::Inline(b"v"));
        assert_eq!(
            node.value(1),
            LeafValue::Overflow {
                length: 99_999,
                first_page: 42
            }
        );
        assert_eq!(node.search(b"banana"), Ok(1));
        assert_eq!(node.search(b"b"), Err(1));
        assert_eq!(node.search(b"z"), Err(3));
    }

    /// A page holding an interior node of `cells`.
    fn interior_page(cells: &[Vec<u8>]) -> PageBytes {
        let mut bytes = [0u8; PAGE_SIZE];
        write(&mut bytes, NodeKind::Interior, 0, 0, &cells_of(cells));
        bytes
    }

    /// Keys of the shapes trees hold: consecutive and scattered integers,
    /// skewed ones, variable-length strings sharing prefixes.
    fn key_sets() -> Vec<Vec<Vec<u8>>> {
        let mut random = crate::storage::vfs::SplitMix64(7);
        let consecutive: Vec<Vec<u8>> = (5_000u64..5_200)
            .map(|n| n.to_be_bytes().to_vec())
            .collect();
        let mut scattered: Vec<Vec<u8>> = (0..200)
            .map(|_| random.next_u64().to_be_bytes().to_vec())
            .collect();
        let skewed: Vec<Vec<u8>> = (1u64..200)
            .map(|n| (n * n * n).to_be_bytes().to_vec())
            .collect();
        let mut strings: Vec<Vec<u8>> = (0..200)
            .map(|n| {
                let length = 1 + (random.next_u64() % 12) as usize;
                let mut key = b"prefix/".to_vec();
                key.extend((0..length).map(|_| b'a' + (random.next_u64() % 3) as u8));
                key.push(n as u8);
                key
            })
            .collect();
        scattered.sort();
        scattered.dedup();
        strings.sort();
        strings.dedup();
        vec![consecutive, scattered, skewed, strings]
    }

    /// Keys to look for among `keys`: each of them, one just above each, and
    /// some below the first and above the last.
    fn probes(keys: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut probes = vec![Vec::new(), vec![0xFF; 9]];
        for key in keys {
            probes.push(key.clone());
            let mut above = key.clone();
            above.push(0);
            probes.push(above);
        }
        probes
    }

    #[test]
    fn searches_from_any_estimate_agree_with_bisection() {
        let estimates: Vec<Option<Estimate>> = [0.0, 0.001, 0.25, 0.5, 0.77, 0.999, 1.0]
            .into_iter()
            .map(|fraction| Some(Estimate(fraction)))
            .chain([None])
            .collect();
        for keys in key_sets() {
            let leaf_cells: Vec<Vec<u8>> = keys
                .iter()
                .map(|key| leaf_cell(key, LeafValue::Inline(b"v")))
                .collect();
            let mut leaf = [0u8; PAGE_SIZE];
            write(&mut leaf, NodeKind::Leaf, 0, 0, &cells_of(&leaf_cells));
            let leaf = Node::open(1, &leaf).unwrap();
            let mut interior_cells = vec![interior_cell(b"", 10)];
            interior_cells.extend(keys.iter().map(|key| interior_cell(key, 11)));
            let interior = interior_page(&interior_cells);
            let interior = Node::open(2, &interior).unwrap();
            for key in probes(&keys) {
                // The estimate a parent would give, from loose separators.
                let from_parent =
                    Estimate::between(&keys[0][..keys[0].len() - 1], &[0xFF; 9], &key);
                for &estimate in estimates.iter().chain([&from_parent]) {
                    assert_eq!(
                        leaf.search_near(&key, estimate),
                        leaf.search(&key),
                        "leaf, key {key:?}, estimate {estimate:?}"
                    );
                    assert_eq!(
                        interior.child_index_near(&key, estimate),
                        interior.child_index(&key),
                        "interior, key {key:?}, estimate {estimate:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_parent_estimates_consecutive_keys_exactly() {
        let key = |n: u32| {
            let mut key = n.to_be_bytes().to_vec();
            key.extend_from_slice(&[0, 0, 7, 7]);
            key
        };
        let parent_cells = vec![
            interior_cell(b"", 10),
            interior_cell(&key(1_000), 11),
            interior_cell(&key(1_100), 12),
        ];
        let parent = interior_page(&parent_cells);
        let parent = Node::open(1, &parent).unwrap();
        let estimate = parent.estimate_in_child(1, &key(1_042)).unwrap();
        assert_eq!(estimate.index(0, 100), 42);
        // The first and last children have one separator only.
        assert_eq!(parent.estimate_in_child(0, &key(5)), None);
        assert_eq!(parent.estimate_in_child(2, &key(2_000)), None);
        // A key outside the separators gets no estimate.
        assert_eq!(
            Estimate::between(&key(1_000), &key(1_100), &key(1_100)),
            None
        );
    }

    #[test]
    fn interior_child_index() {
        let owned = vec![
            interior_cell(b"", 10),
            interior_cell(b"m", 11),
            interior_cell(b"t", 12),
        ];
        let mut bytes = [0u8; PAGE_SIZE];
        write(&mut bytes, NodeKind::Interior, 0, 0, &cells_of(&owned));
        let node = Node::open(1, &bytes).unwrap();
        assert_eq!(node.child_index(b"a"), 0);
        assert_eq!(node.child_index(b"m"), 1);
        assert_eq!(node.child_index(b"s"), 1);
        assert_eq!(node.child_index(b"zz"), 2);
        assert_eq!(node.child(2), 12);
    }

    #[test]
    fn split_point_balances_and_fits() {
        let big = vec![
            leaf_cell(
                &[7; MAX_KEY_SIZE],
                LeafValue::Inline(&[1; MAX_INLINE_VALUE])
            );
            3
        ];
        let small = leaf_cell(b"k", LeafValue::Inline(b"v"));
        let mut owned = big.clone();
        owned.push(small);
        let cells = cells_of(&owned);
        assert!(!fits(&cells));
        let split = split_point(&cells);
        assert!(fits(&cells[..split]) && fits(&cells[split..]));
    }

    #[test]
    fn rightmost_split_packs_the_left_node() {
        let owned: Vec<Vec<u8>> = (0u32..400)
            .map(|i| leaf_cell(&i.to_be_bytes(), LeafValue::Inline(&[5; 20])))
            .collect();
        let cells = cells_of(&owned);
        let count = (0..cells.len())
            .find(|&n| !fits(&cells[..=n]))
            .expect("400 cells overfill a node")
            + 1;
        let overfull = &cells[..count];
        let split = split_point_rightmost(overfull, RIGHTMOST_LEAF_FILL);
        let left = used_space(&overfull[..split]);
        assert!(left <= NODE_CAPACITY * RIGHTMOST_LEAF_FILL / 100);
        assert!(left + 31 > NODE_CAPACITY * RIGHTMOST_LEAF_FILL / 100);
        assert!(fits(&overfull[split..]));
        // The balanced split leaves both halves about half full.
        let balanced = split_point(overfull);
        assert!(used_space(&overfull[..balanced]) < NODE_CAPACITY * 55 / 100);
    }

    #[test]
    fn rightmost_split_falls_back_when_the_right_would_overflow() {
        let big = vec![
            leaf_cell(
                &[7; MAX_KEY_SIZE],
                LeafValue::Inline(&[1; MAX_INLINE_VALUE])
            );
            3
        ];
        let cells = cells_of(&big);
        let split = split_point_rightmost(&cells, 10);
        assert!(fits(&cells[..split]) && fits(&cells[split..]));
    }

    #[test]
    fn malformed_nodes_are_corrupt() {
        let owned = vec![leaf_cell(b"key", LeafValue::Inline(b"value"))];
        let mut bytes = [0u8; PAGE_SIZE];
        write(&mut bytes, NodeKind::Leaf, 0, 0, &cells_of(&owned));
        let mut bad_slot = bytes;
        write_u16(&mut bad_slot, NODE_HEADER_SIZE, 20);
        assert!(matches!(validate(5, &bad_slot), Err(Error::Corrupt(_))));
        let mut bad_count = bytes;
        write_u16(&mut bad_count, COUNT_OFFSET, 5000);
        assert!(matches!(validate(5, &bad_count), Err(Error::Corrupt(_))));
        let mut bad_length = bytes;
        let offset = usize::from(read_u16(&bytes, NODE_HEADER_SIZE));
        write_u32(&mut bad_length, offset + 3, 60_000);
        let error = validate(5, &bad_length).unwrap_err();
        assert!(error.to_string().contains("page 5"), "{error}");
        let mut bad_type = bytes;
        page::initialize(&mut bad_type, PageType::Free);
        assert!(matches!(validate(5, &bad_type), Err(Error::Corrupt(_))));
    }

    #[test]
    fn overlapping_cells_larger_than_a_node_are_corrupt() {
        // Two big cells, then two more slots pointing at the same bytes: every
        // slot and cell lies inside the page, but the cells add up to more
        // than a node holds, so no split of them (plus one more) can fit.
        let owned = vec![
            leaf_cell(
                &[1; MAX_KEY_SIZE],
                LeafValue::Inline(&[0; MAX_INLINE_VALUE]),
            ),
            leaf_cell(
                &[2; MAX_KEY_SIZE],
                LeafValue::Inline(&[0; MAX_INLINE_VALUE]),
            ),
        ];
        let mut bytes = [0u8; PAGE_SIZE];
        write(&mut bytes, NodeKind::Leaf, 0, 0, &cells_of(&owned));
        validate(5, &bytes).unwrap();
        let first = read_u16(&bytes, NODE_HEADER_SIZE);
        let second = read_u16(&bytes, NODE_HEADER_SIZE + SLOT_SIZE);
        write_u16(&mut bytes, COUNT_OFFSET, 4);
        write_u16(&mut bytes, NODE_HEADER_SIZE + 2 * SLOT_SIZE, first);
        write_u16(&mut bytes, NODE_HEADER_SIZE + 3 * SLOT_SIZE, second);
        let error = validate(5, &bytes).unwrap_err();
        assert!(matches!(error, Error::Corrupt(_)), "{error}");
        assert!(error.to_string().contains("page 5"), "{error}");
    }
}
