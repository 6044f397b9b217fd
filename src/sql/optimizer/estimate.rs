//! Selectivity: the fraction of rows a predicate keeps, from the columns'
//! statistics (`sql/statistics`), as PostgreSQL's `selfuncs.c` estimates
//! it. Without statistics, the same defaults PostgreSQL uses.
//!
//! ```text
//!   col = const     most common value's frequency, else the rest of the
//!                   non-NULL rows spread over the other distinct values
//!   col = other     (1 − null fraction) / distinct
//!   col < const     most common values below + histogram fraction below
//!                   (linear inside a bucket for numbers) × rows outside
//!                   the most common list
//!   lo < col < hi   both bounds of one column together: below(hi) − below(lo)
//!   a = b (join)    (1 − nulls a)(1 − nulls b) / max(distinct a, distinct b)
//!   AND, OR, NOT    independence: s1·s2, s1 + s2 − s1·s2, 1 − s
//! ```
//!
//! An [`Estimator`] knows, for every column id a plan reads from a table,
//! which table column it is; a column without an origin (computed, or from
//! a CTE) has no statistics.

use std::collections::HashMap;
use std::sync::Arc;

use crate::sql::catalog::Table;
use crate::sql::expr::{BinaryOp, ColumnId, Expr};
use crate::sql::plan::{ColumnCatalog, LogicalPlan};
use crate::sql::statistics::set::StatisticsSet;
use crate::sql::statistics::{ColumnStatistics, TableStatistics};
use crate::sql::types::{DataType, Value};

/// PostgreSQL's `DEFAULT_EQ_SEL`.
pub const DEFAULT_EQUALITY: f64 = 0.005;
/// `DEFAULT_INEQ_SEL`.
pub const DEFAULT_INEQUALITY: f64 = 1.0 / 3.0;
/// `DEFAULT_RANGE_INEQ_SEL`: both bounds of a column, without statistics.
pub const DEFAULT_RANGE: f64 = 0.005;
/// `DEFAULT_MATCH_SEL`, for LIKE patterns that are not a prefix.
pub const DEFAULT_MATCH: f64 = 0.005;
/// `DEFAULT_NUM_DISTINCT`.
pub const DEFAULT_DISTINCT: f64 = 200.0;
/// Rows assumed for a table never analyzed. (PostgreSQL estimates from
/// the table's size on disk; ours is not known per table.)
pub const DEFAULT_TABLE_ROWS: f64 = 1000.0;
/// An opaque boolean expression keeps half the rows.
const DEFAULT_UNKNOWN: f64 = 0.5;

/// Where a column comes from: its table and position.
#[derive(Clone)]
struct Origin {
    table: Arc<Table>,
    position: usize,
}

/// Estimates over one statement's plans (see the module docs).
pub struct Estimator<'a> {
    statistics: &'a StatisticsSet,
    columns: &'a ColumnCatalog,
    origins: HashMap<ColumnId, Origin>,
}

/// A column's statistics as an estimate needs them.
pub struct ColumnFacts<'a> {
    pub statistics: Option<&'a ColumnStatistics>,
    /// The table's rows.
    pub rows: f64,
    /// The column alone is unique (a one-column primary key or unique
    /// index): as many distinct values as rows.
    pub unique: bool,
}

impl ColumnFacts<'_> {
    pub fn null_fraction(&self) -> f64 {
        self.statistics.map_or(0.0, |s| s.null_fraction)
    }

    /// Distinct non-NULL values (PostgreSQL's `get_variable_numdistinct`).
    pub fn distinct(&self) -> f64 {
        if self.unique {
            return self.rows.max(1.0);
        }
        match self.statistics {
            Some(statistics) if statistics.distinct != 0.0 => {
                statistics.distinct_count(self.rows).max(1.0)
            }
            _ => DEFAULT_DISTINCT.min(self.rows).max(1.0),
        }
    }
}

impl<'a> Estimator<'a> {
    /// An estimator for `plans` (every table scan in them, subqueries
    /// included, gives its columns an origin).
    pub fn new<'p>(
        plans: impl IntoIterator<Item = &'p LogicalPlan>,
        statistics: &'a StatisticsSet,
        columns: &'a ColumnCatalog,
    ) -> Estimator<'a> {
        let mut estimator = Estimator {
            statistics,
            columns,
            origins: HashMap::new(),
        };
        for plan in plans {
            plan.for_each_plan(&mut |node| {
                if let LogicalPlan::Scan { table, columns, .. } = node {
                    for (position, id) in columns.iter().enumerate() {
                        let table = Arc::clone(table);
                        estimator.origins.insert(*id, Origin { table, position });
                    }
                }
            });
        }
        estimator
    }

    pub fn columns(&self) -> &ColumnCatalog {
        self.columns
    }

    pub fn table_statistics(&self, table: &Table) -> Option<&'a TableStatistics> {
        self.statistics.table(table.tree)
    }

    /// The table's rows: as last analyzed, or the default.
    pub fn table_rows(&self, table: &Table) -> f64 {
        self.table_statistics(table)
            .map_or(DEFAULT_TABLE_ROWS, |statistics| statistics.rows.max(1.0))
    }

    /// What is known of a column read from a table.
    pub fn column(&self, id: ColumnId) -> Option<ColumnFacts<'a>> {
        let origin = self.origins.get(&id)?;
        let table = &origin.table;
        let statistics = self.table_statistics(table);
        let unique = table.primary_key == [origin.position]
            || table.indexes.iter().any(|index| {
                index.unique
                    && index.predicate.is_none()
                    && index.columns.len() == 1
                    && index.columns[0].table_column() == Some(origin.position)
            });
        Some(ColumnFacts {
            statistics: statistics
                .and_then(|s| s.columns.get(origin.position))
                .and_then(Option::as_ref),
            rows: self.table_rows(table),
            unique,
        })
    }

    /// The average width in bytes of a column's values.
    pub fn width(&self, id: ColumnId) -> f64 {
        if let Some(statistics) = self.column(id).and_then(|facts| facts.statistics) {
            return f64::from(statistics.average_width);
        }
        type_width(self.columns.data_type(id))
    }

    /// The fraction of rows `predicate` keeps. Columns outside `local` (when
    /// given) are values fixed per execution, like parameters; with `None`,
    /// a comparison of two columns is a join condition.
    pub fn selectivity(&self, predicate: &Expr, local: Option<&[ColumnId]>) -> f64 {
        let conjuncts = predicate.conjuncts();
        if conjuncts.len() > 1 {
            return self.conjunction(&conjuncts, local);
        }
        clamp(self.clause(predicate, local))
    }

    /// AND: independent clauses multiply, but a lower and an upper bound
    /// on one column combine into one range first (PostgreSQL's
    /// `clauselist_selectivity`), whether their values are known now or
    /// not (a parameter of a generic plan, an outer query's column).
    fn conjunction(&self, conjuncts: &[&Expr], local: Option<&[ColumnId]>) -> f64 {
        // Per column: its upper and its lower bound, each as the fraction
        // of rows below it.
        let mut ranges: HashMap<ColumnId, (Option<Below>, Option<Below>)> = HashMap::new();
        let mut selectivity = 1.0;
        for conjunct in conjuncts {
            if let Some((id, op, value)) = self.comparison_with_pseudo_constant(conjunct, local)
                && matches!(
                    op,
                    BinaryOp::Less
                        | BinaryOp::LessOrEqual
                        | BinaryOp::Greater
                        | BinaryOp::GreaterOrEqual
                )
            {
                let entry = ranges.entry(id).or_default();
                let bound = match op {
                    BinaryOp::Less | BinaryOp::LessOrEqual => &mut entry.0,
                    _ => &mut entry.1,
                };
                // A second bound on the same side counts on its own.
                if bound.is_some() {
                    selectivity *= self.clause(conjunct, local);
                    continue;
                }
                let inclusive = matches!(op, BinaryOp::LessOrEqual | BinaryOp::Greater);
                let below = value.and_then(|value| {
                    self.column(id)
                        .and_then(|facts| fraction_below(&facts, &value, inclusive))
                });
                *bound = Some(below.map_or(Below::Unknown, Below::Fraction));
                continue;
            }
            selectivity *= self.clause(conjunct, local);
        }
        for (id, (upper, lower)) in ranges {
            let not_null = 1.0 - self.column(id).map_or(0.0, |facts| facts.null_fraction());
            selectivity *= match (upper, lower) {
                (Some(Below::Fraction(upper)), Some(Below::Fraction(lower))) => {
                    // Empty or inverted ranges still keep a sliver, as in
                    // PostgreSQL (which warns of a possible contradiction).
                    (upper - lower).max(1e-4 * not_null)
                }
                (Some(_), Some(_)) => DEFAULT_RANGE,
                (Some(Below::Fraction(upper)), None) => upper,
                (None, Some(Below::Fraction(lower))) => not_null - lower,
                (Some(Below::Unknown), None) | (None, Some(Below::Unknown)) => DEFAULT_INEQUALITY,
                (None, None) => 1.0,
            };
        }
        clamp(selectivity)
    }

    /// `column op other` with `other` reading no column of the relation
    /// (`local`) nor of any relation when `local` is `None`: a constant, a
    /// parameter, a subquery's value. Normalised so the column is on the
    /// left; the value if it is a constant.
    fn comparison_with_pseudo_constant(
        &self,
        expr: &Expr,
        local: Option<&[ColumnId]>,
    ) -> Option<(ColumnId, BinaryOp, Option<Value>)> {
        let Expr::Binary {
            op, left, right, ..
        } = expr
        else {
            return None;
        };
        let is_local = |id: &ColumnId| local.is_none_or(|local| local.contains(id));
        let pseudo_constant = |other: &Expr| {
            let read = other.columns();
            match local {
                Some(local) => !read.iter().any(|id| local.contains(id)),
                None => read.is_empty(),
            }
        };
        match (left.as_ref(), right.as_ref()) {
            (Expr::Column(id), other) if is_local(id) && pseudo_constant(other) => {
                Some((*id, *op, constant_value(other)))
            }
            (other, Expr::Column(id)) if is_local(id) && pseudo_constant(other) => {
                Some((*id, op.flip(), constant_value(other)))
            }
            _ => None,
        }
    }

    /// One clause (no AND at its top).
    fn clause(&self, expr: &Expr, local: Option<&[ColumnId]>) -> f64 {
        match expr {
            Expr::Literal(Value::Boolean(true)) => 1.0,
            Expr::Literal(Value::Boolean(false) | Value::Null) => 0.0,
            Expr::And(..) => self.selectivity(expr, local),
            Expr::Or(left, right) => {
                let (left, right) = (
                    self.selectivity(left, local),
                    self.selectivity(right, local),
                );
                left + right - left * right
            }
            Expr::Not(inner) => 1.0 - self.selectivity(inner, local),
            Expr::IsNull { expr, negated } => {
                let nulls = match expr.as_ref() {
                    Expr::Column(id) => match self.column(*id) {
                        Some(facts) if facts.statistics.is_some() => facts.null_fraction(),
                        _ => DEFAULT_EQUALITY,
                    },
                    _ => DEFAULT_EQUALITY,
                };
                if *negated { 1.0 - nulls } else { nulls }
            }
            Expr::Column(id) => self.equals_constant(*id, &Value::Boolean(true)),
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let Expr::Column(id) = expr.as_ref() else {
                    return DEFAULT_EQUALITY * list.len() as f64;
                };
                let mut sum = 0.0;
                for item in list {
                    sum += match constant_value(item) {
                        Some(value) => self.equals_constant(*id, &value),
                        None => self.equals_other(*id),
                    };
                }
                let sum = sum.min(1.0);
                if *negated {
                    let nulls = self.column(*id).map_or(0.0, |facts| facts.null_fraction());
                    (1.0 - sum - nulls).max(0.0)
                } else {
                    sum
                }
            }
            Expr::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => {
                let selectivity = self.like(expr, pattern, *case_insensitive);
                if *negated {
                    1.0 - selectivity
                } else {
                    selectivity
                }
            }
            Expr::Binary {
                op, left, right, ..
            } if op.is_comparison() => self.comparison(*op, left, right, local),
            _ => DEFAULT_UNKNOWN,
        }
    }

    fn comparison(
        &self,
        op: BinaryOp,
        left: &Expr,
        right: &Expr,
        local: Option<&[ColumnId]>,
    ) -> f64 {
        let is_local = |id: &ColumnId| local.is_none_or(|local| local.contains(id));
        // Normalise: a local column on the left when there is one.
        let (op, left, right) = match (left, right) {
            (Expr::Column(id), _) if is_local(id) => (op, left, right),
            (_, Expr::Column(id)) if is_local(id) => (op.flip(), right, left),
            _ => (op, left, right),
        };
        let Expr::Column(id) = left else {
            return match op {
                BinaryOp::Equal => DEFAULT_EQUALITY,
                BinaryOp::NotEqual => 1.0 - DEFAULT_EQUALITY,
                _ => DEFAULT_INEQUALITY,
            };
        };
        if let Some(value) = constant_value(right) {
            return match op {
                BinaryOp::Equal => self.equals_constant(*id, &value),
                BinaryOp::NotEqual => {
                    let facts = self.column(*id);
                    let nulls = facts.as_ref().map_or(0.0, ColumnFacts::null_fraction);
                    (1.0 - self.equals_constant(*id, &value) - nulls).max(0.0)
                }
                _ => {
                    let inclusive = matches!(op, BinaryOp::LessOrEqual | BinaryOp::Greater);
                    let Some(facts) = self.column(*id) else {
                        return DEFAULT_INEQUALITY;
                    };
                    match fraction_below(&facts, &value, inclusive) {
                        Some(below) if matches!(op, BinaryOp::Less | BinaryOp::LessOrEqual) => {
                            below
                        }
                        Some(below) => (1.0 - facts.null_fraction() - below).max(0.0),
                        None => DEFAULT_INEQUALITY,
                    }
                }
            };
        }
        // Two columns of the statement: a join condition (or a comparison
        // within one row, estimated the same way).
        if let Expr::Column(other) = right
            && is_local(other)
            && op == BinaryOp::Equal
        {
            let (a, b) = (self.column(*id), self.column(*other));
            let distinct = |facts: &Option<ColumnFacts<'_>>| {
                facts
                    .as_ref()
                    .map_or(DEFAULT_DISTINCT, ColumnFacts::distinct)
            };
            let nulls = |facts: &Option<ColumnFacts<'_>>| {
                facts.as_ref().map_or(0.0, ColumnFacts::null_fraction)
            };
            return (1.0 - nulls(&a)) * (1.0 - nulls(&b)) / distinct(&a).max(distinct(&b));
        }
        match op {
            BinaryOp::Equal => self.equals_other(*id),
            BinaryOp::NotEqual => 1.0 - self.equals_other(*id),
            _ => DEFAULT_INEQUALITY,
        }
    }

    /// The fraction of pairs whose join keys are equal (`l = r` for each
    /// key pair).
    pub fn keys_selectivity(&self, keys: &[(Expr, Expr)]) -> f64 {
        keys.iter()
            .map(|(left, right)| self.comparison(BinaryOp::Equal, left, right, None))
            .product()
    }

    /// `column = value` for a known value.
    pub fn equals_constant(&self, id: ColumnId, value: &Value) -> f64 {
        if value.is_null() {
            return 0.0;
        }
        let Some(facts) = self.column(id) else {
            return DEFAULT_EQUALITY;
        };
        let Some(statistics) = facts.statistics else {
            return if facts.unique {
                1.0 / facts.rows
            } else {
                DEFAULT_EQUALITY
            };
        };
        if let Some((_, frequency)) = statistics
            .most_common
            .iter()
            .find(|(common, _)| common.total_cmp(value).is_eq())
        {
            return *frequency;
        }
        if facts.unique {
            return 1.0 / facts.rows;
        }
        let listed: f64 = statistics.most_common.iter().map(|(_, f)| f).sum();
        let others = facts.distinct() - statistics.most_common.len() as f64;
        let rest = (1.0 - listed - statistics.null_fraction).max(0.0);
        let selectivity = if others >= 1.0 { rest / others } else { rest };
        // Not more common than the least common listed value.
        match statistics.most_common.last() {
            Some((_, least)) => selectivity.min(*least),
            None => selectivity,
        }
    }

    /// `column = value` for a value known only when the statement runs.
    pub fn equals_other(&self, id: ColumnId) -> f64 {
        let Some(facts) = self.column(id) else {
            return DEFAULT_EQUALITY;
        };
        let selectivity = (1.0 - facts.null_fraction()) / facts.distinct();
        match facts.statistics.and_then(|s| s.most_common.first()) {
            Some((_, most)) => selectivity.min(*most),
            None => selectivity,
        }
    }

    /// `LIKE`: a pattern with a fixed prefix and a final `%` is a range of
    /// that prefix; one without wildcards is an equality.
    fn like(&self, expr: &Expr, pattern: &Expr, case_insensitive: bool) -> f64 {
        let (Expr::Column(id), Some(Value::Text(pattern))) = (expr, constant_value(pattern)) else {
            return DEFAULT_MATCH;
        };
        if case_insensitive {
            return DEFAULT_MATCH;
        }
        match like_prefix(&pattern) {
            LikePrefix::Exact(text) => self.equals_constant(*id, &Value::Text(text.into())),
            LikePrefix::Prefix(prefix) if !prefix.is_empty() => {
                let Some(facts) = self.column(*id) else {
                    return DEFAULT_MATCH;
                };
                let lower = fraction_below(&facts, &Value::Text(prefix.clone().into()), false);
                let upper = prefix_successor(&prefix)
                    .and_then(|next| fraction_below(&facts, &Value::Text(next.into()), false));
                match (lower, upper) {
                    (Some(lower), Some(upper)) => {
                        (upper - lower).max(DEFAULT_EQUALITY.min(1.0 / facts.rows))
                    }
                    (Some(lower), None) => 1.0 - facts.null_fraction() - lower,
                    _ => DEFAULT_MATCH,
                }
            }
            _ => DEFAULT_MATCH,
        }
    }
}

/// What a LIKE pattern says about its matches.
#[derive(Debug, PartialEq)]
pub enum LikePrefix {
    /// No wildcard: the pattern is the only match.
    Exact(String),
    /// A fixed prefix, then `%` and nothing else: the prefix's range.
    Prefix(String),
    /// Anything else.
    Other,
}

/// Splits a LIKE pattern (backslash escapes, as PostgreSQL's default).
pub fn like_prefix(pattern: &str) -> LikePrefix {
    let mut prefix = String::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped) => prefix.push(escaped),
                None => return LikePrefix::Other,
            },
            '%' => {
                return if chars.all(|rest| rest == '%') {
                    LikePrefix::Prefix(prefix)
                } else {
                    LikePrefix::Other
                };
            }
            '_' => return LikePrefix::Other,
            other => prefix.push(other),
        }
    }
    LikePrefix::Exact(prefix)
}

/// The smallest string greater than every string starting with `prefix`,
/// in byte order (how text compares here): the prefix with its last
/// character incremented; `None` if there is none.
pub fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = last as u32 + 1;
        // Skip the surrogate range, which no char holds.
        if (0xD800..0xE000).contains(&next) {
            next = 0xE000;
        }
        if let Some(next) = char::from_u32(next) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The fraction of all rows whose value is below `value` (or equal,
/// `inclusive`), from the most common values and the histogram; `None`
/// without statistics to say.
pub fn fraction_below(facts: &ColumnFacts<'_>, value: &Value, inclusive: bool) -> Option<f64> {
    let statistics = facts.statistics?;
    let is_below = |candidate: &Value| {
        let order = candidate.total_cmp(value);
        order.is_lt() || (inclusive && order.is_eq())
    };
    let mut common_below = 0.0;
    let mut listed = 0.0;
    for (common, frequency) in &statistics.most_common {
        listed += frequency;
        if is_below(common) {
            common_below += frequency;
        }
    }
    let rest = (1.0 - listed - statistics.null_fraction).max(0.0);
    let histogram = &statistics.histogram;
    if histogram.len() < 2 {
        if statistics.most_common.is_empty() {
            return None;
        }
        // Every value is in the list: scale its coverage to all non-NULLs.
        return Some(if listed > 0.0 {
            common_below / listed * (1.0 - statistics.null_fraction)
        } else {
            common_below
        });
    }
    Some(common_below + rest * histogram_fraction_below(histogram, value, inclusive))
}

/// The fraction of a histogram's population below `value`: whole buckets,
/// plus a linear share of the bucket it falls in (numbers only; half a
/// bucket otherwise).
fn histogram_fraction_below(histogram: &[Value], value: &Value, inclusive: bool) -> f64 {
    let buckets = (histogram.len() - 1) as f64;
    let below = |bound: &Value| {
        let order = bound.total_cmp(value);
        order.is_lt() || (inclusive && order.is_eq())
    };
    // Index of the first bound not below the value.
    let position = histogram.partition_point(below);
    if position == 0 {
        return 0.0;
    }
    if position == histogram.len() {
        return 1.0;
    }
    let (low, high) = (&histogram[position - 1], &histogram[position]);
    let within = match (low.as_f64(), high.as_f64(), value.as_f64()) {
        (Some(low), Some(high), Some(value)) if high > low => {
            ((value - low) / (high - low)).clamp(0.0, 1.0)
        }
        _ => 0.5,
    };
    ((position - 1) as f64 + within) / buckets
}

/// Where a bound lies: the fraction of rows below it, or unknown (no
/// statistics, or a value not known when planning).
#[derive(Clone, Copy, Debug)]
enum Below {
    Fraction(f64),
    Unknown,
}

/// The value of a constant expression (literals, casts and arithmetic
/// over them), `None` where it is not constant or its evaluation fails
/// (the query reports that when it runs).
pub fn constant_value(expr: &Expr) -> Option<Value> {
    match expr {
        Expr::Literal(value) => Some(value.clone()),
        Expr::Binary {
            op,
            left,
            right,
            data_type,
        } if !op.is_comparison() => {
            let (left, right) = (constant_value(left)?, constant_value(right)?);
            crate::sql::expr::binary(*op, &left, &right, *data_type).ok()
        }
        Expr::Negate(inner) => match constant_value(inner)? {
            Value::SmallInt(v) => v.checked_neg().map(Value::SmallInt),
            Value::Integer(v) => v.checked_neg().map(Value::Integer),
            Value::BigInt(v) => v.checked_neg().map(Value::BigInt),
            Value::Real(v) => Some(Value::Real(-v)),
            Value::Double(v) => Some(Value::Double(-v)),
            _ => None,
        },
        Expr::Cast { expr, to, .. } => {
            crate::sql::expr::cast::cast(constant_value(expr)?, *to).ok()
        }
        _ => None,
    }
}

/// A type's typical width when no statistics say (PostgreSQL's
/// `get_typavgwidth`: 32 for variable-width types).
pub fn type_width(data_type: DataType) -> f64 {
    match data_type {
        DataType::Boolean => 1.0,
        DataType::SmallInt => 2.0,
        DataType::Integer | DataType::Real | DataType::Date => 4.0,
        DataType::BigInt
        | DataType::Double
        | DataType::Time(_)
        | DataType::Timestamp(_)
        | DataType::Timestamptz(_) => 8.0,
        DataType::Interval(_) => 16.0,
        DataType::Text | DataType::Varchar(_) | DataType::Numeric(None) => 32.0,
        // The padded length and a header.
        DataType::Char(length) => f64::from(length) + 1.0,
        // PostgreSQL's numeric_maximum_size: a header and the base-10000
        // digits the precision needs, taken at full width up to 32 bytes
        // and half of the rest beyond.
        DataType::Numeric(Some(modifier)) => {
            let maximum = 8.0 + 2.0 * f64::from((modifier.precision + 6) / 4);
            if maximum <= 32.0 {
                maximum
            } else {
                32.0 + ((maximum - 32.0) / 2.0).floor()
            }
        }
    }
}

/// Selectivities stay within (0, 1], so no estimate reaches zero rows.
fn clamp(selectivity: f64) -> f64 {
    if selectivity.is_nan() {
        return DEFAULT_UNKNOWN;
    }
    selectivity.clamp(1e-10, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_split_into_prefixes() {
        assert_eq!(like_prefix("abc%"), LikePrefix::Prefix("abc".into()));
        assert_eq!(like_prefix("abc%%"), LikePrefix::Prefix("abc".into()));
        assert_eq!(like_prefix("abc"), LikePrefix::Exact("abc".into()));
        assert_eq!(like_prefix("a\\%c"), LikePrefix::Exact("a%c".into()));
        assert_eq!(like_prefix("a_c%"), LikePrefix::Other);
        assert_eq!(like_prefix("%abc"), LikePrefix::Other);
        assert_eq!(like_prefix("%"), LikePrefix::Prefix(String::new()));
        assert_eq!(like_prefix("ab%c"), LikePrefix::Other);
        assert_eq!(prefix_successor("abc"), Some("abd".into()));
        assert_eq!(prefix_successor(""), None);
    }

    fn facts(statistics: &ColumnStatistics, rows: f64) -> ColumnFacts<'_> {
        ColumnFacts {
            statistics: Some(statistics),
            rows,
            unique: false,
        }
    }

    #[test]
    fn histogram_fractions_interpolate_within_buckets() {
        let statistics = ColumnStatistics {
            null_fraction: 0.1,
            average_width: 4,
            distinct: -0.5,
            most_common: vec![(Value::Integer(500), 0.2)],
            histogram: (0..=10).map(|i| Value::Integer(i * 100)).collect(),
            correlation: None,
        };
        let facts = facts(&statistics, 1000.0);
        // Below 250: 2.5 of 10 buckets of the 70% outside the list.
        let below = fraction_below(&facts, &Value::Integer(250), false).unwrap();
        assert!((below - 0.7 * 0.25).abs() < 1e-9, "{below}");
        // Up to 500 inclusive: the common value counts too.
        let below = fraction_below(&facts, &Value::Integer(500), true).unwrap();
        assert!((below - (0.2 + 0.7 * 0.5)).abs() < 1e-9, "{below}");
        assert_eq!(
            fraction_below(&facts, &Value::Integer(-5), false),
            Some(0.0)
        );
        let above_all = fraction_below(&facts, &Value::Integer(5000), false).unwrap();
        assert!((above_all - 0.9).abs() < 1e-9);
    }
}
