//! `EXPLAIN`: renders a [`LogicalPlan`] as indented text in PostgreSQL's
//! style, with expressions written back as SQL, each column by the name the
//! statement's column catalog gives it.
//!
//! ```text
//! Sort
//!   Sort Key: sum(amount) DESC
//! ->  HashAggregate
//!       Group Key: region
//!     ->  Seq Scan on sales
//!           Filter: (amount > 0)
//! ```
//!
//! The output is a test artifact: `sqllogictest/explain.slt` pins it.

use std::ops::Bound;

use super::expr::{Expr, Subquery, SubqueryKind};
use super::plan::{Access, Aggregate, AggregateFunction, ColumnCatalog, LogicalPlan};
use super::types::Value;

/// The EXPLAIN text of a plan, one line per row.
pub fn explain(plan: &LogicalPlan, columns: &ColumnCatalog) -> Vec<String> {
    let mut lines = Vec::new();
    explain_into(plan, columns, 0, &mut lines);
    lines
}

fn explain_into(
    plan: &LogicalPlan,
    columns: &ColumnCatalog,
    depth: usize,
    lines: &mut Vec<String>,
) {
    let indent = if depth == 0 {
        String::new()
    } else {
        format!("{}->  ", "      ".repeat(depth - 1))
    };
    let detail_indent = format!("{}  ", "      ".repeat(depth));
    let sql = |e: &Expr| expr_sql(e, columns);
    let mut details = Vec::new();
    let (title, child) = match plan {
        LogicalPlan::Values { rows, .. } => (format!("Values ({} rows)", rows.len()), None),
        LogicalPlan::Scan {
            table,
            access,
            filter,
            ..
        } => {
            let title = match access {
                Access::Full => format!("Seq Scan on {}", table.name),
                Access::Key(key) => {
                    let key: Vec<String> = table
                        .primary_key
                        .iter()
                        .zip(key)
                        .map(|(column, e)| format!("{} = {}", table.columns[*column].name, sql(e)))
                        .collect();
                    details.push(format!("Key: {}", key.join(" AND ")));
                    format!(
                        "Key Lookup on {} using {}",
                        table.name,
                        table.primary_key_name()
                    )
                }
                Access::Range { start, end } => {
                    let key = table
                        .primary_key
                        .first()
                        .map_or("?", |c| table.columns[*c].name.as_str());
                    let range: Vec<String> = [(start, ">=", ">"), (end, "<=", "<")]
                        .into_iter()
                        .filter_map(|(bound, inclusive, exclusive)| match bound {
                            Bound::Included(e) => Some(format!("{key} {inclusive} {}", sql(e))),
                            Bound::Excluded(e) => Some(format!("{key} {exclusive} {}", sql(e))),
                            Bound::Unbounded => None,
                        })
                        .collect();
                    details.push(format!("Key Range: {}", range.join(" AND ")));
                    format!(
                        "Key Range Scan on {} using {}",
                        table.name,
                        table.primary_key_name()
                    )
                }
            };
            if let Some(filter) = filter {
                details.push(format!("Filter: {}", sql(filter)));
            }
            (title, None)
        }
        LogicalPlan::Filter { input, predicate } => {
            details.push(format!("Filter: {}", sql(predicate)));
            ("Filter".to_string(), Some(input))
        }
        LogicalPlan::Project { input, exprs } => {
            let list: Vec<String> = exprs.iter().map(|(_, e)| sql(e)).collect();
            details.push(format!("Output: {}", list.join(", ")));
            ("Project".to_string(), Some(input))
        }
        LogicalPlan::Aggregate {
            input,
            group_by,
            aggregates,
        } => {
            if !group_by.is_empty() {
                let keys: Vec<String> = group_by.iter().map(|(_, e)| sql(e)).collect();
                details.push(format!("Group Key: {}", keys.join(", ")));
            }
            let calls: Vec<String> = aggregates
                .iter()
                .map(|(_, a)| aggregate_sql(a, columns))
                .collect();
            details.push(format!("Aggregates: {}", calls.join(", ")));
            let title = if group_by.is_empty() {
                "Aggregate"
            } else {
                "HashAggregate"
            };
            (title.to_string(), Some(input))
        }
        LogicalPlan::Distinct { input } => ("Distinct".to_string(), Some(input)),
        LogicalPlan::Sort { input, keys } => {
            let keys: Vec<String> = keys
                .iter()
                .map(|k| {
                    let mut text = sql(&k.expr);
                    if k.descending {
                        text.push_str(" DESC");
                    }
                    if k.nulls_first != k.descending {
                        text.push_str(if k.nulls_first {
                            " NULLS FIRST"
                        } else {
                            " NULLS LAST"
                        });
                    }
                    text
                })
                .collect();
            details.push(format!("Sort Key: {}", keys.join(", ")));
            ("Sort".to_string(), Some(input))
        }
        LogicalPlan::Limit {
            input,
            limit,
            offset,
        } => {
            if let Some(limit) = limit {
                details.push(format!("Limit: {}", sql(limit)));
            }
            if let Some(offset) = offset {
                details.push(format!("Offset: {}", sql(offset)));
            }
            ("Limit".to_string(), Some(input))
        }
    };
    lines.push(format!("{indent}{title}"));
    lines.extend(details.into_iter().map(|d| format!("{detail_indent}{d}")));
    if let Some(child) = child {
        explain_into(child, columns, depth + 1, lines);
    }
}

/// An aggregate call as SQL.
pub fn aggregate_sql(aggregate: &Aggregate, columns: &ColumnCatalog) -> String {
    match (&aggregate.function, &aggregate.arg) {
        (AggregateFunction::CountStar, _) => "count(*)".to_string(),
        (function, Some(arg)) => {
            let distinct = if aggregate.distinct { "DISTINCT " } else { "" };
            format!("{}({distinct}{})", function.name(), expr_sql(arg, columns))
        }
        (function, None) => format!("{}()", function.name()),
    }
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
    let sql = |e: &Expr| expr_sql(e, columns);
    match expr {
        Expr::Literal(value) => literal_sql(value),
        Expr::Column(id) => columns.name(*id).to_string(),
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
        Expr::Subquery(subquery) => subquery_sql(subquery, columns),
    }
}

/// A subquery expression as EXPLAIN shows it: `(SubPlan n)`, with its
/// operand and operator for ANY and ALL.
fn subquery_sql(subquery: &Subquery, columns: &ColumnCatalog) -> String {
    let plan = format!("SubPlan {}", subquery.id + 1);
    match (&subquery.kind, &subquery.operand) {
        (SubqueryKind::Scalar, _) => format!("({plan})"),
        (SubqueryKind::Exists, _) => format!("(EXISTS {plan})"),
        (SubqueryKind::Any { op }, Some(operand)) => format!(
            "({} {} ANY ({plan}))",
            expr_sql(operand, columns),
            op.symbol()
        ),
        (SubqueryKind::All { op }, Some(operand)) => format!(
            "({} {} ALL ({plan}))",
            expr_sql(operand, columns),
            op.symbol()
        ),
        (_, None) => format!("({plan})"),
    }
}
