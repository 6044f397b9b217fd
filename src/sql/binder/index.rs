//! Binding `CREATE [UNIQUE] INDEX`, `DROP INDEX` and the UNIQUE constraints
//! of `CREATE TABLE`.
//!
//! The index's columns, expressions and predicate are kept as text here
//! and resolved when the statement runs, against the table's definition
//! as it is under the statement's relation lock (`session/ddl.rs`), with
//! [`bind_index_expression`], which also binds them again whenever the
//! catalog is read. An index expression or predicate may read only the
//! row: no subquery (0A000), aggregate (42803), window function (42P20)
//! or parameter (42P02). Every function basalt has is immutable, as
//! PostgreSQL requires of them here. What basalt cannot build yet fails
//! with 0A000 naming it: operator classes, storage parameters and access
//! methods other than btree. `CONCURRENTLY` builds the index as a plain
//! `CREATE INDEX` does, under a lock that makes writers wait, and says so
//! in a notice.

use std::ops::ControlFlow;

use sqlparser::ast;

use super::aggregate::is_grouping_aggregate;
use super::{Binder, BoundStatement, ident_name, object_name};
use crate::error::{Error, Result, SqlState};
use crate::sql::catalog::{IndexExpression, IndexExpressionRole, TableColumn};
use crate::sql::expr::Expr;
use crate::sql::parser::parse_expr;
use crate::sql::types::DataType;
use crate::txn::Transaction;

/// One key column as written: a column's name or an expression, `DESC`,
/// and the NULLS placement (PostgreSQL's default: NULLS FIRST exactly
/// when descending).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexKeyColumn {
    /// The column's name; for an expression, the part of a generated
    /// index name it gives (its function's name, or `expr`).
    pub name: String,
    /// An expression key: its SQL text.
    pub expression: Option<String>,
    pub descending: bool,
    pub nulls_first: bool,
}

/// A bound `CREATE INDEX`, or a UNIQUE constraint of `CREATE TABLE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexDefinition {
    /// `None`: PostgreSQL's generated name (`t_a_b_idx`, or `t_a_key` for a
    /// constraint).
    pub name: Option<String>,
    pub table: String,
    pub unique: bool,
    pub nulls_not_distinct: bool,
    /// It backs a UNIQUE constraint.
    pub constraint: bool,
    pub columns: Vec<IndexKeyColumn>,
    /// `INCLUDE` column names.
    pub include: Vec<String>,
    /// A partial index's `WHERE`, as SQL text.
    pub predicate: Option<String>,
    /// `CONCURRENTLY` was asked for (and is run as a plain build).
    pub concurrently: bool,
}

impl IndexDefinition {
    /// The name PostgreSQL would choose before making it unique: the
    /// table's, each key column's and INCLUDE column's, and a suffix.
    pub fn default_name(&self) -> String {
        let columns: Vec<&str> = self
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .chain(self.include.iter().map(String::as_str))
            .collect();
        let suffix = if self.constraint { "key" } else { "idx" };
        format!("{}_{}_{suffix}", self.table, columns.join("_"))
    }
}

/// Key columns from their AST form.
pub(crate) fn key_columns(columns: &[ast::IndexColumn]) -> Result<Vec<IndexKeyColumn>> {
    columns
        .iter()
        .map(|column| {
            if column.operator_class.is_some() {
                return Err(Error::Unsupported("operator classes in indexes".into()));
            }
            if column.column.with_fill.is_some() {
                return Err(Error::Unsupported("WITH FILL in an index".into()));
            }
            // A parenthesized column is the column, as in PostgreSQL.
            let mut expr = &column.column.expr;
            while let ast::Expr::Nested(inner) = expr {
                expr = inner;
            }
            let (name, expression) = match expr {
                ast::Expr::Identifier(ident) => (ident_name(ident), None),
                other => (name_part(other), Some(other.to_string())),
            };
            let descending = match &column.column.options.sort {
                None | Some(ast::OrderBySort::Asc) => false,
                Some(ast::OrderBySort::Desc) => true,
                Some(ast::OrderBySort::Using(_)) => {
                    return Err(Error::Unsupported("USING operators in an index".into()));
                }
            };
            Ok(IndexKeyColumn {
                name,
                expression,
                descending,
                nulls_first: column.column.options.nulls_first.unwrap_or(descending),
            })
        })
        .collect()
}

/// The part of a generated index name an expression gives, as
/// PostgreSQL's `FigureColname` finds it: a function's name, a cast's
/// operand's name, a column's name, else `expr`.
fn name_part(expr: &ast::Expr) -> String {
    match expr {
        ast::Expr::Identifier(ident) => ident_name(ident),
        ast::Expr::Function(function) => function.name.to_string().to_lowercase(),
        ast::Expr::Cast { expr, .. } | ast::Expr::Nested(expr) => name_part(expr),
        _ => "expr".into(),
    }
}

impl Binder<'_> {
    pub(crate) fn bind_create_index(
        &mut self,
        create: &ast::CreateIndex,
    ) -> Result<BoundStatement> {
        if create.r#async || !create.alter_options.is_empty() {
            return Err(Error::Unsupported(super::statement_kind(
                &ast::Statement::CreateIndex(create.clone()),
            )));
        }
        match &create.using {
            None | Some(ast::IndexType::BTree) => {}
            Some(other) => {
                return Err(Error::Unsupported(format!("index access method {other}")));
            }
        }
        if !create.index_options.is_empty() {
            return Err(Error::Unsupported("index options".into()));
        }
        // `WITH (fillfactor = n)`: checked like a table's (`ddl.rs`).
        let parameters = create
            .with
            .iter()
            .map(|expr| match expr {
                ast::Expr::BinaryOp {
                    left,
                    op: ast::BinaryOperator::Eq,
                    right,
                } => match left.as_ref() {
                    ast::Expr::Identifier(key) => Ok(ast::SqlOption::KeyValue {
                        key: ast::ObjectName::from(vec![key.clone()]),
                        value: right.as_ref().clone(),
                    }),
                    _ => Err(Error::Unsupported(format!(
                        "index storage parameter {expr}"
                    ))),
                },
                other => Err(Error::Unsupported(format!(
                    "index storage parameter {other}"
                ))),
            })
            .collect::<Result<Vec<_>>>()?;
        super::ddl::storage_parameters(&parameters)?;
        let name = create.name.as_ref().map(object_name).transpose()?;
        if create.if_not_exists && name.is_none() {
            // PostgreSQL's grammar requires the name here.
            return Err(Error::sql(
                crate::error::SqlState::SYNTAX_ERROR,
                "syntax error at or near \"ON\"",
            ));
        }
        Ok(BoundStatement::CreateIndex {
            index: IndexDefinition {
                name,
                table: object_name(&create.table_name)?,
                unique: create.unique,
                nulls_not_distinct: create.nulls_distinct == Some(false),
                constraint: false,
                columns: key_columns(&create.columns)?,
                include: create.include.iter().map(ident_name).collect(),
                predicate: create.predicate.as_ref().map(ToString::to_string),
                concurrently: create.concurrently,
            },
            if_not_exists: create.if_not_exists,
        })
    }
}

/// A UNIQUE constraint of `CREATE TABLE` on `table` as an index definition.
pub(crate) fn unique_constraint(
    table: &str,
    constraint: &ast::UniqueConstraint,
) -> Result<IndexDefinition> {
    if !constraint.include.is_empty() {
        return Err(Error::Unsupported("INCLUDE columns in indexes".into()));
    }
    if constraint.characteristics.is_some() {
        return Err(Error::Unsupported("deferrable UNIQUE constraints".into()));
    }
    if constraint.index_type.is_some() || !constraint.index_options.is_empty() {
        return Err(Error::Unsupported(
            "index options in a UNIQUE constraint".into(),
        ));
    }
    if constraint
        .columns
        .iter()
        .any(|c| !matches!(c.column.expr, ast::Expr::Identifier(_)))
    {
        return Err(Error::sql(
            crate::error::SqlState::SYNTAX_ERROR,
            "syntax error in a UNIQUE constraint: a column name is expected",
        ));
    }
    let columns = key_columns(&constraint.columns)?;
    if columns
        .iter()
        .any(|c| c.descending || c.nulls_first || c.expression.is_some())
    {
        return Err(Error::sql(
            crate::error::SqlState::SYNTAX_ERROR,
            "syntax error in a UNIQUE constraint: a column name is expected",
        ));
    }
    Ok(IndexDefinition {
        name: constraint.name.as_ref().map(ident_name),
        table: table.to_string(),
        unique: true,
        nulls_not_distinct: matches!(
            constraint.nulls_distinct,
            ast::NullsDistinctOption::NotDistinct
        ),
        constraint: true,
        columns,
        include: Vec::new(),
        predicate: None,
        concurrently: false,
    })
}

/// Binds an index's key expression or predicate, SQL text, over a row of
/// `table`'s `columns`: the result reads column `i` as `Expr::Slot(i)`,
/// so it evaluates on a stored row alone. A key expression of unknown
/// type (a quoted literal) is text; a predicate must be boolean (42804).
pub fn bind_index_expression(
    txn: &mut Transaction,
    table: &str,
    columns: &[TableColumn],
    text: &str,
    role: IndexExpressionRole,
) -> Result<IndexExpression> {
    let (noun, clause) = match role {
        IndexExpressionRole::Key => ("expression", "index expressions"),
        IndexExpressionRole::Predicate => ("predicate", "index predicates"),
    };
    let parsed = parse_expr(text)?;
    let aggregate = ast::visit_expressions(&parsed, |expr| match expr {
        ast::Expr::Function(function) if is_grouping_aggregate(function) => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    });
    if aggregate.is_break() {
        return Err(Error::sql(
            SqlState::GROUPING_ERROR,
            format!("aggregate functions are not allowed in {clause}"),
        ));
    }
    let mut binder = Binder::new(txn, &[]);
    binder.clause = clause;
    let (ids, scope) = binder.table_scope(table, columns);
    let (expr, data_type) = match role {
        IndexExpressionRole::Key => {
            let typed = binder.bind(&parsed, &scope, None)?;
            match typed.data_type {
                Some(data_type) => (typed.expr, data_type),
                None => (
                    binder.resolve_unknown(typed.expr, DataType::Text)?,
                    DataType::Text,
                ),
            }
        }
        IndexExpressionRole::Predicate => (
            binder.bind_condition(&parsed, &scope, None, "WHERE")?,
            DataType::Boolean,
        ),
    };
    let mut refused = None;
    expr.walk(&mut |node| match node {
        Expr::Subquery(_) if refused.is_none() => {
            refused = Some(Error::sql(
                SqlState::FEATURE_NOT_SUPPORTED,
                format!("cannot use subquery in index {noun}"),
            ));
        }
        Expr::Parameter(index) if refused.is_none() => {
            refused = Some(Error::sql(
                SqlState::UNDEFINED_PARAMETER,
                format!("there is no parameter ${}", index + 1),
            ));
        }
        _ => {}
    });
    if let Some(error) = refused {
        return Err(error);
    }
    let expr = expr.transform(&mut |node| match node {
        Expr::Column(id) => ids
            .iter()
            .position(|column| *column == id)
            .map(Expr::Slot)
            .ok_or_else(|| Error::Internal(format!("index {noun} reads another relation"))),
        other => Ok(other),
    })?;
    Ok(IndexExpression {
        text: text.to_string(),
        expr,
        data_type,
    })
}
