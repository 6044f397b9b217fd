//! Rule: predicate pushdown. Each conjunct of a filter (and of an inner
//! join's condition) moves down the tree as far as the columns it reads
//! allow, so rows are dropped as early as possible: into a join's input,
//! or into an inner join's condition when it reads both sides; below
//! projections (reading the projected expressions instead), sorts,
//! DISTINCT, aggregates (for conjuncts over group columns only) and into
//! both sides of a set operation.
//!
//! Why the rows are the same, operator by operator:
//! - filters commute with each other, with sorts and with DISTINCT;
//! - below a projection a conjunct reads the expressions the projection
//!   computes, which is what it read above (a conjunct over a computed
//!   column containing a subquery stays, so nothing is evaluated twice);
//! - for an inner join, `σp(L ⋈c R) = σp'(L) ⋈(c∧p'') σp'''(R)` when each
//!   part reads only the columns it is placed over; for a LEFT join only
//!   conjuncts over the left side move (into the left input), since a
//!   conjunct over the right side must see the NULLs the join pads with;
//!   for semi and anti joins likewise the left side; a RIGHT join mirrors
//!   LEFT; nothing moves through a FULL join. A join's own condition keeps
//!   its meaning when a conjunct over the right side of a LEFT (or semi,
//!   or anti) join moves into the right input: only matches change;
//! - a group's columns are the same for every row of the group, so a
//!   conjunct over group columns keeps or drops whole groups either way;
//! - `σ(A ∪ B) = σA ∪ σB`, and likewise for INTERSECT and EXCEPT, each side
//!   reading its own columns at the same positions;
//! - LIMIT, window-like and CTE boundaries stop the descent.

use super::OptimizerContext;
use crate::error::Result;
use crate::sql::expr::{ColumnId, Expr};
use crate::sql::plan::{JoinKind, JoinStrategy, LogicalPlan};

pub fn pushdown(plan: LogicalPlan, _context: &mut OptimizerContext<'_>) -> Result<LogicalPlan> {
    Ok(push(plan, Vec::new()))
}

/// Places `predicates` (conjuncts) over `plan`, as deep as they go.
fn push(plan: LogicalPlan, mut predicates: Vec<Expr>) -> LogicalPlan {
    match plan {
        LogicalPlan::Filter { input, predicate } => {
            predicates.extend(predicate.into_conjuncts());
            push(*input, predicates)
        }
        LogicalPlan::Project { input, exprs } => {
            let mut below = Vec::new();
            let mut above = Vec::new();
            for predicate in predicates {
                match substitute(&predicate, &exprs) {
                    Some(rewritten) => below.push(rewritten),
                    None => above.push(predicate),
                }
            }
            let input = push(*input, below);
            filter(
                LogicalPlan::Project {
                    input: Box::new(input),
                    exprs,
                },
                above,
            )
        }
        LogicalPlan::Sort { input, keys } => LogicalPlan::Sort {
            input: Box::new(push(*input, predicates)),
            keys,
        },
        LogicalPlan::Distinct { input } => LogicalPlan::Distinct {
            input: Box::new(push(*input, predicates)),
        },
        LogicalPlan::Aggregate {
            input,
            group_by,
            aggregates,
            grouping_sets,
        } => {
            // With grouping sets a group column is NULL in the sets without
            // it: a conjunct over it cannot move below.
            let (below, above): (Vec<Expr>, Vec<Expr>) =
                predicates.into_iter().partition(|predicate| {
                    !group_by.is_empty()
                        && grouping_sets.is_none()
                        && predicate.columns().iter().all(|id| {
                            group_by
                                .iter()
                                .any(|(key, expr)| key == id && !contains_subquery(expr))
                        })
                });
            let below = below
                .into_iter()
                .filter_map(|predicate| substitute(&predicate, &group_by))
                .collect();
            filter(
                LogicalPlan::Aggregate {
                    input: Box::new(push(*input, below)),
                    group_by,
                    aggregates,
                    grouping_sets,
                },
                above,
            )
        }
        LogicalPlan::SetOperation {
            op,
            all,
            left,
            right,
            columns,
        } => {
            let side = |plan: &LogicalPlan| -> Vec<(ColumnId, Expr)> {
                columns
                    .iter()
                    .zip(plan.output())
                    .map(|(out, id)| (*out, Expr::Column(id)))
                    .collect()
            };
            let (left_map, right_map) = (side(&left), side(&right));
            let mut left_predicates = Vec::new();
            let mut right_predicates = Vec::new();
            let mut above = Vec::new();
            for predicate in predicates {
                match (
                    substitute(&predicate, &left_map),
                    substitute(&predicate, &right_map),
                ) {
                    (Some(l), Some(r)) if predicate.reads_only(&columns) => {
                        left_predicates.push(l);
                        right_predicates.push(r);
                    }
                    _ => above.push(predicate),
                }
            }
            filter(
                LogicalPlan::SetOperation {
                    op,
                    all,
                    left: Box::new(push(*left, left_predicates)),
                    right: Box::new(push(*right, right_predicates)),
                    columns,
                },
                above,
            )
        }
        LogicalPlan::Join {
            left,
            right,
            kind,
            condition,
            strategy,
        } => push_join(*left, *right, kind, condition, strategy, predicates),
        LogicalPlan::WithCte {
            id,
            name,
            definition,
            input,
        } => LogicalPlan::WithCte {
            id,
            name,
            definition: Box::new(push(*definition, Vec::new())),
            input: Box::new(push(*input, predicates)),
        },
        other => {
            // Leaves and barriers: push inside their own inputs, filter here.
            let rebuilt = other
                .map_inputs(|input| Ok(push(input, Vec::new())))
                .expect("invariant: pushing cannot fail");
            filter(rebuilt, predicates)
        }
    }
}

fn push_join(
    left: LogicalPlan,
    right: LogicalPlan,
    kind: JoinKind,
    condition: Option<Expr>,
    strategy: JoinStrategy,
    predicates: Vec<Expr>,
) -> LogicalPlan {
    let left_columns = left.output();
    let right_columns = right.output();
    let parameterized = matches!(strategy, JoinStrategy::Parameterized);
    let mut to_left = Vec::new();
    let mut to_right = Vec::new();
    let mut to_condition = Vec::new();
    let mut above = Vec::new();
    let reads_left = |e: &Expr| e.columns().iter().any(|id| left_columns.contains(id));
    let reads_right = |e: &Expr| e.columns().iter().any(|id| right_columns.contains(id));
    // Conjuncts from above the join.
    for predicate in predicates {
        let (l, r) = (reads_left(&predicate), reads_right(&predicate));
        match kind {
            JoinKind::Inner if !r => to_left.push(predicate),
            JoinKind::Inner if !l && !parameterized => to_right.push(predicate),
            JoinKind::Inner => to_condition.push(predicate),
            JoinKind::Left | JoinKind::Semi | JoinKind::Anti if !r => to_left.push(predicate),
            JoinKind::Right if !l && !parameterized => to_right.push(predicate),
            _ => above.push(predicate),
        }
    }
    // Conjuncts of the join's own condition.
    let mut kept = Vec::new();
    for conjunct in condition.map(Expr::into_conjuncts).unwrap_or_default() {
        let (l, r) = (reads_left(&conjunct), reads_right(&conjunct));
        match kind {
            JoinKind::Inner | JoinKind::Semi if !r => to_left.push(conjunct),
            JoinKind::Inner | JoinKind::Left | JoinKind::Semi | JoinKind::Anti
                if !l && !parameterized =>
            {
                to_right.push(conjunct)
            }
            JoinKind::Right if !r => to_left.push(conjunct),
            _ => kept.push(conjunct),
        }
    }
    kept.extend(to_condition);
    let join = LogicalPlan::Join {
        left: Box::new(push(left, to_left)),
        right: Box::new(push(right, to_right)),
        kind,
        condition: Expr::conjunction(kept),
        strategy,
    };
    filter(join, above)
}

/// `plan` under a filter of `predicates` (none: `plan` itself).
fn filter(plan: LogicalPlan, predicates: Vec<Expr>) -> LogicalPlan {
    match Expr::conjunction(predicates) {
        Some(predicate) => LogicalPlan::Filter {
            input: Box::new(plan),
            predicate,
        },
        None => plan,
    }
}

fn contains_subquery(expr: &Expr) -> bool {
    let mut found = false;
    expr.walk(&mut |e| found |= matches!(e, Expr::Subquery(_)));
    found
}

/// The predicate over a projection's input: each column the projection
/// computes replaced by its expression; `None` if that would copy a
/// subquery (evaluated once above, it would run again below).
fn substitute(predicate: &Expr, exprs: &[(ColumnId, Expr)]) -> Option<Expr> {
    for id in predicate.columns() {
        if let Some((_, expr)) = exprs.iter().find(|(out, _)| *out == id)
            && contains_subquery(expr)
            && *expr != Expr::Column(id)
        {
            return None;
        }
    }
    // A column the projection does not produce is an enclosing query's
    // (a parameter): it reads the same below.
    Some(predicate.clone().replace_columns(&|id| {
        exprs
            .iter()
            .find(|(out, _)| *out == id)
            .map(|(_, expr)| expr.clone())
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::expr::BinaryOp;
    use crate::sql::optimizer::test_support::{self, equal};
    use crate::sql::plan::ColumnCatalog;
    use crate::sql::types::{DataType, Value};

    fn scan(columns: &mut ColumnCatalog, name: &str) -> (LogicalPlan, Vec<ColumnId>) {
        test_support::scan(columns, name, &["a", "b"], true)
    }

    fn one() -> Expr {
        Expr::Literal(Value::Integer(1))
    }

    fn join(kind: JoinKind) -> (LogicalPlan, Vec<ColumnId>, Vec<ColumnId>) {
        let mut columns = ColumnCatalog::default();
        let (left, l) = scan(&mut columns, "l");
        let (right, r) = scan(&mut columns, "r");
        let plan = LogicalPlan::Filter {
            predicate: Expr::and(
                Expr::and(
                    equal(Expr::Column(l[1]), one()),
                    equal(Expr::Column(r[1]), one()),
                ),
                equal(Expr::Column(l[0]), Expr::Column(r[0])),
            ),
            input: Box::new(LogicalPlan::Join {
                left: Box::new(left),
                right: Box::new(right),
                kind,
                condition: None,
                strategy: JoinStrategy::NestedLoop,
            }),
        };
        (push(plan, Vec::new()), l, r)
    }

    fn filter_of(plan: &LogicalPlan) -> Option<&Expr> {
        match plan {
            LogicalPlan::Filter { predicate, .. } => Some(predicate),
            _ => None,
        }
    }

    #[test]
    fn an_inner_join_takes_each_conjunct_to_its_side_or_its_condition() {
        let (plan, l, r) = join(JoinKind::Inner);
        let LogicalPlan::Join {
            left,
            right,
            condition,
            ..
        } = plan
        else {
            panic!("the filter is gone: {plan:?}");
        };
        assert_eq!(filter_of(&left), Some(&equal(Expr::Column(l[1]), one())));
        assert_eq!(filter_of(&right), Some(&equal(Expr::Column(r[1]), one())));
        assert_eq!(
            condition,
            Some(equal(Expr::Column(l[0]), Expr::Column(r[0])))
        );
    }

    #[test]
    fn a_left_join_keeps_conjuncts_over_its_right_side_above() {
        let (plan, l, r) = join(JoinKind::Left);
        let LogicalPlan::Filter { input, predicate } = plan else {
            panic!("a filter stays above: {plan:?}");
        };
        assert_eq!(
            predicate,
            Expr::and(
                equal(Expr::Column(r[1]), one()),
                equal(Expr::Column(l[0]), Expr::Column(r[0]))
            )
        );
        let LogicalPlan::Join { left, right, .. } = *input else {
            panic!("a join below");
        };
        assert_eq!(filter_of(&left), Some(&equal(Expr::Column(l[1]), one())));
        assert!(filter_of(&right).is_none());
    }

    #[test]
    fn nothing_moves_through_a_full_join() {
        let (plan, _, _) = join(JoinKind::Full);
        let LogicalPlan::Filter { input, .. } = plan else {
            panic!("the filter stays: {plan:?}");
        };
        let LogicalPlan::Join { left, right, .. } = *input else {
            panic!("a join below");
        };
        assert!(filter_of(&left).is_none() && filter_of(&right).is_none());
    }

    #[test]
    fn a_projection_passes_a_conjunct_over_its_expressions() {
        let mut columns = ColumnCatalog::default();
        let (input, ids) = scan(&mut columns, "t");
        let doubled = columns.add("doubled", DataType::Integer);
        let times_two = Expr::Binary {
            op: BinaryOp::Multiply,
            left: Box::new(Expr::Column(ids[0])),
            right: Box::new(Expr::Literal(Value::Integer(2))),
            data_type: DataType::Integer,
        };
        let plan = LogicalPlan::Filter {
            predicate: equal(Expr::Column(doubled), one()),
            input: Box::new(LogicalPlan::Project {
                input: Box::new(input),
                exprs: vec![(doubled, times_two.clone())],
            }),
        };
        let LogicalPlan::Project { input, .. } = push(plan, Vec::new()) else {
            panic!("the projection is on top");
        };
        assert_eq!(filter_of(&input), Some(&equal(times_two, one())));
    }
}
