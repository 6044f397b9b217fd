//! Rule: projection pushdown (column pruning). A table scan produces every
//! column of its table; most queries read a few of them. Walking down from
//! the root with the set of columns the operators above still read, each
//! scan that produces columns nobody reads gets a projection to those it
//! must keep, which the executor fuses into the scan: the columns dropped
//! are never decoded, and every join, hash table and sort above carries
//! narrower rows.
//!
//! ```text
//!   Aggregate count(*), sum(l.quantity * l.price) by c.segment
//!     Join l.order_id = o.id ─┬─ Scan lineitems (5 columns) ─► keep order_id, quantity, price
//!                             └─ Scan orders    (3 columns) ─► keep id, customer
//! ```
//!
//! Why the rows are the same: an operator's output columns are found by id
//! (`LogicalPlan::output`, compiled to positions when operators are
//! built), so dropping a column nobody above reads changes no value read.
//! What an operator itself reads is added to what its input must keep:
//! filter predicates, join conditions and keys, grouping and aggregate
//! expressions, sort keys, and the columns a parameterized (LATERAL or key
//! lookup) right side reads from the left row. A projection drops only the
//! pass-through items nobody reads; a computed item stays, since
//! evaluating it may fail. Operators whose rows depend on all their input
//! columns (DISTINCT, set operations, windows, CTEs) keep their input whole.

use super::OptimizerContext;
use crate::error::Result;
use crate::sql::catalog::Table;
use crate::sql::expr::{ColumnId, Expr};
use crate::sql::plan::{Access, JoinKind, JoinStrategy, LogicalPlan};

/// The rule: the plan's output is what its consumer reads.
pub fn prune(plan: LogicalPlan, _context: &mut OptimizerContext<'_>) -> Result<LogicalPlan> {
    let required = plan.output();
    prune_node(plan, &required)
}

/// Adds the columns `expr` reads to `set`.
fn read(expr: &Expr, set: &mut Vec<ColumnId>) {
    expr.walk_columns(&mut |id| {
        if !set.contains(&id) {
            set.push(id);
        }
    });
}

/// Marks a scan through an index covering when the entries hold every
/// column read above (`required`) and by the scan's filter: the indexed
/// columns and the primary key's (the row key every entry ends with). A
/// table without a primary key keys its rows by hidden ids, so there only
/// the indexed columns count.
fn cover(plan: &mut LogicalPlan, required: &[ColumnId]) {
    let LogicalPlan::Scan {
        table,
        columns,
        access: Access::Index(access),
        filter,
    } = plan
    else {
        return;
    };
    let mut read_here = required.to_vec();
    if let Some(filter) = filter {
        read(filter, &mut read_here);
    }
    let held = |id: &ColumnId| {
        columns
            .iter()
            .position(|c| c == id)
            .is_none_or(|position| index_holds(table, access.index, position))
    };
    access.covering = read_here.iter().all(held);
}

/// Whether the entries of index `index` of `table` hold table column
/// `position` as it was stored: a key column (not inside an expression),
/// an INCLUDE column or part of the primary key, and of a type whose
/// key decodes exactly (not a float, whose key holds no sign of zero, nor
/// plain numeric, whose key holds no display scale).
pub(super) fn index_holds(table: &Table, index: usize, position: usize) -> bool {
    let exact = table
        .columns
        .get(position)
        .is_some_and(|column| column.data_type.key_is_exact());
    exact
        && (table.primary_key.contains(&position)
            || table
                .indexes
                .get(index)
                .is_some_and(|index| index.holds_column(position)))
}

/// Prunes `plan`, of whose output only `required` is read above.
fn prune_node(plan: LogicalPlan, required: &[ColumnId]) -> Result<LogicalPlan> {
    // As deep as the plan: a deep plan is an error (54001), not an overflow.
    crate::sql::stack::check()?;
    match plan {
        mut plan @ LogicalPlan::Scan { .. } => {
            cover(&mut plan, required);
            let columns = plan.output();
            let kept: Vec<ColumnId> = columns
                .iter()
                .copied()
                .filter(|id| required.contains(id))
                .collect();
            if kept.len() == columns.len() {
                return Ok(plan);
            }
            Ok(LogicalPlan::Project {
                exprs: kept.into_iter().map(|id| (id, Expr::Column(id))).collect(),
                input: Box::new(plan),
            })
        }
        LogicalPlan::Filter { input, predicate } => {
            let mut need = required.to_vec();
            read(&predicate, &mut need);
            Ok(LogicalPlan::Filter {
                input: Box::new(prune_node(*input, &need)?),
                predicate,
            })
        }
        LogicalPlan::Project { input, exprs } => {
            let exprs: Vec<(ColumnId, Expr)> = exprs
                .into_iter()
                .filter(|(id, expr)| required.contains(id) || !matches!(expr, Expr::Column(_)))
                .collect();
            let mut need = Vec::new();
            for (_, expr) in &exprs {
                read(expr, &mut need);
            }
            Ok(LogicalPlan::Project {
                input: Box::new(prune_node(*input, &need)?),
                exprs,
            })
        }
        LogicalPlan::Aggregate {
            input,
            group_by,
            aggregates,
            grouping_sets,
        } => {
            let mut need = Vec::new();
            for (_, expr) in &group_by {
                read(expr, &mut need);
            }
            for expr in aggregates
                .iter()
                .flat_map(|(_, aggregate)| aggregate.exprs())
            {
                read(expr, &mut need);
            }
            Ok(LogicalPlan::Aggregate {
                input: Box::new(prune_node(*input, &need)?),
                group_by,
                aggregates,
                grouping_sets,
            })
        }
        LogicalPlan::Sort { input, keys } => {
            let mut need = required.to_vec();
            for key in &keys {
                read(&key.expr, &mut need);
            }
            Ok(LogicalPlan::Sort {
                input: Box::new(prune_node(*input, &need)?),
                keys,
            })
        }
        LogicalPlan::Limit {
            input,
            limit,
            offset,
        } => {
            let mut need = required.to_vec();
            for expr in limit.iter().chain(offset.iter()) {
                read(expr, &mut need);
            }
            Ok(LogicalPlan::Limit {
                input: Box::new(prune_node(*input, &need)?),
                limit,
                offset,
            })
        }
        LogicalPlan::Join {
            left,
            right,
            kind,
            condition,
            strategy,
        } => {
            let mut need = required.to_vec();
            if let Some(condition) = &condition {
                read(condition, &mut need);
            }
            if let JoinStrategy::Hash { keys } | JoinStrategy::Merge { keys } = &strategy {
                for (left_key, right_key) in keys {
                    read(left_key, &mut need);
                    read(right_key, &mut need);
                }
            }
            // A parameterized right side reads the left row's columns.
            for id in right.free_columns() {
                if !need.contains(&id) {
                    need.push(id);
                }
            }
            // Semi and anti joins return the left row alone, but their right
            // side is still read for the condition, which `need` holds.
            debug_assert!(
                !matches!(kind, JoinKind::Semi | JoinKind::Anti)
                    || right.output().iter().all(|id| !required.contains(id)),
                "invariant: nothing above reads a semi or anti join's right side"
            );
            Ok(LogicalPlan::Join {
                left: Box::new(prune_node(*left, &need)?),
                right: Box::new(prune_node(*right, &need)?),
                kind,
                condition,
                strategy,
            })
        }
        // These read every column of their inputs; their inputs are pruned
        // only below their own outputs.
        other => other.map_inputs(|input| {
            let all = input.output();
            prune_node(input, &all)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::optimizer::test_support::{equal, scan};
    use crate::sql::plan::ColumnCatalog;

    fn run(plan: LogicalPlan) -> LogicalPlan {
        let mut columns = ColumnCatalog::default();
        let mut context = OptimizerContext {
            statistics: &crate::sql::statistics::StatisticsSet::default(),
            columns: &mut columns,
            param_types: &[],
        };
        prune(plan, &mut context).unwrap()
    }

    /// The columns a (possibly projected) scan produces.
    fn produced(plan: &LogicalPlan) -> Vec<ColumnId> {
        plan.output()
    }

    #[test]
    fn a_join_keeps_only_the_columns_read_above_and_by_its_keys() {
        let mut catalog = ColumnCatalog::default();
        let (left, l) = scan(&mut catalog, "l", &["a", "b", "c"], false);
        let (right, r) = scan(&mut catalog, "r", &["x", "y", "z"], false);
        let join = LogicalPlan::Join {
            left: Box::new(left),
            right: Box::new(right),
            kind: JoinKind::Inner,
            condition: None,
            strategy: JoinStrategy::Hash {
                keys: vec![(Expr::Column(l[0]), Expr::Column(r[0]))],
            },
        };
        let plan = LogicalPlan::Project {
            exprs: vec![(l[2], Expr::Column(l[2])), (r[1], Expr::Column(r[1]))],
            input: Box::new(join),
        };
        let pruned = run(plan);
        let LogicalPlan::Project { input, .. } = &pruned else {
            panic!("{pruned:?}")
        };
        let LogicalPlan::Join { left, right, .. } = input.as_ref() else {
            panic!("{input:?}")
        };
        assert_eq!(produced(left), vec![l[0], l[2]]);
        assert_eq!(produced(right), vec![r[0], r[1]]);
        assert_eq!(pruned.output(), vec![l[2], r[1]]);
    }

    #[test]
    fn filters_keep_what_they_read_and_whole_reads_stay_whole() {
        let mut catalog = ColumnCatalog::default();
        let (table, t) = scan(&mut catalog, "t", &["a", "b", "c"], false);
        let filtered = LogicalPlan::Filter {
            input: Box::new(table.clone()),
            predicate: equal(Expr::Column(t[1]), Expr::Column(t[1])),
        };
        let plan = LogicalPlan::Project {
            exprs: vec![(t[0], Expr::Column(t[0]))],
            input: Box::new(filtered),
        };
        let pruned = run(plan);
        let LogicalPlan::Project { input, .. } = &pruned else {
            panic!("{pruned:?}")
        };
        let LogicalPlan::Filter { input, .. } = input.as_ref() else {
            panic!("{input:?}")
        };
        assert_eq!(produced(input), vec![t[0], t[1]]);
        // A query that reads every column is left alone.
        assert_eq!(run(table.clone()), table);
        // DISTINCT reads whole rows.
        let distinct = LogicalPlan::Distinct {
            input: Box::new(table.clone()),
        };
        assert_eq!(run(distinct.clone()), distinct);
    }

    #[test]
    fn a_computed_item_stays_even_when_unread() {
        let mut catalog = ColumnCatalog::default();
        let (table, t) = scan(&mut catalog, "t", &["a", "b"], false);
        let computed = catalog.add_table_column("t", "sum", crate::sql::types::DataType::Integer);
        let inner = LogicalPlan::Project {
            exprs: vec![
                (t[0], Expr::Column(t[0])),
                (computed, equal(Expr::Column(t[1]), Expr::Column(t[1]))),
            ],
            input: Box::new(table),
        };
        let plan = LogicalPlan::Project {
            exprs: vec![(t[0], Expr::Column(t[0]))],
            input: Box::new(inner),
        };
        let pruned = run(plan);
        let LogicalPlan::Project { input, .. } = &pruned else {
            panic!("{pruned:?}")
        };
        // The computed item, which could fail, is still evaluated, so its
        // input column is kept.
        assert_eq!(produced(input), vec![t[0], computed]);
        let LogicalPlan::Project { input, .. } = input.as_ref() else {
            panic!("{input:?}")
        };
        assert_eq!(produced(input), vec![t[0], t[1]]);
    }
}
