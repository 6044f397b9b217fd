//! The cost model: for each plan node, the rows it returns, their width,
//! and its cost in PostgreSQL's units (one sequential page read = 1),
//! both to its first row (startup) and to its last (total).
//!
//! | constant | value | PostgreSQL setting |
//! |---|---|---|
//! | `SEQUENTIAL_PAGE` | 1.0 | `seq_page_cost` |
//! | `RANDOM_PAGE` | 4.0 | `random_page_cost` |
//! | `CPU_TUPLE` | 0.01 | `cpu_tuple_cost` |
//! | `CPU_OPERATOR` | 0.0025 | `cpu_operator_cost` |
//! | `CACHE_PAGES` | 524,288 (4 GiB) | `effective_cache_size` |
//! | `INDEX_ENTRY` | 0.03 | (`cpu_index_tuple_cost`, measured) |
//! | `ROW_FETCH`, `ROW_FETCH_IN_ORDER` | 0.15, 0.05 | (`random_page_cost`, measured) |
//!
//! A table's pages are its stored bytes (from `ANALYZE`) over 8 KiB. A
//! key lookup (or the start of a key prefix) is one descent of the
//! table's B+tree, priced as a row fetch. A secondary index read pays one
//! descent, the share of the index's pages
//! its range covers, a cost per entry, and (unless it covers the query) a
//! row fetch per entry, cheaper by the square of the leading column's
//! correlation (PostgreSQL's `cost_index` interpolates the same way).
//!
//! Deviation: PostgreSQL prices a fetch as a random page read, which on a
//! cached table overstates it; here a fetch is a descent of the table's
//! B+tree in the buffer pool, priced by measurement (`INDEX_ENTRY`,
//! `ROW_FETCH`, `ROW_FETCH_IN_ORDER`: a 100,000-row table, fetches of 1,000
//! to 20,000 rows against a sequential scan of all). Only a table larger
//! than the cache adds random page reads, counted with Mackert and Lohman's
//! model. Sorts cost `2·cpu_operator·N·log2 N`; hash joins build on the
//! right input.

use std::ops::Bound;

use super::estimate::{DEFAULT_TABLE_ROWS, Estimator, constant_value};
use crate::sql::catalog::{IndexColumn, Table};
use crate::sql::expr::{ColumnId, Expr};
use crate::sql::plan::{
    Access, IndexAccess, JoinKind, JoinStrategy, KeyEquality, LogicalPlan, SetOperator,
    index_key_operand, index_predicate,
};

pub const SEQUENTIAL_PAGE: f64 = 1.0;
pub const RANDOM_PAGE: f64 = 4.0;
pub const CPU_TUPLE: f64 = 0.01;
pub const CPU_OPERATOR: f64 = 0.0025;
/// Reading one secondary-index entry (decoding it, checking its
/// visibility): measured at about three rows of a sequential scan.
pub const INDEX_ENTRY: f64 = 0.03;
/// Fetching a row by the key an index entry ends with, a descent of the
/// table's B+tree: measured at 7 to 20 rows of a sequential scan when the
/// index order is unrelated to the table's (PostgreSQL charges a random
/// page per fetch, which here is a cached descent)...
pub const ROW_FETCH: f64 = 0.15;
/// ... and about a third of that when the two orders agree (correlation
/// ±1), as consecutive fetches then reuse the same leaf pages.
pub const ROW_FETCH_IN_ORDER: f64 = 0.05;
/// `effective_cache_size` when no buffer pool size is known: 4 GiB.
pub const CACHE_PAGES: f64 = 524_288.0;
const PAGE_BYTES: f64 = 8192.0;
/// Rows assumed for table functions and CTE scans, as PostgreSQL does.
const DEFAULT_FUNCTION_ROWS: f64 = 1000.0;

/// A node's estimate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub rows: f64,
    /// Average bytes per row.
    pub width: f64,
    pub startup: f64,
    pub total: f64,
}

impl Estimator<'_> {
    /// The estimate of a plan (its inputs estimated recursively).
    pub fn estimate(&self, plan: &LogicalPlan) -> Estimate {
        let width = self.row_width(&plan.output());
        let (rows, startup, total) = match plan {
            LogicalPlan::Values { rows, .. } => {
                let count = rows.len() as f64;
                (count, 0.0, count * CPU_OPERATOR)
            }
            LogicalPlan::Scan {
                table,
                columns,
                access,
                filter,
            } => {
                let cost = self.scan_cost(table, columns, access, filter.as_ref());
                (cost.rows, cost.startup, cost.total)
            }
            LogicalPlan::Filter { input, predicate } => {
                let input = self.estimate(input);
                let rows = input.rows * self.selectivity(predicate, None);
                (
                    rows,
                    input.startup,
                    input.total + input.rows * operators(predicate) * CPU_OPERATOR,
                )
            }
            LogicalPlan::Project { input, exprs } => {
                let input = self.estimate(input);
                let computed = exprs
                    .iter()
                    .filter(|(_, expr)| !matches!(expr, Expr::Column(_)))
                    .map(|(_, expr)| operators(expr))
                    .sum::<f64>();
                (
                    input.rows,
                    input.startup,
                    input.total + input.rows * computed * CPU_OPERATOR,
                )
            }
            LogicalPlan::Aggregate {
                input,
                group_by,
                aggregates,
                ..
            } => {
                let input = self.estimate(input);
                let groups = if group_by.is_empty() {
                    1.0
                } else {
                    self.groups(group_by.iter().map(|(_, expr)| expr), input.rows)
                };
                let work =
                    input.rows * (group_by.len() + aggregates.len()).max(1) as f64 * CPU_OPERATOR;
                let total = input.total + work + groups * CPU_TUPLE;
                (groups, total, total)
            }
            LogicalPlan::Distinct { input } => {
                let output = input.output();
                let input = self.estimate(input);
                let exprs: Vec<Expr> = output.iter().map(|id| Expr::Column(*id)).collect();
                let groups = self.groups(exprs.iter(), input.rows);
                let total = input.total + input.rows * output.len().max(1) as f64 * CPU_OPERATOR;
                (groups, input.startup, total + groups * CPU_TUPLE)
            }
            LogicalPlan::DistinctOn { input, on } => {
                let input = self.estimate(input);
                let groups = self.groups(on.iter(), input.rows);
                (
                    groups,
                    input.startup,
                    input.total + input.rows * on.len() as f64 * CPU_OPERATOR,
                )
            }
            LogicalPlan::Window { input, functions } => {
                let input = self.estimate(input);
                let total = input.total + input.rows * functions.len() as f64 * CPU_OPERATOR;
                (input.rows, total, total)
            }
            LogicalPlan::Sort { input, keys } => {
                let input = self.estimate(input);
                let startup = input.total + sort_cost(input.rows, keys.len());
                (input.rows, startup, startup + input.rows * CPU_OPERATOR)
            }
            LogicalPlan::Limit {
                input,
                limit,
                offset,
            } => {
                let input = self.estimate(input);
                let count = |expr: &Option<Expr>| {
                    expr.as_ref()
                        .and_then(constant_value)
                        .and_then(|value| value.as_i64())
                        .map(|count| count.max(0) as f64)
                };
                let offset = count(offset).unwrap_or(0.0);
                let wanted = match limit {
                    // A limit that is not a constant: PostgreSQL assumes 10%.
                    Some(_) => count(limit).unwrap_or(input.rows * 0.1) + offset,
                    None => input.rows,
                };
                let fraction = if input.rows > 0.0 {
                    (wanted / input.rows).min(1.0)
                } else {
                    1.0
                };
                let rows = (wanted.min(input.rows) - offset).max(1.0);
                let total = input.startup + (input.total - input.startup) * fraction;
                (rows, input.startup, total)
            }
            LogicalPlan::Join {
                left,
                right,
                kind,
                condition,
                strategy,
            } => {
                let cost = self.join_cost(left, right, *kind, condition.as_ref(), strategy);
                (cost.rows, cost.startup, cost.total)
            }
            LogicalPlan::SetOperation {
                op,
                left,
                right,
                all,
                ..
            } => {
                let (left, right) = (self.estimate(left), self.estimate(right));
                let rows = match op {
                    SetOperator::Union => left.rows + right.rows,
                    SetOperator::Intersect => left.rows.min(right.rows),
                    SetOperator::Except => left.rows,
                };
                let mut total = left.total + right.total;
                if !all || *op != SetOperator::Union {
                    total += (left.rows + right.rows) * CPU_OPERATOR;
                }
                (rows, left.startup + right.startup, total)
            }
            LogicalPlan::TableFunction { .. } => (
                DEFAULT_FUNCTION_ROWS,
                0.0,
                DEFAULT_FUNCTION_ROWS * (CPU_OPERATOR + CPU_TUPLE),
            ),
            LogicalPlan::WithCte {
                definition, input, ..
            } => {
                let (definition, input) = (self.estimate(definition), self.estimate(input));
                (input.rows, input.startup, input.total + definition.total)
            }
            LogicalPlan::CteScan { .. } | LogicalPlan::WorkTable { .. } => (
                DEFAULT_FUNCTION_ROWS,
                0.0,
                DEFAULT_FUNCTION_ROWS * CPU_TUPLE,
            ),
            LogicalPlan::RecursiveCte {
                anchor, recursive, ..
            } => {
                let (anchor, recursive) = (self.estimate(anchor), self.estimate(recursive));
                // PostgreSQL's guess: ten rounds of the recursive part.
                let rows = anchor.rows + 10.0 * recursive.rows;
                (rows, anchor.startup, anchor.total + 10.0 * recursive.total)
            }
        };
        Estimate {
            rows: rows.max(1.0).round(),
            width,
            startup,
            total: total.max(startup),
        }
    }

    fn row_width(&self, columns: &[ColumnId]) -> f64 {
        columns.iter().map(|id| self.width(*id)).sum()
    }

    /// Distinct combinations of `exprs` among `rows` rows: the product of
    /// each column's distinct count, at most the rows (PostgreSQL's
    /// `estimate_num_groups`, without its correction for many columns).
    fn groups<'e>(&self, exprs: impl Iterator<Item = &'e Expr>, rows: f64) -> f64 {
        let mut groups = 1.0;
        for expr in exprs {
            groups *= match expr {
                Expr::Column(id) => self
                    .column(*id)
                    .map_or(super::estimate::DEFAULT_DISTINCT, |facts| facts.distinct()),
                Expr::Literal(_) => 1.0,
                _ => super::estimate::DEFAULT_DISTINCT,
            };
            if groups >= rows {
                return rows.max(1.0);
            }
        }
        groups.clamp(1.0, rows.max(1.0))
    }

    /// A table's pages, from its analyzed bytes (or the rows times the
    /// row width).
    pub fn table_pages(&self, table: &Table, columns: &[ColumnId]) -> f64 {
        let bytes = match self.table_statistics(table) {
            Some(statistics) => statistics.row_bytes as f64,
            None => DEFAULT_TABLE_ROWS * (self.row_width(columns) + 24.0),
        };
        (bytes / PAGE_BYTES).ceil().max(1.0)
    }

    /// The cost of a B+tree descent to the first entry (PostgreSQL's
    /// `btcostestimate`: a comparison per level of a binary search over
    /// the entries, and 50 operators per page descended).
    fn descent(&self, entries: f64) -> f64 {
        let levels = (entries.max(2.0).log(200.0)).ceil().max(1.0);
        entries.max(2.0).log2().ceil() * CPU_OPERATOR + (levels + 1.0) * 50.0 * CPU_OPERATOR
    }

    /// The cost of one lookup into `relation` (a table, maybe filtered)
    /// by its key or an index, returning `rows` rows (`join_search` and
    /// `join_strategy` price index nested loops with it). By the primary
    /// key (its leading column fixed by the filter): one descent of the
    /// table, measured as a row fetch, then the rows side by side. By an
    /// index: its descent, then an entry and a row fetch per row.
    pub fn lookup_cost(&self, relation: &LogicalPlan, rows: f64) -> f64 {
        let (scan, predicate) = match relation {
            LogicalPlan::Filter { input, predicate } => (input.as_ref(), Some(predicate)),
            other => (other, None),
        };
        let LogicalPlan::Scan { table, columns, .. } = scan else {
            return f64::INFINITY;
        };
        let leading_key = table.primary_key.first().and_then(|c| columns.get(*c));
        let by_key = predicate.is_some_and(|predicate| {
            predicate
                .conjuncts()
                .iter()
                .any(|conjunct| fixes_column(conjunct, leading_key, columns))
        });
        self.lookup_cost_by(predicate, rows, by_key)
    }

    /// [`Estimator::lookup_cost`] of a lookup with `filter`, by the
    /// primary key (`by_key`) or by an index.
    pub fn lookup_cost_by(&self, filter: Option<&Expr>, rows: f64, by_key: bool) -> f64 {
        let filter_ops = filter.map_or(0.0, operators);
        let per_row = CPU_TUPLE + filter_ops * CPU_OPERATOR;
        match by_key {
            true => ROW_FETCH + rows * per_row,
            false => ROW_FETCH + rows * (INDEX_ENTRY + ROW_FETCH + per_row),
        }
    }

    /// The cost of a scan with its access path (rows after the filter).
    pub fn scan_cost(
        &self,
        table: &Table,
        columns: &[ColumnId],
        access: &Access,
        filter: Option<&Expr>,
    ) -> Estimate {
        let rows = self.table_rows(table);
        let pages = self.table_pages(table, columns);
        let filter_ops = filter.map_or(0.0, operators);
        let selectivity = filter.map_or(1.0, |filter| self.selectivity(filter, Some(columns)));
        let out = (rows * selectivity).max(1.0);
        let width = self.row_width(columns);
        let (startup, total) = match access {
            Access::Full { .. } => (
                0.0,
                pages * SEQUENTIAL_PAGE + rows * (CPU_TUPLE + filter_ops * CPU_OPERATOR),
            ),
            // A lookup is one descent of the table's B+tree, measured as a
            // row fetch.
            Access::Key { key, .. } if key.len() == table.primary_key.len() => (
                ROW_FETCH,
                probes(key) * (ROW_FETCH + CPU_TUPLE + filter_ops * CPU_OPERATOR),
            ),
            Access::Key { key, .. } => {
                // A key prefix: a descent per prefix, then its rows in
                // key order.
                let fraction = equality_conditions(key_operands(table, columns), key)
                    .into_iter()
                    .reduce(Expr::and)
                    .map_or(1.0, |predicate| self.selectivity(&predicate, Some(columns)));
                let read = rows * fraction;
                (
                    ROW_FETCH,
                    ROW_FETCH * probes(key)
                        + (pages * fraction).ceil() * SEQUENTIAL_PAGE
                        + read * (CPU_TUPLE + filter_ops * CPU_OPERATOR),
                )
            }
            Access::Range { start, end, .. } => {
                let fraction = self.key_range_fraction(table, columns, start, end);
                let startup = self.descent(rows);
                let read = rows * fraction;
                (
                    startup,
                    startup
                        + ROW_FETCH
                        + (pages * fraction).ceil() * SEQUENTIAL_PAGE
                        + read * (CPU_TUPLE + filter_ops * CPU_OPERATOR),
                )
            }
            Access::Index(index) => self.index_cost(table, columns, index, rows, pages, filter_ops),
        };
        Estimate {
            rows: out,
            width,
            startup,
            total,
        }
    }

    /// The fraction of a table's rows a primary-key range covers.
    fn key_range_fraction(
        &self,
        table: &Table,
        columns: &[ColumnId],
        start: &Bound<Expr>,
        end: &Bound<Expr>,
    ) -> f64 {
        let Some(&key_column) = table.primary_key.first() else {
            return 1.0;
        };
        let Some(&id) = columns.get(key_column) else {
            return 1.0;
        };
        let predicate = bounds_predicate(&Expr::Column(id), start, end);
        predicate.map_or(1.0, |predicate| self.selectivity(&predicate, Some(columns)))
    }

    /// Startup and total cost of reading through a secondary index.
    fn index_cost(
        &self,
        table: &Table,
        columns: &[ColumnId],
        access: &IndexAccess,
        rows: f64,
        pages: f64,
        filter_ops: f64,
    ) -> (f64, f64) {
        let Some(index) = table.indexes.get(access.index) else {
            return (0.0, f64::MAX);
        };
        // The index conditions, as a predicate to estimate; a partial
        // index holds only the rows of its predicate.
        let operand = |column| index_key_operand(index, column, columns);
        let mut conditions = equality_conditions(index.columns.iter().map(operand), &access.equal);
        if let Some(next) = index.columns.get(access.equal.len()).and_then(operand)
            && let Some(predicate) = bounds_predicate(&next, &access.lower, &access.upper)
        {
            conditions.push(predicate);
        }
        let coverage = index_predicate(index, columns).map_or(1.0, |predicate| {
            self.selectivity(&predicate, Some(columns)).max(1e-9)
        });
        conditions.extend(index_predicate(index, columns));
        let fraction = conditions
            .into_iter()
            .reduce(Expr::and)
            .map_or(1.0, |predicate| self.selectivity(&predicate, Some(columns)))
            .min(coverage);
        let entries = (rows * fraction).max(1.0);
        // Entries are the index and INCLUDE columns and the primary key,
        // plus overhead (an expression is priced as a column's width).
        let entry_width: f64 = index
            .columns
            .iter()
            .map(|column| column.table_column().unwrap_or(0))
            .chain(index.include.iter().copied())
            .chain(table.primary_key.iter().copied())
            .filter_map(|position| columns.get(position))
            .map(|id| self.width(*id))
            .sum::<f64>()
            + 16.0;
        let index_pages = (rows * coverage * entry_width / PAGE_BYTES).ceil().max(1.0);
        // The share of the index read.
        let fraction_read = fraction / coverage;
        let startup = self.descent(rows);
        // One descent per value of an IN-list.
        let mut total = startup * probes(&access.equal)
            + ROW_FETCH
            + (index_pages * fraction_read).ceil() * SEQUENTIAL_PAGE
            + entries * (INDEX_ENTRY + filter_ops * CPU_OPERATOR);
        if !access.covering {
            let correlation = index
                .columns
                .first()
                .and_then(IndexColumn::table_column)
                .and_then(|position| columns.get(position))
                .and_then(|id| self.column(*id))
                .and_then(|facts| facts.statistics)
                .and_then(|statistics| statistics.correlation)
                .unwrap_or(0.0);
            let squared = correlation * correlation;
            let fetch = ROW_FETCH + squared * (ROW_FETCH_IN_ORDER - ROW_FETCH);
            total += entries * (fetch + CPU_TUPLE);
            // Beyond the buffer pool, fetches also read pages: Mackert and
            // Lohman's count of them, at the random page cost.
            if pages > CACHE_PAGES {
                total += (1.0 - squared) * pages_fetched(entries, pages, CACHE_PAGES) * RANDOM_PAGE;
            }
        }
        (startup, total)
    }

    fn join_cost(
        &self,
        left: &LogicalPlan,
        right: &LogicalPlan,
        kind: JoinKind,
        condition: Option<&Expr>,
        strategy: &JoinStrategy,
    ) -> Estimate {
        let (outer, inner) = (self.estimate(left), self.estimate(right));
        let width = outer.width + inner.width;
        // Without a condition (a parameterized join's right plan holds the
        // predicates, its rows those of one left row) every pair counts.
        // A hash or merge join tests its condition only on the pairs whose
        // keys match.
        let matched = outer.rows
            * inner.rows
            * match strategy {
                JoinStrategy::Hash { keys } | JoinStrategy::Merge { keys } => {
                    self.keys_selectivity(keys)
                }
                JoinStrategy::Parameterized | JoinStrategy::NestedLoop => 1.0,
            };
        let pairs = matched * condition.map_or(1.0, |condition| self.selectivity(condition, None));
        let matched_fraction = || -> f64 {
            if outer.rows <= 0.0 {
                return 0.0;
            }
            (pairs / outer.rows).min(1.0)
        };
        let rows = match kind {
            JoinKind::Inner => pairs,
            JoinKind::Left => pairs.max(outer.rows),
            JoinKind::Right => pairs.max(inner.rows),
            JoinKind::Full => pairs.max(outer.rows).max(inner.rows),
            JoinKind::Semi => outer.rows * matched_fraction(),
            JoinKind::Anti => outer.rows * (1.0 - matched_fraction()).max(0.1),
        };
        let method = match strategy {
            JoinStrategy::Hash { keys } => JoinMethod::Hash { keys: keys.len() },
            JoinStrategy::Merge { keys } => JoinMethod::Merge { keys: keys.len() },
            // Before `access_path` has made the inner input a lookup, it
            // is still the filtered full scan the lookup will replace.
            JoinStrategy::Parameterized => JoinMethod::Lookup {
                per_outer_row: if is_unplanned_lookup(right) {
                    self.lookup_cost(right, inner.rows)
                } else {
                    inner.total
                },
            },
            JoinStrategy::NestedLoop => JoinMethod::NestedLoop,
        };
        let inputs = JoinInputs {
            outer,
            inner,
            pairs: matched,
            rows,
            condition_ops: condition.map_or(0.0, operators),
        };
        let (startup, total) = inputs.cost(method);
        Estimate {
            rows,
            width,
            startup,
            total,
        }
    }
}

/// A join algorithm, with what its price depends on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum JoinMethod {
    /// A hash table built on the inner input, probed by `keys` values.
    Hash { keys: usize },
    /// Both inputs read in the order of `keys`.
    Merge { keys: usize },
    /// A key or index lookup into the inner table per outer row.
    Lookup { per_outer_row: f64 },
    /// Every pair tested.
    NestedLoop,
}

/// The estimates a join's price is computed from: the same for every
/// method, so the optimizer can price each and keep the cheapest
/// (`join_strategy`, `join_search`).
pub struct JoinInputs {
    pub outer: Estimate,
    pub inner: Estimate,
    /// Pairs the join's condition is tested on.
    pub pairs: f64,
    /// Rows the join returns.
    pub rows: f64,
    /// Operators in the condition left after the keys.
    pub condition_ops: f64,
}

impl JoinInputs {
    /// (startup, total) cost of joining with `method`.
    pub fn cost(&self, method: JoinMethod) -> (f64, f64) {
        let (outer, inner) = (&self.outer, &self.inner);
        let residual = self.pairs * self.condition_ops * CPU_OPERATOR;
        let output = self.rows * CPU_TUPLE;
        match method {
            JoinMethod::Hash { keys } => {
                let build = inner.total + inner.rows * (keys as f64 + 1.0) * CPU_OPERATOR;
                let startup = build + outer.startup;
                let total = build
                    + outer.total
                    + outer.rows * keys as f64 * CPU_OPERATOR
                    + residual
                    + output;
                (startup, total)
            }
            JoinMethod::Merge { keys } => (
                outer.startup + inner.startup,
                outer.total
                    + inner.total
                    + (outer.rows + inner.rows) * keys as f64 * CPU_OPERATOR
                    + residual
                    + output,
            ),
            JoinMethod::Lookup { per_outer_row } => (
                outer.startup + inner.startup.min(per_outer_row),
                outer.total + outer.rows * per_outer_row + output,
            ),
            JoinMethod::NestedLoop => (
                outer.startup + inner.total,
                outer.total
                    + inner.total
                    + outer.rows * inner.rows * self.condition_ops.max(1.0) * CPU_OPERATOR
                    + output,
            ),
        }
    }
}

/// Whether `plan` is the inner input of a lookup join that `access_path`
/// has not yet turned into a lookup: a full scan, maybe filtered.
fn is_unplanned_lookup(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::Filter { input, .. } => is_unplanned_lookup(input),
        LogicalPlan::Scan { access, .. } => matches!(access, Access::Full { .. }),
        _ => false,
    }
}

/// Whether `conjunct` is `column = v` for the column `id`, `v` reading
/// none of the scanned `columns` (a lookup key).
fn fixes_column(conjunct: &Expr, id: Option<&ColumnId>, columns: &[ColumnId]) -> bool {
    let Some(id) = id else { return false };
    let Expr::Binary {
        op: crate::sql::expr::BinaryOp::Equal,
        left,
        right,
        ..
    } = conjunct
    else {
        return false;
    };
    let independent = |expr: &Expr| !expr.columns().iter().any(|c| columns.contains(c));
    (**left == Expr::Column(*id) && independent(right))
        || (**right == Expr::Column(*id) && independent(left))
}

/// Key equalities as predicates over the scanned columns, for estimating:
/// `key_columns` are the table positions of the key's columns.
fn equality_conditions(
    key_operands: impl Iterator<Item = Option<Expr>>,
    equal: &[KeyEquality],
) -> Vec<Expr> {
    let mut conditions: Vec<Expr> = Vec::new();
    for (operand, value) in key_operands.zip(equal) {
        let Some(operand) = operand else {
            continue;
        };
        conditions.push(match value {
            KeyEquality::Value(value) => Expr::Binary {
                op: crate::sql::expr::BinaryOp::Equal,
                left: Box::new(operand),
                right: Box::new(value.clone()),
                data_type: crate::sql::types::DataType::Boolean,
            },
            KeyEquality::Null => Expr::IsNull {
                expr: Box::new(operand),
                negated: false,
            },
            KeyEquality::List(list) => Expr::InList {
                expr: Box::new(operand),
                list: list.clone(),
                negated: false,
            },
        });
    }
    conditions
}

/// The scan columns of the primary key, as key operands.
fn key_operands<'c>(
    table: &'c Table,
    columns: &'c [ColumnId],
) -> impl Iterator<Item = Option<Expr>> + 'c {
    table
        .primary_key
        .iter()
        .map(|position| columns.get(*position).map(|id| Expr::Column(*id)))
}

/// How many reads key equalities make: the product of their IN-lists'
/// lengths.
fn probes(equal: &[KeyEquality]) -> f64 {
    equal
        .iter()
        .map(|value| match value {
            KeyEquality::List(list) => list.len().max(1) as f64,
            KeyEquality::Value(_) | KeyEquality::Null => 1.0,
        })
        .product()
}

/// Pages fetched for `tuples` random row fetches from a table of `pages`
/// pages with `CACHE_PAGES` of cache: Mackert and Lohman, "Index scans
/// using a finite LRU buffer: a validated I/O model" (TODS 1989).
pub fn pages_fetched(tuples: f64, pages: f64, cache: f64) -> f64 {
    let (t, n, b) = (pages.max(1.0), tuples, cache);
    if t <= b {
        (2.0 * t * n / (2.0 * t + n)).min(t)
    } else {
        let limit = 2.0 * t * b / (2.0 * t - b);
        if n <= limit {
            2.0 * t * n / (2.0 * t + n)
        } else {
            b + (n - limit) * (t - b) / t
        }
    }
}

/// `2·cpu_operator·N·log2 N` per key column's comparison.
fn sort_cost(rows: f64, keys: usize) -> f64 {
    let rows = rows.max(2.0);
    2.0 * CPU_OPERATOR * keys.max(1) as f64 * rows * rows.log2()
}

/// Operators an expression evaluates per row.
pub fn operators(expr: &Expr) -> f64 {
    let mut count = 0.0;
    expr.walk(&mut |node| {
        if matches!(
            node,
            Expr::Binary { .. }
                | Expr::Not(_)
                | Expr::IsNull { .. }
                | Expr::IsBoolean { .. }
                | Expr::IsDistinctFrom { .. }
                | Expr::InList { .. }
                | Expr::Like { .. }
                | Expr::Case { .. }
                | Expr::Cast { .. }
                | Expr::Function { .. }
                | Expr::Negate(_)
        ) {
            count += 1.0;
        }
    });
    count
}

/// `column >(=) lower AND column <(=) upper` as a predicate to estimate.
fn bounds_predicate(operand: &Expr, lower: &Bound<Expr>, upper: &Bound<Expr>) -> Option<Expr> {
    use crate::sql::expr::BinaryOp;
    let compare = |op: BinaryOp, value: &Expr| Expr::Binary {
        op,
        left: Box::new(operand.clone()),
        right: Box::new(value.clone()),
        data_type: crate::sql::types::DataType::Boolean,
    };
    let lower = match lower {
        Bound::Included(value) => Some(compare(BinaryOp::GreaterOrEqual, value)),
        Bound::Excluded(value) => Some(compare(BinaryOp::Greater, value)),
        Bound::Unbounded => None,
    };
    let upper = match upper {
        Bound::Included(value) => Some(compare(BinaryOp::LessOrEqual, value)),
        Bound::Excluded(value) => Some(compare(BinaryOp::Less, value)),
        Bound::Unbounded => None,
    };
    match (lower, upper) {
        (Some(lower), Some(upper)) => Some(Expr::and(lower, upper)),
        (one, other) => one.or(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mackert_lohman_fetches_at_most_every_page_and_grows_with_tuples() {
        assert!((pages_fetched(1.0, 1000.0, CACHE_PAGES) - 1.0).abs() < 0.01);
        assert!(pages_fetched(1000.0, 100.0, CACHE_PAGES) <= 100.0);
        assert!(
            pages_fetched(100.0, 1000.0, CACHE_PAGES) < pages_fetched(200.0, 1000.0, CACHE_PAGES)
        );
        // Beyond the cache, fetches exceed the cache's pages.
        let big = CACHE_PAGES * 4.0;
        assert!(pages_fetched(big * 10.0, big, CACHE_PAGES) > CACHE_PAGES);
    }
}
