//! Rule: access paths. A `Filter` directly over a full `Scan` moves into
//! the scan (joining the scan's own filter, if any), and the scan reads
//! only the keys the predicate can match:
//! 1. `pk = v` on every primary-key column → one key lookup;
//! 2. `pk <op> v` bounds on a single-column primary key → a key range;
//! 3. equalities (or `IS NULL` tests) on an index's leading columns and
//!    bounds on the next one → a read of that index's entries in that
//!    range.
//!
//! [`choose`] costs every candidate with the statistics (`cost.rs`) and
//! takes the cheapest, a full scan included: an index read of most of a
//! table costs more than reading the table. A lookup of the whole primary
//! key needs no costing: it reads at most one row.
//!
//! Here `v` is any expression that reads none of the scanned row's columns
//! (a literal, a parameter, an outer query's column, an uncorrelated
//! subquery) and whose type orders like the key column's, so the encoded key
//! order is the comparison's order.
//!
//! Why the result is the same: the whole predicate stays as the scan's
//! filter (invariant 3 of `plan`), so the access path only skips keys that
//! a conjunct of the predicate rejects anyway.

use std::ops::Bound;

use std::collections::HashSet;

use super::OptimizerContext;
use super::estimate::Estimator;
use crate::error::Result;
use crate::sql::catalog::Table;
use crate::sql::expr::{BinaryOp, ColumnId, Expr, SubqueryKind};
use crate::sql::plan::{Access, IndexAccess, JoinStrategy, LogicalPlan, bounded};
use crate::sql::types::DataType;

pub fn access_path(plan: LogicalPlan, context: &mut OptimizerContext<'_>) -> Result<LogicalPlan> {
    let context: &OptimizerContext<'_> = context;
    let estimator = Estimator::new([&plan], context.statistics, context.columns);
    let referenced = referenced_columns(&plan);
    let chooser = Chooser {
        context,
        estimator,
        referenced,
    };
    chooser.rewrite(plan, false)
}

/// What choosing an access path needs besides the scan.
struct Chooser<'a> {
    context: &'a OptimizerContext<'a>,
    estimator: Estimator<'a>,
    /// Every column any operator of the statement reads, for whether an
    /// index read could cover its scan.
    referenced: HashSet<ColumnId>,
}

/// The columns the plan's operators (and their subqueries) read.
fn referenced_columns(plan: &LogicalPlan) -> HashSet<ColumnId> {
    let mut found = HashSet::new();
    plan.for_each_plan(&mut |node| collect_referenced(node, &mut found));
    found
}

fn collect_referenced(plan: &LogicalPlan, found: &mut HashSet<ColumnId>) {
    plan.for_each_expr(|expr| {
        expr.walk_columns(&mut |id| {
            found.insert(id);
        })
    });
    match plan {
        // A projection passes columns by name, and set operations and
        // CTEs output their inputs' columns by position: all are read.
        LogicalPlan::SetOperation { left, right, .. } => {
            found.extend(left.output());
            found.extend(right.output());
        }
        LogicalPlan::WithCte { definition, .. } => found.extend(definition.output()),
        LogicalPlan::RecursiveCte {
            anchor, recursive, ..
        } => {
            found.extend(anchor.output());
            found.extend(recursive.output());
        }
        _ => {}
    }
}

impl Chooser<'_> {
    /// The rule over `plan`; `key_order`: its rows must come in primary-key
    /// order (it is, through filters, an input of a merge join, which
    /// `join_strategy` chose for a scan in key order), so only key accesses
    /// qualify.
    fn rewrite(&self, plan: LogicalPlan, key_order: bool) -> Result<LogicalPlan> {
        crate::sql::stack::check()?;
        Ok(match plan {
            LogicalPlan::Filter { input, predicate } => match self.rewrite(*input, key_order)? {
                LogicalPlan::Scan {
                    table,
                    columns,
                    access: Access::Full,
                    filter,
                } => {
                    let predicate = match filter {
                        Some(filter) => Expr::and(filter, predicate),
                        None => predicate,
                    };
                    let access = self.choose(&table, &columns, &predicate, key_order);
                    LogicalPlan::Scan {
                        table,
                        columns,
                        access,
                        filter: Some(predicate),
                    }
                }
                input => LogicalPlan::Filter {
                    input: Box::new(input),
                    predicate,
                },
            },
            LogicalPlan::Join {
                left,
                right,
                kind,
                condition,
                strategy: strategy @ JoinStrategy::Merge { .. },
            } => LogicalPlan::Join {
                left: Box::new(self.rewrite(*left, true)?),
                right: Box::new(self.rewrite(*right, true)?),
                kind,
                condition,
                strategy,
            },
            other => other.map_inputs(|input| self.rewrite(input, false))?,
        })
    }
}

/// Whether a key expression of type `key` can be encoded as a key of
/// column type `column` with the same ordering the comparison uses.
fn key_compatible(column: DataType, key: Option<DataType>) -> bool {
    let Some(key) = key else { return false };
    (column.is_integer() && key.is_integer())
        // An integer compared with a float converts to double precision,
        // as the executor converts the key (`scan.rs`, `key_value`).
        || (matches!(column, DataType::Real | DataType::Double)
            && (matches!(key, DataType::Real | DataType::Double) || key.is_integer()))
        || (column.is_text() && key.is_text())
        || (column == DataType::Boolean && key == DataType::Boolean)
}

/// The type of a row-independent key expression, where it is evident.
fn static_type(expr: &Expr, context: &OptimizerContext<'_>) -> Option<DataType> {
    match expr {
        Expr::Literal(value) => value.data_type(),
        Expr::Cast { to, .. } => Some(*to),
        Expr::Binary { data_type, op, .. } if !op.is_comparison() => Some(*data_type),
        Expr::Negate(inner) => static_type(inner, context),
        Expr::Parameter(index) => context.param_types.get(*index).copied(),
        Expr::Column(id) => Some(context.columns.data_type(*id)),
        Expr::Subquery(subquery) if subquery.kind == SubqueryKind::Scalar => {
            Some(subquery.data_type)
        }
        _ => None,
    }
}

/// `column <op> value` with `value` independent of the scanned row,
/// normalised so the column is on the left: (table column index, op, value).
fn column_comparison<'e>(
    expr: &'e Expr,
    columns: &[ColumnId],
) -> Option<(usize, BinaryOp, &'e Expr)> {
    let Expr::Binary {
        op, left, right, ..
    } = expr
    else {
        return None;
    };
    if !op.is_comparison() || *op == BinaryOp::NotEqual {
        return None;
    }
    let position = |e: &Expr| match e {
        Expr::Column(id) => columns.iter().position(|c| c == id),
        _ => None,
    };
    match (position(left), position(right)) {
        (Some(index), None) if right.is_row_independent(columns) => Some((index, *op, right)),
        (None, Some(index)) if left.is_row_independent(columns) => Some((index, op.flip(), left)),
        _ => None,
    }
}

/// `column IS NULL` (or, `negated`, `IS NOT NULL`) on a scanned column:
/// its table column index.
fn null_test(expr: &Expr, columns: &[ColumnId], negated: bool) -> Option<usize> {
    match expr {
        Expr::IsNull {
            expr,
            negated: test_negated,
        } if *test_negated == negated => match expr.as_ref() {
            Expr::Column(id) => columns.iter().position(|c| c == id),
            _ => None,
        },
        _ => None,
    }
}

/// The bounds the comparisons put on table column `column`.
fn bounds_on(
    comparisons: &[(usize, BinaryOp, &Expr)],
    column: usize,
) -> (Bound<Expr>, Bound<Expr>) {
    let (mut lower, mut upper) = (Bound::Unbounded, Bound::Unbounded);
    for (c, op, value) in comparisons {
        if *c != column {
            continue;
        }
        let value = (*value).clone();
        match op {
            BinaryOp::Greater => lower = Bound::Excluded(value),
            BinaryOp::GreaterOrEqual => lower = Bound::Included(value),
            BinaryOp::Less => upper = Bound::Excluded(value),
            BinaryOp::LessOrEqual => upper = Bound::Included(value),
            _ => {}
        }
    }
    (lower, upper)
}

/// A candidate's rank by form: (a unique index fixed whole, columns
/// fixed, next column bounded, fewer columns).
type Rank = (bool, usize, bool, isize);

impl Chooser<'_> {
    /// The cheapest access the predicate allows (see the module docs).
    fn choose(
        &self,
        table: &Table,
        columns: &[ColumnId],
        predicate: &Expr,
        key_order: bool,
    ) -> Access {
        let context = self.context;
        let conjuncts = predicate.conjuncts();
        let comparisons: Vec<(usize, BinaryOp, &Expr)> = conjuncts
            .iter()
            .filter_map(|conjunct| column_comparison(conjunct, columns))
            .filter(|(column, _, value)| {
                table
                    .columns
                    .get(*column)
                    .is_some_and(|c| key_compatible(c.data_type, static_type(value, context)))
            })
            .collect();
        let null_tests: Vec<usize> = conjuncts
            .iter()
            .filter_map(|conjunct| null_test(conjunct, columns, false))
            .collect();
        let not_null_tests: Vec<usize> = conjuncts
            .iter()
            .filter_map(|conjunct| null_test(conjunct, columns, true))
            .collect();
        let equality = |column: usize| {
            comparisons
                .iter()
                .find(|(c, op, _)| *c == column && *op == BinaryOp::Equal)
                .map(|(_, _, value)| (*value).clone())
        };
        let key: Vec<Expr> = table
            .primary_key
            .iter()
            .map_while(|c| equality(*c))
            .collect();
        if !table.primary_key.is_empty() && key.len() == table.primary_key.len() {
            return Access::Key(key);
        }
        // Each candidate with its rank by form, which breaks ties of cost
        // (without statistics many estimates are equal): a unique index
        // fixed whole, then most columns fixed, a bounded next column,
        // fewer columns.
        let mut candidates = vec![((false, 0, false, isize::MIN), Access::Full)];
        if let [column] = table.primary_key.as_slice() {
            let (start, end) = bounds_on(&comparisons, *column);
            if bounded(&start, &end) {
                candidates.push(((false, 0, true, 0), Access::Range { start, end }));
            }
        }
        let indexes = if key_order {
            &[][..]
        } else {
            &table.indexes[..]
        };
        for (position, index) in indexes.iter().enumerate() {
            let mut equal = Vec::new();
            for column in &index.columns {
                match equality(column.column) {
                    Some(value) => equal.push(Some(value)),
                    None if null_tests.contains(&column.column) => equal.push(None),
                    None => break,
                }
            }
            let next = index.columns.get(equal.len()).map(|next| next.column);
            let (lower, upper) = match next {
                Some(next) => bounds_on(&comparisons, next),
                None => (Bound::Unbounded, Bound::Unbounded),
            };
            let not_null = next.is_some_and(|next| not_null_tests.contains(&next));
            let has_bounds = bounded(&lower, &upper);
            if equal.is_empty() && !has_bounds {
                continue;
            }
            let unique_hit = index.unique
                && equal.len() == index.columns.len()
                && equal.iter().all(Option::is_some);
            let rank = (
                unique_hit,
                equal.len(),
                has_bounds,
                -(index.columns.len() as isize),
            );
            // Priced as the index-only read it will be if nothing else of the
            // row is read (`prune` decides that for good).
            let covering = columns.iter().enumerate().all(|(column, id)| {
                !self.referenced.contains(id) || super::prune::index_holds(table, position, column)
            });
            candidates.push((
                rank,
                Access::Index(IndexAccess {
                    index: position,
                    equal,
                    lower,
                    upper,
                    not_null,
                    backward: false,
                    covering,
                }),
            ));
        }
        let mut best: Option<(f64, Rank, Access)> = None;
        for (rank, candidate) in candidates {
            let cost = self
                .estimator
                .scan_cost(table, columns, &candidate, Some(predicate))
                .total;
            let better = best.as_ref().is_none_or(|(best_cost, best_rank, _)| {
                let tolerance = 1e-9 * best_cost.abs().max(1.0);
                cost < best_cost - tolerance || (cost <= best_cost + tolerance && rank > *best_rank)
            });
            if better {
                best = Some((cost, rank, candidate));
            }
        }
        match best {
            Some((_, _, Access::Index(mut access))) => {
                // `prune` sets it once it knows what is read above.
                access.covering = false;
                Access::Index(access)
            }
            Some((_, _, access)) => access,
            None => Access::Full,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::sql::catalog::TableColumn;
    use crate::sql::plan::ColumnCatalog;
    use crate::sql::types::Value;

    fn table(key: Vec<usize>) -> Table {
        let column = |name: &str| TableColumn {
            name: name.into(),
            data_type: DataType::Integer,
            nullable: true,
            default: None,
        };
        Table {
            name: "t".into(),
            tree: 9,
            columns: vec![column("a"), column("b")],
            primary_key: key,
            indexes: Vec::new(),
            catalog_epoch: 0,
        }
    }

    fn compare(op: BinaryOp, left: Expr, right: Expr) -> Expr {
        Expr::Binary {
            op,
            left: Box::new(left),
            right: Box::new(right),
            data_type: DataType::Integer,
        }
    }

    fn optimize(table: Table, predicate: impl Fn(&[ColumnId]) -> Expr) -> LogicalPlan {
        let mut columns = ColumnCatalog::default();
        let ids = vec![
            columns.add("a", DataType::Integer),
            columns.add("b", DataType::Integer),
        ];
        let plan = LogicalPlan::Filter {
            predicate: predicate(&ids),
            input: Box::new(LogicalPlan::Scan {
                table: Arc::new(table),
                columns: ids,
                access: Access::Full,
                filter: None,
            }),
        };
        let mut context = OptimizerContext {
            statistics: &crate::sql::statistics::StatisticsSet::default(),
            columns: &mut columns,
            param_types: &[],
        };
        access_path(plan, &mut context).expect("rule runs")
    }

    fn access(plan: &LogicalPlan) -> &Access {
        match plan {
            LogicalPlan::Scan { access, filter, .. } => {
                assert!(filter.is_some(), "the predicate stays as the filter");
                access
            }
            other => panic!("expected a scan, got {other:?}"),
        }
    }

    #[test]
    fn equality_on_the_whole_key_is_a_lookup() {
        let plan = optimize(table(vec![0]), |ids| {
            Expr::and(
                compare(
                    BinaryOp::Equal,
                    Expr::Literal(Value::Integer(3)),
                    Expr::Column(ids[0]),
                ),
                compare(
                    BinaryOp::Greater,
                    Expr::Column(ids[1]),
                    Expr::Literal(Value::Integer(1)),
                ),
            )
        });
        assert_eq!(
            access(&plan),
            &Access::Key(vec![Expr::Literal(Value::Integer(3))])
        );
    }

    #[test]
    fn bounds_on_a_single_column_key_are_a_range() {
        let plan = optimize(table(vec![0]), |ids| {
            Expr::and(
                compare(
                    BinaryOp::GreaterOrEqual,
                    Expr::Column(ids[0]),
                    Expr::Literal(Value::Integer(2)),
                ),
                compare(
                    BinaryOp::Less,
                    Expr::Column(ids[0]),
                    Expr::Literal(Value::Integer(4)),
                ),
            )
        });
        assert_eq!(
            access(&plan),
            &Access::Range {
                start: Bound::Included(Expr::Literal(Value::Integer(2))),
                end: Bound::Excluded(Expr::Literal(Value::Integer(4))),
            }
        );
    }

    #[test]
    fn a_comparison_between_two_columns_or_another_family_scans() {
        let plan = optimize(table(vec![0]), |ids| {
            compare(BinaryOp::Equal, Expr::Column(ids[0]), Expr::Column(ids[1]))
        });
        assert_eq!(access(&plan), &Access::Full);
        let plan = optimize(table(vec![0]), |ids| {
            compare(
                BinaryOp::Equal,
                Expr::Column(ids[0]),
                Expr::Literal(Value::Double(2.5)),
            )
        });
        assert_eq!(access(&plan), &Access::Full);
    }

    #[test]
    fn a_partial_composite_key_scans() {
        let plan = optimize(table(vec![0, 1]), |ids| {
            compare(
                BinaryOp::Equal,
                Expr::Column(ids[0]),
                Expr::Literal(Value::Integer(1)),
            )
        });
        assert_eq!(access(&plan), &Access::Full);
    }

    fn with_index(mut table: Table, name: &str, columns: &[usize], unique: bool) -> Table {
        table.indexes.push(crate::sql::catalog::Index {
            name: name.into(),
            tree: 20 + table.indexes.len() as u64,
            unique,
            nulls_not_distinct: false,
            constraint: false,
            columns: columns
                .iter()
                .map(|&column| crate::sql::catalog::IndexColumn {
                    column,
                    descending: false,
                    nulls_first: false,
                })
                .collect(),
        });
        table
    }

    fn literal(value: i32) -> Expr {
        Expr::Literal(Value::Integer(value))
    }

    #[test]
    fn indexes_rank_by_what_the_predicate_fixes() {
        // b = 1: the index on (b) beats a full scan.
        let indexed = with_index(table(vec![0]), "t_b", &[1], false);
        let plan = optimize(indexed.clone(), |ids| {
            compare(BinaryOp::Equal, Expr::Column(ids[1]), literal(1))
        });
        let Access::Index(found) = access(&plan) else {
            panic!("expected an index read, got {plan:?}");
        };
        assert_eq!((found.index, found.equal.len()), (0, 1));
        // A unique index fixed whole beats one with more columns fixed in
        // part... here (b, a) with only b fixed against unique (b).
        let two = with_index(
            with_index(table(vec![]), "t_b_a", &[1, 0], false),
            "t_b",
            &[1],
            true,
        );
        let plan = optimize(two, |ids| {
            compare(BinaryOp::Equal, Expr::Column(ids[1]), literal(1))
        });
        let Access::Index(found) = access(&plan) else {
            panic!("expected an index read, got {plan:?}");
        };
        assert_eq!(found.index, 1, "the unique index");
        // A range on a single-column primary key beats an index range.
        let plan = optimize(indexed.clone(), |ids| {
            Expr::and(
                compare(BinaryOp::Greater, Expr::Column(ids[0]), literal(1)),
                compare(BinaryOp::Less, Expr::Column(ids[1]), literal(5)),
            )
        });
        assert!(matches!(access(&plan), Access::Range { .. }));
        // IS NULL fixes an index column; a range on the next one bounds it.
        let plan = optimize(with_index(table(vec![]), "t_b_a", &[1, 0], false), |ids| {
            Expr::and(
                Expr::IsNull {
                    expr: Box::new(Expr::Column(ids[1])),
                    negated: false,
                },
                compare(BinaryOp::GreaterOrEqual, Expr::Column(ids[0]), literal(3)),
            )
        });
        let Access::Index(found) = access(&plan) else {
            panic!("expected an index read, got {plan:?}");
        };
        assert_eq!(found.equal, vec![None]);
        assert_eq!(found.lower, Bound::Included(literal(3)));
        assert_eq!(found.upper, Bound::Unbounded);
        // A column the index does not lead with does not use it.
        let plan = optimize(indexed, |ids| {
            compare(BinaryOp::NotEqual, Expr::Column(ids[1]), literal(1))
        });
        assert_eq!(access(&plan), &Access::Full);
    }
}
