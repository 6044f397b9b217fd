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
//! | 1 | `access_path` | merges a filter into the table scan below it and picks a key lookup or key range when the predicate allows |

mod access_path;

use std::sync::Arc;

use super::expr::{Expr, Subquery};
use super::plan::{ColumnCatalog, LogicalPlan};
use super::types::DataType;
use crate::error::Result;

/// What rules may read (and add to) besides the plan.
pub struct OptimizerContext<'a> {
    pub columns: &'a mut ColumnCatalog,
    /// The types of `$1..$n`.
    pub param_types: &'a [DataType],
}

/// A rewrite rule.
type Rule = fn(LogicalPlan, &mut OptimizerContext<'_>) -> Result<LogicalPlan>;

/// The rules, in the order they run.
const RULES: &[(&str, Rule)] = &[("access_path", access_path::access_path)];

/// Optimizes a plan and the plans of its subqueries.
pub fn optimize(plan: LogicalPlan, context: &mut OptimizerContext<'_>) -> Result<LogicalPlan> {
    let mut plan = plan;
    for (_, rule) in RULES {
        plan = rule(plan, context)?;
    }
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
