//! Window frames, computed one row at a time over a partition that may be
//! on disk (`window.rs` walks the partition; this module says where each
//! row's frame starts and ends, and which rows in it are excluded).
//!
//! ```text
//!   position      0  1  2  3  4  5  6      ORDER BY values  a a b c c c d
//!   peer group    0  0  1  2  2  2  3      (runs of equal values)
//!   current row p = 3:
//!     ROWS 1 PRECEDING AND 1 FOLLOWING      [2, 5)   by position
//!     RANGE CURRENT ROW AND UNBOUNDED FOLLOWING [3, 7)  by peer group start
//!     GROUPS 1 PRECEDING AND CURRENT ROW    [2, 6)   by peer group number
//!     EXCLUDE TIES                          [2, 3) ∪ [3, 4)  (4, 5 are ties)
//! ```
//!
//! Invariants:
//!
//! 1. Every bound is a non-decreasing function of the current position:
//!    offsets are constant within a partition and ORDER BY values are
//!    sorted. So a bound that needs to read rows (RANGE or GROUPS with an
//!    offset) keeps one forward-only cursor and moves it on; the whole
//!    partition is read once per such bound, never searched.
//! 2. A frame is `[start, end)` with `end ≥ start`, minus at most the
//!    current row's peer group (or the current row, or its ties); what
//!    remains is at most three ordered, disjoint ranges.
//! 3. An offset beyond the range of its type reaches the partition's end
//!    in its direction: FOLLOWING past the last row, PRECEDING before the
//!    first (PostgreSQL's `in_range` treats overflow the same way).

use std::cmp::Ordering;
use std::ops::Range;

use super::context::Context;
use super::spill::{RowBuffer, RowCursor};
use crate::error::{Error, Result, SqlState};
use crate::sql::expr::{BinaryOp, Expr, binary};
use crate::sql::plan::{FrameBound, FrameExclusion, FrameMode, SortKey, WindowFrame};
use crate::sql::types::Value;

/// The current row's peer group: its first position, one past its last,
/// and its number (0-based).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Peers {
    pub start: u64,
    pub end: u64,
    pub group: u64,
}

/// A partition's rows as `window.rs` stores them: each record is the
/// row's ORDER BY values, then the row.
pub(super) struct PartitionRows<'a> {
    pub rows: &'a RowBuffer,
    /// The number of ORDER BY values at the start of each record.
    pub order_width: usize,
}

impl PartitionRows<'_> {
    pub fn len(&self) -> u64 {
        self.rows.len()
    }

    /// The ORDER BY values of the row at `position`.
    pub fn keys<'c>(&'c self, cursor: &'c mut RowCursor, position: u64) -> Result<&'c [Value]> {
        Ok(&self.rows.get(cursor, position)?[..self.order_width])
    }

    /// The row at `position`.
    pub fn row<'c>(&'c self, cursor: &'c mut RowCursor, position: u64) -> Result<&'c [Value]> {
        Ok(&self.rows.get(cursor, position)?[self.order_width..])
    }
}

/// Where one call's frames are, row after row of a partition.
pub(super) struct FrameTracker {
    exclusion: FrameExclusion,
    start: BoundTracker,
    end: BoundTracker,
}

impl FrameTracker {
    /// The tracker for one partition; evaluates the offsets (once per
    /// partition, as they are constant).
    pub fn new(
        frame: &WindowFrame,
        order_by: &[SortKey],
        context: &mut Context<'_>,
    ) -> Result<FrameTracker> {
        Ok(FrameTracker {
            exclusion: frame.exclusion,
            start: BoundTracker::new(frame.mode, &frame.start, order_by, true, context)?,
            end: BoundTracker::new(frame.mode, &frame.end, order_by, false, context)?,
        })
    }

    /// The frame of the row at `position`, whose ORDER BY values are
    /// `current` (invariant 2): its rows as ordered, disjoint ranges.
    pub fn frame(
        &mut self,
        rows: &PartitionRows<'_>,
        position: u64,
        current: &[Value],
        peers: Peers,
    ) -> Result<Vec<Range<u64>>> {
        let start = self.start.position(rows, position, current, peers)?;
        let end = self.end.position(rows, position, current, peers)?;
        Ok(exclude(
            start..end.max(start),
            self.exclusion,
            position,
            peers,
        ))
    }
}

/// Whether every frame starts at the partition's start and includes all
/// of its rows: then the frames only grow (invariant 1), and an aggregate
/// can keep one running accumulator.
pub(super) fn only_grows(frame: &WindowFrame) -> bool {
    frame.start == FrameBound::UnboundedPreceding && frame.exclusion == FrameExclusion::NoOthers
}

/// The rows of `start..end` left after the exclusion.
fn exclude(
    frame: Range<u64>,
    exclusion: FrameExclusion,
    position: u64,
    peers: Peers,
) -> Vec<Range<u64>> {
    let (start, end) = (frame.start, frame.end);
    let clip = |range: Range<u64>| range.start.max(start)..range.end.min(end);
    let none = end..end;
    let ranges = match exclusion {
        FrameExclusion::NoOthers => [start..end, none.clone(), none],
        FrameExclusion::CurrentRow => [clip(start..position), clip(position + 1..end), none],
        FrameExclusion::Group => [clip(start..peers.start), clip(peers.end..end), none],
        FrameExclusion::Ties => [
            clip(start..peers.start),
            clip(position..position + 1),
            clip(peers.end..end),
        ],
    };
    ranges
        .into_iter()
        .filter(|range| !range.is_empty())
        .collect()
}

/// The `nth` (0-based) position of a frame, if it has that many rows.
pub(super) fn nth_position(frame: &[Range<u64>], nth: u64) -> Option<u64> {
    let mut left = nth;
    for range in frame {
        let length = range.end - range.start;
        if left < length {
            return Some(range.start + left);
        }
        left -= length;
    }
    None
}

/// One end of a frame, row after row: for a start, the frame's first
/// position; for an end, one past its last.
struct BoundTracker {
    is_start: bool,
    bound: Bound,
}

enum Bound {
    /// `UNBOUNDED PRECEDING` (0) or `UNBOUNDED FOLLOWING` (the end).
    Unbounded { following: bool },
    /// `CURRENT ROW`: the row itself (ROWS) or its peer group.
    Current { rows: bool },
    /// ROWS with an offset.
    Rows { offset: u64, following: bool },
    /// GROUPS with an offset: a walk over peer groups (invariant 1).
    Groups {
        offset: u64,
        following: bool,
        walker: GroupWalker,
    },
    /// RANGE with an offset: a cursor to the first row not before the
    /// current row's value ± the offset (invariant 1).
    Range {
        offset: Value,
        following: bool,
        descending: bool,
        nulls_first: bool,
        position: u64,
        cursor: RowCursor,
    },
}

impl BoundTracker {
    fn new(
        mode: FrameMode,
        bound: &FrameBound,
        order_by: &[SortKey],
        is_start: bool,
        context: &mut Context<'_>,
    ) -> Result<BoundTracker> {
        let which = if is_start { "starting" } else { "ending" };
        let (expr, following) = match bound {
            FrameBound::UnboundedPreceding => (None, false),
            FrameBound::UnboundedFollowing => (None, true),
            FrameBound::CurrentRow => {
                let bound = Bound::Current {
                    rows: mode == FrameMode::Rows,
                };
                return Ok(BoundTracker { is_start, bound });
            }
            FrameBound::Preceding(expr) => (Some(expr), false),
            FrameBound::Following(expr) => (Some(expr), true),
        };
        let Some(expr) = expr else {
            let bound = Bound::Unbounded { following };
            return Ok(BoundTracker { is_start, bound });
        };
        let offset = offset(expr, which, context)?;
        let count = || u64::try_from(offset.as_i64().unwrap_or(0)).unwrap_or(u64::MAX);
        let bound = match mode {
            FrameMode::Rows => Bound::Rows {
                offset: count(),
                following,
            },
            FrameMode::Groups => Bound::Groups {
                offset: count(),
                following,
                walker: GroupWalker::default(),
            },
            FrameMode::Range => {
                let key = order_by.first();
                Bound::Range {
                    offset,
                    following,
                    descending: key.is_some_and(|key| key.descending),
                    nulls_first: key.is_some_and(|key| key.nulls_first),
                    position: 0,
                    cursor: RowCursor::default(),
                }
            }
        };
        Ok(BoundTracker { is_start, bound })
    }

    /// The bound for the row at `position`, whose ORDER BY values are
    /// `current`.
    fn position(
        &mut self,
        rows: &PartitionRows<'_>,
        position: u64,
        current: &[Value],
        peers: Peers,
    ) -> Result<u64> {
        let n = rows.len();
        let is_start = self.is_start;
        // A start is where its target row or group begins, an end where
        // the one after it begins.
        let after = |target: u64| {
            if is_start {
                target
            } else {
                target.saturating_add(1)
            }
        };
        Ok(match &mut self.bound {
            Bound::Unbounded { following: true } => n,
            Bound::Unbounded { following: false } => 0,
            Bound::Current { rows: true } => after(position),
            Bound::Current { rows: false } if is_start => peers.start,
            Bound::Current { rows: false } => peers.end,
            Bound::Rows {
                offset,
                following: false,
            } => position.checked_sub(*offset).map_or(0, after),
            Bound::Rows {
                offset,
                following: true,
            } => after(position.saturating_add(*offset)).min(n),
            Bound::Groups {
                offset,
                following,
                walker,
            } => {
                let target = match following {
                    true => Some(peers.group.saturating_add(*offset)),
                    false => peers.group.checked_sub(*offset),
                };
                match target {
                    Some(group) => walker.first_of(rows, after(group))?,
                    // Before the partition's first group: an empty frame
                    // there, or one from the start.
                    None => 0,
                }
            }
            Bound::Range {
                offset,
                following,
                descending,
                nulls_first,
                position: reached,
                cursor,
            } => {
                let value = current.first().ok_or_else(|| {
                    Error::Internal("RANGE with an offset but no ORDER BY".into())
                })?;
                // A NULL's frame is its peers, the other NULLs.
                if value.is_null() {
                    return Ok(if is_start { peers.start } else { peers.end });
                }
                let data_type = value
                    .data_type()
                    .ok_or_else(|| Error::Internal("a RANGE value without a type".into()))?;
                // The limit's value: later in the order is + for ascending.
                let op = if *following != *descending {
                    BinaryOp::Add
                } else {
                    BinaryOp::Subtract
                };
                let Ok(limit) = binary(op, value, offset, data_type) else {
                    // Invariant 3.
                    return Ok(if *following { n } else { 0 });
                };
                // Whether a row comes before the bound in the window's order.
                let before = |value: &Value| -> bool {
                    if value.is_null() {
                        // NULLs sort at their end of the order, beyond every number.
                        return *nulls_first;
                    }
                    let ordering = value.total_cmp(&limit);
                    let ordering = if *descending {
                        ordering.reverse()
                    } else {
                        ordering
                    };
                    if is_start {
                        ordering == Ordering::Less
                    } else {
                        ordering != Ordering::Greater
                    }
                };
                while *reached < n {
                    let keys = rows.keys(cursor, *reached)?;
                    if !keys.first().is_some_and(before) {
                        break;
                    }
                    *reached += 1;
                }
                *reached
            }
        })
    }
}

/// Walks forward over a partition's peer groups (invariant 1).
#[derive(Default)]
struct GroupWalker {
    /// The position reached, and its group number and ORDER BY values.
    position: u64,
    group: u64,
    keys: Option<Vec<Value>>,
    cursor: RowCursor,
}

impl GroupWalker {
    /// The first position of group `target` or a later one (the
    /// partition's length when there is none).
    fn first_of(&mut self, rows: &PartitionRows<'_>, target: u64) -> Result<u64> {
        let n = rows.len();
        if self.keys.is_none() && n > 0 {
            self.keys = Some(rows.keys(&mut self.cursor, 0)?.to_vec());
        }
        while self.position < n && self.group < target {
            self.position += 1;
            if self.position < n {
                let keys = rows.keys(&mut self.cursor, self.position)?;
                if self.keys.as_deref() != Some(keys) {
                    self.group += 1;
                    self.keys = Some(keys.to_vec());
                }
            }
        }
        Ok(self.position)
    }
}

/// A frame offset: evaluated once, never NULL or negative.
fn offset(expr: &Expr, which: &str, context: &mut Context<'_>) -> Result<Value> {
    let value = expr.evaluate(&[], context)?;
    if value.is_null() {
        return Err(Error::sql(
            SqlState::NULL_VALUE_NOT_ALLOWED,
            format!("frame {which} offset must not be null"),
        ));
    }
    let negative = match (value.as_i64(), value.as_f64()) {
        (Some(v), _) => v < 0,
        (None, Some(v)) => v < 0.0,
        _ => false,
    };
    if negative {
        return Err(Error::sql(
            SqlState::INVALID_PRECEDING_OR_FOLLOWING_SIZE,
            format!("frame {which} offset must not be negative"),
        ));
    }
    Ok(value)
}

/// PostgreSQL's ntile: `n` rows in `buckets` buckets, the first `n %
/// buckets` of them one row larger; 1-based.
pub(super) fn ntile(position: u64, n: u64, buckets: u64) -> u64 {
    let size = n / buckets;
    let larger = n % buckets;
    if size == 0 {
        return position + 1;
    }
    let boundary = larger * (size + 1);
    if position < boundary {
        position / (size + 1) + 1
    } else {
        larger + (position - boundary) / size + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntile_spreads_the_remainder_over_the_first_buckets() {
        let buckets: Vec<u64> = (0..10).map(|p| ntile(p, 10, 3)).collect();
        assert_eq!(buckets, [1, 1, 1, 1, 2, 2, 2, 3, 3, 3]);
        let buckets: Vec<u64> = (0..2).map(|p| ntile(p, 2, 5)).collect();
        assert_eq!(buckets, [1, 2]);
    }

    #[test]
    fn exclusions_leave_ordered_disjoint_ranges() {
        let peers = Peers {
            start: 3,
            end: 6,
            group: 2,
        };
        let frame = |exclusion| exclude(2..7, exclusion, 4, peers);
        assert_eq!(frame(FrameExclusion::NoOthers), vec![2..7]);
        assert_eq!(frame(FrameExclusion::CurrentRow), vec![2..4, 5..7]);
        assert_eq!(frame(FrameExclusion::Group), vec![2..3, 6..7]);
        assert_eq!(frame(FrameExclusion::Ties), vec![2..3, 4..5, 6..7]);
        // A frame inside the group.
        assert_eq!(exclude(4..5, FrameExclusion::Group, 4, peers), vec![]);
        assert_eq!(exclude(3..5, FrameExclusion::Ties, 4, peers), vec![4..5]);
        let ties = frame(FrameExclusion::Ties);
        assert_eq!(nth_position(&ties, 0), Some(2));
        assert_eq!(nth_position(&ties, 1), Some(4));
        assert_eq!(nth_position(&ties, 2), Some(6));
        assert_eq!(nth_position(&ties, 3), None);
    }
}
