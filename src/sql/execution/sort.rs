//! Sorting: reads the whole input, evaluates the sort keys once per row,
//! and returns the rows in key order (stable, so equal keys keep their
//! input order). NULLs sort by each key's `nulls_first`.

use std::cmp::Ordering;

use super::Operator;
use super::context::Context;
use crate::error::Result;
use crate::sql::plan::SortKey;
use crate::sql::types::{Row, Value};

pub struct SortOperator {
    input: Box<Operator>,
    keys: Vec<SortKey>,
    output: Option<std::vec::IntoIter<Row>>,
}

impl SortOperator {
    pub fn new(input: Operator, keys: Vec<SortKey>) -> SortOperator {
        SortOperator {
            input: Box::new(input),
            keys,
            output: None,
        }
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        if self.output.is_none() {
            let mut keyed: Vec<(Vec<Value>, Row)> = Vec::new();
            while let Some(row) = self.input.next(context)? {
                let values = self
                    .keys
                    .iter()
                    .map(|k| k.expr.evaluate(&row, context))
                    .collect::<Result<Vec<_>>>()?;
                keyed.push((values, row));
            }
            keyed.sort_by(|(a, _), (b, _)| compare_keys(a, b, &self.keys));
            let rows: Vec<Row> = keyed.into_iter().map(|(_, row)| row).collect();
            self.output = Some(rows.into_iter());
        }
        Ok(self
            .output
            .as_mut()
            .expect("invariant: the output was computed above")
            .next())
    }
}

/// Compares two rows' evaluated sort keys.
pub fn compare_keys(a: &[Value], b: &[Value], keys: &[SortKey]) -> Ordering {
    for ((x, y), key) in a.iter().zip(b).zip(keys) {
        let ordering = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => {
                if key.nulls_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (false, true) => {
                if key.nulls_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            _ => {
                let ordering = x.total_cmp(y);
                if key.descending {
                    ordering.reverse()
                } else {
                    ordering
                }
            }
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}
