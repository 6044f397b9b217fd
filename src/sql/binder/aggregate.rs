//! Aggregate calls: `count`, `sum`, `min`, `max`, `avg`, `bool_and`,
//! `bool_or`, `every`, `stddev[_samp|_pop]`, `variance`, `var_samp`,
//! `var_pop`, `string_agg`, each with `DISTINCT`, `ORDER BY` inside the
//! call and `FILTER (WHERE …)`.
//!
//! [`Binder::bind_aggregate_call`] binds a call on its own (its arguments
//! read the FROM clause, never another aggregate); grouped binding gives
//! each distinct call one output column of the `Aggregate` operator, and
//! window binding one column of the `Window` operator. Result types follow
//! PostgreSQL's, except that the aggregates PostgreSQL computes in
//! `numeric` (`sum(bigint)`, `avg`, `stddev`/`variance` of integers) are
//! `bigint` and `double precision` until `numeric` exists (docs/sql.md).

use sqlparser::ast::{
    self, FunctionArg, FunctionArgExpr, FunctionArgumentClause, FunctionArguments,
};

use super::expr::{Grouping, Typed};
use super::function::function_name;
use super::{Binder, Scope};
use crate::error::{Error, Result, SqlState};
use crate::sql::explain;
use crate::sql::expr::Expr;
use crate::sql::plan::{Aggregate, AggregateFunction, SortKey};
use crate::sql::types::DataType;

fn syntax(message: impl Into<String>) -> Error {
    Error::sql(SqlState::SYNTAX_ERROR, message)
}

/// The aggregate a function call names (`None` for other functions).
pub(crate) fn aggregate_function(function: &ast::Function) -> Option<AggregateFunction> {
    Some(match function_name(function).as_str() {
        "count" => AggregateFunction::Count,
        "sum" => AggregateFunction::Sum,
        "min" => AggregateFunction::Min,
        "max" => AggregateFunction::Max,
        "avg" => AggregateFunction::Avg,
        "bool_and" => AggregateFunction::BoolAnd,
        "bool_or" => AggregateFunction::BoolOr,
        "every" => AggregateFunction::Every,
        "stddev" => AggregateFunction::Stddev,
        "stddev_samp" => AggregateFunction::StddevSamp,
        "stddev_pop" => AggregateFunction::StddevPop,
        "variance" => AggregateFunction::Variance,
        "var_samp" => AggregateFunction::VarSamp,
        "var_pop" => AggregateFunction::VarPop,
        "string_agg" => AggregateFunction::StringAgg,
        _ => return None,
    })
}

/// Whether a call is an aggregate of this query level (not a window call).
pub(crate) fn is_grouping_aggregate(function: &ast::Function) -> bool {
    function.over.is_none() && aggregate_function(function).is_some()
}

fn no_such_function(name: &str, types: &[DataType]) -> Error {
    let types: Vec<String> = types.iter().map(|t| t.name()).collect();
    Error::sql(
        SqlState::UNDEFINED_FUNCTION,
        format!("function {name}({}) does not exist", types.join(", ")),
    )
}

impl Binder<'_> {
    /// Binds one aggregate call (arguments, DISTINCT, ORDER BY, FILTER)
    /// against `scope`.
    /// `window`: the call is a window aggregate, whose arguments bind like
    /// the select list (in a grouped query they may read aggregates).
    pub(crate) fn bind_aggregate_call(
        &mut self,
        function: &ast::Function,
        kind: AggregateFunction,
        scope: &Scope,
        window: Option<Option<&mut Grouping>>,
    ) -> Result<Aggregate> {
        let windowed = window.is_some();
        let mut grouping = window.flatten();
        if !function.within_group.is_empty() {
            return Err(Error::Unsupported(format!("WITHIN GROUP in {function}")));
        }
        let FunctionArguments::List(list) = &function.args else {
            return Err(syntax(format!(
                "syntax error at or near \")\" in {function}"
            )));
        };
        let distinct = matches!(
            list.duplicate_treatment,
            Some(ast::DuplicateTreatment::Distinct)
        );
        let mut order_by: &[ast::OrderByExpr] = &[];
        for clause in &list.clauses {
            match clause {
                FunctionArgumentClause::OrderBy(items) => order_by = items,
                other => return Err(Error::Unsupported(format!("{other} in an aggregate"))),
            }
        }
        let is_star = matches!(
            list.args.as_slice(),
            [FunctionArg::Unnamed(FunctionArgExpr::Wildcard)]
        );
        let name = kind.name();
        let (function_kind, args, data_type) = if is_star {
            // `count(DISTINCT *)` is not in PostgreSQL's grammar either.
            if kind != AggregateFunction::Count || distinct {
                return Err(syntax(format!("syntax error in {function}")));
            }
            (AggregateFunction::CountStar, Vec::new(), DataType::BigInt)
        } else {
            let mut args = Vec::with_capacity(list.args.len());
            for arg in &list.args {
                let FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) = arg else {
                    return Err(Error::Unsupported(format!("argument {arg} of {name}")));
                };
                // Aggregate arguments read the FROM clause, never aggregates.
                if !windowed && super::query::contains_aggregate(expr) {
                    return Err(Error::sql(
                        SqlState::GROUPING_ERROR,
                        "aggregate function calls cannot be nested",
                    ));
                }
                args.push(self.bind(expr, scope, grouping.as_deref_mut())?);
            }
            let (args, data_type) = self.type_aggregate(kind, args)?;
            (kind, args, data_type)
        };
        let filter = match &function.filter {
            Some(filter) => {
                Some(self.bind_condition(filter, scope, grouping.as_deref_mut(), "FILTER")?)
            }
            None => None,
        };
        let mut keys = Vec::with_capacity(order_by.len());
        for item in order_by {
            let descending = matches!(item.options.sort, Some(ast::OrderBySort::Desc));
            let typed = self.bind(&item.expr, scope, grouping.as_deref_mut())?;
            let (expr, _) = self.default_text(typed)?;
            keys.push(SortKey {
                expr,
                descending,
                nulls_first: item.options.nulls_first.unwrap_or(descending),
            });
        }
        if distinct && keys.iter().any(|key| !args.contains(&key.expr)) {
            return Err(Error::sql(
                SqlState::INVALID_COLUMN_REFERENCE,
                "in an aggregate with DISTINCT, ORDER BY expressions must appear in argument list",
            ));
        }
        Ok(Aggregate {
            function: function_kind,
            args,
            distinct,
            filter,
            order_by: keys,
            data_type,
        })
    }

    /// Coerces an aggregate's arguments and gives its result type, as
    /// PostgreSQL's overloads of it do.
    fn type_aggregate(
        &mut self,
        kind: AggregateFunction,
        args: Vec<Typed>,
    ) -> Result<(Vec<Expr>, DataType)> {
        let name = kind.name();
        let expected = if kind == AggregateFunction::StringAgg {
            2
        } else {
            1
        };
        if args.len() != expected {
            let types: Vec<DataType> = args
                .iter()
                .map(|a| a.data_type.unwrap_or(DataType::Text))
                .collect();
            return Err(no_such_function(name, &types));
        }
        if kind == AggregateFunction::StringAgg {
            let mut exprs = Vec::with_capacity(2);
            for arg in args {
                match arg.data_type {
                    None => exprs.push(self.resolve_unknown(arg.expr, DataType::Text)?),
                    Some(t) if t.is_text() => exprs.push(arg.expr),
                    Some(_) => {
                        return Err(Error::sql(
                            SqlState::UNDEFINED_FUNCTION,
                            "function string_agg with these argument types does not exist",
                        ));
                    }
                }
            }
            return Ok((exprs, DataType::Text));
        }
        let arg = args.into_iter().next().expect("invariant: one argument");
        let (expr, arg_type) = match (kind, arg.data_type) {
            (
                AggregateFunction::BoolAnd | AggregateFunction::BoolOr | AggregateFunction::Every,
                None,
            ) => (
                self.resolve_unknown(arg.expr, DataType::Boolean)?,
                DataType::Boolean,
            ),
            _ => self.default_text(arg)?,
        };
        let numeric = |result: DataType| -> Result<DataType> {
            if arg_type.is_numeric() {
                Ok(result)
            } else {
                Err(no_such_function(name, &[arg_type]))
            }
        };
        let data_type = match kind {
            AggregateFunction::Count | AggregateFunction::CountStar => DataType::BigInt,
            // As PostgreSQL: sum(int2/int4) is bigint, sum(int8) numeric;
            // avg of an integer or numeric is numeric, of a float double.
            AggregateFunction::Sum => match arg_type {
                DataType::SmallInt | DataType::Integer => DataType::BigInt,
                DataType::BigInt | DataType::Numeric(_) => DataType::Numeric(None),
                DataType::Real => DataType::Real,
                DataType::Double => DataType::Double,
                DataType::Interval(_) => DataType::Interval(None),
                other => return Err(no_such_function(name, &[other])),
            },
            AggregateFunction::Avg => match arg_type {
                DataType::Real | DataType::Double => DataType::Double,
                DataType::Interval(_) => DataType::Interval(None),
                other => numeric(DataType::Numeric(None))
                    .map_err(|_| no_such_function(name, &[other]))?,
            },
            AggregateFunction::Stddev
            | AggregateFunction::StddevSamp
            | AggregateFunction::StddevPop
            | AggregateFunction::Variance
            | AggregateFunction::VarSamp
            | AggregateFunction::VarPop => numeric(DataType::Double)?,
            AggregateFunction::Min | AggregateFunction::Max => {
                if arg_type == DataType::Boolean {
                    return Err(no_such_function(name, &[arg_type]));
                }
                arg_type
            }
            AggregateFunction::BoolAnd | AggregateFunction::BoolOr | AggregateFunction::Every => {
                if arg_type != DataType::Boolean {
                    return Err(no_such_function(name, &[arg_type]));
                }
                DataType::Boolean
            }
            AggregateFunction::StringAgg => unreachable!("handled above"),
        };
        Ok((vec![expr], data_type))
    }

    /// Binds an aggregate call in grouped mode; `None` if not an aggregate.
    pub(crate) fn bind_aggregate(
        &mut self,
        function: &ast::Function,
        scope: &Scope,
        grouping: &mut Grouping,
    ) -> Result<Option<Typed>> {
        if function.over.is_some() {
            return Ok(None);
        }
        let Some(kind) = aggregate_function(function) else {
            return Ok(None);
        };
        let aggregate = self.in_clause(super::window::AGGREGATE_ARGUMENTS, |binder| {
            binder.bind_aggregate_call(function, kind, scope, None)
        })?;
        let data_type = aggregate.data_type;
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
