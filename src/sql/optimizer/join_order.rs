//! Rule: join order. A tree of inner joins (comma lists, `JOIN … ON`) is
//! flattened into its relations and the conjuncts of its conditions, then
//! rebuilt left-deep in a greedy order, each conjunct placed at the first
//! join where every column it reads is available.
//!
//! Without statistics the order is a heuristic, aimed at small
//! intermediate results and at joins that can use the primary key:
//! 1. start with the most restricted relation: one whose filter fixes its
//!    whole primary key first (at most one row), then any filtered one,
//!    then the first written;
//! 2. then repeatedly add a relation connected to those joined so far by a
//!    condition, preferring one whose whole primary key the conditions fix
//!    (a key lookup per row), then a restricted one, then the first
//!    written;
//! 3. a relation connected to nothing joins last, as a cross product.
//!
//! Why the rows are the same: inner joins are commutative and associative,
//! and a conjunct evaluated at any join where its columns are available
//! rejects the same combinations. Operators above the joins read columns
//! by id, so the changed column order of the join's output is invisible.
//! Outer, semi, anti and parameterized joins are boundaries: they are not
//! reordered, only their inputs are.

use super::OptimizerContext;
use crate::error::Result;
use crate::sql::expr::{BinaryOp, ColumnId, Expr};
use crate::sql::plan::{Access, JoinKind, JoinStrategy, LogicalPlan};

pub fn join_order(plan: LogicalPlan, _context: &mut OptimizerContext<'_>) -> Result<LogicalPlan> {
    reorder(plan)
}

fn is_reorderable(plan: &LogicalPlan) -> bool {
    matches!(
        plan,
        LogicalPlan::Join {
            kind: JoinKind::Inner,
            strategy: JoinStrategy::NestedLoop,
            ..
        }
    )
}

fn reorder(plan: LogicalPlan) -> Result<LogicalPlan> {
    if !is_reorderable(&plan) {
        return plan.map_inputs(reorder);
    }
    let mut relations = Vec::new();
    let mut conjuncts = Vec::new();
    flatten(plan, &mut relations, &mut conjuncts)?;
    Ok(rebuild(relations, conjuncts))
}

fn flatten(
    plan: LogicalPlan,
    relations: &mut Vec<LogicalPlan>,
    conjuncts: &mut Vec<Expr>,
) -> Result<()> {
    if !is_reorderable(&plan) {
        relations.push(reorder(plan)?);
        return Ok(());
    }
    let LogicalPlan::Join {
        left,
        right,
        condition,
        ..
    } = plan
    else {
        unreachable!("is_reorderable matched a join");
    };
    flatten(*left, relations, conjuncts)?;
    flatten(*right, relations, conjuncts)?;
    conjuncts.extend(condition.map(Expr::into_conjuncts).unwrap_or_default());
    Ok(())
}

/// How restricted a relation is: 2 if a filter fixes its whole primary key,
/// 1 if it is filtered at all, else 0.
fn restriction(plan: &LogicalPlan) -> u8 {
    match plan {
        LogicalPlan::Filter { input, predicate } => match input.as_ref() {
            LogicalPlan::Scan { table, columns, .. } => {
                let fixed = fixed_key_columns(predicate, columns, &|e: &Expr| {
                    e.is_row_independent(columns)
                });
                if !table.primary_key.is_empty()
                    && table
                        .primary_key
                        .iter()
                        .all(|c| fixed.contains(&columns[*c]))
                {
                    2
                } else {
                    1
                }
            }
            _ => 1,
        },
        LogicalPlan::Scan { access, filter, .. } => match access {
            Access::Key(_) => 2,
            _ if filter.is_some() => 1,
            _ => 0,
        },
        _ => 0,
    }
}

/// The columns of `columns` that an equality conjunct of `predicate` sets
/// to an expression `acceptable` allows.
fn fixed_key_columns(
    predicate: &Expr,
    columns: &[ColumnId],
    acceptable: &dyn Fn(&Expr) -> bool,
) -> Vec<ColumnId> {
    let mut fixed = Vec::new();
    for conjunct in predicate.conjuncts() {
        if let Expr::Binary {
            op: BinaryOp::Equal,
            left,
            right,
            ..
        } = conjunct
        {
            for (column, value) in [(left, right), (right, left)] {
                if let Expr::Column(id) = column.as_ref()
                    && columns.contains(id)
                    && acceptable(value)
                {
                    fixed.push(*id);
                }
            }
        }
    }
    fixed
}

/// Whether joining `relation` to columns `available` by `conjuncts` fixes
/// its whole primary key.
fn key_joinable(relation: &LogicalPlan, available: &[ColumnId], conjuncts: &[Expr]) -> bool {
    let scan = match relation {
        LogicalPlan::Filter { input, .. } => input.as_ref(),
        other => other,
    };
    let LogicalPlan::Scan { table, columns, .. } = scan else {
        return false;
    };
    if table.primary_key.is_empty() {
        return false;
    }
    let Some(all) = Expr::conjunction(conjuncts.iter().cloned()) else {
        return false;
    };
    let fixed = fixed_key_columns(&all, columns, &|e: &Expr| {
        !e.columns().is_empty() && e.reads_only(available)
    });
    table
        .primary_key
        .iter()
        .all(|c| fixed.contains(&columns[*c]))
}

fn rebuild(relations: Vec<LogicalPlan>, mut conjuncts: Vec<Expr>) -> LogicalPlan {
    let mut remaining: Vec<(usize, LogicalPlan)> = relations.into_iter().enumerate().collect();
    let all_columns: Vec<ColumnId> = remaining.iter().flat_map(|(_, r)| r.output()).collect();
    // Start: the most restricted relation, the first written on ties.
    let start = remaining
        .iter()
        .enumerate()
        .max_by_key(|(position, (_, relation))| (restriction(relation), usize::MAX - position))
        .map(|(position, _)| position)
        .expect("invariant: a join has at least two relations");
    let (_, mut plan) = remaining.remove(start);
    let mut available = plan.output();
    while !remaining.is_empty() {
        let connected = |relation: &LogicalPlan| {
            let columns = relation.output();
            conjuncts.iter().any(|conjunct| {
                let read = conjunct.columns();
                read.iter().any(|id| columns.contains(id))
                    && read.iter().any(|id| available.contains(id))
            })
        };
        let next = remaining
            .iter()
            .enumerate()
            .filter(|(_, (_, relation))| connected(relation))
            .max_by_key(|(position, (_, relation))| {
                (
                    key_joinable(relation, &available, &conjuncts),
                    restriction(relation),
                    usize::MAX - position,
                )
            })
            .map(|(position, _)| position)
            .unwrap_or(0);
        let (_, relation) = remaining.remove(next);
        available.extend(relation.output());
        // Every conjunct whose columns are now all available (columns of
        // no relation here are the enclosing query's, always available).
        let (ready, later): (Vec<Expr>, Vec<Expr>) = conjuncts.into_iter().partition(|c| {
            c.columns()
                .iter()
                .all(|id| available.contains(id) || !all_columns.contains(id))
        });
        conjuncts = later;
        plan = LogicalPlan::Join {
            left: Box::new(plan),
            right: Box::new(relation),
            kind: JoinKind::Inner,
            condition: Expr::conjunction(ready),
            strategy: JoinStrategy::NestedLoop,
        };
    }
    match Expr::conjunction(conjuncts) {
        Some(predicate) => LogicalPlan::Filter {
            input: Box::new(plan),
            predicate,
        },
        None => plan,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::optimizer::test_support::{self, equal};
    use crate::sql::plan::ColumnCatalog;
    use crate::sql::types::Value;

    fn scan(columns: &mut ColumnCatalog, name: &str) -> (LogicalPlan, Vec<ColumnId>) {
        test_support::scan(columns, name, &["id", "other"], false)
    }

    fn cross(left: LogicalPlan, right: LogicalPlan, condition: Option<Expr>) -> LogicalPlan {
        LogicalPlan::Join {
            left: Box::new(left),
            right: Box::new(right),
            kind: JoinKind::Inner,
            condition,
            strategy: JoinStrategy::NestedLoop,
        }
    }

    /// The scanned tables of a left-deep join tree, in join order.
    fn order(plan: &LogicalPlan) -> Vec<String> {
        match plan {
            LogicalPlan::Join { left, right, .. } => {
                let mut names = order(left);
                names.extend(order(right));
                names
            }
            LogicalPlan::Filter { input, .. } => order(input),
            LogicalPlan::Scan { table, .. } => vec![table.name.clone()],
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn starts_from_the_restricted_relation_and_follows_the_conditions() {
        // FROM a, b, c WHERE c.id = 5 AND a.other = b.id AND b.other = c.id
        let mut columns = ColumnCatalog::default();
        let (a, a_ids) = scan(&mut columns, "a");
        let (b, b_ids) = scan(&mut columns, "b");
        let (c, c_ids) = scan(&mut columns, "c");
        let c = LogicalPlan::Filter {
            input: Box::new(c),
            predicate: equal(Expr::Column(c_ids[0]), Expr::Literal(Value::Integer(5))),
        };
        let plan = cross(
            cross(a, b, None),
            c,
            Some(Expr::and(
                equal(Expr::Column(a_ids[1]), Expr::Column(b_ids[0])),
                equal(Expr::Column(b_ids[1]), Expr::Column(c_ids[0])),
            )),
        );
        let mut catalog = ColumnCatalog::default();
        let mut context = OptimizerContext {
            statistics: &crate::sql::statistics::StatisticsSet::default(),
            columns: &mut catalog,
            param_types: &[],
        };
        let reordered = join_order(plan, &mut context).expect("rule runs");
        assert_eq!(order(&reordered), ["c", "b", "a"]);
        // Each condition sits on the join that first has both its columns.
        let LogicalPlan::Join {
            left, condition, ..
        } = &reordered
        else {
            panic!("a join on top");
        };
        assert_eq!(
            condition.as_ref(),
            Some(&equal(Expr::Column(a_ids[1]), Expr::Column(b_ids[0])))
        );
        let LogicalPlan::Join { condition, .. } = left.as_ref() else {
            panic!("a join below");
        };
        assert_eq!(
            condition.as_ref(),
            Some(&equal(Expr::Column(b_ids[1]), Expr::Column(c_ids[0])))
        );
    }

    #[test]
    fn an_unconnected_relation_joins_last() {
        let mut columns = ColumnCatalog::default();
        let (a, a_ids) = scan(&mut columns, "a");
        let (b, _) = scan(&mut columns, "b");
        let (c, c_ids) = scan(&mut columns, "c");
        let plan = cross(
            cross(a, b, None),
            c,
            Some(equal(Expr::Column(a_ids[1]), Expr::Column(c_ids[0]))),
        );
        let mut catalog = ColumnCatalog::default();
        let mut context = OptimizerContext {
            statistics: &crate::sql::statistics::StatisticsSet::default(),
            columns: &mut catalog,
            param_types: &[],
        };
        let reordered = join_order(plan, &mut context).expect("rule runs");
        assert_eq!(order(&reordered), ["a", "c", "b"]);
    }
}
