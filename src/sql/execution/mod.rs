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
//! (values, filter, project, limit, generate_series), `aggregate.rs` (hash
//! aggregation, with `accumulator.rs` for the aggregate functions),
//! `distinct.rs`, `sort.rs`, `join.rs` (nested loop, merge, parameterized,
//! and the block nested loop), `hash_join.rs`, `set_operation.rs`, `cte.rs`
//! (shared and recursive CTEs), `window.rs` (window functions, with
//! `window_frame.rs` for frames), `subquery.rs` (subqueries in
//! expressions), and `dml.rs` (INSERT, UPDATE, DELETE). `hash.rs` is the
//! hash function of every hash table here.
//!
//! **Bounded memory.** Operators that must hold rows (sort, hash
//! aggregation, hash join, the nested loop join's right side, DISTINCT,
//! set operations, window partitions, materialized CTEs and work tables)
//! keep an estimate of the bytes they hold under the session's `work_mem`
//! ([`Context::work_mem`], `SET work_mem`, 4 MB by default) and beyond it
//! move rows to temporary files: sort as an external merge sort, the hash
//! join as a Grace hash join, aggregation, DISTINCT and set operations by
//! hash partitions processed one at a time, windows by sorting and one
//! partition at a time (`spill.rs` has the shared pieces and which
//! operator uses which). Files live in the database's spill directory
//! ([`Context::spill_space`]) and belong to the operator that wrote them,
//! so they are removed when the query's operators are dropped: at its end,
//! on error, or when its portal closes.
//!
//! ```text
//!   rows ──► operator ──(estimate ≤ work_mem)──► memory
//!                 └────(beyond)──► spill.rs: RowWriter ─► <data_dir>/tmp/spill-*
//!                                  RowReader ◄── (merge / partition pairs)
//! ```

mod accumulator;
mod aggregate;
pub mod byte_sort;
mod compile;
mod context;
mod cte;
mod distinct;
pub mod dml;
mod hash;
mod hash_join;
mod index_scan;
mod join;
pub mod measure;
mod parallel_aggregate;
mod read_ahead;
mod scan;
mod set_operation;
mod sort;
pub mod spill;
mod stream;
mod subquery;
mod upsert;
mod window;
mod window_frame;

pub use compile::Layout;
pub use context::{Context, CteState, DEFAULT_WORK_MEM, QueryState};
pub use read_ahead::workers_started as read_ahead_workers_started;
pub use scan::{Projection, ScanOperator};
pub use sort::compare_keys;

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::sql::expr::{ColumnId, Expr};
use crate::sql::plan::{Access, JoinStrategy, LogicalPlan, SortKey, TableFunction, map_bound};
use crate::sql::types::Row;

use aggregate::AggregateOperator;
use cte::{CteScan, RecursiveCte, WithCte};
use distinct::DistinctOperator;
use hash_join::HashJoin;
use join::{MergeJoin, NestedLoopJoin, ParameterizedJoin};
use set_operation::SetOperation;
use sort::SortOperator;
use stream::{
    DistinctOnOperator, FilterOperator, GenerateSeries, LimitOperator, ProjectOperator,
    ValuesOperator,
};
use window::WindowOperator;

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
    NestedLoopJoin(NestedLoopJoin),
    HashJoin(HashJoin),
    MergeJoin(MergeJoin),
    ParameterizedJoin(ParameterizedJoin),
    SetOperation(SetOperation),
    GenerateSeries(GenerateSeries),
    WithCte(WithCte),
    CteScan(CteScan),
    RecursiveCte(RecursiveCte),
    DistinctOn(DistinctOnOperator),
    Window(WindowOperator),
    /// Another operator, measured for `EXPLAIN ANALYZE` (`measure.rs`).
    Measured(Box<measure::Measured>),
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
            Operator::NestedLoopJoin(op) => op.next(context),
            Operator::HashJoin(op) => op.next(context),
            Operator::MergeJoin(op) => op.next(context),
            Operator::ParameterizedJoin(op) => op.next(context),
            Operator::SetOperation(op) => op.next(context),
            Operator::GenerateSeries(op) => op.next(context),
            Operator::WithCte(op) => op.next(context),
            Operator::CteScan(op) => op.next(context),
            Operator::RecursiveCte(op) => op.next(context),
            Operator::DistinctOn(op) => op.next(context),
            Operator::Window(op) => op.next(context),
            Operator::Measured(op) => op.next(context),
        }
    }
}

impl Operator {
    /// Asks the operator to return rows with room for `width` values:
    /// the joins above it append their right rows to its rows in place
    /// instead of copying both into a new row. Passed down the left spine
    /// (filters, joins that extend their left rows) to the scan that
    /// makes the rows; other operators ignore it. Every join on the way
    /// extends a row it keeps to its full width, so rows keep no unused
    /// room once joined.
    pub fn reserve_width(&mut self, width: usize) {
        match self {
            Operator::Scan(scan) => scan.reserve_width(width),
            Operator::Filter(filter) => filter.input_mut().reserve_width(width),
            Operator::HashJoin(join) => join.reserve_width(width),
            Operator::MergeJoin(join) => join.reserve_width(width),
            Operator::Measured(measured) => measured.inner_mut().reserve_width(width),
            _ => {}
        }
    }

    /// The table scan this operator is, seen through a measurement.
    pub fn as_scan(&self) -> Option<&ScanOperator> {
        match self {
            Operator::Scan(scan) => Some(scan),
            Operator::Measured(measured) => measured.inner().as_scan(),
            _ => None,
        }
    }

    /// [`Operator::as_scan`], mutable.
    pub fn as_scan_mut(&mut self) -> Option<&mut ScanOperator> {
        match self {
            Operator::Scan(scan) => Some(scan),
            Operator::Measured(measured) => measured.inner_mut().as_scan_mut(),
            _ => None,
        }
    }
}

/// Whether a join of `kind` returns its left rows extended by right
/// values (not semi and anti joins, which return them as they are).
fn extends_left(kind: crate::sql::plan::JoinKind) -> bool {
    !matches!(
        kind,
        crate::sql::plan::JoinKind::Semi | crate::sql::plan::JoinKind::Anti
    )
}

/// Compiles a plan into operators. `outer` lists the columns of the
/// parameter frame the plan runs under (empty for a top-level query).
pub fn build(plan: &LogicalPlan, outer: &[ColumnId]) -> Result<Operator> {
    crate::sql::stack::check()?;
    let operator = build_operator(plan, outer)?;
    Ok(measure::wrap(plan, operator))
}

/// [`build`] without the measurement.
fn build_operator(plan: &LogicalPlan, outer: &[ColumnId]) -> Result<Operator> {
    Ok(match plan {
        LogicalPlan::Values { rows, .. } => {
            let layout = Layout::new(&[], outer);
            let rows = rows
                .iter()
                .map(|row| layout.compile_all(row))
                .collect::<Result<_>>()?;
            Operator::Values(ValuesOperator::new(rows))
        }
        LogicalPlan::Scan { .. } => Operator::Scan(build_scan(plan, outer, None)?),
        LogicalPlan::Filter { input, predicate } => {
            let columns = input.output();
            let predicate = Layout::new(&columns, outer).compile(predicate)?;
            Operator::Filter(FilterOperator::new(build(input, outer)?, predicate))
        }
        LogicalPlan::Project { input, exprs } => match projected_scan(input, exprs) {
            Some(positions) => Operator::Scan(build_scan(input, outer, Some(positions))?),
            None => {
                let columns = input.output();
                let exprs =
                    Layout::new(&columns, outer).compile_all(exprs.iter().map(|(_, e)| e))?;
                Operator::Project(ProjectOperator::new(build(input, outer)?, exprs))
            }
        },
        LogicalPlan::Aggregate {
            input,
            group_by,
            aggregates,
            grouping_sets,
        } => {
            let columns = input.output();
            let layout = Layout::new(&columns, outer);
            let group_by = layout.compile_all(group_by.iter().map(|(_, e)| e))?;
            let aggregates = aggregates
                .iter()
                .map(|(_, aggregate)| aggregate.clone().map_exprs(|e| layout.compile(&e)))
                .collect::<Result<_>>()?;
            Operator::Aggregate(AggregateOperator::new(
                build(input, outer)?,
                group_by,
                aggregates,
                grouping_sets.as_ref().map(|sets| sets.sets.clone()),
            ))
        }
        LogicalPlan::DistinctOn { input, on } => {
            let columns = input.output();
            let on = Layout::new(&columns, outer).compile_all(on)?;
            Operator::DistinctOn(DistinctOnOperator::new(build(input, outer)?, on))
        }
        LogicalPlan::Window { input, functions } => {
            let columns = input.output();
            let layout = Layout::new(&columns, outer);
            let calls = functions
                .iter()
                .map(|(_, call)| call.clone().map_exprs(|e| layout.compile(&e)))
                .collect::<Result<_>>()?;
            Operator::Window(WindowOperator::new(build(input, outer)?, calls))
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
        LogicalPlan::Join {
            left,
            right,
            kind,
            condition,
            strategy,
        } => build_join(left, right, *kind, condition, strategy, outer)?,
        LogicalPlan::SetOperation {
            op,
            all,
            left,
            right,
            ..
        } => Operator::SetOperation(SetOperation::new(
            *op,
            *all,
            build(left, outer)?,
            build(right, outer)?,
        )),
        LogicalPlan::TableFunction {
            function:
                TableFunction::GenerateSeries {
                    start,
                    stop,
                    step,
                    data_type,
                },
            ..
        } => {
            let layout = Layout::new(&[], outer);
            Operator::GenerateSeries(GenerateSeries::new(
                layout.compile(start)?,
                layout.compile(stop)?,
                layout.compile_option(step)?,
                *data_type,
            ))
        }
        LogicalPlan::WithCte {
            id,
            definition,
            input,
            ..
        } => {
            let copy = Arc::new(definition.as_ref().clone());
            measure::alias(definition, &copy);
            Operator::WithCte(WithCte::new(*id, copy, build(input, outer)?))
        }
        LogicalPlan::CteScan { id, .. } => Operator::CteScan(CteScan::new(*id, false)),
        LogicalPlan::WorkTable { id, .. } => Operator::CteScan(CteScan::new(*id, true)),
        LogicalPlan::RecursiveCte {
            id,
            anchor,
            recursive,
            all,
            ..
        } => {
            let copy = Arc::new(recursive.as_ref().clone());
            measure::alias(recursive, &copy);
            Operator::RecursiveCte(RecursiveCte::new(*id, build(anchor, outer)?, copy, *all))
        }
    })
}

/// Compiles a hash or merge join's left input, with room in its rows for
/// the right values the join appends (`Operator::reserve_width`).
fn build_left(
    left: &LogicalPlan,
    kind: crate::sql::plan::JoinKind,
    widths: (usize, usize),
    outer: &[ColumnId],
) -> Result<Operator> {
    let mut operator = build(left, outer)?;
    if extends_left(kind) {
        operator.reserve_width(widths.0 + widths.1);
    }
    Ok(operator)
}

/// Compiles a join for its strategy.
fn build_join(
    left: &LogicalPlan,
    right: &LogicalPlan,
    kind: crate::sql::plan::JoinKind,
    condition: &Option<Expr>,
    strategy: &JoinStrategy,
    outer: &[ColumnId],
) -> Result<Operator> {
    let left_columns = left.output();
    let right_columns = right.output();
    let mut joined = left_columns.clone();
    joined.extend(right_columns.iter().copied());
    let condition = Layout::new(&joined, outer).compile_option(condition)?;
    let widths = (left_columns.len(), right_columns.len());
    let keys = |keys: &[(Expr, Expr)]| -> Result<Vec<(Expr, Expr)>> {
        let left_layout = Layout::new(&left_columns, outer);
        let right_layout = Layout::new(&right_columns, outer);
        keys.iter()
            .map(|(l, r)| Ok((left_layout.compile(l)?, right_layout.compile(r)?)))
            .collect()
    };
    Ok(match strategy {
        JoinStrategy::NestedLoop => Operator::NestedLoopJoin(NestedLoopJoin::new(
            build(left, outer)?,
            build(right, outer)?,
            kind,
            condition,
            widths,
        )),
        JoinStrategy::Hash { keys: pairs } => Operator::HashJoin(HashJoin::new(
            build_left(left, kind, widths, outer)?,
            build(right, outer)?,
            kind,
            keys(pairs)?,
            condition,
            widths,
        )),
        JoinStrategy::Merge { keys: pairs } => Operator::MergeJoin(MergeJoin::new(
            build_left(left, kind, widths, outer)?,
            build(right, outer)?,
            kind,
            keys(pairs)?,
            condition,
            widths,
        )),
        JoinStrategy::Parameterized => {
            join::check_kind(kind, true)?;
            let frame_ids = right.free_columns();
            let left_layout = Layout::new(&left_columns, outer);
            let frame_values = frame_ids
                .iter()
                .map(|id| left_layout.compile(&Expr::Column(*id)))
                .collect::<Result<_>>()?;
            let copy = Arc::new(right.clone());
            measure::alias(right, &copy);
            Operator::ParameterizedJoin(ParameterizedJoin::new(
                build(left, outer)?,
                copy,
                kind,
                condition,
                (frame_ids, frame_values),
                right_columns.len(),
            ))
        }
    })
}

/// Compiles a `Scan` plan (DML reads its target through one, for the keys).
/// The table positions of a projection that only passes some of a table
/// scan's columns through (the `prune` rule's), which the scan itself then
/// returns; `None` for any other projection.
fn projected_scan(input: &LogicalPlan, exprs: &[(ColumnId, Expr)]) -> Option<Vec<usize>> {
    let LogicalPlan::Scan { columns, .. } = input else {
        return None;
    };
    exprs
        .iter()
        .map(|(id, expr)| match expr {
            Expr::Column(column) if column == id => columns.iter().position(|c| c == id),
            _ => None,
        })
        .collect()
}

/// Builds a table scan, returning the table columns at `positions` if
/// given, else all of them. Boxed, and never inlined, so that the
/// operator is not a temporary in the frame of the recursive `build`
/// (whose frame size bounds how deep a join tree can be built).
#[inline(never)]
pub fn build_scan(
    plan: &LogicalPlan,
    outer: &[ColumnId],
    positions: Option<Vec<usize>>,
) -> Result<Box<ScanOperator>> {
    let LogicalPlan::Scan {
        table,
        columns,
        access,
        filter,
    } = plan
    else {
        return Err(Error::Internal(format!("not a table scan: {plan:?}")));
    };
    let keys = Layout::new(&[], outer);
    let access = match access {
        full @ Access::Full { .. } => full.clone(),
        Access::Key { key, backward } => Access::Key {
            key: key
                .iter()
                .map(|value| value.clone().try_map(&mut |e| keys.compile(&e)))
                .collect::<Result<_>>()?,
            backward: *backward,
        },
        Access::Range {
            start,
            end,
            backward,
        } => {
            let mut compile = |e: Expr| keys.compile(&e);
            Access::Range {
                start: map_bound(start.clone(), &mut compile)?,
                end: map_bound(end.clone(), &mut compile)?,
                backward: *backward,
            }
        }
        Access::Index(index) => Access::Index(index.clone().try_map(|e| keys.compile(&e))?),
    };
    let filter = Layout::new(columns, outer).compile_option(filter)?;
    let projection =
        positions.map(|positions| Projection::new(positions, columns.len(), filter.as_ref()));
    Ok(Box::new(ScanOperator::new(
        table.clone(),
        access,
        filter,
        projection,
    )))
}

/// Runs an operator to the end.
pub fn collect(operator: &mut Operator, context: &mut Context<'_>) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    while let Some(row) = operator.next(context)? {
        rows.push(row);
    }
    Ok(rows)
}
