//! Rule: decorrelation. A WHERE conjunct `EXISTS (q)`, `NOT EXISTS (q)` or
//! `x IN (q)` becomes a semi join (anti join for NOT EXISTS) of the
//! filter's input with `q`, so the subquery runs once instead of once per
//! row, and the join can hash.
//!
//! Applies when `q` is `[Project] [Filter p] q0` with `q0` reading no
//! enclosing column: the conjuncts of `p` that read enclosing columns
//! become the join condition (they read both sides now), the others stay
//! on `q0`; for IN the condition also gets `x = e`, `e` the expression `q`
//! returns.
//!
//! Why the rows are the same: as a WHERE conjunct, `EXISTS (q)` keeps a
//! row exactly when some row of `q` satisfies `p` under that row's values,
//! which is the semi join's match; NOT EXISTS is its complement, the anti
//! join. `x IN (q)` is true exactly when some row of `q` has `e = x`, and
//! WHERE drops a row whether the IN was false or NULL, so the semi join
//! keeps the same rows. `NOT IN` is left alone: it is NULL (not true) when
//! `q` returns a NULL, which an anti join cannot express.

use super::OptimizerContext;
use crate::error::Result;
use crate::sql::expr::{BinaryOp, Expr, Subquery, SubqueryKind};
use crate::sql::plan::{JoinKind, JoinStrategy, LogicalPlan};
use crate::sql::types::DataType;

pub fn decorrelate(plan: LogicalPlan, _context: &mut OptimizerContext<'_>) -> Result<LogicalPlan> {
    plan.transform_up(&mut |node| {
        Ok(match node {
            LogicalPlan::Filter { input, predicate } => rewrite_filter(*input, predicate),
            other => other,
        })
    })
}

fn rewrite_filter(input: LogicalPlan, predicate: Expr) -> LogicalPlan {
    let mut plan = input;
    let mut kept = Vec::new();
    for conjunct in predicate.into_conjuncts() {
        let available = plan.output();
        match as_join(&conjunct, &available) {
            Some((kind, right, condition)) => {
                plan = LogicalPlan::Join {
                    left: Box::new(plan),
                    right: Box::new(right),
                    kind,
                    condition: Some(condition),
                    strategy: JoinStrategy::NestedLoop,
                };
            }
            None => kept.push(conjunct),
        }
    }
    match Expr::conjunction(kept) {
        Some(predicate) => LogicalPlan::Filter {
            input: Box::new(plan),
            predicate,
        },
        None => plan,
    }
}

/// The join a conjunct becomes: kind, right input, condition.
fn as_join(
    conjunct: &Expr,
    available: &[crate::sql::expr::ColumnId],
) -> Option<(JoinKind, LogicalPlan, Expr)> {
    let (subquery, kind) = match conjunct {
        Expr::Subquery(subquery) => (subquery.as_ref(), JoinKind::Semi),
        Expr::Not(inner) => match inner.as_ref() {
            Expr::Subquery(subquery) if subquery.kind == SubqueryKind::Exists => {
                (subquery.as_ref(), JoinKind::Anti)
            }
            _ => return None,
        },
        _ => return None,
    };
    let equality = match (&subquery.kind, kind) {
        (SubqueryKind::Exists, _) => None,
        (
            SubqueryKind::Any {
                op: BinaryOp::Equal,
            },
            JoinKind::Semi,
        ) => subquery.operand.as_ref(),
        _ => return None,
    };
    // The subquery may read only the filter's input columns from outside.
    if !subquery
        .parameters
        .iter()
        .all(|(id, _)| available.contains(id))
    {
        return None;
    }
    let (right, mut condition, returned) = split(subquery)?;
    if let Some(operand) = equality {
        let returned = returned?;
        if contains_subquery(operand) || contains_subquery(&returned) {
            return None;
        }
        condition.push(Expr::Binary {
            op: BinaryOp::Equal,
            left: Box::new(operand.clone()),
            right: Box::new(returned),
            data_type: DataType::Boolean,
        });
    }
    let condition = Expr::conjunction(condition)
        .unwrap_or(Expr::Literal(crate::sql::types::Value::Boolean(true)));
    Some((kind, right, condition))
}

/// `[Project] [Filter p] q0` → (q0 with p's uncorrelated conjuncts, p's
/// correlated conjuncts, the first projected expression).
fn split(subquery: &Subquery) -> Option<(LogicalPlan, Vec<Expr>, Option<Expr>)> {
    let plan: &LogicalPlan = &subquery.plan;
    let (body, returned) = match plan {
        LogicalPlan::Project { input, exprs } => {
            (input.as_ref(), exprs.first().map(|(_, e)| e.clone()))
        }
        other => (other, other.output().first().map(|id| Expr::Column(*id))),
    };
    let (base, predicate) = match body {
        LogicalPlan::Filter { input, predicate } => (input.as_ref(), Some(predicate.clone())),
        other => (other, None),
    };
    if !base.free_columns().is_empty() {
        return None;
    }
    let base_columns = base.output();
    let mut correlated = Vec::new();
    let mut local = Vec::new();
    for conjunct in predicate.map(Expr::into_conjuncts).unwrap_or_default() {
        if conjunct.reads_only(&base_columns) {
            local.push(conjunct);
        } else if contains_subquery(&conjunct) {
            return None;
        } else {
            correlated.push(conjunct);
        }
    }
    if let Some(returned) = &returned
        && !returned.reads_only(&base_columns)
    {
        return None;
    }
    let right = match Expr::conjunction(local) {
        Some(predicate) => LogicalPlan::Filter {
            input: Box::new(base.clone()),
            predicate,
        },
        None => base.clone(),
    };
    Some((right, correlated, returned))
}

fn contains_subquery(expr: &Expr) -> bool {
    let mut found = false;
    expr.walk(&mut |e| found |= matches!(e, Expr::Subquery(_)));
    found
}
