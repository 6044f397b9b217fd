//! The `pg_stats` view: one row per analyzed column, shaped as PostgreSQL
//! 15's. Arrays (`most_common_vals`, `most_common_freqs`,
//! `histogram_bounds`) are shown in PostgreSQL's array text format, as
//! text, since basalt has no array types yet; the element-statistics
//! columns, which only arrays and tsvectors have, are NULL.

use super::store::{self, ColumnStatistics};
use crate::error::Result;
use crate::sql::catalog::{self, Relation};
use crate::sql::types::{DataType, Value};
use crate::txn::Transaction;

/// The view's columns, in PostgreSQL's order.
pub const PG_STATS_COLUMNS: [(&str, DataType); 14] = [
    ("schemaname", DataType::Text),
    ("tablename", DataType::Text),
    ("attname", DataType::Text),
    ("inherited", DataType::Boolean),
    ("null_frac", DataType::Real),
    ("avg_width", DataType::Integer),
    ("n_distinct", DataType::Real),
    ("most_common_vals", DataType::Text),
    ("most_common_freqs", DataType::Text),
    ("histogram_bounds", DataType::Text),
    ("correlation", DataType::Real),
    ("most_common_elems", DataType::Text),
    ("most_common_elem_freqs", DataType::Text),
    ("elem_count_histogram", DataType::Text),
];

/// The view's rows in the transaction's snapshot, by table and column.
pub fn pg_stats_rows(txn: &mut Transaction) -> Result<Vec<Vec<Value>>> {
    let mut rows = Vec::new();
    for relation in catalog::list_relations(txn)? {
        let Relation::Table(table) = relation else {
            continue;
        };
        let Some(statistics) = store::get(txn, table.tree)? else {
            continue;
        };
        for (column, statistics) in table.columns.iter().zip(&statistics.columns) {
            if let Some(statistics) = statistics {
                rows.push(row(&table.name, &column.name, statistics));
            }
        }
    }
    Ok(rows)
}

fn row(table: &str, column: &str, statistics: &ColumnStatistics) -> Vec<Value> {
    let real = |value: f64| Value::Real(value as f32);
    let array = |values: &mut dyn Iterator<Item = Value>| -> Value {
        let elements: Vec<String> = values
            .map(|value| array_element(&value.to_text().unwrap_or_default()))
            .collect();
        if elements.is_empty() {
            Value::Null
        } else {
            Value::Text(format!("{{{}}}", elements.join(",")).into())
        }
    };
    vec![
        Value::Text("public".into()),
        Value::Text(table.into()),
        Value::Text(column.into()),
        Value::Boolean(false),
        real(statistics.null_fraction),
        Value::Integer(statistics.average_width as i32),
        real(statistics.distinct),
        array(
            &mut statistics
                .most_common
                .iter()
                .map(|(value, _)| value.clone()),
        ),
        array(&mut statistics.most_common.iter().map(|(_, f)| real(*f))),
        array(&mut statistics.histogram.iter().cloned()),
        statistics.correlation.map_or(Value::Null, real),
        Value::Null,
        Value::Null,
        Value::Null,
    ]
}

/// An element of PostgreSQL's array text format: quoted (with `"` and `\`
/// escaped) when empty, `NULL`-like, or holding a delimiter, brace, quote,
/// backslash or whitespace.
fn array_element(text: &str) -> String {
    let needs_quotes = text.is_empty()
        || text.eq_ignore_ascii_case("null")
        || text
            .chars()
            .any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_ascii_whitespace());
    if !needs_quotes {
        return text.to_string();
    }
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_elements_are_quoted_as_postgresql_does() {
        assert_eq!(array_element("abc"), "abc");
        assert_eq!(array_element(""), "\"\"");
        assert_eq!(array_element("NuLl"), "\"NuLl\"");
        assert_eq!(array_element("a b"), "\"a b\"");
        assert_eq!(array_element("a,b"), "\"a,b\"");
        assert_eq!(array_element("say \"hi\" \\"), "\"say \\\"hi\\\" \\\\\"");
    }
}
