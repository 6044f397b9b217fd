//! Function-call binding: scalar functions and aggregate calls.
//!
//! Scalar functions (`abs`, `coalesce`, `nullif`, `lower`, `upper`,
//! `length`) type their arguments like PostgreSQL's overload resolution
//! would for the supported types. Aggregates are only legal in grouped
//! binding ([`Grouping`]): each distinct call gets one output slot of the
//! `Aggregate` operator, and the call binds to a reference to that slot.

use sqlparser::ast::{self, FunctionArg, FunctionArgExpr, FunctionArguments};

use super::expr::{Grouping, Typed};
use super::{Binder, Scope, ident_name};
use crate::error::{Error, Result, SqlState};
use crate::sql::explain;
use crate::sql::expr::{Expr, Function};
use crate::sql::plan::{Aggregate, AggregateFunction};
use crate::sql::types::DataType;

fn syntax(message: impl Into<String>) -> Error {
    Error::sql(SqlState::SYNTAX_ERROR, message)
}

impl Binder<'_> {
    pub(crate) fn bind_function(
        &mut self,
        function: &ast::Function,
        scope: &Scope,
        mut grouping: Option<&mut Grouping>,
    ) -> Result<Typed> {
        let name = function_name(function);
        let args = plain_args(function)?;
        let mut bound = Vec::with_capacity(args.len());
        for arg in &args {
            bound.push(self.bind(arg, scope, grouping.as_deref_mut())?);
        }
        let arity = |n: usize| -> Result<()> {
            if bound.len() != n {
                return Err(Error::sql(
                    SqlState::UNDEFINED_FUNCTION,
                    format!(
                        "function {name} with {} arguments does not exist",
                        bound.len()
                    ),
                ));
            }
            Ok(())
        };
        match name.as_str() {
            "abs" => {
                arity(1)?;
                let arg = bound.remove(0);
                let data_type = self.numeric_operand(arg.data_type, "abs")?;
                let arg = self.coerce(arg, data_type)?;
                Ok(Typed {
                    expr: Expr::Function {
                        function: Function::Abs,
                        args: vec![arg],
                    },
                    data_type: Some(data_type),
                })
            }
            "lower" | "upper" | "length" | "char_length" => {
                arity(1)?;
                let arg = self.coerce_text(bound.remove(0), &name)?;
                let (function, data_type) = match name.as_str() {
                    "lower" => (Function::Lower, DataType::Text),
                    "upper" => (Function::Upper, DataType::Text),
                    _ => (Function::Length, DataType::Integer),
                };
                Ok(Typed {
                    expr: Expr::Function {
                        function,
                        args: vec![arg],
                    },
                    data_type: Some(data_type),
                })
            }
            "coalesce" | "nullif" => {
                if name == "nullif" {
                    arity(2)?;
                } else if bound.is_empty() {
                    return Err(syntax("syntax error at or near \")\""));
                }
                let mut common: Option<DataType> = None;
                for arg in &bound {
                    if let Some(t) = arg.data_type {
                        common = Some(match common {
                            None => t,
                            Some(c) => self.common_type(c, t, &name.to_uppercase())?,
                        });
                    }
                }
                let common = common.unwrap_or(DataType::Text);
                let args = bound
                    .into_iter()
                    .map(|arg| self.coerce_cast(arg, common))
                    .collect::<Result<Vec<_>>>()?;
                let function = if name == "nullif" {
                    Function::NullIf
                } else {
                    Function::Coalesce
                };
                Ok(Typed {
                    expr: Expr::Function { function, args },
                    data_type: Some(common),
                })
            }
            _ => Err(Error::sql(
                SqlState::UNDEFINED_FUNCTION,
                format!("function {name} does not exist"),
            )),
        }
    }

    /// Binds an aggregate call in grouped mode; `None` if not an aggregate.
    pub(crate) fn bind_aggregate(
        &mut self,
        function: &ast::Function,
        scope: &Scope,
        grouping: &mut Grouping,
    ) -> Result<Option<Typed>> {
        let Some(kind) = aggregate_function(function) else {
            return Ok(None);
        };
        if function.filter.is_some() || function.over.is_some() || !function.within_group.is_empty()
        {
            return Err(Error::Unsupported(format!(
                "aggregate modifiers in {function}"
            )));
        }
        let distinct = matches!(
            &function.args,
            FunctionArguments::List(list) if matches!(list.duplicate_treatment, Some(ast::DuplicateTreatment::Distinct))
        );
        let is_star = matches!(
            &function.args,
            FunctionArguments::List(list) if list.args.len() == 1
                && matches!(list.args[0], FunctionArg::Unnamed(FunctionArgExpr::Wildcard))
        );
        let (function_kind, arg, data_type) = if is_star {
            // `count(DISTINCT *)` is not in PostgreSQL's grammar either.
            if kind != AggregateFunction::Count || distinct {
                return Err(syntax(format!("syntax error in {function}")));
            }
            (AggregateFunction::CountStar, None, DataType::BigInt)
        } else {
            let args = plain_args(function)?;
            let [arg] = args.as_slice() else {
                return Err(Error::sql(
                    SqlState::UNDEFINED_FUNCTION,
                    format!(
                        "function {}() with {} arguments does not exist",
                        kind.name(),
                        args.len()
                    ),
                ));
            };
            // Aggregate arguments bind against the table, never nested aggregates.
            let typed = self.bind(arg, scope, None)?;
            let (expr, arg_type) = self.default_text(typed)?;
            let data_type = match kind {
                AggregateFunction::Count => DataType::BigInt,
                AggregateFunction::Sum => match arg_type {
                    DataType::SmallInt | DataType::Integer | DataType::BigInt => DataType::BigInt,
                    DataType::Real => DataType::Real,
                    DataType::Double => DataType::Double,
                    other => {
                        return Err(Error::sql(
                            SqlState::UNDEFINED_FUNCTION,
                            format!("function sum({}) does not exist", other.name()),
                        ));
                    }
                },
                AggregateFunction::Avg => {
                    if !arg_type.is_numeric() {
                        return Err(Error::sql(
                            SqlState::UNDEFINED_FUNCTION,
                            format!("function avg({}) does not exist", arg_type.name()),
                        ));
                    }
                    DataType::Double
                }
                AggregateFunction::Min | AggregateFunction::Max
                    if arg_type == DataType::Boolean =>
                {
                    return Err(Error::sql(
                        SqlState::UNDEFINED_FUNCTION,
                        format!("function {}(boolean) does not exist", kind.name()),
                    ));
                }
                _ => arg_type,
            };
            (kind, Some(expr), data_type)
        };
        let aggregate = Aggregate {
            function: function_kind,
            arg,
            distinct,
            data_type,
        };
        let id = match grouping.aggregates.iter().find(|(a, _)| *a == aggregate) {
            Some((_, id)) => *id,
            None => {
                let name = explain::aggregate_sql(&aggregate, &self.columns);
                let id = self.columns.add(name, data_type);
                grouping.aggregates.push((aggregate, id));
                id
            }
        };
        Ok(Some(Typed {
            expr: Expr::Column(id),
            data_type: Some(data_type),
        }))
    }
}

/// The lower-cased, unqualified function name.
pub fn function_name(function: &ast::Function) -> String {
    function
        .name
        .0
        .last()
        .and_then(|part| part.as_ident())
        .map(ident_name)
        .unwrap_or_default()
}

pub(crate) fn aggregate_function(function: &ast::Function) -> Option<AggregateFunction> {
    Some(match function_name(function).as_str() {
        "count" => AggregateFunction::Count,
        "sum" => AggregateFunction::Sum,
        "min" => AggregateFunction::Min,
        "max" => AggregateFunction::Max,
        "avg" => AggregateFunction::Avg,
        _ => return None,
    })
}

fn plain_args(function: &ast::Function) -> Result<Vec<ast::Expr>> {
    match &function.args {
        FunctionArguments::None => Ok(Vec::new()),
        FunctionArguments::Subquery(_) => Err(Error::Unsupported("subqueries".into())),
        FunctionArguments::List(list) => {
            if !list.clauses.is_empty() {
                return Err(Error::Unsupported(format!(
                    "function clauses in {function}"
                )));
            }
            list.args
                .iter()
                .map(|arg| match arg {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) => Ok(expr.clone()),
                    _ => Err(Error::Unsupported(format!(
                        "function arguments in {function}"
                    ))),
                })
                .collect()
        }
    }
}
