//! Subqueries in expressions: `(SELECT …)`, `EXISTS (…)`, `x [NOT] IN
//! (SELECT …)`, `x op ANY|SOME|ALL (SELECT …)`.
//!
//! The subquery binds with the current level's scope pushed as its
//! innermost enclosing level, so it can read this level's columns (and,
//! through the chain, every enclosing level's). Those reads are its plan's
//! free columns, which become the subquery's parameters: evaluated on the
//! current row, they form the frame the plan runs under.
//!
//! In a grouped query the subquery sees the level after grouping: a GROUP
//! BY column reads as the group's value, and any other column of this
//! level is 42803, as in PostgreSQL.

use std::sync::Arc;

use sqlparser::ast;

use super::Binder;
use super::expr::{Grouping, Typed};
use super::scope::{Scope, ScopeColumn};
use crate::error::{Error, Result, SqlState};
use crate::sql::expr::{Expr, Subquery, SubqueryKind};
use crate::sql::types::DataType;

impl Binder<'_> {
    /// Binds a subquery expression of `kind`; `operand` is the left side of
    /// IN / ANY / ALL.
    pub(crate) fn bind_subquery(
        &mut self,
        kind: SubqueryKind,
        operand: Option<Typed>,
        query: &ast::Query,
        scope: &Scope,
        grouping: Option<&Grouping>,
    ) -> Result<Typed> {
        let level = match grouping {
            Some(grouping) => grouped_scope(scope, grouping),
            None => scope.clone(),
        };
        self.outer.push(level);
        let result = self.bind_query(query);
        self.outer.pop();
        let (plan, columns) = result?;
        if kind != SubqueryKind::Exists && columns.len() != 1 {
            let message = if kind == SubqueryKind::Scalar {
                "subquery must return only one column"
            } else {
                "subquery has too many columns"
            };
            return Err(Error::sql(SqlState::SYNTAX_ERROR, message));
        }
        // An unknown-typed literal the subquery returns is text by now, as
        // in PostgreSQL: `int_col IN (SELECT 'x')` has no operator.
        let data_type = columns.first().map_or(DataType::Boolean, |c| c.data_type);
        let operand = match operand {
            None => None,
            Some(operand) => Some(match operand.data_type {
                None => self.resolve_unknown(operand.expr, data_type)?,
                Some(t) => {
                    let op = match kind {
                        SubqueryKind::Any { op } | SubqueryKind::All { op } => op,
                        _ => unreachable!("only ANY and ALL have an operand"),
                    };
                    let comparable = t == data_type
                        || (t.is_numeric() && data_type.is_numeric())
                        || (t.is_text() && data_type.is_text());
                    if !comparable {
                        return Err(Error::sql(
                            SqlState::UNDEFINED_FUNCTION,
                            format!(
                                "operator does not exist: {} {} {}",
                                t.name(),
                                op.symbol(),
                                data_type.name()
                            ),
                        ));
                    }
                    operand.expr
                }
            }),
        };
        let parameters = plan
            .free_columns()
            .into_iter()
            .map(|id| (id, Expr::Column(id)))
            .collect();
        let id = self.subquery_count;
        self.subquery_count += 1;
        let result_type = match kind {
            SubqueryKind::Scalar => data_type,
            _ => DataType::Boolean,
        };
        Ok(Typed {
            expr: Expr::Subquery(Box::new(Subquery {
                id,
                kind,
                operand,
                plan: Arc::new(plan),
                parameters,
                data_type,
            })),
            data_type: Some(result_type),
        })
    }
}

/// What a subquery of a grouped query sees of its level: group columns by
/// their group value, other columns marked ungrouped.
fn grouped_scope(scope: &Scope, grouping: &Grouping) -> Scope {
    Scope {
        invisible: scope.invisible,
        renamed: scope.renamed.clone(),
        columns: scope
            .columns
            .iter()
            .map(|column| {
                match grouping
                    .keys
                    .iter()
                    .find(|(_, bound, _)| *bound == Expr::Column(column.id))
                {
                    Some((_, _, key)) => ScopeColumn {
                        id: *key,
                        ..column.clone()
                    },
                    None => ScopeColumn {
                        ungrouped: true,
                        ..column.clone()
                    },
                }
            })
            .collect(),
    }
}
