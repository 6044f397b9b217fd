//! Rule: join order. A tree of inner joins (comma lists, `JOIN … ON`) is
//! flattened into its relations and the conjuncts of its conditions, then
//! rebuilt, each conjunct placed at the first join where every column it
//! reads is available. Up to `join_search::SEARCH_LIMIT` relations the
//! order is the cheapest by the cost model, found by dynamic programming
//! over connected subsets (`join_search.rs`); beyond that, a greedy
//! left-deep order.
//!
//! The greedy order is a heuristic, aimed at small intermediate results
//! and at joins that can use the primary key:
//! 1. start with the most restricted relation: one whose filter fixes its
//!    whole primary key first (at most one row), then any filtered one,
//!    then the first written;
//! 2. then repeatedly add a relation connected to those joined so far by a
//!    condition, preferring one whose whole primary key the conditions fix
//!    (a key lookup per row), then a restricted one, then the first
//!    written;
//! 3. a relation connected to nothing joins last, as a cross product.
//!
//! Equalities chaining three or more columns become equivalence classes
//! first (`equivalence.rs`): the search may then join any two relations of
//! a class, and each join applies one equality per class.
//!
//! Why the rows are the same: inner joins are commutative and associative,
//! and a conjunct evaluated at any join where its columns are available
//! rejects the same combinations. Operators above the joins read columns
//! by id, so the changed column order of the join's output is invisible.
//! Outer, semi, anti and parameterized joins are boundaries: they are not
//! reordered, only their inputs are.

use super::OptimizerContext;
use super::equivalence;
use super::estimate::Estimator;
use super::join_search::{self, SEARCH_LIMIT};
use crate::error::Result;
use crate::sql::expr::{BinaryOp, ColumnId, Expr};
use crate::sql::plan::{Access, JoinKind, JoinStrategy, LogicalPlan, is_single_key};

pub fn join_order(plan: LogicalPlan, context: &mut OptimizerContext<'_>) -> Result<LogicalPlan> {
    let estimator = Estimator::new([&plan], context.statistics, context.columns);
    reorder(plan, &estimator)
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

fn reorder(plan: LogicalPlan, estimator: &Estimator<'_>) -> Result<LogicalPlan> {
    if !is_reorderable(&plan) {
        return plan.map_inputs(|input| reorder(input, estimator));
    }
    let mut relations = Vec::new();
    let mut conjuncts = Vec::new();
    flatten(plan, &mut relations, &mut conjuncts, estimator)?;
    if relations.len() <= SEARCH_LIMIT {
        let outputs: Vec<Vec<ColumnId>> = relations.iter().map(LogicalPlan::output).collect();
        let all_columns: Vec<ColumnId> = outputs.iter().flatten().copied().collect();
        let classes = equivalence::extract(&mut conjuncts, &outputs, estimator);
        let tree = join_search::search(&relations, &conjuncts, &classes, estimator);
        let mut slots: Vec<Option<LogicalPlan>> = relations.into_iter().map(Some).collect();
        let placement = join_search::Placement {
            all_columns: &all_columns,
            classes: &classes,
            estimator,
        };
        let plan = join_search::build(&tree, &mut slots, &mut conjuncts, &placement);
        return Ok(match Expr::conjunction(conjuncts) {
            Some(predicate) => LogicalPlan::Filter {
                input: Box::new(plan),
                predicate,
            },
            None => plan,
        });
    }
    Ok(rebuild(relations, conjuncts))
}

fn flatten(
    plan: LogicalPlan,
    relations: &mut Vec<LogicalPlan>,
    conjuncts: &mut Vec<Expr>,
    estimator: &Estimator<'_>,
) -> Result<()> {
    if !is_reorderable(&plan) {
        relations.push(reorder(plan, estimator)?);
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
    flatten(*left, relations, conjuncts, estimator)?;
    flatten(*right, relations, conjuncts, estimator)?;
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
        LogicalPlan::Scan {
            access,
            filter,
            table,
            ..
        } => match access {
            Access::Key { key, .. } if is_single_key(table, key) => 2,
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
    use crate::sql::statistics::{StatisticsSet, TableStatistics};
    use crate::sql::types::Value;

    /// A scan of table `name` (columns `id`, `other`) in tree `tree`.
    fn scan(columns: &mut ColumnCatalog, name: &str, tree: u64) -> (LogicalPlan, Vec<ColumnId>) {
        test_support::scan_in_tree(columns, name, &["id", "other"], false, tree)
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

    /// The scanned tables of a join tree, left to right, with parentheses
    /// around each join.
    fn shape(plan: &LogicalPlan) -> String {
        match plan {
            LogicalPlan::Join { left, right, .. } => format!("({} {})", shape(left), shape(right)),
            LogicalPlan::Filter { input, .. } => shape(input),
            LogicalPlan::Scan { table, .. } => table.name.clone(),
            other => panic!("unexpected {other:?}"),
        }
    }

    fn statistics(rows: &[(u64, f64)]) -> StatisticsSet {
        let mut set = StatisticsSet::default();
        for (tree, rows) in rows {
            set.insert(
                *tree,
                TableStatistics {
                    rows: *rows,
                    row_bytes: (*rows * 40.0) as u64,
                    columns: vec![None, None],
                },
            );
        }
        set
    }

    #[test]
    fn the_small_tables_join_first_and_each_condition_sits_where_its_columns_meet() {
        // FROM big, mid, small WHERE big.other = mid.id AND mid.other = small.id
        let mut columns = ColumnCatalog::default();
        let (big, big_ids) = scan(&mut columns, "big", 20);
        let (mid, mid_ids) = scan(&mut columns, "mid", 21);
        let (small, small_ids) = scan(&mut columns, "small", 22);
        let big_mid = equal(Expr::Column(big_ids[1]), Expr::Column(mid_ids[0]));
        let mid_small = equal(Expr::Column(mid_ids[1]), Expr::Column(small_ids[0]));
        let plan = cross(
            cross(big, mid, None),
            small,
            Some(Expr::and(big_mid.clone(), mid_small.clone())),
        );
        let statistics = statistics(&[(20, 1_000_000.0), (21, 10_000.0), (22, 10.0)]);
        let mut context = OptimizerContext {
            statistics: &statistics,
            columns: &mut columns,
            param_types: &[],
        };
        let reordered = join_order(plan, &mut context).expect("rule runs");
        // The ten small rows find their mid rows first; the big table
        // comes last, once.
        assert_eq!(shape(&reordered), "(big (mid small))");
        let LogicalPlan::Join {
            right, condition, ..
        } = &reordered
        else {
            panic!("a join on top");
        };
        assert_eq!(condition.as_ref(), Some(&big_mid));
        let LogicalPlan::Join { condition, .. } = right.as_ref() else {
            panic!("a join below");
        };
        assert_eq!(condition.as_ref(), Some(&mid_small));
    }

    #[test]
    fn a_selective_filter_moves_its_table_first() {
        // FROM a, b, c WHERE c.id = 5 AND a.other = b.id AND b.other = c.id,
        // all of 1,000 rows: c's filter leaves one row.
        let mut columns = ColumnCatalog::default();
        let (a, a_ids) = scan(&mut columns, "a", 20);
        let (b, b_ids) = scan(&mut columns, "b", 21);
        let (c, c_ids) = scan(&mut columns, "c", 22);
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
        let statistics = StatisticsSet::default();
        let mut context = OptimizerContext {
            statistics: &statistics,
            columns: &mut columns,
            param_types: &[],
        };
        let reordered = join_order(plan, &mut context).expect("rule runs");
        assert_eq!(shape(&reordered), "(a (b c))");
    }

    #[test]
    fn an_unconnected_relation_joins_last() {
        let mut columns = ColumnCatalog::default();
        let (a, a_ids) = scan(&mut columns, "a", 20);
        let (b, _) = scan(&mut columns, "b", 21);
        let (c, c_ids) = scan(&mut columns, "c", 22);
        let plan = cross(
            cross(a, b, None),
            c,
            Some(equal(Expr::Column(a_ids[1]), Expr::Column(c_ids[0]))),
        );
        let statistics = StatisticsSet::default();
        let mut context = OptimizerContext {
            statistics: &statistics,
            columns: &mut columns,
            param_types: &[],
        };
        let reordered = join_order(plan, &mut context).expect("rule runs");
        let shape = shape(&reordered);
        assert!(
            shape == "((a c) b)" || shape == "(b (a c))",
            "the cross product comes last: {shape}"
        );
    }
}
