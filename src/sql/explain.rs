//! `EXPLAIN`: renders an optimized [`LogicalPlan`] as indented text in
//! PostgreSQL's layout, each node with its estimated startup and total
//! cost, rows and width (`optimizer/cost.rs`) unless `COSTS OFF`, with
//! expressions written back as SQL and columns named by the statement's
//! column catalog, qualified by their FROM item when the plan reads more
//! than one relation.
//!
//! ```text
//! Sort
//!   Sort Key: c.name
//!   ->  Hash Join
//!         Hash Cond: (o.customer = c.id)
//!         ->  Seq Scan on orders o
//!               Filter: (o.total > 100)
//!         ->  Seq Scan on customers c
//! ```
//!
//! Projections are not shown (as in PostgreSQL), except one that computes
//! a subquery, shown as `Result`; a filter is shown as a `Filter:` line of
//! the node below it; each subquery's plan follows the node that uses it,
//! under `SubPlan n`. Key lookups and key ranges name the primary key they
//! read: a table's rows are its primary-key B+tree. Read in reverse key
//! order they say `Backward`, as index scans do (`Key Range Scan Backward
//! using t_pkey`), and a whole table read so is PostgreSQL's `Index Scan
//! Backward using t_pkey`.
//!
//! `EXPLAIN ANALYZE` adds what each node did, as the executor measured it
//! (`execution/measure.rs`): `(actual time=first..last rows=n loops=l)`,
//! per loop as PostgreSQL prints it.
//!
//! The output is a test artifact: `sqllogictest/explain.slt` and
//! `explain_analyze.slt` pin it.

use std::ops::Bound;

use super::binder::ExplainOptions;
use super::catalog::Table;
use super::execution::measure::{Measurements, NodeMeasure};
use super::expr::{ColumnId, Expr, Subquery, SubqueryKind};
use super::optimizer::cost::Estimate;
use super::optimizer::estimate::Estimator;
use super::plan::{
    Access, Aggregate, AggregateFunction, ColumnCatalog, IndexAccess, JoinKind, JoinStrategy,
    KeyEquality, LogicalPlan, SetOperator, SortKey, TableFunction, WindowCall, WindowFunction,
    index_key_operand,
};
use super::statistics::StatisticsSet;
use super::types::Value;

/// How columns are named, how nodes are estimated (`None`: `COSTS OFF`)
/// and what they did (`EXPLAIN ANALYZE`).
struct Names<'a> {
    columns: &'a ColumnCatalog,
    qualify: bool,
    estimator: Option<Estimator<'a>>,
    measured: Option<Measured<'a>>,
}

/// The measurements of an `EXPLAIN ANALYZE` run.
#[derive(Clone, Copy)]
pub struct Measured<'a> {
    pub measurements: &'a Measurements,
    /// Whether times were taken (`TIMING`).
    pub timing: bool,
}

/// The EXPLAIN text of a plan, one line per row.
pub fn explain(
    plan: &LogicalPlan,
    columns: &ColumnCatalog,
    statistics: &StatisticsSet,
    options: ExplainOptions,
    measured: Option<Measured<'_>>,
) -> Vec<String> {
    let names = Names {
        columns,
        qualify: relations(plan) > 1,
        estimator: options
            .costs
            .then(|| Estimator::new([plan], statistics, columns)),
        measured,
    };
    let mut lines = Vec::new();
    names.node(plan, None, Vec::new(), None, None, &mut lines);
    lines
}

/// PostgreSQL's `(actual time=startup..total rows=n loops=l)`, per loop
/// (times in milliseconds), or `(never executed)`.
fn actual_text(measure: Option<NodeMeasure>, timing: bool) -> String {
    let Some(measure) = measure.filter(|measure| measure.loops > 0) else {
        return "(never executed)".to_string();
    };
    let loops = measure.loops as f64;
    let rows = (measure.rows as f64 / loops).round() as u64;
    if timing {
        let per_loop = |time: std::time::Duration| time.as_secs_f64() * 1000.0 / loops;
        format!(
            "(actual time={:.3}..{:.3} rows={rows} loops={})",
            per_loop(measure.startup),
            per_loop(measure.total),
            measure.loops
        )
    } else {
        format!("(actual rows={rows} loops={})", measure.loops)
    }
}

/// PostgreSQL's `  (cost=startup..total rows=n width=w)`.
fn costs_text(estimate: &Estimate) -> String {
    format!(
        "  (cost={:.2}..{:.2} rows={} width={})",
        estimate.startup,
        estimate.total,
        estimate.rows.round() as u64,
        estimate.width.round() as u64
    )
}

/// How many relations (FROM items) the plan reads, subqueries included.
fn relations(plan: &LogicalPlan) -> usize {
    let mut count = 0;
    plan.for_each_plan(&mut |node| {
        if matches!(
            node,
            LogicalPlan::Scan { .. }
                | LogicalPlan::CteScan { .. }
                | LogicalPlan::WorkTable { .. }
                | LogicalPlan::TableFunction { .. }
        ) {
            count += 1;
        }
    });
    count
}

/// The subqueries in an operator's own expressions, in order.
fn subqueries(plan: &LogicalPlan) -> Vec<&Subquery> {
    let mut found: Vec<&Subquery> = Vec::new();
    plan.for_each_expr(|expr| collect_subqueries(expr, &mut found));
    found
}

fn collect_subqueries<'e>(expr: &'e Expr, found: &mut Vec<&'e Subquery>) {
    if let Expr::Subquery(subquery) = expr {
        if let Some(operand) = &subquery.operand {
            collect_subqueries(operand, found);
        }
        found.push(subquery);
        return;
    }
    let mut children: Vec<&'e Expr> = Vec::new();
    expr.for_each_child(|child| children.push(child));
    for child in children {
        collect_subqueries(child, found);
    }
}

fn join_title(strategy: &JoinStrategy, kind: JoinKind) -> String {
    let method = match strategy {
        JoinStrategy::NestedLoop | JoinStrategy::Parameterized => "Nested Loop",
        JoinStrategy::Hash { .. } => "Hash",
        JoinStrategy::Merge { .. } => "Merge",
    };
    let kind = match kind {
        JoinKind::Inner => "Join",
        JoinKind::Left => "Left Join",
        JoinKind::Right => "Right Join",
        JoinKind::Full => "Full Join",
        JoinKind::Semi => "Semi Join",
        JoinKind::Anti => "Anti Join",
    };
    match (method, kind) {
        ("Nested Loop", "Join") => "Nested Loop".to_string(),
        (method, kind) => format!("{method} {kind}"),
    }
}

impl Names<'_> {
    /// Renders one node: `prefix` is `None` for the root, else the spaces
    /// before its `->`; `filters` are predicates of `Filter` nodes above it.
    /// `shown` and `measure`: the estimate and the measure of the operator
    /// this line stands for, when invisible operators above passed their
    /// place down.
    fn node(
        &self,
        plan: &LogicalPlan,
        prefix: Option<&str>,
        filters: Vec<&Expr>,
        shown: Option<Estimate>,
        measure: Option<NodeMeasure>,
        lines: &mut Vec<String>,
    ) {
        let shown = shown.or_else(|| {
            self.estimator
                .as_ref()
                .map(|estimator| estimator.estimate(plan))
        });
        let measure = measure.or_else(|| {
            self.measured
                .and_then(|measured| measured.measurements.get(plan))
        });
        // Invisible operators pass their place to their input.
        match plan {
            LogicalPlan::Project { input, .. } if subqueries(plan).is_empty() => {
                return self.node(input, prefix, filters, shown, measure, lines);
            }
            LogicalPlan::Filter { input, predicate } => {
                let mut filters = filters;
                filters.push(predicate);
                return self.node(input, prefix, filters, shown, measure, lines);
            }
            LogicalPlan::WithCte { .. } => {
                // Shown as its input, with the CTE listed under it, as
                // PostgreSQL lists CTEs under the plan they belong to.
                return self.with_cte(plan, prefix, filters, shown, measure, lines);
            }
            _ => {}
        }
        let mut costs = shown.as_ref().map(costs_text).unwrap_or_default();
        if let Some(measured) = self.measured {
            costs.push(' ');
            costs.push_str(&actual_text(measure, measured.timing));
        }
        let (title_line, detail) = match prefix {
            None => (String::new(), "  ".to_string()),
            Some(prefix) => (format!("{prefix}->  "), format!("{prefix}      ")),
        };
        let mut details: Vec<String> = Vec::new();
        let children: Vec<&LogicalPlan> = plan.inputs();
        let title = match plan {
            LogicalPlan::Values { rows, columns } => {
                if columns.is_empty() && rows.len() == 1 {
                    "Result".to_string()
                } else if rows.is_empty() {
                    // What a filter that can never be true leaves.
                    details.push("One-Time Filter: false".to_string());
                    "Result".to_string()
                } else {
                    "Values Scan on \"*VALUES*\"".to_string()
                }
            }
            LogicalPlan::Scan {
                table,
                columns,
                access,
                filter,
            } => {
                let alias = columns
                    .first()
                    .and_then(|id| self.columns.get(*id).table.clone())
                    .filter(|alias| *alias != table.name)
                    .map(|alias| format!(" {alias}"))
                    .unwrap_or_default();
                // A primary-key read in reverse is PostgreSQL's backward
                // scan of the key's index; forward, a whole table is a Seq
                // Scan (its rows are stored in key order).
                let backward = if access.backward() { " Backward" } else { "" };
                let title = match access {
                    Access::Full { backward: false } => {
                        format!("Seq Scan on {}{alias}", table.name)
                    }
                    Access::Full { backward: true } => format!(
                        "Index Scan Backward using {} on {}{alias}",
                        table.primary_key_name(),
                        table.name
                    ),
                    Access::Key { key, .. } => {
                        let key: Vec<String> = table
                            .primary_key
                            .iter()
                            .zip(key)
                            .map(|(column, e)| self.equality(&table.columns[*column].name, e))
                            .collect();
                        // A prefix of the key reads the rows under it.
                        let (title, label) = match key.len() == table.primary_key.len() {
                            true => ("Key Lookup", "Key"),
                            false => ("Key Range Scan", "Key Prefix"),
                        };
                        details.push(format!("{label}: {}", key.join(" AND ")));
                        format!(
                            "{title}{backward} using {} on {}{alias}",
                            table.primary_key_name(),
                            table.name
                        )
                    }
                    Access::Index(access) => {
                        self.index_scan(table, columns, access, &alias, &mut details)
                    }
                    Access::Range { start, end, .. } => {
                        let key = table
                            .primary_key
                            .first()
                            .map_or("?", |c| table.columns[*c].name.as_str());
                        let range = self.bounds(key, start, end);
                        details.push(format!("Key Range: {}", range.join(" AND ")));
                        format!(
                            "Key Range Scan{backward} using {} on {}{alias}",
                            table.primary_key_name(),
                            table.name
                        )
                    }
                };
                if let Some(filter) = filter {
                    details.push(format!("Filter: {}", self.expr(filter)));
                }
                title
            }
            LogicalPlan::Project { .. } => "Result".to_string(),
            LogicalPlan::Filter { .. } => unreachable!("filters are merged into their input"),
            LogicalPlan::Aggregate { group_by, .. } => {
                if group_by.is_empty() {
                    "Aggregate".to_string()
                } else {
                    let keys: Vec<&Expr> = group_by.iter().map(|(_, e)| e).collect();
                    details.push(format!("Group Key: {}", self.list(&keys)));
                    "HashAggregate".to_string()
                }
            }
            LogicalPlan::Distinct { input } => {
                let keys: Vec<Expr> = input.output().into_iter().map(Expr::Column).collect();
                let keys: Vec<&Expr> = keys.iter().collect();
                details.push(format!("Group Key: {}", self.list(&keys)));
                "HashAggregate".to_string()
            }
            LogicalPlan::Sort { keys, .. } => {
                let keys: Vec<String> = keys.iter().map(|k| self.sort_key(k)).collect();
                details.push(format!("Sort Key: {}", keys.join(", ")));
                "Sort".to_string()
            }
            LogicalPlan::Limit { .. } => "Limit".to_string(),
            LogicalPlan::DistinctOn { .. } => "Unique".to_string(),
            LogicalPlan::Window { .. } => "WindowAgg".to_string(),
            LogicalPlan::Join {
                kind,
                condition,
                strategy,
                ..
            } => {
                match strategy {
                    JoinStrategy::Hash { keys } | JoinStrategy::Merge { keys } => {
                        let label = if matches!(strategy, JoinStrategy::Hash { .. }) {
                            "Hash Cond"
                        } else {
                            "Merge Cond"
                        };
                        let conditions: Vec<String> = keys
                            .iter()
                            .map(|(l, r)| format!("({} = {})", self.expr(l), self.expr(r)))
                            .collect();
                        let text = if conditions.len() == 1 {
                            conditions[0].clone()
                        } else {
                            format!("({})", conditions.join(" AND "))
                        };
                        details.push(format!("{label}: {text}"));
                    }
                    JoinStrategy::NestedLoop | JoinStrategy::Parameterized => {}
                }
                if let Some(condition) = condition {
                    details.push(format!("Join Filter: {}", self.expr(condition)));
                }
                join_title(strategy, *kind)
            }
            LogicalPlan::SetOperation { op, all, .. } => match (op, all) {
                (SetOperator::Union, true) => "Append".to_string(),
                (SetOperator::Union, false) => {
                    let keys: Vec<Expr> = plan.output().into_iter().map(Expr::Column).collect();
                    let keys: Vec<&Expr> = keys.iter().collect();
                    details.push(format!("Group Key: {}", self.list(&keys)));
                    "HashAggregate".to_string()
                }
                (op, all) => format!(
                    "HashSetOp {}{}",
                    if *op == SetOperator::Intersect {
                        "Intersect"
                    } else {
                        "Except"
                    },
                    if *all { " All" } else { "" }
                ),
            },
            LogicalPlan::TableFunction {
                function: TableFunction::GenerateSeries { .. },
                ..
            } => "Function Scan on generate_series".to_string(),
            LogicalPlan::WithCte { .. } => unreachable!("shown through with_cte"),
            LogicalPlan::CteScan { name, .. } => format!("CTE Scan on {name}"),
            LogicalPlan::RecursiveCte { .. } => "Recursive Union".to_string(),
            LogicalPlan::WorkTable { name, .. } => format!("WorkTable Scan on {name}"),
        };
        for filter in filters {
            details.push(format!("Filter: {}", self.expr(filter)));
        }
        lines.push(format!("{title_line}{title}{costs}"));
        lines.extend(details.into_iter().map(|d| format!("{detail}{d}")));
        if matches!(
            plan,
            LogicalPlan::SetOperation {
                op: SetOperator::Union,
                all: false,
                ..
            }
        ) {
            // The Append under the distinct step: both inputs, whole.
            let append = self.estimator.as_ref().map(|estimator| {
                let estimates: Vec<Estimate> = children
                    .iter()
                    .map(|child| estimator.estimate(child))
                    .collect();
                costs_text(&Estimate {
                    rows: estimates.iter().map(|e| e.rows).sum(),
                    width: shown.map_or(0.0, |shown| shown.width),
                    startup: estimates.first().map_or(0.0, |e| e.startup),
                    total: estimates.iter().map(|e| e.total).sum(),
                })
            });
            // The Append is the distinct step's input: its rows are the
            // children's, in the same loops.
            let appended = self.measured.map(|measured| {
                let measures: Vec<NodeMeasure> = children
                    .iter()
                    .filter_map(|child| measured.measurements.get(child))
                    .collect();
                let rows = measures.iter().map(|m| m.rows).sum();
                let append = measure.map(|measure| NodeMeasure {
                    rows,
                    startup: measures.first().map_or(Default::default(), |m| m.startup),
                    total: measures.iter().map(|m| m.total).sum(),
                    ..measure
                });
                format!(" {}", actual_text(append, measured.timing))
            });
            lines.push(format!(
                "{detail}->  Append{}{}",
                append.unwrap_or_default(),
                appended.unwrap_or_default()
            ));
            let inner = format!("{detail}      ");
            for child in children {
                self.node(child, Some(&inner), Vec::new(), None, None, lines);
            }
        } else {
            for child in children {
                self.node(child, Some(&detail), Vec::new(), None, None, lines);
            }
        }
        for subquery in subqueries(plan) {
            lines.push(format!("{detail}SubPlan {}", subquery.id + 1));
            self.node(
                &subquery.plan,
                Some(&format!("{detail}  ")),
                Vec::new(),
                None,
                None,
                lines,
            );
        }
    }

    /// A `WithCte`: its input's node, then `CTE name` and the definition.
    fn with_cte(
        &self,
        plan: &LogicalPlan,
        prefix: Option<&str>,
        filters: Vec<&Expr>,
        shown: Option<Estimate>,
        measure: Option<NodeMeasure>,
        lines: &mut Vec<String>,
    ) {
        let LogicalPlan::WithCte {
            name,
            definition,
            input,
            ..
        } = plan
        else {
            return;
        };
        self.node(input, prefix, filters, shown, measure, lines);
        let detail = match prefix {
            None => "  ".to_string(),
            Some(prefix) => format!("{prefix}      "),
        };
        lines.push(format!("{detail}CTE {name}"));
        self.node(
            definition,
            Some(&format!("{detail}  ")),
            Vec::new(),
            None,
            None,
            lines,
        );
    }
}

/// A window function call as SQL (`rank() OVER (…)`).
pub fn window_sql(call: &WindowCall, columns: &ColumnCatalog) -> String {
    let names = Names {
        columns,
        qualify: false,
        estimator: None,
        measured: None,
    };
    let function = match &call.function {
        WindowFunction::Aggregate(aggregate) => names.aggregate(aggregate),
        other => {
            let args: Vec<&Expr> = call.args.iter().collect();
            format!("{}({})", other.name(), names.list(&args))
        }
    };
    let mut over = Vec::new();
    if !call.partition_by.is_empty() {
        let keys: Vec<&Expr> = call.partition_by.iter().collect();
        over.push(format!("PARTITION BY {}", names.list(&keys)));
    }
    if !call.order_by.is_empty() {
        let keys: Vec<String> = call.order_by.iter().map(|k| names.sort_key(k)).collect();
        over.push(format!("ORDER BY {}", keys.join(", ")));
    }
    format!("{function} OVER ({})", over.join(" "))
}

/// An aggregate call as SQL.
pub fn aggregate_sql(aggregate: &Aggregate, columns: &ColumnCatalog) -> String {
    Names {
        columns,
        qualify: false,
        estimator: None,
        measured: None,
    }
    .aggregate(aggregate)
}

fn literal_sql(value: &Value) -> String {
    match value {
        Value::Null => "NULL".to_string(),
        Value::Boolean(b) => if *b { "true" } else { "false" }.to_string(),
        Value::Text(s) => format!("'{}'", s.replace('\'', "''")),
        other => other.to_text().unwrap_or_default(),
    }
}

/// Writes a bound expression back as SQL; each column by its catalog name.
pub fn expr_sql(expr: &Expr, columns: &ColumnCatalog) -> String {
    Names {
        columns,
        qualify: false,
        estimator: None,
        measured: None,
    }
    .expr(expr)
}

impl Names<'_> {
    /// A column's name, qualified by its FROM item when the plan reads
    /// several relations.
    fn column(&self, id: ColumnId) -> String {
        let info = self.columns.get(id);
        match (&info.table, self.qualify) {
            (Some(table), true) => format!("{table}.{}", info.name),
            _ => info.name.clone(),
        }
    }

    /// A key column's equality: `c = v`, `c IS NULL`, `c IN (v, …)`.
    fn equality(&self, column: &str, value: &KeyEquality) -> String {
        match value {
            KeyEquality::Value(value) => format!("{column} = {}", self.expr(value)),
            KeyEquality::Null => format!("{column} IS NULL"),
            KeyEquality::List(list) => {
                let list: Vec<&Expr> = list.iter().collect();
                format!("{column} IN ({})", self.list(&list))
            }
        }
    }

    fn list(&self, exprs: &[&Expr]) -> String {
        exprs
            .iter()
            .map(|e| self.expr(e))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A secondary-index access: its title, and its condition among the
    /// details (`Index Cond`, as PostgreSQL labels it).
    fn index_scan(
        &self,
        table: &Table,
        columns: &[ColumnId],
        access: &IndexAccess,
        alias: &str,
        details: &mut Vec<String>,
    ) -> String {
        let Some(index) = table.indexes.get(access.index) else {
            return format!("Index Scan using ? on {}{alias}", table.name);
        };
        // A key column by name, an expression as the filter would show it.
        let name = |position: usize| -> String {
            let Some(column) = index.columns.get(position) else {
                return "?".into();
            };
            match (
                column.table_column(),
                index_key_operand(index, column, columns),
            ) {
                (Some(position), _) => table.columns[position].name.clone(),
                (None, Some(operand)) => self.expr(&operand),
                (None, None) => index.key_text(table, column).to_string(),
            }
        };
        let mut conditions: Vec<String> = access
            .equal
            .iter()
            .enumerate()
            .map(|(position, value)| self.equality(&name(position), value))
            .collect();
        if access.not_null {
            conditions.push(format!("{} IS NOT NULL", name(access.equal.len())));
        }
        conditions.extend(self.bounds(&name(access.equal.len()), &access.lower, &access.upper));
        if !conditions.is_empty() {
            details.push(format!("Index Cond: {}", conditions.join(" AND ")));
        }
        let kind = if access.covering {
            "Index Only Scan"
        } else {
            "Index Scan"
        };
        let backward = if access.backward { " Backward" } else { "" };
        format!(
            "{kind}{backward} using {} on {}{alias}",
            index.name, table.name
        )
    }

    /// `column >= low`, `column < high`: a range's bounds as conditions.
    fn bounds(&self, column: &str, low: &Bound<Expr>, high: &Bound<Expr>) -> Vec<String> {
        [(low, ">=", ">"), (high, "<=", "<")]
            .into_iter()
            .filter_map(|(bound, inclusive, exclusive)| match bound {
                Bound::Included(e) => Some(format!("{column} {inclusive} {}", self.expr(e))),
                Bound::Excluded(e) => Some(format!("{column} {exclusive} {}", self.expr(e))),
                Bound::Unbounded => None,
            })
            .collect()
    }

    fn expr(&self, expr: &Expr) -> String {
        let sql = |e: &Expr| self.expr(e);
        match expr {
            Expr::Literal(value) => literal_sql(value),
            Expr::Column(id) => self.column(*id),
            Expr::Slot(slot) => format!("${slot}"),
            Expr::Outer(index) => format!("$outer{index}"),
            Expr::Parameter(index) => format!("${}", index + 1),
            Expr::Binary {
                op, left, right, ..
            } => format!("({} {} {})", sql(left), op.symbol(), sql(right)),
            Expr::Negate(inner) => format!("(- {})", sql(inner)),
            Expr::And(left, right) => format!("({} AND {})", sql(left), sql(right)),
            Expr::Or(left, right) => format!("({} OR {})", sql(left), sql(right)),
            Expr::Not(inner) => format!("(NOT {})", sql(inner)),
            Expr::IsNull { expr, negated } => {
                format!(
                    "({} IS {}NULL)",
                    sql(expr),
                    if *negated { "NOT " } else { "" }
                )
            }
            Expr::IsBoolean {
                expr,
                expected,
                negated,
            } => format!(
                "({} IS {}{})",
                sql(expr),
                if *negated { "NOT " } else { "" },
                if *expected { "TRUE" } else { "FALSE" }
            ),
            Expr::IsDistinctFrom {
                left,
                right,
                negated,
            } => format!(
                "({} IS {}DISTINCT FROM {})",
                sql(left),
                if *negated { "NOT " } else { "" },
                sql(right)
            ),
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let items: Vec<String> = list.iter().map(sql).collect();
                format!(
                    "({} {}IN ({}))",
                    sql(expr),
                    if *negated { "NOT " } else { "" },
                    items.join(", ")
                )
            }
            Expr::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => format!(
                "({} {}{} {})",
                sql(expr),
                if *negated { "NOT " } else { "" },
                if *case_insensitive { "ILIKE" } else { "LIKE" },
                sql(pattern)
            ),
            Expr::Case {
                operand,
                branches,
                otherwise,
            } => {
                let mut text = String::from("CASE");
                if let Some(operand) = operand {
                    text.push(' ');
                    text.push_str(&sql(operand));
                }
                for (when, then) in branches {
                    text.push_str(&format!(" WHEN {} THEN {}", sql(when), sql(then)));
                }
                if let Some(otherwise) = otherwise {
                    text.push_str(&format!(" ELSE {}", sql(otherwise)));
                }
                text.push_str(" END");
                text
            }
            Expr::Cast { expr, to, .. } => format!("({})::{}", sql(expr), to.name()),
            Expr::Function { function, args } => {
                let args: Vec<String> = args.iter().map(sql).collect();
                format!("{}({})", function.name(), args.join(", "))
            }
            Expr::Subquery(subquery) => self.subquery(subquery),
        }
    }

    /// An aggregate call as SQL.
    fn aggregate(&self, aggregate: &Aggregate) -> String {
        let mut text = match aggregate.function {
            AggregateFunction::CountStar => "count(*)".to_string(),
            function => {
                let args: Vec<&Expr> = aggregate.args.iter().collect();
                let distinct = if aggregate.distinct { "DISTINCT " } else { "" };
                let mut inner = format!("{distinct}{}", self.list(&args));
                if !aggregate.order_by.is_empty() {
                    let keys: Vec<String> = aggregate
                        .order_by
                        .iter()
                        .map(|k| self.sort_key(k))
                        .collect();
                    inner.push_str(&format!(" ORDER BY {}", keys.join(", ")));
                }
                format!("{}({inner})", function.name())
            }
        };
        if let Some(filter) = &aggregate.filter {
            text.push_str(&format!(" FILTER (WHERE {})", self.expr(filter)));
        }
        text
    }

    fn sort_key(&self, key: &SortKey) -> String {
        let mut text = self.expr(&key.expr);
        if key.descending {
            text.push_str(" DESC");
        }
        if key.nulls_first != key.descending {
            text.push_str(if key.nulls_first {
                " NULLS FIRST"
            } else {
                " NULLS LAST"
            });
        }
        text
    }

    /// A subquery expression as EXPLAIN shows it: `(SubPlan n)`, with its
    /// operand and operator for ANY and ALL.
    fn subquery(&self, subquery: &Subquery) -> String {
        let plan = format!("SubPlan {}", subquery.id + 1);
        match (&subquery.kind, &subquery.operand) {
            (SubqueryKind::Scalar, _) => format!("({plan})"),
            (SubqueryKind::Exists, _) => format!("(EXISTS {plan})"),
            (SubqueryKind::Any { op }, Some(operand)) => {
                format!("({} {} ANY ({plan}))", self.expr(operand), op.symbol())
            }
            (SubqueryKind::All { op }, Some(operand)) => {
                format!("({} {} ALL ({plan}))", self.expr(operand), op.symbol())
            }
            (_, None) => format!("({plan})"),
        }
    }
}
