//! A sequence's position and the functions that move it: `nextval`,
//! `currval`, `lastval`, `setval`.
//!
//! The position is deliberately outside transactions, as in PostgreSQL: a
//! value `nextval` hands out is never handed out again, whether the
//! transaction that took it commits or not, so concurrent inserts never
//! wait for one another on a sequence. It lives in the sequence's own tree
//! as one unversioned record, `last value (i64 BE) ‖ is_called (u8)`,
//! meaning "restart after `last`" (or "at `last`" when not called).
//!
//! Writing that record for every value would cost a log flush each, so
//! `nextval` logs ahead, as PostgreSQL does (`SEQ_LOG_VALS`): when the next
//! value is not covered, it writes the position [`LOG_AHEAD`] values
//! further on, waits until that is durable, and hands out the covered
//! values from memory:
//!
//! ```text
//!   values handed out:  1 2 3 … 32 | 33 …
//!   record on disk:     (32, called) written before 1 is returned,
//!                       (64, called) written before 33 is returned
//!   after a crash:      the record says 32 (or 64): the next value is 33
//!                       (or 65), never one already returned.
//! ```
//!
//! Invariants:
//! 1. A value is returned only once a durable record lies at or beyond it
//!    in the sequence's direction (`covered`), so a crash never repeats a
//!    value; it may skip up to [`LOG_AHEAD`] of them, as PostgreSQL does.
//! 2. One mutex per sequence orders every move of its position, so two
//!    sessions never get the same value.
//!
//! A restart (`ALTER SEQUENCE … RESTART`, `TRUNCATE … RESTART IDENTITY`)
//! is transactional, as in PostgreSQL: it gives the sequence a new tree
//! (`session/sequence_ddl.rs`). `setval` is not, in PostgreSQL either.
//!
//! Deviation from PostgreSQL: `CACHE` preallocates nothing per session
//! (every session draws from the one position, so values are handed out
//! in order).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use super::definition::Sequence;
use crate::error::{Error, Result, SqlState};
use crate::storage::TreeId;
use crate::txn::Mvcc;

/// How many values one durable record covers ahead (PostgreSQL's
/// `SEQ_LOG_VALS`).
pub const LOG_AHEAD: i64 = 32;

/// The key of the position record in a sequence's tree.
const POSITION_KEY: &[u8] = b"position";

/// A sequence's position in memory.
#[derive(Debug)]
struct Position {
    last: i64,
    is_called: bool,
    /// The value the durable record covers up to (invariant 1); `None`
    /// when it covers nothing (a record that is not called).
    logged: Option<i64>,
}

/// The positions of every sequence of a database, shared by its sessions.
pub struct Sequences {
    mvcc: Arc<Mvcc>,
    positions: Mutex<HashMap<TreeId, Arc<Mutex<Position>>>>,
}

impl std::fmt::Debug for Sequences {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sequences").finish_non_exhaustive()
    }
}

fn encode_position(last: i64, is_called: bool) -> [u8; 9] {
    let mut bytes = [0u8; 9];
    bytes[..8].copy_from_slice(&last.to_be_bytes());
    bytes[8] = is_called as u8;
    bytes
}

fn decode_position(bytes: &[u8]) -> Result<(i64, bool)> {
    let array: [u8; 9] = bytes
        .try_into()
        .map_err(|_| Error::Corrupt("a sequence position is not 9 bytes".into()))?;
    let last = i64::from_be_bytes(array[..8].try_into().expect("invariant: 8 bytes"));
    match array[8] {
        0 => Ok((last, false)),
        1 => Ok((last, true)),
        other => Err(Error::Corrupt(format!(
            "a sequence position flag of {other}"
        ))),
    }
}

/// The value after `last` in `sequence`'s direction, wrapping if it
/// cycles; `Ok(None)` past the end of a sequence that does not cycle.
fn step(sequence: &Sequence, last: i64) -> (Option<i64>, bool) {
    match last.checked_add(sequence.increment) {
        Some(next) if next >= sequence.min && next <= sequence.max => (Some(next), false),
        _ if sequence.cycle => (
            Some(if sequence.increment > 0 {
                sequence.min
            } else {
                sequence.max
            }),
            true,
        ),
        _ => (None, false),
    }
}

/// Whether a durable record at `logged` covers `value` (invariant 1).
fn covered(sequence: &Sequence, logged: Option<i64>, value: i64) -> bool {
    logged.is_some_and(|logged| {
        if sequence.increment > 0 {
            value <= logged
        } else {
            value >= logged
        }
    })
}

impl Sequences {
    pub fn new(mvcc: Arc<Mvcc>) -> Sequences {
        Sequences {
            mvcc,
            positions: Mutex::new(HashMap::new()),
        }
    }

    /// Writes the first position of a sequence's new tree: `at`, not
    /// called (its start when it is created, the value a restart names).
    pub fn create(&self, sequence: &Sequence, at: i64) -> Result<()> {
        self.write(sequence.tree, at, false)?;
        let position = Position {
            last: at,
            is_called: false,
            logged: None,
        };
        self.positions
            .lock()
            .insert(sequence.tree, Arc::new(Mutex::new(position)));
        Ok(())
    }

    fn write(&self, tree: TreeId, last: i64, is_called: bool) -> Result<()> {
        self.mvcc
            .write_unversioned_durably(tree, POSITION_KEY, &encode_position(last, is_called))
    }

    /// The sequence's position in memory, read from its record on first use.
    fn position(&self, sequence: &Sequence) -> Result<Arc<Mutex<Position>>> {
        if let Some(position) = self.positions.lock().get(&sequence.tree) {
            return Ok(Arc::clone(position));
        }
        let bytes = self
            .mvcc
            .read_unversioned(sequence.tree, POSITION_KEY)?
            .ok_or_else(|| {
                Error::Corrupt(format!(
                    "sequence \"{}\" has no position record",
                    sequence.name
                ))
            })?;
        let (last, is_called) = decode_position(&bytes)?;
        let position = Position {
            last,
            is_called,
            logged: is_called.then_some(last),
        };
        Ok(Arc::clone(
            self.positions
                .lock()
                .entry(sequence.tree)
                .or_insert_with(|| Arc::new(Mutex::new(position))),
        ))
    }

    /// `nextval`: the next value (invariants 1 and 2).
    pub fn next_value(&self, sequence: &Sequence) -> Result<i64> {
        let position = self.position(sequence)?;
        let mut position = position.lock();
        let (next, wrapped) = if position.is_called {
            step(sequence, position.last)
        } else {
            (Some(position.last), false)
        };
        let Some(next) = next else {
            let (end, bound) = if sequence.increment > 0 {
                ("maximum", sequence.max)
            } else {
                ("minimum", sequence.min)
            };
            return Err(Error::sql(
                SqlState::SEQUENCE_GENERATOR_LIMIT_EXCEEDED,
                format!(
                    "nextval: reached {end} value of sequence \"{}\" ({bound})",
                    sequence.name
                ),
            ));
        };
        if wrapped || !covered(sequence, position.logged, next) {
            // Log ahead, stopping at the bound: a wrap logs again.
            let ahead = sequence.increment.saturating_mul(LOG_AHEAD - 1);
            let logged = next.saturating_add(ahead).clamp(sequence.min, sequence.max);
            self.write(sequence.tree, logged, true)?;
            position.logged = Some(logged);
        }
        position.last = next;
        position.is_called = true;
        Ok(next)
    }

    /// `setval`: the position becomes `value`, durably at once. Bounds are
    /// the caller's to check.
    pub fn set_value(&self, sequence: &Sequence, value: i64, is_called: bool) -> Result<()> {
        let position = self.position(sequence)?;
        let mut position = position.lock();
        self.write(sequence.tree, value, is_called)?;
        position.last = value;
        position.is_called = is_called;
        position.logged = is_called.then_some(value);
        Ok(())
    }

    /// The position's last value (for the bound checks of ALTER SEQUENCE).
    pub fn last_value(&self, sequence: &Sequence) -> Result<i64> {
        Ok(self.position(sequence)?.lock().last)
    }
}

/// What one session remembers of the sequences it used: `currval` per
/// sequence and the sequence of the last `nextval`, keyed by the
/// sequence's id, which a sequence made again under the same name does
/// not share.
#[derive(Debug, Default)]
pub struct SessionSequences {
    current: HashMap<u64, i64>,
    last: Option<(u64, String, i64)>,
}

impl SessionSequences {
    pub fn current(&self, id: u64) -> Option<i64> {
        self.current.get(&id).copied()
    }

    /// The last `nextval`'s sequence name, id and value.
    pub fn last(&self) -> Option<(&str, u64, i64)> {
        self.last
            .as_ref()
            .map(|(id, name, value)| (name.as_str(), *id, *value))
    }

    pub fn record_next(&mut self, sequence: &Sequence, value: i64) {
        self.current.insert(sequence.id, value);
        self.last = Some((sequence.id, sequence.name.clone(), value));
    }

    pub fn record_set(&mut self, sequence: &Sequence, value: i64) {
        self.current.insert(sequence.id, value);
    }
}

/// What evaluating a sequence function needs: the database's positions
/// and the session's memory of them.
#[derive(Clone, Debug)]
pub struct SequenceAccess {
    pub shared: Arc<Sequences>,
    pub session: Arc<Mutex<SessionSequences>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::types::DataType;

    fn sequence(increment: i64, min: i64, max: i64, cycle: bool) -> Sequence {
        Sequence {
            name: "s".into(),
            id: 1,
            tree: 1,
            data_type: DataType::BigInt,
            increment,
            min,
            max,
            start: if increment > 0 { min } else { max },
            cache: 1,
            cycle,
            owner: None,
        }
    }

    #[test]
    fn steps_stop_or_wrap_at_the_bounds() {
        let up = sequence(2, 1, 6, false);
        assert_eq!(step(&up, 3), (Some(5), false));
        assert_eq!(step(&up, 5), (None, false));
        let cycling = sequence(2, 1, 6, true);
        assert_eq!(step(&cycling, 5), (Some(1), true));
        let down = sequence(-1, -3, -1, true);
        assert_eq!(step(&down, -3), (Some(-1), true));
        let huge = sequence(i64::MAX, 1, i64::MAX, false);
        assert_eq!(step(&huge, i64::MAX), (None, false));
    }

    #[test]
    fn coverage_follows_the_direction() {
        let up = sequence(1, 1, 100, false);
        assert!(covered(&up, Some(32), 32));
        assert!(!covered(&up, Some(32), 33));
        assert!(!covered(&up, None, 1));
        let down = sequence(-1, -100, -1, false);
        assert!(covered(&down, Some(-32), -32));
        assert!(!covered(&down, Some(-32), -33));
    }

    #[test]
    fn positions_round_trip_and_reject_corruption() {
        let bytes = encode_position(-42, true);
        assert_eq!(decode_position(&bytes).expect("decodes"), (-42, true));
        assert!(decode_position(&bytes[..8]).is_err());
        let mut bad = bytes;
        bad[8] = 7;
        assert!(decode_position(&bad).is_err());
    }
}
