//! The optimizer: an ordered list of rewrite rules over logical plans.
//!
//! Each rule is a function from a plan to an equivalent plan (same rows,
//! same order where the query orders them), with the argument for why in
//! its module doc and its own tests. [`optimize`] runs the rules in order
//! over the statement's plan, and over the plan of every subquery inside
//! its expressions.
//!
//! | order | rule | what it does |
//! |---|---|---|
//! | 1 | `simplify` | folds NULL through strict operators and constants through AND/OR/NOT; a filter that can never be true reads nothing |
//! | 2 | `decorrelate` | turns WHERE `EXISTS`, `NOT EXISTS` and `IN` subqueries into semi and anti joins |
//! | 3 | `pushdown` | moves each filter conjunct down as far as its columns allow: into join inputs and conditions, below projections, sorts, aggregates, set operations |
//! | 4 | `join_order` | rebuilds each tree of inner joins in the cheapest order by dynamic programming over connected subsets (`join_search`; greedy beyond ten relations) |
//! | 5 | `join_strategy` | picks key lookup, merge or hash for joins with equality conditions |
//! | 6 | `access_path` | merges a filter into the table scan below it and picks the cheapest of key lookup, key range, index read and full scan by the cost model (`estimate.rs`, `cost.rs`; key order kept for merge-join inputs) |
//! | 7 | `ordered_scan` | drops a sort the scan's order already gives, the primary key's or an index's, forward or backward (switching to an index under a LIMIT), and reads `min`/`max` as the first row of such an order |
//! | 8 | `prune` | gives each table scan a projection to the columns the operators above read, so the rest are never decoded or carried |

mod access_path;
pub mod cost;
mod decorrelate;
mod equivalence;
pub mod estimate;
mod implication;
mod join_order;
mod join_search;
mod join_strategy;
mod ordered_scan;
mod prune;
mod pushdown;
mod simplify;

use std::sync::Arc;

use super::expr::{Expr, Subquery};
use super::plan::{ColumnCatalog, LogicalPlan};
use super::statistics::StatisticsSet;
use super::types::DataType;
use crate::error::Result;

/// What rules may read (and add to) besides the plan.
pub struct OptimizerContext<'a> {
    pub columns: &'a mut ColumnCatalog,
    /// The types of `$1..$n`.
    pub param_types: &'a [DataType],
    /// The statistics of the statement's tables (`estimate`, `cost`).
    pub statistics: &'a StatisticsSet,
}

/// A rewrite rule.
type Rule = fn(LogicalPlan, &mut OptimizerContext<'_>) -> Result<LogicalPlan>;

/// The rules, in the order they run.
const RULES: &[(&str, Rule)] = &[
    ("simplify", simplify::simplify),
    ("decorrelate", decorrelate::decorrelate),
    ("pushdown", pushdown::pushdown),
    ("join_order", join_order::join_order),
    ("join_strategy", join_strategy::join_strategy),
    ("access_path", access_path::access_path),
    ("ordered_scan", ordered_scan::ordered_scan),
    ("prune", prune::prune),
];

/// Optimizes a plan and the plans of its subqueries.
pub fn optimize(plan: LogicalPlan, context: &mut OptimizerContext<'_>) -> Result<LogicalPlan> {
    let mut plan = plan;
    for (_, rule) in RULES {
        plan = rule(plan, context)?;
    }
    plan.transform_up(&mut |node| node.map_exprs(|expr| optimize_subqueries(expr, context)))
}

/// Optimizes the filtered table scan an UPDATE or DELETE reads its target
/// through: only its access path (it must stay one scan, which returns
/// the storage keys of the rows to change), and its subqueries.
pub fn optimize_scan(plan: LogicalPlan, context: &mut OptimizerContext<'_>) -> Result<LogicalPlan> {
    let plan = access_path::access_path(plan, context)?;
    plan.transform_up(&mut |node| node.map_exprs(|expr| optimize_subqueries(expr, context)))
}

/// Optimizes the plan of every subquery in an expression.
fn optimize_subqueries(expr: Expr, context: &mut OptimizerContext<'_>) -> Result<Expr> {
    expr.transform(&mut |node| match node {
        Expr::Subquery(subquery) => {
            let Subquery { plan, .. } = subquery.as_ref();
            let optimized = optimize(plan.as_ref().clone(), context)?;
            Ok(Expr::Subquery(Box::new(Subquery {
                plan: Arc::new(optimized),
                ..*subquery
            })))
        }
        other => Ok(other),
    })
}

/// Fixtures the rules' tests share.
#[cfg(test)]
pub(crate) mod test_support {
    use std::sync::Arc;

    use crate::sql::catalog::{Table, TableColumn};
    use crate::sql::expr::{BinaryOp, ColumnId, Expr};
    use crate::sql::plan::{Access, ColumnCatalog, LogicalPlan};
    use crate::sql::types::DataType;

    /// A full scan of table `name` with integer columns, the first its
    /// primary key; returns the plan and the columns' ids.
    pub(crate) fn scan(
        columns: &mut ColumnCatalog,
        name: &str,
        column_names: &[&str],
        nullable: bool,
    ) -> (LogicalPlan, Vec<ColumnId>) {
        scan_in_tree(columns, name, column_names, nullable, 16)
    }

    /// [`scan`] of a table stored in tree `tree` (which statistics are
    /// keyed by).
    pub(crate) fn scan_in_tree(
        columns: &mut ColumnCatalog,
        name: &str,
        column_names: &[&str],
        nullable: bool,
        tree: u64,
    ) -> (LogicalPlan, Vec<ColumnId>) {
        let ids: Vec<ColumnId> = column_names
            .iter()
            .map(|column| columns.add_table_column(name, *column, DataType::Integer))
            .collect();
        let table = Table {
            name: name.into(),
            tree,
            columns: column_names
                .iter()
                .map(|column| TableColumn {
                    name: (*column).into(),
                    data_type: DataType::Integer,
                    nullable,
                    default: None,
                    identity: None,
                })
                .collect(),
            primary_key: vec![0],
            indexes: Vec::new(),
            catalog_epoch: 0,
        };
        let plan = LogicalPlan::Scan {
            table: Arc::new(table),
            columns: ids.clone(),
            access: Access::full(),
            filter: None,
        };
        (plan, ids)
    }

    /// `left = right` over integers.
    pub(crate) fn equal(left: Expr, right: Expr) -> Expr {
        Expr::Binary {
            op: BinaryOp::Equal,
            left: Box::new(left),
            right: Box::new(right),
            data_type: DataType::Integer,
        }
    }
}
