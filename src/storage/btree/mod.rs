//! The page-based B+tree: variable-length byte keys and values, leaves linked
//! both ways for ordered cursors, long values in overflow chains.
//!
//! - [`node`]: the slotted node page layout (reading in place, rebuilding).
//! - [`overflow`]: chains of overflow pages for values over `MAX_INLINE_VALUE`.
//! - [`tree`]: the algorithms (descent, split, merge/redistribute, cursors).
//!
//! `docs/storage.md` gives every format byte by byte.

pub mod node;
pub mod overflow;
pub mod tree;

pub use node::{MAX_INLINE_VALUE, MAX_KEY_SIZE};
pub use tree::BTree;
