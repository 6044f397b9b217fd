//! Logical plans: the closed set of relational operators a query is bound
//! to, rewritten by the optimizer and compiled into physical operators.
//!
//! ```text
//!   Limit ─► Sort ─► Distinct ─► Project ─► Filter ─► Aggregate ─► Filter ─► Scan | Values
//! ```
//!
//! Rows flow upward. Every operator produces a list of columns, each a
//! statement-wide [`ColumnId`] ([`LogicalPlan::output`]); expressions name
//! the columns they read by id. Invariants:
//! 1. An operator's expressions read only the ids its input produces, plus
//!    the free ids of the plan (the enclosing query's columns, for
//!    subqueries), which [`LogicalPlan::free_columns`] lists.
//! 2. An id produced by two operators of one tree holds the same value in
//!    both (a `Project` that passes a column through keeps its id); one
//!    operator's output lists an id twice only for the same value twice.
//! 3. `Scan::access` only narrows which keys are read: its `filter` still
//!    holds every predicate, so the rows returned are the same whichever
//!    access path the optimizer chose.

mod columns;
mod window;

use std::ops::Bound;
use std::sync::Arc;

pub use columns::{Column, ColumnCatalog, ColumnInfo};
pub use window::{FrameBound, FrameExclusion, FrameMode, WindowCall, WindowFrame, WindowFunction};

use super::catalog::{Index, IndexColumn, IndexKey, Table};
use super::expr::{ColumnId, Expr};
use super::types::DataType;
use crate::error::Result;

/// An aggregate function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggregateFunction {
    CountStar,
    Count,
    Sum,
    Min,
    Max,
    Avg,
    BoolAnd,
    BoolOr,
    /// `every`: `bool_and` by its SQL-standard name.
    Every,
    /// `stddev`: `stddev_samp` by its older name.
    Stddev,
    StddevSamp,
    StddevPop,
    /// `variance`: `var_samp` by its older name.
    Variance,
    VarSamp,
    VarPop,
    StringAgg,
}

impl AggregateFunction {
    pub fn name(&self) -> &'static str {
        match self {
            AggregateFunction::CountStar | AggregateFunction::Count => "count",
            AggregateFunction::Sum => "sum",
            AggregateFunction::Min => "min",
            AggregateFunction::Max => "max",
            AggregateFunction::Avg => "avg",
            AggregateFunction::BoolAnd => "bool_and",
            AggregateFunction::BoolOr => "bool_or",
            AggregateFunction::Every => "every",
            AggregateFunction::Stddev => "stddev",
            AggregateFunction::StddevSamp => "stddev_samp",
            AggregateFunction::StddevPop => "stddev_pop",
            AggregateFunction::Variance => "variance",
            AggregateFunction::VarSamp => "var_samp",
            AggregateFunction::VarPop => "var_pop",
            AggregateFunction::StringAgg => "string_agg",
        }
    }
}

/// One aggregate call: function, arguments (none for `count(*)`),
/// DISTINCT, `FILTER (WHERE …)`, and `ORDER BY` inside the call.
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregate {
    pub function: AggregateFunction,
    pub args: Vec<Expr>,
    pub distinct: bool,
    pub filter: Option<Expr>,
    pub order_by: Vec<SortKey>,
    pub data_type: DataType,
}

impl Aggregate {
    /// Every expression of the call.
    pub fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.args
            .iter()
            .chain(self.filter.iter())
            .chain(self.order_by.iter().map(|key| &key.expr))
    }

    /// The call with each expression replaced by `f(expr)`.
    pub fn map_exprs(self, mut f: impl FnMut(Expr) -> Result<Expr>) -> Result<Aggregate> {
        Ok(Aggregate {
            args: self.args.into_iter().map(&mut f).collect::<Result<_>>()?,
            filter: self.filter.map(&mut f).transpose()?,
            order_by: self
                .order_by
                .into_iter()
                .map(|key| {
                    Ok(SortKey {
                        expr: f(key.expr)?,
                        ..key
                    })
                })
                .collect::<Result<_>>()?,
            ..self
        })
    }
}

/// One ORDER BY key.
#[derive(Clone, Debug, PartialEq)]
pub struct SortKey {
    pub expr: Expr,
    pub descending: bool,
    pub nulls_first: bool,
}

/// Which rows of its inputs a join returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinKind {
    /// Pairs that match (a cross join is an inner join without condition).
    Inner,
    /// Inner, plus each unmatched left row with NULLs for the right.
    Left,
    /// Inner, plus each unmatched right row with NULLs for the left.
    Right,
    /// Inner, plus both kinds of unmatched rows.
    Full,
    /// Each left row that has a match, once; outputs left columns only.
    Semi,
    /// Each left row that has no match; outputs left columns only.
    Anti,
}

impl JoinKind {
    /// Whether the join outputs the right input's columns.
    pub fn outputs_right(&self) -> bool {
        !matches!(self, JoinKind::Semi | JoinKind::Anti)
    }
}

/// How a join finds matching pairs (chosen by the optimizer).
#[derive(Clone, Debug, PartialEq)]
pub enum JoinStrategy {
    /// The right rows are held (or re-read) and tested against each left
    /// row with the condition.
    NestedLoop,
    /// The right rows are hashed on their key expressions, and each left
    /// row probes with its own; the condition then tests each candidate.
    /// Pairs `(left key, right key)`; rows with a NULL key never match.
    Hash { keys: Vec<(Expr, Expr)> },
    /// Both inputs arrive ordered ascending on their keys (NULLs last) and
    /// are merged; the condition then tests each candidate.
    Merge { keys: Vec<(Expr, Expr)> },
    /// The right plan runs once per left row with the left row's columns
    /// as its parameter frame (LATERAL, and key lookups into the right
    /// table); the right plan holds the join's predicates itself.
    Parameterized,
}

/// A set operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOperator {
    Union,
    Intersect,
    Except,
}

impl SetOperator {
    pub fn name(&self) -> &'static str {
        match self {
            SetOperator::Union => "UNION",
            SetOperator::Intersect => "INTERSECT",
            SetOperator::Except => "EXCEPT",
        }
    }
}

/// A function in FROM that returns rows.
#[derive(Clone, Debug, PartialEq)]
pub enum TableFunction {
    /// `generate_series(start, stop [, step])` over integers.
    GenerateSeries {
        start: Expr,
        stop: Expr,
        step: Option<Expr>,
        data_type: DataType,
    },
}

/// `GROUPING SETS`, `ROLLUP` and `CUBE`: each set lists the group columns
/// (indices into `group_by`) it groups by; `id` is the output column that
/// holds the set's index.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupingSets {
    pub sets: Vec<Vec<usize>>,
    pub id: ColumnId,
}

/// How a table is read. The primary-key reads (`Full`, `Key`, `Range`)
/// return their rows in key order, or with `backward` in its exact
/// reverse, as an index read does with [`IndexAccess::backward`].
#[derive(Clone, Debug, PartialEq)]
pub enum Access {
    /// Every row.
    Full { backward: bool },
    /// The rows whose leading primary-key columns equal these
    /// row-independent values (in key order), in key order: one row when
    /// they fix the whole key, else the rows under that key prefix; per
    /// distinct value where a column's value is an IN-list.
    Key {
        key: Vec<KeyEquality>,
        backward: bool,
    },
    /// The rows whose single-column primary key lies within bounds.
    Range {
        start: Bound<Expr>,
        end: Bound<Expr>,
        backward: bool,
    },
    /// The rows a secondary index lists under a key prefix.
    Index(IndexAccess),
}

impl Access {
    /// Every row, in key order.
    pub fn full() -> Access {
        Access::Full { backward: false }
    }

    /// The rows under `key`, in key order.
    pub fn key(key: Vec<KeyEquality>) -> Access {
        Access::Key {
            key,
            backward: false,
        }
    }

    /// Whether it reads in the reverse of its key's or index's order.
    pub fn backward(&self) -> bool {
        match self {
            Access::Full { backward }
            | Access::Key { backward, .. }
            | Access::Range { backward, .. } => *backward,
            Access::Index(index) => index.backward,
        }
    }

    /// The same rows, read in the key's or index's order (`backward`
    /// false) or its reverse.
    pub fn with_backward(mut self, reversed: bool) -> Access {
        match &mut self {
            Access::Full { backward }
            | Access::Key { backward, .. }
            | Access::Range { backward, .. } => *backward = reversed,
            Access::Index(index) => index.backward = reversed,
        }
        self
    }
}

/// Whether a key access reads at most one row: it fixes every column of
/// a declared primary key to one value.
pub fn is_single_key(table: &Table, key: &[KeyEquality]) -> bool {
    !key.is_empty()
        && key.len() == table.primary_key.len()
        && key
            .iter()
            .all(|value| matches!(value, KeyEquality::Value(_)))
}

/// Key column `column` of `index` as an expression over a scan of its
/// table whose columns (in table order) are `columns`: the column, or the
/// index's expression reading those columns. `None` if the scan lacks a
/// column it reads.
pub fn index_key_operand(
    index: &Index,
    column: &IndexColumn,
    columns: &[ColumnId],
) -> Option<Expr> {
    match column.key {
        IndexKey::Column(position) => columns.get(position).map(|id| Expr::Column(*id)),
        IndexKey::Expression(position) => {
            over_scan(&index.expressions.get(position)?.expr, columns)
        }
    }
}

/// A partial index's predicate over such a scan (`None` without one).
pub fn index_predicate(index: &Index, columns: &[ColumnId]) -> Option<Expr> {
    over_scan(&index.predicate.as_ref()?.expr, columns)
}

/// An index expression (reading table column `i` as `Slot(i)`) reading the
/// scan's `columns` instead.
fn over_scan(expr: &Expr, columns: &[ColumnId]) -> Option<Expr> {
    expr.clone()
        .transform(&mut |node| match node {
            Expr::Slot(position) => columns
                .get(position)
                .map(|id| Expr::Column(*id))
                .ok_or_else(|| crate::error::Error::Internal("slot outside the scan".into())),
            other => Ok(other),
        })
        .ok()
}

/// What a key lookup or an index read fixes a key column to.
#[derive(Clone, Debug, PartialEq)]
pub enum KeyEquality {
    /// `column = value`.
    Value(Expr),
    /// `column IS NULL` (an index column; a primary key has no NULLs).
    Null,
    /// `column IN (values)`.
    List(Vec<Expr>),
}

impl KeyEquality {
    /// Its expressions.
    pub fn exprs(&self) -> &[Expr] {
        match self {
            KeyEquality::Value(expr) => std::slice::from_ref(expr),
            KeyEquality::Null => &[],
            KeyEquality::List(list) => list,
        }
    }

    /// It with `f` applied to each of its expressions.
    pub fn try_map(self, f: &mut impl FnMut(Expr) -> Result<Expr>) -> Result<KeyEquality> {
        Ok(match self {
            KeyEquality::Value(expr) => KeyEquality::Value(f(expr)?),
            KeyEquality::Null => KeyEquality::Null,
            KeyEquality::List(list) => {
                KeyEquality::List(list.into_iter().map(f).collect::<Result<_>>()?)
            }
        })
    }

    /// Whether it can hold for more than one value.
    pub fn is_list(&self) -> bool {
        matches!(self, KeyEquality::List(_))
    }
}

/// A read through a secondary index: the entries whose leading columns
/// equal `equal` and whose next column lies within `lower` and `upper`,
/// in the index's order or backward. Each entry leads to its row by the
/// row key it ends with, unless the read is `covering`.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexAccess {
    /// The index's position in its table's `indexes`.
    pub index: usize,
    /// Row-independent values of the leading index columns, in index
    /// order. An IN-list reads the range of each distinct value, in the
    /// index's order.
    pub equal: Vec<KeyEquality>,
    /// Bounds on the index column after them, in SQL value order (not
    /// the index's: a descending column reads them in reverse).
    pub lower: Bound<Expr>,
    pub upper: Bound<Expr>,
    /// The next column's NULL entries are skipped (its `IS NOT NULL`
    /// test; a bound skips them anyway).
    pub not_null: bool,
    /// Entries in the reverse of the index's order.
    pub backward: bool,
    /// Every column the query reads is in the entry (indexed or part of
    /// the primary key), so the rows themselves are never read.
    pub covering: bool,
}

impl IndexAccess {
    /// The access's expressions.
    pub fn exprs(&self) -> impl Iterator<Item = &Expr> {
        fn bound(bound: &Bound<Expr>) -> Option<&Expr> {
            match bound {
                Bound::Included(e) | Bound::Excluded(e) => Some(e),
                Bound::Unbounded => None,
            }
        }
        self.equal
            .iter()
            .flat_map(KeyEquality::exprs)
            .chain(bound(&self.lower))
            .chain(bound(&self.upper))
    }

    /// The access with `f` applied to each of its expressions.
    pub fn try_map(self, mut f: impl FnMut(Expr) -> Result<Expr>) -> Result<IndexAccess> {
        Ok(IndexAccess {
            equal: self
                .equal
                .into_iter()
                .map(|value| value.try_map(&mut f))
                .collect::<Result<_>>()?,
            lower: map_bound(self.lower, &mut f)?,
            upper: map_bound(self.upper, &mut f)?,
            ..self
        })
    }
}

/// Whether a range has a bound at all.
pub fn bounded(lower: &Bound<Expr>, upper: &Bound<Expr>) -> bool {
    !matches!((lower, upper), (Bound::Unbounded, Bound::Unbounded))
}

/// A bound with `f` applied to its expression.
pub fn map_bound(
    bound: Bound<Expr>,
    f: &mut impl FnMut(Expr) -> Result<Expr>,
) -> Result<Bound<Expr>> {
    Ok(match bound {
        Bound::Included(e) => Bound::Included(f(e)?),
        Bound::Excluded(e) => Bound::Excluded(f(e)?),
        Bound::Unbounded => Bound::Unbounded,
    })
}

/// A logical query plan.
#[derive(Clone, Debug, PartialEq)]
pub enum LogicalPlan {
    /// Literal rows (also the single empty row of a FROM-less SELECT).
    Values {
        columns: Vec<ColumnId>,
        rows: Vec<Vec<Expr>>,
    },
    /// The rows of a table, one column id per table column.
    Scan {
        table: Arc<Table>,
        columns: Vec<ColumnId>,
        access: Access,
        filter: Option<Expr>,
    },
    Filter {
        input: Box<LogicalPlan>,
        predicate: Expr,
    },
    /// Computes new columns (an item `(id, Column(id))` passes one through).
    Project {
        input: Box<LogicalPlan>,
        exprs: Vec<(ColumnId, Expr)>,
    },
    /// Groups by `group_by` and computes `aggregates` per group; outputs the
    /// group columns, then the aggregate columns, then, with grouping sets,
    /// the index of the set each row belongs to.
    Aggregate {
        input: Box<LogicalPlan>,
        group_by: Vec<(ColumnId, Expr)>,
        aggregates: Vec<(ColumnId, Aggregate)>,
        grouping_sets: Option<GroupingSets>,
    },
    Distinct {
        input: Box<LogicalPlan>,
    },
    /// `DISTINCT ON (on)`: the first row of each run of rows with equal
    /// `on` values (its input arrives sorted with `on` leading).
    DistinctOn {
        input: Box<LogicalPlan>,
        on: Vec<Expr>,
    },
    /// Window functions: outputs the input columns, then one column per
    /// call.
    Window {
        input: Box<LogicalPlan>,
        functions: Vec<(ColumnId, WindowCall)>,
    },
    Sort {
        input: Box<LogicalPlan>,
        keys: Vec<SortKey>,
    },
    Limit {
        input: Box<LogicalPlan>,
        limit: Option<Expr>,
        offset: Option<Expr>,
    },
    /// Pairs of rows of two inputs (see [`JoinKind`]); the condition reads
    /// both inputs' columns.
    Join {
        left: Box<LogicalPlan>,
        right: Box<LogicalPlan>,
        kind: JoinKind,
        condition: Option<Expr>,
        strategy: JoinStrategy,
    },
    /// UNION / INTERSECT / EXCEPT [ALL] of two inputs of equal width, by
    /// position; outputs new columns.
    SetOperation {
        op: SetOperator,
        all: bool,
        left: Box<LogicalPlan>,
        right: Box<LogicalPlan>,
        columns: Vec<ColumnId>,
    },
    /// Rows of a table function.
    TableFunction {
        function: TableFunction,
        columns: Vec<ColumnId>,
    },
    /// Makes common table expression `id` available to `input`: its rows
    /// are computed once, at the first `CteScan` of it, and kept for the
    /// rest of the execution.
    WithCte {
        id: usize,
        name: String,
        definition: Box<LogicalPlan>,
        input: Box<LogicalPlan>,
    },
    /// The rows of a materialized common table expression, under fresh
    /// column ids (one scan per reference).
    CteScan {
        id: usize,
        name: String,
        columns: Vec<ColumnId>,
    },
    /// `WITH RECURSIVE`: `anchor`'s rows, then `recursive`'s run again and
    /// again over the rows the previous round added (its `WorkTable`
    /// scans), until a round adds none. Without `all`, rows already
    /// returned are dropped, which also ends cycles.
    RecursiveCte {
        id: usize,
        name: String,
        anchor: Box<LogicalPlan>,
        recursive: Box<LogicalPlan>,
        all: bool,
        columns: Vec<ColumnId>,
    },
    /// The previous round's rows of recursive CTE `id`.
    WorkTable {
        id: usize,
        name: String,
        columns: Vec<ColumnId>,
    },
}

impl LogicalPlan {
    /// The columns this operator produces, in row order.
    pub fn output(&self) -> Vec<ColumnId> {
        match self {
            LogicalPlan::Values { columns, .. }
            | LogicalPlan::Scan { columns, .. }
            | LogicalPlan::SetOperation { columns, .. }
            | LogicalPlan::TableFunction { columns, .. }
            | LogicalPlan::CteScan { columns, .. }
            | LogicalPlan::RecursiveCte { columns, .. }
            | LogicalPlan::WorkTable { columns, .. } => columns.clone(),
            LogicalPlan::Join {
                left, right, kind, ..
            } => {
                let mut output = left.output();
                if kind.outputs_right() {
                    output.extend(right.output());
                }
                output
            }
            LogicalPlan::Window { input, functions } => {
                let mut output = input.output();
                output.extend(functions.iter().map(|(id, _)| *id));
                output
            }
            LogicalPlan::WithCte { input, .. }
            | LogicalPlan::DistinctOn { input, .. }
            | LogicalPlan::Filter { input, .. }
            | LogicalPlan::Distinct { input }
            | LogicalPlan::Sort { input, .. }
            | LogicalPlan::Limit { input, .. } => input.output(),
            LogicalPlan::Project { exprs, .. } => exprs.iter().map(|(id, _)| *id).collect(),
            LogicalPlan::Aggregate {
                group_by,
                aggregates,
                grouping_sets,
                ..
            } => group_by
                .iter()
                .map(|(id, _)| *id)
                .chain(aggregates.iter().map(|(id, _)| *id))
                .chain(grouping_sets.iter().map(|sets| sets.id))
                .collect(),
        }
    }

    /// The operator's inputs.
    pub fn inputs(&self) -> Vec<&LogicalPlan> {
        match self {
            LogicalPlan::Values { .. }
            | LogicalPlan::Scan { .. }
            | LogicalPlan::TableFunction { .. }
            | LogicalPlan::CteScan { .. }
            | LogicalPlan::WorkTable { .. } => Vec::new(),
            LogicalPlan::Join { left, right, .. }
            | LogicalPlan::SetOperation { left, right, .. } => vec![left, right],
            LogicalPlan::WithCte {
                definition, input, ..
            } => vec![definition, input],
            LogicalPlan::RecursiveCte {
                anchor, recursive, ..
            } => vec![anchor, recursive],
            LogicalPlan::Filter { input, .. }
            | LogicalPlan::Project { input, .. }
            | LogicalPlan::Aggregate { input, .. }
            | LogicalPlan::DistinctOn { input, .. }
            | LogicalPlan::Window { input, .. }
            | LogicalPlan::Distinct { input }
            | LogicalPlan::Sort { input, .. }
            | LogicalPlan::Limit { input, .. } => vec![input],
        }
    }

    /// Calls `visit` on this operator and every operator under it, the
    /// plans of the subqueries in their expressions included (each before
    /// its inputs).
    pub fn for_each_plan(&self, visit: &mut dyn FnMut(&LogicalPlan)) {
        visit(self);
        self.for_each_expr(|expr| {
            expr.walk(&mut |node| {
                if let Expr::Subquery(subquery) = node {
                    subquery.plan.for_each_plan(visit);
                }
            })
        });
        for input in self.inputs() {
            input.for_each_plan(visit);
        }
    }

    /// Calls `visit` on every expression of this operator (not its inputs).
    pub fn for_each_expr<'a>(&'a self, mut visit: impl FnMut(&'a Expr)) {
        match self {
            LogicalPlan::Values { rows, .. } => rows.iter().flatten().for_each(visit),
            LogicalPlan::Scan { access, filter, .. } => {
                match access {
                    Access::Full { .. } => {}
                    Access::Key { key, .. } => {
                        key.iter().flat_map(KeyEquality::exprs).for_each(&mut visit)
                    }
                    Access::Range { start, end, .. } => {
                        for bound in [start, end] {
                            if let Bound::Included(e) | Bound::Excluded(e) = bound {
                                visit(e);
                            }
                        }
                    }
                    Access::Index(index) => index.exprs().for_each(&mut visit),
                }
                if let Some(filter) = filter {
                    visit(filter);
                }
            }
            LogicalPlan::Filter { predicate, .. } => visit(predicate),
            LogicalPlan::Project { exprs, .. } => exprs.iter().for_each(|(_, e)| visit(e)),
            LogicalPlan::Aggregate {
                group_by,
                aggregates,
                ..
            } => {
                group_by.iter().for_each(|(_, e)| visit(e));
                aggregates
                    .iter()
                    .flat_map(|(_, a)| a.exprs())
                    .for_each(visit);
            }
            LogicalPlan::Distinct { .. } => {}
            LogicalPlan::DistinctOn { on, .. } => on.iter().for_each(visit),
            LogicalPlan::Window { functions, .. } => functions
                .iter()
                .flat_map(|(_, call)| call.exprs())
                .for_each(visit),
            LogicalPlan::Sort { keys, .. } => keys.iter().for_each(|k| visit(&k.expr)),
            LogicalPlan::Limit { limit, offset, .. } => {
                limit.iter().chain(offset.iter()).for_each(visit)
            }
            LogicalPlan::Join {
                condition,
                strategy,
                ..
            } => {
                if let JoinStrategy::Hash { keys } | JoinStrategy::Merge { keys } = strategy {
                    for (left, right) in keys {
                        visit(left);
                        visit(right);
                    }
                }
                condition.iter().for_each(visit);
            }
            LogicalPlan::TableFunction {
                function:
                    TableFunction::GenerateSeries {
                        start, stop, step, ..
                    },
                ..
            } => {
                visit(start);
                visit(stop);
                step.iter().for_each(visit);
            }
            LogicalPlan::SetOperation { .. }
            | LogicalPlan::WithCte { .. }
            | LogicalPlan::CteScan { .. }
            | LogicalPlan::RecursiveCte { .. }
            | LogicalPlan::WorkTable { .. } => {}
        }
    }

    /// The ids the plan reads that no operator inside it produces: the
    /// enclosing query's columns a subquery plan depends on, in first-read
    /// order.
    pub fn free_columns(&self) -> Vec<ColumnId> {
        let mut produced = Vec::new();
        let mut read = Vec::new();
        self.collect_columns(&mut produced, &mut read);
        read.retain(|id| !produced.contains(id));
        read
    }

    fn collect_columns(&self, produced: &mut Vec<ColumnId>, read: &mut Vec<ColumnId>) {
        for input in self.inputs() {
            input.collect_columns(produced, read);
        }
        produced.extend(self.output());
        self.for_each_expr(|expr| {
            expr.walk_columns(&mut |id| {
                if !read.contains(&id) {
                    read.push(id);
                }
            })
        });
    }
}

impl LogicalPlan {
    /// Rebuilds the operator with each input replaced by `f(input)`.
    pub fn map_inputs(
        self,
        mut f: impl FnMut(LogicalPlan) -> Result<LogicalPlan>,
    ) -> Result<LogicalPlan> {
        let mut input =
            |input: Box<LogicalPlan>| -> Result<Box<LogicalPlan>> { Ok(Box::new(f(*input)?)) };
        Ok(match self {
            leaf @ (LogicalPlan::Values { .. }
            | LogicalPlan::Scan { .. }
            | LogicalPlan::TableFunction { .. }
            | LogicalPlan::CteScan { .. }
            | LogicalPlan::WorkTable { .. }) => leaf,
            LogicalPlan::Join {
                left,
                right,
                kind,
                condition,
                strategy,
            } => LogicalPlan::Join {
                left: input(left)?,
                right: input(right)?,
                kind,
                condition,
                strategy,
            },
            LogicalPlan::SetOperation {
                op,
                all,
                left,
                right,
                columns,
            } => LogicalPlan::SetOperation {
                op,
                all,
                left: input(left)?,
                right: input(right)?,
                columns,
            },
            LogicalPlan::WithCte {
                id,
                name,
                definition,
                input: child,
            } => LogicalPlan::WithCte {
                id,
                name,
                definition: input(definition)?,
                input: input(child)?,
            },
            LogicalPlan::RecursiveCte {
                id,
                name,
                anchor,
                recursive,
                all,
                columns,
            } => LogicalPlan::RecursiveCte {
                id,
                name,
                anchor: input(anchor)?,
                recursive: input(recursive)?,
                all,
                columns,
            },
            LogicalPlan::Filter {
                input: child,
                predicate,
            } => LogicalPlan::Filter {
                input: input(child)?,
                predicate,
            },
            LogicalPlan::Project {
                input: child,
                exprs,
            } => LogicalPlan::Project {
                input: input(child)?,
                exprs,
            },
            LogicalPlan::Aggregate {
                input: child,
                group_by,
                aggregates,
                grouping_sets,
            } => LogicalPlan::Aggregate {
                input: input(child)?,
                group_by,
                aggregates,
                grouping_sets,
            },
            LogicalPlan::Distinct { input: child } => LogicalPlan::Distinct {
                input: input(child)?,
            },
            LogicalPlan::DistinctOn { input: child, on } => LogicalPlan::DistinctOn {
                input: input(child)?,
                on,
            },
            LogicalPlan::Window {
                input: child,
                functions,
            } => LogicalPlan::Window {
                input: input(child)?,
                functions,
            },
            LogicalPlan::Sort { input: child, keys } => LogicalPlan::Sort {
                input: input(child)?,
                keys,
            },
            LogicalPlan::Limit {
                input: child,
                limit,
                offset,
            } => LogicalPlan::Limit {
                input: input(child)?,
                limit,
                offset,
            },
        })
    }

    /// Rebuilds the operator with each of its expressions replaced by
    /// `f(expr)` (not its inputs' expressions).
    pub fn map_exprs(self, mut f: impl FnMut(Expr) -> Result<Expr>) -> Result<LogicalPlan> {
        let mut option = |expr: Option<Expr>| expr.map(&mut f).transpose();
        Ok(match self {
            LogicalPlan::Values { columns, rows } => LogicalPlan::Values {
                columns,
                rows: rows
                    .into_iter()
                    .map(|row| row.into_iter().map(&mut f).collect::<Result<_>>())
                    .collect::<Result<_>>()?,
            },
            LogicalPlan::Scan {
                table,
                columns,
                access,
                filter,
            } => {
                let access = match access {
                    full @ Access::Full { .. } => full,
                    Access::Key { key, backward } => Access::Key {
                        key: key
                            .into_iter()
                            .map(|value| value.try_map(&mut f))
                            .collect::<Result<_>>()?,
                        backward,
                    },
                    Access::Range {
                        start,
                        end,
                        backward,
                    } => Access::Range {
                        start: map_bound(start, &mut f)?,
                        end: map_bound(end, &mut f)?,
                        backward,
                    },
                    Access::Index(index) => Access::Index(index.try_map(&mut f)?),
                };
                LogicalPlan::Scan {
                    table,
                    columns,
                    access,
                    filter: filter.map(&mut f).transpose()?,
                }
            }
            LogicalPlan::Filter { input, predicate } => LogicalPlan::Filter {
                input,
                predicate: f(predicate)?,
            },
            LogicalPlan::Project { input, exprs } => LogicalPlan::Project {
                input,
                exprs: exprs
                    .into_iter()
                    .map(|(id, e)| Ok((id, f(e)?)))
                    .collect::<Result<_>>()?,
            },
            LogicalPlan::Aggregate {
                input,
                group_by,
                aggregates,
                grouping_sets,
            } => LogicalPlan::Aggregate {
                input,
                grouping_sets,
                group_by: group_by
                    .into_iter()
                    .map(|(id, e)| Ok((id, f(e)?)))
                    .collect::<Result<_>>()?,
                aggregates: aggregates
                    .into_iter()
                    .map(|(id, aggregate)| Ok((id, aggregate.map_exprs(&mut f)?)))
                    .collect::<Result<_>>()?,
            },
            LogicalPlan::Join {
                left,
                right,
                kind,
                condition,
                strategy,
            } => {
                let strategy = match strategy {
                    JoinStrategy::Hash { keys } => JoinStrategy::Hash {
                        keys: keys
                            .into_iter()
                            .map(|(l, r)| Ok((f(l)?, f(r)?)))
                            .collect::<Result<_>>()?,
                    },
                    JoinStrategy::Merge { keys } => JoinStrategy::Merge {
                        keys: keys
                            .into_iter()
                            .map(|(l, r)| Ok((f(l)?, f(r)?)))
                            .collect::<Result<_>>()?,
                    },
                    other => other,
                };
                LogicalPlan::Join {
                    left,
                    right,
                    kind,
                    condition: condition.map(&mut f).transpose()?,
                    strategy,
                }
            }
            LogicalPlan::TableFunction {
                function:
                    TableFunction::GenerateSeries {
                        start,
                        stop,
                        step,
                        data_type,
                    },
                columns,
            } => LogicalPlan::TableFunction {
                function: TableFunction::GenerateSeries {
                    start: f(start)?,
                    stop: f(stop)?,
                    step: step.map(&mut f).transpose()?,
                    data_type,
                },
                columns,
            },
            LogicalPlan::DistinctOn { input, on } => LogicalPlan::DistinctOn {
                input,
                on: on.into_iter().map(&mut f).collect::<Result<_>>()?,
            },
            LogicalPlan::Window { input, functions } => LogicalPlan::Window {
                input,
                functions: functions
                    .into_iter()
                    .map(|(id, call)| Ok((id, call.map_exprs(&mut f)?)))
                    .collect::<Result<_>>()?,
            },
            other @ (LogicalPlan::Distinct { .. }
            | LogicalPlan::SetOperation { .. }
            | LogicalPlan::WithCte { .. }
            | LogicalPlan::CteScan { .. }
            | LogicalPlan::RecursiveCte { .. }
            | LogicalPlan::WorkTable { .. }) => other,
            LogicalPlan::Sort { input, keys } => LogicalPlan::Sort {
                input,
                keys: keys
                    .into_iter()
                    .map(|key| {
                        Ok(SortKey {
                            expr: f(key.expr)?,
                            ..key
                        })
                    })
                    .collect::<Result<_>>()?,
            },
            LogicalPlan::Limit {
                input,
                limit,
                offset,
            } => LogicalPlan::Limit {
                input,
                limit: option(limit)?,
                offset: option(offset)?,
            },
        })
    }

    /// Applies `f` to every operator, inputs before the operator itself.
    pub fn transform_up(
        self,
        f: &mut impl FnMut(LogicalPlan) -> Result<LogicalPlan>,
    ) -> Result<LogicalPlan> {
        crate::sql::stack::check()?;
        let rebuilt = self.map_inputs(|input| input.transform_up(f))?;
        f(rebuilt)
    }
}
