//! DISTINCT: streams, returning a row the first time it sees it.

use std::collections::HashSet;

use super::Operator;
use super::context::Context;
use crate::error::Result;
use crate::sql::types::Row;

/// Removes duplicate rows, streaming: each row is returned when first seen.
pub struct DistinctOperator {
    input: Box<Operator>,
    seen: HashSet<Row>,
}

impl DistinctOperator {
    pub fn new(input: Operator) -> DistinctOperator {
        DistinctOperator {
            input: Box::new(input),
            seen: HashSet::new(),
        }
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        while let Some(row) = self.input.next(context)? {
            if !self.seen.contains(&row) {
                self.seen.insert(row.clone());
                return Ok(Some(row));
            }
        }
        Ok(None)
    }
}
