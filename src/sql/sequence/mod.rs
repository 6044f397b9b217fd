//! Sequences: named, non-transactional generators of unique integers, for
//! `CREATE SEQUENCE`, `nextval` and friends, SERIAL columns and identity
//! columns.
//!
//! A sequence is two things kept apart, as in PostgreSQL:
//!
//! ```text
//!   catalog entry (MVCC, transactional)     position (unversioned, durable)
//!   ───────────────────────────────────     ───────────────────────────────
//!   name, type, increment, bounds,          last value, is_called, in the
//!   start, cache, cycle, owner column       sequence's own tree
//!   (definition.rs)                         (generator.rs)
//! ```
//!
//! CREATE, ALTER and DROP SEQUENCE change the definition inside their
//! transaction; `nextval` moves the position outside any transaction, so
//! a rollback leaves a gap rather than a value handed out twice. The
//! position's tree is made with the CREATE (dropped if it rolls back) and
//! dropped when the DROP commits. `functions.rs` evaluates the SQL
//! functions and resolves a sequence named by text.

mod definition;
mod functions;
mod generator;

pub use definition::{Restart, Sequence, SequenceOwner, option_integer, sequence_type};
pub use functions::{call, not_a_sequence, relation_name, sequence_named, split_name};
pub use generator::{LOG_AHEAD, SequenceAccess, Sequences, SessionSequences};
