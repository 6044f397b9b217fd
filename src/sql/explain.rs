//! `EXPLAIN`: renders a [`Plan`] as indented text in PostgreSQL's style,
//! with expressions written back as SQL over the names of each operator's
//! input columns (table columns at the leaves, output expressions above).
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

use super::expr::{Expr, Function};
use super::plan::{Aggregate, AggregateFunction, Plan};
use super::types::Value;

impl Plan {
    /// The EXPLAIN text, one line per row.
    pub fn explain(&self) -> Vec<String> {
        let mut lines = Vec::new();
        explain_into(self, 0, &mut lines);
        lines
    }

    /// Names of the columns this operator produces, for rendering the
    /// expressions of the operator above it.
    fn output_names(&self) -> Vec<String> {
        match self {
            Plan::Values { rows } => {
                let width = rows.first().map_or(0, |row| row.len());
                (1..=width).map(|i| format!("column{i}")).collect()
            }
            Plan::Scan { table, .. } | Plan::KeyLookup { table, .. } => {
                table.columns.iter().map(|c| c.name.clone()).collect()
            }
            Plan::Filter { input, .. }
            | Plan::Distinct { input }
            | Plan::Sort { input, .. }
            | Plan::Limit { input, .. } => input.output_names(),
            Plan::Project { input, exprs } => {
                let names = input.output_names();
                exprs.iter().map(|e| to_sql(e, &names)).collect()
            }
            Plan::Aggregate {
                input,
                group_by,
                aggregates,
            } => {
                let names = input.output_names();
                group_by
                    .iter()
                    .map(|e| to_sql(e, &names))
                    .chain(aggregates.iter().map(|a| aggregate_sql(a, &names)))
                    .collect()
            }
        }
    }
}

fn explain_into(plan: &Plan, depth: usize, lines: &mut Vec<String>) {
    let indent = if depth == 0 {
        String::new()
    } else {
        format!("{}->  ", "      ".repeat(depth - 1))
    };
    let detail_indent = format!("{}  ", "      ".repeat(depth));
    let mut details = Vec::new();
    let (title, child) = match plan {
        Plan::Values { rows } => (format!("Values ({} rows)", rows.len()), None),
        Plan::Scan {
            table,
            start,
            end,
            filter,
        } => {
            let names = plan.output_names();
            let title = if matches!((start, end), (Bound::Unbounded, Bound::Unbounded)) {
                format!("Seq Scan on {}", table.name)
            } else {
                let key = table
                    .primary_key
                    .first()
                    .map_or("?", |c| table.columns[*c].name.as_str());
                let range: Vec<String> = [(start, ">=", ">"), (end, "<=", "<")]
                    .into_iter()
                    .filter_map(|(bound, inclusive, exclusive)| match bound {
                        Bound::Included(e) => Some(format!("{key} {inclusive} {}", to_sql(e, &[]))),
                        Bound::Excluded(e) => Some(format!("{key} {exclusive} {}", to_sql(e, &[]))),
                        Bound::Unbounded => None,
                    })
                    .collect();
                details.push(format!("Key Range: {}", range.join(" AND ")));
                format!(
                    "Key Range Scan on {} using {}",
                    table.name,
                    table.primary_key_name()
                )
            };
            if let Some(filter) = filter {
                details.push(format!("Filter: {}", to_sql(filter, &names)));
            }
            (title, None)
        }
        Plan::KeyLookup { table, key, filter } => {
            let names = plan.output_names();
            let key: Vec<String> = table
                .primary_key
                .iter()
                .zip(key)
                .map(|(column, e)| format!("{} = {}", table.columns[*column].name, to_sql(e, &[])))
                .collect();
            details.push(format!("Key: {}", key.join(" AND ")));
            if let Some(filter) = filter {
                details.push(format!("Filter: {}", to_sql(filter, &names)));
            }
            (
                format!(
                    "Key Lookup on {} using {}",
                    table.name,
                    table.primary_key_name()
                ),
                None,
            )
        }
        Plan::Filter { input, predicate } => {
            details.push(format!(
                "Filter: {}",
                to_sql(predicate, &input.output_names())
            ));
            ("Filter".to_string(), Some(input))
        }
        Plan::Project { input, exprs } => {
            let names = input.output_names();
            details.push(format!("Output: {}", sql_list(exprs, &names)));
            ("Project".to_string(), Some(input))
        }
        Plan::Aggregate {
            input,
            group_by,
            aggregates,
        } => {
            let names = input.output_names();
            if !group_by.is_empty() {
                details.push(format!("Group Key: {}", sql_list(group_by, &names)));
            }
            let calls: Vec<String> = aggregates
                .iter()
                .map(|a| aggregate_sql(a, &names))
                .collect();
            details.push(format!("Aggregates: {}", calls.join(", ")));
            let title = if group_by.is_empty() {
                "Aggregate"
            } else {
                "HashAggregate"
            };
            (title.to_string(), Some(input))
        }
        Plan::Distinct { input } => ("Distinct".to_string(), Some(input)),
        Plan::Sort { input, keys } => {
            let names = input.output_names();
            let keys: Vec<String> = keys
                .iter()
                .map(|k| {
                    let mut text = to_sql(&k.expr, &names);
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
        Plan::Limit {
            input,
            limit,
            offset,
        } => {
            if let Some(limit) = limit {
                details.push(format!("Limit: {}", to_sql(limit, &[])));
            }
            if let Some(offset) = offset {
                details.push(format!("Offset: {}", to_sql(offset, &[])));
            }
            ("Limit".to_string(), Some(input))
        }
    };
    lines.push(format!("{indent}{title}"));
    lines.extend(details.into_iter().map(|d| format!("{detail_indent}{d}")));
    if let Some(child) = child {
        explain_into(child, depth + 1, lines);
    }
}

/// Several expressions as a comma-separated SQL list.
fn sql_list(exprs: &[Expr], names: &[String]) -> String {
    exprs
        .iter()
        .map(|e| to_sql(e, names))
        .collect::<Vec<_>>()
        .join(", ")
}

fn aggregate_sql(aggregate: &Aggregate, names: &[String]) -> String {
    match (&aggregate.function, &aggregate.arg) {
        (AggregateFunction::CountStar, _) => "count(*)".to_string(),
        (function, Some(arg)) => {
            let distinct = if aggregate.distinct { "DISTINCT " } else { "" };
            format!("{}({distinct}{})", function.name(), to_sql(arg, names))
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

/// Writes a bound expression back as SQL; `Column(i)` becomes `names[i]`.
pub fn to_sql(expr: &Expr, names: &[String]) -> String {
    let sql = |e: &Expr| to_sql(e, names);
    match expr {
        Expr::Literal(value) => literal_sql(value),
        Expr::Column(index) => names
            .get(*index)
            .cloned()
            .unwrap_or_else(|| format!("#{index}")),
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
            let name = match function {
                Function::Abs => "abs",
                Function::Coalesce => "coalesce",
                Function::NullIf => "nullif",
                Function::Lower => "lower",
                Function::Upper => "upper",
                Function::Length => "length",
            };
            let args: Vec<String> = args.iter().map(sql).collect();
            format!("{name}({})", args.join(", "))
        }
    }
}
