//! Rule: ordered access. A table scan returns its rows in an order: a
//! full, key-prefix or key-range scan in primary-key order, an index read
//! in its index's order, and any of them backward, in exactly the reverse.
//! A sort whose keys the scan's order satisfies, either way, is dropped and
//! the scan reads in that direction; under a `LIMIT` a full scan whose key
//! does not give the order switches to an index whose order does, so the
//! query reads only the rows it returns:
//!
//! ```text
//!   Limit 10                            Limit 10
//!     Sort created DESC          ─►       Index Scan Backward using t_created on t
//!       Seq Scan on t
//!
//!   Limit 10                            Limit 10
//!     Sort id DESC               ─►       Index Scan Backward using t_pkey on t
//!       Seq Scan on t
//! ```
//!
//! The primary key's order comes first: it reads no index entries and
//! looks up no rows. `min(c)` and `max(c)` without GROUP BY become the
//! first row of that order, as PostgreSQL's planner rewrites them: the
//! aggregate reads `LIMIT 1` of the non-NULL values of `c` in the order,
//! when the primary key or an index gives it (`max` of a key column reads
//! the key backward), and stays as it is otherwise.
//!
//! Why the rows are the same: an index lists each visible row once, in
//! the order of its columns (NULLs where the column's NULLS FIRST/LAST
//! puts them), and a backward read lists them in exactly the reverse
//! order, which is the order of every key's opposite direction and
//! opposite NULLS placement. The primary key is the table's own order,
//! ascending, over columns that hold no NULLs, so NULLS placement never
//! matters for them (not even PostgreSQL's default NULLS FIRST of a
//! descending key). A read of several key prefixes or ranges (an IN-list's
//! values) reads them in key order, or backward in reverse order, each
//! backward. Columns an equality fixes are constant, so a sort key on them
//! orders nothing and is skipped. Rows equal on every sort key may come in
//! any order, in SQL as here. The aggregate's rewrite reads the smallest
//! (largest) non-NULL value, which is the aggregate's value; with no such
//! value the aggregate over no rows is NULL, as over only NULLs.

use std::ops::Bound;

use super::OptimizerContext;
use crate::error::Result;
use crate::sql::catalog::{IndexColumn, Table};
use crate::sql::expr::{ColumnId, Expr};
use crate::sql::plan::{
    Access, AggregateFunction, IndexAccess, KeyEquality, LogicalPlan, SortKey, bounded,
    is_single_key,
};
use crate::sql::types::Value;

pub fn ordered_scan(plan: LogicalPlan, _context: &mut OptimizerContext<'_>) -> Result<LogicalPlan> {
    plan.transform_up(&mut |node| {
        Ok(match node {
            LogicalPlan::Sort { input, keys } => order(*input, keys, false),
            // The sort below was kept without the limit's leave to switch
            // a full scan to an index; try again with it.
            LogicalPlan::Limit {
                input,
                limit: Some(limit),
                offset,
            } => match *input {
                LogicalPlan::Sort { input, keys } => LogicalPlan::Limit {
                    input: Box::new(order(*input, keys, true)),
                    limit: Some(limit),
                    offset,
                },
                input => LogicalPlan::Limit {
                    input: Box::new(input),
                    limit: Some(limit),
                    offset,
                },
            },
            LogicalPlan::Aggregate {
                input,
                group_by,
                aggregates,
                grouping_sets: None,
            } if group_by.is_empty() => extreme(*input, aggregates),
            other => other,
        })
    })
}

/// `Sort { input, keys }`, or `input` alone if its scan can return the
/// rows in that order; `limited` lets a full scan switch to an index.
fn order(input: LogicalPlan, keys: Vec<SortKey>, limited: bool) -> LogicalPlan {
    match ordered(&input, &keys, limited, None) {
        Some(access) => with_access(input, access),
        None => LogicalPlan::Sort {
            input: Box::new(input),
            keys,
        },
    }
}

/// The access that returns the rows of `input` (a scan, perhaps under a
/// projection) in the order of `keys`, if there is one; `non_null`, a
/// column whose NULLs the scan's filter drops.
fn ordered(
    input: &LogicalPlan,
    keys: &[SortKey],
    limited: bool,
    non_null: Option<ColumnId>,
) -> Option<Access> {
    let (table, columns, access, exprs) = match input {
        LogicalPlan::Scan {
            table,
            columns,
            access,
            ..
        } => (table, columns, access, None),
        LogicalPlan::Project { input, exprs } => match input.as_ref() {
            LogicalPlan::Scan {
                table,
                columns,
                access,
                ..
            } => (table, columns, access, Some(exprs)),
            _ => return None,
        },
        _ => return None,
    };
    // Each key as `direction` wants it.
    let mut wanted = Vec::with_capacity(keys.len());
    for key in keys {
        let &Expr::Column(mut id) = &key.expr else {
            return None;
        };
        if let Some(exprs) = exprs {
            match exprs.iter().find(|(output, _)| *output == id) {
                Some((_, Expr::Column(source))) => id = *source,
                _ => return None,
            }
        }
        let position = columns.iter().position(|c| *c == id)?;
        wanted.push((
            position,
            key.descending,
            key.nulls_first,
            Some(id) == non_null,
        ));
    }
    match access {
        // At most one row: any order is every order.
        Access::Key { key, .. } if is_single_key(table, key) => Some(access.clone()),
        Access::Full { .. } | Access::Range { .. } | Access::Key { .. } => {
            let primary: Vec<IndexColumn> = table
                .primary_key
                .iter()
                .map(|&column| IndexColumn::ascending(column))
                .collect();
            // A key prefix's rows come in key order, its columns (those
            // before an IN-list's) constant; each IN-list value is read in
            // turn, in key order or, backward, in reverse.
            let fixed = match access {
                Access::Key { key, .. } => key
                    .iter()
                    .position(KeyEquality::is_list)
                    .unwrap_or(key.len()),
                _ => 0,
            };
            // The table's own order, either way, before any index: it
            // reads no index entries and looks up no rows.
            if !primary.is_empty()
                && let Some(backward) = direction(table, &primary, fixed, &wanted)
            {
                return Some(access.clone().with_backward(backward));
            }
            if !limited || !matches!(access, Access::Full { .. }) {
                return None;
            }
            table
                .indexes
                .iter()
                .enumerate()
                // A partial index lacks rows the scan may return.
                .filter(|(_, index)| index.predicate.is_none())
                .find_map(|(position, index)| {
                    let backward = direction(table, &index.columns, 0, &wanted)?;
                    Some(Access::Index(IndexAccess {
                        index: position,
                        equal: Vec::new(),
                        lower: Bound::Unbounded,
                        upper: Bound::Unbounded,
                        not_null: false,
                        backward,
                        covering: false,
                    }))
                })
        }
        Access::Index(index_access) => {
            let index = table.indexes.get(index_access.index)?;
            // Each value of an IN-list is read in turn, in the index's
            // order: only the columns before the list are constant.
            let fixed = index_access
                .equal
                .iter()
                .position(KeyEquality::is_list)
                .unwrap_or(index_access.equal.len());
            let backward = direction(table, &index.columns, fixed, &wanted)?;
            Some(Access::Index(IndexAccess {
                backward,
                ..index_access.clone()
            }))
        }
    }
}

/// Whether reading `columns` (an index's, or the primary key's) forward
/// (`false`) or backward (`true`) gives the order `wanted`, the first
/// `fixed` columns being constant; `None` if neither does. Each wanted key
/// is (table column, descending, NULLS FIRST, NULLs filtered out); NULLS
/// placement does not matter for a column that holds or returns no NULL.
fn direction(
    table: &Table,
    columns: &[IndexColumn],
    fixed: usize,
    wanted: &[(usize, bool, bool, bool)],
) -> Option<bool> {
    let constant = |position: usize| {
        columns[..fixed]
            .iter()
            .any(|c| c.table_column() == Some(position))
    };
    let mut next = fixed;
    let mut backward = None;
    for &(position, descending, nulls_first, non_null) in wanted {
        if constant(position) {
            continue;
        }
        let column = columns.get(next)?;
        if column.table_column() != Some(position) {
            return None;
        }
        next += 1;
        let nullable =
            !non_null && table.columns[position].nullable && !table.primary_key.contains(&position);
        let reversed = descending != column.descending;
        if nullable && (nulls_first != column.nulls_first) != reversed {
            return None;
        }
        if *backward.get_or_insert(reversed) != reversed {
            return None;
        }
    }
    Some(backward.unwrap_or(false))
}

/// The scan in `input` given `access`.
fn with_access(input: LogicalPlan, access: Access) -> LogicalPlan {
    match input {
        LogicalPlan::Scan {
            table,
            columns,
            filter,
            ..
        } => LogicalPlan::Scan {
            table,
            columns,
            access,
            filter,
        },
        LogicalPlan::Project { input, exprs } => LogicalPlan::Project {
            input: Box::new(with_access(*input, access)),
            exprs,
        },
        other => other,
    }
}

/// An aggregate without GROUP BY over `input`; a lone `min(c)` or
/// `max(c)` reads one row through an order on `c` when there is one.
fn extreme(
    input: LogicalPlan,
    aggregates: Vec<(ColumnId, crate::sql::plan::Aggregate)>,
) -> LogicalPlan {
    let keep = |input: LogicalPlan, aggregates| LogicalPlan::Aggregate {
        input: Box::new(input),
        group_by: Vec::new(),
        aggregates,
        grouping_sets: None,
    };
    let column = match aggregates.as_slice() {
        [(_, aggregate)]
            if matches!(
                aggregate.function,
                AggregateFunction::Min | AggregateFunction::Max
            ) && aggregate.filter.is_none()
                && aggregate.order_by.is_empty() =>
        {
            match aggregate.args.as_slice() {
                [Expr::Column(id)] => *id,
                _ => return keep(input, aggregates),
            }
        }
        _ => return keep(input, aggregates),
    };
    let LogicalPlan::Scan {
        table,
        columns,
        access,
        filter,
    } = &input
    else {
        return keep(input, aggregates);
    };
    let max = aggregates[0].1.function == AggregateFunction::Max;
    let key = SortKey {
        expr: Expr::Column(column),
        descending: max,
        nulls_first: max,
    };
    let not_null = Expr::IsNull {
        expr: Box::new(Expr::Column(column)),
        negated: true,
    };
    let scan = LogicalPlan::Scan {
        table: table.clone(),
        columns: columns.clone(),
        access: access.clone(),
        filter: Some(match filter {
            Some(filter) => Expr::and(filter.clone(), not_null),
            None => not_null,
        }),
    };
    let Some(access) = ordered(&scan, std::slice::from_ref(&key), true, Some(column)) else {
        return keep(input, aggregates);
    };
    // The index read skips the column's NULL entries when it is the
    // index's next column.
    let access = match access {
        Access::Index(mut index_access) => {
            let next = table
                .indexes
                .get(index_access.index)
                .and_then(|index| index.columns.get(index_access.equal.len()));
            if next
                .and_then(IndexColumn::table_column)
                .is_some_and(|next| columns[next] == column)
                && !bounded(&index_access.lower, &index_access.upper)
            {
                index_access.not_null = true;
            }
            Access::Index(index_access)
        }
        other => other,
    };
    keep(
        LogicalPlan::Limit {
            input: Box::new(with_access(scan, access)),
            limit: Some(Expr::Literal(Value::BigInt(1))),
            offset: None,
        },
        aggregates,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::catalog::TableColumn;
    use crate::sql::types::DataType;

    fn table() -> Table {
        let column = |name: &str, nullable| TableColumn {
            name: name.into(),
            data_type: DataType::Integer,
            nullable,
            default: None,
            identity: None,
        };
        Table {
            name: "t".into(),
            tree: 3,
            columns: vec![column("a", true), column("b", true), column("c", false)],
            primary_key: Vec::new(),
            indexes: Vec::new(),
            catalog_epoch: 0,
        }
    }

    /// A scan of `table` keyed by `(c, a)`, with `access`.
    fn keyed_scan(access: Access) -> LogicalPlan {
        LogicalPlan::Scan {
            table: std::sync::Arc::new(Table {
                primary_key: vec![2, 0],
                ..table()
            }),
            columns: vec![ColumnId(10), ColumnId(11), ColumnId(12)],
            access,
            filter: None,
        }
    }

    fn key(column: u32, descending: bool) -> SortKey {
        SortKey {
            expr: Expr::Column(ColumnId(column)),
            descending,
            nulls_first: descending,
        }
    }

    fn access(plan: &LogicalPlan) -> Option<&Access> {
        match plan {
            LogicalPlan::Scan { access, .. } => Some(access),
            _ => None,
        }
    }

    #[test]
    fn the_primary_key_order_is_read_backward_with_every_column_reversed() {
        let scan = keyed_scan(Access::full());
        // (c DESC, a DESC): the key backward, NULLS FIRST or not.
        let plan = order(scan.clone(), vec![key(12, true), key(10, true)], false);
        assert_eq!(access(&plan), Some(&Access::Full { backward: true }));
        let nulls_last = SortKey {
            nulls_first: false,
            ..key(12, true)
        };
        let plan = order(scan.clone(), vec![nulls_last], false);
        assert_eq!(access(&plan), Some(&Access::Full { backward: true }));
        // Ascending is the key's own order; mixed needs the sort.
        let plan = order(scan.clone(), vec![key(12, false), key(10, false)], false);
        assert_eq!(access(&plan), Some(&Access::full()));
        let plan = order(scan.clone(), vec![key(12, true), key(10, false)], false);
        assert!(matches!(plan, LogicalPlan::Sort { .. }));
        // A fixed leading key column leaves the next one's order.
        let prefix = keyed_scan(Access::key(vec![KeyEquality::Value(Expr::Literal(
            Value::Integer(1),
        ))]));
        let plan = order(prefix, vec![key(10, true)], false);
        assert!(matches!(
            access(&plan),
            Some(Access::Key { backward: true, .. })
        ));
        // An IN-list's column is not constant: it must be reversed too.
        let list = keyed_scan(Access::key(vec![KeyEquality::List(vec![
            Expr::Literal(Value::Integer(1)),
            Expr::Literal(Value::Integer(2)),
        ])]));
        let plan = order(list.clone(), vec![key(10, true)], false);
        assert!(matches!(plan, LogicalPlan::Sort { .. }));
        let plan = order(list, vec![key(12, true), key(10, true)], false);
        assert!(matches!(
            access(&plan),
            Some(Access::Key { backward: true, .. })
        ));
    }

    #[test]
    fn max_of_the_leading_key_column_reads_one_row_backward() {
        let aggregate = |function| {
            vec![(
                ColumnId(20),
                crate::sql::plan::Aggregate {
                    function,
                    args: vec![Expr::Column(ColumnId(12))],
                    distinct: false,
                    filter: None,
                    order_by: Vec::new(),
                    data_type: DataType::Integer,
                },
            )]
        };
        for (function, backward) in [
            (AggregateFunction::Max, true),
            (AggregateFunction::Min, false),
        ] {
            let plan = extreme(keyed_scan(Access::full()), aggregate(function));
            let LogicalPlan::Aggregate { input, .. } = plan else {
                panic!("an aggregate");
            };
            let LogicalPlan::Limit { input, .. } = *input else {
                panic!("{function:?} reads one row");
            };
            assert_eq!(access(&input), Some(&Access::Full { backward }));
        }
    }

    fn column(column: usize, descending: bool, nulls_first: bool) -> IndexColumn {
        IndexColumn {
            key: crate::sql::catalog::IndexKey::Column(column),
            descending,
            nulls_first,
        }
    }

    #[test]
    fn an_index_order_is_read_forward_or_backward_or_not_at_all() {
        let table = table();
        // (a ASC NULLS LAST, b DESC NULLS FIRST), PostgreSQL's defaults.
        let index = [column(0, false, false), column(1, true, true)];
        let forward = [(0, false, false, false), (1, true, true, false)];
        let backward = [(0, true, true, false), (1, false, false, false)];
        assert_eq!(direction(&table, &index, 0, &forward), Some(false));
        assert_eq!(direction(&table, &index, 0, &backward), Some(true));
        // Mixed directions, or the wrong NULLS placement, need a sort.
        let mixed = [(0, false, false, false), (1, false, false, false)];
        assert_eq!(direction(&table, &index, 0, &mixed), None);
        let nulls = [(0, false, true, false)];
        assert_eq!(direction(&table, &index, 0, &nulls), None);
        // ...unless the column's NULLs are filtered out.
        let nulls_dropped = [(0, false, true, true)];
        assert_eq!(direction(&table, &index, 0, &nulls_dropped), Some(false));
        // A fixed leading column orders nothing: skipped, in the keys too.
        let after_fixed = [(0, true, true, false), (1, false, false, false)];
        assert_eq!(direction(&table, &index, 1, &after_fixed), Some(true));
        // A key on a column the index does not hold there.
        assert_eq!(
            direction(&table, &index, 0, &[(1, true, true, false)]),
            None
        );
        // A NOT NULL column ignores NULLS placement.
        let on_c = [column(2, false, false)];
        assert_eq!(
            direction(&table, &on_c, 0, &[(2, true, false, false)]),
            Some(true)
        );
        // No keys: any order, forward.
        assert_eq!(direction(&table, &index, 0, &[]), Some(false));
    }
}
