//! `INSERT … ON CONFLICT`: which unique constraints arbitrate, and what
//! a conflicting row does instead of being inserted.
//!
//! Arbiters are inferred as PostgreSQL infers them: `(a, b)` names every
//! unique constraint whose columns are exactly that set (the primary key,
//! UNIQUE constraints and plain unique indexes), `ON CONSTRAINT c` names
//! one, and `DO NOTHING` without a target has every unique constraint
//! arbitrate. `DO UPDATE` binds its SET list and WHERE over two rows: the
//! existing one, by the table's name (or alias), and the proposed one as
//! `excluded`; a bare column name is ambiguous between them, as in
//! PostgreSQL.

use sqlparser::ast;

use super::{Binder, ident_name};
use crate::error::{Error, Result, SqlState};
use crate::sql::catalog::Table;
use crate::sql::expr::{ColumnId, Expr};

/// A unique constraint that decides whether a proposed row conflicts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arbiter {
    PrimaryKey,
    /// A unique index, by name.
    Index(String),
}

/// What a conflicting row does.
#[derive(Clone, Debug)]
pub enum ConflictAction {
    /// Nothing: the row is not inserted.
    Nothing,
    /// The existing row is updated: `assignments` (table column index,
    /// expression) and `condition` read the existing row's columns as
    /// `existing` and the proposed row's as `excluded`.
    Update {
        existing: Vec<ColumnId>,
        excluded: Vec<ColumnId>,
        assignments: Vec<(usize, Expr)>,
        condition: Option<Expr>,
    },
}

/// An INSERT's `ON CONFLICT` clause, bound.
#[derive(Clone, Debug)]
pub struct OnConflict {
    /// `None`: every unique constraint of the table arbitrates.
    pub arbiters: Option<Vec<Arbiter>>,
    pub action: ConflictAction,
}

impl Binder<'_> {
    pub(crate) fn bind_on_conflict(
        &mut self,
        table: &Table,
        alias: Option<&str>,
        on: &ast::OnInsert,
    ) -> Result<OnConflict> {
        let ast::OnInsert::OnConflict(on) = on else {
            return Err(Error::Unsupported("ON DUPLICATE KEY UPDATE".into()));
        };
        let arbiters = match &on.conflict_target {
            None => {
                if matches!(on.action, ast::OnConflictAction::DoUpdate(_)) {
                    return Err(Error::sql(
                        SqlState::SYNTAX_ERROR,
                        "ON CONFLICT DO UPDATE requires inference specification or constraint name",
                    ));
                }
                None
            }
            Some(ast::ConflictTarget::Columns { columns, predicate }) => {
                if predicate.is_some() {
                    return Err(Error::Unsupported(
                        "ON CONFLICT with an index predicate".into(),
                    ));
                }
                Some(infer_arbiters(table, columns)?)
            }
            Some(ast::ConflictTarget::OnConstraint(name)) => {
                let name = super::object_name(name)?;
                if !table.primary_key.is_empty() && name == table.primary_key_name() {
                    Some(vec![Arbiter::PrimaryKey])
                } else if table
                    .indexes
                    .iter()
                    .any(|index| index.constraint && index.name == name)
                {
                    Some(vec![Arbiter::Index(name)])
                } else {
                    return Err(Error::sql(
                        SqlState::UNDEFINED_OBJECT,
                        format!(
                            "constraint \"{name}\" for table \"{}\" does not exist",
                            table.name
                        ),
                    ));
                }
            }
        };
        let action = match &on.action {
            ast::OnConflictAction::DoNothing => ConflictAction::Nothing,
            ast::OnConflictAction::DoUpdate(update) => {
                let qualifier = alias.unwrap_or(&table.name).to_string();
                let (existing, mut scope) = self.table_scope(&qualifier, &table.columns);
                if qualifier != table.name {
                    scope.renamed.push(table.name.clone());
                }
                // Both rows are in reach by bare column names, so one
                // names neither (42702), as in PostgreSQL.
                let (excluded, excluded_scope) = self.table_scope("excluded", &table.columns);
                scope.extend(excluded_scope);
                let assignments = self.bind_assignments(table, &update.assignments, &scope)?;
                if update
                    .selection
                    .as_ref()
                    .is_some_and(super::query::contains_aggregate)
                {
                    return Err(Error::sql(
                        SqlState::GROUPING_ERROR,
                        "aggregate functions are not allowed in WHERE",
                    ));
                }
                let condition = update
                    .selection
                    .as_ref()
                    .map(|condition| self.bind_condition(condition, &scope, None, "WHERE"))
                    .transpose()?;
                ConflictAction::Update {
                    existing,
                    excluded,
                    assignments,
                    condition,
                }
            }
        };
        Ok(OnConflict { arbiters, action })
    }
}

/// The unique constraints whose columns are exactly `columns` (42P10 if
/// none is).
fn infer_arbiters(table: &Table, columns: &[ast::Ident]) -> Result<Vec<Arbiter>> {
    let mut wanted = Vec::with_capacity(columns.len());
    for column in columns {
        let name = ident_name(column);
        let index = table.column_index(&name).ok_or_else(|| {
            Error::sql(
                SqlState::UNDEFINED_COLUMN,
                format!("column \"{name}\" does not exist"),
            )
        })?;
        if !wanted.contains(&index) {
            wanted.push(index);
        }
    }
    let same_set = |candidate: &[usize]| {
        candidate.len() == wanted.len() && candidate.iter().all(|c| wanted.contains(c))
    };
    let mut arbiters = Vec::new();
    if !table.primary_key.is_empty() && same_set(&table.primary_key) {
        arbiters.push(Arbiter::PrimaryKey);
    }
    for index in &table.indexes {
        if !index.unique || !index.expressions.is_empty() || index.predicate.is_some() {
            continue;
        }
        let columns: Vec<usize> = index
            .columns
            .iter()
            .filter_map(|column| column.table_column())
            .collect();
        if same_set(&columns) {
            arbiters.push(Arbiter::Index(index.name.clone()));
        }
    }
    if arbiters.is_empty() {
        return Err(Error::sql(
            SqlState::INVALID_COLUMN_REFERENCE,
            "there is no unique or exclusion constraint matching the ON CONFLICT specification",
        ));
    }
    Ok(arbiters)
}
