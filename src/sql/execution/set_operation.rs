//! Set operations over two inputs of equal width. Rows compare as wholes,
//! NULL equal to NULL (`IS NOT DISTINCT FROM`), as SQL set operations do.
//!
//! ```text
//!   UNION ALL      left rows, then right rows (streams)
//!   UNION          the same, each distinct row once (streams)
//!   INTERSECT ALL  a left row as often as it is in both inputs
//!   INTERSECT      each distinct left row that is in the right input
//!   EXCEPT ALL     a left row as often as its left count exceeds its right
//!   EXCEPT         each distinct left row that is not in the right input
//! ```
//!
//! INTERSECT and EXCEPT count the right input's rows first, then stream
//! the left input.

use std::collections::{HashMap, HashSet};

use super::Operator;
use super::context::Context;
use crate::error::Result;
use crate::sql::plan::SetOperator;
use crate::sql::types::Row;

pub struct SetOperation {
    op: SetOperator,
    all: bool,
    left: Box<Operator>,
    right: Box<Operator>,
    left_done: bool,
    /// Rows returned so far (UNION, INTERSECT and EXCEPT without ALL).
    seen: HashSet<Row>,
    /// The right input's rows with their counts (INTERSECT, EXCEPT), once
    /// read.
    counts: Option<HashMap<Row, usize>>,
}

impl SetOperation {
    pub fn new(op: SetOperator, all: bool, left: Operator, right: Operator) -> SetOperation {
        SetOperation {
            op,
            all,
            left: Box::new(left),
            right: Box::new(right),
            left_done: false,
            seen: HashSet::new(),
            counts: None,
        }
    }

    /// Whether `row` is new (and remembers it).
    fn first_time(seen: &mut HashSet<Row>, row: &Row) -> bool {
        if seen.contains(row) {
            false
        } else {
            seen.insert(row.clone());
            true
        }
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        if self.op == SetOperator::Union {
            loop {
                let row = if self.left_done {
                    self.right.next(context)?
                } else {
                    match self.left.next(context)? {
                        Some(row) => Some(row),
                        None => {
                            self.left_done = true;
                            continue;
                        }
                    }
                };
                match row {
                    None => return Ok(None),
                    Some(row) if self.all || Self::first_time(&mut self.seen, &row) => {
                        return Ok(Some(row));
                    }
                    Some(_) => {}
                }
            }
        }
        if self.counts.is_none() {
            let mut counts: HashMap<Row, usize> = HashMap::new();
            while let Some(row) = self.right.next(context)? {
                *counts.entry(row).or_default() += 1;
            }
            self.counts = Some(counts);
        }
        let counts = self.counts.as_mut().expect("invariant: counted above");
        while let Some(row) = self.left.next(context)? {
            let in_right = counts.get_mut(&row);
            let keep = match (self.op, self.all, in_right) {
                (SetOperator::Intersect, true, Some(count)) if *count > 0 => {
                    *count -= 1;
                    true
                }
                (SetOperator::Intersect, false, Some(count)) if *count > 0 => {
                    Self::first_time(&mut self.seen, &row)
                }
                (SetOperator::Except, true, Some(count)) if *count > 0 => {
                    *count -= 1;
                    false
                }
                (SetOperator::Except, true, _) => true,
                (SetOperator::Except, false, Some(count)) if *count > 0 => false,
                (SetOperator::Except, false, _) => Self::first_time(&mut self.seen, &row),
                _ => false,
            };
            if keep {
                return Ok(Some(row));
            }
        }
        Ok(None)
    }
}
