//! Rule: access paths. A `Filter` directly over a full `Scan` moves into
//! the scan (joining the scan's own filter, if any), and the scan reads
//! only the keys the predicate can match:
//! 1. `pk = v` on every primary-key column → one key lookup;
//! 2. the same with one column's `pk IN (v, …)` → a lookup per distinct
//!    key, in key order; on leading primary-key columns only → the rows
//!    under that key prefix (per distinct IN-list value), in key order;
//! 3. `pk <op> v` bounds on a single-column primary key → a key range;
//! 4. equalities (or `IS NULL` tests, or one IN-list) on an index's
//!    leading columns and bounds on the next one → a read of that index's
//!    entries in that range (per distinct list value, in index order). An
//!    expression key column matches conjuncts on the same expression
//!    (`lower(email) = $1`). A partial index qualifies only when the
//!    predicate implies the index's own (`implication.rs`): the rows the
//!    scan may return are exactly those with entries; it may then be read
//!    whole.
//!
//! `column LIKE 'prefix%'` on a text column bounds it like
//! `column >= 'prefix' AND column < successor` (text compares by bytes,
//! so every match lies there), and a pattern without wildcards is an
//! equality.
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
use super::estimate::{Estimator, LikePrefix, constant_value, like_prefix, prefix_successor};
use super::implication::implies;
use crate::error::Result;
use crate::sql::catalog::Table;
use crate::sql::expr::{BinaryOp, ColumnId, Expr, SubqueryKind};
use crate::sql::plan::{
    Access, IndexAccess, JoinStrategy, KeyEquality, LogicalPlan, bounded, index_key_operand,
    index_predicate, is_single_key,
};
use crate::sql::types::{DataType, Value};

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
                    access: Access::Full { backward: false },
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
        // An integer compared with a numeric converts to numeric (`key_value` again).
        || (matches!(column, DataType::Numeric(_))
            && (matches!(key, DataType::Numeric(_)) || key.is_integer()))
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

/// `operand <op> value` with `value` independent of the scanned row and
/// `operand` reading it (a column, or an expression an index may hold),
/// normalised so the operand is on the left.
fn operand_comparison<'e>(
    expr: &'e Expr,
    columns: &[ColumnId],
) -> Option<(&'e Expr, BinaryOp, &'e Expr)> {
    let Expr::Binary {
        op, left, right, ..
    } = expr
    else {
        return None;
    };
    if !op.is_comparison() || *op == BinaryOp::NotEqual {
        return None;
    }
    match (
        left.is_row_independent(columns),
        right.is_row_independent(columns),
    ) {
        (false, true) => Some((left, *op, right)),
        (true, false) => Some((right, op.flip(), left)),
        _ => None,
    }
}

/// `operand IN (values)` with row-independent values: (operand, values).
fn in_list<'e>(expr: &'e Expr, columns: &[ColumnId]) -> Option<(&'e Expr, &'e Vec<Expr>)> {
    let Expr::InList {
        expr,
        list,
        negated: false,
    } = expr
    else {
        return None;
    };
    (!expr.is_row_independent(columns)
        && !list.is_empty()
        && list.iter().all(|value| value.is_row_independent(columns)))
    .then_some((expr, list))
}

/// The comparisons a `LIKE` with a constant pattern implies on a text
/// operand: `= text` for a pattern without wildcards, and for a fixed
/// prefix and a final `%`, `>= prefix` and `< successor` (text compares by
/// bytes, so every match lies in that range).
fn like_comparisons<'e>(expr: &'e Expr, columns: &[ColumnId]) -> Vec<(&'e Expr, BinaryOp, Expr)> {
    let Expr::Like {
        expr,
        pattern,
        negated: false,
        case_insensitive: false,
    } = expr
    else {
        return Vec::new();
    };
    let Some(Value::Text(pattern)) = constant_value(pattern) else {
        return Vec::new();
    };
    if expr.is_row_independent(columns) {
        return Vec::new();
    }
    let operand = expr.as_ref();
    let text = |text: String| Expr::Literal(Value::Text(text.into()));
    match like_prefix(&pattern) {
        LikePrefix::Exact(exact) => vec![(operand, BinaryOp::Equal, text(exact))],
        LikePrefix::Prefix(prefix) if !prefix.is_empty() => {
            let mut comparisons = Vec::new();
            if let Some(successor) = prefix_successor(&prefix) {
                comparisons.push((operand, BinaryOp::Less, text(successor)));
            }
            comparisons.push((operand, BinaryOp::GreaterOrEqual, text(prefix)));
            comparisons
        }
        _ => Vec::new(),
    }
}

/// `operand IS NULL` (or, `negated`, `IS NOT NULL`): the operand.
fn null_test(expr: &Expr, negated: bool) -> Option<&Expr> {
    match expr {
        Expr::IsNull {
            expr,
            negated: test_negated,
        } if *test_negated == negated => Some(expr),
        _ => None,
    }
}

/// A key column as the access path sees it: the expression a conjunct
/// must compare (the scan's column, or an index expression over the
/// scan's columns) and the type of the values it holds.
struct KeyOperand {
    expr: Expr,
    data_type: DataType,
}

/// The bounds the comparisons put on `key`.
fn bounds_on(
    comparisons: &[(&Expr, BinaryOp, &Expr)],
    key: &KeyOperand,
) -> (Bound<Expr>, Bound<Expr>) {
    let (mut lower, mut upper) = (Bound::Unbounded, Bound::Unbounded);
    for (operand, op, value) in comparisons {
        if **operand != key.expr {
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
        let like_comparisons: Vec<(&Expr, BinaryOp, Expr)> = conjuncts
            .iter()
            .flat_map(|conjunct| like_comparisons(conjunct, columns))
            .collect();
        // Typed against a key column when one is matched (`usable`).
        let comparisons: Vec<(&Expr, BinaryOp, &Expr)> = conjuncts
            .iter()
            .filter_map(|conjunct| operand_comparison(conjunct, columns))
            .chain(
                like_comparisons
                    .iter()
                    .map(|(operand, op, value)| (*operand, *op, value)),
            )
            .collect();
        let null_tests: Vec<&Expr> = conjuncts
            .iter()
            .filter_map(|conjunct| null_test(conjunct, false))
            .collect();
        let not_null_tests: Vec<&Expr> = conjuncts
            .iter()
            .filter_map(|conjunct| null_test(conjunct, true))
            .collect();
        let in_lists: Vec<(&Expr, &Vec<Expr>)> = conjuncts
            .iter()
            .filter_map(|conjunct| in_list(conjunct, columns))
            .collect();
        let usable = |key: &KeyOperand, value: &Expr| {
            key_compatible(key.data_type, static_type(value, context))
        };
        // The comparisons on `key` whose values encode as its keys.
        let key_comparisons = |key: &KeyOperand| -> Vec<(&Expr, BinaryOp, &Expr)> {
            comparisons
                .iter()
                .filter(|(operand, _, value)| **operand == key.expr && usable(key, value))
                .copied()
                .collect()
        };
        let equality = |key: &KeyOperand| {
            key_comparisons(key)
                .into_iter()
                .find(|(_, op, _)| *op == BinaryOp::Equal)
                .map(|(_, _, value)| value.clone())
        };
        let list = |key: &KeyOperand| {
            in_lists
                .iter()
                .find(|(operand, list)| {
                    **operand == key.expr
                        // A NULL in the list matches nothing and reads nothing.
                        && list.iter().all(|value| {
                            matches!(value, Expr::Literal(Value::Null)) || usable(key, value)
                        })
                })
                .map(|(_, list)| (*list).clone())
        };
        // Equalities, and at most one IN-list, on leading key columns.
        let fixed = |keys: &[KeyOperand]| {
            let mut fixed = Vec::new();
            for key in keys {
                let has_list = fixed.iter().any(KeyEquality::is_list);
                match equality(key) {
                    Some(value) => fixed.push(KeyEquality::Value(value)),
                    None if null_tests.contains(&&key.expr) => fixed.push(KeyEquality::Null),
                    None => match list(key) {
                        Some(list) if !has_list => fixed.push(KeyEquality::List(list)),
                        _ => break,
                    },
                }
            }
            fixed
        };
        let column_operand = |position: usize| {
            Some(KeyOperand {
                expr: Expr::Column(*columns.get(position)?),
                data_type: table.columns.get(position)?.data_type,
            })
        };
        let Some(primary) = table
            .primary_key
            .iter()
            .map(|&position| column_operand(position))
            .collect::<Option<Vec<KeyOperand>>>()
        else {
            return Access::full();
        };
        // Each candidate with its rank by form, which breaks ties of cost
        // (without statistics many estimates are equal): a unique index
        // fixed whole, then most columns fixed, a bounded next column,
        // fewer columns.
        let mut candidates = vec![((false, 0, false, isize::MIN), Access::full())];
        let mut key = fixed(&primary);
        // A primary key holds no NULLs (`IS NULL` on it reads nothing
        // anyway; the filter says so).
        if let Some(null) = key.iter().position(|value| *value == KeyEquality::Null) {
            key.truncate(null);
        }
        if is_single_key(table, &key) {
            // One row at most: nothing reads less.
            return Access::key(key);
        }
        if !key.is_empty() {
            let whole = key.len() == table.primary_key.len();
            candidates.push(((whole, key.len(), false, 0), Access::key(key)));
        }
        if let [column] = primary.as_slice() {
            let (start, end) = bounds_on(&key_comparisons(column), column);
            if bounded(&start, &end) {
                candidates.push((
                    (false, 0, true, 0),
                    Access::Range {
                        start,
                        end,
                        backward: false,
                    },
                ));
            }
        }
        let indexes = if key_order {
            &[][..]
        } else {
            &table.indexes[..]
        };
        for (position, index) in indexes.iter().enumerate() {
            // A partial index holds every row the scan may return only if
            // the scan's predicate implies the index's.
            let partial = index_predicate(index, columns);
            if let Some(index_predicate) = &partial
                && !implies(&conjuncts, index_predicate)
            {
                continue;
            }
            let Some(keys) = index
                .columns
                .iter()
                .map(|column| {
                    Some(KeyOperand {
                        expr: index_key_operand(index, column, columns)?,
                        data_type: index.key_type(table, column),
                    })
                })
                .collect::<Option<Vec<KeyOperand>>>()
            else {
                continue;
            };
            let equal = fixed(&keys);
            let next = keys.get(equal.len());
            let (lower, upper) = match next {
                Some(next) => bounds_on(&key_comparisons(next), next),
                None => (Bound::Unbounded, Bound::Unbounded),
            };
            let not_null = next.is_some_and(|next| not_null_tests.contains(&&next.expr));
            let has_bounds = bounded(&lower, &upper);
            // A partial index is worth reading whole: it holds only the
            // rows of its predicate.
            if equal.is_empty() && !has_bounds && partial.is_none() {
                continue;
            }
            let unique_hit = index.unique
                && equal.len() == index.columns.len()
                && equal
                    .iter()
                    .all(|value| matches!(value, KeyEquality::Value(_)));
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
            None => Access::full(),
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
            identity: None,
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
                access: Access::full(),
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
            &Access::key(vec![KeyEquality::Value(Expr::Literal(Value::Integer(3)))])
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
                backward: false,
            }
        );
    }

    #[test]
    fn a_comparison_between_two_columns_or_another_family_scans() {
        let plan = optimize(table(vec![0]), |ids| {
            compare(BinaryOp::Equal, Expr::Column(ids[0]), Expr::Column(ids[1]))
        });
        assert_eq!(access(&plan), &Access::full());
        let plan = optimize(table(vec![0]), |ids| {
            compare(
                BinaryOp::Equal,
                Expr::Column(ids[0]),
                Expr::Literal(Value::Double(2.5)),
            )
        });
        assert_eq!(access(&plan), &Access::full());
    }

    #[test]
    fn a_composite_key_prefix_reads_the_rows_under_it() {
        let plan = optimize(table(vec![0, 1]), |ids| {
            compare(
                BinaryOp::Equal,
                Expr::Column(ids[0]),
                Expr::Literal(Value::Integer(1)),
            )
        });
        assert_eq!(
            access(&plan),
            &Access::key(vec![KeyEquality::Value(Expr::Literal(Value::Integer(1)))])
        );
        // Equality on the second key column alone fixes no prefix.
        let plan = optimize(table(vec![0, 1]), |ids| {
            compare(
                BinaryOp::Equal,
                Expr::Column(ids[1]),
                Expr::Literal(Value::Integer(1)),
            )
        });
        assert_eq!(access(&plan), &Access::full());
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
                .map(|&column| crate::sql::catalog::IndexColumn::ascending(column))
                .collect(),
            expressions: Vec::new(),
            include: Vec::new(),
            predicate: None,
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
        assert_eq!(found.equal, vec![KeyEquality::Null]);
        assert_eq!(found.lower, Bound::Included(literal(3)));
        assert_eq!(found.upper, Bound::Unbounded);
        // A column the index does not lead with does not use it.
        let plan = optimize(indexed, |ids| {
            compare(BinaryOp::NotEqual, Expr::Column(ids[1]), literal(1))
        });
        assert_eq!(access(&plan), &Access::full());
    }
}
