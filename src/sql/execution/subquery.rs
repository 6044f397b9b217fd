//! Subqueries inside expressions, evaluated on demand (PostgreSQL's
//! SubPlan): the parameter values are taken from the current row, the plan
//! runs under them as its parameter frame, and the rows it returns decide
//! the value.
//!
//! Results are cached per subquery and parameter values for the rest of
//! the execution, so an uncorrelated subquery runs once (PostgreSQL's
//! InitPlan) and a correlated one once per distinct outer value. Only
//! scalar and EXISTS results, and ANY/ALL lists of uncorrelated
//! subqueries, are kept; the cache is emptied when it holds more than
//! [`CACHE_LIMIT`] entries.
//!
//! Semantics, as in PostgreSQL:
//! - scalar: no row is NULL, more than one row is 21000;
//! - `x op ANY (…)`: true if the comparison is true for some row; else
//!   NULL if `x` or some row made it NULL; else false (so `x IN (empty)` is
//!   false even for a NULL `x`);
//! - `x op ALL (…)`: false if the comparison is false for some row; else
//!   NULL if one was NULL; else true.

use super::hash::RowSet;
use std::sync::Arc;

use super::context::Context;
use super::{Operator, build};
use crate::error::{Error, Result, SqlState};
use crate::sql::expr::{BinaryOp, ColumnId, Subquery, SubqueryKind, binary};
use crate::sql::types::{DataType, Value};

/// The most cached results one execution keeps.
pub const CACHE_LIMIT: usize = 100_000;

/// The values a subquery's first column took, for ANY and ALL.
#[derive(Debug)]
pub struct ValueList {
    values: Vec<Value>,
    /// The non-NULL values, for `= ANY`.
    set: RowSet<Value>,
    has_null: bool,
}

impl Context<'_> {
    /// Evaluates a (compiled) subquery expression on `row`.
    pub fn evaluate_subquery(&mut self, subquery: &Subquery, row: &[Value]) -> Result<Value> {
        let mut frame = Vec::with_capacity(subquery.parameters.len());
        for (_, parameter) in &subquery.parameters {
            frame.push(parameter.evaluate(row, self)?);
        }
        let operand = match &subquery.operand {
            Some(operand) => Some(operand.evaluate(row, self)?),
            None => None,
        };
        match &subquery.kind {
            SubqueryKind::Scalar | SubqueryKind::Exists => {
                let key = (subquery.id, frame);
                if let Some(value) = self.state.subquery_results.get(&key) {
                    return Ok(value.clone());
                }
                let value = self.run_single(subquery, key.1.clone())?;
                self.remember(key, value.clone());
                Ok(value)
            }
            SubqueryKind::Any { op } | SubqueryKind::All { op } => {
                let all = matches!(subquery.kind, SubqueryKind::All { .. });
                let operand =
                    operand.ok_or_else(|| Error::Internal("ANY/ALL without an operand".into()))?;
                let values = match self.state.subquery_lists.get(&subquery.id) {
                    Some(list) if frame.is_empty() => Arc::clone(list),
                    _ => {
                        let list = Arc::new(self.run_list(subquery, frame.clone())?);
                        if frame.is_empty() {
                            self.state
                                .subquery_lists
                                .insert(subquery.id, Arc::clone(&list));
                        }
                        list
                    }
                };
                compare_list(&operand, *op, all, &values, subquery.data_type)
            }
        }
    }

    fn remember(&mut self, key: (usize, Vec<Value>), value: Value) {
        if self.state.subquery_results.len() >= CACHE_LIMIT {
            self.state.subquery_results.clear();
        }
        self.state.subquery_results.insert(key, value);
    }

    /// Builds the subquery's operators and runs `work` on them under the
    /// parameter frame.
    fn with_plan<T>(
        &mut self,
        subquery: &Subquery,
        frame: Vec<Value>,
        work: impl FnOnce(&mut Operator, &mut Context<'_>) -> Result<T>,
    ) -> Result<T> {
        let ids: Vec<ColumnId> = subquery.parameters.iter().map(|(id, _)| *id).collect();
        let mut operator = build(&subquery.plan, &ids)?;
        self.with_frame(frame, |context| work(&mut operator, context))
    }

    /// A scalar subquery's value, or EXISTS's truth.
    fn run_single(&mut self, subquery: &Subquery, frame: Vec<Value>) -> Result<Value> {
        let exists = subquery.kind == SubqueryKind::Exists;
        self.with_plan(subquery, frame, |operator, context| {
            let Some(first) = operator.next(context)? else {
                return Ok(if exists {
                    Value::Boolean(false)
                } else {
                    Value::Null
                });
            };
            if exists {
                return Ok(Value::Boolean(true));
            }
            if operator.next(context)?.is_some() {
                return Err(Error::sql(
                    SqlState::CARDINALITY_VIOLATION,
                    "more than one row returned by a subquery used as an expression",
                ));
            }
            first
                .into_iter()
                .next()
                .ok_or_else(|| Error::Internal("a scalar subquery without a column".into()))
        })
    }

    /// The first column of every row of an ANY/ALL subquery.
    fn run_list(&mut self, subquery: &Subquery, frame: Vec<Value>) -> Result<ValueList> {
        self.with_plan(subquery, frame, |operator, context| {
            let mut list = ValueList {
                values: Vec::new(),
                set: RowSet::default(),
                has_null: false,
            };
            while let Some(row) = operator.next(context)? {
                let value = row
                    .into_iter()
                    .next()
                    .ok_or_else(|| Error::Internal("an ANY subquery without a column".into()))?;
                if value.is_null() {
                    list.has_null = true;
                } else {
                    list.set.insert(value.clone());
                    list.values.push(value);
                }
            }
            Ok(list)
        })
    }
}

/// `operand op ANY/ALL (values)` with SQL's three-valued logic.
fn compare_list(
    operand: &Value,
    op: BinaryOp,
    all: bool,
    list: &ValueList,
    data_type: DataType,
) -> Result<Value> {
    if list.values.is_empty() && !list.has_null {
        return Ok(Value::Boolean(all));
    }
    if operand.is_null() {
        return Ok(Value::Null);
    }
    if op == BinaryOp::Equal && !all {
        if list.set.contains(operand) {
            return Ok(Value::Boolean(true));
        }
        return Ok(if list.has_null {
            Value::Null
        } else {
            Value::Boolean(false)
        });
    }
    let mut saw_null = list.has_null;
    for value in &list.values {
        match binary(op, operand, value, data_type)? {
            Value::Boolean(result) if result != all => return Ok(Value::Boolean(result)),
            Value::Null => saw_null = true,
            _ => {}
        }
    }
    Ok(if saw_null {
        Value::Null
    } else {
        Value::Boolean(all)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(values: &[Option<i32>]) -> ValueList {
        let mut list = ValueList {
            values: Vec::new(),
            set: RowSet::default(),
            has_null: false,
        };
        for value in values {
            match value {
                Some(v) => {
                    list.values.push(Value::Integer(*v));
                    list.set.insert(Value::Integer(*v));
                }
                None => list.has_null = true,
            }
        }
        list
    }

    fn any(operand: Value, values: &[Option<i32>]) -> Value {
        compare_list(
            &operand,
            BinaryOp::Equal,
            false,
            &list(values),
            DataType::Integer,
        )
        .unwrap()
    }

    fn all(op: BinaryOp, operand: Value, values: &[Option<i32>]) -> Value {
        compare_list(&operand, op, true, &list(values), DataType::Integer).unwrap()
    }

    #[test]
    fn in_follows_three_valued_logic() {
        assert_eq!(
            any(Value::Integer(1), &[Some(1), None]),
            Value::Boolean(true)
        );
        assert!(any(Value::Integer(2), &[Some(1), None]).is_null());
        assert_eq!(any(Value::Integer(2), &[Some(1)]), Value::Boolean(false));
        // An empty list is false even for NULL (and NOT IN is true).
        assert_eq!(any(Value::Null, &[]), Value::Boolean(false));
        assert!(any(Value::Null, &[Some(1)]).is_null());
    }

    #[test]
    fn all_is_true_for_an_empty_list_and_null_when_unsure() {
        assert_eq!(
            all(BinaryOp::Greater, Value::Null, &[]),
            Value::Boolean(true)
        );
        assert_eq!(
            all(BinaryOp::Greater, Value::Integer(5), &[Some(1), Some(4)]),
            Value::Boolean(true)
        );
        assert_eq!(
            all(
                BinaryOp::Greater,
                Value::Integer(3),
                &[Some(1), Some(4), None]
            ),
            Value::Boolean(false)
        );
        assert!(all(BinaryOp::Greater, Value::Integer(5), &[Some(1), None]).is_null());
    }
}
