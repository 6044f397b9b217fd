//! The write-ahead log: an append-only sequence of records with opaque
//! payloads, stored in fixed-size segment files `<data_dir>/wal/<16 hex
//! digits of the first LSN>.wal`. An LSN (log sequence number) is a byte
//! position in the log stream; it only grows, across segments.
//!
//! ```text
//!   append(type, payload) ──► buffer ──flush(lsn)──► segment files ──read_from(lsn)──► records
//!        returns end LSN        group commit: one leader writes + fdatasyncs
//!                               for every waiting flusher
//! ```
//!
//! Not wired into commits yet: the logging scheme (what the payloads mean,
//! checkpoints, redo) comes later. What this module guarantees:
//!
//! 1. `flush(lsn)` returns only when every record below `lsn` is durable.
//! 2. After a crash, `Wal::open` finds exactly a prefix of the appended
//!    records: every flushed one, perhaps some unflushed ones, never a hole.
//!    A torn tail is cut off; damage before the end is `Error::Corrupt`
//!    naming the LSN, never skipped.
//! 3. A failed write or sync poisons the log (fatal, see `writer`).
//!
//! Modules: [`record`] (the byte format and segment parser), [`writer`]
//! ([`Wal`]: open, append, group-commit flush, segment removal), [`reader`]
//! ([`WalReader`]). `docs/storage.md` ("Write-ahead log") specifies the bytes.

pub mod reader;
pub mod record;
pub mod writer;

#[cfg(test)]
mod tests;

pub use reader::WalReader;
pub use record::{Lsn, WalRecord};
pub use writer::{Wal, WalOptions};
