//! Rule: join algorithm. Each nested-loop join whose condition has
//! equalities between its two sides (`l = r`, `l` reading only the left
//! input and `r` only the right) gets the cheapest, by the cost model
//! (`cost.rs`, [`JoinInputs::cost`](super::cost::JoinInputs::cost)), of
//! the algorithms its shape allows:
//! 1. **key lookup** (parameterized nested loop): the right input is a
//!    table whose whole primary key, or an index's leading column, the
//!    equalities fix (an index nested loop), and the join is INNER, LEFT,
//!    semi or anti: the condition moves into the right input, which then
//!    reads one key per left row (`access_path` turns it into a lookup);
//! 2. **merge**: both inputs are scans of tables read in primary-key
//!    order, joined on the leading column of each primary key (a table
//!    with a composite key, such as order lines keyed by order and line
//!    number, arrives ordered on its first column, equal values adjacent),
//!    both restricted or neither (a restricted input against a whole
//!    table hashes, whose scan of the whole one is narrowed to the
//!    restricted side's key span, where a merge would read and lock it
//!    up to the last match);
//! 3. **hash**, built on the right input or, for an inner join, on the
//!    left (the inputs swapped under a projection that restores the
//!    column order); the equalities become the hash keys and the other
//!    conjuncts stay as the condition.
//!
//! `join_search` prices the same algorithms with the same function when
//! it orders joins, so the order it chose is costed as it will run. Of
//! equal costs the earlier in the list above wins.
//!
//! Why the rows are the same: each strategy finds exactly the pairs the
//! condition accepts. A hash or merge match is an equality of the keys
//! (a NULL key matches nothing, as `=` is never true for NULL), and the
//! remaining conjuncts are still tested; a key lookup reads the right rows
//! whose key equals the left values and tests the whole condition on them.
//! For LEFT, semi and anti joins a left row is unmatched exactly when the
//! right input, filtered by the condition, has no row for it.

use super::OptimizerContext;
use super::cost::JoinMethod;
use super::estimate::Estimator;
use crate::error::Result;
use crate::sql::expr::{BinaryOp, ColumnId, Expr};
use crate::sql::plan::{Access, ColumnCatalog, JoinKind, JoinStrategy, LogicalPlan};
use crate::sql::types::DataType;

pub fn join_strategy(plan: LogicalPlan, context: &mut OptimizerContext<'_>) -> Result<LogicalPlan> {
    let context: &OptimizerContext<'_> = context;
    let estimator = Estimator::new([&plan], context.statistics, context.columns);
    plan.transform_up(&mut |node| {
        Ok(match node {
            LogicalPlan::Join {
                left,
                right,
                kind,
                condition: Some(condition),
                strategy: JoinStrategy::NestedLoop,
            } => choose(*left, *right, kind, condition, &estimator),
            other => other,
        })
    })
}

fn choose(
    left: LogicalPlan,
    right: LogicalPlan,
    kind: JoinKind,
    condition: Expr,
    estimator: &Estimator<'_>,
) -> LogicalPlan {
    let left_columns = left.output();
    let right_columns = right.output();
    let mut keys = Vec::new();
    let mut residual = Vec::new();
    for conjunct in condition.clone().into_conjuncts() {
        match equi_pair(
            &conjunct,
            &left_columns,
            &right_columns,
            estimator.columns(),
        ) {
            Some(pair) => keys.push(pair),
            None => residual.push(conjunct),
        }
    }
    if keys.is_empty() {
        return LogicalPlan::Join {
            left: Box::new(left),
            right: Box::new(right),
            kind,
            condition: Some(condition),
            strategy: JoinStrategy::NestedLoop,
        };
    }
    let mut candidates = Vec::new();
    if can_look_up(kind, &right, &keys) {
        let right = match right.clone() {
            LogicalPlan::Filter { input, predicate } => LogicalPlan::Filter {
                input,
                predicate: Expr::and(predicate, condition.clone()),
            },
            other => LogicalPlan::Filter {
                input: Box::new(other),
                predicate: condition.clone(),
            },
        };
        candidates.push(LogicalPlan::Join {
            left: Box::new(left.clone()),
            right: Box::new(right),
            kind,
            condition: None,
            strategy: JoinStrategy::Parameterized,
        });
    }
    if can_merge(&left, &right, &keys) {
        candidates.push(LogicalPlan::Join {
            left: Box::new(left.clone()),
            right: Box::new(right.clone()),
            kind,
            condition: Expr::conjunction(residual.clone()),
            strategy: JoinStrategy::Merge { keys: keys.clone() },
        });
    }
    if kind == JoinKind::Inner {
        // The hash join builds its table from the right input; building
        // it from the left instead swaps the inputs. Columns are found by
        // id, so only the output order needs restoring.
        let mut output = left.output();
        output.extend(right.output());
        candidates.push(LogicalPlan::Project {
            input: Box::new(LogicalPlan::Join {
                left: Box::new(right.clone()),
                right: Box::new(left.clone()),
                kind,
                condition: Expr::conjunction(residual.clone()),
                strategy: JoinStrategy::Hash {
                    keys: keys.iter().map(|(l, r)| (r.clone(), l.clone())).collect(),
                },
            }),
            exprs: output
                .into_iter()
                .map(|id| (id, Expr::Column(id)))
                .collect(),
        });
    }
    candidates.push(LogicalPlan::Join {
        left: Box::new(left),
        right: Box::new(right),
        kind,
        condition: Expr::conjunction(residual),
        strategy: JoinStrategy::Hash { keys },
    });
    // The cheapest; of equal costs the earliest (the hash join building
    // on the written right input is last, so it wins only when cheaper
    // than its swap).
    let mut best: Option<(f64, LogicalPlan)> = None;
    for candidate in candidates {
        let cost = estimator.estimate(&candidate).total;
        if best.as_ref().is_none_or(|(best_cost, _)| cost < *best_cost) {
            best = Some((cost, candidate));
        }
    }
    best.expect("invariant: a hash join is always a candidate")
        .1
}

/// Whether a lookup join is possible: the join keeps or drops left rows
/// by their matches (INNER, LEFT, semi, anti) and the right input is a
/// table whose key or an index's leading column the keys fix.
fn can_look_up(kind: JoinKind, right: &LogicalPlan, keys: &[(Expr, Expr)]) -> bool {
    matches!(
        kind,
        JoinKind::Inner | JoinKind::Left | JoinKind::Semi | JoinKind::Anti
    ) && fixes_lookup_key(right, keys)
}

/// Whether a merge join is possible: one key pair, the leading key column
/// of two tables read in key order. A restricted input against a whole
/// table is not merged: the hash join narrows its scan of the whole one
/// to the restricted side's key span (`hash_join.rs`), where a merge would
/// read (and lock for SSI) the whole table up to the last match.
fn can_merge(left: &LogicalPlan, right: &LogicalPlan, keys: &[(Expr, Expr)]) -> bool {
    matches!(keys, [(l, r)]
        if key_ordered_scan(left, l)
            && key_ordered_scan(right, r)
            && is_restricted(left) == is_restricted(right))
}

/// The methods besides hashing that could join `inner` to `outer` (a
/// relation, or `None` for a join of several) on `keys`, returning
/// `rows_per_outer_row` inner rows per outer row (`join_search` prices
/// them all).
pub(super) fn join_methods(
    outer: Option<&LogicalPlan>,
    inner: &LogicalPlan,
    kind: JoinKind,
    keys: &[(Expr, Expr)],
    rows_per_outer_row: f64,
    estimator: &Estimator<'_>,
) -> Vec<JoinMethod> {
    let mut methods = Vec::new();
    if outer.is_some_and(|outer| can_merge(outer, inner, keys)) {
        methods.push(JoinMethod::Merge { keys: keys.len() });
    }
    if can_look_up(kind, inner, keys) {
        // By the primary key when the keys fix its leading column.
        let by_key = match base_scan(inner) {
            Some(LogicalPlan::Scan { table, columns, .. }) => {
                table.primary_key.first().is_some_and(|column| {
                    keys.iter()
                        .any(|(_, right)| *right == Expr::Column(columns[*column]))
                })
            }
            _ => false,
        };
        let filter = match inner {
            LogicalPlan::Filter { predicate, .. } => Some(predicate),
            _ => None,
        };
        methods.push(JoinMethod::Lookup {
            per_outer_row: estimator.lookup_cost_by(filter, rows_per_outer_row.max(1.0), by_key),
        });
    }
    methods
}

/// Types whose values compare equal exactly when their keys do (hash and
/// merge use `Value`'s equality and order).
fn comparable(a: DataType, b: DataType) -> bool {
    a == b || (a.is_numeric() && b.is_numeric()) || (a.is_text() && b.is_text())
}

/// `l = r` (either way round) with `l` over the left input only and `r`
/// over the right only: `(l, r)`.
pub(super) fn equi_pair(
    conjunct: &Expr,
    left: &[ColumnId],
    right: &[ColumnId],
    columns: &ColumnCatalog,
) -> Option<(Expr, Expr)> {
    let Expr::Binary {
        op: BinaryOp::Equal,
        left: a,
        right: b,
        ..
    } = conjunct
    else {
        return None;
    };
    let side = |e: &Expr, columns: &[ColumnId]| {
        let read = e.columns();
        !read.is_empty() && read.iter().all(|id| columns.contains(id)) && !contains_subquery(e)
    };
    let pair = if side(a, left) && side(b, right) {
        ((**a).clone(), (**b).clone())
    } else if side(b, left) && side(a, right) {
        ((**b).clone(), (**a).clone())
    } else {
        return None;
    };
    match (plain_type(&pair.0, columns), plain_type(&pair.1, columns)) {
        (Some(x), Some(y)) if comparable(x, y) => Some(pair),
        // Computed keys: their types were unified by the binder.
        (None, _) | (_, None) => Some(pair),
        _ => None,
    }
}

fn plain_type(expr: &Expr, columns: &ColumnCatalog) -> Option<DataType> {
    match expr {
        Expr::Column(id) => Some(columns.data_type(*id)),
        _ => None,
    }
}

fn contains_subquery(expr: &Expr) -> bool {
    let mut found = false;
    expr.walk(&mut |e| found |= matches!(e, Expr::Subquery(_)));
    found
}

/// Whether the plan already drops rows: a filter, or a join with a
/// restricted input whose unmatched rows it drops (so its rows are
/// presumably few enough to look keys up one by one). A join of whole
/// tables along a foreign key has as many rows as its larger input, so it
/// is not restricted: a million key lookups lose to one hash table.
fn is_restricted(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::Filter { .. } => true,
        LogicalPlan::Join {
            kind, left, right, ..
        } => match kind {
            JoinKind::Inner | JoinKind::Semi => is_restricted(left) || is_restricted(right),
            JoinKind::Left | JoinKind::Anti => is_restricted(left),
            JoinKind::Right => is_restricted(right),
            JoinKind::Full => is_restricted(left) && is_restricted(right),
        },
        LogicalPlan::Scan { access, filter, .. } => {
            filter.is_some() || !matches!(access, Access::Full { .. })
        }
        LogicalPlan::Project { input, .. } | LogicalPlan::Sort { input, .. } => {
            is_restricted(input)
        }
        LogicalPlan::Limit { .. } | LogicalPlan::Values { .. } => true,
        _ => false,
    }
}

/// The table scan at the bottom of a plan that is a scan, possibly
/// filtered.
fn base_scan(plan: &LogicalPlan) -> Option<&LogicalPlan> {
    match plan {
        LogicalPlan::Scan { .. } => Some(plan),
        LogicalPlan::Filter { input, .. } => base_scan(input),
        _ => None,
    }
}

/// Whether the right input is a (filtered) table scan whose primary key's
/// or one of its indexes' leading column the right sides of `keys` name: a
/// lookup by the left row's values then reads only the matching rows
/// (`access_path` picks the key lookup, key prefix or index read).
fn fixes_lookup_key(right: &LogicalPlan, keys: &[(Expr, Expr)]) -> bool {
    let Some(LogicalPlan::Scan {
        table,
        columns,
        access: Access::Full { .. },
        filter: None,
    }) = base_scan(right)
    else {
        return false;
    };
    let named = |column: &usize| {
        keys.iter()
            .any(|(_, r)| *r == Expr::Column(columns[*column]))
    };
    table.primary_key.first().is_some_and(named)
        || table.indexes.iter().any(|index| {
            index.predicate.is_none()
                && index
                    .columns
                    .first()
                    .and_then(|first| first.table_column())
                    .is_some_and(|first| named(&first))
        })
}

/// Whether `plan` is a (filtered) table scan in primary-key order whose
/// leading key column is `key`: its rows arrive ordered on `key`.
fn key_ordered_scan(plan: &LogicalPlan, key: &Expr) -> bool {
    match base_scan(plan) {
        Some(LogicalPlan::Scan { table, columns, .. }) => match table.primary_key.first() {
            Some(column) => *key == Expr::Column(columns[*column]),
            None => false,
        },
        _ => false,
    }
}
