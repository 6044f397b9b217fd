//! Storage: the bottom layer. Pages of 8 KiB in one data file, a buffer pool
//! that caches them, and a B+tree per table over the pool, all behind the
//! small [`Engine`] trait that the transaction layer builds on.
//!
//! ```text
//!   txn (MVCC) ──► Engine trait ──► BTreeEngine ──► BufferPool ──► data file
//!                        └────────► MemoryEngine (model for tests)
//! ```
//!
//! Modules, bottom up: [`page`] (the 8 KiB page and its checksummed header),
//! [`file`] (positioned page I/O on `basalt.db`), [`meta`] (page 0 and the
//! free list), [`buffer_pool`] (frames, pins, latches, clock eviction),
//! [`btree`] (nodes, overflow chains, algorithms), [`btree_engine`] (the
//! directory of roots and the `Engine` implementation). Beside them: [`vfs`]
//! (the file seam: real and crash-simulating file systems) and [`wal`] (the
//! write-ahead log, not yet wired into commits).
//!
//! `docs/storage.md` specifies the page formats byte by byte.

pub mod btree;
pub mod btree_engine;
pub mod buffer_pool;
pub mod control;
pub mod engine;
pub mod file;
pub mod memory;
pub mod meta;
pub mod mini_transaction;
pub mod page;
pub mod recovery;
pub mod redo;
pub mod vfs;
pub mod wal;

pub use btree_engine::BTreeEngine;
pub use engine::{
    CheckpointHook, Cursor, Direction, Engine, Entry, EntryBatch, KeyRange, Scan, StoreEntry,
    TreeId, prefix_successor, scan,
};
pub use memory::MemoryEngine;
