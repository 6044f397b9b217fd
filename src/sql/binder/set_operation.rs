//! Set operations (`UNION`, `INTERSECT`, `EXCEPT`, each `[ALL]`) and the
//! ORDER BY of a result that is not a plain SELECT.
//!
//! Columns match by position; the two inputs must be equally wide (42601).
//! Each result column takes the common type of its inputs, as PostgreSQL's
//! `select_common_type` gives it: an unknown-typed literal column (`'a'`,
//! `NULL`) takes the other side's type, numbers promote, text and varchar
//! meet in text, anything else is 42804. An input whose column has another
//! type is wrapped in a projection that casts it. The result's names are
//! the left input's.
//!
//! ORDER BY on such a result may name only result columns, by name or
//! position; an expression is 0A000, as in PostgreSQL.

use sqlparser::ast::{self, SetExpr, SetOperator as AstSetOperator, SetQuantifier};

use super::{Binder, ident_name};
use crate::error::{Error, Result, SqlState};
use crate::sql::expr::{ColumnId, Expr};
use crate::sql::plan::{Column, LogicalPlan, SetOperator, SortKey};
use crate::sql::types::DataType;

impl Binder<'_> {
    pub(crate) fn bind_set_operation(
        &mut self,
        op: &AstSetOperator,
        quantifier: &SetQuantifier,
        left: &SetExpr,
        right: &SetExpr,
    ) -> Result<(LogicalPlan, Vec<Column>)> {
        let op = match op {
            AstSetOperator::Union => SetOperator::Union,
            AstSetOperator::Intersect => SetOperator::Intersect,
            AstSetOperator::Except => SetOperator::Except,
            other => return Err(Error::Unsupported(format!("set operation {other}"))),
        };
        let all = match quantifier {
            SetQuantifier::All => true,
            SetQuantifier::None | SetQuantifier::Distinct => false,
            other => return Err(Error::Unsupported(format!("{} {other}", op.name()))),
        };
        let (left, left_columns) = self.bind_set_expr(left)?;
        let (right, right_columns) = self.bind_set_expr(right)?;
        if left_columns.len() != right_columns.len() {
            return Err(Error::sql(
                SqlState::SYNTAX_ERROR,
                format!(
                    "each {} query must have the same number of columns",
                    op.name()
                ),
            ));
        }
        let left_ids = left.output();
        let right_ids = right.output();
        let mut types = Vec::with_capacity(left_columns.len());
        for i in 0..left_columns.len() {
            let left_unknown = self.unknown_columns.contains(&left_ids[i]);
            let right_unknown = self.unknown_columns.contains(&right_ids[i]);
            let (a, b) = (left_columns[i].data_type, right_columns[i].data_type);
            types.push(match (left_unknown, right_unknown) {
                (true, true) => (DataType::Text, true),
                (true, false) => (b, false),
                (false, true) => (a, false),
                (false, false) => (self.common_type(a, b, op.name())?, false),
            });
        }
        let left = self.cast_columns(left, &types);
        let right = self.cast_columns(right, &types);
        let mut columns = Vec::with_capacity(types.len());
        let mut ids = Vec::with_capacity(types.len());
        for (column, (data_type, unknown)) in left_columns.iter().zip(&types) {
            let id = self.columns.add(column.name.clone(), *data_type);
            if *unknown {
                self.unknown_columns.insert(id);
            }
            ids.push(id);
            columns.push(Column {
                name: column.name.clone(),
                data_type: *data_type,
            });
        }
        let plan = LogicalPlan::SetOperation {
            op,
            all,
            left: Box::new(left),
            right: Box::new(right),
            columns: ids,
        };
        Ok((plan, columns))
    }

    /// Wraps `plan` in a projection that casts each column whose type is
    /// not its target's (unchanged when all match).
    fn cast_columns(&mut self, plan: LogicalPlan, types: &[(DataType, bool)]) -> LogicalPlan {
        let ids = plan.output();
        if ids
            .iter()
            .zip(types)
            .all(|(id, (target, _))| self.columns.data_type(*id) == *target)
        {
            return plan;
        }
        let exprs: Vec<(ColumnId, Expr)> = ids
            .iter()
            .zip(types)
            .map(|(id, (target, _))| {
                if self.columns.data_type(*id) == *target {
                    (*id, Expr::Column(*id))
                } else {
                    let name = self.columns.name(*id).to_string();
                    let cast = Expr::Cast {
                        expr: Box::new(Expr::Column(*id)),
                        to: *target,
                        explicit: false,
                    };
                    (self.columns.add(name, *target), cast)
                }
            })
            .collect();
        LogicalPlan::Project {
            input: Box::new(plan),
            exprs,
        }
    }

    /// ORDER BY over a set operation's (or VALUES') result: result
    /// columns by name or position only.
    pub(crate) fn order_by_outputs(
        &mut self,
        plan: LogicalPlan,
        columns: &[Column],
        order_by: &[ast::OrderByExpr],
    ) -> Result<LogicalPlan> {
        if order_by.is_empty() {
            return Ok(plan);
        }
        let ids = plan.output();
        let mut keys = Vec::with_capacity(order_by.len());
        for item in order_by {
            let descending = matches!(item.options.sort, Some(ast::OrderBySort::Desc));
            if matches!(item.options.sort, Some(ast::OrderBySort::Using(_))) {
                return Err(Error::Unsupported("ORDER BY USING".into()));
            }
            let nulls_first = item.options.nulls_first.unwrap_or(descending);
            let index = match &item.expr {
                expr if super::query::is_constant(expr) => {
                    super::query::ordinal(expr, columns.len(), "ORDER BY")?
                }
                ast::Expr::Identifier(ident) => {
                    let name = ident_name(ident);
                    columns.iter().position(|c| c.name == name).ok_or_else(|| {
                        Error::sql(
                            SqlState::UNDEFINED_COLUMN,
                            format!("column \"{name}\" does not exist"),
                        )
                    })?
                }
                _ => {
                    return Err(Error::Unsupported(
                        "invalid UNION/INTERSECT/EXCEPT ORDER BY clause: only result column \
                         names can be used, not expressions or functions"
                            .into(),
                    ));
                }
            };
            keys.push(SortKey {
                expr: Expr::Column(ids[index]),
                descending,
                nulls_first,
            });
        }
        Ok(LogicalPlan::Sort {
            input: Box::new(plan),
            keys,
        })
    }
}
