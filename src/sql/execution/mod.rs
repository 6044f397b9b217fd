//! Physical operators: the executable form of an optimized logical plan.
//!
//! [`build`] compiles a [`LogicalPlan`] into a tree of [`Operator`]s, one
//! per logical operator, with each expression compiled to read row offsets
//! (`compile.rs`). Execution is pull-based (Volcano): `next` returns the
//! operator's next row, pulling from its inputs only as far as it needs,
//! so rows stream from storage through the operators to the client, and a
//! portal can stop after any row and resume later. Every call gets the
//! [`Context`] (transaction, parameters, parameter frames) from its caller;
//! operators hold no borrow, so an open query can be parked between calls.
//!
//! ```text
//!   session ──next──► Limit ──next──► Project ──next──► Scan ──► MvccScan
//!           ◄──row───       ◄──row───         ◄──row───
//! ```
//!
//! Operator families, one file each: `scan.rs` (table access), `stream.rs`
//! (values, filter, project, limit), `aggregate.rs` (hash aggregation,
//! distinct), `sort.rs`, and `dml.rs` (INSERT, UPDATE, DELETE).

mod aggregate;
mod compile;
mod context;
pub mod dml;
mod scan;
mod sort;
mod stream;
mod subquery;

pub use compile::Layout;
pub use context::{Context, DEFAULT_WORK_MEM, QueryState};
pub use scan::ScanOperator;
pub use sort::compare_keys;

use crate::error::Result;
use crate::sql::expr::ColumnId;
use crate::sql::plan::{Aggregate, LogicalPlan, SortKey};
use crate::sql::types::Row;

use aggregate::{AggregateOperator, DistinctOperator};
use sort::SortOperator;
use stream::{FilterOperator, LimitOperator, ProjectOperator, ValuesOperator};

/// A physical operator (closed set).
pub enum Operator {
    Values(ValuesOperator),
    Scan(Box<ScanOperator>),
    Filter(FilterOperator),
    Project(ProjectOperator),
    Aggregate(AggregateOperator),
    Distinct(DistinctOperator),
    Sort(SortOperator),
    Limit(LimitOperator),
}

impl Operator {
    /// The next row, or `None` when the operator is exhausted.
    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        match self {
            Operator::Values(op) => op.next(context),
            Operator::Scan(op) => op.next(context),
            Operator::Filter(op) => op.next(context),
            Operator::Project(op) => op.next(context),
            Operator::Aggregate(op) => op.next(context),
            Operator::Distinct(op) => op.next(context),
            Operator::Sort(op) => op.next(context),
            Operator::Limit(op) => op.next(context),
        }
    }
}

/// Compiles a plan into operators. `outer` lists the columns of the
/// parameter frame the plan runs under (empty for a top-level query).
pub fn build(plan: &LogicalPlan, outer: &[ColumnId]) -> Result<Operator> {
    Ok(match plan {
        LogicalPlan::Values { rows, .. } => {
            let layout = Layout::new(&[], outer);
            let rows = rows
                .iter()
                .map(|row| layout.compile_all(row))
                .collect::<Result<_>>()?;
            Operator::Values(ValuesOperator::new(rows))
        }
        LogicalPlan::Scan { .. } => Operator::Scan(Box::new(build_scan(plan, outer)?)),
        LogicalPlan::Filter { input, predicate } => {
            let columns = input.output();
            let predicate = Layout::new(&columns, outer).compile(predicate)?;
            Operator::Filter(FilterOperator::new(build(input, outer)?, predicate))
        }
        LogicalPlan::Project { input, exprs } => {
            let columns = input.output();
            let exprs = Layout::new(&columns, outer).compile_all(exprs.iter().map(|(_, e)| e))?;
            Operator::Project(ProjectOperator::new(build(input, outer)?, exprs))
        }
        LogicalPlan::Aggregate {
            input,
            group_by,
            aggregates,
        } => {
            let columns = input.output();
            let layout = Layout::new(&columns, outer);
            let group_by = layout.compile_all(group_by.iter().map(|(_, e)| e))?;
            let aggregates = aggregates
                .iter()
                .map(|(_, aggregate)| {
                    Ok(Aggregate {
                        arg: layout.compile_option(&aggregate.arg)?,
                        ..aggregate.clone()
                    })
                })
                .collect::<Result<_>>()?;
            Operator::Aggregate(AggregateOperator::new(
                build(input, outer)?,
                group_by,
                aggregates,
            ))
        }
        LogicalPlan::Distinct { input } => {
            Operator::Distinct(DistinctOperator::new(build(input, outer)?))
        }
        LogicalPlan::Sort { input, keys } => {
            let columns = input.output();
            let layout = Layout::new(&columns, outer);
            let keys = keys
                .iter()
                .map(|key| {
                    Ok(SortKey {
                        expr: layout.compile(&key.expr)?,
                        ..key.clone()
                    })
                })
                .collect::<Result<_>>()?;
            Operator::Sort(SortOperator::new(build(input, outer)?, keys))
        }
        LogicalPlan::Limit {
            input,
            limit,
            offset,
        } => {
            let layout = Layout::new(&[], outer);
            Operator::Limit(LimitOperator::new(
                build(input, outer)?,
                layout.compile_option(limit)?,
                layout.compile_option(offset)?,
            ))
        }
    })
}

/// Compiles a `Scan` plan (DML reads its target through one, for the keys).
pub fn build_scan(plan: &LogicalPlan, outer: &[ColumnId]) -> Result<ScanOperator> {
    let LogicalPlan::Scan {
        table,
        columns,
        access,
        filter,
    } = plan
    else {
        return Err(crate::Error::Internal(format!(
            "not a table scan: {plan:?}"
        )));
    };
    let keys = Layout::new(&[], outer);
    let access = match access {
        crate::sql::plan::Access::Full => crate::sql::plan::Access::Full,
        crate::sql::plan::Access::Key(key) => crate::sql::plan::Access::Key(keys.compile_all(key)?),
        crate::sql::plan::Access::Range { start, end } => {
            let bound = |bound: &std::ops::Bound<crate::sql::expr::Expr>| -> Result<_> {
                Ok(match bound {
                    std::ops::Bound::Included(e) => std::ops::Bound::Included(keys.compile(e)?),
                    std::ops::Bound::Excluded(e) => std::ops::Bound::Excluded(keys.compile(e)?),
                    std::ops::Bound::Unbounded => std::ops::Bound::Unbounded,
                })
            };
            crate::sql::plan::Access::Range {
                start: bound(start)?,
                end: bound(end)?,
            }
        }
    };
    let filter = Layout::new(columns, outer).compile_option(filter)?;
    Ok(ScanOperator::new(table.clone(), access, filter))
}

/// Runs an operator to the end.
pub fn collect(operator: &mut Operator, context: &mut Context<'_>) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    while let Some(row) = operator.next(context)? {
        rows.push(row);
    }
    Ok(rows)
}
