//! Function-call binding: scalar functions.
//!
//! Scalar functions (`abs`, `coalesce`, `nullif`, `lower`, `upper`,
//! `length`) type their arguments like PostgreSQL's overload resolution
//! would for the supported types. Aggregate calls are `aggregate.rs`'s.

use sqlparser::ast::{self, FunctionArg, FunctionArgExpr, FunctionArguments};

use super::expr::{Grouping, Typed};
use super::{Binder, Scope, ident_name};
use crate::error::{Error, Result, SqlState};
use crate::sql::expr::{BinaryOp, Expr, FloatFunction, Function, SequenceFunction};
use crate::sql::types::{DataType, Value};

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
        if name == "make_interval" {
            let mut bound = Vec::new();
            if let FunctionArguments::List(list) = &function.args {
                for arg in &list.args {
                    let (label, expr) = match arg {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) => (None, expr),
                        FunctionArg::Named {
                            name,
                            arg: FunctionArgExpr::Expr(expr),
                            ..
                        } => (Some(name.value.to_ascii_lowercase()), expr),
                        FunctionArg::ExprNamed {
                            name: ast::Expr::Identifier(name),
                            arg: FunctionArgExpr::Expr(expr),
                            ..
                        } => (Some(name.value.to_ascii_lowercase()), expr),
                        other => {
                            return Err(Error::Unsupported(format!("function argument {other}")));
                        }
                    };
                    bound.push((label, self.bind(expr, scope, grouping.as_deref_mut())?));
                }
            }
            return self.bind_make_interval(bound);
        }
        let args = plain_args(function)?;
        if let Some(sequence_function) = SequenceFunction::named(&name) {
            return self.bind_sequence_function(sequence_function, &name, &args, scope, grouping);
        }
        if name == "grouping" {
            return self.bind_grouping(&args, scope, grouping.as_deref());
        }
        let mut bound = Vec::with_capacity(args.len());
        for arg in &args {
            bound.push(self.bind(arg, scope, grouping.as_deref_mut())?);
        }
        if super::time::is_time_function(&name) {
            return self.bind_time_function(&name, bound);
        }
        if super::string::is_string_function(&name) {
            return self
                .bind_string_function(&name, bound)?
                .ok_or_else(|| Error::Internal(format!("{name} is a string function")));
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
            "lower" | "upper" | "length" | "char_length" | "character_length" => {
                arity(1)?;
                if bound[0].data_type.is_some_and(|t| !t.is_text()) {
                    return Err(no_such_function(&name, &[bound[0].data_type]));
                }
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
            "octet_length" => {
                arity(1)?;
                let arg = bound.remove(0);
                // A char(n) value's padding counts, as PostgreSQL counts it.
                let arg = match arg.data_type {
                    Some(DataType::Char(_)) => arg.expr,
                    _ => self.coerce_text(arg, &name)?,
                };
                Ok(Typed {
                    expr: Expr::Function {
                        function: Function::OctetLength,
                        args: vec![arg],
                    },
                    data_type: Some(DataType::Integer),
                })
            }
            "coalesce" | "nullif" | "greatest" | "least" => {
                if name == "nullif" {
                    arity(2)?;
                } else if bound.is_empty() {
                    return Err(syntax("syntax error at or near \")\""));
                }
                // One type for every argument, resolved as PostgreSQL
                // resolves CASE and UNION branches.
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
                let function = match name.as_str() {
                    "nullif" => Function::NullIf,
                    "coalesce" => Function::Coalesce,
                    "greatest" => Function::Greatest,
                    _ => Function::Least,
                };
                Ok(Typed {
                    expr: Expr::Function { function, args },
                    data_type: Some(common),
                })
            }
            "round" | "trunc" | "ceil" | "ceiling" | "floor" | "sign" | "mod" | "div" => {
                self.bind_math_function(&name, bound)
            }
            _ if FloatFunction::named(&name).is_some() => self.bind_float_function(&name, bound),
            "width_bucket" => {
                let types: Vec<Option<DataType>> = bound.iter().map(|arg| arg.data_type).collect();
                let number = |t: &Option<DataType>| t.is_none_or(|t| t.is_numeric());
                if bound.len() != 4
                    || !types[..3].iter().all(number)
                    || !types[3].is_none_or(|t| t.is_integer())
                {
                    return Err(no_such_function(&name, &types));
                }
                // A float argument makes it the double precision variant
                // (numeric converts to float implicitly); otherwise a
                // numeric one the numeric variant; integers alone take
                // double precision, PostgreSQL's preferred type.
                let numeric = types[..3]
                    .iter()
                    .any(|t| matches!(t, Some(DataType::Numeric(_))))
                    && !types[..3]
                        .iter()
                        .any(|t| matches!(t, Some(DataType::Real | DataType::Double)));
                let bound_type = if numeric {
                    DataType::Numeric(None)
                } else {
                    DataType::Double
                };
                let count = bound.pop().expect("invariant: four arguments");
                let mut args = bound
                    .into_iter()
                    .map(|arg| self.coerce_cast(arg, bound_type))
                    .collect::<Result<Vec<_>>>()?;
                args.push(self.coerce(count, DataType::Integer)?);
                Ok(Typed {
                    expr: Expr::Function {
                        function: Function::WidthBucket,
                        args,
                    },
                    data_type: Some(DataType::Integer),
                })
            }
            "pg_get_serial_sequence" => self.bind_pg_get_serial_sequence(bound),
            "version" | "current_database" | "current_schema" | "current_user" | "session_user"
            | "user" | "current_role" | "current_catalog" | "pg_backend_pid" => {
                arity(0)?;
                self.session_function(&name)
            }
            _ => Err(Error::sql(
                SqlState::UNDEFINED_FUNCTION,
                format!("function {name} does not exist"),
            )),
        }
    }

    /// A double precision function; a numeric argument selects the
    /// numeric variant where PostgreSQL has one, which basalt does not
    /// compute yet (0A000).
    pub(crate) fn bind_float_function(&mut self, name: &str, args: Vec<Typed>) -> Result<Typed> {
        let (function, arity) = FloatFunction::named(name).expect("invariant: a float function");
        let types: Vec<Option<DataType>> = args.iter().map(|arg| arg.data_type).collect();
        let numbers = types.iter().all(|t| t.is_none_or(|t| t.is_numeric()));
        if name == "log" && args.len() == 2 && numbers {
            // Only the numeric log(base, x) exists.
            return Err(Error::Unsupported("log(numeric, numeric)".into()));
        }
        if args.len() != arity || !numbers {
            return Err(no_such_function(name, &types));
        }
        if function.has_numeric_variant()
            && types
                .iter()
                .any(|t| matches!(t, Some(DataType::Numeric(_))))
        {
            return Err(Error::Unsupported(format!("{name}(numeric)")));
        }
        let args = args
            .into_iter()
            .map(|arg| self.coerce(arg, DataType::Double))
            .collect::<Result<Vec<_>>>()?;
        Ok(Typed {
            expr: Expr::Function {
                function: Function::Float(function),
                args,
            },
            data_type: Some(DataType::Double),
        })
    }

    /// A session function named by a bare keyword (`current_role`).
    pub(crate) fn bind_session_keyword(&mut self, name: &str) -> Result<Typed> {
        self.session_function(name)
    }

    /// The functions that report who the session is: constant for the
    /// session, so bound as literals. Not immutable: an index expression
    /// (bound without a session) may not call them (42P17).
    fn session_function(&mut self, name: &str) -> Result<Typed> {
        let identity = self.identity.clone().ok_or_else(|| {
            Error::sql(
                SqlState::INVALID_OBJECT_DEFINITION,
                "functions in index expression must be marked IMMUTABLE",
            )
        })?;
        let (value, data_type) = match name {
            "version" => (
                Value::Text(crate::sql::session::version_string().into()),
                DataType::Text,
            ),
            "current_database" | "current_catalog" => (
                Value::Text(identity.database.as_str().into()),
                DataType::Text,
            ),
            "current_schema" => (Value::Text("public".into()), DataType::Text),
            "pg_backend_pid" => (Value::Integer(identity.backend_pid), DataType::Integer),
            _ => (Value::Text(identity.user.as_str().into()), DataType::Text),
        };
        Ok(Typed {
            expr: Expr::Literal(value),
            data_type: Some(data_type),
        })
    }

    /// The rounding family, `mod` and `div`, resolved as PostgreSQL's
    /// overloads resolve for the number types: a numeric argument picks
    /// the numeric function; an integer or unknown one the double
    /// precision function (its preferred type), except where only a
    /// numeric one exists (`round(x, scale)`, `div`); `mod` of integers is
    /// the integer `%`.
    pub(crate) fn bind_math_function(&mut self, name: &str, mut args: Vec<Typed>) -> Result<Typed> {
        let types: Vec<Option<DataType>> = args.iter().map(|arg| arg.data_type).collect();
        let missing = || no_such_function(name, &types);
        let numeric = DataType::Numeric(None);
        let is_numeric = |t: Option<DataType>| matches!(t, Some(DataType::Numeric(_)));
        let exact = |t: Option<DataType>| t.is_none_or(|t| t.is_integer()) || is_numeric(t);
        match (name, args.len()) {
            ("round" | "trunc" | "ceil" | "ceiling" | "floor" | "sign", 1) => {
                let arg = args.remove(0);
                if !arg.data_type.is_none_or(|t| t.is_numeric()) {
                    return Err(missing());
                }
                let data_type = if is_numeric(arg.data_type) {
                    numeric
                } else {
                    DataType::Double
                };
                let arg = self.coerce(arg, data_type)?;
                let function = match name {
                    "round" => Function::Round,
                    "trunc" => Function::Trunc,
                    "ceil" | "ceiling" => Function::Ceil,
                    "floor" => Function::Floor,
                    _ => Function::Sign,
                };
                Ok(Typed {
                    expr: Expr::Function {
                        function,
                        args: vec![arg],
                    },
                    data_type: Some(data_type),
                })
            }
            ("round" | "trunc", 2) => {
                let scale_type = types[1];
                if !exact(types[0]) || !scale_type.is_none_or(|t| t.is_integer()) {
                    return Err(missing());
                }
                let scale = args.pop().expect("invariant: two arguments");
                let value = args.pop().expect("invariant: two arguments");
                let value = self.coerce(value, numeric)?;
                let scale = self.coerce(scale, DataType::Integer)?;
                Ok(Typed {
                    expr: Expr::Function {
                        function: if name == "round" {
                            Function::Round
                        } else {
                            Function::Trunc
                        },
                        args: vec![value, scale],
                    },
                    data_type: Some(numeric),
                })
            }
            ("mod" | "div", 2) => {
                if !exact(types[0]) || !exact(types[1]) {
                    return Err(missing());
                }
                let integers = types.iter().all(|t| t.is_some_and(|t| t.is_integer()));
                if name == "mod" && integers {
                    let data_type = types
                        .iter()
                        .flatten()
                        .copied()
                        .max_by_key(|t| t.numeric_rank())
                        .expect("invariant: two integer types");
                    let right = args.pop().expect("invariant: two arguments");
                    let left = args.pop().expect("invariant: two arguments");
                    return Ok(Typed {
                        expr: Expr::Binary {
                            op: BinaryOp::Modulo,
                            left: Box::new(self.coerce(left, data_type)?),
                            right: Box::new(self.coerce(right, data_type)?),
                            data_type,
                        },
                        data_type: Some(data_type),
                    });
                }
                let right = args.pop().expect("invariant: two arguments");
                let left = args.pop().expect("invariant: two arguments");
                let (left, right) = (self.coerce(left, numeric)?, self.coerce(right, numeric)?);
                let expr = if name == "mod" {
                    Expr::Binary {
                        op: BinaryOp::Modulo,
                        left: Box::new(left),
                        right: Box::new(right),
                        data_type: numeric,
                    }
                } else {
                    Expr::Function {
                        function: Function::Div,
                        args: vec![left, right],
                    }
                };
                Ok(Typed {
                    expr,
                    data_type: Some(numeric),
                })
            }
            _ => Err(missing()),
        }
    }
}

/// 42883 for a call no overload accepts, worded as PostgreSQL words it.
pub(super) fn no_such_function(name: &str, types: &[Option<DataType>]) -> Error {
    let types: Vec<String> = types
        .iter()
        .map(|t| t.map_or_else(|| "unknown".to_string(), |t| t.name()))
        .collect();
    Error::sql(
        SqlState::UNDEFINED_FUNCTION,
        format!("function {name}({}) does not exist", types.join(", ")),
    )
}

impl Binder<'_> {
    /// `GROUPING(a, b, …)`: a bit per argument, the first the highest, set
    /// when the row's grouping set does not group by that argument. Each
    /// argument must be a GROUP BY expression.
    fn bind_grouping(
        &mut self,
        args: &[ast::Expr],
        scope: &Scope,
        grouping: Option<&Grouping>,
    ) -> Result<Typed> {
        let misuse = || {
            Error::sql(
                SqlState::GROUPING_ERROR,
                "arguments to GROUPING must be grouping expressions of the associated query level",
            )
        };
        let grouping = grouping.ok_or_else(misuse)?;
        if args.is_empty() || args.len() > 31 {
            return Err(Error::sql(
                SqlState::SYNTAX_ERROR,
                "GROUPING must have fewer than 32 arguments",
            ));
        }
        let mut keys = Vec::with_capacity(args.len());
        for arg in args {
            let position = match grouping.keys.iter().position(|(ast, _, _)| ast == arg) {
                Some(position) => position,
                None => {
                    let bound = self.bind(arg, scope, None)?.expr;
                    grouping
                        .keys
                        .iter()
                        .position(|(_, key, _)| *key == bound)
                        .ok_or_else(misuse)?
                }
            };
            keys.push(position);
        }
        let Some(sets) = &grouping.sets else {
            return Ok(Typed {
                expr: Expr::Literal(Value::Integer(0)),
                data_type: Some(DataType::Integer),
            });
        };
        let mask = |set: &Vec<usize>| -> i32 {
            keys.iter()
                .fold(0, |mask, key| (mask << 1) | i32::from(!set.contains(key)))
        };
        let branches = sets
            .sets
            .iter()
            .enumerate()
            .map(|(index, set)| {
                (
                    Expr::Literal(Value::Integer(index as i32)),
                    Expr::Literal(Value::Integer(mask(set))),
                )
            })
            .collect();
        Ok(Typed {
            expr: Expr::Case {
                operand: Some(Box::new(Expr::Column(sets.id))),
                branches,
                otherwise: None,
            },
            data_type: Some(DataType::Integer),
        })
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
