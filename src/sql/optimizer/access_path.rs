//! Rule: access paths. A `Filter` directly over a full `Scan` moves into
//! the scan (joining the scan's own filter, if any), and the scan reads
//! only the keys the predicate can match:
//! 1. `pk = v` on every primary-key column → one key lookup;
//! 2. `pk <op> v` bounds on a single-column primary key → a key range.
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

use super::OptimizerContext;
use crate::error::Result;
use crate::sql::catalog::Table;
use crate::sql::expr::{BinaryOp, ColumnId, Expr, SubqueryKind};
use crate::sql::plan::{Access, LogicalPlan};
use crate::sql::types::DataType;

pub fn access_path(plan: LogicalPlan, context: &mut OptimizerContext<'_>) -> Result<LogicalPlan> {
    plan.transform_up(&mut |node| {
        Ok(match node {
            LogicalPlan::Filter { input, predicate } => match *input {
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
                    let access = choose(&table, &columns, &predicate, context);
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
            other => other,
        })
    })
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

/// The narrowest access the predicate allows.
fn choose(
    table: &Table,
    columns: &[ColumnId],
    predicate: &Expr,
    context: &OptimizerContext<'_>,
) -> Access {
    let comparisons: Vec<(usize, BinaryOp, &Expr)> = predicate
        .conjuncts()
        .into_iter()
        .filter_map(|conjunct| column_comparison(conjunct, columns))
        .filter(|(column, _, value)| {
            table
                .columns
                .get(*column)
                .is_some_and(|c| key_compatible(c.data_type, static_type(value, context)))
        })
        .collect();
    let mut key = Vec::new();
    for column in &table.primary_key {
        match comparisons
            .iter()
            .find(|(c, op, _)| c == column && *op == BinaryOp::Equal)
        {
            Some((_, _, value)) => key.push((*value).clone()),
            None => break,
        }
    }
    if !table.primary_key.is_empty() && key.len() == table.primary_key.len() {
        return Access::Key(key);
    }
    let (mut start, mut end) = (Bound::Unbounded, Bound::Unbounded);
    if let [column] = table.primary_key.as_slice() {
        for (c, op, value) in &comparisons {
            if c != column {
                continue;
            }
            let value = (*value).clone();
            match op {
                BinaryOp::Greater => start = Bound::Excluded(value),
                BinaryOp::GreaterOrEqual => start = Bound::Included(value),
                BinaryOp::Less => end = Bound::Excluded(value),
                BinaryOp::LessOrEqual => end = Bound::Included(value),
                _ => {}
            }
        }
    }
    if matches!((&start, &end), (Bound::Unbounded, Bound::Unbounded)) {
        Access::Full
    } else {
        Access::Range { start, end }
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
}
