//! B+tree algorithms over the buffer pool: descent, get, upsert with splits,
//! delete with merge/redistribution, ordered cursors in both directions, and
//! dropping a whole tree.
//!
//! ```text
//!                       root (page fixed for the tree's life)
//!                    [ -inf | m ]
//!                     /        \
//!          [a c f] <──> [m q t]        leaves, linked both ways
//!
//!   insert into a full leaf:  cells + new ─► split at the byte midpoint;
//!     left half stays in place, right half to a new page, its first key goes
//!     up as a separator; a full parent splits the same way, recursively.
//!     The rightmost node of a level splits unevenly instead, keeping its
//!     left part 90% full (70% for interior nodes), so keys inserted in
//!     ascending order pack the tree instead of leaving nodes half empty.
//!     A full root moves both halves to new pages and becomes their parent,
//!     so the root page number never changes.
//!   delete leaving a node under MIN_FILL: combine with a sibling under the
//!     same parent; if the two fit in one page, merge (free the right page,
//!     drop its separator), else redistribute by bytes (new separator). The
//!     parent is then settled the same way. A root interior node left with a
//!     single child absorbs it (the tree shrinks by one level).
//! ```
//!
//! Every modification runs in a [`MiniTransaction`] (one per insert or
//! delete, splits and merges included), so it is logged and replayed as one.
//! A structural change copies the node into a scratch page, edits its cell
//! list, and rewrites the node whole ([`node::write`], logged as an image);
//! the common case, a leaf that takes an insert or delete without splitting
//! or underflowing, is applied and logged as a small delta instead.
//!
//! Invariants:
//! 1. All leaves are at the same depth; child `i` of an interior node holds
//!    exactly the keys in `[key(i), key(i+1))`.
//! 2. Leaf sibling links form one doubly linked list in key order; the
//!    leftmost's left and the rightmost's right are 0.
//! 3. The root page number is fixed from `create` to `destroy`, so the
//!    directory of roots changes only when trees are created or dropped.
//! 4. A non-root node holds at least [`MIN_FILL`] bytes after a change that
//!    shrank it settled it, unless its parent has a single child or merging
//!    was impossible; splits never leave a node over capacity. A change that
//!    grows a node never rebalances it: the right node of a rightmost split
//!    starts under `MIN_FILL` and fills as keys are appended to it.
//! 5. Callers serialise writers (the engine holds its write lock), and readers
//!    only run concurrently with other readers.
//! 6. An overflow chain is freed only after the cell pointing at it changed
//!    (overflow invariant 3).

use std::borrow::Cow;
use std::ops::Bound;

use super::node::{
    self, Estimate, LeafValue, MAX_INLINE_VALUE, MAX_KEY_SIZE, MIN_FILL, Node, NodeKind,
    cell_child, cell_key, interior_cell,
};
use super::overflow;
use crate::error::{Error, Result};
use crate::storage::buffer_pool::{BufferPool, PageRef};
use crate::storage::engine::{Direction, EntryBatch, KeyRange, even_picks};
use crate::storage::meta::Meta;
use crate::storage::mini_transaction::{MiniTransaction, PageSource};
use crate::storage::page::{PageBytes, PageNumber};
use crate::storage::redo::Delta;

/// Deeper than any real tree (8 KiB pages, 1 KiB keys): a deeper descent
/// means a pointer cycle in a corrupt file.
const MAX_DEPTH: usize = 64;

/// A node's cells, borrowed from a scratch copy of its page or newly built.
type Cells<'a> = Vec<Cow<'a, [u8]>>;

/// One step of a root-to-leaf path: an interior page and the child taken.
#[derive(Clone, Copy, Debug)]
struct PathStep {
    page_number: PageNumber,
    index: usize,
    /// Whether `index` is the node's last child.
    last: bool,
}

/// Where a descent goes.
#[derive(Clone, Copy)]
enum Target<'a> {
    Key(&'a [u8]),
    First,
    Last,
}

impl Target<'_> {
    /// The child of interior `node` a descent toward the target takes.
    fn child_index(self, node: &Node<'_>) -> usize {
        self.child_index_near(node, None)
    }

    /// [`Target::child_index`], searching from where `estimate` expects it.
    fn child_index_near(self, node: &Node<'_>, estimate: Option<Estimate>) -> usize {
        match self {
            Target::Key(key) => node.child_index_near(key, estimate),
            Target::First => 0,
            Target::Last => node.len() - 1,
        }
    }

    /// Where in child `index` of `node` the target is expected.
    fn estimate_in_child(self, node: &Node<'_>, index: usize) -> Option<Estimate> {
        match self {
            Target::Key(key) => node.estimate_in_child(index, key),
            Target::First | Target::Last => None,
        }
    }
}

/// A handle to one B+tree: just its fixed root page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BTree {
    root: PageNumber,
}

/// Fails unless the key is short enough to store.
pub fn check_key(key: &[u8]) -> Result<()> {
    if key.len() > MAX_KEY_SIZE {
        return Err(Error::Internal(format!(
            "key of {} bytes exceeds the maximum key size of {MAX_KEY_SIZE} bytes \
             (program limit exceeded)",
            key.len()
        )));
    }
    Ok(())
}

/// Copies a page out of the pool so that it can be edited while unlatched.
fn copy_page(buffer_pool: &BufferPool, page_number: PageNumber) -> Result<Box<PageBytes>> {
    let page = buffer_pool.fetch_read(page_number)?;
    Ok(Box::new(*page))
}

/// Reads a leaf value, following its overflow chain.
fn materialize(buffer_pool: &BufferPool, value: LeafValue<'_>) -> Result<Vec<u8>> {
    match value {
        LeafValue::Inline(bytes) => Ok(bytes.to_vec()),
        LeafValue::Overflow { length, first_page } => {
            overflow::read_chain(buffer_pool, first_page, length)
        }
    }
}

/// The overflow chain a leaf value owns, as (first page, length).
fn chain_of(value: LeafValue<'_>) -> Option<(PageNumber, u32)> {
    match value {
        LeafValue::Inline(_) => None,
        LeafValue::Overflow { length, first_page } => Some((first_page, length)),
    }
}

fn free_value(mtr: &mut MiniTransaction<'_>, meta: &mut Meta, value: LeafValue<'_>) -> Result<()> {
    match chain_of(value) {
        None => Ok(()),
        Some((first_page, length)) => overflow::free_chain(mtr, meta, first_page, length),
    }
}

/// Writes a node's cells into its page.
fn write_node(
    mtr: &mut MiniTransaction<'_>,
    page_number: PageNumber,
    kind: NodeKind,
    siblings: (PageNumber, PageNumber),
    cells: &[Cow<'_, [u8]>],
) -> Result<()> {
    let page = mtr.write(page_number)?;
    node::write(page, kind, siblings.0, siblings.1, cells);
    Ok(())
}

/// Writes a node's cells, or applies `delta` when it describes the same
/// change (the common case, logged small).
fn write_or_apply(
    mtr: &mut MiniTransaction<'_>,
    page_number: PageNumber,
    kind: NodeKind,
    siblings: (PageNumber, PageNumber),
    cells: &[Cow<'_, [u8]>],
    delta: Option<Delta>,
) -> Result<()> {
    match delta {
        Some(delta) => mtr.apply(page_number, delta),
        None => write_node(mtr, page_number, kind, siblings, cells),
    }
}

/// Writes a freshly allocated node (its old bytes are not read).
fn create_node(
    mtr: &mut MiniTransaction<'_>,
    page_number: PageNumber,
    kind: NodeKind,
    siblings: (PageNumber, PageNumber),
    cells: &[Cow<'_, [u8]>],
) -> Result<()> {
    let page = mtr.create(page_number)?;
    node::write(page, kind, siblings.0, siblings.1, cells);
    Ok(())
}

/// Points the leaf `page_number`'s left link at `left`.
fn relink_left(
    mtr: &mut MiniTransaction<'_>,
    page_number: PageNumber,
    left: PageNumber,
) -> Result<()> {
    if page_number == 0 {
        return Ok(());
    }
    mtr.apply(page_number, Delta::SetLeft(left))
}

/// Where a split puts its cut: at the byte midpoint, or packing the left
/// node because the node is the rightmost of its level.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SplitAt {
    Midpoint,
    Rightmost,
}

/// Splits a cell list into (left, separator, right); an interior right
/// half's first key moves up and becomes minus infinity.
fn split_cells<'a>(
    kind: NodeKind,
    mut cells: Cells<'a>,
    at: SplitAt,
) -> (Cells<'a>, Vec<u8>, Cells<'a>) {
    let split = match (at, kind) {
        (SplitAt::Midpoint, _) => node::split_point(&cells),
        (SplitAt::Rightmost, NodeKind::Leaf) => {
            node::split_point_rightmost(&cells, node::RIGHTMOST_LEAF_FILL)
        }
        (SplitAt::Rightmost, NodeKind::Interior) => {
            node::split_point_rightmost(&cells, node::RIGHTMOST_INTERIOR_FILL)
        }
    };
    let mut right = cells.split_off(split);
    let separator = cell_key(kind, &right[0]).to_vec();
    if kind == NodeKind::Interior {
        right[0] = Cow::Owned(interior_cell(b"", cell_child(&right[0])));
    }
    (cells, separator, right)
}

impl BTree {
    /// Allocates an empty tree: one empty leaf as its root.
    pub fn create(mtr: &mut MiniTransaction<'_>, meta: &mut Meta) -> Result<BTree> {
        let root = meta.allocate(mtr)?;
        create_node(mtr, root, NodeKind::Leaf, (0, 0), &[])?;
        Ok(BTree { root })
    }

    /// The tree whose root is `root`.
    pub fn open(root: PageNumber) -> BTree {
        BTree { root }
    }

    pub fn root(&self) -> PageNumber {
        self.root
    }

    /// Walks from the root to the leaf for `target`, recording the path.
    fn descend(
        &self,
        source: &mut impl PageSource,
        target: Target<'_>,
    ) -> Result<(Vec<PathStep>, PageNumber)> {
        let mut path = Vec::new();
        let mut page_number = self.root;
        loop {
            let step = source.with_page(page_number, |page| {
                let node = Node::open(page_number, page)?;
                if node.kind() == NodeKind::Leaf {
                    return Ok(None);
                }
                let index = target.child_index(&node);
                Ok(Some((index, index + 1 == node.len(), node.child(index))))
            })?;
            let Some((index, last, child)) = step else {
                return Ok((path, page_number));
            };
            path.push(PathStep {
                page_number,
                index,
                last,
            });
            page_number = child;
            if path.len() > MAX_DEPTH || page_number == 0 {
                return Err(Error::Corrupt(format!(
                    "page {}: bad child pointer {page_number} (cycle or null)",
                    path[path.len() - 1].page_number
                )));
            }
        }
    }

    /// The descent of a reader: the leaf for `target`, still pinned and
    /// latched from the descent, so the page is fetched once and no path is
    /// built. Only splits and merges move keys between leaves, and they
    /// hold the engine's exclusive structure lock, never beside a reader
    /// (invariant 5), so the leaf still covers `target` when it is read.
    ///
    /// Also returns where in the leaf the target is expected (from the
    /// parent's separators, see [`Estimate`]), to search it from there.
    fn read_leaf<'pool>(
        &self,
        buffer_pool: &'pool BufferPool,
        target: Target<'_>,
    ) -> Result<(PageRef<'pool>, Option<Estimate>)> {
        let mut page_number = self.root;
        let mut estimate = None;
        for _ in 0..=MAX_DEPTH {
            let page = buffer_pool.fetch_read(page_number)?;
            let node = Node::open(page_number, &page)?;
            if node.kind() == NodeKind::Leaf {
                return Ok((page, estimate));
            }
            let index = target.child_index_near(&node, estimate);
            estimate = target.estimate_in_child(&node, index);
            let child = node.child(index);
            if child == 0 {
                return Err(Error::Corrupt(format!(
                    "page {page_number}: null child pointer"
                )));
            }
            page_number = child;
        }
        Err(Error::Corrupt(format!(
            "tree {}: deeper than {MAX_DEPTH} levels (a child pointer cycle)",
            self.root
        )))
    }

    /// The value under `key`, if any.
    pub fn get(&self, buffer_pool: &BufferPool, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if key.len() > MAX_KEY_SIZE {
            return Ok(None);
        }
        let (page, estimate) = self.read_leaf(buffer_pool, Target::Key(key))?;
        let leaf = page.page_number();
        let node = Node::open(leaf, &page)?;
        match node.search_near(key, estimate) {
            Ok(index) => Ok(Some(materialize(buffer_pool, node.value(index))?)),
            Err(_) => Ok(None),
        }
    }

    /// Stores `value` under `key`, replacing any previous value.
    pub fn insert(
        &self,
        mtr: &mut MiniTransaction<'_>,
        meta: &mut Meta,
        key: &[u8],
        value: &[u8],
    ) -> Result<()> {
        check_key(key)?;
        let stored = if value.len() > MAX_INLINE_VALUE {
            let length = u32::try_from(value.len()).map_err(|_| {
                Error::Internal(format!("value of {} bytes is too large", value.len()))
            })?;
            let first_page = overflow::write_chain(mtr, meta, value)?;
            LeafValue::Overflow { length, first_page }
        } else {
            LeafValue::Inline(value)
        };
        let new_cell = node::leaf_cell(key, stored);
        let (path, leaf) = self.descend(mtr, Target::Key(key))?;
        let scratch = mtr.copy_page(leaf)?;
        let node = Node::open(leaf, &scratch)?;
        let mut cells = node.cells();
        let before = node::used_space(&cells);
        let replaced_chain = match node.search(key) {
            Ok(index) => {
                cells[index] = Cow::Owned(new_cell.clone());
                chain_of(node.value(index))
            }
            Err(index) => {
                cells.insert(index, Cow::Owned(new_cell.clone()));
                None
            }
        };
        let siblings = (node.left(), node.right());
        let shrank = node::used_space(&cells) < before;
        self.settle(
            mtr,
            meta,
            &path,
            leaf,
            NodeKind::Leaf,
            siblings,
            cells,
            shrank,
            Some(Delta::LeafPut(new_cell)),
        )?;
        // Invariant 6: the old chain goes only now that nothing points at it.
        match replaced_chain {
            Some((first_page, length)) => overflow::free_chain(mtr, meta, first_page, length),
            None => Ok(()),
        }
    }

    /// The common case of [`BTree::insert`], for callers that keep the
    /// tree's shape fixed (see the engine's structure lock): an inline value
    /// whose leaf takes it without splitting or underflowing, and without an
    /// old overflow chain to free. Latches only the leaf, and changes it by
    /// one logged delta. `Ok(false)` means nothing was changed and the full
    /// [`BTree::insert`] is needed.
    pub fn insert_in_place(
        &self,
        mtr: &mut MiniTransaction<'_>,
        key: &[u8],
        value: &[u8],
    ) -> Result<bool> {
        check_key(key)?;
        if value.len() > MAX_INLINE_VALUE {
            return Ok(false);
        }
        let (_, leaf) = self.descend(mtr, Target::Key(key))?;
        let new_cell = node::leaf_cell(key, LeafValue::Inline(value));
        // Latch the leaf before looking: concurrent in-place writers may
        // have changed it since the descent read it.
        let fits = mtr.latch(leaf, |page| {
            let node = Node::open(leaf, page)?;
            if node.kind() != NodeKind::Leaf {
                return Err(Error::Corrupt(format!(
                    "page {leaf}: descent ended off a leaf"
                )));
            }
            let mut cells = node.cells();
            let before = node::used_space(&cells);
            match node.search(key) {
                Ok(index) => {
                    if chain_of(node.value(index)).is_some() {
                        return Ok(false);
                    }
                    cells[index] = Cow::Borrowed(&new_cell);
                }
                Err(index) => cells.insert(index, Cow::Borrowed(&new_cell)),
            }
            let after = node::used_space(&cells);
            // Only a change that shrinks a node may leave it needing a
            // rebalance (invariant 4).
            Ok(node::fits(&cells) && (leaf == self.root || after >= MIN_FILL || after >= before))
        })?;
        if !fits {
            return Ok(false);
        }
        mtr.apply(leaf, Delta::LeafPut(new_cell))?;
        Ok(true)
    }

    /// The common case of [`BTree::delete`], like
    /// [`BTree::insert_in_place`]: `Ok(Some(found))` if done in place (or
    /// nothing to delete), `Ok(None)` if the full delete is needed.
    pub fn delete_in_place(
        &self,
        mtr: &mut MiniTransaction<'_>,
        key: &[u8],
    ) -> Result<Option<bool>> {
        if key.len() > MAX_KEY_SIZE {
            return Ok(Some(false));
        }
        let (_, leaf) = self.descend(mtr, Target::Key(key))?;
        let verdict = mtr.latch(leaf, |page| {
            let node = Node::open(leaf, page)?;
            if node.kind() != NodeKind::Leaf {
                return Err(Error::Corrupt(format!(
                    "page {leaf}: descent ended off a leaf"
                )));
            }
            let Ok(index) = node.search(key) else {
                return Ok(Some(false));
            };
            if chain_of(node.value(index)).is_some() {
                return Ok(None);
            }
            let mut cells = node.cells();
            cells.remove(index);
            let stays_full = leaf == self.root || node::used_space(&cells) >= MIN_FILL;
            Ok(stays_full.then_some(true))
        })?;
        if verdict == Some(true) {
            mtr.apply(leaf, Delta::LeafDelete(key.to_vec()))?;
        }
        Ok(verdict)
    }

    /// Removes `key`; returns whether it was present.
    pub fn delete(
        &self,
        mtr: &mut MiniTransaction<'_>,
        meta: &mut Meta,
        key: &[u8],
    ) -> Result<bool> {
        if key.len() > MAX_KEY_SIZE {
            return Ok(false);
        }
        let (path, leaf) = self.descend(mtr, Target::Key(key))?;
        let scratch = mtr.copy_page(leaf)?;
        let node = Node::open(leaf, &scratch)?;
        let Ok(index) = node.search(key) else {
            return Ok(false);
        };
        let removed_value = node.value(index);
        let mut cells = node.cells();
        cells.remove(index);
        let siblings = (node.left(), node.right());
        self.settle(
            mtr,
            meta,
            &path,
            leaf,
            NodeKind::Leaf,
            siblings,
            cells,
            true,
            Some(Delta::LeafDelete(key.to_vec())),
        )?;
        free_value(mtr, meta, removed_value)?;
        Ok(true)
    }

    /// Writes a node's new cell list and restores the tree's shape: splits it
    /// if overfull, rebalances it if the change `shrank` it under
    /// [`MIN_FILL`], shrinks the root if it has a single child. `path` leads
    /// from the root to the node's parent.
    #[allow(clippy::too_many_arguments)]
    /// `delta`, if given, describes the whole change to the node as a small
    /// logged edit, used when the node is simply rewritten.
    fn settle(
        &self,
        mtr: &mut MiniTransaction<'_>,
        meta: &mut Meta,
        path: &[PathStep],
        page_number: PageNumber,
        kind: NodeKind,
        siblings: (PageNumber, PageNumber),
        cells: Cells<'_>,
        shrank: bool,
        delta: Option<Delta>,
    ) -> Result<()> {
        let Some((parent_step, ancestors)) = path.split_last() else {
            debug_assert_eq!(page_number, self.root);
            if !node::fits(&cells) {
                return self.split_root(mtr, meta, kind, cells);
            }
            write_or_apply(mtr, page_number, kind, siblings, &cells, delta)?;
            return self.collapse_root(mtr, meta);
        };
        if !node::fits(&cells) {
            // The node is the rightmost of its level when every step above
            // it took the last child.
            let at = if path.iter().all(|step| step.last) {
                SplitAt::Rightmost
            } else {
                SplitAt::Midpoint
            };
            let (left_cells, separator, right_cells) = split_cells(kind, cells, at);
            let new_page = meta.allocate(mtr)?;
            if kind == NodeKind::Leaf {
                let (left, right) = siblings;
                create_node(mtr, new_page, kind, (page_number, right), &right_cells)?;
                write_node(mtr, page_number, kind, (left, new_page), &left_cells)?;
                relink_left(mtr, right, new_page)?;
            } else {
                create_node(mtr, new_page, kind, (0, 0), &right_cells)?;
                write_node(mtr, page_number, kind, (0, 0), &left_cells)?;
            }
            let parent_scratch = mtr.copy_page(parent_step.page_number)?;
            let parent = Node::open(parent_step.page_number, &parent_scratch)?;
            let mut parent_cells = parent.cells();
            parent_cells.insert(
                parent_step.index + 1,
                Cow::Owned(interior_cell(&separator, new_page)),
            );
            return self.settle(
                mtr,
                meta,
                ancestors,
                parent_step.page_number,
                NodeKind::Interior,
                (0, 0),
                parent_cells,
                false,
                None,
            );
        }
        if !shrank || node::used_space(&cells) >= MIN_FILL {
            return write_or_apply(mtr, page_number, kind, siblings, &cells, delta);
        }
        self.rebalance(mtr, meta, path, page_number, kind, siblings, cells, delta)
    }

    /// Merges an underfull node with a sibling, or evens the two out, then
    /// settles the parent.
    #[allow(clippy::too_many_arguments)]
    fn rebalance(
        &self,
        mtr: &mut MiniTransaction<'_>,
        meta: &mut Meta,
        path: &[PathStep],
        page_number: PageNumber,
        kind: NodeKind,
        siblings: (PageNumber, PageNumber),
        cells: Cells<'_>,
        delta: Option<Delta>,
    ) -> Result<()> {
        let (parent_step, ancestors) = path
            .split_last()
            .expect("invariant: root handled by settle");
        let parent_scratch = mtr.copy_page(parent_step.page_number)?;
        let parent = Node::open(parent_step.page_number, &parent_scratch)?;
        if parent.len() < 2 {
            // No sibling under this parent to balance with.
            return write_or_apply(mtr, page_number, kind, siblings, &cells, delta);
        }
        // Pair the node with its left sibling, or its right one if it is first.
        let right_index = parent_step.index.max(1);
        let node_is_left = parent_step.index == 0;
        let sibling_page = parent.child(if node_is_left {
            1
        } else {
            parent_step.index - 1
        });
        let sibling_scratch = mtr.copy_page(sibling_page)?;
        let sibling = Node::open(sibling_page, &sibling_scratch)?;
        if sibling.kind() != kind {
            return Err(Error::Corrupt(format!(
                "page {sibling_page}: sibling of page {page_number} is at another level"
            )));
        }
        let (left_page, outer_left, left_cells, right_page, outer_right, right_cells) =
            if node_is_left {
                (
                    page_number,
                    siblings.0,
                    cells,
                    sibling_page,
                    sibling.right(),
                    sibling.cells(),
                )
            } else {
                (
                    sibling_page,
                    sibling.left(),
                    sibling.cells(),
                    page_number,
                    siblings.1,
                    cells,
                )
            };
        let mut combined = left_cells;
        for (index, cell) in right_cells.into_iter().enumerate() {
            if kind == NodeKind::Interior && index == 0 {
                // The right node's minus-infinity key is the parent separator.
                let separator = parent.key(right_index);
                combined.push(Cow::Owned(interior_cell(separator, cell_child(&cell))));
            } else {
                combined.push(cell);
            }
        }
        let (left_links, right_links) = match kind {
            NodeKind::Leaf => ((outer_left, right_page), (left_page, outer_right)),
            NodeKind::Interior => ((0, 0), (0, 0)),
        };
        let mut parent_cells = parent.cells();
        if node::fits(&combined) {
            let merged_links = (left_links.0, right_links.1);
            write_node(mtr, left_page, kind, merged_links, &combined)?;
            if kind == NodeKind::Leaf {
                relink_left(mtr, outer_right, left_page)?;
            }
            meta.free(mtr, right_page)?;
            parent_cells.remove(right_index);
        } else {
            let (new_left, separator, new_right) = split_cells(kind, combined, SplitAt::Midpoint);
            write_node(mtr, left_page, kind, left_links, &new_left)?;
            write_node(mtr, right_page, kind, right_links, &new_right)?;
            parent_cells[right_index] = Cow::Owned(interior_cell(&separator, right_page));
        }
        self.settle(
            mtr,
            meta,
            ancestors,
            parent_step.page_number,
            NodeKind::Interior,
            (0, 0),
            parent_cells,
            true,
            None,
        )
    }

    /// Splits an overfull root: both halves move to new pages and the root
    /// becomes their parent, keeping its page number (invariant 3).
    fn split_root(
        &self,
        mtr: &mut MiniTransaction<'_>,
        meta: &mut Meta,
        kind: NodeKind,
        cells: Cells<'_>,
    ) -> Result<()> {
        let (left_cells, separator, right_cells) = split_cells(kind, cells, SplitAt::Rightmost);
        let left_page = meta.allocate(mtr)?;
        let right_page = meta.allocate(mtr)?;
        let (left_links, right_links) = match kind {
            NodeKind::Leaf => ((0, right_page), (left_page, 0)),
            NodeKind::Interior => ((0, 0), (0, 0)),
        };
        create_node(mtr, left_page, kind, left_links, &left_cells)?;
        create_node(mtr, right_page, kind, right_links, &right_cells)?;
        let root_cells = [
            Cow::Owned(interior_cell(b"", left_page)),
            Cow::Owned(interior_cell(&separator, right_page)),
        ];
        write_node(mtr, self.root, NodeKind::Interior, (0, 0), &root_cells)
    }

    /// While the root is an interior node with one child, copies the child
    /// into the root page and frees the child (the tree loses a level).
    fn collapse_root(&self, mtr: &mut MiniTransaction<'_>, meta: &mut Meta) -> Result<()> {
        loop {
            let root = self.root;
            let child = mtr.with_page(root, |page| {
                let node = Node::open(root, page)?;
                Ok((node.kind() == NodeKind::Interior && node.len() == 1).then(|| node.child(0)))
            })?;
            let Some(child) = child else {
                return Ok(());
            };
            let child_bytes = mtr.copy_page(child)?;
            Node::open(child, &child_bytes)?;
            {
                let root = mtr.write(self.root)?;
                *root = *child_bytes;
                // The only node of its level has no siblings; be explicit.
                node::set_left(root, 0);
                node::set_right(root, 0);
            }
            meta.free(mtr, child)?;
        }
    }

    /// Up to `limit` entries of `range` in `direction` order, walking the leaf
    /// chain from the leaf where the range starts.
    pub fn scan(
        &self,
        buffer_pool: &BufferPool,
        range: &KeyRange,
        direction: Direction,
        limit: usize,
        entries: &mut EntryBatch,
    ) -> Result<()> {
        entries.clear();
        if limit == 0 || range.is_empty() {
            return Ok(());
        }
        let (bound, target_when_unbounded) = match direction {
            Direction::Forward => (&range.start, Target::First),
            Direction::Backward => (&range.end, Target::Last),
        };
        let target = match bound {
            Bound::Included(key) | Bound::Excluded(key) => Target::Key(key),
            Bound::Unbounded => target_when_unbounded,
        };
        let (mut page, estimate) = self.read_leaf(buffer_pool, target)?;
        let mut page_number = page.page_number();
        let mut first_leaf = true;
        loop {
            let node = Node::open(page_number, &page)?;
            if node.kind() != NodeKind::Leaf {
                return Err(Error::Corrupt(format!(
                    "page {page_number}: leaf link to a non-leaf"
                )));
            }
            // Only a root leaf may be empty (merges remove the others). An
            // empty leaf reached by a sibling link would go unnoticed by the
            // key-order check below, so a cycle of them would loop forever.
            if !first_leaf && node.is_empty() {
                return Err(Error::Corrupt(format!(
                    "page {page_number}: empty leaf in the leaf chain"
                )));
            }
            // Which cells of this leaf to visit, in visiting order.
            let (low, high) = match (first_leaf, direction, bound) {
                (true, Direction::Forward, Bound::Included(key)) => {
                    (cells_before(&node, key, false, estimate), node.len())
                }
                (true, Direction::Forward, Bound::Excluded(key)) => {
                    (cells_before(&node, key, true, estimate), node.len())
                }
                (true, Direction::Backward, Bound::Included(key)) => {
                    (0, cells_before(&node, key, true, estimate))
                }
                (true, Direction::Backward, Bound::Excluded(key)) => {
                    (0, cells_before(&node, key, false, estimate))
                }
                _ => (0, node.len()),
            };
            first_leaf = false;
            // Each key is checked to follow the one before it, so every key
            // after the scan's first is past the range's near end. If the
            // leaf's far cell (the last one to visit) is inside the range,
            // the keys before it are inside too, as long as they keep their
            // order up to it: then a key costs one comparison instead of
            // three. A scan stopped early by `limit` did not see that order
            // to the end, so its last key is checked then.
            let visited = high.saturating_sub(low);
            let index_at = |step: usize| match direction {
                Direction::Forward => low + step,
                Direction::Backward => high - 1 - step,
            };
            let far_cell_inside = visited > 0 && range.contains(node.key(index_at(visited - 1)));
            for step in 0..visited {
                let index = index_at(step);
                let key = node.key(index);
                let first = match entries.last_key() {
                    Some(previous) => {
                        let ordered = match direction {
                            Direction::Forward => previous < key,
                            Direction::Backward => previous > key,
                        };
                        if !ordered {
                            return Err(Error::Corrupt(format!(
                                "page {page_number}: leaf chain out of key order"
                            )));
                        }
                        false
                    }
                    None => true,
                };
                if (first || !far_cell_inside) && !range.contains(key) {
                    // Past the far end of the range: done.
                    return Ok(());
                }
                match node.value(index) {
                    LeafValue::Inline(bytes) => entries.push(key, bytes),
                    overflow => entries.push_with(key, |out| {
                        out.extend_from_slice(&materialize(buffer_pool, overflow)?);
                        Ok(())
                    })?,
                }
                if entries.len() == limit {
                    if far_cell_inside && !range.contains(key) {
                        // Outside the range, though the far cell is inside:
                        // the leaf's keys are out of order.
                        return Err(Error::Corrupt(format!(
                            "page {page_number}: leaf keys out of order"
                        )));
                    }
                    return Ok(());
                }
            }
            page_number = match direction {
                Direction::Forward => node.right(),
                Direction::Backward => node.left(),
            };
            if page_number == 0 {
                return Ok(());
            }
            // One leaf latched at a time, as writers latch: no latch order
            // between siblings to keep.
            drop(page);
            page = buffer_pool.fetch_read(page_number)?;
        }
    }

    /// [`crate::storage::Engine::split_keys`]: separators of the highest
    /// interior level with more than one child inside `range`, evenly
    /// picked; each child below a level holds about as many leaves as its
    /// siblings, so the parts are about as long. A range under one leaf
    /// gets none.
    pub fn split_keys(
        &self,
        buffer_pool: &BufferPool,
        range: &KeyRange,
        parts: usize,
    ) -> Result<Vec<Vec<u8>>> {
        if parts < 2 || range.is_empty() {
            return Ok(Vec::new());
        }
        let mut page_number = self.root;
        for _ in 0..=MAX_DEPTH {
            let page = buffer_pool.fetch_read(page_number)?;
            let node = Node::open(page_number, &page)?;
            if node.kind() == NodeKind::Leaf {
                return Ok(Vec::new());
            }
            // Key 0 of an interior node stands for minus infinity.
            let inside: Vec<&[u8]> = (1..node.len())
                .map(|index| node.key(index))
                .filter(|key| range.contains(key))
                .collect();
            if inside.is_empty() {
                // The whole range lies under one child.
                let index = match &range.start {
                    Bound::Included(key) | Bound::Excluded(key) => node.child_index(key),
                    Bound::Unbounded => 0,
                };
                page_number = node.child(index);
                continue;
            }
            return Ok(even_picks(&inside, parts - 1)
                .into_iter()
                .map(<[u8]>::to_vec)
                .collect());
        }
        Err(Error::Corrupt(format!(
            "tree at page {}: deeper than {MAX_DEPTH} levels",
            self.root
        )))
    }

    /// Frees every page of the tree, the root included.
    /// Frees every page of the tree, the root included, committing the
    /// mini-transaction in batches: call it once nothing points at the tree
    /// (a crash part-way leaks the rest of its pages, never reuses them).
    pub fn destroy(self, mtr: &mut MiniTransaction<'_>, meta: &mut Meta) -> Result<()> {
        free_subtree(mtr, meta, self.root, 0)
    }

    /// How many pages the tree occupies (nodes and overflow pages).
    pub fn page_count(&self, buffer_pool: &BufferPool) -> Result<u64> {
        count_subtree(buffer_pool, self.root, 0)
    }
}

/// How many cells of a leaf sort before `key`; with `key_included`, the
/// key's own cell (if present) counts too.
fn cells_before(
    node: &Node<'_>,
    key: &[u8],
    key_included: bool,
    estimate: Option<Estimate>,
) -> usize {
    match node.search_near(key, estimate) {
        Ok(index) if key_included => index + 1,
        Ok(index) | Err(index) => index,
    }
}

fn free_subtree(
    mtr: &mut MiniTransaction<'_>,
    meta: &mut Meta,
    page_number: PageNumber,
    depth: usize,
) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::Corrupt(format!(
            "page {page_number}: tree deeper than {MAX_DEPTH}"
        )));
    }
    let scratch = mtr.copy_page(page_number)?;
    let node = Node::open(page_number, &scratch)?;
    for index in 0..node.len() {
        match node.kind() {
            NodeKind::Interior => free_subtree(mtr, meta, node.child(index), depth + 1)?,
            NodeKind::Leaf => free_value(mtr, meta, node.value(index))?,
        }
    }
    meta.free(mtr, page_number)?;
    if mtr.held_pages() >= overflow::CHAIN_BATCH {
        mtr.commit(meta)?;
    }
    Ok(())
}

fn count_subtree(buffer_pool: &BufferPool, page_number: PageNumber, depth: usize) -> Result<u64> {
    if depth > MAX_DEPTH {
        return Err(Error::Corrupt(format!(
            "page {page_number}: tree deeper than {MAX_DEPTH}"
        )));
    }
    let scratch = copy_page(buffer_pool, page_number)?;
    let node = Node::open(page_number, &scratch)?;
    let mut count = 1;
    for index in 0..node.len() {
        count += match node.kind() {
            NodeKind::Interior => count_subtree(buffer_pool, node.child(index), depth + 1)?,
            NodeKind::Leaf => match node.value(index) {
                LeafValue::Inline(_) => 0,
                LeafValue::Overflow { length, .. } => {
                    (length as usize).div_ceil(overflow::OVERFLOW_CAPACITY) as u64
                }
            },
        };
    }
    Ok(count)
}

/// What [`BTree::check`] found: the shape of a structurally sound tree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TreeShape {
    /// Levels, the leaves included.
    pub depth: usize,
    pub leaves: usize,
    pub interior_nodes: usize,
    pub entries: usize,
}

impl BTree {
    /// Verifies the tree's invariants 1 and 2 by a full walk (for tests and
    /// diagnostics: it reads every page). Violations are `Error::Corrupt`.
    pub fn check(&self, buffer_pool: &BufferPool) -> Result<TreeShape> {
        let mut shape = TreeShape::default();
        let mut leaves = Vec::new();
        let range = (None, None);
        shape.depth = check_subtree(
            buffer_pool,
            self.root,
            range,
            true,
            0,
            &mut shape,
            &mut leaves,
        )?;
        for (position, (page_number, left, right)) in leaves.iter().enumerate() {
            let expected_left = if position == 0 {
                0
            } else {
                leaves[position - 1].0
            };
            let expected_right = leaves.get(position + 1).map_or(0, |leaf| leaf.0);
            if (*left, *right) != (expected_left, expected_right) {
                return Err(Error::Corrupt(format!(
                    "page {page_number}: sibling links ({left}, {right}) should be \
                     ({expected_left}, {expected_right})"
                )));
            }
        }
        Ok(shape)
    }
}

/// Checks one subtree whose keys must lie in `[low, high)`; returns its depth.
fn check_subtree(
    buffer_pool: &BufferPool,
    page_number: PageNumber,
    (low, high): (Option<&[u8]>, Option<&[u8]>),
    is_root: bool,
    depth: usize,
    shape: &mut TreeShape,
    leaves: &mut Vec<(PageNumber, PageNumber, PageNumber)>,
) -> Result<usize> {
    let corrupt = |what: String| Err(Error::Corrupt(format!("page {page_number}: {what}")));
    if depth > MAX_DEPTH {
        return corrupt("tree too deep".into());
    }
    let scratch = copy_page(buffer_pool, page_number)?;
    let node = Node::open(page_number, &scratch)?;
    if !is_root && node.is_empty() {
        return corrupt("empty non-root node".into());
    }
    let first_key = if node.kind() == NodeKind::Interior {
        1
    } else {
        0
    };
    for index in first_key..node.len() {
        let key = node.key(index);
        if index > first_key && node.key(index - 1) >= key {
            return corrupt(format!("keys out of order at cell {index}"));
        }
        if low.is_some_and(|low| key < low) || high.is_some_and(|high| key >= high) {
            return corrupt(format!("key at cell {index} outside its parent's range"));
        }
    }
    match node.kind() {
        NodeKind::Leaf => {
            shape.leaves += 1;
            shape.entries += node.len();
            for index in 0..node.len() {
                materialize(buffer_pool, node.value(index))?;
            }
            leaves.push((page_number, node.left(), node.right()));
            Ok(1)
        }
        NodeKind::Interior => {
            shape.interior_nodes += 1;
            if !node.key(0).is_empty() {
                return corrupt("interior cell 0 has a key".into());
            }
            if !is_root && node.len() < 2 {
                return corrupt("non-root interior node with a single child".into());
            }
            if is_root && node.len() < 2 {
                return corrupt("root interior node with a single child".into());
            }
            let mut child_depth = None;
            for index in 0..node.len() {
                let child_low = if index == 0 {
                    low
                } else {
                    Some(node.key(index))
                };
                let child_high = if index + 1 < node.len() {
                    Some(node.key(index + 1))
                } else {
                    high
                };
                let depth = check_subtree(
                    buffer_pool,
                    node.child(index),
                    (child_low, child_high),
                    false,
                    depth + 1,
                    shape,
                    leaves,
                )?;
                if child_depth.is_some_and(|expected| expected != depth) {
                    return corrupt("leaves at different depths".into());
                }
                child_depth = Some(depth);
            }
            Ok(child_depth.expect("invariant: interior nodes have children") + 1)
        }
    }
}
