//! Binding `CREATE [UNIQUE] INDEX`, `DROP INDEX` and the UNIQUE constraints
//! of `CREATE TABLE`.
//!
//! The index's columns are kept as names here and resolved when the
//! statement runs, against the table's definition as it is under the
//! statement's relation lock (`session/ddl.rs`). What basalt cannot build
//! yet fails with 0A000 naming it: expression, partial and covering
//! (`INCLUDE`) indexes, operator classes, storage parameters, access
//! methods other than btree and `CONCURRENTLY`.

use sqlparser::ast;

use super::{Binder, BoundStatement, ident_name, object_name};
use crate::error::{Error, Result};

/// One key column as written: its name, `DESC`, and the NULLS placement
/// (PostgreSQL's default: NULLS FIRST exactly when descending).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexKeyColumn {
    pub name: String,
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
}

impl IndexDefinition {
    /// The name PostgreSQL would choose before making it unique.
    pub fn default_name(&self) -> String {
        let columns: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
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
            let name = match &column.column.expr {
                ast::Expr::Identifier(ident) => ident_name(ident),
                ast::Expr::Nested(_) | ast::Expr::Function(_) => {
                    return Err(Error::Unsupported("expression indexes".into()));
                }
                other => {
                    return Err(Error::Unsupported(format!("expression indexes ({other})")));
                }
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
                descending,
                nulls_first: column.column.options.nulls_first.unwrap_or(descending),
            })
        })
        .collect()
}

impl Binder<'_> {
    pub(crate) fn bind_create_index(
        &mut self,
        create: &ast::CreateIndex,
    ) -> Result<BoundStatement> {
        if create.concurrently {
            return Err(Error::Unsupported("CREATE INDEX CONCURRENTLY".into()));
        }
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
        if !create.include.is_empty() {
            return Err(Error::Unsupported("INCLUDE columns in indexes".into()));
        }
        if create.predicate.is_some() {
            return Err(Error::Unsupported(
                "partial indexes (CREATE INDEX … WHERE)".into(),
            ));
        }
        if !create.with.is_empty() || !create.index_options.is_empty() {
            return Err(Error::Unsupported("index storage parameters".into()));
        }
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
    if columns.iter().any(|c| c.descending || c.nulls_first) {
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
    })
}
