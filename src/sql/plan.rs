//! Plans: the closed set of operators a query executes as, the planner's
//! one rewrite (primary-key access), and `EXPLAIN` rendering.
//!
//! ```text
//!   Limit ─► Sort ─► Project ─► Aggregate ─► Filter ─► Scan | KeyLookup | Values
//! ```
//!
//! Rows flow upward. A `Scan` or `KeyLookup` produces whole table rows (one
//! value per column, in table order); `Aggregate` produces group values
//! followed by aggregate results; `Project` computes the output columns.
//!
//! Access-path selection (invariant: the filter is never dropped, so every
//! rewrite only narrows which keys are read, never which rows qualify):
//! 1. `pk = const` on every primary-key column → `KeyLookup` (one get, no scan);
//! 2. `pk <op> const` bounds on a single-column primary key → a key range scan.
//!
//! `explain.rs` renders plans for `EXPLAIN`.

use std::ops::Bound;

use super::catalog::Table;
use super::expr::{BinaryOp, Expr};
use super::types::DataType;

/// An aggregate function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggregateFunction {
    CountStar,
    Count,
    Sum,
    Min,
    Max,
    Avg,
}

impl AggregateFunction {
    pub fn name(&self) -> &'static str {
        match self {
            AggregateFunction::CountStar | AggregateFunction::Count => "count",
            AggregateFunction::Sum => "sum",
            AggregateFunction::Min => "min",
            AggregateFunction::Max => "max",
            AggregateFunction::Avg => "avg",
        }
    }
}

/// One aggregate call: function, argument (none for `count(*)`), DISTINCT.
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregate {
    pub function: AggregateFunction,
    pub arg: Option<Expr>,
    pub distinct: bool,
    pub data_type: DataType,
}

/// One ORDER BY key.
#[derive(Clone, Debug, PartialEq)]
pub struct SortKey {
    pub expr: Expr,
    pub descending: bool,
    pub nulls_first: bool,
}

/// A query plan.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// Literal rows (also the single empty row of a FROM-less SELECT).
    Values {
        rows: Vec<Vec<Expr>>,
    },
    /// Every row of a table, optionally within a primary-key range.
    Scan {
        table: Table,
        start: Bound<Expr>,
        end: Bound<Expr>,
        filter: Option<Expr>,
    },
    /// The row with this primary key, if any.
    KeyLookup {
        table: Table,
        key: Vec<Expr>,
        filter: Option<Expr>,
    },
    Filter {
        input: Box<Plan>,
        predicate: Expr,
    },
    Project {
        input: Box<Plan>,
        exprs: Vec<Expr>,
    },
    Aggregate {
        input: Box<Plan>,
        group_by: Vec<Expr>,
        aggregates: Vec<Aggregate>,
    },
    Distinct {
        input: Box<Plan>,
    },
    Sort {
        input: Box<Plan>,
        keys: Vec<SortKey>,
    },
    Limit {
        input: Box<Plan>,
        limit: Option<Expr>,
        offset: Option<Expr>,
    },
}

/// Splits a predicate into its AND-ed conjuncts.
fn conjuncts(expr: &Expr) -> Vec<&Expr> {
    match expr {
        Expr::And(left, right) => {
            let mut out = conjuncts(left);
            out.extend(conjuncts(right));
            out
        }
        other => vec![other],
    }
}

/// Whether a key expression of type `key` can be encoded as a key of
/// column type `column` with the same ordering the comparison uses.
fn key_compatible(column: DataType, key: Option<DataType>) -> bool {
    let Some(key) = key else { return false };
    (column.is_integer() && key.is_integer())
        || (matches!(column, DataType::Real | DataType::Double)
            && matches!(key, DataType::Real | DataType::Double))
        || (column.is_text() && key.is_text())
        || (column == DataType::Boolean && key == DataType::Boolean)
}

/// `column <op> expr` with `expr` row-independent, normalised so the column
/// is on the left.
fn column_comparison(expr: &Expr) -> Option<(usize, BinaryOp, &Expr, Option<DataType>)> {
    let Expr::Binary {
        op, left, right, ..
    } = expr
    else {
        return None;
    };
    if !op.is_comparison() || *op == BinaryOp::NotEqual {
        return None;
    }
    match (left.as_ref(), right.as_ref()) {
        (Expr::Column(index), other) if other.is_row_independent() => {
            Some((*index, *op, other, static_type(other)))
        }
        (other, Expr::Column(index)) if other.is_row_independent() => {
            Some((*index, op.flip(), other, static_type(other)))
        }
        _ => None,
    }
}

/// The type of a row-independent key expression, where it is evident.
fn static_type(expr: &Expr) -> Option<DataType> {
    match expr {
        Expr::Literal(value) => value.data_type(),
        Expr::Cast { to, .. } => Some(*to),
        Expr::Binary { data_type, op, .. } if !op.is_comparison() => Some(*data_type),
        Expr::Negate(inner) => static_type(inner),
        _ => None,
    }
}

/// Chooses the access path for a filtered table scan.
pub fn access_path(table: Table, filter: Option<Expr>, param_types: &[DataType]) -> Plan {
    let Some(predicate) = &filter else {
        return Plan::Scan {
            table,
            start: Bound::Unbounded,
            end: Bound::Unbounded,
            filter,
        };
    };
    let comparisons: Vec<_> = conjuncts(predicate)
        .into_iter()
        .filter_map(column_comparison)
        .map(|(column, op, expr, data_type)| {
            let data_type = match expr {
                Expr::Parameter(index) => param_types.get(*index).copied(),
                _ => data_type,
            };
            (column, op, expr, data_type)
        })
        .filter(|(column, _, _, data_type)| {
            table
                .columns
                .get(*column)
                .is_some_and(|c| key_compatible(c.data_type, *data_type))
        })
        .collect();
    let mut key = Vec::new();
    for column in &table.primary_key {
        match comparisons
            .iter()
            .find(|(c, op, _, _)| c == column && *op == BinaryOp::Equal)
        {
            Some((_, _, expr, _)) => key.push((*expr).clone()),
            None => break,
        }
    }
    if !table.primary_key.is_empty() && key.len() == table.primary_key.len() {
        return Plan::KeyLookup { table, key, filter };
    }
    let (mut start, mut end) = (Bound::Unbounded, Bound::Unbounded);
    if let [column] = table.primary_key.as_slice() {
        for (c, op, expr, _) in &comparisons {
            if c != column {
                continue;
            }
            let expr = (*expr).clone();
            match op {
                BinaryOp::Greater => start = Bound::Excluded(expr),
                BinaryOp::GreaterOrEqual => start = Bound::Included(expr),
                BinaryOp::Less => end = Bound::Excluded(expr),
                BinaryOp::LessOrEqual => end = Bound::Included(expr),
                _ => {}
            }
        }
    }
    Plan::Scan {
        table,
        start,
        end,
        filter,
    }
}
