//! Query binding: a query's WITH, its body (SELECT in `select.rs`, VALUES,
//! set operations), ORDER BY over a non-SELECT body, and LIMIT/OFFSET.

use std::sync::Arc;

use sqlparser::ast::{self, SetExpr, TableFactor};

use super::aggregate::is_grouping_aggregate;
use super::expr::{Typed, bind_data_type};
use super::function::function_name;
use super::scope::{Scope, ScopeColumn};
use super::{Binder, ident_name, object_name};
use crate::error::{Error, Result, SqlState};
use crate::sql::catalog::{self, Table, TableColumn};
use crate::sql::explain;
use crate::sql::expr::{ColumnId, Expr};
use crate::sql::plan::{Access, Column, LogicalPlan};
use crate::sql::types::DataType;

/// Bound VALUES rows: the rows, each column's type, and which columns
/// held only unknown-typed literals.
pub(crate) struct BoundValues {
    pub rows: Vec<Vec<Expr>>,
    pub types: Vec<DataType>,
    pub unknown: Vec<bool>,
}

impl Binder<'_> {
    /// Binds a query; returns its plan and result columns (whose ids are
    /// `plan.output()`).
    pub(crate) fn bind_query(&mut self, query: &ast::Query) -> Result<(LogicalPlan, Vec<Column>)> {
        crate::sql::stack::check()?;
        if query.fetch.is_some() || !query.locks.is_empty() {
            return Err(Error::Unsupported("FETCH / FOR UPDATE".into()));
        }
        let outer_ctes = self.ctes.len();
        let result = match &query.with {
            Some(with) => self
                .define_ctes(with, query)
                .and_then(|()| self.bind_query_body(query))
                .and_then(|(plan, columns)| Ok((self.attach_ctes(plan, outer_ctes)?, columns))),
            None => self.bind_query_body(query),
        };
        self.ctes.truncate(outer_ctes);
        result
    }

    fn bind_query_body(&mut self, query: &ast::Query) -> Result<(LogicalPlan, Vec<Column>)> {
        match query.body.as_ref() {
            SetExpr::Select(select) => self.bind_select(select, &order_exprs(query), Some(query)),
            body => {
                let (plan, columns) = self.bind_set_expr(body)?;
                let plan = self.order_by_outputs(plan, &columns, &order_exprs(query))?;
                let plan = self.bind_limit(plan, query)?;
                Ok((plan, columns))
            }
        }
    }

    /// A query term: a SELECT, VALUES, a parenthesized query or a set
    /// operation of them.
    pub(crate) fn bind_set_expr(&mut self, body: &SetExpr) -> Result<(LogicalPlan, Vec<Column>)> {
        crate::sql::stack::check()?;
        match body {
            SetExpr::Select(select) => self.bind_select(select, &[], None),
            SetExpr::Query(query) => self.bind_query(query),
            SetExpr::Values(values) => self.bind_values_plan(values),
            SetExpr::SetOperation {
                op,
                set_quantifier,
                left,
                right,
            } => self.bind_set_operation(op, set_quantifier, left, right),
            other => Err(Error::Unsupported(format!("query {other}"))),
        }
    }

    /// The id a projection gives an expression: a column passes through
    /// with its own id; anything else gets a new column named by its text.
    pub(crate) fn output_column(&mut self, expr: &Expr, data_type: DataType) -> ColumnId {
        match expr {
            Expr::Column(id) => *id,
            other => {
                let name = explain::expr_sql(other, &self.columns);
                self.columns.add(name, data_type)
            }
        }
    }

    /// A fresh id per column of a table read as `qualifier`, and the
    /// scope that names them.
    pub(crate) fn table_scope(
        &mut self,
        qualifier: &str,
        columns: &[TableColumn],
    ) -> (Vec<ColumnId>, Scope) {
        let mut scope = Scope::default();
        let mut ids: Vec<ColumnId> = Vec::with_capacity(columns.len());
        for column in columns {
            let id = self.columns.add_table_column(
                qualifier.to_string(),
                column.name.clone(),
                column.data_type,
            );
            ids.push(id);
            scope.columns.push(ScopeColumn::new(
                Some(qualifier.to_string()),
                column.name.clone(),
                id,
                column.data_type,
            ));
        }
        (ids, scope)
    }

    /// A full scan of `table`, with a fresh id per column, and its scope.
    pub(crate) fn scan(&mut self, table: Table, alias: Option<&str>) -> (LogicalPlan, Scope) {
        let qualifier = alias.unwrap_or(&table.name);
        let (ids, mut scope) = self.table_scope(qualifier, &table.columns);
        if qualifier != table.name {
            scope.renamed.push(table.name.clone());
        }
        let key = table.primary_key.iter().map(|i| ids[*i]).collect();
        self.keyed_tables.push((key, ids.clone()));
        let plan = LogicalPlan::Scan {
            table: Arc::new(table),
            columns: ids,
            access: Access::full(),
            filter: None,
        };
        (plan, scope)
    }

    /// Resolves the single table of a FROM/UPDATE/DELETE target.
    pub(crate) fn bind_relation(
        &mut self,
        from: &ast::TableWithJoins,
    ) -> Result<(Table, Option<String>)> {
        if !from.joins.is_empty() {
            return Err(Error::Unsupported("JOIN".into()));
        }
        match &from.relation {
            TableFactor::Table {
                name,
                alias,
                args: None,
                ..
            } => {
                let table = catalog::require_table(self.txn, &object_name(name)?)?;
                if let Some(alias) = alias
                    && !alias.columns.is_empty()
                {
                    return Err(Error::Unsupported("column aliases in FROM".into()));
                }
                Ok((table, alias.as_ref().map(|a| ident_name(&a.name))))
            }
            TableFactor::Derived { .. } => Err(Error::Unsupported("subqueries in FROM".into())),
            other => Err(Error::Unsupported(format!("FROM item {other}"))),
        }
    }

    pub(crate) fn bind_limit(
        &mut self,
        plan: LogicalPlan,
        query: &ast::Query,
    ) -> Result<LogicalPlan> {
        let (limit, offset) = match &query.limit_clause {
            None => (None, None),
            Some(ast::LimitClause::LimitOffset {
                limit,
                offset,
                limit_by,
            }) => {
                if !limit_by.is_empty() {
                    return Err(Error::Unsupported("LIMIT BY".into()));
                }
                (limit.clone(), offset.as_ref().map(|o| o.value.clone()))
            }
            Some(ast::LimitClause::OffsetCommaLimit { .. }) => {
                return Err(Error::sql(
                    SqlState::SYNTAX_ERROR,
                    "LIMIT #,# syntax is not supported",
                ));
            }
        };
        if limit.is_none() && offset.is_none() {
            return Ok(plan);
        }
        let mut bind_count = |expr: Option<ast::Expr>| -> Result<Option<Expr>> {
            let Some(expr) = expr else { return Ok(None) };
            if matches!(&expr, ast::Expr::Value(v) if v.value == ast::Value::Null) {
                return Ok(None);
            }
            let typed = self.bind(&expr, &Scope::default(), None)?;
            // A float count (`LIMIT 1.5`) must be cast, not just relabelled:
            // the executor reads the value as an integer.
            // (Integers are read as they are, keeping EXPLAIN plain.)
            Ok(Some(match typed.data_type {
                Some(DataType::Real | DataType::Double | DataType::Numeric(_)) => {
                    self.coerce_cast(typed, DataType::BigInt)?
                }
                _ => self.coerce(typed, DataType::BigInt)?,
            }))
        };
        let limit = bind_count(limit)?;
        let offset = bind_count(offset)?;
        Ok(LogicalPlan::Limit {
            input: Box::new(plan),
            limit,
            offset,
        })
    }

    /// VALUES as a query term: columns `column1…`, each of the common type
    /// of its rows.
    fn bind_values_plan(&mut self, values: &ast::Values) -> Result<(LogicalPlan, Vec<Column>)> {
        let BoundValues {
            rows,
            types,
            unknown,
        } = self.bind_values(values, None)?;
        let mut columns = Vec::with_capacity(types.len());
        let mut ids = Vec::with_capacity(types.len());
        for (i, data_type) in types.iter().enumerate() {
            let name = format!("column{}", i + 1);
            let id = self.columns.add(name.clone(), *data_type);
            if unknown[i] {
                self.unknown_columns.insert(id);
            }
            ids.push(id);
            columns.push(Column {
                name,
                data_type: *data_type,
            });
        }
        Ok((LogicalPlan::Values { columns: ids, rows }, columns))
    }

    /// Binds VALUES rows; with `targets` (an INSERT's columns), each column
    /// is assignment-coerced to the target column's type and `DEFAULT` is
    /// the column's default, otherwise rows get a common type per column.
    /// Also says which columns held only unknown-typed literals.
    pub(crate) fn bind_values(
        &mut self,
        values: &ast::Values,
        targets: Option<&[TableColumn]>,
    ) -> Result<BoundValues> {
        let width = values.rows.first().map(|r| r.content.len()).unwrap_or(0);
        let mut typed_rows: Vec<Vec<Typed>> = Vec::new();
        for row in &values.rows {
            if row.content.len() != width {
                return Err(Error::sql(
                    SqlState::SYNTAX_ERROR,
                    "VALUES lists must all be the same length",
                ));
            }
            let mut typed = Vec::with_capacity(width);
            for (position, expr) in row.content.iter().enumerate() {
                if is_default(expr) {
                    let Some(column) = targets.and_then(|targets| targets.get(position)) else {
                        return Err(Error::sql(
                            SqlState::SYNTAX_ERROR,
                            "DEFAULT is not allowed in this context",
                        ));
                    };
                    typed.push(Typed {
                        expr: self.default_expr(column)?,
                        data_type: Some(column.data_type),
                    });
                    continue;
                }
                typed.push(self.bind(expr, &Scope::default(), None)?);
            }
            typed_rows.push(typed);
        }
        let types: Vec<DataType> = match targets {
            Some(targets) => targets.iter().map(|column| column.data_type).collect(),
            None => (0..width)
                .map(|i| {
                    typed_rows
                        .iter()
                        .filter_map(|row| row[i].data_type)
                        .try_fold(None::<DataType>, |acc, t| -> Result<Option<DataType>> {
                            Ok(Some(match acc {
                                None => t,
                                Some(a) if a == t => a,
                                Some(a) if a.is_numeric() && t.is_numeric() => {
                                    if a.numeric_rank() >= t.numeric_rank() {
                                        a
                                    } else {
                                        t
                                    }
                                }
                                Some(a) if a.is_text() && t.is_text() => DataType::Text,
                                Some(a) => {
                                    return Err(Error::sql(
                                        SqlState::DATATYPE_MISMATCH,
                                        format!(
                                            "VALUES types {} and {} cannot be matched",
                                            a.name(),
                                            t.name()
                                        ),
                                    ));
                                }
                            }))
                        })
                        .map(|t| t.unwrap_or(DataType::Text))
                })
                .collect::<Result<_>>()?,
        };
        let unknown: Vec<bool> = (0..width)
            .map(|i| typed_rows.iter().all(|row| row[i].data_type.is_none()))
            .collect();
        let mut rows = Vec::with_capacity(typed_rows.len());
        for row in typed_rows {
            let mut bound = Vec::with_capacity(width);
            for (i, typed) in row.into_iter().enumerate() {
                let name = targets.map_or("?column?", |t| t[i].name.as_str());
                bound.push(self.coerce_assign(typed, types[i], name)?);
            }
            rows.push(bound);
        }
        Ok(BoundValues {
            rows,
            types,
            unknown,
        })
    }
}

/// Whether an expression is the keyword DEFAULT.
pub(crate) fn is_default(expr: &ast::Expr) -> bool {
    matches!(expr, ast::Expr::Identifier(ident) if ident.quote_style.is_none() && ident.value.eq_ignore_ascii_case("default"))
}

/// The output column name PostgreSQL gives an unaliased select expression.
pub(crate) fn column_name(expr: &ast::Expr) -> String {
    match expr {
        ast::Expr::Identifier(ident) => ident_name(ident),
        ast::Expr::CompoundIdentifier(parts) => parts.last().map(ident_name).unwrap_or_default(),
        ast::Expr::Function(function) => function_name(function),
        ast::Expr::Nested(inner) => column_name(inner),
        ast::Expr::Cast {
            expr, data_type, ..
        } => match column_name(expr).as_str() {
            "?column?" => match bind_data_type(data_type) {
                Ok(DataType::Boolean) => "bool".into(),
                Ok(DataType::SmallInt) => "int2".into(),
                Ok(DataType::Integer) => "int4".into(),
                Ok(DataType::BigInt) => "int8".into(),
                Ok(DataType::Real) => "float4".into(),
                Ok(DataType::Double) => "float8".into(),
                Ok(DataType::Text) => "text".into(),
                Ok(DataType::Varchar(_)) => "varchar".into(),
                Ok(DataType::Char(_)) => "bpchar".into(),
                Ok(DataType::Numeric(_)) => "numeric".into(),
                Ok(DataType::Date) => "date".into(),
                Ok(DataType::Time(_)) => "time".into(),
                Ok(DataType::Timestamp(_)) => "timestamp".into(),
                Ok(DataType::Timestamptz(_)) => "timestamptz".into(),
                Ok(DataType::Interval(_)) => "interval".into(),
                Err(_) => "?column?".into(),
            },
            name => name.to_string(),
        },
        ast::Expr::Case { .. } => "case".into(),
        ast::Expr::Value(value) if matches!(value.value, ast::Value::Boolean(_)) => "bool".into(),
        _ => "?column?".into(),
    }
}

fn order_exprs(query: &ast::Query) -> Vec<ast::OrderByExpr> {
    match &query.order_by {
        Some(ast::OrderBy {
            kind: ast::OrderByKind::Expressions(exprs),
            ..
        }) => exprs.clone(),
        _ => Vec::new(),
    }
}

/// Whether a GROUP BY / ORDER BY item is a bare constant, which PostgreSQL
/// takes as an output position (the grammar folds `-1` into a constant).
pub(crate) fn is_constant(expr: &ast::Expr) -> bool {
    match expr {
        ast::Expr::Value(v) => !matches!(v.value, ast::Value::Placeholder(_)),
        ast::Expr::UnaryOp {
            op: ast::UnaryOperator::Minus,
            expr,
        } => matches!(&**expr, ast::Expr::Value(v) if matches!(v.value, ast::Value::Number(..))),
        _ => false,
    }
}

/// Resolves a constant GROUP BY / ORDER BY item to an output position. Only
/// an int4 constant is a position; `1.5`, `'a'` or `NULL` is a syntax error
/// in PostgreSQL rather than a constant sort key.
pub(crate) fn ordinal(expr: &ast::Expr, count: usize, clause: &str) -> Result<usize> {
    let text = expr.to_string();
    match text.parse::<i32>() {
        Ok(n) if n >= 1 && n as usize <= count => Ok(n as usize - 1),
        Ok(_) => Err(Error::sql(
            SqlState::INVALID_COLUMN_REFERENCE,
            format!("{clause} position {text} is not in select list"),
        )),
        Err(_) => Err(Error::sql(
            SqlState::SYNTAX_ERROR,
            format!("non-integer constant in {clause}"),
        )),
    }
}

/// Whether an aggregate function of this query level is called in the
/// expression (aggregates inside subqueries belong to the subquery).
pub(crate) fn contains_aggregate(expr: &ast::Expr) -> bool {
    struct Finder {
        /// Subqueries entered.
        depth: usize,
    }
    impl ast::Visitor for Finder {
        type Break = ();
        fn pre_visit_query(&mut self, _: &ast::Query) -> std::ops::ControlFlow<()> {
            self.depth += 1;
            std::ops::ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, _: &ast::Query) -> std::ops::ControlFlow<()> {
            self.depth -= 1;
            std::ops::ControlFlow::Continue(())
        }
        fn pre_visit_expr(&mut self, expr: &ast::Expr) -> std::ops::ControlFlow<()> {
            match expr {
                ast::Expr::Function(function)
                    if self.depth == 0 && is_grouping_aggregate(function) =>
                {
                    std::ops::ControlFlow::Break(())
                }
                _ => std::ops::ControlFlow::Continue(()),
            }
        }
    }
    ast::Visit::visit(expr, &mut Finder { depth: 0 }).is_break()
}
