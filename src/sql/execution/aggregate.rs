//! Hash aggregation: reads its whole input into a table of groups, then
//! returns one row per group (group values, then aggregate results) in the
//! order the groups first appeared. Without GROUP BY there is exactly one
//! group, even for no input (`count(*)` of an empty table is 0).

use std::collections::{HashMap, HashSet};

use super::Operator;
use super::context::Context;
use crate::error::{Error, Result, SqlState};
use crate::sql::expr::Expr;
use crate::sql::plan::{Aggregate, AggregateFunction};
use crate::sql::types::{DataType, Row, Value};

/// Running state of one aggregate within one group.
#[derive(Clone)]
struct Accumulator {
    count: i64,
    sum_integer: i128,
    sum_float: f64,
    best: Option<Value>,
    seen: Option<HashSet<Value>>,
}

impl Accumulator {
    fn new(aggregate: &Aggregate) -> Accumulator {
        Accumulator {
            count: 0,
            sum_integer: 0,
            sum_float: 0.0,
            best: None,
            seen: aggregate.distinct.then(HashSet::new),
        }
    }

    fn add(&mut self, aggregate: &Aggregate, value: Value) -> Result<()> {
        if aggregate.function == AggregateFunction::CountStar {
            self.count += 1;
            return Ok(());
        }
        if value.is_null() {
            return Ok(());
        }
        if let Some(seen) = &mut self.seen
            && !seen.insert(value.clone())
        {
            return Ok(());
        }
        self.count += 1;
        match aggregate.function {
            AggregateFunction::Sum | AggregateFunction::Avg => match value.as_i64() {
                Some(v) => self.sum_integer += v as i128,
                None => self.sum_float += value.as_f64().unwrap_or(0.0),
            },
            AggregateFunction::Min | AggregateFunction::Max => {
                let replace = match &self.best {
                    None => true,
                    Some(best) => {
                        let ordering = value.total_cmp(best);
                        if aggregate.function == AggregateFunction::Min {
                            ordering.is_lt()
                        } else {
                            ordering.is_gt()
                        }
                    }
                };
                if replace {
                    self.best = Some(value);
                }
            }
            AggregateFunction::Count | AggregateFunction::CountStar => {}
        }
        Ok(())
    }

    fn finish(self, aggregate: &Aggregate) -> Result<Value> {
        Ok(match aggregate.function {
            AggregateFunction::Count | AggregateFunction::CountStar => Value::BigInt(self.count),
            _ if self.count == 0 => Value::Null,
            AggregateFunction::Sum => match aggregate.data_type {
                DataType::BigInt => {
                    Value::BigInt(i64::try_from(self.sum_integer).map_err(|_| {
                        Error::sql(SqlState::NUMERIC_VALUE_OUT_OF_RANGE, "bigint out of range")
                    })?)
                }
                DataType::Real => Value::Real(self.sum_float as f32),
                _ => Value::Double(self.sum_float),
            },
            AggregateFunction::Avg => {
                let total = self.sum_integer as f64 + self.sum_float;
                Value::Double(total / self.count as f64)
            }
            AggregateFunction::Min | AggregateFunction::Max => self.best.unwrap_or(Value::Null),
        })
    }
}

/// Hash aggregation (compiled: group keys and aggregate arguments read the
/// input row).
pub struct AggregateOperator {
    input: Box<Operator>,
    group_by: Vec<Expr>,
    aggregates: Vec<Aggregate>,
    /// The result rows, once the input has been read.
    output: Option<std::vec::IntoIter<Row>>,
}

impl AggregateOperator {
    pub fn new(input: Operator, group_by: Vec<Expr>, aggregates: Vec<Aggregate>) -> Self {
        AggregateOperator {
            input: Box::new(input),
            group_by,
            aggregates,
            output: None,
        }
    }

    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        if self.output.is_none() {
            let rows = self.aggregate(context)?;
            self.output = Some(rows.into_iter());
        }
        Ok(self
            .output
            .as_mut()
            .expect("invariant: the output was computed above")
            .next())
    }

    fn aggregate(&mut self, context: &mut Context<'_>) -> Result<Vec<Row>> {
        let aggregates = &self.aggregates;
        let mut groups: Vec<(Row, Vec<Accumulator>)> = Vec::new();
        let mut index: HashMap<Row, usize> = HashMap::new();
        let fresh = || aggregates.iter().map(Accumulator::new).collect::<Vec<_>>();
        if self.group_by.is_empty() {
            groups.push((Vec::new(), fresh()));
            index.insert(Vec::new(), 0);
        }
        while let Some(row) = self.input.next(context)? {
            let key = self
                .group_by
                .iter()
                .map(|e| e.evaluate(&row, context))
                .collect::<Result<Row>>()?;
            let slot = match index.get(&key) {
                Some(slot) => *slot,
                None => {
                    groups.push((key.clone(), fresh()));
                    index.insert(key, groups.len() - 1);
                    groups.len() - 1
                }
            };
            let accumulators = &mut groups[slot].1;
            for (accumulator, aggregate) in accumulators.iter_mut().zip(aggregates) {
                let value = match &aggregate.arg {
                    Some(arg) => arg.evaluate(&row, context)?,
                    None => Value::Null,
                };
                accumulator.add(aggregate, value)?;
            }
        }
        groups
            .into_iter()
            .map(|(mut key, accumulators)| {
                for (accumulator, aggregate) in accumulators.into_iter().zip(aggregates) {
                    key.push(accumulator.finish(aggregate)?);
                }
                Ok(key)
            })
            .collect()
    }
}
